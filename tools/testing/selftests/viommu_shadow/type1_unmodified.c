// SPDX-License-Identifier: GPL-2.0
/*
 * type1_unmodified: a program that knows nothing of viommu_shadow and
 * issues plain type1 ioctls, the way QEMU did before the seed thread's
 * fix.  interpose_test runs it as it is and linked with libvshadow-preload
 * (-Wl,--wrap=ioctl, the static form of LD_PRELOAD) and compares.
 *
 *   type1_unmodified seed     256 4K mappings over 16 TB, dirty tracking
 *                             on, then one unmap of the 16 TB with a dirty
 *                             bitmap (512 MB: type1 takes at most 256 MB)
 *   type1_unmodified plain    calls type1 accepts or refuses on its own;
 *                             prints each result, to compare
 *   type1_unmodified fds      the container's fd made to name a second
 *                             container (dup2), a dup of it, and a fork
 *                             child's calls
 *
 * Output: one line per call, "what: ret errno size", and for bitmaps the
 * set bits' count and positions' checksum.
 */
#include "vshadow_utils.h"

static int container;
static uint8_t *buf;

static void show(const char *what, int ret, uint64_t size)
{
	printf("%s: %s %s size 0x%llx\n", what, ret ? "FAIL" : "ok",
	       ret ? strerror(ret) : "-", (unsigned long long)size);
}

static void show_bits(const char *what, const uint64_t *bitmap,
		      uint64_t words)
{
	uint64_t i, n = 0, sum = 0;

	for (i = 0; i < words * 64; i++)
		if (bitmap[i / 64] && test_bit64(bitmap, i)) {
			n++;
			sum = sum * 31 + i;
		}
	printf("%s: %llu dirty bits, positions 0x%llx\n", what,
	       (unsigned long long)n, (unsigned long long)sum);
}

static void map(const char *what, uint64_t iova, uint64_t size)
{
	show(what, t1_map(container, iova, size, buf), size);
}

static void unmap(const char *what, uint64_t iova, uint64_t size,
		  uint64_t *bitmap, uint64_t bytes)
{
	uint64_t done = 0;
	int ret = t1_unmap(container, iova, size, bitmap, bytes, &done);

	show(what, ret, done);
	if (bitmap && !ret)
		show_bits(what, bitmap, bytes / 8);
}

/* The seed: a vIOMMU guest invalidates 16 TB during migration. */
static int seed(void)
{
	const uint64_t base = SZ_1T, span = 16 * SZ_1T, stride = span / 256;
	const uint64_t bytes = span / PAGE_4K / 8;	/* 512 MB */
	uint64_t *bitmap, i, n = 0, done = 0;
	int ret;

	for (i = 0; i < 256; i++)
		if (t1_map(container, base + i * stride, PAGE_4K, buf))
			return 1;
	if (t1_dirty(container, VFIO_IOMMU_DIRTY_PAGES_FLAG_START))
		return 1;
	/* only the touched pages of it are ever allocated */
	bitmap = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (bitmap == MAP_FAILED)
		return 1;
	ret = t1_unmap(container, base, span, bitmap, bytes, &done);
	show("unmap 16 TB with a 512 MB bitmap", ret, done);
	if (ret)
		return 2;
	/* each mapping's page at its offset from the range's start */
	for (i = 0; i < 256; i++)
		n += test_bit64(bitmap, i * stride / PAGE_4K);
	printf("dirty bits at the mappings' offsets: %llu of 256\n",
	       (unsigned long long)n);
	return n == 256 && done == 256 * PAGE_4K ? 0 : 1;
}

/* Calls type1 takes or refuses by itself: the same either way. */
static int plain(void)
{
	uint64_t bits[64];
	int i;

	for (i = 0; i < 8; i++)
		map("map", SZ_1G + i * SZ_2M, (1 + i % 2) * PAGE_4K);
	map("map over a mapping", SZ_1G, PAGE_4K);
	map("map unaligned", SZ_1G + 512, PAGE_4K);
	map("map wrapping", -PAGE_4K, 2 * PAGE_4K);
	unmap("unmap one exactly", SZ_1G, PAGE_4K, NULL, 0);
	unmap("unmap cutting one", SZ_1G + SZ_2M, PAGE_4K, NULL, 0);
	unmap("unmap nothing", 3 * SZ_1G, SZ_1G, NULL, 0);
	unmap("unmap unaligned", SZ_1G + 100, PAGE_4K, NULL, 0);
	unmap("unmap size 0", SZ_1G, 0, NULL, 0);
	memset(bits, 0, sizeof(bits));
	unmap("unmap bits, tracking off", SZ_1G + SZ_2M, 2 * PAGE_4K, bits,
	      sizeof(bits));
	show("dirty start", t1_dirty(container,
				     VFIO_IOMMU_DIRTY_PAGES_FLAG_START), 0);
	unmap("unmap bits, bitmap too small", SZ_1G, SZ_1G, bits, 8);
	memset(bits, 0xff, sizeof(bits));
	unmap("unmap bits", SZ_1G + SZ_2M, 4 * SZ_2M, bits, sizeof(bits));
	map("map again", SZ_1G, 2 * PAGE_4K);
	show("dirty stop", t1_dirty(container,
				    VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP), 0);
	{
		struct vfio_iommu_type1_dma_unmap all = {
			.argsz = sizeof(all),
			.flags = VFIO_DMA_UNMAP_FLAG_ALL,
		};
		int ret = vs_ioctl(container, VFIO_IOMMU_UNMAP_DMA, &all);

		show("unmap all", ret, all.size);
	}
	return 0;
}

static void show_unmap(const char *what, int fd, uint64_t iova)
{
	uint64_t done = 0;
	int ret = t1_unmap(fd, iova, PAGE_4K, NULL, 0, &done);

	show(what, ret, done);
}

/*
 * What a VMM may do to its container's fd: make it name another
 * container (dup2), use a dup of it, fork.  type1 acts on the file the fd
 * names, in any process: so must the preload library, whose handles
 * were made for a file and a process.
 */
static int fds(void)
{
	struct vfio_box other;
	int status, copy;
	pid_t pid;

	if (vfio_box_open(&other, 1, true)) {
		fprintf(stderr, "type1_unmodified: no second edu device on vfio-pci\n");
		return 65;
	}
	map("map on A", SZ_1G, PAGE_4K);
	if (dup2(other.container, container) != container)
		return 1;
	map("map through A's fd, now naming B", 2 * SZ_1G, PAGE_4K);
	show_unmap("unmap on B's own fd", other.container, 2 * SZ_1G);
	show_unmap("unmap of A's mapping through that fd", container, SZ_1G);
	copy = dup(other.container);
	show("map through a dup of B's fd", t1_map(copy, 3 * SZ_1G, PAGE_4K, buf),
	     PAGE_4K);
	show_unmap("unmap on B's own fd", other.container, 3 * SZ_1G);
	close(copy);

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 1;
	if (!pid) {
		show("child: map on B", t1_map(other.container, 4 * SZ_1G,
					       PAGE_4K, buf), PAGE_4K);
		show_unmap("child: unmap on B", other.container, 4 * SZ_1G);
		fflush(stdout);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 1;
	show("parent: map on B", t1_map(other.container, 5 * SZ_1G, PAGE_4K,
					buf), PAGE_4K);
	show_unmap("parent: unmap on B", other.container, 5 * SZ_1G);
	return 0;
}

int main(int argc, char **argv)
{
	struct vfio_box box;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2 || (strcmp(argv[1], "seed") && strcmp(argv[1], "plain") &&
			  strcmp(argv[1], "fds"))) {
		fprintf(stderr, "usage: type1_unmodified seed|plain|fds\n");
		return 64;
	}
	if (vfio_box_open(&box, 0, true)) {
		fprintf(stderr, "type1_unmodified: no edu device on vfio-pci\n");
		return 65;
	}
	container = box.container;
	buf = mmap(NULL, 4 * PAGE_4K, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (!strcmp(argv[1], "fds"))
		return fds();
	return strcmp(argv[1], "seed") ? plain() : seed();
}
