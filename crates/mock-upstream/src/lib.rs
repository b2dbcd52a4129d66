//! A fake upstream provider over real HTTP on 127.0.0.1, speaking the OpenAI Chat Completions wire
//! format (JSON and SSE). Tests and benchmarks point the gateway at it and then ask it what exactly
//! it received (`GET /_mock/requests`).
//!
//! It speaks OpenAI Chat Completions (`/v1/chat/completions`), Anthropic Messages
//! (`/v1/messages`), OpenAI Responses (`/v1/responses`) and Gemini
//! (`/v1beta/models/{model}:generateContent`), JSON and SSE. With `tools` in the request and no
//! tool result in the last turn it calls the first tool with `{"city":"Paris"}` (arguments streamed
//! in fragments); with a tool result it answers `Tool said: <result>`; with thinking/reasoning
//! requested it thinks first.
//!
//! Behaviour is chosen per request by the model name, so a test needs no side channel:
//! - `error-<status>`: answer that status with an OpenAI error body
//! - `html-<status>`: answer that status with an HTML page (like a broken proxy)
//! - `cut-stream`: stream two chunks, then drop the connection
//! - `hang`: accept the request and never answer
//! - 429/503 errors carry `Retry-After: 7`
//! - `drip-<ms>`: stream with that delay before each chunk (overrides the server default)
//! - anything else: a normal answer `"Hello from mock-upstream! You said: <last user text>"`.

mod chat;
mod gemini;
mod messages;
mod responses;

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
    // Like real providers' front ends: small SSE writes go out at once.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(MockUpstream { addr, log, task })
}

fn router(shared: Shared) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat::handle))
        .route("/v1/messages", post(messages::handle))
        .route("/v1/responses", post(responses::handle))
        .route("/v1beta/models/{*rest}", post(gemini::handle))
        .route("/v1/messages/count_tokens", post(messages::count_tokens))
        .route("/v1/models", get(models))
        .route("/v1/embeddings", post(embeddings))
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

/// Deterministic 8-dimensional embeddings: one per input string.
async fn embeddings(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    record(&s, "/v1/embeddings", &headers, &parsed);
    let inputs: Vec<String> = match parsed.get("input") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect(),
        _ => vec![],
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let v: Vec<f64> = (0..8).map(|d| ((t.len() + d) % 7) as f64 / 7.0).collect();
            json!({"object": "embedding", "index": i, "embedding": v})
        })
        .collect();
    Json(
        json!({"object": "list", "data": data, "model": parsed.get("model"),
                "usage": {"prompt_tokens": inputs.len(), "total_tokens": inputs.len()}}),
    )
    .into_response()
}

async fn models() -> Json<Value> {
    Json(json!({"object": "list", "data": [
        {"id": "mock-small", "object": "model", "created": 0, "owned_by": "mock"},
        {"id": "mock-large", "object": "model", "created": 0, "owned_by": "mock"}
    ]}))
}

/// What a request asks the mock to do, from its model name.
pub(crate) enum Behaviour {
    Answer {
        drip: Duration,
        cut: bool,
    },
    Error(StatusCode),
    Html(StatusCode),
    /// Accept the request and never answer (first-byte timeouts, client disconnects).
    Hang,
}

/// Holds the request open "forever" (an hour), like a stuck upstream.
pub(crate) async fn hang() {
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

/// Rate limits and overloads carry `Retry-After`, as real providers send it.
pub(crate) fn with_retry_after(mut resp: Response) -> Response {
    if matches!(resp.status().as_u16(), 429 | 503 | 529) {
        resp.headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("7"));
    }
    resp
}

pub(crate) fn behaviour(model: &str, default_drip: Duration) -> Behaviour {
    if model == "hang" {
        return Behaviour::Hang;
    }
    if let Some(code) = model
        .strip_prefix("error-")
        .and_then(|c| c.parse::<u16>().ok())
    {
        return Behaviour::Error(
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        );
    }
    if let Some(code) = model
        .strip_prefix("html-")
        .and_then(|c| c.parse::<u16>().ok())
    {
        return Behaviour::Html(StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY));
    }
    let drip = model
        .strip_prefix("drip-")
        .and_then(|d| d.parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(default_drip);
    Behaviour::Answer {
        drip,
        cut: model == "cut-stream",
    }
}

pub(crate) fn html(status: StatusCode) -> Response {
    (
        status,
        [("content-type", "text/html")],
        "<html><body><h1>Bad Gateway</h1></body></html>",
    )
        .into_response()
}

/// Records a request; returns its index in the log.
pub(crate) fn record(s: &Shared, path: &str, headers: &HeaderMap, body: &Value) -> usize {
    let mut log = s.log.lock().unwrap();
    log.push(RecordedRequest {
        method: "POST".into(),
        path: path.into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("<binary>").to_string()))
            .collect(),
        body: body.clone(),
        received_at_ms: now_ms(),
        sent_chunks_at_ms: Vec::new(),
    });
    log.len() - 1
}

/// What the answer says: a tool call, a reply to a tool result, or an echo of the user's text.
pub(crate) enum Reply {
    Text(String),
    ToolCall {
        name: String,
        arguments: Vec<String>,
    },
}

pub(crate) fn reply(
    last_user_text: String,
    tool_result: Option<String>,
    first_tool: Option<String>,
) -> Reply {
    match (tool_result, first_tool) {
        (Some(result), _) => Reply::Text(format!("Tool said: {result}")),
        (None, Some(name)) => Reply::ToolCall {
            name,
            arguments: vec!["{\"city\":".into(), "\"Paris\"}".into()],
        },
        (None, None) => Reply::Text(format!(
            "Hello from mock-upstream! You said: {last_user_text}"
        )),
    }
}

/// Streams SSE frames with the drip delay, recording when each leaves; `cut` drops the
/// connection after two frames.
pub(crate) fn sse(
    s: &Shared,
    index: usize,
    frames: Vec<String>,
    drip: Duration,
    cut: bool,
) -> Response {
    let log = s.log.clone();
    let body = futures_util::stream::unfold(0usize, move |i| {
        let frames = frames.clone();
        let log = log.clone();
        async move {
            if i >= frames.len() {
                return None;
            }
            if cut && i == 2 {
                // Give the first frames time to leave, like a connection dropping mid-answer.
                tokio::time::sleep(Duration::from_millis(100)).await;
                return Some((
                    Err(std::io::Error::other("mock cut the stream")),
                    usize::MAX,
                ));
            }
            if !drip.is_zero() {
                tokio::time::sleep(drip).await;
            }
            log.lock().unwrap()[index].sent_chunks_at_ms.push(now_ms());
            Some((
                Ok::<_, std::io::Error>(Bytes::from(frames[i].clone())),
                i + 1,
            ))
        }
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(body))
        .expect("valid response")
}

/// Splits `text` into `n` roughly equal pieces on char boundaries.
pub(crate) fn split(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let n = n.max(1).min(chars.len().max(1));
    let size = chars.len().div_ceil(n).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

pub(crate) fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .map(|p| match p.get("text").and_then(Value::as_str) {
                Some(t) => t.to_string(),
                None => p.get("content").map(text_of).unwrap_or_default(),
            })
            .collect(),
        _ => String::new(),
    }
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
