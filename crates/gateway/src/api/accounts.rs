//! Management API for the accounts of a provider: several API keys per provider, enable/disable,
//! priority (fill-first order), and the provider's account-selection strategy.

use super::errors::ApiError;
use super::management::{blocking, storage_error, MANAGEMENT_BODY_LIMIT};
use super::read_body;
use crate::server::AppState;
use crate::storage::accounts::{key_ref, valid_label};
use crate::storage::Account;
use axum::body::Body;
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddAccount {
    label: String,
    #[serde(default)]
    api_key: String,
    #[serde(default)]
    priority: Option<u32>,
}

/// `POST /api/providers/{name}/accounts {"label":"work","api_key":"sk-…","priority":2}`.
async fn add(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(body, MANAGEMENT_BODY_LIMIT).await?;
    let req: AddAccount =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("invalid account JSON: {e}")))?;
    let label = req.label.trim().to_string();
    if !valid_label(&label) {
        return Err(bad(format!(
            "account label {:?} is not valid: use 1-64 letters, digits, '-', '_' or '.'",
            req.label
        )));
    }
    let key = req.api_key.trim().to_string();
    if let Some(problem) = super::key_problem(&key) {
        return Err(bad(problem));
    }
    let providers = state.providers();
    let p = providers
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| provider_missing(&name))?;
    let _serial = state.mutations.lock().await;
    // Checked under the lock, so a concurrent duplicate cannot overwrite this account's key.
    let db = state.db.clone();
    let (n, l) = (name.clone(), label.clone());
    if blocking(move || db.get_account(&n, &l)).await?.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "account_exists",
            format!("provider {name:?} already has an account {label:?}"),
        ));
    }
    let entry = (!key.is_empty()).then(|| key_ref(&name, &label));
    if let Some(e) = &entry {
        state.credentials.set(e, &key).await.map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "keychain_unavailable",
                format!("cannot store the API key: {e}"),
            )
        })?;
    }
    let account = Account {
        provider: name.clone(),
        label: label.clone(),
        key_ref: entry.clone(),
        enabled: true,
        priority: req.priority.unwrap_or_else(|| {
            p.accounts
                .iter()
                .map(|a| a.priority)
                .max()
                .unwrap_or(0)
                .saturating_add(1)
        }),
        created_at: String::new(),
    };
    let db = state.db.clone();
    let saved = match blocking(move || db.insert_account(&account)).await {
        Ok(a) => a,
        Err(e) => {
            if let Some(entry) = &entry {
                let _ = state.credentials.delete(entry).await;
            }
            return Err(e);
        }
    };
    state.router.forget_account(&name, &label);
    state
        .off_thread(|s| s.reload_providers())
        .await
        .map_err(storage_error)?;
    tracing::info!(provider = %name, account = %label, "account added");
    Ok((StatusCode::CREATED, Json(saved)).into_response())
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
    body: Body,
) -> Result<Json<Account>, ApiError> {
    let bytes = read_body(body, MANAGEMENT_BODY_LIMIT).await?;
    let req: UpdateAccount =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("invalid account JSON: {e}")))?;
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
    account_strategy: Option<String>,
    /// Per-account limits: `{"rpm","min_gap_ms","max_concurrent","queue"}`; `{}` removes them.
    #[serde(default)]
    limits: Option<crate::routing::limits::Limits>,
}

/// `PATCH /api/providers/{name}/settings {"account_strategy":"round-robin","limits":{"rpm":50}}`.
async fn provider_settings(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let bytes = read_body(body, MANAGEMENT_BODY_LIMIT).await?;
    let req: ProviderSettings =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    if !state.providers().iter().any(|p| p.name == name) {
        return Err(provider_missing(&name));
    }
    if let Some(strategy) = &req.account_strategy {
        serde_json::from_value::<crate::routing::strategy::AccountStrategy>(
            serde_json::Value::String(strategy.clone()),
        )
        .map_err(|_| {
            bad(format!(
                "unknown account strategy {strategy:?}; use fill-first, round-robin, p2c, random or least-used"
            ))
        })?;
        let db = state.db.clone();
        let (n, s) = (name.clone(), strategy.clone());
        blocking(move || db.set_account_strategy(&n, &s)).await?;
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
        .map(|p| p.account_strategy.clone())
        .unwrap_or_default();
    Ok(Json(
        serde_json::json!({"provider": name, "account_strategy": p,
        "limits": state.router.limits(&name)}),
    ))
}
