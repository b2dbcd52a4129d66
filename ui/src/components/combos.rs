//! Combos: `GET /api/combos`, the active one (`/api/combos/active`), activate, test, delete,
//! and a create form.

use super::table::DataTable;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, parse_targets, Combo, ComboTest, NewCombo, STRATEGIES};
use crate::components::notice::{Note, Notice};
use crate::state::Dashboard;

const COLUMNS: &str = "4";

#[component]
pub fn Combos(dashboard: Dashboard) -> impl IntoView {
    let note = RwSignal::new(None::<Result<String, String>>);
    let test = RwSignal::new(None::<ComboTest>);

    let rows = move || {
        let active = dashboard.active_name();
        dashboard.combos.with(|combos| match combos {
            None => placeholder("placeholder", "Loading…".to_owned()),
            Some(Err(e)) => placeholder("placeholder error", format!("Could not load combos: {e}")),
            Some(Ok(list)) if list.is_empty() => placeholder(
                "placeholder empty",
                "No combos yet: create one below".to_owned(),
            ),
            Some(Ok(list)) => list
                .iter()
                .cloned()
                .map(|combo| {
                    let is_active = active.as_deref() == Some(combo.name.as_str());
                    view! { <ComboRow combo is_active dashboard note test /> }
                })
                .collect_view()
                .into_any(),
        })
    };

    view! {
        <section class="card" id="combos-panel">
            <h2>"Combos"</h2>
            <AliasHint dashboard />
            <DataTable id="combos" headers=&["Name", "Strategy", "Targets, in order"] actions=true>
                {rows}
            </DataTable>
            <Notice id="combos-message" note />
            {move || test.get().map(|result| view! { <TestResult result /> })}
            <h3>"New combo"</h3>
            <ComboForm dashboard note />
        </section>
    }
}

/// Which model name tools should ask for, and what it currently reaches.
#[component]
fn AliasHint(dashboard: Dashboard) -> impl IntoView {
    view! {
        <p id="alias-hint" class="hint">
            "Set your tools' model to "
            <code id="combo-alias">{move || dashboard.alias()}</code>
            {move || match dashboard.active_name() {
                Some(name) => {
                    view! {
                        ": it reaches the active combo "
                        <strong id="active-combo-name">{name}</strong>
                        "."
                    }
                        .into_any()
                }
                None => ": no combo is active yet, activate one below.".into_any(),
            }}
        </p>
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

/// The buttons of a combo row.
#[derive(Clone, Copy)]
enum Action {
    Activate,
    Test,
    Delete,
}

#[component]
fn ComboRow(
    combo: Combo,
    is_active: bool,
    dashboard: Dashboard,
    note: RwSignal<Note>,
    test: RwSignal<Option<ComboTest>>,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let name = combo.name.clone();

    // Runs one call for this combo, then reports and refreshes.
    let run = move |action: Action| {
        let name = name.clone();
        move |_| {
            let name = name.clone();
            busy.set(true);
            note.set(None);
            spawn_local(async move {
                let outcome = match action {
                    Action::Activate => api::activate_combo(&name)
                        .await
                        .map(|a| format!("{name} is active: clients using {} reach it", a.alias)),
                    Action::Delete => api::delete_combo(&name)
                        .await
                        .map(|()| format!("Deleted combo {name}")),
                    Action::Test => match api::test_combo(&name).await {
                        Ok(result) => {
                            test.set(Some(result));
                            busy.set(false);
                            return;
                        }
                        Err(e) => Err(e),
                    },
                };
                note.set(Some(outcome.map_err(|e| format!("{name}: {e}"))));
                busy.set(false);
                dashboard.refresh();
            });
        }
    };

    let targets = combo
        .targets
        .iter()
        .map(|t| view! { <li>{t.label()}</li> })
        .collect_view();
    let row_class = if is_active { "active" } else { "" };

    view! {
        <tr data-combo=combo.name.clone() class=row_class>
            <td class="name">
                {combo.name.clone()}
                {is_active.then(|| view! { <span class="badge ok">"active"</span> })}
            </td>
            <td class="strategy">{combo.strategy.clone()}</td>
            <td class="targets">
                <ol>{targets}</ol>
            </td>
            <td class="actions">
                <button
                    type="button"
                    class="activate-combo"
                    disabled=move || busy.get() || is_active
                    on:click=run(Action::Activate)
                >
                    {if is_active { "Active" } else { "Activate" }}
                </button>
                <button type="button" class="test-combo secondary" disabled=move || busy.get() on:click=run(Action::Test)>
                    "Test"
                </button>
                <button type="button" class="delete-combo danger" disabled=move || busy.get() on:click=run(Action::Delete)>
                    "Delete"
                </button>
            </td>
        </tr>
    }
}

/// The dry run's answer: which target would serve now, and why the others would not.
#[component]
fn TestResult(result: ComboTest) -> impl IntoView {
    let serve = match &result.would_serve {
        Some(t) => view! { " would be served by " <code id="would-serve">{t.clone()}</code> }.into_any(),
        None => view! { <span id="would-serve" class="message error">" has no target available now"</span> }
            .into_any(),
    };
    let targets = result
        .targets
        .iter()
        .map(|t| {
            let class = if t.status == "available" {
                "badge ok"
            } else {
                "badge bad"
            };
            view! {
                <li data-target=t.target.clone()>
                    <code>{t.target.clone()}</code>
                    " "
                    <span class=class>{t.status.clone()}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <div id="combo-test-result" class="banner note">
            <strong>"Test of " {result.combo.clone()}</strong>
            {serve}
            <ol class="target-checks">{targets}</ol>
        </div>
    }
}

#[component]
fn ComboForm(dashboard: Dashboard, note: RwSignal<Note>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let strategy = RwSignal::new(STRATEGIES[0].to_owned());
    let targets = RwSignal::new(String::new());
    let pick = RwSignal::new(String::new());
    let pending = RwSignal::new(false);

    // Choosing from the picker appends one line to the targets.
    let on_pick = move |ev: leptos::ev::Event| {
        let choice = event_target_value(&ev);
        if !choice.is_empty() {
            targets.update(|t| {
                if !t.is_empty() && !t.ends_with('\n') {
                    t.push('\n');
                }
                t.push_str(&choice);
                t.push('\n');
            });
        }
        pick.set(String::new());
    };
    let choices = move || {
        let mut list = dashboard.model_choices();
        dashboard.combos.with(|c| {
            if let Some(Ok(combos)) = c {
                list.extend(combos.iter().map(|c| format!("combo:{}", c.name)));
            }
        });
        list.into_iter()
            .map(|c| view! { <option value=c.clone()>{c.clone()}</option> })
            .collect_view()
    };

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let request = NewCombo {
            name: name.get_untracked().trim().to_owned(),
            strategy: strategy.get_untracked(),
            targets: parse_targets(&targets.get_untracked()),
        };
        pending.set(true);
        note.set(None);
        spawn_local(async move {
            match api::add_combo(&request).await {
                Ok(combo) => {
                    note.set(Some(Ok(format!("Created combo {}", combo.name))));
                    name.set(String::new());
                    targets.set(String::new());
                }
                Err(e) => note.set(Some(Err(e))),
            }
            pending.set(false);
            dashboard.refresh();
        });
    };

    view! {
        <form id="add-combo" on:submit=on_submit autocomplete="off">
            <label>
                <span>"Name"</span>
                <input type="text" name="name" placeholder="main" spellcheck="false" bind:value=name />
            </label>
            <label>
                <span>"Strategy"</span>
                <select name="strategy" bind:value=strategy>
                    {STRATEGIES.iter().map(|s| view! { <option value=*s>{*s}</option> }).collect_view()}
                </select>
            </label>
            <label>
                <span>"Add a target"</span>
                <select id="target-picker" name="target_picker" prop:value=pick on:change=on_pick>
                    <option value="">"Choose provider/model…"</option>
                    {choices}
                </select>
            </label>
            <label class="wide">
                <span>"Targets"</span>
                <textarea
                    name="targets"
                    rows="4"
                    placeholder="acme/gpt-4o-mini\ncombo:cheap"
                    spellcheck="false"
                    prop:value=targets
                    on:input=move |ev| targets.set(event_target_value(&ev))
                ></textarea>
                <small>"One " <code>"provider/model"</code> " (or " <code>"combo:name"</code> ") per line, tried in this order."</small>
            </label>
            <div class="form-actions wide">
                <button type="submit" id="add-combo-submit" disabled=move || pending.get()>
                    {move || if pending.get() { "Creating…" } else { "Create combo" }}
                </button>
            </div>
        </form>
    }
}
