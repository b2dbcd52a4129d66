//! Dry-run results: what a write would change, as whole-file before/after texts.

use std::path::PathBuf;

use serde::Serialize;

use crate::Tool;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChange {
    pub path: PathBuf,
    /// `None`: the file does not exist yet.
    pub before: Option<String>,
    /// `None`: the file will be removed (restoring a file that did not exist before us).
    pub after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub tool: Tool,
    /// Only files whose bytes would change; empty means "already so, nothing to write".
    pub changes: Vec<FileChange>,
    /// Things to tell the user before they confirm (e.g. Codex hiding earlier sessions).
    pub notes: Vec<String>,
}

impl Plan {
    pub fn is_noop(&self) -> bool {
        self.changes.is_empty()
    }

    /// A unified diff of every change, for the preview dialog.
    pub fn diff(&self) -> String {
        let mut out = String::new();
        for change in &self.changes {
            let name = change.path.display().to_string();
            let before = change.before.as_deref().unwrap_or("");
            let after = change.after.as_deref().unwrap_or("");
            let old = if change.before.is_some() {
                name.clone()
            } else {
                "/dev/null".into()
            };
            let new = if change.after.is_some() {
                name.clone()
            } else {
                "/dev/null".into()
            };
            let diff = similar::TextDiff::from_lines(before, after);
            out.push_str(
                &diff
                    .unified_diff()
                    .context_radius(3)
                    .header(&old, &new)
                    .to_string(),
            );
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub plan: Plan,
    /// Timestamped copies taken before each write (none for files that did not exist).
    pub backups: Vec<PathBuf>,
    /// Empty when nothing was written.
    pub restart_hint: String,
}
