#!/usr/bin/env bash
# perflab load, the command, against the tests' own HTTP server: exit codes
# (0 ok, 1 error rate, 2 usage/input/no server, 130 interrupted), the profile
# directory it writes, and a load file with a mix.
# Usage: load_cli_test.sh PERFLAB LOAD_TEST_SERVER
set -uo pipefail
perflab=$1
server=$2
source "$(dirname "$0")/cli_test_lib.sh"
server_pid=
cleanup_hooks+=('[ -n "$server_pid" ] && kill "$server_pid" 2> /dev/null')

start_server() {
  rm -f "$scratch/port"
  "$server" --port-file "$scratch/port" --exit-after-s 60 "$@" &
  server_pid=$!
  for _ in $(seq 100); do [ -s "$scratch/port" ] && break; sleep 0.05; done
  port=$(cat "$scratch/port")
  url="http://127.0.0.1:$port/"
}

stop_server() {
  kill "$server_pid" 2> /dev/null
  wait "$server_pid" 2> /dev/null
  server_pid=
}

# Usage and input errors: exit 2 with a message naming the problem.
expect_exit 2 "perflab: error: .*https" -- load https://127.0.0.1:1/
expect_exit 2 "perflab: error: .*--rate" -- load http://127.0.0.1:1/ --rate fast
expect_exit 2 "perflab: error: .*--duration" -- load http://127.0.0.1:1/ -d 0s
expect_exit 2 "perflab: error: .*no URL" -- load -d 1s
printf '{"url": "http://127.0.0.1:1/", "conections": 3}' > "$scratch/typo.json"
expect_exit 2 "perflab: error: .*typo.json.*conections" -- load --load "$scratch/typo.json"
printf '{"url": ' > "$scratch/broken.json"
expect_exit 2 "perflab: error: .*broken.json" -- load --load "$scratch/broken.json"
start_server
stop_server
expect_exit 2 "cannot connect to 127.0.0.1:$port .*is the server running" -- load "$url" -d 1s --no-profile

# A good run: exit 0 and a complete profile. The rates end in a pause, so a
# slow machine still sends every request before the run ends: counts are exact.
start_server
expect_exit 0 "200 completed" -- load "$url" -R 200/1s,0/1s -c 2 -o "$scratch/ok"
for file in summary.json latency.hlog README.md report.html; do
  [ -s "$scratch/ok/$file" ] || fail "profile has no $file"
done
[ "$(json "$scratch/ok/summary.json" 'd["schema"]')" = "perflab.profile/1" ] || fail "schema"
[ "$(json "$scratch/ok/summary.json" 'd["load"]["requests"]')" = 200 ] || fail "load.requests != 200"
[ "$(json "$scratch/ok/summary.json" 'd["load"]["mode"]')" = open ] || fail "load.mode != open"
grep -q "^#\[Histogram log format version 1.3\]" "$scratch/ok/latency.hlog" || fail "hlog header"
grep -q "^Tag=service," "$scratch/ok/latency.hlog" || fail "hlog has no service series"
expect_exit 2 "already exists" -- load "$url" -R 200 -d 1s -o "$scratch/ok"

# A load file with a 3:1 mix; the command line overrides its rate.
cat > "$scratch/mix.json" << EOF
{"url": "$url", "connections": 2, "rate": 100, "duration": "2s",
 "requests": [{"name": "write", "weight": 3, "method": "POST", "path": "/rpc",
               "body": ["stream.write", "account-{rand:100}", {"id": "{uuid}"}]},
              {"name": "read", "path": "/read/{seq}"}]}
EOF
expect_exit 0 "write" -- load --load "$scratch/mix.json" -R 400/1s,0/1s -o "$scratch/mix"
[ "$(json "$scratch/mix/summary.json" '[r["requests"] for r in d["load"]["by_request"]]')" = "[300, 100]" ] \
  || fail "mix: $(json "$scratch/mix/summary.json" 'd["load"]["by_request"]')"
cmp -s "$scratch/mix.json" "$scratch/mix/load.json" || fail "load.json is not the load file"
# Flags override the load file, for every request of the mix.
cat > "$scratch/expect.json" << EOF
{"url": "$url", "connections": 2, "rate": "100/1s,0/1s", "expect": {"status": 201},
 "requests": [{"name": "a"}, {"name": "b", "expect": {"status": 202}}]}
EOF
expect_exit 1 "status 100" -- load --load "$scratch/expect.json" --no-profile
expect_exit 0 "100 completed" -- load --load "$scratch/expect.json" --expect-status 200 --no-profile
stop_server

# Errors above --max-error-rate: exit 1, and the profile is still written.
start_server --status-every 2:500
expect_exit 1 "error rate 50.00% is above --max-error-rate 1.00% .*status" -- \
  load "$url" -R 200/1s,0/1s -o "$scratch/errors"
[ "$(json "$scratch/errors/summary.json" 'd["load"]["errors"]["status"]')" = 100 ] || fail "status errors"
expect_exit 0 "errors +100" -- load "$url" -R 200/1s,0/1s --max-error-rate 0.6 --no-profile
stop_server

# Live progress once a second on a terminal (script(1) gives it one), none without.
start_server
progress=$(script -qec "$perflab load $url -d 2500ms -c 2 --no-profile" /dev/null 2>&1)
[ "$(grep -c "req/s  p99" <<< "$progress")" -ge 2 ] || fail "no progress lines on a terminal:"$'\n'"$progress"
progress=$("$perflab" load "$url" -d 1500ms -c 2 --no-profile 2>&1)
grep -q "req/s  p99" <<< "$progress" && fail "progress lines without a terminal"
stop_server

# Ctrl-C: the run stops, its profile is written and says so, exit 130. The
# signal is sent once requests arrive, so perflab's handler is in place.
start_server --log-requests "$scratch/requests.log"
"$perflab" load "$url" -d 60s -c 2 -q -o "$scratch/interrupted" &
load_pid=$!
for _ in $(seq 200); do [ -s "$scratch/requests.log" ] && break; sleep 0.05; done
sleep 0.2
kill -INT "$load_pid"
wait "$load_pid"
rc=$?
[ "$rc" -eq 130 ] || fail "interrupted run exited $rc, expected 130"
[ "$(json "$scratch/interrupted/summary.json" 'd["load"]["interrupted"]')" = True ] \
  || fail "interrupted run's summary does not say so"
stop_server

finish "all load CLI checks passed"
