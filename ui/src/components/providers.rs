//! Provider table: `GET /api/providers`, with a delete button per row and the accounts below it.

use super::table::DataTable;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, Provider};
use crate::components::accounts::AccountsRow;
use crate::components::notice::{Note, Notice};
use crate::state::Dashboard;

const COLUMNS: &str = "6";

#[component]
pub fn ProviderList(dashboard: Dashboard) -> impl IntoView {
    // Outcome of the last delete that failed; cleared by the next successful one.
    let delete_error = RwSignal::new(None::<String>);
    // Outcome of the last account change.
    let accounts_note = RwSignal::new(None::<Result<String, String>>);

    let rows = move || {
        dashboard.providers.with(|providers| match providers {
            None => placeholder("placeholder", "Loading…".to_owned()),
            Some(Err(e)) => placeholder(
                "placeholder error",
                format!("Could not load providers: {e}"),
            ),
            Some(Ok(list)) if list.is_empty() => {
                placeholder("placeholder empty", "No providers yet".to_owned())
            }
            Some(Ok(list)) => list
                .iter()
                .cloned()
                .map(|provider| {
                    view! { <ProviderRow provider dashboard delete_error accounts_note /> }
                })
                .collect_view()
                .into_any(),
        })
    };

    view! {
        <section class="card" id="providers-panel">
            <h2>"Providers"</h2>
            {move || {
                delete_error
                    .get()
                    .map(|e| view! { <p id="providers-message" class="message error" role="alert">{e}</p> })
            }}
            <Notice id="accounts-message" note=accounts_note />
            <DataTable id="providers" headers=&["Name", "Format", "Base URL", "Models", "Key stored"] actions=true>
                {rows}
            </DataTable>
        </section>
    }
}

fn placeholder(class: &'static str, text: String) -> AnyView {
    view! {
        <tr class=class>
            <td colspan=COLUMNS>{text}</td>
        </tr>
    }
    .into_any()
}

#[component]
fn ProviderRow(
    provider: Provider,
    dashboard: Dashboard,
    delete_error: RwSignal<Option<String>>,
    accounts_note: RwSignal<Note>,
) -> impl IntoView {
    let deleting = RwSignal::new(false);
    let name = provider.name.clone();
    let on_delete = {
        let name = name.clone();
        move |_| {
            let name = name.clone();
            deleting.set(true);
            spawn_local(async move {
                match api::delete_provider(&name).await {
                    Ok(()) => delete_error.set(None),
                    Err(e) => {
                        delete_error.set(Some(format!("Could not delete {name}: {e}")));
                        deleting.set(false);
                    }
                }
                dashboard.refresh();
            });
        }
    };

    // "from Groq" for providers added from the catalog; the id until the catalog has loaded.
    let catalog_name = provider.catalog_id.clone().map(|id| {
        move || {
            let shown = dashboard
                .catalog_entry(&id)
                .map_or_else(|| id.clone(), |e| e.name);
            format!("from {shown}")
        }
    });
    let format = provider.format.label();
    let accounts = view! { <AccountsRow provider=provider.clone() dashboard note=accounts_note columns=COLUMNS /> };

    view! {
        <tr data-provider=name.clone()>
            <td class="name">
                {provider.name.clone()}
                {catalog_name.map(|text| view! { <small class="catalog-name">{text}</small> })}
            </td>
            <td class="format" title=provider.format.as_str()>{format}</td>
            <td class="base-url"><code>{provider.base_url}</code></td>
            <td class="models">{provider.models.join(", ")}</td>
            <td class="has-key">{if provider.has_key { "yes" } else { "no" }}</td>
            <td class="actions">
                <button
                    type="button"
                    class="delete-provider"
                    data-provider=name.clone()
                    aria-label=format!("Delete provider {name}")
                    disabled=move || deleting.get()
                    on:click=on_delete
                >
                    "Delete"
                </button>
            </td>
        </tr>
        {accounts}
    }
}
