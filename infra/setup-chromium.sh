#!/usr/bin/env bash
# Install headless Chromium (Debian's `chromium` package) for the report rendering test, which drives
# the browser through its CLI (--dump-dom, --screenshot). Idempotent: exits 0 at once when the binary
# is already there. Needs root (or sudo) and apt-get; prints what it does.
set -euo pipefail
CHROMIUM="${AP_CHROMIUM:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ]; then
  echo "[setup-chromium] chromium present: $CHROMIUM ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi
command -v apt-get >/dev/null || { echo "[setup-chromium] $CHROMIUM missing and apt-get not found: install Chromium by hand" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "[setup-chromium] not root and no sudo: cannot apt-get install chromium" >&2; exit 1; }
  SUDO="sudo"
fi

echo "[setup-chromium] $CHROMIUM missing: apt-get update"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
echo "[setup-chromium] apt-get install -y --no-install-recommends chromium"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
[ -x "$CHROMIUM" ] || { echo "[setup-chromium] install finished but $CHROMIUM is still missing" >&2; exit 1; }
echo "[setup-chromium] installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
