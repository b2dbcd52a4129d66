#!/usr/bin/env bash
# Builds the Debian package of the desktop app with the Tauri CLI from npm (package.json) and
# prints the .deb path as the last line of stdout (progress goes to stderr).
#
#   scripts/bundle-deb.sh            # release build + .deb
#   BUNDLES=appimage,deb scripts/bundle-deb.sh   # other bundle kinds (msi on Windows, app,dmg on
#                                                # macOS: .github/workflows/release.yml); the last
#                                                # line is then the bundle directory
#
# Why the transient config: tauri.conf.json lives at the repository root, next to the workspace
# Cargo.toml. tauri-build and generate_context! read it from there (src-tauri/build.rs,
# `generate_context!("../tauri.conf.json")`) and resolve its paths against the root. The CLI,
# however, treats the directory holding tauri.conf.json as the app crate and reads Cargo.toml
# [package] from it — the root Cargo.toml is a workspace without [package] ("No package info in the
# config file"). So the CLI is pointed at src-tauri/ (TAURI_APP_PATH) and given a copy of the root
# config there with its relative paths rebased onto src-tauri/ (the CLI resolves them from the app
# crate dir). The copy is gitignored (src-tauri/.gitignore) and deleted on exit; the compiled app
# still takes its config from the root file.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/switchyard/target}"
cd "$ROOT"

say() { printf '[bundle-deb] %s\n' "$*" >&2; }
die() {
  printf '[bundle-deb] error: %s\n' "$*" >&2
  exit 1
}

[ -x node_modules/.bin/tauri ] || die "the Tauri CLI is not installed: run 'npm ci' (package.json pins @tauri-apps/cli)"
[ -f ui/dist/index.html ] || die "ui/dist is missing: run scripts/build-ui.sh first (the app embeds it)"

CLI_CONF="$ROOT/src-tauri/tauri.conf.json"
cleanup() { rm -f "$CLI_CONF"; }
trap cleanup EXIT

python3 - "$ROOT/tauri.conf.json" "$CLI_CONF" <<'PY'
import json, sys

src, dst = sys.argv[1], sys.argv[2]
with open(src) as f:
    conf = json.load(f)


def rebase(p):
    # relative to the repository root -> relative to src-tauri/
    if not isinstance(p, str) or p.startswith(("/", "http://", "https://")):
        return p
    return "../" + p


build = conf.get("build", {})
if isinstance(build.get("frontendDist"), str):
    build["frontendDist"] = rebase(build["frontendDist"])
bundle = conf.get("bundle", {})
bundle["icon"] = [rebase(p) for p in bundle.get("icon", [])]
for key in ("resources", "externalBin", "licenseFile"):
    if key in bundle:
        sys.exit(f"bundle-deb.sh: rebase bundle.{key} too before using it")
with open(dst, "w") as f:
    json.dump(conf, f, indent=2)
PY

say "tauri $(node_modules/.bin/tauri --version 2>/dev/null | awk '{print $2}'): release build + deb bundle (target dir $CARGO_TARGET_DIR)"
start=$SECONDS
# The CLI output goes to stderr so that stdout carries only the .deb path.
TAURI_APP_PATH="$ROOT/src-tauri" TAURI_FRONTEND_PATH="$ROOT" \
  node_modules/.bin/tauri build --bundles "${BUNDLES:-deb}" --ci >&2
say "built in $((SECONDS - start)) s"
if [ "${BUNDLES:-deb}" != deb ]; then
  echo "$CARGO_TARGET_DIR/release/bundle"
  exit 0
fi

VERSION="$(awk -F'"' '/^version *=/ { print $2; exit }' Cargo.toml)"
DEB="$(ls -t "$CARGO_TARGET_DIR"/release/bundle/deb/*_"${VERSION}"_*.deb 2>/dev/null | head -n1 || true)"
[ -n "$DEB" ] && [ -f "$DEB" ] || die "no .deb for version $VERSION under $CARGO_TARGET_DIR/release/bundle/deb"
say "$(du -h "$DEB" | cut -f1) $DEB"
echo "$DEB"
