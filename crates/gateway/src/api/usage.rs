//! Management API for the request log (recent rows, totals, latency percentiles), client keys
//! (create — shown once —, list, revoke; budgets) and the price table.

use super::json::JsonBody;
use crate::admin::blocking;
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::keys::{self, Budgets};
use crate::storage::usage::{GroupBy, Price};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/usage", get(totals))
        .route("/usage/latency", get(latency))
        .route("/requests", get(recent))
        .route("/keys", get(list_keys).post(create_key))
        .route("/keys/{id}", delete(revoke_key))
        .route("/prices", get(list_prices).put(put_price))
        .route("/prices/{*model}", delete(delete_price))
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_request", msg)
}

#[derive(Debug, Deserialize)]
struct TotalsQuery {
    #[serde(default = "default_group")]
    group: GroupBy,
    /// Only rows newer than this many hours (default 30 days).
    #[serde(default)]
    hours: Option<u64>,
}

fn default_group() -> GroupBy {
    GroupBy::Provider
}

fn since(hours: Option<u64>) -> i64 {
    let h = hours.unwrap_or(24 * 30).min(1_000_000) as i64;
    crate::routing::now_unix() as i64 * 1000 - h * 3_600_000
}

/// `GET /api/usage?group=provider|model|key|day|combo&hours=24`.
async fn totals(
    State(state): State<Arc<AppState>>,
    q: Result<Query<TotalsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| {
        bad(format!(
            "{e}; group is one of provider, model, key, day, combo"
        ))
    })?;
    // Rows still queued count too: a dashboard refresh right after a request must show it.
    state.recorder.flush().await;
    let db = state.db.clone();
    let from = since(q.hours);
    let rows = blocking(move || db.usage_totals(q.group, from)).await?;
    Ok(Json(json!(rows)))
}

#[derive(Debug, Deserialize)]
struct HoursQuery {
    #[serde(default)]
    hours: Option<u64>,
    #[serde(default)]
    limit: Option<u32>,
}

async fn latency(
    State(state): State<Arc<AppState>>,
    Query(q): Query<HoursQuery>,
) -> Result<Json<Value>, ApiError> {
    state.recorder.flush().await;
    let db = state.db.clone();
    let from = since(q.hours);
    Ok(Json(json!(blocking(move || db.usage_latency(from)).await?)))
}

/// `GET /api/requests?limit=50`: the newest requests first.
async fn recent(
    State(state): State<Arc<AppState>>,
    Query(q): Query<HoursQuery>,
) -> Result<Json<Value>, ApiError> {
    state.recorder.flush().await;
    let db = state.db.clone();
    let limit = q.limit.unwrap_or(50).min(1000);
    Ok(Json(json!(blocking(move || db.recent_usage(limit)).await?)))
}

async fn list_keys(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let db = state.db.clone();
    Ok(Json(json!(blocking(move || db.list_keys()).await?)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    label: String,
    #[serde(default)]
    daily_usd: Option<f64>,
    #[serde(default)]
    weekly_usd: Option<f64>,
    #[serde(default)]
    monthly_usd: Option<f64>,
}

/// `POST /api/keys {"label":"claude-code","daily_usd":5}` → 201 with the key, shown only now.
async fn create_key(
    State(state): State<Arc<AppState>>,
    JsonBody(req): JsonBody<NewKey>,
) -> Result<Response, ApiError> {
    let label = req.label.trim().to_string();
    if label.is_empty() || label.len() > 64 {
        return Err(bad("label must be 1-64 characters (e.g. the tool's name)"));
    }
    for b in [req.daily_usd, req.weekly_usd, req.monthly_usd]
        .into_iter()
        .flatten()
    {
        if !(b.is_finite() && b >= 0.0) {
            return Err(bad("budgets must be non-negative amounts in USD"));
        }
    }
    let key = keys::generate(&label);
    let budgets = Budgets {
        daily_usd: req.daily_usd,
        weekly_usd: req.weekly_usd,
        monthly_usd: req.monthly_usd,
    };
    let db = state.db.clone();
    let k = key.clone();
    let row = blocking(move || db.insert_key(&label, &k, budgets)).await?;
    state
        .off_thread(|s| s.reload_keys())
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut v = json!(row);
    v["key"] = Value::String(key);
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

async fn revoke_key(
    State(state): State<Arc<AppState>>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let db = state.db.clone();
    if !blocking(move || db.revoke_key(id)).await? {
        return Err(ApiError::not_found(
            "key_not_found",
            format!("no active key with id {id}"),
        ));
    }
    state
        .off_thread(|s| s.reload_keys())
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_prices(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!(state.prices().rows()))
}

/// `PUT /api/prices {"model":"acme/m1","input":1.0,"output":2.0}` (USD per 1M tokens).
async fn put_price(
    State(state): State<Arc<AppState>>,
    JsonBody(p): JsonBody<Price>,
) -> Result<Json<Value>, ApiError> {
    let all = [Some(p.input), Some(p.output), p.cache_read, p.cache_write];
    if p.model.trim().is_empty() || all.iter().flatten().any(|v| !(v.is_finite() && *v >= 0.0)) {
        return Err(bad(
            "a price needs a model and non-negative USD-per-1M-token amounts",
        ));
    }
    let db = state.db.clone();
    let row = p.clone();
    blocking(move || db.set_price(&row)).await?;
    state
        .off_thread(|s| s.reload_prices())
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Json(json!(p)))
}

async fn delete_price(
    State(state): State<Arc<AppState>>,
    Path(model): Path<String>,
) -> Result<StatusCode, ApiError> {
    let db = state.db.clone();
    let m = model.clone();
    if !blocking(move || db.delete_price(&m)).await? {
        return Err(ApiError::not_found(
            "price_not_found",
            format!("no price row of your own for {model:?} (shipped defaults cannot be deleted, only overridden)"),
        ));
    }
    state
        .off_thread(|s| s.reload_prices())
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
}
