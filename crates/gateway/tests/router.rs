//! The gateway over real HTTP on loopback, against the real mock upstream, with the in-memory
//! secret store standing in for the keychain (the real keychain has its own test).

use mock_upstream::MockConfig;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use switchyard_gateway::credentials::{InsecureFileStore, MemoryStore, SecretStore};
use switchyard_gateway::server::start_with_store;
use switchyard_gateway::storage::Db;

mod support;
use support::{config, Env};

const KEY: &str = "sk-upstream-test-123";

impl Env {
    async fn add_provider(&self, body: Value) -> reqwest::Response {
        self.http
            .post(self.url("/api/providers"))
            .header("x-switchyard-admin", "1")
            .json(&body)
            .send()
            .await
            .unwrap()
    }
    async fn add_mock_provider(&self) {
        let r = self
            .add_provider(
                json!({"name": "acme", "base_url": self.mock.base_url(), "format": "openai",
                                 "api_key": KEY, "models": ["mock-small", "mock-large"]}),
            )
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    async fn chat(&self, body: Value) -> reqwest::Response {
        self.http
            .post(self.url("/v1/chat/completions"))
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

async fn error_of(r: reqwest::Response) -> (u16, String, String) {
    let status = r.status().as_u16();
    let v: Value = r.json().await.expect("error body is JSON");
    (
        status,
        v["error"]["code"].as_str().unwrap_or_default().to_string(),
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[tokio::test]
async fn health_reports_keychain_state_and_no_secrets() {
    let env = Env::new(MockConfig::default()).await;
    let h: Value = env.get_json("/api/health").await;
    assert_eq!(h["status"], "ok");
    assert_eq!(h["keychain"]["backend"], "memory");
    assert_eq!(h["keychain"]["persistent"], false);
    assert_eq!(h["keychain"]["can_store_secrets"], true);
    let plain: Value = env.get_json("/health").await;
    assert_eq!(
        plain,
        json!({"status": "ok", "version": switchyard_gateway::VERSION})
    );
}

#[tokio::test]
async fn providers_are_added_listed_validated_and_deleted() {
    let env = Env::new(MockConfig::default()).await;
    let mut changes = env.gw.subscribe();
    // No admin header: refused.
    let r = env
        .http
        .post(env.url("/api/providers"))
        .json(&json!({"name": "acme", "base_url": "http://x/v1", "api_key": "k"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.1, "admin_header_required");
    env.add_mock_provider().await;
    assert!(changes.has_changed().unwrap());
    changes.mark_unchanged();
    let list: Value = env.get_json("/api/providers").await;
    assert_eq!(list[0]["name"], "acme");
    assert_eq!(list[0]["has_key"], true);
    assert_eq!(list[0]["key_ref"], "provider:acme:account:default");
    assert!(
        !list.to_string().contains(KEY),
        "the key must never be listed"
    );
    assert_eq!(
        env.gw.providers().await[0].models,
        ["mock-small", "mock-large"]
    );

    let (s, code, _) = error_of(env.add_mock_provider_dup().await).await;
    assert_eq!((s, code.as_str()), (409, "provider_exists"));
    for (bad, needle) in [
        (
            json!({"name": "Bad Name", "base_url": "http://x", "api_key": "k"}),
            "not valid",
        ),
        (
            json!({"name": "b", "base_url": "ftp://x", "api_key": "k"}),
            "http(s) URL",
        ),
        (
            json!({"name": "b", "base_url": "http://x", "api_key": "sk with space"}),
            "api_key",
        ),
        (
            // An en dash picked up when copying the key from a web page.
            json!({"name": "b", "base_url": "http://x", "api_key": "sk\u{2013}abc"}),
            "plain ASCII",
        ),
        (
            json!({"name": "b", "base_url": "http://x", "api_key": "k", "format": "cohere"}),
            "not supported yet",
        ),
        (json!({"name": "b"}), "base_url"),
    ] {
        let (s, _, msg) = error_of(env.add_provider(bad).await).await;
        assert_eq!(s, 400);
        assert!(msg.contains(needle), "{msg:?} should mention {needle:?}");
    }
    let r = env
        .http
        .delete(env.url("/api/providers/acme"))
        .header("x-switchyard-admin", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(changes.has_changed().unwrap());
    assert!(env.gw.providers().await.is_empty());
    let r = env
        .http
        .delete(env.url("/api/providers/acme"))
        .header("x-switchyard-admin", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

impl Env {
    async fn add_mock_provider_dup(&self) -> reqwest::Response {
        self.add_provider(
            json!({"name": "acme", "base_url": "http://127.0.0.1:9/v1", "api_key": "other"}),
        )
        .await
    }
}

#[tokio::test]
async fn chat_is_forwarded_with_the_provider_key_and_upstream_model() {
    let env = Env::new(MockConfig::default()).await;
    env.add_mock_provider().await;
    let r = env
        .chat(json!({"model": "acme/mock-small", "messages": [{"role": "user", "content": "hi there"}],
                     "x_unknown_field": {"kept": true}}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-provider"], "acme");
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello from mock-upstream! You said: hi there"
    );
    let seen = env.mock.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].headers["authorization"], format!("Bearer {KEY}"));
    // What any HTTP server expects of a client: its host, a length, who is calling.
    assert_eq!(seen[0].headers["host"], env.mock.addr.to_string());
    assert_eq!(
        seen[0].headers["content-length"],
        seen[0].body_text.len().to_string()
    );
    assert!(seen[0].headers["user-agent"].starts_with("switchyard/"));
    assert_eq!(seen[0].body["model"], "mock-small");
    assert_eq!(seen[0].body["x_unknown_field"], json!({"kept": true}));
    // A bare model that exactly one provider lists routes too.
    let r = env
        .chat(json!({"model": "mock-large", "messages": []}))
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_configured_http_proxy_carries_every_upstream_call() {
    // The mock plays the proxy: a forward proxy receives the full URL as the request target,
    // and the mock answers by its path. The provider's host does not exist, so an answer can
    // only have come through the proxy.
    let mock = mock_upstream::start(MockConfig::default(), 0)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start_with_store(
        switchyard_gateway::GatewayConfig {
            upstream_proxy: Some(format!("http://{}", mock.addr)),
            ..config(dir.path())
        },
        Db::open(dir.path()).unwrap(),
        Arc::new(MemoryStore::default()),
    )
    .await
    .unwrap();
    let url = |p: &str| format!("http://{}{p}", gw.local_addr());
    let http = reqwest::Client::new();
    let r = http
        .post(url("/api/providers"))
        .header("x-switchyard-admin", "1")
        .json(
            &json!({"name": "far", "base_url": "http://api.far-provider.invalid/v1",
                      "format": "openai", "api_key": KEY, "models": ["mock-small"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = http
        .post(url("/v1/chat/completions"))
        .json(&json!({"model": "far/mock-small", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let seen = mock.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].headers["host"], "api.far-provider.invalid");
    assert_eq!(seen[0].headers["authorization"], format!("Bearer {KEY}"));
}

#[tokio::test]
async fn credentials_in_a_base_url_become_basic_auth_and_are_never_shown() {
    let env = Env::new(MockConfig::default()).await;
    // A self-hosted endpoint behind basic auth, written the way users write it.
    let base = env
        .mock
        .base_url()
        .replace("http://", "http://user:p%40ss@");
    let r = env
        .add_provider(json!({"name": "corp", "base_url": base, "format": "openai",
                             "api_key": "", "models": ["mock-small"]}))
        .await;
    assert_eq!(r.status(), 201);
    let r = env
        .chat(json!({"model": "corp/mock-small", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(r.status(), 200);
    let seen = env.mock.requests();
    assert_eq!(seen[0].headers["authorization"], "Basic dXNlcjpwQHNz");
    // The password is a secret: not in the provider list, not in the database.
    let (_, list) = env
        .api(
            reqwest::Method::GET,
            "/api/providers",
            serde_json::Value::Null,
        )
        .await;
    let shown = list.to_string();
    assert!(shown.contains(&env.mock.base_url()), "{shown}");
    assert!(
        !shown.contains("p%40ss") && !shown.contains("user:"),
        "{shown}"
    );
    for f in ["switchyard.db", "switchyard.db-wal"] {
        let bytes = std::fs::read(env.dir.path().join(f)).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("p%40ss"), "{f} holds the password");
    }
    // Unreachable (nothing listens on port 9): the message names the host, not the password.
    let r = env
        .add_provider(
            json!({"name": "gone", "base_url": "http://user:p%40ss@127.0.0.1:9/v1",
                             "format": "openai", "api_key": "", "models": ["mock-small"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = env
        .chat(json!({"model": "gone/mock-small", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(r.status(), 502);
    let msg = r.text().await.unwrap();
    assert!(msg.contains("could not reach"), "{msg}");
    assert!(!msg.contains("p%40ss") && !msg.contains("p@ss"), "{msg}");
}

#[tokio::test]
async fn a_same_format_body_reaches_the_upstream_byte_for_byte_but_the_model() {
    let env = Env::new(MockConfig::default()).await;
    env.add_mock_provider().await;
    // Spacing, key order, a number spelling a JSON tree would rewrite (`1.50`, `1e2`) and an
    // integer beyond f64's exact range: none of it may change on the way.
    let sent = r#"{ "messages" : [ {"role":"user","content":"hi"} ],
        "model":"acme/mock-small", "temperature": 1.50, "x_seed": 12345678901234567890123, "n": 1e0 }"#;
    let r = reqwest::Client::new()
        .post(env.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(sent)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = env.mock.requests();
    assert_eq!(
        seen[0].body_text,
        sent.replace("\"acme/mock-small\"", "\"mock-small\"")
    );
}

#[tokio::test]
async fn an_upstream_redirect_is_reported_not_followed() {
    let env = Env::new(MockConfig::default()).await;
    // A provider whose API "moved": every request is redirected to the real mock.
    let target = format!(
        "{}/chat/completions?key=secret-in-query",
        env.mock.base_url()
    );
    let app = axum::Router::new().fallback(move || {
        let target = target.clone();
        async move {
            (
                axum::http::StatusCode::TEMPORARY_REDIRECT,
                [("location", target)],
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let moved = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let r = env
        .add_provider(
            json!({"name": "moved", "base_url": moved, "format": "openai",
                             "api_key": KEY, "models": ["mock-small"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = env
        .chat(json!({"model": "moved/mock-small", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(r.status(), 502);
    let v: Value = r.json().await.unwrap();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("307") && msg.contains("base URL"), "{msg}");
    assert!(
        !msg.contains("secret-in-query"),
        "the query is redacted: {msg}"
    );
    assert!(
        env.mock.requests().is_empty(),
        "the redirect was not followed"
    );
    // The embeddings route says the same, in the same words.
    let r = env
        .http
        .post(env.url("/v1/embeddings"))
        .json(&json!({"model": "moved/mock-small", "input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"].as_str().unwrap().contains("redirect"),
        "{v}"
    );
    assert!(env.mock.requests().is_empty());
}

#[tokio::test]
async fn stream_chunks_reach_the_client_before_the_upstream_finishes() {
    let env = Env::new(MockConfig {
        chunks: 5,
        drip: Duration::from_millis(150),
        require_key: Some(KEY.into()),
    })
    .await;
    env.add_mock_provider().await;
    let mut r = env
        .chat(json!({"model": "acme/mock-small", "stream": true, "messages": [{"role": "user", "content": "stream"}]}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut first_at = None;
    let mut all = Vec::new();
    while let Some(chunk) = r.chunk().await.unwrap() {
        first_at.get_or_insert_with(mock_upstream::now_ms);
        all.extend_from_slice(&chunk);
    }
    let text = String::from_utf8(all).unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"));
    let content: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(String::from)
        })
        .collect();
    assert_eq!(content, "Hello from mock-upstream! You said: stream");
    let sent = &env.mock.requests()[0].sent_chunks_at_ms;
    let last_sent = *sent.last().unwrap();
    assert!(
        first_at.unwrap() < last_sent,
        "first chunk reached the client at {} but the upstream sent its last chunk at {last_sent}: buffered",
        first_at.unwrap()
    );
}

#[tokio::test]
async fn bad_requests_get_openai_errors() {
    let env = Env::new(MockConfig::default()).await;
    env.add_mock_provider().await;
    let raw = |body: &'static str| {
        env.http
            .post(env.url("/v1/chat/completions"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let (s, _, m) = error_of(raw("{not json").await.unwrap()).await;
    assert!(s == 400 && m.contains("not valid JSON"), "{m}");
    let (s, _, m) = error_of(raw("[1,2]").await.unwrap()).await;
    assert!(s == 400 && m.contains("JSON object"), "{m}");
    let (s, _, m) = error_of(raw(r#"{"messages":[]}"#).await.unwrap()).await;
    assert!(s == 400 && m.contains("model"), "{m}");
    let (s, _, m) = error_of(raw(r#"{"model":42}"#).await.unwrap()).await;
    assert!(s == 400 && m.contains("must be a string"), "{m}");
    let (s, code, m) = error_of(env.chat(json!({"model": "gpt-9", "messages": []})).await).await;
    assert_eq!((s, code.as_str()), (404, "model_not_found"));
    assert!(m.contains("acme/mock-small"), "lists what exists: {m}");
    let big = "x".repeat(70 * 1024);
    let (s, code, _) = error_of(
        env.chat(json!({"model": "acme/mock-small", "pad": big}))
            .await,
    )
    .await;
    assert_eq!((s, code.as_str()), (413, "request_too_large"));
    let (s, code, _) = error_of(env.http.get(env.url("/v1/nothing")).send().await.unwrap()).await;
    assert_eq!((s, code.as_str()), (404, "unsupported_endpoint"));
}

#[tokio::test]
async fn upstream_failures_are_reported_in_openai_format() {
    let env = Env::new(MockConfig::default()).await;
    env.add_mock_provider().await;
    // The upstream's own OpenAI error passes through with its status.
    let (s, code, m) = error_of(
        env.chat(json!({"model": "acme/error-429", "messages": []}))
            .await,
    )
    .await;
    assert_eq!((s, code.as_str()), (429, "mock_error"));
    assert!(m.contains("mock upstream failure 429"));
    // A non-JSON error page is wrapped, keeping the upstream's text.
    let (s, code, m) = error_of(
        env.chat(json!({"model": "acme/html-502", "messages": []}))
            .await,
    )
    .await;
    assert_eq!((s, code.as_str()), (502, "upstream_error"));
    assert!(m.contains("Bad Gateway"), "{m}");
    // A stream cut after it started ends with an error event, not a silent truncation.
    let r = env
        .chat(json!({"model": "acme/cut-stream", "stream": true, "messages": []}))
        .await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap_or_default();
    assert!(text.contains(r#""code":"upstream_error""#), "{text}");
    assert!(!text.contains("[DONE]"));
    // An unreachable upstream is a 502 naming the provider.
    let r = env
        .add_provider(json!({"name": "down", "base_url": "http://127.0.0.1:9/v1", "api_key": "k", "models": ["m"]}))
        .await;
    assert_eq!(r.status(), 201);
    let (s, code, m) = error_of(env.chat(json!({"model": "down/m", "messages": []})).await).await;
    assert_eq!((s, code.as_str()), (502, "upstream_error"));
    assert!(m.contains("\"down\"") && m.contains("127.0.0.1:9"), "{m}");
}

#[tokio::test]
async fn foreign_hosts_and_origins_are_refused() {
    let env = Env::new(MockConfig::default()).await;
    let addr = env.gw.local_addr();
    let get = |host: Option<&str>, origin: Option<&str>| {
        let mut r = env.http.get(env.url("/api/providers"));
        if let Some(h) = host {
            r = r.header("host", h);
        }
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    let (s, code, _) = error_of(get(Some("evil.example"), None).await.unwrap()).await;
    assert_eq!((s, code.as_str()), (403, "forbidden_host"));
    let (s, code, _) = error_of(get(None, Some("https://evil.example")).await.unwrap()).await;
    assert_eq!((s, code.as_str()), (403, "forbidden_origin"));
    let (s, code, _) = error_of(
        get(
            Some(&format!("localhost:{}", addr.port())),
            Some("http://evil.example"),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!((s, code.as_str()), (403, "forbidden_origin"));
    // The dashboard's own origin and plain CLI requests pass.
    let ok = get(None, Some(&format!("http://{addr}"))).await.unwrap();
    assert_eq!(ok.status(), 200);
    let ok = get(Some(&format!("localhost:{}", addr.port())), None)
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // Inference endpoints are guarded too.
    let r = env
        .http
        .post(env.url("/v1/chat/completions"))
        .header("origin", "https://evil.example")
        .json(&json!({"model": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

/// A secret store that refuses everything (Linux without a Secret Service).
struct NoKeychain;
impl SecretStore for NoKeychain {
    fn backend(&self) -> &'static str {
        "secret-service"
    }
    fn persistent(&self) -> bool {
        true
    }
    fn set(&self, _: &str, _: &str) -> Result<(), switchyard_gateway::credentials::SecretError> {
        Err(switchyard_gateway::credentials::SecretError::Backend(
            "org.freedesktop.secrets was not provided".into(),
        ))
    }
    fn get(&self, e: &str) -> Result<Option<String>, switchyard_gateway::credentials::SecretError> {
        self.set(e, "")?;
        Ok(None)
    }
    fn delete(&self, e: &str) -> Result<(), switchyard_gateway::credentials::SecretError> {
        self.set(e, "")
    }
}

#[tokio::test]
async fn without_a_keychain_keys_are_refused_not_stored_in_plaintext() {
    let env = Env::with_store(MockConfig::default(), Arc::new(NoKeychain)).await;
    let h: Value = env.get_json("/api/health").await;
    assert_eq!(h["keychain"]["can_store_secrets"], false);
    assert!(h["keychain"]["detail"]
        .as_str()
        .unwrap()
        .contains("--insecure-file-secrets"));
    let r = env
        .add_provider(json!({"name": "acme", "base_url": env.mock.base_url(), "api_key": KEY}))
        .await;
    let (s, code, m) = error_of(r).await;
    assert_eq!((s, code.as_str()), (503, "keychain_unavailable"));
    assert!(m.contains("org.freedesktop.secrets"), "{m}");
    assert!(
        env.gw.providers().await.is_empty(),
        "no provider row without its key"
    );
    let files: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    for f in &files {
        let bytes = std::fs::read(env.dir.path().join(f)).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(KEY),
            "{f:?} holds the key"
        );
    }
}

#[tokio::test]
async fn providers_and_keys_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mock = mock_upstream::start(
        MockConfig {
            require_key: Some(KEY.into()),
            ..Default::default()
        },
        0,
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    {
        let store = Arc::new(InsecureFileStore::new(dir.path()));
        let gw = start_with_store(config(dir.path()), Db::open(dir.path()).unwrap(), store)
            .await
            .unwrap();
        let r = http
            .post(format!("http://{}/api/providers", gw.local_addr()))
            .header("x-switchyard-admin", "1")
            .json(&json!({"name": "acme", "base_url": mock.base_url(), "api_key": KEY, "models": ["m"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        gw.shutdown().await;
    }
    let db_bytes = std::fs::read(dir.path().join("switchyard.db")).unwrap();
    assert!(
        !String::from_utf8_lossy(&db_bytes).contains(KEY),
        "the database must not hold the key"
    );
    let store = Arc::new(InsecureFileStore::new(dir.path()));
    let gw = start_with_store(config(dir.path()), Db::open(dir.path()).unwrap(), store)
        .await
        .unwrap();
    let r = http
        .post(format!("http://{}/v1/chat/completions", gw.local_addr()))
        .json(&json!({"model": "acme/m", "messages": [{"role": "user", "content": "again"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the key was read back after the restart");
    let models: Value = http
        .get(format!("http://{}/v1/models", gw.local_addr()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["id"], "acme/m");
    assert_eq!(models["object"], "list");
}

#[tokio::test]
async fn port_conflicts_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut cfg = config(dir.path());
    cfg.port = taken.local_addr().unwrap().port();
    let err = start_with_store(
        cfg,
        Db::open_in_memory().unwrap(),
        Arc::new(MemoryStore::default()),
    )
    .await
    .err()
    .expect("bind must fail");
    let msg = err.to_string();
    assert!(matches!(
        err,
        switchyard_gateway::StartError::PortInUse { .. }
    ));
    assert!(
        msg.contains("already in use") && msg.contains("--port"),
        "{msg}"
    );
}

#[tokio::test]
async fn dashboard_is_served_at_the_root() {
    let env = Env::new(MockConfig::default()).await;
    let r = env.http.get(env.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("Switchyard"));
    let r = env.http.head(env.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn path_variants_clients_send_are_accepted() {
    let env = Env::new(MockConfig::default()).await;
    env.add_mock_provider().await;
    for path in [
        "/chat/completions",
        "/v1/v1/chat/completions",
        "/v1/chat/completions/",
        "/openai/v1/chat/completions",
    ] {
        let r = env
            .http
            .post(env.url(path))
            .json(&json!({"model": "acme/mock-small", "messages": [{"role": "user", "content": "p"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let r = env.http.get(env.url("/models")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Claude Code's `?beta=true` is ignored; a bare /messages works too.
    let r = env
        .http
        .post(env.url("/messages?beta=true"))
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "acme/mock-small", "max_tokens": 10, "messages": [{"role": "user", "content": "b"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "message");
}

#[tokio::test]
async fn count_tokens_is_forwarded_or_estimated_and_marked() {
    let env = Env::new(MockConfig::default()).await;
    env.add_mock_provider().await;
    let r = env
        .add_provider(json!({"name": "ant", "base_url": env.mock.base_url(), "format": "anthropic", "api_key": KEY}))
        .await;
    assert_eq!(r.status(), 201);
    let body = |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "x".repeat(400)}]});
    let r = env
        .http
        .post(env.url("/v1/messages/count_tokens"))
        .json(&body("acme/mock-small"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-switchyard-estimated"], "true");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["input_tokens"], 100);
    let r = env
        .http
        .post(env.url("/v1/messages/count_tokens"))
        .json(&body("ant/claude"))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("x-switchyard-estimated").is_none());
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["input_tokens"], 4242,
        "the Anthropic upstream's own count"
    );
    let seen = env.mock.requests();
    assert_eq!(seen.last().unwrap().headers["x-api-key"], KEY);
}

#[tokio::test]
async fn model_list_takes_the_callers_shape() {
    let env = Env::new(MockConfig::default()).await;
    env.add_mock_provider().await;
    let v: Value = env
        .http
        .get(env.url("/v1/models"))
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"][0]["type"], "model");
    assert_eq!(v["first_id"], "acme/mock-small");
    assert_eq!(v["has_more"], false);
    // Unknown endpoints answer in the caller's protocol too.
    let v: Value = env
        .http
        .post(env.url("/v1/messages/batches"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "not_found_error");
}

#[tokio::test]
async fn providers_can_come_from_the_catalog() {
    let env = Env::new(MockConfig::default()).await;
    let cat: Value = env.get_json("/api/catalog").await;
    assert!(
        cat.as_array().unwrap().len() >= 60,
        "the built-in catalog lists at least 60 providers"
    );
    let groq = cat
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "groq")
        .expect("groq is in the catalog");
    let r = env
        .add_provider(json!({"catalog": "groq", "api_key": KEY}))
        .await;
    assert_eq!(r.status(), 201);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["name"], groq["alias"]);
    assert_eq!(p["base_url"], groq["base_url"]);
    assert_eq!(p["catalog_id"], "groq");
    assert_eq!(p["auth"], "bearer");
    // A catalog URL with parts only the user knows must be given explicitly.
    let needs = cat
        .as_array()
        .unwrap()
        .iter()
        .find(|p| !p["needs"].as_array().unwrap().is_empty())
        .unwrap();
    let (s, _, m) = error_of(
        env.add_provider(json!({"catalog": needs["id"], "api_key": KEY}))
            .await,
    )
    .await;
    assert_eq!(s, 400);
    assert!(m.contains("enter the base URL"), "{m}");
    let (s, _, m) = error_of(
        env.add_provider(json!({"catalog": "no-such-provider", "api_key": KEY}))
            .await,
    )
    .await;
    assert!(s == 400 && m.contains("not in the provider catalog"), "{m}");
}

#[tokio::test]
async fn the_catalog_auth_style_decides_where_the_key_goes() {
    let dir = tempfile::tempdir().unwrap();
    let mock = mock_upstream::start(MockConfig::default(), 0)
        .await
        .unwrap();
    std::fs::write(
        dir.path().join("providers.toml"),
        format!(
            "[[provider]]\nid = \"corp\"\nname = \"Corp gateway\"\nalias = \"corp\"\nformat = \"openai\"\nbase_url = \"{}\"\nauth = \"x-api-key\"\n",
            mock.base_url()
        ),
    )
    .unwrap();
    let gw = start_with_store(
        config(dir.path()),
        Db::open(dir.path()).unwrap(),
        Arc::new(MemoryStore::default()),
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let r = http
        .post(format!("http://{}/api/providers", gw.local_addr()))
        .header("x-switchyard-admin", "1")
        .json(&json!({"catalog": "corp", "api_key": KEY}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = http
        .post(format!("http://{}/v1/chat/completions", gw.local_addr()))
        .json(&json!({"model": "corp/m", "messages": [{"role": "user", "content": "k"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = &mock.requests()[0];
    assert_eq!(seen.headers["x-api-key"], KEY);
    assert!(!seen.headers.contains_key("authorization"));
}

#[tokio::test]
async fn keyless_local_providers_need_no_keychain() {
    let env = Env::with_store(MockConfig::default(), Arc::new(NoKeychain)).await;
    let r = env
        .add_provider(
            json!({"name": "ollama", "base_url": env.mock.base_url(), "models": ["llama3"]}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = env
        .chat(json!({"model": "ollama/llama3", "messages": [{"role": "user", "content": "local"}]}))
        .await;
    assert_eq!(r.status(), 200);
    assert!(!env.mock.requests()[0].headers.contains_key("authorization"));
}

#[tokio::test]
async fn a_responses_body_on_the_chat_path_is_answered_in_chat_format() {
    // Cursor does this (docs/formats.md #30).
    let env = Env::new(MockConfig::default()).await;
    env.add_mock_provider().await;
    let r = env
        .chat(
            json!({"model": "acme/mock-small", "input": "hi from cursor", "stream": true,
                     "stream_options": {"include_usage": true}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("chat.completion.chunk"), "{text}");
    let content: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(String::from)
        })
        .collect();
    assert_eq!(
        content,
        "Hello from mock-upstream! You said: hi from cursor"
    );
    assert_eq!(text.matches("[DONE]").count(), 1);
    let sent = &env.mock.requests()[0].body;
    assert_eq!(sent["messages"][0]["role"], "user");
    let r = env
        .chat(json!({"model": "acme/mock-small", "input": [{"role": "user", "content": "x"}]}))
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
}

#[tokio::test]
async fn catalog_quirks_shape_the_upstream_request() {
    let dir = tempfile::tempdir().unwrap();
    let mock = mock_upstream::start(MockConfig::default(), 0)
        .await
        .unwrap();
    std::fs::write(
        dir.path().join("providers.toml"),
        format!(
            "[[provider]]\nid = \"thinker\"\nname = \"Thinker\"\nalias = \"thinker\"\nformat = \"openai\"\nbase_url = \"{}\"\nauth = \"bearer\"\nquirks = [\"reasoning-content-replay\", \"tool-call-id-9-alnum\"]\n",
            mock.base_url()
        ),
    )
    .unwrap();
    let gw = start_with_store(
        config(dir.path()),
        Db::open(dir.path()).unwrap(),
        Arc::new(MemoryStore::default()),
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let r = http
        .post(format!("http://{}/api/providers", gw.local_addr()))
        .header("x-switchyard-admin", "1")
        .json(&json!({"catalog": "thinker", "api_key": KEY}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // Claude Code continuing a tool loop against a DeepSeek-style thinking model.
    let r = http
        .post(format!("http://{}/v1/messages", gw.local_addr()))
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "thinker/r1", "max_tokens": 100, "messages": [
            {"role": "user", "content": "fix it"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "read it first", "signature": "x"},
                {"type": "tool_use", "id": "toolu_01XYZ", "name": "Read", "input": {"path": "a"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01XYZ", "content": "ok"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let sent = &mock.requests()[0].body;
    let assistant = &sent["messages"][1];
    assert_eq!(assistant["reasoning_content"], "read it first");
    let id = assistant["tool_calls"][0]["id"].as_str().unwrap();
    assert_eq!(id.len(), 9);
    assert_eq!(sent["messages"][2]["tool_call_id"], id);
}

#[tokio::test]
async fn aliases_route_claude_code_model_names_to_any_provider() {
    let env = Env::new(MockConfig::default()).await;
    env.add_mock_provider().await;
    let post = |body: Value| {
        env.http
            .post(env.url("/api/aliases"))
            .header("x-switchyard-admin", "1")
            .json(&body)
            .send()
    };
    assert_eq!(
        post(json!({"pattern": "claude-*", "target": "acme/mock-large"}))
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(
        post(json!({"pattern": "fast", "target": "acme/mock-small"}))
            .await
            .unwrap()
            .status(),
        201
    );
    let (s, code, _) = error_of(
        post(json!({"pattern": "fast", "target": "acme/x"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, code.as_str()), (409, "alias_exists"));
    let (s, _, m) = error_of(
        post(json!({"pattern": "typo", "target": "nope/x"}))
            .await
            .unwrap(),
    )
    .await;
    assert!(s == 400 && m.contains("does not resolve"), "{m}");
    // Claude Code asks for its own model name; the upstream sees the alias target's model.
    let r = env
        .http
        .post(env.url("/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "claude-sonnet-4-5-20250929", "max_tokens": 10, "messages": [{"role": "user", "content": "a"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(env.mock.requests()[0].body["model"], "mock-large");
    let r = env
        .chat(json!({"model": "fast", "messages": [{"role": "user", "content": "b"}]}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(env.mock.requests()[1].body["model"], "mock-small");
    let models: Value = env.get_json("/v1/models").await;
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"fast") && !ids.contains(&"claude-*"),
        "{ids:?}"
    );
    let r = env
        .http
        .delete(env.url("/api/aliases/fast"))
        .header("x-switchyard-admin", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (s, _, _) = error_of(env.chat(json!({"model": "fast", "messages": []})).await).await;
    assert_eq!(s, 404);
    let (s, _, m) = error_of(
        env.chat(json!({"model": "../etc/passwd", "messages": []}))
            .await,
    )
    .await;
    assert!(s == 400 && m.contains("cannot have"), "{m}");
}

#[tokio::test]
async fn custom_model_ids_can_be_added_and_removed() {
    let env = Env::new(MockConfig::default()).await;
    env.add_mock_provider().await;
    let add = |body: Value| {
        env.http
            .post(env.url("/api/provider-models"))
            .header("x-switchyard-admin", "1")
            .json(&body)
            .send()
    };
    assert_eq!(
        add(json!({"provider": "acme", "model": "org/fine-tune-1"}))
            .await
            .unwrap()
            .status(),
        201
    );
    let (s, code, _) = error_of(
        add(json!({"provider": "acme", "model": "org/fine-tune-1"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, code.as_str()), (409, "model_exists"));
    let (s, _, _) = error_of(
        add(json!({"provider": "nope", "model": "m"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 404);
    // The new id routes as a bare name (it contains `/` but is listed verbatim) and is listed.
    let r = env
        .chat(json!({"model": "org/fine-tune-1", "messages": [{"role": "user", "content": "c"}]}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(env.mock.requests()[0].body["model"], "org/fine-tune-1");
    let list: Value = env.get_json("/api/provider-models").await;
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == "acme/org/fine-tune-1"));
    let r = env
        .http
        .delete(env.url("/api/provider-models/acme/org/fine-tune-1"))
        .header("x-switchyard-admin", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        env.gw.providers().await[0].models,
        ["mock-small", "mock-large"]
    );
}

#[tokio::test]
async fn translated_streams_get_keepalives_in_the_clients_framing_during_silence() {
    let env = Env::new(MockConfig::default()).await;
    env.add_mock_provider().await;
    // The upstream waits 800 ms before each chunk; the gateway's keepalive interval here is 300 ms.
    let r = env
        .http
        .post(env.url("/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .json(
            &json!({"model": "acme/drip-800", "max_tokens": 10, "stream": true,
                      "messages": [{"role": "user", "content": "think"}]}),
        )
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(
        text.starts_with(": keepalive") || text.contains("event: ping"),
        "{text}"
    );
    assert!(
        text.contains("event: ping\ndata: {\"type\":\"ping\"}"),
        "pings once the message started: {text}"
    );
    assert_eq!(text.matches("event: message_stop").count(), 1);
    let r = env
        .http
        .post(env.url("/v1/chat/completions"))
        .json(&json!({"model": "acme/drip-400", "stream": true, "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    // Same format both ways: bytes pass through untouched, no keepalives are injected.
    assert!(!text.contains("keepalive"));
}
