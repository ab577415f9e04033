// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer harness: the mock device's resume-side parser (mock/mock-content.c,
 * mock_parser_feed() and mock_parser_finish()), which checks every byte a
 * caller writes into a RESUMING mock device, and its framing-only variant
 * (mock_parser_init_framing()), which the mock runs over each write.
 *
 * Input: one configuration byte, then the stream.
 *   bits 0-2  how the stream is split into writes (fuzz-common.h)
 *   bit 3     the receiving device's size: 0 = the size the stream's header
 *             declares if it is 1 byte .. 1 GiB (else 1 byte), 1 = the table
 *             entry chosen by bits 4-6 (up to the largest mock, 64 GiB)
 *   bit 7     recompute the header's check word, so that mutated header
 *             fields reach the checks behind it
 *
 * Each input is parsed twice, in the configured pieces and in one write,
 * and both parses must end the same: the parser accepts any write split.
 * Devices over 1 GiB cost megabytes of bookkeeping per parse (a u32 and a
 * bit per 64 KiB page), so only the table offers one, and it is parsed once.
 * The framing-only parser then reads the same pieces, and must agree with
 * the full parse on everything but the content.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz-common.h"
#include "mock-content.h"

#define CFG_SPLIT 0x07u
#define CFG_SIZE_TABLE 0x08u
#define CFG_SIZE_INDEX(c) (((c) >> 4) & 7u)
#define CFG_FIX_CHECK 0x80u
#define BIG_DEVICE (1ull << 30)

static const uint64_t sizes[8] = {
	1, 7, 4096, MOCK_PAGE_SIZE - 1, MOCK_PAGE_SIZE, MOCK_PAGE_SIZE + 1,
	3 * MOCK_PAGE_SIZE + 5, MOCK_SIZE_MAX,
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

/*
 * A copy of the header check word of mock/mock-content.c (docs/mock.md).  If
 * the two drift apart, bit 7 only stops helping: nothing fails because of it.
 */
static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void fix_check_word(uint8_t *h)
{
	uint64_t x = 0;

	for (unsigned int i = 0; i < 36; i += 4)
		x = splitmix64(x ^ le32(h + i));
	h[36] = (uint8_t)x;
	h[37] = (uint8_t)(x >> 8);
	h[38] = (uint8_t)(x >> 16);
	h[39] = (uint8_t)(x >> 24);
}

struct outcome {
	int rc;
	enum mock_parse_phase phase;
	uint64_t pos, nsegs, seen_count, seed;
	uint32_t mig_flags;
	bool past_end;
	char err[sizeof(((struct mock_parser *)0)->err)];
};

static void check_state(const struct mock_parser *p, size_t fed)
{
	FUZZ_CHECK(p->phase >= MOCK_PARSE_HEADER && p->phase <= MOCK_PARSE_FAILED);
	FUZZ_CHECK(p->pos <= fed);
	FUZZ_CHECK(p->have < MOCK_HDR_SIZE);
	FUZZ_CHECK(p->seen_count <= p->npages);
	FUZZ_CHECK(memchr(p->err, '\0', sizeof(p->err)) != NULL);
	if (p->phase == MOCK_PARSE_FAILED)
		FUZZ_CHECK(p->err[0] != '\0');
	if (p->phase == MOCK_PARSE_CONTENT) {
		/* Only pages of this device, at their exact length, are accepted. */
		FUZZ_CHECK(p->seg_off % MOCK_PAGE_SIZE == 0 && p->seg_off < p->size);
		FUZZ_CHECK(p->seg_len == mock_page_len(p->size, p->seg_off / MOCK_PAGE_SIZE));
		FUZZ_CHECK(p->seg_done < p->seg_len);
	}
}

/* Feeds all of @s in the pieces @split picks, checking the parser after each. */
static void feed_split(struct mock_parser *p, const uint8_t *s, size_t size, unsigned int split)
{
	struct splitter sp;
	size_t fed = 0;

	splitter_init(&sp, split);
	do {
		size_t n = splitter_next(&sp, size - fed);
		enum mock_parse_phase before = p->phase;
		uint64_t pos = p->pos;

		mock_parser_feed(p, s + fed, n);
		fed += n;
		check_state(p, fed);
		/* After the first problem everything is ignored. */
		if (before == MOCK_PARSE_FAILED)
			FUZZ_CHECK(p->phase == MOCK_PARSE_FAILED && p->pos == pos);
	} while (fed < size);
}

static void parse(const uint8_t *s, size_t size, uint64_t dev_size, unsigned int split,
		  struct outcome *o, uint32_t **gen)
{
	struct mock_parser p;

	memset(o, 0, sizeof(*o));
	*gen = NULL;
	FUZZ_CHECK(mock_parser_init(&p, dev_size) == 0);
	FUZZ_CHECK(p.npages == mock_npages(dev_size) && p.phase == MOCK_PARSE_HEADER);
	feed_split(&p, s, size, split);

	o->rc = mock_parser_finish(&p);
	FUZZ_CHECK(o->rc == 0 || o->rc == -EINVAL);
	FUZZ_CHECK(memchr(p.err, '\0', sizeof(p.err)) != NULL);
	if (o->rc == 0) {
		/* A complete, valid stream: all of it consumed, every page seen. */
		FUZZ_CHECK(p.phase == MOCK_PARSE_DONE && p.pos == size);
		FUZZ_CHECK(p.seen_count == p.npages && p.nsegs >= p.npages);
	} else {
		FUZZ_CHECK(p.err[0] != '\0');
	}
	FUZZ_CHECK(mock_parser_finish(&p) == o->rc);
	o->phase = p.phase;
	o->pos = p.pos;
	o->nsegs = p.nsegs;
	o->seen_count = p.seen_count;
	o->seed = p.seed;
	o->mig_flags = p.mig_flags;
	o->past_end = p.past_end;
	memcpy(o->err, p.err, sizeof(o->err));
	*gen = p.gen;	/* compared by the caller, then freed */
	p.gen = NULL;
	mock_parser_fini(&p);
}

/*
 * The framing-only parser: header and segment framing, no content checks,
 * no allocation.  Not mock_parser_finish(): it reads the page bitmap, which
 * a framing parser does not have.
 */
static void parse_framing(const uint8_t *s, size_t size, uint64_t dev_size, unsigned int split,
			  const struct outcome *full)
{
	struct mock_parser p;

	mock_parser_init_framing(&p, dev_size);
	FUZZ_CHECK(!p.gen && !p.seen && p.phase == MOCK_PARSE_HEADER);
	FUZZ_CHECK(p.npages == mock_npages(dev_size));
	feed_split(&p, s, size, split);
	FUZZ_CHECK(!p.gen && !p.seen && p.seen_count == 0);
	/* Bytes past the end segment fail the parse. */
	if (p.past_end)
		FUZZ_CHECK(p.phase == MOCK_PARSE_FAILED);
	/* Content aside, the two parsers read the same structure. */
	if (full->phase == MOCK_PARSE_DONE)
		FUZZ_CHECK(p.phase == MOCK_PARSE_DONE && p.pos == full->pos &&
			   p.nsegs == full->nsegs);
	if (full->past_end)
		FUZZ_CHECK(p.past_end && p.nsegs == full->nsegs);
	if (p.phase == MOCK_PARSE_FAILED)
		FUZZ_CHECK(full->phase == MOCK_PARSE_FAILED);
	mock_parser_fini(&p);
}

/*
 * "N bytes after the end segment" (or "1 byte") counts what was left of the
 * write that went too far, which depends on the split; compare only the
 * position.
 */
static bool same_error(const char *a, const char *b)
{
	static const char after[] = " after the end segment";
	const char *ca = strchr(a, ':'), *cb = strchr(b, ':');

	if (ca && cb && strstr(a, after) && strstr(b, after))
		return ca - a == cb - b && strncmp(a, b, (size_t)(ca - a)) == 0;
	return strcmp(a, b) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome split, whole;
	uint32_t *gen_split, *gen_whole;
	uint64_t dev_size;
	unsigned int cfg;
	uint8_t *s;

	if (size < 1)
		return 0;
	cfg = data[0];
	data++;
	size--;
	s = malloc(size ? size : 1);
	FUZZ_CHECK(s);
	if (size)
		memcpy(s, data, size);
	if (cfg & CFG_FIX_CHECK && size >= MOCK_HDR_SIZE)
		fix_check_word(s);
	if (cfg & CFG_SIZE_TABLE) {
		dev_size = sizes[CFG_SIZE_INDEX(cfg)];
	} else {
		dev_size = size >= 32 ? le64(s + 24) : 0;
		if (dev_size == 0 || dev_size > BIG_DEVICE)
			dev_size = 1;
	}

	parse(s, size, dev_size, cfg & CFG_SPLIT, &split, &gen_split);
	parse_framing(s, size, dev_size, cfg & CFG_SPLIT, &split);
	if (fuzz_verbose())
		fprintf(stderr, "config 0x%02x, device of %llu bytes: %d after %llu bytes, "
			"%llu segments: %s\n", cfg, (unsigned long long)dev_size, split.rc,
			(unsigned long long)split.pos, (unsigned long long)split.nsegs,
			split.rc < 0 ? split.err : "valid");
	if ((cfg & CFG_SPLIT) != 0 && dev_size <= BIG_DEVICE) {
		parse(s, size, dev_size, 0, &whole, &gen_whole);
		/*
		 * After a content mismatch p->pos has not counted the part of
		 * the failing write that did match, so it depends on the split;
		 * the message (all the mock reports) carries the exact position.
		 */
		if (split.rc != whole.rc || split.phase != whole.phase ||
		    (split.phase != MOCK_PARSE_FAILED && split.pos != whole.pos) ||
		    split.nsegs != whole.nsegs ||
		    split.seen_count != whole.seen_count || split.seed != whole.seed ||
		    split.mig_flags != whole.mig_flags || split.past_end != whole.past_end ||
		    !same_error(split.err, whole.err) ||
		    memcmp(gen_split, gen_whole, mock_npages(dev_size) * sizeof(*gen_split))) {
			fprintf(stderr, "split %u: rc %d phase %d pos %llu \"%s\"\n"
				"whole:   rc %d phase %d pos %llu \"%s\"\n", cfg & CFG_SPLIT,
				split.rc, split.phase, (unsigned long long)split.pos, split.err,
				whole.rc, whole.phase, (unsigned long long)whole.pos, whole.err);
			FUZZ_CHECK(!"the parse depends on how the stream is split into writes");
		}
		free(gen_whole);
	}
	free(gen_split);
	free(s);
	return 0;
}
