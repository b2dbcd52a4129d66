//! Detection results. Content-based (reference rule 11): a tool is "ours" when its base URL points
//! at the gateway and its token is a Switchyard key. Nothing is watched; callers re-check on demand.

use std::path::PathBuf;

use serde::Serialize;

use crate::target::{is_our_token, Expect};
use crate::Tool;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// No base URL override: the tool talks to its vendor.
    NotConfigured,
    /// Base URL is the gateway and the token is a Switchyard key.
    ConfiguredByUs,
    /// Another base URL (another proxy or vendor endpoint), or the gateway with a foreign token.
    ConfiguredElsewhere { base_url: String },
    /// A file cannot be parsed, or our settings are only half there.
    Invalid { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub tool: Tool,
    pub state: State,
    /// The files this tool's configuration lives in (whether or not they exist).
    pub files: Vec<PathBuf>,
    /// E.g. "Restart Claude Code to apply".
    pub restart_required_hint: String,
    /// A pristine pre-Switchyard copy exists, so "Restore original file" is possible.
    pub has_original_snapshot: bool,
}

/// The common judgement once a tool module has found its base URL and token.
pub(crate) fn judge(expect: Expect<'_>, base_url: Option<&str>, token: Option<&str>) -> State {
    match base_url {
        None => State::NotConfigured,
        Some(url) if expect.matches(url) && token.is_some_and(is_our_token) => {
            State::ConfiguredByUs
        }
        Some(url) => State::ConfiguredElsewhere {
            base_url: url.to_string(),
        },
    }
}
