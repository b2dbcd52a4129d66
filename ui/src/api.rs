//! Typed client for the gateway's management API (`/api/*`, see DEVELOPERS.md).
//!
//! The dashboard is served by the gateway itself, so every URL is relative to the page's origin.

use gloo_net::http::{Request, RequestBuilder, Response};
use serde::{Deserialize, Serialize};
use web_sys::RequestCache;

/// Header every mutating call must carry; the gateway refuses mutations without it.
const ADMIN_HEADER: (&str, &str) = ("X-Switchyard-Admin", "1");

/// `GET /api/health`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Health {
    pub status: String,
    pub version: String,
    pub listen: String,
    pub data_dir: String,
    #[serde(default)]
    pub providers: u64,
    pub keychain: Keychain,
    /// Absent on gateways older than the provider catalog.
    #[serde(default)]
    pub catalog: Option<CatalogStatus>,
}

impl Health {
    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

/// Where provider API keys are kept, and whether that works.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Keychain {
    pub backend: String,
    pub persistent: bool,
    pub can_store_secrets: bool,
    #[serde(default)]
    pub detail: Option<String>,
}

/// The provider catalog as loaded by the gateway; `error` says why (part of) it failed to load.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct CatalogStatus {
    #[serde(default)]
    pub providers: u64,
    #[serde(default)]
    pub error: Option<String>,
}

/// One entry of `GET /api/catalog`: a known provider the add form can pre-fill from.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct CatalogEntry {
    pub id: String,
    pub name: String,
    pub alias: String,
    pub format: String,
    pub base_url: String,
    #[serde(default)]
    pub auth: String,
    #[serde(default)]
    pub models: Vec<String>,
    /// Placeholders in `base_url` (`account_id` for `{account_id}`) only the user knows.
    #[serde(default)]
    pub needs: Vec<String>,
    #[serde(default)]
    pub free: bool,
}

impl CatalogEntry {
    /// `Name (alias)`, as shown in the picker.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.alias)
    }

    /// The `{placeholders}` the user must fill in, each once, in order.
    pub fn needs_text(&self) -> String {
        let mut seen: Vec<&str> = Vec::new();
        for need in &self.needs {
            if !seen.contains(&need.as_str()) {
                seen.push(need);
            }
        }
        seen.iter()
            .map(|n| format!("{{{n}}}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Wire formats the gateway speaks to providers: API id and the label shown to people.
pub const FORMATS: [(&str, &str); 4] = [
    ("openai", "OpenAI-compatible (Chat Completions)"),
    ("anthropic", "Anthropic Messages"),
    ("responses", "OpenAI Responses"),
    ("gemini", "Google Gemini"),
];

/// The label for a format id; an unknown id is shown as is.
pub fn format_label(id: &str) -> &str {
    FORMATS
        .iter()
        .find(|(f, _)| *f == id)
        .map_or(id, |(_, label)| label)
}

/// One entry of `GET /api/providers`. The API key itself never leaves the gateway.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
pub struct Provider {
    pub name: String,
    pub base_url: String,
    pub format: String,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub has_key: bool,
    #[serde(default)]
    pub created_at: Option<String>,
    /// How the key is sent upstream (`bearer`, `x-api-key`, …); absent for older rows.
    #[serde(default)]
    pub auth: Option<String>,
    /// The catalog entry the provider was added from, if any.
    #[serde(default)]
    pub catalog_id: Option<String>,
}

/// Body of `POST /api/providers`.
#[derive(Clone, Debug, Serialize)]
pub struct NewProvider {
    /// Catalog id; the gateway fills what is left empty from that entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
    pub name: String,
    pub base_url: String,
    pub format: String,
    pub api_key: String,
    pub models: Vec<String>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    message: String,
}

/// A failed call, already phrased for display.
pub type ApiResult<T> = Result<T, String>;

pub async fn health() -> ApiResult<Health> {
    let resp = send(fresh(Request::get("/api/health"))).await?;
    json(resp).await
}

pub async fn providers() -> ApiResult<Vec<Provider>> {
    let resp = send(fresh(Request::get("/api/providers"))).await?;
    json(resp).await
}

/// `GET /api/catalog`, sorted by name for the picker.
pub async fn catalog() -> ApiResult<Vec<CatalogEntry>> {
    let resp = send(fresh(Request::get("/api/catalog"))).await?;
    let mut list: Vec<CatalogEntry> = json(resp).await?;
    list.sort_by_cached_key(|e| (e.name.to_lowercase(), e.id.clone()));
    Ok(list)
}

/// Adds a provider; returns it as stored (the gateway fills catalog defaults, such as the name).
pub async fn add_provider(new: &NewProvider) -> ApiResult<Provider> {
    let request = Request::post("/api/providers")
        .header(ADMIN_HEADER.0, ADMIN_HEADER.1)
        .json(new)
        .map_err(|e| format!("Could not encode the request: {e}"))?;
    let resp = request
        .send()
        .await
        .map_err(|e| format!("Request failed: {e}"))?;
    json(resp).await
}

pub async fn delete_provider(name: &str) -> ApiResult<()> {
    let url = format!("/api/providers/{}", encode_path_segment(name));
    let resp = send(Request::delete(&url).header(ADMIN_HEADER.0, ADMIN_HEADER.1)).await?;
    if resp.ok() {
        Ok(())
    } else {
        Err(error_message(resp).await)
    }
}

/// Polled data must never come from the HTTP cache.
fn fresh(builder: RequestBuilder) -> RequestBuilder {
    builder.cache(RequestCache::NoStore)
}

async fn send(builder: RequestBuilder) -> ApiResult<Response> {
    builder
        .send()
        .await
        .map_err(|e| format!("Request failed: {e}"))
}

async fn json<T: serde::de::DeserializeOwned>(resp: Response) -> ApiResult<T> {
    if !resp.ok() {
        return Err(error_message(resp).await);
    }
    resp.json::<T>()
        .await
        .map_err(|e| format!("Unexpected response from the gateway: {e}"))
}

/// The server's `error.message` verbatim when the body is the documented error JSON,
/// otherwise the HTTP status and whatever text came back.
async fn error_message(resp: Response) -> String {
    let status = resp.status();
    let status_text = resp.status_text();
    let body = resp.text().await.unwrap_or_default();
    match serde_json::from_str::<ErrorEnvelope>(&body) {
        Ok(envelope) => envelope.error.message,
        Err(_) => {
            let body = body.trim();
            if body.is_empty() {
                format!("HTTP {status} {status_text}").trim_end().to_owned()
            } else {
                format!("HTTP {status}: {body}")
            }
        }
    }
}

/// Percent-encodes everything except RFC 3986 unreserved characters.
fn encode_path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Splits the comma-separated models field into trimmed, non-empty ids.
pub fn parse_models(input: &str) -> Vec<String> {
    input
        .split([',', '\n'])
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_are_trimmed_and_empty_ones_dropped() {
        assert_eq!(parse_models(" a, b ,,c ,"), vec!["a", "b", "c"]);
        assert!(parse_models(" , ").is_empty());
    }

    #[test]
    fn formats_have_labels() {
        assert_eq!(format_label("responses"), "OpenAI Responses");
        assert_eq!(format_label("other"), "other");
    }

    #[test]
    fn needs_are_listed_once_in_braces() {
        let entry = CatalogEntry {
            id: "vertex".into(),
            name: "Google Vertex AI".into(),
            alias: "vertex".into(),
            format: "gemini".into(),
            base_url: "https://{region}-x/{project}/{region}".into(),
            auth: "bearer".into(),
            models: vec![],
            needs: vec!["region".into(), "project".into(), "region".into()],
            free: false,
        };
        assert_eq!(entry.needs_text(), "{region}, {project}");
        assert_eq!(entry.label(), "Google Vertex AI (vertex)");
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode_path_segment("acme-1.x_y~"), "acme-1.x_y~");
        assert_eq!(encode_path_segment("a b/c"), "a%20b%2Fc");
    }
}
