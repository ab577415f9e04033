// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Writes the fuzzers' seed corpora: make-seeds DIR fills DIR/stream/,
 * DIR/inspect/, DIR/mock-stream/, DIR/group-load/ and DIR/vendor-mlx5/
 * (docs/fuzzing.md).  Valid streams come from real saves of
 * mock devices (vfiomig_dev_save() into a memfd); the rest are truncated and
 * corrupted variants and streams crafted with the writers.
 *
 * Every seed starts with the harness's configuration byte (see the top of
 * fuzz-stream.c and fuzz-mock-stream.c).  The output is deterministic: a
 * framed save is re-framed into records of fixed sizes, and its IDENTITY
 * names no kernel or library version.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vfiomig/mock.h>
#include <vfiomig/vfiomig.h>

#include "mock-content.h"
#include "util.h"
#include "stream.h"

/* Seeds stay small: fuzzing is fast on small inputs, and they are committed. */
#define SEED_MAX (64u << 10)

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void die(const char *what, int err)
{
	fprintf(stderr, "make-seeds: %s: %s\n", what, strerror(err));
	exit(1);
}

static void buf_add(struct buf *b, const void *p, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap < b->len + len)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			die("realloc", ENOMEM);
		b->cap = cap;
	}
	if (len)
		memcpy(b->p + b->len, p, len);
	b->len += len;
}

static const char *outdir;

static void put_seed(const char *corpus, const char *name, uint8_t cfg,
		     const uint8_t *p, size_t len)
{
	char path[4096];
	FILE *f;

	if (len + 1 > SEED_MAX) {
		fprintf(stderr, "make-seeds: %s/%s: %zu bytes is over the limit\n",
			corpus, name, len + 1);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, corpus, name);
	f = fopen(path, "wb");
	if (!f || fputc(cfg, f) == EOF || (len && fwrite(p, 1, len, f) != len) || fclose(f))
		die(path, errno);
}

/* ---- saves of mock devices ---- */

static struct buf save_mock(const char *spec, unsigned int flags, enum vfiomig_precopy_mode pre,
			    unsigned int rounds)
{
	struct vfiomig_save_opts o = {
		.sz = sizeof(o), .flags = flags, .precopy = pre, .precopy_rounds = rounds,
		.buffer_size = 4 << 10,	/* the least allowed: records of at most 4 KiB */
	};
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	struct buf b = { 0 };
	struct stat st;
	int fd, r;

	r = vfiomig_ctx_new(&ctx);
	if (r == 0)
		r = vfiomig_mock_attach(ctx);
	if (r < 0)
		die("vfiomig_ctx_new", -r);
	r = vfiomig_dev_open(ctx, spec, &dev);
	if (r < 0)
		die(spec, -r);
	fd = memfd_create("seed", MFD_CLOEXEC);
	if (fd < 0)
		die("memfd_create", errno);
	r = vfiomig_dev_save(dev, fd, &o);
	if (r < 0) {
		fprintf(stderr, "make-seeds: saving %s: %s\n", spec, vfiomig_ctx_get_error(ctx));
		exit(1);
	}
	if (fstat(fd, &st) < 0)
		die("fstat", errno);
	b.len = b.cap = (size_t)st.st_size;
	b.p = malloc(b.len + 1);
	if (!b.p)
		die("malloc", ENOMEM);
	if (pread(fd, b.p, b.len, 0) != (ssize_t)b.len)
		die("pread", errno);
	close(fd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
	return b;
}

/* ---- re-framing ---- */

struct mem_source {
	const uint8_t *p;
	size_t len, pos;
};

static ssize_t mem_read(void *ctx, void *buf, size_t len)
{
	struct mem_source *m = ctx;

	if (len > m->len - m->pos)
		len = m->len - m->pos;
	memcpy(buf, m->p + m->pos, len);
	m->pos += len;
	return (ssize_t)len;
}

static int buf_write(void *ctx, const void *a, size_t alen, const void *b, size_t blen)
{
	buf_add(ctx, a, alen);
	buf_add(ctx, b, blen);
	return 0;
}

static void writer_begin(struct stream_writer *w, struct buf *out)
{
	*w = (struct stream_writer){ .write = buf_write, .ctx = out };
	if (stream_writer_begin(w) < 0)
		die("stream_writer_begin", ENOMEM);
}

static void writer_finish(struct stream_writer *w)
{
	if (stream_writer_finish(w) < 0)
		die("stream_writer_finish", EIO);
	stream_writer_free(w);
}

static void write_dev_record(struct stream_writer *w, uint16_t type, uint16_t flags,
			     uint32_t device, const void *p, size_t len)
{
	if (stream_write_record(w, type, flags, device, p, (uint32_t)len) < 0)
		die("stream_write_record", E2BIG);
}

static void write_record(struct stream_writer *w, uint16_t type, uint16_t flags,
			 const void *p, size_t len)
{
	write_dev_record(w, type, flags, 0, p, len);
}

static size_t normal_identity(const uint8_t *p, size_t len, uint8_t *out, size_t size)
{
	struct stream_identity id;

	if (stream_identity_decode(p, len, &id) < 0)
		die("IDENTITY record", EBADMSG);
	snprintf(id.kernel, sizeof(id.kernel), "fuzz-seed");
	snprintf(id.library, sizeof(id.library), "libvfiomig");
	return stream_identity_encode(&id, out, size);
}

/*
 * A saved stream's record boundaries follow the pipe reads of the save;
 * this joins each run of DATA records and cuts it into @max-byte records,
 * so the seeds do not change from one generation to the next.
 */
static struct buf reframe(const struct buf *in, size_t max)
{
	struct mem_source src = { .p = in->p, .len = in->len };
	struct stream_reader r = { .read = mem_read, .ctx = &src };
	struct stream_writer w;
	struct stream_record rec;
	struct buf out = { 0 }, run = { 0 };
	uint16_t run_type = 0;
	uint8_t *payload = malloc(STREAM_MAX_PAYLOAD);
	int rc;

	if (!payload)
		die("malloc", ENOMEM);
	writer_begin(&w, &out);
	rc = stream_reader_begin(&r);
	while (rc >= 0) {
		rc = stream_read_record(&r, &rec, payload);
		if (run.len && (rc <= 0 || rec.type != run_type)) {
			for (size_t off = 0; off < run.len; off += max)
				write_record(&w, run_type, 0, run.p + off,
					     run.len - off < max ? run.len - off : max);
			run.len = 0;
		}
		if (rc <= 0)
			break;
		if (rec.type == STREAM_DATA_PRECOPY || rec.type == STREAM_DATA_STOP_COPY) {
			run_type = rec.type;
			buf_add(&run, payload, rec.length);
		} else if (rec.type == STREAM_IDENTITY) {
			uint8_t id[STREAM_IDENTITY_MAX];

			write_record(&w, rec.type, rec.flags, id,
				     normal_identity(payload, rec.length, id, sizeof(id)));
		} else {
			write_record(&w, rec.type, rec.flags, payload, rec.length);
		}
	}
	if (rc < 0) {
		fprintf(stderr, "make-seeds: reading a save back: %s\n", r.error);
		exit(1);
	}
	stream_reader_free(&r);
	writer_finish(&w);
	free(run.p);
	free(payload);
	return out;
}

/* ---- the mock device's stream ---- */

/* Renders a mock stream: a header, page runs at chosen generations, an end. */
struct mock_run {
	uint64_t first, count;
	uint32_t gen;
};

static struct buf mock_stream(const char *name, uint64_t size, const struct mock_run *runs,
			      size_t nruns, bool end)
{
	struct mock_emitter e;
	struct mock_piece pieces[64];
	uint64_t npages = mock_npages(size);
	uint32_t *gen = calloc(npages, sizeof(*gen));
	struct buf out = { 0 };

	if (!gen)
		die("calloc", ENOMEM);
	/* mig_flags 7: STOP_COPY | P2P | PRE_COPY, the mock's default. */
	mock_emit_init(&e, mock_seed_from_name(name), size, 0x7);
	mock_emit_header(&e);
	for (size_t i = 0; i <= nruns; i++) {
		size_t n, bytes = 0;

		if (i < nruns) {
			for (uint64_t k = 0; k < runs[i].count; k++)
				gen[(runs[i].first + k) % npages] = runs[i].gen;
			mock_emit_pages(&e, runs[i].first, runs[i].count);
		} else if (end) {
			mock_emit_end(&e);
		}
		while (e.count) {
			n = mock_emit_plan(&e, gen, pieces, 64, SEED_MAX, &bytes);
			for (size_t k = 0; k < n; k++) {
				uint8_t tmp[MOCK_SEG_SIZE + MOCK_PAGE_SIZE];

				buf_add(&out, tmp, mock_emit_render(&e, &pieces[k], 1, tmp));
			}
		}
	}
	free(gen);
	return out;
}

/*
 * A pre-copy save of "mock:pre,size=4K,dirty=1" with two rounds: the mock
 * stream of the initial image and three dirty rounds (the last one made at
 * the switch to STOP_COPY), then the end.  Built with the mock's emitter, as
 * the mock builds it: a real save's rounds depend on thread timing.
 */
#define PRE_SPEC "mock:pre,size=4K,dirty=1"
#define PRE_INITIAL (MOCK_HDR_SIZE + MOCK_SEG_SIZE + 4096)
#define PRE_ROUND (MOCK_SEG_SIZE + 4096)

static struct buf precopy_stream(void)
{
	const struct mock_run rounds[] = { { 0, 1, 0 }, { 0, 1, 1 }, { 0, 1, 2 }, { 0, 1, 3 } };

	return mock_stream("pre", 4096, rounds, 4, true);
}

/* The same save framed as vfiomig_dev_save() frames it, in @max-byte records. */
static struct buf precopy_framed(size_t max)
{
	struct buf dev = precopy_stream(), raw = save_mock(PRE_SPEC, 0, VFIOMIG_PRECOPY_MODE_NEVER, 0);
	struct buf stopped = reframe(&raw, max), out = { 0 };
	struct stream_writer w;
	uint8_t p[STREAM_DEVICE_END_SIZE];
	size_t id_len = get_le32(stopped.p + STREAM_PREAMBLE_SIZE + 8);
	const size_t cut[] = { 0, PRE_INITIAL, PRE_INITIAL + PRE_ROUND, dev.len };

	writer_begin(&w, &out);
	/* The IDENTITY of a real save of the same device. */
	write_record(&w, STREAM_IDENTITY, 0,
		     stopped.p + STREAM_PREAMBLE_SIZE + STREAM_HEADER_SIZE, id_len);
	for (unsigned int i = 0; i < 3; i++) {
		for (size_t off = cut[i]; off < cut[i + 1]; off += max)
			write_record(&w, i < 2 ? STREAM_DATA_PRECOPY : STREAM_DATA_STOP_COPY, 0,
				     dev.p + off, cut[i + 1] - off < max ? cut[i + 1] - off : max);
		if (i < 2) {
			put_le32(p, i + 1);
			put_le32(p + 4, 0);
			put_le64(p + 8, i == 0 ? PRE_INITIAL : 0);
			put_le64(p + 16, i == 0 ? 0 : PRE_ROUND);
			write_record(&w, STREAM_PRECOPY_ROUND, STREAM_FLAG_OPTIONAL, p,
				     STREAM_PRECOPY_ROUND_SIZE);
		}
	}
	put_le64(p, dev.len);
	put_le64(p + 8, cut[2]);
	put_le32(p + 16, 2);
	put_le32(p + 20, 0);
	write_record(&w, STREAM_DEVICE_END, 0, p, STREAM_DEVICE_END_SIZE);
	writer_finish(&w);
	free(dev.p);
	free(raw.p);
	free(stopped.p);
	return out;
}

/* ---- stream seeds ---- */

/* Record @i's header offset in a framed stream. */
static size_t record_at(const struct buf *s, unsigned int i)
{
	size_t pos = STREAM_PREAMBLE_SIZE;

	while (i--)
		pos += STREAM_HEADER_SIZE + get_le32(s->p + pos + 8);
	return pos;
}

static void put_variant(const char *name, uint8_t cfg, const struct buf *s, size_t at,
			uint8_t xor)
{
	uint8_t *p = malloc(s->len);

	if (!p)
		die("malloc", ENOMEM);
	memcpy(p, s->p, s->len);
	p[at] ^= xor;
	put_seed("stream", name, cfg, p, s->len);
	free(p);
}

/* An IDENTITY payload with the five strings given (NULL: leave out the rest). */
static size_t raw_identity(uint8_t *p, uint8_t has_pci, const char *const *strs)
{
	size_t n = STREAM_IDENTITY_FIXED;

	memset(p, 0, n);
	put_le16(p, 0x15b3);
	put_le16(p + 2, 0x101e);
	p[9] = has_pci;
	for (unsigned int i = 0; i < 5 && strs[i]; i++) {
		size_t len = strlen(strs[i]);

		put_le16(p + n, (uint16_t)len);
		memcpy(p + n + 2, strs[i], len);
		n += 2 + len;
	}
	return n;
}

/* A short stream around one crafted record, in the order a save writes. */
static void put_crafted(const char *name, uint16_t type, uint16_t flags, const void *p,
			size_t len)
{
	static const char *const strs[] = { "seed", "mock", "mock", "fuzz-seed", "libvfiomig" };
	uint8_t id[STREAM_IDENTITY_MAX];
	uint8_t end[STREAM_DEVICE_END_SIZE] = { 0 };
	struct stream_writer w;
	struct buf out = { 0 };

	writer_begin(&w, &out);
	if (type == STREAM_IDENTITY) {
		write_record(&w, type, flags, p, len);
	} else {
		write_record(&w, STREAM_IDENTITY, 0, id, raw_identity(id, 1, strs));
		write_record(&w, type, flags, p, len);
	}
	write_record(&w, STREAM_DEVICE_END, 0, end, sizeof(end));
	writer_finish(&w);
	put_seed("stream", name, 0, out.p, out.len);
	free(out.p);
}

static struct buf stream_tiny, stream_pre;

static void stream_seeds(void)
{
	struct buf raw, tiny, small, pre, pci;
	uint8_t p[256], h[STREAM_HEADER_SIZE];
	size_t at, n;

	/* Valid saves. */
	raw = save_mock("mock:seed,size=1", 0, VFIOMIG_PRECOPY_MODE_NEVER, 0);
	tiny = reframe(&raw, 4096);
	free(raw.p);
	put_seed("stream", "valid-size1-stopcopy", 0, tiny.p, tiny.len);
	put_seed("stream", "valid-size1-stopcopy-split1", 0x01, tiny.p, tiny.len);
	put_seed("stream", "valid-size1-stopcopy-eio-split5", 0x0d, tiny.p, tiny.len);
	put_seed("stream", "valid-size1-stopcopy-fixups", 0x70, tiny.p, tiny.len);

	raw = save_mock("mock:seed,size=1", 0, VFIOMIG_PRECOPY_MODE_NEVER, 0);
	small = reframe(&raw, 7);
	free(raw.p);
	put_seed("stream", "valid-size1-records7", 0x03, small.p, small.len);
	free(small.p);

	pre = precopy_framed(1500);
	put_seed("stream", "valid-size4k-precopy2", 0, pre.p, pre.len);
	put_seed("stream", "valid-size4k-precopy2-split4", 0x04, pre.p, pre.len);
	stream_pre = pre;

	raw = save_mock("mock:pci,size=100,pci=8086:1521:8086:0001:03,driver=igb_vfio", 0,
			VFIOMIG_PRECOPY_MODE_NEVER, 0);
	pci = reframe(&raw, 4096);
	free(raw.p);
	put_seed("stream", "valid-pci-identity", 0, pci.p, pci.len);
	free(pci.p);

	/* Truncated. */
	put_seed("stream", "empty", 0, NULL, 0);
	put_seed("stream", "cut-preamble", 0, tiny.p, 9);
	put_seed("stream", "cut-after-preamble", 0, tiny.p, STREAM_PREAMBLE_SIZE);
	put_seed("stream", "cut-header", 0, tiny.p, STREAM_PREAMBLE_SIZE + 20);
	put_seed("stream", "cut-identity", 0, tiny.p, STREAM_PREAMBLE_SIZE + STREAM_HEADER_SIZE + 40);
	at = record_at(&tiny, 3);
	put_seed("stream", "cut-before-trailer", 0, tiny.p, at);
	put_seed("stream", "cut-in-trailer", 0, tiny.p, tiny.len - 1);

	/* Corrupted. */
	if (record_at(&tiny, 4) != tiny.len)
		die("a size=1 save is not IDENTITY, DATA, DEVICE_END, TRAILER", EBADMSG);
	put_variant("bad-magic", 0, &tiny, 0, 0x20);
	put_variant("bad-version", 0, &tiny, 8, 0x03);
	put_variant("bad-preamble-flags", 0, &tiny, 12, 0x01);
	at = record_at(&tiny, 1);
	put_variant("bad-header-sum", 0, &tiny, at + 25, 0x80);
	put_variant("bad-payload-sum", 0, &tiny, at + STREAM_HEADER_SIZE, 0x01);
	/* With bit 4 the harness fixes the checksums, so the trailer's own checks run. */
	at = record_at(&tiny, 3) + STREAM_HEADER_SIZE;
	put_variant("bad-trailer-bytes", 0x10, &tiny, at, 0x01);
	put_variant("bad-trailer-count", 0x10, &tiny, at + 8, 0x01);
	put_variant("bad-trailer-chain", 0x10, &tiny, at + 16, 0x40);
	{
		struct buf more = { 0 };

		buf_add(&more, tiny.p, tiny.len);
		buf_add(&more, "\n", 1);
		put_seed("stream", "data-after-trailer", 0, more.p, more.len);
		/* Records 1 and 2 swapped: the numbering catches it. */
		more.len = 0;
		buf_add(&more, tiny.p, record_at(&tiny, 1));
		buf_add(&more, tiny.p + record_at(&tiny, 2), record_at(&tiny, 3) - record_at(&tiny, 2));
		buf_add(&more, tiny.p + record_at(&tiny, 1), record_at(&tiny, 2) - record_at(&tiny, 1));
		buf_add(&more, tiny.p + record_at(&tiny, 3), tiny.len - record_at(&tiny, 3));
		put_seed("stream", "records-swapped", 0, more.p, more.len);
		put_seed("stream", "records-swapped-fixups", 0x70, more.p, more.len);
		/* A header announcing more than the limit, with a valid checksum. */
		more.len = 0;
		buf_add(&more, tiny.p, record_at(&tiny, 1));
		memcpy(h, tiny.p + record_at(&tiny, 1), sizeof(h));
		put_le32(h + 8, STREAM_MAX_PAYLOAD + 1);
		put_le64(h + 24, XXH3_64bits(h, 24));
		buf_add(&more, h, sizeof(h));
		buf_add(&more, tiny.p + record_at(&tiny, 1) + STREAM_HEADER_SIZE, 64);
		put_seed("stream", "record-over-limit", 0, more.p, more.len);
		free(more.p);
	}
	stream_tiny = tiny;

	/* Crafted records. */
	memset(p, 0xa5, sizeof(p));
	put_crafted("unknown-optional-record", 0x0200, STREAM_FLAG_OPTIONAL, p, 40);
	put_crafted("unknown-mandatory-record", 0x0200, 0, p, 40);
	put_crafted("unknown-record-flags", STREAM_DATA_STOP_COPY, 0x0002, p, 40);
	put_crafted("empty-data-record", STREAM_DATA_STOP_COPY, 0, p, 0);
	put_crafted("precopy-round-record", STREAM_PRECOPY_ROUND, STREAM_FLAG_OPTIONAL, p,
		    STREAM_PRECOPY_ROUND_SIZE);
	{
		static const char *const ok[] = { "n", "d", "b", "k", "l" };
		static const char *const some[] = { "only-a-name", NULL };
		static const char *const nul[] = { "aXb", "d", "b", "k", "l" };
		uint8_t id[STREAM_IDENTITY_MAX + 8];

		n = raw_identity(id, 0, ok);
		put_crafted("identity-no-pci", STREAM_IDENTITY, 0, id, n);
		memcpy(id + n, "newfield", 8);
		put_crafted("identity-longer-minor", STREAM_IDENTITY, 0, id, n + 8);
		put_crafted("identity-short", STREAM_IDENTITY, 0, id, STREAM_IDENTITY_FIXED - 1);
		n = raw_identity(id, 2, ok);
		put_crafted("identity-bad-pci-flag", STREAM_IDENTITY, 0, id, n);
		n = raw_identity(id, 1, some);
		put_crafted("identity-missing-strings", STREAM_IDENTITY, 0, id, n);
		n = raw_identity(id, 1, nul);
		id[STREAM_IDENTITY_FIXED + 3] = '\0';	/* "a\0b" */
		put_crafted("identity-nul-in-string", STREAM_IDENTITY, 0, id, n);
		n = raw_identity(id, 1, ok);
		put_le16(id + STREAM_IDENTITY_FIXED, STREAM_STRING_MAX + 1);
		put_crafted("identity-string-too-long", STREAM_IDENTITY, 0, id, n);
	}
}

/* ---- inspect seeds ---- */

/* An mlx5_vfio_pci record: { u64 size; u32 flags; u32 tag } and @have payload bytes. */
static void mlx5_record(struct buf *b, uint64_t size, uint32_t flags, uint32_t tag, size_t have)
{
	uint8_t h[16];

	put_le64(h, size);
	put_le32(h + 8, flags);
	put_le32(h + 12, tag);
	buf_add(b, h, sizeof(h));
	for (size_t i = 0; i < have; i++)
		buf_add(b, &(uint8_t){ (uint8_t)(i * 7) }, 1);
}

/* A valid mlx5 stream: the size hint, two firmware chunks, an optional unknown tag. */
static struct buf mlx5_stream(void)
{
	struct buf b = { 0 };
	uint8_t hint[8];

	put_le64(hint, 4096);
	mlx5_record(&b, 8, 0, 1, 0);
	buf_add(&b, hint, sizeof(hint));
	mlx5_record(&b, 100, 0, 0, 100);
	mlx5_record(&b, 0, 0, 0, 0);
	mlx5_record(&b, 3, 1, 9, 3);
	mlx5_record(&b, 1000, 0, 0, 1000);
	return b;
}

static void end_record(struct stream_writer *w, uint32_t device, uint64_t bytes, uint64_t precopy)
{
	uint8_t p[STREAM_DEVICE_END_SIZE];

	put_le64(p, bytes);
	put_le64(p + 8, precopy);
	put_le32(p + 16, precopy ? 1 : 0);
	put_le32(p + 20, 0);
	write_dev_record(w, STREAM_DEVICE_END, 0, device, p, sizeof(p));
}

enum framed_flaw {
	FLAW_NONE, FLAW_DATA_FIRST, FLAW_TWO_IDENTITIES, FLAW_NO_END, FLAW_TWO_ENDS,
	FLAW_SHORT_END, FLAW_END_COUNT, FLAW_DEVICE_64, FLAW_BAD_IDENTITY, FLAW_BY_PCI_IDS,
};

/*
 * A framed save of an mlx5 device (its IDENTITY names the backend) with its
 * vendor stream cut across DATA records at @cut bytes, and optionally a
 * second, generic device interleaved.
 */
static void put_framed_mlx5(const char *name, const struct buf *dev, size_t cut, bool two,
			    enum framed_flaw flaw)
{
	static const char *const strs[] = { "cx7", "mlx5_vfio_pci", "mlx5", "fuzz-seed", "libvfiomig" };
	/* A backend name nobody knows: the PCI ids (15b3:101e) choose mlx5. */
	static const char *const by_ids[] = { "cx7", "mlx5_vfio_pci", "vfio-pci", "fuzz-seed",
					      "libvfiomig" };
	static const char *const other[] = { "mdev0", "mtty", "generic", "fuzz-seed", "libvfiomig" };
	uint8_t id[STREAM_IDENTITY_MAX], junk[40] = { 1, 2, 3 };
	struct stream_writer w;
	struct buf out = { 0 };
	size_t n = raw_identity(id, 1, flaw == FLAW_BY_PCI_IDS ? by_ids : strs);
	uint32_t d0 = flaw == FLAW_DEVICE_64 ? 64 : 0;

	writer_begin(&w, &out);
	if (flaw == FLAW_DATA_FIRST)
		write_dev_record(&w, STREAM_DATA_PRECOPY, 0, d0, dev->p, cut);
	if (flaw == FLAW_BAD_IDENTITY)
		id[9] = 7;
	write_dev_record(&w, STREAM_IDENTITY, 0, d0, id, n);
	if (flaw == FLAW_TWO_IDENTITIES)
		write_dev_record(&w, STREAM_IDENTITY, 0, d0, id, n);
	if (two)
		write_dev_record(&w, STREAM_IDENTITY, 0, 1, id, raw_identity(id, 0, other));
	write_dev_record(&w, STREAM_DATA_PRECOPY, 0, d0, dev->p, cut);
	if (two)
		write_dev_record(&w, STREAM_DATA_STOP_COPY, 0, 1, junk, sizeof(junk));
	write_dev_record(&w, STREAM_DATA_STOP_COPY, 0, d0, dev->p + cut, dev->len - cut);
	if (flaw == FLAW_SHORT_END)
		write_dev_record(&w, STREAM_DEVICE_END, 0, d0, junk, STREAM_DEVICE_END_SIZE - 1);
	else if (flaw != FLAW_NO_END)
		end_record(&w, d0, dev->len + (flaw == FLAW_END_COUNT), cut);
	if (flaw == FLAW_TWO_ENDS)
		end_record(&w, d0, dev->len, cut);
	if (two)
		end_record(&w, 1, sizeof(junk), 0);
	writer_finish(&w);
	put_seed("inspect", name, 0, out.p, out.len);
	free(out.p);
}

static void inspect_seeds(void)
{
	struct buf m = mlx5_stream(), b = { 0 };
	uint8_t hint[8] = { 0 };

	/* Framed, the reader's checks: as for fuzz-stream, with inspection's config. */
	put_seed("inspect", "valid-size1", 0, stream_tiny.p, stream_tiny.len);
	put_seed("inspect", "valid-size1-no-ops", 0x08, stream_tiny.p, stream_tiny.len);
	put_seed("inspect", "valid-size4k-precopy2", 0, stream_pre.p, stream_pre.len);
	put_seed("inspect", "cut-before-trailer", 0, stream_tiny.p, stream_tiny.len - 56);

	/* Framed, inspection's own checks and the mlx5 parser inside DATA records. */
	put_framed_mlx5("mlx5-framed", &m, 30, false, FLAW_NONE);
	put_framed_mlx5("mlx5-framed-two-devices", &m, 130, true, FLAW_NONE);
	put_framed_mlx5("mlx5-framed-data-first", &m, 30, false, FLAW_DATA_FIRST);
	put_framed_mlx5("mlx5-framed-two-identities", &m, 30, false, FLAW_TWO_IDENTITIES);
	put_framed_mlx5("mlx5-framed-no-end", &m, 30, false, FLAW_NO_END);
	put_framed_mlx5("mlx5-framed-two-ends", &m, 30, false, FLAW_TWO_ENDS);
	put_framed_mlx5("mlx5-framed-short-end", &m, 30, false, FLAW_SHORT_END);
	put_framed_mlx5("mlx5-framed-end-count", &m, 30, false, FLAW_END_COUNT);
	put_framed_mlx5("mlx5-framed-device-64", &m, 30, false, FLAW_DEVICE_64);
	put_framed_mlx5("mlx5-framed-bad-identity", &m, 30, false, FLAW_BAD_IDENTITY);
	put_framed_mlx5("mlx5-framed-by-pci-ids", &m, 30, false, FLAW_BY_PCI_IDS);
	m.len -= 500;	/* ends inside the last FW_DATA record */
	put_framed_mlx5("mlx5-framed-cut-vendor-record", &m, 30, false, FLAW_NONE);
	m.len += 500;
	mlx5_record(&b, 4, 0, 5, 4);	/* an unknown mandatory tag, inside DATA */
	put_framed_mlx5("mlx5-framed-bad-vendor-record", &b, 10, false, FLAW_NONE);
	b.len = 0;

	/* Raw: config 0x05 is raw mode with the mlx5 backend; bits 4-6 split the direct feed. */
	put_seed("inspect", "mlx5-raw", 0x05, m.p, m.len);
	put_seed("inspect", "mlx5-raw-split1", 0x15, m.p, m.len);
	put_seed("inspect", "mlx5-raw-split4-no-ops", 0x4d, m.p, m.len);
	put_seed("inspect", "mlx5-raw-cut-header", 0x25, m.p, 16 + 8 + 10);
	put_seed("inspect", "mlx5-raw-cut-payload", 0x35, m.p, m.len - 1);
	put_seed("inspect", "generic-raw", 0x03, m.p, m.len);
	put_seed("inspect", "generic-raw-null-backend", 0x01, m.p, 100);
	mlx5_record(&b, 1ull << 32, 0, 0, 4);
	put_seed("inspect", "mlx5-raw-over-4g", 0x05, b.p, b.len);
	b.len = 0;
	mlx5_record(&b, 4, 0, 5, 4);
	put_seed("inspect", "mlx5-raw-unknown-mandatory", 0x05, b.p, b.len);
	b.len = 0;
	mlx5_record(&b, 7, 0, 1, 7);
	put_seed("inspect", "mlx5-raw-short-size-hint", 0x05, b.p, b.len);
	b.len = 0;
	mlx5_record(&b, 8, 0, 1, 0);
	buf_add(&b, hint, sizeof(hint));
	mlx5_record(&b, 0xffffffffull, 0, 0, 64);
	put_seed("inspect", "mlx5-raw-4g-record-cut", 0x65, b.p, b.len);
	free(b.p);
	free(m.p);
	free(stream_tiny.p);
	free(stream_pre.p);
}

/* ---- mock-stream seeds ---- */

static void put_mock_variant(const char *name, uint8_t cfg, const struct buf *s, size_t at,
			     uint8_t xor)
{
	uint8_t *p = malloc(s->len);

	if (!p)
		die("malloc", ENOMEM);
	memcpy(p, s->p, s->len);
	p[at] ^= xor;
	put_seed("mock-stream", name, cfg, p, s->len);
	free(p);
}

static void mock_seeds(void)
{
	struct buf tiny, b;
	size_t end;

	tiny = save_mock("mock:seed,size=1", VFIOMIG_XFER_RAW, VFIOMIG_PRECOPY_MODE_NEVER, 0);
	put_seed("mock-stream", "valid-size1", 0, tiny.p, tiny.len);
	put_seed("mock-stream", "valid-size1-split1", 0x01, tiny.p, tiny.len);
	b = precopy_stream();
	put_seed("mock-stream", "valid-size4k-precopy2", 0, b.p, b.len);
	put_seed("mock-stream", "valid-size4k-precopy2-split5", 0x05, b.p, b.len);
	free(b.p);
	b = save_mock("mock:odd,size=1001,flags=stop_copy", VFIOMIG_XFER_RAW,
		      VFIOMIG_PRECOPY_MODE_NEVER, 0);
	put_seed("mock-stream", "valid-size1001-split3", 0x03, b.p, b.len);
	free(b.p);

	/* Multi-page devices, with the big pages left out to keep seeds small. */
	{
		const struct mock_run last[] = { { 1, 1, 0 } };
		const struct mock_run regen[] = { { 3, 1, 0 }, { 3, 1, 9 }, { 3, 1, 4 } };

		b = mock_stream("crafted", MOCK_PAGE_SIZE + 1, last, 1, true);
		put_seed("mock-stream", "pages-missing-2pages", 0, b.p, b.len);
		put_seed("mock-stream", "pages-missing-2pages-table", 0x08 | 5 << 4, b.p, b.len);
		free(b.p);
		b = mock_stream("crafted", 3 * MOCK_PAGE_SIZE + 5, regen, 3, true);
		put_seed("mock-stream", "pages-missing-regenerated", 0, b.p, b.len);
		free(b.p);
		b = mock_stream("crafted", 3 * MOCK_PAGE_SIZE + 5, regen, 1, false);
		put_seed("mock-stream", "no-end-segment", 0, b.p, b.len);
		free(b.p);
	}

	/* Truncated. */
	put_seed("mock-stream", "empty", 0, NULL, 0);
	put_seed("mock-stream", "cut-header", 0, tiny.p, 30);
	put_seed("mock-stream", "cut-after-header", 0, tiny.p, MOCK_HDR_SIZE);
	put_seed("mock-stream", "cut-segment-header", 0, tiny.p, MOCK_HDR_SIZE + 10);
	put_seed("mock-stream", "cut-in-end", 0, tiny.p, tiny.len - 5);

	/* Corrupted: with bit 7, the header's check word is made right again. */
	put_mock_variant("bad-magic", 0, &tiny, 1, 0x20);
	put_mock_variant("bad-check-word", 0, &tiny, 36, 0x01);
	put_mock_variant("bad-version-fixed", 0x80, &tiny, 8, 0x02);
	put_mock_variant("bad-page-size-fixed", 0x80, &tiny, 33, 0x01);
	put_mock_variant("other-size-fixed", 0x80, &tiny, 24, 0x02);
	put_seed("mock-stream", "other-device-size", 0x08 | 2 << 4, tiny.p, tiny.len);
	put_mock_variant("bad-segment-magic", 0, &tiny, MOCK_HDR_SIZE, 0x01);
	put_mock_variant("bad-segment-offset", 0, &tiny, MOCK_HDR_SIZE + 8, 0x08);
	put_mock_variant("bad-segment-length", 0, &tiny, MOCK_HDR_SIZE + 16, 0x02);
	put_mock_variant("bad-content", 0, &tiny, MOCK_HDR_SIZE + MOCK_SEG_SIZE, 0x10);
	end = tiny.len - MOCK_SEG_SIZE;
	put_mock_variant("bad-end-reserved", 0, &tiny, end + 4, 0x01);
	put_mock_variant("bad-end-count", 0, &tiny, end + 8, 0x01);
	put_mock_variant("bad-end-bytes", 0, &tiny, end + 16, 0x01);
	buf_add(&tiny, "x", 1);
	put_seed("mock-stream", "data-after-end", 0, tiny.p, tiny.len);
	put_seed("mock-stream", "data-after-end-split2", 0x02, tiny.p, tiny.len);
	free(tiny.p);
}

/* ---- group-load seeds ---- */

/* A group save of the devices @specs (NULL-terminated) into one stream, read back. */
static struct buf save_group(const char *const *specs, enum vfiomig_precopy_mode pre)
{
	struct vfiomig_save_opts o = { .sz = sizeof(o), .precopy = pre, .precopy_rounds = 2,
				       .buffer_size = 4 << 10 };
	struct vfiomig_ctx *ctx;
	struct vfiomig_group *g;
	struct vfiomig_dev *dev[4];
	struct buf out = { 0 };
	struct stat st;
	int fd, r, n = 0;

	r = vfiomig_ctx_new(&ctx);
	if (r == 0)
		r = vfiomig_group_new(ctx, 0, &g);
	for (; specs[n] && n < 4 && r == 0; n++) {
		r = vfiomig_dev_open(ctx, specs[n], &dev[n]);
		if (r == 0)
			r = vfiomig_group_add(g, dev[n]);
	}
	fd = memfd_create("seed", MFD_CLOEXEC);
	if (r < 0 || fd < 0)
		die("a group of mocks", r < 0 ? -r : errno);
	r = vfiomig_group_save(g, &fd, 1, &o);
	if (r < 0) {
		fprintf(stderr, "make-seeds: saving a group: %s\n", vfiomig_ctx_get_error(ctx));
		exit(1);
	}
	if (fstat(fd, &st) < 0)
		die("fstat", errno);
	out.p = malloc((size_t)st.st_size);
	out.len = out.cap = (size_t)st.st_size;
	if (!out.p || pread(fd, out.p, out.len, 0) != (ssize_t)out.len)
		die("reading a group save back", errno);
	close(fd);
	vfiomig_group_unref(g);
	for (int i = 0; i < n; i++)
		vfiomig_dev_unref(dev[i]);
	vfiomig_ctx_unref(ctx);
	return out;
}

#define GP "mock:s0,size=4K,pci=15b3:101e"
#define GQ "mock:s1,size=4K,pci=8086:1234"
#define GP2 "mock:s2,size=4K,pci=15b3:101e"
#define GP3 "mock:s3,size=4K,pci=15b3:101e"

/*
 * Configs as in fuzz-group-load.c: 0x01 force, 0x04 leave STOP; the group
 * (bits 1 and 3): 0x00 [P, P], 0x02 [P, Q], 0x08 [Q, P], 0x0a [Q, P, P].
 */
static void group_seeds(void)
{
	static const char *const one_kind[] = { "mock:s0,size=4K,dirty=4K", "mock:s1,size=4K", NULL };
	static const char *const pq[] = { GP, GQ, NULL }, *const qp[] = { GQ, GP, NULL };
	static const char *const pp[] = { GP, GP2, NULL }, *const ppq[] = { GP, GP2, GQ, NULL };
	static const char *const ppp[] = { GP, GP2, GP3, NULL };
	struct buf one = save_group(one_kind, VFIOMIG_PRECOPY_MODE_ROUNDS);
	struct buf kinds = save_group(pq, VFIOMIG_PRECOPY_MODE_NEVER);
	struct buf swapped = save_group(qp, VFIOMIG_PRECOPY_MODE_NEVER);
	struct buf twice = save_group(pp, VFIOMIG_PRECOPY_MODE_NEVER);
	struct buf three = save_group(ppq, VFIOMIG_PRECOPY_MODE_ROUNDS);
	struct buf thrice = save_group(ppp, VFIOMIG_PRECOPY_MODE_NEVER);
	struct buf single = save_mock("mock:s0,size=4K", 0, VFIOMIG_PRECOPY_MODE_NEVER, 0);

	put_seed("group-load", "valid-one-kind-precopy2", 0, one.p, one.len);
	put_seed("group-load", "valid-one-kind-forced", 0x01, one.p, one.len);
	put_seed("group-load", "valid-one-kind-leave-stop", 0x04, one.p, one.len);
	put_seed("group-load", "valid-two-kinds", 0x02, kinds.p, kinds.len);
	put_seed("group-load", "valid-two-kinds-in-the-other-order", 0x02, swapped.p, swapped.len);
	put_seed("group-load", "valid-two-kinds-into-swapped-group", 0x08, kinds.p, kinds.len);
	put_seed("group-load", "two-kinds-into-one-kind", 0x00, kinds.p, kinds.len);
	put_seed("group-load", "repeated-kind-into-two-kinds", 0x08, twice.p, twice.len);
	put_seed("group-load", "repeated-kind-into-two-kinds-forced", 0x09, twice.p, twice.len);
	put_seed("group-load", "valid-repeated-kind-beside-another", 0x0a, three.p, three.len);
	put_seed("group-load", "three-of-a-kind-into-two-and-one", 0x0a, thrice.p, thrice.len);
	put_seed("group-load", "three-into-two", 0x02, three.p, three.len);
	put_seed("group-load", "cut-in-the-records", 0x00, one.p, one.len - 300);
	put_seed("group-load", "one-device-into-two", 0x00, single.p, single.len);
	free(one.p);
	free(kinds.p);
	free(swapped.p);
	free(twice.p);
	free(three.p);
	free(thrice.p);
	free(single.p);
}

/* ---- vendor-mlx5 seeds: config bits 0-2 split, 3-4 target (fuzz-vendor-mlx5.c) ---- */

#define MLX5_NONE 0x00
#define MLX5_6_8 0x08
#define MLX5_6_9 0x10

/* @s with its last @cut bytes dropped, under each target. */
static void put_mlx5(const char *name, uint8_t cfg, const struct buf *s, size_t cut)
{
	put_seed("vendor-mlx5", name, cfg, s->p, s->len - cut);
}

static void vendor_mlx5_seeds(void)
{
	struct buf tagged = mlx5_stream(), v62 = { 0 }, bare = { 0 }, b;
	uint8_t hint[8];

	put_mlx5("valid-tagged", MLX5_6_9, &tagged, 0);
	put_mlx5("valid-tagged-split1", MLX5_6_9 | 1, &tagged, 0);
	put_mlx5("valid-tagged-split4", MLX5_NONE | 4, &tagged, 0);
	put_mlx5("cut-in-payload", MLX5_6_9 | 3, &tagged, 7);
	put_mlx5("cut-in-header", MLX5_6_9 | 2, &tagged, 1000 + 16 - 5);
	put_seed("vendor-mlx5", "empty", MLX5_6_9, NULL, 0);
	/* 6.2: { size, 0, FW_DATA } headers, no size hint. */
	mlx5_record(&v62, 200, 0, 0, 200);
	mlx5_record(&v62, 30, 0, 0, 30);
	put_mlx5("valid-6.2-header", MLX5_6_9, &v62, 0);
	/* 5.18-6.1: a bare image; 6.8 may read it, 6.9 cannot. */
	for (unsigned int i = 0; i < 300; i++)
		buf_add(&bare, &(uint8_t){ (uint8_t)(0xa5 ^ i) }, 1);
	put_mlx5("headerless-6.8", MLX5_6_8, &bare, 0);
	put_mlx5("headerless-6.9", MLX5_6_9 | 5, &bare, 0);
	put_mlx5("headerless-inspect", MLX5_NONE, &bare, 0);
	/* After a valid size hint: each refusal of the driver. */
	put_le64(hint, 1u << 20);
	b = (struct buf){ 0 };
	mlx5_record(&b, 8, 1, 1, 0);
	buf_add(&b, hint, sizeof(hint));
	mlx5_record(&b, 4, 0, 9, 4);
	put_mlx5("unknown-mandatory-tag", MLX5_6_9, &b, 0);
	b.len = 24;
	mlx5_record(&b, 4, 1, 9, 4);
	mlx5_record(&b, 2, 0, 0, 2);
	put_mlx5("unknown-optional-tag", MLX5_6_9 | 1, &b, 0);
	b.len = 24;
	mlx5_record(&b, 1ull << 32, 0, 0, 0);
	put_mlx5("oversize-record", MLX5_6_9, &b, 0);
	b.len = 24;
	mlx5_record(&b, 4, 1, 1, 4);
	put_mlx5("short-stop-copy-size", MLX5_6_9, &b, 0);
	free(tagged.p);
	free(v62.p);
	free(bare.p);
	free(b.p);
}

int main(int argc, char **argv)
{
	char path[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR   (fills CORPUS_DIR/stream, "
			"CORPUS_DIR/inspect, CORPUS_DIR/mock-stream, CORPUS_DIR/group-load and "
			"CORPUS_DIR/vendor-mlx5)\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	mkdir(outdir, 0755);
	snprintf(path, sizeof(path), "%s/stream", outdir);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		die(path, errno);
	snprintf(path, sizeof(path), "%s/mock-stream", outdir);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		die(path, errno);
	snprintf(path, sizeof(path), "%s/inspect", outdir);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		die(path, errno);
	snprintf(path, sizeof(path), "%s/group-load", outdir);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		die(path, errno);
	snprintf(path, sizeof(path), "%s/vendor-mlx5", outdir);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		die(path, errno);
	stream_seeds();
	inspect_seeds();
	mock_seeds();
	group_seeds();
	vendor_mlx5_seeds();
	return 0;
}
