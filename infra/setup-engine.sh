#!/usr/bin/env bash
# Install the engine's Python venv (engine/.venv) with its pinned dependencies. Idempotent: does
# nothing when the venv already matches engine/pyproject.toml (a hash of it is kept in the venv).
#
# On Linux x86_64, PyPI's torch brings the CUDA libraries (6.7 GiB installed, 4 of it
# nvidia-*). One `pip install` of everything holds every downloaded wheel and the installed
# tree at once (10.4 GiB at its peak here), which a CI disk may not have. So
# pip resolves once without downloading (--dry-run --report: metadata only), the heavy wheels are
# installed one at a time, then the rest; never through the pip cache.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/engine/.venv"
PYTHON="${AP_PYTHON:-python3}"
STAMP="$VENV/.agentic-pruner-stamp"
want="$(sha256sum "$ROOT/engine/pyproject.toml" | cut -d' ' -f1)"
# Free space a first install needs under engine/ and in $TMPDIR (same disk here): the installed tree
# plus the largest wheel unpacking, measured in bench/RESULTS.md ("engine venv install"), with margin.
NEED_GB="${AP_ENGINE_INSTALL_GB:-8}"

say() { echo "[setup-engine] $*"; }
die() { echo "[setup-engine] error: $*" >&2; exit 1; }

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && "$VENV/bin/python" -c 'import agentic_engine, torch, torch_pruning, timm' 2>/dev/null; then
  say "engine venv up to date ($VENV)"
  exit 0
fi
command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install Python >= 3.10"

installed_kb() { du -sk "$VENV" 2>/dev/null | cut -f1 || echo 0; }
free_kb() { df -Pk "$1" | awk 'NR == 2 {print $4}'; }
# What is already in the venv counts toward what the install needs (an update replaces in place).
have_kb=$(($(free_kb "$ROOT/engine") + $(installed_kb)))
need_kb=$((NEED_GB * 1024 * 1024))
if [ "$have_kb" -lt "$need_kb" ]; then
  die "the engine venv needs about ${NEED_GB} GiB free on the disk of $ROOT/engine (torch with its CUDA libraries); $((have_kb / 1024 / 1024)) GiB there. Free some space, or set AP_ENGINE_INSTALL_GB to try with less"
fi

say "creating/updating $VENV (torch, torchvision, timm, torch-pruning, onnx: 6.7 GiB on Linux x86_64 on first install)"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --quiet --no-cache-dir)
"${PIP[@]}" install --upgrade 'pip>=24'

# 1. Resolve the whole set, metadata only.
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
"${PIP[@]}" install --dry-run --ignore-installed --report "$report" -e "$ROOT/engine[dev]"
# 2. The heavy wheels one at a time, at the versions pip resolved (each without its dependencies:
#    they are all in the set), so that the disk holds one downloaded wheel at a time.
heavy="$("$VENV/bin/python" - "$report" <<'EOF'
import json, re, sys

for item in json.load(open(sys.argv[1]))["install"]:
    meta = item["metadata"]
    if re.fullmatch(r"nvidia-.*|torch|torchvision|triton", meta["name"].lower()):
        print(f"{meta['name']}=={meta['version']}")
EOF
)"
for req in $heavy; do
  say "installing $req"
  "${PIP[@]}" install --no-deps "$req"
done
# 3. The rest (the heavy ones are satisfied now), and the engine itself.
"${PIP[@]}" install -e "$ROOT/engine[dev]"
"$VENV/bin/python" -m pip check >/dev/null || die "the engine venv's dependencies conflict: $("$VENV/bin/python" -m pip check 2>&1 | head -3 | tr '\n' ';')"
"$VENV/bin/python" -c 'import agentic_engine, torch, torch_pruning, timm; print("[setup-engine] torch", torch.__version__, "torch-pruning", torch_pruning.__version__)'
echo "$want" > "$STAMP"
