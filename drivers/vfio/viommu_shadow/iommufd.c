// SPDX-License-Identifier: GPL-2.0
/*
 * viommu_shadow_iommufd: the iommufd backend, a module of its own.
 *
 * iommufd's helpers for modules are in the IOMMUFD symbol namespace and
 * exist only on kernels built with IOMMUFD, while the main module must
 * load on any kernel: so this backend registers with the main module from
 * here.  The one iommufd symbol it uses is iommufd_ctx_from_file() (with
 * iommufd_ctx_put()), to recognise an iommufd file at ATTACH.  Every call
 * goes through the file's own ioctls (IOMMU_IOAS_IOVA_RANGES, _MAP,
 * _UNMAP), forwarded as forward.c says: the LSM checks and the accounting
 * are those of the VMM's own calls.
 *
 * A context attaches to one IOAS (backend_id of ATTACH).  This first step
 * maps and unmaps, in runs; it offers no dirty bits yet (dirty_bitmap_max
 * is 0, so GET_DIRTY fails with EOPNOTSUPP): reading them takes every HWPT
 * of the IOAS that tracks dirty pages, which is the next step.
 */
#include <linux/file.h>
#include <linux/iommufd.h>
#include <linux/module.h>
#include <linux/slab.h>

#include <uapi/linux/iommufd.h>
#include <linux/viommu_shadow.h>
#include "vshadow.h"

/**
 * struct vshadow_iommufd - a context's view of its IOAS
 * @file: the iommufd file (the context holds the reference)
 * @args: the argument page, in the attaching process
 * @ioas_id: the IOAS
 */
struct vshadow_iommufd {
	struct file *file;
	struct vshadow_argpage *args;
	u32 ioas_id;
};

static int vshadow_iommufd_attach(struct file *file, u32 id, void **priv)
{
	struct vshadow_iommufd *t;
	struct iommufd_ctx *ictx;

	ictx = iommufd_ctx_from_file(file);
	if (IS_ERR(ictx))
		return -EINVAL;
	iommufd_ctx_put(ictx);

	t = kzalloc(sizeof(*t), GFP_KERNEL_ACCOUNT);
	if (!t)
		return -ENOMEM;
	t->file = file;
	t->ioas_id = id;
	t->args = vshadow_argpage_create(PAGE_SIZE, 0);
	if (IS_ERR(t->args)) {
		int ret = PTR_ERR(t->args);

		kfree(t);
		return ret;
	}
	*priv = t;
	return 0;
}

static void vshadow_iommufd_detach(void *priv)
{
	struct vshadow_iommufd *t = priv;

	vshadow_argpage_destroy(t->args);
	kfree(t);
}

/*
 * The page size is the IOAS's IOVA alignment (IOMMU_IOAS_IOVA_RANGES, its
 * ranges in the rest of the argument page), and at least PAGE_SIZE: an
 * IOAS without a domain reports 1, and pins (and would track dirty) whole
 * CPU pages anyway.  iommufd allows a mapping to end at 2^64 - 1, and
 * unmaps it.
 */
static int vshadow_iommufd_query(void *priv, struct vshadow_backend_caps *caps)
{
	const size_t off = ALIGN(sizeof(struct iommu_ioas_iova_ranges), 8);
	struct vshadow_iommufd *t = priv;
	struct iommu_ioas_iova_ranges cmd = {
		.size = sizeof(cmd),
		.ioas_id = t->ioas_id,
		.num_iovas = (PAGE_SIZE - off) /
			     sizeof(struct iommu_iova_range),
		.allowed_iovas = vshadow_argpage_uaddr(t->args, off),
	};
	long ret;

	ret = vshadow_forward_args(t->args, t->file, IOMMU_IOAS_IOVA_RANGES,
				   &cmd, sizeof(cmd), sizeof(cmd));
	if (ret == -EMSGSIZE)
		return -E2BIG;		/* more ranges than a page holds */
	if (ret)
		return ret;
	if (!is_power_of_2(cmd.out_iova_alignment))
		return VSHADOW_BROKEN;
	caps->pgsize = max_t(u64, cmd.out_iova_alignment, PAGE_SIZE);
	caps->max_last = U64_MAX;
	caps->dirty_bitmap_max = 0;
	return 0;
}

static int vshadow_iommufd_map(void *priv, u64 iova, u64 length, u64 vaddr,
			       u32 prot)
{
	struct vshadow_iommufd *t = priv;
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA,
		.ioas_id = t->ioas_id,
		.user_va = vaddr,
		.length = length,
		.iova = iova,
	};

	if (prot & VIOMMU_SHADOW_MAP_READ)
		cmd.flags |= IOMMU_IOAS_MAP_READABLE;
	if (prot & VIOMMU_SHADOW_MAP_WRITE)
		cmd.flags |= IOMMU_IOAS_MAP_WRITEABLE;
	return vshadow_forward_args(t->args, t->file, IOMMU_IOAS_MAP, &cmd,
				    sizeof(cmd), 0);
}

/*
 * IOMMU_IOAS_UNMAP of exactly the run.  iommufd says ENOENT for a range
 * with nothing mapped (and for one that cuts an area, which the context
 * never asks for), and reports no length on an error: a failed run may
 * have removed its first mappings, as the contract allows.
 */
static int vshadow_iommufd_unmap(void *priv, u64 iova, u64 length,
				 const struct vshadow_bitmap *bitmap)
{
	struct vshadow_iommufd *t = priv;
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd),
		.ioas_id = t->ioas_id,
		.iova = iova,
		.length = length,
	};
	long ret;

	if (bitmap)
		return -EOPNOTSUPP;
	ret = vshadow_forward_args(t->args, t->file, IOMMU_IOAS_UNMAP, &cmd,
				   sizeof(cmd), sizeof(cmd));
	if (ret == -ENOENT)
		return VSHADOW_UNMAP_ABSENT;
	if (ret)
		return ret;
	/* Another length than the run's: not what the context made. */
	return cmd.length == length ? 0 : VSHADOW_BROKEN;
}

static int vshadow_iommufd_sync(void *priv, u64 iova, u64 length,
				const struct vshadow_bitmap *bitmap)
{
	return -EOPNOTSUPP;
}

static const struct vshadow_backend_ops vshadow_iommufd_ops = {
	.id = VIOMMU_SHADOW_BACKEND_IOMMUFD,
	.name = "iommufd",
	.owner = THIS_MODULE,
	.attach = vshadow_iommufd_attach,
	.detach = vshadow_iommufd_detach,
	.query = vshadow_iommufd_query,
	.map = vshadow_iommufd_map,
	.unmap = vshadow_iommufd_unmap,
	.sync = vshadow_iommufd_sync,
};

static int __init vshadow_iommufd_init(void)
{
	return vshadow_backend_register(&vshadow_iommufd_ops);
}

static void __exit vshadow_iommufd_exit(void)
{
	vshadow_backend_unregister(&vshadow_iommufd_ops);
}

module_init(vshadow_iommufd_init);
module_exit(vshadow_iommufd_exit);

MODULE_DESCRIPTION("viommu_shadow iommufd backend");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(IOMMUFD);
