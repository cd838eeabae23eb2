#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# fetch.sh - fetch the Debian packages the test rig builds and boots with
# into the git-ignored cache: downloaded with "apt-get download" through a
# private apt state ($CACHE/apt, see rig_apt in common.sh) and unpacked
# with "dpkg-deb -x".  It installs nothing, writes nothing outside $CACHE
# and needs no root.  Idempotent: a second run does no network traffic.
#
#   scripts/fetch.sh src      both of "source" and "uapi":
#   scripts/fetch.sh source   linux-source-6.1: kselftest_harness.h,
#                             kselftest.h and checkpatch.pl (with the files
#                             it reads)
#   scripts/fetch.sh uapi     bookworm-backports' linux-libc-dev: the uapi
#                             headers the selftests build with
#                             (linux/vfio.h with the cdev ioctls,
#                             linux/iommufd.h), whatever the host has.
#                             Writes $CACHE/env-src.sh: KSRC_DIR, UAPI_DIR.
#   scripts/fetch.sh kernel   the guest kernel of $KSERIES (6.1 or 6.12:
#                             vmlinuz and its modules) and its headers
#                             (linux-headers-ABI-amd64, -common and
#                             linux-kbuild: the KDIR the module builds
#                             against).  Writes $CACHE/env-$KSERIES.sh.
#
# The headers need gcc-12, libelf1 and libssl3 on the host to be used;
# scripts/deps.sh installs those.
set -euo pipefail

# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

die() {
	printf 'fetch.sh: error: %s\n' "$1" >&2
	[ -n "${2:-}" ] && printf 'fetch.sh: try: %s\n' "$2" >&2
	exit 1
}
log() { printf 'fetch.sh: %s\n' "$*" >&2; }
# first GLOB...: the first existing path the glob expands to, or nothing.
first() {
	local f
	for f in "$@"; do
		[ -e "$f" ] && { printf '%s\n' "$f"; return 0; }
	done
	return 0
}

APTDIR=$CACHE/apt
mkdir -p "$CACHE/debs"
rig_apt "$APTDIR" bookworm bookworm-updates bookworm-backports ||
	die "cannot set up the private apt state"

# download PKG [SUITE]: the path of the .deb of SUITE's candidate version
# of PKG in $CACHE/debs, downloaded when not there (a cached .deb of
# another version is never taken for it).  A stale list (the archive
# moved on) is updated once.
download() {
	local pkg=$1 suite=${2:-bookworm} deb='' ver try stem
	for try in 1 2; do
		rig_apt_update "$APTDIR" "$([ "$try" = 1 ] || echo force)" ||
			die "apt-get update of the private state failed" \
			    "check the network and the mirror ($(debian_mirror))"
		ver=$(apt-cache "${APT[@]}" -t "$suite" policy "$pkg" 2>/dev/null |
		      sed -n 's/^ *Candidate: //p')
		case "$ver" in ""|"(none)") continue ;; esac
		# apt-get download names the file with the epoch's ':' as %3a.
		stem=$CACHE/debs/${pkg}_${ver//:/%3a}
		deb=$(first "$stem"_*.deb)
		[ -z "$deb" ] || break
		log "downloading $pkg $ver ($suite)"
		(cd "$CACHE/debs" && apt-get "${APT[@]}" download "$pkg=$ver" >&2) || true
		deb=$(first "$stem"_*.deb)
		[ -z "$deb" ] || break
	done
	[ -n "$deb" ] || die "cannot download $pkg" "apt-get download -t $suite $pkg"
	printf '%s\n' "$deb"
}

# unpack DEB DIR: dpkg-deb -x, no system install.
unpack() {
	dpkg-deb -x "$1" "$2" || die "cannot unpack $1"
}

KSRC=$CACHE/linux-source-6.1
UAPI=$CACHE/uapi

fetch_source() {
	local ksrc=$KSRC deb tarball top
	if [ ! -f "$ksrc/.done" ]; then
		deb=$(download linux-source-6.1)
		rm -rf "$ksrc" && mkdir -p "$ksrc/deb"
		unpack "$deb" "$ksrc/deb"
		tarball=$(first "$ksrc"/deb/usr/src/linux-source-*.tar.*)
		[ -n "$tarball" ] || die "no source tarball in $deb"
		top=$(basename "$tarball" | sed 's/\.tar\..*//')
		log "extracting kselftest headers and checkpatch from $(basename "$tarball")"
		tar -xf "$tarball" -C "$ksrc" --strip-components=1 \
			"$top/tools/testing/selftests/kselftest_harness.h" \
			"$top/tools/testing/selftests/kselftest.h" \
			"$top/scripts/checkpatch.pl" \
			"$top/scripts/spelling.txt" \
			"$top/scripts/const_structs.checkpatch" ||
			die "cannot extract from $tarball"
		rm -rf "$ksrc/deb"
		touch "$ksrc/.done"
	fi
}

fetch_uapi() {
	local uapi=$UAPI deb
	# The whole usr/include of the backports linux-libc-dev: the
	# Makefiles put it (and its x86_64-linux-gnu/ for asm/) ahead of the
	# host's, so that every linux/*.h comes from one kernel.
	if [ ! -f "$uapi/.done" ]; then
		deb=$(download linux-libc-dev bookworm-backports)
		rm -rf "$uapi" "$uapi.tmp" && mkdir -p "$uapi.tmp"
		unpack "$deb" "$uapi.tmp"
		[ -f "$uapi.tmp/usr/include/linux/iommufd.h" ] ||
			die "no linux/iommufd.h in $(basename "$deb")"
		mv "$uapi.tmp/usr/include" "$uapi"
		rm -rf "$uapi.tmp"
		touch "$uapi/.done"
	fi
}

# env-src.sh names what is there of the two.
write_src_env() {
	{
		[ ! -f "$KSRC/.done" ] || echo "KSRC_DIR=$KSRC"
		[ ! -f "$UAPI/.done" ] || echo "UAPI_DIR=$UAPI"
	} >"$SRC_ENVF"
}

# resolve_abi SUITE: the kernel ABI of $KSERIES that SUITE's
# linux-headers-amd64 depends on (image and headers come from that one ABI).
resolve_abi() {
	apt-cache "${APT[@]}" -t "$1" depends linux-headers-amd64 2>/dev/null |
		sed -n 's/.*Depends: linux-headers-\([0-9][^ ]*\)-amd64$/\1/p' |
		grep "^${KSERIES}[.]" | head -n1 || true
}

fetch_kernel() {
	local suite kabi img hdr dep deb deps
	case "$KSERIES" in
	6.1)	suite=bookworm ;;
	6.12)	suite=bookworm-backports ;;
	*)	die "fetch.sh kernel: KSERIES must be 6.1 or 6.12, not '$KSERIES'" ;;
	esac
	# The ABI is that of the cached environment while its files are
	# there: a second run asks no network.
	if [ -f "$ENVF" ]; then
		# shellcheck disable=SC1090
		kabi=$(. "$ENVF" && echo "${KABI:-}")
		[ -f "$CACHE/kernel-$kabi/.done" ] && [ -f "$CACHE/headers-$kabi/.done" ] ||
			kabi=
	fi
	# Otherwise the lists are brought up to date first: an old list
	# names an ABI the archive may no longer have.
	if [ -z "${kabi:-}" ]; then
		rig_apt_update "$APTDIR" force || die "apt-get update of the private state failed"
		kabi=$(resolve_abi "$suite")
		[ -n "$kabi" ] || die "cannot resolve the $KSERIES kernel ABI ($suite)" \
			"apt-cache -t $suite depends linux-headers-amd64"
	fi
	log "kernel $KSERIES ABI: $kabi"

	# The guest kernel: vmlinuz and plain .ko modules, unpacked again if
	# its modules went missing.
	img=$CACHE/kernel-$kabi
	[ -n "$(find "$img/lib/modules" -name 'vfio.ko*' 2>/dev/null)" ] || rm -f "$img/.done"
	if [ ! -f "$img/.done" ]; then
		deb=$(download "linux-image-$kabi-amd64-unsigned" "$suite")
		rm -rf "$img" && mkdir -p "$img"
		unpack "$deb" "$img"
		touch "$img/.done"
	fi

	# The headers: linux-headers-ABI-amd64 and the linux-headers-* and
	# linux-kbuild-* packages it depends on, unpacked into one root.
	# Their symbolic links are relative; the one absolute path, the
	# -amd64 Makefile's include of the -common one, is pointed into it.
	hdr=$CACHE/headers-$kabi
	if [ ! -f "$hdr/.done" ]; then
		rm -rf "$hdr" && mkdir -p "$hdr"
		deps=$(apt-cache "${APT[@]}" -t "$suite" depends "linux-headers-$kabi-amd64") ||
			die "apt-cache depends linux-headers-$kabi-amd64 failed"
		for dep in "linux-headers-$kabi-amd64" $(sed -n \
		    's/^ *Depends: \(linux-\(headers\|kbuild\)-[^ ]*\)$/\1/p' <<<"$deps"); do
			deb=$(download "$dep" "$suite")
			unpack "$deb" "$hdr"
		done
		sed -i "s|^include /usr/src/|include $hdr/usr/src/|" \
			"$hdr/usr/src/linux-headers-$kabi-amd64/Makefile"
		if [ ! -f "$hdr/usr/src/linux-headers-$kabi-common/Makefile" ] ||
		   [ ! -e "$hdr/usr/src/linux-headers-$kabi-amd64/scripts/Makefile.build" ]; then
			die "the headers of $kabi are incomplete in $hdr"
		fi
		touch "$hdr/.done"
	fi

	img=$(cd "$img" && pwd)
	cat >"$ENVF" <<EOT
KSERIES=$KSERIES
KABI=$kabi
KDIR=$hdr/usr/src/linux-headers-$kabi-amd64
GUEST_KERNEL=$(first "$img"/boot/vmlinuz-*)
GUEST_MODDIR=$(first "$img"/lib/modules/*)
EOT
}

[ $# -gt 0 ] || die "what to fetch: src, source, uapi, kernel (see the header of $0)"
for what in "$@"; do
	case "$what" in
	src)	fetch_source; fetch_uapi; write_src_env ;;
	source)	fetch_source; write_src_env ;;
	uapi)	fetch_uapi; write_src_env ;;
	kernel)	fetch_kernel ;;
	*)	die "unknown part '$what' (src, source, uapi, kernel)" ;;
	esac
done
