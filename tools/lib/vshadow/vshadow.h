/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvshadow: shadow DMA mappings with a range unmap that returns each
 * mapping's cookie and dirty bits, for VMMs, over a VFIO type1 container.
 *
 * With the viommu_shadow module loaded, every call is one ioctl on
 * /dev/viommu_shadow (a few for an unmap whose output does not fit one
 * buffer).  Without it, or when the module refuses the container, the
 * library does the same work in userspace: it keeps its own ordered list of
 * the mappings it was given and makes one type1 call per run of
 * back-to-back mappings, with one dirty bitmap for the run.  The results
 * are the same either way (see vshadow_unmap_range()); only the cost
 * differs, and which failures can be reported (see vshadow_info).
 * Which one a handle uses, and why, is never a secret: vshadow_get_info()
 * and vshadow_fallback_cause() say it, and with VSHADOW_DEBUG=1 in the
 * environment every vshadow_open_type1() logs its decision to stderr
 * ("libvshadow: container 7: the module", "libvshadow: container 7:
 * userspace fallback: /dev/viommu_shadow: No such file or directory").
 *
 * Every function returns 0 or a negative errno.  A struct vshadow is not
 * thread-safe: callers serialise their calls on one (the module serialises
 * them too, but the userspace fallback does not).
 *
 * The ABI grows without breaking binaries built against an older header:
 * the structs a caller fills in (struct vshadow_info,
 * struct vshadow_map_entry) say their size, as the caller knows it, and
 * the library reads and writes no byte past it; the struct the library
 * fills in (struct vshadow_unmapped) says its size, as the library knows
 * it, and a field added later is read only once that size covers it.
 * Fields are only ever added at the end; functions are added under a new
 * symbol version (VSHADOW_1.1, ...).  The SONAME is libvshadow.so.1: 1.0
 * replaced 0.x, which had no users, with this design.
 */
#ifndef _VSHADOW_H
#define _VSHADOW_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(VSHADOW_BUILD)
#define VSHADOW_API	__attribute__((visibility("default")))
#else
#define VSHADOW_API
#endif

#define VSHADOW_VERSION_MAJOR	1
#define VSHADOW_VERSION_MINOR	1

/* The library's version, "MAJOR.MINOR", as it was built. */
VSHADOW_API const char *vshadow_version(void);

struct vshadow;

/* vshadow_open_type1() flags */
#define VSHADOW_OPEN_NO_FALLBACK	0x1u	/* the module or nothing */
#define VSHADOW_OPEN_USERSPACE		0x2u	/* never the module */

/* vshadow_info::mode */
#define VSHADOW_MODE_KERNEL		1
#define VSHADOW_MODE_USERSPACE		2

/**
 * vshadow_open_type1() - shadow the mappings of a VFIO type1 container
 * @out: the new handle
 * @container: a VFIO container fd with a type1 IOMMU set (VFIO_SET_IOMMU)
 * @flags: VSHADOW_OPEN_*
 *
 * Uses the viommu_shadow module when /dev/viommu_shadow exists and the
 * module takes the container, else the userspace fallback (unless
 * VSHADOW_OPEN_NO_FALLBACK: then the module's error).  The library falls
 * back when the module cannot be had (-ENOENT: no device node, as in a
 * private /dev; -ENXIO or -ENODEV: a node but no module; -EACCES: the
 * node's permissions) or refuses the container (-ENODEV, -EOPNOTSUPP,
 * -EINVAL); vshadow_fallback_cause() keeps that error.  The handle does
 * not own @container; close the handle first.
 *
 * Return: 0, -EINVAL (unknown @flags, or both of them), -EBADF (@container
 * is not an open file descriptor), -ENODEV (no type1 IOMMU set on
 * @container, or it is no VFIO container), -ENOMEM; with
 * VSHADOW_OPEN_NO_FALLBACK, the module's error (above, or any other);
 * without, the module's errors that say the container is unusable (an LSM
 * denial, say) and type1's.
 */
VSHADOW_API int vshadow_open_type1(struct vshadow **out, int container,
				   unsigned int flags);

/**
 * vshadow_open_iommufd() - shadow the mappings of an iommufd IOAS
 * @out: the new handle
 * @iommufd: an iommufd file (/dev/iommu)
 * @ioas_id: the IOAS
 * @hwpts: the @nr HWPTs of the IOAS whose dirty bits are read (every
 *	HWPT the VMM tracks dirty pages on), or NULL with @nr 0: then no
 *	dirty bits
 * @flags: 0
 *
 * The module only: iommufd has no userspace fallback here (the library's
 * fallback is type1's calls).  The rest is as for a type1 handle; the
 * dirty bits come from the HWPTs, which the VMM keeps tracking while
 * named (see vshadow_set_hwpts()).
 *
 * Return: 0, -EINVAL (@flags, @nr over 8, @hwpts without @nr; an IOAS id
 * iommufd does not take), -ENOENT (no /dev/viommu_shadow; no such IOAS or
 * HWPT), -ENXIO or -ENODEV (no module), -EOPNOTSUPP (no iommufd backend
 * module, or a HWPT that cannot track), -EBADF, -ENOMEM, or the module's
 * error.
 */
VSHADOW_API int vshadow_open_iommufd(struct vshadow **out, int iommufd,
				     uint32_t ioas_id, const uint32_t *hwpts,
				     uint32_t nr, unsigned int flags);

/**
 * vshadow_set_hwpts() - read dirty bits from these HWPTs from now on
 *
 * For an iommufd handle whose IOAS gained a HWPT (a device hot-added) or
 * is about to lose one: the list is replaced whole, or not at all (the
 * old one stays on any error).  @nr 0 leaves the handle without dirty
 * bits.  Drop a HWPT from the list before destroying it.
 *
 * Return: 0, -EOPNOTSUPP (not an iommufd handle, or a HWPT that cannot
 * track), -EINVAL (@nr over 8, @hwpts without @nr), -ENOENT (no such
 * HWPT), -EIO (the handle is broken), or the module's error.
 */
VSHADOW_API int vshadow_set_hwpts(struct vshadow *vs, const uint32_t *hwpts,
				  uint32_t nr);

/* Forget the handle; the mappings stay in the container, which owns them. */
VSHADOW_API void vshadow_close(struct vshadow *vs);

/* vshadow_map() @prot */
#define VSHADOW_MAP_READ	0x1u
#define VSHADOW_MAP_WRITE	0x2u

/**
 * vshadow_map() - map [@iova, @iova + @length - 1] to @vaddr in the container
 * @cookie: the caller's value, given back when the mapping is unmapped
 *
 * Return: 0; -EEXIST (overlaps a mapping of this handle; nothing changed);
 * -EINVAL (no @prot, @length 0, or not aligned to the IOMMU page size,
 * which may have changed: vshadow_get_info() has the current one);
 * -EOPNOTSUPP (@prot bits other than READ and WRITE); -EOVERFLOW (the
 * range wraps); -ERANGE (it would end at 2^64 - 1, which type1 cannot
 * unmap); -ENOSPC (the module's max_mappings per
 * context, or type1's dma_entry_limit: the fallback has no limit of its
 * own); or type1's own error (-ENOMEM over RLIMIT_MEMLOCK, -EFAULT,
 * -EEXIST for a mapping made directly on the container...).
 */
VSHADOW_API int vshadow_map(struct vshadow *vs, uint64_t iova,
			    uint64_t length, void *vaddr, unsigned int prot,
			    uint64_t cookie);

/**
 * struct vshadow_map_entry - one mapping of vshadow_map_batch()
 * @iova: as for vshadow_map()
 * @length: likewise
 * @vaddr: likewise
 * @prot: likewise
 * @cookie: likewise
 */
struct vshadow_map_entry {
	uint64_t iova;
	uint64_t length;
	void *vaddr;
	unsigned int prot;
	uint64_t cookie;
};

/**
 * vshadow_map_batch() - vshadow_map() of @nr entries, in order
 * @entries: @nr entries, each @entry_size bytes apart
 * @entry_size: sizeof(struct vshadow_map_entry) as the caller knows it;
 *	bytes of an entry the library does not know must be 0
 * @done: out, the entries mapped (may be NULL)
 *
 * With the module, one system call per 256 entries (VIOMMU_SHADOW_MAP_BATCH);
 * in the fallback, one type1 call per entry (type1 has no batch).  On a
 * failure at entry k the call fails with that entry's error, as
 * vshadow_map() has it, and *@done is k: the entries before it are
 * mapped, it and those after it are not.
 *
 * Return: 0; -EINVAL (@nr 0, @entry_size below the first version's);
 * -E2BIG (an entry's bytes unknown to the library are not 0); or an
 * entry's error.
 */
VSHADOW_API int vshadow_map_batch(struct vshadow *vs,
				  const struct vshadow_map_entry *entries,
				  uint32_t nr, size_t entry_size,
				  uint32_t *done);

/* struct vshadow_unmapped::flags */
#define VSHADOW_UNMAPPED_DIRTY		0x1u	/* @dirty is valid */
#define VSHADOW_UNMAPPED_CUT		0x2u	/* reached outside the range */
#define VSHADOW_UNMAPPED_DIRTY_LOST	0x4u	/* take all pages as dirty */
#define VSHADOW_UNMAPPED_LOGGED		0x8u	/* bits in the log (1.1) */

/**
 * struct vshadow_unmapped - one mapping unmapped (or synced)
 * @size: sizeof(struct vshadow_unmapped) as the library knows it: a field
 *	added after 1.0 is there only if @size covers it
 * @flags: VSHADOW_UNMAPPED_*
 * @iova: its first IOVA, as mapped
 * @length: its length, as mapped: a whole mapping is always unmapped
 * @cookie: the cookie given to vshadow_map()
 * @dirty: with VSHADOW_UNMAPPED_DIRTY, its dirty bits: one per IOMMU page
 *	(vshadow_info::pgsize), the page at @iova in bit 0 of word 0; valid
 *	only during the callback.  NULL with VSHADOW_UNMAPPED_LOGGED: the
 *	bits went to the dirty log (see vshadow_sync_dirty_log())
 * @nr_pages: @length / pgsize
 */
struct vshadow_unmapped {
	uint32_t size;
	unsigned int flags;
	uint64_t iova;
	uint64_t length;
	uint64_t cookie;
	const uint64_t *dirty;
	uint64_t nr_pages;
};

/*
 * Called once per mapping, in IOVA order.  Return 0 to go on, or non-zero
 * (a negative errno) to stop the walk: the library then makes no further
 * call to the module (or to type1), every mapping the call in progress
 * already unmapped (or read) is still passed to the function, whatever it
 * returns, and the walk returns the first non-zero value it returned,
 * unless the walk failed of itself (its own error comes first).
 */
typedef int (*vshadow_unmap_fn)(void *opaque, const struct vshadow_unmapped *m);

/* vshadow_unmap_range() and vshadow_sync_dirty() flags */
#define VSHADOW_UNMAP_DIRTY	0x1u	/* want the dirty bits */
#define VSHADOW_UNMAP_WHOLE	0x2u	/* unmap cut mappings whole */

/**
 * vshadow_unmap_range() - unmap every mapping that intersects [@start, @last]
 * @start: first IOVA (any)
 * @last: last IOVA, inclusive (up to UINT64_MAX: the whole space)
 * @flags: VSHADOW_UNMAP_*; with VSHADOW_UNMAP_DIRTY, the container's
 *	dirty tracking must be running (VFIO_IOMMU_DIRTY_PAGES_FLAG_START)
 * @fn: called for each mapping unmapped, in IOVA order (may be NULL)
 *
 * Only live mappings are visited, and @last is first lowered to the
 * highest IOVA ever mapped: the cost does not depend on the range's size.
 * Without VSHADOW_UNMAP_WHOLE a mapping that crosses @start or @last fails
 * the call with -EINVAL before anything is unmapped.
 *
 * Progress is exact: whatever the return value, the mappings given to @fn
 * are unmapped (with their bits), the others are not.  A mapping whose
 * bits could not all be had (a failed call may have taken them) comes
 * with VSHADOW_UNMAPPED_DIRTY_LOST: take every page of it as dirty.
 *
 * Return: 0; -EINVAL (@start > @last, a cut mapping without
 * VSHADOW_UNMAP_WHOLE; the container's page size changed);
 * -ENODATA (dirty tracking is not running: the mapping the walk was at,
 * and those after it, are untouched);
 * -EOPNOTSUPP (the container cannot track dirty pages); -E2BIG (one
 * mapping's bitmap exceeds type1's limit); -EIO (the container no longer
 * has a mapping this handle made, or has one the VMM made in its place:
 * it was changed directly; the handle refuses every call from then on);
 * -ENOMEM; or type1's error.
 */
VSHADOW_API int vshadow_unmap_range(struct vshadow *vs, uint64_t start,
				    uint64_t last, unsigned int flags,
				    vshadow_unmap_fn fn, void *opaque);

/*
 * vshadow_sync_dirty() - as vshadow_unmap_range() with VSHADOW_UNMAP_DIRTY
 * (required), but the mappings stay: their dirty bits are read, and so
 * cleared in the container.
 */
VSHADOW_API int vshadow_sync_dirty(struct vshadow *vs, uint64_t start,
				   uint64_t last, unsigned int flags,
				   vshadow_unmap_fn fn, void *opaque);

/**
 * struct vshadow_log - a dirty log indexed by cookie (1.1)
 * @size: sizeof(struct vshadow_log) as the caller knows it
 * @__reserved: 0
 * @words: the log, aligned to 8 bytes: bit n is bit n % 64 of @words[n / 64]
 *	(the layout of KVM's dirty log and QEMU's little-endian bitmaps)
 * @base: the cookie of bit 0, a multiple of the page size
 *	(vshadow_info::pgsize)
 * @pages: the bits in the log, one per page of cookie space from @base
 */
struct vshadow_log {
	uint32_t size;
	uint32_t __reserved;
	uint64_t *words;
	uint64_t base;
	uint64_t pages;
};

/**
 * vshadow_sync_dirty_log() - vshadow_sync_dirty() into a dirty log (1.1)
 * @log: where the bits go, by cookie
 *
 * For a VMM whose cookies are its own page-aligned, linear addresses (a
 * guest-physical address, a ram_addr_t): page k of a mapping with cookie
 * c sets bit (c - @log->base) / pgsize + k of the log, when the mapping
 * fits it (c a multiple of pgsize, at least @log->base, its last page's
 * bit below @log->pages, and at most 32768 pages).  @fn then sees the
 * mapping with VSHADOW_UNMAPPED_LOGGED and no @dirty; a mapping that does
 * not fit comes with its bits as ever.  Bits are only ever set, each
 * word with one atomic OR: the VMM's other threads may set bits of the
 * log meanwhile, and keep them.  A mapping whose bits may be lost
 * (DIRTY_LOST) has every page set.  With a module that has
 * VIOMMU_SHADOW_FEATURE_DIRTY_LOG, the module sets the bits in the same
 * system call; otherwise (an older module, the fallback) the library
 * sets them from the bits it reads.
 *
 * Return: as vshadow_sync_dirty(); -EINVAL also for a log the module
 * would refuse (@size below 1.1's, @__reserved not 0, @words NULL or not
 * aligned to 8 bytes, @pages 0, @base not a multiple of pgsize, or a log
 * reaching past cookie 2^64 - 1), nothing done.
 */
VSHADOW_API int vshadow_sync_dirty_log(struct vshadow *vs, uint64_t start,
				       uint64_t last, unsigned int flags,
				       const struct vshadow_log *log,
				       vshadow_unmap_fn fn, void *opaque);

/*
 * vshadow_unmap_range_log() - vshadow_unmap_range() with
 * VSHADOW_UNMAP_DIRTY (required) into a dirty log, as
 * vshadow_sync_dirty_log() (1.1).
 */
VSHADOW_API int vshadow_unmap_range_log(struct vshadow *vs, uint64_t start,
					uint64_t last, unsigned int flags,
					const struct vshadow_log *log,
					vshadow_unmap_fn fn, void *opaque);

/**
 * struct vshadow_range - one range of vshadow_unmap_batch()
 * @start: first IOVA
 * @last: last IOVA, inclusive, @start <= @last
 */
struct vshadow_range {
	uint64_t start;
	uint64_t last;
};

/**
 * vshadow_unmap_batch() - vshadow_unmap_range() of @nr ranges, in order
 * @done: out, the ranges done whole (may be NULL)
 *
 * For a VMM with several invalidations queued: with the module, one
 * system call (VIOMMU_SHADOW_UNMAP_BATCH) for as many ranges as its
 * records and bits fit, each range unmapped exactly as
 * vshadow_unmap_range() would; in the fallback, one range after the
 * other.  @fn sees every mapping, in order of the ranges.  On a failure
 * in range k the call fails with that error and *@done is k (the mappings
 * given to @fn are unmapped, as ever).  After a stop by @fn, *@done
 * counts the range in progress if the call in progress finished it (the
 * module's call may have; the fallback's never counts it): calling again
 * from range *@done is always safe (a range with nothing left in it
 * unmaps nothing).
 *
 * Return: 0; -EINVAL (@nr 0, a range with @start > @last: nothing done);
 * or as vshadow_unmap_range().
 */
VSHADOW_API int vshadow_unmap_batch(struct vshadow *vs,
				    const struct vshadow_range *ranges,
				    uint32_t nr, unsigned int flags,
				    vshadow_unmap_fn fn, void *opaque,
				    uint32_t *done);

/**
 * struct vshadow_info - the handle's state
 * @size: in, sizeof(struct vshadow_info) as the caller knows it; out, the
 *	bytes the library filled in (the fields it knows)
 * @mode: VSHADOW_MODE_KERNEL or VSHADOW_MODE_USERSPACE
 * @dirty: the container can track dirty pages
 * @broken: the handle lost track of the container (see -EIO above)
 * @pgsize: the IOMMU page size: the unit of alignment and of a dirty bit
 * @nr_mappings: live mappings
 * @mapped_bytes: bytes they cover
 * @high_water: last IOVA of the highest mapping ever made, 0 if none
 * @mappings_avail: how many more mappings vshadow_map() takes before the
 *	module's per-context limit (its max_mappings) answers -ENOSPC;
 *	UINT64_MAX in the fallback, which has no limit of its own.  Either
 *	way type1's dma_entry_limit may answer -ENOSPC first.
 *
 * Identical in both modes, but for @mode and @mappings_avail.  (The module's statistics, such
 * as how many requests were clamped, are in its own GET_INFO and netlink
 * family, not here.)
 */
struct vshadow_info {
	uint32_t size;
	int mode;
	bool dirty;
	bool broken;
	uint64_t pgsize;
	uint64_t nr_mappings;
	uint64_t mapped_bytes;
	uint64_t high_water;
	uint64_t mappings_avail;
};

/*
 * vshadow_get_info() - the handle's state, in @info, whose @size the
 * caller sets.  Return: 0; -EINVAL (@size below 1.0's); or the module's
 * error.
 */
VSHADOW_API int vshadow_get_info(struct vshadow *vs,
				 struct vshadow_info *info);

/**
 * vshadow_fallback_cause() - why a handle is not the module's
 *
 * Return: 0 for a handle on the module, or one opened with
 * VSHADOW_OPEN_USERSPACE; else the module's negative errno that made
 * vshadow_open_type1() fall back (see there).
 */
VSHADOW_API int vshadow_fallback_cause(const struct vshadow *vs);

#ifdef __cplusplus
}
#endif

#endif /* _VSHADOW_H */
