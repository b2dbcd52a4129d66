//! What the management API returns and the dashboard reads. No secret is ever part of a view.

use crate::{AccountStrategy, AuthStyle, Format};
use serde::{Deserialize, Serialize};

/// One entry of `GET /api/providers`. The API key itself never leaves the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProviderView {
    pub name: String,
    /// The upstream's base URL, shown without any credentials it carries.
    pub base_url: String,
    pub format: Format,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub key_ref: Option<String>,
    #[serde(default)]
    pub has_key: bool,
    #[serde(default)]
    pub created_at: String,
    /// How the key is sent upstream; `None` = the format's default.
    #[serde(default)]
    pub auth: Option<AuthStyle>,
    /// The catalog entry the provider was added from, if any.
    #[serde(default)]
    pub catalog_id: Option<String>,
    #[serde(default)]
    pub account_strategy: AccountStrategy,
    /// The provider's accounts, in the order the gateway tries them.
    #[serde(default)]
    pub accounts: Vec<AccountView>,
}

/// One account of a provider; its key stays in the keychain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AccountView {
    pub provider: String,
    pub label: String,
    pub enabled: bool,
    /// Lower first (fill-first order).
    #[serde(default)]
    pub priority: u32,
    #[serde(default)]
    pub created_at: String,
}

/// Which events raise a desktop notification (`notify` in `/api/settings`); all on by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NotifySettings {
    /// A quota window crossing 80 % / 95 %.
    pub thresholds: bool,
    /// A quota window exhausted.
    pub exhausted: bool,
    /// A window reset (the account is available again).
    pub resets: bool,
    /// A combo failing over to a later target.
    pub failover: bool,
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            thresholds: true,
            exhausted: true,
            resets: true,
            failover: true,
        }
    }
}
