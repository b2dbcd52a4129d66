//! Management API for routing: combos (CRUD, reorder, dry-run test), the active combo, routing
//! health (cooldowns, breakers; reset), quota windows, settings, and the compact `/status`.

use super::json::JsonBody;
use super::read_body;
use crate::admin::{blocking, storage_error};
use crate::error::ApiError;
use crate::routing::combos;
use crate::state::{AppState, Settings};
use crate::storage::{Combo, ComboConfig, ComboTarget, StorageError};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/combos", get(list).post(create))
        .route("/combos/active", get(get_active).put(put_active))
        .route(
            "/combos/{*rest}",
            get(read_one).put(replace).delete(remove).post(action),
        )
        .route("/routing/health", get(health))
        .route("/routing/reset", post(reset))
        .route("/quota", get(quota))
        .route("/settings", get(get_settings).put(put_settings))
        .route("/pause", post(pause))
        .route("/resume", post(resume))
        .route("/events", get(events))
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_request", msg)
}

/// A combo as the API accepts it: targets as objects, or shorthand strings `provider/model`,
/// `combo:<name>` (or the bare name of an existing combo).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComboIn {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    strategy: switchyard_types::ComboStrategy,
    targets: Vec<Value>,
    #[serde(default)]
    config: ComboConfig,
}

fn parse_target(v: &Value, combos: &[Combo]) -> Result<ComboTarget, ApiError> {
    match v {
        Value::String(s) => {
            let s = s.trim();
            if let Some(name) = s.strip_prefix("combo:") {
                return Ok(ComboTarget::Combo {
                    name: name.into(),
                    weight: 1,
                });
            }
            if combos.iter().any(|c| c.name == s) {
                return Ok(ComboTarget::Combo {
                    name: s.into(),
                    weight: 1,
                });
            }
            match s.split_once('/') {
                Some((p, m)) if !p.is_empty() && !m.is_empty() => Ok(ComboTarget::Model {
                    provider: p.into(),
                    model: m.into(),
                    account: None,
                    weight: 1,
                }),
                _ => Err(bad(format!(
                    "target {s:?} is neither \"provider/model\" nor \"combo:<name>\""
                ))),
            }
        }
        other => serde_json::from_value(other.clone()).map_err(|e| {
            bad(format!(
                "target {other} is not valid ({e}); use {{\"kind\":\"model\",\"provider\",\"model\"}} or {{\"kind\":\"combo\",\"name\"}}"
            ))
        }),
    }
}

async fn parse_body(
    state: &AppState,
    req: ComboIn,
    name: Option<String>,
) -> Result<Combo, ApiError> {
    let combos = state.router.combos();
    let name = match (name, req.name) {
        (Some(path), Some(body)) if path != body => {
            return Err(bad(format!(
                "the body names combo {body:?} but the URL names {path:?}"
            )))
        }
        (Some(n), _) | (None, Some(n)) => n.trim().to_string(),
        (None, None) => return Err(bad("missing required field `name`")),
    };
    let targets = req
        .targets
        .iter()
        .map(|t| parse_target(t, &combos))
        .collect::<Result<Vec<_>, _>>()?;
    let combo = Combo {
        name,
        strategy: req.strategy,
        targets,
        config: req.config,
        created_at: String::new(),
    };
    combos::validate(&combo, &combos, &state.providers()).map_err(bad)?;
    Ok(combo)
}

fn combo_error(e: StorageError) -> ApiError {
    match e {
        StorageError::Duplicate(n) => ApiError::new(
            StatusCode::CONFLICT,
            "combo_exists",
            format!("a combo named {n:?} already exists; use PUT /api/combos/{n} to change it"),
        ),
        other => storage_error(other),
    }
}

async fn list(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!(state.router.combos().as_slice()))
}

async fn create(
    State(state): State<Arc<AppState>>,
    JsonBody(req): JsonBody<ComboIn>,
) -> Result<Response, ApiError> {
    let combo = parse_body(&state, req, None).await?;
    let _serial = state.mutations.lock().await;
    let db = state.db.clone();
    let saved = tokio::task::spawn_blocking(move || db.save_combo(&combo, false))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(combo_error)?;
    state
        .off_thread(|s| s.reload_combos())
        .await
        .map_err(storage_error)?;
    tracing::info!(combo = %saved.name, "combo created");
    Ok((StatusCode::CREATED, Json(saved)).into_response())
}

fn find(state: &AppState, name: &str) -> Result<Combo, ApiError> {
    state
        .router
        .combos()
        .iter()
        .find(|c| c.name == name)
        .cloned()
        .ok_or_else(|| ApiError::not_found("combo_not_found", format!("no combo named {name:?}")))
}

async fn read_one(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<Combo>, ApiError> {
    Ok(Json(find(&state, &name)?))
}

async fn replace(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    JsonBody(req): JsonBody<ComboIn>,
) -> Result<Json<Combo>, ApiError> {
    find(&state, &name)?;
    let combo = parse_body(&state, req, Some(name)).await?;
    let _serial = state.mutations.lock().await;
    let db = state.db.clone();
    let saved = blocking(move || db.save_combo(&combo, true)).await?;
    state
        .off_thread(|s| s.reload_combos())
        .await
        .map_err(storage_error)?;
    Ok(Json(saved))
}

async fn remove(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    find(&state, &name)?;
    let users = combos::used_by(&name, &state.router.combos())
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    if !users.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "combo_in_use",
            format!(
                "combo {name:?} is a target of {}; remove it there first",
                users.join(", ")
            ),
        ));
    }
    if state.router.active().as_deref() == Some(name.as_str()) {
        // Tools point at the active alias; deleting its combo would break them silently.
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "combo_active",
            format!(
                "combo {name:?} is the active combo (what model {:?} means); activate another combo first",
                state.router.active_alias()
            ),
        ));
    }
    let _serial = state.mutations.lock().await;
    let db = state.db.clone();
    let n = name.clone();
    blocking(move || db.delete_combo(&n)).await?;
    state
        .off_thread(|s| s.reload_combos())
        .await
        .map_err(storage_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/combos/{name}/reorder {"order":[2,0,1]}` and `POST /api/combos/{name}/test`.
async fn action(
    State(state): State<Arc<AppState>>,
    Path(rest): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    if let Some(name) = rest.strip_suffix("/reorder") {
        let mut combo = find(&state, name)?;
        #[derive(Deserialize)]
        struct Order {
            order: Vec<usize>,
        }
        let bytes = read_body(body, super::json::MANAGEMENT_BODY_LIMIT).await?;
        let o: Order = super::json::parse(&bytes)?;
        let n = combo.targets.len();
        let mut seen = o.order.clone();
        seen.sort_unstable();
        if seen != (0..n).collect::<Vec<_>>() {
            return Err(bad(format!(
                "order must list each target index 0..{} exactly once",
                n.saturating_sub(1)
            )));
        }
        combo.targets = o.order.iter().map(|i| combo.targets[*i].clone()).collect();
        let _serial = state.mutations.lock().await;
        let db = state.db.clone();
        let saved = blocking(move || db.save_combo(&combo, true)).await?;
        state
            .off_thread(|s| s.reload_combos())
            .await
            .map_err(storage_error)?;
        return Ok(Json(saved).into_response());
    }
    if let Some(name) = rest.strip_suffix("/test") {
        find(&state, name)?;
        return Ok(Json(dry_run(&state, name)?).into_response());
    }
    Err(ApiError::not_found(
        "unsupported_endpoint",
        "use POST /api/combos/{name}/reorder or /test",
    ))
}

/// Which target would serve now and why the others would be skipped (no upstream call).
fn dry_run(state: &AppState, name: &str) -> Result<Value, ApiError> {
    let plan =
        state
            .router
            .plan_peek(state.providers(), &state.aliases(), &state.prices(), name)?;
    let (_, breakers) = state.router.health_snapshot(&plan.providers);
    let mut rows = Vec::new();
    let mut serving: Option<String> = None;
    for t in &plan.targets {
        let p = plan.provider(t);
        let label = format!("{}/{}", p.name, t.model);
        let breaker = breakers
            .iter()
            .find(|(n, _)| n == &p.name)
            .map(|(_, b)| json!(b))
            .unwrap_or(json!({"state": "closed"}));
        let open = breaker["state"] == "open";
        // The router's own rules (cooldowns, model locks, quota thresholds), without a pick.
        let available = state
            .router
            .available_accounts(p, &t.model, t.account.as_deref());
        let enabled = p.accounts.iter().any(|a| a.enabled);
        let why = if open {
            "breaker open".to_string()
        } else if !enabled {
            "no enabled account".to_string()
        } else if available.is_empty() {
            "every account is cooling down, locked for this model or over its quota".to_string()
        } else {
            "available".to_string()
        };
        if serving.is_none() && why == "available" {
            serving = Some(label.clone());
        }
        rows.push(json!({"target": label, "provider": p.name, "model": t.model,
            "account": t.account, "available_accounts": available, "breaker": breaker, "status": why}));
    }
    Ok(json!({"combo": name, "would_serve": serving, "targets": rows}))
}

async fn get_active(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({"name": state.router.active(), "alias": state.router.active_alias()}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActiveIn {
    name: Option<String>,
    #[serde(default)]
    alias: Option<String>,
}

/// `PUT /api/combos/active {"name": "work"}`: routing changes at the next request; no CLI file
/// is rewritten (the CLIs point at the alias).
async fn put_active(
    State(state): State<Arc<AppState>>,
    JsonBody(req): JsonBody<ActiveIn>,
) -> Result<Json<Value>, ApiError> {
    if let Some(n) = &req.name {
        find(&state, n)?;
    }
    if let Some(a) = &req.alias {
        if !combos::valid_name(a) || state.providers().iter().any(|p| &p.name == a) {
            return Err(bad(format!("{a:?} cannot be the active-combo alias")));
        }
        state
            .db
            .set_setting("active_alias", a)
            .map_err(storage_error)?;
        state.router.set_active_alias(a.clone());
    }
    state
        .off_thread(move |st| st.set_active_combo(req.name))
        .await
        .map_err(storage_error)?;
    tracing::info!(combo = ?state.router.active(), "active combo changed");
    Ok(get_active(State(state)).await)
}

async fn health(State(state): State<Arc<AppState>>) -> Json<Value> {
    let (accounts, breakers) = state.router.health_snapshot(&state.providers());
    let breakers: serde_json::Map<String, Value> =
        breakers.into_iter().map(|(n, b)| (n, json!(b))).collect();
    Json(json!({"accounts": accounts, "breakers": breakers}))
}

#[derive(Debug, Deserialize, Default)]
struct ResetIn {
    #[serde(default)]
    provider: Option<String>,
}

async fn reset(
    State(state): State<Arc<AppState>>,
    JsonBody(req): JsonBody<ResetIn>,
) -> Result<StatusCode, ApiError> {
    for prefix in state.router.reset(req.provider.as_deref()) {
        let db = state.db.clone();
        blocking(move || db.delete_runtime_state(&prefix)).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn quota(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!(state.router.quota_snapshot(&state.providers())))
}

/// `GET /status`: a compact summary for status bars (Waybar, Raycast…).
pub async fn status(
    State(state): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
) -> Result<Json<Value>, ApiError> {
    if state.settings().require_api_key {
        let ok = crate::proxy::client_key_of(&state, &headers).is_some();
        if !ok {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_api_key",
                "GET /status needs a client key when keys are required",
            ));
        }
    }
    let now = crate::routing::now_unix();
    let providers = state.providers();
    let accounts: Vec<Value> = state
        .router
        .quota_snapshot(&providers)
        .into_iter()
        .map(|a| {
            let primary = crate::quota::primary(&a.windows).map(|w| {
                json!({"kind": w.kind, "tag": w.kind.tag(), "used_pct": w.used_pct,
                    "resets_at": w.resets_at,
                    "resets_in": w.resets_at.map(|r| crate::quota::countdown(r, now)),
                    "text": crate::quota::row(&format!("{} ({})", a.provider, a.account), w, now)})
            });
            json!({"provider": a.provider, "account": a.account, "primary": primary,
                "cooldown_until": a.cooldown_until})
        })
        .collect();
    let (_, breakers) = state.router.health_snapshot(&providers);
    let breakers: serde_json::Map<String, Value> = breakers
        .into_iter()
        .map(|(n, b)| (n, json!(b.state)))
        .collect();
    Ok(Json(json!({
        "gateway": "running",
        "version": crate::VERSION,
        "active_combo": state.router.active(),
        "active_alias": state.router.active_alias(),
        "accounts": accounts,
        "breakers": breakers,
    })))
}

async fn pause(State(state): State<Arc<AppState>>) -> Json<Value> {
    state.set_paused(true);
    Json(json!({"paused": true}))
}

async fn resume(State(state): State<Arc<AppState>>) -> Json<Value> {
    state.set_paused(false);
    Json(json!({"paused": false}))
}

/// `GET /api/events`: an SSE stream of routing events (failovers, pause) for the dashboard.
async fn events(State(state): State<Arc<AppState>>) -> Response {
    let rx = state.events.subscribe();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(ev) => {
                    let data = serde_json::to_string(&ev).unwrap_or_default();
                    let frame = format!("data: {data}\n\n");
                    return Some((
                        Ok::<_, std::convert::Infallible>(bytes::Bytes::from(frame)),
                        rx,
                    ));
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/event-stream"),
    );
    r.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-cache"),
    );
    r
}

async fn get_settings(State(state): State<Arc<AppState>>) -> Json<Value> {
    let s = state.settings();
    Json(json!({
        "require_api_key": s.require_api_key,
        "cache_enabled": s.cache_enabled,
        "notify": s.notify,
        "paused": state.paused(),
        "active_alias": state.router.active_alias(),
        "global_fallback": state.router.global_fallback(),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsIn {
    #[serde(default)]
    require_api_key: Option<bool>,
    #[serde(default)]
    cache_enabled: Option<bool>,
    /// A combo appended to every plan as the last resort; `""` clears it.
    #[serde(default)]
    global_fallback: Option<String>,
    #[serde(default)]
    notify: Option<crate::state::NotifySettings>,
}

async fn put_settings(
    State(state): State<Arc<AppState>>,
    JsonBody(req): JsonBody<SettingsIn>,
) -> Result<Json<Value>, ApiError> {
    let mut s: Settings = (*state.settings()).clone();
    if let Some(v) = req.require_api_key {
        s.require_api_key = v;
    }
    if let Some(v) = req.cache_enabled {
        s.cache_enabled = v;
    }
    if let Some(n) = req.notify {
        s.notify = n;
    }
    if let Some(f) = req.global_fallback {
        let f = f.trim().to_string();
        if f.is_empty() {
            state
                .db
                .delete_setting("global_fallback")
                .map_err(storage_error)?;
            state.router.set_global_fallback(None);
        } else {
            find(&state, &f)?;
            state
                .db
                .set_setting("global_fallback", &f)
                .map_err(storage_error)?;
            state.router.set_global_fallback(Some(f));
        }
    }
    state
        .off_thread(move |st| st.set_settings(s))
        .await
        .map_err(storage_error)?;
    Ok(get_settings(State(state)).await)
}
