//! The mock's Kiro endpoint (`POST /generateAssistantResponse`): a JSON `conversationState` in,
//! AWS event-stream frames out, as Kiro/CodeWhisperer answers.
//!
//! It refuses, with Kiro's own 400 "Improperly formed request.", the shapes the real service
//! refuses: no current user message, empty content, a `[1m]` model suffix, a system prompt field,
//! history that does not alternate user/assistant or does not open with a user turn, and tools
//! outside the current message. Faults by model id as for the other formats, plus
//! `cut-frame` (the body ends in the middle of a frame) and `exception-throttle` (a
//! `ThrottlingException` frame instead of an answer).

use crate::{record, reply, split, stream_frames, Reply, Shared};
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::time::Duration;

const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

fn error(status: StatusCode, message: &str) -> Response {
    crate::with_retry_after(
        (status, Json(json!({"message": message, "reason": null}))).into_response(),
    )
}

fn improper(why: &str) -> Response {
    tracing::debug!("kiro mock refuses the request: {why}");
    error(StatusCode::BAD_REQUEST, "Improperly formed request.")
}

/// A string header of a frame.
fn header(name: &'static str, value: String) -> Header {
    Header::new(name, HeaderValue::String(value.into()))
}

/// One frame: `message_type` `event` (named by `:event-type`) or `exception` (named by
/// `:exception-type`).
fn frame(message_type: &str, name: &str, payload: String) -> Bytes {
    let name_header = if message_type == "event" {
        ":event-type"
    } else {
        ":exception-type"
    };
    let m = Message::new(payload.into_bytes())
        .add_header(header(":message-type", message_type.to_string()))
        .add_header(header(name_header, name.to_string()))
        .add_header(header(":content-type", "application/json".to_string()));
    let mut out = Vec::new();
    aws_smithy_eventstream::frame::write_message_to(&m, &mut out).expect("frame encodes");
    Bytes::from(out)
}

/// One event frame.
pub fn event_frame(event: &str, payload: &Value) -> Bytes {
    frame("event", event, payload.to_string())
}

fn exception_frame(kind: &str, message: &str) -> Bytes {
    frame("exception", kind, json!({ "message": message }).to_string())
}

/// Why the real service would refuse this body, if it would.
fn malformed(body: &Value) -> Option<&'static str> {
    let Some(state) = body.get("conversationState") else {
        return Some("no conversationState");
    };
    if state.get("systemPrompt").is_some() || body.get("systemPrompt").is_some() {
        return Some("no system prompt field exists");
    }
    let Some(current) = state.pointer("/currentMessage/userInputMessage") else {
        return Some("no current user message");
    };
    let content = current.get("content").and_then(Value::as_str).unwrap_or("");
    if content.trim().is_empty() {
        return Some("current message without content");
    }
    let model = current.get("modelId").and_then(Value::as_str).unwrap_or("");
    if model.is_empty() || model.to_ascii_lowercase().ends_with("[1m]") {
        return Some("bad modelId");
    }
    let history = state
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, turn) in history.iter().enumerate() {
        let user = turn.get("userInputMessage");
        let assistant = turn.get("assistantResponseMessage");
        let expect_user = i % 2 == 0;
        match (user, assistant, expect_user) {
            (Some(u), None, true) => {
                if u.pointer("/userInputMessageContext/tools").is_some() {
                    return Some("tools in history");
                }
                if u.get("content")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .trim()
                    .is_empty()
                {
                    return Some("empty user turn in history");
                }
            }
            (None, Some(_), false) => {}
            _ => return Some("history does not alternate user/assistant from a user turn"),
        }
    }
    // The current message is a user turn, so history must end on an assistant turn.
    if history.len() % 2 == 1 {
        return Some("two user turns in a row");
    }
    None
}

pub(crate) async fn handle(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let (index, parsed) = record(&s, "/generateAssistantResponse", &headers, &body);
    if let Some(key) = &s.config.require_key {
        let got = headers.get("authorization").and_then(|v| v.to_str().ok());
        if got != Some(format!("Bearer {key}").as_str()) {
            return error(
                StatusCode::FORBIDDEN,
                "The bearer token included in the request is invalid.",
            );
        }
    }
    if let Some(why) = malformed(&parsed) {
        return improper(why);
    }
    let current = &parsed["conversationState"]["currentMessage"]["userInputMessage"];
    let model = current["modelId"].as_str().unwrap_or("").to_string();
    let answer = s
        .fault_or_answer(index, &model, error, || {
            let frames = vec![event_frame(
                "messageMetadataEvent",
                &json!({"conversationId": "conv-mock"}),
            )];
            stream_frames(&s, index, frames, Duration::ZERO, false, CONTENT_TYPE)
        })
        .await;
    let (drip, cut) = match answer {
        Ok(a) => a,
        Err(fault) => return fault,
    };
    if model == "exception-throttle" {
        let frames = vec![exception_frame(
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        )];
        return stream_frames(&s, index, frames, drip, false, CONTENT_TYPE);
    }
    let context = current.get("userInputMessageContext");
    let tool_result = context
        .and_then(|c| c.pointer("/toolResults/0/content/0/text"))
        .and_then(Value::as_str)
        .map(String::from);
    let first_tool = context
        .and_then(|c| c.pointer("/tools/0/toolSpecification/name"))
        .and_then(Value::as_str)
        .map(String::from);
    let user_text = current["content"].as_str().unwrap_or("").to_string();
    let mut frames = vec![event_frame(
        "messageMetadataEvent",
        &json!({"conversationId": "conv-mock"}),
    )];
    match reply(user_text, tool_result, first_tool) {
        Reply::Text(t) => {
            for piece in split(&t, s.config.chunks) {
                frames.push(event_frame(
                    "assistantResponseEvent",
                    &json!({ "content": piece }),
                ));
            }
        }
        Reply::ToolCall { name, arguments } => {
            let id = format!("tooluse_mock{index}");
            for fragment in arguments {
                frames.push(event_frame(
                    "toolUseEvent",
                    &json!({"toolUseId": id, "name": name, "input": fragment}),
                ));
            }
            frames.push(event_frame(
                "toolUseEvent",
                &json!({"toolUseId": id, "name": name, "stop": true}),
            ));
        }
    }
    frames.push(event_frame(
        "meteringEvent",
        &json!({"unit": "credit", "unitPlural": "credits", "usage": 0.05}),
    ));
    frames.push(event_frame(
        "contextUsageEvent",
        &json!({"contextUsagePercentage": 1.5}),
    ));
    if model == "cut-frame" {
        // The body ends cleanly at the HTTP level, but inside a frame.
        frames.truncate(3);
        let half = frames[2].slice(..frames[2].len() / 2);
        frames[2] = half;
    }
    stream_frames(&s, index, frames, drip, cut, CONTENT_TYPE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mock_refuses_what_kiro_refuses() {
        let ok = json!({"conversationState": {
            "currentMessage": {"userInputMessage": {"content": "hi", "modelId": "m"}},
            "history": [
                {"userInputMessage": {"content": "a", "modelId": "m"}},
                {"assistantResponseMessage": {"content": "b"}}
            ]
        }});
        assert_eq!(malformed(&ok), None);
        assert!(malformed(&json!({"messages": []})).is_some());
        let mut two_users = ok.clone();
        two_users["conversationState"]["history"]
            .as_array_mut()
            .unwrap()
            .pop();
        assert!(malformed(&two_users).is_some());
        let mut one_m = ok.clone();
        one_m["conversationState"]["currentMessage"]["userInputMessage"]["modelId"] =
            json!("claude[1m]");
        assert!(malformed(&one_m).is_some());
        let mut system = ok;
        system["conversationState"]["systemPrompt"] = json!("x");
        assert!(malformed(&system).is_some());
    }
}
