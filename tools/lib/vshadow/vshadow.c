// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvshadow: see vshadow.h.  Two implementations behind one handle: the
 * viommu_shadow module's ioctls, and a userspace fallback over plain type1
 * ioctls with a sorted array of the mappings (binary search; a VMM's few
 * thousand mappings make the array's moves cheap).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/vfio.h>
#include <linux/viommu_shadow.h>

#include "vshadow.h"
#include "vshadow_test.h"

#define STR(x)		#x
#define XSTR(x)		STR(x)

/* Records per UNMAP_RANGE call, and the first bitmap buffer. */
#define NR_RECORDS	256
#define BITMAP_FIRST	(64 * 1024)
/* type1's max_dirty_bitmap_size on 6.1 and 6.12, when it does not say */
#define BITMAP_MAX	(256ULL << 20)

/* The module's record and map flags are passed through as they are. */
static_assert(!(VSHADOW_UNMAPPED_DIRTY ^ VIOMMU_SHADOW_RECORD_DIRTY));
static_assert(!(VSHADOW_UNMAPPED_CUT ^ VIOMMU_SHADOW_RECORD_CUT));
static_assert(!(VSHADOW_UNMAPPED_DIRTY_LOST ^ VIOMMU_SHADOW_RECORD_DIRTY_LOST));
static_assert(!(VSHADOW_UNMAPPED_LOGGED ^ VIOMMU_SHADOW_RECORD_LOGGED));
static_assert(!(VSHADOW_MAP_READ ^ VIOMMU_SHADOW_MAP_READ));
static_assert(!(VSHADOW_MAP_WRITE ^ VIOMMU_SHADOW_MAP_WRITE));
/* vshadow_unmap_batch() hands the caller's ranges to the module as such. */
static_assert(sizeof(struct vshadow_range) == sizeof(struct viommu_shadow_range));
static_assert(offsetof(struct vshadow_range, last) ==
	      offsetof(struct viommu_shadow_range, last));

/* One mapping of the userspace fallback: [iova, last] */
struct mapping {
	uint64_t iova;
	uint64_t last;
	uint64_t cookie;
};

struct vshadow {
	int mode;
	int cause;			/* the module's error, if it fell back */
	bool iommufd;			/* an IOAS, not a type1 container */
	int container;
	int ctx;			/* kernel: the context */
	bool dirty;
	bool kernel_log;		/* kernel: the module takes a log */
	bool broken;
	uint64_t pgsize;
	uint64_t bitmap_max;		/* type1's max_dirty_bitmap_size */
	uint64_t *bitmap;		/* a dirty bitmap buffer, grown */
	uint64_t bitmap_bytes;
	/* kernel: the records of one call, and one MAP_BATCH's entries */
	struct viommu_shadow_unmap_record *rec;
	struct viommu_shadow_map_entry *ent;
	/* userspace: one mapping's bits, split from a run's; grown */
	uint64_t *scratch;
	uint64_t scratch_bytes;
	uint64_t hole;			/* a page type1 never maps */
	uint64_t type1_calls;		/* for the tests */
	/* userspace: type1's GET_INFO buffer, sized at open */
	struct vfio_iommu_type1_info *info;
	size_t info_len;
	/* userspace: the page size type1 answered in a walk, for after it */
	uint64_t next_pgsize;
	/* userspace: the mappings, sorted by iova, and what they cover */
	struct mapping *maps;
	uint64_t nr, cap;
	uint64_t mapped_bytes;
	uint64_t high_water;
};

const char *vshadow_version(void)
{
	return XSTR(VSHADOW_VERSION_MAJOR) "." XSTR(VSHADOW_VERSION_MINOR);
}

/*
 * The system call itself, not libc's ioctl(): libvshadow-preload
 * interposes on that, and must not see the library's own calls.
 */
static int xioctl(int fd, unsigned long req, void *arg)
{
	return syscall(SYS_ioctl, fd, req, arg) ? -errno : 0;
}

/* Grow the buffer *@buf of *@have bytes to at least @bytes (whole words). */
static int bitmap_reserve(uint64_t **buf, uint64_t *have, uint64_t bytes)
{
	uint64_t *p;

	bytes = (bytes + 7) & ~7ULL;
	if (bytes <= *have)
		return 0;
	p = realloc(*buf, bytes);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*have = bytes;
	return 0;
}

/* The module's bitmap buffer, of at least @bytes, zeroed. */
static int bitmap_get(struct vshadow *vs, uint64_t bytes)
{
	if (bitmap_reserve(&vs->bitmap, &vs->bitmap_bytes, bytes))
		return -ENOMEM;
	memset(vs->bitmap, 0, vs->bitmap_bytes);
	return 0;
}

/* ---- the module ---- */

/* The context's page size and features, after ATTACH or SET_HWPTS. */
static int kernel_info(struct vshadow *vs)
{
	struct viommu_shadow_info info = { .size = sizeof(info) };
	int ret = xioctl(vs->ctx, VIOMMU_SHADOW_GET_INFO, &info);

	if (ret)
		return ret;
	vs->pgsize = info.pgsize;
	vs->dirty = info.features & VIOMMU_SHADOW_FEATURE_DIRTY;
	vs->kernel_log = info.features & VIOMMU_SHADOW_FEATURE_DIRTY_LOG;
	return 0;
}

static int kernel_open(struct vshadow *vs,
		       const struct viommu_shadow_attach *attach)
{
	struct viommu_shadow_attach at = *attach;
	int ret;

	vs->ctx = open("/dev/viommu_shadow", O_RDWR | O_CLOEXEC);
	if (vs->ctx < 0)
		return -errno;
	ret = xioctl(vs->ctx, VIOMMU_SHADOW_ATTACH, &at);
	if (!ret)
		ret = kernel_info(vs);
	if (ret) {
		close(vs->ctx);
		vs->ctx = -1;
		return ret;
	}
	vs->mode = VSHADOW_MODE_KERNEL;
	return 0;
}

/*
 * Where a walk's mappings go: the caller's function, and the first
 * non-zero value it returned (which stops the walk); with a dirty log,
 * the log (and the page size its bits stand for).
 */
struct sink {
	vshadow_unmap_fn fn;
	void *opaque;
	int stop;
	const struct vshadow_log *log;
	uint64_t pgsize;
};

/* The module's rule: where a mapping goes in the log, if it fits. */
static bool log_fits(const struct sink *sink, const struct vshadow_unmapped *m,
		     uint64_t *bit)
{
	const struct vshadow_log *log = sink->log;
	uint64_t off;

	if (m->cookie < log->base || m->cookie % sink->pgsize ||
	    m->nr_pages > 32768)
		return false;
	off = (m->cookie - log->base) / sink->pgsize;
	if (off >= log->pages || m->nr_pages > log->pages - off)
		return false;
	*bit = off;
	return true;
}

/*
 * OR @m's bits (every page's when they may be lost) into the log from
 * bit @bit, a word at a time with one atomic OR.
 */
static void log_set(const struct sink *sink, const struct vshadow_unmapped *m,
		    uint64_t bit)
{
	bool all = m->flags & VSHADOW_UNMAPPED_DIRTY_LOST;
	uint64_t p = 0, n, val;
	unsigned int off, sh;

	for (; p < m->nr_pages; p += n, bit += n) {
		off = bit % 64;
		n = m->nr_pages - p < 64 - off ? m->nr_pages - p : 64 - off;
		val = n == 64 ? ~0ULL : (1ULL << n) - 1;
		if (!all) {
			/* pages p .. p + n - 1 of the mapping's own bits */
			sh = p % 64;
			val &= (m->dirty[p / 64] >> sh) |
			       (sh && sh + n > 64 ?
				m->dirty[p / 64 + 1] << (64 - sh) : 0);
		}
		if (val)
			__atomic_fetch_or(&sink->log->words[bit / 64],
					  val << off, __ATOMIC_RELAXED);
	}
}

static void deliver(struct sink *sink, const struct vshadow_unmapped *m)
{
	struct vshadow_unmapped logged;
	uint64_t bit;
	int ret;

	/* Bits the module did not log itself, where it would have. */
	if (sink->log && m->flags & VSHADOW_UNMAPPED_DIRTY &&
	    log_fits(sink, m, &bit)) {
		log_set(sink, m, bit);
		logged = *m;
		logged.flags &= ~VSHADOW_UNMAPPED_DIRTY;
		logged.flags |= VSHADOW_UNMAPPED_LOGGED;
		logged.dirty = NULL;
		m = &logged;
	}
	if (!sink->fn)
		return;
	ret = sink->fn(sink->opaque, m);
	if (ret && !sink->stop)
		sink->stop = ret;
}

/* Pass the module's @nr records in @rec, bits in vs->bitmap, on. */
static void kernel_records(struct vshadow *vs, struct sink *sink,
			   const struct viommu_shadow_unmap_record *rec,
			   uint32_t nr)
{
	struct vshadow_unmapped m;
	uint32_t i;

	for (i = 0; i < nr; i++) {
		m = (struct vshadow_unmapped) {
			.size = sizeof(m),
			.iova = rec[i].iova,
			.length = rec[i].length,
			.cookie = rec[i].cookie,
			.flags = rec[i].flags,
			.nr_pages = rec[i].length / vs->pgsize,
		};
		if (m.flags & VSHADOW_UNMAPPED_DIRTY)
			m.dirty = vs->bitmap + rec[i].bitmap_offset / 64;
		deliver(sink, &m);
	}
}

/*
 * The module's record buffer (12 KiB), on the heap rather than on a VMM
 * thread's stack; kept for the handle's life.
 */
static int kernel_records_buf(struct vshadow *vs)
{
	if (!vs->rec)
		vs->rec = calloc(NR_RECORDS, sizeof(*vs->rec));
	return vs->rec ? 0 : -ENOMEM;
}

/*
 * After EINVAL the module has asked its backend again, whose page size
 * may have changed: learn it, as the handle's bitmaps are sized with it.
 */
static void kernel_einval(struct vshadow *vs, int ret)
{
	if (ret == -EINVAL)
		kernel_info(vs);
}

static int kernel_walk(struct vshadow *vs, unsigned long req, uint64_t start,
		       uint64_t last, unsigned int flags, struct sink *sink)
{
	struct viommu_shadow_unmap_record *rec;
	struct viommu_shadow_unmap_range r;
	int ret;

	if (kernel_records_buf(vs) ||
	    ((flags & VSHADOW_UNMAP_DIRTY) && !vs->bitmap &&
	     bitmap_get(vs, BITMAP_FIRST)))
		return -ENOMEM;
	rec = vs->rec;
	for (;;) {
		r = (struct viommu_shadow_unmap_range) {
			.size = sizeof(r),
			.start = start,
			.last = last,
			.records = (uintptr_t)rec,
			.nr_records = NR_RECORDS,
			.record_size = sizeof(rec[0]),
		};
		if (flags & VSHADOW_UNMAP_WHOLE)
			r.flags |= VIOMMU_SHADOW_UNMAP_WHOLE;
		if (flags & VSHADOW_UNMAP_DIRTY) {
			r.flags |= VIOMMU_SHADOW_UNMAP_GET_DIRTY;
			r.bitmap = (uintptr_t)vs->bitmap;
			r.bitmap_bytes = vs->bitmap_bytes;
			r.bitmap_pgsize = vs->pgsize;
		}
		if (sink->log && vs->kernel_log) {
			r.flags |= VIOMMU_SHADOW_UNMAP_DIRTY_LOG;
			r.log = (uintptr_t)sink->log->words;
			r.log_base = sink->log->base;
			r.log_pages = sink->log->pages;
		}
		ret = xioctl(vs->ctx, req, &r);
		/* Exact progress: the records are valid whatever ret is. */
		kernel_records(vs, sink, rec, r.out_nr_records);
		/* One mapping's bits do not fit the buffer: grow it. */
		if (ret == -ENOSPC && !r.out_nr_records &&
		    (flags & VSHADOW_UNMAP_DIRTY) &&
		    vs->bitmap_bytes < BITMAP_MAX) {
			if (bitmap_get(vs, vs->bitmap_bytes * 4))
				return -ENOMEM;
			continue;
		}
		if (ret == -EIO || ret == -ENODEV)
			vs->broken = true;
		kernel_einval(vs, ret);
		if (ret || sink->stop ||
		    !(r.out_flags & VIOMMU_SHADOW_UNMAP_OUT_MORE))
			return ret;
		start = r.out_resume;
	}
}

/*
 * The ranges [@ranges, @ranges + @nr) with VIOMMU_SHADOW_UNMAP_BATCH, as
 * many per call as the records and bits buffers take; a range too large
 * for them alone goes through kernel_walk(), which grows the bitmap.
 * *@done: the ranges done whole.
 */
static int kernel_batch(struct vshadow *vs, const struct vshadow_range *ranges,
			uint32_t nr, unsigned int flags, struct sink *sink,
			uint32_t *done)
{
	struct viommu_shadow_unmap_record *rec;
	struct viommu_shadow_unmap_batch b;
	uint32_t i = 0;
	int ret = 0;

	if (kernel_records_buf(vs) ||
	    ((flags & VSHADOW_UNMAP_DIRTY) && !vs->bitmap &&
	     bitmap_get(vs, BITMAP_FIRST)))
		return -ENOMEM;
	rec = vs->rec;
	while (i < nr && !ret && !sink->stop) {
		b = (struct viommu_shadow_unmap_batch) {
			.size = sizeof(b),
			.ranges = (uintptr_t)(ranges + i),
			.nr_ranges = nr - i < VIOMMU_SHADOW_BATCH_MAX ?
				     nr - i : VIOMMU_SHADOW_BATCH_MAX,
			.range_size = sizeof(ranges[0]),
			.records = (uintptr_t)rec,
			.nr_records = NR_RECORDS,
			.record_size = sizeof(rec[0]),
		};
		if (flags & VSHADOW_UNMAP_WHOLE)
			b.flags |= VIOMMU_SHADOW_UNMAP_WHOLE;
		if (flags & VSHADOW_UNMAP_DIRTY) {
			b.flags |= VIOMMU_SHADOW_UNMAP_GET_DIRTY;
			b.bitmap = (uintptr_t)vs->bitmap;
			b.bitmap_bytes = vs->bitmap_bytes;
			b.bitmap_pgsize = vs->pgsize;
		}
		ret = xioctl(vs->ctx, VIOMMU_SHADOW_UNMAP_BATCH, &b);
		kernel_records(vs, sink, rec, b.out_nr_records);
		if (ret == -EIO || ret == -ENODEV)
			vs->broken = true;
		kernel_einval(vs, ret);
		i += b.out_done;
		/* Range i alone does not fit the buffers (or none was done). */
		if ((ret == -ENOSPC || !ret) && !b.out_done &&
		    !b.out_nr_records && !sink->stop) {
			ret = kernel_walk(vs, VIOMMU_SHADOW_UNMAP_RANGE,
					  ranges[i].start, ranges[i].last,
					  flags, sink);
			if (!ret && !sink->stop)
				i++;
		}
	}
	*done = i;
	return ret;
}

/* ---- the userspace fallback ---- */

/*
 * Outcomes of one type1 call beyond 0 and a negative errno, as the
 * module's type1 backend names them.
 */
#define T1_ABSENT	1	/* the range held none of the handle's mappings */
#define T1_SHORT	2	/* it unmapped another length than asked */
#define T1_BROKEN	3	/* it refused: not what the handle made */

/* No page outside every IOVA range the container allows is known. */
#define NO_HOLE		UINT64_MAX

static int t1_ioctl(struct vshadow *vs, unsigned long req, void *arg)
{
	vs->type1_calls++;
	return xioctl(vs->container, req, arg);
}

/* The most GET_INFO may take, and how often its buffer is grown. */
#define INFO_MAX	(64 * 1024)
#define INFO_TRIES	3

/*
 * type1's GET_INFO into vs->info.  The buffer is sized once, at the
 * first call (open), to what type1 asks, within INFO_MAX; later calls
 * reuse it, so that asking type1 again in the middle of a walk allocates
 * nothing (-E2BIG should type1 want more room then).
 */
static int t1_info(struct vshadow *vs)
{
	size_t sz = vs->info_len ?: 4096;
	int ret, tries;

	for (tries = 0; tries < INFO_TRIES; tries++) {
		if (!vs->info) {
			vs->info = calloc(1, sz);
			if (!vs->info)
				return -ENOMEM;
			vs->info_len = sz;
		}
		memset(vs->info, 0, vs->info_len);
		vs->info->argsz = vs->info_len;
		ret = t1_ioctl(vs, VFIO_IOMMU_GET_INFO, vs->info);
		/* No type1 set (EINVAL), or no VFIO file (ENOTTY). */
		if (ret == -EINVAL || ret == -ENOTTY)
			return -ENODEV;
		if (ret)
			return ret;
		if (!(vs->info->flags & VFIO_IOMMU_INFO_PGSIZES) ||
		    !vs->info->iova_pgsizes)
			return -ENODEV;
		if (vs->info->argsz <= vs->info_len)
			return 0;
		/* more capabilities than room: only at open */
		if (vs->mode || vs->info->argsz > INFO_MAX)
			return -E2BIG;
		sz = vs->info->argsz;
		free(vs->info);
		vs->info = NULL;
	}
	return -E2BIG;
}

/* The capability @id of @info, of at least @min bytes, or NULL. */
static const void *t1_cap(const struct vfio_iommu_type1_info *info,
			  size_t len, uint16_t id, size_t min)
{
	const struct vfio_info_cap_header *cap;
	uint32_t off, hops = 0;

	if (!(info->flags & VFIO_IOMMU_INFO_CAPS))
		return NULL;
	for (off = info->cap_offset; off && hops < 64; hops++) {
		if (off < sizeof(*info) || off > len || len - off < min ||
		    min < sizeof(*cap))
			return NULL;
		cap = (const void *)((const char *)info + off);
		if (cap->id == id)
			return cap;
		off = cap->next;
	}
	return NULL;
}

/*
 * A page outside every IOVA range the container allows (the ranges are in
 * ascending order): before the first, between two, or after the last.
 * type1 never maps there, so a GET_BITMAP of it says only whether dirty
 * tracking runs (see t1_explain()).  The top page does not do: its end
 * would wrap.
 */
static uint64_t t1_hole(const struct vfio_iommu_type1_info *info, size_t len,
			uint64_t pgsize)
{
	const size_t hdr = offsetof(struct vfio_iommu_type1_info_cap_iova_range,
				    iova_ranges);
	const struct vfio_iommu_type1_info_cap_iova_range *cap;
	uint64_t next = 0, at;
	uint32_t i;

	cap = t1_cap(info, len, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, hdr);
	if (!cap || cap->nr_iovas > (len - ((const char *)cap -
					    (const char *)info) - hdr) /
				    sizeof(cap->iova_ranges[0]))
		return NO_HOLE;
	for (i = 0; i <= cap->nr_iovas; i++) {
		at = (next + pgsize - 1) & ~(pgsize - 1);
		if (at < next)
			break;
		if (i == cap->nr_iovas)
			return at <= UINT64_MAX - 2 * pgsize + 1 ? at : NO_HOLE;
		if (at < cap->iova_ranges[i].start &&
		    cap->iova_ranges[i].start - at >= pgsize)
			return at;
		if (cap->iova_ranges[i].end == UINT64_MAX ||
		    cap->iova_ranges[i].end < next)
			break;
		next = cap->iova_ranges[i].end + 1;
	}
	return NO_HOLE;
}

/* What type1 says the container is. */
struct t1_caps {
	uint64_t pgsize;
	bool dirty;
	uint64_t bitmap_max;
	uint64_t hole;
};

/*
 * Ask type1 what the container is: its page size, whether it can track
 * dirty pages (a migration capability, and a type1 v2 container: asked
 * with DIRTY_PAGES START|STOP, which v1 refuses with EACCES and v2 with
 * EINVAL, changing nothing), its bitmap limit, and a hole.
 */
static int user_query(struct vshadow *vs, struct t1_caps *caps)
{
	const struct vfio_iommu_type1_info_cap_migration *mig;
	struct vfio_iommu_type1_dirty_bitmap probe = {
		.argsz = sizeof(probe),
		.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_START |
			 VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP,
	};
	int ret;

	ret = t1_info(vs);
	if (ret)
		return ret;
	caps->pgsize = vs->info->iova_pgsizes & -vs->info->iova_pgsizes;
	mig = t1_cap(vs->info, vs->info_len,
		     VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, sizeof(*mig));
	caps->dirty = mig && (mig->pgsize_bitmap & caps->pgsize) &&
		      t1_ioctl(vs, VFIO_IOMMU_DIRTY_PAGES, &probe) == -EINVAL;
	caps->bitmap_max = mig && mig->max_dirty_bitmap_size ?
			   mig->max_dirty_bitmap_size : BITMAP_MAX;
	caps->hole = t1_hole(vs->info, vs->info_len, caps->pgsize);
	return 0;
}

static void user_caps(struct vshadow *vs, const struct t1_caps *caps)
{
	vs->pgsize = caps->pgsize;
	vs->dirty = caps->dirty;
	vs->bitmap_max = caps->bitmap_max;
	vs->hole = caps->hole;
}

static int user_open(struct vshadow *vs)
{
	struct t1_caps caps;
	int ret = user_query(vs, &caps);

	if (ret)
		return ret;
	user_caps(vs, &caps);
	vs->mode = VSHADOW_MODE_USERSPACE;
	return 0;
}

/*
 * type1 refused with EINVAL a call on [@iova, @iova + @size - 1], whole
 * mappings of this handle aligned to the page size it had.  Ask again,
 * as the module does:
 *
 * - the container lost its IOMMU: T1_BROKEN (the mappings went with it);
 * - its page size changed, so that the range no longer fits it, or it
 *   cannot be asked: -EINVAL, nothing done.  The new page size takes
 *   effect once the walk is over (vs->next_pgsize): the walk's buffers
 *   were sized with the old one;
 * - with dirty bits, tracking is off: -ENODATA, nothing done (asked with
 *   a GET_BITMAP of a page outside every IOVA range, which only tracking
 *   off refuses);
 * - else a v2 container refused to cut a mapping the VMM made directly in
 *   place of one of this handle's: T1_BROKEN.
 */
static int t1_explain(struct vshadow *vs, uint64_t iova, uint64_t size,
		      bool dirty)
{
	struct vfio_iommu_type1_dirty_bitmap_get *get;
	struct t1_caps caps;
	uint64_t word;
	struct {
		struct vfio_iommu_type1_dirty_bitmap hdr;
		struct vfio_iommu_type1_dirty_bitmap_get get;
	} args;
	int ret;

	ret = user_query(vs, &caps);
	if (ret == -ENODEV)
		return T1_BROKEN;
	if (ret)
		return -EINVAL;
	if (caps.pgsize != vs->pgsize || ((iova | size) & (caps.pgsize - 1))) {
		vs->next_pgsize = caps.pgsize;
		return -EINVAL;
	}
	if (!dirty)
		return T1_BROKEN;
	if (caps.hole == NO_HOLE)
		return -ENODATA;
	args.hdr = (struct vfio_iommu_type1_dirty_bitmap) {
		.argsz = sizeof(args),
		.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
	};
	get = &args.get;
	*get = (struct vfio_iommu_type1_dirty_bitmap_get) {
		.iova = caps.hole,
		.size = caps.pgsize,
		.bitmap = { .pgsize = caps.pgsize, .size = 8,
			    .data = (__u64 *)&word },
	};
	ret = t1_ioctl(vs, VFIO_IOMMU_DIRTY_PAGES, &args);
	if (ret == -EINVAL)
		return -ENODATA;
	return ret ?: T1_BROKEN;
}

/*
 * type1's unmap of [@iova, @iova + @size - 1], which holds whole mappings
 * of this handle, back to back; with @bits (@bytes, zeroed here), their
 * dirty bits, bit 0 for the page at @iova.  0 when it unmapped exactly
 * that; T1_ABSENT when it held none of it (iommufd's VFIO compatibility
 * layer may say so with ENOENT, which type1 never returns); T1_SHORT when
 * it unmapped another length (all of the range is gone, but not all of
 * it was the handle's); T1_BROKEN (see t1_explain()); -EINVAL and
 * -ENODATA, nothing done; or another error: for one mapping, nothing was
 * done; for several, type1 may have unmapped some first ones, in IOVA
 * order, with their bits stored, before it failed.
 */
static int t1_unmap(struct vshadow *vs, uint64_t iova, uint64_t size,
		    uint64_t *bits, uint64_t bytes)
{
	struct {
		struct vfio_iommu_type1_dma_unmap unmap;
		struct vfio_bitmap bitmap;
	} u = {
		.unmap = {
			.argsz = sizeof(u.unmap),
			.iova = iova,
			.size = size,
		},
	};
	int ret;

	if (bits) {
		memset(bits, 0, bytes);
		u.unmap.argsz = sizeof(u);
		u.unmap.flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
		u.bitmap = (struct vfio_bitmap) {
			.pgsize = vs->pgsize,
			.size = bytes,
			.data = (__u64 *)bits,
		};
	}
	ret = t1_ioctl(vs, VFIO_IOMMU_UNMAP_DMA, &u);
	if (ret == -EINVAL)
		return t1_explain(vs, iova, size, bits);
	if (ret == -ENOENT)
		return T1_ABSENT;
	if (ret)
		return ret;
	if (!u.unmap.size)
		return T1_ABSENT;
	return u.unmap.size == size ? 0 : T1_SHORT;
}

/*
 * type1's GET_BITMAP of [@iova, @iova + @size - 1] into @bits (zeroed
 * here): the bits are read and cleared, the mappings stay.  0, or an
 * error; *@cleared says whether type1 may have read (and cleared) some
 * bits before it failed: it checks everything first, and refuses that
 * with EINVAL.
 */
static int t1_read(struct vshadow *vs, uint64_t iova, uint64_t size,
		   uint64_t *bits, uint64_t bytes, bool *cleared)
{
	struct {
		struct vfio_iommu_type1_dirty_bitmap hdr;
		struct vfio_iommu_type1_dirty_bitmap_get get;
	} s = {
		.hdr = {
			.argsz = sizeof(s),
			.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
		},
		.get = {
			.iova = iova,
			.size = size,
			.bitmap = {
				.pgsize = vs->pgsize,
				.size = bytes,
				.data = (__u64 *)bits,
			},
		},
	};
	int ret;

	memset(bits, 0, bytes);
	ret = t1_ioctl(vs, VFIO_IOMMU_DIRTY_PAGES, &s);
	if (ret == -EINVAL)
		return t1_explain(vs, iova, size, true);
	*cleared = ret;
	return ret;
}

/* The index of the first mapping whose last is >= @iova (or nr). */
static uint64_t user_find(const struct vshadow *vs, uint64_t iova)
{
	uint64_t lo = 0, hi = vs->nr, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (vs->maps[mid].last < iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The same checks as the module's MAP, in the same order. */
static int user_map(struct vshadow *vs, uint64_t iova, uint64_t length,
		    void *vaddr, unsigned int prot, uint64_t cookie)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.vaddr = (uintptr_t)vaddr,
		.iova = iova,
		.size = length,
	};
	uint64_t last, vlast, i;
	struct t1_caps caps;
	struct mapping *p;
	int ret;

	if (prot & ~(VSHADOW_MAP_READ | VSHADOW_MAP_WRITE))
		return -EOPNOTSUPP;
	if (!prot || !length)
		return -EINVAL;
	if (__builtin_add_overflow(iova, length - 1, &last) ||
	    __builtin_add_overflow((uintptr_t)vaddr, length - 1, &vlast))
		return -EOVERFLOW;
	if ((iova | length | (uintptr_t)vaddr) & (vs->pgsize - 1))
		return -EINVAL;
	/* type1 cannot unmap a mapping that ends at 2^64 - 1: its end wraps */
	if (last > UINT64_MAX - vs->pgsize)
		return -ERANGE;
	i = user_find(vs, iova);
	if (i < vs->nr && vs->maps[i].iova <= last)
		return -EEXIST;
	if (vs->nr == vs->cap) {
		p = realloc(vs->maps, (vs->cap ? 2 * vs->cap : 64) * sizeof(*p));
		if (!p)
			return -ENOMEM;
		vs->maps = p;
		vs->cap = vs->cap ? 2 * vs->cap : 64;
	}
	if (prot & VSHADOW_MAP_READ)
		map.flags |= VFIO_DMA_MAP_FLAG_READ;
	if (prot & VSHADOW_MAP_WRITE)
		map.flags |= VFIO_DMA_MAP_FLAG_WRITE;
	ret = t1_ioctl(vs, VFIO_IOMMU_MAP_DMA, &map);
	/* Its page size may have changed: learn it, as the module does. */
	if (ret == -EINVAL && !user_query(vs, &caps))
		user_caps(vs, &caps);
	if (ret)
		return ret;
	memmove(&vs->maps[i + 1], &vs->maps[i], (vs->nr - i) * sizeof(*p));
	vs->maps[i] = (struct mapping) { iova, last, cookie };
	vs->nr++;
	vs->mapped_bytes += length;
	if (last > vs->high_water)
		vs->high_water = last;
	return 0;
}

static uint64_t bitmap_bytes(uint64_t pages)
{
	return (pages + 63) / 64 * 8;
}

/*
 * OR @nr bits of @src, from bit @from on, into @dst from bit 0 (bits past
 * @nr in @dst's last word are cleared): one mapping's bits out of its
 * run's bitmap, a word at a time.  Reads no word of @src past the one
 * holding bit @from + @nr - 1.
 */
static void bits_or(uint64_t *dst, const uint64_t *src, uint64_t from,
		    uint64_t nr)
{
	const uint64_t *s = src + from / 64;
	unsigned int shift = from % 64;
	uint64_t i, words = (nr + 63) / 64, w;

	for (i = 0; i < words; i++) {
		w = s[i] >> shift;
		/* the word's high bits come from the next source word */
		if (shift && 64 * i + 64 - shift < nr)
			w |= s[i + 1] << (64 - shift);
		dst[i] |= w;
	}
	if (nr % 64)
		dst[words - 1] &= (1ULL << (nr % 64)) - 1;
}

/* What user_walk() is doing, and how many mappings it reported. */
struct user_walk {
	bool sync, dirty;
	uint64_t start, last;
	struct sink *sink;
	uint64_t done;			/* reported, from the first one on */
};

/* user_report() @from: none of the mapping's bits are in the run's bitmap */
#define NO_BITS		UINT64_MAX

/*
 * Report mapping @i to the caller.  Its bits: those a call of its own
 * left in vs->scratch (@own), or none; OR those of the run's bitmap
 * (vs->bitmap) from bit @from on, unless NO_BITS.  @lost: they may be
 * incomplete (DIRTY_LOST: the caller takes every page as dirty).  The
 * buffers were reserved before the first type1 call of the run, so that
 * nothing can fail once a mapping is gone.
 */
static void user_report(struct vshadow *vs, struct user_walk *w, uint64_t i,
			bool own, uint64_t from, bool lost)
{
	const struct mapping *m = &vs->maps[i];
	uint64_t pages = (m->last - m->iova + 1) / vs->pgsize;
	struct vshadow_unmapped out = {
		.size = sizeof(out),
		.iova = m->iova,
		.length = m->last - m->iova + 1,
		.cookie = m->cookie,
		.nr_pages = pages,
	};

	if (w->dirty) {
		if (!own)
			memset(vs->scratch, 0, bitmap_bytes(pages));
		if (from != NO_BITS)
			bits_or(vs->scratch, vs->bitmap, from, pages);
		out.flags |= VSHADOW_UNMAPPED_DIRTY;
		if (lost)
			out.flags |= VSHADOW_UNMAPPED_DIRTY_LOST;
		out.dirty = vs->scratch;
	}
	if (m->iova < w->start || m->last > w->last)
		out.flags |= VSHADOW_UNMAPPED_CUT;
	deliver(w->sink, &out);
	w->done++;
	if (!w->sync)
		vs->mapped_bytes -= out.length;
}

static int user_broken(struct vshadow *vs)
{
	vs->broken = true;
	return -EIO;
}

/*
 * The unmap of the run of mappings [@a, @b) failed: type1 may have
 * unmapped some first ones, with their bits stored in the run's bitmap,
 * before it failed.  Find out as the module does, one mapping at a time
 * in IOVA order, each unmapped by a call of its own:
 *
 * - nothing there, and none found still there before it: the run's call
 *   took it and stored its bits (DIRTY_LOST after an unknown fate);
 * - unmapped now: it was still there; its bits are the ones just read;
 * - an error, and none found still there: its fate is unknown.  Unmap it
 *   once more without a bitmap: if that unmaps it, it was still there and
 *   its bits are gone (DIRTY_LOST; the walk stops there, with that
 *   error); should that fail too, the handle cannot know what the
 *   container holds: broken;
 * - an error after one found still there: the rest are still there; the
 *   walk stops with it.  Nothing there after one found still there is
 *   not the run's doing: broken.
 */
static int user_resolve(struct vshadow *vs, struct user_walk *w, uint64_t a,
			uint64_t b)
{
	bool still_there = false, unknown = false;
	uint64_t i = a, pages, from;
	const struct mapping *m;
	int ret, err = 0;

	while (i < b) {
		/*
		 * A stop by the caller's function: once one mapping was found
		 * still there, the rest are too, and nothing is left to find
		 * out.  (Before that, the mappings the failed call may have
		 * taken are still found out, a call each.)
		 */
		if (still_there && w->sink->stop)
			return 0;
		m = &vs->maps[i];
		pages = (m->last - m->iova + 1) / vs->pgsize;
		from = w->dirty ? (m->iova - vs->maps[a].iova) / vs->pgsize :
				  NO_BITS;
		ret = t1_unmap(vs, m->iova, m->last - m->iova + 1,
			       w->dirty && !unknown ? vs->scratch : NULL,
			       bitmap_bytes(pages));
		if (ret == T1_ABSENT && !still_there) {
			user_report(vs, w, i, false, from, unknown);
		} else if (!ret && unknown) {
			user_report(vs, w, i, false, NO_BITS, true);
			return err;
		} else if (!ret) {
			still_there = true;
			user_report(vs, w, i, true, NO_BITS, false);
		} else if (ret < 0 && !still_there && !unknown) {
			unknown = true;
			err = ret;
			continue;
		} else if (ret < 0 && still_there) {
			return ret;
		} else if (ret == T1_SHORT) {
			/* gone, but type1 took another length: bits unknown */
			user_report(vs, w, i, false, NO_BITS, true);
			return user_broken(vs);
		} else {
			return user_broken(vs);
		}
		i++;
	}
	return 0;
}

/*
 * Unmap the run of back-to-back mappings [@a, @b), @size bytes and
 * @pages pages, with one type1 call; its bits land in vs->bitmap, each
 * mapping's from its offset in the run on.
 */
static int user_unmap_run(struct vshadow *vs, struct user_walk *w,
			  uint64_t a, uint64_t b, uint64_t size, uint64_t pages)
{
	uint64_t i, iova = vs->maps[a].iova;
	int ret;

	ret = t1_unmap(vs, iova, size, w->dirty ? vs->bitmap : NULL,
		       bitmap_bytes(pages));
	/*
	 * type1 unmapped the whole range, but another length than the
	 * handle's mappings: some were gone already, changed directly.  All
	 * of the run is gone now: report it, every page dirty (the bits of
	 * what type1 held are in the run's bitmap, but which mapping held
	 * what is unknown), and break.
	 */
	if (ret == T1_SHORT || ret == T1_ABSENT) {
		for (i = a; i < b; i++)
			user_report(vs, w, i, false, NO_BITS, true);
		return user_broken(vs);
	}
	if (ret == T1_BROKEN)
		return user_broken(vs);	/* refused: not what the handle made */
	/*
	 * For one mapping, an error means type1 did nothing; for several,
	 * ENODATA and EINVAL (tracking off, page size changed) do too, and
	 * any other leaves their fates to be found out.
	 */
	if (ret && (b - a == 1 || ret == -ENODATA || ret == -EINVAL))
		return ret;
	if (ret)
		return user_resolve(vs, w, a, b);
	for (i = a; i < b; i++)
		user_report(vs, w, i, false, w->dirty ?
			    (vs->maps[i].iova - iova) / vs->pgsize : NO_BITS,
			    false);
	return 0;
}

/*
 * Read the bits of the run [@a, @b) with one GET_BITMAP.  Should it fail
 * after it may have read some (cleared), every mapping of the run is
 * reported, DIRTY_LOST, with whatever bits it stored.
 */
static int user_sync_run(struct vshadow *vs, struct user_walk *w,
			 uint64_t a, uint64_t b, uint64_t size, uint64_t pages)
{
	uint64_t i, iova = vs->maps[a].iova;
	bool cleared = false;
	int ret;

	ret = t1_read(vs, iova, size, vs->bitmap, bitmap_bytes(pages),
		      &cleared);
	if (ret == T1_BROKEN)
		return user_broken(vs);
	if (ret && !cleared)
		return ret;
	for (i = a; i < b; i++)
		user_report(vs, w, i, false,
			    (vs->maps[i].iova - iova) / vs->pgsize, ret);
	return ret;
}

/*
 * The fallback's walk: for each run of back-to-back mappings, one type1
 * call (an unmap, or a GET_BITMAP for a sync) with one bitmap for the
 * whole run, split into each mapping's bits by word shifts.  A run is cut
 * only where its bitmap would pass type1's limit (max_dirty_bitmap_size),
 * or its length 2^64 - 1 bytes.
 */
static int user_walk(struct vshadow *vs, bool sync, uint64_t start,
		     uint64_t last, unsigned int flags, struct sink *sink)
{
	struct user_walk w = {
		.sync = sync,
		.dirty = flags & VSHADOW_UNMAP_DIRTY,
		.start = start,
		.sink = sink,
	};
	uint64_t first, end, i, j, pages, np, size, len, most;
	int ret = 0;

	if (w.dirty && !vs->dirty)
		return -EOPNOTSUPP;
	if (last > vs->high_water)
		last = vs->high_water;	/* nothing lies above */
	w.last = last;
	first = user_find(vs, start);
	for (end = first; end < vs->nr && vs->maps[end].iova <= last; end++)
		;
	if (start > last || first == end)
		return 0;
	if (!(flags & VSHADOW_UNMAP_WHOLE) &&
	    (vs->maps[first].iova < start || vs->maps[end - 1].last > last))
		return -EINVAL;

	/* A stop by the caller's function takes effect between two runs. */
	for (i = first; i < end && !ret && !sink->stop; i = first + w.done) {
		pages = 0;
		size = 0;
		most = 0;
		for (j = i; j < end; j++) {
			len = vs->maps[j].last - vs->maps[j].iova + 1;
			np = len / vs->pgsize;
			if (j > i &&
			    (vs->maps[j].iova != vs->maps[j - 1].last + 1 ||
			     size + len < size ||
			     (w.dirty &&
			      bitmap_bytes(pages + np) > vs->bitmap_max)))
				break;
			pages += np;
			size += len;
			if (np > most)
				most = np;
		}
		if (w.dirty && bitmap_bytes(pages) > vs->bitmap_max) {
			ret = -E2BIG;	/* one mapping, over the limit */
			break;
		}
		if (w.dirty &&
		    (bitmap_reserve(&vs->bitmap, &vs->bitmap_bytes,
				    bitmap_bytes(pages)) ||
		     bitmap_reserve(&vs->scratch, &vs->scratch_bytes,
				    bitmap_bytes(most)))) {
			ret = -ENOMEM;
			break;
		}
		ret = sync ? user_sync_run(vs, &w, i, j, size, pages) :
			     user_unmap_run(vs, &w, i, j, size, pages);
	}
	/* Exact progress: forget exactly the mappings given to @fn. */
	if (!sync) {
		memmove(&vs->maps[first], &vs->maps[first + w.done],
			(vs->nr - first - w.done) * sizeof(vs->maps[0]));
		vs->nr -= w.done;
	}
	/* A page size type1 answered during the walk holds from now on. */
	if (vs->next_pgsize) {
		vs->pgsize = vs->next_pgsize;
		vs->next_pgsize = 0;
	}
	return ret;
}

/* For the library's own tests (vshadow_test.h). */
uint64_t vshadow__type1_calls(const struct vshadow *vs)
{
	return vs->type1_calls;
}

/* ---- the interface ---- */

/* The module cannot be had, or does not take the container: fall back. */
static bool fallback_on(int ret)
{
	return ret == -ENOENT || ret == -ENXIO || ret == -ENODEV ||
	       ret == -EACCES || ret == -EOPNOTSUPP || ret == -EINVAL;
}

/* VSHADOW_DEBUG=1: say what vshadow_open_type1() decided, and why. */
static void log_open(const struct vshadow *vs, int container, int ret)
{
	const char *env = getenv("VSHADOW_DEBUG");

	if (!env || strcmp(env, "1"))
		return;
	if (ret)
		fprintf(stderr, "libvshadow: container %d: cannot open: %s\n",
			container, strerror(-ret));
	else if (vs->mode == VSHADOW_MODE_KERNEL)
		fprintf(stderr, "libvshadow: container %d: the module\n",
			container);
	else if (vs->cause)
		fprintf(stderr,
			"libvshadow: container %d: userspace fallback: %s: %s\n",
			container, "/dev/viommu_shadow", strerror(-vs->cause));
	else
		fprintf(stderr, "libvshadow: container %d: userspace, as asked\n",
			container);
}

int vshadow_open_type1(struct vshadow **out, int container, unsigned int flags)
{
	struct vshadow *vs;
	int ret = 0;

	if (flags & ~(VSHADOW_OPEN_NO_FALLBACK | VSHADOW_OPEN_USERSPACE) ||
	    (flags & VSHADOW_OPEN_NO_FALLBACK && flags & VSHADOW_OPEN_USERSPACE))
		return -EINVAL;
	vs = calloc(1, sizeof(*vs));
	if (!vs)
		return -ENOMEM;
	vs->container = container;
	vs->ctx = -1;
	if (!(flags & VSHADOW_OPEN_USERSPACE))
		ret = kernel_open(vs, &(struct viommu_shadow_attach) {
			.size = sizeof(struct viommu_shadow_attach),
			.backend = VIOMMU_SHADOW_BACKEND_VFIO_TYPE1,
			.fd = container,
		});
	/*
	 * Fall back when the module cannot be had (no device node, no module
	 * behind it, no permission) or refuses the container (no type1
	 * backend, not a container it knows), keeping its error to say so.
	 */
	if (flags & VSHADOW_OPEN_USERSPACE ||
	    (ret && !(flags & VSHADOW_OPEN_NO_FALLBACK) && fallback_on(ret))) {
		vs->cause = ret;
		ret = user_open(vs);
	}
	log_open(vs, container, ret);
	if (ret) {
		vshadow_close(vs);	/* what user_open() allocated */
		return ret;
	}
	*out = vs;
	return 0;
}

int vshadow_fallback_cause(const struct vshadow *vs)
{
	return vs->mode == VSHADOW_MODE_USERSPACE ? vs->cause : 0;
}

int vshadow_open_iommufd(struct vshadow **out, int iommufd, uint32_t ioas_id,
			 const uint32_t *hwpts, uint32_t nr,
			 unsigned int flags)
{
	struct vshadow *vs;
	int ret;

	if (flags)
		return -EINVAL;
	vs = calloc(1, sizeof(*vs));
	if (!vs)
		return -ENOMEM;
	vs->container = iommufd;
	vs->ctx = -1;
	ret = kernel_open(vs, &(struct viommu_shadow_attach) {
		.size = sizeof(struct viommu_shadow_attach),
		.backend = VIOMMU_SHADOW_BACKEND_IOMMUFD,
		.fd = iommufd,
		.backend_id = ioas_id,
		.nr_dirty_hwpts = nr,
		.dirty_hwpts = (uintptr_t)hwpts,
	});
	vs->iommufd = true;
	log_open(vs, iommufd, ret);
	if (ret) {
		free(vs);
		return ret;
	}
	*out = vs;
	return 0;
}

int vshadow_set_hwpts(struct vshadow *vs, const uint32_t *hwpts, uint32_t nr)
{
	struct viommu_shadow_set_hwpts cmd = {
		.size = sizeof(cmd),
		.nr_dirty_hwpts = nr,
		.dirty_hwpts = (uintptr_t)hwpts,
	};
	int ret;

	if (!vs->iommufd)
		return -EOPNOTSUPP;
	if (vs->broken)
		return -EIO;
	ret = xioctl(vs->ctx, VIOMMU_SHADOW_SET_HWPTS, &cmd);
	if (ret == -EIO)
		vs->broken = true;
	/* DIRTY came or went with the list */
	return ret ?: kernel_info(vs);
}

void vshadow_close(struct vshadow *vs)
{
	if (!vs)
		return;
	if (vs->ctx >= 0)
		close(vs->ctx);
	free(vs->bitmap);
	free(vs->scratch);
	free(vs->info);
	free(vs->rec);
	free(vs->ent);
	free(vs->maps);
	free(vs);
}

int vshadow_map(struct vshadow *vs, uint64_t iova, uint64_t length,
		void *vaddr, unsigned int prot, uint64_t cookie)
{
	struct viommu_shadow_map cmd = {
		.size = sizeof(cmd),
		.flags = prot,
		.iova = iova,
		.length = length,
		.vaddr = (uintptr_t)vaddr,
		.cookie = cookie,
	};
	int ret;

	if (vs->broken)
		return -EIO;
	if (vs->mode == VSHADOW_MODE_USERSPACE)
		return user_map(vs, iova, length, vaddr, prot, cookie);
	ret = xioctl(vs->ctx, VIOMMU_SHADOW_MAP, &cmd);
	if (ret == -EIO || ret == -ENODEV)
		vs->broken = true;
	kernel_einval(vs, ret);
	return ret;
}

/*
 * A log the module would take; the library sets bits the same way where
 * the module does not (an older module, the fallback).
 */
static int log_check(const struct vshadow *vs, const struct vshadow_log *log)
{
	if (!log || log->size < sizeof(*log) || log->__reserved ||
	    !log->words || (uintptr_t)log->words % 8 || !log->pages ||
	    !vs->pgsize || log->base % vs->pgsize ||
	    log->pages - 1 > (UINT64_MAX - log->base) / vs->pgsize)
		return -EINVAL;
	return 0;
}

/*
 * One walk of [@start, @last]: an unmap, or with @sync a sync, its bits
 * into @log when not NULL.  The checks every entry point shares, then the
 * module's walk or the fallback's.
 */
static int walk(struct vshadow *vs, bool sync, uint64_t start, uint64_t last,
		unsigned int flags, const struct vshadow_log *log,
		vshadow_unmap_fn fn, void *opaque)
{
	struct sink sink = {
		.fn = fn, .opaque = opaque, .log = log, .pgsize = vs->pgsize,
	};
	int ret;

	if (flags & ~(VSHADOW_UNMAP_DIRTY | VSHADOW_UNMAP_WHOLE) ||
	    ((sync || log) && !(flags & VSHADOW_UNMAP_DIRTY)) || start > last)
		return -EINVAL;
	if (vs->broken)
		return -EIO;
	ret = log ? log_check(vs, log) : 0;
	if (ret)
		return ret;
	if (vs->mode == VSHADOW_MODE_USERSPACE)
		ret = user_walk(vs, sync, start, last, flags, &sink);
	else
		ret = kernel_walk(vs, sync ? VIOMMU_SHADOW_SYNC_DIRTY :
				  VIOMMU_SHADOW_UNMAP_RANGE, start, last,
				  flags, &sink);
	return ret ?: sink.stop;
}

int vshadow_unmap_range(struct vshadow *vs, uint64_t start, uint64_t last,
			unsigned int flags, vshadow_unmap_fn fn, void *opaque)
{
	return walk(vs, false, start, last, flags, NULL, fn, opaque);
}

int vshadow_unmap_batch(struct vshadow *vs, const struct vshadow_range *ranges,
			uint32_t nr, unsigned int flags, vshadow_unmap_fn fn,
			void *opaque, uint32_t *done)
{
	struct sink sink = { .fn = fn, .opaque = opaque };
	uint32_t i, n = 0;
	int ret = 0;

	if (done)
		*done = 0;
	if (flags & ~(VSHADOW_UNMAP_DIRTY | VSHADOW_UNMAP_WHOLE) || !nr)
		return -EINVAL;
	for (i = 0; i < nr; i++)
		if (ranges[i].start > ranges[i].last)
			return -EINVAL;
	if (vs->broken)
		return -EIO;
	if (vs->mode == VSHADOW_MODE_USERSPACE) {
		for (; n < nr && !ret && !sink.stop; n += !ret && !sink.stop)
			ret = user_walk(vs, false, ranges[n].start,
					ranges[n].last, flags, &sink);
	} else {
		ret = kernel_batch(vs, ranges, nr, flags, &sink, &n);
	}
	if (done)
		*done = n;
	return ret ?: sink.stop;
}

int vshadow_sync_dirty_log(struct vshadow *vs, uint64_t start, uint64_t last,
			   unsigned int flags, const struct vshadow_log *log,
			   vshadow_unmap_fn fn, void *opaque)
{
	return log ? walk(vs, true, start, last, flags, log, fn, opaque) :
		     -EINVAL;
}

int vshadow_unmap_range_log(struct vshadow *vs, uint64_t start, uint64_t last,
			    unsigned int flags, const struct vshadow_log *log,
			    vshadow_unmap_fn fn, void *opaque)
{
	return log ? walk(vs, false, start, last, flags, log, fn, opaque) :
		     -EINVAL;
}

int vshadow_sync_dirty(struct vshadow *vs, uint64_t start, uint64_t last,
		       unsigned int flags, vshadow_unmap_fn fn, void *opaque)
{
	return walk(vs, true, start, last, flags, NULL, fn, opaque);
}

/*
 * The sizes of the first versions (1.0) of the structs callers fill in:
 * the smallest the library takes.  They stay when fields are added.
 */
#define MAP_ENTRY_SIZE_1_0 \
	(offsetof(struct vshadow_map_entry, cookie) + sizeof(uint64_t))
#define INFO_SIZE_1_0 \
	(offsetof(struct vshadow_info, mappings_avail) + sizeof(uint64_t))

/* Bytes of a caller's struct past what the library knows: all 0? */
static bool tail_zero(const void *p, size_t known, size_t size)
{
	const unsigned char *c = p;

	for (; known < size; known++)
		if (c[known])
			return false;
	return true;
}

/* Map @nr entries of @k; *@mapped: how many, in order, before an error. */
static int map_some(struct vshadow *vs, const struct viommu_shadow_map_entry *k,
		    uint32_t nr, uint32_t *mapped)
{
	struct viommu_shadow_map_batch b = {
		.size = sizeof(b),
		.entries = (uintptr_t)k,
		.nr_entries = nr,
		.entry_size = sizeof(k[0]),
	};
	int ret = 0;

	*mapped = 0;
	if (vs->mode == VSHADOW_MODE_USERSPACE) {
		for (; *mapped < nr && !ret; *mapped += !ret)
			ret = user_map(vs, k[*mapped].iova, k[*mapped].length,
				       (void *)(uintptr_t)k[*mapped].vaddr,
				       k[*mapped].flags, k[*mapped].cookie);
		return ret;
	}
	ret = xioctl(vs->ctx, VIOMMU_SHADOW_MAP_BATCH, &b);
	*mapped = b.out_done;
	if (ret == -EIO || ret == -ENODEV)
		vs->broken = true;
	kernel_einval(vs, ret);
	return ret;
}

int vshadow_map_batch(struct vshadow *vs,
		      const struct vshadow_map_entry *entries, uint32_t nr,
		      size_t entry_size, uint32_t *done)
{
	struct viommu_shadow_map_entry *k;
	struct vshadow_map_entry e;
	const char *p;
	uint32_t i = 0, n, mapped;
	int ret = 0, refused;

	if (done)
		*done = 0;
	if (!nr || entry_size < MAP_ENTRY_SIZE_1_0)
		return -EINVAL;
	if (vs->broken)
		return -EIO;
	if (!vs->ent)
		vs->ent = calloc(NR_RECORDS, sizeof(*vs->ent));
	if (!vs->ent)
		return -ENOMEM;
	k = vs->ent;
	while (i < nr && !ret) {
		/* Up to NR_RECORDS entries, to the first the library refuses. */
		refused = 0;
		for (n = 0; n < NR_RECORDS && i + n < nr; n++) {
			p = (const char *)entries + (size_t)(i + n) * entry_size;
			if (!tail_zero(p, sizeof(e), entry_size)) {
				refused = -E2BIG;
				break;
			}
			/* an older caller's entry: what it lacks is 0 */
			memset(&e, 0, sizeof(e));
			memcpy(&e, p, entry_size < sizeof(e) ? entry_size :
							       sizeof(e));
			k[n] = (struct viommu_shadow_map_entry) {
				.flags = e.prot,
				.iova = e.iova,
				.length = e.length,
				.vaddr = (uintptr_t)e.vaddr,
				.cookie = e.cookie,
			};
		}
		ret = n ? map_some(vs, k, n, &mapped) : 0;
		i += n ? mapped : 0;
		if (!ret)
			ret = refused;
	}
	if (done)
		*done = i;
	return ret;
}

int vshadow_get_info(struct vshadow *vs, struct vshadow_info *info)
{
	struct viommu_shadow_info k = { .size = sizeof(k) };
	struct vshadow_info out;
	size_t size = info->size;
	int ret;

	if (size < INFO_SIZE_1_0)
		return -EINVAL;
	memset(&out, 0, sizeof(out));		/* padding included */
	out.mode = vs->mode;
	out.dirty = vs->dirty;
	out.broken = vs->broken;
	out.pgsize = vs->pgsize;
	out.nr_mappings = vs->nr;
	out.mapped_bytes = vs->mapped_bytes;
	out.high_water = vs->high_water;
	out.mappings_avail = UINT64_MAX;
	if (vs->mode == VSHADOW_MODE_KERNEL) {
		ret = xioctl(vs->ctx, VIOMMU_SHADOW_GET_INFO, &k);
		if (ret)
			return ret;
		out.broken = k.out_flags & VIOMMU_SHADOW_INFO_OUT_BROKEN;
		out.pgsize = k.pgsize;
		out.nr_mappings = k.nr_mappings;
		out.mapped_bytes = k.mapped_bytes;
		out.high_water = k.high_water;
		out.mappings_avail = k.mappings_avail;
		vs->pgsize = k.pgsize;	/* as the module last learned it */
	}
	/* A caller's newer struct: the fields unknown here read 0. */
	if (size > sizeof(out)) {
		memset((char *)info + sizeof(out), 0, size - sizeof(out));
		size = sizeof(out);
	}
	out.size = size;
	memcpy(info, &out, size);
	return 0;
}
