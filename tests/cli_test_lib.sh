# Shared by the command-line test scripts (sourced): a scratch directory
# removed at exit, failure counting, exit-code checks, JSON lookups, ports.
# The sourcing script sets `perflab` first and ends with `finish`.
scratch=$(mktemp -d)
cleanup_hooks=()
cleanup() {
  for hook in "${cleanup_hooks[@]}"; do eval "$hook"; done
  rm -rf "$scratch"
}
trap cleanup EXIT
failures=0

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# expect_exit CODE PATTERN -- ARGS...: runs perflab, checks the exit code and
# that its stdout+stderr match PATTERN (grep -E).
expect_exit() {
  local code=$1 pattern=$2
  shift 3
  local out rc
  out=$("$perflab" "$@" 2>&1)
  rc=$?
  if [ "$rc" -ne "$code" ]; then
    fail "perflab $* exited $rc, expected $code"$'\n'"$out"
  elif ! grep -Eq -- "$pattern" <<< "$out"; then
    fail "perflab $* printed no /$pattern/"$'\n'"$out"
  else
    echo "ok: perflab $* -> $rc"
  fi
}

json() {  # json FILE EXPRESSION: prints a Python expression of the document d
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_accepts() {
  python3 -c 'import socket,sys; s=socket.socket(); s.settimeout(1); s.connect(("127.0.0.1",int(sys.argv[1])))' "$1" 2> /dev/null
}

finish() {  # finish MESSAGE: the exit status of the script
  if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
  fi
  echo "$1"
}
