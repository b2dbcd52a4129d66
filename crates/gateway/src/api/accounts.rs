//! Management API for the accounts of a provider: several API keys per provider, enable/disable,
//! priority (fill-first order), and the provider's account-selection strategy.

use super::json::JsonBody;
use crate::admin::{self, accounts::AddAccount};
use crate::admin::{blocking, storage_error};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::accounts::view;
use crate::storage::Account;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/providers/{name}/accounts", get(list).post(add))
        .route(
            "/providers/{name}/accounts/{label}",
            patch(update).delete(remove),
        )
        .route("/providers/{name}/settings", patch(provider_settings))
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_request", msg)
}

fn account_missing(provider: &str, label: &str) -> ApiError {
    ApiError::not_found(
        "account_not_found",
        format!("provider {provider:?} has no account {label:?}"),
    )
}

fn provider_missing(name: &str) -> ApiError {
    ApiError::not_found("provider_not_found", format!("no provider named {name:?}"))
}

async fn list(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<Vec<Account>>, ApiError> {
    let providers = state.providers();
    let p = providers
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| provider_missing(&name))?;
    Ok(Json(p.accounts.clone()))
}

/// `POST /api/providers/{name}/accounts {"label":"work","api_key":"sk-…","priority":2}`.
async fn add(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    JsonBody(req): JsonBody<AddAccount>,
) -> Result<Response, ApiError> {
    let saved = admin::accounts::add(&state, &name, req).await?;
    Ok((StatusCode::CREATED, Json(view(&saved))).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateAccount {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    priority: Option<u32>,
}

async fn update(
    State(state): State<Arc<AppState>>,
    Path((name, label)): Path<(String, String)>,
    JsonBody(req): JsonBody<UpdateAccount>,
) -> Result<Json<Account>, ApiError> {
    let _serial = state.mutations.lock().await;
    let db = state.db.clone();
    let (n, l) = (name.clone(), label.clone());
    let enabling = req.enabled == Some(true);
    let updated = blocking(move || db.update_account(&n, &l, req.enabled, req.priority))
        .await?
        .ok_or_else(|| account_missing(&name, &label))?;
    if enabling {
        state.router.forget_account(&name, &label);
    }
    state
        .off_thread(|s| s.reload_providers())
        .await
        .map_err(storage_error)?;
    Ok(Json(updated))
}

async fn remove(
    State(state): State<Arc<AppState>>,
    Path((name, label)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let _serial = state.mutations.lock().await;
    let db = state.db.clone();
    let (n, l) = (name.clone(), label.clone());
    let removed = blocking(move || db.delete_account(&n, &l))
        .await?
        .ok_or_else(|| account_missing(&name, &label))?;
    if let Some(entry) = &removed.key_ref {
        if let Err(e) = state.credentials.delete(entry).await {
            tracing::warn!(provider = %name, account = %label, "could not remove the keychain entry: {e}");
        }
    }
    state.router.forget_account(&name, &label);
    state
        .off_thread(|s| s.reload_providers())
        .await
        .map_err(storage_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderSettings {
    #[serde(default)]
    account_strategy: Option<crate::routing::strategy::AccountStrategy>,
    /// Per-account limits: `{"rpm","min_gap_ms","max_concurrent","queue"}`; `{}` removes them.
    #[serde(default)]
    limits: Option<crate::routing::limits::Limits>,
}

/// `PATCH /api/providers/{name}/settings {"account_strategy":"round-robin","limits":{"rpm":50}}`.
async fn provider_settings(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    JsonBody(req): JsonBody<ProviderSettings>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !state.providers().iter().any(|p| p.name == name) {
        return Err(provider_missing(&name));
    }
    if let Some(strategy) = req.account_strategy {
        let db = state.db.clone();
        let n = name.clone();
        blocking(move || db.set_account_strategy(&n, strategy)).await?;
    }
    if let Some(l) = req.limits {
        if l.max_concurrent == Some(0) || l.rpm == Some(0) {
            return Err(bad(
                "rpm and max_concurrent must be at least 1 (leave them out for no limit)",
            ));
        }
        let db = state.db.clone();
        let key = format!("limits:{name}");
        blocking(move || db.set_setting(&key, &l)).await?;
        state.router.set_limits(&name, l);
    }
    state
        .off_thread(|s| s.reload_providers())
        .await
        .map_err(storage_error)?;
    let p = state
        .providers()
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.account_strategy)
        .unwrap_or_default();
    Ok(Json(
        serde_json::json!({"provider": name, "account_strategy": p,
        "limits": state.router.limits(&name)}),
    ))
}
