// SPDX-License-Identifier: GPL-2.0
/*
 * viommu_shadow_demo: the problem from the seed threads and its fix, side
 * by side, on a real vfio-pci device in the test VM ("make run").
 *
 * A vIOMMU guest has a few thousand 4K DMA mappings spread over more than
 * 16 TB of IOVA; live migration is tracking dirty pages; the guest then
 * invalidates its whole address space.
 */
#include <time.h>

#include "vshadow_utils.h"

#define N	2000
#define BASE	SZ_1T
#define STRIDE	(9ULL << 30)	/* 2000 x 9 GB: 17.6 TB of IOVA, from 1 TB */
#define GPA(i)	(0x40000000ULL + (i) * PAGE_4K)

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * What the host's administrator sees meanwhile, with vshadowctl (in the
 * guest's /bin when "make run" copied it there): every context, and the
 * first mappings of this one, found by its pid.
 */
static void admin_view(void)
{
	char line[512], want[32], cmd[96];
	unsigned int id = 0;
	FILE *f;

	if (access("/bin/vshadowctl", X_OK))
		return;
	printf("What the host admin sees (vshadowctl show; vshadowctl mappings):\n");
	fflush(stdout);
	f = popen("vshadowctl show", "r");
	if (!f)
		return;
	snprintf(want, sizeof(want), " pid %d ", getpid());
	while (fgets(line, sizeof(line), f)) {
		fputs(line, stdout);
		if (strstr(line, want))
			sscanf(line, "ctx %u", &id);
	}
	pclose(f);
	if (!id)
		return;
	snprintf(cmd, sizeof(cmd), "vshadowctl mappings %u | head -n 3", id);
	fflush(stdout);
	if (system(cmd) == 0)
		printf("...\n\n");
}

static void die(const char *what, int err)
{
	fprintf(stderr, "demo: %s: %s\n", what, strerror(err));
	exit(1);
}

int main(void)
{
	struct viommu_shadow_unmap_record rec[256];
	struct viommu_shadow_unmap_range r;
	struct viommu_shadow_info info;
	uint64_t bitmap[256], start = 0, dirty = 0, found = 0, i, b;
	unsigned int calls = 0;
	struct vfio_box box;
	uint8_t *buf;
	double t0;
	int ctx, ret;

	if (vfio_box_open(&box, 0, true))
		die("no edu device on vfio-pci", ENODEV);
	printf("VFIO container with edu device %s, type1v2 IOMMU\n", box.bdf);

	ctx = open(VS_DEV, O_RDWR);
	if (ctx < 0)
		die(VS_DEV, errno);
	ret = _vs_attach(ctx, VIOMMU_SHADOW_BACKEND_VFIO_TYPE1, box.container);
	if (ret)
		die("ATTACH", ret);
	_vs_info(ctx, &info);
	printf("viommu_shadow context attached: api v%u, IOVA page size %llu\n\n",
	       info.version, (unsigned long long)info.pgsize);

	buf = mmap(NULL, 16 * PAGE_4K, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	for (i = 0; i < N; i++) {
		ret = _vs_map(ctx, BASE + i * STRIDE, PAGE_4K,
			      buf + (i % 16) * PAGE_4K, GPA(i));
		if (ret)
			die("MAP", ret);
	}
	ret = t1_dirty(box.container, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	if (ret)
		die("VFIO_IOMMU_DIRTY_PAGES start", ret);
	_vs_info(ctx, &info);
	printf("Guest state: %llu mappings of 4K spread over %.1f TB of IOVA\n"
	       "(0x%llx..0x%llx), dirty tracking started (live migration).\n\n",
	       (unsigned long long)info.nr_mappings,
	       (info.high_water + 1.0 - BASE) / SZ_1T,
	       (unsigned long long)BASE, (unsigned long long)info.high_water);
	admin_view();

	printf("The guest invalidates its whole IOVA space.\n\n");
	printf("1) Today: the VMM asks type1 to unmap 16 TB with one dirty bitmap\n"
	       "   (16 TB / 4K = 2^32 pages = a 512 MB bitmap):\n");
	ret = t1_unmap(box.container, 1ULL << 44, 1ULL << 44, bitmap,
		       512ULL << 20, NULL);
	printf("   VFIO_IOMMU_UNMAP_DMA -> %s (%s); type1 caps a bitmap at 256 MB.\n"
	       "   The whole space [0, 2^64-1] is not even expressible as base+size,\n"
	       "   and the notification carries no guest address for the dirty pages.\n\n",
	       ret ? "FAILED" : "ok", ret ? strerror(ret) : "");

	printf("2) With viommu_shadow: one UNMAP_RANGE over [0, 2^64-1] with GET_DIRTY,\n"
	       "   256 records and a 2 KB bitmap per call, resuming until done:\n");
	t0 = now_ms();
	do {
		r = vs_range(start, ~0ULL, 0, rec, 256);
		vs_range_dirty(&r, bitmap, sizeof(bitmap));
		ret = _vs_unmap(ctx, &r);
		if (ret)
			die("UNMAP_RANGE", ret);
		calls++;
		for (i = 0; i < r.out_nr_records; i++) {
			found++;
			for (b = 0; b < rec[i].bitmap_bits; b++)
				dirty += test_bit64(bitmap,
						    rec[i].bitmap_offset + b);
			/* rec[i].cookie + b * 4K is the dirty guest page. */
		}
		if (calls == 1) {
			printf("   first call: last 0x%llx clamped to the high-water mark 0x%llx\n",
			       ~0ULL, (unsigned long long)r.out_last);
			printf("   first record: iova 0x%llx, cookie 0x%llx, %llu dirty bit(s)\n",
			       (unsigned long long)rec[0].iova,
			       (unsigned long long)rec[0].cookie,
			       (unsigned long long)rec[0].bitmap_bits);
		}
		start = r.out_resume;
	} while (r.out_flags & VIOMMU_SHADOW_UNMAP_OUT_MORE);
	printf("   %u calls, %.1f ms: %llu mappings unmapped, %llu dirty pages reported,\n"
	       "   each with its guest address.\n\n", calls, now_ms() - t0,
	       (unsigned long long)found, (unsigned long long)dirty);

	_vs_info(ctx, &info);
	printf("Context now: %llu mappings, high-water 0x%llx,\n"
	       "  %llu maps, %llu unmaps, %llu clamped requests\n",
	       (unsigned long long)info.nr_mappings,
	       (unsigned long long)info.high_water,
	       (unsigned long long)info.nr_maps,
	       (unsigned long long)info.nr_unmaps,
	       (unsigned long long)info.nr_clamped);
	close(ctx);
	vfio_box_close(&box);
	return found == N && dirty == N && info.nr_mappings == 0 ? 0 : 1;
}
