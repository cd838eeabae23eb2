// SPDX-License-Identifier: GPL-2.0
/*
 * libvshadow-preload with an unmodified type1 program (type1_unmodified):
 * the seed case (a 16 TB unmap with a dirty bitmap) fails on plain type1
 * and succeeds through the preload library with every dirty bit where
 * type1 would have put it; calls type1 handles by itself give the same
 * results, errnos, sizes and bits with and without it.  In the guest the
 * preload library is linked in statically (-Wl,--wrap=ioctl): the guest
 * has no dynamic loader.
 */
#include <sys/syscall.h>
#include <linux/kcmp.h>

#include "kselftest_harness.h"
#include "vshadow_utils.h"

#define PLAIN	"/bin/type1_unmodified"
#define PRELOAD	"/bin/type1_unmodified_preload"

/* Run @prog @mode; its output in @out, its exit status returned. */
static int run(const char *prog, const char *mode, char *out, size_t len)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "%s %s", prog, mode);
	return vs_run(cmd, out, len, 0);
}

FIXTURE(interpose) {
	char plain[8192];
	char preload[8192];
};

FIXTURE_SETUP(interpose)
{
	char bdf[32];
	int group;

	if (access(PLAIN, X_OK) || access(PRELOAD, X_OK))
		SKIP(return, "the type1_unmodified programs are not in /bin");
	if (edu_find(0, bdf, sizeof(bdf), &group))
		SKIP(return, "no edu device bound to vfio-pci");
}

FIXTURE_TEARDOWN(interpose)
{
}

/* The seed: type1 refuses it; through the preload library it is done. */
TEST_F(interpose, seed_unmap_done)
{
	EXPECT_EQ(2, run(PLAIN, "seed", self->plain, sizeof(self->plain)));
	TH_LOG("plain type1:\n%s", self->plain);
	EXPECT_NE(NULL, strstr(self->plain,
			       "unmap 16 TB with a 512 MB bitmap: FAIL Invalid argument"));

	EXPECT_EQ(0, run(PRELOAD, "seed", self->preload,
			 sizeof(self->preload)));
	TH_LOG("with the preload library:\n%s", self->preload);
	EXPECT_NE(NULL, strstr(self->preload,
			       "unmap 16 TB with a 512 MB bitmap: ok - size 0x100000\n"));
	EXPECT_NE(NULL, strstr(self->preload,
			       "dirty bits at the mappings' offsets: 256 of 256\n"));
}

/* What type1 does by itself comes out the same, line for line. */
TEST_F(interpose, plain_calls_unchanged)
{
	EXPECT_EQ(0, run(PLAIN, "plain", self->plain, sizeof(self->plain)));
	EXPECT_EQ(0, run(PRELOAD, "plain", self->preload,
			 sizeof(self->preload)));
	TH_LOG("plain type1:\n%s", self->plain);
	EXPECT_STREQ(self->plain, self->preload);
	/* and it did exercise what it says */
	EXPECT_NE(NULL, strstr(self->plain, "unmap cutting one: FAIL Invalid argument"));
	EXPECT_NE(NULL, strstr(self->plain, "map over a mapping: FAIL File exists"));
	EXPECT_NE(NULL, strstr(self->plain, "unmap bits: ok - size 0x"));
}

/*
 * The container's fd made to name another container, a dup of a tracked
 * fd, a fork child's calls: the same as type1's, line for line.  (Before
 * the preload library followed the open file: the calls through the
 * reused fd went to the first container's handle, and the child's to a
 * context that refuses other processes.)
 */
TEST_F(interpose, fds_follow_the_file)
{
	int ret, fd = open("/", O_RDONLY);

	/* kcmp() tells open files apart; without it the number is trusted */
	ret = syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, fd, fd);
	close(fd);
	if (ret)
		SKIP(return, "a kernel without kcmp (CHECKPOINT_RESTORE)");
	ret = run(PLAIN, "fds", self->plain, sizeof(self->plain));
	if (ret == 65)
		SKIP(return, "needs a second edu device on vfio-pci");
	EXPECT_EQ(0, ret);
	EXPECT_EQ(0, run(PRELOAD, "fds", self->preload,
			 sizeof(self->preload)));
	TH_LOG("plain type1:\n%s", self->plain);
	EXPECT_STREQ(self->plain, self->preload);
	EXPECT_NE(NULL, strstr(self->plain,
			       "unmap on B's own fd: ok - size 0x1000\n"));
	EXPECT_NE(NULL, strstr(self->plain,
			       "child: unmap on B: ok - size 0x1000\n"));
}

TEST_HARNESS_MAIN
