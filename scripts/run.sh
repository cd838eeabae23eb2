#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh - what "make run" runs, after scripts/deps.sh has set the machine
# up: build the module and the selftests, then boot the test VM once with an
# emulated Intel IOMMU, load the module and run the demonstration
# (viommu_shadow_demo, which also shows what vshadowctl sees; a look at the
# loaded modules and device nodes when that program is not built yet).
#
#   scripts/run.sh
#
# Environment: KSERIES, CACHE (as for scripts/deps.sh), and those of
# scripts/vm.sh.
set -euo pipefail

# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

MODULE=drivers/vfio/viommu_shadow/viommu_shadow.ko
DEMO=tools/testing/selftests/viommu_shadow/viommu_shadow_demo
CTL=tools/vshadowctl/static/vshadowctl
EDU=2

[ -f "$ENVF" ] || { echo "run.sh: $ENVF missing: run make deps" >&2; exit 2; }
# shellcheck disable=SC1090
. "$ENVF"
cd "$TOP"

banner() { printf '\n==> %s\n' "$*"; }

# The module must match the guest's kernel, not the host's: build it
# against the headers scripts/deps.sh installed for that kernel.
banner "Building viommu_shadow.ko against $KDIR"
make -C "$TOP" KDIR="$KDIR" modules
banner "Building the selftests (static, for the guest)"
make -C "$TOP" selftests

files=() guest_cmd=
if [ -x "$DEMO" ]; then
	files=(--file "$DEMO" --file "$CTL")
	guest_cmd="viommu_shadow_demo"
	what="the demo program viommu_shadow_demo"
else
	guest_cmd="grep -E '^(viommu_shadow|vfio)' /proc/modules; ls -l /dev/viommu_shadow /dev/vfio/"
	what="a look at the loaded modules and device nodes ($DEMO is not built yet)"
fi

cat <<EOF

==> Booting a test VM
    guest kernel:  Debian $KABI-amd64 ($(basename "$GUEST_KERNEL"))
    machine:       QEMU q35, ${VM_ACCEL:-tcg} (emulated CPU: slow but safe), 2 vCPUs, 2 GiB
    IOMMU:         emulated Intel VT-d (intel-iommu, interrupt remapping)
    devices:       $EDU QEMU "edu" PCI devices, each in its own IOMMU group,
                   bound to vfio-pci (/dev/vfio/<group>)
    module:        $MODULE, loaded after VFIO, unloaded at the end
    running:       $what

EOF
exec "$TOP/scripts/vm.sh" --iommu intel --edu "$EDU" --module "$MODULE" \
	${files[@]+"${files[@]}"} -- "$guest_cmd" </dev/null
