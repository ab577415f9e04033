/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The mlx5_vfio_pci stream (Linux 6.3+, every 6.9+ stream): records of a
 * 16-byte little-endian header { u64 record_size; u32 flags; u32 tag }
 * and record_size bytes of payload.  Tags: FW_DATA (0), the firmware's
 * opaque image; STOP_COPY_SIZE (1), a u64 preallocation hint.  Flag bit 0
 * marks a record optional; the target driver skips unknown optional tags
 * and refuses unknown mandatory ones (EOPNOTSUPP), and refuses records over
 * 2^32 - 1 bytes (ENOMEM).  This parser applies the same rules.
 */
#include <stdio.h>
#include <string.h>

#include "stream.h"
#include "vendor.h"

#define MLX5_HEADER 16
#define MLX5_FLAG_OPTIONAL (1u << 0)
#define MLX5_TAG_FW_DATA 0
#define MLX5_TAG_STOP_COPY_SIZE 1
#define MLX5_MAX_LOAD_SIZE 0xffffffffull

/* Where the parser is in the record stream. */
struct mlx5_state {
	uint8_t header[MLX5_HEADER];
	size_t have;		/* header bytes gathered */
	uint64_t remaining;	/* payload bytes still to pass */
	uint64_t record_start;
	uint32_t tag, flags;
};

static bool mlx5_match(const struct vfiomig_identity *id)
{
	return id->has_pci_ids && id->vendor == 0x15b3 && id->device == 0x101e;
}

/* @index: the record at fault (p->records counts the headers accepted). */
static int mlx5_problem(struct vendor_parser *p, int err, uint64_t index, const char *what)
{
	const struct mlx5_state *m = p->state;

	snprintf(p->problem, sizeof(p->problem), "mlx5 record %llu: %s",
		 (unsigned long long)index, what);
	p->problem_offset = m->record_start;
	return err;
}

static const char *tag_kind(uint32_t tag)
{
	switch (tag) {
	case MLX5_TAG_FW_DATA:
		return "mlx5 FW_DATA";
	case MLX5_TAG_STOP_COPY_SIZE:
		return "mlx5 STOP_COPY_SIZE";
	default:
		return "mlx5 unknown tag";
	}
}

/* A complete header: check it the way the target driver would. */
static int mlx5_header(struct vendor_parser *p)
{
	struct mlx5_state *m = p->state;
	uint64_t size = get_le64(m->header);
	struct vfiomig_stream_record rec;

	m->flags = get_le32(m->header + 8);
	m->tag = get_le32(m->header + 12);
	if (size > MLX5_MAX_LOAD_SIZE)
		return mlx5_problem(p, -EBADMSG, p->records, "record size over 4 GiB (the target refuses it with ENOMEM)");
	if (m->tag > MLX5_TAG_STOP_COPY_SIZE && !(m->flags & MLX5_FLAG_OPTIONAL))
		return mlx5_problem(p, -EPROTO, p->records, "unknown mandatory tag (the target refuses it with EOPNOTSUPP)");
	if (m->tag == MLX5_TAG_STOP_COPY_SIZE && size != 8)
		return mlx5_problem(p, -EBADMSG, p->records, "STOP_COPY_SIZE record is not 8 bytes");
	rec = (struct vfiomig_stream_record){
		.kind = tag_kind(m->tag), .type = m->tag,
		.optional = (m->flags & MLX5_FLAG_OPTIONAL) != 0,
		.device = p->device, .offset = m->record_start, .length = size,
	};
	if (p->record)
		p->record(p->userdata, &rec);
	m->remaining = size;
	p->records++;
	return 0;
}

static int mlx5_feed(struct vendor_parser *p, const uint8_t *buf, size_t len)
{
	struct mlx5_state *m = p->state;

	while (len) {
		size_t n;

		if (m->remaining) {
			n = m->remaining < len ? (size_t)m->remaining : len;
			m->remaining -= n;
		} else {
			if (m->have == 0)
				m->record_start = p->offset;
			n = MLX5_HEADER - m->have < len ? MLX5_HEADER - m->have : len;
			memcpy(m->header + m->have, buf, n);
			m->have += n;
			if (m->have == MLX5_HEADER) {
				int r;

				m->have = 0;
				p->offset += n;
				buf += n;
				len -= n;
				r = mlx5_header(p);
				if (r < 0)
					return r;
				continue;
			}
		}
		p->offset += n;
		buf += n;
		len -= n;
	}
	return 0;
}

static int mlx5_finish(struct vendor_parser *p)
{
	const struct mlx5_state *m = p->state;

	if (m->have)
		return mlx5_problem(p, -EBADMSG, p->records, "stream ends inside a record header");
	if (m->remaining)
		return mlx5_problem(p, -EBADMSG, p->records - 1, "stream ends inside a record payload");
	return 0;
}

const struct vfiomig_vendor_ops vfiomig_vendor_mlx5 = {
	.name = "mlx5",
	.match = mlx5_match,
	.state_size = sizeof(struct mlx5_state),
	.feed = mlx5_feed,
	.finish = mlx5_finish,
};
