//! SQLite storage (embedded, bundled SQLite). Holds configuration, never secrets: a provider row
//! carries only the name of its keychain entry.

pub mod accounts;
pub mod aliases;
pub mod combos;
pub mod keys;
mod migrations;
mod providers;
pub mod settings;
pub mod usage;

pub use accounts::Account;
pub use aliases::Alias;
pub use combos::{Combo, ComboConfig, ComboTarget};
pub use providers::{NewProvider, Provider, ProviderView};

use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("cannot create data directory {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("a provider named {0:?} already exists")]
    Duplicate(String),
    #[error("an alias {0:?} already exists")]
    DuplicateAlias(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// A handle to the database. Calls are short; callers on async paths use `spawn_blocking`.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

pub const DB_FILE: &str = "switchyard.db";

impl Db {
    /// Opens (creating if needed) `<data_dir>/switchyard.db` and brings the schema up to date.
    pub fn open(data_dir: &Path) -> Result<Self, StorageError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StorageError::CreateDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let conn = Connection::open(data_dir.join(DB_FILE))?;
        Self::init(conn)
    }

    /// An in-memory database (tests).
    pub fn open_in_memory() -> Result<Self, StorageError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Self, StorageError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::migrations().to_latest(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        // A poisoned lock only means another call panicked mid-way; SQLite keeps its own consistency.
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut conn)
    }

    /// The schema version (SQLite `user_version`).
    pub fn schema_version(&self) -> Result<i64, StorageError> {
        self.with(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?))
    }
}
