// SPDX-License-Identifier: GPL-2.0
/*
 * qemu_vtd_test: a real, unmodified VMM drives viommu_shadow.
 *
 * Debian's qemu-system-x86_64 (7.2) runs inside the test VM with its own
 * emulated Intel IOMMU (-device intel-iommu,caching-mode=on,aw-bits=48) in
 * front of one of the VM's edu devices, assigned with -device vfio-pci.
 * This program plays the inner guest's IOMMU driver over QEMU's qtest
 * protocol (-qtest stdio, -S: no inner vCPU ever runs): it writes the
 * root table, the device's context entry and second-level page tables
 * into the inner guest's RAM, sets the root table pointer, enables
 * translation and invalidates.  QEMU's own VT-d code then issues the VFIO
 * map and unmap calls: page-selective IOTLB invalidation (its shadow page
 * table sync of the range), global IOTLB invalidation (a sync of the whole
 * space), a device-selective context invalidation of a cleared context
 * entry (its notifier range unmapped in power-of-two chunks, the largest
 * 2^47 bytes), translation disabled (its VFIO listener unmaps each IOMMU
 * section whole, then maps the inner RAM again).
 *
 * Invalidation is register-based (IVA/IOTLB and CCMD registers), not
 * queued: each one is a single MMIO write that QEMU handles, VFIO calls
 * included, before its qtest "OK" comes back, so every check after it
 * sees a settled state; queued invalidation reaches the same QEMU code
 * (vtd_iotlb_page_invalidate(), vtd_context_device_invalidate()) but
 * would need a queue in guest RAM and a wait descriptor per step.
 *
 * Each case runs in three configurations (the fixture variants): QEMU
 * straight on type1; under LD_PRELOAD=libvshadow-preload.so with the
 * module; and under the preload library with the module absent: QEMU then
 * runs in a mount namespace whose /dev has only the nodes it needs (no
 * /dev/viommu_shadow, so the library's open() fails with ENOENT, as on a
 * host without the module, and it falls back to type1 in userspace).
 * After every step the test compares, with what its page tables say is
 * mapped (one 4 KiB mapping per present leaf entry; the inner RAM while
 * translation is off):
 * - the module's shadow mappings of QEMU's context (vshadowctl -j), in
 *   the module configuration; that QEMU has no context, in the fallback;
 * - QEMU's type1 container, taken with pidfd_getfd(): its mapping count
 *   (VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) and, at each expected IOVA, a
 *   one-page VFIO_IOMMU_MAP_DMA that must fail with EEXIST (which type1
 *   checks before it pins or maps anything).
 * QEMU's exit status and its standard error (pids normalised) must be the
 * same as on plain type1, and after it exits nothing is left: the group
 * opens again into an empty container, and the module has no context
 * and no mapping.
 *
 * Out of scope: a Linux guest inside QEMU (TCG inside TCG would take
 * hours); migration with dirty bits (QEMU 7.2 asks for a dirty bitmap
 * only when every VFIO device is migratable, which edu is not: the dirty
 * path is covered by the other tests); AMD-Vi (QEMU 7.2's amd-iommu
 * refuses the MAP notifier VFIO needs, which one case asserts so the day
 * a newer QEMU takes it shows); virtio-iommu (its request queue needs a
 * virtio driver in the inner guest).
 *
 * Needs root, /usr/bin/qemu-system-x86_64 with its libraries and data
 * (scripts/vm.sh --host-file), the preload library at PRELOAD_LIB, an edu
 * device bound to vfio-pci behind an Intel IOMMU, and vshadowctl.
 */
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "kselftest_harness.h"
#include "vshadow_utils.h"

#define QEMU		"/usr/bin/qemu-system-x86_64"
#define PRELOAD_LIB	"/usr/lib/viommu_shadow/libvshadow-preload.so"
#define TRACEFS		"/sys/kernel/debug/tracing"
#define OUT_DIR		"/tmp"

/* The inner guest: 64 MiB of RAM, the device at 00:04.0. */
#define INNER_RAM	(64ULL << 20)
#define INNER_DEVFN	(4 << 3)
#define DOMAIN_ID	1

/* Where the tables and the DMA targets live in the inner guest's RAM. */
#define ROOT_TABLE	0x200000ULL
#define CONTEXT_TABLE	0x201000ULL
#define PML4		0x202000ULL
#define TABLE_POOL	0x203000ULL
#define TABLE_POOL_END	0x800000ULL
#define TARGETS		0x1000000ULL

/* VT-d registers (Intel VT-d specification, chapter 11). */
#define DMAR_BASE	0xfed90000UL
#define DMAR_VER	0x00
#define DMAR_GCMD	0x18
#define DMAR_GSTS	0x1c
#define DMAR_RTADDR	0x20
#define DMAR_CCMD	0x28
#define DMAR_IVA	0xf0	/* QEMU's ECAP.IRO: 0xf0 */
#define DMAR_IOTLB	0xf8
#define GCMD_TE		0x80000000U
#define GCMD_SRTP	0x40000000U
#define CCMD_ICC	0x8000000000000000ULL
#define CCMD_GLOBAL	0x2000000000000000ULL
#define CCMD_DEVICE	0x6000000000000000ULL
#define IOTLB_IVT	0x8000000000000000ULL
#define IOTLB_GLOBAL	0x1000000000000000ULL
#define IOTLB_PSI	0x3000000000000000ULL
#define PTE_RW		3ULL
#define CTX_AW_48	2ULL	/* four-level tables */

#define PAGE		4096ULL
#define MAX_MAPPINGS	2048
#define MAX_TABLES	((TABLE_POOL_END - TABLE_POOL) / PAGE)

enum config { CFG_TYPE1, CFG_MODULE, CFG_FALLBACK };

static const char *const config_name[] = {
	[CFG_TYPE1] = "type1",
	[CFG_MODULE] = "module",
	[CFG_FALLBACK] = "fallback",
};

struct range {
	uint64_t iova;
	uint64_t length;
	uint64_t cookie;	/* the module's; the preload library sets the IOVA */
};

/*
 * What QEMU 7.2 maps through VFIO for the inner guest while translation
 * is off (q35, -m 64M, -nodefaults; measured): RAM below 768 KiB (with
 * no VGA, the legacy VGA window is RAM), the option ROM area and the
 * BIOS's low alias (read-only), RAM from 1 MiB, the BIOS below 4 GiB
 * (read-only).
 */
static const struct range inner_ram[] = {
	{ 0, 0xc0000 },
	{ 0xc0000, 0x20000 },
	{ 0xe0000, 0x20000 },
	{ 0x100000, INNER_RAM - 0x100000 },
	{ 0xfffc0000, 0x40000 },
};

/* A second-level table the test made: its level, what it covers, where. */
struct table {
	int level;
	uint64_t prefix;
	uint64_t gpa;
};

/* The inner QEMU, and what the test made it do. */
struct inner {
	enum config cfg;
	pid_t pid;
	int qt;			/* our end of QEMU's qtest stdio */
	char bdf[32];
	int group;
	char err_path[128];
	/* the page tables, as the test wrote them */
	struct table tables[MAX_TABLES];
	int nr_tables;
	uint64_t next_table;
	/* the present leaf entries: IOVA -> inner guest-physical address */
	uint64_t iova[MAX_MAPPINGS];
	uint64_t gpa[MAX_MAPPINGS];
	int nr;
	bool translating;
	bool ctx_present;
	/* what QEMU maps while translation is off */
	const struct range *ram;
	int nr_ram;
	int steps;
	int mismatches;
	unsigned long dma_limit;
};

FIXTURE(qemu) {
	struct inner in;
};

FIXTURE_VARIANT(qemu) {
	enum config cfg;
};

/* Plain type1 first: the others compare their exit and stderr with it. */
FIXTURE_VARIANT_ADD(qemu, type1) { .cfg = CFG_TYPE1 };
FIXTURE_VARIANT_ADD(qemu, module) { .cfg = CFG_MODULE };
FIXTURE_VARIANT_ADD(qemu, fallback) { .cfg = CFG_FALLBACK };

static bool full_sweep(void)
{
	const char *s = getenv("VSHADOW_SWEEP");

	return s && !strcmp(s, "full");
}

/* ---- qtest ---- */

/*
 * Send one qtest command and read its answer: 0 and, for a read, the
 * value; -1 on "ERR", "FAIL" or a closed connection.
 */
static int qt_cmd(int qt, uint64_t *val, const char *fmt, ...)
{
	char buf[256];
	size_t got = 0;
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	buf[len++] = '\n';
	if (write(qt, buf, len) != len)
		return -1;
	for (;;) {
		/* one line, a byte at a time: answers are short */
		got = 0;
		while (got < sizeof(buf) - 1) {
			if (read(qt, buf + got, 1) != 1)
				return -1;
			if (buf[got] == '\n')
				break;
			got++;
		}
		buf[got] = 0;
		if (strncmp(buf, "IRQ", 3))	/* not an async message */
			break;
	}
	if (strncmp(buf, "OK", 2))
		return -1;
	if (val)
		*val = strtoull(buf + 2, NULL, 0);
	return 0;
}

static int qt_writeq(int qt, uint64_t addr, uint64_t val)
{
	return qt_cmd(qt, NULL, "writeq 0x%lx 0x%lx", addr, val);
}

static int reg_writeq(int qt, uint64_t reg, uint64_t val)
{
	return qt_writeq(qt, DMAR_BASE + reg, val);
}

static int reg_writel(int qt, uint64_t reg, uint32_t val)
{
	return qt_cmd(qt, NULL, "writel 0x%lx 0x%x",
		      DMAR_BASE + reg, val);
}

static int reg_readl(int qt, uint64_t reg, uint32_t *val)
{
	uint64_t v;

	if (qt_cmd(qt, &v, "readl 0x%lx", DMAR_BASE + reg))
		return -1;
	*val = v;
	return 0;
}

/* ---- QEMU ---- */

/*
 * The fallback configuration: a /dev with only what QEMU opens, so that
 * the library finds no /dev/viommu_shadow.  In QEMU's child, before exec.
 */
static int hide_module(int group)
{
	static const char *const nodes[] = {
		"/dev/null", "/dev/zero", "/dev/urandom", "/dev/random",
		"/dev/vfio/vfio",
	};
	struct stat st[ARRAY_SIZE(nodes) + 1];
	char grp[32];
	unsigned int i;

	snprintf(grp, sizeof(grp), "/dev/vfio/%d", group);
	for (i = 0; i < ARRAY_SIZE(nodes); i++)
		if (stat(nodes[i], &st[i]))
			return -1;
	if (stat(grp, &st[i]))
		return -1;
	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("tmpfs", "/dev", "tmpfs", 0, "mode=0755") ||
	    mkdir("/dev/vfio", 0755))
		return -1;
	for (i = 0; i < ARRAY_SIZE(nodes); i++)
		if (mknod(nodes[i], st[i].st_mode, st[i].st_rdev))
			return -1;
	return mknod(grp, st[i].st_mode, st[i].st_rdev);
}

/*
 * Start QEMU with @iommu in front of the edu device, its qtest on a
 * socket pair (our end in self->qt), its standard error in
 * self->err_path; wait until it answers (machine made, VFIO set up).
 */
static int qemu_start(struct inner *self, const char *iommu)
{
	static const char *const machine[] = {
		QEMU, "-M", "q35", "-accel", "tcg", "-nodefaults",
		"-display", "none", "-m", "64M", "-S",
		"-qtest", "stdio", "-qtest-log", "none",
	};
	const char *argv[ARRAY_SIZE(machine) + 5];
	char dev[96];
	uint64_t ver;
	int sv[2], err;

	snprintf(dev, sizeof(dev), "vfio-pci,host=%s,addr=%02x.%x", self->bdf,
		 INNER_DEVFN >> 3, INNER_DEVFN & 7);
	memcpy(argv, machine, sizeof(machine));
	argv[ARRAY_SIZE(machine)] = "-device";
	argv[ARRAY_SIZE(machine) + 1] = iommu;
	argv[ARRAY_SIZE(machine) + 2] = "-device";
	argv[ARRAY_SIZE(machine) + 3] = dev;
	argv[ARRAY_SIZE(machine) + 4] = NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	err = open(self->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		   0644);
	if (err < 0)
		return -1;
	self->pid = fork();
	if (self->pid < 0)
		return -1;
	if (!self->pid) {
		if (dup2(sv[1], 0) < 0 || dup2(sv[1], 1) < 0 ||
		    dup2(err, 2) < 0)
			_exit(126);
		if (self->cfg != CFG_TYPE1) {
			setenv("LD_PRELOAD", PRELOAD_LIB, 1);
			setenv("VSHADOW_DEBUG", "1", 1);	/* its choice */
		}
		if (self->cfg == CFG_FALLBACK && hide_module(self->group)) {
			perror("hide_module");
			_exit(126);
		}
		execv(QEMU, (char **)argv);
		_exit(127);
	}
	close(sv[1]);
	close(err);
	self->qt = sv[0];
	/* its first answer comes once the machine is made */
	if (qt_cmd(self->qt, &ver, "readl 0x%lx", DMAR_BASE + DMAR_VER))
		return -1;
	return 0;
}

/* Signal QEMU and reap it: its wait status. */
static int qemu_stop(struct inner *self, int sig)
{
	int status = -1;

	if (self->pid <= 0)
		return -1;
	kill(self->pid, sig);
	waitpid(self->pid, &status, 0);
	self->pid = 0;
	close(self->qt);
	self->qt = -1;
	return status;
}

/* ---- what the inner guest's IOMMU driver does ---- */

static int gcmd(struct inner *self, uint32_t cmd, uint32_t want)
{
	uint32_t sts = 0;
	int i;

	if (reg_writel(self->qt, DMAR_GCMD, cmd))
		return -1;
	for (i = 0; i < 100; i++) {
		if (reg_readl(self->qt, DMAR_GSTS, &sts))
			return -1;
		if ((sts & (GCMD_TE | GCMD_SRTP)) == want)
			return 0;
	}
	return -1;
}

static int write_context(struct inner *self, bool present)
{
	uint64_t ce = CONTEXT_TABLE + INNER_DEVFN * 16;

	self->ctx_present = present;
	if (!present)
		return qt_writeq(self->qt, ce, 0) || qt_writeq(self->qt, ce + 8, 0);
	return qt_writeq(self->qt, ce + 8, CTX_AW_48 | (DOMAIN_ID << 8)) ||
	       qt_writeq(self->qt, ce, PML4 | 1);
}

static int ctx_invalidate(struct inner *self, bool device)
{
	uint64_t cmd = CCMD_ICC | DOMAIN_ID;

	cmd |= device ? CCMD_DEVICE | ((uint64_t)INNER_DEVFN << 16) :
			CCMD_GLOBAL;
	return reg_writeq(self->qt, DMAR_CCMD, cmd);
}

/* Page-selective IOTLB invalidation of 2^@am pages from @iova. */
static int psi(struct inner *self, uint64_t iova, unsigned int am)
{
	return reg_writeq(self->qt, DMAR_IVA, iova | am) ||
	       reg_writeq(self->qt, DMAR_IOTLB, IOTLB_IVT | IOTLB_PSI |
			  ((uint64_t)DOMAIN_ID << 32));
}

static int global_invalidate(struct inner *self)
{
	return reg_writeq(self->qt, DMAR_IOTLB, IOTLB_IVT | IOTLB_GLOBAL);
}

/* Root and context entries, root table pointer, caches invalidated. */
static int iommu_setup(struct inner *self)
{
	self->next_table = TABLE_POOL;
	self->nr_tables = 0;
	self->tables[self->nr_tables++] = (struct table){ 4, 0, PML4 };
	return qt_writeq(self->qt, ROOT_TABLE, CONTEXT_TABLE | 1) ||
	       write_context(self, true) ||
	       reg_writeq(self->qt, DMAR_RTADDR, ROOT_TABLE) ||
	       gcmd(self, GCMD_SRTP, GCMD_SRTP) ||
	       ctx_invalidate(self, false) || global_invalidate(self);
}

static int translation(struct inner *self, bool on)
{
	if (gcmd(self, on ? GCMD_TE : 0, GCMD_SRTP | (on ? GCMD_TE : 0)))
		return -1;
	self->translating = on;
	return 0;
}

static uint64_t prefix_of(uint64_t iova, int level)
{
	return iova >> (12 + 9 * level);
}

/*
 * The level-1 table for @iova, made (and linked into its parents) when
 * missing; 0 when the pool is used up or qtest failed.
 */
static uint64_t leaf_table(struct inner *self, uint64_t iova)
{
	uint64_t parent = PML4, gpa;
	int level, i;

	for (level = 3; level >= 1; level--) {
		gpa = 0;
		for (i = 0; i < self->nr_tables; i++)
			if (self->tables[i].level == level &&
			    self->tables[i].prefix == prefix_of(iova, level)) {
				gpa = self->tables[i].gpa;
				break;
			}
		if (!gpa) {
			if (self->next_table >= TABLE_POOL_END)
				return 0;
			gpa = self->next_table;
			self->next_table += PAGE;
			self->tables[self->nr_tables++] =
				(struct table){ level, prefix_of(iova, level),
						gpa };
			/* the entry in the parent, at level + 1 */
			if (qt_writeq(self->qt, parent +
				   8 * (prefix_of(iova, level) & 511),
				   gpa | PTE_RW))
				return 0;
		}
		parent = gpa;
	}
	return parent;
}

static int find(struct inner *self, uint64_t iova)
{
	int i;

	for (i = 0; i < self->nr; i++)
		if (self->iova[i] == iova)
			return i;
	return -1;
}

/*
 * Make @iova's leaf entry point at @gpa (present), or clear it (@gpa 0),
 * with no invalidation; the test's books follow.
 */
static int set_pte(struct inner *self, uint64_t iova, uint64_t gpa)
{
	uint64_t pt = leaf_table(self, iova);
	int i = find(self, iova);

	if (!pt || qt_writeq(self->qt, pt + 8 * ((iova >> 12) & 511),
			     gpa ? gpa | PTE_RW : 0))
		return -1;
	if (gpa && i < 0) {
		if (self->nr == MAX_MAPPINGS)
			return -1;
		i = self->nr++;
	}
	if (gpa) {
		self->iova[i] = iova;
		self->gpa[i] = gpa;
	} else if (i >= 0) {
		self->iova[i] = self->iova[--self->nr];
		self->gpa[i] = self->gpa[self->nr];
	}
	return 0;
}

/* A distinct target page for the @n-th mapping made. */
static uint64_t target(unsigned int n)
{
	return TARGETS + (n % ((INNER_RAM - TARGETS) / PAGE)) * PAGE;
}

/* ---- what is mapped ---- */

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->iova < y->iova ? -1 : x->iova > y->iova;
}

/* What the page tables (or, with translation off, the RAM) say. */
static int expected(struct inner *self, struct range *r)
{
	int i;

	if (self->translating && !self->ctx_present)
		return 0;
	if (!self->translating) {
		memcpy(r, self->ram, self->nr_ram * sizeof(*r));
		return self->nr_ram;
	}
	for (i = 0; i < self->nr; i++)
		r[i] = (struct range){ self->iova[i], PAGE };
	qsort(r, self->nr, sizeof(*r), cmp_range);
	return self->nr;
}

/*
 * vshadowctl -j @args, its output in @buf: the exit status, -1 when it
 * did not run.
 */
static int ctl(char *buf, size_t len, const char *fmt, ...)
{
	char cmd[256] = "vshadowctl -j ";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), fmt, ap);
	va_end(ap);
	return vs_run(cmd, buf, len, 0);
}

/*
 * The number after the next "@key": in vshadowctl's JSON (a number, or a
 * hex string) from @p on, into *@val: where the search goes on, or NULL
 * when there is no such key.
 */
static const char *json_u64(const char *p, const char *key, uint64_t *val)
{
	char want[32];

	snprintf(want, sizeof(want), "\"%s\":", key);
	p = strstr(p, want);
	if (!p)
		return NULL;
	p += strlen(want);
	while (*p == ' ' || *p == '"')
		p++;
	*val = strtoull(p, NULL, 0);
	return p;
}

/*
 * The contexts QEMU (@pid) has in the module: how many, the first's id
 * in @ctx; -1 when vshadowctl failed.
 */
static int module_contexts(pid_t pid, unsigned int *ctx)
{
	static char out[1 << 16];
	const char *p = out;
	uint64_t id;
	int n = 0;

	if (ctl(out, sizeof(out), "show -P %d", pid))
		return -1;
	while ((p = json_u64(p, "ctx", &id)))
		if (!n++)
			*ctx = id;
	return n;
}

/* The module's mappings of context @ctx, in IOVA order, into @r. */
static int module_mappings(unsigned int ctx, struct range *r, int max)
{
	static char out[1 << 20];
	const char *p = out;
	int n;

	if (ctl(out, sizeof(out), "mappings %u", ctx))
		return -1;
	for (n = 0; n < max && (p = json_u64(p, "iova", &r[n].iova)); n++) {
		p = json_u64(p, "length", &r[n].length);
		if (p)
			p = json_u64(p, "cookie", &r[n].cookie);
		if (!p)
			return -1;
	}
	return n;
}

/* QEMU's type1 container, duplicated out of it with pidfd_getfd(). */
static int qemu_container(pid_t pid)
{
	char path[300], link[64];
	int pidfd, fd = -1, n;
	struct dirent *de;
	ssize_t l;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, de->d_name);
		l = readlink(path, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = 0;
		if (!strcmp(link, "/dev/vfio/vfio")) {
			n = atoi(de->d_name);
			pidfd = syscall(SYS_pidfd_open, pid, 0);
			if (pidfd >= 0) {
				fd = syscall(SYS_pidfd_getfd, pidfd, n, 0);
				close(pidfd);
			}
			break;
		}
	}
	closedir(d);
	return fd;
}

/* How many mappings the container holds (type1's DMA_AVAIL), or -1. */
static long container_mappings(int container, unsigned long limit)
{
	struct vfio_iommu_type1_info *info;
	struct vfio_info_cap_header *hdr;
	char buf[4096] = {};
	long ret = -1;

	info = (void *)buf;
	info->argsz = sizeof(buf);
	if (ioctl(container, VFIO_IOMMU_GET_INFO, info) ||
	    !(info->flags & VFIO_IOMMU_INFO_CAPS))
		return -1;
	for (hdr = (void *)(buf + info->cap_offset); (char *)hdr != buf;
	     hdr = (void *)(buf + hdr->next)) {
		if (hdr->id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
			ret = limit -
			      ((struct vfio_iommu_type1_info_dma_avail *)hdr)->avail;
			break;
		}
		if (!hdr->next)
			break;
	}
	return ret;
}

/*
 * Whether @iova is mapped in @container: a one-page map there fails with
 * EEXIST before type1 pins or maps anything.  Should it succeed (nothing
 * was there), the page is unmapped again and false returned.
 */
static bool container_has(int container, uint64_t iova, void *page)
{
	if (!t1_map(container, iova, PAGE, page)) {
		t1_unmap(container, iova, PAGE, NULL, 0, NULL);
		return false;
	}
	return errno == EEXIST;
}

/*
 * Compare the module's and the container's mappings with what the page
 * tables say: the number of differences, each logged.
 */
static int check(struct __test_metadata *_metadata, struct inner *self,
		 const char *step)
{
	static struct range want[MAX_MAPPINGS], got[MAX_MAPPINGS];
	void *page;
	int n = expected(self, want), bad = 0, got_n, i, c;
	unsigned int ctx = 0;
	long held;

	self->steps++;
	c = module_contexts(self->pid, &ctx);
	if (self->cfg == CFG_MODULE) {
		got_n = c == 1 ? module_mappings(ctx, got, MAX_MAPPINGS) : -1;
		if (got_n != n) {
			TH_LOG("%s: the module shows %d mappings (%d contexts), the tables %d",
			       step, got_n, c, n);
			for (i = n; i < got_n && i < 16; i++)
				TH_LOG("  module [%d] %#lx+%#lx",
				       i, got[i].iova, got[i].length);
			bad++;
		}
		for (i = 0; i < n && i < got_n; i++)
			if (got[i].iova != want[i].iova ||
			    got[i].length != want[i].length ||
			    got[i].cookie != got[i].iova) {
				TH_LOG("%s: module [%d] %#lx+%#lx cookie %#lx, tables %#lx+%#lx",
				       step, i, got[i].iova, got[i].length,
				       got[i].cookie, want[i].iova,
				       want[i].length);
				bad++;
			}
	} else if (c != 0) {
		TH_LOG("%s: QEMU has %d contexts in the module, expected none",
		       step, c);
		bad++;
	}

	c = qemu_container(self->pid);
	if (c < 0) {
		TH_LOG("%s: cannot take QEMU's container: %s", step,
		       strerror(errno));
		self->mismatches += ++bad;
		return bad;
	}
	page = aligned_alloc(PAGE, PAGE);
	held = container_mappings(c, self->dma_limit);
	if (held != n) {
		TH_LOG("%s: QEMU's container holds %ld mappings, the tables say %d",
		       step, held, n);
		bad++;
	}
	for (i = 0; i < n && page; i++)
		if (!container_has(c, want[i].iova, page)) {
			TH_LOG("%s: %#lx is not mapped in QEMU's container",
			       step, want[i].iova);
			bad++;
		}
	free(page);
	close(c);
	self->mismatches += bad;
	return bad;
}

/* ---- set-up, comparison across configurations ---- */

static void out_path(char *buf, size_t len, const char *test, enum config cfg,
		     const char *what)
{
	snprintf(buf, len, OUT_DIR "/qemu_vtd.%s.%s.%s", test, config_name[cfg],
		 what);
}

/*
 * The file @path into @buf, normalised: every "pid N" made "pid N", the
 * preload library's own lines (VSHADOW_DEBUG) left out; whether one of
 * those said @mode, in *@said (when not NULL).
 */
static void read_normalised(const char *path, char *buf, size_t len,
			    const char *mode, bool *said)
{
	char raw[8192], *p, *q, *eol;
	FILE *f = fopen(path, "r");
	size_t n;

	buf[0] = 0;
	if (said)
		*said = false;
	if (!f)
		return;
	n = fread(raw, 1, sizeof(raw) - 1, f);
	raw[n] = 0;
	fclose(f);
	for (p = raw, q = buf; *p && q < buf + len - 8; ) {
		if ((p == raw || p[-1] == '\n') &&
		    !strncmp(p, "libvshadow: ", 12)) {
			eol = strchrnul(p, '\n');
			if (said && mode && memmem(p, eol - p, mode,
						   strlen(mode)))
				*said = true;
			p = *eol ? eol + 1 : eol;
			continue;
		}
		if (!strncmp(p, "pid ", 4)) {
			q += snprintf(q, buf + len - q, "pid N");
			for (p += 4; *p >= '0' && *p <= '9'; p++)
				;
			continue;
		}
		*q++ = *p++;
	}
	*q = 0;
}

/* What the preload library says it chose (VSHADOW_DEBUG=1). */
static const char *const config_said[] = {
	[CFG_MODULE] = ": the module",
	[CFG_FALLBACK] = ": userspace fallback: /dev/viommu_shadow: No such file or directory",
};

/*
 * QEMU's exit @status and standard error, kept for this configuration
 * and, but on plain type1, compared with plain type1's: 0 when they
 * agree (or this is type1).
 */
static int compare_exit(struct __test_metadata *_metadata,
			struct inner *self, const char *test,
			int status)
{
	char path[160], mine[8192], ref[8192];
	int ref_status = -1;
	bool said;
	FILE *f;

	out_path(path, sizeof(path), test, self->cfg, "status");
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "%d\n", status);
		fclose(f);
	}
	read_normalised(self->err_path, mine, sizeof(mine),
			config_said[self->cfg], &said);
	if (self->cfg == CFG_TYPE1)
		return 0;
	if (!said) {
		TH_LOG("%s: the preload library did not say \"%s\"", test,
		       config_said[self->cfg]);
		return 1;
	}
	out_path(path, sizeof(path), test, CFG_TYPE1, "status");
	f = fopen(path, "r");
	if (!f || fscanf(f, "%d", &ref_status) != 1) {
		TH_LOG("%s: no result of plain type1 to compare with", test);
		if (f)
			fclose(f);
		return 1;
	}
	fclose(f);
	out_path(path, sizeof(path), test, CFG_TYPE1, "stderr");
	read_normalised(path, ref, sizeof(ref), NULL, NULL);
	if (ref_status != status || strcmp(ref, mine)) {
		TH_LOG("%s: QEMU exit %#x, stderr:\n%s\non type1: exit %#x, stderr:\n%s",
		       test, status, mine, ref_status, ref);
		return 1;
	}
	return 0;
}

/* After QEMU is gone: nothing left in the module or the container. */
static int nothing_left(struct __test_metadata *_metadata,
			struct inner *self)
{
	struct vfio_box box;
	long contexts = -1, nodes = -1, held;
	int bad = 0;

	if (!vs_objects(&contexts, &nodes) && (contexts || nodes)) {
		TH_LOG("after QEMU: %ld contexts, %ld mappings left in the module",
		       contexts, nodes);
		bad++;
	}
	if (vfio_box_open(&box, 0, true)) {
		TH_LOG("after QEMU: the group does not open into a container: %s",
		       strerror(errno));
		bad++;
	} else {
		held = container_mappings(box.container, self->dma_limit);
		if (held != 0) {
			TH_LOG("after QEMU: a new container holds %ld mappings",
			       held);
			bad++;
		}
	}
	vfio_box_close(&box);
	return bad;
}

/* Calls through the module, from its tracepoints. */
static void trace_on(bool on)
{
	static const char *const ev[] = {
		TRACEFS "/events/viommu_shadow/vshadow_map/enable",
		TRACEFS "/events/viommu_shadow/vshadow_unmap_range/enable",
	};
	unsigned int i;
	FILE *f;

	for (i = 0; i < ARRAY_SIZE(ev); i++) {
		f = fopen(ev[i], "w");
		if (f) {
			fputs(on ? "1" : "0", f);
			fclose(f);
		}
	}
	f = fopen(TRACEFS "/trace", "w");	/* truncates the buffer */
	if (f)
		fclose(f);
}

static void trace_count(long *maps, long *unmaps)
{
	FILE *f = fopen(TRACEFS "/trace", "r");
	char line[512];

	*maps = *unmaps = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, " vshadow_map:"))
			(*maps)++;
		else if (strstr(line, " vshadow_unmap_range:"))
			(*unmaps)++;
	}
	fclose(f);
}

/*
 * The mappings the module's UNMAP_RANGE of [@start, @last] removed, from
 * its tracepoint: the last such call's, or -1 when there was none.
 */
static long trace_unmapped(uint64_t start, uint64_t last)
{
	FILE *f = fopen(TRACEFS "/trace", "r");
	char line[512], want[96];
	long found = -1;
	const char *p;

	if (!f)
		return -1;
	snprintf(want, sizeof(want), "start=%#lx last=%#lx ", start, last);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, " vshadow_unmap_range:") &&
		    strstr(line, want)) {
			p = strstr(line, "mappings=");
			found = p ? strtol(p + 9, NULL, 10) : -1;
		}
	fclose(f);
	return found;
}

FIXTURE_SETUP(qemu)
{
	struct inner *q = &self->in;
	unsigned int ctx;
	FILE *f;

	q->cfg = variant->cfg;
	q->pid = 0;
	q->qt = -1;
	if (access(QEMU, X_OK))
		SKIP(return, QEMU " is not here (scripts/vm.sh --host-file)");
	if (!vs_iommu_is("intel"))
		SKIP(return, "QEMU's vfio-pci here is behind VT-d only");
	if (edu_find(0, q->bdf, sizeof(q->bdf), &q->group))
		SKIP(return, "no edu device bound to vfio-pci");
	if (q->cfg != CFG_TYPE1 && access(PRELOAD_LIB, R_OK))
		SKIP(return, PRELOAD_LIB " is not here");
	if (q->cfg == CFG_MODULE &&
	    (access("/dev/viommu_shadow", F_OK) || module_contexts(1, &ctx) < 0))
		SKIP(return, "the module is not loaded (or no vshadowctl)");
	f = fopen("/sys/module/vfio_iommu_type1/parameters/dma_entry_limit",
		  "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%lu", &q->dma_limit));
	fclose(f);
	q->ctx_present = true;
	q->ram = inner_ram;
	q->nr_ram = ARRAY_SIZE(inner_ram);
}

FIXTURE_TEARDOWN(qemu)
{
	struct inner *q = &self->in;

	if (q->pid > 0)
		qemu_stop(q, SIGKILL);
	trace_on(false);
}

/* The smallest am with 2^am pages >= @pages. */
static unsigned int am_for(unsigned int pages)
{
	unsigned int am = 0;

	while ((1U << am) < pages)
		am++;
	return am;
}

/* Map @nr pages from @iova, one leaf entry and one invalidation each. */
static int map_each(struct inner *self, uint64_t iova, uint64_t stride,
		    unsigned int nr, unsigned int *made)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		if (set_pte(self, iova + i * stride, target((*made)++)) ||
		    psi(self, iova + i * stride, 0))
			return -1;
	return 0;
}

static int unmap_each(struct inner *self, uint64_t iova,
		      uint64_t stride, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		if (set_pte(self, iova + i * stride, 0) ||
		    psi(self, iova + i * stride, 0))
			return -1;
	return 0;
}

static void summary(struct inner *self, const char *test)
{
	long maps, unmaps;

	printf("# qemu: %s, %s: ", test, config_name[self->cfg]);
	if (self->cfg == CFG_MODULE) {
		trace_count(&maps, &unmaps);
		printf("QEMU made %ld MAP and %ld UNMAP_RANGE calls through the module; ",
		       maps, unmaps);
	}
	printf("mappings compared with the page tables after %d steps: %d mismatches\n",
	       self->steps, self->mismatches);
	fflush(stdout);
}

/*
 * Scenarios (a) to (e) in one QEMU, then (f) with SIGTERM: after each
 * step the module and the container hold what the tables say.
 */
TEST_F_TIMEOUT(qemu, scenarios_then_sigterm, 1200)
{
	struct inner *q = &self->in;
	unsigned int n = full_sweep() ? 320 : 48, quarter = n / 4, made = 0, i;
	const uint64_t run_a = 1ULL << 30, run_b = (1ULL << 48) - quarter * PAGE;
	const uint64_t scat = 1ULL << 32, scat2 = (1ULL << 47) + (1ULL << 40);
	const uint64_t stride = 0x204000;	/* a new leaf table each */
	int status;

	out_path(q->err_path, sizeof(q->err_path), "scenarios",
		 q->cfg, "stderr");
	if (q->cfg == CFG_MODULE)
		trace_on(true);
	ASSERT_EQ(0, qemu_start(q, "intel-iommu,caching-mode=on,aw-bits=48"));
	check(_metadata, q, "start-up, translation off: the inner RAM");

	ASSERT_EQ(0, iommu_setup(q));
	ASSERT_EQ(0, translation(q, true));
	check(_metadata, q, "translation on, no entry present");

	/* (a) back to back and scattered, then page by page away */
	for (i = 0; i < quarter; i++)
		ASSERT_EQ(0, set_pte(q, run_a + i * PAGE, target(made++)));
	ASSERT_EQ(0, psi(q, run_a, am_for(quarter)));
	for (i = 0; i < quarter; i++)
		ASSERT_EQ(0, set_pte(q, run_b + i * PAGE, target(made++)));
	for (i = 0; i < quarter; i += 4)
		ASSERT_EQ(0, psi(q, run_b + i * PAGE, 2));
	ASSERT_EQ(0, map_each(q, scat, stride, n / 2, &made));
	check(_metadata, q, "(a) a run at 1 GiB, a run ending at 2^48, scattered pages");
	ASSERT_EQ(0, unmap_each(q, run_a, PAGE, quarter));
	check(_metadata, q, "(a) the first run unmapped page by page");
	for (i = 0; i < quarter; i++)
		ASSERT_EQ(0, set_pte(q, run_b + i * PAGE, 0));
	ASSERT_EQ(0, psi(q, (1ULL << 48) - (PAGE << am_for(quarter)), am_for(quarter)));
	check(_metadata, q, "(a) the top run unmapped by one invalidation");
	ASSERT_EQ(0, unmap_each(q, scat, stride, n / 2));
	check(_metadata, q, "(a) the scattered pages unmapped page by page");

	/* (b) a translation changed: in place, and through not-present */
	ASSERT_EQ(0, map_each(q, scat, stride, 8, &made));
	check(_metadata, q, "(b) eight pages mapped");
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, set_pte(q, scat + i * stride, target(made++)));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, psi(q, scat + i * stride, 0));
	check(_metadata, q, "(b) two entries changed in place, then invalidated");
	ASSERT_EQ(0, unmap_each(q, scat + 2 * stride, stride, 1));
	check(_metadata, q, "(b) an entry cleared and invalidated");
	ASSERT_EQ(0, map_each(q, scat + 2 * stride, stride, 1, &made));
	check(_metadata, q, "(b) the entry set to a new page and invalidated");

	/* (c) a batch of changes, then one global invalidation */
	for (i = 0; i < 16; i++)
		ASSERT_EQ(0, set_pte(q, scat2 + i * PAGE, target(made++)));
	for (i = 3; i < 5; i++)
		ASSERT_EQ(0, set_pte(q, scat + i * stride, 0));
	for (i = 5; i < 7; i++)
		ASSERT_EQ(0, set_pte(q, scat + i * stride, target(made++)));
	ASSERT_EQ(0, global_invalidate(q));
	check(_metadata, q, "(c) 16 added, 2 cleared, 2 changed, one global invalidation");

	/* (d) the context entry cleared, a device-selective invalidation */
	ASSERT_EQ(0, write_context(q, false));
	ASSERT_EQ(0, ctx_invalidate(q, true));
	check(_metadata, q, "(d) context entry cleared: QEMU unmaps its whole notifier range");
	/* its largest chunk, 2^47 bytes, came as one call, with (c)'s 16 */
	if (q->cfg == CFG_MODULE)
		EXPECT_EQ(16, trace_unmapped(1ULL << 47, (1ULL << 48) - 1));
	ASSERT_EQ(0, write_context(q, true));
	ASSERT_EQ(0, ctx_invalidate(q, true));
	check(_metadata, q, "(d) context entry back: QEMU replays the tables");

	/* (e) translation off: each IOMMU section unmapped whole */
	ASSERT_EQ(0, translation(q, false));
	check(_metadata, q, "(e) translation off: the inner RAM again");
	ASSERT_EQ(0, translation(q, true));
	check(_metadata, q, "(e) translation on again: the tables replayed");

	/* (f) stopped with mappings live */
	summary(q, "scenarios");
	status = qemu_stop(q, SIGTERM);
	EXPECT_EQ(0, compare_exit(_metadata, q, "scenarios", status));
	EXPECT_EQ(0, nothing_left(_metadata, q));
	EXPECT_EQ(0, q->mismatches);
}

/* (f) QEMU killed with mappings live: nothing is left behind. */
TEST_F_TIMEOUT(qemu, sigkill_with_mappings_live, 600)
{
	struct inner *q = &self->in;
	unsigned int made = 0;
	int status;

	out_path(q->err_path, sizeof(q->err_path), "sigkill",
		 q->cfg, "stderr");
	if (q->cfg == CFG_MODULE)
		trace_on(true);
	ASSERT_EQ(0, qemu_start(q, "intel-iommu,caching-mode=on,aw-bits=48"));
	ASSERT_EQ(0, iommu_setup(q));
	ASSERT_EQ(0, translation(q, true));
	ASSERT_EQ(0, map_each(q, 1ULL << 32, PAGE, 16, &made));
	check(_metadata, q, "(f) sixteen pages mapped");
	summary(q, "sigkill");
	status = qemu_stop(q, SIGKILL);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	EXPECT_EQ(0, compare_exit(_metadata, q, "sigkill", status));
	EXPECT_EQ(0, nothing_left(_metadata, q));
	EXPECT_EQ(0, q->mismatches);
}

/*
 * QEMU 7.2's AMD IOMMU refuses the MAP notifier VFIO needs, so vfio-pci
 * behind it fails at realize, in every configuration alike.  The day a
 * QEMU takes it, this fails: then run the scenarios behind AMD-Vi too.
 */
#define AMD_REFUSAL \
	"amd_iommu: device 00.04.0 requires iommu notifier which is not currently supported"

TEST_F_TIMEOUT(qemu, amd_iommu_refuses_vfio_pci, 300)
{
	struct inner *q = &self->in;
	char err[8192];
	int status;

	out_path(q->err_path, sizeof(q->err_path), "amd", q->cfg,
		 "stderr");
	ASSERT_NE(0, qemu_start(q, "amd-iommu"));
	status = qemu_stop(q, 0);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
	read_normalised(q->err_path, err, sizeof(err), NULL, NULL);
	EXPECT_NE(NULL, strstr(err, AMD_REFUSAL)) {
		TH_LOG("QEMU's stderr: %s", err);
	}
	EXPECT_EQ(0, compare_exit(_metadata, q, "amd", status));
	EXPECT_EQ(0, nothing_left(_metadata, q));
}

TEST_HARNESS_MAIN
