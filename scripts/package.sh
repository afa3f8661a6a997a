#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the Debian package of Weir: weir, weir-pg, weir-server and
# weir-worker in /usr/bin, the systemd units weir-server.service and
# weir-worker@.service, their environment files in /etc/weir (conffiles),
# and the copyright, changelog and docs/deploy.md in /usr/share/doc/weir.
# The files it packs are in deploy/ (systemd/, etc/, debian/).
#
#   scripts/package.sh [BUILD_DIR [OUT_DIR]]
#
# Without BUILD_DIR it configures and builds a Release build in build-pkg/;
# with one, it packs that build as it is (it must be built). The package
# is written to OUT_DIR (default: BUILD_DIR) and its path printed on
# stdout.
#
# Why dpkg-deb and not CPack: the package needs maintainer scripts, a
# conffiles list, a Debian changelog and copyright, and the Depends that
# dpkg-shlibdeps computes; with CPack each of those is a variable pointing
# at a file we would write anyway, plus CPack's own defaults to undo so
# that lintian is content. Laying out the tree and calling dpkg-deb keeps
# every file of the package visible in one script.
set -euo pipefail
umask 022

top=$(cd "$(dirname "$0")/.." && pwd)
deploy="$top/deploy"

die() {
    echo "weir package: $*" >&2
    exit 1
}

for tool in dpkg-deb dpkg-shlibdeps cmake gzip; do
    command -v "$tool" >/dev/null ||
        die "$tool is missing (apt-get install dpkg-dev cmake gzip)"
done

if [ $# -gt 2 ]; then
    echo "usage: $0 [BUILD_DIR [OUT_DIR]]" >&2
    exit 2
fi
if [ $# -ge 1 ]; then
    build=$(cd "$1" 2>/dev/null && pwd) || die "no build folder \"$1\""
else
    build="$top/build-pkg"
    cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DWEIR_WERROR=ON \
        -DWEIR_TESTS=OFF >/dev/null
    cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >&2
fi
out=${2:-$build}
mkdir -p "$out"
out=$(cd "$out" && pwd)
[ -f "$build/CMakeCache.txt" ] || die "$build is not a CMake build folder"
for b in weir weir-server weir-worker; do
    [ -x "$build/$b" ] || [ -x "$build/server/$b" ] ||
        [ -x "$build/worker/$b" ] || die "$build has no $b: build it first"
done

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
[ -n "$version" ] || die "no project version in $build/CMakeCache.txt"
arch=$(dpkg --print-architecture)
# The changelog's date: the last commit's, so that the package of one
# revision is the same bytes each time (no git: now).
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct 2>/dev/null ||
    date +%s)}
export SOURCE_DATE_EPOCH=$epoch

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"
doc="$root/usr/share/doc/weir"

# the programs, stripped (lintian refuses unstripped binaries)
DESTDIR="$root" cmake --install "$build" --prefix /usr --strip >/dev/null

install -d "$root/lib/systemd/system" "$root/etc/weir" "$doc" "$root/DEBIAN"
install -m 0644 "$deploy/systemd/weir-server.service" \
    "$deploy/systemd/weir-worker@.service" "$root/lib/systemd/system/"
# 0640 as shipped; postinst gives server.env to the group weir and
# worker.env to the group weir-worker once they exist
install -m 0640 "$deploy/etc/server.env" "$deploy/etc/worker.env" \
    "$root/etc/weir/"
install -m 0644 "$deploy/debian/copyright" "$doc/copyright"
install -m 0644 "$top/docs/deploy.md" "$doc/deploy.md"
sed -e "s/@VERSION@/$version/" \
    -e "s/@DATE@/$(date -u -R -d "@$epoch")/" "$deploy/debian/changelog" |
    gzip -9n >"$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

install -m 0755 "$deploy/debian/postinst" "$deploy/debian/prerm" \
    "$deploy/debian/postrm" "$root/DEBIAN/"
printf '%s\n' /etc/weir/server.env /etc/weir/worker.env \
    >"$root/DEBIAN/conffiles"
chmod 0644 "$root/DEBIAN/conffiles"

# Depends: the shared libraries the programs link, as dpkg-shlibdeps finds
# them (it wants a debian/control to read; an empty one will do).
mkdir -p "$work/src/debian"
: >"$work/src/debian/control"
depends=$(cd "$work/src" && dpkg-shlibdeps -O \
    "$root/usr/bin/weir" "$root/usr/bin/weir-server" \
    "$root/usr/bin/weir-worker" 2>"$work/shlibdeps.err" |
    sed -n 's/^shlibs:Depends=//p') ||
    die "dpkg-shlibdeps failed: $(cat "$work/shlibdeps.err")"
[ -n "$depends" ] || die "dpkg-shlibdeps found no libraries"

(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' |
    LC_ALL=C sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
    -e "s/@DEPENDS@/$depends/" "$deploy/debian/control.in" \
    >"$root/DEBIAN/control"
chmod 0644 "$root/DEBIAN/control"

deb="$out/weir_${version}_${arch}.deb"
# xz level 3: within 6% of the default level's size, and many times faster
# on the large binaries of a sanitizer build
dpkg-deb --root-owner-group -Zxz -z3 --build "$root" "$deb" >/dev/null
echo "$deb"
