//! One upstream attempt: build the body for this upstream's format, send it with the account's
//! key, and watch the answer until it is worth committing to. Until the first meaningful event
//! (text, thinking, a tool call) nothing has gone to the client, so a failure here can still move
//! on to the next account or target invisibly (docs/routing.md §9).

use super::transport::{Answer, BodyStream};
use super::upstream::{self, DEFAULT_ANTHROPIC_VERSION, ERROR_BODY_LIMIT};
use crate::formats::framing::Framing;
use crate::formats::{self, ir, Format, StreamTranslator, StreamWatch};
use crate::routing::classify::Failure;
use crate::state::AppState;
use crate::storage::{Account, Provider};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use bytes::Bytes;
use futures_util::stream::StreamExt;
use serde_json::Value;
use std::time::Duration;

/// Bytes held back while waiting for the first content; past this we commit anyway.
const HOLD_LIMIT: usize = 256 * 1024;

/// The client's request, parsed once and reused by every attempt.
pub struct Call {
    pub client: Format,
    /// What the body is (Cursor sends Responses bodies to the Chat path).
    pub request_format: Format,
    pub body: super::body::ClientBody,
    /// Decoded lazily, the first time an attempt needs translation.
    pub ir: Option<ir::Request>,
    pub stream: bool,
    pub gemini_array: bool,
    pub anthropic_version: Option<HeaderValue>,
    pub anthropic_beta: Option<String>,
    /// The model string asked for the 1M-token context (`[1m]`).
    pub extended_context: bool,
}

/// The Anthropic beta that turns on the 1M-token context window.
const CONTEXT_1M_BETA: &str = "context-1m-2025-08-07";

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub first_byte: Duration,
    pub readiness: Duration,
    pub idle: Duration,
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            first_byte: Duration::from_secs(30),
            readiness: Duration::from_secs(90),
            idle: Duration::from_secs(300),
            total: Duration::from_secs(600),
        }
    }
}

/// An answer we committed to.
pub enum Committed {
    Stream {
        /// Passthrough: raw upstream bytes held during readiness. Translation: client bytes.
        held: Vec<Bytes>,
        rest: BodyStream,
        kind: StreamKind,
        status: StatusCode,
        content_type: Option<HeaderValue>,
    },
    Json {
        body: Bytes,
        content_type: Option<HeaderValue>,
        usage: ir::Usage,
    },
}

pub enum StreamKind {
    Passthrough {
        watch: Box<StreamWatch>,
        is_sse: bool,
    },
    Translated(Box<StreamTranslator>),
}

/// A failed attempt, with what is needed to classify it and, if it ends the request, to show it.
pub struct AttemptFailure {
    pub failure: Failure,
    pub status: Option<StatusCode>,
    pub content_type: Option<HeaderValue>,
    pub body: Bytes,
    pub retry_hint: Option<Duration>,
    /// A short tag for the fallback header: `429`, `timeout`, `connect`, `empty`.
    pub tag: String,
    pub message: String,
}

impl AttemptFailure {
    fn plain(failure: Failure, tag: &str, message: String) -> Self {
        Self {
            failure,
            status: None,
            content_type: None,
            body: Bytes::new(),
            retry_hint: None,
            tag: tag.into(),
            message,
        }
    }
}

pub fn upstream_format(p: &Provider) -> Format {
    p.format
}

fn header_pairs(h: &HeaderMap) -> Vec<(&str, &str)> {
    h.iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
        .collect()
}

/// The request body for this upstream: the client's own bytes with the model replaced
/// (passthrough), or the IR encoded for the upstream's format (each attempt overwrites the IR's
/// model, so nothing is cloned per attempt).
fn body_for(
    state: &AppState,
    call: &mut Call,
    p: &Provider,
    upstream: Format,
    model: &str,
) -> Bytes {
    if !needs_translation(call, upstream) {
        // Gemini names the model in the URL, not the body.
        let named = (call.client != Format::Gemini).then_some(model);
        return call.body.with_model(named);
    }
    let req = call
        .ir
        .as_mut()
        .expect("the pipeline decodes the request before any translated attempt");
    req.model = model.to_string();
    req.stream = call.stream;
    if !req.server_tools.is_empty() {
        tracing::info!(
            provider = %p.name,
            tools = ?req.server_tools,
            "server tools dropped: only the client's own API family runs them"
        );
    }
    let mut out = formats::encode_request(upstream, req);
    if upstream == Format::Chat {
        if let Some(entry) = p
            .catalog_id
            .as_deref()
            .and_then(|id| state.catalog.by_id(id))
        {
            crate::quirks::apply_chat(&mut out, req, &entry.quirks);
        }
    }
    Bytes::from(serde_json::to_vec(&out).expect("a JSON value serialises"))
}

/// Why this provider cannot run the request at all, if it cannot: such a target is skipped
/// (no attempt, nothing counted against it).
pub fn unsupported(call: &Call, p: &Provider) -> Option<String> {
    let upstream = upstream_format(p);
    if call.extended_context && upstream == Format::Kiro {
        return Some(format!(
            "provider {:?} (Kiro) has no 1M-context variant: drop the \"[1m]\" suffix",
            p.name
        ));
    }
    // A forced server tool runs only in its own family: a translated target has no such tool
    // (docs/formats.md §4, #15).
    if let (Some(ir), true) = (&call.ir, needs_translation(call, upstream)) {
        if let Some(ir::ToolChoice::Tool(name)) = &ir.tool_choice {
            if ir.server_tools.contains(name) {
                return Some(format!(
                    "tool_choice forces the server tool {name:?}, which provider {:?} ({}) does not run",
                    p.name,
                    upstream.as_str()
                ));
            }
        }
    }
    None
}

/// Whether a target of this format needs the request translated (so decoded into the IR).
pub fn needs_translation(call: &Call, upstream: Format) -> bool {
    upstream != call.client || call.request_format != call.client
}

/// Sends one attempt and waits for a committable answer.
pub async fn run(
    state: &AppState,
    call: &mut Call,
    p: &Provider,
    account: &Account,
    model: &str,
    t: &Timeouts,
) -> Result<Committed, AttemptFailure> {
    let upstream = upstream_format(p);
    let passthrough = !needs_translation(call, upstream);
    let key = account_key(state, p, account).await?;
    let body = body_for(state, call, p, upstream, model);
    let (url, headers) = upstream_request(state, call, p, upstream, model, key.as_deref()).await?;
    let resp = send(state, p, &url, headers, body, t).await?;
    // Most answers carry no quota headers: look before collecting and parsing.
    if resp
        .headers
        .keys()
        .any(|k| crate::quota::headers::is_quota_header(k.as_str()))
    {
        state
            .router
            .observe_headers(p, &account.label, header_pairs(&resp.headers));
    }
    if resp.status.is_redirection() {
        let msg = upstream::redirect_message(&p.name, resp.status, &resp.headers);
        let tag = resp.status.as_u16().to_string();
        return Err(AttemptFailure::plain(
            Failure::Connect(msg.clone()),
            &tag,
            msg,
        ));
    }
    if !resp.status.is_success() {
        return Err(refusal(p, resp, key.as_deref()).await);
    }
    answer(p, resp, call, upstream, passthrough, model, t).await
}

/// The account's key from the keychain (cached), if it has one.
async fn account_key(
    state: &AppState,
    p: &Provider,
    account: &Account,
) -> Result<Option<String>, AttemptFailure> {
    let Some(entry) = &account.key_ref else {
        return Ok(None);
    };
    state.credentials.get(entry).await.map_err(|e| {
        AttemptFailure::plain(
            Failure::Connect(format!("keychain: {e}")),
            "keychain",
            format!(
                "cannot read the key of account {:?} of provider {:?}: {e}",
                account.label, p.name
            ),
        )
    })
}

/// The upstream URL and headers: the base URL (with its keychain credentials), the format's
/// path, the key where the provider wants it, and what the protocol requires besides (Kiro's
/// event-stream accept and target, Anthropic's version and betas).
async fn upstream_request(
    state: &AppState,
    call: &Call,
    p: &Provider,
    upstream: Format,
    model: &str,
    key: Option<&str>,
) -> Result<(String, HeaderMap), AttemptFailure> {
    let mut path = upstream.upstream_path(model, call.stream);
    if call.client == Format::Gemini && upstream == Format::Gemini && call.gemini_array {
        // Same format both ways: keep the client's own framing (a JSON array, not SSE).
        path = path.replace("?alt=sse", "");
    }
    let base = upstream::base_url(&state.credentials, p)
        .await
        .map_err(|m| AttemptFailure::plain(Failure::Connect(m.clone()), "keychain", m))?;
    let mut url = format!("{base}{path}");
    let mut headers = upstream::json_headers();
    upstream::apply_auth(&mut headers, &mut url, p, upstream, key)
        .map_err(|msg| AttemptFailure::plain(Failure::Connect(msg.clone()), "key", msg))?;
    if upstream == Format::Kiro {
        upstream::kiro_headers(&mut headers);
    }
    if upstream == Format::Messages {
        anthropic_headers(call, &mut headers);
    }
    Ok((url, headers))
}

/// Anthropic's version and betas: the client's own when it speaks Messages, plus the 1M-context
/// beta when the model asked for it.
fn anthropic_headers(call: &Call, headers: &mut HeaderMap) {
    let version = call
        .anthropic_version
        .clone()
        .filter(|_| call.client == Format::Messages)
        .unwrap_or(HeaderValue::from_static(DEFAULT_ANTHROPIC_VERSION));
    headers.insert("anthropic-version", version);
    let mut betas: Vec<&str> = Vec::new();
    if call.client == Format::Messages {
        betas.extend(call.anthropic_beta.as_deref());
    }
    if call.extended_context
        && !betas
            .iter()
            .any(|b| b.split(',').any(|v| v.trim() == CONTEXT_1M_BETA))
    {
        betas.push(CONTEXT_1M_BETA);
    }
    if !betas.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&betas.join(",")) {
            headers.insert("anthropic-beta", v);
        }
    }
}

/// Sends the request and waits for the response headers (bounded by the first-byte timeout).
async fn send(
    state: &AppState,
    p: &Provider,
    url: &str,
    headers: HeaderMap,
    body: Bytes,
    t: &Timeouts,
) -> Result<Answer, AttemptFailure> {
    match tokio::time::timeout(t.first_byte, state.http.post(url, headers, body)).await {
        Err(_) => Err(AttemptFailure::plain(
            Failure::OurTimeout,
            "timeout",
            format!(
                "provider {:?} sent no response headers within {} s",
                p.name,
                t.first_byte.as_secs_f32()
            ),
        )),
        Ok(Err(e)) => {
            let timeout = e.timeout;
            let msg = upstream::unreachable(&p.name, url, e).message;
            let failure = if timeout {
                Failure::OurTimeout
            } else {
                Failure::Connect(msg.clone())
            };
            Err(AttemptFailure::plain(failure, "connect", msg))
        }
        Ok(Ok(r)) => Ok(r),
    }
}

/// A non-2xx answer: its body (secrets masked) and what it says about when to retry.
async fn refusal(p: &Provider, resp: Answer, key: Option<&str>) -> AttemptFailure {
    let status = resp.status;
    let content_type = resp.headers.get(header::CONTENT_TYPE).cloned();
    let body = Bytes::from(
        upstream::read_limited(resp.body, ERROR_BODY_LIMIT)
            .await
            .unwrap_or_default(),
    );
    let body = upstream::mask_secrets(body, key);
    let text = upstream::error_text(&body);
    let retry_hint = crate::quota::hints::retry_hint(
        status.as_u16(),
        header_pairs(&resp.headers),
        &String::from_utf8_lossy(&body),
        crate::routing::now_unix(),
    );
    AttemptFailure {
        failure: Failure::Status {
            status: status.as_u16(),
            body: text.clone(),
        },
        status: Some(status),
        content_type,
        body,
        retry_hint,
        tag: status.as_u16().to_string(),
        message: format!("provider {:?} answered {status}: {text}", p.name),
    }
}

/// A 2xx answer: aggregated from a stream for a JSON client, read to its first content for a
/// streaming client (passthrough or translated), or read whole as JSON.
async fn answer(
    p: &Provider,
    resp: Answer,
    call: &Call,
    upstream: Format,
    passthrough: bool,
    model: &str,
    t: &Timeouts,
) -> Result<Committed, AttemptFailure> {
    let status = resp.status;
    let content_type = resp.headers.get(header::CONTENT_TYPE).cloned();
    let streamed = Framing::of_answer(
        upstream,
        content_type.as_ref().and_then(|v| v.to_str().ok()),
    );
    // How the request renamed tools for this upstream, to give the client its own names back.
    let names = call
        .ir
        .as_ref()
        .map(|r| formats::ToolNames::new(r, upstream))
        .unwrap_or_default();
    if let (Some(framing), false) = (streamed, call.stream) {
        // A stream-only upstream answering a client that wants one JSON answer.
        return aggregate(p, resp, upstream, framing, call.client, &names, t).await;
    }
    if streamed.is_some() || call.stream {
        // A stream request answered as plain JSON: Gemini's unframed stream is one JSON array
        // (docs/formats.md #32); anything else is read as SSE and judged by what it carries.
        let framing = streamed.unwrap_or(if upstream == Format::Gemini {
            Framing::JsonArray
        } else {
            Framing::Sse
        });
        let is_sse = framing == Framing::Sse && streamed.is_some();
        let kind = if passthrough {
            StreamKind::Passthrough {
                watch: Box::new(StreamWatch::new(upstream, framing)),
                is_sse,
            }
        } else if call.client == Format::Gemini && call.gemini_array {
            StreamKind::Translated(Box::new(
                StreamTranslator::with_encoder(
                    upstream,
                    Box::new(formats::gemini::GeminiStreamEncoder::new(model, true)),
                )
                .with_framing(framing)
                .with_tool_names(names),
            ))
        } else {
            let ir = call.ir.as_ref().expect("translated calls are decoded");
            StreamKind::Translated(Box::new(
                StreamTranslator::for_request(upstream, call.client, model, ir)
                    .with_framing(framing),
            ))
        };
        return ready(p, resp, kind, status, content_type, t).await;
    }
    json_answer(
        p,
        resp,
        upstream,
        call.client,
        passthrough,
        content_type,
        &names,
        t,
    )
    .await
}

impl StreamKind {
    /// Feeds upstream bytes; what the client will get of them is appended to `held`.
    fn feed_into(&mut self, bytes: Bytes, held: &mut Vec<Bytes>) {
        match self {
            StreamKind::Passthrough { watch, .. } => {
                watch.feed(&bytes);
                held.push(bytes);
            }
            StreamKind::Translated(tr) => {
                let out = tr.feed(&bytes);
                if !out.is_empty() {
                    held.push(Bytes::from(out));
                }
            }
        }
    }

    /// What the stream carried so far (a passthrough watch reads its last event when the
    /// stream `ended`), and whether the raw bytes are not SSE (a Gemini JSON array).
    fn seen(&mut self, ended: bool) -> (&formats::Seen, bool) {
        match self {
            StreamKind::Passthrough { watch, is_sse } => {
                if ended {
                    watch.end();
                }
                (&watch.seen, !*is_sse)
            }
            StreamKind::Translated(tr) => (&tr.seen, false),
        }
    }
}

/// Reads the stream until its first content; the held part and the rest become the answer.
async fn ready(
    p: &Provider,
    resp: Answer,
    mut kind: StreamKind,
    status: StatusCode,
    content_type: Option<HeaderValue>,
    t: &Timeouts,
) -> Result<Committed, AttemptFailure> {
    // The body ends for good once it ended (Coalesce), so it needs no fusing.
    let mut up = resp.body;
    let deadline = tokio::time::Instant::now() + t.readiness;
    let mut held: Vec<Bytes> = Vec::new();
    let mut held_len = 0usize;
    loop {
        let next = match tokio::time::timeout_at(deadline, up.next()).await {
            Err(_) => {
                return Err(AttemptFailure::plain(
                    Failure::OurTimeout,
                    "timeout",
                    format!(
                        "provider {:?} sent nothing useful within {} s",
                        p.name,
                        t.readiness.as_secs_f32()
                    ),
                ))
            }
            Ok(n) => n,
        };
        let ended = match next {
            Some(Ok(bytes)) => {
                held_len += bytes.len();
                kind.feed_into(bytes, &mut held);
                false
            }
            Some(Err(e)) => {
                let why = e.message;
                return Err(AttemptFailure::plain(
                    Failure::StreamError(why.clone()),
                    "stream",
                    format!(
                        "the stream from provider {:?} broke before any content: {why}",
                        p.name
                    ),
                ));
            }
            None => true,
        };
        let (seen, raw_non_sse) = kind.seen(ended);
        if !seen.content {
            if let Some(err) = stream_error(p, seen) {
                return Err(err);
            }
        }
        let some_bytes = held_len > 0;
        if seen.content || (raw_non_sse && some_bytes) || held_len > HOLD_LIMIT {
            return Ok(Committed::Stream {
                held,
                rest: up,
                kind,
                status,
                content_type,
            });
        }
        if ended {
            return Err(AttemptFailure::plain(
                Failure::EmptyResponse,
                "empty",
                format!("provider {:?} ended its stream without any content", p.name),
            ));
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn json_answer(
    p: &Provider,
    resp: Answer,
    upstream: Format,
    client: Format,
    passthrough: bool,
    content_type: Option<HeaderValue>,
    names: &formats::ToolNames,
    t: &Timeouts,
) -> Result<Committed, AttemptFailure> {
    let empty = |why: String| {
        AttemptFailure::plain(
            Failure::EmptyResponse,
            "empty",
            format!("provider {:?} {why}", p.name),
        )
    };
    let body = match tokio::time::timeout(
        t.total,
        upstream::read_limited(resp.body, upstream::RESPONSE_BODY_LIMIT),
    )
    .await
    {
        Err(_) => {
            return Err(AttemptFailure::plain(
                Failure::OurTimeout,
                "timeout",
                format!("provider {:?} did not finish its answer in time", p.name),
            ))
        }
        Ok(Err(e)) => {
            return Err(AttemptFailure::plain(
                Failure::StreamError(e.clone()),
                "stream",
                format!("reading the answer of provider {:?} failed: {e}", p.name),
            ))
        }
        Ok(Ok(b)) => b,
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(empty("answered 200 with an empty body".into()));
    }
    if passthrough {
        if let Some((says, usage)) = formats::summarise_answer(upstream, &body) {
            if !says {
                return Err(empty("answered 200 without any content".into()));
            }
            return Ok(Committed::Json {
                body: Bytes::from(body),
                content_type,
                usage,
            });
        }
    }
    let parsed: Value = serde_json::from_slice(&body)
        .map_err(|e| empty(format!("answered with invalid JSON: {e}")))?;
    let ir = formats::decode_response(upstream, &parsed)
        .map_err(|e| empty(format!("answered something unexpected: {e}")))?;
    let has_content = ir.says_something();
    if !has_content {
        return Err(empty("answered 200 without any content".into()));
    }
    let usage = ir.usage;
    let body = if passthrough {
        Bytes::from(body)
    } else {
        Bytes::from(
            serde_json::to_vec(&formats::encode_response_for(client, &ir, names))
                .map_err(|e| empty(e.to_string()))?,
        )
    };
    Ok(Committed::Json {
        body,
        content_type: if passthrough { content_type } else { None },
        usage,
    })
}

async fn aggregate(
    p: &Provider,
    resp: Answer,
    upstream: Format,
    framing: Framing,
    client: Format,
    names: &formats::ToolNames,
    t: &Timeouts,
) -> Result<Committed, AttemptFailure> {
    let mut agg = super::aggregate::Aggregator::new(upstream, framing);
    let mut up = resp.body;
    let read = tokio::time::timeout(t.total, async {
        while let Some(chunk) = up.next().await {
            agg.feed(&chunk.map_err(|e| e.message)?);
        }
        Ok::<_, String>(())
    })
    .await;
    match read {
        Err(_) => {
            return Err(AttemptFailure::plain(
                Failure::OurTimeout,
                "timeout",
                format!("provider {:?} did not finish its stream in time", p.name),
            ))
        }
        Ok(Err(e)) => {
            return Err(AttemptFailure::plain(
                Failure::StreamError(e.clone()),
                "stream",
                format!("the stream from provider {:?} broke: {e}", p.name),
            ))
        }
        Ok(Ok(())) => {}
    }
    let agg = agg.finish();
    let has_content = agg.response.says_something();
    if let (Some(err), false) = (stream_error(p, &agg.seen), has_content) {
        return Err(err);
    }
    if !has_content {
        return Err(AttemptFailure::plain(
            Failure::EmptyResponse,
            "empty",
            format!("provider {:?} streamed no content", p.name),
        ));
    }
    if agg.response.finish.is_none() {
        // A cut stream must not pass for a whole answer (docs/formats.md #21); nothing has reached
        // the client yet, so another target can still answer.
        let why = format!(
            "the stream from provider {:?} ended before it was complete",
            p.name
        );
        return Err(AttemptFailure::plain(
            Failure::StreamError(why.clone()),
            "stream",
            why,
        ));
    }
    let body = serde_json::to_vec(&formats::encode_response_for(client, &agg.response, names))
        .map_err(|e| AttemptFailure::plain(Failure::EmptyResponse, "empty", e.to_string()))?;
    Ok(Committed::Json {
        body: Bytes::from(body),
        content_type: None,
        usage: agg.response.usage,
    })
}

/// An error event before any content. When the upstream gave it a status (an AWS
/// `ThrottlingException` is a 429), it is judged like that status answered outright, so a rate
/// limit cools the account down instead of counting as a server fault.
fn stream_error(p: &Provider, seen: &formats::Seen) -> Option<AttemptFailure> {
    let err = seen.error.as_deref()?;
    let message = format!("provider {:?} reported an error: {err}", p.name);
    Some(match seen.error_status.filter(|s| (400..500).contains(s)) {
        Some(status) => AttemptFailure {
            failure: Failure::Status {
                status,
                body: err.to_string(),
            },
            status: StatusCode::from_u16(status).ok(),
            content_type: None,
            body: Bytes::from(
                serde_json::json!({"error": {"message": err, "type": "upstream_error"}})
                    .to_string(),
            ),
            retry_hint: None,
            tag: status.to_string(),
            message,
        },
        None => AttemptFailure::plain(
            Failure::StreamError(err.to_string()),
            "stream-error",
            message,
        ),
    })
}

/// Builds the per-request call from the client's headers and body.
pub fn client_headers(headers: &HeaderMap) -> (Option<HeaderValue>, Option<String>) {
    (
        headers.get("anthropic-version").cloned(),
        upstream::merged_beta(headers),
    )
}
