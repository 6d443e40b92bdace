#!/usr/bin/env bash
# Runs the whole suite on Bun and on Deno and ends with one line `tests: N passed, N failed`
# summing both. Deno counts a describe() as a test and its inner tests as steps, so every test
# file wraps its tests in describe() and the steps are what is counted.
# TASKD_TEST_RUNTIMES="bun" (or "deno") runs on that runtime only.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=node_modules/.bin
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(tests/*.test.ts)

log_bun=$(mktemp); log_deno=$(mktemp)
trap 'rm -f "$log_bun" "$log_deno"' EXIT

runtimes=" ${TASKD_TEST_RUNTIMES:-bun deno} "
bun_rc=0; deno_rc=0
if [[ "$runtimes" == *" bun "* ]]; then
  echo "== bun test =="
  "$BIN/bun" test --timeout 300000 "${files[@]}" 2>&1 | tee "$log_bun"
  bun_rc=${PIPESTATUS[0]}
fi
if [[ "$runtimes" == *" deno "* ]]; then
  echo "== deno test =="
  NO_COLOR=1 "$BIN/deno" test -A "${files[@]}" 2>&1 | tee "$log_deno"
  deno_rc=${PIPESTATUS[0]}
fi

# bun: " 17 pass" / " 1 fail" lines
bp=$(grep -E '^ *[0-9]+ pass$' "$log_bun" | tail -1 | grep -oE '[0-9]+' || echo 0)
bf=$(grep -E '^ *[0-9]+ fail$' "$log_bun" | tail -1 | grep -oE '[0-9]+' || echo 0)
# deno: "ok | 4 passed (17 steps) | 0 failed" or "FAILED | 2 passed (15 steps) | 2 failed (2 steps)"
summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log_deno" | grep -E '^(ok|FAILED) \| ' | tail -1)
count() { # $1: passed|failed
  local part; part=$(echo "$summary" | grep -oE "[0-9]+ $1( \([0-9]+ steps?\))?" | head -1)
  if [[ "$part" =~ \(([0-9]+)\ steps?\) ]]; then echo "${BASH_REMATCH[1]}"; else echo "${part%% *}"; fi
}
dp=$(count passed); df=$(count failed)
dp=${dp:-0}; df=${df:-0}
# A runner that crashed before its summary counts as one failure.
[ "$bun_rc" -ne 0 ] && [ "$bf" -eq 0 ] && bf=1
[ "$deno_rc" -ne 0 ] && [ "$df" -eq 0 ] && df=1
# The failed tests by name, above the summary (CI shows a run's last lines).
if [ $((bf + df)) -gt 0 ]; then
  echo "failed:"
  grep -E '^\(fail\) ' "$log_bun" | sort -u | sed 's/^/  bun: /'
  sed 's/\x1b\[[0-9;]*m//g' "$log_deno" | grep -E ' \.\.\. FAILED' | sed 's/^ */  deno: /'
fi
echo "bun: $bp passed, $bf failed; deno: $dp passed, $df failed"
echo "tests: $((bp + dp)) passed, $((bf + df)) failed"
[ $((bf + df)) -eq 0 ] && [ "$bun_rc" -eq 0 ] && [ "$deno_rc" -eq 0 ]
