//! Add-provider form: `POST /api/providers`, optionally pre-filled from the provider catalog.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, formats, parse_models, CatalogEntry, NewProvider};
use crate::state::Dashboard;

const DEFAULT_FORMAT: &str = "openai";
const BASE_URL_PLACEHOLDER: &str = "https://api.example.com/v1";

/// What the last submission led to.
#[derive(Clone, PartialEq)]
enum Outcome {
    Added(String),
    Failed(String),
}

/// The editable fields. Picking a catalog entry overwrites them with its defaults.
#[derive(Clone, Copy)]
struct Fields {
    name: RwSignal<String>,
    base_url: RwSignal<String>,
    format: RwSignal<String>,
    api_key: RwSignal<String>,
    models: RwSignal<String>,
}

impl Fields {
    fn new() -> Self {
        Self {
            name: RwSignal::new(String::new()),
            base_url: RwSignal::new(String::new()),
            format: RwSignal::new(DEFAULT_FORMAT.to_owned()),
            api_key: RwSignal::new(String::new()),
            models: RwSignal::new(String::new()),
        }
    }

    /// The entry's defaults, or a blank form for "Custom…". A base URL with placeholders is left
    /// empty: only the user knows the values. The API key is never touched.
    fn prefill(self, entry: Option<&CatalogEntry>) {
        match entry {
            Some(e) => {
                self.name.set(e.alias.clone());
                self.base_url.set(if e.needs.is_empty() {
                    e.base_url.clone()
                } else {
                    String::new()
                });
                self.format.set(e.format.clone());
                self.models.set(e.models.join(", "));
            }
            None => {
                self.name.set(String::new());
                self.base_url.set(String::new());
                self.format.set(DEFAULT_FORMAT.to_owned());
                self.models.set(String::new());
            }
        }
    }

    fn clear(self) {
        self.prefill(None);
        self.api_key.set(String::new());
    }
}

#[component]
pub fn AddProvider(dashboard: Dashboard) -> impl IntoView {
    let fields = Fields::new();
    let Fields {
        name,
        base_url,
        format,
        api_key,
        models,
    } = fields;
    // The chosen catalog id; empty for "Custom…".
    let catalog_id = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    let outcome = RwSignal::new(None::<Outcome>);

    let chosen = move || {
        let id = catalog_id.get();
        (!id.is_empty())
            .then(|| dashboard.catalog_entry(&id))
            .flatten()
    };

    let on_pick = move |ev: leptos::ev::Event| {
        let id = event_target_value(&ev);
        let entry = dashboard.catalog_entry(&id);
        catalog_id.set(id);
        fields.prefill(entry.as_ref());
    };

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let catalog = catalog_id.get_untracked();
        let request = NewProvider {
            catalog: (!catalog.is_empty()).then_some(catalog),
            name: name.get_untracked().trim().to_owned(),
            base_url: base_url.get_untracked().trim().to_owned(),
            format: format.get_untracked(),
            api_key: api_key.get_untracked().trim().to_owned(),
            models: parse_models(&models.get_untracked()),
        };
        pending.set(true);
        outcome.set(None);
        spawn_local(async move {
            match api::add_provider(&request).await {
                Ok(added) => {
                    outcome.set(Some(Outcome::Added(added.name)));
                    catalog_id.set(String::new());
                    fields.clear();
                }
                Err(message) => outcome.set(Some(Outcome::Failed(message))),
            }
            pending.set(false);
            dashboard.refresh();
        });
    };

    let message_text = move || match outcome.get() {
        Some(Outcome::Added(n)) => format!("Added provider {n}"),
        Some(Outcome::Failed(m)) => m,
        None => String::new(),
    };
    let message_class = move || match outcome.get() {
        Some(Outcome::Added(_)) => "message success",
        Some(Outcome::Failed(_)) => "message error",
        None => "message",
    };

    let catalog_options = move || {
        dashboard.catalog.with(|c| match c {
            Some(Ok(list)) => list
                .iter()
                .map(|e| view! { <option value=e.id.clone()>{e.label()}</option> })
                .collect_view()
                .into_any(),
            _ => ().into_any(),
        })
    };
    let catalog_note = move || {
        dashboard.catalog.with(|c| match c {
            None => Some("Loading known providers…".to_owned()),
            Some(Err(e)) => Some(format!("Known providers unavailable: {e}")),
            Some(Ok(_)) => None,
        })
    };
    let needs_hint = move || {
        chosen().filter(|e| !e.needs.is_empty()).map(|e| {
            view! {
                <small id="catalog-hint" class="hint">
                    "Enter the base URL: it contains " <code>{e.needs_text()}</code>
                </small>
            }
        })
    };
    let base_url_placeholder = move || {
        chosen()
            .map(|e| e.base_url)
            .unwrap_or_else(|| BASE_URL_PLACEHOLDER.to_owned())
    };
    let api_key_placeholder = move || {
        chosen()
            .filter(|e| e.auth == "none")
            .map(|e| format!("not needed for {}", e.name))
            .unwrap_or_default()
    };

    view! {
        <section class="card" id="add-provider-panel">
            <h2>"Add a provider"</h2>
            <form id="add-provider" on:submit=on_submit autocomplete="off">
                <label>
                    <span>"Known provider"</span>
                    <select id="catalog-select" name="catalog" prop:value=catalog_id on:change=on_pick>
                        <option value="">"Custom…"</option>
                        {catalog_options}
                    </select>
                    <small>
                        {move || {
                            catalog_note()
                                .unwrap_or_else(|| {
                                    "Pre-fills the form; every field stays editable.".to_owned()
                                })
                        }}
                    </small>
                </label>
                <label>
                    <span>"Name"</span>
                    <input type="text" name="name" placeholder="acme" autocomplete="off" spellcheck="false" bind:value=name />
                </label>
                <label>
                    <span>"Format"</span>
                    <select name="format" bind:value=format>
                        {formats()
                            .map(|(id, label)| view! { <option value=id>{label}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label class="span-2">
                    <span>"Base URL"</span>
                    <input
                        type="text"
                        name="base_url"
                        placeholder=base_url_placeholder
                        spellcheck="false"
                        bind:value=base_url
                    />
                    {needs_hint}
                </label>
                <label>
                    <span>"API key"</span>
                    <input
                        type="password"
                        name="api_key"
                        autocomplete="new-password"
                        placeholder=api_key_placeholder
                        bind:value=api_key
                    />
                    <small>"Leave empty for local servers without a key (Ollama, LM Studio)."</small>
                </label>
                <label class="wide">
                    <span>"Models"</span>
                    <input
                        type="text"
                        name="models"
                        placeholder="gpt-4o-mini, gpt-4o"
                        autocomplete="off"
                        spellcheck="false"
                        bind:value=models
                    />
                    <small>"Comma-separated model ids."</small>
                </label>
                <div class="form-actions wide">
                    <button type="submit" id="add-provider-submit" disabled=move || pending.get()>
                        {move || if pending.get() { "Adding…" } else { "Add provider" }}
                    </button>
                    <span id="form-message" class=message_class role="status" aria-live="polite">
                        {message_text}
                    </span>
                </div>
            </form>
        </section>
    }
}
