/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The mlx5_vfio_pci stream (Linux 6.3+, every 6.9+ stream): records of a
 * 16-byte little-endian header { u64 record_size; u32 flags; u32 tag }
 * and record_size bytes of payload.  Tags: FW_DATA (0), the firmware's
 * opaque image; STOP_COPY_SIZE (1), a u64 preallocation hint.  Flag bit 0
 * marks a record optional; the target driver skips unknown optional tags
 * and refuses unknown mandatory ones (EOPNOTSUPP), and refuses records over
 * 2^32 - 1 bytes (ENOMEM).  This parser applies the same rules.
 *
 * Older kernels wrote other framings (docs/mlx5.md): 5.18-6.1, and 6.2-6.8
 * on firmware without pre-copy, the bare image with no header; 6.2 a
 * 16-byte header byte-identical to { size, 0, FW_DATA }.  6.9+ loads only
 * headers.  A bare image's first 16 bytes are almost never a sane header,
 * so a first header that fails the checks names the headerless stream.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "stream.h"
#include "vendor-mlx5.h"
#include "identity.h"
#include "util.h"

#define MLX5_HEADER 16
#define MLX5_FLAG_OPTIONAL (1u << 0)
#define MLX5_TAG_FW_DATA 0
#define MLX5_TAG_STOP_COPY_SIZE 1
#define MLX5_MAX_LOAD_SIZE 0xffffffffull

#define HEADERLESS "a headerless stream (Linux 5.18-6.1, or 6.2-6.8 on firmware without pre-copy)"

/* Where the parser is in the record stream. */
struct mlx5_state {
	uint8_t header[MLX5_HEADER];
	size_t have;		/* header bytes gathered */
	uint64_t remaining;	/* payload bytes still to pass */
	uint64_t record_start;
	uint32_t tag, flags;
	uint8_t value[8];	/* a STOP_COPY_SIZE payload so far */
	bool opaque;		/* headerless: the rest is only counted */
	struct mlx5_summary sum;
	uint64_t precopy_fw_records, precopy_fw_bytes;	/* when stop-copy began */
};

/* The driver's VF, bound to the variant driver: only it speaks this stream
 * (the same VF under vfio-pci migrates nothing). */
static bool mlx5_match(const struct vfiomig_identity *id)
{
	return id->has_pci_ids && id->vendor == 0x15b3 && id->device == 0x101e &&
	       strcmp(id->driver, "mlx5_vfio_pci") == 0;
}

const char *mlx5_generation_name(enum mlx5_generation g)
{
	switch (g) {
	case MLX5_GEN_HEADERLESS:
		return "headerless (Linux 5.18-6.1; 6.2-6.8 without pre-copy firmware)";
	case MLX5_GEN_HEADER:
		return "16-byte headers without STOP_COPY_SIZE (Linux 6.2+)";
	case MLX5_GEN_TAGGED:
		return "tagged records with STOP_COPY_SIZE (Linux 6.3+)";
	default:
		return "no record";
	}
}

void mlx5_parser_summary(const struct vendor_parser *p, struct mlx5_summary *sum)
{
	const struct mlx5_state *m = p->state;

	*sum = m->sum;
}

/* @index: the record at fault (p->records counts the headers accepted). */
static int mlx5_problem(struct vendor_parser *p, int err, uint64_t index, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int mlx5_problem(struct vendor_parser *p, int err, uint64_t index, const char *fmt, ...)
{
	const struct mlx5_state *m = p->state;
	va_list ap;
	int n;

	n = snprintf(p->problem, sizeof(p->problem), "mlx5 record %llu: ",
		     (unsigned long long)index);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(p->problem))
		vsnprintf(p->problem + n, sizeof(p->problem) - (size_t)n, fmt, ap);
	va_end(ap);
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

/* Why the target driver would refuse this header, or NULL. */
static const char *header_fault(uint64_t size, uint32_t flags, uint32_t tag, int *err)
{
	*err = -EBADMSG;
	if (size > MLX5_MAX_LOAD_SIZE)
		return "record size over 4 GiB (the target refuses it with ENOMEM)";
	if (tag > MLX5_TAG_STOP_COPY_SIZE && !(flags & MLX5_FLAG_OPTIONAL)) {
		*err = -EPROTO;
		return "unknown mandatory tag (the target refuses it with EOPNOTSUPP)";
	}
	if (tag == MLX5_TAG_STOP_COPY_SIZE && size != 8)
		return "STOP_COPY_SIZE record is not 8 bytes";
	return NULL;
}

/*
 * The first header does not parse: most likely a bare image.  A load into
 * a kernel that still reads those passes it on (the kernel decides); 6.9+
 * cannot load it; elsewhere (inspect, save) the fault is named with the
 * likely cause.
 */
static int first_header_fault(struct vendor_parser *p, int err, const char *why, uint32_t tag)
{
	struct mlx5_state *m = p->state;

	m->sum.generation = MLX5_GEN_HEADERLESS;
	if (p->target_kernel && p->target_kernel < VENDOR_KERNEL(6, 9)) {
		m->opaque = true;
		return 0;
	}
	if (p->target_kernel)
		return mlx5_problem(p, -EPROTO, 0, "not an mlx5 record header (%s, tag %u): "
				    "%s, which Linux 6.9+ cannot load (this kernel is %u.%u)",
				    why, tag, HEADERLESS, p->target_kernel >> 16,
				    p->target_kernel & 0xffff);
	return mlx5_problem(p, err, 0, "%s, tag %u; or %s, which Linux 6.9+ cannot load",
			    why, tag, HEADERLESS);
}

static void count(struct mlx5_state *m, uint64_t size)
{
	if (m->tag == MLX5_TAG_FW_DATA) {
		m->sum.fw_records++;
		m->sum.fw_bytes += size;
		if (m->sum.generation == MLX5_GEN_NONE)
			m->sum.generation = MLX5_GEN_HEADER;
	} else {
		/* A flag or tag 6.2 never wrote. */
		m->sum.generation = MLX5_GEN_TAGGED;
		if (m->tag != MLX5_TAG_STOP_COPY_SIZE)
			m->sum.skipped++;
	}
	if (m->flags & MLX5_FLAG_OPTIONAL)
		m->sum.generation = MLX5_GEN_TAGGED;
}

/* A complete header: check it the way the target driver would. */
static int mlx5_header(struct vendor_parser *p)
{
	struct mlx5_state *m = p->state;
	uint64_t size = get_le64(m->header);
	struct vfiomig_stream_record rec;
	const char *why;
	int err;

	m->flags = get_le32(m->header + 8);
	m->tag = get_le32(m->header + 12);
	why = header_fault(size, m->flags, m->tag, &err);
	/* No kernel sets flag bits beyond OPTIONAL: a first header with them is no header. */
	if (p->records == 0 && !why && m->flags & ~MLX5_FLAG_OPTIONAL)
		why = "flag bits no kernel sets";
	if (p->records == 0 && why)
		return first_header_fault(p, err, why, m->tag);
	if (why)
		return mlx5_problem(p, err, p->records, "%s, tag %u", why, m->tag);
	rec = (struct vfiomig_stream_record){
		.kind = tag_kind(m->tag), .type = m->tag,
		.optional = (m->flags & MLX5_FLAG_OPTIONAL) != 0,
		.device = p->device, .offset = m->record_start, .length = size,
	};
	if (p->record)
		p->record(p->userdata, &rec);
	count(m, size);
	m->remaining = size;
	p->records++;
	return 0;
}

/* @n payload bytes of the current record; a size hint is kept. */
static void payload(struct mlx5_state *m, const uint8_t *buf, size_t n)
{
	if (m->tag == MLX5_TAG_STOP_COPY_SIZE) {
		memcpy(m->value + (8 - m->remaining), buf, n);
		if (m->remaining == n) {
			m->sum.stop_copy_size = get_le64(m->value);
			m->sum.have_stop_copy_size = true;
		}
	}
	m->remaining -= n;
}

static int mlx5_feed(struct vendor_parser *p, const uint8_t *buf, size_t len)
{
	struct mlx5_state *m = p->state;

	if (m->opaque) {
		p->offset += len;
		return 0;
	}
	while (len) {
		size_t n;

		if (m->remaining) {
			n = m->remaining < len ? (size_t)m->remaining : len;
			payload(m, buf, n);
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
				if (m->opaque) {
					p->offset += len;
					return 0;
				}
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

	if (m->opaque)
		return 0;
	if (m->have)
		return mlx5_problem(p, -EBADMSG, p->records, "stream ends inside a record header "
				    "(%zu of %u bytes)", m->have, MLX5_HEADER);
	if (m->remaining)
		return mlx5_problem(p, -EBADMSG, p->records - 1, "stream ends inside a record payload "
				    "(%llu %s missing)", (unsigned long long)m->remaining,
				    plural(m->remaining, "byte", "bytes"));
	return 0;
}

/* Where pre-copy's FW_DATA ends and stop-copy's begins. */
static void mlx5_mark_stop_copy(struct vendor_parser *p)
{
	struct mlx5_state *m = p->state;

	m->precopy_fw_records = m->sum.fw_records;
	m->precopy_fw_bytes = m->sum.fw_bytes;
}

/* VENDOR_SUMMARY's payload: what the parser saw, per phase. */
static void mlx5_summary(const struct vendor_parser *p, bool failed, uint8_t *payload)
{
	const struct mlx5_state *m = p->state;

	memset(payload, 0, STREAM_VENDOR_SUMMARY_SIZE);
	memcpy(payload, "mlx5", 4);
	put_le32(payload + 8, m->sum.generation);
	put_le32(payload + 12, (m->sum.have_stop_copy_size ? 1u : 0) | (failed ? 2u : 0));
	put_le64(payload + 16, m->sum.stop_copy_size);
	put_le64(payload + 24, m->precopy_fw_records);
	put_le64(payload + 32, m->precopy_fw_bytes);
	put_le64(payload + 40, m->sum.fw_records - m->precopy_fw_records);
	put_le64(payload + 48, m->sum.fw_bytes - m->precopy_fw_bytes);
	put_le64(payload + 56, m->sum.skipped);
}

const struct vfiomig_vendor_ops vfiomig_vendor_mlx5 = {
	.name = "mlx5",
	.match = mlx5_match,
	.state_size = sizeof(struct mlx5_state),
	.feed = mlx5_feed,
	.finish = mlx5_finish,
	.mark_stop_copy = mlx5_mark_stop_copy,
	.summary = mlx5_summary,
	.checks_load = true,
};
