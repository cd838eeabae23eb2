// SPDX-License-Identifier: GPL-2.0
/*
 * vshadow_bench: viommu_shadow against what a VMM does without it, side
 * by side, in one process, one container and one guest boot (make bench).
 *
 * Every cell times its arms in a random order per repetition, after one
 * untimed warm-up of each, and prints the median, min and max per mapping
 * (per call for the floors).  Setup (making the mappings) is never timed.
 * Correctness gates run on every repetition: the records (the module's,
 * or those libvshadow hands its callback) must be exactly the mappings
 * made, every dirty bit an arm returns must be set (type1 behind vfio-pci
 * reports every pinned page dirty) and counted, type1's dma_avail must
 * come back to its start, and the module's live-node count to 0; the run
 * fails otherwise.
 *
 * Output: one "cell arm n median min max" line per arm (ns per mapping),
 * then "ratio NAME value" lines (ratios of medians), "pratio NAME median
 * min max reps" lines (paired: one ratio per repetition), then "mem ..."
 * lines; scripts/bench.sh turns them into bench/results.md.
 */
#include <assert.h>

#include "bench_driver.h"
#include "vshadow_utils.h"
#include "vshadow.h"

#define BASE		SZ_1T
#define MAX_N		65535
#define MAX_REPS	BENCH_MAX_REPS

static int reps = MAX_REPS;

static struct {
	int ctx;
	struct vfio_box box;
	uint8_t *mem;			/* 64 pages, mapped again and again */
	struct viommu_shadow_unmap_record *rec;
	struct viommu_shadow_map_entry *ent;
	uint64_t *bits;			/* MAX_N words */
	uint64_t avail0;
	struct vshadow *lib;		/* B3: libvshadow's userspace fallback */
	uint64_t lib_seen;		/* mappings its callback got */
} b;

static void die(const char *what)
{
	fprintf(stderr, "vshadow_bench: FAIL: %s (%s)\n", what, strerror(errno));
	exit(1);
}

/* ---- the container, directly ---- */

static uint64_t dma_avail(void)
{
	union {
		struct vfio_iommu_type1_info info;
		uint8_t raw[4096];
	} u = { .info = { .argsz = sizeof(u) } };
	struct vfio_info_cap_header *hdr;
	uint32_t off;

	if (ioctl(b.box.container, VFIO_IOMMU_GET_INFO, &u))
		die("VFIO_IOMMU_GET_INFO");
	for (off = u.info.cap_offset; off && off < sizeof(u); off = hdr->next) {
		hdr = (void *)(u.raw + off);
		if (hdr->id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL)
			return ((struct vfio_iommu_type1_info_dma_avail *)hdr)->avail;
	}
	die("no DMA_AVAIL capability");
	return 0;
}

static void t1_map_n(uint64_t n, uint64_t base, uint64_t stride)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		if (t1_map(b.box.container, base + i * stride, PAGE_4K,
			   b.mem + (i % 64) * PAGE_4K))
			die("MAP_DMA");
}

static void t1_unmap_all(void)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u), .flags = VFIO_DMA_UNMAP_FLAG_ALL,
	};

	if (ioctl(b.box.container, VFIO_IOMMU_UNMAP_DMA, &u))
		die("UNMAP_DMA(ALL)");
}

/* One VFIO_IOMMU_DIRTY_PAGES GET_BITMAP of [iova, iova + size - 1]. */
static int t1_get_bitmap(uint64_t iova, uint64_t size, uint64_t *bits,
			 uint64_t bytes)
{
	struct {
		struct vfio_iommu_type1_dirty_bitmap hdr;
		struct vfio_iommu_type1_dirty_bitmap_get get;
	} a = {
		.hdr = {
			.argsz = sizeof(a),
			.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
		},
		.get = {
			.iova = iova, .size = size,
			.bitmap = { .pgsize = PAGE_4K, .size = bytes,
				    .data = (__u64 *)bits },
		},
	};

	return ioctl(b.box.container, VFIO_IOMMU_DIRTY_PAGES, &a);
}

/* ---- the module ---- */

/* @n one-page mappings, @stride apart; cookie i is @cookie[i], or i. */
static void vs_map_cookies(uint64_t n, uint64_t base, uint64_t stride,
			   const uint64_t *cookie)
{
	struct viommu_shadow_map_batch mb = {
		.size = sizeof(mb), .entries = (uintptr_t)b.ent,
		.entry_size = sizeof(*b.ent),
	};
	uint64_t i, k;

	for (i = 0; i < n; i += mb.nr_entries) {
		mb.nr_entries = n - i < VIOMMU_SHADOW_BATCH_MAX ?
				n - i : VIOMMU_SHADOW_BATCH_MAX;
		for (k = 0; k < mb.nr_entries; k++)
			b.ent[k] = (struct viommu_shadow_map_entry) {
				.flags = VIOMMU_SHADOW_MAP_READ |
					 VIOMMU_SHADOW_MAP_WRITE,
				.iova = base + (i + k) * stride,
				.length = PAGE_4K,
				.vaddr = (uintptr_t)(b.mem +
						     ((i + k) % 64) * PAGE_4K),
				.cookie = cookie ? cookie[i + k] : i + k,
			};
		if (ioctl(b.ctx, VIOMMU_SHADOW_MAP_BATCH, &mb))
			die("MAP_BATCH");
	}
}

static void vs_map_n(uint64_t n, uint64_t base, uint64_t stride)
{
	vs_map_cookies(n, base, stride, NULL);
}

/*
 * UNMAP_RANGE (or SYNC_DIRTY) of [start, last]; returns the records.
 * Bits in the DENSE layout (bit after bit), or with @padded in the
 * default one (each mapping's bits from a new word).
 */
static uint64_t vs_walk_layout(unsigned long req, uint64_t start,
			       uint64_t last, bool dirty, bool padded,
			       uint64_t n)
{
	struct viommu_shadow_unmap_range r;
	uint64_t total = 0;

	r = vs_range(start, last, 0, b.rec, MAX_N);
	if (dirty) {
		vs_range_dirty(&r, b.bits, MAX_N * 8);
		if (!padded)
			r.flags |= VIOMMU_SHADOW_UNMAP_DENSE;
	}
	do {
		if (ioctl(b.ctx, req, &r))
			die("UNMAP_RANGE/SYNC_DIRTY");
		total += r.out_nr_records;
		r.start = r.out_resume;
	} while (r.out_flags & VIOMMU_SHADOW_UNMAP_OUT_MORE);
	if (total != n)
		die("walk: wrong number of records");
	return total;
}

static uint64_t vs_walk(unsigned long req, uint64_t start, uint64_t last,
			bool dirty, uint64_t n)
{
	return vs_walk_layout(req, start, last, dirty, false, n);
}

/* ---- B3: libvshadow's userspace fallback, the best userspace ---- */

static void lib_map_cookies(uint64_t n, uint64_t base, uint64_t stride,
			    const uint64_t *cookie)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		if (vshadow_map(b.lib, base + i * stride, PAGE_4K,
				b.mem + (i % 64) * PAGE_4K,
				VSHADOW_MAP_READ | VSHADOW_MAP_WRITE,
				cookie ? cookie[i] : i))
			die("B3: vshadow_map");
}

static void lib_map_n(uint64_t n, uint64_t base, uint64_t stride)
{
	lib_map_cookies(n, base, stride, NULL);
}

/*
 * What a VMM's callback at least does: keep the record, and the bits
 * (one page per mapping here: bit 0), in the caller's arrays, as the
 * module writes its records and bitmap.
 */
static int lib_seen(void *opaque, const struct vshadow_unmapped *m)
{
	uint64_t k = b.lib_seen++;

	if (k < MAX_N) {
		b.rec[k].iova = m->iova;
		b.rec[k].length = m->length;
		b.rec[k].cookie = m->cookie;
		if (m->dirty && (m->dirty[0] & 1))
			b.bits[k / 64] |= 1ULL << (k % 64);
	}
	return 0;
}

static void lib_walk(bool sync, uint64_t n)
{
	int ret;

	b.lib_seen = 0;
	if (sync)
		ret = vshadow_sync_dirty(b.lib, 0, ~0ULL, VSHADOW_UNMAP_DIRTY,
					 lib_seen, NULL);
	else
		ret = vshadow_unmap_range(b.lib, 0, ~0ULL, VSHADOW_UNMAP_DIRTY,
					  lib_seen, NULL);
	if (ret || b.lib_seen != n)
		die("B3: wrong number of records");
}

/* The gates: records are the mappings made; everything is back to 0. */
static void gate_records(uint64_t n, uint64_t base, uint64_t stride)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		if (b.rec[i].iova != base + i * stride ||
		    b.rec[i].length != PAGE_4K || b.rec[i].cookie != i) {
			errno = 0;
			die("gate: UNMAP_RANGE's records are not the mappings");
		}
}

/* The dirty bits: @n set in @bits, none else (vfio-pci: all dirty). */
static void gate_bits(const uint64_t *bits, uint64_t n)
{
	uint64_t i, set = 0;

	for (i = 0; i < (n + 63) / 64; i++)
		set += __builtin_popcountll(bits[i]);
	if (set != n) {
		errno = 0;
		die("gate: not every page's dirty bit came back");
	}
}

static void gate_empty(void)
{
	long contexts, nodes;

	if (dma_avail() != b.avail0) {
		errno = 0;
		die("gate: type1's dma_avail did not come back");
	}
	if (vs_objects(&contexts, &nodes) || nodes) {
		errno = 0;
		die("gate: the module's live nodes did not come back to 0");
	}
}

/* ---- cells ---- */

enum arm {
	A, A0, A1, B1, B2, B3, C, E,	/* dense teardown */
	AP,				/* A, padded layout */
	SA, SB1, SB3, SD,		/* sparse */
	M_T1, M_VS, M_BATCH,		/* maps */
	Y_VS, Y_LOOP, Y_B3, Y_FLOOR,	/* sync */
	S_T1, S_T1RUN, S_VSPAGE, S_VS,	/* stream */
	F_VS, F_T1, F_VER,		/* floors */
	L_VS, L_QEMU, L_B3,		/* sync into a dirty log by cookie */
	NR_ARMS
};

static_assert(NR_ARMS <= BENCH_MAX_ARMS, "too many arms");

static const char *const arm_name[NR_ARMS] = {
	"A", "A0", "A1", "B1", "B2", "B3", "C", "E",
	"A_padded",
	"A", "B1", "B3", "D",
	"MAP_DMA", "MAP", "MAP_BATCH64",
	"SYNC_DIRTY", "GET_BITMAP_loop", "B3_sync", "GET_BITMAP_run",
	"type1_per_page", "type1_per_run", "module_per_page", "module_per_run",
	"GET_INFO", "VFIO_IOMMU_GET_INFO", "VFIO_GET_API_VERSION",
	"SYNC_DIRTY_LOG", "QEMU_way", "B3_way",
};

/* Just under 8 TB: type1 takes at most INT_MAX pages of bitmap. */
#define SPARSE_WINDOW	((8ULL << 40) - (1ULL << 20))
#define MAPS_N		4096
#define FLOOR_N		10000
#define STREAM_EVENTS	4000

/* One timed run of @arm with @n mappings; returns its time in ns. */
static uint64_t run_dense(int arm, uint64_t n)
{
	uint64_t t0, t, i, done = 0;
	const uint64_t bytes = (n + 63) / 64 * 8;

	if (arm <= A1 || arm == AP)
		vs_map_n(n, BASE, PAGE_4K);
	else if (arm == B3)
		lib_map_n(n, BASE, PAGE_4K);
	else
		t1_map_n(n, BASE, PAGE_4K);
	memset(b.bits, 0, arm == B1 || arm == AP ? n * 8 : bytes);
	t0 = now_ns();
	switch (arm) {
	case A:
		vs_walk(VIOMMU_SHADOW_UNMAP_RANGE, 0, ~0ULL, true, n);
		break;
	case AP:
		vs_walk_layout(VIOMMU_SHADOW_UNMAP_RANGE, 0, ~0ULL, true, true,
			       n);
		break;
	case B3:
		lib_walk(false, n);
		break;
	case A0:
		vs_walk(VIOMMU_SHADOW_UNMAP_RANGE, 0, ~0ULL, false, n);
		break;
	case A1:
		vs_walk(VIOMMU_SHADOW_UNMAP_RANGE, BASE,
			BASE + n * PAGE_4K - 1, true, n);
		break;
	case B1:
	case B2:
		for (i = 0; i < n; i++)
			if (t1_unmap(b.box.container, BASE + i * PAGE_4K,
				     PAGE_4K, arm == B1 ? b.bits + i : NULL,
				     8, &done))
				die("B: UNMAP_DMA");
		break;
	case C:
		t1_unmap_all();
		break;
	case E:
		if (t1_unmap(b.box.container, BASE, n * PAGE_4K, b.bits, bytes,
			     &done) || done != n * PAGE_4K)
			die("E: UNMAP_DMA");
		break;
	default:
		break;
	}
	t = now_ns() - t0;
	if (arm <= A1 || arm == B3 || arm == AP)
		gate_records(n, BASE, PAGE_4K);
	if (arm == A || arm == A1 || arm == B3 || arm == E)
		gate_bits(b.bits, n);
	/* a word per mapping: B1's own, and the padded layout's */
	for (i = 0; (arm == B1 || arm == AP) && i < n; i++)
		if (b.bits[i] != 1) {
			errno = 0;
			die("gate: B1: a page's dirty bit did not come back");
		}
	gate_empty();
	return t;
}

static uint64_t run_sparse(int arm, uint64_t n)
{
	const uint64_t stride = SPARSE_WINDOW / n & ~(PAGE_4K - 1);
	const uint64_t words = SPARSE_WINDOW / PAGE_4K / 64;
	static uint64_t *window;
	uint64_t t0, t, i, done, found = 0;

	if (!window) {
		window = mmap(NULL, words * 8, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (window == MAP_FAILED)
			die("mmap of the 256 MB bitmap");
	}
	if (arm == SA)
		vs_map_n(n, BASE, stride);
	else if (arm == SB3)
		lib_map_n(n, BASE, stride);
	else
		t1_map_n(n, BASE, stride);
	memset(b.bits, 0, n * 8);
	t0 = now_ns();
	switch (arm) {
	case SA:
		vs_walk(VIOMMU_SHADOW_UNMAP_RANGE, 0, ~0ULL, true, n);
		break;
	case SB1:
		for (i = 0; i < n; i++)
			if (t1_unmap(b.box.container, BASE + i * stride,
				     PAGE_4K, b.bits + i, 8, &done))
				die("B1: UNMAP_DMA");
		break;
	case SB3:
		lib_walk(false, n);
		break;
	case SD:
		/* What a VMM without per-mapping data does: one bitmap. */
		memset(window, 0, words * 8);
		if (t1_unmap(b.box.container, BASE, SPARSE_WINDOW, window,
			     words * 8, &done))
			die("D: UNMAP_DMA");
		for (i = 0; i < words; i++)
			found += __builtin_popcountll(window[i]);
		if (found != n) {
			errno = 0;
			die("D: wrong dirty count");
		}
		break;
	default:
		break;
	}
	t = now_ns() - t0;
	if (arm == SA || arm == SB3)
		gate_records(n, BASE, stride);
	if (arm == SA || arm == SB3)
		gate_bits(b.bits, n);
	for (i = 0; arm == SB1 && i < n; i++)
		if (b.bits[i] != 1) {
			errno = 0;
			die("gate: sparse B1: a dirty bit did not come back");
		}
	gate_empty();
	return t;
}

static uint64_t run_maps(int arm)
{
	struct viommu_shadow_map_batch mb = {
		.size = sizeof(mb), .entries = (uintptr_t)b.ent,
		.entry_size = sizeof(*b.ent), .nr_entries = 64,
	};
	uint64_t t0, t, i, k;

	for (i = 0; i < MAPS_N; i++)
		b.ent[i] = (struct viommu_shadow_map_entry) {
			.flags = VIOMMU_SHADOW_MAP_READ | VIOMMU_SHADOW_MAP_WRITE,
			.iova = BASE + i * PAGE_4K, .length = PAGE_4K,
			.vaddr = (uintptr_t)(b.mem + (i % 64) * PAGE_4K),
			.cookie = i,
		};
	t0 = now_ns();
	switch (arm) {
	case M_T1:
		t1_map_n(MAPS_N, BASE, PAGE_4K);
		break;
	case M_VS:
		for (i = 0; i < MAPS_N; i++)
			if (_vs_map(b.ctx, b.ent[i].iova, PAGE_4K,
				    (void *)(uintptr_t)b.ent[i].vaddr, i))
				die("MAP");
		break;
	case M_BATCH:
		for (k = 0; k < MAPS_N; k += 64) {
			mb.entries = (uintptr_t)(b.ent + k);
			if (ioctl(b.ctx, VIOMMU_SHADOW_MAP_BATCH, &mb))
				die("MAP_BATCH");
		}
		break;
	default:
		break;
	}
	t = now_ns() - t0;
	if (arm == M_T1)
		t1_unmap_all();
	else
		vs_walk(VIOMMU_SHADOW_UNMAP_RANGE, 0, ~0ULL, false, MAPS_N);
	gate_empty();
	return t;
}

/*
 * Syncs of 4096 back-to-back mappings: the module's SYNC_DIRTY, a
 * GET_BITMAP per mapping (what QEMU does), libvshadow's fallback (one
 * GET_BITMAP per run, split per mapping), and the floor: one GET_BITMAP
 * over the whole run, bits not split.
 */
static uint64_t run_sync(int arm)
{
	const uint64_t bytes = MAPS_N / 64 * 8;
	uint64_t t0, t, i, word;

	if (arm == Y_B3)
		lib_map_n(MAPS_N, BASE, PAGE_4K);
	else
		vs_map_n(MAPS_N, BASE, PAGE_4K);
	memset(b.bits, 0, bytes);
	t0 = now_ns();
	switch (arm) {
	case Y_VS:
		vs_walk(VIOMMU_SHADOW_SYNC_DIRTY, 0, ~0ULL, true, MAPS_N);
		break;
	case Y_LOOP:
		for (i = 0; i < MAPS_N; i++) {
			if (t1_get_bitmap(BASE + i * PAGE_4K, PAGE_4K,
					  &word, 8))
				die("GET_BITMAP");
			b.bits[i / 64] |= (word & 1) << (i % 64);
		}
		break;
	case Y_B3:
		lib_walk(true, MAPS_N);
		break;
	case Y_FLOOR:
		if (t1_get_bitmap(BASE, MAPS_N * PAGE_4K, b.bits, bytes))
			die("GET_BITMAP over the run");
		break;
	default:
		break;
	}
	t = now_ns() - t0;
	if (arm == Y_B3)
		gate_records(MAPS_N, BASE, PAGE_4K);
	gate_bits(b.bits, MAPS_N);
	if (arm == Y_B3)
		lib_walk(false, MAPS_N);
	else
		vs_walk(VIOMMU_SHADOW_UNMAP_RANGE, 0, ~0ULL, false, MAPS_N);
	gate_empty();
	return t;
}

/*
 * A vIOMMU-shaped stream, the same for both arms (a fixed seed): a guest
 * maps runs of pages, each run with one invalidation, and invalidates
 * contiguous runs of up to 64 pages (mapped in runs of 1 to 36, mean
 * about 9), with at most 256 pages live.  Four ways to serve it:
 * type1_per_page, as QEMU 7.2 does (one MAP_DMA and one UNMAP_DMA per
 * page-table entry); type1_per_run, as a VMM changed to batch would (one
 * MAP_DMA per page, type1 cannot merge them, and one UNMAP_DMA per
 * invalidated run); module_per_page, what the preload library does under
 * an unmodified QEMU (MAP and UNMAP_RANGE per page); module_per_run (one
 * MAP_BATCH per mapped run, one UNMAP_RANGE per invalidated run).
 * Returns the time; *@pages is the number of pages mapped.
 */
#define STREAM_SLOTS	512
static uint64_t run_stream(int arm, uint64_t *pages)
{
	static uint8_t live[STREAM_SLOTS];
	struct viommu_shadow_map_batch mb = {
		.size = sizeof(mb), .entries = (uintptr_t)b.ent,
		.entry_size = sizeof(*b.ent),
	};
	unsigned int seed = 12345, ev, len, slot, i, nlive = 0;
	struct viommu_shadow_unmap_range r;
	uint64_t t0, done, iova;

	memset(live, 0, sizeof(live));
	*pages = 0;
	t0 = now_ns();
	for (ev = 0; ev < STREAM_EVENTS; ev++) {
		/* Runs of 1 to 36 pages, mean about 9. */
		len = 1 + (rand_r(&seed) % 8) * (rand_r(&seed) % 3 ? 1 : 5);
		slot = rand_r(&seed) % (STREAM_SLOTS - len);
		iova = BASE + (uint64_t)slot * PAGE_4K;
		if (nlive + len <= 256 && !live[slot] && !live[slot + len - 1]) {
			for (i = 0; i < len && !live[slot + i]; i++)
				;
			len = i;
			for (i = 0; i < len; i++) {
				live[slot + i] = 1;
				b.ent[i] = (struct viommu_shadow_map_entry) {
					.flags = VIOMMU_SHADOW_MAP_READ |
						 VIOMMU_SHADOW_MAP_WRITE,
					.iova = iova + i * PAGE_4K,
					.length = PAGE_4K,
					.vaddr = (uintptr_t)(b.mem +
						((slot + i) % 64) * PAGE_4K),
				};
				if ((arm == S_T1 || arm == S_T1RUN) &&
				    t1_map(b.box.container, iova + i * PAGE_4K,
					   PAGE_4K, (void *)(uintptr_t)b.ent[i].vaddr))
					die("stream: MAP_DMA");
				if (arm == S_VSPAGE &&
				    _vs_map(b.ctx, iova + i * PAGE_4K, PAGE_4K,
					    (void *)(uintptr_t)b.ent[i].vaddr,
					    0))
					die("stream: MAP");
			}
			mb.nr_entries = len;
			if (arm == S_VS &&
			    ioctl(b.ctx, VIOMMU_SHADOW_MAP_BATCH, &mb))
				die("stream: MAP_BATCH");
			nlive += len;
			*pages += len;
			continue;
		}
		/* Invalidate the live run at or after slot. */
		while (slot < STREAM_SLOTS && !live[slot])
			slot++;
		for (len = 0; slot + len < STREAM_SLOTS && live[slot + len] &&
		     len < 64; len++)
			live[slot + len] = 0;
		if (!len)
			continue;
		nlive -= len;
		iova = BASE + (uint64_t)slot * PAGE_4K;
		if (arm == S_VS) {
			r = vs_range(iova, iova + len * PAGE_4K - 1, 0, b.rec,
				     MAX_N);
			if (ioctl(b.ctx, VIOMMU_SHADOW_UNMAP_RANGE, &r) ||
			    r.out_nr_records != len)
				die("stream: UNMAP_RANGE");
			continue;
		}
		if (arm == S_T1RUN) {
			if (t1_unmap(b.box.container, iova, len * PAGE_4K,
				     NULL, 0, &done) || done != len * PAGE_4K)
				die("stream: UNMAP_DMA of a run");
			continue;
		}
		for (i = 0; i < len; i++) {
			if (arm == S_VSPAGE) {
				r = vs_range(iova + i * PAGE_4K,
					     iova + (i + 1) * PAGE_4K - 1, 0,
					     b.rec, 1);
				if (ioctl(b.ctx, VIOMMU_SHADOW_UNMAP_RANGE, &r) ||
				    r.out_nr_records != 1)
					die("stream: UNMAP_RANGE of a page");
				continue;
			}
			if (t1_unmap(b.box.container, iova + i * PAGE_4K,
				     PAGE_4K, NULL, 0, &done))
				die("stream: UNMAP_DMA");
		}
	}
	t0 = now_ns() - t0;
	if (arm == S_T1 || arm == S_T1RUN)
		t1_unmap_all();
	else
		vs_walk(VIOMMU_SHADOW_UNMAP_RANGE, 0, ~0ULL, false, nlive);
	gate_empty();
	return t0;
}

static uint64_t run_floor(int arm)
{
	struct vfio_iommu_type1_info vinfo;
	struct viommu_shadow_info info;
	uint64_t t0, i;

	t0 = now_ns();
	for (i = 0; i < FLOOR_N; i++) {
		if (arm == F_VS) {
			info.size = sizeof(info);
			info.flags = 0;
			info.__reserved = 0;
			if (ioctl(b.ctx, VIOMMU_SHADOW_GET_INFO, &info))
				die("GET_INFO");
		} else if (arm == F_VER) {
			/* A VFIO ioctl that copies nothing. */
			if (ioctl(b.box.container, VFIO_GET_API_VERSION) !=
			    VFIO_API_VERSION)
				die("VFIO_GET_API_VERSION");
		} else {
			vinfo.argsz = sizeof(vinfo);
			if (ioctl(b.box.container, VFIO_IOMMU_GET_INFO, &vinfo))
				die("VFIO_IOMMU_GET_INFO");
		}
	}
	return now_ns() - t0;
}

/*
 * The dirty-log cells: @n one-page mappings, @stride apart, each with a
 * cookie of its own, as a vIOMMU VMM's guest-physical address: page
 * (i * LOG_MUL) % n of the log, in another order than the IOVAs (LOG_MUL
 * is prime to 4096 and to 65535).  The log is the VMM's bitmap, by cookie.
 * Arms: SYNC_DIRTY_LOG = SYNC_DIRTY with VIOMMU_SHADOW_UNMAP_DIRTY_LOG and
 * no records; QEMU_way = what QEMU 7.2 does (vfio_sync_dirty_bitmap):
 * one type1 GET_BITMAP per mapping, then its bits set in the log at the
 * mapping's guest address from the VMM's own table; B3_way =
 * libvshadow's fallback (vshadow_sync_dirty_log()): one GET_BITMAP per
 * run, split, and set in the log by cookie, one atomic OR per word.
 */
#define LOG_MUL		7919

static uint64_t *log_words;		/* MAX_N bits */
static uint64_t *log_cookie;		/* the VMM's table: cookie by index */

static void log_map_n(int arm, uint64_t n, uint64_t stride)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		log_cookie[i] = i * LOG_MUL % n * PAGE_4K;
	if (arm == L_B3)
		lib_map_cookies(n, BASE, stride, log_cookie);
	else
		vs_map_cookies(n, BASE, stride, log_cookie);
}

static void log_set(uint64_t page)
{
	__atomic_fetch_or(&log_words[page / 64], 1ULL << (page % 64),
			  __ATOMIC_RELAXED);
}

static uint64_t run_log(int arm, uint64_t n, uint64_t stride)
{
	const uint64_t words = (n + 63) / 64;
	struct vshadow_log log = {
		.size = sizeof(log), .words = log_words, .pages = n,
	};
	struct viommu_shadow_unmap_range r;
	uint64_t t0, t, i, word, total = 0, set = 0;

	log_map_n(arm, n, stride);
	memset(log_words, 0, words * 8);
	t0 = now_ns();
	switch (arm) {
	case L_VS:
		r = vs_range(0, ~0ULL, 0, NULL, 0);
		r.record_size = 0;
		vs_range_dirty(&r, NULL, 0);
		r.flags |= VIOMMU_SHADOW_UNMAP_DIRTY_LOG;
		r.log = (uintptr_t)log_words;
		r.log_pages = n;
		do {
			if (ioctl(b.ctx, VIOMMU_SHADOW_SYNC_DIRTY, &r))
				die("SYNC_DIRTY into the log");
			total += r.out_nr_records;
			r.start = r.out_resume;
		} while (r.out_flags & VIOMMU_SHADOW_UNMAP_OUT_MORE);
		break;
	case L_QEMU:
		for (i = 0; i < n; i++) {
			if (t1_get_bitmap(BASE + i * stride, PAGE_4K, &word, 8))
				die("QEMU_way: GET_BITMAP");
			if (word & 1)
				log_set(log_cookie[i] / PAGE_4K);
		}
		total = n;
		break;
	case L_B3:
		if (vshadow_sync_dirty_log(b.lib, 0, ~0ULL, VSHADOW_UNMAP_DIRTY,
					   &log, NULL, NULL))
			die("B3_way: vshadow_sync_dirty_log");
		total = n;
		break;
	default:
		break;
	}
	t = now_ns() - t0;
	/* The gate: every mapping's page, at its cookie, and nothing else. */
	for (i = 0; i < words; i++)
		set += __builtin_popcountll(log_words[i]);
	for (i = 0; i < n; i++)
		if (!(log_words[log_cookie[i] / PAGE_4K / 64] &
		      1ULL << (log_cookie[i] / PAGE_4K % 64)))
			set = 0;
	if (total != n || set != n) {
		errno = 0;
		die("gate: the log does not hold every mapping's page");
	}
	if (arm == L_B3)
		lib_walk(false, n);
	else
		vs_walk(VIOMMU_SHADOW_UNMAP_RANGE, 0, ~0ULL, false, n);
	gate_empty();
	return t;
}

static uint64_t run_log_dense(int arm, uint64_t n)
{
	return run_log(arm, n, PAGE_4K);
}

static uint64_t run_log_sparse(int arm, uint64_t n)
{
	return run_log(arm, n, SPARSE_WINDOW / n & ~(PAGE_4K - 1));
}

/* ---- cells with a fixed N ---- */

static uint64_t run_sparse_n(int arm, uint64_t n)
{
	return run_sparse(arm, n);
}

static uint64_t run_maps_n(int arm, uint64_t n)
{
	return run_maps(arm);
}

static uint64_t run_sync_n(int arm, uint64_t n)
{
	return run_sync(arm);
}

static uint64_t run_floor_n(int arm, uint64_t n)
{
	return run_floor(arm);
}

static uint64_t stream_pages;

static uint64_t run_stream_n(int arm, uint64_t n)
{
	return run_stream(arm, &stream_pages);
}

/*
 * vshadow_node's slab, from sysfs (the cache may be merged with another of
 * the same size; its figures are then the merged cache's, in an otherwise
 * idle guest): object size, and bytes of slab in use.
 */
static long slab_read(const char *file)
{
	char path[128];
	long val = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/slab/vshadow_node/%s", file);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &val) != 1)
			val = -1;
		fclose(f);
	}
	return val;
}

static long slab_bytes(void)
{
	long slabs = slab_read("slabs"), order = slab_read("order");

	return slabs < 0 || order < 0 ? -1 : slabs * (4096L << order);
}

int main(int argc, char **argv)
{
	static const int dense[] = { A, A0, A1, AP, B1, B2, B3, C, E };
	static const int sparse[] = { SA, SB1, SB3, SD };
	static const int maps[] = { M_T1, M_VS, M_BATCH };
	static const int sync[] = { Y_VS, Y_LOOP, Y_B3, Y_FLOOR };
	static const int stream[] = { S_T1, S_T1RUN, S_VSPAGE, S_VS };
	static const int floor[] = { F_VS, F_T1, F_VER };
	static const int logs[] = { L_VS, L_QEMU, L_B3 };
	static const int logs_big[] = { L_VS, L_B3 };
	static const uint64_t ns[] = { 256, 4096, MAX_N };
	double dense_med[3][BENCH_MAX_ARMS];
	long s0, s1;
	unsigned int i;
	char name[32];

	bench_arm_name = arm_name;
	if (argc > 1)
		reps = atoi(argv[1]) > 0 && atoi(argv[1]) <= MAX_REPS ?
		       atoi(argv[1]) : MAX_REPS;
	b.ctx = open(VS_DEV, O_RDWR);
	if (b.ctx < 0 || vfio_box_open(&b.box, 0, true))
		die("setup: no module or no edu device");
	if (_vs_attach(b.ctx, VIOMMU_SHADOW_BACKEND_VFIO_TYPE1, b.box.container))
		die("ATTACH");
	if (t1_dirty(b.box.container, VFIO_IOMMU_DIRTY_PAGES_FLAG_START))
		die("dirty tracking");
	b.mem = mmap(NULL, 64 * PAGE_4K, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	b.rec = calloc(MAX_N, sizeof(*b.rec));
	b.ent = calloc(MAX_N, sizeof(*b.ent));
	b.bits = calloc(MAX_N, 8);
	log_words = calloc(MAX_N / 64 + 1, 8);
	log_cookie = calloc(MAX_N, 8);
	if (b.mem == MAP_FAILED || !b.rec || !b.ent || !b.bits || !log_words ||
	    !log_cookie)
		die("memory");
	b.avail0 = dma_avail();
	if (vshadow_open_type1(&b.lib, b.box.container, VSHADOW_OPEN_USERSPACE))
		die("B3: vshadow_open_type1");

	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "dense-%llu",
			 (unsigned long long)ns[i]);
		bench_cell(name, dense, 9, ns[i], ns[i] == MAX_N ? (reps + 1) / 2 :
		     reps, run_dense);
		memcpy(dense_med[i], bench_med, sizeof(dense_med[i]));
		bench_pratio_group(name);
		bench_pratio("A/B3", A, B3);
		bench_pratio("A/E", A, E);
		bench_pratio("A/B1", A, B1);
		bench_pratio("B3/E", B3, E);
		bench_pratio("A_padded/B3", AP, B3);
		bench_pratio("A_padded/A", AP, A);
	}
	bench_cell("sparse-16-in-8TB", sparse, 4, 16, reps, run_sparse_n);
	bench_pratio_group("sparse-16");
	bench_pratio("A/B3", SA, SB3);
	bench_pratio("A/B1", SA, SB1);
	bench_cell("sparse-4096-in-8TB", sparse, 3, 4096, reps, run_sparse_n);
	bench_pratio_group("sparse-4096");
	bench_pratio("A/B3", SA, SB3);
	bench_pratio("A/B1", SA, SB1);
	bench_cell("maps-4096", maps, 3, MAPS_N, reps, run_maps_n);
	bench_pratio_group("maps-4096");
	bench_pratio("MAP/MAP_DMA", M_VS, M_T1);
	bench_pratio("MAP_BATCH64/MAP_DMA", M_BATCH, M_T1);
	bench_cell("sync-4096", sync, 4, MAPS_N, reps, run_sync_n);
	bench_pratio_group("sync-4096");
	bench_pratio("SYNC_DIRTY/GET_BITMAP_run", Y_VS, Y_FLOOR);
	bench_pratio("SYNC_DIRTY/B3_sync", Y_VS, Y_B3);
	bench_pratio("SYNC_DIRTY/GET_BITMAP_loop", Y_VS, Y_LOOP);
	bench_cell("stream", stream, 4, 1, reps, run_stream_n);
	bench_pratio_group("stream");
	bench_pratio("module_per_run/type1_per_run", S_VS, S_T1RUN);
	bench_pratio("module_per_page/type1_per_page", S_VSPAGE, S_T1);
	bench_pratio("module_per_run/type1_per_page", S_VS, S_T1);
	printf("note stream: %llu pages mapped per run, times above are per run\n",
	       (unsigned long long)stream_pages);
	bench_cell("floor", floor, 3, FLOOR_N, reps, run_floor_n);
	/*
	 * QEMU's way at 65535 is left out: type1's GET_BITMAP walks its tree
	 * from the start each time, about a minute per repetition there.
	 */
	bench_cell("log-dense-4096", logs, 3, 4096, reps, run_log_dense);
	bench_pratio_group("log-dense-4096");
	bench_pratio("SYNC_DIRTY_LOG/QEMU_way", L_VS, L_QEMU);
	bench_pratio("SYNC_DIRTY_LOG/B3_way", L_VS, L_B3);
	bench_cell("log-dense-65535", logs_big, 2, MAX_N, (reps + 1) / 2,
		   run_log_dense);
	bench_pratio_group("log-dense-65535");
	bench_pratio("SYNC_DIRTY_LOG/B3_way", L_VS, L_B3);
	bench_cell("log-sparse-4096", logs, 3, 4096, reps, run_log_sparse);
	bench_pratio_group("log-sparse-4096");
	bench_pratio("SYNC_DIRTY_LOG/QEMU_way", L_VS, L_QEMU);
	bench_pratio("SYNC_DIRTY_LOG/B3_way", L_VS, L_B3);

	for (i = 0; i < 3; i++) {
		double *m = dense_med[i];

		printf("ratio-n %llu\n", (unsigned long long)ns[i]);
		bench_ratio("A/B3", m[A], m[B3]);
		bench_ratio("A/E", m[A], m[E]);
		bench_ratio("A/B1", m[A], m[B1]);
		bench_ratio("A/C", m[A], m[C]);
		bench_ratio("A0/C", m[A0], m[C]);
		bench_ratio("A1/A", m[A1], m[A]);
	}
	printf("ratio-n sparse\n");
	bench_ratio("D/A", bench_med[SD], bench_med[SA]);
	bench_ratio("A/B1", bench_med[SA], bench_med[SB1]);
	printf("ratio-n other\n");
	bench_ratio("MAP/MAP_DMA", bench_med[M_VS], bench_med[M_T1]);
	bench_ratio("MAP_BATCH64/MAP_DMA", bench_med[M_BATCH], bench_med[M_T1]);
	bench_ratio("SYNC_DIRTY/GET_BITMAP_loop", bench_med[Y_VS], bench_med[Y_LOOP]);
	bench_ratio("SYNC_DIRTY/B3_sync", bench_med[Y_VS], bench_med[Y_B3]);
	bench_ratio("SYNC_DIRTY/GET_BITMAP_run", bench_med[Y_VS], bench_med[Y_FLOOR]);
	bench_ratio("stream_module_per_run/type1_per_page", bench_med[S_VS], bench_med[S_T1]);
	bench_ratio("GET_INFO/VFIO_IOMMU_GET_INFO", bench_med[F_VS], bench_med[F_T1]);
	bench_ratio("GET_INFO/VFIO_GET_API_VERSION", bench_med[F_VS], bench_med[F_VER]);

	/* Memory per shadow mapping: the slab object, and slab growth. */
	s0 = slab_bytes();
	if (s0 >= 0 && slab_read("object_size") > 0) {
		vs_map_n(MAX_N, BASE, PAGE_4K);
		s1 = slab_bytes();
		printf("mem object_size %ld\n", slab_read("object_size"));
		printf("mem slab_bytes_per_mapping %.1f\n",
		       (double)(s1 - s0) / MAX_N);
		vs_walk(VIOMMU_SHADOW_UNMAP_RANGE, 0, ~0ULL, false, MAX_N);
		gate_empty();
	} else {
		printf("note memory: /sys/kernel/slab/vshadow_node unavailable\n");
	}
	printf("vshadow_bench: done\n");
	return 0;
}
