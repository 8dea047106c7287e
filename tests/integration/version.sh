#!/usr/bin/env bash
# Integration: -V prints the version and what cohttpd was built with, and each
# line agrees with the build: llhttp's header, pkg-config's inih and libsystemd,
# the compiler of the build directory, the coroutine switch it was configured
# with.
# Usage: version.sh COHTTPD SOURCE_DIR
set -uo pipefail
bin=$1 src=$2
cache=$(dirname "$bin")/CMakeCache.txt
pass=0 fail=0
check() { # name, then a command that must succeed
    local name=$1; shift
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $name"; fi
}
cached() { sed -n "s/^$1:[A-Z]*=//p" "$cache" | head -n1; }

out=$("$bin" -V); rc=$?
echo "$out"
check "-V exits 0" test $rc -eq 0
check "-V first line" grep -qx "cohttpd $(sed -n 's/^project(cohttpd VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")" <<<"${out%%$'\n'*}"

llhttp_h=$(cached LLHTTP_INCLUDE_DIR)/llhttp.h
if [ -f "$llhttp_h" ]; then
    llhttp=$(awk '/#define LLHTTP_VERSION_(MAJOR|MINOR|PATCH)/ { v = v sep $3; sep = "." } END { print v }' "$llhttp_h")
    check "-V llhttp $llhttp, strict" grep -qx "llhttp: $llhttp (strict mode)" <<<"$out"
else
    check "-V llhttp" grep -qx "llhttp: $(pkg-config --modversion libllhttp).*" <<<"$out"
fi
check "-V inih" grep -qx "inih: r$(pkg-config --modversion inih)" <<<"$out"
check "-V libsystemd" grep -qx "libsystemd: $(pkg-config --modversion libsystemd)" <<<"$out"

cc=$(cached CMAKE_C_COMPILER)
if "$cc" --version | grep -qi clang; then
    check "-V compiler (clang)" grep -q "^compiler: clang $("$cc" -dumpversion)" <<<"$out"
else
    check "-V compiler (gcc)" grep -qx "compiler: gcc $("$cc" -dumpfullversion)" <<<"$out"
fi

case "$(cached COHTTPD_CORO_SWITCH)" in
ucontext) switch=ucontext ;;
*) switch="assembly ($(uname -m))" ;;
esac
check "-V coroutine switch" grep -qxF "coroutine switch: $switch" <<<"$out"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
