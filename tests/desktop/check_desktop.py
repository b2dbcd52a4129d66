#!/usr/bin/python3
"""End-to-end checks of the Switchyard desktop app under Xvfb (started by tests/desktop/run.sh).

Runs with Debian's /usr/bin/python3 (python3-dbus, python3-gi with Atspi) inside the test's
D-Bus session, after sni_watcher.py. It starts the app itself and checks, every wait bounded:

 1. the gateway answers GET /health on $SWITCHYARD_PORT;
 2. an X window titled "Switchyard" exists and the dashboard text is really rendered (read back
    through the accessibility tree), the screenshot ARTIFACTS/desktop.png is not blank;
 3. the tray registered; its DBusMenu has the status row, "Refresh quotas", "Open dashboard",
    "Configure tools" (Claude Code, Codex, Gemini CLI, OpenCode), "Copy base URL", "Copy API key",
    "Start at login", "Quit", and an account row after POST /api/providers;
 3b. combos: two combos created and one set active over the HTTP API appear as check items with
    exactly the active one toggled; clicking the other through DBusMenu `Event` makes it the
    gateway's active combo (GET /api/combos/active) and moves the check mark; clicking the active
    one keeps it checked;
 3c. quota: a fake upstream answering with x-ratelimit-* headers (85 % of requests used, reset in
    2h 13m) yields the row "🟡 fake (default) · req 85% · resets in 2h 13m" and a quota
    notification (80 % crossed while running);
 3d. "Configure tools ▸ Claude Code" writes $HOME/.claude/settings.json pointing at the gateway,
    checks the item and shows "⚠ Restart Claude Code to apply";
 3e. failover: a combo [dead acme/m1, fake/m1] answers from fake/m1 and raises one failover
    notification ("Switchyard switched to fake/m1"); a second failover within 10 min does not;
 3f. "Pause gateway" over DBusMenu: /v1/chat/completions gets 503 `gateway_paused`, the item
    reads "Resume gateway", the status row says "paused", GET /api/settings has paused=true;
    "Resume gateway" undoes all of it (requests are no longer refused as paused);
 4. clicking "Start at login" writes $XDG_CONFIG_HOME/autostart/*.desktop (toggle-state 1), a
    second click removes it (toggle-state 0);
 5. a second launch exits quickly and the first keeps running;
 6. closing the window (WM_DELETE_WINDOW) hides it, the gateway keeps answering, and
    "Open dashboard" shows it again;
 6b. light mode: the check item "Light mode (free memory when closed)" is stored in
    $XDG_CONFIG_HOME/dev.switchyard.desktop/desktop.json; with it on, closing the window destroys
    it (no X window left) and the app's WebKitWebProcess children go away while the gateway keeps
    answering; "Open dashboard" recreates the window with the dashboard rendered;
 7. "Quit" exits with code 0 within seconds and the port stops answering;
 8. `--hidden` (what autostart runs) starts without a visible window, "Open dashboard" shows it
    (light mode is still on from 6b: it starts with no window at all and creates one);
 9. with the port already taken, the app does not crash: it explains the problem in the window,
    on stderr and in the tray status row, and still quits cleanly;
10. without a tray host (no StatusNotifierWatcher on its session bus) even `--hidden` shows the
    window, and closing the window quits (exit code 0).
"""

import argparse
import ctypes
import ctypes.util
import glob
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import dbus
import gi

gi.require_version("Atspi", "2.0")
from gi.repository import Atspi  # noqa: E402

TITLE = "Switchyard"
T0 = time.monotonic()


class CheckFailed(Exception):
    pass


def log(msg):
    print(f"[check {time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def wait_until(what, timeout, fn, interval=0.25):
    """Polls fn() until it returns a truthy value; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = fn()
            if value:
                return value
        except CheckFailed:
            raise
        except Exception as e:  # noqa: BLE001 - report the last error on timeout
            last_error = e
        if time.monotonic() >= deadline:
            extra = f" (last error: {last_error!r})" if last_error else ""
            raise CheckFailed(f"timed out after {timeout:.0f} s waiting for {what}{extra}")
        time.sleep(interval)


def check(cond, msg):
    if not cond:
        raise CheckFailed(msg)


# ---------------------------------------------------------------- processes


class App:
    def __init__(self, binary, env, log_path, args=()):
        self.log_path = log_path
        self.log_file = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [binary, *args], env=env, stdout=self.log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def require_alive(self):
        if not self.alive():
            raise CheckFailed(f"the app (pid {self.pid}) exited unexpectedly with code {self.proc.returncode}")

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def output(self):
        self.log_file.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.alive():
            self.proc.terminate()
            if self.wait_exit(5) is None:
                self.proc.kill()
                self.proc.wait(5)
        self.log_file.close()


# ---------------------------------------------------------------- HTTP


def http(method, url, body=None, headers=None, timeout=5):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def health_ok(port):
    status, body = http("GET", f"http://127.0.0.1:{port}/health", timeout=2)
    return status == 200 and json.loads(body).get("status") == "ok"


def port_closed(port):
    with socket.socket() as s:
        s.settimeout(1)
        try:
            s.connect(("127.0.0.1", port))
        except (ConnectionRefusedError, socket.timeout, OSError):
            return True
    return False


class FakeUpstream:
    """An OpenAI-style upstream whose responses carry x-ratelimit-* quota headers."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                length = int(self.headers.get("Content-Length") or 0)
                req = json.loads(self.rfile.read(length) or b"{}")
                body = json.dumps({
                    "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                    "model": req.get("model", "m1"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": "hello from fake"}}],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-ratelimit-limit-requests", "100")
                self.send_header("x-ratelimit-remaining-requests", "15")
                self.send_header("x-ratelimit-reset-requests", "2h13m0s")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def web_processes(pid):
    """PIDs of WebKitWebProcess descendants of `pid` (directly or through a bwrap sandbox)."""
    parent, comm = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
            with open(f"/proc/{d}/comm") as f:
                comm[int(d)] = f.read().strip()
        except OSError:
            continue
        # the command may contain spaces/parentheses: fields after the last ')'
        parent[int(d)] = int(stat.rsplit(")", 1)[1].split()[1])

    def descends(p):
        for _ in range(64):
            p = parent.get(p)
            if p is None or p <= 1:
                return False
            if p == pid:
                return True
        return False

    return sorted(p for p, c in comm.items() if c.startswith("WebKitWebProces") and descends(p))


def rss_kib(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- X11


def x_windows(visible_only):
    args = ["xdotool", "search"] + (["--onlyvisible"] if visible_only else []) + ["--name", f"^{TITLE}$"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=10)
    return [int(w) for w in r.stdout.split()]


def send_wm_delete(window_id):
    """Sends WM_DELETE_WINDOW, what a window manager does when the user clicks the close button."""
    x = ctypes.cdll.LoadLibrary(ctypes.util.find_library("X11"))
    x.XOpenDisplay.restype = ctypes.c_void_p
    x.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x.XInternAtom.restype = ctypes.c_ulong
    x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    x.XFlush.argtypes = [ctypes.c_void_p]
    x.XCloseDisplay.argtypes = [ctypes.c_void_p]

    class XClientMessageEvent(ctypes.Structure):
        _fields_ = [
            ("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
            ("display", ctypes.c_void_p), ("window", ctypes.c_ulong),
            ("message_type", ctypes.c_ulong), ("format", ctypes.c_int), ("data", ctypes.c_long * 5),
        ]

    class XEvent(ctypes.Union):
        _fields_ = [("xclient", XClientMessageEvent), ("pad", ctypes.c_long * 24)]

    dpy = x.XOpenDisplay(None)
    check(dpy, "cannot open the X display")
    try:
        ev = XEvent()
        ev.xclient.type = 33  # ClientMessage
        ev.xclient.window = window_id
        ev.xclient.message_type = x.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
        ev.xclient.format = 32
        ev.xclient.data[0] = x.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)
        ev.xclient.data[1] = 0  # CurrentTime
        check(x.XSendEvent(dpy, window_id, 0, 0, ctypes.byref(ev)) != 0, "XSendEvent failed")
        x.XFlush(dpy)
    finally:
        x.XCloseDisplay(dpy)


def screenshot(path):
    subprocess.run(["import", "-window", "root", path], check=True, timeout=30, capture_output=True)
    out = subprocess.run(
        ["convert", path, "-format", "%k %[fx:standard_deviation]", "info:"],
        check=True, timeout=30, capture_output=True, text=True,
    ).stdout.split()
    return int(out[0]), float(out[1])


# ---------------------------------------------------------------- accessibility (rendered text)


def rendered_text(pid):
    """Headings and text of the web document shown by process `pid`, via AT-SPI."""

    def walk(node, depth, headings, texts):
        if node is None or depth > 60:
            return
        role = node.get_role_name()
        if role == "heading":
            headings.append(node.get_name() or "")
        try:
            n = Atspi.Text.get_character_count(node)
            if n:
                texts.append(Atspi.Text.get_text(node, 0, min(n, 500)))
        except Exception:  # noqa: BLE001 - not a text node
            pass
        for i in range(node.get_child_count()):
            walk(node.get_child_at_index(i), depth + 1, headings, texts)

    def find_document(node, depth=0):
        if node is None or depth > 30:
            return None
        if node.get_role_name() == "document web":
            return node
        for i in range(node.get_child_count()):
            found = find_document(node.get_child_at_index(i), depth + 1)
            if found is not None:
                return found
        return None

    desktop = Atspi.get_desktop(0)
    for i in range(desktop.get_child_count()):
        app = desktop.get_child_at_index(i)
        if app is None or app.get_process_id() != pid:
            continue
        doc = find_document(app)
        if doc is None:
            return None
        headings, texts = [], []
        walk(doc, 0, headings, texts)
        return {"title": doc.get_name() or "", "headings": headings, "text": " ".join(texts)}
    return None


def wait_rendered(app, what, timeout, must_contain=None):
    def ready():
        app.require_alive()
        r = rendered_text(app.pid)
        if not r or not r["headings"] or len(r["text"]) < 40:
            return None
        if must_contain and must_contain not in (r["text"] + " " + " ".join(r["headings"])):
            return None
        return r

    return wait_until(what, timeout, ready, interval=0.5)


# ---------------------------------------------------------------- tray (StatusNotifierItem + DBusMenu)


class Tray:
    def __init__(self, bus, pid):
        self.bus = bus
        self.pid = pid
        self.name, self.path = wait_until("the tray icon to register with the StatusNotifierWatcher", 30, self._find)

    def _find(self):
        watcher = self.bus.get_object("org.kde.StatusNotifierWatcher", "/StatusNotifierWatcher")
        items = watcher.Get(
            "org.kde.StatusNotifierWatcher", "RegisteredStatusNotifierItems",
            dbus_interface=dbus.PROPERTIES_IFACE,
        )
        dbus_iface = dbus.Interface(
            self.bus.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus"), "org.freedesktop.DBus"
        )
        for item in items:
            name, path = str(item).split("/", 1)
            try:
                if int(dbus_iface.GetConnectionUnixProcessID(name)) == self.pid:
                    return name, "/" + path
            except dbus.DBusException:
                continue
        return None

    def props(self):
        obj = self.bus.get_object(self.name, self.path)
        return obj.GetAll("org.kde.StatusNotifierItem", dbus_interface=dbus.PROPERTIES_IFACE)

    def _menu(self):
        return self.bus.get_object(self.name, str(self.props()["Menu"]))

    def rows(self):
        """Flattened menu rows: dicts with id, label, enabled, type, toggle-type, toggle-state."""
        _rev, root = self._menu().GetLayout(
            0, -1, dbus.Array([], signature="s"), dbus_interface="com.canonical.dbusmenu"
        )
        out = []

        def flatten(node):
            node_id, props, children = node
            p = {str(k): (v.real if isinstance(v, (dbus.Int32, dbus.Boolean)) else str(v)) for k, v in props.items()}
            if node_id != 0:
                out.append({
                    "id": int(node_id),
                    "label": p.get("label", ""),
                    "enabled": bool(p.get("enabled", True)),
                    "visible": bool(p.get("visible", True)),
                    "type": p.get("type", "standard"),
                    "toggle-type": p.get("toggle-type", ""),
                    "toggle-state": p.get("toggle-state", None),
                })
            for child in children:
                flatten(child)

        flatten(root)
        return [r for r in out if r["visible"]]

    def row(self, label):
        matches = [r for r in self.rows() if r["label"] == label]
        return matches[0] if matches else None

    def click(self, label):
        row = self.row(label)
        check(row is not None, f"tray menu has no row {label!r}: {self.labels()}")
        self._menu().Event(
            dbus.Int32(row["id"]), "clicked", dbus.Int32(0, variant_level=1),
            dbus.UInt32(int(time.time())), dbus_interface="com.canonical.dbusmenu",
        )

    def labels(self):
        return [r["label"] for r in self.rows() if r["type"] != "separator"]


# ---------------------------------------------------------------- scenarios


def main_scenario(args, env, bus):
    port = int(env["SWITCHYARD_PORT"])
    art = args.artifacts
    autostart_dir = os.path.join(env["XDG_CONFIG_HOME"], "autostart")
    app = App(args.app, env, os.path.join(art, "desktop-app.log"))
    second = None
    try:
        log(f"started {args.app} (pid {app.pid}) on port {port}")

        # 1. gateway
        def up():
            app.require_alive()
            return health_ok(port)

        wait_until(f"GET /health on port {port}", 90, up)
        log("ok: gateway answers /health")

        # 2. window, rendered dashboard, screenshot
        wait_until(f"an X window titled {TITLE!r}", 30, lambda: app.require_alive() or x_windows(visible_only=True))
        log(f"ok: X window {TITLE!r} is mapped")
        page = wait_rendered(app, "the dashboard text to be rendered in the window", 60)
        with open(os.path.join(art, "desktop-a11y.json"), "w") as f:
            json.dump(page, f, indent=2)
        log(f"ok: dashboard rendered: headings {page['headings'][:6]}")
        shot = os.path.join(art, "desktop.png")
        # The text is in the accessibility tree before the first paint lands (seen under load):
        # retake the screenshot for a few seconds before calling it blank.
        deadline = time.monotonic() + 10
        while True:
            time.sleep(1)
            colours, stddev = screenshot(shot)
            if (colours >= 64 and stddev >= 0.05) or time.monotonic() >= deadline:
                break
        check(colours >= 64 and stddev >= 0.05, f"screenshot looks blank: {colours} colours, stddev {stddev:.3f}")
        log(f"ok: screenshot {shot}: {colours} colours, stddev {stddev:.3f}")

        # 3. tray
        tray = Tray(bus, app.pid)
        props = tray.props()
        log(f"ok: tray registered as {tray.name}{tray.path} (Id {props.get('Id')!s}, Status {props.get('Status')!s})")
        labels = wait_until("the tray menu layout", 10, tray.labels)
        status = "Switchyard · no combo active"
        tools = ("Claude Code", "Codex", "Gemini CLI", "OpenCode")
        for want in (status, "No combos yet", "No accounts yet", "Refresh quotas", "Open dashboard",
                     "Configure tools", *tools, "Copy base URL", "Copy API key", "Start at login", "Quit"):
            check(want in labels, f"tray menu lacks {want!r}: {labels}")
        check(not tray.row(status)["enabled"], "the status row must be disabled")
        check(tray.row("Start at login")["toggle-type"] == "checkmark", "'Start at login' is not a check item")
        for t in tools:
            r = tray.row(t)
            check(r["toggle-type"] == "checkmark" and r["toggle-state"] == 0,
                  f"tool item {t!r} should be an unchecked check item in a fresh HOME: {r}")
        log(f"ok: tray menu {labels}")

        admin = {"X-Switchyard-Admin": "1"}
        provider = {
            "name": "acme", "base_url": "http://127.0.0.1:9/v1", "format": "openai",
            "api_key": "sk-desktop-test-0001", "models": ["m1", "m2"],
        }
        code, body = http("POST", f"http://127.0.0.1:{port}/api/providers", provider, admin)
        check(code == 201, f"POST /api/providers returned {code}: {body} (503 = keychain not unlocked in this session)")
        row = wait_until(
            "the account row in the tray menu", 10,
            lambda: tray.row("acme (default) · no quota data yet"),
        )
        check(not row["enabled"], "account rows must be disabled")
        check("No accounts yet" not in tray.labels(), "'No accounts yet' is still shown")
        log(f"ok: account row {row['label']!r} appeared after POST /api/providers")

        # 3b. combos: check items, exactly one toggled; a DBusMenu click switches routing
        for name, model in (("always-on", "acme/m1"), ("cheap", "acme/m2")):
            code, body = http("POST", f"http://127.0.0.1:{port}/api/combos",
                              {"name": name, "targets": [model]}, admin)
            check(code in (200, 201), f"POST /api/combos {name} returned {code}: {body}")
        code, body = http("PUT", f"http://127.0.0.1:{port}/api/combos/active", {"name": "always-on"}, admin)
        check(code == 200, f"PUT /api/combos/active returned {code}: {body}")

        def combo_states():
            rows = {r["label"]: r for r in tray.rows() if r["label"] in ("always-on", "cheap")}
            if len(rows) != 2:
                return None
            for r in rows.values():
                check(r["toggle-type"] == "checkmark", f"combo row is not a check item: {r}")
                check(r["enabled"], f"combo row is disabled: {r}")
            return {k: v["toggle-state"] for k, v in rows.items()}

        wait_until("both combos in the tray, 'always-on' checked", 10,
                   lambda: combo_states() == {"always-on": 1, "cheap": 0}
                   and tray.row("Switchyard · combo: always-on"))
        check("No combos yet" not in tray.labels(), "'No combos yet' is still shown")
        log(f"ok: combos in the tray: {combo_states()}, status row 'Switchyard · combo: always-on'")

        tray.click("cheap")

        def active_is(name):
            code, body = http("GET", f"http://127.0.0.1:{port}/api/combos/active")
            return code == 200 and json.loads(body).get("name") == name

        wait_until("GET /api/combos/active to name 'cheap' after the tray click", 10, lambda: active_is("cheap"))
        wait_until("the check mark to move to 'cheap'", 10,
                   lambda: combo_states() == {"always-on": 0, "cheap": 1}
                   and tray.row("Switchyard · combo: cheap"))
        log("ok: clicking 'cheap' in the tray made it the active combo; the check mark moved")
        tray.click("cheap")  # the active one again: it must stay the only checked item
        time.sleep(1)
        wait_until("'cheap' to stay checked after clicking it again", 5,
                   lambda: combo_states() == {"always-on": 0, "cheap": 1})
        check(active_is("cheap"), "clicking the active combo changed the active combo")
        log("ok: clicking the active combo keeps it the only checked one")

        # 3c. quota row from passive headers of a proxied response
        fake = FakeUpstream()
        try:
            code, body = http("POST", f"http://127.0.0.1:{port}/api/providers", {
                "name": "fake", "base_url": f"http://127.0.0.1:{fake.port}/v1", "format": "openai",
                "api_key": "sk-fake-0001", "models": ["m1"],
            }, admin)
            check(code == 201, f"POST /api/providers (fake) returned {code}: {body}")
            code, body = http("POST", f"http://127.0.0.1:{port}/v1/chat/completions", {
                "model": "fake/m1", "messages": [{"role": "user", "content": "hi"}],
            }, timeout=15)
            check(code == 200, f"chat completion through the gateway returned {code}: {body}")

            # 3e. failover notification, rate limited per combo
            code, body = http("POST", f"http://127.0.0.1:{port}/api/combos",
                              {"name": "fallback", "targets": ["acme/m1", "fake/m1"]}, admin)
            check(code in (200, 201), f"POST /api/combos fallback returned {code}: {body}")
            code, body = http("POST", f"http://127.0.0.1:{port}/v1/chat/completions", {
                "model": "fallback", "messages": [{"role": "user", "content": "hi"}],
            }, timeout=30)
            check(code == 200, f"the failover combo returned {code}: {body}")
            wait_until("the failover notification in the app log", 10,
                       lambda: "failover notification" in app.output())
            line = next(ln for ln in app.output().splitlines() if "failover notification" in ln)
            check("Switchyard switched to fake/m1" in line and "acme/m1" in line,
                  f"unexpected failover notification: {line}")
            log(f"ok: failover raised a notification: {line.split('INFO', 1)[-1].strip()}")
            code, body = http("POST", f"http://127.0.0.1:{port}/v1/chat/completions", {
                "model": "fallback", "messages": [{"role": "user", "content": "hi again"}],
            }, timeout=30)
            check(code == 200, f"the failover combo returned {code} the second time: {body}")
            time.sleep(1.5)
            n = app.output().count("failover notification")
            check(n == 1, f"{n} failover notifications within 10 min for one combo (want 1)")
            log("ok: a second failover of the same combo within 10 min is not announced again")
        finally:
            fake.close()
        quota_re = re.compile(r"^🟡 fake \(default\) · req 85% · resets in 2h 1[23]m$")
        row = wait_until("the quota row of the fake account", 10,
                         lambda: next((r for r in tray.rows() if quota_re.match(r["label"])), None))
        log(f"ok: quota row {row['label']!r}")
        wait_until("the quota notification in the app log", 10,
                   lambda: "quota notification" in app.output() and "req window at 80%" in app.output())
        log("ok: crossing 80 % while running raised a quota notification")

        # 3d. configure a coding CLI from the tray
        settings = os.path.join(env["HOME"], ".claude", "settings.json")
        check(not os.path.exists(settings), f"{settings} exists before the click")
        tray.click("Claude Code")
        wait_until(f"{settings} to be written", 10, lambda: os.path.exists(settings))
        with open(settings) as f:
            claude = json.load(f)
        check(claude.get("env", {}).get("ANTHROPIC_BASE_URL", "").startswith(f"http://127.0.0.1:{port}"),
              f"Claude Code settings do not point at the gateway: {claude}")
        wait_until("'Claude Code' to be checked", 10, lambda: tray.row("Claude Code")["toggle-state"] == 1)
        wait_until("the restart warning row", 10, lambda: tray.row("⚠ Restart Claude Code to apply"))
        check(tray.row("Codex")["toggle-state"] == 0, "configuring Claude Code checked Codex")
        log(f"ok: 'Configure tools ▸ Claude Code' wrote {settings}; item checked; restart warning shown")

        # 3f. pause / resume from the tray
        def chat_error():
            code, body = http("POST", f"http://127.0.0.1:{port}/v1/chat/completions", {
                "model": "acme/m1", "messages": [{"role": "user", "content": "hi"}],
            }, timeout=30)
            try:
                err = json.loads(body).get("error") or {}
            except ValueError:
                err = {}
            return code, err.get("code") if isinstance(err, dict) else None

        def settings_paused():
            code, body = http("GET", f"http://127.0.0.1:{port}/api/settings")
            check(code == 200, f"GET /api/settings returned {code}: {body}")
            return json.loads(body).get("paused")

        check(tray.row("Pause gateway") is not None, f"no 'Pause gateway' item: {tray.labels()}")
        check(tray.row("Resume gateway") is None, "'Resume gateway' shown while running")
        check(settings_paused() is False, "the gateway is paused before the click")
        tray.click("Pause gateway")
        wait_until("the item to read 'Resume gateway'", 10, lambda: tray.row("Resume gateway"))
        check(tray.row("Pause gateway") is None, "'Pause gateway' still shown after pausing")
        status_row = tray.labels()[0]
        check(status_row.startswith("Switchyard · paused"), f"status row {status_row!r} does not say paused")
        check(settings_paused() is True, "GET /api/settings does not say paused after the click")
        code, err = chat_error()
        check(code == 503 and err == "gateway_paused",
              f"a request while paused got {code} {err!r} (want 503 gateway_paused)")
        log(f"ok: 'Pause gateway': requests get 503 gateway_paused; item 'Resume gateway'; status {status_row!r}")
        tray.click("Resume gateway")
        wait_until("the item to read 'Pause gateway' again", 10, lambda: tray.row("Pause gateway"))
        check(settings_paused() is False, "GET /api/settings still says paused after resuming")
        status_row = tray.labels()[0]
        check("paused" not in status_row, f"status row {status_row!r} still says paused")
        code, err = chat_error()
        check(err != "gateway_paused", f"a request after resuming still got {code} {err!r}")
        log(f"ok: 'Resume gateway': requests are served again (dead provider answered {code} {err!r})")

        with open(os.path.join(art, "desktop-tray-menu.json"), "w") as f:
            json.dump(tray.rows(), f, indent=2, ensure_ascii=False)

        # 4. start at login
        check(not glob.glob(os.path.join(autostart_dir, "*.desktop")), "autostart entry exists before the test")
        check(tray.row("Start at login")["toggle-state"] == 0, "'Start at login' is checked at first start")
        tray.click("Start at login")
        entries = wait_until("an autostart .desktop file", 10, lambda: glob.glob(os.path.join(autostart_dir, "*.desktop")))
        with open(entries[0]) as f:
            desktop_entry = f.read()
        check(args.app in desktop_entry and "--hidden" in desktop_entry,
              f"autostart entry does not start {args.app} --hidden:\n{desktop_entry}")
        wait_until("'Start at login' toggle-state 1", 5, lambda: tray.row("Start at login")["toggle-state"] == 1)
        log(f"ok: 'Start at login' on: {entries[0]}")
        tray.click("Start at login")
        wait_until("the autostart file to be removed", 10, lambda: not glob.glob(os.path.join(autostart_dir, "*.desktop")))
        wait_until("'Start at login' toggle-state 0", 5, lambda: tray.row("Start at login")["toggle-state"] == 0)
        log("ok: 'Start at login' off: autostart file removed")

        # 5. single instance
        t = time.monotonic()
        second = App(args.app, env, os.path.join(art, "desktop-second-launch.log"))
        rc2 = second.wait_exit(20)
        check(rc2 is not None, "the second launch is still running after 20 s")
        check(" in use" not in second.output(), "the second launch tried to start its own gateway")
        app.require_alive()
        check(health_ok(port), "the first instance stopped answering after a second launch")
        log(f"ok: second launch exited with code {rc2} after {time.monotonic() - t:.1f} s; first instance still serving")

        # 6. close = hide
        windows = x_windows(visible_only=True)
        check(windows, "no visible window before closing")
        for w in windows:
            send_wm_delete(w)
        wait_until("the window to be hidden after WM_DELETE_WINDOW", 10, lambda: not x_windows(visible_only=True))
        time.sleep(1)
        app.require_alive()
        check(health_ok(port), "the gateway stopped answering after the window was closed")
        log("ok: closing the window hid it; the gateway keeps answering")
        tray.click("Open dashboard")
        wait_until("the window to reappear after 'Open dashboard'", 10, lambda: x_windows(visible_only=True))
        log("ok: 'Open dashboard' shows the window again")

        # 6b. light mode
        light = "Light mode (free memory when closed)"
        light_file = os.path.join(env["XDG_CONFIG_HOME"], "dev.switchyard.desktop", "desktop.json")
        check(tray.row(light) is not None, f"no {light!r} item: {tray.labels()}")
        check(tray.row(light)["toggle-type"] == "checkmark" and tray.row(light)["toggle-state"] == 0,
              f"{light!r} should be an unchecked check item by default: {tray.row(light)}")
        before = wait_until("WebKitWebProcess children of the app", 10, lambda: web_processes(app.pid))
        rss_before = rss_kib([app.pid, *before])
        tray.click(light)
        wait_until(f"{light!r} toggle-state 1", 5, lambda: tray.row(light)["toggle-state"] == 1)

        def stored_light():
            with open(light_file) as f:
                return json.load(f).get("light_mode")

        wait_until(f"{light_file} to store light_mode=true", 5, lambda: stored_light() is True)
        log(f"ok: light mode on, stored in {light_file}")
        for w in x_windows(visible_only=True):
            send_wm_delete(w)
        wait_until("the window to be destroyed (not just hidden) in light mode", 10,
                   lambda: not x_windows(visible_only=False))
        wait_until(f"the app's WebKitWebProcess count to drop below {len(before)}", 20,
                   lambda: len(web_processes(app.pid)) < len(before), interval=0.5)
        after = web_processes(app.pid)
        check(len(after) < len(before), f"web processes {before} -> {after}: no drop")
        app.require_alive()
        check(health_ok(port), "the gateway stopped answering after the light-mode close")
        check("light mode: window closed, webview destroyed" in app.output(), "no light-mode log line")
        rss_after = rss_kib([app.pid, *after])
        log(f"ok: light mode close destroyed the window; WebKitWebProcess {len(before)} -> {len(after)}; "
            f"RSS app+web {rss_before // 1024} MiB -> {rss_after // 1024} MiB; gateway still answering")
        tray.click("Open dashboard")
        wait_until("a window after 'Open dashboard' in light mode", 15, lambda: x_windows(visible_only=True))
        page = wait_rendered(app, "the dashboard rendered in the recreated window", 60)
        check(web_processes(app.pid), "no web process after recreating the window")
        time.sleep(1)
        colours, stddev = screenshot(os.path.join(art, "desktop-light-reopened.png"))
        check(colours >= 64 and stddev >= 0.05, f"recreated window screenshot looks blank: {colours} colours")
        log(f"ok: 'Open dashboard' recreated the window: headings {page['headings'][:4]}; "
            f"{len(web_processes(app.pid))} web process(es)")

        # 7. quit
        t = time.monotonic()
        tray.click("Quit")
        rc = app.wait_exit(15)
        check(rc is not None, "the app did not exit within 15 s of 'Quit'")
        check(rc == 0, f"the app exited with code {rc} after 'Quit' (want 0)")
        wait_until(f"port {port} to stop answering", 5, lambda: port_closed(port))
        log(f"ok: 'Quit' exited with code 0 after {time.monotonic() - t:.1f} s; port {port} closed")
    except BaseException:
        print(f"---- app stderr ({app.log_path}) ----\n{app.output()[-20000:]}\n---- end of app stderr ----", flush=True)
        raise
    finally:
        app.stop()
        if second is not None:
            second.stop()


def port_in_use_scenario(args, env, bus):
    art = args.artifacts
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    env = dict(env, SWITCHYARD_PORT=str(port), SWITCHYARD_DATA_DIR=env["SWITCHYARD_DATA_DIR"] + "-port-in-use")
    app = App(args.app, env, os.path.join(art, "desktop-port-in-use-app.log"))
    try:
        log(f"port-in-use: port {port} held by the test; started the app (pid {app.pid})")
        wait_until("the port-in-use message on stderr", 60, lambda: app.require_alive() or f"{port}" in app.output() and "in use" in app.output())
        log("ok: port-in-use message printed on stderr")
        wait_until(f"an X window titled {TITLE!r}", 30, lambda: app.require_alive() or x_windows(visible_only=True))
        page = wait_rendered(app, "the explanation page", 60, must_contain="not running")
        log(f"ok: window shows {page['headings']}")
        time.sleep(1)
        colours, stddev = screenshot(os.path.join(art, "desktop-port-in-use.png"))
        check(colours >= 16 and stddev >= 0.02, f"port-in-use screenshot looks blank: {colours} colours")
        tray = Tray(bus, app.pid)
        want = f"⚠ Port {port} in use — gateway not running"
        labels = wait_until("the tray menu layout", 10, tray.labels)
        check(labels and labels[0] == want, f"tray status row is {labels[:1]}, want {want!r}")
        time.sleep(2)
        app.require_alive()
        log(f"ok: tray status row {want!r}; the app keeps running")
        tray.click("Quit")
        rc = app.wait_exit(15)
        check(rc == 0, f"'Quit' in the port-in-use state exited with {rc} (want 0)")
        log("ok: 'Quit' exits with code 0 in the port-in-use state")
    except BaseException:
        print(f"---- app stderr ({app.log_path}) ----\n{app.output()[-20000:]}\n---- end of app stderr ----", flush=True)
        raise
    finally:
        app.stop()
        blocker.close()


def hidden_start_scenario(args, env, bus):
    """What autostart runs: `--hidden` starts in the tray only; "Open dashboard" shows the window."""
    art = args.artifacts
    port = free_port()
    env = dict(env, SWITCHYARD_PORT=str(port), SWITCHYARD_DATA_DIR=env["SWITCHYARD_DATA_DIR"] + "-hidden")
    app = App(args.app, env, os.path.join(art, "desktop-hidden-app.log"), args=["--hidden"])
    try:
        log(f"hidden start: started with --hidden (pid {app.pid}) on port {port}")
        wait_until(f"GET /health on port {port}", 90, lambda: app.require_alive() or health_ok(port))
        tray = Tray(bus, app.pid)
        wait_until("the tray menu layout", 10, tray.labels)
        time.sleep(1)
        check(not x_windows(visible_only=True), "--hidden showed a window")
        log("ok: --hidden: gateway up, tray registered, no visible window")
        # light mode was left on by the main scenario: stored, so it holds after a restart
        light = tray.row("Light mode (free memory when closed)")
        check(light is not None and light["toggle-state"] == 1, f"light mode not restored from desktop.json: {light}")
        check("light mode: starting without a window" in app.output() and not x_windows(visible_only=False),
              "light mode + --hidden created a window at start")
        check(not web_processes(app.pid), f"light mode + --hidden started web processes {web_processes(app.pid)}")
        log("ok: light mode restored after a restart; --hidden started with no window and no web process")
        tray.click("Open dashboard")
        wait_until("the window to appear after 'Open dashboard'", 15, lambda: x_windows(visible_only=True))
        wait_rendered(app, "the dashboard text after 'Open dashboard'", 60)
        log("ok: 'Open dashboard' shows the rendered dashboard")
        tray.click("Quit")
        rc = app.wait_exit(15)
        check(rc == 0, f"'Quit' after a hidden start exited with {rc} (want 0)")
        wait_until(f"port {port} to stop answering", 5, lambda: port_closed(port))
        log("ok: 'Quit' exits with code 0")
    except BaseException:
        print(f"---- app stderr ({app.log_path}) ----\n{app.output()[-20000:]}\n---- end of app stderr ----", flush=True)
        raise
    finally:
        app.stop()


def no_tray_host_scenario(args, env):
    """No StatusNotifierWatcher on the app's session bus: the window is the UI; close quits."""
    art = args.artifacts
    port = free_port()
    env = dict(env, SWITCHYARD_PORT=str(port), SWITCHYARD_DATA_DIR=env["SWITCHYARD_DATA_DIR"] + "-no-tray")
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    # A private session bus without the watcher (dbus-run-session is the process we wait for).
    app = App("dbus-run-session", env, os.path.join(art, "desktop-no-tray-app.log"),
              args=["--", args.app, "--hidden"])
    try:
        log(f"no tray host: started with --hidden in a bus without a watcher on port {port}")
        wait_until(f"GET /health on port {port}", 90, lambda: app.require_alive() or health_ok(port))
        windows = wait_until("the window to be shown despite --hidden", 30,
                             lambda: app.require_alive() or x_windows(visible_only=True))
        check("no tray host" in app.output(), "the app did not report the missing tray host")
        log("ok: no tray host: the window is shown at start even with --hidden")
        for w in windows:
            send_wm_delete(w)
        rc = app.wait_exit(15)
        check(rc == 0, f"closing the window without a tray host exited with {rc} (want 0)")
        wait_until(f"port {port} to stop answering", 5, lambda: port_closed(port))
        log("ok: no tray host: closing the window quits with code 0")
    except BaseException:
        print(f"---- app stderr ({app.log_path}) ----\n{app.output()[-20000:]}\n---- end of app stderr ----", flush=True)
        raise
    finally:
        app.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", required=True)
    ap.add_argument("--artifacts", required=True)
    args = ap.parse_args()
    env = dict(os.environ)
    for var in ("DISPLAY", "HOME", "XDG_CONFIG_HOME", "SWITCHYARD_PORT", "SWITCHYARD_DATA_DIR", "DBUS_SESSION_BUS_ADDRESS"):
        check(env.get(var), f"{var} must be set (run this through tests/desktop/run.sh)")
    env.setdefault("RUST_LOG", "info")
    bus = dbus.SessionBus()
    try:
        main_scenario(args, env, bus)
        hidden_start_scenario(args, env, bus)
        port_in_use_scenario(args, env, bus)
        no_tray_host_scenario(args, env)
    except CheckFailed as e:
        log(f"FAILED: {e}")
        return 1
    log("all desktop checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
