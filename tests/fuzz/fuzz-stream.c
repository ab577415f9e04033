// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer harness: the stream reader (lib/stream/stream-read.c) and the IDENTITY
 * decoder (lib/stream/stream-identity.c), the parsers of a saved state that may
 * come over a network.
 *
 * Input: one configuration byte, then the stream.
 *   bits 0-2  how the read callback splits the stream (fuzz-common.h)
 *   bit 3     at the end of the input the callback fails with -EIO, not EOF
 *   bit 4     recompute every record's header and payload checksums
 *   bit 5     renumber the records' sequence numbers
 *   bit 6     recompute the trailer's totals and whole-stream check
 *   bit 7     unused
 * Bits 4-6 let mutations get past the XXH3 checks, which a fuzzer cannot
 * forge, to the length, type, flag and payload handling behind them.
 *
 * Each input is read twice, split as configured and in one piece, and both
 * readings must agree record for record: the reader may not depend on how
 * its input arrives.  docs/fuzzing.md describes the other invariants.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz-common.h"
#include "fuzz-fixup.h"
#include "stream.h"

#define CFG_SPLIT 0x07u
#define CFG_EIO 0x08u

struct source {
	const uint8_t *data;
	size_t size, pos;
	bool eio;
	struct splitter split;
};

static ssize_t source_read(void *ctx, void *buf, size_t len)
{
	struct source *s = ctx;
	size_t n;

	FUZZ_CHECK(len > 0 && len <= STREAM_MAX_PAYLOAD);
	if (s->pos == s->size)
		return s->eio ? -EIO : 0;
	n = splitter_next(&s->split, len);
	if (n > s->size - s->pos)
		n = s->size - s->pos;
	memcpy(buf, s->data + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

/* What one reading produced; two readings of the same bytes must be equal. */
struct outcome {
	int rc;
	unsigned int records;
	uint64_t digest;	/* of every returned record's fields and payload */
	uint64_t offset;
	uint64_t error_offset;
	bool done;
	char error[sizeof(((struct stream_reader *)0)->error)];
};

static bool type_known(uint16_t type)
{
	return (type >= STREAM_IDENTITY && type <= STREAM_TRAILER) ||
	       type == STREAM_PRECOPY_ROUND || type == STREAM_VENDOR_SUMMARY;
}

static void check_identity(const uint8_t *payload, size_t len)
{
	static const size_t strings[] = {
		offsetof(struct stream_identity, name),
		offsetof(struct stream_identity, dev.driver),
		offsetof(struct stream_identity, backend),
		offsetof(struct stream_identity, kernel),
		offsetof(struct stream_identity, library),
		offsetof(struct stream_identity, dev.mdev_type),
	};
	struct stream_identity id, again;
	uint8_t enc[STREAM_IDENTITY_MAX];
	size_t n;

	if (stream_identity_decode(payload, len, &id) < 0)
		return;
	FUZZ_CHECK(len >= STREAM_IDENTITY_FIXED);
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		FUZZ_CHECK(memchr((const char *)&id + strings[i], '\0',
				  STREAM_STRING_MAX + 1) != NULL);
	/* What decodes re-encodes into something that decodes the same; a 1.0
	 * IDENTITY gains its sixth string, empty, so 2 bytes. */
	n = stream_identity_encode(&id, enc, sizeof(enc));
	FUZZ_CHECK(n >= STREAM_IDENTITY_FIXED && n <= sizeof(enc) && n <= len + 2);
	FUZZ_CHECK(stream_identity_decode(enc, n, &again) == 0);
	FUZZ_CHECK(memcmp(&id, &again, sizeof(id)) == 0);
}

static void read_stream(const uint8_t *data, size_t size, unsigned int split, bool eio,
			uint8_t *buf, struct outcome *o)
{
	struct source src = { .data = data, .size = size, .eio = eio };
	struct stream_reader r = { .read = source_read, .ctx = &src };
	struct stream_record rec;
	XXH3_state_t *digest = XXH3_createState();
	uint64_t last = 0;
	int rc;

	FUZZ_CHECK(digest);
	XXH3_64bits_reset(digest);
	splitter_init(&src.split, split);
	memset(o, 0, sizeof(*o));
	rc = stream_reader_begin(&r);
	if (rc == 0)
		FUZZ_CHECK(r.offset == STREAM_PREAMBLE_SIZE && !r.done && r.error[0] == '\0');
	while (rc == 0 || rc == 1) {
		rc = stream_read_record(&r, &rec, buf);
		FUZZ_CHECK(r.offset <= size);
		if (rc != 1)
			break;
		/* A record is returned whole, in order, and of a known type. */
		FUZZ_CHECK(rec.length <= STREAM_MAX_PAYLOAD);
		FUZZ_CHECK(rec.payload == buf);
		FUZZ_CHECK(rec.offset >= STREAM_PREAMBLE_SIZE && rec.offset > last);
		FUZZ_CHECK(rec.offset + STREAM_HEADER_SIZE + rec.length <= r.offset);
		FUZZ_CHECK(rec.seq + 1 == r.seq);
		FUZZ_CHECK(type_known(rec.type) && rec.type != STREAM_TRAILER);
		FUZZ_CHECK(!(rec.flags & ~STREAM_FLAGS_KNOWN));
		FUZZ_CHECK(!r.done);
		last = rec.offset;
		o->records++;
		XXH3_64bits_update(digest, &rec, offsetof(struct stream_record, payload));
		XXH3_64bits_update(digest, buf, rec.length);
		if (rec.type == STREAM_IDENTITY)
			check_identity(buf, rec.length);
	}
	if (rc == 0) {
		/* Only a verified trailer followed by EOF ends a stream. */
		FUZZ_CHECK(r.done && !eio && r.offset == size && r.error[0] == '\0');
		FUZZ_CHECK(stream_read_record(&r, &rec, buf) == 0);
	} else {
		FUZZ_CHECK(rc < 0 && !r.done);
		FUZZ_CHECK(rc == -EBADMSG || rc == -EPROTO || rc == -E2BIG ||
			   (eio && rc == -EIO));
		/* Every failure says what and where. */
		FUZZ_CHECK(memchr(r.error, '\0', sizeof(r.error)) != NULL);
		FUZZ_CHECK(r.error[0] != '\0');
		FUZZ_CHECK(r.error_offset <= size);
	}
	o->rc = rc;
	o->offset = r.offset;
	o->error_offset = r.error_offset;
	o->done = r.done;
	memcpy(o->error, r.error, sizeof(o->error));
	o->digest = XXH3_64bits_digest(digest);
	XXH3_freeState(digest);
	stream_reader_free(&r);
	FUZZ_CHECK(r.chain == NULL);
}

static bool same(const struct outcome *a, const struct outcome *b)
{
	return a->rc == b->rc && a->records == b->records && a->digest == b->digest &&
	       a->offset == b->offset && a->error_offset == b->error_offset &&
	       a->done == b->done && strcmp(a->error, b->error) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* One record buffer for the whole run (STREAM_READ_BUFFER bytes). */
	static uint8_t *buf;
	struct outcome split, whole;
	unsigned int cfg;
	uint8_t *s;

	if (size < 1)
		return 0;
	if (!buf) {
		buf = malloc(STREAM_READ_BUFFER);
		FUZZ_CHECK(buf);
	}
	cfg = data[0];
	data++;
	size--;
	/* A copy, so the fix-ups can write and ASan sees the exact end. */
	s = malloc(size ? size : 1);
	FUZZ_CHECK(s);
	if (size)
		memcpy(s, data, size);
	stream_fix_up(s, size, cfg);

	read_stream(s, size, cfg & CFG_SPLIT, cfg & CFG_EIO, buf, &split);
	if (fuzz_verbose())
		fprintf(stderr, "config 0x%02x: %u records, then %d at offset %llu: %s (at %llu)\n",
			cfg, split.records, split.rc, (unsigned long long)split.offset,
			split.rc < 0 ? split.error : "verified trailer",
			(unsigned long long)split.error_offset);
	if ((cfg & CFG_SPLIT) != 0) {
		read_stream(s, size, 0, cfg & CFG_EIO, buf, &whole);
		if (!same(&split, &whole)) {
			fprintf(stderr, "split %u: rc %d, %u records, offset %llu, \"%s\" at %llu\n"
				"whole:   rc %d, %u records, offset %llu, \"%s\" at %llu\n",
				cfg & CFG_SPLIT, split.rc, split.records,
				(unsigned long long)split.offset, split.error,
				(unsigned long long)split.error_offset, whole.rc, whole.records,
				(unsigned long long)whole.offset, whole.error,
				(unsigned long long)whole.error_offset);
			FUZZ_CHECK(!"the reading depends on how the input is split");
		}
	}
	free(s);
	return 0;
}
