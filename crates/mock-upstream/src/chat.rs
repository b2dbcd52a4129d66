//! The mock's OpenAI Chat Completions endpoint.

use crate::{
    empty, record, reply, split, sse, text_of, wants_stream, with_quota, with_retry_after, Reply,
    Shared,
};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

fn error(status: StatusCode, message: &str, code: &str) -> Response {
    with_retry_after((
        status,
        Json(json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}})),
    )
        .into_response())
}

pub(crate) async fn handle(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let (index, parsed) = record(&s, "/v1/chat/completions", &headers, &body);
    if let Some(key) = &s.config.require_key {
        let got = headers.get("authorization").and_then(|v| v.to_str().ok());
        if got != Some(format!("Bearer {key}").as_str()) {
            return error(
                StatusCode::UNAUTHORIZED,
                "Incorrect API key provided.",
                "invalid_api_key",
            );
        }
    }
    if !parsed.is_object() {
        return error(
            StatusCode::BAD_REQUEST,
            "We could not parse the JSON body of your request.",
            "invalid_json",
        );
    }
    let model = parsed
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if model == "endless-line" {
        return crate::endless_line();
    }
    let answer = s
        .fault_or_answer(
            index,
            &model,
            |status, msg| error(status, msg, "mock_error"),
            || {
                empty(
                    &s,
                    index,
                    wants_stream(&parsed),
                    vec!["data: [DONE]\n\n".into()],
                )
            },
        )
        .await;
    let (drip, cut) = match answer {
        Ok(a) => a,
        Err(fault) => return fault,
    };
    let messages = parsed
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let last = messages.last();
    let tool_result = last
        .filter(|m| m.get("role") == Some(&json!("tool")))
        .map(|m| text_of(m.get("content").unwrap_or(&Value::Null)));
    let user_text = messages
        .iter()
        .rev()
        .find(|m| m.get("role") == Some(&json!("user")))
        .map(|m| text_of(m.get("content").unwrap_or(&Value::Null)))
        .unwrap_or_default();
    let first_tool = parsed
        .pointer("/tools/0/function/name")
        .and_then(Value::as_str)
        .map(String::from);
    let thinks = parsed.get("reasoning_effort").is_some();
    let answer = reply(user_text, tool_result, first_tool);
    let usage = json!({"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21});
    let id = format!("chatcmpl-mock{index}");
    let created = (crate::now_ms() / 1000) as u64;
    // `stream-only*` models stream whatever the request asks, like Codex's backend (docs/formats.md #8).
    let streams = parsed
        .get("stream")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        || model.starts_with("stream-only");
    if !streams {
        let mut message = json!({"role": "assistant"});
        let finish = match &answer {
            Reply::Text(t) => {
                message["content"] = json!(t);
                "stop"
            }
            Reply::ToolCall { name, arguments } => {
                message["content"] = Value::Null;
                message["tool_calls"] = json!([{"id": "call_mock_1", "type": "function",
                    "function": {"name": name, "arguments": arguments.concat()}}]);
                "tool_calls"
            }
        };
        if thinks {
            message["reasoning_content"] = json!("Let me think.");
        }
        return with_quota(
            &model,
            Json(json!({
                "id": id, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": usage,
            }))
            .into_response(),
        );
    }
    let chunk = |delta: Value, finish: Value| {
        json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    if thinks {
        events.push(chunk(
            json!({"reasoning_content": "Let me think."}),
            Value::Null,
        ));
    }
    let finish = match &answer {
        Reply::Text(t) => {
            for piece in split(t, s.config.chunks) {
                events.push(chunk(json!({"content": piece}), Value::Null));
            }
            "stop"
        }
        Reply::ToolCall { name, arguments } => {
            events.push(chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_mock_1", "type": "function",
                                       "function": {"name": name, "arguments": ""}}]}),
                Value::Null,
            ));
            for a in arguments {
                events.push(chunk(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": a}}]}),
                    Value::Null,
                ));
            }
            "tool_calls"
        }
    };
    events.push(chunk(json!({}), json!(finish)));
    if parsed.pointer("/stream_options/include_usage") == Some(&json!(true)) {
        events.push(
            json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                           "choices": [], "usage": usage}),
        );
    }
    let mut frames: Vec<String> = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    frames.push("data: [DONE]\n\n".into());
    with_quota(&model, sse(&s, index, frames, drip, cut))
}
