// SPDX-License-Identifier: GPL-2.0
/*
 * vshadow_bench_iommufd: the iommufd backend against what a VMM does on
 * iommufd without it (make bench, debug kernel only: the only kernel here
 * with IOMMUFD).  It runs in a guest with no emulated IOMMU, on iommufd's
 * mock domain, which tracks dirty pages: an IOAS, one mock device on a
 * dirty-tracking HWPT, tracking on.
 *
 * N = 4096 4 KiB mappings, laid out back to back ("dense": the module
 * reads and unmaps them as one run) or with a page between each
 * ("sparse": one run per mapping), torn down by:
 *   module     UNMAP_RANGE over [0, 2^64 - 1] with dirty bits (dense layout)
 *   module0    the same without dirty bits
 *   loop       per mapping, IOMMU_HWPT_GET_DIRTY_BITMAP then
 *              IOMMU_IOAS_UNMAP: what a VMM does today
 *   floor      one IOMMU_IOAS_UNMAP of the whole window, no dirty bits
 * Setup is not timed.  Gates on every repetition: the module reports
 * exactly N records, and afterwards nothing is left in the IOAS.
 *
 * The debug kernel (KASAN, lockdep, kmemleak) inflates every absolute
 * figure; only the ratios, taken in one run, mean anything.
 */
#include <linux/iommufd.h>
#include <sys/mman.h>

#include "bench_driver.h"
#include "iommufd_test.h"
#include "iommufd_mock.h"
#include "vshadow_utils.h"

#define N		4096
#define BASE		((uint64_t)MOCK_APERTURE_START + (16ULL << 20))
#define WINDOW		(2ULL * N * PAGE_4K)

enum arm { I_VS, I_VS0, I_LOOP, I_FLOOR, NR_ARMS };

static const char *const arm_name[NR_ARMS] = {
	"module", "module0", "loop", "floor",
};

static struct {
	int fd;
	uint32_t ioas;
	uint32_t hwpt;
	int ctx;
	uint8_t *mem;
	uint64_t stride;	/* PAGE_4K: dense; 2 * PAGE_4K: sparse */
	struct viommu_shadow_unmap_record *rec;
	uint64_t *bits;
} b;

static void die(const char *what)
{
	fprintf(stderr, "vshadow_bench_iommufd: FAIL: %s (%s)\n", what,
		strerror(errno));
	exit(1);
}

/* The IOAS, a mock device on a dirty-tracking HWPT, tracking on. */
static void setup_mock(void)
{
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	uint32_t stdev;

	b.fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (b.fd < 0 || vs_ioctl(b.fd, IOMMU_IOAS_ALLOC, &ioas))
		die("no /dev/iommu");
	b.ioas = ioas.out_ioas_id;
	errno = mock_dirty_device(b.fd, b.ioas, &b.hwpt, &stdev);
	if (errno)
		die("mock domain with dirty tracking (a guest without an IOMMU is needed)");
}

static void map_n(bool module)
{
	struct iommu_ioas_map m = {
		.size = sizeof(m),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = b.ioas,
		.length = PAGE_4K,
	};
	uint64_t i;

	for (i = 0; i < N; i++) {
		m.iova = BASE + i * b.stride;
		m.user_va = (uintptr_t)(b.mem + (i % 64) * PAGE_4K);
		if (module ? _vs_map(b.ctx, m.iova, PAGE_4K,
				     (void *)(uintptr_t)m.user_va, i) :
			     vs_ioctl(b.fd, IOMMU_IOAS_MAP, &m))
			die("map");
	}
}

/* Nothing may be left in the window: iommufd says ENOENT for that. */
static void gate_empty(void)
{
	struct iommu_ioas_unmap u = {
		.size = sizeof(u), .ioas_id = b.ioas, .iova = BASE,
		.length = WINDOW,
	};

	if (vs_ioctl(b.fd, IOMMU_IOAS_UNMAP, &u) != ENOENT)
		die("mappings left in the IOAS");
}

static uint64_t run(int arm, uint64_t n)
{
	struct iommu_hwpt_get_dirty_bitmap get = {
		.size = sizeof(get), .hwpt_id = b.hwpt, .length = PAGE_4K,
		.page_size = PAGE_4K, .data = (uintptr_t)b.bits,
	};
	struct iommu_ioas_unmap u = {
		.size = sizeof(u), .ioas_id = b.ioas, .length = PAGE_4K,
	};
	struct viommu_shadow_unmap_range r;
	uint64_t t0, t, i;

	map_n(arm == I_VS || arm == I_VS0);
	t0 = now_ns();
	switch (arm) {
	case I_VS:
	case I_VS0:
		r = vs_range(0, ~0ULL, 0, b.rec, N);
		if (arm == I_VS) {
			vs_range_dirty(&r, b.bits, N * 8);
			r.flags |= VIOMMU_SHADOW_UNMAP_DENSE;
		}
		if (_vs_unmap(b.ctx, &r) || r.out_nr_records != n)
			die("UNMAP_RANGE");
		break;
	case I_LOOP:
		for (i = 0; i < n; i++) {
			get.iova = BASE + i * b.stride;
			u.iova = get.iova;
			b.bits[0] = 0;
			if (vs_ioctl(b.fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &get) ||
			    vs_ioctl(b.fd, IOMMU_IOAS_UNMAP, &u))
				die("loop");
		}
		break;
	default:
		u.iova = BASE;
		u.length = WINDOW;
		if (vs_ioctl(b.fd, IOMMU_IOAS_UNMAP, &u))
			die("IOAS_UNMAP");
		break;
	}
	t = now_ns() - t0;
	gate_empty();
	return t;
}

/* The last cell's ratios, one per repetition (see bench_pratio()). */
static void paired_ratios(const char *cell)
{
	bench_pratio_group(cell);
	bench_pratio("module/loop", I_VS, I_LOOP);
	bench_pratio("module/floor", I_VS, I_FLOOR);
	bench_pratio("module0/floor", I_VS0, I_FLOOR);
}

int main(int argc, char **argv)
{
	static const int arms[] = { I_VS, I_VS0, I_LOOP, I_FLOOR };
	struct viommu_shadow_attach at = {
		.size = sizeof(at),
		.backend = VIOMMU_SHADOW_BACKEND_IOMMUFD,
		.nr_dirty_hwpts = 1,
	};
	double dense[NR_ARMS];
	int reps = BENCH_MAX_REPS, i;

	if (argc > 1 && atoi(argv[1]) > 0 && atoi(argv[1]) <= BENCH_MAX_REPS)
		reps = atoi(argv[1]);
	bench_arm_name = arm_name;
	setup_mock();
	at.fd = b.fd;
	at.backend_id = b.ioas;
	at.dirty_hwpts = (uintptr_t)&b.hwpt;
	b.ctx = open(VS_DEV, O_RDWR);
	if (b.ctx < 0 || vs_ioctl(b.ctx, VIOMMU_SHADOW_ATTACH, &at))
		die("ATTACH");
	b.mem = mmap(NULL, 64 * PAGE_4K, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	b.rec = calloc(N, sizeof(*b.rec));
	b.bits = calloc(N, 8);
	if (b.mem == MAP_FAILED || !b.rec || !b.bits)
		die("memory");

	b.stride = PAGE_4K;
	bench_cell("iommufd-dense-4096", arms, NR_ARMS, N, reps, run);
	for (i = 0; i < NR_ARMS; i++)
		dense[i] = bench_med[i];
	paired_ratios("iommufd-dense-4096");
	b.stride = 2 * PAGE_4K;
	bench_cell("iommufd-sparse-4096", arms, NR_ARMS, N, reps, run);
	paired_ratios("iommufd-sparse-4096");

	printf("ratio-n iommufd dense\n");
	bench_ratio("module/loop", dense[I_VS], dense[I_LOOP]);
	bench_ratio("module/floor", dense[I_VS], dense[I_FLOOR]);
	bench_ratio("module0/floor", dense[I_VS0], dense[I_FLOOR]);
	printf("ratio-n iommufd sparse\n");
	bench_ratio("module/loop", bench_med[I_VS], bench_med[I_LOOP]);
	bench_ratio("module/floor", bench_med[I_VS], bench_med[I_FLOOR]);
	bench_ratio("module0/floor", bench_med[I_VS0], bench_med[I_FLOOR]);
	printf("vshadow_bench_iommufd: done\n");
	return 0;
}
