//! The price table: shipped defaults (`catalog/prices.toml`) overlaid by the user's rows in
//! SQLite. Lookup: `provider/model` exactly, then `model` exactly, then the most specific `*`
//! pattern (same scoring as aliases).

use crate::formats::ir::Usage;
use crate::storage::usage::Price;
use crate::storage::Alias;
use crate::sync::MutexExt;

const SHIPPED: &str = include_str!("../../catalog/prices.toml");

#[derive(Debug, Default)]
pub struct Prices {
    rows: Vec<Price>,
    /// `provider/model` → the row that prices it. Every request costs itself, and glob-matching
    /// the table each time was a measurable share of the request path (perf: ~6 %).
    memo: std::sync::Mutex<std::collections::HashMap<String, Option<usize>>>,
}

const MEMO_LIMIT: usize = 4096;

#[derive(serde::Deserialize)]
struct Shipped {
    price: Vec<Price>,
}

pub fn shipped() -> Vec<Price> {
    toml::from_str::<Shipped>(SHIPPED)
        .map(|s| s.price)
        .unwrap_or_default()
}

fn pattern(p: &str) -> Alias {
    Alias {
        pattern: p.to_string(),
        target: String::new(),
        created_at: String::new(),
    }
}

impl Prices {
    /// The user's rows win over shipped ones with the same key.
    pub fn new(user: Vec<Price>) -> Self {
        let mut rows = user;
        for s in shipped() {
            if !rows.iter().any(|r| r.model == s.model) {
                rows.push(s);
            }
        }
        Self {
            rows,
            memo: Default::default(),
        }
    }

    pub fn rows(&self) -> &[Price] {
        &self.rows
    }

    pub fn lookup(&self, provider: &str, model: &str) -> Option<&Price> {
        let full = format!("{provider}/{model}");
        let mut memo = self.memo.lock_or_recover();
        if let Some(i) = memo.get(&full) {
            return i.map(|i| &self.rows[i]);
        }
        let found = self.find(model, &full);
        if memo.len() >= MEMO_LIMIT {
            memo.clear();
        }
        memo.insert(full, found);
        found.map(|i| &self.rows[i])
    }

    /// The index of the row pricing `full` (`provider/model`) or `model`.
    fn find(&self, model: &str, full: &str) -> Option<usize> {
        let rows = self.rows.iter().enumerate();
        if let Some((i, _)) = rows.clone().find(|(_, p)| p.model == full) {
            return Some(i);
        }
        if let Some((i, _)) = rows.clone().find(|(_, p)| p.model == model) {
            return Some(i);
        }
        let mut best: Option<(usize, i64)> = None;
        for (i, p) in rows.filter(|(_, p)| p.model.contains('*')) {
            let a = pattern(&p.model);
            if a.matches(full) || a.matches(model) {
                let s = a.score();
                if best.is_none_or(|(_, b)| s > b) {
                    best = Some((i, s));
                }
            }
        }
        best.map(|(i, _)| i)
    }

    /// Estimated cost in USD; None when the model has no price.
    pub fn cost(&self, provider: &str, model: &str, u: &Usage) -> Option<f64> {
        let p = self.lookup(provider, model)?;
        let m = 1_000_000.0;
        let input = u.input.unwrap_or(0) as f64 * p.input / m;
        let output = u.output.unwrap_or(0) as f64 * p.output / m;
        let cr = u.cache_read.unwrap_or(0) as f64 * p.cache_read.unwrap_or(p.input) / m;
        let cw = u.cache_write.unwrap_or(0) as f64 * p.cache_write.unwrap_or(p.input) / m;
        Some(input + output + cr + cw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_table_parses_and_user_rows_win() {
        assert!(shipped().len() >= 10);
        let user = Price {
            model: "gpt-4o".into(),
            input: 1.0,
            output: 2.0,
            cache_read: None,
            cache_write: None,
        };
        let p = Prices::new(vec![user]);
        assert_eq!(p.lookup("oai", "gpt-4o").unwrap().input, 1.0);
        assert_eq!(
            p.lookup("ant", "claude-sonnet-4-5-20250929").unwrap().model,
            "claude-sonnet-4*"
        );
        assert!(p.lookup("x", "unknown-model").is_none());
        let u = Usage {
            input: Some(1_000_000),
            output: Some(500_000),
            cache_read: Some(1_000_000),
            ..Default::default()
        };
        let c = p.cost("ant", "claude-sonnet-4-5", &u).unwrap();
        assert!((c - (3.0 + 7.5 + 0.3)).abs() < 1e-9, "{c}");
    }
}
