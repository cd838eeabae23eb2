// SPDX-License-Identifier: GPL-2.0
/*
 * vshadowctl - show viommu_shadow contexts, their mappings and events,
 * through the module's generic netlink family (libnl-3, libnl-genl-3).
 *
 * Documentation/userspace-api/vshadowctl.rst is its manual; the exit
 * codes are listed there and in usage().
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include <linux/viommu_shadow.h>

#include "out.h"

/* The package's version, from VERSION at the top of the tree (Makefile). */
#ifndef VSHADOW_VERSION
#error "VSHADOW_VERSION is not defined: build with tools/vshadowctl/Makefile"
#endif

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Exit codes: distinct, so that scripts can tell the cases apart. */
enum {
	EXIT_OK = 0,
	EXIT_ERROR = 1,		/* anything not listed below */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_NOT_LOADED = 3,	/* the module (its netlink family) is absent */
	EXIT_PERM = 4,		/* not allowed: needs CAP_NET_ADMIN */
	EXIT_NO_CTX = 5,	/* no context has the given id */
	EXIT_INCONSISTENT = 6,	/* a dump kept changing while it was read */
};

/* Where the module shows it is loaded, whatever the network namespace. */
#define SYS_MODULE	"/sys/module/viommu_shadow"
#define OTHER_NETNS \
	"the viommu_shadow family is only in the host's initial network namespace"

/* A dump interrupted by a change is read again, this many times at most. */
#define DUMP_TRIES	5

static const char *prog = "vshadowctl";
static bool timestamps;
static uint32_t pid_filter;	/* show: only this owner's contexts */
static int family;
static sig_atomic_t stop;	/* set by the signal handler */

static struct nla_policy policy[VIOMMU_SHADOW_A_MAX + 1] = {
	[VIOMMU_SHADOW_A_CTX_ID] = { .type = NLA_U32 },
	[VIOMMU_SHADOW_A_PID] = { .type = NLA_U32 },
	[VIOMMU_SHADOW_A_COMM] = { .type = NLA_NUL_STRING },
	[VIOMMU_SHADOW_A_BACKEND] = { .type = NLA_U32 },
	[VIOMMU_SHADOW_A_BACKEND_ID] = { .type = NLA_U32 },
	[VIOMMU_SHADOW_A_CONTAINER_FD] = { .type = NLA_U32 },
	[VIOMMU_SHADOW_A_CONTAINER_ID] = { .type = NLA_U64 },
	[VIOMMU_SHADOW_A_PGSIZE] = { .type = NLA_U64 },
	[VIOMMU_SHADOW_A_NR_MAPPINGS] = { .type = NLA_U64 },
	[VIOMMU_SHADOW_A_MAPPED_BYTES] = { .type = NLA_U64 },
	[VIOMMU_SHADOW_A_HIGH_WATER] = { .type = NLA_U64 },
	[VIOMMU_SHADOW_A_MAX_MAPPINGS] = { .type = NLA_U64 },
	[VIOMMU_SHADOW_A_NR_MAPS] = { .type = NLA_U64 },
	[VIOMMU_SHADOW_A_NR_UNMAPS] = { .type = NLA_U64 },
	[VIOMMU_SHADOW_A_NR_CLAMPED] = { .type = NLA_U64 },
	[VIOMMU_SHADOW_A_NR_BISECT_REFUSED] = { .type = NLA_U64 },
	[VIOMMU_SHADOW_A_BROKEN] = { .type = NLA_FLAG },
	[VIOMMU_SHADOW_A_IOVA] = { .type = NLA_U64 },
	[VIOMMU_SHADOW_A_LENGTH] = { .type = NLA_U64 },
	[VIOMMU_SHADOW_A_COOKIE] = { .type = NLA_U64 },
	[VIOMMU_SHADOW_A_START] = { .type = NLA_U64 },
	[VIOMMU_SHADOW_A_LAST] = { .type = NLA_U64 },
	[VIOMMU_SHADOW_A_CLAMPED_LAST] = { .type = NLA_U64 },
	[VIOMMU_SHADOW_A_OP] = { .type = NLA_U32 },
	[VIOMMU_SHADOW_A_ERRNO] = { .type = NLA_U32 },
	[VIOMMU_SHADOW_A_OUTCOME] = { .type = NLA_U32 },
	[VIOMMU_SHADOW_A_REASON] = { .type = NLA_NUL_STRING },
	[VIOMMU_SHADOW_A_DROPPED] = { .type = NLA_U64 },
	[VIOMMU_SHADOW_A_DIRTY_HWPT] = { .type = NLA_U32 },
};

static const char usage_text[] =
"Usage: vshadowctl [OPTIONS] COMMAND\n"
"\n"
"Show viommu_shadow contexts (one per open of /dev/viommu_shadow), their\n"
"shadow mappings and the module's events.\n"
"\n"
"Commands:\n"
"  show [CTX]      every context, or context CTX: owner, backend,\n"
"                  container, counters\n"
"  mappings CTX    the mappings of context CTX, in IOVA order\n"
"  stats           totals over all contexts\n"
"  monitor         print events as they come (Ctrl-C to stop)\n"
"\n"
"Options:\n"
"  -j, --json      JSON output (monitor: one object per line)\n"
"  -p, --pretty    JSON output, indented (implies -j; monitor: each\n"
"                  event over several lines)\n"
"  -c, --count N   monitor: stop after N events\n"
"  -t, --timestamp monitor: each event's time (UTC, ISO 8601)\n"
"  -P, --pid PID   show: only the contexts PID attached\n"
"  -h, --help      this text\n"
"  -V, --version   print the version\n"
"\n"
"Needs CAP_NET_ADMIN (root).  Exit status: 0 success, 1 error, 2 usage,\n"
"3 module not loaded, 4 permission denied, 5 no such context,\n"
"6 a dump kept changing while it was read.\n";

static void print_usage(FILE *f)
{
	fputs(usage_text, f);
}

/* A message on standard error, after the program's name. */
#define err(fmt, ...) fprintf(stderr, "%s: " fmt "\n", prog, ##__VA_ARGS__)

/* The kernel's own words on the last error (extended ack), or "". */
static char extack[256];

/*
 * Keep the extended ack message of @nlh (an error, or a dump's end),
 * whose attributes start @off bytes into its payload.
 */
static void keep_extack(const struct nlmsghdr *nlh, size_t off)
{
	/* the message must end within its attribute */
	static struct nla_policy ack_policy[NLMSGERR_ATTR_MAX + 1] = {
		[NLMSGERR_ATTR_MSG] = { .type = NLA_NUL_STRING },
	};
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t len = nlh->nlmsg_len - NLMSG_HDRLEN;

	extack[0] = 0;
	off = NLMSG_ALIGN(off);
	if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) && len > off &&
	    !nla_parse(tb, NLMSGERR_ATTR_MAX,
		       (struct nlattr *)((char *)nlmsg_data(nlh) + off),
		       len - off, ack_policy) &&
	    tb[NLMSGERR_ATTR_MSG])
		snprintf(extack, sizeof(extack), "%s",
			 nla_get_string(tb[NLMSGERR_ATTR_MSG]));
}

/*
 * An error answer: keep its message, then fail as libnl would.  The
 * message follows the error and, unless the kernel capped it
 * (NLM_F_CAPPED), the request it answers.
 */
static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	const struct nlmsghdr *nlh = (const void *)((const char *)e -
						    NLMSG_HDRLEN);

	extack[0] = 0;
	/* the request echoed in full, unless capped: a length that fits */
	if (nlh->nlmsg_flags & NLM_F_CAPPED)
		keep_extack(nlh, sizeof(*e));
	else if (e->msg.nlmsg_len >= NLMSG_HDRLEN &&
		 e->msg.nlmsg_len <= nlh->nlmsg_len)
		keep_extack(nlh, sizeof(*e) + e->msg.nlmsg_len - NLMSG_HDRLEN);
	return -nl_syserr2nlerr(e->error);
}

/* What the kernel said of the error, if it said anything. */
static const char *kernel_said(void)
{
	static char s[sizeof(extack) + 16];

	if (!extack[0])
		return "";
	snprintf(s, sizeof(s), " (kernel: %s)", extack);
	return s;
}

/* A libnl error code as an exit code, with a message saying what to do. */
static int nl_fail(const char *what, int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case NLE_PERM:
		err("%s: permission denied: %s%s", what,
		    "the viommu_shadow netlink family needs CAP_NET_ADMIN (run as root)",
		    kernel_said());
		return EXIT_PERM;
	case NLE_OBJ_NOTFOUND:
		err("%s: no such context%s", what, kernel_said());
		return EXIT_NO_CTX;
	case NLE_DUMP_INTR:
		err("%s: the contexts kept changing while they were read (tried %d times)",
		    what, DUMP_TRIES);
		return EXIT_INCONSISTENT;
	default:
		err("%s: %s%s", what, nl_geterror(nlerr), kernel_said());
		return EXIT_ERROR;
	}
}

static const char *backend_name(uint32_t backend)
{
	switch (backend) {
	case VIOMMU_SHADOW_BACKEND_NONE:
		return "none";
	case VIOMMU_SHADOW_BACKEND_VFIO_TYPE1:
		return "vfio-type1";
	case VIOMMU_SHADOW_BACKEND_IOMMUFD:
		return "iommufd";
	default:
		return "other";
	}
}

static const char *op_name(uint32_t op)
{
	switch (op) {
	case VIOMMU_SHADOW_OP_MAP:
		return "map";
	case VIOMMU_SHADOW_OP_UNMAP:
		return "unmap";
	case VIOMMU_SHADOW_OP_SYNC:
		return "sync";
	default:
		return "other";
	}
}

static const char *outcome_name(uint32_t outcome)
{
	switch (outcome) {
	case VIOMMU_SHADOW_OUTCOME_DIRTY_LOST:
		return "dirty-lost";
	case VIOMMU_SHADOW_OUTCOME_BROKEN:
		return "broken";
	case VIOMMU_SHADOW_OUTCOME_ABSENT:
		return "absent";
	default:
		return "other";
	}
}

static const char *event_name(uint8_t cmd)
{
	switch (cmd) {
	case VIOMMU_SHADOW_NL_CMD_CTX_NEW:
		return "ctx-new";
	case VIOMMU_SHADOW_NL_CMD_CTX_DEL:
		return "ctx-del";
	case VIOMMU_SHADOW_NL_CMD_CLAMPED:
		return "clamped";
	case VIOMMU_SHADOW_NL_CMD_BISECT_REFUSED:
		return "bisect-refused";
	case VIOMMU_SHADOW_NL_CMD_BACKEND_ERROR:
		return "backend-error";
	case VIOMMU_SHADOW_NL_CMD_CTX_BROKEN:
		return "ctx-broken";
	case VIOMMU_SHADOW_NL_CMD_EVENTS_DROPPED:
		return "events-dropped";
	default:
		return NULL;
	}
}

/*
 * A dump's messages are collected first and printed once the dump is
 * whole, so that an interrupted dump can be read again without printing
 * part of it twice.
 */
struct collect {
	struct nl_msg **msgs;
	size_t nr, cap;
};

static void collect_reset(struct collect *c)
{
	while (c->nr)
		nlmsg_free(c->msgs[--c->nr]);
}

static void collect_free(struct collect *c)
{
	collect_reset(c);
	free(c->msgs);
}

static int collect_msg(struct nl_msg *msg, void *arg)
{
	struct collect *c = arg;
	struct nl_msg **msgs;

	if (c->nr == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		msgs = realloc(c->msgs, c->cap * sizeof(*msgs));
		if (!msgs)
			return NL_STOP;
		c->msgs = msgs;
	}
	nlmsg_get(msg);
	c->msgs[c->nr++] = msg;
	return NL_OK;
}

/* Parse one of our messages with libnl's policy validation. */
static int parse(struct nl_msg *msg, struct nlattr **tb)
{
	return genlmsg_parse(nlmsg_hdr(msg), 0, tb, VIOMMU_SHADOW_A_MAX,
			     policy);
}

/*
 * The end of a dump carries an error met after its first part (a fatal
 * signal while waiting for the context): libnl does not look at it.
 */
static int dump_done(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	int *done_errno = arg;

	if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int)) &&
	    *(int *)nlmsg_data(h) < 0) {
		*done_errno = -*(int *)nlmsg_data(h);
		keep_extack(h, sizeof(int));	/* after the error */
	}
	return NL_STOP;
}

/*
 * Send @cmd (a dump when @dump) for context @ctx (0: none) and collect
 * the answer; a dump that a change interrupted is read again.
 */
static int request(struct nl_sock *sk, uint8_t cmd, bool dump, uint32_t ctx,
		   struct collect *c)
{
	struct nl_msg *msg;
	int tries, ret, done_errno = 0;

	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, collect_msg, c);
	nl_socket_modify_cb(sk, NL_CB_FINISH, NL_CB_CUSTOM, dump_done,
			    &done_errno);
	for (tries = 0; tries < DUMP_TRIES; tries++) {
		collect_reset(c);
		msg = nlmsg_alloc();
		if (!msg)
			return -NLE_NOMEM;
		if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0,
				 dump ? NLM_F_DUMP : 0, cmd,
				 VIOMMU_SHADOW_GENL_VERSION) ||
		    (ctx && nla_put_u32(msg, VIOMMU_SHADOW_A_CTX_ID, ctx) < 0)) {
			nlmsg_free(msg);
			return -NLE_NOMEM;
		}
		ret = nl_send_auto(sk, msg);
		nlmsg_free(msg);
		if (ret < 0)
			return ret;
		ret = nl_recvmsgs_default(sk);
		if (ret >= 0 && done_errno)
			ret = -nl_syserr2nlerr(done_errno);
		if (ret != -NLE_DUMP_INTR)
			break;
	}
	/* done_errno goes with this call: so does the callback that sets it */
	nl_socket_modify_cb(sk, NL_CB_FINISH, NL_CB_DEFAULT, NULL, NULL);
	return ret < 0 ? ret : 0;
}

static uint64_t get_u64(struct nlattr **tb, int attr)
{
	return tb[attr] ? nla_get_u64(tb[attr]) : 0;
}

static uint32_t get_u32(struct nlattr **tb, int attr)
{
	return tb[attr] ? nla_get_u32(tb[attr]) : 0;
}

/*
 * The HWPTs of an iommufd context, a list (one attribute each, which
 * the parsed table holds only the last of): "1,2" for people, [1,2] in
 * JSON, "-" or [] for none.
 */
static void out_hwpts(struct nl_msg *msg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	uint32_t ids[VIOMMU_SHADOW_DIRTY_HWPTS_MAX];
	struct nlattr *a;
	size_t n = 0;
	int rem;

	nla_for_each_attr(a, genlmsg_attrdata(nlmsg_data(nlh), 0),
			  genlmsg_attrlen(nlmsg_data(nlh), 0), rem) {
		if (nla_type(a) != VIOMMU_SHADOW_A_DIRTY_HWPT ||
		    nla_len(a) != sizeof(uint32_t) || n == ARRAY_SIZE(ids))
			continue;
		ids[n++] = nla_get_u32(a);
	}
	out_u32_list("dirty-hwpts", ids, n);
}

/* A context's members; the owner ones only when it is attached. */
static void out_ctx(struct nl_msg *msg, struct nlattr **tb)
{
	out_u64("ctx", get_u32(tb, VIOMMU_SHADOW_A_CTX_ID));
	out_str("backend", backend_name(get_u32(tb, VIOMMU_SHADOW_A_BACKEND)));
	if (tb[VIOMMU_SHADOW_A_PID]) {
		out_u64("pid", get_u32(tb, VIOMMU_SHADOW_A_PID));
		out_str("comm", tb[VIOMMU_SHADOW_A_COMM] ?
			nla_get_string(tb[VIOMMU_SHADOW_A_COMM]) : "");
		out_hex("container",
			get_u64(tb, VIOMMU_SHADOW_A_CONTAINER_ID));
		out_u64("fd", get_u32(tb, VIOMMU_SHADOW_A_CONTAINER_FD));
		out_u64("backend-id", get_u32(tb, VIOMMU_SHADOW_A_BACKEND_ID));
		out_u64("pgsize", get_u64(tb, VIOMMU_SHADOW_A_PGSIZE));
	}
	if (get_u32(tb, VIOMMU_SHADOW_A_BACKEND) ==
	    VIOMMU_SHADOW_BACKEND_IOMMUFD)
		out_hwpts(msg);
	out_u64("mappings", get_u64(tb, VIOMMU_SHADOW_A_NR_MAPPINGS));
	out_u64("bytes", get_u64(tb, VIOMMU_SHADOW_A_MAPPED_BYTES));
	out_hex("high-water", get_u64(tb, VIOMMU_SHADOW_A_HIGH_WATER));
	out_u64("max-mappings", get_u64(tb, VIOMMU_SHADOW_A_MAX_MAPPINGS));
	out_u64("maps", get_u64(tb, VIOMMU_SHADOW_A_NR_MAPS));
	out_u64("unmaps", get_u64(tb, VIOMMU_SHADOW_A_NR_UNMAPS));
	out_u64("clamped", get_u64(tb, VIOMMU_SHADOW_A_NR_CLAMPED));
	out_u64("bisect-refused",
		get_u64(tb, VIOMMU_SHADOW_A_NR_BISECT_REFUSED));
	out_flag("broken", tb[VIOMMU_SHADOW_A_BROKEN]);
}

static void out_mapping(struct nl_msg *msg, struct nlattr **tb)
{
	out_hex("iova", get_u64(tb, VIOMMU_SHADOW_A_IOVA));
	out_hex("length", get_u64(tb, VIOMMU_SHADOW_A_LENGTH));
	out_hex("cookie", get_u64(tb, VIOMMU_SHADOW_A_COOKIE));
}

/* Every collected message, one object each; a JSON list in JSON. */
/* Whether --pid leaves out the context of @tb. */
static bool filtered(struct nlattr **tb)
{
	return pid_filter && (!tb[VIOMMU_SHADOW_A_PID] ||
			      nla_get_u32(tb[VIOMMU_SHADOW_A_PID]) != pid_filter);
}

static int print_list(struct collect *c, void (*out)(struct nl_msg *, struct nlattr **))
{
	struct nlattr *tb[VIOMMU_SHADOW_A_MAX + 1];
	size_t i;
	int ret = 0;

	out_list_begin();
	for (i = 0; i < c->nr; i++) {
		ret = parse(c->msgs[i], tb);
		if (ret < 0)
			break;
		if (filtered(tb))
			continue;
		out_begin(NULL);
		out(c->msgs[i], tb);
		out_end();
	}
	out_list_end();
	return ret < 0 ? ret : 0;
}

static int cmd_dump(struct nl_sock *sk, const char *what, uint8_t cmd,
		    bool dump, uint32_t ctx, void (*out)(struct nl_msg *, struct nlattr **))
{
	struct collect c = { 0 };
	int ret;

	ret = request(sk, cmd, dump, ctx, &c);
	if (ret >= 0)
		ret = print_list(&c, out);
	collect_free(&c);
	if (ret == -NLE_OBJ_NOTFOUND && !ctx)
		ret = -NLE_FAILURE;
	return ret < 0 ? nl_fail(what, ret) : EXIT_OK;
}

static int cmd_stats(struct nl_sock *sk)
{
	static const struct {
		int attr;
		const char *name;
	} sums[] = {
		{ VIOMMU_SHADOW_A_NR_MAPPINGS, "mappings" },
		{ VIOMMU_SHADOW_A_MAPPED_BYTES, "bytes" },
		{ VIOMMU_SHADOW_A_NR_MAPS, "maps" },
		{ VIOMMU_SHADOW_A_NR_UNMAPS, "unmaps" },
		{ VIOMMU_SHADOW_A_NR_CLAMPED, "clamped" },
		{ VIOMMU_SHADOW_A_NR_BISECT_REFUSED, "bisect-refused" },
	};
	uint64_t total[ARRAY_SIZE(sums)] = { 0 };
	uint64_t contexts = 0, attached = 0, broken = 0;
	struct nlattr *tb[VIOMMU_SHADOW_A_MAX + 1];
	struct collect c = { 0 };
	size_t i, j;
	int ret;

	ret = request(sk, VIOMMU_SHADOW_NL_CMD_CTX_GET, true, 0, &c);
	for (i = 0; ret >= 0 && i < c.nr; i++) {
		ret = parse(c.msgs[i], tb);
		if (ret < 0)
			break;
		contexts++;
		attached += get_u32(tb, VIOMMU_SHADOW_A_BACKEND) !=
			    VIOMMU_SHADOW_BACKEND_NONE;
		broken += !!tb[VIOMMU_SHADOW_A_BROKEN];
		for (j = 0; j < ARRAY_SIZE(sums); j++)
			total[j] += get_u64(tb, sums[j].attr);
	}
	collect_free(&c);
	if (ret < 0)
		return nl_fail("stats", ret);
	out_begin(NULL);
	out_u64("contexts", contexts);
	out_u64("attached", attached);
	out_u64("broken", broken);
	for (j = 0; j < ARRAY_SIZE(sums); j++)
		out_u64(sums[j].name, total[j]);
	out_end();
	return EXIT_OK;
}

static long events_left = -1;

static int print_event(struct nl_msg *msg, void *arg)
{
	uint8_t cmd = genlmsg_hdr(nlmsg_hdr(msg))->cmd;
	struct nlattr *tb[VIOMMU_SHADOW_A_MAX + 1];
	const char *name = event_name(cmd);

	if (!name || parse(msg, tb) < 0)
		return NL_SKIP;
	out_begin(name);
	if (timestamps)
		out_time();
	switch (cmd) {
	case VIOMMU_SHADOW_NL_CMD_CTX_NEW:
	case VIOMMU_SHADOW_NL_CMD_CTX_DEL:
		out_ctx(msg, tb);
		break;
	case VIOMMU_SHADOW_NL_CMD_CLAMPED:
		out_u64("ctx", get_u32(tb, VIOMMU_SHADOW_A_CTX_ID));
		out_hex("start", get_u64(tb, VIOMMU_SHADOW_A_START));
		out_hex("last", get_u64(tb, VIOMMU_SHADOW_A_LAST));
		out_hex("clamped-last",
			get_u64(tb, VIOMMU_SHADOW_A_CLAMPED_LAST));
		break;
	case VIOMMU_SHADOW_NL_CMD_BISECT_REFUSED:
		out_u64("ctx", get_u32(tb, VIOMMU_SHADOW_A_CTX_ID));
		out_hex("start", get_u64(tb, VIOMMU_SHADOW_A_START));
		out_hex("last", get_u64(tb, VIOMMU_SHADOW_A_LAST));
		break;
	case VIOMMU_SHADOW_NL_CMD_BACKEND_ERROR:
		out_u64("ctx", get_u32(tb, VIOMMU_SHADOW_A_CTX_ID));
		out_str("op", op_name(get_u32(tb, VIOMMU_SHADOW_A_OP)));
		out_hex("iova", get_u64(tb, VIOMMU_SHADOW_A_IOVA));
		out_hex("length", get_u64(tb, VIOMMU_SHADOW_A_LENGTH));
		if (tb[VIOMMU_SHADOW_A_ERRNO]) {
			out_u64("errno", get_u32(tb, VIOMMU_SHADOW_A_ERRNO));
			out_str("error",
				strerror(get_u32(tb, VIOMMU_SHADOW_A_ERRNO)));
		}
		if (tb[VIOMMU_SHADOW_A_OUTCOME])
			out_str("outcome",
				outcome_name(get_u32(tb, VIOMMU_SHADOW_A_OUTCOME)));
		break;
	case VIOMMU_SHADOW_NL_CMD_CTX_BROKEN:
		out_u64("ctx", get_u32(tb, VIOMMU_SHADOW_A_CTX_ID));
		out_str("reason", tb[VIOMMU_SHADOW_A_REASON] ?
			nla_get_string(tb[VIOMMU_SHADOW_A_REASON]) : "");
		break;
	case VIOMMU_SHADOW_NL_CMD_EVENTS_DROPPED:
		/* Events were lost: what was shown may be stale. */
		out_u64("dropped", get_u64(tb, VIOMMU_SHADOW_A_DROPPED));
		out_str("hint", "events were dropped: run vshadowctl show again");
		break;
	}
	out_end();
	fflush(stdout);
	if (events_left > 0 && !--events_left)
		stop = 1;
	return NL_OK;
}

static void on_signal(int sig)
{
	stop = 1;
}

static int cmd_monitor(struct nl_sock *sk, long count)
{
	struct sigaction sa = { .sa_handler = on_signal };
	int grp, ret;

	grp = genl_ctrl_resolve_grp(sk, VIOMMU_SHADOW_GENL_NAME,
				    VIOMMU_SHADOW_MCGRP_EVENTS);
	if (grp < 0)
		return nl_fail("monitor", grp);
	ret = nl_socket_add_membership(sk, grp);
	if (ret < 0)
		return nl_fail("monitor", ret);
	/* Ready: tests wait for this line before they make events. */
	fprintf(stderr, "%s: listening\n", prog);
	events_left = count;
	nl_socket_disable_seq_check(sk);
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, print_event, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!stop) {
		ret = nl_recvmsgs_default(sk);
		if (ret == -NLE_INTR)
			continue;
		if (ret == -NLE_NOMEM) {
			/* ENOBUFS: the socket overflowed, events were lost */
			err("monitor: events were lost (receive buffer full)");
			continue;
		}
		if (ret < 0)
			return nl_fail("monitor", ret);
	}
	return EXIT_OK;
}

/* A context id: a decimal number from 1 up. */
static int parse_ctx(const char *s, uint32_t *ctx)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || !v || v > UINT32_MAX || *s == '-') {
		err("'%s' is not a context id (a number from 1 up)", s);
		return -1;
	}
	*ctx = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'c' },
		{ "timestamp", no_argument, NULL, 't' },
		{ "pid", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	enum out_format format = OUT_TEXT;
	struct nl_sock *sk;
	const char *cmd;
	uint32_t ctx = 0;
	long count = -1, pid;
	int opt, ret, one = 1;
	char *end;

	opterr = 0;	/* its messages are said below, precisely */
	while ((opt = getopt_long(argc, argv, "jpc:tP:hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			if (format == OUT_TEXT)
				format = OUT_JSON;
			break;
		case 'p':
			format = OUT_JSON_PRETTY;
			break;
		case 't':
			timestamps = true;
			break;
		case 'P':
			pid = strtol(optarg, &end, 10);
			if (*end || end == optarg || pid < 1 || pid > INT32_MAX) {
				err("--pid needs a process id");
				return EXIT_USAGE;
			}
			pid_filter = pid;
			break;
		case 'c':
			count = strtol(optarg, &end, 10);
			if (*end || end == optarg || count < 1) {
				err("--count needs a number from 1 up");
				return EXIT_USAGE;
			}
			break;
		case 'h':
			print_usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("%s %s (netlink family %s version %d)\n", prog,
			       VSHADOW_VERSION, VIOMMU_SHADOW_GENL_NAME,
			       VIOMMU_SHADOW_GENL_VERSION);
			return EXIT_OK;
		default:
			/* "show -1": getopt took the id for an option */
			if (optopt >= '0' && optopt <= '9')
				err("'-%c...' is not a context id (a number from 1 up)",
				    optopt);
			else
				err("bad option, or one without its value: '%s' (try --help)",
				    argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	out_init(format);
	if (optind >= argc) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind++];
	if (strcmp(cmd, "show") && strcmp(cmd, "mappings") &&
	    strcmp(cmd, "stats") && strcmp(cmd, "monitor")) {
		err("unknown command '%s' (try --help)", cmd);
		return EXIT_USAGE;
	}
	if (!strcmp(cmd, "mappings") && optind == argc) {
		err("mappings needs a context id");
		return EXIT_USAGE;
	}
	if ((!strcmp(cmd, "show") || !strcmp(cmd, "mappings")) &&
	    optind < argc && parse_ctx(argv[optind++], &ctx))
		return EXIT_USAGE;
	if (optind < argc) {
		err("%s: unexpected argument '%s' (try --help)", cmd,
		    argv[optind]);
		return EXIT_USAGE;
	}
	if ((count > 0 || timestamps) && strcmp(cmd, "monitor")) {
		err("--count and --timestamp are for monitor");
		return EXIT_USAGE;
	}
	if (pid_filter && strcmp(cmd, "show")) {
		err("--pid is for show");
		return EXIT_USAGE;
	}

	sk = nl_socket_alloc();
	if (!sk) {
		err("out of memory");
		return EXIT_ERROR;
	}
	ret = genl_connect(sk);
	if (ret < 0) {
		ret = nl_fail("cannot open a generic netlink socket", ret);
		goto out;
	}
	/*
	 * Errors come with the kernel's message (NETLINK_EXT_ACK; libnl 3.7
	 * has no call for it).  A kernel without it (before 4.12) refuses
	 * the option, and its errors come without words.
	 */
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK, &one,
		   sizeof(one));
	nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, on_error, NULL);
	family = genl_ctrl_resolve(sk, VIOMMU_SHADOW_GENL_NAME);
	if (family < 0) {
		if (family == -NLE_OBJ_NOTFOUND && !access(SYS_MODULE, F_OK)) {
			/* sysfs is not per network namespace; the family is */
			err("%s", OTHER_NETNS);
			ret = EXIT_NOT_LOADED;
		} else if (family == -NLE_OBJ_NOTFOUND) {
			err("the viommu_shadow module is not loaded (modprobe viommu_shadow)");
			ret = EXIT_NOT_LOADED;
		} else {
			ret = nl_fail("cannot find the viommu_shadow netlink family",
				      family);
		}
		goto out;
	}

	if (!strcmp(cmd, "show"))
		ret = cmd_dump(sk, "show", VIOMMU_SHADOW_NL_CMD_CTX_GET, !ctx,
			       ctx, out_ctx);
	else if (!strcmp(cmd, "mappings"))
		ret = cmd_dump(sk, "mappings", VIOMMU_SHADOW_NL_CMD_MAPPING_GET,
			       true, ctx, out_mapping);
	else if (!strcmp(cmd, "stats"))
		ret = cmd_stats(sk);
	else
		ret = cmd_monitor(sk, count);
out:
	nl_socket_free(sk);
	return ret;
}
