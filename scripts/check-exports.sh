#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# check-exports.sh MODULE.SYMVERS: what the module exports to its backend
# modules is in its own namespace (VIOMMU_SHADOW) and is exactly the
# typed interface for backends: registration, argument pages made for the
# file a context attached, and calls through them (and, in the test build,
# the fault injector's one entry).  Above all, no general "call any file's
# ioctl" helper.  Exits non-zero, naming each offender, otherwise.
set -euo pipefail

symvers=${1:?usage: check-exports.sh Module.symvers}
allowed=" vshadow_backend_register vshadow_backend_unregister
	vshadow_argpage_create vshadow_argpage_destroy vshadow_argpage_uaddr
	vshadow_argpage_kaddr vshadow_argpage_gone vshadow_forward_args
	__vshadow_fail "
bad=0 n=0
while IFS=$'\t' read -r _ sym mod _ ns; do
	[[ "$mod" == */viommu_shadow ]] || continue
	n=$((n + 1))
	if [ "$ns" != VIOMMU_SHADOW ]; then
		echo "check-exports.sh: $sym: exported in namespace '${ns:-}' (want VIOMMU_SHADOW)"
		bad=1
	fi
	if ! grep -qw -- "$sym" <<<"$allowed"; then
		echo "check-exports.sh: $sym: exported, but not part of the backend interface"
		bad=1
	fi
done <"$symvers"
[ "$n" -gt 0 ] || { echo "check-exports.sh: no export of viommu_shadow in $symvers"; exit 1; }
[ "$bad" -eq 0 ] && echo "check-exports.sh: $n exports, all in VIOMMU_SHADOW, all of the backend interface"
exit "$bad"
