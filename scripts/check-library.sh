#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# check-library.sh: libvshadow as its users get it.  The library is built
# as a build tree normally is (the default PREFIX), then staged with
# another PREFIX, as a distribution packages it; the staged pkg-config
# file must name that PREFIX, and a program must build and run against
# the staged files with pkg-config alone.  The shared library exports
# exactly its versioned API, and the preload library only what it
# intercepts.  Changes nothing outside a temporary directory.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
LIB=$TOP/tools/lib/vshadow
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check-library.sh: FAIL: $*"; exit 1; }

make -s -C "$LIB" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "make"; }
stage=$tmp/stage
make -s -C "$LIB" install DESTDIR="$stage" PREFIX=/usr >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "make install DESTDIR=... PREFIX=/usr"; }

pc=$stage/usr/lib/pkgconfig/vshadow.pc
grep -qx 'prefix=/usr' "$pc" || fail "vshadow.pc does not say prefix=/usr: $(head -3 "$pc" | tr '\n' ' ')"
export PKG_CONFIG_LIBDIR=$stage/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$stage
flags=$(pkg-config --cflags --libs vshadow) || fail "pkg-config --cflags --libs vshadow"

# A VMM's first lines, built with what pkg-config says and nothing else.
cat >"$tmp/prog.c" <<'PROG'
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <vshadow.h>

int main(void)
{
	struct vshadow *vs;
	int ret = vshadow_open_type1(&vs, -1, 0);

	printf("%s %d\n", vshadow_version(), ret < 0);
	return ret < 0 ? 0 : 1;
}
PROG
# shellcheck disable=SC2086 # pkg-config's words
cc -Wall -Werror -o "$tmp/prog" "$tmp/prog.c" $flags || fail "cc with \"$flags\""
want="$(sed -n 's/^#define VSHADOW_VERSION_MAJOR\t//p' "$LIB/vshadow.h").$(sed -n 's/^#define VSHADOW_VERSION_MINOR\t//p' "$LIB/vshadow.h") 1"
got=$(LD_LIBRARY_PATH=$stage/usr/lib "$tmp/prog") || fail "the program failed: $got"
[ "$got" = "$want" ] || fail "the program printed '$got', want '$want'"
deps=$(LD_LIBRARY_PATH=$stage/usr/lib ldd "$tmp/prog")
grep -qF "libvshadow.so.1 => $stage/usr/lib/" <<<"$deps" ||
	fail "the program did not load the staged libvshadow.so.1: $deps"

# Exports: the API, versioned; the preload library, what it intercepts.
api=$(awk '/^VSHADOW_[0-9.]* {/ { node = $1 } /^\t\tvshadow_[a-z0-9_]*;$/ { sub(/;/, "", $1); print $1 "@@" node }' \
	"$LIB/libvshadow.map" | sort)
got=$(nm -D --defined-only "$stage/usr/lib/libvshadow.so.1" | awk '$2 == "T" { print $3 }' | sort)
[ "$got" = "$api" ] || fail "libvshadow.so.1 exports: $(echo "$got" | tr '\n' ' ') (want $(echo "$api" | tr '\n' ' '))"
got=$(nm -D --defined-only "$stage/usr/lib/libvshadow-preload.so" | awk '$2 ~ /^[TDBVW]$/ { print $3 }' | sort | tr '\n' ' ')
[ "$got" = "close ioctl " ] || fail "libvshadow-preload.so exports: $got(want close ioctl)"

# The userspace fallback against a model of type1: every bit in place.
make -s -C "$LIB" check >"$tmp/check.log" 2>&1 || { cat "$tmp/check.log"; fail "make -C tools/lib/vshadow check"; }
fallback=$(tail -n 1 "$tmp/check.log")

echo "check-library.sh: ok: staged with PREFIX=/usr after a default build, pkg-config says /usr, a program built with it alone ran; exports: $(echo "$api" | wc -l) versioned, preload close and ioctl only; $fallback"
