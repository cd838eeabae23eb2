// SPDX-License-Identifier: GPL-2.0
/*
 * The viommu_shadow generic netlink family: what a host administrator sees
 * of the contexts (a dump of them, a dump of one's mappings) and an events
 * group.  It only reports; nothing here changes a context.
 *
 * Contexts are host-global and their messages name processes, so the
 * family lives in the initial network namespace only (netnsok false) and
 * every command and the events group need CAP_NET_ADMIN there: not the
 * user-namespace variants, which would let any user who can make a user
 * namespace in.
 *
 * Across the callbacks of a dump nothing is held: the cursor is an id
 * (and, for mappings, the context's serial and an IOVA), and each callback
 * looks the context up again in the registry, holding a reference only
 * while it runs.  Operations run in parallel (parallel_ops): a mapping
 * dump waits for the context's lock without holding genl_mutex.
 *
 * Counters are read without the context's lock: on a 32-bit kernel a
 * 64-bit counter read may then be torn.
 */
#include <linux/cred.h>
#include <linux/pid.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <net/genetlink.h>

#include <linux/viommu_shadow.h>
#include "vshadow.h"

/*
 * GENL_MCAST_CAP_NET_ADMIN came with 6.8 and to 6.1 stable: without it the
 * events, which carry pids and comms, would reach any user.
 */
#ifndef GENL_MCAST_CAP_NET_ADMIN
#error "this kernel cannot restrict a netlink multicast group to CAP_NET_ADMIN"
#endif

static_assert(VIOMMU_SHADOW_OUTCOME_DIRTY_LOST == VSHADOW_UNMAP_DIRTY_LOST);
static_assert(VIOMMU_SHADOW_OUTCOME_BROKEN == VSHADOW_BROKEN);
static_assert(VIOMMU_SHADOW_OUTCOME_ABSENT == VSHADOW_UNMAP_ABSENT);

/* Requests carry the context id only; anything else is refused. */
static const struct nla_policy vshadow_nl_policy[VIOMMU_SHADOW_A_MAX + 1] = {
	[VIOMMU_SHADOW_A_CTX_ID] = NLA_POLICY_MIN(NLA_U32, 1),
};

static struct genl_family vshadow_nl_family;

/* The attributes of a dump request: 6.6 moved them. */
static struct nlattr **vshadow_nl_dump_attrs(struct netlink_callback *cb)
{
#ifdef VSHADOW_HAVE_GENL_INFO_DUMP
	return genl_info_dump(cb)->attrs;
#else
	return genl_dumpit_info(cb)->attrs;
#endif
}

/* A dump's sequence number from a generation: never 0 (0 is "none yet"). */
static unsigned int vshadow_nl_seq(u64 gen)
{
	return (unsigned int)(gen % U32_MAX) + 1;
}

/* Make the rest of the dump, its end at least, carry NLM_F_DUMP_INTR. */
static void vshadow_nl_dump_interrupted(struct netlink_callback *cb)
{
	cb->seq = cb->prev_seq + 1 ?: 1;
}

static int vshadow_nl_put_u64(struct sk_buff *skb, int attr, u64 value)
{
	return nla_put_u64_64bit(skb, attr, value, VIOMMU_SHADOW_A_PAD);
}

/* The HWPTs the context reads dirty bits from, one attribute each. */
static int vshadow_nl_put_hwpts(struct sk_buff *skb, struct vshadow_ctx *ctx)
{
	u32 hwpts[VIOMMU_SHADOW_DIRTY_HWPTS_MAX], nr, i;

	spin_lock(&ctx->hwpts_lock);
	nr = ctx->nr_hwpts;
	memcpy(hwpts, ctx->hwpts, nr * sizeof(hwpts[0]));
	spin_unlock(&ctx->hwpts_lock);
	for (i = 0; i < nr; i++)
		if (nla_put_u32(skb, VIOMMU_SHADOW_A_DIRTY_HWPT, hwpts[i]))
			return -EMSGSIZE;
	return 0;
}

/* The attributes of @ctx, read without its lock (see vshadow_ctx::lock). */
static int vshadow_nl_put_ctx(struct sk_buff *skb, struct vshadow_ctx *ctx)
{
	/* pairs with ATTACH's smp_store_release(): then the fields are set */
	bool attached = smp_load_acquire(&ctx->attached);

	if (nla_put_u32(skb, VIOMMU_SHADOW_A_CTX_ID, ctx->id) ||
	    nla_put_u32(skb, VIOMMU_SHADOW_A_BACKEND,
			attached ? ctx->backend_kind :
				   VIOMMU_SHADOW_BACKEND_NONE))
		return -EMSGSIZE;
	/* A pid number is only the owner's while the owner lives. */
	if (attached && pid_has_task(ctx->owner, PIDTYPE_TGID) &&
	    nla_put_u32(skb, VIOMMU_SHADOW_A_PID, pid_nr(ctx->owner)))
		return -EMSGSIZE;
	if (attached &&
	    (nla_put_string(skb, VIOMMU_SHADOW_A_COMM, ctx->owner_comm) ||
	     nla_put_u32(skb, VIOMMU_SHADOW_A_BACKEND_ID, ctx->backend_id) ||
	     nla_put_u32(skb, VIOMMU_SHADOW_A_CONTAINER_FD, ctx->container_fd) ||
	     vshadow_nl_put_u64(skb, VIOMMU_SHADOW_A_CONTAINER_ID,
				ctx->container_id) ||
	     vshadow_nl_put_u64(skb, VIOMMU_SHADOW_A_PGSIZE,
				READ_ONCE(ctx->caps.pgsize))))
		return -EMSGSIZE;
	if (vshadow_nl_put_u64(skb, VIOMMU_SHADOW_A_NR_MAPPINGS,
			       READ_ONCE(ctx->nr_mappings)) ||
	    vshadow_nl_put_u64(skb, VIOMMU_SHADOW_A_MAPPED_BYTES,
			       READ_ONCE(ctx->mapped_bytes)) ||
	    vshadow_nl_put_u64(skb, VIOMMU_SHADOW_A_HIGH_WATER,
			       READ_ONCE(ctx->high_water)) ||
	    vshadow_nl_put_u64(skb, VIOMMU_SHADOW_A_MAX_MAPPINGS,
			       ctx->max_mappings) ||
	    vshadow_nl_put_u64(skb, VIOMMU_SHADOW_A_NR_MAPS,
			       READ_ONCE(ctx->nr_maps)) ||
	    vshadow_nl_put_u64(skb, VIOMMU_SHADOW_A_NR_UNMAPS,
			       READ_ONCE(ctx->nr_unmaps)) ||
	    vshadow_nl_put_u64(skb, VIOMMU_SHADOW_A_NR_CLAMPED,
			       READ_ONCE(ctx->nr_clamped)) ||
	    vshadow_nl_put_u64(skb, VIOMMU_SHADOW_A_NR_BISECT_REFUSED,
			       READ_ONCE(ctx->nr_bisect_refused)))
		return -EMSGSIZE;
	if (READ_ONCE(ctx->broken) &&
	    nla_put_flag(skb, VIOMMU_SHADOW_A_BROKEN))
		return -EMSGSIZE;
	return attached ? vshadow_nl_put_hwpts(skb, ctx) : 0;
}

/* Room for a message: @n32 u32 attributes, @n64 u64 ones and @str. */
static size_t vshadow_nl_size(int n32, int n64, size_t str)
{
	return n32 * nla_total_size(sizeof(u32)) +
	       n64 * nla_total_size_64bit(sizeof(u64)) +
	       (str ? nla_total_size(str) : 0);
}

/* A context message: what vshadow_nl_put_ctx() may put. */
static size_t vshadow_nl_ctx_size(void)
{
	return vshadow_nl_size(5 + VIOMMU_SHADOW_DIRTY_HWPTS_MAX, 10,
			       TASK_COMM_LEN) + nla_total_size(0);
}

/* One context message; with @cb, part of a dump. */
static int vshadow_nl_fill_ctx(struct sk_buff *skb, struct vshadow_ctx *ctx,
			       u8 cmd, u32 portid, u32 seq, int flags,
			       struct netlink_callback *cb)
{
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &vshadow_nl_family, flags, cmd);
	if (!hdr)
		return -EMSGSIZE;
	if (cb)
		genl_dump_check_consistent(cb, hdr);
	if (vshadow_nl_put_ctx(skb, ctx)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

/* The context with id @id, referenced, or NULL. */
static struct vshadow_ctx *vshadow_nl_ctx_get(u32 id)
{
	unsigned long found = id;
	struct vshadow_ctx *ctx = vshadow_ctx_get_next(&found);

	if (ctx && found != id) {
		vshadow_ctx_put(ctx);
		ctx = NULL;
	}
	return ctx;
}

static int vshadow_nl_ctx_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct vshadow_ctx *ctx;
	struct sk_buff *msg;
	int ret;

	if (GENL_REQ_ATTR_CHECK(info, VIOMMU_SHADOW_A_CTX_ID))
		return -EINVAL;
	ctx = vshadow_nl_ctx_get(nla_get_u32(info->attrs[VIOMMU_SHADOW_A_CTX_ID]));
	if (!ctx) {
		NL_SET_ERR_MSG_ATTR(info->extack,
				    info->attrs[VIOMMU_SHADOW_A_CTX_ID],
				    "no context has this id");
		return -ENOENT;
	}

	msg = genlmsg_new(vshadow_nl_ctx_size(), GFP_KERNEL);
	if (!msg) {
		ret = -ENOMEM;
		goto out_put;
	}
	ret = vshadow_nl_fill_ctx(msg, ctx, VIOMMU_SHADOW_NL_CMD_CTX_GET,
				  info->snd_portid, info->snd_seq, 0, NULL);
	if (ret) {
		nlmsg_free(msg);
		goto out_put;
	}
	ret = genlmsg_reply(msg, info);
out_put:
	vshadow_ctx_put(ctx);
	return ret;
}

/* A context dump is of all: one context is a do request. */
static int vshadow_nl_ctx_dump_start(struct netlink_callback *cb)
{
	struct nlattr *attr = vshadow_nl_dump_attrs(cb)[VIOMMU_SHADOW_A_CTX_ID];

	if (attr) {
		NL_SET_ERR_MSG_ATTR(cb->extack, attr,
				    "a context dump is of all contexts: ask for one without NLM_F_DUMP");
		return -EINVAL;
	}
	return 0;
}

/* cb->args[0]: the next context id to look at */
static int vshadow_nl_ctx_get_dumpit(struct sk_buff *skb,
				     struct netlink_callback *cb)
{
	unsigned long id = cb->args[0] ?: 1;
	struct vshadow_ctx *ctx;
	int ret;

	cb->seq = vshadow_nl_seq(vshadow_ctx_registry_gen());
	while ((ctx = vshadow_ctx_get_next(&id))) {
		ret = vshadow_nl_fill_ctx(skb, ctx,
					  VIOMMU_SHADOW_NL_CMD_CTX_GET,
					  NETLINK_CB(cb->skb).portid,
					  cb->nlh->nlmsg_seq, NLM_F_MULTI, cb);
		vshadow_ctx_put(ctx);
		if (ret)
			break;
		id++;
	}
	cb->args[0] = id;
	return skb->len;
}

static int vshadow_nl_fill_mapping(struct sk_buff *skb,
				   struct netlink_callback *cb, u32 ctx_id,
				   const struct vshadow_node *node)
{
	void *hdr;

	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &vshadow_nl_family, NLM_F_MULTI,
			  VIOMMU_SHADOW_NL_CMD_MAPPING_GET);
	if (!hdr)
		return -EMSGSIZE;
	genl_dump_check_consistent(cb, hdr);
	if (nla_put_u32(skb, VIOMMU_SHADOW_A_CTX_ID, ctx_id) ||
	    vshadow_nl_put_u64(skb, VIOMMU_SHADOW_A_IOVA, node->start) ||
	    vshadow_nl_put_u64(skb, VIOMMU_SHADOW_A_LENGTH,
			       node->last - node->start + 1) ||
	    vshadow_nl_put_u64(skb, VIOMMU_SHADOW_A_COOKIE, node->cookie)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

/**
 * struct vshadow_nl_cursor - where a MAPPING_GET dump goes on, in cb->ctx
 * @serial: the context's vshadow_ctx::serial: an id that names another
 *	context by now is not followed
 * @next: the IOVA to go on from
 * @id: the context's id
 * @found: a part found the context: from then on, its going away
 *	interrupts the dump instead of failing it
 * @end: the last mapping sent ended at ~0: there is no IOVA to go on from
 */
struct vshadow_nl_cursor {
	u64 serial;
	u64 next;
	u32 id;
	bool found;
	bool end;
};

static struct vshadow_nl_cursor *vshadow_nl_cursor(struct netlink_callback *cb)
{
	static_assert(sizeof(struct vshadow_nl_cursor) <= sizeof(cb->ctx));
	return (struct vshadow_nl_cursor *)cb->ctx;
}

/*
 * Before the first part: the request names a context that exists, or it
 * is refused with a plain error (rather than in the dump's end).
 */
static int vshadow_nl_mapping_start(struct netlink_callback *cb)
{
	struct nlattr *attr = vshadow_nl_dump_attrs(cb)[VIOMMU_SHADOW_A_CTX_ID];
	struct vshadow_nl_cursor *cur = vshadow_nl_cursor(cb);
	struct vshadow_ctx *ctx;

	if (!attr) {
		NL_SET_ERR_MSG(cb->extack, "a mapping dump needs a context id");
		return -EINVAL;
	}
	ctx = vshadow_nl_ctx_get(nla_get_u32(attr));
	if (!ctx) {
		NL_SET_ERR_MSG_ATTR(cb->extack, attr, "no context has this id");
		return -ENOENT;
	}
	cur->id = ctx->id;
	cur->serial = ctx->serial;
	vshadow_ctx_put(ctx);
	return 0;
}

static int vshadow_nl_mapping_dumpit(struct sk_buff *skb,
				     struct netlink_callback *cb)
{
	struct vshadow_nl_cursor *cur = vshadow_nl_cursor(cb);
	struct vshadow_node *node;
	struct vshadow_ctx *ctx;
	u64 next = cur->next;
	int ret = 0;

	if (cur->end)
		return 0;
	ctx = vshadow_nl_ctx_get(cur->id);
	if (ctx && ctx->serial != cur->serial) {
		vshadow_ctx_put(ctx);
		ctx = NULL;
	}
	if (!ctx)
		goto gone;
	if (mutex_lock_killable(&ctx->lock)) {
		vshadow_ctx_put(ctx);
		return -EINTR;
	}
	if (ctx->dead) {
		mutex_unlock(&ctx->lock);
		vshadow_ctx_put(ctx);
		goto gone;
	}
	cur->found = true;
	cb->seq = vshadow_nl_seq(ctx->gen);
	for (node = vshadow_tree_first(ctx, next, U64_MAX); node;
	     node = vshadow_tree_next(node, next, U64_MAX)) {
		ret = vshadow_nl_fill_mapping(skb, cb, cur->id, node);
		if (ret)
			break;
		if (node->last == U64_MAX) {
			cur->end = true;
			break;
		}
		cur->next = node->last + 1;
	}
	mutex_unlock(&ctx->lock);
	vshadow_ctx_put(ctx);
	/* Not even one fits an empty message: cannot happen, but don't spin. */
	if (ret && !skb->len)
		return ret;
	return skb->len;

gone:
	/* Closed before the first part: as if it had been before the request. */
	if (!cur->found)
		return -ENOENT;
	/* Closed between two parts: what was sent is not the whole set. */
	vshadow_nl_dump_interrupted(cb);
	return 0;
}

static const struct genl_ops vshadow_nl_ops[] = {
	{
		.cmd = VIOMMU_SHADOW_NL_CMD_CTX_GET,
		.flags = GENL_ADMIN_PERM,
		.doit = vshadow_nl_ctx_get_doit,
		.start = vshadow_nl_ctx_dump_start,
		.dumpit = vshadow_nl_ctx_get_dumpit,
	},
	{
		.cmd = VIOMMU_SHADOW_NL_CMD_MAPPING_GET,
		.flags = GENL_ADMIN_PERM,
		.start = vshadow_nl_mapping_start,
		.dumpit = vshadow_nl_mapping_dumpit,
	},
};

enum { VSHADOW_NL_MCGRP_EVENTS };

static const struct genl_multicast_group vshadow_nl_mcgrps[] = {
	[VSHADOW_NL_MCGRP_EVENTS] = {
		.name = VIOMMU_SHADOW_MCGRP_EVENTS,
		.flags = GENL_MCAST_CAP_NET_ADMIN,
	},
};

static struct genl_family vshadow_nl_family __ro_after_init = {
	.name = VIOMMU_SHADOW_GENL_NAME,
	.version = VIOMMU_SHADOW_GENL_VERSION,
	.maxattr = VIOMMU_SHADOW_A_MAX,
	.policy = vshadow_nl_policy,
	.netnsok = false,
	/* nothing here relies on genl_mutex: a dump may wait for a context */
	.parallel_ops = true,
	.module = THIS_MODULE,
	.ops = vshadow_nl_ops,
	.n_ops = ARRAY_SIZE(vshadow_nl_ops),
	/* resv_start_op 0: every command checks its header and attributes */
	.mcgrps = vshadow_nl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(vshadow_nl_mcgrps),
};

/*
 * Events.  Each is built only when someone listens, in the caller's
 * process and charged to it (a few hundred bytes, freed once delivered);
 * one that cannot be built or delivered is lost for the listeners, never
 * an error for the caller.
 *
 * No user may fill the administrator's socket and make it lose other
 * users' events: every event counts against a budget of its context's
 * user and one of all users (vshadow_nl_events), and the kinds a caller
 * can make at will (clamps, refusals, backend errors) also against one of
 * their context.  A dropped event is counted, and about a second later
 * an EVENTS_DROPPED notice, outside every budget, tells the listeners
 * their view is stale (vshadow_nl_notice_work).
 */
#define VSHADOW_NL_CTX_EVENTS		100	/* a second, per context */
#define VSHADOW_NL_USER_EVENTS		256	/* a second, per user */
#define VSHADOW_NL_ALL_EVENTS		1024	/* a second, all users */

/*
 * The users with events in the last second each have a slot of their
 * own, up to VSHADOW_RL_SLOTS of them; a slot idle for a second is given
 * to the next new user.  Should more users than that be active in one
 * second, the others share one more slot, the last.
 */
#define VSHADOW_RL_SLOTS		64

/**
 * struct vshadow_rl - a budget per user and one for all, a second each
 * @lock: protects the windows and counts; taken alone, never sleeping
 * @per_user: a user's budget
 * @all: everyone's
 * @window: start (jiffies) of the current second of @n
 * @n: spent of @all in it
 * @slot: the users' windows and counts; the last is shared
 */
struct vshadow_rl {
	spinlock_t lock; /* see above */
	unsigned int per_user;
	unsigned int all;
	unsigned long window;
	unsigned int n;
	struct {
		kuid_t uid;
		unsigned long window;
		unsigned int n;
	} slot[VSHADOW_RL_SLOTS + 1];
};

static struct vshadow_rl vshadow_nl_events = {
	.lock = __SPIN_LOCK_UNLOCKED(vshadow_nl_events.lock),
	.per_user = VSHADOW_NL_USER_EVENTS,
	.all = VSHADOW_NL_ALL_EVENTS,
};

/*
 * The "broken" warnings in the kernel log: a few a second per user, so
 * that one user breaking its contexts in a loop cannot silence the
 * warnings of another's (as one global ratelimit would).
 */
static struct vshadow_rl vshadow_nl_warnings = {
	.lock = __SPIN_LOCK_UNLOCKED(vshadow_nl_warnings.lock),
	.per_user = 5,
	.all = 50,
};

/* @uid's slot: its own, else an idle one made its own, else the shared. */
static unsigned int vshadow_rl_slot(struct vshadow_rl *rl, kuid_t uid,
				    unsigned long now)
{
	unsigned int i, idle = VSHADOW_RL_SLOTS;

	lockdep_assert_held(&rl->lock);
	for (i = 0; i < VSHADOW_RL_SLOTS; i++) {
		if (uid_eq(rl->slot[i].uid, uid) && rl->slot[i].window)
			return i;
		if (idle == VSHADOW_RL_SLOTS &&
		    (!rl->slot[i].window ||
		     time_after(now, rl->slot[i].window + HZ)))
			idle = i;
	}
	if (idle < VSHADOW_RL_SLOTS) {
		rl->slot[idle].uid = uid;
		rl->slot[idle].window = 0;
	}
	return idle;
}

static bool vshadow_rl_allow(struct vshadow_rl *rl, kuid_t uid)
{
	unsigned long now = jiffies, flags;
	bool ok = false;
	unsigned int i;

	spin_lock_irqsave(&rl->lock, flags);
	if (time_after(now, rl->window + HZ)) {
		rl->window = now;
		rl->n = 0;
	}
	i = vshadow_rl_slot(rl, uid, now);
	if (!rl->slot[i].window || time_after(now, rl->slot[i].window + HZ)) {
		/* 0 marks a slot never used: a window never starts at 0. */
		rl->slot[i].window = now ?: 1;
		rl->slot[i].n = 0;
	}
	if (rl->n < rl->all && rl->slot[i].n < rl->per_user) {
		rl->n++;
		rl->slot[i].n++;
		ok = true;
	}
	spin_unlock_irqrestore(&rl->lock, flags);
	return ok;
}

bool vshadow_nl_warn_allowed(struct vshadow_ctx *ctx)
{
	return vshadow_rl_allow(&vshadow_nl_warnings, ctx->owner_uid);
}

/* Events dropped by the budgets since load; the notice that says so. */
static atomic64_t vshadow_nl_dropped = ATOMIC64_INIT(0);
static void vshadow_nl_notice(struct work_struct *work);
static DECLARE_DELAYED_WORK(vshadow_nl_notice_work, vshadow_nl_notice);

static void vshadow_nl_drop(void)
{
	atomic64_inc(&vshadow_nl_dropped);
	/* Queued once until it runs: at most one notice a second. */
	schedule_delayed_work(&vshadow_nl_notice_work, HZ);
}

/* The per-context budget of the kinds a caller makes at will. */
static bool vshadow_nl_event_allowed(struct vshadow_ctx *ctx)
{
	lockdep_assert_held(&ctx->lock);
	if (!genl_has_listeners(&vshadow_nl_family, &init_net,
				VSHADOW_NL_MCGRP_EVENTS))
		return false;
	if (time_after(jiffies, ctx->nl_window + HZ)) {
		ctx->nl_window = jiffies;
		ctx->nl_events = 0;
	}
	if (ctx->nl_events >= VSHADOW_NL_CTX_EVENTS) {
		vshadow_nl_drop();
		return false;
	}
	ctx->nl_events++;
	return true;
}

/*
 * A new event of @ctx's (NULL: the notice, outside every budget), or NULL
 * when no one listens, or when it is over a budget (counted).
 */
static struct sk_buff *vshadow_nl_event_new(struct vshadow_ctx *ctx, u8 cmd,
					    size_t size, void **hdr)
{
	struct sk_buff *msg;

	if (!genl_has_listeners(&vshadow_nl_family, &init_net,
				VSHADOW_NL_MCGRP_EVENTS))
		return NULL;
	if (ctx && !vshadow_rl_allow(&vshadow_nl_events, ctx->owner_uid)) {
		vshadow_nl_drop();
		return NULL;
	}
	msg = genlmsg_new(size, GFP_KERNEL_ACCOUNT);
	if (!msg)
		return NULL;
	*hdr = genlmsg_put(msg, 0, 0, &vshadow_nl_family, 0, cmd);
	if (!*hdr) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

static void vshadow_nl_event_send(struct sk_buff *msg, void *hdr, int err)
{
	if (err) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	genlmsg_multicast(&vshadow_nl_family, msg, 0, VSHADOW_NL_MCGRP_EVENTS,
			  GFP_KERNEL_ACCOUNT);
}

void vshadow_nl_ctx_event(struct vshadow_ctx *ctx, u8 cmd)
{
	struct sk_buff *msg;
	void *hdr;

	msg = vshadow_nl_event_new(ctx, cmd, vshadow_nl_ctx_size(), &hdr);
	if (!msg)
		return;
	vshadow_nl_event_send(msg, hdr, vshadow_nl_put_ctx(msg, ctx));
}

void vshadow_nl_clamped(struct vshadow_ctx *ctx, u64 start, u64 last,
			u64 clamped_last)
{
	struct sk_buff *msg;
	void *hdr;
	int err;

	if (!vshadow_nl_event_allowed(ctx))
		return;
	msg = vshadow_nl_event_new(ctx, VIOMMU_SHADOW_NL_CMD_CLAMPED,
				   vshadow_nl_size(1, 3, 0), &hdr);
	if (!msg)
		return;
	err = nla_put_u32(msg, VIOMMU_SHADOW_A_CTX_ID, ctx->id) ||
	      vshadow_nl_put_u64(msg, VIOMMU_SHADOW_A_START, start) ||
	      vshadow_nl_put_u64(msg, VIOMMU_SHADOW_A_LAST, last) ||
	      vshadow_nl_put_u64(msg, VIOMMU_SHADOW_A_CLAMPED_LAST,
				 clamped_last);
	vshadow_nl_event_send(msg, hdr, err);
}

void vshadow_nl_bisect_refused(struct vshadow_ctx *ctx, u64 start, u64 last)
{
	struct sk_buff *msg;
	void *hdr;
	int err;

	if (!vshadow_nl_event_allowed(ctx))
		return;
	msg = vshadow_nl_event_new(ctx, VIOMMU_SHADOW_NL_CMD_BISECT_REFUSED,
				   vshadow_nl_size(1, 2, 0), &hdr);
	if (!msg)
		return;
	err = nla_put_u32(msg, VIOMMU_SHADOW_A_CTX_ID, ctx->id) ||
	      vshadow_nl_put_u64(msg, VIOMMU_SHADOW_A_START, start) ||
	      vshadow_nl_put_u64(msg, VIOMMU_SHADOW_A_LAST, last);
	vshadow_nl_event_send(msg, hdr, err);
}

void vshadow_nl_backend_error(struct vshadow_ctx *ctx, u32 op, u64 iova,
			      u64 length, int ret)
{
	struct sk_buff *msg;
	void *hdr;
	int err;

	if (!vshadow_nl_event_allowed(ctx))
		return;
	msg = vshadow_nl_event_new(ctx, VIOMMU_SHADOW_NL_CMD_BACKEND_ERROR,
				   vshadow_nl_size(3, 2, 0), &hdr);
	if (!msg)
		return;
	err = nla_put_u32(msg, VIOMMU_SHADOW_A_CTX_ID, ctx->id) ||
	      nla_put_u32(msg, VIOMMU_SHADOW_A_OP, op) ||
	      vshadow_nl_put_u64(msg, VIOMMU_SHADOW_A_IOVA, iova) ||
	      vshadow_nl_put_u64(msg, VIOMMU_SHADOW_A_LENGTH, length);
	if (!err && ret < 0)
		err = nla_put_u32(msg, VIOMMU_SHADOW_A_ERRNO, -ret);
	else if (!err)
		err = nla_put_u32(msg, VIOMMU_SHADOW_A_OUTCOME, ret);
	vshadow_nl_event_send(msg, hdr, err);
}

void vshadow_nl_broken(struct vshadow_ctx *ctx, const char *reason)
{
	struct sk_buff *msg;
	void *hdr;
	int err;

	msg = vshadow_nl_event_new(ctx, VIOMMU_SHADOW_NL_CMD_CTX_BROKEN,
				   vshadow_nl_size(1, 0, strlen(reason) + 1),
				   &hdr);
	if (!msg)
		return;
	err = nla_put_u32(msg, VIOMMU_SHADOW_A_CTX_ID, ctx->id) ||
	      nla_put_string(msg, VIOMMU_SHADOW_A_REASON, reason);
	vshadow_nl_event_send(msg, hdr, err);
}

/*
 * EVENTS_DROPPED, with the count: outside every budget, at most once a
 * second (it is queued again only once it ran).  Made by the system
 * workqueue, so charged to no caller.
 */
static void vshadow_nl_notice(struct work_struct *work)
{
	struct sk_buff *msg;
	void *hdr;

	msg = vshadow_nl_event_new(NULL, VIOMMU_SHADOW_NL_CMD_EVENTS_DROPPED,
				   vshadow_nl_size(0, 1, 0), &hdr);
	if (!msg)
		return;
	vshadow_nl_event_send(msg, hdr,
			      vshadow_nl_put_u64(msg, VIOMMU_SHADOW_A_DROPPED,
						 atomic64_read(&vshadow_nl_dropped)));
}

int vshadow_nl_init(void)
{
	return genl_register_family(&vshadow_nl_family);
}

void vshadow_nl_exit(void)
{
	cancel_delayed_work_sync(&vshadow_nl_notice_work);
	genl_unregister_family(&vshadow_nl_family);
}
