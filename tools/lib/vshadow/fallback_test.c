// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fallback_test: libvshadow's userspace fallback against a model of VFIO
 * type1, on the host.  The test links libvshadow.a with
 * -Wl,--wrap=syscall, so that the library's type1 ioctls reach the model
 * below instead of a kernel.
 *
 * The model keeps what type1 keeps (its mappings in IOVA order, each
 * with one dirty bit per page) and answers as type1 v2 does: it checks a
 * whole request first (alignment, tracking, bitmap size and limit, a
 * range that would cut a mapping: EINVAL), then walks the range's
 * mappings in IOVA order, ORs each one's bits into the caller's bitmap at
 * its page offset from the range's start, and unmaps it (or, for
 * GET_BITMAP, clears and refills its bits).  Each mapping's bits are a
 * pattern that differs per page and per read, and the model remembers
 * what it gave for each mapping, so a test can check every bit the
 * library hands to its callback against what type1 delivered, and so
 * prove where the library's word shifts put them.  A real type1 behind
 * vfio-pci reports every page dirty, which cannot tell a misplaced bit
 * from a right one; the guest's libvshadow_test checks the rest against
 * the real thing.
 *
 * Faults: the model can fail its N-th next mapping of a call (after it
 * unmapped or read the ones before, as type1 would after a fault on the
 * caller's bitmap), and can fail every call that asks bits of a given
 * mapping.
 *
 * Prints "fallback_test: N passed, M failed"; exits 1 on any failure.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include <linux/vfio.h>

#include "vshadow.h"
#include "vshadow_test.h"

#define FD		1000		/* the model's "container" */
#define PG		4096ULL
#define MAXMAP		512
#define MAXPAGES	512		/* per mapping, in the model */
#define WORDS(p)	(((p) + 63) / 64)

/* ---- the model ---- */

struct dma {
	uint64_t iova, size;
	uint64_t bits[WORDS(MAXPAGES)];	/* dirty, bit 0 for the page at iova */
	uint64_t gave[WORDS(MAXPAGES)];	/* what the last read delivered */
	unsigned int reads;
};

static struct {
	struct dma dma[MAXMAP];
	int nr;
	bool tracking;
	uint64_t bitmap_max;		/* max_dirty_bitmap_size */
	int fail_nth;			/* fail at this mapping of the next call */
	int fail_err;
	uint64_t fail_bits_of;		/* fail any bitmap call that reaches it */
	uint64_t pg;			/* its page size: 4K, or another */
	bool enoent;			/* answer an unmap of nothing ENOENT */
	unsigned int unmaps, reads;	/* calls with a range */
	unsigned int ioctls;		/* all of them */
	uint64_t gone_gave[MAXMAP][1 + WORDS(MAXPAGES)];
	int nr_gone;
} t1;

static bool bit(const uint64_t *w, uint64_t i)
{
	return w[i / 64] >> (i % 64) & 1;
}

/* A pattern that differs per page and per read: no two runs look alike. */
static void fill(struct dma *d)
{
	uint64_t i, pages = d->size / PG, x;

	memset(d->bits, 0, sizeof(d->bits));
	for (i = 0; i < pages; i++) {
		x = (d->iova / PG + i) * 0x9e3779b97f4a7c15ULL + d->reads * 77;
		if ((x >> 29) % 3)
			d->bits[i / 64] |= 1ULL << (i % 64);
	}
}

static int find(uint64_t iova)		/* the mapping holding @iova, or -1 */
{
	int i;

	for (i = 0; i < t1.nr; i++)
		if (iova >= t1.dma[i].iova && iova - t1.dma[i].iova < t1.dma[i].size)
			return i;
	return -1;
}

/* type1's own checks: aligned, no wrap, and no mapping cut by the range. */
static int range_ok(uint64_t iova, uint64_t size)
{
	int i;

	if (!size || (iova | size) % t1.pg || iova + size - 1 < iova)
		return -EINVAL;
	i = find(iova);
	if (i >= 0 && t1.dma[i].iova != iova)
		return -EINVAL;
	i = find(iova + size - 1);
	if (i >= 0 && t1.dma[i].iova + t1.dma[i].size != iova + size)
		return -EINVAL;
	return 0;
}

static int bitmap_ok(const struct vfio_bitmap *b, uint64_t size)
{
	uint64_t need = WORDS(size / t1.pg) * 8;

	if (!t1.tracking || b->pgsize != t1.pg || b->size < need ||
	    b->size > t1.bitmap_max)
		return -EINVAL;
	return 0;
}

/* OR mapping @d's bits into @out at its page offset from @base. */
static void put_bits(uint64_t *out, const struct dma *d, uint64_t base)
{
	uint64_t i, off = (d->iova - base) / PG;

	for (i = 0; i < d->size / PG; i++)
		if (bit(d->bits, i))
			out[(off + i) / 64] |= 1ULL << ((off + i) % 64);
}

static bool fault_here(const struct dma *d, int n, bool bits)
{
	if (t1.fail_nth && n + 1 == t1.fail_nth)
		return true;
	return bits && t1.fail_bits_of && d->iova == t1.fail_bits_of;
}

static int t1_unmap(struct vfio_iommu_type1_dma_unmap *u)
{
	struct vfio_bitmap *b = (void *)u->data;
	bool bits = u->flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
	uint64_t done = 0;
	int i, n = 0, ret = 0;

	t1.unmaps++;
	if (u->flags & ~VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP ||
	    (bits && u->argsz < sizeof(*u) + sizeof(*b)))
		return -EINVAL;
	ret = range_ok(u->iova, u->size);
	if (!ret && bits)
		ret = bitmap_ok(b, u->size);
	if (ret)
		return ret;
	for (i = 0; i < t1.nr;) {
		struct dma *d = &t1.dma[i];

		if (d->iova < u->iova || d->iova - u->iova >= u->size) {
			i++;
			continue;
		}
		if (fault_here(d, n++, bits)) {
			ret = t1.fail_err;
			break;
		}
		if (bits) {
			put_bits((uint64_t *)b->data, d, u->iova);
			t1.gone_gave[t1.nr_gone][0] = d->iova;
			memcpy(&t1.gone_gave[t1.nr_gone++][1], d->bits,
			       sizeof(d->bits));
		}
		done += d->size;
		memmove(d, d + 1, (t1.nr - i - 1) * sizeof(*d));
		t1.nr--;
	}
	t1.fail_nth = 0;
	if (!ret && !done && t1.enoent)
		return -ENOENT;		/* iommufd's compatibility layer */
	if (!ret)
		u->size = done;		/* written back on success only */
	return ret;
}

static int t1_dirty(struct vfio_iommu_type1_dirty_bitmap *h)
{
	struct vfio_iommu_type1_dirty_bitmap_get *g = (void *)h->data;
	int i, n = 0, ret = 0;

	switch (h->flags) {
	case VFIO_IOMMU_DIRTY_PAGES_FLAG_START:
		t1.tracking = true;
		return 0;
	case VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP:
		t1.tracking = false;
		return 0;
	case VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP:
		break;
	default:
		return -EINVAL;		/* START|STOP: what a v2 says */
	}
	t1.reads++;
	if (h->argsz < sizeof(*h) + sizeof(*g))
		return -EINVAL;
	ret = bitmap_ok(&g->bitmap, g->size);
	if (!ret)
		ret = range_ok(g->iova, g->size);
	if (ret)
		return ret;
	for (i = 0; i < t1.nr; i++) {
		struct dma *d = &t1.dma[i];

		if (d->iova < g->iova || d->iova - g->iova >= g->size)
			continue;
		if (fault_here(d, n++, true)) {
			ret = t1.fail_err;
			break;
		}
		put_bits((uint64_t *)g->bitmap.data, d, g->iova);
		memcpy(d->gave, d->bits, sizeof(d->bits));
		d->reads++;
		fill(d);		/* cleared, then dirtied again */
	}
	t1.fail_nth = 0;
	return ret;
}

static int t1_map(const struct vfio_iommu_type1_dma_map *m)
{
	struct dma *d;
	int i;

	if (!m->size || (m->iova | m->size) % t1.pg || m->size / PG > MAXPAGES ||
	    t1.nr == MAXMAP)
		return -EINVAL;
	for (i = 0; i < t1.nr; i++)
		if (m->iova < t1.dma[i].iova + t1.dma[i].size &&
		    t1.dma[i].iova < m->iova + m->size)
			return -EEXIST;
	for (i = 0; i < t1.nr && t1.dma[i].iova < m->iova; i++)
		;
	memmove(&t1.dma[i + 1], &t1.dma[i], (t1.nr - i) * sizeof(*d));
	t1.nr++;
	d = &t1.dma[i];
	*d = (struct dma) { .iova = m->iova, .size = m->size };
	fill(d);
	return 0;
}

/* GET_INFO: 4K pages, one IOVA range (48 bits), the migration capability. */
static int t1_info(struct vfio_iommu_type1_info *info)
{
	struct {
		struct vfio_iommu_type1_info_cap_iova_range cap;
		struct vfio_iova_range range;
	} *r;
	struct vfio_iommu_type1_info_cap_migration *mig;
	size_t need = sizeof(*info) + sizeof(*r) + sizeof(*mig);

	if (info->argsz < sizeof(*info))
		return -EINVAL;
	info->flags = VFIO_IOMMU_INFO_PGSIZES;
	info->iova_pgsizes = t1.pg | (2ULL << 20) | (1ULL << 30);
	if (info->argsz < need) {
		info->argsz = need;
		return 0;
	}
	info->flags |= VFIO_IOMMU_INFO_CAPS;
	info->cap_offset = sizeof(*info);
	r = (void *)(info + 1);
	r->cap.header.id = VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE;
	r->cap.header.version = 1;
	r->cap.header.next = sizeof(*info) + sizeof(*r);
	r->cap.nr_iovas = 1;
	r->range = (struct vfio_iova_range) { 0, (1ULL << 48) - 1 };
	mig = (void *)(r + 1);
	mig->header.id = VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION;
	mig->header.version = 1;
	mig->header.next = 0;
	mig->pgsize_bitmap = t1.pg;
	mig->max_dirty_bitmap_size = t1.bitmap_max;
	return 0;
}

long __wrap_syscall(long nr, ...)
{
	long a[6];
	va_list ap;
	int i, ret;

	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr != SYS_ioctl || a[0] != FD)
		return __real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	t1.ioctls++;
	switch ((unsigned long)a[1]) {
	case VFIO_IOMMU_GET_INFO:
		ret = t1_info((void *)a[2]);
		break;
	case VFIO_IOMMU_MAP_DMA:
		ret = t1_map((void *)a[2]);
		break;
	case VFIO_IOMMU_UNMAP_DMA:
		ret = t1_unmap((void *)a[2]);
		break;
	case VFIO_IOMMU_DIRTY_PAGES:
		ret = t1_dirty((void *)a[2]);
		break;
	default:
		ret = -ENOTTY;
	}
	if (ret) {
		errno = -ret;
		return -1;
	}
	return 0;
}

/* ---- the tests ---- */

static int passed, failed;

#define CHECK(cond, ...) do {						\
	if (cond) {							\
		passed++;						\
	} else {							\
		failed++;						\
		printf("FAIL %s:%d: %s: ", __func__, __LINE__, #cond);	\
		printf(__VA_ARGS__);					\
		printf("\n");						\
	}								\
} while (0)

/* What the callback saw, and whether each mapping's bits were type1's. */
struct seen {
	int nr, bad_bits, lost;
	uint64_t iova[MAXMAP];
	bool sync;
	bool no_bits;			/* bits not asked for */
};

/* The bits type1 delivered for the mapping at @iova, in the last call. */
static const uint64_t *delivered(const struct seen *s, uint64_t iova)
{
	int i;

	if (s->sync) {
		i = find(iova);
		return i < 0 ? NULL : t1.dma[i].gave;
	}
	for (i = t1.nr_gone - 1; i >= 0; i--)
		if (t1.gone_gave[i][0] == iova)
			return &t1.gone_gave[i][1];
	return NULL;
}

static int seen_fn(void *opaque, const struct vshadow_unmapped *m)
{
	struct seen *s = opaque;
	const uint64_t *want = delivered(s, m->iova);
	uint64_t i;

	if (s->nr < MAXMAP)
		s->iova[s->nr] = m->iova;
	s->nr++;
	if (m->flags & VSHADOW_UNMAPPED_DIRTY_LOST) {
		s->lost++;
		return 0;
	}
	if (!(m->flags & VSHADOW_UNMAPPED_DIRTY)) {
		s->bad_bits += !s->no_bits;	/* asked, but none */
		return 0;
	}
	for (i = 0; i < WORDS(m->nr_pages) * 64; i++) {
		bool want_bit = i < m->nr_pages && want && bit(want, i);

		if (bit(m->dirty, i) != want_bit) {
			if (!s->bad_bits++)
				printf("  mapping 0x%llx: bit %llu is %d, type1 gave %d\n",
				       (unsigned long long)m->iova,
				       (unsigned long long)i,
				       bit(m->dirty, i), want_bit);
		}
	}
	return 0;
}

/*
 * Mappings in groups of back to back ones, with every page offset a word
 * can have: lengths of 1 to 129 pages, groups 1 to 9 long, gaps between.
 * Returns the number of groups (runs).
 */
static int layout(struct vshadow *vs, uint64_t base, int groups, int *nr)
{
	static const uint64_t lens[] = { 1, 2, 3, 31, 63, 64, 65, 100, 127,
					 128, 129 };
	uint64_t iova = base, x = 12345;
	int g, k, n, ret;

	*nr = 0;
	for (g = 0; g < groups; g++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		n = 1 + (x >> 33) % 9;
		for (k = 0; k < n; k++) {
			x = x * 6364136223846793005ULL + 1;
			ret = vshadow_map(vs, iova, lens[(x >> 35) % 11] * PG,
					  (void *)4096, VSHADOW_MAP_READ,
					  iova ^ 0xc0);
			if (ret)
				return ret;
			iova += lens[(x >> 35) % 11] * PG;
			(*nr)++;
		}
		iova += (1 + g % 3) * PG;	/* a gap */
	}
	return groups;
}

/* A new model whose bitmap limit is @max bytes, and a handle on it. */
static struct vshadow *fresh_limit(uint64_t max)
{
	struct vshadow *vs;

	memset(&t1, 0, sizeof(t1));
	t1.pg = PG;
	t1.bitmap_max = max;
	t1.fail_err = -EFAULT;
	if (vshadow_open_type1(&vs, FD, VSHADOW_OPEN_USERSPACE))
		return NULL;
	return vs;
}

static struct vshadow *fresh(void)
{
	return fresh_limit(256ULL << 20);	/* 6.1's and 6.12's */
}

static int nr_mappings(struct vshadow *vs)
{
	struct vshadow_info info = { .size = sizeof(info) };

	vshadow_get_info(vs, &info);
	return (int)info.nr_mappings;
}

/* A sync and an unmap of everything: one call per run, every bit type1's. */
static void test_one_call_per_run(void)
{
	struct vshadow *vs = fresh();
	struct seen s = { .sync = true };
	int runs, nr, ret;

	runs = layout(vs, 1ULL << 30, 40, &nr);
	CHECK(runs == 40, "layout: %d", runs);
	t1.tracking = true;
	ret = vshadow_sync_dirty(vs, 0, UINT64_MAX, VSHADOW_UNMAP_DIRTY,
				 seen_fn, &s);
	CHECK(!ret, "sync: %d", ret);
	CHECK(s.nr == nr, "sync reported %d of %d", s.nr, nr);
	CHECK(!s.bad_bits && !s.lost, "%d bits wrong, %d lost", s.bad_bits,
	      s.lost);
	CHECK(t1.reads == (unsigned int)runs, "%u GET_BITMAPs for %d runs",
	      t1.reads, runs);

	s = (struct seen) { 0 };
	ret = vshadow_unmap_range(vs, 0, UINT64_MAX, VSHADOW_UNMAP_DIRTY,
				  seen_fn, &s);
	CHECK(!ret, "unmap: %d", ret);
	CHECK(s.nr == nr && !t1.nr && !nr_mappings(vs),
	      "reported %d of %d; type1 keeps %d, the handle %d",
	      s.nr, nr, t1.nr, nr_mappings(vs));
	CHECK(!s.bad_bits && !s.lost, "%d bits wrong, %d lost", s.bad_bits,
	      s.lost);
	CHECK(t1.unmaps == (unsigned int)runs, "%u unmaps for %d runs",
	      t1.unmaps, runs);
	CHECK(vshadow__type1_calls(vs) == t1.ioctls,
	      "the library counted %llu calls, type1 saw %u",
	      (unsigned long long)vshadow__type1_calls(vs), t1.ioctls);
	vshadow_close(vs);
}

/* type1's bitmap limit cuts runs, and only where it must. */
static void test_bitmap_limit(void)
{
	struct vshadow *vs = fresh_limit(32);	/* 256 pages */
	struct seen s = { 0 };
	int nr, i, ret;

	for (i = 0; i < 6; i++)		/* one run: 6 x 100 pages */
		CHECK(!vshadow_map(vs, (1ULL << 30) + i * 100 * PG, 100 * PG,
				   (void *)4096, VSHADOW_MAP_READ, i), "map");
	nr = 6;
	t1.tracking = true;
	ret = vshadow_unmap_range(vs, 0, UINT64_MAX, VSHADOW_UNMAP_DIRTY,
				  seen_fn, &s);
	CHECK(!ret && s.nr == nr, "ret %d, %d of %d", ret, s.nr, nr);
	CHECK(!s.bad_bits, "%d bits wrong", s.bad_bits);
	/* 200 pages fit 32 bytes, 300 do not: three calls */
	CHECK(t1.unmaps == 3, "%u unmaps, want 3", t1.unmaps);

	/* one mapping over the limit: E2BIG, after the ones before it */
	CHECK(!vshadow_map(vs, 1ULL << 30, PG, (void *)4096,
			   VSHADOW_MAP_READ, 1), "map");
	CHECK(!vshadow_map(vs, (1ULL << 30) + 2 * PG, 300 * PG, (void *)4096,
			   VSHADOW_MAP_READ, 2), "map");
	s = (struct seen) { 0 };
	ret = vshadow_unmap_range(vs, 0, UINT64_MAX, VSHADOW_UNMAP_DIRTY,
				  seen_fn, &s);
	CHECK(ret == -E2BIG && s.nr == 1 && nr_mappings(vs) == 1 &&
	      t1.nr == 1, "ret %d, reported %d, left %d/%d", ret,
	      s.nr, nr_mappings(vs), t1.nr);
	vshadow_close(vs);
}

/*
 * type1 fails in the middle of a run, after it unmapped some first
 * mappings with their bits: those come from the run's bitmap, the rest
 * from a call each; nothing lost, nothing left behind.
 */
static void test_run_fails_part_way(void)
{
	struct vshadow *vs;
	struct seen s;
	int nr, k, ret;

	for (k = 1; k <= 8; k++) {
		vs = fresh();
		t1.enoent = k > 4;	/* the compatibility layer's answer */
		s = (struct seen) { 0 };
		layout(vs, 1ULL << 30, 1, &nr);	/* one run */
		if (nr < 5) {
			vshadow_close(vs);
			vs = fresh();
			for (nr = 0; nr < 6; nr++)
				vshadow_map(vs, (1ULL << 30) + nr * 3 * PG,
					    3 * PG, (void *)4096,
					    VSHADOW_MAP_READ, nr);
		}
		t1.tracking = true;
		t1.fail_nth = (k - 1) % 4 + 1;	/* that mapping of the run's call */
		ret = vshadow_unmap_range(vs, 0, UINT64_MAX,
					  VSHADOW_UNMAP_DIRTY, seen_fn, &s);
		CHECK(!ret && s.nr == nr && !t1.nr && !nr_mappings(vs),
		      "k %d: ret %d, reported %d of %d, left %d/%d", k,
		      ret, s.nr, nr, t1.nr, nr_mappings(vs));
		CHECK(!s.bad_bits && !s.lost, "k %d: %d bits wrong, %d lost",
		      k, s.bad_bits, s.lost);
		vshadow_close(vs);
	}
}

/*
 * A mapping whose bits type1 cannot deliver, after the run's call failed
 * at it: unmapped without them, DIRTY_LOST, and the walk stops there with
 * the error; the handle and type1 agree.
 */
static void test_unknown_fate(void)
{
	struct vshadow *vs = fresh();
	struct seen s = { 0 };
	int i, ret;

	for (i = 0; i < 5; i++)
		vshadow_map(vs, (1ULL << 30) + i * 2 * PG, 2 * PG,
			    (void *)4096, VSHADOW_MAP_READ, i);
	t1.tracking = true;
	t1.fail_bits_of = (1ULL << 30) + 2 * 2 * PG;	/* the third */
	ret = vshadow_unmap_range(vs, 0, UINT64_MAX, VSHADOW_UNMAP_DIRTY,
				  seen_fn, &s);
	CHECK(ret == -EFAULT && s.nr == 3 && s.lost == 1 &&
	      s.iova[2] == t1.fail_bits_of,
	      "ret %d, reported %d, %d lost", ret, s.nr, s.lost);
	CHECK(!s.bad_bits, "%d bits wrong", s.bad_bits);
	CHECK(t1.nr == 2 && nr_mappings(vs) == 2, "left %d/%d", t1.nr,
	      nr_mappings(vs));
	vshadow_close(vs);
}

/* Tracking off: ENODATA for a run too, and nothing changes. */
static void test_tracking_off(void)
{
	struct vshadow *vs = fresh();
	struct seen s = { 0 };
	int nr, ret;

	layout(vs, 1ULL << 30, 4, &nr);
	ret = vshadow_unmap_range(vs, 0, UINT64_MAX, VSHADOW_UNMAP_DIRTY,
				  seen_fn, &s);
	CHECK(ret == -ENODATA && !s.nr && t1.nr == nr &&
	      nr_mappings(vs) == nr,
	      "ret %d, reported %d, left %d/%d of %d", ret, s.nr,
	      t1.nr, nr_mappings(vs), nr);
	ret = vshadow_sync_dirty(vs, 0, UINT64_MAX, VSHADOW_UNMAP_DIRTY,
				 seen_fn, &s);
	CHECK(ret == -ENODATA && !s.nr, "sync: ret %d, reported %d", ret,
	      s.nr);
	vshadow_close(vs);
}

/* A sync that fails part way: the run is reported, DIRTY_LOST. */
static void test_sync_fails_part_way(void)
{
	struct vshadow *vs = fresh();
	struct seen s = { .sync = true };
	int i, ret;

	for (i = 0; i < 4; i++)
		vshadow_map(vs, (1ULL << 30) + i * PG, PG, (void *)4096,
			    VSHADOW_MAP_READ, i);
	t1.tracking = true;
	t1.fail_nth = 3;
	ret = vshadow_sync_dirty(vs, 0, UINT64_MAX, VSHADOW_UNMAP_DIRTY,
				 seen_fn, &s);
	CHECK(ret == -EFAULT && s.nr == 4 && s.lost == 4,
	      "ret %d, reported %d, %d lost", ret, s.nr, s.lost);
	CHECK(t1.nr == 4 && nr_mappings(vs) == 4, "a sync unmaps nothing");
	vshadow_close(vs);
}

/*
 * The VMM replaced one of the handle's mappings directly with a longer
 * one: type1 refuses to cut it, and the handle breaks (EIO) instead of
 * keeping a mapping that blocks every later unmap.
 */
static void test_changed_directly(void)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u), .iova = (1ULL << 30) + PG, .size = PG,
	};
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m), .iova = (1ULL << 30) + PG, .size = 3 * PG,
	};
	struct vshadow_info info = { .size = sizeof(info) };
	struct vshadow *vs;
	int pass, ret;

	for (pass = 0; pass < 2; pass++) {
		vs = fresh();
		t1.tracking = pass;
		vshadow_map(vs, 1ULL << 30, PG, (void *)4096,
			    VSHADOW_MAP_READ, 1);
		vshadow_map(vs, (1ULL << 30) + PG, PG, (void *)4096,
			    VSHADOW_MAP_READ, 2);
		u.size = PG;
		t1_unmap(&u);
		t1_map(&m);
		ret = vshadow_unmap_range(vs, 0, UINT64_MAX,
					  pass ? VSHADOW_UNMAP_DIRTY : 0,
					  NULL, NULL);
		vshadow_get_info(vs, &info);
		CHECK(ret == -EIO && info.broken, "pass %d: ret %d", pass,
		      ret);
		vshadow_close(vs);
	}
}

/* A function that stops the walk at its @at-th mapping. */
struct stopper {
	int nr, at;
};

static int stop_at(void *opaque, const struct vshadow_unmapped *m)
{
	struct stopper *st = opaque;

	st->nr += m->size == sizeof(*m);
	return st->nr >= st->at ? -ECANCELED : 0;
}

/*
 * The caller's function stops the walk: the run in progress is passed on
 * whole (it is unmapped), no further type1 call is made, and the walk
 * returns the function's value; what is left is still mapped.
 */
static void test_stop(void)
{
	struct stopper st = { .at = 2 };
	struct vshadow *vs = fresh();
	unsigned int calls;
	int i, ret;

	for (i = 0; i < 12; i++)	/* runs of 4 */
		vshadow_map(vs, (1ULL << 30) + i * PG + i / 4 * PG, PG,
			    (void *)4096, VSHADOW_MAP_READ, i);
	calls = t1.unmaps;
	ret = vshadow_unmap_range(vs, 0, UINT64_MAX, 0, stop_at, &st);
	CHECK(ret == -ECANCELED && st.nr == 4 && t1.unmaps - calls == 1,
	      "ret %d, %d passed on, %u calls", ret, st.nr, t1.unmaps - calls);
	CHECK(t1.nr == 8 && nr_mappings(vs) == 8, "left %d/%d", t1.nr,
	      nr_mappings(vs));
	st = (struct stopper) { .at = 1000 };
	CHECK(!vshadow_unmap_range(vs, 0, UINT64_MAX, 0, stop_at, &st) &&
	      st.nr == 8 && !t1.nr, "the rest: %d", st.nr);
	vshadow_close(vs);

	/*
	 * A run that type1 refuses at its first mapping is found out one
	 * mapping at a time; a stop at the first one found still there
	 * ends that too: one more call, nothing more unmapped.
	 */
	vs = fresh();
	for (i = 0; i < 6; i++)
		vshadow_map(vs, (1ULL << 30) + i * PG, PG, (void *)4096,
			    VSHADOW_MAP_READ, i);
	t1.fail_nth = 1;
	st = (struct stopper) { .at = 1 };
	ret = vshadow_unmap_range(vs, 0, UINT64_MAX, 0, stop_at, &st);
	CHECK(ret == -ECANCELED && st.nr == 1 && t1.unmaps == 2 &&
	      t1.nr == 5 && nr_mappings(vs) == 5,
	      "ret %d, passed on %d, %u unmaps, left %d/%d", ret, st.nr,
	      t1.unmaps, t1.nr, nr_mappings(vs));
	vshadow_close(vs);
}

/*
 * Batches: entries mapped in order up to the first refused one; ranges
 * unmapped in order; a caller's struct larger than the library's, with
 * its unknown bytes 0, is taken, with a non-zero one refused.
 */
static void test_batches(void)
{
	struct big_entry {
		struct vshadow_map_entry e;
		uint64_t newer;
	} big[300];
	struct vshadow_range r[3] = {
		{ 1ULL << 30, (1ULL << 30) + 100 * PG - 1 },
		{ (1ULL << 30) + 200 * PG, (1ULL << 30) + 300 * PG - 1 },
		{ 0, UINT64_MAX },
	};
	struct vshadow *vs = fresh();
	struct seen s = { 0 };
	uint32_t done = 7;
	int i, ret;

	memset(big, 0, sizeof(big));
	for (i = 0; i < 300; i++)
		big[i].e = (struct vshadow_map_entry) {
			.iova = (1ULL << 30) + i * PG, .length = PG,
			.vaddr = (void *)4096, .prot = VSHADOW_MAP_READ,
			.cookie = i,
		};
	big[280].newer = 1;
	ret = vshadow_map_batch(vs, &big[0].e, 300, sizeof(big[0]), &done);
	CHECK(ret == -E2BIG && done == 280 && t1.nr == 280 &&
	      nr_mappings(vs) == 280, "ret %d, done %u, mapped %d/%d", ret,
	      done, t1.nr, nr_mappings(vs));
	CHECK(vshadow_map_batch(vs, &big[0].e, 0, sizeof(big[0]), &done) ==
	      -EINVAL && vshadow_map_batch(vs, &big[0].e, 1, 8, &done) ==
	      -EINVAL, "nr 0, a short entry");
	ret = vshadow_map_batch(vs, &big[270].e, 5, sizeof(big[0]), &done);
	CHECK(ret == -EEXIST && !done, "an overlap: ret %d, done %u", ret,
	      done);
	t1.tracking = true;
	ret = vshadow_unmap_batch(vs, r, 3, VSHADOW_UNMAP_DIRTY, seen_fn, &s,
				  &done);
	CHECK(!ret && done == 3 && s.nr == 280 && !s.bad_bits && !t1.nr,
	      "ret %d, done %u, %d passed on, %d bits wrong, %d left", ret,
	      done, s.nr, s.bad_bits, t1.nr);
	/* in the order of the ranges: pages 0-99, 200-279, then 100-199 */
	for (i = 0; i < s.nr && i < 280; i++)
		if (s.iova[i] != (1ULL << 30) +
		    (i < 100 ? i : i < 180 ? i + 100 : i - 80) * PG)
			break;
	CHECK(i == 280, "out of order at %d", i);
	r[1].start = r[1].last + 1;
	CHECK(vshadow_unmap_batch(vs, r, 3, 0, NULL, NULL, &done) == -EINVAL &&
	      !done, "a range with start > last");
	vshadow_close(vs);
}

/* vshadow_get_info(): sizes, as the caller knows them. */
static void test_info_sizes(void)
{
	struct {
		struct vshadow_info info;
		uint64_t newer[2];
	} big;
	struct vshadow_info info = { .size = 8 };
	struct vshadow *vs = fresh();

	CHECK(vshadow_get_info(vs, &info) == -EINVAL, "a size below 1.0's");
	memset(&big, 0xa5, sizeof(big));
	big.info.size = sizeof(big);
	CHECK(!vshadow_get_info(vs, &big.info) &&
	      big.info.size == sizeof(struct vshadow_info) &&
	      !big.newer[0] && !big.newer[1] &&
	      big.info.mappings_avail == UINT64_MAX &&
	      big.info.mode == VSHADOW_MODE_USERSPACE,
	      "size %u, newer %llx, avail %llx", big.info.size,
	      (unsigned long long)big.newer[0],
	      (unsigned long long)big.info.mappings_avail);
	vshadow_close(vs);
}

/*
 * type1's page size changes under the handle (as groups join the
 * container), larger or smaller: a run is refused with EINVAL, nothing
 * done and nothing broken, and vshadow_get_info() has the new size once
 * the walk is over.  (The walk's buffers were sized with the old one.)
 */
static void test_page_size_changes(void)
{
	static const uint64_t sizes[] = { 2 * PG, PG / 4 };
	struct vshadow_info info = { .size = sizeof(info) };
	struct vshadow *vs;
	struct seen s;
	int i, k, ret;

	for (k = 0; k < 2; k++) {
		vs = fresh();
		for (i = 0; i < 3; i++)
			vshadow_map(vs, (1ULL << 30) + i * 64 * PG, 64 * PG,
				    (void *)4096, VSHADOW_MAP_READ, i);
		t1.tracking = true;
		t1.pg = sizes[k];
		s = (struct seen) { 0 };
		ret = vshadow_unmap_range(vs, 0, UINT64_MAX,
					  VSHADOW_UNMAP_DIRTY, seen_fn, &s);
		CHECK(ret == -EINVAL && !s.nr && t1.nr == 3 &&
		      nr_mappings(vs) == 3, "%llu: ret %d, reported %d, left %d/%d",
		      (unsigned long long)sizes[k], ret, s.nr, t1.nr,
		      nr_mappings(vs));
		vshadow_get_info(vs, &info);
		CHECK(info.pgsize == sizes[k] && !info.broken,
		      "pgsize %llu, broken %d", (unsigned long long)info.pgsize,
		      info.broken);
		vshadow_close(vs);
	}
}

/*
 * The VMM unmapped one mapping of a run directly: type1 unmaps the rest
 * of the run with a shorter length.  All of the run is gone: reported,
 * every page dirty, and the handle breaks.
 */
static void test_short_unmap(void)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u), .iova = (1ULL << 30) + PG, .size = PG,
	};
	struct vshadow *vs = fresh();
	struct seen s = { 0 };
	int i, ret;

	for (i = 0; i < 3; i++)
		vshadow_map(vs, (1ULL << 30) + i * PG, PG, (void *)4096,
			    VSHADOW_MAP_READ, i);
	t1.tracking = true;
	t1_unmap(&u);
	ret = vshadow_unmap_range(vs, 0, UINT64_MAX, VSHADOW_UNMAP_DIRTY,
				  seen_fn, &s);
	CHECK(ret == -EIO && s.nr == 3 && s.lost == 3 && !t1.nr,
	      "ret %d, reported %d, %d lost, type1 keeps %d", ret, s.nr,
	      s.lost, t1.nr);
	vshadow_close(vs);
}

/* How many mappings came logged, and the misfits' bits checked. */
struct logseen {
	struct seen s;
	int logged;
};

static int logseen_fn(void *opaque, const struct vshadow_unmapped *m)
{
	struct logseen *ls = opaque;

	if (m->flags & VSHADOW_UNMAPPED_LOGGED) {
		ls->logged += !m->dirty;
		return 0;
	}
	return seen_fn(&ls->s, m);
}

/*
 * A sync into a dirty log by cookie: 40 mappings of every length, back to
 * back in groups, their cookies 300 pages apart in the reverse order of
 * their IOVAs, the sixth's not page-aligned.  Each logged mapping's bits
 * in the log are exactly the pattern type1 gave it, nothing else in the
 * log is set, and the misfit comes to the callback with its own bits.
 */
static void test_dirty_log(void)
{
	static const uint64_t lens[] = { 1, 2, 3, 31, 63, 64, 65, 100, 127,
					 128, 129 };
	static uint64_t words[WORDS(1 << 14)];
	struct vshadow_log log = {
		.size = sizeof(log), .words = words, .base = 64 * PG,
		.pages = 1 << 14,
	};
	struct vshadow *vs = fresh();
	struct logseen ls = { .s.sync = true };
	uint64_t iova = 1ULL << 30, cookie[40], p, set = 0, want = 0, at;
	int k, i, ret, wrong = 0;

	for (k = 0; k < 40; k++) {
		cookie[k] = k == 5 ? 64 * PG + 8 :
			    (64 + 300 * (40 - k)) * PG;
		CHECK(!vshadow_map(vs, iova, lens[k % 11] * PG, (void *)4096,
				   VSHADOW_MAP_READ, cookie[k]), "map %d", k);
		iova += lens[k % 11] * PG + (k % 4 == 3 ? PG : 0);
	}
	t1.tracking = true;
	memset(words, 0, sizeof(words));
	ret = vshadow_sync_dirty_log(vs, 0, UINT64_MAX, VSHADOW_UNMAP_DIRTY,
				     &log, logseen_fn, &ls);
	CHECK(!ret, "sync: %d", ret);
	CHECK(ls.logged == 39 && ls.s.nr == 1 && !ls.s.bad_bits,
	      "%d logged, %d misfits, %d bits wrong", ls.logged, ls.s.nr,
	      ls.s.bad_bits);
	iova = 1ULL << 30;
	for (k = 0; k < 40; k++) {
		i = find(iova);
		for (p = 0; k != 5 && i >= 0 && p < lens[k % 11]; p++) {
			at = (cookie[k] - log.base) / PG + p;
			want += bit(t1.dma[i].gave, p);
			wrong += bit(words, at) != bit(t1.dma[i].gave, p);
		}
		iova += lens[k % 11] * PG + (k % 4 == 3 ? PG : 0);
	}
	for (p = 0; p < log.pages; p++)
		set += bit(words, p);
	CHECK(!wrong && set == want, "%d bits misplaced; %llu set, %llu given",
	      wrong, (unsigned long long)set, (unsigned long long)want);
	log.base = 8;
	CHECK(vshadow_sync_dirty_log(vs, 0, UINT64_MAX, VSHADOW_UNMAP_DIRTY,
				     &log, logseen_fn, &ls) == -EINVAL,
	      "a log from an unaligned cookie");
	vshadow_close(vs);
}

/* A mapping that would end at 2^64 - 1, which type1 cannot unmap. */
static void test_top_of_space(void)
{
	struct vshadow *vs = fresh();

	CHECK(vshadow_map(vs, -PG, PG, (void *)4096, VSHADOW_MAP_READ, 1) ==
	      -ERANGE && !t1.nr, "the top page");
	vshadow_close(vs);
}

int main(void)
{
	test_one_call_per_run();
	test_bitmap_limit();
	test_run_fails_part_way();
	test_unknown_fate();
	test_tracking_off();
	test_sync_fails_part_way();
	test_changed_directly();
	test_stop();
	test_batches();
	test_info_sizes();
	test_page_size_changes();
	test_short_unmap();
	test_top_of_space();
	test_dirty_log();
	printf("fallback_test: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
