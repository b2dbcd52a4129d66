"""Routing engine end to end: combos, several accounts, fallback, cooldowns, circuit breaker,
timeouts, disconnects, usage log and client keys, through the official SDKs against the real
`switchyard` binary and two `mock-upstream` processes (one per provider).

Faults are chosen by model name (see crates/mock-upstream/src/lib.rs): `error-429` (with
Retry-After: 7), `flaky-<n>-<status>`, `hang`, `cut-stream`, `drip-<ms>`, `empty-200`, `quota-<pct>`.
Every provider here is on 127.0.0.1, so the gateway treats it as a local runtime (breaker opens
after 2 counted failures, stays open 15 s).
"""

import http.client
import json
import threading
import time

import anthropic
import openai
import pytest

from conftest import Gateway, Mock
from conftest import http as call

HELLO = "Hello from mock-upstream! You said: "
FAST = {"retry_delay_ms": 0, "first_byte_timeout_ms": 1500, "readiness_timeout_ms": 3000}


# ---------------------------------------------------------------------------------------------
# helpers


def mock_reset(m):
    status, _ = call("POST", f"{m.url}/_mock/reset")
    assert status == 204


def calls(m, model=None):
    """Requests the mock saw (for one model name, if given)."""
    rs = m.requests()
    return [r for r in rs if model is None or r["body"].get("model") == model or model in r["path"]]


def combo(gw, name, targets, config=None, strategy="priority"):
    body = {"name": name, "strategy": strategy, "targets": targets, "config": config or FAST}
    status, resp = gw.api("POST", "/api/combos", body)
    assert status == 201, (status, resp)
    return resp


def add_account(gw, provider, label, key, priority):
    status, resp = gw.api("POST", f"/api/providers/{provider}/accounts",
                          {"label": label, "api_key": key, "priority": priority})
    assert status in (200, 201), (status, resp)


def health(gw):
    status, body = gw.api("GET", "/api/routing/health", admin=False)
    assert status == 200, body
    return body


def account_health(gw, provider, account="default"):
    for a in health(gw)["accounts"]:
        if a["provider"] == provider and a["account"] == account:
            return a
    raise AssertionError(f"no health row for {provider}/{account}: {health(gw)}")


def oai(gw, key="sk-switchyard-e2e", **kw):
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0, timeout=20, **kw)


def ant(gw, key="sk-switchyard-e2e"):
    return anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0, timeout=20)


def chat(client, model, text="hi", **kw):
    """A non-stream chat call returning (completion, headers)."""
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": text}], **kw)
    return raw.parse(), raw.headers


def rows(gw, limit=200):
    status, body = gw.api("GET", f"/api/requests?limit={limit}", admin=False)
    assert status == 200, body
    return body


def wait_for(pred, timeout=5.0, step=0.1, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def raw_stream(gw, model, key=None, text="hi"):
    """POST a streaming chat request with http.client; returns (conn, response)."""
    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=20)
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": text}]}
    conn.request("POST", "/v1/chat/completions", json.dumps(body), headers)
    return conn, conn.getresponse()


# ---------------------------------------------------------------------------------------------
# fixtures: a gateway with two providers on two mocks


@pytest.fixture
def acme():
    m = Mock()
    yield m
    m.proc.stop()


@pytest.fixture
def beta():
    m = Mock()
    yield m
    m.proc.stop()


@pytest.fixture
def gw(gateway, acme, beta):
    gateway.add_provider("acme", acme.base_url, "sk-acme-a", ["mock-small"])
    gateway.add_provider("beta", beta.base_url, "sk-beta", ["mock-small"])
    return gateway


# ---------------------------------------------------------------------------------------------
# 1. 429 → next target


def test_rate_limited_first_target_falls_back_to_second(gw, acme, beta):
    combo(gw, "work", ["acme/error-429", "beta/mock-small"])
    before = time.time()
    done, headers = chat(oai(gw), "work", "fallback please")

    assert done.choices[0].message.content == HELLO + "fallback please"
    assert headers["x-switchyard-provider"] == "beta"
    assert headers["x-switchyard-combo"] == "work"
    assert headers["x-switchyard-attempts"] == "2"
    fallback = headers["x-switchyard-fallback"]
    assert "acme/error-429:429" in fallback and "beta/mock-small:ok" in fallback, fallback
    assert fallback.index("acme/error-429") < fallback.index("beta/mock-small")
    assert len(calls(acme)) == 1 and len(calls(beta)) == 1

    # The rate-limited account cools down for at least the upstream's Retry-After (7 s).
    cooling = account_health(gw, "acme")
    assert cooling["cooldown_until"] is not None, cooling
    assert cooling["cooldown_until"] >= before + 6, (cooling, before)
    assert account_health(gw, "beta").get("cooldown_until") is None

    # Same again as a stream from an Anthropic Messages client, from a clean slate.
    assert gw.api("POST", "/api/routing/reset")[0] == 204
    mock_reset(acme)
    mock_reset(beta)
    raw = ant(gw).messages.with_raw_response.create(
        model="work", max_tokens=64, stream=True,
        messages=[{"role": "user", "content": "stream it"}])
    assert raw.headers["x-switchyard-provider"] == "beta"
    assert "acme/error-429:429" in raw.headers["x-switchyard-fallback"]
    text, kinds = "", []
    for event in raw.parse():
        kinds.append(event.type)
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            text += event.delta.text
    assert text == HELLO + "stream it"
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop", kinds
    assert len(calls(acme)) == 1 and len(calls(beta)) == 1


# ---------------------------------------------------------------------------------------------
# 2. 429 on the first account → second account of the same provider


def test_rate_limited_account_moves_to_next_account(gw, acme):
    add_account(gw, "acme", "b", "sk-acme-b", 2)
    done, headers = chat(oai(gw), "acme/flaky-1-429", "second account")

    assert done.choices[0].message.content == HELLO + "second account"
    assert headers["x-switchyard-provider"] == "acme"
    assert headers["x-switchyard-account"] == "b"
    seen = [r["headers"].get("authorization") for r in calls(acme)]
    assert seen == ["Bearer sk-acme-a", "Bearer sk-acme-b"], seen
    assert account_health(gw, "acme", "default")["cooldown_until"] is not None
    assert account_health(gw, "acme", "b").get("cooldown_until") is None

    # While the first account cools, the next request goes straight to the second one.
    _, headers = chat(oai(gw), "acme/mock-small")
    assert headers["x-switchyard-account"] == "b"
    assert calls(acme)[-1]["headers"]["authorization"] == "Bearer sk-acme-b"


# ---------------------------------------------------------------------------------------------
# 3. 5xx opens the breaker; skipped while open; a successful probe closes it


def test_server_errors_open_the_breaker_and_a_probe_closes_it(gw, acme, beta):
    # Two accounts, so the breaker's per-account dedup (one counted failure per account per 5 s)
    # still sees 2 failures in one request: default 500, retry 500, b 500, retry 500.
    add_account(gw, "acme", "b", "sk-acme-b", 2)
    model = "flaky-4-500"
    combo(gw, "work", [f"acme/{model}", "beta/mock-small"])
    client = oai(gw)

    _, headers = chat(client, "work")
    opened_at = time.time()
    assert headers["x-switchyard-provider"] == "beta", dict(headers)
    assert len(calls(acme, model)) == 4
    breaker = health(gw)["breakers"]["acme"]
    assert breaker["state"] == "open", breaker
    assert 0 < breaker.get("opens_in_secs", 0) <= 15, breaker

    # Open: acme is skipped without an upstream call.
    for _ in range(2):
        _, headers = chat(client, "work")
        assert headers["x-switchyard-provider"] == "beta"
        assert "acme/flaky-4-500:breaker-open" in headers["x-switchyard-fallback"], dict(headers)
    assert len(calls(acme, model)) == 4

    # After the open period one probe goes through; the flaky model now answers, so it closes.
    time.sleep(max(0.0, opened_at + 15.5 - time.time()))
    done, headers = chat(client, "work", "probe")
    assert headers["x-switchyard-provider"] == "acme", dict(headers)
    assert done.choices[0].message.content == HELLO + "probe"
    assert len(calls(acme, model)) == 5
    assert health(gw)["breakers"]["acme"]["state"] == "closed"
    _, headers = chat(client, "work")
    assert headers["x-switchyard-provider"] == "acme"


# ---------------------------------------------------------------------------------------------
# 4. first-byte timeout → next target quickly, no cooldown


def test_hanging_upstream_times_out_to_next_target_without_cooldown(gw, acme, beta):
    combo(gw, "work", ["acme/hang", "beta/mock-small"],
          {"retry_delay_ms": 0, "first_byte_timeout_ms": 1000, "readiness_timeout_ms": 3000})
    start = time.time()
    done, headers = chat(oai(gw), "work", "too slow")
    elapsed = time.time() - start

    assert done.choices[0].message.content == HELLO + "too slow"
    assert headers["x-switchyard-provider"] == "beta"
    assert "acme/hang:timeout" in headers["x-switchyard-fallback"], dict(headers)
    assert 0.9 < elapsed < 5, elapsed
    # Our own timeout: no cooldown for the account, no breaker count.
    assert account_health(gw, "acme").get("cooldown_until") is None
    assert health(gw)["breakers"].get("acme", {}).get("state", "closed") == "closed"
    # The gateway dropped the hanging upstream request (it did not leave it open).
    wait_for(lambda: calls(acme, "hang") and calls(acme, "hang")[0]["client_closed"],
             timeout=5, what="the hanging upstream request to be cancelled")


# ---------------------------------------------------------------------------------------------
# 5. stream cut after the first byte → error to the client, no fallback


def test_stream_cut_after_first_byte_is_an_error_without_fallback(gw, acme, beta):
    combo(gw, "work", ["acme/cut-stream", "beta/mock-small"])
    stream = oai(gw).chat.completions.create(
        model="work", stream=True, messages=[{"role": "user", "content": "cut me"}])
    text = ""
    with pytest.raises(openai.APIError) as err:  # the error event in the Chat stream
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
    assert text and (HELLO + "cut me").startswith(text), text
    assert text != HELLO + "cut me"
    assert "acme" in str(err.value), err.value
    assert len(calls(acme, "cut-stream")) == 1
    assert calls(beta) == [], "fell back after the first byte reached the client"
    row = wait_for(lambda: (rows(gw) or [None])[0], timeout=5, what="the usage row")
    assert row["outcome"] == "stream_error" and row["provider"] == "acme", row


# ---------------------------------------------------------------------------------------------
# 6. a slow drip streams straight through a combo


def test_slow_drip_streams_through_a_combo(gw, acme, beta):
    combo(gw, "work", ["acme/drip-300", "beta/mock-small"])
    stream = oai(gw).chat.completions.create(
        model="work", stream=True, messages=[{"role": "user", "content": "drip"}])
    pieces, times = [], []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
            times.append(time.time())
    assert "".join(pieces) == HELLO + "drip"
    assert len(pieces) >= 4, pieces
    # Chunks arrive as they are produced, not buffered to the end.
    assert times[-1] - times[0] >= 0.8, times
    assert calls(beta) == []


# ---------------------------------------------------------------------------------------------
# 7. everything rate-limited → one 429 in the client's format, with Retry-After


def test_all_targets_rate_limited_is_one_429_with_retry_after(gw):
    combo(gw, "work", ["acme/error-429", "beta/error-429"])
    with pytest.raises(openai.RateLimitError) as err:
        chat(oai(gw), "work")
    e = err.value
    assert int(e.response.headers["retry-after"]) >= 1
    assert "acme/error-429" in e.message and "beta/error-429" in e.message, e.message
    assert isinstance(e.body, dict) and e.body.get("message"), e.body

    assert gw.api("POST", "/api/routing/reset")[0] == 204
    with pytest.raises(anthropic.RateLimitError) as err:
        ant(gw).messages.create(model="work", max_tokens=16,
                                messages=[{"role": "user", "content": "hi"}])
    e = err.value
    assert int(e.response.headers["retry-after"]) >= 1
    body = e.response.json()
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error", body
    assert "acme/error-429" in body["error"]["message"], body


# ---------------------------------------------------------------------------------------------
# 8. a client that goes away cancels the upstream request


def test_client_disconnect_cancels_the_upstream(gw, acme):
    conn, resp = raw_stream(gw, "acme/drip-500")
    assert resp.status == 200
    while True:
        line = resp.readline()
        assert line, "stream ended before any content"
        if line.startswith(b"data: ") and b'"content":"' in line and b'"content":""' not in line:
            break
    resp.close()
    conn.sock and conn.sock.close()
    conn.close()

    wait_for(lambda: calls(acme) and calls(acme)[0]["client_closed"], timeout=5,
             what="the mock to see the gateway drop the upstream stream")
    row = wait_for(lambda: next((r for r in rows(gw) if r.get("outcome") == "client_closed"), None),
                   timeout=5, what="a client_closed usage row")
    assert row["provider"] == "acme" and row["stream"] in (True, 1), row


# ---------------------------------------------------------------------------------------------
# 9. the active combo decides what `switchyard` means, instantly


def test_active_combo_switches_what_switchyard_routes_to(gw):
    combo(gw, "one", ["acme/mock-small"])
    combo(gw, "two", ["beta/mock-small"])
    client = oai(gw)

    assert gw.api("PUT", "/api/combos/active", {"name": "one"})[0] in (200, 204)
    _, headers = chat(client, "switchyard")
    assert headers["x-switchyard-provider"] == "acme"

    assert gw.api("PUT", "/api/combos/active", {"name": "two"})[0] in (200, 204)
    status, active = gw.api("GET", "/api/combos/active", admin=False)
    assert status == 200 and active["name"] == "two" and active["alias"] == "switchyard", active
    _, headers = chat(client, "switchyard")
    assert headers["x-switchyard-provider"] == "beta"
    assert headers["x-switchyard-combo"] == "two"


# ---------------------------------------------------------------------------------------------
# 10. usage rows, and nothing lost on SIGTERM


def test_usage_rows_record_outcome_attempts_provider_and_tokens(gw):
    combo(gw, "work", ["acme/error-429", "beta/mock-small"])
    client = oai(gw)
    chat(client, "beta/mock-small")
    with pytest.raises(openai.BadRequestError):
        chat(client, "acme/error-400")
    _, headers = chat(client, "work")
    assert headers["x-switchyard-provider"] == "beta"

    got = wait_for(lambda: (lambda r: r if len(r) >= 3 else None)(rows(gw)), timeout=5,
                   what="three usage rows")
    by = {r["requested"]: r for r in got}
    ok, failed, fell_back = by["beta/mock-small"], by["acme/error-400"], by["work"]
    assert ok["outcome"] == "ok" and ok["status"] == 200 and ok["provider"] == "beta", ok
    assert ok["attempts"] == 1 and ok["input_tokens"] > 0 and ok["output_tokens"] > 0, ok
    assert ok["client_format"] and ok["model"] == "mock-small", ok
    assert fell_back["outcome"] == "ok" and fell_back["attempts"] == 2, fell_back
    assert fell_back["combo"] == "work" and fell_back["provider"] == "beta", fell_back
    assert "acme/error-429" in (fell_back["fallback"] or ""), fell_back
    assert fell_back["output_tokens"] > 0
    assert failed["outcome"] == "error" and failed["status"] == 400, failed
    assert failed["attempts"] == 1, failed
    # The upstream that answered the error is who the row belongs to (usage by provider).
    assert failed["provider"] == "acme" and failed["model"] == "error-400", json.dumps(failed)


def test_sigterm_with_requests_in_flight_loses_no_usage_rows(gw, data_dir, beta):
    # 20 streams in flight, then SIGTERM: every request that got a response has its row.
    chat(oai(gw), "beta/mock-small")
    wait_for(lambda: len(rows(gw)) == 1, timeout=5, what="the first usage row")
    before = 1
    results = [None] * 20

    def one(i):
        try:
            conn, resp = raw_stream(gw, "beta/drip-200", text=f"req {i}")
            results[i] = "response"
            body = resp.read()
            results[i] = "complete" if b"[DONE]" in body else "response"
            conn.close()
        except Exception as e:  # refused after shutdown began, or cut: no response
            if results[i] is None:
                results[i] = f"no response: {e!r}"

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    wait_for(lambda: len(calls(beta, "drip-200")) >= 20, timeout=5, what="20 upstream requests")
    gw.stop()
    for t in threads:
        t.join(15)
    answered = sum(1 for r in results if r in ("response", "complete"))
    assert answered > 0, results

    restarted = Gateway(data_dir)
    try:
        after = rows(restarted, 500)
        new = [r for r in after[: len(after) - before]]
        assert len(after) - before == answered, (results, new)
        assert all(r["provider"] == "beta" for r in new), new
    finally:
        restarted.stop()


# ---------------------------------------------------------------------------------------------
# 11. client keys


def test_client_keys_and_budgets(gw):
    assert gw.api("PUT", "/api/settings", {"require_api_key": True})[0] in (200, 204)

    with pytest.raises(openai.AuthenticationError) as err:
        chat(oai(gw, key="sy-not-a-key"), "beta/mock-small")
    assert err.value.status_code == 401 and err.value.code == "invalid_api_key", err.value.body
    status, body = call("POST", f"{gw.url}/v1/chat/completions",
                        {"model": "beta/mock-small", "messages": [{"role": "user", "content": "x"}]})
    assert status == 401 and body["error"]["code"] == "invalid_api_key", body

    with pytest.raises(anthropic.AuthenticationError) as err:
        ant(gw, key="sy-not-a-key").messages.create(
            model="beta/mock-small", max_tokens=16, messages=[{"role": "user", "content": "x"}])
    body = err.value.response.json()
    assert body["type"] == "error" and body["error"]["type"] == "authentication_error", body

    status, created = gw.api("POST", "/api/keys", {"label": "t"})
    assert status == 201 and created["key"], created
    done, _ = chat(oai(gw, key=created["key"]), "beta/mock-small", "with key")
    assert done.choices[0].message.content == HELLO + "with key"
    msg = ant(gw, key=created["key"]).messages.create(
        model="beta/mock-small", max_tokens=16, messages=[{"role": "user", "content": "ant key"}])
    assert msg.content[0].text == HELLO + "ant key"

    status, broke = gw.api("POST", "/api/keys", {"label": "broke", "daily_usd": 0})
    assert status == 201, broke
    with pytest.raises(openai.APIStatusError) as err:
        chat(oai(gw, key=broke["key"]), "beta/mock-small")
    assert err.value.status_code == 402 and err.value.code == "budget_exceeded", err.value.body


# ---------------------------------------------------------------------------------------------
# 12. empty 200 → next target


def test_empty_200_falls_back_to_next_target(gw, acme, beta):
    combo(gw, "work", ["acme/empty-200", "beta/mock-small"])
    done, headers = chat(oai(gw), "work", "empty")
    assert done.choices[0].message.content == HELLO + "empty"
    assert headers["x-switchyard-provider"] == "beta"
    assert "acme/empty-200" in headers["x-switchyard-fallback"], dict(headers)
    assert calls(acme, "empty-200")

    stream = oai(gw).chat.completions.create(
        model="work", stream=True, messages=[{"role": "user", "content": "empty stream"}])
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == HELLO + "empty stream"
    assert len(calls(beta)) == 2


# ---------------------------------------------------------------------------------------------
# 13. passive quota from upstream headers


def test_quota_headers_show_up_in_api_quota(gw):
    before = time.time()
    chat(oai(gw), "acme/quota-85")
    status, quota = gw.api("GET", "/api/quota", admin=False)
    assert status == 200, quota
    row = next(q for q in quota if q["provider"] == "acme" and q["account"] == "default")
    five = next(w for w in row["windows"] if w["kind"] == "five_hour")
    assert abs(five["used_pct"] - 85) < 0.5, five
    assert before + 7000 < five["resets_at"] < before + 7400, five
