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
	size_t size;		/* of the stream */
	int rc;
	uint64_t offset, records, problem_offset, digest;
	uint64_t next;		/* where the next record must start */
	bool ended;		/* the END record was reported */
	char problem[sizeof(((struct vendor_parser *)0)->problem)];
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	return h ^ (v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2));
}

/* Records come whole, in order, each where the one before it ended. */
static void on_record(void *data, const struct vfiomig_stream_record *rec)
{
	struct outcome *o = data;
	uint64_t fixed = strcmp(rec->kind, "mock HEADER") ? MOCK_SEG_SIZE : MOCK_HDR_SIZE;

	FUZZ_CHECK(!o->ended && rec->device == 7 && rec->optional == 0);
	FUZZ_CHECK(rec->offset == o->next && rec->offset + fixed <= o->size);
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
	o->next = rec->offset + fixed + rec->length;
	o->digest = mix(mix(mix(o->digest, rec->type), rec->offset), rec->length);
}

static void parse(const uint8_t *s, size_t size, unsigned int split, struct outcome *o)
{
	const struct vfiomig_vendor_ops *ops = &vfiomig_vendor_mock;
	struct vendor_parser v;
	int r;

	memset(o, 0, sizeof(*o));
	o->size = size;
	FUZZ_CHECK(ops && vendor_parser_init(&v, ops, 7, on_record, o) == 0);
	r = fuzz_vendor_feed(&v, ops, s, size, split);
	FUZZ_CHECK(v.records <= v.offset / MOCK_SEG_SIZE + 1);
	if (r < 0) {
		FUZZ_CHECK(v.problem_offset <= v.offset);
		FUZZ_CHECK(memchr(v.problem, '\0', sizeof(v.problem)));
		FUZZ_CHECK(!strncmp(v.problem, "mock record ", 12));
	} else {
		/* Valid: all of it read, and it ended with its END. */
		FUZZ_CHECK(v.offset == size && o->ended && o->next == size);
		FUZZ_CHECK(v.problem_offset == UINT64_MAX);
	}
	o->rc = r;
	o->offset = v.offset;
	o->records = v.records;
	o->problem_offset = v.problem_offset;
	memcpy(o->problem, v.problem, sizeof(o->problem));
	vendor_parser_fini(&v);
}

/* The mock's load over the same bytes, for a device of the declared size. */
static void check_against_load(const uint8_t *s, size_t size, const struct outcome *o)
{
	struct mock_parser p;
	struct mock_header h;
	char why[160];

	if (size < MOCK_HDR_SIZE || mock_header_decode(s, &h, why, sizeof(why)) < 0) {
		FUZZ_CHECK(o->rc < 0);
		return;
	}
	if (h.size > BIG_DEVICE)
		return;
	FUZZ_CHECK(mock_parser_init(&p, h.size) == 0);
	mock_parser_feed(&p, s, size);
	if (o->rc == 0)
		FUZZ_CHECK(p.phase == MOCK_PARSE_DONE && p.pos == size &&
			   o->records == p.nsegs + 2);
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
	if (fuzz_verbose())
		fprintf(stderr, "config 0x%02x: %d after %llu bytes, %llu records: %s\n", cfg,
			split.rc, (unsigned long long)split.offset,
			(unsigned long long)split.records, split.rc < 0 ? split.problem : "valid");
	if (cfg & CFG_SPLIT) {
		parse(s, size, 0, &whole);
		if (split.rc != whole.rc || split.offset != whole.offset ||
		    split.records != whole.records || split.digest != whole.digest ||
		    split.problem_offset != whole.problem_offset ||
		    strcmp(split.problem, whole.problem)) {
			fprintf(stderr, "split %u: %d, %llu records, \"%s\" at %llu\n"
				"whole:   %d, %llu records, \"%s\" at %llu\n", cfg & CFG_SPLIT,
				split.rc, (unsigned long long)split.records, split.problem,
				(unsigned long long)split.problem_offset, whole.rc,
				(unsigned long long)whole.records, whole.problem,
				(unsigned long long)whole.problem_offset);
			FUZZ_CHECK(!"the mock backend depends on how its input is split");
		}
	}
	check_against_load(s, size, &split);
	free(s);
	return 0;
}
