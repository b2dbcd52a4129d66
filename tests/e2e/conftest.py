"""Fixtures that start the real `switchyard` and `mock-upstream` binaries on free loopback ports.

Binaries come from $SWITCHYARD_BIN / $MOCK_UPSTREAM_BIN (set by ./x), else the cargo target dir.
Run under tests/keyring-session.sh so the gateway has a real, unlocked Secret Service.
"""

import json
import os
import pathlib
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", pathlib.Path.home() / ".cache/switchyard/target"))
SWITCHYARD_BIN = os.environ.get("SWITCHYARD_BIN", str(TARGET / "debug/switchyard"))
MOCK_BIN = os.environ.get("MOCK_UPSTREAM_BIN", str(TARGET / "debug/mock-upstream"))
ARTIFACTS = pathlib.Path(os.environ.get("SWITCHYARD_ARTIFACTS", ROOT / "test-artifacts"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None, timeout=10):
    """A plain HTTP call; returns (status, parsed JSON or text)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw, status = r.read(), r.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


class Proc:
    """A child process with its output in a log file, shown when a test fails."""

    def __init__(self, name, args, env=None):
        self.name = name
        self.log = tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".log", delete=False)
        self.p = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def output(self):
        return pathlib.Path(self.log.name).read_text(errors="replace")

    def stop(self, timeout=10):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode


def wait_http(url, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.p.poll() is not None:
            raise AssertionError(f"{proc.name} exited with {proc.p.returncode}:\n{proc.output()}")
        try:
            status, _ = http("GET", url, timeout=1)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{proc.name} did not answer {url} within {timeout}s:\n{proc.output()}")


class Mock:
    def __init__(self, drip_ms=0, chunks=5, require_key=None):
        self.port = free_port()
        args = [MOCK_BIN, "--port", str(self.port), "--drip-ms", str(drip_ms), "--chunks", str(chunks)]
        if require_key:
            args += ["--require-key", require_key]
        self.proc = Proc("mock-upstream", args)
        self.url = f"http://127.0.0.1:{self.port}"
        wait_http(f"{self.url}/v1/models", self.proc)

    @property
    def base_url(self):
        return f"{self.url}/v1"

    def requests(self):
        return http("GET", f"{self.url}/_mock/requests")[1]


class Gateway:
    def __init__(self, data_dir, extra_args=(), env_overrides=None, port=None):
        self.port = port or free_port()
        self.data_dir = pathlib.Path(data_dir)
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        # Our own keychain service name, so tests never touch a real user's entries.
        env["SWITCHYARD_KEYCHAIN_SERVICE"] = f"dev.switchyard.e2e.{os.getpid()}"
        env.update(env_overrides or {})
        self.proc = Proc(
            "switchyard",
            [SWITCHYARD_BIN, "serve", "--port", str(self.port), "--data-dir", str(self.data_dir), *extra_args],
            env=env,
        )
        wait_http(f"{self.url}/health", self.proc)

    def api(self, method, path, body=None, admin=True):
        return http(method, self.url + path, body, {"X-Switchyard-Admin": "1"} if admin else None)

    def add_provider(self, name, base_url, key, models, format="openai"):
        status, body = self.api("POST", "/api/providers",
                                {"name": name, "base_url": base_url, "format": format, "api_key": key, "models": models})
        assert status == 201, (status, body, self.proc.output())
        return body

    def stop(self):
        return self.proc.stop()


@pytest.fixture
def mock():
    m = Mock(require_key="sk-e2e-upstream-key")
    yield m
    m.proc.stop()


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def gateway(data_dir):
    g = Gateway(data_dir)
    yield g
    g.stop()


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
