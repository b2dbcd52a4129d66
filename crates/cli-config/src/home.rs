//! Where the tools' config files live.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::{ConfigError, Tool};

/// The user's home directory, plus the tools' own config-dir overrides (`CLAUDE_CONFIG_DIR`,
/// `CODEX_HOME`, `XDG_CONFIG_HOME` for OpenCode) when detected from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    root: PathBuf,
    config_dirs: HashMap<Tool, PathBuf>,
}

impl Home {
    /// `SWITCHYARD_TEST_HOME` wins (tests and sandboxes; on Windows the OS home ignores `HOME`, so
    /// this is the only way to redirect it) and then no tool override is read, so a test never
    /// reaches a real config. Otherwise the OS home from `directories`, with the tools' overrides.
    pub fn detect() -> Result<Home, ConfigError> {
        if let Some(dir) = std::env::var_os("SWITCHYARD_TEST_HOME").filter(|v| !v.is_empty()) {
            return Ok(Home::at(dir));
        }
        let base = directories::BaseDirs::new().ok_or(ConfigError::NoHome)?;
        let mut home = Home::at(base.home_dir());
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(dir) = env("CLAUDE_CONFIG_DIR") {
            home = home.with_config_dir(Tool::ClaudeCode, dir);
        }
        if let Some(dir) = env("CODEX_HOME") {
            home = home.with_config_dir(Tool::Codex, dir);
        }
        if let Some(dir) = env("XDG_CONFIG_HOME") {
            home = home.with_config_dir(Tool::OpenCode, PathBuf::from(dir).join("opencode"));
        }
        Ok(home)
    }

    /// A fixed home with no overrides (tests use a temp dir).
    pub fn at(root: impl Into<PathBuf>) -> Home {
        Home {
            root: root.into(),
            config_dirs: HashMap::new(),
        }
    }

    /// Use `dir` as the tool's config directory instead of the default under the home.
    pub fn with_config_dir(mut self, tool: Tool, dir: impl Into<PathBuf>) -> Home {
        self.config_dirs.insert(tool, dir.into());
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory holding the tool's config files.
    pub fn config_dir(&self, tool: Tool) -> PathBuf {
        if let Some(dir) = self.config_dirs.get(&tool) {
            return dir.clone();
        }
        match tool {
            Tool::ClaudeCode => self.root.join(".claude"),
            Tool::Codex => self.root.join(".codex"),
            Tool::GeminiCli => self.root.join(".gemini"),
            // OpenCode uses the XDG layout on every OS, macOS and Windows included.
            Tool::OpenCode => self.root.join(".config").join("opencode"),
            Tool::OpenClaw => self.root.join(".openclaw"),
        }
    }
}
