//! Combos: a named, ordered list of targets (`provider/model`, or another combo) the router walks
//! until one answers. Stored as one row per combo with the targets as JSON.

use super::{Db, StorageError};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Combo {
    pub name: String,
    /// How the targets are ordered for each request.
    #[serde(default)]
    pub strategy: switchyard_types::ComboStrategy,
    pub targets: Vec<ComboTarget>,
    #[serde(default)]
    pub config: ComboConfig,
    #[serde(default)]
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ComboTarget {
    Model {
        provider: String,
        model: String,
        /// Pin one account of the provider.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<String>,
        #[serde(default = "default_weight")]
        weight: u32,
    },
    Combo {
        name: String,
        #[serde(default = "default_weight")]
        weight: u32,
    },
}

fn default_weight() -> u32 {
    1
}

impl ComboTarget {
    pub fn weight(&self) -> u32 {
        match self {
            Self::Model { weight, .. } | Self::Combo { weight, .. } => *weight,
        }
    }

    /// `provider/model` or `combo:<name>`, for messages and the fallback header.
    pub fn describe(&self) -> String {
        match self {
            Self::Model {
                provider, model, ..
            } => format!("{provider}/{model}"),
            Self::Combo { name, .. } => format!("combo:{name}"),
        }
    }
}

/// Per-combo overrides of the routing defaults (docs/routing.md §12); absent = the default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComboConfig {
    /// Round-robin: requests on one start target before rotating (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticky_limit: Option<u32>,
    /// Delay before retrying the same account after a 5xx (default 2000 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_delay_ms: Option<u64>,
    /// Any non-OK answer moves on to the next target, even a plain 400 (off by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any_non_ok_moves_on: Option<bool>,
    /// Timeouts in milliseconds (defaults: first byte 30 s, readiness 90 s, idle 300 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_byte_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_ms: Option<u64>,
}

type ComboRow = (
    String,
    switchyard_types::ComboStrategy,
    String,
    String,
    String,
);

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ComboRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn decode((name, strategy, targets, config, created_at): ComboRow) -> Result<Combo, StorageError> {
    let targets = serde_json::from_str(&targets)
        .map_err(|e| StorageError::Corrupt(format!("targets of combo {name:?}: {e}")))?;
    let config = serde_json::from_str(&config)
        .map_err(|e| StorageError::Corrupt(format!("config of combo {name:?}: {e}")))?;
    Ok(Combo {
        name,
        strategy,
        targets,
        config,
        created_at,
    })
}

const COLUMNS: &str = "name, strategy, targets, config, created_at";

impl Db {
    pub fn list_combos(&self) -> Result<Vec<Combo>, StorageError> {
        self.with(|c| {
            let mut s = c.prepare(&format!("SELECT {COLUMNS} FROM combos ORDER BY rowid"))?;
            let rows = s.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(decode).collect()
        })
    }

    pub fn get_combo(&self, name: &str) -> Result<Option<Combo>, StorageError> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM combos WHERE name = ?1"),
                [name],
                row,
            )
            .optional()?
            .map(decode)
            .transpose()
        })
    }

    /// Inserts (`replace = false`, a duplicate is an error) or replaces a combo.
    pub fn save_combo(&self, combo: &Combo, replace: bool) -> Result<Combo, StorageError> {
        let targets = serde_json::to_string(&combo.targets).expect("targets serialise");
        let config = serde_json::to_string(&combo.config).expect("config serialises");
        let n = self.with(|c| {
            let sql = if replace {
                "INSERT INTO combos (name, strategy, targets, config) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(name) DO UPDATE SET strategy = ?2, targets = ?3, config = ?4"
            } else {
                "INSERT INTO combos (name, strategy, targets, config) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(name) DO NOTHING"
            };
            Ok(c.execute(sql, params![combo.name, combo.strategy, targets, config])?)
        })?;
        if n == 0 {
            return Err(StorageError::Duplicate(combo.name.clone()));
        }
        self.get_combo(&combo.name)?
            .ok_or_else(|| StorageError::Corrupt("combo vanished after save".into()))
    }

    pub fn delete_combo(&self, name: &str) -> Result<bool, StorageError> {
        self.with(|c| Ok(c.execute("DELETE FROM combos WHERE name = ?1", [name])? > 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combos_round_trip_with_nested_targets() {
        let db = Db::open_in_memory().unwrap();
        let combo = Combo {
            name: "work".into(),
            strategy: Default::default(),
            targets: vec![
                ComboTarget::Model {
                    provider: "acme".into(),
                    model: "m1".into(),
                    account: Some("work".into()),
                    weight: 3,
                },
                ComboTarget::Combo {
                    name: "cheap".into(),
                    weight: 1,
                },
            ],
            config: ComboConfig {
                sticky_limit: Some(2),
                ..Default::default()
            },
            created_at: String::new(),
        };
        let saved = db.save_combo(&combo, false).unwrap();
        assert_eq!(saved.targets, combo.targets);
        assert_eq!(saved.config.sticky_limit, Some(2));
        assert!(matches!(
            db.save_combo(&combo, false),
            Err(StorageError::Duplicate(_))
        ));
        let mut changed = combo.clone();
        changed.strategy = switchyard_types::ComboStrategy::RoundRobin;
        db.save_combo(&changed, true).unwrap();
        assert_eq!(
            db.list_combos().unwrap()[0].strategy,
            switchyard_types::ComboStrategy::RoundRobin
        );
        assert!(db.delete_combo("work").unwrap());
        assert!(db.get_combo("work").unwrap().is_none());
    }
}
