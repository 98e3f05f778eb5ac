#!/usr/bin/env bash
# The README's main job in small, as a test: perflab baseline of the event
# store plain (--pool=off) and pooled (--pool=on) under the bundled load file,
# then perflab compare. Asserts counts, never timings: both runs served the
# 10:1 mix without errors, the pooled run's profile has the pools scraped from
# /metrics with a hit rate >= 90% and the plain one has none, the pooled build
# makes at most half the allocations per request, and compare's verdict on
# allocs_per_op is not a failure. Throughput and latency are left to the main
# job (scripts/demo.sh): on a shared 2-core machine they are not test material.
# Usage: eventstore_loop_test.sh PERFLAB EVENTSTORE LOAD_FILE
set -uo pipefail
perflab=$1
eventstore=$2
load_file=$3
source "$(dirname "$0")/cli_test_lib.sh"

port=$(free_port)
for mode in off on; do
  "$perflab" baseline -q -o "$scratch/$mode" --load "$load_file" --url "http://127.0.0.1:$port/rpc" \
    --repeat 3 --duration 1s --warmup 0.5s \
    -- "$eventstore" --port "$port" --db "$scratch/$mode.db" --pool="$mode" \
    || fail "baseline --pool=$mode exited $?: $(tail -5 "$scratch/$mode/server.log" 2>/dev/null)"
done
[ "$failures" -eq 0 ] || finish ""

for mode in off on; do
  s="$scratch/$mode/summary.json"
  completed=$(json "$s" 'd["load"]["requests"]')
  errors=$(json "$s" 'd["load"]["errors"]["total"]')
  [ "$completed" -gt 1000 ] || fail "--pool=$mode: only $completed requests completed"
  [ "$errors" -eq 0 ] || fail "--pool=$mode: $errors errors"
  writes=$(json "$s" '[r["requests"] for r in d["load"]["by_request"] if r["name"]=="stream.write"][0]')
  reads=$(json "$s" 'sum(r["requests"] for r in d["load"]["by_request"] if r["name"] in ("stream.get","stream.last"))')
  python3 -c "import sys; w,r=$writes,$reads; sys.exit(0 if abs(w/r-10)<0.5 else 1)" \
    || fail "--pool=$mode: mix $writes writes to $reads reads, not 10:1"
  [ -s "$scratch/$mode/report.html" ] || fail "--pool=$mode: no report.html"
done

[ "$(json "$scratch/off/summary.json" '"pools" in d')" = False ] \
  || fail "the plain build reported pools"
hit_rate=$(json "$scratch/on/summary.json" 'sum(p["hits"] for p in d["pools"])/sum(p["gets"] for p in d["pools"])')
python3 -c "import sys; sys.exit(0 if $hit_rate >= 0.9 else 1)" \
  || fail "pooled hit rate $hit_rate under load, expected >= 0.9"
samples=$(json "$scratch/on/summary.json" 'len(d["samples"]["pool_hit_rate"])')
[ "$samples" -eq 3 ] || fail "pool_hit_rate has $samples samples, expected one per repetition"

plain=$(json "$scratch/off/summary.json" 'd["alloc"]["allocs_per_op"]')
pooled=$(json "$scratch/on/summary.json" 'd["alloc"]["allocs_per_op"]')
echo "allocs per request: plain $plain, pooled $pooled; pooled hit rate $hit_rate"
python3 -c "import sys; sys.exit(0 if $pooled <= 0.5 * $plain else 1)" \
  || fail "pooled allocs/op $pooled is not at most half of plain $plain"

out=$("$perflab" compare "$scratch/off" "$scratch/on" --criteria 'allocs_per_op <= -50%' \
  --format json --report "$scratch/compare.html" 2>&1)
rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || fail "compare exited $rc (expected pass, or inconclusive with 3 repetitions)"$'\n'"$out"
[ -s "$scratch/compare.html" ] || fail "compare wrote no report"

finish "event store: plain and pooled baselines, pools scraped, allocations halved, compare ran"
