/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfiomig_dev_get_profile(): what decides whether a device's state loads elsewhere. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "dev.h"
#include "export.h"
#include "mlx5-caps.h"
#include "profile.h"
#include "sysfs.h"
#include "vendor.h"

static void driver_version(const struct vfiomig_dev *dev, struct vfiomig_profile *p)
{
	struct utsname u;

	if (strcmp(dev->transport_name, "mock") != 0 && dev->id.driver[0] &&
	    vfiomig_sysfs_module_version(dev->id.driver, p->driver_version,
					 sizeof(p->driver_version)) == 0) {
		p->version_source = PROFILE_VERSION_MODULE;
		return;
	}
	/* An in-tree driver (and the mock, the library's own) is the kernel's. */
	if (uname(&u) < 0)
		return;
	snprintf(p->driver_version, sizeof(p->driver_version), "%s", u.release);
	p->version_source = PROFILE_VERSION_KERNEL;
}

/*
 * An mlx5 VF's firmware: its capabilities through libmlx5 (-Dmlx5), its
 * version from the PF's RDMA device.  Best effort: what cannot be read is
 * unknown, and the profile says why; the call does not fail for it.
 */
static void mlx5(struct vfiomig_dev *dev, struct vfiomig_profile *p)
{
	struct vfiomig_mlx5_caps caps = { .sz = sizeof(caps) };
	int r;

	if (!p->id.has_pci_ids || p->id.vendor != 0x15b3 || p->id.device != 0x101e)
		return;
	if (strcmp(dev->transport_name, "mock") == 0) {
		snprintf(p->mlx5_why, sizeof(p->mlx5_why), "a mock device has no firmware");
		return;
	}
	r = mlx5_caps_query(dev->ctx, dev->key, &caps);
	if (r < 0) {
		snprintf(p->mlx5_why, sizeof(p->mlx5_why), "the firmware's capabilities could "
			 "not be read (%s): vfiomig-ctl info %s says why", strerror(-r), dev->key);
		return;
	}
	p->has |= PROFILE_HAS_MLX5;
	p->mlx5_migration = caps.migration > 0;
	p->mlx5_migratable = caps.migratable > 0;
	p->mlx5_chunks = caps.migration_in_chunks > 0;
	if (caps.pg_track_log_min_page_size >= 12 &&
	    caps.pg_track_log_max_page_size >= caps.pg_track_log_min_page_size &&
	    caps.pg_track_log_max_page_size < 64) {
		p->has |= PROFILE_HAS_DMA_PAGES;
		p->dma_page_min = 1ull << caps.pg_track_log_min_page_size;
		p->dma_page_max = 1ull << caps.pg_track_log_max_page_size;
	}
	if (vfiomig_sysfs_pf_fw_version(dev->key, p->mlx5_firmware, sizeof(p->mlx5_firmware)) < 0)
		p->mlx5_firmware[0] = '\0';
}

static int get_profile(struct vfiomig_dev *dev, struct vfiomig_profile **ret)
{
	struct vfiomig_profile *p;

	if (!ret)
		return vfiomig_fail(dev->ctx, -EINVAL, "%s: no place to return the profile",
				    dev->name);
	p = calloc(1, sizeof(*p));
	if (!p)
		return vfiomig_fail(dev->ctx, -ENOMEM, "%s: out of memory", dev->name);
	snprintf(p->name, sizeof(p->name), "%s", dev->name);
	p->id = dev->id;
	snprintf(p->backend, sizeof(p->backend), "%s", dev->backend->name);
	driver_version(dev, p);
	p->mig_flags = dev->mig_flags;
	p->dma_logging = dev->caps & VFIOMIG_CAP_DMA_LOGGING;
	p->has = PROFILE_HAS_MIG_FLAGS | PROFILE_HAS_DMA_LOGGING;
	if (dev_stop_copy_size(dev, &p->state_size) == 0)
		p->has |= PROFILE_HAS_STATE_SIZE;
	mlx5(dev, p);
	*ret = p;
	return 0;
}

VFIOMIG_EXPORT int vfiomig_dev_get_profile(struct vfiomig_dev *dev, struct vfiomig_profile **ret)
{
	struct call c;
	int r = call_begin_dev(&c, dev, CALL_QUERY);

	if (r == 0)
		r = get_profile(dev, ret);
	return call_end(&c, r);
}
