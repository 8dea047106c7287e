#!/usr/bin/env bash
# Integration: runs the commands the README shows (after its two install
# commands) from the source tree: every command that serves is started and
# every curl line of the README is run against it and must succeed; every
# -t, -T and --route line must exit 0. Uses port 8080, as the README does.
# Usage: readme.sh COHTTPD SOURCE_DIR
set -uo pipefail
bin=$1 src=$2
cd "$src" || exit 1
tmp=$(mktemp -d /tmp/cohttpd-readme-XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
pass=0 fail=0

# The README's sh blocks, one command a line, without the first two blocks.
awk '/^```sh$/ { inblock = 1; n++; next } /^```/ { inblock = 0; next }
     inblock && n > 2 && NF { print }' README.md >"$tmp/commands"
grep '^curl ' "$tmp/commands" >"$tmp/curls"
test -s "$tmp/curls" || { echo "no curl example in README.md"; exit 1; }

if (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; then
    echo "port 8080 is in use: the README examples need it"
    exit 1
fi

run_curls() {
    local c
    while read -r c; do
        if eval "${c/curl /curl --fail -sS -o /dev/null --max-time 5 }"; then
            pass=$((pass + 1))
        else
            fail=$((fail + 1)); echo "FAIL: $c"
        fi
    done <"$tmp/curls"
}

while read -r line; do
    case "$line" in
    build/cohttpd\ -t* | build/cohttpd\ -T* | build/cohttpd\ --route*)
        if eval "${line/build\/cohttpd/$bin}" >/dev/null 2>"$tmp/err"; then
            pass=$((pass + 1))
        else
            fail=$((fail + 1)); echo "FAIL: $line: $(cat "$tmp/err")"
        fi ;;
    build/cohttpd*)
        # The kernel kills the daemon if this script dies before its cleanup.
        eval "exec setpriv --pdeathsig KILL ${line/build\/cohttpd/$bin}" 2>"$tmp/log" >/dev/null &
        pid=$!
        for _ in $(seq 1 600); do grep -q "serving on" "$tmp/log" && break; sleep 0.05; done
        if grep -q "serving on" "$tmp/log"; then
            run_curls
        else
            fail=$((fail + 1)); echo "FAIL: $line did not start: $(cat "$tmp/log")"
        fi
        kill "$pid"; wait "$pid"; rc=$?
        pid=""
        if [ $rc -ne 0 ]; then fail=$((fail + 1)); echo "FAIL: $line exited $rc"; fi ;;
    esac
done <"$tmp/commands"

echo "$pass passed, $fail failed"
test $fail -eq 0 && test $pass -gt 0
