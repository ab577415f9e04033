/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The raw data path: starting sessions and moving bytes through data fds. */
#include <poll.h>
#include <string.h>

#include "private.h"
#include "xfer.h"
#include "vfio-compat.h"

static bool state_is_session(enum vfiomig_state s)
{
	return s == VFIOMIG_STATE_STOP_COPY || s == VFIOMIG_STATE_PRE_COPY ||
	       s == VFIOMIG_STATE_PRE_COPY_P2P || s == VFIOMIG_STATE_RESUMING;
}

/* The current state, which must not be inside a migration session. */
static int idle_state(struct vfiomig_dev *dev, enum vfiomig_state *ret)
{
	int r = vfiomig_dev_get_state(dev, ret);

	if (r == 0 && state_is_session(*ret))
		return vfiomig_fail(dev->ctx, -EBUSY,
				    "%s: the device is in %s: a migration is already in progress; "
				    "finish it or reset the device", dev->name, vfiomig_state_str(*ret));
	return r;
}

VFIOMIG_EXPORT int vfiomig_save_begin(struct vfiomig_dev *dev, unsigned int flags,
				      int *ret_data_fd, enum vfiomig_state *ret_state)
{
	enum vfiomig_state cur, target = VFIOMIG_STATE_STOP_COPY;
	int r;

	if (!dev || !ret_data_fd || (flags & ~VFIOMIG_SAVE_PRECOPY))
		return -EINVAL;
	r = idle_state(dev, &cur);
	if (r < 0)
		return r;
	if ((flags & VFIOMIG_SAVE_PRECOPY) && (dev->mig_flags & VFIOMIG_MIG_PRE_COPY)) {
		if (cur == VFIOMIG_STATE_RUNNING)
			target = VFIOMIG_STATE_PRE_COPY;
		else if (cur == VFIOMIG_STATE_RUNNING_P2P)
			target = VFIOMIG_STATE_PRE_COPY_P2P;
	}
	r = vfiomig_dev_set_state(dev, target, ret_data_fd);
	if (r == 0 && ret_state)
		*ret_state = target;
	return r;
}

VFIOMIG_EXPORT ssize_t vfiomig_data_read(struct vfiomig_dev *dev, int data_fd,
					 void *buf, size_t len, unsigned int flags)
{
	ssize_t n;

	if (!dev || data_fd < 0 || (!buf && len) || (flags & ~VFIOMIG_READ_PRECOPY))
		return -EINVAL;
	do
		n = dev->ops->data_read(dev, data_fd, buf, len);
	while (n == -EINTR);
	/* The protocol's temporary end is ENOMSG; mtty says 0 instead. */
	if (n == -ENOMSG || (n == 0 && len && (flags & VFIOMIG_READ_PRECOPY)))
		return -EAGAIN;
	return n;
}

VFIOMIG_EXPORT int vfiomig_load_begin(struct vfiomig_dev *dev, int *ret_data_fd)
{
	enum vfiomig_state cur;
	int r;

	if (!dev || !ret_data_fd)
		return -EINVAL;
	r = idle_state(dev, &cur);
	if (r < 0)
		return r;
	return vfiomig_dev_set_state(dev, VFIOMIG_STATE_RESUMING, ret_data_fd);
}

VFIOMIG_EXPORT int vfiomig_data_write(struct vfiomig_dev *dev, int data_fd,
				      const void *buf, size_t len)
{
	const char *p = buf;

	if (!dev || data_fd < 0 || (!buf && len))
		return -EINVAL;
	while (len) {
		ssize_t n = dev->ops->data_write(dev, data_fd, p, len);

		if (n == -EINTR)
			continue;
		if (n == -EAGAIN) {
			int r = xfer_wait_fd(data_fd, POLLOUT, NULL);

			if (r < 0)
				return r;
			continue;
		}
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;	/* write(2) of a non-zero length never returns 0 */
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

VFIOMIG_EXPORT int vfiomig_load_finish(struct vfiomig_dev *dev, enum vfiomig_state target)
{
	int r;

	if (!dev || target == VFIOMIG_STATE_RESUMING)
		return -EINVAL;
	r = vfiomig_dev_set_state(dev, VFIOMIG_STATE_STOP, NULL);
	if (r < 0)
		return r;
	return vfiomig_dev_set_state(dev, target, NULL);
}

VFIOMIG_EXPORT int vfiomig_dev_enable_precopy_v2(struct vfiomig_dev *dev)
{
	int r;

	if (!dev)
		return -EINVAL;
	if (!(dev->caps & VFIOMIG_CAP_PRECOPY_INFO_V2))
		return -EOPNOTSUPP;
	r = vfiomig_dev_feature(dev, VFIO_DEVICE_FEATURE_SET |
				VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2, NULL, 0);
	if (r < 0)
		return vfiomig_fail(dev->ctx, r, "%s: enabling PRECOPY_INFOv2 failed: %s",
				    dev->name, strerror(-r));
	dev->precopy_v2 = true;
	return 0;
}

VFIOMIG_EXPORT int vfiomig_dev_get_precopy_info2(struct vfiomig_dev *dev, int data_fd,
						 uint64_t *ret_initial_bytes,
						 uint64_t *ret_dirty_bytes,
						 uint32_t *ret_flags)
{
	/* flags goes in as 0: before the v2 opt-in the kernel echoes it back. */
	struct vfio_precopy_info info = { .argsz = sizeof(info) };
	int r;

	if (!dev || data_fd < 0)
		return -EINVAL;
	r = dev->ops->data_ioctl(dev, data_fd, VFIO_MIG_GET_PRECOPY_INFO, &info);
	if (r < 0)
		return vfiomig_fail(dev->ctx, r, "%s: VFIO_MIG_GET_PRECOPY_INFO failed: %s",
				    dev->name, strerror(-r));
	if (ret_initial_bytes)
		*ret_initial_bytes = info.initial_bytes;
	if (ret_dirty_bytes)
		*ret_dirty_bytes = info.dirty_bytes;
	if (ret_flags)
		*ret_flags = dev->precopy_v2 ? (info.flags & VFIO_PRECOPY_INFO_REINIT) : 0;
	return 0;
}
