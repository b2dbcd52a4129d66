"""The headless gateway driven by the official OpenAI Python SDK, against the mock upstream."""

import os
import shutil
import subprocess
import time

import openai
import pytest

from conftest import MOCK_BIN, SWITCHYARD_BIN, Gateway, Mock, http

KEY = "sk-e2e-upstream-key"


def client(gateway):
    # The client key is not checked yet (client keys come with routing); the SDK requires one.
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="sy-local", max_retries=0, timeout=30)


def test_chat_non_stream_forwards_key_and_model(gateway, mock):
    gateway.add_provider("mock", mock.base_url, KEY, ["mock-small"])
    r = client(gateway).chat.completions.create(
        model="mock/mock-small", messages=[{"role": "user", "content": "Hello gateway"}]
    )
    assert r.choices[0].message.content == "Hello from mock-upstream! You said: Hello gateway"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.total_tokens == 21
    seen = mock.requests()
    assert len(seen) == 1
    assert seen[0]["headers"]["authorization"] == f"Bearer {KEY}", "upstream got the provider key"
    assert seen[0]["body"]["model"] == "mock-small", "provider prefix stripped"
    assert "sy-local" not in str(seen[0]["headers"]), "the client's key is never forwarded"


def test_stream_arrives_incrementally():
    m = Mock(drip_ms=300, chunks=5, require_key=KEY)
    import tempfile

    g = Gateway(tempfile.mkdtemp())
    try:
        g.add_provider("mock", m.base_url, KEY, ["mock-small"])
        stream = client(g).chat.completions.create(
            model="mock/mock-small", stream=True, messages=[{"role": "user", "content": "drip"}]
        )
        first_ms, pieces = None, []
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                first_ms = first_ms or time.time() * 1000
                pieces.append(chunk.choices[0].delta.content)
        assert "".join(pieces) == "Hello from mock-upstream! You said: drip"
        assert len(pieces) == 5
        sent = m.requests()[0]["sent_chunks_at_ms"]
        assert len(sent) == 8  # role, 5 content, finish, [DONE]
        assert first_ms < sent[-1] - 500, (
            f"first content chunk reached the client at {first_ms:.0f}, upstream sent its last at {sent[-1]}: "
            "the gateway buffered the stream"
        )
    finally:
        g.stop()
        m.proc.stop()


def test_models_list_shows_provider_models(gateway, mock):
    gateway.add_provider("mock", mock.base_url, KEY, ["mock-small", "mock-large"])
    ids = [m.id for m in client(gateway).models.list()]
    assert ids == ["mock/mock-small", "mock/mock-large"]


def test_errors_come_back_as_openai_errors(gateway, mock):
    gateway.add_provider("mock", mock.base_url, KEY, ["mock-small"])
    c = client(gateway)
    with pytest.raises(openai.NotFoundError) as e:
        c.chat.completions.create(model="nope/gpt", messages=[{"role": "user", "content": "x"}])
    assert e.value.code == "model_not_found"
    assert "mock/mock-small" in e.value.message
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model="", messages=[])
    assert "model" in e.value.message
    # Upstream rate limit passes through with its status and message.
    with pytest.raises(openai.RateLimitError) as e:
        c.chat.completions.create(model="mock/error-429", messages=[{"role": "user", "content": "x"}])
    assert "mock upstream failure 429" in e.value.message
    # Unreachable upstream: 502 naming the provider.
    gateway.add_provider("down", "http://127.0.0.1:9/v1", "sk-x", ["m"])
    with pytest.raises(openai.APIStatusError) as e:
        c.chat.completions.create(model="down/m", messages=[{"role": "user", "content": "x"}])
    assert e.value.status_code == 502
    assert "could not reach provider" in e.value.message


def test_key_lives_in_the_real_keychain_not_on_disk(gateway, mock, data_dir):
    status, health = gateway.api("GET", "/api/health")
    assert health["keychain"] == {"backend": "secret-service", "persistent": True,
                                  "can_store_secrets": True, "detail": None}, health
    gateway.add_provider("mock", mock.base_url, KEY, ["mock-small"])
    service = f"dev.switchyard.e2e.{os.getpid()}"
    found = subprocess.run(
        ["secret-tool", "lookup", "service", service, "username", "provider:mock:account:default"],
        capture_output=True, text=True, timeout=10,
    )
    assert found.stdout.strip() == KEY, f"Secret Service lookup: {found.stdout!r} {found.stderr!r}"
    for f in data_dir.rglob("*"):
        if f.is_file():
            assert KEY.encode() not in f.read_bytes(), f"{f} contains the API key"
    # Deleting the provider removes its keychain entry.
    assert gateway.api("DELETE", "/api/providers/mock")[0] == 204
    gone = subprocess.run(["secret-tool", "lookup", "service", service, "username", "provider:mock:account:default"],
                          capture_output=True, text=True, timeout=10)
    assert gone.stdout.strip() == ""


def test_restart_keeps_providers_and_keys(data_dir, mock):
    g = Gateway(data_dir)
    g.add_provider("mock", mock.base_url, KEY, ["mock-small"])
    assert g.stop() == 0, "SIGTERM stops the gateway cleanly"
    assert "shutting down" in g.proc.output()
    g2 = Gateway(data_dir)
    try:
        r = client(g2).chat.completions.create(model="mock/mock-small", messages=[{"role": "user", "content": "again"}])
        assert r.choices[0].message.content.endswith("again")
    finally:
        g2.stop()


def test_without_keychain_keys_are_refused(data_dir, mock):
    g = Gateway(data_dir, env_overrides={"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus"})
    try:
        _, health = g.api("GET", "/api/health")
        assert health["keychain"]["can_store_secrets"] is False
        assert "--insecure-file-secrets" in health["keychain"]["detail"]
        assert "WARNING" in g.proc.output()
        status, body = g.api("POST", "/api/providers",
                             {"name": "mock", "base_url": mock.base_url, "api_key": KEY, "models": ["m"]})
        assert status == 503 and body["error"]["code"] == "keychain_unavailable", body
        assert g.api("GET", "/api/providers")[1] == []
    finally:
        g.stop()


def test_insecure_file_secrets_is_an_explicit_opt_in(data_dir, mock):
    g = Gateway(data_dir, extra_args=["--insecure-file-secrets"],
                env_overrides={"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus"})
    try:
        _, health = g.api("GET", "/api/health")
        assert health["keychain"]["backend"] == "insecure-file"
        g.add_provider("mock", mock.base_url, KEY, ["mock-small"])
        secrets = data_dir / "secrets.insecure.json"
        assert oct(secrets.stat().st_mode & 0o777) == "0o600"
        r = client(g).chat.completions.create(model="mock/mock-small", messages=[{"role": "user", "content": "f"}])
        assert r.choices[0].message.content.endswith("f")
    finally:
        g.stop()


def test_port_in_use_is_explained(gateway, tmp_path):
    p = subprocess.run([SWITCHYARD_BIN, "serve", "--port", str(gateway.port), "--data-dir", str(tmp_path / "d2")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert f"port {gateway.port}" in p.stderr and "already in use" in p.stderr, p.stderr


def test_cli_help():
    out = subprocess.run([SWITCHYARD_BIN, "--help"], capture_output=True, text=True, timeout=10).stdout
    assert "serve" in out
    out = subprocess.run([SWITCHYARD_BIN, "serve", "--help"], capture_output=True, text=True, timeout=10).stdout
    for flag in ("--port", "--host", "--data-dir", "--insecure-file-secrets"):
        assert flag in out
    assert os.access(MOCK_BIN, os.X_OK) and shutil.which("secret-tool")


def test_embeddings(gateway, mock):
    gateway.add_provider("mock", mock.base_url, KEY, ["embed-small"])
    r = client(gateway).embeddings.create(model="mock/embed-small", input=["one", "three"])
    assert [d.index for d in r.data] == [0, 1] and len(r.data[0].embedding) == 8
    seen = mock.requests()[-1]
    assert seen["path"] == "/v1/embeddings" and seen["body"]["model"] == "embed-small"
    assert seen["headers"]["authorization"] == f"Bearer {KEY}"
