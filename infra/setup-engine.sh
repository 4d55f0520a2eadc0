#!/usr/bin/env bash
# Install the engine's Python venv (engine/.venv) with its pinned dependencies. Idempotent: does
# nothing when the venv already matches engine/pyproject.toml (a hash of it is kept in the venv).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/engine/.venv"
PYTHON="${AP_PYTHON:-python3}"
STAMP="$VENV/.agentic-pruner-stamp"
want="$(sha256sum "$ROOT/engine/pyproject.toml" | cut -d' ' -f1)"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && "$VENV/bin/python" -c 'import agentic_engine, torch, torch_pruning, timm' 2>/dev/null; then
  echo "[setup-engine] engine venv up to date ($VENV)"
  exit 0
fi
command -v "$PYTHON" >/dev/null || { echo "[setup-engine] $PYTHON not found: install Python >= 3.10" >&2; exit 1; }
echo "[setup-engine] creating/updating $VENV (torch, torchvision, timm, torch-pruning, onnx: a few GB on first install)"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade 'pip>=24'
"$VENV/bin/python" -m pip install --quiet -e "$ROOT/engine[dev]"
"$VENV/bin/python" -c 'import agentic_engine, torch, torch_pruning, timm; print("[setup-engine] torch", torch.__version__, "torch-pruning", torch_pruning.__version__)'
echo "$want" > "$STAMP"
