//! The guard in front of every route. A web page the user visits must not reach their
//! subscriptions or the management API through localhost:
//! - `Host` must be a loopback name (defeats DNS rebinding: evil.example resolving to 127.0.0.1),
//! - a browser `Origin` must be our own (CLIs and SDKs send none),
//! - mutating management calls need `X-Switchyard-Admin: 1`, which a cross-site page cannot send
//!   without a CORS preflight, and we answer no preflight,
//! - when the gateway binds beyond loopback, requests from other machines need credentials: the
//!   admin token for `/api` and `/status`, a valid client key for the model APIs.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

pub const ADMIN_HEADER: &str = "x-switchyard-admin";

const LOOPBACK_NAMES: [&str; 3] = ["127.0.0.1", "localhost", "[::1]"];

/// The host name part of a `Host` header value (`[::1]:80` → `[::1]`, `a:1` → `a`).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map(|i| &host[..=i]).unwrap_or(host);
    }
    host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
}

pub fn host_allowed(host: &str, extra: &[String]) -> bool {
    let name = host_name(host).to_ascii_lowercase();
    LOOPBACK_NAMES.contains(&name.as_str()) || extra.iter().any(|e| e.eq_ignore_ascii_case(&name))
}

pub async fn host_origin_guard(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    let Some(host) = host else {
        return ApiError::forbidden("forbidden_host", "request has no Host header").into_response();
    };
    if !host_allowed(&host, &state.config.allowed_hosts) {
        return ApiError::forbidden(
            "forbidden_host",
            format!(
                "Host {host:?} is not allowed: Switchyard only answers requests addressed to 127.0.0.1, localhost or [::1]"
            ),
        )
        .into_response();
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let ours = format!("http://{host}");
        let same = origin.to_str().is_ok_and(|o| o.eq_ignore_ascii_case(&ours));
        if !same {
            return ApiError::forbidden(
                "forbidden_origin",
                format!(
                    "requests from web origin {:?} are refused; only the Switchyard dashboard ({ours}) may call this gateway from a browser",
                    origin.to_str().unwrap_or("<non-ascii>")
                ),
            )
            .into_response();
        }
    }
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(ip) = peer.filter(|ip| !ip.is_loopback()) {
        if let Err(e) = remote_credentials(&state, req.uri().path(), headers, req.uri().query()) {
            return e;
        }
        tracing::debug!(%ip, "remote request with credentials");
    }
    let mutating = !matches!(*req.method(), Method::GET | Method::HEAD);
    if mutating
        && req.uri().path().starts_with("/api/")
        && headers.get(ADMIN_HEADER).and_then(|v| v.to_str().ok()) != Some("1")
    {
        return ApiError::forbidden(
            "admin_header_required",
            "management calls that change state need the header `X-Switchyard-Admin: 1`",
        )
        .into_response();
    }
    let management = req.uri().path().starts_with("/api/");
    let model_api = req.uri().path().starts_with("/v1");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if management {
        // Management answers describe live state; never let a browser cache reuse them.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if !model_api {
        // No site may frame the dashboard: a framed Delete or Pause button can be clicked for
        // the user by a page laid over it (clickjacking).
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        );
    }
    resp
}

/// Compares a presented secret with ours in time that does not depend on where they differ.
pub fn same_secret(presented: &str, ours: &str) -> bool {
    let (a, b) = (presented.as_bytes(), ours.as_bytes());
    let diff = a
        .iter()
        .zip(b)
        .fold(a.len() ^ b.len(), |acc, (x, y)| acc | usize::from(x ^ y));
    diff == 0
}

/// The client key a request carries in its query string, only where the request's format puts
/// it there (Gemini's `?key=`). Everywhere else a `?key=` is not a credential: honouring it in
/// the guard but not in the pipeline let a remote client past the guard without its budget.
pub fn query_key<'a>(path: &str, query: Option<&'a str>) -> Option<&'a str> {
    let gemini = path.starts_with("/v1beta/") || path.contains("/models/") && path.contains(':');
    query.filter(|_| gemini).and_then(key_param)
}

/// The `key=` parameter of a query string (Gemini's place for an API key).
pub fn key_param(query: &str) -> Option<&str> {
    query.split('&').find_map(|kv| kv.strip_prefix("key="))
}

/// Which credentials a request from another machine must carry (none are needed on loopback).
#[derive(Debug, PartialEq, Eq)]
pub enum RemoteNeed {
    AdminToken,
    ClientKey,
    /// The dashboard's static files and `/health`.
    Nothing,
}

pub fn remote_need(path: &str) -> RemoteNeed {
    if path.starts_with("/api/") || path == "/api" || path == "/status" {
        RemoteNeed::AdminToken
    } else if path == "/health" || !(path.starts_with("/v1") || path.contains("/v1")) {
        RemoteNeed::Nothing
    } else {
        RemoteNeed::ClientKey
    }
}

#[allow(clippy::result_large_err)]
fn remote_credentials(
    state: &AppState,
    path: &str,
    headers: &axum::http::HeaderMap,
    query: Option<&str>,
) -> Result<(), Response> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match remote_need(path) {
        RemoteNeed::Nothing => Ok(()),
        RemoteNeed::AdminToken => {
            if bearer.is_some_and(|b| same_secret(b, &state.admin_token)) {
                Ok(())
            } else {
                Err(ApiError::new(
                    axum::http::StatusCode::UNAUTHORIZED,
                    "admin_token_required",
                    "the management API answers other machines only with `Authorization: Bearer <admin token>` (printed by `switchyard serve` at start)",
                )
                .into_response())
            }
        }
        RemoteNeed::ClientKey => {
            let sent = crate::proxy::presented_key(headers, query_key(path, query));
            if sent.is_some_and(|k| state.client_key(&crate::storage::keys::hash(k)).is_some()) {
                return Ok(());
            }
            let format = if path.contains("/messages") {
                crate::formats::Format::Messages
            } else if path.contains("/v1beta") || path.contains(":generateContent") {
                crate::formats::Format::Gemini
            } else {
                crate::formats::Format::Chat
            };
            Err(ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "invalid_api_key",
                "requests from other machines need a Switchyard client key (create one in the dashboard under Keys)",
            )
            .render(format))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn remote_requests_need_credentials_by_path() {
        use super::{remote_need, RemoteNeed::*};
        assert_eq!(remote_need("/api/providers"), AdminToken);
        assert_eq!(remote_need("/status"), AdminToken);
        assert_eq!(remote_need("/v1/chat/completions"), ClientKey);
        assert_eq!(remote_need("/v1beta/models/x:generateContent"), ClientKey);
        assert_eq!(remote_need("/codex/v1/responses"), ClientKey);
        assert_eq!(remote_need("/health"), Nothing);
        assert_eq!(remote_need("/"), Nothing);
        assert_eq!(remote_need("/assets/app.wasm"), Nothing);
    }

    use super::*;

    #[test]
    fn a_query_key_counts_only_where_gemini_puts_it() {
        assert_eq!(query_key("/v1/chat/completions", Some("key=sy-1")), None);
        assert_eq!(query_key("/v1/messages", Some("a=1&key=sy-1")), None);
        assert_eq!(
            query_key("/v1beta/models/m:generateContent", Some("alt=sse&key=sy-1")),
            Some("sy-1")
        );
        assert_eq!(
            query_key("/v1/models/m:streamGenerateContent", Some("key=sy-2")),
            Some("sy-2")
        );
        assert_eq!(query_key("/v1beta/models/m:generateContent", None), None);
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("admin-abc", "admin-abc"));
        assert!(!same_secret("admin-abd", "admin-abc"));
        assert!(!same_secret("admin-ab", "admin-abc"));
        assert!(!same_secret("", "admin-abc"));
    }

    #[test]
    fn host_names_are_parsed_and_checked() {
        assert!(host_allowed("127.0.0.1:20128", &[]));
        assert!(host_allowed("localhost", &[]));
        assert!(host_allowed("LOCALHOST:1", &[]));
        assert!(host_allowed("[::1]:20128", &[]));
        assert!(!host_allowed("evil.example", &[]));
        assert!(!host_allowed("127.0.0.1.evil.example:20128", &[]));
        assert!(!host_allowed("[::2]:1", &[]));
        assert!(host_allowed("box.lan:20128", &["box.lan".into()]));
    }
}
