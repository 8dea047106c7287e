#!/usr/bin/env bash
# Integration: the command line of the real binary (-t, -T, --route, -r, -V,
# -h, usage errors) and two virtual hosts on one listener.
# Usage: cli.sh COHTTPD SOURCE_DIR
set -uo pipefail
bin=$1 src=$2
tmp=$(mktemp -d /tmp/cohttpd-cli-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
pass=0 fail=0
check() { # name, then a command that must succeed
    local name=$1; shift
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $name"; fi
}

# Starts the daemon with the given args on an ephemeral port; sets $port,
# $pid and $log (the file its stderr goes to, one per daemon). The kernel
# kills the daemon if this script dies before its cleanup runs.
start() {
    log=$tmp/log.${#pids[@]}
    setpriv --pdeathsig KILL "$bin" "$@" 2>"$log" >/dev/null &
    pid=$!
    pids+=($pid)
    port=""
    for _ in $(seq 1 600); do
        port=$(sed -n 's/.*serving on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -n1)
        [ -n "$port" ] && return 0
        sleep 0.05
    done
    echo "daemon did not start: $(cat "$log")"
    return 1
}

# Waits (30 s at most) until the file $1 contains the text $2.
wait_log() {
    for _ in $(seq 1 600); do
        grep -qF -- "$2" "$1" && return 0
        sleep 0.05
    done
    return 1
}

mkdir -p "$tmp/site/sub" "$tmp/a" "$tmp/b"
echo "site index" >"$tmp/site/index.html"
echo "sub file" >"$tmp/site/sub/f.txt"
echo "host A" >"$tmp/a/index.html"
echo "host B" >"$tmp/b/index.html"

# -t on a valid file
cat >"$tmp/ok.ini" <<INI
[server]
listen = 127.0.0.1:0
[static /]
root = site
INI
out=$("$bin" -t -c "$tmp/ok.ini" 2>&1); rc=$?
check "-t valid exits 0" test $rc -eq 0
check "-t valid says OK" grep -q "configuration OK" <<<"$out"

# -t on a broken file: every error, file:line, a hint, exit 1
cat >"$tmp/bad.ini" <<INI
[server]
listen = 127.0.0.1:0
workers = many
[static /]
rot = site
[nosuch]
INI
out=$("$bin" -t -c "$tmp/bad.ini" 2>&1); rc=$?
check "-t broken exits 1" test $rc -eq 1
check "-t names line 3" grep -q "bad.ini:3:" <<<"$out"
check "-t suggests root" grep -q "did you mean 'root'" <<<"$out"
check "-t reports the unknown section" grep -q "bad.ini:6:" <<<"$out"
check "-t reports several errors" test "$(grep -c 'bad.ini:' <<<"$out")" -ge 3

# A file that would serve nothing: -t, startup and reload refuse it
: >"$tmp/empty.ini"
out=$("$bin" -t -c "$tmp/empty.ini" 2>&1); rc=$?
check "-t empty exits 1" test $rc -eq 1
check "-t empty names the file and says it is empty" grep -q "empty.ini: the file is empty" <<<"$out"
check "-t empty says what to add" grep -qF "add a route, such as [static /] with root = DIR" <<<"$out"
check "-t empty does not say OK" test -z "$(grep "configuration OK" <<<"$out")"
printf '[server]\nlisten = 127.0.0.1:0\n' >"$tmp/noroute.ini"
out=$("$bin" -t -c "$tmp/noroute.ini" 2>&1); rc=$?
check "-t without a route exits 1" test $rc -eq 1
check "-t without a route says so" grep -q "noroute.ini: no route: nothing would be served" <<<"$out"
out=$(timeout 10 "$bin" -c "$tmp/empty.ini" 2>&1); rc=$?
check "startup on an empty file exits 1" test $rc -eq 1
check "startup on an empty file says why" grep -q "empty.ini: the file is empty" <<<"$out"
check "startup on an empty file serves nothing" test -z "$(grep "serving on" <<<"$out")"
cp "$tmp/ok.ini" "$tmp/truncated.ini"
if start -c "$tmp/truncated.ini"; then
    : >"$tmp/truncated.ini"
    kill -HUP "$pid"
    check "a reload of a truncated file fails" wait_log "$log" "reload failed"
    check "the failed reload says why" grep -q "truncated.ini: the file is empty" "$log"
    check "the daemon keeps running" kill -0 "$pid"
    check "the old port still serves files" \
        bash -c "curl -sS --fail http://127.0.0.1:$port/sub/f.txt | grep -qx 'sub file'"
    ports=$(ss -Hltnp | grep "pid=$pid," | awk '{ sub(/.*:/, "", $4); print $4 }' | sort -u)
    check "it listens on its old port only" test "$ports" = "$port"
else
    fail=$((fail + 1))
fi

# -T prints the effective config, which -t accepts again
"$bin" -T -c "$tmp/ok.ini" >"$tmp/dump.ini" 2>"$tmp/dump.err"; rc=$?
check "-T exits 0" test $rc -eq 0
check "-T fills in defaults" grep -q "keepalive_timeout" "$tmp/dump.ini"
check "-T output passes -t" bash -c "'$bin' -t -c '$tmp/dump.ini' >/dev/null"
"$bin" -T -c "$tmp/dump.ini" >"$tmp/dump2.ini" 2>/dev/null
# the same configuration again, but for the comment naming the source file
check "-T is stable" cmp -s <(grep -v '^;' "$tmp/dump.ini") <(grep -v '^;' "$tmp/dump2.ini")

# --route
out=$("$bin" --route 'GET http://localhost/sub/f.txt' -c "$tmp/ok.ini" 2>&1); rc=$?
check "--route exits 0" test $rc -eq 0
check "--route names the handler" grep -q "handler: static" <<<"$out"
check "--route names the file" grep -q "site/sub/f.txt" <<<"$out"
"$bin" --route 'nonsense' -c "$tmp/ok.ini" >/dev/null 2>&1; rc=$?
check "--route malformed exits 2" test $rc -eq 2

# usage errors and -V / -h
"$bin" --no-such-option >/dev/null 2>&1; rc=$?
check "unknown option exits 2" test $rc -eq 2
"$bin" --autoindex -c "$tmp/ok.ini" >/dev/null 2>&1; rc=$?
check "--autoindex without -r exits 2" test $rc -eq 2
check "-V prints the version" bash -c "'$bin' -V | grep -q '^cohttpd '"
check "-h prints usage" bash -c "'$bin' -h | grep -q 'Usage:'"
"$bin" -c "$tmp/missing.ini" >/dev/null 2>&1; rc=$?
check "a missing config exits 1" test $rc -eq 1

# -r serves a directory without a file
if start -r "$tmp/site" -l 127.0.0.1:0; then
    check "-r serves the index" bash -c "curl -sS --fail http://127.0.0.1:$port/ | grep -q 'site index'"
    check "-r serves a sub file" bash -c "curl -sS --fail http://127.0.0.1:$port/sub/f.txt | grep -q 'sub file'"
else
    fail=$((fail + 1))
fi

# a second server on the same port is refused, not silently sharing it
if start -r "$tmp/site" -l 127.0.0.1:0; then
    out=$("$bin" -r "$tmp/site" -l "127.0.0.1:$port" 2>&1); rc=$?
    check "a taken port exits 1" test $rc -eq 1
    check "a taken port is named" grep -q "Address already in use" <<<"$out"
else
    fail=$((fail + 1))
fi

# two virtual hosts on one listener, and the any-host fallback
cat >"$tmp/vhosts.ini" <<INI
[server]
listen = 127.0.0.1:0
[static a.example/]
root = a
[static *.b.example/]
root = b
[static /]
root = site
INI
if start -c "$tmp/vhosts.ini"; then
    check "host a" bash -c "curl -sS -H 'Host: a.example' http://127.0.0.1:$port/ | grep -qx 'host A'"
    check "host a with a port" bash -c "curl -sS -H 'Host: A.Example:$port' http://127.0.0.1:$port/ | grep -qx 'host A'"
    check "wildcard host b" bash -c "curl -sS -H 'Host: www.b.example' http://127.0.0.1:$port/ | grep -qx 'host B'"
    check "any host" bash -c "curl -sS -H 'Host: other.example' http://127.0.0.1:$port/ | grep -qx 'site index'"
else
    fail=$((fail + 1))
fi

# redirect routes: status, absolute and relative targets, path and query kept
cat >"$tmp/redirect.ini" <<INI
[server]
listen = 127.0.0.1:0
[redirect old.example/]
to = https://new.example/
status = 308
[redirect /moved]
to = /sub/f.txt
status = 302
[redirect /perm]
to = https://example.com/fixed
[static /]
root = site
INI
if start -c "$tmp/redirect.ini"; then
    hdr() { curl -sS -o /dev/null -D - "$@" | tr -d '\r'; }
    out=$(hdr -H 'Host: old.example' "http://127.0.0.1:$port/a/b?x=1")
    check "redirect 308" grep -q '^HTTP/1.1 308' <<<"$out"
    check "redirect keeps path and query" grep -qx 'Location: https://new.example/a/b?x=1' <<<"$out"
    out=$(hdr "http://127.0.0.1:$port/moved")
    check "redirect 302" grep -q '^HTTP/1.1 302' <<<"$out"
    check "relative target" grep -qx "Location: /sub/f.txt" <<<"$out"
    out=$(hdr "http://127.0.0.1:$port/perm/x")
    check "redirect default 301" grep -q '^HTTP/1.1 301' <<<"$out"
    check "fixed target" grep -qx 'Location: https://example.com/fixed' <<<"$out"
    check "curl follows to the site" bash -c "curl -sSL http://127.0.0.1:$port/moved | grep -qx 'sub file'"
else
    fail=$((fail + 1))
fi

# cohttpd as a test fixture: each -l address is printed on stdout once bound.
# start_fixture ARGS...: sets $url (the first http:// line), $out (stdout),
# $log (stderr) and $pid.
start_fixture() {
    log=$tmp/log.${#pids[@]} out=$tmp/out.${#pids[@]}
    setpriv --pdeathsig KILL "$bin" "$@" 2>"$log" >"$out" &
    pid=$!
    pids+=($pid)
    url=""
    for _ in $(seq 1 600); do
        url=$(sed -n 's|^listening on \(http://127\.0\.0\.1:[0-9]*/\)$|\1|p' "$out" | head -n1)
        [ -n "$url" ] && return 0
        sleep 0.05
    done
    echo "no 'listening on' line on stdout: [$(cat "$out")]; stderr: $(cat "$log")"
    return 1
}

# Stops the daemon $pid (SIGTERM: it writes what it buffered) and waits.
stop_fixture() { kill "$pid" && wait "$pid"; }

if start_fixture -r "$tmp/site" -l 127.0.0.1:0 -l "unix:$tmp/fixture.sock"; then
    check "-l twice: a line per address" test "$(grep -c '^listening on ' "$out")" -eq 2
    check "-l unix: its line" grep -qx "listening on unix:$tmp/fixture.sock" "$out"
    check "-l port 0: the printed URL serves" bash -c "curl -sS --fail '$url' | grep -qx 'site index'"
    check "-l unix: served" bash -c "curl -sS --fail --unix-socket '$tmp/fixture.sock' http://x/ | grep -qx 'site index'"
    code=$(curl -s -o /dev/null -w '%{http_code}' "${url}sub/")
    check "without --autoindex a directory has no listing ($code)" test "$code" = 404
else
    fail=$((fail + 1))
fi

# -l with -c replaces the file's listeners; -q: no access log, no info lines
cat >"$tmp/fixed.ini" <<INI
[server]
listen = 127.0.0.1:1
access_log = stderr
log_level = debug
[static /]
root = site
INI
if start_fixture -c "$tmp/fixed.ini" -l 127.0.0.1:0 -q; then
    check "-c -l: one address, the command line's" test "$(grep -c '^listening on ' "$out")" -eq 1
    check "-c -l: served there" bash -c "curl -sS --fail '$url' | grep -qx 'site index'"
    curl -sS -o /dev/null "${url}missing"
    stop_fixture
    check "-q: no access log line" bash -c "! grep -q 'GET /' '$log' || { cat '$log'; false; }"
    check "-q: no info line" bash -c "! grep -q 'info:' '$log' || { cat '$log'; false; }"
    check "-c -l: the file's port is not bound" bash -c "! grep -q '127.0.0.1:1\\b' '$log' '$out'"
else
    fail=$((fail + 1))
fi

if start_fixture -r "$tmp/site" -l 127.0.0.1:0 --autoindex; then
    listing=$(curl -sS "${url}sub/")
    check "--autoindex lists a directory" grep -q 'f.txt' <<<"$listing"
else
    fail=$((fail + 1))
fi

# --route says what serving would answer
touch "$tmp/site/.hidden"
out=$("$bin" --route 'GET http://x/nothing.txt' -r "$tmp/site" 2>&1)
check "--route: a missing file is 404" grep -q '^status: 404' <<<"$out"
out=$("$bin" --route 'GET http://x/.hidden' -r "$tmp/site" 2>&1)
check "--route: a hidden dotfile is 404" grep -q '^status: 404.*dotfile' <<<"$out"
out=$("$bin" --route 'POST http://x/index.html' -r "$tmp/site" 2>&1)
check "--route: POST to static is 405" grep -q '^status: 405' <<<"$out"
check "--route: 405 with Allow" grep -qx 'allow: GET, HEAD, OPTIONS' <<<"$out"
out=$("$bin" --route 'GET http://x/index.html' -r "$tmp/site" 2>&1)
check "--route: a file that exists has no refusal" bash -c "! grep -q '^status:' <<<'$out'"

# trusted_proxies, allow and deny: -T shows them, -t checks them, --route explains them
printf '[server]\nlisten = 127.0.0.1:0\ntrusted_proxies = 10.0.0.0/8 ::1 unix\ndeny = 192.0.2.1\n[static /]\nroot = %s\n[static /in/]\nroot = %s\nallow = 127.0.0.1 ::1\ndeny = all\n' \
    "$tmp/site" "$tmp/site" >"$tmp/access.ini"
out=$("$bin" -T -c "$tmp/access.ini" 2>&1)
check "-T shows trusted_proxies" grep -qx 'trusted_proxies = 10.0.0.0/8 ::1/128 unix' <<<"$out"
check "-T shows [server]'s deny" grep -qx 'deny = 192.0.2.1/32' <<<"$out"
check "-T shows a route's allow" grep -qx 'allow = 127.0.0.1/32 ::1/128' <<<"$out"
check "-T shows a route's deny all" grep -qx 'deny = all' <<<"$out"
"$bin" -T -c "$tmp/access.ini" >"$tmp/access-dump.ini" 2>&1
out=$("$bin" -T -c "$tmp/access-dump.ini" 2>&1 | tail -n +2)
check "-T of -T is the same" test "$out" = "$("$bin" -T -c "$tmp/access.ini" | tail -n +2)"
out=$("$bin" --route 'GET http://x/a' -c "$tmp/access.ini" 2>&1)
check "--route: [server]'s rules for a route without its own" \
    grep -qx "access: deny 192.0.2.1/32; others served (\[server\]'s lines, first match wins; 403 when refused)" <<<"$out"
out=$("$bin" --route 'GET http://x/in/a' -c "$tmp/access.ini" 2>&1)
check "--route: a route's own rules" \
    grep -qx "access: allow 127.0.0.1/32, allow ::1/128, deny all; others refused (the route's lines, first match wins; 403 when refused)" <<<"$out"
printf '[server]\ntrusted_proxies = 10.0.0.0/33 proxy.example\n[static /]\nroot = %s\nallow = 300.1.1.1\n' "$tmp/site" >"$tmp/bad-access.ini"
out=$("$bin" -t -c "$tmp/bad-access.ini" 2>&1); rc=$?
check "-t: a bad CIDR exits 1" test $rc -eq 1
check "-t: trusted_proxies names the bad block" grep -q "bad-access.ini:2: trusted_proxies: '10.0.0.0/33' is not an address" <<<"$out"
check "-t: allow names the bad address" grep -q "bad-access.ini:5: allow: '300.1.1.1' is not an address" <<<"$out"

# error_page: -T shows it, --route explains it, -t checks it
printf '[server]\nerror_page = 404 /e/404.html\n[static /]\nroot = %s\nerror_page = 404 410 /e/gone.html\nerror_page = 502 /e/5.html\n[static /x/]\nroot = %s\n' \
    "$tmp/site" "$tmp/site" >"$tmp/pages.ini"
out=$("$bin" -T -c "$tmp/pages.ini" 2>&1)
check "-T shows [server]'s error_page" grep -qx 'error_page = 404 /e/404.html' <<<"$out"
check "-T shows a route's error_page with its statuses" grep -qx 'error_page = 404 410 /e/gone.html' <<<"$out"
"$bin" -T -c "$tmp/pages.ini" >"$tmp/pages-dump.ini" 2>&1
check "-T of -T is the same (error_page)" \
    test "$("$bin" -T -c "$tmp/pages-dump.ini" | tail -n +2)" = "$("$bin" -T -c "$tmp/pages.ini" | tail -n +2)"
out=$("$bin" --route 'GET http://x/a' -c "$tmp/pages.ini" 2>&1)
check "--route: a route's error pages" \
    grep -qx "error pages: 404 410 /e/gone.html, 502 /e/5.html (the route's lines; a missing page: the built-in text)" <<<"$out"
out=$("$bin" --route 'GET http://x/x/a' -c "$tmp/pages.ini" 2>&1)
check "--route: [server]'s error pages" \
    grep -qx "error pages: 404 /e/404.html (\[server\]'s lines; a missing page: the built-in text)" <<<"$out"
printf '[static /]\nroot = %s\nerror_page = 200 /a.html\nerror_page = 404\n' "$tmp/site" >"$tmp/bad-pages.ini"
out=$("$bin" -t -c "$tmp/bad-pages.ini" 2>&1); rc=$?
check "-t: a bad error_page exits 1" test $rc -eq 1
check "-t: error_page refuses a status below 400" grep -q "bad-pages.ini:3: error_page: '200' is not an error status" <<<"$out"
check "-t: error_page needs a page" grep -q "bad-pages.ini:4: error_page needs statuses and a page" <<<"$out"

# try: -T shows it, --route lists the candidates, -t checks it
printf '[static /]\nroot = %s\ntry = {path} {path}.html {path}/ /index.html =404\n' "$tmp/site" >"$tmp/try.ini"
out=$("$bin" -T -c "$tmp/try.ini" 2>&1)
check "-T shows try" grep -qx 'try = {path} {path}.html {path}/ /index.html =404' <<<"$out"
"$bin" -T -c "$tmp/try.ini" >"$tmp/try-dump.ini" 2>&1
check "-T of -T is the same (try)" \
    test "$("$bin" -T -c "$tmp/try-dump.ini" | tail -n +2)" = "$("$bin" -T -c "$tmp/try.ini" | tail -n +2)"
out=$("$bin" --route 'GET http://x/about' -c "$tmp/try.ini" 2>&1)
check "--route lists try's candidates" \
    grep -qx "try: $tmp/site/about $tmp/site/about.html $tmp/site/about/ $tmp/site/index.html (the first that exists; none: 404)" <<<"$out"
printf '[static /]\nroot = %s\ntry = =404 {path}\n[static /a/]\nroot = %s\ntry = {path} ../x\n[static /b/]\nroot = %s\nfallback = /i.html\ntry = {path}\n' \
    "$tmp/site" "$tmp/site" "$tmp/site" >"$tmp/bad-try.ini"
out=$("$bin" -t -c "$tmp/bad-try.ini" 2>&1); rc=$?
check "-t: a bad try exits 1" test $rc -eq 1
check "-t: =STATUS comes after paths" grep -q "bad-try.ini:3: try: '=404' is not a last candidate" <<<"$out"
check "-t: a candidate leaving the root" grep -q "bad-try.ini:6: try: '../x' is not a path below the root" <<<"$out"
check "-t: fallback and try together" grep -q "bad-try.ini:10: fallback and try exclude each other" <<<"$out"

echo "$pass passed, $fail failed"
test $fail -eq 0
