//! HTTP surface: client APIs (`/v1`), management API (`/api`), dashboard (`/`), and the guard
//! every request passes first.

pub mod accounts;
pub mod combos;
pub mod dashboard;
pub mod errors;
pub mod guard;
pub mod management;
pub mod openai;
pub mod paths;
pub mod tools;
pub mod usage;

use crate::server::AppState;
use axum::body::Body;
use axum::{middleware, routing::get, Json, Router};
use bytes::Bytes;
use errors::ApiError;
use std::sync::Arc;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/status", get(combos::status))
        .nest(
            "/api",
            management::router()
                .merge(combos::router())
                .merge(accounts::router())
                .merge(usage::router())
                .merge(tools::router()),
        )
        .merge(openai::router())
        .fallback(dashboard::fallback)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::host_origin_guard,
        ))
        .with_state(state)
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok", "version": crate::VERSION}))
}

/// Why a provider key cannot be stored, if it cannot: it travels in an HTTP header, which
/// carries visible ASCII only, and a key pasted from a web page may bring along a space, a line
/// break or a typographic character that would otherwise fail every request.
pub fn key_problem(key: &str) -> Option<&'static str> {
    if key.chars().any(char::is_whitespace) {
        Some("api_key must not contain spaces")
    } else if !key.bytes().all(|b| b.is_ascii_graphic()) {
        Some("api_key must be plain ASCII (letters, digits, symbols); it contains a character a key never has, often an invisible or typographic one picked up when copying it")
    } else {
        None
    }
}

/// Reads a request body up to `limit` bytes; larger bodies get a 413 in the client's format.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large {
            ApiError::too_large(limit)
        } else {
            ApiError::bad_request(
                "invalid_request",
                format!("could not read the request body: {e}"),
            )
        }
    })
}
