#!/usr/bin/env bash
# Installs the Debian packages perflab's build, tests and benchmarks need.
# Idempotent: installs only what is missing (apt-get update first), never asks.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ clang libclang-rt-14-dev pkg-config git
  # libraries (DESIGN.md: tests, benchmarks, CLI, formatting, JSON, compression,
  # pprof output, stack unwinding, symbols)
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev libfmt-dev nlohmann-json3-dev zlib1g-dev
  libprotobuf-dev protobuf-compiler libunwind-dev libdw-dev libhttp-parser-dev
  # HdrHistogram's own Java tools read our interval logs in a test
  libhdrhistogram-java default-jre-headless
  # go tool pprof reads our allocation profiles in a test
  golang-go
  # real programs perflab track is tested on, and the anchor of its benchmark
  sqlite3 python3 nginx-light heaptrack libc6-dbg
  # the anchor perflab load is measured against (bench/load_bench.sh)
  wrk
  linux-perf  # perflab baseline --cpu-profile samples the server with perf (cpu-clock), else with its ptrace sampler
  # headless rendering test of report.html (tests/compare_html_chromium_test.sh)
  chromium
  # the reference event store (examples/eventstore): SQLite storage, HTTP with
  # Boost.Beast/Asio, simdjson for the pooled build's JSON path
  libsqlite3-dev libboost-dev libsimdjson-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "bootstrap: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "bootstrap: error: missing packages: ${missing[*]}" >&2
  echo "bootstrap: run this script as root (or: sudo $0) to install them" >&2
  exit 2
fi

echo "bootstrap: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "bootstrap: done"
