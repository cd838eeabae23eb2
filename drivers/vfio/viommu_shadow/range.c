// SPDX-License-Identifier: GPL-2.0
/*
 * MAP and UNMAP_RANGE: the calls that change the shadow tree and the
 * backend together.
 *
 * The rule both follow: the tree and the backend agree after every call,
 * whatever happens.  MAP allocates its node before it calls the backend,
 * so nothing can fail once the backend has mapped.  UNMAP_RANGE removes a
 * node only after the backend has confirmed that exact mapping is gone,
 * and writes the mapping's record before that, so a mapping is never
 * unmapped without the caller being told.
 *
 * Ranges are inclusive [start, last] throughout, and every end is computed
 * with an overflow check: a mapping may end at 2^64 - 1.
 */
#include <linux/bitops.h>
#include <linux/math.h>
#include <linux/overflow.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>

#include <linux/viommu_shadow.h>
#include "vshadow.h"

/*
 * Calls that are forwarded to the backend need an attached context that
 * still knows what its backend holds, and the memory and accounting of the
 * process that attached it.
 */
static int vshadow_check_caller(struct vshadow_ctx *ctx)
{
	lockdep_assert_held(&ctx->lock);
	if (!ctx->ops)
		return -ENXIO;
	if (ctx->broken)
		return -EIO;
	if (current->mm != ctx->mm)
		return -EPERM;
	return 0;
}

/*
 * The context can no longer know what its backend holds.  From now on it
 * only answers GET_INFO and close, so that nothing it does can act on
 * mappings it did not make; the VMM goes on with its container directly.
 * This happens once per context, so the message is said once.
 */
static void vshadow_break(struct vshadow_ctx *ctx, const char *why)
{
	ctx->broken = true;
	pr_warn_ratelimited("viommu_shadow: %s[%d]: context on %s broken: %s; later calls fail with EIO\n",
			    current->comm, task_tgid_nr(current),
			    ctx->ops->name, why);
}

/*
 * What a backend's map or unmap answered, as the caller is told it; the
 * context's state follows the answer.  Each outcome has one report:
 * VSHADOW_BROKEN breaks the context (EIO), -ENODEV too (ENODEV), and
 * -EINVAL makes the context ask the backend again what it is, since its
 * page size may have changed (GET_INFO then has the new one).
 * VSHADOW_UNMAP_DIRTY_LOST, 0 and every other errno pass unchanged.
 */
static int vshadow_backend_result(struct vshadow_ctx *ctx, int ret)
{
	struct vshadow_backend_caps caps;

	if (ret == -EINVAL) {
		ret = ctx->ops->query(ctx->backend, &caps);
		if (!ret)
			ctx->caps = caps;
		if (ret != -ENODEV && ret != VSHADOW_BROKEN)
			return -EINVAL;
	}
	switch (ret) {
	case VSHADOW_BROKEN:
		vshadow_break(ctx, "its answer did not fit the request, or it was out of reach");
		return -EIO;
	case -ENODEV:
		vshadow_break(ctx, "the container lost its IOMMU, and every mapping");
		return -ENODEV;
	}
	return ret;
}

static bool vshadow_aligned(struct vshadow_ctx *ctx, u64 value)
{
	return !(value & (ctx->caps.pgsize - 1));
}

int vshadow_map(struct vshadow_ctx *ctx, struct vshadow_ucmd *ucmd)
{
	const u32 prot_mask = VIOMMU_SHADOW_MAP_READ | VIOMMU_SHADOW_MAP_WRITE;
	struct viommu_shadow_map *cmd = ucmd->cmd;
	struct vshadow_node *node;
	u64 last, vlast;
	int ret;

	if (cmd->flags & ~prot_mask)
		return -EOPNOTSUPP;
	if (!cmd->flags || !cmd->length)
		return -EINVAL;
	if (check_add_overflow(cmd->iova, cmd->length - 1, &last) ||
	    check_add_overflow(cmd->vaddr, cmd->length - 1, &vlast))
		return -EOVERFLOW;

	node = vshadow_node_alloc();
	if (!node)
		return -ENOMEM;
	node->start = cmd->iova;
	node->last = last;
	node->cookie = cmd->cookie;

	if (mutex_lock_killable(&ctx->lock)) {
		ret = -EINTR;
		goto err_free;
	}
	ret = vshadow_check_caller(ctx);
	if (ret)
		goto err_unlock;
	if (!vshadow_aligned(ctx, cmd->iova) ||
	    !vshadow_aligned(ctx, cmd->length) ||
	    !vshadow_aligned(ctx, cmd->vaddr)) {
		ret = -EINVAL;
		goto err_unlock;
	}
	if (last > ctx->caps.max_last) {
		ret = -ERANGE;
		goto err_unlock;
	}
	if (vshadow_tree_first(ctx, node->start, node->last)) {
		ret = -EEXIST;
		goto err_unlock;
	}
	if (ctx->nr_mappings >= ctx->max_mappings) {
		ret = -ENOSPC;
		goto err_unlock;
	}

	ret = ctx->ops->map(ctx->backend, node->start, cmd->length,
			    cmd->vaddr, cmd->flags);
	ret = vshadow_backend_result(ctx, ret);
	if (ret)
		goto err_unlock;

	vshadow_tree_insert(ctx, node);
	ctx->nr_maps++;
	mutex_unlock(&ctx->lock);
	return 0;

err_unlock:
	mutex_unlock(&ctx->lock);
err_free:
	vshadow_node_free(node);
	return ret;
}

/**
 * struct vshadow_walk - one UNMAP_RANGE call in progress
 * @records: the caller's record array
 * @record_size: the size of one of its entries
 * @bitmap: the caller's bitmap, NULL without GET_DIRTY (never NULL with it)
 * @bitmap_bytes: its capacity
 * @bitmap_used: bytes of it handed out so far (always whole __u64 words)
 * @next_start: first IOVA not visited yet, valid while !@done_all
 * @done_all: the last mapping visited ended at 2^64 - 1
 */
struct vshadow_walk {
	u8 __user *records;
	u32 record_size;
	u64 __user *bitmap;
	u64 bitmap_bytes;
	u64 bitmap_used;
	u64 next_start;
	bool done_all;
};

/*
 * Zero the bits of a mapping's last bitmap word past its @nbits.  A backend
 * writes whole words, and type1 can leave stale bits there: its per-mapping
 * bitmap is shifted in place by a VFIO_IOMMU_DIRTY_PAGES read whose range
 * does not start on a 64-page boundary of the mapping.
 */
static int vshadow_clear_tail(u64 __user *word, u64 nbits)
{
	u64 val;

	if (get_user(val, word))
		return -EFAULT;
	val &= GENMASK_ULL((nbits - 1) % 64, 0);
	return put_user(val, word);
}

/*
 * Unmap one mapping: room check, record first, then the backend, then the
 * tree.  Returns 1 when the buffers are full before @node, 0 when @node is
 * gone and reported, or an error; @node is still mapped unless
 * cmd->out_nr_records counted it (only clearing the padding failed).
 */
static int vshadow_unmap_one(struct vshadow_ctx *ctx,
			     struct viommu_shadow_unmap_range *cmd,
			     struct vshadow_walk *walk,
			     struct vshadow_node *node)
{
	struct viommu_shadow_unmap_record rec = {
		.iova = node->start,
		.length = node->last - node->start + 1,
		.cookie = node->cookie,
	};
	struct vshadow_bitmap bitmap = { .pgsize = ctx->caps.pgsize };
	u8 __user *urec;
	u64 words = 0;
	int ret;

	if (cmd->out_nr_records == cmd->nr_records)
		return 1;

	if (walk->bitmap) {
		rec.bitmap_bits = rec.length / ctx->caps.pgsize;
		words = DIV_ROUND_UP_ULL(rec.bitmap_bits, 64);
		if (words > ctx->caps.dirty_bitmap_max / 8)
			return -E2BIG;
		if (words > (walk->bitmap_bytes - walk->bitmap_used) / 8)
			return 1;
		rec.flags |= VIOMMU_SHADOW_RECORD_DIRTY;
		rec.bitmap_offset = walk->bitmap_used * 8;
		bitmap.data = walk->bitmap + walk->bitmap_used / 8;
		bitmap.bytes = words * 8;
	}
	if (node->start < cmd->start || node->last > cmd->out_last)
		rec.flags |= VIOMMU_SHADOW_RECORD_CUT;

	urec = walk->records + (u64)cmd->out_nr_records * walk->record_size;
	if (copy_to_user(urec, &rec, sizeof(rec)) ||
	    clear_user(urec + sizeof(rec), walk->record_size - sizeof(rec)))
		return -EFAULT;

	ret = ctx->ops->unmap(ctx->backend, node->start, rec.length,
			      bitmap.data ? &bitmap : NULL);
	ret = vshadow_backend_result(ctx, ret);
	if (ret < 0)
		return ret;

	walk->bitmap_used += words * 8;
	walk->done_all = node->last == U64_MAX;
	walk->next_start = node->last + 1;
	cmd->out_nr_records++;
	cmd->out_bytes += rec.length;
	ctx->nr_unmaps++;
	vshadow_tree_remove(ctx, node);

	/*
	 * Gone, but its bits never reached the bitmap: say so in its record
	 * (every page must be taken as dirty) and stop the walk there.
	 */
	if (ret == VSHADOW_UNMAP_DIRTY_LOST) {
		u32 __user *uflags = (u32 __user *)(urec +
			offsetof(struct viommu_shadow_unmap_record, flags));

		rec.flags |= VIOMMU_SHADOW_RECORD_DIRTY_LOST;
		/*
		 * The record was written once already; should this write
		 * fail, the caller made its records unwritable during the
		 * call, and the EFAULT is all it can be told.
		 */
		if (put_user(rec.flags, uflags))
			return -EFAULT;
		return -EFAULT;
	}

	/* The mapping is gone and reported; now keep the padding promise. */
	if (bitmap.data && rec.bitmap_bits % 64)
		return vshadow_clear_tail(bitmap.data + words - 1,
					  rec.bitmap_bits);
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

/* Validate everything that does not need the tree. */
static int vshadow_unmap_check(struct vshadow_ctx *ctx,
			       struct viommu_shadow_unmap_range *cmd)
{
	const u32 known = VIOMMU_SHADOW_UNMAP_GET_DIRTY |
			  VIOMMU_SHADOW_UNMAP_WHOLE;

	if (cmd->flags & ~known)
		return -EOPNOTSUPP;
	if (cmd->start > cmd->last || !cmd->nr_records ||
	    cmd->record_size < sizeof(struct viommu_shadow_unmap_record) ||
	    cmd->record_size > VIOMMU_SHADOW_RECORD_SIZE_MAX)
		return -EINVAL;
	if (cmd->flags & VIOMMU_SHADOW_UNMAP_GET_DIRTY) {
		if (!ctx->caps.dirty_bitmap_max)
			return -EOPNOTSUPP;
		if (!cmd->bitmap || cmd->bitmap_pgsize != ctx->caps.pgsize)
			return -EINVAL;
		if (!access_ok(u64_to_user_ptr(cmd->bitmap), cmd->bitmap_bytes))
			return -EFAULT;
	} else if (cmd->bitmap || cmd->bitmap_bytes || cmd->bitmap_pgsize) {
		return -EINVAL;
	}
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

int vshadow_unmap_range(struct vshadow_ctx *ctx, struct vshadow_ucmd *ucmd)
{
	struct viommu_shadow_unmap_range *cmd = ucmd->cmd;
	struct vshadow_walk walk = {
		.records = u64_to_user_ptr(cmd->records),
		.record_size = cmd->record_size,
		.next_start = cmd->start,
	};
	struct vshadow_node *node, *next;
	int ret, resp;

	cmd->out_flags = 0;
	cmd->out_nr_records = 0;
	cmd->out_last = cmd->last;
	cmd->out_resume = cmd->start;
	cmd->out_bytes = 0;

	if (mutex_lock_killable(&ctx->lock))
		return -EINTR;
	ret = vshadow_check_caller(ctx);
	if (ret)
		goto out_unlock;
	ret = vshadow_unmap_check(ctx, cmd);
	if (ret)
		goto out_unlock;
	if (cmd->flags & VIOMMU_SHADOW_UNMAP_GET_DIRTY) {
		walk.bitmap = u64_to_user_ptr(cmd->bitmap);
		walk.bitmap_bytes = cmd->bitmap_bytes;
	}

	/* No mapping lies above the high-water mark: don't look there. */
	if (cmd->last > ctx->high_water) {
		cmd->out_last = ctx->high_water;
		cmd->out_flags |= VIOMMU_SHADOW_UNMAP_OUT_CLAMPED;
		ctx->nr_clamped++;
	}

	if (!(cmd->flags & VIOMMU_SHADOW_UNMAP_WHOLE) &&
	    cmd->start <= cmd->out_last &&
	    vshadow_range_cuts(ctx, cmd->start, cmd->out_last)) {
		ctx->nr_bisect_refused++;
		ret = -EINVAL;
		goto out_unlock;
	}

	/*
	 * From here on the out fields are the report; make sure they can be
	 * written back before anything is unmapped.
	 */
	ret = vshadow_ucmd_respond(ucmd, sizeof(*cmd));
	if (ret)
		goto out_unlock;

	node = NULL;
	if (cmd->start <= cmd->out_last)
		node = vshadow_tree_first(ctx, cmd->start, cmd->out_last);
	for (; node; node = next) {
		if (signal_pending(current)) {
			ret = vshadow_walk_stop(cmd, fatal_signal_pending(current) ?
						-EINTR : -ERESTARTSYS);
			break;
		}
		next = vshadow_tree_next(node, cmd->start, cmd->out_last);
		ret = vshadow_unmap_one(ctx, cmd, &walk, node);
		if (ret == 1) {
			ret = vshadow_walk_stop(cmd, -ENOSPC);
			break;
		}
		if (ret)
			break;
		cond_resched();
	}
	cmd->out_resume = walk.done_all ? U64_MAX : walk.next_start;

	resp = vshadow_ucmd_respond(ucmd, sizeof(*cmd));
	if (!ret)
		ret = resp;
out_unlock:
	mutex_unlock(&ctx->lock);
	return ret;
}
