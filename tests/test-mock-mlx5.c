// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * personality=mlx5: the mock's stream framed as mlx5_vfio_pci frames its
 * own (uAPI reference 5.2).  The saved bytes are checked with the
 * library's parser of that framing (lib/vendor/vendor-mlx5.c) and unwrapped into
 * the mock's own stream; the resume side must fail write() the way the
 * driver does.
 */
#define _GNU_SOURCE
#include <sys/mman.h>

#include "test-mock.h"
#include "util.h"
#include "vendor.h"
#include <vfiomig/migrate.h>

#define MAX_RECS 256

struct recs {
	int n;
	uint32_t tag[MAX_RECS];
	bool optional[MAX_RECS];
	uint64_t off[MAX_RECS], len[MAX_RECS];
};

static void on_record(void *userdata, const struct vfiomig_stream_record *rec)
{
	struct recs *r = userdata;

	ck_assert_int_lt(r->n, MAX_RECS);
	r->tag[r->n] = rec->type;
	r->optional[r->n] = rec->optional;
	r->off[r->n] = rec->offset;
	r->len[r->n] = rec->length;
	r->n++;
}

/* The library's mlx5 parser over @b, fed in @split-byte pieces. */
static void parse_mlx5(const struct blob *b, size_t split, struct recs *r)
{
	const struct vfiomig_vendor_ops *ops = vfiomig_vendor_find(NULL, "mlx5");
	struct vendor_parser p;

	memset(r, 0, sizeof(*r));
	ck_assert_ptr_nonnull(ops);
	ck_assert_int_eq(vendor_parser_init(&p, ops, 0, on_record, r), 0);
	for (size_t off = 0; off < b->len; off += split) {
		size_t n = b->len - off < split ? b->len - off : split;

		ck_assert_msg(ops->feed(&p, b->p + off, n) == 0, "%s", p.problem);
	}
	ck_assert_msg(ops->finish(&p) == 0, "%s", p.problem);
	ck_assert_uint_eq(p.offset, b->len);
	vendor_parser_fini(&p);
}

/* The FW_DATA payloads of records [@from, @to), concatenated. */
static void payload(const struct blob *b, const struct recs *r, int from, int to,
		    struct blob *out)
{
	for (int i = from; i < to; i++) {
		ck_assert_uint_eq(r->tag[i], MOCK_MLX5_FW_DATA);
		blob_add(out, b->p + r->off[i] + MOCK_MLX5_HDR, r->len[i]);
	}
}

static void check_size_record(const struct blob *b, const struct recs *r, uint64_t size)
{
	ck_assert_int_ge(r->n, 2);
	ck_assert_uint_eq(r->off[0], 0);
	ck_assert_uint_eq(r->tag[0], MOCK_MLX5_STOP_COPY_SIZE);
	ck_assert(r->optional[0]);
	ck_assert_uint_eq(r->len[0], 8);
	ck_assert_uint_eq(get_le64(b->p + 16), mock_stream_size(size));
}

/* A record header as the driver reads it. */
static void put_rec(uint8_t *h, uint64_t size, uint32_t flags, uint32_t tag)
{
	put_le64(h, size);
	put_le32(h + 8, flags);
	put_le32(h + 12, tag);
}

/* ---- save ---- */

START_TEST(test_plain_save)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	const uint64_t size = (3 << 20) + 1000;
	struct vfiomig_dev *src = mock_open(ctx, "a,size=3146728,state=STOP,personality=mlx5");
	struct vfiomig_dev *plain = mock_open(ctx, "a,size=3146728,state=STOP");
	struct vfiomig_dev *dst = mock_open(ctx, "b,size=3146728,state=STOP,personality=mlx5");
	struct vfio_device_feature_mig_data_size ds = { 0 };
	struct blob b = { 0 }, inner = { 0 }, own = { 0 }, again = { 0 };
	struct recs r;

	save_plain(src, &b);
	ck_assert_uint_eq(b.len, mock_mlx5_stream_size(size));
	ck_assert_int_eq(feature(src, FGET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &ds,
				 sizeof(ds)), 0);
	ck_assert_uint_eq(ds.stop_copy_length, b.len);

	/* any split parses; STOP_COPY_SIZE, then the image in 1 MiB chunks */
	parse_mlx5(&b, 7, &r);
	parse_mlx5(&b, b.len, &r);
	check_size_record(&b, &r, size);
	ck_assert_int_eq(r.n, 1 + 4);
	for (int i = 1; i < r.n; i++) {
		ck_assert(!r.optional[i]);
		ck_assert_uint_eq(r.len[i], i < r.n - 1 ? MOCK_MLX5_CHUNK :
				  mock_stream_size(size) - 3 * MOCK_MLX5_CHUNK);
	}
	/* inside: exactly the mock's own stream of that device */
	payload(&b, &r, 1, r.n, &inner);
	save_plain(plain, &own);
	ck_assert_uint_eq(inner.len, own.len);
	ck_assert_int_eq(memcmp(inner.p, own.p, own.len), 0);

	/* it loads back, every byte verified, in any write split */
	ck_assert_int_eq(load(dst, b.p, b.len, 65536), 0);
	ck_assert_int_eq(get_state(dst), S(STOP));
	save_plain(dst, &again);
	ck_assert_uint_eq(again.len, b.len);
	ck_assert_int_eq(memcmp(again.p, b.p, b.len), 0);
	ck_assert_int_eq(load(dst, b.p, b.len, 4093), 0);
	/* a flipped byte of the image: the content check refuses it */
	b.p[b.len / 2] ^= 1;
	ck_assert_int_eq(load(dst, b.p, b.len, 65536), -EINVAL);
	ck_assert_int_eq(get_state(dst), S(RESUMING));
	b.p[b.len / 2] ^= 1;
	ck_assert_int_eq(reset(dst), 0);

	free(b.p);
	free(inner.p);
	free(own.p);
	free(again.p);
	vfiomig_dev_unref(src);
	vfiomig_dev_unref(plain);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/*
 * Pre-copy: STOP_COPY_SIZE and the initial image at once, an incremental
 * record only after PRECOPY_INFO, the final image in chunks.
 */
START_TEST(test_precopy_order)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	const uint64_t size = 4 << 20, dirty = 2 << 20;
	struct vfiomig_dev *src = mock_open(ctx, "p,size=4M,dirty=2M,personality=mlx5");
	struct vfiomig_dev *dst = mock_open(ctx, "q,size=4M,state=STOP,personality=mlx5");
	const uint64_t image = mock_stream_size(size) - MOCK_SEG_SIZE;
	const uint64_t round = mock_run_bytes(size, 0, dirty / PAGE);
	struct blob b = { 0 };
	uint64_t initial, dirt;
	struct recs r;
	int fd;

	ck_assert_int_eq(set_state(src, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(precopy_info(src, fd, &initial, &dirt), 0);
	ck_assert_uint_eq(initial, 24 + 16 + image);	/* as the reference says */
	ck_assert_uint_eq(dirt, 0);
	ck_assert_int_eq(drain(src, fd, &b, 65536), -ENOMSG);
	ck_assert_uint_eq(b.len, 24 + 16 + image);
	/* no new data without PRECOPY_INFO */
	ck_assert_int_eq(drain(src, fd, &b, 65536), -ENOMSG);
	ck_assert_uint_eq(b.len, 24 + 16 + image);
	ck_assert_int_eq(precopy_info(src, fd, &initial, &dirt), 0);
	ck_assert_uint_eq(initial, 0);
	ck_assert_uint_eq(dirt, 16 + round);
	ck_assert_int_eq(drain(src, fd, &b, 65536), -ENOMSG);
	ck_assert_uint_eq(b.len, 24 + 16 + image + 16 + round);
	/* in PRE_COPY_P2P the FW is not queried: no new record */
	ck_assert_int_eq(set_nofd(src, S(PRE_COPY_P2P)), 0);
	ck_assert_int_eq(precopy_info(src, fd, &initial, &dirt), 0);
	ck_assert_uint_eq(dirt, 0);
	ck_assert_int_eq(drain(src, fd, &b, 65536), -ENOMSG);
	ck_assert_uint_eq(b.len, 24 + 16 + image + 16 + round);
	ck_assert_int_eq(set_nofd(src, S(STOP_COPY)), 0);
	ck_assert_int_eq(drain(src, fd, &b, 65536), 0);
	ck_assert_int_eq(set_nofd(src, S(STOP)), 0);
	close(fd);

	parse_mlx5(&b, 65536, &r);
	check_size_record(&b, &r, size);
	/* initial (one SAVE), one round (one SAVE), final: 2 MiB + end in 3 */
	ck_assert_int_eq(r.n, 1 + 1 + 1 + 3);
	ck_assert_uint_eq(r.off[1], 24);
	ck_assert_uint_eq(r.len[1], image);
	ck_assert_uint_eq(r.len[2], round);
	ck_assert_uint_eq(r.len[3], MOCK_MLX5_CHUNK);
	ck_assert_uint_eq(r.len[4], MOCK_MLX5_CHUNK);
	ck_assert_uint_eq(r.len[5], round + MOCK_SEG_SIZE - 2 * MOCK_MLX5_CHUNK);
	for (int i = 1; i < r.n; i++)
		ck_assert_uint_eq(r.tag[i], MOCK_MLX5_FW_DATA);

	ck_assert_int_eq(load(dst, b.p, b.len, 100000), 0);
	ck_assert_int_eq(get_state(dst), S(STOP));
	free(b.p);
	vfiomig_dev_unref(src);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- resume: where the driver's write() fails ---- */

/* RESUMING, then @n writes of @len[i] bytes of @p with the results expected. */
static void writes(struct vfiomig_dev *dev, const uint8_t *p, const size_t *len,
		   const ssize_t *want, int n)
{
	int fd;

	ck_assert_int_eq(set_state(dev, S(RESUMING), &fd), 0);
	for (int i = 0; i < n; i++) {
		ssize_t w = dev->transport->data_write(dev, fd, p, len[i]);

		ck_assert_msg(w == want[i], "write %d of %zu: %zd, not %zd", i, len[i], w,
			      want[i]);
		p += len[i];
	}
	/* the mock refuses what never loaded; a reset recovers */
	ck_assert_int_eq(set_nofd(dev, S(STOP)), -EINVAL);
	ck_assert_int_eq(get_state(dev), S(RESUMING));
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	close(fd);
}

START_TEST(test_write_errors)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *src = mock_open(ctx, "e,size=200K,state=STOP,personality=mlx5");
	struct vfiomig_dev *plain = mock_open(ctx, "e,size=200K,state=STOP");
	struct vfiomig_dev *dst = mock_open(ctx, "f,size=200K,state=STOP,personality=mlx5");
	struct blob b = { 0 }, s = { 0 }, own = { 0 };
	uint8_t rec[24] = { 0 };

	save_plain(src, &b);

	/* an unknown mandatory tag fails its write, and every write after */
	blob_add(&s, b.p, 24);
	put_rec(rec, 8, 0, 7);
	blob_add(&s, rec, 24);
	blob_add(&s, b.p + 24, b.len - 24);
	{
		const size_t len[] = { 24, 24, 100, 1 };
		const ssize_t want[] = { 24, -EOPNOTSUPP, -ENODEV, -ENODEV };

		writes(dst, s.p, len, want, 4);
	}
	/* one byte at a time: the byte that completes the header fails */
	{
		size_t len[24 + 16 + 1];
		ssize_t want[24 + 16 + 1];

		for (int i = 0; i < 41; i++) {
			len[i] = 1;
			want[i] = i < 39 ? 1 : i == 39 ? -EOPNOTSUPP : -ENODEV;
		}
		writes(dst, s.p, len, want, 41);
	}

	/* unknown optional tags are skipped: first, between records, last */
	s.len = 0;
	put_rec(rec, 8, MOCK_MLX5_OPTIONAL, 7);
	blob_add(&s, rec, 24);
	blob_add(&s, b.p, 24);
	put_rec(rec, 0, MOCK_MLX5_OPTIONAL, 0x1234);
	blob_add(&s, rec, 16);
	blob_add(&s, b.p + 24, b.len - 24);
	put_rec(rec, 3, MOCK_MLX5_OPTIONAL | 2, 0xffffffffu);
	blob_add(&s, rec, 16 + 3);
	ck_assert_int_eq(load(dst, s.p, s.len, 3000), 0);
	ck_assert_int_eq(load(dst, s.p, s.len, 1), 0);
	/* a record over 2^32 - 1 bytes: ENOMEM, then ENODEV */
	s.len = 0;
	blob_add(&s, b.p, 24);
	put_rec(rec, 1ull << 32, 0, MOCK_MLX5_FW_DATA);
	blob_add(&s, rec, 16);
	{
		const size_t len[] = { 30, 10, 1 };
		const ssize_t want[] = { 30, -ENOMEM, -ENODEV };

		writes(dst, s.p, len, want, 3);
	}
	/* 2^32 - 1 is allowed (the stream is then truncated) */
	put_rec(s.p + 24, 0xffffffffull, 0, MOCK_MLX5_FW_DATA);
	{
		const size_t len[] = { 40 };
		const ssize_t want[] = { 40 };

		writes(dst, s.p, len, want, 1);
	}

	/* the mock's own stream is no mlx5 one: "VFIOMOCK" is a huge size */
	save_plain(plain, &own);
	{
		const size_t len[] = { 4096, 4096 };
		const ssize_t want[] = { -ENOMEM, -ENODEV };

		writes(dst, own.p, len, want, 2);
	}
	/* and an mlx5 stream is no mock one (mtty-like EFAULT on its header) */
	ck_assert_int_eq(load(plain, b.p, b.len, 65536), -EFAULT);
	ck_assert_int_eq(reset(plain), 0);

	/* a FW_DATA payload that is not this device's image: refused at STOP */
	b.p[24 + 16 + 24] ^= 0xff;	/* the header's size field */
	ck_assert_int_eq(load(dst, b.p, b.len, 65536), -EINVAL);
	b.p[24 + 16 + 24] ^= 0xff;
	ck_assert_int_eq(reset(dst), 0);
	/* truncated inside a record */
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	ck_assert_int_eq(load(dst, b.p, b.len - 1, 65536), -EINVAL);
	ck_assert_int_eq(reset(dst), 0);

	free(b.p);
	free(s.p);
	free(own.p);
	vfiomig_dev_unref(src);
	vfiomig_dev_unref(plain);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* Bytes written to the fd directly meet the same rules, in the pump. */
START_TEST(test_direct_write)
{
	struct arcs a = { 0 };
	struct vfiomig_ctx *ctx = new_ctx(&a);
	struct vfiomig_dev *src = mock_open(ctx, "g,size=100K,state=STOP,personality=mlx5");
	struct vfiomig_dev *dst = mock_open(ctx, "h,size=100K,state=STOP,personality=mlx5");
	struct blob b = { 0 };
	uint8_t rec[16];
	int fd;

	save_plain(src, &b);
	ck_assert_int_eq(set_state(dst, S(RESUMING), &fd), 0);
	ck_assert_int_eq(write(fd, b.p, 24), 24);
	put_rec(rec, 4, 0, 9);
	ck_assert_int_eq(write(fd, rec, 16), 16);
	ck_assert_int_eq(write(fd, b.p + 24, b.len - 24), (ssize_t)(b.len - 24));
	ck_assert_int_eq(set_nofd(dst, S(STOP)), -EINVAL);
	ck_assert_msg(strstr(a.last, "unknown mandatory tag"), "%s", a.last);
	ck_assert_int_eq(reset(dst), 0);
	close(fd);

	/* and a good stream written directly loads */
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	ck_assert_int_eq(set_state(dst, S(RESUMING), &fd), 0);
	ck_assert_int_eq(write(fd, b.p, b.len), (ssize_t)b.len);
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	close(fd);
	free(b.p);
	vfiomig_dev_unref(src);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- end to end: the library's save and load ---- */

START_TEST(test_dev_save_load)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *src = dev_open(ctx, "mock:s,size=3M,dirty=256K,personality=mlx5");
	struct vfiomig_dev *dst = dev_open(ctx, "mock:t,size=3M,state=stop,personality=mlx5");
	struct blob a = { 0 }, c = { 0 };
	int fd = memfd_create("mlx5-stream", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_str_eq(vfiomig_dev_get_backend(src), "mlx5");
	ck_assert_int_eq(vfiomig_dev_save(src, fd, NULL), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(vfiomig_dev_load(dst, fd, NULL), 0);
	close(fd);

	/* the same device state: a plain save of each gives the same bytes */
	ck_assert_int_eq(set_nofd(src, S(STOP)), 0);
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	save_plain(src, &a);
	save_plain(dst, &c);
	ck_assert_uint_eq(a.len, c.len);
	ck_assert_int_eq(memcmp(a.p, c.p, a.len), 0);
	free(a.p);
	free(c.p);
	vfiomig_dev_unref(src);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mock-mlx5");
	TCase *tc = tcase_create("mlx5");

	tcase_add_test(tc, test_plain_save);
	tcase_add_test(tc, test_precopy_order);
	tcase_add_test(tc, test_write_errors);
	tcase_add_test(tc, test_direct_write);
	tcase_add_test(tc, test_dev_save_load);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
