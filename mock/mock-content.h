/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The mock device's migration stream: byte format, content generator,
 * records and incremental emitter (save side, mock-content.c), and the
 * incremental verifier (resume side, mock-parser.c).  Pure code: no locks,
 * no fds, no threads.  docs/mock.md describes every byte.  All multi-byte
 * fields are little-endian.
 *
 *   stream  := header segment* end
 *   header  := "VFIOMOCK" u32 version u32 mig_flags u64 seed u64 size
 *              u32 page_size u32 check (over bytes 0..35)            (40 B)
 *   segment := u32 "PAGE" u32 generation u64 offset u64 length     (24 B)
 *              + length content bytes
 *   end     := u32 "END!" u32 0 u64 page_segments u64 stream_bytes (24 B)
 */
#ifndef VFIOMIG_MOCK_CONTENT_H
#define VFIOMIG_MOCK_CONTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MOCK_PAGE_SIZE 65536u
#define MOCK_HDR_SIZE 40u
#define MOCK_SEG_SIZE 24u
#define MOCK_VERSION 1u
#define MOCK_SEG_PAGE 0x45474150u	/* "PAGE" on the wire */
#define MOCK_SEG_END 0x21444e45u	/* "END!" on the wire */
#define MOCK_SIZE_MAX (64ull << 30)

/* FNV-1a of @name, finished with splitmix64: the device's initial seed. */
uint64_t mock_seed_from_name(const char *name);

static inline uint64_t mock_npages(uint64_t size)
{
	return (size + MOCK_PAGE_SIZE - 1) / MOCK_PAGE_SIZE;
}

/* Length of page @page (the last one may be short). */
static inline uint64_t mock_page_len(uint64_t size, uint64_t page)
{
	uint64_t off = page * MOCK_PAGE_SIZE;

	return size - off < MOCK_PAGE_SIZE ? size - off : MOCK_PAGE_SIZE;
}

/* Bytes of a segment run of @count pages starting at @first, cyclic. */
uint64_t mock_run_bytes(uint64_t size, uint64_t first, uint64_t count);

/* Exact length of a plain STOP_COPY stream of a device of @size bytes. */
static inline uint64_t mock_stream_size(uint64_t size)
{
	return MOCK_HDR_SIZE + mock_run_bytes(size, 0, mock_npages(size)) +
	       MOCK_SEG_SIZE;
}

/*
 * Device content: bytes [@off, @off + @len) of the device at generation
 * @gen.  Word i (device bytes 8i .. 8i+7) is a fixed mix of (seed, gen, i),
 * stored little-endian.
 */
void mock_fill(uint64_t seed, uint32_t gen, uint64_t off, void *buf,
	       size_t len);
/* Checks @buf against mock_fill(); returns @len, or the first bad index. */
size_t mock_verify(uint64_t seed, uint32_t gen, uint64_t off, const void *buf,
		   size_t len);

/* ---- records ---- */

/* The check word of header @h: binds its bytes 0..35. */
uint32_t mock_header_check(const uint8_t *h);

struct mock_header {
	uint32_t mig_flags;
	uint64_t seed, size;
};

/*
 * Header @h (MOCK_HDR_SIZE bytes) on its own: magic, check word, version,
 * page size, a size a mock can have.  0 with *@ret, or -EBADMSG (not a
 * mock header, or a damaged one) or -EPROTO (another version) with the
 * reason in @why.
 */
int mock_header_decode(const uint8_t *h, struct mock_header *ret, char *why,
		       size_t len);

/* A segment header; an END's offset and length are its two counts. */
struct mock_seg {
	uint32_t magic, gen;
	uint64_t offset, length;
};

/*
 * Segment header @s (MOCK_SEG_SIZE bytes) at stream offset @at, after
 * @nsegs page segments, in the stream of a @size-byte device: a page of
 * that device at its exact length, or an end that counts the stream
 * before it.  0 with *@ret, or -EBADMSG with the reason in @why.
 */
int mock_seg_decode(const uint8_t *s, uint64_t size, uint64_t nsegs, uint64_t at,
		    struct mock_seg *ret, char *why, size_t len);

/* ---- save side ---- */

/*
 * A personality's framing (docs/mock.md): the same stream travels inside
 * a driver's records.  Records of the framing's own (mlx5's
 * STOP_COPY_SIZE; xe's DESCRIPTOR, GUC, GGTT, MMIO and TRAILER) stand
 * around the images, and each image (the initial one, each pre-copy
 * round, the final one) is cut into data records (mlx5's FW_DATA, xe's
 * VRAM) of at most a chunk of payload each.  One mechanism for both: only
 * a record's header differs.
 */
enum mock_framing {
	MOCK_FRAMING_NONE,
	MOCK_FRAMING_MLX5,	/* { u64 record_size; u32 flags; u32 tag } */
	MOCK_FRAMING_XE,	/* { u8 version, type, tile, gt; u32 flags; u64 offset, size } */
};

/* Stream bytes of an image of @payload bytes cut into records of @chunk. */
static inline uint64_t mock_framed(uint64_t payload, uint64_t chunk, uint32_t hdr)
{
	return payload + hdr * ((payload + chunk - 1) / chunk);
}

/* mlx5_vfio_pci's records (uAPI reference 5.2). */
#define MOCK_MLX5_HDR 16u
#define MOCK_MLX5_SIZE_REC 24u		/* STOP_COPY_SIZE: header + u64 */
#define MOCK_MLX5_OPTIONAL 1u		/* flags bit 0 */
#define MOCK_MLX5_FW_DATA 0u
#define MOCK_MLX5_STOP_COPY_SIZE 1u
#define MOCK_MLX5_MAX_LOAD 0xffffffffull	/* the target's limit (ENOMEM) */
/* One SAVE's limit, 2^32 - PAGE_SIZE: the pre-copy images' records. */
#define MOCK_MLX5_SAVE_MAX (0x100000000ull - 4096)
/* Chunk mode's records of the final image. */
#define MOCK_MLX5_CHUNK (1ull << 20)

/* Length of a plain STOP_COPY stream of personality=mlx5. */
static inline uint64_t mock_mlx5_stream_size(uint64_t size)
{
	return MOCK_MLX5_SIZE_REC +
	       mock_framed(mock_stream_size(size), MOCK_MLX5_CHUNK, MOCK_MLX5_HDR);
}

/*
 * xe-vfio-pci's packets: a packed 24-byte header and its payload.  A save
 * is DESCRIPTOR, GUC, GGTT, MMIO, the VRAM in chunks whose offset is the
 * VRAM offset of their first byte, then TRAILER.  The mock's VRAM is its
 * own stream; the GUC, GGTT and MMIO states have fixed sizes and content
 * that mock_xe_fill() generates, the same on every xe mock.
 */
#define MOCK_XE_HDR 24u
#define MOCK_XE_VERSION 1u
enum mock_xe_type {
	MOCK_XE_DESCRIPTOR = 1,
	MOCK_XE_TRAILER = 2,
	MOCK_XE_GGTT = 3,
	MOCK_XE_MMIO = 4,
	MOCK_XE_GUC = 5,
	MOCK_XE_VRAM = 6,
	MOCK_XE_TYPES = 7,	/* one past the last the driver restores */
};
#define MOCK_XE_KLV_DEVICE 0xf001u	/* the descriptor's KLV keys */
#define MOCK_XE_KLV_REVISION 0xf002u
#define MOCK_XE_DESC_SIZE 16u		/* two KLVs of one dword each */
#define MOCK_XE_GUC_SIZE 8192u
#define MOCK_XE_GGTT_SIZE 4096u
#define MOCK_XE_MMIO_SIZE 1024u
#define MOCK_XE_CHUNK (256u << 10)	/* VRAM payload a packet at most */
#define MOCK_XE_SEED 0x78656775636d6d69ull	/* the GUC, GGTT and MMIO content */

/* The size of the GUC, GGTT or MMIO state; 0 for any other type. */
static inline uint64_t mock_xe_state_size(uint32_t type)
{
	return type == MOCK_XE_GUC ? MOCK_XE_GUC_SIZE :
	       type == MOCK_XE_GGTT ? MOCK_XE_GGTT_SIZE :
	       type == MOCK_XE_MMIO ? MOCK_XE_MMIO_SIZE : 0;
}

/* Bytes [@off, @off + @len) of the GUC, GGTT or MMIO state (@type). */
static inline void mock_xe_fill(uint32_t type, uint64_t off, void *buf, size_t len)
{
	mock_fill(MOCK_XE_SEED, type, off, buf, len);
}

/* Length of a plain STOP_COPY stream of personality=xe. */
static inline uint64_t mock_xe_stream_size(uint64_t size)
{
	return 5 * MOCK_XE_HDR + MOCK_XE_DESC_SIZE + MOCK_XE_GUC_SIZE + MOCK_XE_GGTT_SIZE +
	       MOCK_XE_MMIO_SIZE + mock_framed(mock_stream_size(size), MOCK_XE_CHUNK, MOCK_XE_HDR);
}

enum mock_unit_kind {
	MOCK_UNIT_HEADER, MOCK_UNIT_PAGES, MOCK_UNIT_END,
	MOCK_UNIT_RECORD,	/* a record of the framing's own, whole */
	MOCK_UNIT_FRAME,	/* the units after it form one image */
	MOCK_UNIT_RECHDR,	/* a data record's header (a piece only) */
};

struct mock_item {
	enum mock_unit_kind kind;
	uint64_t first, count;		/* PAGES: cyclic run; FRAME: where the image starts */
	uint64_t nsegs, bytes;		/* END: what it records; FRAME, RECORD: payload */
	uint64_t chunk;			/* FRAME: record payload at most */
	uint32_t tag;			/* RECORD: the framing's tag or type */
};

/* A byte range of one unit, planned under the device lock. */
struct mock_piece {
	enum mock_unit_kind kind;
	uint32_t gen;
	uint32_t tag;			/* RECORD */
	uint64_t page;			/* PAGES */
	uint64_t nsegs, bytes;		/* END; RECHDR, RECORD: payload size */
	uint64_t at;			/* RECHDR: its payload's offset in the mock stream */
	uint32_t off, len;		/* range within the unit */
};

#define MOCK_QUEUE_MAX 12

struct mock_emitter {
	uint64_t seed, size, npages;
	uint32_t mig_flags;
	struct mock_item q[MOCK_QUEUE_MAX];
	unsigned int head, count;
	uint64_t idx;		/* page index within the front PAGES item */
	uint64_t unit_off;	/* bytes of the current unit already planned */
	uint32_t unit_gen;	/* generation the current segment was begun at */
	uint64_t queued;	/* stream bytes queued so far */
	uint64_t planned;	/* stream bytes handed out by mock_emit_plan */
	uint64_t nsegs;		/* page segments queued so far */
	uint64_t inner;		/* mock stream bytes queued (queued less framing) */
	/* framing */
	enum mock_framing framing;
	uint64_t stop_copy_size;	/* mlx5: the STOP_COPY_SIZE record's value */
	uint32_t device, revision;	/* xe: the DESCRIPTOR's IDs */
	uint64_t frame_at;	/* mock stream offset of the image's next byte */
	uint64_t frame_left;	/* payload of the current image not yet planned */
	uint64_t frame_chunk;
	uint64_t rec_left;	/* payload of the current record not yet planned */
	uint32_t rec_off;	/* bytes of the current record header planned */
};

void mock_emit_init(struct mock_emitter *e, uint64_t seed, uint64_t size,
		    uint32_t mig_flags);
/* Queue units; each returns the bytes it added, 0 if the queue is full. */
uint64_t mock_emit_header(struct mock_emitter *e);
uint64_t mock_emit_pages(struct mock_emitter *e, uint64_t first,
			 uint64_t count);
uint64_t mock_emit_end(struct mock_emitter *e);
/* personality=mlx5: frame everything from now on; queues STOP_COPY_SIZE. */
void mock_emit_mlx5(struct mock_emitter *e, uint64_t stop_copy_size);
/* personality=xe: frame everything from now on; queues the DESCRIPTOR of
 * @device and @revision, then the GUC, GGTT and MMIO states. */
void mock_emit_xe(struct mock_emitter *e, uint32_t device, uint32_t revision);
/*
 * The units queued between these two form one image, cut into data
 * records: of at most one SAVE's payload if @one_save (mlx5's pre-copy
 * images), else of the framing's chunk.  No-ops without a framing.
 * begin returns what end takes (-1: nothing to frame).
 */
int mock_emit_frame_begin(struct mock_emitter *e, bool one_save);
void mock_emit_frame_end(struct mock_emitter *e, int frame);
/* After the last image: what the framing ends a stream with (xe's TRAILER). */
void mock_emit_close(struct mock_emitter *e);
/*
 * Plan up to @max_bytes of queued stream into @pieces (at most @max_pieces),
 * reading page generations from @gen.  Returns the number of pieces and
 * adds their bytes to *@ret_bytes.
 */
size_t mock_emit_plan(struct mock_emitter *e, const uint32_t *gen,
		      struct mock_piece *pieces, size_t max_pieces,
		      size_t max_bytes, size_t *ret_bytes);
/* Render planned pieces into @buf (no lock needed); returns bytes written. */
size_t mock_emit_render(const struct mock_emitter *e,
			const struct mock_piece *pieces, size_t n, void *buf);

/* ---- resume side: mock-parser.c ---- */

enum mock_parse_phase {
	MOCK_PARSE_HEADER,
	MOCK_PARSE_SEGHDR,
	MOCK_PARSE_CONTENT,
	MOCK_PARSE_DONE,
	MOCK_PARSE_FAILED,
};

struct mock_parser {
	uint64_t size, npages;		/* of the receiving device */
	enum mock_parse_phase phase;
	uint8_t hdr[MOCK_HDR_SIZE];	/* header or segment header being built */
	size_t have;
	uint64_t seed;
	uint32_t mig_flags;
	uint32_t seg_gen;
	uint64_t seg_off, seg_len, seg_done;
	uint64_t pos;			/* stream bytes consumed */
	uint64_t nsegs;
	uint32_t *gen;			/* per page: last generation received */
	uint8_t *seen;			/* per page bitmap */
	uint64_t seen_count;
	bool past_end;			/* bytes came after the end segment */
	char err[192];
};

/* Allocates O(npages) bookkeeping for a device of @size.  0 or -ENOMEM. */
int mock_parser_init(struct mock_parser *p, uint64_t size);
/*
 * Framing only: the header's checks and where the end falls, with no
 * content checks and no allocation.  The mock runs one over each write to
 * answer like a driver's write(): mtty's EFAULT for a bad header and
 * ENOMEM past the end of the state.
 */
void mock_parser_init_framing(struct mock_parser *p, uint64_t size);
void mock_parser_fini(struct mock_parser *p);
/* Consume @len bytes; after the first problem everything is ignored. */
void mock_parser_feed(struct mock_parser *p, const void *buf, size_t len);
/* 0 if a complete, valid stream was received; else -EINVAL with p->err. */
int mock_parser_finish(struct mock_parser *p);

/* ---- resume side, personality=mlx5: mock-mlx5.c ---- */

/*
 * mlx5_vfio_pci's resume parser (mlx5vf_resume_write): record framing,
 * any split of the bytes.  A record over MOCK_MLX5_MAX_LOAD gives
 * -ENOMEM, an unknown mandatory tag -EOPNOTSUPP; unknown optional tags
 * and STOP_COPY_SIZE are skipped, and FW_DATA payload goes to the sink.
 * The first error sticks, as the driver's file stays in error.
 */
struct mock_mlx5_rx {
	uint8_t hdr[MOCK_MLX5_HDR];
	size_t have;			/* header bytes gathered */
	uint64_t remaining;		/* payload of the current record to come */
	bool fw_data;			/* that payload is the image */
	uint64_t pos, records;
	int err;			/* 0, or the first -errno */
	char why[128];
};

typedef void (*mock_mlx5_sink)(void *arg, const void *buf, size_t len);

void mock_mlx5_rx_init(struct mock_mlx5_rx *rx);
/* 0, or the (sticky) -errno with rx->why set; @sink may be NULL. */
int mock_mlx5_rx_feed(struct mock_mlx5_rx *rx, const void *buf, size_t len,
		      mock_mlx5_sink sink, void *arg);
/* Whether the stream stopped between records. */
static inline bool mock_mlx5_rx_whole(const struct mock_mlx5_rx *rx)
{
	return !rx->have && !rx->remaining;
}

/* ---- resume side, personality=xe: mock-xe.c ---- */

/*
 * xe-vfio-pci's restore as its write() sees the packets, any split of the
 * bytes, for a device of one GT (0) on tile 0 whose PCI device ID and
 * revision are @device and @revision.  Each feed stops at the first packet
 * the driver refuses and returns its -errno; the next feed starts a new
 * packet header, as the driver frees the packet and keeps no error.  The
 * first refusal stays in err and why, for RESUMING -> STOP.
 *
 * With a sink, the content is checked too: the GUC, GGTT and MMIO
 * payloads against mock_xe_fill(), each state's packets following on from
 * offset 0, and the VRAM payloads, in order of offset, go to the sink.  A
 * problem there is no write error: it waits in content for the verdict.
 */
struct mock_xe_rx {
	uint32_t device, revision;	/* the receiving device's */
	uint8_t hdr[MOCK_XE_HDR];
	size_t have;			/* header bytes gathered */
	bool in_payload;		/* a header was taken: its payload comes */
	uint8_t type, tile, gt;
	uint64_t offset, size, got;	/* the packet's; payload bytes gathered */
	uint8_t word[4];		/* the descriptor's KLVs, a dword at a time */
	size_t word_have;
	uint32_t klv_key, klv_len, klv_left;
	char id_why[96];		/* the first ID of the descriptor that differs */
	uint64_t next[MOCK_XE_TYPES];	/* with a sink: each state's next offset */
	bool trailer;			/* a TRAILER was taken */
	uint64_t pos, packets, start;	/* bytes taken, packets begun, where this one began */
	int err;			/* the first refusal, or 0 */
	char why[192];
	char content[192];		/* with a sink: the first content problem */
	char verdict[192];		/* mock_xe_rx_verdict()'s own sentences */
};

typedef void (*mock_xe_sink)(void *arg, const void *buf, size_t len);

void mock_xe_rx_init(struct mock_xe_rx *rx, uint32_t device, uint32_t revision);
/* 0, or the -errno of the packet refused; @sink may be NULL (framing only). */
int mock_xe_rx_feed(struct mock_xe_rx *rx, const void *buf, size_t len,
		    mock_xe_sink sink, void *arg);
/*
 * Why the stream received cannot stand as a whole (a refusal, a cut
 * packet, no TRAILER, a content problem, a state not whole), or NULL.
 * The VRAM's own verdict is the sink's.
 */
const char *mock_xe_rx_verdict(struct mock_xe_rx *rx);

#endif
