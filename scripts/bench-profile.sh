#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# bench-profile.sh - run in make bench's guest on the production kernel
# (scripts/bench.sh puts it in /bin): where the module's calls spend their
# time.  ftrace's function profiler, limited to the module's functions and
# the VFIO type1, allocator, tree and LSM functions they reach, counts
# every call of them through one vshadow_bench run (one repetition per
# cell) and prints, per function, "prof NAME HITS TOTAL_US AVG_US",
# heaviest total first.  Times include the functions each one calls
# (profile_graph_time, the default with the graph tracer), and the
# profiler's own cost inflates them: read them as shares, not as the
# benchmark's figures.
#
#   bench-profile.sh [REPS]      vshadow_bench's repetitions (default 1)
set -eu

T=/sys/kernel/debug/tracing
[ -w "$T/function_profile_enabled" ] || {
	echo "bench-profile.sh: no function profiler (CONFIG_FUNCTION_PROFILER)" >&2
	exit 1
}
: >"$T/set_ftrace_filter"
# A pattern that matches nothing on this kernel is skipped.
for f in 'vshadow_*' vfio_iommu_type1_ioctl vfio_dma_do_map vfio_dma_do_unmap \
	 vfio_iova_dirty_bitmap update_user_bitmap vfio_pin_map_dma \
	 vfio_remove_dma vfio_unmap_unpin iommu_map iommu_unmap \
	 security_file_ioctl __x64_sys_ioctl kmem_cache_alloc_noprof \
	 kmem_cache_free __kmalloc_noprof kfree rb_erase rb_insert_color \
	 _copy_from_user _copy_to_user check_zeroed_user \
	 __check_object_size; do
	echo "$f" >>"$T/set_ftrace_filter" 2>/dev/null || true
done
echo "profile: $(wc -l <"$T/set_ftrace_filter") functions traced"
echo 1 >"$T/function_profile_enabled"
vshadow_bench "${1:-1}" >/tmp/bench-profile.out
echo 0 >"$T/function_profile_enabled"
grep -q '^vshadow_bench: done' /tmp/bench-profile.out || {
	echo "bench-profile.sh: vshadow_bench failed under the profiler" >&2
	cat /tmp/bench-profile.out >&2
	exit 1
}
# One table per CPU: add them up.
cat "$T"/trace_stat/function* |
	awk '$1 != "Function" && $1 !~ /^-/ && NF >= 4 {
		hits[$1] += $2; us[$1] += $3
	     }
	     END {
		for (f in hits)
			printf "prof %s %d %.1f %.3f\n", f, hits[f], us[f], us[f] / hits[f]
	     }' | sort -k4,4gr
echo "bench-profile.sh: done"
