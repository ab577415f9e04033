/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading the stream format.  The input is untrusted (it may come over a
 * network): every length is checked against STREAM_MAX_PAYLOAD before a
 * byte of payload is read, and nothing is allocated from a declared length.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "stream.h"
#include "util.h"

__attribute__((format(printf, 4, 5)))
static int reader_fail(struct stream_reader *r, int err, uint64_t offset, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	r->error_offset = offset;
	return err;
}

/* Takes up to @len bytes read ahead with the last payload. */
static size_t take_ahead(struct stream_reader *r, uint8_t *buf, size_t len)
{
	size_t n = r->ahead_len - r->ahead_pos;

	if (n > len)
		n = len;
	memcpy(buf, r->ahead + r->ahead_pos, n);
	r->ahead_pos += (uint8_t)n;
	return n;
}

/*
 * Reads exactly @len bytes; 0 on success, 1 at EOF before any, -EBADMSG if
 * cut.  With @hash (a payload), the bytes are hashed as they come, in reads
 * of at most STREAM_HASH_WINDOW, while the bytes the kernel just copied are
 * still in this CPU's cache; and the last read also asks for the next
 * header, into the room after the payload, keeping what came of it in
 * r->ahead.
 */
static int read_exact(struct stream_reader *r, uint8_t *buf, size_t len, const char *what,
		      XXH3_state_t *hash)
{
	size_t got = take_ahead(r, buf, len);

	if (hash)
		XXH3_64bits_update(hash, buf, got);
	while (got < len) {
		size_t want = hash && len - got > STREAM_HASH_WINDOW ? STREAM_HASH_WINDOW : len - got;
		size_t extra = hash && want == len - got ? STREAM_HEADER_SIZE : 0;
		ssize_t n = r->read(r->ctx, buf + got, want + extra);

		if (n < 0)
			return reader_fail(r, (int)n, r->offset + got, "reading the stream: %s",
					   strerror((int)-n));
		if (n == 0) {
			if (got == 0)
				return 1;
			return reader_fail(r, -EBADMSG, r->offset + got,
					   "stream truncated inside %s (%zu of %zu %s)",
					   what, got, len, plural(len, "byte", "bytes"));
		}
		if ((size_t)n > want) {
			r->ahead_len = (uint8_t)((size_t)n - want);
			r->ahead_pos = 0;
			memcpy(r->ahead, buf + got + want, r->ahead_len);
			n = (ssize_t)want;
		}
		if (hash)
			XXH3_64bits_update(hash, buf + got, (size_t)n);
		got += (size_t)n;
	}
	r->offset += len;
	return 0;
}

/* A payload into @buf (with room for the next header after it), and its hash. */
static int read_payload(struct stream_reader *r, uint8_t *buf, size_t len, uint64_t *ret_hash)
{
	int e;

	XXH3_64bits_reset(r->payload);
	e = read_exact(r, buf, len, "a record payload", r->payload);
	if (e == 0)
		*ret_hash = XXH3_64bits_digest(r->payload);
	return e;
}

/*
 * The preamble, its magic compared as each read brings bytes: input that is
 * no stream is refused at the read that brought its first wrong byte, not
 * after 16 bytes that a FIFO may never send.  0, with *@ret_got bytes read
 * (fewer than the preamble at the end of the input or at a wrong byte),
 * or -errno.
 */
static int read_preamble(struct stream_reader *r, uint8_t *pre, size_t *ret_got)
{
	size_t got = 0;

	while (got < STREAM_PREAMBLE_SIZE) {
		ssize_t n = r->read(r->ctx, pre + got, STREAM_PREAMBLE_SIZE - got);

		if (n < 0)
			return reader_fail(r, (int)n, got, "reading the stream: %s",
					   strerror((int)-n));
		if (n == 0)
			break;
		got += (size_t)n;
		if (memcmp(pre, STREAM_MAGIC, got < 8 ? got : 8) != 0)
			break;
	}
	*ret_got = got;
	return 0;
}

int stream_reader_begin(struct stream_reader *r)
{
	uint8_t pre[STREAM_PREAMBLE_SIZE];
	size_t got = 0;
	int e;

	r->seq = 0;
	r->offset = 0;
	r->ahead_len = 0;
	r->ahead_pos = 0;
	r->done = false;
	r->major = r->minor = 0;
	r->error_offset = UINT64_MAX;
	r->error[0] = '\0';
	r->chain = XXH3_createState();
	r->payload = XXH3_createState();
	if (!r->chain || !r->payload)
		return -ENOMEM;
	XXH3_64bits_reset(r->chain);
	e = read_preamble(r, pre, &got);
	if (e < 0)
		return e;
	if (got == 0)
		return reader_fail(r, -EBADMSG, 0, "the stream is empty");
	/* A few bytes that do not begin as a stream are no cut stream. */
	if (memcmp(pre, STREAM_MAGIC, got < 8 ? got : 8) != 0)
		return reader_fail(r, -EPROTO, 0, "not a vfiomig stream (bad magic); "
				   "for a bare device stream (save --raw), use --raw");
	if (got >= 12) {
		r->major = get_le16(pre + 8);
		r->minor = get_le16(pre + 10);
	}
	if (got < sizeof(pre))
		return reader_fail(r, -EBADMSG, got, "stream truncated inside the preamble "
				   "(%zu of %zu bytes)", got, sizeof(pre));
	if (get_le16(pre + 8) != STREAM_VERSION_MAJOR)
		return reader_fail(r, -EPROTO, 8, "stream format %u.%u is not readable by this "
				   "library (format %u.%u); use a matching vfiomig version",
				   get_le16(pre + 8), get_le16(pre + 10),
				   STREAM_VERSION_MAJOR, STREAM_VERSION_MINOR);
	if (get_le32(pre + 12) != 0)
		return reader_fail(r, -EPROTO, 12, "unknown preamble flags 0x%x",
				   get_le32(pre + 12));
	r->offset = sizeof(pre);	/* the reader's place, however the reads split it */
	XXH3_64bits_update(r->chain, pre, sizeof(pre));
	return 0;
}

static int check_header(struct stream_reader *r, const uint8_t *h, uint64_t at,
			struct stream_record *rec)
{
	if (get_le64(h + 24) != XXH3_64bits(h, 24))
		return reader_fail(r, -EBADMSG, at, "record %u: header checksum mismatch", r->seq);
	rec->type = get_le16(h);
	rec->flags = get_le16(h + 2);
	rec->device = get_le32(h + 4);
	rec->length = get_le32(h + 8);
	rec->seq = get_le32(h + 12);
	rec->offset = at;
	if (rec->seq != r->seq)
		return reader_fail(r, -EBADMSG, at, "record %u is numbered %u: records lost or reordered",
				   r->seq, rec->seq);
	if (rec->flags & ~STREAM_FLAGS_KNOWN)
		return reader_fail(r, -EPROTO, at, "record %u: unknown flags 0x%x", rec->seq, rec->flags);
	if (rec->length > STREAM_MAX_PAYLOAD)
		return reader_fail(r, -E2BIG, at, "record %u: length %u is over the limit of %u",
				   rec->seq, rec->length, STREAM_MAX_PAYLOAD);
	return 0;
}

static bool type_known(uint16_t type)
{
	return (type >= STREAM_IDENTITY && type <= STREAM_TRAILER) ||
	       type == STREAM_PRECOPY_ROUND || type == STREAM_VENDOR_SUMMARY;
}

/* The trailer's totals and check must match what was read before it. */
static int check_trailer(struct stream_reader *r, const struct stream_record *rec,
			 const uint8_t *p, uint64_t bytes_before, uint64_t chain)
{
	uint8_t extra;
	int e;

	if (rec->length != STREAM_TRAILER_SIZE)
		return reader_fail(r, -EBADMSG, rec->offset, "trailer of %u %s, expected %u",
				   rec->length, plural(rec->length, "byte", "bytes"),
				   STREAM_TRAILER_SIZE);
	if (get_le64(p) != bytes_before || get_le64(p + 8) != rec->seq)
		return reader_fail(r, -EBADMSG, rec->offset,
				   "trailer counts %llu %s in %llu %s, the stream had %llu in %u",
				   (unsigned long long)get_le64(p),
				   plural(get_le64(p), "byte", "bytes"),
				   (unsigned long long)get_le64(p + 8),
				   plural(get_le64(p + 8), "record", "records"),
				   (unsigned long long)bytes_before, rec->seq);
	if (get_le64(p + 16) != chain)
		return reader_fail(r, -EBADMSG, rec->offset, "whole-stream check mismatch");
	e = read_exact(r, &extra, 1, "the end", NULL);
	if (e < 0)
		return e;
	if (e == 0)
		return reader_fail(r, -EBADMSG, r->offset - 1, "data after the trailer");
	r->done = true;
	return 0;
}

int stream_read_record(struct stream_reader *r, struct stream_record *rec, uint8_t *buf)
{
	uint8_t h[STREAM_HEADER_SIZE];
	uint64_t at, bytes_before, chain, hash = 0;
	int e;

	for (;;) {
		if (r->done)
			return 0;
		at = r->offset;
		/* The trailer's check covers everything before its own header. */
		chain = XXH3_64bits_digest(r->chain);
		bytes_before = at;
		e = read_exact(r, h, sizeof(h), "a record header", NULL);
		if (e == 1)
			return reader_fail(r, -EBADMSG, at, "stream truncated: no trailer after "
					   "%u %s", r->seq, plural(r->seq, "record", "records"));
		if (e < 0)
			return e;
		e = check_header(r, h, at, rec);
		if (e < 0)
			return e;
		e = read_payload(r, buf, rec->length, &hash);
		if (e == 1)
			e = reader_fail(r, -EBADMSG, r->offset, "stream truncated inside record %u", rec->seq);
		if (e < 0)
			return e;
		if (get_le64(h + 16) != hash)
			return reader_fail(r, -EBADMSG, at + STREAM_HEADER_SIZE,
					   "record %u: payload checksum mismatch", rec->seq);
		XXH3_64bits_update(r->chain, h, sizeof(h));
		r->seq++;
		rec->payload = buf;
		if (rec->type == STREAM_TRAILER) {
			e = check_trailer(r, rec, buf, bytes_before, chain);
			return e < 0 ? e : 0;
		}
		if (type_known(rec->type))
			return 1;
		if (!(rec->flags & STREAM_FLAG_OPTIONAL))
			return reader_fail(r, -EPROTO, at, "record %u has unknown mandatory type 0x%04x; "
					   "a newer vfiomig wrote it", rec->seq, rec->type);
		/* Unknown optional records are skipped. */
	}
}

void stream_reader_free(struct stream_reader *r)
{
	XXH3_freeState(r->chain);
	XXH3_freeState(r->payload);
	r->chain = NULL;
	r->payload = NULL;
}
