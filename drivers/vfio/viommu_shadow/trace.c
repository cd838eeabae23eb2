// SPDX-License-Identifier: GPL-2.0
/*
 * The viommu_shadow tracepoints (trace.h) are created here, once; and
 * every call into a backend goes through here, to be traced (and, when it
 * did not simply succeed, reported to netlink's event listeners).
 */
#include <linux/viommu_shadow.h>
#include "vshadow.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

int vshadow_call_query(const struct vshadow_backend_ops *ops, void *priv,
		       struct vshadow_backend_caps *caps)
{
	int ret = ops->query(priv, caps);

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
