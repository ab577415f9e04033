// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The mock device's stream as a resuming device reads it back: an
 * incremental verifier that accepts any split of the bytes and sizes its
 * bookkeeping from the receiving device, never from the stream.  Its
 * framing-only variant answers a driver's write() at once.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock-content.h"
#include "dev.h"
#include "util.h"

int mock_parser_init(struct mock_parser *p, uint64_t size)
{
	memset(p, 0, sizeof(*p));
	p->size = size;
	p->npages = mock_npages(size);
	p->gen = calloc(p->npages, sizeof(*p->gen));
	p->seen = calloc((p->npages + 7) / 8, 1);
	if (!p->gen || !p->seen) {
		mock_parser_fini(p);
		return -ENOMEM;
	}
	return 0;
}

void mock_parser_init_framing(struct mock_parser *p, uint64_t size)
{
	memset(p, 0, sizeof(*p));
	p->size = size;
	p->npages = mock_npages(size);
}

void mock_parser_fini(struct mock_parser *p)
{
	free(p->gen);
	free(p->seen);
	p->gen = NULL;
	p->seen = NULL;
}

static void parse_fail(struct mock_parser *p, uint64_t at, const char *fmt,
		       ...) __attribute__((format(printf, 3, 4)));

static void parse_fail(struct mock_parser *p, uint64_t at, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(p->err, sizeof(p->err), "stream byte %" PRIu64 ": ", at);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(p->err))
		vsnprintf(p->err + n, sizeof(p->err) - n, fmt, ap);
	va_end(ap);
	p->phase = MOCK_PARSE_FAILED;
}

static void parse_header(struct mock_parser *p)
{
	uint64_t at = p->pos - MOCK_HDR_SIZE;
	struct mock_header h;
	char why[160];

	if (mock_header_decode(p->hdr, &h, why, sizeof(why)) < 0) {
		parse_fail(p, at, "%s", why);
		return;
	}
	if (h.size != p->size) {
		parse_fail(p, at, "stream holds a %" PRIu64 "-byte device, this "
			   "device has %" PRIu64 " %s (size= must match)",
			   h.size, p->size, plural(p->size, "byte", "bytes"));
		return;
	}
	p->mig_flags = h.mig_flags;
	p->seed = h.seed;
	p->phase = MOCK_PARSE_SEGHDR;
}

static void parse_seghdr(struct mock_parser *p)
{
	uint64_t at = p->pos - MOCK_SEG_SIZE;
	struct mock_seg seg;
	char why[160];

	if (mock_seg_decode(p->hdr, p->size, p->nsegs, at, &seg, why, sizeof(why)) < 0) {
		parse_fail(p, at, "%s", why);
		return;
	}
	if (seg.magic == MOCK_SEG_END) {
		p->phase = MOCK_PARSE_DONE;
		return;
	}
	p->seg_gen = seg.gen;
	p->seg_off = seg.offset;
	p->seg_len = seg.length;
	p->seg_done = 0;
	p->phase = MOCK_PARSE_CONTENT;
}

static size_t fill_record(struct mock_parser *p, const uint8_t *buf, size_t len,
			  size_t want)
{
	size_t take = want - p->have < len ? want - p->have : len;

	memcpy(p->hdr + p->have, buf, take);
	p->have += take;
	p->pos += take;
	return take;
}

/* Content of the current page segment: verified unless framing only. */
static size_t parse_content(struct mock_parser *p, const uint8_t *buf, size_t len)
{
	uint64_t page = p->seg_off / MOCK_PAGE_SIZE;
	size_t take = p->seg_len - p->seg_done < len ? p->seg_len - p->seg_done : len;
	size_t ok = !p->gen ? take : mock_verify(p->seed, p->seg_gen,
						  p->seg_off + p->seg_done, buf, take);

	p->seg_done += ok;
	p->pos += ok;
	if (ok < take) {
		/* What matched is counted, so pos is the same for any split. */
		parse_fail(p, p->pos, "content mismatch at device offset 0x%"
			   PRIx64 " (generation %u)", p->seg_off + p->seg_done,
			   p->seg_gen);
		return ok;
	}
	if (p->seg_done < p->seg_len)
		return take;
	if (p->gen) {
		p->gen[page] = p->seg_gen;
		if (!(p->seen[page / 8] & (1u << (page % 8)))) {
			p->seen[page / 8] |= 1u << (page % 8);
			p->seen_count++;
		}
	}
	p->nsegs++;
	p->phase = MOCK_PARSE_SEGHDR;
	return take;
}

void mock_parser_feed(struct mock_parser *p, const void *data, size_t len)
{
	const uint8_t *buf = data;

	while (len) {
		size_t take;

		switch (p->phase) {
		case MOCK_PARSE_HEADER:
			take = fill_record(p, buf, len, MOCK_HDR_SIZE);
			if (p->have == MOCK_HDR_SIZE) {
				p->have = 0;
				parse_header(p);
			}
			break;
		case MOCK_PARSE_SEGHDR:
			take = fill_record(p, buf, len, MOCK_SEG_SIZE);
			if (p->have == MOCK_SEG_SIZE) {
				p->have = 0;
				parse_seghdr(p);
			}
			break;
		case MOCK_PARSE_CONTENT:
			take = parse_content(p, buf, len);
			if (p->phase == MOCK_PARSE_FAILED)
				return;
			break;
		case MOCK_PARSE_DONE:
			p->past_end = true;
			parse_fail(p, p->pos, "%zu %s after the end segment",
				   len, plural(len, "byte", "bytes"));
			return;
		default:
			return;
		}
		buf += take;
		len -= take;
	}
}

int mock_parser_finish(struct mock_parser *p)
{
	switch (p->phase) {
	case MOCK_PARSE_FAILED:
		return -EINVAL;
	case MOCK_PARSE_HEADER:
		if (p->pos == 0)
			snprintf(p->err, sizeof(p->err), "no data was written");
		else
			snprintf(p->err, sizeof(p->err), "stream ends inside "
				 "the header (%" PRIu64 " of %u bytes)",
				 p->pos, MOCK_HDR_SIZE);
		return -EINVAL;
	case MOCK_PARSE_SEGHDR:
	case MOCK_PARSE_CONTENT:
		snprintf(p->err, sizeof(p->err), "stream truncated after %"
			 PRIu64 " %s: no end segment", p->pos, plural(p->pos, "byte", "bytes"));
		return -EINVAL;
	case MOCK_PARSE_DONE:
		break;
	}
	if (!p->seen)
		return 0;	/* framing only: no page bookkeeping to check */
	if (p->seen_count != p->npages) {
		uint64_t i = 0;

		while (i < p->npages && (p->seen[i / 8] & (1u << (i % 8))))
			i++;
		snprintf(p->err, sizeof(p->err), "page %" PRIu64 " (offset 0x%"
			 PRIx64 ") was never sent; %" PRIu64 " of %" PRIu64
			 " pages received", i, i * MOCK_PAGE_SIZE,
			 p->seen_count, p->npages);
		return -EINVAL;
	}
	return 0;
}
