// SPDX-License-Identifier: GPL-2.0
/*
 * viommu_shadow reliability sweeps: whole sequences of calls, run again
 * and again with one failure injected at the 1st, 2nd, 3rd ... fault point
 * until a run reaches none, in the manner of iommufd's fail_nth test.
 * After every run the shadow tree, the backend's real state and what the
 * calls reported must agree: nothing is lost, nothing is left behind.
 *
 * Two injectors, each a fixture variant per backend (type1, mock,
 * iommufd):
 *
 * - the module's own (debugfs viommu_shadow/fail_nth, in the test build
 *   only): its allocations, its user copies, and its calls into the
 *   container, refused before they act or with their answer lost after
 *   they acted; on every lane;
 * - the kernel's (/proc/thread-self/fail-nth with FAILSLAB,
 *   FAIL_PAGE_ALLOC and FAIL_USERCOPY): any allocation or user copy the
 *   sequence makes, in type1, iommufd, the IOMMU drivers and mm as well;
 *   on the debug kernel only (the Debian kernels have no fault injection).
 *   A WARN or an oops anywhere fails the VM run (scripts/vm.sh).
 *
 * VSHADOW_SWEEP=full (make check-full) sweeps every point; otherwise
 * (make check) every point of the module's injector and every
 * SAMPLE_STRIDE-th of the kernel's.  Each sweep prints its count on a
 * "VSHADOW-RELIABILITY" line that scripts/check.sh adds up.
 *
 * To look at one point: VSHADOW_FAIL_NTH=N runs only point N, and
 * VSHADOW_FAULT_VERBOSE=1 leaves the kernel's injector its own report (a
 * stack dump per failure, which fails the VM run).
 */
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "kselftest_harness.h"
#include "vshadow_utils.h"
#include <linux/iommufd.h>
#include "vshadow_fixtures.h"

#define FAIL_NTH_MODULE	"/sys/kernel/debug/viommu_shadow/fail_nth"
#define SAMPLE_STRIDE	7
/* A bound on a sweep, far above any count seen: a runaway is a failure. */
#define MAX_POINTS	5000

/* ------------------------------------------------------------------ */
/* The injectors                                                       */
/* ------------------------------------------------------------------ */

struct injector {
	bool kernel;		/* the kernel's fail-nth, else the module's */
	int fd;			/* its control file, for this thread */
};

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

/*
 * The kernel's fault injection set so that fail-nth reaches every
 * allocation (GFP_KERNEL ones and order 0 pages too) and user copy, and
 * quietly: its default report is a stack dump, which vm.sh would take
 * for a kernel problem.
 */
static int kernel_injection_setup(void)
{
	static const char * const settings[][2] = {
		{ "failslab/ignore-gfp-wait", "N" },
		{ "failslab/verbose", "0" },
		{ "fail_page_alloc/ignore-gfp-wait", "N" },
		{ "fail_page_alloc/ignore-gfp-highmem", "N" },
		{ "fail_page_alloc/min-order", "0" },
		{ "fail_page_alloc/verbose", "0" },
		{ "fail_usercopy/verbose", "0" },
	};
	const char *verbose = getenv("VSHADOW_FAULT_VERBOSE");
	char path[128];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(settings); i++) {
		snprintf(path, sizeof(path), "/sys/kernel/debug/%s",
			 settings[i][0]);
		if (verbose && strstr(path, "verbose"))
			continue;
		if (write_str(path, settings[i][1]))
			return -1;
	}
	/* iommufd's own points, in kernels with IOMMUFD_TEST. */
	if (!verbose)
		write_str("/sys/kernel/debug/fail_iommufd/verbose", "0");
	return 0;
}

/*
 * The control files are read and written whole, from their start: the
 * kernel's with pread and pwrite (it cannot seek), the module's (a
 * seq_file, which takes no pread or pwrite) after a seek.
 */
static ssize_t ctl_write(int fd, const char *buf, size_t len)
{
	ssize_t n = pwrite(fd, buf, len, 0);

	if (n < 0 && errno == ESPIPE)
		n = lseek(fd, 0, SEEK_SET) ? -1 : write(fd, buf, len);
	return n;
}

static ssize_t ctl_read(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len, 0);

	if (n < 0 && errno == ESPIPE)
		n = lseek(fd, 0, SEEK_SET) ? -1 : read(fd, buf, len);
	return n;
}

/* Open @inj's control file; -1 when this kernel or build has none. */
static int injector_open(struct injector *inj, bool kernel)
{
	inj->kernel = kernel;
	if (kernel) {
		if (access("/proc/thread-self/fail-nth", F_OK) ||
		    kernel_injection_setup())
			return -1;
		inj->fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	} else {
		inj->fd = open(FAIL_NTH_MODULE, O_RDWR | O_CLOEXEC);
	}
	return inj->fd < 0 ? -1 : 0;
}

/* Fail the @nth fault point this thread reaches from now on. */
static int injector_arm(struct injector *inj, unsigned int nth)
{
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%u", nth);

	return ctl_write(inj->fd, buf, n) == n ? 0 : -1;
}

/*
 * Disarm; whether the armed point was reached (and failed).  @site gets
 * the module's "kind function" of it.  The kernel's file is itself read
 * and written with user copies that an armed fail-nth can fail: that
 * too means it was reached.
 */
static bool injector_disarm(struct injector *inj, char *site, size_t len)
{
	char buf[96] = "";
	unsigned long left;
	bool fired;
	ssize_t n;

	n = ctl_read(inj->fd, buf, sizeof(buf) - 1);
	if (n < 0 && errno == EFAULT)
		buf[0] = '0';
	else if (n > 0)
		buf[n] = 0;
	left = strtoul(buf, NULL, 10);
	fired = !left;
	while (ctl_write(inj->fd, "0", 1) != 1 && errno == EFAULT)
		fired = true;
	site[0] = 0;
	if (!inj->kernel && fired) {
		char *p = strchr(buf, ' ');

		snprintf(site, len, "%s", p ? p + 1 : "?");
		site[strcspn(site, "\n")] = 0;
	}
	return fired;
}

static bool sweep_full(void)
{
	const char *s = getenv("VSHADOW_SWEEP");

	return s && !strcmp(s, "full");
}

/* ------------------------------------------------------------------ */
/* The sequence and what it should leave                               */
/* ------------------------------------------------------------------ */

/*
 * Its mappings: a run of RUN_MAPS one-page mappings made by MAP, back to
 * back (one backend call unmaps them), then BATCH_MAPS two-page mappings
 * with gaps between them, made by one MAP_BATCH.  SYNC_DIRTY reads their
 * bits into a dirty log (each cookie a page-aligned address of its own,
 * in another order than the IOVAs), UNMAP_RANGE then takes all but the
 * last, RECS_PER_CALL records at a time (resumed), with dirty bits in the
 * bitmap; the last stays for the check.
 */
#define RUN_MAPS	4
#define BATCH_MAPS	4
#define NR_MAPS		(RUN_MAPS + BATCH_MAPS)
#define RUN_BASE	0x100000ULL
#define BATCH_BASE	0x200000ULL
#define BATCH_STEP	0x10000ULL
#define RECS_PER_CALL	5

enum { ABSENT, PRESENT, UNKNOWN };

struct mapping {
	uint64_t iova;
	uint64_t length;
	int state;
};

/* One run of the sequence: what the calls said, the model built from it. */
struct seq {
	struct mapping m[NR_MAPS];
	int ctx;
	bool attached;
	bool dirty;		/* the context has dirty bits */
	int err;		/* the errno that stopped the sequence */
	const char *failed;	/* the call that returned it */
	int dirty_lost;		/* records with DIRTY_LOST */
	int bad_bits;		/* records whose bits are not what was set */
	int lost_without_error;	/* DIRTY_LOST in a call that succeeded */
	int report_from;	/* an EFAULT call's mappings, whose out */
	int report_to;		/* fields may be stale (see walk()) */
};

static uint64_t map_iova(int i)
{
	return i < RUN_MAPS ? RUN_BASE + i * PAGE_4K :
	       BATCH_BASE + (i - RUN_MAPS) * BATCH_STEP;
}

static uint64_t map_length(int i)
{
	return i < RUN_MAPS ? PAGE_4K : 2 * PAGE_4K;
}

/* Mapping i's cookie: its log bits start at page 96 - 8 * i. */
static uint64_t map_cookie(int i)
{
	return (uint64_t)(96 - 8 * i) * PAGE_4K;
}

#define LOG_PAGES	128

static int map_index(uint64_t iova)
{
	int i;

	for (i = 0; i < NR_MAPS; i++)
		if (map_iova(i) == iova)
			return i;
	return -1;
}

/*
 * The dirty pages the mock is given: the odd pages, and the first of the
 * run's third mapping; type1 with a vfio-pci device reports every page.
 */
static uint64_t expected_bits(const struct vs_backend *b, int i)
{
	uint64_t all = (1ULL << (map_length(i) / PAGE_4K)) - 1;

	if (b->kind != VSHADOW_MOCK_BACKEND)
		return all;
	return (i % 2 || i == 2) ? 1 : 0;
}

static int mock_mark_dirty(const struct vs_backend *b, const struct seq *s)
{
	uint64_t bits;
	int i, ret;

	for (i = 0; i < NR_MAPS; i++) {
		if (s->m[i].state != PRESENT)
			continue;
		bits = expected_bits(b, i);
		ret = mock_set_dirty(b->fd, map_iova(i), map_length(i), &bits);
		if (ret)
			return ret;
	}
	return 0;
}

static bool stop(struct seq *s, const char *call, int err)
{
	if (!err)
		return false;
	s->err = err;
	s->failed = call;
	return true;
}

/*
 * After a call failed with an error that broke the context (EIO, ENODEV),
 * the model can no longer say what the backend holds of @from .. @to.
 */
static void unknown_if_broken(struct seq *s, int err, int from, int to)
{
	int i;

	if (err != EIO && err != ENODEV)
		return;
	for (i = from; i < to; i++)
		if (s->m[i].state != ABSENT)
			s->m[i].state = UNKNOWN;
}

/*
 * The records of one UNMAP_RANGE or SYNC_DIRTY call: each names a
 * mapping of the sequence, and its dirty bits are exactly those set,
 * unless DIRTY_LOST says they could not be written (only in a call that
 * fails).  An unmap's records leave the model.
 */
static void check_records(const struct vs_backend *b, struct seq *s,
			  const struct viommu_shadow_unmap_range *cmd,
			  const struct viommu_shadow_unmap_record *rec,
			  const uint64_t *bitmap, const uint64_t *log,
			  bool unmap, int ret)
{
	uint64_t bits, all;
	uint32_t r;
	int i;

	for (r = 0; r < cmd->out_nr_records && r < RECS_PER_CALL; r++) {
		i = map_index(rec[r].iova);
		if (i < 0 || rec[r].length != map_length(i) ||
		    rec[r].cookie != map_cookie(i)) {
			s->bad_bits++;
			continue;
		}
		if (unmap)
			s->m[i].state = ABSENT;
		/* A logged mapping's bits: all of them when they were lost. */
		if (rec[r].flags & VIOMMU_SHADOW_RECORD_LOGGED) {
			all = (1ULL << (map_length(i) / PAGE_4K)) - 1;
			bits = log[map_cookie(i) / PAGE_4K / 64] >>
			       (map_cookie(i) / PAGE_4K % 64) & all;
			if (bits != (rec[r].flags &
				     VIOMMU_SHADOW_RECORD_DIRTY_LOST ?
				     all : expected_bits(b, i)))
				s->bad_bits++;
		}
		if (rec[r].flags & VIOMMU_SHADOW_RECORD_DIRTY_LOST) {
			s->dirty_lost++;
			if (!ret)
				s->lost_without_error++;
			continue;
		}
		if (!(cmd->flags & VIOMMU_SHADOW_UNMAP_GET_DIRTY) ||
		    rec[r].flags & VIOMMU_SHADOW_RECORD_LOGGED)
			continue;
		bits = bitmap[rec[r].bitmap_offset / 64] >>
		       (rec[r].bitmap_offset % 64);
		bits &= (1ULL << rec[r].bitmap_bits) - 1;
		if (!(rec[r].flags & VIOMMU_SHADOW_RECORD_DIRTY) ||
		    bits != expected_bits(b, i))
			s->bad_bits++;
	}
}

/*
 * A call that changes mappings @from .. @to - 1 failed with @err.  Its
 * out fields are the report, written before it acts and again at the
 * end; EFAULT may be the end's write failing, and then the report read
 * back is the first one.  Whether it was is only known once the injector
 * says which point failed (lost_report()).
 */
static void note_report(struct seq *s, int err, int from, int to)
{
	if (err == EFAULT) {
		s->report_from = from;
		s->report_to = to;
	}
}

/*
 * The failed point was the last write of a call's struct (the module's
 * vshadow_ucmd_respond(); any user copy under the kernel's injector): the
 * mappings that call could have changed may or may not be mapped.
 */
static void lost_report(struct seq *s, bool kernel, const char *site)
{
	int i;

	if (!kernel && !strstr(site, "vshadow_ucmd_respond"))
		return;
	for (i = s->report_from; i < s->report_to; i++)
		if (s->m[i].state == PRESENT || s->m[i].state == ABSENT)
			s->m[i].state = UNKNOWN;
}

/*
 * UNMAP_RANGE (or SYNC_DIRTY) of [@start, @last] with dirty bits when the
 * context has them (a sync into the dirty log, an unmap into the bitmap),
 * RECS_PER_CALL records a call, resumed until done.
 * Progress is exact whatever a call returns, so its records count even
 * when it fails.
 */
static int walk(const struct vs_backend *b, struct seq *s, unsigned long req,
		uint64_t start, uint64_t last, int from, int to)
{
	struct viommu_shadow_unmap_record rec[RECS_PER_CALL];
	uint64_t bitmap[RECS_PER_CALL], log[LOG_PAGES / 64];
	struct viommu_shadow_unmap_range cmd;
	int ret;

	do {
		memset(rec, 0, sizeof(rec));
		memset(bitmap, 0, sizeof(bitmap));
		memset(log, 0, sizeof(log));
		cmd = vs_range(start, last, 0, rec, RECS_PER_CALL);
		if (s->dirty)
			vs_range_dirty(&cmd, bitmap, sizeof(bitmap));
		if (s->dirty && req == VIOMMU_SHADOW_SYNC_DIRTY) {
			cmd.flags |= VIOMMU_SHADOW_UNMAP_DIRTY_LOG;
			cmd.log = (uintptr_t)log;
			cmd.log_pages = LOG_PAGES;
		}
		ret = vs_ioctl(s->ctx, req, &cmd);
		if (req == VIOMMU_SHADOW_UNMAP_RANGE)
			note_report(s, ret, from, to);
		check_records(b, s, &cmd, rec, bitmap, log,
			      req == VIOMMU_SHADOW_UNMAP_RANGE, ret);
		if (ret) {
			unknown_if_broken(s, ret, from, to);
			return ret;
		}
		start = cmd.out_resume;
	} while (cmd.out_flags & VIOMMU_SHADOW_UNMAP_OUT_MORE);
	return 0;
}

/*
 * The whole sequence, stopping at the first call that fails: open,
 * attach, map a run one by one, a batch, sync, unmap with dirty bits and
 * resume.  The context stays open for the check.
 */
static void run_sequence(const struct vs_backend *b, struct seq *s,
			 uint8_t *buf)
{
	struct viommu_shadow_map_entry e[BATCH_MAPS];
	struct viommu_shadow_map_batch batch = {
		.size = sizeof(batch),
		.entries = (uintptr_t)e,
		.nr_entries = BATCH_MAPS,
		.entry_size = sizeof(e[0]),
	};
	struct viommu_shadow_info info;
	uint64_t last_kept;
	int i, ret;

	s->ctx = vs_open();
	if (stop(s, "open", s->ctx < 0 ? errno : 0))
		return;
	if (stop(s, "attach", _vs_attach_id(s->ctx, b->kind, b->fd, b->id)))
		return;
	s->attached = true;
	if (stop(s, "get_info", _vs_info(s->ctx, &info)))
		return;
	s->dirty = info.features & VIOMMU_SHADOW_FEATURE_DIRTY;

	for (i = 0; i < RUN_MAPS; i++) {
		ret = _vs_map(s->ctx, map_iova(i), map_length(i),
			      buf + i * PAGE_4K, map_cookie(i));
		if (!ret)
			s->m[i].state = PRESENT;
		unknown_if_broken(s, ret, i, i + 1);
		if (stop(s, "map", ret))
			return;
	}

	for (i = 0; i < BATCH_MAPS; i++)
		e[i] = (struct viommu_shadow_map_entry) {
			.flags = VIOMMU_SHADOW_MAP_READ |
				 VIOMMU_SHADOW_MAP_WRITE,
			.iova = map_iova(RUN_MAPS + i),
			.length = map_length(RUN_MAPS + i),
			.vaddr = (uintptr_t)buf + (RUN_MAPS + 2 * i) * PAGE_4K,
			.cookie = map_cookie(RUN_MAPS + i),
		};
	ret = vs_ioctl(s->ctx, VIOMMU_SHADOW_MAP_BATCH, &batch);
	for (i = 0; i < BATCH_MAPS && i < (int)batch.out_done; i++)
		s->m[RUN_MAPS + i].state = PRESENT;
	if (batch.out_done < BATCH_MAPS)
		unknown_if_broken(s, ret, RUN_MAPS + batch.out_done,
				  RUN_MAPS + batch.out_done + 1);
	note_report(s, ret, RUN_MAPS, NR_MAPS);
	if (stop(s, "map_batch", ret))
		return;

	if (s->dirty) {
		if (b->kind == VSHADOW_MOCK_BACKEND &&
		    stop(s, "mock_set_dirty", mock_mark_dirty(b, s)))
			return;
		if (stop(s, "sync_dirty",
			 walk(b, s, VIOMMU_SHADOW_SYNC_DIRTY, 0, UINT64_MAX, 0,
			      NR_MAPS)))
			return;
		/* The sync cleared them: the same bits again for the unmap. */
		if (b->kind == VSHADOW_MOCK_BACKEND &&
		    stop(s, "mock_set_dirty", mock_mark_dirty(b, s)))
			return;
	}

	last_kept = map_iova(NR_MAPS - 1);
	stop(s, "unmap_range",
	     walk(b, s, VIOMMU_SHADOW_UNMAP_RANGE, 0, last_kept - 1, 0,
		  NR_MAPS - 1));
}

/* ------------------------------------------------------------------ */
/* The check after each run                                            */
/* ------------------------------------------------------------------ */

/*
 * Whether the backend holds [@iova, @iova + @length - 1], found out by
 * unmapping exactly it (type1, iommufd), or from the mock's own list.
 */
static bool backend_had(const struct vs_backend *b, uint64_t iova,
			uint64_t length)
{
	struct vshadow_mock_mapping m[NR_MAPS + 1];
	struct iommu_ioas_unmap u = {
		.size = sizeof(u), .ioas_id = b->id,
		.iova = iova, .length = length,
	};
	uint64_t done = 0;
	long n, i;

	switch (b->kind) {
	case VSHADOW_MOCK_BACKEND:
		n = mock_mappings(b->fd, m, NR_MAPS + 1);
		for (i = 0; i < n && i < NR_MAPS + 1; i++)
			if (m[i].iova == iova && m[i].length == length)
				return true;
		return false;
	case VIOMMU_SHADOW_BACKEND_IOMMUFD:
		return !vs_ioctl(b->fd, IOMMU_IOAS_UNMAP, &u) &&
		       u.length == length;
	default:
		return !t1_unmap(b->fd, iova, length, NULL, 0, &done) &&
		       done == length;
	}
}

struct tally {
	unsigned int points;		/* runs with a failure injected */
	unsigned int inconsistencies;
	unsigned int leaks;
	unsigned int broken;		/* runs that broke their context */
	unsigned int dirty_lost;	/* records reported DIRTY_LOST */
};

/*
 * The context still open after the sequence, the injector disarmed:
 * 1. GET_INFO's counts are the model's (an unbroken context);
 * 2. what its tree holds, as an UNMAP_RANGE of everything reports it, is
 *    the model's, the UNKNOWN mappings either way;
 * 3. the backend holds nothing the model says it has not (probe unmaps of
 *    exactly those mappings), and then nothing at all;
 * 4. closed, no context and no node of the module is left.
 * A broken context must have said so to a call (EIO or ENODEV).
 * Returns the number of disagreements; each is logged.
 */
static unsigned int check_run(struct __test_metadata *_metadata,
			      const struct vs_backend *b, struct seq *s,
			      struct tally *t, const char *what)
{
	struct viommu_shadow_unmap_record rec[NR_MAPS + 1];
	struct viommu_shadow_unmap_range cmd;
	struct viommu_shadow_info info;
	uint64_t bytes = 0, left;
	unsigned int bad = 0;
	long contexts, nodes;
	bool broken = false;
	uint32_t r;
	int i, n = 0;

#define DISAGREE(fmt, ...) do {						\
	TH_LOG("%s: " fmt, what, ##__VA_ARGS__);			\
	bad++;								\
} while (0)

	if (s->bad_bits)
		DISAGREE("%d records with wrong mappings or dirty bits",
			 s->bad_bits);
	if (s->lost_without_error)
		DISAGREE("DIRTY_LOST in a call that succeeded");
	t->dirty_lost += s->dirty_lost;

	if (s->attached) {
		if (_vs_info(s->ctx, &info))
			DISAGREE("GET_INFO failed: %s", strerror(errno));
		broken = info.out_flags & VIOMMU_SHADOW_INFO_OUT_BROKEN;
	}
	if (broken) {
		TH_LOG("%s: context broken", what);
		t->broken++;
		if (s->err != EIO && s->err != ENODEV)
			DISAGREE("context broken, but %s said %s", s->failed,
				 strerror(s->err));
	} else if (s->attached) {
		if (s->err == EIO || s->err == ENODEV)
			DISAGREE("%s said %s, but the context is not broken",
				 s->failed, strerror(s->err));
		for (i = 0; i < NR_MAPS; i++) {
			if (s->m[i].state == PRESENT) {
				n++;
				bytes += map_length(i);
			}
		}
		memset(rec, 0, sizeof(rec));
		cmd = vs_range(0, UINT64_MAX, 0, rec, NR_MAPS + 1);
		if (_vs_unmap(s->ctx, &cmd))
			DISAGREE("final UNMAP_RANGE: %s", strerror(errno));
		for (r = 0; r < cmd.out_nr_records; r++) {
			i = map_index(rec[r].iova);
			if (i < 0 || s->m[i].state == ABSENT)
				DISAGREE("tree had %#llx, model not",
					 (unsigned long long)rec[r].iova);
			else
				s->m[i].state = ABSENT;
		}
		for (i = 0; i < NR_MAPS; i++)
			if (s->m[i].state == PRESENT)
				DISAGREE("model had %#llx, tree not",
					 (unsigned long long)map_iova(i));
		if (info.nr_mappings < (uint64_t)n ||
		    info.nr_mappings != cmd.out_nr_records ||
		    info.mapped_bytes < bytes)
			DISAGREE("GET_INFO: %llu mappings, %llu bytes; model %d, %llu",
				 (unsigned long long)info.nr_mappings,
				 (unsigned long long)info.mapped_bytes, n,
				 (unsigned long long)bytes);
	}

	/* What the model says is gone must be gone from the backend too. */
	for (i = 0; i < NR_MAPS; i++) {
		if (s->m[i].state == ABSENT &&
		    backend_had(b, map_iova(i), map_length(i)))
			DISAGREE("backend still had %#llx",
				 (unsigned long long)map_iova(i));
	}
	left = vs_backend_drain(b);
	if (!broken && left)
		DISAGREE("backend held %llu bytes the tree did not",
			 (unsigned long long)left);

	if (s->ctx >= 0)
		close(s->ctx);
	if (vs_objects(&contexts, &nodes) || contexts || nodes) {
		TH_LOG("%s: after close: %ld contexts, %ld nodes", what,
		       contexts, nodes);
		t->leaks++;
		bad++;
	}
	t->inconsistencies += bad;
	return bad;
#undef DISAGREE
}

/* A sweep's counts, for scripts/check.sh's reliability line. */
static void report(const struct tally *t, const char *sweep,
		   const char *injector, const char *backend)
{
	printf("VSHADOW-RELIABILITY faults=%u inconsistencies=%u leaks=%u ",
	       t->points, t->inconsistencies, t->leaks);
	printf("sweep=%s injector=%s backend=%s broken=%u dirty_lost=%u\n",
	       sweep, injector, backend, t->broken, t->dirty_lost);
	fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* The sweeps                                                          */
/* ------------------------------------------------------------------ */

FIXTURE(faults) {
	struct vs_backend b;
	struct injector inj;
	uint8_t *buf;
};

FIXTURE_VARIANT(faults) {
	uint32_t backend;
	bool kernel;		/* the kernel's fail-nth, not the module's */
};

FIXTURE_VARIANT_ADD(faults, type1) {
	.backend = VIOMMU_SHADOW_BACKEND_VFIO_TYPE1,
};

FIXTURE_VARIANT_ADD(faults, mock) {
	.backend = VSHADOW_MOCK_BACKEND,
};

FIXTURE_VARIANT_ADD(faults, iommufd) {
	.backend = VIOMMU_SHADOW_BACKEND_IOMMUFD,
};

FIXTURE_VARIANT_ADD(faults, type1_kernel) {
	.backend = VIOMMU_SHADOW_BACKEND_VFIO_TYPE1,
	.kernel = true,
};

FIXTURE_VARIANT_ADD(faults, mock_kernel) {
	.backend = VSHADOW_MOCK_BACKEND,
	.kernel = true,
};

FIXTURE_VARIANT_ADD(faults, iommufd_kernel) {
	.backend = VIOMMU_SHADOW_BACKEND_IOMMUFD,
	.kernel = true,
};

FIXTURE_SETUP(faults)
{
	int ctx;

	vs_backend_open(_metadata, &self->b, variant->backend);
	/* Is its module there?  A context that attaches says so. */
	ctx = vs_open();
	ASSERT_LE(0, ctx);
	ASSERT_EQ(0, vs_backend_attach(_metadata, ctx, &self->b));
	close(ctx);
	if (injector_open(&self->inj, variant->kernel))
		SETUP_SKIP("%s", variant->kernel ?
			   "no fault injection in this kernel (the debug lane's has it)" :
			   "no fail_nth: not the test build of the module");
	if (variant->backend == VIOMMU_SHADOW_BACKEND_VFIO_TYPE1)
		ASSERT_EQ(0, t1_dirty(self->b.fd,
				      VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
	self->buf = mmap(NULL, 16 * PAGE_4K, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
}

FIXTURE_TEARDOWN(faults)
{
	if (self->inj.fd >= 0)
		close(self->inj.fd);
	vs_backend_close(&self->b);
}

/*
 * The mock is one per open: a fresh one for every run, tracking dirty
 * pages.
 */
static void mock_renew(struct __test_metadata *_metadata,
		       struct vs_backend *b)
{
	if (b->kind != VSHADOW_MOCK_BACKEND)
		return;
	close(b->fd);
	b->fd = open(VS_MOCK_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, b->fd);
	ASSERT_EQ(0, mock_tracking(b->fd, true));
}

static const char *backend_name(uint32_t kind)
{
	switch (kind) {
	case VSHADOW_MOCK_BACKEND:
		return "mock";
	case VIOMMU_SHADOW_BACKEND_IOMMUFD:
		return "iommufd";
	default:
		return "type1";
	}
}

/*
 * Arm the Nth point, run the whole sequence, check; N from 1 up, by
 * the stride, until a run reaches no armed point.  The run with no
 * failure must be clean too, and leave what the sequence means to leave.
 */
TEST_F_TIMEOUT(faults, sweep, 600)
{
	const char *only = getenv("VSHADOW_FAIL_NTH");
	bool full = sweep_full();
	unsigned int stride = full || !variant->kernel ? 1 : SAMPLE_STRIDE;
	struct tally t = { 0 };
	unsigned int nth;
	char site[80], what[160];
	struct seq s;
	bool fired;

	for (nth = only ? atoi(only) : 1; nth < MAX_POINTS; nth += stride) {
		mock_renew(_metadata, &self->b);
		memset(&s, 0, sizeof(s));
		ASSERT_EQ(0, injector_arm(&self->inj, nth));
		run_sequence(&self->b, &s, self->buf);
		fired = injector_disarm(&self->inj, site, sizeof(site));
		if (fired)
			lost_report(&s, variant->kernel, site);
		snprintf(what, sizeof(what), "point %u (%s): %s said %s", nth,
			 site[0] ? site : "kernel", s.failed ?: "nothing",
			 s.err ? strerror(s.err) : "success");
		check_run(_metadata, &self->b, &s, &t, what);
		if (!fired) {
			/* No failure at all: every call must have worked. */
			EXPECT_EQ(0, s.err) {
				TH_LOG("%s", what);
			}
			break;
		}
		t.points++;
		if (only)
			break;
	}
	EXPECT_GT(MAX_POINTS, nth);
	EXPECT_EQ(0, t.inconsistencies);
	EXPECT_EQ(0, t.leaks);
	report(&t, stride == 1 ? "full" : "sampled",
	       variant->kernel ? "kernel" : "module",
	       backend_name(variant->backend));
}

/*
 * The mock's own injector: backend call N from the first map on (map,
 * unmap or sync) fails with the variant's errno, and the @repeat calls
 * after it too (the walk's own probes of a failed run included); an
 * unmap that fails first removes @after mappings of its run, as type1's
 * can.  The same sequence and check, N from 1 up until a run makes fewer
 * than N calls.
 */
FIXTURE(backend_faults) {
	struct vs_backend b;
	uint8_t *buf;
};

FIXTURE_VARIANT(backend_faults) {
	int error;
	uint32_t after;
	uint32_t repeat;
	uint32_t flags;
};

FIXTURE_VARIANT_ADD(backend_faults, once) {
	.error = ENOMEM,
};

FIXTURE_VARIANT_ADD(backend_faults, partial) {
	.error = ENOMEM, .after = 1,
};

FIXTURE_VARIANT_ADD(backend_faults, twice) {
	.error = ENOMEM, .repeat = 1,
};

FIXTURE_VARIANT_ADD(backend_faults, partial_twice) {
	.error = ENOMEM, .after = 1, .repeat = 1,
};

/*
 * A run that removes one mapping and fails, whose first probe then fails
 * before it can tell whether the next one is there (as iommufd's dirty
 * read of a destroyed HWPT, before its unmap), and whose unmap without a
 * bitmap fails once more after that: the unknown fates.
 */
FIXTURE_VARIANT_ADD(backend_faults, probe_fails) {
	.error = ENOMEM, .after = 1, .repeat = 1,
	.flags = VSHADOW_MOCK_FAIL_READ_FIRST,
};

FIXTURE_VARIANT_ADD(backend_faults, probe_fails_twice) {
	.error = ENOMEM, .after = 1, .repeat = 2,
	.flags = VSHADOW_MOCK_FAIL_READ_FIRST,
};

/*
 * The backend's own EIO: its state is unknown, the context breaks, a run
 * too (a call that fails at once, so that every one fired is an EIO).
 */
FIXTURE_VARIANT_ADD(backend_faults, eio) {
	.error = EIO,
};

FIXTURE_SETUP(backend_faults)
{
	vs_backend_open(_metadata, &self->b, VSHADOW_MOCK_BACKEND);
	self->buf = mmap(NULL, 16 * PAGE_4K, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
}

FIXTURE_TEARDOWN(backend_faults)
{
	vs_backend_close(&self->b);
}

TEST_F(backend_faults, sweep)
{
	struct vshadow_mock_fail_nth f = {
		.size = sizeof(f), .error = variant->error,
		.after = variant->after, .repeat = variant->repeat,
		.flags = variant->flags,
	};
	struct vshadow_mock_get_mappings g = { .size = sizeof(g) };
	struct tally t = { 0 };
	char what[160];
	struct seq s;

	for (f.nth = 1; f.nth < MAX_POINTS; f.nth++) {
		mock_renew(_metadata, &self->b);
		ASSERT_EQ(0, vs_ioctl(self->b.fd, VSHADOW_MOCK_FAIL_NTH, &f));
		memset(&s, 0, sizeof(s));
		run_sequence(&self->b, &s, self->buf);
		ASSERT_EQ(0, vs_ioctl(self->b.fd, VSHADOW_MOCK_GET_MAPPINGS, &g));
		ASSERT_EQ(0, mock_fail_nth(self->b.fd, 0, ENOMEM));
		snprintf(what, sizeof(what), "backend call %u: %s said %s",
			 f.nth, s.failed ?: "nothing",
			 s.err ? strerror(s.err) : "success");
		check_run(_metadata, &self->b, &s, &t, what);
		if (g.out_calls < f.nth) {
			EXPECT_EQ(0, s.err) {
				TH_LOG("%s", what);
			}
			break;
		}
		t.points++;
	}
	EXPECT_GT(MAX_POINTS, f.nth);
	EXPECT_EQ(0, t.inconsistencies);
	EXPECT_EQ(0, t.leaks);
	/* The backend's EIO, wherever it comes, breaks the context. */
	if (variant->error == EIO)
		EXPECT_EQ(t.points, t.broken);
	report(&t, "full", "mock", "mock");
}

/* ------------------------------------------------------------------ */
/* Concurrency and lifetime                                            */
/* ------------------------------------------------------------------ */

FIXTURE(lifetime) {
	int ctx;
	int mock;
	uint8_t *buf;
	long contexts0;		/* contexts alive before the test */
};

FIXTURE_SETUP(lifetime)
{
	long nodes;

	self->mock = open(VS_MOCK_DEV, O_RDWR | O_CLOEXEC);
	if (self->mock < 0)
		SETUP_SKIP("mock backend not loaded");
	ASSERT_EQ(0, vs_objects(&self->contexts0, &nodes));
	self->ctx = vs_open();
	ASSERT_LE(0, self->ctx);
	ASSERT_EQ(0, _vs_attach(self->ctx, VSHADOW_MOCK_BACKEND, self->mock));
	ASSERT_EQ(0, mock_tracking(self->mock, true));
	self->buf = mmap(NULL, 16 * PAGE_4K, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
}

FIXTURE_TEARDOWN(lifetime)
{
	if (self->ctx >= 0)
		close(self->ctx);
	if (self->mock >= 0)
		close(self->mock);
}

/*
 * No context left but @contexts (those of the module before the test,
 * and the fixture's if still open), and no node but @nodes.
 */
static void expect_no_leak(struct __test_metadata *_metadata, long contexts,
			   long nodes)
{
	long c, n;

	ASSERT_EQ(0, vs_objects(&c, &n));
	EXPECT_EQ(contexts, c);
	EXPECT_EQ(nodes, n);
}

#define THREADS		4
#define THREAD_MAPS	8
#define THREAD_SPAN	0x1000000ULL	/* each thread's own IOVA region */
#define THREAD_ROUNDS	200

struct worker {
	int ctx;
	int id;			/* THREADS: the one that syncs everything */
	void *page;
	unsigned long ops;
	int err;		/* first unexpected errno */
	char what[64];
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct viommu_shadow_unmap_record rec[THREAD_MAPS];
	uint64_t bitmap[THREAD_MAPS];
	struct viommu_shadow_unmap_range r;
	struct viommu_shadow_info info;
	uint64_t base = (uint64_t)(w->id + 1) * THREAD_SPAN;
	int round, i, ret;

	for (round = 0; round < THREAD_ROUNDS && !w->err; round++) {
		if (w->id == THREADS) {
			/* Sync and count across everyone's mappings. */
			r = vs_range(0, UINT64_MAX, 0, rec, THREAD_MAPS);
			vs_range_dirty(&r, bitmap, sizeof(bitmap));
			ret = vs_ioctl(w->ctx, VIOMMU_SHADOW_SYNC_DIRTY, &r);
			if (ret && ret != ENOSPC)
				snprintf(w->what, sizeof(w->what), "sync");
			else
				ret = _vs_info(w->ctx, &info);
			w->ops += 2;
			if (ret && ret != ENOSPC)
				w->err = ret;
			continue;
		}
		ret = vs_map_many(w->ctx, base, THREAD_MAPS, w->page);
		if (ret) {
			w->err = ret;
			snprintf(w->what, sizeof(w->what), "map_batch");
			break;
		}
		r = vs_range(base, base + THREAD_SPAN - 1, 0, rec, THREAD_MAPS);
		vs_range_dirty(&r, bitmap, sizeof(bitmap));
		ret = vs_ioctl(w->ctx, VIOMMU_SHADOW_SYNC_DIRTY, &r);
		if (!ret)
			ret = _vs_unmap(w->ctx, &r);
		w->ops += 3;
		if (ret) {
			w->err = ret;
			snprintf(w->what, sizeof(w->what), "sync/unmap");
			break;
		}
		/* Its own mappings, all of them, and only them. */
		if (r.out_nr_records != THREAD_MAPS ||
		    (r.out_flags & VIOMMU_SHADOW_UNMAP_OUT_MORE)) {
			w->err = EPROTO;
			snprintf(w->what, sizeof(w->what), "%u records",
				 r.out_nr_records);
			break;
		}
		for (i = 0; i < THREAD_MAPS; i++)
			if (rec[i].iova != base + i * PAGE_4K ||
			    rec[i].cookie != (uint64_t)i)
				w->err = EPROTO;
	}
	return NULL;
}

/*
 * Threads of one process map, sync and range-unmap on one context at
 * once, each in its own part of the space, while another syncs the whole
 * space: each gets back exactly its own mappings, and everything is gone
 * at the end, from the tree and the backend alike.
 */
TEST_F_TIMEOUT(lifetime, threads_share_a_context, 300)
{
	struct worker w[THREADS + 1];
	pthread_t tid[THREADS + 1];
	struct viommu_shadow_info info;
	unsigned long ops = 0;
	int i;

	for (i = 0; i <= THREADS; i++) {
		w[i] = (struct worker) {
			.ctx = self->ctx, .id = i, .page = self->buf,
		};
		ASSERT_EQ(0, pthread_create(&tid[i], NULL, worker_run, &w[i]));
	}
	for (i = 0; i <= THREADS; i++) {
		pthread_join(tid[i], NULL);
		EXPECT_EQ(0, w[i].err) {
			TH_LOG("thread %d: %s: %s", i, w[i].what,
			       strerror(w[i].err));
		}
		ops += w[i].ops;
	}
	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	EXPECT_EQ(0, info.nr_mappings);
	EXPECT_EQ(0, mock_mappings(self->mock, NULL, 0));
	EXPECT_FALSE(info.out_flags & VIOMMU_SHADOW_INFO_OUT_BROKEN);
	printf("VSHADOW-RELIABILITY concurrent=%lu\n", ops);
	fflush(stdout);
}

struct unmapper {
	int ctx;
	uint32_t n;
	struct viommu_shadow_unmap_record *rec;
	struct viommu_shadow_unmap_range r;
	int ret;
	int done;		/* set once the call returned */
};

static void *unmap_all(void *arg)
{
	struct unmapper *u = arg;

	u->r = vs_range(0, UINT64_MAX, 0, u->rec, u->n);
	u->ret = _vs_unmap(u->ctx, &u->r);
	__atomic_store_n(&u->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * close() of the context's fd, and of the backend's, while another thread
 * range-unmaps 65535 mappings through it: the call in flight holds both
 * files, finishes and reports everything; the context and its backend go
 * when it returns, leaving nothing.
 */
TEST_F_TIMEOUT(lifetime, close_during_unmap, 300)
{
	const uint32_t n = 65535;
	struct unmapper u = { .ctx = self->ctx, .n = n };
	pthread_t tid;
	long left;

	u.rec = calloc(n, sizeof(*u.rec));
	ASSERT_NE(NULL, u.rec);
	ASSERT_EQ(0, vs_map_many(self->ctx, PAGE_4K, n, self->buf));
	ASSERT_EQ(n, mock_mappings(self->mock, NULL, 0));
	ASSERT_EQ(0, pthread_create(&tid, NULL, unmap_all, &u));
	/* Close both once the walk is under way (or, failing, over). */
	do {
		left = mock_mappings(self->mock, NULL, 0);
	} while (left == n && !__atomic_load_n(&u.done, __ATOMIC_ACQUIRE));
	EXPECT_EQ(0, close(self->ctx));
	EXPECT_EQ(0, close(self->mock));
	self->ctx = -1;
	self->mock = -1;
	pthread_join(tid, NULL);
	EXPECT_EQ(0, u.ret);
	EXPECT_EQ(n, u.r.out_nr_records);
	EXPECT_EQ((uint64_t)n * PAGE_4K, u.r.out_bytes);
	expect_no_leak(_metadata, self->contexts0, 0);
	free(u.rec);
}

/*
 * A process that gets the context's fd over a Unix socket (not a child:
 * a process that existed before the context) cannot use it: EPERM, and
 * the owner's mappings do not change.
 */
TEST_F(lifetime, fd_passed_over_socket)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct msghdr msg = { 0 };
	struct iovec iov;
	struct cmsghdr *cm;
	int sv[2], status;
	char c = 0;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 7));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct viommu_shadow_unmap_record rec;
		struct viommu_shadow_unmap_range r =
			vs_range(0, UINT64_MAX, 0, &rec, 1);
		int fd;

		close(sv[0]);
		close(self->ctx);	/* only the one that comes over the socket */
		iov = (struct iovec) { .iov_base = &c, .iov_len = 1 };
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		if (recvmsg(sv[1], &msg, 0) != 1)
			_exit(10);
		cm = CMSG_FIRSTHDR(&msg);
		if (!cm || cm->cmsg_type != SCM_RIGHTS)
			_exit(11);
		memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
		if (_vs_map(fd, 2 * SZ_1G, PAGE_4K, self->buf, 8) != EPERM)
			_exit(1);
		if (_vs_unmap(fd, &r) != EPERM)
			_exit(2);
		_exit(0);
	}
	close(sv[1]);
	iov = (struct iovec) { .iov_base = &c, .iov_len = 1 };
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &self->ctx, sizeof(int));
	ASSERT_EQ(1, sendmsg(sv[0], &msg, 0));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(1, mock_mappings(self->mock, NULL, 0));
	EXPECT_EQ(0, _vs_map(self->ctx, 2 * SZ_1G, PAGE_4K, self->buf, 8));
	close(sv[0]);
}

/*
 * While a context is open, neither the module nor the backend module it
 * is attached to can be unloaded.
 */
TEST_F(lifetime, rmmod_refused)
{
	EXPECT_EQ(-1, syscall(SYS_delete_module, "viommu_shadow", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	EXPECT_EQ(-1, syscall(SYS_delete_module, "viommu_shadow_mock",
			      O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	/* And the context still works. */
	EXPECT_EQ(0, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 1));
}

/*
 * 64 contexts at once, each on a mock of its own, each mapping and
 * unmapping its own: no context sees another's, and closing them leaves
 * nothing.  On type1, a context per container for as many edu devices as
 * the guest has.
 */
TEST_F_TIMEOUT(lifetime, many_contexts, 300)
{
	struct viommu_shadow_unmap_record rec[17];
	struct viommu_shadow_unmap_range r;
	int ctx[64], mock[64], i, k, boxes = 0;
	struct vfio_box box[8];

	for (i = 0; i < 64; i++) {
		ctx[i] = vs_open();
		mock[i] = open(VS_MOCK_DEV, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, ctx[i]);
		ASSERT_LE(0, mock[i]);
		ASSERT_EQ(0, _vs_attach(ctx[i], VSHADOW_MOCK_BACKEND, mock[i]));
		ASSERT_EQ(0, vs_map_many(ctx[i], (i + 1) * SZ_1G, 16, self->buf));
	}
	for (i = 0; i < 64; i++) {
		EXPECT_EQ(16, mock_mappings(mock[i], NULL, 0));
		r = vs_range(0, UINT64_MAX, 0, rec, 17);
		ASSERT_EQ(0, _vs_unmap(ctx[i], &r));
		EXPECT_EQ(16, r.out_nr_records);
		for (k = 0; k < 16 && k < (int)r.out_nr_records; k++)
			EXPECT_EQ((i + 1) * SZ_1G + k * PAGE_4K, rec[k].iova);
		EXPECT_EQ(0, mock_mappings(mock[i], NULL, 0));
	}
	for (i = 0; i < 64; i++) {
		close(ctx[i]);
		close(mock[i]);
	}

	for (i = 0; i < 8 && !vfio_box_open(&box[i], i, true); i++) {
		ctx[i] = vs_open();
		ASSERT_LE(0, ctx[i]);
		ASSERT_EQ(0, _vs_attach(ctx[i], VIOMMU_SHADOW_BACKEND_VFIO_TYPE1,
					box[i].container));
		ASSERT_EQ(0, _vs_map(ctx[i], SZ_1G, PAGE_4K, self->buf, i));
		boxes++;
	}
	if (i < 8)
		vfio_box_close(&box[i]);	/* the one that failed */
	for (i = 0; i < boxes; i++) {
		r = vs_range(0, UINT64_MAX, 0, rec, 2);
		ASSERT_EQ(0, _vs_unmap(ctx[i], &r));
		EXPECT_EQ(1, r.out_nr_records);
		EXPECT_EQ((uint64_t)i, rec[0].cookie);
		close(ctx[i]);
		vfio_box_close(&box[i]);
	}
	TH_LOG("64 contexts on the mock, %d on type1 containers", boxes);
	/* The fixture's context is still open, with nothing mapped. */
	expect_no_leak(_metadata, self->contexts0 + 1, 0);
}

/* Whether every VFIO group of the guest refuses to open: EACCES. */
static bool groups_refused(void)
{
	DIR *d = opendir("/dev/vfio");
	struct dirent *de;
	char path[300];
	bool refused = d;
	int fd;

	while (d && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/dev/vfio/%s", de->d_name);
		fd = open(path, O_RDWR);
		if (fd >= 0 || errno != EACCES)
			refused = false;
		if (fd >= 0)
			close(fd);
	}
	if (d)
		closedir(d);
	return refused;
}

/*
 * A user without privileges can open the device (0666) and a fresh VFIO
 * container, but holds no container with a device: it can attach to
 * nothing, and do nothing to anyone's mappings.
 */
TEST_F(lifetime, unprivileged_user)
{
	int status;
	pid_t pid;

	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->buf, 3));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct viommu_shadow_unmap_record rec;
		struct viommu_shadow_unmap_range r =
			vs_range(0, UINT64_MAX, 0, &rec, 1);
		int ctx, bare;

		close(self->ctx);
		close(self->mock);
		if (setgid(65534) || setuid(65534))
			_exit(10);
		if (open(VS_MOCK_DEV, O_RDWR) >= 0 || errno != EACCES)
			_exit(1);
		if (!groups_refused())
			_exit(2);
		ctx = vs_open();
		if (ctx < 0)
			_exit(3);
		bare = open("/dev/vfio/vfio", O_RDWR);
		if (bare >= 0 && _vs_attach(ctx, 1, bare) != ENODEV)
			_exit(4);
		if (_vs_map(ctx, SZ_1G, PAGE_4K, self->buf, 0) != ENXIO ||
		    _vs_unmap(ctx, &r) != ENXIO)
			_exit(5);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(1, mock_mappings(self->mock, NULL, 0));
}

/* ------------------------------------------------------------------ */
/* A bounded random-ioctl fuzzer                                       */
/* ------------------------------------------------------------------ */

/*
 * Random calls of every ioctl on a context over the mock, their structs
 * mostly well formed (so that they reach the walk) with one field or the
 * size at random now and then, their IOVAs aimed as syzkaller's iommufd
 * descriptions aim them: at a live mapping (the nth, plus an offset), at
 * the 2^64 edges, or anywhere.  Now and then the mock fails a backend
 * call.  After every FUZZ_BATCH calls, and at the end, the tree and the
 * mock must agree (GET_INFO against the mock's own list) unless a call
 * broke the context, which only EIO or ENODEV may do; at the end an
 * UNMAP_RANGE of everything must report the mock's mappings exactly.
 *
 * Bounded by a count (FUZZ_CALLS, FUZZ_CALLS_FULL with VSHADOW_SWEEP=full)
 * and FUZZ_SECONDS; seeded by VSHADOW_FUZZ_SEED (default FUZZ_SEED), the
 * seed printed so that a failure can be replayed.
 */
#define FUZZ_SEED	0x5eed0001ULL
#define FUZZ_CALLS	3000
#define FUZZ_CALLS_FULL	30000
#define FUZZ_SECONDS	120
#define FUZZ_BATCH	50
#define FUZZ_LIVE	256	/* live mappings the fuzzer remembers */
#define FUZZ_REC	64
#define FUZZ_LOG_PAGES	4096	/* a dirty log's: cookies 0 to 16 MiB */

struct fuzz {
	uint64_t state;
	uint64_t live[FUZZ_LIVE];	/* IOVAs of mappings it made */
	unsigned int nr_live;
	void *buf;
	void *hole;			/* an address with nothing mapped */
	bool eio;			/* the mock was told to fail with EIO */
	struct viommu_shadow_unmap_record rec[FUZZ_REC + 1];
	uint64_t bitmap[FUZZ_REC * 8];
	uint64_t log[FUZZ_LOG_PAGES / 64];
	struct viommu_shadow_map_entry entries[16];
	struct viommu_shadow_range ranges[8];
};

static uint64_t fz_next(struct fuzz *f)
{
	/* xorshift64* */
	f->state ^= f->state >> 12;
	f->state ^= f->state << 25;
	f->state ^= f->state >> 27;
	return f->state * 0x2545f4914f6cdd1dULL;
}

static uint64_t fz_below(struct fuzz *f, uint64_t n)
{
	return n ? fz_next(f) % n : 0;
}

static bool fz_chance(struct fuzz *f, unsigned int percent)
{
	return fz_below(f, 100) < percent;
}

/* An IOVA: a live mapping's plus an offset, an edge, or anything. */
static uint64_t fz_iova(struct fuzz *f)
{
	static const uint64_t edges[] = {
		0, PAGE_4K, SZ_1G, 1ULL << 47, 1ULL << 48, 1ULL << 63,
		UINT64_MAX - 2 * PAGE_4K + 1, UINT64_MAX - PAGE_4K + 1,
		UINT64_MAX,
	};
	uint64_t v;

	switch (fz_below(f, 4)) {
	case 0:
		if (!f->nr_live)
			return edges[fz_below(f, ARRAY_SIZE(edges))];
		v = f->live[fz_below(f, f->nr_live)];
		return v + (fz_below(f, 5) - 2) * PAGE_4K;
	case 1:
		return edges[fz_below(f, ARRAY_SIZE(edges))];
	case 2:
		return fz_below(f, 64) * PAGE_4K;
	default:
		return fz_chance(f, 80) ? fz_next(f) & ~(PAGE_4K - 1) :
		       fz_next(f);
	}
}

static uint64_t fz_length(struct fuzz *f)
{
	switch (fz_below(f, 8)) {
	case 0:
		return fz_next(f);
	case 1:
		return 0;
	default:
		return (1 + fz_below(f, 4)) * PAGE_4K;
	}
}

/* One field of the struct at @p (@size bytes) or its size, at random. */
static void fz_mangle(struct fuzz *f, void *p, size_t size, uint32_t *usize)
{
	uint8_t *b = p;

	switch (fz_below(f, 4)) {
	case 0:
		*usize = fz_below(f, size + 16);
		break;
	case 1:
		b[4 + fz_below(f, size - 4)] ^= 1 << fz_below(f, 8);
		break;
	case 2:
		*(uint64_t *)(b + 8 * fz_below(f, size / 8)) = fz_next(f);
		break;
	default:
		*(uint64_t *)(b + 8 * fz_below(f, size / 8)) =
			(uintptr_t)f->hole;
		break;
	}
}

/* A cookie: half the time a page of the fuzzer's log, else anything. */
static uint64_t fz_cookie(struct fuzz *f)
{
	return fz_chance(f, 50) ? fz_below(f, FUZZ_LOG_PAGES) * PAGE_4K :
				  fz_next(f);
}

/*
 * Into the dirty log, from a base that puts some cookies in it, now and
 * then without records or bitmap.
 */
static void fz_log(struct fuzz *f, struct viommu_shadow_unmap_range *r)
{
	r->flags |= VIOMMU_SHADOW_UNMAP_DIRTY_LOG;
	r->log = (uintptr_t)f->log;
	r->log_base = fz_below(f, FUZZ_LOG_PAGES / 2) * PAGE_4K;
	r->log_pages = 1 + fz_below(f, FUZZ_LOG_PAGES);
	if (fz_chance(f, 20)) {
		r->records = 0;
		r->nr_records = 0;
		r->record_size = 0;
	}
	if (fz_chance(f, 20)) {
		r->bitmap = 0;
		r->bitmap_bytes = 0;
	}
}

static void fz_remember(struct fuzz *f, uint64_t iova)
{
	if (f->nr_live < FUZZ_LIVE)
		f->live[f->nr_live++] = iova;
	else
		f->live[fz_below(f, FUZZ_LIVE)] = iova;
}

/* One random call; its errno (0 on success). */
static int fz_call(struct fuzz *f, int ctx, int mock)
{
	union {
		struct viommu_shadow_map map;
		struct viommu_shadow_unmap_range range;
		struct viommu_shadow_map_batch mbatch;
		struct viommu_shadow_unmap_batch ubatch;
		struct viommu_shadow_info info;
		uint8_t raw[256];
	} u;
	unsigned long req;
	unsigned int i, n;
	uint32_t *usize = (uint32_t *)&u;
	size_t size;
	int ret;

	memset(&u, 0, sizeof(u));
	switch (fz_below(f, 10)) {
	case 0: case 1: case 2:
		req = VIOMMU_SHADOW_MAP;
		size = sizeof(u.map);
		u.map = (struct viommu_shadow_map) {
			.size = size, .flags = 1 + fz_below(f, 3),
			.iova = fz_iova(f), .length = fz_length(f),
			.vaddr = (uintptr_t)f->buf, .cookie = fz_cookie(f),
		};
		break;
	case 3:
		req = VIOMMU_SHADOW_MAP_BATCH;
		size = sizeof(u.mbatch);
		n = 1 + fz_below(f, ARRAY_SIZE(f->entries));
		for (i = 0; i < n; i++)
			f->entries[i] = (struct viommu_shadow_map_entry) {
				.flags = VIOMMU_SHADOW_MAP_READ,
				.iova = fz_iova(f), .length = fz_length(f),
				.vaddr = (uintptr_t)f->buf, .cookie = i,
			};
		u.mbatch = (struct viommu_shadow_map_batch) {
			.size = size, .entries = (uintptr_t)f->entries,
			.nr_entries = n, .entry_size = sizeof(f->entries[0]),
		};
		break;
	case 4: case 5: case 6:
		req = fz_chance(f, 70) ? VIOMMU_SHADOW_UNMAP_RANGE :
					  VIOMMU_SHADOW_SYNC_DIRTY;
		size = sizeof(u.range);
		u.range = vs_range(fz_iova(f), 0, 0, f->rec,
				   1 + fz_below(f, FUZZ_REC));
		u.range.last = fz_chance(f, 30) ? UINT64_MAX :
			       u.range.start + fz_length(f);
		if (fz_chance(f, 30))
			u.range.flags |= VIOMMU_SHADOW_UNMAP_WHOLE;
		if (req == VIOMMU_SHADOW_SYNC_DIRTY || fz_chance(f, 50))
			vs_range_dirty(&u.range, f->bitmap,
				       8 * (1 + fz_below(f, ARRAY_SIZE(f->bitmap))));
		if (u.range.flags & VIOMMU_SHADOW_UNMAP_GET_DIRTY &&
		    fz_chance(f, 40))
			fz_log(f, &u.range);
		break;
	case 7:
		req = VIOMMU_SHADOW_UNMAP_BATCH;
		size = sizeof(u.ubatch);
		n = 1 + fz_below(f, ARRAY_SIZE(f->ranges));
		for (i = 0; i < n; i++) {
			f->ranges[i].start = fz_iova(f);
			f->ranges[i].last = f->ranges[i].start + fz_length(f);
		}
		u.ubatch = (struct viommu_shadow_unmap_batch) {
			.size = size, .ranges = (uintptr_t)f->ranges,
			.nr_ranges = n, .range_size = sizeof(f->ranges[0]),
			.records = (uintptr_t)f->rec, .nr_records = FUZZ_REC,
			.record_size = sizeof(f->rec[0]),
		};
		break;
	case 8:
		/* The mock fails one of the next backend calls. */
		f->eio |= fz_chance(f, 10);
		return mock_fail_nth(mock, 1 + fz_below(f, 4),
				     f->eio ? EIO : ENOMEM);
	default:
		req = VIOMMU_SHADOW_GET_INFO;
		size = sizeof(u.info);
		u.info.size = size;
		break;
	}
	if (fz_chance(f, 15))
		fz_mangle(f, &u, size, usize);
	if (fz_chance(f, 2))
		req = _IO(VIOMMU_SHADOW_TYPE, fz_below(f, 0x100));
	ret = vs_ioctl(ctx, req, &u);
	if (!ret && req == VIOMMU_SHADOW_MAP)
		fz_remember(f, u.map.iova);
	if (req == VIOMMU_SHADOW_MAP_BATCH)
		for (i = 0; i < u.mbatch.out_done && i < ARRAY_SIZE(f->entries); i++)
			fz_remember(f, f->entries[i].iova);
	return ret;
}

/* The tree (GET_INFO) and the mock agree; false with a message if not. */
static bool fz_consistent(struct __test_metadata *_metadata, int ctx, int mock,
			  bool *broken)
{
	static struct vshadow_mock_mapping m[65536];
	struct viommu_shadow_info info;
	uint64_t bytes = 0;
	long n, i;

	if (_vs_info(ctx, &info))
		return false;
	*broken = info.out_flags & VIOMMU_SHADOW_INFO_OUT_BROKEN;
	if (*broken)
		return true;
	n = mock_mappings(mock, m, ARRAY_SIZE(m));
	for (i = 0; i < n && i < (long)ARRAY_SIZE(m); i++)
		bytes += m[i].length;
	if (n < 0 || (uint64_t)n != info.nr_mappings ||
	    bytes != info.mapped_bytes) {
		TH_LOG("tree %llu mappings %#llx bytes, mock %ld, %#llx",
		       (unsigned long long)info.nr_mappings,
		       (unsigned long long)info.mapped_bytes, n,
		       (unsigned long long)bytes);
		return false;
	}
	return true;
}

TEST_F_TIMEOUT(lifetime, fuzz, 300)
{
	const char *env = getenv("VSHADOW_FUZZ_SEED");
	unsigned long calls = sweep_full() ? FUZZ_CALLS_FULL : FUZZ_CALLS;
	unsigned long done, errors = 0, contexts = 1;
	struct fuzz *f = calloc(1, sizeof(*f));
	time_t until = time(NULL) + FUZZ_SECONDS;
	struct viommu_shadow_unmap_range r;
	uint64_t seed;
	bool broken;
	int err;

	ASSERT_NE(NULL, f);
	seed = env ? strtoull(env, NULL, 0) : FUZZ_SEED;
	f->state = seed ?: 1;
	f->buf = self->buf;
	f->hole = mmap(NULL, PAGE_4K, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, f->hole);
	ASSERT_EQ(0, munmap(f->hole, PAGE_4K));
	TH_LOG("seed %#llx (VSHADOW_FUZZ_SEED replays it), %lu calls",
	       (unsigned long long)seed, calls);

	for (done = 0; done < calls && time(NULL) < until; done++) {
		err = fz_call(f, self->ctx, self->mock);
		errors += !!err;
		if ((done + 1) % FUZZ_BATCH)
			continue;
		ASSERT_EQ(0, mock_fail_nth(self->mock, 0, ENOMEM));
		ASSERT_TRUE(fz_consistent(_metadata, self->ctx, self->mock,
					  &broken)) {
			TH_LOG("after call %lu (seed %#llx)", done + 1,
			       (unsigned long long)seed);
		}
		/* Only the backend's own EIO may break the context. */
		ASSERT_TRUE(!broken || f->eio) {
			TH_LOG("broken without a backend EIO, by call %lu (seed %#llx)",
			       done + 1, (unsigned long long)seed);
		}
		f->eio = false;
		if (broken) {
			/* Go on with a fresh context and mock. */
			close(self->ctx);
			close(self->mock);
			self->mock = open(VS_MOCK_DEV, O_RDWR | O_CLOEXEC);
			self->ctx = vs_open();
			ASSERT_LE(0, self->mock);
			ASSERT_LE(0, self->ctx);
			ASSERT_EQ(0, _vs_attach(self->ctx, VSHADOW_MOCK_BACKEND,
						self->mock));
			ASSERT_EQ(0, mock_tracking(self->mock, true));
			f->nr_live = 0;
			contexts++;
		}
	}
	ASSERT_EQ(0, mock_fail_nth(self->mock, 0, ENOMEM));
	ASSERT_TRUE(fz_consistent(_metadata, self->ctx, self->mock, &broken));
	if (!broken) {
		/* Everything the tree has, the mock has, and goes. */
		do {
			r = vs_range(0, UINT64_MAX, VIOMMU_SHADOW_UNMAP_WHOLE,
				     f->rec, FUZZ_REC);
			ASSERT_EQ(0, _vs_unmap(self->ctx, &r));
		} while (r.out_flags & VIOMMU_SHADOW_UNMAP_OUT_MORE);
		EXPECT_EQ(0, mock_mappings(self->mock, NULL, 0));
	}
	TH_LOG("%lu calls (%lu failed), %lu contexts", done, errors, contexts);
	printf("VSHADOW-RELIABILITY fuzz=%lu seed=%#llx\n", done,
	       (unsigned long long)seed);
	fflush(stdout);
	free(f);
}

VS_SKIP_WITHOUT_MODULE();

TEST_HARNESS_MAIN
