#!/usr/bin/env bash
# The loop end to end: baselines of two "builds" of a real server (the load
# tests' own HTTP server, spinning 200 us of CPU per request, and a build that
# does 20% more work: 240 us), and compare with default settings:
#  - the costlier build fails 'cpu_per_op_us <= +5%' (exit 1);
#  - a second run of the same build is no change: it passes 'cpu_per_op_us <= +25%'
#    and no criterion fails.
# Usage: baseline_compare_test.sh PERFLAB LOAD_TEST_SERVER
set -uo pipefail
perflab=$1
server=$2
source "$(dirname "$0")/cli_test_lib.sh"

port=$(free_port)
cat > "$scratch/load.json" << EOF
{"url": "http://127.0.0.1:$port/", "connections": 4, "rate": 800, "duration": "1s"}
EOF

baseline() {  # baseline NAME WORK_US
  "$perflab" baseline -q --track off --load "$scratch/load.json" --repeat 8 --warmup 0.3s \
    -o "$scratch/$1" -- "$server" --port "$port" --work-us "$2" \
    || fail "baseline $1 exited $?"
}
baseline base 200
baseline same 200
baseline costlier 240

out=$("$perflab" compare "$scratch/base" "$scratch/costlier" --criteria 'cpu_per_op_us <= +5%' 2>&1)
rc=$?
echo "$out"
[ "$rc" -eq 1 ] || fail "20% more work per request: compare exited $rc, expected 1 (fail)"
grep -q "fail: the whole" <<< "$out" || fail "no reason given for the failure"

out=$("$perflab" compare "$scratch/base" "$scratch/same" --criteria 'cpu_per_op_us <= +25%' 2>&1)
rc=$?
echo "$out"
[ "$rc" -eq 0 ] || fail "two runs of one build: compare exited $rc, expected 0 (pass)"

finish "known regression detected; A/A passed"
