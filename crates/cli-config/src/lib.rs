//! Points other coding tools at the Switchyard gateway by editing their config files, safely.
//!
//! Supported: [`Tool::ClaudeCode`] (`~/.claude/settings.json`), [`Tool::Codex`]
//! (`~/.codex/config.toml`), [`Tool::GeminiCli`] (`~/.gemini/.env` + `~/.gemini/settings.json`),
//! [`Tool::OpenCode`] (`~/.config/opencode/opencode.json`), [`Tool::OpenClaw`]
//! (`~/.openclaw/openclaw.json`). This crate does not depend on the gateway.
//!
//! ```no_run
//! use switchyard_cli_config::{apply, plan_apply, status, Home, Target, Tool};
//! let home = Home::detect()?;
//! let target = Target {
//!     base_url: "http://127.0.0.1:20128".into(),
//!     token: "sy-claude-…".into(),
//!     model: None,
//! };
//! let preview = plan_apply(&home, Tool::ClaudeCode, &target)?; // dry run
//! println!("{}", preview.diff());
//! let applied = apply(&home, Tool::ClaudeCode, &target)?;
//! println!("{}", applied.restart_hint); // "Restart Claude Code to apply"
//! println!("{:?}", status(&home, Tool::ClaudeCode).state);
//! # Ok::<(), switchyard_cli_config::ConfigError>(())
//! ```
//!
//! # API
//! - [`status`] / [`status_for`]: read-only, content-based detection ([`State`]). `status` accepts
//!   any loopback base URL with a Switchyard token; `status_for` wants this exact host:port.
//! - [`plan_apply`] → [`Plan`] (whole-file before/after, [`Plan::diff`] for the preview, notes such
//!   as Codex hiding older sessions); [`apply`] → [`Applied`] (what was written, backups, restart hint).
//! - [`plan_restore`] / [`restore`]: put back the pristine pre-Switchyard bytes, or remove a file
//!   that did not exist before; the snapshot is then dropped so a later apply takes a fresh one.
//! - [`owned_keys`] (which keys are ours, for the preview) and [`snippet`] (text to paste by hand
//!   when a file is refused, e.g. JSONC with comments).
//!
//! # Guarantees
//! - Only our keys are patched, on the file as re-read right before the write (never a template).
//!   Key order is kept (serde_json `preserve_order`), and indentation, CRLF, final newline and BOM
//!   of JSON files; TOML keeps comments and layout (`toml_edit`); `.env` lines we do not own stay
//!   byte-for-byte. A file whose result is byte-identical is not written at all.
//! - A file that does not parse (or has a key of the wrong type where ours go) is refused with
//!   [`ConfigError::InvalidFile`] naming the file and line; nothing is written. JSON with comments
//!   (JSONC/JSON5) is refused too rather than having its comments stripped.
//! - Before the first write: `<file>.switchyard-original`, or an empty
//!   `<file>.switchyard-original-missing` marker. Before every write (and restore):
//!   `<file>.switchyard-backup-<UTC yyyymmddThhmmssZ>[-n]`, last 10 kept, with the original's mode.
//!   Both sit next to the path the tool reads (next to the link for a symlink).
//! - Writes follow symlinks and replace the target atomically (same-dir temp file, `sync_all`,
//!   rename, directory fsync); files holding the client key get `0600`, others keep their mode.
//!   If the file changes between read and rename, the patch is redone.
//! - Writes to one file are serialised by an in-process mutex. There is no cross-process lock.
//! - Credentials files are never opened: `~/.codex/auth.json`, `~/.claude/.credentials.json`,
//!   `~/.claude.json`, `~/.gemini/oauth_creds.json`, OpenCode's `auth.json`.
//! - Codex always uses the provider id `switchyard` with the key in `experimental_bearer_token`.
//! - Nothing here runs by itself: the caller writes only on an explicit user action.
//!
//! # Not here
//! No write ledger (SQLite): "Remove only our keys while keeping later edits" is not offered;
//! restore uses the snapshot. Tests redirect the home with [`Home::at`] or `SWITCHYARD_TEST_HOME`.

mod backup;
mod detect;
mod envfile;
mod error;
mod home;
mod jsonfile;
mod plan;
mod safe_write;
mod target;
mod tool;
mod tools;

use std::path::Path;

pub use backup::{list_backups, KEEP_BACKUPS};
pub use detect::{State, Status};
pub use error::ConfigError;
pub use home::Home;
pub use plan::{Applied, FileChange, Plan};
pub use target::{Target, MANAGED_TOKEN, TOKEN_PREFIX};
pub use tool::{Tool, UnknownTool};
pub use tools::{owned_keys, snippet};

use backup::Original;
use safe_write::{Mode, Outcome};
use target::Expect;
use tools::ManagedFile;

/// How often a write is retried when the file keeps changing under us.
const ATTEMPTS: usize = 5;

/// Detection with any loopback base URL counting as ours (the port may have changed).
pub fn status(home: &Home, tool: Tool) -> Status {
    status_with(home, tool, Expect::AnyLoopback)
}

/// Detection against this gateway's exact host and port (`http://127.0.0.1:20128`).
pub fn status_for(home: &Home, tool: Tool, base_url: &str) -> Status {
    status_with(home, tool, Expect::Exactly(base_url))
}

fn status_with(home: &Home, tool: Tool, expect: Expect<'_>) -> Status {
    let files = tools::files(home, tool);
    let state = match read_all(&files) {
        Err(e) => State::Invalid {
            reason: e.to_string(),
        },
        Ok(texts) => {
            tools::detect(tool, &texts, expect).unwrap_or_else(|(i, reason)| State::Invalid {
                reason: format!("{}: {reason}", files[i].path.display()),
            })
        }
    };
    Status {
        tool,
        state,
        has_original_snapshot: files.iter().any(|f| backup::has_original(&f.path)),
        files: files.into_iter().map(|f| f.path).collect(),
        restart_required_hint: tool.restart_hint(),
    }
}

/// What [`apply`] would write, without writing. Refuses if any of the tool's files is invalid.
pub fn plan_apply(home: &Home, tool: Tool, target: &Target) -> Result<Plan, ConfigError> {
    validate(target)?;
    let files = tools::files(home, tool);
    let texts = read_all(&files)?;
    let mut changes = Vec::new();
    for (i, (file, before)) in files.iter().zip(&texts).enumerate() {
        let after = tools::patch(tool, i, before.as_deref(), target)
            .map_err(|reason| ConfigError::invalid(&file.path, reason))?;
        if before.as_deref() != Some(after.as_str()) {
            changes.push(FileChange {
                path: file.path.clone(),
                before: before.clone(),
                after: Some(after),
            });
        }
    }
    Ok(Plan {
        tool,
        changes,
        notes: tools::notes(tool, &texts),
    })
}

/// Points `tool` at `target`. Every file is checked first, so an invalid second file means nothing
/// is written; each file is then re-read and patched under its lock right before its write.
pub fn apply(home: &Home, tool: Tool, target: &Target) -> Result<Applied, ConfigError> {
    let preview = plan_apply(home, tool, target)?;
    let mut backups = Vec::new();
    let mut changes = Vec::new();
    for (i, file) in tools::files(home, tool).iter().enumerate() {
        let change = safe_write::with_lock(&file.path, || {
            apply_file(tool, i, file, target, &mut backups)
        })?;
        changes.extend(change);
    }
    let restart_hint = if changes.is_empty() {
        String::new()
    } else {
        tool.restart_hint()
    };
    Ok(Applied {
        plan: Plan {
            tool,
            changes,
            notes: preview.notes,
        },
        backups,
        restart_hint,
    })
}

fn apply_file(
    tool: Tool,
    index: usize,
    file: &ManagedFile,
    target: &Target,
    backups: &mut Vec<std::path::PathBuf>,
) -> Result<Option<FileChange>, ConfigError> {
    let mode = if file.holds_token {
        Mode::Secret
    } else {
        Mode::Keep
    };
    for _ in 0..ATTEMPTS {
        let bytes = safe_write::read(&file.path)?;
        let before = text_of(&file.path, bytes.as_deref())?;
        let after = tools::patch(tool, index, before.as_deref(), target)
            .map_err(|reason| ConfigError::invalid(&file.path, reason))?;
        if bytes.as_deref() == Some(after.as_bytes()) {
            return Ok(None);
        }
        backup::snapshot_if_first(&file.path, bytes.as_deref())?;
        let taken = bytes
            .as_deref()
            .map(|b| backup::backup(&file.path, b))
            .transpose()?;
        match safe_write::write_atomic(&file.path, after.as_bytes(), mode, bytes.as_deref())? {
            Outcome::Written => {
                backups.extend(taken);
                return Ok(Some(FileChange {
                    path: file.path.clone(),
                    before,
                    after: Some(after),
                }));
            }
            Outcome::ChangedMeanwhile => continue,
        }
    }
    Err(ConfigError::Conflict {
        path: file.path.clone(),
    })
}

/// What [`restore`] would do. [`ConfigError::NoOriginal`] when Switchyard never wrote the tool.
pub fn plan_restore(home: &Home, tool: Tool) -> Result<Plan, ConfigError> {
    let mut any = false;
    let mut changes = Vec::new();
    for file in tools::files(home, tool) {
        let Some(original) = backup::original(&file.path)? else {
            continue;
        };
        any = true;
        let current = safe_write::read(&file.path)?;
        if let Some(change) = restore_change(&file.path, current.as_deref(), &original) {
            changes.push(change);
        }
    }
    if !any {
        return Err(ConfigError::NoOriginal { tool });
    }
    Ok(Plan {
        tool,
        changes,
        notes: Vec::new(),
    })
}

/// Puts back the exact pre-Switchyard bytes (and mode), or removes files that did not exist.
/// The current content is backed up first; the snapshot is dropped afterwards.
pub fn restore(home: &Home, tool: Tool) -> Result<Plan, ConfigError> {
    plan_restore(home, tool)?;
    let mut changes = Vec::new();
    for file in tools::files(home, tool) {
        let change = safe_write::with_lock(&file.path, || restore_file(&file.path))?;
        changes.extend(change);
    }
    Ok(Plan {
        tool,
        changes,
        notes: Vec::new(),
    })
}

fn restore_file(path: &Path) -> Result<Option<FileChange>, ConfigError> {
    let Some(original) = backup::original(path)? else {
        return Ok(None);
    };
    for _ in 0..ATTEMPTS {
        let current = safe_write::read(path)?;
        let Some(change) = restore_change(path, current.as_deref(), &original) else {
            backup::forget_original(path)?;
            return Ok(None);
        };
        if let Some(bytes) = &current {
            backup::backup(path, bytes)?;
        }
        match &original {
            Original::Missing => safe_write::remove(&safe_write::resolve(path))?,
            Original::Bytes(bytes, mode) => {
                let mode = mode.map_or(Mode::Keep, Mode::Exact);
                if let Outcome::ChangedMeanwhile =
                    safe_write::write_atomic(path, bytes, mode, current.as_deref())?
                {
                    continue;
                }
            }
        }
        backup::forget_original(path)?;
        return Ok(Some(change));
    }
    Err(ConfigError::Conflict {
        path: path.to_path_buf(),
    })
}

fn restore_change(path: &Path, current: Option<&[u8]>, original: &Original) -> Option<FileChange> {
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let after = match original {
        Original::Bytes(bytes, _) if current == Some(bytes.as_slice()) => return None,
        Original::Bytes(bytes, _) => Some(lossy(bytes)),
        Original::Missing if current.is_none() => return None,
        Original::Missing => None,
    };
    Some(FileChange {
        path: path.to_path_buf(),
        before: current.map(lossy),
        after,
    })
}

fn read_all(files: &[ManagedFile]) -> Result<Vec<Option<String>>, ConfigError> {
    files
        .iter()
        .map(|f| text_of(&f.path, safe_write::read(&f.path)?.as_deref()))
        .collect()
}

fn text_of(path: &Path, bytes: Option<&[u8]>) -> Result<Option<String>, ConfigError> {
    bytes
        .map(|b| {
            String::from_utf8(b.to_vec()).map_err(|e| {
                ConfigError::invalid(
                    path,
                    format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
                )
            })
        })
        .transpose()
}

fn validate(target: &Target) -> Result<(), ConfigError> {
    let bad = |reason: &str| {
        Err(ConfigError::InvalidTarget {
            reason: reason.into(),
        })
    };
    if target::host_port(&target.base_url).is_none() {
        return bad("the base URL must look like http://127.0.0.1:20128");
    }
    if target.token.trim().is_empty() {
        return bad(
            "the token must not be empty (use SWITCHYARD_MANAGED when keys are not enforced)",
        );
    }
    let clean = |s: &str| !s.chars().any(|c| c.is_control() || c.is_whitespace());
    if !clean(&target.token) || !clean(&target.base_url) {
        return bad("the base URL and token must not contain spaces or control characters");
    }
    if target
        .model
        .as_deref()
        .is_some_and(|m| m.is_empty() || !clean(m))
    {
        return bad("the model name must be non-empty, without spaces or control characters");
    }
    Ok(())
}
