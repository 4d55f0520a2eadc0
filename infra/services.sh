#!/usr/bin/env bash
# Start, stop and check the real local services, in the background (nohup), one instance per state dir:
#   temporal  `temporal server start-dev --headless` on 127.0.0.1:$AP_TEMPORAL_PORT (default 7233), state in
#             SQLite at $STATE/temporal/temporal.db (survives restarts), namespace `default`, with the
#             project's search attributes registered (start-dev --search-attribute, checked after start).
#   s3        versitygw, posix backend on $STATE/s3/data (metadata in $STATE/s3/meta), on
#             127.0.0.1:$AP_S3_PORT (default 7070), bucket $AP_S3_BUCKET (default agentic-pruner) created.
# Usage: infra/services.sh start|stop|status|restart [temporal|s3|all]     (default: status all)
#        infra/services.sh drop-bucket
#   start    idempotent: a service that already answers is left alone; waits until each answers
#            (polling, AP_SERVICE_WAIT_SECONDS, default 90), else prints the log's tail and exits 1.
#   stop     kills the process in the pid file (only if it is still our binary) and waits for it to exit.
#   status   prints up/down per service with its address; exits 1 if any is down.
#   drop-bucket  empties bucket $AP_S3_BUCKET (objects and unfinished multipart uploads) and removes it; for
#            a bucket of its own, as each `npm test` run has (infra/test.sh). Refuses the default bucket.
# Files: $STATE/logs/{temporal,s3}.log, $STATE/run/{temporal,s3}.pid. STATE = $AP_STATE_DIR (default
# <repo>/.state); binaries from $AP_TOOLS_DIR (default $STATE), installed by infra/setup-services.sh.
# Credentials: AP_S3_ACCESS_KEY / AP_S3_SECRET_KEY. The defaults below are for this local dev server on
# loopback only; set real ones for anything reachable from elsewhere. They go to versitygw by
# environment, never on a command line, and are never printed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${AP_STATE_DIR:-$ROOT/.state}"
TOOLS="${AP_TOOLS_DIR:-$STATE}"
LOGS="$STATE/logs"
RUN="$STATE/run"

TEMPORAL="$TOOLS/venv-infra/bin/temporal"
VGW="$TOOLS/bin/versitygw"
TEMPORAL_PORT="${AP_TEMPORAL_PORT:-7233}"
TEMPORAL_ADDR="127.0.0.1:$TEMPORAL_PORT"
S3_PORT="${AP_S3_PORT:-7070}"
S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
S3_BUCKET="${AP_S3_BUCKET:-agentic-pruner}"
S3_ACCESS="${AP_S3_ACCESS_KEY:-agentic-pruner-local}"         # local dev server only
S3_SECRET="${AP_S3_SECRET_KEY:-agentic-pruner-local-secret}"  # local dev server only
WAIT_SECONDS="${AP_SERVICE_WAIT_SECONDS:-90}"

# The search attributes workflows upsert (src/workflows/search-attributes.ts), Name=Type.
SEARCH_ATTRIBUTES=(ApCampaignId=Keyword ApModel=Keyword ApTargetMacs=Double ApStage=Keyword ApIteration=Int
  ApBestDeviation=Double ApConverged=Bool ApAgent=Keyword)

usage() { echo "usage: $0 start|stop|status|restart [temporal|s3|all]  |  $0 drop-bucket" >&2; exit 2; }
say() { echo "[services] $*"; }

# --- probes ------------------------------------------------------------------------------------------
temporal_up() { "$TEMPORAL" operator cluster health --address "$TEMPORAL_ADDR" >/dev/null 2>&1; }

# A real HTTP exchange over bash's /dev/tcp (no curl needed): any HTTP status line means versitygw answers.
s3_up() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3
    IFS= read -r line <&3 && [[ "$line" == HTTP/1.* ]]' _ "$S3_PORT" 2>/dev/null
}

# Alive and not a zombie (a zombie still answers kill -0 until its parent reaps it).
running() { kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

# Something listens on the port (used to tell "busy with another program" from "free").
port_open() { timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

# The pid in a pid file, if that process is alive and is still the binary we started (pids get reused).
live_pid() { # name binary
  local pidfile="$RUN/$1.pid" pid
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  [ -n "$pid" ] && running "$pid" || return 1
  [ "$(readlink -f "/proc/$pid/exe" 2>/dev/null || true)" = "$(readlink -f "$2")" ] || return 1
  echo "$pid"
}

# The current run's part of a log (from the last "=== " header this script writes), at most 25 lines.
log_tail() { awk '/^=== /{n=0} {buf[n++]=$0} END{for(i=(n>25?n-25:0);i<n;i++) print buf[i]}' "$1" >&2 || true; }

wait_for() { # name probe binary log
  local name="$1" probe="$2" bin="$3" log="$4" deadline=$((SECONDS + WAIT_SECONDS))
  while ((SECONDS < deadline)); do
    # While starting, only ask whether the process is alive: until nohup has exec'd the server, its
    # /proc/<pid>/exe is still bash or nohup, which live_pid would take for a dead server.
    if ! running "$(cat "$RUN/$name.pid" 2>/dev/null)"; then
      say "error: $name exited while starting; its log ($log):" >&2
      log_tail "$log"
      return 1
    fi
    if "$probe"; then return 0; fi
    sleep 0.2
  done
  say "error: $name did not answer within ${WAIT_SECONDS}s (AP_SERVICE_WAIT_SECONDS); its log ($log):" >&2
  log_tail "$log"
  return 1
}

# --- temporal ----------------------------------------------------------------------------------------
ensure_search_attributes() {
  local have missing=() sa
  have="$("$TEMPORAL" operator search-attribute list --address "$TEMPORAL_ADDR" --namespace default 2>&1)" || {
    say "error: cannot list search attributes: $have" >&2; return 1; }
  for sa in "${SEARCH_ATTRIBUTES[@]}"; do
    grep -qE "^\s*${sa%%=*}\s+${sa#*=}\s*$" <<<"$have" || missing+=("$sa")
  done
  if ((${#missing[@]} > 0)); then
    say "registering search attributes: ${missing[*]}"
    for sa in "${missing[@]}"; do # one per call: the CLI takes several --name but a single --type
      "$TEMPORAL" operator search-attribute create --address "$TEMPORAL_ADDR" --namespace default \
        --name "${sa%%=*}" --type "${sa#*=}" >/dev/null
    done
  fi
  say "search attributes registered: ${SEARCH_ATTRIBUTES[*]}"
}

start_temporal() {
  [ -x "$TEMPORAL" ] || { say "error: temporal CLI missing at $TEMPORAL: run bash infra/setup-services.sh" >&2; return 1; }
  if temporal_up; then
    local pid; pid="$(live_pid temporal "$TEMPORAL" || echo 'not started by this state dir')"
    say "temporal already up on $TEMPORAL_ADDR (pid $pid)"
  else
    mkdir -p "$STATE/temporal"
    if port_open "$TEMPORAL_PORT"; then
      say "error: port $TEMPORAL_PORT is taken by a program that is not a Temporal server; set AP_TEMPORAL_PORT" >&2; return 1
    fi
    local t0=$SECONDS
    local args=(server start-dev --headless --ip 127.0.0.1 --port "$TEMPORAL_PORT" --namespace default
      --db-filename "$STATE/temporal/temporal.db" --log-level warn)
    for sa in "${SEARCH_ATTRIBUTES[@]}"; do args+=(--search-attribute "$sa"); done
    say "starting temporal dev server on $TEMPORAL_ADDR (db $STATE/temporal/temporal.db, log $LOGS/temporal.log)"
    echo "=== $(date -u +%FT%TZ) $TEMPORAL ${args[*]}" >>"$LOGS/temporal.log"
    nohup "$TEMPORAL" "${args[@]}" >>"$LOGS/temporal.log" 2>&1 </dev/null 9>&- &
    echo $! >"$RUN/temporal.pid"
    wait_for temporal temporal_up "$TEMPORAL" "$LOGS/temporal.log" || return 1
    say "temporal up on $TEMPORAL_ADDR (pid $(cat "$RUN/temporal.pid"), $((SECONDS - t0))s)"
  fi
  ensure_search_attributes
}

# --- s3 (versitygw) ----------------------------------------------------------------------------------
# Create the bucket through the S3 API with the project's own SDK; an existing bucket is fine.
# Run a node script against the local S3 server with the project's own SDK: `s3` is the SDK, `client` a client
# of this server (path-style, checksums only where required), `Bucket` the bucket; the script returns a promise
# of the line to print. Prints that line, or the error's name and message (exit 1).
s3_node() { # script
  (cd "$ROOT" && AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true AP_S3_ENDPOINT="$S3_ENDPOINT" \
    AP_S3_BUCKET="$S3_BUCKET" AP_S3_ACCESS_KEY="$S3_ACCESS" AP_S3_SECRET_KEY="$S3_SECRET" node -e '
      const s3 = require("@aws-sdk/client-s3");
      const env = process.env, Bucket = env.AP_S3_BUCKET;
      const client = new s3.S3Client({ endpoint: env.AP_S3_ENDPOINT, region: "us-east-1", forcePathStyle: true,
        requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED",
        credentials: { accessKeyId: env.AP_S3_ACCESS_KEY, secretAccessKey: env.AP_S3_SECRET_KEY } });
      (async () => { '"$1"' })()
        .then((line) => console.log(line))
        .catch((e) => { console.log(`${e.name}: ${e.message}`); process.exitCode = 1; })
        .finally(() => client.destroy());' 2>&1)
}

ensure_bucket() {
  local out
  out="$(s3_node '
    try { await client.send(new s3.CreateBucketCommand({ Bucket })); return "created"; }
    catch (e) { if (e.name === "BucketAlreadyOwnedByYou" || e.name === "BucketAlreadyExists") return "exists"; throw e; }')" || {
    say "error: could not create bucket $S3_BUCKET on $S3_ENDPOINT: $out" >&2; return 1; }
  say "bucket $S3_BUCKET ready ($out)"
}

# Empty the bucket (objects, unfinished multipart uploads) through the S3 API and remove it.
drop_bucket() {
  [ -n "${AP_S3_BUCKET:-}" ] && [ "$S3_BUCKET" != agentic-pruner ] ||
    { say "error: drop-bucket needs AP_S3_BUCKET set to a bucket of its own, not the default agentic-pruner" >&2; return 2; }
  local out
  out="$(s3_node '
    let objects = 0, uploads = 0, token;
    try {
      do {
        const page = await client.send(new s3.ListObjectsV2Command({ Bucket, ContinuationToken: token }));
        for (const o of page.Contents ?? []) { await client.send(new s3.DeleteObjectCommand({ Bucket, Key: o.Key })); objects++; }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (e) { if (e.name === "NoSuchBucket") return "no such bucket"; throw e; }
    const mpu = await client.send(new s3.ListMultipartUploadsCommand({ Bucket }));
    for (const u of mpu.Uploads ?? []) {
      await client.send(new s3.AbortMultipartUploadCommand({ Bucket, Key: u.Key, UploadId: u.UploadId })); uploads++;
    }
    await client.send(new s3.DeleteBucketCommand({ Bucket }));
    return `${objects} objects, ${uploads} unfinished uploads`;')" || {
    say "error: could not drop bucket $S3_BUCKET on $S3_ENDPOINT: $out" >&2; return 1; }
  if [ "$out" = "no such bucket" ]; then say "bucket $S3_BUCKET: no such bucket, nothing dropped"; else say "bucket $S3_BUCKET dropped ($out)"; fi
}

start_s3() {
  [ -x "$VGW" ] || { say "error: versitygw missing at $VGW: run bash infra/setup-services.sh" >&2; return 1; }
  if s3_up; then
    local pid; pid="$(live_pid s3 "$VGW" || echo 'not started by this state dir')"
    say "s3 already up on $S3_ENDPOINT (pid $pid)"
  else
    if port_open "$S3_PORT"; then
      say "error: port $S3_PORT is taken by a program that does not answer HTTP; set AP_S3_PORT" >&2; return 1
    fi
    local t0=$SECONDS
    mkdir -p "$STATE/s3/data" "$STATE/s3/meta"
    say "starting versitygw on $S3_ENDPOINT (posix backend $STATE/s3/data, log $LOGS/s3.log)"
    echo "=== $(date -u +%FT%TZ) $VGW --port 127.0.0.1:$S3_PORT --quiet posix --sidecar $STATE/s3/meta $STATE/s3/data" >>"$LOGS/s3.log"
    ROOT_ACCESS_KEY_ID="$S3_ACCESS" ROOT_SECRET_ACCESS_KEY="$S3_SECRET" \
      nohup "$VGW" --port "127.0.0.1:$S3_PORT" --quiet posix --sidecar "$STATE/s3/meta" "$STATE/s3/data" \
      >>"$LOGS/s3.log" 2>&1 </dev/null 9>&- &
    echo $! >"$RUN/s3.pid"
    wait_for s3 s3_up "$VGW" "$LOGS/s3.log" || return 1
    say "s3 up on $S3_ENDPOINT (pid $(cat "$RUN/s3.pid"), $((SECONDS - t0))s)"
  fi
  ensure_bucket
}

# --- stop / status -----------------------------------------------------------------------------------
binary_of() { case "$1" in temporal) echo "$TEMPORAL" ;; s3) echo "$VGW" ;; esac; }

stop_one() { # name
  local pid deadline
  if pid="$(live_pid "$1" "$(binary_of "$1")")"; then
    say "stopping $1 (pid $pid)"
    kill "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 30))
    while running "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
    if running "$pid"; then
      say "$1 (pid $pid) still running after 30s: SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
      while running "$pid"; do sleep 0.1; done
    fi
    say "$1 stopped"
  else
    say "$1 not running from this state dir (no live pid in $RUN/$1.pid)"
  fi
  rm -f "$RUN/$1.pid"
}

status_one() { # name
  local pid
  pid="$(live_pid "$1" "$(binary_of "$1")" || echo -)"
  case "$1" in
    temporal) if temporal_up; then echo "temporal  up    $TEMPORAL_ADDR  pid $pid"; else echo "temporal  down  $TEMPORAL_ADDR"; return 1; fi ;;
    s3) if s3_up; then echo "s3        up    $S3_ENDPOINT  bucket $S3_BUCKET  pid $pid"; else echo "s3        down  $S3_ENDPOINT"; return 1; fi ;;
  esac
}

# --- main --------------------------------------------------------------------------------------------
action="${1:-status}"
target="${2:-all}"
case "$action" in
  start | stop | status | restart) ;;
  drop-bucket) [ $# -le 1 ] || usage; drop_bucket; exit ;;
  *) usage ;;
esac
case "$target" in all) services=(temporal s3) ;; temporal | s3) services=("$target") ;; *) usage ;; esac

mkdir -p "$LOGS" "$RUN"
if [ "$action" != status ]; then
  # One start/stop at a time per state dir: parallel test runs must not race to start two servers.
  # (The servers are started with fd 9 closed, so they do not inherit the lock.)
  exec 9>"$RUN/services.lock"
  flock -w $((WAIT_SECONDS * 2 + 60)) 9 || { say "error: another infra/services.sh holds $RUN/services.lock" >&2; exit 1; }
fi

rc=0
for s in "${services[@]}"; do
  case "$action" in
    start) "start_$s" || rc=1 ;;
    stop) stop_one "$s" ;;
    restart) stop_one "$s"; "start_$s" || rc=1 ;;
    status) status_one "$s" || rc=1 ;;
  esac
done
exit $rc
