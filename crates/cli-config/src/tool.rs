//! The tools we know how to configure, with their stable ids (used in URLs and the UI).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tool {
    ClaudeCode,
    Codex,
    GeminiCli,
    #[serde(rename = "opencode")]
    OpenCode,
    #[serde(rename = "openclaw")]
    OpenClaw,
}

impl Tool {
    pub const ALL: [Tool; 5] = [
        Tool::ClaudeCode,
        Tool::Codex,
        Tool::GeminiCli,
        Tool::OpenCode,
        Tool::OpenClaw,
    ];

    /// The stable id: `claude-code`, `codex`, `gemini-cli`, `opencode`, `openclaw`.
    pub fn id(self) -> &'static str {
        match self {
            Tool::ClaudeCode => "claude-code",
            Tool::Codex => "codex",
            Tool::GeminiCli => "gemini-cli",
            Tool::OpenCode => "opencode",
            Tool::OpenClaw => "openclaw",
        }
    }

    /// The name users know the tool by.
    pub fn display_name(self) -> &'static str {
        match self {
            Tool::ClaudeCode => "Claude Code",
            Tool::Codex => "Codex",
            Tool::GeminiCli => "Gemini CLI",
            Tool::OpenCode => "OpenCode",
            Tool::OpenClaw => "OpenClaw",
        }
    }

    /// Every tool reads its config only at start, so a running one keeps the old provider.
    pub fn restart_hint(self) -> String {
        format!("Restart {} to apply", self.display_name())
    }

    /// The prefix of the per-tool client key (`sy-claude-…`), so usage can be attributed per tool.
    pub fn key_prefix(self) -> &'static str {
        match self {
            Tool::ClaudeCode => "sy-claude-",
            Tool::Codex => "sy-codex-",
            Tool::GeminiCli => "sy-gemini-",
            Tool::OpenCode => "sy-opencode-",
            Tool::OpenClaw => "sy-openclaw-",
        }
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown tool {0:?}; expected one of claude-code, codex, gemini-cli, opencode, openclaw")]
pub struct UnknownTool(pub String);

impl FromStr for Tool {
    type Err = UnknownTool;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tool::ALL
            .into_iter()
            .find(|t| t.id() == s)
            .ok_or_else(|| UnknownTool(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_match_serde() {
        for t in Tool::ALL {
            assert_eq!(t.id().parse::<Tool>().unwrap(), t);
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{}\"", t.id())
            );
        }
        assert!("claude".parse::<Tool>().is_err());
    }
}
