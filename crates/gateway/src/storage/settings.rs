//! Settings: small JSON values by key (active combo, its alias, require_api_key, cache switch),
//! plus `runtime_state`: what the router learned and should remember across restarts.

use super::{Db, StorageError};
use rusqlite::{params, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;

impl Db {
    pub fn get_setting<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StorageError> {
        let raw: Option<String> = self.with(|c| {
            Ok(
                c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })?;
        raw.map(|v| {
            serde_json::from_str(&v)
                .map_err(|e| StorageError::Corrupt(format!("setting {key:?}: {e}")))
        })
        .transpose()
    }

    pub fn set_setting<T: Serialize>(&self, key: &str, value: &T) -> Result<(), StorageError> {
        let v = serde_json::to_string(value).expect("settings serialise");
        self.with(|c| {
            c.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = ?2",
                params![key, v],
            )?;
            Ok(())
        })
    }

    pub fn delete_setting(&self, key: &str) -> Result<(), StorageError> {
        self.with(|c| {
            c.execute("DELETE FROM settings WHERE key = ?1", [key])?;
            Ok(())
        })
    }

    /// Writes several runtime-state entries in one transaction (write-behind from the router).
    pub fn put_runtime_state(
        &self,
        entries: &[(String, String)],
        now: i64,
    ) -> Result<(), StorageError> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut s = tx.prepare_cached(
                    "INSERT INTO runtime_state (key, value, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(key) DO UPDATE SET value = ?2, updated_at = ?3",
                )?;
                for (k, v) in entries {
                    s.execute(params![k, v, now])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    pub fn delete_runtime_state(&self, prefix: &str) -> Result<usize, StorageError> {
        self.with(|c| {
            Ok(c.execute(
                "DELETE FROM runtime_state WHERE substr(key, 1, length(?1)) = ?1",
                [prefix],
            )?)
        })
    }

    pub fn runtime_state(&self, prefix: &str) -> Result<Vec<(String, String)>, StorageError> {
        self.with(|c| {
            let mut s = c.prepare(
                "SELECT key, value FROM runtime_state WHERE substr(key, 1, length(?1)) = ?1",
            )?;
            let rows = s
                .query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_and_runtime_state_round_trip() {
        let db = Db::open_in_memory().unwrap();
        assert_eq!(db.get_setting::<String>("active_combo").unwrap(), None);
        db.set_setting("active_combo", &"work").unwrap();
        db.set_setting("active_combo", &"cheap").unwrap();
        assert_eq!(
            db.get_setting::<String>("active_combo").unwrap().as_deref(),
            Some("cheap")
        );
        db.put_runtime_state(
            &[
                ("quota:a/x".into(), "[]".into()),
                ("cool:a".into(), "1".into()),
            ],
            5,
        )
        .unwrap();
        assert_eq!(db.runtime_state("quota:").unwrap().len(), 1);
    }
}
