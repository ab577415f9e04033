/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Device specs: what a user may name a device by. */
#ifndef VFIOMIG_SPEC_H
#define VFIOMIG_SPEC_H

#include <limits.h>

enum vfiomig_spec_kind {
	VFIOMIG_SPEC_PCI,	/* 0000:3b:00.1 or 3b:00.1 */
	VFIOMIG_SPEC_MDEV,	/* an mdev UUID */
	VFIOMIG_SPEC_CDEV,	/* /dev/vfio/devices/vfioN */
	VFIOMIG_SPEC_SYSFS,	/* /sys/... path of a PCI device or mdev */
};

struct vfiomig_spec {
	enum vfiomig_spec_kind kind;
	/* Canonical name: full PCI address, lower-case UUID, "vfioN", the
	 * or the sysfs path's last component. */
	char name[PATH_MAX];
	/* sysfs device directory (PCI, MDEV, SYSFS) or the cdev node (CDEV). */
	char path[PATH_MAX];
};

/* 0, or -EINVAL for a spec of none of the forms above. */
int vfiomig_spec_parse(const char *spec, struct vfiomig_spec *out);

#endif
