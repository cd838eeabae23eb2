#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# dkms-test.sh - check the packaging without touching the host's own module
# tree: DKMS adds, builds and installs the module from "make dkms-source"
# for the default series' kernel, all in temporary trees (--dkmstree,
# --sourcetree, --installtree, --no-depmod), and removes it again; "make
# install" and "make uninstall" stage into a temporary DESTDIR with a
# PREFIX.  The host's /lib/modules/<release> must be the same after.
# DKMS itself may create its module signing key (/var/lib/dkms/mok.*),
# as on any host where it builds a module.
#
#   scripts/dkms-test.sh
set -euo pipefail

# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

fail() { printf 'dkms-test.sh: FAIL: %s\n' "$*" >&2; exit 1; }

[ -f "$ENVF" ] || fail "$ENVF missing: run make deps"
# shellcheck disable=SC1090
. "$ENVF"
cd "$TOP"
command -v dkms >/dev/null || fail "dkms missing: run make deps"
krel=$(sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' "$KDIR/include/generated/utsrelease.h")
ver=$(sed -n 's/^VSHADOW_VERSION := //p' Makefile)
dkver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
if [ -z "$ver" ] || [ "$ver" != "$dkver" ]; then
	fail "dkms.conf's PACKAGE_VERSION '$dkver' is not the Makefile's '$ver'"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
snapshot() { ls -lR "/lib/modules/$krel" 2>/dev/null || true; }
snapshot >"$tmp/before"

make -s dkms-source DESTDIR="$tmp/root"
mkdir -p "$tmp/tree" "$tmp/inst/$krel"
trees=(--dkmstree "$tmp/tree" --sourcetree "$tmp/root/usr/src"
       --installtree "$tmp/inst")
dkms add -m viommu_shadow -v "$ver" "${trees[@]}" >"$tmp/dkms.log" 2>&1 ||
	{ cat "$tmp/dkms.log"; fail "dkms add"; }
dkms install -m viommu_shadow -v "$ver" -k "$krel" --kernelsourcedir "$KDIR" \
	--no-depmod "${trees[@]}" >>"$tmp/dkms.log" 2>&1 ||
	{ cat "$tmp/dkms.log"; fail "dkms install for $krel"; }
ko=$tmp/inst/$krel/updates/dkms/viommu_shadow.ko
[ -f "$ko" ] || { cat "$tmp/dkms.log"; fail "dkms installed no $ko"; }
magic=$(modinfo -F vermagic "$ko")
[ "${magic%% *}" = "$krel" ] || fail "dkms built for '$magic', not $krel"
dkms remove -m viommu_shadow -v "$ver" --all --no-depmod "${trees[@]}" \
	>>"$tmp/dkms.log" 2>&1 || { cat "$tmp/dkms.log"; fail "dkms remove"; }
[ ! -e "$ko" ] || fail "dkms remove left $ko"

stage=$tmp/stage
make -s install DESTDIR="$stage" PREFIX=/usr >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "make install DESTDIR=... PREFIX=/usr"; }
for f in "lib/modules/$krel/updates/viommu_shadow.ko" \
	 "lib/modules/$krel/modules.dep" usr/include/linux/viommu_shadow.h \
	 usr/sbin/vshadowctl usr/include/vshadow.h usr/lib/libvshadow.a \
	 usr/lib/libvshadow.so.0 usr/lib/pkgconfig/vshadow.pc \
	 usr/lib/libvshadow-preload.so; do
	[ -f "$stage/$f" ] || fail "make install staged no $f"
done
make -s uninstall DESTDIR="$stage" PREFIX=/usr >>"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "make uninstall"; }
for f in "lib/modules/$krel/updates/viommu_shadow.ko" \
	 usr/include/linux/viommu_shadow.h usr/sbin/vshadowctl \
	 usr/include/vshadow.h usr/lib/libvshadow.so.0 usr/lib/pkgconfig/vshadow.pc; do
	[ ! -e "$stage/$f" ] || fail "make uninstall left $f"
done

snapshot >"$tmp/after"
diff -u "$tmp/before" "$tmp/after" >&2 ||
	fail "the host's /lib/modules/$krel changed"
echo "dkms-test.sh: ok: dkms built, installed and removed viommu_shadow $ver for $krel in temporary trees; make install/uninstall staged with DESTDIR and PREFIX"
