// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * IOMMU dirty tracking through iommufd: the IOMMU sets dirty bits in its
 * own page tables for every device attached to the HWPT, and
 * IOMMU_HWPT_GET_DIRTY_BITMAP reads and clears them into the same bit
 * order as DMA logging's REPORT (both go through iova_bitmap).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/ioctl.h>

#include "dirty-iommu.h"
#include "vfio-compat.h"
#include "log.h"
#include "dev.h"
#include "util.h"

static int set_tracking(int iommufd, uint32_t hwpt_id, bool on)
{
	struct iommu_hwpt_set_dirty_tracking set = {
		.size = sizeof(set),
		.flags = on ? IOMMU_HWPT_DIRTY_TRACKING_ENABLE : 0,
		.hwpt_id = hwpt_id,
	};

	return sys_ret(ioctl(iommufd, IOMMU_HWPT_SET_DIRTY_TRACKING, &set));
}

int iommu_track_start(struct vfiomig_dev *dev, int iommufd, uint32_t hwpt_id)
{
	int r = set_tracking(iommufd, hwpt_id, true);

	switch (r) {
	case 0:
		return 0;
	case -ENOTTY:
	case -EBADF:
		return vfiomig_fail(dev->ctx, r, "%s: fd %d is no iommufd with dirty tracking "
				    "(Linux 6.7 or later)", dev->name, iommufd);
	case -ENOENT:
		return vfiomig_fail(dev->ctx, r, "%s: the iommufd has no HWPT %" PRIu32,
				    dev->name, hwpt_id);
	case -EOPNOTSUPP:
	case -EINVAL:
		return vfiomig_fail(dev->ctx, r, "%s: HWPT %" PRIu32 " cannot track dirty pages "
				    "(%s): allocate it with IOMMU_HWPT_ALLOC_DIRTY_TRACKING, on an "
				    "IOMMU that has dirty bits (VT-d SSADS, AMD HD, SMMUv3 HTTU)",
				    dev->name, hwpt_id, strerror(-r));
	default:
		return vfiomig_fail(dev->ctx, r, "%s: IOMMU_HWPT_SET_DIRTY_TRACKING on HWPT %"
				    PRIu32 " failed: %s", dev->name, hwpt_id, strerror(-r));
	}
}

int iommu_track_report(struct vfiomig_dev *dev, int iommufd, uint32_t hwpt_id, uint64_t iova,
		       uint64_t length, uint64_t page_size, uint64_t *bitmap)
{
	struct iommu_hwpt_get_dirty_bitmap get = {
		.size = sizeof(get),
		.hwpt_id = hwpt_id,
		.iova = iova,
		.length = length,
		.page_size = page_size,
		.data = (uint64_t)(uintptr_t)bitmap,
	};
	int r = sys_ret(ioctl(iommufd, IOMMU_HWPT_GET_DIRTY_BITMAP, &get));

	if (r < 0)
		return vfiomig_fail(dev->ctx, r, "%s: IOMMU_HWPT_GET_DIRTY_BITMAP of [0x%" PRIx64
				    ", +0x%" PRIx64 ") on HWPT %" PRIu32 " failed: %s", dev->name,
				    iova, length, hwpt_id, strerror(-r));
	return 0;
}

int iommu_dirty_hwpt_alloc(struct vfiomig_ctx *ctx, const char *name, int iommufd,
			   uint32_t dev_id, uint32_t pt_id, uint32_t *ret_hwpt)
{
	struct iommu_hwpt_alloc alloc = {
		.size = sizeof(alloc),
		.flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
		.dev_id = dev_id,
		.pt_id = pt_id,
	};
	int r = sys_ret(ioctl(iommufd, IOMMU_HWPT_ALLOC, &alloc));

	switch (r) {
	case 0:
		*ret_hwpt = alloc.out_hwpt_id;
		return 0;
	case -ENOENT:
		/* An emulated device's BIND id names an access object, not a device. */
		return vfiomig_fail(ctx, -EOPNOTSUPP, "%s is an emulated device (an mdev such as "
				    "mtty): its parent driver reaches guest memory through "
				    "iommufd's access API, not through an IOMMU page table the IOMMU "
				    "could track; use its DMA logging (mechanism DEVICE or AUTO)", name);
	case -EOPNOTSUPP:
		return vfiomig_fail(ctx, r, "%s: its IOMMU cannot track dirty pages (VT-d needs "
				    "SSADS, AMD needs HD, SMMUv3 needs HTTU): use the device's DMA "
				    "logging if it has one", name);
	default:
		return vfiomig_fail(ctx, r, "%s: IOMMU_HWPT_ALLOC with DIRTY_TRACKING failed: %s",
				    name, strerror(-r));
	}
}

int iommu_track_stop(int iommufd, uint32_t hwpt_id)
{
	return set_tracking(iommufd, hwpt_id, false);
}
