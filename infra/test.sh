#!/usr/bin/env bash
# The whole test suite, from a fresh clone: install what is missing, start the real services
# (Temporal dev server, versitygw S3), run jest (in band) and the engine's pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# The AWS SDK warns on every run that future releases need Node 22; Node 20 is supported by this pin.
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
bash infra/bootstrap.sh
bash infra/services.sh start all
status=0
echo "[test] jest"
npx jest --runInBand "$@" || status=$?
echo "[test] engine pytest"
( cd engine && .venv/bin/python -m pytest -q -m "not slow" ) || status=$?
echo "[test] typecheck and lint"
npx tsc -p tsconfig.json --noEmit || status=$?
npx eslint src tests bench || status=$?
npx prettier --check src tests bench || status=$?
engine/.venv/bin/ruff check engine || status=$?
exit $status
