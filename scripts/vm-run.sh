#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# vm-run.sh - what "make vm-run" runs: build the module against the guest
# kernel, boot the test VM with it loaded (after VFIO, with edu devices
# bound to vfio-pci behind an emulated IOMMU), and run one program of
# your own in it.  The program must be a static binary (the guest has no
# libc): build it with "gcc -static", against include/uapi of this tree.
#
#   scripts/vm-run.sh PROGRAM [ARGUMENTS...]
#   make vm-run PROG=PROGRAM [ARGS="ARGUMENTS..."] [IOMMU=intel|amd]
#
# The program runs as root in the guest's /tmp; its output shows here, and
# the run fails (non-zero exit) when the program does, or on any kernel
# problem in the guest (oops, WARN, and on KSERIES=debug KASAN, lockdep,
# kmemleak).  KSERIES selects the guest kernel (6.1, 6.12, debug, bench);
# IOMMU the emulated IOMMU (default intel); the other knobs are those of
# scripts/vm.sh (VM_TIMEOUT: seconds, default 300).
set -euo pipefail

# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

die() { printf 'vm-run.sh: error: %s\n' "$*" >&2; exit 2; }

if [ $# -lt 1 ] || [ -z "$1" ]; then
	die "no program: make vm-run PROG=path/to/static-binary [ARGS=...]"
fi
prog=$(realpath -e -- "$1" 2>/dev/null) || die "$1: no such file"
shift
[ -x "$prog" ] || die "$prog: not executable"
# A dynamic binary names its loader (PT_INTERP); the guest has none.
if LC_ALL=C readelf -lW "$prog" 2>/dev/null | grep -q 'INTERP'; then
	die "$prog: not a static binary (the guest has no libc): build it with -static"
fi
[ -f "$ENVF" ] || die "$ENVF missing: run make deps"
# shellcheck disable=SC1090
. "$ENVF"
cd "$TOP"

MODDIR=drivers/vfio/viommu_shadow
make -s -C "$TOP" KDIR="$KDIR" modules
mods=(--module "$MODDIR/viommu_shadow.ko")
case "$KSERIES" in
debug|bench)
	[ ! -f "$MODDIR/viommu_shadow_iommufd.ko" ] ||
		mods+=(--module "$MODDIR/viommu_shadow_iommufd.ko") ;;
esac

cmd=$(basename "$prog")
for a in "$@"; do
	cmd="$cmd $(printf '%q' "$a")"
done
exec "$TOP/scripts/vm.sh" --iommu "${IOMMU:-intel}" \
	--timeout "${VM_TIMEOUT:-300}" "${mods[@]}" --file "$prog" \
	-- "$cmd" </dev/null
