//! Accounts: the credentials of one provider (several API keys, later OAuth sign-ins). Each row
//! names its keychain entry; the secret itself never reaches SQLite.

use super::{Db, StorageError};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub provider: String,
    /// Stable id within the provider (`default`, `work`, `personal`); part of the keychain entry.
    pub label: String,
    #[serde(skip_serializing)]
    pub key_ref: Option<String>,
    pub enabled: bool,
    /// Lower first (fill-first order).
    pub priority: u32,
    pub created_at: String,
}

/// What the management API shows of an account (never its key).
pub fn view(a: &Account) -> switchyard_types::views::AccountView {
    switchyard_types::views::AccountView {
        provider: a.provider.clone(),
        label: a.label.clone(),
        enabled: a.enabled,
        priority: a.priority,
        created_at: a.created_at.clone(),
    }
}

/// The keychain entry name of one account.
pub fn key_ref(provider: &str, label: &str) -> String {
    format!("provider:{provider}:account:{label}")
}

/// Labels become part of keychain entry names and URLs.
pub fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 64
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

const COLUMNS: &str = "provider, label, key_ref, enabled, priority, created_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        provider: r.get(0)?,
        label: r.get(1)?,
        key_ref: r.get(2)?,
        enabled: r.get::<_, i64>(3)? != 0,
        priority: r.get::<_, i64>(4)?.clamp(0, u32::MAX as i64) as u32,
        created_at: r.get(5)?,
    })
}

impl Db {
    /// Every account, ordered by provider then priority then creation.
    pub fn list_accounts(&self) -> Result<Vec<Account>, StorageError> {
        self.with(|c| {
            let mut s = c.prepare(&format!(
                "SELECT {COLUMNS} FROM accounts ORDER BY provider, priority, id"
            ))?;
            let rows = s.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    pub fn get_account(
        &self,
        provider: &str,
        label: &str,
    ) -> Result<Option<Account>, StorageError> {
        self.with(|c| {
            Ok(c.query_row(
                &format!("SELECT {COLUMNS} FROM accounts WHERE provider = ?1 AND label = ?2"),
                params![provider, label],
                row,
            )
            .optional()?)
        })
    }

    pub fn insert_account(&self, a: &Account) -> Result<Account, StorageError> {
        let n = self.with(|c| {
            Ok(c.execute(
                "INSERT INTO accounts (provider, label, key_ref, enabled, priority)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(provider, label) DO NOTHING",
                params![
                    a.provider,
                    a.label,
                    a.key_ref,
                    a.enabled as i64,
                    a.priority as i64
                ],
            )?)
        })?;
        if n == 0 {
            return Err(StorageError::Duplicate(format!(
                "{}/{}",
                a.provider, a.label
            )));
        }
        self.get_account(&a.provider, &a.label)?
            .ok_or_else(|| StorageError::Corrupt("account vanished after insert".into()))
    }

    /// Changes enabled/priority; returns the updated row, or None if there is no such account.
    pub fn update_account(
        &self,
        provider: &str,
        label: &str,
        enabled: Option<bool>,
        priority: Option<u32>,
    ) -> Result<Option<Account>, StorageError> {
        self.with(|c| {
            if let Some(e) = enabled {
                c.execute(
                    "UPDATE accounts SET enabled = ?1 WHERE provider = ?2 AND label = ?3",
                    params![e as i64, provider, label],
                )?;
            }
            if let Some(p) = priority {
                c.execute(
                    "UPDATE accounts SET priority = ?1 WHERE provider = ?2 AND label = ?3",
                    params![p as i64, provider, label],
                )?;
            }
            Ok(())
        })?;
        self.get_account(provider, label)
    }

    pub fn delete_account(
        &self,
        provider: &str,
        label: &str,
    ) -> Result<Option<Account>, StorageError> {
        let existing = self.get_account(provider, label)?;
        if existing.is_some() {
            self.with(|c| {
                Ok(c.execute(
                    "DELETE FROM accounts WHERE provider = ?1 AND label = ?2",
                    params![provider, label],
                )?)
            })?;
        }
        Ok(existing)
    }

    pub fn set_account_strategy(
        &self,
        provider: &str,
        strategy: switchyard_types::AccountStrategy,
    ) -> Result<bool, StorageError> {
        self.with(|c| {
            Ok(c.execute(
                "UPDATE providers SET account_strategy = ?1 WHERE name = ?2",
                params![strategy, provider],
            )? > 0)
        })
    }
}
