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

/**
 * struct vshadow_type1 - a context's view of its container
 * @chan: the container (the context holds the reference)
 * @args: the argument page, in the attaching process
 * @pgsize: the page size the container reported when last asked
 * @hole: the first IOVA of a page outside every IOVA range the container
 *	allows, where no mapping can be; U64_MAX when it reports none
 */
struct vshadow_type1 {
	const struct vshadow_chan *chan;
	struct vshadow_argpage *args;
	u64 pgsize;
	u64 hole;
};

/* No IOVA known to be outside every allowed range. */
#define VSHADOW_TYPE1_NO_HOLE	U64_MAX

/*
 * A VFIO container, by its device number: only a first filter.  What
 * answers behind it is asked next (vshadow_type1_attach()).  The test
 * build takes any misc device, so that /dev/iommu, whose VFIO
 * compatibility layer answers every VFIO container ioctl, can stand in
 * for a kernel with IOMMUFD_VFIO_CONTAINER (iommufd behind /dev/vfio/vfio)
 * on the debug kernel, which does not have it.
 */
static bool vshadow_type1_is_container(struct file *file)
{
	struct inode *inode = file_inode(file);

	if (VSHADOW_TEST_BUILD)
		return S_ISCHR(inode->i_mode) && imajor(inode) == MISC_MAJOR;
	return S_ISCHR(inode->i_mode) &&
	       inode->i_rdev == MKDEV(MISC_MAJOR, VFIO_MINOR);
}

/*
 * The offset of capability @id, version 1, of at least @size bytes in
 * GET_INFO's capability chain (@info, @len bytes as the container wrote
 * them), or 0.  type1 packs the chain without padding (6.1's DMA_AVAIL
 * capability is 12 bytes), so its members may be unaligned: they are
 * copied out, never dereferenced in place.  The chain is in memory the
 * process can write: every offset is checked, and each must move forward.
 */
static size_t vshadow_type1_find_cap(const struct vfio_iommu_type1_info *info,
				     size_t len, u16 id, size_t size)
{
	struct vfio_info_cap_header hdr;
	u32 offset = info->cap_offset;

	if (!(info->flags & VFIO_IOMMU_INFO_CAPS))
		return 0;
	while (offset >= sizeof(*info) && offset <= len - sizeof(hdr)) {
		memcpy(&hdr, (const void *)info + offset, sizeof(hdr));
		if (hdr.id == id && hdr.version == 1 && size <= len - offset)
			return offset;
		if (hdr.next <= offset)
			break;
		offset = hdr.next;
	}
	return 0;
}

/*
 * A page of @pgsize outside every IOVA range the container allows, from
 * its IOVA range capability (ranges in ascending order, as type1 keeps
 * them): before the first, between two, or after the last.  type1 maps
 * nothing there, ever.  A GET_BITMAP of it then answers only whether
 * dirty tracking runs (see vshadow_type1_tracking()); its end must not
 * wrap, so the top page of the space does not do.
 */
static u64 vshadow_type1_find_hole(const struct vfio_iommu_type1_info *info,
				   size_t len, u64 pgsize)
{
	const size_t hdr = offsetof(struct vfio_iommu_type1_info_cap_iova_range,
				    iova_ranges);
	struct vfio_iommu_type1_info_cap_iova_range cap;
	struct vfio_iova_range range;
	u64 next = 0, at;
	size_t offset;
	u32 i;

	offset = vshadow_type1_find_cap(info, len,
					VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
					hdr);
	if (!offset)
		return VSHADOW_TYPE1_NO_HOLE;
	memcpy(&cap, (const void *)info + offset, hdr);
	if (cap.nr_iovas > (len - offset - hdr) / sizeof(range))
		return VSHADOW_TYPE1_NO_HOLE;
	for (i = 0; i <= cap.nr_iovas; i++) {
		/* A page from @next up to the next range, or to the top. */
		at = round_up(next, pgsize);
		if (at < next)
			break;
		if (i == cap.nr_iovas)
			return at <= U64_MAX - 2 * pgsize + 1 ? at :
			       VSHADOW_TYPE1_NO_HOLE;
		memcpy(&range, (const void *)info + offset + hdr +
		       i * sizeof(range), sizeof(range));
		if (at < range.start && range.start - at >= pgsize)
			return at;
		if (range.end == U64_MAX || range.end < next)
			break;
		next = range.end + 1;
	}
	return VSHADOW_TYPE1_NO_HOLE;
}

/*
 * Whether the container can track dirty pages at all: only a type1 v2
 * container can.  CHECK_EXTENSION(TYPE1v2) answers 1 on a v1 container
 * too, and its GET_INFO has the migration capability all the same, so
 * ask with VFIO_IOMMU_DIRTY_PAGES and both START and STOP, which changes
 * nothing: v1 refuses it with EACCES before anything else, v2 with
 * EINVAL (one flag at a time), and iommufd's compatibility container,
 * which has no such ioctl, with ENOTTY.  1 for v2, 0, or an error.
 */
static int vshadow_type1_dirty_capable(struct vshadow_type1 *t)
{
	struct vfio_iommu_type1_dirty_bitmap dirty = {
		.argsz = sizeof(dirty),
		.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_START |
			 VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP,
	};
	long ret;

	ret = vshadow_forward_args(t->args, VFIO_IOMMU_DIRTY_PAGES,
				   &dirty, sizeof(dirty), 0);
	if (ret == -EINVAL)
		return 1;
	if (ret == -EACCES || ret == -ENOTTY || !ret)
		return 0;
	return ret;
}

/* One VFIO_IOMMU_GET_INFO with @len bytes of room, through @ap. */
static long vshadow_type1_get_info(struct vshadow_type1 *t,
				   struct vshadow_argpage *ap, void *buf,
				   size_t len)
{
	struct vfio_iommu_type1_info *info = buf;

	memset(buf, 0, len);
	info->argsz = len;
	return vshadow_forward_args(ap, VFIO_IOMMU_GET_INFO, info,
				    sizeof(*info), len);
}

/*
 * Ask the container what it is and can do.  type1 reports its page sizes
 * and always includes the migration capability, with the dirty page sizes
 * and the largest bitmap one call returns; iommufd's compatibility
 * container, behind the same device number on kernels with
 * IOMMUFD_VFIO_CONTAINER, does not, and cannot track dirty pages.  The
 * capability chain may not fit the argument page: it is then read once
 * more through a larger one, mapped just for that.
 */
static int vshadow_type1_query(void *priv, struct vshadow_backend_caps *caps)
{
	struct vfio_iommu_type1_info_cap_migration mig;
	struct vshadow_type1 *t = priv;
	struct vfio_iommu_type1_info *info;
	struct vshadow_argpage *big;
	size_t len = PAGE_SIZE, offset;
	int tries = 0;
	u64 pgsize;
	long ret;

	info = vshadow_fail(VSHADOW_FAULT_ALLOC) ? NULL :
	       kvmalloc(len, GFP_KERNEL_ACCOUNT);
	if (!info)
		return -ENOMEM;
	ret = vshadow_type1_get_info(t, t->args, info, len);
	/* The chain may grow between two calls (a group joined): a few tries. */
	while (!ret && info->argsz > len) {
		if (info->argsz > VSHADOW_ARGPAGE_MAX) {
			ret = -E2BIG;
			goto out_free;
		}
		if (tries++ == 3) {
			ret = -EAGAIN;
			goto out_free;
		}
		len = info->argsz;
		kvfree(info);
		info = kvmalloc(len, GFP_KERNEL_ACCOUNT);
		if (!info)
			return -ENOMEM;
		big = vshadow_argpage_create(t->chan, len, 0);
		if (IS_ERR(big)) {
			ret = PTR_ERR(big);
			goto out_free;
		}
		ret = vshadow_type1_get_info(t, big, info, len);
		vshadow_argpage_destroy(big);
	}
	if (ret == -EINVAL)
		ret = -ENODEV;		/* no IOMMU set on the container */
	if (ret)
		goto out_free;
	if (!(info->flags & VFIO_IOMMU_INFO_PGSIZES) || !info->iova_pgsizes) {
		ret = -ENODEV;
		goto out_free;
	}

	pgsize = 1ULL << __ffs64(info->iova_pgsizes);
	caps->pgsize = pgsize;
	t->pgsize = pgsize;
	t->hole = vshadow_type1_find_hole(info, len, pgsize);
	/*
	 * type1 (seen on 6.1.176 and 6.12.95) computes the end of an unmap
	 * as iova + size, which wraps to 0 for a mapping that ends at
	 * 2^64 - 1: such a mapping can be made but never unmapped, so it is
	 * refused up front (seed.top_of_iova_space checks this).
	 */
	caps->max_last = U64_MAX - pgsize;
	caps->dirty_bitmap_max = 0;
	offset = vshadow_type1_find_cap(info, len,
					VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
					sizeof(mig));
	if (offset) {
		memcpy(&mig, (void *)info + offset, sizeof(mig));
		ret = 0;
		if (mig.pgsize_bitmap & pgsize)
			ret = vshadow_type1_dirty_capable(t);
		if (ret > 0)
			caps->dirty_bitmap_max = mig.max_dirty_bitmap_size;
		ret = min_t(long, ret, 0);
	}
out_free:
	kvfree(info);
	return ret;
}

static int vshadow_type1_attach(struct vshadow_chan *chan,
				const struct viommu_shadow_attach *cmd,
				const u32 *hwpts, void **priv)
{
	struct file *file = vshadow_chan_file(chan);
	struct vshadow_type1 *t;
	long ret;

	if (cmd->backend_id || cmd->nr_dirty_hwpts || cmd->dirty_hwpts ||
	    !vshadow_type1_is_container(file))
		return -EINVAL;

	t = vshadow_fail(VSHADOW_FAULT_ALLOC) ? NULL :
	    kzalloc(sizeof(*t), GFP_KERNEL_ACCOUNT);
	if (!t)
		return -ENOMEM;
	t->chan = chan;

	/* A file that does not know VFIO's first question is no container. */
	ret = vshadow_forward_ioctl(file, VFIO_GET_API_VERSION, 0);
	if (ret == -ENOTTY)
		ret = -EINVAL;
	if (ret < 0)
		goto err_free;
	if (ret != VFIO_API_VERSION) {
		ret = -EINVAL;
		goto err_free;
	}
	/*
	 * With an IOMMU set, CHECK_EXTENSION asks that IOMMU; without one it
	 * asks every loaded driver, so it cannot tell "no IOMMU" apart:
	 * GET_INFO does, in the query that follows ATTACH.
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
	 * Pages of the module's own, resident for as long as they are
	 * mapped, so that type1's write-back to them cannot fail for want of
	 * memory once it has acted: the first for arguments, the second for
	 * the dirty bits of a run.
	 */
	t->args = vshadow_argpage_create(chan, 2 * PAGE_SIZE, 0);
	if (IS_ERR(t->args)) {
		ret = PTR_ERR(t->args);
		goto err_free;
	}
	*priv = t;
	return 0;

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

	return vshadow_forward_args(t->args, VFIO_IOMMU_MAP_DMA,
				    &map, sizeof(map), 0);
}

/*
 * One VFIO_IOMMU_UNMAP_DMA of [iova, iova + length - 1], with the dirty
 * bits as @vbitmap says if given; on success *@done is what type1 says it
 * unmapped.  An unmap with a bitmap is a variable-size argument: the
 * struct vfio_bitmap goes in the unmap struct's data[], built here in one
 * buffer.
 */
static long vshadow_type1_unmap_call(struct vshadow_type1 *t, u64 iova,
				     u64 length,
				     const struct vfio_bitmap *vbitmap,
				     u64 *done)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = iova,
		.size = length,
	};
	const size_t data = offsetof(struct vfio_iommu_type1_dma_unmap, data);
	u8 args[sizeof(unmap) + sizeof(*vbitmap)] __aligned(8);
	long ret;

	if (vbitmap) {
		unmap.argsz = data + sizeof(*vbitmap);
		unmap.flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
		memcpy(args + data, vbitmap, sizeof(*vbitmap));
	}
	memcpy(args, &unmap, sizeof(unmap));
	ret = vshadow_forward_args(t->args, VFIO_IOMMU_UNMAP_DMA,
				   args, unmap.argsz, sizeof(unmap));
	if (ret)
		return ret;
	/* type1 wrote back the size it unmapped. */
	memcpy(&unmap, args, sizeof(unmap));
	*done = unmap.size;
	return 0;
}

/*
 * Where type1 writes a call's dirty bits, in @vbitmap: the argument
 * mapping's second page for the kernel buffer, zeroed here, or the
 * caller's bitmap, which the walk zeroed before the call (VFIO wants the
 * bitmap zeroed: type1 ORs a mapping's first word into what it finds
 * there).
 */
static void vshadow_type1_bitmap(struct vshadow_type1 *t,
				 const struct vshadow_bitmap *bitmap,
				 struct vfio_bitmap *vbitmap)
{
	BUILD_BUG_ON(VSHADOW_RUN_BYTES > PAGE_SIZE);
	vbitmap->pgsize = bitmap->pgsize;
	vbitmap->size = bitmap->bytes;
	if (!bitmap->kdata) {
		vbitmap->data = (__u64 __user *)bitmap->data;
		return;
	}
	vbitmap->data = (__u64 __user *)vshadow_argpage_uaddr(t->args,
							       PAGE_SIZE);
	memset(vshadow_argpage_kaddr(t->args, PAGE_SIZE), 0, bitmap->bytes);
}

/* The bits type1 stored in the second page, to the kernel buffer. */
static void vshadow_type1_bits_back(struct vshadow_type1 *t,
				    const struct vshadow_bitmap *bitmap)
{
	if (bitmap && bitmap->kdata)
		memcpy(bitmap->kdata, vshadow_argpage_kaddr(t->args, PAGE_SIZE),
		       bitmap->bytes);
}

/*
 * Whether dirty tracking runs: a GET_BITMAP of a page where no mapping can
 * be (@hole) succeeds when it does, and fails with EINVAL when it does not
 * (type1 checks that last, after the page size and alignment).  0, -ENODATA,
 * or the error of the call.
 */
static int vshadow_type1_tracking(struct vshadow_type1 *t, u64 pgsize)
{
	struct {
		struct vfio_iommu_type1_dirty_bitmap hdr;
		struct vfio_iommu_type1_dirty_bitmap_get get;
	} args = {
		.hdr = {
			.argsz = sizeof(args),
			.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
		},
		.get = {
			.iova = t->hole,
			.size = pgsize,
			.bitmap = {
				.pgsize = pgsize,
				.size = sizeof(u64),
				.data = (__u64 __user *)
					vshadow_argpage_uaddr(t->args, PAGE_SIZE),
			},
		},
	};
	long ret;

	BUILD_BUG_ON(sizeof(args) != sizeof(args.hdr) + sizeof(args.get));
	ret = vshadow_forward_args(t->args, VFIO_IOMMU_DIRTY_PAGES,
				   &args, sizeof(args), 0);
	return ret == -EINVAL ? -ENODATA : ret;
}

/*
 * type1 refused an unmap or a GET_BITMAP of a run with EINVAL, though the
 * context checked every argument against what it last learned.  Ask the
 * container again:
 *
 * - it lost its IOMMU: -ENODEV;
 * - its page size changed (or it cannot be asked): -EINVAL, and the walk
 *   learns the new page size;
 * - with dirty bits, its tracking is off: -ENODATA, nothing done;
 * - else a v2 container refused to cut a mapping: the VMM changed the
 *   container directly under the context's mappings (type1 v1 does not
 *   refuse, and unmaps another length: broken too).  The context's
 *   mapping is no longer what the container holds: VSHADOW_BROKEN.
 *
 * Tracking is told apart from a cut with vshadow_type1_tracking(); a
 * container that reports no IOVA range (no hole to ask about) is taken
 * as not tracking, the old answer, which leaves the mapping in place.
 */
static int vshadow_type1_explain_einval(struct vshadow_type1 *t, u64 iova,
					u64 length,
					const struct vshadow_bitmap *bitmap)
{
	struct vshadow_backend_caps caps = {};
	u64 pgsize = t->pgsize;
	int ret;

	ret = vshadow_type1_query(t, &caps);
	if (ret == -ENODEV || ret == VSHADOW_BROKEN)
		return ret;
	if (ret || caps.pgsize != pgsize ||
	    ((iova | length) & (caps.pgsize - 1)))
		return -EINVAL;
	if (bitmap) {
		if (t->hole == VSHADOW_TYPE1_NO_HOLE)
			return -ENODATA;
		ret = vshadow_type1_tracking(t, caps.pgsize);
		if (ret)
			return ret;
	}
	return VSHADOW_BROKEN;
}

/*
 * type1 said EFAULT.  It may have failed before removing a mapping (its
 * write of the dirty bits faulted) or after (its write-back of the size
 * faulted).  Unmap again without a bitmap to find out: what this call
 * unmaps was still there, and is gone now with its dirty bits unknown, so
 * every page of the range is reported dirty.  If it unmaps nothing, the
 * first call removed it all and stored the bits.
 */
static int vshadow_type1_unmap_resolve(struct vshadow_type1 *t, u64 iova,
				       u64 length,
				       const struct vshadow_bitmap *bitmap)
{
	u64 i, done;

	/* Without an answer, the first call's fate is unknown. */
	if (vshadow_type1_unmap_call(t, iova, length, NULL, &done))
		return VSHADOW_BROKEN;
	if (!bitmap)
		return 0;
	if (bitmap->kdata) {
		if (done)
			memset(bitmap->kdata, 0xff, bitmap->bytes);
		else
			vshadow_type1_bits_back(t, bitmap);
		return 0;
	}
	if (!done)
		return 0;
	for (i = 0; i < bitmap->bytes / 8; i++)
		if (vshadow_fail(VSHADOW_FAULT_COPY) ||
		    put_user(~0ULL, bitmap->data + i))
			return VSHADOW_UNMAP_DIRTY_LOST;
	return 0;
}

/*
 * A run's bits go through the second page of the argument page, whose
 * kernel address the module reads them from; one mapping too large for
 * that goes straight to the caller's bitmap.
 */
static int vshadow_type1_unmap(void *priv, u64 iova, u64 length,
			       const struct vshadow_bitmap *bitmap)
{
	struct vfio_bitmap vbitmap;
	struct vshadow_type1 *t = priv;
	u64 done;
	long ret;

	if (bitmap)
		vshadow_type1_bitmap(t, bitmap, &vbitmap);

	ret = vshadow_fail(VSHADOW_FAULT_CUT) ? -EINVAL :
	      vshadow_type1_unmap_call(t, iova, length,
				       bitmap ? &vbitmap : NULL, &done);
	if (ret == -EFAULT)
		return vshadow_type1_unmap_resolve(t, iova, length, bitmap);
	if (ret == -EINVAL)
		return vshadow_type1_explain_einval(t, iova, length, bitmap);
	/* A failed run may have stored some first mappings' bits too. */
	vshadow_type1_bits_back(t, bitmap);
	if (!ret && !done && vshadow_fail(VSHADOW_FAULT_ENOENT))
		ret = -ENOENT;
	/*
	 * type1 answers an unmap of nothing with 0 bytes; iommufd's VFIO
	 * compatibility layer (IOMMUFD_VFIO_CONTAINER) did with ENOENT
	 * before it learned type1's answer (6.12 gives 0 bytes), and type1
	 * never returns ENOENT.  Either means the container holds none of
	 * the range.  (iommufd also says ENOENT for a range that would cut
	 * one of its areas, which the context never asks of its own.)
	 */
	if (ret == -ENOENT)
		return VSHADOW_UNMAP_ABSENT;
	if (ret)
		return ret;
	if (!done)
		return VSHADOW_UNMAP_ABSENT;
	/* Another length than the run's: not what the context made. */
	if (done != length)
		return VSHADOW_BROKEN;
	return 0;
}

/*
 * Read and clear the dirty bits of a run without unmapping it: one
 * VFIO_IOMMU_DIRTY_PAGES with GET_BITMAP, whose bitmap type1 wants zeroed.
 */
static int vshadow_type1_sync(void *priv, u64 iova, u64 length,
			      const struct vshadow_bitmap *bitmap, bool *cleared)
{
	struct vfio_iommu_type1_dirty_bitmap hdr = {
		.argsz = sizeof(hdr) +
			 sizeof(struct vfio_iommu_type1_dirty_bitmap_get),
		.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
	};
	struct vfio_iommu_type1_dirty_bitmap_get get = {
		.iova = iova,
		.size = length,
	};
	u8 args[sizeof(hdr) + sizeof(get)] __aligned(8);
	struct vshadow_type1 *t = priv;
	long ret;

	vshadow_type1_bitmap(t, bitmap, &get.bitmap);
	memcpy(args, &hdr, sizeof(hdr));
	memcpy(args + sizeof(hdr), &get, sizeof(get));
	ret = vshadow_fail(VSHADOW_FAULT_CUT) ? -EINVAL :
	      vshadow_forward_args(t->args, VFIO_IOMMU_DIRTY_PAGES, args,
				   sizeof(args), 0);
	/*
	 * type1 checks everything before it reads (EINVAL); any other error
	 * may come after it copied and cleared some of the bits.
	 */
	if (ret == -EINVAL)
		return vshadow_type1_explain_einval(t, iova, length, bitmap);
	if (ret) {
		*cleared = true;
		return ret;
	}
	vshadow_type1_bits_back(t, bitmap);
	return 0;
}

const struct vshadow_backend_ops vshadow_type1_ops = {
	.id = VIOMMU_SHADOW_BACKEND_VFIO_TYPE1,
	.name = "vfio-type1",
	.owner = THIS_MODULE,
	.attach = vshadow_type1_attach,
	.detach = vshadow_type1_detach,
	.query = vshadow_type1_query,
	.map = vshadow_type1_map,
	.unmap = vshadow_type1_unmap,
	.sync = vshadow_type1_sync,
};
