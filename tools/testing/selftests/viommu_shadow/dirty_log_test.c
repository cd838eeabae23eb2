// SPDX-License-Identifier: GPL-2.0
/*
 * The dirty log by cookie (VIOMMU_SHADOW_UNMAP_DIRTY_LOG): UNMAP_RANGE and
 * SYNC_DIRTY set each mapping's dirty bits in the caller's log at its
 * cookie, by OR, without losing or clearing a bit of anyone else's.
 *
 * Every test runs on the mock backend, whose dirty bits are set here page
 * by page (patterns), and on type1 behind vfio-pci, which reports every
 * page of a mapping dirty (so there the expected pattern is all ones).
 * The log is always filled beforehand with a background of bits the
 * module must keep: every check is "background | what the mappings set".
 */
#include <pthread.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "vshadow_utils.h"
#include <linux/iommufd.h>
#include "vshadow_fixtures.h"

VS_SKIP_WITHOUT_MODULE();

/* Cookie space: the log's bit 0 is cookie LOG_BASE. */
#define LOG_BASE	SZ_1T
#define LOG_PAGES	0x100000ULL		/* 128 KiB of log */
#define LOG_WORDS	(LOG_PAGES / 64)
#define BACKGROUND	0x8000000100000001ULL	/* bits 0, 32, 63 of each word */
/* What every mapping maps (type1 pins it): enough for the largest. */
#define BUF_PAGES	1024

FIXTURE(dlog) {
	struct vs_backend b;
	bool mock;		/* the mock backend, else type1 */
	int ctx;
	uint8_t *buf;		/* BUF_PAGES, what every mapping maps */
	uint64_t *log;		/* LOG_WORDS words, mmap()ed */
	uint64_t *want;		/* what the log must hold */
};

FIXTURE_VARIANT(dlog) {
	uint32_t backend;
};

FIXTURE_VARIANT_ADD(dlog, mock) {
	.backend = VSHADOW_MOCK_BACKEND,
};

FIXTURE_VARIANT_ADD(dlog, type1) {
	.backend = VIOMMU_SHADOW_BACKEND_VFIO_TYPE1,
};

static void log_reset(FIXTURE_DATA(dlog) * self);

FIXTURE_SETUP(dlog)
{
	self->ctx = -1;
	vs_backend_open(_metadata, &self->b, variant->backend);
	self->mock = variant->backend == VSHADOW_MOCK_BACKEND;
	self->ctx = vs_open();
	ASSERT_LE(0, self->ctx);
	ASSERT_EQ(0, vs_backend_attach(_metadata, self->ctx, &self->b));
	if (variant->backend == VSHADOW_MOCK_BACKEND) {
		ASSERT_EQ(0, mock_tracking(self->b.fd, true));
	} else {
		ASSERT_EQ(0, t1_dirty(self->b.fd,
				      VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
	}
	self->buf = mmap(NULL, BUF_PAGES * PAGE_4K, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	self->log = mmap(NULL, LOG_WORDS * 8, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->log);
	self->want = calloc(LOG_WORDS, 8);
	ASSERT_NE(NULL, self->want);
	log_reset(self);
}

FIXTURE_TEARDOWN(dlog)
{
	if (self->ctx >= 0)
		close(self->ctx);
	vs_backend_close(&self->b);
}

/* The dirty pattern of mapping @m, page @p, on the mock (type1: all). */
static bool pattern(int m, uint64_t p)
{
	return (p * 5 + m) % 3 == 0 || p == 0;
}

static bool dirty_bit(bool mock, int m, uint64_t p)
{
	return !mock || pattern(m, p);
}

/* On the mock, make mapping @m's pages at @iova dirty as its pattern says. */
static int set_pattern(FIXTURE_DATA(dlog) * self, uint64_t iova,
		       uint64_t pages, int m)
{
	uint64_t *pat, p;
	int ret;

	if (!self->mock)
		return 0;
	pat = calloc((pages + 63) / 64, 8);
	if (!pat)
		return -1;
	for (p = 0; p < pages; p++)
		if (pattern(m, p))
			pat[p / 64] |= 1ULL << (p % 64);
	ret = mock_set_dirty(self->b.fd, iova, pages * PAGE_4K, pat);
	free(pat);
	return ret;
}

/* Map [@iova, + @pages pages) with @cookie, dirty as mapping @m. */
static int map_one(FIXTURE_DATA(dlog) * self, uint64_t iova, uint64_t pages,
		   uint64_t cookie, int m)
{
	int ret = _vs_map(self->ctx, iova, pages * PAGE_4K, self->buf, cookie);

	return ret ? ret : set_pattern(self, iova, pages, m);
}

/* The log, and what it must hold, back to the background. */
static void log_reset(FIXTURE_DATA(dlog) * self)
{
	uint64_t i;

	for (i = 0; i < LOG_WORDS; i++) {
		self->log[i] = BACKGROUND;
		self->want[i] = BACKGROUND;
	}
}

/* What mapping @m of @pages pages at @cookie sets in the log: in want. */
static void expect_logged(FIXTURE_DATA(dlog) * self, uint64_t cookie,
			  uint64_t pages, int m, bool all)
{
	uint64_t bit = (cookie - LOG_BASE) / PAGE_4K, p;

	for (p = 0; p < pages; p++)
		if (all || dirty_bit(self->mock, m, p))
			self->want[(bit + p) / 64] |= 1ULL << ((bit + p) % 64);
}

/* The first log word that differs from want, or -1. */
static long log_diff(FIXTURE_DATA(dlog) * self)
{
	uint64_t i;

	for (i = 0; i < LOG_WORDS; i++)
		if (self->log[i] != self->want[i])
			return i;
	return -1;
}

/* An UNMAP_RANGE or SYNC_DIRTY request with the fixture's log. */
static struct viommu_shadow_unmap_range
log_range(FIXTURE_DATA(dlog) * self, uint64_t start, uint64_t last,
	  struct viommu_shadow_unmap_record *rec, uint32_t nr,
	  uint64_t *bitmap, uint64_t bytes)
{
	struct viommu_shadow_unmap_range r = vs_range(start, last, 0, rec, nr);

	if (!rec)
		r.record_size = 0;
	vs_range_dirty(&r, bitmap, bytes);
	r.flags |= VIOMMU_SHADOW_UNMAP_DIRTY_LOG;
	r.log = (uintptr_t)self->log;
	r.log_base = LOG_BASE;
	r.log_pages = LOG_PAGES;
	return r;
}

/*
 * Map @n one-page mappings back to back from @iova, all to @page, with
 * cookies from @cookie, @step apart (MAP_BATCH).  0 or the errno.
 */
static int map_batch(int ctx, uint64_t iova, uint32_t n, void *page,
		     uint64_t cookie, uint64_t step)
{
	struct viommu_shadow_map_entry e[64];
	struct viommu_shadow_map_batch b = {
		.size = sizeof(b), .entry_size = sizeof(e[0]),
		.entries = (uintptr_t)e,
	};
	uint32_t i, done;
	int ret;

	for (done = 0; done < n; done += b.nr_entries) {
		b.nr_entries = n - done < 64 ? n - done : 64;
		for (i = 0; i < b.nr_entries; i++)
			e[i] = (struct viommu_shadow_map_entry) {
				.flags = VIOMMU_SHADOW_MAP_READ |
					 VIOMMU_SHADOW_MAP_WRITE,
				.iova = iova + (uint64_t)(done + i) * PAGE_4K,
				.length = PAGE_4K,
				.vaddr = (uintptr_t)page,
				.cookie = cookie + (done + i) * step,
			};
		ret = vs_ioctl(ctx, VIOMMU_SHADOW_MAP_BATCH, &b);
		if (ret)
			return ret;
	}
	return 0;
}

static int _vs_sync(int ctx, struct viommu_shadow_unmap_range *cmd)
{
	return vs_ioctl(ctx, VIOMMU_SHADOW_SYNC_DIRTY, cmd);
}

static uint64_t nr_mappings(int ctx)
{
	struct viommu_shadow_info info;

	return _vs_info(ctx, &info) ? ~0ULL : info.nr_mappings;
}

/* GET_INFO says DIRTY_LOG where it says DIRTY. */
TEST_F(dlog, feature)
{
	struct viommu_shadow_info info;

	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	ASSERT_TRUE(info.features & VIOMMU_SHADOW_FEATURE_DIRTY);
	EXPECT_TRUE(info.features & VIOMMU_SHADOW_FEATURE_DIRTY_LOG);
}

/*
 * The mappings of the placement tests: their pages and where their cookie
 * puts them in the log, in pages from LOG_BASE.  Mappings 0-4 are back to
 * back in IOVA (one run), 5-7 apart; the log positions start mid-word,
 * cross words and pages of the log, and are in another order than the
 * IOVAs.
 */
static const struct { uint64_t pages, at; } place[] = {
	{ 1, 70 }, { 63, 129 }, { 64, 1000 }, { 65, 5 }, { 513, 32760 },
	{ 2, 3 * 64 + 62 }, { 130, 200001 }, { 7, 700000 },
};

#define NPLACE	ARRAY_SIZE(place)

static uint64_t place_iova(unsigned int m)
{
	uint64_t iova = SZ_1G;
	unsigned int i;

	for (i = 0; i < m; i++)
		iova += place[i].pages * PAGE_4K + (i >= 4 ? SZ_1G : 0);
	return iova;
}

/*
 * Each page of each mapping sets exactly bit (cookie - base) / pgsize + k
 * of the log, by SYNC_DIRTY and then by UNMAP_RANGE, and nothing else in
 * the log changes; the records say LOGGED, with no bitmap offset.
 */
TEST_F(dlog, placement)
{
	struct viommu_shadow_unmap_record rec[NPLACE];
	struct viommu_shadow_unmap_range r;
	unsigned int m, op;

	for (m = 0; m < NPLACE; m++)
		ASSERT_EQ(0, map_one(self, place_iova(m),
				     place[m].pages,
				     LOG_BASE + place[m].at * PAGE_4K, m));
	for (op = 0; op < 2; op++) {
		/* the sync cleared the mock's bits: set them again */
		for (m = 0; op && m < NPLACE; m++)
			ASSERT_EQ(0, set_pattern(self, place_iova(m),
						 place[m].pages, m));
		log_reset(self);
		r = log_range(self, 0, ~0ULL, rec, NPLACE, NULL, 0);
		ASSERT_EQ(0, op ? _vs_unmap(self->ctx, &r) :
				  _vs_sync(self->ctx, &r));
		ASSERT_EQ(NPLACE, r.out_nr_records);
		for (m = 0; m < NPLACE; m++) {
			EXPECT_EQ(VIOMMU_SHADOW_RECORD_LOGGED, rec[m].flags);
			EXPECT_EQ(LOG_BASE + place[m].at * PAGE_4K,
				  rec[m].cookie);
			EXPECT_EQ(0, rec[m].bitmap_offset);
			EXPECT_EQ(0, rec[m].bitmap_bits);
			expect_logged(self,
				      LOG_BASE + place[m].at * PAGE_4K,
				      place[m].pages, m, false);
		}
		ASSERT_EQ(-1, log_diff(self)) {
			TH_LOG("op %u: word %ld is %#llx, not %#llx", op,
			       log_diff(self),
			       (unsigned long long)self->log[log_diff(self)],
			       (unsigned long long)self->want[log_diff(self)]);
		}
	}
	EXPECT_EQ(0, nr_mappings(self->ctx));
	/* and the backend holds none of them either */
	EXPECT_EQ(0, vs_backend_drain(&self->b));
}

/*
 * Two IOVAs of one cookie page (aliases, as a vIOMMU gives when a guest
 * maps a page twice), and a third mapping that overlaps them in cookie
 * space: their bits OR in the log.
 */
TEST_F(dlog, aliases_or)
{
	struct viommu_shadow_unmap_record rec[3];
	struct viommu_shadow_unmap_range r;
	const uint64_t cookie = LOG_BASE + 100 * PAGE_4K;

	ASSERT_EQ(0, map_one(self, SZ_1G, 4, cookie, 0));
	ASSERT_EQ(0, map_one(self, 2 * SZ_1G, 4, cookie, 1));
	ASSERT_EQ(0, map_one(self, 3 * SZ_1G, 8, cookie - 2 * PAGE_4K,
			     2));
	expect_logged(self, cookie, 4, 0, false);
	expect_logged(self, cookie, 4, 1, false);
	expect_logged(self, cookie - 2 * PAGE_4K, 8, 2, false);
	r = log_range(self, 0, ~0ULL, rec, 3, NULL, 0);
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(3, r.out_nr_records);
	EXPECT_EQ(-1, log_diff(self));
}

/*
 * Mappings that do not fit the log (cookie not page-aligned, below the
 * log, past its end, straddling its end) get their bits in the bitmap as
 * without a log, record flag DIRTY, in the same run as mappings that do
 * fit (record flag LOGGED, no room taken in the bitmap); in the dense
 * layout the bitmap's records follow each other.
 */
TEST_F(dlog, misfits_go_to_the_bitmap)
{
	static const struct { uint64_t pages, cookie; bool fits; } mm[] = {
		{ 3, LOG_BASE + 10 * PAGE_4K, true },
		{ 5, LOG_BASE + 20 * PAGE_4K + 8, false },
		{ 2, LOG_BASE - PAGE_4K, false },
		{ 4, LOG_BASE + 30 * PAGE_4K, true },
		{ 6, LOG_BASE + (LOG_PAGES - 3) * PAGE_4K, false },
		{ 3, LOG_BASE + (LOG_PAGES - 3) * PAGE_4K, true },
		{ 1, LOG_BASE + LOG_PAGES * PAGE_4K, false },
	};
	const unsigned int n = ARRAY_SIZE(mm);
	struct viommu_shadow_unmap_record rec[ARRAY_SIZE(mm)];
	struct viommu_shadow_unmap_range r;
	uint64_t bitmap[4], iova = SZ_1G, at = 0, p;
	unsigned int m;

	for (m = 0; m < n; m++) {
		ASSERT_EQ(0, map_one(self, iova, mm[m].pages,
				     mm[m].cookie, m));
		iova += mm[m].pages * PAGE_4K;
	}
	memset(bitmap, 0xff, sizeof(bitmap));
	r = log_range(self, 0, ~0ULL, rec, n, bitmap, sizeof(bitmap));
	r.flags |= VIOMMU_SHADOW_UNMAP_DENSE;
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(n, r.out_nr_records);
	for (m = 0; m < n; m++) {
		if (mm[m].fits) {
			EXPECT_EQ(VIOMMU_SHADOW_RECORD_LOGGED, rec[m].flags);
			expect_logged(self, mm[m].cookie, mm[m].pages,
				      m, false);
			continue;
		}
		EXPECT_EQ(VIOMMU_SHADOW_RECORD_DIRTY, rec[m].flags);
		EXPECT_EQ(mm[m].pages, rec[m].bitmap_bits);
		EXPECT_EQ(at, rec[m].bitmap_offset);
		for (p = 0; p < mm[m].pages; p++) {
			EXPECT_EQ(dirty_bit(self->mock, m, p),
				  test_bit64(bitmap, at + p)) {
				TH_LOG("mapping %u page %llu", m,
				       (unsigned long long)p);
			}
		}
		at += mm[m].pages;
	}
	for (p = at; p % 64; p++)
		EXPECT_FALSE(test_bit64(bitmap, p));
	EXPECT_EQ(~0ULL, bitmap[3]);
	EXPECT_EQ(-1, log_diff(self));
}

/* A mapping of more than 32768 pages goes to the bitmap (mock only). */
TEST_F(dlog, large_mapping_goes_to_the_bitmap)
{
	struct viommu_shadow_unmap_record rec[3];
	struct viommu_shadow_unmap_range r;
	const uint64_t big = 32769;
	uint64_t *bitmap, p;

	if (!self->mock)
		SKIP(return, "maps 128 MiB: the mock's test");
	bitmap = calloc(1024, 8);
	ASSERT_NE(NULL, bitmap);
	ASSERT_EQ(0, map_one(self, SZ_1G - PAGE_4K, 1, LOG_BASE, 0));
	ASSERT_EQ(0, map_one(self, SZ_1G, big,
			     LOG_BASE + PAGE_4K, 1));
	ASSERT_EQ(0, map_one(self, SZ_1G + big * PAGE_4K, 1,
			     LOG_BASE + (big + 1) * PAGE_4K, 2));
	r = log_range(self, 0, ~0ULL, rec, 3, bitmap, 1024 * 8);
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	ASSERT_EQ(3, r.out_nr_records);
	EXPECT_EQ(VIOMMU_SHADOW_RECORD_LOGGED, rec[0].flags);
	EXPECT_EQ(VIOMMU_SHADOW_RECORD_DIRTY, rec[1].flags);
	EXPECT_EQ(VIOMMU_SHADOW_RECORD_LOGGED, rec[2].flags);
	EXPECT_EQ(0, rec[1].bitmap_offset);
	for (p = 0; p < big; p++)
		ASSERT_EQ(pattern(1, p), test_bit64(bitmap, p));
	expect_logged(self, LOG_BASE, 1, 0, false);
	expect_logged(self, LOG_BASE + (big + 1) * PAGE_4K, 1, 2,
		      false);
	EXPECT_EQ(-1, log_diff(self));
	free(bitmap);
}

/*
 * Without records (nor bitmap): every mapping that fits the log is
 * unmapped and counted, progress exact; a mapping that does not fit stops
 * the call before it: ENOSPC when it comes first, else success with
 * OUT_MORE and @out_resume at it.
 */
TEST_F(dlog, without_records)
{
	struct viommu_shadow_unmap_range r;
	unsigned int m;

	for (m = 0; m < 40; m++)
		ASSERT_EQ(0, map_one(self, SZ_1G + m * SZ_2M,
				     1 + m % 3,
				     LOG_BASE + m * 97 * PAGE_4K, m));
	/* a misfit, then a mapping that fits */
	ASSERT_EQ(0, map_one(self, 2 * SZ_1G, 1, 5, 40));
	ASSERT_EQ(0, map_one(self, 2 * SZ_1G + PAGE_4K, 1,
			     LOG_BASE + 7 * PAGE_4K, 41));

	r = log_range(self, 0, ~0ULL, NULL, 0, NULL, 0);
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(40, r.out_nr_records);
	EXPECT_TRUE(r.out_flags & VIOMMU_SHADOW_UNMAP_OUT_MORE);
	/* after the last mapping unmapped, the 40th: one page */
	EXPECT_EQ(SZ_1G + 39 * SZ_2M + PAGE_4K, r.out_resume);
	for (m = 0; m < 40; m++) {
		expect_logged(self, LOG_BASE + m * 97 * PAGE_4K,
			      1 + m % 3, m, false);
		r.out_bytes -= (1 + m % 3) * PAGE_4K;
	}
	EXPECT_EQ(0, r.out_bytes);
	EXPECT_EQ(-1, log_diff(self));
	EXPECT_EQ(2, nr_mappings(self->ctx));

	/* The misfit first: ENOSPC, nothing done. */
	r = log_range(self, 2 * SZ_1G, ~0ULL, NULL, 0, NULL, 0);
	EXPECT_EQ(ENOSPC, _vs_sync(self->ctx, &r));
	EXPECT_EQ(0, r.out_nr_records);
	EXPECT_EQ(ENOSPC, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(2, nr_mappings(self->ctx));
	EXPECT_EQ(-1, log_diff(self));
}

/* Records but no bitmap: the same, for a misfit. */
TEST_F(dlog, without_bitmap)
{
	struct viommu_shadow_unmap_record rec[4];
	struct viommu_shadow_unmap_range r;

	ASSERT_EQ(0, map_one(self, SZ_1G, 2, LOG_BASE, 0));
	ASSERT_EQ(0, map_one(self, SZ_1G + 2 * PAGE_4K, 1, 4096, 1));
	r = log_range(self, 0, ~0ULL, rec, 4, NULL, 0);
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(1, r.out_nr_records);
	EXPECT_TRUE(r.out_flags & VIOMMU_SHADOW_UNMAP_OUT_MORE);
	EXPECT_EQ(SZ_1G + 2 * PAGE_4K, r.out_resume);
	EXPECT_EQ(VIOMMU_SHADOW_RECORD_LOGGED, rec[0].flags);
	expect_logged(self, LOG_BASE, 2, 0, false);
	EXPECT_EQ(-1, log_diff(self));
	r = log_range(self, r.out_resume, ~0ULL, rec, 4, NULL, 0);
	EXPECT_EQ(ENOSPC, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(1, nr_mappings(self->ctx));
}

/*
 * concurrent_writers_keep_their_bits: the module sets bit 32 * i + 1 of
 * the log for mapping i.  Another thread sets other bits of the same
 * words, at random, as long as the call runs; nobody ever clears a bit,
 * so before each of its sets it checks that the word still has every
 * bit it set there: a bit the module's write lost is seen there, or at
 * the end, before the thread could set it again.
 */
#define HAMMER_WORDS	1024
#define HAMMER_MAPS	(HAMMER_WORDS * 2)

struct hammer {
	uint64_t *log;
	uint64_t mine[HAMMER_WORDS];	/* the bits it set */
	bool started, stop;		/* __atomic */
	unsigned long sets, lost;
	uint64_t seed;
};

static void hammer_one(struct hammer *h)
{
	uint64_t x = h->seed, w, b;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	h->seed = x;
	w = x % HAMMER_WORDS;
	b = 2 + (x >> 32) % 61;		/* 2 to 62 */
	if (b == 32 || b == 33)		/* background, module */
		return;
	if ((__atomic_load_n(&h->log[w], __ATOMIC_RELAXED) & h->mine[w]) !=
	    h->mine[w])
		h->lost++;
	__atomic_fetch_or(&h->log[w], 1ULL << b, __ATOMIC_RELAXED);
	h->mine[w] |= 1ULL << b;
	h->sets++;
}

static void *hammer_fn(void *arg)
{
	struct hammer *h = arg;

	while (!h->sets)
		hammer_one(h);
	__atomic_store_n(&h->started, true, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE))
		hammer_one(h);
	return NULL;
}

/*
 * The VMM's other threads set bits in the log while the module writes
 * the same words (QEMU sets dirty bits atomically from every vCPU and
 * I/O thread): during each of 10 syncs of 2048 mappings, a thread on the
 * other CPU sets bits of the same words; afterwards every bit it set is
 * still set, and so is every bit of the mappings.
 */
TEST_F_TIMEOUT(dlog, concurrent_writers_keep_their_bits, 240)
{
	struct viommu_shadow_unmap_range r;
	unsigned long sets = 0;
	struct hammer *h;
	pthread_t t;
	uint64_t i;
	int k;

	h = calloc(1, sizeof(*h));
	ASSERT_NE(NULL, h);
	h->log = self->log;
	/* one-page mappings back to back, 32 pages apart in the log */
	ASSERT_EQ(0, map_batch(self->ctx, SZ_1G, HAMMER_MAPS, self->buf,
			       LOG_BASE + PAGE_4K, 32 * PAGE_4K));
	for (k = 0; k < 10; k++) {
		for (i = 0; i < HAMMER_MAPS; i++)
			ASSERT_EQ(0, set_pattern(self,
						 SZ_1G + i * PAGE_4K, 1, i));
		log_reset(self);
		memset(h->mine, 0, sizeof(h->mine));
		h->started = false;
		h->stop = false;
		h->sets = 0;
		h->lost = 0;
		h->seed = 0x9e3779b97f4a7c15ULL + k;
		ASSERT_EQ(0, pthread_create(&t, NULL, hammer_fn, h));
		r = log_range(self, 0, ~0ULL, NULL, 0, NULL, 0);
		while (!__atomic_load_n(&h->started, __ATOMIC_ACQUIRE))
			;
		ASSERT_EQ(0, _vs_sync(self->ctx, &r));
		__atomic_store_n(&h->stop, true, __ATOMIC_RELEASE);
		pthread_join(t, NULL);
		ASSERT_EQ(HAMMER_MAPS, r.out_nr_records);
		EXPECT_EQ(0, h->lost) {
			TH_LOG("round %d: the thread saw %lu of its bits go",
			       k, h->lost);
		}
		for (i = 0; i < HAMMER_WORDS; i++) {
			ASSERT_EQ(h->mine[i], self->log[i] & h->mine[i]) {
				TH_LOG("round %d: word %llu lost bits %#llx", k,
				       (unsigned long long)i,
				       (unsigned long long)(h->mine[i] &
							    ~self->log[i]));
			}
		}
		/* page 0 of every pattern is dirty */
		for (i = 0; i < HAMMER_MAPS; i++)
			ASSERT_TRUE(test_bit64(self->log, 32 * i + 1));
		sets += h->sets;
	}
	TH_LOG("%lu bits set by the other thread", sets);
	EXPECT_LT(0, sets);
	free(h);
}

/*
 * A sync that fails after the backend may have read (and so cleared) some
 * of a run's bits: every page of the run's mappings is set in the log,
 * and the records say LOGGED and DIRTY_LOST; the mappings stay.
 */
TEST_F(dlog, lost_bits_fill_the_log)
{
	struct vshadow_mock_fail_nth f = {
		.size = sizeof(f), .nth = 1, .after = 2, .error = EBUSY,
	};
	struct viommu_shadow_unmap_record rec[8];
	struct viommu_shadow_unmap_range r;
	unsigned int m;

	if (!self->mock)
		SKIP(return, "needs the mock's failures");
	for (m = 0; m < 8; m++)
		ASSERT_EQ(0, map_one(self, SZ_1G + m * 3 * PAGE_4K, 3,
				     LOG_BASE + m * 5 * PAGE_4K + 7 * PAGE_4K,
				     m));
	ASSERT_EQ(0, vs_ioctl(self->b.fd, VSHADOW_MOCK_FAIL_NTH, &f));
	r = log_range(self, 0, ~0ULL, rec, 8, NULL, 0);
	EXPECT_EQ(EBUSY, _vs_sync(self->ctx, &r));
	ASSERT_EQ(8, r.out_nr_records);
	for (m = 0; m < 8; m++) {
		EXPECT_EQ(VIOMMU_SHADOW_RECORD_LOGGED |
			  VIOMMU_SHADOW_RECORD_DIRTY_LOST, rec[m].flags);
		expect_logged(self,
			      LOG_BASE + m * 5 * PAGE_4K + 7 * PAGE_4K, 3, m,
			      true);
	}
	EXPECT_EQ(-1, log_diff(self));
	EXPECT_EQ(8, nr_mappings(self->ctx));
	EXPECT_FALSE(vs_broken(self->ctx));
}

/*
 * Fill the context's spare nodes (64), so that the nodes an unmap removes
 * next go back to the slab: a node read after it was freed is then
 * KASAN's to see (debug lane).
 */
static int fill_spares(FIXTURE_DATA(dlog) * self)
{
	struct viommu_shadow_unmap_record rec[1];
	struct viommu_shadow_unmap_range r;
	uint64_t i;
	int ret;

	for (i = 0; i < 64; i++) {
		ret = _vs_map(self->ctx, 8 * SZ_1G + i * SZ_2M, PAGE_4K,
			      self->buf, i);
		if (ret)
			return ret;
	}
	r = vs_range(8 * SZ_1G, 9 * SZ_1G, 0, rec, 1);
	do {
		ret = _vs_unmap(self->ctx, &r);
		r.start = r.out_resume;
	} while (!ret && r.out_flags & VIOMMU_SHADOW_UNMAP_OUT_MORE);
	return ret;
}

/*
 * A run unmap that fails after removing its first p mappings, at every p
 * (the mock's failure; type1's can): the module finds out which are gone
 * and delivers each one's bits to the log.  When the probe of the first
 * mapping left fails too, that mapping is unmapped without its bits: every
 * page of it is set in the log, its record says LOGGED and DIRTY_LOST, and
 * the call fails after it; the rest unmaps later.
 */
TEST_F_TIMEOUT(dlog, failed_run_resolved_into_the_log, 120)
{
	struct vshadow_mock_fail_nth f = {
		.size = sizeof(f), .nth = 1, .error = EBUSY,
	};
	struct viommu_shadow_unmap_record rec[8];
	struct viommu_shadow_unmap_range r;
	uint32_t p, m, rest;

	if (!self->mock)
		SKIP(return, "needs the mock's failures");
	for (f.repeat = 0; f.repeat < 2; f.repeat++) {
		for (p = 0; p < 8; p++) {
			log_reset(self);
			for (m = 0; m < 8; m++)
				ASSERT_EQ(0, map_one(self,
						     SZ_1G + m * 3 * PAGE_4K, 3,
						     LOG_BASE + m * 70 * PAGE_4K,
						     m));
			ASSERT_EQ(0, fill_spares(self));
			f.after = p;
			ASSERT_EQ(0, vs_ioctl(self->b.fd, VSHADOW_MOCK_FAIL_NTH,
					      &f));
			r = log_range(self, 0, ~0ULL, rec, 8, NULL, 0);
			if (!f.repeat) {
				ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
				ASSERT_EQ(8, r.out_nr_records);
				rest = 0;
			} else {
				EXPECT_EQ(EBUSY, _vs_unmap(self->ctx, &r));
				ASSERT_EQ(p + 1, r.out_nr_records);
				EXPECT_EQ(VIOMMU_SHADOW_RECORD_LOGGED |
					  VIOMMU_SHADOW_RECORD_DIRTY_LOST,
					  rec[p].flags);
				rest = 8 - p - 1;
			}
			for (m = 0; m < 8 - rest; m++)
				expect_logged(self, LOG_BASE + m * 70 * PAGE_4K,
					      3, m, f.repeat && m == p);
			ASSERT_EQ(-1, log_diff(self)) {
				TH_LOG("repeat %u after %u", f.repeat, p);
			}
			EXPECT_EQ(rest, nr_mappings(self->ctx));
			if (!rest)
				continue;
			r = log_range(self, r.out_resume, ~0ULL, NULL, 0, NULL,
				      0);
			ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
			ASSERT_EQ(rest, r.out_nr_records);
			for (m = 8 - rest; m < 8; m++)
				expect_logged(self, LOG_BASE + m * 70 * PAGE_4K,
					      3, m, false);
			ASSERT_EQ(-1, log_diff(self));
			EXPECT_EQ(0, nr_mappings(self->ctx));
		}
	}
}

/*
 * A log the module cannot write fails the call before the run that needs
 * it: EFAULT, with what was done before it exact (its mappings unmapped,
 * their bits in the log) and nothing of that run done.
 */
TEST_F(dlog, unwritable_log_stops_before_the_run)
{
	struct viommu_shadow_unmap_record rec[8];
	struct viommu_shadow_unmap_range r;
	/* log page 1 starts at bit 32768 */
	const uint64_t far = LOG_BASE + 40000 * PAGE_4K;

	ASSERT_EQ(0, map_one(self, SZ_1G, 2, LOG_BASE, 0));
	ASSERT_EQ(0, map_one(self, SZ_1G + 2 * PAGE_4K, 2,
			     LOG_BASE + 8 * PAGE_4K, 1));
	/* apart: the second run, whose bits go to log page 1 */
	ASSERT_EQ(0, map_one(self, 2 * SZ_1G, 1, far, 2));
	ASSERT_EQ(0, map_one(self, 2 * SZ_1G + PAGE_4K, 1,
			     LOG_BASE + 16 * PAGE_4K, 3));
	ASSERT_EQ(0, mprotect((uint8_t *)self->log + 4096, 4096, PROT_READ));

	r = log_range(self, 0, ~0ULL, rec, 8, NULL, 0);
	EXPECT_EQ(EFAULT, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(2, r.out_nr_records);
	EXPECT_EQ(4 * PAGE_4K, r.out_bytes);
	EXPECT_EQ(SZ_1G + 4 * PAGE_4K, r.out_resume);
	EXPECT_EQ(2, nr_mappings(self->ctx));
	expect_logged(self, LOG_BASE, 2, 0, false);
	expect_logged(self, LOG_BASE + 8 * PAGE_4K, 2, 1, false);
	EXPECT_EQ(-1, log_diff(self));

	/* writable again, the rest goes */
	ASSERT_EQ(0, mprotect((uint8_t *)self->log + 4096, 4096,
			      PROT_READ | PROT_WRITE));
	r = log_range(self, r.out_resume, ~0ULL, rec, 8, NULL, 0);
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(2, r.out_nr_records);
	expect_logged(self, far, 1, 2, false);
	expect_logged(self, LOG_BASE + 16 * PAGE_4K, 1, 3, false);
	EXPECT_EQ(-1, log_diff(self));
	EXPECT_EQ(0, nr_mappings(self->ctx));
}

/*
 * A run whose mappings need more log pages than the module pins at a time
 * (511) is cut: 1200 one-page mappings back to back, each in a log page of
 * its own, all land.
 */
TEST_F_TIMEOUT(dlog, more_log_pages_than_pins, 120)
{
	const uint64_t step = 32768 * PAGE_4K;	/* a log page apart */
	const uint64_t pages = 1200ULL * 32768;
	struct viommu_shadow_unmap_range r;
	uint64_t *log, i;

	log = mmap(NULL, pages / 8, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, log);
	ASSERT_EQ(0, map_batch(self->ctx, SZ_1G, 1200, self->buf,
			       LOG_BASE + 5 * PAGE_4K, step));
	for (i = 0; i < 1200; i++)
		ASSERT_EQ(0, set_pattern(self, SZ_1G + i * PAGE_4K, 1,
					 i));
	r = log_range(self, 0, ~0ULL, NULL, 0, NULL, 0);
	r.log = (uintptr_t)log;
	r.log_pages = pages;
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(1200, r.out_nr_records);
	for (i = 0; i < 1200; i++) {
		ASSERT_EQ(1ULL << 5, log[i * 512]) {
			TH_LOG("mapping %llu", (unsigned long long)i);
		}
	}
	munmap(log, pages / 8);
}

/* UNMAP_BATCH does not take a log. */
TEST_F(dlog, batch_refuses_the_log)
{
	struct viommu_shadow_unmap_record rec[1];
	struct viommu_shadow_range range = { .start = 0, .last = ~0ULL };
	uint64_t bitmap[1];
	struct viommu_shadow_unmap_batch b = {
		.size = sizeof(b),
		.flags = VIOMMU_SHADOW_UNMAP_GET_DIRTY |
			 VIOMMU_SHADOW_UNMAP_DIRTY_LOG,
		.ranges = (uintptr_t)&range, .nr_ranges = 1,
		.range_size = sizeof(range),
		.records = (uintptr_t)rec, .nr_records = 1,
		.record_size = sizeof(rec[0]),
		.bitmap = (uintptr_t)bitmap, .bitmap_bytes = sizeof(bitmap),
		.bitmap_pgsize = PAGE_4K,
	};

	ASSERT_EQ(0, map_one(self, SZ_1G, 1, LOG_BASE, 0));
	EXPECT_EQ(EOPNOTSUPP, vs_ioctl(self->ctx, VIOMMU_SHADOW_UNMAP_BATCH,
				       &b));
	EXPECT_EQ(1, nr_mappings(self->ctx));
}

/*
 * Bad input: a clear errno, before anything is done (the mapping stays,
 * the log is untouched).
 */
TEST_F(dlog, bad_input)
{
	struct viommu_shadow_unmap_record rec[2];
	struct viommu_shadow_unmap_range r, ok;
	uint64_t bitmap[2];
	unsigned int i;
	void *ro;

	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(0, map_one(self, SZ_1G, 1, LOG_BASE, 0));
	ok = log_range(self, 0, ~0ULL, rec, 2, bitmap, sizeof(bitmap));
	for (i = 0; i < 16; i++) {
		int err = EINVAL;

		r = ok;
		switch (i) {
		case 0:	/* a log without GET_DIRTY */
			r.flags &= ~VIOMMU_SHADOW_UNMAP_GET_DIRTY;
			r.bitmap = 0;
			r.bitmap_bytes = 0;
			r.bitmap_pgsize = 0;
			break;
		case 1:	/* log fields without the flag */
			r.flags &= ~VIOMMU_SHADOW_UNMAP_DIRTY_LOG;
			break;
		case 2:
			r.flags &= ~VIOMMU_SHADOW_UNMAP_DIRTY_LOG;
			r.log = 0;
			r.log_pages = 0;
			break;
		case 3:
			r.log = 0;
			break;
		case 4:	/* not aligned to 8 */
			r.log += 4;
			break;
		case 5:
			r.log_pages = 0;
			break;
		case 6:	/* a base that is not page-aligned */
			r.log_base += 512;
			break;
		case 7:	/* past cookie 2^64 - 1 */
			r.log_base = -16 * PAGE_4K;
			r.log_pages = 17;
			break;
		case 8:	/* half the records fields */
			r.nr_records = 0;
			break;
		case 9:
			r.records = 0;
			r.nr_records = 0;
			break;
		case 10: /* half the bitmap fields */
			r.bitmap = 0;
			break;
		case 11: /* a log the process cannot reach */
			r.log = 1ULL << 62;
			err = EFAULT;
			break;
		case 12: /* a log the process cannot write */
			r.log = (uintptr_t)ro;
			r.log_pages = 64;
			err = EFAULT;
			break;
		case 13: /* an old caller's struct cannot ask for a log */
			r.size = offsetof(struct viommu_shadow_unmap_range, log);
			break;
		case 14: /* the wrong page size */
			r.bitmap_pgsize = 2 * PAGE_4K;
			break;
		case 15: /* an unknown flag */
			r.flags |= 1U << 31;
			err = EOPNOTSUPP;
			break;
		}
		EXPECT_EQ(err, _vs_unmap(self->ctx, &r)) {
			TH_LOG("case %u", i);
		}
		EXPECT_EQ(err, _vs_sync(self->ctx, &r)) {
			TH_LOG("case %u", i);
		}
		EXPECT_EQ(0, r.out_nr_records);
		EXPECT_EQ(1, nr_mappings(self->ctx));
	}
	EXPECT_EQ(-1, log_diff(self));
	/* and the request they came from works */
	r = ok;
	ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
	EXPECT_EQ(VIOMMU_SHADOW_RECORD_LOGGED, rec[0].flags);
	munmap(ro, 4096);
}

TEST_HARNESS_MAIN
