//! Per-provider request rules from the catalog's quirk flags, applied to an already encoded
//! OpenAI Chat request (the family where providers differ most). Pure functions: the same input
//! always gives the same output, so a call and its result are always mapped alike.

use crate::catalog::Quirk;
use crate::formats::ir::{Part, Request, Role};
use serde_json::{json, Value};

/// Applies every quirk of `quirks` to the Chat body `out` (built from `req`).
pub fn apply_chat(out: &mut Value, req: &Request, quirks: &[Quirk]) {
    if quirks.contains(&Quirk::ReasoningContentReplay) {
        replay_reasoning(out, req);
    }
    if quirks.contains(&Quirk::ToolCallId9Alnum) {
        nine_char_ids(out);
    }
    if quirks.contains(&Quirk::NoSystemRole) {
        fold_system(out);
    }
}

/// DeepSeek/Kimi/Qwen thinking models reject an assistant tool-call turn without its
/// `reasoning_content` (docs/formats.md #27): put back what the history carried, or an empty string.
fn replay_reasoning(out: &mut Value, req: &Request) {
    let mut thoughts = req
        .messages
        .iter()
        .filter(|m| m.role == Role::Assistant)
        .map(|m| {
            m.parts
                .iter()
                .filter_map(|p| match p {
                    Part::Thinking { text, .. } => Some(text.as_str()),
                    _ => None,
                })
                .collect::<String>()
        });
    for m in out["messages"].as_array_mut().into_iter().flatten() {
        if m["role"] != "assistant" {
            continue;
        }
        let thought = thoughts.next().unwrap_or_default();
        if m.get("tool_calls").is_some() && m.get("reasoning_content").is_none() {
            m["reasoning_content"] = json!(thought);
        }
    }
}

/// Mistral accepts only 9-character alphanumeric tool-call ids. Ids that already fit are kept, so
/// ids Mistral issued itself survive the round trip unchanged.
pub fn nine_char_id(id: &str) -> String {
    if id.len() == 9 && id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return id.to_string();
    }
    // FNV-1a: stable across runs and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..9)
        .map(|i| ALPHABET[((h >> (i * 7)) % ALPHABET.len() as u64) as usize] as char)
        .collect()
}

fn nine_char_ids(out: &mut Value) {
    for m in out["messages"].as_array_mut().into_iter().flatten() {
        for tc in m
            .get_mut("tool_calls")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(id) = tc.get("id").and_then(Value::as_str) {
                tc["id"] = json!(nine_char_id(id));
            }
        }
        if let Some(id) = m.get("tool_call_id").and_then(Value::as_str) {
            m["tool_call_id"] = json!(nine_char_id(id));
        }
    }
}

/// Some providers reject `role: system`: the system prompt becomes the head of the first user turn.
fn fold_system(out: &mut Value) {
    let Some(messages) = out["messages"].as_array_mut() else {
        return;
    };
    let system: Vec<String> = messages
        .iter()
        .filter(|m| m["role"] == "system")
        .filter_map(|m| m["content"].as_str().map(String::from))
        .collect();
    if system.is_empty() {
        return;
    }
    messages.retain(|m| m["role"] != "system");
    let prefix = system.join("\n\n");
    match messages.iter_mut().find(|m| m["role"] == "user") {
        Some(first) => match first["content"].take() {
            Value::String(s) => first["content"] = json!(format!("{prefix}\n\n{s}")),
            Value::Array(mut parts) => {
                parts.insert(0, json!({"type": "text", "text": prefix}));
                first["content"] = Value::Array(parts);
            }
            _ => first["content"] = json!(prefix),
        },
        None => messages.insert(0, json!({"role": "user", "content": prefix})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::{chat, messages};

    fn claude_code_history() -> Request {
        messages::decode_request(&json!({
            "model": "m", "max_tokens": 100, "system": "Be brief.",
            "messages": [
                {"role": "user", "content": "fix it"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "read first", "signature": "s"},
                    {"type": "tool_use", "id": "toolu_01ABCDEFGHIJ", "name": "Read", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01ABCDEFGHIJ", "content": "ok"}]}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn reasoning_is_replayed_on_tool_call_turns() {
        let req = claude_code_history();
        let mut out = chat::encode_request(&req);
        apply_chat(&mut out, &req, &[Quirk::ReasoningContentReplay]);
        assert_eq!(out["messages"][2]["reasoning_content"], "read first");
        let mut plain = chat::encode_request(&req);
        apply_chat(&mut plain, &req, &[]);
        assert!(plain["messages"][2].get("reasoning_content").is_none());
    }

    #[test]
    fn mistral_ids_are_nine_alphanumerics_for_calls_and_results_alike() {
        let req = claude_code_history();
        let mut out = chat::encode_request(&req);
        apply_chat(&mut out, &req, &[Quirk::ToolCallId9Alnum]);
        let call = out["messages"][2]["tool_calls"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(call.len(), 9);
        assert!(call.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(out["messages"][3]["tool_call_id"], call.as_str());
        assert_eq!(
            nine_char_id("abc123XYZ"),
            "abc123XYZ",
            "ids that fit are kept"
        );
        assert_eq!(nine_char_id(&call), call, "idempotent");
    }

    #[test]
    fn system_prompt_folds_into_the_first_user_turn() {
        let req = claude_code_history();
        let mut out = chat::encode_request(&req);
        apply_chat(&mut out, &req, &[Quirk::NoSystemRole]);
        assert_eq!(out["messages"][0]["role"], "user");
        assert_eq!(out["messages"][0]["content"], "Be brief.\n\nfix it");
        assert!(!out["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["role"] == "system"));
    }
}
