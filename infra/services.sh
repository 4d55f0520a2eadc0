#!/usr/bin/env bash
# Start, stop and check the real local services:
#   temporal: `temporal server start-dev` on SQLite ($STATE/temporal/temporal.db, survives restarts), with the
#             project's search attributes registered, on 127.0.0.1:${AP_TEMPORAL_PORT:-7233}
#   s3:       versitygw, posix backend on $STATE/s3/data, on 127.0.0.1:${AP_S3_PORT:-7070}, bucket created
# Usage: infra/services.sh start|stop|status|restart [temporal|s3|all]
# Every wait polls until the service answers, with a timeout and a message; logs go to $STATE/logs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${AP_STATE_DIR:-$ROOT/.state}"
LOGS="$STATE/logs"
RUN="$STATE/run"
mkdir -p "$LOGS" "$RUN" "$STATE/temporal" "$STATE/s3/data" "$STATE/s3/meta"

TEMPORAL="$STATE/venv-infra/bin/temporal"
VGW="$STATE/bin/versitygw"
TEMPORAL_PORT="${AP_TEMPORAL_PORT:-7233}"
S3_PORT="${AP_S3_PORT:-7070}"
S3_BUCKET="${AP_S3_BUCKET:-agentic-pruner}"
# Local-only defaults for the dev S3 server on loopback; set AP_S3_ACCESS_KEY/AP_S3_SECRET_KEY for anything else.
S3_ACCESS="${AP_S3_ACCESS_KEY:-agentic-pruner-local}"
S3_SECRET="${AP_S3_SECRET_KEY:-agentic-pruner-local-secret}"
WAIT_SECONDS="${AP_SERVICE_WAIT_SECONDS:-90}"

# The search attributes workflows upsert (src/workflows/search-attributes.ts).
SEARCH_ATTRIBUTES=(ApCampaignId=Keyword ApModel=Keyword ApTargetMacs=Double ApStage=Keyword ApIteration=Int
  ApBestDeviation=Double ApConverged=Bool ApAgent=Keyword)

say() { echo "[services] $*"; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

temporal_up() { "$TEMPORAL" operator cluster health --address "127.0.0.1:$TEMPORAL_PORT" >/dev/null 2>&1; }

s3_up() { curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$S3_PORT/" ; }

wait_for() { # name check-fn log
  local name="$1" check="$2" log="$3" i
  for ((i = 0; i < WAIT_SECONDS * 5; i++)); do
    if "$check"; then return 0; fi
    if [ -n "${4:-}" ] && ! pid_alive "$4"; then
      say "$name exited while starting; last lines of $log:"; tail -n 20 "$log" >&2 || true; return 1
    fi
    sleep 0.2
  done
  say "$name did not answer within ${WAIT_SECONDS}s; last lines of $log:"; tail -n 20 "$log" >&2 || true
  return 1
}

start_temporal() {
  [ -x "$TEMPORAL" ] || { say "temporal CLI missing: run bash infra/setup-services.sh"; return 1; }
  if temporal_up; then say "temporal already up on 127.0.0.1:$TEMPORAL_PORT"; return 0; fi
  local args=(server start-dev --headless --ip 127.0.0.1 --port "$TEMPORAL_PORT" --namespace default
    --db-filename "$STATE/temporal/temporal.db" --log-level warn)
  for sa in "${SEARCH_ATTRIBUTES[@]}"; do args+=(--search-attribute "$sa"); done
  say "starting temporal dev server on 127.0.0.1:$TEMPORAL_PORT (db $STATE/temporal/temporal.db)"
  nohup "$TEMPORAL" "${args[@]}" >>"$LOGS/temporal.log" 2>&1 &
  echo $! >"$RUN/temporal.pid"
  wait_for temporal temporal_up "$LOGS/temporal.log" "$RUN/temporal.pid"
  say "temporal up (pid $(cat "$RUN/temporal.pid"))"
}

start_s3() {
  [ -x "$VGW" ] || { say "versitygw missing: run bash infra/setup-services.sh"; return 1; }
  if s3_up; then say "s3 already up on 127.0.0.1:$S3_PORT"; else
    say "starting versitygw (posix backend $STATE/s3/data) on 127.0.0.1:$S3_PORT"
    ROOT_ACCESS_KEY_ID="$S3_ACCESS" ROOT_SECRET_ACCESS_KEY="$S3_SECRET" \
      nohup "$VGW" --port "127.0.0.1:$S3_PORT" posix --sidecar "$STATE/s3/meta" "$STATE/s3/data" >>"$LOGS/s3.log" 2>&1 &
    echo $! >"$RUN/s3.pid"
    wait_for s3 s3_up "$LOGS/s3.log" "$RUN/s3.pid"
    say "s3 up (pid $(cat "$RUN/s3.pid"))"
  fi
  # Create the bucket (idempotent: 200 created, 409 already ours).
  local code
  code=$(curl -s -o "$LOGS/s3-bucket.out" -w '%{http_code}' --max-time 10 -X PUT \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_ACCESS:$S3_SECRET" "http://127.0.0.1:$S3_PORT/$S3_BUCKET")
  case "$code" in
    200 | 409) say "bucket $S3_BUCKET ready" ;;
    *) say "could not create bucket $S3_BUCKET (HTTP $code): $(head -c 300 "$LOGS/s3-bucket.out")"; return 1 ;;
  esac
}

stop_one() { # name
  local pidfile="$RUN/$1.pid" i
  if pid_alive "$pidfile"; then
    local pid; pid="$(cat "$pidfile")"
    say "stopping $1 (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  else
    say "$1 not running (no live pid file)"
  fi
  rm -f "$pidfile"
}

status_one() { # name
  local up=1
  case "$1" in
    temporal) temporal_up && up=0; echo "temporal  127.0.0.1:$TEMPORAL_PORT  $([ $up = 0 ] && echo up || echo down)" ;;
    s3) s3_up && up=0; echo "s3        http://127.0.0.1:$S3_PORT  bucket $S3_BUCKET  $([ $up = 0 ] && echo up || echo down)" ;;
  esac
  return $up
}

action="${1:-status}"
target="${2:-all}"
case "$target" in all) services=(temporal s3) ;; temporal | s3) services=("$target") ;;
  *) echo "usage: $0 start|stop|status|restart [temporal|s3|all]" >&2; exit 2 ;; esac

rc=0
for s in "${services[@]}"; do
  case "$action" in
    start) "start_$s" || rc=1 ;;
    stop) stop_one "$s" ;;
    restart) stop_one "$s"; "start_$s" || rc=1 ;;
    status) status_one "$s" || rc=1 ;;
    *) echo "usage: $0 start|stop|status|restart [temporal|s3|all]" >&2; exit 2 ;;
  esac
done
exit $rc
