//! A provider's accounts (several API keys for one provider): list, enable/disable, add one.
//! Shown as a second table row under each provider.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, Account, NewAccount, Provider};
use crate::components::notice::Note;
use crate::state::Dashboard;

#[component]
pub fn AccountsRow(
    provider: Provider,
    dashboard: Dashboard,
    note: RwSignal<Note>,
    columns: &'static str,
) -> impl IntoView {
    let name = provider.name.clone();
    let strategy = format!(" ({})", provider.account_strategy);
    let accounts = provider
        .accounts
        .iter()
        .cloned()
        .map(|account| view! { <AccountItem account dashboard note /> })
        .collect_view();

    view! {
        <tr class="accounts-row" data-accounts-for=name.clone()>
            <td colspan=columns>
                <div class="accounts">
                    <span class="accounts-title">"Accounts" {strategy}</span>
                    <ul class="account-list">{accounts}</ul>
                    <AddAccount provider=name.clone() dashboard note />
                </div>
            </td>
        </tr>
    }
}

#[component]
fn AccountItem(account: Account, dashboard: Dashboard, note: RwSignal<Note>) -> impl IntoView {
    let busy = RwSignal::new(false);
    let Account {
        provider,
        label,
        enabled,
        priority,
        ..
    } = account;
    let on_toggle = {
        let (provider, label) = (provider.clone(), label.clone());
        move |_| {
            let (provider, label) = (provider.clone(), label.clone());
            busy.set(true);
            spawn_local(async move {
                let outcome = api::set_account_enabled(&provider, &label, !enabled).await;
                note.set(Some(match outcome {
                    Ok(a) => Ok(format!(
                        "{}/{} {}",
                        a.provider,
                        a.label,
                        if a.enabled { "enabled" } else { "disabled" }
                    )),
                    Err(e) => Err(format!("{provider}/{label}: {e}")),
                }));
                busy.set(false);
                dashboard.refresh();
            });
        }
    };
    let state_class = if enabled { "badge ok" } else { "badge muted" };

    view! {
        <li data-account=label.clone() data-enabled=enabled.to_string()>
            <strong class="label">{label.clone()}</strong>
            <span class="priority">{format!("priority {priority}")}</span>
            <span class=state_class>{if enabled { "enabled" } else { "disabled" }}</span>
            <button
                type="button"
                class="toggle-account secondary small"
                aria-label=format!("{} account {label} of {provider}", if enabled { "Disable" } else { "Enable" })
                disabled=move || busy.get()
                on:click=on_toggle
            >
                {if enabled { "Disable" } else { "Enable" }}
            </button>
        </li>
    }
}

#[component]
fn AddAccount(provider: String, dashboard: Dashboard, note: RwSignal<Note>) -> impl IntoView {
    let label = RwSignal::new(String::new());
    let api_key = RwSignal::new(String::new());
    let priority = RwSignal::new(String::new());
    let pending = RwSignal::new(false);

    let on_submit = {
        let provider = provider.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            if pending.get_untracked() {
                return;
            }
            let priority_text = priority.get_untracked();
            let priority_value = match priority_text.trim() {
                "" => None,
                p => match p.parse::<u32>() {
                    Ok(n) => Some(n),
                    Err(_) => {
                        note.set(Some(Err(
                            "Priority must be a whole number, 0 or more".to_owned()
                        )));
                        return;
                    }
                },
            };
            let request = NewAccount {
                label: label.get_untracked().trim().to_owned(),
                api_key: api_key.get_untracked().trim().to_owned(),
                priority: priority_value,
            };
            let provider = provider.clone();
            pending.set(true);
            spawn_local(async move {
                match api::add_account(&provider, &request).await {
                    Ok(a) => {
                        note.set(Some(Ok(format!(
                            "Added account {}/{}",
                            a.provider, a.label
                        ))));
                        label.set(String::new());
                        api_key.set(String::new());
                        priority.set(String::new());
                    }
                    Err(e) => note.set(Some(Err(format!("{provider}: {e}")))),
                }
                pending.set(false);
                dashboard.refresh();
            });
        }
    };

    view! {
        <form class="inline add-account" data-provider=provider.clone() on:submit=on_submit autocomplete="off">
            <input type="text" name="label" placeholder="label" aria-label="Account label" spellcheck="false" bind:value=label />
            <input
                type="password"
                name="api_key"
                placeholder="API key"
                aria-label="Account API key"
                autocomplete="new-password"
                bind:value=api_key
            />
            <input type="number" name="priority" placeholder="priority" aria-label="Account priority" class="narrow" bind:value=priority />
            <button type="submit" class="add-account-submit secondary small" disabled=move || pending.get()>
                "Add account"
            </button>
        </form>
    }
}
