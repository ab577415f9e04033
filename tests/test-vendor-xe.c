/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The xe backend's parser (docs/xe.md): a table of raw streams written by
 * hand from xe-vfio-pci's rules (Linux's drivers/gpu/drm/xe/
 * xe_sriov_packet_types.h and xe_sriov_packet.c), each with the verdict
 * and the exact sentence expected, fed whole, at every single cut and a
 * byte at a time; which devices get the backend; its VENDOR_SUMMARY.
 */
#define _GNU_SOURCE
#include "test-mock.h"
#include "stream.h"
#include "vendor-xe.h"

#define DEV 0xe20bu	/* a Battlemage PCI device ID */
#define REV 0x04u

/* A packet: the packed 24-byte LE header, then @size bytes of @fill. */
static size_t pkt(uint8_t *p, uint8_t version, uint8_t type, uint8_t tile, uint64_t offset,
		  uint64_t size, uint8_t fill)
{
	p[0] = version;
	p[1] = type;
	p[2] = tile;
	p[3] = 0;		/* gt_id */
	put_le32(p + 4, 0);	/* flags */
	put_le64(p + 8, offset);
	put_le64(p + 16, size);
	memset(p + 24, fill, size);
	return 24 + size;
}

/* A descriptor whose KLVs are { 0xf001, 1, DEV } { 0xf002, 1, REV }. */
static size_t descriptor(uint8_t *p)
{
	size_t n = pkt(p, 1, 1, 0, 0, 16, 0);

	put_le32(p + 24, 0xf001u << 16 | 1);
	put_le32(p + 28, DEV);
	put_le32(p + 32, 0xf002u << 16 | 1);
	put_le32(p + 36, REV);
	return n;
}

/*
 * The good stream, laid out by hand:
 *   0 DESCRIPTOR 16   40 GGTT 64   128 MMIO 32   184 GUC 48
 *   256 VRAM tile 0 at 0, 100   380 VRAM tile 0 at 100, 60
 *   464 VRAM tile 1 at 0, 40    528 TRAILER 0    end 552
 */
#define GOOD_SIZE 552
static size_t good(uint8_t *p)
{
	size_t n = descriptor(p);

	n += pkt(p + n, 1, 3, 0, 0, 64, 0x33);
	n += pkt(p + n, 1, 4, 0, 0, 32, 0x44);
	n += pkt(p + n, 1, 5, 0, 0, 48, 0x55);
	n += pkt(p + n, 1, 6, 0, 0, 100, 0x66);
	n += pkt(p + n, 1, 6, 0, 100, 60, 0x67);
	n += pkt(p + n, 1, 6, 1, 0, 40, 0x68);
	n += pkt(p + n, 1, 2, 0, 0, 0, 0);
	ck_assert_uint_eq(n, GOOD_SIZE);
	return n;
}

struct outcome {
	int rc;
	uint64_t offset, records, problem_offset;
	char problem[256];
	struct xe_summary sum;
};

/* Feeds @p in pieces of @step bytes after a first of @first, then finishes. */
static void parse(const uint8_t *p, size_t len, size_t first, size_t step, bool target,
		  uint16_t device, struct outcome *o)
{
	struct vendor_parser v;
	size_t off = 0;

	memset(o, 0, sizeof(*o));
	ck_assert_int_eq(vendor_parser_init(&v, vfiomig_vendor_find(NULL, "xe"), 0, NULL, NULL), 0);
	v.target_has_ids = target;
	v.target_device = device;
	v.target_revision = REV;
	while (off < len && !o->rc) {
		size_t n = off == 0 ? first : step;

		n = n < len - off ? n : len - off;
		o->rc = v.ops->feed(&v, p + off, n);
		off += n;
	}
	if (!o->rc)
		o->rc = v.ops->finish(&v);
	ck_assert_int_eq(o->rc < 0, v.problem[0] != '\0');
	o->offset = v.offset;
	o->records = v.records;
	o->problem_offset = v.problem_offset;
	snprintf(o->problem, sizeof(o->problem), "%s", v.problem);
	xe_parser_summary(&v, &o->sum);
	vendor_parser_fini(&v);
}

struct xe_case {
	const char *name;
	/* Makes the stream from the good one in @p; returns its length. */
	size_t (*make)(uint8_t *p);
	uint16_t target;	/* the destination's device ID; 0: unknown */
	int rc;
	uint64_t problem_offset;
	const char *problem;
};

static size_t make_good(uint8_t *p) { return good(p); }
static size_t make_type_9(uint8_t *p) { good(p); p[40 + 1] = 9; return GOOD_SIZE; }
static size_t make_type_0(uint8_t *p) { good(p); p[128 + 1] = 0; return GOOD_SIZE; }
static size_t make_no_trailer(uint8_t *p) { good(p); return 528; }
static size_t make_cut_vram(uint8_t *p) { good(p); return 464 + 24 + 10; }
static size_t make_cut_header(uint8_t *p) { good(p); return 40 + 7; }
static size_t make_after_trailer(uint8_t *p) { good(p); p[GOOD_SIZE] = 0; return GOOD_SIZE + 1; }
static size_t make_second_descriptor(uint8_t *p) { good(p); p[40 + 1] = 1; return GOOD_SIZE; }
static size_t make_version_2(uint8_t *p) { good(p); p[0] = 2; return GOOD_SIZE; }
static size_t make_version_2_type_9(uint8_t *p)
{
	good(p);
	p[40] = 2;
	p[40 + 1] = 9;
	return GOOD_SIZE;
}
static size_t make_trailer_payload(uint8_t *p) { good(p); p[528 + 16] = 4; memset(p + 552, 0, 4); return 556; }
/* The DESCRIPTOR and the TRAILER go to tile 0, GT 0, offset 0; data packets anywhere. */
static size_t make_descriptor_tile(uint8_t *p) { good(p); p[2] = 1; return GOOD_SIZE; }
static size_t make_descriptor_gt(uint8_t *p) { good(p); p[3] = 2; return GOOD_SIZE; }
static size_t make_trailer_tile(uint8_t *p) { good(p); p[528 + 2] = 3; return GOOD_SIZE; }
static size_t make_trailer_gt(uint8_t *p) { good(p); p[528 + 3] = 1; return GOOD_SIZE; }
static size_t make_trailer_offset(uint8_t *p)
{
	good(p);
	put_le64(p + 528 + 8, 4096);
	return GOOD_SIZE;
}
static size_t make_data_elsewhere(uint8_t *p)
{
	good(p);
	p[40 + 3] = 1;		/* GGTT on GT 1 */
	p[464 + 3] = 1;		/* VRAM of tile 1 on GT 1 */
	return GOOD_SIZE;
}

/* The descriptor's KLV 0xf002 says 2 value dwords; 1 follows and the payload ends. */
static size_t make_truncated_klv(uint8_t *p)
{
	size_t n = pkt(p, 1, 1, 0, 0, 16, 0);

	put_le32(p + 24, 0xf001u << 16 | 1);
	put_le32(p + 28, DEV);
	put_le32(p + 32, 0xf002u << 16 | 2);
	put_le32(p + 36, REV);
	return n + pkt(p + n, 1, 2, 0, 0, 0, 0);
}

/* A 6-byte descriptor: no whole number of dwords. */
static size_t make_odd_descriptor(uint8_t *p)
{
	size_t n = pkt(p, 1, 1, 0, 0, 6, 0);

	return n + pkt(p + n, 1, 2, 0, 0, 0, 0);
}

/* GGTT before any descriptor. */
static size_t make_no_descriptor(uint8_t *p)
{
	size_t n = pkt(p, 1, 3, 0, 0, 8, 0x33);

	return n + pkt(p + n, 1, 2, 0, 0, 0, 0);
}

#define AT(i, t, o) "xe packet " #i " (" t ") at stream offset " #o ": "
#define DAMAGED "the stream is damaged: save it again from the source VF"
#define CUT "check that the file was copied whole, or save it again"
static const struct xe_case cases[] = {
	{ "good", make_good, 0, 0, UINT64_MAX, "" },
	{ "good, same device", make_good, DEV, 0, UINT64_MAX, "" },
	{ "wrong device ID", make_good, 0xe20c, -EPROTO, 0, AT(0, "DESCRIPTOR", 0)
	  "it was saved from a VF with PCI device ID 0xe20b, and this one's is 0xe20c: "
	  "xe-vfio-pci refuses it (ENODEV); load it into a VF of the same GPU" },
	{ "truncated KLV", make_truncated_klv, 0, -EBADMSG, 0, AT(0, "DESCRIPTOR", 0)
	  "truncated KLV: key 0xf002 has 2 value dwords, the descriptor ends 1 dword short, "
	  "which xe-vfio-pci refuses (ENODATA); " DAMAGED },
	{ "unknown type 9", make_type_9, 0, -EPROTO, 40, AT(1, "unknown type", 40)
	  "type 9 is none of 1-6: xe-vfio-pci skips a type it does not know, and the VF would "
	  "start with partial state; a newer driver wrote it: use a libvfiomig that knows it" },
	{ "type 0", make_type_0, 0, -EPROTO, 128, AT(2, "unknown type", 128)
	  "type 0 is never written (it marks uninitialised data) and xe-vfio-pci refuses "
	  "it (EINVAL); " DAMAGED },
	{ "missing trailer", make_no_trailer, 0, -EBADMSG, 528, "xe packet 7 at stream offset "
	  "528: the stream ends without a TRAILER: it was cut, or the save did not finish; " CUT },
	{ "size past the end", make_cut_vram, 0, -EBADMSG, 464, AT(6, "VRAM", 464)
	  "its size runs past the end of the stream (30 bytes missing): it was cut; " CUT },
	{ "cut in a header", make_cut_header, 0, -EBADMSG, 40, "xe packet 1 at stream offset "
	  "40: the stream ends inside its header (7 of 24 bytes): it was cut; " CUT },
	{ "descriptor size not a multiple of 4", make_odd_descriptor, 0, -EBADMSG, 0,
	  AT(0, "DESCRIPTOR", 0) "the DESCRIPTOR's size 6 is not a multiple of 4 (its KLVs "
	  "are dwords), which xe-vfio-pci refuses (EINVAL); " DAMAGED },
	{ "data after the trailer", make_after_trailer, 0, -EBADMSG, 552, "xe packet 8 at "
	  "stream offset 552: data after the TRAILER, which ends the stream: another save or "
	  "garbage follows; give one save's bytes alone" },
	{ "a second descriptor", make_second_descriptor, 0, -EBADMSG, 40, AT(1, "DESCRIPTOR", 40)
	  "a second DESCRIPTOR, where xe-vfio-pci's save writes one, first: this is no single "
	  "xe VF's stream; load a stream saved from one" },
	{ "no descriptor first", make_no_descriptor, 0, -EBADMSG, 0, AT(0, "GGTT", 0)
	  "the stream does not begin with a DESCRIPTOR, which xe-vfio-pci's save always "
	  "writes first: it was not saved from an xe VF; load a stream that was" },
	{ "version 2", make_version_2, 0, -EPROTO, 0, AT(0, "DESCRIPTOR", 0)
	  "version 2: xe-vfio-pci loads version 1 only (EINVAL); another driver release wrote "
	  "it, or the stream is damaged: save it again with the destination's driver release" },
	/* the version is named first, whatever the type (it once read "type 9 is version ...") */
	{ "version 2 of type 9", make_version_2_type_9, 0, -EPROTO, 40, AT(1, "unknown type", 40)
	  "version 2: xe-vfio-pci loads version 1 only (EINVAL); another driver release wrote "
	  "it, or the stream is damaged: save it again with the destination's driver release" },
	{ "trailer with a payload", make_trailer_payload, 0, -EBADMSG, 528, AT(7, "TRAILER", 528)
	  "the TRAILER has a 4-byte payload: xe-vfio-pci writes it empty and refuses any "
	  "other (EINVAL); " DAMAGED },
	{ "descriptor on tile 1", make_descriptor_tile, 0, -EBADMSG, 0, AT(0, "DESCRIPTOR", 0)
	  "the DESCRIPTOR's tile_id is 1: xe-vfio-pci writes 0 there and refuses any other "
	  "(EINVAL); " DAMAGED },
	{ "descriptor on GT 2", make_descriptor_gt, 0, -EBADMSG, 0, AT(0, "DESCRIPTOR", 0)
	  "the DESCRIPTOR's gt_id is 2: xe-vfio-pci writes 0 there and refuses any other "
	  "(EINVAL); " DAMAGED },
	{ "trailer on tile 3", make_trailer_tile, 0, -EBADMSG, 528, AT(7, "TRAILER", 528)
	  "the TRAILER's tile_id is 3: xe-vfio-pci writes 0 there and refuses any other "
	  "(EINVAL); " DAMAGED },
	{ "trailer on GT 1", make_trailer_gt, 0, -EBADMSG, 528, AT(7, "TRAILER", 528)
	  "the TRAILER's gt_id is 1: xe-vfio-pci writes 0 there and refuses any other "
	  "(EINVAL); " DAMAGED },
	{ "trailer at offset 4096", make_trailer_offset, 0, -EBADMSG, 528, AT(7, "TRAILER", 528)
	  "the TRAILER's offset is 4096: xe-vfio-pci writes 0 there and refuses any other "
	  "(EINVAL); " DAMAGED },
	{ "data packets on other tiles and GTs", make_data_elsewhere, 0, 0, UINT64_MAX, "" },
};

/* Each case: whole, at every single cut, and a byte at a time, the same verdict. */
START_TEST(test_table)
{
	static uint8_t buf[1024];
	const struct xe_case *c = &cases[_i];
	size_t len = c->make(buf);
	struct outcome whole, o;

	parse(buf, len, len, len, c->target != 0, c->target, &whole);
	ck_assert_msg(whole.rc == c->rc, "%s: rc %d, expected %d (%s)", c->name, whole.rc, c->rc,
		      whole.problem);
	ck_assert_str_eq(whole.problem, c->problem);
	ck_assert_uint_eq(whole.problem_offset, c->problem_offset);
	if (c->rc == 0)
		ck_assert_uint_eq(whole.offset, len);
	/* cut 0: a byte at a time */
	for (size_t cut = 0; cut < len; cut++) {
		parse(buf, len, cut ? cut : 1, cut ? len : 1, c->target != 0, c->target, &o);
		ck_assert_msg(o.rc == whole.rc && !strcmp(o.problem, whole.problem),
			      "%s cut at %zu: %s", c->name, cut, o.problem);
		ck_assert_uint_eq(o.problem_offset, whole.problem_offset);
		ck_assert_uint_eq(o.offset, whole.offset);
		ck_assert_uint_eq(o.records, whole.records);
	}
}
END_TEST

/* What the good stream consists of. */
START_TEST(test_summary)
{
	static uint8_t buf[1024];
	uint8_t payload[STREAM_VENDOR_SUMMARY_SIZE];
	struct vendor_parser v;
	struct outcome o;
	size_t len = good(buf);

	parse(buf, len, 1, 1, false, 0, &o);
	ck_assert_int_eq(o.rc, 0);
	ck_assert_uint_eq(o.records, 8);
	ck_assert(o.sum.has_device && o.sum.has_revision && o.sum.trailer);
	ck_assert_uint_eq(o.sum.device, DEV);
	ck_assert_uint_eq(o.sum.revision, REV);
	ck_assert_uint_eq(o.sum.packets[XE_PKT_VRAM], 3);
	ck_assert_uint_eq(o.sum.bytes[XE_PKT_VRAM], 200);
	ck_assert_uint_eq(o.sum.vram_tile[0], 160);
	ck_assert_uint_eq(o.sum.vram_tile[1], 40);
	ck_assert_uint_eq(o.sum.bytes[XE_PKT_GGTT], 64);
	ck_assert_uint_eq(o.sum.bytes[XE_PKT_MMIO], 32);
	ck_assert_uint_eq(o.sum.bytes[XE_PKT_GUC], 48);

	/* The record's layout is docs/xe.md's. */
	ck_assert_int_eq(vendor_parser_init(&v, vfiomig_vendor_find(NULL, "xe"), 0, NULL, NULL), 0);
	ck_assert_int_eq(v.ops->feed(&v, buf, len), 0);
	v.ops->summary(&v, false, payload);
	vendor_parser_fini(&v);
	ck_assert_mem_eq(payload, "xe\0\0\0\0\0\0", 8);
	ck_assert_uint_eq(get_le32(payload + 8), 7);
	ck_assert_uint_eq(get_le16(payload + 12), DEV);
	ck_assert_uint_eq(get_le16(payload + 14), REV);
	ck_assert_uint_eq(get_le16(payload + 16), 1);	/* GGTT packets */
	ck_assert_uint_eq(get_le16(payload + 22), 3);	/* VRAM packets */
	ck_assert_uint_eq(get_le64(payload + 24), 64);
	ck_assert_uint_eq(get_le64(payload + 32), 32);
	ck_assert_uint_eq(get_le64(payload + 40), 48);
	ck_assert_uint_eq(get_le64(payload + 48), 160);
	ck_assert_uint_eq(get_le64(payload + 56), 40);
}
END_TEST

/* Only an Intel device bound to xe-vfio-pci speaks the stream. */
START_TEST(test_match)
{
	struct vfiomig_identity id = { .has_pci_ids = true, .vendor = 0x8086, .device = DEV };

	snprintf(id.driver, sizeof(id.driver), "xe-vfio-pci");
	ck_assert_str_eq(vfiomig_vendor_for(&id)->name, "xe");
	snprintf(id.driver, sizeof(id.driver), "vfio-pci");
	ck_assert_str_eq(vfiomig_vendor_for(&id)->name, "generic");
	snprintf(id.driver, sizeof(id.driver), "xe-vfio-pci");
	id.vendor = 0x15b3;
	ck_assert_str_eq(vfiomig_vendor_for(&id)->name, "generic");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vendor-xe");
	TCase *tc = tcase_create("xe");

	tcase_add_loop_test(tc, test_table, 0, (int)ARRAY_SIZE(cases));
	tcase_add_test(tc, test_summary);
	tcase_add_test(tc, test_match);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
