/* SPDX-License-Identifier: GPL-2.0 */
/*
 * viommu_shadow private definitions: the per-open context, the shadow tree
 * of mappings and the backend ops table.
 *
 * Lock order: vshadow_ctx::lock, then whatever the backend takes (for type1:
 * the container's locks and mmap_lock of the caller; ATTACH maps the
 * argument page, taking mmap_lock, under vshadow_ctx::lock too).  A
 * backend can fault the argument page while it holds its own lock (type1
 * copies its answer back, and writes dirty bits, under iommu->lock): that
 * is safe because the fault handler of the argument page (forward.c), like
 * its mmap and other vm_operations, takes no lock of its own and never
 * vshadow_ctx::lock.  Nothing calls back into viommu_shadow while holding
 * a backend lock.
 */
#ifndef _VIOMMU_SHADOW_PRIV_H
#define _VIOMMU_SHADOW_PRIV_H

#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uaccess.h>
#include <linux/uidgid.h>
#include <linux/viommu_shadow.h>

struct file;
struct mm_struct;
struct module;

/*
 * What the module exports to its backend modules is in its own symbol
 * namespace, which they import.  6.13 turned the namespace argument of
 * EXPORT_SYMBOL_NS_GPL() and MODULE_IMPORT_NS() into a string literal;
 * Kbuild probes which form the kernel's headers take (probe-ns.sh).
 */
#ifdef VSHADOW_NS_IDENT
#define VSHADOW_NS		VIOMMU_SHADOW
#define VSHADOW_IOMMUFD_NS	IOMMUFD
#else
#define VSHADOW_NS		"VIOMMU_SHADOW"
#define VSHADOW_IOMMUFD_NS	"IOMMUFD"
#endif

/**
 * struct vshadow_chan - the one file a backend may call: the file the
 *	context attached (ATTACH's fd)
 * @file: that file, referenced by the context for its whole life
 *
 * A backend gets it at ->attach, checks with vshadow_chan_file() that the
 * file is its kind, and calls it only through argument pages made for it
 * (vshadow_argpage_create(), vshadow_forward_args()).  Nothing exported
 * calls any other file.
 */
struct vshadow_chan {
	struct file *file;
};

static inline struct file *vshadow_chan_file(const struct vshadow_chan *chan)
{
	return chan->file;
}

/**
 * struct vshadow_backend_caps - what a backend says it is and can do
 * @pgsize: its smallest IOVA page size: the unit of alignment for map and
 *	unmap, and of one dirty bit
 * @max_last: the highest last IOVA it can both map and unmap
 * @dirty_bitmap_max: the largest dirty bitmap, in bytes, one unmap can
 *	return; 0 when the backend cannot track dirty pages at all
 */
struct vshadow_backend_caps {
	u64 pgsize;
	u64 max_last;
	u64 dirty_bitmap_max;
};

/*
 * What a backend's map or unmap returns besides 0 and an errno, each with
 * exactly one meaning:
 *
 * VSHADOW_BROKEN: the backend's answer does not fit the request (type1
 * unmapped another length than the run's), or the backend could not be
 * reached at all (the process unmapped its argument page).  The context can
 * no longer know what the backend holds: it is marked broken.
 *
 * VSHADOW_UNMAP_DIRTY_LOST: the mapping is gone (for a sync: read), but
 * its dirty bits could not be stored in the caller's bitmap (the caller
 * made it unwritable during the call).  Only with struct
 * vshadow_bitmap::data.
 *
 * VSHADOW_UNMAP_ABSENT (unmap only): the backend held none of the range.
 * For a mapping the context made, that breaks the context, unless the
 * context is finding out what a failed run unmap removed.
 */
#define VSHADOW_UNMAP_DIRTY_LOST	1
#define VSHADOW_BROKEN			2
#define VSHADOW_UNMAP_ABSENT		3

/*
 * The largest dirty bitmap of one run unmap, kept in kernel memory
 * (struct vshadow_bitmap::kdata): 32768 pages, 128 MiB of 4 KiB pages.
 */
#define VSHADOW_RUN_BYTES	4096
/* Mappings in one run at most, so that one backend call stays short. */
#define VSHADOW_RUN_MAX		4096

/* @n (1 to 64) bits of @src from bit @bit. */
static inline u64 vshadow_get_bits(const u64 *src, u64 bit, unsigned int n)
{
	unsigned int shift = bit % 64;
	u64 val = src[bit / 64] >> shift;

	if (shift && shift + n > 64)
		val |= src[bit / 64 + 1] << (64 - shift);
	return n == 64 ? val : val & GENMASK_ULL(n - 1, 0);
}

/* Log pages a walk holds pinned at most: log.c keeps them in 8 KiB. */
#define VSHADOW_LOG_PINS	511

struct vshadow_log_pins;

/**
 * struct vshadow_log - the dirty log of one walk (log.c)
 * @words: the caller's log
 * @base: the cookie of its bit 0
 * @pages: its bits
 * @shift: log2 of the page size of one bit
 * @pins: the pages pinned (the context's array)
 */
struct vshadow_log {
	u64 __user *words;
	u64 base;
	u64 pages;
	unsigned int shift;
	struct vshadow_log_pins *pins;
};

/**
 * struct vshadow_bitmap - where a backend stores dirty bits
 * @kdata: a kernel buffer of at most VSHADOW_RUN_BYTES, or NULL
 * @data: else the caller's bitmap, from the word where the call's first
 *	page goes, zeroed (and so faulted in) by the walk already: for one
 *	mapping whose bits do not fit @kdata, or a sync's run whose bits
 *	start a word of the dense layout (the run's bits are then exactly
 *	what the caller gets)
 * @bytes: the buffer's size for this call, at most the backend's
 *	dirty_bitmap_max: whole __u64 words, one bit per page from the
 *	start of the call's range, the first page in bit 0 of word 0
 * @pgsize: the page size of one bit: the backend's as the context last
 *	learned it; a backend whose page size has changed since refuses the
 *	call with -EINVAL
 */
struct vshadow_bitmap {
	u64 *kdata;
	u64 __user *data;
	u64 bytes;
	u64 pgsize;
};

/**
 * struct vshadow_backend_ops - what a context forwards to
 * @id: enum viommu_shadow_backend value userspace names it by
 * @name: for messages
 * @owner: module providing the ops; pinned while a context uses them
 * @attach: check that @chan's file is this backend's kind of file and set
 *	it up as ATTACH's @cmd says (its backend_id, and the HWPTs @hwpts,
 *	the @cmd->nr_dirty_hwpts ids the core copied from @cmd->dirty_hwpts:
 *	a backend that has none refuses any but 0 with -EINVAL), in the
 *	context of the attaching process; on success return its private
 *	data in @priv.  @chan stays valid until @detach.
 * @detach: undo @attach; may run in any process, or none
 * @query: ask the backend what it is and can do now; at ATTACH, and again
 *	whenever a map or unmap answers -EINVAL (its page size may have
 *	changed).  -ENODEV: it lost its IOMMU (type1: the container's last
 *	group left), and every mapping with it.
 * @map: map [@iova, @iova + @length - 1] to @vaddr with @prot
 *	(VIOMMU_SHADOW_MAP_READ/WRITE); all or nothing: 0 when mapped,
 *	an errno when nothing was, or VSHADOW_BROKEN
 * @unmap: unmap the run [@iova, @iova + @length - 1]: one or more
 *	mappings the context made, back to back, each whole.  With @bitmap,
 *	first store their dirty bits there.  Returns 0 only when the
 *	backend no longer has any of them and their bits (if asked for) are
 *	stored; VSHADOW_UNMAP_DIRTY_LOST when it is gone but the bits are
 *	not; VSHADOW_UNMAP_ABSENT; VSHADOW_BROKEN; -ENODEV as for @query.
 *	Any other errno: for one mapping, the backend still has it whole;
 *	for a run, it may have removed some first mappings of the run, in
 *	IOVA order, with their bits stored, and still has the rest whole.
 *	-ENODATA (dirty tracking is not running) and -EINVAL (the request
 *	does not fit the backend, as when its page size changed) mean that
 *	nothing was done: a backend checks both before it unmaps anything.
 * @sync: store the dirty bits of the run [@iova, @iova + @length - 1]
 *	in @bitmap and clear them in the backend, without unmapping; 0, or
 *	VSHADOW_UNMAP_DIRTY_LOST, VSHADOW_UNMAP_ABSENT, VSHADOW_BROKEN and
 *	-ENODEV as for @unmap; -ENODATA when tracking is not running; or
 *	another errno.  On failure, *@cleared (false on entry) says whether
 *	it may have read, and so cleared, some of the bits first: they are
 *	then reported lost.  The errno itself says nothing about that.
 * @set_hwpts: optional: replace the HWPTs dirty bits are read from with
 *	the @nr of @hwpts, checked as at @attach, and say what the backend
 *	then is in @caps, as @query does.  All or nothing: on any error the
 *	backend reads the HWPTs it read before.  0, an errno, or
 *	VSHADOW_BROKEN as for @query (the caller's address space lost a
 *	page of the backend's, or its answer made no sense): the context
 *	then breaks.  Without it, the context refuses SET_HWPTS with
 *	-EOPNOTSUPP.
 *
 * Every call but @detach (made at release, when nothing else can use the
 * context) is made with vshadow_ctx::lock held, so a backend needs no
 * locking of its own for one context's state.
 */
struct vshadow_backend_ops {
	u32 id;
	const char *name;
	struct module *owner;
	int (*attach)(struct vshadow_chan *chan,
		      const struct viommu_shadow_attach *cmd, const u32 *hwpts,
		      void **priv);
	void (*detach)(void *priv);
	int (*query)(void *priv, struct vshadow_backend_caps *caps);
	int (*map)(void *priv, u64 iova, u64 length, u64 vaddr, u32 prot);
	int (*unmap)(void *priv, u64 iova, u64 length,
		     const struct vshadow_bitmap *bitmap);
	int (*sync)(void *priv, u64 iova, u64 length,
		    const struct vshadow_bitmap *bitmap, bool *cleared);
	int (*set_hwpts)(void *priv, const u32 *hwpts, u32 nr,
			 struct vshadow_backend_caps *caps);
};

/*
 * inject.c: a fault point, one of the module's places that can fail for a
 * reason of its own, where the reliability sweeps make it fail.  Each
 * point fails as the real failure would:
 *
 * VSHADOW_FAULT_ALLOC: an allocation of the module's (as -ENOMEM).
 * VSHADOW_FAULT_COPY: a copy to or from the caller's memory (as -EFAULT).
 * VSHADOW_FAULT_CALL: a call into a container, refused before it acts
 *	(as -ENOMEM from the container).
 * VSHADOW_FAULT_ANSWER: a call into a container that acted, whose answer
 *	written back to the argument page is lost (as -EFAULT): a write-back
 *	a thread of the caller can make fail by unmapping the page.
 * VSHADOW_FAULT_HOLE: iommufd's dirty read of a range without areas
 *	answers -EINVAL, as a kernel that does not drop iopt's error would
 *	(6.12 reports success).
 * VSHADOW_FAULT_CUT: type1 refuses an unmap or a GET_BITMAP of a run
 *	before it acts, with -EINVAL, as it refuses a range that would cut
 *	one of its mappings (a VMM that changed the container directly).
 * VSHADOW_FAULT_ENOENT: a VFIO unmap of nothing answers -ENOENT, as
 *	iommufd's VFIO compatibility layer did before it learned type1's
 *	"0 bytes" (6.12 answers 0 bytes).
 *
 * Only the test build (VSHADOW_FAULT_INJECT) has the injector; in any
 * other, vshadow_fail() is constant false and compiles away.
 */
enum vshadow_fault {
	VSHADOW_FAULT_ALLOC,
	VSHADOW_FAULT_COPY,
	VSHADOW_FAULT_CALL,
	VSHADOW_FAULT_ANSWER,
	VSHADOW_FAULT_HOLE,
	VSHADOW_FAULT_ENOENT,
	VSHADOW_FAULT_CUT,
};

struct dentry;
#ifdef VSHADOW_FAULT_INJECT
#define VSHADOW_TEST_BUILD	true
bool __vshadow_fail(enum vshadow_fault kind, const char *site);
void vshadow_inject_init(struct dentry *dir);
#else
#define VSHADOW_TEST_BUILD	false
static inline bool __vshadow_fail(enum vshadow_fault kind, const char *site)
{
	return false;
}

static inline void vshadow_inject_init(struct dentry *dir)
{
}
#endif
#define vshadow_fail(kind)	__vshadow_fail(kind, __func__)

/* forward.c: calling a backend whose ioctls take user memory */
#define VSHADOW_ARGPAGE_MAX	(64 * 1024)
struct vshadow_argpage;
long vshadow_forward_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg);
/* vshadow_argpage_create() flags: a page GUP can pin (no VM_IO) */
#define VSHADOW_ARGPAGE_PINNABLE	BIT(0)
struct vshadow_argpage *vshadow_argpage_create(const struct vshadow_chan *chan,
					       size_t size, unsigned int flags);
long vshadow_forward_args(struct vshadow_argpage *ap, unsigned int cmd,
			  void *args, size_t in_len, size_t out_len);
unsigned long vshadow_argpage_uaddr(struct vshadow_argpage *ap, size_t offset);
void *vshadow_argpage_kaddr(struct vshadow_argpage *ap, size_t offset);
bool vshadow_argpage_gone(struct vshadow_argpage *ap);
void vshadow_argpage_destroy(struct vshadow_argpage *ap);

int vshadow_backend_register(const struct vshadow_backend_ops *ops);
void vshadow_backend_unregister(const struct vshadow_backend_ops *ops);
const struct vshadow_backend_ops *vshadow_backend_get(u32 id);
void vshadow_backend_put(const struct vshadow_backend_ops *ops);

extern const struct vshadow_backend_ops vshadow_type1_ops;

/**
 * struct vshadow_node - one shadow mapping, 56 bytes (at most 64)
 * @rb: link in vshadow_ctx::tree
 * @start: first IOVA
 * @last: last IOVA, inclusive
 * @__subtree_last: interval tree bookkeeping
 * @cookie: the caller's value, returned at unmap
 */
struct vshadow_node {
	struct rb_node rb;
	u64 start;
	u64 last;
	u64 __subtree_last;
	u64 cookie;
};

/* Freed nodes a context keeps for its next maps, at most. */
#define VSHADOW_SPARE_NODES	64

/**
 * struct vshadow_ctx - one open of /dev/viommu_shadow
 * @id: its id in the registry of contexts (main.c), for netlink; fixed
 * @serial: a number no other context of this boot has: a netlink dump
 *	tells by it that an id now names another context
 * @users: references: the open file's, and one per netlink dump or
 *	event using the context; the last put frees it, after an RCU grace
 *	period (registry lookups run under RCU)
 * @rcu: for that
 * @owner: the attaching process (its thread-group pid), from ATTACH on;
 *	fixed once @attached is set, read without @lock after it
 * @owner_comm: its comm at ATTACH; likewise
 * @owner_uid: its uid at ATTACH, whose budget its events spend; likewise
 * @attached: set (release) when @owner, @owner_comm, @backend_kind,
 *	@backend_id, @container_fd and @container_id are set, at ATTACH;
 *	readers without @lock test it with acquire first
 * @backend_kind: @ops->id, kept so that readers never touch @ops
 * @backend_id: ATTACH's backend_id
 * @container_fd: ATTACH's fd
 * @container_id: the container file's identity (see
 *	VIOMMU_SHADOW_A_CONTAINER_ID)
 * @hwpts_lock: protects @nr_hwpts and @hwpts for netlink, which reads them
 *	without @lock; writers hold @lock too.  Taken alone, never sleeping.
 * @nr_hwpts: entries of @hwpts
 * @hwpts: the HWPTs the backend reads dirty bits from (ATTACH's, then
 *	SET_HWPTS'), as netlink shows them
 * @gen: changes (under @lock) whenever the tree does, and when the
 *	context is released; a mapping dump notices a change by it
 * @dead: set under @lock at release: the tree is gone
 * @nl_window: start (jiffies) of the current second of netlink events
 * @nl_events: the events of the kinds a caller can make at will (clamp,
 *	refusal, backend error) sent in that second; under @lock
 * @lock: serialises every ioctl on the context and protects all the fields
 *	below; held across backend calls so that the tree and the backend
 *	change together.  Taken before mmap_lock, never under it (see the
 *	lock order above).  The counters (@nr_mappings to
 *	@nr_bisect_refused, @caps.pgsize, @broken) are also read without it,
 *	by netlink: they are written with WRITE_ONCE() (vshadow_stat_add())
 *	and read with READ_ONCE(), each on its own.
 * @chan: what the backend may call: @file
 * @ops: the attached backend, NULL until ATTACH; never changes after
 * @backend: @ops' private data
 * @file: the backend file (the VFIO container), referenced until release
 * @mm: the attaching process's mm (grabbed); forwarded calls come from it
 * @caps: what the backend said it can do, when last asked
 * @broken: the context no longer knows what the backend holds (see
 *	VSHADOW_BROKEN, and -ENODEV); every call but GET_INFO fails
 * @spare: nodes of unmapped mappings kept for the next maps (tree.c)
 * @nr_spare: how many
 * @run_bits: the dirty bits of a run, then room for one mapping's while a
 *	failed run is resolved, or for the caller's bitmap words staged while
 *	a run's bits are delivered: 2 * VSHADOW_RUN_BYTES, allocated by the
 *	first walk with dirty bits
 * @run_nodes: the nodes of the run being walked, VSHADOW_RUN_MAX
 *	pointers, allocated by the first walk
 * @log_pins: the dirty log's pinned pages (log.c), allocated by the first
 *	walk with a log; none stays pinned after a call
 * @max_mappings: limit on @nr_mappings, the max_mappings module parameter
 *	when the context was opened
 * @tree: the shadow mappings, an interval tree keyed by [start, last]
 * @nr_mappings: nodes in @tree
 * @mapped_bytes: bytes covered by @tree
 * @high_water: highest last IOVA ever mapped, 0 if none; never decreases
 * @nr_maps: statistics reported by GET_INFO
 * @nr_unmaps: statistics reported by GET_INFO
 * @nr_clamped: statistics reported by GET_INFO
 * @nr_bisect_refused: statistics reported by GET_INFO
 */
struct vshadow_ctx {
	u32 id;
	u64 serial;
	refcount_t users;
	struct rcu_head rcu;
	struct pid *owner;
	char owner_comm[TASK_COMM_LEN];
	kuid_t owner_uid;
	bool attached;
	u32 backend_kind;
	u32 backend_id;
	u32 container_fd;
	u64 container_id;
	spinlock_t hwpts_lock; /* see above */
	u32 nr_hwpts;
	u32 hwpts[VIOMMU_SHADOW_DIRTY_HWPTS_MAX];
	u64 gen;
	bool dead;
	unsigned long nl_window;
	unsigned int nl_events;
	struct mutex lock; /* see above: serialises the context */
	struct vshadow_chan chan;
	const struct vshadow_backend_ops *ops;
	void *backend;
	struct file *file;
	struct mm_struct *mm;
	struct vshadow_backend_caps caps;
	bool broken;
	u64 *run_bits;
	struct vshadow_node **run_nodes;
	struct vshadow_log_pins *log_pins;
	struct vshadow_node *spare[VSHADOW_SPARE_NODES];
	unsigned int nr_spare;
	u64 max_mappings;
	struct rb_root_cached tree;
	u64 nr_mappings;
	u64 mapped_bytes;
	u64 high_water;
	u64 nr_maps;
	u64 nr_unmaps;
	u64 nr_clamped;
	u64 nr_bisect_refused;
};

/* Add to a counter of a context, which netlink reads without its lock. */
static inline void vshadow_stat_add(u64 *stat, u64 n)
{
	WRITE_ONCE(*stat, *stat + n);
}

/* registry.c: the registry of contexts, for the ioctls and netlink */
int vshadow_ctx_register(struct vshadow_ctx *ctx);
void vshadow_ctx_unregister(struct vshadow_ctx *ctx);
struct vshadow_ctx *vshadow_ctx_get_next(unsigned long *id);
void vshadow_ctx_put(struct vshadow_ctx *ctx);
unsigned long vshadow_ctx_registry_gen(void);
long vshadow_ctx_count(void);

/*
 * netlink.c: the generic netlink family, and its events.  The event
 * functions take the context with its lock held (or, for CTX_DEL, at
 * release), send only when someone listens, and never fail the caller.
 */
int vshadow_nl_init(void);
void vshadow_nl_exit(void);
void vshadow_nl_ctx_event(struct vshadow_ctx *ctx, u8 cmd);
void vshadow_nl_clamped(struct vshadow_ctx *ctx, u64 start, u64 last,
			u64 clamped_last);
void vshadow_nl_bisect_refused(struct vshadow_ctx *ctx, u64 start, u64 last);
void vshadow_nl_backend_error(struct vshadow_ctx *ctx, u32 op, u64 iova,
			      u64 length, int ret);
void vshadow_nl_broken(struct vshadow_ctx *ctx, const char *reason);
bool vshadow_nl_warn_allowed(struct vshadow_ctx *ctx);

/* tree.c: the shadow tree; callers hold vshadow_ctx::lock */
int vshadow_tree_init(void);
void vshadow_tree_exit(void);
struct vshadow_node *vshadow_node_alloc(struct vshadow_ctx *ctx);
void vshadow_node_free(struct vshadow_ctx *ctx, struct vshadow_node *node);
struct vshadow_node *vshadow_tree_first(struct vshadow_ctx *ctx, u64 start,
					u64 last);
struct vshadow_node *vshadow_tree_next(struct vshadow_node *node, u64 start,
				       u64 last);
void vshadow_tree_insert(struct vshadow_ctx *ctx, struct vshadow_node *node);
void vshadow_tree_remove(struct vshadow_ctx *ctx, struct vshadow_node *node);
void vshadow_tree_destroy(struct vshadow_ctx *ctx);
long vshadow_live_nodes(void);

/**
 * struct vshadow_ucmd - one ioctl call, as main.c hands it to a handler
 * @ubuffer: the caller's struct
 * @user_size: its size as the caller declared it
 * @cmd: the kernel copy, zero-extended to the kernel's size
 */
struct vshadow_ucmd {
	void __user *ubuffer;
	u32 user_size;
	void *cmd;
};

/* Write the out fields of @ucmd back, as far as the caller's struct goes. */
static inline int vshadow_ucmd_respond(struct vshadow_ucmd *ucmd,
				       size_t cmd_len)
{
	if (vshadow_fail(VSHADOW_FAULT_COPY) ||
	    copy_to_user(ucmd->ubuffer, ucmd->cmd,
			 min_t(size_t, ucmd->user_size, cmd_len)))
		return -EFAULT;
	return 0;
}

/* backend.c: every call into a backend, traced */
int vshadow_call_query(const struct vshadow_backend_ops *ops, void *priv,
		       struct vshadow_backend_caps *caps);
int vshadow_call_map(struct vshadow_ctx *ctx, u64 iova, u64 length, u64 vaddr,
		     u32 prot);
int vshadow_call_unmap(struct vshadow_ctx *ctx, u64 iova, u64 length,
		       const struct vshadow_bitmap *bitmap);
int vshadow_call_sync(struct vshadow_ctx *ctx, u64 iova, u64 length,
		      const struct vshadow_bitmap *bitmap, bool *cleared);

int vshadow_call_set_hwpts(struct vshadow_ctx *ctx, const u32 *hwpts, u32 nr,
			   struct vshadow_backend_caps *caps);

/* backend.c: the context's answer to what a backend call answered */
int vshadow_check_caller(struct vshadow_ctx *ctx);
int vshadow_backend_result(struct vshadow_ctx *ctx, int ret);

/* map.c and walk.c: the ioctls that change the tree and the backend */
int vshadow_map(struct vshadow_ctx *ctx, struct vshadow_ucmd *ucmd);
int vshadow_map_batch(struct vshadow_ctx *ctx, struct vshadow_ucmd *ucmd);
int vshadow_unmap_range(struct vshadow_ctx *ctx, struct vshadow_ucmd *ucmd);
int vshadow_sync_dirty(struct vshadow_ctx *ctx, struct vshadow_ucmd *ucmd);
int vshadow_unmap_batch(struct vshadow_ctx *ctx, struct vshadow_ucmd *ucmd);

/* log.c: the dirty log by cookie, for walk.c */

/*
 * The log's words are ORed with atomic64_or(), which must be atomic
 * against the caller's own atomics on the same words: not where 64-bit
 * atomics are emulated under a kernel lock (GENERIC_ATOMIC64).
 */
static inline bool vshadow_log_supported(void)
{
	return !IS_ENABLED(CONFIG_GENERIC_ATOMIC64);
}

int vshadow_log_init(struct vshadow_ctx *ctx, struct vshadow_log *log,
		     const struct viommu_shadow_unmap_range *cmd);
void vshadow_log_free(struct vshadow_ctx *ctx);
bool vshadow_log_fits(const struct vshadow_log *log, u64 cookie, u64 pages,
		      u64 *bit);
int vshadow_log_pin(struct vshadow_log *log, u64 bit, u64 n);
void vshadow_log_set(struct vshadow_log *log, u64 bit, const u64 *src,
		     u64 src_bit, u64 n);
void vshadow_log_release(struct vshadow_log *log);

#endif /* _VIOMMU_SHADOW_PRIV_H */
