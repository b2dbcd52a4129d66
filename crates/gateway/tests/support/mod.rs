//! What the gateway integration tests share: a loopback test configuration and a running
//! gateway + mock upstream pair with small HTTP helpers.

use mock_upstream::{MockConfig, MockUpstream};
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;
use switchyard_gateway::credentials::{MemoryStore, SecretStore};
use switchyard_gateway::server::start_with_store;
use switchyard_gateway::storage::Db;
use switchyard_gateway::{Gateway, GatewayConfig, SecretsMode};

/// A gateway on 127.0.0.1 (free port) with in-memory secrets, a 64 KiB body limit and fast
/// keepalives; tests change single fields with struct update syntax.
pub fn config(data_dir: &std::path::Path) -> GatewayConfig {
    GatewayConfig {
        host: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: 0,
        data_dir: data_dir.to_path_buf(),
        secrets: SecretsMode::Memory,
        max_body_bytes: 64 * 1024,
        allowed_hosts: vec![],
        keychain_service: "dev.switchyard.test".into(),
        keepalive: Duration::from_millis(300),
        upstream_proxy: None,
        client_timeout: switchyard_gateway::config::CLIENT_TIMEOUT,
    }
}

/// A gateway on loopback (its data in a temp dir) and a mock upstream. Each test file adds the
/// helpers its own tests speak in (`impl Env` blocks there).
pub struct Env {
    pub gw: Gateway,
    pub mock: MockUpstream,
    pub http: reqwest::Client,
    /// Kept so the data directory lives as long as the gateway (not every test reads it).
    #[allow(dead_code)]
    pub dir: tempfile::TempDir,
}

// Every test file uses a different part of this.
#[allow(dead_code)]
impl Env {
    pub async fn new(mock: MockConfig) -> Self {
        Self::with_store(mock, Arc::new(MemoryStore::default())).await
    }

    pub async fn with_store(mock: MockConfig, store: Arc<dyn SecretStore>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let gw = start_with_store(config(dir.path()), db, store)
            .await
            .unwrap();
        let mock = mock_upstream::start(mock, 0).await.unwrap();
        Self {
            gw,
            mock,
            http: reqwest::Client::new(),
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.gw.local_addr())
    }

    /// A management call (with the admin header): status and JSON body (`null` if none).
    pub async fn api(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .request(method, self.url(path))
            .header("x-switchyard-admin", "1")
            .json(&body)
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// `GET path` as a plain client would (no admin header), its body parsed as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}
