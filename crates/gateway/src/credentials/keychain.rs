//! The OS keychain through `keyring` 3, with its real backends compiled in (see Cargo.toml:
//! `apple-native`, `windows-native`, `sync-secret-service`). Without those features keyring
//! silently keeps secrets in memory; the startup probe would still catch that.

use super::{SecretError, SecretStore};

pub struct KeychainStore {
    service: String,
}

impl KeychainStore {
    /// `service` is the keychain service name (`dev.switchyard.app` unless overridden).
    pub fn new(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
        }
    }

    fn entry(&self, name: &str) -> Result<keyring::Entry, SecretError> {
        keyring::Entry::new(&self.service, name).map_err(backend_err)
    }
}

fn backend_err(e: keyring::Error) -> SecretError {
    SecretError::Backend(e.to_string())
}

impl SecretStore for KeychainStore {
    fn backend(&self) -> &'static str {
        if cfg!(target_os = "macos") {
            "macos-keychain"
        } else if cfg!(target_os = "windows") {
            "windows-credential-manager"
        } else {
            "secret-service"
        }
    }

    fn persistent(&self) -> bool {
        true
    }

    fn set(&self, entry: &str, secret: &str) -> Result<(), SecretError> {
        self.entry(entry)?.set_password(secret).map_err(backend_err)
    }

    fn get(&self, entry: &str) -> Result<Option<String>, SecretError> {
        match self.entry(entry)?.get_password() {
            Ok(s) => Ok(Some(s)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(backend_err(e)),
        }
    }

    fn delete(&self, entry: &str) -> Result<(), SecretError> {
        match self.entry(entry)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(backend_err(e)),
        }
    }
}

/// Round trip against the real keychain. Runs only with `--features real-keychain-tests`, under
/// `tests/keyring-session.sh` (dbus-run-session + an unlocked gnome-keyring) in CI.
#[cfg(all(test, feature = "real-keychain-tests"))]
mod real_keychain {
    use super::*;

    #[test]
    fn real_keychain_round_trip_across_entries() {
        let store = KeychainStore::new("dev.switchyard.test");
        let name = format!("provider:test-{}:account:default", std::process::id());
        store.set(&name, "sk-real-keychain").unwrap();
        // A second store object reads it back: the value is in the keychain, not in our memory.
        let again = KeychainStore::new("dev.switchyard.test");
        assert_eq!(
            again.get(&name).unwrap().as_deref(),
            Some("sk-real-keychain")
        );
        again.delete(&name).unwrap();
        assert_eq!(store.get(&name).unwrap(), None);
        let status = super::super::probe(&store);
        assert!(status.can_store_secrets && status.persistent, "{status:?}");
        assert_eq!(status.backend, "secret-service");
    }
}
