/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * IOMMU dirty tracking through iommufd (dirty-iommu.c): the HWPT a caller
 * attached its device to, for devices without DMA logging.  Each returns 0
 * or -errno, and the starting and reporting ones record a sentence for
 * @dev's context.
 */
#ifndef VFIOMIG_DIRTY_IOMMU_H
#define VFIOMIG_DIRTY_IOMMU_H

#include <stdint.h>

#include "private.h"

int iommu_track_start(struct vfiomig_dev *dev, int iommufd, uint32_t hwpt_id);
int iommu_track_report(struct vfiomig_dev *dev, int iommufd, uint32_t hwpt_id, uint64_t iova,
		       uint64_t length, uint64_t page_size, uint64_t *bitmap);
/* Records nothing: a rollback must not hide the failure it undoes. */
int iommu_track_stop(int iommufd, uint32_t hwpt_id);

#endif
