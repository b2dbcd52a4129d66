//! Coding tools: `GET /api/tools`, and per tool a preview of the change (unified diff), apply,
//! and restore of the original settings.

use super::table::DataTable;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiResult, Tool, ToolAction, ToolChange, ToolState};

const COLUMNS: &str = "4";

/// The answer to the last button pressed, shown under the table.
#[derive(Clone, PartialEq)]
struct Output {
    tool: String,
    name: String,
    action: ToolAction,
    result: ApiResult<ToolChange>,
}

#[component]
pub fn CodingTools() -> impl IntoView {
    let tools = RwSignal::new(None::<ApiResult<Vec<Tool>>>);
    let output = RwSignal::new(None::<Output>);
    let reload = move || spawn_local(async move { tools.set(Some(api::tools().await)) });
    reload();

    let rows = move || {
        tools.with(|t| match t {
            None => placeholder("placeholder", "Loading…".to_owned()),
            Some(Err(e)) => placeholder("placeholder error", format!("Could not load tools: {e}")),
            Some(Ok(list)) => list
                .iter()
                .cloned()
                .map(|tool| view! { <ToolRow tool output reload /> })
                .collect_view()
                .into_any(),
        })
    };

    view! {
        <section class="card" id="tools-panel">
            <h2>"Coding tools"</h2>
            <p class="hint">
                "Point a tool at Switchyard with one click: only Switchyard's own settings are changed, "
                "the rest of the file is kept, and the original is saved for Restore."
            </p>
            <DataTable id="tools" headers=&["Tool", "State", "Settings files"] actions=true>
                {rows}
            </DataTable>
            {move || output.get().map(|o| view! { <OutputView output=o /> })}
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

/// Badge class and text for a state.
fn badge(state: &ToolState) -> (&'static str, String) {
    match state {
        ToolState::NotConfigured => ("badge muted", "not configured".to_owned()),
        ToolState::ConfiguredByUs => ("badge ok", "uses Switchyard".to_owned()),
        ToolState::ConfiguredElsewhere { base_url } => {
            ("badge warn", format!("points elsewhere: {base_url}"))
        }
        ToolState::Invalid { reason } => ("badge bad", format!("invalid: {reason}")),
        ToolState::Unknown => ("badge muted", "unknown".to_owned()),
    }
}

#[component]
fn ToolRow(
    tool: Tool,
    output: RwSignal<Option<Output>>,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let (id, name) = (tool.tool.clone(), tool.name.clone());
    let run = move |action: ToolAction| {
        let (id, name) = (id.clone(), name.clone());
        move |_| {
            let (id, name) = (id.clone(), name.clone());
            busy.set(true);
            spawn_local(async move {
                let result = api::tool_action(&id, action).await;
                let changed = action != ToolAction::Preview && result.is_ok();
                output.set(Some(Output {
                    tool: id,
                    name,
                    action,
                    result,
                }));
                busy.set(false);
                if changed {
                    reload();
                }
            });
        }
    };
    let (class, text) = badge(&tool.status.state);
    let files = tool
        .status
        .files
        .iter()
        .map(|f| view! { <li><code>{f.clone()}</code></li> })
        .collect_view();
    let restore_title = if tool.status.has_original_snapshot {
        "Put back the settings as they were before Switchyard changed them"
    } else {
        "Switchyard has not changed this tool's settings"
    };

    view! {
        <tr data-tool=tool.tool.clone()>
            <td class="name">{tool.name.clone()}</td>
            <td class="state"><span class=class>{text}</span></td>
            <td class="files"><ul>{files}</ul></td>
            <td class="actions">
                <button type="button" class="tool-preview secondary" disabled=move || busy.get() on:click=run(ToolAction::Preview)>
                    "Preview"
                </button>
                <button type="button" class="tool-apply" disabled=move || busy.get() on:click=run(ToolAction::Apply)>
                    "Apply"
                </button>
                <button
                    type="button"
                    class="tool-restore secondary"
                    title=restore_title
                    disabled=move || busy.get()
                    on:click=run(ToolAction::Restore)
                >
                    "Restore original"
                </button>
            </td>
        </tr>
    }
}

#[component]
fn OutputView(output: Output) -> impl IntoView {
    let verb = match output.action {
        ToolAction::Preview => "preview (nothing written yet)",
        ToolAction::Apply => "applied",
        ToolAction::Restore => "restored",
    };
    let body = match output.result {
        Err(message) => view! {
            <p id="tool-message" class="message error" role="alert">{message}</p>
        }
        .into_any(),
        Ok(change) => {
            let hint = (output.action != ToolAction::Preview)
                .then_some(change.restart_hint)
                .flatten()
                .map(|h| view! { <p id="tool-restart-hint" class="banner note">{h}</p> });
            let backups = (!change.backups.is_empty()).then(|| {
                let items = change
                    .backups
                    .iter()
                    .map(|b| view! { <li><code>{b.clone()}</code></li> })
                    .collect_view();
                view! {
                    <p class="hint">"Backups:"</p>
                    <ul id="tool-backups">{items}</ul>
                }
            });
            view! {
                <Diff diff=change.diff />
                {hint}
                {backups}
            }
            .into_any()
        }
    };
    view! {
        <div id="tools-output" data-tool=output.tool.clone()>
            <h3>{format!("{}: {verb}", output.name)}</h3>
            {body}
        </div>
    }
}

/// A unified diff, with added and removed lines coloured.
#[component]
fn Diff(diff: String) -> impl IntoView {
    if diff.trim().is_empty() {
        return view! { <p id="tool-diff" class="hint">"No changes: the settings are already as shown."</p> }
            .into_any();
    }
    let lines = diff
        .lines()
        .map(|line| {
            let class = if line.starts_with("+++") || line.starts_with("---") {
                "diff-file"
            } else if line.starts_with('+') {
                "diff-add"
            } else if line.starts_with('-') {
                "diff-del"
            } else if line.starts_with("@@") {
                "diff-hunk"
            } else {
                ""
            };
            view! { <span class=class>{format!("{line}\n")}</span> }
        })
        .collect_view();
    view! { <pre id="tool-diff" class="diff">{lines}</pre> }.into_any()
}
