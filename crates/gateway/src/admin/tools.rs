//! What coding tools are pointed at, built once for the dashboard, the tray and the CLI: this
//! gateway's origin, the active-combo alias as the model only while a combo is active (the alias
//! means nothing otherwise, and a tool set to it would get "no combo is active" for every
//! request), and a client key when keys are required.

use crate::error::ApiError;
use crate::state::AppState;
use switchyard_cli_config::{Target, MANAGED_TOKEN};

/// The model a configured tool should ask for: the active alias while a combo is active.
pub fn model_for_tools(active_combo: Option<&str>, active_alias: &str) -> Option<String> {
    active_combo.map(|_| active_alias.to_string())
}

/// A client key to mint: `tag` goes into the key itself (`sy-<tag>-…`, so the user can tell
/// keys apart in config files), `label` into the Keys list.
#[derive(Debug, Clone, Copy)]
pub struct NewKey<'a> {
    pub tag: &'a str,
    pub label: &'a str,
}

/// The target for one tool; `key` is minted for it when keys are required (`None`: do not
/// mint, use the managed placeholder).
pub fn target(state: &AppState, key: Option<NewKey<'_>>) -> Result<Target, ApiError> {
    let token = match key {
        Some(k) => client_token(state, k)?,
        None => MANAGED_TOKEN.to_string(),
    };
    let active = state.router.active();
    Ok(Target {
        base_url: base_url(state),
        token,
        model: model_for_tools(active.as_deref(), &state.router.active_alias()),
    })
}

/// The gateway's origin, what tools are pointed at.
pub fn base_url(state: &AppState) -> String {
    format!("http://127.0.0.1:{}", state.local_addr.port())
}

/// The token a tool (or the clipboard) gets: the managed placeholder while client keys are not
/// required, otherwise a freshly minted client key (only its hash is stored). Blocking (SQLite).
pub fn client_token(state: &AppState, new: NewKey<'_>) -> Result<String, ApiError> {
    if !state.settings().require_api_key {
        return Ok(MANAGED_TOKEN.to_string());
    }
    let key = crate::storage::keys::generate(new.tag);
    state
        .db
        .insert_key(new.label, &key, Default::default())
        .map_err(|e| ApiError::internal(e.to_string()))?;
    state
        .reload_keys()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_get_the_alias_only_while_a_combo_is_active() {
        assert_eq!(model_for_tools(None, "switchyard"), None);
        assert_eq!(
            model_for_tools(Some("always-on"), "switchyard").as_deref(),
            Some("switchyard")
        );
    }
}
