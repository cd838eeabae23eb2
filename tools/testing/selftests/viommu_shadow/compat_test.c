// SPDX-License-Identifier: GPL-2.0
/*
 * viommu_shadow from a 32-bit process (built with -m32): every ioctl goes
 * through the module's compat_ioctl, and the calls it forwards to the
 * container must pass the LSM check a 32-bit ioctl of the process's own
 * would: security_file_ioctl_compat(), not security_file_ioctl().
 */
#include <sys/mount.h>
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "vshadow_utils.h"

#define TRACEFS	"/sys/kernel/tracing"

FIXTURE(compat) {
	int ctx;
	struct vfio_box box;
	uint8_t *buf;
};

FIXTURE_SETUP(compat)
{
	ASSERT_EQ(4, sizeof(long));
	self->ctx = open(VS_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->ctx);
	if (vfio_box_open(&self->box, 0, true))
		SKIP(return, "no edu device bound to vfio-pci");
	ASSERT_EQ(0, _vs_attach(self->ctx, VIOMMU_SHADOW_BACKEND_VFIO_TYPE1,
				self->box.container));
	self->buf = mmap(NULL, 4 * PAGE_4K, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_TRUE(self->buf != MAP_FAILED);
}

FIXTURE_TEARDOWN(compat)
{
	close(self->ctx);
	vfio_box_close(&self->box);
}

/* The whole job, with 64-bit IOVAs and cookies, records and dirty bits. */
TEST_F(compat, map_and_unmap_range)
{
	struct viommu_shadow_unmap_record rec[4];
	struct viommu_shadow_unmap_range r;
	struct viommu_shadow_info info;
	uint64_t bits[4] = { 0 };
	int i;

	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	EXPECT_EQ(VIOMMU_SHADOW_API_VERSION, info.version);
	EXPECT_EQ(PAGE_4K, info.pgsize);
	ASSERT_EQ(0, t1_dirty(self->box.container,
			      VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, _vs_map(self->ctx, SZ_1T + i * SZ_1G, PAGE_4K,
				     self->buf + i * PAGE_4K,
				     0xc0de000000000000ULL + i));

	r = vs_range(0, ~0ULL, 0, rec, 4);
	vs_range_dirty(&r, bits, sizeof(bits));
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(3, r.out_nr_records);
	EXPECT_EQ(3 * PAGE_4K, r.out_bytes);
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(SZ_1T + i * SZ_1G, rec[i].iova);
		EXPECT_EQ(0xc0de000000000000ULL + i, rec[i].cookie);
		EXPECT_EQ(i * 64, rec[i].bitmap_offset);
		/* vfio-pci under type1: every page is reported dirty. */
		EXPECT_EQ(1, bits[i]);
	}
	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	EXPECT_EQ(0, info.nr_mappings);
}

/* Write @text and a newline to a tracefs file, replacing or adding. */
static int write_file(const char *name, const char *text, int append)
{
	char path[128];
	int fd, ret;

	snprintf(path, sizeof(path), TRACEFS "/%s", name);
	fd = open(path, O_WRONLY | (append ? O_APPEND : O_TRUNC));
	if (fd < 0)
		return -1;
	ret = dprintf(fd, "%s\n", text) == (int)strlen(text) + 1 ? 0 : -1;
	close(fd);
	return ret;
}

/* Trace lines naming @fn called from the module's forwarding. */
static int count_calls(const char *fn)
{
	char line[512], want[128];
	FILE *f = fopen(TRACEFS "/trace", "r");
	int n = 0;

	snprintf(want, sizeof(want), " %s <-vshadow_forward", fn);
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, want))
			n++;
	if (f)
		fclose(f);
	return f ? n : -1;
}

/*
 * One forwarded MAP from a 32-bit caller: the function tracer sees the
 * module call security_file_ioctl_compat() for it, and never the native
 * hook (the LSM check the process's own 32-bit ioctl would pass).
 */
TEST_F(compat, lsm_hook_is_the_compat_one)
{
	char pid[32];
	struct stat st;

	if (stat(TRACEFS "/trace", &st) &&
	    mount("tracefs", TRACEFS, "tracefs", 0, NULL))
		SKIP(return, "no tracefs: %s", strerror(errno));
	if (write_file("current_tracer", "nop", 0) ||
	    write_file("set_ftrace_filter", "security_file_ioctl", 0) ||
	    write_file("set_ftrace_filter", "security_file_ioctl_compat", 1) ||
	    write_file("current_tracer", "function", 0))
		SKIP(return, "no function tracer in this kernel: %s",
		     strerror(errno));
	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_EQ(0, write_file("set_ftrace_pid", pid, 0));
	ASSERT_EQ(0, write_file("trace", "", 0));
	ASSERT_EQ(0, write_file("tracing_on", "1", 0));
	EXPECT_EQ(0, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 1));
	ASSERT_EQ(0, write_file("tracing_on", "0", 0));

	EXPECT_EQ(1, count_calls("security_file_ioctl_compat"));
	EXPECT_EQ(0, count_calls("security_file_ioctl"));
	write_file("current_tracer", "nop", 0);
	write_file("set_ftrace_filter", "", 0);
	write_file("set_ftrace_pid", "", 0);
}

TEST_HARNESS_MAIN
