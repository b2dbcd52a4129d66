//! What the gateway integration tests share: a loopback test configuration.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use switchyard_gateway::{GatewayConfig, SecretsMode};

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
    }
}
