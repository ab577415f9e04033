/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What sysfs and procfs say about VFIO devices. */
#ifndef VFIOMIG_SYSFS_H
#define VFIOMIG_SYSFS_H

#include <stddef.h>

#include "identity.h"

/* Driver name and PCI IDs of the device directory @devdir (best effort). */
/* The basename of the link @dir/@link points to, into @buf: 0 or -errno. */
int vfiomig_sysfs_link_base(const char *dir, const char *link, char *buf, size_t size);
void vfiomig_sysfs_identity(const char *devdir, struct vfiomig_identity *id);
/* IOMMU group number of @devdir; -ENOENT if it has none. */
int vfiomig_sysfs_group(const char *devdir);
/* "vfioN" of @devdir's cdev into @name; -ENOENT if it has none. */
int vfiomig_sysfs_cdev_name(const char *devdir, char *name, size_t size);
/* The devices of @group not bound to a VFIO driver, as "a (drv), b (none)". */
void vfiomig_sysfs_group_blockers(int group, char *buf, size_t size);
/*
 * The sysfs directory of a VFIO device fd: from its fdinfo, where the
 * kernel prints it (not 6.12), else, for an fd of a vfio cdev, from the
 * char device's number; -ENOENT with @path "" for a group's device fd on a
 * kernel whose fdinfo does not name the device.
 */
int vfiomig_sysfs_from_fd(int fd, char *path, size_t size);
/* The sysfs directory of cdev "vfioN". */
int vfiomig_sysfs_from_cdev(const char *cdev_name, char *path, size_t size);
/* /sys/module/MODULE/version of @driver's module (an out-of-tree driver
 * has one, an in-tree one seldom): 0, or -ENOENT if there is none. */
int vfiomig_sysfs_module_version(const char *driver, char *buf, size_t size);
/* The firmware version of the PF of VF @pci_address, from its RDMA
 * device's fw_ver ("22.39.1002"): 0 or -errno. */
int vfiomig_sysfs_pf_fw_version(const char *pci_address, char *buf, size_t size);
/* Whether a driver name is one that exposes devices through VFIO. */
bool vfiomig_driver_is_vfio(const char *driver);

#endif
