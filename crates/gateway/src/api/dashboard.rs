//! The dashboard (the Leptos build in `ui/dist`), embedded in the binary so a headless server has
//! it too. Unknown `/v1` and `/api` paths get JSON errors, not HTML.

use crate::error::ApiError;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};

#[derive(rust_embed::Embed)]
#[folder = "../../ui/dist"]
#[allow_missing = true]
struct Assets;

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>Switchyard</title>\
<h1>Switchyard gateway is running</h1><p>The dashboard was not built into this binary. \
Run <code>scripts/build-ui.sh</code> (or <code>./x run</code>) and rebuild.</p>";

pub async fn fallback(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    let api_like = ["/v1", "/v1beta", "/api"]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")));
    if api_like || !matches!(method, Method::GET | Method::HEAD) {
        let err = ApiError::not_found(
            "unsupported_endpoint",
            format!("{method} {path} is not an endpoint of this gateway"),
        );
        // Answer in the caller's protocol: Anthropic clients call /v1/messages*.
        let client = if path.starts_with("/v1/messages") {
            crate::formats::Format::Messages
        } else if path.starts_with("/v1beta") {
            crate::formats::Format::Gemini
        } else {
            crate::formats::Format::Chat
        };
        return err.render(client);
    }
    let file = path.trim_start_matches('/');
    let file = if file.is_empty() { "index.html" } else { file };
    match Assets::get(file) {
        Some(asset) => {
            let cache = if file == "index.html" {
                "no-cache"
            } else {
                "public, max-age=60"
            };
            (
                [
                    (header::CONTENT_TYPE, asset.metadata.mimetype().to_string()),
                    (header::CACHE_CONTROL, cache.to_string()),
                ],
                asset.data,
            )
                .into_response()
        }
        None if file == "index.html" => (StatusCode::OK, Html(NOT_BUILT)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Html("<h1>404</h1><p>No such page.</p>"),
        )
            .into_response(),
    }
}
