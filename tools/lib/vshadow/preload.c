// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvshadow-preload: run an unmodified VMM's type1 maps and unmaps through
 * viommu_shadow (libvshadow), so that the unmaps type1 refuses, above all
 * a huge range with a dirty bitmap (type1 takes at most 256 MB of bitmap:
 * 8 TB of 4 KiB pages), are done, with the dirty bits written into the
 * caller's own bitmap where type1 would have put them.
 *
 *   LD_PRELOAD=libvshadow-preload.so qemu-system-x86_64 ...
 *
 * It intercepts ioctl():
 * - VFIO_SET_IOMMU with a type1 IOMMU: the container gets a libvshadow
 *   handle (the module's, or the userspace fallback without it);
 * - VFIO_IOMMU_MAP_DMA with only READ/WRITE: vshadow_map();
 * - VFIO_IOMMU_UNMAP_DMA without VADDR: vshadow_unmap_range(), the bits
 *   placed at (mapping's iova - iova) / pgsize in the caller's bitmap;
 * and everything else goes to the real ioctl().  A handle follows the
 * open file, not the fd number: it is dropped when the fd it was made
 * for is closed (close() is intercepted too) or made to name another
 * file (dup2(), dup3(), close_range() and reuse are noticed at the fd's
 * next map or unmap, by kcmp(KCMP_FILE) against a duplicate kept for
 * the purpose), and a duplicate of a tracked fd finds its handle.  In
 * the child of a fork() every handle is dropped: the module serves the
 * process that made a context, and type1 the child's calls.
 * The caller sees type1's
 * conventions: 0 or -1 with errno, type1's errnos for the checks it
 * makes (EINVAL for an unaligned or wrapping range, a bad bitmap page
 * size or a bitmap too small for the range, an unmap with bits while dirty
 * tracking is off, a range that cuts a mapping), and the unmapped size
 * written back.  What cannot match is documented in
 * Documentation/userspace-api/libvshadow.rst ("The preload library").
 *
 * Built twice: as a shared object for LD_PRELOAD (the real ioctl from
 * dlsym(RTLD_NEXT)), and with VSHADOW_PRELOAD_WRAP for a static program
 * linked with -Wl,--wrap=ioctl (the test VM has no dynamic loader).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/kcmp.h>
#include <linux/vfio.h>

#include "vshadow.h"

#ifdef VSHADOW_PRELOAD_WRAP
int __real_ioctl(int fd, unsigned long req, ...);
#define real_ioctl	__real_ioctl
/* what libc's close() does, but for its cancellation point */
#define real_close(fd)	syscall(SYS_close, fd)
#define INTERPOSED	__wrap_ioctl
#define INTERPOSED_CLOSE	__wrap_close
#else
#define INTERPOSED	ioctl
#define INTERPOSED_CLOSE	close
static int (*real_ioctl)(int fd, unsigned long req, ...);
static int (*real_close)(int fd);
#endif

#define MAX_CONTAINERS	64
#define STR(x)		#x
#define XSTR(x)		STR(x)

/*
 * The containers seen set up, by fd, each with a duplicate of its fd
 * (@ident) that tells whether the fd still names the same open file.
 * One lock for all: it serialises the calls on a handle (which is not
 * thread-safe) and the table itself.  Recursive, since dropping a handle
 * closes files, and close() comes back here.
 */
static struct {
	int fd;
	int ident;
	struct vshadow *vs;
} containers[MAX_CONTAINERS];
static int nr_containers;
static pthread_mutex_t lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* Forget entry @i: its handle, its duplicate, its place in the table. */
static void drop(int i)
{
	vshadow_close(containers[i].vs);
	if (containers[i].ident >= 0)
		syscall(SYS_close, containers[i].ident);
	containers[i] = containers[--nr_containers];
}

/*
 * Whether @fd names the open file @ident duplicates: 1, 0, or -1 where
 * kcmp() cannot answer (a kernel without it, a policy against it).
 */
static int same_file(int fd, int ident)
{
	pid_t pid = getpid();
	long ret;

	if (ident < 0)
		return -1;
	ret = syscall(SYS_kcmp, pid, pid, KCMP_FILE, fd, ident);
	return ret < 0 ? -1 : ret == 0;
}

static int index_of(int fd)
{
	int i;

	for (i = 0; i < nr_containers; i++)
		if (containers[i].fd == fd)
			return i;
	return -1;
}

/*
 * The handle of the container @fd names (NULL in it for one passed
 * through), or NULL: the handle follows the open file, not the number.
 * The entry made for @fd is dropped once @fd names another file; a
 * duplicate of a tracked container's fd finds that container's handle.
 * Where kcmp() cannot answer, @fd's own entry is taken as it is and no
 * other is looked for.
 */
static struct vshadow **find(int fd)
{
	int i = index_of(fd);

	if (i >= 0) {
		if (same_file(fd, containers[i].ident))
			return &containers[i].vs;
		drop(i);
	}
	for (i = 0; i < nr_containers; i++)
		if (same_file(fd, containers[i].ident) == 1)
			return &containers[i].vs;
	return NULL;
}

/* In a fork child: the module would refuse its calls; type1 takes them. */
static void atfork_prepare(void)
{
	pthread_mutex_lock(&lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&lock);
}

/*
 * The child's one thread is not the one that took the lock (a recursive
 * mutex knows its owner by thread id): it starts from a new lock.
 */
static void atfork_child(void)
{
	pthread_mutexattr_t attr;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&lock, &attr);
	pthread_mutexattr_destroy(&attr);
	while (nr_containers)
		drop(nr_containers - 1);
}

static void atfork_register(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/*
 * A container this library does not serve goes to type1 as it is, and the
 * user is told once, whatever VSHADOW_DEBUG says: an unmap type1 refuses
 * will fail for it.  (Which of the module and the fallback serves the
 * others, libvshadow logs with VSHADOW_DEBUG=1.)
 */
static void pass_through(int fd, const char *why)
{
	fprintf(stderr, "libvshadow-preload: container fd %d: passed through to type1: %s\n",
		fd, why);
}

/* A new type1 container (or one set up again): give it a handle. */
static void track(int fd)
{
	int i = index_of(fd), ret;
	struct vshadow *vs;

	pthread_once(&atfork_once, atfork_register);
	if (i >= 0)
		drop(i);
	ret = vshadow_open_type1(&vs, fd, 0);
	if (ret) {
		pass_through(fd, strerror(-ret));
		return;		/* its calls go straight to type1 */
	}
	if (nr_containers == MAX_CONTAINERS) {
		pass_through(fd, "more than " XSTR(MAX_CONTAINERS) " containers");
		vshadow_close(vs);
		return;
	}
	containers[nr_containers].fd = fd;
	containers[nr_containers].ident = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	containers[nr_containers++].vs = vs;
}

/* A handle that lost track of its container is dropped: type1 directly. */
static int done(struct vshadow **slot, int ret)
{
	struct vshadow_info info = { .size = sizeof(info) };

	if (ret == -EIO && !vshadow_get_info(*slot, &info) && info.broken) {
		vshadow_close(*slot);
		*slot = NULL;
	}
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return 0;
}

/* The module's errnos that type1 has no use for, as type1 says them. */
static int as_type1(int ret)
{
	switch (ret) {
	case -ERANGE:		/* beyond the container's IOVA space */
	case -EOVERFLOW:	/* wraps */
	case -ENODATA:		/* bits asked for, tracking off */
	case -EOPNOTSUPP:	/* bits asked for, cannot track */
	case -E2BIG:		/* one mapping's bits over type1's limit */
		return -EINVAL;
	}
	return ret;
}

static int do_map(struct vshadow **slot, struct vfio_iommu_type1_dma_map *m)
{
	unsigned int prot = 0;

	if (m->flags & VFIO_DMA_MAP_FLAG_READ)
		prot |= VSHADOW_MAP_READ;
	if (m->flags & VFIO_DMA_MAP_FLAG_WRITE)
		prot |= VSHADOW_MAP_WRITE;
	/* the cookie is unused here: the caller keeps its own books */
	return done(slot, as_type1(vshadow_map(*slot, m->iova, m->size,
					       (void *)(uintptr_t)m->vaddr,
					       prot, m->iova)));
}

/* Where the unmapped mappings' bits and sizes go. */
struct unmap_out {
	uint64_t iova;		/* the range's start: bit 0 of the bitmap */
	uint64_t pgsize;
	uint64_t *bitmap;	/* the caller's, or NULL */
	uint64_t bytes;
};

static int put_bits(void *opaque, const struct vshadow_unmapped *m)
{
	struct unmap_out *out = opaque;
	uint64_t first = (m->iova - out->iova) / out->pgsize, i, bit;

	out->bytes += m->length;
	if (!out->bitmap)
		return 0;
	for (i = 0; i < m->nr_pages; i++) {
		bool dirty = (m->flags & VSHADOW_UNMAPPED_DIRTY_LOST) ||
			     (m->dirty && (m->dirty[i / 64] >> (i % 64) & 1));

		bit = first + i;
		if (dirty)
			out->bitmap[bit / 64] |= 1ULL << (bit % 64);
		else
			out->bitmap[bit / 64] &= ~(1ULL << (bit % 64));
	}
	/*
	 * As type1 does: it writes each mapping's bits as whole 64-bit
	 * words, keeping the bits before the mapping in its first word and
	 * clearing those after it in its last.
	 */
	for (bit = first + m->nr_pages; bit % 64; bit++)
		out->bitmap[bit / 64] &= ~(1ULL << (bit % 64));
	return 0;
}

/*
 * type1 writes the unmapped size back on success only: on a failure the
 * caller cannot tell what went (nor could it from type1 itself).
 */
static int unmapped(struct vshadow **slot,
		    struct vfio_iommu_type1_dma_unmap *u,
		    const struct unmap_out *out, int ret)
{
	if (!ret)
		u->size = out->bytes;
	return done(slot, as_type1(ret));
}

static int do_unmap(struct vshadow **slot,
		    struct vfio_iommu_type1_dma_unmap *u)
{
	struct vfio_bitmap *bm = (struct vfio_bitmap *)u->data;
	struct unmap_out out = { .iova = u->iova };
	struct vshadow_info info = { .size = sizeof(info) };
	uint64_t last, pages;
	unsigned int flags = 0;
	int ret;

	ret = vshadow_get_info(*slot, &info);
	if (ret)
		return done(slot, ret);
	out.pgsize = info.pgsize;
	if (u->flags & VFIO_DMA_UNMAP_FLAG_ALL) {
		/* type1: the whole space, no range, no bits */
		if (u->iova || u->size ||
		    (u->flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP))
			return done(slot, -EINVAL);
		ret = vshadow_unmap_range(*slot, 0, UINT64_MAX,
					  VSHADOW_UNMAP_WHOLE, put_bits, &out);
		return unmapped(slot, u, &out, ret);
	}
	/* type1's own checks of the range, with its errno */
	if (!u->size || (u->iova | u->size) & (info.pgsize - 1) ||
	    __builtin_add_overflow(u->iova, u->size - 1, &last))
		return done(slot, -EINVAL);
	if (u->flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) {
		pages = u->size / info.pgsize;
		if (u->argsz < sizeof(*u) + sizeof(*bm) ||
		    bm->pgsize != info.pgsize || !bm->data ||
		    bm->size < (pages + 63) / 64 * 8)
			return done(slot, -EINVAL);
		out.bitmap = (uint64_t *)bm->data;
		flags |= VSHADOW_UNMAP_DIRTY;
	}
	ret = vshadow_unmap_range(*slot, u->iova, last, flags, put_bits, &out);
	return unmapped(slot, u, &out, ret);
}

/* A tracked container's fd closed: its handle goes with it. */
int INTERPOSED_CLOSE(int fd)
{
	int i;

#ifndef VSHADOW_PRELOAD_WRAP
	if (!real_close) {
		real_close = dlsym(RTLD_NEXT, "close");
		if (!real_close)
			return syscall(SYS_close, fd);
	}
#endif
	pthread_mutex_lock(&lock);
	i = index_of(fd);
	if (i >= 0)
		drop(i);
	pthread_mutex_unlock(&lock);
	return real_close(fd);
}

int INTERPOSED(int fd, unsigned long req, ...)
{
	struct vshadow **slot;
	unsigned long arg;
	va_list ap;
	int ret;

	va_start(ap, req);
	arg = va_arg(ap, unsigned long);
	va_end(ap);
#ifndef VSHADOW_PRELOAD_WRAP
	if (!real_ioctl) {
		real_ioctl = dlsym(RTLD_NEXT, "ioctl");
		if (!real_ioctl) {
			errno = EIO;	/* no libc ioctl() to call */
			return -1;
		}
	}
#endif
	switch (req) {
	case VFIO_SET_IOMMU:
		ret = real_ioctl(fd, req, arg);
		if (!ret && (arg == VFIO_TYPE1v2_IOMMU ||
			     arg == VFIO_TYPE1_IOMMU)) {
			pthread_mutex_lock(&lock);
			track(fd);
			pthread_mutex_unlock(&lock);
		}
		return ret;
	case VFIO_IOMMU_MAP_DMA:
	case VFIO_IOMMU_UNMAP_DMA:
		break;
	default:
		return real_ioctl(fd, req, arg);
	}

	pthread_mutex_lock(&lock);
	slot = find(fd);
	if (!slot || !*slot) {
		ret = real_ioctl(fd, req, arg);
	} else if (req == VFIO_IOMMU_MAP_DMA) {
		struct vfio_iommu_type1_dma_map *m = (void *)arg;

		/* anything but a plain map (VADDR...) is type1's */
		if (m->argsz < sizeof(*m) ||
		    m->flags & ~(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE))
			ret = real_ioctl(fd, req, arg);
		else
			ret = do_map(slot, m);
	} else {
		struct vfio_iommu_type1_dma_unmap *u = (void *)arg;

		if (u->argsz < sizeof(*u) ||
		    u->flags & ~(VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP |
				 VFIO_DMA_UNMAP_FLAG_ALL))
			ret = real_ioctl(fd, req, arg);
		else
			ret = do_unmap(slot, u);
	}
	pthread_mutex_unlock(&lock);
	return ret;
}
