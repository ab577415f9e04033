/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The xe-vfio-pci stream (Linux 6.19+, Intel Xe SR-IOV VFs): packets of a
 * packed 24-byte little-endian header { u8 version, type, tile_id, gt_id;
 * u32 flags; u64 offset, size } and size bytes of payload
 * (drivers/gpu/drm/xe/xe_sriov_packet_types.h).  The rules below are the
 * restore side's, read in mainline's xe_sriov_packet.c,
 * xe_sriov_pf_migration.c and xe_guc_klv_helpers.c (docs/xe.md has each
 * check, the driver's errno, and which are the library's own):
 *  - version 1 is the only one the driver accepts (EINVAL);
 *  - type 0 is never written ("to catch uninitialized data") and refused
 *    (EINVAL); the driver skips types past VRAM (6) with a notice, which
 *    would start the VF with part of its state, so the library refuses them;
 *  - the save side writes the DESCRIPTOR first and the TRAILER last, both
 *    on tile 0, GT 0, at offset 0; the restore side refuses a DESCRIPTOR
 *    or TRAILER elsewhere (EINVAL) and a TRAILER with a payload (EINVAL),
 *    but not a DESCRIPTOR that is not first: the library does, as the
 *    mark of a stream xe's save did not write;
 *  - the descriptor's payload is GuC KLVs, dwords with the key in the high
 *    16 bits and the value's length in dwords in the low 16; its size is a
 *    multiple of 4 (EINVAL), no KLV is cut (ENODATA), and the PCI device
 *    ID (key 0xf001) and revision (0xf002) are the target's own (ENODEV).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "stream.h"
#include "vendor-xe.h"
#include "identity.h"
#include "util.h"

#define XE_HEADER 24
#define XE_VERSION 1
#define XE_KLV_DEVICE 0xf001u
#define XE_KLV_REVISION 0xf002u

/* Where the parser is in the packet stream. */
struct xe_state {
	uint8_t header[XE_HEADER];
	size_t have;		/* header bytes gathered */
	uint64_t remaining;	/* payload bytes still to pass */
	uint64_t packet_start;
	uint32_t type;
	uint8_t tile;
	/* The descriptor's KLVs, a dword at a time. */
	uint8_t word[4];
	size_t word_have;
	uint32_t klv_key, klv_left, klv_len;	/* klv_left: value dwords to come */
	struct xe_summary sum;
};

/* Only the VF bound to the variant driver speaks this stream. */
static bool xe_match(const struct vfiomig_identity *id)
{
	return id->has_pci_ids && id->vendor == 0x8086 && strcmp(id->driver, "xe-vfio-pci") == 0;
}

const char *xe_packet_name(uint32_t type)
{
	static const char *const names[XE_PKT_TYPES] = {
		[XE_PKT_DESCRIPTOR] = "DESCRIPTOR", [XE_PKT_TRAILER] = "TRAILER",
		[XE_PKT_GGTT] = "GGTT", [XE_PKT_MMIO] = "MMIO", [XE_PKT_GUC] = "GUC",
		[XE_PKT_VRAM] = "VRAM",
	};

	return type < XE_PKT_TYPES && names[type] ? names[type] : "unknown type";
}

static const char *record_kind(uint32_t type)
{
	static const char *const kinds[XE_PKT_TYPES] = {
		[XE_PKT_DESCRIPTOR] = "xe DESCRIPTOR", [XE_PKT_TRAILER] = "xe TRAILER",
		[XE_PKT_GGTT] = "xe GGTT", [XE_PKT_MMIO] = "xe MMIO", [XE_PKT_GUC] = "xe GUC",
		[XE_PKT_VRAM] = "xe VRAM",
	};

	return kinds[type];
}

void xe_parser_summary(const struct vendor_parser *p, struct xe_summary *sum)
{
	const struct xe_state *x = p->state;

	*sum = x->sum;
}

/* @index: the packet at fault, which began at x->packet_start. */
static int xe_problem(struct vendor_parser *p, int err, uint64_t index, const char *what,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* @what: the packet's type, NULL if its header is not whole yet. */
static int xe_problem(struct vendor_parser *p, int err, uint64_t index, const char *what,
		      const char *fmt, ...)
{
	const struct xe_state *x = p->state;
	va_list ap;
	int n;

	n = snprintf(p->problem, sizeof(p->problem), "xe packet %llu%s%s%s at stream offset %llu: ",
		     (unsigned long long)index, what ? " (" : "", what ? what : "", what ? ")" : "",
		     (unsigned long long)x->packet_start);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(p->problem))
		vsnprintf(p->problem + n, sizeof(p->problem) - (size_t)n, fmt, ap);
	va_end(ap);
	p->problem_offset = x->packet_start;
	return err;
}

/* How a refusal says what to do, by what the stream's fault tells of it. */
#define XE_DAMAGED "the stream is damaged: save it again from the source VF"
#define XE_CUT "check that the file was copied whole, or save it again"

/* A field of a DESCRIPTOR or TRAILER header, which the save side writes as 0. */
static int nonzero_field(struct vendor_parser *p, const char *field, uint64_t v)
{
	const struct xe_state *x = p->state;

	return xe_problem(p, -EBADMSG, p->records, xe_packet_name(x->type), "the %s's %s is "
			  "%llu: xe-vfio-pci writes 0 there and refuses any other (EINVAL); "
			  XE_DAMAGED, xe_packet_name(x->type), field, (unsigned long long)v);
}

/* The header's version and type: refused the same whatever the type is. */
static int check_kind(struct vendor_parser *p, uint8_t version)
{
	const struct xe_state *x = p->state;
	const char *what = x->type < XE_PKT_TYPES && x->type ? xe_packet_name(x->type) :
			   "unknown type";

	if (version != XE_VERSION)
		return xe_problem(p, -EPROTO, p->records, what, "version %u: xe-vfio-pci loads "
				  "version 1 only (EINVAL); another driver release wrote it, or the "
				  "stream is damaged: save it again with the destination's driver "
				  "release", version);
	if (x->type == 0)
		return xe_problem(p, -EPROTO, p->records, what, "type 0 is never written (it "
				  "marks uninitialised data) and xe-vfio-pci refuses it (EINVAL); "
				  XE_DAMAGED);
	if (x->type >= XE_PKT_TYPES)
		return xe_problem(p, -EPROTO, p->records, what, "type %u is none of 1-6: "
				  "xe-vfio-pci skips a type it does not know, and the VF would "
				  "start with partial state; a newer driver wrote it: use a "
				  "libvfiomig that knows it", x->type);
	return 0;
}

/* The header, checked as the target driver would, and the library's order. */
static int check_header(struct vendor_parser *p, uint8_t version, uint64_t size)
{
	const struct xe_state *x = p->state;
	const uint8_t *h = x->header;
	int r = check_kind(p, version);

	if (r < 0)
		return r;
	if (p->records == 0 && x->type != XE_PKT_DESCRIPTOR)
		return xe_problem(p, -EBADMSG, 0, xe_packet_name(x->type), "the stream does "
				  "not begin with a DESCRIPTOR, which xe-vfio-pci's save always "
				  "writes first: it was not saved from an xe VF; load a stream that "
				  "was");
	if (p->records && x->type == XE_PKT_DESCRIPTOR)
		return xe_problem(p, -EBADMSG, p->records, "DESCRIPTOR", "a second DESCRIPTOR, "
				  "where xe-vfio-pci's save writes one, first: this is no single xe "
				  "VF's stream; load a stream saved from one");
	if (x->type != XE_PKT_DESCRIPTOR && x->type != XE_PKT_TRAILER)
		return 0;
	if (h[2] || h[3])
		return nonzero_field(p, h[2] ? "tile_id" : "gt_id", h[2] ? h[2] : h[3]);
	if (x->type == XE_PKT_DESCRIPTOR && size % 4)
		return xe_problem(p, -EBADMSG, p->records, "DESCRIPTOR", "the DESCRIPTOR's size "
				  "%llu is not a multiple of 4 (its KLVs are dwords), which "
				  "xe-vfio-pci refuses (EINVAL); " XE_DAMAGED,
				  (unsigned long long)size);
	if (x->type == XE_PKT_TRAILER && get_le64(h + 8))
		return nonzero_field(p, "offset", get_le64(h + 8));
	if (x->type == XE_PKT_TRAILER && size)
		return xe_problem(p, -EBADMSG, p->records, "TRAILER", "the TRAILER has a %llu-byte "
				  "payload: xe-vfio-pci writes it empty and refuses any other "
				  "(EINVAL); " XE_DAMAGED, (unsigned long long)size);
	return 0;
}

static void count(struct xe_state *x, uint64_t size)
{
	x->sum.packets[x->type]++;
	x->sum.bytes[x->type] += size;
	if (x->type == XE_PKT_VRAM)
		x->sum.vram_tile[x->tile ? 1 : 0] += size;
	if (x->type == XE_PKT_TRAILER)
		x->sum.trailer = true;
}

/* A complete header: check it the way the target driver would. */
static int xe_header(struct vendor_parser *p)
{
	struct xe_state *x = p->state;
	uint64_t size = get_le64(x->header + 16);
	struct vfiomig_stream_record rec;
	int r;

	x->type = x->header[1];
	x->tile = x->header[2];
	r = check_header(p, x->header[0], size);
	if (r < 0)
		return r;
	rec = (struct vfiomig_stream_record){
		.kind = record_kind(x->type), .type = x->type,
		.device = p->device, .offset = x->packet_start, .length = size,
	};
	if (p->record)
		p->record(p->userdata, &rec);
	count(x, size);
	x->remaining = size;
	x->word_have = 0;
	x->klv_left = 0;
	p->records++;
	return 0;
}

/* An ID the target has, compared where the target is known. */
static int check_id(struct vendor_parser *p, const char *what, uint32_t have, uint32_t want)
{
	if (!p->target_has_ids || have == want)
		return 0;
	if (p->target_is_identity)
		return xe_problem(p, -EBADMSG, 0, "DESCRIPTOR", "it names PCI %s 0x%x, and the "
				  "stream's IDENTITY record 0x%x: the device's bytes are not from the "
				  "device the stream names; save it again from the source VF", what,
				  have, want);
	return xe_problem(p, -EPROTO, 0, "DESCRIPTOR", "it was saved from a VF with PCI %s 0x%x, and this "
			  "one's is 0x%x: xe-vfio-pci refuses it (ENODEV); load it into a VF of "
			  "the same GPU", what, have, want);
}

/* One dword of the descriptor's KLVs. */
static int klv_word(struct vendor_parser *p, uint32_t w)
{
	struct xe_state *x = p->state;

	if (x->klv_left == 0) {
		x->klv_key = w >> 16;
		x->klv_len = x->klv_left = w & 0xffff;
		return 0;
	}
	/* The IDs are the value's first dword. */
	if (x->klv_left == x->klv_len && x->klv_key == XE_KLV_DEVICE) {
		x->sum.has_device = true;
		x->sum.device = w;
		if (check_id(p, "device ID", w, p->target_device) < 0)
			return -EPROTO;
	} else if (x->klv_left == x->klv_len && x->klv_key == XE_KLV_REVISION) {
		x->sum.has_revision = true;
		x->sum.revision = w;
		if (check_id(p, "revision", w, p->target_revision) < 0)
			return -EPROTO;
	}
	x->klv_left--;
	return 0;
}

/* @n payload bytes of the current packet; the descriptor's are read. */
static int payload(struct vendor_parser *p, const uint8_t *buf, size_t n)
{
	struct xe_state *x = p->state;

	x->remaining -= n;
	if (x->type != XE_PKT_DESCRIPTOR) {
		p->offset += n;
		return 0;
	}
	/* Counted a byte at a time: a refusal stops at the same byte in any split. */
	for (size_t i = 0; i < n; i++) {
		p->offset++;
		x->word[x->word_have++] = buf[i];
		if (x->word_have == 4) {
			x->word_have = 0;
			if (klv_word(p, get_le32(x->word)) < 0)
				return -EPROTO;
		}
	}
	if (x->remaining == 0 && x->klv_left)
		return xe_problem(p, -EBADMSG, 0, "DESCRIPTOR", "truncated KLV: key 0x%x has %u value %s, "
				  "the descriptor ends %u %s short, which xe-vfio-pci refuses "
				  "(ENODATA); " XE_DAMAGED, x->klv_key, x->klv_len,
				  plural(x->klv_len, "dword", "dwords"), x->klv_left,
				  plural(x->klv_left, "dword", "dwords"));
	return 0;
}

static int xe_feed(struct vendor_parser *p, const uint8_t *buf, size_t len)
{
	struct xe_state *x = p->state;

	while (len) {
		size_t n;
		int r = 0;

		if (x->remaining) {
			n = x->remaining < len ? (size_t)x->remaining : len;
			r = payload(p, buf, n);
		} else {
			if (x->have == 0) {
				x->packet_start = p->offset;
				if (x->sum.trailer)
					return xe_problem(p, -EBADMSG, p->records, NULL, "data after "
							  "the TRAILER, which ends the stream: "
							  "another save or garbage follows; "
							  "give one save's bytes alone");
			}
			n = XE_HEADER - x->have < len ? XE_HEADER - x->have : len;
			memcpy(x->header + x->have, buf, n);
			x->have += n;
			p->offset += n;
			if (x->have == XE_HEADER) {
				x->have = 0;
				r = xe_header(p);
			}
		}
		if (r < 0)
			return r;
		buf += n;
		len -= n;
	}
	return 0;
}

static int xe_finish(struct vendor_parser *p)
{
	struct xe_state *x = p->state;

	if (x->have)
		return xe_problem(p, -EBADMSG, p->records, NULL, "the stream ends inside its "
				  "header (%zu of %u bytes): it was cut; " XE_CUT, x->have,
				  XE_HEADER);
	if (x->remaining)
		return xe_problem(p, -EBADMSG, p->records - 1, xe_packet_name(x->type),
				  "its size runs past the end of the stream (%llu %s "
				  "missing): it was cut; " XE_CUT,
				  (unsigned long long)x->remaining,
				  plural(x->remaining, "byte", "bytes"));
	x->packet_start = p->offset;	/* where the trailer should be */
	if (!x->sum.trailer)
		return xe_problem(p, -EBADMSG, p->records, NULL, "the stream ends without a "
				  "TRAILER: it was cut, or the save did not finish; " XE_CUT);
	return 0;
}

/* VENDOR_SUMMARY's payload (docs/xe.md has the layout). */
static void xe_summary(const struct vendor_parser *p, bool failed, uint8_t *payload)
{
	const struct xe_state *x = p->state;
	const struct xe_summary *s = &x->sum;

	memset(payload, 0, STREAM_VENDOR_SUMMARY_SIZE);
	memcpy(payload, "xe", 2);
	put_le32(payload + 8, (s->has_device ? 1u : 0) | (s->has_revision ? 2u : 0) |
			      (s->trailer ? 4u : 0) | (failed ? 8u : 0));
	/* PCI's IDs are 16 and 8 bits; the flags say whether they were seen. */
	put_le16(payload + 12, (uint16_t)s->device);
	put_le16(payload + 14, (uint16_t)s->revision);
	/* Packet counts saturate: a summary says what a stream consists of. */
	for (unsigned int t = XE_PKT_GGTT; t <= XE_PKT_VRAM; t++)
		put_le16(payload + 16 + 2 * (t - XE_PKT_GGTT),
			 (uint16_t)(s->packets[t] > UINT16_MAX ? UINT16_MAX : s->packets[t]));
	put_le64(payload + 24, s->bytes[XE_PKT_GGTT]);
	put_le64(payload + 32, s->bytes[XE_PKT_MMIO]);
	put_le64(payload + 40, s->bytes[XE_PKT_GUC]);
	put_le64(payload + 48, s->vram_tile[0]);
	put_le64(payload + 56, s->vram_tile[1]);
}

const struct vfiomig_vendor_ops vfiomig_vendor_xe = {
	.name = "xe",
	.match = xe_match,
	.state_size = sizeof(struct xe_state),
	.feed = xe_feed,
	.finish = xe_finish,
	.summary = xe_summary,
	.checks_load = true,
};
