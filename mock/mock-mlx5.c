// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * personality=mlx5 on the resume side: the record framing read the way
 * mlx5_vfio_pci's mlx5vf_resume_write() reads it (uAPI reference 5.2),
 * written from that description and sharing no code with the library's
 * lib/vendor/vendor-mlx5.c, so that a bug in one cannot hide in the other.  The
 * FW_DATA payload, the mock's own stream, goes on to mock-parser.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mock-content.h"
#include "util.h"

void mock_mlx5_rx_init(struct mock_mlx5_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
}

static int rx_fail(struct mock_mlx5_rx *rx, int err, const char *what)
{
	snprintf(rx->why, sizeof(rx->why), "mlx5 record %" PRIu64 " at stream "
		 "byte %" PRIu64 ": %s", rx->records, rx->pos - MOCK_MLX5_HDR, what);
	rx->err = err;
	return err;
}

/* A complete header, checked in the driver's order. */
static int rx_header(struct mock_mlx5_rx *rx)
{
	uint64_t size = get_le64(rx->hdr);
	uint32_t flags = get_le32(rx->hdr + 8), tag = get_le32(rx->hdr + 12);

	if (size > MOCK_MLX5_MAX_LOAD)
		return rx_fail(rx, -ENOMEM, "record size over 2^32 - 1");
	if (tag != MOCK_MLX5_FW_DATA && tag != MOCK_MLX5_STOP_COPY_SIZE &&
	    !(flags & MOCK_MLX5_OPTIONAL))
		return rx_fail(rx, -EOPNOTSUPP, "unknown mandatory tag");
	rx->fw_data = tag == MOCK_MLX5_FW_DATA;
	rx->remaining = size;
	rx->records++;
	return 0;
}

int mock_mlx5_rx_feed(struct mock_mlx5_rx *rx, const void *data, size_t len,
		      mock_mlx5_sink sink, void *arg)
{
	const uint8_t *buf = data;

	while (len && !rx->err) {
		size_t n;

		if (rx->remaining) {
			n = rx->remaining < len ? (size_t)rx->remaining : len;
			if (rx->fw_data && sink)
				sink(arg, buf, n);
			rx->remaining -= n;
		} else {
			n = MOCK_MLX5_HDR - rx->have < len ? MOCK_MLX5_HDR - rx->have : len;
			memcpy(rx->hdr + rx->have, buf, n);
			rx->have += n;
		}
		rx->pos += n;
		buf += n;
		len -= n;
		if (rx->have == MOCK_MLX5_HDR) {
			rx->have = 0;
			rx_header(rx);
		}
	}
	return rx->err;
}
