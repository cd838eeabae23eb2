// SPDX-License-Identifier: GPL-2.0
/*
 * viommu_shadow_mock: a test-only backend, in its own module so that a
 * plain build or install never ships it.  See mock_test.h for what tests
 * can do with it.  A real IOMMU-backed type1 container reports every page
 * dirty, so only this backend can show that each mapping's own dirty bits
 * land where its record says; and only it can fail a backend call in the
 * middle of a walk on demand.
 */
#include <linux/bitmap.h>
#include <linux/fs.h>
#include <linux/list.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <linux/viommu_shadow.h>
#include "mock_test.h"
#include "vshadow.h"

/**
 * struct vshadow_mock - one mock container
 * @lock: protects everything below; taken inside vshadow_ctx::lock when a
 *	context calls in, and alone by the test ioctls
 * @mappings: struct vshadow_mock_map, sorted by IOVA
 * @nr_mappings: entries in @mappings
 * @tracking: dirty tracking running
 * @pgsize: the page size it reports and requires (VSHADOW_MOCK_SET_CAPS)
 * @dirty_bitmap_max: the bitmap limit it reports; 0: no dirty tracking
 * @calls: backend calls made so far
 * @fail_at: value of @calls at which a call fails, 0 for none
 * @fail_error: negative errno that call returns
 * @fail_after: mappings the first failing unmap removes first
 * @fail_repeat: failures after the first
 * @fail_left: failures still to hand out, from call @fail_at on, to
 *	calls that reach a mapping
 * @fail_first: the next failure is the first
 * @fail_flags: VSHADOW_MOCK_FAIL_READ_FIRST or 0
 */
struct vshadow_mock {
	struct mutex lock; /* see above */
	struct list_head mappings;
	u64 nr_mappings;
	bool tracking;
	u64 pgsize;
	u64 dirty_bitmap_max;
	u64 calls;
	u64 fail_at;
	int fail_error;
	u32 fail_after;
	u32 fail_repeat;
	u32 fail_left;
	bool fail_first;
	u32 fail_flags;
};

/* One mapping; @dirty has a bit per VSHADOW_MOCK_PGSIZE, whatever @pgsize. */
struct vshadow_mock_map {
	struct list_head link;
	u64 iova;
	u64 last;
	unsigned long *dirty;
};

static const struct file_operations vshadow_mock_fops;

static u64 vshadow_mock_pages(struct vshadow_mock_map *map)
{
	return (map->last - map->iova + 1) / VSHADOW_MOCK_PGSIZE;
}

/*
 * Count a backend call; the errno it is to fail with once it reaches a
 * mapping, or 0.  *@after is how many mappings an unmap removes first
 * (the first failure only).  vshadow_mock_failed() spends the failure.
 */
static int vshadow_mock_inject(struct vshadow_mock *mock, u32 *after)
{
	lockdep_assert_held(&mock->lock);
	if (++mock->calls == mock->fail_at) {
		mock->fail_left = mock->fail_repeat + 1;
		mock->fail_first = true;
	}
	if (!mock->fail_left)
		return 0;
	*after = mock->fail_first ? mock->fail_after : 0;
	return mock->fail_error;
}

static void vshadow_mock_failed(struct vshadow_mock *mock)
{
	mock->fail_left--;
	mock->fail_first = false;
}

/*
 * Whether the failure @fail strikes a call with @bitmap before it looks at
 * any mapping (VSHADOW_MOCK_FAIL_READ_FIRST); if so, it is spent.
 */
static bool vshadow_mock_fails_first(struct vshadow_mock *mock, int fail,
				     const struct vshadow_bitmap *bitmap)
{
	if (!fail || !bitmap || mock->fail_first ||
	    !(mock->fail_flags & VSHADOW_MOCK_FAIL_READ_FIRST))
		return false;
	vshadow_mock_failed(mock);
	return true;
}

static void vshadow_mock_free(struct vshadow_mock_map *map)
{
	list_del(&map->link);
	bitmap_free(map->dirty);
	kfree(map);
}

static int vshadow_mock_attach(struct vshadow_chan *chan,
			       const struct viommu_shadow_attach *cmd,
			       const u32 *hwpts, void **priv)
{
	struct file *file = vshadow_chan_file(chan);

	if (cmd->backend_id || cmd->nr_dirty_hwpts || cmd->dirty_hwpts ||
	    file->f_op != &vshadow_mock_fops)
		return -EINVAL;
	*priv = file->private_data;
	return 0;
}

static int vshadow_mock_query(void *priv, struct vshadow_backend_caps *caps)
{
	struct vshadow_mock *mock = priv;

	mutex_lock(&mock->lock);
	caps->pgsize = mock->pgsize;
	caps->max_last = U64_MAX;
	caps->dirty_bitmap_max = mock->dirty_bitmap_max;
	mutex_unlock(&mock->lock);
	return 0;
}

/* Like type1, refuse what its current page size does not divide. */
static bool vshadow_mock_aligned(struct vshadow_mock *mock, u64 iova,
				 u64 length)
{
	return !((iova | length) & (mock->pgsize - 1));
}

static void vshadow_mock_detach(void *priv)
{
}

static int vshadow_mock_map(void *priv, u64 iova, u64 length, u64 vaddr, u32 prot)
{
	struct vshadow_mock *mock = priv;
	struct vshadow_mock_map *map, *pos;
	u64 last = iova + length - 1;
	int ret = 0;
	u32 after = 0;

	if (length / VSHADOW_MOCK_PGSIZE > VSHADOW_MOCK_MAX_PAGES)
		return -E2BIG;

	map = kzalloc(sizeof(*map), GFP_KERNEL_ACCOUNT);
	if (!map)
		return -ENOMEM;
	map->iova = iova;
	map->last = last;
	map->dirty = bitmap_zalloc(vshadow_mock_pages(map), GFP_KERNEL_ACCOUNT);
	if (!map->dirty) {
		kfree(map);
		return -ENOMEM;
	}

	mutex_lock(&mock->lock);
	ret = vshadow_mock_inject(mock, &after);
	if (ret) {
		vshadow_mock_failed(mock);
		goto err_unlock;
	}
	if (!vshadow_mock_aligned(mock, iova, length)) {
		ret = -EINVAL;
		goto err_unlock;
	}
	/* Insert in IOVA order: before the first mapping that ends after us. */
	list_for_each_entry(pos, &mock->mappings, link) {
		if (pos->last < iova)
			continue;
		if (pos->iova <= last) {
			ret = -EEXIST;
			goto err_unlock;
		}
		break;
	}
	list_add_tail(&map->link, &pos->link);
	mock->nr_mappings++;
	mutex_unlock(&mock->lock);
	return 0;

err_unlock:
	mutex_unlock(&mock->lock);
	bitmap_free(map->dirty);
	kfree(map);
	return ret;
}

static struct vshadow_mock_map *vshadow_mock_find(struct vshadow_mock *mock, u64 iova)
{
	struct vshadow_mock_map *map;

	list_for_each_entry(map, &mock->mappings, link)
		if (map->iova <= iova && iova <= map->last)
			return map;
	return NULL;
}

/* Whether page @i of @map, at the mock's current page size, is dirty. */
static bool vshadow_mock_dirty(struct vshadow_mock *mock,
			       struct vshadow_mock_map *map, u64 i)
{
	u64 ratio = mock->pgsize / VSHADOW_MOCK_PGSIZE;

	return find_next_bit(map->dirty, (i + 1) * ratio, i * ratio) <
	       (i + 1) * ratio;
}

/*
 * Store @map's dirty bits at the mock's current page size, where they go
 * in a bitmap that starts at @base: a page is dirty when any
 * VSHADOW_MOCK_PGSIZE page under it is.
 */
static int vshadow_mock_put_dirty(struct vshadow_mock *mock,
				  struct vshadow_mock_map *map, u64 base,
				  const struct vshadow_bitmap *bitmap)
{
	u64 nbits = (map->last - map->iova + 1) / mock->pgsize;
	u64 first = (map->iova - base) / mock->pgsize;
	u64 i, bit, word = 0, old;

	for (i = 0; i < nbits; i++) {
		bit = first + i;
		if (bitmap->kdata) {
			if (vshadow_mock_dirty(mock, map, i))
				bitmap->kdata[bit / 64] |= BIT_ULL(bit % 64);
			continue;
		}
		/*
		 * The caller's own bitmap, zeroed by the walk: OR each word
		 * in, as type1 does (an earlier mapping's bits may share it).
		 */
		if (vshadow_mock_dirty(mock, map, i))
			word |= BIT_ULL(bit % 64);
		if (bit % 64 == 63 || i == nbits - 1) {
			if (get_user(old, bitmap->data + bit / 64) ||
			    put_user(old | word, bitmap->data + bit / 64))
				return -EFAULT;
			word = 0;
		}
	}
	return 0;
}

/* Like type1 v2: does [iova, last] cut a mapping? */
static bool vshadow_mock_cuts(struct vshadow_mock *mock, u64 iova, u64 last)
{
	struct vshadow_mock_map *map;

	list_for_each_entry(map, &mock->mappings, link)
		if (map->last >= iova && map->iova <= last &&
		    (map->iova < iova || map->last > last))
			return true;
	return false;
}

/*
 * Like type1, unmap every mapping inside [iova, iova + length - 1] in IOVA
 * order, refusing a range that cuts one.  An injected failure strikes
 * after fail_after of them are gone, as type1's can.
 */
static int vshadow_mock_unmap(void *priv, u64 iova, u64 length,
			      const struct vshadow_bitmap *bitmap)
{
	struct vshadow_mock *mock = priv;
	struct vshadow_mock_map *map, *tmp;
	u64 last = iova + length - 1, gone = 0;
	int ret = 0, fail = 0;
	u32 after = 0;

	mutex_lock(&mock->lock);
	fail = vshadow_mock_inject(mock, &after);
	if (vshadow_mock_fails_first(mock, fail, bitmap)) {
		ret = fail;
		goto out_unlock;
	}
	if (!vshadow_mock_aligned(mock, iova, length)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	if (vshadow_mock_cuts(mock, iova, last)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	if (bitmap) {
		if (!mock->tracking) {
			ret = -ENODATA;
			goto out_unlock;
		}
		/* Like type1, which checks the size of one bit. */
		if (bitmap->pgsize != mock->pgsize ||
		    bitmap->bytes < DIV_ROUND_UP(length / mock->pgsize, 64) * 8 ||
		    bitmap->bytes > mock->dirty_bitmap_max) {
			ret = -EINVAL;
			goto out_unlock;
		}
		if (bitmap->kdata)
			memset(bitmap->kdata, 0, bitmap->bytes);
	}
	list_for_each_entry_safe(map, tmp, &mock->mappings, link) {
		if (map->last < iova)
			continue;
		if (map->iova > last)
			break;
		if (fail && gone == after) {
			vshadow_mock_failed(mock);
			ret = fail;
			goto out_unlock;
		}
		/*
		 * Like type1, whose write-back can fail after it acted, the
		 * mock unmaps whether or not the bits could be delivered.
		 */
		if (bitmap && vshadow_mock_put_dirty(mock, map, iova, bitmap))
			ret = VSHADOW_UNMAP_DIRTY_LOST;
		vshadow_mock_free(map);
		mock->nr_mappings--;
		gone++;
	}
	if (!gone)
		ret = VSHADOW_UNMAP_ABSENT;
out_unlock:
	mutex_unlock(&mock->lock);
	return ret;
}

/* Read and clear the dirty bits of the mappings inside the range. */
static int vshadow_mock_sync(void *priv, u64 iova, u64 length,
			     const struct vshadow_bitmap *bitmap, bool *cleared)
{
	struct vshadow_mock *mock = priv;
	struct vshadow_mock_map *map;
	u64 last = iova + length - 1, seen = 0;
	int ret = 0, fail;
	u32 after = 0;

	mutex_lock(&mock->lock);
	fail = vshadow_mock_inject(mock, &after);
	if (!vshadow_mock_aligned(mock, iova, length) ||
	    bitmap->pgsize != mock->pgsize ||
	    bitmap->bytes < DIV_ROUND_UP(length / mock->pgsize, 64) * 8 ||
	    bitmap->bytes > mock->dirty_bitmap_max) {
		ret = -EINVAL;
		goto out_unlock;
	}
	if (!mock->tracking) {
		ret = -ENODATA;
		goto out_unlock;
	}
	if (vshadow_mock_cuts(mock, iova, last)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	if (bitmap->kdata)
		memset(bitmap->kdata, 0, bitmap->bytes);
	list_for_each_entry(map, &mock->mappings, link) {
		if (map->last < iova)
			continue;
		if (map->iova > last)
			break;
		if (fail && seen == after) {
			vshadow_mock_failed(mock);
			ret = fail;
			break;
		}
		if (vshadow_mock_put_dirty(mock, map, iova, bitmap)) {
			ret = VSHADOW_UNMAP_DIRTY_LOST;
			break;
		}
		bitmap_zero(map->dirty, vshadow_mock_pages(map));
		seen++;
	}
	if (!ret && !seen)
		ret = VSHADOW_UNMAP_ABSENT;
	/* An injected failure strikes after @seen mappings were read. */
	*cleared = ret && seen;
out_unlock:
	mutex_unlock(&mock->lock);
	return ret;
}

static const struct vshadow_backend_ops vshadow_mock_ops = {
	.id = VSHADOW_MOCK_BACKEND,
	.name = "mock",
	.owner = THIS_MODULE,
	.attach = vshadow_mock_attach,
	.detach = vshadow_mock_detach,
	.query = vshadow_mock_query,
	.map = vshadow_mock_map,
	.unmap = vshadow_mock_unmap,
	.sync = vshadow_mock_sync,
};

static int vshadow_mock_set_dirty(struct vshadow_mock *mock, void __user *uarg)
{
	struct vshadow_mock_set_dirty cmd;
	struct vshadow_mock_map *map;
	u64 i, npages, iova, word = 0;
	int ret = 0;

	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	if (cmd.size != sizeof(cmd) || cmd.__reserved ||
	    cmd.iova % VSHADOW_MOCK_PGSIZE || cmd.length % VSHADOW_MOCK_PGSIZE)
		return -EINVAL;
	npages = cmd.length / VSHADOW_MOCK_PGSIZE;

	mutex_lock(&mock->lock);
	for (i = 0; i < npages; i++) {
		if (i % 64 == 0 &&
		    get_user(word, (u64 __user *)cmd.bitmap + i / 64)) {
			ret = -EFAULT;
			break;
		}
		if (!(word & BIT_ULL(i % 64)))
			continue;
		iova = cmd.iova + i * VSHADOW_MOCK_PGSIZE;
		map = vshadow_mock_find(mock, iova);
		if (!map) {
			ret = -ENOENT;
			break;
		}
		set_bit((iova - map->iova) / VSHADOW_MOCK_PGSIZE, map->dirty);
	}
	mutex_unlock(&mock->lock);
	return ret;
}

static int vshadow_mock_get_mappings(struct vshadow_mock *mock, void __user *uarg)
{
	struct vshadow_mock_get_mappings cmd;
	struct vshadow_mock_mapping out;
	struct vshadow_mock_map *map;
	u64 i = 0;
	int ret = 0;

	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	if (cmd.size != sizeof(cmd))
		return -EINVAL;

	mutex_lock(&mock->lock);
	list_for_each_entry(map, &mock->mappings, link) {
		if (i == cmd.nr)
			break;
		out.iova = map->iova;
		out.length = map->last - map->iova + 1;
		if (copy_to_user(u64_to_user_ptr(cmd.mappings) +
				 i * sizeof(out), &out, sizeof(out))) {
			ret = -EFAULT;
			break;
		}
		i++;
	}
	cmd.out_total = mock->nr_mappings;
	cmd.out_calls = mock->calls;
	mutex_unlock(&mock->lock);

	if (!ret && copy_to_user(uarg, &cmd, sizeof(cmd)))
		ret = -EFAULT;
	return ret;
}

static int vshadow_mock_set_caps(struct vshadow_mock *mock, void __user *uarg)
{
	struct vshadow_mock_set_caps cmd;

	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	if (cmd.size != sizeof(cmd) || cmd.__reserved ||
	    !is_power_of_2(cmd.pgsize) || cmd.pgsize < VSHADOW_MOCK_PGSIZE ||
	    cmd.pgsize > VSHADOW_MOCK_PGSIZE_MAX)
		return -EINVAL;
	mutex_lock(&mock->lock);
	mock->pgsize = cmd.pgsize;
	mock->dirty_bitmap_max = cmd.dirty_bitmap_max;
	mutex_unlock(&mock->lock);
	return 0;
}

static long vshadow_mock_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct vshadow_mock *mock = filp->private_data;
	void __user *uarg = (void __user *)arg;
	struct vshadow_mock_fail_nth fail;
	struct vshadow_mock_tracking trk;

	switch (cmd) {
	case VSHADOW_MOCK_SET_DIRTY:
		return vshadow_mock_set_dirty(mock, uarg);
	case VSHADOW_MOCK_GET_MAPPINGS:
		return vshadow_mock_get_mappings(mock, uarg);
	case VSHADOW_MOCK_SET_CAPS:
		return vshadow_mock_set_caps(mock, uarg);
	case VSHADOW_MOCK_FAIL_NTH:
		if (copy_from_user(&fail, uarg, sizeof(fail)))
			return -EFAULT;
		if (fail.size != sizeof(fail) ||
		    fail.flags & ~VSHADOW_MOCK_FAIL_READ_FIRST ||
		    fail.error <= 0 || fail.error > MAX_ERRNO)
			return -EINVAL;
		mutex_lock(&mock->lock);
		mock->fail_at = fail.nth ? mock->calls + fail.nth : 0;
		mock->fail_error = -fail.error;
		mock->fail_after = fail.after;
		mock->fail_repeat = fail.repeat;
		mock->fail_flags = fail.flags;
		mock->fail_left = 0;
		mutex_unlock(&mock->lock);
		return 0;
	case VSHADOW_MOCK_TRACKING:
		if (copy_from_user(&trk, uarg, sizeof(trk)))
			return -EFAULT;
		if (trk.size != sizeof(trk) || trk.enable > 1)
			return -EINVAL;
		mutex_lock(&mock->lock);
		mock->tracking = trk.enable;
		mutex_unlock(&mock->lock);
		return 0;
	}
	return -ENOTTY;
}

static int vshadow_mock_open(struct inode *inode, struct file *filp)
{
	struct vshadow_mock *mock;

	mock = kzalloc(sizeof(*mock), GFP_KERNEL_ACCOUNT);
	if (!mock)
		return -ENOMEM;
	mutex_init(&mock->lock);
	INIT_LIST_HEAD(&mock->mappings);
	mock->pgsize = VSHADOW_MOCK_PGSIZE;
	mock->dirty_bitmap_max = VSHADOW_MOCK_MAX_PAGES / 8;
	filp->private_data = mock;
	return 0;
}

static int vshadow_mock_release(struct inode *inode, struct file *filp)
{
	struct vshadow_mock *mock = filp->private_data;
	struct vshadow_mock_map *map, *tmp;

	/* up to 65535 of them: under KASAN that takes long enough to yield */
	list_for_each_entry_safe(map, tmp, &mock->mappings, link) {
		vshadow_mock_free(map);
		cond_resched();
	}
	mutex_destroy(&mock->lock);
	kfree(mock);
	return 0;
}

static const struct file_operations vshadow_mock_fops = {
	.owner = THIS_MODULE,
	.open = vshadow_mock_open,
	.release = vshadow_mock_release,
	.unlocked_ioctl = vshadow_mock_ioctl,
};

static struct miscdevice vshadow_mock_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "viommu_shadow_mock",
	.fops = &vshadow_mock_fops,
	.mode = 0600,
};

static int __init vshadow_mock_init(void)
{
	int ret;

	ret = vshadow_backend_register(&vshadow_mock_ops);
	if (ret)
		return ret;
	ret = misc_register(&vshadow_mock_misc);
	if (ret)
		vshadow_backend_unregister(&vshadow_mock_ops);
	return ret;
}

static void __exit vshadow_mock_exit(void)
{
	misc_deregister(&vshadow_mock_misc);
	vshadow_backend_unregister(&vshadow_mock_ops);
}

module_init(vshadow_mock_init);
module_exit(vshadow_mock_exit);

MODULE_DESCRIPTION("viommu_shadow test-only mock backend");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(VSHADOW_NS);
