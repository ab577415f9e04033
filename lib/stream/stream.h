/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The vfiomig stream format (docs/stream-format.md): a preamble, then
 * records of at most STREAM_MAX_PAYLOAD bytes, each with a header checksum
 * and a payload checksum, ending with a trailer.  Writer and reader never
 * seek, so the stream crosses pipes and sockets.
 */
#ifndef VFIOMIG_STREAM_H
#define VFIOMIG_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <xxhash.h>

#include "identity.h"
#ifdef HAVE_XXH_X86DISPATCH
/* XXH3_64bits() and XXH3_64bits_update() become the dispatching ones: AVX2
 * or AVX-512 where the CPU has them (3-4x the SSE2 default on hot data). */
#include <xxh_x86dispatch.h>
#endif

/* Payload bytes read and hashed at a time, so the hash finds them in cache. */
#define STREAM_HASH_WINDOW (256u << 10)

#define STREAM_MAGIC "VFIOMIG\n"
#define STREAM_VERSION_MAJOR 1
#define STREAM_VERSION_MINOR 1	/* 1: IDENTITY's sixth string, the mdev type */
#define STREAM_PREAMBLE_SIZE 16
#define STREAM_HEADER_SIZE 32
/* A reader never needs more than this for one record. */
#define STREAM_MAX_PAYLOAD (1u << 20)
/* What stream_read_record() reads into: a payload and the next header. */
#define STREAM_READ_BUFFER (STREAM_MAX_PAYLOAD + STREAM_HEADER_SIZE)

enum stream_type {
	STREAM_IDENTITY = 0x0001,
	STREAM_DATA_PRECOPY = 0x0002,
	STREAM_DATA_STOP_COPY = 0x0003,
	STREAM_DEVICE_END = 0x0004,
	STREAM_TRAILER = 0x0005,
	STREAM_PRECOPY_ROUND = 0x0101,	/* optional */
	STREAM_VENDOR_SUMMARY = 0x0102,	/* optional */
};

#define STREAM_FLAG_OPTIONAL (1u << 0)
#define STREAM_FLAGS_KNOWN STREAM_FLAG_OPTIONAL

#define STREAM_IDENTITY_FIXED 32
#define STREAM_STRING_MAX 255
#define STREAM_IDENTITY_STRINGS 6
/* The longest IDENTITY payload this version writes. */
#define STREAM_IDENTITY_MAX (STREAM_IDENTITY_FIXED + STREAM_IDENTITY_STRINGS * (2 + STREAM_STRING_MAX))
#define STREAM_DEVICE_END_SIZE 24
#define STREAM_TRAILER_SIZE 24
#define STREAM_PRECOPY_ROUND_SIZE 24
#define STREAM_VENDOR_SUMMARY_SIZE 64

/* The source device as the IDENTITY record describes it. */
struct stream_identity {
	struct vfiomig_identity dev;
	uint64_t mig_flags;
	uint64_t stop_copy_size;
	char name[STREAM_STRING_MAX + 1];
	char backend[STREAM_STRING_MAX + 1];
	char kernel[STREAM_STRING_MAX + 1];
	char library[STREAM_STRING_MAX + 1];
};

struct stream_record {
	uint16_t type;
	uint16_t flags;
	uint32_t device;
	uint32_t length;
	uint32_t seq;
	uint64_t offset;	/* of the record header in the stream */
	uint8_t *payload;	/* the caller's buffer */
};


/* stream-identity.c */
size_t stream_identity_encode(const struct stream_identity *id, uint8_t *buf, size_t size);
int stream_identity_decode(const uint8_t *buf, size_t len, struct stream_identity *id);
/* What a stream of @id says of its device, as a profile: the fields the
 * record does not carry are unknown. */
void stream_identity_profile(const struct stream_identity *id, struct vfiomig_profile *p);
/* Whether a stream of @a may load into a device of @b: profile_compare()
 * finds no field incompatible (docs/compatibility.md). */
bool stream_identity_matches(const struct stream_identity *a, const struct stream_identity *b);
/*
 * How many of the fields profile_compare() finds incompatible between a
 * stream of @stream and a device of @dev; with @buf, also named there:
 * "the drivers and the subsystem IDs (stream 15b3:0001, device 15b3:0002)".
 * Values are given for the fields a "15b3:101e (mlx5_vfio_pci)"
 * description does not show.
 */
unsigned int stream_identity_differences(const struct stream_identity *stream,
					 const struct stream_identity *dev, char *buf, size_t size);

/* stream-write.c: all output goes through @write, which writes everything or fails. */
struct stream_writer {
	int (*write)(void *ctx, const void *a, size_t alen, const void *b, size_t blen);
	void *ctx;
	uint32_t seq;
	uint64_t bytes;
	XXH3_state_t *chain;
};

int stream_writer_begin(struct stream_writer *w);
int stream_write_record(struct stream_writer *w, uint16_t type, uint16_t flags,
			uint32_t device, const void *payload, uint32_t len);
/* The same, with the payload's hash already computed (outside a lock). */
int stream_write_record_hashed(struct stream_writer *w, uint16_t type, uint16_t flags,
			       uint32_t device, const void *payload, uint32_t len,
			       uint64_t hash);
/* Writes the trailer and frees the writer's state. */
int stream_writer_finish(struct stream_writer *w);
void stream_writer_free(struct stream_writer *w);

/* stream-read.c: @read returns bytes read, 0 at EOF, or -errno. */
struct stream_reader {
	ssize_t (*read)(void *ctx, void *buf, size_t len);
	void *ctx;
	uint32_t seq;
	uint64_t offset;
	XXH3_state_t *chain;
	XXH3_state_t *payload;	/* the payload being read */
	bool done;		/* the trailer was read and verified */
	/* The stream's version, from its preamble: 0.0 until the magic and
	 * the version were read (not a stream, or one cut before them). */
	uint16_t major, minor;
	/* Bytes read with a payload that begin the next record. */
	uint8_t ahead[STREAM_HEADER_SIZE];
	uint8_t ahead_len, ahead_pos;
	uint64_t error_offset;
	char error[256];
};

/*
 * -EPROTO for no stream or a newer major version; -EBADMSG for an empty or
 * cut preamble; -ENOMEM; -errno from @read.  Call stream_reader_free()
 * afterwards whatever this returned.
 */
int stream_reader_begin(struct stream_reader *r);
/*
 * Reads the next record's payload into @buf (STREAM_READ_BUFFER bytes: the
 * last read of a payload asks for the next record's header with it, which
 * saves a read(2) per record).
 * Return: 1 with *rec filled; 0 after a verified trailer and EOF;
 * -EBADMSG (corrupt or truncated), -EPROTO (unknown mandatory record),
 * -E2BIG (a record over STREAM_MAX_PAYLOAD), -errno from @read.  r->error and r->error_offset say what and where.
 * Optional records of unknown type are skipped.
 */
int stream_read_record(struct stream_reader *r, struct stream_record *rec, uint8_t *buf);
void stream_reader_free(struct stream_reader *r);

#endif
