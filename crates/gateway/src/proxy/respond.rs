//! Turning a committed upstream answer into the client's response, and the request's ledger
//! entry (usage row) that is written whatever happens: success, failure, or the client leaving.

use super::attempt::{Committed, StreamKind};
use crate::formats::{self, ir, Format, StreamTranslator, StreamWatch};
use crate::state::AppState;
use crate::storage::usage::UsageRow;
use axum::body::Body;
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream::StreamExt;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_types::Outcome;

/// The request's row in the usage log. Recorded exactly once: by [`Ledger::finish`], or when
/// dropped unfinished (the client went away: `client_closed`, 499).
pub struct Ledger {
    state: Arc<AppState>,
    /// The protocol the client speaks (the row keeps its name).
    client: Format,
    pub row: UsageRow,
    started: Instant,
    usage: ir::Usage,
    done: bool,
    /// The account's concurrency slot, held until the answer is finished.
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Ledger {
    pub fn new(state: Arc<AppState>, client: Format, stream: bool) -> Self {
        Self {
            state,
            client,
            row: UsageRow {
                ts_ms: crate::clock::now_ms(),
                client_format: client.as_str().into(),
                stream,
                status: 499,
                outcome: Outcome::ClientClosed,
                ..Default::default()
            },
            started: Instant::now(),
            usage: ir::Usage::default(),
            done: false,
            permit: None,
        }
    }

    /// Keeps an account's concurrency slot for as long as this request lives (replacing the
    /// slot of an earlier, failed attempt).
    pub fn hold(&mut self, permit: Option<tokio::sync::OwnedSemaphorePermit>) {
        self.permit = permit;
    }

    pub fn client(&self) -> Format {
        self.client
    }

    pub fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    pub fn mark_first_token(&mut self) {
        self.row.ttft_ms = Some(self.elapsed_ms());
    }

    pub fn usage(&mut self, u: &ir::Usage) {
        self.usage.merge(u);
    }

    /// Hands the unfinished row to whoever carries the answer on (the response body), leaving
    /// a finished placeholder here so nothing is recorded twice.
    pub fn take(&mut self) -> Ledger {
        let placeholder = Ledger {
            state: self.state.clone(),
            client: self.client,
            row: UsageRow::default(),
            started: self.started,
            usage: ir::Usage::default(),
            done: true,
            permit: None,
        };
        std::mem::replace(self, placeholder)
    }

    pub fn finish(&mut self, outcome: Outcome, status: u16) {
        self.row.outcome = outcome;
        self.row.status = status;
        self.record();
    }

    fn record(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        let r = &mut self.row;
        r.latency_ms = self.started.elapsed().as_millis() as u64;
        let u = self.usage;
        r.input_tokens = u.input;
        r.output_tokens = u.output;
        r.cache_read = u.cache_read;
        r.cache_write = u.cache_write;
        r.reasoning = u.reasoning;
        if let (Some(p), Some(m)) = (&r.provider, &r.model) {
            if u != ir::Usage::default() {
                r.cost_usd = self.state.prices().cost(p, m, &u);
            }
        }
        self.state.recorder.record(std::mem::take(&mut self.row));
        self.permit = None;
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.record();
    }
}

/// The client response for a committed answer.
pub fn respond(
    c: Committed,
    client: Format,
    provider: String,
    idle: Duration,
    keepalive: Duration,
    mut ledger: Ledger,
) -> Response {
    match c {
        Committed::Json {
            body,
            content_type,
            usage,
        } => {
            ledger.usage(&usage);
            ledger.finish(Outcome::Ok, 200);
            let mut resp = Response::new(Body::from(body));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                content_type.unwrap_or(HeaderValue::from_static("application/json")),
            );
            resp
        }
        Committed::Stream {
            held,
            rest,
            kind,
            status,
            content_type,
        } => match kind {
            StreamKind::Passthrough { watch, is_sse } => {
                let s = passthrough(
                    held.into(),
                    rest,
                    *watch,
                    is_sse,
                    client,
                    provider,
                    idle,
                    ledger,
                );
                let mut resp = Response::new(Body::from_stream(s));
                *resp.status_mut() = status;
                let h = resp.headers_mut();
                if let Some(ct) = content_type {
                    h.insert(header::CONTENT_TYPE, ct);
                }
                if is_sse {
                    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
                }
                resp
            }
            StreamKind::Translated(tr) => sse_response(translate(
                held.into(),
                rest,
                *tr,
                provider,
                keepalive,
                idle,
                ledger,
            )),
        },
    }
}

struct Pass {
    held: VecDeque<Bytes>,
    up: super::transport::BodyStream,
    watch: StreamWatch,
    ledger: Ledger,
}

impl Pass {
    /// The stream is over: its usage so far goes into the row, which is recorded.
    fn close(&mut self, outcome: Outcome, status: u16) {
        self.ledger.usage(&self.watch.seen.usage);
        self.ledger.finish(outcome, status);
    }
}

#[allow(clippy::too_many_arguments)]
fn passthrough(
    held: VecDeque<Bytes>,
    up: super::transport::BodyStream,
    watch: StreamWatch,
    is_sse: bool,
    client: Format,
    provider: String,
    idle: Duration,
    ledger: Ledger,
) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> + Send {
    let provider: std::sync::Arc<str> = provider.into();
    let fail = move |msg: String| -> Bytes {
        let mut enc = formats::stream_encoder(client, "", false);
        Bytes::from(enc.encode(&ir::Event::Error {
            status: 502,
            message: msg,
        }))
    };
    futures_util::stream::unfold(
        Some(Pass {
            held,
            up,
            watch,
            ledger,
        }),
        move |st| {
            // A reference count per chunk, not a string copy.
            let provider = provider.clone();
            async move {
                let mut st = st?;
                if let Some(b) = st.held.pop_front() {
                    return Some((Ok(b), Some(st)));
                }
                match tokio::time::timeout(idle, st.up.next()).await {
                    Ok(Some(Ok(b))) => {
                        st.watch.feed(&b);
                        if let Some(why) = st.watch.broken().map(str::to_owned) {
                            // An event too large to read: end the line it was in, then say why.
                            tracing::warn!(provider = %provider, "{why}");
                            st.close(Outcome::StreamError, 502);
                            let mut out = b"\n\n".to_vec();
                            out.extend_from_slice(&fail(why));
                            return is_sse.then(|| (Ok(Bytes::from(out)), None));
                        }
                        Some((Ok(b), Some(st)))
                    }
                    Ok(None) => {
                        st.watch.end();
                        st.close(Outcome::Ok, 200);
                        None
                    }
                    Ok(Some(Err(e))) => {
                        let why = e.message;
                        tracing::warn!(provider = %provider, "upstream stream broke: {why}");
                        st.close(Outcome::StreamError, 502);
                        let msg = format!("the stream from provider {provider:?} broke: {why}");
                        is_sse.then(|| (Ok(fail(msg)), None))
                    }
                    Err(_) => {
                        st.ledger.finish(Outcome::StreamError, 504);
                        let msg = format!(
                            "provider {provider:?} went silent for {} s mid-stream",
                            idle.as_secs()
                        );
                        is_sse.then(|| (Ok(fail(msg)), None))
                    }
                }
            }
        },
    )
}

/// A stream the client dropped early still consumed tokens: count what was seen.
impl Drop for Pass {
    fn drop(&mut self) {
        let u = self.watch.seen.usage;
        self.ledger.usage(&u);
    }
}

impl Drop for Trans {
    fn drop(&mut self) {
        let u = self.tr.seen.usage;
        self.ledger.usage(&u);
    }
}

struct Trans {
    held: VecDeque<Bytes>,
    up: super::transport::BodyStream,
    tr: StreamTranslator,
    ledger: Ledger,
    last_event: tokio::time::Instant,
}

impl Trans {
    /// The stream is over: its usage so far goes into the row, which is recorded.
    fn close(&mut self, outcome: Outcome, status: u16) {
        self.ledger.usage(&self.tr.seen.usage);
        self.ledger.finish(outcome, status);
    }
}

fn translate(
    held: VecDeque<Bytes>,
    up: super::transport::BodyStream,
    tr: StreamTranslator,
    provider: String,
    keepalive: Duration,
    idle: Duration,
    ledger: Ledger,
) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> + Send {
    let provider: std::sync::Arc<str> = provider.into();
    futures_util::stream::unfold(
        Some(Trans {
            held,
            up,
            tr,
            ledger,
            last_event: tokio::time::Instant::now(),
        }),
        move |st| {
            // A reference count per chunk, not a string copy.
            let provider = provider.clone();
            async move {
                let mut st = st?;
                if let Some(b) = st.held.pop_front() {
                    return Some((Ok(b), Some(st)));
                }
                loop {
                    let next = match tokio::time::timeout(keepalive, st.up.next()).await {
                        Ok(next) => next,
                        Err(_) => {
                            if st.last_event.elapsed() >= idle {
                                let out = st.tr.fail(format!(
                                    "provider {provider:?} went silent for {} s mid-stream",
                                    idle.as_secs()
                                ));
                                st.ledger.finish(Outcome::StreamError, 504);
                                return Some((Ok(Bytes::from(out)), None));
                            }
                            // Upstream silence (a model thinking): keep the client's connection alive.
                            let out = st.tr.keepalive();
                            if out.is_empty() {
                                continue;
                            }
                            return Some((Ok(Bytes::from(out)), Some(st)));
                        }
                    };
                    st.last_event = tokio::time::Instant::now();
                    match next {
                        Some(Ok(bytes)) => {
                            let out = st.tr.feed(&bytes);
                            if st.tr.broken() {
                                st.close(Outcome::StreamError, 502);
                                return Some((Ok(Bytes::from(out)), None));
                            }
                            if !out.is_empty() {
                                return Some((Ok(Bytes::from(out)), Some(st)));
                            }
                        }
                        Some(Err(e)) => {
                            let why = e.message;
                            tracing::warn!(provider = %provider, "upstream stream broke: {why}");
                            let out = st.tr.fail(format!(
                                "the stream from provider {provider:?} broke: {why}"
                            ));
                            st.close(Outcome::StreamError, 502);
                            return Some((Ok(Bytes::from(out)), None));
                        }
                        None => {
                            let out = st.tr.end(&provider);
                            let clean = st.tr.seen.finished && st.tr.seen.error.is_none();
                            if clean {
                                st.close(Outcome::Ok, 200);
                            } else {
                                st.close(Outcome::StreamError, 502);
                            }
                            return (!out.is_empty()).then(|| (Ok(Bytes::from(out)), None));
                        }
                    }
                }
            }
        },
    )
}

pub fn sse_response(
    stream: impl futures_util::Stream<Item = Result<Bytes, Infallible>> + Send + 'static,
) -> Response {
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

/// Diagnostics headers (docs/api-surface.md §4): never a secret, an account label at most.
pub fn diagnostics(resp: &mut Response, pairs: Vec<(HeaderName, String)>) {
    for (k, v) in pairs {
        if let Ok(v) = HeaderValue::try_from(v) {
            resp.headers_mut().insert(k, v);
        }
    }
}

/// The diagnostic headers' names, built at compile time (a name given as text is parsed again
/// on every insert).
pub mod diag {
    use axum::http::HeaderName;
    pub const PROVIDER: HeaderName = HeaderName::from_static("x-switchyard-provider");
    pub const ACCOUNT: HeaderName = HeaderName::from_static("x-switchyard-account");
    pub const MODEL: HeaderName = HeaderName::from_static("x-switchyard-model");
    pub const ATTEMPTS: HeaderName = HeaderName::from_static("x-switchyard-attempts");
    pub const LATENCY: HeaderName = HeaderName::from_static("x-switchyard-latency-ms");
    pub const COMBO: HeaderName = HeaderName::from_static("x-switchyard-combo");
    pub const FALLBACK: HeaderName = HeaderName::from_static("x-switchyard-fallback");
    pub const CACHE: HeaderName = HeaderName::from_static("x-switchyard-cache");
}
