//! One module per tool: which files, how to patch them, how to recognise our settings.
//! Each patch function gets the file's current text (`None` = missing) and returns the new text, or
//! a reason the file cannot be edited safely. Patches touch only the keys listed in `owned_keys`.

use std::path::PathBuf;

use crate::target::Expect;
use crate::{Home, State, Target, Tool};

mod claude_code;
mod codex;
mod gemini_cli;
mod openclaw;
mod opencode;

/// A file a tool's configuration lives in.
#[derive(Debug, Clone)]
pub(crate) struct ManagedFile {
    pub path: PathBuf,
    /// Holds the client key after apply → written `0600`.
    pub holds_token: bool,
}

pub(crate) fn files(home: &Home, tool: Tool) -> Vec<ManagedFile> {
    let dir = home.config_dir(tool);
    let token = |name: &str, holds_token| ManagedFile {
        path: dir.join(name),
        holds_token,
    };
    match tool {
        Tool::ClaudeCode => vec![token("settings.json", true)],
        Tool::Codex => vec![token("config.toml", true)],
        Tool::GeminiCli => vec![token(".env", true), token("settings.json", false)],
        Tool::OpenCode => vec![ManagedFile {
            path: opencode::config_file(&dir),
            holds_token: true,
        }],
        Tool::OpenClaw => vec![token("openclaw.json", true)],
    }
}

/// Patches file number `index` of `files(tool)`.
pub(crate) fn patch(
    tool: Tool,
    index: usize,
    current: Option<&str>,
    target: &Target,
) -> Result<String, String> {
    match (tool, index) {
        (Tool::ClaudeCode, _) => claude_code::patch(current, target),
        (Tool::Codex, _) => codex::patch(current, target),
        (Tool::GeminiCli, 0) => gemini_cli::patch_env(current, target),
        (Tool::GeminiCli, _) => gemini_cli::patch_settings(current),
        (Tool::OpenCode, _) => opencode::patch(current, target),
        (Tool::OpenClaw, _) => openclaw::patch(current, target),
    }
}

/// Detection from the files' current texts (same order as `files`). Parse errors are the
/// caller's business (it turns them into `State::Invalid`), so these get valid texts or `None`.
/// The error names the index of the file that could not be parsed.
pub(crate) fn detect(
    tool: Tool,
    texts: &[Option<String>],
    expect: Expect<'_>,
) -> Result<State, (usize, String)> {
    let first = texts.first().and_then(|t| t.as_deref());
    let on_first = |e| (0, e);
    match tool {
        Tool::ClaudeCode => claude_code::detect(first, expect).map_err(on_first),
        Tool::Codex => codex::detect(first, expect).map_err(on_first),
        Tool::GeminiCli => {
            gemini_cli::detect(first, texts.get(1).and_then(|t| t.as_deref()), expect)
                .map_err(|e| (1, e))
        }
        Tool::OpenCode => opencode::detect(first, expect).map_err(on_first),
        Tool::OpenClaw => openclaw::detect(first, expect).map_err(on_first),
    }
}

/// Warnings for the confirm dialog.
pub(crate) fn notes(tool: Tool, texts: &[Option<String>]) -> Vec<String> {
    match tool {
        Tool::Codex => codex::notes(texts.first().and_then(|t| t.as_deref())),
        _ => Vec::new(),
    }
}

/// The keys Switchyard writes, per file, as dotted paths (for the preview's "which keys are ours").
pub fn owned_keys(tool: Tool) -> &'static [&'static str] {
    match tool {
        Tool::ClaudeCode => claude_code::OWNED,
        Tool::Codex => codex::OWNED,
        Tool::GeminiCli => gemini_cli::OWNED,
        Tool::OpenCode => opencode::OWNED,
        Tool::OpenClaw => openclaw::OWNED,
    }
}

/// The settings as text to paste by hand, for files Switchyard refuses to rewrite (JSONC/JSON5
/// with comments, a broken file).
pub fn snippet(tool: Tool, target: &Target) -> String {
    match tool {
        Tool::Codex => codex::patch(None, target).unwrap_or_default(),
        Tool::GeminiCli => format!(
            "# {}\n{}\n# settings.json\n{}",
            ".env",
            gemini_cli::patch_env(None, target).unwrap_or_default(),
            gemini_cli::patch_settings(None).unwrap_or_default()
        ),
        _ => patch(tool, 0, None, target).unwrap_or_default(),
    }
}
