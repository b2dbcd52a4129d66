//! Management API under `/api` (dashboard backend; the tray uses the same state in-process).

use super::errors::ApiError;
use super::read_body;
use crate::server::AppState;
use crate::storage::{NewProvider, ProviderView, StorageError};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;

/// Management bodies are small; this keeps a bad client from making us buffer a lot.
pub(crate) const MANAGEMENT_BODY_LIMIT: usize = 256 * 1024;
/// Upstream formats the gateway can forward to today.
pub const SUPPORTED_FORMATS: [&str; 5] = ["openai", "anthropic", "responses", "gemini", "kiro"];

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddProvider {
    /// Name, base URL and format default from this catalog entry (id or alias).
    #[serde(default)]
    catalog: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    format: String,
    /// Empty for keyless upstreams (a local Ollama or LM Studio).
    #[serde(default)]
    api_key: String,
    #[serde(default)]
    models: Vec<String>,
}

/// Fills what the user left empty from the catalog entry they picked.
fn apply_catalog(
    state: &AppState,
    req: &mut AddProvider,
) -> Result<Option<(String, String)>, ApiError> {
    let Some(id) = req
        .catalog
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    else {
        if req.format.trim().is_empty() {
            req.format = "openai".into();
        }
        return Ok(None);
    };
    let entry = state.catalog.lookup(id).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_request",
            format!("{id:?} is not in the provider catalog (GET /api/catalog lists it)"),
        )
    })?;
    if req.name.trim().is_empty() {
        req.name = entry.alias.clone();
    }
    if req.base_url.trim().is_empty() {
        if !entry.placeholders().is_empty() {
            return Err(ApiError::bad_request(
                "invalid_request",
                format!(
                    "{}'s base URL has parts only you know ({}): enter the base URL, e.g. {}",
                    entry.name,
                    entry.placeholders().join(", "),
                    entry.base_url
                ),
            ));
        }
        req.base_url = entry.base_url.clone();
    }
    if req.format.trim().is_empty() {
        req.format = serde_json::to_value(entry.format)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_else(|| "openai".into());
    }
    if req.models.is_empty() {
        req.models = entry.models.clone();
    }
    let auth = serde_json::to_value(entry.auth)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| "bearer".into());
    Ok(Some((entry.id.clone(), auth)))
}

/// The keychain entry name for a provider's (single, for now) account.
pub fn key_ref(provider: &str) -> String {
    format!("provider:{provider}:account:default")
}

fn validate(req: AddProvider) -> Result<NewProvider, ApiError> {
    let bad = |m: String| ApiError::bad_request("invalid_request", m);
    let name = req.name.trim().to_string();
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    if !name_ok {
        return Err(bad(format!(
            "provider name {:?} is not valid: use 1-64 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit (it becomes the model prefix, e.g. \"{}/gpt-4o\")",
            req.name,
            if name.is_empty() { "acme" } else { &name }
        )));
    }
    let base_url = req.base_url.trim().trim_end_matches('/').to_string();
    // Also as the request line will carry it: a space or a non-ASCII host passes the URL
    // parser (which would escape them) but not an HTTP request.
    match reqwest::Url::parse(&base_url) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && base_url.parse::<axum::http::Uri>().is_ok() => {}
        _ => {
            return Err(bad(format!(
                "base_url {:?} is not an http(s) URL such as https://api.example.com/v1",
                req.base_url
            )))
        }
    }
    let format = req.format.trim().to_ascii_lowercase();
    if !SUPPORTED_FORMATS.contains(&format.as_str()) {
        return Err(bad(format!(
            "format {:?} is not supported yet; supported: {}",
            req.format,
            SUPPORTED_FORMATS.join(", ")
        )));
    }
    let key = req.api_key.trim();
    if let Some(problem) = super::key_problem(key) {
        return Err(bad(problem.into()));
    }
    let mut models = Vec::new();
    for m in req.models {
        let m = m.trim().to_string();
        if m.is_empty() {
            continue;
        }
        if m.chars().any(char::is_whitespace) {
            return Err(bad(format!("model id {m:?} contains whitespace")));
        }
        if !models.contains(&m) {
            models.push(m);
        }
    }
    Ok(NewProvider {
        auth: None,
        catalog_id: None,
        key_ref: (!key.is_empty()).then(|| key_ref(&name)),
        name,
        base_url,
        format,
        models,
    })
}

pub(crate) fn storage_error(e: StorageError) -> ApiError {
    match e {
        StorageError::Duplicate(n) => ApiError::new(
            StatusCode::CONFLICT,
            "provider_exists",
            format!("a provider named {n:?} already exists; delete it first or pick another name"),
        ),
        StorageError::DuplicateAlias(p) => ApiError::new(
            StatusCode::CONFLICT,
            "alias_exists",
            format!("an alias {p:?} already exists; delete it first"),
        ),
        other => ApiError::internal(other.to_string()),
    }
}

async fn add_provider(
    State(state): State<Arc<AppState>>,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(body, MANAGEMENT_BODY_LIMIT).await?;
    let req: AddProvider = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request("invalid_request", format!("invalid provider JSON: {e}"))
    })?;
    let mut req = req;
    let from_catalog = apply_catalog(&state, &mut req)?;
    let api_key = req.api_key.trim().to_string();
    let mut new = validate(req)?;
    if let Some((id, auth)) = from_catalog {
        new.catalog_id = Some(id);
        new.auth = Some(auth);
    }
    let _serial = state.mutations.lock().await;
    let db = state.db.clone();
    let name = new.name.clone();
    // Check first so an existing provider's key is never overwritten by a duplicate request.
    let exists = blocking(move || db.get_provider(&name)).await?;
    if exists.is_some() {
        return Err(storage_error(StorageError::Duplicate(new.name)));
    }
    let entry = new.key_ref.clone();
    if let Some(entry) = &entry {
        state.credentials.set(entry, &api_key).await.map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "keychain_unavailable",
                format!("cannot store the API key: {e}"),
            )
        })?;
    }
    let db = state.db.clone();
    let inserted = blocking(move || db.insert_provider(&new)).await;
    let provider = match inserted {
        Ok(p) => p,
        Err(e) => {
            // Leave nothing behind: the row did not land, so neither does its key.
            if let Some(entry) = &entry {
                let _ = state.credentials.delete(entry).await;
            }
            return Err(e);
        }
    };
    state
        .off_thread(|s| s.reload_providers())
        .await
        .map_err(storage_error)?;
    tracing::info!(provider = %provider.name, "provider added");
    Ok((StatusCode::CREATED, Json(ProviderView::from(&provider))).into_response())
}

async fn delete_provider(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let _serial = state.mutations.lock().await;
    let db = state.db.clone();
    let n = name.clone();
    let removed = blocking(move || db.delete_provider(&n)).await?;
    let Some(removed) = removed else {
        return Err(ApiError::not_found(
            "provider_not_found",
            format!("no provider named {name:?}"),
        ));
    };
    for entry in removed.accounts.iter().filter_map(|a| a.key_ref.as_ref()) {
        if let Err(e) = state.credentials.delete(entry).await {
            tracing::warn!(provider = %name, "could not remove the keychain entry: {e}");
        }
    }
    // Nothing learned about the old accounts may stick to a provider re-added under this name.
    for prefix in state.router.reset(Some(&name)) {
        let db = state.db.clone();
        let _ = blocking(move || db.delete_runtime_state(&prefix)).await;
    }
    state
        .off_thread(|s| s.reload_providers())
        .await
        .map_err(storage_error)?;
    tracing::info!(provider = %name, "provider deleted");
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("storage task failed: {e}")))?
        .map_err(storage_error)
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
async fn add_alias(State(state): State<Arc<AppState>>, body: Body) -> Result<Response, ApiError> {
    let bytes = read_body(body, MANAGEMENT_BODY_LIMIT).await?;
    let req: AddAlias = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request("invalid_request", format!("invalid alias JSON: {e}"))
    })?;
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
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(body, MANAGEMENT_BODY_LIMIT).await?;
    let req: AddModel = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request("invalid_request", format!("invalid model JSON: {e}"))
    })?;
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
