#!/usr/bin/env bash
# The README's test command: install what is missing, check formatting, build
# everything with g++ and with clang with warnings as errors, run the whole test
# suite, smoke-run every benchmark, and run the pool and histogram tests again
# under ThreadSanitizer and AddressSanitizer (+UBSan) builds made with clang.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

scripts/bootstrap.sh

step() { printf '\n== %s\n' "$*"; }

step "format (clang-format, the project's .clang-format)"
if git rev-parse --git-dir > /dev/null 2>&1; then
  git ls-files '*.cc' '*.hpp' | xargs clang-format --dry-run -Werror
  echo "formatted"
else
  echo "not a git checkout: format check skipped"
fi

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
  # Timings of a run this short are not figures, so its budget lines are not shown.
  echo "   ran $(grep -c "^BM_" "$bench.smoke.log") benchmarks; output in $bench.smoke.log"
done
echo "-- bench/track_bench.sh (1 run each of untracked, count, stacks, heaptrack)"
bench/track_bench.sh build 1 20000 > build/bench/track_bench.smoke.log 2>&1 \
  || { cat build/bench/track_bench.smoke.log; echo "smoke run of track_bench.sh failed"; exit 1; }
echo "   ran; output in build/bench/track_bench.smoke.log"

echo "-- bench/load_bench.py (1 run of each part, 1 s)"
python3 bench/load_bench.py build 1 1 > build/bench/load_bench.smoke.log 2>&1 \
  || { cat build/bench/load_bench.smoke.log; echo "smoke run of load_bench.py failed"; exit 1; }
echo "   ran; output in build/bench/load_bench.smoke.log"

step "build (clang, -Werror, benchmarks on) and its test suite"
cmake -S . -B build-clang -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DPERFLAB_WERROR=ON \
  -DPERFLAB_BUILD_BENCH=ON > /dev/null
cmake --build build-clang -j "$jobs"
ctest --test-dir build-clang -j "$jobs" -LE integration > build-clang/ctest.log \
  || { cat build-clang/ctest.log; exit 1; }
grep "tests passed" build-clang/ctest.log

for sanitizer in thread address,undefined; do
  dir="build-san-${sanitizer%%,*}"
  step "sanitizer build: $sanitizer (clang, -Werror), tests labelled 'sanitize'"
  fuzzers=OFF
  [ "$sanitizer" = address,undefined ] && fuzzers=ON
  cmake -S . -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPERFLAB_SANITIZE="$sanitizer" -DPERFLAB_WERROR=ON -DPERFLAB_BUILD_EXAMPLES=ON \
    -DPERFLAB_BUILD_FUZZERS=$fuzzers > /dev/null
  cmake --build "$dir" -j "$jobs"
  ctest --test-dir "$dir" -L sanitize --output-on-failure -j "$jobs"
done

step "fuzz the parsers briefly (libFuzzer + ASan/UBSan; the kept corpus replays in every build)"
for fuzzer in build-san-address/fuzz/*_fuzzer; do
  name=$(basename "$fuzzer" _fuzzer)
  work=$(mktemp -d)
  cp fuzz/corpus/"$name"/* "$work"/
  (cd "$work" && "$OLDPWD/$fuzzer" "$work" -max_total_time=15 -timeout=5 > fuzz.log 2>&1) \
    || { tail -30 "$work/fuzz.log"; echo "fuzzer $name found a failing input (in $work)"; exit 1; }
  echo "   $name: $(grep -o 'Done [0-9]* runs' "$work/fuzz.log")"
  rm -rf "$work"
done

step "all tests passed"
