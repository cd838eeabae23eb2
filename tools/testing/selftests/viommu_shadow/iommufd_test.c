// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd groundwork: what the debug kernel's iommufd does, checked, so
 * that the iommufd backend starts from facts rather than from memory.  Runs
 * only on the debug lane (the only kernel here with IOMMUFD), built against
 * that kernel's uapi headers and its drivers/iommu/iommufd/iommufd_test.h.
 *
 * Fixtures:
 *   ioas   an IOAS with no device: map, unmap, the whole-space unmap and
 *          what a failed unmap leaves behind
 *   cdev   an edu device bound through /dev/vfio/devices (VFIO's cdev)
 *          to an IOAS, behind the emulated VT-d or AMD-Vi
 *   mock   iommufd's own mock domain (IOMMUFD_TEST), with dirty tracking;
 *          it works only in a guest with no IOMMU (VSHADOW_IOMMU=none)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>
#include "iommufd_test.h"
#include "kselftest_harness.h"

#define PAGE_4K		4096ULL
/* The mock domain's IO page: PAGE_SIZE / 2 (MOCK_IO_PAGE_SIZE). */
#define MOCK_PAGE	2048ULL

static int ioctl_errno(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) ? errno : 0;
}

static bool iommu_is(const char *name)
{
	const char *v = getenv("VSHADOW_IOMMU");

	return v && !strcmp(v, name);
}

static int ioas_alloc(int fd, __u32 *ioas_id)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };
	int ret = ioctl_errno(fd, IOMMU_IOAS_ALLOC, &cmd);

	*ioas_id = cmd.out_ioas_id;
	return ret;
}

static int ioas_map(int fd, __u32 ioas_id, void *buf, __u64 length, __u64 iova)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas_id,
		.user_va = (uintptr_t)buf,
		.length = length,
		.iova = iova,
	};

	return ioctl_errno(fd, IOMMU_IOAS_MAP, &cmd);
}

/* IOMMU_IOAS_UNMAP; *unmapped gets the length iommufd reports. */
static int ioas_unmap(int fd, __u32 ioas_id, __u64 iova, __u64 length,
		      __u64 *unmapped)
{
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.iova = iova,
		.length = length,
	};
	int ret = ioctl_errno(fd, IOMMU_IOAS_UNMAP, &cmd);

	if (unmapped)
		*unmapped = ret ? 0 : cmd.length;
	return ret;
}

/* The IOAS's usable IOVA ranges, at most @max of them; -errno on error. */
static int ioas_ranges(int fd, __u32 ioas_id, struct iommu_iova_range *r,
		       unsigned int max)
{
	struct iommu_ioas_iova_ranges cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.num_iovas = max,
		.allowed_iovas = (uintptr_t)r,
	};

	if (ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &cmd))
		return -errno;
	return cmd.num_iovas;
}

static void *buffer(size_t length)
{
	void *p = mmap(NULL, length, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* ------------------------------------------------------------------ */
/* An IOAS with no device                                              */
/* ------------------------------------------------------------------ */

FIXTURE(ioas) {
	int fd;
	__u32 ioas_id;
	void *buf;
};

FIXTURE_SETUP(ioas)
{
	self->fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("/dev/iommu: %s (no IOMMUFD?)", strerror(errno));
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas_id));
	self->buf = buffer(16 * PAGE_4K);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(ioas)
{
	munmap(self->buf, 16 * PAGE_4K);
	close(self->fd);
}

/* With no device attached, the IOAS allows the whole 64-bit space. */
TEST_F(ioas, whole_space_allowed)
{
	struct iommu_iova_range r[4];

	ASSERT_EQ(1, ioas_ranges(self->fd, self->ioas_id, r, 4));
	EXPECT_EQ(0, r[0].start);
	EXPECT_EQ(UINT64_MAX, r[0].last);
}

TEST_F(ioas, map_unmap_exact)
{
	__u64 unmapped;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, 4 * PAGE_4K,
			      1ULL << 30));
	/* Overlaps are refused. */
	EXPECT_EQ(EEXIST, ioas_map(self->fd, self->ioas_id, self->buf,
				   PAGE_4K, (1ULL << 30) + PAGE_4K));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 1ULL << 30,
				4 * PAGE_4K, &unmapped));
	EXPECT_EQ(4 * PAGE_4K, unmapped);
	/* Nothing there any more. */
	EXPECT_EQ(ENOENT, ioas_unmap(self->fd, self->ioas_id, 1ULL << 30,
				     4 * PAGE_4K, NULL));
}

/*
 * iova 0 with length U64_MAX is the one way to say "everything": it unmaps
 * every area and reports their total.  Any other range must fit in
 * unsigned long arithmetic.
 */
TEST_F(ioas, unmap_all)
{
	__u64 unmapped;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, PAGE_4K, 0));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, 2 * PAGE_4K,
			      1ULL << 40));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, PAGE_4K,
			      UINT64_MAX - PAGE_4K + 1));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX, &unmapped));
	EXPECT_EQ(4 * PAGE_4K, unmapped);
	EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX, &unmapped));
	EXPECT_EQ(0, unmapped);
}

/*
 * A range that would split an area fails with ENOENT, but the areas before
 * it in the range are already gone by then, and the caller is not told how
 * much was unmapped: an iommufd backend must unmap area by area (or re-probe)
 * to report progress exactly.
 */
TEST_F(ioas, failed_unmap_has_acted)
{
	const __u64 a = 1ULL << 30, b = a + 16 * PAGE_4K;
	__u64 unmapped;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, PAGE_4K, a));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, 4 * PAGE_4K, b));
	/* [a, middle of b]: a is whole in the range, b is not. */
	EXPECT_EQ(ENOENT, ioas_unmap(self->fd, self->ioas_id, a,
				     b - a + PAGE_4K, NULL));
	/* a was unmapped all the same, b was not. */
	EXPECT_EQ(ENOENT, ioas_unmap(self->fd, self->ioas_id, a, PAGE_4K, NULL));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, b, 4 * PAGE_4K,
				&unmapped));
	EXPECT_EQ(4 * PAGE_4K, unmapped);
}

/* ------------------------------------------------------------------ */
/* A real device through VFIO's cdev                                   */
/* ------------------------------------------------------------------ */

FIXTURE(cdev) {
	int fd;
	int dev;
	__u32 dev_id;
	__u32 ioas_id;
	__u32 hwpt_id;
	void *buf;
};

/* The first /dev/vfio/devices/vfioN, opened; -1 when there is none. */
static int open_vfio_cdev(void)
{
	DIR *dir = opendir("/dev/vfio/devices");
	struct dirent *d;
	char path[300];
	int fd = -1;

	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		if (strncmp(d->d_name, "vfio", 4))
			continue;
		snprintf(path, sizeof(path), "/dev/vfio/devices/%s", d->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC);
		break;
	}
	closedir(dir);
	return fd;
}

FIXTURE_SETUP(cdev)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };

	self->dev = -1;
	self->buf = NULL;
	self->fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	if (iommu_is("none"))
		SKIP(return, "no IOMMU in this guest, so no vfio-pci device");
	self->dev = open_vfio_cdev();
	ASSERT_LE(0, self->dev) TH_LOG("no /dev/vfio/devices/vfio*: %s",
				       strerror(errno));
	bind.iommufd = self->fd;
	ASSERT_EQ(0, ioctl_errno(self->dev, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	self->dev_id = bind.out_devid;
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas_id));
	attach.pt_id = self->ioas_id;
	ASSERT_EQ(0, ioctl_errno(self->dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach));
	/* The kernel made a paging domain for the IOAS and names it. */
	self->hwpt_id = attach.pt_id;
	EXPECT_NE(self->ioas_id, self->hwpt_id);
	self->buf = buffer(4 * PAGE_4K);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(cdev)
{
	if (self->buf)
		munmap(self->buf, 4 * PAGE_4K);
	if (self->dev >= 0)
		close(self->dev);
	close(self->fd);
}

/*
 * With the device attached, the IOAS takes the IOMMU's limits: fewer than
 * 2^64 bytes, and the MSI window 0xfee00000-0xfeefffff is never usable.
 */
TEST_F(cdev, ranges_follow_the_iommu)
{
	struct iommu_iova_range r[16];
	int n = ioas_ranges(self->fd, self->ioas_id, r, 16);
	int i;

	ASSERT_LT(1, n);
	for (i = 0; i < n; i++) {
		TH_LOG("range %d: 0x%llx-0x%llx", i, (unsigned long long)r[i].start,
		       (unsigned long long)r[i].last);
		EXPECT_FALSE(r[i].start <= 0xfee00000ULL && r[i].last >= 0xfee00000ULL);
	}
	EXPECT_EQ(EINVAL, ioas_map(self->fd, self->ioas_id, self->buf, PAGE_4K,
				   0xfee00000ULL));
}

TEST_F(cdev, map_unmap)
{
	__u64 unmapped;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, 4 * PAGE_4K,
			      1ULL << 20));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 1ULL << 20,
				4 * PAGE_4K, &unmapped));
	EXPECT_EQ(4 * PAGE_4K, unmapped);
}

/* QEMU's emulated VT-d and AMD-Vi offer no dirty tracking. */
TEST_F(cdev, no_dirty_tracking)
{
	struct iommu_hwpt_alloc alloc = {
		.size = sizeof(alloc),
		.flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
		.dev_id = self->dev_id,
		.pt_id = self->ioas_id,
	};

	EXPECT_EQ(EOPNOTSUPP, ioctl_errno(self->fd, IOMMU_HWPT_ALLOC, &alloc));
}

/* ------------------------------------------------------------------ */
/* iommufd's mock domain, with dirty tracking                          */
/* ------------------------------------------------------------------ */

FIXTURE(mock) {
	int fd;
	__u32 ioas_id;
	__u32 stdev_id;
	__u32 hwpt_id;
	void *buf;
};

#define MOCK_LEN	(16 * PAGE_4K)
#define MOCK_IOVA	((__u64)MOCK_APERTURE_START)

static int test_cmd(int fd, struct iommu_test_cmd *cmd)
{
	cmd->size = sizeof(*cmd);
	return ioctl_errno(fd, IOMMU_TEST_CMD, cmd);
}

/*
 * A mock device on the IOAS, then a dirty-tracking HWPT for it, swapped in
 * with MOCK_DOMAIN_REPLACE, tracking on, and MOCK_LEN mapped at the start
 * of the mock's aperture.
 */
FIXTURE_SETUP(mock)
{
	struct iommu_test_cmd md = { .op = IOMMU_TEST_OP_MOCK_DOMAIN };
	struct iommu_test_cmd rep = { .op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE };
	struct iommu_hwpt_alloc alloc = {
		.size = sizeof(alloc),
		.flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
	};
	struct iommu_hwpt_set_dirty_tracking track = {
		.size = sizeof(track),
		.flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
	};
	int ret;

	self->buf = NULL;
	self->fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas_id));
	md.id = self->ioas_id;
	ret = test_cmd(self->fd, &md);
	if (ret && !iommu_is("none"))
		SKIP(return, "mock domain refused (%s) beside an emulated IOMMU",
		     strerror(ret));
	ASSERT_EQ(0, ret);
	self->stdev_id = md.mock_domain.out_stdev_id;

	alloc.dev_id = md.mock_domain.out_idev_id;
	alloc.pt_id = self->ioas_id;
	ASSERT_EQ(0, ioctl_errno(self->fd, IOMMU_HWPT_ALLOC, &alloc));
	self->hwpt_id = alloc.out_hwpt_id;
	rep.id = self->stdev_id;
	rep.mock_domain_replace.pt_id = self->hwpt_id;
	ASSERT_EQ(0, test_cmd(self->fd, &rep));
	track.hwpt_id = self->hwpt_id;
	ASSERT_EQ(0, ioctl_errno(self->fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &track));

	self->buf = buffer(MOCK_LEN);
	ASSERT_NE(NULL, self->buf);
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, MOCK_LEN,
			      MOCK_IOVA));
}

FIXTURE_TEARDOWN(mock)
{
	if (self->buf)
		munmap(self->buf, MOCK_LEN);
	close(self->fd);
}

/* Read MOCK_LEN's dirty bits at the mock's page size into *bits. */
static int mock_read_dirty(int fd, __u32 hwpt_id, __u32 flags, __u64 *bits)
{
	struct iommu_hwpt_get_dirty_bitmap get = {
		.size = sizeof(get),
		.hwpt_id = hwpt_id,
		.flags = flags,
		.iova = MOCK_IOVA,
		.length = MOCK_LEN,
		.page_size = MOCK_PAGE,
		.data = (uintptr_t)bits,
	};

	*bits = 0;
	return ioctl_errno(fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &get);
}

/* The mock's aperture is [2^24, 2^31 - 1]: large layouts do not fit. */
TEST_F(mock, aperture)
{
	struct iommu_iova_range r[4];

	ASSERT_EQ(1, ioas_ranges(self->fd, self->ioas_id, r, 4));
	EXPECT_EQ(MOCK_APERTURE_START, r[0].start);
	EXPECT_EQ(MOCK_APERTURE_LAST, r[0].last);
	EXPECT_EQ(EINVAL, ioas_map(self->fd, self->ioas_id, self->buf, PAGE_4K,
				   1ULL << 32));
}

/*
 * Bits set through IOMMU_TEST_OP_DIRTY come back from GET_DIRTY_BITMAP at
 * the same places, one bit per 2 KiB mock page; NO_CLEAR leaves them, a
 * plain read clears them.
 */
TEST_F(mock, dirty_bits_round_trip)
{
	/* 32 mock pages in MOCK_LEN: an irregular pattern. */
	__u64 pattern = 0x80000001a5c3f00eULL & ((1ULL << (MOCK_LEN / MOCK_PAGE)) - 1);
	struct iommu_test_cmd dirty = {
		.op = IOMMU_TEST_OP_DIRTY,
		.id = self->hwpt_id,
		.dirty = {
			.iova = MOCK_IOVA,
			.length = MOCK_LEN,
			.page_size = MOCK_PAGE,
			.uptr = (uintptr_t)&pattern,
		},
	};
	__u64 bits;

	ASSERT_EQ(32, MOCK_LEN / MOCK_PAGE);
	ASSERT_EQ(0, mock_read_dirty(self->fd, self->hwpt_id, 0, &bits));
	EXPECT_EQ(0, bits);

	ASSERT_EQ(0, test_cmd(self->fd, &dirty));
	EXPECT_EQ(__builtin_popcountll(pattern), dirty.dirty.out_nr_dirty);

	ASSERT_EQ(0, mock_read_dirty(self->fd, self->hwpt_id,
				     IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR, &bits));
	EXPECT_EQ(pattern, bits);
	ASSERT_EQ(0, mock_read_dirty(self->fd, self->hwpt_id, 0, &bits));
	EXPECT_EQ(pattern, bits);
	ASSERT_EQ(0, mock_read_dirty(self->fd, self->hwpt_id, 0, &bits));
	EXPECT_EQ(0, bits);
}

/* A dirty read whose range is not aligned to its page size is refused. */
TEST_F(mock, dirty_read_needs_aligned_range)
{
	struct iommu_hwpt_get_dirty_bitmap get = {
		.size = sizeof(get),
		.hwpt_id = self->hwpt_id,
		.iova = MOCK_IOVA + MOCK_PAGE / 2,
		.length = MOCK_LEN,
		.page_size = MOCK_PAGE,
	};
	__u64 bits = 0;

	get.data = (uintptr_t)&bits;
	EXPECT_EQ(EINVAL, ioctl_errno(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &get));
}

TEST_HARNESS_MAIN
