//! One component per panel of the dashboard.

mod accounts;
mod add_provider;
mod combos;
mod how_to_use;
mod keys;
mod notice;
mod providers;
mod status;
mod table;
mod tools;
mod usage;

pub use add_provider::AddProvider;
pub use combos::Combos;
pub use how_to_use::HowToUse;
pub use keys::ClientKeys;
pub use providers::ProviderList;
pub use status::StatusPanel;
pub use tools::CodingTools;
pub use usage::Usage;
