//! Forwarding a client request to its upstream provider. Same format on both sides, so the body
//! passes through with only `model` rewritten and the provider's key attached; the response body
//! is streamed chunk by chunk as it arrives (never buffered).

use crate::api::errors::ApiError;
use crate::api::read_body;
use crate::server::AppState;
use crate::storage::Provider;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::sync::Arc;

/// Largest upstream error body we read to translate it.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(body, state.config.max_body_bytes).await?;
    let mut json: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request("invalid_request", format!("request body is not valid JSON: {e}"))
    })?;
    let obj = json.as_object_mut().ok_or_else(|| {
        ApiError::bad_request("invalid_request", "request body must be a JSON object")
    })?;
    let model = match obj.get("model") {
        Some(serde_json::Value::String(m)) if !m.trim().is_empty() => m.trim().to_string(),
        Some(serde_json::Value::String(_)) | None => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "missing required field `model` (use \"<provider>/<model>\")",
            ))
        }
        Some(_) => {
            return Err(ApiError::bad_request("invalid_request", "`model` must be a string"))
        }
    };
    let providers = state.providers();
    let (provider, upstream_model) = resolve(&providers, &model)?;
    obj.insert("model".into(), serde_json::Value::String(upstream_model.clone()));
    let out = serde_json::to_vec(&json).map_err(|e| ApiError::internal(e.to_string()))?;

    let key = match &provider.key_ref {
        Some(entry) => state.credentials.get(entry).await.map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "keychain_unavailable",
                format!("cannot read the API key of provider {:?}: {e}", provider.name),
            )
        })?,
        None => None,
    };
    let url = format!("{}/chat/completions", provider.base_url.trim_end_matches('/'));
    let mut req = state
        .http
        .post(&url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(out);
    if let Some(key) = &key {
        req = req.bearer_auth(key);
    }
    let upstream = req.send().await.map_err(|e| unreachable(&provider.name, &url, &e))?;
    let status = StatusCode::from_u16(upstream.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = upstream.headers().get(header::CONTENT_TYPE).cloned();

    if !status.is_success() {
        return Ok(upstream_error(&provider.name, status, content_type, upstream).await);
    }

    let is_sse = content_type
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let provider_name = provider.name.clone();
    let stream = upstream.bytes_stream().map(move |chunk| match chunk {
        Ok(bytes) => Ok(bytes),
        Err(e) if is_sse => {
            // The stream broke after it started: tell the client in its own format, then end.
            tracing::warn!(provider = %provider_name, "upstream stream broke: {e}");
            let err = ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                format!("the stream from provider {provider_name:?} broke: {}", chain(&e)),
            );
            Ok(bytes::Bytes::from(format!("data: {}\n\n", err.body())))
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
    diagnostics(h, &provider.name, &upstream_model);
    Ok(resp)
}

fn diagnostics(h: &mut HeaderMap, provider: &str, model: &str) {
    if let Ok(v) = HeaderValue::from_str(provider) {
        h.insert("x-switchyard-provider", v);
    }
    if let Ok(v) = HeaderValue::from_str(model) {
        h.insert("x-switchyard-model", v);
    }
}

/// `provider/model` (the provider prefix wins), else a bare model id that exactly one provider
/// lists. Model ids may themselves contain `/` (`meta-llama/Llama-3`), hence the order.
pub fn resolve<'a>(providers: &'a [Provider], model: &str) -> Result<(&'a Provider, String), ApiError> {
    if let Some((prefix, rest)) = model.split_once('/') {
        if let Some(p) = providers.iter().find(|p| p.name == prefix) {
            if rest.is_empty() {
                return Err(ApiError::bad_request(
                    "invalid_request",
                    format!("model {model:?} names provider {prefix:?} but no model after the '/'"),
                ));
            }
            return Ok((p, rest.to_string()));
        }
    }
    let owners: Vec<&Provider> = providers
        .iter()
        .filter(|p| p.models.iter().any(|m| m == model))
        .collect();
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
                    providers.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
                )
            } else {
                format!("available: {}", known.join(", "))
            };
            Err(ApiError::not_found(
                "model_not_found",
                format!("unknown model {model:?}: {hint}"),
            ))
        }
        many => Err(ApiError::bad_request(
            "ambiguous_model",
            format!(
                "model {model:?} is offered by several providers; choose one of: {}",
                many.iter().map(|p| format!("{}/{}", p.name, model)).collect::<Vec<_>>().join(", ")
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
        format!("could not reach provider {provider:?} at {url}: {}", chain(e)),
    )
}

/// An upstream error. Same protocol as the client, so an OpenAI error body passes through with
/// its status; anything else (HTML from a proxy, plain text) is wrapped into OpenAI error JSON.
async fn upstream_error(
    provider: &str,
    status: StatusCode,
    content_type: Option<HeaderValue>,
    upstream: reqwest::Response,
) -> Response {
    let mut body = Vec::new();
    let mut stream = upstream.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        body.extend_from_slice(&chunk);
        if body.len() >= ERROR_BODY_LIMIT {
            body.truncate(ERROR_BODY_LIMIT);
            break;
        }
    }
    let is_openai_error = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .is_some_and(|v| v.get("error").is_some_and(|e| e.is_object()));
    if is_openai_error {
        let mut resp = Response::new(Body::from(body));
        *resp.status_mut() = status;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            content_type.unwrap_or(HeaderValue::from_static("application/json")),
        );
        return resp;
    }
    let text = String::from_utf8_lossy(&body);
    let snippet: String = text.trim().chars().take(300).collect();
    ApiError::new(
        status,
        "upstream_error",
        format!("provider {provider:?} answered {status}: {snippet}"),
    )
    .into_response()
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
        }
    }

    #[test]
    fn resolution_order() {
        let ps = vec![p("acme", &["m1", "shared"]), p("beta", &["shared", "org/model"])];
        let (pr, m) = resolve(&ps, "acme/anything").unwrap();
        assert_eq!((pr.name.as_str(), m.as_str()), ("acme", "anything"));
        let (pr, m) = resolve(&ps, "m1").unwrap();
        assert_eq!((pr.name.as_str(), m.as_str()), ("acme", "m1"));
        let (pr, m) = resolve(&ps, "org/model").unwrap();
        assert_eq!((pr.name.as_str(), m.as_str()), ("beta", "org/model"));
        let e = resolve(&ps, "shared").unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (400, "ambiguous_model"));
        assert!(e.message.contains("acme/shared") && e.message.contains("beta/shared"));
        let e = resolve(&ps, "nope/x").unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (404, "model_not_found"));
        assert!(e.message.contains("acme/m1"), "{}", e.message);
        let e = resolve(&ps, "acme/").unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
        let e = resolve(&[], "gpt-4o").unwrap_err();
        assert!(e.message.contains("no providers are configured"));
    }
}
