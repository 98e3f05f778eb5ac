#!/usr/bin/env bash
# The README's test command: install what is missing, build everything with
# warnings as errors, run the whole test suite, smoke-run every benchmark, and
# run the pool and histogram tests again under ThreadSanitizer and
# AddressSanitizer (+UBSan) builds made with clang.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

scripts/bootstrap.sh

step() { printf '\n== %s\n' "$*"; }

step "build (g++, -Werror, benchmarks on)"
cmake -S . -B build -G Ninja -DPERFLAB_WERROR=ON -DPERFLAB_BUILD_BENCH=ON > /dev/null
cmake --build build -j "$jobs"

step "test suite"
ctest --test-dir build --output-on-failure -j "$jobs"

step "benchmark smoke runs (short; the real figures come from bench/README.md)"
for bench in build/bench/*_bench; do
  echo "-- $bench"
  "$bench" --benchmark_min_time=0.001 --benchmark_repetitions=1 > "$bench.smoke.log" 2>&1 \
    || { cat "$bench.smoke.log"; echo "smoke run of $bench failed"; exit 1; }
  grep -E "ok|MISSED|not run|allocations" "$bench.smoke.log" || true
done

for sanitizer in thread address,undefined; do
  dir="build-san-${sanitizer%%,*}"
  step "sanitizer build: $sanitizer (clang, -Werror), tests labelled 'sanitize'"
  cmake -S . -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPERFLAB_SANITIZE="$sanitizer" -DPERFLAB_WERROR=ON -DPERFLAB_BUILD_EXAMPLES=OFF > /dev/null
  cmake --build "$dir" -j "$jobs"
  ctest --test-dir "$dir" -L sanitize --output-on-failure -j "$jobs"
done

step "all tests passed"
