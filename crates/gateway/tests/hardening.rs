//! Defects found by trying the gateway as a careless user or an attacker would; each test here
//! failed on the code before its fix.

use mock_upstream::MockConfig;
use serde_json::{json, Value};

mod support;
use support::Env;

impl Env {
    async fn add_acme(&self) {
        let (s, v) = self
            .api(
                reqwest::Method::POST,
                "/api/providers",
                json!({"name": "acme", "base_url": self.mock.base_url(), "format": "openai",
                       "api_key": "sk-test", "models": ["mock-small"]}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
    }

    async fn post(&self, path: &str, body: Value, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut r = self.http.post(self.url(path)).json(&body);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.send().await.unwrap()
    }
}

/// A Chat request for `model` saying `text`.
fn chat(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

#[tokio::test]
async fn an_overlong_model_name_is_refused_without_echo_or_log() {
    let env = Env::new(MockConfig::default()).await;
    env.add_acme().await;
    let model = "x".repeat(40_000);
    let r = env
        .post("/v1/chat/completions", chat(&model, "hi"), &[])
        .await;
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(text.contains("model_too_long"), "{text}");
    assert!(
        text.len() < 1000,
        "the name is not echoed: {} bytes",
        text.len()
    );
    // Gemini names the model in the URL: the same bound applies.
    let r = env
        .post(
            &format!("/v1beta/models/{}:generateContent", "y".repeat(300)),
            json!({"contents": [{"parts": [{"text": "hi"}]}]}),
            &[],
        )
        .await;
    assert_eq!(r.status(), 400);
    env.gw.state().recorder.flush().await;
    let rows: Value = env.get_json("/api/requests?limit=50").await;
    let longest = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["requested"].as_str().unwrap_or("").len())
        .max()
        .unwrap_or(0);
    assert!(
        longest <= 256,
        "the usage log kept a {longest}-byte model name"
    );
    assert!(env.mock.requests().is_empty());
}

#[tokio::test]
async fn combos_and_the_active_alias_are_listed_as_models() {
    let env = Env::new(MockConfig::default()).await;
    env.add_acme().await;
    let ids = |v: Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    };
    // A strategy is one of a closed set, checked where the body is read.
    let (s, v) = env
        .api(
            reqwest::Method::POST,
            "/api/combos",
            json!({"name": "x", "strategy": "fastest", "targets": ["acme/mock-small"]}),
        )
        .await;
    assert_eq!(s, 400);
    let msg = v["error"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("unknown strategy \"fastest\"") && msg.contains("round-robin"),
        "{msg}"
    );
    let (s, _) = env
        .api(
            reqwest::Method::POST,
            "/api/combos",
            json!({"name": "always-on", "targets": ["acme/mock-small"]}),
        )
        .await;
    assert_eq!(s, 201);
    let listed = ids(env.get_json("/v1/models").await);
    assert!(listed.contains(&"always-on".to_string()), "{listed:?}");
    assert!(
        !listed.contains(&"switchyard".to_string()),
        "no combo is active yet"
    );
    let (s, _) = env
        .api(
            reqwest::Method::PUT,
            "/api/combos/active",
            json!({"name": "always-on"}),
        )
        .await;
    assert_eq!(s, 200);
    let listed = ids(env.get_json("/v1/models").await);
    assert_eq!(&listed[..2], ["switchyard", "always-on"], "{listed:?}");
    assert!(listed.contains(&"acme/mock-small".to_string()));
    // Every listed name routes.
    for model in &listed {
        let r = env
            .post("/v1/chat/completions", chat(model, "hi"), &[])
            .await;
        assert_eq!(r.status(), 200, "{model}");
    }
}

#[tokio::test]
async fn the_dashboard_cannot_be_framed() {
    let env = Env::new(MockConfig::default()).await;
    for path in ["/", "/api/health"] {
        let r = env.http.get(env.url(path)).send().await.unwrap();
        assert_eq!(r.headers()["x-frame-options"], "DENY", "{path}");
        assert_eq!(
            r.headers()["content-security-policy"],
            "frame-ancestors 'none'",
            "{path}"
        );
    }
}

#[tokio::test]
async fn an_idempotency_key_replays_only_the_same_request_of_the_same_protocol() {
    let env = Env::new(MockConfig::default()).await;
    env.add_acme().await;
    let one = chat("acme/mock-small", "one");
    let key = [("idempotency-key", "k-1")];
    let first = env.post("/v1/chat/completions", one.clone(), &key).await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    let again = env.post("/v1/chat/completions", one, &key).await;
    assert_eq!(again.headers()["x-switchyard-idempotent"], "replay");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(env.mock.requests().len(), 1);
    // The same key with another body is a client mistake, not a replay.
    let two = chat("acme/mock-small", "two");
    let r = env.post("/v1/chat/completions", two, &key).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("idempotency_key_reused"));
    // The same key on the Anthropic endpoint is another request: answered in its own protocol.
    let r = env
        .post(
            "/v1/messages",
            json!({"model": "acme/mock-small", "max_tokens": 50,
                   "messages": [{"role": "user", "content": "one"}]}),
            &key,
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["type"], "message",
        "an Anthropic answer, not a replayed Chat one: {v}"
    );
}

#[tokio::test]
async fn a_refused_key_is_asked_again_instead_of_benched_until_the_user_acts() {
    let env = Env::new(MockConfig::default()).await;
    env.add_acme().await;
    // The provider refuses the key once (expired billing, say): its own 401 reaches the client.
    let r = env
        .post("/v1/chat/completions", chat("acme/error-401", "hi"), &[])
        .await;
    assert_eq!(r.status(), 401);
    let health: Value = env.get_json("/api/routing/health").await;
    let acct = &health["accounts"].as_array().unwrap()[0];
    assert_eq!(acct["reauth_required"], true, "{health}");
    // The only account is benched, yet the next request still asks the provider (which now
    // accepts the key) instead of answering 503 without a call.
    let r = env
        .post("/v1/chat/completions", chat("acme/mock-small", "hi"), &[])
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(env.mock.requests().len(), 2);
    let health: Value = env.get_json("/api/routing/health").await;
    let acct = &health["accounts"].as_array().unwrap()[0];
    assert_eq!(
        acct["reauth_required"], false,
        "a success lifts the bench: {health}"
    );
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let config = switchyard_gateway::GatewayConfig {
        client_timeout: std::time::Duration::from_secs(1),
        ..support::config(dir.path())
    };
    let gw = switchyard_gateway::server::start_with_store(
        config,
        switchyard_gateway::storage::Db::open(dir.path()).unwrap(),
        std::sync::Arc::new(switchyard_gateway::credentials::MemoryStore::default()),
    )
    .await
    .unwrap();
    let mut slow = tokio::net::TcpStream::connect(gw.local_addr())
        .await
        .unwrap();
    slow.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
        .await
        .unwrap();
    // Others are served meanwhile.
    let health = reqwest::get(format!("http://{}/health", gw.local_addr()))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    // The half-sent request is cut off (today it stayed open forever); 20 s only tells a
    // closed socket from an open one.
    let mut buf = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        slow.read_to_end(&mut buf),
    )
    .await;
    assert!(read.is_ok(), "the connection is still open");
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn an_endless_upstream_line_ends_the_stream_with_an_error_event() {
    let env = Env::new(MockConfig::default()).await;
    env.add_acme().await;
    // Passthrough (Chat to Chat) and translated (Anthropic client on a Chat upstream).
    let cases = [
        (
            "/v1/chat/completions",
            json!({"model": "acme/endless-line", "stream": true,
            "messages": [{"role": "user", "content": "hi"}]}),
        ),
        (
            "/v1/messages",
            json!({"model": "acme/endless-line", "stream": true, "max_tokens": 50,
            "messages": [{"role": "user", "content": "hi"}]}),
        ),
    ];
    for (path, body) in cases {
        let r = env.post(path, body, &[]).await;
        assert_eq!(r.status(), 200, "{path}: the stream began well");
        let bytes = r
            .bytes()
            .await
            .expect("the gateway ends the stream cleanly");
        // The mock sends 64 MiB; the gateway stops reading a line at 16 MiB.
        assert!(bytes.len() < 20 << 20, "{path}: {} bytes", bytes.len());
        let tail = String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(600)..]).into_owned();
        assert!(tail.contains("larger than 16 MiB"), "{path}: {tail}");
        assert!(
            tail.contains("error"),
            "{path}: an error event in the client's format: {tail}"
        );
        let health = env.http.get(env.url("/health")).send().await.unwrap();
        assert_eq!(health.status(), 200);
    }
}

#[tokio::test]
async fn tools_are_pointed_at_the_active_alias_only_while_a_combo_is_active() {
    // The tray and the dashboard build the target with this one function.
    use switchyard_gateway::admin::tools::target;
    let env = Env::new(MockConfig::default()).await;
    env.add_acme().await;
    let state = env.gw.state();
    let t = target(state, None).unwrap();
    assert_eq!(
        t.model, None,
        "no combo is active: the alias would answer 404"
    );
    assert_eq!(
        t.base_url,
        format!("http://127.0.0.1:{}", env.gw.local_addr().port())
    );
    env.api(
        reqwest::Method::POST,
        "/api/combos",
        json!({"name": "always-on", "targets": ["acme/mock-small"]}),
    )
    .await;
    let (s, _) = env
        .api(
            reqwest::Method::PUT,
            "/api/combos/active",
            json!({"name": "always-on"}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        target(state, None).unwrap().model.as_deref(),
        Some("switchyard")
    );
}

#[tokio::test]
async fn one_client_keys_cached_answer_is_never_served_to_another() {
    let env = Env::new(MockConfig::default()).await;
    env.add_acme().await;
    let mut keys = Vec::new();
    for label in ["alice", "bob"] {
        let (s, k) = env
            .api(reqwest::Method::POST, "/api/keys", json!({"label": label}))
            .await;
        assert_eq!(s, 201);
        keys.push(format!("Bearer {}", k["key"].as_str().unwrap()));
    }
    env.api(
        reqwest::Method::PUT,
        "/api/settings",
        json!({"cache_enabled": true}),
    )
    .await;
    let mut body = chat("acme/mock-small", "same question");
    body["temperature"] = json!(0);
    let mut seen = Vec::new();
    for auth in [&keys[0], &keys[0], &keys[1]] {
        let r = env
            .post(
                "/v1/chat/completions",
                body.clone(),
                &[("authorization", auth)],
            )
            .await;
        assert_eq!(r.status(), 200);
        seen.push(
            r.headers()["x-switchyard-cache"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(
        seen,
        ["MISS", "HIT", "MISS"],
        "bob does not read alice's answer"
    );
    assert_eq!(env.mock.requests().len(), 2);
}

#[tokio::test]
async fn base_url_credentials_stored_by_an_older_version_move_to_the_keychain_at_start() {
    use switchyard_gateway::storage::{Db, NewProvider};
    let mock = mock_upstream::start(MockConfig::default(), 0)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path()).unwrap();
    db.insert_provider(&NewProvider {
        name: "corp".into(),
        base_url: mock.base_url().replace("http://", "http://user:s3cret@"),
        format: switchyard_gateway::formats::Format::Chat,
        models: vec!["mock-small".into()],
        key_ref: None,
        auth: None,
        catalog_id: None,
        url_auth_ref: None,
    })
    .unwrap();
    let store = std::sync::Arc::new(switchyard_gateway::credentials::MemoryStore::default());
    let gw = switchyard_gateway::server::start_with_store(
        support::config(dir.path()),
        db.clone(),
        store,
    )
    .await
    .unwrap();
    let p = db.get_provider("corp").unwrap().unwrap();
    assert_eq!(
        p.base_url,
        mock.base_url(),
        "the row no longer holds the password"
    );
    assert!(p.url_auth_ref.is_some());
    let r = reqwest::Client::new()
        .post(format!("http://{}/v1/chat/completions", gw.local_addr()))
        .json(&chat("corp/mock-small", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // user:s3cret as Basic auth, put back from the keychain.
    assert_eq!(
        mock.requests()[0].headers["authorization"],
        "Basic dXNlcjpzM2NyZXQ="
    );
    gw.shutdown().await;
}
