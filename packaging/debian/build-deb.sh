#!/bin/sh
# build-deb.sh - builds the cohttpd .deb from this source tree and checks it
# with lintian (errors fail the build).
#   packaging/debian/build-deb.sh [OUTDIR]     (default OUTDIR: ./build-deb)
# Needs: dpkg-dev, debhelper, lintian, and the build dependencies of
# packaging/debian/control.
set -eu

src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$src/build-deb}
version=$(dpkg-parsechangelog -l "$src/packaging/debian/changelog" -S Version)
work=$(mktemp -d /tmp/cohttpd-deb-XXXXXX)
trap 'rm -rf "$work"' EXIT

# A clean copy of the tree (no build directories) with debian/ on top.
tree="$work/cohttpd-$version"
mkdir -p "$tree"
tar -C "$src" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$tree" -xf -
cp -r "$src/packaging/debian" "$tree/debian"
rm -f "$tree/debian/build-deb.sh"

(cd "$tree" && dpkg-buildpackage --build=binary --no-sign)
mkdir -p "$out"
cp "$work"/*.deb "$out"/
lintian --fail-on error --suppress-tags-from-file /dev/null "$out/cohttpd_${version}_"*.deb
echo "built: $(ls "$out"/cohttpd_"${version}"_*.deb)"
