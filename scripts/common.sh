# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# common.sh - sourced by the other scripts: where the tree and the caches
# are, which kernel series to use, and how the test rig reaches Debian's
# archive.  The default series is set here and in the top-level Makefile
# only.
#
#   KSERIES   6.1 (bookworm, default), 6.12 (bookworm-backports) or debug
#             (the debug lane's own 6.12 build, scripts/debug-kernel.sh)
#   CACHE     the git-ignored cache, default <repo>/.cache
#   KCACHE    the debug kernel's cache, outside the work tree so that every
#             clone shares it: default ${XDG_CACHE_HOME:-$HOME/.cache}/viommu_shadow
#   ENVF      what scripts/fetch.sh (scripts/debug-kernel.sh for debug)
#             wrote for KSERIES: KABI, KDIR, GUEST_KERNEL, GUEST_MODDIR
#             (debug also KSRC_DIR, its source tree, and KUAPI_DIR)
#   SRC_ENVF  what scripts/fetch.sh wrote for the build-time inputs of
#             every series: KSRC_DIR (kselftest headers, checkpatch),
#             UAPI_DIR (the uapi headers the selftests build with)
#   DEBIAN_MIRROR
#             the Debian archive to fetch from, when apt's own
#             configuration names none (apt-get indextargets)

# shellcheck disable=SC2034
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KSERIES=${KSERIES:-6.1}
CACHE=${CACHE:-$TOP/.cache}
KCACHE=${KCACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/viommu_shadow}
ENVF=$CACHE/env-$KSERIES.sh
SRC_ENVF=$CACHE/env-src.sh
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

# debian_mirror: the URI of the Debian archive apt already uses, as apt
# itself reports it (never a parse of its sources files), else
# $DEBIAN_MIRROR.  Prints nothing when there is neither.
debian_mirror() {
	local uri
	# shellcheck disable=SC2016 # $(REPO_URI) is apt's field, not ours
	uri=$(apt-get indextargets --format '$(REPO_URI)' 'Origin: Debian' \
	      'Label: Debian' 2>/dev/null | grep -E '^https?://' | head -n1)
	printf '%s' "${uri:-${DEBIAN_MIRROR:-}}"
}

# debian_security_mirror: the same for bookworm-security, if apt has it.
debian_security_mirror() {
	# shellcheck disable=SC2016
	apt-get indextargets --format '$(REPO_URI)' 'Label: Debian-Security' \
		2>/dev/null | grep -E '^https?://' | head -n1
}

# rig_apt DIR SUITE...: set APT to the options of a private apt state in
# DIR that names only SUITE... of the Debian archive (and bookworm-security
# when SUITE has bookworm and apt knows a security mirror).  apt-get and
# apt-cache with "${APT[@]}" then download and resolve packages with the
# system's keyring but none of its sources, lists or locks: the system's
# apt configuration is read, never written, and no root is needed.
rig_apt() {
	local dir=$1 uri sec s
	shift
	uri=$(debian_mirror)
	if [ -z "$uri" ]; then
		printf '%s\n' "no Debian mirror: apt-get indextargets names none" \
			"(run apt-get update first), and DEBIAN_MIRROR is not set;" \
			"set it, e.g. DEBIAN_MIRROR=http://<mirror>/debian/" >&2
		return 1
	fi
	mkdir -p "$dir/lists/partial" "$dir/archives/partial" "$dir/parts"
	{
		for s in "$@"; do
			printf 'deb %s %s main\n' "$uri" "$s"
		done
		sec=$(debian_security_mirror)
		case " $* " in
		*" bookworm "*) [ -z "$sec" ] ||
				printf 'deb %s bookworm-security main\n' "$sec" ;;
		esac
	} >"$dir/sources.list.new"
	# A change of sources makes the lists stale.
	if ! cmp -s "$dir/sources.list.new" "$dir/sources.list"; then
		mv "$dir/sources.list.new" "$dir/sources.list"
		rm -f "$dir/.updated"
	else
		rm -f "$dir/sources.list.new"
	fi
	APT=(-o "Dir::Etc::SourceList=$dir/sources.list"
	     -o "Dir::Etc::SourceParts=$dir/parts"
	     -o "Dir::Etc::Preferences=$dir/preferences"
	     -o "Dir::Etc::PreferencesParts=$dir/parts"
	     -o "Dir::State::Lists=$dir/lists"
	     -o "Dir::Cache=$dir" -o "Dir::Cache::pkgcache="
	     -o "Dir::Cache::srcpkgcache=" -o "Debug::NoLocking=1"
	     -o "APT::Sandbox::User=$(id -un)")
}

# rig_apt_update DIR [force]: apt-get update of the private state in DIR
# (rig_apt first), once: later calls do nothing unless "force" is given
# (a package list that has gone stale).
rig_apt_update() {
	[ "${2:-}" != force ] || rm -f "$1/.updated"
	[ -f "$1/.updated" ] && return 0
	printf '%s\n' "apt-get update (private state in $1)" >&2
	apt-get "${APT[@]}" update -qq >&2 || return 1
	touch "$1/.updated"
}
