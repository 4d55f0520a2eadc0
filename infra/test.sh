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
# Everything the tests write to the temp dir (their stores, work dirs, the engine's files: about 2 GB a run)
# goes under one folder of this run, removed once jest passes, so runs do not pile up on a CI disk; kept,
# and named, when jest fails.
TEST_TMP="$(mktemp -d "${TMPDIR:-/tmp}/ap-run-XXXXXX")"
# Likewise the objects the tests store (campaigns, checkpoints, reports: about 0.4 GiB a run) go to a bucket of
# this run on the tests' S3 server, dropped once jest passes (the server tests/setup/services.ts starts, on
# port AP_TEST_S3_PORT, default 7083; jest's setup creates the bucket).
RUN_BUCKET="$(basename "$TEST_TMP" | tr 'A-Z' 'a-z')"
status=0
echo "[test] jest"
TMPDIR="$TEST_TMP" AP_S3_BUCKET="$RUN_BUCKET" npx jest --runInBand "$@" || status=$?
if [ "$status" -eq 0 ]; then
  rm -rf "$TEST_TMP"
  AP_S3_PORT="${AP_TEST_S3_PORT:-7083}" AP_S3_BUCKET="$RUN_BUCKET" bash infra/services.sh drop-bucket || status=$?
else
  echo "[test] jest failed: its temp files are in $TEST_TMP, its stored objects in bucket $RUN_BUCKET of the tests' S3 server"
fi
echo "[test] engine pytest"
( cd engine && .venv/bin/python -m pytest -q -m "not slow" ) || status=$?
echo "[test] typecheck and lint"
npx tsc -p tsconfig.json --noEmit || status=$?
npx eslint src tests bench || status=$?
npx prettier --check src tests bench || status=$?
engine/.venv/bin/ruff check engine || status=$?
exit $status
