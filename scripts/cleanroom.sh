#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# cleanroom.sh - prove that the README's two commands work on a new Debian
# 12 machine: run them from a fresh clone of this repository's HEAD inside
# a freshly made minimal Debian 12 root, where nothing is installed but
# what debootstrap's minbase variant has, plus git, make, sudo and
# ca-certificates (what a newcomer needs to clone and type make).
#
#   scripts/cleanroom.sh          make run, then make check LANES=6.1 (the
#                                 host checks and the 6.1 lane), in the root
#
# The root runs as a chroot with /proc, /sys and /dev mounted; QEMU runs
# under TCG there as everywhere.  Its apt sources are the host's Debian
# archive (apt-get indextargets, else DEBIAN_MIRROR) for bookworm,
# bookworm-updates and bookworm-security, as on a new machine.  It fails
# if either command fails, and shows the root's linux-libc-dev (bookworm's
# 6.1: the selftests must not depend on a newer one).
#
# Only the base root is cached ($KCACHE/cleanroom/base-bookworm, made once
# with debootstrap, about a minute): every run starts from a fresh copy of
# it, so the packages the commands install and everything they fetch are
# installed and fetched anew each time.  The copy is removed afterwards;
# the logs stay in build/cleanroom/.  Needs root (chroot, mount) and
# debootstrap (scripts/deps.sh installs it).
#
# Environment: KCACHE (common.sh), DEBIAN_MIRROR, CLEANROOM_TIMEOUT
# (seconds for each of the two commands, default 3600).
set -euo pipefail

# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

die() { printf 'cleanroom.sh: error: %s\n' "$*" >&2; exit 2; }
log() { printf 'cleanroom.sh: %s\n' "$*"; }

[ "$(id -u)" -eq 0 ] || die "needs root (chroot and mounts)"
command -v debootstrap >/dev/null || die "debootstrap missing: run make deps"
git -C "$TOP" rev-parse --verify -q HEAD >/dev/null || die "no commit to clone"
mirror=$(debian_mirror)
[ -n "$mirror" ] || die "no Debian mirror: apt-get indextargets names none; set DEBIAN_MIRROR"
security=$(debian_security_mirror)

OUT=$TOP/build/cleanroom
mkdir -p "$OUT" "$KCACHE/cleanroom"
# Canonical paths: the processes in the root are found by their root.
BASE=$(realpath "$KCACHE/cleanroom")/base-bookworm
start=$SECONDS

# The base root, made once; .complete is written last.
if [ ! -f "$BASE/.complete" ]; then
	log "debootstrap --variant=minbase bookworm from $mirror (once)"
	rm -rf --one-file-system "$BASE"
	t=$SECONDS
	debootstrap --variant=minbase --include=git,make,sudo,ca-certificates \
		bookworm "$BASE" "$mirror" >"$OUT/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$OUT/debootstrap.log"; die "debootstrap failed"; }
	touch "$BASE/.complete"
	log "base root made in $((SECONDS - t))s"
fi

# in_root_pids: the processes whose root is the clean room.
in_root_pids() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" != "$ROOT" ] || echo "${p#/proc/}"
	done
}

cleanup() {
	local pids m
	# Nothing may keep running in the root (a guest, a stray daemon):
	# killed, and waited for, before the root goes.
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		pids=$(in_root_pids)
		[ -n "$pids" ] || break
		# shellcheck disable=SC2086 # one word per pid
		kill -9 $pids 2>/dev/null || true
		sleep 1
	done
	for m in dev/pts dev sys proc; do
		! mountpoint -q "$ROOT/$m" 2>/dev/null || umount -l "$ROOT/$m"
	done
	rm -rf --one-file-system "$ROOT" ||
		log "could not remove all of $ROOT: rm -rf --one-file-system it"
}
ROOT=$(mktemp -d "$(dirname "$BASE")/run.XXXXXX")
trap cleanup EXIT
log "copying the base root to $ROOT"
cp -a "$BASE/." "$ROOT"
rm -f "$ROOT/.complete"
{
	printf 'deb %s bookworm main\n' "$mirror"
	printf 'deb %s bookworm-updates main\n' "$mirror"
	[ -z "$security" ] || printf 'deb %s bookworm-security main\n' "$security"
} >"$ROOT/etc/apt/sources.list"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
mount -t proc proc "$ROOT/proc"
mount -t sysfs sysfs "$ROOT/sys"
mount --bind /dev "$ROOT/dev"
mount --bind /dev/pts "$ROOT/dev/pts"

git clone -q "$TOP" "$ROOT/root/viommu_shadow"
commit=$(git -C "$ROOT/root/viommu_shadow" rev-parse --short HEAD)
log "fresh clone of $commit in the root; running the README's commands"

# in_root NAME COMMAND: run COMMAND in the root's clone as a new machine
# would (CI=true, no standard input), its output in $OUT/NAME.log.
in_root() {
	local name=$1 cmd=$2 t=$SECONDS rc=0
	log "$name: $cmd"
	timeout --kill-after=30 "${CLEANROOM_TIMEOUT:-3600}" \
		chroot "$ROOT" /usr/bin/env -i HOME=/root TERM=dumb CI=true \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LANG=C.UTF-8 /bin/bash -c "cd /root/viommu_shadow && $cmd" \
		</dev/null >"$OUT/$name.log" 2>&1 || rc=$?
	log "$name: exit $rc in $((SECONDS - t))s ($OUT/$name.log)"
	return "$rc"
}

failed=()
in_root libc-before "dpkg-query -W linux-libc-dev" || true
log "linux-libc-dev before: $(tr '\t' ' ' <"$OUT/libc-before.log")"
in_root run "make run" || { tail -n 30 "$OUT/run.log"; failed+=("make run"); }
in_root check "make check LANES=6.1" ||
	{ tail -n 40 "$OUT/check.log"; failed+=("make check LANES=6.1"); }
in_root libc-after "dpkg-query -W linux-libc-dev" || true
log "linux-libc-dev after: $(head -n1 "$OUT/libc-after.log" | tr '\t' ' ')"
grep -q ' 6\.1\.' <(tr '\t' ' ' <"$OUT/libc-after.log") ||
	failed+=("linux-libc-dev is no longer bookworm's 6.1")
summary=$(tail -n1 "$OUT/check.log" 2>/dev/null || true)
log "make check in the root: ${summary:-no summary}"

log "done in $((SECONDS - start))s"
if [ ${#failed[@]} -gt 0 ]; then
	log "FAIL: ${failed[*]}"
	exit 1
fi
log "ok: make run and make check LANES=6.1 pass in a new Debian 12 root"
