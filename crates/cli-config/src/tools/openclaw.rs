//! OpenClaw: `models.providers.switchyard` in `~/.openclaw/openclaw.json`, plus
//! `agents.defaults.model.primary` only when a model is asked for. `models.mode` is left alone
//! (absent = merge; we never set "replace"). The file is JSON5 by format: one that is not plain JSON
//! is refused and the caller offers the snippet, so unquoted keys and comments are never lost.

use serde_json::{json, Value};

use crate::detect::judge;
use crate::jsonfile::{get_str, object_at, set_str, JsonDoc};
use crate::target::Expect;
use crate::{State, Target};

pub(super) const OWNED: &[&str] = &[
    "models.providers.switchyard",
    "agents.defaults.model.primary",
];

/// Written for a new model entry; the user can tune them (we never overwrite an existing entry).
const CONTEXT_WINDOW: u64 = 128_000;
const MAX_TOKENS: u64 = 16_384;

pub(super) fn patch(current: Option<&str>, target: &Target) -> Result<String, String> {
    let mut doc = JsonDoc::parse(current)?;
    let ours = object_at(&mut doc.root, &["models", "providers", "switchyard"])?;
    set_str(ours, "baseUrl", &target.v1());
    set_str(ours, "apiKey", &target.token);
    set_str(ours, "api", "openai-completions");
    let models = ours
        .entry("models")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !models.is_array() {
        // Our own entry: a wrong type here is not a user setting worth refusing over.
        *models = Value::Array(Vec::new());
    }
    let models = models.as_array_mut().expect("just made an array");
    if let Some(model) = &target.model {
        let listed = models
            .iter()
            .any(|m| m.get("id").and_then(Value::as_str) == Some(model));
        if !listed {
            models.push(json!({
                "id": model,
                "name": format!("Switchyard · {model}"),
                "contextWindow": CONTEXT_WINDOW,
                "maxTokens": MAX_TOKENS,
            }));
        }
        let primary = format!("switchyard/{model}");
        set_str(
            object_at(&mut doc.root, &["agents", "defaults", "model"])?,
            "primary",
            &primary,
        );
    }
    Ok(doc.render())
}

pub(super) fn detect(current: Option<&str>, expect: Expect<'_>) -> Result<State, String> {
    let doc = JsonDoc::parse(current)?;
    let path = ["models", "providers", "switchyard"];
    if !crate::jsonfile::get_path(&doc.root, &path).is_some_and(Value::is_object) {
        return Ok(State::NotConfigured);
    }
    let get = |k| get_str(&doc.root, &["models", "providers", "switchyard", k]);
    Ok(match get("baseUrl") {
        None => State::Invalid {
            reason: "models.providers.switchyard has no baseUrl".into(),
        },
        url => judge(expect, url, get("apiKey")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_provider_and_model_without_touching_channels() {
        let text = r#"{
  "models": {"providers": {"anthropic": {"apiKey": "sk-ant"}}},
  "channels": {"telegram": {"botToken": "123:abc"}},
  "agents": {"defaults": {"model": {"primary": "anthropic/claude-opus-4", "fallbacks": ["x/y"]}, "workspace": "~/clawd"}}
}"#;
        let t = Target {
            base_url: "http://127.0.0.1:20128".into(),
            token: "sy-openclaw-1".into(),
            model: Some("switchyard".into()),
        };
        let out = patch(Some(text), &t).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert!(
            v["models"].get("mode").is_none(),
            "mode left absent (merge)"
        );
        assert_eq!(v["models"]["providers"]["anthropic"]["apiKey"], "sk-ant");
        assert_eq!(v["channels"]["telegram"]["botToken"], "123:abc");
        assert_eq!(
            v["agents"]["defaults"]["model"]["primary"],
            "switchyard/switchyard"
        );
        assert_eq!(v["agents"]["defaults"]["model"]["fallbacks"][0], "x/y");
        assert_eq!(
            v["models"]["providers"]["switchyard"]["models"][0]["id"],
            "switchyard"
        );
        assert_eq!(
            patch(Some(&out), &t).unwrap(),
            out,
            "idempotent: no duplicate model entry"
        );
        let exact = Expect::Exactly("http://127.0.0.1:20128");
        assert_eq!(detect(Some(&out), exact).unwrap(), State::ConfiguredByUs);
    }

    #[test]
    fn json5_is_refused() {
        let t = Target {
            base_url: "http://127.0.0.1:20128".into(),
            token: "sy-openclaw-1".into(),
            model: None,
        };
        assert!(patch(Some("{ models: { mode: 'merge' } }"), &t).is_err());
    }
}
