#!/usr/bin/env bash
# Everything a fresh clone needs, installed by the project's own pinned scripts. Idempotent and quick
# when nothing changed: node modules (npm ci) + build, the engine venv, the Temporal and S3 binaries.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then echo "[bootstrap] Node.js >= 20.3 is required (found: $(node --version 2>/dev/null || echo none))" >&2; exit 1; fi

lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f node_modules/.agentic-pruner-stamp ] || [ "$(cat node_modules/.agentic-pruner-stamp)" != "$lock_hash" ]; then
  echo "[bootstrap] npm ci"
  npm ci --no-audit --no-fund --ignore-scripts=false
  echo "$lock_hash" > node_modules/.agentic-pruner-stamp
else
  echo "[bootstrap] node modules up to date"
  npm run --silent build
fi
bash infra/setup-engine.sh
bash infra/setup-services.sh
# The report test renders in headless Chromium (Debian's package).
bash infra/setup-chromium.sh
