#!/usr/bin/env bash
# Desktop end-to-end test: the real app under Xvfb, in a private D-Bus session with an unlocked
# throw-away gnome-keyring and a StatusNotifierWatcher, checked by check_desktop.py.
#
#   tests/desktop/run.sh APP_BINARY ARTIFACT_DIR
#
# ARTIFACT_DIR receives desktop.png (screenshot), desktop-port-in-use.png, the app's logs
# (desktop-*.log), the tray menu and rendered page text as JSON; all names start with "desktop".
# Nothing is written to the real HOME or keyring.
# Needs: Xvfb, dbus-run-session, gnome-keyring-daemon, xdotool, ImageMagick, /usr/bin/python3 with
# python3-dbus + python3-gi (Atspi) — see build-and-test.md §2.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY=/usr/bin/python3 # Debian's python: the pyenv one on PATH has no dbus/gi modules

say() { printf '[desktop-test] %s\n' "$*"; }
die() {
  printf '[desktop-test] error: %s\n' "$*" >&2
  exit 2
}

# ---------------------------------------------------------------- inside the D-Bus session
if [ "${1:-}" = "--in-session" ]; then
  APP="$2"
  ART="$3"
  # Unlock a fresh keyring (XDG_DATA_HOME is a temp dir, so the password always matches).
  eval "$(printf 'ci' | gnome-keyring-daemon --unlock --components=secrets)"
  export GNOME_KEYRING_CONTROL
  "$PY" "$HERE/sni_watcher.py" >"$ART/desktop-sni-watcher.log" 2>&1 &
  WATCHER_PID=$!
  trap 'kill "$WATCHER_PID" 2>/dev/null || true; wait "$WATCHER_PID" 2>/dev/null || true' EXIT
  for _ in $(seq 1 50); do
    grep -q '^watcher ready' "$ART/desktop-sni-watcher.log" 2>/dev/null && break
    kill -0 "$WATCHER_PID" 2>/dev/null || die "sni_watcher.py exited: $(cat "$ART/desktop-sni-watcher.log")"
    sleep 0.2
  done
  grep -q '^watcher ready' "$ART/desktop-sni-watcher.log" || die "sni_watcher.py did not become ready in 10 s"
  rc=0
  "$PY" "$HERE/check_desktop.py" --app "$APP" --artifacts "$ART" || rc=$?
  if [ "$rc" -ne 0 ]; then
    say "watcher log:"
    sed 's/^/    /' "$ART/desktop-sni-watcher.log" >&2 || true
  fi
  exit "$rc"
fi

# ---------------------------------------------------------------- outside
[ $# -eq 2 ] || die "usage: $0 APP_BINARY ARTIFACT_DIR"
APP="$(readlink -f "$1")"
[ -x "$APP" ] || die "not an executable: $1"
mkdir -p "$2"
ART="$(cd "$2" && pwd)"
for tool in Xvfb dbus-run-session gnome-keyring-daemon xdotool import convert; do
  command -v "$tool" >/dev/null || die "$tool is not installed (see build-and-test.md §2)"
done
"$PY" -c 'import dbus, gi; gi.require_version("Atspi", "2.0")' 2>/dev/null ||
  die "$PY lacks python3-dbus / python3-gi (Atspi)"

WORK="$(mktemp -d -t switchyard-desktop.XXXXXX)"
XVFB_PID=""
cleanup() {
  local status=$?
  if [ -n "$XVFB_PID" ]; then
    kill "$XVFB_PID" 2>/dev/null || true
    wait "$XVFB_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT

# A free X display: no lock file, no socket; Xvfb itself refuses a taken one (then try the next).
DISPLAY_NUM=""
for n in $(seq 90 190); do
  [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ] && continue
  Xvfb ":$n" -screen 0 1280x800x24 -nolisten tcp >"$ART/desktop-xvfb.log" 2>&1 &
  XVFB_PID=$!
  for _ in $(seq 1 50); do
    [ -e "/tmp/.X11-unix/X$n" ] && break
    kill -0 "$XVFB_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$XVFB_PID" 2>/dev/null && [ -e "/tmp/.X11-unix/X$n" ]; then
    DISPLAY_NUM=$n
    break
  fi
  wait "$XVFB_PID" 2>/dev/null || true
  XVFB_PID=""
done
[ -n "$DISPLAY_NUM" ] || die "could not start Xvfb on any display :90-:190"

PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p "$WORK/home/.config" "$WORK/xdg-data" "$WORK/runtime" "$WORK/switchyard-data"
chmod 700 "$WORK/runtime"
say "app $APP"
say "Xvfb :$DISPLAY_NUM (pid $XVFB_PID), port $PORT, temp HOME $WORK/home, artifacts $ART"

start=$(date +%s)
rc=0
env -u DBUS_SESSION_BUS_ADDRESS -u XDG_CACHE_HOME -u WAYLAND_DISPLAY \
  DISPLAY=":$DISPLAY_NUM" \
  HOME="$WORK/home" \
  XDG_CONFIG_HOME="$WORK/home/.config" \
  XDG_DATA_HOME="$WORK/xdg-data" \
  XDG_RUNTIME_DIR="$WORK/runtime" \
  SWITCHYARD_DATA_DIR="$WORK/switchyard-data" \
  SWITCHYARD_PORT="$PORT" \
  GDK_BACKEND=x11 \
  timeout --kill-after=10 300 dbus-run-session -- "$0" --in-session "$APP" "$ART" || rc=$?
say "finished in $(($(date +%s) - start)) s with status $rc"
exit "$rc"
