//! The provider catalog: what each known upstream speaks, where it lives and how it authenticates.
//!
//! The facts are data (`catalog/providers.toml`, compiled in) because they drift faster than code
//! ships; a user file `<data_dir>/providers.toml` with the same schema is laid over them so a
//! changed base URL or a new provider needs no release. The catalog holds no secrets: accounts
//! refer to a provider by `id` and keep their keys in the keychain.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use toml::{Spanned, Table};

/// Name of the user's overlay file inside the data directory.
pub const USER_FILE: &str = "providers.toml";

const BUILTIN: &str = include_str!("../catalog/providers.toml");

pub use switchyard_types::{AuthStyle, Format};

/// Per-provider behaviour the request path must honour. The vocabulary is documented at the top of
/// `catalog/providers.toml`; an unknown flag fails to load instead of being silently ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Quirk {
    #[serde(rename = "tool-call-id-9-alnum")]
    ToolCallId9Alnum,
    NoSystemRole,
    ReasoningContentReplay,
    ThinkTags,
    ThinkingPreset,
    CodingPlan,
    OptionalKey,
    ServiceAccountToken,
    UserHost,
}

impl Quirk {
    pub const ALL: &'static [Quirk] = &[
        Quirk::ToolCallId9Alnum,
        Quirk::NoSystemRole,
        Quirk::ReasoningContentReplay,
        Quirk::ThinkTags,
        Quirk::ThinkingPreset,
        Quirk::CodingPlan,
        Quirk::OptionalKey,
        Quirk::ServiceAccountToken,
        Quirk::UserHost,
    ];

    /// The flag as written in the catalog file.
    pub fn as_str(self) -> &'static str {
        match self {
            Quirk::ToolCallId9Alnum => "tool-call-id-9-alnum",
            Quirk::NoSystemRole => "no-system-role",
            Quirk::ReasoningContentReplay => "reasoning-content-replay",
            Quirk::ThinkTags => "think-tags",
            Quirk::ThinkingPreset => "thinking-preset",
            Quirk::CodingPlan => "coding-plan",
            Quirk::OptionalKey => "optional-key",
            Quirk::ServiceAccountToken => "service-account-token",
            Quirk::UserHost => "user-host",
        }
    }
}

/// One `[[provider]]` entry. Field meanings are documented in the catalog file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogProvider {
    pub id: String,
    pub name: String,
    pub alias: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_aliases: Vec<String>,
    pub format: Format,
    /// May contain `{name}` placeholders; see [`CatalogProvider::fill_base_url`].
    pub base_url: String,
    pub auth: AuthStyle,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub model_aliases: BTreeMap<String, String>,
    /// Glob patterns (`*` = any run) of models served only on `/responses`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub responses_models: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docs_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quirks: Vec<Quirk>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub free: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl CatalogProvider {
    pub fn has_quirk(&self, q: Quirk) -> bool {
        self.quirks.contains(&q)
    }

    /// The primary alias followed by the extra ones.
    pub fn aliases(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.alias.as_str()).chain(self.extra_aliases.iter().map(String::as_str))
    }

    /// Names of the `{placeholders}` in `base_url`, in order (`model` is per request, the others
    /// come from the account).
    pub fn placeholders(&self) -> Vec<&str> {
        let mut out = Vec::new();
        let mut rest = self.base_url.as_str();
        while let Some(open) = rest.find('{') {
            let Some(len) = rest[open..].find('}') else {
                break;
            };
            out.push(&rest[open + 1..open + len]);
            rest = &rest[open + len + 1..];
        }
        out
    }

    /// `base_url` with every placeholder replaced by `value(name)`; an unknown name is an error
    /// naming it. Values are inserted verbatim: a Hugging Face model id keeps its `/`.
    pub fn fill_base_url(&self, value: impl Fn(&str) -> Option<String>) -> Result<String, String> {
        fill(&self.base_url, |name| {
            value(name).ok_or_else(|| format!("{}: no value for {{{name}}} in base_url", self.id))
        })
    }
}

/// When a drifting value was seen and how it may be used (docs/providers.md §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriftUse {
    /// A protocol requirement: we send it.
    Send,
    /// Passed on only when the real client sent it; never synthesised.
    ForwardOnly,
    Info,
}

/// One `[[drift]]` entry: a value that changes with upstream releases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftValue {
    pub key: String,
    /// Preferred (newest) first.
    pub values: Vec<String>,
    #[serde(rename = "use")]
    pub use_: DriftUse,
    pub observed_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl DriftValue {
    /// The value to use now.
    pub fn current(&self) -> Option<&str> {
        self.values.first().map(String::as_str)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}: invalid provider catalog: {}", path.display(), problems.join("; "))]
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
}

/// The file as tables, so an overlay entry can set only some fields; spans give line numbers.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    provider: Vec<Spanned<Table>>,
    #[serde(default)]
    drift: Vec<Spanned<Table>>,
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    providers: Vec<CatalogProvider>,
    drift: Vec<DriftValue>,
}

impl Catalog {
    /// The compiled-in catalog. Its validity is enforced by tests, so a failure here is a bug.
    pub fn builtin() -> Self {
        let mut c = Catalog::default();
        c.overlay(BUILTIN, Path::new("<builtin>/providers.toml"))
            .unwrap_or_else(|e| panic!("built-in catalog: {e}"));
        c
    }

    /// The built-in catalog overlaid with `<data_dir>/providers.toml` when that file exists,
    /// then validated; every error names the user file.
    pub fn load(data_dir: &Path) -> Result<Self, CatalogError> {
        let mut c = Self::builtin();
        let path = data_dir.join(USER_FILE);
        let src = match std::fs::read_to_string(&path) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(c),
            Err(source) => return Err(CatalogError::Read { path, source }),
        };
        c.overlay(&src, &path)?;
        c.validate()
            .map_err(|problems| CatalogError::Invalid { path, problems })?;
        Ok(c)
    }

    /// Lays a catalog file over this one: an existing `id` (or drift `key`) gets the fields the entry
    /// sets, a new one is added whole. `origin` is only used in error messages. Does not validate.
    pub fn overlay(&mut self, src: &str, origin: &Path) -> Result<(), CatalogError> {
        let err = |line, message: String| CatalogError::Parse {
            path: origin.to_path_buf(),
            line,
            message,
        };
        let raw: RawFile = toml::from_str(src).map_err(|e| {
            let line = e.span().map_or(1, |s| line_of(src, s.start));
            err(line, e.message().to_string())
        })?;

        let mut seen = HashSet::new();
        for entry in raw.provider {
            let line = line_of(src, entry.span().start);
            let table = entry.into_inner();
            let id = key_field(&table, "id").map_err(|m| err(line, m))?;
            if !seen.insert(id.clone()) {
                return Err(err(
                    line,
                    format!("provider {id:?} appears twice in this file"),
                ));
            }
            let slot = self.providers.iter().position(|p| p.id == id);
            let merged = merge(slot.map(|i| &self.providers[i]), table)
                .map_err(|m| err(line, format!("provider {id:?}: {m}")))?;
            match slot {
                Some(i) => self.providers[i] = merged,
                None => self.providers.push(merged),
            }
        }

        let mut seen = HashSet::new();
        for entry in raw.drift {
            let line = line_of(src, entry.span().start);
            let table = entry.into_inner();
            let key = key_field(&table, "key").map_err(|m| err(line, m))?;
            if !seen.insert(key.clone()) {
                return Err(err(
                    line,
                    format!("drift key {key:?} appears twice in this file"),
                ));
            }
            let slot = self.drift.iter().position(|d| d.key == key);
            let merged = merge(slot.map(|i| &self.drift[i]), table)
                .map_err(|m| err(line, format!("drift {key:?}: {m}")))?;
            match slot {
                Some(i) => self.drift[i] = merged,
                None => self.drift.push(merged),
            }
        }
        Ok(())
    }

    /// Enabled providers in catalog order.
    pub fn iter(&self) -> impl Iterator<Item = &CatalogProvider> {
        self.providers.iter().filter(|p| !p.disabled)
    }

    /// Number of enabled providers.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn by_id(&self, id: &str) -> Option<&CatalogProvider> {
        self.iter().find(|p| p.id == id)
    }

    /// Case-insensitive: aliases are lowercase, but people type `DS/…`.
    pub fn by_alias(&self, alias: &str) -> Option<&CatalogProvider> {
        self.iter()
            .find(|p| p.aliases().any(|a| a.eq_ignore_ascii_case(alias)))
    }

    /// The `provider-ref` of a model string: an id or an alias (docs/routing.md §2).
    pub fn lookup(&self, id_or_alias: &str) -> Option<&CatalogProvider> {
        self.by_id(id_or_alias)
            .or_else(|| self.by_alias(id_or_alias))
    }

    pub fn drift(&self, key: &str) -> Option<&DriftValue> {
        self.drift.iter().find(|d| d.key == key)
    }

    pub fn drift_values(&self) -> impl Iterator<Item = &DriftValue> {
        self.drift.iter()
    }

    /// Checks what serde cannot: uniqueness, alias syntax, URLs. Format, auth and quirk values are
    /// already restricted to their allowed sets by parsing. Disabled providers do not take part in
    /// uniqueness, so a user can hide a built-in one and reuse its alias.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        // One namespace for ids and aliases: a model string's prefix may be either.
        let mut names: HashMap<&str, &str> = HashMap::new();
        for p in &self.providers {
            if !is_slug(&p.id) {
                problems.push(format!("{}: id must match [a-z0-9-]+", p.id));
            }
            if p.name.trim().is_empty() {
                problems.push(format!("{}: name is empty", p.id));
            }
            for a in p.aliases() {
                if !is_slug(a) {
                    problems.push(format!("{}: alias {a:?} must match [a-z0-9-]+", p.id));
                }
            }
            if let Err(m) = check_base_url(&p.base_url) {
                problems.push(format!("{}: base_url {:?}: {m}", p.id, p.base_url));
            }
            for (field, url) in [("docs_url", &p.docs_url), ("keys_url", &p.keys_url)] {
                if let Some(Err(m)) = url.as_deref().map(check_base_url) {
                    problems.push(format!("{}: {field}: {m}", p.id));
                }
            }
            if p.disabled {
                continue;
            }
            let own: HashSet<&str> = std::iter::once(p.id.as_str()).chain(p.aliases()).collect();
            for n in own {
                if let Some(other) = names.insert(n, &p.id) {
                    problems.push(format!("{n:?} is used by both {other} and {}", p.id));
                }
            }
        }
        let mut keys = HashSet::new();
        for d in &self.drift {
            if !keys.insert(&d.key) {
                problems.push(format!("drift key {:?} is defined twice", d.key));
            }
            if d.values.is_empty() {
                problems.push(format!("drift {:?}: no values", d.key));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

fn line_of(src: &str, offset: usize) -> usize {
    src[..offset.min(src.len())].matches('\n').count() + 1
}

fn key_field(table: &Table, field: &str) -> Result<String, String> {
    match table.get(field) {
        Some(toml::Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(format!("`{field}` must be a string")),
        None => Err(format!("entry has no `{field}`")),
    }
}

/// Field-level overlay: the patch's keys replace the base's, the rest is kept. Going through
/// tables keeps one schema for both files instead of a second all-optional struct.
fn merge<T: Serialize + DeserializeOwned>(base: Option<&T>, patch: Table) -> Result<T, String> {
    let mut table = match base.map(toml::Value::try_from) {
        Some(Ok(toml::Value::Table(t))) => t,
        Some(Ok(_)) => unreachable!("catalog entries serialise as tables"),
        Some(Err(e)) => return Err(e.to_string()),
        None => Table::new(),
    };
    table.extend(patch);
    // Deserialising a Value loses spans; the caller prefixes the entry's line.
    toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| e.message().trim().to_string())
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn fill(
    template: &str,
    mut value: impl FnMut(&str) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| "unclosed `{`".to_string())?;
        let name = &rest[open + 1..open + close];
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(format!("bad placeholder {{{name}}}"));
        }
        out.push_str(&rest[..open]);
        out.push_str(&value(name)?);
        rest = &rest[open + close + 1..];
    }
    if rest.contains('}') {
        return Err("unmatched `}`".into());
    }
    out.push_str(rest);
    Ok(out)
}

/// A base URL must be http(s) with a host once its placeholders are filled with sample values.
fn check_base_url(url: &str) -> Result<(), String> {
    let sample = fill(url, |name| Ok(name.replace('_', "-")))?;
    let parsed = reqwest::Url::parse(&sample).map_err(|e| e.to_string())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("scheme {:?} is not http(s)", parsed.scheme()));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("no host".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(base_url: &str) -> CatalogProvider {
        let src = format!(
            "id = \"x\"\nname = \"X\"\nalias = \"x\"\nformat = \"openai\"\nbase_url = \"{base_url}\"\nauth = \"bearer\"\n"
        );
        toml::from_str(&src).unwrap()
    }

    #[test]
    fn placeholders_are_listed_and_filled() {
        let p = provider("https://{region}-x.example.com/v1/{project}/{region}");
        assert_eq!(p.placeholders(), ["region", "project", "region"]);
        let url = p
            .fill_base_url(|n| {
                Some(if n == "region" {
                    "eu".into()
                } else {
                    "p1".into()
                })
            })
            .unwrap();
        assert_eq!(url, "https://eu-x.example.com/v1/p1/eu");
        let err = p.fill_base_url(|_| None).unwrap_err();
        assert!(err.contains("{region}"), "{err}");
    }

    #[test]
    fn base_url_checks() {
        assert!(check_base_url("https://api.example.com/v1").is_ok());
        assert!(check_base_url("http://127.0.0.1:8080").is_ok());
        assert!(check_base_url("https://{account}.example.com/api").is_ok());
        assert!(check_base_url("ftp://example.com").is_err());
        assert!(check_base_url("api.example.com/v1").is_err());
        assert!(check_base_url("https://{Bad}.example.com").is_err());
        assert!(check_base_url("https://{open.example.com").is_err());
    }

    #[test]
    fn slugs() {
        assert!(is_slug("alicode-intl"));
        assert!(is_slug("v0"));
        assert!(!is_slug("Groq"));
        assert!(!is_slug("a_b"));
        assert!(!is_slug(""));
    }

    #[test]
    fn quirk_names_round_trip() {
        for q in Quirk::ALL {
            let v: Quirk = toml::Value::String(q.as_str().into()).try_into().unwrap();
            assert_eq!(v, *q);
        }
    }

    #[test]
    fn every_quirk_is_documented_in_the_file_header() {
        let header: String = BUILTIN.lines().take_while(|l| l.starts_with('#')).collect();
        for q in Quirk::ALL {
            assert!(
                header.contains(q.as_str()),
                "{} is not documented",
                q.as_str()
            );
        }
    }

    #[test]
    fn parse_error_line_points_at_the_entry() {
        let src = "[[provider]]\nid = \"a\"\nname = \"A\"\nalias = \"a\"\nformat = \"openai\"\nauth = \"bearer\"\n";
        let err = Catalog::default()
            .overlay(src, Path::new("u.toml"))
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("u.toml:1:"), "{msg}");
        assert!(msg.contains("base_url"), "{msg}");
    }
}
