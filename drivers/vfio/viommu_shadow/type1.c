// SPDX-License-Identifier: GPL-2.0
/*
 * The VFIO type1 backend.
 *
 * type1 is only reachable through its container's ioctls, and those take
 * their arguments in user memory: they are forwarded as forward.c says,
 * with the arguments in the context's argument page.  Dirty bits are the
 * exception: type1 writes them straight into the caller's bitmap buffer,
 * at the place the caller gave for them.
 */
#include <linux/fs.h>
#include <linux/kdev_t.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>

#include <linux/viommu_shadow.h>
#include "vshadow.h"

/*
 * type1 refuses a dirty bitmap larger than this (256 MB, 2^31 pages) in
 * one call; it is not exported, so it is restated here.
 */
#define VSHADOW_TYPE1_BITMAP_MAX	(256ULL << 20)

/**
 * struct vshadow_type1 - a context's view of its container
 * @file: the container (the context holds the reference)
 * @args: the argument page, in the attaching process
 * @pgsize: the container's smallest IOMMU page size
 */
struct vshadow_type1 {
	struct file *file;
	struct vshadow_argpage *args;
	u64 pgsize;
};

static bool vshadow_type1_is_container(struct file *file)
{
	struct inode *inode = file_inode(file);

	return S_ISCHR(inode->i_mode) &&
	       inode->i_rdev == MKDEV(MISC_MAJOR, VFIO_MINOR) &&
	       file->f_op->unlocked_ioctl;
}

/* The container's IOMMU page size; ENODEV if it has no IOMMU (any more). */
static int vshadow_type1_get_pgsize(struct vshadow_type1 *t, u64 *pgsize)
{
	struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
	long ret;

	ret = vshadow_forward_args(t->args, t->file, VFIO_IOMMU_GET_INFO,
				   &info, sizeof(info), sizeof(info));
	if (ret == -EINVAL)
		return -ENODEV;		/* no IOMMU set on the container */
	if (ret)
		return ret;
	if (!(info.flags & VFIO_IOMMU_INFO_PGSIZES) || !info.iova_pgsizes)
		return -ENODEV;
	*pgsize = 1ULL << __ffs64(info.iova_pgsizes);
	return 0;
}

static int vshadow_type1_attach(struct file *file, void **priv, u64 *pgsize,
				u64 *max_last)
{
	struct vshadow_type1 *t;
	int ret;

	if (!vshadow_type1_is_container(file))
		return -EINVAL;

	t = kzalloc(sizeof(*t), GFP_KERNEL_ACCOUNT);
	if (!t)
		return -ENOMEM;
	t->file = file;

	/*
	 * With an IOMMU set, CHECK_EXTENSION asks that IOMMU; without one it
	 * asks every loaded driver, so it cannot tell "no IOMMU" apart:
	 * GET_INFO does, below.
	 */
	ret = vshadow_forward_ioctl(file, VFIO_CHECK_EXTENSION,
				    VFIO_TYPE1v2_IOMMU);
	if (ret < 0)
		goto err_free;
	if (ret != 1) {
		ret = -ENODEV;
		goto err_free;
	}

	/*
	 * A page of the module's own, resident for as long as it is mapped,
	 * so that type1's write-back to it cannot fail for want of memory
	 * once it has acted.
	 */
	t->args = vshadow_argpage_create();
	if (IS_ERR(t->args)) {
		ret = PTR_ERR(t->args);
		goto err_free;
	}

	ret = vshadow_type1_get_pgsize(t, &t->pgsize);
	if (ret)
		goto err_args;

	*priv = t;
	*pgsize = t->pgsize;
	/*
	 * type1 (seen on 6.1.176 and 6.12.95) computes the end of an unmap
	 * as iova + size, which wraps to 0 for a mapping that ends at
	 * 2^64 - 1: such a mapping can be made but never unmapped, so it is
	 * refused up front (seed.top_of_iova_space checks this).
	 */
	*max_last = U64_MAX - t->pgsize;
	return 0;

err_args:
	vshadow_argpage_destroy(t->args);
err_free:
	kfree(t);
	return ret;
}

static void vshadow_type1_detach(void *priv)
{
	struct vshadow_type1 *t = priv;

	vshadow_argpage_destroy(t->args);
	kfree(t);
}

static int vshadow_type1_map(void *priv, u64 iova, u64 length, u64 vaddr, u32 prot)
{
	struct vshadow_type1 *t = priv;
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.vaddr = vaddr,
		.iova = iova,
		.size = length,
	};

	if (prot & VIOMMU_SHADOW_MAP_READ)
		map.flags |= VFIO_DMA_MAP_FLAG_READ;
	if (prot & VIOMMU_SHADOW_MAP_WRITE)
		map.flags |= VFIO_DMA_MAP_FLAG_WRITE;

	return vshadow_forward_args(t->args, t->file, VFIO_IOMMU_MAP_DMA,
				    &map, sizeof(map), 0);
}

/*
 * One VFIO_IOMMU_UNMAP_DMA of exactly [iova, iova + length - 1], with the
 * dirty bits to @bitmap if given; on success *@done is what type1 says it
 * unmapped.
 */
static long vshadow_type1_unmap_call(struct vshadow_type1 *t, u64 iova,
				     u64 length, u64 __user *bitmap,
				     u64 bitmap_bytes, u64 *done)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = iova,
		.size = length,
	};
	struct vfio_bitmap vbitmap = {
		.pgsize = t->pgsize,
		.size = bitmap_bytes,
		.data = (__u64 __user *)bitmap,
	};
	const size_t data = offsetof(struct vfio_iommu_type1_dma_unmap, data);
	u8 args[sizeof(unmap) + sizeof(vbitmap)] __aligned(8);
	long ret;

	/* With a bitmap, its struct goes in the unmap struct's data[]. */
	if (bitmap) {
		unmap.argsz = data + sizeof(vbitmap);
		unmap.flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
		memcpy(args + data, &vbitmap, sizeof(vbitmap));
	}
	memcpy(args, &unmap, sizeof(unmap));
	ret = vshadow_forward_args(t->args, t->file, VFIO_IOMMU_UNMAP_DMA,
				   args, unmap.argsz, sizeof(unmap));
	if (ret)
		return ret;
	/* type1 wrote back the size it unmapped. */
	memcpy(&unmap, args, sizeof(unmap));
	*done = unmap.size;
	return 0;
}

/*
 * type1 said EFAULT.  It may have failed before removing the mapping (its
 * write of the dirty bits faulted) or after (its write-back of the size
 * faulted).  Unmap again without a bitmap to find out: if the mapping was
 * still there it is gone now, with its dirty bits unknown, so all of them
 * are reported dirty.  Either way the mapping is gone and reported.
 */
static int vshadow_type1_unmap_resolve(struct vshadow_type1 *t, u64 iova,
				       u64 length, u64 __user *bitmap,
				       u64 bitmap_bytes)
{
	u64 i, done;
	long ret;

	/* Fails only if the process broke the argument page itself. */
	ret = vshadow_type1_unmap_call(t, iova, length, NULL, 0, &done);
	if (ret)
		return ret;
	if (done != length)
		return done ? -EIO : 0;
	for (i = 0; bitmap && i < bitmap_bytes / 8; i++)
		if (put_user(~0ULL, bitmap + i))
			return VSHADOW_UNMAP_DIRTY_LOST;
	return 0;
}

/*
 * type1 said EINVAL, though every argument it checks has been checked:
 * either its dirty tracking is off (for an unmap with a bitmap), or the
 * container changed under the context (it lost its IOMMU when its last
 * group left, or its page size changed).
 */
static int vshadow_type1_explain_einval(struct vshadow_type1 *t, bool dirty)
{
	u64 pgsize;
	int ret;

	ret = vshadow_type1_get_pgsize(t, &pgsize);
	if (ret)
		return ret;
	if (pgsize != t->pgsize)
		return -EINVAL;
	return dirty ? -ENODATA : -EINVAL;
}

static int vshadow_type1_unmap(void *priv, u64 iova, u64 length,
			       u64 __user *bitmap, u64 bitmap_bytes)
{
	struct vshadow_type1 *t = priv;
	u64 done;
	long ret;

	if (bitmap) {
		if (bitmap_bytes > VSHADOW_TYPE1_BITMAP_MAX)
			return -E2BIG;
		/* Fault here, before anything is unmapped, if it must. */
		if (clear_user(bitmap, bitmap_bytes))
			return -EFAULT;
	}

	ret = vshadow_type1_unmap_call(t, iova, length, bitmap, bitmap_bytes, &done);
	if (ret == -EFAULT)
		return vshadow_type1_unmap_resolve(t, iova, length, bitmap,
					   bitmap_bytes);
	if (ret == -EINVAL)
		return vshadow_type1_explain_einval(t, bitmap);
	if (ret)
		return ret;
	/* The container was changed behind the context's back. */
	if (done != length)
		return -EIO;
	return 0;
}

const struct vshadow_backend_ops vshadow_type1_ops = {
	.id = VIOMMU_SHADOW_BACKEND_VFIO_TYPE1,
	.name = "vfio-type1",
	.owner = THIS_MODULE,
	.attach = vshadow_type1_attach,
	.detach = vshadow_type1_detach,
	.map = vshadow_type1_map,
	.unmap = vshadow_type1_unmap,
};
