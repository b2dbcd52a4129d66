//! Gateway configuration: where to listen, where data lives, how secrets are kept.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

/// Default port of the gateway (what the CLI configurators point coding tools at).
pub const DEFAULT_PORT: u16 = 20128;
/// docs/formats.md §5: a keepalive every 15 s of upstream silence.
pub const DEFAULT_KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(15);
/// Default request body limit: long Claude Code contexts with images exceed 10 MB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// How provider credentials are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretsMode {
    /// The OS keychain (macOS Keychain, Windows Credential Manager, Secret Service). The default.
    Keychain,
    /// A plaintext file in the data dir (mode 0600). Only with an explicit opt-in for servers
    /// that have no keychain.
    InsecureFile,
    /// Process memory only: secrets are lost at exit. For tests.
    Memory,
}

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub host: IpAddr,
    pub port: u16,
    pub data_dir: PathBuf,
    pub secrets: SecretsMode,
    pub max_body_bytes: usize,
    /// Extra host names accepted in the `Host` header (when bound beyond loopback).
    pub allowed_hosts: Vec<String>,
    /// Keychain service name under which entries are stored.
    pub keychain_service: String,
    /// Silence after which a translated stream gets a keepalive in the client's framing, so
    /// clients and proxies do not time out while a model thinks.
    pub keepalive: std::time::Duration,
    /// One HTTP proxy for every upstream call. `None`: the usual `HTTPS_PROXY`, `HTTP_PROXY`,
    /// `ALL_PROXY` and `NO_PROXY` variables decide (`SWITCHYARD_UPSTREAM_PROXY` sets this).
    pub upstream_proxy: Option<String>,
    /// How long a client may take to send its request headers: a socket that sends half of them
    /// and stalls is closed after this (remote mode faces it directly). The body has its own
    /// bound, `error::BODY_READ_TIMEOUT`.
    pub client_timeout: std::time::Duration,
}

/// The default [`GatewayConfig::client_timeout`].
pub const CLIENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("SWITCHYARD_PORT must be a port number (1-65535), got {0:?}")]
    BadPort(String),
    #[error("cannot determine a data directory for this user (no home directory?); set SWITCHYARD_DATA_DIR")]
    NoDataDir,
}

impl GatewayConfig {
    /// Defaults for this user, with `SWITCHYARD_PORT`, `SWITCHYARD_DATA_DIR` and
    /// `SWITCHYARD_KEYCHAIN_SERVICE` overrides.
    pub fn from_env() -> Result<Self, ConfigError> {
        let port = match std::env::var("SWITCHYARD_PORT") {
            Ok(p) if !p.is_empty() => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or(ConfigError::BadPort(p))?,
            _ => DEFAULT_PORT,
        };
        let data_dir = match std::env::var_os("SWITCHYARD_DATA_DIR") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => default_data_dir()?,
        };
        let keychain_service = std::env::var("SWITCHYARD_KEYCHAIN_SERVICE")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "dev.switchyard.app".to_string());
        Ok(Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port,
            data_dir,
            secrets: SecretsMode::Keychain,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            allowed_hosts: Vec::new(),
            keychain_service,
            keepalive: DEFAULT_KEEPALIVE,
            upstream_proxy: std::env::var("SWITCHYARD_UPSTREAM_PROXY")
                .ok()
                .filter(|s| !s.is_empty()),
            client_timeout: CLIENT_TIMEOUT,
        })
    }
}

/// The per-user data dir: `~/.local/share/switchyard` on Linux,
/// `~/Library/Application Support/dev.switchyard.switchyard` on macOS, `%APPDATA%\switchyard\switchyard\data` on Windows.
pub fn default_data_dir() -> Result<PathBuf, ConfigError> {
    directories::ProjectDirs::from("dev", "switchyard", "switchyard")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or(ConfigError::NoDataDir)
}
