#!/usr/bin/env bash
# The `taskd-bun-events` row's worker: dist/taskd with task events forced on (-E).
exec "$(dirname "$0")/../../dist/taskd" "$@" -E
