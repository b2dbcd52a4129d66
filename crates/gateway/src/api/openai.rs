//! Client-facing endpoints (OpenAI Chat, Anthropic Messages) and the model list.

use crate::proxy;
use crate::server::AppState;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/chat/completions", post(proxy::chat_completions))
        .route("/v1/responses", post(proxy::responses))
        .route("/v1/embeddings", post(proxy::embeddings))
        .route("/v1/messages", post(proxy::messages))
        .route("/v1/messages/count_tokens", post(proxy::count_tokens))
        .route("/v1/models", get(list_models))
        .route("/v1beta/models", get(list_gemini_models))
        .route("/v1beta/models/{*rest}", post(proxy::gemini))
        .route("/v1/models/{*rest}", post(proxy::gemini))
}

/// Every `provider/model` the user configured, in the caller's shape: Anthropic clients (they
/// send `anthropic-version` or `x-api-key`) get Anthropic's list, everyone else OpenAI's.
async fn list_models(
    State(state): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
) -> Json<serde_json::Value> {
    if headers.contains_key("anthropic-version") || headers.contains_key("x-api-key") {
        let data: Vec<_> = state
            .providers()
            .iter()
            .flat_map(|p| {
                p.models.iter().map(move |m| {
                    serde_json::json!({
                        "id": format!("{}/{}", p.name, m), "type": "model",
                        "display_name": format!("{m} ({})", p.name), "created_at": p.created_at,
                    })
                })
            })
            .collect();
        let first = data.first().map(|d| d["id"].clone());
        let last = data.last().map(|d| d["id"].clone());
        return Json(
            serde_json::json!({"data": data, "has_more": false, "first_id": first, "last_id": last}),
        );
    }
    let mut data: Vec<_> = state
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
    // Exact aliases are model names clients can pick; wildcard patterns are not.
    data.extend(state.aliases().iter().filter(|a| !a.is_wildcard()).map(|a| {
        serde_json::json!({"id": a.pattern, "object": "model", "created": 0, "owned_by": "alias"})
    }));
    Json(serde_json::json!({"object": "list", "data": data}))
}

/// `GET /v1beta/models`: the same models in Gemini's list shape.
async fn list_gemini_models(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let models: Vec<_> = state
        .providers()
        .iter()
        .flat_map(|p| {
            p.models.iter().map(move |m| {
                serde_json::json!({
                    "name": format!("models/{}/{}", p.name, m),
                    "displayName": format!("{m} ({})", p.name),
                    "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
                })
            })
        })
        .collect();
    Json(serde_json::json!({"models": models}))
}
