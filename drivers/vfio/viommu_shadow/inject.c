// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection for the reliability sweeps, built only into the test
 * build of the module (make check's VSHADOW_MOCK=1, which defines
 * VSHADOW_FAULT_INJECT); the shipped module has none of it.
 *
 * Every place where the module allocates, touches user memory or calls
 * into a container is a fault point (vshadow_fail() in vshadow.h says the
 * kinds).  A test arms the injector for its own thread by writing N to
 * /sys/kernel/debug/viommu_shadow/fail_nth: the Nth fault point that
 * thread reaches from then on fails, once, as that point documents, and
 * the injector disarms.  Reading the file gives what is left to count
 * (0 once the point has failed) and which point failed:
 *
 *	<left> <kind> <function>
 *
 * so a sweep arms 1, 2, 3, ... around a whole sequence of calls until a
 * run ends with the count not reached: every point has failed once.
 * Like the kernel's own /proc/thread-self/fail-nth, but it works on the
 * Debian kernels too (they have no CONFIG_FAULT_INJECTION) and fails only
 * the module's own points.
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/kstrtox.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>

#include "vshadow.h"

static const char * const vshadow_fault_names[] = {
	[VSHADOW_FAULT_ALLOC] = "alloc",
	[VSHADOW_FAULT_COPY] = "copy",
	[VSHADOW_FAULT_CALL] = "call",
	[VSHADOW_FAULT_ANSWER] = "answer",
	[VSHADOW_FAULT_HOLE] = "hole",
	[VSHADOW_FAULT_ENOENT] = "enoent",
	[VSHADOW_FAULT_CUT] = "cut",
};

/* Protects the fields below; fault points take it alone, never sleeping. */
static DEFINE_SPINLOCK(vshadow_inject_lock);
/* The armed thread (its pid in the initial namespace), 0 when disarmed. */
static pid_t vshadow_inject_tid;
/* Fault points the armed thread still passes before one fails. */
static unsigned int vshadow_inject_left;
/* The point that failed last: its kind and its function. */
static enum vshadow_fault vshadow_inject_kind;
static const char *vshadow_inject_site;

bool __vshadow_fail(enum vshadow_fault kind, const char *site)
{
	unsigned long flags;
	bool fail = false;

	/* Unlocked peek: the fast answer for every thread but the armed one. */
	if (READ_ONCE(vshadow_inject_tid) != task_pid_nr(current))
		return false;
	spin_lock_irqsave(&vshadow_inject_lock, flags);
	if (vshadow_inject_tid == task_pid_nr(current) &&
	    !--vshadow_inject_left) {
		vshadow_inject_tid = 0;
		vshadow_inject_kind = kind;
		vshadow_inject_site = site;
		fail = true;
	}
	spin_unlock_irqrestore(&vshadow_inject_lock, flags);
	return fail;
}
EXPORT_SYMBOL_NS_GPL(__vshadow_fail, VSHADOW_NS);

static int vshadow_fail_nth_show(struct seq_file *m, void *unused)
{
	unsigned int left;
	const char *site;
	enum vshadow_fault kind;

	spin_lock_irq(&vshadow_inject_lock);
	left = vshadow_inject_tid ? vshadow_inject_left : 0;
	kind = vshadow_inject_kind;
	site = vshadow_inject_site;
	spin_unlock_irq(&vshadow_inject_lock);
	seq_printf(m, "%u %s %s\n", left,
		   site ? vshadow_fault_names[kind] : "-", site ?: "-");
	return 0;
}

/* Write N to arm for the writing thread (N counts from 1), 0 to disarm. */
static ssize_t vshadow_fail_nth_write(struct file *file,
				      const char __user *ubuf, size_t len,
				      loff_t *ppos)
{
	unsigned int nth;
	int ret;

	ret = kstrtouint_from_user(ubuf, len, 0, &nth);
	if (ret)
		return ret;
	spin_lock_irq(&vshadow_inject_lock);
	vshadow_inject_tid = nth ? task_pid_nr(current) : 0;
	vshadow_inject_left = nth;
	vshadow_inject_site = NULL;
	spin_unlock_irq(&vshadow_inject_lock);
	return len;
}

static int vshadow_fail_nth_open(struct inode *inode, struct file *file)
{
	return single_open(file, vshadow_fail_nth_show, NULL);
}

static const struct file_operations vshadow_fail_nth_fops = {
	.owner = THIS_MODULE,
	.open = vshadow_fail_nth_open,
	.read = seq_read,
	.write = vshadow_fail_nth_write,
	.llseek = seq_lseek,
	.release = single_release,
};

void vshadow_inject_init(struct dentry *dir)
{
	debugfs_create_file("fail_nth", 0600, dir, NULL,
			    &vshadow_fail_nth_fops);
}
