/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What mlx5_vfio_pci makes of the firmware's capability bits, per kernel
 * version (../shared/reference/vfio-migration-uapi.md, section 5.1).  The
 * bit offsets are those of the kernel's mlx5_ifc.h as the reference quotes
 * them; the reference has none for the dirty-tracking fields, whose offsets
 * were counted from mlx5_ifc.h itself (Linux 6.12: struct
 * mlx5_ifc_cmd_hca_cap_bits and mlx5_ifc_adv_virtualization_cap_bits).  The
 * layouts are big-endian bit strings: bit N is in byte N / 8, counted from
 * that byte's most significant bit.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "mlx5-caps.h"
#include "export.h"
#include "call.h"
#include "log.h"
#include "sized.h"
#include <vfiomig/state.h>

/* cmd_hca_cap (reference 5.1: "cmd_hca_cap.migration (bit 0x68d)") */
#define CAP_MIGRATION			0x68d
/* cmd_hca_cap_2 (reference 5.1) */
#define CAP2_MIGRATABLE			MLX5_CAP2_MIGRATABLE
#define CAP2_MIGRATION_MULTI_LOAD	0xc8
#define CAP2_MIGRATION_TRACKING_STATE	0xc9
#define CAP2_MIGRATION_IN_CHUNKS	0xd0
#define CAP2_MIGRATION_STATE		0xd9
/* cmd_hca_cap (mlx5_ifc.h) */
#define CAP_ADV_VIRTUALIZATION		MLX5_CAP_ADV_VIRTUALIZATION_BIT
/* adv_virtualization_cap (mlx5_ifc.h): the first bit and the width */
#define ADV_LOG_MAX_NUM			0x03, 5
#define ADV_MAX_NUM_RANGE		0x08, 8
#define ADV_LOG_MIN_ADDR_SPACE		0x10, 8
#define ADV_LOG_MAX_ADDR_SPACE		0x18, 8
#define ADV_LOG_MIN_MSG_SIZE		0x23, 5
#define ADV_LOG_MAX_MSG_SIZE		0x2b, 5
#define ADV_LOG_MIN_PAGE_SIZE		0x33, 5
#define ADV_LOG_MAX_PAGE_SIZE		0x3b, 5

/* The bytes each layout must have for the bits above. */
#define CAP_MIN_LEN	(CAP_MIGRATION / 8 + 1)
#define CAP2_MIN_LEN	(CAP2_MIGRATION_STATE / 8 + 1)
#define ADV_MIN_LEN	8	/* up to pg_track_log_max_page_size, bit 0x3f */

/* The caller's struct must reach this far for the limits. */
#define CAPS_ADV_END	(offsetof(struct vfiomig_mlx5_caps, pg_track_log_max_page_size) + \
			 sizeof(int))

#define KERNEL(major, minor) ((major) * 1000u + (minor))

static int bit(const void *layout, unsigned int off)
{
	return (((const uint8_t *)layout)[off / 8] >> (7 - off % 8)) & 1;
}

/* The @width-bit field at bit @off, most significant bit first. */
static int field(const void *layout, unsigned int off, unsigned int width)
{
	int v = 0;

	for (unsigned int i = 0; i < width; i++)
		v = v << 1 | bit(layout, off + i);
	return v;
}

static void note(struct vfiomig_mlx5_caps *c, const char *fmt, ...) PRINTF(2, 3);
static void note(struct vfiomig_mlx5_caps *c, const char *fmt, ...)
{
	size_t used = strlen(c->missing);
	va_list ap;

	if (used + 1 >= sizeof(c->missing))
		return;
	if (used)
		c->missing[used++] = '\n';
	va_start(ap, fmt);
	vsnprintf(c->missing + used, sizeof(c->missing) - used, fmt, ap);
	va_end(ap);
}

void mlx5_caps_judge(struct vfiomig_mlx5_caps *c)
{
	unsigned int k = KERNEL(c->kernel_major, c->kernel_minor);
	int precopy = c->migration_multi_load && c->migration_tracking_state;
	const char *precopy_fw = "cmd_hca_cap_2.migration_multi_load and "
		"migration_tracking_state (newer firmware: update the adapter's firmware)";

	c->missing[0] = '\0';
	c->offered = 1;
	c->mig_flags = 0;
	c->chunk_mode = 0;
	c->reinit = 0;
	c->dirty_tracking = 0;
	if (precopy && (c->migration_multi_load < 0 || c->migration_tracking_state < 0))
		precopy = -1;

	if (k < KERNEL(5, 18)) {
		c->offered = 0;
		note(c, "kernel %u.%u has no mlx5_vfio_pci: it needs Linux 5.18 or later",
		     c->kernel_major, c->kernel_minor);
	}
	if (c->migration <= 0) {
		c->offered = c->migration < 0 && c->offered ? -1 : 0;
		note(c, "cmd_hca_cap.migration %s: enable VF migration in the PF's firmware "
		     "(mlxconfig -d PF set VF_MIGRATION_MODE=2, then a firmware reset)",
		     c->migration < 0 ? "not known" : "is clear");
	}
	if (k >= KERNEL(6, 3) && c->migratable <= 0) {
		if (c->migratable == 0)
			c->offered = 0;
		else if (c->offered)
			c->offered = -1;
		note(c, "cmd_hca_cap_2.migratable of the VF %s: Linux 6.3+ needs it "
		     "(devlink port function set PF-PORT migratable enable, on the "
		     "VF's port while the VF is unbound)",
		     c->migratable < 0 ? "not checked" : "is clear");
	}
	if (k >= KERNEL(6, 9) && precopy <= 0) {
		if (precopy == 0)
			c->offered = 0;
		else if (c->offered)
			c->offered = -1;
		note(c, "%s %s: Linux 6.9+ offers no migration without them", precopy_fw,
		     precopy < 0 ? "not known" : "not both set");
	} else if (k >= KERNEL(6, 2) && k < KERNEL(6, 9) && precopy <= 0) {
		note(c, "%s %s: no PRE_COPY", precopy_fw,
		     precopy < 0 ? "not known" : "not both set");
	} else if (k >= KERNEL(5, 18) && k < KERNEL(6, 2)) {
		note(c, "PRE_COPY needs Linux 6.2 or later");
	}
	if (c->offered == 0)
		return;

	c->mig_flags = VFIOMIG_MIG_STOP_COPY | VFIOMIG_MIG_P2P;
	if (k >= KERNEL(6, 2) && precopy > 0)
		c->mig_flags |= VFIOMIG_MIG_PRE_COPY;

	if (k >= KERNEL(6, 7) && c->migration_in_chunks > 0)
		c->chunk_mode = 1;
	else if (k < KERNEL(6, 7))
		note(c, "chunk mode (saved images over 4 GiB) needs Linux 6.7 or later");
	else
		note(c, "cmd_hca_cap_2.migration_in_chunks %s: no chunk mode, "
		     "a saved image is limited to 4 GiB (newer firmware)",
		     c->migration_in_chunks < 0 ? "not known" : "is clear");

	if (k >= KERNEL(7, 1) && c->migration_state > 0 && (c->mig_flags & VFIOMIG_MIG_PRE_COPY))
		c->reinit = 1;
	else if (!(c->mig_flags & VFIOMIG_MIG_PRE_COPY))
		; /* REINIT is a precopy report: nothing to add */
	else if (k < KERNEL(7, 1))
		note(c, "REINIT needs Linux 7.1 or later");
	else
		note(c, "cmd_hca_cap_2.migration_state %s: no REINIT (newer firmware)",
		     c->migration_state < 0 ? "not known" : "is clear");

	/* mlx5_vfio_pci registers log_ops with migration, if adv_virtualization. */
	if (k < KERNEL(6, 1)) {
		note(c, "dirty tracking (DMA_LOGGING) needs Linux 6.1 or later");
	} else if (c->adv_virtualization > 0) {
		c->dirty_tracking = c->offered;
	} else {
		c->dirty_tracking = c->adv_virtualization < 0 ? -1 : 0;
		note(c, "cmd_hca_cap.adv_virtualization %s: no dirty tracking (DMA_LOGGING), "
		     "the VMM must find the VF's dirty pages another way (firmware with "
		     "a page tracker)", c->adv_virtualization < 0 ? "not known" : "is clear");
	}
}

static int decode(const void *hca_cap, size_t len, const void *hca_cap2, size_t len2,
		  const char *kernel_release, struct vfiomig_mlx5_caps *c)
{
	unsigned int major, minor;

	if (!hca_cap || len < CAP_MIN_LEN || (hca_cap2 && len2 < CAP2_MIN_LEN) ||
	    (!hca_cap2 && len2) || !kernel_release ||
	    sscanf(kernel_release, "%u.%u", &major, &minor) != 2 ||
	    major > 0xffff || minor > 999)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	c->sz = sizeof(*c);
	c->kernel_major = major;
	c->kernel_minor = minor;
	c->migration = bit(hca_cap, CAP_MIGRATION);
	c->adv_virtualization = bit(hca_cap, CAP_ADV_VIRTUALIZATION);
	c->pg_track_log_max_num = -1;
	c->pg_track_max_num_range = -1;
	c->pg_track_log_min_addr_space = -1;
	c->pg_track_log_max_addr_space = -1;
	c->pg_track_log_min_msg_size = -1;
	c->pg_track_log_max_msg_size = -1;
	c->pg_track_log_min_page_size = -1;
	c->pg_track_log_max_page_size = -1;
	if (hca_cap2) {
		c->migratable = bit(hca_cap2, CAP2_MIGRATABLE);
		c->migration_multi_load = bit(hca_cap2, CAP2_MIGRATION_MULTI_LOAD);
		c->migration_tracking_state = bit(hca_cap2, CAP2_MIGRATION_TRACKING_STATE);
		c->migration_in_chunks = bit(hca_cap2, CAP2_MIGRATION_IN_CHUNKS);
		c->migration_state = bit(hca_cap2, CAP2_MIGRATION_STATE);
	}
	mlx5_caps_judge(c);
	return 0;
}

/* The page tracker's limits from the adv_virtualization_cap layout. */
static void decode_adv(const void *adv, struct vfiomig_mlx5_caps *c)
{
	c->pg_track_log_max_num = field(adv, ADV_LOG_MAX_NUM);
	c->pg_track_max_num_range = field(adv, ADV_MAX_NUM_RANGE);
	c->pg_track_log_min_addr_space = field(adv, ADV_LOG_MIN_ADDR_SPACE);
	c->pg_track_log_max_addr_space = field(adv, ADV_LOG_MAX_ADDR_SPACE);
	c->pg_track_log_min_msg_size = field(adv, ADV_LOG_MIN_MSG_SIZE);
	c->pg_track_log_max_msg_size = field(adv, ADV_LOG_MAX_MSG_SIZE);
	c->pg_track_log_min_page_size = field(adv, ADV_LOG_MIN_PAGE_SIZE);
	c->pg_track_log_max_page_size = field(adv, ADV_LOG_MAX_PAGE_SIZE);
}

VFIOMIG_EXPORT int vfiomig_mlx5_caps_decode_adv_virtualization(const void *adv_cap, size_t len,
							       struct vfiomig_mlx5_caps *caps)
{
	if (!adv_cap || len < ADV_MIN_LEN || !caps || caps->sz < CAPS_ADV_END ||
	    caps->adv_virtualization != 1)
		return -EINVAL;
	decode_adv(adv_cap, caps);
	return 0;
}

VFIOMIG_EXPORT int vfiomig_mlx5_caps_decode(const void *hca_cap, size_t len,
					    const void *hca_cap2, size_t len2,
					    const char *kernel_release,
					    struct vfiomig_mlx5_caps *ret)
{
	struct vfiomig_mlx5_caps c;
	int r;

	if (!ret || sized_check_out(ret) < 0)
		return -EINVAL;
	r = decode(hca_cap, len, hca_cap2, len2, kernel_release, &c);
	if (r == 0)
		sized_copy_out(ret, &c, sizeof(c));
	return r;
}

#ifndef HAVE_MLX5
int mlx5_caps_read(struct vfiomig_ctx *ctx, const char *pci_address,
		   struct mlx5_caps_raw *raw)
{
	(void)raw;
	return vfiomig_fail(ctx, -EOPNOTSUPP,
			    "%s: reading mlx5 firmware capabilities needs libvfiomig built "
			    "with rdma-core's headers (meson -Dmlx5=enabled, Debian: "
			    "libibverbs-dev); this build has none",
			    pci_address);
}
#endif

int mlx5_caps_query(struct vfiomig_ctx *ctx, const char *pci_address,
		    struct vfiomig_mlx5_caps *ret)
{
	struct mlx5_caps_raw *raw;
	struct vfiomig_mlx5_caps c;
	struct utsname u;
	int r;

	if (!pci_address || !ret || sized_check_out(ret) < 0)
		return vfiomig_fail(ctx, -EINVAL, "no PCI address or no result struct");
	if (uname(&u) < 0)
		return vfiomig_fail(ctx, -errno, "uname: %s", strerror(errno));
	raw = calloc(1, sizeof(*raw));
	if (!raw)
		return vfiomig_fail(ctx, -ENOMEM, "out of memory");
	r = mlx5_caps_read(ctx, pci_address, raw);
	if (r == 0) {
		r = decode(raw->cap, sizeof(raw->cap), raw->have_cap2 ? raw->cap2 : NULL,
			   raw->have_cap2 ? sizeof(raw->cap2) : 0, u.release, &c);
		if (r < 0)
			r = vfiomig_fail(ctx, r, "cannot parse the kernel release \"%s\"",
					 u.release);
	}
	if (r == 0) {
		/* Linux 6.3+ reads migratable in the VF's cap_2, not the PF's. */
		c.migratable = raw->vf_migratable;
		mlx5_caps_judge(&c);
		if (raw->have_adv && c.adv_virtualization > 0)
			decode_adv(raw->adv, &c);
		sized_copy_out(ret, &c, sizeof(c));
	}
	free(raw);
	return r;
}

VFIOMIG_EXPORT int vfiomig_mlx5_caps_query(struct vfiomig_ctx *ctx, const char *pci_address,
					   struct vfiomig_mlx5_caps *ret)
{
	struct call c;
	int r = call_begin_ctx(&c, ctx);

	if (r == 0)
		r = mlx5_caps_query(ctx, pci_address, ret);
	return call_end(&c, r);
}
