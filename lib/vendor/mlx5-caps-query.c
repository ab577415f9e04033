/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libmlx5 side of the mlx5 capability diagnostics, kept thin: find the
 * PF's RDMA device, open it with DEVX, and send QUERY_HCA_CAP through
 * mlx5dv_devx_general_cmd() (a command the kernel's DEVX general-command
 * list allows).  Built only with -Dmlx5; rdma-core is reached through the
 * pointers rdma-core.c loads; mlx5-caps.c decodes.
 *
 * Command layouts (the kernel's and rdma-core's mlx5_ifc.h, not the
 * reference; untested on hardware here):
 *   query_hca_cap_in, 16 bytes: opcode [0x00,16], op_mod [0x30,16],
 *     other_function [0x40,1], function_id [0x50,16]
 *   query_hca_cap_out: status [0x00,8], syndrome [0x20,32], then the
 *     4 KiB capability union at byte 16
 *   op_mod = (capability type << 1) | 1 (current values); general = 0,
 *     cap_2 = 0x20 (include/linux/mlx5/device.h, MLX5_CAP_GENERAL_2),
 *     ADV_VIRTUALIZATION = 0x26 (MLX5_CAP_ADV_VIRTUALIZATION)
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlx5-caps.h"
#include "rdma-core.h"
#include "sysfs.h"
#include "log.h"

#define QUERY_HCA_CAP		0x100
#define CAP_TYPE_GENERAL	0x00
#define CAP_TYPE_GENERAL_2	0x20
#define CAP_TYPE_ADV_VIRTUALIZATION	0x26
#define CMD_IN_BYTES		16
#define CMD_OUT_HEADER		16

/* The PF of @addr (itself if it is not a VF) and, for a VF, its index. */
static int find_pf(struct vfiomig_ctx *ctx, const char *addr, char *pf, size_t size,
		   int *ret_vf)
{
	char dir[PATH_MAX], name[64];
	struct dirent *e;
	DIR *d;

	*ret_vf = -1;
	if (strchr(addr, '/'))
		return vfiomig_fail(ctx, -EINVAL, "%s: not a PCI address", addr);
	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s", addr);
	if (access(dir, F_OK) < 0)
		return vfiomig_fail(ctx, -ENODEV, "%s: no such PCI device", addr);
	if (vfiomig_sysfs_link_base(dir, "physfn", pf, size) < 0) {
		snprintf(pf, size, "%s", addr);
		return 0;
	}
	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s", pf);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "virtfn", 6) == 0 &&
		    vfiomig_sysfs_link_base(dir, e->d_name, name, sizeof(name)) == 0 &&
		    strcmp(name, addr) == 0) {
			*ret_vf = atoi(e->d_name + 6);
			break;
		}
	}
	closedir(d);
	return 0;
}

static struct ibv_context *open_pf(struct vfiomig_ctx *ctx, const struct rdma_core *rc,
				   const char *pf, int *ret_err)
{
	struct mlx5dv_context_attr attr = { .flags = MLX5DV_CONTEXT_FLAGS_DEVX };
	struct ibv_device **list = rc->get_device_list(NULL);
	struct ibv_context *ibctx = NULL;
	char name[64];

	*ret_err = -ENODEV;
	for (int i = 0; list && list[i]; i++) {
		if (vfiomig_sysfs_link_base(list[i]->ibdev_path, "device", name, sizeof(name)) < 0 ||
		    strcmp(name, pf) != 0)
			continue;
		if (!rc->is_supported(list[i])) {
			*ret_err = vfiomig_fail(ctx, -ENODEV, "%s: RDMA device %s is not an mlx5 "
						"device", pf, rc->get_device_name(list[i]));
			break;
		}
		ibctx = rc->open_device(list[i], &attr);
		if (!ibctx)
			*ret_err = vfiomig_fail(ctx, errno ? -errno : -EIO,
						"%s: opening RDMA device %s with DEVX failed: %s",
						pf, rc->get_device_name(list[i]), strerror(errno));
		break;
	}
	if (list)
		rc->free_device_list(list);
	if (!ibctx && *ret_err == -ENODEV)
		vfiomig_fail(ctx, -ENODEV, "%s: no RDMA device belongs to this PF (it must be "
			     "bound to mlx5_core with mlx5_ib loaded)", pf);
	return ibctx;
}

/* QUERY_HCA_CAP of @type; @vport > 0 asks for that function's (other_function). */
static int query_cap(const struct rdma_core *rc, struct ibv_context *ibctx, unsigned int type,
		     int vport, uint8_t *cap)
{
	uint8_t in[CMD_IN_BYTES] = { 0 };
	uint8_t *out = calloc(1, CMD_OUT_HEADER + MLX5_CAP_BYTES);
	unsigned int op_mod = (type << 1) | 1;
	int r;

	if (!out)
		return -ENOMEM;
	in[0] = QUERY_HCA_CAP >> 8;
	in[1] = QUERY_HCA_CAP & 0xff;
	in[6] = op_mod >> 8;
	in[7] = op_mod & 0xff;
	if (vport > 0) {
		in[8] = 0x80;
		in[10] = vport >> 8;
		in[11] = vport & 0xff;
	}
	r = rc->devx_general_cmd(ibctx, in, sizeof(in), out, CMD_OUT_HEADER + MLX5_CAP_BYTES);
	if (r > 0)
		r = -r;
	if (r == 0 && out[0] != 0)
		r = -EIO;	/* a firmware status the kernel did not turn into an errno */
	if (r == 0)
		memcpy(cap, out + CMD_OUT_HEADER, MLX5_CAP_BYTES);
	free(out);
	return r;
}

static int read_caps(struct vfiomig_ctx *ctx, const struct rdma_core *rc,
		     const char *pci_address, struct mlx5_caps_raw *raw)
{
	struct ibv_context *ibctx;
	uint8_t *vf_cap2;
	char pf[64];
	int vf, r;

	r = find_pf(ctx, pci_address, pf, sizeof(pf), &vf);
	if (r < 0)
		return r;
	ibctx = open_pf(ctx, rc, pf, &r);
	if (!ibctx)
		return r;
	r = query_cap(rc, ibctx, CAP_TYPE_GENERAL, 0, raw->cap);
	if (r < 0) {
		r = vfiomig_fail(ctx, r, "%s: QUERY_HCA_CAP (general) failed: %s", pf,
				 strerror(-r));
		goto out;
	}
	/* Firmware without cap_2 refuses the query: its bits read as clear. */
	raw->have_cap2 = query_cap(rc, ibctx, CAP_TYPE_GENERAL_2, 0, raw->cap2) == 0;
	/* The firmware has this type only with adv_virtualization set. */
	if ((raw->cap[MLX5_CAP_ADV_VIRTUALIZATION_BIT / 8] >>
	     (7 - MLX5_CAP_ADV_VIRTUALIZATION_BIT % 8)) & 1) {
		raw->have_adv = query_cap(rc, ibctx, CAP_TYPE_ADV_VIRTUALIZATION, 0, raw->adv) == 0;
		if (!raw->have_adv)
			dbg(ctx, "%s: the firmware did not give its ADV_VIRTUALIZATION "
			    "capability", pf);
	}
	raw->vf_migratable = -1;
	if (vf >= 0) {
		vf_cap2 = malloc(MLX5_CAP_BYTES);
		/* function_id of a VF = its vport = VF index + 1 (mlx5_vfio_pci's). */
		if (vf_cap2 && query_cap(rc, ibctx, CAP_TYPE_GENERAL_2, vf + 1, vf_cap2) == 0)
			raw->vf_migratable = (vf_cap2[MLX5_CAP2_MIGRATABLE / 8] >>
					     (7 - MLX5_CAP2_MIGRATABLE % 8)) & 1;
		else
			dbg(ctx, "%s: the firmware did not give VF %d's cap_2", pf, vf);
		free(vf_cap2);
	}
out:
	rc->close_device(ibctx);
	return r;
}

int mlx5_caps_read(struct vfiomig_ctx *ctx, const char *pci_address,
		   struct mlx5_caps_raw *raw)
{
	struct rdma_core rc;
	int r;

	/* First: without rdma-core, no address can be read. */
	r = rdma_core_open(ctx, &rc);
	if (r < 0)
		return r;
	r = read_caps(ctx, &rc, pci_address, raw);
	rdma_core_close(&rc);
	return r;
}
