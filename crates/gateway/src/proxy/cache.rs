//! The exact-match response cache and the idempotency window (docs/routing.md §11), both bounded in
//! memory with `moka`.
//!
//! - Cache: off by default; only non-streaming requests with `temperature: 0`; bypassed with
//!   `X-Switchyard-No-Cache: true`; only complete successful answers are stored.
//! - Idempotency: a request with an `Idempotency-Key` seen in the last 5 s replays the stored
//!   answer (`X-Switchyard-Idempotent: replay`); a duplicate arriving while the first is still in
//!   flight waits for it instead of calling the upstream twice. Streamed answers are not stored:
//!   a duplicate of a stream waits for the first and is then served afresh.

use super::attempt::Committed;
use super::respond::{self, Ledger};
use crate::formats::Format;
use crate::routing::plan::Target;
use crate::state::AppState;
use crate::storage::Provider;
use crate::sync::MutexExt;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A complete answer kept for replay.
#[derive(Debug, Clone)]
pub struct Stored {
    pub body: Bytes,
    pub content_type: HeaderValue,
    pub provider: String,
    pub model: String,
    /// For an idempotent replay: the hash of the request body the answer belongs to.
    pub request_hash: Option<[u8; 32]>,
}

impl Stored {
    pub fn response(&self) -> Response {
        let mut r = Response::new(Body::from(self.body.clone()));
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, self.content_type.clone());
        h.insert("x-switchyard-cache", HeaderValue::from_static("HIT"));
        if let Ok(v) = HeaderValue::from_str(&self.provider) {
            h.insert("x-switchyard-provider", v);
        }
        if let Ok(v) = HeaderValue::from_str(&self.model) {
            h.insert("x-switchyard-model", v);
        }
        r
    }
}

pub type ResponseCache = moka::sync::Cache<String, Arc<Stored>>;

/// 100 entries, 4 MiB, 30 minutes (docs/routing.md §11).
pub fn new_cache() -> ResponseCache {
    moka::sync::Cache::builder()
        .max_capacity(4 * 1024 * 1024)
        .weigher(|_k: &String, v: &Arc<Stored>| (v.body.len() as u32).max(1))
        .time_to_live(Duration::from_secs(30 * 60))
        .build()
}

/// The cache key, when this request may use the cache (the caller checked that it is on).
/// It covers the client's protocol, its client key (one client never reads another's answers),
/// where the request would go (`route`) and the body without the fields that do not shape the
/// answer.
pub fn key_for(
    client: Format,
    key_id: Option<i64>,
    headers: &HeaderMap,
    body: &super::body::ClientBody,
    stream: bool,
    route: &str,
) -> Option<String> {
    if stream {
        return None;
    }
    let bypass = headers
        .get("x-switchyard-no-cache")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    if bypass {
        return None;
    }
    // A body a tree cannot hold is simply not cached.
    let json = body.tree().ok()?;
    let temperature = json
        .get("temperature")
        .or_else(|| json.pointer("/generationConfig/temperature"));
    if temperature.and_then(Value::as_f64) != Some(0.0) {
        return None;
    }
    let mut shaped = json.clone();
    if let Some(o) = shaped.as_object_mut() {
        for k in ["stream", "stream_options", "metadata", "user", "store"] {
            o.remove(k);
        }
    }
    let mut h = Sha256::new();
    h.update(client.as_str().as_bytes());
    h.update([0]);
    h.update(key_id.map_or(-1, |id| id).to_be_bytes());
    h.update(route.as_bytes());
    h.update([0]);
    // serde_json's maps are ordered, so equal bodies serialise equally.
    h.update(canonical(&shaped).as_bytes());
    Some(crate::storage::keys::hex(&h.finalize()))
}

/// JSON with object keys sorted at every level, whatever the map implementation keeps.
fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", Value::String((*k).clone()), canonical(&m[*k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// An `Idempotency-Key` as the table holds it: the header value scoped to the client's format
/// (the endpoint) and its client key, so one client's key never replays another's answer or an
/// answer in another protocol; and the hash of the body, so a reused key with a different
/// request is refused instead of answered with the first request's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idem {
    pub slot: String,
    pub body_hash: [u8; 32],
}

pub fn idempotency(
    headers: &HeaderMap,
    client: Format,
    key_id: Option<i64>,
    body: &[u8],
) -> Option<Idem> {
    let value = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 256)?;
    let key = key_id.map_or_else(|| "-".to_string(), |id| id.to_string());
    Some(Idem {
        slot: format!("{}\n{key}\n{value}", client.as_str()),
        body_hash: Sha256::digest(body).into(),
    })
}

/// Recently finished answers by idempotency key, and the keys still in flight.
pub struct IdempotencyTable {
    done: moka::sync::Cache<String, Arc<Stored>>,
    in_flight: Mutex<HashMap<String, tokio::sync::watch::Receiver<bool>>>,
}

pub enum Begin<'a> {
    Replay(Arc<Stored>),
    First(InFlight<'a>),
}

/// Held by the first request with a key; dropping it releases the duplicates waiting on it.
pub struct InFlight<'a> {
    table: &'a IdempotencyTable,
    key: String,
    _done: tokio::sync::watch::Sender<bool>,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.table.in_flight.lock_or_recover().remove(&self.key);
    }
}

impl Default for IdempotencyTable {
    fn default() -> Self {
        Self {
            done: moka::sync::Cache::builder()
                .max_capacity(1000)
                .time_to_live(Duration::from_secs(5))
                .build(),
            in_flight: Mutex::new(HashMap::new()),
        }
    }
}

impl IdempotencyTable {
    pub async fn begin(&self, key: &str) -> Begin<'_> {
        loop {
            if let Some(hit) = self.done.get(key) {
                return Begin::Replay(hit);
            }
            let waiting = {
                let mut m = self.in_flight.lock_or_recover();
                match m.get(key) {
                    Some(rx) => rx.clone(),
                    None => {
                        let (tx, rx) = tokio::sync::watch::channel(false);
                        m.insert(key.to_string(), rx);
                        return Begin::First(InFlight {
                            table: self,
                            key: key.to_string(),
                            _done: tx,
                        });
                    }
                }
            };
            let mut rx = waiting;
            // Returns when the first request's guard is dropped (sender gone).
            while rx.changed().await.is_ok() {}
        }
    }

    pub fn store(&self, key: String, s: Arc<Stored>) {
        self.done.insert(key, s);
    }
}

/// Responds with a committed answer and keeps a copy for the cache / idempotency window when it
/// is a complete JSON answer.
#[allow(clippy::too_many_arguments)]
pub async fn capture(
    state: &AppState,
    committed: Committed,
    cache_key: Option<String>,
    idem: Option<Idem>,
    p: &Provider,
    target: &Target,
    ledger: Ledger,
    idle: Duration,
) -> Response {
    if let Committed::Json {
        body,
        content_type,
        usage,
    } = &committed
    {
        let stored = Arc::new(Stored {
            body: body.clone(),
            content_type: content_type
                .clone()
                .unwrap_or(HeaderValue::from_static("application/json")),
            provider: p.name.clone(),
            model: target.model.clone(),
            request_hash: None,
        });
        let _ = usage;
        if let Some(k) = cache_key {
            state.cache.insert(k, stored.clone());
        }
        if let Some(k) = idem {
            let mut replay = (*stored).clone();
            replay.request_hash = Some(k.body_hash);
            state.idempotency.store(k.slot, Arc::new(replay));
        }
    }
    let client = ledger.client();
    respond::respond(
        committed,
        client,
        p.name.clone(),
        idle,
        state.config.keepalive,
        ledger,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_scoped_to_format_and_client_key() {
        let mut h = HeaderMap::new();
        h.insert("idempotency-key", HeaderValue::from_static("abc"));
        let chat = idempotency(&h, Format::Chat, Some(1), b"{}").unwrap();
        let messages = idempotency(&h, Format::Messages, Some(1), b"{}").unwrap();
        let other_key = idempotency(&h, Format::Chat, Some(2), b"{}").unwrap();
        let other_body = idempotency(&h, Format::Chat, Some(1), b"{\"a\":1}").unwrap();
        assert_ne!(chat.slot, messages.slot);
        assert_ne!(chat.slot, other_key.slot);
        assert_eq!(chat.slot, other_body.slot);
        assert_ne!(chat.body_hash, other_body.body_hash);
        assert!(idempotency(&HeaderMap::new(), Format::Chat, None, b"{}").is_none());
    }

    #[test]
    fn canonical_json_ignores_key_order() {
        let a: Value =
            serde_json::from_str(r#"{"b":1,"a":{"y":[1,{"q":2,"p":1}],"x":null}}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{"a":{"x":null,"y":[1,{"p":1,"q":2}]},"b":1}"#).unwrap();
        assert_eq!(canonical(&a), canonical(&b));
    }

    #[tokio::test]
    async fn duplicates_wait_for_the_first_then_replay() {
        let t = Arc::new(IdempotencyTable::default());
        let first = match t.begin("k").await {
            Begin::First(g) => g,
            Begin::Replay(_) => panic!("nothing stored yet"),
        };
        let t2 = t.clone();
        let waiter = tokio::spawn(async move { matches!(t2.begin("k").await, Begin::Replay(_)) });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiter.is_finished(),
            "the duplicate waits while the first is in flight"
        );
        t.store(
            "k".into(),
            Arc::new(Stored {
                body: Bytes::from_static(b"{}"),
                content_type: HeaderValue::from_static("application/json"),
                provider: "p".into(),
                model: "m".into(),
                request_hash: None,
            }),
        );
        drop(first);
        assert!(waiter.await.unwrap(), "then it replays the first's answer");
    }
}
