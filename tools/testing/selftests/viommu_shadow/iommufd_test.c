// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd groundwork: what the debug kernel's iommufd does, checked, so
 * that the iommufd backend starts from facts rather than from memory; and,
 * on iommufd's mock domain, the iommufd backend's dirty bits, which only
 * that mock can show.  Runs only on the debug lane (the only kernel here
 * with IOMMUFD), built against that kernel's uapi headers and its
 * drivers/iommu/iommufd/iommufd_test.h.
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
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>
#include <linux/viommu_shadow.h>
#include "iommufd_test.h"
#include "iommufd_mock.h"
#include "kselftest_harness.h"
#include "vshadow.h"

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

static int vs_map(int ctx, __u64 iova, __u64 length, void *vaddr,
		  __u64 cookie);

/*
 * iommufd's VFIO compatibility layer: /dev/iommu hands every ioctl that
 * is not iommufd's own to it, so with the IOAS made its compatibility
 * IOAS and VFIO_SET_IOMMU(TYPE1v2) it answers as a VFIO container does
 * (a kernel with IOMMUFD_VFIO_CONTAINER puts the same code behind
 * /dev/vfio/vfio; the debug kernel has not, and the module's test build
 * lets the type1 backend attach to /dev/iommu instead).  It has no
 * migration capability: no dirty bits.  An unmap of nothing answers 0
 * bytes on this kernel, as type1 does; older compatibility layers
 * answered ENOENT, which the module's injector plays (test build,
 * debugfs fail_nth, point "enoent").  Either way a mapping of the
 * context's that the VMM removed directly is found gone and the context
 * breaks (EIO), instead of the mapping blocking every later unmap over
 * it (ENOENT, a plain error, did that).
 */
static int compat_unmap(int fd, __u64 iova, __u64 size, __u64 *done)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap), .iova = iova, .size = size,
	};
	int ret = ioctl_errno(fd, VFIO_IOMMU_UNMAP_DMA, &unmap);

	*done = unmap.size;
	return ret;
}

/* A context on the compatibility container, its mapping removed directly. */
static int compat_ctx(int fd, void *buf)
{
	struct viommu_shadow_attach at = {
		.size = sizeof(at),
		.backend = VIOMMU_SHADOW_BACKEND_VFIO_TYPE1,
		.fd = fd,
	};
	__u64 done;
	int ctx;

	ctx = open("/dev/viommu_shadow", O_RDWR | O_CLOEXEC);
	if (ctx < 0)
		return -1;
	if (ioctl_errno(ctx, VIOMMU_SHADOW_ATTACH, &at) ||
	    vs_map(ctx, 1ULL << 30, PAGE_4K, buf, 1) ||
	    vs_map(ctx, (1ULL << 30) + 4 * PAGE_4K, PAGE_4K, buf, 2) ||
	    compat_unmap(fd, (1ULL << 30) + 4 * PAGE_4K, PAGE_4K, &done) ||
	    done != PAGE_4K) {
		close(ctx);
		return -1;
	}
	return ctx;
}

TEST_F(ioas, vfio_compat_container)
{
	struct viommu_shadow_unmap_record rec[4];
	struct iommu_vfio_ioas set = {
		.size = sizeof(set),
		.ioas_id = self->ioas_id,
		.op = IOMMU_VFIO_IOAS_SET,
	};
	struct viommu_shadow_unmap_range r = {
		.size = sizeof(r), .start = 0, .last = ~0ULL,
		.records = (uintptr_t)rec, .nr_records = 4,
		.record_size = sizeof(rec[0]),
	};
	struct viommu_shadow_info info = { .size = sizeof(info) };
	struct viommu_shadow_attach at = {
		.size = sizeof(at),
		.backend = VIOMMU_SHADOW_BACKEND_VFIO_TYPE1,
		.fd = self->fd,
	};
	char nth[16], state[96];
	bool seen = false;
	int ctx, ctl, ret;
	unsigned int n;
	__u64 done = 1;
	ssize_t len;

	ASSERT_EQ(0, ioctl_errno(self->fd, IOMMU_VFIO_IOAS, &set));
	ASSERT_EQ(0, ioctl_errno(self->fd, VFIO_SET_IOMMU,
				 (void *)VFIO_TYPE1v2_IOMMU));
	ret = compat_unmap(self->fd, 1ULL << 30, PAGE_4K, &done);
	TH_LOG("compat unmap of nothing: %s, %llu bytes",
	       ret ? strerror(ret) : "success", (unsigned long long)done);

	ctx = open("/dev/viommu_shadow", O_RDWR | O_CLOEXEC);
	if (ctx < 0)
		SKIP(return, "viommu_shadow not loaded");
	ret = ioctl_errno(ctx, VIOMMU_SHADOW_ATTACH, &at);
	if (ret == EINVAL)
		SKIP(return, "not the test build: type1 takes /dev/vfio/vfio only");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, ioctl_errno(ctx, VIOMMU_SHADOW_GET_INFO, &info));
	EXPECT_FALSE(info.features & VIOMMU_SHADOW_FEATURE_DIRTY);
	EXPECT_EQ(PAGE_4K, info.pgsize);
	close(ctx);

	/* This kernel's answer. */
	ctx = compat_ctx(self->fd, self->buf);
	ASSERT_LE(0, ctx);
	EXPECT_EQ(EIO, ioctl_errno(ctx, VIOMMU_SHADOW_UNMAP_RANGE, &r));
	EXPECT_EQ(1, r.out_nr_records);
	EXPECT_EQ(1, rec[0].cookie);
	ASSERT_EQ(0, ioctl_errno(ctx, VIOMMU_SHADOW_GET_INFO, &info));
	EXPECT_TRUE(info.out_flags & VIOMMU_SHADOW_INFO_OUT_BROKEN);
	close(ctx);
	ASSERT_EQ(0, compat_unmap(self->fd, 0, ~0ULL, &done));

	/* An older layer's ENOENT, from the injector. */
	ctl = open("/sys/kernel/debug/viommu_shadow/fail_nth", O_RDWR);
	ASSERT_LE(0, ctl);
	for (n = 1; n < 64 && !seen; n++) {
		ctx = compat_ctx(self->fd, self->buf);
		ASSERT_LE(0, ctx);
		/* A seq_file: no pread()/pwrite(), seek first. */
		len = snprintf(nth, sizeof(nth), "%u", n);
		ASSERT_EQ(0, lseek(ctl, 0, SEEK_SET));
		ASSERT_EQ(len, write(ctl, nth, len));
		ret = ioctl_errno(ctx, VIOMMU_SHADOW_UNMAP_RANGE, &r);
		ASSERT_EQ(0, lseek(ctl, 0, SEEK_SET));
		len = read(ctl, state, sizeof(state) - 1);
		ASSERT_LT(0, len);
		state[len] = 0;
		ASSERT_EQ(0, lseek(ctl, 0, SEEK_SET));
		ASSERT_EQ(1, write(ctl, "0", 1));
		if (strstr(state, " enoent ")) {
			seen = true;
			EXPECT_EQ(EIO, ret);
			EXPECT_EQ(1, r.out_nr_records);
			ASSERT_EQ(0, ioctl_errno(ctx, VIOMMU_SHADOW_GET_INFO,
						 &info));
			EXPECT_TRUE(info.out_flags &
				    VIOMMU_SHADOW_INFO_OUT_BROKEN);
		}
		close(ctx);
		ASSERT_EQ(0, compat_unmap(self->fd, 0, ~0ULL, &done));
	}
	close(ctl);
	EXPECT_TRUE(seen);
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

/*
 * A mock device on the IOAS, then a dirty-tracking HWPT for it, swapped in
 * with MOCK_DOMAIN_REPLACE, tracking on, and MOCK_LEN mapped at the start
 * of the mock's aperture.
 */
FIXTURE_SETUP(mock)
{
	int ret;

	self->buf = NULL;
	self->fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas_id));
	ret = mock_dirty_device(self->fd, self->ioas_id, &self->hwpt_id,
				&self->stdev_id);
	if (ret && !iommu_is("none"))
		SKIP(return, "mock domain refused (%s) beside an emulated IOMMU",
		     strerror(ret));
	ASSERT_EQ(0, ret);

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

	ASSERT_EQ(0, mock_cmd(self->fd, &dirty));
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

/* ---- viommu_shadow's iommufd backend over this IOAS ---- */

#define VS_BASE		(MOCK_IOVA + MOCK_LEN)
/* The module reads one page of bits per call: 32768 4 KiB pages. */
#define VS_RUN_PAGES	32768ULL

/*
 * Mark 4 KiB pages of [base, base + 64 pages) dirty in the HWPT: bit i of
 * @pattern is page i.  The mock keys its IOPTEs by 2 KiB page, so each
 * 4 KiB page is two of its bits; pages with nothing mapped stay clean.
 */
static int vs_set_dirty(int fd, __u32 hwpt_id, __u64 base, __u64 pattern)
{
	__u64 mock_bits[2] = { 0, 0 };
	struct iommu_test_cmd dirty = {
		.op = IOMMU_TEST_OP_DIRTY,
		.id = hwpt_id,
		.dirty = {
			.iova = base,
			.length = 64 * PAGE_4K,
			.page_size = MOCK_PAGE,
			.uptr = (uintptr_t)mock_bits,
		},
	};
	unsigned int p;

	for (p = 0; p < 64; p++)
		if (pattern & (1ULL << p))
			mock_bits[p / 32] |= 3ULL << (2 * (p % 32));
	return mock_cmd(fd, &dirty);
}

/*
 * Each record's bits are those of @pattern for its pages, page 0 of the
 * pattern being @base; pages outside the pattern's 64 must be clean.
 */
static bool vs_bits_match(const struct viommu_shadow_unmap_record *rec,
			  unsigned int n, const __u64 *bits, __u64 base,
			  __u64 pattern)
{
	__u64 p, page, bit;
	bool want;
	unsigned int i;

	for (i = 0; i < n; i++) {
		for (p = 0; p < rec[i].bitmap_bits; p++) {
			page = (rec[i].iova - base) / PAGE_4K + p;
			want = rec[i].iova + p * PAGE_4K >= base && page < 64 &&
			       pattern & (1ULL << page);
			bit = rec[i].bitmap_offset + p;
			if (!!(bits[bit / 64] & (1ULL << (bit % 64))) != want)
				return false;
		}
	}
	return true;
}

static int vs_attach(int ctx, int fd, __u32 ioas_id, const __u32 *hwpts,
		     __u32 nr)
{
	struct viommu_shadow_attach at = {
		.size = sizeof(at),
		.backend = VIOMMU_SHADOW_BACKEND_IOMMUFD,
		.fd = fd,
		.backend_id = ioas_id,
		.nr_dirty_hwpts = nr,
		.dirty_hwpts = (uintptr_t)hwpts,
	};

	return ioctl_errno(ctx, VIOMMU_SHADOW_ATTACH, &at);
}

static int vs_map(int ctx, __u64 iova, __u64 length, void *vaddr,
		  __u64 cookie)
{
	struct viommu_shadow_map m = {
		.size = sizeof(m),
		.flags = VIOMMU_SHADOW_MAP_READ | VIOMMU_SHADOW_MAP_WRITE,
		.iova = iova,
		.length = length,
		.vaddr = (uintptr_t)vaddr,
		.cookie = cookie,
	};

	return ioctl_errno(ctx, VIOMMU_SHADOW_MAP, &m);
}

static __u64 vs_features(int ctx)
{
	struct viommu_shadow_info info = { .size = sizeof(info) };

	return ioctl_errno(ctx, VIOMMU_SHADOW_GET_INFO, &info) ? 0 :
	       info.features;
}

/*
 * A context attached to @ioas_id with @hwpt_id; -1 with *@why when the
 * modules are not loaded (a skip), -2 when ATTACH failed.
 */
static int vs_open(int fd, __u32 ioas_id, __u32 hwpt_id, const char **why)
{
	int ctx = open("/dev/viommu_shadow", O_RDWR | O_CLOEXEC), ret;

	*why = "viommu_shadow not loaded";
	if (ctx < 0)
		return -1;
	ret = vs_attach(ctx, fd, ioas_id, &hwpt_id, 1);
	if (!ret)
		return ctx;
	close(ctx);
	*why = "viommu_shadow_iommufd not loaded";
	return ret == EOPNOTSUPP ? -1 : -2;
}

/* An UNMAP_RANGE (or SYNC_DIRTY) of [start, last] with dirty bits. */
static struct viommu_shadow_unmap_range
vs_range(__u64 start, __u64 last, __u32 flags,
	 struct viommu_shadow_unmap_record *rec, __u32 nr, __u64 *bits,
	 __u64 bytes)
{
	return (struct viommu_shadow_unmap_range) {
		.size = sizeof(struct viommu_shadow_unmap_range),
		.flags = VIOMMU_SHADOW_UNMAP_GET_DIRTY | flags,
		.start = start, .last = last,
		.records = (uintptr_t)rec, .nr_records = nr,
		.record_size = sizeof(rec[0]),
		.bitmap = (uintptr_t)bits, .bitmap_bytes = bytes,
		.bitmap_pgsize = PAGE_4K,
	};
}

/*
 * A run of four back-to-back mappings and one alone: each record gets its
 * own pages' bits (set in the mock domain), by SYNC_DIRTY (dense layout)
 * and then by UNMAP_RANGE (padded), which reads with NO_CLEAR and then
 * unmaps.  The sync cleared what it read: the unmap sees only new bits.
 */
TEST_F(mock, viommu_shadow_dirty_bits)
{
	static const unsigned int pages[] = { 1, 3, 1, 2 };
	const __u64 pat1 = 0x30052ULL, pat2 = 0x1000bULL;
	struct viommu_shadow_unmap_record rec[8];
	struct viommu_shadow_unmap_range r;
	__u64 bits[8], off = 0;
	unsigned int i;
	const char *why;
	int ctx;

	ctx = vs_open(self->fd, self->ioas_id, self->hwpt_id, &why);
	if (ctx == -1)
		SKIP(return, "%s", why);
	ASSERT_LE(0, ctx);
	ASSERT_TRUE(vs_features(ctx) & VIOMMU_SHADOW_FEATURE_DIRTY);
	/* Pages 0..6 back to back, then two pages at 16. */
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, vs_map(ctx, VS_BASE + off * PAGE_4K,
				    pages[i] * PAGE_4K, self->buf, i));
		off += pages[i];
	}
	ASSERT_EQ(0, vs_map(ctx, VS_BASE + 16 * PAGE_4K, 2 * PAGE_4K,
			    self->buf, 4));

	ASSERT_EQ(0, vs_set_dirty(self->fd, self->hwpt_id, VS_BASE, pat1));
	r = vs_range(VS_BASE, ~0ULL, VIOMMU_SHADOW_UNMAP_DENSE, rec, 8,
		     bits, sizeof(bits));
	ASSERT_EQ(0, ioctl_errno(ctx, VIOMMU_SHADOW_SYNC_DIRTY, &r));
	ASSERT_EQ(5, r.out_nr_records);
	EXPECT_EQ(7, rec[4].bitmap_offset);
	EXPECT_TRUE(vs_bits_match(rec, 5, bits, VS_BASE, pat1))
		TH_LOG("bits %llx", (unsigned long long)bits[0]);

	ASSERT_EQ(0, vs_set_dirty(self->fd, self->hwpt_id, VS_BASE, pat2));
	r = vs_range(VS_BASE, ~0ULL, 0, rec, 8, bits, sizeof(bits));
	memset(bits, 0xff, sizeof(bits));
	ASSERT_EQ(0, ioctl_errno(ctx, VIOMMU_SHADOW_UNMAP_RANGE, &r));
	ASSERT_EQ(5, r.out_nr_records);
	for (i = 0; i < 5; i++)
		EXPECT_EQ(i, rec[i].cookie);
	EXPECT_EQ(4 * 64, rec[4].bitmap_offset);
	EXPECT_TRUE(vs_bits_match(rec, 5, bits, VS_BASE, pat2))
		TH_LOG("bits %llx %llx %llx %llx %llx",
		       (unsigned long long)bits[0], (unsigned long long)bits[1],
		       (unsigned long long)bits[2], (unsigned long long)bits[3],
		       (unsigned long long)bits[4]);
	/* Gone from the IOAS too: the range unmaps nothing more. */
	EXPECT_EQ(ENOENT, ioas_unmap(self->fd, self->ioas_id, VS_BASE,
				     18 * PAGE_4K, NULL));
	close(ctx);
}

/*
 * The dirty log by cookie on iommufd's mock domain: the mappings of
 * viommu_shadow_dirty_bits, with cookies that put their bits mid-word and
 * across words of a log, the third an alias of a page of the second, and
 * the fifth's cookie not page-aligned (its bits go to the bitmap with its
 * record).  By SYNC_DIRTY, then by UNMAP_RANGE; the log's background
 * bits stay.
 */
TEST_F(mock, viommu_shadow_dirty_log)
{
	static const unsigned int pages[] = { 1, 3, 1, 2 };
	/* the log bit of each mapping's first page */
	static const __u64 at[] = { 63, 3, 5, 127 };
	const __u64 pats[] = { 0x30052ULL, 0x1000bULL }, base = 1ULL << 40;
	const __u64 background = 0x8000000100000001ULL;
	struct viommu_shadow_unmap_record rec[8];
	struct viommu_shadow_unmap_range r;
	__u64 bits[2], log[4], want[4], off, p, bit;
	unsigned int i, op;
	const char *why;
	int ctx;

	ctx = vs_open(self->fd, self->ioas_id, self->hwpt_id, &why);
	if (ctx == -1)
		SKIP(return, "%s", why);
	ASSERT_LE(0, ctx);
	ASSERT_TRUE(vs_features(ctx) & VIOMMU_SHADOW_FEATURE_DIRTY_LOG);
	for (i = 0, off = 0; i < 4; off += pages[i++])
		ASSERT_EQ(0, vs_map(ctx, VS_BASE + off * PAGE_4K,
				    pages[i] * PAGE_4K, self->buf,
				    base + at[i] * PAGE_4K));
	ASSERT_EQ(0, vs_map(ctx, VS_BASE + 16 * PAGE_4K, 2 * PAGE_4K,
			    self->buf, base + 8));

	for (op = 0; op < 2; op++) {
		ASSERT_EQ(0, vs_set_dirty(self->fd, self->hwpt_id, VS_BASE,
					  pats[op]));
		for (i = 0; i < 4; i++) {
			log[i] = background;
			want[i] = background;
		}
		for (i = 0, off = 0; i < 4; off += pages[i++])
			for (p = 0; p < pages[i]; p++)
				if (pats[op] & (1ULL << (off + p)))
					want[(at[i] + p) / 64] |=
						1ULL << ((at[i] + p) % 64);
		r = vs_range(VS_BASE, ~0ULL, VIOMMU_SHADOW_UNMAP_DIRTY_LOG,
			     rec, 8, bits, sizeof(bits));
		r.log = (uintptr_t)log;
		r.log_base = base;
		r.log_pages = 256;
		ASSERT_EQ(0, ioctl_errno(ctx, op ? VIOMMU_SHADOW_UNMAP_RANGE :
					      VIOMMU_SHADOW_SYNC_DIRTY, &r));
		ASSERT_EQ(5, r.out_nr_records);
		for (i = 0; i < 4; i++)
			EXPECT_EQ(VIOMMU_SHADOW_RECORD_LOGGED, rec[i].flags);
		for (i = 0; i < 4; i++) {
			EXPECT_EQ(want[i], log[i])
				TH_LOG("op %u word %u: %llx", op, i,
				       (unsigned long long)log[i]);
		}
		/* the misfit: its bits in the bitmap, from offset 0 */
		EXPECT_EQ(VIOMMU_SHADOW_RECORD_DIRTY, rec[4].flags);
		EXPECT_EQ(0, rec[4].bitmap_offset);
		for (p = 0; p < 2; p++) {
			bit = !!(bits[0] & (1ULL << p));
			EXPECT_EQ(!!(pats[op] & (1ULL << (16 + p))), bit);
		}
	}
	EXPECT_EQ(ENOENT, ioas_unmap(self->fd, self->ioas_id, VS_BASE,
				     18 * PAGE_4K, NULL));
	close(ctx);
}

/*
 * An IOAS can back several HWPTs, each recording only its own devices'
 * writes: a context that names both reports the union, one that names
 * one reports that one's bits only (which is why ATTACH asks for all).
 */
TEST_F(mock, viommu_shadow_two_hwpts)
{
	struct viommu_shadow_unmap_record rec[2];
	struct viommu_shadow_unmap_range r;
	__u32 hwpts[2] = { self->hwpt_id }, stdev;
	__u64 bits[2];
	int ctx, one;

	ASSERT_EQ(0, mock_dirty_device(self->fd, self->ioas_id, &hwpts[1],
				       &stdev));

	ctx = open("/dev/viommu_shadow", O_RDWR | O_CLOEXEC);
	one = open("/dev/viommu_shadow", O_RDWR | O_CLOEXEC);
	if (ctx < 0 || one < 0)
		SKIP(return, "viommu_shadow not loaded");
	if (vs_attach(ctx, self->fd, self->ioas_id, hwpts, 2) == EOPNOTSUPP)
		SKIP(return, "viommu_shadow_iommufd not loaded");
	ASSERT_EQ(0, vs_attach(one, self->fd, self->ioas_id, hwpts, 1));
	ASSERT_EQ(0, vs_map(ctx, VS_BASE, 8 * PAGE_4K, self->buf, 1));
	ASSERT_EQ(0, vs_map(one, VS_BASE + 8 * PAGE_4K, 8 * PAGE_4K,
			    self->buf, 2));

	/* Both mappings are in both HWPTs; each HWPT dirties its own pages. */
	ASSERT_EQ(0, vs_set_dirty(self->fd, hwpts[0], VS_BASE, 0x0303));
	ASSERT_EQ(0, vs_set_dirty(self->fd, hwpts[1], VS_BASE, 0xc0c0));

	r = vs_range(0, ~0ULL, 0, rec, 2, bits, sizeof(bits));
	ASSERT_EQ(0, ioctl_errno(ctx, VIOMMU_SHADOW_UNMAP_RANGE, &r));
	ASSERT_EQ(1, r.out_nr_records);
	EXPECT_TRUE(vs_bits_match(rec, 1, bits, VS_BASE, 0xc3c3))
		TH_LOG("bits %llx", (unsigned long long)bits[0]);

	r = vs_range(0, ~0ULL, 0, rec, 2, bits, sizeof(bits));
	ASSERT_EQ(0, ioctl_errno(one, VIOMMU_SHADOW_UNMAP_RANGE, &r));
	ASSERT_EQ(1, r.out_nr_records);
	EXPECT_TRUE(vs_bits_match(rec, 1, bits, VS_BASE, 0x0300))
		TH_LOG("bits %llx", (unsigned long long)bits[0]);
	close(one);
	close(ctx);
}

/* ATTACH's HWPT list: each error, and nothing attached after it. */
TEST_F(mock, viommu_shadow_attach_hwpts)
{
	__u32 many[VIOMMU_SHADOW_DIRTY_HWPTS_MAX + 1];
	struct viommu_shadow_attach old = {
		.size = offsetof(struct viommu_shadow_attach, nr_dirty_hwpts),
		.backend = VIOMMU_SHADOW_BACKEND_IOMMUFD,
		.fd = self->fd,
		.backend_id = self->ioas_id,
	};
	__u32 bogus = 9999;
	unsigned int i;
	int ctx;

	for (i = 0; i < ARRAY_SIZE(many); i++)
		many[i] = self->hwpt_id;
	ctx = open("/dev/viommu_shadow", O_RDWR | O_CLOEXEC);
	if (ctx < 0)
		SKIP(return, "viommu_shadow not loaded");
	if (vs_attach(ctx, self->fd, self->ioas_id, NULL, 0) == EOPNOTSUPP)
		SKIP(return, "viommu_shadow_iommufd not loaded");
	close(ctx);

	ctx = open("/dev/viommu_shadow", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, ctx);
	EXPECT_EQ(EINVAL, vs_attach(ctx, self->fd, self->ioas_id, many,
				    ARRAY_SIZE(many)));
	EXPECT_EQ(EINVAL, vs_attach(ctx, self->fd, self->ioas_id, many, 0));
	EXPECT_EQ(EFAULT, vs_attach(ctx, self->fd, self->ioas_id,
				    (__u32 *)8, 1));
	EXPECT_EQ(ENOENT, vs_attach(ctx, self->fd, self->ioas_id, &bogus, 1));
	/* The IOAS is not a HWPT. */
	EXPECT_EQ(ENOENT, vs_attach(ctx, self->fd, self->ioas_id,
				    &self->ioas_id, 1));
	/* Still unattached. */
	EXPECT_EQ(ENXIO, vs_map(ctx, VS_BASE, PAGE_4K, self->buf, 0));
	/* The struct of before the HWPTs: a context without dirty bits. */
	ASSERT_EQ(0, ioctl_errno(ctx, VIOMMU_SHADOW_ATTACH, &old));
	EXPECT_FALSE(vs_features(ctx) & VIOMMU_SHADOW_FEATURE_DIRTY);
	close(ctx);

	ctx = open("/dev/viommu_shadow", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, ctx);
	ASSERT_EQ(0, vs_attach(ctx, self->fd, self->ioas_id, many,
			       VIOMMU_SHADOW_DIRTY_HWPTS_MAX));
	EXPECT_TRUE(vs_features(ctx) & VIOMMU_SHADOW_FEATURE_DIRTY);
	close(ctx);
}

/*
 * ATTACH checks each HWPT with a NO_CLEAR read of [0, 4096), a hole of
 * this IOAS (the mock's aperture starts at 2^24).  What a read of a hole
 * proves is "a HWPT iommufd reads dirty bits of" (ENOENT and EOPNOTSUPP
 * come before the range is looked at), never "tracks now".  Today's
 * kernel (6.12) answers it with success, dropping iopt's EINVAL for a
 * range without areas: recorded here with a direct read.  A kernel that
 * returns the EINVAL must not make ATTACH fail: the module's injector
 * (test build, debugfs fail_nth) answers that read with EINVAL, found by
 * arming points in turn until the one that fails is the "hole" one.
 */
TEST_F(mock, viommu_shadow_hwpt_check_reads_a_hole)
{
	struct iommu_hwpt_get_dirty_bitmap get = {
		.size = sizeof(get),
		.hwpt_id = self->hwpt_id,
		.flags = IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR,
		.iova = 0,
		.length = PAGE_4K,
		.page_size = PAGE_4K,
	};
	char nth[16], state[96];
	__u64 bits = 0;
	bool seen = false;
	int ctx, ctl, ret;
	unsigned int n;
	ssize_t len;

	get.data = (uintptr_t)&bits;
	EXPECT_EQ(0, ioctl_errno(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &get));

	ctl = open("/sys/kernel/debug/viommu_shadow/fail_nth", O_RDWR);
	if (ctl < 0)
		SKIP(return, "no fail_nth: not the test build of the module");
	for (n = 1; n < 64 && !seen; n++) {
		ctx = open("/dev/viommu_shadow", O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, ctx);
		/* A seq_file: no pread()/pwrite(), seek first. */
		len = snprintf(nth, sizeof(nth), "%u", n);
		ASSERT_EQ(0, lseek(ctl, 0, SEEK_SET));
		ASSERT_EQ(len, write(ctl, nth, len));
		ret = vs_attach(ctx, self->fd, self->ioas_id, &self->hwpt_id, 1);
		ASSERT_EQ(0, lseek(ctl, 0, SEEK_SET));
		len = read(ctl, state, sizeof(state) - 1);
		ASSERT_LT(0, len);
		state[len] = 0;
		ASSERT_EQ(0, lseek(ctl, 0, SEEK_SET));
		ASSERT_EQ(1, write(ctl, "0", 1));
		if (ret == EOPNOTSUPP)
			SKIP(return, "viommu_shadow_iommufd not loaded");
		if (strstr(state, " hole ")) {
			seen = true;
			EXPECT_EQ(0, ret);
			EXPECT_TRUE(vs_features(ctx) &
				    VIOMMU_SHADOW_FEATURE_DIRTY);
		}
		close(ctx);
	}
	close(ctl);
	EXPECT_TRUE(seen);
}

/*
 * The bits page of a context with HWPTs is one iommufd can pin, so it has
 * no VM_IO and MADV_DOFORK is allowed on it.  A child forked after that
 * must not get the parent's live page (it would write into the bits of a
 * read in progress): it gets no copy of the page's PTE, and a fault in the
 * child gives it nothing (SIGBUS).  The parent's page stays as it was.
 * The bits page is found as the one argument page MADV_DOFORK accepts
 * (the other has VM_IO, which refuses it).
 */
TEST_F(mock, viommu_shadow_bits_page_not_forked)
{
	char line[512];
	__u64 *bits = NULL;
	uintptr_t lo, hi;
	const char *why;
	int ctx, status;
	__u64 before;
	FILE *f;
	pid_t pid;

	ctx = vs_open(self->fd, self->ioas_id, self->hwpt_id, &why);
	if (ctx == -1)
		SKIP(return, "%s", why);
	ASSERT_LE(0, ctx);
	f = fopen("/proc/self/maps", "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, "anon_inode:[viommu_shadow-args]") ||
		    sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		if (!madvise((void *)lo, hi - lo, MADV_DOFORK))
			bits = (__u64 *)lo;
	}
	fclose(f);
	ASSERT_NE(NULL, bits);
	/* The parent's own access maps the page in, before the fork. */
	before = __atomic_load_n(bits, __ATOMIC_RELAXED);

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		__atomic_store_n(bits, 0x5a5a5a5a5a5a5a5aULL, __ATOMIC_RELAXED);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS)
		TH_LOG("child status %#x", status);
	EXPECT_EQ(before, __atomic_load_n(bits, __ATOMIC_RELAXED));
	close(ctx);
}

static int vs_set_hwpts(int ctx, const __u32 *hwpts, __u32 nr)
{
	struct viommu_shadow_set_hwpts set = {
		.size = sizeof(set),
		.nr_dirty_hwpts = nr,
		.dirty_hwpts = (uintptr_t)hwpts,
	};

	return ioctl_errno(ctx, VIOMMU_SHADOW_SET_HWPTS, &set);
}

/* The module's pages in this process (argument and bits pages). */
static int vs_pages(void)
{
	char line[512];
	int n = 0;
	FILE *f;

	f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += !!strstr(line, "anon_inode:[viommu_shadow-args]");
	fclose(f);
	return n;
}

/*
 * Whether vshadowctl (netlink) shows a context reading exactly the HWPTs
 * @want ("[5,9]"): the test's one context is the only one open.
 */
static bool vs_shows_hwpts(const char *want)
{
	char out[4096], key[64];
	size_t got;
	FILE *p;

	p = popen("/bin/vshadowctl -j show 2>&1", "r");
	if (!p)
		return false;
	got = fread(out, 1, sizeof(out) - 1, p);
	out[got] = 0;
	pclose(p);
	snprintf(key, sizeof(key), "\"dirty_hwpts\":%s,", want);
	if (strstr(out, key))
		return true;
	fprintf(stderr, "# vshadowctl shows no %s: %s", key, out);
	return false;
}

/*
 * Unmap the one bits page of this process: of the module's pages, the
 * one MADV_DOFORK accepts (the argument page has VM_IO, which refuses
 * it).  0, or -1 when there is not exactly one.
 */
static int vs_munmap_bits_page(void)
{
	uintptr_t lo, hi, bits = 0;
	char line[512];
	int n = 0;
	FILE *f;

	f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, "anon_inode:[viommu_shadow-args]") ||
		    sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		if (!madvise((void *)lo, hi - lo, MADV_DOFORK)) {
			bits = lo;
			n++;
		}
	}
	fclose(f);
	return n == 1 ? munmap((void *)bits, PAGE_4K) : -1;
}

/* SYNC_DIRTY of the context's one mapping, 8 pages at VS_BASE: its bits. */
static int vs_sync8(int ctx, __u64 *bits)
{
	struct viommu_shadow_unmap_record rec[2];
	struct viommu_shadow_unmap_range r;
	int ret;

	r = vs_range(VS_BASE, ~0ULL, 0, rec, 2, bits, 8);
	*bits = 0;
	ret = ioctl_errno(ctx, VIOMMU_SHADOW_SYNC_DIRTY, &r);
	if (!ret && (r.out_nr_records != 1 || rec[0].bitmap_offset))
		return -1;
	return ret;
}

/*
 * SET_HWPTS replaces the HWPTs a context reads, as when a device is
 * hot-added behind a new HWPT of the IOAS: from HWPT A to B (B's bits
 * appear, A's no longer), a refused list that changes nothing, to none
 * (no dirty bits, the bits page gone from the VMM's address space) and
 * back to both (A's bits from before are read again); vshadowctl shows
 * the list each time.  A refusal from none leaves no bits page behind;
 * a bits page the VMM unmapped breaks the context, as for any call.  Then what the
 * uapi header says of a HWPT destroyed while the context names it: the
 * read fails before the run is unmapped, and the mapping is unmapped
 * without bits, reported lost.
 */
TEST_F(mock, viommu_shadow_set_hwpts)
{
	struct iommu_test_cmd rep = { .op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE };
	struct iommu_destroy destroy = { .size = sizeof(destroy) };
	struct viommu_shadow_set_hwpts set = { .size = sizeof(set) };
	struct viommu_shadow_info info = { .size = sizeof(info) };
	__u32 a = self->hwpt_id, b, stdev, both[2], many[9];
	struct viommu_shadow_unmap_record rec[4];
	struct viommu_shadow_unmap_range r;
	__u64 bits = 0, big[4];
	const char *why;
	char want[32];
	int ctx;

	ctx = vs_open(self->fd, self->ioas_id, a, &why);
	if (ctx == -1)
		SKIP(return, "%s", why);
	ASSERT_LE(0, ctx);
	ASSERT_EQ(VIOMMU_SHADOW_FEATURE_SET_HWPTS | VIOMMU_SHADOW_FEATURE_DIRTY,
		  vs_features(ctx) & (VIOMMU_SHADOW_FEATURE_SET_HWPTS |
				      VIOMMU_SHADOW_FEATURE_DIRTY));
	ASSERT_EQ(0, mock_dirty_device(self->fd, self->ioas_id, &b, &stdev));
	both[0] = a;
	both[1] = b;
	ASSERT_EQ(0, vs_map(ctx, VS_BASE, 8 * PAGE_4K, self->buf, 1));
	ASSERT_EQ(2, vs_pages());

	ASSERT_EQ(0, vs_set_dirty(self->fd, a, VS_BASE, 0x03));
	ASSERT_EQ(0, vs_set_dirty(self->fd, b, VS_BASE, 0x30));
	ASSERT_EQ(0, vs_sync8(ctx, &bits));
	EXPECT_EQ(0x03, bits);

	/* To B: B's bits (kept since they were set) appear, A's no longer. */
	snprintf(want, sizeof(want), "[%u]", a);
	EXPECT_TRUE(vs_shows_hwpts(want));
	ASSERT_EQ(0, vs_set_hwpts(ctx, &b, 1));
	snprintf(want, sizeof(want), "[%u]", b);
	EXPECT_TRUE(vs_shows_hwpts(want));
	ASSERT_EQ(0, vs_set_dirty(self->fd, a, VS_BASE, 0x0c));
	ASSERT_EQ(0, vs_sync8(ctx, &bits));
	EXPECT_EQ(0x30, bits);

	/* Refusals: the list stays B, the context unbroken. */
	EXPECT_EQ(ENOENT, vs_set_hwpts(ctx, (__u32 []){ b, self->ioas_id },
				       2));
	memset(many, 0, sizeof(many));
	EXPECT_EQ(EINVAL, vs_set_hwpts(ctx, many, 9));
	EXPECT_EQ(EFAULT, vs_set_hwpts(ctx, (__u32 *)8, 1));
	EXPECT_EQ(EINVAL, vs_set_hwpts(ctx, &b, 0));
	set.flags = 1;
	EXPECT_EQ(EOPNOTSUPP, ioctl_errno(ctx, VIOMMU_SHADOW_SET_HWPTS, &set));
	set.flags = 0;
	set.__reserved = 1;
	EXPECT_EQ(EINVAL, ioctl_errno(ctx, VIOMMU_SHADOW_SET_HWPTS, &set));
	ASSERT_EQ(0, vs_set_dirty(self->fd, b, VS_BASE, 0xc0));
	ASSERT_EQ(0, vs_sync8(ctx, &bits));
	EXPECT_EQ(0xc0, bits);
	EXPECT_TRUE(vs_shows_hwpts(want));

	/* To none: no dirty bits, and the bits page is unmapped. */
	ASSERT_EQ(0, vs_set_hwpts(ctx, NULL, 0));
	EXPECT_EQ(VIOMMU_SHADOW_FEATURE_SET_HWPTS,
		  vs_features(ctx) & (VIOMMU_SHADOW_FEATURE_SET_HWPTS |
				      VIOMMU_SHADOW_FEATURE_DIRTY));
	EXPECT_EQ(1, vs_pages());
	EXPECT_TRUE(vs_shows_hwpts("[]"));
	EXPECT_EQ(EOPNOTSUPP, vs_sync8(ctx, &bits));
	/* A refusal from none: the bits page made for it is gone again. */
	EXPECT_EQ(ENOENT, vs_set_hwpts(ctx, &self->ioas_id, 1));
	EXPECT_FALSE(vs_features(ctx) & VIOMMU_SHADOW_FEATURE_DIRTY);
	EXPECT_EQ(1, vs_pages());
	EXPECT_TRUE(vs_shows_hwpts("[]"));

	/* Back to both: A's bits from before, and B's new ones. */
	ASSERT_EQ(0, vs_set_dirty(self->fd, b, VS_BASE, 0x80));
	ASSERT_EQ(0, vs_set_hwpts(ctx, both, 2));
	EXPECT_TRUE(vs_features(ctx) & VIOMMU_SHADOW_FEATURE_DIRTY);
	EXPECT_EQ(2, vs_pages());
	snprintf(want, sizeof(want), "[%u,%u]", a, b);
	EXPECT_TRUE(vs_shows_hwpts(want));
	ASSERT_EQ(0, vs_sync8(ctx, &bits));
	EXPECT_EQ(0x8c, bits);

	/*
	 * The VMM's error: A's device moves to B, and A is destroyed while
	 * the context names it.  No dirty request can read A: a sync reads
	 * nothing, a run of one mapping stays whole, and of a longer run
	 * the first mapping goes, its bits reported lost (the module cannot
	 * tell whether the failed run call removed it).  Nothing breaks, and
	 * dropping A from the list ends it.
	 */
	r = vs_range(VS_BASE, ~0ULL, 0, rec, 2, &bits, 8);
	ASSERT_EQ(0, ioctl_errno(ctx, VIOMMU_SHADOW_UNMAP_RANGE, &r));
	ASSERT_EQ(0, vs_map(ctx, VS_BASE, 2 * PAGE_4K, self->buf, 1));
	ASSERT_EQ(0, vs_map(ctx, VS_BASE + 2 * PAGE_4K, 2 * PAGE_4K,
			    self->buf, 2));
	ASSERT_EQ(0, vs_map(ctx, VS_BASE + 8 * PAGE_4K, 2 * PAGE_4K,
			    self->buf, 3));
	rep.id = self->stdev_id;
	rep.mock_domain_replace.pt_id = b;
	ASSERT_EQ(0, mock_cmd(self->fd, &rep));
	destroy.id = a;
	ASSERT_EQ(0, ioctl_errno(self->fd, IOMMU_DESTROY, &destroy));

	r = vs_range(VS_BASE, ~0ULL, 0, rec, 4, big, sizeof(big));
	EXPECT_EQ(ENOENT, ioctl_errno(ctx, VIOMMU_SHADOW_SYNC_DIRTY, &r));
	EXPECT_EQ(0, r.out_nr_records);
	r = vs_range(VS_BASE + 8 * PAGE_4K, ~0ULL, 0, rec, 4, big, sizeof(big));
	EXPECT_EQ(ENOENT, ioctl_errno(ctx, VIOMMU_SHADOW_UNMAP_RANGE, &r));
	EXPECT_EQ(0, r.out_nr_records);
	r = vs_range(VS_BASE, VS_BASE + 4 * PAGE_4K - 1, 0, rec, 4, big, sizeof(big));
	EXPECT_EQ(ENOENT, ioctl_errno(ctx, VIOMMU_SHADOW_UNMAP_RANGE, &r));
	EXPECT_EQ(1, r.out_nr_records);
	EXPECT_EQ(1, rec[0].cookie);
	EXPECT_TRUE(rec[0].flags & VIOMMU_SHADOW_RECORD_DIRTY_LOST);
	ASSERT_EQ(0, ioctl_errno(ctx, VIOMMU_SHADOW_GET_INFO, &info));
	EXPECT_EQ(0, info.out_flags);
	EXPECT_EQ(2, info.nr_mappings);

	ASSERT_EQ(0, vs_set_hwpts(ctx, &b, 1));
	r = vs_range(VS_BASE, ~0ULL, 0, rec, 4, big, sizeof(big));
	ASSERT_EQ(0, ioctl_errno(ctx, VIOMMU_SHADOW_UNMAP_RANGE, &r));
	EXPECT_EQ(2, r.out_nr_records);
	EXPECT_EQ(ENOENT, ioas_unmap(self->fd, self->ioas_id, VS_BASE,
				     16 * PAGE_4K, NULL));

	/*
	 * The VMM unmaps the bits page: the backend is out of reach, and
	 * the context breaks, as for any call.
	 */
	ASSERT_EQ(0, vs_munmap_bits_page());
	EXPECT_EQ(EIO, vs_set_hwpts(ctx, &b, 1));
	ASSERT_EQ(0, ioctl_errno(ctx, VIOMMU_SHADOW_GET_INFO, &info));
	EXPECT_EQ(VIOMMU_SHADOW_INFO_OUT_BROKEN, info.out_flags);
	close(ctx);
	EXPECT_EQ(0, vs_pages());
}

/* libvshadow's callback: the first mapping's bits, and how many came. */
struct lib_seen {
	int nr;
	unsigned int flags;
	__u64 bits;
};

static int lib_seen(void *opaque, const struct vshadow_unmapped *m)
{
	struct lib_seen *s = opaque;

	if (!s->nr++) {
		s->flags = m->flags;
		s->bits = m->dirty ? m->dirty[0] : 0;
	}
	return 0;
}

/*
 * libvshadow on an IOAS: the module only (no userspace fallback for
 * iommufd), dirty bits from the HWPTs named, and the list replaced
 * through vshadow_set_hwpts(), DIRTY following it.
 */
TEST_F(mock, libvshadow_iommufd)
{
	struct vshadow_info info = { .size = sizeof(info) };
	struct lib_seen seen;
	struct vshadow *vs;
	__u32 bad = 0xfffff;
	int ret;

	EXPECT_EQ(-EINVAL, vshadow_open_iommufd(&vs, self->fd, self->ioas_id,
						&self->hwpt_id, 1, 1));
	ret = vshadow_open_iommufd(&vs, self->fd, self->ioas_id,
				   &self->hwpt_id, 1, 0);
	if (ret == -EOPNOTSUPP || ret == -ENOENT)
		SKIP(return, "viommu_shadow_iommufd not loaded (%d)", ret);
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, vshadow_get_info(vs, &info));
	EXPECT_EQ(VSHADOW_MODE_KERNEL, info.mode);
	EXPECT_TRUE(info.dirty);
	EXPECT_EQ(PAGE_4K, info.pgsize);
	ASSERT_EQ(0, vshadow_map(vs, VS_BASE, 2 * PAGE_4K, self->buf,
				 VSHADOW_MAP_READ | VSHADOW_MAP_WRITE, 7));

	ASSERT_EQ(0, vs_set_dirty(self->fd, self->hwpt_id, VS_BASE, 0x2));
	memset(&seen, 0, sizeof(seen));
	ASSERT_EQ(0, vshadow_sync_dirty(vs, 0, UINT64_MAX, VSHADOW_UNMAP_DIRTY,
					lib_seen, &seen));
	EXPECT_EQ(1, seen.nr);
	EXPECT_EQ(0x2, seen.bits & 0x3);

	/* to none: no dirty bits; a refused list changes nothing */
	ASSERT_EQ(0, vshadow_set_hwpts(vs, NULL, 0));
	ASSERT_EQ(0, vshadow_get_info(vs, &info));
	EXPECT_FALSE(info.dirty);
	EXPECT_EQ(-EOPNOTSUPP, vshadow_sync_dirty(vs, 0, UINT64_MAX,
						  VSHADOW_UNMAP_DIRTY, NULL,
						  NULL));
	EXPECT_EQ(-ENOENT, vshadow_set_hwpts(vs, &bad, 1));
	EXPECT_EQ(-EINVAL, vshadow_set_hwpts(vs, &bad, 9));
	ASSERT_EQ(0, vshadow_get_info(vs, &info));
	EXPECT_FALSE(info.dirty);
	EXPECT_FALSE(info.broken);

	/* and back: the bits set meanwhile come with the unmap */
	ASSERT_EQ(0, vs_set_dirty(self->fd, self->hwpt_id, VS_BASE, 0x1));
	ASSERT_EQ(0, vshadow_set_hwpts(vs, &self->hwpt_id, 1));
	ASSERT_EQ(0, vshadow_get_info(vs, &info));
	EXPECT_TRUE(info.dirty);
	memset(&seen, 0, sizeof(seen));
	ASSERT_EQ(0, vshadow_unmap_range(vs, 0, UINT64_MAX,
					 VSHADOW_UNMAP_DIRTY, lib_seen, &seen));
	EXPECT_EQ(1, seen.nr);
	EXPECT_EQ(0x1, seen.bits & 0x3);
	ASSERT_EQ(0, vshadow_get_info(vs, &info));
	EXPECT_EQ(0, info.nr_mappings);
	vshadow_close(vs);
	EXPECT_EQ(-ENOENT, vshadow_open_iommufd(&vs, self->fd, 0xfffff,
						NULL, 0, 0));
}

/*
 * The last pages of the mock's aperture: a run of two mappings ending at
 * its last byte, bits on its very last page, unmapped by a request for
 * the whole space.
 */
TEST_F(mock, viommu_shadow_aperture_end)
{
	const __u64 end = (__u64)MOCK_APERTURE_LAST + 1;
	const __u64 base = end - 64 * PAGE_4K;
	const __u64 pat = (1ULL << 63) | (1ULL << 61) | (1ULL << 60);
	struct viommu_shadow_unmap_record rec[4];
	struct viommu_shadow_unmap_range r;
	__u64 bits[4];
	const char *why;
	int ctx;

	ctx = vs_open(self->fd, self->ioas_id, self->hwpt_id, &why);
	if (ctx == -1)
		SKIP(return, "%s", why);
	ASSERT_LE(0, ctx);
	ASSERT_EQ(0, vs_map(ctx, end - 4 * PAGE_4K, 2 * PAGE_4K, self->buf,
			    1));
	ASSERT_EQ(0, vs_map(ctx, end - 2 * PAGE_4K, 2 * PAGE_4K, self->buf,
			    2));
	ASSERT_EQ(0, vs_set_dirty(self->fd, self->hwpt_id, base, pat));
	r = vs_range(0, ~0ULL, VIOMMU_SHADOW_UNMAP_DENSE, rec, 4, bits,
		     sizeof(bits));
	ASSERT_EQ(0, ioctl_errno(ctx, VIOMMU_SHADOW_UNMAP_RANGE, &r));
	ASSERT_EQ(2, r.out_nr_records);
	EXPECT_EQ(end - 1, r.out_last);
	EXPECT_EQ(end - 4 * PAGE_4K, rec[0].iova);
	EXPECT_TRUE(vs_bits_match(rec, 2, bits, base, pat))
		TH_LOG("bits %llx", (unsigned long long)bits[0]);
	close(ctx);
}

/*
 * One mapping of more pages than the module's bits page holds (32769):
 * its bits are read a page of bitmap at a time into the caller's buffer,
 * with the pages on both sides of each boundary dirty, by SYNC_DIRTY
 * (which clears them) and then by UNMAP_RANGE.
 */
TEST_F(mock, viommu_shadow_large_mapping)
{
	const __u64 npages = VS_RUN_PAGES + 1, len = npages * PAGE_4K;
	const __u64 iova = MOCK_IOVA + 0x1000000;
	struct viommu_shadow_unmap_record rec[2];
	struct viommu_shadow_unmap_range r;
	__u64 *bits, nwords = (npages + 63) / 64, i;
	char *va;
	const char *why;
	int ctx;

	ctx = vs_open(self->fd, self->ioas_id, self->hwpt_id, &why);
	if (ctx == -1)
		SKIP(return, "%s", why);
	ASSERT_LE(0, ctx);
	va = buffer(len);
	ASSERT_NE(NULL, va);
	bits = calloc(nwords, 8);
	ASSERT_NE(NULL, bits);
	ASSERT_EQ(0, vs_map(ctx, iova, len, va, 7));
	/* Pages 0, 1, 32767 (last of the first read), 32768 (the next). */
	ASSERT_EQ(0, vs_set_dirty(self->fd, self->hwpt_id, iova, 3));
	ASSERT_EQ(0, vs_set_dirty(self->fd, self->hwpt_id,
				  iova + (VS_RUN_PAGES - 1) * PAGE_4K, 3));

	/* A sync reads (and clears) them a page of bitmap at a time too. */
	memset(bits, 0xff, nwords * 8);
	r = vs_range(0, ~0ULL, 0, rec, 2, bits, nwords * 8);
	ASSERT_EQ(0, ioctl_errno(ctx, VIOMMU_SHADOW_SYNC_DIRTY, &r));
	ASSERT_EQ(1, r.out_nr_records);
	EXPECT_EQ(npages, rec[0].bitmap_bits);
	EXPECT_EQ(0, rec[0].bitmap_offset);
	EXPECT_EQ(3, bits[0]);
	for (i = 1; i < nwords - 2; i++)
		EXPECT_EQ(0, bits[i]);
	EXPECT_EQ(1ULL << 63, bits[nwords - 2]);
	EXPECT_EQ(1, bits[nwords - 1]);

	/* Cleared by the sync: the unmap finds only what came since. */
	ASSERT_EQ(0, vs_set_dirty(self->fd, self->hwpt_id,
				  iova + (VS_RUN_PAGES - 1) * PAGE_4K, 2));
	memset(bits, 0xff, nwords * 8);
	r = vs_range(0, ~0ULL, 0, rec, 2, bits, nwords * 8);
	ASSERT_EQ(0, ioctl_errno(ctx, VIOMMU_SHADOW_UNMAP_RANGE, &r));
	ASSERT_EQ(1, r.out_nr_records);
	EXPECT_EQ(npages, rec[0].bitmap_bits);
	for (i = 0; i < nwords - 1; i++)
		EXPECT_EQ(0, bits[i]);
	EXPECT_EQ(1, bits[nwords - 1]);
	free(bits);
	munmap(va, len);
	close(ctx);
}

TEST_HARNESS_MAIN
