/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the guest programs do by hand, as a VMM would before it hands a
 * device to the library: open a cdev bound to an iommufd and attached to
 * an IOAS, and reach mtty's UART registers through BAR0; and how the guest
 * programs give up and report.
 */
#ifndef VFIOMIG_GUEST_VFIO_H
#define VFIOMIG_GUEST_VFIO_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/vfio.h>
#include "vfio-compat.h"

#include <stdlib.h>

/* The guest's TAP: "Bail out!" ends this part of the run (run.sh counts it). */
static void die(const char *what) __attribute__((noreturn));
static void die(const char *what)
{
	printf("Bail out! %s: %s\n", what, strerror(errno));
	exit(1);
}

/* One check; run.sh numbers it.  Flushed: a child process may print next. */
static inline void tap(int cond, const char *what, const char *detail)
{
	printf("%s 0 - %s%s%s\n", cond ? "ok" : "not ok", what, detail ? ": " : "",
	       detail ? detail : "");
	fflush(stdout);
}

/* The device's cdev, /dev/vfio/devices/vfioN, named by its vfio-dev/ in sysfs. */
static inline void cdev_node(const char *uuid, char *node, size_t size)
{
	char dir[PATH_MAX];
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "/sys/bus/mdev/devices/%s/vfio-dev", uuid);
	d = opendir(dir);
	if (!d)
		die(dir);
	node[0] = 0;
	while ((e = readdir(d)) && !node[0])
		if (!strncmp(e->d_name, "vfio", 4))
			snprintf(node, size, "/dev/vfio/devices/%s", e->d_name);
	closedir(d);
	if (!node[0])
		die("no vfio cdev in vfio-dev/");
}

/*
 * The cdev path by hand, as cloud-hypervisor does it: the device's cdev,
 * bound to the caller's iommufd and attached to its IOAS.  The library
 * then adopts the fd.
 */
static inline int open_device_cdev(int iommufd, uint32_t ioas, const char *uuid)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind), .iommufd = iommufd };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach), .pt_id = ioas };
	char node[PATH_MAX];
	int fd;

	cdev_node(uuid, node, sizeof(node));
	fd = open(node, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die(node);
	if (ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind) < 0)
		die("VFIO_DEVICE_BIND_IOMMUFD");
	if (ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach) < 0)
		die("VFIO_DEVICE_ATTACH_IOMMUFD_PT");
	return fd;
}

static inline uint32_t ioas_alloc(int iommufd)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };

	if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc) < 0)
		die("IOMMU_IOAS_ALLOC");
	return alloc.out_ioas_id;
}

static inline uint64_t bar0_offset(int fd)
{
	struct vfio_region_info info = { .argsz = sizeof(info), .index = 0 };

	if (ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &info) < 0)
		die("VFIO_DEVICE_GET_REGION_INFO");
	return info.offset;
}

/* UART register @reg of port 0, through BAR0 (region 0). */
static inline int uart_write(int fd, int reg, uint8_t v)
{
	return pwrite(fd, &v, 1, (off_t)(bar0_offset(fd) + (uint64_t)reg)) == 1 ? 0 : -errno;
}

static inline int uart_read(int fd, int reg)
{
	uint8_t v;

	return pread(fd, &v, 1, (off_t)(bar0_offset(fd) + (uint64_t)reg)) == 1 ? v : -errno;
}

#endif
