# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# common.sh - sourced by the other scripts: where the tree and the cache
# are, and which kernel series to use.  The default series is set here
# and in the top-level Makefile only.
#
#   KSERIES   6.1 (bookworm, default) or 6.12 (bookworm-backports)
#   CACHE     the git-ignored cache, default <repo>/.cache
#   ENVF      what scripts/deps.sh wrote for KSERIES: KABI, KDIR,
#             GUEST_KERNEL, GUEST_MODDIR, KSRC_DIR

# shellcheck disable=SC2034
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KSERIES=${KSERIES:-6.1}
CACHE=${CACHE:-$TOP/.cache}
ENVF=$CACHE/env-$KSERIES.sh
export KSERIES CACHE
