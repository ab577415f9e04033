// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer harness: the mlx5_vfio_pci stream parser (lib/vendor/vendor-mlx5.c),
 * which inspection runs over untrusted saved streams, a save over what the
 * device gives, and a load over the bytes before the device sees them.
 *
 * Input: one configuration byte, then the device stream.
 *   bits 0-2  how the stream is split into feed() calls (fuzz-common.h)
 *   bits 3-4  the load's target kernel: 0 none (inspect, save), 1 Linux
 *             6.8 (reads headerless streams), 2 and 3 Linux 6.9
 *   bits 5-7  unused
 *
 * Each input is parsed in the configured pieces and in one piece, and both
 * parses must end the same: a vendor parser accepts any split.  Both must
 * also agree with a reference walk over the whole buffer, written here
 * from the driver's rules (docs/mlx5.md), on the verdict, the records and
 * the summary: a valid stream is accepted, whole, and its counts are right.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz-vendor.h"
#include "util.h"
#include "vendor-mlx5.h"

#define CFG_SPLIT 0x07u
#define CFG_TARGET_SHIFT 3

struct outcome {
	struct fuzz_vendor_outcome c;	/* first: the parser's userdata */
	struct mlx5_summary sum;
};

/* Records come whole-headed, in order, each where the one before it ended. */
static void on_record(void *data, const struct vfiomig_stream_record *rec)
{
	struct outcome *o = data;

	FUZZ_CHECK(rec->device == 3 && !strncmp(rec->kind, "mlx5 ", 5));
	FUZZ_CHECK(rec->length <= 0xffffffffull);
	if (rec->type == 1)
		FUZZ_CHECK(rec->length == 8);
	if (rec->type > 1)
		FUZZ_CHECK(rec->optional);
	fuzz_vendor_record(&o->c, rec, 16);
}

static uint32_t target_of(unsigned int cfg)
{
	static const uint32_t kernels[4] = {
		0, VENDOR_KERNEL(6, 8), VENDOR_KERNEL(6, 9), VENDOR_KERNEL(6, 9),
	};

	return kernels[(cfg >> CFG_TARGET_SHIFT) & 3];
}

static void parse(const uint8_t *s, size_t size, unsigned int split, uint32_t target,
		  struct outcome *o)
{
	const struct vfiomig_vendor_ops *ops = vfiomig_vendor_find(NULL, "mlx5");
	struct vendor_parser v;
	int r;

	memset(o, 0, sizeof(*o));
	o->c.size = size;
	FUZZ_CHECK(ops && vendor_parser_init(&v, ops, 3, on_record, o) == 0);
	v.target_kernel = target;
	r = fuzz_vendor_feed(&v, ops, s, size, split);
	mlx5_parser_summary(&v, &o->sum);
	/* Whole records, unless the rest is an opaque headerless image. */
	if (r == 0 && o->sum.generation != MLX5_GEN_HEADERLESS)
		FUZZ_CHECK(o->c.next == size);
	fuzz_vendor_done(&v, r, "mlx5 record ", &o->c);
}

/* The driver's rules over the whole buffer: the verdict and the counts. */
static void reference(const uint8_t *s, size_t size, uint32_t target, const struct outcome *o)
{
	uint64_t at = 0, records = 0, fw = 0, fw_bytes = 0;
	bool valid = true;

	while (at < size) {
		uint64_t len, left = size - at;
		uint32_t flags, tag;
		bool bad;

		if (left < 16) {
			valid = false;	/* cut inside a header */
			break;
		}
		len = get_le64(s + at);
		flags = get_le32(s + at + 8);
		tag = get_le32(s + at + 12);
		bad = len > 0xffffffffull || (tag > 1 && !(flags & 1)) || (tag == 1 && len != 8);
		if (records == 0 && (bad || flags & ~1u)) {
			/* The first header is no header: a bare image. */
			FUZZ_CHECK(o->sum.generation == MLX5_GEN_HEADERLESS);
			valid = target && target < VENDOR_KERNEL(6, 9);
			FUZZ_CHECK((o->c.rc == 0) == valid);
			return;
		}
		if (bad) {
			valid = false;
			break;
		}
		records++;
		if (tag == 0) {
			fw++;
			fw_bytes += len;
		}
		if (left - 16 < len) {
			valid = false;	/* cut inside a payload */
			break;
		}
		at += 16 + len;
	}
	FUZZ_CHECK((o->c.rc == 0) == valid);
	if (valid) {
		FUZZ_CHECK(o->c.records == records && o->sum.fw_records == fw &&
			   o->sum.fw_bytes == fw_bytes);
		FUZZ_CHECK(records == 0 ? o->sum.generation == MLX5_GEN_NONE :
			   o->sum.generation >= MLX5_GEN_HEADER);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome split, whole;
	unsigned int cfg;
	uint32_t target;

	if (size < 1)
		return 0;
	cfg = *data++;
	size--;
	target = target_of(cfg);
	parse(data, size, cfg & CFG_SPLIT, target, &split);
	fuzz_vendor_say(cfg, &split.c);
	if (cfg & CFG_SPLIT) {
		parse(data, size, 0, target, &whole);
		fuzz_vendor_same(&split.c, &whole.c,
				 split.sum.generation == whole.sum.generation &&
				 split.sum.stop_copy_size == whole.sum.stop_copy_size &&
				 split.sum.fw_records == whole.sum.fw_records &&
				 split.sum.fw_bytes == whole.sum.fw_bytes &&
				 split.sum.skipped == whole.sum.skipped,
				 cfg & CFG_SPLIT, "mlx5");
	}
	reference(data, size, target, &split);
	return 0;
}
