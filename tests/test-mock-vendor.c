// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The mock's stream as a vendor backend (mock/vendor-mock.c): real streams
 * read from mock devices, fed in any split, and damaged ones, each of
 * which must be refused with what and where.
 */
#define _GNU_SOURCE
#include <sys/mman.h>

#include "test-mock.h"
#include "vendor.h"

#define MAX_RECORDS 64

/* What a parse reported. */
struct outcome {
	int rc;
	uint64_t offset, records, problem_offset;
	char problem[256];
	unsigned int n;
	struct vfiomig_stream_record rec[MAX_RECORDS];
};

static void on_record(void *userdata, const struct vfiomig_stream_record *rec)
{
	struct outcome *o = userdata;

	if (o->n < MAX_RECORDS)
		o->rec[o->n++] = *rec;
}

/* Pieces of 1 .. @max bytes from a xorshift seeded with @seed; 0: all at once. */
static size_t piece(uint64_t *state, size_t max, size_t left)
{
	size_t n;

	if (!max)
		return left;
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	n = 1 + (size_t)(*state % max);
	return n < left ? n : left;
}

/* The mock backend over @p, in pieces of at most @max bytes. */
static void parse(const uint8_t *p, size_t len, size_t max, uint64_t seed,
		  struct outcome *o)
{
	const struct vfiomig_vendor_ops *ops = &vfiomig_vendor_mock;
	struct vendor_parser v;
	uint64_t state = seed | 1;
	size_t off = 0;

	memset(o, 0, sizeof(*o));
	ck_assert_ptr_nonnull(ops);
	ck_assert_int_eq(vendor_parser_init(&v, ops, 3, on_record, o), 0);
	while (off < len && !o->rc) {
		size_t n = piece(&state, max, len - off);

		o->rc = ops->feed(&v, p + off, n);
		off += n;
	}
	if (!o->rc)
		o->rc = ops->finish(&v);
	ck_assert_int_eq(o->rc < 0, v.problem[0] != '\0');
	o->offset = v.offset;
	o->records = v.records;
	o->problem_offset = v.problem_offset;
	snprintf(o->problem, sizeof(o->problem), "%s", v.problem);
	vendor_parser_fini(&v);
}

/*
 * A real stream: a pre-copy save of @spec with @rounds dirty rounds read
 * through the mock's data fd, then its final round and end.
 */
static void precopy_save(const char *spec, int rounds, struct blob *b)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, spec);
	uint64_t ib, db;
	int fd;

	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(drain(dev, fd, b, 4096), -ENOMSG);
	for (int i = 0; i < rounds; i++) {
		ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
		ck_assert_int_eq(drain(dev, fd, b, 4096), -ENOMSG);
	}
	ck_assert_int_eq(set_nofd(dev, S(STOP_COPY)), 0);
	ck_assert_int_eq(drain(dev, fd, b, 4096), 0);
	close(fd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

static void plain_save(const char *spec, struct blob *b)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, spec);

	save_plain(dev, b);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

static bool same(const struct outcome *a, const struct outcome *b)
{
	if (a->rc != b->rc || a->offset != b->offset || a->records != b->records ||
	    a->problem_offset != b->problem_offset || strcmp(a->problem, b->problem) ||
	    a->n != b->n)
		return false;
	for (unsigned int i = 0; i < a->n; i++)
		if (strcmp(a->rec[i].kind, b->rec[i].kind) || a->rec[i].type != b->rec[i].type ||
		    a->rec[i].offset != b->rec[i].offset || a->rec[i].length != b->rec[i].length)
			return false;
	return true;
}

/* 200K: pages of 64K, 64K, 64K, 8K; dirty=64K dirties one page a round. */
START_TEST(test_records)
{
	static const uint64_t page_len[4] = { PAGE, PAGE, PAGE, 8 << 10 };
	struct blob b = { 0 };
	struct outcome o;
	uint64_t at = 0;

	precopy_save("vr,size=200K,dirty=64K", 2, &b);
	parse(b.p, b.len, 0, 0, &o);
	ck_assert_msg(o.rc == 0, "%s", o.problem);
	ck_assert_uint_eq(o.offset, b.len);
	ck_assert_uint_eq(o.problem_offset, UINT64_MAX);
	/* header, the initial image, two rounds, the final round, the end */
	ck_assert_uint_eq(o.records, 1 + 4 + 3 + 1);
	ck_assert_uint_eq(o.n, o.records);
	for (unsigned int i = 0; i < o.n; i++) {
		const struct vfiomig_stream_record *r = &o.rec[i];
		const char *kind = i == 0 ? "mock HEADER" : i == o.n - 1 ? "mock END" : "mock PAGE";

		ck_assert_str_eq(r->kind, kind);
		ck_assert_uint_eq(r->offset, at);	/* every byte is in a record */
		ck_assert_uint_eq(r->device, 3);
		ck_assert_int_eq(r->optional, 0);
		if (i == 0) {
			ck_assert_uint_eq(r->type, 0);
			ck_assert_uint_eq(r->length, 0);
			at += MOCK_HDR_SIZE;
		} else if (i == o.n - 1) {
			ck_assert_uint_eq(r->type, MOCK_SEG_END);
			ck_assert_uint_eq(r->length, 0);
			at += MOCK_SEG_SIZE;
		} else {
			/* the initial image in order, then pages 0, 1, 2 */
			uint64_t page = i <= 4 ? i - 1 : i - 5;

			ck_assert_uint_eq(r->type, MOCK_SEG_PAGE);
			ck_assert_uint_eq(r->length, page_len[page]);
			at += MOCK_SEG_SIZE + r->length;
		}
	}
	ck_assert_uint_eq(at, b.len);
	free(b.p);
}
END_TEST

START_TEST(test_any_split)
{
	static const size_t max[] = { 1, 3, 24, 41, 1000, 70000 };
	struct blob b = { 0 };
	struct outcome whole, split;

	precopy_save("vs,size=300001,dirty=100K", 3, &b);
	parse(b.p, b.len, 0, 0, &whole);
	ck_assert_msg(whole.rc == 0, "%s", whole.problem);
	for (size_t i = 0; i < ARRAY_SIZE(max); i++) {
		for (uint64_t seed = 1; seed <= (max[i] == 1 ? 1 : 20); seed++) {
			parse(b.p, b.len, max[i], seed, &split);
			ck_assert_msg(same(&whole, &split), "pieces of up to %zu (seed %llu): "
				      "%d \"%s\"", max[i], (unsigned long long)seed, split.rc,
				      split.problem);
		}
	}
	/* damaged, the verdict does not depend on the split either */
	b.p[b.len / 2] ^= 0x40;
	parse(b.p, b.len, 0, 0, &whole);
	ck_assert_int_eq(whole.rc, -EBADMSG);
	for (uint64_t seed = 1; seed <= 20; seed++) {
		parse(b.p, b.len, 5000, seed, &split);
		ck_assert_msg(same(&whole, &split), "seed %llu: \"%s\" at %llu, not \"%s\" at %llu",
			      (unsigned long long)seed, split.problem,
			      (unsigned long long)split.problem_offset, whole.problem,
			      (unsigned long long)whole.problem_offset);
	}
	free(b.p);
}
END_TEST

/*
 * Every byte counts: the header's check word, the segment fields that the
 * content depends on, the content and the end's counts.  So any flipped
 * byte is refused, at or before it, a content byte exactly at it, and a
 * segment's generation in the content it generates.
 */
START_TEST(test_every_byte)
{
	struct blob b = { 0 };
	struct outcome o;
	size_t content = MOCK_HDR_SIZE + MOCK_SEG_SIZE;

	plain_save("vb,size=5000,state=STOP", &b);
	ck_assert_uint_eq(b.len, MOCK_HDR_SIZE + MOCK_SEG_SIZE + 5000 + MOCK_SEG_SIZE);
	for (size_t at = 0; at < b.len; at++) {
		for (unsigned int bit = 0; bit < 8; bit += 7) {
			b.p[at] ^= 1u << bit;
			parse(b.p, b.len, 0, 0, &o);
			b.p[at] ^= 1u << bit;
			ck_assert_msg(o.rc == -EBADMSG || o.rc == -EPROTO,
				      "bit %u of byte %zu: %d", bit, at, o.rc);
			ck_assert_msg(!strncmp(o.problem, "mock record ", 12), "%s", o.problem);
			if (at >= MOCK_HDR_SIZE + 4 && at < MOCK_HDR_SIZE + 8) {
				ck_assert_uint_ge(o.problem_offset, content);
				ck_assert_uint_lt(o.problem_offset, content + 5000);
			} else if (at >= content && at < content + 5000) {
				ck_assert_uint_eq(o.problem_offset, at);
			} else {
				ck_assert_uint_le(o.problem_offset, at);
			}
		}
	}
	free(b.p);
}
END_TEST

/* Feeds @p and expects @err with @says in the problem, found at @at. */
static void refused(const uint8_t *p, size_t len, int err, const char *says, uint64_t at)
{
	struct outcome o;

	parse(p, len, 0, 0, &o);
	ck_assert_msg(o.rc == err, "\"%s\": %d, expected %d", says, o.rc, err);
	ck_assert_msg(strstr(o.problem, says), "\"%s\" lacks \"%s\"", o.problem, says);
	ck_assert_uint_eq(o.problem_offset, at);
}

START_TEST(test_malformed)
{
	struct blob b = { 0 };
	size_t end;

	plain_save("vm,size=1,state=STOP", &b);
	end = b.len - MOCK_SEG_SIZE;
	ck_assert_uint_eq(end, MOCK_HDR_SIZE + MOCK_SEG_SIZE + 1);

	b.p[1] ^= 1;
	refused(b.p, b.len, -EBADMSG, "magic", 0);
	b.p[1] ^= 1;
	b.p[13] ^= 1;	/* mig_flags: only the check word sees it */
	refused(b.p, b.len, -EBADMSG, "check word", 0);
	b.p[13] ^= 1;
	/* another version, with the check word made right for it */
	put_le32(b.p + 8, 2);
	put_le32(b.p + 36, mock_header_check(b.p));
	refused(b.p, b.len, -EPROTO, "version 2", 0);
	put_le32(b.p + 8, MOCK_VERSION);
	put_le32(b.p + 36, mock_header_check(b.p));
	/* a device the mock cannot have */
	put_le64(b.p + 24, MOCK_SIZE_MAX + 1);
	put_le32(b.p + 36, mock_header_check(b.p));
	refused(b.p, b.len, -EBADMSG, "-byte device", 0);
	put_le64(b.p + 24, 1);
	put_le32(b.p + 36, mock_header_check(b.p));

	/* a segment beyond the 1-byte device, or of the wrong length */
	put_le64(b.p + MOCK_HDR_SIZE + 8, PAGE);
	refused(b.p, b.len, -EBADMSG, "not a page of this device", MOCK_HDR_SIZE);
	put_le64(b.p + MOCK_HDR_SIZE + 8, 0);
	put_le64(b.p + MOCK_HDR_SIZE + 16, 2);
	refused(b.p, b.len, -EBADMSG, "has length 2", MOCK_HDR_SIZE);
	put_le64(b.p + MOCK_HDR_SIZE + 16, 1);
	put_le32(b.p + MOCK_HDR_SIZE, 0x12345678);
	refused(b.p, b.len, -EBADMSG, "segment magic", MOCK_HDR_SIZE);
	put_le32(b.p + MOCK_HDR_SIZE, MOCK_SEG_PAGE);

	/* the end's counts */
	put_le64(b.p + end + 8, 2);
	refused(b.p, b.len, -EBADMSG, "counts 2 page segments", end);
	put_le64(b.p + end + 8, 1);
	put_le64(b.p + end + 16, 7);
	refused(b.p, b.len, -EBADMSG, "stream before it", end);
	put_le64(b.p + end + 16, end);

	/* bytes after the end */
	blob_add(&b, "x", 1);
	refused(b.p, b.len, -EBADMSG, "after the end segment", b.len - 1);
	b.len--;
	refused(b.p, b.len, 0, "", UINT64_MAX);
	free(b.p);
}
END_TEST

/* A stream that stops anywhere but after its end is refused by finish(). */
START_TEST(test_truncated)
{
	struct blob b = { 0 };
	size_t seg = MOCK_HDR_SIZE, content = seg + MOCK_SEG_SIZE;
	size_t end = content + 100;

	plain_save("vt,size=100,state=STOP", &b);
	ck_assert_uint_eq(b.len, end + MOCK_SEG_SIZE);
	refused(b.p, 0, -EBADMSG, "inside the header (0 of 40 bytes)", 0);
	for (size_t cut = 1; cut < b.len; cut++) {
		if (cut < seg)
			refused(b.p, cut, -EBADMSG, "inside the header", 0);
		else if (cut == seg || cut == end)
			refused(b.p, cut, -EBADMSG, "without its end segment", cut);
		else if (cut < content)
			refused(b.p, cut, -EBADMSG, "inside a segment header", seg);
		else if (cut < end)
			refused(b.p, cut, -EBADMSG, "inside a page's content", seg);
		else
			refused(b.p, cut, -EBADMSG, "inside a segment header", end);
	}
	free(b.p);
}
END_TEST

/* Through the public call: a raw mock stream names its backend. */
START_TEST(test_inspect_raw)
{
	struct vfiomig_stream_summary sum = { .sz = sizeof(sum) };
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct blob b = { 0 };
	int fd = memfd_create("vendor-mock", MFD_CLOEXEC);

	plain_save("vi,size=200K,state=STOP", &b);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, b.p, b.len), (ssize_t)b.len);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(vfiomig_stream_inspect(ctx, fd, VFIOMIG_INSPECT_RAW, "mock", NULL,
						NULL, &sum), 0);
	ck_assert_msg(sum.valid, "%s", sum.problem);
	ck_assert_str_eq(sum.backend, "mock");
	ck_assert_uint_eq(sum.records, 1 + 4 + 1);
	ck_assert_uint_eq(sum.bytes, b.len);
	close(fd);
	free(b.p);
	vfiomig_ctx_unref(ctx);
}
END_TEST

static Suite *vendor_suite(void)
{
	Suite *s = suite_create("mock-vendor");
	TCase *tc;

	tc = tcase_create("vendor");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_records);
	tcase_add_test(tc, test_any_split);
	tcase_add_test(tc, test_every_byte);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_inspect_raw);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(vendor_suite());
}
