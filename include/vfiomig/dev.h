/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiomig: one VFIO device and its migration state machine.
 */
#ifndef VFIOMIG_DEV_H
#define VFIOMIG_DEV_H

#include <stdint.h>

#include <vfiomig/common.h>
#include <vfiomig/ctx.h>
#include <vfiomig/state.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vfiomig_dev;

/* Optional device capabilities, see vfiomig_dev_get_caps(). */
#define VFIOMIG_CAP_MIG_DATA_SIZE    (1u << 0) /* VFIO_DEVICE_FEATURE_MIG_DATA_SIZE */
#define VFIOMIG_CAP_DMA_LOGGING      (1u << 1) /* VFIO_DEVICE_FEATURE_DMA_LOGGING_* */
#define VFIOMIG_CAP_RESET_ADVERTISED (1u << 2) /* VFIO_DEVICE_FLAGS_RESET set */
#define VFIOMIG_CAP_PRECOPY_INFO_V2  (1u << 3) /* MIG_PRECOPY_INFOv2 (Linux 7.1) */

/*
 * Sizes a driver reports (MIG_DATA_SIZE, PRECOPY_INFO) "may report
 * anything".  One of 4 PiB or more, more than a 400 Gb/s link moves in a
 * day, is no size: the library takes it as unknown, logs it once per
 * device at LOG_WARNING, and reports it as exactly this (docs/migration.md).
 * Since: 0.4
 */
#define VFIOMIG_SIZE_LIMIT (1ull << 52)

/*
 * Threads: one device is driven by one thread at a time.  A call on a
 * device made while another thread is inside a call on the same device
 * fails with -EBUSY and changes nothing; made from a callback of this
 * thread's own call on it, -EDEADLK (vfiomig_dev_get_state() and
 * vfiomig_dev_get_stop_copy_size() excepted: they only read).  The
 * accessors of what was learnt at open (name, fd, transport, driver, PCI
 * IDs, flags, caps, backend) and reference counting may be used from any
 * thread at any time.
 */

/**
 * vfiomig_dev_open() - Open a VFIO device for migration
 * @ctx: the context; the device takes a reference on it
 * @spec: which device:
 *        - a PCI address, "0000:3b:00.1" or "3b:00.1" (domain 0000);
 *        - an mdev UUID, "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";
 *        - a VFIO cdev, "/dev/vfio/devices/vfio3" (bound to /dev/iommu);
 *        - a sysfs device path, "/sys/bus/pci/devices/0000:3b:00.1";
 *        - "mock:NAME[,key=value...]", the in-process mock device
 *          (docs/mock.md lists the keys).
 * @ret: where the device is stored; caller owns it, release with
 *       vfiomig_dev_unref()
 *
 * PCI addresses, UUIDs and sysfs paths go through the legacy group and
 * container path when /dev/vfio/vfio exists, else through the device's cdev.
 * Devices opened through one context share one container.  The device's
 * migration flags are read once, here.
 *
 * Return: 0; -EINVAL for a malformed spec; -ENODEV if there is no such
 *         device or it is not bound to a VFIO driver; -EBUSY if its group is
 *         open elsewhere (adopt that fd instead); -EACCES; -EPERM if its
 *         group is not viable; -ENOTTY if the device has no migration
 *         support; other -errno from the kernel.  vfiomig_ctx_get_error()
 *         says what to do.
 * Since: 0.1
 */
VFIOMIG_API int vfiomig_dev_open(struct vfiomig_ctx *ctx, const char *spec,
				 struct vfiomig_dev **ret);

/**
 * vfiomig_dev_adopt() - Wrap a device fd that the caller already holds
 * @device_fd: a VFIO device fd (legacy group device fd, or a cdev already
 *             bound to an iommufd), or the fd of a mock device opened
 *             through @ctx (vfiomig_dev_get_fd())
 *
 * The fd stays the caller's: the library never closes or reconfigures it.
 *
 * Return: 0; -EBADF if @device_fd is not open; -ENOTTY if it is not a VFIO
 *         device or has no migration support; -ENOMEM.
 * Since: 0.1
 */
VFIOMIG_API int vfiomig_dev_adopt(struct vfiomig_ctx *ctx, int device_fd,
				  struct vfiomig_dev **ret);

/** vfiomig_dev_ref() - Take a reference.  Return: @dev (NULL-safe).  Since: 0.1 */
VFIOMIG_API struct vfiomig_dev *vfiomig_dev_ref(struct vfiomig_dev *dev);

/**
 * vfiomig_dev_unref() - Drop a reference; the last one closes what the
 * library opened (never an adopted fd).  Data fds handed out stay open:
 * they belong to the caller.  The device fd goes first, then its group's
 * container or its cdev's dirty-tracking HWPT, the kernel's order; a step
 * the kernel refuses (a copy of the device fd still open, say) is logged
 * at LOG_WARNING.
 * Return: NULL (NULL-safe).  Since: 0.1
 */
VFIOMIG_API struct vfiomig_dev *vfiomig_dev_unref(struct vfiomig_dev *dev);

/**
 * vfiomig_dev_get_fd() - The device fd
 * Return: the fd (borrowed); -EINVAL if @dev is NULL.  A mock device has a
 *         placeholder fd that only vfiomig_dev_adopt() understands.  Since: 0.1
 */
VFIOMIG_API int vfiomig_dev_get_fd(struct vfiomig_dev *dev);

/**
 * vfiomig_dev_get_name() - Canonical device name: "0000:3b:00.1", a UUID,
 * "vfio3", "mock:NAME", or "fd:N" for an adopted fd of unknown origin.
 * Return: borrowed string valid while @dev lives; NULL if @dev is NULL.
 * Since: 0.1
 */
VFIOMIG_API const char *vfiomig_dev_get_name(struct vfiomig_dev *dev);

/**
 * vfiomig_dev_is_same() - Whether two handles drive one device
 *
 * Specs that differ can name one device: "3b:00.1", "0000:3b:00.1", its
 * /sys path and its vfio cdev ("vfio3", by the cdev's sysfs link); so can
 * an adopted fd of its cdev, or of its group where the kernel names the
 * device in the fd's fdinfo (kernels after 6.12; on 6.12 an adopted group
 * device fd is a device of its own, "fd:N").  Two mock devices of one
 * name are one device, as two opens of one PCI address are, whatever
 * their contexts.  A group refuses a second handle of a member's device
 * (-EEXIST); a program that drives several devices at once (a source and
 * its destination) asks this first.  A query: no call is made, and the
 * thread's error is kept.
 *
 * Return: 1 if they are one device, 0 if not; -EINVAL if either is NULL.
 * Since: 0.4
 */
VFIOMIG_API int vfiomig_dev_is_same(struct vfiomig_dev *a, struct vfiomig_dev *b);

/**
 * vfiomig_dev_get_transport() - How the library reaches the device:
 * "vfio-group", "vfio-cdev", "adopted" or "mock".
 * Return: static string; NULL if @dev is NULL.  Since: 0.1
 */
VFIOMIG_API const char *vfiomig_dev_get_transport(struct vfiomig_dev *dev);

/**
 * vfiomig_dev_get_driver() - Name of the kernel driver bound to the device
 * ("vfio-pci", "mlx5_vfio_pci", "mtty", "mock").
 * Return: borrowed string; NULL if unknown (an adopted fd whose kernel does
 *         not name its sysfs path).  Since: 0.1
 */
VFIOMIG_API const char *vfiomig_dev_get_driver(struct vfiomig_dev *dev);

/**
 * vfiomig_dev_get_pci_ids() - PCI identity from sysfs
 * Any out-pointer may be NULL.
 * Return: 0; -ENODATA if the device is not PCI (an mdev) or its identity
 *         is unknown.  Since: 0.1
 */
VFIOMIG_API int vfiomig_dev_get_pci_ids(struct vfiomig_dev *dev,
					uint16_t *ret_vendor,
					uint16_t *ret_device,
					uint16_t *ret_subsystem_vendor,
					uint16_t *ret_subsystem_device,
					uint8_t *ret_revision);

/**
 * vfiomig_dev_get_mig_flags() - The flags VFIO_DEVICE_FEATURE_MIGRATION
 * reported when the device opened: the VFIOMIG_MIG_* flags, and as they
 * are any bits a newer kernel may define, which the library ignores when
 * it plans paths (and logs at LOG_INFO when it opens the device).
 * Return: 0.  Since: 0.1
 */
VFIOMIG_API int vfiomig_dev_get_mig_flags(struct vfiomig_dev *dev,
					  uint64_t *ret);

/**
 * vfiomig_dev_get_caps() - VFIOMIG_CAP_* flags, probed when the device opened
 * Return: 0.  Since: 0.1
 */
VFIOMIG_API int vfiomig_dev_get_caps(struct vfiomig_dev *dev, unsigned int *ret);

/**
 * vfiomig_dev_get_state() - Ask the kernel for the device's state
 *
 * A kernel newer than the library may report a state it does not know (8
 * or more: a failed arc may leave the device in one).  No value of enum
 * vfiomig_state is made up for it: the call fails with -EPROTO, the
 * sentence names the number, and vfiomig_dev_recover() resets the device,
 * as from ERROR.
 *
 * Return: 0; -EPROTO for a state the library does not know; -errno from
 *         the kernel.  Since: 0.1
 */
VFIOMIG_API int vfiomig_dev_get_state(struct vfiomig_dev *dev,
				      enum vfiomig_state *ret);

/**
 * vfiomig_dev_check_ready() - Whether a save or a load may start on the device now
 *
 * Reads the device's state (one GET, nothing else is sent) and answers as
 * vfiomig_dev_save(), vfiomig_dev_load() and the group calls do before
 * they send anything: a transfer starts in RUNNING, RUNNING_P2P or STOP,
 * the states it can put the device back in.  A migration session (a
 * saving state, or RESUMING) is its opener's to finish, and ERROR or a
 * newer kernel's state is left only by a reset, which is the caller's to
 * decide: each is refused, with a sentence that says which.  A migration
 * between two devices checks the destination this way before the source
 * stops, so that a destination that cannot load never costs the source
 * its downtime.
 *
 * Return: 0 if a save or a load may start; -EBUSY in a migration
 *         session; -EINVAL in ERROR; -EPROTO in a state the library does
 *         not know; -errno from the kernel.  Since: 0.4
 */
VFIOMIG_API int vfiomig_dev_check_ready(struct vfiomig_dev *dev);

/**
 * vfiomig_dev_set_state() - Move the device to @target
 * @ret_data_fd: may be NULL only when the final arc opens no data fd; gets
 *               the new data fd (caller owns and closes it) or -1
 *
 * Checks @target against the device's flags and the path from the current
 * state (vfiomig_fsm_path()), then sends one request for @target and lets
 * the kernel walk the arcs, or one request per arc in stepwise mode
 * (vfiomig_dev_set_stepwise()).  A new data fd comes back only where the
 * final arc opens one (vfiomig_fsm_arc_opens_fd()).  After a failure the
 * device's real state is read back (vfiomig_ctx_get_error_info()); it may
 * be the old state, a state on the path, or ERROR.  vfiomig_dev_recover()
 * brings it back.
 *
 * Return: 0; -EINVAL if @target is not reachable on this device (including
 *         the refused STOP_COPY -> PRE_COPY(_P2P)); -EINVAL if @ret_data_fd is
 *         NULL but a data fd would be opened; -errno from the kernel.
 * Since: 0.1
 */
VFIOMIG_API int vfiomig_dev_set_state(struct vfiomig_dev *dev,
				      enum vfiomig_state target,
				      int *ret_data_fd);

/**
 * vfiomig_dev_set_stepwise() - Walk paths one arc per request (@enable != 0)
 * instead of one request for the whole path (the default).  Stepwise mode
 * shows which arc of a driver fails; the kernel behaves the same either way.
 * Since: 0.1
 */
VFIOMIG_API void vfiomig_dev_set_stepwise(struct vfiomig_dev *dev, int enable);

/**
 * vfiomig_dev_reset() - VFIO_DEVICE_RESET
 *
 * Tried even when the device does not advertise VFIO_DEVICE_FLAGS_RESET
 * (mtty resets without advertising it).  Contention (EAGAIN) is retried.  A
 * reset returns the device to RUNNING and kills its open data fds (ENODEV).
 *
 * Return: 0; -EINVAL if the device has no working reset; -errno.  Since: 0.1
 */
VFIOMIG_API int vfiomig_dev_reset(struct vfiomig_dev *dev);

/**
 * vfiomig_dev_recover() - Bring the device out of a failed transition
 * @ret_state: may be NULL; the state the device is in afterwards
 *
 * A device in ERROR or in a state the library does not know (a newer
 * kernel's), or one whose last transition or data transfer through this
 * handle failed (stranded on a path, or RESUMING with partial state), is
 * reset and comes back RUNNING.  Any other device is left alone.  If the
 * reset fails (a PF with VFs enabled may refuse it) the device is left as
 * it is, the error returned, and the sentence says where the device is and
 * what to do; the next call tries again.
 *
 * Return: 0 if nothing was needed, 1 if the device was reset; -errno.
 * Since: 0.1
 */
VFIOMIG_API int vfiomig_dev_recover(struct vfiomig_dev *dev,
				    enum vfiomig_state *ret_state);

/**
 * vfiomig_dev_get_stop_copy_size() - Estimated STOP_COPY stream length
 * (VFIO_DEVICE_FEATURE_MIG_DATA_SIZE; valid in any state).
 * Return: 0; -EOPNOTSUPP if the device cannot say; -ERANGE if its answer
 *         is VFIOMIG_SIZE_LIMIT or more, which is no size (since 0.4).
 *         Since: 0.1
 */
VFIOMIG_API int vfiomig_dev_get_stop_copy_size(struct vfiomig_dev *dev,
					       uint64_t *ret);

/**
 * vfiomig_dev_get_precopy_info() - VFIO_MIG_GET_PRECOPY_INFO on @data_fd
 * @data_fd: the fd opened by RUNNING -> PRE_COPY (or RUNNING_P2P ->
 *           PRE_COPY_P2P)
 * Either out-pointer may be NULL.  Call it on every pre-copy iteration:
 * mlx5 only produces new pre-copy data from inside this ioctl.  A count of
 * VFIOMIG_SIZE_LIMIT or more is reported as VFIOMIG_SIZE_LIMIT, an unknown
 * amount (since 0.4), so that sums of counts cannot wrap.
 *
 * Return: 0; -EINVAL outside the PRE_COPY states; -ENODEV if the data fd's
 *         session has ended; -errno.  Since: 0.1
 */
VFIOMIG_API int vfiomig_dev_get_precopy_info(struct vfiomig_dev *dev,
					     int data_fd,
					     uint64_t *ret_initial_bytes,
					     uint64_t *ret_dirty_bytes);

/**
 * vfiomig_dev_get_backend() - The vendor backend that understands the
 * device's data stream: "mlx5", "generic" (opaque bytes) or "mock".
 * Return: static string; NULL if @dev is NULL.  Since: 0.2
 */
VFIOMIG_API const char *vfiomig_dev_get_backend(struct vfiomig_dev *dev);

/**
 * vfiomig_dev_enable_precopy_reinit() - Ask the kernel to report REINIT
 *
 * Opts in to VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 (Linux 7.1): after
 * this, vfiomig_dev_get_precopy_info_flags() reports
 * VFIOMIG_PRECOPY_INFO_REINIT when the device starts its initial bytes
 * over.  The opt-in lasts as long as the device stays open.
 *
 * Return: 0; -EOPNOTSUPP if the kernel or device lacks it
 *         (VFIOMIG_CAP_PRECOPY_INFO_V2 unset).  Since: 0.3
 */
VFIOMIG_API int vfiomig_dev_enable_precopy_reinit(struct vfiomig_dev *dev);

#define VFIOMIG_PRECOPY_INFO_REINIT (1u << 0) /* initial_bytes started over */

/**
 * vfiomig_dev_get_precopy_info_flags() - vfiomig_dev_get_precopy_info() and
 * its flags
 * @ret_flags: may be NULL; VFIOMIG_PRECOPY_INFO_REINIT, reported only after
 *             vfiomig_dev_enable_precopy_reinit() (before, the kernel echoes
 *             whatever was passed in, so the library reports 0)
 * Return: as vfiomig_dev_get_precopy_info().  Since: 0.3
 */
VFIOMIG_API int vfiomig_dev_get_precopy_info_flags(struct vfiomig_dev *dev, int data_fd,
						   uint64_t *ret_initial_bytes,
						   uint64_t *ret_dirty_bytes,
						   uint32_t *ret_flags);

#ifdef __cplusplus
}
#endif

#endif
