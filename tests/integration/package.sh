#!/usr/bin/env bash
# Integration: the Debian package, built from this tree (build-deb.sh, with
# lintian), installed with dpkg, used and purged. It all happens in a private
# mount and network namespace where /etc, /usr and /var are overlays that
# vanish at the end, so the machine is left as it was. Checks: the log
# directory belongs to the service user, so the unit's ExecStart run by hand
# as that user serves and logs; the shipped configuration listens on IPv4 and
# IPv6; logrotate creates files with the mode the unit's UMask= gives and
# signals SIGUSR1; a purge removes the default site copied to /var/www
# while it is unmodified, and keeps it once changed.
# Needs root (dpkg, namespaces), dpkg-dev, debhelper and lintian.
# Usage: package.sh COHTTPD SOURCE_DIR
set -uo pipefail
src=$(realpath "$2")
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIPPED: installing a package needs root"
    exit 77
fi
work=$(mktemp -d /tmp/cohttpd-pkg-XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "=== building the package"
if ! "$src/packaging/debian/build-deb.sh" "$work/deb" >"$work/build.log" 2>&1; then
    tail -40 "$work/build.log"
    echo "0 passed, 1 failed: the package does not build"
    exit 1
fi
deb=$(ls "$work"/deb/cohttpd_*.deb | head -n1)
echo "built $deb"

# What runs inside the namespace: install, check, purge, twice.
cat >"$work/inside.sh" <<'INSIDE'
set -uo pipefail
deb=$1
pass=0 fail=0
check() { # name, then a command that must succeed
    local name=$1; shift
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $name"; fi
}
ip link set lo up

dpkg -i "$deb" >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; echo "0 passed, 1 failed"; exit 1; }
check "the log directory is cohttpd's, 0750" test "$(stat -c '%U:%G %a' /var/log/cohttpd)" = "cohttpd:cohttpd 750"
check "the default site is copied" test -f /var/www/cohttpd/index.html
check "listen on IPv4" grep -qx 'listen = \*:80' /etc/cohttpd/cohttpd.ini
check "listen on IPv6" grep -qx 'listen = \[::\]:80' /etc/cohttpd/cohttpd.ini
check "the drop-in for JIT interpreters is an example" \
    grep -qx 'MemoryDenyWriteExecute=no' /usr/share/doc/cohttpd/examples/cgi-jit.conf

# The unit's ExecStartPre and ExecStart, run by hand as its user with its
# one capability.
unit=/lib/systemd/system/cohttpd.service
as_cohttpd=(setpriv --reuid=cohttpd --regid=cohttpd --clear-groups
    --inh-caps=+net_bind_service --ambient-caps=+net_bind_service)
pre=$(sed -n 's/^ExecStartPre=//p' "$unit")
start=$(sed -n 's/^ExecStart=//p' "$unit")
# shellcheck disable=SC2086
check "ExecStartPre as cohttpd" "${as_cohttpd[@]}" $pre
# shellcheck disable=SC2086
"${as_cohttpd[@]}" $start 2>/tmp/cohttpd.err &
pid=$!
trap 'kill -KILL $pid 2>/dev/null' EXIT
for _ in $(seq 1 600); do
    grep -q "serving on" /tmp/cohttpd.err && break
    sleep 0.05
done
check "ExecStart as cohttpd serves" grep -q "serving on 0.0.0.0:80, \[::\]:80" /tmp/cohttpd.err
check "on IPv4" curl -sS -o /dev/null --fail http://127.0.0.1/
check "on IPv6" curl -sS -o /dev/null --fail 'http://[::1]/'
kill -TERM $pid
wait $pid
check "it stops with 0" test $? -eq 0
check "and logged both requests" test "$(grep -c '"GET / HTTP/1.1" 200' /var/log/cohttpd/access.log)" -eq 2
cat /tmp/cohttpd.err

# logrotate: files as the unit's UMask= makes them, SIGUSR1 to reopen.
umask_=$(sed -n 's/^UMask=//p' "$unit")
mode=$(printf '%04o' $((0666 & ~8#$umask_)))
check "logrotate creates $mode files (UMask=$umask_)" grep -qE "^\s*create $mode cohttpd cohttpd$" /etc/logrotate.d/cohttpd
check "logrotate sends SIGUSR1" grep -q -- '--signal=USR1' /etc/logrotate.d/cohttpd
check "logrotate does not reload" test "$(grep -c 'reload' /etc/logrotate.d/cohttpd)" -eq 0

dpkg --purge cohttpd >/tmp/dpkg.log 2>&1 || cat /tmp/dpkg.log
check "purge removes the unmodified site" test ! -e /var/www/cohttpd
check "purge removes the logs" test ! -e /var/log/cohttpd
check "purge removes the checksums" test ! -e /var/lib/cohttpd

# Once the admin changed the site, a purge leaves it.
dpkg -i "$deb" >/tmp/dpkg.log 2>&1 || cat /tmp/dpkg.log
echo "<p>mine</p>" >>/var/www/cohttpd/index.html
dpkg --purge cohttpd >/tmp/dpkg.log 2>&1 || cat /tmp/dpkg.log
check "purge keeps a modified site" grep -q mine /var/www/cohttpd/index.html
rm -rf /var/www/cohttpd
dpkg -i "$deb" >/tmp/dpkg.log 2>&1 || cat /tmp/dpkg.log
echo "new" >/var/www/cohttpd/added.html
dpkg --purge cohttpd >/tmp/dpkg.log 2>&1 || cat /tmp/dpkg.log
check "purge keeps a site with an added file" test -f /var/www/cohttpd/added.html

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
INSIDE

for d in etc usr var; do
    mkdir -p "$work/$d.upper" "$work/$d.work"
done
# A private /run too: no systemd there for the maintainer scripts to start
# the service with.
unshare --mount --net --propagation private bash -c "
    for d in etc usr var; do
        mount -t overlay overlay -o lowerdir=/\$d,upperdir=$work/\$d.upper,workdir=$work/\$d.work /\$d || exit 1
    done
    mount -t tmpfs tmpfs /run &&
    bash '$work/inside.sh' '$deb'
"
