// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer harness: vfiomig_stream_inspect() (lib/xfer/inspect.c), which
 * verifies and describes an untrusted saved stream without a device, and
 * the vendor record parsers behind it (lib/vendor/vendor.c, lib/vendor/vendor-mlx5.c).
 *
 * Input: one configuration byte, then the stream.
 *   bit 0     raw mode (VFIOMIG_INSPECT_RAW): a bare vendor stream
 *   bits 1-2  raw backend: 0 NULL (generic), 1 "generic", 2 and 3 "mlx5"
 *   bit 3     no callbacks (ops NULL)
 *   bits 4-6  framed: the stream repairs of fuzz-fixup.h;
 *             raw: how the vendor stream is split when it is fed to the
 *             backend directly (fuzz-common.h)
 *   bit 7     unused
 *
 * In raw mode the backend is also fed directly, split as configured, and
 * must report the same records and the same problem as inspection did
 * with the stream in one piece: a vendor parser accepts any split.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vfiomig/mock.h>
#include <vfiomig/vfiomig.h>

#include "fuzz-common.h"
#include "fuzz-fixup.h"
#include "stream.h"
#include "vendor.h"

#define CFG_RAW 0x01u
#define CFG_BACKEND(c) (((c) >> 1) & 3u)
#define CFG_NO_OPS 0x08u
#define CFG_RAW_SPLIT(c) (((c) >> 4) & 7u)

/* What the callbacks saw. */
struct seen {
	size_t size;		/* of the stream */
	bool raw;
	uint64_t records, vendor_records, identities;
	uint64_t last_offset;	/* of the last container record */
	bool any;
	uint64_t digest;	/* of the vendor records, in order */
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h;
}

static void check_string(const char *s)
{
	FUZZ_CHECK(s && memchr(s, '\0', STREAM_STRING_MAX + 1));
}

static void on_identity(void *data, uint32_t device, const struct vfiomig_stream_identity *id)
{
	struct seen *s = data;

	FUZZ_CHECK(!s->raw && device < 64);
	FUZZ_CHECK(id->has_pci_ids == 0 || id->has_pci_ids == 1);
	check_string(id->name);
	check_string(id->driver);
	check_string(id->backend);
	check_string(id->kernel);
	check_string(id->library);
	s->identities++;
}

static void on_record(void *data, const struct vfiomig_stream_record *rec)
{
	struct seen *s = data;

	FUZZ_CHECK(rec->kind && rec->kind[0]);
	FUZZ_CHECK(rec->optional == 0 || rec->optional == 1);
	/* A backend's record: its kind starts with the backend's name. */
	if (strncmp(rec->kind, "mlx5 ", 5) == 0 || strncmp(rec->kind, "mock ", 5) == 0) {
		/* A vendor record: its offset is in the device's own stream. */
		FUZZ_CHECK(rec->length <= 0xffffffffull);
		s->vendor_records++;
		s->digest = mix(mix(mix(mix(s->digest, rec->type), rec->offset), rec->length),
				(uint64_t)rec->optional << 32 | rec->device);
		return;
	}
	/* A container record: whole, in order, within the stream. */
	FUZZ_CHECK(!s->raw);
	FUZZ_CHECK(rec->length <= STREAM_MAX_PAYLOAD);
	FUZZ_CHECK(rec->offset >= STREAM_PREAMBLE_SIZE && rec->offset + STREAM_HEADER_SIZE +
		   rec->length <= s->size);
	FUZZ_CHECK(!s->any || rec->offset > s->last_offset);
	s->any = true;
	s->last_offset = rec->offset;
	s->records++;
}

static const struct vfiomig_inspect_ops ops = {
	.sz = sizeof(ops), .identity = on_identity, .record = on_record,
};

static int memfd_of(const uint8_t *p, size_t len)
{
	static int fd = -1;

	if (fd < 0) {
		fd = memfd_create("fuzz-inspect", MFD_CLOEXEC);
		FUZZ_CHECK(fd >= 0);
	}
	FUZZ_CHECK(ftruncate(fd, 0) == 0);
	FUZZ_CHECK(pwrite(fd, p, len, 0) == (ssize_t)len);
	FUZZ_CHECK(lseek(fd, 0, SEEK_SET) == 0);
	return fd;
}

/* The backend fed directly, in pieces, as inspect_raw() drives it. */
static void vendor_direct(const struct vfiomig_vendor_ops *vendor, const uint8_t *p, size_t len,
			  unsigned int split, const struct vfiomig_stream_summary *sum,
			  const struct seen *whole, bool called_back)
{
	struct seen s = { .size = len, .raw = true };
	struct vendor_parser v;
	struct splitter sp;
	size_t fed = 0;
	int r = 0;

	FUZZ_CHECK(vendor_parser_init(&v, vendor, 0, on_record, &s) == 0);
	splitter_init(&sp, split);
	while (fed < len && r == 0) {
		size_t n = splitter_next(&sp, len - fed);
		uint64_t before = v.offset;

		r = vendor->feed(&v, p + fed, n);
		FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -EPROTO);
		/* A failure always says what and where. */
		FUZZ_CHECK((r < 0) == (v.problem[0] != '\0'));
		FUZZ_CHECK(r < 0 ? v.offset <= before + n : v.offset == before + n);
		fed += n;
	}
	if (r == 0) {
		r = vendor->finish(&v);
		FUZZ_CHECK(r == 0 || r == -EBADMSG);
		FUZZ_CHECK((r < 0) == (v.problem[0] != '\0'));
	}
	if (r < 0)
		FUZZ_CHECK(v.problem_offset <= v.offset && memchr(v.problem, '\0', sizeof(v.problem)));
	/* Inspection read the stream in one piece; the split must not matter. */
	if (v.records != sum->records || v.problem_offset != (r < 0 ? sum->problem_offset : UINT64_MAX) ||
	    strcmp(v.problem, sum->problem) != 0 ||
	    (called_back && (s.digest != whole->digest ||
			     s.vendor_records != whole->vendor_records))) {
		fprintf(stderr, "split %u: %llu records, \"%s\" at %llu\n"
			"whole:   %llu records, \"%s\" at %llu\n", split,
			(unsigned long long)v.records, v.problem, (unsigned long long)v.problem_offset,
			(unsigned long long)sum->records, sum->problem,
			(unsigned long long)sum->problem_offset);
		FUZZ_CHECK(!"the vendor parser depends on how its input is split");
	}
	vendor_parser_fini(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const backends[] = { NULL, "generic", "mlx5", "mlx5" };
	static struct vfiomig_ctx *ctx;
	struct vfiomig_stream_summary sum = { .sz = sizeof(sum) };
	struct seen seen;
	unsigned int cfg;
	bool raw;
	uint8_t *s;
	int r;

	if (size < 1)
		return 0;
	if (!ctx)
		FUZZ_CHECK(vfiomig_ctx_new(&ctx) == 0 && vfiomig_mock_attach(ctx) == 0);
	cfg = data[0];
	data++;
	size--;
	raw = cfg & CFG_RAW;
	s = malloc(size ? size : 1);
	FUZZ_CHECK(s);
	if (size)
		memcpy(s, data, size);
	if (!raw)
		stream_fix_up(s, size, cfg);
	seen = (struct seen){ .size = size, .raw = raw };

	r = vfiomig_stream_inspect(ctx, memfd_of(s, size), raw ? VFIOMIG_INSPECT_RAW : 0,
				   raw ? backends[CFG_BACKEND(cfg)] : NULL,
				   cfg & CFG_NO_OPS ? NULL : &ops, &seen, &sum);
	if (fuzz_verbose())
		fprintf(stderr, "config 0x%02x: %d, %s, %llu records, %u devices: %s (at %llu)\n",
			cfg, r, sum.valid ? "valid" : "invalid", (unsigned long long)sum.records,
			sum.devices, sum.problem, (unsigned long long)sum.problem_offset);
	/* A damaged stream is a verdict, never a failure of the call. */
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(sum.sz == sizeof(sum));
	FUZZ_CHECK(memchr(sum.problem, '\0', sizeof(sum.problem)));
	FUZZ_CHECK(memchr(sum.backend, '\0', sizeof(sum.backend)));
	FUZZ_CHECK(sum.valid == !sum.problem[0]);
	FUZZ_CHECK(sum.valid ? sum.problem_offset == UINT64_MAX : sum.problem_offset <= size);
	/* A memfd is a regular file: its size, whether or not it was read to the end. */
	FUZZ_CHECK(sum.bytes_whole && sum.bytes == size && sum.devices <= 64);
	FUZZ_CHECK(!sum.begins_as_stream || (raw && size >= 8 && !memcmp(s, "VFIOMIG\n", 8)));
	if (raw) {
		FUZZ_CHECK(sum.version_major == 0 && sum.devices == 1);
		FUZZ_CHECK(strcmp(sum.backend, backends[CFG_BACKEND(cfg)] ?
				  backends[CFG_BACKEND(cfg)] : "generic") == 0);
		if (sum.valid)
			FUZZ_CHECK(sum.bytes == size);
		if (!(cfg & CFG_NO_OPS))
			FUZZ_CHECK(seen.vendor_records == sum.records);
		vendor_direct(vfiomig_vendor_find(ctx, sum.backend), s, size, CFG_RAW_SPLIT(cfg), &sum,
			      &seen, !(cfg & CFG_NO_OPS));
	} else {
		/* A valid stream is of this major version; an invalid input
		 * reports what its preamble says, or 0 for no stream at all. */
		FUZZ_CHECK(sum.version_major == STREAM_VERSION_MAJOR || !sum.valid);
		FUZZ_CHECK(sum.backend[0] == '\0');
		if (sum.valid) {
			/* Everything read, every record reported, the trailer too. */
			FUZZ_CHECK(sum.bytes == size);
			if (!(cfg & CFG_NO_OPS))
				FUZZ_CHECK(seen.records == sum.records &&
					   seen.identities == sum.devices);
		}
	}
	free(s);
	return 0;
}
