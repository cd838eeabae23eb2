// SPDX-License-Identifier: GPL-2.0
/*
 * The shadow tree: an interval tree of one context's mappings, keyed by the
 * inclusive range [start, last].  Mappings never overlap, so at most one
 * node contains a given IOVA and an in-order walk is an IOVA-order walk.
 * This file owns the nodes' memory and the per-context mapping counters;
 * the callers hold vshadow_ctx::lock.
 */
#include <linux/atomic.h>
#include <linux/interval_tree_generic.h>
#include <linux/lockdep.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "vshadow.h"

#define VSHADOW_START(node) ((node)->start)
#define VSHADOW_LAST(node) ((node)->last)

INTERVAL_TREE_DEFINE(struct vshadow_node, rb, u64, __subtree_last,
		     VSHADOW_START, VSHADOW_LAST, static, vshadow_it)

/* Nodes alive in all contexts; must be 0 when the module goes away. */
static atomic_long_t vshadow_nodes = ATOMIC_LONG_INIT(0);

/*
 * The nodes' own cache, accounted to the memory cgroup of the process that
 * maps (SLAB_ACCOUNT); a node is 56 bytes.
 */
static struct kmem_cache *vshadow_node_cache;

int __init vshadow_tree_init(void)
{
	BUILD_BUG_ON(sizeof(struct vshadow_node) > 64);
	vshadow_node_cache = KMEM_CACHE(vshadow_node, SLAB_ACCOUNT);
	return vshadow_node_cache ? 0 : -ENOMEM;
}

void vshadow_tree_exit(void)
{
	kmem_cache_destroy(vshadow_node_cache);
}

long vshadow_live_nodes(void)
{
	return atomic_long_read(&vshadow_nodes);
}

/*
 * A node for a new mapping of @ctx: one the context freed lately if it
 * kept one (a vIOMMU VMM maps and unmaps all the time, and a spare costs
 * no allocation and no memory cgroup charge), else a new one.
 */
struct vshadow_node *vshadow_node_alloc(struct vshadow_ctx *ctx)
{
	struct vshadow_node *node;

	lockdep_assert_held(&ctx->lock);
	if (ctx->nr_spare) {
		node = ctx->spare[--ctx->nr_spare];
		memset(node, 0, sizeof(*node));
	} else {
		if (vshadow_fail(VSHADOW_FAULT_ALLOC))
			return NULL;
		node = kmem_cache_zalloc(vshadow_node_cache, GFP_KERNEL_ACCOUNT);
		if (!node)
			return NULL;
	}
	atomic_long_inc(&vshadow_nodes);
	return node;
}

/* Keep @node as a spare of @ctx, or free it when it has enough. */
void vshadow_node_free(struct vshadow_ctx *ctx, struct vshadow_node *node)
{
	lockdep_assert_held(&ctx->lock);
	atomic_long_dec(&vshadow_nodes);
	if (ctx->nr_spare < VSHADOW_SPARE_NODES)
		ctx->spare[ctx->nr_spare++] = node;
	else
		kmem_cache_free(vshadow_node_cache, node);
}

/* The first node, in IOVA order, that intersects [start, last]. */
struct vshadow_node *vshadow_tree_first(struct vshadow_ctx *ctx, u64 start,
					u64 last)
{
	lockdep_assert_held(&ctx->lock);
	return vshadow_it_iter_first(&ctx->tree, start, last);
}

/* The node after @node that intersects [start, last]. */
struct vshadow_node *vshadow_tree_next(struct vshadow_node *node, u64 start,
				       u64 last)
{
	return vshadow_it_iter_next(node, start, last);
}

void vshadow_tree_insert(struct vshadow_ctx *ctx, struct vshadow_node *node)
{
	lockdep_assert_held(&ctx->lock);
	vshadow_it_insert(node, &ctx->tree);
	ctx->gen++;
	vshadow_stat_add(&ctx->nr_mappings, 1);
	vshadow_stat_add(&ctx->mapped_bytes, node->last - node->start + 1);
	if (node->last > ctx->high_water)
		WRITE_ONCE(ctx->high_water, node->last);
}

/* Unlink @node and free it. */
void vshadow_tree_remove(struct vshadow_ctx *ctx, struct vshadow_node *node)
{
	lockdep_assert_held(&ctx->lock);
	vshadow_it_remove(node, &ctx->tree);
	ctx->gen++;
	vshadow_stat_add(&ctx->nr_mappings, -1);
	vshadow_stat_add(&ctx->mapped_bytes, -(node->last - node->start + 1));
	vshadow_node_free(ctx, node);
}

/*
 * Forget every node without touching the backend: the context is going
 * away and the mappings stay with the container, which owns them.  A
 * postorder walk frees each node without rebalancing: O(n), yielding as
 * it goes.  The spares go too.
 */
void vshadow_tree_destroy(struct vshadow_ctx *ctx)
{
	struct vshadow_node *node, *next;

	lockdep_assert_held(&ctx->lock);
	rbtree_postorder_for_each_entry_safe(node, next, &ctx->tree.rb_root, rb) {
		kmem_cache_free(vshadow_node_cache, node);
		atomic_long_dec(&vshadow_nodes);
		cond_resched();
	}
	while (ctx->nr_spare)
		kmem_cache_free(vshadow_node_cache, ctx->spare[--ctx->nr_spare]);
	ctx->tree = RB_ROOT_CACHED;
	ctx->gen++;
	WRITE_ONCE(ctx->nr_mappings, 0);
	WRITE_ONCE(ctx->mapped_bytes, 0);
}
