#!/usr/bin/env bash
# bench/run.sh — taskd's side-by-side benchmark (`make bench`): installs what is missing,
# starts a fresh nats-server or redis-server on a free loopback port for each system, runs the
# raw JetStream ceiling (Bun, Deno), BullMQ, Celery and taskd (Bun, Deno) through the same
# workloads, stops everything it started by PID, then prints one table and writes
# bench/results/<date>.json, <date>.svg and latest.svg. See bench/README.md.
# Environment: BENCH_QUICK=1 (smaller counts), BENCH_W3=1 (the 30 s countdown workload),
# BENCH_SYSTEMS="raw-bun bullmq ..." (a subset), BENCH_VERBOSE=1 (workers' output).
# BENCH_BOUNDED=1 runs only the bounded-resources workload instead (bench/bounded.ts: sustained
# maximum load with the default settings for BENCH_BOUNDED_SECONDS, default 600; server RSS and
# disk every 30 s), writing bench/results/bounded-latest.txt.
# BENCH_SCALE=1 runs only the scale workloads instead (bench/scale.ts: W5 backlog, W6 100 queues,
# W7 expiring results, W3 delayed, each on a fresh nats-server, at BENCH_SCALE_SIZES, default
# "100000 1000000", quick "20000 100000"; BENCH_SCALE_WORKLOADS="w5 w6 w7 w3" picks some),
# writing bench/results/scale-<date>.json and scale-latest.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"
BUN="$ROOT/node_modules/.bin/bun"
DENO="$ROOT/node_modules/.bin/deno"
PY=/usr/bin/python3
SYSTEM_TIMEOUT="${BENCH_SYSTEM_TIMEOUT:-900}"
DENO_MAIN="${TASKD_DENO_MAIN:-src/cli/main.ts}"   # taskd's CLI entry under `deno run`

TMP="$(mktemp -d /tmp/taskd-bench.XXXXXX)"
PIDFILE="$TMP/pids"     # every process started here or by a driver (workers), one pid a line
: > "$PIDFILE"
mkdir -p "$TMP/out" "$BENCH/results"

say() { printf '%s\n' "bench: $*" >&2; }

# stop one process we started (or its whole group when it leads one): TERM, then KILL
stop_pid() {
  local pid="$1" i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
}
stop_all() {
  local pid
  while read -r pid; do [ -n "$pid" ] && stop_pid "$pid"; done < "$PIDFILE"
  : > "$PIDFILE"
}
cleanup() {
  stop_all
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- what we need, installed when missing --------------------------------------------------
apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { say "apt-get update"; apt-get update -qq >&2; apt_updated=1; }
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}
command -v nats-server >/dev/null || apt_install nats-server
BOUNDED_ONLY="${BENCH_BOUNDED:-}${BENCH_SCALE:-}"   # the bounded and scale workloads need only nats-server and the repository
[ -n "$BOUNDED_ONLY" ] || command -v redis-server >/dev/null || apt_install redis-server
[ -n "$BOUNDED_ONLY" ] || "$PY" -c 'import celery, redis' 2>/dev/null || apt_install python3-celery python3-redis
[ -x "$BUN" ] && [ -d "$ROOT/node_modules/@nats-io/jetstream" ] || { say "npm ci (repository)"; (cd "$ROOT" && npm ci --no-audit --no-fund >&2); }
if [ -z "$BOUNDED_ONLY" ]; then
  [ -d "$BENCH/peers/node_modules/bullmq" ] && [ -d "$BENCH/peers/node_modules/ioredis" ] \
    || { say "npm ci (bench/peers)"; (cd "$BENCH/peers" && npm ci --no-audit --no-fund >&2); }
fi

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
wait_log() {  # wait_log <file> <pattern> <pid>: until the server says it is up
  local i
  for i in $(seq 100); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { cat "$1" >&2; return 1; }
    sleep 0.1
  done
  cat "$1" >&2; return 1
}

BROKER_PID=""
start_nats() {
  local port dir; port="$(free_port)"; dir="$TMP/nats-$1"; mkdir -p "$dir"
  setsid nats-server -js -a 127.0.0.1 -p "$port" -sd "$dir/store" > "$dir/log" 2>&1 &
  BROKER_PID=$!; echo "$BROKER_PID" >> "$PIDFILE"
  wait_log "$dir/log" "Server is ready" "$BROKER_PID"
  export NATS_URL="nats://127.0.0.1:$port" TASKD_BROKER_URL="nats://127.0.0.1:$port"
}
start_redis() {
  local port dir; port="$(free_port)"; dir="$TMP/redis-$1"; mkdir -p "$dir"
  # Redis's own defaults (RDB snapshots on) except where it listens and writes
  setsid redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize no > "$dir/log" 2>&1 &
  BROKER_PID=$!; echo "$BROKER_PID" >> "$PIDFILE"
  wait_log "$dir/log" "Ready to accept connections" "$BROKER_PID"
  export REDIS_PORT="$port"
}

skip() {  # skip <system> <reason>
  say "$1 skipped: $2"
  echo "skipped: $2" >&2
  printf '{"system":"%s","skipped":"%s"}\n' "$1" "$2" > "$TMP/out/$1.json"
}

# run <system> <nats|redis> <driver command...>: a fresh broker, the driver, then stop both
run() {
  local name="$1" broker="$2"; shift 2
  if [ -n "${BENCH_SYSTEMS:-}" ] && [[ " $BENCH_SYSTEMS " != *" $name "* ]]; then return 0; fi
  say "== $name"
  echo "$name $(cut -d' ' -f1 /proc/loadavg)" >> "$TMP/out/load.txt"   # how busy the machine was
  "start_$broker" "$name"
  local rc=0
  BENCH_OUT="$TMP/out/$name.json" BENCH_PIDFILE="$PIDFILE" BENCH_BROKER_PID="$BROKER_PID" \
    timeout "$SYSTEM_TIMEOUT" "$@" || rc=$?
  [ -s "$TMP/out/$name.json" ] \
    || printf '{"system":"%s","error":"driver exited with status %s and wrote nothing"}\n' "$name" "$rc" > "$TMP/out/$name.json"
  stop_all   # the broker and any worker the driver left behind
}

cd "$ROOT"

if [ "${BENCH_BOUNDED:-}" = "1" ]; then
  [ -x "$ROOT/dist/taskd" ] || { say "bounded: dist/taskd not built"; exit 1; }
  say "== bounded: ${BENCH_BOUNDED_SECONDS:-600} s of sustained load, default settings"
  start_nats bounded
  rc=0
  BENCH_PIDFILE="$PIDFILE" BENCH_BROKER_PID="$BROKER_PID" BENCH_BOUNDED_STORE="$TMP/nats-bounded/store" \
    BENCH_OUT="$BENCH/results/bounded-latest.json" \
    "$BUN" run bench/bounded.ts -- "$ROOT/dist/taskd" 2>&1 | tee "$BENCH/results/bounded-latest.txt" || rc=$?
  stop_all
  exit "$rc"
fi

if [ "${BENCH_SCALE:-}" = "1" ]; then
  [ -x "$ROOT/dist/taskd" ] && [ -f "$ROOT/mod.ts" ] || { say "scale: dist/taskd not built (make build)"; exit 1; }
  if [ -n "${BENCH_SCALE_SIZES:-}" ]; then sizes="$BENCH_SCALE_SIZES"
  elif [ -n "${BENCH_QUICK:-}" ]; then sizes="20000 100000"
  else sizes="100000 1000000"; fi
  w3n="${BENCH_SCALE_W3_N:-${sizes%% *}}"            # W3 at the smallest size only
  w1n="${BENCH_SCALE_W1_N:-20000}"
  wls=" ${BENCH_SCALE_WORKLOADS:-w5 w6 w7 w3} "
  SOUT="$TMP/scale"; mkdir -p "$SOUT"
  say "== scale: sizes $sizes, W3 $w3n, workloads${wls% }, started $(date -u +%FT%TZ)"
  scale_run() {  # scale_run <workload> <n>: a fresh nats-server, the driver, then stop both
    local id="$1-$2" rc=0
    say "-- scale $1 n=$2 (load $(cut -d' ' -f1 /proc/loadavg))"
    start_nats "scale-$id"
    BENCH_PIDFILE="$PIDFILE" BENCH_BROKER_PID="$BROKER_PID" BENCH_SCALE_STORE="$TMP/nats-scale-$id/store" \
      BENCH_OUT="$SOUT/$id.json" timeout "$SYSTEM_TIMEOUT" "$BUN" run bench/scale.ts run "$1" "$2" -- "$ROOT/dist/taskd" || rc=$?
    [ -s "$SOUT/$id.json" ] \
      || printf '{"workload":"%s","n":%s,"error":"driver exited with status %s and wrote nothing"}\n' "$1" "$2" "$rc" > "$SOUT/$id.json"
    stop_all
    rm -rf "$TMP/nats-scale-$id"   # a 1M store is ~0.5-1 GiB
  }
  [[ "$wls" == *" w5 "* ]] && scale_run w1 "$w1n"   # W5's drain is compared with it
  for wl in w5 w6 w7; do
    [[ "$wls" == *" $wl "* ]] || continue
    for n in $sizes; do
      if [ "$wl" = w6 ]; then scale_run w6one "$n"; scale_run w6many "$n"; else scale_run "$wl" "$n"; fi
    done
  done
  if [[ "$wls" == *" w3 "* ]]; then
    scale_run w3a-taskd "$w3n"; scale_run w3a-raw "$w3n"; scale_run w3b "$w3n"; scale_run w3b-raw "$w3n"
  fi
  cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)"
  mem="$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)"
  versions="nats-server $(nats-server --version | grep -o '[0-9][0-9.]*' | head -1), bun $("$BUN" --version)"
  node -e 'const [date,cpu,cores,mem,versions,out]=process.argv.slice(1);
    require("fs").writeFileSync(out, JSON.stringify({date,cpu,cores:+cores,memGiB:+mem,versions,kernel:require("os").release()}))' \
    "$(date -u +%FT%TZ)" "$cpu" "$(nproc)" "$mem" "$versions" "$SOUT/machine.json"
  "$BUN" run bench/scale.ts report "$SOUT" "$BENCH/results"
  exit 0
fi

say "started $(date -u +%FT%TZ)${BENCH_QUICK:+ (quick)}${BENCH_W3:+ (with W3)}"

run raw-bun nats "$BUN" run bench/raw/client.ts raw-bun "$BUN" run
run raw-deno nats "$DENO" run -A bench/raw/client.ts raw-deno "$DENO" run -A
run bullmq redis "$BUN" run bench/peers/bullmq-client.ts bullmq "$BUN" run
run celery redis "$PY" bench/peers/celery_bench.py celery prefork

if [ ! -f "$ROOT/mod.ts" ]; then
  skip taskd-bun "mod.ts missing"
elif [ ! -x "$ROOT/dist/taskd" ]; then
  skip taskd-bun "dist/taskd not built"
else
  run taskd-bun nats "$BUN" run bench/taskd-client.ts taskd-bun -- "$ROOT/dist/taskd"
  # Observability's cost (docs/observability.md): task events forced on, and a tracer provider
  # with an exporter that drops spans; in a full run, or when named in BENCH_SYSTEMS.
  if [ -z "${BENCH_SYSTEMS:-}" ] || [[ " ${BENCH_SYSTEMS:-} " == *" taskd-bun-events "* ]]; then
    run taskd-bun-events nats "$BUN" run bench/taskd-client.ts taskd-bun-events -- "$ROOT/bench/lib/taskd_events.sh"
  fi
  if [ -z "${BENCH_SYSTEMS:-}" ] || [[ " ${BENCH_SYSTEMS:-} " == *" taskd-bun-otel "* ]]; then
    TASKD_BENCH_OTEL=1 run taskd-bun-otel nats "$BUN" run bench/taskd-client.ts taskd-bun-otel -- "$ROOT/dist/taskd"
  fi
fi
if [ ! -f "$ROOT/mod.ts" ]; then
  skip taskd-deno "mod.ts missing"
elif [ ! -f "$ROOT/$DENO_MAIN" ]; then
  skip taskd-deno "$DENO_MAIN missing"
else
  run taskd-deno nats "$DENO" run -A bench/taskd-client.ts taskd-deno -- "$DENO" run -A "$ROOT/$DENO_MAIN"
fi

# ---- the machine and the versions, then the table, JSON and chart ----------------------------
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)"
mem="$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)"
versions="nats-server $(nats-server --version | grep -o '[0-9][0-9.]*' | head -1)"
versions+=", redis $(redis-server --version | grep -o 'v=[0-9.]*' | cut -c3-)"
versions+=", bun $("$BUN" --version), deno $("$DENO" --version | head -1 | cut -d' ' -f2)"
versions+=", bullmq $(node -p 'require(process.argv[1]).version' "$BENCH/peers/node_modules/bullmq/package.json")"
versions+=", celery $("$PY" -c 'import celery; print(celery.__version__)')"
node -e 'const [date,cpu,cores,mem,versions,out]=process.argv.slice(1);
  require("fs").writeFileSync(out, JSON.stringify({date,cpu,cores:+cores,memGiB:+mem,versions,kernel:require("os").release()}))' \
  "$(date -u +%FT%TZ)" "$cpu" "$(nproc)" "$mem" "$versions" "$TMP/out/machine.json"
"$BUN" run bench/lib/report.ts "$TMP/out" "$BENCH/results"

# ---- the cost of validate mode (issue 7): the tiny task plain vs `validate: true`, one run ----
if [ -x "$ROOT/dist/taskd" ] && [ -z "${BENCH_SYSTEMS:-}" ]; then
  say "validate mode's cost on the tiny task (bench/validate_cost.ts: ratios validated/plain)"
  env -u TASKD_BROKER_URL ${BENCH_QUICK:+VCOST_ROUNDS=3} "$BUN" run bench/validate_cost.ts 2>&1 \
    | tee "$BENCH/results/validate-cost-latest.txt" || say "validate cost: failed (see above)"
fi

# ---- the cost of signed messages (issue 21): unsigned vs signed + verifying worker, one run ----
if [ -x "$ROOT/dist/taskd" ] && [ -z "${BENCH_SYSTEMS:-}" ]; then
  say "signed messages' cost on the tiny task (bench/signing_cost.ts: ratios signed/unsigned)"
  env -u TASKD_BROKER_URL ${BENCH_QUICK:+SCOST_ROUNDS=2} "$BUN" run bench/signing_cost.ts 2>&1 \
    | tee "$BENCH/results/signing-cost-latest.txt" || say "signing cost: failed (see above)"
fi
