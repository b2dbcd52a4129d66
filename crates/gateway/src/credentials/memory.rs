//! In-memory secret store: for tests, and explicit `SecretsMode::Memory`. Never a silent default.

use super::{SecretError, SecretStore};
use crate::sync::MutexExt;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, String>>,
}

impl MemoryStore {
    pub fn len(&self) -> usize {
        self.lock().len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.entries.lock_or_recover()
    }
}

impl SecretStore for MemoryStore {
    fn backend(&self) -> &'static str {
        "memory"
    }
    fn persistent(&self) -> bool {
        false
    }
    fn set(&self, entry: &str, secret: &str) -> Result<(), SecretError> {
        self.lock().insert(entry.into(), secret.into());
        Ok(())
    }
    fn get(&self, entry: &str) -> Result<Option<String>, SecretError> {
        Ok(self.lock().get(entry).cloned())
    }
    fn delete(&self, entry: &str) -> Result<(), SecretError> {
        self.lock().remove(entry);
        Ok(())
    }
}
