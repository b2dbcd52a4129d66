//! The request path: a client request in any of the four formats becomes a routing plan (one
//! target, or a combo's ordered targets), then upstream attempts until one commits.
//!
//! Same format on both sides: the body passes through with only `model` rewritten and the
//! account's key attached, and the response bytes are streamed as they arrive. Different formats:
//! the request is decoded into the IR and encoded for the upstream; the response stream is
//! translated event by event (nothing waits for the end).
//!
//! `pipeline` runs the phases of one request, `failover` keeps its bookkeeping, `attempt` is one
//! upstream try up to the readiness point, `respond` streams a committed answer and records it,
//! `single` serves the endpoints with one call and no failover (embeddings, token counts).

mod aggregate;
mod attempt;
mod body;
mod cache;
mod client_key;
mod coalesce;
mod failover;
mod pipeline;
mod respond;
mod single;
pub mod transport;
pub mod upstream;

pub use cache::{new_cache as cache_new, IdempotencyTable, ResponseCache};
pub use pipeline::{forward, CallOverrides};
pub use single::{count, embed, gemini_count};
pub use upstream::DEFAULT_ANTHROPIC_VERSION;

use crate::state::AppState;
use axum::http::HeaderMap;

/// The key a client sent, from wherever it put it (for the guard).
pub fn presented_key<'a>(headers: &'a HeaderMap, query_key: Option<&'a str>) -> Option<&'a str> {
    client_key::presented(headers, query_key)
}

/// The client key a request carries, if it is one of ours (for `/status`).
pub fn client_key_of(
    state: &AppState,
    headers: &HeaderMap,
) -> Option<crate::storage::keys::ClientKey> {
    client_key::presented(headers, None)
        .and_then(|k| state.client_key(&crate::storage::keys::hash(k)))
}
