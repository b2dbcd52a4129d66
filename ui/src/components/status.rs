//! Gateway status panel: `GET /api/health`, including whether API keys can be stored.

use leptos::prelude::*;

use crate::api::{Health, Keychain};
use crate::state::Dashboard;

#[component]
pub fn StatusPanel(dashboard: Dashboard) -> impl IntoView {
    let health = dashboard.health;
    // The last successful report, for the details and the keychain.
    let report = move || health.with(|h| h.as_ref().and_then(|r| r.as_ref().ok()).cloned());
    let field = move |pick: fn(&Health) -> String| {
        move || report().map(|h| pick(&h)).unwrap_or_else(|| "—".to_owned())
    };

    let status_text = move || {
        health.with(|h| match h {
            None => "Checking gateway…".to_owned(),
            Some(Ok(h)) if h.is_ok() => "Gateway running".to_owned(),
            Some(Ok(h)) => format!("Gateway status: {}", h.status),
            Some(Err(e)) => format!("Gateway unreachable: {e}"),
        })
    };
    let status_class = move || {
        health.with(|h| match h {
            None => "status pending",
            Some(Ok(h)) if h.is_ok() => "status ok",
            _ => "status down",
        })
    };

    let keychain = move || report().map(|h| h.keychain);
    let keychain_text = move || match keychain() {
        Some(k) => format!(
            "Keychain: {} ({})",
            k.backend,
            if k.persistent {
                "persistent"
            } else {
                "not persistent"
            }
        ),
        None => "Keychain: unknown".to_owned(),
    };

    let catalog_error = move || report().and_then(|h| h.catalog).and_then(|c| c.error);
    let known_providers = move || {
        report()
            .and_then(|h| h.catalog)
            .map_or_else(|| "—".to_owned(), |c| c.providers.to_string())
    };

    view! {
        <section class="card" id="status-panel">
            <h2>"Gateway"</h2>
            <p id="gateway-status" class=status_class>{status_text}</p>
            <dl class="facts">
                <dt>"Version"</dt>
                <dd id="gateway-version">{field(|h| h.version.clone())}</dd>
                <dt>"Listening on"</dt>
                <dd id="gateway-listen"><code>{field(|h| h.listen.clone())}</code></dd>
                <dt>"Data directory"</dt>
                <dd id="gateway-data-dir"><code>{field(|h| h.data_dir.clone())}</code></dd>
                <dt>"Providers"</dt>
                <dd id="gateway-providers">{field(|h| h.providers.to_string())}</dd>
                <dt>"Known providers"</dt>
                <dd id="gateway-catalog">{known_providers}</dd>
            </dl>
            <p id="keychain-status">{keychain_text}</p>
            {move || keychain().map(|k| view! { <KeychainBanner keychain=k /> })}
            {move || {
                catalog_error()
                    .map(|e| {
                        view! {
                            <div id="catalog-warning" class="banner warning" role="alert">
                                <strong>"Provider catalog problem. "</strong>
                                <span class="detail">{e}</span>
                            </div>
                        }
                    })
            }}
        </section>
    }
}

/// Warns when keys cannot be stored at all, and notes when they will not survive a restart.
#[component]
fn KeychainBanner(keychain: Keychain) -> impl IntoView {
    if !keychain.can_store_secrets {
        let detail = keychain
            .detail
            .unwrap_or_else(|| "No secret store is reachable.".to_owned());
        view! {
            <div id="keychain-warning" class="banner warning" role="alert">
                <strong>"API keys cannot be stored. "</strong>
                <span class="detail">{detail}</span>
            </div>
        }
        .into_any()
    } else if !keychain.persistent {
        let detail = keychain.detail.unwrap_or_else(|| {
            "API keys are kept in memory only and are forgotten when Switchyard stops.".to_owned()
        });
        view! {
            <div id="keychain-note" class="banner note" role="status">
                <span class="detail">{detail}</span>
            </div>
        }
        .into_any()
    } else {
        ().into_any()
    }
}
