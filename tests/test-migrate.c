/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Whole saves and loads against the mock: every pre-copy policy on every
 * flag set moves the exact bytes (the destination mock verifies them), a
 * fault at any single step leaves the source where it started and the
 * destination not running with partial state, and every corrupt, truncated
 * or foreign stream is refused with its reason.
 */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "test-xfer.h"
#include <vfiomig/vfiomig.h>

#define S(x) VFIOMIG_STATE_##x

static const char *const flag_sets[] = {
	"stop_copy", "stop_copy+p2p", "stop_copy+pre_copy", "stop_copy+p2p+pre_copy",
};

struct loader {
	struct vfiomig_dev *dev;
	int fd;
	struct vfiomig_load_opts opts;
	struct vfiomig_stats stats;
	int r;
	pthread_t thread;
};

static void *load_thread(void *data)
{
	struct loader *l = data;

	l->r = vfiomig_dev_load(l->dev, l->fd, &l->opts);
	close(l->fd);
	return NULL;
}

/* Saves @src into a pipe that @dst loads from on another thread. */
static void save_into_load(struct vfiomig_dev *src, const struct vfiomig_save_opts *so,
			   struct vfiomig_dev *dst, struct loader *l, int *save_r)
{
	int p[2];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	l->dev = dst;
	l->fd = p[0];
	l->stats.sz = sizeof(l->stats);
	l->opts.sz = sizeof(l->opts);
	l->opts.stats = &l->stats;
	ck_assert_int_eq(pthread_create(&l->thread, NULL, load_thread, l), 0);
	*save_r = vfiomig_dev_save(src, p[1], so);
	close(p[1]);
	pthread_join(l->thread, NULL);
}

/* _i: flag set (4) x policy (3) x temporary-end style (2) */
START_TEST(test_roundtrip)
{
	static const enum vfiomig_precopy_mode modes[] = {
		VFIOMIG_PRECOPY_MODE_NEVER, VFIOMIG_PRECOPY_MODE_AUTO, VFIOMIG_PRECOPY_MODE_ROUNDS,
	};
	int set = _i % 4, mode = _i / 4 % 3;
	const char *eom = _i / 12 ? "zero" : "enomsg";
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = modes[mode], .precopy_rounds = 3 };
	struct vfiomig_stats ss = { .sz = sizeof(ss) };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src, *dst;
	struct loader l = { 0 };
	bool precopy = mode != 0 && strstr(flag_sets[set], "pre_copy");
	int r, before = count_fds();

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	src = open_dev(ctx, "mock:src,size=1M,dirty=128K,eom=%s,flags=%s", eom, flag_sets[set]);
	dst = open_dev(ctx, "mock:dst,size=1M,state=stop,flags=%s", flag_sets[set]);
	so.stats = &ss;
	save_into_load(src, &so, dst, &l, &r);
	ck_assert_msg(r == 0 && l.r == 0, "save %d load %d: %s", r, l.r, vfiomig_ctx_get_error(ctx));
	ck_assert_int_eq(state_of(src), S(STOP));
	ck_assert_int_eq(state_of(dst), S(RUNNING));

	ck_assert_uint_eq(ss.stream_bytes, l.stats.stream_bytes);
	ck_assert_uint_eq(ss.precopy_bytes, l.stats.precopy_bytes);
	ck_assert_uint_eq(ss.stop_copy_bytes, l.stats.stop_copy_bytes);
	ck_assert_uint_eq(ss.precopy_rounds, l.stats.precopy_rounds);
	ck_assert_uint_gt(ss.stop_copy_bytes, 0);
	ck_assert_msg((ss.precopy_bytes > 0) == precopy, "precopy bytes %llu",
		      (unsigned long long)ss.precopy_bytes);
	if (precopy && modes[mode] == VFIOMIG_PRECOPY_MODE_ROUNDS)
		ck_assert_uint_eq(ss.precopy_rounds, 3);
	ck_assert_uint_eq(ss.error_offset, UINT64_MAX);
	ck_assert_uint_eq(l.stats.error_offset, UINT64_MAX);
	/* The destination holds exactly the source's state. */
	assert_same_state(ctx, src, dst);

	vfiomig_dev_unref(src);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

START_TEST(test_leave_and_raw)
{
	struct vfiomig_save_opts so = { .sz = sizeof(so), .leave = VFIOMIG_LEAVE_RUNNING,
					.flags = VFIOMIG_XFER_RAW, .precopy = VFIOMIG_PRECOPY_MODE_AUTO };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src, *dst;
	struct loader l = { 0 };
	int r;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	src = open_dev(ctx, "mock:a,size=300K,dirty=64K");
	dst = open_dev(ctx, "mock:b,size=300K");
	l.opts.flags = VFIOMIG_XFER_RAW;
	l.opts.leave = VFIOMIG_LEAVE_STOP;
	/* save_into_load resets opts.sz/stats but keeps flags and leave */
	save_into_load(src, &so, dst, &l, &r);
	ck_assert_msg(r == 0 && l.r == 0, "save %d load %d: %s", r, l.r, vfiomig_ctx_get_error(ctx));
	ck_assert_int_eq(state_of(src), S(RUNNING));	/* snapshot and continue */
	ck_assert_int_eq(state_of(dst), S(STOP));
	assert_same_state(ctx, src, dst);
	vfiomig_dev_unref(src);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
}
END_TEST

struct progress_seen {
	int calls, phases;
	enum vfiomig_phase last;
	uint64_t last_bytes;
};

static void on_progress(void *data, const struct vfiomig_progress *p)
{
	struct progress_seen *s = data;

	ck_assert_uint_ge(p->bytes, s->last_bytes);
	ck_assert_int_ge(p->phase, s->last);
	if (p->phase != s->last)
		s->phases++;
	s->last = p->phase;
	s->last_bytes = p->bytes;
	s->calls++;
}

/*
 * AUTO iterates while it pays: a device that dirties 256K a round, above a
 * 64K threshold, is switched over once a round does not shrink its dirty
 * bytes (round 2), not after the 32-round limit.
 */
START_TEST(test_precopy_pays)
{
	struct vfiomig_stats st = { .sz = sizeof(st) };
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = VFIOMIG_PRECOPY_MODE_AUTO,
					.precopy_dirty_threshold = 64 << 10, .stats = &st };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src;
	int fd;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	src = open_dev(ctx, "mock:p,size=1M,dirty=256K");
	fd = save_to_memfd(src, &so);
	ck_assert_uint_eq(st.precopy_rounds, 2);
	close(fd);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/*
 * The initial-bytes rule outranks AUTO's limits: a device whose REINIT
 * brings initial bytes back after round 1 is not switched over at the
 * 1-round limit, but once they are sent (round 2).
 */
START_TEST(test_precopy_initial_rule)
{
	struct vfiomig_stats st = { .sz = sizeof(st) };
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = VFIOMIG_PRECOPY_MODE_AUTO,
					.precopy_rounds = 1, .stats = &st };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src;
	int fd;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	src = open_dev(ctx, "mock:p,size=256K,dirty=64K,infov2=1,reinit=1");
	fd = save_to_memfd(src, &so);
	ck_assert_uint_eq(st.precopy_rounds, 2);
	ck_assert_uint_ge(st.precopy_bytes, 2 * (256u << 10));
	close(fd);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_progress)
{
	struct progress_seen seen = { 0 };
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = VFIOMIG_PRECOPY_MODE_AUTO,
					.progress = on_progress, .userdata = &seen };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src;
	int fd;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	src = open_dev(ctx, "mock:p,size=2M");
	fd = save_to_memfd(src, &so);
	ck_assert_int_eq(seen.phases, 3);	/* PRECOPY, STOP_COPY, DONE */
	ck_assert_int_eq(seen.last, VFIOMIG_PHASE_DONE);
	ck_assert_uint_gt(seen.last_bytes, 2u << 20);
	close(fd);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_options)
{
	struct {
		struct vfiomig_save_opts o;
		uint64_t future;
	} big = { .o = { .sz = sizeof(big) } };
	struct vfiomig_save_opts bad = { .sz = sizeof(bad), .precopy = 7 };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src;
	int fd = memfd_create("x", MFD_CLOEXEC);

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	src = open_dev(ctx, "mock:o,size=4K,fail=set:1:EIO");
	ck_assert_int_eq(vfiomig_dev_save(src, fd, &bad), -EINVAL);
	bad = (struct vfiomig_save_opts){ .sz = 4 };
	ck_assert_int_eq(vfiomig_dev_save(src, fd, &bad), -EINVAL);
	bad = (struct vfiomig_save_opts){ .sz = sizeof(bad), .buffer_size = 100 };
	ck_assert_int_eq(vfiomig_dev_save(src, fd, &bad), -EINVAL);
	big.future = 1;		/* a newer caller's field we do not know */
	ck_assert_int_eq(vfiomig_dev_save(src, fd, &big.o), -EINVAL);
	ck_assert_int_eq(vfiomig_dev_save(src, -1, NULL), -EINVAL);
	ck_assert_int_eq(state_of(src), S(RUNNING));
	/* A zero tail is fine; the first SET fails as injected, nothing else. */
	big.future = 0;
	ck_assert_int_eq(vfiomig_dev_save(src, fd, &big.o), -EIO);
	ck_assert_int_eq(state_of(src), S(RUNNING));
	ck_assert_int_eq(vfiomig_dev_save(src, fd, NULL), 0);
	ck_assert_int_eq(state_of(src), S(STOP));
	close(fd);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* The building blocks a VMM uses with its own framing. */
START_TEST(test_building_blocks)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src, *dst;
	enum vfiomig_state st;
	static char buf[1 << 16];
	int sfd, dfd, again = 0;
	ssize_t n;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	src = open_dev(ctx, "mock:bb,size=200K,eom=%s,short=both,fail=read:3:EINTR",
		       _i ? "zero" : "enomsg");
	dst = open_dev(ctx, "mock:bd,size=200K,short=write,fail=write:2:EAGAIN");
	ck_assert_int_eq(vfiomig_data_begin_save(src, VFIOMIG_SAVE_PRECOPY, &sfd, &st), 0);
	ck_assert_int_eq(st, S(PRE_COPY));
	ck_assert_int_eq(vfiomig_data_begin_save(src, 0, &dfd, NULL), -EBUSY);
	ck_assert_int_eq(vfiomig_data_begin_load(dst, &dfd), 0);
	ck_assert_int_eq(vfiomig_data_begin_load(dst, &dfd), -EBUSY);
	ck_assert_int_eq(vfiomig_dev_get_precopy_info_flags(src, sfd, NULL, NULL, NULL), 0);
	for (;;) {
		n = vfiomig_data_read(src, sfd, buf, sizeof(buf), VFIOMIG_READ_PRECOPY);
		if (n == -EAGAIN && ++again == 1)
			break;	/* the temporary end, whichever way the driver says it */
		ck_assert_int_gt(n, 0);
		ck_assert_int_eq(vfiomig_data_write(dst, dfd, buf, (size_t)n), 0);
	}
	ck_assert_int_eq(vfiomig_dev_set_state(src, S(STOP_COPY), NULL), 0);
	while ((n = vfiomig_data_read(src, sfd, buf, sizeof(buf), 0)) > 0)
		ck_assert_int_eq(vfiomig_data_write(dst, dfd, buf, (size_t)n), 0);
	ck_assert_int_eq(n, 0);
	close(sfd);
	close(dfd);
	ck_assert_int_eq(vfiomig_data_finish_load(dst, S(RUNNING)), 0);
	ck_assert_int_eq(state_of(dst), S(RUNNING));
	ck_assert_int_eq(vfiomig_dev_enable_precopy_reinit(src), -EOPNOTSUPP);
	vfiomig_dev_unref(src);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/*
 * VFIOMIG_READ_DRAINED tells an event loop the two kinds of "nothing now"
 * apart: a non-blocking fd with nothing yet (-EAGAIN: poll again) and the
 * device's temporary end of pre-copy (-ENOMSG: ask PRECOPY_INFO, maybe
 * switch over), whichever way the driver says it (ENOMSG, mtty's 0).
 */
START_TEST(test_read_drained)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src;
	static char buf[1 << 16];
	unsigned int flags = VFIOMIG_READ_PRECOPY | VFIOMIG_READ_DRAINED;
	int sfd, again = 0;
	uint64_t got = 0;
	ssize_t n;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	/* 64 KiB at 256 KiB/s: the first reads find nothing yet */
	src = open_dev(ctx, "mock:dr,size=64K,rate=256K,eom=%s", _i ? "zero" : "enomsg");
	ck_assert_int_eq(vfiomig_data_begin_save(src, VFIOMIG_SAVE_PRECOPY, &sfd, NULL), 0);
	ck_assert_int_eq(fcntl(sfd, F_SETFL, fcntl(sfd, F_GETFL) | O_NONBLOCK), 0);
	ck_assert_int_eq(vfiomig_data_read(src, sfd, buf, sizeof(buf), VFIOMIG_READ_PRECOPY << 2),
			 -EINVAL);
	for (;;) {
		n = vfiomig_data_read(src, sfd, buf, sizeof(buf), flags);
		if (n == -ENOMSG)
			break;
		if (n == -EAGAIN) {
			again++;
			ck_assert_int_eq(poll(&(struct pollfd){ .fd = sfd, .events = POLLIN }, 1, 1000), 1);
			continue;
		}
		ck_assert_int_gt(n, 0);
		got += (uint64_t)n;
	}
	/* the end comes only after the whole initial image, and says so once */
	ck_assert_uint_ge(got, 64 << 10);
	ck_assert_int_gt(again, 0);
	ck_assert_ptr_null(vfiomig_ctx_get_error(ctx));
	/* without the flag, both are -EAGAIN, as before */
	ck_assert_int_eq(vfiomig_data_read(src, sfd, buf, sizeof(buf), VFIOMIG_READ_PRECOPY), -EAGAIN);
	close(sfd);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
}
END_TEST

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* What an event loop saw of one side: its calls' longest time, its -EAGAINs. */
struct loop_side {
	uint64_t longest_ns;
	unsigned int again;
};

static void set_nonblock(int fd)
{
	ck_assert_int_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

static void wait_for(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	ck_assert_int_eq(poll(&p, 1, 10000), 1);
}

/* A whole saving fd, read as an event loop does: poll(), then vfiomig_data_read(). */
static size_t loop_read_all(struct vfiomig_ctx *ctx, struct vfiomig_dev *dev, int fd,
			    char *buf, size_t size, struct loop_side *side)
{
	size_t got = 0;

	for (;;) {
		uint64_t t = mono_ns();
		ssize_t n = vfiomig_data_read(dev, fd, buf + got, size - got, 0);

		t = mono_ns() - t;
		side->longest_ns = t > side->longest_ns ? t : side->longest_ns;
		if (n == 0)
			return got;
		if (n == -EAGAIN) {
			ck_assert_ptr_null(vfiomig_ctx_get_error(ctx));	/* no failure */
			side->again++;
			wait_for(fd, POLLIN);
			continue;
		}
		ck_assert_msg(n > 0, "read: %zd (%s)", n, vfiomig_ctx_get_error(ctx));
		got += (size_t)n;
		ck_assert_uint_lt(got, size);	/* room left: the end is seen */
	}
}

/*
 * All of @buf into a resuming fd, as an event loop does: poll(), then
 * vfiomig_data_write_some() with everything still to go.  Returns 0 or the
 * first failure.
 */
static int loop_write_all(struct vfiomig_ctx *ctx, struct vfiomig_dev *dev, int fd,
			  const char *buf, size_t len, struct loop_side *side)
{
	while (len) {
		uint64_t t = mono_ns();
		ssize_t n = vfiomig_data_write_some(dev, fd, buf, len);

		t = mono_ns() - t;
		side->longest_ns = t > side->longest_ns ? t : side->longest_ns;
		if (n == -EAGAIN) {
			ck_assert_ptr_null(vfiomig_ctx_get_error(ctx));	/* no failure */
			side->again++;
			wait_for(fd, POLLOUT);
			continue;
		}
		if (n < 0)
			return (int)n;
		ck_assert_uint_le((size_t)n, len);
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * A VMM's event loop on non-blocking data fds of slow devices (rate=): no
 * call waits (each returns within 50 ms, though the whole transfer takes
 * hundreds), each side says -EAGAIN when its fd is not ready, and the
 * destination ends up with the source's exact state.
 */
START_TEST(test_event_loop)
{
	struct loop_side rd = { 0 }, wr = { 0 };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src, *dst;
	size_t size = 8 << 20, len;
	char *buf = malloc(size);
	uint64_t t;
	int sfd, dfd;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	src = open_dev(ctx, "mock:el,size=3M,rate=24M");
	dst = open_dev(ctx, "mock:el2,size=3M,rate=8M");
	ck_assert_int_eq(vfiomig_data_begin_save(src, 0, &sfd, NULL), 0);
	set_nonblock(sfd);
	len = loop_read_all(ctx, src, sfd, buf, size, &rd);
	close(sfd);
	ck_assert_uint_gt(len, 3 << 20);
	ck_assert_int_eq(vfiomig_dev_set_state(src, S(RUNNING), NULL), 0);

	ck_assert_int_eq(vfiomig_data_begin_load(dst, &dfd), 0);
	set_nonblock(dfd);
	t = mono_ns();
	ck_assert_int_eq(loop_write_all(ctx, dst, dfd, buf, len, &wr), 0);
	t = mono_ns() - t;
	close(dfd);
	ck_assert_int_eq(vfiomig_data_finish_load(dst, S(RUNNING)), 0);
	assert_same_state(ctx, src, dst);

	/* The device is slow: the loop waited for it, never a call. */
	ck_assert_msg(rd.longest_ns < 50000000u && wr.longest_ns < 50000000u,
		      "a call waited: read %llu ns, write_some %llu ns",
		      (unsigned long long)rd.longest_ns, (unsigned long long)wr.longest_ns);
	ck_assert_msg(t > 100000000u, "the load took only %llu ns", (unsigned long long)t);
	ck_assert_uint_gt(rd.again, 0);
	ck_assert_uint_gt(wr.again, 0);
	vfiomig_dev_unref(src);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
	free(buf);
}
END_TEST

/* A save of a fresh mock:src@spec_tail with @so, in memory. */
static size_t saved_bytes(const struct vfiomig_save_opts *so, const char *spec_tail, char **ret)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src;
	size_t len;
	int fd;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	src = open_dev(ctx, "mock:src%s", spec_tail);
	fd = save_to_memfd(src, so);
	len = read_all(fd, ret);
	close(fd);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
	return len;
}

/* A fresh stream of mock:src (size, flags) saved with pre-copy, in 16 KiB records. */
static size_t make_stream(const char *spec_tail, char **ret)
{
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = VFIOMIG_PRECOPY_MODE_AUTO,
					.buffer_size = 16 * 1024 };

	return saved_bytes(&so, spec_tail, ret);
}

/*
 * @buf written into a fresh @spec: by vfiomig_data_write_some() in a poll()
 * loop if @some, else by vfiomig_data_write().  The result, the sentence
 * into @msg and the facts into @info.
 */
static int load_raw_by(bool some, const char *buf, size_t len, const char *spec,
		       char *msg, size_t msg_size, struct vfiomig_error *info)
{
	struct loop_side side = { 0 };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dst;
	int fd, r;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dst = open_dev(ctx, "%s", spec);
	ck_assert_int_eq(vfiomig_data_begin_load(dst, &fd), 0);
	set_nonblock(fd);
	r = some ? loop_write_all(ctx, dst, fd, buf, len, &side) :
		   vfiomig_data_write(dst, fd, buf, len);
	*info = (struct vfiomig_error){ .sz = sizeof(*info) };
	ck_assert_int_eq(vfiomig_ctx_get_error_info(ctx, info), r < 0 ? 0 : -ENOENT);
	snprintf(msg, msg_size, "%s", r < 0 ? info->message : "");
	info->message = info->device = NULL;	/* borrowed from ctx */
	close(fd);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
	return r;
}

/*
 * A device's refusal reaches an event loop's vfiomig_data_write_some() as it
 * reaches vfiomig_data_write(): the same -errno, sentence and facts; and
 * the arguments are checked alike.
 */
START_TEST(test_write_some_rejected)
{
	static const char *const specs[] = {
		"mock:dst,size=128K",			/* another size: the header, EFAULT */
		"mock:dst,size=64K,short=write,fail=write:5:EIO",	/* a later write */
		"mock:dst,size=64K,personality=mlx5",	/* mlx5's records refused */
	};
	struct vfiomig_save_opts raw = { .sz = sizeof(raw), .flags = VFIOMIG_XFER_RAW };
	struct vfiomig_error a, b;
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	char *stream, ma[1024], mb[1024];
	size_t len = saved_bytes(&raw, ",size=64K", &stream);

	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		int ra = load_raw_by(false, stream, len, specs[i], ma, sizeof(ma), &a);
		int rb = load_raw_by(true, stream, len, specs[i], mb, sizeof(mb), &b);

		ck_assert_msg(ra < 0 && ra != -EAGAIN && ra == rb, "%s: write %d, write_some %d",
			      specs[i], ra, rb);
		ck_assert_str_eq(ma, mb);
		ck_assert_msg(strstr(ma, "mock:dst: the device rejected the data: "), "%s", ma);
		ck_assert_int_eq(a.err, b.err);
		ck_assert_int_eq(a.has_state, b.has_state);
	}
	free(stream);

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dev = open_dev(ctx, "mock:args");
	ck_assert_int_eq(vfiomig_data_write_some(dev, -1, "x", 1), -EINVAL);
	ck_assert_str_eq(vfiomig_ctx_get_error(ctx),
			 "mock:args: a write needs a data fd and a buffer");
	ck_assert_int_eq(vfiomig_data_write_some(dev, 0, NULL, 1), -EINVAL);
	ck_assert_int_eq(vfiomig_data_write_some(NULL, 0, "x", 1), -EINVAL);
	ck_assert_int_eq(vfiomig_data_write_some(dev, 0, NULL, 0), 0);
	ck_assert_ptr_null(vfiomig_ctx_get_error(ctx));
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* Loads @len bytes of @buf into a fresh destination and returns the result. */
static int load_bytes(const char *buf, size_t len, const char *dst_spec,
		      enum vfiomig_state *ret_state, struct vfiomig_stats *stats, char *why, size_t whylen)
{
	struct vfiomig_load_opts lo = { .sz = sizeof(lo), .stats = stats };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dst;
	int fd = memfd_of(buf, len), r;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dst = open_dev(ctx, "%s", dst_spec);
	r = vfiomig_dev_load(dst, fd, &lo);
	snprintf(why, whylen, "%s", vfiomig_ctx_get_error(ctx));
	*ret_state = state_of(dst);
	close(fd);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
	return r;
}

START_TEST(test_corrupt_every_byte)
{
	char *stream, why[512];
	size_t len = make_stream(",size=1K,dirty=1K", &stream);
	struct vfiomig_stats st = { .sz = sizeof(st) };
	enum vfiomig_state after;
	int r;

	r = load_bytes(stream, len, "mock:dst,size=1K,state=stop", &after, &st, why, sizeof(why));
	ck_assert_msg(r == 0, "intact stream refused: %s", why);
	for (size_t pos = 0; pos < len; pos++) {
		stream[pos] ^= 0x5a;
		r = load_bytes(stream, len, "mock:dst,size=1K,state=stop", &after, &st, why, sizeof(why));
		ck_assert_msg(r == -EBADMSG || r == -EPROTO || r == -E2BIG,
			      "flip at %zu of %zu: load gave %d (%s)", pos, len, r, why);
		ck_assert_msg(after == S(STOP), "flip at %zu left the device %s", pos,
			      vfiomig_state_name(after));
		ck_assert_msg(why[0] && strstr(why, "offset") != NULL,
			      "flip at %zu: reason without offset: %s", pos, why);
		ck_assert_uint_le(st.error_offset, len);
		stream[pos] ^= 0x5a;
	}
	free(stream);
}
END_TEST

START_TEST(test_truncate_every_length)
{
	char *stream, why[512];
	size_t len = make_stream(",size=1K,dirty=1K", &stream);
	struct vfiomig_stats st = { .sz = sizeof(st) };
	enum vfiomig_state after;

	for (size_t cut = 0; cut < len; cut++) {
		int r = load_bytes(stream, cut, "mock:dst,size=1K,state=stop", &after, &st,
				   why, sizeof(why));

		ck_assert_msg(r == -EBADMSG, "cut at %zu of %zu: load gave %d (%s)", cut, len, r, why);
		ck_assert_msg(after == S(STOP), "cut at %zu left the device %s", cut,
			      vfiomig_state_name(after));
		ck_assert_msg(strstr(why, "truncated") || strstr(why, "empty"),
			      "cut at %zu: %s", cut, why);
	}
	free(stream);
}
END_TEST

START_TEST(test_identity_mismatch)
{
	char *stream, why[512];
	size_t len = make_stream(",size=64K,pci=15b3:101e,driver=mlx5_vfio_pci", &stream);
	struct vfiomig_stats st = { .sz = sizeof(st) };
	struct vfiomig_load_opts lo = { .sz = sizeof(lo), .flags = VFIOMIG_XFER_FORCE };
	enum vfiomig_state after;
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dst;
	int r, fd;

	/* Refused before anything reaches the device: an armed SET fault stays unseen. */
	r = load_bytes(stream, len, "mock:dst,size=64K,pci=8086:1889,driver=ice-vfio-pci,fail=set:1:EIO",
		       &after, &st, why, sizeof(why));
	ck_assert_int_eq(r, -ENODEV);
	ck_assert_int_eq(after, S(RUNNING));
	ck_assert_msg(strstr(why, "stream is for 15b3:101e (mlx5_vfio_pci), device is 8086:1889 "
			     "(ice-vfio-pci); the PCI IDs and the drivers differ; use --force "
			     "to load anyway"), "%s", why);
	/* A device that is not PCI at all. */
	r = load_bytes(stream, len, "mock:dst,size=64K", &after, &st, why, sizeof(why));
	ck_assert_int_eq(r, -ENODEV);

	/* Forced: the mock then judges the data itself, and it is compatible. */
	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dst = open_dev(ctx, "mock:dst,size=64K,pci=8086:1889,driver=ice-vfio-pci");
	fd = memfd_of(stream, len);
	ck_assert_int_eq(vfiomig_dev_load(dst, fd, &lo), 0);
	ck_assert_int_eq(state_of(dst), S(RUNNING));
	close(fd);
	vfiomig_dev_unref(dst);

	/* Same identity, another size: the device refuses the data (mtty: EFAULT),
	 * from the first write on (test_first_data_rejected). */
	dst = open_dev(ctx, "mock:dst,size=128K,pci=15b3:101e,driver=mlx5_vfio_pci");
	fd = memfd_of(stream, len);
	r = vfiomig_dev_load(dst, fd, &lo);
	ck_assert_int_eq(r, -EFAULT);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "rejected the stream's first data"));
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "now in STOP"));
	ck_assert_int_eq(state_of(dst), S(STOP));
	close(fd);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
	free(stream);
}
END_TEST

/* Two mdevs of one driver but of other types (mtty-2 and mtty-1): refused
 * before the first write, not half-way by the driver. */
START_TEST(test_mdev_type_mismatch)
{
	char *stream, why[512];
	size_t len = make_stream(",size=64K,mdev_type=mtty-2", &stream);
	struct vfiomig_stats st = { .sz = sizeof(st) };
	enum vfiomig_state after;
	int r;

	r = load_bytes(stream, len, "mock:dst,size=64K,mdev_type=mtty-1,fail=set:1:EIO",
		       &after, &st, why, sizeof(why));
	ck_assert_int_eq(r, -ENODEV);
	ck_assert_int_eq(after, S(RUNNING));
	ck_assert_msg(strstr(why, "stream is for an mdev of type mtty-2 (mock), device is an mdev "
			     "of type mtty-1 (mock); the mdev types (stream mtty-2, device mtty-1) "
			     "differ; use --force"), "%s", why);
	r = load_bytes(stream, len, "mock:dst,size=64K,mdev_type=mtty-2", &after, &st, why,
		       sizeof(why));
	ck_assert_msg(r == 0, "%s", why);
	free(stream);
}
END_TEST

/*
 * Two identities that describe alike ("15b3:101e (mock)") but differ in a
 * field the description leaves out: the sentence names that field, with
 * both values, and still gives the way to load anyway.
 */
START_TEST(test_identity_names_the_difference)
{
	char *stream, why[512];
	size_t len = make_stream(",size=64K,pci=15b3:101e:15b3:0001", &stream);
	struct vfiomig_stats st = { .sz = sizeof(st) };
	enum vfiomig_state after;
	int r;

	r = load_bytes(stream, len, "mock:dst,size=64K,pci=15b3:101e:15b3:0002", &after, &st,
		       why, sizeof(why));
	ck_assert_int_eq(r, -ENODEV);
	ck_assert_int_eq(after, S(RUNNING));
	ck_assert_msg(strstr(why, "mock:dst: stream is for 15b3:101e (mock), device is 15b3:101e "
			     "(mock); the subsystem IDs (stream 15b3:0001, device 15b3:0002) "
			     "differ; use --force to load anyway; the device is now in RUNNING"),
		      "%s", why);
	/* Several fields: each named once, the last after "and". */
	r = load_bytes(stream, len, "mock:dst,size=64K,pci=8086:1889:8086:0000,driver=ice-vfio-pci",
		       &after, &st, why, sizeof(why));
	ck_assert_int_eq(r, -ENODEV);
	ck_assert_msg(strstr(why, "; the PCI IDs, the subsystem IDs (stream 15b3:0001, device "
			     "8086:0000) and the drivers differ; use --force"), "%s", why);
	free(stream);
}
END_TEST

/*
 * Loads @len bytes of @buf with @flags (raw: in writes of 16 KiB, as
 * make_stream()'s records); the error's facts into @info, its sentence
 * into @why.
 */
static int load_bytes_info(const char *buf, size_t len, const char *dst_spec, unsigned int flags,
			   struct vfiomig_error *info, char *why, size_t whylen)
{
	struct vfiomig_load_opts lo = { .sz = sizeof(lo), .flags = flags, .buffer_size = 16 * 1024 };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dst;
	int fd = memfd_of(buf, len), r;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dst = open_dev(ctx, "%s", dst_spec);
	r = vfiomig_dev_load(dst, fd, &lo);
	*info = (struct vfiomig_error){ .sz = sizeof(*info) };
	ck_assert_int_eq(vfiomig_ctx_get_error_info(ctx, info), 0);
	snprintf(why, whylen, "%s", info->message);
	ck_assert_int_eq(state_of(dst), S(STOP));
	close(fd);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
	return r;
}

/*
 * A device that refuses the very first data of an intact stream was most
 * likely given another model's, firmware's or configuration's state: the
 * sentence says so, in the library's own terms (no program named), and
 * the facts say it as data.  A later refusal is the data's, and a raw
 * stream has no records to speak of.
 */
START_TEST(test_first_data_rejected)
{
	struct vfiomig_save_opts raw_opts = { .sz = sizeof(raw_opts), .flags = VFIOMIG_XFER_RAW };
	struct vfiomig_error info;
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src;
	char *stream, *raw, why[1024];
	size_t len = make_stream(",size=64K", &stream), raw_len;
	int r, fd;

	/* Another size: the mock refuses the header, mtty-like (EFAULT). */
	r = load_bytes_info(stream, len, "mock:dst,size=128K", 0, &info, why, sizeof(why));
	ck_assert_int_eq(r, -EFAULT);
	ck_assert_msg(strstr(why, "mock:dst: the device rejected the stream's first data (the "
			     "record at stream offset ") &&
		      strstr(why, "): Bad address; the stream is probably from an incompatible "
			     "device (another model, firmware or configuration): compare the "
			     "device with the stream's identity; the partial state was discarded; "
			     "the device is now in STOP"), "%s", why);
	ck_assert_msg(!strstr(why, "vfiomig-ctl") && !strstr(why, "()"), "%s", why);
	ck_assert_int_eq(info.first_data_rejected, 1);
	ck_assert_uint_lt(info.stream_offset, len);

	/* The second record refused: the data's fault, said as before. */
	r = load_bytes_info(stream, len, "mock:dst,size=64K,fail=write:2:EIO", 0, &info, why,
			    sizeof(why));
	ck_assert_int_eq(r, -EIO);
	ck_assert_msg(strstr(why, "the device rejected the data of the record at stream offset "),
		      "%s", why);
	ck_assert_msg(!strstr(why, "incompatible"), "%s", why);
	ck_assert_int_eq(info.first_data_rejected, 0);

	/* Raw: no "record", and a raw stream has no identity to compare. */
	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	src = open_dev(ctx, "mock:src,size=64K");
	fd = save_to_memfd(src, &raw_opts);
	raw_len = read_all(fd, &raw);
	close(fd);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
	r = load_bytes_info(raw, raw_len, "mock:dst,size=128K", VFIOMIG_XFER_RAW, &info, why,
			    sizeof(why));
	ck_assert_int_eq(r, -EFAULT);
	ck_assert_msg(strstr(why, "mock:dst: the device rejected the stream's first data: Bad "
			     "address; the stream is probably from an incompatible device "
			     "(another model, firmware or configuration); the partial state"),
		      "%s", why);
	ck_assert_msg(!strstr(why, "record") && !strstr(why, "identity"), "%s", why);
	ck_assert_int_eq(info.first_data_rejected, 1);
	r = load_bytes_info(raw, raw_len, "mock:dst,size=64K,fail=write:2:EIO", VFIOMIG_XFER_RAW,
			    &info, why, sizeof(why));
	ck_assert_int_eq(r, -EIO);
	ck_assert_msg(strstr(why, "the device rejected the data at stream offset "), "%s", why);
	ck_assert_msg(!strstr(why, "record"), "%s", why);

	/* A whole vfiomig stream loaded raw: said so, not blamed on the device. */
	r = load_bytes_info(stream, len, "mock:dst,size=64K", VFIOMIG_XFER_RAW, &info, why,
			    sizeof(why));
	ck_assert_int_lt(r, 0);
	ck_assert_msg(strstr(why, "the device rejected the stream's first data: ") &&
		      strstr(why, "; these bytes are a vfiomig stream, not a device's bare "
			     "bytes: load it without raw mode"), "%s", why);
	ck_assert_int_eq(info.first_data_rejected, 0);
	free(raw);
	free(stream);
}
END_TEST

/* Opens @spec into @g, which holds the reference. */
static void add_member(struct vfiomig_group *g, struct vfiomig_ctx *ctx, const char *spec)
{
	struct vfiomig_dev *dev = open_dev(ctx, "%s", spec);

	ck_assert_int_eq(vfiomig_group_add(g, dev), 0);
	vfiomig_dev_unref(dev);
}

/* A group's load: the member that refused its first data is the call's cause, with the fact. */
START_TEST(test_first_data_rejected_group)
{
	struct vfiomig_save_opts so = { .sz = sizeof(so) };
	struct vfiomig_load_opts lo = { .sz = sizeof(lo) };
	struct vfiomig_error info = { .sz = sizeof(info) };
	struct vfiomig_group *src, *dst;
	struct vfiomig_ctx *ctx;
	int fd = memfd_create("group", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	ck_assert_int_eq(vfiomig_group_new(ctx, 0, &src), 0);
	ck_assert_int_eq(vfiomig_group_new(ctx, 0, &dst), 0);
	add_member(src, ctx, "mock:a,size=64K");
	add_member(src, ctx, "mock:b,size=64K");
	add_member(dst, ctx, "mock:a2,size=64K");
	add_member(dst, ctx, "mock:b2,size=128K");
	ck_assert_int_eq(vfiomig_group_save(src, &fd, 1, &so), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(vfiomig_group_load(dst, &fd, 1, &lo), -EFAULT);
	ck_assert_int_eq(vfiomig_ctx_get_error_info(ctx, &info), 0);
	ck_assert_str_eq(info.device, "mock:b2");
	ck_assert_int_eq(info.first_data_rejected, 1);
	ck_assert_msg(strstr(info.message, "probably from an incompatible device"), "%s",
		      info.message);
	close(fd);
	vfiomig_group_unref(src);
	vfiomig_group_unref(dst);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_not_a_stream)
{
	static const char text[] = "hello, this is not a device state\n";
	char *raw, why[512];
	struct vfiomig_stats st = { .sz = sizeof(st) };
	enum vfiomig_state after;
	struct vfiomig_save_opts so = { .sz = sizeof(so), .flags = VFIOMIG_XFER_RAW };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src;
	size_t len;
	int fd, r;

	r = load_bytes(text, sizeof(text), "mock:dst,state=stop", &after, &st, why, sizeof(why));
	ck_assert_int_eq(r, -EPROTO);
	ck_assert_ptr_nonnull(strstr(why, "not a vfiomig stream"));
	ck_assert_int_eq(after, S(STOP));

	/* A raw stream needs raw mode, and the message names the option. */
	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	src = open_dev(ctx, "mock:src,size=4K");
	fd = save_to_memfd(src, &so);
	len = read_all(fd, &raw);
	r = load_bytes(raw, len, "mock:dst,size=4K,state=stop", &after, &st, why, sizeof(why));
	ck_assert_int_eq(r, -EPROTO);
	ck_assert_ptr_nonnull(strstr(why, "use --raw"));
	close(fd);
	free(raw);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
}
END_TEST

static bool sigpipe_pending(void)
{
	sigset_t set;

	ck_assert_int_eq(sigpending(&set), 0);
	return sigismember(&set, SIGPIPE);
}

static bool sigpipe_blocked(void)
{
	sigset_t set;

	ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, NULL, &set), 0);
	return sigismember(&set, SIGPIPE);
}

/* The reader goes away mid-stream: EPIPE (no SIGPIPE), and the source runs on. */
START_TEST(test_peer_hangs_up)
{
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = VFIOMIG_PRECOPY_MODE_AUTO };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src;
	int p[2], r, before = count_fds();

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	src = open_dev(ctx, "mock:src,size=8M");
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	/* Close the read end right away: every write fails. */
	close(p[0]);
	r = vfiomig_dev_save(src, p[1], &so);
	ck_assert_int_eq(r, -EPIPE);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "reader went away"));
	ck_assert_int_eq(state_of(src), S(RUNNING));
	/* The SIGPIPE the writes raised was taken back, and the mask restored. */
	ck_assert(!sigpipe_pending());
	ck_assert(!sigpipe_blocked());
	close(p[1]);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

/* A SIGPIPE the caller had blocked and pending before stays so. */
START_TEST(test_callers_sigpipe_left_alone)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src;
	sigset_t pipe_set;
	int p[2], sig;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &pipe_set, NULL), 0);
	ck_assert_int_eq(raise(SIGPIPE), 0);
	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	src = open_dev(ctx, "mock:src,size=1M,state=stop");
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	close(p[0]);
	ck_assert_int_eq(vfiomig_dev_save(src, p[1], NULL), -EPIPE);
	ck_assert(sigpipe_pending());
	ck_assert(sigpipe_blocked());
	ck_assert_int_eq(sigwait(&pipe_set, &sig), 0);
	close(p[1]);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
}
END_TEST

struct raiser {
	struct vfiomig_cancel *cancel;
	int delay_ms;
	pthread_t thread;
};

static void *raise_later(void *data)
{
	struct raiser *r = data;

	usleep((useconds_t)r->delay_ms * 1000);
	vfiomig_cancel_raise(r->cancel);
	return NULL;
}

/* A save from a slow device (8 s of data) is cancelled after 0.3 s. */
START_TEST(test_cancel_save)
{
	struct raiser rz = { .delay_ms = 300 };
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = VFIOMIG_PRECOPY_MODE_AUTO };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src;
	int out, before = count_fds();

	ck_assert_int_eq(vfiomig_cancel_new(&rz.cancel), 0);
	so.cancel = rz.cancel;
	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	src = open_dev(ctx, "mock:src,size=32M,rate=4M");
	out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	pthread_create(&rz.thread, NULL, raise_later, &rz);
	ck_assert_int_eq(vfiomig_dev_save(src, out, &so), -ECANCELED);
	pthread_join(rz.thread, NULL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "cancelled"));
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "now in RUNNING"));
	ck_assert_int_eq(state_of(src), S(RUNNING));
	close(out);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
	vfiomig_cancel_unref(rz.cancel);
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

/* A pipe holding the first third of @stream, whose writer then stalls. */
static void stall_after_a_third(int p[2], const char *stream, size_t len)
{
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(fcntl(p[1], F_SETPIPE_SZ, 1 << 20), 1 << 20);
	ck_assert_int_eq(write(p[1], stream, len / 3), (ssize_t)(len / 3));
}

/* A load whose input stalls half-way: cancelled, the partial state is discarded. */
START_TEST(test_cancel_load)
{
	struct raiser rz = { .delay_ms = 300 };
	struct vfiomig_load_opts lo = { .sz = sizeof(lo) };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dst;
	char *stream;
	size_t len = make_stream(",size=2M", &stream);
	int p[2];

	ck_assert_int_eq(vfiomig_cancel_new(&rz.cancel), 0);
	lo.cancel = rz.cancel;
	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dst = open_dev(ctx, "mock:dst,size=2M");
	stall_after_a_third(p, stream, len);
	pthread_create(&rz.thread, NULL, raise_later, &rz);
	ck_assert_int_eq(vfiomig_dev_load(dst, p[0], &lo), -ECANCELED);
	pthread_join(rz.thread, NULL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "partial state was discarded"));
	ck_assert_int_eq(state_of(dst), S(STOP));
	close(p[0]);
	close(p[1]);
	free(stream);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
	vfiomig_cancel_unref(rz.cancel);
}
END_TEST

/* The device fails while the input stalls: the load returns, it does not wait for the peer. */
START_TEST(test_device_fails_input_stalls)
{
	struct vfiomig_load_opts lo = { .sz = sizeof(lo) };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dst;
	char *stream;
	size_t len = make_stream(",size=2M", &stream);
	int p[2];

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dst = open_dev(ctx, "mock:dst,size=2M,fail=write:2:EIO");
	stall_after_a_third(p, stream, len);
	ck_assert_int_eq(vfiomig_dev_load(dst, p[0], &lo), -EIO);	/* Check's timeout would catch a hang */
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "rejected the data"));
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "now in STOP"));
	ck_assert_int_eq(state_of(dst), S(STOP));
	close(p[0]);
	close(p[1]);
	free(stream);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/*
 * The fault sweep.  _i picks the scenario; every op of the mock (ioctl,
 * data read, data write) is one step, and step N alone fails.  Checked:
 * no crash (Check forks), no fd leak, the source back in its starting state,
 * the destination not RUNNING after a failed load.
 */
struct sweep {
	bool swept_src;			/* else the destination is swept */
	const char *src, *dst;
	enum vfiomig_precopy_mode precopy;
};

static const struct sweep sweeps[] = {
	{ true, "mock:src,size=300K,dirty=64K", "mock:dst,size=300K,state=stop",
	  VFIOMIG_PRECOPY_MODE_AUTO },
	{ true, "mock:src,size=300K,state=stop", "mock:dst,size=300K,state=stop",
	  VFIOMIG_PRECOPY_MODE_NEVER },
	{ true, "mock:src,size=300K,dirty=64K,eom=zero,flags=stop_copy+pre_copy",
	  "mock:dst,size=300K,state=stop,flags=stop_copy+pre_copy", VFIOMIG_PRECOPY_MODE_ROUNDS },
	{ false, "mock:src,size=300K,dirty=64K", "mock:dst,size=300K,state=stop",
	  VFIOMIG_PRECOPY_MODE_AUTO },
	{ false, "mock:src,size=300K,flags=stop_copy", "mock:dst,size=300K,flags=stop_copy",
	  VFIOMIG_PRECOPY_MODE_NEVER },
	{ false, "mock:src,size=300K,dirty=64K,eom=zero", "mock:dst,size=300K",
	  VFIOMIG_PRECOPY_MODE_ROUNDS },
	/* mlx5_vfio_pci's framing: its write() fails on a bad record */
	{ true, "mock:src,size=300K,dirty=64K,personality=mlx5",
	  "mock:dst,size=300K,state=stop,personality=mlx5", VFIOMIG_PRECOPY_MODE_ROUNDS },
	{ false, "mock:src,size=300K,dirty=64K,personality=mlx5",
	  "mock:dst,size=300K,state=stop,personality=mlx5", VFIOMIG_PRECOPY_MODE_AUTO },
};
#define NSWEEPS ((int)(sizeof(sweeps) / sizeof(sweeps[0])))

/* The swept device's injected fault fires once: a second GET gets through. */
static enum vfiomig_state state_twice(struct vfiomig_dev *dev)
{
	enum vfiomig_state s;

	if (vfiomig_dev_get_state(dev, &s) < 0)
		ck_assert_int_eq(vfiomig_dev_get_state(dev, &s), 0);
	return s;
}

/* One save-into-load with step @step failing on the swept side; 1 if it failed. */
static int sweep_once(const struct sweep *w, int step)
{
	/* Small buffers: more reads and writes, so more steps to fail. */
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = w->precopy, .precopy_rounds = 2,
					.buffer_size = 16 * 1024 };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src, *dst;
	enum vfiomig_state src_start, dst_start;
	struct loader l = { 0 };
	char spec[256];
	int r;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	snprintf(spec, sizeof(spec), "%s,fail=any:%d:EIO", w->swept_src ? w->src : w->dst, step);
	if (vfiomig_dev_open(ctx, spec, w->swept_src ? &src : &dst) < 0) {
		vfiomig_ctx_unref(ctx);
		return 1;	/* the fault hit the open itself: refused cleanly */
	}
	if (w->swept_src)
		dst = open_dev(ctx, "%s", w->dst);
	else
		src = open_dev(ctx, "%s", w->src);
	src_start = state_twice(src);
	dst_start = state_twice(dst);

	save_into_load(src, &so, dst, &l, &r);
	if (r < 0)
		ck_assert_msg(state_twice(src) == src_start, "step %d: save failed (%d) and left the "
			      "source %s, not %s", step, r, vfiomig_state_name(state_twice(src)),
			      vfiomig_state_name(src_start));
	/* A load that never started RESUMING leaves the device as it was;
	 * one that gave the device data leaves it reset and stopped. */
	if (l.r < 0 && l.stats.downtime_ns == 0)
		ck_assert_msg(state_twice(dst) == dst_start, "step %d: load failed before "
			      "resuming but moved the destination", step);
	else if (l.r < 0)
		ck_assert_msg(state_twice(dst) != S(RUNNING), "step %d: failed load left the "
			      "destination RUNNING with partial state", step);
	if (r == 0 && l.r == 0) {
		ck_assert_int_eq(state_twice(dst), S(RUNNING));
		assert_same_state(ctx, src, dst);
	}
	vfiomig_dev_unref(src);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
	return r < 0 || l.r < 0;
}

START_TEST(test_fault_sweep)
{
	const struct sweep *w = &sweeps[_i];
	int before = count_fds(), failures = 0, clean = 0, step;

	/*
	 * Some faults are absorbed (an optional feature's probe, a size
	 * estimate); past the last step none fires, so a long run of clean
	 * transfers means the sweep covered every step.
	 */
	for (step = 1; step < 3000 && clean < 40; step++) {
		if (sweep_once(w, step)) {
			failures++;
			clean = 0;
		} else {
			clean++;
		}
		ck_assert_int_eq(count_fds(), before);
	}
	ck_assert_msg(clean == 40, "the sweep did not reach the end");
	ck_assert_int_gt(failures, 20);
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("migrate");
	TCase *tc = tcase_create("migrate");

	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_roundtrip, 0, 24);
	tcase_add_test(tc, test_leave_and_raw);
	tcase_add_test(tc, test_progress);
	tcase_add_test(tc, test_precopy_pays);
	tcase_add_test(tc, test_precopy_initial_rule);
	tcase_add_test(tc, test_options);
	tcase_add_loop_test(tc, test_building_blocks, 0, 2);
	tcase_add_loop_test(tc, test_read_drained, 0, 2);
	tcase_add_test(tc, test_event_loop);
	tcase_add_test(tc, test_write_some_rejected);
	tcase_add_test(tc, test_corrupt_every_byte);
	tcase_add_test(tc, test_truncate_every_length);
	tcase_add_test(tc, test_identity_mismatch);
	tcase_add_test(tc, test_mdev_type_mismatch);
	tcase_add_test(tc, test_identity_names_the_difference);
	tcase_add_test(tc, test_first_data_rejected);
	tcase_add_test(tc, test_first_data_rejected_group);
	tcase_add_test(tc, test_not_a_stream);
	tcase_add_test(tc, test_peer_hangs_up);
	tcase_add_test(tc, test_callers_sigpipe_left_alone);
	tcase_add_test(tc, test_cancel_save);
	tcase_add_test(tc, test_cancel_load);
	tcase_add_test(tc, test_device_fails_input_stalls);
	tcase_add_loop_test(tc, test_fault_sweep, 0, NSWEEPS);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
