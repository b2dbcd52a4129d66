//! HTTP surface: client APIs (`/v1`), management API (`/api`), dashboard (`/`), and the guard
//! every request passes first.

pub mod accounts;
pub mod combos;
pub mod dashboard;
pub mod guard;
pub mod json;
pub mod management;
pub mod paths;
pub mod tools;
pub mod usage;
pub mod v1;

use crate::state::AppState;
use axum::{middleware, routing::get, Json, Router};
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
        .merge(v1::router())
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

pub use crate::error::read_body;
