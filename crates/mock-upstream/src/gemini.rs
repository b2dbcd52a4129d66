//! The mock's Gemini endpoint: `/v1beta/models/{model}:generateContent` and
//! `:streamGenerateContent` (SSE with `alt=sse`, else one JSON array streamed in pieces).

use crate::{empty, record, reply, split, sse, with_quota, with_retry_after, Reply, Shared};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

fn error(status: StatusCode, message: &str) -> Response {
    let name = match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        429 => "RESOURCE_EXHAUSTED",
        _ => "INTERNAL",
    };
    with_retry_after(
        (
            status,
            Json(json!({"error": {"code": status.as_u16(), "message": message, "status": name}})),
        )
            .into_response(),
    )
}

pub(crate) async fn handle(
    State(s): State<Shared>,
    Path(rest): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/v1beta/models/{rest}");
    let (index, parsed) = record(&s, &path, &headers, &body);
    if let Some(key) = &s.config.require_key {
        if headers.get("x-goog-api-key").and_then(|v| v.to_str().ok()) != Some(key.as_str()) {
            return error(
                StatusCode::UNAUTHORIZED,
                "API key not valid. Please pass a valid API key.",
            );
        }
    }
    let Some((model, method)) = rest.rsplit_once(':') else {
        return error(StatusCode::NOT_FOUND, "unknown method");
    };
    if !parsed.is_object() || parsed.get("contents").is_none() {
        return error(StatusCode::BAD_REQUEST, "contents is required");
    }
    let answer = s
        .fault_or_answer(index, model, error, || {
            let stream = method == "streamGenerateContent";
            empty(&s, index, stream, Vec::new())
        })
        .await;
    let (drip, cut) = match answer {
        Ok(a) => a,
        Err(fault) => return fault,
    };
    let contents = parsed["contents"].as_array().cloned().unwrap_or_default();
    let last_parts = contents
        .last()
        .and_then(|c| c.get("parts"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let tool_result = last_parts
        .iter()
        .find_map(|p| p.get("functionResponse"))
        .map(|fr| match fr.pointer("/response/output") {
            Some(Value::String(s)) => s.clone(),
            _ => fr
                .get("response")
                .map(|r| r.to_string())
                .unwrap_or_default(),
        });
    let user_text: String = contents
        .iter()
        .rev()
        .find(|c| c.get("role").and_then(Value::as_str) != Some("model"))
        .and_then(|c| c.get("parts").and_then(Value::as_array))
        .map(|ps| {
            ps.iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let first_tool = parsed
        .pointer("/tools/0/functionDeclarations/0/name")
        .and_then(Value::as_str)
        .map(String::from);
    let thinks =
        parsed.pointer("/generationConfig/thinkingConfig/includeThoughts") == Some(&json!(true));
    let answer = reply(user_text, tool_result, first_tool);
    let usage = json!({"promptTokenCount": 11, "candidatesTokenCount": 8, "totalTokenCount": 19});
    let mut chunks: Vec<Value> = Vec::new();
    let cand = |parts: Value, finish: Option<&str>| {
        let mut c = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        if let Some(f) = finish {
            c["finishReason"] = json!(f);
        }
        json!({"candidates": [c], "modelVersion": model, "responseId": format!("gem-mock{index}")})
    };
    if thinks {
        chunks.push(cand(
            json!([{"text": "Let me think.", "thought": true}]),
            None,
        ));
    }
    match &answer {
        Reply::Text(t) => {
            for piece in split(t, s.config.chunks) {
                chunks.push(cand(json!([{"text": piece}]), None));
            }
        }
        Reply::ToolCall { name, arguments } => {
            let args: Value = serde_json::from_str(&arguments.concat()).unwrap_or(json!({}));
            chunks.push(cand(
                json!([{"functionCall": {"name": name, "args": args}}]),
                None,
            ));
        }
    }
    let mut last = cand(json!([{"text": ""}]), Some("STOP"));
    last["usageMetadata"] = usage.clone();
    chunks.push(last);
    if method == "generateContent" {
        let mut parts = Vec::new();
        for c in &chunks {
            for p in c
                .pointer("/candidates/0/content/parts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if p.get("text") != Some(&json!("")) {
                    parts.push(p.clone());
                }
            }
        }
        let mut full = cand(Value::Array(parts), Some("STOP"));
        full["usageMetadata"] = usage;
        return with_quota(model, Json(full).into_response());
    }
    let sse_mode = query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .any(|kv| kv == "alt=sse");
    let frames: Vec<String> = if sse_mode {
        chunks
            .iter()
            .map(|c| format!("data: {c}\r\n\r\n"))
            .collect()
    } else {
        let n = chunks.len();
        chunks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "{}{c}{}",
                    if i == 0 { "[" } else { ",\r\n" },
                    if i + 1 == n { "]" } else { "" }
                )
            })
            .collect()
    };
    let mut resp = sse(&s, index, frames, drip, cut);
    if !sse_mode {
        resp.headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
    }
    with_quota(model, resp)
}
