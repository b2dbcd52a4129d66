//! Add-provider form: `POST /api/providers`.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, parse_models, NewProvider};
use crate::state::Dashboard;

/// What the last submission led to.
#[derive(Clone, PartialEq)]
enum Outcome {
    Added(String),
    Failed(String),
}

#[component]
pub fn AddProvider(dashboard: Dashboard) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let base_url = RwSignal::new(String::new());
    let format = RwSignal::new("openai".to_owned());
    let api_key = RwSignal::new(String::new());
    let models = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    let outcome = RwSignal::new(None::<Outcome>);

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let request = NewProvider {
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
                Ok(()) => {
                    outcome.set(Some(Outcome::Added(request.name)));
                    name.set(String::new());
                    base_url.set(String::new());
                    api_key.set(String::new());
                    models.set(String::new());
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

    view! {
        <section class="card" id="add-provider-panel">
            <h2>"Add a provider"</h2>
            <form id="add-provider" on:submit=on_submit autocomplete="off">
                <label>
                    <span>"Name"</span>
                    <input type="text" name="name" placeholder="acme" spellcheck="false" bind:value=name />
                </label>
                <label>
                    <span>"Base URL"</span>
                    <input
                        type="text"
                        name="base_url"
                        placeholder="https://api.example.com/v1"
                        spellcheck="false"
                        bind:value=base_url
                    />
                </label>
                <label>
                    <span>"Format"</span>
                    <select name="format" bind:value=format>
                        <option value="openai">"OpenAI-compatible"</option>
                    </select>
                </label>
                <label>
                    <span>"API key"</span>
                    <input type="password" name="api_key" autocomplete="new-password" bind:value=api_key />
                </label>
                <label class="wide">
                    <span>"Models"</span>
                    <input
                        type="text"
                        name="models"
                        placeholder="gpt-4o-mini, gpt-4o"
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
