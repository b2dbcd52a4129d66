//! "How to use" box: the exact setting each kind of client needs, and how models are named.

use leptos::prelude::*;

use crate::state::Dashboard;

/// Per tool: an id, its name and the exact setting, given the gateway's origin (`http://HOST`).
fn settings(origin: &str) -> [(&'static str, &'static str, String); 4] {
    [
        (
            "openai",
            "OpenAI-compatible clients",
            format!("base_url = {origin}/v1"),
        ),
        (
            "claude-code",
            "Claude Code",
            format!("ANTHROPIC_BASE_URL={origin}"),
        ),
        (
            "codex",
            "Codex (Responses)",
            format!("base_url = {origin}/v1"),
        ),
        (
            "gemini-cli",
            "Gemini CLI",
            format!("GOOGLE_GEMINI_BASE_URL={origin}"),
        ),
    ]
}

#[component]
pub fn HowToUse(dashboard: Dashboard) -> impl IntoView {
    let origin = move || {
        let listen = dashboard
            .health
            .with(|h| {
                h.as_ref()
                    .and_then(|r| r.as_ref().ok())
                    .map(|h| h.listen.clone())
            })
            .or_else(|| window().location().host().ok())
            .unwrap_or_else(|| "127.0.0.1:20128".to_owned());
        format!("http://{listen}")
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
            <p>"Point your tools at Switchyard; any tool can use any provider."</p>
            <dl class="facts tools">
                {move || {
                    settings(&origin())
                        .into_iter()
                        .map(|(id, tool, setting)| {
                            view! {
                                <dt>{tool}</dt>
                                <dd>
                                    <code id=format!("setting-{id}")>{setting}</code>
                                </dd>
                            }
                        })
                        .collect_view()
                }}
                <dt>"Model names"</dt>
                <dd>
                    <code>"provider/model"</code>
                    {move || {
                        example_model()
                            .map(|m| {
                                view! {
                                    ", e.g. "
                                    <code id="example-model">{m}</code>
                                }
                            })
                    }}
                </dd>
                <dt>"Active combo"</dt>
                <dd id="model-switchyard">
                    "Model " <code>"switchyard"</code> " means the active combo."
                </dd>
            </dl>
        </section>
    }
}
