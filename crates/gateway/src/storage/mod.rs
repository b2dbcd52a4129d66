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

use crate::sync::MutexExt;
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
        let dir_error = |source| StorageError::CreateDir {
            path: data_dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(data_dir).map_err(dir_error)?;
        // The usage log, key labels and budgets are the user's own: the directory and the
        // database files are private to them (SQLite gives its -wal/-shm files the database
        // file's mode, so the file is created private before SQLite opens it).
        private::dir(data_dir).map_err(dir_error)?;
        let path = data_dir.join(DB_FILE);
        private::file(&path).map_err(dir_error)?;
        let db = Self::init(Connection::open(&path)?)?;
        for suffix in ["-wal", "-shm"] {
            let side = data_dir.join(format!("{DB_FILE}{suffix}"));
            if side.exists() {
                private::file(&side).map_err(dir_error)?;
            }
        }
        Ok(db)
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
        let mut conn = self.conn.lock_or_recover();
        f(&mut conn)
    }

    /// The schema version (SQLite `user_version`).
    pub fn schema_version(&self) -> Result<i64, StorageError> {
        self.with(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?))
    }
}

/// Owner-only permissions for what the gateway keeps on disk (a no-op where modes do not exist).
pub mod private {
    use std::path::Path;

    /// Makes `dir` readable by its owner only (0700).
    pub fn dir(dir: &Path) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let _ = dir;
        Ok(())
    }

    /// Creates `file` if needed and makes it readable by its owner only (0600).
    pub fn file(file: &Path) -> std::io::Result<()> {
        let mut open = std::fs::OpenOptions::new();
        open.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            open.mode(0o600);
            open.open(file)?;
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
        }
        #[cfg(not(unix))]
        open.open(file)?;
        Ok(())
    }

    #[cfg(all(test, unix))]
    mod tests {
        use std::os::unix::fs::PermissionsExt;

        fn mode(p: &std::path::Path) -> u32 {
            std::fs::metadata(p).unwrap().permissions().mode() & 0o777
        }

        #[test]
        fn the_data_dir_and_database_files_are_private() {
            let parent = tempfile::tempdir().unwrap();
            let dir = parent.path().join("data");
            let db = super::super::Db::open(&dir).unwrap();
            db.set_setting("x", &1).unwrap();
            assert_eq!(mode(&dir), 0o700);
            // SQLite creates -wal and -shm while the database is open in WAL mode.
            for f in ["switchyard.db", "switchyard.db-wal", "switchyard.db-shm"] {
                assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
            }
        }

        #[test]
        fn a_data_dir_made_public_earlier_is_made_private() {
            let dir = tempfile::tempdir().unwrap();
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            let file = dir.path().join("switchyard.db");
            std::fs::write(&file, b"").unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            super::super::Db::open(dir.path()).unwrap();
            assert_eq!(mode(dir.path()), 0o700);
            assert_eq!(mode(&file), 0o600);
        }
    }
}
