//! Starting and stopping the gateway: storage, credentials, listener, router.

use crate::api;
use crate::config::{GatewayConfig, SecretsMode};
use crate::credentials::{Credentials, InsecureFileStore, KeychainStore, MemoryStore, SecretStore};
use crate::state::{AppState, Settings};
use crate::storage::keys::ClientKey;
use crate::storage::{Db, ProviderView, StorageError};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{oneshot, watch};

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
    if let Err(e) = crate::admin::providers::move_url_credentials(&state).await {
        tracing::warn!("base URL credentials stay in the database for now: {e}");
    }
    let rewrite: fn(axum::extract::Request) -> axum::extract::Request = api::paths::rewrite;
    let app: App = tower::util::MapRequest::new(api::router(state.clone()), rewrite);
    let (stop, stopped) = oneshot::channel::<()>();
    let timeout = state.config.client_timeout;
    let task = tokio::spawn(serve(listener, app, timeout, stopped));
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

/// At most this many client connections at once; further ones wait in the kernel's accept queue
/// until one closes (so a flood of idle sockets cannot exhaust file descriptors).
const MAX_CONNECTIONS: usize = 1024;

/// The accept loop: HTTP/1.1 and HTTP/2 on each connection, a bound on how long a client may
/// take to send its headers, a cap on open connections, TCP_NODELAY, the peer address for the
/// guard, and a graceful stop that lets requests in flight finish.
async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    header_timeout: Duration,
    mut stopped: oneshot::Receiver<()>,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => s.expect("the semaphore is never closed"),
            _ = &mut stopped => break,
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::debug!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stopped => break,
        };
        // Stream chunks are small writes; without TCP_NODELAY, Nagle + the client's delayed ACK
        // hold each one back ~40 ms (measured with scripts/bench.sh before this line existed).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
        let svc = tower::ServiceExt::map_request(
            app.clone(),
            move |req: axum::http::Request<hyper::body::Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                // The peer address lets the guard demand credentials from other machines.
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req
            },
        );
        let conn = builder.serve_connection_with_upgrades(
            TokioIo::new(tcp),
            hyper_util::service::TowerToHyperService::new(svc),
        );
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The whole HTTP application: path normalisation in front of the routes.
type App =
    tower::util::MapRequest<axum::Router, fn(axum::extract::Request) -> axum::extract::Request>;

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
