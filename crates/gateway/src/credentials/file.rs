//! Opt-in plaintext secrets file for servers without a keychain (`--insecure-file-secrets`).
//! Mode 0600, written atomically (temp file + rename) so a crash never leaves half a file.

use super::{SecretError, SecretStore};
use crate::sync::MutexExt;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

pub const SECRETS_FILE: &str = "secrets.insecure.json";

pub struct InsecureFileStore {
    path: PathBuf,
    lock: Mutex<()>,
}

impl InsecureFileStore {
    pub fn new(data_dir: &std::path::Path) -> Self {
        Self {
            path: data_dir.join(SECRETS_FILE),
            lock: Mutex::new(()),
        }
    }

    fn read(&self) -> Result<BTreeMap<String, String>, SecretError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                SecretError::Backend(format!("{} is not valid JSON: {e}", self.path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(SecretError::Backend(format!(
                "cannot read {}: {e}",
                self.path.display()
            ))),
        }
    }

    fn write(&self, map: &BTreeMap<String, String>) -> Result<(), SecretError> {
        let io = |e: std::io::Error| {
            SecretError::Backend(format!("cannot write {}: {e}", self.path.display()))
        };
        let tmp = self.path.with_extension("json.tmp");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp).map_err(io)?;
        f.write_all(&serde_json::to_vec_pretty(map).expect("map serialises"))
            .map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)
    }
}

impl SecretStore for InsecureFileStore {
    fn backend(&self) -> &'static str {
        "insecure-file"
    }
    fn persistent(&self) -> bool {
        true
    }
    fn set(&self, entry: &str, secret: &str) -> Result<(), SecretError> {
        let _g = self.lock.lock_or_recover();
        let mut map = self.read()?;
        map.insert(entry.into(), secret.into());
        self.write(&map)
    }
    fn get(&self, entry: &str) -> Result<Option<String>, SecretError> {
        let _g = self.lock.lock_or_recover();
        Ok(self.read()?.get(entry).cloned())
    }
    fn delete(&self, entry: &str) -> Result<(), SecretError> {
        let _g = self.lock.lock_or_recover();
        let mut map = self.read()?;
        if map.remove(entry).is_some() {
            self.write(&map)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_store_persists_across_instances_with_owner_only_mode() {
        let dir = tempfile::tempdir().unwrap();
        InsecureFileStore::new(dir.path())
            .set("k", "sk-file")
            .unwrap();
        let again = InsecureFileStore::new(dir.path());
        assert_eq!(again.get("k").unwrap().as_deref(), Some("sk-file"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SECRETS_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        again.delete("k").unwrap();
        assert_eq!(again.get("k").unwrap(), None);
    }
}
