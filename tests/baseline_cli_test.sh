#!/usr/bin/env bash
# perflab baseline, the command, with the tests' own HTTP server as the
# service: the profile it writes (summary.json groups, per-repetition samples,
# files), each tracking mode, that the server is always stopped, and the
# failures: a server that exits at once, one that never listens.
# Usage: baseline_cli_test.sh PERFLAB LOAD_TEST_SERVER
set -uo pipefail
perflab=$1
server=$2
source "$(dirname "$0")/cli_test_lib.sh"

# A load file whose rates end in a pause, so a slow machine still sends every
# request of a repetition: counts are exact.
port=$(free_port)
load="$scratch/load.json"
printf '{"url": "http://127.0.0.1:%s/", "rate": "200/1s,0/0.5s", "connections": 2}\n' "$port" > "$load"

# run_baseline DIR TRACK: a good run; checks exit 0, the files and the schema.
run_baseline() {
  local dir=$1 track=$2 out rc
  out=$("$perflab" baseline --repeat 3 --warmup 0.2s --track "$track" -o "$dir" --load "$load" \
    -- "$server" --port "$port" 2>&1)
  rc=$?
  if [ "$rc" -ne 0 ]; then
    fail "baseline --track $track exited $rc"$'\n'"$out"
    return
  fi
  echo "ok: baseline --track $track -> 0"
  for file in summary.json README.md load.json latency.hlog server.log report.html; do
    [ -s "$dir/$file" ] || [ "$file" = server.log ] || fail "--track $track: no $file"
  done
  local s="$dir/summary.json"
  [ "$(json "$s" 'd["schema"]')" = "perflab.profile/1" ] || fail "schema"
  [ "$(json "$s" 'd["run"]["tool"]')" = "perflab baseline" ] || fail "run.tool"
  [ "$(json "$s" 'd["run"]["repetitions"]')" = 3 ] || fail "run.repetitions != 3"
  [ "$(json "$s" 'd["run"]["server_command"][0]')" = "$server" ] || fail "run.server_command"
  json "$s" 'd["run"]["exit"]' | grep -q "stopped by perflab" || fail "run.exit"
  # Three repetitions of 200 requests, merged exactly.
  [ "$(json "$s" 'd["load"]["requests"]')" = 600 ] || fail "load.requests != 600"
  [ "$(json "$s" 'd["load"]["error_rate"]')" = 0.0 ] || fail "load.error_rate != 0"
  for metric in throughput_rps latency_p50_us latency_p99_us latency_max_us error_rate \
    cpu_per_op_us; do
    [ "$(json "$s" "len(d['samples']['$metric'])")" = 3 ] || fail "samples.$metric: not 3 values"
  done
  [ "$(json "$s" 'all(v > 100 for v in d["samples"]["throughput_rps"])')" = True ] ||
    fail "samples.throughput_rps: $(json "$s" 'd["samples"]["throughput_rps"]')"
  [ "$(json "$s" 'd["cpu"]["cpu_per_op_us"] >= 0 and "user_s" in d["cpu"]')" = True ] || fail "cpu"
  [ "$(json "$s" 'd["memory"]["peak_rss_bytes"] > 0')" = True ] || fail "memory.peak_rss_bytes"
  if [ "$track" = off ]; then
    [ "$(json "$s" '"alloc" in d or "allocs_per_op" in d["samples"]')" = False ] ||
      fail "--track off: alloc figures"
    [ -e "$dir/allocs.pb.gz" ] && fail "--track off: allocs.pb.gz"
  else
    [ "$(json "$s" 'len(d["samples"]["allocs_per_op"])')" = 3 ] || fail "samples.allocs_per_op"
    # load_test_server allocates nothing per request but does per connection
    # (its accept path), and every repetition opens its 2 connections: a few
    # allocations per repetition, so allocs_per_op is small and positive.
    [ "$(json "$s" 'all(0 < v < 5 for v in d["samples"]["allocs_per_op"])')" = True ] ||
      fail "samples.allocs_per_op: $(json "$s" 'd["samples"]["allocs_per_op"]')"
    [ "$(json "$s" 'd["alloc"]["allocs_per_op"] > 0 and d["alloc"]["allocs"] > 0')" = True ] ||
      fail "alloc group"
    [ -s "$dir/allocs.pb.gz" ] || fail "--track $track: no allocs.pb.gz"
    [ -s "$dir/timeline.csv" ] || fail "--track $track: no timeline.csv"
    [ -e "$dir/.dumps" ] && fail "--track $track: the recorder's dumps were left in the profile"
  fi
  port_accepts "$port" && fail "--track $track: the server still accepts connections"
}

run_baseline "$scratch/count" count
run_baseline "$scratch/stacks" stacks
run_baseline "$scratch/off" off
[ "$("$perflab" report "$scratch/stacks" | grep -c test_http_server.cc)" -gt 0 ] ||
  fail "--track stacks: no call site in the server's source"

# --cpu-profile: perf samples the server spinning 200 us of CPU per request;
# its spinning function must lead cpu.folded, and go tool pprof must read
# cpu.pb.gz. Skipped where perf cannot sample (not installed, or
# kernel.perf_event_paranoid too high for this user).
if perf record -q -e cpu-clock -o /dev/null -- true > /dev/null 2>&1; then
  cpu="$scratch/cpu"
  out=$("$perflab" baseline --cpu-profile --track off --repeat 2 --warmup 0.2s -o "$cpu" \
    --load "$load" -- "$server" --port "$port" --work-us 200 2>&1)
  rc=$?
  if [ "$rc" -ne 0 ]; then
    fail "baseline --cpu-profile exited $rc"$'\n'"$out"
  else
    echo "ok: baseline --cpu-profile -> 0"
    [ -s "$cpu/cpu.folded" ] || fail "--cpu-profile: no cpu.folded"$'\n'"$out"
    [ -s "$cpu/cpu.pb.gz" ] || fail "--cpu-profile: no cpu.pb.gz"
    # The server is built with debug info: perf names the spin loop, inlined
    # (GCC: "spin_for_work") or not (Clang: "(anonymous namespace)::...").
    grep -Eq '(^|;|::)spin_for_work[^;]* [0-9]+$' "$cpu/cpu.folded" ||
      fail "--cpu-profile: no spin_for_work in cpu.folded"$'\n'"$(head -20 "$cpu/cpu.folded")"
    [ "$(json "$cpu/summary.json" 'd["cpu"]["profile"]["samples"] > 0')" = True ] ||
      fail "--cpu-profile: summary cpu.profile.samples"
    [ "$(json "$cpu/summary.json" 'd["cpu"]["profile"]["tool"]')" = "perf cpu-clock 999 Hz" ] ||
      fail "--cpu-profile: summary cpu.profile.tool"
    [ -e "$cpu/.perf" ] && fail "--cpu-profile: perf's work files were left in the profile"
    if command -v go > /dev/null; then
      top=$(go tool pprof -top "$cpu/cpu.pb.gz" 2>&1)
      if grep -q "Type: cpu" <<< "$top" && grep -q spin_for_work <<< "$top"; then
        echo "ok: go tool pprof reads cpu.pb.gz"
      else
        fail "go tool pprof -top cpu.pb.gz:"$'\n'"$top"
      fi
    else
      echo "skipped: go tool pprof check (no go)"
    fi
  fi
  port_accepts "$port" && fail "--cpu-profile: the server still accepts connections"
else
  echo "skipped: --cpu-profile (perf cannot sample here)"
fi

# expect_failure PATTERN MAX_SECONDS ARGS...: exit 2 within MAX_SECONDS, a
# message matching PATTERN, and no profile directory (nor a temporary one).
# Leaves perflab's output in $out.
expect_failure() {
  local pattern=$1 max_s=$2 rc start elapsed
  shift 2
  start=$(date +%s)
  out=$("$perflab" baseline -o "$scratch/failed" --load "$load" "$@" 2>&1)
  rc=$?
  elapsed=$(($(date +%s) - start))
  if [ "$rc" -ne 2 ]; then
    fail "baseline $* exited $rc, expected 2"$'\n'"$out"
  elif ! grep -Eq -- "$pattern" <<< "$out"; then
    fail "baseline $* printed no /$pattern/"$'\n'"$out"
  elif [ "$elapsed" -gt "$max_s" ]; then
    fail "baseline $* took ${elapsed}s"
  else
    echo "ok: baseline $* -> 2"
  fi
  [ -n "$(ls -A "$scratch" | grep failed)" ] && fail "baseline $* left $(ls -A "$scratch" | grep failed)"
}

expect_failure "perflab: error: the server exited with status 1" 10 -- false
expect_failure "perflab: error: the server is not listening on 127.0.0.1:$port after 1 s" 5 \
  --ready-timeout 1s -- sleep 30
# The server perflab started (its pid is in the progress line) is gone.
sleep_pid=$(sed -n 's/.*started sleep (pid \([0-9]*\).*/\1/p' <<< "$out")
[ -n "$sleep_pid" ] || fail "no pid in: $out"
[ -n "$sleep_pid" ] && kill -0 "$sleep_pid" 2> /dev/null && fail "sleep 30 (pid $sleep_pid) left running"
expect_failure "perflab: error: .*command not found" 5 -- no-such-server-binary
expect_failure "perflab: error: .*--track" 5 --track sometimes -- "$server" --port "$port"
# --cpu-sampler perf where perf cannot sample: exit 2 with perf's reason and
# the hint, before the server starts. (auto would fall back to the built-in
# sampler: tests/cpu_sampler_cli_test.sh.)
mkdir -p "$scratch/broken-perf"
printf '#!/bin/sh\necho "perf_event_paranoid setting is 4" >&2\nexit 255\n' > "$scratch/broken-perf/perf"
chmod +x "$scratch/broken-perf/perf"
PATH="$scratch/broken-perf:$PATH" expect_failure \
  "perflab: error: --cpu-profile: .*paranoid setting is 4.*install linux-perf" 5 \
  --cpu-profile --cpu-sampler perf -- "$server" --port "$port"

finish "all baseline checks passed"
