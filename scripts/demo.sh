#!/usr/bin/env bash
# The README's main job: install what is missing, build perflab, and run the
# bundled example, which serves the same requests plain and pooled and prints
# allocations, throughput, latency and the pools' own stats side by side.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > build-configure.log \
  || { cat build-configure.log; exit 1; }
rm -f build-configure.log
cmake --build build --target pool_demo perflab_cli
echo
build/src/cli/perflab --version
build/examples/pool_demo/pool_demo "$@"
