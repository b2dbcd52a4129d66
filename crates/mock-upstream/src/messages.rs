//! The mock's Anthropic Messages endpoint.

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

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    with_retry_after(
        (
            status,
            Json(json!({"type": "error", "error": {"type": kind, "message": message}})),
        )
            .into_response(),
    )
}

pub(crate) async fn handle(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let (index, parsed) = record(&s, "/v1/messages", &headers, &body);
    if let Some(key) = &s.config.require_key {
        if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(key.as_str()) {
            return error(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "invalid x-api-key",
            );
        }
    }
    if headers.get("anthropic-version").is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "anthropic-version: header is required",
        );
    }
    if !parsed.is_object() {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "invalid JSON body",
        );
    }
    if parsed.get("max_tokens").and_then(Value::as_u64).is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "max_tokens: Field required",
        );
    }
    let model = parsed
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let answer = s
        .fault_or_answer(
            index,
            &model,
            |status, msg| {
                let kind = if status.as_u16() == 429 {
                    "rate_limit_error"
                } else {
                    "api_error"
                };
                error(status, kind, msg)
            },
            || empty(&s, index, wants_stream(&parsed), Vec::new()),
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
    let last_blocks = messages
        .last()
        .and_then(|m| m.get("content"))
        .cloned()
        .unwrap_or(Value::Null);
    let tool_result = last_blocks.as_array().and_then(|blocks| {
        blocks
            .iter()
            .find(|b| b.get("type") == Some(&json!("tool_result")))
            .map(|b| text_of(b.get("content").unwrap_or(&Value::Null)))
    });
    let user_text = messages
        .iter()
        .rev()
        .find(|m| m.get("role") == Some(&json!("user")))
        .map(|m| text_of(m.get("content").unwrap_or(&Value::Null)))
        .unwrap_or_default();
    let first_tool = parsed
        .pointer("/tools/0/name")
        .and_then(Value::as_str)
        .map(String::from);
    let thinks = parsed.pointer("/thinking/type") == Some(&json!("enabled"));
    let answer = reply(user_text, tool_result, first_tool);
    let id = format!("msg_mock{index}");
    if !parsed
        .get("stream")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        let mut content = Vec::new();
        if thinks {
            content.push(
                json!({"type": "thinking", "thinking": "Let me think.", "signature": "sig-mock-1"}),
            );
        }
        let stop = match &answer {
            Reply::Text(t) => {
                content.push(json!({"type": "text", "text": t}));
                "end_turn"
            }
            Reply::ToolCall { name, arguments } => {
                let input: Value = serde_json::from_str(&arguments.concat()).unwrap_or(json!({}));
                content.push(
                    json!({"type": "tool_use", "id": "toolu_mock_1", "name": name, "input": input}),
                );
                "tool_use"
            }
        };
        return with_quota(
            &model,
            Json(json!({
                "id": id, "type": "message", "role": "assistant", "model": model, "content": content,
                "stop_reason": stop, "stop_sequence": null,
                "usage": {"input_tokens": 12, "output_tokens": 20, "cache_read_input_tokens": 100}
            }))
            .into_response(),
        );
    }
    let ev = |kind: &str, v: Value| format!("event: {kind}\ndata: {v}\n\n");
    let mut frames = vec![ev(
        "message_start",
        json!({"type": "message_start", "message": {
        "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 12, "output_tokens": 1}}}),
    )];
    frames.push(ev("ping", json!({"type": "ping"})));
    let mut index_ = 0;
    if thinks {
        frames.push(ev(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
        ));
        frames.push(ev(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "Let me think."}}),
        ));
        frames.push(ev(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "signature_delta", "signature": "sig-mock-1"}}),
        ));
        frames.push(ev(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ));
        index_ = 1;
    }
    let stop = match &answer {
        Reply::Text(t) => {
            frames.push(ev(
                "content_block_start",
                json!({"type": "content_block_start", "index": index_,
                "content_block": {"type": "text", "text": ""}}),
            ));
            for piece in split(t, s.config.chunks) {
                frames.push(ev(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": index_,
                    "delta": {"type": "text_delta", "text": piece}}),
                ));
            }
            "end_turn"
        }
        Reply::ToolCall { name, arguments } => {
            frames.push(ev("content_block_start", json!({"type": "content_block_start", "index": index_,
                "content_block": {"type": "tool_use", "id": "toolu_mock_1", "name": name, "input": {}}})));
            for a in arguments {
                frames.push(ev(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": index_,
                    "delta": {"type": "input_json_delta", "partial_json": a}}),
                ));
            }
            "tool_use"
        }
    };
    frames.push(ev(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": index_}),
    ));
    frames.push(ev(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
        "usage": {"output_tokens": 20, "cache_read_input_tokens": 100}}),
    ));
    frames.push(ev("message_stop", json!({"type": "message_stop"})));
    with_quota(&model, sse(&s, index, frames, drip, cut))
}

/// Anthropic's token counter: a fixed answer the tests can tell apart from an estimate.
pub(crate) async fn count_tokens(
    State(s): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&s, "/v1/messages/count_tokens", &headers, &body);
    Json(json!({"input_tokens": 4242})).into_response()
}
