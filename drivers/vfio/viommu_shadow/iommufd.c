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
 * A context attaches to one IOAS (backend_id of ATTACH) and, for dirty
 * bits, to the HWPTs of that IOAS on which the VMM tracks dirty pages
 * (dirty_hwpts of ATTACH: an IOAS can back several, and reading one would
 * miss the others' bits, so the bits of all are read and OR-ed; SET_HWPTS
 * replaces the list, vshadow_iommufd_set_hwpts()).  An
 * unmap with dirty bits reads them with IOMMU_HWPT_GET_DIRTY_BITMAP and
 * NO_CLEAR (so that a failed unmap leaves them for the retry), into a
 * zeroed buffer (iommufd only sets bits), then IOMMU_IOAS_UNMAP of
 * exactly the same range.  Those are two calls: what a device writes
 * between them is in no bitmap (see the documentation).  A sync reads
 * them without NO_CLEAR.
 */
#include <linux/file.h>
#include <linux/iommufd.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include <uapi/linux/iommufd.h>
#include <linux/viommu_shadow.h>
#include "vshadow.h"

/*
 * The most bits of one mapping: iommufd sets no limit (it walks the
 * bitmap a page at a time, as does this backend); type1's 2^31 pages are
 * kept, so that a VMM sees one limit on either backend.
 */
#define VSHADOW_IOMMUFD_BITMAP_MAX	(256ULL << 20)

/**
 * struct vshadow_iommufd - a context's view of its IOAS
 * @chan: the iommufd file, for the pages made later (SET_HWPTS)
 * @args: the argument page, in the attaching process
 * @bits: with @nr_hwpts, a page of dirty bits iommufd can pin, in the
 *	attaching process too
 * @ioas_id: the IOAS
 * @nr_hwpts: entries of @hwpts
 * @hwpts: the HWPTs whose dirty bits are read
 */
struct vshadow_iommufd {
	const struct vshadow_chan *chan;
	struct vshadow_argpage *args;
	struct vshadow_argpage *bits;
	u32 ioas_id;
	u32 nr_hwpts;
	u32 hwpts[VIOMMU_SHADOW_DIRTY_HWPTS_MAX];
};

/* The page iommufd writes dirty bits to, while the context reads any. */
static struct vshadow_argpage *
vshadow_iommufd_bits_create(const struct vshadow_chan *chan)
{
	return vshadow_argpage_create(chan, PAGE_SIZE,
				      VSHADOW_ARGPAGE_PINNABLE);
}

static int vshadow_iommufd_attach(struct vshadow_chan *chan,
				  const struct viommu_shadow_attach *cmd,
				  const u32 *hwpts, void **priv)
{
	struct vshadow_iommufd *t;
	struct iommufd_ctx *ictx;
	int ret;

	ictx = iommufd_ctx_from_file(vshadow_chan_file(chan));
	if (IS_ERR(ictx))
		return -EINVAL;
	iommufd_ctx_put(ictx);

	t = vshadow_fail(VSHADOW_FAULT_ALLOC) ? NULL :
	    kzalloc(sizeof(*t), GFP_KERNEL_ACCOUNT);
	if (!t)
		return -ENOMEM;
	t->chan = chan;
	t->ioas_id = cmd->backend_id;
	t->nr_hwpts = cmd->nr_dirty_hwpts;
	memcpy(t->hwpts, hwpts, t->nr_hwpts * sizeof(t->hwpts[0]));
	t->args = vshadow_argpage_create(chan, PAGE_SIZE, 0);
	if (IS_ERR(t->args)) {
		ret = PTR_ERR(t->args);
		goto err_free;
	}
	if (t->nr_hwpts) {
		t->bits = vshadow_iommufd_bits_create(chan);
		if (IS_ERR(t->bits)) {
			ret = PTR_ERR(t->bits);
			goto err_args;
		}
	}
	*priv = t;
	return 0;

err_args:
	vshadow_argpage_destroy(t->args);
err_free:
	kfree(t);
	return ret;
}

static void vshadow_iommufd_detach(void *priv)
{
	struct vshadow_iommufd *t = priv;

	if (t->bits)
		vshadow_argpage_destroy(t->bits);
	vshadow_argpage_destroy(t->args);
	kfree(t);
}

/*
 * Read the dirty bits of [iova, iova + length - 1], at most a page of
 * them, from every HWPT into the bits page, OR-ed: iommufd only sets
 * bits, so the page starts zeroed.
 *
 * iommufd pins the bitmap it writes (hence a bits page of its own, see
 * forward.c), and the 6.12 kernels here report success when the read
 * could not be done: when the pin fails, when the range crosses a hole,
 * when the HWPT does not track.  The module asks only for runs of its
 * live mappings, through its own page; the rest is the VMM's (see
 * "iommufd backend" in the documentation).
 *
 * Returns 0, VSHADOW_BROKEN when the VMM unmapped the bits page (its
 * address may now be anything of the VMM's), or the error of a read;
 * *@read counts the reads that had succeeded before (a clearing read took
 * bits that are then lost).
 */
static long vshadow_iommufd_read_hwpt(struct vshadow_iommufd *t, u32 hwpt,
				      u64 iova, u64 length, u64 pgsize,
				      u32 flags)
{
	struct iommu_hwpt_get_dirty_bitmap cmd = {
		.size = sizeof(cmd),
		.hwpt_id = hwpt,
		.flags = flags,
		.iova = iova,
		.length = length,
		.page_size = pgsize,
		.data = vshadow_argpage_uaddr(t->bits, 0),
	};

	return vshadow_forward_args(t->args,
				    IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd,
				    sizeof(cmd), 0);
}

static int vshadow_iommufd_read_page(struct vshadow_iommufd *t, u64 iova,
				     u64 length, u64 pgsize, u32 flags,
				     size_t bytes, u32 *read)
{
	long ret;
	u32 i;

	if (vshadow_argpage_gone(t->bits))
		return VSHADOW_BROKEN;
	memset(vshadow_argpage_kaddr(t->bits, 0), 0, bytes);
	for (i = 0; i < t->nr_hwpts; i++) {
		ret = vshadow_iommufd_read_hwpt(t, t->hwpts[i], iova, length,
						pgsize, flags);
		if (ret)
			return ret;
		(*read)++;
	}
	return 0;
}

/*
 * The dirty bits of [iova, iova + length - 1] into @bitmap.  A run's fit
 * the bits page; those of one larger mapping, or of a sync's run that the
 * walk has written in place (see struct vshadow_bitmap), go through it a
 * page at a time to the caller's buffer.  Returns as vshadow_iommufd_read_page(),
 * -EFAULT when the caller's buffer took no bits, or -EINTR for a fatal
 * signal between two reads (for a sync, its reads so far are lost, and
 * the walk reports that).
 */
static int vshadow_iommufd_dirty(struct vshadow_iommufd *t, u64 iova,
				 u64 length, const struct vshadow_bitmap *bitmap,
				 u32 flags, u32 *read)
{
	const u64 span = (u64)PAGE_SIZE * BITS_PER_BYTE * bitmap->pgsize;
	void *bits = vshadow_argpage_kaddr(t->bits, 0);
	u8 __user *to = (u8 __user *)bitmap->data;
	u64 off, n;
	size_t bytes;
	int ret;

	*read = 0;
	if (bitmap->kdata) {
		if (WARN_ON_ONCE(bitmap->bytes > PAGE_SIZE))
			return -EINVAL;
		ret = vshadow_iommufd_read_page(t, iova, length, bitmap->pgsize,
						flags, bitmap->bytes, read);
		if (!ret)
			memcpy(bitmap->kdata, bits, bitmap->bytes);
		return ret;
	}
	for (off = 0; off < length; off += n, to += bytes) {
		/* Up to 65536 reads for one call: yield, and stop if killed. */
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
		n = min(length - off, span);
		bytes = DIV_ROUND_UP_ULL(n / bitmap->pgsize, 64) * 8;
		ret = vshadow_iommufd_read_page(t, iova + off, n,
						bitmap->pgsize, flags, bytes,
						read);
		if (ret)
			return ret;
		if (vshadow_fail(VSHADOW_FAULT_COPY) ||
		    copy_to_user(to, bits, bytes))
			return -EFAULT;
	}
	return 0;
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
	u32 i;

	ret = vshadow_forward_args(t->args, IOMMU_IOAS_IOVA_RANGES,
				   &cmd, sizeof(cmd), sizeof(cmd));
	if (ret == -EMSGSIZE)
		return -E2BIG;		/* more ranges than a page holds */
	if (ret)
		return ret;
	if (!is_power_of_2(cmd.out_iova_alignment))
		return VSHADOW_BROKEN;
	caps->pgsize = max_t(u64, cmd.out_iova_alignment, PAGE_SIZE);
	caps->max_last = U64_MAX;
	caps->dirty_bitmap_max = t->nr_hwpts ? VSHADOW_IOMMUFD_BITMAP_MAX : 0;
	if (!t->nr_hwpts)
		return 0;
	/*
	 * Each HWPT must be one iommufd reads dirty bits of: ENOENT for no
	 * such HWPT, EOPNOTSUPP for one whose IOMMU cannot track, both
	 * checked before iommufd looks at the range.  The range read,
	 * [0, pgsize), is normally a hole of the IOAS: 6.12 then drops the
	 * EINVAL of a range without areas and reports success, a kernel
	 * that returns it answers EINVAL; either proves what the check is
	 * for.  Whether the HWPT tracks now, and whether it is one of this
	 * IOAS's, no read says (see vshadow_iommufd_read_page()).
	 */
	if (vshadow_argpage_gone(t->bits))
		return VSHADOW_BROKEN;
	for (i = 0; i < t->nr_hwpts; i++) {
		ret = vshadow_iommufd_read_hwpt(t, t->hwpts[i], 0, caps->pgsize,
						caps->pgsize,
						IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR);
		if (!ret && vshadow_fail(VSHADOW_FAULT_HOLE))
			ret = -EINVAL;
		if (ret && ret != -EINVAL)
			return ret;
	}
	return 0;
}

/*
 * One IOMMU_IOAS_UNMAP of [@iova, @iova + @length - 1]; *@done: its length.
 * iommufd reads (0, U64_MAX) as "unmap everything", the VMM's own
 * mappings included: the module never asks that, since no run is longer
 * than the pages of a context, which never cover all 2^64 bytes (MAP
 * refuses the mapping that would, EOVERFLOW), and U64_MAX is no multiple
 * of a page.
 */
static long vshadow_iommufd_unmap_call(struct vshadow_iommufd *t, u64 iova,
				       u64 length, u64 *done)
{
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd),
		.ioas_id = t->ioas_id,
		.iova = iova,
		.length = length,
	};
	long ret;

	ret = vshadow_forward_args(t->args, IOMMU_IOAS_UNMAP, &cmd,
				   sizeof(cmd), sizeof(cmd));
	*done = cmd.length;
	return ret;
}

/*
 * A map or an unmap said EFAULT: iommufd could not read its arguments
 * (it did nothing), or could not write its answer back (it acted; a
 * thread of the caller unmapped the argument page).  Unmap the range
 * again to find out, which leaves nothing of it mapped either way: 0 when
 * that call unmapped it or found it gone (ENOENT), VSHADOW_BROKEN when it
 * has no answer either.  The range is the context's: the map found the
 * tree empty there (a VMM that also maps inside it directly, racing its
 * own call, can lose that mapping: it harms only itself).
 */
static int vshadow_iommufd_unmap_again(struct vshadow_iommufd *t, u64 iova,
				       u64 length)
{
	u64 done;
	long ret;

	ret = vshadow_iommufd_unmap_call(t, iova, length, &done);
	if (ret == -ENOENT || (!ret && done <= length))
		return 0;
	return VSHADOW_BROKEN;
}

/* IOMMU_IOAS_MAP at exactly @iova, which iommufd writes back. */
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
	long ret;

	if (prot & VIOMMU_SHADOW_MAP_READ)
		cmd.flags |= IOMMU_IOAS_MAP_READABLE;
	if (prot & VIOMMU_SHADOW_MAP_WRITE)
		cmd.flags |= IOMMU_IOAS_MAP_WRITEABLE;
	ret = vshadow_forward_args(t->args, IOMMU_IOAS_MAP, &cmd,
				   sizeof(cmd), sizeof(cmd));
	if (ret == -EFAULT)
		return vshadow_iommufd_unmap_again(t, iova, length) ?:
		       -EFAULT;
	if (ret)
		return ret;
	/* Another IOVA than the one asked for: not what the context made. */
	return cmd.iova == iova ? 0 : VSHADOW_BROKEN;
}

/*
 * IOMMU_IOAS_UNMAP of exactly the run.  iommufd says ENOENT for a range
 * with nothing mapped, and also when it removed the first areas of the
 * run and then met one it would cut (only a VMM that changed the IOAS
 * directly makes one): "absent", which breaks the context either way.
 * It reports no length on an error: a failed run may have removed its
 * first mappings, as the contract allows.
 */
static int vshadow_iommufd_unmap(void *priv, u64 iova, u64 length,
				 const struct vshadow_bitmap *bitmap)
{
	struct vshadow_iommufd *t = priv;
	u64 done;
	u32 read;
	long ret;

	/*
	 * NO_CLEAR: should the unmap fail, the bits stay for the retry; and
	 * should a run's unmap fail part way, the bits of the mappings it
	 * removed are already in the run's buffer.  They stand too when the
	 * unmap's answer is lost and the run is unmapped again.
	 */
	if (bitmap) {
		ret = vshadow_iommufd_dirty(t, iova, length, bitmap,
					    IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR,
					    &read);
		if (ret)
			return ret;
	}
	ret = vshadow_iommufd_unmap_call(t, iova, length, &done);
	if (ret == -EFAULT)
		return vshadow_iommufd_unmap_again(t, iova, length);
	if (ret == -ENOENT)
		return VSHADOW_UNMAP_ABSENT;
	if (ret)
		return ret;
	/* Another length than the run's: not what the context made. */
	return done == length ? 0 : VSHADOW_BROKEN;
}

/*
 * Read and clear the run's bits in every HWPT.  Should a read fail after
 * another succeeded (a later HWPT, or a later page of bits), the bits
 * that one cleared are lost: *@cleared says so, and the error stays the
 * failed read's own.
 */
static int vshadow_iommufd_sync(void *priv, u64 iova, u64 length,
				const struct vshadow_bitmap *bitmap,
				bool *cleared)
{
	struct vshadow_iommufd *t = priv;
	u32 read;
	int ret;

	ret = vshadow_iommufd_dirty(t, iova, length, bitmap, 0, &read);
	*cleared = ret && read;
	return ret;
}

/*
 * Read from the @nr HWPTs of @hwpts from now on, if each passes the check
 * of ATTACH (vshadow_iommufd_query(), which also answers @caps); else go
 * on reading the old ones.  The bits page follows the list: made for the
 * first HWPT, destroyed with the last, kept in between.  The context
 * holds its lock, so no read sees a mix of the two lists.
 */
static int vshadow_iommufd_set_hwpts(void *priv, const u32 *hwpts, u32 nr,
				     struct vshadow_backend_caps *caps)
{
	struct vshadow_iommufd *t = priv;
	struct vshadow_argpage *old_bits = t->bits;
	u32 old[VIOMMU_SHADOW_DIRTY_HWPTS_MAX];
	u32 old_nr = t->nr_hwpts;
	int ret;

	if (nr && !t->bits) {
		t->bits = vshadow_iommufd_bits_create(t->chan);
		if (IS_ERR(t->bits)) {
			ret = PTR_ERR(t->bits);
			t->bits = NULL;
			return ret;
		}
	}
	memcpy(old, t->hwpts, sizeof(old));
	memcpy(t->hwpts, hwpts, nr * sizeof(t->hwpts[0]));
	t->nr_hwpts = nr;
	ret = vshadow_iommufd_query(t, caps);
	if (ret) {
		memcpy(t->hwpts, old, sizeof(old));
		t->nr_hwpts = old_nr;
		if (t->bits != old_bits) {
			vshadow_argpage_destroy(t->bits);
			t->bits = old_bits;
		}
		return ret;
	}
	if (!nr && t->bits) {
		vshadow_argpage_destroy(t->bits);
		t->bits = NULL;
	}
	return 0;
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
	.set_hwpts = vshadow_iommufd_set_hwpts,
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
MODULE_IMPORT_NS(VSHADOW_IOMMUFD_NS);
MODULE_IMPORT_NS(VSHADOW_NS);
