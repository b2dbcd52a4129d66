//! Adding and removing providers: catalog defaults, validation, and the keychain entry of the
//! first account.

use super::{
    blocking, insert_with_secret, keychain_unavailable, reload_providers, storage_error, Secret,
};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::{NewProvider, Provider, StorageError};
use serde::Deserialize;
use std::sync::Arc;
use switchyard_types::{AuthStyle, Format};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddProvider {
    /// Name, base URL and format default from this catalog entry (id or alias).
    #[serde(default)]
    pub catalog: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub base_url: String,
    #[serde(default)]
    pub format: String,
    /// Empty for keyless upstreams (a local Ollama or LM Studio).
    #[serde(default)]
    pub api_key: String,
    #[serde(default)]
    pub models: Vec<String>,
}

/// Fills what the user left empty from the catalog entry they picked.
fn apply_catalog(
    state: &AppState,
    req: &mut AddProvider,
) -> Result<Option<(String, AuthStyle)>, ApiError> {
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
        req.format = entry.format.as_str().into();
    }
    if req.models.is_empty() {
        req.models = entry.models.clone();
    }
    Ok(Some((entry.id.clone(), entry.auth)))
}

/// The keychain entry of a provider's first account.
pub fn key_ref(provider: &str) -> String {
    crate::storage::accounts::key_ref(provider, "default")
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
    let Some(format) = Format::parse(&req.format.trim().to_ascii_lowercase()) else {
        return Err(bad(format!(
            "format {:?} is not supported yet; supported: {}",
            req.format,
            Format::NAMES.join(", ")
        )));
    };
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
        url_auth_ref: None,
        name,
        base_url,
        format,
        models,
    })
}

/// The keychain entry of the `user:password` of a provider's base URL.
pub fn url_auth_ref(provider: &str) -> String {
    format!("provider:{provider}:url-credentials")
}

/// Moves `user:password@` out of base URLs stored before it was kept in the keychain. Runs at
/// start; a no-op (one pass over the snapshot) when no row carries credentials.
pub async fn move_url_credentials(state: &Arc<AppState>) -> Result<(), ApiError> {
    let mut moved = false;
    for p in state.providers().iter() {
        let (base_url, Some(value)) = crate::url_credentials::split(&p.base_url) else {
            continue;
        };
        let entry = url_auth_ref(&p.name);
        state
            .credentials
            .set(&entry, &value)
            .await
            .map_err(|e| keychain_unavailable(&e.to_string()))?;
        let (db, name) = (state.db.clone(), p.name.clone());
        blocking(move || db.set_base_url(&name, &base_url, Some(&entry))).await?;
        tracing::info!(provider = %p.name, "base URL credentials moved to the keychain");
        moved = true;
    }
    if moved {
        reload_providers(state).await?;
    }
    Ok(())
}

/// Adds a provider (from the catalog or entered by hand) with its key in the keychain.
pub async fn add(state: &Arc<AppState>, mut req: AddProvider) -> Result<Provider, ApiError> {
    let from_catalog = apply_catalog(state, &mut req)?;
    let api_key = req.api_key.trim().to_string();
    let mut new = validate(req)?;
    if let Some((id, auth)) = from_catalog {
        new.catalog_id = Some(id);
        new.auth = Some(auth);
    }
    let name = new.name.clone();
    let mut secrets: Vec<Secret> = new
        .key_ref
        .clone()
        .map(|entry| Secret {
            entry,
            value: api_key,
        })
        .into_iter()
        .collect();
    // `user:password@` in the base URL is a secret too: into the keychain, out of SQLite.
    let (base_url, url_credentials) = crate::url_credentials::split(&new.base_url);
    if let Some(value) = url_credentials {
        let entry = url_auth_ref(&name);
        new.base_url = base_url;
        new.url_auth_ref = Some(entry.clone());
        secrets.push(Secret { entry, value });
    }
    let lookup = name.clone();
    let provider = insert_with_secret(
        state,
        move |db| Ok(db.get_provider(&lookup)?.is_some()),
        storage_error(StorageError::Duplicate(name)),
        secrets,
        move |db| db.insert_provider(&new),
    )
    .await?;
    tracing::info!(provider = %provider.name, "provider added");
    Ok(provider)
}

/// Removes a provider, its accounts' keychain entries, and what routing learned about it.
pub async fn delete(state: &Arc<AppState>, name: &str) -> Result<(), ApiError> {
    let _serial = state.mutations.lock().await;
    let db = state.db.clone();
    let n = name.to_string();
    let Some(removed) = blocking(move || db.delete_provider(&n)).await? else {
        return Err(ApiError::not_found(
            "provider_not_found",
            format!("no provider named {name:?}"),
        ));
    };
    let entries = removed.accounts.iter().filter_map(|a| a.key_ref.as_ref());
    for entry in entries.chain(removed.url_auth_ref.as_ref()) {
        if let Err(e) = state.credentials.delete(entry).await {
            tracing::warn!(provider = %name, "could not remove the keychain entry: {e}");
        }
    }
    // Nothing learned about the old accounts may stick to a provider re-added under this name.
    for prefix in state.router.reset(Some(name)) {
        let db = state.db.clone();
        let _ = blocking(move || db.delete_runtime_state(&prefix)).await;
    }
    reload_providers(state).await?;
    tracing::info!(provider = %name, "provider deleted");
    Ok(())
}
