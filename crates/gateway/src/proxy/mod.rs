//! The request path: a client request in any of the four formats becomes a routing plan (one
//! target, or a combo's ordered targets), then upstream attempts until one commits.
//!
//! Same format on both sides: the body passes through with only `model` rewritten and the
//! account's key attached, and the response bytes are streamed as they arrive. Different formats:
//! the request is decoded into the IR and encoded for the upstream; the response stream is
//! translated event by event (nothing waits for the end).

mod aggregate;
mod attempt;
mod body;
mod cache;
mod client_key;
mod coalesce;
mod respond;
pub mod transport;
pub mod upstream;

pub use cache::{new_cache as cache_new, IdempotencyTable, ResponseCache};
pub use upstream::DEFAULT_ANTHROPIC_VERSION;

use crate::api::errors::ApiError;
use crate::api::read_body;
use crate::formats::{self, ir, Format};
use crate::routing::breaker::Admission;
use crate::routing::classify::{classify, ClassifyOptions, Next};
use crate::routing::limits::Gate;
use crate::routing::{provider_kind, Pick};
use crate::server::AppState;
use crate::storage::Provider;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    forward(state, Format::Chat, headers, body)
        .await
        .unwrap_or_else(|e| e.render(Format::Chat))
}

pub async fn responses(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    forward(state, Format::Responses, headers, body)
        .await
        .unwrap_or_else(|e| e.render(Format::Responses))
}

/// `POST /v1beta/models/{model}:{method}` (also under `/v1/models/…`): Gemini clients.
pub async fn gemini(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(rest): axum::extract::Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some((model, method)) = rest.rsplit_once(':') else {
        return ApiError::not_found(
            "unsupported_endpoint",
            format!("expected models/{{model}}:generateContent, got models/{rest}"),
        )
        .render(Format::Gemini);
    };
    let model = model.trim_start_matches("models/").to_string();
    let q = query.as_deref().unwrap_or("");
    let sse = q.split('&').any(|kv| kv == "alt=sse");
    let query_key = q
        .split('&')
        .find_map(|kv| kv.strip_prefix("key="))
        .map(str::to_owned);
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        "countTokens" => {
            return gemini_count(&state, &headers, query_key.as_deref(), &model, body).await
        }
        other => {
            return ApiError::not_found(
                "unsupported_endpoint",
                format!(
                "method {other:?} is not supported; use generateContent or streamGenerateContent"
            ),
            )
            .render(Format::Gemini)
        }
    };
    let call = CallOverrides {
        model: Some(model),
        stream: Some(stream),
        gemini_array: stream && !sse,
        query_key,
    };
    forward_with(state, Format::Gemini, headers, body, call)
        .await
        .unwrap_or_else(|e| e.render(Format::Gemini))
}

async fn gemini_count(
    state: &AppState,
    headers: &HeaderMap,
    query_key: Option<&str>,
    model: &str,
    body: Body,
) -> Response {
    let result = async {
        gate(state, headers, query_key).await?;
        let bytes = read_body(body, state.config.max_body_bytes).await?;
        let json: Value = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("request body is not valid JSON: {e}")))?;
        first_target(state, model)?;
        let req = formats::decode_request(Format::Gemini, &json).map_err(bad)?;
        Ok::<_, ApiError>(estimate_tokens(&req))
    }
    .await;
    match result {
        Ok(n) => (
            [("x-switchyard-estimated", "true")],
            axum::Json(serde_json::json!({"totalTokens": n})),
        )
            .into_response(),
        Err(e) => e.render(Format::Gemini),
    }
}

pub async fn messages(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    forward(state, Format::Messages, headers, body)
        .await
        .unwrap_or_else(|e| e.render(Format::Messages))
}

/// `POST /v1/embeddings`: forwarded to OpenAI-compatible providers with only `model` rewritten.
pub async fn embeddings(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    embed(&state, &headers, body)
        .await
        .unwrap_or_else(|e| e.render(Format::Chat))
}

async fn embed(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let mut ledger = respond::Ledger::new(state.clone(), Format::Chat, false);
    if let Err(e) = gate(state, headers, None).await {
        ledger.finish("rejected", e.status.as_u16());
        return Err(e);
    }
    let r = embed_inner(state, body, &mut ledger).await;
    match &r {
        Ok(resp) if resp.status().is_success() => ledger.finish("ok", 200),
        Ok(resp) => ledger.finish("error", resp.status().as_u16()),
        Err(e) => ledger.finish("error", e.status.as_u16()),
    }
    r
}

/// Pause and client-key checks for the single-call endpoints (the main pipeline does its own).
async fn gate(
    state: &AppState,
    headers: &HeaderMap,
    query_key: Option<&str>,
) -> Result<Option<crate::storage::keys::ClientKey>, ApiError> {
    if state.paused() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "gateway_paused",
            "Switchyard is paused; resume it from the tray or the dashboard",
        ));
    }
    client_key::check(state, headers, query_key).await
}

async fn embed_inner(
    state: &AppState,
    body: Body,
    ledger: &mut respond::Ledger,
) -> Result<Response, ApiError> {
    let bytes = read_body(body, state.config.max_body_bytes).await?;
    let mut json: Value = serde_json::from_slice(&bytes)
        .map_err(|e| bad(format!("request body is not valid JSON: {e}")))?;
    let model = json
        .get("model")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("missing required field `model`"))?
        .to_string();
    if json.get("input").is_none() {
        return Err(bad("missing required field `input`"));
    }
    ledger.row.requested = model.clone();
    let (provider, upstream_model) = first_target(state, &model)?;
    let provider = &provider;
    ledger.row.provider = Some(provider.name.clone());
    ledger.row.model = Some(upstream_model.clone());
    if provider.format != Format::Chat.as_str() {
        return Err(ApiError::bad_request(
            "unsupported_feature",
            format!(
                "embeddings need an OpenAI-compatible provider; {:?} speaks {}",
                provider.name, provider.format
            ),
        ));
    }
    json["model"] = Value::String(upstream_model.clone());
    let key = match &provider.key_ref {
        Some(entry) => state.credentials.get(entry).await.ok().flatten(),
        None => None,
    };
    let url = format!("{}/embeddings", provider.base_url.trim_end_matches('/'));
    let resp = single_call(
        state,
        provider,
        Format::Chat,
        url,
        upstream::json_headers(),
        key.as_deref(),
        &json,
    )
    .await?;
    let status = resp.status;
    let ct = resp.headers.get(header::CONTENT_TYPE).cloned();
    if !status.is_success() {
        return Ok(
            single_error(&provider.name, status, ct, resp, Format::Chat, Format::Chat).await,
        );
    }
    let mut out = Response::new(Body::from_stream(resp.body));
    out.headers_mut().insert(
        header::CONTENT_TYPE,
        ct.unwrap_or(HeaderValue::from_static("application/json")),
    );
    respond::diagnostics(
        &mut out,
        vec![
            (respond::diag::PROVIDER, provider.name.clone()),
            (respond::diag::MODEL, upstream_model.clone()),
        ],
    );
    Ok(out)
}

/// `POST /v1/messages/count_tokens`: forwarded to Anthropic-format upstreams; for the others
/// estimated locally (about 4 characters per token) and marked `X-Switchyard-Estimated: true`.
pub async fn count_tokens(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    count(&state, &headers, body)
        .await
        .unwrap_or_else(|e| e.render(Format::Messages))
}

async fn count(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Response, ApiError> {
    gate(state, headers, None).await?;
    let bytes = read_body(body, state.config.max_body_bytes).await?;
    let mut json: Value = serde_json::from_slice(&bytes)
        .map_err(|e| bad(format!("request body is not valid JSON: {e}")))?;
    let model = json
        .get("model")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("missing required field `model`"))?
        .to_string();
    let (provider, upstream_model) = first_target(state, &model)?;
    let provider = &provider;
    if provider.format == Format::Messages.as_str() {
        json["model"] = Value::String(upstream_model);
        let key = match &provider.key_ref {
            Some(entry) => state.credentials.get(entry).await.ok().flatten(),
            None => None,
        };
        let url = format!(
            "{}/messages/count_tokens",
            provider.base_url.trim_end_matches('/')
        );
        let version = headers
            .get("anthropic-version")
            .cloned()
            .unwrap_or(HeaderValue::from_static(DEFAULT_ANTHROPIC_VERSION));
        let mut up_headers = upstream::json_headers();
        up_headers.insert("anthropic-version", version);
        let resp = single_call(
            state,
            provider,
            Format::Messages,
            url,
            up_headers,
            key.as_deref(),
            &json,
        )
        .await?;
        let status = resp.status;
        let ct = resp.headers.get(header::CONTENT_TYPE).cloned();
        if !status.is_success() {
            return Ok(single_error(
                &provider.name,
                status,
                ct,
                resp,
                Format::Messages,
                Format::Messages,
            )
            .await);
        }
        let body = upstream::read_limited(resp.body, upstream::ERROR_BODY_LIMIT)
            .await
            .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, "upstream_error", e))?;
        return Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response());
    }
    let req = formats::decode_request(Format::Messages, &json).map_err(bad)?;
    let tokens = estimate_tokens(&req);
    Ok((
        [("x-switchyard-estimated", "true")],
        axum::Json(serde_json::json!({"input_tokens": tokens})),
    )
        .into_response())
}

/// About 4 characters per token; images count roughly 1.5k tokens.
fn estimate_tokens(req: &ir::Request) -> usize {
    let mut chars: usize = req.system.iter().map(String::len).sum();
    for m in &req.messages {
        for p in &m.parts {
            chars += match p {
                ir::Part::Text(t) => t.len(),
                ir::Part::Thinking { text, .. } => text.len(),
                ir::Part::ToolCall {
                    name, arguments, ..
                } => name.len() + arguments.len(),
                ir::Part::ToolResult { content, .. } => format!("{content:?}").len(),
                ir::Part::Image(_) => 6000,
            };
        }
    }
    chars += req
        .tools
        .iter()
        .map(|t| t.name.len() + t.parameters.to_string().len())
        .sum::<usize>();
    chars.div_ceil(4).max(1)
}

/// The target a single-call endpoint (embeddings, count_tokens) uses: the plan's first.
fn first_target(state: &AppState, model: &str) -> Result<(Provider, String), ApiError> {
    let plan = state.router.plan(
        state.providers(),
        &state.aliases(),
        &state.prices(),
        model,
        None,
    )?;
    let t = &plan.targets[0];
    Ok((plan.provider(t).clone(), t.model.clone()))
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_request", msg)
}

/// What the client asked for, where it is not in the body (Gemini puts model and streaming in
/// the URL).
#[derive(Default)]
pub struct CallOverrides {
    pub model: Option<String>,
    pub stream: Option<bool>,
    /// Gemini clients without `alt=sse` get one JSON array streamed incrementally.
    pub gemini_array: bool,
    /// `?key=` from the query string (older Gemini clients).
    pub query_key: Option<String>,
}

async fn forward(
    state: Arc<AppState>,
    client: Format,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    forward_with(state, client, headers, body, CallOverrides::default()).await
}

/// Maximum upstream attempts for one request (routing.md §9).
const MAX_ATTEMPTS: u32 = 30;
/// "Wait instead of fail": when everything is cooling and the earliest frees up this soon.
const MAX_COOLDOWN_WAIT: Duration = Duration::from_secs(30);
const MAX_WAITS: u32 = 3;
/// How long a request waits for an account's own limits before trying another account.
const LIMIT_WAIT: Duration = Duration::from_secs(2);

/// The request pipeline (routing.md §1): parse → client key + budget → idempotency/cache →
/// resolve into a plan → for each target and account: breaker gate, attempt, classify failures
/// → commit the first good answer, or one clear error in the client's format.
pub async fn forward_with(
    state: Arc<AppState>,
    client: Format,
    headers: HeaderMap,
    body: Body,
    over: CallOverrides,
) -> Result<Response, ApiError> {
    let bytes = read_body(body, state.config.max_body_bytes).await?;
    let body = body::ClientBody::parse(bytes).map_err(bad)?;
    let model = match (&over.model, body.get::<Value>("model")) {
        (Some(m), _) => m.clone(),
        (None, Some(Ok(Value::String(m)))) if !m.trim().is_empty() => m.trim().to_string(),
        (None, Some(Ok(Value::String(_))) | None) => {
            return Err(bad(
                "missing required field `model` (use \"<provider>/<model>\" or a combo name)",
            ))
        }
        (None, Some(_)) => return Err(bad("`model` must be a string")),
    };
    let stream = match body.get::<Option<bool>>("stream") {
        Some(Err(_)) => return Err(bad("`stream` must be a boolean")),
        Some(Ok(s)) => s,
        None => None,
    };
    let stream = over.stream.unwrap_or(stream.unwrap_or(false));
    // Cursor posts Responses-shaped bodies (`input`, no `messages`) to /chat/completions and
    // expects Chat chunks back (formats.md #30): read it as Responses, answer as Chat.
    let request_format = if client == Format::Chat && !body.has("messages") && body.has("input") {
        Format::Responses
    } else {
        client
    };
    let mut ledger = respond::Ledger::new(state.clone(), client, stream);
    ledger.row.requested = model.clone();
    if state.paused() {
        ledger.finish("rejected", 503);
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "gateway_paused",
            "Switchyard is paused; resume it from the tray or the dashboard",
        ));
    }
    let key = client_key::check(&state, &headers, over.query_key.as_deref()).await;
    let key = match key {
        Ok(k) => k,
        Err(e) => {
            ledger.finish("rejected", e.status.as_u16());
            return Err(e);
        }
    };
    ledger.row.key_id = key.as_ref().map(|k| k.id);

    let idem = cache::idempotency_key(&headers);
    let _idem_guard = match &idem {
        Some(k) => match state.idempotency.begin(k).await {
            cache::Begin::Replay(hit) => {
                ledger.finish("idempotent_replay", 200);
                let mut r = hit.response();
                r.headers_mut().insert(
                    "x-switchyard-idempotent",
                    HeaderValue::from_static("replay"),
                );
                return Ok(r);
            }
            cache::Begin::First(g) => Some(g),
        },
        None => None,
    };

    let header_combo = headers
        .get("x-switchyard-combo")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let plan = state.router.plan(
        state.providers(),
        &state.aliases(),
        &state.prices(),
        &model,
        header_combo,
    );
    let plan = match plan {
        Ok(p) => p,
        Err(e) => {
            ledger.finish("error", e.status.as_u16());
            return Err(e);
        }
    };
    ledger.row.combo = plan.combo.clone();
    // The cache key covers where the request would go (a combo switch must not serve the old
    // combo's answer) and the headers that shape the answer.
    let route: Vec<String> = if !state.settings().cache_enabled {
        Vec::new()
    } else {
        plan.targets
            .iter()
            .map(|t| {
                format!(
                    "{}/{}@{}",
                    plan.provider(t).name,
                    t.model,
                    t.account.as_deref().unwrap_or("")
                )
            })
            .chain(
                [
                    "anthropic-beta",
                    "anthropic-version",
                    "x-switchyard-account",
                ]
                .iter()
                .map(|h| {
                    headers
                        .get(*h)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                }),
            )
            .collect()
    };
    let cache_key = cache::key_for(&state, client, &headers, &body, stream, &route.join("\n"));
    if let Some(k) = &cache_key {
        if let Some(hit) = state.cache.get(k) {
            ledger.row.provider = Some(hit.provider.clone());
            ledger.row.model = Some(hit.model.clone());
            ledger.finish("cache_hit", 200);
            return Ok(hit.response());
        }
    }
    let pin_header = headers
        .get("x-switchyard-account")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (anthropic_version, anthropic_beta) = attempt::client_headers(&headers);
    let mut call = attempt::Call {
        client,
        request_format,
        body,
        ir: None,
        stream,
        gemini_array: over.gemini_array,
        anthropic_version,
        anthropic_beta,
        extended_context: plan.extended_context,
    };
    // A body the client's own codec cannot read is the client's error, reported as such before
    // any upstream is tried (not as a provider's 400 after the first attempt).
    let translated = plan
        .targets
        .iter()
        .any(|t| attempt::needs_translation(&call, attempt::upstream_format(plan.provider(t))));
    if translated {
        match call
            .body
            .tree()
            .and_then(|tree| formats::decode_request(call.request_format, tree))
        {
            Ok(ir) => call.ir = Some(ir),
            Err(e) => {
                ledger.finish("rejected", 400);
                return Err(bad(e));
            }
        }
    }
    // Targets that cannot run this request at all are skipped; if none can, say why.
    let skipped: Vec<Option<String>> = plan
        .targets
        .iter()
        .map(|t| attempt::unsupported(&call, plan.provider(t)))
        .collect();
    if skipped.iter().all(Option::is_some) {
        ledger.finish("rejected", 400);
        let mut why: Vec<String> = skipped.into_iter().flatten().collect();
        why.dedup();
        return Err(ApiError::bad_request("unsupported_feature", why.join("; ")));
    }
    let t = timeouts(&plan.config);
    let opts_any = plan.config.any_non_ok_moves_on.unwrap_or(false);
    let retry_delay = Duration::from_millis(plan.config.retry_delay_ms.unwrap_or(2000));

    let mut hops: Vec<String> = Vec::new();
    let mut attempts = 0u32;
    let mut last: Option<(attempt::AttemptFailure, String, Format)> = None;
    let mut earliest: Option<Instant> = None;
    let mut all_limited = true;
    let mut unusable: Vec<String> = Vec::new();
    let mut waits = 0;
    'rounds: loop {
        let mut tried_this_round = false;
        for (target, skip) in plan.targets.iter().zip(&skipped) {
            let p = plan.provider(target);
            let label = format!("{}/{}", p.name, target.model);
            if skip.is_some() {
                if !hops.contains(&format!("{label}:unsupported")) {
                    hops.push(format!("{label}:unsupported"));
                }
                continue;
            }
            if let Admission::Rejected { retry_at } = state.router.admit(p) {
                hops.push(format!("{label}:breaker-open"));
                earliest = Some(earliest.map_or(retry_at, |e| e.min(retry_at)));
                all_limited = false;
                continue;
            }
            let pin = target.account.clone().or_else(|| pin_header.clone());
            let mut excluded: Vec<String> = Vec::new();
            let mut same: Option<String> = None;
            let mut retried: Vec<String> = Vec::new();
            loop {
                if attempts >= MAX_ATTEMPTS {
                    break 'rounds;
                }
                let account = match same.take() {
                    Some(a) => a,
                    None => {
                        match state
                            .router
                            .pick_account(p, &target.model, pin.as_deref(), &excluded)
                        {
                            Pick::Account(a) => a,
                            Pick::Cooling(e) => {
                                hops.push(format!("{label}:cooling"));
                                if let Some(e) = e {
                                    earliest = Some(earliest.map_or(e, |x| x.min(e)));
                                }
                                break;
                            }
                            Pick::Unusable(why) => {
                                if excluded.is_empty() {
                                    hops.push(format!("{label}:unusable"));
                                    all_limited = false;
                                    unusable.push(why);
                                }
                                break;
                            }
                        }
                    }
                };
                let Some(acct) = p.accounts.iter().find(|a| a.label == account) else {
                    break;
                };
                // The account's own limits (rpm, gap, concurrency): busy → another account.
                let permit = match state.router.limiter(&p.name, &account) {
                    None => None,
                    Some(l) => match l.enter(LIMIT_WAIT).await {
                        Gate::Go(permit) => permit,
                        Gate::Busy(d) => {
                            hops.push(format!("{label}:busy"));
                            let e = Instant::now() + d;
                            earliest = Some(earliest.map_or(e, |x| x.min(e)));
                            excluded.push(account);
                            continue;
                        }
                    },
                };
                ledger.hold(permit);
                attempts += 1;
                tried_this_round = true;
                match attempt::run(&state, &mut call, p, acct, &target.model, &t).await {
                    Ok(committed) => {
                        state.router.on_success(p, &account);
                        hops.push(format!("{label}:ok"));
                        ledger.mark_first_token();
                        ledger.row.provider = Some(p.name.clone());
                        ledger.row.account = Some(account.clone());
                        ledger.row.model = Some(target.model.clone());
                        ledger.row.attempts = attempts;
                        if hops.len() > 1 {
                            ledger.row.fallback = Some(hops.join(","));
                        }
                        let latency = ledger.elapsed_ms();
                        let fallback = (hops.len() > 1).then(|| hops.join(","));
                        if let (Some(combo), true) = (&plan.combo, hops.len() > 1) {
                            let _ = state.events.send(crate::server::GatewayEvent::Failover {
                                combo: combo.clone(),
                                failed: hops[..hops.len() - 1].to_vec(),
                                served_by: label.clone(),
                            });
                        }
                        // Never cache an answer produced while failing over (routing.md §11).
                        let cache_key = cache_key.clone().filter(|_| hops.len() == 1);
                        let cacheable = cache_key.is_some() || idem.is_some();
                        let mut resp = if cacheable {
                            cache::capture(
                                &state,
                                committed,
                                cache_key.clone(),
                                idem.clone(),
                                p,
                                target,
                                ledger,
                                t.idle,
                            )
                            .await
                        } else {
                            respond::respond(
                                committed,
                                client,
                                p.name.clone(),
                                t.idle,
                                state.config.keepalive,
                                ledger,
                            )
                        };
                        use respond::diag;
                        let mut d = vec![
                            (diag::PROVIDER, p.name.clone()),
                            (diag::ACCOUNT, account.clone()),
                            (diag::MODEL, target.model.clone()),
                            (diag::ATTEMPTS, attempts.to_string()),
                            (diag::LATENCY, latency.to_string()),
                        ];
                        if let Some(c) = &plan.combo {
                            d.push((diag::COMBO, c.clone()));
                        }
                        if let Some(f) = fallback {
                            d.push((diag::FALLBACK, f));
                        }
                        if cache_key.is_some() {
                            d.push((diag::CACHE, "MISS".into()));
                        }
                        respond::diagnostics(&mut resp, d);
                        return Ok(resp);
                    }
                    Err(f) => {
                        // The failed attempt's concurrency slot is free again (a same-account
                        // retry must not wait for itself).
                        ledger.hold(None);
                        let opts = ClassifyOptions {
                            any_non_ok_moves_on: opts_any,
                            per_model_quota: false,
                            already_retried_same_account: retried.contains(&account),
                        };
                        let verdict = classify(&f.failure, provider_kind(p), &opts);
                        let until = state.router.on_failure(
                            p,
                            &account,
                            &target.model,
                            &verdict,
                            f.retry_hint,
                        );
                        // Only rate-type cooldowns say when to retry; a 404 model lock does not.
                        let rate_like = matches!(
                            verdict.account,
                            crate::routing::classify::AccountAction::Backoff
                                | crate::routing::classify::AccountAction::BackoffModel
                                | crate::routing::classify::AccountAction::CooldownFor(_)
                        );
                        if let (Some(u), true) = (until, rate_like) {
                            earliest = Some(earliest.map_or(u, |e| e.min(u)));
                        }
                        if f.status.map(|s| s.as_u16()) != Some(429) {
                            all_limited = false;
                        }
                        tracing::info!(provider = %p.name, account = %account, model = %target.model,
                            reason = verdict.reason, "attempt failed: {}", f.message);
                        hops.push(format!("{label}:{}", f.tag));
                        let upstream = attempt::upstream_format(p);
                        let next = verdict.next;
                        // A failed request is still attributed to the last target it tried.
                        ledger.row.provider = Some(p.name.clone());
                        ledger.row.account = Some(account.clone());
                        ledger.row.model = Some(target.model.clone());
                        last = Some((f, p.name.clone(), upstream));
                        match next {
                            Next::Stop => break 'rounds,
                            Next::RetrySameAccount if !opts.already_retried_same_account => {
                                tokio::time::sleep(jitter(retry_delay)).await;
                                retried.push(account.clone());
                                excluded.push(account.clone());
                                same = Some(account);
                            }
                            Next::RetrySameAccount | Next::NextAccount => {
                                if !excluded.contains(&account) {
                                    excluded.push(account);
                                }
                            }
                            Next::NextTarget | Next::NextTargetOtherFormat => break,
                        }
                    }
                }
            }
        }
        // Everything was cooling before we could even try: wait a little instead of failing.
        let now = Instant::now();
        match earliest {
            Some(e)
                if !tried_this_round
                    && waits < MAX_WAITS
                    && e.saturating_duration_since(now) <= MAX_COOLDOWN_WAIT =>
            {
                waits += 1;
                tokio::time::sleep_until(e.into()).await;
                earliest = None;
                hops.clear();
            }
            _ => break,
        }
    }
    let resp = final_error(
        client,
        &plan,
        &hops,
        last,
        earliest,
        all_limited,
        attempts,
        &unusable,
    );
    ledger.row.attempts = attempts;
    ledger.row.fallback = (!hops.is_empty()).then(|| hops.join(","));
    ledger.finish("error", resp.status().as_u16());
    Ok(resp)
}

/// ±20 % (routing.md §12), so retries of many requests do not land at the same instant.
fn jitter(d: Duration) -> Duration {
    crate::routing::rng::Rng::from_entropy().jitter(d, 0.2)
}

fn timeouts(c: &crate::storage::ComboConfig) -> attempt::Timeouts {
    let d = attempt::Timeouts::default();
    attempt::Timeouts {
        first_byte: c
            .first_byte_timeout_ms
            .map_or(d.first_byte, Duration::from_millis),
        readiness: c
            .readiness_timeout_ms
            .map_or(d.readiness, Duration::from_millis),
        idle: c.idle_timeout_ms.map_or(d.idle, Duration::from_millis),
        total: d.total,
    }
}

/// One clear error when no target answered (api-surface.md §8, status policy).
#[allow(clippy::too_many_arguments)]
fn final_error(
    client: Format,
    plan: &crate::routing::plan::Plan,
    hops: &[String],
    last: Option<(attempt::AttemptFailure, String, Format)>,
    earliest: Option<Instant>,
    all_limited: bool,
    attempts: u32,
    unusable: &[String],
) -> Response {
    let retry_secs = earliest.map(|e| {
        e.saturating_duration_since(Instant::now())
            .as_secs_f64()
            .ceil()
            .max(1.0) as u64
    });
    let with_retry = |mut r: Response| {
        let status = r.status().as_u16();
        if let (Some(s), true) = (retry_secs, status == 429 || status == 503) {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        r
    };
    // A single target (no combo, no fallback): its own error, as the provider said it.
    if let (Some((f, provider, upstream)), 1, None) = (&last, plan.targets.len(), &plan.combo) {
        if let Some(status) = f.status {
            let r = upstream::error_response(
                provider,
                status,
                f.content_type.clone(),
                &f.body,
                client,
                *upstream,
            );
            return with_retry(r);
        }
        let status = match f.failure {
            crate::routing::classify::Failure::OurTimeout => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::BAD_GATEWAY,
        };
        let code = if status == StatusCode::GATEWAY_TIMEOUT {
            "upstream_timeout"
        } else {
            "upstream_error"
        };
        return ApiError::new(status, code, f.message.clone()).render(client);
    }
    // A stop verdict (a plain 400 etc.): the upstream's own error.
    if let Some((f, provider, upstream)) = &last {
        if let Some(status) = f
            .status
            .filter(|s| s.is_client_error() && s.as_u16() != 429)
        {
            if !matches!(status.as_u16(), 401 | 402 | 403 | 404 | 408) {
                return upstream::error_response(
                    provider,
                    status,
                    f.content_type.clone(),
                    &f.body,
                    client,
                    *upstream,
                );
            }
        }
    }
    let route = plan
        .combo
        .as_ref()
        .map(|c| format!("combo {c:?}"))
        .unwrap_or_else(|| "the model".into());
    let tried = if hops.is_empty() {
        String::new()
    } else {
        format!(" (tried: {})", hops.join(", "))
    };
    if attempts == 0 && !unusable.is_empty() && earliest.is_none() {
        // Nothing to wait for: say what needs the user's attention.
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_available_account",
            format!(
                "no usable account for {route}: {}{tried}",
                unusable.join("; ")
            ),
        )
        .render(client);
    }
    if attempts == 0 || all_limited {
        let when = retry_secs
            .map(|s| {
                format!(
                    "; the first frees up {}",
                    crate::quota::countdown(
                        crate::routing::now_unix() + s,
                        crate::routing::now_unix()
                    )
                )
            })
            .unwrap_or_default();
        let (status, code) = if earliest.is_some() {
            (StatusCode::TOO_MANY_REQUESTS, "all_accounts_cooling")
        } else {
            (StatusCode::SERVICE_UNAVAILABLE, "no_available_account")
        };
        let detail = last
            .as_ref()
            .map(|(f, _, _)| format!(": {}", f.message))
            .unwrap_or_default();
        return with_retry(
            ApiError::new(
                status,
                code,
                format!("every account for {route} is rate-limited or cooling down{when}{tried}{detail}"),
            )
            .render(client),
        );
    }
    let detail = last
        .as_ref()
        .map(|(f, _, _)| format!("; last error: {}", f.message))
        .unwrap_or_default();
    with_retry(
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "all_targets_failed",
            format!("no target of {route} could answer{tried}{detail}"),
        )
        .render(client),
    )
}
/// One upstream call of the single-call endpoints: the account's key where the provider wants
/// it, and a bound like an attempt's wait for headers (a connection that accepts and then
/// stalls, TLS included, must not hang the client).
async fn single_call(
    state: &AppState,
    provider: &Provider,
    format: Format,
    mut url: String,
    mut headers: HeaderMap,
    key: Option<&str>,
    body: &Value,
) -> Result<transport::Answer, ApiError> {
    upstream::apply_auth(&mut headers, &mut url, provider, format, key)
        .map_err(|m| ApiError::new(StatusCode::BAD_GATEWAY, "upstream_error", m))?;
    let wait = attempt::Timeouts::default().first_byte;
    let send = state
        .http
        .post(&url, headers, Bytes::from(body.to_string()));
    match tokio::time::timeout(wait, send).await {
        Ok(r) => r.map_err(|e| upstream::unreachable(&provider.name, &url, e)),
        Err(_) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_timeout",
            format!(
                "provider {:?} sent no response headers within {} s",
                provider.name,
                wait.as_secs()
            ),
        )),
    }
}

/// An upstream error on the single-call endpoints (no fallback there), with its `Retry-After`.
async fn single_error(
    provider: &str,
    status: StatusCode,
    content_type: Option<HeaderValue>,
    resp: transport::Answer,
    client: Format,
    upstream_format: Format,
) -> Response {
    if status.is_redirection() {
        let msg = upstream::redirect_message(provider, status, &resp.headers);
        return ApiError::new(StatusCode::BAD_GATEWAY, "upstream_error", msg).render(client);
    }
    let retry_after = resp.headers.get(header::RETRY_AFTER).cloned();
    let body = upstream::read_limited(resp.body, upstream::ERROR_BODY_LIMIT)
        .await
        .unwrap_or_default();
    let mut r = upstream::error_response(
        provider,
        status,
        content_type,
        &bytes::Bytes::from(body),
        client,
        upstream_format,
    );
    if let Some(v) = retry_after {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// The key a client sent, from wherever it put it (for the guard).
pub fn presented_key<'a>(headers: &'a HeaderMap, query_key: Option<&'a str>) -> Option<&'a str> {
    client_key::presented(headers, query_key)
}

/// The client key a request carries, if it is one of ours (for `/status`).
pub fn client_key_of(
    state: &AppState,
    headers: &HeaderMap,
) -> Option<crate::storage::keys::ClientKey> {
    client_key::presented(headers, None)
        .and_then(|k| state.client_key(&crate::storage::keys::hash(k)))
}
