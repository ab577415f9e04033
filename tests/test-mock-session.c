// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The mock's data sessions: how a reset and the terminating arcs end
 * them, the pre-copy temporary end, dirty rounds and PRECOPY_INFO, and a
 * reader in another thread.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include "test-mock.h"

/* ---- reset and ended sessions ---- */

START_TEST(test_reset)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "r,size=4M");
	int fds = count_fds(), fd, fd2, wfd;
	uint64_t ib, db;
	uint8_t buf[64];

	/* a pre-copy session dies with the reset */
	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(dev->transport->data_read(dev, fd, buf, sizeof(buf)), sizeof(buf));
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_int_eq(get_state(dev), S(RUNNING));
	ck_assert_int_eq(dev->transport->data_read(dev, fd, buf, sizeof(buf)), -ENODEV);
	/* the kernel checks the device state before the file */
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), -EINVAL);
	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd2), 0);
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), -ENODEV);
	ck_assert_int_eq(precopy_info(dev, fd2, &ib, &db), 0);
	close(fd2);
	/* a direct read sees a plain pipe: whatever was queued, then EOF */
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 0);
	close(fd);

	/* from STOP_COPY and RESUMING */
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), 0);
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_int_eq(get_state(dev), S(RUNNING));
	ck_assert_int_eq(dev->transport->data_read(dev, fd, buf, sizeof(buf)), -ENODEV);
	close(fd);
	ck_assert_int_eq(set_state(dev, S(RESUMING), &wfd), 0);
	ck_assert_int_eq(dev->transport->data_write(dev, wfd, "VFIOMOCK", 8), 8);
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_int_eq(get_state(dev), S(RUNNING));
	ck_assert_int_eq(dev->transport->data_write(dev, wfd, "x", 1), -ENODEV);
	close(wfd);
	/* the device content survives a reset: a save still loads */
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
	ck_assert_int_eq(count_fds(), fds - 1);	/* the placeholder */
}
END_TEST

START_TEST(test_terminating_arcs)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "t,size=1M");
	uint8_t buf[16];
	uint64_t ib, db;
	int fd;

	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), 0);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	ck_assert_int_eq(dev->transport->data_read(dev, fd, buf, sizeof(buf)), -ENODEV);
	close(fd);

	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(set_nofd(dev, S(RUNNING)), 0);
	ck_assert_int_eq(dev->transport->data_read(dev, fd, buf, sizeof(buf)), -ENODEV);
	close(fd);

	ck_assert_int_eq(set_state(dev, S(PRE_COPY_P2P), &fd), 0);
	ck_assert_int_eq(set_nofd(dev, S(PRE_COPY)), 0);	/* same fd */
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
	ck_assert_int_eq(set_nofd(dev, S(PRE_COPY_P2P)), 0);
	ck_assert_int_eq(set_nofd(dev, S(RUNNING_P2P)), 0);
	ck_assert_int_eq(dev->transport->data_read(dev, fd, buf, sizeof(buf)), -ENODEV);
	close(fd);

	/* a reader that closes early must not hurt (SIGPIPE stays default) */
	ck_assert_ptr_eq(signal(SIGPIPE, SIG_DFL), SIG_DFL);
	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), 0);
	ck_assert_int_eq(dev->transport->data_read(dev, fd, buf, sizeof(buf)), sizeof(buf));
	close(fd);
	usleep(20000);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- pre-copy ---- */

static void precopy_session(const char *spec, bool eom_zero)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, spec);
	struct vfiomig_dev *dst = mock_open(ctx, "dst,size=256K");
	uint64_t initial = 40 + 4 * (24 + PAGE), ib, db;
	struct blob b = { 0 };
	int fd, fl;
	uint8_t c;

	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
	ck_assert_uint_eq(ib, initial);
	ck_assert_uint_eq(db, 0);
	ck_assert_int_eq(drain(dev, fd, &b, 1000), eom_zero ? 0 : -ENOMSG);
	ck_assert_uint_eq(b.len, initial);
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
	ck_assert_uint_eq(ib, 0);
	ck_assert_uint_eq(db, 0);
	/* the temporary end persists */
	ck_assert_int_eq(dev->transport->data_read(dev, fd, &c, 1), eom_zero ? 0 : -ENOMSG);
	/* a non-blocking direct reader gets EAGAIN, like mlx5 */
	fl = fcntl(fd, F_GETFL);
	ck_assert_int_eq(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
	ck_assert_int_eq(read(fd, &c, 1), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(fcntl(fd, F_SETFL, fl), 0);

	/* the same fd carries the rest; its EOF is real */
	ck_assert_int_eq(set_nofd(dev, S(STOP_COPY)), 0);
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), -EINVAL);
	ck_assert_int_eq(drain(dev, fd, &b, 1000), 0);
	ck_assert_uint_eq(b.len, initial + 24);	/* dirty=0: just the end */
	ck_assert_int_eq(dev->transport->data_read(dev, fd, &c, 1), 0);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	close(fd);

	ck_assert_int_eq(load(dst, b.p, b.len, 4096), 0);
	ck_assert_int_eq(get_state(dst), S(STOP));
	free(b.p);
	vfiomig_dev_unref(dst);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_precopy_enomsg)
{
	precopy_session("pc,size=256K", false);
}
END_TEST

START_TEST(test_precopy_zero)
{
	precopy_session("pc,size=256K,eom=zero", true);
}
END_TEST

START_TEST(test_dirty_rounds)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "dr,size=1M,dirty=100K");
	struct vfiomig_dev *dst = mock_open(ctx, "other,size=1M");
	uint64_t initial = 40 + 16 * (24 + PAGE), round = 2 * (24 + PAGE), ib, db;
	struct blob b = { 0 }, s1 = { 0 }, s2 = { 0 };
	uint8_t tmp[1000];
	int fd;

	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	/* not drained: no new round, however often it is asked */
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
	ck_assert_uint_eq(ib, initial);
	ck_assert_uint_eq(db, 0);
	ck_assert_int_eq(dev->transport->data_read(dev, fd, tmp, 1000), 1000);
	blob_add(&b, tmp, 1000);
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
	ck_assert_uint_eq(ib, initial - 1000);
	ck_assert_uint_eq(db, 0);
	ck_assert_int_eq(drain(dev, fd, &b, 65536), -ENOMSG);
	ck_assert_uint_eq(b.len, initial);

	for (int i = 0; i < 3; i++) {
		size_t before = b.len;

		/* drained: this call dirties 2 pages (100K rounds up) */
		ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
		ck_assert_uint_eq(ib, 0);
		ck_assert_uint_eq(db, round);
		ck_assert_int_eq(dev->transport->data_read(dev, fd, tmp, 100), 100);
		blob_add(&b, tmp, 100);
		ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
		ck_assert_uint_eq(db, round - 100);
		ck_assert_int_eq(drain(dev, fd, &b, 65536), -ENOMSG);
		ck_assert_uint_eq(b.len - before, round);
	}
	/* PRE_COPY_P2P: no query, no new data */
	ck_assert_int_eq(set_nofd(dev, S(PRE_COPY_P2P)), 0);
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
	ck_assert_uint_eq(db, 0);
	ck_assert_int_eq(drain(dev, fd, &b, 65536), -ENOMSG);
	/* STOP_COPY: the final round and the end segment */
	ck_assert_int_eq(set_nofd(dev, S(STOP_COPY)), 0);
	{
		size_t before = b.len;

		ck_assert_int_eq(drain(dev, fd, &b, 65536), 0);
		ck_assert_uint_eq(b.len - before, round + 24);
	}
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	close(fd);
	ck_assert_uint_eq(b.len, initial + 4 * round + 24);

	/* the loaded device is the saved one, byte for byte */
	ck_assert_int_eq(load(dst, b.p, b.len, 65536), 0);
	save_plain(dev, &s1);
	save_plain(dst, &s2);
	ck_assert_uint_eq(s1.len, s2.len);
	ck_assert_int_eq(memcmp(s1.p, s2.p, s1.len), 0);
	/* and differs from the device's initial image */
	{
		struct vfiomig_dev *fresh = mock_open(ctx, "dr,size=1M");
		struct blob s3 = { 0 };

		ck_assert_int_eq(set_nofd(fresh, S(STOP)), 0);
		save_plain(fresh, &s3);
		ck_assert_uint_eq(s3.len, s1.len);
		ck_assert_int_ne(memcmp(s1.p, s3.p, s1.len), 0);
		free(s3.p);
		vfiomig_dev_unref(fresh);
	}
	free(b.p);
	free(s1.p);
	free(s2.p);
	vfiomig_dev_unref(dst);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* Sleeps @ms milliseconds. */
static void nap(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0)
		;
}

/*
 * dirtyplan=: a round dirties what the plan's rate dirtied since the last
 * one, whole pages, step by step: 32M a second for 200 ms, then nothing.
 * The final round at STOP_COPY is what was dirtied since the last query.
 */
START_TEST(test_dirty_plan)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "dp,size=16M,dirtyplan=32M/200ms:0");
	struct blob b = { 0 };
	/* the whole step: 32 MiB/s for 200 ms, 6.4 MiB: 102 whole pages (the
	 * mock carries the fraction over to the next round) */
	uint64_t ib, db, db1, page = 24 + PAGE, step = (32ull << 20) / 5 / PAGE;
	int fd;

	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(drain(dev, fd, &b, 65536), -ENOMSG);
	nap(50);
	/* at least 50 ms at 32M/s (1.6M: 25 pages), at most the whole step
	 * (all of it where the initial drain took longer than the step, as
	 * under TSan on a loaded machine) */
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
	ck_assert_uint_eq(ib, 0);
	ck_assert_uint_ge(db, 25 * page);
	ck_assert_uint_le(db, step * page);
	db1 = db;
	ck_assert_int_eq(drain(dev, fd, &b, 65536), -ENOMSG);
	nap(300);
	/* the rest of the 200 ms step, however long the wait was */
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
	ck_assert_uint_le(db1 + db, step * page);
	ck_assert_int_eq(drain(dev, fd, &b, 65536), -ENOMSG);
	nap(100);
	/* the plan's last step: nothing dirtied, whatever the time */
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
	ck_assert_uint_eq(db, 0);
	ck_assert_int_eq(set_nofd(dev, S(PRE_COPY_P2P)), 0);
	ck_assert_int_eq(set_nofd(dev, S(STOP_COPY)), 0);
	{
		size_t before = b.len;

		ck_assert_int_eq(drain(dev, fd, &b, 65536), 0);
		ck_assert_uint_eq(b.len - before, 24);	/* the end segment alone */
	}
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	close(fd);
	free(b.p);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* A plan's mistakes each fail the open with a sentence that shows how. */
START_TEST(test_dirty_plan_refused)
{
	static const char *const bad[] = {
		"x,dirtyplan=", "x,dirtyplan=1M/10ms", "x,dirtyplan=1M:2M", "x,dirtyplan=1M/0:2M",
		"x,dirtyplan=65G",
		/* nine steps */
		("x,dirtyplan=1M/10ms:1M/10ms:1M/10ms:1M/10ms:1M/10ms:1M/10ms:1M/10ms:1M/10ms:1M"),
		"x,dirtyplan=1M,dirty=64K", "x,dirtyplan=1M/10:2M",
	};
	struct vfiomig_ctx *ctx = new_ctx(NULL);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char spec[160];
		struct vfiomig_dev *dev = NULL;

		snprintf(spec, sizeof(spec), "mock:%s", bad[i]);
		ck_assert_msg(vfiomig_dev_open(ctx, spec, &dev) == -EINVAL, "%s opened", spec);
		ck_assert_msg(strstr(vfiomig_ctx_get_error(ctx), "dirty"), "%s: %s", spec,
			      vfiomig_ctx_get_error(ctx));
	}
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_precopy_info_rules)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "pi");
	struct vfio_precopy_info info = { .argsz = 23 };
	int fd, wfd, p[2];

	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(dev->transport->data_ioctl(dev, fd, VFIO_MIG_GET_PRECOPY_INFO, &info), -EINVAL);
	info.argsz = 24;
	ck_assert_int_eq(dev->transport->data_ioctl(dev, fd, VFIO_DEVICE_GET_INFO, &info), -ENOTTY);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(dev->transport->data_ioctl(dev, p[0], VFIO_MIG_GET_PRECOPY_INFO, &info), -ENOTTY);
	close(p[0]);
	close(p[1]);
	ck_assert_int_eq(dev->transport->data_ioctl(dev, -1, VFIO_MIG_GET_PRECOPY_INFO, &info), -EBADF);
	ck_assert_int_eq(set_nofd(dev, S(RUNNING)), 0);
	close(fd);
	ck_assert_int_eq(set_state(dev, S(RESUMING), &wfd), 0);
	ck_assert_int_eq(dev->transport->data_ioctl(dev, wfd, VFIO_MIG_GET_PRECOPY_INFO, &info), -ENOTTY);
	close(wfd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_precopy_no_p2p)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "hisi,flags=stop_copy+pre_copy,size=100K,dirty=1");
	struct blob b = { 0 };
	uint64_t ib, db;
	int fd;

	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(drain(dev, fd, &b, 4096), -ENOMSG);
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
	ck_assert_uint_eq(db, 24 + PAGE);	/* 1 byte dirties a whole page */
	ck_assert_int_eq(set_nofd(dev, S(STOP_COPY)), 0);	/* direct arc */
	ck_assert_int_eq(drain(dev, fd, &b, 4096), 0);
	/* initial + round (page 0) + final round (page 1, the short one) + end */
	ck_assert_uint_eq(b.len, mock_stream_size(100 << 10) + (24 + PAGE) +
				 (24 + (100 << 10) - PAGE));
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	close(fd);
	free(b.p);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* A reader thread, as a VMM's migration thread may be, while the main thread
 * asks PRECOPY_INFO and moves the device on. */
struct reader {
	struct vfiomig_dev *dev;
	int fd;
	struct blob b;
	int result;
	int enomsg;
};

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	static uint8_t tmp[100000];

	for (;;) {
		ssize_t r = rd->dev->transport->data_read(rd->dev, rd->fd, tmp, sizeof(tmp));

		if (r == -ENOMSG) {
			rd->enomsg++;
			sched_yield();
			continue;
		}
		if (r <= 0) {
			rd->result = (int)r;
			return NULL;
		}
		blob_add(&rd->b, tmp, (size_t)r);
	}
}

START_TEST(test_threaded_reader)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "th,size=8M,dirty=1M");
	struct vfiomig_dev *dst = mock_open(ctx, "th2,size=8M");
	struct reader rd = { .dev = dev };
	uint64_t ib, db;
	pthread_t t;
	int rounds = 0;

	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &rd.fd), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, reader_main, &rd), 0);
	while (rounds < 20) {
		ck_assert_int_eq(precopy_info(dev, rd.fd, &ib, &db), 0);
		if (!ib && db)
			rounds++;
		sched_yield();
	}
	ck_assert_int_eq(set_nofd(dev, S(PRE_COPY_P2P)), 0);
	ck_assert_int_eq(precopy_info(dev, rd.fd, &ib, &db), 0);
	ck_assert_int_eq(set_nofd(dev, S(STOP_COPY)), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(rd.result, 0);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	close(rd.fd);
	ck_assert_int_eq(load(dst, rd.b.p, rd.b.len, 1 << 20), 0);
	free(rd.b.p);
	vfiomig_dev_unref(dst);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

static Suite *session_suite(void)
{
	Suite *s = suite_create("mock-session");
	TCase *tc;

	tc = tcase_create("sessions");
	tcase_add_test(tc, test_reset);
	tcase_add_test(tc, test_terminating_arcs);
	tcase_add_test(tc, test_precopy_enomsg);
	tcase_add_test(tc, test_precopy_zero);
	tcase_add_test(tc, test_dirty_rounds);
	tcase_add_test(tc, test_precopy_info_rules);
	tcase_add_test(tc, test_dirty_plan);
	tcase_add_test(tc, test_dirty_plan_refused);
	tcase_add_test(tc, test_precopy_no_p2p);
	tcase_add_test(tc, test_threaded_reader);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(session_suite());
}
