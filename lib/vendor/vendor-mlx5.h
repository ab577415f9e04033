/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the mlx5 backend learned of a stream it parsed (docs/mlx5.md). */
#ifndef VFIOMIG_VENDOR_MLX5_H
#define VFIOMIG_VENDOR_MLX5_H

#include "vendor.h"

/* Which kernel's framing the stream has; the values are in the stream's
 * VENDOR_SUMMARY record (docs/stream-format.md). */
enum mlx5_generation {
	MLX5_GEN_NONE = 0,		/* no record yet */
	MLX5_GEN_HEADERLESS = 1,	/* 5.18-6.1; 6.2-6.8 without pre-copy FW */
	MLX5_GEN_HEADER = 2,		/* 16-byte headers, no STOP_COPY_SIZE (6.2+) */
	MLX5_GEN_TAGGED = 3,		/* STOP_COPY_SIZE seen: 6.3+ */
};

struct mlx5_summary {
	enum mlx5_generation generation;
	bool have_stop_copy_size;
	uint64_t stop_copy_size;	/* the last STOP_COPY_SIZE hint */
	uint64_t fw_records, fw_bytes;	/* FW_DATA headers, their sizes */
	uint64_t skipped;		/* unknown optional records */
};

/* Of a parser of the mlx5 backend. */
void mlx5_parser_summary(const struct vendor_parser *p, struct mlx5_summary *sum);
const char *mlx5_generation_name(enum mlx5_generation g);

#endif
