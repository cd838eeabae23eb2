#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# vm.sh - boot the viommu_shadow test VM, run one command in it, and judge
# the run.  This is the only place that starts QEMU.
#
#   scripts/vm.sh [options] -- GUEST COMMAND...
#
#   --iommu intel|amd|none
#                       emulated IOMMU (default intel); none: no IOMMU at
#                       all (iommufd's mock domain needs that), which only
#                       goes with --edu 0
#   --edu N             number of edu PCI devices (default 2), each bound to
#                       vfio-pci in the guest
#   --timeout SECONDS   limit for the whole run (default 300)
#   --log FILE          full console log (default build/vm/console.log)
#   --module KO         load KO after VFIO is set up, unload it after the
#                       command; repeatable, loaded in the order given and
#                       unloaded in reverse
#   --install-module KO install KO in the guest's
#                       /lib/modules/RELEASE/updates/ and run the host's
#                       depmod there, as "make install" does on a host
#                       (modules.alias, modules.devname), without loading
#                       it; repeatable
#   --file PATH         copy PATH into the guest's /bin; repeatable.  Guest
#                       binaries must be static: the guest has no libc.
#   --host-file SRC[:DEST]
#                       copy SRC into the guest at DEST (default: the same
#                       absolute path); a dynamically linked program or
#                       library brings its ldd closure and the dynamic
#                       loader, at their host paths; repeatable.  For the
#                       runs that start a real VMM in the guest (the
#                       initramfs grows by what they bring).
#   --inner-qemu        the host's qemu-system-x86_64 in the guest, for a
#                       test that runs a real VMM there: the program and
#                       its TCG module with their ldd closures, the data
#                       files it opens for a q35 machine (kvmvapic.bin and
#                       SeaBIOS's bios-256k.bin, where Debian's QEMU looks
#                       for them), and the project's preload library at
#                       /usr/lib/viommu_shadow/libvshadow-preload.so
#                       (49 MB more initramfs: QEMU 18 MB, 49 libraries
#                       31 MB; 2 s more boot under TCG, measured)
#   --env NAME=VALUE    export NAME=VALUE to the guest command; repeatable
#   --no-slab-debug     boot without slub_debug=FZPU (tests keep it; the
#                       benchmark must not: it slows every call 4-8x)
#
# The words after "--" are joined with spaces and run by the guest's
# /bin/sh (busybox), like ssh does, with /tmp as working directory and
# VSHADOW_IOMMU=intel|amd in the environment.  Its output is shown here as
# it runs.
#
# The guest (a busybox initramfs on the Debian kernel of $KSERIES) mounts
# proc, sysfs, devtmpfs and debugfs, loads the VFIO modules, binds every
# edu device to vfio-pci, loads the --modules, runs the command, unloads the
# modules, dumps its kernel log and powers off.  On a kernel with the
# checkers (the debug lane), it first reports which of KASAN, lockdep and
# kmemleak are on ("vshadow-init: checkers: ..."), forgets the leaks the
# boot left, and after the command, both before and after unloading the
# modules, has kmemleak scan and fails the run on any suspected leak (the
# report is shown); it also fails the run when lockdep turned itself off.
#
# Exit status: 0 when everything passed; the guest command's status when it
# failed; 1 for any other failure: VFIO set-up, module load or unload, a
# problem in the guest kernel log (WARNING, Oops, BUG, ...), a guest that
# never reported (timeout, panic).  2 when the run cannot start (usage
# error, missing file).  The last line of a failed run is
# "vm.sh: FAIL: <reason>[; <reason>...] (<seconds>s)".
#
# Environment:
#   KSERIES     kernel series (default 6.1; also 6.12, debug, bench);
#               $CACHE/env-$KSERIES.sh, written by scripts/deps.sh, names
#               the guest kernel and its modules
#   CACHE       default <repo>/.cache
#   VM_ACCEL    QEMU accelerator (default tcg; kvm hangs on the CI machines)
#   VM_CPU      QEMU's -cpu (default max; make bench sizes TCG's cost of
#               user copies with max,-smap,-erms,-fsrm)
#   VM_TCG_THREAD
#               single (default: one host thread runs both vCPUs in turn)
#               or multi (one host thread per vCPU).  Under multi, code
#               patching races: a test that switched tracepoints on saw
#               a vCPU run a jump label's int3 after text_poke_bp() had
#               finished ("Oops: int3" in __schedule, debug kernel), and
#               another saw text_poke_bp()'s sync IPI never answered
#               (soft lockup in smp_call_function_many_cond, Debian
#               6.1), both on this machine; real CPUs rule both out.
#   VM_APPEND   extra guest kernel command line, e.g. VM_APPEND=loglevel=8
set -euo pipefail
shopt -s extglob

# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"
VM_DIR=$TOP/build/vm

# Markers the guest prints so that this script can parse its console.
M_INIT=VSHADOW-INIT-BEGIN
M_CMD_BEGIN=VSHADOW-CMD-BEGIN
M_CMD_END=VSHADOW-CMD-END
M_DMESG_BEGIN=VSHADOW-DMESG-BEGIN
M_DMESG_END=VSHADOW-DMESG-END
M_LEAK_BEGIN=VSHADOW-KMEMLEAK-BEGIN
M_LEAK_END=VSHADOW-KMEMLEAK-END
M_RESULT=VSHADOW-GUEST-RESULT

# The guest's VFIO stack, in load order.  vfio_virqfd was merged into vfio
# in later kernels and is skipped when absent.
# iommufd is a module only where the kernel has it (the debug and bench
# kernels); vfio then needs it first.
VFIO_CHAIN="irqbypass iommufd vfio vfio_virqfd vfio_iommu_type1 vfio-pci-core vfio-pci"
VFIO_OPTIONAL="vfio_virqfd iommufd"

# Kernel log lines that fail a run: "label|extended regex".
BAD_LOG=(
	"Oops|Oops"
	"BUG|BUG:"
	"slab corruption|BUG [^ ]+ \(.*\): "
	"WARNING|WARNING:"
	"general protection fault|general protection"
	"KASAN report|KASAN"
	"UBSAN report|UBSAN:"
	"hung task|hung_task|blocked for more than"
	"soft lockup|soft lockup"
	"RCU stall|rcu: INFO: .* detected stalls"
	"lockdep report|possible (circular|recursive) locking|inconsistent lock state|DEBUG_LOCKS_WARN_ON"
)
# Any other stack dump (these come with one) is a failure of its own.
BAD_TRACE="stack trace|Call Trace"

usage() {
	sed -n '/^# vm.sh - /,/^set -euo/{/^set/d;s/^# \{0,1\}//;p}' "$0"
}
die() { printf 'vm.sh: error: %s\n' "$*" >&2; exit 2; }
say() { printf 'vm.sh: %s\n' "$*"; }

iommu=intel edu=2 timeout=300 log=$VM_DIR/console.log
modules=() installs=() files=() hostfiles=() envs=() slab_debug=slub_debug=FZPU
while [ $# -gt 0 ]; do
	opt=$1
	case "$opt" in
	--)		shift; break ;;
	-h|--help)	usage; exit 0 ;;
	--no-slab-debug) slab_debug=; shift; continue ;;
	--inner-qemu)
		qemu_bin=$(command -v qemu-system-x86_64) ||
			die "--inner-qemu: no qemu-system-x86_64 here"
		qemu_lib=$(dirname "$(realpath "$qemu_bin")")/../lib/x86_64-linux-gnu/qemu
		hostfiles+=("$qemu_bin" "$qemu_lib/accel-tcg-x86_64.so"
			    /usr/share/qemu/kvmvapic.bin
			    /usr/share/seabios/bios-256k.bin
			    "$TOP/tools/lib/vshadow/libvshadow-preload.so:/usr/lib/viommu_shadow/libvshadow-preload.so")
		shift; continue ;;
	--iommu|--edu|--timeout|--log|--module|--install-module|--file|--host-file|--env)
		[ $# -ge 2 ] || die "$opt needs a value"
		val=$2
		shift 2
		;;
	*)		die "unknown option '$opt' (see --help)" ;;
	esac
	case "$opt" in
	--iommu)	iommu=$val ;;
	--edu)		edu=$val ;;
	--timeout)	timeout=$val ;;
	--log)		log=$val ;;
	--module)	modules+=("$val") ;;
	--install-module) installs+=("$val") ;;
	--file)		files+=("$val") ;;
	--host-file)	hostfiles+=("$val") ;;
	--env)		envs+=("$val") ;;
	esac
done
[ $# -gt 0 ] || die "no guest command (see --help)"
case "$iommu" in intel|amd|none) ;; *) die "--iommu must be intel, amd or none" ;; esac
[[ "$edu" =~ ^[0-9]+$ ]] || die "--edu needs a number"
[ "$iommu" != none ] || [ "$edu" -eq 0 ] ||
	die "--iommu none takes --edu 0: vfio-pci needs an IOMMU"
if ! [[ "$timeout" =~ ^[0-9]+$ ]] || [ "$timeout" -lt 10 ]; then
	die "--timeout needs a number of seconds, at least 10"
fi

[ -f "$ENVF" ] || die "$ENVF missing: run scripts/deps.sh (or make deps) first"
# shellcheck disable=SC1090
. "$ENVF"
[ -f "$GUEST_KERNEL" ] || die "guest kernel $GUEST_KERNEL missing: rerun scripts/deps.sh"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing: rerun scripts/deps.sh"
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] || die "busybox missing: rerun scripts/deps.sh"

mkdir -p "$VM_DIR" "$(dirname "$log")"
log=$(cd "$(dirname "$log")" && pwd)/$(basename "$log")
work=$(mktemp -d "$VM_DIR/run.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root

# ---------------------------------------------------------------------------
# The initramfs.

# copy_ko SRC DST: copy a module, decompressing it: busybox insmod only
# takes plain .ko files.
copy_ko() {
	case "$1" in
	*.ko)		cp "$1" "$2" ;;
	*.ko.xz)	xz -dc "$1" >"$2" ;;
	*.ko.zst)	zstd -qdc "$1" >"$2" ;;
	*.ko.gz)	gzip -dc "$1" >"$2" ;;
	*)		die "$1: not a kernel module" ;;
	esac
}

mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,modules,lib/vfio}
cp "$BUSYBOX" "$root/bin/busybox"
"$BUSYBOX" --list-full | while read -r applet; do
	[ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done

# The VFIO modules of the guest kernel, found by name.
chain=
for m in $VFIO_CHAIN; do
	ko=$(find "$GUEST_MODDIR" \( -name "$m.ko*" -o -name "${m//-/_}.ko*" \) \
	     -print -quit)
	if [ -z "$ko" ]; then
		[[ " $VFIO_OPTIONAL " == *" $m "* ]] && continue
		die "$m.ko not found under $GUEST_MODDIR"
	fi
	copy_ko "$ko" "$root/lib/vfio/$m.ko"
	chain="$chain $m"
done

# The modules under test.
mods=
for ko in ${modules[@]+"${modules[@]}"}; do
	[ -f "$ko" ] || die "--module $ko: no such file"
	name=$(basename "$ko"); name=${name%%.ko*}
	[ ! -e "$root/modules/$name.ko" ] || die "--module $ko: $name given twice"
	copy_ko "$ko" "$root/modules/$name.ko"
	mods="$mods $name"
done

# The modules installed, not loaded: the guest loads them on first use.
if [ ${#installs[@]} -gt 0 ]; then
	release=$(basename "$GUEST_MODDIR")
	mkdir -p "$root/lib/modules/$release/updates"
	# What depmod reads of the kernel's own (as on a host).
	cp "$GUEST_MODDIR"/modules.order "$GUEST_MODDIR"/modules.builtin* \
		"$root/lib/modules/$release/"
	for ko in "${installs[@]}"; do
		[ -f "$ko" ] || die "--install-module $ko: no such file"
		name=$(basename "$ko"); name=${name%%.ko*}
		copy_ko "$ko" "$root/lib/modules/$release/updates/$name.ko"
	done
	depmod -b "$root" "$release" || die "depmod -b $root $release failed"
fi

# Extra files.  A dynamically linked program would only fail in the guest
# with a baffling "not found", so refuse it here.
for f in ${files[@]+"${files[@]}"}; do
	[ -f "$f" ] || die "--file $f: no such file"
	if command -v readelf >/dev/null &&
	   readelf -l "$f" 2>/dev/null | grep -q 'program interpreter'; then
		die "--file $f is dynamically linked; build it with -static"
	fi
	rm -f "$root/bin/$(basename "$f")"
	cp -L "$f" "$root/bin/"
	chmod +x "$root/bin/$(basename "$f")"
done

# Host files at their paths, with what a dynamic ELF needs to run.
# put_host SRC DEST: copy SRC (symlinks followed) to the guest's DEST.
put_host() {
	mkdir -p "$root$(dirname "$2")"
	rm -f "$root$2"
	cp -L "$1" "$root$2"
}
for spec in ${hostfiles[@]+"${hostfiles[@]}"}; do
	src=${spec%%:*} dest=${spec#*:}
	[ "$dest" != "$spec" ] || dest=$(realpath -s "$src")
	[ -f "$src" ] || die "--host-file $src: no such file"
	[[ "$dest" == /* ]] || die "--host-file $spec: DEST must be absolute"
	put_host "$src" "$dest"
	readelf -d "$src" 2>/dev/null | grep -q '(NEEDED)' || continue
	# ldd prints "name => /path (addr)" and "/path/ld-linux... (addr)".
	libs=$(ldd "$src" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }
				 $1 ~ /^\// { print $1 }') ||
		die "--host-file $src: ldd failed"
	for lib in $libs; do
		[ -e "$root$lib" ] || put_host "$lib" "$lib"
	done
done

# The command gets what is left of the time budget once the guest is up,
# minus a margin for unloading modules, dumping the log and powering off;
# a command that overruns is killed so that the log still comes out.
margin=$(( timeout >= 90 ? 30 : timeout / 3 ))

{
	printf 'VSHADOW_CHAIN=%q\n' "${chain# }"
	printf 'VSHADOW_MODULES=%q\n' "${mods# }"
	printf 'VSHADOW_EDU=%q\n' "$edu"
	printf 'VSHADOW_DEADLINE=%q\n' "$((timeout - margin))"
	printf 'export VSHADOW_IOMMU=%q\n' "$iommu"
	for e in ${envs[@]+"${envs[@]}"}; do
		[[ "$e" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env $e: not NAME=VALUE"
		printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"
	done
} >"$root/etc/vshadow.conf"
printf '%s\n' "$*" >"$root/etc/vshadow-cmd.sh"

# The guest's /init, run by busybox sh.  It must never exit: the kernel
# would panic.  After a failure it skips what depends on the failed step but
# still unloads what it loaded and dumps the log; its last line reports
# every failure.
cat >"$root/init" <<'EOF'
#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/tmp
. /etc/vshadow.conf

say() { echo "vshadow-init: $*"; }
status=0 reason=''
fail() {
	say "FAIL: $*"
	[ "$status" -ne 0 ] && reason="$reason; $*" || reason="$*"
	status=1
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
# Report a task stuck in the kernel well within the run's time budget.
echo 30 >/proc/sys/kernel/hung_task_timeout_secs
echo VSHADOW-INIT-BEGIN
say "kernel $(uname -r), IOMMU $VSHADOW_IOMMU"

# The checkers of a debug kernel: say which are on, so that the runner can
# insist on them, and start kmemleak from a clean slate (what the boot
# leaked is not this run's business).
KMEMLEAK=/sys/kernel/debug/kmemleak
checkers=''
dmesg | grep -q 'KernelAddressSanitizer initialized' && checkers="$checkers kasan"
grep -qE 'debug_locks: +1' /proc/lockdep_stats 2>/dev/null && checkers="$checkers lockdep"
if [ -w "$KMEMLEAK" ]; then
	checkers="$checkers kmemleak"
	echo scan >"$KMEMLEAK" && echo clear >"$KMEMLEAK"
fi
say "checkers:${checkers:- none}"

# Leaks in other people's code that the fault-injection sweeps reach, as
# an extended regex over one kmemleak report's backtrace (its lines joined
# by spaces).  Each is shown and counted, but fails nothing:
# - type1's VFIO_IOMMU_GET_INFO (vfio_iommu_type1_get_info(), 6.12.95)
#   returns an error from building its capability chain without freeing
#   the chain built so far (caps.buf): an allocation that fails there
#   leaks the capabilities added before it.
KNOWN_LEAKS='vfio_info_cap_add.* vfio_iommu_type1_ioctl'

# check_leaks WHEN: have kmemleak scan (it reports objects unreferenced
# for at least 5 s, hence the wait) and fail on what it finds, less the
# known leaks above, then forget it.  Once while the modules are still
# loaded, so that the backtraces name their functions, and once after
# they are unloaded.
check_leaks() {
	[ -w "$KMEMLEAK" ] || return 0
	sleep 5
	echo scan >"$KMEMLEAK"
	echo scan >"$KMEMLEAK"
	n=$(grep -c '^unreferenced object' "$KMEMLEAK")
	[ "$n" -ne 0 ] || return 0
	known=$(awk -v re="$KNOWN_LEAKS" '
		/^unreferenced object/ { if (r ~ re) k++; r = "" }
		{ r = r " " $1 }
		END { if (r ~ re) k++; print k + 0 }' "$KMEMLEAK")
	echo VSHADOW-KMEMLEAK-BEGIN
	cat "$KMEMLEAK"
	echo VSHADOW-KMEMLEAK-END
	echo clear >"$KMEMLEAK"
	[ "$known" -eq 0 ] || say "kmemleak: $known known leaks of others' code $1 (KNOWN_LEAKS)"
	[ "$n" -eq "$known" ] || fail "kmemleak: $((n - known)) suspected leaks $1"
}

# After the run: lockdep still on.
check_kernel() {
	case "$checkers" in
	*lockdep*)
		grep -qE 'debug_locks: +1' /proc/lockdep_stats ||
			fail "lockdep turned itself off during the run"
		;;
	esac
}

# The VFIO modules, then every edu device (1234:11e8) bound to vfio-pci.
setup_vfio() {
	for m in $VSHADOW_CHAIN; do
		insmod "/lib/vfio/$m.ko" || { fail "insmod $m failed"; return; }
	done
	edus='' n=0
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor")" = 0x1234 ] || continue
		[ "$(cat "$d/device")" = 0x11e8 ] || continue
		edus="$edus $d"
		n=$((n + 1))
	done
	[ "$n" -eq "$VSHADOW_EDU" ] ||
		{ fail "found $n edu devices, expected $VSHADOW_EDU"; return; }
	[ "$n" -eq 0 ] && return
	echo "1234 11e8" >/sys/bus/pci/drivers/vfio-pci/new_id ||
		{ fail "vfio-pci new_id failed"; return; }
	for d in $edus; do
		drv=$(readlink "$d/driver")
		grp=$(readlink "$d/iommu_group")
		grp=${grp##*/}
		if [ "${drv##*/}" != vfio-pci ]; then
			fail "edu ${d##*/} not bound to vfio-pci"
		elif [ -z "$grp" ] || [ ! -c "/dev/vfio/$grp" ]; then
			fail "edu ${d##*/}: no /dev/vfio/$grp"
		else
			say "edu ${d##*/}: vfio-pci, /dev/vfio/$grp"
		fi
	done
}

loaded=
load_modules() {
	for m in $VSHADOW_MODULES; do
		insmod "/modules/$m.ko" || { fail "insmod $m failed"; return; }
		say "loaded $m"
		loaded="$m $loaded"
	done
}

unload_modules() {
	for m in $loaded; do
		rmmod "$(echo "$m" | tr - _)" || { fail "rmmod $m failed"; continue; }
		say "unloaded $m"
	done
}

# The command runs in its own session so that, on timeout, it and
# everything it started can be killed as one process group.
run_command() {
	echo VSHADOW-CMD-BEGIN
	(cd /tmp && exec setsid sh /etc/vshadow-cmd.sh </dev/null) &
	pid=$!
	left=$((VSHADOW_DEADLINE - $(cut -d. -f1 /proc/uptime)))
	[ "$left" -gt 5 ] || left=5
	( sleep "$left"; touch /tmp/.timed-out; kill -s KILL -- "-$pid" ) \
		>/dev/null 2>&1 &
	dog=$!
	wait "$pid"
	rc=$?
	kill "$dog" 2>/dev/null
	kill -s KILL -- "-$pid" 2>/dev/null
	echo VSHADOW-CMD-END
	if [ -e /tmp/.timed-out ]; then
		fail "guest command timed out after ${left}s"
		cmd_rc=timeout
	else
		[ "$rc" -eq 0 ] || fail "guest command exited with status $rc"
		cmd_rc=$rc
	fi
}

cmd_rc=-
setup_vfio
[ "$status" -eq 0 ] && load_modules
[ "$status" -eq 0 ] && run_command
check_leaks "with the modules loaded"
unload_modules
check_leaks "after unloading the modules"
check_kernel

echo VSHADOW-DMESG-BEGIN
dmesg
echo VSHADOW-DMESG-END
echo "VSHADOW-GUEST-RESULT status=$status cmd=$cmd_rc reason=$reason"
poweroff -f
EOF
chmod +x "$root/init"

(cd "$root" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc -R 0:0 --quiet) >"$work/initramfs.cpio"

# ---------------------------------------------------------------------------
# QEMU.

# loglevel=5: only warnings and worse reach the console while the command
# runs (the full log is dumped at the end).
append="console=ttyS0 panic=-1 ${slab_debug:+$slab_debug }loglevel=5"
case "$iommu" in
intel)
	iommu_dev=intel-iommu,intremap=on,caching-mode=on,aw-bits=48
	append="$append intel_iommu=on"
	;;
amd)
	# AMD-Vi is built into the guest kernel and on by default.
	iommu_dev=amd-iommu,intremap=on
	;;
none)
	iommu_dev=
	;;
esac
# The debug kernel runs on 4-level paging: with QEMU's LA57, an interrupt
# that lands while identify_cpu() rebuilds the boot CPU's feature bits sees
# pgtable_l5_enabled() false for a moment, and KASAN then reports the irq
# descriptor's (5-level) address as a wild access at 0.004 s of boot.  The
# bench kernel (same build, no KASAN) boots the same way, so that the two
# differ only in their checkers.
case "$KSERIES" in
debug|bench) append="$append no5lvl" ;;
esac
append="$append ${VM_APPEND:-}"

case "${VM_TCG_THREAD:-single}" in
multi|single) ;;
*)	die "VM_TCG_THREAD must be multi or single" ;;
esac
case "${VM_ACCEL:-tcg}" in
tcg)	accel=tcg,thread=${VM_TCG_THREAD:-single} ;;
kvm)	accel=kvm ;;
*)	die "VM_ACCEL must be tcg or kvm" ;;
esac

qemu=(qemu-system-x86_64
	-M "q35,kernel-irqchip=split" -accel "$accel" -cpu "${VM_CPU:-max}"
	-m 2G -smp 2 -nographic -no-reboot -net none)
[ -z "$iommu_dev" ] || qemu+=(-device "$iommu_dev")
for _ in $(seq "$edu"); do
	qemu+=(-device edu)
done
qemu+=(-kernel "$GUEST_KERNEL" -initrd "$work/initramfs.cpio" -append "$append")

say "booting $(basename "$GUEST_KERNEL"), $iommu IOMMU, $edu edu, ${timeout}s limit, log $log"
start=$SECONDS

# The console goes to the log; the guest's own output, from /init on, is
# also shown as it comes.  QEMU never reads a terminal (CI has none).
# --foreground keeps QEMU in this job, so ^C stops it too.
show_console() {
	local line shown=0
	while IFS= read -r line || [ -n "$line" ]; do
		# Drop the carriage returns of the serial line and the terminal
		# escapes of the firmware, which would garble a terminal.
		line=${line%$'\r'}
		line=${line//$'\e'[[]*([0-9;?])[A-Za-z]/}
		line=${line//$'\e'/}
		printf '%s\n' "$line" >&3
		case "$line" in
		"$M_INIT")		shown=1 ;;
		"$M_DMESG_BEGIN")	shown=0 ;;
		"$M_CMD_BEGIN"|"$M_CMD_END") ;;
		*)			[ "$shown" -eq 0 ] || printf '%s\n' "$line" ;;
		esac
	done 3>"$log"
}
set +e
timeout --foreground -k 10 "$timeout" "${qemu[@]}" </dev/null 2>&1 | show_console
qemu_rc=${PIPESTATUS[0]}
set -e
elapsed=$((SECONDS - start))

# ---------------------------------------------------------------------------
# The verdict.

reasons=() rc=0
add_failure() {
	reasons+=("$1")
	[ "$rc" -ne 0 ] || rc=${2:-1}
}

result=$(grep -a "^$M_RESULT " "$log" | tail -n1 || true)
dmesg_log=$work/dmesg.log
sed -n "/^$M_DMESG_BEGIN\$/,/^$M_DMESG_END\$/p" "$log" >"$dmesg_log"

if [ -z "$result" ]; then
	if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
		add_failure "timed out after ${timeout}s, no result from the guest"
	elif grep -aq 'Kernel panic' "$log"; then
		add_failure "guest kernel panic"
	elif [ "$qemu_rc" -ne 0 ]; then
		add_failure "qemu exited with status $qemu_rc"
	else
		add_failure "guest stopped without a result"
	fi
	# No dump came: judge whatever the console shows.
	cp "$log" "$dmesg_log"
else
	cmd_rc=$(sed -n 's/.* cmd=\([^ ]*\) .*/\1/p' <<<"$result")
	reason=$(sed -n 's/.* reason=//p' <<<"$result")
	if [ -n "$reason" ]; then
		if [[ "$cmd_rc" =~ ^[0-9]+$ ]] && [ "$cmd_rc" -ne 0 ]; then
			add_failure "$reason" "$cmd_rc"
		else
			add_failure "$reason"
		fi
	fi
fi

bad_lines=$work/bad-lines
: >"$bad_lines"
for bad in "${BAD_LOG[@]}" "$BAD_TRACE"; do
	[ "$bad" != "$BAD_TRACE" ] || [ ! -s "$bad_lines" ] || break
	if grep -aE -- "${bad#*|}" "$dmesg_log" >>"$bad_lines"; then
		add_failure "guest ${bad%%|*} in kernel log"
	fi
done

# For scripts/check.sh's reliability line.
leaks=$(grep -ac '^vshadow-init: FAIL: kmemleak' "$log" || true)
say "kernel reports: $(($(wc -l <"$bad_lines") + leaks))"
if [ "$rc" -eq 0 ]; then
	say "PASS (${elapsed}s)"
	exit 0
fi

{
	if [ -n "$result" ]; then
		echo "vm.sh: ---- guest kernel log ----"
		grep -av -e "^$M_DMESG_BEGIN\$" -e "^$M_DMESG_END\$" "$dmesg_log"
	else
		echo "vm.sh: ---- last 80 lines of the console ($log) ----"
		tail -n 80 "$log"
	fi
	if grep -aq "^$M_LEAK_BEGIN\$" "$log"; then
		echo "vm.sh: ---- kmemleak report ----"
		sed -n "/^$M_LEAK_BEGIN\$/,/^$M_LEAK_END\$/p" "$log" |
			grep -av -e "^$M_LEAK_BEGIN\$" -e "^$M_LEAK_END\$" | head -n 200
	fi
	if [ -s "$bad_lines" ]; then
		echo "vm.sh: ---- kernel log problems ----"
		head -n 20 "$bad_lines"
	fi
	echo "vm.sh: ----"
	line=
	for r in "${reasons[@]}"; do
		line="${line:+$line; }$r"
	done
	echo "vm.sh: FAIL: $line (${elapsed}s)"
} >&2
exit "$rc"
