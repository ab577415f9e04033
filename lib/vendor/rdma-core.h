/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rdma-core's calls that the mlx5 capability query makes, opened with
 * dlopen() for each query and closed after it (the libraries stay loaded
 * once loaded): libvfiomig.so has no DT_NEEDED on rdma-core, which only
 * this diagnostic uses (built with -Dmlx5, which needs rdma-core's
 * headers, not its libraries).
 */
#ifndef VFIOMIG_RDMA_CORE_H
#define VFIOMIG_RDMA_CORE_H

#include <infiniband/mlx5dv.h>
#include <infiniband/verbs.h>

#include "export.h"

enum { RDMA_VERBS, RDMA_MLX5, RDMA_LIBS };

/* The prototypes are the headers' own, so the compiler checks each call. */
struct rdma_core {
	void *lib[RDMA_LIBS];
	__typeof__(ibv_get_device_list) *get_device_list;
	__typeof__(ibv_free_device_list) *free_device_list;
	__typeof__(ibv_get_device_name) *get_device_name;
	__typeof__(ibv_close_device) *close_device;
	__typeof__(mlx5dv_is_supported) *is_supported;
	__typeof__(mlx5dv_open_device) *open_device;
	__typeof__(mlx5dv_devx_general_cmd) *devx_general_cmd;
};

/* Opens libibverbs and libmlx5 and fills @rc; -EOPNOTSUPP (recorded on
 * @ctx, naming the library and its package) if either is missing or too
 * old.  On success rdma_core_close() must follow. */
int rdma_core_open(struct vfiomig_ctx *ctx, struct rdma_core *rc);
void rdma_core_close(struct rdma_core *rc);

#endif
