// SPDX-License-Identifier: GPL-2.0
/*
 * The integration guide's example program
 * (Documentation/userspace-api/examples/vshadow_example.c), run as a VMM
 * author would run it, so that the documentation cannot rot: it must
 * succeed and say what the guide says it says.
 */
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vshadow_utils.h"

#define EXAMPLE	"/bin/vshadow_example"

TEST(example_runs)
{
	static char out[16384];
	char bdf[32];
	int pfd[2], status, group;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (access(EXAMPLE, X_OK))
		SKIP(return, "no %s in this guest", EXAMPLE);
	if (edu_find(0, bdf, sizeof(bdf), &group))
		SKIP(return, "no edu device bound to vfio-pci");
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execl(EXAMPLE, "vshadow_example", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	while (got + 1 < sizeof(out) &&
	       (n = read(pfd[0], out + got, sizeof(out) - got - 1)) > 0)
		got += n;
	out[got] = 0;
	close(pfd[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	TH_LOG("example's output:\n%s", out);
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_NE(NULL, strstr(out, "context: api 1, page size 4096, dirty bits yes\n"));
	EXPECT_NE(NULL, strstr(out, "mapped 16 mappings from IOVA 0x100000000\n"));
	EXPECT_NE(NULL, strstr(out, "last 0xffffffffffffffff clamped to the high-water mark 0x"));
	EXPECT_NE(NULL, strstr(out, "  iova 0x100000000 length 0x1000 cookie"));
	EXPECT_NE(NULL, strstr(out, " 0x80000000: 1 of 1 pages dirty\n"));
	/* every call of the resume loop was clamped: nr_clamped counts calls */
	EXPECT_NE(NULL, strstr(out, "16 mappings unmapped in 4 calls, 40 dirty"));
	EXPECT_NE(NULL, strstr(out, "context: 0 mappings, 16 maps, 16 unmaps, 4 clamped\n"));
}

TEST_HARNESS_MAIN
