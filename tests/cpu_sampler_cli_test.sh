#!/usr/bin/env bash
# perflab baseline --cpu-profile with the built-in sampler (perflab's own
# ptrace sampler) on the tests' HTTP server spinning CPU per request: the
# profile it writes, and a server that still stops on SIGTERM and is gone
# afterwards. auto without perf falls back to it and says why; --cpu-sampler
# perf without perf, and the built-in sampler with ptrace refused (no_ptrace:
# a seccomp filter), exit 2 naming the reasons.
# Usage: cpu_sampler_cli_test.sh PERFLAB LOAD_TEST_SERVER NO_PTRACE
set -uo pipefail
perflab=$1
server=$2
no_ptrace=$3
source "$(dirname "$0")/cli_test_lib.sh"

# Closed loop: the single-threaded server spins 200 us per request, so it is
# on CPU nearly all the time and the sampler has something to see.
port=$(free_port)
load="$scratch/load.json"
printf '{"url": "http://127.0.0.1:%s/", "connections": 2, "duration": "1s"}\n' "$port" > "$load"
# No perf on this PATH: the server and perflab are given by absolute paths.
no_perf="$scratch/no-perf-bin"
mkdir -p "$no_perf"

# check_builtin_profile DIR OUT REASON: the CPU files and figures of a run
# the built-in sampler profiled for REASON, and its server gone.
check_builtin_profile() {
  local dir=$1 out=$2 reason=$3 heaviest top pid
  [ -s "$dir/cpu.folded" ] || fail "no cpu.folded"$'\n'"$out"
  [ -s "$dir/cpu.pb.gz" ] || fail "no cpu.pb.gz"
  heaviest=$(awk '{print $NF "\t" $0}' "$dir/cpu.folded" | sort -rn | head -1 | cut -f2-)
  grep -q 'spin_for_work' <<< "$heaviest" ||
    fail "the heaviest stack has no spin_for_work: $heaviest"$'\n'"$(head -20 "$dir/cpu.folded")"
  local s="$dir/summary.json"
  [ "$(json "$s" 'd["cpu"]["profile"]["samples"] > 20')" = True ] ||
    fail "cpu.profile.samples: $(json "$s" 'd["cpu"]["profile"]')"
  [ "$(json "$s" 'd["cpu"]["profile"]["tool"]')" = "builtin ptrace 199 Hz" ] ||
    fail "cpu.profile.tool: $(json "$s" 'd["cpu"]["profile"]["tool"]')"
  json "$s" 'd["cpu"]["profile"]["reason"]' | grep -q -- "$reason" ||
    fail "cpu.profile.reason: $(json "$s" 'd["cpu"]["profile"]["reason"]'), expected /$reason/"
  grep -q "sampled by builtin ptrace 199 Hz: .*$reason" "$dir/README.md" ||
    fail "README.md does not name the sampler and why"$'\n'"$(cat "$dir/README.md")"
  # SIGTERM still reached the server, which ended as it does untraced.
  [ "$(json "$s" 'd["run"]["exit"]')" = "stopped by perflab: exited with status 0" ] ||
    fail "run.exit: $(json "$s" 'd["run"]["exit"]')"
  [ -e "$dir/.perf" ] && fail "the sampler's work directory was left in the profile"
  if command -v go > /dev/null; then
    top=$(go tool pprof -top "$dir/cpu.pb.gz" 2>&1)
    if grep -q "Type: cpu" <<< "$top" && grep -q spin_for_work <<< "$top"; then
      echo "ok: go tool pprof reads cpu.pb.gz"
    else
      fail "go tool pprof -top cpu.pb.gz:"$'\n'"$top"
    fi
  else
    python3 -c 'import gzip,sys; assert len(gzip.open(sys.argv[1]).read()) > 0' "$dir/cpu.pb.gz" ||
      fail "cpu.pb.gz does not decompress"
  fi
  # Neither running nor stopped nor a zombie: no process has its pid.
  pid=$(sed -n 's/.*started .*(pid \([0-9]*\).*/\1/p' <<< "$out")
  if [ -z "$pid" ]; then
    fail "no server pid in: $out"
  elif [ -e "/proc/$pid" ]; then
    fail "the server (pid $pid) is still there: $(cat "/proc/$pid/stat" 2> /dev/null)"
  fi
  port_accepts "$port" && fail "the server still accepts connections"
}

dir="$scratch/builtin"
out=$("$perflab" baseline --cpu-profile --cpu-sampler builtin --track off --repeat 3 \
  --warmup 0.2s -o "$dir" --load "$load" -- "$server" --port "$port" --work-us 200 2>&1)
rc=$?
if [ "$rc" -ne 0 ]; then
  fail "baseline --cpu-sampler builtin exited $rc"$'\n'"$out"
else
  echo "ok: baseline --cpu-profile --cpu-sampler builtin -> 0"
  check_builtin_profile "$dir" "$out" "--cpu-sampler builtin"
fi

# Tracked too: the recorder's own threads and signals in the server.
dir="$scratch/builtin-tracked"
out=$("$perflab" baseline --cpu-profile --cpu-sampler builtin --track stacks --repeat 2 \
  --warmup 0.2s -o "$dir" --load "$load" -- "$server" --port "$port" --work-us 200 2>&1)
rc=$?
if [ "$rc" -ne 0 ]; then
  fail "baseline --cpu-sampler builtin --track stacks exited $rc"$'\n'"$out"
else
  echo "ok: baseline --cpu-profile --cpu-sampler builtin --track stacks -> 0"
  check_builtin_profile "$dir" "$out" "--cpu-sampler builtin"
  [ -s "$dir/allocs.pb.gz" ] || fail "--track stacks: no allocs.pb.gz"
fi

# auto where perf is missing: the built-in sampler, and the reason.
dir="$scratch/auto"
out=$(PATH="$no_perf" "$perflab" baseline --cpu-profile --track off --repeat 2 --warmup 0.2s \
  -o "$dir" --load "$load" -- "$server" --port "$port" --work-us 200 2>&1)
rc=$?
if [ "$rc" -ne 0 ]; then
  fail "baseline --cpu-profile without perf exited $rc"$'\n'"$out"
else
  echo "ok: baseline --cpu-profile without perf -> 0 (built-in sampler)"
  grep -q "cpu profile by builtin ptrace 199 Hz (perf cannot sample here (perf is not installed" \
    <<< "$out" || fail "perflab did not say it fell back to the built-in sampler"$'\n'"$out"
  check_builtin_profile "$dir" "$out" "perf cannot sample here (perf is not installed"
fi

# expect_refusal PATTERN ARGS...: exit 2 before the server starts, a message
# matching PATTERN, no profile directory.
expect_refusal() {
  local pattern=$1 rc
  shift
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" -ne 2 ]; then
    fail "$* exited $rc, expected 2"$'\n'"$out"
  elif ! grep -Eq -- "$pattern" <<< "$out"; then
    fail "$* printed no /$pattern/"$'\n'"$out"
  else
    echo "ok: $* -> 2"
  fi
  grep -q "started" <<< "$out" && fail "$*: the server was started"
  [ -e "$scratch/refused" ] && fail "$*: a profile directory was left"
}

baseline_args=(baseline --cpu-profile -o "$scratch/refused" --load "$load" -- "$server"
  --port "$port")
expect_refusal \
  "perflab: error: --cpu-profile: perf cannot sample here \(perf is not installed.*--cpu-sampler builtin" \
  env PATH="$no_perf" "$perflab" "${baseline_args[@]:0:2}" --cpu-sampler perf "${baseline_args[@]:2}"
expect_refusal \
  "perflab: error: --cpu-profile: neither sampler can sample here: perf cannot \(perf is not installed.*the built-in sampler cannot trace the server \(ptrace is refused \(Operation not permitted\)" \
  env PATH="$no_perf" "$no_ptrace" "$perflab" "${baseline_args[@]}"
expect_refusal \
  "perflab: error: --cpu-profile: the built-in sampler cannot trace the server here \(ptrace is refused \(Operation not permitted\): .*seccomp" \
  "$no_ptrace" "$perflab" "${baseline_args[@]:0:2}" --cpu-sampler builtin "${baseline_args[@]:2}"
out=$("$perflab" baseline --cpu-sampler builtin --load "$load" -- "$server" 2>&1)
[ $? -eq 2 ] && grep -q -- "--cpu-sampler requires --cpu-profile" <<< "$out" ||
  fail "--cpu-sampler without --cpu-profile was accepted"$'\n'"$out"

finish "all CPU sampler checks passed"
