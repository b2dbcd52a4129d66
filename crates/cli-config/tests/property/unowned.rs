//! What must survive an apply: the file's content with our keys removed, compared
//! order-sensitively.

use serde_json::{Map, Value};
use switchyard_cli_config::Tool;
use toml_edit::DocumentMut;

use crate::gen::ENV_OURS;

/// The content with our keys removed, serialised order-sensitively.
pub fn json_unowned(tool: Tool, text: Option<&str>, model: bool) -> String {
    let body = text.unwrap_or("");
    let mut root = if body.trim().is_empty() {
        Map::new()
    } else {
        serde_json::from_str::<Value>(body)
            .unwrap()
            .as_object()
            .unwrap()
            .clone()
    };
    let mut owned: Vec<&[&str]> = match tool {
        Tool::ClaudeCode => vec![
            &["env", "ANTHROPIC_BASE_URL"],
            &["env", "ANTHROPIC_AUTH_TOKEN"],
            &["env", "ANTHROPIC_API_KEY"],
        ],
        Tool::GeminiCli => vec![&["security", "auth", "selectedType"]],
        Tool::OpenCode => vec![&["provider", "switchyard"]],
        Tool::OpenClaw => vec![&["models", "providers", "switchyard"]],
        Tool::Codex => unreachable!(),
    };
    if model {
        owned.push(match tool {
            Tool::ClaudeCode => &["env", "ANTHROPIC_MODEL"],
            Tool::OpenCode => &["model"],
            Tool::OpenClaw => &["agents", "defaults", "model", "primary"],
            _ => &[],
        });
    }
    for path in owned.into_iter().filter(|p| !p.is_empty()) {
        remove_and_prune(&mut root, path);
    }
    serde_json::to_string(&root).unwrap()
}

/// Removes the leaf and then every level of `path` left empty (levels we may have created).
fn remove_and_prune(map: &mut Map<String, Value>, path: &[&str]) {
    let (first, rest) = path.split_first().unwrap();
    if rest.is_empty() {
        map.shift_remove(*first);
        return;
    }
    if let Some(Value::Object(inner)) = map.get_mut(*first) {
        remove_and_prune(inner, rest);
        if inner.is_empty() {
            map.shift_remove(*first);
        }
    }
}

pub fn toml_unowned(text: Option<&str>, model: bool) -> String {
    let mut doc: DocumentMut = text.unwrap_or("").parse().unwrap();
    doc.remove("model_provider");
    if model {
        doc.remove("model");
    }
    let mut empty = false;
    if let Some(providers) = doc
        .get_mut("model_providers")
        .and_then(|p| p.as_table_like_mut())
    {
        providers.remove("switchyard");
        empty = providers.is_empty();
    }
    if empty
        && doc["model_providers"]
            .as_table()
            .is_some_and(|t| t.is_implicit())
    {
        doc.remove("model_providers");
    }
    doc.to_string()
}

pub fn env_unowned(text: Option<&str>, model: bool) -> Vec<String> {
    text.unwrap_or("")
        .lines()
        .filter(|line| {
            let body = line.trim_start();
            let body = body.strip_prefix("export ").unwrap_or(body);
            let key = body.split('=').next().unwrap_or("").trim();
            let ours = body.contains('=')
                && !body.starts_with('#')
                && ENV_OURS[..if model { 3 } else { 2 }].contains(&key);
            !ours
        })
        .map(str::to_string)
        .collect()
}
