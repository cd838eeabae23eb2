#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# autoload_test.sh - the module loads on first use, as on a host after
# "make install" (or dkms install): run in the test VM by make check, with
# viommu_shadow.ko installed in /lib/modules/$(uname -r)/updates/ and the
# host's depmod run there (scripts/vm.sh --install-module), not loaded.
#
# As busybox allows: the device node is made from modules.devname as
# "kmod static-nodes" would make it at boot; opening it must load the
# module (char-major-10-247 -> /sbin/modprobe), and so must resolving its
# generic netlink family (vshadowctl: net-pf-16-proto-16-family-...).
# Each load is undone with rmmod.  TAP output, as the kselftests print it.

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n $1 # $2"; }
loaded() { grep -q '^viommu_shadow ' /proc/modules; }
unload() { ! loaded || rmmod viommu_shadow; }

echo "1..6"
rel=$(uname -r)
dir=/lib/modules/$rel

if loaded; then
	not_ok autoload.installed "viommu_shadow is already loaded: nothing to autoload"
else
	ok "autoload.installed # $dir/updates/viommu_shadow.ko, not loaded"
fi

# modules.devname: "viommu_shadow viommu_shadow c10:247".
line=$(grep '^viommu_shadow ' "$dir/modules.devname" 2>/dev/null)
# shellcheck disable=SC2086 # its fields, split
set -- $line
case "$3" in
c*:*)	major=${3#c}; major=${major%%:*}; minor=${3#*:}
	ok "autoload.devname # modules.devname: /dev/$2, char $major:$minor" ;;
*)	not_ok autoload.devname "no viommu_shadow line in $dir/modules.devname" ;;
esac

# kmod static-nodes makes the nodes with mode 0600; udev's static_node=
# rule gives them their mode later.
rm -f /dev/viommu_shadow
if [ -n "${major:-}" ] && mknod -m 0600 /dev/viommu_shadow c "$major" "$minor"; then
	ok "autoload.static_node # /dev/viommu_shadow c $major $minor"
else
	not_ok autoload.static_node "mknod failed"
fi

# Opening the node loads the module, and the open succeeds.
if (exec 3</dev/viommu_shadow) 2>/dev/null && loaded; then
	ok "autoload.open # opening /dev/viommu_shadow loaded viommu_shadow"
else
	not_ok autoload.open "opening /dev/viommu_shadow did not load the module ($(cat /proc/sys/kernel/modprobe))"
fi
unload

# Resolving the netlink family loads it: vshadowctl show succeeds.
if out=$(vshadowctl show 2>&1) && loaded; then
	ok "autoload.genl # vshadowctl show loaded viommu_shadow"
else
	not_ok autoload.genl "vshadowctl show: $out"
fi
unload

if loaded; then
	not_ok autoload.unload "viommu_shadow still loaded"
else
	ok "autoload.unload # rmmod after each load"
fi
exit "$failed"
