#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# dkms-test.sh - check the packaging without touching the host's own module
# tree:
#   - the product targets never set up the rig: "make -n" of modules,
#     install and the default goal, with the running kernel's build tree
#     (HOST_KDIR) pointed at a missing path, stop with a message naming
#     the headers package and would run neither scripts/deps.sh,
#     scripts/fetch.sh nor apt or dpkg; "make -n clean" works there too;
#   - DKMS adds, builds and installs the module from "make dkms-source"
#     for the default series' kernel, all in temporary trees (--dkmstree,
#     --sourcetree, --installtree, --no-depmod), and removes it again;
#   - "make install", "make install-tools" and "make uninstall" stage into
#     a temporary DESTDIR with a PREFIX; the module says the version in
#     VERSION and has the aliases that load it on first use.
# The host's /lib/modules/<release> must be the same after.  DKMS itself
# may create its module signing key (/var/lib/dkms/mok.*), as on any host
# where it builds a module.
#
#   scripts/dkms-test.sh
set -euo pipefail

# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

fail() { printf 'dkms-test.sh: FAIL: %s\n' "$*" >&2; exit 1; }

# The product targets, on a host without a kernel build tree.
rig='scripts/(deps|fetch)\.sh|(^|[;&|[:space:]])(sudo +)?(apt-get|apt|dpkg|apt-cache)[[:space:]]'
for goal in modules install ""; do
	out=$(env -u KDIR -u MAKEFLAGS -u MAKELEVEL \
	      make -n -C "$TOP" HOST_KDIR=/nonexistent/build $goal 2>&1) &&
		fail "make -n ${goal:-(default goal)} without a kernel build tree succeeded"
	if grep -E -- "$rig" <<<"$out"; then
		fail "make -n ${goal:-(default goal)} would set the rig up (above)"
	fi
	grep -q 'linux-headers-' <<<"$out" ||
		fail "make ${goal:-(default goal)} without a build tree names no headers package: $out"
done
# (-n: a real clean would remove this check's own logs in build/.)
env -u KDIR -u MAKEFLAGS -u MAKELEVEL \
	make -n -C "$TOP" HOST_KDIR=/nonexistent/build clean >/dev/null 2>&1 ||
	fail "make clean without a kernel build tree"

[ -f "$ENVF" ] || fail "$ENVF missing: run make deps"
# shellcheck disable=SC1090
. "$ENVF"
cd "$TOP"
command -v dkms >/dev/null || fail "dkms missing: run make deps"
krel=$(sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' "$KDIR/include/generated/utsrelease.h")
ver=$(cat VERSION)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
snapshot() { ls -lR "/lib/modules/$krel" 2>/dev/null || true; }
snapshot >"$tmp/before"

make -s dkms-source DESTDIR="$tmp/root" KDIR="$KDIR"
dkver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$tmp/root/usr/src/viommu_shadow-$ver/dkms.conf")
[ "$dkver" = "$ver" ] || fail "dkms-source's dkms.conf says '$dkver', VERSION '$ver'"
# dkms install refuses to run as anyone but root, whatever its trees.
if [ "$(id -u)" -eq 0 ]; then
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
	[ "$(modinfo -F version "$ko")" = "$ver" ] ||
		fail "the module's version is '$(modinfo -F version "$ko")', not $ver"
	for alias in devname:viommu_shadow char-major-10-247 \
		     net-pf-16-proto-16-family-viommu_shadow; do
		modinfo -F alias "$ko" | grep -qxF "$alias" || fail "the module has no alias $alias"
	done
	dkms remove -m viommu_shadow -v "$ver" --all --no-depmod "${trees[@]}" \
		>>"$tmp/dkms.log" 2>&1 || { cat "$tmp/dkms.log"; fail "dkms remove"; }
	[ ! -e "$ko" ] || fail "dkms remove left $ko"
	dkms_done="dkms built, installed and removed viommu_shadow $ver for $krel in temporary trees"
else
	dkms_done="dkms skipped (dkms install needs root)"
	echo "dkms-test.sh: SKIP dkms: dkms install needs root"
fi

stage=$tmp/stage
make -s install KDIR="$KDIR" DESTDIR="$stage" PREFIX=/usr >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "make install DESTDIR=... PREFIX=/usr"; }
for f in "lib/modules/$krel/updates/viommu_shadow.ko" \
	 "lib/modules/$krel/modules.dep" usr/include/linux/viommu_shadow.h \
	 usr/lib/udev/rules.d/60-viommu_shadow.rules; do
	[ -f "$stage/$f" ] || fail "make install staged no $f"
done
grep -q 'viommu_shadow c10:247' "$stage/lib/modules/$krel/modules.devname" ||
	fail "depmod wrote no /dev/viommu_shadow in modules.devname"
[ ! -e "$stage/usr/sbin/vshadowctl" ] || fail "make install installed the tools"
make -s install-tools DESTDIR="$stage" PREFIX=/usr >>"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "make install-tools DESTDIR=... PREFIX=/usr"; }
for f in usr/sbin/vshadowctl usr/include/vshadow.h usr/lib/libvshadow.a \
	 usr/lib/libvshadow.so.1 usr/lib/pkgconfig/vshadow.pc \
	 usr/lib/libvshadow-preload.so usr/share/man/man8/vshadowctl.8 \
	 usr/share/man/man3/libvshadow.3 usr/share/viommu_shadow/viommu_shadow.yaml; do
	[ -f "$stage/$f" ] || fail "make install-tools staged no $f"
done
v=$("$stage/usr/sbin/vshadowctl" -V)
[[ "$v" == *" $ver "* ]] || fail "vshadowctl -V says '$v', VERSION is $ver"
grep -qx "Version: $ver" "$stage/usr/lib/pkgconfig/vshadow.pc" ||
	fail "vshadow.pc's Version is not $ver"
make -s install-modules-load DESTDIR="$stage" >>"$tmp/install.log" 2>&1 ||
	fail "make install-modules-load"
# Kbuild compresses modules where the kernel's configuration says so.
xz -c "$stage/lib/modules/$krel/updates/viommu_shadow.ko" \
	>"$stage/lib/modules/$krel/updates/viommu_shadow_iommufd.ko.xz"
make -s uninstall KDIR="$KDIR" DESTDIR="$stage" PREFIX=/usr >>"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "make uninstall"; }
left=$(find "$stage" -type f -not -path "*/lib/modules/$krel/modules.*")
[ -z "$left" ] || fail "make uninstall left: $left"

snapshot >"$tmp/after"
diff -u "$tmp/before" "$tmp/after" >&2 ||
	fail "the host's /lib/modules/$krel changed"
echo "dkms-test.sh: ok: make without a build tree sets nothing up; $dkms_done; make install, install-tools and uninstall staged with DESTDIR and PREFIX"
