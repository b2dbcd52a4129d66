//! The dashboard's shared state: the last health report, the provider list and the provider
//! catalog, and how to refresh them.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ActiveCombo, ApiResult, CatalogEntry, Combo, Health, Provider};

/// How often the status and the provider list are polled.
pub const POLL_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// `None` until the first answer arrives.
pub type Loaded<T> = Option<ApiResult<T>>;

#[derive(Clone, Copy)]
pub struct Dashboard {
    pub health: RwSignal<Loaded<Health>>,
    pub providers: RwSignal<Loaded<Vec<Provider>>>,
    pub combos: RwSignal<Loaded<Vec<Combo>>>,
    /// Which combo the alias (`switchyard`) reaches; polled because the tray can change it too.
    pub active_combo: RwSignal<Loaded<ActiveCombo>>,
    /// Known providers, sorted by name. Fixed while the gateway runs, so fetched until it loads once.
    pub catalog: RwSignal<Loaded<Vec<CatalogEntry>>>,
    catalog_in_flight: StoredValue<bool>,
    /// Sequence numbers so a slow, older answer never overwrites a newer one.
    issued: StoredValue<u64>,
    applied_health: StoredValue<u64>,
    applied_providers: StoredValue<u64>,
    applied_combos: StoredValue<u64>,
    applied_active: StoredValue<u64>,
}

impl Default for Dashboard {
    fn default() -> Self {
        Self {
            health: RwSignal::new(None),
            providers: RwSignal::new(None),
            combos: RwSignal::new(None),
            active_combo: RwSignal::new(None),
            catalog: RwSignal::new(None),
            catalog_in_flight: StoredValue::new(false),
            issued: StoredValue::new(0),
            applied_health: StoredValue::new(0),
            applied_providers: StoredValue::new(0),
            applied_combos: StoredValue::new(0),
            applied_active: StoredValue::new(0),
        }
    }
}

impl Dashboard {
    /// Re-fetches health, providers and combos (and the catalog, until it has loaded) in the background.
    pub fn refresh(self) {
        self.load_catalog();
        self.issued.update_value(|n| *n += 1);
        let seq = self.issued.get_value();
        spawn_local(async move {
            let health = api::health().await;
            apply(self.health, self.applied_health, seq, health);
        });
        spawn_local(async move {
            let providers = api::providers().await;
            apply(self.providers, self.applied_providers, seq, providers);
        });
        spawn_local(async move {
            let combos = api::combos().await;
            apply(self.combos, self.applied_combos, seq, combos);
        });
        spawn_local(async move {
            let active = api::active_combo().await;
            apply(self.active_combo, self.applied_active, seq, active);
        });
    }

    /// The catalog entry a provider was added from, once the catalog has loaded.
    pub fn catalog_entry(self, id: &str) -> Option<CatalogEntry> {
        self.catalog.with(|c| {
            c.as_ref()
                .and_then(|r| r.as_ref().ok())
                .and_then(|list| list.iter().find(|e| e.id == id).cloned())
        })
    }

    /// Every `provider/model` the providers list, for the combo form's target picker.
    pub fn model_choices(self) -> Vec<String> {
        self.providers.with(|p| {
            p.as_ref()
                .and_then(|r| r.as_ref().ok())
                .map(|list| {
                    list.iter()
                        .flat_map(|p| p.models.iter().map(move |m| format!("{}/{m}", p.name)))
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    /// The active combo's name, once known.
    pub fn active_name(self) -> Option<String> {
        self.active_combo.with(|a| {
            a.as_ref()
                .and_then(|r| r.as_ref().ok())
                .and_then(|a| a.name.clone())
        })
    }

    /// The model name clients use for the active combo (`switchyard` unless changed).
    pub fn alias(self) -> String {
        self.active_combo.with(|a| {
            a.as_ref()
                .and_then(|r| r.as_ref().ok())
                .map_or_else(|| "switchyard".to_owned(), |a| a.alias.clone())
        })
    }

    fn load_catalog(self) {
        let loaded = self.catalog.with_untracked(|c| matches!(c, Some(Ok(_))));
        if loaded || self.catalog_in_flight.get_value() {
            return;
        }
        self.catalog_in_flight.set_value(true);
        spawn_local(async move {
            let catalog = api::catalog().await;
            self.catalog_in_flight.set_value(false);
            if self
                .catalog
                .with_untracked(|current| current.as_ref() != Some(&catalog))
            {
                self.catalog.set(Some(catalog));
            }
        });
    }
}

/// Stores `value` unless a newer answer was already stored; leaves the signal untouched
/// (and so the DOM) when nothing changed.
fn apply<T: PartialEq + Send + Sync + 'static>(
    signal: RwSignal<Loaded<T>>,
    applied: StoredValue<u64>,
    seq: u64,
    value: ApiResult<T>,
) {
    if applied.get_value() > seq {
        return;
    }
    applied.set_value(seq);
    let value = Some(value);
    if signal.with_untracked(|current| *current != value) {
        signal.set(value);
    }
}
