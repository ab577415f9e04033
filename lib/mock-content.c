// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The mock device's stream: generator, emitter and verifier.
 * See mock-content.h for the layout and docs/mock.md for the details.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock-content.h"

#define GOLDEN 0x9e3779b97f4a7c15ull

static const uint8_t header_magic[8] = { 'V', 'F', 'I', 'O', 'M', 'O', 'C', 'K' };

static uint64_t splitmix64(uint64_t x)
{
	x += GOLDEN;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

uint64_t mock_seed_from_name(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a 64 */

	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ull;
	}
	return splitmix64(h);
}

uint64_t mock_run_bytes(uint64_t size, uint64_t first, uint64_t count)
{
	uint64_t npages = mock_npages(size);
	uint64_t bytes = count * (MOCK_SEG_SIZE + MOCK_PAGE_SIZE);

	/* The run holds the (possibly short) last page at most once. */
	if (count && (npages - 1 + npages - first % npages) % npages < count)
		bytes -= MOCK_PAGE_SIZE - mock_page_len(size, npages - 1);
	return bytes;
}

/* ---- content generator ---- */

static inline uint64_t gen_key(uint64_t seed, uint32_t gen)
{
	return splitmix64(seed ^ splitmix64((uint64_t)gen + 1));
}

/*
 * Word i of a (seed, gen) image.  x -> x ^ x>>32 and x -> x * odd are both
 * bijections, so two different keys differ in every word.  One multiply a
 * word keeps the generator well above the pipe's throughput.
 */
static inline uint64_t gen_word(uint64_t x)
{
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ull;
	x ^= x >> 32;
	return x;
}

static inline void store_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static inline void store_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static inline uint32_t load_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

void mock_fill(uint64_t seed, uint32_t gen, uint64_t off, void *buf, size_t len)
{
	uint8_t *p = buf, w[8];
	uint64_t x = gen_key(seed, gen) + (off / 8) * GOLDEN;
	size_t skip = off % 8;

	if (skip && len) {
		size_t n = 8 - skip < len ? 8 - skip : len;

		store_le64(w, gen_word(x));
		memcpy(p, w + skip, n);
		p += n;
		len -= n;
		x += GOLDEN;
	}
	for (; len >= 32; len -= 32, p += 32) {
		store_le64(p, gen_word(x));
		store_le64(p + 8, gen_word(x + GOLDEN));
		store_le64(p + 16, gen_word(x + 2 * GOLDEN));
		store_le64(p + 24, gen_word(x + 3 * GOLDEN));
		x += 4 * GOLDEN;
	}
	for (; len >= 8; len -= 8, p += 8, x += GOLDEN)
		store_le64(p, gen_word(x));
	if (len) {
		store_le64(w, gen_word(x));
		memcpy(p, w, len);
	}
}

static size_t first_diff(const uint8_t *a, const uint8_t *b, size_t len)
{
	size_t i = 0;

	while (i < len && a[i] == b[i])
		i++;
	return i;
}

size_t mock_verify(uint64_t seed, uint32_t gen, uint64_t off, const void *buf,
		   size_t len)
{
	const uint8_t *p = buf;
	uint8_t w[8];
	uint64_t x = gen_key(seed, gen) + (off / 8) * GOLDEN;
	size_t skip = off % 8, done = 0;

	if (skip && len) {
		size_t n = 8 - skip < len ? 8 - skip : len, d;

		store_le64(w, gen_word(x));
		d = first_diff(w + skip, p, n);
		if (d < n)
			return d;
		done = n;
		x += GOLDEN;
	}
	while (len - done >= 32) {
		uint64_t diff = (load_le64(p + done) ^ gen_word(x)) |
				(load_le64(p + done + 8) ^ gen_word(x + GOLDEN)) |
				(load_le64(p + done + 16) ^ gen_word(x + 2 * GOLDEN)) |
				(load_le64(p + done + 24) ^ gen_word(x + 3 * GOLDEN));

		if (diff)
			break;	/* find the byte below */
		done += 32;
		x += 4 * GOLDEN;
	}
	while (done < len) {
		size_t n = len - done < 8 ? len - done : 8, d;

		store_le64(w, gen_word(x));
		d = first_diff(w, p + done, n);
		if (d < n)
			return done + d;
		done += n;
		x += GOLDEN;
	}
	return len;
}

/* ---- wire records ---- */

/* Header check word: binds every other header byte. */
static uint32_t header_check(const uint8_t *h)
{
	uint64_t x = 0;

	for (unsigned int i = 0; i < 36; i += 4)
		x = splitmix64(x ^ load_le32(h + i));
	return (uint32_t)x;
}

static void build_header(const struct mock_emitter *e, uint8_t *h)
{
	memcpy(h, header_magic, 8);
	store_le32(h + 8, MOCK_VERSION);
	store_le32(h + 12, e->mig_flags);
	store_le64(h + 16, e->seed);
	store_le64(h + 24, e->size);
	store_le32(h + 32, MOCK_PAGE_SIZE);
	store_le32(h + 36, header_check(h));
}

static void build_seghdr(uint8_t *s, uint32_t magic, uint32_t gen,
			 uint64_t a, uint64_t b)
{
	store_le32(s, magic);
	store_le32(s + 4, gen);
	store_le64(s + 8, a);
	store_le64(s + 16, b);
}

/* ---- emitter ---- */

void mock_emit_init(struct mock_emitter *e, uint64_t seed, uint64_t size,
		    uint32_t mig_flags)
{
	memset(e, 0, sizeof(*e));
	e->seed = seed;
	e->size = size;
	e->npages = mock_npages(size);
	e->mig_flags = mig_flags;
}

static struct mock_item *queue_push(struct mock_emitter *e)
{
	struct mock_item *it;

	if (e->count == MOCK_QUEUE_MAX)
		return NULL;
	it = &e->q[(e->head + e->count) % MOCK_QUEUE_MAX];
	e->count++;
	memset(it, 0, sizeof(*it));
	return it;
}

uint64_t mock_emit_header(struct mock_emitter *e)
{
	struct mock_item *it = queue_push(e);

	if (!it)
		return 0;
	it->kind = MOCK_UNIT_HEADER;
	e->queued += MOCK_HDR_SIZE;
	return MOCK_HDR_SIZE;
}

uint64_t mock_emit_pages(struct mock_emitter *e, uint64_t first, uint64_t count)
{
	struct mock_item *it;
	uint64_t bytes;

	if (count > e->npages)
		count = e->npages;
	if (!count || !(it = queue_push(e)))
		return 0;
	it->kind = MOCK_UNIT_PAGES;
	it->first = first % e->npages;
	it->count = count;
	bytes = mock_run_bytes(e->size, it->first, count);
	e->queued += bytes;
	e->nsegs += count;
	return bytes;
}

uint64_t mock_emit_end(struct mock_emitter *e)
{
	struct mock_item *it = queue_push(e);

	if (!it)
		return 0;
	it->kind = MOCK_UNIT_END;
	it->nsegs = e->nsegs;
	it->bytes = e->queued;
	e->queued += MOCK_SEG_SIZE;
	return MOCK_SEG_SIZE;
}

size_t mock_emit_plan(struct mock_emitter *e, const uint32_t *gen,
		      struct mock_piece *pieces, size_t max_pieces,
		      size_t max_bytes, size_t *ret_bytes)
{
	size_t n = 0, total = 0;

	while (e->count && n < max_pieces && total < max_bytes) {
		const struct mock_item *it = &e->q[e->head];
		struct mock_piece *pc = &pieces[n++];
		uint64_t unit_len, take;

		memset(pc, 0, sizeof(*pc));
		pc->kind = it->kind;
		switch (it->kind) {
		case MOCK_UNIT_HEADER:
			unit_len = MOCK_HDR_SIZE;
			break;
		case MOCK_UNIT_PAGES:
			pc->page = (it->first + e->idx) % e->npages;
			unit_len = MOCK_SEG_SIZE + mock_page_len(e->size, pc->page);
			if (e->unit_off == 0)
				e->unit_gen = gen[pc->page];
			pc->gen = e->unit_gen;
			break;
		default:
			unit_len = MOCK_SEG_SIZE;
			pc->nsegs = it->nsegs;
			pc->bytes = it->bytes;
			break;
		}
		take = unit_len - e->unit_off;
		if (take > max_bytes - total)
			take = max_bytes - total;
		pc->off = (uint32_t)e->unit_off;
		pc->len = (uint32_t)take;
		total += take;
		e->unit_off += take;
		if (e->unit_off < unit_len)
			break;
		e->unit_off = 0;
		if (it->kind == MOCK_UNIT_PAGES && ++e->idx < it->count)
			continue;
		e->idx = 0;
		e->head = (e->head + 1) % MOCK_QUEUE_MAX;
		e->count--;
	}
	e->planned += total;
	*ret_bytes += total;
	return n;
}

size_t mock_emit_render(const struct mock_emitter *e,
			const struct mock_piece *pieces, size_t n, void *buf)
{
	uint8_t *out = buf, unit[MOCK_HDR_SIZE];
	size_t total = 0;

	for (size_t i = 0; i < n; i++) {
		const struct mock_piece *pc = &pieces[i];
		uint32_t off = pc->off, len = pc->len;

		switch (pc->kind) {
		case MOCK_UNIT_HEADER:
			build_header(e, unit);
			memcpy(out, unit + off, len);
			break;
		case MOCK_UNIT_END:
			build_seghdr(unit, MOCK_SEG_END, 0, pc->nsegs, pc->bytes);
			memcpy(out, unit + off, len);
			break;
		case MOCK_UNIT_PAGES: {
			uint8_t *p = out;
			uint32_t rest = len;

			if (off < MOCK_SEG_SIZE) {
				uint32_t h = MOCK_SEG_SIZE - off < rest ?
					     MOCK_SEG_SIZE - off : rest;

				build_seghdr(unit, MOCK_SEG_PAGE, pc->gen,
					     pc->page * MOCK_PAGE_SIZE,
					     mock_page_len(e->size, pc->page));
				memcpy(p, unit + off, h);
				p += h;
				off += h;
				rest -= h;
			}
			if (rest)
				mock_fill(e->seed, pc->gen,
					  pc->page * MOCK_PAGE_SIZE + off -
						  MOCK_SEG_SIZE,
					  p, rest);
			break;
		}
		}
		out += len;
		total += len;
	}
	return total;
}

/* ---- parser ---- */

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
	const uint8_t *h = p->hdr;
	uint64_t at = p->pos - MOCK_HDR_SIZE, size;
	uint32_t version;

	if (memcmp(h, header_magic, 8)) {
		parse_fail(p, at, "not a mock device stream (no \"VFIOMOCK\" magic)");
		return;
	}
	if (load_le32(h + 36) != header_check(h)) {
		parse_fail(p, at, "header check word mismatch (corrupted header)");
		return;
	}
	version = load_le32(h + 8);
	if (version != MOCK_VERSION) {
		parse_fail(p, at, "stream version %u, this mock reads version %u",
			   version, MOCK_VERSION);
		return;
	}
	size = load_le64(h + 24);
	if (size != p->size) {
		parse_fail(p, at, "stream holds a %" PRIu64 "-byte device, this "
			   "device has %" PRIu64 " bytes (size= must match)",
			   size, p->size);
		return;
	}
	if (load_le32(h + 32) != MOCK_PAGE_SIZE) {
		parse_fail(p, at, "page size %u, expected %u", load_le32(h + 32),
			   MOCK_PAGE_SIZE);
		return;
	}
	p->mig_flags = load_le32(h + 12);
	p->seed = load_le64(h + 16);
	p->phase = MOCK_PARSE_SEGHDR;
}

static void parse_seghdr(struct mock_parser *p)
{
	const uint8_t *s = p->hdr;
	uint64_t at = p->pos - MOCK_SEG_SIZE;
	uint32_t magic = load_le32(s), gen = load_le32(s + 4);
	uint64_t a = load_le64(s + 8), b = load_le64(s + 16);

	if (magic == MOCK_SEG_END) {
		if (gen) {
			parse_fail(p, at, "end segment with non-zero reserved field");
		} else if (a != p->nsegs) {
			parse_fail(p, at, "end segment counts %" PRIu64 " page "
				   "segments, %" PRIu64 " were received",
				   a, p->nsegs);
		} else if (b != at) {
			parse_fail(p, at, "end segment says the stream before "
				   "it has %" PRIu64 " bytes, it had %" PRIu64,
				   b, at);
		} else {
			p->phase = MOCK_PARSE_DONE;
		}
		return;
	}
	if (magic != MOCK_SEG_PAGE) {
		parse_fail(p, at, "unknown segment magic 0x%08x", magic);
		return;
	}
	if (a % MOCK_PAGE_SIZE || a >= p->size) {
		parse_fail(p, at, "segment offset 0x%" PRIx64 " is not a page of "
			   "this device", a);
		return;
	}
	if (b != mock_page_len(p->size, a / MOCK_PAGE_SIZE)) {
		parse_fail(p, at, "segment at 0x%" PRIx64 " has length %" PRIu64
			   ", expected %" PRIu64, a, b,
			   mock_page_len(p->size, a / MOCK_PAGE_SIZE));
		return;
	}
	p->seg_gen = gen;
	p->seg_off = a;
	p->seg_len = b;
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
		case MOCK_PARSE_CONTENT: {
			uint64_t page = p->seg_off / MOCK_PAGE_SIZE;
			size_t ok;

			take = p->seg_len - p->seg_done < len ?
			       p->seg_len - p->seg_done : len;
			/* Without bookkeeping (framing only) content is not checked. */
			ok = !p->gen ? take : mock_verify(p->seed, p->seg_gen,
							 p->seg_off + p->seg_done, buf, take);
			if (ok < take) {
				/* Count what matched, so pos is the same for any split. */
				p->seg_done += ok;
				p->pos += ok;
				parse_fail(p, p->pos, "content mismatch at "
					   "device offset 0x%" PRIx64
					   " (generation %u)",
					   p->seg_off + p->seg_done,
					   p->seg_gen);
				return;
			}
			p->seg_done += take;
			p->pos += take;
			if (p->seg_done == p->seg_len && !p->gen) {
				p->nsegs++;
				p->phase = MOCK_PARSE_SEGHDR;
			} else if (p->seg_done == p->seg_len) {
				p->gen[page] = p->seg_gen;
				if (!(p->seen[page / 8] & (1u << (page % 8)))) {
					p->seen[page / 8] |= 1u << (page % 8);
					p->seen_count++;
				}
				p->nsegs++;
				p->phase = MOCK_PARSE_SEGHDR;
			}
			break;
		}
		case MOCK_PARSE_DONE:
			p->past_end = true;
			parse_fail(p, p->pos, "%zu bytes after the end segment",
				   len);
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
			 PRIu64 " bytes: no end segment", p->pos);
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
