#!/bin/bash
# systemd_unit.sh - the packaged units: systemd-analyze verify accepts them,
# the service is Type=notify with reload and watchdog, and its sandbox scores
# an exposure of 1.5 or less in systemd-analyze security --offline=yes.
# Usage: systemd_unit.sh BUILD/cohttpd SOURCE_DIR
set -u
bin=$1
src=$2
service=$src/packaging/cohttpd.service
socket=$src/packaging/cohttpd.socket
failures=0
root=$(mktemp -d /tmp/cohttpd-unit-XXXXXX)
trap 'rm -rf "$root"' EXIT

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# The exposure level, a number like 1.4, from systemd-analyze security.
exposure() {
    systemd-analyze security --offline=yes "$1" 2>&1 |
        sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p'
}

level=$(exposure "$service")
if [ -z "$level" ]; then
    fail "no 'Overall exposure level' from systemd-analyze security"
elif ! awk -v l="$level" 'BEGIN { exit !(l <= 1.5) }'; then
    fail "exposure level $level is above 1.5"
else
    echo "ok: exposure level $level"
fi

# The check can fail: the same unit without its sandbox scores far worse.
grep -v -E '^(Protect|Private|Restrict|SystemCall|Capability|NoNew|Lock|Memory)' "$service" \
    >"$root/bare.service"
bare=$(exposure "$root/bare.service")
echo "note: without its sandbox the unit scores $bare"
if [ -z "$bare" ] || awk -v l="$bare" 'BEGIN { exit !(l <= 1.5) }'; then
    fail "an unsandboxed copy scores '$bare': the score check cannot fail"
fi

for want in '^Type=notify$' '^ExecStart=/usr/sbin/cohttpd -c /etc/cohttpd/cohttpd.ini$' \
    '^ExecReload=/bin/kill -HUP \$MAINPID$' '^WatchdogSec=[1-9]'; do
    grep -q -E "$want" "$service" || fail "cohttpd.service lacks a line matching $want"
done
grep -q -E '^ListenStream=' "$socket" || fail "cohttpd.socket has no ListenStream="

# systemd-analyze verify, offline: a throwaway root with systemd's own units,
# the binary where ExecStart= expects it, and the two units.
verify() {
    systemd-analyze verify --man=no --root="$root" cohttpd.service cohttpd.socket 2>&1
}
mkdir -p "$root/usr/sbin" "$root/bin" "$root/usr/lib/systemd" "$root/etc/systemd/system"
cp -r /lib/systemd/system "$root/usr/lib/systemd/"
cp "$bin" "$root/usr/sbin/cohttpd"
cp /bin/kill "$root/bin/kill"
cp "$service" "$socket" "$root/etc/systemd/system/"
if out=$(verify) && [ -z "$out" ]; then
    echo "ok: systemd-analyze verify"
else
    fail "systemd-analyze verify: $out"
fi
# The drop-in for JIT interpreters (packaging/cgi-jit.conf, shipped as an
# example): the unit with it verifies, and it turns MemoryDenyWriteExecute off.
dropin_dir=$root/etc/systemd/system/cohttpd.service.d
mkdir -p "$dropin_dir"
cp "$src/packaging/cgi-jit.conf" "$dropin_dir/"
if out=$(verify) && [ -z "$out" ]; then
    echo "ok: systemd-analyze verify with the cgi-jit.conf drop-in"
else
    fail "systemd-analyze verify with cgi-jit.conf: $out"
fi
grep -q -E '^MemoryDenyWriteExecute=no$' "$dropin_dir/cgi-jit.conf" ||
    fail "cgi-jit.conf does not set MemoryDenyWriteExecute=no"
echo 'MemoryDenyWriteExecut=no' >>"$dropin_dir/cgi-jit.conf"
if out=$(verify) && [ -z "$out" ]; then
    fail "systemd-analyze verify accepted a misspelt key in the drop-in: the check cannot fail"
fi
rm -r "$dropin_dir"
# ...and it notices a broken unit.
sed -i 's/^Type=notify/Typ=notify/' "$root/etc/systemd/system/cohttpd.service"
if out=$(verify) && [ -z "$out" ]; then
    fail "systemd-analyze verify accepted a misspelt key: the check cannot fail"
fi

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "all unit checks passed"
