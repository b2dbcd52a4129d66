//! The client-facing model APIs under `/v1` and `/v1beta`: each handler reads what its format
//! puts outside the body, hands the request to the pipeline (`crate::proxy`), and renders any
//! refusal in that format's own error shape.

use crate::error::ApiError;
use crate::formats::Format;
use crate::proxy::{self, CallOverrides};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use std::sync::Arc;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/chat/completions", pipeline(Format::Chat))
        .route("/v1/responses", pipeline(Format::Responses))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/messages", pipeline(Format::Messages))
        .route("/v1/messages/count_tokens", post(count_tokens))
        .route("/v1/models", get(list_models))
        .route("/v1beta/models", get(list_gemini_models))
        .route("/v1beta/models/{*rest}", post(gemini))
        .route("/v1/models/{*rest}", post(gemini))
}

/// `POST` handler for a client format that keeps everything in the body: the pipeline, and any
/// refusal in that format's own error shape.
fn pipeline(client: Format) -> MethodRouter<Arc<AppState>> {
    post(
        move |State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body| async move {
            proxy::forward(state, client, headers, body, CallOverrides::default())
                .await
                .unwrap_or_else(|e| e.render(client))
        },
    )
}

async fn embeddings(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    proxy::embed(&state, &headers, body)
        .await
        .unwrap_or_else(|e| e.render(Format::Chat))
}

async fn count_tokens(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    proxy::count(&state, &headers, body)
        .await
        .unwrap_or_else(|e| e.render(Format::Messages))
}

/// `POST /v1beta/models/{model}:{method}` (also under `/v1/models/…`): Gemini clients put the
/// model and the streaming choice in the URL, and older ones the key in `?key=`.
async fn gemini(
    State(state): State<Arc<AppState>>,
    Path(rest): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some((model, method)) = rest.rsplit_once(':') else {
        return ApiError::not_found(
            "unsupported_endpoint",
            format!("expected models/{{model}}:generateContent, got models/{rest}"),
        )
        .render(Format::Gemini);
    };
    let model = model.trim_start_matches("models/").to_string();
    let q = query.as_deref().unwrap_or("");
    let sse = q.split('&').any(|kv| kv == "alt=sse");
    let query_key = super::guard::key_param(q).map(str::to_owned);
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        "countTokens" => {
            return proxy::gemini_count(&state, &headers, query_key.as_deref(), &model, body).await
        }
        other => {
            return ApiError::not_found(
                "unsupported_endpoint",
                format!(
                "method {other:?} is not supported; use generateContent or streamGenerateContent"
            ),
            )
            .render(Format::Gemini)
        }
    };
    let call = CallOverrides {
        model: Some(model),
        stream: Some(stream),
        gemini_array: stream && !sse,
        query_key,
    };
    proxy::forward(state, Format::Gemini, headers, body, call)
        .await
        .unwrap_or_else(|e| e.render(Format::Gemini))
}

/// Every `provider/model` the user configured, in the caller's shape: Anthropic clients (they
/// send `anthropic-version` or `x-api-key`) get Anthropic's list, everyone else OpenAI's.
async fn list_models(
    State(state): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
) -> Json<serde_json::Value> {
    if headers.contains_key("anthropic-version") || headers.contains_key("x-api-key") {
        let mut data: Vec<_> = routable_names(&state)
            .into_iter()
            .map(|(id, what)| {
                serde_json::json!({"id": id, "type": "model", "display_name": what,
                    "created_at": "1970-01-01T00:00:00Z"})
            })
            .collect();
        data.extend(state.providers().iter().flat_map(|p| {
            p.models.iter().map(move |m| {
                serde_json::json!({
                    "id": format!("{}/{}", p.name, m), "type": "model",
                    "display_name": format!("{m} ({})", p.name), "created_at": p.created_at,
                })
            })
        }));
        let first = data.first().map(|d| d["id"].clone());
        let last = data.last().map(|d| d["id"].clone());
        return Json(
            serde_json::json!({"data": data, "has_more": false, "first_id": first, "last_id": last}),
        );
    }
    let mut data: Vec<_> = routable_names(&state)
        .into_iter()
        .map(|(id, _)| {
            serde_json::json!({"id": id, "object": "model", "created": 0, "owned_by": "switchyard"})
        })
        .collect();
    data.extend(state.providers().iter().flat_map(|p| {
        p.models.iter().map(move |m| {
            serde_json::json!({
                "id": format!("{}/{}", p.name, m),
                "object": "model",
                "created": 0,
                "owned_by": p.name,
            })
        })
    }));
    // Exact aliases are model names clients can pick; wildcard patterns are not.
    data.extend(state.aliases().iter().filter(|a| !a.is_wildcard()).map(|a| {
        serde_json::json!({"id": a.pattern, "object": "model", "created": 0, "owned_by": "alias"})
    }));
    Json(serde_json::json!({"object": "list", "data": data}))
}

/// The names that route through Switchyard's own logic, first in the list so that tools with a
/// model picker offer them: the active-combo alias (while a combo is active) and every combo.
fn routable_names(state: &AppState) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(active) = state.router.active() {
        out.push((
            state.router.active_alias(),
            format!("the active combo (now {active})"),
        ));
    }
    out.extend(
        state
            .router
            .combos()
            .iter()
            .map(|c| (c.name.clone(), format!("combo {}", c.name))),
    );
    out
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
