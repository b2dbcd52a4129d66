//! Starting and stopping the gateway: storage, credentials, listener, router.

use crate::api;
use crate::config::{GatewayConfig, SecretsMode};
use crate::credentials::{Credentials, InsecureFileStore, KeychainStore, MemoryStore, SecretStore};
use crate::storage::{Db, Provider, ProviderView, StorageError};
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
    pub http: reqwest::Client,
    changes: watch::Sender<u64>,
    /// Serialises management mutations (check name, store key, insert row) against each other.
    pub mutations: tokio::sync::Mutex<()>,
    pub local_addr: SocketAddr,
    /// Known providers (built in, overlaid by `<data dir>/providers.toml`).
    pub catalog: crate::catalog::Catalog,
    /// Why the user's catalog file was not used, if it was not.
    pub catalog_error: Option<String>,
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
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// A running gateway. Dropping it does not stop the server; call [`Gateway::shutdown`].
pub struct Gateway {
    state: Arc<AppState>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
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
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let (catalog, catalog_error) = match crate::catalog::Catalog::load(&config.data_dir) {
        Ok(c) => (c, None),
        Err(e) => {
            // A broken user file must not take the gateway down: use the built-in catalog and say so.
            tracing::warn!("provider catalog: {e}; using the built-in catalog");
            (crate::catalog::Catalog::builtin(), Some(e.to_string()))
        }
    };
    let (changes, _) = watch::channel(0);
    let state = Arc::new(AppState {
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
            axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
        )
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        })
        .await;
        if let Err(e) = served {
            tracing::error!("gateway server stopped with an error: {e}");
        }
    });
    tracing::info!("gateway listening on http://{local_addr}");
    Ok(Gateway { state, stop, task })
}

impl Gateway {
    pub fn local_addr(&self) -> SocketAddr {
        self.state.local_addr
    }

    /// The dashboard URL (the gateway serves the embedded UI at `/`).
    pub fn dashboard_url(&self) -> String {
        format!("http://{}/", self.state.local_addr)
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
        tracing::info!("gateway stopped");
    }
}
