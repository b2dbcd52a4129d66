//! The single-call endpoints: embeddings and token counting. One target (the plan's first),
//! one upstream call, no failover: a client asking for a count or a vector wants that target's
//! answer, and these calls are cheap to repeat.

use super::respond::{self, Ledger};
use super::{attempt, client_key, transport, upstream, DEFAULT_ANTHROPIC_VERSION};
use crate::error::{read_body, ApiError};
use crate::formats::{self, ir, Format};
use crate::state::AppState;
use crate::storage::Provider;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;
use std::sync::Arc;
use switchyard_types::Outcome;

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_request", msg)
}

/// The body as a JSON tree (these endpoints rewrite or decode it, so a tree is needed anyway).
async fn read_json(state: &AppState, body: Body) -> Result<Value, ApiError> {
    let bytes = read_body(body, state.config.max_body_bytes).await?;
    serde_json::from_slice(&bytes).map_err(|e| bad(format!("request body is not valid JSON: {e}")))
}

/// The body's `model`, within the length every model name has.
fn model_of(json: &Value) -> Result<String, ApiError> {
    let model = json
        .get("model")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("missing required field `model`"))?;
    crate::routing::plan::check_length(model)?;
    Ok(model.to_string())
}

/// `POST /v1beta/models/{model}:countTokens`: estimated locally.
pub async fn gemini_count(
    state: &AppState,
    headers: &HeaderMap,
    query_key: Option<&str>,
    model: &str,
    body: Body,
) -> Response {
    let result = async {
        client_key::admit(state, headers, query_key).await?;
        let json = read_json(state, body).await?;
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

/// `POST /v1/embeddings`: forwarded to OpenAI-compatible providers with only `model` rewritten.
pub async fn embed(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let mut ledger = Ledger::new(state.clone(), Format::Chat, false);
    if let Err(e) = client_key::admit(state, headers, None).await {
        ledger.finish(Outcome::Rejected, e.status.as_u16());
        return Err(e);
    }
    let r = embed_inner(state, body, &mut ledger).await;
    match &r {
        Ok(resp) if resp.status().is_success() => ledger.finish(Outcome::Ok, 200),
        Ok(resp) => ledger.finish(Outcome::Error, resp.status().as_u16()),
        Err(e) => ledger.finish(Outcome::Error, e.status.as_u16()),
    }
    r
}

async fn embed_inner(
    state: &AppState,
    body: Body,
    ledger: &mut Ledger,
) -> Result<Response, ApiError> {
    let mut json = read_json(state, body).await?;
    let model = model_of(&json)?;
    if json.get("input").is_none() {
        return Err(bad("missing required field `input`"));
    }
    ledger.row.requested = model.clone();
    let (provider, upstream_model) = first_target(state, &model)?;
    ledger.row.provider = Some(provider.name.clone());
    ledger.row.model = Some(upstream_model.clone());
    if provider.format != Format::Chat {
        return Err(ApiError::bad_request(
            "unsupported_feature",
            format!(
                "embeddings need an OpenAI-compatible provider; {:?} speaks {}",
                provider.name, provider.format
            ),
        ));
    }
    json["model"] = Value::String(upstream_model.clone());
    let resp = single_call(
        state,
        &provider,
        "/embeddings",
        upstream::json_headers(),
        &json,
    )
    .await?;
    if !resp.status.is_success() {
        return Ok(single_error(state, &provider, resp, Format::Chat).await);
    }
    let ct = resp.headers.get(header::CONTENT_TYPE).cloned();
    let mut out = Response::new(Body::from_stream(resp.body));
    out.headers_mut().insert(
        header::CONTENT_TYPE,
        ct.unwrap_or(HeaderValue::from_static("application/json")),
    );
    respond::diagnostics(
        &mut out,
        vec![
            (respond::diag::PROVIDER, provider.name.clone()),
            (respond::diag::MODEL, upstream_model),
        ],
    );
    Ok(out)
}

/// `POST /v1/messages/count_tokens`: forwarded to Anthropic-format upstreams; for the others
/// estimated locally (about 4 characters per token) and marked `X-Switchyard-Estimated: true`.
pub async fn count(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    client_key::admit(state, headers, None).await?;
    let mut json = read_json(state, body).await?;
    let model = model_of(&json)?;
    let (provider, upstream_model) = first_target(state, &model)?;
    if provider.format != Format::Messages {
        let req = formats::decode_request(Format::Messages, &json).map_err(bad)?;
        let tokens = estimate_tokens(&req);
        return Ok((
            [("x-switchyard-estimated", "true")],
            axum::Json(serde_json::json!({"input_tokens": tokens})),
        )
            .into_response());
    }
    json["model"] = Value::String(upstream_model);
    let version = headers
        .get("anthropic-version")
        .cloned()
        .unwrap_or(HeaderValue::from_static(DEFAULT_ANTHROPIC_VERSION));
    let mut up_headers = upstream::json_headers();
    up_headers.insert("anthropic-version", version);
    let resp = single_call(
        state,
        &provider,
        "/messages/count_tokens",
        up_headers,
        &json,
    )
    .await?;
    if !resp.status.is_success() {
        return Ok(single_error(state, &provider, resp, Format::Messages).await);
    }
    let body = upstream::read_limited(resp.body, upstream::ERROR_BODY_LIMIT)
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, "upstream_error", e))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
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

/// One upstream call of the single-call endpoints: the account's key where the provider wants
/// it, and a bound like an attempt's wait for headers (a connection that accepts and then
/// stalls, TLS included, must not hang the client).
async fn single_call(
    state: &AppState,
    provider: &Provider,
    path: &str,
    mut headers: HeaderMap,
    body: &Value,
) -> Result<transport::Answer, ApiError> {
    let base = upstream::base_url(&state.credentials, provider)
        .await
        .map_err(|m| ApiError::new(StatusCode::BAD_GATEWAY, "upstream_error", m))?;
    let mut url = format!("{base}{path}");
    let key = provider_key(state, provider).await;
    upstream::apply_auth(
        &mut headers,
        &mut url,
        provider,
        provider.format,
        key.as_deref(),
    )
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

/// The key of the provider's first enabled account, if it has one.
async fn provider_key(state: &AppState, provider: &Provider) -> Option<String> {
    let entry = provider.key_ref.as_ref()?;
    state.credentials.get(entry).await.ok().flatten()
}

/// An upstream error on the single-call endpoints (no fallback there), with its `Retry-After`.
/// These endpoints only call providers of the client's own format.
async fn single_error(
    state: &AppState,
    provider: &Provider,
    resp: transport::Answer,
    client: Format,
) -> Response {
    let status = resp.status;
    if status.is_redirection() {
        let msg = upstream::redirect_message(&provider.name, status, &resp.headers);
        return ApiError::new(StatusCode::BAD_GATEWAY, "upstream_error", msg).render(client);
    }
    let content_type = resp.headers.get(header::CONTENT_TYPE).cloned();
    let retry_after = resp.headers.get(header::RETRY_AFTER).cloned();
    let body = upstream::read_limited(resp.body, upstream::ERROR_BODY_LIMIT)
        .await
        .unwrap_or_default();
    let key = provider_key(state, provider).await;
    let body = upstream::mask_secrets(Bytes::from(body), key.as_deref());
    let mut r = upstream::error_response(
        &provider.name,
        status,
        content_type,
        &body,
        client,
        provider.format,
    );
    if let Some(v) = retry_after {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}
