/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The device object: capabilities, state transitions, reset and recovery. */
#include <assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "private.h"
#include "vfio-compat.h"

int vfiomig_dev_new(struct vfiomig_ctx *ctx,
		    const struct vfiomig_transport_ops *ops,
		    const char *transport_name, int fd, bool owns_fd,
		    const char *name, struct vfiomig_dev **ret)
{
	struct vfiomig_dev *dev = calloc(1, sizeof(*dev));

	if (!dev)
		return -ENOMEM;
	dev->refcount = 1;
	dev->ctx = vfiomig_ctx_ref(ctx);
	dev->ops = ops;
	dev->transport_name = transport_name;
	dev->fd = fd;
	dev->owns_fd = owns_fd;
	snprintf(dev->name, sizeof(dev->name), "%s", name);
	*ret = dev;
	return 0;
}

int vfiomig_dev_feature(struct vfiomig_dev *dev, uint32_t flags, void *payload,
			size_t len)
{
	/* struct vfio_device_feature followed by its payload, aligned for u64s. */
	uint64_t buf[(sizeof(struct vfio_device_feature) + 16) / sizeof(uint64_t)];
	struct vfio_device_feature *f = (struct vfio_device_feature *)buf;
	int r;

	assert(len <= sizeof(buf) - sizeof(*f));
	f->argsz = (uint32_t)(sizeof(*f) + len);
	f->flags = flags;
	if (len)
		memcpy(f->data, payload, len);
	r = dev->ops->device_ioctl(dev, VFIO_DEVICE_FEATURE, f);
	if (r >= 0 && len)
		memcpy(payload, f->data, len);
	return r;
}

static bool dev_probe_feature(struct vfiomig_dev *dev, uint32_t feature,
			      uint32_t op)
{
	return vfiomig_dev_feature(dev, VFIO_DEVICE_FEATURE_PROBE | op | feature, NULL, 0) == 0;
}

int vfiomig_dev_probe(struct vfiomig_dev *dev)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_device_feature_migration mig = { 0 };
	int r;

	r = vfiomig_dev_feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION,
			&mig, sizeof(mig));
	if (r == -ENOTTY)
		return vfiomig_fail(dev->ctx, r,
				    "%s: driver %s offers no migration (VFIO_DEVICE_FEATURE_MIGRATION unsupported); "
				    "bind a migration-capable variant driver",
				    dev->name, dev->id.driver[0] ? dev->id.driver : "(unknown)");
	if (r < 0)
		return vfiomig_fail(dev->ctx, r, "%s: reading migration flags failed: %s",
				    dev->name, strerror(-r));
	if (!vfiomig_mig_flags_defined(mig.flags))
		return vfiomig_fail(dev->ctx, -EOPNOTSUPP,
				    "%s: migration flags 0x%llx lack STOP_COPY; the device cannot migrate",
				    dev->name, (unsigned long long)mig.flags);
	dev->mig_flags = mig.flags;

	if (dev_probe_feature(dev, VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, VFIO_DEVICE_FEATURE_GET))
		dev->caps |= VFIOMIG_CAP_MIG_DATA_SIZE;
	if (dev_probe_feature(dev, VFIO_DEVICE_FEATURE_DMA_LOGGING_START, VFIO_DEVICE_FEATURE_SET))
		dev->caps |= VFIOMIG_CAP_DMA_LOGGING;
	if ((mig.flags & VFIOMIG_MIG_PRE_COPY) &&
	    dev_probe_feature(dev, VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2, VFIO_DEVICE_FEATURE_SET))
		dev->caps |= VFIOMIG_CAP_PRECOPY_INFO_V2;
	if (dev->ops->device_ioctl(dev, VFIO_DEVICE_GET_INFO, &info) >= 0 &&
	    (info.flags & VFIO_DEVICE_FLAGS_RESET))
		dev->caps |= VFIOMIG_CAP_RESET_ADVERTISED;

	dbg(dev->ctx, "%s: migration flags 0x%llx, caps 0x%x, via %s", dev->name,
	    (unsigned long long)dev->mig_flags, dev->caps, dev->transport_name);
	return 0;
}

static int dev_finish_open(struct vfiomig_dev *dev, struct vfiomig_dev **ret)
{
	int r = vfiomig_dev_probe(dev);

	if (r < 0) {
		vfiomig_dev_unref(dev);
		return r;
	}
	*ret = dev;
	return 0;
}

static bool is_session_state(enum vfiomig_state s)
{
	return s == VFIOMIG_STATE_STOP_COPY || s == VFIOMIG_STATE_RESUMING ||
	       s == VFIOMIG_STATE_PRE_COPY || s == VFIOMIG_STATE_PRE_COPY_P2P;
}

/*
 * A device we just opened cannot have a live session: its group admits one
 * opener, and closing the device ended the last one's.  mtty keeps the
 * state across the reopen but drops the files, so a session found now is
 * stale (see continues_session()).
 */
static void note_stale_session(struct vfiomig_dev *dev)
{
	enum vfiomig_state s;

	if (vfiomig_dev_get_state(dev, &s) == 0 && is_session_state(s)) {
		dev->stale_session = true;
		info(dev->ctx, "%s: opened in %s, a session of an earlier opener", dev->name,
		     vfiomig_state_str(s));
	}
}

VFIOMIG_EXPORT int vfiomig_dev_open(struct vfiomig_ctx *ctx, const char *spec,
				    struct vfiomig_dev **ret)
{
	struct vfiomig_dev *dev;
	int r;

	if (!ctx || !spec || !ret)
		return -EINVAL;
	if (strncmp(spec, "mock:", 5) == 0)
		r = vfiomig_mock_open(ctx, spec + 5, &dev);
	else
		r = vfiomig_kernel_open(ctx, spec, &dev);
	if (r == 0)
		r = dev_finish_open(dev, ret);
	if (r == 0)
		note_stale_session(*ret);
	return r;
}

VFIOMIG_EXPORT int vfiomig_dev_adopt(struct vfiomig_ctx *ctx, int device_fd,
				     struct vfiomig_dev **ret)
{
	struct vfiomig_dev *dev;
	int r;

	if (!ctx || !ret)
		return -EINVAL;
	if (fcntl(device_fd, F_GETFD) < 0)
		return vfiomig_fail(ctx, -EBADF, "fd %d is not open", device_fd);
	r = vfiomig_mock_adopt(ctx, device_fd, &dev);
	if (r == -ENOENT)
		r = vfiomig_kernel_adopt(ctx, device_fd, &dev);
	if (r < 0)
		return r;
	return dev_finish_open(dev, ret);
}

VFIOMIG_EXPORT struct vfiomig_dev *vfiomig_dev_ref(struct vfiomig_dev *dev)
{
	if (dev)
		dev->refcount++;
	return dev;
}

VFIOMIG_EXPORT struct vfiomig_dev *vfiomig_dev_unref(struct vfiomig_dev *dev)
{
	if (!dev || --dev->refcount > 0)
		return NULL;
	if (dev->ops->release)
		dev->ops->release(dev);
	if (dev->owns_fd && dev->fd >= 0)
		close(dev->fd);
	vfiomig_ctx_unref(dev->ctx);
	free(dev);
	return NULL;
}

VFIOMIG_EXPORT int vfiomig_dev_get_fd(struct vfiomig_dev *dev)
{
	return dev ? dev->fd : -EINVAL;
}

VFIOMIG_EXPORT const char *vfiomig_dev_get_name(struct vfiomig_dev *dev)
{
	return dev ? dev->name : NULL;
}

VFIOMIG_EXPORT const char *vfiomig_dev_get_transport(struct vfiomig_dev *dev)
{
	return dev ? dev->transport_name : NULL;
}

VFIOMIG_EXPORT const char *vfiomig_dev_get_driver(struct vfiomig_dev *dev)
{
	return dev && dev->id.driver[0] ? dev->id.driver : NULL;
}

VFIOMIG_EXPORT int vfiomig_dev_get_pci_ids(struct vfiomig_dev *dev,
					   uint16_t *ret_vendor,
					   uint16_t *ret_device,
					   uint16_t *ret_subsystem_vendor,
					   uint16_t *ret_subsystem_device,
					   uint8_t *ret_revision)
{
	if (!dev)
		return -EINVAL;
	if (!dev->id.has_pci_ids)
		return -ENODATA;
	if (ret_vendor)
		*ret_vendor = dev->id.vendor;
	if (ret_device)
		*ret_device = dev->id.device;
	if (ret_subsystem_vendor)
		*ret_subsystem_vendor = dev->id.subsystem_vendor;
	if (ret_subsystem_device)
		*ret_subsystem_device = dev->id.subsystem_device;
	if (ret_revision)
		*ret_revision = dev->id.revision;
	return 0;
}

VFIOMIG_EXPORT int vfiomig_dev_get_mig_flags(struct vfiomig_dev *dev, uint64_t *ret)
{
	if (!dev || !ret)
		return -EINVAL;
	*ret = dev->mig_flags;
	return 0;
}

VFIOMIG_EXPORT int vfiomig_dev_get_caps(struct vfiomig_dev *dev, unsigned int *ret)
{
	if (!dev || !ret)
		return -EINVAL;
	*ret = dev->caps;
	return 0;
}

static int dev_get_state(struct vfiomig_dev *dev, enum vfiomig_state *ret)
{
	struct vfio_device_feature_mig_state st = { .data_fd = -1 };
	int r;

	r = vfiomig_dev_feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			&st, sizeof(st));
	if (r < 0)
		return vfiomig_fail(dev->ctx, r, "%s: reading the migration state failed: %s",
				    dev->name, strerror(-r));
	if (!vfiomig_state_valid((enum vfiomig_state)st.device_state))
		return vfiomig_fail(dev->ctx, -EPROTO, "%s: kernel reported unknown state %u",
				    dev->name, st.device_state);
	*ret = (enum vfiomig_state)st.device_state;
	return 0;
}

VFIOMIG_EXPORT int vfiomig_dev_get_state(struct vfiomig_dev *dev,
					 enum vfiomig_state *ret)
{
	if (!dev || !ret)
		return -EINVAL;
	return dev_get_state(dev, ret);
}

/* One SET request; *ret_fd gets the data fd the kernel returned, or -1. */
static int dev_send_set(struct vfiomig_dev *dev, enum vfiomig_state target, int *ret_fd)
{
	struct vfio_device_feature_mig_state st = {
		.device_state = (uint32_t)target,
		.data_fd = -1,
	};
	int r;

	r = vfiomig_dev_feature(dev, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			&st, sizeof(st));
	*ret_fd = r < 0 ? -1 : st.data_fd;
	return r;
}

static int refuse_target(struct vfiomig_dev *dev, enum vfiomig_state cur,
			 enum vfiomig_state target)
{
	enum vfiomig_state probe;
	const char *why;

	if (cur == VFIOMIG_STATE_ERROR)
		why = "the device is in ERROR; only a reset leaves it (vfiomig-ctl reset, vfiomig_dev_recover())";
	else if (target == VFIOMIG_STATE_ERROR)
		why = "ERROR cannot be requested";
	else if (vfiomig_fsm_next(dev->mig_flags, target, target, &probe) < 0)
		why = "the device does not offer that state (see its migration flags)";
	else if (cur == VFIOMIG_STATE_STOP_COPY)
		why = "STOP_COPY cannot go back to pre-copy; kernels without the 2026 fix hang on this request";
	else
		why = "the device's current state is not one its flags allow";
	return vfiomig_fail(dev->ctx, -EINVAL, "%s: cannot go from %s to %s: %s",
			    dev->name, vfiomig_state_str(cur),
			    vfiomig_state_str(target), why);
}

/*
 * Arcs that go on with a session rather than end it: RESUMING -> STOP loads
 * what was written, and moves within the saving group go on with its fd.
 * On a stale session they would need a file the driver no longer has (mtty
 * 6.12 dereferences NULL: a kernel oops), so only the arcs that end a
 * saving session (to STOP, RUNNING or RUNNING_P2P) and a reset remain.
 */
static bool continues_session(const struct vfiomig_dev *dev, enum vfiomig_state cur,
			      enum vfiomig_state next)
{
	return dev->stale_session &&
	       (cur == VFIOMIG_STATE_RESUMING || is_session_state(next));
}

static int transition_failed(struct vfiomig_dev *dev, int err,
			     enum vfiomig_state from, enum vfiomig_state arc_to,
			     enum vfiomig_state target)
{
	enum vfiomig_state now;
	char err_text[128];

	dev->needs_recovery = true;
	/* The kernel echoes the requested state on failure: ask for the real one. */
	snprintf(err_text, sizeof(err_text), "%s", strerror(-err));
	if (dev_get_state(dev, &now) < 0)
		return vfiomig_fail(dev->ctx, err,
				    "%s: %s -> %s failed (%s) and the state cannot be read back; reset the device",
				    dev->name, vfiomig_state_str(from),
				    vfiomig_state_str(target), err_text);
	return vfiomig_fail(dev->ctx, err,
			    "%s: %s -> %s failed at %s (%s); the device is now in %s%s",
			    dev->name, vfiomig_state_str(from), vfiomig_state_str(target),
			    vfiomig_state_str(arc_to), err_text, vfiomig_state_str(now),
			    now == from ? "" : "; vfiomig_dev_recover() resets it");
}

/* Sends the path one arc at a time, or all at once; returns the final data fd. */
static int dev_walk(struct vfiomig_dev *dev, enum vfiomig_state cur,
		    const enum vfiomig_state *path, int n, int *ret_fd)
{
	int first = dev->stepwise ? 0 : n - 1;
	int fd = -1;

	for (int i = first; i < n; i++) {
		int r = dev_send_set(dev, path[i], &fd);

		if (r < 0)
			return transition_failed(dev, r, cur, path[i], path[n - 1]);
		if (fd >= 0 && i != n - 1) {
			/* The protocol never opens an fd on an interior arc. */
			close(fd);
			return vfiomig_fail(dev->ctx, -EPROTO,
					    "%s: kernel opened a data fd on the interior arc to %s",
					    dev->name, vfiomig_state_str(path[i]));
		}
	}
	*ret_fd = fd;
	return 0;
}

VFIOMIG_EXPORT int vfiomig_dev_set_state(struct vfiomig_dev *dev,
					 enum vfiomig_state target,
					 int *ret_data_fd)
{
	enum vfiomig_state cur, path[VFIOMIG_STATE_COUNT];
	int n, r, fd = -1;
	bool opens_fd;

	if (!dev || !vfiomig_state_valid(target))
		return -EINVAL;
	r = dev_get_state(dev, &cur);
	if (r < 0)
		return r;
	n = vfiomig_fsm_path(dev->mig_flags, cur, target, path, ARRAY_SIZE(path));
	if (n < 0)
		return refuse_target(dev, cur, target);
	if (n > 0 && continues_session(dev, cur, path[0]))
		return vfiomig_fail(dev->ctx, -EBUSY,
				    "%s: the device is in %s from an earlier session whose data fd "
				    "is gone; only a reset ends it (vfiomig-ctl reset, "
				    "vfiomig_dev_recover()), since %s -> %s would need that fd",
				    dev->name, vfiomig_state_str(cur), vfiomig_state_str(cur),
				    vfiomig_state_str(path[0]));
	if (n == 0) {
		if (ret_data_fd)
			*ret_data_fd = -1;
		return 0;
	}
	opens_fd = vfiomig_fsm_arc_opens_fd(n > 1 ? path[n - 2] : cur, target);
	if (opens_fd && !ret_data_fd)
		return vfiomig_fail(dev->ctx, -EINVAL,
				    "%s: %s opens a data fd; pass somewhere to return it",
				    dev->name, vfiomig_state_str(target));

	r = dev_walk(dev, cur, path, n, &fd);
	if (r < 0)
		return r;
	if (opens_fd != (fd >= 0)) {
		if (fd >= 0)
			close(fd);
		dev->needs_recovery = true;
		return vfiomig_fail(dev->ctx, -EPROTO, "%s: kernel %s a data fd entering %s",
				    dev->name, opens_fd ? "did not return" : "unexpectedly returned",
				    vfiomig_state_str(target));
	}
	dev->needs_recovery = false;
	dev->stale_session = dev->stale_session && is_session_state(target) && fd < 0;
	dbg(dev->ctx, "%s: %s -> %s in %d arc(s)%s", dev->name, vfiomig_state_str(cur),
	    vfiomig_state_str(target), n, fd >= 0 ? ", new data fd" : "");
	if (ret_data_fd)
		*ret_data_fd = fd;
	return 0;
}

VFIOMIG_EXPORT void vfiomig_dev_set_stepwise(struct vfiomig_dev *dev, int enable)
{
	if (dev)
		dev->stepwise = enable != 0;
}

VFIOMIG_EXPORT int vfiomig_dev_reset(struct vfiomig_dev *dev)
{
	/* pci_try_reset_function() gives EAGAIN on lock contention. */
	static const struct timespec backoff = { .tv_nsec = 20 * 1000 * 1000 };
	int r = -EAGAIN;

	if (!dev)
		return -EINVAL;
	for (int tries = 0; tries < 5 && r == -EAGAIN; tries++) {
		if (tries)
			nanosleep(&backoff, NULL);
		r = dev->ops->device_ioctl(dev, VFIO_DEVICE_RESET, NULL);
	}
	if (r == -EINVAL)
		return vfiomig_fail(dev->ctx, r, "%s: the device has no working reset (VFIO_DEVICE_RESET: EINVAL)",
				    dev->name);
	if (r < 0)
		return vfiomig_fail(dev->ctx, r, "%s: VFIO_DEVICE_RESET failed: %s",
				    dev->name, strerror(-r));
	dev->needs_recovery = false;
	dev->stale_session = false;
	info(dev->ctx, "%s: reset", dev->name);
	return 0;
}

VFIOMIG_EXPORT int vfiomig_dev_recover(struct vfiomig_dev *dev,
				       enum vfiomig_state *ret_state)
{
	enum vfiomig_state st;
	int r;

	if (!dev)
		return -EINVAL;
	r = dev_get_state(dev, &st);
	if (r == 0 && st != VFIOMIG_STATE_ERROR && !dev->needs_recovery) {
		if (ret_state)
			*ret_state = st;
		return 0;
	}
	info(dev->ctx, "%s: recovering from %s", dev->name,
	     r < 0 ? "an unreadable state" : vfiomig_state_str(st));
	r = vfiomig_dev_reset(dev);
	if (r < 0)
		return r;
	r = dev_get_state(dev, &st);
	if (r < 0)
		return r;
	if (st != VFIOMIG_STATE_RUNNING)
		return vfiomig_fail(dev->ctx, -EIO, "%s: reset left the device in %s, not RUNNING",
				    dev->name, vfiomig_state_str(st));
	if (ret_state)
		*ret_state = st;
	return 1;
}

VFIOMIG_EXPORT int vfiomig_dev_get_stop_copy_size(struct vfiomig_dev *dev,
						  uint64_t *ret)
{
	struct vfio_device_feature_mig_data_size sz = { 0 };
	int r;

	if (!dev || !ret)
		return -EINVAL;
	if (!(dev->caps & VFIOMIG_CAP_MIG_DATA_SIZE))
		return -EOPNOTSUPP;
	r = vfiomig_dev_feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE,
			&sz, sizeof(sz));
	if (r < 0)
		return vfiomig_fail(dev->ctx, r, "%s: MIG_DATA_SIZE failed: %s",
				    dev->name, strerror(-r));
	*ret = sz.stop_copy_length;
	return 0;
}

VFIOMIG_EXPORT int vfiomig_dev_get_precopy_info(struct vfiomig_dev *dev,
						int data_fd,
						uint64_t *ret_initial_bytes,
						uint64_t *ret_dirty_bytes)
{
	return vfiomig_dev_get_precopy_info2(dev, data_fd, ret_initial_bytes,
					     ret_dirty_bytes, NULL);
}
