//! Starting and stopping the gateway: storage, credentials, listener, router.

use crate::api;
use crate::config::{GatewayConfig, SecretsMode};
use crate::credentials::{Credentials, InsecureFileStore, KeychainStore, MemoryStore, SecretStore};
use crate::storage::keys::ClientKey;
use crate::storage::{Db, Provider, ProviderView, StorageError};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// Shared state of a running gateway.
pub struct AppState {
    pub config: GatewayConfig,
    pub db: Db,
    pub credentials: Credentials,
    /// Providers as loaded from the database; the request path reads only this snapshot.
    providers: RwLock<Arc<Vec<Provider>>>,
    /// Model aliases, same snapshot scheme.
    aliases: RwLock<Arc<Vec<crate::storage::Alias>>>,
    /// Sends requests to providers (straight, or through the user's HTTP proxy).
    pub http: crate::proxy::transport::Transport,
    changes: watch::Sender<u64>,
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
    prices: RwLock<Arc<crate::usage::prices::Prices>>,
    /// Active client keys by sha256.
    keys: RwLock<Arc<HashMap<String, ClientKey>>>,
    settings: RwLock<Arc<Settings>>,
    pub cache: crate::proxy::ResponseCache,
    pub idempotency: crate::proxy::IdempotencyTable,
    /// Routing events for the tray's notifications and `/api/events` (failovers, pause changes).
    pub events: tokio::sync::broadcast::Sender<GatewayEvent>,
    /// While paused, client requests get a 503 telling the user to resume (runtime only).
    paused: std::sync::atomic::AtomicBool,
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
    /// Desktop notifications, each kind switchable (quota.md §7); on by default.
    pub notify: NotifySettings,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct NotifySettings {
    /// A quota window crossing 80 % / 95 %.
    pub thresholds: bool,
    /// A quota window exhausted.
    pub exhausted: bool,
    /// A window reset (the account is available again).
    pub resets: bool,
    /// A combo failing over to a later target.
    pub failover: bool,
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            thresholds: true,
            exhausted: true,
            resets: true,
            failover: true,
        }
    }
}

impl AppState {
    pub fn providers(&self) -> Arc<Vec<Provider>> {
        self.providers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn aliases(&self) -> Arc<Vec<crate::storage::Alias>> {
        self.aliases
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn reload_aliases(&self) -> Result<(), StorageError> {
        let fresh = Arc::new(self.db.list_aliases()?);
        *self.aliases.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        self.changes.send_modify(|v| *v += 1);
        Ok(())
    }

    pub fn prices(&self) -> Arc<crate::usage::prices::Prices> {
        self.prices
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn reload_prices(&self) -> Result<(), StorageError> {
        let fresh = Arc::new(crate::usage::prices::Prices::new(self.db.list_prices()?));
        *self.prices.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    pub fn client_key(&self, hash: &str) -> Option<ClientKey> {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(hash)
            .cloned()
    }

    pub fn reload_keys(&self) -> Result<(), StorageError> {
        let fresh: HashMap<String, ClientKey> = self.db.active_key_hashes()?.into_iter().collect();
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(fresh);
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
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_settings(&self, s: Settings) -> Result<(), StorageError> {
        self.db.set_setting("gateway", &s)?;
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(s);
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
        *self.providers.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        self.changes.send_modify(|v| *v += 1);
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("port {} on {} is already in use — is another Switchyard (or another program) running? Stop it, or choose another port with SWITCHYARD_PORT=<port> (or `switchyard serve --port <port>`).", .addr.port(), .addr.ip())]
    PortInUse { addr: SocketAddr },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot open the database in {dir}: {source}")]
    Storage { dir: String, source: StorageError },
    #[error(transparent)]
    Http(#[from] crate::proxy::transport::BuildError),
}

const ADMIN_TOKEN_ENTRY: &str = "admin:token";

/// The per-install admin token: read from the secret store, created on first start. Without a
/// usable store it lives for this run only (remote management then needs the printed token).
async fn admin_token(credentials: &Credentials) -> String {
    if let Ok(Some(t)) = credentials.get(ADMIN_TOKEN_ENTRY).await {
        return t;
    }
    let t = crate::storage::keys::generate("admin");
    if let Err(e) = credentials.set(ADMIN_TOKEN_ENTRY, &t).await {
        tracing::debug!("admin token not persisted: {e}");
    }
    t
}

/// A running gateway. Dropping it does not stop the server; call [`Gateway::shutdown`].
pub struct Gateway {
    state: Arc<AppState>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    flusher: tokio::task::JoinHandle<()>,
}

/// Starts the gateway: opens storage, probes the keychain, binds the listener and serves.
/// Must be called inside a tokio runtime.
pub async fn start(config: GatewayConfig) -> Result<Gateway, StartError> {
    let db = Db::open(&config.data_dir).map_err(|source| StartError::Storage {
        dir: config.data_dir.display().to_string(),
        source,
    })?;
    let store: Arc<dyn SecretStore> = match config.secrets {
        SecretsMode::Keychain => Arc::new(KeychainStore::new(config.keychain_service.clone())),
        SecretsMode::InsecureFile => Arc::new(InsecureFileStore::new(&config.data_dir)),
        SecretsMode::Memory => Arc::new(MemoryStore::default()),
    };
    start_with_store(config, db, store).await
}

/// Like [`start`] with an explicit database and secret store (tests, embedding).
pub async fn start_with_store(
    config: GatewayConfig,
    db: Db,
    store: Arc<dyn SecretStore>,
) -> Result<Gateway, StartError> {
    let addr = SocketAddr::new(config.host, config.port);
    // Bind before the (possibly slow) keychain probe so a port conflict is reported at once.
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::AddrInUse {
                StartError::PortInUse { addr }
            } else {
                StartError::Bind { addr, source }
            }
        })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })?;
    let credentials = Credentials::new(store).await;
    let status = credentials.status();
    if status.can_store_secrets && status.persistent {
        tracing::info!(backend = %status.backend, "keychain probe passed: secrets persist");
    } else {
        tracing::warn!(backend = %status.backend, "keychain is not usable or not persistent; see /api/health");
    }
    let providers = db.list_providers().map_err(|source| StartError::Storage {
        dir: config.data_dir.display().to_string(),
        source,
    })?;
    let aliases = db.list_aliases().map_err(|source| StartError::Storage {
        dir: config.data_dir.display().to_string(),
        source,
    })?;
    let http = crate::proxy::transport::Transport::new(config.upstream_proxy.as_deref())?;
    if http.is_proxied() {
        tracing::info!("upstream calls go through the configured HTTP proxy");
    }
    let (catalog, catalog_error) = match crate::catalog::Catalog::load(&config.data_dir) {
        Ok(c) => (c, None),
        Err(e) => {
            // A broken user file must not take the gateway down: use the built-in catalog and say so.
            tracing::warn!("provider catalog: {e}; using the built-in catalog");
            (crate::catalog::Catalog::builtin(), Some(e.to_string()))
        }
    };
    let (changes, _) = watch::channel(0);
    let storage_err = |source| StartError::Storage {
        dir: config.data_dir.display().to_string(),
        source,
    };
    let router =
        crate::routing::Router::new(db.list_combos().map_err(storage_err)?, changes.clone());
    router.set_active(
        db.get_setting::<String>("active_combo")
            .map_err(storage_err)?,
    );
    if let Some(a) = db
        .get_setting::<String>("active_alias")
        .map_err(storage_err)?
    {
        router.set_active_alias(a);
    }
    router.set_global_fallback(
        db.get_setting::<String>("global_fallback")
            .map_err(storage_err)?,
    );
    router.restore(&db.runtime_state("").map_err(storage_err)?);
    for p in &providers {
        if let Some(l) = db
            .get_setting::<crate::routing::limits::Limits>(&format!("limits:{}", p.name))
            .map_err(storage_err)?
        {
            router.set_limits(&p.name, l);
        }
    }
    let prices = crate::usage::prices::Prices::new(db.list_prices().map_err(storage_err)?);
    let keys: HashMap<String, ClientKey> = db
        .active_key_hashes()
        .map_err(storage_err)?
        .into_iter()
        .collect();
    let settings: Settings = db
        .get_setting("gateway")
        .map_err(storage_err)?
        .unwrap_or_default();
    let recorder = crate::usage::Recorder::start(db.clone(), crate::usage::DEFAULT_RETENTION_DAYS);
    let admin_token = admin_token(&credentials).await;
    let state = Arc::new(AppState {
        router,
        recorder,
        prices: RwLock::new(Arc::new(prices)),
        keys: RwLock::new(Arc::new(keys)),
        settings: RwLock::new(Arc::new(settings)),
        cache: crate::proxy::cache_new(),
        idempotency: Default::default(),
        events: tokio::sync::broadcast::channel(256).0,
        paused: std::sync::atomic::AtomicBool::new(false),
        admin_token,
        config,
        db,
        credentials,
        providers: RwLock::new(Arc::new(providers)),
        aliases: RwLock::new(Arc::new(aliases)),
        http,
        changes,
        mutations: tokio::sync::Mutex::new(()),
        local_addr,
        catalog,
        catalog_error,
    });
    // Path normalisation wraps the router so it happens before routing.
    let app = tower::Layer::layer(
        &tower::util::MapRequestLayer::new(api::paths::rewrite),
        api::router(state.clone()),
    );
    // Stream chunks are small writes; without TCP_NODELAY, Nagle + the client's delayed ACK hold
    // each one back ~40 ms (measured with scripts/bench.sh before this line existed).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(
            listener,
            // The peer address lets the guard demand credentials from other machines.
            axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
                SocketAddr,
            >(app),
        )
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        })
        .await;
        if let Err(e) = served {
            tracing::error!("gateway server stopped with an error: {e}");
        }
    });
    // Write-behind of routing state: every 5 s, off the request path.
    let flusher = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                let s = state.clone();
                let _ = tokio::task::spawn_blocking(move || s.flush_runtime()).await;
            }
        })
    };
    tracing::info!("gateway listening on http://{local_addr}");
    Ok(Gateway {
        state,
        stop,
        task,
        flusher,
    })
}

impl Gateway {
    pub fn local_addr(&self) -> SocketAddr {
        self.state.local_addr
    }

    /// The dashboard URL (the gateway serves the embedded UI at `/`).
    pub fn dashboard_url(&self) -> String {
        format!("http://{}/", self.state.local_addr)
    }

    /// The shared state (the desktop shell reads combos and quota from it in-process).
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// The token other machines need for the management API (when bound beyond loopback).
    pub fn admin_token(&self) -> &str {
        &self.state.admin_token
    }

    pub fn keychain_status(&self) -> crate::credentials::KeychainStatus {
        self.state.credentials.status().clone()
    }

    pub async fn providers(&self) -> Vec<ProviderView> {
        self.state
            .providers()
            .iter()
            .map(ProviderView::from)
            .collect()
    }

    /// A counter that changes whenever the provider list changes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.state.changes.subscribe()
    }

    /// Stops accepting connections, lets in-flight requests finish (at most 5 s), then returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(5), &mut task)
            .await
            .is_err()
        {
            tracing::warn!("in-flight requests did not finish within 5 s; closing them");
            task.abort();
            let _ = task.await;
        }
        // Nothing recorded is lost: pending usage rows and routing state reach the database.
        self.flusher.abort();
        self.state.recorder.flush().await;
        let s = self.state.clone();
        let _ = tokio::task::spawn_blocking(move || s.flush_runtime()).await;
        tracing::info!("gateway stopped");
    }
}
