/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Test-only interface of the viommu_shadow mock backend
 * (viommu_shadow_mock.ko, built by "make check", never installed).
 *
 * Each open of /dev/viommu_shadow_mock is one mock "container": a context
 * attaches to it with VSHADOW_MOCK_BACKEND and its fd.  The mock
 * records maps and unmaps, keeps a dirty bitmap per mapping that tests set
 * page by page, and fails the Nth backend call on demand, so tests can
 * check dirty-bit placement and every error path of a walk.
 */
#ifndef _VIOMMU_SHADOW_MOCK_TEST_H
#define _VIOMMU_SHADOW_MOCK_TEST_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/viommu_shadow.h>

/*
 * The mock's enum viommu_shadow_backend value for ATTACH.  It is not in the
 * uapi header: no real caller ever names it.
 */
#define VSHADOW_MOCK_BACKEND	0xff

/* The mock's page size until VSHADOW_MOCK_SET_CAPS changes it. */
#define VSHADOW_MOCK_PGSIZE	4096
#define VSHADOW_MOCK_PGSIZE_MAX	0x40000000ULL
/* Largest mock mapping, in pages (its dirty bitmap is kept in memory). */
#define VSHADOW_MOCK_MAX_PAGES	0x100000

enum {
	VSHADOW_MOCK_CMD_SET_DIRTY = 0x30,
	VSHADOW_MOCK_CMD_FAIL_NTH,
	VSHADOW_MOCK_CMD_TRACKING,
	VSHADOW_MOCK_CMD_GET_MAPPINGS,
	VSHADOW_MOCK_CMD_SET_CAPS,
};

/*
 * Mark pages dirty: bit i of @bitmap (an array of __u64) stands for the page
 * at @iova + i * VSHADOW_MOCK_PGSIZE.  Every page must be mapped (ENOENT).
 */
struct vshadow_mock_set_dirty {
	__u32 size;
	__u32 __reserved;
	__aligned_u64 iova;
	__aligned_u64 length;
	__aligned_u64 bitmap;
};

#define VSHADOW_MOCK_SET_DIRTY	_IO(VIOMMU_SHADOW_TYPE, VSHADOW_MOCK_CMD_SET_DIRTY)

/*
 * Make backend call number @nth from now (map or unmap, counting from 1)
 * fail with -@error, and the @repeat calls after it too; @nth 0 disarms.
 * A failing map changes nothing; the first failing unmap of a run first
 * removes its first @after mappings (with their dirty bits stored), as
 * type1's can.  A failure strikes a call when it reaches a mapping (a
 * call that finds none answers "absent" and spends nothing), except
 * that with VSHADOW_MOCK_FAIL_READ_FIRST in @flags the failures after the
 * first strike every call with a bitmap before it looks at any mapping:
 * as iommufd's dirty-bit read, which comes before its unmap, fails for a
 * HWPT destroyed meanwhile (ENOENT), or for want of memory.
 */
struct vshadow_mock_fail_nth {
	__u32 size;
	__u32 nth;
	__s32 error;
	__u32 after;
	__u32 repeat;
	__u32 flags;
};

#define VSHADOW_MOCK_FAIL_READ_FIRST	0x1U

#define VSHADOW_MOCK_FAIL_NTH	_IO(VIOMMU_SHADOW_TYPE, VSHADOW_MOCK_CMD_FAIL_NTH)

/* Start (1) or stop (0) dirty tracking; unmap with a bitmap needs it. */
struct vshadow_mock_tracking {
	__u32 size;
	__u32 enable;
};

#define VSHADOW_MOCK_TRACKING	_IO(VIOMMU_SHADOW_TYPE, VSHADOW_MOCK_CMD_TRACKING)

struct vshadow_mock_mapping {
	__aligned_u64 iova;
	__aligned_u64 length;
};

/*
 * Copy up to @nr mappings, in IOVA order, to @mappings; @out_total is how
 * many there are and @out_calls how many backend calls were made.
 */
struct vshadow_mock_get_mappings {
	__u32 size;
	__u32 nr;
	__aligned_u64 mappings;
	__aligned_u64 out_total;
	__aligned_u64 out_calls;
};

#define VSHADOW_MOCK_GET_MAPPINGS	_IO(VIOMMU_SHADOW_TYPE, VSHADOW_MOCK_CMD_GET_MAPPINGS)

/*
 * Change what the mock says it is, as a real backend may (type1 changes
 * its page size as groups join its container): @pgsize, a power of two
 * from VSHADOW_MOCK_PGSIZE to VSHADOW_MOCK_PGSIZE_MAX, which it then
 * requires of every map and unmap (EINVAL otherwise), and
 * @dirty_bitmap_max, the largest bitmap one unmap returns, in bytes (0:
 * it cannot track dirty pages).  Defaults: VSHADOW_MOCK_PGSIZE and
 * VSHADOW_MOCK_MAX_PAGES / 8.  A context learns them at ATTACH and when
 * the mock answers EINVAL.  Dirty bits set with VSHADOW_MOCK_SET_DIRTY
 * stay per VSHADOW_MOCK_PGSIZE page; a larger page is dirty when any of
 * them is.
 */
struct vshadow_mock_set_caps {
	__u32 size;
	__u32 __reserved;
	__aligned_u64 pgsize;
	__aligned_u64 dirty_bitmap_max;
};

#define VSHADOW_MOCK_SET_CAPS	_IO(VIOMMU_SHADOW_TYPE, VSHADOW_MOCK_CMD_SET_CAPS)

#endif /* _VIOMMU_SHADOW_MOCK_TEST_H */
