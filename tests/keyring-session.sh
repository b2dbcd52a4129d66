#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with a throwaway, unlocked GNOME Keyring, so the
# gateway and tests use a real Secret Service without touching the user's own keyring.
#   tests/keyring-session.sh <command> [args...]
set -euo pipefail
if [ -z "${SWITCHYARD_IN_KEYRING_SESSION:-}" ]; then
  exec env SWITCHYARD_IN_KEYRING_SESSION=1 dbus-run-session -- "$0" "$@"
fi
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
# A fresh keyring file every time, so the unlock password always matches.
export XDG_DATA_HOME="$scratch/data"
if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -w "${XDG_RUNTIME_DIR}" ]; then
  export XDG_RUNTIME_DIR="$scratch/run"
fi
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
eval "$(printf 'switchyard-ci' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
"$@"
