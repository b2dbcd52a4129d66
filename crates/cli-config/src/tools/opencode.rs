//! OpenCode: one provider `provider.switchyard` (OpenAI-compatible) in
//! `~/.config/opencode/opencode.json` (or `.jsonc` when only that exists), plus the top-level
//! `model` only when a model is asked for. Other providers, `mcp`, `agent`, `$schema` are the
//! user's; `~/.local/share/opencode/auth.json` is never opened. A `.jsonc` file with comments is
//! refused (comments would be lost) and the caller offers the snippet instead.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::detect::judge;
use crate::jsonfile::{get_str, object_at, own_object, set_str, JsonDoc};
use crate::target::Expect;
use crate::{State, Target};

pub(super) const OWNED: &[&str] = &["provider.switchyard", "model"];

pub(super) fn config_file(dir: &Path) -> PathBuf {
    let json = dir.join("opencode.json");
    let jsonc = dir.join("opencode.jsonc");
    if !json.exists() && jsonc.exists() {
        jsonc
    } else {
        json
    }
}

pub(super) fn patch(current: Option<&str>, target: &Target) -> Result<String, String> {
    let mut doc = JsonDoc::parse(current)?;
    let ours = object_at(&mut doc.root, &["provider", "switchyard"])?;
    set_str(ours, "npm", "@ai-sdk/openai-compatible");
    set_str(ours, "name", "Switchyard");
    let options = own_object(ours, "options");
    set_str(options, "baseURL", &target.v1());
    set_str(options, "apiKey", &target.token);
    let models = own_object(ours, "models");
    if let Some(model) = &target.model {
        // Keep an entry the user already tuned (limits, display name).
        if !models.contains_key(model) {
            models.insert(
                model.clone(),
                json!({ "name": format!("Switchyard · {model}") }),
            );
        }
        let selected = format!("switchyard/{model}");
        set_str(&mut doc.root, "model", &selected);
    }
    Ok(doc.render())
}

pub(super) fn detect(current: Option<&str>, expect: Expect<'_>) -> Result<State, String> {
    let doc = JsonDoc::parse(current)?;
    let Some(Value::Object(_)) = doc.root.get("provider").and_then(|p| p.get("switchyard")) else {
        return Ok(State::NotConfigured);
    };
    let opt = |k| get_str(&doc.root, &["provider", "switchyard", "options", k]);
    Ok(match opt("baseURL") {
        None => State::Invalid {
            reason: "provider.switchyard has no options.baseURL".into(),
        },
        url => judge(expect, url, opt("apiKey")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_our_provider_next_to_others() {
        let text = r#"{
  "$schema": "https://opencode.ai/config.json",
  "provider": {
    "ollama": {"npm": "@ai-sdk/openai-compatible", "options": {"baseURL": "http://localhost:11434/v1"}, "models": {"llama3": {}}}
  },
  "mcp": {"fs": {"type": "local", "command": ["mcp-fs"]}},
  "model": "ollama/llama3"
}
"#;
        let t = Target {
            base_url: "http://127.0.0.1:20128".into(),
            token: "sy-opencode-1".into(),
            model: None,
        };
        let out = patch(Some(text), &t).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["model"], "ollama/llama3", "model untouched unless asked");
        assert_eq!(
            v["provider"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["ollama", "switchyard"]
        );
        assert_eq!(
            v["provider"]["switchyard"]["options"]["baseURL"],
            "http://127.0.0.1:20128/v1"
        );
        assert_eq!(v["mcp"]["fs"]["command"][0], "mcp-fs");
        let t = Target {
            model: Some("work".into()),
            ..t
        };
        let out = patch(Some(&out), &t).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["model"], "switchyard/work");
        assert_eq!(
            v["provider"]["switchyard"]["models"]["work"]["name"],
            "Switchyard · work"
        );
        let exact = Expect::Exactly("http://127.0.0.1:20128");
        assert_eq!(detect(Some(&out), exact).unwrap(), State::ConfiguredByUs);
        assert_eq!(detect(Some(text), exact).unwrap(), State::NotConfigured);
    }

    #[test]
    fn jsonc_with_comments_is_refused() {
        let t = Target {
            base_url: "http://127.0.0.1:20128".into(),
            token: "sy-opencode-1".into(),
            model: None,
        };
        let err = patch(Some("{\n  // mine\n  \"provider\": {}\n}\n"), &t).unwrap_err();
        assert!(err.contains("comments"), "{err}");
    }
}
