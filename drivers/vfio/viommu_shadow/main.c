// SPDX-License-Identifier: GPL-2.0
/*
 * viommu_shadow: shadow DMA mappings over a VFIO container, with a range
 * unmap that visits only live mappings and returns each one's dirty bits.
 *
 * This file owns the character device, the per-open context's life
 * (open, ATTACH, release; its registration is registry.c's, and what a
 * backend call's answer makes of it is backend.c's) and the ioctl
 * dispatch: one table keyed by ioctl number, each entry with its struct's
 * first-version size, user structs copied with copy_struct_from_user() so
 * older and newer callers both work.
 *
 * /dev/viommu_shadow is world-usable (0666), like /dev/vfio/vfio: a context
 * grants nothing by itself.  Every action goes through a VFIO container fd
 * the caller already holds, and is checked and accounted as the caller's
 * own ioctl on that container would be.
 */
#include <linux/cred.h>
#include <linux/debugfs.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/random.h>
#include <linux/sched/mm.h>
#include <linux/siphash.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <net/genetlink.h>

#include <linux/viommu_shadow.h>
#include "vshadow.h"

static struct dentry *vshadow_debugfs;

/* Keys vshadow_ctx::container_id; random per boot. */
static siphash_key_t vshadow_container_key;

/*
 * How many mappings one context may hold: each costs a shadow node (56
 * bytes, charged to the caller), so the caller cannot make the module
 * allocate without bound.  The default is type1's own default
 * dma_entry_limit.
 */
static unsigned int max_mappings = 65535;
module_param(max_mappings, uint, 0644);
MODULE_PARM_DESC(max_mappings,
		 "Shadow mappings one context may hold; read when it is opened (default 65535)");

static int vshadow_open(struct inode *inode, struct file *filp)
{
	struct vshadow_ctx *ctx;
	int ret;

	if (vshadow_fail(VSHADOW_FAULT_ALLOC))
		return -ENOMEM;
	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL_ACCOUNT);
	if (!ctx)
		return -ENOMEM;
	refcount_set(&ctx->users, 1);
	mutex_init(&ctx->lock);
	spin_lock_init(&ctx->hwpts_lock);
	ctx->tree = RB_ROOT_CACHED;
	ctx->gen = 1;
	ctx->max_mappings = READ_ONCE(max_mappings);

	/* Published last: lookups may find it from here on. */
	ret = vshadow_fail(VSHADOW_FAULT_ALLOC) ? -ENOMEM :
	      vshadow_ctx_register(ctx);
	if (ret) {
		mutex_destroy(&ctx->lock);
		kfree(ctx);
		return ret;
	}
	filp->private_data = ctx;
	return 0;
}

/*
 * CTX_DEL goes out first, with what the context held, and before its id
 * can be given again.  Netlink may still hold a reference after: it only
 * reads the fields that stay (the counters, the owner) and finds the tree
 * gone (@dead).
 */
static int vshadow_release(struct inode *inode, struct file *filp)
{
	struct vshadow_ctx *ctx = filp->private_data;

	mutex_lock(&ctx->lock);
	if (ctx->ops)
		vshadow_nl_ctx_event(ctx, VIOMMU_SHADOW_NL_CMD_CTX_DEL);
	ctx->dead = true;
	vshadow_tree_destroy(ctx);
	mutex_unlock(&ctx->lock);
	vshadow_ctx_unregister(ctx);
	if (ctx->ops) {
		ctx->ops->detach(ctx->backend);
		fput(ctx->file);
		mmdrop(ctx->mm);
		vshadow_backend_put(ctx->ops);
	}
	kfree(ctx->run_bits);
	kvfree(ctx->run_nodes);
	vshadow_log_free(ctx);
	vshadow_ctx_put(ctx);
	return 0;
}

/*
 * Copy a list of HWPT ids (ATTACH's, SET_HWPTS') in once, so that the
 * backend and netlink see the same list: at most
 * VIOMMU_SHADOW_DIRTY_HWPTS_MAX, and no pointer without entries.
 */
static int vshadow_copy_hwpts(u32 *hwpts, u32 nr, u64 uptr)
{
	if (nr > VIOMMU_SHADOW_DIRTY_HWPTS_MAX || (!nr && uptr))
		return -EINVAL;
	if (nr && (vshadow_fail(VSHADOW_FAULT_COPY) ||
		   copy_from_user(hwpts, u64_to_user_ptr(uptr),
				  nr * sizeof(*hwpts))))
		return -EFAULT;
	return 0;
}

/* Publish the list the backend now reads, for netlink. */
static void vshadow_publish_hwpts(struct vshadow_ctx *ctx, const u32 *hwpts,
				  u32 nr)
{
	lockdep_assert_held(&ctx->lock);
	spin_lock(&ctx->hwpts_lock);
	memcpy(ctx->hwpts, hwpts, nr * sizeof(*hwpts));
	ctx->nr_hwpts = nr;
	spin_unlock(&ctx->hwpts_lock);
}

static int vshadow_attach(struct vshadow_ctx *ctx, struct vshadow_ucmd *ucmd)
{
	struct viommu_shadow_attach *cmd = ucmd->cmd;
	u32 hwpts[VIOMMU_SHADOW_DIRTY_HWPTS_MAX];
	const struct vshadow_backend_ops *ops;
	struct file *file;
	int ret;

	if (cmd->flags)
		return -EOPNOTSUPP;
	ret = vshadow_copy_hwpts(hwpts, cmd->nr_dirty_hwpts, cmd->dirty_hwpts);
	if (ret)
		return ret;

	if (mutex_lock_killable(&ctx->lock))
		return -EINTR;
	if (ctx->ops) {
		ret = -EBUSY;
		goto out_unlock;
	}

	ops = vshadow_backend_get(cmd->backend);
	if (!ops) {
		ret = -EOPNOTSUPP;
		goto out_unlock;
	}

	file = fget(cmd->fd);
	if (!file) {
		ret = -EBADF;
		goto err_put_ops;
	}

	ctx->chan.file = file;
	ret = ops->attach(&ctx->chan, cmd, hwpts, &ctx->backend);
	if (ret)
		goto err_fput;
	/* Ask it what it is and can do; never inferred from the file. */
	ret = vshadow_call_query(ops, ctx->backend, &ctx->caps);
	if (ret == VSHADOW_BROKEN)
		ret = -EIO;
	if (ret)
		goto err_detach;

	ctx->file = file;
	ctx->mm = current->mm;
	mmgrab(ctx->mm);
	ctx->ops = ops;

	/* What netlink shows of it, fixed from now on. */
	ctx->owner = get_pid(task_tgid(current));
	get_task_comm(ctx->owner_comm, current);
	ctx->owner_uid = current_uid();
	ctx->backend_kind = ops->id;
	ctx->backend_id = cmd->backend_id;
	ctx->container_fd = cmd->fd;
	ctx->container_id = siphash_1u64((unsigned long)file,
					 &vshadow_container_key);
	vshadow_publish_hwpts(ctx, hwpts, cmd->nr_dirty_hwpts);
	/* pairs with netlink's smp_load_acquire(): the fields above first */
	smp_store_release(&ctx->attached, true);
	vshadow_nl_ctx_event(ctx, VIOMMU_SHADOW_NL_CMD_CTX_NEW);
	mutex_unlock(&ctx->lock);
	return 0;

err_detach:
	ops->detach(ctx->backend);
	ctx->backend = NULL;
	memset(&ctx->caps, 0, sizeof(ctx->caps));
err_fput:
	ctx->chan.file = NULL;
	fput(file);
err_put_ops:
	vshadow_backend_put(ops);
out_unlock:
	mutex_unlock(&ctx->lock);
	return ret;
}

/*
 * Nothing of the context but the HWPT list (and what the backend says it
 * can do with it) changes, and only when the backend took the whole new
 * list: a refusal leaves the context as it was, unbroken.  Only a
 * backend out of reach breaks it, as for every call.
 */
static int vshadow_set_hwpts(struct vshadow_ctx *ctx,
			     struct vshadow_ucmd *ucmd)
{
	struct viommu_shadow_set_hwpts *cmd = ucmd->cmd;
	u32 hwpts[VIOMMU_SHADOW_DIRTY_HWPTS_MAX];
	struct vshadow_backend_caps caps = {};
	int ret;

	if (cmd->flags)
		return -EOPNOTSUPP;
	if (cmd->__reserved)
		return -EINVAL;
	ret = vshadow_copy_hwpts(hwpts, cmd->nr_dirty_hwpts, cmd->dirty_hwpts);
	if (ret)
		return ret;

	if (mutex_lock_killable(&ctx->lock))
		return -EINTR;
	ret = vshadow_check_caller(ctx);
	if (ret)
		goto out_unlock;
	if (!ctx->ops->set_hwpts) {
		ret = -EOPNOTSUPP;
		goto out_unlock;
	}
	ret = vshadow_call_set_hwpts(ctx, hwpts, cmd->nr_dirty_hwpts, &caps);
	/*
	 * The backend is out of reach (the caller unmapped a page of the
	 * context's) or answered nonsense: as for any call, the context
	 * breaks.  The old list stands, for what it is worth then.
	 */
	if (ret == VSHADOW_BROKEN)
		ret = vshadow_backend_result(ctx, ret);
	if (ret)
		goto out_unlock;
	ctx->caps.max_last = caps.max_last;
	ctx->caps.dirty_bitmap_max = caps.dirty_bitmap_max;
	/* read by netlink without the lock */
	WRITE_ONCE(ctx->caps.pgsize, caps.pgsize);
	vshadow_publish_hwpts(ctx, hwpts, cmd->nr_dirty_hwpts);
out_unlock:
	mutex_unlock(&ctx->lock);
	return ret;
}

static int vshadow_get_info(struct vshadow_ctx *ctx, struct vshadow_ucmd *ucmd)
{
	struct viommu_shadow_info *cmd = ucmd->cmd;

	if (cmd->flags)
		return -EOPNOTSUPP;
	if (cmd->__reserved)
		return -EINVAL;

	if (mutex_lock_killable(&ctx->lock))
		return -EINTR;
	cmd->version = VIOMMU_SHADOW_API_VERSION;
	cmd->backend = ctx->ops ? ctx->ops->id : VIOMMU_SHADOW_BACKEND_NONE;
	cmd->features = VIOMMU_SHADOW_FEATURE_MAP |
			VIOMMU_SHADOW_FEATURE_UNMAP_RANGE;
	if (ctx->caps.dirty_bitmap_max)
		cmd->features |= VIOMMU_SHADOW_FEATURE_DIRTY;
	if (ctx->caps.dirty_bitmap_max && vshadow_log_supported())
		cmd->features |= VIOMMU_SHADOW_FEATURE_DIRTY_LOG;
	if (ctx->ops && ctx->ops->set_hwpts)
		cmd->features |= VIOMMU_SHADOW_FEATURE_SET_HWPTS;
	cmd->pgsize = ctx->caps.pgsize;
	cmd->nr_mappings = ctx->nr_mappings;
	cmd->mapped_bytes = ctx->mapped_bytes;
	cmd->high_water = ctx->high_water;
	cmd->nr_maps = ctx->nr_maps;
	cmd->nr_unmaps = ctx->nr_unmaps;
	cmd->nr_clamped = ctx->nr_clamped;
	cmd->nr_bisect_refused = ctx->nr_bisect_refused;
	cmd->mappings_avail = ctx->max_mappings - ctx->nr_mappings;
	cmd->out_flags = ctx->broken ? VIOMMU_SHADOW_INFO_OUT_BROKEN : 0;
	mutex_unlock(&ctx->lock);

	return vshadow_ucmd_respond(ucmd, sizeof(*cmd));
}

union vshadow_cmd_buffer {
	struct viommu_shadow_attach attach;
	struct viommu_shadow_info info;
	struct viommu_shadow_map map;
	struct viommu_shadow_unmap_range unmap_range;
	struct viommu_shadow_map_batch map_batch;
	struct viommu_shadow_unmap_batch unmap_batch;
	struct viommu_shadow_set_hwpts set_hwpts;
};

struct vshadow_ioctl_op {
	unsigned int size;
	unsigned int min_size;
	unsigned int ioctl_num;
	int (*execute)(struct vshadow_ctx *ctx, struct vshadow_ucmd *ucmd);
};

#define IOCTL_OP(_name, _fn, _struct, _last)                               \
	[VIOMMU_SHADOW_CMD_##_name - VIOMMU_SHADOW_BASE] = {               \
		.size = sizeof(_struct) +                                  \
			BUILD_BUG_ON_ZERO(sizeof(union vshadow_cmd_buffer) < \
					  sizeof(_struct)),                \
		.min_size = offsetofend(_struct, _last),                   \
		.ioctl_num = VIOMMU_SHADOW_##_name,                        \
		.execute = _fn,                                            \
	}

static const struct vshadow_ioctl_op vshadow_ioctl_ops[] = {
	IOCTL_OP(ATTACH, vshadow_attach, struct viommu_shadow_attach, fd),
	IOCTL_OP(GET_INFO, vshadow_get_info, struct viommu_shadow_info,
		 nr_bisect_refused),
	IOCTL_OP(MAP, vshadow_map, struct viommu_shadow_map, cookie),
	IOCTL_OP(UNMAP_RANGE, vshadow_unmap_range,
		 struct viommu_shadow_unmap_range, out_bytes),
	IOCTL_OP(SYNC_DIRTY, vshadow_sync_dirty,
		 struct viommu_shadow_unmap_range, out_bytes),
	IOCTL_OP(MAP_BATCH, vshadow_map_batch, struct viommu_shadow_map_batch,
		 out_done),
	IOCTL_OP(UNMAP_BATCH, vshadow_unmap_batch,
		 struct viommu_shadow_unmap_batch, out_bytes),
	IOCTL_OP(SET_HWPTS, vshadow_set_hwpts, struct viommu_shadow_set_hwpts,
		 dirty_hwpts),
};

static long vshadow_ioctl(struct file *filp, unsigned int cmd,
			  unsigned long arg)
{
	struct vshadow_ctx *ctx = filp->private_data;
	const struct vshadow_ioctl_op *op;
	union vshadow_cmd_buffer buf;
	struct vshadow_ucmd ucmd = { .ubuffer = (void __user *)arg };
	unsigned int nr = _IOC_NR(cmd);
	int ret;

	if (nr < VIOMMU_SHADOW_BASE ||
	    nr - VIOMMU_SHADOW_BASE >= ARRAY_SIZE(vshadow_ioctl_ops))
		return -ENOTTY;
	op = &vshadow_ioctl_ops[nr - VIOMMU_SHADOW_BASE];
	if (op->ioctl_num != cmd)
		return -ENOTTY;

	if (vshadow_fail(VSHADOW_FAULT_COPY))
		return -EFAULT;
	ret = get_user(ucmd.user_size, (u32 __user *)ucmd.ubuffer);
	if (ret)
		return ret;
	if (ucmd.user_size < op->min_size)
		return -EINVAL;

	ucmd.cmd = &buf;
	ret = copy_struct_from_user(ucmd.cmd, op->size, ucmd.ubuffer,
				    ucmd.user_size);
	if (ret)
		return ret;
	ret = op->execute(ctx, &ucmd);
	/* A backend's outcome (VSHADOW_BROKEN, ...) is never an answer. */
	if (WARN_ON_ONCE(ret > 0))
		ret = -EIO;
	return ret;
}

static const struct file_operations vshadow_fops = {
	.owner = THIS_MODULE,
	.open = vshadow_open,
	.release = vshadow_release,
	.unlocked_ioctl = vshadow_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

/*
 * A fixed minor from the range Documentation/admin-guide/devices.txt keeps
 * for local use (misc 243-254), with the devname alias below: depmod then
 * lists the node in modules.devname, "kmod static-nodes" creates it at
 * boot, and opening it loads the module.  If another local driver holds
 * the minor, the module does not load: a dynamic minor would leave that
 * static node, and the udev rule's mode, on the other driver's device.
 */
#define VSHADOW_MINOR	247

static struct miscdevice vshadow_misc = {
	.minor = VSHADOW_MINOR,
	.name = "viommu_shadow",
	.fops = &vshadow_fops,
	.mode = 0666,
};

static int vshadow_objects_show(struct seq_file *m, void *unused)
{
	seq_printf(m, "contexts %ld\nnodes %ld\n",
		   vshadow_ctx_count(), vshadow_live_nodes());
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vshadow_objects);

static int __init vshadow_init(void)
{
	int ret;

	get_random_bytes(&vshadow_container_key,
			 sizeof(vshadow_container_key));
	ret = vshadow_tree_init();
	if (ret)
		return ret;
	ret = vshadow_nl_init();
	if (ret)
		goto err_tree;
	ret = misc_register(&vshadow_misc);
	if (ret == -EBUSY)
		pr_err("viommu_shadow: misc minor %d is held by another driver\n",
		       VSHADOW_MINOR);
	if (ret)
		goto err_nl;
	vshadow_debugfs = debugfs_create_dir("viommu_shadow", NULL);
	debugfs_create_file("objects", 0444, vshadow_debugfs, NULL,
			    &vshadow_objects_fops);
	vshadow_inject_init(vshadow_debugfs);
	return 0;

err_nl:
	vshadow_nl_exit();
err_tree:
	vshadow_tree_exit();
	return ret;
}

static void __exit vshadow_exit(void)
{
	debugfs_remove_recursive(vshadow_debugfs);
	misc_deregister(&vshadow_misc);
	vshadow_nl_exit();
	/* Every context held a module reference; none can be left. */
	WARN_ON(vshadow_ctx_count() || vshadow_live_nodes());
	vshadow_tree_exit();
}

module_init(vshadow_init);
module_exit(vshadow_exit);

MODULE_DESCRIPTION("Shadow DMA mappings and dirty-exact range unmap for VFIO");
MODULE_LICENSE("GPL");
MODULE_VERSION(VSHADOW_VERSION);
/* Loaded on first use: by its device node, or by its netlink family. */
MODULE_ALIAS_MISCDEV(VSHADOW_MINOR);
MODULE_ALIAS("devname:viommu_shadow");
MODULE_ALIAS_GENL_FAMILY(VIOMMU_SHADOW_GENL_NAME);
