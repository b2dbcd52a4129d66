//! Gateway client keys (`sy-…`): one per tool, so usage is attributed and a tool can be revoked.
//! Only a sha256 of each key is stored; the key itself is shown once, when it is created.

use super::{Db, StorageError};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientKey {
    pub id: i64,
    pub label: String,
    /// The first characters of the key, so a user can tell keys apart.
    pub prefix: String,
    pub daily_usd: Option<f64>,
    pub weekly_usd: Option<f64>,
    pub monthly_usd: Option<f64>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

pub fn hash(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

/// Lower-case hex of some bytes (digests, random key material).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A new random key: `sy-<label-ish>-<32 hex>`.
pub fn generate(label: &str) -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    let tag: String = label
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(12)
        .collect::<String>()
        .to_ascii_lowercase();
    let hex = hex(&bytes);
    if tag.is_empty() {
        format!("sy-{hex}")
    } else {
        format!("sy-{tag}-{hex}")
    }
}

const COLUMNS: &str =
    "id, label, prefix, daily_usd, weekly_usd, monthly_usd, created_at, revoked_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ClientKey> {
    Ok(ClientKey {
        id: r.get(0)?,
        label: r.get(1)?,
        prefix: r.get(2)?,
        daily_usd: r.get(3)?,
        weekly_usd: r.get(4)?,
        monthly_usd: r.get(5)?,
        created_at: r.get(6)?,
        revoked_at: r.get(7)?,
    })
}

/// Budgets in USD per calendar day / ISO week / month (UTC); None = no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Budgets {
    pub daily_usd: Option<f64>,
    pub weekly_usd: Option<f64>,
    pub monthly_usd: Option<f64>,
}

impl Db {
    /// Stores a new key (only its hash) and returns the row.
    pub fn insert_key(
        &self,
        label: &str,
        key: &str,
        b: Budgets,
    ) -> Result<ClientKey, StorageError> {
        let prefix: String = key.chars().take(10).collect();
        let id = self.with(|c| {
            c.execute(
                "INSERT INTO api_keys (label, prefix, hash, daily_usd, weekly_usd, monthly_usd)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    label,
                    prefix,
                    hash(key),
                    b.daily_usd,
                    b.weekly_usd,
                    b.monthly_usd
                ],
            )?;
            Ok(c.last_insert_rowid())
        })?;
        self.get_key(id)?
            .ok_or_else(|| StorageError::Corrupt("key vanished after insert".into()))
    }

    pub fn get_key(&self, id: i64) -> Result<Option<ClientKey>, StorageError> {
        self.with(|c| {
            Ok(c.query_row(
                &format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?1"),
                [id],
                row,
            )
            .optional()?)
        })
    }

    pub fn list_keys(&self) -> Result<Vec<ClientKey>, StorageError> {
        self.with(|c| {
            let mut s = c.prepare(&format!("SELECT {COLUMNS} FROM api_keys ORDER BY id"))?;
            let r = s.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
            Ok(r)
        })
    }

    /// Active (not revoked) keys with their hashes, for the in-memory lookup table.
    pub fn active_key_hashes(&self) -> Result<Vec<(String, ClientKey)>, StorageError> {
        self.with(|c| {
            let mut s = c.prepare(&format!(
                "SELECT {COLUMNS}, hash FROM api_keys WHERE revoked_at IS NULL"
            ))?;
            let r = s
                .query_map([], |r| Ok((r.get(8)?, row(r)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(r)
        })
    }

    pub fn revoke_key(&self, id: i64) -> Result<bool, StorageError> {
        self.with(|c| {
            Ok(c.execute(
                "UPDATE api_keys SET revoked_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
                 WHERE id = ?1 AND revoked_at IS NULL",
                [id],
            )? > 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stored_as_hashes_and_revocable() {
        let db = Db::open_in_memory().unwrap();
        let key = generate("Claude Code");
        assert!(key.starts_with("sy-claudecode-") && key.len() > 40, "{key}");
        let k = db.insert_key("claude", &key, Budgets::default()).unwrap();
        let raw: String = db
            .with(|c| Ok(c.query_row("SELECT hash FROM api_keys", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(raw, hash(&key));
        assert!(!raw.contains(&key[3..]));
        assert_eq!(db.active_key_hashes().unwrap().len(), 1);
        assert!(db.revoke_key(k.id).unwrap());
        assert!(!db.revoke_key(k.id).unwrap());
        assert!(db.active_key_hashes().unwrap().is_empty());
        assert!(db.list_keys().unwrap()[0].revoked_at.is_some());
    }
}
