//! One component per panel of the dashboard.

mod add_provider;
mod how_to_use;
mod providers;
mod status;

pub use add_provider::AddProvider;
pub use how_to_use::HowToUse;
pub use providers::ProviderList;
pub use status::StatusPanel;
