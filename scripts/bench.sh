#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench.sh - what "make bench" runs, after scripts/deps.sh has set the
# machine up: build the module and vshadow_bench, boot the test VM three
# times (emulated VT-d, one edu device, *without* slab debugging, the
# benchmark in a memory cgroup so that the kernel's allocations are
# charged as in production), run every benchmark cell in each, then once
# more with a CPU model that sizes TCG's cost of user copies, and write
# the figures side by side to bench/results.md (replaced each run: git
# keeps the earlier results).  Paired ratios are pooled over the boots.
# Then both backends on one production kernel: make bench's own 6.12 build
# (scripts/kconfig/bench.config: iommufd and its test mock, no checkers,
# no sanitizers; built here when it is not cached, 10-13 minutes on 2
# cores), one boot running vshadow_bench (type1 behind the emulated VT-d)
# and one running vshadow_bench_iommufd (iommufd's mock domain); and a
# last boot on it profiles one vshadow_bench run with ftrace's function
# profiler (scripts/bench-profile.sh), whose heaviest functions close
# bench/results.md.
#
#   scripts/bench.sh [REPS]      REPS: repetitions per cell, 1 to 10
#                                (default 10; N = 65535 gets half)
#   scripts/bench.sh --report    only write bench/results.md again, from
#                                the last run's raw figures in build/bench
#
# Environment: KSERIES, CACHE (as for scripts/deps.sh), and those of
# scripts/vm.sh.
set -euo pipefail

# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

mode=run
if [ "${1:-}" = --report ]; then
	mode=report
	shift
fi
REPS=${1:-10}
if ! [[ "$REPS" =~ ^[0-9]+$ ]] || [ "$REPS" -lt 1 ] || [ "$REPS" -gt 10 ]; then
	echo "bench.sh: REPS must be 1 to 10" >&2
	exit 2
fi
MODULE=drivers/vfio/viommu_shadow/viommu_shadow.ko
BENCH=tools/testing/selftests/viommu_shadow/vshadow_bench
OUTDIR=$TOP/build/bench
RESULTS=$TOP/bench/results.md
BOOTS=3
# What the guests printed; meta.sh: what the report needs of the run.
raw=$OUTDIR/raw.txt
raw_cpu=$OUTDIR/raw-cpu.txt
raw_p=$OUTDIR/raw-prod-type1.txt
raw_i=$OUTDIR/raw-iommufd.txt
raw_f=$OUTDIR/raw-profile.txt
meta=$OUTDIR/meta.sh

# In the guest: a cgroup v2 memory controller, the benchmark inside it.
in_cgroup="mkdir -p /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup &&
	echo +memory >/sys/fs/cgroup/cgroup.subtree_control &&
	mkdir /sys/fs/cgroup/bench && echo \$\$ >/sys/fs/cgroup/bench/cgroup.procs &&
	echo cgroup \$(cat /proc/self/cgroup)"

# One boot running CMD in the guest's memory cgroup, without slab
# debugging, its output (with the guest's kernel, and the kernel memory
# charged to the cgroup at the end) in OUT; the run stops unless PROG said
# "PROG: done" there, inside the cgroup.  The rest are vm.sh's options.
cgroup_boot() {
	local out=$1 prog=$2 cmd=$3

	shift 3
	scripts/vm.sh --no-slab-debug --timeout 3000 "$@" \
		-- "echo guest-kernel \$(uname -r); $in_cgroup; $cmd;
		    echo kmem \$(grep -E '^(kernel|slab) ' /sys/fs/cgroup/bench/memory.stat | tr '\n' ' ')" |
		tee "$out"
	grep -q "^$prog: done" "$out" ||
		{ echo "bench.sh: FAIL: $prog did not finish, see $out" >&2; exit 1; }
	grep -q '^cgroup 0::/bench' "$out" ||
		{ echo "bench.sh: FAIL: $prog did not run in its memory cgroup, see $out" >&2; exit 1; }
}

# Every boot of a run; at the end, meta.sh.
run_boots() {

	[ -f "$ENVF" ] || { echo "bench.sh: $ENVF missing: run make deps" >&2; exit 2; }
	# shellcheck disable=SC1090
	. "$ENVF"
	cd "$TOP"
	mkdir -p "$OUTDIR" "$(dirname "$RESULTS")"

	make -C "$TOP" KDIR="$KDIR" modules
	make -C "$TOP" selftests

	start=$SECONDS
	: >"$raw"
	for boot in $(seq "$BOOTS"); do
		echo "==> vshadow_bench, boot $boot of $BOOTS, without slab debugging, in a memory cgroup"
		out=$OUTDIR/raw-$boot.txt
		cgroup_boot "$out" vshadow_bench "vshadow_bench $REPS" --iommu intel \
			--edu 1 --log "$OUTDIR/console-$boot.log" --module "$MODULE" \
			--file "$BENCH"
		cat "$out" >>"$raw"
	done
	# TCG ends a block at every STAC/CLAC and runs REP string instructions an
	# iteration at a time, so user copies cost per byte there and not on real
	# CPUs: one more boot without SMAP and fast string ops sizes that.
	echo "==> vshadow_bench with -cpu max,-smap,-erms,-fsrm (TCG's user-copy cost)"
	VM_CPU=max,-smap,-erms,-fsrm cgroup_boot "$raw_cpu" vshadow_bench \
		"vshadow_bench $(((REPS + 1) / 2))" --iommu intel --edu 1 \
		--log "$OUTDIR/console-cpu.log" --module "$MODULE" --file "$BENCH"
	type1_secs=$((SECONDS - start))

	# Both backends on one production kernel (iommufd needs 6.12; the rig's
	# Debian 6.12 has no IOMMUFD_TEST, the debug kernel has KASAN and lockdep).
	echo "==> the production 6.12 kernel (scripts/debug-kernel.sh --bench)"
	"$TOP/scripts/debug-kernel.sh" --bench
	prod_start=$SECONDS
	(
		# shellcheck disable=SC1091
		. "$CACHE/env-bench.sh"
		make -C "$TOP" KDIR="$KDIR" modules
		make -C "$TOP" IOMMUFD_KSERIES=bench selftests-iommufd
	)
	echo "==> vshadow_bench on the production 6.12 kernel (type1), in a memory cgroup"
	KSERIES=bench cgroup_boot "$raw_p" vshadow_bench "vshadow_bench $REPS" \
		--iommu intel --edu 1 --log "$OUTDIR/console-prod-type1.log" \
		--module "$MODULE" --file "$BENCH"
	echo "==> vshadow_bench_iommufd on the production 6.12 kernel (mock domain), in a memory cgroup"
	KSERIES=bench cgroup_boot "$raw_i" vshadow_bench_iommufd \
		"vshadow_bench_iommufd $REPS" --iommu none --edu 0 \
		--log "$OUTDIR/console-iommufd.log" --module "$MODULE" \
		--module drivers/vfio/viommu_shadow/viommu_shadow_iommufd.ko \
		--file "$BENCH"_iommufd
	echo "==> vshadow_bench under the function profiler, on the production 6.12 kernel"
	KSERIES=bench scripts/vm.sh --no-slab-debug --iommu intel --edu 1 --timeout 3000 \
		--log "$OUTDIR/console-profile.log" --module "$MODULE" --file "$BENCH" \
		--file "$TOP/scripts/bench-profile.sh" -- "bench-profile.sh 1" | tee "$raw_f"
	grep -q '^bench-profile.sh: done' "$raw_f" ||
		{ echo "bench.sh: FAIL: the profile did not finish, see $raw_f" >&2; exit 1; }
	prod_secs=$((SECONDS - prod_start))

	# The commit measured: "-dirty" when anything but the results file
	# (the previous run's, rewritten below) differs from it.
	commit=$(git -C "$TOP" describe --always 2>/dev/null || echo unknown)
	git -C "$TOP" diff --quiet HEAD -- . ':(exclude)bench/results.md' 2>/dev/null ||
		commit="$commit-dirty"
	cat >"$meta" <<EOT
REPS=$REPS
commit=$commit
when='$(date -u '+%Y-%m-%d %H:%M UTC')'
type1_secs=$type1_secs
prod_secs=$prod_secs
qemu='$(qemu-system-x86_64 --version | head -n 1)'
host_cpu='$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)'
ncpus=$(nproc)
vm_cpu=${VM_CPU:-max}
EOT
}

if [ "$mode" = run ]; then
	run_boots
elif [ ! -f "$meta" ]; then
	echo "bench.sh: no run to report on in $OUTDIR: run make bench" >&2
	exit 2
fi
when='' commit='' qemu='' host_cpu='' ncpus='' vm_cpu='' type1_secs='' prod_secs=''
# shellcheck disable=SC1090
. "$meta"
cd "$TOP"
mkdir -p "$(dirname "$RESULTS")"
prod_kernel=$(sed -n 's/^guest-kernel //p' "$raw_i" | tr -d '\r' | head -n 1)
kernel=$(sed -n 's/^guest-kernel //p' "$raw" | tr -d '\r' | head -n 1)

# Paired samples ("psample GROUP NAME value") pooled per ratio: "GROUP|NAME
# median min max samples", in the order first seen.
pooled() {
	awk '$1 == "psample" { print $2 "|" $3, $4 }' "$1" | sort -t' ' -k1,1 -k2,2g |
		awk '{ k = $1; v[k, ++n[k]] = $2; if (!(k in seen)) { seen[k] = 1; order[++m] = k } }
		     END { for (i = 1; i <= m; i++) { k = order[i]; c = n[k];
			   printf "%s %.3f %.3f %.3f %d\n", k, v[k, int((c + 1) / 2)], v[k, 1], v[k, c], c } }'
}
pooled "$raw" >"$OUTDIR/pooled.txt"
pooled "$raw_cpu" >"$OUTDIR/pooled-cpu.txt"
pooled "$raw_p" >"$OUTDIR/pooled-prod.txt"
pooled "$raw_i" >"$OUTDIR/pooled-iommufd.txt"

# One row of the targets: WHAT, the value of KEY in FILE (lines "KEY value
# ...", as the pooled files have), the LIMIT it must not exceed.
target() {
	awk -v what="$1" -v key="$2" -v lim="$4" '
		$1 == key { v = $2 }
		END {
			if (v == "") { printf "| %s | <= %s | - | not measured |\n", what, lim; exit }
			verdict = v <= lim ? "met" : sprintf("**missed** by %.0f%%", (v / lim - 1) * 100)
			printf "| %s | <= %s | %s | %s |\n", what, lim, v, verdict
		}' "$3"
}
{
	echo "# viommu_shadow benchmark results"
	echo
	echo "Produced by \`make bench\` (scripts/bench.sh $REPS) on $when,"
	echo "at commit $commit, in $type1_secs s for the type1 boots ($BOOTS boots of"
	echo "vshadow_bench $REPS, one of vshadow_bench $(((REPS + 1) / 2)) with the -cpu model)."
	echo "Host CPU $host_cpu ($ncpus CPUs), guest CPU model \`-cpu $vm_cpu\`."
	echo "Guest kernel $kernel, $qemu, TCG, emulated VT-d (caching mode),"
	echo "one edu device bound to vfio-pci, **booted without slab debugging**,"
	echo "the benchmark in a cgroup v2 memory cgroup (kernel memory charged);"
	echo "one process, one container per boot.  The cell tables are the first"
	echo "boot's; the paired ratios pool every boot.  Arms run in a random"
	echo "order per repetition, after one untimed warm-up each; setup is not"
	echo "timed.  Times are ns per mapping (per call for the floors, per run"
	echo "for the stream): median, min and max over the repetitions."
	echo
	echo "The emulated IOMMU inflates the per-mapping cost of every arm alike"
	echo "(each IOMMU map and unmap is trapped and emulated under TCG), so the"
	echo "ratios matter more than the absolute figures."
	echo
	echo "Arms: A = UNMAP_RANGE over [0, 2^64-1] with dirty bits (dense),"
	echo "A0 = the same without dirty bits, A1 = A over exactly [first, last],"
	echo "B1 = one type1 unmap per mapping with a bitmap (the userspace loop),"
	echo "B2 = the same without bitmaps, C = one type1 VFIO_DMA_UNMAP_FLAG_ALL,"
	echo "B3 = libvshadow's userspace fallback, the best userspace: one type1"
	echo "unmap per run of back-to-back mappings with one bitmap, split per"
	echo "mapping with word shifts, each record and its bits handed to a callback"
	echo "that keeps them, E = one type1 unmap of the whole run with one bitmap"
	echo "(B3 without the records), A_padded = A in the default (padded)"
	echo "bitmap layout, each mapping's bits from a new word, D = one type1"
	echo "unmap of the whole sparse window with a bitmap sized to it, plus a"
	echo "scan of it.  type1's GET_BITMAP walks its whole tree from the start"
	echo "on every call, so the per-mapping GET_BITMAP loop is quadratic in N."
	echo "Sync arms: SYNC_DIRTY (the module), GET_BITMAP_loop (one per mapping,"
	echo "what QEMU does), B3_sync (libvshadow's fallback: one per run, split),"
	echo "GET_BITMAP_run (the floor: one over the run, bits not split)."
	echo "Sparse cells (16 and 4096 mappings spread over 8 TB): A, B1, B3 (one"
	echo "run per mapping, so one type1 call each), D.  Stream: a vIOMMU's"
	echo "maps and invalidations, served type1_per_page (QEMU 7.2: a call per"
	echo "page-table entry), type1_per_run (a VMM that batches: one UNMAP_DMA per"
	echo "invalidated run), module_per_page (the preload library under an"
	echo "unmodified QEMU), module_per_run (MAP_BATCH and UNMAP_RANGE per run)."
	echo "Dirty-log cells (one-page mappings, back to back or over 8 TB, each"
	echo "with a cookie, a guest page, in another order than the IOVAs; the"
	echo "bits go into the VMM's bitmap by cookie): SYNC_DIRTY_LOG (the module,"
	echo "VIOMMU_SHADOW_UNMAP_DIRTY_LOG, no records), QEMU_way (QEMU 7.2: a"
	echo "GET_BITMAP per mapping, its bits set at the mapping's guest page from"
	echo "the VMM's table; not at 65535, where type1's quadratic GET_BITMAP"
	echo "takes about a minute per repetition), B3_way (libvshadow's fallback,"
	echo "vshadow_sync_dirty_log(): a GET_BITMAP per run, split, set by cookie);"
	echo "the gate: the log holds exactly every mapping's page."
	echo "Gates on every repetition: records, every dirty bit (all set behind"
	echo "vfio-pci), dma_avail and the module's live nodes back to their start."
	echo
	echo "## Targets"
	echo
	echo "Medians of the paired ratios below (6.1 guest, three boots; iommufd:"
	echo "the production 6.12 kernel), against what the module must reach to be"
	echo "never slower than the best userspace (B3, E, the sync floor) and to"
	echo "beat the loops a VMM runs today."
	echo
	echo "| target | limit | median | verdict |"
	echo "| --- | ---: | ---: | --- |"
	P=$OUTDIR/pooled.txt
	target "UNMAP_RANGE/B3, dense, 65535" "dense-65535|A/B3" "$P" 1.0
	target "UNMAP_RANGE/B3, padded, 65535" "dense-65535|A_padded/B3" "$P" 1.0
	target "UNMAP_RANGE/B3, sparse, 4096" "sparse-4096|A/B3" "$P" 1.0
	target "SYNC_DIRTY/GET_BITMAP over the run" "sync-4096|SYNC_DIRTY/GET_BITMAP_run" "$P" 1.0
	target "UNMAP_RANGE/E, dense, 65535" "dense-65535|A/E" "$P" 1.05
	target "UNMAP_RANGE/B1, sparse, 4096" "sparse-4096|A/B1" "$P" 0.9
	target "MAP_BATCH of 64/MAP_DMA" "maps-4096|MAP_BATCH64/MAP_DMA" "$P" 1.0
	target "MAP/MAP_DMA" "maps-4096|MAP/MAP_DMA" "$P" 1.10
	target "stream, per run: module/type1" "stream|module_per_run/type1_per_run" "$P" 1.05
	target "dirty log, dense 4096: module/QEMU's way" "log-dense-4096|SYNC_DIRTY_LOG/QEMU_way" "$P" 0.05
	target "dirty log, dense 4096: module/B3's way" "log-dense-4096|SYNC_DIRTY_LOG/B3_way" "$P" 0.9
	target "dirty log, dense 65535: module/B3's way" "log-dense-65535|SYNC_DIRTY_LOG/B3_way" "$P" 0.9
	target "dirty log, sparse 4096: module/B3's way" "log-sparse-4096|SYNC_DIRTY_LOG/B3_way" "$P" 0.9
	target "iommufd sparse: module/loop" "iommufd-sparse-4096|module/loop" "$OUTDIR/pooled-iommufd.txt" 1.0
	target "iommufd dense: module/loop" "iommufd-dense-4096|module/loop" "$OUTDIR/pooled-iommufd.txt" 0.75
	target "slab bytes per shadow mapping" slab_bytes_per_mapping \
		<(awk '$1 == "mem" { print $2, $3 }' "$OUTDIR/raw-1.txt") 64
	echo
	echo "The profile at the end shows where the module's time goes."
	echo
	echo "| cell | arm | n | median | min | max |"
	echo "| --- | --- | ---: | ---: | ---: | ---: |"
	awk '$1 == "cell" { printf "| %s | %s | %s | %s | %s | %s |\n", $2, $3, $4, $5, $6, $7 }' "$OUTDIR/raw-1.txt"
	echo
	grep '^note ' "$OUTDIR/raw-1.txt" | sed 's/^note /- /' || true
	echo
	echo "Paired ratios: in each repetition both arms ran (in a shuffled order),"
	echo "and their ratio is one sample; median, min and max of the samples of"
	echo "all $BOOTS boots (samples: how many), then the same from the boot with"
	echo "\`-cpu max,-smap,-erms,-fsrm\` (no SMAP, no fast string ops: TCG's"
	echo "per-byte cost of user copies, which real CPUs do not have, taken out),"
	echo "and the median from the boot on the production 6.12 kernel ($prod_kernel,"
	echo "the kernel the iommufd figures below come from; min-max in brackets)."
	echo
	echo "| paired ratio | median | min | max | samples | -cpu median | 6.12 median [min-max] |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
	while read -r key med lo hi cnt; do
		cpu=$(awk -v k="$key" '$1 == k { print $2 }' "$OUTDIR/pooled-cpu.txt")
		prod=$(awk -v k="$key" '$1 == k { print $2 " [" $3 "-" $4 "]" }' \
			"$OUTDIR/pooled-prod.txt")
		printf '| %s (%s) | %s | %s | %s | %s | %s | %s |\n' "${key#*|}" "${key%%|*}" \
			"$med" "$lo" "$hi" "$cnt" "${cpu:--}" "${prod:--}"
	done <"$OUTDIR/pooled.txt"
	echo
	echo "Kernel memory charged to the benchmark's cgroup at its end (bytes):"
	grep '^kmem ' "$raw" | sed 's/^kmem /- /' || true
	echo
	echo "| ratios of medians (first boot) | value |"
	echo "| --- | ---: |"
	awk '$1 == "ratio-n" { n = $2 } $1 == "ratio" { printf "| %s (%s) | %s |\n", $2, n, $3 }' "$OUTDIR/raw-1.txt"
	echo
	echo "| memory per shadow mapping | bytes |"
	echo "| --- | ---: |"
	awk '$1 == "mem" && NF == 3 { printf "| %s | %s |\n", $2, $3 }' "$OUTDIR/raw-1.txt"
	echo
	echo "## iommufd, on the production 6.12 kernel"
	echo
	echo "Produced by the same run, in $prod_secs s: vshadow_bench_iommufd $REPS in a"
	echo "guest on $prod_kernel (make bench's own build:"
	echo "scripts/kconfig/bench.config, iommufd and its test mock, no KASAN,"
	echo "lockdep, kmemleak, UBSAN or fault injection points; the type1 column"
	echo "above ran on the same kernel), no emulated IOMMU, iommufd's mock"
	echo "domain with dirty tracking, slab debugging off, the benchmark in a"
	echo "memory cgroup.  N = 4096 4 KiB mappings, back to back (dense: one run"
	echo "for the module) or one page apart (sparse: one run per mapping)."
	echo "Arms: module = UNMAP_RANGE over [0, 2^64-1] with dirty bits, module0 ="
	echo "without, loop = GET_DIRTY_BITMAP then IOAS_UNMAP per mapping (what a"
	echo "VMM does today), floor = one IOAS_UNMAP of the whole window, no bits."
	echo "ns per mapping: median, min and max over the repetitions."
	echo
	echo "| cell | arm | n | median | min | max |"
	echo "| --- | --- | ---: | ---: | ---: | ---: |"
	awk '$1 == "cell" { printf "| %s | %s | %s | %s | %s | %s |\n", $2, $3, $4, $5, $6, $7 }' "$raw_i"
	echo
	echo "| paired ratio | median | min | max | samples |"
	echo "| --- | ---: | ---: | ---: | ---: |"
	pooled "$raw_i" | while read -r key med lo hi cnt; do
		printf '| %s (%s) | %s | %s | %s | %s |\n' "${key#*|}" "${key%%|*}" \
			"$med" "$lo" "$hi" "$cnt"
	done
	echo
	echo "Kernel memory charged to the benchmarks' cgroups on this kernel (bytes):"
	grep -h '^kmem ' "$raw_p" "$raw_i" | sed 's/^kmem /- /' || true
	echo
	echo "## Where the time goes: a profile, on the production 6.12 kernel"
	echo
	echo "One more guest on $prod_kernel (VT-d, one edu device) ran"
	echo "\`vshadow_bench 1\` (every cell, one repetition) under ftrace's function"
	echo "profiler (scripts/bench-profile.sh), limited to the module's functions"
	echo "and the type1, allocator, tree, usercopy and LSM functions they reach."
	echo "Times include what each function calls, and the profiler's own cost"
	echo "inflates every one: read them as shares.  The 30 heaviest by total:"
	echo
	echo "| function | calls | total us | avg us |"
	echo "| --- | ---: | ---: | ---: |"
	awk '$1 == "prof" { printf "| %s | %s | %s | %s |\n", $2, $3, $4, $5 }' "$raw_f" |
		head -n 30
} >"$RESULTS"
echo "==> results written to $RESULTS"
cat "$RESULTS"
