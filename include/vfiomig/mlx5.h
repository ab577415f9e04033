/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiomig: firmware capability diagnostics for NVIDIA/Mellanox mlx5
 * devices.  Whether mlx5_vfio_pci offers migration for a VF, and with which
 * flags, is decided by a few bits of the firmware's QUERY_HCA_CAP output
 * and by the kernel's version (docs/mlx5.md, "Firmware capability
 * diagnostics").  Decoding is pure and always available; reading the bits
 * from a device needs a library built with rdma-core's headers
 * (-Dmlx5=enabled) and, when it runs, rdma-core's libibverbs and libmlx5,
 * which it loads with dlopen() (the library does not link them).
 */
#ifndef VFIOMIG_MLX5_H
#define VFIOMIG_MLX5_H

#include <stddef.h>
#include <stdint.h>

#include <vfiomig/common.h>
#include <vfiomig/ctx.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The capability bits and what mlx5_vfio_pci would do with them.  Each bit
 * field is 1 (set), 0 (clear) or -1 (not known: the firmware's answer was
 * not available).
 *
 * The offsets are those of the kernel's include/linux/mlx5/mlx5_ifc.h
 * (docs/mlx5.md).  The fields after @missing came later: a caller's @sz
 * says whether it has them.
 */
struct vfiomig_mlx5_caps {
	size_t sz;			/* sizeof(struct vfiomig_mlx5_caps) */
	/* cmd_hca_cap (the PF's general device capabilities) */
	int migration;			/* bit 0x68d */
	/* cmd_hca_cap_2 */
	int migratable;			/* bit 0x80, the VF's (read by Linux 6.3+) */
	int migration_multi_load;	/* bit 0xc8 */
	int migration_tracking_state;	/* bit 0xc9 */
	int migration_in_chunks;	/* bit 0xd0 */
	int migration_state;		/* bit 0xd9 */
	/* The kernel the verdict is for ("6.12.0-amd64" gives 6, 12). */
	unsigned int kernel_major, kernel_minor;
	/* The verdict: 1 if mlx5_vfio_pci offers migration, 0 if not, -1 if
	 * it depends on a bit that is not known. */
	int offered;
	uint64_t mig_flags;		/* VFIOMIG_MIG_* offered; 0 if none */
	int chunk_mode;			/* 1: images are saved in chunks (6.7+) */
	int reinit;			/* 1: PRECOPY_INFO can report REINIT (7.1+) */
	/*
	 * What is missing, one sentence per line ("\n"-separated), each
	 * naming the firmware setting or the kernel version that provides
	 * it; "" if nothing is.  Also lists what only limits the flags (no
	 * PRE_COPY) or was not checked.
	 */
	char missing[1024];
	/* cmd_hca_cap.adv_virtualization (bit 0x579): the firmware's page
	 * tracker, which mlx5_vfio_pci's dirty tracking needs (6.1+). */
	int adv_virtualization;
	/* The verdict: 1 if mlx5_vfio_pci offers dirty tracking
	 * (VFIO_DEVICE_FEATURE_DMA_LOGGING_*), 0 if not, -1 if not known. */
	int dirty_tracking;
	/*
	 * The page tracker's limits, from the ADV_VIRTUALIZATION capability
	 * (type 0x26, vfiomig_mlx5_caps_decode_adv_virtualization()); -1 if
	 * not read.  Each is a field of that layout at the bits given.
	 */
	int pg_track_log_max_num;	/* bits 0x03-0x07 */
	int pg_track_max_num_range;	/* bits 0x08-0x0f: ranges beyond are merged */
	int pg_track_log_min_addr_space; /* bits 0x10-0x17 */
	int pg_track_log_max_addr_space; /* bits 0x18-0x1f */
	int pg_track_log_min_msg_size;	/* bits 0x23-0x27 */
	int pg_track_log_max_msg_size;	/* bits 0x2b-0x2f */
	int pg_track_log_min_page_size;	/* bits 0x33-0x37 */
	int pg_track_log_max_page_size;	/* bits 0x3b-0x3f */
};

/**
 * vfiomig_mlx5_caps_decode() - What mlx5_vfio_pci makes of these capabilities
 * @hca_cap: the cmd_hca_cap layout (QUERY_HCA_CAP, op_mod general device
 *           capabilities, current values): the output's capability field,
 *           without the 16-byte status header
 * @len: its length in bytes; at least 210 (up to bit 0x68d; it also holds
 *       adv_virtualization, bit 0x579)
 * @hca_cap2: the cmd_hca_cap_2 layout the same way, or NULL if the firmware
 *            has no cap_2 (its bits then read as clear, as the kernel
 *            reads them); its migratable bit stands for the VF's
 * @len2: its length in bytes; at least 28 (up to bit 0xd9); 0 with NULL
 * @kernel_release: the kernel the verdict is for, as uname -r prints it
 * @ret: filled with the bits and the verdict; @ret->sz must be set
 *
 * Pure: no device, no system call; available in every build.  The page
 * tracker's limits read as -1: vfiomig_mlx5_caps_decode_adv_virtualization()
 * adds them.
 *
 * Return: 0; -EINVAL if a buffer is NULL or too short, @kernel_release does
 *         not start with MAJOR.MINOR, or @ret->sz is too small.
 * Since: 0.3
 */
VFIOMIG_API int vfiomig_mlx5_caps_decode(const void *hca_cap, size_t len,
					 const void *hca_cap2, size_t len2,
					 const char *kernel_release,
					 struct vfiomig_mlx5_caps *ret);

/**
 * vfiomig_mlx5_caps_decode_adv_virtualization() - Add the page tracker's limits
 * @adv_cap: the adv_virtualization_cap layout (QUERY_HCA_CAP, capability
 *           type 0x26 MLX5_CAP_ADV_VIRTUALIZATION, current values), without
 *           the 16-byte status header; the firmware has it only when
 *           cmd_hca_cap.adv_virtualization is set
 * @len: its length in bytes; at least 8 (up to bit 0x3f)
 * @caps: as vfiomig_mlx5_caps_decode() filled it, with adv_virtualization
 *        1; its pg_track_* fields are filled, nothing else changes
 *
 * Pure, like vfiomig_mlx5_caps_decode().  The limits do not change the
 * verdict: mlx5_vfio_pci offers dirty tracking whatever they are, and
 * applies them when tracking starts (docs/mlx5.md).
 *
 * Return: 0; -EINVAL if a pointer is NULL, @len is too short, @caps->sz
 *         has no room for the limits, or @caps->adv_virtualization is not 1.
 * Since: 0.3
 */
VFIOMIG_API int vfiomig_mlx5_caps_decode_adv_virtualization(const void *adv_cap, size_t len,
							    struct vfiomig_mlx5_caps *caps);

/**
 * vfiomig_mlx5_caps_query() - Read an mlx5 device's capabilities and decode them
 * @pci_address: the PF, or one of its VFs ("0000:3b:00.2"); a VF is
 *               followed to its PF (sysfs physfn)
 * @ret: as vfiomig_mlx5_caps_decode() fills it, for the running kernel
 *
 * Opens the PF's RDMA device (it must be bound to mlx5_core with mlx5_ib
 * loaded) and sends QUERY_HCA_CAP through mlx5dv_devx_general_cmd() for the
 * general and cap_2 capabilities, and, when adv_virtualization is set, for
 * the ADV_VIRTUALIZATION capability (the page tracker's limits; -1 if the
 * firmware refuses).  For a VF it also asks for the VF's cap_2
 * (other_function); if the firmware refuses that, @ret->migratable is -1
 * and the verdict says it was not checked.  rdma-core's libibverbs.so.1
 * and libmlx5.so.1 are loaded (dlopen()) by the first call and stay
 * loaded; the library does not link them.
 *
 * Return: 0; -EOPNOTSUPP if the library was built without libmlx5
 *         (-Dmlx5=disabled), or libibverbs.so.1 or libmlx5.so.1 cannot be
 *         loaded or lacks a call (the sentence names the library and its
 *         Debian package); -ENODEV if no RDMA device belongs to that PF;
 *         -EINVAL for a malformed address; other -errno from libibverbs or
 *         the firmware.  vfiomig_ctx_get_error() says what happened.
 * Since: 0.3
 */
VFIOMIG_API int vfiomig_mlx5_caps_query(struct vfiomig_ctx *ctx, const char *pci_address,
					struct vfiomig_mlx5_caps *ret);

#ifdef __cplusplus
}
#endif

#endif
