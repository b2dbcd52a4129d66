//! Client keys: `GET/POST /api/keys`, revoke, and whether clients must send one
//! (`require_api_key` in `/api/settings`). A new key is shown once, right after creation.
//! Also which events raise desktop notifications (`notify` in `/api/settings`).

use super::table::DataTable;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, usd, ClientKey, CreatedKey, NewKey, Notify, Settings};
use crate::components::notice::{Note, Notice};
use crate::state::Loaded;

const COLUMNS: &str = "5";

#[component]
pub fn ClientKeys() -> impl IntoView {
    let keys = RwSignal::new(None::<api::ApiResult<Vec<ClientKey>>>);
    let settings = RwSignal::new(None::<api::ApiResult<Settings>>);
    let created = RwSignal::new(None::<CreatedKey>);
    let note = RwSignal::new(None::<Result<String, String>>);

    let reload = move || {
        spawn_local(async move { keys.set(Some(api::keys().await)) });
    };
    reload();
    spawn_local(async move { settings.set(Some(api::settings().await)) });

    view! {
        <section class="card" id="keys-panel">
            <h2>"Client keys"</h2>
            <RequireKeyToggle settings note />
            <NotifySettings settings note />
            {move || created.get().map(|c| view! { <NewKeyBanner created=c /> })}
            <DataTable id="client-keys" headers=&["Label", "Key", "Budget", "Created"] actions=true>
                {move || key_rows(keys, note, reload)}
            </DataTable>
            <Notice id="keys-message" note />
            <CreateKey created note reload />
        </section>
    }
}

#[component]
fn RequireKeyToggle(settings: RwSignal<Loaded<Settings>>, note: RwSignal<Note>) -> impl IntoView {
    let pending = RwSignal::new(false);
    let checked = move || {
        settings.with(|s| {
            matches!(
                s,
                Some(Ok(Settings {
                    require_api_key: true,
                    ..
                }))
            )
        })
    };
    let on_change = move |ev: leptos::ev::Event| {
        let wanted = event_target_checked(&ev);
        pending.set(true);
        spawn_local(async move {
            match api::put_require_api_key(wanted).await {
                Ok(s) => {
                    note.set(Some(Ok(if s.require_api_key {
                        "Client requests now need a key".to_owned()
                    } else {
                        "Client requests no longer need a key".to_owned()
                    })));
                    settings.set(Some(Ok(s)));
                }
                Err(e) => {
                    note.set(Some(Err(e)));
                    // Put the checkbox back to what the gateway has.
                    settings.set(Some(api::settings().await));
                }
            }
            pending.set(false);
        });
    };
    view! {
        <label class="toggle">
            <input
                type="checkbox"
                id="require-api-key"
                prop:checked=checked
                disabled=move || pending.get() || settings.with(|s| !matches!(s, Some(Ok(_))))
                on:change=on_change
            />
            <span>"Require a client key for every request"</span>
        </label>
        <p class="hint">
            "When on, clients send one of these keys as " <code>"Authorization: Bearer sy-…"</code>
            "; tools configured below get their own."
        </p>
    }
}

/// One notification checkbox: its element id, label, and the field it flips.
type NotifyField = (&'static str, &'static str, fn(&mut Notify) -> &mut bool);

const NOTIFY_FIELDS: [NotifyField; 4] = [
    ("notify-thresholds", "Quota 80 %/95 % warnings", |n| {
        &mut n.thresholds
    }),
    ("notify-exhausted", "Quota exhausted", |n| &mut n.exhausted),
    ("notify-resets", "Quota window reset", |n| &mut n.resets),
    ("notify-failover", "Combo failover", |n| &mut n.failover),
];

#[component]
fn NotifySettings(settings: RwSignal<Loaded<Settings>>, note: RwSignal<Note>) -> impl IntoView {
    let pending = RwSignal::new(false);
    let current = move || {
        settings.with(|s| match s {
            Some(Ok(s)) => Some(s.notify),
            _ => None,
        })
    };
    let boxes = NOTIFY_FIELDS
        .into_iter()
        .map(|(id, label, field)| {
            let checked = move || current().is_some_and(|mut n| *field(&mut n));
            let on_change = move |ev: leptos::ev::Event| {
                let Some(mut wanted) = current() else {
                    return;
                };
                *field(&mut wanted) = event_target_checked(&ev);
                pending.set(true);
                spawn_local(async move {
                    match api::put_notify(wanted).await {
                        Ok(s) => {
                            note.set(Some(Ok("Notification settings saved".to_owned())));
                            settings.set(Some(Ok(s)));
                        }
                        Err(e) => {
                            note.set(Some(Err(e)));
                            // Put the checkboxes back to what the gateway has.
                            settings.set(Some(api::settings().await));
                        }
                    }
                    pending.set(false);
                });
            };
            view! {
                <label class="toggle">
                    <input
                        type="checkbox"
                        id=id
                        prop:checked=checked
                        disabled=move || pending.get() || current().is_none()
                        on:change=on_change
                    />
                    <span>{label}</span>
                </label>
            }
        })
        .collect_view();
    view! {
        <fieldset id="notify-settings" class="notify">
            <legend>"Desktop notifications"</legend>
            {boxes}
        </fieldset>
    }
}

#[component]
fn NewKeyBanner(created: CreatedKey) -> impl IntoView {
    let copied = RwSignal::new(false);
    let key = created.key.clone();
    let on_copy = move |_| {
        let promise = window().navigator().clipboard().write_text(&key);
        spawn_local(async move {
            copied.set(wasm_bindgen_futures::JsFuture::from(promise).await.is_ok());
        });
    };
    view! {
        <div id="new-key" class="banner warning" role="status">
            <strong>"Copy it now: "</strong>
            {format!("the key for {} is shown only this once.", created.label)}
            <div class="key-line">
                <code id="new-key-value">{created.key.clone()}</code>
                <button type="button" class="secondary small" on:click=on_copy>
                    {move || if copied.get() { "Copied" } else { "Copy" }}
                </button>
            </div>
        </div>
    }
}

fn budget(k: &ClientKey) -> String {
    let parts: Vec<String> = [
        ("day", k.daily_usd),
        ("week", k.weekly_usd),
        ("month", k.monthly_usd),
    ]
    .into_iter()
    .filter_map(|(period, limit)| limit.map(|l| format!("{}/{period}", usd(l))))
    .collect();
    if parts.is_empty() {
        "no limit".to_owned()
    } else {
        parts.join(", ")
    }
}

fn key_rows(
    keys: RwSignal<Loaded<Vec<ClientKey>>>,
    note: RwSignal<Note>,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> AnyView {
    let placeholder = |class: &'static str, text: String| {
        view! {
            <tr class=class>
                <td colspan=COLUMNS>{text}</td>
            </tr>
        }
        .into_any()
    };
    keys.with(|k| match k {
        None => placeholder("placeholder", "Loading…".to_owned()),
        Some(Err(e)) => placeholder("placeholder error", format!("Could not load keys: {e}")),
        Some(Ok(list)) if list.is_empty() => {
            placeholder("placeholder empty", "No client keys yet".to_owned())
        }
        Some(Ok(list)) => list
            .iter()
            .cloned()
            .map(|key| view! { <KeyRow key note reload /> })
            .collect_view()
            .into_any(),
    })
}

#[component]
fn KeyRow(
    key: ClientKey,
    note: RwSignal<Note>,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let (id, label) = (key.id, key.label.clone());
    let on_revoke = move |_| {
        let label = label.clone();
        busy.set(true);
        spawn_local(async move {
            note.set(Some(
                api::revoke_key(id)
                    .await
                    .map(|()| format!("Revoked {label}"))
                    .map_err(|e| format!("Could not revoke {label}: {e}")),
            ));
            busy.set(false);
            reload();
        });
    };
    let revoked = key.revoked_at.is_some();
    let budget = budget(&key);
    view! {
        <tr data-key-id=key.id.to_string() class=if revoked { "revoked" } else { "" }>
            <td class="name">{key.label.clone()}</td>
            <td class="prefix"><code>{format!("{}…", key.prefix)}</code></td>
            <td>{budget}</td>
            <td>{key.created_at.clone().unwrap_or_default()}</td>
            <td class="actions">
                {match key.revoked_at.clone() {
                    Some(at) => view! { <span class="badge muted">{format!("revoked {at}")}</span> }.into_any(),
                    None => {
                        view! {
                            <button type="button" class="revoke-key danger" disabled=move || busy.get() on:click=on_revoke>
                                "Revoke"
                            </button>
                        }
                            .into_any()
                    }
                }}
            </td>
        </tr>
    }
}

#[component]
fn CreateKey(
    created: RwSignal<Option<CreatedKey>>,
    note: RwSignal<Note>,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let label = RwSignal::new(String::new());
    let daily = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let daily_usd = match daily.get_untracked().trim() {
            "" => None,
            d => match d.parse::<f64>() {
                Ok(v) if v >= 0.0 => Some(v),
                _ => {
                    note.set(Some(Err(
                        "The daily budget must be a dollar amount".to_owned()
                    )));
                    return;
                }
            },
        };
        let request = NewKey {
            label: label.get_untracked().trim().to_owned(),
            daily_usd,
        };
        pending.set(true);
        created.set(None);
        spawn_local(async move {
            match api::create_key(&request).await {
                Ok(c) => {
                    note.set(Some(Ok(format!("Created key {}", c.label))));
                    created.set(Some(c));
                    label.set(String::new());
                    daily.set(String::new());
                }
                Err(e) => note.set(Some(Err(e))),
            }
            pending.set(false);
            reload();
        });
    };
    view! {
        <form id="create-key" on:submit=on_submit autocomplete="off">
            <label>
                <span>"Label"</span>
                <input type="text" name="label" placeholder="laptop" spellcheck="false" bind:value=label />
            </label>
            <label>
                <span>"Daily budget (USD)"</span>
                <input type="number" name="daily_usd" min="0" step="0.01" placeholder="no limit" bind:value=daily />
            </label>
            <div class="form-actions">
                <button type="submit" id="create-key-submit" disabled=move || pending.get()>
                    "Create key"
                </button>
            </div>
        </form>
    }
}
