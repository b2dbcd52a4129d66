//! The one error type. Messages are shown to users as they are, so they name the file and say what
//! to do.

use std::path::PathBuf;

use crate::Tool;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The existing file cannot be edited safely (bad JSON/TOML, JSON5 syntax, a key of the wrong
    /// type). Nothing was written; the file is byte-for-byte as it was.
    #[error("{} cannot be edited safely: {reason}. Switchyard left it untouched; fix it or add the settings by hand", .path.display())]
    InvalidFile { path: PathBuf, reason: String },

    #[error("could not access {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Restore was asked for but Switchyard never wrote this tool's files (no pristine snapshot).
    #[error("there is no original copy of {tool}'s settings to restore: Switchyard has not changed them")]
    NoOriginal { tool: Tool },

    /// The file kept changing under us (another program writing it) while we tried to write it.
    #[error("{} kept changing while Switchyard was writing it; close other programs editing it and try again", .path.display())]
    Conflict { path: PathBuf },

    /// The caller passed an unusable target (no token, not an http URL).
    #[error("cannot configure: {reason}")]
    InvalidTarget { reason: String },

    /// No home directory could be found (and `SWITCHYARD_TEST_HOME` is not set).
    #[error("could not find your home directory; set SWITCHYARD_TEST_HOME to choose one")]
    NoHome,
}

impl ConfigError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ConfigError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        ConfigError::InvalidFile {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
