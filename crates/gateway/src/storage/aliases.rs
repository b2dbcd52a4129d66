//! Model aliases: a model name (or a `*` pattern) the client sends → the `provider/model` it means.

use super::{Db, StorageError};
use rusqlite::params;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    pub pattern: String,
    pub target: String,
    pub created_at: String,
}

impl Alias {
    pub fn is_wildcard(&self) -> bool {
        self.pattern.contains(['*', '?'])
    }

    /// Whether `model` matches: `*` = any run, `?` = one character, anchored, case-insensitive
    /// (docs/routing.md §2).
    pub fn matches(&self, model: &str) -> bool {
        let p: Vec<char> = self.pattern.to_lowercase().chars().collect();
        let t: Vec<char> = model.to_lowercase().chars().collect();
        glob(&p, &t)
    }

    /// docs/routing.md §2: Σ(literal length × 10) − 50 × stars − 5 × questions + pattern length.
    pub fn score(&self) -> i64 {
        let stars = self.pattern.matches('*').count() as i64;
        let qs = self.pattern.matches('?').count() as i64;
        let literal = self.pattern.chars().count() as i64 - stars - qs;
        literal * 10 - 50 * stars - 5 * qs + self.pattern.chars().count() as i64
    }
}

fn glob(p: &[char], t: &[char]) -> bool {
    // Iterative matcher with backtracking to the last `*` (linear in practice).
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// What `model` means after aliases (one level): an exact alias first, then the most specific
/// wildcard (ties: the first defined), else the model itself.
pub fn apply(aliases: &[Alias], model: &str) -> String {
    if let Some(a) = aliases
        .iter()
        .find(|a| !a.is_wildcard() && a.pattern == model)
    {
        return a.target.clone();
    }
    let mut best: Option<&Alias> = None;
    for a in aliases
        .iter()
        .filter(|a| a.is_wildcard() && a.matches(model))
    {
        if best.is_none_or(|b| a.score() > b.score()) {
            best = Some(a);
        }
    }
    best.map(|a| a.target.clone())
        .unwrap_or_else(|| model.to_string())
}

impl Db {
    pub fn list_aliases(&self) -> Result<Vec<Alias>, StorageError> {
        self.with(|c| {
            let mut stmt =
                c.prepare("SELECT pattern, target, created_at FROM aliases ORDER BY rowid")?;
            let rows = stmt.query_map([], |r| {
                Ok(Alias {
                    pattern: r.get(0)?,
                    target: r.get(1)?,
                    created_at: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    pub fn insert_alias(&self, pattern: &str, target: &str) -> Result<(), StorageError> {
        let n = self.with(|c| {
            Ok(c.execute(
                "INSERT INTO aliases (pattern, target) VALUES (?1, ?2) ON CONFLICT(pattern) DO NOTHING",
                params![pattern, target],
            )?)
        })?;
        if n == 0 {
            return Err(StorageError::DuplicateAlias(pattern.into()));
        }
        Ok(())
    }

    /// Returns whether an alias was removed.
    pub fn delete_alias(&self, pattern: &str) -> Result<bool, StorageError> {
        self.with(|c| Ok(c.execute("DELETE FROM aliases WHERE pattern = ?1", [pattern])? > 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(p: &str) -> Alias {
        Alias {
            pattern: p.into(),
            target: "x/y".into(),
            created_at: String::new(),
        }
    }

    fn to(p: &str, target: &str) -> Alias {
        Alias {
            pattern: p.into(),
            target: target.into(),
            created_at: String::new(),
        }
    }

    #[test]
    fn wildcards_match_and_rank() {
        assert!(a("claude-*").matches("claude-sonnet-4-5-20250929"));
        assert!(a("CLAUDE-*").matches("claude-opus"), "case-insensitive");
        assert!(a("*-mini").matches("gpt-4o-mini"));
        assert!(a("gpt-*-mini").matches("gpt-4o-mini"));
        assert!(!a("gpt-*-mini").matches("gpt-4o"));
        assert!(a("o?-mini").matches("o3-mini") && !a("o?-mini").matches("o33-mini"));
        assert!(a("*").matches("anything"));
        assert!(!a("claude-*").matches("claud"));
        assert!(a("claude-sonnet-*").score() > a("claude-*").score());
    }

    #[test]
    fn exact_then_most_specific_wildcard_then_first_defined() {
        let aliases = vec![
            to("claude-*", "a/general"),
            to("claude-sonnet-*", "b/sonnet"),
            to("claude-haiku", "c/haiku"),
            to("gpt-*", "d/first"),
            to("gpt-*", "e/second"),
        ];
        assert_eq!(apply(&aliases, "claude-haiku"), "c/haiku");
        assert_eq!(apply(&aliases, "claude-sonnet-4-5"), "b/sonnet");
        assert_eq!(apply(&aliases, "claude-opus-4"), "a/general");
        assert_eq!(apply(&aliases, "gpt-5"), "d/first");
        assert_eq!(
            apply(&aliases, "gemini-2.5"),
            "gemini-2.5",
            "no alias: unchanged"
        );
    }

    #[test]
    fn aliases_are_stored() {
        let db = Db::open_in_memory().unwrap();
        db.insert_alias("claude-*", "oai/gpt-x").unwrap();
        assert!(matches!(
            db.insert_alias("claude-*", "b/c"),
            Err(StorageError::DuplicateAlias(_))
        ));
        assert_eq!(db.list_aliases().unwrap()[0].target, "oai/gpt-x");
        assert!(db.delete_alias("claude-*").unwrap());
        assert!(!db.delete_alias("claude-*").unwrap());
    }
}
