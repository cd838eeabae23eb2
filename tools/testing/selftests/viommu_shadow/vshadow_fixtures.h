/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fixture helpers shared by the selftest binaries that run against every
 * backend: opening a context, and a backend of each kind to attach it to.
 * Include after kselftest_harness.h, vshadow_utils.h and linux/iommufd.h.
 */
#ifndef _VSHADOW_FIXTURES_H
#define _VSHADOW_FIXTURES_H

#include <setjmp.h>

/* Open /dev/viommu_shadow as a new context. */
static int vs_open(void)
{
	return open(VS_DEV, O_RDWR | O_CLOEXEC);
}

/*
 * A SKIP in a FIXTURE_SETUP that also skips the test body, which 6.1's
 * harness would run: as a failed ASSERT does, jump out (the test runs in
 * a child process of its own; the teardown is not run).
 */
#define SETUP_SKIP(fmt, ...) do {					\
	SKIP(, fmt, ##__VA_ARGS__);					\
	longjmp(_metadata->env, 1);					\
} while (0)

/*
 * An iommufd in *@fd and a new IOAS in *@ioas; with @dev, the first edu
 * device bound to that IOAS through its VFIO cdev, in *@dev.  Skips the
 * test on kernels without IOMMUFD, and without such a device.
 */
static void iommufd_open_ioas(struct __test_metadata *_metadata, int *fd,
			      uint32_t *ioas, int *dev)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt pt = { .argsz = sizeof(pt) };
	struct iommu_ioas_alloc a = { .size = sizeof(a) };

	*fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (*fd < 0)
		SETUP_SKIP("no /dev/iommu: a kernel without IOMMUFD");
	ASSERT_EQ(0, vs_ioctl(*fd, IOMMU_IOAS_ALLOC, &a));
	*ioas = a.out_ioas_id;
	if (!dev)
		return;
	*dev = edu_cdev_open(0);
	if (*dev < 0)
		SETUP_SKIP("no edu device with a VFIO cdev");
	bind.iommufd = *fd;
	ASSERT_EQ(0, vs_ioctl(*dev, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	pt.pt_id = *ioas;
	ASSERT_EQ(0, vs_ioctl(*dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &pt));
}

/**
 * struct vs_backend - a backend of one kind, opened for a fixture
 * @kind: enum viommu_shadow_backend, or VSHADOW_MOCK_BACKEND
 * @fd: what ATTACH is given: the container, the mock, the iommufd
 * @id: ATTACH's backend_id (iommufd: the IOAS)
 * @dev: iommufd: the edu device, bound to the IOAS through its cdev
 * @box: type1: the container with the first edu device's group, type1v2
 */
struct vs_backend {
	uint32_t kind;
	int fd;
	uint32_t id;
	int dev;
	struct vfio_box box;
};

/* Open a backend of @kind in @b, or skip when this guest has none. */
static void vs_backend_open(struct __test_metadata *_metadata,
			    struct vs_backend *b, uint32_t kind)
{
	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->fd = -1;
	b->dev = -1;
	b->box.container = -1;
	b->box.group = -1;
	if (kind == VSHADOW_MOCK_BACKEND) {
		b->fd = open(VS_MOCK_DEV, O_RDWR | O_CLOEXEC);
		if (b->fd < 0)
			SETUP_SKIP("mock backend not loaded");
	} else if (kind == VIOMMU_SHADOW_BACKEND_IOMMUFD) {
		iommufd_open_ioas(_metadata, &b->fd, &b->id, &b->dev);
	} else {
		if (vfio_box_open(&b->box, 0, true))
			SETUP_SKIP("no edu device bound to vfio-pci");
		b->fd = b->box.container;
	}
}

static void vs_backend_close(struct vs_backend *b)
{
	if (b->kind == VIOMMU_SHADOW_BACKEND_VFIO_TYPE1) {
		vfio_box_close(&b->box);
		return;
	}
	if (b->dev >= 0)
		close(b->dev);
	if (b->fd >= 0)
		close(b->fd);
}

/* ATTACH @ctx to @b: 0 or the errno; skips when its module is not loaded. */
static int vs_backend_attach(struct __test_metadata *_metadata, int ctx,
			     const struct vs_backend *b)
{
	int ret = _vs_attach_id(ctx, b->kind, b->fd, b->id);

	if (ret == EOPNOTSUPP && b->kind == VIOMMU_SHADOW_BACKEND_IOMMUFD)
		SETUP_SKIP("viommu_shadow_iommufd not loaded");
	return ret;
}

/*
 * Bytes the backend still holds, all of which type1 and iommufd then
 * unmap (the mock's go with its fd); UINT64_MAX if it cannot say (the
 * mock with more than VS_DRAIN_MAX mappings).
 */
#define VS_DRAIN_MAX	64

static uint64_t vs_backend_drain(const struct vs_backend *b)
{
	struct vfio_iommu_type1_dma_unmap all = {
		.argsz = sizeof(all), .flags = VFIO_DMA_UNMAP_FLAG_ALL,
	};
	struct iommu_ioas_unmap u = {
		.size = sizeof(u), .ioas_id = b->id, .length = UINT64_MAX,
	};
	struct vshadow_mock_mapping m[VS_DRAIN_MAX];
	uint64_t bytes = 0;
	long n, i;

	switch (b->kind) {
	case VSHADOW_MOCK_BACKEND:
		/* Its mappings go with its fd. */
		n = mock_mappings(b->fd, m, VS_DRAIN_MAX);
		for (i = 0; i < n && i < VS_DRAIN_MAX; i++)
			bytes += m[i].length;
		return n < 0 || n > VS_DRAIN_MAX ? UINT64_MAX : bytes;
	case VIOMMU_SHADOW_BACKEND_IOMMUFD:
		return vs_ioctl(b->fd, IOMMU_IOAS_UNMAP, &u) ? UINT64_MAX :
		       u.length;
	default:
		return vs_ioctl(b->fd, VFIO_IOMMU_UNMAP_DMA, &all) ?
		       UINT64_MAX : all.size;
	}
}

/*
 * Map @n one-page mappings at @base, @base + 4K, ... with MAP_BATCH (the
 * cookie is the index), every one of them to @page, from the top down:
 * the mock keeps a sorted list, which a mapping below all others joins at
 * once.  0 or the errno.
 */
static inline int vs_map_many(int ctx, uint64_t base, uint32_t n, void *page)
{
	struct viommu_shadow_map_entry *e;
	struct viommu_shadow_map_batch b = {
		.size = sizeof(b), .entry_size = sizeof(*e),
	};
	uint32_t i, done, chunk;
	int ret = 0;

	e = calloc(VIOMMU_SHADOW_BATCH_MAX, sizeof(*e));
	if (!e)
		return errno;	/* ENOMEM */
	for (done = 0; done < n && !ret; done += chunk) {
		chunk = n - done < VIOMMU_SHADOW_BATCH_MAX ?
			n - done : VIOMMU_SHADOW_BATCH_MAX;
		for (i = 0; i < chunk; i++)
			e[i] = (struct viommu_shadow_map_entry) {
				.flags = VIOMMU_SHADOW_MAP_READ |
					 VIOMMU_SHADOW_MAP_WRITE,
				.iova = base + (uint64_t)(n - 1 - done - i) *
					       PAGE_4K,
				.length = PAGE_4K,
				.vaddr = (uintptr_t)page,
				.cookie = n - 1 - done - i,
			};
		b.entries = (uintptr_t)e;
		b.nr_entries = chunk;
		ret = vs_ioctl(ctx, VIOMMU_SHADOW_MAP_BATCH, &b);
	}
	free(e);
	return ret;
}

#endif /* _VSHADOW_FIXTURES_H */
