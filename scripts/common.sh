# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# common.sh - sourced by the other scripts: where the tree and the caches
# are, and which kernel series to use.  The default series is set here
# and in the top-level Makefile only.
#
#   KSERIES   6.1 (bookworm, default), 6.12 (bookworm-backports) or debug
#             (the debug lane's own 6.12 build, scripts/debug-kernel.sh)
#   CACHE     the git-ignored cache, default <repo>/.cache
#   KCACHE    the debug kernel's cache, outside the work tree so that every
#             clone shares it: default ${XDG_CACHE_HOME:-$HOME/.cache}/viommu_shadow
#   ENVF      what scripts/deps.sh wrote for KSERIES: KABI, KDIR,
#             GUEST_KERNEL, GUEST_MODDIR, KSRC_DIR

# shellcheck disable=SC2034
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KSERIES=${KSERIES:-6.1}
CACHE=${CACHE:-$TOP/.cache}
KCACHE=${KCACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/viommu_shadow}
ENVF=$CACHE/env-$KSERIES.sh
export KSERIES CACHE KCACHE

# missing_packages PKG...: the Debian packages of the list that are not
# installed, each after a space (nothing when all are).
missing_packages() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			printf ' %s' "$p"
	done
}

# debian_mirror: the URI of the Debian mirror apt already uses (never the
# security one), so that bookworm-backports is fetched from the same place
# without naming a host here.  Prints nothing when there is none.
debian_mirror() {
	local uri
	# shellcheck disable=SC2016 # $(REPO_URI) is apt's field, not ours
	uri=$(apt-get indextargets --format '$(REPO_URI)' 'Release: bookworm' \
	      2>/dev/null | grep -v security | head -n1)
	[ -n "$uri" ] || uri=$(grep -rhoE '^(deb|URIs:)[[:space:]]+[^[:space:]]+' \
		/etc/apt/sources.list /etc/apt/sources.list.d 2>/dev/null |
		awk '{print $2}' | grep -v security | head -n1)
	printf '%s' "$uri"
}
