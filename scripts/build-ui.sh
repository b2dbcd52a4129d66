#!/usr/bin/env bash
# Builds the Leptos dashboard (ui/) to ui/dist/: wasm32 release build + wasm-bindgen, no trunk.
# Idempotent; fast when the target dir is warm. Needs only rustup + cargo.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/switchyard/target}"
TOOLS="$HOME/.cache/switchyard/tools"
WASM_BINDGEN="$TOOLS/bin/wasm-bindgen"
TARGET=wasm32-unknown-unknown
DIST="$ROOT/ui/dist"

step() { printf '[build-ui] %s\n' "$*"; }

cd "$ROOT"

if rustup target list --installed | grep -qx "$TARGET"; then
  step "rust target $TARGET: installed"
else
  step "rust target $TARGET: installing"
  rustup target add "$TARGET"
fi

# The CLI must match the wasm-bindgen library version exactly (the crate pins it with `=`).
WANT="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)"
if [ -z "$WANT" ]; then
  echo "[build-ui] error: wasm-bindgen not found in Cargo.lock" >&2
  exit 1
fi
HAVE="$("$WASM_BINDGEN" --version 2>/dev/null | awk '{ print $2 }' || true)"
if [ "$HAVE" = "$WANT" ]; then
  step "wasm-bindgen-cli $WANT: present at $WASM_BINDGEN"
else
  step "wasm-bindgen-cli $WANT: installing into $TOOLS (found: ${HAVE:-none})"
  # No --locked: the registry mirror lacks one of the CLI's locked dependencies.
  CARGO_TARGET_DIR="$HOME/.cache/switchyard/tools-target" \
    cargo install wasm-bindgen-cli --version "$WANT" --root "$TOOLS"
fi

step "cargo build -p switchyard-ui --target $TARGET --release"
cargo build -p switchyard-ui --target "$TARGET" --release

step "wasm-bindgen --target web -> ui/dist"

# Files are overwritten in place (fixed names), so a concurrent gateway build never sees an empty dir.
mkdir -p "$DIST"
"$WASM_BINDGEN" --target web --no-typescript --out-dir "$DIST" --out-name switchyard_ui \
  "$CARGO_TARGET_DIR/$TARGET/release/switchyard_ui.wasm"

step "copy index.html, style.css -> ui/dist"
cp "$ROOT/ui/index.html" "$ROOT/ui/style.css" "$DIST/"

step "done: $(du -h "$DIST/switchyard_ui_bg.wasm" | cut -f1) wasm in ui/dist"
