//! The shared state of a running gateway: configuration, storage, credentials, the snapshots
//! the request path reads (providers, aliases, prices, keys, settings) and the routing runtime.
//! Every layer above storage reads it; `server.rs` only builds it, starts and stops the listener.

use crate::config::GatewayConfig;
use crate::credentials::Credentials;
use crate::storage::keys::ClientKey;
use crate::storage::{Db, Provider, StorageError};
use crate::sync::RwLockExt;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use tokio::sync::watch;

/// Shared state of a running gateway.
pub struct AppState {
    pub config: GatewayConfig,
    pub db: Db,
    pub credentials: Credentials,
    /// Providers as loaded from the database; the request path reads only this snapshot.
    pub(crate) providers: RwLock<Arc<Vec<Provider>>>,
    /// Model aliases, same snapshot scheme.
    pub(crate) aliases: RwLock<Arc<Vec<crate::storage::Alias>>>,
    /// Sends requests to providers (straight, or through the user's HTTP proxy).
    pub http: crate::proxy::transport::Transport,
    pub(crate) changes: watch::Sender<u64>,
    /// Serialises management mutations (check name, store key, insert row) against each other.
    pub mutations: tokio::sync::Mutex<()>,
    pub local_addr: SocketAddr,
    /// Known providers (built in, overlaid by `<data dir>/providers.toml`).
    pub catalog: crate::catalog::Catalog,
    /// Why the user's catalog file was not used, if it was not.
    pub catalog_error: Option<String>,
    /// Combos, the active combo, and what routing learned (cooldowns, breakers, quota).
    pub router: crate::routing::Router,
    /// The request log writer (batched, off the request path).
    pub recorder: crate::usage::Recorder,
    pub(crate) prices: RwLock<Arc<crate::usage::prices::Prices>>,
    /// Active client keys by sha256.
    pub(crate) keys: RwLock<Arc<HashMap<String, ClientKey>>>,
    pub(crate) settings: RwLock<Arc<Settings>>,
    pub cache: crate::proxy::ResponseCache,
    pub idempotency: crate::proxy::IdempotencyTable,
    /// Routing events for the tray's notifications and `/api/events` (failovers, pause changes).
    pub events: tokio::sync::broadcast::Sender<GatewayEvent>,
    /// While paused, client requests get a 503 telling the user to resume (runtime only).
    pub(crate) paused: std::sync::atomic::AtomicBool,
    /// What other machines must send (`Authorization: Bearer …`) to use the management API when
    /// the gateway binds beyond loopback. Kept in the secret store; never in SQLite or logs.
    pub admin_token: String,
}

/// Something the user may want to hear about, pushed as it happens.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GatewayEvent {
    /// A combo's first choice failed and a later target answered.
    Failover {
        combo: String,
        failed: Vec<String>,
        served_by: String,
    },
    Paused {
        paused: bool,
    },
}

/// Switches the request path reads on every request (kept in `settings`).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Refuse `/v1*` requests without a valid Switchyard client key.
    pub require_api_key: bool,
    /// The exact-match response cache (temperature 0, non-streaming).
    pub cache_enabled: bool,
    /// Desktop notifications, each kind switchable (docs/quota.md §7); on by default.
    pub notify: NotifySettings,
}

pub use switchyard_types::views::NotifySettings;

impl AppState {
    pub fn providers(&self) -> Arc<Vec<Provider>> {
        self.providers.read_or_recover().clone()
    }

    pub fn aliases(&self) -> Arc<Vec<crate::storage::Alias>> {
        self.aliases.read_or_recover().clone()
    }

    pub fn reload_aliases(&self) -> Result<(), StorageError> {
        let fresh = Arc::new(self.db.list_aliases()?);
        *self.aliases.write_or_recover() = fresh;
        self.changes.send_modify(|v| *v += 1);
        Ok(())
    }

    pub fn prices(&self) -> Arc<crate::usage::prices::Prices> {
        self.prices.read_or_recover().clone()
    }

    pub fn reload_prices(&self) -> Result<(), StorageError> {
        let fresh = Arc::new(crate::usage::prices::Prices::new(self.db.list_prices()?));
        *self.prices.write_or_recover() = fresh;
        Ok(())
    }

    pub fn client_key(&self, hash: &str) -> Option<ClientKey> {
        self.keys.read_or_recover().get(hash).cloned()
    }

    pub fn reload_keys(&self) -> Result<(), StorageError> {
        let fresh: HashMap<String, ClientKey> = self.db.active_key_hashes()?.into_iter().collect();
        *self.keys.write_or_recover() = Arc::new(fresh);
        Ok(())
    }

    pub fn paused(&self) -> bool {
        self.paused.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Pauses or resumes serving client requests (the management API keeps working).
    pub fn set_paused(&self, paused: bool) {
        self.paused
            .store(paused, std::sync::atomic::Ordering::Relaxed);
        let _ = self.events.send(GatewayEvent::Paused { paused });
        self.changes.send_modify(|v| *v += 1);
    }

    pub fn settings(&self) -> Arc<Settings> {
        self.settings.read_or_recover().clone()
    }

    pub fn set_settings(&self, s: Settings) -> Result<(), StorageError> {
        self.db.set_setting("gateway", &s)?;
        *self.settings.write_or_recover() = Arc::new(s);
        self.changes.send_modify(|v| *v += 1);
        Ok(())
    }

    pub fn reload_combos(&self) -> Result<(), StorageError> {
        self.router.set_combos(self.db.list_combos()?);
        Ok(())
    }

    /// Makes `name` the active combo (what the active alias routes to), persisted.
    pub fn set_active_combo(&self, name: Option<String>) -> Result<(), StorageError> {
        match &name {
            Some(n) => self.db.set_setting("active_combo", n)?,
            None => self.db.delete_setting("active_combo")?,
        }
        self.router.set_active(name);
        Ok(())
    }

    /// Writes what the router learned and must remember (quota windows, long cooldowns).
    pub fn flush_runtime(&self) {
        let dirty = self.router.take_dirty();
        if dirty.is_empty() {
            return;
        }
        if let Err(e) = self
            .db
            .put_runtime_state(&dirty, crate::routing::now_unix() as i64)
        {
            tracing::warn!("could not persist routing state: {e}");
        }
    }

    /// Runs a storage step of a management call on the blocking pool. The request path shares
    /// the runtime's thread (one event loop by default), and SQLite may wait for its lock while
    /// a usage query or the hourly prune holds it: that wait must not stall every stream.
    pub async fn off_thread<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&AppState) -> T + Send + 'static,
    ) -> T {
        let state = self.clone();
        tokio::task::spawn_blocking(move || f(&state))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }

    /// Re-reads providers from the database and tells subscribers (tray, dashboard) about it.
    pub fn reload_providers(&self) -> Result<(), StorageError> {
        let fresh = Arc::new(self.db.list_providers()?);
        *self.providers.write_or_recover() = fresh;
        self.changes.send_modify(|v| *v += 1);
        Ok(())
    }
}
