//! The mock's OpenAI Responses endpoint (what Codex talks to).

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
    with_retry_after((status, Json(json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}}))).into_response())
}

pub(crate) async fn handle(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let (index, parsed) = record(&s, "/v1/responses", &headers, &body);
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
        return error(StatusCode::BAD_REQUEST, "invalid JSON body", "invalid_json");
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
            |status, msg| error(status, msg, "mock_error"),
            || empty(&s, index, wants_stream(&parsed), Vec::new()),
        )
        .await;
    let (drip, cut) = match answer {
        Ok(a) => a,
        Err(fault) => return fault,
    };
    let items = match parsed.get("input") {
        Some(Value::String(t)) => vec![json!({"role": "user", "content": t})],
        Some(Value::Array(a)) => a.clone(),
        _ => vec![],
    };
    let tool_result = items
        .last()
        .filter(|i| i.get("type") == Some(&json!("function_call_output")))
        .map(|i| text_of(i.get("output").unwrap_or(&Value::Null)));
    let user_text = items
        .iter()
        .rev()
        .find(|i| i.get("role") == Some(&json!("user")))
        .map(|i| text_of(i.get("content").unwrap_or(&Value::Null)))
        .unwrap_or_default();
    let first_tool = parsed
        .pointer("/tools/0/name")
        .and_then(Value::as_str)
        .map(String::from);
    let thinks = parsed.get("reasoning").is_some();
    let answer = reply(user_text, tool_result, first_tool);
    let id = format!("resp_mock{index}");
    let usage = json!({"input_tokens": 30, "input_tokens_details": {"cached_tokens": 10},
                       "output_tokens": 7, "output_tokens_details": {"reasoning_tokens": 2}, "total_tokens": 37});
    let mut output = Vec::new();
    if thinks {
        output.push(json!({"type": "reasoning", "id": "rs_mock", "summary": [{"type": "summary_text", "text": "Let me think."}]}));
    }
    match &answer {
        Reply::Text(t) => output.push(json!({"type": "message", "id": "msg_mock", "status": "completed", "role": "assistant",
                                              "content": [{"type": "output_text", "text": t, "annotations": []}]})),
        Reply::ToolCall { name, arguments } => output.push(json!({"type": "function_call", "id": "fc_mock", "call_id": "call_mock_1",
                                                                  "name": name, "arguments": arguments.concat(), "status": "completed"})),
    }
    let full = |status: &str, output: Value, usage: Value| {
        json!({"id": id, "object": "response", "created_at": 1, "status": status,
        "model": model, "output": output, "usage": usage})
    };
    // `stream-only*` models stream whatever the request asks, like Codex's backend (docs/formats.md #8).
    let streams = parsed
        .get("stream")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        || model.starts_with("stream-only");
    if !streams {
        return with_quota(
            &model,
            Json(full("completed", Value::Array(output.clone()), usage)).into_response(),
        );
    }
    let mut seq = 0;
    let mut frames = Vec::new();
    let mut ev = |kind: &str, mut v: Value| {
        v["type"] = json!(kind);
        v["sequence_number"] = json!(seq);
        seq += 1;
        frames.push(format!("event: {kind}\ndata: {v}\n\n"));
    };
    ev(
        "response.created",
        json!({"response": full("in_progress", json!([]), Value::Null)}),
    );
    ev(
        "response.in_progress",
        json!({"response": full("in_progress", json!([]), Value::Null)}),
    );
    for (i, item) in output.iter().enumerate() {
        match item["type"].as_str() {
            Some("reasoning") => {
                ev(
                    "response.output_item.added",
                    json!({"output_index": i, "item": {"type": "reasoning", "id": "rs_mock", "summary": []}}),
                );
                ev(
                    "response.reasoning_summary_text.delta",
                    json!({"item_id": "rs_mock", "output_index": i, "summary_index": 0, "delta": "Let me think."}),
                );
                ev(
                    "response.output_item.done",
                    json!({"output_index": i, "item": item}),
                );
            }
            Some("message") => {
                ev(
                    "response.output_item.added",
                    json!({"output_index": i, "item": {"type": "message", "id": "msg_mock", "status": "in_progress", "role": "assistant", "content": []}}),
                );
                ev(
                    "response.content_part.added",
                    json!({"item_id": "msg_mock", "output_index": i, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
                );
                let text = item["content"][0]["text"].as_str().unwrap_or_default();
                for piece in split(text, s.config.chunks) {
                    ev(
                        "response.output_text.delta",
                        json!({"item_id": "msg_mock", "output_index": i, "content_index": 0, "delta": piece}),
                    );
                }
                ev(
                    "response.output_text.done",
                    json!({"item_id": "msg_mock", "output_index": i, "content_index": 0, "text": text}),
                );
                ev(
                    "response.output_item.done",
                    json!({"output_index": i, "item": item}),
                );
            }
            _ => {
                let mut added = item.clone();
                added["arguments"] = json!("");
                ev(
                    "response.output_item.added",
                    json!({"output_index": i, "item": added}),
                );
                if let Reply::ToolCall { arguments, .. } = &answer {
                    for a in arguments {
                        ev(
                            "response.function_call_arguments.delta",
                            json!({"item_id": "fc_mock", "output_index": i, "delta": a}),
                        );
                    }
                }
                ev(
                    "response.function_call_arguments.done",
                    json!({"item_id": "fc_mock", "output_index": i, "arguments": item["arguments"]}),
                );
                ev(
                    "response.output_item.done",
                    json!({"output_index": i, "item": item}),
                );
            }
        }
    }
    ev(
        "response.completed",
        json!({"response": full("completed", Value::Array(output), usage)}),
    );
    with_quota(&model, sse(&s, index, frames, drip, cut))
}
