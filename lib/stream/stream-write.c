/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writing the stream format. */
#include <errno.h>
#include <string.h>

#include "stream.h"
#include "util.h"

/* Every header byte enters the chain, so the trailer covers the whole stream. */
static int emit(struct stream_writer *w, const uint8_t *head, size_t hlen,
		const void *payload, size_t plen)
{
	int r = w->write(w->ctx, head, hlen, payload, plen);

	if (r < 0)
		return r;
	w->bytes += hlen + plen;
	return XXH3_64bits_update(w->chain, head, hlen) == XXH_OK ? 0 : -EIO;
}

int stream_writer_begin(struct stream_writer *w)
{
	uint8_t pre[STREAM_PREAMBLE_SIZE] = { 0 };

	w->seq = 0;
	w->bytes = 0;
	w->chain = XXH3_createState();
	if (!w->chain)
		return -ENOMEM;
	XXH3_64bits_reset(w->chain);
	memcpy(pre, STREAM_MAGIC, 8);
	put_le16(pre + 8, STREAM_VERSION_MAJOR);
	put_le16(pre + 10, STREAM_VERSION_MINOR);
	return emit(w, pre, sizeof(pre), NULL, 0);
}

int stream_write_record(struct stream_writer *w, uint16_t type, uint16_t flags,
			uint32_t device, const void *payload, uint32_t len)
{
	/* Hashed just before it is written: a payload just read is in cache. */
	return stream_write_record_hashed(w, type, flags, device, payload, len,
					  XXH3_64bits(payload, len));
}

int stream_write_record_hashed(struct stream_writer *w, uint16_t type, uint16_t flags,
			       uint32_t device, const void *payload, uint32_t len,
			       uint64_t hash)
{
	uint8_t h[STREAM_HEADER_SIZE];

	if (len > STREAM_MAX_PAYLOAD)
		return -E2BIG;
	put_le16(h, type);
	put_le16(h + 2, flags);
	put_le32(h + 4, device);
	put_le32(h + 8, len);
	put_le32(h + 12, w->seq++);
	put_le64(h + 16, hash);
	put_le64(h + 24, XXH3_64bits(h, 24));
	return emit(w, h, sizeof(h), payload, len);
}

int stream_writer_finish(struct stream_writer *w)
{
	uint8_t t[STREAM_TRAILER_SIZE];

	/* Totals of everything before the trailer record. */
	put_le64(t, w->bytes);
	put_le64(t + 8, w->seq);
	put_le64(t + 16, XXH3_64bits_digest(w->chain));
	return stream_write_record(w, STREAM_TRAILER, 0, 0, t, sizeof(t));
}

void stream_writer_free(struct stream_writer *w)
{
	XXH3_freeState(w->chain);
	w->chain = NULL;
}
