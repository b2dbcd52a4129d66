//! A fake upstream provider over real HTTP on 127.0.0.1, speaking the OpenAI Chat Completions wire
//! format (JSON and SSE). Tests and benchmarks point the gateway at it and then ask it what exactly
//! it received (`GET /_mock/requests`).
//!
//! Behaviour is chosen per request by the model name, so a test needs no side channel:
//! - `error-<status>`: answer that status with an OpenAI error body
//! - `html-<status>`: answer that status with an HTML page (like a broken proxy)
//! - `cut-stream`: stream two chunks, then drop the connection
//! - `drip-<ms>`: stream with that delay before each chunk (overrides the server default)
//! - anything else: a normal answer `"Hello from mock-upstream! You said: <last user text>"`.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Number of content chunks a stream is split into.
    pub chunks: usize,
    /// Delay before each streamed chunk.
    pub drip: Duration,
    /// When set, requests without `Authorization: Bearer <key>` get a 401.
    pub require_key: Option<String>,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            chunks: 5,
            drip: Duration::ZERO,
            require_key: None,
        }
    }
}

/// One request as the mock saw it.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub headers: std::collections::BTreeMap<String, String>,
    pub body: Value,
    pub received_at_ms: u128,
    /// Wall-clock times (ms since epoch) at which each SSE event was handed to the connection.
    pub sent_chunks_at_ms: Vec<u128>,
}

#[derive(Clone)]
struct Shared {
    config: MockConfig,
    log: Arc<Mutex<Vec<RecordedRequest>>>,
}

pub struct MockUpstream {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<RecordedRequest>>>,
    task: tokio::task::JoinHandle<()>,
}

impl MockUpstream {
    /// `http://127.0.0.1:PORT/v1`, what a provider's base URL would be.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.log.lock().unwrap().clone()
    }
    pub fn stop(self) {
        self.task.abort();
    }
}

pub fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// Starts the mock on `127.0.0.1:port` (0 = any free port).
pub async fn start(config: MockConfig, port: u16) -> std::io::Result<MockUpstream> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let log = Arc::new(Mutex::new(Vec::new()));
    let app = router(Shared {
        config,
        log: log.clone(),
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(MockUpstream { addr, log, task })
}

fn router(shared: Shared) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/models", get(models))
        .route("/_mock/requests", get(requests).delete(clear))
        .with_state(shared)
}

async fn requests(State(s): State<Shared>) -> Json<Vec<RecordedRequest>> {
    Json(s.log.lock().unwrap().clone())
}

async fn clear(State(s): State<Shared>) -> StatusCode {
    s.log.lock().unwrap().clear();
    StatusCode::NO_CONTENT
}

async fn models() -> Json<Value> {
    Json(json!({"object": "list", "data": [
        {"id": "mock-small", "object": "model", "created": 0, "owned_by": "mock"},
        {"id": "mock-large", "object": "model", "created": 0, "owned_by": "mock"}
    ]}))
}

fn openai_error(status: StatusCode, message: &str, code: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}})),
    )
        .into_response()
}

fn last_user_text(body: &Value) -> String {
    body.get("messages")
        .and_then(Value::as_array)
        .and_then(|m| m.iter().rev().find(|m| m.get("role") == Some(&json!("user"))))
        .and_then(|m| m.get("content"))
        .map(|c| match c {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .unwrap_or_default()
}

/// Splits `text` into `n` roughly equal pieces on char boundaries.
fn split(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let n = n.max(1).min(chars.len().max(1));
    let size = chars.len().div_ceil(n).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

async fn chat(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let parsed: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into()));
    let index = {
        let mut log = s.log.lock().unwrap();
        log.push(RecordedRequest {
            method: "POST".into(),
            path: "/v1/chat/completions".into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("<binary>").to_string()))
                .collect(),
            body: parsed.clone(),
            received_at_ms: now_ms(),
            sent_chunks_at_ms: Vec::new(),
        });
        log.len() - 1
    };
    if let Some(key) = &s.config.require_key {
        let got = headers.get("authorization").and_then(|v| v.to_str().ok());
        if got != Some(format!("Bearer {key}").as_str()) {
            return openai_error(StatusCode::UNAUTHORIZED, "Incorrect API key provided.", "invalid_api_key");
        }
    }
    let Value::Object(_) = parsed else {
        return openai_error(StatusCode::BAD_REQUEST, "We could not parse the JSON body of your request.", "invalid_json");
    };
    let model = parsed.get("model").and_then(Value::as_str).unwrap_or("").to_string();
    if let Some(code) = model.strip_prefix("error-").and_then(|c| c.parse::<u16>().ok()) {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return openai_error(status, &format!("mock upstream failure {code}"), "mock_error");
    }
    if let Some(code) = model.strip_prefix("html-").and_then(|c| c.parse::<u16>().ok()) {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
        return (status, [("content-type", "text/html")], "<html><body><h1>Bad Gateway</h1></body></html>").into_response();
    }
    let text = format!("Hello from mock-upstream! You said: {}", last_user_text(&parsed));
    let stream = parsed.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let created = (now_ms() / 1000) as u64;
    let id = format!("chatcmpl-mock{index}");
    if !stream {
        return Json(json!({
            "id": id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}
        }))
        .into_response();
    }
    let drip = model
        .strip_prefix("drip-")
        .and_then(|d| d.parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(s.config.drip);
    let cut = model == "cut-stream";
    let chunk = |delta: Value, finish: Value| {
        json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut events = vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null)];
    for piece in split(&text, s.config.chunks) {
        events.push(chunk(json!({"content": piece}), Value::Null));
    }
    let mut last = chunk(json!({}), json!("stop"));
    last["usage"] = json!({"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21});
    events.push(last);
    let mut frames: Vec<String> = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    frames.push("data: [DONE]\n\n".into());
    let log = s.log.clone();
    let body = futures_util::stream::unfold(0usize, move |i| {
        let frames = frames.clone();
        let log = log.clone();
        async move {
            if i >= frames.len() {
                return None;
            }
            if cut && i == 2 {
                // Give the first chunks time to leave, like a connection dropping mid-answer.
                tokio::time::sleep(Duration::from_millis(100)).await;
                return Some((Err(std::io::Error::other("mock cut the stream")), usize::MAX));
            }
            if !drip.is_zero() {
                tokio::time::sleep(drip).await;
            }
            log.lock().unwrap()[index].sent_chunks_at_ms.push(now_ms());
            Some((Ok::<_, std::io::Error>(Bytes::from(frames[i].clone())), i + 1))
        }
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(body))
        .expect("valid response")
}

#[cfg(test)]
mod tests {
    #[test]
    fn split_keeps_all_text() {
        for n in 1..8 {
            assert_eq!(super::split("héllo wörld", n).concat(), "héllo wörld");
        }
        assert_eq!(super::split("", 3).concat(), "");
    }
}
