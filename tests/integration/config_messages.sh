#!/usr/bin/env bash
# Integration: what the real binary says about configuration mistakes: a '#'
# comment after a value, a listen address already in use (named by file and
# line), no configuration file at all (every place looked, and -r), log files
# the daemon's user could not open; and long values, continued with '\',
# read back whole by -T.
# Usage: config_messages.sh COHTTPD SOURCE_DIR
set -uo pipefail
bin=$(realpath "$1")
tmp=$(mktemp -d /tmp/cohttpd-msg-XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
pass=0 fail=0
check() { # name, then a command that must succeed
    local name=$1; shift
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $name"; fi
}
mkdir -p "$tmp/site" "$tmp/empty"
echo "site" >"$tmp/site/index.html"

# '#' after a value is part of it: the error says that only ';' starts a comment.
cat >"$tmp/hash.ini" <<INI
[server]
listen = 127.0.0.1:8080 # comment
workers = 2 ; a comment
[static /]
root = site
INI
out=$("$bin" -t -c "$tmp/hash.ini" 2>&1); rc=$?
echo "$out"
check "'#' comment: -t exits 1" test $rc -eq 1
check "'#' comment: the port error" grep -q "hash.ini:2: invalid port" <<<"$out"
check "'#' comment: the hint" grep -qF "hash.ini:2: only ';' starts a comment after a value" <<<"$out"
check "'#' comment: nothing about line 3" test "$(grep -c 'hash.ini:3:' <<<"$out")" -eq 0

# A taken address is named with the file and line of its listen line.
"$bin" -r "$tmp/site" -l 127.0.0.1:0 2>"$tmp/first.log" &
pid=$!
port=""
for _ in $(seq 1 600); do
    port=$(sed -n 's/.*serving on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/first.log" | head -n1)
    [ -n "$port" ] && break
    sleep 0.05
done
check "the first server runs" test -n "$port"
cat >"$tmp/busy.ini" <<INI
[server]
; the second address is taken
listen = 127.0.0.1:0
listen = 127.0.0.1:$port
[static /]
root = site
INI
out=$("$bin" -c "$tmp/busy.ini" 2>&1); rc=$?
echo "$out"
check "taken address: exit 1" test $rc -eq 1
check "taken address: file:line" \
    grep -qF "$tmp/busy.ini:4: cannot listen on 127.0.0.1:$port: Address already in use" <<<"$out"

# No configuration file anywhere: every place looked, and what to do.
missing() {
    cd "$tmp/empty" && env -u COHTTPD_CONFIG "$bin" -t 2>&1
}
if [ -e /etc/cohttpd/cohttpd.ini ]; then # an installed package: hide it
    out=$(unshare -m bash -c "mount -t tmpfs tmpfs /etc/cohttpd && cd '$tmp/empty' &&
        env -u COHTTPD_CONFIG '$bin' -t 2>&1")
    rc=$?
else
    out=$(missing); rc=$?
fi
echo "$out"
check "no file: exit 1" test $rc -eq 1
check "no file: the places looked" grep -qF \
    "cohttpd: no configuration file: looked for \$COHTTPD_CONFIG (not set), $tmp/empty/config/cohttpd.ini and /etc/cohttpd/cohttpd.ini" <<<"$out"
check "no file: suggests -r" grep -qF "or serve a directory without one with -r DIR" <<<"$out"
out=$(cd "$tmp/empty" && COHTTPD_CONFIG="$tmp/nope.ini" "$bin" -t 2>&1)
check "no file: names \$COHTTPD_CONFIG" grep -qF "no configuration file at \$COHTTPD_CONFIG ($tmp/nope.ini)" <<<"$out"

# A value longer than a line of inih's, continued over lines ending in '\'.
value=$(printf 'w%.0s' $(seq 1 150))
{
    printf '[server]\nlisten = 127.0.0.1:0\nserver_header = %s \\\n' "$value"
    printf '    %s \\\n' "$value" "$value" "$value"
    printf '\t%s\n[static /]\nroot = site\n' "$value"
} >"$tmp/long.ini"
out=$("$bin" -T -c "$tmp/long.ini" 2>&1); rc=$?
check "long value: -T exits 0" test $rc -eq 0
check "long value: joined with single spaces" \
    grep -qxF "server_header = $value $value $value $value $value" <<<"$out"
"$bin" -T -c "$tmp/long.ini" >"$tmp/dump.ini" 2>&1
check "long value: -T output reads back" "$bin" -t -c "$tmp/dump.ini"

# -t checks that the log files can be opened by the user the daemon serves as.
chmod 0755 "$tmp"
mkdir -m 0755 "$tmp/logs"
logs_ini() { # extra [server] lines
    printf '[server]\nlisten = 127.0.0.1:0\n%baccess_log = logs/access.log\n' "$1"
    printf 'error_log = logs/error.log\n[static /]\nroot = site\n'
}
if [ "$(id -u)" -eq 0 ]; then
    logs_ini 'user = nobody\n' >"$tmp/logs.ini"
    out=$("$bin" -t -c "$tmp/logs.ini" 2>&1); rc=$?
    echo "$out"
    check "logs as user: -t exits 1" test $rc -eq 1
    check "logs as user: the access log named" grep -qF \
        "$tmp/logs.ini: cannot open the access log $tmp/logs/access.log as user nobody: Permission denied" <<<"$out"
    check "logs as user: the error log named" grep -qF "the error log $tmp/logs/error.log as user nobody" <<<"$out"
    chown nobody "$tmp/logs"
    check "logs as user: -t passes once the user may write there" "$bin" -t -c "$tmp/logs.ini"
    chown root "$tmp/logs"
    logs_ini '' >"$tmp/logs.ini"
    out=$(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups "$bin" -t -c "$tmp/logs.ini" 2>&1); rc=$?
    check "logs run as nobody: -t exits 1" test $rc -eq 1
    check "logs run as nobody: named" grep -qF "the access log $tmp/logs/access.log as user nobody" <<<"$out"
else
    logs_ini '' >"$tmp/logs.ini"
    chmod 0555 "$tmp/logs"
    out=$("$bin" -t -c "$tmp/logs.ini" 2>&1); rc=$?
    check "logs: -t exits 1" test $rc -eq 1
    check "logs: named" grep -qF "the access log $tmp/logs/access.log as user $(id -un)" <<<"$out"
    chmod 0755 "$tmp/logs"
    check "logs: -t passes once writable" "$bin" -t -c "$tmp/logs.ini"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
