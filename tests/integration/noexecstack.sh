#!/usr/bin/env bash
# The daemon must not ask for an executable stack (the coroutine switch is
# assembly: without .note.GNU-stack the whole binary would get one, and
# MemoryDenyWriteExecute= would break thread creation).
# Usage: noexecstack.sh COHTTPD SOURCE_DIR
set -uo pipefail
bin=$1
stack=$(readelf -lW "$bin" | grep GNU_STACK) || { echo "no GNU_STACK header in $bin"; exit 1; }
echo "$stack"
flags=$(awk '{ print $(NF-1) }' <<<"$stack")
if [[ $flags == *E* ]]; then
    echo "0 passed, 1 failed: executable stack ($flags)"
    exit 1
fi
echo "1 passed, 0 failed"
