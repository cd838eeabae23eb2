// SPDX-License-Identifier: GPL-2.0
/*
 * libvshadow in the test VM, on an edu device's type1 container: the same
 * sequence of calls through the module and through the userspace
 * fallback gives the same return values, records (iova, length, cookie,
 * flags) and dirty bits (in the records, and in a dirty log by cookie),
 * and the same state.  (With vfio-pci type1
 * reports every pinned page dirty: both modes must say so, bit for bit.)
 */
#include <sched.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "vshadow_utils.h"
#include "vshadow.h"
#include "vshadow_test.h"

/*
 * The library makes its type1 ioctls with syscall(2) (libvshadow-preload
 * interposes on ioctl(3)); this test is linked with --wrap=syscall, which
 * counts them here.
 */
static struct {
	int container;
	unsigned int unmaps, reads;
} calls;

long __wrap_syscall(long nr, ...)
{
	struct vfio_iommu_type1_dirty_bitmap *h;
	va_list ap;
	long a[6];
	int i;

	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr == SYS_ioctl && a[0] == calls.container &&
	    (unsigned long)a[1] == VFIO_IOMMU_UNMAP_DMA)
		calls.unmaps++;
	if (nr == SYS_ioctl && a[0] == calls.container &&
	    (unsigned long)a[1] == VFIO_IOMMU_DIRTY_PAGES) {
		h = (void *)a[2];
		calls.reads += h->flags == VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
	}
	return __real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* One thing the sequence saw: a return value, or one callback. */
struct event {
	int what;		/* 0: a return value; 1: a mapping */
	int ret;
	uint64_t iova, length, cookie;
	unsigned int flags;
	uint64_t nr_pages, dirty_pages;
};

struct log {
	struct event ev[512];
	int nr;
};

static void log_ret(struct log *l, int ret)
{
	if (l->nr < 512)
		l->ev[l->nr++] = (struct event) { .what = 0, .ret = ret };
}

static int log_mapping(void *opaque, const struct vshadow_unmapped *m)
{
	struct log *l = opaque;
	struct event e = {
		.what = 1, .iova = m->iova, .length = m->length,
		.cookie = m->cookie, .flags = m->flags,
		.nr_pages = m->nr_pages,
	};
	uint64_t i;

	for (i = 0; m->dirty && i < m->nr_pages; i++)
		e.dirty_pages += test_bit64(m->dirty, i);
	/* bits past the mapping's pages are never set */
	for (; m->dirty && i % 64; i++)
		e.dirty_pages += test_bit64(m->dirty, i) ? 1000000 : 0;
	if (l->nr < 512)
		l->ev[l->nr++] = e;
	return 0;
}

static void log_info(struct log *l, struct vshadow *vs)
{
	struct vshadow_info info = { .size = sizeof(info) };

	log_ret(l, vshadow_get_info(vs, &info));
	log_ret(l, (int)info.nr_mappings);
	log_ret(l, (int)(info.mapped_bytes / PAGE_4K));
	log_ret(l, (int)(info.high_water >> 12));
	log_ret(l, info.broken);
	log_ret(l, info.dirty);
}

#define BASE	SZ_1G
#define N	48

/* A dirty log's non-zero words, as events: where, and what. */
static void log_words(struct log *l, const uint64_t *words, int nr)
{
	int i;

	for (i = 0; i < nr; i++) {
		if (!words[i])
			continue;
		log_ret(l, i);
		log_ret(l, (int)words[i]);
		log_ret(l, (int)(words[i] >> 32));
	}
}

/*
 * Into a dirty log by cookie (1.1): eight mappings, back to back by twos,
 * seven with page-aligned cookies inside the log, from mid-word on, one
 * below it (its bits come with it); a sync, then an unmap; then a log the
 * module would refuse.  The module sets the bits itself, the fallback
 * has the library set them: the same bits either way.
 */
static void dirty_log_part(struct vshadow *vs, uint8_t *buf, struct log *l)
{
	static uint64_t words[16];
	struct vshadow_log dl = {
		.size = sizeof(dl), .words = words, .base = 64 * PAGE_4K,
		.pages = 16 * 64,
	};
	uint64_t iova = 5 * SZ_1G, len, cookie;
	int i;

	for (i = 0; i < 8; i++) {
		len = (1 + i % 3) * PAGE_4K;
		cookie = i == 7 ? PAGE_4K : (64 + 37 + 100 * i) * PAGE_4K;
		log_ret(l, vshadow_map(vs, iova, len, buf,
				       VSHADOW_MAP_READ | VSHADOW_MAP_WRITE,
				       cookie));
		iova += len + (i % 2 ? SZ_2M : 0);
	}
	memset(words, 0, sizeof(words));
	log_ret(l, vshadow_sync_dirty_log(vs, 5 * SZ_1G, 6 * SZ_1G,
					  VSHADOW_UNMAP_DIRTY, &dl,
					  log_mapping, l));
	log_words(l, words, 16);
	memset(words, 0, sizeof(words));
	log_ret(l, vshadow_unmap_range_log(vs, 5 * SZ_1G, 6 * SZ_1G,
					   VSHADOW_UNMAP_DIRTY, &dl,
					   log_mapping, l));
	log_words(l, words, 16);
	dl.base = 5;
	log_ret(l, vshadow_sync_dirty_log(vs, 0, UINT64_MAX,
					  VSHADOW_UNMAP_DIRTY, &dl,
					  log_mapping, l));
	dl.base = 0;
	log_ret(l, vshadow_sync_dirty_log(vs, 0, UINT64_MAX, 0, &dl,
					  log_mapping, l));
}

/*
 * The sequence: mappings of 1, 2 and 3 pages, some back to back, checks
 * that refuse, dirty tracking, a sync, a cut range unmapped whole, the
 * whole space, and an unmap with bits while tracking is off.
 */
static void sequence(struct vshadow *vs, int container, uint8_t *buf,
		     struct log *l)
{
	uint64_t iova = BASE;
	int i;

	for (i = 0; i < N; i++) {
		uint64_t len = (1 + i % 3) * PAGE_4K;

		log_ret(l, vshadow_map(vs, iova, len, buf,
				       VSHADOW_MAP_READ | VSHADOW_MAP_WRITE,
				       0x1000000 + i));
		iova += len + (i % 4 == 3 ? SZ_2M : 0);
	}
	log_info(l, vs);
	/* overlap, unaligned, no access, zero length, wrapping */
	log_ret(l, vshadow_map(vs, BASE + PAGE_4K, PAGE_4K, buf,
			       VSHADOW_MAP_READ, 1));
	log_ret(l, vshadow_map(vs, 7 * SZ_1G + 512, PAGE_4K, buf,
			       VSHADOW_MAP_READ, 1));
	log_ret(l, vshadow_map(vs, 7 * SZ_1G, PAGE_4K, buf, 0, 1));
	log_ret(l, vshadow_map(vs, 7 * SZ_1G, 0, buf, VSHADOW_MAP_READ, 1));
	log_ret(l, vshadow_map(vs, -PAGE_4K, 2 * PAGE_4K, buf,
			       VSHADOW_MAP_READ, 1));

	/* a range that cuts the second mapping, without WHOLE */
	log_ret(l, vshadow_unmap_range(vs, BASE + 2 * PAGE_4K, UINT64_MAX, 0,
				       log_mapping, l));
	/* bits without tracking */
	log_ret(l, vshadow_sync_dirty(vs, BASE, BASE + SZ_1G,
				      VSHADOW_UNMAP_DIRTY, log_mapping, l));
	log_ret(l, t1_dirty(container, VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
	log_ret(l, vshadow_sync_dirty(vs, BASE, BASE + 5 * PAGE_4K,
				      VSHADOW_UNMAP_DIRTY | VSHADOW_UNMAP_WHOLE,
				      log_mapping, l));
	log_ret(l, vshadow_unmap_range(vs, BASE + 2 * PAGE_4K,
				       BASE + 12 * PAGE_4K,
				       VSHADOW_UNMAP_DIRTY | VSHADOW_UNMAP_WHOLE,
				       log_mapping, l));
	log_info(l, vs);
	dirty_log_part(vs, buf, l);
	log_ret(l, vshadow_unmap_range(vs, 0, UINT64_MAX, VSHADOW_UNMAP_DIRTY,
				       log_mapping, l));
	log_info(l, vs);
	log_ret(l, t1_dirty(container, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP));

	/* bits asked for while tracking is off; then without */
	log_ret(l, vshadow_map(vs, BASE, PAGE_4K, buf, VSHADOW_MAP_READ, 7));
	log_ret(l, vshadow_unmap_range(vs, 0, UINT64_MAX, VSHADOW_UNMAP_DIRTY,
				       log_mapping, l));
	log_ret(l, vshadow_unmap_range(vs, 0, UINT64_MAX, 0, log_mapping, l));
	/* bad arguments */
	log_ret(l, vshadow_unmap_range(vs, 2, 1, 0, log_mapping, l));
	log_ret(l, vshadow_unmap_range(vs, 0, 1, 1U << 7, log_mapping, l));
	log_ret(l, vshadow_sync_dirty(vs, 0, 1, 0, log_mapping, l));
	log_info(l, vs);
}

FIXTURE(lib) {
	struct vfio_box box;
	uint8_t *buf;
	struct log *log[2];
};

FIXTURE_SETUP(lib)
{
	if (vfio_box_open(&self->box, 0, true))
		SKIP(return, "no edu device bound to vfio-pci");
	self->buf = mmap(NULL, 4 * PAGE_4K, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	self->log[0] = calloc(1, sizeof(struct log));
	self->log[1] = calloc(1, sizeof(struct log));
}

FIXTURE_TEARDOWN(lib)
{
	free(self->log[0]);
	free(self->log[1]);
	vfio_box_close(&self->box);
}

static const char *what(const struct event *e)
{
	static char s[160];

	if (!e->what)
		snprintf(s, sizeof(s), "ret %d", e->ret);
	else
		snprintf(s, sizeof(s),
			 "iova 0x%llx len 0x%llx cookie 0x%llx flags %u pages %llu dirty %llu",
			 (unsigned long long)e->iova,
			 (unsigned long long)e->length,
			 (unsigned long long)e->cookie, e->flags,
			 (unsigned long long)e->nr_pages,
			 (unsigned long long)e->dirty_pages);
	return s;
}

/*
 * What the module (@log[0]) and the fallback (@log[1]) saw is the same,
 * event for event; with @all_dirty, every record has every page dirty
 * (type1 behind vfio-pci says so of every pinned page).
 */
static void same_events(struct __test_metadata *_metadata,
			struct log *const log[2], bool all_dirty)
{
	int i;

	ASSERT_EQ(log[0]->nr, log[1]->nr);
	for (i = 0; i < log[0]->nr; i++) {
		const struct event *k = &log[0]->ev[i];
		const struct event *u = &log[1]->ev[i];

		if (memcmp(k, u, sizeof(*k))) {
			TH_LOG("event %d: module: %s", i, what(k));
			TH_LOG("event %d: fallback: %s", i, what(u));
			ASSERT_TRUE(false);
		}
		/* a logged mapping's bits are in the log, not its record */
		if (all_dirty && k->what &&
		    !(k->flags & VSHADOW_UNMAPPED_LOGGED))
			ASSERT_EQ(k->nr_pages, k->dirty_pages)
				TH_LOG("event %d: %s", i, what(k));
	}
}

/* The sequence through the module, then through the fallback: the same. */
TEST_F(lib, same_in_both_modes)
{
	static const unsigned int flags[2] = {
		VSHADOW_OPEN_NO_FALLBACK, VSHADOW_OPEN_USERSPACE,
	};
	struct vshadow_info info = { .size = sizeof(info) };
	struct vshadow *vs;
	int m, i, records = 0, dirty = 0;

	for (m = 0; m < 2; m++) {
		ASSERT_EQ(0, vshadow_open_type1(&vs, self->box.container,
						flags[m]));
		ASSERT_EQ(0, vshadow_get_info(vs, &info));
		EXPECT_EQ(m ? VSHADOW_MODE_USERSPACE : VSHADOW_MODE_KERNEL,
			  info.mode);
		sequence(vs, self->box.container, self->buf, self->log[m]);
		vshadow_close(vs);
	}
	same_events(_metadata, self->log, false);
	for (i = 0; i < self->log[0]->nr; i++) {
		const struct event *k = &self->log[0]->ev[i];

		records += k->what;
		dirty += k->what && (k->flags & VSHADOW_UNMAPPED_DIRTY) &&
			 k->dirty_pages == k->nr_pages;
	}
	TH_LOG("%d events, %d records (%d with every page dirty) identical",
	       self->log[0]->nr, records, dirty);
	/* the sequence did what it says: all 48 mappings, with their bits */
	EXPECT_LE(N + 1, records);
	EXPECT_LE(N - 2, dirty);
}

/*
 * The fallback is the best a userspace can do: one type1 call per run of
 * back-to-back mappings (a GET_BITMAP for a sync, an unmap), its bitmap
 * split per mapping.  Runs of 1 to 9 mappings of 1 to 5 pages, through
 * the module and through the fallback: the same records and bits (every
 * page dirty, as type1 says behind vfio-pci), and the fallback's type1
 * calls, counted at the system call, one per run.
 */
TEST_F(lib, one_call_per_run)
{
	static const unsigned int flags[2] = {
		VSHADOW_OPEN_NO_FALLBACK, VSHADOW_OPEN_USERSPACE,
	};
	const int runs = 24;
	uint64_t iova, x;
	struct vshadow *vs;
	int m, g, k, n, nr = 0;
	uint8_t *buf;

	buf = mmap(NULL, 5 * PAGE_4K, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	calls.container = self->box.container;
	for (m = 0; m < 2; m++) {
		ASSERT_EQ(0, vshadow_open_type1(&vs, self->box.container,
						flags[m]));
		iova = BASE;
		x = 7;
		nr = 0;
		for (g = 0; g < runs; g++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			n = 1 + (x >> 33) % 9;
			for (k = 0; k < n; k++, nr++) {
				uint64_t len = (1 + (x >> (40 + k)) % 5) * PAGE_4K;

				ASSERT_EQ(0, vshadow_map(vs, iova, len, buf,
							 VSHADOW_MAP_READ |
							 VSHADOW_MAP_WRITE,
							 0x2000000 + nr));
				iova += len;
			}
			iova += (1 + g % 3) * PAGE_4K;
		}
		ASSERT_EQ(0, t1_dirty(self->box.container,
				      VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
		calls.unmaps = 0;
		calls.reads = 0;
		log_ret(self->log[m],
			vshadow_sync_dirty(vs, 0, UINT64_MAX,
					   VSHADOW_UNMAP_DIRTY, log_mapping,
					   self->log[m]));
		log_ret(self->log[m],
			vshadow_unmap_range(vs, 0, UINT64_MAX,
					    VSHADOW_UNMAP_DIRTY, log_mapping,
					    self->log[m]));
		ASSERT_EQ(0, t1_dirty(self->box.container,
				      VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP));
		log_info(self->log[m], vs);
		vshadow_close(vs);
		if (m) {
			EXPECT_EQ(runs, calls.reads);
			EXPECT_EQ(runs, calls.unmaps);
		} else {
			EXPECT_EQ(0, calls.reads + calls.unmaps);
		}
	}
	ASSERT_EQ(self->log[0]->nr, self->log[1]->nr);
	ASSERT_EQ(2 * nr + 2 + 6, self->log[0]->nr);
	same_events(_metadata, self->log, true);
	TH_LOG("%d mappings in %d runs: %u GET_BITMAPs, %u unmaps in the fallback",
	       nr, runs, calls.reads, calls.unmaps);
	munmap(buf, 5 * PAGE_4K);
}

static int stop_at_fifth(void *opaque, const struct vshadow_unmapped *m)
{
	int *nr = opaque;

	return ++*nr >= 5 ? -ECANCELED : 0;
}

/*
 * 1.0's additions, through the module and through the fallback: 300
 * mappings (runs of 30) mapped with vshadow_map_batch() (the module's
 * MAP_BATCH takes them 256 at a time), a refused entry, the info with
 * mappings_avail and a newer caller's larger struct, four ranges unmapped
 * with vshadow_unmap_batch() (records and bits the same in both modes),
 * and a walk stopped by its function: only the call in progress is
 * passed on (the module's first 256 records, the fallback's first run),
 * the rest stays mapped.
 */
TEST_F(lib, batches_and_stop)
{
	static const unsigned int flags[2] = {
		VSHADOW_OPEN_NO_FALLBACK, VSHADOW_OPEN_USERSPACE,
	};
	const uint64_t run = 0x100000;	/* 30 pages mapped, 226 not */
	struct vshadow_range r[4] = {
		{ BASE + run, BASE + 3 * run - 1 },
		{ 0, BASE + run - 1 },
		{ BASE + 5 * run, UINT64_MAX },
		{ 0, UINT64_MAX },
	};
	struct {
		struct vshadow_info info;
		uint64_t newer;
	} big;
	struct vshadow_map_entry e[300];
	struct vshadow *vs;
	int m, i, pass, nr;
	uint32_t done;

	for (i = 0; i < 300; i++)
		e[i] = (struct vshadow_map_entry) {
			.iova = BASE + (i / 30) * run + (i % 30) * PAGE_4K,
			.length = PAGE_4K, .vaddr = self->buf,
			.prot = VSHADOW_MAP_READ | VSHADOW_MAP_WRITE,
			.cookie = 0x3000000 + i,
		};
	for (m = 0; m < 2; m++) {
		ASSERT_EQ(0, vshadow_open_type1(&vs, self->box.container,
						flags[m]));
		for (pass = 0; pass < 2; pass++) {
			ASSERT_EQ(0, vshadow_map_batch(vs, e, 300, sizeof(e[0]),
						       &done));
			EXPECT_EQ(300, done);
			/* one more: the second overlaps */
			EXPECT_EQ(-EEXIST, vshadow_map_batch(vs, &e[299], 2,
							     sizeof(e[0]),
							     &done));
			EXPECT_EQ(0, done);
			memset(&big, 0x5a, sizeof(big));
			big.info.size = sizeof(big);
			ASSERT_EQ(0, vshadow_get_info(vs, &big.info));
			EXPECT_EQ(sizeof(big.info), big.info.size);
			EXPECT_EQ(0, big.newer);
			EXPECT_EQ(300, big.info.nr_mappings);
			EXPECT_EQ(m ? UINT64_MAX : 65535 - 300,
				  big.info.mappings_avail);
			if (pass)
				break;
			ASSERT_EQ(0, t1_dirty(self->box.container,
					      VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
			log_ret(self->log[m],
				vshadow_unmap_batch(vs, r, 4, VSHADOW_UNMAP_DIRTY |
						    VSHADOW_UNMAP_WHOLE,
						    log_mapping, self->log[m],
						    &done));
			log_ret(self->log[m], done);
			ASSERT_EQ(0, t1_dirty(self->box.container,
					      VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP));
			log_info(self->log[m], vs);
		}
		nr = 0;
		EXPECT_EQ(-ECANCELED, vshadow_unmap_range(vs, 0, UINT64_MAX, 0,
							  stop_at_fifth, &nr));
		EXPECT_EQ(m ? 30 : 256, nr);
		ASSERT_EQ(0, vshadow_get_info(vs, &big.info));
		EXPECT_EQ(300 - nr, big.info.nr_mappings);
		EXPECT_EQ(0, vshadow_unmap_range(vs, 0, UINT64_MAX, 0, NULL,
						 NULL));
		vshadow_close(vs);
	}
	ASSERT_EQ(self->log[0]->nr, self->log[1]->nr);
	ASSERT_EQ(300 + 2 + 6, self->log[0]->nr);
	same_events(_metadata, self->log, true);
	/* in the ranges' order: range 0's first mapping first */
	EXPECT_EQ(BASE + run, self->log[0]->ev[0].iova);
	EXPECT_EQ(BASE, self->log[0]->ev[60].iova);
	EXPECT_EQ(4, self->log[0]->ev[300 + 1].ret);
}

/* Open: flags, modes, and a version. */
TEST_F(lib, open_modes)
{
	struct vshadow_info info = { .size = sizeof(info) };
	struct vshadow *vs;

	EXPECT_EQ(0, strcmp("1.1", vshadow_version()));
	EXPECT_EQ(-EINVAL, vshadow_open_type1(&vs, self->box.container,
					      VSHADOW_OPEN_NO_FALLBACK |
					      VSHADOW_OPEN_USERSPACE));
	EXPECT_EQ(-EINVAL, vshadow_open_type1(&vs, self->box.container,
					      1U << 5));
	/* the module is loaded here: it is used by default */
	ASSERT_EQ(0, vshadow_open_type1(&vs, self->box.container, 0));
	ASSERT_EQ(0, vshadow_get_info(vs, &info));
	EXPECT_EQ(VSHADOW_MODE_KERNEL, info.mode);
	EXPECT_EQ(PAGE_4K, info.pgsize);
	EXPECT_TRUE(info.dirty);
	EXPECT_EQ(0, vshadow_fallback_cause(vs));
	vshadow_close(vs);
	ASSERT_EQ(0, vshadow_open_type1(&vs, self->box.container,
					VSHADOW_OPEN_USERSPACE));
	EXPECT_EQ(0, vshadow_fallback_cause(vs));
	vshadow_close(vs);
	/* not a container: the module refuses, and so does type1 */
	EXPECT_EQ(-ENODEV, vshadow_open_type1(&vs, self->box.group, 0));
	EXPECT_EQ(-EINVAL, vshadow_open_type1(&vs, self->box.group,
					      VSHADOW_OPEN_NO_FALLBACK));
	/* no file at all: said so in every mode */
	EXPECT_EQ(-EBADF, vshadow_open_type1(&vs, -1, 0));
	EXPECT_EQ(-EBADF, vshadow_open_type1(&vs, -1,
					     VSHADOW_OPEN_NO_FALLBACK));
	EXPECT_EQ(-EBADF, vshadow_open_type1(&vs, -1,
					     VSHADOW_OPEN_USERSPACE));
}

/*
 * The child of private_dev, in a /dev of its own without the module's
 * node (as libvirt gives a VM): the library falls back, says why, and
 * logs it with VSHADOW_DEBUG=1; NO_FALLBACK gets the reason.  Returns
 * the number of the first check that failed, 0 if none.
 */
static int private_dev_child(int container, int err)
{
	struct vshadow_info info = { .size = sizeof(info) };
	struct vshadow *vs;

	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("tmpfs", "/dev", "tmpfs", 0, NULL))
		return 10;
	if (dup2(err, 2) != 2 || setenv("VSHADOW_DEBUG", "1", 1))
		return 11;
	if (vshadow_open_type1(&vs, container, 0))
		return 1;
	if (vshadow_get_info(vs, &info) || info.mode != VSHADOW_MODE_USERSPACE)
		return 2;
	if (vshadow_fallback_cause(vs) != -ENOENT)
		return 3;
	vshadow_close(vs);
	if (vshadow_open_type1(&vs, container, VSHADOW_OPEN_NO_FALLBACK) !=
	    -ENOENT)
		return 4;
	return 0;
}

/*
 * A VMM in a private /dev (libvirt's default) runs the fallback: it must
 * be able to tell, and VSHADOW_DEBUG=1 says it on stderr.  Where the
 * node is, the same variable says the module is used.
 */
TEST_F(lib, private_dev)
{
	char out[1024] = "", want[128];
	struct vshadow *vs;
	int pfd[2], status;
	ssize_t n;
	pid_t pid;

	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(private_dev_child(self->box.container, pfd[1]));
	close(pfd[1]);
	n = read(pfd[0], out, sizeof(out) - 1);
	close(pfd[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("child: check %d failed", WEXITSTATUS(status));
	out[n > 0 ? n : 0] = 0;
	snprintf(want, sizeof(want),
		 "libvshadow: container %d: userspace fallback: /dev/viommu_shadow: %s\n",
		 self->box.container, strerror(ENOENT));
	EXPECT_NE(NULL, strstr(out, want))
		TH_LOG("stderr: %s", out);

	/* Here the node is: the module, said once per open. */
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (dup2(pfd[1], 2) != 2 || setenv("VSHADOW_DEBUG", "1", 1) ||
		    vshadow_open_type1(&vs, self->box.container, 0))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	n = read(pfd[0], out, sizeof(out) - 1);
	close(pfd[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	out[n > 0 ? n : 0] = 0;
	snprintf(want, sizeof(want), "libvshadow: container %d: the module\n",
		 self->box.container);
	EXPECT_EQ(0, strcmp(out, want))
		TH_LOG("stderr: %s", out);
}

VS_SKIP_WITHOUT_MODULE();

TEST_HARNESS_MAIN
