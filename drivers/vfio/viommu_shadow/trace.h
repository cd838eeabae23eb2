/* SPDX-License-Identifier: GPL-2.0 */
/*
 * viommu_shadow tracepoints: the system "viommu_shadow" in tracefs
 * (events/viommu_shadow/), for ftrace and trace-cmd.  One event per MAP
 * (each entry of a MAP_BATCH too), one per UNMAP_RANGE and SYNC_DIRTY
 * call, and one per call into a backend.  Backends are named by their
 * enum viommu_shadow_backend value (VSHADOW_MOCK_BACKEND for the mock).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM viommu_shadow

#if !defined(_VSHADOW_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _VSHADOW_TRACE_H

#include <linux/tracepoint.h>
#include <linux/viommu_shadow.h>

/* A MAP, or one entry of a MAP_BATCH, once decided: @ret 0 or -errno. */
TRACE_EVENT(vshadow_map,
	    TP_PROTO(u32 backend, u64 iova, u64 length, u64 cookie, int ret),
	    TP_ARGS(backend, iova, length, cookie, ret),
	    TP_STRUCT__entry(__field(u32, backend)
			     __field(int, ret)
			     __field(u64, iova)
			     __field(u64, length)
			     __field(u64, cookie)),
	    TP_fast_assign(__entry->backend = backend;
			   __entry->ret = ret;
			   __entry->iova = iova;
			   __entry->length = length;
			   __entry->cookie = cookie;),
	    TP_printk("backend=%u iova=%#llx length=%#llx cookie=%#llx ret=%d",
		      __entry->backend, __entry->iova, __entry->length,
		      __entry->cookie, __entry->ret));

/*
 * An UNMAP_RANGE or SYNC_DIRTY call as it returns: the range asked for,
 * @last as clamped to the high-water mark (out_last), the mappings and
 * bytes done, the out flags and the result (0 or -errno).
 */
DECLARE_EVENT_CLASS(vshadow_walk,
		    TP_PROTO(const struct viommu_shadow_unmap_range *cmd,
			     int ret),
		    TP_ARGS(cmd, ret),
		    TP_STRUCT__entry(__field(u64, start)
				     __field(u64, last)
				     __field(u64, out_last)
				     __field(u64, bytes)
				     __field(u32, mappings)
				     __field(u32, out_flags)
				     __field(int, ret)),
		    TP_fast_assign(__entry->start = cmd->start;
				   __entry->last = cmd->last;
				   __entry->out_last = cmd->out_last;
				   __entry->bytes = cmd->out_bytes;
				   __entry->mappings = cmd->out_nr_records;
				   __entry->out_flags = cmd->out_flags;
				   __entry->ret = ret;),
		    TP_printk("start=%#llx last=%#llx clamped_last=%#llx mappings=%u bytes=%#llx out_flags=%#x ret=%d",
			      __entry->start, __entry->last, __entry->out_last,
			      __entry->mappings, __entry->bytes,
			      __entry->out_flags, __entry->ret));

DEFINE_EVENT(vshadow_walk, vshadow_unmap_range,
	     TP_PROTO(const struct viommu_shadow_unmap_range *cmd, int ret),
	     TP_ARGS(cmd, ret));

DEFINE_EVENT(vshadow_walk, vshadow_sync_dirty,
	     TP_PROTO(const struct viommu_shadow_unmap_range *cmd, int ret),
	     TP_ARGS(cmd, ret));

/*
 * A call into the backend: its range, whether it had a bitmap for dirty
 * bits, and what it answered (0, -errno, or one of the VSHADOW_* answers
 * of vshadow.h: 1 DIRTY_LOST, 2 BROKEN, 3 ABSENT).
 */
DECLARE_EVENT_CLASS(vshadow_backend_call,
		    TP_PROTO(u32 backend, u64 iova, u64 length, bool bitmap,
			     int ret),
		    TP_ARGS(backend, iova, length, bitmap, ret),
		    TP_STRUCT__entry(__field(u32, backend)
				     __field(int, ret)
				     __field(u64, iova)
				     __field(u64, length)
				     __field(bool, bitmap)),
		    TP_fast_assign(__entry->backend = backend;
				   __entry->ret = ret;
				   __entry->iova = iova;
				   __entry->length = length;
				   __entry->bitmap = bitmap;),
		    TP_printk("backend=%u iova=%#llx length=%#llx bitmap=%d ret=%d",
			      __entry->backend, __entry->iova,
			      __entry->length, __entry->bitmap,
			      __entry->ret));

DEFINE_EVENT(vshadow_backend_call, vshadow_backend_map,
	     TP_PROTO(u32 backend, u64 iova, u64 length, bool bitmap, int ret),
	     TP_ARGS(backend, iova, length, bitmap, ret));

DEFINE_EVENT(vshadow_backend_call, vshadow_backend_unmap,
	     TP_PROTO(u32 backend, u64 iova, u64 length, bool bitmap, int ret),
	     TP_ARGS(backend, iova, length, bitmap, ret));

DEFINE_EVENT(vshadow_backend_call, vshadow_backend_sync,
	     TP_PROTO(u32 backend, u64 iova, u64 length, bool bitmap, int ret),
	     TP_ARGS(backend, iova, length, bitmap, ret));

/* Asking the backend what it is and can do, and its answer. */
TRACE_EVENT(vshadow_backend_query,
	    TP_PROTO(u32 backend, u64 pgsize, u64 max_last,
		     u64 dirty_bitmap_max, int ret),
	    TP_ARGS(backend, pgsize, max_last, dirty_bitmap_max, ret),
	    TP_STRUCT__entry(__field(u32, backend)
			     __field(int, ret)
			     __field(u64, pgsize)
			     __field(u64, max_last)
			     __field(u64, dirty_bitmap_max)),
	    TP_fast_assign(__entry->backend = backend;
			   __entry->ret = ret;
			   __entry->pgsize = pgsize;
			   __entry->max_last = max_last;
			   __entry->dirty_bitmap_max = dirty_bitmap_max;),
	    TP_printk("backend=%u pgsize=%#llx max_last=%#llx dirty_bitmap_max=%#llx ret=%d",
		      __entry->backend, __entry->pgsize, __entry->max_last,
		      __entry->dirty_bitmap_max, __entry->ret));

TRACE_EVENT(vshadow_backend_set_hwpts,
	    TP_PROTO(u32 backend, u32 nr, u64 dirty_bitmap_max, int ret),
	    TP_ARGS(backend, nr, dirty_bitmap_max, ret),
	    TP_STRUCT__entry(__field(u32, backend)
			     __field(u32, nr)
			     __field(u64, dirty_bitmap_max)
			     __field(int, ret)),
	    TP_fast_assign(__entry->backend = backend;
			   __entry->nr = nr;
			   __entry->dirty_bitmap_max = dirty_bitmap_max;
			   __entry->ret = ret;),
	    TP_printk("backend=%u nr=%u dirty_bitmap_max=%#llx ret=%d",
		      __entry->backend, __entry->nr,
		      __entry->dirty_bitmap_max, __entry->ret));

#endif /* _VSHADOW_TRACE_H */

/* Out of the kernel tree: define_trace.h finds this file by path. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
