//! Routing over real HTTP on loopback: combos fall back along their targets, accounts of one
//! provider take over from each other, a plain 400 stops, the active-combo alias switches at
//! once, and every request lands in the usage log with its attempts.

use mock_upstream::MockConfig;
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use switchyard_gateway::credentials::MemoryStore;
use switchyard_gateway::server::start_with_store;
use switchyard_gateway::storage::Db;
use switchyard_gateway::GatewayConfig;

mod support;
use support::{config, Env};

impl Env {
    async fn provider(&self, name: &str, format: &str) {
        let base = if format == "gemini" {
            format!("http://{}/v1beta", self.mock.addr)
        } else {
            self.mock.base_url()
        };
        let (s, b) = self
            .api(
                reqwest::Method::POST,
                "/api/providers",
                json!({"name": name, "base_url": base, "format": format, "api_key": format!("key-{name}"), "models": []}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    async fn combo(&self, body: Value) {
        let (s, b) = self.api(reqwest::Method::POST, "/api/combos", body).await;
        assert_eq!(s, 201, "{b}");
    }
    async fn chat(&self, model: &str) -> reqwest::Response {
        self.http
            .post(self.url("/v1/chat/completions"))
            .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap()
    }
    async fn requests(&self) -> Vec<Value> {
        let (_, v) = self
            .api(reqwest::Method::GET, "/api/requests?limit=100", Value::Null)
            .await;
        v.as_array().cloned().unwrap_or_default()
    }
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_combo_falls_back_past_a_rate_limited_target_and_logs_both_attempts() {
    let env = Env::new(MockConfig::default()).await;
    env.provider("acme", "openai").await;
    env.provider("ant", "anthropic").await;
    env.combo(json!({"name": "work", "targets": ["acme/error-429", "ant/claude-mock"]}))
        .await;
    let r = env.chat("work").await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-switchyard-provider"), "ant");
    assert_eq!(header(&r, "x-switchyard-combo"), "work");
    assert_eq!(header(&r, "x-switchyard-attempts"), "2");
    assert_eq!(
        header(&r, "x-switchyard-fallback"),
        "acme/error-429:429,ant/claude-mock:ok"
    );
    let body: Value = r.json().await.unwrap();
    assert!(body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .contains("Hello from mock-upstream"));
    // The rate-limited account now cools down for the upstream's Retry-After (7 s).
    let (_, h) = env
        .api(reqwest::Method::GET, "/api/routing/health", Value::Null)
        .await;
    let acme = h["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["provider"] == "acme")
        .unwrap()
        .clone();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        acme["cooldown_until"].as_u64().unwrap() >= now + 5,
        "{acme}"
    );
    // The next request skips the cooling target without calling it.
    let before = env.mock.requests().len();
    let r = env.chat("work").await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-switchyard-attempts"), "1");
    assert_eq!(env.mock.requests().len(), before + 1);
    let rows = env.requests().await;
    assert_eq!(rows.len(), 2);
    let first = &rows[1];
    assert_eq!(first["outcome"], "ok");
    assert_eq!(first["attempts"], 2);
    assert_eq!(first["provider"], "ant");
    assert_eq!(first["combo"], "work");
    assert!(first["input_tokens"].as_u64().unwrap() > 0, "{first}");
    assert!(first["output_tokens"].as_u64().unwrap() > 0, "{first}");
}

#[tokio::test]
async fn a_second_account_takes_over_and_a_plain_400_stops() {
    let env = Env::new(MockConfig::default()).await;
    env.provider("acme", "openai").await;
    let (s, b) = env
        .api(
            reqwest::Method::POST,
            "/api/providers/acme/accounts",
            json!({"label": "spare", "api_key": "key-spare"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    // 429 on the default account → the same provider's spare account.
    let r = env.chat("acme/error-429").await;
    // Both accounts reach the same mock model, so both are limited: one clear 429 with Retry-After.
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    let keys: Vec<String> = env
        .mock
        .requests()
        .iter()
        .map(|q| q.headers.get("authorization").cloned().unwrap_or_default())
        .collect();
    assert_eq!(
        keys,
        ["Bearer key-acme", "Bearer key-spare"],
        "one try per account"
    );
    // A plain 400 is the client's problem: no second account, no other target.
    env.provider("beta", "openai").await;
    env.combo(json!({"name": "c", "targets": ["beta/error-400", "acme/mock-small"]}))
        .await;
    let before = env.mock.requests().len();
    let r = env.chat("c").await;
    assert_eq!(r.status(), 400);
    assert_eq!(env.mock.requests().len(), before + 1);
}

#[tokio::test]
async fn the_active_combo_alias_switches_routing_at_once() {
    let env = Env::new(MockConfig::default()).await;
    env.provider("acme", "openai").await;
    env.provider("ant", "anthropic").await;
    env.combo(json!({"name": "one", "targets": ["acme/mock-small"]}))
        .await;
    env.combo(json!({"name": "two", "targets": ["ant/claude-mock"]}))
        .await;
    let r = env.chat("switchyard").await;
    assert_eq!(r.status(), 404, "no combo is active yet");
    let (s, _) = env
        .api(
            reqwest::Method::PUT,
            "/api/combos/active",
            json!({"name": "one"}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        header(&env.chat("switchyard").await, "x-switchyard-provider"),
        "acme"
    );
    env.api(
        reqwest::Method::PUT,
        "/api/combos/active",
        json!({"name": "two"}),
    )
    .await;
    assert_eq!(
        header(&env.chat("switchyard").await, "x-switchyard-provider"),
        "ant"
    );
    let (_, a) = env
        .api(reqwest::Method::GET, "/api/combos/active", Value::Null)
        .await;
    assert_eq!(a, json!({"name": "two", "alias": "switchyard"}));
    // The active combo cannot be deleted out from under the tools that use it.
    let (s, e) = env
        .api(reqwest::Method::DELETE, "/api/combos/two", Value::Null)
        .await;
    assert_eq!(s, 409);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("activate another"),
        "{e}"
    );
    // Persisted: a restart keeps the choice.
    let dir = env.dir.path().to_path_buf();
    let db = Db::open(&dir).unwrap();
    assert_eq!(
        db.get_setting::<String>("active_combo").unwrap().as_deref(),
        Some("two")
    );
}

#[tokio::test]
async fn combos_are_validated_and_a_used_combo_cannot_be_deleted() {
    let env = Env::new(MockConfig::default()).await;
    env.provider("acme", "openai").await;
    env.combo(json!({"name": "inner", "targets": ["acme/mock-small"]}))
        .await;
    env.combo(json!({"name": "outer", "targets": ["combo:inner", "acme/mock-large"]}))
        .await;
    let (s, b) = env
        .api(
            reqwest::Method::PUT,
            "/api/combos/inner",
            json!({"targets": ["combo:outer"]}),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        b["error"]["message"].as_str().unwrap().contains("cycle"),
        "{b}"
    );
    let (s, b) = env
        .api(
            reqwest::Method::POST,
            "/api/combos",
            json!({"name": "x", "targets": ["nope/m"]}),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    let (s, _) = env
        .api(reqwest::Method::DELETE, "/api/combos/inner", Value::Null)
        .await;
    assert_eq!(s, 409);
    let (s, t) = env
        .api(reqwest::Method::POST, "/api/combos/outer/test", Value::Null)
        .await;
    assert_eq!(s, 200);
    assert_eq!(t["would_serve"], "acme/mock-small", "{t}");
    let (s, c) = env
        .api(
            reqwest::Method::POST,
            "/api/combos/outer/reorder",
            json!({"order": [1, 0]}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(c["targets"][0]["model"], "mock-large");
    let r = env.chat("outer").await;
    assert_eq!(header(&r, "x-switchyard-model"), "mock-large");
}

#[tokio::test]
async fn client_keys_are_required_when_asked_and_budgets_are_enforced() {
    let env = Env::new(MockConfig::default()).await;
    env.provider("acme", "openai").await;
    let (s, k) = env
        .api(reqwest::Method::POST, "/api/keys", json!({"label": "tool"}))
        .await;
    assert_eq!(s, 201);
    let key = k["key"].as_str().unwrap().to_string();
    let (s, z) = env
        .api(
            reqwest::Method::POST,
            "/api/keys",
            json!({"label": "broke", "daily_usd": 0.0}),
        )
        .await;
    assert_eq!(s, 201);
    let broke = z["key"].as_str().unwrap().to_string();
    env.api(
        reqwest::Method::PUT,
        "/api/settings",
        json!({"require_api_key": true}),
    )
    .await;
    let r = env.chat("acme/mock-small").await;
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "invalid_api_key");
    let send = |k: String| {
        env.http
            .post(env.url("/v1/messages"))
            .header("x-api-key", k)
            .json(&json!({"model": "acme/mock-small", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
    };
    let r = send(key.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = send(broke).await.unwrap();
    assert_eq!(r.status(), 402);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["type"], "error",
        "Anthropic clients get Anthropic's error shape"
    );
    assert!(v["error"]["message"].as_str().unwrap().contains("budget"));
    let rows = env.requests().await;
    assert!(rows
        .iter()
        .any(|r| r["outcome"] == "rejected" && r["status"] == 402));
    assert!(rows
        .iter()
        .any(|r| r["outcome"] == "ok" && r["key_id"] == k["id"]));
}

#[tokio::test]
async fn an_account_at_its_concurrency_limit_hands_the_request_to_another() {
    let env = Env::new(MockConfig::default()).await;
    env.provider("acme", "openai").await;
    env.api(
        reqwest::Method::POST,
        "/api/providers/acme/accounts",
        json!({"label": "spare", "api_key": "key-spare"}),
    )
    .await;
    let (s, b) = env
        .api(
            reqwest::Method::PATCH,
            "/api/providers/acme/settings",
            json!({"limits": {"max_concurrent": 1, "queue": 0}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["limits"]["max_concurrent"], 1);
    let stream = |env: &Env| {
        env.http
            .post(env.url("/v1/chat/completions"))
            .json(&json!({"model": "acme/drip-150", "stream": true,
                "messages": [{"role": "user", "content": "hi"}]}))
            .send()
    };
    let (a, b) = tokio::join!(stream(&env), stream(&env));
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut accounts = [
        header(&a, "x-switchyard-account"),
        header(&b, "x-switchyard-account"),
    ];
    accounts.sort();
    assert_eq!(
        accounts,
        ["default", "spare"],
        "one request per account at a time"
    );
    let (ta, tb) = (a.text().await.unwrap(), b.text().await.unwrap());
    assert!(ta.contains("[DONE]") && tb.contains("[DONE]"));
}

#[tokio::test]
async fn passive_quota_headers_become_windows_and_status() {
    let env = Env::new(MockConfig::default()).await;
    env.provider("ant", "anthropic").await;
    let r = env
        .http
        .post(env.url("/v1/messages"))
        .json(&json!({"model": "ant/quota-85", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()
            .keys()
            .all(|k| !k.as_str().starts_with("anthropic-ratelimit")),
        "quota headers of a hidden account are not forwarded to the client"
    );
    let (_, q) = env
        .api(reqwest::Method::GET, "/api/quota", Value::Null)
        .await;
    let w = &q[0]["windows"];
    let five = w
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["kind"] == "five_hour")
        .expect("a 5-hour window");
    assert!(
        (five["used_pct"].as_f64().unwrap() - 85.0).abs() < 0.01,
        "{five}"
    );
    let v: Value = env.get_json("/status").await;
    assert_eq!(v["gateway"], "running");
    let text = v["accounts"][0]["primary"]["text"].as_str().unwrap();
    assert!(text.contains("85%") && text.contains("resets in"), "{text}");
}

#[tokio::test]
async fn pausing_refuses_requests_and_failovers_are_announced() {
    let env = Env::new(MockConfig::default()).await;
    env.provider("acme", "openai").await;
    env.provider("ant", "anthropic").await;
    env.combo(json!({"name": "work", "targets": ["acme/error-429", "ant/claude-mock"]}))
        .await;
    let mut events = env.gw.state().events.subscribe();
    let (s, _) = env
        .api(reqwest::Method::POST, "/api/pause", Value::Null)
        .await;
    assert_eq!(s, 200);
    let r = env.chat("work").await;
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "gateway_paused");
    assert!(
        env.mock.requests().is_empty(),
        "nothing reached the upstream"
    );
    env.api(reqwest::Method::POST, "/api/resume", Value::Null)
        .await;
    assert_eq!(env.chat("work").await.status(), 200);
    let mut failover = None;
    while let Ok(ev) = events.try_recv() {
        if let switchyard_gateway::state::GatewayEvent::Failover {
            combo, served_by, ..
        } = ev
        {
            failover = Some((combo, served_by));
        }
    }
    assert_eq!(
        failover,
        Some(("work".to_string(), "ant/claude-mock".to_string()))
    );
}

/// This machine's address on its first non-loopback interface, if it has one.
fn lan_ip() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // A UDP "connect" sends nothing; it only picks the outgoing interface.
    s.connect("192.0.2.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test]
async fn beyond_loopback_other_machines_need_the_admin_token_and_a_client_key() {
    let Some(ip) = lan_ip() else {
        panic!("this test needs a non-loopback IPv4 address on the machine");
    };
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path()).unwrap();
    let config = GatewayConfig {
        host: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        allowed_hosts: vec![ip.to_string()],
        ..config(dir.path())
    };
    let gw = start_with_store(config, db, Arc::new(MemoryStore::default()))
        .await
        .unwrap();
    let port = gw.local_addr().port();
    let http = reqwest::Client::new();
    let remote = |p: &str| format!("http://{ip}:{port}{p}");
    let local = |p: &str| format!("http://127.0.0.1:{port}{p}");
    // Loopback: no credentials needed, as before.
    assert_eq!(
        http.get(local("/api/providers"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Another machine (our LAN address is not loopback): the management API wants the token.
    let r = http.get(remote("/api/providers")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .get(remote("/api/providers"))
        .bearer_auth(gw.admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // …and the model APIs want a client key, in the client's own error format.
    let r = http
        .post(remote("/v1/messages"))
        .json(&json!({"model": "x/y", "max_tokens": 1, "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "authentication_error");
    let k: Value = http
        .post(local("/api/keys"))
        .header("x-switchyard-admin", "1")
        .json(&json!({"label": "laptop"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = http
        .post(remote("/v1/chat/completions"))
        .bearer_auth(k["key"].as_str().unwrap())
        .json(&json!({"model": "nope/m", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "past the guard: the model is unknown");
    gw.shutdown().await;
}

#[tokio::test]
async fn a_stream_only_upstream_answers_a_non_stream_client_with_one_json() {
    let env = Env::new(MockConfig::default()).await;
    env.provider("cx", "responses").await;
    env.provider("oai", "openai").await;
    for (model, format_name) in [
        ("cx/stream-only", "responses"),
        ("oai/stream-only", "openai"),
    ] {
        let r = env.chat(model).await;
        assert_eq!(r.status(), 200, "{format_name}");
        assert!(r
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        let v: Value = r.json().await.unwrap();
        assert!(
            v["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .contains("Hello from mock-upstream"),
            "{format_name}: {v}"
        );
        if format_name == "responses" {
            // (A Chat upstream reports stream usage only when asked with stream_options.)
            assert!(v["usage"]["completion_tokens"].as_u64().unwrap() > 0, "{v}");
        }
    }
}

#[tokio::test]
async fn the_response_cache_and_idempotency_keys_spare_the_upstream() {
    let env = Env::new(MockConfig::default()).await;
    env.provider("acme", "openai").await;
    let body = json!({"model": "acme/mock-small", "temperature": 0,
        "messages": [{"role": "user", "content": "same question"}]});
    let send = |b: &Value, h: Option<(&str, &str)>| {
        let mut r = env.http.post(env.url("/v1/chat/completions")).json(b);
        if let Some((k, v)) = h {
            r = r.header(k, v);
        }
        r.send()
    };
    // Off by default: two identical requests both reach the upstream.
    send(&body, None).await.unwrap();
    send(&body, None).await.unwrap();
    assert_eq!(env.mock.requests().len(), 2);
    env.api(
        reqwest::Method::PUT,
        "/api/settings",
        json!({"cache_enabled": true}),
    )
    .await;
    let a = send(&body, None).await.unwrap();
    assert_eq!(header(&a, "x-switchyard-cache"), "MISS");
    let a: Value = a.json().await.unwrap();
    let b = send(&body, None).await.unwrap();
    assert_eq!(header(&b, "x-switchyard-cache"), "HIT");
    let b: Value = b.json().await.unwrap();
    assert_eq!(a, b, "the cached answer is the same answer");
    assert_eq!(env.mock.requests().len(), 3);
    // Bypass header, and a non-zero temperature, go to the upstream.
    send(&body, Some(("x-switchyard-no-cache", "true")))
        .await
        .unwrap();
    let mut warm = body.clone();
    warm["temperature"] = json!(0.7);
    send(&warm, None).await.unwrap();
    send(&warm, None).await.unwrap();
    assert_eq!(env.mock.requests().len(), 6);
    // Idempotency: a duplicate within the window replays the first answer.
    let once =
        json!({"model": "acme/mock-large", "messages": [{"role": "user", "content": "pay once"}]});
    let first = send(&once, Some(("idempotency-key", "k-1"))).await.unwrap();
    assert_eq!(first.status(), 200);
    let again = send(&once, Some(("idempotency-key", "k-1"))).await.unwrap();
    assert_eq!(header(&again, "x-switchyard-idempotent"), "replay");
    assert_eq!(env.mock.requests().len(), 7);
}

#[tokio::test]
async fn a_body_the_clients_codec_cannot_read_is_a_400_before_any_upstream_call() {
    let env = Env::new(MockConfig::default()).await;
    env.provider("ant", "anthropic").await;
    let r = env
        .http
        .post(env.url("/v1/chat/completions"))
        .json(&json!({"model": "ant/claude-mock", "messages": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "invalid_request", "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        !msg.contains("provider"),
        "the client's error, not the provider's: {msg}"
    );
    assert!(env.mock.requests().is_empty(), "no upstream was called");
}
