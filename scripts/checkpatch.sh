#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# checkpatch.sh - run the kernel's checkpatch.pl, in its strictest mode, over
# every C source and header of the project: the module (drivers/), its UAPI
# (include/) and its selftests.  Fails on any ERROR, WARNING or CHECK.
#
#   scripts/checkpatch.sh [FILE...]     default: all of the project's files
#
# checkpatch.pl comes from linux-source-6.1, fetched into the cache by
# scripts/fetch.sh (make checkpatch runs it) together with the spelling.txt
# and const_structs.checkpatch it reads from its own directory.
set -euo pipefail

# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

die() { printf 'checkpatch.sh: error: %s\n' "$*" >&2; exit 2; }

[ -f "$SRC_ENVF" ] || die "$SRC_ENVF missing: run scripts/fetch.sh source (or make checkpatch)"
# shellcheck disable=SC1090
. "$SRC_ENVF"
CHECKPATCH=${KSRC_DIR:-}/scripts/checkpatch.pl
[ -f "$CHECKPATCH" ] || die "$CHECKPATCH missing: run scripts/fetch.sh source"

cd "$TOP"
if [ $# -gt 0 ]; then
	files=("$@")
else
	mapfile -t files < <(find drivers include tools/testing/selftests/viommu_shadow tools/vshadowctl tools/lib/vshadow \
		-name '*.[ch]' -not -name '*.mod.c' 2>/dev/null | LC_ALL=C sort)
fi
[ ${#files[@]} -gt 0 ] || die "no source files found"
for f in "${files[@]}"; do
	[ -f "$f" ] || die "$f: no such file"
done

# Paths stay relative to the repository so that checkpatch knows what is
# UAPI (include/uapi/).  --strict's CamelCase check leaves a cache file in
# the current directory when it finds git: keep git out of its way.
# --no-tree: this is not a kernel tree.  -f: files, not patches.
if GIT_DIR=/nonexistent perl "$CHECKPATCH" --root="$TOP" --no-tree --strict \
	--quiet --show-types -f "${files[@]}"
then
	echo "checkpatch.sh: ${#files[@]} files clean"
else
	echo "checkpatch.sh: FAIL: style problems above"
	exit 1
fi
