/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The thread rules of vfiomig/vfiomig.h, through the public API on mock
 * devices:
 * - four threads drive four devices of one context at once, saving and
 *   loading through pipes with faults injected into some, and each thread
 *   finds its own failure (or none) in vfiomig_ctx_get_error() and
 *   vfiomig_ctx_get_error_info();
 * - a second thread calling into a device that a first thread is saving
 *   gets -EBUSY and changes nothing;
 * - a cancel object raised from another thread, or from a signal handler,
 *   wakes a save or load blocked in I/O at once (finding F8: within 50 ms).
 *
 * Ordering comes from barriers, semaphores, progress callbacks and the
 * kernel's account of where a thread sleeps (/proc/self/task/TID/syscall),
 * never from sleeping "long enough".  Check's asserts run only on the
 * test's own thread: worker threads write what they found wrong into a
 * verdict that the test asserts on after joining them.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "test-util.h"
#include <vfiomig/vfiomig.h>

#define S(x) VFIOMIG_STATE_##x
#define MS 1000000ull

/* How long a raised cancel may take to end a blocked call (finding F8). */
#define CANCEL_WITHIN_NS (50 * MS)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- verdicts: what a worker thread found wrong, asserted on later ---- */

struct verdict {
	char why[768];
};

static void fault(struct verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fault(struct verdict *v, const char *fmt, ...)
{
	va_list ap;

	if (v->why[0])
		return;	/* the first thing found wrong is the one reported */
	va_start(ap, fmt);
	vsnprintf(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
}

#define EXPECT(v, cond, ...) do { if (!(cond)) fault((v), __VA_ARGS__); } while (0)

/* A message names no C function (finding F3). */
static void expect_plain(struct verdict *v, const char *msg)
{
	EXPECT(v, !strstr(msg, "vfiomig_") && !strstr(msg, "()"),
	       "the message names a C function: %s", msg);
}

/*
 * The calling thread's account of its last call on @ctx, which returned
 * @r on @dev (named @name): nothing after a success; after a failure, a
 * sentence and facts about @dev alone (none of @others), with the state
 * vfiomig_dev_get_state() then reads.  @stats, if given, is the call's.
 */
static void expect_own_error(struct verdict *v, struct vfiomig_ctx *ctx, struct vfiomig_dev *dev,
			     const char *name, int r, const char *const *others, int nothers,
			     const struct vfiomig_stats *stats)
{
	struct vfiomig_error info = { .sz = sizeof(info) };
	const char *msg = vfiomig_ctx_get_error(ctx);
	int info_r = vfiomig_ctx_get_error_info(ctx, &info);
	enum vfiomig_state now = S(ERROR);
	char copy[1024], tail[64];
	int gr;

	if (r == 0) {
		EXPECT(v, msg == NULL, "%s: a successful call left a message: %s", name, msg);
		EXPECT(v, info_r == -ENOENT, "%s: a successful call left facts (%d)", name, info_r);
		return;
	}
	if (!msg) {
		fault(v, "%s: the call failed (%d) but left no message", name, r);
		return;
	}
	/* Valid only until this thread's next call: vfiomig_dev_get_state() below. */
	snprintf(copy, sizeof(copy), "%s", msg);
	expect_plain(v, copy);
	EXPECT(v, strstr(copy, name) != NULL, "%s: the message is not about it: %s", name, copy);
	for (int i = 0; i < nothers; i++)
		EXPECT(v, strstr(copy, others[i]) == NULL, "%s: the message is %s's: %s", name,
		       others[i], copy);
	EXPECT(v, info_r == 0, "%s: vfiomig_ctx_get_error_info() gave %d", name, info_r);
	if (info_r != 0)
		return;
	EXPECT(v, info.err == -r, "%s: info.err %d for a return of %d", name, info.err, r);
	EXPECT(v, info.message && strcmp(info.message, copy) == 0, "%s: info.message differs",
	       name);
	EXPECT(v, info.device && strcmp(info.device, name) == 0, "%s: info.device is %s", name,
	       info.device ? info.device : "NULL");
	if (stats)
		EXPECT(v, info.stream_offset == stats->error_offset,
		       "%s: info.stream_offset %" PRIu64 ", stats.error_offset %" PRIu64, name,
		       info.stream_offset, stats->error_offset);
	gr = vfiomig_dev_get_state(dev, &now);
	EXPECT(v, gr == 0, "%s: vfiomig_dev_get_state() gave %d", name, gr);
	EXPECT(v, info.has_state == 1 && info.state == now, "%s: info says %s (has_state %d), "
	       "the device says %s", name, vfiomig_state_name(info.state), info.has_state,
	       vfiomig_state_name(now));
	/* The sentence ends with that state, or with the advice to reset. */
	snprintf(tail, sizeof(tail), "now in %s", vfiomig_state_name(now));
	EXPECT(v, strstr(copy, tail) != NULL, "%s: the message does not end in %s: %s", name,
	       vfiomig_state_name(now), copy);
	/* And that successful call cleared it. */
	EXPECT(v, vfiomig_ctx_get_error(ctx) == NULL, "%s: a successful get_state kept the "
	       "message", name);
}

/* ---- helpers for the test's own thread ---- */

/* A raw save of @dev (left RUNNING) into memory; *ret is malloc()ed. */
static size_t raw_state(struct vfiomig_dev *dev, char **ret)
{
	struct vfiomig_save_opts raw = { .sz = sizeof(raw), .flags = VFIOMIG_XFER_RAW,
					 .leave = VFIOMIG_LEAVE_RUNNING };
	int fd = memfd_create("raw", MFD_CLOEXEC);
	off_t len;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vfiomig_dev_save(dev, fd, &raw), 0);
	len = lseek(fd, 0, SEEK_END);
	ck_assert_int_gt(len, 0);
	*ret = malloc((size_t)len);
	ck_assert_ptr_nonnull(*ret);
	ck_assert_int_eq(pread(fd, *ret, (size_t)len, 0), len);
	close(fd);
	return (size_t)len;
}

/* The destination holds exactly the source's state, byte for byte. */
static void assert_same_state(struct vfiomig_dev *a, struct vfiomig_dev *b)
{
	char *ba, *bb;
	size_t la = raw_state(a, &ba), lb = raw_state(b, &bb);

	ck_assert_uint_eq(la, lb);
	ck_assert_msg(memcmp(ba, bb, la) == 0, "the device states differ");
	free(ba);
	free(bb);
}

/* A plain save of a fresh device opened from @spec, in memory; *ret is malloc()ed. */
static size_t make_stream(const char *spec, char **ret)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src;
	int fd = memfd_create("stream", MFD_CLOEXEC);
	off_t len;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	src = open_dev(ctx, "%s", spec);
	ck_assert_int_eq(vfiomig_dev_save(src, fd, NULL), 0);
	len = lseek(fd, 0, SEEK_END);
	*ret = malloc((size_t)len);
	ck_assert_ptr_nonnull(*ret);
	ck_assert_int_eq(pread(fd, *ret, (size_t)len, 0), len);
	close(fd);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
	return (size_t)len;
}

/*
 * Waits until thread @tid sleeps in a system call that waits for an fd:
 * poll(2) or ppoll(2), where the library waits for an fd and its cancel
 * object, or read(2), where a wait would not see it (so that the test
 * then fails on the time the cancel took, which says what is wrong).
 * The kernel names the system call a sleeping thread is in.  False after
 * @timeout_ms without it.
 */
static bool wait_until_waiting(pid_t tid, int timeout_ms)
{
	static const struct timespec ms = { .tv_nsec = 1000000 };
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * MS;
	char path[64], buf[256];

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	while (now_ns() < deadline) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		long nr;

		if (fd >= 0)
			close(fd);
		/* "running", or the number of the system call it sleeps in */
		if (n > 0 && buf[0] >= '0' && buf[0] <= '9') {
			buf[n] = '\0';
			nr = strtol(buf, NULL, 10);
#ifdef SYS_poll
			if (nr == SYS_poll)
				return true;
#endif
			if (nr == SYS_ppoll || nr == SYS_read)
				return true;
		}
		nanosleep(&ms, NULL);
	}
	return false;
}

/* ---- four threads, four devices, one context ---- */

#ifndef ROUNDS	/* more for a longer hunt: -DROUNDS=1000 */
#define ROUNDS 20
#endif
#define XFER_SIZE "4M"

struct worker {
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	const char *name;
	const char *others[3];
	bool save;
	int fd;			/* the pipe end: closed by the worker after its call */
	pthread_barrier_t *start, *done;
	int expect_r;
	enum vfiomig_state expect_state;
	int r;
	struct vfiomig_stats stats;
	struct verdict v;
	pthread_t thread;
};

static void *work(void *data)
{
	struct worker *w = data;
	enum vfiomig_state now = S(ERROR);

	w->stats.sz = sizeof(w->stats);
	pthread_barrier_wait(w->start);
	if (w->save) {
		struct vfiomig_save_opts so = { .sz = sizeof(so), .leave = VFIOMIG_LEAVE_RUNNING,
						.stats = &w->stats };

		w->r = vfiomig_dev_save(w->dev, w->fd, &so);
	} else {
		struct vfiomig_load_opts lo = { .sz = sizeof(lo), .stats = &w->stats };

		w->r = vfiomig_dev_load(w->dev, w->fd, &lo);
	}
	close(w->fd);	/* the peer's EOF or EPIPE */
	/*
	 * Every thread's call has ended before any thread looks at its error:
	 * four accounts are held at once, and each must still be its own.
	 */
	pthread_barrier_wait(w->done);
	EXPECT(&w->v, w->r == w->expect_r, "%s: the %s returned %d, expected %d (%s)", w->name,
	       w->save ? "save" : "load", w->r, w->expect_r, vfiomig_ctx_get_error(w->ctx));
	/* A load's failure and a save's failed write both give the offset. */
	expect_own_error(&w->v, w->ctx, w->dev, w->name, w->r, w->others, 3, &w->stats);
	EXPECT(&w->v, vfiomig_dev_get_state(w->dev, &now) == 0 && now == w->expect_state,
	       "%s: left in %s, expected %s", w->name, vfiomig_state_name(now),
	       vfiomig_state_name(w->expect_state));
	return NULL;
}

/*
 * Round r: pair 0 saves mock:src0 into mock:dst0, pair 1 mock:src1 into
 * mock:dst1, through two pipes, all four calls at once.  Bit 0 of r makes
 * src0's second data read fail (EIO: its loader then sees a truncated
 * stream), bit 1 dst1's third data write (EIO: its saver then finds the
 * reader gone, EPIPE, with megabytes still to write).  Over the rounds
 * every mix of failed and successful neighbours is seen, several times.
 */
START_TEST(test_four_threads_one_ctx)
{
	static const char *const names[4] = { "mock:src0", "mock:dst0", "mock:src1", "mock:dst1" };
	struct vfiomig_ctx *ctx;
	int before = count_fds();

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	for (int round = 0; round < ROUNDS; round++) {
		bool src_fails = round & 1, dst_fails = round & 2;
		struct worker w[4] = { 0 };
		pthread_barrier_t start, done;
		int p0[2], p1[2];

		ck_assert_int_eq(pipe2(p0, O_CLOEXEC), 0);
		ck_assert_int_eq(pipe2(p1, O_CLOEXEC), 0);
		w[0].dev = open_dev(ctx, "%s,size=" XFER_SIZE "%s", names[0],
				    src_fails ? ",fail=read:2:EIO" : "");
		w[1].dev = open_dev(ctx, "%s,size=" XFER_SIZE, names[1]);
		w[2].dev = open_dev(ctx, "%s,size=" XFER_SIZE, names[2]);
		w[3].dev = open_dev(ctx, "%s,size=" XFER_SIZE "%s", names[3],
				    dst_fails ? ",fail=write:3:EIO" : "");
		w[0].fd = p0[1];
		w[1].fd = p0[0];
		w[2].fd = p1[1];
		w[3].fd = p1[0];
		w[0].expect_r = src_fails ? -EIO : 0;
		w[1].expect_r = src_fails ? -EBADMSG : 0;
		w[2].expect_r = dst_fails ? -EPIPE : 0;
		w[3].expect_r = dst_fails ? -EIO : 0;
		/* A source is back where it started; a failed destination is
		 * reset and stopped, never RUNNING with part of a state. */
		w[0].expect_state = S(RUNNING);
		w[1].expect_state = src_fails ? S(STOP) : S(RUNNING);
		w[2].expect_state = S(RUNNING);
		w[3].expect_state = dst_fails ? S(STOP) : S(RUNNING);
		pthread_barrier_init(&start, NULL, 4);
		pthread_barrier_init(&done, NULL, 4);
		for (int i = 0; i < 4; i++) {
			w[i].ctx = ctx;
			w[i].name = names[i];
			w[i].save = i % 2 == 0;
			w[i].start = &start;
			w[i].done = &done;
			for (int j = 0, k = 0; j < 4; j++)
				if (j != i)
					w[i].others[k++] = names[j];
			ck_assert_int_eq(pthread_create(&w[i].thread, NULL, work, &w[i]), 0);
		}
		for (int i = 0; i < 4; i++)
			pthread_join(w[i].thread, NULL);
		pthread_barrier_destroy(&start);
		pthread_barrier_destroy(&done);
		for (int i = 0; i < 4; i++) {
			ck_assert_msg(!w[i].v.why[0], "round %d: %s", round, w[i].v.why);
			vfiomig_dev_unref(w[i].dev);
		}
	}
	/* The test's own thread made no failed call: nothing of the others' is here. */
	ck_assert_ptr_null(vfiomig_ctx_get_error(ctx));
	vfiomig_ctx_unref(ctx);
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

/* ---- (a) a second thread on a busy device ---- */

struct busy {
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	int fd, r;
	sem_t inside;		/* posted from the call's first progress report */
	sem_t go;		/* the loader starts */
	sem_t release;		/* the loader's first progress report returns */
	bool hold;		/* wait for release in the first report */
	int reports;
	struct verdict v;
	pthread_t thread;
};

static void busy_progress(void *data, const struct vfiomig_progress *p)
{
	struct busy *b = data;

	(void)p;
	if (b->reports++ == 0) {
		sem_post(&b->inside);
		if (b->hold)
			sem_wait(&b->release);
	}
}

static void *busy_save(void *data)
{
	struct busy *b = data;
	struct vfiomig_save_opts so = { .sz = sizeof(so), .progress = busy_progress, .userdata = b };

	b->r = vfiomig_dev_save(b->dev, b->fd, &so);
	close(b->fd);
	/* The other thread's -EBUSY is not this thread's. */
	expect_own_error(&b->v, b->ctx, b->dev, "mock:busy-src", b->r, NULL, 0, NULL);
	return NULL;
}

static void *busy_load(void *data)
{
	struct busy *b = data;
	struct vfiomig_load_opts lo = { .sz = sizeof(lo), .progress = busy_progress, .userdata = b };

	sem_wait(&b->go);
	b->r = vfiomig_dev_load(b->dev, b->fd, &lo);
	close(b->fd);
	expect_own_error(&b->v, b->ctx, b->dev, "mock:busy-dst", b->r, NULL, 0, NULL);
	return NULL;
}

/* The test thread's last call failed with -EBUSY on @name, and said so. */
static void assert_busy(struct vfiomig_ctx *ctx, int r, const char *name, const char *what)
{
	struct vfiomig_error info = { .sz = sizeof(info) };
	const char *msg = vfiomig_ctx_get_error(ctx);

	ck_assert_msg(r == -EBUSY, "%s on a busy %s gave %d", what, name, r);
	ck_assert_msg(msg && strstr(msg, name) && strstr(msg, "another thread"),
		      "%s: %s", what, msg ? msg : "no message");
	ck_assert_msg(!strstr(msg, "vfiomig_") && !strstr(msg, "()"), "%s", msg);
	ck_assert_int_eq(vfiomig_ctx_get_error_info(ctx, &info), 0);
	ck_assert_int_eq(info.err, EBUSY);
	ck_assert_str_eq(info.device, name);
	ck_assert_uint_eq(info.stream_offset, UINT64_MAX);
	/* Its state belongs to the thread inside: read at all, it is that call's. */
	if (info.has_state)
		ck_assert_msg(info.state == S(STOP_COPY) || info.state == S(RESUMING),
			      "%s: state %s", what, vfiomig_state_name(info.state));
}

/* A save's or load's stats, filled on the -EBUSY return too (finding F6). */
static void assert_untouched_stats(const struct vfiomig_stats *st)
{
	ck_assert_uint_eq(st->sz, sizeof(*st));
	ck_assert_uint_eq(st->precopy_bytes, 0);
	ck_assert_uint_eq(st->stop_copy_bytes, 0);
	ck_assert_uint_eq(st->stream_bytes, 0);
	ck_assert_uint_eq(st->precopy_rounds, 0);
	ck_assert_uint_eq(st->downtime_ns, 0);
	ck_assert_uint_lt(st->elapsed_ns, 10000 * MS);
	ck_assert_uint_eq(st->error_offset, UINT64_MAX);
}

/*
 * A slow save (1 MiB at 5 MiB/s, into a pipe nobody reads yet: it cannot
 * end until the loader starts) and, once the loader is inside its call,
 * the load: every call of a second thread on either device gets -EBUSY,
 * and both transfers then finish as if nothing had happened.
 */
START_TEST(test_busy_device)
{
	struct busy s = { 0 }, l = { 0 };
	struct vfiomig_ctx *ctx;
	struct vfiomig_stats st;
	struct vfiomig_save_opts so = { .sz = sizeof(so), .stats = &st };
	struct vfiomig_load_opts lo = { .sz = sizeof(lo), .stats = &st };
	enum vfiomig_state sentinel = (enum vfiomig_state)77;
	uint64_t flags = 0;
	int before = count_fds(), p[2], fd, null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	s.ctx = l.ctx = ctx;
	s.dev = open_dev(ctx, "mock:busy-src,size=1M,rate=5M");
	l.dev = open_dev(ctx, "mock:busy-dst,size=1M");
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	s.fd = p[1];
	l.fd = p[0];
	l.hold = true;
	sem_init(&s.inside, 0, 0);
	sem_init(&l.inside, 0, 0);
	sem_init(&l.go, 0, 0);
	sem_init(&l.release, 0, 0);
	ck_assert_int_eq(pthread_create(&s.thread, NULL, busy_save, &s), 0);
	ck_assert_int_eq(pthread_create(&l.thread, NULL, busy_load, &l), 0);

	/* The save is inside its call, and stays there until the loader reads. */
	sem_wait(&s.inside);
	assert_busy(ctx, vfiomig_dev_get_state(s.dev, &sentinel), "mock:busy-src", "get_state");
	ck_assert_int_eq(sentinel, 77);
	assert_busy(ctx, vfiomig_dev_set_state(s.dev, S(RUNNING), NULL), "mock:busy-src",
		    "set_state");
	assert_busy(ctx, vfiomig_dev_reset(s.dev), "mock:busy-src", "reset");
	assert_busy(ctx, vfiomig_dev_recover(s.dev, NULL), "mock:busy-src", "recover");
	assert_busy(ctx, vfiomig_data_begin_save(s.dev, 0, &fd, NULL), "mock:busy-src",
		    "data_begin_save");
	assert_busy(ctx, vfiomig_data_begin_load(s.dev, &fd), "mock:busy-src",
		    "data_begin_load");
	memset(&st, 0xaa, sizeof(st));
	st.sz = sizeof(st);
	assert_busy(ctx, vfiomig_dev_save(s.dev, null, &so), "mock:busy-src", "save");
	assert_untouched_stats(&st);
	memset(&st, 0xaa, sizeof(st));
	st.sz = sizeof(st);
	assert_busy(ctx, vfiomig_dev_load(s.dev, p[0], &lo), "mock:busy-src", "load");
	assert_untouched_stats(&st);
	/* What was learnt at open is any thread's, and a success clears the error. */
	ck_assert_str_eq(vfiomig_dev_get_name(s.dev), "mock:busy-src");
	ck_assert_int_eq(vfiomig_dev_get_mig_flags(s.dev, &flags), 0);
	ck_assert_uint_ne(flags, 0);
	ck_assert_ptr_null(vfiomig_ctx_get_error(ctx));

	/* Now the loader, held inside its first progress report. */
	sem_post(&l.go);
	sem_wait(&l.inside);
	assert_busy(ctx, vfiomig_dev_get_state(l.dev, &sentinel), "mock:busy-dst", "get_state");
	memset(&st, 0xaa, sizeof(st));
	st.sz = sizeof(st);
	assert_busy(ctx, vfiomig_dev_load(l.dev, p[0], &lo), "mock:busy-dst", "load");
	assert_untouched_stats(&st);
	assert_busy(ctx, vfiomig_data_finish_load(l.dev, S(RUNNING)), "mock:busy-dst",
		    "data_finish_load");
	sem_post(&l.release);

	pthread_join(s.thread, NULL);
	pthread_join(l.thread, NULL);
	ck_assert_msg(!s.v.why[0], "saving thread: %s", s.v.why);
	ck_assert_msg(!l.v.why[0], "loading thread: %s", l.v.why);
	ck_assert_msg(s.r == 0 && l.r == 0, "save %d, load %d", s.r, l.r);
	/* This thread's last call was the refused finish_load: its message stays. */
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "another thread"));
	ck_assert_int_eq(state_of(s.dev), S(STOP));
	ck_assert_int_eq(state_of(l.dev), S(RUNNING));
	assert_same_state(s.dev, l.dev);

	sem_destroy(&s.inside);
	sem_destroy(&l.inside);
	sem_destroy(&l.go);
	sem_destroy(&l.release);
	vfiomig_dev_unref(s.dev);
	vfiomig_dev_unref(l.dev);
	vfiomig_ctx_unref(ctx);
	close(null);
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

/* ---- (b), (c) cancelling a blocked call (finding F8) ---- */

struct blocked {
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	const char *name;
	struct vfiomig_cancel *cancel;
	bool save;
	bool expect_discard;		/* loads: part of a state reached the device */
	enum vfiomig_precopy_mode precopy;
	int fd;
	pthread_barrier_t started;
	sem_t inside;			/* saves: the first progress report */
	sem_t returned;			/* the call returned */
	atomic_bool reported;
	pid_t tid;
	int r;
	uint64_t returned_ns;
	struct vfiomig_stats stats;
	struct verdict v;
	pthread_t thread;
};

static void blocked_progress(void *data, const struct vfiomig_progress *p)
{
	struct blocked *b = data;

	(void)p;
	if (!atomic_exchange(&b->reported, true))
		sem_post(&b->inside);
}

static void *blocked_call(void *data)
{
	struct blocked *b = data;
	const char *msg;

	b->tid = gettid();
	b->stats.sz = sizeof(b->stats);
	pthread_barrier_wait(&b->started);
	if (b->save) {
		struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = b->precopy,
						.progress = blocked_progress, .userdata = b,
						.stats = &b->stats, .cancel = b->cancel };

		b->r = vfiomig_dev_save(b->dev, b->fd, &so);
	} else {
		struct vfiomig_load_opts lo = { .sz = sizeof(lo), .stats = &b->stats,
						.cancel = b->cancel };

		b->r = vfiomig_dev_load(b->dev, b->fd, &lo);
	}
	b->returned_ns = now_ns();
	sem_post(&b->returned);
	msg = vfiomig_ctx_get_error(b->ctx);
	EXPECT(&b->v, msg && strstr(msg, b->save ? "save cancelled" : "load cancelled"),
	       "%s: not a cancel: %s", b->name, msg ? msg : "no message");
	if (b->expect_discard)
		EXPECT(&b->v, msg && strstr(msg, "partial state was discarded"),
		       "%s: the partial state stayed: %s", b->name, msg ? msg : "no message");
	expect_own_error(&b->v, b->ctx, b->dev, b->name, b->r, NULL, 0,
			 b->save ? NULL : &b->stats);
	return NULL;
}

static void blocked_start(struct blocked *b)
{
	sem_init(&b->inside, 0, 0);
	sem_init(&b->returned, 0, 0);
	atomic_init(&b->reported, false);
	pthread_barrier_init(&b->started, NULL, 2);
	ck_assert_int_eq(pthread_create(&b->thread, NULL, blocked_call, b), 0);
	pthread_barrier_wait(&b->started);
	if (b->save)
		sem_wait(&b->inside);
	ck_assert_msg(wait_until_waiting(b->tid, 10000), "the %s never waited",
		      b->save ? "save" : "load");
}

/* Joins the call and checks it was cancelled within CANCEL_WITHIN_NS of @raised_ns. */
static void blocked_finish(struct blocked *b, uint64_t raised_ns)
{
	uint64_t took;

	pthread_join(b->thread, NULL);
	pthread_barrier_destroy(&b->started);
	sem_destroy(&b->inside);
	sem_destroy(&b->returned);
	took = b->returned_ns - raised_ns;
	ck_assert_msg(!b->v.why[0], "%s", b->v.why);
	ck_assert_msg(b->r == -ECANCELED, "the %s returned %d", b->save ? "save" : "load", b->r);
	ck_assert_msg(b->returned_ns >= raised_ns && took < CANCEL_WITHIN_NS,
		      "the %s returned %.1f ms after the cancel", b->save ? "save" : "load",
		      (double)(int64_t)took / 1e6);
	ck_assert_uint_eq(b->stats.sz, sizeof(b->stats));
	ck_assert_uint_gt(b->stats.elapsed_ns, 0);
	ck_assert_int_eq(vfiomig_cancel_is_raised(b->cancel), 1);
}

/*
 * _i: 0 a plain save from RUNNING, 1 from STOP, 2 a pre-copy save (its
 * reads of a slow device are the ones that once waited for the device's
 * next data, up to a second here, before noticing the cancel).
 */
static const struct {
	const char *state;
	enum vfiomig_precopy_mode precopy;
	enum vfiomig_state start;
} save_cases[] = {
	{ "running", VFIOMIG_PRECOPY_MODE_NEVER, S(RUNNING) },
	{ "stop", VFIOMIG_PRECOPY_MODE_NEVER, S(STOP) },
	{ "running", VFIOMIG_PRECOPY_MODE_AUTO, S(RUNNING) },
};
#define SAVE_CASES ((int)(sizeof(save_cases) / sizeof(save_cases[0])))

/*
 * The slow device: 4 KiB a second (the mock's smallest chunk, 4 KiB, once
 * a second), so a save that only looked at the cancel object between
 * device reads would take half a second on average to notice; one woken
 * in its wait takes about nothing.  64 MiB would take most of a day.
 */
#define SLOW_SAVE "size=64M,rate=4K"

static void open_slow_source(struct blocked *b, struct vfiomig_ctx *ctx, int i)
{
	b->ctx = ctx;
	b->name = "mock:slow";
	b->save = true;
	b->precopy = save_cases[i].precopy;
	b->dev = open_dev(ctx, "mock:slow," SLOW_SAVE ",state=%s", save_cases[i].state);
	b->fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(b->fd, 0);
	ck_assert_int_eq(vfiomig_cancel_new(&b->cancel), 0);
}

static void close_blocked(struct blocked *b)
{
	close(b->fd);
	vfiomig_cancel_unref(b->cancel);
	vfiomig_dev_unref(b->dev);
}

/* (b) A save blocked on a slow device, cancelled from another thread. */
START_TEST(test_cancel_slow_save)
{
	struct blocked b = { 0 };
	struct vfiomig_ctx *ctx;
	uint64_t raised;
	int before = count_fds();

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	open_slow_source(&b, ctx, _i);
	blocked_start(&b);
	raised = now_ns();
	ck_assert_int_eq(vfiomig_cancel_raise(b.cancel), 0);
	blocked_finish(&b, raised);
	/* The source is back where it started. */
	ck_assert_int_eq(state_of(b.dev), save_cases[_i].start);
	ck_assert_uint_eq(b.stats.error_offset, UINT64_MAX);
	close_blocked(&b);
	vfiomig_ctx_unref(ctx);
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

/*
 * A save into a pipe whose reader takes one page and stops: the save's
 * write after that POLLOUT must not block for the rest (it once did, in
 * write(2), until the reader drained the pipe).
 */
START_TEST(test_cancel_stalled_reader)
{
	struct blocked b = { 0 };
	struct vfiomig_ctx *ctx;
	char page[4096];
	uint64_t raised;
	int p[2], before = count_fds();

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(fcntl(p[1], F_SETPIPE_SZ, 65536), 65536);
	b.ctx = ctx;
	b.name = "mock:full";
	b.save = true;
	b.dev = open_dev(ctx, "mock:full,size=16M");
	b.fd = p[1];
	ck_assert_int_eq(vfiomig_cancel_new(&b.cancel), 0);
	blocked_start(&b);			/* the pipe is full: it waits */
	for (size_t got = 0; got < sizeof(page);) {	/* one page freed */
		ssize_t n = read(p[0], page, sizeof(page) - got);

		ck_assert_int_gt(n, 0);
		got += (size_t)n;
	}
	/* Let the save take the page; the next look must find it in poll. */
	usleep(100 * 1000);
	ck_assert_msg(wait_until_waiting(b.tid, 2000), "the save did not wait in poll again "
		      "(a blocking write?)");
	raised = now_ns();
	ck_assert_int_eq(vfiomig_cancel_raise(b.cancel), 0);
	blocked_finish(&b, raised);
	ck_assert_int_eq(state_of(b.dev), S(RUNNING));
	close(p[0]);
	close_blocked(&b);
	vfiomig_ctx_unref(ctx);
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

static struct vfiomig_cancel *_Atomic signal_cancel;

static void on_sigusr1(int sig)
{
	(void)sig;
	vfiomig_cancel_raise(atomic_load(&signal_cancel));
}

/*
 * Sends SIGUSR1 to @b's thread until its call returns, every 5 ms; returns
 * how many were sent.  One is enough on a plain kernel; ThreadSanitizer
 * holds a signal that arrives outside a call it knows to block until the
 * thread's next such call, and loses some of those (the kill lands as the
 * thread leaves read(2) or poll(2)), so the test sends another rather than
 * wait for a data chunk that never comes.  The latency is still measured
 * from the first.
 */
static int signal_until_returned(struct blocked *b)
{
	int sent = 0;

	for (;;) {
		struct timespec until;
		int r;

		ck_assert_int_eq(pthread_kill(b->thread, SIGUSR1), 0);
		sent++;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 5 * (long)MS;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		while ((r = sem_timedwait(&b->returned, &until)) < 0 && errno == EINTR)
			;
		if (r == 0)
			break;
		ck_assert_msg(sent < 2000, "%d signals did not cancel the save", sent);
	}
	return sent;
}

/* (c) The same save, cancelled by a signal handler in the saving thread. */
START_TEST(test_cancel_from_signal)
{
	struct sigaction sa = { .sa_handler = on_sigusr1 }, old;
	struct blocked b = { 0 };
	struct vfiomig_ctx *ctx;
	uint64_t raised;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	open_slow_source(&b, ctx, _i);
	atomic_store(&signal_cancel, b.cancel);
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, &old), 0);
	blocked_start(&b);
	raised = now_ns();
	signal_until_returned(&b);
	blocked_finish(&b, raised);
	ck_assert_int_eq(sigaction(SIGUSR1, &old, NULL), 0);
	atomic_store(&signal_cancel, NULL);
	ck_assert_int_eq(state_of(b.dev), save_cases[_i].start);
	close_blocked(&b);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/*
 * (b) A load blocked reading a pipe whose writer stays open.  _i = 0:
 * nothing was written, so nothing reached the device and it is left as it
 * was; _i = 1: a third of a stream was, so the device holds part of a
 * state, which is discarded (reset, then STOP: never RUNNING).
 */
START_TEST(test_cancel_blocked_load)
{
	struct blocked b = { .name = "mock:ld", .save = false };
	struct vfiomig_ctx *ctx;
	char *stream = NULL;
	uint64_t raised;
	int p[2], queued = -1, before = count_fds();

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	b.ctx = ctx;
	b.dev = open_dev(ctx, "mock:ld,size=2M");
	ck_assert_int_eq(vfiomig_cancel_new(&b.cancel), 0);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	if (_i) {
		size_t len = make_stream("mock:ld-src,size=2M", &stream);

		ck_assert_int_eq(fcntl(p[1], F_SETPIPE_SZ, 1 << 20), 1 << 20);
		ck_assert_int_eq(write(p[1], stream, len / 3), (ssize_t)(len / 3));
	}
	b.fd = p[0];
	b.expect_discard = _i;
	blocked_start(&b);
	/* Waiting with all of the input read (the device takes it at once). */
	for (int tries = 0;; tries++) {
		static const struct timespec ms = { .tv_nsec = 1000000 };

		ck_assert(wait_until_waiting(b.tid, 10000));
		ck_assert_int_eq(ioctl(p[0], FIONREAD, &queued), 0);
		if (queued == 0)
			break;
		ck_assert_msg(tries < 10000, "the load does not read its input");
		nanosleep(&ms, NULL);
	}
	raised = now_ns();
	ck_assert_int_eq(vfiomig_cancel_raise(b.cancel), 0);
	blocked_finish(&b, raised);
	ck_assert_int_eq(state_of(b.dev), _i ? S(STOP) : S(RUNNING));
	close(p[0]);
	close(p[1]);
	free(stream);
	vfiomig_cancel_unref(b.cancel);
	vfiomig_dev_unref(b.dev);
	vfiomig_ctx_unref(ctx);
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

/* A raised object cancels every call that watches it until it is cleared. */
START_TEST(test_cancel_stays_raised)
{
	struct vfiomig_cancel *c;
	struct vfiomig_save_opts so = { .sz = sizeof(so) };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dev = open_dev(ctx, "mock:raised,size=64K");
	ck_assert_int_eq(vfiomig_cancel_new(&c), 0);
	so.cancel = c;
	ck_assert_int_eq(vfiomig_cancel_is_raised(c), 0);
	ck_assert_int_eq(vfiomig_cancel_raise(c), 0);
	ck_assert_int_eq(vfiomig_cancel_raise(c), 0);
	ck_assert_int_eq(vfiomig_dev_save(dev, null, &so), -ECANCELED);
	ck_assert_int_eq(state_of(dev), S(RUNNING));
	ck_assert_int_eq(vfiomig_dev_save(dev, null, &so), -ECANCELED);
	ck_assert_int_eq(vfiomig_cancel_clear(c), 0);
	ck_assert_int_eq(vfiomig_cancel_is_raised(c), 0);
	ck_assert_int_eq(vfiomig_dev_save(dev, null, &so), 0);
	ck_assert_int_eq(state_of(dev), S(STOP));
	vfiomig_cancel_unref(c);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
	close(null);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("threads");
	TCase *tc = tcase_create("threads");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_four_threads_one_ctx);
	tcase_add_test(tc, test_busy_device);
	tcase_add_loop_test(tc, test_cancel_slow_save, 0, SAVE_CASES);
	tcase_add_test(tc, test_cancel_stalled_reader);
	tcase_add_loop_test(tc, test_cancel_from_signal, 0, SAVE_CASES);
	tcase_add_loop_test(tc, test_cancel_blocked_load, 0, 2);
	tcase_add_test(tc, test_cancel_stays_raised);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
