//! Management API for the one-click configuration of coding CLIs (Claude Code, Codex, Gemini
//! CLI, OpenCode, OpenClaw): state of each, a preview (diff) of what Apply would write, Apply,
//! Restore original. Writes happen only on these explicit calls, never at startup.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;
use switchyard_cli_config::{self as cli, ConfigError, Home, Target, Tool};

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/tools", get(list))
        .route("/tools/{tool}/{action}", post(act))
}

fn tool_of(id: &str) -> Result<Tool, ApiError> {
    id.parse::<Tool>().map_err(|_| {
        ApiError::not_found(
            "tool_not_found",
            format!(
                "unknown tool {id:?}; known: {}",
                Tool::ALL
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })
}

fn config_error(e: ConfigError) -> ApiError {
    match e {
        ConfigError::InvalidFile { .. } | ConfigError::InvalidTarget { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_config_file",
            e.to_string(),
        ),
        ConfigError::NoOriginal { .. } => ApiError::not_found("no_original", e.to_string()),
        ConfigError::Conflict { .. } => {
            ApiError::new(StatusCode::CONFLICT, "file_changed", e.to_string())
        }
        other => ApiError::internal(other.to_string()),
    }
}

fn home() -> Result<Home, ApiError> {
    Home::detect().map_err(config_error)
}

/// The target for a tool; `create_key` mints its client key when keys are required.
fn target_for(state: &AppState, tool: Tool, create_key: bool) -> Result<Target, ApiError> {
    let name = tool.to_string();
    let key = crate::admin::tools::NewKey {
        tag: &name,
        label: &name,
    };
    crate::admin::tools::target(state, create_key.then_some(key))
}

fn revoke_where(state: &AppState, pick: impl Fn(&crate::storage::keys::ClientKey) -> bool) {
    if let Ok(keys) = state.db.list_keys() {
        for k in keys.iter().filter(|k| k.revoked_at.is_none() && pick(k)) {
            let _ = state.db.revoke_key(k.id);
        }
    }
    let _ = state.reload_keys();
}

async fn list(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let home = home()?;
    let base = crate::admin::tools::base_url(&state);
    let rows: Vec<Value> = Tool::ALL
        .iter()
        .map(|t| {
            let s = cli::status_for(&home, *t, &base);
            json!({"tool": t.to_string(), "name": t.display_name(), "status": s})
        })
        .collect();
    Ok(Json(json!(rows)))
}

/// `POST /api/tools/{tool}/preview|apply|restore-preview|restore`.
async fn act(
    State(state): State<Arc<AppState>>,
    Path((tool, action)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let tool = tool_of(&tool)?;
    // Config files are read, backed up and written (fsync included) and keys minted in SQLite:
    // blocking work, kept off the event loop that carries the streams.
    tokio::task::spawn_blocking(move || act_blocking(&state, tool, &action))
        .await
        .map_err(|e| ApiError::internal(format!("tool configuration task failed: {e}")))?
}

fn act_blocking(state: &AppState, tool: Tool, action: &str) -> Result<Json<Value>, ApiError> {
    let home = home()?;
    let out = match action {
        "preview" => {
            let t = target_for(state, tool, false)?;
            let plan = cli::plan_apply(&home, tool, &t).map_err(config_error)?;
            json!({"diff": plan.diff(), "plan": plan, "owned_keys": cli::owned_keys(tool)})
        }
        "apply" => {
            let before: Vec<i64> = state
                .db
                .list_keys()
                .map_err(|e| ApiError::internal(e.to_string()))?
                .into_iter()
                .filter(|k| k.label == tool.to_string() && k.revoked_at.is_none())
                .map(|k| k.id)
                .collect();
            let t = target_for(state, tool, true)?;
            let minted = t.token.starts_with(cli::TOKEN_PREFIX);
            let applied = match cli::apply(&home, tool, &t) {
                Ok(a) => a,
                Err(e) => {
                    // The key written nowhere must not stay valid.
                    if minted {
                        revoke_where(state, |k| {
                            k.label == tool.to_string() && !before.contains(&k.id)
                        });
                    }
                    return Err(config_error(e));
                }
            };
            if minted {
                // The tool now holds the new key; its previous ones are retired.
                revoke_where(state, |k| before.contains(&k.id));
            }
            tracing::info!(tool = %tool, "configured to use the gateway");
            json!({"diff": applied.plan.diff(), "backups": applied.backups,
                "restart_hint": applied.restart_hint, "notes": applied.plan.notes})
        }
        "restore-preview" => {
            let plan = cli::plan_restore(&home, tool).map_err(config_error)?;
            json!({"diff": plan.diff(), "plan": plan})
        }
        "restore" => {
            let plan = cli::restore(&home, tool).map_err(config_error)?;
            tracing::info!(tool = %tool, "original configuration restored");
            json!({"diff": plan.diff(), "restart_hint": tool.restart_hint()})
        }
        other => {
            return Err(ApiError::not_found(
                "unsupported_endpoint",
                format!("unknown action {other:?}; use preview, apply, restore-preview or restore"),
            ))
        }
    };
    Ok(Json(out))
}
