#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# check-probe-ns.sh: drivers/vfio/viommu_shadow/probe-ns.sh, which Kbuild
# runs to learn the form of symbol namespace a kernel's headers take, gives
# the right answer for both forms.  No kernel of the rig has 6.13's
# headers, so two one-line module.h snippets stand in for them: the
# identifier form (made a string by the macro, as up to 6.12) and the
# string form (from 6.13).  A third case: no module.h at all.
set -euo pipefail

# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"
probe=$TOP/drivers/vfio/viommu_shadow/probe-ns.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/old/include/linux" "$tmp/new/include/linux" "$tmp/none"
printf '#define MODULE_IMPORT_NS(ns)\tMODULE_INFO(import_ns, __stringify(ns))\n' \
	>"$tmp/old/include/linux/module.h"
printf '#define MODULE_IMPORT_NS(ns)\tMODULE_INFO(import_ns, ns)\n' \
	>"$tmp/new/include/linux/module.h"
bad=0
check() {
	local got
	got=$(sh "$probe" "$tmp/$1")
	if [ "$got" = "$2" ]; then
		echo "check-probe-ns.sh: $1: '${got}': ok"
	else
		echo "check-probe-ns.sh: $1: got '${got}', want '$2'"
		bad=1
	fi
}
check old -DVSHADOW_NS_IDENT
check new ''
check none ''
# And the cached 6.1 headers (the -common part, Kbuild's srctree) are
# seen as the identifier form they are.
envf=$CACHE/env-6.1.sh
if [ -f "$envf" ]; then
	# shellcheck disable=SC1090,SC2153
	kdir=$(. "$envf" && echo "$KDIR")
	got=$(sh "$probe" "${kdir%-amd64}-common")
	echo "check-probe-ns.sh: 6.1 headers: '${got}'"
	[ "$got" = -DVSHADOW_NS_IDENT ] ||
		{ echo "check-probe-ns.sh: 6.1 headers not seen as the identifier form"; bad=1; }
fi
exit "$bad"
