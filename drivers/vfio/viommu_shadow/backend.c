// SPDX-License-Identifier: GPL-2.0
/*
 * The backends: their registry, and the layer every call into one goes
 * through.  A backend is a small ops table (struct vshadow_backend_ops)
 * that a context forwards MAP and unmap calls to.  The VFIO type1 backend
 * is built in; other modules (iommufd, the test-only mock) register
 * theirs here.
 *
 * Every call into a backend is traced and, for a map, unmap or sync that
 * did not simply succeed, reported to netlink's event listeners
 * (vshadow_call_*()); what
 * it answered then decides the context's state: a broken context
 * (vshadow_backend_result()).
 */
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>

#include <linux/viommu_shadow.h>
#include "vshadow.h"
#include "trace.h"

#define VSHADOW_MAX_BACKENDS 4

/* Protects vshadow_backends; never held across a backend call. */
static DEFINE_MUTEX(vshadow_backends_lock);
static const struct vshadow_backend_ops *vshadow_backends[VSHADOW_MAX_BACKENDS] = {
	&vshadow_type1_ops,
};

int vshadow_backend_register(const struct vshadow_backend_ops *ops)
{
	int i, free = -1, ret = -ENOSPC;

	/* Every op but set_hwpts is called unconditionally. */
	if (!ops->attach || !ops->detach || !ops->query || !ops->map ||
	    !ops->unmap || !ops->sync)
		return -EINVAL;

	mutex_lock(&vshadow_backends_lock);
	for (i = 0; i < VSHADOW_MAX_BACKENDS; i++) {
		if (vshadow_backends[i] && vshadow_backends[i]->id == ops->id) {
			ret = -EEXIST;
			goto out_unlock;
		}
		if (!vshadow_backends[i] && free < 0)
			free = i;
	}
	if (free >= 0) {
		vshadow_backends[free] = ops;
		ret = 0;
	}
out_unlock:
	mutex_unlock(&vshadow_backends_lock);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(vshadow_backend_register, VSHADOW_NS);

/*
 * Contexts attached to @ops pin its module, so nothing can still be using
 * @ops once its module's exit calls this.
 */
void vshadow_backend_unregister(const struct vshadow_backend_ops *ops)
{
	int i;

	mutex_lock(&vshadow_backends_lock);
	for (i = 0; i < VSHADOW_MAX_BACKENDS; i++)
		if (vshadow_backends[i] == ops)
			vshadow_backends[i] = NULL;
	mutex_unlock(&vshadow_backends_lock);
}
EXPORT_SYMBOL_NS_GPL(vshadow_backend_unregister, VSHADOW_NS);

/* Look up backend @id and pin its module; NULL if there is none. */
const struct vshadow_backend_ops *vshadow_backend_get(u32 id)
{
	const struct vshadow_backend_ops *ops = NULL;
	int i;

	mutex_lock(&vshadow_backends_lock);
	for (i = 0; i < VSHADOW_MAX_BACKENDS; i++) {
		if (vshadow_backends[i] && vshadow_backends[i]->id == id &&
		    try_module_get(vshadow_backends[i]->owner)) {
			ops = vshadow_backends[i];
			break;
		}
	}
	mutex_unlock(&vshadow_backends_lock);
	return ops;
}

void vshadow_backend_put(const struct vshadow_backend_ops *ops)
{
	module_put(ops->owner);
}

/*
 * Calls that are forwarded to the backend need an attached context that
 * still knows what its backend holds, and the memory and accounting of the
 * process that attached it.
 */
int vshadow_check_caller(struct vshadow_ctx *ctx)
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
 * This happens once per context, so the message is said once, within a
 * budget of its user's (netlink.c): one user breaking contexts in a loop
 * cannot silence another's warnings.
 */
static void vshadow_break(struct vshadow_ctx *ctx, const char *why)
{
	WRITE_ONCE(ctx->broken, true);
	vshadow_nl_broken(ctx, why);
	if (vshadow_nl_warn_allowed(ctx))
		pr_warn("viommu_shadow: %s[%d]: context on %s broken: %s; later calls fail with EIO\n",
			current->comm, task_tgid_nr(current), ctx->ops->name,
			why);
}

/*
 * What a backend's map or unmap answered, as the caller is told it; the
 * context's state follows the answer.  Each outcome has one report:
 * VSHADOW_BROKEN, VSHADOW_UNMAP_ABSENT (a mapping of the context that
 * the backend no longer had) and the backend's own -EIO (its state is
 * unknown) break the context (EIO), -ENODEV too
 * (ENODEV), and
 * -EINVAL makes the context ask the backend again what it is, since its
 * page size may have changed (GET_INFO then has the new one).
 * VSHADOW_UNMAP_DIRTY_LOST, 0 and every other errno pass unchanged.
 */
int vshadow_backend_result(struct vshadow_ctx *ctx, int ret)
{
	struct vshadow_backend_caps caps = {};

	if (ret == -EINVAL) {
		ret = vshadow_call_query(ctx->ops, ctx->backend, &caps);
		if (!ret) {
			ctx->caps.max_last = caps.max_last;
			ctx->caps.dirty_bitmap_max = caps.dirty_bitmap_max;
			/* read by netlink without the lock */
			WRITE_ONCE(ctx->caps.pgsize, caps.pgsize);
		}
		if (ret != -ENODEV && ret != VSHADOW_BROKEN)
			return -EINVAL;
	}
	switch (ret) {
	case -EIO:
	case VSHADOW_UNMAP_ABSENT:
	case VSHADOW_BROKEN:
		vshadow_break(ctx, "its answer did not fit the request, or it was out of reach");
		return -EIO;
	case -ENODEV:
		vshadow_break(ctx, "the container lost its IOMMU, and every mapping");
		return -ENODEV;
	}
	return ret;
}

int vshadow_call_query(const struct vshadow_backend_ops *ops, void *priv,
		       struct vshadow_backend_caps *caps)
{
	int ret = ops->query(priv, caps);

	/* The walk divides by the page size with a shift. */
	if (!ret && WARN_ON_ONCE(!is_power_of_2(caps->pgsize)))
		ret = -EIO;
	trace_vshadow_backend_query(ops->id, caps->pgsize, caps->max_last,
				    caps->dirty_bitmap_max, ret);
	return ret;
}

int vshadow_call_map(struct vshadow_ctx *ctx, u64 iova, u64 length, u64 vaddr,
		     u32 prot)
{
	int ret = ctx->ops->map(ctx->backend, iova, length, vaddr, prot);

	trace_vshadow_backend_map(ctx->ops->id, iova, length, false, ret);
	if (ret)
		vshadow_nl_backend_error(ctx, VIOMMU_SHADOW_OP_MAP, iova, length,
					 ret);
	return ret;
}

int vshadow_call_unmap(struct vshadow_ctx *ctx, u64 iova, u64 length,
		       const struct vshadow_bitmap *bitmap)
{
	int ret = ctx->ops->unmap(ctx->backend, iova, length, bitmap);

	trace_vshadow_backend_unmap(ctx->ops->id, iova, length, bitmap, ret);
	if (ret)
		vshadow_nl_backend_error(ctx, VIOMMU_SHADOW_OP_UNMAP, iova,
					 length, ret);
	return ret;
}

int vshadow_call_sync(struct vshadow_ctx *ctx, u64 iova, u64 length,
		      const struct vshadow_bitmap *bitmap, bool *cleared)
{
	int ret;

	*cleared = false;
	ret = ctx->ops->sync(ctx->backend, iova, length, bitmap, cleared);

	trace_vshadow_backend_sync(ctx->ops->id, iova, length, bitmap, ret);
	if (ret)
		vshadow_nl_backend_error(ctx, VIOMMU_SHADOW_OP_SYNC, iova, length,
					 ret);
	return ret;
}

int vshadow_call_set_hwpts(struct vshadow_ctx *ctx, const u32 *hwpts, u32 nr,
			   struct vshadow_backend_caps *caps)
{
	int ret = ctx->ops->set_hwpts(ctx->backend, hwpts, nr, caps);

	trace_vshadow_backend_set_hwpts(ctx->ops->id, nr,
					ret ? 0 : caps->dirty_bitmap_max, ret);
	return ret;
}
