//! "How to use" box: the endpoint and model naming that OpenAI-compatible clients need.

use leptos::prelude::*;

use crate::state::Dashboard;

#[component]
pub fn HowToUse(dashboard: Dashboard) -> impl IntoView {
    let base_url = move || {
        let listen = dashboard
            .health
            .with(|h| {
                h.as_ref()
                    .and_then(|r| r.as_ref().ok())
                    .map(|h| h.listen.clone())
            })
            .or_else(|| window().location().host().ok())
            .unwrap_or_else(|| "127.0.0.1:20128".to_owned());
        format!("http://{listen}/v1")
    };
    let example_model = move || {
        dashboard.providers.with(|p| {
            p.as_ref().and_then(|r| r.as_ref().ok()).and_then(|list| {
                list.iter()
                    .find_map(|p| p.models.first().map(|m| format!("{}/{m}", p.name)))
            })
        })
    };

    view! {
        <section class="card" id="how-to-use">
            <h2>"How to use"</h2>
            <p>
                "Point any OpenAI-compatible client at "
                <code id="base-url">{base_url}</code>
                "."
            </p>
            <p>
                "Name models as "
                <code>"provider/model"</code>
                {move || {
                    example_model()
                        .map(|m| {
                            view! {
                                ", for example "
                                <code id="example-model">{m}</code>
                            }
                        })
                }}
                "."
            </p>
        </section>
    }
}
