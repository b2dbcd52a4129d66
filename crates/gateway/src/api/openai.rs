//! OpenAI-compatible client endpoints.

use crate::proxy;
use crate::server::AppState;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/chat/completions", post(proxy::chat_completions))
        .route("/v1/messages", post(proxy::messages))
        .route("/v1/models", get(list_models))
}

/// Every `provider/model` the user configured.
async fn list_models(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let data: Vec<_> = state
        .providers()
        .iter()
        .flat_map(|p| {
            p.models.iter().map(move |m| {
                serde_json::json!({
                    "id": format!("{}/{}", p.name, m),
                    "object": "model",
                    "created": 0,
                    "owned_by": p.name,
                })
            })
        })
        .collect();
    Json(serde_json::json!({"object": "list", "data": data}))
}
