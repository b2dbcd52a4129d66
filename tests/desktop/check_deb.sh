#!/usr/bin/env bash
# Checks the desktop .deb made by scripts/bundle-deb.sh:
#   tests/desktop/check_deb.sh path/to/Switchyard_X.Y.Z_amd64.deb
# - control: package name, Depends on libwebkit2gtk-4.1-0 and libayatana-appindicator3-1 (the CLI
#   adds both because of tauri's tray-icon feature; tauri.conf.json must not list them again, or
#   Depends names the package twice)
# - contents: /usr/bin binary, a .desktop launcher that runs it, hicolor icons
set -euo pipefail

say() { printf '[check-deb] %s\n' "$*"; }
fail() {
  printf '[check-deb] FAILED: %s\n' "$*" >&2
  exit 1
}

[ $# -eq 1 ] || fail "usage: $0 DEB"
DEB="$1"
[ -f "$DEB" ] || fail "no such file: $DEB"
command -v dpkg-deb >/dev/null || fail "dpkg-deb is not installed"

INFO="$(dpkg-deb --info "$DEB")"
CONTENTS="$(dpkg-deb --contents "$DEB" | awk '{ print $NF }' | sed 's|^\./||; s|^|/|')"
field() { dpkg-deb --field "$DEB" "$1"; }

say "$(basename "$DEB"): $(du -h "$DEB" | cut -f1), package $(field Package) $(field Version) $(field Architecture)"
[ "$(field Package)" = "switchyard" ] || fail "Package is '$(field Package)', want 'switchyard'"
DEPENDS="$(field Depends)"
say "Depends: $DEPENDS"
DEP_NAMES="$(printf '%s\n' "$DEPENDS" | tr ',' '\n' | sed 's/^ *//; s/ .*//')"
for dep in libwebkit2gtk-4.1-0 libayatana-appindicator3-1; do
  printf '%s\n' "$DEP_NAMES" | grep -qx "$dep" || fail "Depends lacks $dep"
done
DUPS="$(printf '%s\n' "$DEP_NAMES" | sort | uniq -d)"
[ -z "$DUPS" ] || fail "Depends names a package twice: $DUPS"

BIN=/usr/bin/switchyard-desktop
printf '%s\n' "$CONTENTS" | grep -qx "$BIN" || fail "no $BIN in the package"

DESKTOP_FILES="$(printf '%s\n' "$CONTENTS" | grep -E '^/usr/share/applications/[^/]+\.desktop$' || true)"
[ -n "$DESKTOP_FILES" ] || fail "no /usr/share/applications/*.desktop in the package"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
dpkg-deb --extract "$DEB" "$TMP"
for f in $DESKTOP_FILES; do
  grep -qE '^Exec=switchyard-desktop( |$)' "$TMP$f" || fail "$f does not run switchyard-desktop: $(grep ^Exec "$TMP$f" || true)"
  grep -q '^Name=Switchyard$' "$TMP$f" || fail "$f has no Name=Switchyard"
  ICON="$(sed -n 's/^Icon=//p' "$TMP$f")"
  [ -n "$ICON" ] || fail "$f has no Icon="
done
[ -x "$TMP$BIN" ] || fail "$BIN is not executable"

ICONS="$(printf '%s\n' "$CONTENTS" | grep -E "^/usr/share/icons/hicolor/[0-9x@]+/apps/$ICON\.png$" || true)"
[ -n "$ICONS" ] || fail "no hicolor icons named $ICON.png"
for size in 32x32 128x128; do
  printf '%s\n' "$ICONS" | grep -q "/hicolor/$size/" || fail "no $size hicolor icon"
done
say "binary $BIN, launcher $(echo $DESKTOP_FILES), icons: $(printf '%s\n' "$ICONS" | sed 's|/usr/share/icons/hicolor/||; s|/apps/.*||' | tr '\n' ' ')"
printf '%s\n' "$INFO" | grep -q 'Installed-Size' && say "$(printf '%s\n' "$INFO" | grep Installed-Size | sed 's/^ *//')"
say "ok"
