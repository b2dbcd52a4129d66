//! Switchyard engine: a local AI gateway.
//!
//! The crate has no GUI dependency: the desktop shell (`src-tauri`) and the headless `switchyard`
//! binary both call [`start`] and get a running [`Gateway`].

pub mod admin;
pub mod api;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod error;
pub mod formats;
pub mod proxy;
pub mod quirks;
pub mod quota;
pub mod routing;
pub mod server;
pub mod state;
pub mod storage;
pub mod sync;
pub mod url_credentials;
pub mod usage;

pub use config::{ConfigError, GatewayConfig, SecretsMode};
pub use server::{start, Gateway, StartError};
pub use storage::ProviderView;

/// The version reported by `/health` and `--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
