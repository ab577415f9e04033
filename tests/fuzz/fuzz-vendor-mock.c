// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer harness: the mock device's stream as a vendor backend
 * (mock/vendor-mock.c), which inspection runs over an untrusted saved
 * stream without a device.
 *
 * Input: one configuration byte, then the stream.
 *   bits 0-2  how the stream is split into feed() calls (fuzz-common.h)
 *   bits 3-6  unused, so the seeds of fuzz-mock-stream serve here too
 *   bit 7     recompute the header's check word, so that mutated header
 *             fields reach the checks behind it
 *
 * Each input is parsed in the configured pieces and in one piece, and both
 * parses must end the same: a vendor parser accepts any split.  The mock's
 * own load (mock/mock-parser.c) then reads the stream for a device of the
 * size its header declares, and must reach the end segment exactly when
 * the backend accepts the stream: the two share the record decoders, not
 * the loop around them.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz-vendor.h"
#include "mock.h"
#include "mock-content.h"
#include "util.h"
#include "vendor.h"

#define CFG_SPLIT 0x07u
#define CFG_FIX_CHECK 0x80u
/* The mock's load keeps a u32 and a bit per 64 KiB page of the device. */
#define BIG_DEVICE (1ull << 30)

struct outcome {
	struct fuzz_vendor_outcome c;	/* first: the parser's userdata */
	bool ended;		/* the END record was reported */
};

/* Records come whole, in order, each where the one before it ended. */
static void on_record(void *data, const struct vfiomig_stream_record *rec)
{
	struct outcome *o = data;

	FUZZ_CHECK(!o->ended && rec->device == 7 && rec->optional == 0);
	if (!strcmp(rec->kind, "mock HEADER")) {
		FUZZ_CHECK(rec->offset == 0 && rec->type == 0 && rec->length == 0);
	} else if (!strcmp(rec->kind, "mock PAGE")) {
		FUZZ_CHECK(rec->offset >= MOCK_HDR_SIZE && rec->type == MOCK_SEG_PAGE);
		FUZZ_CHECK(rec->length >= 1 && rec->length <= MOCK_PAGE_SIZE);
	} else {
		FUZZ_CHECK(!strcmp(rec->kind, "mock END"));
		FUZZ_CHECK(rec->type == MOCK_SEG_END && rec->length == 0);
		o->ended = true;
	}
	fuzz_vendor_record(&o->c, rec, strcmp(rec->kind, "mock HEADER") ? MOCK_SEG_SIZE :
					 MOCK_HDR_SIZE);
}

static void parse(const uint8_t *s, size_t size, unsigned int split, struct outcome *o)
{
	const struct vfiomig_vendor_ops *ops = &vfiomig_vendor_mock;
	struct vendor_parser v;
	int r;

	memset(o, 0, sizeof(*o));
	o->c.size = size;
	FUZZ_CHECK(ops && vendor_parser_init(&v, ops, 7, on_record, o) == 0);
	r = fuzz_vendor_feed(&v, ops, s, size, split);
	FUZZ_CHECK(v.records <= v.offset / MOCK_SEG_SIZE + 1);
	/* Valid: it ended with its END. */
	if (r == 0)
		FUZZ_CHECK(o->ended && o->c.next == size);
	fuzz_vendor_done(&v, r, "mock record ", &o->c);
}

/* The mock's load over the same bytes, for a device of the declared size. */
static void check_against_load(const uint8_t *s, size_t size, const struct outcome *o)
{
	struct mock_parser p;
	struct mock_header h;
	char why[160];

	if (size < MOCK_HDR_SIZE || mock_header_decode(s, &h, why, sizeof(why)) < 0) {
		FUZZ_CHECK(o->c.rc < 0);
		return;
	}
	if (h.size > BIG_DEVICE)
		return;
	FUZZ_CHECK(mock_parser_init(&p, h.size) == 0);
	mock_parser_feed(&p, s, size);
	if (o->c.rc == 0)
		FUZZ_CHECK(p.phase == MOCK_PARSE_DONE && p.pos == size &&
			   o->c.records == p.nsegs + 2);
	else
		FUZZ_CHECK(p.phase != MOCK_PARSE_DONE);
	mock_parser_fini(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome split, whole;
	unsigned int cfg;
	uint8_t *s;

	if (size < 1)
		return 0;
	cfg = *data++;
	size--;
	/* A copy the check word can be fixed in; one byte more than nothing. */
	s = malloc(size + 1);
	FUZZ_CHECK(s);
	memcpy(s, data, size);
	if (cfg & CFG_FIX_CHECK && size >= MOCK_HDR_SIZE)
		put_le32(s + 36, mock_header_check(s));

	parse(s, size, cfg & CFG_SPLIT, &split);
	fuzz_vendor_say(cfg, &split.c);
	if (cfg & CFG_SPLIT) {
		parse(s, size, 0, &whole);
		fuzz_vendor_same(&split.c, &whole.c, true, cfg & CFG_SPLIT, "mock");
	}
	check_against_load(s, size, &split);
	free(s);
	return 0;
}
