// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer harness: the xe-vfio-pci packet stream parser
 * (lib/vendor/vendor-xe.c), which inspection runs over untrusted saved
 * streams, a save over what the device gives, and a load over the bytes
 * before the device sees them.
 *
 * Input: one configuration byte, then the device stream.
 *   bits 0-2  how the stream is split into feed() calls (fuzz-common.h)
 *   bit  3    a load's target IDs are known: device 0xe20b, revision 4
 *   bits 4-7  unused
 *
 * Each input is parsed in the configured pieces and in one piece, and both
 * parses must end the same: a vendor parser accepts any split.  Both must
 * also agree with a reference walk over the whole buffer, written here
 * from the driver's rules (docs/xe.md), on the verdict and the counts.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz-vendor.h"
#include "util.h"
#include "vendor-xe.h"

#define CFG_SPLIT 0x07u
#define CFG_TARGET 0x08u
#define TARGET_DEVICE 0xe20bu
#define TARGET_REVISION 4u

struct outcome {
	struct fuzz_vendor_outcome c;	/* first: the parser's userdata */
	struct xe_summary sum;
};

/* Packets come whole-headed, in order, each where the one before it ended. */
static void on_record(void *data, const struct vfiomig_stream_record *rec)
{
	struct outcome *o = data;

	FUZZ_CHECK(rec->device == 3 && !strncmp(rec->kind, "xe ", 3));
	FUZZ_CHECK(rec->type >= XE_PKT_DESCRIPTOR && rec->type < XE_PKT_TYPES);
	FUZZ_CHECK((rec->offset == 0) == (rec->type == XE_PKT_DESCRIPTOR));
	fuzz_vendor_record(&o->c, rec, 24);
}

static size_t at_least(size_t n, size_t min)
{
	return n > min ? n : min;
}

/*
 * A refusal's length were its packet index 12 digits long and its stream
 * offset 15 (a petabyte): what to do comes last, and a long stream must
 * not cut it off.
 */
static size_t longest(const char *problem)
{
	size_t index = strspn(problem + 10, "0123456789");
	size_t offset = strspn(strstr(problem, " at stream offset ") + 18, "0123456789");

	return strlen(problem) - index - offset + at_least(index, 12) + at_least(offset, 15);
}

static void parse(const uint8_t *s, size_t size, unsigned int cfg, struct outcome *o)
{
	const struct vfiomig_vendor_ops *ops = vfiomig_vendor_find(NULL, "xe");
	struct vendor_parser v;
	int r;

	memset(o, 0, sizeof(*o));
	o->c.size = size;
	FUZZ_CHECK(ops && vendor_parser_init(&v, ops, 3, on_record, o) == 0);
	v.target_has_ids = cfg & CFG_TARGET;
	v.target_device = TARGET_DEVICE;
	v.target_revision = TARGET_REVISION;
	r = fuzz_vendor_feed(&v, ops, s, size, cfg & CFG_SPLIT);
	xe_parser_summary(&v, &o->sum);
	if (r < 0) {
		FUZZ_CHECK(strstr(v.problem, " at stream offset "));
		FUZZ_CHECK(longest(v.problem) < sizeof(v.problem));
	} else {
		FUZZ_CHECK(o->c.next == size && o->sum.trailer);
	}
	fuzz_vendor_done(&v, r, "xe packet ", &o->c);
}

/* The descriptor's KLVs: whole, and the IDs the target's where it is known. */
static bool descriptor_ok(const uint8_t *s, uint64_t len, bool target)
{
	uint64_t at = 0;

	while (at < len) {
		uint32_t w = get_le32(s + at), key = w >> 16, n = w & 0xffff;

		at += 4;
		if ((len - at) / 4 < n)
			return false;	/* truncated */
		if (target && n && key == 0xf001 && get_le32(s + at) != TARGET_DEVICE)
			return false;
		if (target && n && key == 0xf002 && get_le32(s + at) != TARGET_REVISION)
			return false;
		at += 4ull * n;
	}
	return true;
}

/*
 * docs/xe.md's rules (the driver's, and the library's own) over the whole
 * buffer: the verdict and the counts.
 */
static void reference(const uint8_t *s, size_t size, bool target, const struct outcome *o)
{
	uint64_t at = 0, records = 0, vram = 0;
	bool valid = false;

	while (at < size) {
		uint64_t left = size - at, len;
		uint8_t type;

		if (valid || left < 24) {
			valid = false;	/* after the trailer, or a cut header */
			break;
		}
		type = s[at + 1];
		len = get_le64(s + at + 16);
		if (s[at] != 1 || type == 0 || type > 6 ||
		    (records == 0) != (type == XE_PKT_DESCRIPTOR) || left - 24 < len)
			break;
		/* The two the PF writes itself: tile 0, GT 0; the trailer empty, at 0. */
		if ((type == XE_PKT_DESCRIPTOR || type == XE_PKT_TRAILER) &&
		    (s[at + 2] || s[at + 3]))
			break;
		if ((type == XE_PKT_DESCRIPTOR && len % 4) ||
		    (type == XE_PKT_TRAILER && (len || get_le64(s + at + 8))))
			break;
		if (type == XE_PKT_DESCRIPTOR && !descriptor_ok(s + at + 24, len, target))
			break;
		if (type == XE_PKT_VRAM)
			vram += len;
		valid = type == XE_PKT_TRAILER;
		records++;
		at += 24 + len;
	}
	FUZZ_CHECK((o->c.rc == 0) == valid);
	if (valid)
		FUZZ_CHECK(o->c.records == records && o->sum.bytes[XE_PKT_VRAM] == vram &&
			   o->sum.vram_tile[0] + o->sum.vram_tile[1] == vram &&
			   o->sum.packets[XE_PKT_DESCRIPTOR] == 1 &&
			   o->sum.packets[XE_PKT_TRAILER] == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome split, whole;
	unsigned int cfg;

	if (size < 1)
		return 0;
	cfg = *data++;
	size--;
	parse(data, size, cfg, &split);
	fuzz_vendor_say(cfg, &split.c);
	if (cfg & CFG_SPLIT) {
		parse(data, size, cfg & ~CFG_SPLIT, &whole);
		fuzz_vendor_same(&split.c, &whole.c,
				 !memcmp(split.sum.bytes, whole.sum.bytes, sizeof(split.sum.bytes)) &&
				 !memcmp(split.sum.vram_tile, whole.sum.vram_tile,
					 sizeof(split.sum.vram_tile)),
				 cfg & CFG_SPLIT, "xe");
	}
	reference(data, size, cfg & CFG_TARGET, &split);
	return 0;
}
