//! Codex CLI: `~/.codex/config.toml` via `toml_edit` (comments and layout survive). We own the
//! top-level `model_provider` (+ `model` when asked) and `[model_providers.switchyard]`. The id is
//! `switchyard` forever: Codex files sessions under it, so a new id would hide them. The key goes in
//! `experimental_bearer_token`, so `~/.codex/auth.json` (the ChatGPT login) is never read or written.

use toml_edit::{DocumentMut, InlineTable, Item, Table, TableLike, Value};

use crate::detect::judge;
use crate::target::Expect;
use crate::{State, Target};

pub(super) const OWNED: &[&str] = &["model_provider", "model", "model_providers.switchyard"];

const ID: &str = "switchyard";

pub(super) fn patch(current: Option<&str>, target: &Target) -> Result<String, String> {
    let text = current.unwrap_or("");
    let mut doc = parse(text)?;
    let root = doc.as_table_mut();
    // Root key-values are always emitted before the first table, as Codex requires.
    set_string(root, "model_provider", ID);
    if let Some(model) = &target.model {
        set_string(root, "model", model);
    }
    if !root.contains_key("model_providers") {
        let mut providers = Table::new();
        providers.set_implicit(true); // no bare `[model_providers]` header
        root.insert("model_providers", Item::Table(providers));
    }
    let providers = root.get_mut("model_providers").expect("just ensured");
    let ours: &mut dyn TableLike = match providers {
        Item::Table(t) => {
            if !t.contains_key(ID) {
                t.insert(ID, Item::Table(Table::new()));
            }
            table_like(
                t.get_mut(ID).expect("just ensured"),
                "model_providers.switchyard",
            )?
        }
        Item::Value(Value::InlineTable(t)) => {
            if !t.contains_key(ID) {
                t.insert(ID, Value::InlineTable(InlineTable::new()));
            }
            t.get_mut(ID)
                .and_then(Value::as_inline_table_mut)
                .map(|t| t as &mut dyn TableLike)
                .ok_or("`model_providers.switchyard` is not a table")?
        }
        _ => return Err("`model_providers` is not a table".into()),
    };
    set_string(ours, "name", "Switchyard");
    set_string(ours, "base_url", &target.v1());
    // Codex 0.16x rejects "chat"; the gateway serves /v1/responses.
    set_string(ours, "wire_api", "responses");
    set_string(ours, "experimental_bearer_token", &target.token);
    // toml_edit re-emits untouched parts byte-for-byte.
    Ok(doc.to_string())
}

pub(super) fn detect(current: Option<&str>, expect: Expect<'_>) -> Result<State, String> {
    let doc = parse(current.unwrap_or(""))?;
    let Some(id) = doc.get("model_provider").and_then(Item::as_str) else {
        return Ok(State::NotConfigured);
    };
    let table = doc
        .get("model_providers")
        .and_then(Item::as_table_like)
        .and_then(|p| p.get(id))
        .and_then(Item::as_table_like);
    let get = |t: &dyn TableLike, k: &str| t.get(k).and_then(Item::as_str).map(str::to_string);
    Ok(match table {
        None if id == ID => State::Invalid {
            reason: "model_provider is \"switchyard\" but [model_providers.switchyard] is missing"
                .into(),
        },
        // A built-in provider (`openai`, `ollama`, …): Codex talks to its usual endpoint.
        None => State::NotConfigured,
        Some(t) => match get(t, "base_url") {
            None if id == ID => State::Invalid {
                reason: "[model_providers.switchyard] has no base_url".into(),
            },
            None => State::NotConfigured,
            Some(url) => judge(
                expect,
                Some(&url),
                get(t, "experimental_bearer_token").as_deref(),
            ),
        },
    })
}

pub(super) fn notes(current: Option<&str>) -> Vec<String> {
    let previous = current
        .and_then(|t| parse(t).ok())
        .and_then(|d| {
            d.get("model_provider")
                .and_then(Item::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "openai".to_string());
    if previous == ID {
        return Vec::new();
    }
    vec![format!(
        "Codex lists conversations per provider: sessions started with \"{previous}\" will not show in `codex resume` while Codex uses Switchyard (restoring brings them back)."
    )]
}

fn parse(text: &str) -> Result<DocumentMut, String> {
    text.parse::<DocumentMut>().map_err(|e| {
        let at = e.span().map(|s| s.start).unwrap_or(0).min(text.len());
        let before = &text[..at];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!(
            "invalid TOML at line {line}, column {column}: {}",
            e.message().trim()
        )
    })
}

fn table_like<'a>(item: &'a mut Item, name: &str) -> Result<&'a mut dyn TableLike, String> {
    item.as_table_like_mut()
        .ok_or_else(|| format!("`{name}` is not a table"))
}

/// Sets a string value in place: the key (and its comments) keeps its position and decoration, and
/// a value that already matches is not touched at all (keeps its quoting).
fn set_string(table: &mut dyn TableLike, key: &str, value: &str) {
    match table.get_mut(key) {
        Some(item) => {
            if item.as_str() == Some(value) {
                return;
            }
            let mut new = Value::from(value);
            if let Some(old) = item.as_value() {
                *new.decor_mut() = old.decor().clone();
            }
            *item = Item::Value(new);
        }
        None => {
            table.insert(key, toml_edit::value(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REALISTIC: &str = r#"# Codex config
model = "gpt-5.5"   # my favourite
# which provider
model_provider = "azure" # work account
approval_policy = "on-request"

[model_providers.azure]
name = "Azure"
base_url = "https://my.openai.azure.com/openai"
env_key = "AZURE_OPENAI_API_KEY"
wire_api = "responses"

# tools
[mcp_servers.docs]
command = "npx"
args = ["-y", "docs-mcp"]

[profiles.fast]
model = "gpt-5-mini"
model_provider = "azure"

[features]
web_search = true
"#;

    fn target() -> Target {
        Target {
            base_url: "http://127.0.0.1:20128".into(),
            token: "sy-codex-1".into(),
            model: None,
        }
    }

    #[test]
    fn keeps_comments_tables_and_other_providers() {
        let out = patch(Some(REALISTIC), &target()).unwrap();
        assert!(
            out.contains("# which provider\nmodel_provider = \"switchyard\" # work account\n"),
            "{out}"
        );
        // Every other original line survives, in order.
        let mut rest = out.lines();
        for line in REALISTIC
            .lines()
            .filter(|l| !l.starts_with("model_provider = \"azure\" #"))
        {
            assert!(rest.any(|l| l == line), "lost or moved: {line:?}\n{out}");
        }
        let doc: DocumentMut = out.parse().unwrap();
        let ours = &doc["model_providers"]["switchyard"];
        assert_eq!(ours["base_url"].as_str(), Some("http://127.0.0.1:20128/v1"));
        assert_eq!(ours["wire_api"].as_str(), Some("responses"));
        assert_eq!(
            ours["experimental_bearer_token"].as_str(),
            Some("sy-codex-1")
        );
        assert!(ours.get("requires_openai_auth").is_none());
        assert_eq!(
            doc["profiles"]["fast"]["model_provider"].as_str(),
            Some("azure")
        );
        assert_eq!(doc["model"].as_str(), Some("gpt-5.5"), "model left alone");
        assert!(
            !out.contains("[model_providers]\n"),
            "no bare parent header"
        );
        assert_eq!(patch(Some(&out), &target()).unwrap(), out, "idempotent");
    }

    #[test]
    fn new_file_and_top_level_keys_before_tables() {
        let out = patch(
            None,
            &Target {
                model: Some("switchyard".into()),
                ..target()
            },
        )
        .unwrap();
        assert_eq!(
            out,
            "model_provider = \"switchyard\"\nmodel = \"switchyard\"\n\n[model_providers.switchyard]\nname = \"Switchyard\"\nbase_url = \"http://127.0.0.1:20128/v1\"\nwire_api = \"responses\"\nexperimental_bearer_token = \"sy-codex-1\"\n"
        );
        let out = patch(Some("[mcp_servers.x]\ncommand = \"y\"\n"), &target()).unwrap();
        assert!(
            out.starts_with("model_provider = \"switchyard\"\n"),
            "{out}"
        );
    }

    #[test]
    fn inline_provider_table_is_patched_in_place() {
        let text = "model_providers = { other = { base_url = \"http://x\" } }\n";
        let out = patch(Some(text), &target()).unwrap();
        let doc: DocumentMut = out.parse().unwrap();
        assert_eq!(
            doc["model_providers"]["other"]["base_url"].as_str(),
            Some("http://x")
        );
        assert_eq!(
            doc["model_providers"]["switchyard"]["name"].as_str(),
            Some("Switchyard")
        );
    }

    #[test]
    fn detection_and_errors() {
        let exact = Expect::Exactly("http://127.0.0.1:20128");
        assert_eq!(detect(None, exact).unwrap(), State::NotConfigured);
        assert_eq!(
            detect(Some("model_provider = \"openai\"\n"), exact).unwrap(),
            State::NotConfigured
        );
        assert_eq!(
            detect(Some(REALISTIC), exact).unwrap(),
            State::ConfiguredElsewhere {
                base_url: "https://my.openai.azure.com/openai".into()
            }
        );
        let ours = patch(Some(REALISTIC), &target()).unwrap();
        assert_eq!(detect(Some(&ours), exact).unwrap(), State::ConfiguredByUs);
        assert!(matches!(
            detect(Some("model_provider = \"switchyard\"\n"), exact).unwrap(),
            State::Invalid { .. }
        ));
        let err = patch(Some("a = 1\nb = \n"), &target()).unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        assert!(patch(Some("model_providers = 3\n"), &target()).is_err());
        assert_eq!(notes(Some(REALISTIC)).len(), 1);
        assert!(notes(Some(&ours)).is_empty());
    }
}
