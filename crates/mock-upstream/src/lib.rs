//! A fake upstream provider over real HTTP on 127.0.0.1, speaking the OpenAI Chat Completions wire
//! format (JSON and SSE). Tests and benchmarks point the gateway at it and then ask it what exactly
//! it received (`GET /_mock/requests`).
//!
//! It speaks OpenAI Chat Completions (`/v1/chat/completions`), Anthropic Messages
//! (`/v1/messages`), OpenAI Responses (`/v1/responses`) and Gemini
//! (`/v1beta/models/{model}:generateContent`), JSON and SSE, and Kiro
//! (`/generateAssistantResponse`, AWS event-stream frames; see `kiro.rs` for its checks). With `tools` in the request and no
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
//! - `stream-only…` (Chat, Responses): answer as a stream even when the request says `stream: false`
//! - `flaky-<n>-<status>`: the first n requests for that exact model name answer that status (an
//!   error body in the endpoint's format), later ones answer normally; `POST /_mock/reset` clears
//!   the counters and the request log
//! - `quota-<pct>`: a normal answer carrying rate-limit headers (Anthropic unified 5h window at
//!   `pct`% utilisation resetting in 2 h, 7d window at 10 %, plus `x-ratelimit-*`)
//! - `endless-line` (Chat): a stream whose first chunk has content, then one `data:` line that
//!   never ends (64 MiB of `x`, then the connection closes)
//! - `empty-200`: status 200 with an empty body; for streams, an SSE stream without content
//!   events (Chat: only `data: [DONE]`)
//!
//! The log records, per request, when each SSE event left and whether the client went away before
//! a streamed (or hanging) answer finished (`client_closed`).
//! - anything else: a normal answer `"Hello from mock-upstream! You said: <last user text>"`.

mod chat;
mod gemini;
mod kiro;
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
use std::collections::HashMap;
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
    /// The body exactly as it arrived (what a passthrough must keep byte for byte).
    pub body_text: String,
    pub received_at_ms: u128,
    /// Wall-clock times (ms since epoch) at which each SSE event was handed to the connection.
    pub sent_chunks_at_ms: Vec<u128>,
    /// The client dropped the connection before a streamed or hanging answer finished.
    pub client_closed: bool,
}

#[derive(Clone)]
struct Shared {
    config: MockConfig,
    log: Arc<Mutex<Vec<RecordedRequest>>>,
    /// Requests seen so far per `flaky-*` model name.
    flaky: Arc<Mutex<HashMap<String, u32>>>,
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
        flaky: Arc::default(),
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
        .route("/generateAssistantResponse", post(kiro::handle))
        .route("/v1/generateAssistantResponse", post(kiro::handle))
        .route("/v1/messages/count_tokens", post(messages::count_tokens))
        .route("/v1/models", get(models))
        .route("/v1/embeddings", post(embeddings))
        .route("/_mock/requests", get(requests).delete(clear))
        .route("/_mock/reset", post(reset))
        .with_state(shared)
}

/// Clears the request log and the `flaky-*` counters.
async fn reset(State(s): State<Shared>) -> StatusCode {
    s.log.lock().unwrap().clear();
    s.flaky.lock().unwrap().clear();
    StatusCode::NO_CONTENT
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
    let (_, parsed) = record(&s, "/v1/embeddings", &headers, &body);
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
    /// 200 with an empty body, or a stream without content events.
    Empty,
}

impl Shared {
    /// `behaviour` plus the stateful faults (`flaky-<n>-<status>` counts requests per model).
    pub(crate) fn behaviour(&self, model: &str) -> Behaviour {
        if let Some((n, status)) = flaky(model) {
            let mut seen = self.flaky.lock().unwrap();
            let count = seen.entry(model.to_string()).or_insert(0);
            *count += 1;
            if *count <= n {
                return Behaviour::Error(status);
            }
            return Behaviour::Answer {
                drip: self.config.drip,
                cut: false,
            };
        }
        behaviour(model, self.config.drip)
    }

    /// Plays the fault a model name asks for, with this API's own error (`error`, given the
    /// status and the mock's message) and empty answer (`empty`); `Ok((drip, cut))` when the
    /// request is to be answered.
    pub(crate) async fn fault_or_answer(
        &self,
        index: usize,
        model: &str,
        error: impl FnOnce(StatusCode, &str) -> Response,
        empty: impl FnOnce() -> Response,
    ) -> Result<(Duration, bool), Response> {
        match self.behaviour(model) {
            Behaviour::Answer { drip, cut } => Ok((drip, cut)),
            Behaviour::Error(status) => Err(error(
                status,
                &format!("mock upstream failure {}", status.as_u16()),
            )),
            Behaviour::Html(status) => Err(html(status)),
            Behaviour::Hang => {
                self.hang(index).await;
                Err(html(StatusCode::GATEWAY_TIMEOUT))
            }
            Behaviour::Empty => Err(empty()),
        }
    }

    /// Holds the request open like `hang`, recording `client_closed` if the client gives up.
    pub(crate) async fn hang(&self, index: usize) {
        let mut guard = CloseGuard::new(self.log.clone(), index);
        hang().await;
        guard.finished();
    }
}

/// `flaky-<n>-<status>` → (n, status).
fn flaky(model: &str) -> Option<(u32, StatusCode)> {
    let (n, status) = model.strip_prefix("flaky-")?.split_once('-')?;
    let status = StatusCode::from_u16(status.parse().ok()?).ok()?;
    Some((n.parse().ok()?, status))
}

/// Marks the request `client_closed` when dropped before `finished` (the connection went away
/// while the answer was still being produced).
struct CloseGuard {
    log: Arc<Mutex<Vec<RecordedRequest>>>,
    index: usize,
    done: bool,
}

impl CloseGuard {
    fn new(log: Arc<Mutex<Vec<RecordedRequest>>>, index: usize) -> Self {
        Self {
            log,
            index,
            done: false,
        }
    }
    fn finished(&mut self) {
        self.done = true;
    }
}

impl Drop for CloseGuard {
    fn drop(&mut self) {
        if !self.done {
            if let Ok(mut log) = self.log.lock() {
                // The log may have been cleared meanwhile.
                if let Some(r) = log.get_mut(self.index) {
                    r.client_closed = true;
                }
            }
        }
    }
}

/// Headers of a provider reporting rate-limit state: Anthropic's unified windows (5 h at `pct` %,
/// resetting in 2 h; 7 d at 10 %) and the OpenAI-style `x-ratelimit-*` set.
pub(crate) fn quota_headers(model: &str) -> Vec<(&'static str, String)> {
    let Some(pct) = model
        .strip_prefix("quota-")
        .and_then(|p| p.parse::<f64>().ok())
    else {
        return Vec::new();
    };
    let now = (now_ms() / 1000) as u64;
    let five_h_reset = now + 7200;
    let seven_d_reset = now + 3 * 86400;
    let status = if pct >= 100.0 { "rejected" } else { "allowed" };
    let remaining = (1000.0 * (1.0 - pct / 100.0)).max(0.0) as u64;
    vec![
        ("anthropic-ratelimit-unified-status", status.to_string()),
        ("anthropic-ratelimit-unified-5h-status", status.to_string()),
        (
            "anthropic-ratelimit-unified-5h-utilization",
            format!("{}", pct / 100.0),
        ),
        (
            "anthropic-ratelimit-unified-5h-reset",
            five_h_reset.to_string(),
        ),
        (
            "anthropic-ratelimit-unified-7d-status",
            "allowed".to_string(),
        ),
        (
            "anthropic-ratelimit-unified-7d-utilization",
            "0.10".to_string(),
        ),
        (
            "anthropic-ratelimit-unified-7d-reset",
            seven_d_reset.to_string(),
        ),
        (
            "anthropic-ratelimit-unified-reset",
            five_h_reset.to_string(),
        ),
        (
            "anthropic-ratelimit-unified-representative-claim",
            "five_hour".to_string(),
        ),
        ("x-ratelimit-limit-requests", "1000".to_string()),
        ("x-ratelimit-remaining-requests", remaining.to_string()),
        ("x-ratelimit-reset-requests", "2h0m0s".to_string()),
        ("x-ratelimit-limit-tokens", "1000000".to_string()),
        (
            "x-ratelimit-remaining-tokens",
            (remaining * 1000).to_string(),
        ),
        ("x-ratelimit-reset-tokens", "2h0m0s".to_string()),
    ]
}

/// Adds the `quota-<pct>` headers (if the model asks for them) to a successful answer.
pub(crate) fn with_quota(model: &str, mut resp: Response) -> Response {
    for (name, value) in quota_headers(model) {
        if let Ok(v) = axum::http::HeaderValue::from_str(&value) {
            resp.headers_mut().insert(name, v);
        }
    }
    resp
}

/// `empty-200`: an empty JSON answer, or a stream made of `frames` only (no content events).
pub(crate) fn empty(s: &Shared, index: usize, stream: bool, frames: Vec<String>) -> Response {
    if stream {
        return sse(s, index, frames, Duration::ZERO, false);
    }
    (StatusCode::OK, [("content-type", "application/json")], "").into_response()
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
    if model == "empty-200" {
        return Behaviour::Empty;
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

/// A Chat stream that starts well, then sends one `data:` line without end (bounded at 64 MiB so
/// a broken gateway cannot keep the mock busy forever).
pub(crate) fn endless_line() -> Response {
    let first = Bytes::from_static(
        b"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"endless-line\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":null}]}\n\ndata: ",
    );
    let filler = Bytes::from(vec![b'x'; 1 << 20]);
    let chunks = std::iter::once(first).chain(std::iter::repeat_n(filler, 64));
    let body = futures_util::stream::iter(chunks.map(Ok::<_, std::io::Error>));
    (
        [("content-type", "text/event-stream")],
        Body::from_stream(body),
    )
        .into_response()
}

pub(crate) fn html(status: StatusCode) -> Response {
    (
        status,
        [("content-type", "text/html")],
        "<html><body><h1>Bad Gateway</h1></body></html>",
    )
        .into_response()
}

/// The request's own `stream` flag (false when absent).
pub(crate) fn wants_stream(body: &Value) -> bool {
    body.get("stream").and_then(Value::as_bool).unwrap_or(false)
}

/// Records a request; returns its index in the log and its body as JSON (a body that is not
/// JSON is kept as a string, so a handler can still refuse it in its API's words).
pub(crate) fn record(s: &Shared, path: &str, headers: &HeaderMap, raw: &[u8]) -> (usize, Value) {
    let body: Value = serde_json::from_slice(raw)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(raw).into()));
    let mut log = s.log.lock().unwrap();
    log.push(RecordedRequest {
        method: "POST".into(),
        path: path.into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("<binary>").to_string()))
            .collect(),
        body: body.clone(),
        body_text: String::from_utf8_lossy(raw).into_owned(),
        received_at_ms: now_ms(),
        sent_chunks_at_ms: Vec::new(),
        client_closed: false,
    });
    (log.len() - 1, body)
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
    let frames = frames.into_iter().map(Bytes::from).collect();
    stream_frames(s, index, frames, drip, cut, "text/event-stream")
}

/// Streams `frames` (any framing) with the drip delay, recording when each leaves; `cut` drops
/// the connection after two frames.
pub(crate) fn stream_frames(
    s: &Shared,
    index: usize,
    frames: Vec<Bytes>,
    drip: Duration,
    cut: bool,
    content_type: &'static str,
) -> Response {
    let log = s.log.clone();
    // Lives inside the stream: dropped before the end means the client went away.
    let guard = CloseGuard::new(log.clone(), index);
    let body = futures_util::stream::unfold((0usize, guard), move |(i, mut guard)| {
        let frames = frames.clone();
        let log = log.clone();
        async move {
            if i >= frames.len() {
                guard.finished();
                return None;
            }
            if cut && i == 2 {
                // Give the first frames time to leave, like a connection dropping mid-answer.
                tokio::time::sleep(Duration::from_millis(100)).await;
                guard.finished();
                return Some((
                    Err(std::io::Error::other("mock cut the stream")),
                    (usize::MAX, guard),
                ));
            }
            if !drip.is_zero() {
                tokio::time::sleep(drip).await;
            }
            if let Some(r) = log.lock().unwrap().get_mut(index) {
                r.sent_chunks_at_ms.push(now_ms());
            }
            Some((Ok::<_, std::io::Error>(frames[i].clone()), (i + 1, guard)))
        }
    });
    Response::builder()
        .header("content-type", content_type)
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

    #[test]
    fn flaky_names() {
        use axum::http::StatusCode;
        assert_eq!(
            super::flaky("flaky-2-500"),
            Some((2, StatusCode::INTERNAL_SERVER_ERROR))
        );
        assert_eq!(super::flaky("flaky-x-500"), None);
        assert_eq!(super::flaky("mock-small"), None);
    }

    #[test]
    fn quota_headers_report_utilisation() {
        let h = super::quota_headers("quota-85");
        let get = |k: &str| h.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        assert_eq!(
            get("anthropic-ratelimit-unified-5h-utilization").as_deref(),
            Some("0.85")
        );
        assert_eq!(
            get("anthropic-ratelimit-unified-status").as_deref(),
            Some("allowed")
        );
        assert!(super::quota_headers("mock-small").is_empty());
    }
}
