#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# deps.sh - set up everything viommu_shadow needs to build and test, with
# no human in the loop.  Idempotent and cached: a second run does no network
# traffic and takes well under a second.
#
#   scripts/deps.sh            host packages, kernel headers, guest kernel,
#                              kselftest headers and checkpatch
#
# Environment:
#   KSERIES   kernel series to set up: 6.1 (bookworm, default) or 6.12
#             (bookworm-backports, added on the mirror apt already uses);
#             debug: the host packages, then the debug lane's kernel only if
#             it is cached (scripts/debug-kernel.sh --cached; exit 3 if not)
#   CACHE     cache directory (default: <repo>/.cache, git-ignored)
#
# On success it writes $CACHE/env-$KSERIES.sh, which the Makefile and the VM
# runner source:  KABI, KDIR, GUEST_KERNEL, GUEST_MODDIR, KSRC_DIR,
# UAPI_EXTRA.
set -euo pipefail

# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"
export DEBIAN_FRONTEND=noninteractive

die() {
	printf 'deps.sh: error: %s\n' "$1" >&2
	[ -n "${2:-}" ] && printf 'deps.sh: try: %s\n' "$2" >&2
	exit 1
}
log() { printf 'deps.sh: %s\n' "$*" >&2; }
# first GLOB...: the first existing path the glob expands to, or nothing.
first() {
	local f
	for f in "$@"; do
		[ -e "$f" ] && { printf '%s\n' "$f"; return 0; }
	done
	return 0
}

case "$KSERIES" in
6.1)	SUITE=bookworm ;;
6.12)	SUITE=bookworm-backports ;;
debug)	SUITE= ;;
*)	die "unknown KSERIES '$KSERIES'" "KSERIES=6.1, 6.12 or debug" ;;
esac

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || die "not root and no sudo" "run as root"
	SUDO=sudo
fi

mkdir -p "$CACHE"

# Host packages, installed when missing.  The list is recorded with the
# cache, so that a cache made with an older list is checked again.
PKGS="make gcc gcc-multilib libc6-dev qemu-system-x86 busybox-static cpio kmod xz-utils
      sparse perl shellcheck libnl-3-dev libnl-genl-3-dev pkg-config python3 python3-yaml python3-docutils dkms"
PKGS_STAMP=$CACHE/.host-pkgs-$KSERIES

# Fast path: everything was set up before and is still there.
if [ -f "$ENVF" ]; then
	# shellcheck disable=SC1090
	. "$ENVF"
	if [ -d "$KDIR" ] && [ -f "$GUEST_KERNEL" ] && [ -f "$KSRC_DIR/.done" ] &&
	   [ -n "$(find "$GUEST_MODDIR/kernel/drivers/vfio" -name 'vfio.ko*' 2>/dev/null)" ] &&
	   [ -f "${UAPI_EXTRA:-}/linux/iommufd.h" ] &&
	   [ "$(cat "$PKGS_STAMP" 2>/dev/null)" = "$PKGS" ]; then
		exit 0
	fi
fi

APT_STAMP=$CACHE/.apt-updated
apt_update() {
	[ -f "$APT_STAMP" ] && return 0
	log "apt-get update"
	$SUDO apt-get update -qq >&2 ||
		die "apt-get update failed" "check the apt sources in /etc/apt"
	touch "$APT_STAMP"
}

# The backports suite lives on the mirror apt already has: reuse its URI
# rather than naming a host here.
add_backports() {
	local list=/etc/apt/sources.list.d/viommu-shadow-backports.list uri
	[ -f "$list" ] && return 0
	uri=$(debian_mirror)
	[ -n "$uri" ] || die "cannot find the Debian mirror in the apt configuration"
	log "adding bookworm-backports from $uri"
	echo "deb $uri bookworm-backports main" | $SUDO tee "$list" >/dev/null
	rm -f "$APT_STAMP"
}

# Every series needs backports for iommufd's uapi header (below).
[ -n "$SUITE" ] && add_backports

# Host packages: installed only when missing.
# shellcheck disable=SC2086 # one word per package
missing=$(missing_packages $PKGS)
if [ -n "$missing" ]; then
	apt_update
	log "installing:$missing"
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $missing >&2 ||
		die "apt-get install failed for:$missing" "apt-get install$missing"
fi

# The debug lane's kernel is the project's own build: only find it here
# (building it takes 13 to 16 minutes on 2 cores: make debug-kernel).
if [ "$KSERIES" = debug ]; then
	printf '%s\n' "$PKGS" >"$PKGS_STAMP"
	exec "$TOP/scripts/debug-kernel.sh" --cached
fi

# Resolve the kernel ABI of this series from apt: image and headers must
# come from the same ABI.  A stale package list may not know the current
# one: then update it once more.
resolve_abi() {
	apt-cache -t "$SUITE" depends linux-headers-amd64 2>/dev/null |
		sed -n 's/.*Depends: linux-headers-\([0-9][^ ]*\)-amd64$/\1/p' |
		grep "^${KSERIES}[.]" | head -n1 || true
}
apt_update
KABI=$(resolve_abi)
if [ -z "$KABI" ]; then
	rm -f "$APT_STAMP"
	apt_update
	KABI=$(resolve_abi)
fi
[ -n "$KABI" ] || die "cannot resolve the $KSERIES kernel ABI from apt ($SUITE)" \
	"apt-cache -t $SUITE depends linux-headers-amd64"
log "kernel $KSERIES ABI: $KABI"

HDR=linux-headers-$KABI-amd64
if ! dpkg-query -W -f='${Status}' "$HDR" 2>/dev/null | grep -q 'ok installed'; then
	log "installing $HDR"
	$SUDO apt-get install -y -qq --no-install-recommends -t "$SUITE" "$HDR" >&2 ||
		die "cannot install $HDR" "apt-get install -t $SUITE $HDR"
fi
KDIR=/usr/src/$HDR
[ -d "$KDIR" ] || die "$KDIR missing after installing $HDR"

# fetch PKG DIR: download a .deb into the cache (no system install) and
# unpack it into DIR.
fetch() {
	local pkg=$1 dir=$2 deb
	[ -f "$dir/.done" ] && return 0
	rm -rf "$dir" && mkdir -p "$dir"
	deb=$(first "$CACHE"/debs/"${pkg}"_*.deb)
	if [ -z "$deb" ]; then
		mkdir -p "$CACHE/debs"
		log "downloading $pkg"
		(cd "$CACHE/debs" && apt-get download -t "$SUITE" "$pkg" >&2) ||
			die "cannot download $pkg" "apt-get download -t $SUITE $pkg"
		deb=$(first "$CACHE"/debs/"${pkg}"_*.deb)
		[ -n "$deb" ] || die "apt-get download left no $pkg .deb"
	fi
	dpkg-deb -x "$deb" "$dir" || die "cannot unpack $deb"
}

# Guest kernel: vmlinuz and plain .ko modules.
IMG=$CACHE/kernel-$KABI
# Unpack again if its modules went missing (e.g. a stray Kbuild clean).
[ -n "$(find "$IMG/lib/modules" -name 'vfio.ko*' 2>/dev/null)" ] || rm -f "$IMG/.done"
fetch "linux-image-$KABI-amd64-unsigned" "$IMG"
touch "$IMG/.done"
GUEST_KERNEL=$(first "$IMG"/boot/vmlinuz-*)
GUEST_MODDIR=$(first "$IMG"/lib/modules/*)
if [ -z "$GUEST_KERNEL" ] || [ -z "$GUEST_MODDIR" ]; then
	die "no kernel or modules in $IMG" "rm -rf $IMG and run again"
fi

# linux-source: only the kselftest headers and checkpatch are extracted.
SRCPKG=linux-source-$KSERIES
KSRC_DIR=$CACHE/$SRCPKG
if [ ! -f "$KSRC_DIR/.done" ]; then
	fetch "$SRCPKG" "$KSRC_DIR/deb"
	tarball=$(first "$KSRC_DIR"/deb/usr/src/linux-source-*.tar.*)
	[ -n "$tarball" ] || die "no source tarball in $SRCPKG"
	top=$(basename "$tarball" | sed 's/\.tar\..*//')
	log "extracting kselftest headers and checkpatch from $(basename "$tarball")"
	tar -xf "$tarball" -C "$KSRC_DIR" --strip-components=1 \
		"$top/tools/testing/selftests/kselftest_harness.h" \
		"$top/tools/testing/selftests/kselftest.h" \
		"$top/scripts/checkpatch.pl" \
		"$top/scripts/spelling.txt" \
		"$top/scripts/const_structs.checkpatch" ||
		die "cannot extract from $tarball"
	rm -rf "$KSRC_DIR/deb"
	touch "$KSRC_DIR/.done"
fi

# iommufd's uapi header: the selftests use it on every lane (tests skip
# where the kernel has no iommufd), but bookworm's linux-libc-dev (6.1)
# predates it.  Take it from the backports linux-libc-dev, unpacked into the
# cache; the Makefiles add it with -idirafter, after the host's headers.
UAPI_EXTRA=$CACHE/uapi-extra
if [ ! -f "$UAPI_EXTRA/linux/iommufd.h" ]; then
	SUITE=bookworm-backports fetch linux-libc-dev "$CACHE/linux-libc-dev"
	hdr=$(first "$CACHE"/linux-libc-dev/usr/include/linux/iommufd.h)
	[ -n "$hdr" ] || die "no linux/iommufd.h in the backports linux-libc-dev"
	mkdir -p "$UAPI_EXTRA/linux"
	cp "$hdr" "$UAPI_EXTRA/linux/iommufd.h"
	rm -rf "$CACHE/linux-libc-dev"
fi

cat >"$ENVF" <<EOT
KSERIES=$KSERIES
KABI=$KABI
KDIR=$KDIR
GUEST_KERNEL=$GUEST_KERNEL
GUEST_MODDIR=$GUEST_MODDIR
KSRC_DIR=$KSRC_DIR
UAPI_EXTRA=$UAPI_EXTRA
EOT
printf '%s\n' "$PKGS" >"$PKGS_STAMP"
log "ready ($ENVF)"
