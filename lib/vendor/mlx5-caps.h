/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mlx5 firmware capability diagnostics: the decoding (mlx5-caps.c, pure)
 * and the one libmlx5 call that reads the bits (mlx5-caps-query.c, built
 * only with -Dmlx5, through the rdma-core that rdma-core.c loads).
 */
#ifndef VFIOMIG_MLX5_CAPS_H
#define VFIOMIG_MLX5_CAPS_H

#include "export.h"

#include <stddef.h>
#include <stdint.h>

#include <vfiomig/mlx5.h>

/*
 * QUERY_HCA_CAP's capability field is 4 KiB (mlx5_ifc.h's hca_cap_union);
 * the decoding reads only the bytes up to its highest bit.
 */
#define MLX5_CAP_BYTES 4096

/* cmd_hca_cap_2.migratable (reference 5.1), which the query reads for a VF. */
#define MLX5_CAP2_MIGRATABLE 0x80

/* cmd_hca_cap.adv_virtualization (mlx5_ifc.h's struct mlx5_ifc_cmd_hca_cap_bits,
 * between reserved_at_570[0x9] and reserved_at_57a), which decides whether
 * the query asks for the ADV_VIRTUALIZATION capability. */
#define MLX5_CAP_ADV_VIRTUALIZATION_BIT 0x579

/* What mlx5_caps_read() got from the firmware. */
struct mlx5_caps_raw {
	uint8_t cap[MLX5_CAP_BYTES];
	uint8_t cap2[MLX5_CAP_BYTES];
	uint8_t adv[MLX5_CAP_BYTES];	/* ADV_VIRTUALIZATION (type 0x26) */
	bool have_cap2;		/* the firmware answered the cap_2 query */
	bool have_adv;		/* the firmware answered the ADV_VIRTUALIZATION query */
	int vf_migratable;	/* the VF's cap_2 migratable: 1, 0, or -1 if not read */
};

/* Reads the PF's general and cap_2 capabilities, its ADV_VIRTUALIZATION
 * capability when adv_virtualization is set, and the VF's cap_2
 * migratable bit when @pci_address is a VF.  -EOPNOTSUPP (recorded on
 * @ctx) in a build without libmlx5, or without rdma-core installed. */
int mlx5_caps_read(struct vfiomig_ctx *ctx, const char *pci_address,
		   struct mlx5_caps_raw *raw);

/* The verdict of @c's bits and kernel version, into @c. */
void mlx5_caps_judge(struct vfiomig_mlx5_caps *c);

/* vfiomig_mlx5_caps_query() inside a call (a device's profile). */
int mlx5_caps_query(struct vfiomig_ctx *ctx, const char *pci_address,
		    struct vfiomig_mlx5_caps *ret);

#endif
