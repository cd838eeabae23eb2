// SPDX-License-Identifier: GPL-2.0
/*
 * The viommu_shadow generic netlink family and vshadowctl, in the test VM:
 * dumps that match GET_INFO and the real mappings, dump consistency
 * (NLM_F_DUMP_INTR), each event kind, the admin-only rule, and
 * vshadowctl's text, JSON and exit codes (its static build is in /bin).
 *
 * Variants: "mock" (the test-only backend: 65535 mappings dump quickly,
 * and its fault injection makes backend errors), "type1" (an edu device's
 * VFIO container).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>
#include <linux/viommu_shadow.h>
#include "mock_test.h"

#include "kselftest_harness.h"
#include "vshadow_utils.h"
#include "vshadow_fixtures.h"

#define VSHADOWCTL	"/bin/vshadowctl"

/* Generic netlink, as a test uses it: a socket on our family. */
struct gnl {
	struct nl_sock *sk;
	int family;
};

static int gn_open(struct gnl *nl)
{
	struct timeval tv = { .tv_sec = 10 };

	nl->sk = nl_socket_alloc();
	if (!nl->sk || genl_connect(nl->sk))
		return -1;
	nl->family = genl_ctrl_resolve(nl->sk, VIOMMU_SHADOW_GENL_NAME);
	/* A missing event fails the test instead of hanging it. */
	setsockopt(nl_socket_get_fd(nl->sk), SOL_SOCKET, SO_RCVTIMEO, &tv,
		   sizeof(tv));
	return nl->family < 0 ? -1 : 0;
}

static void gn_close(struct gnl *nl)
{
	nl_socket_free(nl->sk);
}

/* The messages one request gets back, each parsed. */
#define NL_MAX_MSGS	70000

struct nl_reply {
	struct nlattr **tb;	/* NL_MAX_MSGS arrays of A_MAX + 1 */
	struct nl_msg **msgs;
	uint8_t *cmd;
	int nr;
	bool interrupted;
	int done_errno;
};

/* A dump's end may carry an error (one met after the first part). */
static int reply_done(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nl_reply *r = arg;

	if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int)) &&
	    *(int *)nlmsg_data(h) < 0)
		r->done_errno = -*(int *)nlmsg_data(h);
	return NL_STOP;
}

static int reply_add(struct nl_msg *msg, void *arg)
{
	struct nl_reply *r = arg;

	if (r->nr == NL_MAX_MSGS)
		return NL_STOP;
	if (genlmsg_parse(nlmsg_hdr(msg), 0,
			  &r->tb[r->nr * (VIOMMU_SHADOW_A_MAX + 1)],
			  VIOMMU_SHADOW_A_MAX, NULL))
		return NL_STOP;
	if (nlmsg_hdr(msg)->nlmsg_flags & NLM_F_DUMP_INTR)
		r->interrupted = true;
	nlmsg_get(msg);
	r->cmd[r->nr] = genlmsg_hdr(nlmsg_hdr(msg))->cmd;
	r->msgs[r->nr++] = msg;
	return NL_OK;
}

static void reply_init(struct nl_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->tb = calloc((size_t)NL_MAX_MSGS * (VIOMMU_SHADOW_A_MAX + 1),
		       sizeof(*r->tb));
	r->msgs = calloc(NL_MAX_MSGS, sizeof(*r->msgs));
	r->cmd = calloc(NL_MAX_MSGS, 1);
}

static void reply_free(struct nl_reply *r)
{
	while (r->nr)
		nlmsg_free(r->msgs[--r->nr]);
	free(r->tb);
	free(r->msgs);
	free(r->cmd);
}

static struct nlattr **reply_tb(struct nl_reply *r, int i)
{
	return &r->tb[i * (VIOMMU_SHADOW_A_MAX + 1)];
}

/* Send @cmd with the id @ctx (0: none), and @bogus attribute if not 0. */
static int gn_send(struct gnl *nl, uint8_t cmd, int flags, uint32_t ctx,
		   int bogus)
{
	struct nl_msg *msg = nlmsg_alloc();
	int ret;

	if (!msg || !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0,
				 flags, cmd, VIOMMU_SHADOW_GENL_VERSION))
		return -NLE_NOMEM;
	if (ctx)
		nla_put_u32(msg, VIOMMU_SHADOW_A_CTX_ID, ctx);
	if (bogus)
		nla_put_u64(msg, bogus, 1);
	ret = nl_send_auto(nl->sk, msg);
	nlmsg_free(msg);
	return ret < 0 ? ret : 0;
}

/* The answer to what gn_send() sent: 0 or a negative libnl error. */
static int gn_receive(struct gnl *nl, struct nl_reply *r)
{
	int ret;

	nl_socket_modify_cb(nl->sk, NL_CB_VALID, NL_CB_CUSTOM, reply_add, r);
	nl_socket_modify_cb(nl->sk, NL_CB_FINISH, NL_CB_CUSTOM, reply_done, r);
	r->done_errno = 0;
	ret = nl_recvmsgs_default(nl->sk);
	if (ret == -NLE_DUMP_INTR) {
		r->interrupted = true;
		ret = 0;
	}
	if (!ret && r->done_errno)
		ret = -nl_syserr2nlerr(r->done_errno);
	return ret < 0 ? ret : 0;
}

static int gn_request(struct gnl *nl, uint8_t cmd, int flags, uint32_t ctx,
		      struct nl_reply *r)
{
	int ret = gn_send(nl, cmd, flags, ctx, 0);

	return ret ? ret : gn_receive(nl, r);
}

static uint64_t a64(struct nlattr **tb, int attr)
{
	return tb[attr] ? nla_get_u64(tb[attr]) : UINT64_MAX;
}

static uint32_t a32(struct nlattr **tb, int attr)
{
	return tb[attr] ? nla_get_u32(tb[attr]) : UINT32_MAX;
}

/*
 * This process's context on container fd @fd: its id, found in a dump
 * of all contexts by owner and container fd; 0 if none.
 */
static uint32_t find_ctx(struct gnl *nl, int fd)
{
	struct nl_reply r;
	uint32_t id = 0;
	int i;

	reply_init(&r);
	if (!gn_request(nl, VIOMMU_SHADOW_NL_CMD_CTX_GET, NLM_F_DUMP, 0, &r))
		for (i = 0; i < r.nr; i++) {
			struct nlattr **tb = reply_tb(&r, i);

			if (a32(tb, VIOMMU_SHADOW_A_PID) == (uint32_t)getpid() &&
			    a32(tb, VIOMMU_SHADOW_A_CONTAINER_FD) == (uint32_t)fd)
				id = a32(tb, VIOMMU_SHADOW_A_CTX_ID);
		}
	reply_free(&r);
	return id;
}

FIXTURE(nl) {
	struct vs_backend b;
	struct gnl nl;
	int ctx;
	uint32_t id;
	uint8_t *page;
};

FIXTURE_VARIANT(nl) {
	uint32_t kind;
	uint32_t nr_dump;	/* mappings of the big dump */
};

FIXTURE_VARIANT_ADD(nl, mock) {
	.kind = VSHADOW_MOCK_BACKEND,
	.nr_dump = 65535,
};

FIXTURE_VARIANT_ADD(nl, type1) {
	.kind = VIOMMU_SHADOW_BACKEND_VFIO_TYPE1,
	.nr_dump = 2048,
};

FIXTURE_SETUP(nl)
{
	vs_backend_open(_metadata, &self->b, variant->kind);
	self->ctx = vs_open();
	ASSERT_LE(0, self->ctx);
	ASSERT_EQ(0, vs_backend_attach(_metadata, self->ctx, &self->b));
	ASSERT_EQ(0, gn_open(&self->nl));
	self->id = find_ctx(&self->nl, self->b.fd);
	ASSERT_NE(0, self->id);
	self->page = mmap(NULL, 4 * PAGE_4K, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->page);
}

FIXTURE_TEARDOWN(nl)
{
	gn_close(&self->nl);
	close(self->ctx);
	vs_backend_drain(&self->b);
	vs_backend_close(&self->b);
	munmap(self->page, 4 * PAGE_4K);
}

/* An UNMAP_RANGE of [@start, @last] with room for 16 records. */
static struct viommu_shadow_unmap_record recs[16];

static struct viommu_shadow_unmap_range range(uint64_t start, uint64_t last)
{
	return vs_range(start, last, 0, recs, 16);
}

/* The context's message equals GET_INFO, and a do equals the dump. */
TEST_F(nl, ctx_matches_info)
{
	struct viommu_shadow_unmap_range u;
	struct viommu_shadow_info info;
	struct nl_reply r;
	struct nlattr **tb;
	char comm[32] = "";
	FILE *f;

	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G, PAGE_4K, self->page, 7));
	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G + 2 * PAGE_4K, 2 * PAGE_4K,
			     self->page, 8));
	/* a bisect refusal and a clamp (to nothing), for the counters */
	u = range(SZ_1G + 2 * PAGE_4K, SZ_1G + 2 * PAGE_4K);
	EXPECT_EQ(EINVAL, _vs_unmap(self->ctx, &u));
	u = range(SZ_1G + 4 * PAGE_4K, UINT64_MAX);
	EXPECT_EQ(0, _vs_unmap(self->ctx, &u));
	ASSERT_EQ(0, _vs_info(self->ctx, &info));

	reply_init(&r);
	ASSERT_EQ(0, gn_request(&self->nl, VIOMMU_SHADOW_NL_CMD_CTX_GET, 0,
				self->id, &r));
	ASSERT_EQ(1, r.nr);
	tb = reply_tb(&r, 0);
	EXPECT_EQ(VIOMMU_SHADOW_NL_CMD_CTX_GET, r.cmd[0]);
	EXPECT_EQ(self->id, a32(tb, VIOMMU_SHADOW_A_CTX_ID));
	EXPECT_EQ(info.backend, a32(tb, VIOMMU_SHADOW_A_BACKEND));
	EXPECT_EQ(getpid(), a32(tb, VIOMMU_SHADOW_A_PID));
	f = fopen("/proc/self/comm", "r");
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = 0;
	ASSERT_NE(NULL, tb[VIOMMU_SHADOW_A_COMM]);
	EXPECT_STREQ(comm, nla_get_string(tb[VIOMMU_SHADOW_A_COMM]));
	EXPECT_EQ(self->b.fd, a32(tb, VIOMMU_SHADOW_A_CONTAINER_FD));
	EXPECT_EQ(self->b.id, a32(tb, VIOMMU_SHADOW_A_BACKEND_ID));
	EXPECT_NE(UINT64_MAX, a64(tb, VIOMMU_SHADOW_A_CONTAINER_ID));
	EXPECT_EQ(info.pgsize, a64(tb, VIOMMU_SHADOW_A_PGSIZE));
	EXPECT_EQ(2, info.nr_mappings);
	EXPECT_EQ(info.nr_mappings, a64(tb, VIOMMU_SHADOW_A_NR_MAPPINGS));
	EXPECT_EQ(info.mapped_bytes, a64(tb, VIOMMU_SHADOW_A_MAPPED_BYTES));
	EXPECT_EQ(info.high_water, a64(tb, VIOMMU_SHADOW_A_HIGH_WATER));
	EXPECT_EQ(info.nr_mappings + info.mappings_avail,
		  a64(tb, VIOMMU_SHADOW_A_MAX_MAPPINGS));
	EXPECT_EQ(info.nr_maps, a64(tb, VIOMMU_SHADOW_A_NR_MAPS));
	EXPECT_EQ(info.nr_unmaps, a64(tb, VIOMMU_SHADOW_A_NR_UNMAPS));
	EXPECT_EQ(1, info.nr_clamped);
	EXPECT_EQ(info.nr_clamped, a64(tb, VIOMMU_SHADOW_A_NR_CLAMPED));
	EXPECT_EQ(1, info.nr_bisect_refused);
	EXPECT_EQ(info.nr_bisect_refused,
		  a64(tb, VIOMMU_SHADOW_A_NR_BISECT_REFUSED));
	EXPECT_EQ(NULL, tb[VIOMMU_SHADOW_A_BROKEN]);
	reply_free(&r);
}

/* An unattached context shows no owner; ids are distinct. */
TEST_F(nl, unattached_ctx)
{
	int ctx2 = vs_open();
	struct nl_reply r;
	int i, seen = 0;

	ASSERT_LE(0, ctx2);
	reply_init(&r);
	ASSERT_EQ(0, gn_request(&self->nl, VIOMMU_SHADOW_NL_CMD_CTX_GET,
				NLM_F_DUMP, 0, &r));
	ASSERT_LE(2, r.nr);
	for (i = 0; i < r.nr; i++) {
		struct nlattr **tb = reply_tb(&r, i);

		if (i)
			EXPECT_LT(a32(reply_tb(&r, i - 1),
				      VIOMMU_SHADOW_A_CTX_ID),
				  a32(tb, VIOMMU_SHADOW_A_CTX_ID));
		if (a32(tb, VIOMMU_SHADOW_A_CTX_ID) == self->id)
			continue;
		if (a32(tb, VIOMMU_SHADOW_A_BACKEND) !=
		    VIOMMU_SHADOW_BACKEND_NONE)
			continue;
		seen++;
		EXPECT_EQ(NULL, tb[VIOMMU_SHADOW_A_PID]);
		EXPECT_EQ(NULL, tb[VIOMMU_SHADOW_A_COMM]);
		EXPECT_EQ(0, a64(tb, VIOMMU_SHADOW_A_NR_MAPPINGS));
	}
	EXPECT_EQ(1, seen);
	reply_free(&r);
	close(ctx2);
}

/* Requests: strict attributes, clear errors. */
TEST_F(nl, bad_requests)
{
	struct nl_reply r;

	reply_init(&r);
	/* id 0 is below the policy's minimum */
	EXPECT_EQ(0, gn_send(&self->nl, VIOMMU_SHADOW_NL_CMD_CTX_GET, 0, 0,
			     0));
	EXPECT_EQ(-NLE_INVAL, gn_receive(&self->nl, &r));
	/* a do without an id, an id nobody has */
	EXPECT_EQ(-NLE_INVAL, gn_request(&self->nl,
					 VIOMMU_SHADOW_NL_CMD_CTX_GET, 0, 0,
					 &r));
	EXPECT_EQ(-NLE_OBJ_NOTFOUND,
		  gn_request(&self->nl, VIOMMU_SHADOW_NL_CMD_CTX_GET, 0,
			     0x7ffffff0, &r));
	EXPECT_EQ(-NLE_OBJ_NOTFOUND,
		  gn_request(&self->nl, VIOMMU_SHADOW_NL_CMD_MAPPING_GET,
			     NLM_F_DUMP, 0x7ffffff0, &r));
	/* a context dump is of all: with an id it is refused */
	EXPECT_EQ(-NLE_INVAL,
		  gn_request(&self->nl, VIOMMU_SHADOW_NL_CMD_CTX_GET,
			     NLM_F_DUMP, self->id, &r));
	/* a mapping dump without an id */
	EXPECT_EQ(-NLE_INVAL,
		  gn_request(&self->nl, VIOMMU_SHADOW_NL_CMD_MAPPING_GET,
			     NLM_F_DUMP, 0, &r));
	/* an attribute requests do not take, a known and an unknown one */
	EXPECT_EQ(0, gn_send(&self->nl, VIOMMU_SHADOW_NL_CMD_CTX_GET, 0,
			     self->id, VIOMMU_SHADOW_A_IOVA));
	EXPECT_EQ(-NLE_INVAL, gn_receive(&self->nl, &r));
	EXPECT_EQ(0, gn_send(&self->nl, VIOMMU_SHADOW_NL_CMD_CTX_GET, 0,
			     self->id, VIOMMU_SHADOW_A_MAX + 1));
	EXPECT_EQ(-NLE_INVAL, gn_receive(&self->nl, &r));
	/* events are not requests; MAPPING_GET is a dump only */
	EXPECT_EQ(-NLE_OPNOTSUPP,
		  gn_request(&self->nl, VIOMMU_SHADOW_NL_CMD_CTX_NEW, 0,
			     self->id, &r));
	EXPECT_EQ(-NLE_OPNOTSUPP,
		  gn_request(&self->nl, VIOMMU_SHADOW_NL_CMD_MAPPING_GET, 0,
			     self->id, &r));
	EXPECT_EQ(0, r.nr);
	reply_free(&r);
}

/* Every mapping, in IOVA order, with its cookie; the last at the top. */
TEST_F(nl, mappings_dump_complete)
{
	uint32_t n = variant->nr_dump, i;
	struct viommu_shadow_info info;
	struct nl_reply r;

	ASSERT_EQ(0, vs_map_many(self->ctx, SZ_1G, n, self->page));
	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	ASSERT_EQ(n, info.nr_mappings);

	reply_init(&r);
	ASSERT_EQ(0, gn_request(&self->nl, VIOMMU_SHADOW_NL_CMD_MAPPING_GET,
				NLM_F_DUMP, self->id, &r));
	EXPECT_FALSE(r.interrupted);
	ASSERT_EQ(n, r.nr);
	for (i = 0; i < n; i++) {
		struct nlattr **tb = reply_tb(&r, i);

		if (a64(tb, VIOMMU_SHADOW_A_IOVA) != SZ_1G + i * PAGE_4K ||
		    a64(tb, VIOMMU_SHADOW_A_LENGTH) != PAGE_4K ||
		    a64(tb, VIOMMU_SHADOW_A_COOKIE) != i ||
		    a32(tb, VIOMMU_SHADOW_A_CTX_ID) != self->id) {
			TH_LOG("mapping %u: iova 0x%llx length 0x%llx cookie %llu",
			       i,
			       (unsigned long long)a64(tb, VIOMMU_SHADOW_A_IOVA),
			       (unsigned long long)a64(tb, VIOMMU_SHADOW_A_LENGTH),
			       (unsigned long long)a64(tb, VIOMMU_SHADOW_A_COOKIE));
			ASSERT_TRUE(false);
		}
	}
	reply_free(&r);
}

/* A mapping ending at ~0 ends the dump (no IOVA after it). */
TEST_F(nl, mapping_at_the_top)
{
	struct viommu_shadow_info info;
	struct nl_reply r;

	ASSERT_EQ(0, _vs_info(self->ctx, &info));
	if (variant->kind != VSHADOW_MOCK_BACKEND)
		SKIP(return, "only the mock maps up to ~0");
	ASSERT_EQ(0, _vs_map(self->ctx, 0, PAGE_4K, self->page, 1));
	ASSERT_EQ(0, _vs_map(self->ctx, -PAGE_4K, PAGE_4K, self->page, 2));
	reply_init(&r);
	ASSERT_EQ(0, gn_request(&self->nl, VIOMMU_SHADOW_NL_CMD_MAPPING_GET,
				NLM_F_DUMP, self->id, &r));
	ASSERT_EQ(2, r.nr);
	EXPECT_EQ(0, a64(reply_tb(&r, 0), VIOMMU_SHADOW_A_IOVA));
	EXPECT_EQ(-PAGE_4K, a64(reply_tb(&r, 1), VIOMMU_SHADOW_A_IOVA));
	EXPECT_EQ(2, a64(reply_tb(&r, 1), VIOMMU_SHADOW_A_COOKIE));
	reply_free(&r);
}

/*
 * The first part of a dump is made when it is asked for, the rest as it
 * is read: a change in between marks the dump interrupted; none, not.
 * Closing the context in between does too.
 */
TEST_F(nl, dump_racing_changes)
{
	struct viommu_shadow_unmap_range u = range(SZ_1G + 4000 * PAGE_4K,
						   SZ_1G + 4000 * PAGE_4K +
						   PAGE_4K - 1);
	struct nl_reply r;

	ASSERT_EQ(0, vs_map_many(self->ctx, SZ_1G, 4096, self->page));

	reply_init(&r);
	ASSERT_EQ(0, gn_request(&self->nl, VIOMMU_SHADOW_NL_CMD_MAPPING_GET,
				NLM_F_DUMP, self->id, &r));
	EXPECT_FALSE(r.interrupted);
	EXPECT_EQ(4096, r.nr);
	reply_free(&r);

	reply_init(&r);
	ASSERT_EQ(0, gn_send(&self->nl, VIOMMU_SHADOW_NL_CMD_MAPPING_GET,
			     NLM_F_DUMP, self->id, 0));
	ASSERT_EQ(0, _vs_unmap(self->ctx, &u));
	ASSERT_EQ(0, gn_receive(&self->nl, &r));
	EXPECT_TRUE(r.interrupted);
	EXPECT_EQ(4095, r.nr);
	reply_free(&r);

	/* the context closed in between */
	reply_init(&r);
	ASSERT_EQ(0, gn_send(&self->nl, VIOMMU_SHADOW_NL_CMD_MAPPING_GET,
			     NLM_F_DUMP, self->id, 0));
	close(self->ctx);
	self->ctx = vs_open();
	ASSERT_EQ(0, gn_receive(&self->nl, &r));
	EXPECT_TRUE(r.interrupted);
	EXPECT_GT(4095, r.nr);
	reply_free(&r);
}

/* The highest context id open now, 0 if none. */
static uint32_t last_id(struct gnl *nl)
{
	struct nl_reply r;
	uint32_t id = 0;

	reply_init(&r);
	if (!gn_request(nl, VIOMMU_SHADOW_NL_CMD_CTX_GET, NLM_F_DUMP, 0, &r) &&
	    r.nr)
		id = a32(reply_tb(&r, r.nr - 1), VIOMMU_SHADOW_A_CTX_ID);
	reply_free(&r);
	return id;
}

/*
 * An id is not given again at once: a tool that keeps one does not find
 * another context under it.  A mapping dump of a context that closed
 * before its first part fails with ENOENT.
 */
TEST_F(nl, ids_go_round)
{
	uint32_t a, b;
	int ctx;

	ctx = vs_open();
	ASSERT_LE(0, ctx);
	a = last_id(&self->nl);
	close(ctx);
	ctx = vs_open();
	ASSERT_LE(0, ctx);
	b = last_id(&self->nl);
	close(ctx);
	EXPECT_LT(self->id, a);
	EXPECT_LT(a, b);
	EXPECT_EQ(self->id, last_id(&self->nl));

	/* requested while open, closed before the first part is made */
	ctx = vs_open();
	ASSERT_LE(0, ctx);
	a = last_id(&self->nl);
	close(ctx);
	EXPECT_EQ(-NLE_OBJ_NOTFOUND, ({
		struct nl_reply r;
		int ret;

		reply_init(&r);
		ret = gn_request(&self->nl, VIOMMU_SHADOW_NL_CMD_MAPPING_GET,
				 NLM_F_DUMP, a, &r);
		reply_free(&r);
		ret;
	}));
}

/*
 * The owner's pid is only shown while the owner lives: here a child
 * attaches a context it inherited and exits, and the parent keeps it.
 */
TEST_F(nl, owner_gone)
{
	struct nl_reply r;
	int ctx, status;
	uint32_t id;
	pid_t pid;

	if (variant->kind != VSHADOW_MOCK_BACKEND)
		SKIP(return, "the mock is enough");
	ctx = vs_open();
	ASSERT_LE(0, ctx);
	id = last_id(&self->nl);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(_vs_attach(ctx, VSHADOW_MOCK_BACKEND, self->b.fd) ? 1 : 0);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status));

	reply_init(&r);
	ASSERT_EQ(0, gn_request(&self->nl, VIOMMU_SHADOW_NL_CMD_CTX_GET, 0, id,
				&r));
	ASSERT_EQ(1, r.nr);
	EXPECT_EQ(VSHADOW_MOCK_BACKEND,
		  a32(reply_tb(&r, 0), VIOMMU_SHADOW_A_BACKEND));
	EXPECT_EQ(NULL, reply_tb(&r, 0)[VIOMMU_SHADOW_A_PID]);
	EXPECT_NE(NULL, reply_tb(&r, 0)[VIOMMU_SHADOW_A_COMM]);
	reply_free(&r);
	close(ctx);
}

/* Wait for an event of @cmd (others pass), parsed into @r's last entry. */
static struct nlattr **wait_event(struct gnl *nl, struct nl_reply *r,
				  uint8_t cmd)
{
	int tries;

	for (tries = 0; tries < 64; tries++) {
		int before = r->nr;

		if (nl_recvmsgs_default(nl->sk) < 0)
			return NULL;
		if (r->nr > before && r->cmd[r->nr - 1] == cmd)
			return reply_tb(r, r->nr - 1);
	}
	return NULL;
}

/* Each event kind arrives, with its attributes. */
TEST_F(nl, events)
{
	struct viommu_shadow_unmap_range u;
	struct viommu_shadow_info info;
	struct nlattr **tb;
	struct gnl ev;
	struct nl_reply r;
	uint32_t id;
	int grp, ctx, mock;

	ASSERT_EQ(0, gn_open(&ev));
	grp = genl_ctrl_resolve_grp(ev.sk, VIOMMU_SHADOW_GENL_NAME,
				    VIOMMU_SHADOW_MCGRP_EVENTS);
	ASSERT_LE(0, grp);
	ASSERT_EQ(0, nl_socket_add_membership(ev.sk, grp));
	nl_socket_disable_seq_check(ev.sk);
	reply_init(&r);
	nl_socket_modify_cb(ev.sk, NL_CB_VALID, NL_CB_CUSTOM, reply_add, &r);

	/* a new context, on a backend of its own */
	ctx = vs_open();
	ASSERT_LE(0, ctx);
	mock = open(VS_MOCK_DEV, O_RDWR | O_CLOEXEC);
	if (variant->kind == VSHADOW_MOCK_BACKEND) {
		ASSERT_LE(0, mock);
		ASSERT_EQ(0, _vs_attach(ctx, VSHADOW_MOCK_BACKEND, mock));
	} else {
		close(ctx);
		ctx = self->ctx;
	}
	if (ctx != self->ctx) {
		tb = wait_event(&ev, &r, VIOMMU_SHADOW_NL_CMD_CTX_NEW);
		ASSERT_NE(NULL, tb);
		EXPECT_EQ(getpid(), a32(tb, VIOMMU_SHADOW_A_PID));
		EXPECT_EQ(mock, a32(tb, VIOMMU_SHADOW_A_CONTAINER_FD));
		EXPECT_EQ(VSHADOW_MOCK_BACKEND,
			  a32(tb, VIOMMU_SHADOW_A_BACKEND));
		id = a32(tb, VIOMMU_SHADOW_A_CTX_ID);
		EXPECT_EQ(id, find_ctx(&self->nl, mock));
	} else {
		id = self->id;
	}

	ASSERT_EQ(0, _vs_map(ctx, SZ_1G, 2 * PAGE_4K, self->page, 1));
	u = range(SZ_1G, SZ_1G);
	EXPECT_EQ(EINVAL, _vs_unmap(ctx, &u));
	tb = wait_event(&ev, &r, VIOMMU_SHADOW_NL_CMD_BISECT_REFUSED);
	ASSERT_NE(NULL, tb);
	EXPECT_EQ(id, a32(tb, VIOMMU_SHADOW_A_CTX_ID));
	EXPECT_EQ(SZ_1G, a64(tb, VIOMMU_SHADOW_A_START));
	EXPECT_EQ(SZ_1G, a64(tb, VIOMMU_SHADOW_A_LAST));

	u = range(SZ_1G, UINT64_MAX);
	EXPECT_EQ(0, _vs_unmap(ctx, &u));
	tb = wait_event(&ev, &r, VIOMMU_SHADOW_NL_CMD_CLAMPED);
	ASSERT_NE(NULL, tb);
	EXPECT_EQ(id, a32(tb, VIOMMU_SHADOW_A_CTX_ID));
	EXPECT_EQ(SZ_1G, a64(tb, VIOMMU_SHADOW_A_START));
	EXPECT_EQ(UINT64_MAX, a64(tb, VIOMMU_SHADOW_A_LAST));
	EXPECT_EQ(SZ_1G + 2 * PAGE_4K - 1,
		  a64(tb, VIOMMU_SHADOW_A_CLAMPED_LAST));

	if (variant->kind != VSHADOW_MOCK_BACKEND) {
		/* type1 refuses a range the container already maps */
		ASSERT_EQ(0, t1_map(self->b.fd, 2 * SZ_1G, PAGE_4K,
				    self->page));
		EXPECT_EQ(EEXIST, _vs_map(ctx, 2 * SZ_1G, PAGE_4K,
					  self->page, 2));
		tb = wait_event(&ev, &r, VIOMMU_SHADOW_NL_CMD_BACKEND_ERROR);
		ASSERT_NE(NULL, tb);
		EXPECT_EQ(VIOMMU_SHADOW_OP_MAP, a32(tb, VIOMMU_SHADOW_A_OP));
		EXPECT_EQ(2 * SZ_1G, a64(tb, VIOMMU_SHADOW_A_IOVA));
		EXPECT_EQ(PAGE_4K, a64(tb, VIOMMU_SHADOW_A_LENGTH));
		EXPECT_EQ(EEXIST, a32(tb, VIOMMU_SHADOW_A_ERRNO));
		goto out;
	}

	/* one mapping it still shadows when it closes */
	ASSERT_EQ(0, _vs_map(ctx, 3 * SZ_1G, PAGE_4K, self->page, 3));

	/* the mock refuses a map, then fails one with EIO: it breaks */
	ASSERT_EQ(0, mock_fail_nth(mock, 1, ENOSPC));
	EXPECT_EQ(ENOSPC, _vs_map(ctx, 2 * SZ_1G, PAGE_4K, self->page, 2));
	tb = wait_event(&ev, &r, VIOMMU_SHADOW_NL_CMD_BACKEND_ERROR);
	ASSERT_NE(NULL, tb);
	EXPECT_EQ(VIOMMU_SHADOW_OP_MAP, a32(tb, VIOMMU_SHADOW_A_OP));
	EXPECT_EQ(2 * SZ_1G, a64(tb, VIOMMU_SHADOW_A_IOVA));
	EXPECT_EQ(ENOSPC, a32(tb, VIOMMU_SHADOW_A_ERRNO));
	EXPECT_EQ(NULL, tb[VIOMMU_SHADOW_A_OUTCOME]);

	ASSERT_EQ(0, mock_fail_nth(mock, 1, EIO));
	EXPECT_EQ(EIO, _vs_map(ctx, 2 * SZ_1G, PAGE_4K, self->page, 2));
	tb = wait_event(&ev, &r, VIOMMU_SHADOW_NL_CMD_CTX_BROKEN);
	ASSERT_NE(NULL, tb);
	EXPECT_EQ(id, a32(tb, VIOMMU_SHADOW_A_CTX_ID));
	EXPECT_NE(NULL, tb[VIOMMU_SHADOW_A_REASON]);

	ASSERT_EQ(0, _vs_info(ctx, &info));
	close(ctx);
	tb = wait_event(&ev, &r, VIOMMU_SHADOW_NL_CMD_CTX_DEL);
	ASSERT_NE(NULL, tb);
	EXPECT_EQ(id, a32(tb, VIOMMU_SHADOW_A_CTX_ID));
	EXPECT_EQ(getpid(), a32(tb, VIOMMU_SHADOW_A_PID));
	EXPECT_NE(NULL, tb[VIOMMU_SHADOW_A_BROKEN]);
	/* what it shadowed when it closed */
	EXPECT_EQ(1, info.nr_mappings);
	EXPECT_EQ(info.nr_mappings, a64(tb, VIOMMU_SHADOW_A_NR_MAPPINGS));
	EXPECT_EQ(info.nr_maps, a64(tb, VIOMMU_SHADOW_A_NR_MAPS));
out:
	if (mock >= 0)
		close(mock);
	reply_free(&r);
	gn_close(&ev);
}

/*
 * A VMM cannot flood the administrator with the events it makes at will:
 * at most 100 a second per context.
 */
TEST_F(nl, events_rate_limited)
{
	struct viommu_shadow_unmap_range u = range(SZ_1G, SZ_1G);
	struct timespec t0, t1;
	struct nl_reply r;
	struct gnl ev;
	int grp, i, n = 0;
	double secs;

	ASSERT_EQ(0, gn_open(&ev));
	grp = genl_ctrl_resolve_grp(ev.sk, VIOMMU_SHADOW_GENL_NAME,
				    VIOMMU_SHADOW_MCGRP_EVENTS);
	ASSERT_EQ(0, nl_socket_add_membership(ev.sk, grp));
	nl_socket_disable_seq_check(ev.sk);
	nl_socket_set_buffer_size(ev.sk, 1 << 20, 0);
	reply_init(&r);
	nl_socket_modify_cb(ev.sk, NL_CB_VALID, NL_CB_CUSTOM, reply_add, &r);

	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G, 2 * PAGE_4K, self->page, 1));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 1000; i++)
		ASSERT_EQ(EINVAL, _vs_unmap(self->ctx, &u));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;

	nl_socket_set_nonblocking(ev.sk);
	while (nl_recvmsgs_default(ev.sk) >= 0)
		;
	for (i = 0; i < r.nr; i++)
		n += r.cmd[i] == VIOMMU_SHADOW_NL_CMD_BISECT_REFUSED;
	TH_LOG("1000 refusals in %.2f s: %d events", secs, n);
	EXPECT_LE(100, n);
	EXPECT_GE(100 * ((int)secs + 2), n);
	EXPECT_GT(1000, n);
	reply_free(&r);
	gn_close(&ev);
}

/*
 * A user without privileges floods the events group while root listens
 * (with room for all the budgets let through) and attaches a context of
 * its own in the middle.  The flood is of clamps (an UNMAP_RANGE of
 * everything on an empty context, to a mock container root opened for
 * it), the cheapest event a caller can make, for about two seconds,
 * spread over FLOOD_CTXS contexts so that their budgets (100 a second
 * each) let through more than the user's (256): even the debug kernel
 * under TCG makes them several times faster than that, where a flood of
 * context creations did not (216 events a second there).  The flooder's
 * events are held to its budget, root's event gets through, and an
 * EVENTS_DROPPED notice, about a second after the drops, says how many
 * were dropped: the listener knows its view is stale.
 */
#define FLOOD_CTXS	8

TEST(events_flood_by_a_user)
{
	struct viommu_shadow_unmap_range u;
	int grp, mock, ctx = -1, pfd[2], status, i;
	int flood = 0, mine = 0, notices = 0;
	uint64_t dropped = 0, made = 0;
	struct timespec t0, t1;
	struct nlattr **tb;
	struct nl_reply r;
	struct gnl ev;
	double secs = 0;
	pid_t pid;

	mock = open(VS_MOCK_DEV, O_RDWR | O_CLOEXEC);
	if (mock < 0)
		SKIP(return, "mock backend not loaded");
	ASSERT_EQ(0, gn_open(&ev));
	grp = genl_ctrl_resolve_grp(ev.sk, VIOMMU_SHADOW_GENL_NAME,
				    VIOMMU_SHADOW_MCGRP_EVENTS);
	ASSERT_EQ(0, nl_socket_add_membership(ev.sk, grp));
	nl_socket_disable_seq_check(ev.sk);
	nl_socket_set_nonblocking(ev.sk);
	/* Room for every event the budgets let through: none lost here. */
	ASSERT_EQ(0, setsockopt(nl_socket_get_fd(ev.sk), SOL_SOCKET,
				SO_RCVBUFFORCE, &(int){ 8 << 20 }, sizeof(int)));
	reply_init(&r);
	nl_socket_modify_cb(ev.sk, NL_CB_VALID, NL_CB_CUSTOM, reply_add, &r);
	ASSERT_EQ(0, pipe(pfd));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct viommu_shadow_unmap_record rec;
		int fds[FLOOD_CTXS];

		if (setgid(65534) || setuid(65534))
			_exit(2);
		for (i = 0; i < FLOOD_CTXS; i++) {
			fds[i] = open("/dev/viommu_shadow", O_RDWR);
			if (fds[i] < 0 ||
			    _vs_attach(fds[i], VSHADOW_MOCK_BACKEND, mock))
				_exit(3);
			made++;				/* CTX_NEW */
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			u = vs_range(0, UINT64_MAX, 0, &rec, 1);
			if (_vs_unmap(fds[made % FLOOD_CTXS], &u) ||
			    !(u.out_flags & VIOMMU_SHADOW_UNMAP_OUT_CLAMPED))
				_exit(4);
			made++;				/* CLAMPED */
			clock_gettime(CLOCK_MONOTONIC, &t1);
		} while (t1.tv_sec - t0.tv_sec < 2);
		for (i = 0; i < FLOOD_CTXS; i++, made++)	/* CTX_GONE */
			close(fds[i]);
		if (write(pfd[1], &made, sizeof(made)) != sizeof(made))
			_exit(5);
		_exit(0);
	}
	/* Read as a monitor does, until a second after the flood ended. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		while (nl_recvmsgs_default(ev.sk) >= 0)
			;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		if (ctx < 0 && secs > 0.5) {
			ctx = vs_open();
			ASSERT_EQ(0, _vs_attach(ctx, VSHADOW_MOCK_BACKEND,
						mock));
		}
		if (secs > 5)
			break;
		usleep(10000);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("flooder status %#x", status);
	ASSERT_EQ(sizeof(made), read(pfd[0], &made, sizeof(made)));
	for (i = 0; i < r.nr; i++) {
		tb = reply_tb(&r, i);
		if (r.cmd[i] == VIOMMU_SHADOW_NL_CMD_EVENTS_DROPPED) {
			notices++;
			dropped = a64(tb, VIOMMU_SHADOW_A_DROPPED);
			EXPECT_EQ(NULL, tb[VIOMMU_SHADOW_A_CTX_ID]);
		} else if (r.cmd[i] == VIOMMU_SHADOW_NL_CMD_CLAMPED ||
			   (tb[VIOMMU_SHADOW_A_PID] &&
			    a32(tb, VIOMMU_SHADOW_A_PID) == (uint32_t)pid)) {
			flood++;	/* only the flooder clamps */
		} else if (r.cmd[i] == VIOMMU_SHADOW_NL_CMD_CTX_NEW &&
			   a32(tb, VIOMMU_SHADOW_A_PID) == (uint32_t)getpid()) {
			mine++;
		}
	}
	TH_LOG("%llu events made in about 2 s: %d seen, %d notices, %llu dropped",
	       (unsigned long long)made, flood, notices,
	       (unsigned long long)dropped);
	EXPECT_LT(256 * 4, made);	/* a flood well beyond the budget */
	/* At most four budget windows in the flood's 2 to 3 s. */
	EXPECT_GE(256 * 4, flood);
	/* The count is since load: earlier tests' drops are in it too. */
	EXPECT_LE(made, flood + dropped);
	EXPECT_EQ(1, mine);
	EXPECT_LE(1, notices);
	close(ctx);
	close(mock);
	reply_free(&r);
	gn_close(&ev);
}

/* The line of @text that starts with @prefix, or NULL. */
static const char *line_of(const char *text, const char *prefix)
{
	const char *p = text;
	size_t n = strlen(prefix);

	for (; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, prefix, n))
			return p;
	return NULL;
}

static int count_lines(const char *text, const char *prefix)
{
	const char *p = text;
	size_t n = strlen(prefix);
	int count = 0;

	for (; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		count += !strncmp(p, prefix, n);
	return count;
}

/*
 * The lines of @text that start with @prefix, or -1 if one of them does
 * not contain @needle.
 */
static int lines_all_with(const char *text, const char *prefix,
			  const char *needle)
{
	const char *p = text, *end, *hit;
	int count = 0;

	for (; p && *p; p = end ? end + 1 : NULL) {
		end = strchr(p, '\n');
		if (strncmp(p, prefix, strlen(prefix)))
			continue;
		hit = strstr(p, needle);
		if (!hit || (end && hit > end))
			return -1;
		count++;
	}
	return count;
}

#define CTL_OUT	(4 << 20)

/* vshadowctl's text and JSON, checked against what GET_INFO says. */
TEST_F(nl, vshadowctl_output)
{
	struct viommu_shadow_info info;
	char *out = malloc(CTL_OUT);
	char cmd[128], want[256];
	const char *l;

	ASSERT_NE(NULL, out);
	if (access(VSHADOWCTL, X_OK))
		SKIP(return, "no %s in this guest", VSHADOWCTL);
	ASSERT_EQ(0, vs_map_many(self->ctx, SZ_1G, 100, self->page));
	ASSERT_EQ(0, _vs_info(self->ctx, &info));

	/* show: one line per context, "ctx ID backend NAME pid PID ..." */
	ASSERT_EQ(0, vs_run(VSHADOWCTL " show", out, CTL_OUT, 0));
	snprintf(want, sizeof(want), "ctx %u backend ", self->id);
	l = line_of(out, want);
	ASSERT_NE(NULL, l) TH_LOG("%s", out);
	snprintf(want, sizeof(want), " pid %d comm ", getpid());
	EXPECT_NE(NULL, strstr(l, want));
	snprintf(want, sizeof(want), " fd %d ", self->b.fd);
	EXPECT_NE(NULL, strstr(l, want));
	snprintf(want, sizeof(want), " mappings 100 bytes %llu high-water 0x%llx ",
		 100 * PAGE_4K, (unsigned long long)info.high_water);
	EXPECT_NE(NULL, strstr(l, want)) TH_LOG("%s", l);

	snprintf(cmd, sizeof(cmd), VSHADOWCTL " show %u", self->id);
	ASSERT_EQ(0, vs_run(cmd, out, CTL_OUT, 0));
	EXPECT_EQ(1, count_lines(out, "ctx "));

	/*
	 * JSON: a list of objects, snake_case keys, counters as numbers,
	 * addresses as strings of 16 hex digits
	 */
	snprintf(cmd, sizeof(cmd), VSHADOWCTL " -j show %u", self->id);
	ASSERT_EQ(0, vs_run(cmd, out, CTL_OUT, 0));
	snprintf(want, sizeof(want), "[\n{\"ctx\":%u,\"backend\":", self->id);
	EXPECT_EQ(0, strncmp(out, want, strlen(want))) TH_LOG("%s", out);
	snprintf(want, sizeof(want), ",\"pid\":%d,\"comm\":\"", getpid());
	EXPECT_NE(NULL, strstr(out, want));
	snprintf(want, sizeof(want),
		 ",\"mappings\":100,\"bytes\":%llu,\"high_water\":\"0x%016llx\",",
		 100 * PAGE_4K, (unsigned long long)info.high_water);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, ",\"broken\":false}\n]\n"));

	/* --pid: only the contexts a process attached */
	snprintf(cmd, sizeof(cmd), VSHADOWCTL " -P %d show", getpid());
	ASSERT_EQ(0, vs_run(cmd, out, CTL_OUT, 0));
	snprintf(want, sizeof(want), "ctx %u backend ", self->id);
	EXPECT_NE(NULL, line_of(out, want)) TH_LOG("%s", out);
	snprintf(want, sizeof(want), " pid %d comm ", getpid());
	EXPECT_LE(1, lines_all_with(out, "ctx ", want)) TH_LOG("%s", out);
	ASSERT_EQ(0, vs_run(VSHADOWCTL " -j --pid 1 show", out, CTL_OUT, 0));
	EXPECT_STREQ("[\n]\n", out);
	EXPECT_EQ(2, vs_run(VSHADOWCTL " -P 1 stats", out, CTL_OUT, 0));

	/* mappings: one line each, in IOVA order */
	snprintf(cmd, sizeof(cmd), VSHADOWCTL " mappings %u", self->id);
	ASSERT_EQ(0, vs_run(cmd, out, CTL_OUT, 0));
	EXPECT_EQ(100, count_lines(out, "iova 0x"));
	snprintf(want, sizeof(want), "iova 0x%llx length 0x1000 cookie 0x0\n",
		 SZ_1G);
	EXPECT_EQ(0, strncmp(out, want, strlen(want))) TH_LOG("%s", out);
	snprintf(want, sizeof(want), "iova 0x%llx length 0x1000 cookie 0x63\n",
		 SZ_1G + 99 * PAGE_4K);
	EXPECT_NE(NULL, line_of(out, want));
	snprintf(cmd, sizeof(cmd), VSHADOWCTL " --json mappings %u", self->id);
	ASSERT_EQ(0, vs_run(cmd, out, CTL_OUT, 0));
	EXPECT_EQ(100, count_lines(out, "{\"iova\":"));
	snprintf(want, sizeof(want),
		 "{\"iova\":\"0x%016llx\",\"length\":\"0x%016x\",\"cookie\":\"0x%016x\"}\n]\n",
		 SZ_1G + 99 * PAGE_4K, 4096, 99);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("%s", out);

	/* stats: totals; at least ours */
	ASSERT_EQ(0, vs_run(VSHADOWCTL " -j stats", out, CTL_OUT, 0));
	EXPECT_EQ(0, strncmp(out, "{\"contexts\":", 12)) TH_LOG("%s", out);

	/* exit codes: usage 2, no such context 5 */
	EXPECT_EQ(2, vs_run(VSHADOWCTL " frobnicate", out, CTL_OUT, 0));
	EXPECT_NE(NULL, strstr(out, "unknown command 'frobnicate'"));
	EXPECT_EQ(2, vs_run(VSHADOWCTL " mappings", out, CTL_OUT, 0));
	EXPECT_NE(NULL, strstr(out, "mappings needs a context id"));
	EXPECT_EQ(2, vs_run(VSHADOWCTL " mappings 0", out, CTL_OUT, 0));
	EXPECT_EQ(2, vs_run(VSHADOWCTL " show 3 extra", out, CTL_OUT, 0));
	EXPECT_NE(NULL, strstr(out, "show: unexpected argument 'extra'"))
		TH_LOG("%s", out);
	EXPECT_EQ(2, vs_run(VSHADOWCTL " show -1", out, CTL_OUT, 0));
	EXPECT_NE(NULL, strstr(out, "'-1...' is not a context id"))
		TH_LOG("%s", out);
	EXPECT_EQ(2, vs_run(VSHADOWCTL " stats now", out, CTL_OUT, 0));
	EXPECT_NE(NULL, strstr(out, "stats: unexpected argument 'now'"));
	EXPECT_EQ(5, vs_run(VSHADOWCTL " mappings 2147483000", out, CTL_OUT,
			    0));
	/*
	 * With the kernel's own words (extended ack) for a do request; 6.1's
	 * genetlink drops them for a dump's start, as here.
	 */
	EXPECT_NE(NULL, strstr(out, "mappings: no such context"))
		TH_LOG("%s", out);
	EXPECT_EQ(5, vs_run(VSHADOWCTL " show 2147483000", out, CTL_OUT, 0));
	EXPECT_NE(NULL, strstr(out, "show: no such context (kernel: no context has this id)"))
		TH_LOG("%s", out);
	EXPECT_EQ(0, vs_run(VSHADOWCTL " --help", out, CTL_OUT, 0));
	EXPECT_NE(NULL, strstr(out, "Usage: vshadowctl"));
	free(out);
}

/* monitor: events as JSON lines, then it stops after --count. */
TEST_F(nl, vshadowctl_monitor)
{
	struct viommu_shadow_unmap_range u;
	char out[4096] = "", want[256];
	int pfd[2], status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (access(VSHADOWCTL, X_OK))
		SKIP(return, "no %s in this guest", VSHADOWCTL);
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execl(VSHADOWCTL, "vshadowctl", "-j", "monitor", "-c", "2",
		      (char *)NULL);
		_exit(101);
	}
	close(pfd[1]);
	/* wait until it listens */
	while (!strstr(out, "listening\n") &&
	       (n = read(pfd[0], out + got, sizeof(out) - got - 1)) > 0) {
		got += n;
		out[got] = 0;
	}
	ASSERT_NE(NULL, strstr(out, "vshadowctl: listening\n")) TH_LOG("%s", out);
	got = 0;
	out[0] = 0;

	ASSERT_EQ(0, _vs_map(self->ctx, SZ_1G, 2 * PAGE_4K, self->page, 1));
	u = range(SZ_1G, SZ_1G);
	EXPECT_EQ(EINVAL, _vs_unmap(self->ctx, &u));
	u = range(SZ_1G, UINT64_MAX);
	EXPECT_EQ(0, _vs_unmap(self->ctx, &u));

	while ((n = read(pfd[0], out + got, sizeof(out) - got - 1)) > 0)
		got += n;
	out[got] = 0;
	close(pfd[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	snprintf(want, sizeof(want),
		 "{\"event\":\"bisect-refused\",\"ctx\":%u,\"start\":\"0x%016llx\",\"last\":\"0x%016llx\"}\n",
		 self->id, SZ_1G, SZ_1G);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("%s", out);
	snprintf(want, sizeof(want),
		 "{\"event\":\"clamped\",\"ctx\":%u,\"start\":\"0x%016llx\",\"last\":\"0xffffffffffffffff\",\"clamped_last\":\"0x%016llx\"}\n",
		 self->id, SZ_1G, SZ_1G + 2 * PAGE_4K - 1);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("%s", out);
}

/*
 * A comm is any bytes (prctl(PR_SET_NAME)); JSON is UTF-8: a byte that
 * is not valid UTF-8 comes out as U+FFFD, valid UTF-8 as it is, control
 * characters escaped.
 */
TEST(comm_in_json)
{
	char out[8192];
	int mock, ctx;
	pid_t pid;
	int status;

	if (access(VSHADOWCTL, X_OK))
		SKIP(return, "no %s in this guest", VSHADOWCTL);
	mock = open(VS_MOCK_DEV, O_RDWR | O_CLOEXEC);
	if (mock < 0)
		SKIP(return, "mock backend not loaded");
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (prctl(PR_SET_NAME, "\xff\xc3\xa9\x01x\"", 0, 0, 0))
			_exit(100);
		ctx = open("/dev/viommu_shadow", O_RDWR);
		if (ctx < 0 || _vs_attach(ctx, VSHADOW_MOCK_BACKEND, mock))
			_exit(101);
		if (vs_run(VSHADOWCTL " -j show", out, sizeof(out), 0))
			_exit(102);
		_exit(strstr(out, "\"comm\":\"\xef\xbf\xbd\xc3\xa9\\u0001x\\\"\"") ?
		      0 : 103);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	close(mock);
}

/*
 * The family is the administrator's: an unprivileged user is refused
 * every command and the events group, and vshadowctl says so.
 */
TEST(unprivileged_refused)
{
	char out[1024];
	pid_t pid;
	int status;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct nl_reply r;
		struct gnl nl;
		int grp, ok = 1;

		if (setgid(65534) || setuid(65534))
			_exit(100);
		if (gn_open(&nl))
			_exit(101);
		reply_init(&r);
		ok &= gn_request(&nl, VIOMMU_SHADOW_NL_CMD_CTX_GET, NLM_F_DUMP,
				 0, &r) == -NLE_PERM;
		ok &= gn_request(&nl, VIOMMU_SHADOW_NL_CMD_CTX_GET, 0, 1,
				 &r) == -NLE_PERM;
		ok &= gn_request(&nl, VIOMMU_SHADOW_NL_CMD_MAPPING_GET,
				 NLM_F_DUMP, 1, &r) == -NLE_PERM;
		ok &= r.nr == 0;
		grp = genl_ctrl_resolve_grp(nl.sk, VIOMMU_SHADOW_GENL_NAME,
					    VIOMMU_SHADOW_MCGRP_EVENTS);
		ok &= grp > 0 && nl_socket_add_membership(nl.sk, grp) < 0;
		_exit(ok ? 0 : 102);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));

	if (access(VSHADOWCTL, X_OK))
		SKIP(return, "no %s in this guest", VSHADOWCTL);
	EXPECT_EQ(4, vs_run(VSHADOWCTL " show", out, sizeof(out), 65534));
	EXPECT_NE(NULL, strstr(out, "vshadowctl: show: permission denied:"))
		TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "needs CAP_NET_ADMIN (run as root)"));
	EXPECT_EQ(4, vs_run(VSHADOWCTL " monitor", out, sizeof(out), 65534));
}

/*
 * The family exists in the initial network namespace only: from another
 * one it is not there, and vshadowctl says the module is not loaded
 * (exit 3), as it does when it is not.
 */
TEST(other_netns_sees_nothing)
{
	char out[1024];
	pid_t pid;
	int status;

	if (access(VSHADOWCTL, X_OK))
		SKIP(return, "no %s in this guest", VSHADOWCTL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct gnl nl;

		if (unshare(CLONE_NEWNET))
			_exit(100);
		/* the family cannot be resolved here */
		if (!gn_open(&nl))
			_exit(101);
		/* and it says why: not "load the module", which is */
		_exit(vs_run(VSHADOWCTL " show", out, sizeof(out), 0) == 3 &&
		      strstr(out, "only in the host's initial network namespace") ?
		      0 : 102);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

VS_SKIP_WITHOUT_MODULE();

TEST_HARNESS_MAIN
