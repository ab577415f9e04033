/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The mock device's own stream (docs/mock.md, mock-content.h) as a vendor
 * backend: a 40-byte header, 24-byte PAGE segments each followed by its
 * content, and a 24-byte END.  The records are checked with the decoders
 * the mock's own load uses, and the content against its generator, which
 * needs only the header's seed and the segment's generation.  So memory
 * stays constant; the one check this leaves to the mock's load is that
 * every page was sent, which takes a bit per page of the device.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mock-content.h"
#include "vendor.h"

enum mock_phase { PHASE_HEADER, PHASE_SEGMENT, PHASE_CONTENT, PHASE_DONE };

/* Where the parser is in the stream. */
struct mock_state {
	enum mock_phase phase;
	uint8_t rec[MOCK_HDR_SIZE];	/* the header or segment header so far */
	size_t have;
	uint64_t record_start;
	struct mock_header header;
	struct mock_seg seg;		/* the page segment whose content passes */
	uint64_t done;			/* content bytes of it checked */
	uint64_t nsegs;			/* page segments complete */
};

/* @index: the record at fault (p->records counts those accepted). */
static int mock_problem(struct vendor_parser *p, int err, uint64_t index, uint64_t at,
			const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int mock_problem(struct vendor_parser *p, int err, uint64_t index, uint64_t at,
			const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(p->problem, sizeof(p->problem), "mock record %" PRIu64 ": ", index);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(p->problem))
		vsnprintf(p->problem + n, sizeof(p->problem) - (size_t)n, fmt, ap);
	va_end(ap);
	p->problem_offset = at;
	return err;
}

static void report(struct vendor_parser *p, const char *kind, uint32_t type,
		   uint64_t length)
{
	const struct mock_state *m = p->state;
	struct vfiomig_stream_record rec = {
		.kind = kind, .type = type, .device = p->device,
		.offset = m->record_start, .length = length,
	};

	if (p->record)
		p->record(p->userdata, &rec);
	p->records++;
}

static int take_header(struct vendor_parser *p)
{
	struct mock_state *m = p->state;
	char why[160];
	int r = mock_header_decode(m->rec, &m->header, why, sizeof(why));

	if (r < 0)
		return mock_problem(p, r, p->records, m->record_start, "%s", why);
	report(p, "mock HEADER", 0, 0);
	m->phase = PHASE_SEGMENT;
	return 0;
}

static int take_segment(struct vendor_parser *p)
{
	struct mock_state *m = p->state;
	char why[160];
	int r = mock_seg_decode(m->rec, m->header.size, m->nsegs, m->record_start,
				&m->seg, why, sizeof(why));

	if (r < 0)
		return mock_problem(p, r, p->records, m->record_start, "%s", why);
	if (m->seg.magic == MOCK_SEG_END) {
		report(p, "mock END", MOCK_SEG_END, 0);
		m->phase = PHASE_DONE;
		return 0;
	}
	report(p, "mock PAGE", MOCK_SEG_PAGE, m->seg.length);
	m->done = 0;
	m->phase = PHASE_CONTENT;
	return 0;
}

/* Gathers a header or segment header; *@ret_n: the bytes taken. */
static int gather(struct vendor_parser *p, const uint8_t *buf, size_t len, size_t *ret_n)
{
	struct mock_state *m = p->state;
	size_t want = m->phase == PHASE_HEADER ? MOCK_HDR_SIZE : MOCK_SEG_SIZE;
	size_t n = want - m->have < len ? want - m->have : len;

	if (m->have == 0)
		m->record_start = p->offset;
	memcpy(m->rec + m->have, buf, n);
	m->have += n;
	*ret_n = n;
	if (m->have < want)
		return 0;
	m->have = 0;
	return m->phase == PHASE_HEADER ? take_header(p) : take_segment(p);
}

/* Checks content against the generator; *@ret_n: the bytes that matched. */
static int content(struct vendor_parser *p, const uint8_t *buf, size_t len, size_t *ret_n)
{
	struct mock_state *m = p->state;
	uint64_t left = m->seg.length - m->done;
	size_t n = left < len ? (size_t)left : len;
	size_t ok = mock_verify(m->header.seed, m->seg.gen, m->seg.offset + m->done, buf, n);

	*ret_n = ok;
	if (ok < n)
		return mock_problem(p, -EBADMSG, p->records - 1, p->offset + ok,
				    "content mismatch at device offset 0x%" PRIx64
				    " (generation %u)", m->seg.offset + m->done + ok,
				    m->seg.gen);
	m->done += n;
	if (m->done == m->seg.length) {
		m->nsegs++;
		m->phase = PHASE_SEGMENT;
	}
	return 0;
}

static int mock_feed(struct vendor_parser *p, const uint8_t *buf, size_t len)
{
	struct mock_state *m = p->state;

	while (len) {
		size_t n;
		int r;

		if (m->phase == PHASE_DONE)
			return mock_problem(p, -EBADMSG, p->records, p->offset,
					    "data after the end segment");
		if (m->phase == PHASE_CONTENT)
			r = content(p, buf, len, &n);
		else
			r = gather(p, buf, len, &n);
		p->offset += n;
		if (r < 0)
			return r;
		buf += n;
		len -= n;
	}
	return 0;
}

static int mock_finish(struct vendor_parser *p)
{
	const struct mock_state *m = p->state;

	switch (m->phase) {
	case PHASE_HEADER:
		return mock_problem(p, -EBADMSG, p->records, 0, "stream ends inside "
				    "the header (%zu of %u bytes)", m->have, MOCK_HDR_SIZE);
	case PHASE_SEGMENT:
		if (m->have)
			return mock_problem(p, -EBADMSG, p->records, m->record_start,
					    "stream ends inside a segment header");
		return mock_problem(p, -EBADMSG, p->records, p->offset,
				    "stream ends without its end segment");
	case PHASE_CONTENT:
		return mock_problem(p, -EBADMSG, p->records - 1, m->record_start,
				    "stream ends inside a page's content");
	default:
		return 0;
	}
}

/* Never chosen by identity: a mock pretends any identity it is given. */
const struct vfiomig_vendor_ops vfiomig_vendor_mock = {
	.name = "mock",
	.state_size = sizeof(struct mock_state),
	.feed = mock_feed,
	.finish = mock_finish,
};
