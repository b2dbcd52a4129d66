//! Management API under `/api` (dashboard backend; the tray uses the same state in-process).

use super::json::JsonBody;
use crate::admin::{self, providers::AddProvider};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::ProviderView;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;

use crate::admin::{blocking, storage_error};

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/health", get(health))
        .route("/providers", get(list_providers).post(add_provider))
        .route("/catalog", get(catalog))
        .route("/aliases", get(list_aliases).post(add_alias))
        .route(
            "/provider-models",
            get(list_provider_models).post(add_provider_model),
        )
        .route(
            "/provider-models/{provider}/{*model}",
            delete(delete_provider_model),
        )
        .route("/aliases/{pattern}", delete(delete_alias))
        .route("/providers/{name}", delete(delete_provider))
        .fallback(|| async {
            ApiError::not_found("unsupported_endpoint", "no such management endpoint")
        })
}

async fn health(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "version": crate::VERSION,
        "listen": state.local_addr.to_string(),
        "data_dir": state.config.data_dir.display().to_string(),
        "providers": state.providers().len(),
        "keychain": state.credentials.status(),
        "catalog": {"providers": state.catalog.len(), "error": state.catalog_error},
    }))
}

async fn add_provider(
    State(state): State<Arc<AppState>>,
    JsonBody(req): JsonBody<AddProvider>,
) -> Result<Response, ApiError> {
    let provider = admin::providers::add(&state, req).await?;
    Ok((StatusCode::CREATED, Json(ProviderView::from(&provider))).into_response())
}

async fn delete_provider(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    admin::providers::delete(&state, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_providers(State(state): State<Arc<AppState>>) -> Json<Vec<ProviderView>> {
    Json(state.providers().iter().map(ProviderView::from).collect())
}

/// The provider catalog, for the dashboard's "add provider" picker.
async fn catalog(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let list: Vec<_> = state
        .catalog
        .iter()
        .map(|p| {
            serde_json::json!({
                "id": p.id, "name": p.name, "alias": p.alias, "format": p.format,
                "base_url": p.base_url, "auth": p.auth, "models": p.models,
                "needs": p.placeholders(), "free": p.free,
            })
        })
        .collect();
    Json(serde_json::json!(list))
}

async fn list_aliases(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(serde_json::json!(state.aliases().as_slice()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddAlias {
    pattern: String,
    target: String,
}

/// `POST /api/aliases {"pattern": "claude-*", "target": "oai/gpt-4o"}`: the target must resolve
/// now, so a typo is caught here rather than at the client's next request.
async fn add_alias(
    State(state): State<Arc<AppState>>,
    JsonBody(req): JsonBody<AddAlias>,
) -> Result<Response, ApiError> {
    let pattern = req.pattern.trim().to_string();
    let target = req.target.trim().to_string();
    if pattern.is_empty()
        || pattern.len() > 128
        || pattern.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("alias pattern {:?} must be 1-128 characters without spaces (`*` and `?` are wildcards)", req.pattern),
        ));
    }
    let providers = state.providers();
    let is_combo = state.router.combos().iter().any(|c| c.name == target);
    if !is_combo {
        crate::routing::plan::resolve_model(&providers, &[], &target).map_err(|e| {
            ApiError::bad_request(
                "invalid_request",
                format!("alias target does not resolve: {}", e.message),
            )
        })?;
    }
    let _serial = state.mutations.lock().await;
    let db = state.db.clone();
    let (p, t) = (pattern.clone(), target.clone());
    blocking(move || db.insert_alias(&p, &t)).await?;
    state
        .off_thread(|s| s.reload_aliases())
        .await
        .map_err(storage_error)?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"pattern": pattern, "target": target})),
    )
        .into_response())
}

async fn delete_alias(
    State(state): State<Arc<AppState>>,
    Path(pattern): Path<String>,
) -> Result<StatusCode, ApiError> {
    let _serial = state.mutations.lock().await;
    let db = state.db.clone();
    let p = pattern.clone();
    if !blocking(move || db.delete_alias(&p)).await? {
        return Err(ApiError::not_found(
            "alias_not_found",
            format!("no alias {pattern:?}"),
        ));
    }
    state
        .off_thread(|s| s.reload_aliases())
        .await
        .map_err(storage_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/provider-models`: every `provider/model` id the gateway knows.
async fn list_provider_models(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let list: Vec<_> = state
        .providers()
        .iter()
        .flat_map(|p| {
            p.models.iter().map(move |m| {
                serde_json::json!({"provider": p.name, "model": m, "id": format!("{}/{}", p.name, m)})
            })
        })
        .collect();
    Json(serde_json::json!(list))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddModel {
    provider: String,
    model: String,
}

/// `POST /api/provider-models {"provider","model"}`: a custom model id for a provider (a new
/// model the catalog does not know yet, a fine-tune, a local model).
async fn add_provider_model(
    State(state): State<Arc<AppState>>,
    JsonBody(req): JsonBody<AddModel>,
) -> Result<Response, ApiError> {
    let model = req.model.trim().to_string();
    if model.is_empty() || model.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("model id {:?} must be non-empty without spaces", req.model),
        ));
    }
    change_models(&state, &req.provider, |models| {
        if models.contains(&model) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "model_exists",
                format!("{}/{model} is already listed", req.provider),
            ));
        }
        models.push(model.clone());
        Ok(())
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"provider": req.provider, "model": model})),
    )
        .into_response())
}

async fn delete_provider_model(
    State(state): State<Arc<AppState>>,
    Path((provider, model)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    change_models(&state, &provider, |models| {
        let before = models.len();
        models.retain(|m| *m != model);
        if models.len() == before {
            return Err(ApiError::not_found(
                "model_not_found",
                format!("{provider}/{model} is not listed"),
            ));
        }
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn change_models(
    state: &Arc<AppState>,
    provider: &str,
    edit: impl FnOnce(&mut Vec<String>) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let _serial = state.mutations.lock().await;
    let mut models = state
        .providers()
        .iter()
        .find(|p| p.name == provider)
        .map(|p| p.models.clone())
        .ok_or_else(|| {
            ApiError::not_found(
                "provider_not_found",
                format!("no provider named {provider:?}"),
            )
        })?;
    edit(&mut models)?;
    let db = state.db.clone();
    let name = provider.to_string();
    blocking(move || db.set_models(&name, &models)).await?;
    state
        .off_thread(|s| s.reload_providers())
        .await
        .map_err(storage_error)
}
