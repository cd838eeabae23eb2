#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# deps.sh - set up the test rig: what "make run", "make check", "make
# bench" and "make deps" need, with no human in the loop.  Idempotent and
# cached: a second run does no network traffic and takes well under a
# second.  The product targets ("make", "make install") never run it.
#
#   scripts/deps.sh
#
# It changes the machine in one way only: it installs the Debian packages
# of PKGS below that are missing (apt-get update first), from the apt
# sources the machine has.  Everything kernel-specific (the guest kernel,
# its headers, linux-source-6.1, the uapi headers the selftests build
# with) is fetched into $CACHE by scripts/fetch.sh, never installed, and
# nothing under /etc/apt is written.
#
# Environment:
#   KSERIES   kernel series to set up: 6.1 (bookworm, default) or 6.12
#             (bookworm-backports); debug: the host packages, then the
#             debug lane's kernel only if it is cached
#             (scripts/debug-kernel.sh --cached; exit 3 if not); bench:
#             the same for make bench's production 6.12 kernel
#             (scripts/debug-kernel.sh --bench --cached)
#   CACHE     cache directory (default: <repo>/.cache, git-ignored)
#
# On success $CACHE/env-$KSERIES.sh (KABI, KDIR, GUEST_KERNEL,
# GUEST_MODDIR) and $CACHE/env-src.sh (KSRC_DIR, UAPI_DIR) are there for
# the Makefile and the other scripts.
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

case "$KSERIES" in
6.1|6.12|debug|bench) ;;
*)	die "unknown KSERIES '$KSERIES'" "KSERIES=6.1, 6.12, debug or bench" ;;
esac

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || die "not root and no sudo" "run as root"
	SUDO=sudo
fi

mkdir -p "$CACHE"

# Host packages, installed when missing.  The list is recorded with the
# cache, so that a cache made with an older list is checked again.
# gcc-12, libelf1, libssl3 and dwarves (pahole, for 6.12's module BTF)
# are what the unpacked kernel headers' compiler and kbuild programs need;
# python3-pygments is what docutils needs for the code blocks of
# Documentation/; debootstrap builds make check-full's clean room;
# libjson-c-dev is vshadowctl's JSON writer, and jq reads it back in a
# host check; python3-jsonschema lets YNL validate the netlink spec.
PKGS="make gcc gcc-12 gcc-multilib libc6-dev libelf1 libssl3 dwarves
      qemu-system-x86 busybox-static cpio kmod xz-utils sparse perl shellcheck
      libnl-3-dev libnl-genl-3-dev libjson-c-dev jq pkg-config python3 python3-yaml
      python3-jsonschema
      python3-docutils python3-pygments dkms debootstrap"
PKGS_STAMP=$CACHE/.host-pkgs

# Fast path: everything was set up before and is still there.
if [ "$(cat "$PKGS_STAMP" 2>/dev/null)" = "$PKGS" ] && [ -f "$ENVF" ] &&
   [ -f "$SRC_ENVF" ]; then
	# shellcheck disable=SC1090
	. "$ENVF"
	# shellcheck disable=SC1090
	. "$SRC_ENVF"
	if [ -d "${KDIR:-}" ] && [ -f "${GUEST_KERNEL:-}" ] && [ -f "${KSRC_DIR:-}/.done" ] &&
	   [ -f "${UAPI_DIR:-}/.done" ] &&
	   [ -n "$(find "${GUEST_MODDIR:-/nonexistent}/kernel/drivers/vfio" -name 'vfio.ko*' 2>/dev/null)" ]; then
		exit 0
	fi
fi

# shellcheck disable=SC2086 # one word per package
missing=$(missing_packages $PKGS)
if [ -n "$missing" ]; then
	log "apt-get update"
	$SUDO apt-get update -qq >&2 ||
		die "apt-get update failed" "check the apt sources in /etc/apt"
	log "installing:$missing"
	t=$SECONDS
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $missing >&2 ||
		die "apt-get install failed for:$missing" "apt-get install$missing"
	log "packages installed in $((SECONDS - t))s"
fi

# The debug lane's kernel and the bench kernel are the project's own
# builds: only find them here (building one takes 10 to 16 minutes on 2
# cores: make debug-kernel, make bench-kernel).
case "$KSERIES" in
debug|bench)
	"$TOP/scripts/fetch.sh" src
	printf '%s\n' "$PKGS" >"$PKGS_STAMP"
	if [ "$KSERIES" = debug ]; then
		exec "$TOP/scripts/debug-kernel.sh" --cached
	fi
	exec "$TOP/scripts/debug-kernel.sh" --bench --cached
	;;
esac

# Everything else is fetched into the cache, never installed.
"$TOP/scripts/fetch.sh" src kernel
printf '%s\n' "$PKGS" >"$PKGS_STAMP"
log "ready ($ENVF)"
