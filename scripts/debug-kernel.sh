#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# debug-kernel.sh - build, or find in the cache, the debug lane's guest
# kernel: Debian's linux-source-6.12 (bookworm-backports) configured with
# x86_64 defconfig + kvm_guest.config + scripts/kconfig/debug.config
# (KASAN, lockdep, kmemleak, fault injection, iommufd and its test mock),
# then write $CACHE/env-debug.sh for the other scripts.  With --bench, the
# benchmark's production kernel instead: the same, with
# scripts/kconfig/bench.config appended (no checkers, no sanitizers, no
# injection points; iommufd and its mock kept), and $CACHE/env-bench.sh.
#
#   scripts/debug-kernel.sh [--bench]            build it when not cached
#   scripts/debug-kernel.sh [--bench] --cached   only look in the cache:
#                                      exit 3 when it is not there (no
#                                      build, no network)
#   scripts/debug-kernel.sh [--bench] --refresh  ask apt for a newer
#                                      linux-source-6.12 first, and build
#                                      that one if there is
#
# The cache lives outside the work tree, in $KCACHE (see common.sh), so that
# every clone shares it:
#
#   $KCACHE/debs/                   linux-source-6.12 .deb
#   $KCACHE/apt/                    a private apt state naming only
#                                   bookworm-backports (the system's apt
#                                   configuration is not touched)
#   $KCACHE/src-VERSION/            the extracted source, shared by entries
#   $KCACHE/linux-VERSION-HASH/     one cache entry: VERSION of the source
#                                   package, HASH of debug.config (for
#                                   --bench: of debug.config, then
#                                   bench.config)
#       build/                      the O= tree (KDIR for the module)
#       root/lib/modules/RELEASE/   the installed modules
#       usr/include/                the kernel's uapi headers (iommufd.h)
#       bzImage
#       build.log
#       .complete                   written last: only an entry that has it
#                                   is used, so a failed or interrupted
#                                   build never looks complete (the next run
#                                   resumes it)
#
# Environment: KCACHE, CACHE (common.sh), JOBS (make -j, default nproc).
# Build packages (flex, bison, bc, libelf-dev, libssl-dev, rsync) are
# installed when missing.
set -euo pipefail

# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"
export DEBIAN_FRONTEND=noninteractive

SERIES=6.12
SRCPKG=linux-source-$SERIES
JOBS=${JOBS:-$(nproc)}
BUILD_PKGS="make gcc libc6-dev flex bison bc libelf-dev libssl-dev rsync
            xz-utils cpio kmod perl"

die() {
	printf 'debug-kernel.sh: error: %s\n' "$1" >&2
	[ -n "${2:-}" ] && printf 'debug-kernel.sh: try: %s\n' "$2" >&2
	exit 1
}
log() { printf 'debug-kernel.sh: %s\n' "$*" >&2; }

mode=build flavour=debug
for arg in "$@"; do
	case "$arg" in
	--bench)	flavour=bench ;;
	--cached)	mode=cached ;;
	--refresh)	mode=refresh ;;
	-h|--help)	sed -n '/^# debug-kernel.sh - /,/^set -euo/{/^set/d;s/^# \{0,1\}//;p}' "$0"
			exit 0 ;;
	*)		die "unknown option '$arg' (see --help)" ;;
	esac
done

# The fragments, in the order they are appended to defconfig.
FRAGMENTS=("$TOP/scripts/kconfig/debug.config")
[ "$flavour" = debug ] || FRAGMENTS+=("$TOP/scripts/kconfig/$flavour.config")
ENV_OUT=$CACHE/env-$flavour.sh

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

# The debug kernel's key is debug.config's hash alone (as it always was);
# the bench kernel's, that of both fragments in order.
HASH=$(cat "${FRAGMENTS[@]}" | sha256sum | cut -c1-12)
mkdir -p "$KCACHE" "$CACHE"

# write_env ENTRY: point $CACHE/env-debug.sh at a complete cache entry.
write_env() {
	local entry=$1 release
	release=$(cat "$entry/release")
	cat >"$ENV_OUT" <<EOT
KSERIES=$flavour
KABI=$release
KDIR=$entry/build
GUEST_KERNEL=$entry/bzImage
GUEST_MODDIR=$entry/root/lib/modules/$release
KSRC_DIR=$(cat "$entry/srcdir")
KUAPI_DIR=$entry/usr/include
EOT
	log "ready: $release in $entry ($ENV_OUT)"
}

# The newest complete entry for this fragment, if any.
cached_entry() {
	local e
	e=$(find "$KCACHE" -maxdepth 2 -path "$KCACHE/linux-*-$HASH/.complete" \
	    2>/dev/null | sed 's|/\.complete$||' | sort -V | tail -n1)
	[ -n "$e" ] && [ -f "$e/bzImage" ] && [ -d "$e/build" ] &&
		[ -f "$(cat "$e/srcdir" 2>/dev/null)/.done" ] || return 1
	printf '%s\n' "$e"
}

if [ "$mode" != refresh ] && entry=$(cached_entry); then
	write_env "$entry"
	exit 0
fi
if [ "$mode" = cached ]; then
	log "no $flavour kernel for its fragments ($HASH) in $KCACHE"
	if [ "$flavour" = debug ]; then
		log "build it with: make debug-kernel (about 13 minutes on 2 cores)"
	else
		log "build it with: make bench-kernel (make bench builds it too)"
	fi
	rm -f "$ENV_OUT"
	exit 3
fi

# Build packages, installed when missing.
# shellcheck disable=SC2086 # one word per package
missing=$(missing_packages $BUILD_PKGS)
if [ -n "$missing" ]; then
	log "installing:$missing"
	$SUDO apt-get update -qq >&2 || die "apt-get update failed"
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $missing >&2 ||
		die "apt-get install failed for:$missing" "apt-get install$missing"
fi

# A private apt state that knows only bookworm-backports, on the mirror the
# system already uses: the source package comes through apt (signatures
# checked with the system's keyring) without adding the suite to the
# system's sources.
APTDIR=$KCACHE/apt
rig_apt "$APTDIR" bookworm-backports || die "cannot set up the private apt state"
# Asked anew each time (--refresh, or no complete entry): is there a newer
# source package?
rig_apt_update "$APTDIR" force || die "apt-get update of bookworm-backports failed"
VERSION=$(apt-cache "${APT[@]}" policy "$SRCPKG" | sed -n 's/^ *Candidate: //p')
case "$VERSION" in
""|"(none)")	die "apt knows no $SRCPKG in bookworm-backports" ;;
esac
log "$SRCPKG $VERSION, $flavour kernel, fragments $HASH"

# The cache entry: its name is made of the key, with apt's version
# characters that are awkward in paths replaced.
ENTRY=$KCACHE/linux-$(printf '%s' "$VERSION" | tr '~+:' '__.')-$HASH
if [ -f "$ENTRY/.complete" ] && entry=$(cached_entry) && [ "$entry" = "$ENTRY" ]; then
	write_env "$ENTRY"
	exit 0
fi

# One build at a time per entry.
mkdir -p "$ENTRY"
exec 9>"$ENTRY/.lock"
flock -n 9 || { log "waiting for another build of $ENTRY"; flock 9; }
rm -f "$ENTRY/.complete"

# The source package, then its tarball, extracted once per version into a
# temporary directory renamed into place when whole.
DEB=$KCACHE/debs/${SRCPKG}_${VERSION//:/%3a}_all.deb
if [ ! -f "$DEB" ]; then
	mkdir -p "$KCACHE/debs"
	log "downloading $SRCPKG $VERSION"
	(cd "$KCACHE/debs" && apt-get "${APT[@]}" download "$SRCPKG=$VERSION" >&2) ||
		die "cannot download $SRCPKG $VERSION"
	[ -f "$DEB" ] || DEB=$(find "$KCACHE/debs" -name "${SRCPKG}_*.deb" | sort -V | tail -n1)
	[ -f "$DEB" ] || die "apt-get download left no $SRCPKG .deb"
fi
SRC=$KCACHE/src-$(printf '%s' "$VERSION" | tr '~+:' '__.')
if [ ! -f "$SRC/.done" ]; then
	rm -rf "$SRC" "$SRC.tmp"
	mkdir -p "$SRC.tmp"
	log "extracting $SRCPKG (about a minute)"
	dpkg-deb --fsys-tarfile "$DEB" |
		tar -x -C "$SRC.tmp" --wildcards "./usr/src/$SRCPKG.tar.*" ||
		die "cannot unpack $DEB"
	tarball=$(find "$SRC.tmp/usr/src" -name "$SRCPKG.tar.*" | head -n1)
	[ -n "$tarball" ] || die "no source tarball in $DEB"
	mkdir -p "$SRC.tmp/tree"
	tar -xf "$tarball" -C "$SRC.tmp/tree" --strip-components=1 ||
		die "cannot extract $tarball"
	mv "$SRC.tmp/tree" "$SRC"
	rm -rf "$SRC.tmp"
	touch "$SRC/.done"
fi
printf '%s\n' "$SRC" >"$ENTRY/srcdir"

BUILD=$ENTRY/build
KMAKE=(make -C "$SRC" O="$BUILD" -j"$JOBS")
LOGF=$ENTRY/build.log
start=$SECONDS

# Configure.  Kconfig takes the last value it reads for a symbol, so the
# fragment appended to defconfig wins; olddefconfig resolves the rest.
if [ ! -f "$BUILD/.config.fragment-$HASH" ]; then
	mkdir -p "$BUILD"
	log "configuring in $BUILD"
	{
		"${KMAKE[@]}" defconfig kvm_guest.config &&
		cat "${FRAGMENTS[@]}" >>"$BUILD/.config" &&
		"${KMAKE[@]}" olddefconfig
	} >"$LOGF" 2>&1 || { tail -n 40 "$LOGF" >&2; die "configuration failed (see $LOGF)"; }
	# Every option the fragments name must have, in the result, the value
	# of the last line naming it (the one Kconfig kept).
	declare -A want=()
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*|"# CONFIG_"*" is not set")
			opt=${line#\# }; opt=${opt%%[= ]*}
			want[$opt]=$line ;;
		esac
	done < <(cat "${FRAGMENTS[@]}")
	bad=
	for opt in "${!want[@]}"; do
		w=${want[$opt]}
		if [[ "$w" == *" is not set" ]]; then
			grep -q "^$opt=" "$BUILD/.config" && bad="$bad $opt(wanted off)"
		else
			grep -qxF "$w" "$BUILD/.config" ||
				bad="$bad ${w}(got: $(grep -E "^(# )?${opt}[= ]" "$BUILD/.config" || echo unset))"
		fi
	done
	[ -z "$bad" ] || die "Kconfig did not keep:$bad" \
		"fix scripts/kconfig/$flavour.config (a dependency is missing)"
	touch "$BUILD/.config.fragment-$HASH"
fi

log "building bzImage and modules with -j$JOBS (cold: about 13 minutes; log $LOGF)"
# A line of progress a minute, so that a terminal is never silent for long
# (in short sleeps, so that it is gone soon after the build).
(
	n=0
	while sleep 5; do
		n=$((n + 1))
		[ $((n % 12)) -eq 0 ] || continue
		log "building: $(grep -c '^  CC' "$LOGF") files compiled, $(((SECONDS - start) / 60)) min"
	done
) &
ticker=$!
trap 'kill "$ticker" 2>/dev/null' EXIT
if ! "${KMAKE[@]}" bzImage modules >>"$LOGF" 2>&1; then
	grep -E 'error|Error' "$LOGF" | head -n 20 >&2 || true
	tail -n 20 "$LOGF" >&2
	die "kernel build failed (see $LOGF)"
fi
release=$(cat "$BUILD/include/config/kernel.release")
rm -rf "${ENTRY:?}/root" "${ENTRY:?}/usr"
"${KMAKE[@]}" modules_install INSTALL_MOD_PATH="$ENTRY/root" \
	INSTALL_MOD_STRIP=1 >>"$LOGF" 2>&1 || die "modules_install failed (see $LOGF)"
"${KMAKE[@]}" headers_install INSTALL_HDR_PATH="$ENTRY/usr" >>"$LOGF" 2>&1 ||
	die "headers_install failed (see $LOGF)"
cp "$BUILD/arch/x86/boot/bzImage" "$ENTRY/bzImage"
printf '%s\n' "$release" >"$ENTRY/release"
log "built $release in $((SECONDS - start))s"
touch "$ENTRY/.complete"
write_env "$ENTRY"
