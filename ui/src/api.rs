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

use switchyard_types::{ComboStrategy, Format};

/// Wire formats the gateway speaks to providers: API id and the label shown to people. The list
/// is the gateway's own (`switchyard-types`), so a new format appears here by itself.
pub fn formats() -> impl Iterator<Item = (&'static str, &'static str)> {
    Format::ALL.iter().map(|f| (f.as_str(), f.label()))
}

/// `GET /api/providers` entries and their accounts: the gateway's own view types, so the two
/// sides cannot drift (the API key itself never leaves the gateway).
pub use switchyard_types::views::{AccountView as Account, ProviderView as Provider};

/// Body of `POST /api/providers/{name}/accounts`.
#[derive(Clone, Debug, Serialize)]
pub struct NewAccount {
    pub label: String,
    pub api_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
}

/// Combo strategies the gateway accepts; the first is the default.
pub const STRATEGIES: &[&str] = ComboStrategy::NAMES;

/// One entry of `GET /api/combos`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Combo {
    pub name: String,
    pub strategy: String,
    #[serde(default)]
    pub targets: Vec<ComboTarget>,
}

/// A combo target as stored: `{"kind":"model","provider","model","account"?}` or `{"kind":"combo","name"}`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ComboTarget {
    pub kind: String,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

impl ComboTarget {
    /// `provider/model` (`@account` when pinned), or `combo:name`: the form the create form accepts.
    pub fn label(&self) -> String {
        if self.kind == "combo" {
            return format!("combo:{}", self.name.as_deref().unwrap_or("?"));
        }
        let base = format!(
            "{}/{}",
            self.provider.as_deref().unwrap_or("?"),
            self.model.as_deref().unwrap_or("?")
        );
        match &self.account {
            Some(a) => format!("{base} @{a}"),
            None => base,
        }
    }
}

/// Body of `POST /api/combos`.
#[derive(Clone, Debug, Serialize)]
pub struct NewCombo {
    pub name: String,
    pub strategy: String,
    pub targets: Vec<String>,
}

/// `GET /api/combos/active`: the combo clients reach through `alias`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ActiveCombo {
    #[serde(default)]
    pub name: Option<String>,
    pub alias: String,
}

/// `POST /api/combos/{name}/test`: a dry run, no upstream call.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ComboTest {
    pub combo: String,
    #[serde(default)]
    pub would_serve: Option<String>,
    #[serde(default)]
    pub targets: Vec<TargetCheck>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct TargetCheck {
    pub target: String,
    pub status: String,
    #[serde(default)]
    pub available_accounts: Vec<String>,
}

/// One row of `GET /api/usage?group=…`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct UsageRow {
    pub group: String,
    #[serde(default)]
    pub requests: u64,
    #[serde(default)]
    pub errors: u64,
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_read: u64,
    #[serde(default)]
    pub cost_usd: f64,
}

/// One row of `GET /api/requests`, newest first.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct RequestRow {
    pub ts_ms: i64,
    #[serde(default)]
    pub combo: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub requested: Option<String>,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub outcome: Option<String>,
    #[serde(default)]
    pub attempts: Option<u32>,
    #[serde(default)]
    pub fallback: Option<serde_json::Value>,
    #[serde(default)]
    pub latency_ms: Option<u64>,
    #[serde(default)]
    pub ttft_ms: Option<u64>,
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cost_usd: Option<f64>,
}

/// One entry of `GET /api/keys`: a client key without its secret.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ClientKey {
    pub id: i64,
    pub label: String,
    pub prefix: String,
    #[serde(default)]
    pub daily_usd: Option<f64>,
    #[serde(default)]
    pub weekly_usd: Option<f64>,
    #[serde(default)]
    pub monthly_usd: Option<f64>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub revoked_at: Option<String>,
}

/// The `POST /api/keys` answer: the only time the full key is sent.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct CreatedKey {
    pub label: String,
    pub key: String,
}

/// Body of `POST /api/keys`.
#[derive(Clone, Debug, Serialize)]
pub struct NewKey {
    pub label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daily_usd: Option<f64>,
}

/// The part of `GET /api/settings` the dashboard edits.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Settings {
    pub require_api_key: bool,
    /// Absent on gateways older than desktop notifications.
    #[serde(default)]
    pub notify: Notify,
}

/// Which events raise a desktop notification (`notify` in `/api/settings`): the gateway's own type.
pub use switchyard_types::views::NotifySettings as Notify;

/// One entry of `GET /api/tools`: a coding tool Switchyard can configure.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Tool {
    pub tool: String,
    pub name: String,
    pub status: ToolStatus,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ToolStatus {
    pub state: ToolState,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub restart_required_hint: Option<String>,
    #[serde(default)]
    pub has_original_snapshot: bool,
}

/// Whether a tool points at Switchyard (serde: `{"state":"configured_elsewhere","base_url":…}`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ToolState {
    NotConfigured,
    ConfiguredByUs,
    ConfiguredElsewhere {
        base_url: String,
    },
    Invalid {
        reason: String,
    },
    #[serde(other)]
    Unknown,
}

/// `POST /api/tools/{tool}/preview|apply|restore`: what changed (or would), as a unified diff.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ToolChange {
    #[serde(default)]
    pub diff: String,
    #[serde(default)]
    pub backups: Vec<String>,
    #[serde(default)]
    pub restart_hint: Option<String>,
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

pub async fn add_account(provider: &str, new: &NewAccount) -> ApiResult<Account> {
    let url = format!("/api/providers/{}/accounts", encode_path_segment(provider));
    json(send_json(Request::post(&url), new).await?).await
}

pub async fn set_account_enabled(provider: &str, label: &str, enabled: bool) -> ApiResult<Account> {
    let url = format!(
        "/api/providers/{}/accounts/{}",
        encode_path_segment(provider),
        encode_path_segment(label)
    );
    let body = serde_json::json!({ "enabled": enabled });
    json(send_json(Request::patch(&url), &body).await?).await
}

pub async fn combos() -> ApiResult<Vec<Combo>> {
    get("/api/combos").await
}

pub async fn active_combo() -> ApiResult<ActiveCombo> {
    get("/api/combos/active").await
}

pub async fn add_combo(new: &NewCombo) -> ApiResult<Combo> {
    json(send_json(Request::post("/api/combos"), new).await?).await
}

pub async fn activate_combo(name: &str) -> ApiResult<ActiveCombo> {
    let body = serde_json::json!({ "name": name });
    json(send_json(Request::put("/api/combos/active"), &body).await?).await
}

pub async fn delete_combo(name: &str) -> ApiResult<()> {
    let url = format!("/api/combos/{}", encode_path_segment(name));
    empty(send(admin(Request::delete(&url))).await?).await
}

pub async fn test_combo(name: &str) -> ApiResult<ComboTest> {
    let url = format!("/api/combos/{}/test", encode_path_segment(name));
    json(send(admin(Request::post(&url))).await?).await
}

pub async fn usage_by_provider() -> ApiResult<Vec<UsageRow>> {
    get("/api/usage?group=provider").await
}

pub async fn recent_requests(limit: u32) -> ApiResult<Vec<RequestRow>> {
    get(&format!("/api/requests?limit={limit}")).await
}

pub async fn keys() -> ApiResult<Vec<ClientKey>> {
    get("/api/keys").await
}

pub async fn create_key(new: &NewKey) -> ApiResult<CreatedKey> {
    json(send_json(Request::post("/api/keys"), new).await?).await
}

pub async fn revoke_key(id: i64) -> ApiResult<()> {
    empty(send(admin(Request::delete(&format!("/api/keys/{id}")))).await?).await
}

pub async fn settings() -> ApiResult<Settings> {
    get("/api/settings").await
}

/// `PUT /api/settings {"require_api_key": …}`; other settings are left alone.
pub async fn put_require_api_key(require: bool) -> ApiResult<Settings> {
    let body = serde_json::json!({ "require_api_key": require });
    json(send_json(Request::put("/api/settings"), &body).await?).await
}

/// `PUT /api/settings {"notify": {…all four…}}`; other settings are left alone.
pub async fn put_notify(notify: Notify) -> ApiResult<Settings> {
    let body = serde_json::json!({ "notify": notify });
    json(send_json(Request::put("/api/settings"), &body).await?).await
}

pub async fn tools() -> ApiResult<Vec<Tool>> {
    get("/api/tools").await
}

/// The tool actions behind the panel's buttons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToolAction {
    Preview,
    Apply,
    Restore,
}

impl ToolAction {
    fn path(self) -> &'static str {
        match self {
            Self::Preview => "preview",
            Self::Apply => "apply",
            Self::Restore => "restore",
        }
    }
}

pub async fn tool_action(tool: &str, action: ToolAction) -> ApiResult<ToolChange> {
    let url = format!("/api/tools/{}/{}", encode_path_segment(tool), action.path());
    json(send(admin(Request::post(&url))).await?).await
}

async fn get<T: serde::de::DeserializeOwned>(url: &str) -> ApiResult<T> {
    json(send(fresh(Request::get(url))).await?).await
}

fn admin(builder: RequestBuilder) -> RequestBuilder {
    builder.header(ADMIN_HEADER.0, ADMIN_HEADER.1)
}

/// A mutating call with a JSON body.
async fn send_json<B: Serialize>(builder: RequestBuilder, body: &B) -> ApiResult<Response> {
    admin(builder)
        .json(body)
        .map_err(|e| format!("Could not encode the request: {e}"))?
        .send()
        .await
        .map_err(|e| format!("Request failed: {e}"))
}

/// A call answered with no body (204) on success.
async fn empty(resp: Response) -> ApiResult<()> {
    if resp.ok() {
        Ok(())
    } else {
        Err(error_message(resp).await)
    }
}

/// Splits the combo form's targets field: one target per line, blank lines dropped.
pub fn parse_targets(input: &str) -> Vec<String> {
    input
        .lines()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `HH:MM:SS` (UTC) of a Unix time in milliseconds.
pub fn clock_utc(ts_ms: i64) -> String {
    let secs = ts_ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// A dollar amount with enough digits for per-request costs.
pub fn usd(amount: f64) -> String {
    if amount == 0.0 {
        "$0".to_owned()
    } else if amount < 0.01 {
        format!("${amount:.4}")
    } else {
        format!("${amount:.2}")
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
    fn formats_come_with_labels() {
        let all: Vec<_> = formats().collect();
        assert_eq!(all.len(), 5);
        assert!(all.contains(&("responses", "OpenAI Responses")));
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
    fn targets_are_one_per_line() {
        assert_eq!(parse_targets(" a/b \n\n combo:c\n"), vec!["a/b", "combo:c"]);
    }

    #[test]
    fn tool_states_deserialize() {
        let s: ToolState = serde_json::from_str(r#"{"state":"not_configured"}"#).unwrap();
        assert_eq!(s, ToolState::NotConfigured);
        let s: ToolState =
            serde_json::from_str(r#"{"state":"configured_elsewhere","base_url":"http://x"}"#)
                .unwrap();
        assert_eq!(
            s,
            ToolState::ConfiguredElsewhere {
                base_url: "http://x".into()
            }
        );
        let s: ToolState = serde_json::from_str(r#"{"state":"something_new"}"#).unwrap();
        assert_eq!(s, ToolState::Unknown);
    }

    #[test]
    fn combo_targets_have_labels() {
        let t: ComboTarget =
            serde_json::from_str(r#"{"kind":"model","provider":"acme","model":"m1","weight":1}"#)
                .unwrap();
        assert_eq!(t.label(), "acme/m1");
        let t: ComboTarget = serde_json::from_str(r#"{"kind":"combo","name":"cheap"}"#).unwrap();
        assert_eq!(t.label(), "combo:cheap");
    }

    #[test]
    fn times_and_costs_are_formatted() {
        assert_eq!(clock_utc(1_796_126_060_000), "11:54:20");
        assert_eq!(usd(0.0), "$0");
        assert_eq!(usd(0.00123), "$0.0012");
        assert_eq!(usd(1.5), "$1.50");
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode_path_segment("acme-1.x_y~"), "acme-1.x_y~");
        assert_eq!(encode_path_segment("a b/c"), "a%20b%2Fc");
    }
}
