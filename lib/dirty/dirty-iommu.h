/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * IOMMU dirty tracking through iommufd (dirty-iommu.c): the HWPT a caller
 * attached its device to, or one the kernel transport made for a cdev it
 * bound itself, for devices without DMA logging.  Each returns 0
 * or -errno, and the starting and reporting ones record a sentence for
 * @dev's context.
 */
#ifndef VFIOMIG_DIRTY_IOMMU_H
#define VFIOMIG_DIRTY_IOMMU_H

#include "export.h"

#include <stdint.h>


int iommu_track_start(struct vfiomig_dev *dev, int iommufd, uint32_t hwpt_id);
int iommu_track_report(struct vfiomig_dev *dev, int iommufd, uint32_t hwpt_id, uint64_t iova,
		       uint64_t length, uint64_t page_size, uint64_t *bitmap);
/* A HWPT on @pt_id for the bound device @dev_id, with dirty tracking. */
int iommu_dirty_hwpt_alloc(struct vfiomig_ctx *ctx, const char *name, int iommufd,
			   uint32_t dev_id, uint32_t pt_id, uint32_t *ret_hwpt);
/* Records nothing: a rollback must not hide the failure it undoes. */
int iommu_track_stop(int iommufd, uint32_t hwpt_id);

#endif
