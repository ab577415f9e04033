/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Listing the VFIO devices of this host from sysfs. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "call.h"
#include "export.h"
#include "identity.h"
#include "log.h"
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

static int list_devices(struct vfiomig_ctx *ctx,
			int (*fn)(void *, const char *, const char *), void *userdata)
{
	int pci, mdev;

	if (!fn)
		return vfiomig_fail(ctx, -EINVAL, "listing devices needs a function to call for each");
	pci = list_bus("/sys/bus/pci/devices", false, fn, userdata);
	/* Every bound mdev is a VFIO device: its parent driver (mtty, ...) decides. */
	mdev = pci < 0 ? 0 : list_bus("/sys/bus/mdev/devices", true, fn, userdata);
	if (pci < 0 || mdev < 0)
		return vfiomig_fail(ctx, pci < 0 ? pci : mdev,
				    "listing devices stopped: the caller's function returned %d",
				    pci < 0 ? pci : mdev);
	return pci + mdev;
}

VFIOMIG_EXPORT int vfiomig_ctx_list_devices(struct vfiomig_ctx *ctx,
					    int (*fn)(void *userdata, const char *spec,
						      const char *driver),
					    void *userdata)
{
	struct call c;
	int r = call_begin_ctx(&c, ctx);

	if (r == 0)
		r = list_devices(ctx, fn, userdata);
	return call_end(&c, r);
}
