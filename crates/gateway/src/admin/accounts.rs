//! Adding an account (another API key) to a provider.

use super::{insert_with_secret, key_problem, Secret};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::accounts::{key_ref, valid_label};
use crate::storage::Account;
use axum::http::StatusCode;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddAccount {
    pub label: String,
    #[serde(default)]
    pub api_key: String,
    #[serde(default)]
    pub priority: Option<u32>,
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_request", msg)
}

/// Adds an account; it goes last in fill-first order unless a priority is given.
pub async fn add(
    state: &Arc<AppState>,
    provider: &str,
    req: AddAccount,
) -> Result<Account, ApiError> {
    let label = req.label.trim().to_string();
    if !valid_label(&label) {
        return Err(bad(format!(
            "account label {:?} is not valid: use 1-64 letters, digits, '-', '_' or '.'",
            req.label
        )));
    }
    let key = req.api_key.trim().to_string();
    if let Some(problem) = key_problem(&key) {
        return Err(bad(problem));
    }
    let providers = state.providers();
    let p = providers
        .iter()
        .find(|p| p.name == provider)
        .ok_or_else(|| {
            ApiError::not_found(
                "provider_not_found",
                format!("no provider named {provider:?}"),
            )
        })?;
    let entry = (!key.is_empty()).then(|| key_ref(provider, &label));
    let account = Account {
        provider: provider.to_string(),
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
    // Nothing learned about an earlier account of this name may stick to the new one.
    state.router.forget_account(provider, &label);
    let (n, l) = (provider.to_string(), label.clone());
    let saved = insert_with_secret(
        state,
        move |db| Ok(db.get_account(&n, &l)?.is_some()),
        ApiError::new(
            StatusCode::CONFLICT,
            "account_exists",
            format!("provider {provider:?} already has an account {label:?}"),
        ),
        entry
            .map(|entry| Secret { entry, value: key })
            .into_iter()
            .collect(),
        move |db| db.insert_account(&account),
    )
    .await?;
    tracing::info!(provider = %provider, account = %label, "account added");
    Ok(saved)
}
