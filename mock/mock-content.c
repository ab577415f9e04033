// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The mock device's stream as the device writes it: its content, its
 * records and the emitter that queues and renders them (mock-parser.c
 * reads it back).  See mock-content.h for the layout and docs/mock.md for
 * the details.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mock-content.h"
#include "util.h"
#include "dev.h"

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

void mock_fill(uint64_t seed, uint32_t gen, uint64_t off, void *buf, size_t len)
{
	uint8_t *p = buf, w[8];
	uint64_t x = gen_key(seed, gen) + (off / 8) * GOLDEN;
	size_t skip = off % 8;

	if (skip && len) {
		size_t n = 8 - skip < len ? 8 - skip : len;

		put_le64(w, gen_word(x));
		memcpy(p, w + skip, n);
		p += n;
		len -= n;
		x += GOLDEN;
	}
	for (; len >= 32; len -= 32, p += 32) {
		put_le64(p, gen_word(x));
		put_le64(p + 8, gen_word(x + GOLDEN));
		put_le64(p + 16, gen_word(x + 2 * GOLDEN));
		put_le64(p + 24, gen_word(x + 3 * GOLDEN));
		x += 4 * GOLDEN;
	}
	for (; len >= 8; len -= 8, p += 8, x += GOLDEN)
		put_le64(p, gen_word(x));
	if (len) {
		put_le64(w, gen_word(x));
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

		put_le64(w, gen_word(x));
		d = first_diff(w + skip, p, n);
		if (d < n)
			return d;
		done = n;
		x += GOLDEN;
	}
	while (len - done >= 32) {
		uint64_t diff = (get_le64(p + done) ^ gen_word(x)) |
				(get_le64(p + done + 8) ^ gen_word(x + GOLDEN)) |
				(get_le64(p + done + 16) ^ gen_word(x + 2 * GOLDEN)) |
				(get_le64(p + done + 24) ^ gen_word(x + 3 * GOLDEN));

		if (diff)
			break;	/* find the byte below */
		done += 32;
		x += 4 * GOLDEN;
	}
	while (done < len) {
		size_t n = len - done < 8 ? len - done : 8, d;

		put_le64(w, gen_word(x));
		d = first_diff(w, p + done, n);
		if (d < n)
			return done + d;
		done += n;
		x += GOLDEN;
	}
	return len;
}

/* ---- wire records ---- */

uint32_t mock_header_check(const uint8_t *h)
{
	uint64_t x = 0;

	for (unsigned int i = 0; i < 36; i += 4)
		x = splitmix64(x ^ get_le32(h + i));
	return (uint32_t)x;
}

static void build_header(const struct mock_emitter *e, uint8_t *h)
{
	memcpy(h, header_magic, 8);
	put_le32(h + 8, MOCK_VERSION);
	put_le32(h + 12, e->mig_flags);
	put_le64(h + 16, e->seed);
	put_le64(h + 24, e->size);
	put_le32(h + 32, MOCK_PAGE_SIZE);
	put_le32(h + 36, mock_header_check(h));
}

static void build_seghdr(uint8_t *s, uint32_t magic, uint32_t gen,
			 uint64_t a, uint64_t b)
{
	put_le32(s, magic);
	put_le32(s + 4, gen);
	put_le64(s + 8, a);
	put_le64(s + 16, b);
}

int mock_header_decode(const uint8_t *h, struct mock_header *ret, char *why,
		       size_t len)
{
	uint32_t version = get_le32(h + 8), page = get_le32(h + 32);
	uint64_t size = get_le64(h + 24);

	if (memcmp(h, header_magic, 8)) {
		snprintf(why, len, "not a mock device stream (no \"VFIOMOCK\" magic)");
		return -EBADMSG;
	}
	if (get_le32(h + 36) != mock_header_check(h)) {
		snprintf(why, len, "header check word mismatch (corrupted header)");
		return -EBADMSG;
	}
	if (version != MOCK_VERSION) {
		snprintf(why, len, "stream version %u, this mock reads version %u",
			 version, MOCK_VERSION);
		return -EPROTO;
	}
	if (page != MOCK_PAGE_SIZE) {
		snprintf(why, len, "page size %u, expected %u", page, MOCK_PAGE_SIZE);
		return -EBADMSG;
	}
	if (size == 0 || size > MOCK_SIZE_MAX) {
		snprintf(why, len, "a %" PRIu64 "-byte device: a mock has 1 byte "
			 "to 64 GiB", size);
		return -EBADMSG;
	}
	*ret = (struct mock_header){
		.mig_flags = get_le32(h + 12), .seed = get_le64(h + 16), .size = size,
	};
	return 0;
}

static int end_decode(const struct mock_seg *seg, uint64_t nsegs, uint64_t at,
		      char *why, size_t len)
{
	if (seg->gen)
		snprintf(why, len, "end segment with non-zero reserved field");
	else if (seg->offset != nsegs)
		snprintf(why, len, "end segment counts %" PRIu64 " page %s, "
			 "the stream had %" PRIu64, seg->offset,
			 plural(seg->offset, "segment", "segments"), nsegs);
	else if (seg->length != at)
		snprintf(why, len, "end segment says the stream before it has %"
			 PRIu64 " %s, it had %" PRIu64, seg->length,
			 plural(seg->length, "byte", "bytes"), at);
	else
		return 0;
	return -EBADMSG;
}

int mock_seg_decode(const uint8_t *s, uint64_t size, uint64_t nsegs, uint64_t at,
		    struct mock_seg *ret, char *why, size_t len)
{
	struct mock_seg seg = {
		.magic = get_le32(s), .gen = get_le32(s + 4),
		.offset = get_le64(s + 8), .length = get_le64(s + 16),
	};
	uint64_t page = seg.offset / MOCK_PAGE_SIZE;

	if (seg.magic == MOCK_SEG_END) {
		if (end_decode(&seg, nsegs, at, why, len))
			return -EBADMSG;
	} else if (seg.magic != MOCK_SEG_PAGE) {
		snprintf(why, len, "unknown segment magic 0x%08x", seg.magic);
		return -EBADMSG;
	} else if (seg.offset % MOCK_PAGE_SIZE || seg.offset >= size) {
		snprintf(why, len, "segment offset 0x%" PRIx64 " is not a page of "
			 "this device", seg.offset);
		return -EBADMSG;
	} else if (seg.length != mock_page_len(size, page)) {
		snprintf(why, len, "segment at 0x%" PRIx64 " has length %" PRIu64
			 ", expected %" PRIu64, seg.offset, seg.length,
			 mock_page_len(size, page));
		return -EBADMSG;
	}
	*ret = seg;
	return 0;
}

/* ---- framing ---- */

static uint32_t record_header_len(const struct mock_emitter *e)
{
	return e->framing == MOCK_FRAMING_XE ? MOCK_XE_HDR : MOCK_MLX5_HDR;
}

/*
 * A record's header into @h: @tag is the framing's (mlx5's tag, xe's
 * type), @at the offset an xe packet's data starts at.  Returns its length.
 */
static uint32_t build_record_header(const struct mock_emitter *e, uint8_t *h, uint32_t tag,
				    uint64_t payload, uint64_t at)
{
	if (e->framing == MOCK_FRAMING_XE) {
		h[0] = MOCK_XE_VERSION;
		h[1] = (uint8_t)tag;
		h[2] = 0;	/* tile */
		h[3] = 0;	/* GT */
		put_le32(h + 4, 0);
		put_le64(h + 8, at);
		put_le64(h + 16, payload);
		return MOCK_XE_HDR;
	}
	put_le64(h, payload);
	put_le32(h + 8, tag == MOCK_MLX5_FW_DATA ? 0 : MOCK_MLX5_OPTIONAL);
	put_le32(h + 12, tag);
	return MOCK_MLX5_HDR;
}

/* The data records' tag: what carries the images. */
static uint32_t data_tag(const struct mock_emitter *e)
{
	return e->framing == MOCK_FRAMING_XE ? MOCK_XE_VRAM : MOCK_MLX5_FW_DATA;
}

/* Bytes [@off, @off + @len) of the payload of record @tag into @out. */
static void render_record_payload(const struct mock_emitter *e, uint32_t tag, uint64_t off,
				  uint8_t *out, size_t len)
{
	uint8_t p[MOCK_XE_DESC_SIZE];

	if (e->framing == MOCK_FRAMING_MLX5) {	/* STOP_COPY_SIZE */
		put_le64(p, e->stop_copy_size);
	} else if (tag == MOCK_XE_DESCRIPTOR) {
		put_le32(p, MOCK_XE_KLV_DEVICE << 16 | 1);
		put_le32(p + 4, e->device);
		put_le32(p + 8, MOCK_XE_KLV_REVISION << 16 | 1);
		put_le32(p + 12, e->revision);
	} else {
		mock_xe_fill(tag, off, out, len);
		return;
	}
	memcpy(out, p + off, len);
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
	e->inner += MOCK_HDR_SIZE;
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
	e->inner += bytes;
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
	it->bytes = e->inner;	/* the mock stream's own bytes, not the framing's */
	e->queued += MOCK_SEG_SIZE;
	e->inner += MOCK_SEG_SIZE;
	return MOCK_SEG_SIZE;
}

/* A record of the framing's own, whole: @tag is its tag or type. */
static void emit_record(struct mock_emitter *e, uint32_t tag, uint64_t payload)
{
	struct mock_item *it = queue_push(e);

	if (!it)
		return;
	it->kind = MOCK_UNIT_RECORD;
	it->tag = tag;
	it->bytes = payload;
	e->queued += record_header_len(e) + payload;
}

void mock_emit_mlx5(struct mock_emitter *e, uint64_t stop_copy_size)
{
	e->framing = MOCK_FRAMING_MLX5;
	e->stop_copy_size = stop_copy_size;
	emit_record(e, MOCK_MLX5_STOP_COPY_SIZE, 8);
}

/* The driver's order: the descriptor, then per GT its GuC, GGTT and MMIO. */
void mock_emit_xe(struct mock_emitter *e, uint32_t device, uint32_t revision)
{
	e->framing = MOCK_FRAMING_XE;
	e->device = device;
	e->revision = revision;
	emit_record(e, MOCK_XE_DESCRIPTOR, MOCK_XE_DESC_SIZE);
	emit_record(e, MOCK_XE_GUC, MOCK_XE_GUC_SIZE);
	emit_record(e, MOCK_XE_GGTT, MOCK_XE_GGTT_SIZE);
	emit_record(e, MOCK_XE_MMIO, MOCK_XE_MMIO_SIZE);
}

void mock_emit_close(struct mock_emitter *e)
{
	if (e->framing == MOCK_FRAMING_XE)
		emit_record(e, MOCK_XE_TRAILER, 0);
}

/* mlx5's pre-copy images are each one SAVE; the rest come in chunks. */
static uint64_t frame_chunk(const struct mock_emitter *e, bool one_save)
{
	if (e->framing == MOCK_FRAMING_XE)
		return MOCK_XE_CHUNK;
	return one_save ? MOCK_MLX5_SAVE_MAX : MOCK_MLX5_CHUNK;
}

int mock_emit_frame_begin(struct mock_emitter *e, bool one_save)
{
	struct mock_item *it;

	if (e->framing == MOCK_FRAMING_NONE || !(it = queue_push(e)))
		return -1;
	it->kind = MOCK_UNIT_FRAME;
	it->first = e->inner;	/* where the image starts */
	it->chunk = frame_chunk(e, one_save);
	return (int)((e->head + e->count - 1) % MOCK_QUEUE_MAX);
}

/* The image's size is known only now; nothing was planned since begin,
 * as both happen under the device lock. */
void mock_emit_frame_end(struct mock_emitter *e, int frame)
{
	struct mock_item *it;

	if (frame < 0)
		return;
	it = &e->q[frame];
	it->bytes = e->inner - it->first;
	e->queued += mock_framed(it->bytes, it->chunk, record_header_len(e)) - it->bytes;
}

static void queue_pop(struct mock_emitter *e)
{
	e->idx = 0;
	e->head = (e->head + 1) % MOCK_QUEUE_MAX;
	e->count--;
}

/*
 * The header of the next data record, planned before its first payload
 * byte; a record is at most a chunk of the image that is left.
 */
static uint64_t plan_rechdr(struct mock_emitter *e, struct mock_piece *pc,
			    uint64_t room)
{
	uint64_t rec = e->frame_left < e->frame_chunk ? e->frame_left : e->frame_chunk;
	uint32_t hdr = record_header_len(e);
	uint64_t take = hdr - e->rec_off;

	if (take > room)
		take = room;
	pc->kind = MOCK_UNIT_RECHDR;
	pc->bytes = rec;
	pc->at = e->frame_at;
	pc->off = e->rec_off;
	pc->len = (uint32_t)take;
	e->rec_off += (uint32_t)take;
	if (e->rec_off == hdr) {
		e->rec_off = 0;
		e->rec_left = rec;
	}
	return take;
}

size_t mock_emit_plan(struct mock_emitter *e, const uint32_t *gen,
		      struct mock_piece *pieces, size_t max_pieces,
		      size_t max_bytes, size_t *ret_bytes)
{
	size_t n = 0, total = 0;

	while (e->count && n < max_pieces && total < max_bytes) {
		const struct mock_item *it = &e->q[e->head];
		struct mock_piece *pc;
		uint64_t unit_len, take;

		if (it->kind == MOCK_UNIT_FRAME) {
			e->frame_at = it->first;
			e->frame_left = it->bytes;
			e->frame_chunk = it->chunk;
			queue_pop(e);
			continue;
		}
		pc = &pieces[n++];
		memset(pc, 0, sizeof(*pc));
		if (e->frame_left && !e->rec_left) {
			total += plan_rechdr(e, pc, max_bytes - total);
			continue;
		}
		pc->kind = it->kind;
		switch (it->kind) {
		case MOCK_UNIT_HEADER:
			unit_len = MOCK_HDR_SIZE;
			break;
		case MOCK_UNIT_RECORD:
			unit_len = record_header_len(e) + it->bytes;
			pc->tag = it->tag;
			pc->bytes = it->bytes;
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
		/* A record may end anywhere in a unit: the image is opaque. */
		if (e->frame_left && take > e->rec_left)
			take = e->rec_left;
		if (e->frame_left) {
			e->frame_at += take;
			e->frame_left -= take;
			e->rec_left -= take;
		}
		pc->off = (uint32_t)e->unit_off;
		pc->len = (uint32_t)take;
		total += take;
		e->unit_off += take;
		if (e->unit_off < unit_len)
			continue;	/* out of room, or a record ends here */
		e->unit_off = 0;
		if (it->kind == MOCK_UNIT_PAGES && ++e->idx < it->count)
			continue;
		queue_pop(e);
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
		case MOCK_UNIT_RECHDR:
			build_record_header(e, unit, data_tag(e), pc->bytes, pc->at);
			memcpy(out, unit + off, len);
			break;
		case MOCK_UNIT_RECORD: {
			uint32_t hdr = record_header_len(e);
			uint32_t h = off < hdr ? (hdr - off < len ? hdr - off : len) : 0;

			build_record_header(e, unit, pc->tag, pc->bytes, 0);
			memcpy(out, unit + off, h);
			if (len > h)
				render_record_payload(e, pc->tag, off + h - hdr, out + h, len - h);
			break;
		}
		case MOCK_UNIT_FRAME:
			break;	/* never a piece */
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
