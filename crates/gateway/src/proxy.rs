//! Forwarding a client request to its upstream provider.
//!
//! Same format on both sides: the body passes through with only `model` rewritten and the
//! provider's key attached, and the response bytes are streamed as they arrive. Different formats:
//! the request is decoded into the IR and encoded for the upstream; the response stream is
//! translated event by event (each upstream event produces client bytes at once, nothing waits for
//! the end).

use crate::api::errors::ApiError;
use crate::api::read_body;
use crate::formats::{self, ir, Format, StreamTranslator};
use crate::server::AppState;
use crate::storage::Provider;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::Value;
use std::convert::Infallible;
use std::sync::Arc;

/// Largest upstream error body we read to translate it.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// Largest non-stream upstream body we read to translate it.
const RESPONSE_BODY_LIMIT: usize = 64 * 1024 * 1024;
pub const DEFAULT_ANTHROPIC_VERSION: &str = "2023-06-01";

pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    forward(&state, Format::Chat, &headers, body)
        .await
        .unwrap_or_else(|e| e.render(Format::Chat))
}

pub async fn responses(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    forward(&state, Format::Responses, &headers, body)
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
    let sse = query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .any(|kv| kv == "alt=sse");
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        "countTokens" => return gemini_count(&state, &model, body).await,
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
    };
    forward_with(&state, Format::Gemini, &headers, body, call)
        .await
        .unwrap_or_else(|e| e.render(Format::Gemini))
}

async fn gemini_count(state: &AppState, model: &str, body: Body) -> Response {
    let result = async {
        let bytes = read_body(body, state.config.max_body_bytes).await?;
        let json: Value = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("request body is not valid JSON: {e}")))?;
        let providers = state.providers();
        resolve(&providers, &state.aliases(), model)?;
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
    forward(&state, Format::Messages, &headers, body)
        .await
        .unwrap_or_else(|e| e.render(Format::Messages))
}

/// `POST /v1/embeddings`: forwarded to OpenAI-compatible providers with only `model` rewritten.
pub async fn embeddings(State(state): State<Arc<AppState>>, body: Body) -> Response {
    embed(&state, body)
        .await
        .unwrap_or_else(|e| e.render(Format::Chat))
}

async fn embed(state: &AppState, body: Body) -> Result<Response, ApiError> {
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
    let providers = state.providers();
    let (provider, upstream_model) = resolve(&providers, &state.aliases(), &model)?;
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
    let req = apply_auth(
        state.http.post(&url).json(&json),
        provider,
        Format::Chat,
        key.as_deref(),
    );
    let resp = req
        .send()
        .await
        .map_err(|e| unreachable(&provider.name, &url, &e))?;
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let ct = resp.headers().get(header::CONTENT_TYPE).cloned();
    if !status.is_success() {
        return Ok(
            upstream_error(&provider.name, status, ct, resp, Format::Chat, Format::Chat).await,
        );
    }
    let mut out = Response::new(Body::from_stream(resp.bytes_stream()));
    out.headers_mut().insert(
        header::CONTENT_TYPE,
        ct.unwrap_or(HeaderValue::from_static("application/json")),
    );
    diagnostics(out.headers_mut(), &provider.name, &upstream_model);
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
    let bytes = read_body(body, state.config.max_body_bytes).await?;
    let mut json: Value = serde_json::from_slice(&bytes)
        .map_err(|e| bad(format!("request body is not valid JSON: {e}")))?;
    let model = json
        .get("model")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("missing required field `model`"))?
        .to_string();
    let providers = state.providers();
    let (provider, upstream_model) = resolve(&providers, &state.aliases(), &model)?;
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
        let mut req = state
            .http
            .post(&url)
            .header("anthropic-version", version)
            .json(&json);
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| unreachable(&provider.name, &url, &e))?;
        let status =
            StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let ct = resp.headers().get(header::CONTENT_TYPE).cloned();
        if !status.is_success() {
            return Ok(upstream_error(
                &provider.name,
                status,
                ct,
                resp,
                Format::Messages,
                Format::Messages,
            )
            .await);
        }
        let body = read_limited(resp, ERROR_BODY_LIMIT)
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
}

async fn forward(
    state: &AppState,
    client: Format,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    forward_with(state, client, headers, body, CallOverrides::default()).await
}

pub async fn forward_with(
    state: &AppState,
    client: Format,
    headers: &HeaderMap,
    body: Body,
    call: CallOverrides,
) -> Result<Response, ApiError> {
    let bytes = read_body(body, state.config.max_body_bytes).await?;
    let mut json: Value = serde_json::from_slice(&bytes)
        .map_err(|e| bad(format!("request body is not valid JSON: {e}")))?;
    let obj = json
        .as_object_mut()
        .ok_or_else(|| bad("request body must be a JSON object"))?;
    let model = match (&call.model, obj.get("model")) {
        (Some(m), _) => m.clone(),
        (None, Some(Value::String(m))) if !m.trim().is_empty() => m.trim().to_string(),
        (None, Some(Value::String(_)) | None) => {
            return Err(bad(
                "missing required field `model` (use \"<provider>/<model>\")",
            ))
        }
        (None, Some(_)) => return Err(bad("`model` must be a string")),
    };
    if obj
        .get("stream")
        .is_some_and(|s| !s.is_boolean() && !s.is_null())
    {
        return Err(bad("`stream` must be a boolean"));
    }
    let stream = call
        .stream
        .unwrap_or_else(|| obj.get("stream").and_then(Value::as_bool).unwrap_or(false));
    let providers = state.providers();
    let (provider, upstream_model) = resolve(&providers, &state.aliases(), &model)?;
    let upstream = Format::parse(&provider.format).ok_or_else(|| {
        ApiError::internal(format!(
            "provider {:?} has an unknown format {:?}",
            provider.name, provider.format
        ))
    })?;

    // Cursor posts Responses-shaped bodies (`input`, no `messages`) to /chat/completions and
    // expects Chat chunks back (formats.md #30): read it as Responses, answer as Chat.
    let request_format =
        if client == Format::Chat && !obj.contains_key("messages") && obj.contains_key("input") {
            Format::Responses
        } else {
            client
        };
    let (out, include_usage) = if upstream == client && request_format == client {
        if client != Format::Gemini {
            obj.insert("model".into(), Value::String(upstream_model.clone()));
        }
        (json, false)
    } else {
        let mut req = formats::decode_request(request_format, &json).map_err(bad)?;
        req.model = upstream_model.clone();
        req.stream = stream;
        let mut out = formats::encode_request(upstream, &req);
        if upstream == Format::Chat {
            if let Some(entry) = provider
                .catalog_id
                .as_deref()
                .and_then(|id| state.catalog.by_id(id))
            {
                crate::quirks::apply_chat(&mut out, &req, &entry.quirks);
            }
        }
        (out, req.include_usage)
    };
    let out = serde_json::to_vec(&out).map_err(|e| ApiError::internal(e.to_string()))?;

    let key = match &provider.key_ref {
        Some(entry) => state.credentials.get(entry).await.map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "keychain_unavailable",
                format!(
                    "cannot read the API key of provider {:?}: {e}",
                    provider.name
                ),
            )
        })?,
        None => None,
    };
    let mut path = upstream.upstream_path(&upstream_model, stream);
    if client == Format::Gemini && upstream == Format::Gemini && call.gemini_array {
        // Same format both ways: keep the client's own framing (a JSON array, not SSE).
        path = path.replace("?alt=sse", "");
    }
    let url = format!("{}{}", provider.base_url.trim_end_matches('/'), path);
    let mut req = state
        .http
        .post(&url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(out);
    req = apply_auth(req, provider, upstream, key.as_deref());
    if upstream == Format::Messages {
        let version = (client == Format::Messages)
            .then(|| headers.get("anthropic-version").cloned())
            .flatten()
            .unwrap_or(HeaderValue::from_static(DEFAULT_ANTHROPIC_VERSION));
        req = req.header("anthropic-version", version);
        if client == Format::Messages {
            if let Some(beta) = merged_beta(headers) {
                req = req.header("anthropic-beta", beta);
            }
        }
    }
    let resp = req
        .send()
        .await
        .map_err(|e| unreachable(&provider.name, &url, &e))?;
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = resp.headers().get(header::CONTENT_TYPE).cloned();
    if !status.is_success() {
        return Ok(
            upstream_error(&provider.name, status, content_type, resp, client, upstream).await,
        );
    }
    let is_sse = content_type
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));

    let mut response = if upstream == client && request_format == client {
        passthrough(
            resp,
            is_sse,
            client,
            provider.name.clone(),
            status,
            content_type,
        )
    } else if is_sse || stream {
        let translator = if client == Format::Gemini && call.gemini_array {
            StreamTranslator::with_encoder(
                upstream,
                Box::new(formats::gemini::GeminiStreamEncoder::new(
                    &upstream_model,
                    true,
                )),
            )
        } else {
            StreamTranslator::new(upstream, client, &upstream_model, include_usage)
        };
        sse_response(translate(
            resp.bytes_stream(),
            translator,
            provider.name.clone(),
            state.config.keepalive,
        ))
    } else {
        let body = read_limited(resp, RESPONSE_BODY_LIMIT).await.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                format!(
                    "reading the answer of provider {:?} failed: {e}",
                    provider.name
                ),
            )
        })?;
        let parsed: Value = serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                format!(
                    "provider {:?} answered with invalid JSON: {e}",
                    provider.name
                ),
            )
        })?;
        let ir = formats::decode_response(upstream, &parsed).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                format!(
                    "provider {:?} answered something unexpected: {e}",
                    provider.name
                ),
            )
        })?;
        (
            StatusCode::OK,
            axum::Json(formats::encode_response(client, &ir)),
        )
            .into_response()
    };
    diagnostics(response.headers_mut(), &provider.name, &upstream_model);
    Ok(response)
}

/// Attaches the provider's key where its API expects it: the catalog's auth style if the provider
/// came from the catalog, else the format's usual header.
fn apply_auth(
    req: reqwest::RequestBuilder,
    provider: &Provider,
    upstream: Format,
    key: Option<&str>,
) -> reqwest::RequestBuilder {
    let Some(key) = key else { return req };
    let style = provider.auth.as_deref().unwrap_or(match upstream {
        Format::Chat | Format::Responses => "bearer",
        Format::Messages => "x-api-key",
        Format::Gemini => "x-goog-api-key",
    });
    match style {
        "x-api-key" => req.header("x-api-key", key),
        "x-goog-api-key" => req.header("x-goog-api-key", key),
        "query-key" => req.query(&[("key", key)]),
        "none" => req,
        _ => req.bearer_auth(key),
    }
}

/// `anthropic-beta` values from all case variants, de-duplicated into one header.
fn merged_beta(headers: &HeaderMap) -> Option<String> {
    let mut seen: Vec<String> = Vec::new();
    for v in headers.get_all("anthropic-beta") {
        for part in v.to_str().unwrap_or("").split(',') {
            let p = part.trim();
            if !p.is_empty() && !seen.iter().any(|s| s.eq_ignore_ascii_case(p)) {
                seen.push(p.to_string());
            }
        }
    }
    (!seen.is_empty()).then(|| seen.join(","))
}

fn passthrough(
    resp: reqwest::Response,
    is_sse: bool,
    client: Format,
    provider: String,
    status: StatusCode,
    content_type: Option<HeaderValue>,
) -> Response {
    let stream = resp.bytes_stream().map(move |chunk| match chunk {
        Ok(bytes) => Ok(bytes),
        Err(e) if is_sse => {
            // The stream broke after it started: tell the client in its own format, then end.
            tracing::warn!(provider = %provider, "upstream stream broke: {e}");
            let msg = format!("the stream from provider {provider:?} broke: {}", chain(&e));
            let mut enc = formats::stream_encoder(client, "", false);
            Ok(Bytes::from(enc.encode(&ir::Event::Error {
                status: 502,
                message: msg,
            })))
        }
        Err(e) => Err(e),
    });
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    if let Some(ct) = content_type {
        h.insert(header::CONTENT_TYPE, ct);
    }
    if is_sse {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    }
    resp
}

fn translate(
    upstream: impl Stream<Item = reqwest::Result<Bytes>> + Send + Unpin + 'static,
    translator: StreamTranslator,
    provider: String,
    keepalive: std::time::Duration,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
    futures_util::stream::unfold(
        Some((upstream, translator, provider)),
        move |st| async move {
            let (mut up, mut tr, provider) = st?;
            loop {
                let next = match tokio::time::timeout(keepalive, up.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        // Upstream silence (a model thinking): keep the client's connection alive.
                        let out = tr.keepalive();
                        if out.is_empty() {
                            continue;
                        }
                        return Some((Ok(Bytes::from(out)), Some((up, tr, provider))));
                    }
                };
                match next {
                    Some(Ok(bytes)) => {
                        let out = tr.feed(&bytes);
                        if !out.is_empty() {
                            return Some((Ok(Bytes::from(out)), Some((up, tr, provider))));
                        }
                    }
                    Some(Err(e)) => {
                        tracing::warn!(provider = %provider, "upstream stream broke: {e}");
                        let out = tr.fail(format!(
                            "the stream from provider {provider:?} broke: {}",
                            chain(&e)
                        ));
                        return Some((Ok(Bytes::from(out)), None));
                    }
                    None => {
                        let out = tr.end(&provider);
                        return (!out.is_empty()).then(|| (Ok(Bytes::from(out)), None));
                    }
                }
            }
        },
    )
}

fn sse_response(
    stream: impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static,
) -> Response {
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

fn diagnostics(h: &mut HeaderMap, provider: &str, model: &str) {
    if let Ok(v) = HeaderValue::from_str(provider) {
        h.insert("x-switchyard-provider", v);
    }
    if let Ok(v) = HeaderValue::from_str(model) {
        h.insert("x-switchyard-model", v);
    }
}

/// What a model string means (routing.md §2, without combos yet): aliases first (exact, then the
/// most specific wildcard; one level), then a model id some provider lists verbatim (ids like
/// `meta-llama/Llama-3` contain `/`), then `provider/model` split at the first `/`, then a bare id
/// exactly one provider lists.
pub fn resolve<'a>(
    providers: &'a [Provider],
    aliases: &[crate::storage::Alias],
    requested: &str,
) -> Result<(&'a Provider, String), ApiError> {
    if requested.contains("../") || requested.chars().any(char::is_control) {
        return Err(bad(format!(
            "model {requested:?} contains characters a model name cannot have"
        )));
    }
    let model = crate::storage::aliases::apply(aliases, requested);
    let model = model.as_str();
    let owners: Vec<&Provider> = providers
        .iter()
        .filter(|p| p.models.iter().any(|m| m == model))
        .collect();
    if let ([one], true) = (owners.as_slice(), model.contains('/')) {
        return Ok((one, model.to_string()));
    }
    if let Some((prefix, rest)) = model.split_once('/') {
        if let Some(p) = providers.iter().find(|p| p.name == prefix) {
            if rest.is_empty() {
                return Err(bad(format!(
                    "model {model:?} names provider {prefix:?} but no model after the '/'"
                )));
            }
            return Ok((p, rest.to_string()));
        }
    }
    match owners.as_slice() {
        [one] => Ok((one, model.to_string())),
        [] => {
            let known: Vec<String> = providers
                .iter()
                .flat_map(|p| p.models.iter().map(move |m| format!("{}/{}", p.name, m)))
                .take(20)
                .collect();
            let hint = if providers.is_empty() {
                "no providers are configured yet; add one in the dashboard".to_string()
            } else if known.is_empty() {
                format!(
                    "use \"<provider>/<model>\" with a provider among: {}",
                    providers
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                format!("available: {}", known.join(", "))
            };
            let via = if model != requested {
                format!(" (alias of {requested:?})")
            } else {
                String::new()
            };
            Err(ApiError::not_found(
                "model_not_found",
                format!("unknown model {model:?}{via}: {hint}"),
            ))
        }
        many => Err(ApiError::bad_request(
            "ambiguous_model",
            format!(
                "model {model:?} is offered by several providers; choose one of: {}",
                many.iter()
                    .map(|p| format!("{}/{}", p.name, model))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// The error chain of a transport error, e.g. "error sending request: connection refused".
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let part = c.to_string();
        if !s.contains(&part) {
            s.push_str(": ");
            s.push_str(&part);
        }
        cur = c.source();
    }
    s
}

fn unreachable(provider: &str, url: &str, e: &reqwest::Error) -> ApiError {
    let (status, code) = if e.is_timeout() {
        (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout")
    } else {
        (StatusCode::BAD_GATEWAY, "upstream_error")
    };
    ApiError::new(
        status,
        code,
        format!(
            "could not reach provider {provider:?} at {url}: {}",
            chain(e)
        ),
    )
}

async fn read_limited(resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| chain(&e))?;
        body.extend_from_slice(&chunk);
        if body.len() >= limit {
            body.truncate(limit);
            break;
        }
    }
    Ok(body)
}

/// An upstream error. Same protocol as the client: a JSON error body passes through with its
/// status. Otherwise the upstream's message is kept and rendered in the client's error format.
async fn upstream_error(
    provider: &str,
    status: StatusCode,
    content_type: Option<HeaderValue>,
    upstream: reqwest::Response,
    client: Format,
    upstream_format: Format,
) -> Response {
    // With a single target the upstream's own hint is the earliest recovery we know of.
    let retry_after = upstream.headers().get(header::RETRY_AFTER).cloned();
    let mut resp = upstream_error_body(
        provider,
        status,
        content_type,
        upstream,
        client,
        upstream_format,
    )
    .await;
    if let Some(v) = retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

async fn upstream_error_body(
    provider: &str,
    status: StatusCode,
    content_type: Option<HeaderValue>,
    upstream: reqwest::Response,
    client: Format,
    upstream_format: Format,
) -> Response {
    let body = read_limited(upstream, ERROR_BODY_LIMIT)
        .await
        .unwrap_or_default();
    let parsed = serde_json::from_slice::<Value>(&body).ok();
    let message = parsed.as_ref().and_then(formats::error_message);
    if client == upstream_format && message.is_some() {
        let mut resp = Response::new(Body::from(body));
        *resp.status_mut() = status;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            content_type.unwrap_or(HeaderValue::from_static("application/json")),
        );
        return resp;
    }
    let detail = message.unwrap_or_else(|| {
        String::from_utf8_lossy(&body)
            .trim()
            .chars()
            .take(300)
            .collect()
    });
    ApiError::new(
        status,
        "upstream_error",
        format!("provider {provider:?} answered {status}: {detail}"),
    )
    .render(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, models: &[&str]) -> Provider {
        Provider {
            name: name.into(),
            base_url: "http://127.0.0.1:1/v1".into(),
            format: "openai".into(),
            models: models.iter().map(|s| s.to_string()).collect(),
            key_ref: None,
            created_at: String::new(),
            auth: None,
            catalog_id: None,
        }
    }

    #[test]
    fn resolution_order() {
        let ps = vec![
            p("acme", &["m1", "shared"]),
            p("beta", &["shared", "org/model"]),
        ];
        let (pr, m) = resolve(&ps, &[], "acme/anything").unwrap();
        assert_eq!((pr.name.as_str(), m.as_str()), ("acme", "anything"));
        let (pr, m) = resolve(&ps, &[], "m1").unwrap();
        assert_eq!((pr.name.as_str(), m.as_str()), ("acme", "m1"));
        let (pr, m) = resolve(&ps, &[], "org/model").unwrap();
        assert_eq!((pr.name.as_str(), m.as_str()), ("beta", "org/model"));
        let e = resolve(&ps, &[], "shared").unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (400, "ambiguous_model"));
        assert!(e.message.contains("acme/shared") && e.message.contains("beta/shared"));
        let e = resolve(&ps, &[], "nope/x").unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (404, "model_not_found"));
        assert!(e.message.contains("acme/m1"), "{}", e.message);
        let e = resolve(&ps, &[], "acme/").unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
        let e = resolve(&[], &[], "gpt-4o").unwrap_err();
        assert!(e.message.contains("no providers are configured"));
    }

    #[test]
    fn beta_headers_are_merged_case_insensitively() {
        let mut h = HeaderMap::new();
        h.append("anthropic-beta", HeaderValue::from_static("a-1,b-2"));
        h.append("Anthropic-Beta", HeaderValue::from_static("B-2, c-3"));
        assert_eq!(merged_beta(&h).as_deref(), Some("a-1,b-2,c-3"));
    }
}
