// SPDX-License-Identifier: GPL-2.0
/*
 * UNMAP_RANGE, SYNC_DIRTY and UNMAP_BATCH: one walk over the live mappings
 * of a range, in IOVA order, run by run (see "Runs" in the documentation).
 *
 * The rule: the tree and the backend agree after every call, whatever
 * happens.  A mapping's record is written before the backend is called,
 * and its node is removed only after the backend has confirmed the
 * mapping is gone, so a mapping is never unmapped without the caller
 * being told, and progress is exact on every error.
 */
#include <linux/bitops.h>
#include <linux/math.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <linux/viommu_shadow.h>
#include "vshadow.h"
#include "trace.h"

/**
 * struct vshadow_walk - one UNMAP_RANGE or SYNC_DIRTY call in progress
 * @ctx: the context
 * @sync: SYNC_DIRTY: the mappings stay
 * @cmd: the call, whose out fields are the progress so far
 * @records: the caller's record array
 * @record_size: the size of one of its entries
 * @no_records: a walk with a log whose caller asked for no records (all
 *	three record fields 0)
 * @dirty: VIOMMU_SHADOW_UNMAP_GET_DIRTY
 * @logging: VIOMMU_SHADOW_UNMAP_DIRTY_LOG: @log is the caller's log
 * @log: where a mapping that fits the log gets its bits (log.c)
 * @bitmap: the caller's bitmap, NULL without GET_DIRTY (with it, NULL only
 *	with a log: then no mapping that does not fit the log is walked)
 * @bitmap_bits: its capacity, in bits
 * @bitmap_used: bits handed out so far
 * @dense: VIOMMU_SHADOW_UNMAP_DENSE
 * @next_start: first IOVA not visited yet, valid while !@done_all
 * @done_all: the last mapping visited ended at 2^64 - 1
 */
struct vshadow_walk {
	struct vshadow_ctx *ctx;
	bool sync;
	struct viommu_shadow_unmap_range *cmd;
	u8 __user *records;
	u32 record_size;
	bool no_records;
	bool dirty;
	bool logging;
	struct vshadow_log log;
	u64 __user *bitmap;
	u64 bitmap_bits;
	u64 bitmap_used;
	bool dense;
	u64 next_start;
	bool done_all;
};

/**
 * struct vshadow_run - mappings unmapped with one backend call
 * @nodes: the run's mappings, in IOVA order (the context's run_nodes):
 *	gathered once by vshadow_plan_run(), so that the passes over a run
 *	(records, bits, tree) do not walk the tree again
 * @first: the first mapping, @nodes[0]
 * @tail: the last one, @nodes[@nr - 1]
 * @nr: how many, back to back from @first to @tail
 * @direct: one mapping too large for the kernel bitmap: the backend
 *	writes its bits straight into the caller's bitmap
 * @in_place: a sync in the dense layout whose bits start a word: the
 *	run's bitmap is exactly the caller's bits for its records, so the
 *	backend writes it straight into the caller's bitmap too, and the
 *	run is not bounded by the kernel buffer
 * @nr_logged: how many of the mappings get their bits in the log
 */
struct vshadow_run {
	struct vshadow_node **nodes;
	struct vshadow_node *first;
	struct vshadow_node *tail;
	u32 nr;
	bool direct;
	bool in_place;
	u32 nr_logged;
};

/*
 * Bytes to pages: the page size is a power of two (vshadow_call_query()),
 * and a shift costs less than a 64-bit division, several per mapping.
 */
static u64 vshadow_to_pages(struct vshadow_ctx *ctx, u64 bytes)
{
	return bytes >> __ffs64(ctx->caps.pgsize);
}

static u64 vshadow_pages(struct vshadow_ctx *ctx, struct vshadow_node *node)
{
	return vshadow_to_pages(ctx, node->last - node->start + 1);
}

/* A mapping's pages in the log's unit, the page size when the call began. */
static u64 vshadow_log_npages(const struct vshadow_log *log,
			      const struct vshadow_node *node)
{
	return (node->last - node->start + 1) >> log->shift;
}

/*
 * Whether @node's bits go to the caller's log (and not its bitmap); where
 * they start there in *@bit.  Only a walk with dirty bits has a log
 * (vshadow_unmap_check()).  Asked of the nodes of a run before it is done
 * with (vshadow_run_done() frees them).
 */
static bool vshadow_logged(struct vshadow_walk *walk, struct vshadow_node *node,
			   u64 *bit)
{
	return walk->logging &&
	       vshadow_log_fits(&walk->log, node->cookie,
				vshadow_log_npages(&walk->log, node), bit);
}

/*
 * Where the next mapping's @pages bits go in the caller's bitmap, after
 * *@used bits: a multiple of 64, or right after them in the dense layout.
 * Moves *@used past them.
 */
static u64 vshadow_bits_at(struct vshadow_walk *walk, u64 *used, u64 pages,
			   bool direct)
{
	u64 at = walk->dense && !direct ? *used : round_up(*used, 64);

	*used = at + pages;
	return at;
}

/*
 * Store @nbits bits of @src from bit @src_bit (zeros when @src is NULL) at
 * bit @dst_bit of the caller's bitmap, leaving its other bits alone.
 */
static int vshadow_put_bits(u64 __user *dst, u64 dst_bit, const u64 *src,
			    u64 src_bit, u64 nbits)
{
	unsigned int off, n;
	u64 val, bits, mask;

	if (vshadow_fail(VSHADOW_FAULT_COPY))
		return -EFAULT;
	while (nbits) {
		off = dst_bit % 64;
		n = min_t(u64, 64 - off, nbits);
		bits = src ? vshadow_get_bits(src, src_bit, n) : 0;
		mask = GENMASK_ULL(off + n - 1, off);
		val = bits << off;
		if (mask != ~0ULL) {
			if (get_user(bits, dst + dst_bit / 64))
				return -EFAULT;
			val |= bits & ~mask;
		}
		if (put_user(val, dst + dst_bit / 64))
			return -EFAULT;
		dst_bit += n;
		src_bit += n;
		nbits -= n;
	}
	return 0;
}

/*
 * Zero bits @from to @to (exclusive, a multiple of 64) of the caller's
 * bitmap: the first word's bits before @from are another record's.
 */
static int vshadow_zero_bits(u64 __user *dst, u64 from, u64 to)
{
	u64 head = min(round_up(from, 64), to);

	if (vshadow_put_bits(dst, from, NULL, 0, head - from))
		return -EFAULT;
	/* A run of one mapping in the dense layout often ends at @head. */
	if (head == to)
		return 0;
	if (vshadow_fail(VSHADOW_FAULT_COPY) ||
	    clear_user(dst + head / 64, (to - head) / 8))
		return -EFAULT;
	return 0;
}

/*
 * Zero the bits of a mapping's last bitmap word past its @nbits.  A backend
 * writes whole words, and type1 can leave stale bits there: its per-mapping
 * bitmap is shifted in place by a VFIO_IOMMU_DIRTY_PAGES read whose range
 * does not start on a 64-page boundary of the mapping.
 */
static int vshadow_clear_tail(u64 __user *word, u64 nbits)
{
	u64 val;

	if (vshadow_fail(VSHADOW_FAULT_COPY) || get_user(val, word))
		return -EFAULT;
	val &= GENMASK_ULL((nbits - 1) % 64, 0);
	return put_user(val, word);
}

/*
 * Gather the run that starts at @node: the mappings back to back from it
 * that the caller's buffers, VSHADOW_RUN_MAX and (with dirty bits) the
 * kernel bitmap have room for (an in-place run: the backend's bitmap
 * limit).  A mapping whose bits go to the log needs no room in the
 * caller's bitmap, nor a record when the caller asked for none; one that
 * does not fit the log needs both.  (The log's pages may cut the run
 * later: vshadow_run_pin_log().)
 * Returns 0, 1 when not even @node fits the caller's buffers, or -E2BIG
 * when its bits exceed what the backend returns in one call.
 */
static int vshadow_plan_run(struct vshadow_walk *walk,
			    struct vshadow_node *node, struct vshadow_run *run)
{
	struct vshadow_ctx *ctx = walk->ctx;
	u32 room = walk->no_records ? U32_MAX :
		   walk->cmd->nr_records - walk->cmd->out_nr_records;
	u64 used = walk->bitmap_used, pages, span, at, bit;
	struct vshadow_node *next;

	memset(run, 0, sizeof(*run));
	run->nodes = ctx->run_nodes;
	run->first = node;
	run->in_place = walk->sync && walk->dense && !walk->logging &&
			walk->bitmap_used % 64 == 0;
	while (run->nr < room && run->nr < VSHADOW_RUN_MAX) {
		if (walk->dirty) {
			pages = vshadow_pages(ctx, node);
			if (DIV_ROUND_UP_ULL(pages, 64) * 8 >
			    ctx->caps.dirty_bitmap_max)
				return run->nr ? 0 : -E2BIG;
			span = vshadow_to_pages(ctx, node->last -
						   run->first->start) + 1;
			if (run->nr && DIV_ROUND_UP_ULL(span, 64) * 8 >
			    ctx->caps.dirty_bitmap_max)
				break;
		}
		if (vshadow_logged(walk, node, &bit)) {
			/* Through the kernel buffer, a page at most. */
			if (span > VSHADOW_RUN_BYTES * 8)
				break;
			run->nr_logged++;
		} else if (walk->dirty) {
			if (walk->no_records)
				break;
			/*
			 * Past the kernel buffer, a run ends; one mapping
			 * too large for it goes straight to the caller, in a
			 * run of its own, its bits from a new word in either
			 * layout (an in-place run keeps that exception, so
			 * that a sync's layout is an unmap's).
			 */
			if (pages > VSHADOW_RUN_BYTES * 8 ||
			    (span > VSHADOW_RUN_BYTES * 8 && !run->in_place)) {
				if (run->nr)
					break;
				run->direct = true;
			}
			at = vshadow_bits_at(walk, &used, pages, run->direct);
			if (at > walk->bitmap_bits ||
			    pages > walk->bitmap_bits - at)
				break;
		}
		run->nodes[run->nr++] = node;
		run->tail = node;
		if (run->direct || node->last == U64_MAX)
			break;
		next = vshadow_tree_next(node, walk->cmd->start,
					 walk->cmd->out_last);
		if (!next || next->start != node->last + 1)
			break;
		node = next;
	}
	return run->nr ? 0 : 1;
}

/*
 * Write @nr records from @krec to the caller's array at @urec (entries of
 * @record_size bytes), field by field in one user access: a walk writes
 * thousands, and copy_to_user() would check a kernel object's bounds for
 * each (hardened usercopy).  An entry larger than the kernel's record has
 * its tail zeroed.
 */
static int vshadow_put_records(u8 __user *urec, u32 record_size,
			       const struct viommu_shadow_unmap_record *krec,
			       u32 nr)
{
	struct viommu_shadow_unmap_record __user *u;
	u32 i;

	if (vshadow_fail(VSHADOW_FAULT_COPY) ||
	    !user_access_begin(urec, (u64)nr * record_size))
		return -EFAULT;
	for (i = 0; i < nr; i++) {
		u = (void __user *)(urec + (u64)i * record_size);
		unsafe_put_user(krec[i].iova, &u->iova, efault);
		unsafe_put_user(krec[i].length, &u->length, efault);
		unsafe_put_user(krec[i].cookie, &u->cookie, efault);
		unsafe_put_user(krec[i].flags, &u->flags, efault);
		unsafe_put_user(0, &u->__reserved, efault);
		unsafe_put_user(krec[i].bitmap_offset, &u->bitmap_offset,
				efault);
		unsafe_put_user(krec[i].bitmap_bits, &u->bitmap_bits, efault);
	}
	user_access_end();
	for (i = 0; record_size > sizeof(*u) && i < nr; i++)
		if (clear_user(urec + (u64)i * record_size + sizeof(*u),
			       record_size - sizeof(*u)))
			return -EFAULT;
	return 0;
efault:
	user_access_end();
	return -EFAULT;
}

/* Records staged at a time, on the stack (768 bytes). */
#define VSHADOW_RECORDS_STAGED	16

/*
 * Write the records of @run's mappings, if the caller wants records,
 * before any of them is unmapped, staged VSHADOW_RECORDS_STAGED at a time
 * (never inlined: its stack is not to stay live across the backend's
 * call).
 */
static noinline_for_stack int
vshadow_run_records(struct vshadow_walk *walk, struct vshadow_run *run)
{
	struct viommu_shadow_unmap_record krec[VSHADOW_RECORDS_STAGED];
	struct viommu_shadow_unmap_range *cmd = walk->cmd;
	u64 used = walk->bitmap_used, bit;
	u32 i, j = 0;

	for (i = 0; i < run->nr && !walk->no_records; i++) {
		struct vshadow_node *node = run->nodes[i];
		struct viommu_shadow_unmap_record *rec = &krec[j++];

		*rec = (struct viommu_shadow_unmap_record) {
			.iova = node->start,
			.length = node->last - node->start + 1,
			.cookie = node->cookie,
		};
		if (vshadow_logged(walk, node, &bit)) {
			rec->flags |= VIOMMU_SHADOW_RECORD_LOGGED;
		} else if (walk->dirty) {
			rec->flags |= VIOMMU_SHADOW_RECORD_DIRTY;
			rec->bitmap_bits = vshadow_pages(walk->ctx, node);
			rec->bitmap_offset = vshadow_bits_at(walk, &used,
							     rec->bitmap_bits,
							     run->direct);
		}
		if (node->start < cmd->start || node->last > cmd->out_last)
			rec->flags |= VIOMMU_SHADOW_RECORD_CUT;
		if (j == VSHADOW_RECORDS_STAGED || i + 1 == run->nr) {
			if (vshadow_put_records(walk->records +
						(u64)(cmd->out_nr_records +
						      i + 1 - j) *
						walk->record_size,
						walk->record_size, krec, j))
				return -EFAULT;
			j = 0;
		}
	}
	/*
	 * Zero the run's bits and the padding up to the next whole word (in
	 * the dense layout, that is where the next run's bits go), and fault
	 * here, before anything is unmapped, if it must.  (Without records,
	 * every mapping of the run is logged: none has bits here.)
	 */
	if (walk->bitmap && run->nr_logged < run->nr)
		return vshadow_zero_bits(walk->bitmap, walk->bitmap_used,
					 round_up(used, 64));
	return 0;
}

/*
 * Pin the log pages the run's logged mappings need, before anything else
 * is done with the run (and before the walk looks for the mapping after
 * it): after the backend call their bits are delivered, or filled in,
 * without fail.  The pages pinned for earlier runs stay
 * (they are often the same) until the pin array is full; then, if none
 * of the run's was pinned yet, all are released, else the run is cut
 * before the mapping whose pages did not fit (no record of the run is
 * written yet, and the rest of it is the next run).
 */
static int vshadow_run_pin_log(struct vshadow_walk *walk,
			       struct vshadow_run *run)
{
	u64 bit, n;
	u32 i, logged = 0;
	int ret;

	for (i = 0; i < run->nr && run->nr_logged; i++) {
		if (!vshadow_logged(walk, run->nodes[i], &bit))
			continue;
		n = vshadow_log_npages(&walk->log, run->nodes[i]);
		ret = vshadow_log_pin(&walk->log, bit, n);
		if (ret == -ENOSPC && !logged) {
			/* All the pages pinned are earlier runs': let go. */
			vshadow_log_release(&walk->log);
			ret = vshadow_log_pin(&walk->log, bit, n);
			/* A mapping's bits span two pages at most. */
			if (WARN_ON_ONCE(ret == -ENOSPC))
				return -EFAULT;
		}
		if (ret == -ENOSPC) {
			run->nr = i;
			run->tail = run->nodes[i - 1];
			run->nr_logged = logged;
			return 0;
		}
		if (ret)
			return ret;
		logged++;
	}
	return 0;
}

/*
 * Set in the log the bits of the run's logged mappings from @from to @to
 * (exclusive), from the kernel buffer (@src from bit 0 for the run's
 * first page), or all of their pages when @src is NULL.
 */
static void vshadow_run_log(struct vshadow_walk *walk, struct vshadow_run *run,
			    const u64 *src, u32 from, u32 to)
{
	struct vshadow_node *node;
	u64 bit;

	for (; from < to; from++) {
		node = run->nodes[from];
		if (!vshadow_logged(walk, node, &bit))
			continue;
		vshadow_log_set(&walk->log, bit, src,
				(node->start - run->first->start) >>
				walk->log.shift,
				vshadow_log_npages(&walk->log, node));
	}
}

/*
 * A run unmap failed: the backend may have removed some first mappings of
 * the run, with their bits in the first half of the kernel buffer, and
 * still has the rest whole.  Find out one mapping at a time, in IOVA
 * order, and deliver each one's bits from where they are:
 *
 * - Until one is found still there, each is probed with an unmap of its
 *   own (its bits, if any, into the buffer's second half).  "Absent": the
 *   run unmap took it.  Success: it was still there, and so are the rest,
 *   which are then unmapped the same way.
 * - A probe that fails before that is known (an iommufd dirty read fails
 *   before its unmap can answer) leaves the mapping's fate unknown: it is
 *   unmapped again without a bitmap.  "Absent" means the run took it, as
 *   above; success, that it was still there and is gone now without its
 *   bits (*@dropped; the call stops after it, with the probe's error).
 *   Should that unmap fail too, the context cannot know what the backend
 *   holds: it breaks.  (Probing by unmap alone from the start would
 *   widen the window between reading a mapping's bits and unmapping it.)
 *
 * *@done is how many of the run are gone and reported; the result is 0,
 * or the error that stopped the resolution.  From *@lost on (run->nr:
 * none), the reported mappings' bits could not be delivered to the
 * caller's bitmap (a logged mapping's always reach the log): once that
 * happens, the probing goes on only as far as it must to count what the
 * failed call removed, and the first mapping still there, which its probe
 * removes.  *@dropped (run->nr: none) is the mapping unmapped without its
 * bits.
 */
static int vshadow_run_resolve(struct vshadow_walk *walk,
			       struct vshadow_run *run, u32 *done, u32 *lost,
			       u32 *dropped)
{
	struct vshadow_ctx *ctx = walk->ctx;
	u64 *scratch = ctx->run_bits + VSHADOW_RUN_BYTES / 8;
	struct vshadow_bitmap bitmap = {
		.kdata = scratch,
		.pgsize = ctx->caps.pgsize,
	};
	struct vshadow_node *node;
	u64 used = walk->bitmap_used, pages, at = 0, bit;
	bool still_there = false, unknown = false, logged;
	const u64 *src;
	u64 src_bit;
	int ret, err = 0;

	*lost = run->nr;
	*dropped = run->nr;
	*done = 0;
	while (*done < run->nr) {
		node = run->nodes[*done];
		pages = vshadow_pages(ctx, node);
		bitmap.bytes = DIV_ROUND_UP_ULL(pages, 64) * 8;
		ret = vshadow_call_unmap(ctx, node->start,
					 node->last - node->start + 1,
					 walk->dirty && !unknown ? &bitmap : NULL);
		src = NULL;
		src_bit = 0;
		if (ret == VSHADOW_UNMAP_ABSENT && !still_there) {
			/* The run unmap took it, and stored its bits. */
			src = ctx->run_bits;
			src_bit = vshadow_to_pages(ctx, node->start -
						   run->first->start);
		} else if (!ret && unknown) {
			/* It was still there; its bits are gone with it. */
			*dropped = *done;
		} else if (!ret) {
			still_there = true;
			src = scratch;
		} else if (!still_there && !unknown && ret < 0 &&
			   ret != -EIO && ret != -ENODEV) {
			/* Its fate is unknown: once more, without a bitmap. */
			unknown = true;
			err = ret;
			continue;
		} else {
			/*
			 * A hole after a mapping still there is not the
			 * run's; an unknown fate that stays unknown breaks.
			 */
			if (unknown || ret == VSHADOW_UNMAP_ABSENT ||
			    ret == VSHADOW_UNMAP_DIRTY_LOST)
				ret = VSHADOW_BROKEN;
			return vshadow_backend_result(ctx, ret);
		}
		/* A logged mapping's bits cannot be lost once read. */
		logged = vshadow_logged(walk, node, &bit);
		if (!logged)
			at = vshadow_bits_at(walk, &used, pages, false);
		if (src && logged)
			vshadow_log_set(&walk->log, bit, src, src_bit, pages);
		else if (src && walk->dirty && *lost == run->nr &&
			 vshadow_put_bits(walk->bitmap, at, src, src_bit, pages))
			*lost = *done;
		(*done)++;
		if (*dropped < run->nr)
			return err;
		if (*lost < run->nr && still_there)
			break;
	}
	return 0;
}

/*
 * Mark the records of the run's mappings from @from to @to (exclusive),
 * the run's first record being record @base, DIRTY_LOST: gone (or, for a
 * sync, read), but their bits never reached the caller.  When the bits
 * are @gone (the backend's, not just the copy to the caller's bitmap), a
 * logged mapping has every page set in the log instead; else its bits
 * are in the log already and it is left alone.  Called before
 * vshadow_run_done() frees the nodes.
 */
static void vshadow_run_mark_lost(struct vshadow_walk *walk,
				  struct vshadow_run *run, u32 base, u32 from,
				  u32 to, bool gone)
{
	bool records = !walk->no_records;
	u32 __user *uflags;
	u32 flags;
	u64 bit;

	for (; from < to; from++) {
		if (vshadow_logged(walk, run->nodes[from], &bit)) {
			if (!gone)
				continue;
			vshadow_run_log(walk, run, NULL, from, from + 1);
		}
		if (!records)
			continue;
		uflags = (u32 __user *)(walk->records +
			(u64)(base + from) * walk->record_size +
			offsetof(struct viommu_shadow_unmap_record, flags));
		/*
		 * The record was written once already; should this fail,
		 * the caller made its records unwritable during the call,
		 * and the call's EFAULT is all it can be told (the log is
		 * still filled).
		 */
		if (vshadow_fail(VSHADOW_FAULT_COPY) ||
		    get_user(flags, uflags) ||
		    put_user(flags | VIOMMU_SHADOW_RECORD_DIRTY_LOST, uflags))
			records = false;
	}
}

/*
 * A run call left the context broken: what the backend holds of the run
 * from its mapping @from on is unknown, and its bits with it.  Over-report:
 * every page of those mappings that are logged is set in the log (their
 * nodes stay; the call reports none of them).
 */
static void vshadow_run_broken_log(struct vshadow_walk *walk,
				   struct vshadow_run *run, u32 from)
{
	if (walk->ctx->broken && run->nr_logged)
		vshadow_run_log(walk, run, NULL, from, run->nr);
}

/*
 * The first @done mappings of @run are reported: count them, and drop
 * them from the tree when they are gone.
 */
static void vshadow_run_done(struct vshadow_walk *walk,
			     struct vshadow_run *run, u32 done)
{
	struct viommu_shadow_unmap_range *cmd = walk->cmd;
	struct vshadow_node *node;
	u64 pages, bit;
	u32 i;

	for (i = 0; i < done; i++) {
		node = run->nodes[i];
		if (walk->dirty && !vshadow_logged(walk, node, &bit)) {
			pages = vshadow_pages(walk->ctx, node);
			vshadow_bits_at(walk, &walk->bitmap_used, pages,
					run->direct);
		}
		walk->done_all = node->last == U64_MAX;
		walk->next_start = node->last + 1;
		cmd->out_nr_records++;
		cmd->out_bytes += node->last - node->start + 1;
		if (!walk->sync) {
			vshadow_stat_add(&walk->ctx->nr_unmaps, 1);
			vshadow_tree_remove(walk->ctx, node);
		}
	}
}

/*
 * A run's sync failed with @err after the backend may have read (and so
 * cleared) some of the run's bits, which are lost.  Report every mapping
 * of the run, each with DIRTY_LOST.
 */
static int vshadow_sync_lost(struct vshadow_walk *walk,
			     struct vshadow_run *run, int err)
{
	u32 base = walk->cmd->out_nr_records;

	vshadow_run_mark_lost(walk, run, base, 0, run->nr, true);
	vshadow_run_done(walk, run, run->nr);
	return err;
}

/*
 * Store @nwords staged words in the caller's bitmap from word @word, in
 * one user access with no call in it.  On a fault, *@stored is how many
 * were stored before it.
 */
static int vshadow_flush_bits(struct vshadow_walk *walk, const u64 *stage,
			      u64 word, u64 nwords, u64 *stored)
{
	u64 __user *dst = walk->bitmap + word;
	u64 i = 0;

	*stored = 0;
	if (vshadow_fail(VSHADOW_FAULT_COPY) ||
	    !user_access_begin(dst, nwords * 8))
		return -EFAULT;
	for (; i < nwords; i++)
		unsafe_put_user(stage[i], dst + i, efault);
	user_access_end();
	return 0;
efault:
	user_access_end();
	*stored = i;
	return -EFAULT;
}

/*
 * The first of @run's mappings with bits at or after word @word of the
 * caller's bitmap: the first whose bits were not all stored when storing
 * stopped there.
 */
static u32 vshadow_first_unstored(struct vshadow_walk *walk,
				  struct vshadow_run *run, u64 word)
{
	u64 used = walk->bitmap_used, pages, at, bit;
	u32 i;

	for (i = 0; i < run->nr; i++) {
		if (vshadow_logged(walk, run->nodes[i], &bit))
			continue;
		pages = vshadow_pages(walk->ctx, run->nodes[i]);
		at = vshadow_bits_at(walk, &used, pages, false);
		if ((at + pages - 1) / 64 >= word)
			break;
	}
	return i;
}

/*
 * Deliver the bits of @run's mappings that are not logged, in the kernel
 * buffer from bit 0 for the run's first page, to the caller's bitmap where
 * their records say.
 * The destination words are consecutive in both layouts; they are staged
 * in the buffer's second half and stored a chunk (VSHADOW_RUN_BYTES) at a
 * time, not read and written back mapping by mapping.  The run's words
 * were zeroed, and faulted in, before the backend was called
 * (vshadow_run_records()), so each is written whole; only the first, in
 * the dense layout, may hold bits of a record before the run, which are
 * read back and kept.
 *
 * Returns 0, or -EFAULT with *@failed the first mapping whose bits were
 * not all stored.
 */
static int vshadow_run_put_bits(struct vshadow_walk *walk,
				struct vshadow_run *run, u32 *failed)
{
	struct vshadow_ctx *ctx = walk->ctx;
	u64 *stage = ctx->run_bits + VSHADOW_RUN_BYTES / 8;
	u64 used = walk->bitmap_used, at, src_bit, pages, base, idx, n, stored;
	struct vshadow_node *node = run->first;
	u32 i, filled = 0;
	unsigned int off;

	*failed = 0;
	base = vshadow_bits_at(walk, &used, vshadow_pages(ctx, node), false) /
	       64;
	used = walk->bitmap_used;
	if (walk->dense && used % 64) {
		if (vshadow_fail(VSHADOW_FAULT_COPY) ||
		    get_user(stage[0], walk->bitmap + base))
			return -EFAULT;
		filled = 1;
	}
	for (i = 0; i < run->nr; i++) {
		node = run->nodes[i];
		if (vshadow_logged(walk, node, &src_bit))
			continue;
		pages = vshadow_pages(ctx, node);
		at = vshadow_bits_at(walk, &used, pages, false);
		src_bit = vshadow_to_pages(ctx, node->start - run->first->start);
		while (pages) {
			idx = at / 64 - base;
			/* a mapping's words follow the last one's */
			if (WARN_ON_ONCE(idx > filled))
				return -EFAULT;
			if (idx == VSHADOW_RUN_BYTES / 8) {
				if (vshadow_flush_bits(walk, stage, base,
						       filled, &stored))
					goto efault;
				base += filled;
				filled = 0;
				idx = 0;
			}
			if (idx == filled)
				stage[filled++] = 0;
			off = at % 64;
			n = min_t(u64, 64 - off, pages);
			stage[idx] |= vshadow_get_bits(ctx->run_bits, src_bit,
						       n) << off;
			at += n;
			src_bit += n;
			pages -= n;
		}
	}
	if (!vshadow_flush_bits(walk, stage, base, filled, &stored))
		return 0;
efault:
	*failed = vshadow_first_unstored(walk, run, base + stored);
	return -EFAULT;
}

/*
 * Unmap (or sync) one run: records first, then the backend, then the
 * bits, then the tree.  Returns 0 when the whole run is done and
 * reported, or an error with the progress made recorded in the walk.
 */
static int vshadow_walk_run(struct vshadow_walk *walk,
			    struct vshadow_run *run)
{
	struct vshadow_ctx *ctx = walk->ctx;
	struct vshadow_bitmap bitmap = { .pgsize = ctx->caps.pgsize };
	u64 start = run->first->start, pages;
	u32 base = walk->cmd->out_nr_records, done = run->nr, lost, dropped, i;
	bool cleared;
	int ret;

	ret = vshadow_run_records(walk, run);
	if (ret)
		return ret;

	pages = vshadow_to_pages(ctx, run->tail->last - start) + 1;
	bitmap.bytes = DIV_ROUND_UP_ULL(pages, 64) * 8;
	if (run->direct || run->in_place)
		bitmap.data = walk->bitmap +
			      round_up(walk->bitmap_used, 64) / 64;
	else
		bitmap.kdata = ctx->run_bits;
	if (walk->sync) {
		ret = vshadow_call_sync(ctx, start,
					run->tail->last - start + 1, &bitmap,
					&cleared);
		/*
		 * The backend says whether it may have read some bits before
		 * it failed.  A backend out of reach (VSHADOW_BROKEN) may
		 * have, whatever it says.  A sync changes no mapping: only
		 * the answers that break a context for any call break it.
		 */
		if ((ret < 0 && cleared) || ret == VSHADOW_BROKEN)
			return vshadow_sync_lost(walk, run,
						 vshadow_backend_result(ctx, ret));
		ret = vshadow_backend_result(ctx, ret);
		if (ret < 0)
			return ret;
		goto bits;
	}
	ret = vshadow_call_unmap(ctx, start, run->tail->last - start + 1,
				 walk->dirty ? &bitmap : NULL);
	/*
	 * A failed run is resolved mapping by mapping, unless the backend's
	 * own answer says its state is unknown (EIO) or gone (ENODEV): that
	 * breaks the context as for one mapping; or that it did nothing
	 * (ENODATA: tracking is off; EINVAL: its page size changed), which
	 * leaves no fate to find out.
	 */
	if (ret < 0 && ret != -ENODEV && ret != -EIO && ret != -ENODATA &&
	    ret != -EINVAL && run->nr > 1) {
		ret = vshadow_run_resolve(walk, run, &done, &lost, &dropped);
		/* Before vshadow_run_done() frees the nodes it is done with. */
		if (walk->dirty && dropped < done)
			vshadow_run_mark_lost(walk, run, base, dropped,
					      dropped + 1, true);
		if (lost < done)
			vshadow_run_mark_lost(walk, run, base, lost, done,
					      false);
		vshadow_run_broken_log(walk, run, done);
		vshadow_run_done(walk, run, done);
		return lost < done ? -EFAULT : ret;
	}
	ret = vshadow_backend_result(ctx, ret);
	if (ret < 0) {
		vshadow_run_broken_log(walk, run, 0);
		return ret;
	}

bits:
	if (run->direct || run->in_place) {
		/*
		 * The bits are in place; keep the padding promise: nothing
		 * past the run's last page in its last word (should that
		 * fail, the bits were delivered all the same: EFAULT).
		 */
		if (ret == VSHADOW_UNMAP_DIRTY_LOST) {
			vshadow_run_mark_lost(walk, run, base, 0, run->nr,
					      true);
			vshadow_run_done(walk, run, run->nr);
			return -EFAULT;
		}
		vshadow_run_done(walk, run, run->nr);
		if (pages % 64 && vshadow_clear_tail(bitmap.data +
				DIV_ROUND_UP_ULL(pages, 64) - 1, pages))
			return -EFAULT;
		return 0;
	} else if (WARN_ON_ONCE(ret)) {
		/* Only a bitmap in the caller's memory can lose bits. */
		vshadow_run_mark_lost(walk, run, base, 0, run->nr, true);
		vshadow_run_done(walk, run, run->nr);
		return -EFAULT;
	}
	if (run->nr_logged)
		vshadow_run_log(walk, run, ctx->run_bits, 0, run->nr);
	if (walk->dirty && run->nr_logged < run->nr &&
	    vshadow_run_put_bits(walk, run, &i)) {
		vshadow_run_mark_lost(walk, run, base, i, run->nr, false);
		vshadow_run_done(walk, run, run->nr);
		return -EFAULT;
	}
	vshadow_run_done(walk, run, done);
	return 0;
}

/*
 * The walk stops early, between two mappings: with something unmapped,
 * that is success and the caller resumes (OUT_MORE); with nothing, @err.
 * A fatal signal is always an error.
 */
static int vshadow_walk_stop(struct viommu_shadow_unmap_range *cmd, int err)
{
	if (err == -EINTR || !cmd->out_nr_records)
		return err;
	cmd->out_flags |= VIOMMU_SHADOW_UNMAP_OUT_MORE;
	return 0;
}

/* The flags of UNMAP_RANGE and SYNC_DIRTY; UNMAP_BATCH has no log. */
#define VSHADOW_UNMAP_FLAGS	(VIOMMU_SHADOW_UNMAP_GET_DIRTY |	\
				 VIOMMU_SHADOW_UNMAP_WHOLE |		\
				 VIOMMU_SHADOW_UNMAP_DENSE |		\
				 VIOMMU_SHADOW_UNMAP_DIRTY_LOG)
#define VSHADOW_BATCH_FLAGS	(VSHADOW_UNMAP_FLAGS &			\
				 ~VIOMMU_SHADOW_UNMAP_DIRTY_LOG)

/*
 * The dirty log's fields: all 0 without DIRTY_LOG; with it, a log aligned
 * to 8 bytes, of at least one page, from a page-aligned cookie, whose
 * last page is a cookie below 2^64 (its words' addresses are checked
 * with the bitmap's, after every EINVAL).
 */
static int vshadow_log_check(struct vshadow_ctx *ctx,
			     const struct viommu_shadow_unmap_range *cmd)
{
	unsigned int shift = __ffs64(ctx->caps.pgsize);

	if (!(cmd->flags & VIOMMU_SHADOW_UNMAP_DIRTY_LOG))
		return cmd->log || cmd->log_base || cmd->log_pages ?
		       -EINVAL : 0;
	if (!cmd->log || cmd->log % 8 || !cmd->log_pages ||
	    cmd->log_base & (ctx->caps.pgsize - 1) ||
	    cmd->log_pages - 1 > (U64_MAX - cmd->log_base) >> shift)
		return -EINVAL;
	return 0;
}

/* Validate everything that does not need the tree. */
static int vshadow_unmap_check(struct vshadow_ctx *ctx,
			       struct viommu_shadow_unmap_range *cmd, bool sync)
{
	bool log = cmd->flags & VIOMMU_SHADOW_UNMAP_DIRTY_LOG;
	int ret;

	if (cmd->flags & ~VSHADOW_UNMAP_FLAGS ||
	    (log && !vshadow_log_supported()))
		return -EOPNOTSUPP;
	if ((cmd->flags & VIOMMU_SHADOW_UNMAP_DENSE || sync || log) &&
	    !(cmd->flags & VIOMMU_SHADOW_UNMAP_GET_DIRTY))
		return -EINVAL;
	if (cmd->start > cmd->last)
		return -EINVAL;
	/* With a log, no records at all is allowed. */
	if ((!log || cmd->records || cmd->nr_records || cmd->record_size) &&
	    (!cmd->nr_records ||
	     cmd->record_size < sizeof(struct viommu_shadow_unmap_record) ||
	     cmd->record_size > VIOMMU_SHADOW_RECORD_SIZE_MAX))
		return -EINVAL;
	if (cmd->flags & VIOMMU_SHADOW_UNMAP_GET_DIRTY) {
		if (!ctx->caps.dirty_bitmap_max)
			return -EOPNOTSUPP;
		if (cmd->bitmap_pgsize != ctx->caps.pgsize)
			return -EINVAL;
		/* ...and with a log, no bitmap. */
		if (!cmd->bitmap && (!log || cmd->bitmap_bytes))
			return -EINVAL;
	} else if (cmd->bitmap || cmd->bitmap_bytes || cmd->bitmap_pgsize) {
		return -EINVAL;
	}
	ret = vshadow_log_check(ctx, cmd);
	if (ret)
		return ret;
	if (cmd->flags & VIOMMU_SHADOW_UNMAP_GET_DIRTY &&
	    !access_ok(u64_to_user_ptr(cmd->bitmap), cmd->bitmap_bytes))
		return -EFAULT;
	if (log && !access_ok(u64_to_user_ptr(cmd->log),
			      ((cmd->log_pages - 1) / 64 + 1) * 8))
		return -EFAULT;
	return 0;
}

/*
 * Without UNMAP_WHOLE, refuse a range that cuts a mapping, before anything
 * is unmapped.  Mappings do not overlap, so only the one holding @start
 * and the one holding @last can be cut.
 */
static bool vshadow_range_cuts(struct vshadow_ctx *ctx, u64 start, u64 last)
{
	struct vshadow_node *node;

	node = vshadow_tree_first(ctx, start, start);
	if (node && node->start < start)
		return true;
	node = vshadow_tree_first(ctx, last, last);
	return node && node->last > last;
}

/*
 * The walk's buffers, allocated by a context's first walk and kept: the
 * run's node array, with dirty bits the run's bits, with a log its pin
 * array; and where the bits go in the caller's bitmap and log.
 */
static int vshadow_walk_buffers(struct vshadow_walk *walk,
				const struct viommu_shadow_unmap_range *cmd)
{
	struct vshadow_ctx *ctx = walk->ctx;

	if (!ctx->run_nodes && !vshadow_fail(VSHADOW_FAULT_ALLOC))
		ctx->run_nodes = kvmalloc_array(VSHADOW_RUN_MAX,
						sizeof(*ctx->run_nodes),
						GFP_KERNEL_ACCOUNT);
	if (!ctx->run_nodes)
		return -ENOMEM;
	if (!(cmd->flags & VIOMMU_SHADOW_UNMAP_GET_DIRTY))
		return 0;
	walk->dirty = true;
	walk->bitmap = u64_to_user_ptr(cmd->bitmap);
	walk->bitmap_bits = cmd->bitmap_bytes / 8 * 64;
	if (!ctx->run_bits && !vshadow_fail(VSHADOW_FAULT_ALLOC))
		ctx->run_bits = kmalloc(2 * VSHADOW_RUN_BYTES, GFP_KERNEL_ACCOUNT);
	if (!ctx->run_bits)
		return -ENOMEM;
	if (!(cmd->flags & VIOMMU_SHADOW_UNMAP_DIRTY_LOG))
		return 0;
	walk->logging = true;
	/* vshadow_unmap_check() let all three record fields be 0 */
	walk->no_records = !cmd->nr_records;
	return vshadow_log_init(ctx, &walk->log, cmd);
}

/*
 * Clamp @cmd's range to the high-water mark (no mapping lies above it:
 * don't look there), then apply the bisect policy: without UNMAP_WHOLE a
 * range that cuts a mapping is refused before anything is done (-EINVAL,
 * *@refused set).  Neither is counted yet: see vshadow_walk_count().
 */
static int vshadow_walk_bounds(struct vshadow_ctx *ctx,
			       struct viommu_shadow_unmap_range *cmd,
			       bool *refused)
{
	*refused = false;
	cmd->out_last = cmd->last;
	if (cmd->last > ctx->high_water) {
		cmd->out_last = ctx->high_water;
		cmd->out_flags |= VIOMMU_SHADOW_UNMAP_OUT_CLAMPED;
	}
	if (!(cmd->flags & VIOMMU_SHADOW_UNMAP_WHOLE) &&
	    cmd->start <= cmd->out_last &&
	    vshadow_range_cuts(ctx, cmd->start, cmd->out_last)) {
		*refused = true;
		return -EINVAL;
	}
	return 0;
}

/*
 * Count what a range's bounds did (the clamp, a bisect refusal), in
 * GET_INFO's counters and as netlink events, once its call is over and
 * answered @ret: not when the call will come again as it was, so that
 * it counts once.  That is a call the kernel restarts (-ERESTARTSYS,
 * nothing done) and one whose report could not be written back with
 * nothing done (-EFAULT: the caller sends it again).
 */
static bool vshadow_walk_counts(const struct viommu_shadow_unmap_range *cmd,
				int ret)
{
	return ret != -ERESTARTSYS && (ret != -EFAULT || cmd->out_nr_records);
}

/* The netlink events of a range's bounds. */
static void vshadow_walk_events(struct vshadow_ctx *ctx,
				const struct viommu_shadow_unmap_range *cmd,
				bool refused)
{
	if (cmd->out_flags & VIOMMU_SHADOW_UNMAP_OUT_CLAMPED)
		vshadow_nl_clamped(ctx, cmd->start, cmd->last, cmd->out_last);
	if (refused)
		vshadow_nl_bisect_refused(ctx, cmd->start, cmd->last);
}

static void vshadow_walk_count(struct vshadow_ctx *ctx,
			       const struct viommu_shadow_unmap_range *cmd,
			       int ret, bool refused)
{
	if (!vshadow_walk_counts(cmd, ret))
		return;
	if (cmd->out_flags & VIOMMU_SHADOW_UNMAP_OUT_CLAMPED)
		vshadow_stat_add(&ctx->nr_clamped, 1);
	if (refused)
		vshadow_stat_add(&ctx->nr_bisect_refused, 1);
	vshadow_walk_events(ctx, cmd, refused);
}

/*
 * Walk [cmd->start, cmd->out_last] run by run.  Stops early, between two
 * runs, for a signal or full buffers (see vshadow_walk_stop()).
 */
static int vshadow_walk_range(struct vshadow_walk *walk)
{
	struct viommu_shadow_unmap_range *cmd = walk->cmd;
	struct vshadow_node *node = NULL, *next;
	struct vshadow_run run;
	int ret = 0;

	walk->next_start = cmd->start;
	walk->done_all = false;
	if (cmd->start <= cmd->out_last)
		node = vshadow_tree_first(walk->ctx, cmd->start, cmd->out_last);
	for (; node; node = next) {
		if (signal_pending(current)) {
			ret = vshadow_walk_stop(cmd, fatal_signal_pending(current) ?
						-EINTR : -ERESTARTSYS);
			break;
		}
		ret = vshadow_plan_run(walk, node, &run);
		if (ret == 1) {
			ret = vshadow_walk_stop(cmd, -ENOSPC);
			break;
		}
		/* The log's pages may cut the run: before its next is known. */
		if (!ret)
			ret = vshadow_run_pin_log(walk, &run);
		if (ret)
			break;
		next = vshadow_tree_next(run.tail, cmd->start, cmd->out_last);
		ret = vshadow_walk_run(walk, &run);
		if (ret)
			break;
		cond_resched();
	}
	cmd->out_resume = walk->done_all ? U64_MAX : walk->next_start;
	return ret;
}

/* UNMAP_RANGE and SYNC_DIRTY: one walk, two actions on each run. */
static int vshadow_range_walk(struct vshadow_ctx *ctx,
			      struct vshadow_ucmd *ucmd, bool sync)
{
	struct viommu_shadow_unmap_range *cmd = ucmd->cmd;
	struct vshadow_walk walk = {
		.ctx = ctx,
		.sync = sync,
		.cmd = cmd,
		.records = u64_to_user_ptr(cmd->records),
		.record_size = cmd->record_size,
		.dense = cmd->flags & VIOMMU_SHADOW_UNMAP_DENSE,
	};
	bool refused = false;
	int ret, resp;

	cmd->out_flags = 0;
	cmd->out_nr_records = 0;
	cmd->out_last = cmd->last;
	cmd->out_resume = cmd->start;
	cmd->out_bytes = 0;

	if (mutex_lock_killable(&ctx->lock))
		return -EINTR;
	ret = vshadow_check_caller(ctx);
	if (!ret)
		ret = vshadow_unmap_check(ctx, cmd, sync);
	if (!ret)
		ret = vshadow_walk_buffers(&walk, cmd);
	if (!ret)
		ret = vshadow_walk_bounds(ctx, cmd, &refused);
	/*
	 * From here on the out fields are the report; make sure they can be
	 * written back before anything is unmapped.
	 */
	if (!ret)
		ret = vshadow_ucmd_respond(ucmd, sizeof(*cmd));
	if (ret)
		goto out_unlock;

	ret = vshadow_walk_range(&walk);
	if (walk.logging)
		vshadow_log_release(&walk.log);
	resp = vshadow_ucmd_respond(ucmd, sizeof(*cmd));
	if (!ret)
		ret = resp;
out_unlock:
	vshadow_walk_count(ctx, cmd, ret, refused);
	if (sync)
		trace_vshadow_sync_dirty(cmd, ret);
	else
		trace_vshadow_unmap_range(cmd, ret);
	mutex_unlock(&ctx->lock);
	return ret;
}

int vshadow_unmap_range(struct vshadow_ctx *ctx, struct vshadow_ucmd *ucmd)
{
	return vshadow_range_walk(ctx, ucmd, false);
}

int vshadow_sync_dirty(struct vshadow_ctx *ctx, struct vshadow_ucmd *ucmd)
{
	return vshadow_range_walk(ctx, ucmd, true);
}

/*
 * Whether every mapping in [cmd->start, cmd->out_last] fits the room left
 * in the caller's buffers, laid out as vshadow_plan_run() will.
 */
static bool vshadow_walk_fits(struct vshadow_walk *walk)
{
	struct viommu_shadow_unmap_range *cmd = walk->cmd;
	u64 room = cmd->nr_records - cmd->out_nr_records;
	u64 used = walk->bitmap_used, pages, at;
	struct vshadow_node *node = NULL;

	if (cmd->start <= cmd->out_last)
		node = vshadow_tree_first(walk->ctx, cmd->start, cmd->out_last);
	for (; node; node = vshadow_tree_next(node, cmd->start, cmd->out_last)) {
		if (!room--)
			return false;
		if (!walk->bitmap)
			continue;
		pages = vshadow_pages(walk->ctx, node);
		at = vshadow_bits_at(walk, &used, pages,
				     pages > VSHADOW_RUN_BYTES * 8);
		if (at > walk->bitmap_bits || pages > walk->bitmap_bits - at)
			return false;
	}
	return true;
}

/*
 * UNMAP_BATCH: the ranges in order, each as one UNMAP_RANGE, their records
 * and bits one after the other in the same buffers.  A range whose
 * records or bits would not fit is not started: the call stops before it.
 */
int vshadow_unmap_batch(struct vshadow_ctx *ctx, struct vshadow_ucmd *ucmd)
{
	struct viommu_shadow_unmap_batch *b = ucmd->cmd;
	struct viommu_shadow_unmap_range sub = {
		.flags = b->flags,
		.records = b->records,
		.nr_records = b->nr_records,
		.record_size = b->record_size,
		.bitmap = b->bitmap,
		.bitmap_bytes = b->bitmap_bytes,
		.bitmap_pgsize = b->bitmap_pgsize,
	};
	struct vshadow_walk walk = {
		.ctx = ctx,
		.cmd = &sub,
		.records = u64_to_user_ptr(b->records),
		.record_size = b->record_size,
		.dense = b->flags & VIOMMU_SHADOW_UNMAP_DENSE,
	};
	u8 __user *uranges = u64_to_user_ptr(b->ranges);
	struct viommu_shadow_range r;
	u64 clamped = 0;
	bool refused;
	int ret, resp;

	b->out_done = 0;
	b->out_nr_records = 0;
	b->out_bytes = 0;
	/* Unknown flags first, as every other ioctl refuses them. */
	if (b->flags & ~VSHADOW_BATCH_FLAGS)
		return -EOPNOTSUPP;
	if (!b->nr_ranges ||
	    b->nr_ranges > VIOMMU_SHADOW_BATCH_MAX ||
	    b->range_size < sizeof(r) ||
	    b->range_size > VIOMMU_SHADOW_RECORD_SIZE_MAX)
		return -EINVAL;

	if (mutex_lock_killable(&ctx->lock))
		return -EINTR;
	ret = vshadow_check_caller(ctx);
	if (!ret)
		ret = vshadow_unmap_check(ctx, &sub, false);
	if (!ret)
		ret = vshadow_walk_buffers(&walk, &sub);
	if (!ret)
		ret = vshadow_ucmd_respond(ucmd, sizeof(*b));
	if (ret)
		goto out_unlock;

	for (; b->out_done < b->nr_ranges; b->out_done++) {
		ret = vshadow_fail(VSHADOW_FAULT_COPY) ? -EFAULT :
		      copy_struct_from_user(&r, sizeof(r), uranges +
					    (u64)b->out_done * b->range_size,
					    b->range_size);
		if (!ret && r.start > r.last)
			ret = -EINVAL;
		if (ret)
			break;
		sub.start = r.start;
		sub.last = r.last;
		sub.out_flags = 0;
		sub.out_bytes = 0;
		ret = vshadow_walk_bounds(ctx, &sub, &refused);
		if (ret) {
			vshadow_walk_events(ctx, &sub, refused);
			if (refused)
				vshadow_stat_add(&ctx->nr_bisect_refused, 1);
			break;
		}
		if (!vshadow_walk_fits(&walk)) {
			/* Not started, not counted: the caller sends it again. */
			ret = b->out_done ? 0 : -ENOSPC;
			break;
		}
		ret = vshadow_walk_range(&walk);
		/*
		 * A range's events go out as it ends (a restarted batch may
		 * send them again); the counter is added to once the batch
		 * is over, unless it is restarted.
		 */
		vshadow_walk_events(ctx, &sub, false);
		if (sub.out_flags & VIOMMU_SHADOW_UNMAP_OUT_CLAMPED)
			clamped++;
		b->out_nr_records = sub.out_nr_records;
		b->out_bytes += sub.out_bytes;
		/* A signal stopped it part way: the caller goes on from it. */
		if (ret || (sub.out_flags & VIOMMU_SHADOW_UNMAP_OUT_MORE))
			break;
	}
	resp = vshadow_ucmd_respond(ucmd, sizeof(*b));
	if (!ret)
		ret = resp;
	if (vshadow_walk_counts(&sub, ret))
		vshadow_stat_add(&ctx->nr_clamped, clamped);
out_unlock:
	mutex_unlock(&ctx->lock);
	return ret;
}
