// SPDX-License-Identifier: GPL-2.0
/*
 * vshadow_example: a complete program using viommu_shadow the way a VMM
 * does, with nothing but <linux/vfio.h> and <linux/viommu_shadow.h>.
 * Documentation/userspace-api/viommu_shadow-integration.rst walks through
 * it; make check builds it and runs it in the test VM, so it stays right.
 *
 *   vshadow_example [BDF]     a PCI device bound to vfio-pci (default:
 *                             the first one found)
 *
 * It sets up a VFIO container, reads the usable IOVA ranges, attaches a
 * viommu_shadow context, maps 16 mappings with a "guest address" cookie
 * each, starts dirty tracking, unmaps the whole 64-bit space with small
 * buffers (so the resume loop runs), and prints what each call returned.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vfio.h>
#include <linux/viommu_shadow.h>

#define NR_MAPS		16
#define NR_RECORDS	4	/* small on purpose: the resume loop runs */
#define MAX_PAGES	4	/* the largest mapping made, in pages */

static int fail(const char *what)
{
	fprintf(stderr, "vshadow_example: %s: %s\n", what, strerror(errno));
	return 1;
}

/* The IOMMU group of @bdf, or of the first vfio-pci device: -1 if none. */
static int find_group(const char *bdf)
{
	char path[256], link[256];
	struct dirent *d;
	DIR *dir;
	ssize_t n;

	if (!bdf) {
		dir = opendir("/sys/bus/pci/drivers/vfio-pci");
		if (!dir)
			return -1;
		while ((d = readdir(dir)) && !strchr(d->d_name, ':'))
			;
		bdf = d ? strdup(d->d_name) : NULL;
		closedir(dir);
		if (!bdf)
			return -1;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group",
		 bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -1;
	link[n] = 0;
	printf("device %s, IOMMU group %s\n", bdf, strrchr(link, '/') + 1);
	return atoi(strrchr(link, '/') + 1);
}

/*
 * The first usable IOVA at or above @want: VFIO_IOMMU_GET_INFO's IOVA
 * range capability lists the ranges the container can map (holes such as
 * the MSI window are left out).
 */
static uint64_t usable_iova(int container, uint64_t want, uint64_t length)
{
	struct vfio_iommu_type1_info_cap_iova_range *ranges;
	struct vfio_iommu_type1_info *info;
	struct vfio_info_cap_header *cap;
	uint64_t found = UINT64_MAX;
	uint32_t off, i;

	info = calloc(1, 4096);
	info->argsz = 4096;
	if (ioctl(container, VFIO_IOMMU_GET_INFO, info) ||
	    !(info->flags & VFIO_IOMMU_INFO_CAPS))
		goto out;
	for (off = info->cap_offset; off; off = cap->next) {
		cap = (struct vfio_info_cap_header *)((char *)info + off);
		if (cap->id != VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE)
			continue;
		ranges = (struct vfio_iommu_type1_info_cap_iova_range *)cap;
		for (i = 0; i < ranges->nr_iovas; i++) {
			uint64_t start = ranges->iova_ranges[i].start;
			uint64_t end = ranges->iova_ranges[i].end;

			printf("usable IOVA range [0x%llx, 0x%llx]\n",
			       (unsigned long long)start,
			       (unsigned long long)end);
			if (start < want)
				start = want;
			if (found == UINT64_MAX && start <= end &&
			    end - start >= length - 1)
				found = start;
		}
	}
out:
	free(info);
	return found;
}

int main(int argc, char **argv)
{
	struct viommu_shadow_unmap_record rec[NR_RECORDS];
	/* without UNMAP_DENSE each record's bits start on a 64-bit word */
	uint64_t bitmap[NR_RECORDS * ((MAX_PAGES + 63) / 64)];
	struct vfio_group_status status = { .argsz = sizeof(status) };
	struct vfio_iommu_type1_dirty_bitmap dirty = {
		.argsz = sizeof(dirty),
	};
	struct viommu_shadow_attach attach = { .size = sizeof(attach) };
	struct viommu_shadow_info info = { .size = sizeof(info) };
	struct viommu_shadow_unmap_range r;
	uint64_t base, start, pgsize, unmapped = 0, dirty_pages = 0;
	int container, group, ctx, grp, i, calls = 0;
	char path[64];
	uint8_t *mem;

	/* 1. A VFIO container with the device's group and a type1 IOMMU. */
	grp = find_group(argc > 1 ? argv[1] : NULL);
	if (grp < 0)
		return fail("no device bound to vfio-pci");
	container = open("/dev/vfio/vfio", O_RDWR);
	if (container < 0 ||
	    ioctl(container, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		return fail("/dev/vfio/vfio");
	snprintf(path, sizeof(path), "/dev/vfio/%d", grp);
	group = open(path, O_RDWR);
	if (group < 0 || ioctl(group, VFIO_GROUP_GET_STATUS, &status) ||
	    !(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return fail(path);
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) ||
	    ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return fail("VFIO_SET_IOMMU");

	/* 2. A context, attached to the container: ask what it can do. */
	ctx = open("/dev/viommu_shadow", O_RDWR | O_CLOEXEC);
	if (ctx < 0)
		return fail("/dev/viommu_shadow (is the module loaded?)");
	attach.backend = VIOMMU_SHADOW_BACKEND_VFIO_TYPE1;
	attach.fd = container;
	if (ioctl(ctx, VIOMMU_SHADOW_ATTACH, &attach) ||
	    ioctl(ctx, VIOMMU_SHADOW_GET_INFO, &info))
		return fail("VIOMMU_SHADOW_ATTACH");
	pgsize = info.pgsize;
	printf("context: api %u, page size %llu, dirty bits %s\n",
	       info.version, (unsigned long long)pgsize,
	       info.features & VIOMMU_SHADOW_FEATURE_DIRTY ? "yes" : "no");

	/*
	 * 3. Map: each mapping gets a cookie, here the guest-physical
	 * address it stands for.  Mappings of 1 to 4 pages, 1 GiB apart.
	 */
	base = usable_iova(container, 1ULL << 32, NR_MAPS * (1ULL << 30));
	if (base == UINT64_MAX)
		return fail("no usable IOVA range");
	mem = mmap(NULL, MAX_PAGES * pgsize, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED)
		return fail("mmap");
	for (i = 0; i < NR_MAPS; i++) {
		struct viommu_shadow_map map = {
			.size = sizeof(map),
			.flags = VIOMMU_SHADOW_MAP_READ |
				 VIOMMU_SHADOW_MAP_WRITE,
			.iova = base + ((uint64_t)i << 30),
			.length = (1 + i % MAX_PAGES) * pgsize,
			.vaddr = (uintptr_t)mem,
			.cookie = 0x80000000ULL + (uint64_t)i * 0x100000,
		};

		if (ioctl(ctx, VIOMMU_SHADOW_MAP, &map))
			return fail("VIOMMU_SHADOW_MAP");
	}
	printf("mapped %d mappings from IOVA 0x%llx\n", NR_MAPS,
	       (unsigned long long)base);

	/* 4. Live migration starts: dirty tracking on the container. */
	dirty.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_START;
	if (ioctl(container, VFIO_IOMMU_DIRTY_PAGES, &dirty))
		return fail("VFIO_IOMMU_DIRTY_PAGES start");

	/*
	 * 5. The guest invalidates its whole IOVA space: one range, [0, ~0],
	 * however little the buffers; call again from out_resume while
	 * OUT_MORE is set.  Each record's bits are at its bitmap_offset.
	 */
	start = 0;
	do {
		uint32_t n;

		r = (struct viommu_shadow_unmap_range) {
			.size = sizeof(r),
			.flags = VIOMMU_SHADOW_UNMAP_GET_DIRTY,
			.start = start,
			.last = ~0ULL,
			.records = (uintptr_t)rec,
			.nr_records = NR_RECORDS,
			.record_size = sizeof(rec[0]),
			.bitmap = (uintptr_t)bitmap,
			.bitmap_bytes = sizeof(bitmap),
			.bitmap_pgsize = pgsize,
		};
		if (ioctl(ctx, VIOMMU_SHADOW_UNMAP_RANGE, &r))
			return fail("VIOMMU_SHADOW_UNMAP_RANGE");
		calls++;
		if (calls == 1 && (r.out_flags & VIOMMU_SHADOW_UNMAP_OUT_CLAMPED))
			printf("last 0x%llx clamped to the high-water mark 0x%llx\n",
			       (unsigned long long)r.last,
			       (unsigned long long)r.out_last);
		for (n = 0; n < r.out_nr_records; n++) {
			uint64_t bit, pages = 0;

			for (bit = 0; bit < rec[n].bitmap_bits; bit++) {
				uint64_t b = rec[n].bitmap_offset + bit;

				pages += (bitmap[b / 64] >> (b % 64)) & 1;
			}
			if (rec[n].flags & VIOMMU_SHADOW_RECORD_DIRTY_LOST)
				pages = rec[n].bitmap_bits;	/* all dirty */
			printf("  iova 0x%llx length 0x%llx cookie (guest address) 0x%llx: %llu of %llu pages dirty\n",
			       (unsigned long long)rec[n].iova,
			       (unsigned long long)rec[n].length,
			       (unsigned long long)rec[n].cookie,
			       (unsigned long long)pages,
			       (unsigned long long)rec[n].bitmap_bits);
			dirty_pages += pages;
		}
		unmapped += r.out_nr_records;
		start = r.out_resume;
	} while (r.out_flags & VIOMMU_SHADOW_UNMAP_OUT_MORE);

	/* 6. What the context counted. */
	if (ioctl(ctx, VIOMMU_SHADOW_GET_INFO, &info))
		return fail("VIOMMU_SHADOW_GET_INFO");
	printf("%llu mappings unmapped in %d calls, %llu dirty pages; context: %llu mappings, %llu maps, %llu unmaps, %llu clamped\n",
	       (unsigned long long)unmapped, calls,
	       (unsigned long long)dirty_pages,
	       (unsigned long long)info.nr_mappings,
	       (unsigned long long)info.nr_maps,
	       (unsigned long long)info.nr_unmaps,
	       (unsigned long long)info.nr_clamped);

	dirty.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP;
	ioctl(container, VFIO_IOMMU_DIRTY_PAGES, &dirty);
	close(ctx);
	close(group);
	close(container);
	return unmapped == NR_MAPS && info.nr_mappings == 0 ? 0 : 1;
}
