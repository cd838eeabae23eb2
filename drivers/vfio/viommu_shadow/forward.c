// SPDX-License-Identifier: GPL-2.0
/*
 * Forwarding: how a backend whose ioctls take their arguments in user
 * memory (VFIO type1, and iommufd after it) is called on the caller's
 * behalf.  Every such backend uses these helpers and nothing else.
 *
 * The rules:
 *
 * 1. A forwarded call passes the LSM check the caller's own ioctl on the
 *    backend's file would: security_file_ioctl(), or
 *    security_file_ioctl_compat() and the file's compat_ioctl for a
 *    32-bit caller.  It runs in the caller's context, so that the backend
 *    pins and accounts memory to the caller as usual
 *    (vshadow_forward_ioctl()).
 *
 * 2. Arguments go in an argument page that belongs to the module, never in
 *    memory of the caller's: at ATTACH the module maps into the attaching
 *    process pages it allocated itself (charged to the caller; type1
 *    keeps two, the second for a run's dirty bits; a backend may
 *    briefly map more while it attaches; iommufd's bits page comes and
 *    goes with its HWPTs, at SET_HWPTS), through
 *    a private anon-inode file ("anon_inode:[viommu_shadow-args]" in
 *    /proc/PID/maps).  The mapping is shared, never merges with a
 *    neighbour, is not inherited across fork() (VM_DONTCOPY, kept by
 *    VM_IO against MADV_DOFORK), is not dumped, is not mlock()ed (it costs
 *    no RLIMIT_MEMLOCK), and cannot be split, moved (mremap) or have its
 *    protection changed (mprotect): those fail.  It is never executable,
 *    even under READ_IMPLIES_EXEC.  MADV_DONTNEED only zaps it; the next
 *    access faults the same page back in.  munmap() cannot be refused: it
 *    is noticed, and the next forwarded call fails with EIO.
 *
 *    The module itself writes the arguments and reads the results only
 *    through its own kernel mapping of the page, never through the user
 *    address: whatever the process maps at that address, the module
 *    writes nothing but its own page.  Only the backend uses the user
 *    address, as the process's own ioctl would (vshadow_forward_args()).
 *
 *    A backend that pins the pages it is given (iommufd's dirty-bitmap
 *    read pins its output with GUP, which refuses VM_IO, and then reports
 *    success having written nothing) gets a page without VM_IO
 *    (VSHADOW_ARGPAGE_PINNABLE).  Everything above holds for it, except
 *    that MADV_DOFORK is then allowed.  So that a child forked after it
 *    can never write the parent's bits page during a read, the page is
 *    not inserted at mmap but served by the fault handler (a plain shared
 *    mapping, no VM_MIXEDMAP: fork copies none of its PTEs), which gives
 *    it only to the process that attached.  The VMM could still pin it
 *    itself (say for DMA): its own process writing its own bits page.
 *
 * 3. The page is owned by its file, the file by the mapping and by the
 *    backend that made it, through their own references: close() of the
 *    context still releases the context, and no vm_operations callback
 *    ever looks at a context (it may be gone).  They only use the struct
 *    vshadow_argpage the file owns.
 *
 * 4. Lock order: forwarded calls hold vshadow_ctx::lock and the backend
 *    then takes mmap_lock (type1 pins pages), and ATTACH and SET_HWPTS
 *    map and unmap pages under vshadow_ctx::lock.  So nothing here that runs under mmap_lock
 *    (the mmap handler, the fault handler, the vm_operations) may take
 *    vshadow_ctx::lock, or any lock a forwarded call holds; none does.
 *
 * What a process does to its own argument page between the module's write
 * and the backend's read is self-harm: it can only hurt its own container
 * (see "Threat model" in the documentation).
 */
#include <linux/anon_inodes.h>
#include <linux/bitops.h>
#include <linux/compat.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/security.h>
#include <linux/slab.h>

#include "vshadow.h"

/* Kbuild probes the kernel's mm.h for these (6.3 and later have them). */
#ifndef VSHADOW_HAVE_VM_FLAGS_SET
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}

static inline void vm_flags_clear(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags &= ~flags;
}
#endif

/*
 * Kbuild probes the kernel's security.h for security_file_ioctl_compat()
 * (6.8, and the 6.1 and 6.6 stable trees); before it, a compat ioctl was
 * checked with security_file_ioctl() too.
 */
#ifndef VSHADOW_HAVE_SECURITY_FILE_IOCTL_COMPAT
static inline int security_file_ioctl_compat(struct file *file,
					     unsigned int cmd,
					     unsigned long arg)
{
	return security_file_ioctl(file, cmd, arg);
}
#endif

/**
 * vshadow_forward_ioctl - make an ioctl on @file as the caller would
 * @file: the backend's file
 * @cmd: the ioctl
 * @arg: its argument, for a 32-bit caller already a 32-bit value
 */
long vshadow_forward_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	long ret;

	if (in_compat_syscall()) {
		ret = security_file_ioctl_compat(file, cmd, arg);
		if (ret)
			return ret;
		ret = -ENOTTY;
		if (file->f_op->compat_ioctl)
			ret = file->f_op->compat_ioctl(file, cmd, arg);
	} else {
		ret = security_file_ioctl(file, cmd, arg);
		if (ret)
			return ret;
		ret = -ENOTTY;
		if (file->f_op->unlocked_ioctl)
			ret = file->f_op->unlocked_ioctl(file, cmd, arg);
	}
	/* As the ioctl syscalls do: never let the internal errno out. */
	return ret == -ENOIOCTLCMD ? -ENOTTY : ret;
}

/* vshadow_argpage::flags */
enum {
	VSHADOW_ARGPAGE_MAPPED,		/* the one mmap happened */
	VSHADOW_ARGPAGE_GONE,		/* the mapping at @uaddr was removed */
	VSHADOW_ARGPAGE_PIN,		/* VSHADOW_ARGPAGE_PINNABLE */
};

/**
 * struct vshadow_argpage - an argument page and its file
 * @page: the first of @npages physically contiguous pages, allocated by
 *	the module and charged to the attacher
 * @npages: usually 1
 * @file: the anon-inode file that owns this struct and the pages; freed
 *	with its last reference (the mapping's, the backend's)
 * @target: the file its calls go to: the context's (struct vshadow_chan)
 * @mm: the process it is mapped in; compared, never dereferenced
 * @uaddr: where it is mapped in @mm
 * @flags: VSHADOW_ARGPAGE_*
 */
struct vshadow_argpage {
	struct page *page;
	unsigned long npages;
	struct file *file;
	struct file *target;
	struct mm_struct *mm;
	unsigned long uaddr;
	unsigned long flags;
};

/*
 * A page of the mapping is given only to the process it was made for: a
 * child that inherited a pinnable page (MADV_DOFORK) gets nothing.  The
 * pinnable page is served here, by reference (vmf->page): its mapping is
 * a plain shared one, whose PTEs fork does not copy, so a child always
 * comes here.  The others were inserted whole at mmap (VM_MIXEDMAP) and
 * come here again only after MADV_DONTNEED.
 */
static vm_fault_t vshadow_argpage_fault(struct vm_fault *vmf)
{
	struct vshadow_argpage *ap = vmf->vma->vm_private_data;
	unsigned long idx = (vmf->address - vmf->vma->vm_start) >> PAGE_SHIFT;
	struct page *page;

	if (idx >= ap->npages || vmf->vma->vm_mm != ap->mm)
		return VM_FAULT_SIGBUS;
	page = ap->page + idx;
	if (!test_bit(VSHADOW_ARGPAGE_PIN, &ap->flags))
		return vmf_insert_page(vmf->vma, vmf->address, page);
	get_page(page);
	vmf->page = page;
	return 0;
}

static int vshadow_argpage_may_split(struct vm_area_struct *vma,
				     unsigned long addr)
{
	return -EINVAL;
}

static int vshadow_argpage_mremap(struct vm_area_struct *vma)
{
	return -EINVAL;
}

static int vshadow_argpage_mprotect(struct vm_area_struct *vma,
				    unsigned long start, unsigned long end,
				    unsigned long newflags)
{
	return -EACCES;
}

/* Runs for the mapping's removal, and for a refused mremap's copy. */
static void vshadow_argpage_close(struct vm_area_struct *vma)
{
	struct vshadow_argpage *ap = vma->vm_private_data;

	if (vma->vm_mm == ap->mm && vma->vm_start == ap->uaddr)
		set_bit(VSHADOW_ARGPAGE_GONE, &ap->flags);
}

static const struct vm_operations_struct vshadow_argpage_vm_ops = {
	.fault = vshadow_argpage_fault,
	.may_split = vshadow_argpage_may_split,
	.mremap = vshadow_argpage_mremap,
	.mprotect = vshadow_argpage_mprotect,
	.close = vshadow_argpage_close,
};

/*
 * The file is mapped once, by vshadow_argpage_create(); any other mmap of
 * it (it is reachable through /proc/PID/map_files) is refused.
 */
static int vshadow_argpage_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct vshadow_argpage *ap = file->private_data;
	unsigned long i;
	int ret;

	if (vma_pages(vma) != ap->npages || vma->vm_pgoff ||
	    !(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (test_and_set_bit(VSHADOW_ARGPAGE_MAPPED, &ap->flags))
		return -EBUSY;

	vm_flags_set(vma, VM_DONTCOPY | VM_DONTEXPAND | VM_DONTDUMP);
	/* READ_IMPLIES_EXEC may have asked for PROT_EXEC: never. */
	vm_flags_clear(vma, VM_EXEC | VM_MAYEXEC);
	vma->vm_ops = &vshadow_argpage_vm_ops;
	vma->vm_private_data = ap;
	ap->mm = vma->vm_mm;
	ap->uaddr = vma->vm_start;
	/*
	 * A pinnable page has no VM_IO (GUP refuses it), so MADV_DOFORK is
	 * allowed on it; it is not VM_MIXEDMAP either, whose PTEs fork
	 * copies: faulted in by the fault handler, which a child's fault
	 * never gets the page from.
	 */
	if (test_bit(VSHADOW_ARGPAGE_PIN, &ap->flags)) {
		vma->vm_page_prot = vm_get_page_prot(vma->vm_flags);
		return 0;
	}
	vm_flags_set(vma, VM_IO | VM_MIXEDMAP);
	vma->vm_page_prot = vm_get_page_prot(vma->vm_flags);
	for (i = 0; i < ap->npages; i++) {
		ret = vm_insert_page(vma, vma->vm_start + i * PAGE_SIZE,
				     ap->page + i);
		if (ret)
			return ret;
	}
	return 0;
}

static int vshadow_argpage_release(struct inode *inode, struct file *file)
{
	struct vshadow_argpage *ap = file->private_data;

	free_pages_exact(page_address(ap->page), ap->npages * PAGE_SIZE);
	kfree(ap);
	return 0;
}

static const struct file_operations vshadow_argpage_fops = {
	.owner = THIS_MODULE,
	.mmap = vshadow_argpage_mmap,
	.release = vshadow_argpage_release,
};

/**
 * vshadow_argpage_create - map a new argument page into the current process
 * @chan: the file its calls go to
 * @size: bytes it must hold, at most VSHADOW_ARGPAGE_MAX; PAGE_SIZE for
 *	the page a context keeps
 * @flags: 0, or VSHADOW_ARGPAGE_PINNABLE for a page the backend pins
 *	through its user address (see 2. above)
 *
 * Returns the page, or an ERR_PTR.  The caller holds a reference to its
 * file until vshadow_argpage_destroy().
 */
struct vshadow_argpage *vshadow_argpage_create(const struct vshadow_chan *chan,
					       size_t size, unsigned int flags)
{
	struct vshadow_argpage *ap;
	struct file *file;
	unsigned long addr;
	void *kaddr;
	int ret;

	if (WARN_ON_ONCE(!size || size > VSHADOW_ARGPAGE_MAX ||
			 flags & ~VSHADOW_ARGPAGE_PINNABLE))
		return ERR_PTR(-EINVAL);
	if (vshadow_fail(VSHADOW_FAULT_ALLOC))
		return ERR_PTR(-ENOMEM);
	ap = kzalloc(sizeof(*ap), GFP_KERNEL_ACCOUNT);
	if (!ap)
		return ERR_PTR(-ENOMEM);
	ap->target = vshadow_chan_file(chan);
	if (flags & VSHADOW_ARGPAGE_PINNABLE)
		__set_bit(VSHADOW_ARGPAGE_PIN, &ap->flags);
	ap->npages = DIV_ROUND_UP(size, PAGE_SIZE);
	/* Pages of their own, each mapped alone, contiguous in the kernel. */
	kaddr = alloc_pages_exact(ap->npages * PAGE_SIZE,
				  GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!kaddr) {
		ret = -ENOMEM;
		goto err_free;
	}
	ap->page = virt_to_page(kaddr);

	file = anon_inode_getfile("[viommu_shadow-args]", &vshadow_argpage_fops,
				  ap, O_RDWR);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto err_free_page;
	}
	/* From here on the file owns ap and the page. */
	ap->file = file;

	addr = vm_mmap(file, 0, ap->npages * PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_SHARED, 0);
	if (IS_ERR_VALUE(addr)) {
		fput(file);
		return ERR_PTR((long)addr);
	}
	return ap;

err_free_page:
	free_pages_exact(kaddr, ap->npages * PAGE_SIZE);
err_free:
	kfree(ap);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_NS_GPL(vshadow_argpage_create, VSHADOW_NS);

/**
 * vshadow_forward_args - a forwarded ioctl whose argument is in user memory
 * @ap: the argument page; the call goes to the file it was made for
 * @cmd: the ioctl
 * @args: the argument: @in_len bytes go into the page
 * @in_len: at most the page's size
 * @out_len: on success, this many bytes of the page come back into @args
 *
 * For ioctls that return 0 on success.  The module writes the argument
 * and reads the result only through its own kernel mapping of the page;
 * only the backend uses the user address.  Returns the ioctl's result, or
 * VSHADOW_BROKEN, calling nothing, once the process has unmapped the page.
 * A 32-bit call fails with -EOVERFLOW, calling nothing, when the page
 * lies where a 32-bit ioctl argument cannot point (a 64-bit call of the
 * same process attached).  That check and the backend's use of the
 * user address are not atomic: a thread of the process that unmaps or
 * replaces its page in between makes the backend read the process's own
 * memory instead, and only the process is harmed (its call acts on its
 * own container as if it had made it).
 */
long vshadow_forward_args(struct vshadow_argpage *ap, unsigned int cmd,
			  void *args, size_t in_len, size_t out_len)
{
	size_t size = ap->npages * PAGE_SIZE;
	void *kaddr = page_address(ap->page);
	long ret;

	if (WARN_ON_ONCE(in_len > size || out_len > size))
		return -EINVAL;
	if (test_bit(VSHADOW_ARGPAGE_GONE, &ap->flags))
		return VSHADOW_BROKEN;
	if (in_compat_syscall() &&
	    (unsigned long)compat_ptr((compat_uptr_t)ap->uaddr) != ap->uaddr)
		return -EOVERFLOW;
	if (vshadow_fail(VSHADOW_FAULT_CALL))
		return -ENOMEM;
	memcpy(kaddr, args, in_len);
	ret = vshadow_forward_ioctl(ap->target, cmd, ap->uaddr);
	/* Only a call that writes an answer back can lose it. */
	if (!ret && out_len && vshadow_fail(VSHADOW_FAULT_ANSWER))
		ret = -EFAULT;
	if (!ret)
		memcpy(args, kaddr, out_len);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(vshadow_forward_args, VSHADOW_NS);

/*
 * The user and the kernel address of byte @offset of the page, for a
 * backend that hands part of it to the callee as a buffer of its own
 * (type1's dirty bitmaps); the rule above holds: the module reads and
 * writes only through the kernel address.
 */
unsigned long vshadow_argpage_uaddr(struct vshadow_argpage *ap, size_t offset)
{
	return ap->uaddr + offset;
}
EXPORT_SYMBOL_NS_GPL(vshadow_argpage_uaddr, VSHADOW_NS);

void *vshadow_argpage_kaddr(struct vshadow_argpage *ap, size_t offset)
{
	return page_address(ap->page) + offset;
}
EXPORT_SYMBOL_NS_GPL(vshadow_argpage_kaddr, VSHADOW_NS);

/**
 * vshadow_argpage_gone - whether the process unmapped the page
 * @ap: the page
 *
 * vshadow_forward_args() checks its own page; a backend that passes the
 * user address of another page to a call checks that one with this.
 */
bool vshadow_argpage_gone(struct vshadow_argpage *ap)
{
	return test_bit(VSHADOW_ARGPAGE_GONE, &ap->flags);
}
EXPORT_SYMBOL_NS_GPL(vshadow_argpage_gone, VSHADOW_NS);

/**
 * vshadow_argpage_destroy - unmap the page if it is still there, let it go
 * @ap: the argument page
 *
 * Run in the process it is mapped in, this unmaps it.  Anywhere else (a
 * context closed by another process, or at exit) the mapping stays until
 * its process unmaps it or exits, and the page with it.  The check that
 * the mapping is still the page's and vm_munmap() are not atomic (nothing
 * exported does both): a thread of the same process that replaces the
 * page in between loses its own new mapping, and no one else's.
 */
void vshadow_argpage_destroy(struct vshadow_argpage *ap)
{
	struct file *file = ap->file;
	struct vm_area_struct *vma;
	bool ours = false;

	if (current->mm && current->mm == ap->mm &&
	    !test_bit(VSHADOW_ARGPAGE_GONE, &ap->flags)) {
		mmap_read_lock(current->mm);
		vma = find_vma(current->mm, ap->uaddr);
		ours = vma && vma->vm_file == file && vma->vm_start == ap->uaddr;
		mmap_read_unlock(current->mm);
	}
	if (ours)
		vm_munmap(ap->uaddr, ap->npages * PAGE_SIZE);
	fput(file);
}
EXPORT_SYMBOL_NS_GPL(vshadow_argpage_destroy, VSHADOW_NS);
