/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The mlx5 backend in the data path (docs/mlx5.md): the parser over
 * streams of every generation, split anywhere, and each refusal with its
 * exact words; which devices get it; a load that refuses a bad mlx5
 * record before the device sees it; the VENDOR_SUMMARY record of a save.
 * The streams are built by hand from the driver's format: the mock's own
 * bytes are not mlx5-framed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>

#include "test-mock.h"
#include "stream.h"
#include "vendor-mlx5.h"
#include "xfer.h"

#define GEN_6_9 VENDOR_KERNEL(6, 9)

struct outcome {
	int rc;
	uint64_t offset, records, problem_offset;
	char problem[256];
	struct mlx5_summary sum;
};

/* An mlx5 record: the driver's 16-byte header, then @len bytes of @fill. */
static size_t rec(uint8_t *p, uint64_t size, uint32_t flags, uint32_t tag, size_t len,
		  uint8_t fill)
{
	put_le64(p, size);
	put_le32(p + 8, flags);
	put_le32(p + 12, tag);
	memset(p + 16, fill, len);
	return 16 + len;
}

/* A 6.3+ stream: the size hint, an initial image, an empty one, the final one. */
static size_t tagged_stream(uint8_t *p)
{
	size_t n = rec(p, 8, 1, 1, 0, 0);

	put_le64(p + 16, 123456);
	n += 8;
	n += rec(p + n, 300, 0, 0, 300, 0x11);
	n += rec(p + n, 0, 0, 0, 0, 0);
	n += rec(p + n, 77, 0, 0, 77, 0x22);
	return n;
}

/* Feeds @p in pieces cut at @cuts (ascending, below @len), then finishes. */
static void parse_cut(const uint8_t *p, size_t len, const size_t *cuts, size_t ncuts,
		      uint32_t target, struct outcome *o)
{
	struct vendor_parser v;
	size_t off = 0;

	memset(o, 0, sizeof(*o));
	ck_assert_int_eq(vendor_parser_init(&v, vfiomig_vendor_find(NULL, "mlx5"), 0, NULL, NULL), 0);
	v.target_kernel = target;
	for (size_t i = 0; i <= ncuts && !o->rc; i++) {
		size_t end = i < ncuts ? cuts[i] : len;

		o->rc = v.ops->feed(&v, p + off, end - off);
		off = end;
	}
	if (!o->rc)
		o->rc = v.ops->finish(&v);
	ck_assert_int_eq(o->rc < 0, v.problem[0] != '\0');
	o->offset = v.offset;
	o->records = v.records;
	o->problem_offset = v.problem_offset;
	snprintf(o->problem, sizeof(o->problem), "%s", v.problem);
	mlx5_parser_summary(&v, &o->sum);
	vendor_parser_fini(&v);
}

static void parse(const uint8_t *p, size_t len, uint32_t target, struct outcome *o)
{
	parse_cut(p, len, NULL, 0, target, o);
}

START_TEST(test_generations)
{
	static uint8_t buf[4096];
	struct outcome o;
	size_t n = tagged_stream(buf);

	parse(buf, n, 0, &o);
	ck_assert_int_eq(o.rc, 0);
	ck_assert_uint_eq(o.offset, n);
	ck_assert_uint_eq(o.records, 4);
	ck_assert_int_eq(o.sum.generation, MLX5_GEN_TAGGED);
	ck_assert(o.sum.have_stop_copy_size);
	ck_assert_uint_eq(o.sum.stop_copy_size, 123456);
	ck_assert_uint_eq(o.sum.fw_records, 3);
	ck_assert_uint_eq(o.sum.fw_bytes, 377);

	/* 6.2's header is { size, 0, FW_DATA }: no hint, no optional record. */
	n = rec(buf, 500, 0, 0, 500, 0x33);
	n += rec(buf + n, 20, 0, 0, 20, 0x44);
	parse(buf, n, GEN_6_9, &o);
	ck_assert_int_eq(o.rc, 0);
	ck_assert_int_eq(o.sum.generation, MLX5_GEN_HEADER);
	ck_assert(!o.sum.have_stop_copy_size);
	ck_assert_uint_eq(o.sum.fw_records, 2);

	/* A bare image (5.18-6.1): its first bytes are no header. */
	memset(buf, 0xa5, 200);
	parse(buf, 200, VENDOR_KERNEL(6, 8), &o);
	ck_assert_int_eq(o.rc, 0);	/* 6.8 may read it: the kernel decides */
	ck_assert_int_eq(o.sum.generation, MLX5_GEN_HEADERLESS);
	ck_assert_uint_eq(o.offset, 200);
	parse(buf, 200, GEN_6_9, &o);
	ck_assert_int_eq(o.rc, -EPROTO);
	ck_assert_str_eq(o.problem, "mlx5 record 0: not an mlx5 record header (record size "
			 "over 4 GiB (the target refuses it with ENOMEM), tag 2779096485): a "
			 "headerless stream (Linux 5.18-6.1, or 6.2-6.8 on firmware without "
			 "pre-copy), which Linux 6.9+ cannot load (this kernel is 6.9)");
	parse(buf, 200, 0, &o);
	ck_assert_int_eq(o.rc, -EBADMSG);
	ck_assert_ptr_nonnull(strstr(o.problem, "or a headerless stream (Linux 5.18-6.1"));
	ck_assert_int_eq(o.sum.generation, MLX5_GEN_HEADERLESS);

	/* Flag bits no kernel sets: no header either. */
	n = rec(buf, 4, 0x100, 0, 4, 0);
	parse(buf, n, GEN_6_9, &o);
	ck_assert_int_eq(o.rc, -EPROTO);
	ck_assert_ptr_nonnull(strstr(o.problem, "flag bits no kernel sets"));

	/* Nothing at all is a valid, empty stream. */
	parse(buf, 0, GEN_6_9, &o);
	ck_assert_int_eq(o.rc, 0);
	ck_assert_int_eq(o.sum.generation, MLX5_GEN_NONE);
}
END_TEST

/* Every split point, and every pair of them, gives the one-piece verdict. */
START_TEST(test_every_split)
{
	static uint8_t buf[4096];
	size_t n = tagged_stream(buf);
	struct outcome whole, o;

	parse(buf, n, 0, &whole);
	for (size_t a = 0; a <= n; a++) {
		for (size_t b = a; b <= n; b += a < 64 ? 1 : 13) {
			size_t cuts[2] = { a, b };

			parse_cut(buf, n, cuts, 2, 0, &o);
			ck_assert_int_eq(o.rc, whole.rc);
			ck_assert_uint_eq(o.records, whole.records);
			ck_assert_uint_eq(o.sum.stop_copy_size, whole.sum.stop_copy_size);
			ck_assert_uint_eq(o.sum.fw_bytes, whole.sum.fw_bytes);
			ck_assert_int_eq(o.sum.generation, whole.sum.generation);
		}
	}
	/* A bad stream fails the same way, wherever it is cut. */
	n = rec(buf, 8, 1, 1, 8, 0);
	n += rec(buf + n, 4, 0, 9, 4, 0);
	parse(buf, n, 0, &whole);
	ck_assert_int_lt(whole.rc, 0);
	for (size_t a = 0; a <= n; a++) {
		parse_cut(buf, n, &a, 1, 0, &o);
		ck_assert_int_eq(o.rc, whole.rc);
		ck_assert_str_eq(o.problem, whole.problem);
		ck_assert_uint_eq(o.problem_offset, whole.problem_offset);
	}
}
END_TEST

/* Each refusal in the words the error carries; the bad record follows a good one. */
START_TEST(test_refusals)
{
	static uint8_t buf[4096];
	struct outcome o;
	size_t head = rec(buf, 8, 1, 1, 8, 0), n;

	n = head + rec(buf + head, 4, 0, 9, 4, 0);
	parse(buf, n, GEN_6_9, &o);
	ck_assert_int_eq(o.rc, -EPROTO);
	ck_assert_str_eq(o.problem, "mlx5 record 1: unknown mandatory tag (the target "
			 "refuses it with EOPNOTSUPP), tag 9");
	ck_assert_uint_eq(o.problem_offset, 24);

	n = head + rec(buf + head, 10, 1, 7, 10, 0);	/* unknown, optional: skipped */
	n += rec(buf + n, 5, 0, 0, 5, 0);
	parse(buf, n, GEN_6_9, &o);
	ck_assert_int_eq(o.rc, 0);
	ck_assert_uint_eq(o.sum.skipped, 1);
	ck_assert_uint_eq(o.sum.fw_records, 1);
	ck_assert_uint_eq(o.records, 3);

	n = head + rec(buf + head, 1ull << 32, 0, 0, 0, 0);
	parse(buf, n, GEN_6_9, &o);
	ck_assert_int_eq(o.rc, -EBADMSG);
	ck_assert_str_eq(o.problem, "mlx5 record 1: record size over 4 GiB (the target "
			 "refuses it with ENOMEM), tag 0");
	n = head + rec(buf + head, 0xffffffffull, 0, 0, 0, 0);	/* the largest it loads */
	parse_cut(buf, n, NULL, 0, GEN_6_9, &o);
	ck_assert_str_eq(o.problem, "mlx5 record 1: stream ends inside a record payload "
			 "(4294967295 bytes missing)");

	n = head + rec(buf + head, 4, 0, 1, 4, 0);
	parse(buf, n, GEN_6_9, &o);
	ck_assert_int_eq(o.rc, -EBADMSG);
	ck_assert_str_eq(o.problem, "mlx5 record 1: STOP_COPY_SIZE record is not 8 bytes, tag 1");

	n = head + rec(buf + head, 100, 0, 0, 100, 0);
	parse(buf, head + 5, GEN_6_9, &o);	/* cut inside the header */
	ck_assert_int_eq(o.rc, -EBADMSG);
	ck_assert_str_eq(o.problem, "mlx5 record 1: stream ends inside a record header "
			 "(5 of 16 bytes)");
	ck_assert_uint_eq(o.problem_offset, 24);
	parse(buf, n - 60, GEN_6_9, &o);	/* cut inside the payload */
	ck_assert_int_eq(o.rc, -EBADMSG);
	ck_assert_str_eq(o.problem, "mlx5 record 1: stream ends inside a record payload "
			 "(60 bytes missing)");
	ck_assert_uint_eq(o.problem_offset, 24);
}
END_TEST

START_TEST(test_match)
{
	struct vfiomig_identity id = { .has_pci_ids = true, .vendor = 0x15b3, .device = 0x101e };
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev;

	snprintf(id.driver, sizeof(id.driver), "mlx5_vfio_pci");
	ck_assert_str_eq(vfiomig_vendor_for(&id)->name, "mlx5");
	/* The same VF under vfio-pci migrates nothing of mlx5's. */
	snprintf(id.driver, sizeof(id.driver), "vfio-pci");
	ck_assert_str_eq(vfiomig_vendor_for(&id)->name, "generic");
	snprintf(id.driver, sizeof(id.driver), "mlx5_vfio_pci");
	id.device = 0x101d;
	ck_assert_str_eq(vfiomig_vendor_for(&id)->name, "generic");

	/* A mock pretending the identity is matched by it (mock.c keeps the
	 * mock backend for the mock's own bytes until its mlx5 personality). */
	dev = mock_open(ctx, "m,pci=15b3:101e,driver=mlx5_vfio_pci");
	ck_assert_str_eq(vfiomig_vendor_for(&dev->id)->name, "mlx5");
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);

	ck_assert_uint_eq(vendor_kernel_version("6.9.0-13-amd64"), VENDOR_KERNEL(6, 9));
	ck_assert_uint_eq(vendor_kernel_version("5.18"), VENDOR_KERNEL(5, 18));
	ck_assert_uint_eq(vendor_kernel_version("six"), 0);
}
END_TEST

static int write_fd(void *ctx, const void *a, size_t alen, const void *b, size_t blen)
{
	int fd = *(int *)ctx;

	ck_assert_int_eq(write(fd, a, alen), (ssize_t)alen);
	if (blen)
		ck_assert_int_eq(write(fd, b, blen), (ssize_t)blen);
	return 0;
}

/* A one-device container for @dev carrying @payload in one DATA record,
 * as tests/fuzz/make-seeds.c writes them; an fd at its start. */
static int container(struct vfiomig_dev *dev, const uint8_t *payload, size_t plen)
{
	struct stream_identity id;
	uint8_t idbuf[STREAM_IDENTITY_MAX], end[STREAM_DEVICE_END_SIZE] = { 0 };
	int fd = memfd_create("c", MFD_CLOEXEC);
	struct stream_writer w = { .write = write_fd, .ctx = &fd };
	size_t n;

	xfer_identity(dev, &id);
	n = stream_identity_encode(&id, idbuf, sizeof(idbuf));
	ck_assert_int_eq(stream_writer_begin(&w), 0);
	ck_assert_int_eq(stream_write_record(&w, STREAM_IDENTITY, 0, 0, idbuf, (uint32_t)n), 0);
	ck_assert_int_eq(stream_write_record(&w, STREAM_DATA_STOP_COPY, 0, 0, payload,
					     (uint32_t)plen), 0);
	put_le64(end, plen);
	ck_assert_int_eq(stream_write_record(&w, STREAM_DEVICE_END, 0, 0, end, sizeof(end)), 0);
	ck_assert_int_eq(stream_writer_finish(&w), 0);
	stream_writer_free(&w);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* A mock with mlx5's identity and, as a real one has, mlx5's backend. */
static struct vfiomig_dev *mlx5_mock(struct vfiomig_ctx *ctx)
{
	struct vfiomig_dev *dev = dev_open(ctx, "mock:m,pci=15b3:101e,driver=mlx5_vfio_pci");

	dev->backend = vfiomig_vendor_for(&dev->id);
	ck_assert_str_eq(vfiomig_dev_get_backend(dev), "mlx5");
	return dev;
}

/*
 * A bad mlx5 record inside an intact container is refused before the
 * device's first write: the mock, which checks its own header first,
 * would otherwise reject the bytes itself, in its own words.
 */
START_TEST(test_load_refused_before_device)
{
	static uint8_t buf[4096];
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mlx5_mock(ctx);
	struct vfiomig_stats st = { .sz = sizeof(st) };
	struct vfiomig_load_opts o = { .sz = sizeof(o), .stats = &st };
	enum vfiomig_state s;
	size_t n = rec(buf, 8, 1, 1, 8, 0);
	int fd, r;

	n += rec(buf + n, 4, 0, 9, 4, 0);
	fd = container(dev, buf, n);
	r = vfiomig_dev_load(dev, fd, &o);
	close(fd);
	ck_assert_int_eq(r, -EPROTO);
	ck_assert_msg(strstr(vfiomig_ctx_get_error(ctx), "was refused before the device saw it: "
			     "mlx5 record 1: unknown mandatory tag (the target refuses it with "
			     "EOPNOTSUPP), tag 9 (device byte 24)"), "%s", vfiomig_ctx_get_error(ctx));
	ck_assert_uint_eq(st.precopy_bytes + st.stop_copy_bytes, 0);
	ck_assert_uint_ne(st.error_offset, UINT64_MAX);
	/* The partial load was discarded: the device is stopped, not resuming. */
	ck_assert_int_eq(vfiomig_dev_get_state(dev, &s), 0);
	ck_assert_int_eq(s, VFIOMIG_STATE_STOP);

	/* A valid mlx5 stream passes the parser: the device sees it (and the
	 * mock, not speaking mlx5, rejects it in its own words). */
	n = tagged_stream(buf);
	fd = container(dev, buf, n);
	r = vfiomig_dev_load(dev, fd, &o);
	close(fd);
	ck_assert_int_lt(r, 0);
	ck_assert_msg(strstr(vfiomig_ctx_get_error(ctx), "the device rejected the stream's "
			     "first data"), "%s", vfiomig_ctx_get_error(ctx));
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

static ssize_t read_fd(void *ctx, void *buf, size_t len)
{
	return read(*(int *)ctx, buf, len);
}

/* A save of an mlx5 device carries its VENDOR_SUMMARY just before DEVICE_END. */
START_TEST(test_save_summary)
{
	static uint8_t buf[STREAM_READ_BUFFER];
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mlx5_mock(ctx);
	struct vfiomig_save_opts o = { .sz = sizeof(o) };
	int fd = memfd_create("s", MFD_CLOEXEC);
	struct stream_reader rd = { .read = read_fd, .ctx = &fd };
	struct stream_record r;
	uint16_t prev = 0;
	bool seen = false;

	ck_assert_int_eq(vfiomig_dev_save(dev, fd, &o), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(stream_reader_begin(&rd), 0);
	while (stream_read_record(&rd, &r, buf) > 0) {
		if (r.type == STREAM_DEVICE_END)
			ck_assert_uint_eq(prev, STREAM_VENDOR_SUMMARY);
		if (r.type == STREAM_VENDOR_SUMMARY) {
			seen = true;
			ck_assert_uint_eq(r.flags, STREAM_FLAG_OPTIONAL);
			ck_assert_uint_eq(r.length, STREAM_VENDOR_SUMMARY_SIZE);
			ck_assert_mem_eq(buf, "mlx5\0\0\0\0", 8);
			/* The mock's bytes are no mlx5 stream: named, and flagged. */
			ck_assert_uint_eq(get_le32(buf + 8), MLX5_GEN_HEADERLESS);
			ck_assert_uint_eq(get_le32(buf + 12), 2);
			ck_assert_uint_eq(get_le64(buf + 24) + get_le64(buf + 40), 0);
		}
		prev = r.type;
	}
	ck_assert(rd.done && seen);
	stream_reader_free(&rd);
	close(fd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* The VENDOR_SUMMARY payload of the stream in @fd, which must have one. */
static void read_summary(int fd, uint8_t *sum)
{
	static uint8_t buf[STREAM_READ_BUFFER];
	struct stream_reader rd = { .read = read_fd, .ctx = &fd };
	struct stream_record r;
	bool seen = false;

	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(stream_reader_begin(&rd), 0);
	while (stream_read_record(&rd, &r, buf) > 0) {
		if (r.type == STREAM_VENDOR_SUMMARY) {
			ck_assert_uint_eq(r.length, STREAM_VENDOR_SUMMARY_SIZE);
			memcpy(sum, buf, STREAM_VENDOR_SUMMARY_SIZE);
			seen = true;
		}
	}
	ck_assert(rd.done && seen);
	stream_reader_free(&rd);
}

/*
 * The mock's mlx5 personality frames its stream as the driver does: a
 * pre-copy save records both phases' FW_DATA, the load passes the parser,
 * and a stream cut inside a record is refused before RESUMING -> STOP.
 */
START_TEST(test_personality_round_trip)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *src = dev_open(ctx, "mock:src,personality=mlx5,size=256K,dirty=64K");
	struct vfiomig_dev *dst = dev_open(ctx, "mock:dst,personality=mlx5,size=256K,state=stop");
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = VFIOMIG_PRECOPY_MODE_ROUNDS,
					.precopy_rounds = 2 };
	uint8_t sum[STREAM_VENDOR_SUMMARY_SIZE];
	int fd = memfd_create("s", MFD_CLOEXEC);
	uint64_t image = 40 + 24 * 4 + (256u << 10) + 24;

	ck_assert_str_eq(vfiomig_dev_get_backend(src), "mlx5");
	ck_assert_int_eq(vfiomig_dev_save(src, fd, &so), 0);
	read_summary(fd, sum);
	ck_assert_uint_eq(get_le32(sum + 8), MLX5_GEN_TAGGED);
	ck_assert_uint_eq(get_le32(sum + 12), 1);	/* the hint, and it parsed */
	ck_assert_uint_eq(get_le64(sum + 16), image);
	ck_assert_uint_eq(get_le64(sum + 24), 2);	/* the initial image, one dirty round */
	ck_assert_uint_ge(get_le64(sum + 40), 1);	/* the final image */
	ck_assert_uint_gt(get_le64(sum + 32), image - 24);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_msg(vfiomig_dev_load(dst, fd, NULL) == 0, "%s", vfiomig_ctx_get_error(ctx));
	close(fd);

	/* The device's bytes alone (raw), cut 5 bytes short, re-framed. */
	fd = memfd_create("r", MFD_CLOEXEC);
	so = (struct vfiomig_save_opts){ .sz = sizeof(so), .flags = VFIOMIG_XFER_RAW };
	ck_assert_int_eq(vfiomig_dev_save(src, fd, &so), 0);
	{
		off_t len = lseek(fd, 0, SEEK_END);
		uint8_t *raw = malloc((size_t)len);
		int c;

		ck_assert_int_eq(pread(fd, raw, (size_t)len, 0), len);
		c = container(dst, raw, (size_t)len - 5);
		ck_assert_int_eq(vfiomig_dev_load(dst, c, NULL), -EBADMSG);
		ck_assert_msg(strstr(vfiomig_ctx_get_error(ctx), "the device's bytes end inside a "
				     "mlx5 record: mlx5 record"), "%s", vfiomig_ctx_get_error(ctx));
		ck_assert_msg(strstr(vfiomig_ctx_get_error(ctx), "stream ends inside a record "
				     "payload (5 bytes missing)"), "%s", vfiomig_ctx_get_error(ctx));
		close(c);
		free(raw);
	}
	close(fd);
	vfiomig_dev_unref(src);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* A group of two mlx5-personality mocks "PREFIX0", "PREFIX1" + @keys. */
static struct vfiomig_group *group_of(struct vfiomig_ctx *ctx, const char *prefix,
				      const char *keys, struct vfiomig_dev **dev)
{
	struct vfiomig_group *g;
	char spec[128];

	ck_assert_int_eq(vfiomig_group_new(ctx, 0, &g), 0);
	for (int i = 0; i < 2; i++) {
		snprintf(spec, sizeof(spec), "mock:%s%d,personality=mlx5%s", prefix, i, keys);
		dev[i] = dev_open(ctx, spec);
		ck_assert_int_eq(vfiomig_group_add(g, dev[i]), 0);
	}
	return g;
}

/*
 * A group: each member's save writes its own summary, each member's load
 * worker runs its own parser; a bad record of member 1 fails the load with
 * mlx5's words, and no member is left running with partial state.
 */
START_TEST(test_group)
{
	static uint8_t buf[STREAM_READ_BUFFER];
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *src[2], *dst[2];
	struct vfiomig_group *gs = group_of(ctx, "s", ",size=128K,dirty=64K", src);
	struct vfiomig_group *gd = group_of(ctx, "d", ",size=128K,state=stop", dst);
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = VFIOMIG_PRECOPY_MODE_ROUNDS,
					.precopy_rounds = 2 };
	int fd = memfd_create("g", MFD_CLOEXEC);
	struct stream_reader rd = { .read = read_fd, .ctx = &fd };
	struct stream_record r;
	unsigned int summaries = 0;
	struct stream_identity id;
	uint8_t idbuf[STREAM_IDENTITY_MAX], end[STREAM_DEVICE_END_SIZE] = { 0 }, bad[64];
	struct stream_writer w = { .write = write_fd, .ctx = &fd };
	enum vfiomig_state st;
	size_t n;

	ck_assert_msg(vfiomig_group_save(gs, &fd, 1, &so) == 0, "%s", vfiomig_ctx_get_error(ctx));
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(stream_reader_begin(&rd), 0);
	while (stream_read_record(&rd, &r, buf) > 0)
		if (r.type == STREAM_VENDOR_SUMMARY) {
			ck_assert_uint_eq(get_le32(buf + 8), MLX5_GEN_TAGGED);
			ck_assert_uint_eq(get_le32(buf + 12), 1);
			summaries |= 1u << r.device;
		}
	ck_assert_uint_eq(summaries, 3);
	stream_reader_free(&rd);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_msg(vfiomig_group_load(gd, &fd, 1, NULL) == 0, "%s", vfiomig_ctx_get_error(ctx));
	close(fd);

	/* By hand: both identities, member 1's data an unknown mandatory tag. */
	fd = memfd_create("b", MFD_CLOEXEC);
	n = rec(bad, 8, 1, 1, 8, 0);
	n += rec(bad + n, 4, 0, 9, 4, 0);
	ck_assert_int_eq(stream_writer_begin(&w), 0);
	for (uint32_t i = 0; i < 2; i++) {
		size_t len;

		xfer_identity(dst[i], &id);
		len = stream_identity_encode(&id, idbuf, sizeof(idbuf));
		ck_assert_int_eq(stream_write_record(&w, STREAM_IDENTITY, 0, i, idbuf,
						     (uint32_t)len), 0);
	}
	ck_assert_int_eq(stream_write_record(&w, STREAM_DATA_STOP_COPY, 0, 1, bad, (uint32_t)n), 0);
	ck_assert_int_eq(stream_write_record(&w, STREAM_DEVICE_END, 0, 0, end, sizeof(end)), 0);
	put_le64(end, n);
	ck_assert_int_eq(stream_write_record(&w, STREAM_DEVICE_END, 0, 1, end, sizeof(end)), 0);
	ck_assert_int_eq(stream_writer_finish(&w), 0);
	stream_writer_free(&w);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(vfiomig_group_load(gd, &fd, 1, NULL), -EPROTO);
	ck_assert_msg(strstr(vfiomig_ctx_get_error(ctx), "mlx5 record 1: unknown mandatory tag"),
		      "%s", vfiomig_ctx_get_error(ctx));
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(vfiomig_dev_get_state(dst[i], &st), 0);
		ck_assert_int_ne(st, VFIOMIG_STATE_RUNNING);
		ck_assert_int_ne(st, VFIOMIG_STATE_RESUMING);
	}
	close(fd);
	vfiomig_group_unref(gs);
	vfiomig_group_unref(gd);
	for (int i = 0; i < 2; i++) {
		vfiomig_dev_unref(src[i]);
		vfiomig_dev_unref(dst[i]);
	}
	vfiomig_ctx_unref(ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vendor-mlx5");
	TCase *tc = tcase_create("mlx5");

	tcase_add_test(tc, test_generations);
	tcase_add_test(tc, test_every_split);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_match);
	tcase_add_test(tc, test_load_refused_before_device);
	tcase_add_test(tc, test_save_summary);
	tcase_add_test(tc, test_personality_round_trip);
	tcase_add_test(tc, test_group);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
