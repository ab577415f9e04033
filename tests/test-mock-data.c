// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The mock's stream through its data fds: saves that load back byte for
 * byte, what a load refuses, direct I/O on the pipes, the pumps' policy,
 * and rate=.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <sched.h>

#include "test-mock.h"

/* ---- save and load ---- */

START_TEST(test_save_load)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *src = mock_open(ctx, "a,size=1M,state=STOP");
	struct vfiomig_dev *dst = mock_open(ctx, "b,size=1M,state=STOP");
	struct vfiomig_dev *big = mock_open(ctx, "c,size=2M,state=STOP");
	struct blob b = { 0 }, again = { 0 };
	int fds = count_fds(), wfd;

	save_plain(src, &b);
	ck_assert_uint_eq(b.len, mock_stream_size(1 << 20));

	/* the same size loads; saving it again yields exactly those bytes */
	ck_assert_int_eq(load(dst, b.p, b.len, 65536), 0);
	ck_assert_int_eq(get_state(dst), S(STOP));
	save_plain(dst, &again);
	ck_assert_uint_eq(again.len, b.len);
	ck_assert_int_eq(memcmp(again.p, b.p, b.len), 0);

	/* a different size: the header's write fails (EFAULT), and
	 * RESUMING -> STOP refuses it (EINVAL), staying RESUMING */
	ck_assert_int_eq(load(big, b.p, b.len, 65536), -EFAULT);
	ck_assert_int_eq(get_state(big), S(RESUMING));
	ck_assert_int_eq(reset(big), 0);

	/* a flipped byte anywhere: header, segment header, content, end */
	{
		const size_t at[] = { 3, 20, 37, 40, 45, 52, 60, 70, 40 + 24 + 999,
				      b.len - 30, b.len - 20, b.len - 10, b.len - 1 };

		for (size_t i = 0; i < ARRAY_SIZE(at); i++) {
			ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
			b.p[at[i]] ^= 0x10;
			ck_assert_msg(load(dst, b.p, b.len, 65536) ==
				      (at[i] < 40 ? -EFAULT : -EINVAL),
				      "flip at %zu accepted", at[i]);
			ck_assert_int_eq(get_state(dst), S(RESUMING));
			b.p[at[i]] ^= 0x10;
			ck_assert_int_eq(reset(dst), 0);
		}
	}

	/* truncated: EINVAL and the fd stays usable; the rest completes it */
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	ck_assert_int_eq(set_state(dst, S(RESUMING), &wfd), 0);
	ck_assert_int_eq(dst->transport->data_write(dst, wfd, b.p, b.len - 10), b.len - 10);
	ck_assert_int_eq(set_nofd(dst, S(STOP)), -EINVAL);
	ck_assert_int_eq(get_state(dst), S(RESUMING));
	ck_assert_int_eq(dst->transport->data_write(dst, wfd, b.p + b.len - 10, 10), 10);
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	ck_assert_int_eq(dst->transport->data_write(dst, wfd, "x", 1), -ENODEV);
	close(wfd);

	/* nothing written; garbage; trailing bytes */
	ck_assert_int_eq(load(dst, b.p, 0, 1), -EINVAL);
	ck_assert_int_eq(reset(dst), 0);
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	ck_assert_int_eq(load(dst, (const uint8_t *)"not a stream at all, sorry........"
			      "..........", 44, 7), -EFAULT);
	ck_assert_int_eq(reset(dst), 0);
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	blob_add(&b, "!", 1);
	ck_assert_int_eq(load(dst, b.p, b.len, 65536), -ENOMEM);
	ck_assert_int_eq(reset(dst), 0);
	b.len--;

	free(b.p);
	free(again.p);
	vfiomig_dev_unref(big);
	vfiomig_dev_unref(dst);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
	ck_assert_int_eq(count_fds(), fds - 3);	/* the three placeholders */
}
END_TEST

START_TEST(test_missing_page)
{
	struct arcs a = { .n = 0 };
	struct vfiomig_ctx *ctx = new_ctx(&a);
	struct vfiomig_dev *dst = mock_open(ctx, "m,size=128K,state=STOP");
	struct mock_emitter e;
	struct mock_piece pcs[16];
	uint32_t gen[2] = { 0 };
	uint8_t buf[4096];
	size_t bytes = 0, n;

	/* a well-formed stream that sends page 0 only */
	mock_emit_init(&e, 42, 128 << 10, 7);
	mock_emit_header(&e);
	mock_emit_pages(&e, 0, 1);
	mock_emit_end(&e);
	{
		static uint8_t out[200000];
		size_t len = 0;

		while ((n = mock_emit_plan(&e, gen, pcs, 16, sizeof(buf), &bytes)))
			len += mock_emit_render(&e, pcs, n, out + len);
		ck_assert_uint_eq(len, 40 + 24 + PAGE + 24);
		ck_assert_int_eq(load(dst, out, len, 65536), -EINVAL);
		ck_assert_msg(strstr(a.last, "page 1 (offset 0x10000) was never sent"),
			      "%s", a.last);
	}
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_one_byte_writes)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *src = mock_open(ctx, "one,size=5000,state=STOP");
	struct vfiomig_dev *dst = mock_open(ctx, "two,size=5000,state=STOP");
	struct blob b = { 0 }, again = { 0 };

	save_plain(src, &b);
	ck_assert_uint_eq(b.len, 40 + 24 + 5000 + 24);
	ck_assert_int_eq(load(dst, b.p, b.len, 1), 0);
	save_plain(dst, &again);
	ck_assert_int_eq(memcmp(again.p, b.p, b.len), 0);
	free(b.p);
	free(again.p);
	vfiomig_dev_unref(dst);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* Direct read() and write() on the fds, as a program that bypasses the
 * library would do them: plain blocking pipes. */
START_TEST(test_direct_io_large)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *src = mock_open(ctx, "big,size=64M,state=STOP");
	struct vfiomig_dev *dst = mock_open(ctx, "big2,size=64M,state=STOP");
	static uint8_t buf[1 << 20];
	uint64_t total = 0;
	int rfd, wfd;
	ssize_t n;

	ck_assert_int_eq(set_state(src, S(STOP_COPY), &rfd), 0);
	ck_assert_int_eq(set_state(dst, S(RESUMING), &wfd), 0);
	while ((n = read(rfd, buf, sizeof(buf))) > 0) {
		ck_assert_int_eq(write(wfd, buf, (size_t)n), n);
		total += (uint64_t)n;
	}
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(total, mock_stream_size(64 << 20));
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	ck_assert_int_eq(set_nofd(src, S(STOP)), 0);
	close(rfd);
	close(wfd);
	vfiomig_dev_unref(dst);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* Threads of this process, other than the caller, that run in @policy. */
static int threads_in_policy(int policy)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		pid_t tid = (pid_t)atoi(e->d_name);

		if (tid > 0 && tid != gettid() && sched_getscheduler(tid) == policy)
			n++;
	}
	closedir(d);
	return n;
}

/* A pump stands for a device's own work: as SCHED_BATCH it never preempts
 * the caller on waking, and the caller's own policy is left alone. */
START_TEST(test_pump_policy)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *src = mock_open(ctx, "pp,size=16M,state=STOP,rate=1M");
	int fd, i;

	ck_assert_int_eq(threads_in_policy(SCHED_BATCH), 0);
	ck_assert_int_eq(set_state(src, S(STOP_COPY), &fd), 0);
	/* The pump takes the policy as it starts; rate= keeps it alive. */
	for (i = 0; i < 200 && threads_in_policy(SCHED_BATCH) == 0; i++)
		usleep(5000);
	ck_assert_int_eq(threads_in_policy(SCHED_BATCH), 1);
	ck_assert_int_eq(sched_getscheduler(0), SCHED_OTHER);
	ck_assert_int_eq(set_nofd(src, S(STOP)), 0);
	ck_assert_int_eq(threads_in_policy(SCHED_BATCH), 0);
	close(fd);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* rate=: the pumps move at most rate bytes a second, both ways. */
START_TEST(test_rate)
{
	static const char *const bad[] = {
		"r,rate=x", "r,rate=65G", "r,rate=-1", "r,rate=4Q", "r,rate=1M,rate=2M",
	};
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *src = mock_open(ctx, "rs,size=1M,state=STOP,rate=4M");
	struct vfiomig_dev *dst = mock_open(ctx, "rd,size=1M,state=STOP,rate=4M");
	struct vfiomig_dev *dev;
	struct blob b = { 0 };
	uint8_t tmp[4096] = { 0 };
	uint64_t t;
	int fd;

	/* 1 MiB at 4 MiB/s takes 0.25 s to save, and 0.25 s to load. */
	t = now_ns();
	save_plain(src, &b);
	ck_assert_uint_ge(now_ns() - t, 200000000u);
	ck_assert_uint_eq(b.len, mock_stream_size(1 << 20));
	t = now_ns();
	ck_assert_int_eq(load(dst, b.p, b.len, 1 << 20), 0);
	ck_assert_uint_ge(now_ns() - t, 200000000u);
	b.len = 0;
	vfiomig_dev_unref(dst);
	vfiomig_dev_unref(src);

	/* rate=0 is unlimited, and the content is the same as without rate= */
	src = mock_open(ctx, "rs,size=1M,state=STOP,rate=0");
	save_plain(src, &b);
	ck_assert_uint_eq(b.len, mock_stream_size(1 << 20));
	dst = mock_open(ctx, "rd,size=1M,state=STOP");
	ck_assert_int_eq(load(dst, b.p, b.len, 1 << 20), 0);
	vfiomig_dev_unref(dst);
	vfiomig_dev_unref(src);
	free(b.p);

	/* A pump sleeping for its rate stops at once when the session ends:
	 * at 1 KiB/s each 4 KiB chunk takes 4 s. */
	src = mock_open(ctx, "rs,size=1M,state=STOP,rate=1K");
	ck_assert_int_eq(set_state(src, S(STOP_COPY), &fd), 0);
	t = now_ns();
	ck_assert_int_eq(set_nofd(src, S(STOP)), 0);
	ck_assert_uint_lt(now_ns() - t, 2000000000u);
	close(fd);
	vfiomig_dev_unref(src);
	dst = mock_open(ctx, "rd,size=1M,state=STOP,rate=1K");
	ck_assert_int_eq(set_state(dst, S(RESUMING), &fd), 0);
	ck_assert_int_eq(write(fd, tmp, sizeof(tmp)), (ssize_t)sizeof(tmp));
	t = now_ns();
	ck_assert_int_eq(reset(dst), 0);
	ck_assert_uint_lt(now_ns() - t, 2000000000u);
	close(fd);
	vfiomig_dev_unref(dst);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_msg(vfiomig_mock_open(ctx, bad[i], &dev) == -EINVAL, "%s", bad[i]);
		ck_assert_msg(strstr(vfiomig_ctx_get_error(ctx), "rate"), "'%s': %s", bad[i],
			      vfiomig_ctx_get_error(ctx));
	}
	vfiomig_ctx_unref(ctx);
}
END_TEST

static Suite *data_suite(void)
{
	Suite *s = suite_create("mock-data");
	TCase *tc;

	tc = tcase_create("stream");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_save_load);
	tcase_add_test(tc, test_missing_page);
	tcase_add_test(tc, test_one_byte_writes);
	tcase_add_test(tc, test_direct_io_large);
	tcase_add_test(tc, test_rate);
	tcase_add_test(tc, test_pump_policy);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(data_suite());
}
