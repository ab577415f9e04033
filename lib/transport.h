/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The transport seam: how requests reach a device.  The kernel transport
 * issues the ioctl; the mock transport decodes the same request the way the
 * kernel would.  Transports never choose state-machine paths: dev.c does.
 */
#ifndef VFIOMIG_TRANSPORT_H
#define VFIOMIG_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>

struct vfiomig_dev;

struct vfiomig_transport_ops {
	const char *name;
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
	/* Frees the transport's private data; the device fd is dev.c's. */
	void (*release)(struct vfiomig_dev *dev);
};

extern const struct vfiomig_transport_ops vfiomig_kernel_transport;

#endif
