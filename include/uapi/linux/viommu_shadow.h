/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * viommu_shadow: shadow DMA mappings over a VFIO container, and range unmap
 * with per-mapping dirty bitmaps.
 *
 * Despite the name, this interface is unrelated to iommufd's own "vIOMMU"
 * object (IOMMU_VIOMMU_ALLOC).  "vIOMMU" here means the emulated IOMMU of a
 * VMM, whose guest-visible IOVA space the shadow tree mirrors.
 */
#ifndef _UAPI_LINUX_VIOMMU_SHADOW_H
#define _UAPI_LINUX_VIOMMU_SHADOW_H

#include <linux/types.h>
#include <linux/ioctl.h>

/*
 * The ioctl type byte.  VFIO and iommufd share ';'.  0xBA is free in 6.1's
 * Documentation/userspace-api/ioctl/ioctl-number.rst; later kernels give
 * it to liveupdate, whose numbers (0x00-0x03, 0x40 and up) do not overlap
 * 0x20-0x2f, the range used here (the test-only mock uses 0x30-0x3f).
 */
#define VIOMMU_SHADOW_TYPE	0xBA
#define VIOMMU_SHADOW_BASE	0x20

/* Interface version reported by VIOMMU_SHADOW_GET_INFO. */
#define VIOMMU_SHADOW_API_VERSION	1

/**
 * DOC: General ioctl format
 *
 * Every ioctl takes one struct whose first field is ``__u32 size``, the
 * size of the struct as the caller knows it.  The kernel accepts any size
 * from the struct's first version up: a shorter, older struct is extended
 * with zeros, a longer, newer one is accepted if every byte the kernel does
 * not know is zero.  Output is written back up to the smaller of the two
 * sizes.  All 64-bit values and user pointers are ``__aligned_u64``; every
 * hole is an explicit ``__reserved`` field that must be zero.  IOVA ranges
 * are inclusive: ``[start, last]``, so the whole 64-bit space is
 * ``[0, ~0ULL]``.
 *
 * Errors shared by all ioctls:
 *
 * - ENOTTY: unknown ioctl number.
 * - EINVAL: ``size`` smaller than the first version of the struct, a
 *   non-zero ``__reserved`` field, or a field value out of its range.
 * - E2BIG: ``size`` larger than the kernel knows and a byte past the known
 *   part is non-zero.
 * - EOPNOTSUPP: a flag bit this kernel does not know.
 * - EFAULT: the struct or a buffer it points to is not accessible.
 * - EINTR: a fatal signal came while waiting for the context's lock.
 * - ENXIO: the context is not attached to a container yet.
 * - EIO: the context is broken (viommu_shadow_info::out_flags says so):
 *   it lost track of what its container holds, and refuses every call but
 *   GET_INFO from then on, changing nothing.  The call that found it out
 *   failed with EIO (also when the backend itself answered EIO), or
 *   ENODEV when the container lost its IOMMU.
 * - EPERM: a call that is forwarded to the container was made by a process
 *   other than the one that attached (the forwarded call needs that
 *   process's memory and accounting).
 */
enum {
	VIOMMU_SHADOW_CMD_ATTACH = VIOMMU_SHADOW_BASE,
	VIOMMU_SHADOW_CMD_GET_INFO,
	VIOMMU_SHADOW_CMD_MAP,
	VIOMMU_SHADOW_CMD_UNMAP_RANGE,
	VIOMMU_SHADOW_CMD_SYNC_DIRTY,
	VIOMMU_SHADOW_CMD_MAP_BATCH,
	VIOMMU_SHADOW_CMD_UNMAP_BATCH,
	VIOMMU_SHADOW_CMD_SET_HWPTS,
};

/**
 * enum viommu_shadow_backend - what a context forwards to
 * @VIOMMU_SHADOW_BACKEND_VFIO_TYPE1: a VFIO container (``/dev/vfio/vfio``)
 *	with a type1 IOMMU (``VFIO_TYPE1v2_IOMMU``, or v1) already set
 * @VIOMMU_SHADOW_BACKEND_IOMMUFD: an IOAS of an iommufd file
 *	(``/dev/iommu``); needs the viommu_shadow_iommufd module, built for
 *	kernels with IOMMUFD
 *
 * (The test-only mock backend's value is in its own test header.)
 */
enum viommu_shadow_backend {
	VIOMMU_SHADOW_BACKEND_NONE = 0,
	VIOMMU_SHADOW_BACKEND_VFIO_TYPE1 = 1,
	VIOMMU_SHADOW_BACKEND_IOMMUFD = 2,
};

/**
 * struct viommu_shadow_attach - ioctl(VIOMMU_SHADOW_ATTACH)
 * @size: sizeof(struct viommu_shadow_attach)
 * @flags: must be 0
 * @backend: enum viommu_shadow_backend
 * @fd: the backend's file descriptor: for VFIO_TYPE1 a VFIO container, for
 *	IOMMUFD an iommufd file
 * @backend_id: which object behind @fd: for IOMMUFD the IOAS id; 0 for
 *	VFIO_TYPE1
 * @nr_dirty_hwpts: IOMMUFD: entries in @dirty_hwpts, at most
 *	VIOMMU_SHADOW_DIRTY_HWPTS_MAX; 0 for VFIO_TYPE1
 * @dirty_hwpts: IOMMUFD: user pointer to an array of __u32 HWPT ids: every
 *	HWPT of the IOAS on which the VMM tracks dirty pages (an IOAS can
 *	back several; the bits of all are read and OR-ed, so name them all).
 *	With none, the context offers no dirty bits.  0 for VFIO_TYPE1.
 *
 * @backend_id replaced a reserved field that had to be 0; @nr_dirty_hwpts
 * and @dirty_hwpts were added later: a caller that passes the older,
 * shorter struct gets a context without dirty bits.
 *
 * IOMMUFD: the VMM keeps the HWPTs it named tracking (and alive) while
 * the context names them; VIOMMU_SHADOW_SET_HWPTS replaces the list (a
 * device hot-added behind a new HWPT, one removed).  iommufd does not let
 * the module check that a HWPT belongs to the IOAS or tracks now, and the
 * kernels this was tested on (6.12) read no bits, yet report success,
 * from a HWPT that does not track: such a context reports those pages
 * clean.
 *
 * Binds the context to a container for the rest of its life.  The context
 * holds a reference to the container file until it is closed.  Mappings
 * that already exist in the container, or that are later made directly on
 * it, are not known to the context.
 *
 * The context is bound to the attaching process's address space: forwarded
 * calls from any other process, or from the same one after execve(), fail
 * with EPERM.  That is this module's choice (type1 lets any process that
 * holds the container unmap): the context's argument page lives in the
 * attaching address space, and a forwarded MAP pins memory at a vaddr of
 * that address space.  So live update by exec (QEMU's cpr, which has
 * type1 re-register its vaddrs with VFIO_DMA_UNMAP_FLAG_VADDR, then
 * VFIO_DMA_MAP_FLAG_VADDR) is not supported.
 *
 * The container must have a type1 IOMMU set, v1 or v2; v2 is what VMMs
 * use, and the module only ever unmaps whole mappings, which both handle
 * alike.  Only v2 tracks dirty pages: on v1, GET_INFO lacks
 * VIOMMU_SHADOW_FEATURE_DIRTY and dirty requests fail with EOPNOTSUPP.
 *
 * Errors, in order: EOPNOTSUPP (non-zero @flags), EINVAL (more than
 * VIOMMU_SHADOW_DIRTY_HWPTS_MAX HWPTs, or a non-zero @dirty_hwpts with
 * none), EFAULT (@dirty_hwpts unreadable, whatever the backend), EINTR,
 * EBUSY (already attached), EOPNOTSUPP (unknown @backend, or its module
 * is not loaded), EBADF (@fd is not an open file), EINVAL (@fd is not
 * the backend's kind of file, a @backend_id the backend does not take,
 * or HWPTs for VFIO_TYPE1), ENOENT (IOMMUFD: no such IOAS, or a named
 * HWPT is not one), EOPNOTSUPP (IOMMUFD: a named HWPT's IOMMU cannot
 * track dirty pages), ENODEV (the container has no IOMMU set, or not
 * type1), ENOMEM, or an error of the forwarded container ioctls (an LSM
 * denial).
 */
struct viommu_shadow_attach {
	__u32 size;
	__u32 flags;
	__u32 backend;
	__s32 fd;
	__u32 backend_id;
	__u32 nr_dirty_hwpts;
	__aligned_u64 dirty_hwpts;
};

/* The most HWPTs one iommufd context reads dirty bits from. */
#define VIOMMU_SHADOW_DIRTY_HWPTS_MAX	8

#define VIOMMU_SHADOW_ATTACH	_IO(VIOMMU_SHADOW_TYPE, VIOMMU_SHADOW_CMD_ATTACH)

/* viommu_shadow_info::features, what this context can do */
#define VIOMMU_SHADOW_FEATURE_MAP		(1ULL << 0)
#define VIOMMU_SHADOW_FEATURE_UNMAP_RANGE	(1ULL << 1)
#define VIOMMU_SHADOW_FEATURE_DIRTY		(1ULL << 2)
#define VIOMMU_SHADOW_FEATURE_SET_HWPTS		(1ULL << 3)
#define VIOMMU_SHADOW_FEATURE_DIRTY_LOG		(1ULL << 4)

/* viommu_shadow_info::out_flags */
#define VIOMMU_SHADOW_INFO_OUT_BROKEN		(1U << 0)

/**
 * struct viommu_shadow_info - ioctl(VIOMMU_SHADOW_GET_INFO)
 * @size: sizeof(struct viommu_shadow_info)
 * @flags: must be 0
 * @version: out, VIOMMU_SHADOW_API_VERSION
 * @backend: out, the attached enum viommu_shadow_backend, or 0
 * @features: out, VIOMMU_SHADOW_FEATURE_* this context offers: MAP and
 *	UNMAP_RANGE always; DIRTY once attached to a backend that can track
 *	dirty pages, as the backend itself says (for VFIO_TYPE1: the
 *	container reports type1's migration capability; iommufd's
 *	compatibility container, also /dev/vfio/vfio, does not; for
 *	IOMMUFD: while the context names HWPTs); SET_HWPTS when the backend
 *	takes VIOMMU_SHADOW_SET_HWPTS (IOMMUFD); DIRTY_LOG with DIRTY, when
 *	UNMAP_RANGE and SYNC_DIRTY take VIOMMU_SHADOW_UNMAP_DIRTY_LOG
 * @pgsize: out, the backend's IOVA page size (the smallest one): the unit
 *	of alignment for MAP and of one dirty bit; 0 when not attached.  The
 *	backend may change it (type1 does as groups join its container): it
 *	is asked again whenever it refuses a MAP or an unmap with EINVAL,
 *	and at SET_HWPTS, so after such a call this is the current one.
 * @nr_mappings: out, live shadow mappings
 * @mapped_bytes: out, bytes covered by live shadow mappings
 * @high_water: out, last byte of the highest IOVA ever mapped through this
 *	context; 0 if nothing was ever mapped (no mapping can end at 0).  It
 *	never goes down, see VIOMMU_SHADOW_UNMAP_RANGE.
 * @nr_maps: out, successful MAP calls
 * @nr_unmaps: out, mappings unmapped by UNMAP_RANGE
 * @nr_clamped: out, UNMAP_RANGE calls whose @last was clamped to
 *	@high_water
 * @nr_bisect_refused: out, UNMAP_RANGE calls refused because the range cut
 *	a mapping and VIOMMU_SHADOW_UNMAP_WHOLE was not given
 * @mappings_avail: out, how many more mappings MAP accepts before it fails
 *	with ENOSPC: the module's per-context limit (its max_mappings
 *	parameter when the context was opened, 65535 by default) less
 *	@nr_mappings.  An ENOSPC from MAP while this is not 0 is the
 *	backend's own (type1's dma_entry_limit).
 * @out_flags: out, VIOMMU_SHADOW_INFO_OUT_BROKEN: the context no longer
 *	knows what its container holds, and every call but GET_INFO fails
 *	with EIO (see "Broken contexts" in the documentation); close it and
 *	use the container directly
 * @__reserved: must be 0
 *
 * @mappings_avail and what follows were added after the first version: a
 * caller whose @size ends before a field does not get it.
 *
 * Works before ATTACH too, from any process, and on a broken context.
 *
 * Errors: EOPNOTSUPP (non-zero @flags), EINVAL (non-zero @__reserved),
 * EFAULT, EINTR.
 */
struct viommu_shadow_info {
	__u32 size;
	__u32 flags;
	__u32 version;
	__u32 backend;
	__aligned_u64 features;
	__aligned_u64 pgsize;
	__aligned_u64 nr_mappings;
	__aligned_u64 mapped_bytes;
	__aligned_u64 high_water;
	__aligned_u64 nr_maps;
	__aligned_u64 nr_unmaps;
	__aligned_u64 nr_clamped;
	__aligned_u64 nr_bisect_refused;
	__aligned_u64 mappings_avail;
	__u32 out_flags;
	__u32 __reserved;
};

#define VIOMMU_SHADOW_GET_INFO	_IO(VIOMMU_SHADOW_TYPE, VIOMMU_SHADOW_CMD_GET_INFO)

/* viommu_shadow_map::flags, the device's access (at least one is needed) */
#define VIOMMU_SHADOW_MAP_READ		(1U << 0)
#define VIOMMU_SHADOW_MAP_WRITE		(1U << 1)

/**
 * struct viommu_shadow_map - ioctl(VIOMMU_SHADOW_MAP)
 * @size: sizeof(struct viommu_shadow_map)
 * @flags: VIOMMU_SHADOW_MAP_READ and/or VIOMMU_SHADOW_MAP_WRITE
 * @iova: first IOVA, aligned to the backend page size
 * @length: bytes, a non-zero multiple of the backend page size
 * @vaddr: user virtual address of the memory to map, aligned likewise
 * @cookie: any value, returned with the mapping's unmap record; a vIOMMU
 *	VMM stores the translated (guest-physical) address here
 *
 * Maps [@iova, @iova + @length - 1] through the backend and records it in
 * the shadow tree.  Either both happen or neither does.
 *
 * Errors: EINVAL (no access flag, @length 0, unaligned @iova, @length or
 * @vaddr), EOVERFLOW (@iova + @length - 1 wraps past 2^64 - 1, or the
 * user range wraps, or the context's mappings would cover all 2^64
 * bytes, whose count no __u64 holds), ERANGE (the backend cannot unmap a mapping that ends
 * at 2^64 - 1, see the documentation), EEXIST (overlaps a shadow mapping;
 * nothing changed), ENOSPC (the context holds as many mappings as the
 * module allows it, see viommu_shadow_info::mappings_avail; nothing
 * changed), ENOMEM (no memory for the shadow node), ENODEV (the
 * container lost its IOMMU; the context is now broken), EIO (the context
 * is broken), or any error of the backend's own map call, unchanged (for
 * type1: ENOMEM, also when the pages would exceed the caller's
 * RLIMIT_MEMLOCK, EFAULT, ENOSPC when its dma_entry_limit is reached,
 * EEXIST for a mapping made directly on the container, EINVAL outside its
 * IOVA ranges or when its page size changed, ...).
 *
 * The backend pins and accounts the memory exactly as for the caller's
 * own map call: for type1, to the caller's locked_vm, against its
 * RLIMIT_MEMLOCK unless it has CAP_IPC_LOCK.
 */
struct viommu_shadow_map {
	__u32 size;
	__u32 flags;
	__aligned_u64 iova;
	__aligned_u64 length;
	__aligned_u64 vaddr;
	__aligned_u64 cookie;
};

#define VIOMMU_SHADOW_MAP	_IO(VIOMMU_SHADOW_TYPE, VIOMMU_SHADOW_CMD_MAP)

/**
 * struct viommu_shadow_map_entry - one mapping of VIOMMU_SHADOW_MAP_BATCH
 * @flags: VIOMMU_SHADOW_MAP_READ and/or VIOMMU_SHADOW_MAP_WRITE
 * @__reserved: must be 0
 * @iova: as in struct viommu_shadow_map
 * @length: as in struct viommu_shadow_map
 * @vaddr: as in struct viommu_shadow_map
 * @cookie: as in struct viommu_shadow_map
 */
struct viommu_shadow_map_entry {
	__u32 flags;
	__u32 __reserved;
	__aligned_u64 iova;
	__aligned_u64 length;
	__aligned_u64 vaddr;
	__aligned_u64 cookie;
};

/* The most entries one VIOMMU_SHADOW_MAP_BATCH takes. */
#define VIOMMU_SHADOW_BATCH_MAX	4096

/**
 * struct viommu_shadow_map_batch - ioctl(VIOMMU_SHADOW_MAP_BATCH)
 * @size: sizeof(struct viommu_shadow_map_batch)
 * @flags: must be 0
 * @entries: user pointer to an array of struct viommu_shadow_map_entry
 * @nr_entries: entries in @entries, 1 to VIOMMU_SHADOW_BATCH_MAX
 * @entry_size: size of one entry as the caller knows it, at least 40 (the
 *	first version) and at most 4096; bytes the kernel does not know
 *	must be 0 (E2BIG otherwise, for that entry)
 * @out_done: out, entries mapped, in order
 * @__reserved: must be 0
 *
 * Maps the entries in order, each exactly as VIOMMU_SHADOW_MAP would,
 * under one hold of the context.  It saves a system call and the
 * context's lock per mapping; the backend still maps each entry with one
 * call of its own (type1 cannot merge mappings: a merged one could not be
 * unmapped in parts later).
 *
 * On a failure at entry k the call fails with that entry's error (as
 * VIOMMU_SHADOW_MAP documents it, or EFAULT, EINVAL for a non-zero
 * @__reserved of the entry, or E2BIG for its unknown bytes) and
 * @out_done is k: the entries before it are mapped, it and those after it
 * are not.  A fatal signal stops the batch with EINTR, @out_done exact.
 *
 * Errors before any entry: EOPNOTSUPP (non-zero @flags), EINVAL
 * (@nr_entries 0 or too large, @entry_size out of range, non-zero
 * @__reserved), ENXIO, EPERM, EIO, EFAULT.
 */
struct viommu_shadow_map_batch {
	__u32 size;
	__u32 flags;
	__aligned_u64 entries;
	__u32 nr_entries;
	__u32 entry_size;
	__u32 out_done;
	__u32 __reserved;
};

#define VIOMMU_SHADOW_MAP_BATCH \
	_IO(VIOMMU_SHADOW_TYPE, VIOMMU_SHADOW_CMD_MAP_BATCH)

/* viommu_shadow_unmap_record::flags */
#define VIOMMU_SHADOW_RECORD_DIRTY	(1U << 0)
#define VIOMMU_SHADOW_RECORD_CUT	(1U << 1)
#define VIOMMU_SHADOW_RECORD_DIRTY_LOST	(1U << 2)
#define VIOMMU_SHADOW_RECORD_LOGGED	(1U << 3)

/**
 * struct viommu_shadow_unmap_record - one unmapped mapping
 * @iova: first IOVA of the mapping, as it was mapped
 * @length: its length, as it was mapped (a whole mapping is always unmapped)
 * @cookie: the cookie given to MAP
 * @flags: VIOMMU_SHADOW_RECORD_DIRTY: @bitmap_offset and @bitmap_bits are
 *	valid; VIOMMU_SHADOW_RECORD_LOGGED (with VIOMMU_SHADOW_UNMAP_DIRTY_LOG,
 *	instead of DIRTY): the mapping's bits went to the dirty log, and
 *	@bitmap_offset and @bitmap_bits are 0; VIOMMU_SHADOW_RECORD_CUT: the
 *	mapping reached outside the requested range and was unmapped whole
 *	(VIOMMU_SHADOW_UNMAP_WHOLE); VIOMMU_SHADOW_RECORD_DIRTY_LOST: the
 *	mapping was unmapped (or, for SYNC_DIRTY, read), but its dirty bits
 *	never reached the bitmap: treat every page of it as dirty (with
 *	LOGGED: every page of it was set in the log instead).  The call then
 *	fails after this record, which is counted: with EFAULT when the buffer became
 *	unwritable during the call, else with the backend's error (a failed
 *	run whose first mapping left could only be unmapped without its
 *	bits; a sync whose read failed after another cleared bits).
 * @__reserved: written as 0
 * @bitmap_offset: bit offset of the mapping's first page in the caller's
 *	bitmap buffer: a multiple of 64, or with VIOMMU_SHADOW_UNMAP_DENSE
 *	right after the previous record's bits (see there)
 * @bitmap_bits: number of bits, @length / bitmap_pgsize; the bits from
 *	@bitmap_offset + @bitmap_bits up to the next multiple of 64 are 0
 *	(with VIOMMU_SHADOW_UNMAP_DENSE: up to the next record's bits)
 */
struct viommu_shadow_unmap_record {
	__aligned_u64 iova;
	__aligned_u64 length;
	__aligned_u64 cookie;
	__u32 flags;
	__u32 __reserved;
	__aligned_u64 bitmap_offset;
	__aligned_u64 bitmap_bits;
};

/*
 * The largest record_size UNMAP_RANGE takes: the bytes of a record it does
 * not know it zero-fills, and a bound keeps one call from making it clear
 * more than 4 KiB per record.
 */
#define VIOMMU_SHADOW_RECORD_SIZE_MAX	4096

/* viommu_shadow_unmap_range::flags */
#define VIOMMU_SHADOW_UNMAP_GET_DIRTY	(1U << 0)
#define VIOMMU_SHADOW_UNMAP_WHOLE	(1U << 1)
#define VIOMMU_SHADOW_UNMAP_DENSE	(1U << 2)
#define VIOMMU_SHADOW_UNMAP_DIRTY_LOG	(1U << 3)

/* viommu_shadow_unmap_range::out_flags */
#define VIOMMU_SHADOW_UNMAP_OUT_MORE	(1U << 0)
#define VIOMMU_SHADOW_UNMAP_OUT_CLAMPED	(1U << 1)

/**
 * struct viommu_shadow_unmap_range - ioctl(VIOMMU_SHADOW_UNMAP_RANGE)
 * @size: sizeof(struct viommu_shadow_unmap_range)
 * @flags: VIOMMU_SHADOW_UNMAP_GET_DIRTY: return each mapping's dirty bits
 *	(the backend's dirty tracking must be running);
 *	VIOMMU_SHADOW_UNMAP_WHOLE: a mapping only partly inside the range is
 *	unmapped whole instead of failing the call;
 *	VIOMMU_SHADOW_UNMAP_DENSE (with GET_DIRTY): each record's bits start
 *	right after the previous record's, without padding to a multiple of
 *	64, so 65535 mappings of one page need 8 KiB of bitmap, not 512 KiB;
 *	only a mapping of more than 32768 pages starts on the next multiple
 *	of 64 (its bits go to @bitmap without passing through the kernel);
 *	VIOMMU_SHADOW_UNMAP_DIRTY_LOG (with GET_DIRTY): the bits go to the
 *	dirty log @log by cookie, see "Dirty log" below
 * @start: first IOVA of the range (any value)
 * @last: last IOVA of the range, inclusive, @start <= @last
 * @records: user pointer to an array of struct viommu_shadow_unmap_record
 * @nr_records: capacity of @records, in entries (at least 1; 0 with
 *	DIRTY_LOG, with @records and @record_size 0: no records)
 * @record_size: size of one entry of @records as the caller knows it, at
 *	least 48 (the first version) and at most
 *	VIOMMU_SHADOW_RECORD_SIZE_MAX; bytes past what the kernel knows are
 *	written as 0, so the record can grow
 * @bitmap: user pointer to the dirty bitmap buffer (an array of __u64, one
 *	bit per @bitmap_pgsize page); 0 without GET_DIRTY (with DIRTY_LOG, 0
 *	and @bitmap_bytes 0 is allowed: no bitmap)
 * @bitmap_bytes: capacity of @bitmap in bytes; 0 without GET_DIRTY
 * @bitmap_pgsize: page size of one dirty bit; must be the backend page size
 *	(GET_INFO's pgsize); 0 without GET_DIRTY
 * @out_flags: out, VIOMMU_SHADOW_UNMAP_OUT_MORE: the call stopped before
 *	the end of the range (an output buffer was full, or a signal came),
 *	call again with @start = @out_resume; VIOMMU_SHADOW_UNMAP_OUT_CLAMPED:
 *	@last was above the high-water mark and was lowered to it
 * @out_nr_records: out, entries written, one per unmapped mapping, in IOVA
 *	order
 * @out_last: out, the @last actually used (after clamping)
 * @out_resume: out, the next call's @start: the IOVA after the last
 *	mapping unmapped (or @start if none was; 2^64 - 1 if that mapping
 *	ended there, when nothing can follow); meaningful with OUT_MORE or
 *	when the call failed part way
 * @out_bytes: out, bytes unmapped by this call
 * @log: user pointer to the dirty log, an array of __u64 aligned to 8
 *	bytes: bit i of the log is bit i % 64 of word i / 64 (the layout of
 *	KVM's dirty log and of QEMU's little-endian RAM bitmaps); 0 without
 *	DIRTY_LOG
 * @log_base: the cookie of the log's bit 0, a multiple of @bitmap_pgsize;
 *	0 without DIRTY_LOG
 * @log_pages: bits in the log, each for one @bitmap_pgsize page of cookie
 *	space from @log_base; at least 1 with DIRTY_LOG, 0 without
 *
 * @log and what follows were added after the first version: a caller whose
 * @size ends before them cannot ask for DIRTY_LOG (EINVAL).
 *
 * Unmaps every shadow mapping that intersects [@start, @last], in IOVA
 * order, visiting only live mappings, so the cost does not depend on the
 * size of the range.  Mappings that lie back to back go to the backend in
 * one call (a run: at most 4096 mappings, and with GET_DIRTY at most
 * 32768 pages of bits), whose bits the module then splits into the
 * records.  Without
 * VIOMMU_SHADOW_UNMAP_WHOLE a mapping that crosses @start or @last fails
 * the call with EINVAL before anything is unmapped (type1 v2 semantics).
 *
 * Output is bounded: when the next mapping's record or dirty bits do not
 * fit, the call stops cleanly before it and succeeds with OUT_MORE; calling
 * again from @out_resume finishes the job, and the sum of such calls
 * equals one call with large enough buffers.  OUT_MORE means a mapping of
 * the range was left for the next call: buffers that fill exactly with the
 * range's last mapping end the call without it.  Each call whose @last is
 * lowered counts in GET_INFO's nr_clamped, so a whole-space unmap resumed
 * k times counts k.
 *
 * Sizing the bitmap: a mapping of L bytes has L / @bitmap_pgsize bits.
 * Without VIOMMU_SHADOW_UNMAP_DENSE each record's bits start on a 64-bit
 * word, so it takes DIV_ROUND_UP(L / @bitmap_pgsize, 64) * 8 bytes of
 * @bitmap_bytes; with DENSE, L / @bitmap_pgsize bits packed after the
 * previous record's (a mapping of more than 32768 pages still starts on a
 * word).  A buffer that holds the largest mapping's bits is enough: a call
 * never fails for want of bitmap once it has unmapped something (it stops
 * with OUT_MORE), only when the first mapping does not fit (ENOSPC).
 *
 * Dirty log (VIOMMU_SHADOW_UNMAP_DIRTY_LOG; GET_INFO's features say
 * VIOMMU_SHADOW_FEATURE_DIRTY_LOG): for a VMM that uses cookies as its own
 * page-aligned, linear addresses (a guest-physical address, a
 * ram_addr_t), the bits go where it consumes them.  Page k of a mapping
 * with cookie c sets bit (c - @log_base) / @bitmap_pgsize + k of @log, if
 * the mapping fits the log: c is a multiple of @bitmap_pgsize, at least
 * @log_base, its last page's bit is below @log_pages, and it has at most
 * 32768 pages.  Its record then says LOGGED and takes no room in @bitmap.
 * The bits of a mapping that does not fit go to @bitmap with its record,
 * as without DIRTY_LOG (record flag DIRTY): such a mapping needs a record
 * and room in @bitmap, or the call stops before it as for full buffers
 * (OUT_MORE; ENOSPC if it is the first).
 *
 * The module only sets bits of the log, each word with one atomic OR: it
 * never clears one, so bits the VMM's other threads set in the log during
 * the call stay, and two IOVAs of one cookie page OR theirs.  Before each
 * backend call the module pins the log pages that call's mappings need
 * (at most 511 pages at a time, released before the call returns), so a
 * log that cannot be written fails the call before anything of that run
 * is unmapped (EFAULT, progress exact), and once pinned, delivery cannot
 * fail.  When bits may be lost (see VIOMMU_SHADOW_RECORD_DIRTY_LOST), every
 * page of each logged mapping concerned is set in the log instead and its
 * record says DIRTY_LOST: the log over-reports, never under-reports.
 * Since the log cannot lose bits, records are optional in this mode:
 * with @records, @nr_records and @record_size all 0, no record is
 * written, @out_nr_records counts the mappings unmapped,
 * and @out_resume and @out_bytes are exact as ever.  UNMAP_BATCH does not
 * take DIRTY_LOG (EOPNOTSUPP).
 *
 * A range that the clamp leaves empty (@start above the high-water mark)
 * is success with nothing done: @out_nr_records 0, @out_bytes 0,
 * OUT_CLAMPED set, OUT_MORE clear.  A pending signal stops the
 * walk between two mappings the same way: with OUT_MORE if something was
 * unmapped, else the call is restarted (or fails with EINTR, as the
 * signal's SA_RESTART says); a fatal signal fails it with EINTR.
 *
 * Progress is exact even on failure: whatever the return value, once the
 * range was validated, @out_nr_records records, @out_bytes and
 * @out_resume describe exactly what was unmapped, each record's dirty bits
 * are in @bitmap, and the shadow tree still matches the backend.
 *
 * Errors: EINVAL (@start > @last, @nr_records 0, @record_size below 48
 * or above VIOMMU_SHADOW_RECORD_SIZE_MAX, the range cuts a mapping
 * without UNMAP_WHOLE, GET_DIRTY with a NULL @bitmap or a wrong
 * @bitmap_pgsize, bitmap fields set without GET_DIRTY; with DIRTY_LOG,
 * all three record fields 0 and a NULL @bitmap with @bitmap_bytes 0 are
 * allowed; DIRTY_LOG without GET_DIRTY, @log, @log_base or @log_pages
 * set without DIRTY_LOG, with it @log 0 or not aligned to 8 bytes,
 * @log_pages 0, @log_base not a multiple of @bitmap_pgsize, or a log
 * reaching past cookie 2^64 - 1), ENOSPC (the first
 * mapping's record or dirty bits do not fit in the buffers given), ENODATA
 * (GET_DIRTY but the backend's dirty tracking is not running), EFAULT (a
 * buffer or the log's words are not user memory, a buffer is not
 * writable, or a page of the log could not be pinned for writing;
 * progress is still exact), EINTR (a fatal
 * signal, or any signal before anything was unmapped when the call is not
 * restarted), EIO (the backend's answer did not fit the request, for
 * type1 because it no longer had a mapping the context has, or refused
 * to cut a mapping the VMM made in its place: the container was changed
 * directly; or a failed run left a mapping's fate unknown; the context
 * is now broken), ENODEV (the container
 * lost its IOMMU, and every mapping with it; the context is now broken),
 * EOPNOTSUPP (GET_DIRTY, but the backend cannot track dirty pages:
 * GET_INFO's features lack DIRTY; DIRTY_LOG where they lack DIRTY_LOG),
 * ENOMEM (a context's first walk allocates the buffers its walks keep,
 * 40 KiB at most, and its first walk with a log 8 KiB more: nothing was
 * done; or pinning a page of the log failed for want of memory, progress
 * exact), E2BIG (one mapping's dirty bitmap
 * would exceed the backend's limit, for type1 the max_dirty_bitmap_size of
 * its migration capability, 256 MB on 6.1 and 6.12), EINVAL also when the
 * backend refuses a mapping's unmap (its page size changed; GET_INFO has
 * the new one unless asking the backend failed too), or another backend
 * error, unchanged (but the backend's
 * own EIO breaks the context: its state is then unknown).
 */
struct viommu_shadow_unmap_range {
	__u32 size;
	__u32 flags;
	__aligned_u64 start;
	__aligned_u64 last;
	__aligned_u64 records;
	__u32 nr_records;
	__u32 record_size;
	__aligned_u64 bitmap;
	__aligned_u64 bitmap_bytes;
	__aligned_u64 bitmap_pgsize;
	__u32 out_flags;
	__u32 out_nr_records;
	__aligned_u64 out_last;
	__aligned_u64 out_resume;
	__aligned_u64 out_bytes;
	__aligned_u64 log;
	__aligned_u64 log_base;
	__aligned_u64 log_pages;
};

#define VIOMMU_SHADOW_UNMAP_RANGE \
	_IO(VIOMMU_SHADOW_TYPE, VIOMMU_SHADOW_CMD_UNMAP_RANGE)

/*
 * ioctl(VIOMMU_SHADOW_SYNC_DIRTY), with struct viommu_shadow_unmap_range:
 * the dirty bits of every shadow mapping that intersects [@start, @last],
 * without unmapping it, read (and so cleared) in the backend.  Everything
 * is as for VIOMMU_SHADOW_UNMAP_RANGE (records, runs, both bitmap layouts,
 * clamp, the bisect policy and VIOMMU_SHADOW_UNMAP_WHOLE, bounded output
 * and @out_resume, signals, exact progress), except that the mappings
 * stay, VIOMMU_SHADOW_UNMAP_GET_DIRTY is required (EINVAL without it),
 * @out_bytes counts the bytes synced, and GET_INFO's nr_unmaps does not
 * change.  For type1 this is VFIO_IOMMU_DIRTY_PAGES with
 * VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP, one call per run.
 *
 * Errors: those of UNMAP_RANGE; when a backend call fails after it may
 * have read some of a run's bits, the run's records are all reported with
 * VIOMMU_SHADOW_RECORD_DIRTY_LOST (take every page as dirty) and the call
 * fails with that error, the context usable (a sync changes no mapping).
 */
#define VIOMMU_SHADOW_SYNC_DIRTY \
	_IO(VIOMMU_SHADOW_TYPE, VIOMMU_SHADOW_CMD_SYNC_DIRTY)

/**
 * struct viommu_shadow_range - one range of VIOMMU_SHADOW_UNMAP_BATCH
 * @start: first IOVA
 * @last: last IOVA, inclusive, @start <= @last
 */
struct viommu_shadow_range {
	__aligned_u64 start;
	__aligned_u64 last;
};

/**
 * struct viommu_shadow_unmap_batch - ioctl(VIOMMU_SHADOW_UNMAP_BATCH)
 * @size: sizeof(struct viommu_shadow_unmap_batch)
 * @flags: as for VIOMMU_SHADOW_UNMAP_RANGE, for every range, but not
 *	VIOMMU_SHADOW_UNMAP_DIRTY_LOG
 * @ranges: user pointer to an array of struct viommu_shadow_range
 * @nr_ranges: entries in @ranges, 1 to VIOMMU_SHADOW_BATCH_MAX
 * @range_size: size of one entry as the caller knows it, 16 to 4096;
 *	bytes the kernel does not know must be 0 (E2BIG otherwise)
 * @records: as for VIOMMU_SHADOW_UNMAP_RANGE, for all ranges together
 * @nr_records: likewise
 * @record_size: likewise
 * @bitmap: likewise; every range's bits follow the previous range's
 * @bitmap_bytes: likewise
 * @bitmap_pgsize: likewise
 * @out_done: out, ranges unmapped whole, in order
 * @out_nr_records: out, records written, for all ranges
 * @out_bytes: out, bytes unmapped
 *
 * Unmaps the ranges in order, each exactly as VIOMMU_SHADOW_UNMAP_RANGE
 * would (high-water clamp, bisect policy, runs), with one system call and
 * one hold of the context for all: for a VMM that has several
 * invalidations queued.  A range whose records or bits would not fit what
 * is left of the buffers is not started: the call succeeds with @out_done
 * short of @nr_ranges (ENOSPC if that is the first range, so a range
 * larger than the whole buffers is for UNMAP_RANGE), and the caller
 * calls again from range @out_done.  A range that fails (a bisect
 * refusal, an unreadable entry, a backend error) fails the call with that
 * range's error and @out_done is its index; the records of the ranges
 * before it, and of any mappings of it that were unmapped, are exact, as
 * for UNMAP_RANGE, so calling again from range @out_done finishes the
 * job.  A signal stops the call the same way, with success when something
 * was unmapped.
 *
 * Errors before any range: EOPNOTSUPP (also for DIRTY_LOG), EINVAL (as
 * for UNMAP_RANGE, and
 * @nr_ranges 0 or too large, @range_size out of range),
 * ENXIO, EPERM, EIO, EFAULT.
 */
struct viommu_shadow_unmap_batch {
	__u32 size;
	__u32 flags;
	__aligned_u64 ranges;
	__u32 nr_ranges;
	__u32 range_size;
	__aligned_u64 records;
	__u32 nr_records;
	__u32 record_size;
	__aligned_u64 bitmap;
	__aligned_u64 bitmap_bytes;
	__aligned_u64 bitmap_pgsize;
	__u32 out_done;
	__u32 out_nr_records;
	__aligned_u64 out_bytes;
};

#define VIOMMU_SHADOW_UNMAP_BATCH \
	_IO(VIOMMU_SHADOW_TYPE, VIOMMU_SHADOW_CMD_UNMAP_BATCH)

/**
 * struct viommu_shadow_set_hwpts - ioctl(VIOMMU_SHADOW_SET_HWPTS)
 * @size: sizeof(struct viommu_shadow_set_hwpts)
 * @flags: must be 0
 * @nr_dirty_hwpts: entries in @dirty_hwpts, 0 to
 *	VIOMMU_SHADOW_DIRTY_HWPTS_MAX
 * @__reserved: must be 0
 * @dirty_hwpts: user pointer to an array of __u32 HWPT ids, as ATTACH's
 *	@dirty_hwpts; 0 with none
 *
 * Replaces the HWPTs an IOMMUFD context reads dirty bits from, whole: for
 * a VMM whose IOAS gained a HWPT (a device hot-added behind a new one) or
 * is about to lose one.  The new list is checked as ATTACH checks it, and
 * replaces the old one only if every entry passes: on any error the
 * context reads the HWPTs it read before, and nothing else changed.  It
 * holds the context as every call does, so an unmap or a sync reads
 * either every HWPT of the old list or every one of the new, never a mix.
 * From none to some, the context gains VIOMMU_SHADOW_FEATURE_DIRTY (and
 * the page of dirty bits it keeps in the caller's address space, see the
 * documentation); from some to none it loses both.  The mappings, and
 * each HWPT's own bits, are untouched: bits a HWPT dropped from the list
 * still holds are the VMM's to read, and a HWPT added brings whatever it
 * has recorded so far.
 *
 * HWPTs are named by id, and iommufd gives a destroyed object's id to the
 * next object it allocates.  Destroying a HWPT the context still names is
 * the VMM's error.  Until SET_HWPTS drops it, every request with dirty
 * bits fails with ENOENT, the context unbroken: a sync reads nothing; an
 * unmap leaves a lone mapping whole, and of a run of back-to-back
 * mappings unmaps the first without its bits (its record flagged
 * VIOMMU_SHADOW_RECORD_DIRTY_LOST: the module cannot tell whether the
 * failed call removed it).  Once iommufd has given the id to another
 * HWPT, the context reads that HWPT's bits instead.  So drop a HWPT from
 * the list before destroying it.
 *
 * Errors, in order: EOPNOTSUPP (non-zero @flags), EINVAL (non-zero
 * @__reserved, more than VIOMMU_SHADOW_DIRTY_HWPTS_MAX entries, a
 * non-zero @dirty_hwpts with none), EFAULT (@dirty_hwpts unreadable),
 * EINTR, ENXIO (not attached), EIO (broken), EPERM (not the attaching
 * process), EOPNOTSUPP (a backend without HWPTs, such as VFIO_TYPE1: see
 * VIOMMU_SHADOW_FEATURE_SET_HWPTS); then the new list's own: ENOMEM, or
 * another error of mapping the bits page into the caller (as at
 * ATTACH); ENOENT (a named HWPT is not one, or the IOAS is gone),
 * EOPNOTSUPP (a named HWPT's IOMMU cannot track dirty pages), E2BIG (the
 * IOAS has more IOVA ranges than a page holds), or another error of the
 * forwarded iommufd calls (an LSM denial); all of these change nothing.
 * EIO, the context broken, when a page of the context's in the caller's
 * address space is gone or iommufd's answer makes no sense.
 */
struct viommu_shadow_set_hwpts {
	__u32 size;
	__u32 flags;
	__u32 nr_dirty_hwpts;
	__u32 __reserved;
	__aligned_u64 dirty_hwpts;
};

#define VIOMMU_SHADOW_SET_HWPTS \
	_IO(VIOMMU_SHADOW_TYPE, VIOMMU_SHADOW_CMD_SET_HWPTS)

/**
 * DOC: Generic netlink family
 *
 * Contexts are host-global, so the family shows them to the host's
 * administrator only: it exists in the initial network namespace only, and
 * every command, and joining the events group, needs CAP_NET_ADMIN there
 * (EPERM otherwise).  It changes nothing; it only reports.
 * Documentation/netlink/specs/viommu_shadow.yaml describes it for YNL.
 *
 * Each open of /dev/viommu_shadow is a context with an id, unique while it
 * is open; ids are given in turn, so one is not given again soon after its
 * context closed (only after the 2^31 ids went round).  The owner
 * attributes (@VIOMMU_SHADOW_A_PID, @VIOMMU_SHADOW_A_COMM) and the
 * container ones are those of the process that attached it, and absent
 * before ATTACH; @VIOMMU_SHADOW_A_PID is also absent once that process has
 * exited (another may hold the context's fd).
 *
 * Commands (requests, and their replies, which have the same command):
 *
 * - VIOMMU_SHADOW_NL_CMD_CTX_GET: do, with @VIOMMU_SHADOW_A_CTX_ID: one
 *   context (ENOENT if none has that id); dump, without it (EINVAL with
 *   it): every context, in id order.  A context
 *   message has the context's attributes below, read without waiting for
 *   the context (a dump never waits behind a long unmap): each counter is
 *   exact, but two of them may come from either side of a call running at
 *   that moment.
 * - VIOMMU_SHADOW_NL_CMD_MAPPING_GET: dump, with @VIOMMU_SHADOW_A_CTX_ID:
 *   that context's mappings in IOVA order, one message each, with
 *   @VIOMMU_SHADOW_A_CTX_ID, @VIOMMU_SHADOW_A_IOVA, @VIOMMU_SHADOW_A_LENGTH
 *   and @VIOMMU_SHADOW_A_COOKIE (EINVAL without the id, ENOENT if no
 *   context has it).  Each part of the dump is read under the context's
 *   lock; if the mappings changed between two parts (or the context was
 *   closed), the messages after the change carry NLM_F_DUMP_INTR, as
 *   netlink dumps do: dump again for a consistent set.
 *
 * Events, multicast to the group VIOMMU_SHADOW_MCGRP_EVENTS, each with
 * @VIOMMU_SHADOW_A_CTX_ID:
 *
 * - VIOMMU_SHADOW_NL_CMD_CTX_NEW: a context attached; the context's
 *   attributes as CTX_GET gives them.
 * - VIOMMU_SHADOW_NL_CMD_CTX_DEL: an attached context is being closed;
 *   its attributes as CTX_GET gives them, with the mappings it shadowed
 *   (they stay in the container).  Sent before its id can be given again.
 * - VIOMMU_SHADOW_NL_CMD_CLAMPED: an unmap's @last was above the
 *   high-water mark: @VIOMMU_SHADOW_A_START, @VIOMMU_SHADOW_A_LAST (as
 *   asked) and @VIOMMU_SHADOW_A_CLAMPED_LAST.  An UNMAP_BATCH range not
 *   started for want of room and sent again is reported each time.
 * - VIOMMU_SHADOW_NL_CMD_BISECT_REFUSED: an unmap was refused (EINVAL)
 *   because its range cut a mapping: @VIOMMU_SHADOW_A_START and
 *   @VIOMMU_SHADOW_A_LAST.
 * - VIOMMU_SHADOW_NL_CMD_BACKEND_ERROR: a map, unmap or sync the module
 *   made on the container did not simply succeed: @VIOMMU_SHADOW_A_OP,
 *   @VIOMMU_SHADOW_A_IOVA, @VIOMMU_SHADOW_A_LENGTH, and either
 *   @VIOMMU_SHADOW_A_ERRNO (the container refused or failed) or
 *   @VIOMMU_SHADOW_A_OUTCOME.  Refusals the caller provoked (a range
 *   already mapped, a bad address) are reported too: this is what the
 *   container answered, not a verdict.
 * - VIOMMU_SHADOW_NL_CMD_CTX_BROKEN: the context broke (see "Broken
 *   contexts"): @VIOMMU_SHADOW_A_REASON.
 * - VIOMMU_SHADOW_NL_CMD_EVENTS_DROPPED: events were dropped by the limits
 *   below; without @VIOMMU_SHADOW_A_CTX_ID, with @VIOMMU_SHADOW_A_DROPPED,
 *   the events dropped since the module was loaded.  Sent about a second
 *   after the first drop of a burst, and at most once a second.  A
 *   listener that gets it has missed events (a CTX_DEL among them,
 *   perhaps): its view is stale, and it dumps the contexts again.
 *
 * Every event counts against a budget of its context's user (the owner's
 * uid at ATTACH, in the initial user namespace), 256 a second, and against
 * one of all users, 1024 a second; CLAMPED, BISECT_REFUSED and
 * BACKEND_ERROR also against one of their context, 100 a second.  An
 * event over a budget is dropped, and counted: so that no user, by a
 * loop of open, ATTACH and close, can fill the administrator's socket and
 * hide other users' events.  An event the group's listeners cannot take
 * (a full socket buffer) is lost for them, as for any netlink multicast:
 * the socket reports ENOBUFS.
 */
#define VIOMMU_SHADOW_GENL_NAME		"viommu_shadow"
#define VIOMMU_SHADOW_GENL_VERSION	1
#define VIOMMU_SHADOW_MCGRP_EVENTS	"events"

enum viommu_shadow_nl_cmd {
	VIOMMU_SHADOW_NL_CMD_UNSPEC,
	VIOMMU_SHADOW_NL_CMD_CTX_GET,
	VIOMMU_SHADOW_NL_CMD_MAPPING_GET,
	VIOMMU_SHADOW_NL_CMD_CTX_NEW,
	VIOMMU_SHADOW_NL_CMD_CTX_DEL,
	VIOMMU_SHADOW_NL_CMD_CLAMPED,
	VIOMMU_SHADOW_NL_CMD_BISECT_REFUSED,
	VIOMMU_SHADOW_NL_CMD_BACKEND_ERROR,
	VIOMMU_SHADOW_NL_CMD_CTX_BROKEN,
	VIOMMU_SHADOW_NL_CMD_EVENTS_DROPPED,

	__VIOMMU_SHADOW_NL_CMD_MAX,
	VIOMMU_SHADOW_NL_CMD_MAX = (__VIOMMU_SHADOW_NL_CMD_MAX - 1)
};

/**
 * enum viommu_shadow_nl_attr - the family's attributes
 * @VIOMMU_SHADOW_A_PAD: padding for 64-bit attributes, never sent alone
 * @VIOMMU_SHADOW_A_CTX_ID: u32, the context's id (1 and up)
 * @VIOMMU_SHADOW_A_PID: u32, the owner's thread-group id, as seen in the
 *	initial PID namespace; absent once the owner has exited
 * @VIOMMU_SHADOW_A_COMM: string, the owner's comm at ATTACH
 * @VIOMMU_SHADOW_A_BACKEND: u32, enum viommu_shadow_backend (NONE before
 *	ATTACH)
 * @VIOMMU_SHADOW_A_BACKEND_ID: u32, ATTACH's @backend_id (the IOAS id for
 *	IOMMUFD, 0 for VFIO_TYPE1)
 * @VIOMMU_SHADOW_A_CONTAINER_FD: u32, the container's file descriptor in
 *	the owner at ATTACH (it may have been closed or moved since: the
 *	context holds the file, not the descriptor)
 * @VIOMMU_SHADOW_A_CONTAINER_ID: u64, the container's identity: equal for
 *	two contexts exactly when they are attached to the same open
 *	container file (the same open of /dev/vfio/vfio or /dev/iommu);
 *	stable while that file is open, opaque otherwise (a keyed hash that
 *	reveals no kernel address, different after a reboot).  With
 *	@VIOMMU_SHADOW_A_BACKEND_ID it names the IOAS of an iommufd.
 * @VIOMMU_SHADOW_A_PGSIZE: u64, GET_INFO's pgsize
 * @VIOMMU_SHADOW_A_NR_MAPPINGS: u64, live shadow mappings
 * @VIOMMU_SHADOW_A_MAPPED_BYTES: u64, bytes they cover
 * @VIOMMU_SHADOW_A_HIGH_WATER: u64, GET_INFO's high_water
 * @VIOMMU_SHADOW_A_MAX_MAPPINGS: u64, the context's limit on mappings
 * @VIOMMU_SHADOW_A_NR_MAPS: u64, GET_INFO's nr_maps: MAP calls (and
 *	MAP_BATCH entries) that mapped
 * @VIOMMU_SHADOW_A_NR_UNMAPS: u64, GET_INFO's nr_unmaps: mappings unmapped
 * @VIOMMU_SHADOW_A_NR_CLAMPED: u64, GET_INFO's nr_clamped: unmap calls
 * @VIOMMU_SHADOW_A_NR_BISECT_REFUSED: u64, GET_INFO's nr_bisect_refused:
 *	unmap calls
 * @VIOMMU_SHADOW_A_BROKEN: flag, the context is broken
 * @VIOMMU_SHADOW_A_IOVA: u64, a mapping's, or a backend call's, first IOVA
 * @VIOMMU_SHADOW_A_LENGTH: u64, its length in bytes
 * @VIOMMU_SHADOW_A_COOKIE: u64, the mapping's cookie
 * @VIOMMU_SHADOW_A_START: u64, an unmap's start
 * @VIOMMU_SHADOW_A_LAST: u64, an unmap's last, as asked
 * @VIOMMU_SHADOW_A_CLAMPED_LAST: u64, that last clamped to the high-water
 *	mark
 * @VIOMMU_SHADOW_A_OP: u32, enum viommu_shadow_nl_op
 * @VIOMMU_SHADOW_A_ERRNO: u32, a positive errno
 * @VIOMMU_SHADOW_A_OUTCOME: u32, enum viommu_shadow_nl_outcome
 * @VIOMMU_SHADOW_A_REASON: string, for people; its text is not an ABI
 * @VIOMMU_SHADOW_A_DROPPED: u64, events dropped by the limits since the
 *	module was loaded
 * @VIOMMU_SHADOW_A_DIRTY_HWPT: u32, one of the HWPTs an IOMMUFD context
 *	reads dirty bits from (ATTACH's list, or SET_HWPTS' once called),
 *	once per HWPT, in the list's order; absent when there are none
 *
 * A request carries only @VIOMMU_SHADOW_A_CTX_ID; any other attribute in a
 * request is refused (EINVAL, with an extended ack naming it).
 */
enum viommu_shadow_nl_attr {
	VIOMMU_SHADOW_A_UNSPEC,
	VIOMMU_SHADOW_A_PAD,
	VIOMMU_SHADOW_A_CTX_ID,
	VIOMMU_SHADOW_A_PID,
	VIOMMU_SHADOW_A_COMM,
	VIOMMU_SHADOW_A_BACKEND,
	VIOMMU_SHADOW_A_BACKEND_ID,
	VIOMMU_SHADOW_A_CONTAINER_FD,
	VIOMMU_SHADOW_A_CONTAINER_ID,
	VIOMMU_SHADOW_A_PGSIZE,
	VIOMMU_SHADOW_A_NR_MAPPINGS,
	VIOMMU_SHADOW_A_MAPPED_BYTES,
	VIOMMU_SHADOW_A_HIGH_WATER,
	VIOMMU_SHADOW_A_MAX_MAPPINGS,
	VIOMMU_SHADOW_A_NR_MAPS,
	VIOMMU_SHADOW_A_NR_UNMAPS,
	VIOMMU_SHADOW_A_NR_CLAMPED,
	VIOMMU_SHADOW_A_NR_BISECT_REFUSED,
	VIOMMU_SHADOW_A_BROKEN,
	VIOMMU_SHADOW_A_IOVA,
	VIOMMU_SHADOW_A_LENGTH,
	VIOMMU_SHADOW_A_COOKIE,
	VIOMMU_SHADOW_A_START,
	VIOMMU_SHADOW_A_LAST,
	VIOMMU_SHADOW_A_CLAMPED_LAST,
	VIOMMU_SHADOW_A_OP,
	VIOMMU_SHADOW_A_ERRNO,
	VIOMMU_SHADOW_A_OUTCOME,
	VIOMMU_SHADOW_A_REASON,
	VIOMMU_SHADOW_A_DROPPED,
	VIOMMU_SHADOW_A_DIRTY_HWPT,

	__VIOMMU_SHADOW_A_MAX,
	VIOMMU_SHADOW_A_MAX = (__VIOMMU_SHADOW_A_MAX - 1)
};

/* VIOMMU_SHADOW_A_OP: which call into the container */
enum viommu_shadow_nl_op {
	VIOMMU_SHADOW_OP_MAP = 1,
	VIOMMU_SHADOW_OP_UNMAP = 2,
	VIOMMU_SHADOW_OP_SYNC = 3,
};

/**
 * enum viommu_shadow_nl_outcome - VIOMMU_SHADOW_A_OUTCOME
 * @VIOMMU_SHADOW_OUTCOME_DIRTY_LOST: the range is unmapped (or, for sync,
 *	read), but its dirty bits could not be stored: the caller saw
 *	VIOMMU_SHADOW_RECORD_DIRTY_LOST on its records
 * @VIOMMU_SHADOW_OUTCOME_BROKEN: the container's answer did not fit the
 *	request, or it could not be reached; the context broke
 * @VIOMMU_SHADOW_OUTCOME_ABSENT: the container held none of the range
 */
enum viommu_shadow_nl_outcome {
	VIOMMU_SHADOW_OUTCOME_DIRTY_LOST = 1,
	VIOMMU_SHADOW_OUTCOME_BROKEN = 2,
	VIOMMU_SHADOW_OUTCOME_ABSENT = 3,
};

#endif /* _UAPI_LINUX_VIOMMU_SHADOW_H */
