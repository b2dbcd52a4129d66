//! Upstream providers (one row per provider; its API key lives in the keychain under `key_ref`).

use super::{Db, StorageError};
use rusqlite::{params, OptionalExtension};

pub use switchyard_types::views::ProviderView;
use switchyard_types::{AccountStrategy, AuthStyle, Format};

/// A provider as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub name: String,
    pub base_url: String,
    pub format: Format,
    pub models: Vec<String>,
    pub key_ref: Option<String>,
    pub created_at: String,
    /// Where the key goes; `None` = the format's default.
    pub auth: Option<AuthStyle>,
    pub catalog_id: Option<String>,
    /// How one of several accounts is chosen.
    pub account_strategy: AccountStrategy,
    /// The keychain entry holding the `user:password` of the base URL (self-hosted endpoints
    /// behind basic auth); `base_url` itself never carries it.
    pub url_auth_ref: Option<String>,
    /// The provider's accounts, in fill-first order (at least `default`).
    pub accounts: Vec<super::Account>,
}

impl Provider {
    /// Where this provider wants its key (its own setting, else its format's default).
    pub fn auth_style(&self) -> AuthStyle {
        self.auth.unwrap_or(self.format.default_auth())
    }
}

impl From<&Provider> for ProviderView {
    fn from(p: &Provider) -> Self {
        Self {
            name: p.name.clone(),
            // Never with `user:password@` (a row from before it was kept in the keychain).
            base_url: crate::url_credentials::split(&p.base_url).0,
            format: p.format,
            models: p.models.clone(),
            key_ref: p.key_ref.clone(),
            has_key: p.key_ref.is_some(),
            created_at: p.created_at.clone(),
            auth: p.auth,
            catalog_id: p.catalog_id.clone(),
            account_strategy: p.account_strategy,
            accounts: p.accounts.iter().map(super::accounts::view).collect(),
        }
    }
}

/// A provider to insert.
#[derive(Debug, Clone)]
pub struct NewProvider {
    pub name: String,
    pub base_url: String,
    pub format: Format,
    pub models: Vec<String>,
    pub key_ref: Option<String>,
    pub auth: Option<AuthStyle>,
    pub catalog_id: Option<String>,
    pub url_auth_ref: Option<String>,
}

fn row_to_provider(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Provider, String)> {
    let models: String = row.get(3)?;
    Ok((
        Provider {
            name: row.get(0)?,
            base_url: row.get(1)?,
            format: row.get(2)?,
            models: Vec::new(),
            key_ref: row.get(4)?,
            created_at: row.get(5)?,
            auth: row.get(6)?,
            catalog_id: row.get(7)?,
            account_strategy: row.get(8)?,
            url_auth_ref: row.get(9)?,
            accounts: Vec::new(),
        },
        models,
    ))
}

fn decode((mut p, models): (Provider, String)) -> Result<Provider, StorageError> {
    p.models = serde_json::from_str(&models)
        .map_err(|e| StorageError::Corrupt(format!("models of provider {:?}: {e}", p.name)))?;
    Ok(p)
}

const COLUMNS: &str = "name, base_url, format, models, key_ref, created_at, auth, catalog_id, account_strategy, url_auth_ref";

/// Attaches accounts; the provider-level `key_ref` becomes the first enabled account's entry
/// (what the single-account paths, embeddings and count_tokens, use).
fn attach(mut providers: Vec<Provider>, accounts: Vec<super::Account>) -> Vec<Provider> {
    for p in &mut providers {
        p.accounts = accounts
            .iter()
            .filter(|a| a.provider == p.name)
            .cloned()
            .collect();
        if let Some(a) = p.accounts.iter().find(|a| a.enabled) {
            p.key_ref = a.key_ref.clone();
        }
    }
    providers
}

impl Db {
    pub fn list_providers(&self) -> Result<Vec<Provider>, StorageError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!("SELECT {COLUMNS} FROM providers ORDER BY id"))?;
            let rows = stmt.query_map([], row_to_provider)?;
            rows.map(|r| decode(r?)).collect::<Result<Vec<_>, _>>()
        })
        .and_then(|ps| Ok(attach(ps, self.list_accounts()?)))
    }

    pub fn get_provider(&self, name: &str) -> Result<Option<Provider>, StorageError> {
        self.with(|c| {
            let row = c
                .query_row(
                    &format!("SELECT {COLUMNS} FROM providers WHERE name = ?1"),
                    [name],
                    row_to_provider,
                )
                .optional()?;
            row.map(decode).transpose()
        })
        .and_then(|p| match p {
            Some(p) => {
                let accounts = self.list_accounts()?;
                Ok(attach(vec![p], accounts).pop())
            }
            None => Ok(None),
        })
    }

    pub fn insert_provider(&self, p: &NewProvider) -> Result<Provider, StorageError> {
        let models = serde_json::to_string(&p.models).expect("a list of strings serialises");
        let inserted =
            self.with(|c| {
                Ok(c.execute(
                "INSERT INTO providers (name, base_url, format, models, key_ref, auth, catalog_id, url_auth_ref)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(name) DO NOTHING",
                params![p.name, p.base_url, p.format, models, p.key_ref, p.auth, p.catalog_id, p.url_auth_ref],
            )?)
            })?;
        if inserted == 0 {
            return Err(StorageError::Duplicate(p.name.clone()));
        }
        // Every provider has at least one account: its key (or none, for a local server).
        self.insert_account(&super::Account {
            provider: p.name.clone(),
            label: "default".into(),
            key_ref: p.key_ref.clone(),
            enabled: true,
            priority: 1,
            created_at: String::new(),
        })?;
        self.get_provider(&p.name)?.ok_or_else(|| {
            StorageError::Corrupt(format!("provider {:?} vanished after insert", p.name))
        })
    }

    /// Replaces a provider's base URL and the keychain entry of its credentials (moving
    /// `user:password@` out of a row written before it was kept in the keychain).
    pub fn set_base_url(
        &self,
        name: &str,
        base_url: &str,
        url_auth_ref: Option<&str>,
    ) -> Result<bool, StorageError> {
        self.with(|c| {
            Ok(c.execute(
                "UPDATE providers SET base_url = ?1, url_auth_ref = ?2 WHERE name = ?3",
                params![base_url, url_auth_ref, name],
            )? > 0)
        })
    }

    /// Replaces a provider's model list; returns false when there is no such provider.
    pub fn set_models(&self, name: &str, models: &[String]) -> Result<bool, StorageError> {
        let json = serde_json::to_string(models).expect("a list of strings serialises");
        self.with(|c| {
            Ok(c.execute(
                "UPDATE providers SET models = ?1 WHERE name = ?2",
                params![json, name],
            )? > 0)
        })
    }

    /// Deletes a provider; returns the removed row (so its keychain entry can be removed too).
    pub fn delete_provider(&self, name: &str) -> Result<Option<Provider>, StorageError> {
        let existing = self.get_provider(name)?;
        if existing.is_some() {
            self.with(|c| Ok(c.execute("DELETE FROM providers WHERE name = ?1", [name])?))?;
        }
        Ok(existing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> NewProvider {
        NewProvider {
            name: name.into(),
            base_url: "http://127.0.0.1:1/v1".into(),
            format: Format::Chat,
            models: vec!["m1".into(), "m2".into()],
            key_ref: Some(format!("provider:{name}:account:default")),
            auth: None,
            catalog_id: None,
            url_auth_ref: None,
        }
    }

    #[test]
    fn insert_list_delete_round_trip() {
        let db = Db::open_in_memory().unwrap();
        let p = db.insert_provider(&sample("acme")).unwrap();
        assert_eq!(p.models, vec!["m1", "m2"]);
        assert!(p.created_at.ends_with('Z'));
        db.insert_provider(&sample("beta")).unwrap();
        let names: Vec<_> = db
            .list_providers()
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["acme", "beta"]);
        assert!(matches!(
            db.insert_provider(&sample("acme")),
            Err(StorageError::Duplicate(n)) if n == "acme"
        ));
        assert_eq!(db.delete_provider("acme").unwrap().unwrap().name, "acme");
        assert!(db.delete_provider("acme").unwrap().is_none());
        assert_eq!(db.list_providers().unwrap().len(), 1);
    }

    #[test]
    fn data_survives_reopen_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Db::open(dir.path()).unwrap();
            db.insert_provider(&sample("acme")).unwrap();
            assert_eq!(db.schema_version().unwrap(), 6);
        }
        let db = Db::open(&dir.path().join("")).unwrap();
        assert_eq!(db.list_providers().unwrap()[0].name, "acme");
        assert!(dir.path().join(super::super::DB_FILE).exists());
    }

    #[test]
    fn database_holds_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        db.insert_provider(&sample("acme")).unwrap();
        let cols: Vec<String> = db
            .with(|c| {
                let mut s = c.prepare("SELECT name FROM pragma_table_info('providers')")?;
                let r = s.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
                Ok(r)
            })
            .unwrap();
        assert!(!cols.iter().any(|c| c.contains("secret") || c == "api_key"));
    }
}
