#!/usr/bin/env bash
# The README's main job: install what is missing, build perflab and the bundled
# event store (examples/eventstore), then run the whole loop on it: a baseline
# of the plain build (--pool=off), a baseline of the pooled build (--pool=on),
# and a compare of the two with the criteria a CI job would gate on. Prints the
# verdict table and where the HTML report is. Exits 0 once the loop has run
# (whatever the verdict: it is printed), 2 when something could not run; with
# --gate, exits with compare's verdict instead (0 pass, 1 fail, 3 inconclusive),
# as a CI job would.
#
#   scripts/demo.sh [--repeat K] [--duration 3s] [--out DIR] [--gate]
set -euo pipefail
cd "$(dirname "$0")/.."

repeat=6
duration=3s
out=profiles
gate=0
while [ $# -gt 0 ]; do
  case "$1" in
    --repeat) repeat="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --gate) gate=1; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

scripts/bootstrap.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPERFLAB_BUILD_EXAMPLES=ON \
  > build-configure.log || { cat build-configure.log; exit 2; }
rm -f build-configure.log
cmake --build build --target perflab_cli perflab_track_preload eventstore
perflab=build/src/cli/perflab
eventstore=build/examples/eventstore/eventstore
echo
"$perflab" --version

# A free port on loopback, and fresh databases: both runs start from an empty
# store, so neither measures the other's data.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
rm -rf "$out/eventstore-plain" "$out/eventstore-pooled"

for mode in off on; do
  name=plain
  [ "$mode" = on ] && name=pooled
  echo
  echo "== baseline of the event store, --pool=$mode ($repeat x $duration, closed loop, 10 writes : 1 read)"
  "$perflab" baseline -o "$out/eventstore-$name" --load examples/eventstore/load.json \
    --url "http://127.0.0.1:$port/rpc" --repeat "$repeat" --duration "$duration" --warmup 1s \
    -- "$eventstore" --port "$port" --db "$work/$name.db" --pool="$mode"
done

echo
echo "== compare: plain (base) vs pooled (candidate)"
set +e
"$perflab" compare "$out/eventstore-plain" "$out/eventstore-pooled" \
  --criteria 'allocs_per_op <= -50%' 'throughput_rps >= +25%' 'latency_p99_us <= +0%' \
  --report "$out/eventstore-compare.html"
verdict=$?
set -e
if [ "$verdict" -eq 2 ]; then
  echo "demo.sh: perflab compare could not compare the two runs (above)" >&2
  exit 2
fi

echo
echo "== the event store's own goals"
python3 - "$out/eventstore-pooled/summary.json" << 'PY'
import json, sys
s = json.load(open(sys.argv[1]))
goal = 2 * 10986  # the Go event store's published 10:1 figure on SQLite, doubled
rps = s["load"]["throughput_rps"]
print(f"  pooled throughput  {rps:,.0f} req/s  (goal >= {goal:,}: {'met' if rps >= goal else 'NOT met'})")
pools = s.get("pools", [])
gets = sum(p["gets"] for p in pools)
hits = sum(p["hits"] for p in pools)
if gets:
    rate = hits / gets
    print(f"  pool hit rate      {100 * rate:.2f}%  (goal >= 90%: {'met' if rate >= 0.9 else 'NOT met'})")
idle = s.get("memory", {}).get("pool_idle_bytes")
if idle is not None:
    print(f"  pool idle memory   {idle / 1048576:.2f} MiB after the load  "
          f"(goal <= 10 MiB: {'met' if idle <= 10 * 1048576 else 'NOT met'})")
PY

echo
echo "report: $out/eventstore-compare.html (and each run's report.html in $out/eventstore-plain, $out/eventstore-pooled)"
[ "$gate" -eq 1 ] && exit $verdict
exit 0
