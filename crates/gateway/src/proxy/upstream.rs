//! Talking to an upstream: where its key goes, the Anthropic headers, reading bounded bodies,
//! describing transport errors, and rendering an upstream's error in the client's format.

use super::transport::{BodyStream, TransportError};
use crate::error::ApiError;
use crate::formats::{self, Format};
use crate::storage::Provider;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use switchyard_types::AuthStyle;

pub const DEFAULT_ANTHROPIC_VERSION: &str = "2023-06-01";
/// Largest upstream error body we read to translate it.
pub const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// Largest non-stream upstream body we read to translate it.
pub const RESPONSE_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Attaches the account's key where the provider's API expects it: the catalog's auth style if
/// the provider came from the catalog, else the format's usual header. A `query-key` provider
/// gets `?key=` on the URL. Fails for a key no header can carry (stored before keys were
/// checked on entry).
pub fn apply_auth(
    headers: &mut HeaderMap,
    url: &mut String,
    provider: &Provider,
    upstream: Format,
    key: Option<&str>,
) -> Result<(), String> {
    let Some(key) = key else { return Ok(()) };
    let style = provider.auth.unwrap_or(upstream.default_auth());
    let value = |v: &str| {
        let mut v = HeaderValue::from_str(v).map_err(|_| {
            format!(
                "the stored key of provider {:?} contains characters an HTTP header cannot carry; enter it again",
                provider.name
            )
        })?;
        v.set_sensitive(true);
        Ok::<_, String>(v)
    };
    match style {
        AuthStyle::XApiKey => {
            headers.insert("x-api-key", value(key)?);
        }
        AuthStyle::XGoogApiKey => {
            headers.insert("x-goog-api-key", value(key)?);
        }
        AuthStyle::QueryKey => {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(
                &form_urlencoded::Serializer::new(String::new())
                    .append_pair("key", key)
                    .finish(),
            );
        }
        AuthStyle::None => {}
        AuthStyle::Bearer => {
            headers.insert(header::AUTHORIZATION, value(&format!("Bearer {key}"))?);
        }
    }
    Ok(())
}

/// What Kiro's `generateAssistantResponse` requires besides the token (docs/providers.md "Kiro").
pub fn kiro_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static("application/vnd.amazon.eventstream"),
    );
    headers.insert(
        "x-amz-target",
        HeaderValue::from_static("AmazonCodeWhispererStreamingService.GenerateAssistantResponse"),
    );
}

/// `anthropic-beta` values from all case variants, de-duplicated into one header.
pub fn merged_beta(headers: &HeaderMap) -> Option<String> {
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

/// The error chain of a transport error, e.g. "error sending request: connection refused".
pub fn chain(e: &dyn std::error::Error) -> String {
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

pub fn unreachable(provider: &str, url: &str, e: TransportError) -> ApiError {
    let (status, code) = if e.timeout {
        (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout")
    } else {
        (StatusCode::BAD_GATEWAY, "upstream_error")
    };
    ApiError::new(
        status,
        code,
        format!(
            "could not reach provider {provider:?} at {}: {e}",
            redact_url(url)
        ),
    )
}

/// Why an upstream's redirect is not followed, for the client and the log: a POST turns into a
/// GET on 301/302, and a key must not travel to wherever a provider points. The location is
/// shown without its query or credentials.
pub fn redirect_message(provider: &str, status: StatusCode, headers: &HeaderMap) -> String {
    let to = headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|l| format!(" to {}", redact_url(l)))
        .unwrap_or_default();
    format!(
        "provider {provider:?} answered {status} (a redirect{to}); Switchyard does not follow redirects: set the provider's base URL to where its API now lives"
    )
}

/// A URL without its query or `user:password@` (a `?key=` or a password must never reach a
/// message or a log).
pub fn redact_url(url: &str) -> std::borrow::Cow<'_, str> {
    let url = url.split('?').next().unwrap_or(url);
    match crate::url_credentials::span(url) {
        Some(span) => format!("{}{}", &url[..span.start], &url[span.end..]).into(),
        None => url.into(),
    }
}

/// Whether a URL carries `user:password@`.
pub fn has_credentials(url: &str) -> bool {
    crate::url_credentials::span(url).is_some()
}

/// The base URL a request to `p` goes to, with the `user:password@` kept in the keychain put
/// back (the transport turns it into Basic auth). The credentials store caches the entry, so
/// this costs a map lookup on the request path, and only for such providers.
pub async fn base_url<'a>(
    credentials: &crate::credentials::Credentials,
    p: &'a Provider,
) -> Result<std::borrow::Cow<'a, str>, String> {
    let base = p.base_url.trim_end_matches('/');
    let Some(entry) = &p.url_auth_ref else {
        return Ok(base.into());
    };
    match credentials.get(entry).await {
        Ok(Some(c)) => Ok(crate::url_credentials::with(base, &c).into()),
        Ok(None) => Err(format!(
            "the base URL credentials of provider {:?} are missing from the keychain; add the provider again",
            p.name
        )),
        Err(e) => Err(format!(
            "cannot read the base URL credentials of provider {:?}: {e}",
            p.name
        )),
    }
}

/// An upstream's error body with the secrets it may echo masked: the key we sent (some
/// providers quote it back) and any `Bearer <token>`. Error bodies reach clients and logs;
/// neither may carry a key. Allocates only when there is something to mask.
pub fn mask_secrets(body: Bytes, key: Option<&str>) -> Bytes {
    const MASK: &[u8] = b"[redacted]";
    let key = key.filter(|k| k.len() >= 8).map(str::as_bytes);
    let has_key = key.is_some_and(|k| memchr::memmem::find(&body, k).is_some());
    let bearer = memchr::memmem::find(&body, b"Bearer ").is_some();
    if !has_key && !bearer {
        return body;
    }
    let mut out: Vec<u8> = match key.filter(|_| has_key) {
        Some(k) => {
            let mut v = Vec::with_capacity(body.len());
            let mut rest: &[u8] = &body;
            while let Some(at) = memchr::memmem::find(rest, k) {
                v.extend_from_slice(&rest[..at]);
                v.extend_from_slice(MASK);
                rest = &rest[at + k.len()..];
            }
            v.extend_from_slice(rest);
            v
        }
        None => body.to_vec(),
    };
    // `Bearer <token>`: the token runs to the next character a token does not have.
    let mut from = 0;
    while let Some(at) = memchr::memmem::find(&out[from..], b"Bearer ") {
        let start = from + at + b"Bearer ".len();
        let end = out[start..]
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || b"-._~+/=".contains(b)))
            .map_or(out.len(), |n| start + n);
        from = start;
        if end > start && &out[start..end] != MASK {
            out.splice(start..end, MASK.iter().copied());
            from += MASK.len();
        }
    }
    Bytes::from(out)
}

/// Headers of a JSON POST to an upstream.
pub fn json_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h
}

pub async fn read_limited(mut body: BodyStream, limit: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| e.message)?;
        out.extend_from_slice(&chunk);
        if out.len() >= limit {
            out.truncate(limit);
            break;
        }
    }
    Ok(out)
}

/// An upstream error that ends the request. Same protocol as the client: a JSON error body
/// passes through with its status. Otherwise the upstream's message is kept and rendered in the
/// client's error format.
pub fn error_response(
    provider: &str,
    status: StatusCode,
    content_type: Option<HeaderValue>,
    body: &Bytes,
    client: Format,
    upstream: Format,
) -> Response {
    let parsed = serde_json::from_slice::<serde_json::Value>(body).ok();
    let message = parsed.as_ref().and_then(formats::error_message);
    if client == upstream && message.is_some() {
        let mut resp = Response::new(Body::from(body.clone()));
        *resp.status_mut() = status;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            content_type.unwrap_or(HeaderValue::from_static("application/json")),
        );
        return resp;
    }
    let detail = message.unwrap_or_else(|| error_text(body));
    ApiError::new(
        status,
        "upstream_error",
        format!("provider {provider:?} answered {status}: {detail}"),
    )
    .render(client)
}

/// The upstream's error message from a body in any format, or the start of its text.
pub fn error_text(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .as_ref()
        .and_then(formats::error_message)
        .unwrap_or_else(|| {
            String::from_utf8_lossy(body)
                .trim()
                .chars()
                .take(300)
                .collect()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_bearer_tokens_in_error_bodies_are_masked() {
        let body = Bytes::from_static(
            br#"{"error":"invalid key sk-live-123456789 (header Authorization: Bearer sk-live-123456789, also Bearer abc.def-ghi)"}"#,
        );
        let masked = mask_secrets(body, Some("sk-live-123456789"));
        let text = std::str::from_utf8(&masked).unwrap();
        assert!(
            !text.contains("sk-live-123456789") && !text.contains("abc.def"),
            "{text}"
        );
        assert_eq!(text.matches("[redacted]").count(), 3, "{text}");
        let clean = Bytes::from_static(b"{\"error\":\"overloaded\"}");
        assert_eq!(
            mask_secrets(clean.clone(), Some("sk-live-123456789")),
            clean
        );
    }

    #[test]
    fn beta_headers_are_merged_case_insensitively() {
        let mut h = HeaderMap::new();
        h.append("anthropic-beta", HeaderValue::from_static("a-1,b-2"));
        h.append("Anthropic-Beta", HeaderValue::from_static("B-2, c-3"));
        assert_eq!(merged_beta(&h).as_deref(), Some("a-1,b-2,c-3"));
    }

    fn provider(auth: &str) -> Provider {
        Provider {
            name: "p".into(),
            base_url: String::new(),
            format: Format::Chat,
            models: vec![],
            key_ref: None,
            created_at: String::new(),
            auth: Some(auth.parse().unwrap()),
            catalog_id: None,
            account_strategy: Default::default(),
            url_auth_ref: None,
            accounts: vec![],
        }
    }

    #[test]
    fn keys_go_where_the_provider_expects_them() {
        let auth = |style: &str, url: &str| {
            let (mut h, mut u) = (HeaderMap::new(), url.to_string());
            apply_auth(
                &mut h,
                &mut u,
                &provider(style),
                Format::Chat,
                Some("k&y=1"),
            )
            .unwrap();
            (h, u)
        };
        let (h, u) = auth("query-key", "http://h/v1/m:generateContent");
        assert_eq!(u, "http://h/v1/m:generateContent?key=k%26y%3D1");
        assert!(h.is_empty());
        let (_, u) = auth("query-key", "http://h/v1/m:streamGenerateContent?alt=sse");
        assert_eq!(
            u,
            "http://h/v1/m:streamGenerateContent?alt=sse&key=k%26y%3D1"
        );
        let (h, u) = auth("bearer", "http://h/v1");
        assert_eq!(h[header::AUTHORIZATION], "Bearer k&y=1");
        assert!(h[header::AUTHORIZATION].is_sensitive());
        assert_eq!(u, "http://h/v1");
        assert_eq!(auth("x-api-key", "u").0["x-api-key"], "k&y=1");
        assert_eq!(auth("x-goog-api-key", "u").0["x-goog-api-key"], "k&y=1");
        assert!(auth("none", "u").0.is_empty());
        let (mut h, mut u) = (HeaderMap::new(), String::new());
        let e = apply_auth(
            &mut h,
            &mut u,
            &provider("bearer"),
            Format::Chat,
            Some("k\u{1}"),
        );
        assert!(e.unwrap_err().contains("cannot carry"));
    }

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(
            redact_url("https://me:s3cret@llm.corp/v1/chat?x=1"),
            "https://llm.corp/v1/chat"
        );
        assert_eq!(
            redact_url("https://llm.corp/v1/a@b"),
            "https://llm.corp/v1/a@b"
        );
    }

    #[test]
    fn urls_lose_their_query() {
        assert_eq!(
            redact_url("http://h/v1/models/x:generateContent?key=secret"),
            "http://h/v1/models/x:generateContent"
        );
    }
}
