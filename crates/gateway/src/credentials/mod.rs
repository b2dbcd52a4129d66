//! Provider credentials. They live in the OS keychain, never in SQLite, config files or logs.
//!
//! Everything goes through [`SecretStore`]; [`Credentials`] serialises access (Secret Service fails
//! under quick parallel calls), runs the blocking calls off the async runtime and caches secrets
//! for the hot path.

mod file;
mod keychain;
mod memory;

pub use file::InsecureFileStore;
pub use keychain::KeychainStore;
pub use memory::MemoryStore;

use crate::sync::MutexExt;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, thiserror::Error)]
pub enum SecretError {
    #[error("{0}")]
    Backend(String),
    #[error("no secret store is usable: {0}")]
    Unavailable(String),
    #[error("the secret store did not answer within {0:?} (locked keychain waiting for an unlock prompt?)")]
    Timeout(Duration),
}

/// A place secrets can be kept. Implementations are blocking.
pub trait SecretStore: Send + Sync + 'static {
    /// Short backend name shown in diagnostics (`secret-service`, `macos-keychain`, …).
    fn backend(&self) -> &'static str;
    /// Whether secrets survive a restart of the process.
    fn persistent(&self) -> bool;
    fn set(&self, entry: &str, secret: &str) -> Result<(), SecretError>;
    fn get(&self, entry: &str) -> Result<Option<String>, SecretError>;
    /// Removes an entry; removing a missing entry is not an error.
    fn delete(&self, entry: &str) -> Result<(), SecretError>;
}

/// What the startup probe found out about the secret store (reported at `/api/health`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KeychainStatus {
    pub backend: String,
    pub persistent: bool,
    pub can_store_secrets: bool,
    pub detail: Option<String>,
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes, reads back (through a fresh lookup) and deletes a canary entry. A single `Ok` from a
/// keychain API proves nothing (keyring without backends "succeeds" in memory), so all three must
/// agree before we trust the store.
pub fn probe(store: &dyn SecretStore) -> KeychainStatus {
    let canary_entry = format!(
        "app:canary:{}:{}",
        std::process::id(),
        crate::clock::now_nanos()
    );
    let canary_value = format!("canary-{canary_entry}");
    let result = (|| {
        store.set(&canary_entry, &canary_value)?;
        let read = store.get(&canary_entry)?;
        if read.as_deref() != Some(canary_value.as_str()) {
            return Err(SecretError::Backend(
                "a value written to it could not be read back".into(),
            ));
        }
        store.delete(&canary_entry)?;
        if store.get(&canary_entry)?.is_some() {
            return Err(SecretError::Backend(
                "a deleted entry is still there".into(),
            ));
        }
        Ok(())
    })();
    match result {
        Ok(()) => KeychainStatus {
            backend: store.backend().into(),
            persistent: store.persistent(),
            can_store_secrets: true,
            detail: (!store.persistent()).then(|| {
                "secrets are kept in memory only and are lost when Switchyard stops".into()
            }),
        },
        Err(e) => KeychainStatus {
            backend: store.backend().into(),
            persistent: false,
            can_store_secrets: false,
            detail: Some(format!(
                "the {} keychain is not usable ({e}); Switchyard will not store API keys. {}",
                store.backend(),
                unavailable_hint()
            )),
        },
    }
}

fn unavailable_hint() -> &'static str {
    if cfg!(target_os = "linux") {
        "Start and unlock a Secret Service provider (GNOME Keyring: `gnome-keyring-daemon --unlock`, or KeePassXC), \
         or on a server without one run `switchyard serve --insecure-file-secrets` to keep keys in a 0600 file in the data directory."
    } else {
        "Unlock the system keychain and restart Switchyard."
    }
}

/// The gateway's credential service: one lock around the store, blocking calls off the runtime,
/// an in-memory cache for the request path.
#[derive(Clone)]
pub struct Credentials {
    store: Arc<dyn SecretStore>,
    lock: Arc<Mutex<()>>,
    cache: Arc<Mutex<HashMap<String, String>>>,
    status: KeychainStatus,
}

impl Credentials {
    /// Probes the store (bounded in time) and wraps it.
    pub async fn new(store: Arc<dyn SecretStore>) -> Self {
        let lock = Arc::new(Mutex::new(()));
        let backend = store.backend();
        let probe_store = store.clone();
        let probe_lock = lock.clone();
        let probed = tokio::time::timeout(
            PROBE_TIMEOUT,
            tokio::task::spawn_blocking(move || {
                let _g = probe_lock.lock_or_recover();
                probe(probe_store.as_ref())
            }),
        )
        .await;
        let status = match probed {
            Ok(Ok(status)) => status,
            Ok(Err(join)) => failed_status(backend, format!("the keychain probe crashed: {join}")),
            Err(_) => failed_status(backend, SecretError::Timeout(PROBE_TIMEOUT).to_string()),
        };
        Self {
            store,
            lock,
            cache: Arc::default(),
            status,
        }
    }

    pub fn status(&self) -> &KeychainStatus {
        &self.status
    }

    fn ensure_usable(&self) -> Result<(), SecretError> {
        if self.status.can_store_secrets {
            Ok(())
        } else {
            Err(SecretError::Unavailable(
                self.status.detail.clone().unwrap_or_default(),
            ))
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn SecretStore) -> Result<T, SecretError> + Send + 'static,
    ) -> Result<T, SecretError> {
        let store = self.store.clone();
        let lock = self.lock.clone();
        let call = tokio::task::spawn_blocking(move || {
            let _g = lock.lock_or_recover();
            f(store.as_ref())
        });
        match tokio::time::timeout(PROBE_TIMEOUT, call).await {
            Ok(Ok(r)) => r,
            Ok(Err(join)) => Err(SecretError::Backend(format!(
                "keychain call crashed: {join}"
            ))),
            Err(_) => Err(SecretError::Timeout(PROBE_TIMEOUT)),
        }
    }

    pub async fn set(&self, entry: &str, secret: &str) -> Result<(), SecretError> {
        self.ensure_usable()?;
        let (e, s) = (entry.to_string(), secret.to_string());
        self.blocking(move |st| st.set(&e, &s)).await?;
        self.cache_lock()
            .insert(entry.to_string(), secret.to_string());
        Ok(())
    }

    pub async fn get(&self, entry: &str) -> Result<Option<String>, SecretError> {
        if let Some(s) = self.cache_lock().get(entry) {
            return Ok(Some(s.clone()));
        }
        self.ensure_usable()?;
        let e = entry.to_string();
        let found = self.blocking(move |st| st.get(&e)).await?;
        if let Some(s) = &found {
            self.cache_lock().insert(entry.to_string(), s.clone());
        }
        Ok(found)
    }

    pub async fn delete(&self, entry: &str) -> Result<(), SecretError> {
        self.cache_lock().remove(entry);
        self.ensure_usable()?;
        let e = entry.to_string();
        self.blocking(move |st| st.delete(&e)).await
    }

    fn cache_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.cache.lock_or_recover()
    }
}

fn failed_status(backend: &str, why: String) -> KeychainStatus {
    KeychainStatus {
        backend: backend.into(),
        persistent: false,
        can_store_secrets: false,
        detail: Some(format!(
            "the {backend} keychain is not usable ({why}); Switchyard will not store API keys. {}",
            unavailable_hint()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store whose backend refuses every call, like Secret Service without a session bus.
    struct Broken;
    impl SecretStore for Broken {
        fn backend(&self) -> &'static str {
            "secret-service"
        }
        fn persistent(&self) -> bool {
            true
        }
        fn set(&self, _: &str, _: &str) -> Result<(), SecretError> {
            Err(SecretError::Backend("no session bus".into()))
        }
        fn get(&self, _: &str) -> Result<Option<String>, SecretError> {
            Err(SecretError::Backend("no session bus".into()))
        }
        fn delete(&self, _: &str) -> Result<(), SecretError> {
            Err(SecretError::Backend("no session bus".into()))
        }
    }

    /// A store that says Ok but forgets, like keyring 3 without backend features.
    struct Forgetful;
    impl SecretStore for Forgetful {
        fn backend(&self) -> &'static str {
            "secret-service"
        }
        fn persistent(&self) -> bool {
            true
        }
        fn set(&self, _: &str, _: &str) -> Result<(), SecretError> {
            Ok(())
        }
        fn get(&self, _: &str) -> Result<Option<String>, SecretError> {
            Ok(None)
        }
        fn delete(&self, _: &str) -> Result<(), SecretError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn memory_store_round_trips_and_says_it_is_not_persistent() {
        let c = Credentials::new(Arc::new(MemoryStore::default())).await;
        assert!(c.status().can_store_secrets);
        assert!(!c.status().persistent);
        c.set("provider:a:account:default", "sk-1").await.unwrap();
        assert_eq!(
            c.get("provider:a:account:default")
                .await
                .unwrap()
                .as_deref(),
            Some("sk-1")
        );
        c.delete("provider:a:account:default").await.unwrap();
        assert_eq!(c.get("provider:a:account:default").await.unwrap(), None);
    }

    #[tokio::test]
    async fn broken_store_refuses_to_store_with_a_clear_reason() {
        let c = Credentials::new(Arc::new(Broken)).await;
        let s = c.status();
        assert!(!s.can_store_secrets && !s.persistent);
        assert!(s.detail.as_ref().unwrap().contains("no session bus"));
        let err = c.set("x", "sk").await.unwrap_err();
        assert!(matches!(err, SecretError::Unavailable(_)), "{err}");
    }

    #[tokio::test]
    async fn a_store_that_forgets_is_detected() {
        let c = Credentials::new(Arc::new(Forgetful)).await;
        assert!(!c.status().can_store_secrets);
        assert!(c.status().detail.as_ref().unwrap().contains("read back"));
    }

    #[tokio::test]
    async fn probe_leaves_no_canary_behind() {
        let store = Arc::new(MemoryStore::default());
        let _ = Credentials::new(store.clone()).await;
        assert_eq!(store.len(), 0);
    }
}
