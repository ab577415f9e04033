/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pre-copy queries of a device (dev.h): PRECOPY_INFO and its v2 opt-in. */
#include <string.h>

#include "call.h"
#include "dev.h"
#include "export.h"
#include "log.h"
#include "vfio-compat.h"

int dev_enable_precopy_reinit(struct vfiomig_dev *dev)
{
	int r;

	if (!(dev->caps & VFIOMIG_CAP_PRECOPY_INFO_V2))
		return -EOPNOTSUPP;
	r = vfiomig_dev_feature(dev, VFIO_DEVICE_FEATURE_SET |
				VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2, NULL, 0);
	if (r == 0)
		dev->precopy_reinit = true;
	return r;
}

VFIOMIG_EXPORT int vfiomig_dev_enable_precopy_reinit(struct vfiomig_dev *dev)
{
	struct call c;
	int r = call_begin_dev(&c, dev, 0);

	if (r < 0)
		return call_end(&c, r);
	r = dev_enable_precopy_reinit(dev);
	if (r == -EOPNOTSUPP)
		vfiomig_fail(dev->ctx, r, "%s: the kernel or device cannot report REINIT "
			     "(MIG_PRECOPY_INFOv2 needs Linux 7.1)", dev->name);
	else if (r < 0)
		vfiomig_fail(dev->ctx, r, "%s: enabling PRECOPY_INFOv2 failed: %s", dev->name,
			     strerror(-r));
	return call_end(&c, r);
}

int dev_get_precopy_info(struct vfiomig_dev *dev, int data_fd, uint64_t *ret_initial,
			 uint64_t *ret_dirty, uint32_t *ret_flags)
{
	/* flags goes in as 0: before the v2 opt-in the kernel echoes it back. */
	struct vfio_precopy_info info = { .argsz = sizeof(info) };
	int r;

	r = dev->transport->data_ioctl(dev, data_fd, VFIO_MIG_GET_PRECOPY_INFO, &info);
	if (r < 0)
		return vfiomig_fail(dev->ctx, r, "%s: VFIO_MIG_GET_PRECOPY_INFO failed: %s",
				    dev->name, strerror(-r));
	if (ret_initial)
		*ret_initial = dev_size_clamp(dev, DEV_SIZE_INITIAL, info.initial_bytes);
	if (ret_dirty)
		*ret_dirty = dev_size_clamp(dev, DEV_SIZE_DIRTY, info.dirty_bytes);
	if (ret_flags)
		*ret_flags = dev->precopy_reinit ? (info.flags & VFIO_PRECOPY_INFO_REINIT) : 0;
	return 0;
}

VFIOMIG_EXPORT int vfiomig_dev_get_precopy_info_flags(struct vfiomig_dev *dev, int data_fd,
						      uint64_t *ret_initial_bytes,
						      uint64_t *ret_dirty_bytes,
						      uint32_t *ret_flags)
{
	struct call c;
	int r = call_begin_dev(&c, dev, 0);

	if (r == 0 && data_fd < 0)
		r = vfiomig_fail(dev->ctx, -EINVAL, "%s: pre-copy information needs the data fd",
				 dev->name);
	if (r == 0)
		r = dev_get_precopy_info(dev, data_fd, ret_initial_bytes, ret_dirty_bytes,
					 ret_flags);
	return call_end(&c, r);
}

VFIOMIG_EXPORT int vfiomig_dev_get_precopy_info(struct vfiomig_dev *dev, int data_fd,
						uint64_t *ret_initial_bytes,
						uint64_t *ret_dirty_bytes)
{
	return vfiomig_dev_get_precopy_info_flags(dev, data_fd, ret_initial_bytes,
						  ret_dirty_bytes, NULL);
}
