// SPDX-License-Identifier: GPL-2.0
/*
 * The dirty log by cookie (VIOMMU_SHADOW_UNMAP_DIRTY_LOG): a bitmap in the
 * caller's memory indexed by the mappings' cookies, into which a walk ORs
 * each mapping's dirty bits.
 *
 * The rules:
 *
 * 1. The module only sets bits of the log, a word at a time with one
 *    atomic OR through its own kernel mapping of the page: the VMM's
 *    other threads may set bits in the same words during the call (QEMU
 *    does, atomically), and none of theirs is ever lost or cleared.
 *
 * 2. The pages a run's mappings need are pinned (short-term, for write)
 *    before the run's backend call: pinning is where the log can fail,
 *    and it fails before anything of the run is unmapped.  Once pinned,
 *    delivering bits, or filling a mapping's range when its bits may be
 *    lost, cannot fail.
 *
 * 3. At most VSHADOW_LOG_PINS pages are pinned at a time.  Pages stay
 *    pinned from run to run (a VMM's runs often share them) until the
 *    array is full: the walk then releases them before a run, or cuts the
 *    run (vshadow_run_pin_log()).  Everything pinned is released, and
 *    marked dirty, before the call returns.
 *
 * Callers hold vshadow_ctx::lock; the pin array is the context's.
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "vshadow.h"

/**
 * struct vshadow_log_pins - the log pages a walk holds pinned
 * @nr: how many
 * @uaddr: each one's user address (page-aligned)
 * @page: each one's page
 */
struct vshadow_log_pins {
	unsigned int nr;
	unsigned long uaddr[VSHADOW_LOG_PINS];
	struct page *page[VSHADOW_LOG_PINS];
};

/* The pin array, allocated by a context's first walk with a log and kept. */
int vshadow_log_init(struct vshadow_ctx *ctx, struct vshadow_log *log,
		     const struct viommu_shadow_unmap_range *cmd)
{
	BUILD_BUG_ON(sizeof(*ctx->log_pins) > 8192);
	if (!ctx->log_pins && !vshadow_fail(VSHADOW_FAULT_ALLOC))
		ctx->log_pins = kvzalloc(sizeof(*ctx->log_pins),
					 GFP_KERNEL_ACCOUNT);
	if (!ctx->log_pins)
		return -ENOMEM;
	log->words = u64_to_user_ptr(cmd->log);
	log->base = cmd->log_base;
	log->pages = cmd->log_pages;
	log->shift = __ffs64(ctx->caps.pgsize);
	log->pins = ctx->log_pins;
	return 0;
}

void vshadow_log_free(struct vshadow_ctx *ctx)
{
	if (ctx->log_pins)
		WARN_ON_ONCE(ctx->log_pins->nr);
	kvfree(ctx->log_pins);
}

/*
 * Where a mapping of @pages pages with @cookie goes in the log: its first
 * bit in *@bit.  False when it does not fit (see the uapi header).
 */
bool vshadow_log_fits(const struct vshadow_log *log, u64 cookie, u64 pages,
		      u64 *bit)
{
	u64 off;

	if (cookie < log->base || cookie & ((1ULL << log->shift) - 1) ||
	    pages > VSHADOW_RUN_BYTES * 8)
		return false;
	off = (cookie - log->base) >> log->shift;
	if (off >= log->pages || pages > log->pages - off)
		return false;
	*bit = off;
	return true;
}

/* The user addresses of the first and last page of bits [@bit, @bit + @n). */
static void vshadow_log_span(const struct vshadow_log *log, u64 bit, u64 n,
			     unsigned long *first, unsigned long *last)
{
	*first = (unsigned long)(log->words + bit / 64) & PAGE_MASK;
	*last = (unsigned long)(log->words + (bit + n - 1) / 64) & PAGE_MASK;
}

/* The pinned page at @uaddr, or NULL; the last one pinned is tried first. */
static struct page *vshadow_log_find(const struct vshadow_log_pins *pins,
				     unsigned long uaddr)
{
	unsigned int i = pins->nr;

	while (i--)
		if (pins->uaddr[i] == uaddr)
			return pins->page[i];
	return NULL;
}

/* Release every page pinned, dirty: the module may have written it. */
void vshadow_log_release(struct vshadow_log *log)
{
	struct vshadow_log_pins *pins = log->pins;

	if (!pins || !pins->nr)
		return;
	unpin_user_pages_dirty_lock(pins->page, pins->nr, true);
	pins->nr = 0;
}

/*
 * Pin the pages of bits [@bit, @bit + @n) that are not pinned yet.  0,
 * -ENOSPC when the pin array is full (the pages pinned so far stay), or
 * -EFAULT (a page that cannot be written), -ENOMEM or -EINTR (a fatal
 * signal) from GUP.
 */
int vshadow_log_pin(struct vshadow_log *log, u64 bit, u64 n)
{
	struct vshadow_log_pins *pins = log->pins;
	unsigned long uaddr, last;
	struct page *page;
	int ret;

	vshadow_log_span(log, bit, n, &uaddr, &last);
	for (; uaddr <= last; uaddr += PAGE_SIZE) {
		if (vshadow_log_find(pins, uaddr))
			continue;
		if (pins->nr == VSHADOW_LOG_PINS)
			return -ENOSPC;
		ret = vshadow_fail(VSHADOW_FAULT_COPY) ? -EFAULT :
		      pin_user_pages_fast(uaddr, 1, FOLL_WRITE, &page);
		if (ret != 1)
			return ret < 0 ? ret : -EFAULT;
		pins->uaddr[pins->nr] = uaddr;
		pins->page[pins->nr++] = page;
	}
	return 0;
}

/*
 * Set in the log, from bit @bit, the @n bits of @src from bit @src_bit, or
 * @n ones when @src is NULL: each word with one atomic OR, through the
 * kernel mapping of its page, which is pinned; this cannot fail.
 */
void vshadow_log_set(struct vshadow_log *log, u64 bit, const u64 *src,
		     u64 src_bit, u64 n)
{
	unsigned long uaddr, mapped = ~0UL;
	struct page *page;
	void *kaddr = NULL;
	unsigned int off, k;
	u64 val;

	for (; n; bit += k, src_bit += k, n -= k) {
		off = bit % 64;
		k = min_t(u64, 64 - off, n);
		val = src ? vshadow_get_bits(src, src_bit, k) :
			    GENMASK_ULL(k - 1, 0);
		if (!val)
			continue;
		uaddr = (unsigned long)(log->words + bit / 64);
		if ((uaddr & PAGE_MASK) != mapped) {
			if (kaddr)
				kunmap_local(kaddr);
			kaddr = NULL;
			mapped = uaddr & PAGE_MASK;
			page = vshadow_log_find(log->pins, mapped);
			if (WARN_ON_ONCE(!page))
				continue;
			kaddr = kmap_local_page(page);
		}
		if (kaddr)
			atomic64_or(val << off, (atomic64_t *)(kaddr +
					offset_in_page(uaddr)));
	}
	if (kaddr)
		kunmap_local(kaddr);
}
