/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The transport seam: how a device is reached.  The kernel transport
 * issues the ioctl; the mock transport decodes the same request the way
 * the kernel would.  Transports never choose state-machine paths: dev.c
 * does.  To add one, fill a struct vfiomig_transport and list it in
 * transport.c; nothing else names it.
 */
#ifndef VFIOMIG_TRANSPORT_H
#define VFIOMIG_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct vfiomig_ctx;
struct vfiomig_dev;

/* open() and adopt(): not this transport's device, ask the next one. */
#define TRANSPORT_PASS 1

struct vfiomig_transport {
	/* Opens the device @spec names: 0 with *ret, TRANSPORT_PASS, or
	 * -errno with the error recorded.  dev.c then probes the device. */
	int (*open)(struct vfiomig_ctx *ctx, const char *spec, struct vfiomig_dev **ret);
	/* Wraps a device fd the caller holds, the same way. */
	int (*adopt)(struct vfiomig_ctx *ctx, int fd, struct vfiomig_dev **ret);
	/* Frees what the transport attached to @dev.  The device fd is
	 * dev.c's, and already closed when it is dev.c's to close: the kernel
	 * unbinds a device and detaches it from its IOMMU page table only at
	 * its close, and refuses to unset a group's container before. */
	void (*release)(struct vfiomig_dev *dev);

	/* The transport's state shared by a ctx's devices (NULL: none). */
	void *(*ctx_new)(void);
	void (*ctx_free)(void *state);

	/* An ioctl on the device fd (VFIO_DEVICE_FEATURE, _RESET, _GET_INFO).
	 * @arg is exactly what the kernel would receive.  >= 0 or -errno. */
	int (*device_ioctl)(struct vfiomig_dev *dev, unsigned long request,
			    void *arg);
	/* An ioctl on a data fd (VFIO_MIG_GET_PRECOPY_INFO). */
	int (*data_ioctl)(struct vfiomig_dev *dev, int data_fd,
			  unsigned long request, void *arg);
	/* One read(2)/write(2) on a data fd: bytes moved or -errno. */
	ssize_t (*data_read)(struct vfiomig_dev *dev, int data_fd, void *buf,
			     size_t len);
	ssize_t (*data_write)(struct vfiomig_dev *dev, int data_fd,
			      const void *buf, size_t len);

	/* IOMMU dirty tracking of a device the transport bound to an iommufd
	 * of its own: that iommufd and a HWPT with dirty tracking that the
	 * device is attached to (made on the first call, recording an error
	 * if that fails).  -ENOTTY, recording nothing, if the transport bound
	 * none; NULL @ret_iommufd only asks that.  NULL: never. */
	int (*dirty_hwpt)(struct vfiomig_dev *dev, int *ret_iommufd, uint32_t *ret_hwpt);
};

/* transport.c: every transport, in the order open() and adopt() ask them. */
extern const struct vfiomig_transport vfiomig_kernel_transport;

#endif
