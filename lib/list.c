/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Listing the VFIO devices of this host from sysfs. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "private.h"
#include "sysfs.h"

/* Walks one bus directory; unless @any_driver, only VFIO drivers count. A count or -errno. */
static int list_bus(const char *bus_dir, bool any_driver,
		    int (*fn)(void *, const char *, const char *), void *userdata)
{
	char dev_dir[PATH_MAX];
	struct dirent *de;
	int n = 0, r = 0;
	DIR *d = opendir(bus_dir);

	if (!d)
		return 0;	/* no such bus on this host */
	while (r >= 0 && (de = readdir(d))) {
		struct vfiomig_identity id = { 0 };

		if (de->d_name[0] == '.')
			continue;
		snprintf(dev_dir, sizeof(dev_dir), "%s/%s", bus_dir, de->d_name);
		vfiomig_sysfs_identity(dev_dir, &id);
		if (!id.driver[0] || (!any_driver && !vfiomig_driver_is_vfio(id.driver)))
			continue;
		r = fn(userdata, de->d_name, id.driver);
		n++;
	}
	closedir(d);
	return r < 0 ? r : n;
}

VFIOMIG_EXPORT int vfiomig_list_devices(struct vfiomig_ctx *ctx,
					int (*fn)(void *userdata, const char *spec,
						  const char *driver),
					void *userdata)
{
	int pci, mdev;

	if (!ctx || !fn)
		return -EINVAL;
	pci = list_bus("/sys/bus/pci/devices", false, fn, userdata);
	if (pci < 0)
		return pci;
	/* Every bound mdev is a VFIO device: its parent driver (mtty, ...) decides. */
	mdev = list_bus("/sys/bus/mdev/devices", true, fn, userdata);
	return mdev < 0 ? mdev : pci + mdev;
}
