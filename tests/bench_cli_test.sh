#!/usr/bin/env bash
# perflab bench, the command, with the tests' own Google Benchmark binary
# (bench_programs/tiny_bench.cc): the profile directory it writes, exit 2 when
# the binary is missing or fails, and interleaved rounds of two binaries.
# Usage: bench_cli_test.sh PERFLAB TINY_BENCH COUNTS_ALLOCS(0|1)
set -uo pipefail
perflab=$1
tiny_bench=$2
counts_allocs=$3
source "$(dirname "$0")/cli_test_lib.sh"

# check DESCRIPTION PYTHON_EXPRESSION FILE: the expression over the JSON
# document d must be true.
check() {
  if python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$3"; then
    echo "ok: $1"
  else
    fail "$1 ($2 on $3)"
  fi
}

# A run: benchmarks.json as the binary wrote it, the medians in summary.json.
dir=$scratch/run
expect_exit 0 "profile written to" -- bench --repeat 5 -o "$dir" -- "$tiny_bench" \
  --benchmark_min_time=0.01
for file in benchmarks.json summary.json README.md; do
  [ -s "$dir/$file" ] || fail "$dir/$file is missing"
done
if [ -s "$dir/summary.json" ]; then
  check "5 repetitions of each benchmark in benchmarks.json" \
    "[b['run_name'] for b in d['benchmarks'] if b['run_type'] == 'iteration'].count('BM_Sum') == 5" \
    "$dir/benchmarks.json"
  check "summary names the tool and the repetitions" \
    "d['run']['tool'] == 'perflab bench' and d['run']['repetitions'] == 5 and d['schema']" \
    "$dir/summary.json"
  check "summary has medians for BM_Vector and BM_Sum" \
    "all(k in d['bench'] for k in ('BM_Vector/1024', 'BM_Sum')) and d['bench']['BM_Sum']['real_time_ns'] > 0 and d['bench']['BM_Sum']['cpu_time_ns'] > 0" \
    "$dir/summary.json"
  check "summary leaves samples out" "'samples' not in d" "$dir/summary.json"
  if [ "$counts_allocs" = 1 ]; then
    # BM_Vector allocates one vector per iteration; BM_Sum shows only Google
    # Benchmark's own block (below 1).
    check "BM_Vector allocates about once per iteration" \
      "1 <= d['bench']['BM_Vector/1024']['allocs_per_iteration'] < 2" "$dir/summary.json"
    check "BM_Sum allocates less than once per iteration" \
      "d['bench']['BM_Sum']['allocs_per_iteration'] < 1" "$dir/summary.json"
  fi
fi

# An existing directory is refused before anything runs.
expect_exit 2 "exists" -- bench -q -o "$dir" -- "$tiny_bench"

# --name, --filter, -q: the binary's output hidden, one benchmark only.
(cd "$scratch" && "$perflab" bench -q --name filtered --repeat 2 --filter BM_Sum \
  --min-time 0.01 -- "$tiny_bench" > "$scratch/quiet.out" 2>&1) || fail "bench --name failed"
[ -s "$scratch/quiet.out" ] && fail "-q printed: $(cat "$scratch/quiet.out")"
if [ -s "$scratch/profiles/filtered/summary.json" ]; then
  check "--filter BM_Sum runs BM_Sum only" "list(d['bench']) == ['BM_Sum']" \
    "$scratch/profiles/filtered/summary.json"
else
  fail "--name filtered wrote no profiles/filtered/summary.json"
fi

# The binary's failures: exit 2, with what happened.
expect_exit 2 "does not exist" -- bench -o "$scratch/missing" -- "$scratch/no_such_bench"
expect_exit 2 "not found on PATH" -- bench -o "$scratch/missing" -- no_such_bench_anywhere
chmod -x "$scratch/quiet.out"
expect_exit 2 "not executable" -- bench -o "$scratch/missing" -- "$scratch/quiet.out"
cat > "$scratch/failing_bench" << 'SCRIPT'
#!/bin/sh
echo "the benchmark could not open its data" >&2
exit 1
SCRIPT
chmod +x "$scratch/failing_bench"
expect_exit 2 "exited with status 1.*stderr:" -- bench -o "$scratch/missing" -- "$scratch/failing_bench"
expect_exit 2 "could not open its data" -- bench -o "$scratch/missing" -- "$scratch/failing_bench"
expect_exit 2 "wrote no JSON" -- bench -o "$scratch/missing" -- true
expect_exit 2 "wrote no JSON.*filter|Failed to match" -- bench -o "$scratch/missing" \
  --filter no_such_benchmark -- "$tiny_bench"
[ -e "$scratch/missing" ] && fail "a failed run left $scratch/missing behind"
expect_exit 2 "benchmark_binary is required" -- bench -o "$scratch/missing"
expect_exit 2 "--rounds requires --interleave-with" -- bench --rounds 2 -o "$scratch/missing" \
  -- "$tiny_bench"

# Interleaved: base and candidate (tiny_bench with TINY_BENCH_SLOWER=1, through
# a wrapper script) alternate, 3 rounds: one iteration entry per benchmark per
# round on each side, in round order.
cat > "$scratch/slower_bench" << SCRIPT
#!/bin/sh
TINY_BENCH_SLOWER=1 exec "$tiny_bench" "\$@"
SCRIPT
chmod +x "$scratch/slower_bench"
dir=$scratch/interleaved
expect_exit 0 "3 rounds" -- bench --interleave-with "$scratch/slower_bench" --rounds 3 \
  -o "$dir" -- "$tiny_bench" --benchmark_min_time=0.01
for side in base candidate; do
  if [ -s "$dir/$side.json" ]; then
    check "$side.json: 3 iteration entries per benchmark, in round order" \
      "all([b['repetition_index'] for b in d['benchmarks'] if b['run_name'] == n] == [0, 1, 2] for n in ('BM_Sum', 'BM_Vector/1024')) and all(b['run_type'] == 'iteration' for b in d['benchmarks'])" \
      "$dir/$side.json"
  else
    fail "$dir/$side.json is missing"
  fi
done
expect_exit 2 "exited with status 1" -- bench --interleave-with "$scratch/failing_bench" \
  --rounds 2 -o "$scratch/missing" -- "$tiny_bench" --benchmark_min_time=0.01

# compare reads a bench directory as its benchmark set, and runs two binaries
# interleaved: BM_Sum with twice the work fails a 5% budget (exit 1).
expect_exit 0 "BM_Sum cpu_time_ns" -- compare "$scratch/run" "$scratch/run"
for side in fast slow; do
  slower=0
  [ "$side" = slow ] && slower=1
  printf '#!/bin/sh\nTINY_BENCH_SLOWER=%s exec "%s" --benchmark_min_time=0.1 "$@"\n' \
    "$slower" "$tiny_bench" > "$scratch/${side}_bench"
  chmod +x "$scratch/${side}_bench"
done
expect_exit 1 "fail .*BM_Sum" -- compare --binaries "$scratch/fast_bench" "$scratch/slow_bench" \
  --rounds 8 --criteria 'cpu_time_ns <= +5%'

finish "all bench CLI tests passed"
