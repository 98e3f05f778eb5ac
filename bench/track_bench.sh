#!/usr/bin/env bash
# perflab track's overhead, side by side in one run (DESIGN.md budgets):
#   full call stacks <= 1.5x untracked wall time; counting only <= 1.05x;
#   profile smaller than heaptrack's output; allocation counts equal heaptrack's.
# Usage: bench/track_bench.sh [BUILD_DIR] [REPEATS] [ITERATIONS]
set -euo pipefail
build=${1:-build}
repeats=${2:-5}
iterations=${3:-400000}
perflab=$(realpath "$build/src/cli/perflab")
workload=$(realpath "$build/bench/track_workload")
command -v heaptrack > /dev/null || { echo "track_bench: heaptrack not installed (apt-get install heaptrack)" >&2; exit 2; }
[ -x "$perflab" ] && [ -x "$workload" ] || { echo "track_bench: build $build with -DPERFLAB_BUILD_BENCH=ON first" >&2; exit 2; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

printf '%-8s %-10s %12s %12s %12s %10s %10s\n' threads variant "median ms" "ratio" "out bytes" allocs "heaptrack"
for threads in 1 2; do
  for variant in plain count stacks heaptrack; do : > "$scratch/$variant.times"; done
  for ((r = 0; r < repeats; r++)); do
    # Interleaved, so a noisy moment hurts every variant alike.
    t0=$(now); "$workload" "$threads" "$iterations" > /dev/null; t1=$(now)
    echo $(((t1 - t0) / 1000000)) >> "$scratch/plain.times"
    rm -rf "$scratch/count"; t0=$(now)
    "$perflab" track -q --mode count -o "$scratch/count" -- "$workload" "$threads" "$iterations" > /dev/null; t1=$(now)
    echo $(((t1 - t0) / 1000000)) >> "$scratch/count.times"
    rm -rf "$scratch/stacks"; t0=$(now)
    "$perflab" track -q --mode stacks -o "$scratch/stacks" -- "$workload" "$threads" "$iterations" > /dev/null; t1=$(now)
    echo $(((t1 - t0) / 1000000)) >> "$scratch/stacks.times"
    rm -f "$scratch"/heaptrack.out*; t0=$(now)
    (cd "$scratch" && heaptrack -o "$scratch/heaptrack.out" "$workload" "$threads" "$iterations" > /dev/null 2>&1); t1=$(now)
    echo $(((t1 - t0) / 1000000)) >> "$scratch/heaptrack.times"
  done
  plain=$(median < "$scratch/plain.times")
  ht_file=$(ls "$scratch"/heaptrack.out* | head -1)
  ht_allocs=$(heaptrack_print "$ht_file" 2>/dev/null | sed -n 's/^calls to allocation functions: \([0-9]*\).*/\1/p')
  for variant in plain count stacks heaptrack; do
    m=$(median < "$scratch/$variant.times")
    ratio=$(awk -v a="$m" -v b="$plain" 'BEGIN {printf "%.3fx", a / b}')
    bytes="-"; allocs="-"
    case $variant in
      count|stacks)
        bytes=$(du -sb "$scratch/$variant" | cut -f1)
        allocs=$(sed -n 's/.*"allocs": *\([0-9]*\).*/\1/p' "$scratch/$variant/summary.json" | head -1) ;;
      heaptrack) bytes=$(stat -c %s "$ht_file"); allocs=$ht_allocs ;;
    esac
    printf '%-8s %-10s %12s %12s %12s %10s %10s\n' "$threads" "$variant" "$m" "$ratio" "$bytes" "$allocs" "${ht_allocs:-?}"
  done
done
echo "(median of $repeats interleaved runs; ratio = wall time / untracked wall time)"
