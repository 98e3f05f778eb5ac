#!/usr/bin/env bash
# perflab compare, the command: exit codes 0 pass, 1 fail, 2 bad input,
# 3 inconclusive (and --inconclusive), the three formats.
# Usage: compare_cli_test.sh PERFLAB
set -uo pipefail
perflab=$1
source "$(dirname "$0")/cli_test_lib.sh"

profile() {  # profile DIR THROUGHPUT... : a profile with throughput samples and fixed allocs
  local dir=$1
  shift
  mkdir -p "$dir"
  local list
  list=$(IFS=,; echo "$*")
  cat > "$dir/summary.json" << EOF
{"schema": "perflab.profile/1", "load": {"mode": "open", "connections": 8},
 "samples": {"throughput_rps": [$list], "allocs_per_op": [12, 12, 12, 12, 12, 12, 12, 12]}}
EOF
}

profile "$scratch/base" 1000 1010 990 1005 995 1002 998 1008
profile "$scratch/faster" 1300 1310 1290 1305 1295 1302 1298 1308
profile "$scratch/same" 1001 1009 991 1004 996 1003 997 1007
profile "$scratch/few-base" 1000 1010 990 1005
profile "$scratch/few-faster" 1100 1110 1090 1105

expect_exit 0 "criteria: PASS" -- compare "$scratch/base" "$scratch/faster" --criteria 'throughput_rps >= +25%'
expect_exit 1 "criteria: FAIL" -- compare "$scratch/base" "$scratch/same" --criteria 'throughput_rps >= +10%'
expect_exit 0 "throughput_rps" -- compare "$scratch/base" "$scratch/same"
expect_exit 3 "INCONCLUSIVE" -- compare "$scratch/few-base" "$scratch/few-faster" --alpha 0.01 --criteria 'throughput_rps >= +5%'
expect_exit 0 "INCONCLUSIVE" -- compare "$scratch/few-base" "$scratch/few-faster" --alpha 0.01 --criteria 'throughput_rps >= +5%' --inconclusive pass
expect_exit 1 "INCONCLUSIVE" -- compare "$scratch/few-base" "$scratch/few-faster" --alpha 0.01 --criteria 'throughput_rps >= +5%' --inconclusive fail
expect_exit 0 "^\| throughput_rps \|" -- compare "$scratch/base" "$scratch/faster" --format markdown
expect_exit 0 '"verdict": "pass"' -- compare "$scratch/base" "$scratch/faster" --format json --criteria 'allocs_per_op <= +0%'

expect_exit 0 "criteria: PASS" -- compare "$scratch/base" "$scratch/faster" --criteria 'throughput_rps >= +25%' --report "$scratch/report.html"
grep -q '<svg id="throughput"' "$scratch/report.html" || fail "--report wrote no throughput plot"
expect_exit 0 "<!DOCTYPE html>" -- compare "$scratch/base" "$scratch/faster" --format html

# --calibrate: two runs of one build give each metric's noise floor; a
# criterion tighter than it is flagged (exit 3), a looser one is not (exit 0).
expect_exit 3 "tighter than the noise floor" -- compare --calibrate "$scratch/base" "$scratch/same" --criteria 'throughput_rps >= +0.1%'
expect_exit 0 "noise floor" -- compare --calibrate "$scratch/base" "$scratch/same" --criteria 'throughput_rps >= +10%'

# Bad input: exit 2 with the file or the criterion named.
expect_exit 2 "perflab: error: .*nowhere" -- compare "$scratch/nowhere" "$scratch/base"
expect_exit 2 "perflab: error: .*throughput_rsp.*did you mean throughput_rps" -- compare "$scratch/base" "$scratch/faster" --criteria 'throughput_rsp >= +25%'
mkdir -p "$scratch/corrupt" && echo '{"schema": ' > "$scratch/corrupt/summary.json"
expect_exit 2 "perflab: error: .*corrupt/summary.json" -- compare "$scratch/corrupt" "$scratch/base"
expect_exit 2 "perflab: error: .*--format" -- compare "$scratch/base" "$scratch/faster" --format html5

finish "all compare CLI checks passed"
