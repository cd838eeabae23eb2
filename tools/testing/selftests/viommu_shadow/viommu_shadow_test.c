// SPDX-License-Identifier: GPL-2.0
/*
 * viommu_shadow selftests.  They run in the test VM (scripts/vm.sh) against
 * real vfio-pci edu devices behind an emulated IOMMU, and against the
 * test-only mock backend where only a mock can show the behaviour (dirty
 * bit placement, failures in the middle of a walk).
 *
 * Fixtures: "attach" for the context's life cycle and the ioctl format,
 * "range" for MAP and UNMAP_RANGE, run over every backend (variants
 * type1, mock, and iommufd with an edu device bound through its VFIO
 * cdev, which skips on kernels without IOMMUFD), "seed" for the
 * whole-space unmap that motivated the project, "argpage" for the page
 * type1's forwarded calls use, "mock" for mock-only checks, "iommufd"
 * for the iommufd backend on an IOAS without a device.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/klog.h>
#include <sys/personality.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vshadow_utils.h"
#include <linux/iommufd.h>
#include "vshadow_fixtures.h"
#include <linux/capability.h>

/* ------------------------------------------------------------------ */
/* The context: attach, info, ioctl format, lifetime                   */
/* ------------------------------------------------------------------ */

FIXTURE(attach) {
	int ctx;
	struct vfio_box box;
};

FIXTURE_SETUP(attach)
{
	self->ctx = vs_open();
	ASSERT_LE(0, self->ctx);
	if (vfio_box_open(&self->box, 0, true))
		SKIP(return, "no edu device bound to vfio-pci");
}

FIXTURE_TEARDOWN(attach)
{
	close(self->ctx);
	vfio_box_close(&self->box);
}

TEST_F(attach, type1v2_container)
{
	struct viommu_shadow_set_hwpts set = { .size = sizeof(set) };
	struct viommu_shadow_info info;

	ASSERT_EQ(0, _vs_attach(self->ctx, VIOMMU_SHADOW_BACKEND_VFIO_TYPE1,
				self->box.container));
	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	EXPECT_EQ(VIOMMU_SHADOW_API_VERSION, info.version);
	EXPECT_EQ(VIOMMU_SHADOW_BACKEND_VFIO_TYPE1, info.backend);
	EXPECT_EQ(PAGE_4K, info.pgsize);
	EXPECT_EQ(0, info.nr_mappings);
	EXPECT_EQ(0, info.mapped_bytes);
	EXPECT_EQ(0, info.high_water);
	EXPECT_EQ(VIOMMU_SHADOW_FEATURE_MAP | VIOMMU_SHADOW_FEATURE_UNMAP_RANGE |
		  VIOMMU_SHADOW_FEATURE_DIRTY | VIOMMU_SHADOW_FEATURE_DIRTY_LOG,
		  info.features);
	/* No HWPTs to replace: no FEATURE_SET_HWPTS, and the call refused. */
	EXPECT_EQ(EOPNOTSUPP, vs_ioctl(self->ctx, VIOMMU_SHADOW_SET_HWPTS,
				       &set));
}

TEST_F(attach, not_a_container)
{
	char path[64];
	int fd;

	fd = open("/dev/null", O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(EINVAL, _vs_attach(self->ctx, 1, fd));
	close(fd);

	fd = open("/proc/self/status", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(EINVAL, _vs_attach(self->ctx, 1, fd));
	close(fd);

	/* Another context is not a container either. */
	fd = vs_open();
	EXPECT_EQ(EINVAL, _vs_attach(self->ctx, 1, fd));
	close(fd);

	/* Nor is a VFIO group, though it is a VFIO char device. */
	EXPECT_EQ(EINVAL, _vs_attach(self->ctx, 1, self->box.group));
	(void)path;

	/* None of that attached anything. */
	EXPECT_EQ(0, _vs_attach(self->ctx, 1, self->box.container));
}

TEST_F(attach, bad_fd)
{
	int fd = dup(self->box.container);

	ASSERT_LE(0, fd);
	close(fd);
	EXPECT_EQ(EBADF, _vs_attach(self->ctx, 1, fd));
	EXPECT_EQ(EBADF, _vs_attach(self->ctx, 1, -1));
	EXPECT_EQ(0, _vs_attach(self->ctx, 1, self->box.container));
}

TEST_F(attach, container_without_iommu)
{
	struct viommu_shadow_info info;
	int bare = open("/dev/vfio/vfio", O_RDWR);

	ASSERT_LE(0, bare);
	EXPECT_EQ(ENODEV, _vs_attach(self->ctx, 1, bare));
	close(bare);

	/* A container that holds a group but has no IOMMU set yet. */
	{
		struct vfio_box b2;

		if (vfio_box_open(&b2, 1, false) == 0)
			EXPECT_EQ(ENODEV, _vs_attach(self->ctx, 1, b2.container));
		vfio_box_close(&b2);
	}
	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	EXPECT_EQ(VIOMMU_SHADOW_BACKEND_NONE, info.backend);
}

TEST_F(attach, twice)
{
	ASSERT_EQ(0, _vs_attach(self->ctx, 1, self->box.container));
	EXPECT_EQ(EBUSY, _vs_attach(self->ctx, 1, self->box.container));
}

TEST_F(attach, unknown_flags_and_backend)
{
	struct viommu_shadow_attach cmd = {
		.size = sizeof(cmd), .flags = 1, .backend = 1,
		.fd = self->box.container,
	};
	struct viommu_shadow_info info = { .size = sizeof(info), .flags = 1 };

	EXPECT_EQ(EOPNOTSUPP, vs_ioctl(self->ctx, VIOMMU_SHADOW_ATTACH, &cmd));
	EXPECT_EQ(EOPNOTSUPP, vs_ioctl(self->ctx, VIOMMU_SHADOW_GET_INFO,
				       &info));
	info.flags = 0;
	info.__reserved = 1;
	EXPECT_EQ(EINVAL, vs_ioctl(self->ctx, VIOMMU_SHADOW_GET_INFO, &info));
	EXPECT_EQ(EOPNOTSUPP, _vs_attach(self->ctx, 7, self->box.container));
	EXPECT_EQ(EOPNOTSUPP, _vs_attach(self->ctx, 0, self->box.container));
	EXPECT_EQ(0, _vs_attach(self->ctx, 1, self->box.container));
}

/* HWPTs are iommufd's: type1 refuses any, and stays unattached. */
TEST_F(attach, hwpts_are_for_iommufd)
{
	__u32 hwpt = 1;
	struct viommu_shadow_attach cmd = {
		.size = sizeof(cmd), .backend = 1,
		.fd = self->box.container,
		.nr_dirty_hwpts = 1, .dirty_hwpts = (uintptr_t)&hwpt,
	};

	EXPECT_EQ(EINVAL, vs_ioctl(self->ctx, VIOMMU_SHADOW_ATTACH, &cmd));
	/* The list is read first, whatever the backend. */
	cmd.dirty_hwpts = 8;
	EXPECT_EQ(EFAULT, vs_ioctl(self->ctx, VIOMMU_SHADOW_ATTACH, &cmd));
	cmd.nr_dirty_hwpts = 0;
	EXPECT_EQ(EINVAL, vs_ioctl(self->ctx, VIOMMU_SHADOW_ATTACH, &cmd));
	cmd.dirty_hwpts = 0;
	EXPECT_EQ(0, vs_ioctl(self->ctx, VIOMMU_SHADOW_ATTACH, &cmd));
}

/*
 * The size rules for every ioctl at once: below the first version EINVAL,
 * a longer struct with a non-zero tail E2BIG, with a zero tail accepted.
 */
TEST_F(attach, struct_sizes)
{
	/* Each struct's full size, and the size of its first version. */
	static const struct {
		unsigned long req;
		size_t size;
		size_t first;
	} cmds[] = {
		/* The first version ended before backend_id. */
		{ VIOMMU_SHADOW_ATTACH, sizeof(struct viommu_shadow_attach),
		  offsetof(struct viommu_shadow_attach, backend_id) },
		/* The first version ended before mappings_avail. */
		{ VIOMMU_SHADOW_GET_INFO, sizeof(struct viommu_shadow_info),
		  offsetof(struct viommu_shadow_info, mappings_avail) },
		{ VIOMMU_SHADOW_MAP, sizeof(struct viommu_shadow_map),
		  sizeof(struct viommu_shadow_map) },
		/* The first version ended before log. */
		{ VIOMMU_SHADOW_UNMAP_RANGE,
		  sizeof(struct viommu_shadow_unmap_range),
		  offsetof(struct viommu_shadow_unmap_range, log) },
	};
	unsigned char buf[512];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		memset(buf, 0, sizeof(buf));
		*(uint32_t *)buf = cmds[i].first - 1;
		EXPECT_EQ(EINVAL, vs_ioctl(self->ctx, cmds[i].req, buf));
		*(uint32_t *)buf = 0;
		EXPECT_EQ(EINVAL, vs_ioctl(self->ctx, cmds[i].req, buf));
		*(uint32_t *)buf = cmds[i].size + 8;
		buf[cmds[i].size + 3] = 1;
		EXPECT_EQ(E2BIG, vs_ioctl(self->ctx, cmds[i].req, buf));
		EXPECT_EQ(EFAULT, vs_ioctl(self->ctx, cmds[i].req, NULL));
	}

	/* A newer, longer struct with a zero tail works. */
	memset(buf, 0, sizeof(buf));
	*(uint32_t *)buf = sizeof(struct viommu_shadow_info) + 64;
	EXPECT_EQ(0, vs_ioctl(self->ctx, VIOMMU_SHADOW_GET_INFO, buf));
	EXPECT_EQ(VIOMMU_SHADOW_API_VERSION,
		  ((struct viommu_shadow_info *)buf)->version);
	/* Output is written back only up to the caller's size. */
	memset(buf, 0xee, sizeof(buf));
	*(uint32_t *)buf = sizeof(struct viommu_shadow_info);
	((uint32_t *)buf)[1] = 0;
	((struct viommu_shadow_info *)buf)->__reserved = 0;
	EXPECT_EQ(0, vs_ioctl(self->ctx, VIOMMU_SHADOW_GET_INFO, buf));
	EXPECT_EQ(0xee, buf[sizeof(struct viommu_shadow_info)]);
	/* A caller built before mappings_avail existed still works. */
	memset(buf, 0xee, sizeof(buf));
	*(uint32_t *)buf = cmds[1].first;
	((uint32_t *)buf)[1] = 0;
	EXPECT_EQ(0, vs_ioctl(self->ctx, VIOMMU_SHADOW_GET_INFO, buf));
	EXPECT_EQ(VIOMMU_SHADOW_API_VERSION,
		  ((struct viommu_shadow_info *)buf)->version);
	EXPECT_EQ(0xee, buf[cmds[1].first]);
}

TEST_F(attach, unknown_ioctl)
{
	struct viommu_shadow_info info = { .size = sizeof(info) };

	EXPECT_EQ(ENOTTY, vs_ioctl(self->ctx, _IO(VIOMMU_SHADOW_TYPE, 0x30),
				   &info));
	EXPECT_EQ(ENOTTY, vs_ioctl(self->ctx, _IO(VIOMMU_SHADOW_TYPE, 0x1f),
				   &info));
	/* A known number with the wrong direction/size bits. */
	EXPECT_EQ(ENOTTY, vs_ioctl(self->ctx,
				   _IOWR(VIOMMU_SHADOW_TYPE, 0x21, info),
				   &info));
	EXPECT_EQ(ENOTTY, vs_ioctl(self->ctx, _IO(';', 0x21), &info));
}

TEST_F(attach, before_attach)
{
	struct viommu_shadow_unmap_record rec;
	struct viommu_shadow_unmap_range r = vs_range(0, ~0ULL, 0, &rec, 1);
	struct viommu_shadow_info info;

	EXPECT_EQ(ENXIO, _vs_map(self->ctx, 0, PAGE_4K, &rec, 0));
	EXPECT_EQ(ENXIO, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	EXPECT_EQ(0, info.pgsize);
	EXPECT_EQ(VIOMMU_SHADOW_BACKEND_NONE, info.backend);
}

/* Forwarded calls need the attaching process's memory: others get EPERM. */
TEST_F(attach, other_process)
{
	void *buf = mmap(NULL, PAGE_4K, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int status;
	pid_t pid;

	ASSERT_NE(MAP_FAILED, buf);
	ASSERT_EQ(0, _vs_attach(self->ctx, 1, self->box.container));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct viommu_shadow_unmap_record rec;
		struct viommu_shadow_unmap_range r =
			vs_range(0, ~0ULL, 0, &rec, 1);
		struct viommu_shadow_info info;

		if (_vs_map(self->ctx, 0x100000, PAGE_4K, buf, 0) != EPERM)
			_exit(1);
		if (_vs_unmap(self->ctx, &r) != EPERM)
			_exit(2);
		if (_vs_info(self->ctx, &info) || info.nr_mappings)
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, _vs_map(self->ctx, 0x100000, PAGE_4K, buf, 0));
}

/* Opening and closing many contexts, attached or not, leaks nothing. */
TEST(contexts_leak_nothing)
{
	long ctx0, nodes0, ctx1, nodes1;
	struct vfio_box box;
	int i, fd;

	ASSERT_EQ(0, vs_objects(&ctx0, &nodes0));
	if (vfio_box_open(&box, 0, true))
		SKIP(return, "no edu device bound to vfio-pci");
	for (i = 0; i < 1000; i++) {
		fd = vs_open();
		ASSERT_LE(0, fd);
		if (i % 2)
			ASSERT_EQ(0, _vs_attach(fd, 1, box.container));
		close(fd);
	}
	vfio_box_close(&box);
	ASSERT_EQ(0, vs_objects(&ctx1, &nodes1));
	EXPECT_EQ(ctx0, ctx1);
	EXPECT_EQ(nodes0, nodes1);
}

/* A process that exits with mappings alive leaves nothing behind. */
TEST(process_exit_leaks_nothing)
{
	long ctx0, nodes0, ctx1, nodes1;
	struct vfio_box box;
	int status;
	pid_t pid;

	ASSERT_EQ(0, vs_objects(&ctx0, &nodes0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		void *buf = mmap(NULL, PAGE_4K, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int i, ctx = vs_open();

		if (vfio_box_open(&box, 0, true))
			_exit(4);
		if (_vs_attach(ctx, 1, box.container))
			_exit(1);
		for (i = 0; i < 100; i++)
			if (_vs_map(ctx, SZ_1G + i * SZ_2M, PAGE_4K, buf, i))
				_exit(2);
		if (vs_objects(&ctx1, &nodes1) || nodes1 != nodes0 + 100)
			_exit(3);
		_exit(0);	/* no close, no unmap */
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	if (WEXITSTATUS(status) == 4)
		SKIP(return, "no edu device bound to vfio-pci");
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, vs_objects(&ctx1, &nodes1));
	EXPECT_EQ(ctx0, ctx1);
	EXPECT_EQ(nodes0, nodes1);
}

/* ------------------------------------------------------------------ */
/* MAP and UNMAP_RANGE, on every backend                               */
/* ------------------------------------------------------------------ */

#define NR_REC 1024

FIXTURE(range) {
	int ctx;
	struct vs_backend b;
	int be;			/* b.fd: container, mock device, or iommufd */
	uint8_t *buf;		/* memory to map: 128 pages */
	struct viommu_shadow_unmap_record *rec;
	uint64_t *bitmap;	/* NR_REC * 8 words */
};

FIXTURE_VARIANT(range) {
	uint32_t backend;
};

FIXTURE_VARIANT_ADD(range, type1) {
	.backend = VIOMMU_SHADOW_BACKEND_VFIO_TYPE1,
};

FIXTURE_VARIANT_ADD(range, mock) {
	.backend = VSHADOW_MOCK_BACKEND,
};

/* An edu device bound to an IOAS through its VFIO cdev. */
FIXTURE_VARIANT_ADD(range, iommufd) {
	.backend = VIOMMU_SHADOW_BACKEND_IOMMUFD,
};

FIXTURE_SETUP(range)
{
	self->ctx = vs_open();
	ASSERT_LE(0, self->ctx);
	vs_backend_open(_metadata, &self->b, variant->backend);
	self->be = self->b.fd;
	ASSERT_EQ(0, vs_backend_attach(_metadata, self->ctx, &self->b));
	self->buf = mmap(NULL, 128 * PAGE_4K, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	self->rec = calloc(NR_REC, sizeof(*self->rec));
	self->bitmap = calloc(NR_REC * 8, sizeof(uint64_t));
	ASSERT_NE(NULL, self->rec);
	ASSERT_NE(NULL, self->bitmap);
}

#define MAX_MAPPINGS	"/sys/module/viommu_shadow/parameters/max_mappings"

/* Write the module's max_mappings parameter; 0 or the errno. */
static int set_max_mappings(unsigned int n)
{
	FILE *f = fopen(MAX_MAPPINGS, "w");
	int ret;

	if (!f)
		return errno;
	ret = fprintf(f, "%u\n", n) < 0 ? EIO : 0;
	if (fclose(f) && !ret)
		ret = errno;
	return ret;
}

FIXTURE_TEARDOWN(range)
{
	set_max_mappings(65535);	/* whatever the test did */
	close(self->ctx);
	vs_backend_close(&self->b);
	free(self->rec);
	free(self->bitmap);
}

static int start_dirty(int be, uint32_t backend)
{
	if (backend == VSHADOW_MOCK_BACKEND)
		return mock_tracking(be, true);
	return t1_dirty(be, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
}

/*
 * iommufd behind QEMU's emulated IOMMUs cannot track dirty pages: tests
 * of dirty bits skip there (iommufd_test proves them on its mock domain).
 */
static bool has_dirty(uint32_t backend)
{
	return backend != VIOMMU_SHADOW_BACKEND_IOMMUFD;
}

#define NO_DIRTY "no dirty tracking: iommufd behind an emulated IOMMU"

static uint64_t nr_mappings(int ctx)
{
	struct viommu_shadow_info info;

	if (_vs_info(ctx, &info))
		return ~0ULL;
	return info.nr_mappings;
}

TEST_F(range, map_and_info)
{
	struct viommu_shadow_info info;

	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 11));
	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G + SZ_2M, 4 * PAGE_4K,
			     self->buf, 12));
	ASSERT_EQ(0, _vs_map(self->ctx, SZ_2M, 2 * PAGE_4K, self->buf, 13));
	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	EXPECT_EQ(3, info.nr_mappings);
	EXPECT_EQ(7 * PAGE_4K, info.mapped_bytes);
	EXPECT_EQ(SZ_1G + SZ_2M + 4 * PAGE_4K - 1, info.high_water);
	EXPECT_EQ(3, info.nr_maps);
}

TEST_F(range, map_overlap)
{
	struct viommu_shadow_info info;
	uint64_t base = SZ_1G;

	ASSERT_EQ(0, _vs_map(self->ctx, base, 4 * PAGE_4K, self->buf, 1));
	EXPECT_EQ(EEXIST, _vs_map(self->ctx, base, 4 * PAGE_4K, self->buf, 2));
	EXPECT_EQ(EEXIST, _vs_map(self->ctx, base - PAGE_4K, 2 * PAGE_4K,
				  self->buf, 2));
	EXPECT_EQ(EEXIST, _vs_map(self->ctx, base + 3 * PAGE_4K, 2 * PAGE_4K,
				  self->buf, 2));
	EXPECT_EQ(EEXIST, _vs_map(self->ctx, base + PAGE_4K, PAGE_4K,
				  self->buf, 2));
	EXPECT_EQ(EEXIST, _vs_map(self->ctx, base - PAGE_4K, 8 * PAGE_4K,
				  self->buf, 2));
	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	EXPECT_EQ(1, info.nr_mappings);
	EXPECT_EQ(4 * PAGE_4K, info.mapped_bytes);
	/* Touching on both sides is fine. */
	EXPECT_EQ(0, _vs_map(self->ctx, base - PAGE_4K, PAGE_4K, self->buf, 3));
	EXPECT_EQ(0, _vs_map(self->ctx, base + 4 * PAGE_4K, PAGE_4K,
			     self->buf, 4));
}

TEST_F(range, map_bad_input)
{
	struct viommu_shadow_map cmd = {
		.size = sizeof(cmd), .flags = VIOMMU_SHADOW_MAP_READ,
		.iova = SZ_1G, .length = PAGE_4K, .vaddr = (uintptr_t)self->buf,
	};
	struct viommu_shadow_info info;

	cmd.length = 0;
	EXPECT_EQ(EINVAL, vs_ioctl(self->ctx, VIOMMU_SHADOW_MAP, &cmd));
	cmd.length = PAGE_4K + 1;
	EXPECT_EQ(EINVAL, vs_ioctl(self->ctx, VIOMMU_SHADOW_MAP, &cmd));
	cmd.length = PAGE_4K;
	cmd.iova = SZ_1G + 512;
	EXPECT_EQ(EINVAL, vs_ioctl(self->ctx, VIOMMU_SHADOW_MAP, &cmd));
	cmd.iova = SZ_1G;
	cmd.vaddr += 8;
	EXPECT_EQ(EINVAL, vs_ioctl(self->ctx, VIOMMU_SHADOW_MAP, &cmd));
	cmd.vaddr -= 8;
	cmd.flags = 0;
	EXPECT_EQ(EINVAL, vs_ioctl(self->ctx, VIOMMU_SHADOW_MAP, &cmd));
	cmd.flags = VIOMMU_SHADOW_MAP_READ | 4;
	EXPECT_EQ(EOPNOTSUPP, vs_ioctl(self->ctx, VIOMMU_SHADOW_MAP, &cmd));
	cmd.flags = VIOMMU_SHADOW_MAP_READ;
	/* The end would wrap past 2^64 - 1. */
	cmd.iova = -PAGE_4K;
	cmd.length = 2 * PAGE_4K;
	EXPECT_EQ(EOVERFLOW, vs_ioctl(self->ctx, VIOMMU_SHADOW_MAP, &cmd));
	cmd.iova = SZ_1G;
	cmd.length = -PAGE_4K;
	EXPECT_EQ(EOVERFLOW, vs_ioctl(self->ctx, VIOMMU_SHADOW_MAP, &cmd));

	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	EXPECT_EQ(0, info.nr_mappings);
	EXPECT_EQ(0, info.high_water);
	EXPECT_EQ(0, info.nr_maps);
}

TEST_F(range, empty_context)
{
	struct viommu_shadow_unmap_range r =
		vs_range(0, ~0ULL, 0, self->rec, NR_REC);

	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(0, r.out_nr_records);
	EXPECT_EQ(0, r.out_bytes);
	EXPECT_EQ(0, r.out_flags & VIOMMU_SHADOW_UNMAP_OUT_MORE);
	EXPECT_NE(0, r.out_flags & VIOMMU_SHADOW_UNMAP_OUT_CLAMPED);
	EXPECT_EQ(0, r.out_last);
}

TEST_F(range, unmap_exact_and_remap)
{
	struct viommu_shadow_unmap_range r;
	struct viommu_shadow_info info;
	int i;

	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G + i * SZ_2M, 2 * PAGE_4K,
				     self->buf, 100 + i));
	r = vs_range(SZ_1G + SZ_2M, SZ_1G + 3 * SZ_2M - 1, 0, self->rec,
		     NR_REC);
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(2, r.out_nr_records);
	EXPECT_EQ(4 * PAGE_4K, r.out_bytes);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(SZ_1G + (i + 1) * SZ_2M, self->rec[i].iova);
		EXPECT_EQ(2 * PAGE_4K, self->rec[i].length);
		EXPECT_EQ(101 + i, self->rec[i].cookie);
		EXPECT_EQ(0, self->rec[i].flags);
	}
	EXPECT_EQ(2, nr_mappings(self->ctx));
	/* The range is free again, in the backend too. */
	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G + SZ_2M, 2 * PAGE_4K,
			     self->buf, 7));
	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	EXPECT_EQ(3, info.nr_mappings);
	EXPECT_EQ(2, info.nr_unmaps);
}

/*
 * One context holds at most max_mappings mappings (read when it is
 * opened): the next MAP fails with ENOSPC before the backend is called,
 * GET_INFO counts down to it, and a container emptied behind the module's
 * back does not make room, since the shadow nodes are what is limited.
 */
TEST_F(range, mapping_limit)
{
	struct viommu_shadow_info info;
	uint64_t i, unmapped;
	int ctx;

	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	EXPECT_EQ(65535, info.mappings_avail);

	ASSERT_EQ(0, set_max_mappings(16));
	ctx = vs_open();
	ASSERT_LE(0, ctx);
	ASSERT_EQ(0, vs_backend_attach(_metadata, ctx, &self->b));
	ASSERT_EQ(0, _vs_info(ctx, &info));
	EXPECT_EQ(16, info.mappings_avail);
	for (i = 0; i < 16; i++)
		ASSERT_EQ(0, _vs_map(ctx, SZ_1G + i * SZ_2M, PAGE_4K, self->buf, i));
	ASSERT_EQ(0, _vs_info(ctx, &info));
	EXPECT_EQ(0, info.mappings_avail);
	EXPECT_EQ(ENOSPC, _vs_map(ctx, SZ_2M, PAGE_4K, self->buf, 99));
	EXPECT_EQ(16, nr_mappings(ctx));

	if (variant->backend == VIOMMU_SHADOW_BACKEND_VFIO_TYPE1) {
		ASSERT_EQ(0, t1_unmap(self->be, 0, 1ULL << 40, NULL, 0,
				      &unmapped));
		EXPECT_EQ(16 * PAGE_4K, unmapped);
		EXPECT_EQ(ENOSPC, _vs_map(ctx, SZ_2M, PAGE_4K, self->buf, 99));
	}
	/* The other context was opened before the change. */
	EXPECT_EQ(0, _vs_map(self->ctx, SZ_2M, PAGE_4K, self->buf, 1));
	close(ctx);
}

/* record_size is bounded: at most 4096, whose unknown tail is zeroed. */
TEST_F(range, record_size_bounded)
{
	struct viommu_shadow_unmap_range r;
	uint8_t *big;
	int i;

	big = malloc(VIOMMU_SHADOW_RECORD_SIZE_MAX);
	ASSERT_NE(NULL, big);
	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 5));
	r = vs_range(0, ~0ULL, 0, (void *)big, 1);
	r.record_size = VIOMMU_SHADOW_RECORD_SIZE_MAX + 1;
	EXPECT_EQ(EINVAL, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(1, nr_mappings(self->ctx));

	memset(big, 0xee, VIOMMU_SHADOW_RECORD_SIZE_MAX);
	r = vs_range(0, ~0ULL, 0, (void *)big, 1);
	r.record_size = VIOMMU_SHADOW_RECORD_SIZE_MAX;
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(1, r.out_nr_records);
	EXPECT_EQ(5, ((struct viommu_shadow_unmap_record *)big)->cookie);
	for (i = sizeof(struct viommu_shadow_unmap_record);
	     i < VIOMMU_SHADOW_RECORD_SIZE_MAX; i++)
		if (big[i])
			break;
	EXPECT_EQ(VIOMMU_SHADOW_RECORD_SIZE_MAX, i);
	free(big);
}

TEST_F(range, unmap_bad_input)
{
	/* A context without dirty bits refuses GET_DIRTY before its fields. */
	const int bad_dirty = has_dirty(variant->backend) ? EINVAL : EOPNOTSUPP;
	struct viommu_shadow_unmap_range r;

	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 1));

	r = vs_range(SZ_1G + 1, SZ_1G, 0, self->rec, NR_REC);
	EXPECT_EQ(EINVAL, _vs_unmap(self->ctx, &r));
	r = vs_range(0, ~0ULL, 0, self->rec, 0);
	EXPECT_EQ(EINVAL, _vs_unmap(self->ctx, &r));
	r = vs_range(0, ~0ULL, 1U << 7, self->rec, NR_REC);
	EXPECT_EQ(EOPNOTSUPP, _vs_unmap(self->ctx, &r));
	r = vs_range(0, ~0ULL, 0, self->rec, NR_REC);
	r.record_size = sizeof(*self->rec) - 8;
	EXPECT_EQ(EINVAL, _vs_unmap(self->ctx, &r));
	r.record_size = 0;
	EXPECT_EQ(EINVAL, _vs_unmap(self->ctx, &r));
	r = vs_range(0, ~0ULL, 0, self->rec, NR_REC);
	r.bitmap_bytes = 8;
	EXPECT_EQ(EINVAL, _vs_unmap(self->ctx, &r));
	r = vs_range(0, ~0ULL, 0, self->rec, NR_REC);
	vs_range_dirty(&r, self->bitmap, 8 * NR_REC);
	r.bitmap_pgsize = 2 * PAGE_4K;
	EXPECT_EQ(bad_dirty, _vs_unmap(self->ctx, &r));
	r = vs_range(0, ~0ULL, 0, self->rec, NR_REC);
	vs_range_dirty(&r, NULL, 8 * NR_REC);
	EXPECT_EQ(bad_dirty, _vs_unmap(self->ctx, &r));

	/* Nothing changed. */
	EXPECT_EQ(1, nr_mappings(self->ctx));
}

/* A newer caller's larger records: the kernel zeroes what it does not know. */
TEST_F(range, larger_records)
{
	struct viommu_shadow_unmap_range r;
	uint64_t big[3][8];
	int i;

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G + i * SZ_2M, PAGE_4K,
				     self->buf, 40 + i));
	memset(big, 0xee, sizeof(big));
	r = vs_range(0, ~0ULL, 0, (void *)big, 3);
	r.record_size = sizeof(big[0]);
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(3, r.out_nr_records);
	for (i = 0; i < 3; i++) {
		struct viommu_shadow_unmap_record *rec = (void *)big[i];

		EXPECT_EQ(SZ_1G + i * SZ_2M, rec->iova);
		EXPECT_EQ(40 + i, rec->cookie);
		EXPECT_EQ(0, big[i][6]);
		EXPECT_EQ(0, big[i][7]);
	}
}

#define TRACEFS	"/sys/kernel/debug/tracing"

/* Write @val to the tracefs file @name; 0 or -1. */
static int tracefs_write(const char *name, const char *val)
{
	char path[128];
	int fd, ok;

	snprintf(path, sizeof(path), TRACEFS "/%s", name);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -1;
}

/* Whether the trace buffer has a line with @event followed by @fields. */
static bool traced(const char *event, const char *fields)
{
	FILE *f = fopen(TRACEFS "/trace", "r");
	char line[512], want[320];
	bool found = false;

	if (!f)
		return false;
	snprintf(want, sizeof(want), " %s: %s", event, fields);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, want);
	fclose(f);
	return found;
}

/*
 * The tracepoints (events/viommu_shadow/) fire with the right fields: a
 * MAP and its backend call, a MAP refused before the backend (EEXIST),
 * and an UNMAP_RANGE of the whole space, clamped to the high-water mark,
 * with its backend call.
 */
TEST_F(range, tracepoints)
{
	struct viommu_shadow_unmap_range r;
	char want[256];
	uint32_t be = variant->backend;

	if (access(TRACEFS "/events/viommu_shadow/enable", W_OK))
		SKIP(return, "no viommu_shadow events in tracefs");
	ASSERT_EQ(0, tracefs_write("trace", ""));
	ASSERT_EQ(0, tracefs_write("events/viommu_shadow/enable", "1"));
	EXPECT_EQ(0, _vs_map(self->ctx, SZ_1G, 2 * PAGE_4K, self->buf, 7));
	EXPECT_EQ(EEXIST, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 8));
	r = vs_range(0, UINT64_MAX, 0, self->rec, NR_REC);
	EXPECT_EQ(0, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(0, tracefs_write("events/viommu_shadow/enable", "0"));

	snprintf(want, sizeof(want),
		 "backend=%u iova=0x40000000 length=0x2000 cookie=0x7 ret=0", be);
	EXPECT_TRUE(traced("vshadow_map", want)) TH_LOG("%s", want);
	snprintf(want, sizeof(want),
		 "backend=%u iova=0x40000000 length=0x1000 cookie=0x8 ret=-17", be);
	EXPECT_TRUE(traced("vshadow_map", want)) TH_LOG("%s", want);
	snprintf(want, sizeof(want),
		 "backend=%u iova=0x40000000 length=0x2000 bitmap=0 ret=0", be);
	EXPECT_TRUE(traced("vshadow_backend_map", want)) TH_LOG("%s", want);
	EXPECT_TRUE(traced("vshadow_backend_unmap", want)) TH_LOG("%s", want);
	snprintf(want, sizeof(want),
		 "start=0x0 last=0xffffffffffffffff clamped_last=0x40001fff mappings=1 bytes=0x2000 out_flags=%#x ret=0",
		 VIOMMU_SHADOW_UNMAP_OUT_CLAMPED);
	EXPECT_TRUE(traced("vshadow_unmap_range", want)) TH_LOG("%s", want);
}

TEST_F(range, clamp_to_high_water)
{
	struct viommu_shadow_unmap_range r;
	struct viommu_shadow_info info;
	uint64_t hw = SZ_1T + PAGE_4K - 1;

	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 1));
	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1T, PAGE_4K, self->buf, 2));

	/* Wholly above the mark: nothing to visit. */
	r = vs_range(hw + 1, ~0ULL, 0, self->rec, NR_REC);
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(0, r.out_nr_records);
	EXPECT_NE(0, r.out_flags & VIOMMU_SHADOW_UNMAP_OUT_CLAMPED);
	EXPECT_EQ(hw, r.out_last);

	/* Exactly at the mark: not clamped. */
	r = vs_range(SZ_1T, hw, 0, self->rec, NR_REC);
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(1, r.out_nr_records);
	EXPECT_EQ(0, r.out_flags & VIOMMU_SHADOW_UNMAP_OUT_CLAMPED);

	/* The mark stays where it was (monotonic). */
	r = vs_range(0, ~0ULL, 0, self->rec, NR_REC);
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(1, r.out_nr_records);
	EXPECT_EQ(hw, r.out_last);
	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	EXPECT_EQ(hw, info.high_water);
	EXPECT_EQ(2, info.nr_clamped);
	EXPECT_EQ(0, info.nr_mappings);
}

TEST_F(range, bisect_strict_and_whole)
{
	struct viommu_shadow_unmap_range r;
	struct viommu_shadow_info info;
	uint64_t a = SZ_1G, b = SZ_1G + SZ_2M;

	ASSERT_EQ(0, _vs_map(self->ctx, a, 4 * PAGE_4K, self->buf, 1));
	ASSERT_EQ(0, _vs_map(self->ctx, b, 4 * PAGE_4K, self->buf, 2));

	/* Cuts the first at its start side, or the second at its end. */
	r = vs_range(a + PAGE_4K, b + 4 * PAGE_4K - 1, 0, self->rec, NR_REC);
	EXPECT_EQ(EINVAL, _vs_unmap(self->ctx, &r));
	r = vs_range(a, b + PAGE_4K - 1, 0, self->rec, NR_REC);
	EXPECT_EQ(EINVAL, _vs_unmap(self->ctx, &r));
	/* A single page inside one mapping. */
	r = vs_range(b + PAGE_4K, b + 2 * PAGE_4K - 1, 0, self->rec, NR_REC);
	EXPECT_EQ(EINVAL, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	EXPECT_EQ(2, info.nr_mappings);
	EXPECT_EQ(3, info.nr_bisect_refused);

	/* With UNMAP_WHOLE both go, whole, and say so. */
	r = vs_range(a + PAGE_4K, b + PAGE_4K - 1, VIOMMU_SHADOW_UNMAP_WHOLE,
		     self->rec, NR_REC);
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(2, r.out_nr_records);
	EXPECT_EQ(a, self->rec[0].iova);
	EXPECT_EQ(4 * PAGE_4K, self->rec[0].length);
	EXPECT_EQ(VIOMMU_SHADOW_RECORD_CUT, self->rec[0].flags);
	EXPECT_EQ(b, self->rec[1].iova);
	EXPECT_EQ(VIOMMU_SHADOW_RECORD_CUT, self->rec[1].flags);
	EXPECT_EQ(8 * PAGE_4K, r.out_bytes);
	EXPECT_EQ(0, nr_mappings(self->ctx));
}

/* The DSI case from the seeds: 4K maps, one 2 MB invalidation. */
TEST_F(range, dsi_2m_invalidation)
{
	struct viommu_shadow_unmap_range r;
	uint64_t base = 4 * SZ_2M, i;

	for (i = 0; i < 512; i++)
		ASSERT_EQ(0, _vs_map(self->ctx, base + i * PAGE_4K, PAGE_4K,
				     self->buf + (i % 64) * PAGE_4K, i));
	ASSERT_EQ(0, _vs_map(self->ctx, base - PAGE_4K, PAGE_4K, self->buf, 1));
	ASSERT_EQ(0, _vs_map(self->ctx, base + SZ_2M, PAGE_4K, self->buf, 2));

	r = vs_range(base, base + SZ_2M - 1, 0, self->rec, NR_REC);
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(512, r.out_nr_records);
	EXPECT_EQ(SZ_2M, r.out_bytes);
	for (i = 0; i < 512; i++) {
		EXPECT_EQ(base + i * PAGE_4K, self->rec[i].iova);
		EXPECT_EQ(i, self->rec[i].cookie);
	}
	EXPECT_EQ(2, nr_mappings(self->ctx));
}

/*
 * Map the same small layout: eight mappings of 1 to 8 pages, 2 MB apart.
 * With the mock, give each a dirty pattern that is not all ones.
 */
static int map_layout(int ctx, int be, uint32_t backend, uint8_t *buf)
{
	uint64_t pattern = 0x9249249249249249ULL;	/* every third page */
	int i, ret;

	for (i = 0; i < 8; i++) {
		ret = _vs_map(ctx, SZ_1G + i * SZ_2M, (i + 1) * PAGE_4K, buf,
			      0xc0de0000 + i);
		if (ret)
			return ret;
		if (backend == VSHADOW_MOCK_BACKEND) {
			uint64_t p = pattern >> i;

			ret = mock_set_dirty(be, SZ_1G + i * SZ_2M,
					     (i + 1) * PAGE_4K, &p);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* Each record's dirty bits, as a string of 0/1, for comparing calls. */
static void bits_of(const struct viommu_shadow_unmap_record *rec,
		    const uint64_t *bitmap, char *out)
{
	uint64_t b;

	for (b = 0; b < rec->bitmap_bits; b++)
		*out++ = test_bit64(bitmap, rec->bitmap_offset + b) ? '1' : '0';
	*out = 0;
}

/*
 * Resume: one record and a bitmap of one word at a time gets the same
 * records and bits, over several calls, as one call with room for all.
 */
TEST_F(range, resume_equals_one_shot)
{
	struct viommu_shadow_unmap_record one[8];
	char want[8][64], got[8][64];
	struct viommu_shadow_unmap_range r;
	uint64_t word, start = 0;
	int i, calls = 0;

	if (!has_dirty(variant->backend))
		SKIP(return, NO_DIRTY);
	ASSERT_EQ(0, start_dirty(self->be, variant->backend));
	ASSERT_EQ(0, map_layout(self->ctx, self->be, variant->backend,
				self->buf));
	r = vs_range(0, ~0ULL, 0, self->rec, NR_REC);
	vs_range_dirty(&r, self->bitmap, 8 * NR_REC);
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(8, r.out_nr_records);
	EXPECT_EQ(0, r.out_flags & VIOMMU_SHADOW_UNMAP_OUT_MORE);
	for (i = 0; i < 8; i++) {
		one[i] = self->rec[i];
		EXPECT_EQ(VIOMMU_SHADOW_RECORD_DIRTY, one[i].flags);
		EXPECT_EQ(i * 64, one[i].bitmap_offset);
		EXPECT_EQ(i + 1, one[i].bitmap_bits);
		bits_of(&one[i], self->bitmap, want[i]);
	}

	ASSERT_EQ(0, map_layout(self->ctx, self->be, variant->backend,
				self->buf));
	for (i = 0; i < 8; i++) {
		struct viommu_shadow_unmap_record rec;

		r = vs_range(start, ~0ULL, 0, &rec, 1);
		vs_range_dirty(&r, &word, sizeof(word));
		ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
		calls++;
		ASSERT_EQ(1, r.out_nr_records);
		EXPECT_EQ(one[i].iova, rec.iova);
		EXPECT_EQ(one[i].length, rec.length);
		EXPECT_EQ(one[i].cookie, rec.cookie);
		EXPECT_EQ(0, rec.bitmap_offset);
		bits_of(&rec, &word, got[i]);
		EXPECT_STREQ(want[i], got[i]);
		EXPECT_EQ(i < 7, !!(r.out_flags & VIOMMU_SHADOW_UNMAP_OUT_MORE));
		EXPECT_EQ(rec.iova + rec.length, r.out_resume);
		start = r.out_resume;
	}
	EXPECT_EQ(8, calls);
	EXPECT_EQ(0, nr_mappings(self->ctx));
}

TEST_F(range, no_room_for_the_first)
{
	struct viommu_shadow_unmap_range r;
	uint64_t word;

	if (!has_dirty(variant->backend))
		SKIP(return, NO_DIRTY);
	ASSERT_EQ(0, start_dirty(self->be, variant->backend));
	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G, 65 * PAGE_4K, self->buf, 1));
	r = vs_range(0, ~0ULL, 0, self->rec, NR_REC);
	vs_range_dirty(&r, &word, sizeof(word));	/* 65 bits need two */
	EXPECT_EQ(ENOSPC, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(0, r.out_nr_records);
	EXPECT_EQ(1, nr_mappings(self->ctx));
	r = vs_range(0, ~0ULL, 0, self->rec, NR_REC);
	vs_range_dirty(&r, self->bitmap, 16);
	EXPECT_EQ(0, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(1, r.out_nr_records);
}

/*
 * Dirty bits before tracking started: the backend refuses (ENODATA), or,
 * on a context that offers none (iommufd with no HWPT), the module does.
 * Either way nothing changes, for lone mappings and for a run of
 * back-to-back ones (which the module unmaps with one backend call): the
 * backend's refusal says it did nothing, so the module has no mapping's
 * fate to find out.
 */
TEST_F(range, dirty_needs_tracking)
{
	struct viommu_shadow_unmap_range r;
	int pass;

	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 1));
	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G + SZ_2M, PAGE_4K, self->buf, 2));
	for (pass = 0; pass < 2; pass++) {
		r = vs_range(0, ~0ULL, 0, self->rec, NR_REC);
		vs_range_dirty(&r, self->bitmap, 8 * NR_REC);
		EXPECT_EQ(has_dirty(variant->backend) ? ENODATA : EOPNOTSUPP,
			  _vs_unmap(self->ctx, &r));
		EXPECT_EQ(0, r.out_nr_records);
		EXPECT_EQ(0, r.out_bytes);
		EXPECT_EQ(2 + 2 * pass, nr_mappings(self->ctx));
		EXPECT_FALSE(vs_broken(self->ctx));
		/* now a run: two more mappings right after the first two */
		if (!pass) {
			ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G + PAGE_4K,
					     PAGE_4K, self->buf, 3));
			ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G + SZ_2M + PAGE_4K,
					     2 * PAGE_4K, self->buf, 4));
		}
	}
}

/*
 * A records buffer that ends in an unreadable page part way: the call
 * fails with EFAULT, reports exactly the mappings it unmapped, and the
 * rest can still be unmapped later.
 */
TEST_F(range, efault_partial_progress)
{
	struct viommu_shadow_unmap_record *rec;
	struct viommu_shadow_unmap_range r;
	uint8_t *area;
	int i;

	area = mmap(NULL, 2 * PAGE_4K, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	ASSERT_EQ(0, mprotect(area + PAGE_4K, PAGE_4K, PROT_READ));
	/* Room for exactly two records before the read-only page. */
	rec = (void *)(area + PAGE_4K - 2 * sizeof(*rec));

	for (i = 0; i < 5; i++)
		ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G + i * SZ_2M, PAGE_4K,
				     self->buf, i));
	r = vs_range(0, ~0ULL, 0, rec, 5);
	EXPECT_EQ(EFAULT, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(2, r.out_nr_records);
	EXPECT_EQ(2 * PAGE_4K, r.out_bytes);
	EXPECT_EQ(SZ_1G, rec[0].iova);
	EXPECT_EQ(SZ_1G + SZ_2M, rec[1].iova);
	EXPECT_EQ(SZ_1G + SZ_2M + PAGE_4K, r.out_resume);
	EXPECT_EQ(3, nr_mappings(self->ctx));

	/*
	 * The same with the dirty bitmap being the unwritable buffer: the
	 * module zeroes a run's words before unmapping it, so the walk stops
	 * before the mapping whose word is unwritable, and nothing is lost.
	 */
	if (!has_dirty(variant->backend))
		SKIP(return, NO_DIRTY);
	ASSERT_EQ(0, start_dirty(self->be, variant->backend));
	r = vs_range(r.out_resume, ~0ULL, 0, self->rec, NR_REC);
	vs_range_dirty(&r, (uint64_t *)(area + PAGE_4K - 8), 3 * 8);
	EXPECT_EQ(EFAULT, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(SZ_1G + 2 * SZ_2M, self->rec[0].iova);
	EXPECT_EQ(VIOMMU_SHADOW_RECORD_DIRTY, self->rec[0].flags);
	ASSERT_EQ(1, r.out_nr_records);
	i = 5 - 2 - r.out_nr_records;	/* mappings left */
	EXPECT_EQ(i, nr_mappings(self->ctx));

	/* The tree still matches the backend: the rest unmap normally. */
	r = vs_range(0, ~0ULL, 0, self->rec, NR_REC);
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(i, r.out_nr_records);
	EXPECT_EQ(SZ_1G + (5 - i) * SZ_2M, self->rec[0].iova);
	EXPECT_EQ(SZ_1G + 4 * SZ_2M, self->rec[i - 1].iova);
	EXPECT_EQ(0, nr_mappings(self->ctx));
	if (variant->backend == VSHADOW_MOCK_BACKEND)
		EXPECT_EQ(0, mock_mappings(self->be, NULL, 0));
	munmap(area, 2 * PAGE_4K);
}

/*
 * The ABI of every ioctl, one table row each, so that an ioctl added later
 * is swept by adding a row: below the first version's size EINVAL, a
 * longer struct with a non-zero tail E2BIG, a NULL or unmapped argument
 * EFAULT, each unknown flag bit alone EOPNOTSUPP, each reserved field
 * non-zero EINVAL, each array it points to unmapped EFAULT, each array
 * entry one byte smaller than the first version EINVAL.  Nothing any of
 * them is refused for may change anything: the context's counters and
 * the mock's own list of mappings are compared after.  And with a valid
 * body (the row's @fill): a longer struct with a zero tail is accepted
 * (or refused as that body is, @valid_err), and before ATTACH every call
 * but ATTACH and GET_INFO gets ENXIO.
 */
struct abi_bufs {
	void *page;		/* a page to map */
	void *hole;		/* an address with nothing mapped */
	struct viommu_shadow_unmap_record rec[4];
	uint64_t bitmap[4];
	struct viommu_shadow_map_entry entry;
	struct viommu_shadow_range range;
	int mock;		/* for ATTACH */
};

struct abi_row {
	const char *name;
	unsigned long req;
	size_t size;
	size_t first;		/* the first version's size */
	uint32_t known;		/* flags it takes */
	size_t reserved[2];	/* offsets of reserved fields, 0 for none */
	/* A call that succeeds on an attached context, at @iova. */
	void (*fill)(void *buf, struct abi_bufs *b, uint64_t iova);
	size_t ptr;		/* offset of an array pointer, 0 for none */
	size_t elem_size;	/* offset of its element size field */
	uint32_t elem_first;	/* the element's first version size */
	bool dirty;		/* its body needs a context with dirty bits */
	int valid_err;		/* the mock's answer to a valid body */
};

#define ABI_ROW(_req, _struct, _first, _known, _fill, ...) {		\
	.name = #_req, .req = VIOMMU_SHADOW_##_req,			\
	.size = sizeof(_struct), .first = _first,			\
	.known = _known, .fill = _fill, __VA_ARGS__ }

static void abi_attach(void *buf, struct abi_bufs *b, uint64_t iova)
{
	*(struct viommu_shadow_attach *)buf = (struct viommu_shadow_attach) {
		.size = sizeof(struct viommu_shadow_attach),
		.backend = VSHADOW_MOCK_BACKEND, .fd = b->mock,
	};
}

static void abi_info(void *buf, struct abi_bufs *b, uint64_t iova)
{
	*(struct viommu_shadow_info *)buf = (struct viommu_shadow_info) {
		.size = sizeof(struct viommu_shadow_info),
	};
}

static void abi_map(void *buf, struct abi_bufs *b, uint64_t iova)
{
	*(struct viommu_shadow_map *)buf = (struct viommu_shadow_map) {
		.size = sizeof(struct viommu_shadow_map),
		.flags = VIOMMU_SHADOW_MAP_READ, .iova = iova,
		.length = PAGE_4K, .vaddr = (uintptr_t)b->page,
	};
}

static void abi_unmap(void *buf, struct abi_bufs *b, uint64_t iova)
{
	*(struct viommu_shadow_unmap_range *)buf =
		vs_range(iova, iova + PAGE_4K - 1, 0, b->rec, 4);
}

static void abi_sync(void *buf, struct abi_bufs *b, uint64_t iova)
{
	abi_unmap(buf, b, iova);
	vs_range_dirty(buf, b->bitmap, sizeof(b->bitmap));
}

static void abi_map_batch(void *buf, struct abi_bufs *b, uint64_t iova)
{
	b->entry = (struct viommu_shadow_map_entry) {
		.flags = VIOMMU_SHADOW_MAP_READ, .iova = iova,
		.length = PAGE_4K, .vaddr = (uintptr_t)b->page,
	};
	*(struct viommu_shadow_map_batch *)buf =
		(struct viommu_shadow_map_batch) {
		.size = sizeof(struct viommu_shadow_map_batch),
		.entries = (uintptr_t)&b->entry, .nr_entries = 1,
		.entry_size = sizeof(b->entry),
	};
}

static void abi_unmap_batch(void *buf, struct abi_bufs *b, uint64_t iova)
{
	b->range = (struct viommu_shadow_range) {
		.start = iova, .last = iova + PAGE_4K - 1,
	};
	*(struct viommu_shadow_unmap_batch *)buf =
		(struct viommu_shadow_unmap_batch) {
		.size = sizeof(struct viommu_shadow_unmap_batch),
		.ranges = (uintptr_t)&b->range, .nr_ranges = 1,
		.range_size = sizeof(b->range), .records = (uintptr_t)b->rec,
		.nr_records = 4, .record_size = sizeof(b->rec[0]),
	};
}

static void abi_set_hwpts(void *buf, struct abi_bufs *b, uint64_t iova)
{
	*(struct viommu_shadow_set_hwpts *)buf =
		(struct viommu_shadow_set_hwpts) {
		.size = sizeof(struct viommu_shadow_set_hwpts),
	};
}

#define UNMAP_FLAGS	(VIOMMU_SHADOW_UNMAP_GET_DIRTY |		\
			 VIOMMU_SHADOW_UNMAP_WHOLE | VIOMMU_SHADOW_UNMAP_DENSE)
/* UNMAP_BATCH does not take DIRTY_LOG: an unknown flag to it. */
#define RANGE_FLAGS	(UNMAP_FLAGS | VIOMMU_SHADOW_UNMAP_DIRTY_LOG)

#define RANGE_ARRAY(_struct, _ptr, _size, _elem)			\
	.ptr = offsetof(_struct, _ptr),					\
	.elem_size = offsetof(_struct, _size), .elem_first = sizeof(_elem)

static const struct abi_row abi_rows[] = {
	ABI_ROW(ATTACH, struct viommu_shadow_attach,
		offsetof(struct viommu_shadow_attach, backend_id), 0,
		abi_attach),
	ABI_ROW(GET_INFO, struct viommu_shadow_info,
		offsetof(struct viommu_shadow_info, mappings_avail), 0,
		abi_info,
		.reserved = { offsetof(struct viommu_shadow_info, __reserved) }),
	ABI_ROW(MAP, struct viommu_shadow_map, sizeof(struct viommu_shadow_map),
		VIOMMU_SHADOW_MAP_READ | VIOMMU_SHADOW_MAP_WRITE, abi_map),
	/* The first version of UNMAP_RANGE's struct ended before log. */
	ABI_ROW(UNMAP_RANGE, struct viommu_shadow_unmap_range,
		offsetof(struct viommu_shadow_unmap_range, log), RANGE_FLAGS,
		abi_unmap,
		RANGE_ARRAY(struct viommu_shadow_unmap_range, records,
			    record_size, struct viommu_shadow_unmap_record)),
	ABI_ROW(SYNC_DIRTY, struct viommu_shadow_unmap_range,
		offsetof(struct viommu_shadow_unmap_range, log), RANGE_FLAGS,
		abi_sync, .dirty = true,
		RANGE_ARRAY(struct viommu_shadow_unmap_range, records,
			    record_size, struct viommu_shadow_unmap_record)),
	ABI_ROW(MAP_BATCH, struct viommu_shadow_map_batch,
		offsetof(struct viommu_shadow_map_batch, __reserved), 0,
		abi_map_batch,
		.reserved = { offsetof(struct viommu_shadow_map_batch,
				       __reserved) },
		RANGE_ARRAY(struct viommu_shadow_map_batch, entries,
			    entry_size, struct viommu_shadow_map_entry)),
	ABI_ROW(UNMAP_BATCH, struct viommu_shadow_unmap_batch,
		sizeof(struct viommu_shadow_unmap_batch), UNMAP_FLAGS,
		abi_unmap_batch,
		RANGE_ARRAY(struct viommu_shadow_unmap_batch, ranges,
			    range_size, struct viommu_shadow_range)),
	/* The mock, like type1, has no HWPTs to replace. */
	ABI_ROW(SET_HWPTS, struct viommu_shadow_set_hwpts,
		sizeof(struct viommu_shadow_set_hwpts), 0, abi_set_hwpts,
		.reserved = { offsetof(struct viommu_shadow_set_hwpts,
				       __reserved) },
		.valid_err = EOPNOTSUPP),
};

/*
 * With a valid body: accepted with a zero tail past what the kernel
 * knows, on context @ctx (attached, its mock tracking dirty pages; ATTACH
 * on a fresh context), and on a fresh context ENXIO but for ATTACH and
 * GET_INFO.  Each row maps, unmaps or reads at one IOVA only, in turn.
 * Returns the cases made.
 */
static unsigned int abi_valid_bodies(struct __test_metadata *_metadata,
				     int ctx, struct abi_bufs *b)
{
	unsigned char buf[512];
	unsigned int i, cases = 0;
	const uint64_t iova = 7 * SZ_1G;
	bool attach;
	int fresh;

	for (i = 0; i < ARRAY_SIZE(abi_rows); i++) {
		const struct abi_row *row = &abi_rows[i];

		attach = row->req == VIOMMU_SHADOW_ATTACH;
		fresh = vs_open();
		ASSERT_LE(0, fresh);
		memset(buf, 0, sizeof(buf));
		row->fill(buf, b, iova);
		*(uint32_t *)buf = row->size + 8;
		EXPECT_EQ(row->valid_err,
			  vs_ioctl(attach ? fresh : ctx, row->req, buf))
			TH_LOG("%s: zero tail", row->name);
		if (!attach) {
			memset(buf, 0, sizeof(buf));
			row->fill(buf, b, iova);
			EXPECT_EQ(row->req == VIOMMU_SHADOW_GET_INFO ? 0 : ENXIO,
				  vs_ioctl(fresh, row->req, buf))
				TH_LOG("%s: before ATTACH", row->name);
			cases++;
		}
		close(fresh);
		cases++;
	}
	return cases;
}

TEST_F(range, abi_sweep)
{
	struct viommu_shadow_info before, after;
	unsigned int i, bit, r, cases = 0;
	struct viommu_shadow_unmap_range all;
	static struct abi_bufs b;
	unsigned char buf[512];
	int ctx2, mock2;

	b.page = self->buf;
	b.hole = mmap(NULL, PAGE_4K, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	ASSERT_NE(MAP_FAILED, b.hole);
	ASSERT_EQ(0, munmap(b.hole, PAGE_4K));
	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 1));
	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G + SZ_2M, PAGE_4K, self->buf, 2));
	ASSERT_EQ(0, _vs_info(self->ctx, &before));

	for (i = 0; i < ARRAY_SIZE(abi_rows); i++) {
		const struct abi_row *row = &abi_rows[i];

		memset(buf, 0, sizeof(buf));
		*(uint32_t *)buf = row->first - 1;
		EXPECT_EQ(EINVAL, vs_ioctl(self->ctx, row->req, buf))
			TH_LOG("%s: size %zu", row->name, row->first - 1);
		memset(buf, 0, sizeof(buf));
		*(uint32_t *)buf = row->size + 8;
		buf[row->size + 7] = 1;
		EXPECT_EQ(E2BIG, vs_ioctl(self->ctx, row->req, buf))
			TH_LOG("%s: non-zero tail", row->name);
		EXPECT_EQ(EFAULT, vs_ioctl(self->ctx, row->req, NULL))
			TH_LOG("%s: NULL", row->name);
		EXPECT_EQ(EFAULT, vs_ioctl(self->ctx, row->req, b.hole))
			TH_LOG("%s: unmapped", row->name);
		cases += 4;
		if (row->ptr && (!row->dirty || has_dirty(variant->backend))) {
			/* Over the context's two mappings, with its array gone. */
			memset(buf, 0, sizeof(buf));
			row->fill(buf, &b, SZ_1G);
			*(uint64_t *)(buf + row->ptr) = (uintptr_t)b.hole;
			EXPECT_EQ(EFAULT, vs_ioctl(self->ctx, row->req, buf))
				TH_LOG("%s: array unmapped", row->name);
			memset(buf, 0, sizeof(buf));
			row->fill(buf, &b, SZ_1G);
			*(uint32_t *)(buf + row->elem_size) = row->elem_first - 1;
			EXPECT_EQ(EINVAL, vs_ioctl(self->ctx, row->req, buf))
				TH_LOG("%s: element size", row->name);
			cases += 2;
		}
		for (bit = 0; bit < 32; bit++) {
			if (row->known & (1U << bit))
				continue;
			memset(buf, 0, sizeof(buf));
			((uint32_t *)buf)[0] = row->size;
			((uint32_t *)buf)[1] = 1U << bit;
			EXPECT_EQ(EOPNOTSUPP, vs_ioctl(self->ctx, row->req, buf))
				TH_LOG("%s: flag bit %u", row->name, bit);
			cases++;
		}
		for (r = 0; r < ARRAY_SIZE(row->reserved) && row->reserved[r];
		     r++) {
			memset(buf, 0, sizeof(buf));
			((uint32_t *)buf)[0] = row->size;
			buf[row->reserved[r]] = 1;
			EXPECT_EQ(EINVAL, vs_ioctl(self->ctx, row->req, buf))
				TH_LOG("%s: reserved field at %zu", row->name,
				       row->reserved[r]);
			cases++;
		}
	}
	/* Numbers next to the table's, and a known number with a size. */
	EXPECT_EQ(ENOTTY, vs_ioctl(self->ctx, _IO(VIOMMU_SHADOW_TYPE,
						  VIOMMU_SHADOW_BASE - 1), buf));
	EXPECT_EQ(ENOTTY, vs_ioctl(self->ctx,
				   _IO(VIOMMU_SHADOW_TYPE, VIOMMU_SHADOW_BASE +
				       ARRAY_SIZE(abi_rows)), buf));
	EXPECT_EQ(ENOTTY, vs_ioctl(self->ctx,
				   _IOW(VIOMMU_SHADOW_TYPE,
					VIOMMU_SHADOW_CMD_MAP, uint64_t), buf));
	cases += 3;

	ASSERT_EQ(0, _vs_info(self->ctx, &after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)));
	/* The tree and the backend still hold the two mappings, and only. */
	all = vs_range(0, UINT64_MAX, 0, self->rec, NR_REC);
	ASSERT_EQ(0, _vs_unmap(self->ctx, &all));
	EXPECT_EQ(2, all.out_nr_records);
	EXPECT_EQ(0, vs_backend_drain(&self->b));

	/* Valid bodies, on contexts of their own over mocks. */
	if (variant->backend == VSHADOW_MOCK_BACKEND) {
		ctx2 = vs_open();
		mock2 = open(VS_MOCK_DEV, O_RDWR);
		ASSERT_LE(0, ctx2);
		ASSERT_LE(0, mock2);
		ASSERT_EQ(0, mock_tracking(mock2, true));
		ASSERT_EQ(0, _vs_attach(ctx2, VSHADOW_MOCK_BACKEND, mock2));
		b.mock = open(VS_MOCK_DEV, O_RDWR);
		ASSERT_LE(0, b.mock);
		cases += abi_valid_bodies(_metadata, ctx2, &b);
		EXPECT_EQ(0, mock_mappings(mock2, NULL, 0));
		close(b.mock);
		close(ctx2);
		close(mock2);
	}
	TH_LOG("%u cases, the refused ones changing nothing", cases);
	printf("VSHADOW-RELIABILITY abi=%u\n", cases);
	fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* type1 only                                                          */
/* ------------------------------------------------------------------ */

#define SEED_N		3000
/*
 * From 1 TB up: below it the AMD IOMMU reserves 0xfd00000000-0xffffffffff
 * (HyperTransport), where type1 refuses to map.
 */
#define SEED_BASE	SZ_1T
#define SEED_STRIDE	(6ULL << 30)	/* 3000 x 6 GB = 17.6 TB of IOVA */

FIXTURE(seed) {
	int ctx;
	struct vfio_box box;
	uint8_t *buf;
};

FIXTURE_SETUP(seed)
{
	self->ctx = vs_open();
	ASSERT_LE(0, self->ctx);
	if (vfio_box_open(&self->box, 0, true))
		SKIP(return, "no edu device bound to vfio-pci");
	ASSERT_EQ(0, _vs_attach(self->ctx, 1, self->box.container));
	self->buf = mmap(NULL, 16 * PAGE_4K, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
}

FIXTURE_TEARDOWN(seed)
{
	close(self->ctx);
	vfio_box_close(&self->box);
}

/*
 * The seed scenario: a few thousand 4K mappings spread over more than
 * 16 TB, dirty tracking on.  One type1 unmap of 16 TB with a dirty bitmap
 * fails; UNMAP_RANGE over the whole 64-bit space succeeds, with one record
 * per mapping and the same dirty bits per-mapping type1 unmaps return for
 * the same layout.
 */
TEST_F(seed, whole_space_unmap_during_migration)
{
	struct viommu_shadow_unmap_record *rec;
	struct viommu_shadow_unmap_range r;
	uint64_t *bitmap, *t1bits, unmapped, i;
	struct viommu_shadow_info info;
	int c = self->box.container;

	rec = calloc(SEED_N, sizeof(*rec));
	bitmap = calloc(SEED_N, sizeof(uint64_t));
	t1bits = calloc(SEED_N, sizeof(uint64_t));
	ASSERT_NE(NULL, rec);
	ASSERT_NE(NULL, bitmap);
	ASSERT_NE(NULL, t1bits);

	/* Reference: the same layout straight on type1, unmapped one by one. */
	ASSERT_EQ(0, t1_dirty(c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
	for (i = 0; i < SEED_N; i++)
		ASSERT_EQ(0, t1_map(c, SEED_BASE + i * SEED_STRIDE, PAGE_4K,
				    self->buf + (i % 16) * PAGE_4K));
	for (i = 0; i < SEED_N; i++) {
		ASSERT_EQ(0, t1_unmap(c, SEED_BASE + i * SEED_STRIDE, PAGE_4K,
				      &t1bits[i], 8, &unmapped));
		ASSERT_EQ(PAGE_4K, unmapped);
	}

	/* Now through viommu_shadow, cookie = a guest-physical address. */
	for (i = 0; i < SEED_N; i++)
		ASSERT_EQ(0, _vs_map(self->ctx, SEED_BASE + i * SEED_STRIDE,
				     PAGE_4K, self->buf + (i % 16) * PAGE_4K,
				     0x80000000ULL + i * PAGE_4K));

	/* What a VMM does today: one 16 TB unmap with a 512 MB bitmap. */
	EXPECT_EQ(EINVAL, t1_unmap(c, 1ULL << 44, 1ULL << 44, bitmap,
				   512ULL << 20, NULL));
	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	ASSERT_EQ(SEED_N, info.nr_mappings);

	r = vs_range(0, ~0ULL, 0, rec, SEED_N);
	vs_range_dirty(&r, bitmap, SEED_N * sizeof(uint64_t));
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(SEED_N, r.out_nr_records);
	EXPECT_EQ(SEED_N * PAGE_4K, r.out_bytes);
	EXPECT_NE(0, r.out_flags & VIOMMU_SHADOW_UNMAP_OUT_CLAMPED);
	EXPECT_EQ(SEED_BASE + (SEED_N - 1) * SEED_STRIDE + PAGE_4K - 1,
		  r.out_last);
	for (i = 0; i < SEED_N; i++) {
		ASSERT_EQ(SEED_BASE + i * SEED_STRIDE, rec[i].iova);
		ASSERT_EQ(0x80000000ULL + i * PAGE_4K, rec[i].cookie);
		ASSERT_EQ(VIOMMU_SHADOW_RECORD_DIRTY, rec[i].flags);
		ASSERT_EQ(i * 64, rec[i].bitmap_offset);
		ASSERT_EQ(1, rec[i].bitmap_bits);
		ASSERT_EQ(t1bits[i], bitmap[i]);
	}
	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	EXPECT_EQ(0, info.nr_mappings);
	/* And type1 really has nothing left there. */
	EXPECT_EQ(0, t1_unmap(c, 0, 1ULL << 48, NULL, 0, &unmapped));
	EXPECT_EQ(0, unmapped);
	free(rec);
	free(bitmap);
	free(t1bits);
}

/*
 * The top of the 64-bit space, for real: under the AMD IOMMU vfio-pci
 * devices may use IOVAs up to 2^64 - 1.  type1 maps a page that ends there
 * but cannot unmap it, not even with VFIO_DMA_UNMAP_FLAG_ALL (its end
 * wraps to 0), so viommu_shadow refuses it with ERANGE; the page below
 * works both ways.
 */
TEST_F(seed, top_of_iova_space)
{
	uint64_t top = -PAGE_4K, unmapped = 1;
	struct viommu_shadow_unmap_record rec[2];
	struct viommu_shadow_unmap_range r;
	int c = self->box.container;

	if (!vs_iommu_is("amd"))
		SKIP(return, "needs the AMD IOMMU's IOVA range");

	EXPECT_EQ(ERANGE, _vs_map(self->ctx, top, PAGE_4K, self->buf, 1));
	EXPECT_EQ(0, nr_mappings(self->ctx));

	ASSERT_EQ(0, _vs_map(self->ctx, top - PAGE_4K, PAGE_4K, self->buf, 2));
	r = vs_range(top - PAGE_4K, ~0ULL, 0, rec, 2);
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(1, r.out_nr_records);
	EXPECT_EQ(top - PAGE_4K, rec[0].iova);
	EXPECT_EQ(VIOMMU_SHADOW_UNMAP_OUT_CLAMPED, r.out_flags);
	EXPECT_EQ(top, r.out_resume);
	EXPECT_EQ(0, t1_unmap(c, 0, -PAGE_4K, NULL, 0, &unmapped));
	EXPECT_EQ(0, unmapped);

	/*
	 * Why ERANGE: type1 itself.  This leaves a mapping in the container
	 * that nothing can remove, so it comes last.  Should a kernel's
	 * type1 unmap it, the refusal can be relaxed for that kernel.
	 */
	ASSERT_EQ(0, t1_map(c, top, PAGE_4K, self->buf));
	ASSERT_EQ(0, t1_unmap(c, top, PAGE_4K, NULL, 0, &unmapped));
	EXPECT_EQ(0, unmapped) {
		TH_LOG("type1 unmapped the top page: relax type1 max_last");
	}
	/* Not even an unmap of everything reaches it. */
	{
		struct vfio_iommu_type1_dma_unmap all = {
			.argsz = sizeof(all), .flags = VFIO_DMA_UNMAP_FLAG_ALL,
		};

		ASSERT_EQ(0, vs_ioctl(c, VFIO_IOMMU_UNMAP_DMA, &all));
		EXPECT_EQ(0, all.size);
	}
}

/*
 * MAP refuses an overlap because of the shadow tree, not because the
 * backend happens to: with the mapping removed from type1 behind the
 * context's back, a MAP over it still fails with EEXIST and reaches
 * nothing, and UNMAP_RANGE reports the disagreement with EIO.  The
 * context then knows it no longer knows what the container holds: it is
 * broken, refuses every call but GET_INFO with EIO, and says so there.
 */
TEST_F(seed, map_overlap_checks_the_tree)
{
	struct viommu_shadow_unmap_record rec[2];
	struct viommu_shadow_unmap_range r;
	uint64_t x = SZ_1G, unmapped = 1;
	int c = self->box.container;

	ASSERT_EQ(0, _vs_map(self->ctx, x, 4 * PAGE_4K, self->buf, 1));
	ASSERT_EQ(0, t1_unmap(c, x, 4 * PAGE_4K, NULL, 0, &unmapped));
	ASSERT_EQ(4 * PAGE_4K, unmapped);

	EXPECT_EQ(EEXIST, _vs_map(self->ctx, x + PAGE_4K, PAGE_4K, self->buf,
				  2));
	EXPECT_EQ(1, nr_mappings(self->ctx));
	EXPECT_EQ(0, t1_unmap(c, x, 4 * PAGE_4K, NULL, 0, &unmapped));
	EXPECT_EQ(0, unmapped);

	EXPECT_FALSE(vs_broken(self->ctx));
	r = vs_range(0, ~0ULL, 0, rec, 2);
	EXPECT_EQ(EIO, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(0, r.out_nr_records);
	EXPECT_EQ(1, nr_mappings(self->ctx));
	EXPECT_TRUE(vs_broken(self->ctx));
	/* Nothing reaches the container any more, a fresh IOVA included. */
	EXPECT_EQ(EIO, _vs_map(self->ctx, 3 * SZ_1G, PAGE_4K, self->buf, 3));
	EXPECT_EQ(0, t1_unmap(c, 3 * SZ_1G, PAGE_4K, NULL, 0, &unmapped));
	EXPECT_EQ(0, unmapped);
	r = vs_range(0, ~0ULL, 0, rec, 2);
	EXPECT_EQ(EIO, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(1, nr_mappings(self->ctx));
}

/* Put the group back in its container, with a new, empty type1. */
static int rebuild_container(struct vfio_box *b)
{
	if (ioctl(b->group, VFIO_GROUP_SET_CONTAINER, &b->container))
		return errno;
	return vs_ioctl(b->container, VFIO_SET_IOMMU,
			(void *)VFIO_TYPE1v2_IOMMU);
}

/*
 * The container loses its IOMMU (its last group leaves, which releases
 * type1 and every mapping): UNMAP_RANGE says ENODEV, not "tracking off"
 * or "bad range", and the context is broken from then on.  When the VMM
 * gives the container a new type1 and maps there itself, even at an IOVA
 * the context once mapped, the context never touches it.
 */
TEST_F(seed, container_loses_its_iommu)
{
	struct viommu_shadow_unmap_record rec[4];
	struct viommu_shadow_unmap_range r;
	uint64_t bits[4], unmapped = 0;

	ASSERT_EQ(0, t1_dirty(self->box.container,
			      VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 1));
	ASSERT_EQ(0, _vs_map(self->ctx, SZ_2M, PAGE_4K, self->buf, 2));
	ASSERT_EQ(0, vs_ioctl(self->box.group, VFIO_GROUP_UNSET_CONTAINER,
			      NULL));

	r = vs_range(0, ~0ULL, 0, rec, 4);
	vs_range_dirty(&r, bits, sizeof(bits));
	EXPECT_EQ(ENODEV, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(0, r.out_nr_records);
	EXPECT_TRUE(vs_broken(self->ctx));

	ASSERT_EQ(0, rebuild_container(&self->box));
	ASSERT_EQ(0, t1_map(self->box.container, SZ_1G, PAGE_4K, self->buf));
	r = vs_range(0, ~0ULL, 0, rec, 4);
	EXPECT_EQ(EIO, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(0, r.out_nr_records);
	EXPECT_EQ(EIO, _vs_map(self->ctx, 2 * SZ_1G, PAGE_4K, self->buf, 3));
	EXPECT_EQ(0, t1_unmap(self->box.container, SZ_1G, PAGE_4K, NULL, 0,
			      &unmapped));
	EXPECT_EQ(PAGE_4K, unmapped);
	EXPECT_EQ(0, t1_unmap(self->box.container, 2 * SZ_1G, PAGE_4K, NULL, 0,
			      &unmapped));
	EXPECT_EQ(0, unmapped);
}

/*
 * The same, with no call between the loss and the new type1: the first
 * unmap finds type1 without the mapping (it unmaps nothing), so the
 * context is broken there, and what the VMM mapped itself in the new
 * type1 stays.
 */
TEST_F(seed, container_rebuilt_behind_the_context)
{
	struct viommu_shadow_unmap_record rec[4];
	struct viommu_shadow_unmap_range r;
	uint64_t unmapped = 0;

	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 1));
	ASSERT_EQ(0, _vs_map(self->ctx, SZ_2M, PAGE_4K, self->buf, 2));
	ASSERT_EQ(0, vs_ioctl(self->box.group, VFIO_GROUP_UNSET_CONTAINER,
			      NULL));
	ASSERT_EQ(0, rebuild_container(&self->box));
	ASSERT_EQ(0, t1_map(self->box.container, 3 * SZ_1G, PAGE_4K,
			    self->buf));

	r = vs_range(0, ~0ULL, 0, rec, 4);
	EXPECT_EQ(EIO, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(0, r.out_nr_records);
	EXPECT_TRUE(vs_broken(self->ctx));
	EXPECT_EQ(2, nr_mappings(self->ctx));
	EXPECT_EQ(EIO, _vs_map(self->ctx, 4 * SZ_1G, PAGE_4K, self->buf, 3));
	r = vs_range(0, ~0ULL, VIOMMU_SHADOW_UNMAP_WHOLE, rec, 4);
	EXPECT_EQ(EIO, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(0, t1_unmap(self->box.container, 3 * SZ_1G, PAGE_4K, NULL, 0,
			      &unmapped));
	EXPECT_EQ(PAGE_4K, unmapped);
}

/*
 * The VMM replaces a mapping of the context's on the container directly
 * with a larger one (unmap, then map 3 pages where the context has 2):
 * type1 v2 refuses to cut it with EINVAL, the same answer as for a page
 * size change, and the container's page size is what it was.  The
 * context then knows its mapping is not what the container holds: it
 * breaks (EIO), without a bitmap and with one (tracking on, which type1
 * is asked about on a page no mapping can use); the VMM's own mapping is
 * untouched.  Tracking off is told apart: ENODATA, nothing changed, the
 * context usable.
 */
TEST_F(seed, vmm_mapping_cut_by_a_run_breaks)
{
	struct viommu_shadow_unmap_record rec[4];
	struct viommu_shadow_unmap_range r;
	int c = self->box.container, pass, ctx;
	uint64_t unmapped = 0, bits[4];

	for (pass = 0; pass < 3; pass++) {
		ctx = pass ? vs_open() : self->ctx;
		ASSERT_LE(0, ctx);
		if (pass)
			ASSERT_EQ(0, _vs_attach(ctx, 1, c));
		if (pass == 1)
			ASSERT_EQ(0, t1_dirty(c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
		ASSERT_EQ(0, _vs_map(ctx, SZ_1G, 2 * PAGE_4K, self->buf, 1));
		ASSERT_EQ(0, t1_unmap(c, SZ_1G, 2 * PAGE_4K, NULL, 0,
				      &unmapped));
		ASSERT_EQ(0, t1_map(c, SZ_1G, 3 * PAGE_4K, self->buf));
		r = vs_range(SZ_1G, SZ_1G + 2 * PAGE_4K - 1, 0, rec, 4);
		if (pass)
			vs_range_dirty(&r, bits, sizeof(bits));
		if (pass == 2) {
			/* Tracking off: that is all it says. */
			EXPECT_EQ(ENODATA, _vs_unmap(ctx, &r));
			EXPECT_FALSE(vs_broken(ctx));
		} else {
			EXPECT_EQ(EIO, _vs_unmap(ctx, &r));
			EXPECT_TRUE(vs_broken(ctx));
		}
		EXPECT_EQ(0, r.out_nr_records);
		if (pass == 1)
			ASSERT_EQ(0, t1_dirty(c, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP));
		EXPECT_EQ(0, t1_unmap(c, SZ_1G, 3 * PAGE_4K, NULL, 0,
				      &unmapped));
		EXPECT_EQ(3 * PAGE_4K, unmapped);
		if (pass)
			close(ctx);
	}
}

/*
 * A type1 v1 container (VFIO_TYPE1_IOMMU, set on the second edu device's
 * own container): CHECK_EXTENSION(TYPE1v2) answers 1 on it too and 6.1's
 * GET_INFO has the migration capability, but VFIO_IOMMU_DIRTY_PAGES
 * answers EACCES.  The context asks, and says so: GET_INFO lacks DIRTY,
 * and dirty requests fail with EOPNOTSUPP before anything is unmapped;
 * maps and unmaps work.
 */
TEST(type1_v1_container_has_no_dirty)
{
	struct viommu_shadow_unmap_record rec[4];
	struct viommu_shadow_unmap_range r;
	struct viommu_shadow_info info;
	struct vfio_box box;
	uint64_t bits[4];
	uint8_t *buf;
	int ctx;

	if (vfio_box_open(&box, 1, false))
		SKIP(return, "no second edu device bound to vfio-pci");
	ASSERT_EQ(0, vs_ioctl(box.container, VFIO_SET_IOMMU,
			      (void *)VFIO_TYPE1_IOMMU));
	EXPECT_EQ(EACCES, t1_dirty(box.container,
				   VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
	buf = mmap(NULL, 2 * PAGE_4K, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	ctx = vs_open();
	ASSERT_EQ(0, _vs_attach(ctx, VIOMMU_SHADOW_BACKEND_VFIO_TYPE1,
				box.container));
	ASSERT_EQ(0, _vs_info(ctx, &info));
	EXPECT_FALSE(info.features & VIOMMU_SHADOW_FEATURE_DIRTY);
	ASSERT_EQ(0, _vs_map(ctx, SZ_1G, PAGE_4K, buf, 1));
	ASSERT_EQ(0, _vs_map(ctx, SZ_1G + PAGE_4K, PAGE_4K, buf, 2));
	r = vs_range(0, ~0ULL, 0, rec, 4);
	vs_range_dirty(&r, bits, sizeof(bits));
	EXPECT_EQ(EOPNOTSUPP, _vs_unmap(ctx, &r));
	EXPECT_EQ(0, r.out_nr_records);
	EXPECT_EQ(EOPNOTSUPP, vs_ioctl(ctx, VIOMMU_SHADOW_SYNC_DIRTY, &r));
	r = vs_range(0, ~0ULL, 0, rec, 4);
	ASSERT_EQ(0, _vs_unmap(ctx, &r));
	EXPECT_EQ(2, r.out_nr_records);
	EXPECT_FALSE(vs_broken(ctx));
	close(ctx);
	vfio_box_close(&box);
}

/*
 * A v2 container whose tracking was never started: a sync fails with
 * ENODATA before anything is read (no record counted, none DIRTY_LOST),
 * changes nothing and leaves the context usable.
 */
TEST_F(seed, sync_before_tracking_starts)
{
	struct viommu_shadow_unmap_record rec[4];
	struct viommu_shadow_unmap_range r;
	uint64_t bits[4];
	int i;

	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 1));
	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G + PAGE_4K, PAGE_4K, self->buf,
			     2));
	memset(rec, 0, sizeof(rec));
	r = vs_range(0, ~0ULL, 0, rec, 4);
	vs_range_dirty(&r, bits, sizeof(bits));
	EXPECT_EQ(ENODATA, vs_ioctl(self->ctx, VIOMMU_SHADOW_SYNC_DIRTY, &r));
	EXPECT_EQ(0, r.out_nr_records);
	for (i = 0; i < 4; i++)
		EXPECT_FALSE(rec[i].flags & VIOMMU_SHADOW_RECORD_DIRTY_LOST);
	EXPECT_FALSE(vs_broken(self->ctx));
	EXPECT_EQ(2, nr_mappings(self->ctx));
}

/*
 * Memory pinned through the module is the caller's, as if it had mapped
 * it itself: type1 charges it to the caller's locked memory, against its
 * RLIMIT_MEMLOCK once CAP_IPC_LOCK is gone, and a MAP over the limit
 * fails exactly as the direct map does.  (The harness runs each test in a
 * child of its own, so the lowered limit and capability stay there.)
 */
TEST_F(seed, memlock_is_the_callers)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	int c = self->box.container;
	struct rlimit rl;
	long locked;

	ASSERT_EQ(0, syscall(SYS_capget, &hdr, data));
	data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	data[CAP_TO_INDEX(CAP_IPC_LOCK)].permitted &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	ASSERT_EQ(0, syscall(SYS_capset, &hdr, data));
	locked = status_kb("VmLck");
	ASSERT_LE(0, locked);
	/* Room for 8 more pages. */
	rl.rlim_cur = (locked + 32) * 1024;
	rl.rlim_max = rl.rlim_cur;
	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &rl));

	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G, 4 * PAGE_4K, self->buf, 1));
	EXPECT_EQ(locked + 16, status_kb("VmLck"));
	/* 8 more pages do not fit, whichever way they are mapped. */
	EXPECT_EQ(ENOMEM, t1_map(c, 2 * SZ_1G, 8 * PAGE_4K,
				 self->buf + 4 * PAGE_4K));
	EXPECT_EQ(ENOMEM, _vs_map(self->ctx, 3 * SZ_1G, 8 * PAGE_4K,
				  self->buf + 4 * PAGE_4K, 2));
	EXPECT_EQ(1, nr_mappings(self->ctx));
	/* 4 do, directly; then the module gets no more either. */
	EXPECT_EQ(0, t1_map(c, 2 * SZ_1G, 4 * PAGE_4K, self->buf + 4 * PAGE_4K));
	EXPECT_EQ(locked + 32, status_kb("VmLck"));
	EXPECT_EQ(ENOMEM, _vs_map(self->ctx, 3 * SZ_1G, PAGE_4K,
				  self->buf + 8 * PAGE_4K, 3));
	EXPECT_EQ(1, nr_mappings(self->ctx));
	EXPECT_FALSE(vs_broken(self->ctx));
}

/* The argument page ATTACH added to this process, found in /proc/self/maps. */
/*
 * A type1 VFIO_IOMMU_DIRTY_PAGES read whose range does not start on a
 * 64-page boundary of a mapping shifts that mapping's dirty bitmap inside
 * type1 and leaves bits past its end set; type1's unmap then copies them
 * out in the mapping's last word.  The padding must still read as zero.
 */
TEST_F(seed, padding_bits_stay_zero)
{
	struct {
		struct vfio_iommu_type1_dirty_bitmap hdr;
		struct vfio_iommu_type1_dirty_bitmap_get get;
	} d = {
		.hdr = {
			.argsz = sizeof(d),
			.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
		},
	};
	struct viommu_shadow_unmap_record rec[2];
	struct viommu_shadow_unmap_range r;
	uint64_t word = 0, x = SZ_1G;
	int c = self->box.container;

	ASSERT_EQ(0, t1_dirty(c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
	ASSERT_EQ(0, _vs_map(self->ctx, x, PAGE_4K, self->buf, 1));
	ASSERT_EQ(0, _vs_map(self->ctx, x + PAGE_4K, 3 * PAGE_4K, self->buf, 2));

	d.get.iova = x;
	d.get.size = 4 * PAGE_4K;
	d.get.bitmap.pgsize = PAGE_4K;
	d.get.bitmap.size = sizeof(word);
	d.get.bitmap.data = (__u64 *)&word;
	ASSERT_EQ(0, vs_ioctl(c, VFIO_IOMMU_DIRTY_PAGES, &d));
	EXPECT_EQ(0xfULL, word);

	word = 0;
	r = vs_range(x + PAGE_4K, x + 4 * PAGE_4K - 1, 0, rec, 2);
	vs_range_dirty(&r, &word, sizeof(word));
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(1, r.out_nr_records);
	ASSERT_EQ(3, rec[0].bitmap_bits);
	EXPECT_EQ(0x7ULL, word);
}

/* The edu device's DMA engine (BAR0), see QEMU's docs/specs/edu.txt. */
#define EDU_DMA_SRC	0x80
#define EDU_DMA_DST	0x88
#define EDU_DMA_CNT	0x90
#define EDU_DMA_CMD	0x98
#define EDU_CMD_RUN	0x1
#define EDU_CMD_TO_RAM	0x2
#define EDU_BUF		0x40000
/*
 * QEMU 7.2's edu refuses (and aborts on) a transfer that ends exactly at
 * the end of its 4K buffer, so transfers are half a page.
 */
#define EDU_LEN		2048

struct edu {
	int fd;
	uint64_t bar0;		/* offset of BAR0 in the device fd */
};

static int edu_open(struct edu *e, struct vfio_box *box)
{
	struct vfio_region_info reg = { .argsz = sizeof(reg) };
	uint16_t cmd;

	e->fd = ioctl(box->group, VFIO_GROUP_GET_DEVICE_FD, box->bdf);
	if (e->fd < 0)
		return -1;
	reg.index = VFIO_PCI_CONFIG_REGION_INDEX;
	if (ioctl(e->fd, VFIO_DEVICE_GET_REGION_INFO, &reg))
		return -1;
	/* Enable bus mastering in the command register. */
	if (pread(e->fd, &cmd, 2, reg.offset + 4) != 2)
		return -1;
	cmd |= 0x4;
	if (pwrite(e->fd, &cmd, 2, reg.offset + 4) != 2)
		return -1;
	reg.index = VFIO_PCI_BAR0_REGION_INDEX;
	if (ioctl(e->fd, VFIO_DEVICE_GET_REGION_INFO, &reg))
		return -1;
	e->bar0 = reg.offset;
	return 0;
}

static int edu_write(struct edu *e, uint64_t reg, uint32_t val)
{
	return pwrite(e->fd, &val, 4, e->bar0 + reg) == 4 ? 0 : -1;
}

/* One DMA between the device buffer and @iova; waits for the end. */
static int edu_dma(struct edu *e, uint64_t iova, bool to_ram)
{
	uint32_t cmd;
	int i;

	if (edu_write(e, EDU_DMA_SRC, to_ram ? EDU_BUF : iova) ||
	    edu_write(e, EDU_DMA_DST, to_ram ? iova : EDU_BUF) ||
	    edu_write(e, EDU_DMA_CNT, EDU_LEN) ||
	    edu_write(e, EDU_DMA_CMD, EDU_CMD_RUN |
		      (to_ram ? EDU_CMD_TO_RAM : 0)))
		return -1;
	for (i = 0; i < 1000; i++) {
		if (pread(e->fd, &cmd, 4, e->bar0 + EDU_DMA_CMD) != 4)
			return -1;
		if (!(cmd & EDU_CMD_RUN))
			return 0;
		usleep(10000);
	}
	return -1;
}

/* Did the guest kernel log an IOMMU fault for @iova? */
static bool iommu_fault_logged(uint64_t iova)
{
	char needle[32], *log, *line;
	bool found = false;
	int len;

	log = malloc(1 << 20);
	len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, log, (1 << 20) - 1);
	if (len < 0) {
		free(log);
		return false;
	}
	log[len] = 0;
	snprintf(needle, sizeof(needle), "%llx", (unsigned long long)iova);
	for (line = strtok(log, "\n"); line && !found; line = strtok(NULL, "\n"))
		found = (strstr(line, "DMAR") || strstr(line, "AMD-Vi")) &&
			strstr(line, "ault") && strstr(line, needle);
	free(log);
	return found;
}

/*
 * Real DMA end to end: the edu device copies a page through a mapping made
 * with MAP; after UNMAP_RANGE the same DMA no longer reaches memory and
 * the IOMMU reports a fault.  (edu only accepts addresses below 2^28.)
 */
TEST_F(seed, real_dma_stops_at_unmap)
{
	const uint64_t src = 0x100000, dst = 0x3456000;
	struct viommu_shadow_unmap_record rec[2];
	struct viommu_shadow_unmap_range r;
	uint8_t *in = self->buf, *out = self->buf + PAGE_4K;
	struct edu e;
	int i;

	if (!vs_device_is_edu(self->box.bdf))
		SKIP(return, "%s is no edu device: its DMA engine is edu's",
		     self->box.bdf);
	ASSERT_EQ(0, edu_open(&e, &self->box));
	for (i = 0; i < EDU_LEN; i++)
		in[i] = i * 7 + 3;
	memset(out, 0, PAGE_4K);
	ASSERT_EQ(0, _vs_map(self->ctx, src, PAGE_4K, in, 1));
	ASSERT_EQ(0, _vs_map(self->ctx, dst, PAGE_4K, out, 2));

	ASSERT_EQ(0, edu_dma(&e, src, false));
	ASSERT_EQ(0, edu_dma(&e, dst, true));
	ASSERT_EQ(0, memcmp(in, out, EDU_LEN));

	r = vs_range(dst, dst + PAGE_4K - 1, 0, rec, 2);
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(1, r.out_nr_records);
	memset(out, 0, PAGE_4K);
	ASSERT_EQ(0, edu_dma(&e, dst, true));
	for (i = 0; i < EDU_LEN; i++)
		ASSERT_EQ(0, out[i]);
	/* QEMU's VT-d reports the fault to the guest; its AMD IOMMU does not. */
	if (vs_iommu_is("intel"))
		EXPECT_TRUE(iommu_fault_logged(dst));
	close(e.fd);
}

/*
 * Shadow nodes come from their own accounted cache, at most 64 bytes each
 * (SLUB's sysfs shows it; slub_debug keeps it from being merged).
 */
TEST(node_cache_size)
{
	long size = -1;
	FILE *f;

	if (access("/sys/kernel/slab", F_OK))
		SKIP(return, "no SLUB sysfs");
	f = fopen("/sys/kernel/slab/vshadow_node/object_size", "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%ld", &size));
	fclose(f);
	EXPECT_GE(64, size);
	EXPECT_LT(0, size);
}

/* ------------------------------------------------------------------ */
/* The argument page type1's forwarded calls use                        */
/* ------------------------------------------------------------------ */

#define ARGPAGE_NAME	"anon_inode:[viommu_shadow-args]"
/* A type1 context's: one page of arguments, one for a run's dirty bits. */
#define ARGPAGE_SIZE	(2 * PAGE_4K)

/*
 * The argument pages in /proc/self/maps: how many; the address of the last
 * one in *@addr and its permissions ("rw-s") in @perms, when not NULL.
 */
static int argpages(uintptr_t *addr, char *perms)
{
	char line[512], p[8];
	uintptr_t lo, hi;
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0;

	while (f && fgets(line, sizeof(line), f)) {
		if (!strstr(line, ARGPAGE_NAME) ||
		    sscanf(line, "%lx-%lx %7s", &lo, &hi, p) != 3)
			continue;
		n++;
		if (hi - lo != ARGPAGE_SIZE)
			n += 1000;	/* not one mapping: make the count wrong */
		if (addr)
			*addr = lo;
		if (perms)
			strcpy(perms, p);
	}
	if (f)
		fclose(f);
	return n;
}

FIXTURE(argpage) {
	int ctx;
	struct vfio_box box;
	uint8_t *buf;
	uintptr_t page;
};

FIXTURE_SETUP(argpage)
{
	self->ctx = vs_open();
	ASSERT_LE(0, self->ctx);
	if (vfio_box_open(&self->box, 0, true))
		SKIP(return, "no edu device bound to vfio-pci");
	ASSERT_EQ(0, argpages(NULL, NULL));
	ASSERT_EQ(0, _vs_attach(self->ctx, 1, self->box.container));
	ASSERT_EQ(1, argpages(&self->page, NULL));
	self->buf = mmap(NULL, 16 * PAGE_4K, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
}

FIXTURE_TEARDOWN(argpage)
{
	close(self->ctx);
	vfio_box_close(&self->box);
}

/*
 * Each context's page is its own shared mapping, named, never merged with
 * the next one, not locked (no RLIMIT_MEMLOCK spent on it), and gone with
 * the context.
 */
TEST_F(argpage, own_mapping)
{
	long locked = status_kb("VmLck");
	char perms[8] = "";
	int ctx2;

	ASSERT_EQ(1, argpages(NULL, perms));
	EXPECT_STREQ("rw-s", perms);
	ctx2 = vs_open();
	ASSERT_LE(0, ctx2);
	ASSERT_EQ(0, _vs_attach(ctx2, 1, self->box.container));
	EXPECT_EQ(2, argpages(NULL, NULL));
	EXPECT_EQ(locked, status_kb("VmLck"));
	EXPECT_EQ(0, locked);
	close(ctx2);
	EXPECT_EQ(1, argpages(NULL, NULL));
}

/*
 * What a VMM with one container per vIOMMU address space does: two
 * contexts at a time, attached and closed, again and again.  Nothing stays
 * behind in the process: no page, no locked memory, no context.  (Before
 * the page was the module's own, each cycle left 8 kB locked here.)  The
 * debug kernel under TCG needs about 0.1 s a cycle.
 */
TEST_F_TIMEOUT(argpage, attach_close_cycles, 180)
{
	long contexts, nodes;
	int i, a, b;

	for (i = 0; i < 300; i++) {
		a = vs_open();
		b = vs_open();
		ASSERT_LE(0, a);
		ASSERT_LE(0, b);
		ASSERT_EQ(0, _vs_attach(a, 1, self->box.container));
		ASSERT_EQ(0, _vs_attach(b, 1, self->box.container));
		close(a);
		close(b);
	}
	EXPECT_EQ(1, argpages(NULL, NULL));
	EXPECT_EQ(0, status_kb("VmLck"));
	ASSERT_EQ(0, vs_objects(&contexts, &nodes));
	EXPECT_EQ(1, contexts);
}

/* The page cannot be moved, grown, split or write-protected. */
TEST_F(argpage, refuses_changes)
{
	void *p = (void *)self->page, *spare;

	spare = mmap(NULL, ARGPAGE_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, spare);
	EXPECT_EQ(MAP_FAILED, mremap(p, ARGPAGE_SIZE, 2 * ARGPAGE_SIZE,
				     MREMAP_MAYMOVE));
	EXPECT_EQ(MAP_FAILED, mremap(p, ARGPAGE_SIZE, ARGPAGE_SIZE,
				     MREMAP_MAYMOVE | MREMAP_FIXED, spare));
	EXPECT_EQ(-1, mprotect(p, ARGPAGE_SIZE, PROT_READ));
	EXPECT_EQ(EACCES, errno);
	/* Nor can a part of it be split off. */
	EXPECT_EQ(-1, mprotect(p, PAGE_4K, PROT_READ));
	/* fork() must not hand it on. */
	EXPECT_EQ(-1, madvise(p, ARGPAGE_SIZE, MADV_DOFORK));
	EXPECT_EQ(1, argpages(NULL, NULL));
	/* Still the module's, and working. */
	EXPECT_EQ(0, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 1));
	EXPECT_EQ(1, nr_mappings(self->ctx));
}

/* MADV_DONTNEED only drops it from the page tables: it comes back. */
TEST_F(argpage, dontneed_refaults)
{
	struct viommu_shadow_unmap_record rec[2];
	struct viommu_shadow_unmap_range r;

	ASSERT_EQ(0, madvise((void *)self->page, PAGE_4K, MADV_DONTNEED));
	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 7));
	ASSERT_EQ(0, madvise((void *)self->page, PAGE_4K, MADV_DONTNEED));
	r = vs_range(0, ~0ULL, 0, rec, 2);
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(1, r.out_nr_records);
	EXPECT_EQ(7, rec[0].cookie);
}

/*
 * munmap() cannot be refused, but it is noticed: the module no longer
 * writes at that address, whatever the process put there, and its
 * forwarded calls fail with EIO, changing nothing.
 */
TEST_F(argpage, munmap_noticed)
{
	struct viommu_shadow_unmap_record rec[2];
	struct viommu_shadow_unmap_range r;
	uint64_t unmapped = 0;
	uint8_t *mine;
	int i;

	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 1));
	/* Not a part of it: that would split it. */
	ASSERT_EQ(-1, munmap((void *)self->page, PAGE_4K));
	ASSERT_EQ(0, munmap((void *)self->page, ARGPAGE_SIZE));
	mine = mmap((void *)self->page, ARGPAGE_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_EQ((void *)self->page, mine);
	memset(mine, 0xa5, ARGPAGE_SIZE);

	EXPECT_EQ(EIO, _vs_map(self->ctx, SZ_2M, PAGE_4K, self->buf, 2));
	EXPECT_TRUE(vs_broken(self->ctx));
	r = vs_range(0, ~0ULL, 0, rec, 2);
	EXPECT_EQ(EIO, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(0, r.out_nr_records);
	EXPECT_EQ(1, nr_mappings(self->ctx));

	/* Closing the context leaves the process's own page alone. */
	close(self->ctx);
	self->ctx = vs_open();
	for (i = 0; i < (int)ARGPAGE_SIZE; i++)
		if (mine[i] != 0xa5)
			break;
	EXPECT_EQ(ARGPAGE_SIZE, i);
	/* type1 still has the mapping, untouched. */
	EXPECT_EQ(0, t1_unmap(self->box.container, SZ_1G, PAGE_4K, NULL, 0,
			      &unmapped));
	EXPECT_EQ(PAGE_4K, unmapped);
}

/*
 * A sync whose backend is out of reach cannot say whether it read (and
 * so cleared) some bits before: iommufd reads each HWPT and each page of
 * bits in turn, and the process can unmap a page in between.  The run's
 * records come back with DIRTY_LOST (take every page as dirty), the call
 * fails with EIO and the context breaks; type1's case, its page gone
 * before the call, is reported the same way.
 */
TEST_F(argpage, munmap_sync_lost)
{
	struct viommu_shadow_unmap_record rec[2];
	struct viommu_shadow_unmap_range r;
	uint64_t bitmap[2] = { 0 };

	ASSERT_EQ(0, t1_dirty(self->box.container,
			      VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G, 2 * PAGE_4K, self->buf, 1));
	ASSERT_EQ(0, munmap((void *)self->page, ARGPAGE_SIZE));
	r = vs_range(0, ~0ULL, 0, rec, 2);
	vs_range_dirty(&r, bitmap, sizeof(bitmap));
	EXPECT_EQ(EIO, vs_ioctl(self->ctx, VIOMMU_SHADOW_SYNC_DIRTY, &r));
	ASSERT_EQ(1, r.out_nr_records);
	EXPECT_EQ(SZ_1G, rec[0].iova);
	EXPECT_TRUE(rec[0].flags & VIOMMU_SHADOW_RECORD_DIRTY_LOST);
	EXPECT_TRUE(vs_broken(self->ctx));
	EXPECT_EQ(1, nr_mappings(self->ctx));
}

/*
 * The page is never executable, even for a process whose personality
 * makes every readable mapping executable (READ_IMPLIES_EXEC, which old
 * 32-bit binaries get).
 */
TEST_F(argpage, never_executable)
{
	char perms[8] = "";
	int status, ctx;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (personality(READ_IMPLIES_EXEC) < 0)
			_exit(1);
		ctx = vs_open();
		if (ctx < 0 || _vs_attach(ctx, 1, self->box.container))
			_exit(2);
		if (argpages(NULL, perms) != 1 || strcmp(perms, "rw-s"))
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/*
 * A forked child has no argument page and cannot use the context (EPERM);
 * the parent goes on unaffected.
 */
TEST_F(argpage, fork_child)
{
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (argpages(NULL, NULL) != 0)
			_exit(1);
		if (_vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 1) != EPERM)
			_exit(2);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(1, argpages(NULL, NULL));
	EXPECT_EQ(0, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 1));
	EXPECT_EQ(1, nr_mappings(self->ctx));
}

/*
 * A thread of the process rewrites its argument page in a tight loop
 * while another maps and range-unmaps thousands of times: self-harm the
 * module cannot prevent, so only safety is checked.  No oops or splat (the
 * runner fails on any), the module's own memory stays bounded, its
 * counters stay sane, and closing everything gives every pinned page
 * back.  Whenever the context notices (it breaks), a fresh one replaces
 * it and the race goes on.
 */
struct page_racer {
	uint8_t *page;		/* the page to scribble on, NULL: hands off */
	unsigned long parked;	/* times the racer saw NULL */
	unsigned long writes;
	int stop;
};

static void *race_page(void *arg)
{
	static const uint8_t vals[] = { 0, 1, 0x10, 0x80, 0xff };
	struct page_racer *r = arg;
	unsigned int seed = 1;
	uint8_t *p;
	int x;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		p = __atomic_load_n(&r->page, __ATOMIC_ACQUIRE);
		if (!p) {
			__atomic_add_fetch(&r->parked, 1, __ATOMIC_RELEASE);
			continue;
		}
		x = rand_r(&seed);
		__atomic_store_n(&p[x % 128], vals[(x >> 8) % 5],
				 __ATOMIC_RELAXED);
		r->writes++;
		/* In bursts, so that some calls also get through. */
		if (!((x >> 16) % 8))
			usleep((x >> 20) % 256);
	}
	return NULL;
}

/* Take the racer off its page, and wait until it has let go. */
static void race_park(struct page_racer *r)
{
	unsigned long seen;

	__atomic_store_n(&r->page, NULL, __ATOMIC_RELEASE);
	seen = __atomic_load_n(&r->parked, __ATOMIC_ACQUIRE);
	while (__atomic_load_n(&r->parked, __ATOMIC_ACQUIRE) < seen + 2)
		sched_yield();
}

TEST_F_TIMEOUT(argpage, racing_thread_rewrites_page, 300)
{
	struct viommu_shadow_unmap_record rec[4];
	struct page_racer racer = { .page = (uint8_t *)self->page };
	struct viommu_shadow_unmap_range r;
	struct viommu_shadow_info info;
	unsigned long maps = 0, broken = 0;
	long contexts, nodes;
	pthread_t thread;
	uintptr_t page;
	int i;

	ASSERT_EQ(0, pthread_create(&thread, NULL, race_page, &racer));
	for (i = 0; i < 3000; i++) {
		if (!_vs_map(self->ctx, SZ_1G + (i % 64) * PAGE_4K, PAGE_4K,
			     self->buf + (i % 16) * PAGE_4K, i))
			maps++;
		r = vs_range(SZ_1G, SZ_1G + 64 * PAGE_4K - 1,
			     VIOMMU_SHADOW_UNMAP_WHOLE, rec, 4);
		_vs_unmap(self->ctx, &r);
		ASSERT_LE(r.out_nr_records, 4);
		if (!vs_broken(self->ctx))
			continue;
		/* A new context, and the racer moves to its page. */
		broken++;
		race_park(&racer);
		close(self->ctx);
		self->ctx = vs_open();
		ASSERT_LE(0, self->ctx);
		ASSERT_EQ(0, _vs_attach(self->ctx, 1, self->box.container));
		ASSERT_EQ(1, argpages(&page, NULL));
		__atomic_store_n(&racer.page, (uint8_t *)page, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&racer.stop, 1, __ATOMIC_RELEASE);
	ASSERT_EQ(0, pthread_join(thread, NULL));
	TH_LOG("%lu page writes, %lu maps took, %lu contexts broke",
	       racer.writes, maps, broken);

	/* The module's view is its own: sane, and bounded by the tree. */
	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	EXPECT_GE(64, info.nr_mappings);
	EXPECT_EQ(info.nr_mappings * PAGE_4K, info.mapped_bytes);
	ASSERT_EQ(0, vs_objects(&contexts, &nodes));
	EXPECT_EQ(1, contexts);
	EXPECT_EQ(info.nr_mappings, nodes);

	/* Everything closed: no context, node or pinned page is left. */
	close(self->ctx);
	self->ctx = vs_open();
	vfio_box_close(&self->box);
	self->box.container = -1;
	self->box.group = -1;
	ASSERT_EQ(0, vs_objects(&contexts, &nodes));
	EXPECT_EQ(1, contexts);
	EXPECT_EQ(0, nodes);
	EXPECT_EQ(0, status_kb("VmLck"));
}

/* ------------------------------------------------------------------ */
/* mock only                                                           */
/* ------------------------------------------------------------------ */

FIXTURE(mock) {
	int ctx;
	int mock;
	uint8_t *buf;
};

FIXTURE_SETUP(mock)
{
	self->ctx = vs_open();
	ASSERT_LE(0, self->ctx);
	self->mock = open(VS_MOCK_DEV, O_RDWR);
	if (self->mock < 0)
		SKIP(return, "mock backend not loaded");
	ASSERT_EQ(0, _vs_attach(self->ctx, VSHADOW_MOCK_BACKEND,
				self->mock));
	self->buf = mmap(NULL, PAGE_4K, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
}

FIXTURE_TEARDOWN(mock)
{
	close(self->ctx);
	if (self->mock >= 0)
		close(self->mock);
}

static bool pattern_bit(int m, uint64_t page)
{
	return ((page * 7 + m) % 3) == 0 || page == 0;
}

/*
 * Mappings of 1, 63, 64, 65 and 513 pages with a dirty pattern that is not
 * all ones: each mapping's bits land exactly at its record's offset, and
 * the padding up to the next word is zero.
 */
TEST_F(mock, dirty_bits_land_at_their_offset)
{
	static const uint64_t pages[] = { 1, 63, 64, 65, 513 };
	struct viommu_shadow_unmap_record rec[8];
	struct viommu_shadow_unmap_range r;
	uint64_t bitmap[64], pat[16], off = 0, iova;
	unsigned int m;
	uint64_t p;

	ASSERT_EQ(0, mock_tracking(self->mock, true));
	for (m = 0; m < ARRAY_SIZE(pages); m++) {
		iova = SZ_1G * (m + 1);
		ASSERT_EQ(0, _vs_map(self->ctx, iova, pages[m] * PAGE_4K,
				     self->buf, m));
		memset(pat, 0, sizeof(pat));
		for (p = 0; p < pages[m]; p++)
			if (pattern_bit(m, p))
				pat[p / 64] |= 1ULL << (p % 64);
		ASSERT_EQ(0, mock_set_dirty(self->mock, iova,
					    pages[m] * PAGE_4K, pat));
	}

	memset(bitmap, 0xff, sizeof(bitmap));
	r = vs_range(0, ~0ULL, 0, rec, 8);
	vs_range_dirty(&r, bitmap, sizeof(bitmap));
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(ARRAY_SIZE(pages), r.out_nr_records);
	for (m = 0; m < ARRAY_SIZE(pages); m++) {
		ASSERT_EQ(m, rec[m].cookie);
		ASSERT_EQ(off, rec[m].bitmap_offset);
		ASSERT_EQ(pages[m], rec[m].bitmap_bits);
		for (p = 0; p < pages[m]; p++)
			ASSERT_EQ(pattern_bit(m, p),
				  test_bit64(bitmap, off + p)) {
				TH_LOG("mapping %u page %llu", m, (unsigned long long)p);
			}
		for (; p % 64; p++)
			ASSERT_FALSE(test_bit64(bitmap, off + p));
		off += (pages[m] + 63) / 64 * 64;
	}
	/* Nothing past the last mapping's words was written. */
	EXPECT_EQ(~0ULL, bitmap[off / 64]);
}

/*
 * The layout of the chunk tests: a lone 3-page mapping, 700 back-to-back
 * mappings of 1 to 65 pages (over 512 bitmap words in the padded layout),
 * another lone one, 512 back-to-back mappings of 64 pages (32768 pages, a
 * run's most: over 512 words in the dense layout from a mid-word start).
 */
#define CHUNK_FIRST_BIG	701
#define CHUNK_NR	(CHUNK_FIRST_BIG + 513)

static uint64_t chunk_pages(unsigned int m)
{
	static const uint64_t cycle[] = { 1, 1, 2, 65, 1 };

	if (m == 0 || m == CHUNK_FIRST_BIG)
		return 3;
	return m < CHUNK_FIRST_BIG ? cycle[m % ARRAY_SIZE(cycle)] : 64;
}

/* Whether mapping @m is the first of its run. */
static bool chunk_run_start(unsigned int m)
{
	return m == 0 || m == 1 || m == CHUNK_FIRST_BIG ||
	       m == CHUNK_FIRST_BIG + 1;
}

/* Map the layout from 1 GiB, mapping m's IOVA in @at[m], cookie m. */
static int chunk_map(int ctx, void *buf, uint64_t *at)
{
	uint64_t iova = SZ_1G;
	unsigned int m;

	for (m = 0; m < CHUNK_NR; m++) {
		if (chunk_run_start(m))
			iova += SZ_1G;	/* each run, and each lone one, apart */
		at[m] = iova;
		if (_vs_map(ctx, iova, chunk_pages(m) * PAGE_4K, buf, m))
			return -1;
		iova += chunk_pages(m) * PAGE_4K;
	}
	return 0;
}

/* Give every mapping its dirty pattern (pattern_bit()). */
static int chunk_dirty(int mock, const uint64_t *at)
{
	uint64_t pat[2], p;
	unsigned int m;

	for (m = 0; m < CHUNK_NR; m++) {
		memset(pat, 0, sizeof(pat));
		for (p = 0; p < chunk_pages(m); p++)
			if (pattern_bit(m, p))
				pat[p / 64] |= 1ULL << (p % 64);
		if (mock_set_dirty(mock, at[m], chunk_pages(m) * PAGE_4K, pat))
			return -1;
	}
	return 0;
}

/* Whether record @m's bits in @bitmap are mapping m's pattern. */
static bool chunk_bits_ok(const uint64_t *bitmap,
			  const struct viommu_shadow_unmap_record *rec,
			  unsigned int m)
{
	uint64_t p;

	for (p = 0; p < chunk_pages(m); p++)
		if (pattern_bit(m, p) !=
		    test_bit64(bitmap, rec->bitmap_offset + p))
			return false;
	return rec->cookie == m && rec->bitmap_bits == chunk_pages(m);
}

static int _vs_sync(int ctx, struct viommu_shadow_unmap_range *cmd)
{
	return vs_ioctl(ctx, VIOMMU_SHADOW_SYNC_DIRTY, cmd);
}

/*
 * A run's bits are staged and stored in chunks of 512 words.  In both
 * layouts, by SYNC_DIRTY and by UNMAP_RANGE, each mapping's bits land at
 * its record's offset, the padded layout's padding is zero, and nothing
 * past the last bit changes.
 */
TEST_F_TIMEOUT(mock, run_bits_cross_staging_chunks, 120)
{
	const size_t words = 4096;
	struct viommu_shadow_unmap_record *rec;
	struct viommu_shadow_unmap_range r;
	uint64_t *bitmap, *at, p, end;
	unsigned int m, layout, op;

	rec = calloc(CHUNK_NR, sizeof(*rec));
	at = calloc(CHUNK_NR, sizeof(*at));
	bitmap = malloc(words * 8);
	ASSERT_NE(NULL, rec);
	ASSERT_NE(NULL, at);
	ASSERT_NE(NULL, bitmap);
	ASSERT_EQ(0, mock_tracking(self->mock, true));
	for (layout = 0; layout < 2; layout++) {
		ASSERT_EQ(0, chunk_map(self->ctx, self->buf, at));
		for (op = 0; op < 2; op++) {
			ASSERT_EQ(0, chunk_dirty(self->mock, at));
			memset(bitmap, 0xff, words * 8);
			r = vs_range(0, ~0ULL,
				     layout ? VIOMMU_SHADOW_UNMAP_DENSE : 0,
				     rec, CHUNK_NR);
			vs_range_dirty(&r, bitmap, words * 8);
			ASSERT_EQ(0, op ? _vs_unmap(self->ctx, &r) :
					  _vs_sync(self->ctx, &r));
			ASSERT_EQ(CHUNK_NR, r.out_nr_records);
			end = 0;
			for (m = 0; m < CHUNK_NR; m++) {
				ASSERT_EQ(layout ? end : (end + 63) / 64 * 64,
					  rec[m].bitmap_offset);
				ASSERT_TRUE(chunk_bits_ok(bitmap, &rec[m], m)) {
					TH_LOG("layout %u op %u mapping %u",
					       layout, op, m);
				}
				end = rec[m].bitmap_offset + chunk_pages(m);
				for (p = end; !layout && p % 64; p++)
					ASSERT_FALSE(test_bit64(bitmap, p));
			}
			/* past the last bit, up to its word's end: zero */
			for (p = end; p % 64; p++)
				ASSERT_FALSE(test_bit64(bitmap, p));
			for (p = (end + 63) / 64; p < words; p++)
				ASSERT_EQ(~0ULL, bitmap[p]);
		}
	}
	free(bitmap);
	free(at);
	free(rec);
}

/*
 * The bitmap fails at each point where a run's bits are read back or
 * stored (the module's fault injector, test builds): the call fails with
 * EFAULT, and of the records it counts, those without DIRTY_LOST have all
 * their bits and the rest, all flagged, are a suffix that starts at the
 * first mapping with bits in the chunk that failed, so within a run when
 * the run's second chunk fails (never an under-report, and no more of an
 * over-report than that chunk).
 */
TEST_F_TIMEOUT(mock, run_bits_fault_in_every_chunk, 300)
{
	const size_t words = 4096;
	struct viommu_shadow_unmap_record *rec;
	struct viommu_shadow_unmap_range r;
	unsigned int m, layout, nth, points, mid_run;
	uint64_t *bitmap, *at;
	char site[96];
	ssize_t n;
	int fd, ret;

	fd = open("/sys/kernel/debug/viommu_shadow/fail_nth", O_RDWR);
	if (fd < 0)
		SKIP(return, "no fault injector (a module built without VSHADOW_MOCK)");
	rec = calloc(CHUNK_NR, sizeof(*rec));
	at = calloc(CHUNK_NR, sizeof(*at));
	bitmap = malloc(words * 8);
	ASSERT_NE(NULL, rec);
	ASSERT_NE(NULL, at);
	ASSERT_NE(NULL, bitmap);
	ASSERT_EQ(0, mock_tracking(self->mock, true));
	ASSERT_EQ(0, chunk_map(self->ctx, self->buf, at));
	for (layout = 0; layout < 2; layout++) {
		points = 0;
		mid_run = 0;
		for (nth = 1; nth < 1000; nth++) {
			ASSERT_EQ(0, chunk_dirty(self->mock, at));
			r = vs_range(0, ~0ULL,
				     layout ? VIOMMU_SHADOW_UNMAP_DENSE : 0,
				     rec, CHUNK_NR);
			vs_range_dirty(&r, bitmap, words * 8);
			/* a seq_file: no pread or pwrite */
			n = snprintf(site, sizeof(site), "%u", nth);
			ASSERT_EQ(0, lseek(fd, 0, SEEK_SET));
			ASSERT_EQ(n, write(fd, site, n));
			ret = _vs_sync(self->ctx, &r);
			ASSERT_EQ(0, lseek(fd, 0, SEEK_SET));
			n = read(fd, site, sizeof(site) - 1);
			ASSERT_LT(0, n);
			site[n] = 0;
			ASSERT_EQ(0, lseek(fd, 0, SEEK_SET));
			ASSERT_EQ(1, write(fd, "0", 1));
			if (strtoul(site, NULL, 10)) {
				/* no point left to fail: the sweep is done */
				ASSERT_EQ(0, ret);
				break;
			}
			if (!strstr(site, "vshadow_flush_bits") &&
			    !strstr(site, "vshadow_run_put_bits"))
				continue;
			points++;
			ASSERT_EQ(EFAULT, ret);
			for (m = 0; m < r.out_nr_records &&
			     !(rec[m].flags & VIOMMU_SHADOW_RECORD_DIRTY_LOST);
			     m++)
				ASSERT_TRUE(chunk_bits_ok(bitmap, &rec[m], m)) {
					TH_LOG("layout %u point %u mapping %u",
					       layout, nth, m);
				}
			ASSERT_LT(m, r.out_nr_records);
			mid_run += !chunk_run_start(m);
			for (; m < r.out_nr_records; m++)
				ASSERT_TRUE(rec[m].flags &
					    VIOMMU_SHADOW_RECORD_DIRTY_LOST);
		}
		ASSERT_LT(nth, 1000);
		TH_LOG("layout %u: %u of %u points in the bits' delivery, %u within a run",
		       layout, points, nth - 1, mid_run);
		/*
		 * Padded: the lone ones, the first run's two chunks, the
		 * second's one.  Dense: the same but two in the second run,
		 * plus a read-back of the first word of each run that starts
		 * mid-word, less the first lone one: its bits start word 0,
		 * so the backend writes them in place (no staging, read-back
		 * or store point).
		 */
		EXPECT_EQ(layout ? 7 : 5, points);
		EXPECT_EQ(1, mid_run);
	}
	close(fd);
	free(bitmap);
	free(at);
	free(rec);
}

/* The mock's backend calls so far. */
static uint64_t mock_calls(int mock)
{
	struct vshadow_mock_get_mappings g = { .size = sizeof(g) };

	if (ioctl(mock, VSHADOW_MOCK_GET_MAPPINGS, &g))
		return ~0ULL;
	return g.out_calls;
}

/*
 * The layout of sync_in_place_dense: 600 back-to-back mappings of 64 pages
 * (38400 pages, more than the kernel buffer's 32768); apart, 3 pages,
 * 40000 pages and 5 pages back to back; apart, 99 mappings of 1 to 3
 * pages back to back.
 */
#define INPLACE_NR	(600 + 3 + 99)

static uint64_t inplace_pages(unsigned int m)
{
	if (m < 600)
		return 64;
	if (m < 603)
		return m == 600 ? 3 : m == 601 ? 40000 : 5;
	return 1 + m % 3;
}

/* Where mapping @m's bits go in the dense layout, after @end bits. */
static uint64_t inplace_offset(unsigned int m, uint64_t end)
{
	/* a mapping of more than 32768 pages starts a word */
	return inplace_pages(m) > 32768 ? (end + 63) / 64 * 64 : end;
}

/*
 * A sync in the dense layout whose run's bits start a word has the
 * backend write them straight into the caller's bitmap, in runs longer
 * than the kernel buffer (5 backend calls, where the unmap of the same
 * mappings makes 6): each mapping's bits land at its record's offset,
 * the offsets are those the unmap gives (a mapping of more than 32768
 * pages still starts a word), the bits past the last one up to its
 * word's end are zero and nothing after that changes.  A sync that fails
 * part way through the long run reports its 600 mappings, all DIRTY_LOST.
 */
TEST_F_TIMEOUT(mock, sync_in_place_dense, 120)
{
	const size_t words = 2048;
	struct viommu_shadow_unmap_record *rec;
	struct vshadow_mock_fail_nth f = {
		.size = sizeof(f), .nth = 1, .error = EBUSY, .after = 300,
	};
	struct viommu_shadow_unmap_range r;
	uint64_t *bitmap, *pat, iova = SZ_1G, p, end, calls;
	unsigned int m, op;

	rec = calloc(INPLACE_NR, sizeof(*rec));
	bitmap = malloc(words * 8);
	pat = malloc(words * 8);
	ASSERT_NE(NULL, rec);
	ASSERT_NE(NULL, bitmap);
	ASSERT_NE(NULL, pat);
	ASSERT_EQ(0, mock_tracking(self->mock, true));
	for (m = 0; m < INPLACE_NR; m++) {
		if (m == 600 || m == 603)
			iova += SZ_1G;	/* the groups apart */
		ASSERT_EQ(0, _vs_map(self->ctx, iova,
				     inplace_pages(m) * PAGE_4K, self->buf, m));
		iova += inplace_pages(m) * PAGE_4K;
	}

	ASSERT_EQ(0, vs_ioctl(self->mock, VSHADOW_MOCK_FAIL_NTH, &f));
	r = vs_range(0, ~0ULL, VIOMMU_SHADOW_UNMAP_DENSE, rec, INPLACE_NR);
	vs_range_dirty(&r, bitmap, words * 8);
	ASSERT_EQ(EBUSY, _vs_sync(self->ctx, &r));
	ASSERT_EQ(600, r.out_nr_records);
	EXPECT_EQ(SZ_1G + 600 * 64 * PAGE_4K, r.out_resume);
	for (m = 0; m < 600; m++)
		ASSERT_EQ(VIOMMU_SHADOW_RECORD_DIRTY |
			  VIOMMU_SHADOW_RECORD_DIRTY_LOST, rec[m].flags);

	for (op = 0; op < 2; op++) {
		iova = SZ_1G;
		for (m = 0; m < INPLACE_NR; m++) {
			if (m == 600 || m == 603)
				iova += SZ_1G;
			memset(pat, 0, words * 8);
			for (p = 0; p < inplace_pages(m); p++)
				if (pattern_bit(m, p))
					pat[p / 64] |= 1ULL << (p % 64);
			ASSERT_EQ(0, mock_set_dirty(self->mock, iova,
						    inplace_pages(m) * PAGE_4K,
						    pat));
			iova += inplace_pages(m) * PAGE_4K;
		}
		memset(bitmap, 0xff, words * 8);
		r = vs_range(0, ~0ULL, VIOMMU_SHADOW_UNMAP_DENSE, rec,
			     INPLACE_NR);
		vs_range_dirty(&r, bitmap, words * 8);
		calls = mock_calls(self->mock);
		ASSERT_EQ(0, op ? _vs_unmap(self->ctx, &r) :
				  _vs_sync(self->ctx, &r));
		EXPECT_EQ(op ? 6 : 5, mock_calls(self->mock) - calls);
		ASSERT_EQ(INPLACE_NR, r.out_nr_records);
		end = 0;
		for (m = 0; m < INPLACE_NR; m++) {
			ASSERT_EQ(m, rec[m].cookie);
			ASSERT_EQ(inplace_pages(m), rec[m].bitmap_bits);
			ASSERT_EQ(inplace_offset(m, end), rec[m].bitmap_offset) {
				TH_LOG("op %u mapping %u", op, m);
			}
			for (p = 0; p < inplace_pages(m); p++)
				ASSERT_EQ(pattern_bit(m, p),
					  test_bit64(bitmap,
						     rec[m].bitmap_offset + p)) {
					TH_LOG("op %u mapping %u page %llu", op,
					       m, (unsigned long long)p);
				}
			end = rec[m].bitmap_offset + inplace_pages(m);
		}
		for (p = end; p % 64; p++)
			ASSERT_FALSE(test_bit64(bitmap, p));
		for (p = (end + 63) / 64; p < words; p++)
			ASSERT_EQ(~0ULL, bitmap[p]);
	}
	free(pat);
	free(bitmap);
	free(rec);
}

/* A mapping may end at 2^64 - 1, and the walk ends cleanly there. */
TEST_F(mock, mapping_at_top_of_space)
{
	struct viommu_shadow_unmap_record rec[2];
	struct viommu_shadow_unmap_range r;
	struct viommu_shadow_info info;

	ASSERT_EQ(0, _vs_map(self->ctx, -2 * PAGE_4K, 2 * PAGE_4K, self->buf,
			     9));
	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 8));
	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	EXPECT_EQ(~0ULL, info.high_water);

	r = vs_range(SZ_1G + PAGE_4K, ~0ULL, 0, rec, 2);
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(1, r.out_nr_records);
	EXPECT_EQ(0, r.out_flags);
	EXPECT_EQ(~0ULL, r.out_last);
	EXPECT_EQ(-2 * PAGE_4K, rec[0].iova);
	EXPECT_EQ(9, rec[0].cookie);
	EXPECT_EQ(1, mock_mappings(self->mock, NULL, 0));
}

/*
 * A backend failure injected at every position of a walk: the call stops
 * there with the backend's error, reports exactly the mappings before it,
 * and the tree still matches the backend (the rest of the walk, resumed,
 * returns exactly the mock's remaining mappings).
 */
TEST_F(mock, failure_at_every_position)
{
	const int n = 6;
	struct vshadow_mock_mapping left[8];
	struct viommu_shadow_unmap_record rec[8];
	struct viommu_shadow_unmap_range r;
	int k, i;
	long have;

	for (k = 1; k <= n + 1; k++) {
		for (i = 0; i < n; i++)
			ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G + i * SZ_2M,
					     (i + 1) * PAGE_4K, self->buf, i));
		ASSERT_EQ(0, mock_fail_nth(self->mock, k, EBUSY));
		r = vs_range(0, ~0ULL, 0, rec, 8);
		if (k <= n) {
			ASSERT_EQ(EBUSY, _vs_unmap(self->ctx, &r));
		} else {
			ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
			ASSERT_EQ(n, r.out_nr_records);
			ASSERT_EQ(0, mock_fail_nth(self->mock, 0, EBUSY));
			continue;
		}
		ASSERT_EQ(k - 1, r.out_nr_records);
		for (i = 0; i < k - 1; i++)
			ASSERT_EQ(SZ_1G + i * SZ_2M, rec[i].iova);
		ASSERT_EQ(k == 1 ? 0 : SZ_1G + (k - 2) * SZ_2M + (k - 1) * PAGE_4K,
			  r.out_resume);

		have = mock_mappings(self->mock, left, 8);
		ASSERT_EQ(n - k + 1, have);
		ASSERT_EQ(have, nr_mappings(self->ctx));

		r = vs_range(r.out_resume, ~0ULL, 0, rec, 8);
		ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
		ASSERT_EQ(have, r.out_nr_records);
		for (i = 0; i < have; i++) {
			ASSERT_EQ(left[i].iova, rec[i].iova);
			ASSERT_EQ(left[i].length, rec[i].length);
		}
		ASSERT_EQ(0, mock_mappings(self->mock, NULL, 0));
	}

	/* A failing map leaves no shadow entry. */
	ASSERT_EQ(0, mock_fail_nth(self->mock, 1, ENOMEM));
	EXPECT_EQ(ENOMEM, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 0));
	EXPECT_EQ(0, nr_mappings(self->ctx));
	EXPECT_EQ(0, mock_mappings(self->mock, NULL, 0));
	EXPECT_EQ(0, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 0));
}

/*
 * Attach @ctx to @mock and map @n one-page mappings at IOVA 4K..n*4K, for
 * a long walk.  Downwards, as the mock keeps a list and inserts at its
 * head; it does not touch the memory, so one page serves all.
 */
static int mock_fill(int ctx, int mock, uint64_t n, void *page)
{
	uint64_t k;

	if (_vs_attach(ctx, VSHADOW_MOCK_BACKEND, mock))
		return -1;
	for (k = n; k > 0; k--)
		if (_vs_map(ctx, k * PAGE_4K, PAGE_4K, page, k))
			return -1;
	return 0;
}

/*
 * A fatal signal part way through a long walk: the walk stops between two
 * mappings and the context (still open in another process) matches the
 * backend exactly.  GET_INFO works from any process; the walk holds the
 * context lock, so the observer watches the mock instead.
 */
TEST_F_TIMEOUT(mock, fatal_signal_stops_walk, 240)
{
	const uint64_t n = 65535;	/* max_mappings, type1's own limit */
	struct viommu_shadow_info info;
	int ctx, mock, status, ready[2];
	long left, contexts, nodes;
	pid_t pid;
	char c;

	/* A second mock container, for a context the child attaches. */
	ctx = vs_open();
	ASSERT_LE(0, ctx);
	mock = open(VS_MOCK_DEV, O_RDWR);
	ASSERT_LE(0, mock);
	ASSERT_EQ(0, pipe(ready));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct viommu_shadow_unmap_record *rec;
		struct viommu_shadow_unmap_range r;

		rec = calloc(n, sizeof(*rec));
		if (!rec || mock_fill(ctx, mock, n, self->buf) ||
		    write(ready[1], "", 1) != 1)
			_exit(1);
		r = vs_range(0, ~0ULL, 0, rec, n);
		_vs_unmap(ctx, &r);
		_exit(3);	/* the walk finished before the kill */
	}

	/* The child says when all is mapped; kill it once the walk runs. */
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	while (mock_mappings(mock, NULL, 0) == (long)n &&
	       !waitpid(pid, &status, WNOHANG))
		;
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	ASSERT_TRUE(WIFSIGNALED(status)) {
		TH_LOG("walker exited with %d", WEXITSTATUS(status));
	}

	left = mock_mappings(mock, NULL, 0);
	ASSERT_EQ(0, _vs_info(ctx, &info));
	EXPECT_EQ(left, info.nr_mappings);
	EXPECT_EQ(n, info.nr_mappings + info.nr_unmaps);
	EXPECT_LT(0, info.nr_unmaps);
	EXPECT_LT(0, info.nr_mappings);
	TH_LOG("walk stopped after %llu of %llu mappings",
	       (unsigned long long)info.nr_unmaps, (unsigned long long)n);
	close(ready[0]);
	close(ctx);
	close(mock);
	/* Nothing of the killed walker's context is left: only the fixture's. */
	ASSERT_EQ(0, vs_objects(&contexts, &nodes));
	EXPECT_EQ(1, contexts);
	EXPECT_EQ(0, nodes);
}

static void on_sigusr1(int sig)
{
}

/*
 * Ordinary signals stop a long walk between two mappings too: the call
 * succeeds with OUT_MORE and the caller resumes.  Interrupted calls
 * together still unmap everything exactly once.
 */
TEST_F_TIMEOUT(mock, signal_resumes_walk, 120)
{
	const uint64_t n = 20000;
	int ready[2], status, ctx;
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct sigaction sa = { .sa_handler = on_sigusr1 };
		struct viommu_shadow_unmap_record *rec;
		struct viommu_shadow_unmap_range r;
		uint64_t k, total = 0, start = 0;
		unsigned int calls = 0;

		/* No SA_RESTART: an early stop must come back as OUT_MORE. */
		sigaction(SIGUSR1, &sa, NULL);
		rec = calloc(n, sizeof(*rec));
		ctx = vs_open();
		if (!rec || mock_fill(ctx, self->mock, n, self->buf) ||
		    write(ready[1], "", 1) != 1)
			_exit(1);
		do {
			r = vs_range(start, ~0ULL, 0, rec, n);
			if (_vs_unmap(ctx, &r) && errno != EINTR)
				_exit(4);
			for (k = 0; k < r.out_nr_records; k++)
				if (rec[k].iova != (total + k + 1) * PAGE_4K)
					_exit(5);
			total += r.out_nr_records;
			start = r.out_resume;
			calls++;
		} while (total < n);
		if (mock_mappings(self->mock, NULL, 0) != 0)
			_exit(6);
		_exit(calls > 1 ? 0 : 7);
	}

	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	while (!waitpid(pid, &status, WNOHANG)) {
		kill(pid, SIGUSR1);
		usleep(1000);
	}
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	close(ready[0]);
}

/*
 * A dirty bitmap that stops being writable part way: the module writes a
 * run's words before it unmaps the run, so the call stops with EFAULT
 * before the mapping whose bits have nowhere to go, and that mapping stays.
 * At every position: exact progress, the bits before it intact, nothing
 * lost, and the rest unmaps normally afterwards.  (DIRTY_LOST is left for
 * a bitmap that becomes unwritable between that write and the delivery.)
 */
TEST_F(mock, unwritable_bitmap_at_every_position)
{
	const int n = 6;
	struct viommu_shadow_unmap_record rec[6];
	struct viommu_shadow_unmap_range r;
	uint64_t one = 1, *bitmap;
	uint8_t *area;
	int k, i;

	area = mmap(NULL, 2 * PAGE_4K, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	ASSERT_EQ(0, mock_tracking(self->mock, true));
	for (k = 0; k < n; k++) {
		for (i = 0; i < n; i++) {
			ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G + i * SZ_2M,
					     PAGE_4K, self->buf, 100 + i));
			ASSERT_EQ(0, mock_set_dirty(self->mock, SZ_1G + i * SZ_2M,
						    PAGE_4K, &one));
		}
		/* Words 0..k-1 writable, word k on a read-only page. */
		ASSERT_EQ(0, mprotect(area + PAGE_4K, PAGE_4K, PROT_READ));
		bitmap = (uint64_t *)(area + PAGE_4K) - k;
		memset(bitmap, 0, k * 8);
		r = vs_range(0, ~0ULL, 0, rec, n);
		vs_range_dirty(&r, bitmap, n * 8);
		EXPECT_EQ(EFAULT, _vs_unmap(self->ctx, &r));
		ASSERT_EQ(k, r.out_nr_records);
		for (i = 0; i < k; i++) {
			EXPECT_EQ(100 + i, rec[i].cookie);
			EXPECT_EQ(VIOMMU_SHADOW_RECORD_DIRTY, rec[i].flags);
			EXPECT_EQ(1, bitmap[i]);
		}
		EXPECT_EQ(k ? SZ_1G + (k - 1) * SZ_2M + PAGE_4K : 0,
			  r.out_resume);
		EXPECT_EQ(n - k, nr_mappings(self->ctx));
		EXPECT_EQ(n - k, mock_mappings(self->mock, NULL, 0));

		/* The rest, with a writable bitmap. */
		ASSERT_EQ(0, mprotect(area + PAGE_4K, PAGE_4K,
				      PROT_READ | PROT_WRITE));
		r = vs_range(0, ~0ULL, 0, rec, n);
		vs_range_dirty(&r, (uint64_t *)area, n * 8);
		ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
		EXPECT_EQ(n - k, r.out_nr_records);
		for (i = 0; i < (int)r.out_nr_records; i++) {
			EXPECT_EQ(VIOMMU_SHADOW_RECORD_DIRTY, rec[i].flags);
			EXPECT_EQ(1, ((uint64_t *)area)[i]);
		}
		EXPECT_EQ(0, nr_mappings(self->ctx));
	}
	munmap(area, 2 * PAGE_4K);
}

/*
 * The backend changes its page size under the context (type1 does as
 * groups join its container): its first EINVAL makes the context ask
 * again, GET_INFO then has the new size, MAP and UNMAP_RANGE check
 * against it, and dirty bits come at the new size.  A mapping the backend
 * can no longer unmap stays, in the tree as in the backend.
 */
TEST_F(mock, page_size_changes)
{
	struct viommu_shadow_unmap_record rec[4];
	struct viommu_shadow_unmap_range r;
	struct viommu_shadow_info info;
	const uint64_t b = 16 * PAGE_4K;
	uint64_t one = 1, bits[2] = { 0 };

	ASSERT_EQ(0, _vs_map(self->ctx, 0, PAGE_4K, self->buf, 1));
	ASSERT_EQ(0, _vs_map(self->ctx, b, 4 * PAGE_4K, self->buf, 2));
	ASSERT_EQ(0, mock_set_caps(self->mock, 2 * PAGE_4K,
				   VSHADOW_MOCK_MAX_PAGES / 8));

	r = vs_range(0, PAGE_4K - 1, 0, rec, 4);
	EXPECT_EQ(EINVAL, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(0, r.out_nr_records);
	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	EXPECT_EQ(2 * PAGE_4K, info.pgsize);
	EXPECT_EQ(2, info.nr_mappings);
	EXPECT_EQ(2, mock_mappings(self->mock, NULL, 0));
	EXPECT_FALSE(info.out_flags & VIOMMU_SHADOW_INFO_OUT_BROKEN);

	/* (The mock never touches vaddr: any 8K-aligned value will do.) */
	EXPECT_EQ(EINVAL, _vs_map(self->ctx, SZ_2M, PAGE_4K, (void *)SZ_2M, 3));
	EXPECT_EQ(EINVAL, _vs_map(self->ctx, SZ_2M, 2 * PAGE_4K,
				  (void *)(SZ_2M + PAGE_4K), 3));
	EXPECT_EQ(0, _vs_map(self->ctx, SZ_2M, 2 * PAGE_4K, (void *)SZ_2M, 3));

	/* The second 4K page of b is dirty: the first 8K bit is set. */
	ASSERT_EQ(0, mock_tracking(self->mock, true));
	ASSERT_EQ(0, mock_set_dirty(self->mock, b + PAGE_4K, PAGE_4K, &one));
	r = vs_range(b, b + 4 * PAGE_4K - 1, 0, rec, 4);
	vs_range_dirty(&r, bits, sizeof(bits));
	EXPECT_EQ(EINVAL, _vs_unmap(self->ctx, &r));	/* 4K bits */
	r.bitmap_pgsize = 2 * PAGE_4K;
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(1, r.out_nr_records);
	EXPECT_EQ(2, rec[0].cookie);
	EXPECT_EQ(2, rec[0].bitmap_bits);
	EXPECT_EQ(1, bits[0]);
	EXPECT_EQ(2, nr_mappings(self->ctx));
}

/*
 * A page size change refuses a run as it refuses one mapping: EINVAL,
 * nothing done, the context unbroken.  (The backend checks a request
 * before it unmaps anything, so there is no mapping's fate to find out.)
 */
TEST_F(mock, page_size_change_refuses_a_run)
{
	struct viommu_shadow_unmap_record rec[4];
	struct viommu_shadow_unmap_range r;
	const uint64_t b = 4 * SZ_2M;
	int i;

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, _vs_map(self->ctx, b + i * PAGE_4K, PAGE_4K,
				     self->buf, i));
	ASSERT_EQ(0, mock_set_caps(self->mock, 2 * PAGE_4K,
				   VSHADOW_MOCK_MAX_PAGES / 8));
	for (i = 0; i < 2; i++) {
		r = vs_range(b, b + 3 * PAGE_4K - 1, 0, rec, 4);
		EXPECT_EQ(EINVAL, _vs_unmap(self->ctx, &r));
		EXPECT_EQ(0, r.out_nr_records);
		EXPECT_EQ(3, nr_mappings(self->ctx));
		EXPECT_EQ(3, mock_mappings(self->mock, NULL, 0));
		EXPECT_FALSE(vs_broken(self->ctx));
	}
}

/*
 * Whether a context offers dirty bits, and how many one mapping may have,
 * is what its backend says when asked, never assumed.  (For type1 the
 * answer is its migration capability, which iommufd's compatibility
 * container lacks; no kernel here has that container, so this decision
 * is shown on the mock.)
 */
TEST_F(mock, dirty_capability_is_asked)
{
	struct viommu_shadow_unmap_record rec[4];
	struct viommu_shadow_unmap_range r;
	struct viommu_shadow_info info;
	uint64_t bits[4];
	int mock2, ctx2;

	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	EXPECT_TRUE(info.features & VIOMMU_SHADOW_FEATURE_DIRTY);

	mock2 = open(VS_MOCK_DEV, O_RDWR);
	ASSERT_LE(0, mock2);
	ASSERT_EQ(0, mock_set_caps(mock2, PAGE_4K, 0));
	ASSERT_EQ(0, mock_tracking(mock2, true));
	ctx2 = vs_open();
	ASSERT_EQ(0, _vs_attach(ctx2, VSHADOW_MOCK_BACKEND, mock2));
	ASSERT_EQ(0, _vs_info(ctx2, &info));
	EXPECT_FALSE(info.features & VIOMMU_SHADOW_FEATURE_DIRTY);
	ASSERT_EQ(0, _vs_map(ctx2, 0, PAGE_4K, self->buf, 1));
	r = vs_range(0, ~0ULL, 0, rec, 4);
	vs_range_dirty(&r, bits, sizeof(bits));
	EXPECT_EQ(EOPNOTSUPP, _vs_unmap(ctx2, &r));
	EXPECT_EQ(1, nr_mappings(ctx2));
	close(ctx2);

	/* At most one word of bits per mapping: 64 pages, not 65. */
	ASSERT_EQ(0, mock_set_caps(mock2, PAGE_4K, 8));
	ctx2 = vs_open();
	ASSERT_EQ(0, _vs_attach(ctx2, VSHADOW_MOCK_BACKEND, mock2));
	ASSERT_EQ(0, _vs_info(ctx2, &info));
	EXPECT_TRUE(info.features & VIOMMU_SHADOW_FEATURE_DIRTY);
	ASSERT_EQ(0, _vs_map(ctx2, SZ_1G, 64 * PAGE_4K, self->buf, 2));
	ASSERT_EQ(0, _vs_map(ctx2, SZ_2M * 1024 * 2, 65 * PAGE_4K, self->buf,
			     3));
	r = vs_range(SZ_1G, ~0ULL, 0, rec, 4);
	vs_range_dirty(&r, bits, sizeof(bits));
	EXPECT_EQ(E2BIG, _vs_unmap(ctx2, &r));
	EXPECT_EQ(1, r.out_nr_records);
	EXPECT_EQ(2, rec[0].cookie);
	EXPECT_EQ(1, nr_mappings(ctx2));
	close(ctx2);
	close(mock2);
}

/*
 * The layout of the run tests: mappings of these sizes (in pages), back to
 * back from @base, or each followed by a one-page gap.
 */
static const uint64_t run_pages[] = { 1, 3, 1, 64, 65, 2 };
#define RUN_N	6

static uint64_t run_layout(int ctx, int mock, uint64_t base, bool gaps,
			   void *buf)
{
	uint64_t iova = base, pat[2], p;
	int m;

	for (m = 0; m < RUN_N; m++) {
		if (_vs_map(ctx, iova, run_pages[m] * PAGE_4K, buf, m))
			return 0;
		if (mock >= 0) {
			memset(pat, 0, sizeof(pat));
			for (p = 0; p < run_pages[m]; p++)
				if (pattern_bit(m, p))
					pat[p / 64] |= 1ULL << (p % 64);
			if (mock_set_dirty(mock, iova, run_pages[m] * PAGE_4K,
					   pat))
				return 0;
		}
		iova += (run_pages[m] + gaps) * PAGE_4K;
	}
	return iova - base;
}

/* Each record's bits are its mapping's pattern (or all set, for type1). */
static bool run_bits_ok(const struct viommu_shadow_unmap_record *rec,
			uint32_t n, const uint64_t *bitmap, bool mock)
{
	uint64_t p;
	uint32_t i;

	for (i = 0; i < n; i++)
		for (p = 0; p < rec[i].bitmap_bits; p++)
			if (test_bit64(bitmap, rec[i].bitmap_offset + p) !=
			    (mock ? pattern_bit(rec[i].cookie, p) : true))
				return false;
	return true;
}

/*
 * Mappings back to back are unmapped as one run, in one backend call; the
 * same mappings with gaps between them, one call each.  Both give the same
 * records and, in either bitmap layout, the same bits in the same places
 * (on the mock, a pattern per mapping; type1 reports every page dirty).
 */
TEST_F(range, runs_equal_one_by_one)
{
	const bool mock = variant->backend == VSHADOW_MOCK_BACKEND;
	struct viommu_shadow_unmap_record rec[2][RUN_N];
	struct viommu_shadow_unmap_range r;
	uint64_t bits[2][16], span[2], calls = 0;
	int dense, g, i;

	if (!has_dirty(variant->backend))
		SKIP(return, NO_DIRTY);
	ASSERT_EQ(0, start_dirty(self->be, variant->backend));
	for (dense = 0; dense < 2; dense++) {
		memset(bits, 0xa5, sizeof(bits));
		for (g = 0; g < 2; g++) {
			span[g] = run_layout(self->ctx, mock ? self->be : -1,
					     (g + 1) * SZ_1G, g, self->buf);
			ASSERT_NE(0, span[g]);
			if (mock)
				calls = mock_calls(self->be);
			r = vs_range((g + 1) * SZ_1G,
				     (g + 1) * SZ_1G + span[g] - 1,
				     dense ? VIOMMU_SHADOW_UNMAP_DENSE : 0,
				     rec[g], RUN_N);
			vs_range_dirty(&r, bits[g], sizeof(bits[g]));
			ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
			ASSERT_EQ(RUN_N, r.out_nr_records);
			if (mock) {
				EXPECT_EQ(g ? RUN_N : 1,
					  mock_calls(self->be) - calls);
			}
			EXPECT_TRUE(run_bits_ok(rec[g], RUN_N, bits[g], mock));
		}
		for (i = 0; i < RUN_N; i++) {
			EXPECT_EQ(rec[0][i].length, rec[1][i].length);
			EXPECT_EQ(rec[0][i].cookie, rec[1][i].cookie);
			EXPECT_EQ(rec[0][i].flags, rec[1][i].flags);
			EXPECT_EQ(rec[0][i].bitmap_offset,
				  rec[1][i].bitmap_offset);
			EXPECT_EQ(rec[0][i].bitmap_bits, rec[1][i].bitmap_bits);
		}
		/* Every bit, padding and untouched words included. */
		EXPECT_EQ(0, memcmp(bits[0], bits[1], sizeof(bits[0])));
		EXPECT_EQ(dense ? 1 + 3 + 1 + 64 + 65 : 64 * 6,
			  rec[0][RUN_N - 1].bitmap_offset);
	}
	EXPECT_EQ(0, nr_mappings(self->ctx));
}

/*
 * A run unmap that fails after removing the first p mappings of the run
 * (as type1's can: it returns no length then), at every p: the module
 * finds out which are gone, unmaps the rest one by one, and delivers every
 * mapping's own bits.  When the probe of the first mapping left fails too,
 * the module cannot tell whether the run took that one (an error says
 * nothing about where the backend stopped): it unmaps it without a
 * bitmap, reports it DIRTY_LOST, and the call fails after it with the
 * probe's error; the rest unmaps normally later.
 */
TEST_F(mock, run_failure_at_every_position)
{
	struct viommu_shadow_unmap_record rec[RUN_N];
	struct viommu_shadow_unmap_range r;
	struct vshadow_mock_fail_nth f = {
		.size = sizeof(f), .nth = 1, .error = EBUSY,
	};
	uint64_t bits[16];
	uint32_t p, rest;

	ASSERT_EQ(0, mock_tracking(self->mock, true));
	for (f.repeat = 0; f.repeat < 2; f.repeat++) {
		for (p = 0; p < RUN_N; p++) {
			ASSERT_NE(0, run_layout(self->ctx, self->mock, SZ_1G,
						false, (void *)SZ_1G));
			f.after = p;
			ASSERT_EQ(0, vs_ioctl(self->mock, VSHADOW_MOCK_FAIL_NTH,
					      &f));
			memset(bits, 0, sizeof(bits));
			r = vs_range(0, ~0ULL, VIOMMU_SHADOW_UNMAP_DENSE, rec,
				     RUN_N);
			vs_range_dirty(&r, bits, sizeof(bits));
			if (!f.repeat) {
				ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
				ASSERT_EQ(RUN_N, r.out_nr_records);
				EXPECT_TRUE(run_bits_ok(rec, RUN_N, bits, true));
				EXPECT_EQ(0, nr_mappings(self->ctx));
				EXPECT_EQ(0, mock_mappings(self->mock, NULL, 0));
				continue;
			}
			EXPECT_EQ(EBUSY, _vs_unmap(self->ctx, &r));
			ASSERT_EQ(p + 1, r.out_nr_records);
			EXPECT_TRUE(run_bits_ok(rec, p, bits, true));
			EXPECT_TRUE(rec[p].flags &
				    VIOMMU_SHADOW_RECORD_DIRTY_LOST);
			rest = RUN_N - p - 1;
			EXPECT_EQ(rest, nr_mappings(self->ctx));
			EXPECT_EQ(rest, mock_mappings(self->mock, NULL, 0));
			if (!rest)
				continue;
			memset(bits, 0, sizeof(bits));
			r = vs_range(r.out_resume, ~0ULL,
				     VIOMMU_SHADOW_UNMAP_DENSE, rec, RUN_N);
			vs_range_dirty(&r, bits, sizeof(bits));
			ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
			ASSERT_EQ(rest, r.out_nr_records);
			EXPECT_EQ(p + 1, rec[0].cookie);
			EXPECT_TRUE(run_bits_ok(rec, rest, bits, true));
			EXPECT_EQ(0, mock_mappings(self->mock, NULL, 0));
		}
	}
}

/*
 * A run unmap removes its first @after mappings and fails; the probe of
 * the first mapping then fails too, before it can tell whether that one
 * is still there (the mock's VSHADOW_MOCK_FAIL_READ_FIRST plays iommufd's
 * NO_CLEAR dirty read of a HWPT destroyed meanwhile, which comes before
 * its unmap: iommufd itself gets there only after a WARN).  The mappings
 * the run took are reported with their bits; the first one still there
 * is unmapped without a bitmap and reported DIRTY_LOST; the call fails
 * with the probe's error, and the tree, the mock and the records agree,
 * with the context usable.  When that unmap fails as well, nothing can
 * be known: the context breaks (EIO), with what was resolved reported.
 */
TEST_F(mock, run_probe_fails_after_partial_removal)
{
	struct viommu_shadow_unmap_record rec[RUN_N];
	struct viommu_shadow_unmap_range r;
	struct vshadow_mock_fail_nth f = {
		.size = sizeof(f), .nth = 1, .error = EBUSY, .repeat = 1,
		.flags = VSHADOW_MOCK_FAIL_READ_FIRST,
	};
	uint64_t bits[16];
	uint32_t p, i;

	ASSERT_EQ(0, mock_tracking(self->mock, true));
	for (p = 0; p < RUN_N; p++) {
		ASSERT_NE(0, run_layout(self->ctx, self->mock, SZ_1G, false,
					(void *)SZ_1G));
		f.after = p;
		ASSERT_EQ(0, vs_ioctl(self->mock, VSHADOW_MOCK_FAIL_NTH, &f));
		memset(bits, 0, sizeof(bits));
		r = vs_range(0, ~0ULL, VIOMMU_SHADOW_UNMAP_DENSE, rec, RUN_N);
		vs_range_dirty(&r, bits, sizeof(bits));
		EXPECT_EQ(EBUSY, _vs_unmap(self->ctx, &r));
		ASSERT_EQ(p + 1, r.out_nr_records);
		EXPECT_EQ(RUN_N - p - 1, nr_mappings(self->ctx));
		EXPECT_EQ(RUN_N - p - 1, mock_mappings(self->mock, NULL, 0));
		EXPECT_TRUE(run_bits_ok(rec, p, bits, true));
		for (i = 0; i < p; i++)
			EXPECT_EQ(VIOMMU_SHADOW_RECORD_DIRTY, rec[i].flags);
		EXPECT_EQ(VIOMMU_SHADOW_RECORD_DIRTY |
			  VIOMMU_SHADOW_RECORD_DIRTY_LOST, rec[p].flags);
		EXPECT_FALSE(vs_broken(self->ctx));
		/* The rest is whole, and goes as usual. */
		r = vs_range(r.out_resume, ~0ULL, VIOMMU_SHADOW_UNMAP_DENSE,
			     rec, RUN_N);
		vs_range_dirty(&r, bits, sizeof(bits));
		ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
		EXPECT_EQ(RUN_N - p - 1, r.out_nr_records);
		EXPECT_TRUE(run_bits_ok(rec, r.out_nr_records, bits, true));
		EXPECT_EQ(0, mock_mappings(self->mock, NULL, 0));
	}

	/* The unmap without a bitmap fails too: broken, nothing lost. */
	f.after = 2;
	f.repeat = 2;
	ASSERT_NE(0, run_layout(self->ctx, self->mock, SZ_1G, false,
				(void *)SZ_1G));
	ASSERT_EQ(0, vs_ioctl(self->mock, VSHADOW_MOCK_FAIL_NTH, &f));
	r = vs_range(0, ~0ULL, VIOMMU_SHADOW_UNMAP_DENSE, rec, RUN_N);
	vs_range_dirty(&r, bits, sizeof(bits));
	EXPECT_EQ(EIO, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(2, r.out_nr_records);
	EXPECT_TRUE(run_bits_ok(rec, 2, bits, true));
	EXPECT_EQ(VIOMMU_SHADOW_RECORD_DIRTY, rec[1].flags);
	EXPECT_EQ(RUN_N - 2, nr_mappings(self->ctx));
	EXPECT_EQ(RUN_N - 2, mock_mappings(self->mock, NULL, 0));
	EXPECT_TRUE(vs_broken(self->ctx));
}

/*
 * SYNC_DIRTY reports each mapping's bits, in runs, without unmapping:
 * the records equal those UNMAP_RANGE gives afterwards, the bits are the
 * backend's own (the mock's patterns; all set for type1), and a sync
 * clears them in the backend (on the mock, the next sync and the unmap
 * find none).
 */
TEST_F(range, sync_dirty_then_unmap)
{
	const bool mock = variant->backend == VSHADOW_MOCK_BACKEND;
	struct viommu_shadow_unmap_record rec[2][RUN_N];
	struct viommu_shadow_unmap_range r;
	uint64_t bits[2][16], span, calls = 0;
	uint32_t i;

	if (!has_dirty(variant->backend))
		SKIP(return, NO_DIRTY);
	ASSERT_EQ(0, start_dirty(self->be, variant->backend));
	span = run_layout(self->ctx, mock ? self->be : -1, SZ_1G, false,
			  self->buf);
	ASSERT_NE(0, span);

	/* Without GET_DIRTY there is nothing to sync. */
	r = vs_range(0, ~0ULL, 0, rec[0], RUN_N);
	EXPECT_EQ(EINVAL, _vs_sync(self->ctx, &r));
	/* The bisect policy is UNMAP_RANGE's. */
	r = vs_range(SZ_1G + 2 * PAGE_4K, ~0ULL, VIOMMU_SHADOW_UNMAP_DENSE,
		     rec[0], RUN_N);
	vs_range_dirty(&r, bits[0], sizeof(bits[0]));
	EXPECT_EQ(EINVAL, _vs_sync(self->ctx, &r));

	memset(bits, 0xa5, sizeof(bits));
	if (mock)
		calls = mock_calls(self->be);
	r = vs_range(0, ~0ULL, VIOMMU_SHADOW_UNMAP_DENSE, rec[0], RUN_N);
	vs_range_dirty(&r, bits[0], sizeof(bits[0]));
	ASSERT_EQ(0, _vs_sync(self->ctx, &r));
	ASSERT_EQ(RUN_N, r.out_nr_records);
	EXPECT_EQ(span, r.out_bytes);
	EXPECT_EQ(RUN_N, nr_mappings(self->ctx));
	EXPECT_TRUE(run_bits_ok(rec[0], RUN_N, bits[0], mock));
	if (mock) {
		EXPECT_EQ(1, mock_calls(self->be) - calls);
		/* Read once, the bits are gone. */
		r = vs_range(0, ~0ULL, VIOMMU_SHADOW_UNMAP_DENSE, rec[1],
			     RUN_N);
		vs_range_dirty(&r, bits[1], sizeof(bits[1]));
		ASSERT_EQ(0, _vs_sync(self->ctx, &r));
		for (i = 0; i < 3; i++)
			EXPECT_EQ(0, bits[1][i]);
	}

	r = vs_range(0, ~0ULL, VIOMMU_SHADOW_UNMAP_DENSE, rec[1], RUN_N);
	vs_range_dirty(&r, bits[1], sizeof(bits[1]));
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(RUN_N, r.out_nr_records);
	EXPECT_EQ(0, memcmp(rec[0], rec[1], sizeof(rec[0])));
	EXPECT_EQ(0, nr_mappings(self->ctx));
}

/*
 * A run's sync that fails part way may have read and cleared some of its
 * bits: every record of that run says DIRTY_LOST, and the call fails.
 * With EBUSY the mappings stay and a later sync works; the backend's own
 * EIO (its state unknown) also breaks the context.
 */
TEST_F(mock, sync_failure_reports_lost_bits)
{
	static const int errs[] = { EBUSY, EIO };
	struct viommu_shadow_unmap_record rec[RUN_N];
	struct viommu_shadow_unmap_range r;
	struct vshadow_mock_fail_nth f = {
		.size = sizeof(f), .nth = 1, .after = 2,
	};
	uint64_t bits[16];
	int e, i;

	ASSERT_EQ(0, mock_tracking(self->mock, true));
	ASSERT_NE(0, run_layout(self->ctx, self->mock, SZ_1G, false,
				(void *)SZ_1G));
	for (e = 0; e < 2; e++) {
		f.error = errs[e];
		ASSERT_EQ(0, vs_ioctl(self->mock, VSHADOW_MOCK_FAIL_NTH, &f));
		r = vs_range(0, ~0ULL, VIOMMU_SHADOW_UNMAP_DENSE, rec, RUN_N);
		vs_range_dirty(&r, bits, sizeof(bits));
		EXPECT_EQ(errs[e], _vs_sync(self->ctx, &r));
		ASSERT_EQ(RUN_N, r.out_nr_records);
		for (i = 0; i < RUN_N; i++)
			EXPECT_EQ(VIOMMU_SHADOW_RECORD_DIRTY |
				  VIOMMU_SHADOW_RECORD_DIRTY_LOST, rec[i].flags);
		EXPECT_EQ(RUN_N, nr_mappings(self->ctx));
		EXPECT_EQ(RUN_N, mock_mappings(self->mock, NULL, 0));
		EXPECT_EQ(errs[e] == EIO, vs_broken(self->ctx));
		if (errs[e] == EIO)
			break;
		r = vs_range(0, ~0ULL, VIOMMU_SHADOW_UNMAP_DENSE, rec, RUN_N);
		vs_range_dirty(&r, bits, sizeof(bits));
		ASSERT_EQ(0, _vs_sync(self->ctx, &r));
		EXPECT_EQ(VIOMMU_SHADOW_RECORD_DIRTY, rec[0].flags);
	}
}

/*
 * A sync that fails with EINVAL, an errno that usually comes before
 * anything is read, after it read (and so cleared) two mappings' bits:
 * the backend says so beside the errno, so the run's records are all
 * DIRTY_LOST, the error is the backend's own, and the context stays
 * usable (a sync changes no mapping).  A failure before anything was
 * read loses nothing: no record says DIRTY_LOST.  (iommufd gets here when
 * a later HWPT's read fails after an earlier one's cleared its bits.)
 */
TEST_F(mock, sync_says_what_it_cleared)
{
	struct viommu_shadow_unmap_record rec[RUN_N];
	struct viommu_shadow_unmap_range r;
	struct vshadow_mock_fail_nth f = {
		.size = sizeof(f), .nth = 1, .error = EINVAL, .after = 2,
	};
	uint64_t bits[16];
	int i;

	ASSERT_EQ(0, mock_tracking(self->mock, true));
	ASSERT_NE(0, run_layout(self->ctx, self->mock, SZ_1G, false,
				(void *)SZ_1G));
	ASSERT_EQ(0, vs_ioctl(self->mock, VSHADOW_MOCK_FAIL_NTH, &f));
	r = vs_range(0, ~0ULL, VIOMMU_SHADOW_UNMAP_DENSE, rec, RUN_N);
	vs_range_dirty(&r, bits, sizeof(bits));
	EXPECT_EQ(EINVAL, _vs_sync(self->ctx, &r));
	ASSERT_EQ(RUN_N, r.out_nr_records);
	for (i = 0; i < RUN_N; i++)
		EXPECT_EQ(VIOMMU_SHADOW_RECORD_DIRTY |
			  VIOMMU_SHADOW_RECORD_DIRTY_LOST, rec[i].flags);
	EXPECT_FALSE(vs_broken(self->ctx));

	f.error = EBUSY;
	f.after = 0;
	ASSERT_EQ(0, vs_ioctl(self->mock, VSHADOW_MOCK_FAIL_NTH, &f));
	r = vs_range(0, ~0ULL, VIOMMU_SHADOW_UNMAP_DENSE, rec, RUN_N);
	vs_range_dirty(&r, bits, sizeof(bits));
	EXPECT_EQ(EBUSY, _vs_sync(self->ctx, &r));
	EXPECT_EQ(0, r.out_nr_records);
	EXPECT_FALSE(vs_broken(self->ctx));
	ASSERT_EQ(0, _vs_sync(self->ctx, &r));
	EXPECT_EQ(RUN_N, r.out_nr_records);
	EXPECT_EQ(RUN_N, mock_mappings(self->mock, NULL, 0));
}

static int _vs_map_batch(int ctx, struct viommu_shadow_map_entry *e,
			 uint32_t n, uint32_t entry_size, uint32_t *done)
{
	struct viommu_shadow_map_batch b = {
		.size = sizeof(b), .entries = (uintptr_t)e, .nr_entries = n,
		.entry_size = entry_size,
	};
	int ret = vs_ioctl(ctx, VIOMMU_SHADOW_MAP_BATCH, &b);

	*done = b.out_done;
	return ret;
}

/*
 * MAP_BATCH maps its entries in order, each as MAP would; a failing entry
 * k fails the call with its error, with exactly k entries done and
 * mapped, nothing of it or after it; larger entries with a zero tail work.
 */
TEST_F(range, map_batch)
{
	struct viommu_shadow_map_entry e[8];
	struct viommu_shadow_unmap_range r;
	struct { struct viommu_shadow_map_entry e; uint64_t tail; } big[2];
	uint32_t done = 99;
	int i;

	for (i = 0; i < 8; i++)
		e[i] = (struct viommu_shadow_map_entry) {
			.flags = VIOMMU_SHADOW_MAP_READ |
				 VIOMMU_SHADOW_MAP_WRITE,
			.iova = SZ_1G + i * SZ_2M,
			.length = PAGE_4K,
			.vaddr = (uintptr_t)(self->buf + i * PAGE_4K),
			.cookie = 100 + i,
		};
	EXPECT_EQ(EINVAL, _vs_map_batch(self->ctx, e, 0, sizeof(e[0]), &done));
	EXPECT_EQ(EINVAL, _vs_map_batch(self->ctx, e, 8, sizeof(e[0]) - 8,
					&done));

	/* Entry 5 overlaps entry 2. */
	e[5].iova = e[2].iova;
	EXPECT_EQ(EEXIST, _vs_map_batch(self->ctx, e, 8, sizeof(e[0]), &done));
	EXPECT_EQ(5, done);
	EXPECT_EQ(5, nr_mappings(self->ctx));
	if (variant->backend == VSHADOW_MOCK_BACKEND)
		EXPECT_EQ(5, mock_mappings(self->be, NULL, 0));

	/* The rest, entry 6 with a non-zero reserved field. */
	e[5].iova = SZ_1G + 5 * SZ_2M;
	e[6].__reserved = 1;
	EXPECT_EQ(EINVAL, _vs_map_batch(self->ctx, e + 5, 3, sizeof(e[0]),
					&done));
	EXPECT_EQ(1, done);
	e[6].__reserved = 0;
	EXPECT_EQ(0, _vs_map_batch(self->ctx, e + 6, 2, sizeof(e[0]), &done));
	EXPECT_EQ(2, done);
	EXPECT_EQ(8, nr_mappings(self->ctx));

	/* A newer, longer entry: a zero tail is fine, anything else not. */
	memset(big, 0, sizeof(big));
	big[0].e = e[0];
	big[0].e.iova = 3 * SZ_1G;
	big[1].e = big[0].e;
	big[1].e.iova = 3 * SZ_1G + SZ_2M;
	big[1].tail = 1;
	EXPECT_EQ(E2BIG, _vs_map_batch(self->ctx, &big[0].e, 2, sizeof(big[0]),
				       &done));
	EXPECT_EQ(1, done);
	EXPECT_EQ(9, nr_mappings(self->ctx));

	r = vs_range(0, ~0ULL, 0, self->rec, NR_REC);
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(9, r.out_nr_records);
	for (i = 0; i < 8; i++)
		EXPECT_EQ(100 + i, self->rec[i].cookie);
}

static int _vs_unmap_batch(int ctx, struct viommu_shadow_unmap_batch *b)
{
	return vs_ioctl(ctx, VIOMMU_SHADOW_UNMAP_BATCH, b);
}

/*
 * UNMAP_BATCH: several ranges in one call, records and bits (dense) one
 * after the other as if each range were its own UNMAP_RANGE; a range that
 * does not fit the buffers is not started, one that fails stops the call
 * with its index, and calling again from there finishes the job.
 */
TEST_F(range, unmap_batch)
{
	const bool mock = variant->backend == VSHADOW_MOCK_BACKEND;
	struct viommu_shadow_range ranges[3] = {
		{ SZ_1G, 2 * SZ_1G - 1 },
		{ 2 * SZ_1G, 3 * SZ_1G - 1 },
		{ 3 * SZ_1G, ~0ULL },
	};
	struct viommu_shadow_unmap_batch b = {
		.size = sizeof(b),
		.flags = VIOMMU_SHADOW_UNMAP_GET_DIRTY |
			 VIOMMU_SHADOW_UNMAP_DENSE,
		.ranges = (uintptr_t)ranges,
		.nr_ranges = 3,
		.range_size = sizeof(ranges[0]),
		.records = (uintptr_t)self->rec,
		.record_size = sizeof(*self->rec),
		.bitmap = (uintptr_t)self->bitmap,
		.bitmap_bytes = 64,
		.bitmap_pgsize = PAGE_4K,
	};
	int g;

	if (!has_dirty(variant->backend))
		SKIP(return, NO_DIRTY);
	ASSERT_EQ(0, start_dirty(self->be, variant->backend));
	for (g = 1; g <= 3; g++)
		ASSERT_NE(0, run_layout(self->ctx, mock ? self->be : -1,
					g * SZ_1G, g == 2, self->buf));

	/* Room for one range's records only: it stops before the second. */
	b.nr_records = RUN_N + 2;
	ASSERT_EQ(0, _vs_unmap_batch(self->ctx, &b));
	EXPECT_EQ(1, b.out_done);
	ASSERT_EQ(RUN_N, b.out_nr_records);
	EXPECT_EQ(2 * RUN_N, nr_mappings(self->ctx));
	EXPECT_TRUE(run_bits_ok(self->rec, RUN_N, self->bitmap, mock));

	/* The third range starts inside a mapping: EINVAL. */
	ranges[2].start = 3 * SZ_1G + 2 * PAGE_4K;
	b.ranges = (uintptr_t)(ranges + 1);
	b.nr_ranges = 2;
	b.nr_records = NR_REC;
	memset(self->bitmap, 0, 64);
	EXPECT_EQ(EINVAL, _vs_unmap_batch(self->ctx, &b));
	EXPECT_EQ(1, b.out_done);
	ASSERT_EQ(RUN_N, b.out_nr_records);
	EXPECT_EQ(2 * SZ_1G, self->rec[0].iova);
	EXPECT_TRUE(run_bits_ok(self->rec, RUN_N, self->bitmap, mock));
	EXPECT_EQ(RUN_N, nr_mappings(self->ctx));

	/* From there, with WHOLE: the rest, the cut mapping whole. */
	b.flags |= VIOMMU_SHADOW_UNMAP_WHOLE;
	b.ranges = (uintptr_t)(ranges + 2);
	b.nr_ranges = 1;
	memset(self->bitmap, 0, 64);
	ASSERT_EQ(0, _vs_unmap_batch(self->ctx, &b));
	EXPECT_EQ(1, b.out_done);
	ASSERT_EQ(RUN_N - 1, b.out_nr_records);
	EXPECT_EQ(3 * SZ_1G + PAGE_4K, self->rec[0].iova);
	EXPECT_EQ(VIOMMU_SHADOW_RECORD_DIRTY | VIOMMU_SHADOW_RECORD_CUT,
		  self->rec[0].flags);
	EXPECT_TRUE(run_bits_ok(self->rec, RUN_N - 1, self->bitmap, mock));
	EXPECT_EQ(1, nr_mappings(self->ctx));

	/* Bad batches change nothing. */
	b.nr_ranges = 0;
	EXPECT_EQ(EINVAL, _vs_unmap_batch(self->ctx, &b));
	b.nr_ranges = VIOMMU_SHADOW_BATCH_MAX + 1;
	EXPECT_EQ(EINVAL, _vs_unmap_batch(self->ctx, &b));
	b.nr_ranges = 1;
	b.range_size = 8;
	EXPECT_EQ(EINVAL, _vs_unmap_batch(self->ctx, &b));
}

/*
 * A run's bitmap stays within what the backend returns in one call: with
 * a limit of one word, two back-to-back mappings of 64 pages go as two
 * runs, and both unmap and sync work (each mapping alone is allowed).
 */
TEST_F(mock, runs_within_backend_bitmap_limit)
{
	struct viommu_shadow_unmap_record rec[4];
	struct viommu_shadow_unmap_range r;
	uint64_t bits[4], calls;
	int mock2, ctx2;

	mock2 = open(VS_MOCK_DEV, O_RDWR);
	ASSERT_LE(0, mock2);
	ASSERT_EQ(0, mock_set_caps(mock2, PAGE_4K, 8));
	ASSERT_EQ(0, mock_tracking(mock2, true));
	ctx2 = vs_open();
	ASSERT_EQ(0, _vs_attach(ctx2, VSHADOW_MOCK_BACKEND, mock2));
	ASSERT_EQ(0, _vs_map(ctx2, SZ_1G, 64 * PAGE_4K, (void *)SZ_1G, 1));
	ASSERT_EQ(0, _vs_map(ctx2, SZ_1G + 64 * PAGE_4K, 64 * PAGE_4K,
			     (void *)SZ_1G, 2));
	calls = mock_calls(mock2);
	r = vs_range(0, ~0ULL, 0, rec, 4);
	vs_range_dirty(&r, bits, sizeof(bits));
	ASSERT_EQ(0, _vs_sync(ctx2, &r));
	EXPECT_EQ(2, r.out_nr_records);
	EXPECT_EQ(2, mock_calls(mock2) - calls);
	r = vs_range(0, ~0ULL, 0, rec, 4);
	vs_range_dirty(&r, bits, sizeof(bits));
	ASSERT_EQ(0, _vs_unmap(ctx2, &r));
	EXPECT_EQ(2, r.out_nr_records);
	EXPECT_EQ(0, mock_mappings(mock2, NULL, 0));
	close(ctx2);
	close(mock2);
}

/* ------------------------------------------------------------------ */
/* The iommufd backend (kernels with IOMMUFD: the debug lane)          */
/* ------------------------------------------------------------------ */

FIXTURE(iommufd) {
	int ctx;
	int fd;
	uint32_t ioas;
	int dev;		/* cdev: the edu device, bound to the IOAS */
	uint8_t *buf;
};

FIXTURE_VARIANT(iommufd) {
	bool cdev;
};

/* An IOAS with no device: the whole 64-bit space is usable. */
FIXTURE_VARIANT_ADD(iommufd, ioas) {
	.cdev = false,
};

/* An edu device bound through its VFIO cdev: the IOMMU's aperture. */
FIXTURE_VARIANT_ADD(iommufd, cdev) {
	.cdev = true,
};

FIXTURE_SETUP(iommufd)
{
	int ret;

	self->dev = -1;
	self->ctx = vs_open();
	ASSERT_LE(0, self->ctx);
	iommufd_open_ioas(_metadata, &self->fd, &self->ioas,
			  variant->cdev ? &self->dev : NULL);
	ret = _vs_attach_id(self->ctx, VIOMMU_SHADOW_BACKEND_IOMMUFD, self->fd,
			    self->ioas);
	if (ret == EOPNOTSUPP)
		SETUP_SKIP("viommu_shadow_iommufd not loaded");
	ASSERT_EQ(0, ret);
	self->buf = mmap(NULL, 64 * PAGE_4K, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
}

FIXTURE_TEARDOWN(iommufd)
{
	close(self->ctx);
	if (self->dev >= 0)
		close(self->dev);
	close(self->fd);
}

/* The IOAS's own map and unmap, as the VMM would call them itself. */
static int ioas_map(int fd, uint32_t ioas, uint64_t iova, uint64_t len,
		    void *va)
{
	struct iommu_ioas_map m = {
		.size = sizeof(m),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas, .user_va = (uintptr_t)va, .length = len,
		.iova = iova,
	};

	return vs_ioctl(fd, IOMMU_IOAS_MAP, &m);
}

static int ioas_unmap(int fd, uint32_t ioas, uint64_t iova, uint64_t len,
		      uint64_t *done)
{
	struct iommu_ioas_unmap u = {
		.size = sizeof(u), .ioas_id = ioas, .iova = iova, .length = len,
	};
	int ret = vs_ioctl(fd, IOMMU_IOAS_UNMAP, &u);

	*done = u.length;
	return ret;
}

/*
 * ATTACH names the IOAS (backend_id); the backend says what it is: its
 * page size, and no dirty bits when no HWPT is named.  A wrong IOAS, a
 * file that is not iommufd's, or an id given to type1 are refused.
 */
TEST_F(iommufd, attach)
{
	struct viommu_shadow_info info;
	int ctx2, null = open("/dev/null", O_RDWR);

	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	EXPECT_EQ(VIOMMU_SHADOW_BACKEND_IOMMUFD, info.backend);
	EXPECT_EQ(PAGE_4K, info.pgsize);
	EXPECT_FALSE(info.features & VIOMMU_SHADOW_FEATURE_DIRTY);

	ctx2 = vs_open();
	EXPECT_EQ(ENOENT, _vs_attach_id(ctx2, VIOMMU_SHADOW_BACKEND_IOMMUFD,
					self->fd, self->ioas + 100));
	EXPECT_EQ(EINVAL, _vs_attach_id(ctx2, VIOMMU_SHADOW_BACKEND_IOMMUFD,
					null, self->ioas));
	EXPECT_EQ(EINVAL, _vs_attach_id(ctx2, VIOMMU_SHADOW_BACKEND_VFIO_TYPE1,
					self->fd, 1));
	EXPECT_EQ(0, _vs_attach_id(ctx2, VIOMMU_SHADOW_BACKEND_IOMMUFD,
				   self->fd, self->ioas));
	close(ctx2);
	close(null);
}

/*
 * Runs and single mappings unmap through IOAS_UNMAP with exact records; a
 * mapping the VMM made itself in the same IOAS stays; GET_DIRTY is not
 * offered (EOPNOTSUPP) and changes nothing.
 */
TEST_F(iommufd, map_and_unmap_runs)
{
	struct viommu_shadow_unmap_record rec[16];
	struct viommu_shadow_unmap_range r;
	uint64_t bits[4], done = 0;
	int i;

	for (i = 0; i < 8; i++)
		ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G + i * PAGE_4K, PAGE_4K,
				     self->buf + i * PAGE_4K, i));
	for (i = 8; i < 12; i++)
		ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G + i * SZ_2M, PAGE_4K,
				     self->buf + i * PAGE_4K, i));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas, 3 * SZ_1G, PAGE_4K,
			      self->buf));
	EXPECT_EQ(EEXIST, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 99));

	r = vs_range(0, ~0ULL, 0, rec, 16);
	vs_range_dirty(&r, bits, sizeof(bits));
	EXPECT_EQ(EOPNOTSUPP, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(12, nr_mappings(self->ctx));

	r = vs_range(0, ~0ULL, 0, rec, 16);
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(12, r.out_nr_records);
	for (i = 0; i < 12; i++)
		EXPECT_EQ(i, rec[i].cookie);
	EXPECT_EQ(0, nr_mappings(self->ctx));
	EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas, 3 * SZ_1G, PAGE_4K,
				&done));
	EXPECT_EQ(PAGE_4K, done);
}

/* The last usable IOVA of the IOAS (the end of its last allowed range). */
static int ioas_last(int fd, uint32_t ioas, uint64_t *last)
{
	struct iommu_iova_range r[16];
	struct iommu_ioas_iova_ranges q = {
		.size = sizeof(q), .ioas_id = ioas, .num_iovas = 16,
		.allowed_iovas = (uintptr_t)r,
	};
	int ret = vs_ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &q);

	if (!ret)
		*last = r[q.num_iovas - 1].last;
	return ret;
}

/*
 * The top of the space, which is the end of the IOAS's last usable range.
 * On an IOAS with no device that is 2^64 - 1: iommufd, unlike type1, maps
 * a page ending there, the context accepts it, and the walk over the
 * whole space ends there.  With a device behind an IOMMU whose aperture
 * ends lower (VT-d here: 48 bits) the top page is refused (EINVAL: the
 * IOAS reserves what the IOMMU cannot translate) and nothing changes;
 * AMD-Vi here translates up to 2^64 - 1.  Either way the last two pages
 * map, and go with a request for the whole space.
 */
TEST_F(iommufd, top_of_iova_space)
{
	struct viommu_shadow_unmap_record rec[4];
	struct viommu_shadow_unmap_range r;
	uint64_t top;

	ASSERT_EQ(0, ioas_last(self->fd, self->ioas, &top));
	if (!variant->cdev)
		ASSERT_EQ(~0ULL, top);
	TH_LOG("last usable IOVA 0x%llx", (unsigned long long)top);
	if (top != ~0ULL) {
		EXPECT_EQ(EINVAL, _vs_map(self->ctx, 0ULL - PAGE_4K, PAGE_4K,
					  self->buf, 9));
		EXPECT_EQ(0, nr_mappings(self->ctx));
	}
	ASSERT_EQ(0, _vs_map(self->ctx, top + 1 - PAGE_4K, PAGE_4K, self->buf,
			     1));
	ASSERT_EQ(0, _vs_map(self->ctx, top + 1 - 2 * PAGE_4K, PAGE_4K,
			     self->buf, 2));
	r = vs_range(0, ~0ULL, 0, rec, 4);
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(2, r.out_nr_records);
	EXPECT_EQ(2, rec[0].cookie);
	EXPECT_EQ(top, rec[1].iova + PAGE_4K - 1);
	EXPECT_FALSE(r.out_flags & VIOMMU_SHADOW_UNMAP_OUT_MORE);
	if (top == ~0ULL)
		EXPECT_EQ(~0ULL, r.out_resume);
	EXPECT_EQ(0, nr_mappings(self->ctx));
}

/*
 * No context covers all 2^64 bytes, so no byte count (a run's length,
 * out_bytes, mapped_bytes) reaches 2^64, which a u64 reads as 0.  On an
 * IOAS with no device, whose range reaches 2^64 - 1: [0, 2^63) maps,
 * [2^63, 2^64) is refused with EOVERFLOW and reaches no backend; one page
 * less maps, and the whole space unmaps in one call with out_bytes
 * 2^64 - 4096 and nothing of the IOAS left.
 */
TEST_F(iommufd, never_all_of_the_space)
{
	const uint64_t half = 1ULL << 63;
	struct viommu_shadow_unmap_record rec[4];
	struct viommu_shadow_unmap_range r;
	struct viommu_shadow_info info;
	uint64_t done = 0;

	if (variant->cdev)
		SKIP(return, "needs all of the 64-bit space: an IOAS with no device");
	ASSERT_EQ(0, _vs_map(self->ctx, 0, half, self->buf, 1));
	EXPECT_EQ(EOVERFLOW, _vs_map(self->ctx, half, half, self->buf, 2));
	EXPECT_EQ(1, nr_mappings(self->ctx));
	EXPECT_EQ(ENOENT, ioas_unmap(self->fd, self->ioas, half, PAGE_4K,
				     &done));
	ASSERT_EQ(0, _vs_map(self->ctx, half, half - PAGE_4K, self->buf, 2));
	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	EXPECT_EQ(~0ULL - PAGE_4K + 1, info.mapped_bytes);
	r = vs_range(0, ~0ULL, 0, rec, 4);
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(2, r.out_nr_records);
	EXPECT_EQ(~0ULL - PAGE_4K + 1, r.out_bytes);
	EXPECT_EQ(0, nr_mappings(self->ctx));
	EXPECT_FALSE(vs_broken(self->ctx));
	EXPECT_EQ(ENOENT, ioas_unmap(self->fd, self->ioas, 0, PAGE_4K, &done));
}

/*
 * The seed scenario without dirty bits: thousands of 4K mappings over
 * more than 16 TB, unmapped over [0, 2^64 - 1] in bounded, resumed calls.
 */
TEST_F_TIMEOUT(iommufd, whole_space_in_bounded_calls, 300)
{
	const int n = 3000;
	struct viommu_shadow_unmap_record rec[256];
	struct viommu_shadow_unmap_range r;
	uint64_t start = 0, total = 0;
	int i, calls = 0;

	for (i = 0; i < n; i++)
		ASSERT_EQ(0, _vs_map(self->ctx, SZ_1T + i * (6ULL << 30),
				     PAGE_4K, self->buf + (i % 64) * PAGE_4K, i));
	do {
		r = vs_range(start, ~0ULL, 0, rec, 256);
		ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
		for (i = 0; i < (int)r.out_nr_records; i++)
			ASSERT_EQ(total + i, rec[i].cookie);
		total += r.out_nr_records;
		start = r.out_resume;
		calls++;
	} while (r.out_flags & VIOMMU_SHADOW_UNMAP_OUT_MORE);
	EXPECT_EQ(n, total);
	EXPECT_EQ((n + 255) / 256, calls);
	EXPECT_EQ(0, nr_mappings(self->ctx));
}

/*
 * A mapping of the context removed directly from the IOAS: the walk finds
 * it gone (iommufd's ENOENT), the context breaks, and a mapping the VMM
 * made itself in its place is never touched.
 */
TEST_F(iommufd, changed_behind_the_context)
{
	struct viommu_shadow_unmap_record rec[4];
	struct viommu_shadow_unmap_range r;
	uint64_t done = 0;

	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 1));
	ASSERT_EQ(0, _vs_map(self->ctx, 2 * SZ_1G, PAGE_4K, self->buf, 2));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas, SZ_1G, PAGE_4K, &done));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas, SZ_1G + SZ_2M, PAGE_4K,
			      self->buf));
	r = vs_range(0, ~0ULL, 0, rec, 4);
	EXPECT_EQ(EIO, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(0, r.out_nr_records);
	EXPECT_TRUE(vs_broken(self->ctx));
	EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas, SZ_1G + SZ_2M, PAGE_4K,
				&done));
	EXPECT_EQ(PAGE_4K, done);
}

/*
 * On a real host the tests take their devices from VSHADOW_DEVICES (PCI
 * addresses bound to vfio-pci) instead of looking for QEMU's edu: a
 * named device is used, in the order given; one not bound to vfio-pci
 * is not.
 */
TEST(devices_from_the_environment)
{
	char bdf[2][32], got[32], both[72];
	int group[2], g;

	if (edu_find(0, bdf[0], sizeof(bdf[0]), &group[0]) ||
	    edu_find(1, bdf[1], sizeof(bdf[1]), &group[1]))
		SKIP(return, "needs two edu devices bound to vfio-pci");
	ASSERT_EQ(0, setenv("VSHADOW_DEVICES", bdf[1], 1));
	ASSERT_EQ(0, edu_find(0, got, sizeof(got), &g));
	EXPECT_STREQ(bdf[1], got);
	EXPECT_EQ(group[1], g);
	EXPECT_NE(0, edu_find(1, got, sizeof(got), &g));
	ASSERT_EQ(0, setenv("VSHADOW_DEVICES", "0000:ff:1f.7, junk", 1));
	EXPECT_NE(0, edu_find(0, got, sizeof(got), &g));
	snprintf(both, sizeof(both), "%s,%s", bdf[1], bdf[0]);
	ASSERT_EQ(0, setenv("VSHADOW_DEVICES", both, 1));
	ASSERT_EQ(0, edu_find(1, got, sizeof(got), &g));
	EXPECT_STREQ(bdf[0], got);
	ASSERT_EQ(0, unsetenv("VSHADOW_DEVICES"));
	ASSERT_EQ(0, edu_find(0, got, sizeof(got), &g));
	EXPECT_STREQ(bdf[0], got);
}

VS_SKIP_WITHOUT_MODULE();

TEST_HARNESS_MAIN
