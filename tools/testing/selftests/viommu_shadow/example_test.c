// SPDX-License-Identifier: GPL-2.0
/*
 * The integration guide's example program
 * (Documentation/userspace-api/examples/vshadow_example.c), run as a VMM
 * author would run it, so that the documentation cannot rot: it must
 * succeed and say what the guide says it says.
 */
#include "kselftest_harness.h"
#include "vshadow_utils.h"

#define EXAMPLE	"/bin/vshadow_example"

TEST(example_runs)
{
	static char out[16384];
	char bdf[32];
	int status, group;

	if (access(EXAMPLE, X_OK))
		SKIP(return, "no %s in this guest", EXAMPLE);
	if (edu_find(0, bdf, sizeof(bdf), &group))
		SKIP(return, "no edu device bound to vfio-pci");
	status = vs_run(EXAMPLE, out, sizeof(out), 0);
	TH_LOG("example's output:\n%s", out);
	EXPECT_EQ(0, status);
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
