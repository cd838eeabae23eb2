// SPDX-License-Identifier: GPL-2.0
/*
 * MAP and MAP_BATCH: a mapping goes into the backend and the shadow tree
 * together, or into neither.  The node is allocated before the backend is
 * called, so nothing can fail once the backend has mapped.
 *
 * Ranges are inclusive [start, last] throughout, and every end is computed
 * with an overflow check: a mapping may end at 2^64 - 1.
 */
#include <linux/overflow.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>

#include <linux/viommu_shadow.h>
#include "vshadow.h"
#include "trace.h"

static bool vshadow_aligned(struct vshadow_ctx *ctx, u64 value)
{
	return !(value & (ctx->caps.pgsize - 1));
}

/*
 * The checks of one mapping that need neither the context nor the backend:
 * MAP makes them before it waits for the context.  *@last is its last IOVA.
 */
static int vshadow_map_check(const struct viommu_shadow_map_entry *e,
			     u64 *last)
{
	const u32 prot_mask = VIOMMU_SHADOW_MAP_READ | VIOMMU_SHADOW_MAP_WRITE;
	u64 vlast;

	if (e->flags & ~prot_mask)
		return -EOPNOTSUPP;
	if (!e->flags || !e->length)
		return -EINVAL;
	if (check_add_overflow(e->iova, e->length - 1, last) ||
	    check_add_overflow(e->vaddr, e->length - 1, &vlast))
		return -EOVERFLOW;
	return 0;
}

/*
 * Map one checked mapping, the context locked and its caller checked:
 * the node is allocated before the backend maps, so that nothing can fail
 * once it has.
 */
static int __vshadow_map_locked(struct vshadow_ctx *ctx,
				const struct viommu_shadow_map_entry *e,
				u64 last)
{
	struct vshadow_node *node;
	int ret;

	lockdep_assert_held(&ctx->lock);
	if (!vshadow_aligned(ctx, e->iova) ||
	    !vshadow_aligned(ctx, e->length) ||
	    !vshadow_aligned(ctx, e->vaddr))
		return -EINVAL;
	if (last > ctx->caps.max_last)
		return -ERANGE;
	if (vshadow_tree_first(ctx, e->iova, last))
		return -EEXIST;
	/*
	 * No byte count may reach 2^64, which a u64 cannot hold: a run, a
	 * call's out_bytes, mapped_bytes.  Mappings do not overlap, so that
	 * holds as long as no context covers every byte of the space (a
	 * run of all of it would be 0 bytes long).
	 */
	if (ctx->mapped_bytes + e->length < ctx->mapped_bytes)
		return -EOVERFLOW;
	if (ctx->nr_mappings >= ctx->max_mappings)
		return -ENOSPC;

	node = vshadow_node_alloc(ctx);
	if (!node)
		return -ENOMEM;
	node->start = e->iova;
	node->last = last;
	node->cookie = e->cookie;

	ret = vshadow_call_map(ctx, e->iova, e->length, e->vaddr, e->flags);
	ret = vshadow_backend_result(ctx, ret);
	if (ret) {
		vshadow_node_free(ctx, node);
		return ret;
	}
	vshadow_tree_insert(ctx, node);
	vshadow_stat_add(&ctx->nr_maps, 1);
	return 0;
}

/* ...and trace its outcome. */
static int vshadow_map_locked(struct vshadow_ctx *ctx,
			      const struct viommu_shadow_map_entry *e, u64 last)
{
	int ret = __vshadow_map_locked(ctx, e, last);

	trace_vshadow_map(ctx->ops->id, e->iova, e->length, e->cookie, ret);
	return ret;
}

int vshadow_map(struct vshadow_ctx *ctx, struct vshadow_ucmd *ucmd)
{
	struct viommu_shadow_map *cmd = ucmd->cmd;
	const struct viommu_shadow_map_entry e = {
		.flags = cmd->flags,
		.iova = cmd->iova,
		.length = cmd->length,
		.vaddr = cmd->vaddr,
		.cookie = cmd->cookie,
	};
	u64 last;
	int ret;

	ret = vshadow_map_check(&e, &last);
	if (ret)
		return ret;
	if (mutex_lock_killable(&ctx->lock))
		return -EINTR;
	ret = vshadow_check_caller(ctx);
	if (!ret)
		ret = vshadow_map_locked(ctx, &e, last);
	mutex_unlock(&ctx->lock);
	return ret;
}

/*
 * MAP_BATCH: the entries in order, each as one MAP, under one hold of the
 * context.  On a failure at entry k the call fails with that entry's error
 * and out_done = k: entries before it are mapped, it and those after are
 * not.  Only a fatal signal stops a batch early (EINTR, out_done exact).
 */
int vshadow_map_batch(struct vshadow_ctx *ctx, struct vshadow_ucmd *ucmd)
{
	struct viommu_shadow_map_batch *cmd = ucmd->cmd;
	u8 __user *uentries = u64_to_user_ptr(cmd->entries);
	struct viommu_shadow_map_entry e;
	int ret, resp;
	u64 last;

	if (cmd->flags)
		return -EOPNOTSUPP;
	if (cmd->__reserved || !cmd->nr_entries ||
	    cmd->nr_entries > VIOMMU_SHADOW_BATCH_MAX ||
	    cmd->entry_size < sizeof(e) ||
	    cmd->entry_size > VIOMMU_SHADOW_RECORD_SIZE_MAX)
		return -EINVAL;
	cmd->out_done = 0;

	if (mutex_lock_killable(&ctx->lock))
		return -EINTR;
	ret = vshadow_check_caller(ctx);
	if (ret)
		goto out_unlock;
	/* The out field is the report: it must be writable before anything. */
	ret = vshadow_ucmd_respond(ucmd, sizeof(*cmd));
	if (ret)
		goto out_unlock;

	for (; cmd->out_done < cmd->nr_entries; cmd->out_done++) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		ret = vshadow_fail(VSHADOW_FAULT_COPY) ? -EFAULT :
		      copy_struct_from_user(&e, sizeof(e), uentries +
					    (u64)cmd->out_done * cmd->entry_size,
					    cmd->entry_size);
		if (!ret && e.__reserved)
			ret = -EINVAL;
		if (!ret)
			ret = vshadow_map_check(&e, &last);
		if (!ret)
			ret = vshadow_map_locked(ctx, &e, last);
		if (ret)
			break;
		cond_resched();
	}
	resp = vshadow_ucmd_respond(ucmd, sizeof(*cmd));
	if (!ret)
		ret = resp;
out_unlock:
	mutex_unlock(&ctx->lock);
	return ret;
}
