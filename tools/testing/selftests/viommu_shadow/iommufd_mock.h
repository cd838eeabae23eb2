/* SPDX-License-Identifier: GPL-2.0 */
/*
 * iommufd_mock.h - set-up on iommufd's mock domain (IOMMUFD_TEST), shared
 * by iommufd_test and vshadow_bench_iommufd.  Include after
 * <linux/iommufd.h> and the kernel's iommufd_test.h.
 */
#ifndef IOMMUFD_MOCK_H
#define IOMMUFD_MOCK_H

#include <errno.h>
#include <sys/ioctl.h>

/* An IOMMU_TEST_CMD; 0 or the errno. */
static inline int mock_cmd(int fd, struct iommu_test_cmd *cmd)
{
	cmd->size = sizeof(*cmd);
	return ioctl(fd, IOMMU_TEST_CMD, cmd) ? errno : 0;
}

/*
 * A mock device on @ioas, moved (MOCK_DOMAIN_REPLACE) to a dirty-tracking
 * HWPT of its own, with tracking on: the HWPT in *@hwpt, the device's
 * selftest id in *@stdev.  Returns 0, or the errno of the step that
 * failed (the mock domain is refused beside an emulated IOMMU).
 */
static inline int mock_dirty_device(int fd, __u32 ioas, __u32 *hwpt,
				    __u32 *stdev)
{
	struct iommu_test_cmd md = { .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = ioas };
	struct iommu_test_cmd rep = { .op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE };
	struct iommu_hwpt_alloc alloc = {
		.size = sizeof(alloc),
		.flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
		.pt_id = ioas,
	};
	struct iommu_hwpt_set_dirty_tracking track = {
		.size = sizeof(track),
		.flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
	};
	int ret;

	ret = mock_cmd(fd, &md);
	if (ret)
		return ret;
	alloc.dev_id = md.mock_domain.out_idev_id;
	if (ioctl(fd, IOMMU_HWPT_ALLOC, &alloc))
		return errno;
	rep.id = md.mock_domain.out_stdev_id;
	rep.mock_domain_replace.pt_id = alloc.out_hwpt_id;
	ret = mock_cmd(fd, &rep);
	if (ret)
		return ret;
	track.hwpt_id = alloc.out_hwpt_id;
	if (ioctl(fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &track))
		return errno;
	*hwpt = alloc.out_hwpt_id;
	*stdev = rep.id;
	return 0;
}

#endif /* IOMMUFD_MOCK_H */
