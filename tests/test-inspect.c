/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Stream inspection without a device: the container's verdicts, and the
 * mlx5 backend's record parser against streams built by hand from the
 * driver's format (lib/vendor/vendor-mlx5.c cites it).
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "test-util.h"
#include "util.h"
#include "stream.h"
#include "vendor.h"

struct seen {
	int identities, records, vendor_records;
	int by_type[8];
	char backend[32], last_kind[64];
	uint64_t last_offset;
};

static void on_identity(void *data, uint32_t device, const struct vfiomig_stream_identity *id)
{
	struct seen *s = data;

	ck_assert_uint_eq(device, 0);
	s->identities++;
	snprintf(s->backend, sizeof(s->backend), "%s", id->backend);
}

/* A backend's record: its kind starts with the backend's name ("mlx5 FW_DATA"). */
static bool vendor_kind(const char *kind)
{
	return strncmp(kind, "mlx5 ", 5) == 0 || strncmp(kind, "mock ", 5) == 0 ||
	       strncmp(kind, "xe ", 3) == 0;
}

static void on_record(void *data, const struct vfiomig_stream_record *rec)
{
	struct seen *s = data;

	s->records++;
	if (vendor_kind(rec->kind))
		s->vendor_records++;
	else if (rec->type < 8)
		s->by_type[rec->type]++;
	snprintf(s->last_kind, sizeof(s->last_kind), "%s", rec->kind);
	s->last_offset = rec->offset;
}

static const struct vfiomig_inspect_ops ops = {
	.sz = sizeof(ops), .identity = on_identity, .record = on_record,
};

static int memfd_of(const void *buf, size_t len)
{
	int fd = memfd_create("s", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static void inspect(const void *buf, size_t len, unsigned int flags, const char *backend,
		    struct seen *seen, struct vfiomig_stream_summary *sum)
{
	struct vfiomig_ctx *ctx;
	int fd = memfd_of(buf, len);

	memset(seen, 0, sizeof(*seen));
	memset(sum, 0, sizeof(*sum));
	sum->sz = sizeof(*sum);
	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	ck_assert_int_eq(vfiomig_stream_inspect(ctx, fd, flags, backend, &ops, seen, sum), 0);
	vfiomig_ctx_unref(ctx);
	close(fd);
}

/* A save of a mock device into memory. */
static size_t mock_stream(const char *spec, char **ret)
{
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = VFIOMIG_PRECOPY_MODE_AUTO };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	int fd = memfd_create("m", MFD_CLOEXEC);
	off_t len;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	ck_assert_int_eq(vfiomig_dev_open(ctx, spec, &dev), 0);
	ck_assert_int_eq(vfiomig_dev_save(dev, fd, &so), 0);
	len = lseek(fd, 0, SEEK_CUR);
	*ret = malloc((size_t)len);
	ck_assert_int_eq(pread(fd, *ret, (size_t)len, 0), len);
	close(fd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
	return (size_t)len;
}

START_TEST(test_valid_stream)
{
	struct vfiomig_stream_summary sum;
	struct seen seen;
	char *s;
	size_t len = mock_stream("mock:i,size=3M,dirty=64K", &s);

	inspect(s, len, 0, NULL, &seen, &sum);
	ck_assert_msg(sum.valid, "%s", sum.problem);
	ck_assert_str_eq(sum.problem, "");
	ck_assert_uint_eq(sum.problem_offset, UINT64_MAX);
	ck_assert_uint_eq(sum.version_major, 1);
	ck_assert_uint_eq(sum.bytes, len);
	ck_assert_uint_eq(sum.devices, 1);
	ck_assert_int_eq(seen.identities, 1);
	ck_assert_str_eq(seen.backend, "mock");
	ck_assert_int_eq(seen.by_type[STREAM_IDENTITY], 1);
	ck_assert_int_ge(seen.by_type[STREAM_DATA_PRECOPY], 3);	/* 3 MiB in 1 MiB records */
	ck_assert_int_ge(seen.by_type[STREAM_DATA_STOP_COPY], 1);
	ck_assert_int_eq(seen.by_type[STREAM_DEVICE_END], 1);
	/* The container's records, the trailer included; the mock backend
	 * describes the device's own stream inside them too. */
	ck_assert_uint_eq(sum.records, (uint64_t)(seen.records - seen.vendor_records));
	ck_assert_int_gt(seen.vendor_records, 2);	/* a header, pages, an end */
	ck_assert_int_eq(seen.by_type[STREAM_TRAILER], 1);
	free(s);
}
END_TEST

START_TEST(test_damaged_stream)
{
	struct vfiomig_stream_summary sum;
	struct seen seen;
	char *s;
	size_t len = mock_stream("mock:i,size=64K", &s);

	s[len / 2] ^= 1;
	inspect(s, len, 0, NULL, &seen, &sum);
	ck_assert(!sum.valid);
	ck_assert_ptr_nonnull(strstr(sum.problem, "checksum"));
	ck_assert_uint_le(sum.problem_offset, len / 2);
	s[len / 2] ^= 1;

	inspect(s, len - 1, 0, NULL, &seen, &sum);
	ck_assert(!sum.valid);
	ck_assert_ptr_nonnull(strstr(sum.problem, "truncated"));

	inspect("nonsense", 8, 0, NULL, &seen, &sum);
	ck_assert(!sum.valid);
	free(s);
}
END_TEST

/*
 * A damaged stream's summary gives the input's whole size, not the bytes
 * read up to the problem, and the problem's offset says how far it was
 * valid; input that is not a stream claims no version.
 */
START_TEST(test_whole_input_described)
{
	static const char junk[] = "0123456789abcdef, and more than a preamble of it";
	struct vfiomig_stream_summary sum;
	struct seen seen;
	char *s;
	size_t len = mock_stream("mock:i,size=2M", &s);

	/* damage in the first MiB: the reader stops there, the size does not */
	s[4096] ^= 1;
	inspect(s, len, 0, NULL, &seen, &sum);
	ck_assert(!sum.valid);
	ck_assert_uint_eq(sum.bytes, len);
	ck_assert_uint_le(sum.problem_offset, 4096);
	ck_assert_uint_gt(sum.problem_offset, 0);
	ck_assert_uint_eq(sum.version_major, 1);
	s[4096] ^= 1;

	/* data after the trailer: all of it counted */
	s = realloc(s, len + 3000);
	memset(s + len, 'x', 3000);
	inspect(s, len + 3000, 0, NULL, &seen, &sum);
	ck_assert(!sum.valid);
	ck_assert_uint_eq(sum.bytes, len + 3000);
	ck_assert_uint_eq(sum.problem_offset, len);

	/* not a stream: no version, its size, the problem at 0 */
	inspect(junk, sizeof(junk), 0, NULL, &seen, &sum);
	ck_assert(!sum.valid);
	ck_assert_uint_eq(sum.version_major, 0);
	ck_assert_uint_eq(sum.version_minor, 0);
	ck_assert_uint_eq(sum.bytes, sizeof(junk));
	ck_assert_uint_eq(sum.problem_offset, 0);
	ck_assert_ptr_nonnull(strstr(sum.problem, "not a vfiomig stream"));
	/* shorter than a preamble, and no stream's start: not a cut stream */
	inspect(junk, 5, 0, NULL, &seen, &sum);
	ck_assert_uint_eq(sum.version_major, 0);
	ck_assert_uint_eq(sum.problem_offset, 0);
	ck_assert_ptr_nonnull(strstr(sum.problem, "not a vfiomig stream"));
	/* a stream's start, cut inside the preamble: a cut stream, of no known version */
	inspect(s, 5, 0, NULL, &seen, &sum);
	ck_assert_uint_eq(sum.version_major, 0);
	ck_assert_uint_eq(sum.problem_offset, 5);
	ck_assert_ptr_nonnull(strstr(sum.problem, "truncated inside the preamble"));
	/* a newer major version is a stream still, of that version */
	s[8] = 2;
	inspect(s, len, 0, NULL, &seen, &sum);
	ck_assert(!sum.valid);
	ck_assert_uint_eq(sum.version_major, 2);
	ck_assert_uint_eq(sum.bytes, len);

	/* raw: a backend that gives up at once still counts every byte */
	s[8] = 1;
	inspect(s, len, VFIOMIG_INSPECT_RAW, "mlx5", &seen, &sum);
	ck_assert(!sum.valid);
	ck_assert_uint_eq(sum.bytes, len);
	ck_assert_uint_eq(sum.version_major, 0);
	free(s);
}
END_TEST

/*
 * Input that may never end: a pipe whose writer stays and has sent one
 * wrong byte, or a stream's start and then damage.  The call returns at
 * the read that brought the problem, with the bytes read; on e7d8a00 it
 * waited for the rest, for ever.
 */
START_TEST(test_endless_input)
{
	struct vfiomig_stream_summary sum = { .sz = sizeof(sum) };
	struct vfiomig_ctx *ctx;
	char *s;
	size_t len = mock_stream("mock:i,size=32K", &s);
	int p[2];

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(write(p[1], "X", 1), 1);
	ck_assert_int_eq(vfiomig_stream_inspect(ctx, p[0], 0, NULL, NULL, NULL, &sum), 0);
	ck_assert(!sum.valid);
	ck_assert_ptr_nonnull(strstr(sum.problem, "not a vfiomig stream"));
	ck_assert_uint_eq(sum.problem_offset, 0);
	ck_assert_uint_eq(sum.bytes, 1);
	ck_assert_int_eq(sum.bytes_whole, 0);
	close(p[0]);
	close(p[1]);

	/* a stream with a byte flipped in its second record, and no end */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	s[len / 2] ^= 1;
	ck_assert_int_eq(write(p[1], s, len), (ssize_t)len);	/* a pipe holds 64 KiB */
	ck_assert_int_eq(vfiomig_stream_inspect(ctx, p[0], 0, NULL, NULL, NULL, &sum), 0);
	ck_assert(!sum.valid);
	ck_assert_uint_le(sum.problem_offset, len / 2);
	ck_assert_uint_le(sum.bytes, len);
	ck_assert_int_eq(sum.bytes_whole, 0);
	close(p[0]);
	close(p[1]);
	vfiomig_ctx_unref(ctx);
	free(s);
}
END_TEST

/*
 * A sparse file of 1 TiB: refused at its first bytes, its size from
 * fstat(), at once (e7d8a00 read the terabyte of holes: 3 minutes here).
 */
START_TEST(test_huge_sparse_file)
{
	struct vfiomig_stream_summary sum = { .sz = sizeof(sum) };
	struct vfiomig_ctx *ctx;
	int fd = memfd_create("sparse", MFD_CLOEXEC);
	time_t t0 = time(NULL);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 1ll << 40), 0);
	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	ck_assert_int_eq(vfiomig_stream_inspect(ctx, fd, 0, NULL, NULL, NULL, &sum), 0);
	ck_assert_int_le(time(NULL) - t0, 5);
	ck_assert(!sum.valid);
	ck_assert_uint_eq(sum.problem_offset, 0);
	ck_assert_uint_eq(sum.bytes, 1ull << 40);
	ck_assert_int_eq(sum.bytes_whole, 1);
	vfiomig_ctx_unref(ctx);
	close(fd);
}
END_TEST

/* --raw on a framed stream: valid as bare bytes, and the summary says what it begins as. */
START_TEST(test_raw_of_a_stream)
{
	struct vfiomig_stream_summary sum;
	struct seen seen;
	char *s;
	size_t len = mock_stream("mock:i,size=64K", &s);

	inspect(s, len, VFIOMIG_INSPECT_RAW, NULL, &seen, &sum);
	ck_assert(sum.valid);
	ck_assert_int_eq(sum.begins_as_stream, 1);
	ck_assert_int_eq(sum.bytes_whole, 1);
	inspect(s + 1, len - 1, VFIOMIG_INSPECT_RAW, NULL, &seen, &sum);
	ck_assert_int_eq(sum.begins_as_stream, 0);
	inspect(s, len, 0, NULL, &seen, &sum);
	ck_assert_int_eq(sum.begins_as_stream, 0);	/* framed: nothing to say */
	free(s);
}
END_TEST

/* An mlx5 record: the driver's 16-byte header, then @len bytes. */
static size_t mlx5_record(uint8_t *p, uint64_t size, uint32_t flags, uint32_t tag, size_t len)
{
	put_le64(p, size);
	put_le32(p + 8, flags);
	put_le32(p + 12, tag);
	memset(p + 16, 0xa5, len);
	return 16 + len;
}

/* STOP_COPY_SIZE, an initial image, an incremental one, the final one. */
static size_t mlx5_stream(uint8_t *p)
{
	size_t n = 0;

	n += mlx5_record(p + n, 8, 1, 1, 8);
	n += mlx5_record(p + n, 5000, 0, 0, 5000);
	n += mlx5_record(p + n, 0, 0, 0, 0);
	n += mlx5_record(p + n, 300, 0, 0, 300);
	n += mlx5_record(p + n, 10, 1, 7, 10);	/* an optional tag this parser lacks */
	return n;
}

START_TEST(test_mlx5_raw)
{
	static uint8_t buf[8192];
	struct vfiomig_stream_summary sum;
	struct seen seen;
	size_t len = mlx5_stream(buf);

	inspect(buf, len, VFIOMIG_INSPECT_RAW, "mlx5", &seen, &sum);
	ck_assert_msg(sum.valid, "%s", sum.problem);
	ck_assert_str_eq(sum.backend, "mlx5");
	ck_assert_uint_eq(sum.records, 5);
	ck_assert_int_eq(seen.vendor_records, 5);
	ck_assert_str_eq(seen.last_kind, "mlx5 unknown tag");
	ck_assert_uint_eq(seen.last_offset, len - 26);

	/* The generic backend only counts bytes. */
	inspect(buf, len, VFIOMIG_INSPECT_RAW, "generic", &seen, &sum);
	ck_assert(sum.valid);
	ck_assert_uint_eq(sum.bytes, len);
	ck_assert_int_eq(seen.records, 0);

	/* Every truncation is caught, except at record boundaries. */
	for (size_t cut = 1; cut < len; cut++) {
		bool boundary = cut == 24 || cut == 24 + 5016 || cut == 24 + 5016 + 16 ||
				cut == 24 + 5016 + 16 + 316;

		inspect(buf, cut, VFIOMIG_INSPECT_RAW, "mlx5", &seen, &sum);
		ck_assert_msg(sum.valid == boundary, "cut at %zu: valid %d (%s)", cut, sum.valid,
			      sum.problem);
	}
}
END_TEST

START_TEST(test_mlx5_refusals)
{
	static uint8_t buf[256];
	struct vfiomig_stream_summary sum;
	struct seen seen;
	size_t n;

	n = mlx5_record(buf, 4, 0, 9, 4);	/* unknown mandatory tag */
	inspect(buf, n, VFIOMIG_INSPECT_RAW, "mlx5", &seen, &sum);
	ck_assert(!sum.valid);
	ck_assert_ptr_nonnull(strstr(sum.problem, "EOPNOTSUPP"));

	n = mlx5_record(buf, 1ull << 32, 0, 0, 0);	/* over the driver's load size */
	inspect(buf, n, VFIOMIG_INSPECT_RAW, "mlx5", &seen, &sum);
	ck_assert(!sum.valid);
	ck_assert_ptr_nonnull(strstr(sum.problem, "ENOMEM"));

	n = mlx5_record(buf, 4, 1, 1, 4);	/* STOP_COPY_SIZE must be a u64 */
	inspect(buf, n, VFIOMIG_INSPECT_RAW, "mlx5", &seen, &sum);
	ck_assert(!sum.valid);
	ck_assert_uint_eq(sum.problem_offset, 0);
}
END_TEST

/* The parser takes any split of the bytes: one byte at a time gives the same records. */
START_TEST(test_mlx5_any_split)
{
	static uint8_t buf[8192];
	struct vendor_parser p;
	struct seen seen = { 0 };
	size_t len = mlx5_stream(buf);

	ck_assert_int_eq(vendor_parser_init(&p, vfiomig_vendor_find(NULL, "mlx5"), 0, on_record, &seen), 0);
	for (size_t i = 0; i < len; i++)
		ck_assert_int_eq(p.ops->feed(&p, buf + i, 1), 0);
	ck_assert_int_eq(p.ops->finish(&p), 0);
	ck_assert_int_eq(seen.vendor_records, 5);
	ck_assert_uint_eq(p.offset, len);
	vendor_parser_fini(&p);
}
END_TEST

/* Writes a framed stream whose device speaks mlx5, as a host with mlx5 would. */
static int write_mem(void *ctx, const void *a, size_t alen, const void *b, size_t blen)
{
	int fd = *(int *)ctx;

	ck_assert_int_eq(write(fd, a, alen), (ssize_t)alen);
	if (blen)
		ck_assert_int_eq(write(fd, b, blen), (ssize_t)blen);
	return 0;
}

/* A framed stream of one device of @vendor:@device bound to @driver, speaking @backend. */
static size_t framed(uint8_t *payload, size_t plen, uint16_t vendor, uint16_t device,
		     const char *driver, const char *backend, char **ret)
{
	struct stream_identity id = { .dev = { .has_pci_ids = true, .vendor = vendor,
					       .device = device }, .mig_flags = 7 };
	uint8_t idbuf[2048], end[STREAM_DEVICE_END_SIZE] = { 0 };
	int fd = memfd_create("f", MFD_CLOEXEC);
	struct stream_writer w = { .write = write_mem, .ctx = &fd };
	size_t n;
	off_t len;

	snprintf(id.dev.driver, sizeof(id.dev.driver), "%s", driver);
	snprintf(id.backend, sizeof(id.backend), "%s", backend);
	n = stream_identity_encode(&id, idbuf, sizeof(idbuf));
	ck_assert_int_eq(stream_writer_begin(&w), 0);
	ck_assert_int_eq(stream_write_record(&w, STREAM_IDENTITY, 0, 0, idbuf, (uint32_t)n), 0);
	/* Split the vendor stream across records at an odd place. */
	ck_assert_int_eq(stream_write_record(&w, STREAM_DATA_PRECOPY, 0, 0, payload, 100), 0);
	ck_assert_int_eq(stream_write_record(&w, STREAM_DATA_STOP_COPY, 0, 0, payload + 100,
					     (uint32_t)(plen - 100)), 0);
	put_le64(end, plen);
	put_le64(end + 8, 100);
	ck_assert_int_eq(stream_write_record(&w, STREAM_DEVICE_END, 0, 0, end, sizeof(end)), 0);
	ck_assert_int_eq(stream_writer_finish(&w), 0);
	stream_writer_free(&w);
	len = lseek(fd, 0, SEEK_CUR);
	*ret = malloc((size_t)len);
	ck_assert_int_eq(pread(fd, *ret, (size_t)len, 0), len);
	close(fd);
	return (size_t)len;
}

static size_t framed_mlx5(uint8_t *payload, size_t plen, char **ret)
{
	return framed(payload, plen, 0x15b3, 0x101e, "mlx5_vfio_pci", "mlx5", ret);
}

START_TEST(test_mlx5_inside_container)
{
	static uint8_t buf[8192];
	struct vfiomig_stream_summary sum;
	struct seen seen;
	size_t plen = mlx5_stream(buf);
	char *s;
	size_t len = framed_mlx5(buf, plen, &s);

	inspect(s, len, 0, NULL, &seen, &sum);
	ck_assert_msg(sum.valid, "%s", sum.problem);
	ck_assert_str_eq(seen.backend, "mlx5");
	ck_assert_int_eq(seen.vendor_records, 5);
	free(s);

	/* A vendor stream cut short inside its last record. */
	len = framed_mlx5(buf, plen - 3, &s);
	inspect(s, len, 0, NULL, &seen, &sum);
	ck_assert(!sum.valid);
	ck_assert_msg(strstr(sum.problem, "mlx5 record 4"), "%s", sum.problem);
	free(s);
}
END_TEST

/* An xe packet header (docs/xe.md), then @size bytes. */
static size_t xe_packet(uint8_t *p, uint8_t type, uint8_t tile, uint64_t size)
{
	memset(p, 0, 24 + size);
	p[0] = 1;
	p[1] = type;
	p[2] = tile;
	put_le64(p + 16, size);
	return 24 + size;
}

/* An xe VF's saved stream: its packets are read inside the DATA records. */
START_TEST(test_xe_inside_container)
{
	static uint8_t buf[8192];
	struct vfiomig_stream_summary sum;
	struct seen seen;
	size_t plen = xe_packet(buf, 1, 0, 8);
	char *s;
	size_t len;

	put_le32(buf + 24, 0xf001u << 16 | 1);
	put_le32(buf + 28, 0xe20b);
	plen += xe_packet(buf + plen, 3, 0, 64);
	plen += xe_packet(buf + plen, 6, 0, 4096);
	plen += xe_packet(buf + plen, 6, 1, 1000);
	plen += xe_packet(buf + plen, 2, 0, 0);
	len = framed(buf, plen, 0x8086, 0xe20b, "xe-vfio-pci", "xe", &s);
	inspect(s, len, 0, NULL, &seen, &sum);
	ck_assert_msg(sum.valid, "%s", sum.problem);
	ck_assert_str_eq(seen.backend, "xe");
	ck_assert_int_eq(seen.vendor_records, 5);
	free(s);

	/* Cut before its trailer. */
	len = framed(buf, plen - 24, 0x8086, 0xe20b, "xe-vfio-pci", "xe", &s);
	inspect(s, len, 0, NULL, &seen, &sum);
	ck_assert(!sum.valid);
	ck_assert_msg(strstr(sum.problem, "xe packet 4 at stream offset 5264: the stream ends "
			     "without a TRAILER"), "%s", sum.problem);
	free(s);

	/* A Battlemage VF's bytes under a Panther Lake VF's IDENTITY: no
	 * device loads them (the record's match the bytes' refusal). */
	len = framed(buf, plen, 0x8086, 0xb080, "xe-vfio-pci", "xe", &s);
	inspect(s, len, 0, NULL, &seen, &sum);
	ck_assert(!sum.valid);
	ck_assert_msg(strstr(sum.problem, "xe packet 0 (DESCRIPTOR) at stream offset 0: it names "
			     "PCI device ID 0xe20b, and the stream's IDENTITY record 0xb080"),
		      "%s", sum.problem);
	free(s);
}
END_TEST

/* Found by fuzzing: a container with no device must not pass as a stream. */
START_TEST(test_empty_container)
{
	struct vfiomig_stream_summary sum;
	struct vfiomig_load_opts lo = { .sz = sizeof(lo) };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dst;
	struct seen seen;
	int fd = memfd_create("e", MFD_CLOEXEC);
	struct stream_writer w = { .write = write_mem, .ctx = &fd };
	char buf[256];
	off_t len;

	ck_assert_int_eq(stream_writer_begin(&w), 0);
	ck_assert_int_eq(stream_writer_finish(&w), 0);
	stream_writer_free(&w);
	len = lseek(fd, 0, SEEK_CUR);
	ck_assert_int_eq(pread(fd, buf, (size_t)len, 0), len);
	inspect(buf, (size_t)len, 0, NULL, &seen, &sum);
	ck_assert(!sum.valid);
	ck_assert_str_eq(sum.problem, "the stream holds no device");

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	ck_assert_int_eq(vfiomig_dev_open(ctx, "mock:dst,size=1,state=stop", &dst), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(vfiomig_dev_load(dst, fd, &lo), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "no state"));
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
	close(fd);
}
END_TEST

START_TEST(test_arguments)
{
	struct vfiomig_stream_summary sum = { .sz = sizeof(sum) };
	struct vfiomig_ctx *ctx;
	int fd = memfd_of("x", 1);

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	ck_assert_int_eq(vfiomig_stream_inspect(ctx, fd, VFIOMIG_INSPECT_RAW, "qlogic", NULL, NULL, &sum),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "unknown backend"));
	ck_assert_int_eq(vfiomig_stream_inspect(ctx, fd, 4, NULL, NULL, NULL, &sum), -EINVAL);
	/* An older, shorter summary is filled as far as it goes (the sz rule);
	 * one that cannot hold even its sz is refused. */
	memset(&sum, 0xaa, sizeof(sum));
	sum.sz = offsetof(struct vfiomig_stream_summary, problem);
	ck_assert_int_eq(vfiomig_stream_inspect(ctx, fd, 0, NULL, NULL, NULL, &sum), 0);
	ck_assert_int_eq(sum.valid, 0);
	ck_assert_int_eq((unsigned char)sum.problem[0], 0xaa);
	sum.sz = 4;
	ck_assert_int_eq(vfiomig_stream_inspect(ctx, fd, 0, NULL, NULL, NULL, &sum), -EINVAL);
	sum.sz = sizeof(sum);
	ck_assert_int_eq(vfiomig_stream_inspect(ctx, -1, 0, NULL, NULL, NULL, &sum), -EINVAL);
	close(fd);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* What the SIGALRM handler of test_cancel raises. */
static struct vfiomig_cancel *alarm_cancel;

static void on_alarm(int sig)
{
	(void)sig;
	vfiomig_cancel_raise(alarm_cancel);
}

/*
 * ops.cancel stops an inspection: one raised before the call, and one
 * raised by a signal handler while the call waits for a pipe that never
 * ends (vfiomig-ctl inspect's Ctrl-C).
 */
START_TEST(test_cancel)
{
	struct vfiomig_stream_summary sum = { .sz = sizeof(sum) };
	struct vfiomig_inspect_ops o = ops;
	struct sigaction sa = { .sa_handler = on_alarm };
	struct vfiomig_ctx *ctx;
	struct seen seen = { 0 };
	int p[2];

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	ck_assert_int_eq(vfiomig_cancel_new(&alarm_cancel), 0);
	o.cancel = alarm_cancel;
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(write(p[1], "VFIOMIG", 7), 7);	/* a start, then nothing */

	ck_assert_int_eq(vfiomig_cancel_raise(alarm_cancel), 0);
	ck_assert_int_eq(vfiomig_stream_inspect(ctx, p[0], 0, NULL, &o, &seen, &sum), -ECANCELED);
	ck_assert_str_eq(vfiomig_ctx_get_error(ctx), "inspection cancelled");
	ck_assert_int_eq(vfiomig_cancel_clear(alarm_cancel), 0);

	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	alarm(1);
	ck_assert_int_eq(vfiomig_stream_inspect(ctx, p[0], VFIOMIG_INSPECT_RAW, NULL, &o, &seen,
						&sum), -ECANCELED);
	alarm(0);
	signal(SIGALRM, SIG_DFL);
	ck_assert_str_eq(vfiomig_ctx_get_error(ctx), "inspection cancelled");
	close(p[0]);
	close(p[1]);
	alarm_cancel = vfiomig_cancel_unref(alarm_cancel);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* A 1.0 stream's IDENTITY has five strings; 1.1 added the mdev type. */
START_TEST(test_identity_1_0)
{
	struct stream_identity id = { .mig_flags = 1 }, back;
	uint8_t buf[STREAM_IDENTITY_MAX];
	size_t n;

	snprintf(id.dev.driver, sizeof(id.dev.driver), "mtty");
	snprintf(id.dev.mdev_type, sizeof(id.dev.mdev_type), "mtty-2");
	n = stream_identity_encode(&id, buf, sizeof(buf));
	ck_assert_int_eq(stream_identity_decode(buf, n, &back), 0);
	ck_assert_str_eq(back.dev.mdev_type, "mtty-2");
	/* The same without its sixth string: what a 1.0 writer wrote. */
	ck_assert_int_eq(stream_identity_decode(buf, n - 2 - strlen("mtty-2"), &back), 0);
	ck_assert_str_eq(back.dev.mdev_type, "");
	ck_assert_str_eq(back.dev.driver, "mtty");
	/* Half a sixth string is damage, not an older writer. */
	ck_assert_int_eq(stream_identity_decode(buf, n - 1, &back), -EBADMSG);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("inspect");
	TCase *tc = tcase_create("inspect");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_valid_stream);
	tcase_add_test(tc, test_damaged_stream);
	tcase_add_test(tc, test_whole_input_described);
	tcase_add_test(tc, test_endless_input);
	tcase_add_test(tc, test_huge_sparse_file);
	tcase_add_test(tc, test_raw_of_a_stream);
	tcase_add_test(tc, test_mlx5_raw);
	tcase_add_test(tc, test_mlx5_refusals);
	tcase_add_test(tc, test_mlx5_any_split);
	tcase_add_test(tc, test_mlx5_inside_container);
	tcase_add_test(tc, test_xe_inside_container);
	tcase_add_test(tc, test_empty_container);
	tcase_add_test(tc, test_arguments);
	tcase_add_test(tc, test_identity_1_0);
	tcase_add_test(tc, test_cancel);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
