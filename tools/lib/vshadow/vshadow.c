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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/vfio.h>
#include <linux/viommu_shadow.h>

#include "vshadow.h"

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
static_assert(!(VSHADOW_MAP_READ ^ VIOMMU_SHADOW_MAP_READ));
static_assert(!(VSHADOW_MAP_WRITE ^ VIOMMU_SHADOW_MAP_WRITE));

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
	bool broken;
	uint64_t pgsize;
	uint64_t bitmap_max;		/* type1's max_dirty_bitmap_size */
	uint64_t *bitmap;		/* a dirty bitmap buffer, grown */
	uint64_t bitmap_bytes;
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

/* A bitmap buffer of at least @bytes (whole words), zeroed. */
static int bitmap_get(struct vshadow *vs, uint64_t bytes)
{
	uint64_t *p;

	bytes = (bytes + 7) & ~7ULL;
	if (bytes > vs->bitmap_bytes) {
		p = realloc(vs->bitmap, bytes);
		if (!p)
			return -ENOMEM;
		vs->bitmap = p;
		vs->bitmap_bytes = bytes;
	}
	memset(vs->bitmap, 0, bytes);
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

static int kernel_walk(struct vshadow *vs, unsigned long req, uint64_t start,
		       uint64_t last, unsigned int flags, vshadow_unmap_fn fn,
		       void *opaque)
{
	struct viommu_shadow_unmap_record rec[NR_RECORDS];
	struct viommu_shadow_unmap_range r;
	struct vshadow_unmapped m;
	uint32_t i;
	int ret;

	if ((flags & VSHADOW_UNMAP_DIRTY) && !vs->bitmap &&
	    bitmap_get(vs, BITMAP_FIRST))
		return -ENOMEM;
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
		ret = xioctl(vs->ctx, req, &r);
		/* Exact progress: the records are valid whatever ret is. */
		for (i = 0; fn && i < r.out_nr_records; i++) {
			m = (struct vshadow_unmapped) {
				.iova = rec[i].iova,
				.length = rec[i].length,
				.cookie = rec[i].cookie,
				.flags = rec[i].flags,
				.nr_pages = rec[i].length / vs->pgsize,
			};
			if (m.flags & VSHADOW_UNMAPPED_DIRTY)
				m.dirty = vs->bitmap + rec[i].bitmap_offset / 64;
			fn(opaque, &m);
		}
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
		if (ret || !(r.out_flags & VIOMMU_SHADOW_UNMAP_OUT_MORE))
			return ret;
		start = r.out_resume;
	}
}

/* ---- the userspace fallback ---- */

/* type1's page size, and whether (and how far) it can track dirty pages. */
static int user_open(struct vshadow *vs)
{
	struct vfio_iommu_type1_info *info;
	struct vfio_info_cap_header *cap;
	struct vfio_iommu_type1_info_cap_migration *mig;
	size_t sz = 4096;
	uint32_t off;
	int ret;

	info = calloc(1, sz);
	if (!info)
		return -ENOMEM;
	info->argsz = sz;
	ret = xioctl(vs->container, VFIO_IOMMU_GET_INFO, info);
	/* Not a container with type1 set (EINVAL), or no VFIO file (ENOTTY). */
	if (ret == -EINVAL || ret == -ENOTTY)
		ret = -ENODEV;
	else if (!ret && (!(info->flags & VFIO_IOMMU_INFO_PGSIZES) ||
			  !info->iova_pgsizes))
		ret = -ENODEV;
	if (ret) {
		free(info);
		return ret;
	}
	vs->pgsize = info->iova_pgsizes & -info->iova_pgsizes;
	off = (info->flags & VFIO_IOMMU_INFO_CAPS) ? info->cap_offset : 0;
	while (off && off + sizeof(*cap) <= sz) {
		cap = (struct vfio_info_cap_header *)((char *)info + off);
		if (cap->id == VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION &&
		    off + sizeof(*mig) <= sz) {
			mig = (struct vfio_iommu_type1_info_cap_migration *)cap;
			vs->dirty = mig->pgsize_bitmap & vs->pgsize;
			vs->bitmap_max = mig->max_dirty_bitmap_size;
		}
		off = cap->next;
	}
	free(info);
	vs->mode = VSHADOW_MODE_USERSPACE;
	return 0;
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
	ret = xioctl(vs->container, VFIO_IOMMU_MAP_DMA, &map);
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

/* type1's unmap (or sync) of one mapping, its bits in vs->bitmap. */
static int user_one(struct vshadow *vs, bool sync, const struct mapping *m,
		    uint64_t bytes, bool dirty)
{
	struct {
		struct vfio_iommu_type1_dma_unmap unmap;
		struct vfio_bitmap bitmap;
	} u = {
		.unmap = {
			.argsz = sizeof(u.unmap),
			.iova = m->iova,
			.size = m->last - m->iova + 1,
		},
	};
	struct {
		struct vfio_iommu_type1_dirty_bitmap hdr;
		struct vfio_iommu_type1_dirty_bitmap_get get;
	} s = {
		.hdr = {
			.argsz = sizeof(s),
			.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
		},
		.get = {
			.iova = m->iova,
			.size = m->last - m->iova + 1,
			.bitmap = {
				.pgsize = vs->pgsize,
				.size = bytes,
				.data = (__u64 *)vs->bitmap,
			},
		},
	};
	int ret;

	if (sync) {
		ret = xioctl(vs->container, VFIO_IOMMU_DIRTY_PAGES, &s);
		/* type1: EINVAL when tracking is off; the range is aligned */
		return ret == -EINVAL ? -ENODATA : ret;
	}
	if (dirty) {
		u.unmap.argsz = sizeof(u);
		u.unmap.flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
		u.bitmap = (struct vfio_bitmap) {
			.pgsize = vs->pgsize,
			.size = bytes,
			.data = (__u64 *)vs->bitmap,
		};
	}
	ret = xioctl(vs->container, VFIO_IOMMU_UNMAP_DMA, &u);
	if (ret == -EINVAL && dirty)
		return -ENODATA;
	if (ret)
		return ret;
	/* Not what this handle mapped: the container was changed directly. */
	if (u.unmap.size != m->last - m->iova + 1) {
		vs->broken = true;
		return -EIO;
	}
	return 0;
}

static int user_walk(struct vshadow *vs, bool sync, uint64_t start,
		     uint64_t last, unsigned int flags, vshadow_unmap_fn fn,
		     void *opaque)
{
	bool dirty = flags & VSHADOW_UNMAP_DIRTY;
	struct vshadow_unmapped out;
	uint64_t first, end, i, pages, bytes;
	int ret = 0;

	if (dirty && !vs->dirty)
		return -EOPNOTSUPP;
	if (last > vs->high_water)
		last = vs->high_water;	/* nothing lies above */
	first = user_find(vs, start);
	for (end = first; end < vs->nr && vs->maps[end].iova <= last; end++)
		;
	if (start > last || first == end)
		return 0;
	if (!(flags & VSHADOW_UNMAP_WHOLE) &&
	    (vs->maps[first].iova < start || vs->maps[end - 1].last > last))
		return -EINVAL;

	for (i = first; i < end; i++) {
		const struct mapping *m = &vs->maps[i];

		pages = (m->last - m->iova + 1) / vs->pgsize;
		bytes = ((pages + 63) / 64) * 8;
		if (dirty && bytes > (vs->bitmap_max ?: BITMAP_MAX)) {
			ret = -E2BIG;
			break;
		}
		if (dirty && bitmap_get(vs, bytes)) {
			ret = -ENOMEM;
			break;
		}
		ret = user_one(vs, sync, m, bytes, dirty);
		if (ret)
			break;
		out = (struct vshadow_unmapped) {
			.iova = m->iova,
			.length = m->last - m->iova + 1,
			.cookie = m->cookie,
			.nr_pages = pages,
		};
		if (dirty) {
			out.flags |= VSHADOW_UNMAPPED_DIRTY;
			out.dirty = vs->bitmap;
		}
		if (m->iova < start || m->last > last)
			out.flags |= VSHADOW_UNMAPPED_CUT;
		if (fn)
			fn(opaque, &out);
		if (!sync)
			vs->mapped_bytes -= out.length;
	}
	/* Exact progress: forget exactly the mappings given to @fn. */
	if (!sync) {
		memmove(&vs->maps[first], &vs->maps[i],
			(vs->nr - i) * sizeof(vs->maps[0]));
		vs->nr -= i - first;
	}
	return ret;
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
		free(vs);
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
	return ret;
}

int vshadow_unmap_range(struct vshadow *vs, uint64_t start, uint64_t last,
			unsigned int flags, vshadow_unmap_fn fn, void *opaque)
{
	if (flags & ~(VSHADOW_UNMAP_DIRTY | VSHADOW_UNMAP_WHOLE) ||
	    start > last)
		return -EINVAL;
	if (vs->broken)
		return -EIO;
	if (vs->mode == VSHADOW_MODE_USERSPACE)
		return user_walk(vs, false, start, last, flags, fn, opaque);
	return kernel_walk(vs, VIOMMU_SHADOW_UNMAP_RANGE, start, last, flags,
			   fn, opaque);
}

int vshadow_sync_dirty(struct vshadow *vs, uint64_t start, uint64_t last,
		       unsigned int flags, vshadow_unmap_fn fn, void *opaque)
{
	if (flags & ~(VSHADOW_UNMAP_DIRTY | VSHADOW_UNMAP_WHOLE) ||
	    !(flags & VSHADOW_UNMAP_DIRTY) || start > last)
		return -EINVAL;
	if (vs->broken)
		return -EIO;
	if (vs->mode == VSHADOW_MODE_USERSPACE)
		return user_walk(vs, true, start, last, flags, fn, opaque);
	return kernel_walk(vs, VIOMMU_SHADOW_SYNC_DIRTY, start, last, flags,
			   fn, opaque);
}

int vshadow_get_info(struct vshadow *vs, struct vshadow_info *info)
{
	struct viommu_shadow_info k = { .size = sizeof(k) };
	int ret;

	*info = (struct vshadow_info) {
		.mode = vs->mode,
		.dirty = vs->dirty,
		.broken = vs->broken,
		.pgsize = vs->pgsize,
		.nr_mappings = vs->nr,
		.mapped_bytes = vs->mapped_bytes,
		.high_water = vs->high_water,
	};
	if (vs->mode == VSHADOW_MODE_USERSPACE)
		return 0;
	ret = xioctl(vs->ctx, VIOMMU_SHADOW_GET_INFO, &k);
	if (ret)
		return ret;
	info->broken = k.out_flags & VIOMMU_SHADOW_INFO_OUT_BROKEN;
	info->pgsize = k.pgsize;
	info->nr_mappings = k.nr_mappings;
	info->mapped_bytes = k.mapped_bytes;
	info->high_water = k.high_water;
	return 0;
}
