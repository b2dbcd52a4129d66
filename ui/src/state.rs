//! The dashboard's shared state: the last health report, the provider list and the provider
//! catalog, and how to refresh them.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiResult, CatalogEntry, Health, Provider};

/// How often the status and the provider list are polled.
pub const POLL_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// `None` until the first answer arrives.
pub type Loaded<T> = Option<ApiResult<T>>;

#[derive(Clone, Copy)]
pub struct Dashboard {
    pub health: RwSignal<Loaded<Health>>,
    pub providers: RwSignal<Loaded<Vec<Provider>>>,
    /// Known providers, sorted by name. Fixed while the gateway runs, so fetched until it loads once.
    pub catalog: RwSignal<Loaded<Vec<CatalogEntry>>>,
    catalog_in_flight: StoredValue<bool>,
    /// Sequence numbers so a slow, older answer never overwrites a newer one.
    issued: StoredValue<u64>,
    applied_health: StoredValue<u64>,
    applied_providers: StoredValue<u64>,
}

impl Default for Dashboard {
    fn default() -> Self {
        Self {
            health: RwSignal::new(None),
            providers: RwSignal::new(None),
            catalog: RwSignal::new(None),
            catalog_in_flight: StoredValue::new(false),
            issued: StoredValue::new(0),
            applied_health: StoredValue::new(0),
            applied_providers: StoredValue::new(0),
        }
    }
}

impl Dashboard {
    /// Re-fetches health and providers (and the catalog, until it has loaded) in the background.
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
    }

    /// The catalog entry a provider was added from, once the catalog has loaded.
    pub fn catalog_entry(self, id: &str) -> Option<CatalogEntry> {
        self.catalog.with(|c| {
            c.as_ref()
                .and_then(|r| r.as_ref().ok())
                .and_then(|list| list.iter().find(|e| e.id == id).cloned())
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
