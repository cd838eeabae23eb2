/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the viommu_shadow selftests: finding the edu devices the test
 * VM binds to vfio-pci, setting up VFIO containers, calling type1 directly
 * (to compare with), and calling viommu_shadow.
 *
 * Calls come in pairs: _vs_op() returns 0 or the errno, so a test can
 * ASSERT_EQ(EINVAL, _vs_op(...)); vs_op() is the same call asserting
 * success, for use inside a test.
 */
#ifndef _VSHADOW_UTILS_H
#define _VSHADOW_UTILS_H

/*
 * The harness's default limit per case is 30 s; on the debug lane (KASAN,
 * lockdep, kmemleak, under TCG) a case of thousands of type1 mappings
 * takes about that long.  300 s still catches a hang; the VM run has its
 * own limit.  (Included after kselftest_harness.h, so this one counts.)
 */
#ifdef TEST_TIMEOUT_DEFAULT
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/vfio.h>
#include <linux/viommu_shadow.h>
#include "mock_test.h"

#define VS_DEV		"/dev/viommu_shadow"
#define VS_MOCK_DEV	"/dev/viommu_shadow_mock"
#define VS_OBJECTS	"/sys/kernel/debug/viommu_shadow/objects"
#define PAGE_4K		4096ULL
#define SZ_2M		0x200000ULL
#define SZ_1G		0x40000000ULL
#define SZ_1T		0x10000000000ULL

/* ioctl() as an errno: 0 on success. */
static inline int vs_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) ? errno : 0;
}

/* Which IOMMU the test VM emulates ("intel" or "amd"), from the runner. */
static inline bool vs_iommu_is(const char *name)
{
	const char *v = getenv("VSHADOW_IOMMU");

	return v && !strcmp(v, name);
}

/* A field of /proc/self/status, in kB; -1 if missing. */
static inline long status_kb(const char *field)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	size_t len = strlen(field);
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':')
			kb = strtol(line + len + 1, NULL, 10);
	if (f)
		fclose(f);
	return kb;
}

/* ---- edu devices and VFIO containers ---- */

static inline int read_hex_file(const char *path, unsigned long *val)
{
	FILE *f = fopen(path, "r");
	int ok;

	if (!f)
		return -1;
	ok = fscanf(f, "%lx", val) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

/* Whether PCI device @bdf is QEMU's edu (1234:11e8), whose DMA we drive. */
static inline bool vs_device_is_edu(const char *bdf)
{
	unsigned long vendor, device;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", bdf);
	if (read_hex_file(path, &vendor) || vendor != 0x1234)
		return false;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", bdf);
	return !read_hex_file(path, &device) && device == 0x11e8;
}

/*
 * The devices the tests may use: on a real host, those named in
 * VSHADOW_DEVICES (PCI addresses, separated by spaces or commas, each
 * bound to vfio-pci; in that order), else QEMU's edu devices bound to
 * vfio-pci (the test VM's; in address order).  At most 64, strdup()ed
 * into @names; returns how many.
 */
static inline int vs_devices(char **names)
{
	const char *env = getenv("VSHADOW_DEVICES");
	char path[PATH_MAX], *list, *tok, *save;
	struct dirent *de;
	int n = 0;
	DIR *d;

	if (env) {
		list = strdup(env);
		for (tok = strtok_r(list, " ,", &save); tok && n < 64;
		     tok = strtok_r(NULL, " ,", &save)) {
			snprintf(path, sizeof(path),
				 "/sys/bus/pci/drivers/vfio-pci/%s", tok);
			if (!access(path, F_OK))
				names[n++] = strdup(tok);
		}
		free(list);
		return n;
	}
	d = opendir("/sys/bus/pci/drivers/vfio-pci");
	if (!d)
		return 0;
	while ((de = readdir(d)) && n < 64)
		if (strchr(de->d_name, ':') && vs_device_is_edu(de->d_name))
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	return n;
}

/*
 * BDF and IOMMU group of the idx-th test device (vs_devices(): edu in
 * the test VM, VSHADOW_DEVICES on a host).
 */
static inline int edu_find(int idx, char *bdf, size_t len, int *group)
{
	char path[PATH_MAX], link[PATH_MAX], *names[64];
	int n, i, ret = -1;
	ssize_t l;

	n = vs_devices(names);
	if (idx < n) {
		snprintf(path, sizeof(path),
			 "/sys/bus/pci/devices/%s/iommu_group", names[idx]);
		l = readlink(path, link, sizeof(link) - 1);
		if (l > 0) {
			link[l] = 0;
			*group = atoi(strrchr(link, '/') + 1);
			snprintf(bdf, len, "%s", names[idx]);
			ret = 0;
		}
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	return ret;
}

/*
 * The idx-th edu device's VFIO cdev (/dev/vfio/devices/vfioN, on kernels
 * with VFIO_DEVICE_CDEV), opened; -1 if there is none.
 */
static inline int edu_cdev_open(int idx)
{
	char bdf[32], path[PATH_MAX];
	struct dirent *de;
	int grp, fd = -1;
	DIR *d;

	if (edu_find(idx, bdf, sizeof(bdf), &grp))
		return -1;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "vfio", 4))
			continue;
		snprintf(path, sizeof(path), "/dev/vfio/devices/%s",
			 de->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC);
		break;
	}
	closedir(d);
	return fd;
}

struct vfio_box {
	int container;
	int group;
	char bdf[32];
};

/*
 * A container holding the idx-th edu device's group, with the type1v2
 * IOMMU set if @set_iommu.  Returns 0, or -1 if there is no such device.
 */
static inline int vfio_box_open(struct vfio_box *b, int idx, bool set_iommu)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[64];
	int grp;

	b->container = -1;
	b->group = -1;
	if (edu_find(idx, b->bdf, sizeof(b->bdf), &grp))
		return -1;
	b->container = open("/dev/vfio/vfio", O_RDWR);
	snprintf(path, sizeof(path), "/dev/vfio/%d", grp);
	b->group = open(path, O_RDWR);
	if (b->container < 0 || b->group < 0)
		return -1;
	if (ioctl(b->group, VFIO_GROUP_GET_STATUS, &status) ||
	    !(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return -1;
	if (ioctl(b->group, VFIO_GROUP_SET_CONTAINER, &b->container))
		return -1;
	if (set_iommu && ioctl(b->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return -1;
	return 0;
}

static inline void vfio_box_close(struct vfio_box *b)
{
	if (b->group >= 0)
		close(b->group);
	if (b->container >= 0)
		close(b->container);
}

/* ---- plain type1, for comparison ---- */

static inline int t1_map(int container, uint64_t iova, uint64_t size,
			 void *vaddr)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)vaddr,
		.iova = iova,
		.size = size,
	};

	return vs_ioctl(container, VFIO_IOMMU_MAP_DMA, &map);
}

/* Unmap [iova, iova + size - 1]; with @bitmap, get its dirty bits. */
static inline int t1_unmap(int container, uint64_t iova, uint64_t size,
			   uint64_t *bitmap, uint64_t bitmap_bytes,
			   uint64_t *unmapped)
{
	struct {
		struct vfio_iommu_type1_dma_unmap unmap;
		struct vfio_bitmap bitmap;
	} a = {
		.unmap = { .argsz = sizeof(a.unmap), .iova = iova, .size = size },
	};
	int ret;

	if (bitmap) {
		a.unmap.argsz = sizeof(a);
		a.unmap.flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
		a.bitmap.pgsize = PAGE_4K;
		a.bitmap.size = bitmap_bytes;
		a.bitmap.data = (__u64 *)bitmap;
	}
	ret = vs_ioctl(container, VFIO_IOMMU_UNMAP_DMA, &a);
	if (unmapped)
		*unmapped = a.unmap.size;
	return ret;
}

static inline int t1_dirty(int container, uint32_t flag)
{
	struct vfio_iommu_type1_dirty_bitmap d = {
		.argsz = sizeof(d), .flags = flag,
	};

	return vs_ioctl(container, VFIO_IOMMU_DIRTY_PAGES, &d);
}

/* ---- viommu_shadow ---- */

static inline int _vs_attach_id(int ctx, uint32_t backend, int fd,
				uint32_t id)
{
	struct viommu_shadow_attach cmd = {
		.size = sizeof(cmd), .backend = backend, .fd = fd,
		.backend_id = id,
	};

	return vs_ioctl(ctx, VIOMMU_SHADOW_ATTACH, &cmd);
}

static inline int _vs_attach(int ctx, uint32_t backend, int fd)
{
	return _vs_attach_id(ctx, backend, fd, 0);
}

static inline int _vs_info(int ctx, struct viommu_shadow_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	return vs_ioctl(ctx, VIOMMU_SHADOW_GET_INFO, info);
}

/*
 * For a test program that needs the module: without /dev/viommu_shadow
 * (no module, none installed, no permission) the program is skipped
 * whole, as a kselftest is when what it tests is missing (exit status
 * KSFT_SKIP, 4, and a TAP plan of none), instead of failing every test.
 * Opening the node loads an installed module (its devname alias).
 */
#define VS_SKIP_WITHOUT_MODULE()					\
static void __attribute__((constructor)) vs_need_module(void)		\
{									\
	int fd = open("/dev/viommu_shadow", O_RDWR | O_CLOEXEC);	\
									\
	if (fd < 0) {							\
		printf("TAP version 13\n1..0 # SKIP /dev/viommu_shadow: %s\n", \
		       strerror(errno));					\
		exit(4);						\
	}								\
	close(fd);							\
}

/* The context refuses everything but GET_INFO (and says so there). */
static inline bool vs_broken(int ctx)
{
	struct viommu_shadow_info info;

	return !_vs_info(ctx, &info) &&
	       (info.out_flags & VIOMMU_SHADOW_INFO_OUT_BROKEN);
}

static inline int _vs_map(int ctx, uint64_t iova, uint64_t length,
			  void *vaddr, uint64_t cookie)
{
	struct viommu_shadow_map cmd = {
		.size = sizeof(cmd),
		.flags = VIOMMU_SHADOW_MAP_READ | VIOMMU_SHADOW_MAP_WRITE,
		.iova = iova,
		.length = length,
		.vaddr = (uintptr_t)vaddr,
		.cookie = cookie,
	};

	return vs_ioctl(ctx, VIOMMU_SHADOW_MAP, &cmd);
}

/* An UNMAP_RANGE request without dirty bits. */
static inline struct viommu_shadow_unmap_range
vs_range(uint64_t start, uint64_t last, uint32_t flags,
	 struct viommu_shadow_unmap_record *rec, uint32_t nr)
{
	struct viommu_shadow_unmap_range cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.start = start,
		.last = last,
		.records = (uintptr_t)rec,
		.nr_records = nr,
		.record_size = sizeof(*rec),
	};

	return cmd;
}

static inline void vs_range_dirty(struct viommu_shadow_unmap_range *cmd,
				  uint64_t *bitmap, uint64_t bytes)
{
	cmd->flags |= VIOMMU_SHADOW_UNMAP_GET_DIRTY;
	cmd->bitmap = (uintptr_t)bitmap;
	cmd->bitmap_bytes = bytes;
	cmd->bitmap_pgsize = PAGE_4K;
}

static inline int _vs_unmap(int ctx, struct viommu_shadow_unmap_range *cmd)
{
	return vs_ioctl(ctx, VIOMMU_SHADOW_UNMAP_RANGE, cmd);
}

/* Objects alive in the module (debugfs), for leak checks. */
static inline int vs_objects(long *contexts, long *nodes)
{
	FILE *f = fopen(VS_OBJECTS, "r");
	int ok;

	if (!f)
		return -1;
	ok = fscanf(f, "contexts %ld nodes %ld", contexts, nodes) == 2;
	fclose(f);
	return ok ? 0 : -1;
}

static inline bool test_bit64(const uint64_t *map, uint64_t bit)
{
	return map[bit / 64] & (1ULL << (bit % 64));
}

/*
 * Run @cmd with /bin/sh -c, as user @uid (0: as we are), its standard
 * output and error in @out (NUL-terminated, cut at @len - 1): its exit
 * status, or -1 if it did not exit.
 */
static inline int vs_run(const char *cmd, char *out, size_t len, uid_t uid)
{
	int pfd[2], status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (pipe(pfd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		if (uid && (setgid(uid) || setuid(uid)))
			_exit(126);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	while (got + 1 < len &&
	       (n = read(pfd[0], out + got, len - got - 1)) > 0)
		got += n;
	out[got] = 0;
	close(pfd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* ---- the mock backend ---- */

static inline int mock_tracking(int mock, bool on)
{
	struct vshadow_mock_tracking t = { .size = sizeof(t), .enable = on };

	return vs_ioctl(mock, VSHADOW_MOCK_TRACKING, &t);
}

static inline int mock_fail_nth(int mock, uint32_t nth, int error)
{
	struct vshadow_mock_fail_nth f = {
		.size = sizeof(f), .nth = nth, .error = error,
	};

	return vs_ioctl(mock, VSHADOW_MOCK_FAIL_NTH, &f);
}

static inline int mock_set_dirty(int mock, uint64_t iova, uint64_t length,
				 const uint64_t *bitmap)
{
	struct vshadow_mock_set_dirty d = {
		.size = sizeof(d), .iova = iova, .length = length,
		.bitmap = (uintptr_t)bitmap,
	};

	return vs_ioctl(mock, VSHADOW_MOCK_SET_DIRTY, &d);
}

static inline int mock_set_caps(int mock, uint64_t pgsize,
				uint64_t dirty_bitmap_max)
{
	struct vshadow_mock_set_caps c = {
		.size = sizeof(c), .pgsize = pgsize,
		.dirty_bitmap_max = dirty_bitmap_max,
	};

	return vs_ioctl(mock, VSHADOW_MOCK_SET_CAPS, &c);
}

/* The mock's mappings, up to @nr; returns how many it has, or -1. */
static inline long mock_mappings(int mock, struct vshadow_mock_mapping *m,
				 uint32_t nr)
{
	struct vshadow_mock_get_mappings g = {
		.size = sizeof(g), .nr = nr, .mappings = (uintptr_t)m,
	};

	if (ioctl(mock, VSHADOW_MOCK_GET_MAPPINGS, &g))
		return -1;
	return g.out_total;
}

#endif /* _VSHADOW_UTILS_H */
