// SPDX-License-Identifier: GPL-2.0
/*
 * The registry of contexts: their ids and serials, lookup by id with a
 * reference, the last put, and the generation counter a netlink dump
 * checks for consistency.  Both the ioctl path (main.c, which registers a
 * context at open and unregisters it at release) and netlink use it; it
 * uses neither.
 */
#include <linux/atomic.h>
#include <linux/pid.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "vshadow.h"

/* Contexts alive; with vshadow_live_nodes(), shown in debugfs for tests. */
static atomic_long_t vshadow_contexts = ATOMIC_LONG_INIT(0);

/*
 * The registry of open contexts, by id, for netlink.  The xarray's own
 * lock serialises its changes; lookups run under RCU and take a reference
 * (vshadow_ctx::users) before they leave it.  @vshadow_registry_gen
 * changes whenever a context comes or goes, for dump consistency.
 */
static DEFINE_XARRAY_ALLOC1(vshadow_ctx_xa);
static u32 vshadow_ctx_next_id;	/* xa_alloc_cyclic()'s, under its lock */
static atomic_long_t vshadow_registry_gen = ATOMIC_LONG_INIT(1);
/* vshadow_ctx::serial: never reused, unlike ids (which wrap, eventually) */
static atomic64_t vshadow_ctx_serial = ATOMIC64_INIT(0);

/*
 * The first context with an id of at least *@id, referenced, with *@id set
 * to its id; NULL if there is none.
 */
struct vshadow_ctx *vshadow_ctx_get_next(unsigned long *id)
{
	struct vshadow_ctx *ctx;

	rcu_read_lock();
	for (;;) {
		ctx = xa_find(&vshadow_ctx_xa, id, ULONG_MAX, XA_PRESENT);
		if (!ctx || refcount_inc_not_zero(&ctx->users))
			break;
		/* Being freed: go on past it. */
		(*id)++;
	}
	rcu_read_unlock();
	return ctx;
}

void vshadow_ctx_put(struct vshadow_ctx *ctx)
{
	if (!refcount_dec_and_test(&ctx->users))
		return;
	put_pid(ctx->owner);
	mutex_destroy(&ctx->lock);
	kfree_rcu(ctx, rcu);
	atomic_long_dec(&vshadow_contexts);
}

unsigned long vshadow_ctx_registry_gen(void)
{
	return atomic_long_read(&vshadow_registry_gen);
}

/*
 * Give @ctx an id and a serial and publish it: lookups may find it from
 * here on.  Ids go round (an id is not given again soon after its context
 * closed); 1 returned for a wrap is success.
 */
int vshadow_ctx_register(struct vshadow_ctx *ctx)
{
	int ret;

	ctx->serial = atomic64_inc_return(&vshadow_ctx_serial);
	ret = xa_alloc_cyclic(&vshadow_ctx_xa, &ctx->id, ctx, xa_limit_31b,
			      &vshadow_ctx_next_id, GFP_KERNEL_ACCOUNT);
	if (ret < 0)
		return ret == -EBUSY ? -ENFILE : ret;
	atomic_long_inc(&vshadow_registry_gen);
	atomic_long_inc(&vshadow_contexts);
	return 0;
}

/* Lookups no longer find @ctx; references taken before stay good. */
void vshadow_ctx_unregister(struct vshadow_ctx *ctx)
{
	xa_erase(&vshadow_ctx_xa, ctx->id);
	atomic_long_inc(&vshadow_registry_gen);
}

long vshadow_ctx_count(void)
{
	return atomic_long_read(&vshadow_contexts);
}
