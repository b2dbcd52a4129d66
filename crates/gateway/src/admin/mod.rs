//! Admin operations: the one service layer behind the management API, the tray and the CLI.
//! Each operation here checks its input, takes the mutation lock, touches the keychain and
//! SQLite in the right order (off the event loop), rolls back what did not land, and reloads
//! the snapshots the request path reads. The HTTP handlers in `api/` only extract and render.

pub mod accounts;
pub mod providers;
pub mod tools;

use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::{Db, StorageError};
use axum::http::StatusCode;

/// A storage failure as the user sees it (duplicates are conflicts, the rest internal).
pub fn storage_error(e: StorageError) -> ApiError {
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

/// Runs a storage step on the blocking pool: the request path shares the event loop, and
/// SQLite may wait for its lock while a usage query holds it.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("storage task failed: {e}")))?
        .map_err(storage_error)
}

/// A secret to keep in the keychain under `entry` alongside a new row.
pub struct Secret {
    pub entry: String,
    pub value: String,
}

/// The one way a row that owns secrets is created: under the mutation lock, refused when
/// `exists` finds it already there (so a duplicate request never overwrites a stored key), the
/// secrets stored first, then the row; if a secret or the row does not land, the secrets
/// already stored are removed again. The providers snapshot is reloaded afterwards.
pub async fn insert_with_secret<T: Send + 'static>(
    state: &std::sync::Arc<AppState>,
    exists: impl FnOnce(&Db) -> Result<bool, StorageError> + Send + 'static,
    duplicate: ApiError,
    secrets: Vec<Secret>,
    insert: impl FnOnce(&Db) -> Result<T, StorageError> + Send + 'static,
) -> Result<T, ApiError> {
    let _serial = state.mutations.lock().await;
    let db = state.db.clone();
    if blocking(move || exists(&db)).await? {
        return Err(duplicate);
    }
    for (i, s) in secrets.iter().enumerate() {
        if let Err(e) = state.credentials.set(&s.entry, &s.value).await {
            forget(state, &secrets[..i]).await;
            return Err(keychain_unavailable(&e.to_string()));
        }
    }
    let db = state.db.clone();
    let inserted = match blocking(move || insert(&db)).await {
        Ok(row) => row,
        Err(e) => {
            // Leave nothing behind: the row did not land, so neither do its secrets.
            forget(state, &secrets).await;
            return Err(e);
        }
    };
    reload_providers(state).await?;
    Ok(inserted)
}

async fn forget(state: &AppState, secrets: &[Secret]) {
    for s in secrets {
        let _ = state.credentials.delete(&s.entry).await;
    }
}

pub fn keychain_unavailable(why: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "keychain_unavailable",
        format!("cannot store the API key: {why}"),
    )
}

/// Re-reads providers off the event loop and tells subscribers (tray, dashboard).
pub async fn reload_providers(state: &std::sync::Arc<AppState>) -> Result<(), ApiError> {
    state
        .off_thread(|s| s.reload_providers())
        .await
        .map_err(storage_error)
}

/// Why a provider key cannot be stored, if it cannot: it travels in an HTTP header, which
/// carries visible ASCII only, and a key pasted from a web page may bring along a space, a line
/// break or a typographic character that would otherwise fail every request.
pub fn key_problem(key: &str) -> Option<&'static str> {
    if key.chars().any(char::is_whitespace) {
        Some("api_key must not contain spaces")
    } else if !key.bytes().all(|b| b.is_ascii_graphic()) {
        Some("api_key must be plain ASCII (letters, digits, symbols); it contains a character a key never has, often an invisible or typographic one picked up when copying it")
    } else {
        None
    }
}
