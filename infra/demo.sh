#!/usr/bin/env bash
# The main job on embedded defaults: install what is missing, then `agentic-pruner demo`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash infra/bootstrap.sh >&2
exec node bin/agentic-pruner.js demo "$@"
