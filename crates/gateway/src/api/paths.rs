//! Path variants clients really send, normalised before routing (docs/api-surface.md §2): a base URL
//! without `/v1` (`/chat/completions`), one that already ended in `/v1` (`/v1/v1/…`), tool-specific
//! prefixes (`/codex/…`, `/claude/…`, `/anthropic/…`, `/gemini/…`) and trailing slashes.

use axum::extract::Request;
use axum::http::Uri;
use std::borrow::Cow;

/// The canonical form of a request path. Runs for every request, so the usual case (already
/// canonical) allocates nothing.
pub fn normalise(path: &str) -> Cow<'_, str> {
    let mut p = path.trim_end_matches('/');
    if p.is_empty() {
        return Cow::Borrowed("/");
    }
    for prefix in ["/codex", "/claude", "/anthropic", "/gemini", "/openai"] {
        if let Some(rest) = p.strip_prefix(prefix) {
            if rest.starts_with("/v1")
                || rest.starts_with("/chat")
                || rest.starts_with("/responses")
                || rest.starts_with("/messages")
            {
                p = rest;
            }
        }
    }
    while p.starts_with("/v1/v1/") || p == "/v1/v1" {
        p = &p[3..];
    }
    const BARE: [&str; 6] = [
        "/chat/completions",
        "/responses",
        "/messages",
        "/models",
        "/embeddings",
        "/completions",
    ];
    let bare = BARE.iter().any(|b| {
        p.strip_prefix(b)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    });
    if bare {
        Cow::Owned(format!("/v1{p}"))
    } else {
        Cow::Borrowed(p)
    }
}

/// Rewrites the request URI in place (the query string is kept).
pub fn rewrite(mut req: Request) -> Request {
    let path = req.uri().path();
    let canonical = normalise(path);
    if canonical != path {
        let pq = match req.uri().query() {
            Some(q) => format!("{canonical}?{q}"),
            None => canonical.into_owned(),
        };
        let mut parts = req.uri().clone().into_parts();
        if let Ok(pq) = pq.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn variants_map_to_canonical_paths() {
        for (given, want) in [
            ("/chat/completions", "/v1/chat/completions"),
            ("/v1/v1/chat/completions", "/v1/chat/completions"),
            ("/v1/chat/completions/", "/v1/chat/completions"),
            ("/messages", "/v1/messages"),
            ("/messages/count_tokens", "/v1/messages/count_tokens"),
            ("/claude/v1/messages", "/v1/messages"),
            ("/anthropic/v1/messages", "/v1/messages"),
            ("/codex/responses", "/v1/responses"),
            ("/models", "/v1/models"),
            ("/", "/"),
            ("/api/providers", "/api/providers"),
            ("/style.css", "/style.css"),
        ] {
            assert_eq!(normalise(given), want, "{given}");
        }
    }
}
