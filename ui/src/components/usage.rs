//! Usage: totals per provider (`GET /api/usage?group=provider`) and the last requests
//! (`GET /api/requests`), loaded on demand.

use super::table::DataTable;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, clock_utc, usd, RequestRow, UsageRow};
use crate::state::Loaded;

const RECENT: u32 = 20;

#[component]
pub fn Usage() -> impl IntoView {
    let totals = RwSignal::new(None::<api::ApiResult<Vec<UsageRow>>>);
    let recent = RwSignal::new(None::<api::ApiResult<Vec<RequestRow>>>);
    let loading = RwSignal::new(false);

    let load = move || {
        loading.set(true);
        spawn_local(async move {
            let (t, r) = (
                api::usage_by_provider().await,
                api::recent_requests(RECENT).await,
            );
            totals.set(Some(t));
            recent.set(Some(r));
            loading.set(false);
        });
    };
    load();

    view! {
        <section class="card" id="usage-panel">
            <div class="card-head">
                <h2>"Usage"</h2>
                <button type="button" id="usage-refresh" class="secondary small" disabled=move || loading.get() on:click=move |_| load()>
                    {move || if loading.get() { "Refreshing…" } else { "Refresh" }}
                </button>
            </div>
            <h3>"By provider"</h3>
            <DataTable id="usage-by-provider" headers=&["Provider", "Requests", "Errors", "Input tokens", "Output tokens", "Cache read", "Cost"] numeric_from=1>
                {move || totals_rows(totals)}
            </DataTable>
            <h3>{format!("Last {RECENT} requests")}</h3>
            <DataTable id="recent-requests" headers=&["Time (UTC)", "Requested", "Served by", "Status", "Attempts", "Latency", "Tokens in/out", "Cost"] numeric_from=3>
                {move || recent_rows(recent)}
            </DataTable>
        </section>
    }
}

fn placeholder(class: &'static str, columns: &'static str, text: String) -> AnyView {
    view! {
        <tr class=class>
            <td colspan=columns>{text}</td>
        </tr>
    }
    .into_any()
}

fn totals_rows(totals: RwSignal<Loaded<Vec<UsageRow>>>) -> AnyView {
    totals.with(|t| match t {
        None => placeholder("placeholder", "7", "Loading…".to_owned()),
        Some(Err(e)) => placeholder(
            "placeholder error",
            "7",
            format!("Could not load usage: {e}"),
        ),
        Some(Ok(rows)) if rows.is_empty() => {
            placeholder("placeholder empty", "7", "No requests yet".to_owned())
        }
        Some(Ok(rows)) => rows
            .iter()
            .map(|r| {
                // "-": requests refused before any provider was chosen.
                let group = if r.group == "-" {
                    "(none)".to_owned()
                } else {
                    r.group.clone()
                };
                view! {
                    <tr data-group=r.group.clone()>
                        <td class="name">{group}</td>
                        <td class="num requests">{r.requests}</td>
                        <td class="num errors">{r.errors}</td>
                        <td class="num">{r.input_tokens}</td>
                        <td class="num">{r.output_tokens}</td>
                        <td class="num">{r.cache_read}</td>
                        <td class="num">{usd(r.cost_usd)}</td>
                    </tr>
                }
            })
            .collect_view()
            .into_any(),
    })
}

fn recent_rows(recent: RwSignal<Loaded<Vec<RequestRow>>>) -> AnyView {
    recent.with(|t| match t {
        None => placeholder("placeholder", "8", "Loading…".to_owned()),
        Some(Err(e)) => placeholder(
            "placeholder error",
            "8",
            format!("Could not load requests: {e}"),
        ),
        Some(Ok(rows)) if rows.is_empty() => {
            placeholder("placeholder empty", "8", "No requests yet".to_owned())
        }
        Some(Ok(rows)) => rows.iter().map(request_row).collect_view().into_any(),
    })
}

fn request_row(r: &RequestRow) -> impl IntoView {
    let served = match (&r.provider, &r.model) {
        (Some(p), Some(m)) => {
            let account = r
                .account
                .as_ref()
                .map(|a| format!(" @{a}"))
                .unwrap_or_default();
            let combo = r
                .combo
                .as_ref()
                .map(|c| format!(" via {c}"))
                .unwrap_or_default();
            format!("{p}/{m}{account}{combo}")
        }
        _ => "—".to_owned(),
    };
    let ok = r.outcome.as_deref() == Some("ok");
    let status = match (r.status, &r.outcome) {
        (Some(s), Some(o)) => format!("{s} {o}"),
        (Some(s), None) => s.to_string(),
        (None, Some(o)) => o.clone(),
        (None, None) => "—".to_owned(),
    };
    let fallback = r
        .fallback
        .as_ref()
        .filter(|f| !f.is_null())
        .map(|f| match f {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    let tokens = match (r.input_tokens, r.output_tokens) {
        (None, None) => "—".to_owned(),
        (i, o) => format!(
            "{}/{}",
            i.map_or("—".to_owned(), |n| n.to_string()),
            o.map_or("—".to_owned(), |n| n.to_string())
        ),
    };
    let latency = r.latency_ms.map_or("—".to_owned(), |ms| match r.ttft_ms {
        Some(t) if t != ms => format!("{ms} ms (first token {t} ms)"),
        _ => format!("{ms} ms"),
    });
    view! {
        <tr class=if ok { "request ok" } else { "request failed" }>
            <td>{clock_utc(r.ts_ms)}</td>
            <td class="requested"><code>{r.requested.clone().unwrap_or_else(|| "—".to_owned())}</code></td>
            <td class="served">
                {served}
                {fallback.map(|f| view! { <small class="fallback">{format!("fallback: {f}")}</small> })}
            </td>
            <td class="num status-code">{status}</td>
            <td class="num">{r.attempts.map_or("—".to_owned(), |n| n.to_string())}</td>
            <td class="num">{latency}</td>
            <td class="num tokens">{tokens}</td>
            <td class="num">{r.cost_usd.map_or("—".to_owned(), usd)}</td>
        </tr>
    }
}
