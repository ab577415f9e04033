/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a failed call tells its caller, and what a successful one leaves:
 * one test per finding of the API review that the concurrency rework
 * answered.  Each test fails against the behaviour before the rework
 * (commit 6116b9d; its comment says how) and passes now.  F5 (per-thread
 * errors) and F8 (cancel wakes blocked I/O at once) are in test-threads.c.
 *
 * Every message these tests read is also checked to name no C function
 * (no "vfiomig_", no "()"): it is for a person, not a programmer (F3).
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <syslog.h>
#include <unistd.h>

#include "test-util.h"
#include <vfiomig/vfiomig.h>

#define S(x) VFIOMIG_STATE_##x
#define FILL 0xaa

/* The calling thread's message, which must exist and be plain; a copy. */
static const char *message(struct vfiomig_ctx *ctx, char *buf, size_t size)
{
	const char *m = vfiomig_ctx_get_error(ctx);

	ck_assert_msg(m != NULL, "no message after a failure");
	ck_assert_msg(!strstr(m, "vfiomig_") && !strstr(m, "()"),
		      "the message names a C function: %s", m);
	snprintf(buf, size, "%s", m);
	return buf;
}

/* A save of a fresh "mock:src,size=@size" in a memfd at offset 0. */
static int saved_stream(const char *size)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src;
	int fd = memfd_create("stream", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	src = open_dev(ctx, "mock:src,size=%s", size);
	ck_assert_int_eq(vfiomig_dev_save(src, fd, NULL), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
	return fd;
}

static bool all_bytes(const void *p, size_t len, unsigned char value)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i] != value)
			return false;
	return true;
}

/*
 * F1: stale messages.  Before, argument checks returned -EINVAL without a
 * word, so the context still said what the last *other* failure had said
 * ("not a device spec", of "bogus").  Now each check leaves its own sentence.
 */
START_TEST(test_f1_every_failure_its_own_message)
{
	struct vfiomig_stream_summary sum = { .sz = sizeof(sum) };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev, *bad = NULL;
	char seen[6][1024], buf[64];
	int p[2], n = 0;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dev = open_dev(ctx, "mock:f1");
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);

	ck_assert_int_eq(vfiomig_dev_open(ctx, "bogus", &bad), -EINVAL);
	ck_assert_ptr_null(bad);
	ck_assert_ptr_nonnull(strstr(message(ctx, seen[n++], sizeof(seen[0])),
				     "not a device spec"));

	ck_assert_int_eq(vfiomig_dev_set_state(dev, (enum vfiomig_state)42, NULL), -EINVAL);
	message(ctx, seen[n++], sizeof(seen[0]));
	ck_assert_msg(strstr(seen[1], "42") && strstr(seen[1], "mock:f1") && !strstr(seen[1], "bogus"),
		      "%s", seen[1]);
	ck_assert_int_eq(state_of(dev), S(RUNNING));

	ck_assert_int_eq(vfiomig_dev_get_state(dev, NULL), -EINVAL);
	message(ctx, seen[n++], sizeof(seen[0]));
	ck_assert_msg(strstr(seen[2], "mock:f1") && strstr(seen[2], "state"), "%s", seen[2]);

	ck_assert_int_eq(vfiomig_dev_get_mig_flags(dev, NULL), -EINVAL);
	message(ctx, seen[n++], sizeof(seen[0]));
	ck_assert_msg(strstr(seen[3], "mock:f1"), "%s", seen[3]);

	ck_assert_int_eq(vfiomig_data_read(dev, p[0], buf, sizeof(buf), 0x80), -EINVAL);
	message(ctx, seen[n++], sizeof(seen[0]));
	ck_assert_msg(strstr(seen[4], "mock:f1") && strstr(seen[4], "flag"), "%s", seen[4]);

	/* Not a device call: the message cannot name one. */
	ck_assert_int_eq(vfiomig_stream_inspect(ctx, p[0], 0x80, NULL, NULL, NULL, &sum), -EINVAL);
	message(ctx, seen[n++], sizeof(seen[0]));
	ck_assert_msg(strstr(seen[5], "flag") && !strstr(seen[5], "mock:f1"), "%s", seen[5]);

	/* Different sentences: none is a leftover of the one before. */
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			ck_assert_msg(strcmp(seen[i], seen[j]) != 0, "twice: %s", seen[i]);
	/* None of them changed the device. */
	ck_assert_int_eq(state_of(dev), S(RUNNING));
	ck_assert_ptr_null(vfiomig_ctx_get_error(ctx));
	close(p[0]);
	close(p[1]);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

struct log_seen {
	atomic_int err_or_worse, total, fault_noted;
};

static void count_log(void *data, int priority, const char *msg)
{
	struct log_seen *seen = data;

	atomic_fetch_add(&seen->total, 1);
	if (priority <= LOG_ERR)
		atomic_fetch_add(&seen->err_or_worse, 1);
	if (strstr(msg, "injecting") && strstr(msg, "datasize"))
		atomic_fetch_add(&seen->fault_noted, 1);
}

/*
 * F2: a successful call leaves nothing.  The save asks the device for its
 * size estimate (MIG_DATA_SIZE) as a best effort, and the mock fails that
 * once.  Before, the best effort went through the public call, which set
 * the context's error and logged it at LOG_ERR, though the save succeeded.
 */
START_TEST(test_f2_success_leaves_nothing)
{
	struct log_seen seen = { 0 };
	struct vfiomig_error info = { .sz = sizeof(info) };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	unsigned int caps = 0;
	int fd = memfd_create("out", MFD_CLOEXEC);

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	vfiomig_ctx_set_log_priority(ctx, LOG_DEBUG);
	vfiomig_ctx_set_log_fn(ctx, count_log, &seen);
	dev = open_dev(ctx, "mock:a,fail=datasize:1:EIO");
	ck_assert_int_eq(vfiomig_dev_get_caps(dev, &caps), 0);
	ck_assert_uint_ne(caps & VFIOMIG_CAP_MIG_DATA_SIZE, 0);
	/* A failure first, so that "nothing" means "cleared", not "never set". */
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(ERROR), NULL), -EINVAL);
	ck_assert_ptr_nonnull(vfiomig_ctx_get_error(ctx));

	atomic_store(&seen.total, 0);
	ck_assert_int_eq(vfiomig_dev_save(dev, fd, NULL), 0);
	ck_assert_int_eq(atomic_load(&seen.fault_noted), 1);	/* the fault did fire */
	ck_assert_int_gt(atomic_load(&seen.total), 1);		/* the log was listening */
	ck_assert_int_eq(atomic_load(&seen.err_or_worse), 0);
	ck_assert_ptr_null(vfiomig_ctx_get_error(ctx));
	ck_assert_int_eq(vfiomig_ctx_get_error_info(ctx, &info), -ENOENT);
	ck_assert_int_eq(state_of(dev), S(STOP));
	vfiomig_ctx_set_log_fn(ctx, NULL, NULL);
	close(fd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/*
 * F3: the message names the state the device is really in.  The save's
 * last transition (STOP_COPY -> STOP) fails and leaves the device in
 * ERROR; the save's rollback resets it back to RUNNING, where it started.
 * Before, the sentence was written at the failure and said ERROR (and
 * told the caller to call a C function to recover); now the state is read
 * once, at the end of the call.
 */
START_TEST(test_f3_message_ends_with_the_real_state)
{
	struct vfiomig_error info = { .sz = sizeof(info) };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	enum vfiomig_state now;
	char msg[1024], tail[64];
	int fd = memfd_create("out", MFD_CLOEXEC);
	size_t len;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dev = open_dev(ctx, "mock:a,size=1M,fail=set:2:EIO:error");
	ck_assert_int_eq(vfiomig_dev_save(dev, fd, NULL), -EIO);
	message(ctx, msg, sizeof(msg));
	ck_assert_int_eq(vfiomig_ctx_get_error_info(ctx, &info), 0);
	ck_assert_int_eq(info.err, EIO);
	ck_assert_str_eq(info.message, msg);
	ck_assert_str_eq(info.device, "mock:a");
	ck_assert_int_eq(info.has_state, 1);
	now = state_of(dev);
	ck_assert_int_eq(now, S(RUNNING));	/* rolled back */
	ck_assert_int_eq(info.state, now);
	snprintf(tail, sizeof(tail), " %s", vfiomig_state_name(now));
	len = strlen(msg);
	ck_assert_msg(len > strlen(tail) && strcmp(msg + len - strlen(tail), tail) == 0,
		      "the message does not end with %s: %s", tail, msg);
	ck_assert_msg(!strstr(msg, "now in ERROR"), "%s", msg);
	close(fd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/*
 * F4, as data: a load of a stream with one byte flipped in the middle of
 * the device data fails; the error's facts say where in the stream (the
 * same offset as the stats) and the state the device was left in.
 * Before, there were no facts to read, only the sentence.
 */
START_TEST(test_f4_failure_facts)
{
	struct vfiomig_stats st = { .sz = sizeof(st) };
	struct vfiomig_load_opts lo = { .sz = sizeof(lo), .stats = &st };
	struct vfiomig_error info = { .sz = sizeof(info) };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dst;
	char msg[1024], where[32];
	int fd = saved_stream("1M");
	off_t len = lseek(fd, 0, SEEK_END);
	unsigned char byte;

	ck_assert_int_eq(pread(fd, &byte, 1, len / 2), 1);
	byte ^= 0x5a;
	ck_assert_int_eq(pwrite(fd, &byte, 1, len / 2), 1);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dst = open_dev(ctx, "mock:dst,size=1M");
	ck_assert_int_eq(vfiomig_dev_load(dst, fd, &lo), -EBADMSG);
	message(ctx, msg, sizeof(msg));
	ck_assert_int_eq(vfiomig_ctx_get_error_info(ctx, &info), 0);
	ck_assert_int_eq(info.err, EBADMSG);
	ck_assert_str_eq(info.device, "mock:dst");
	ck_assert_uint_ne(st.error_offset, UINT64_MAX);
	ck_assert_uint_le(st.error_offset, (uint64_t)len / 2);
	ck_assert_uint_eq(info.stream_offset, st.error_offset);
	snprintf(where, sizeof(where), "%" PRIu64, st.error_offset);
	ck_assert_msg(strstr(msg, where), "the offset %s is not in: %s", where, msg);
	ck_assert_int_eq(info.has_state, 1);
	ck_assert_int_eq(info.state, S(STOP));	/* the partial state discarded */
	ck_assert_int_eq(state_of(dst), info.state);
	close(fd);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* Stats filled by a call that failed before moving anything. */
static void assert_early_stats(const struct vfiomig_stats *st)
{
	ck_assert_uint_eq(st->sz, sizeof(*st));
	ck_assert_uint_eq(st->precopy_bytes, 0);
	ck_assert_uint_eq(st->stop_copy_bytes, 0);
	ck_assert_uint_eq(st->stream_bytes, 0);
	ck_assert_uint_eq(st->precopy_rounds, 0);
	ck_assert_uint_eq(st->downtime_ns, 0);
	ck_assert_uint_lt(st->elapsed_ns, 10000000000ull);
	ck_assert_uint_eq(st->error_offset, UINT64_MAX);
}

static void fill(void *p, size_t len)
{
	memset(p, FILL, len);
}

/*
 * F6: stats on every return path.  Before, a save or load that failed
 * its argument checks returned before the stats were written, and the
 * caller read whatever was in its struct.  (-EBUSY: test-threads.c.)
 */
START_TEST(test_f6_stats_on_early_failures)
{
	struct vfiomig_stats st;
	struct vfiomig_save_opts so = { .sz = sizeof(so), .stats = &st };
	struct vfiomig_load_opts lo = { .sz = sizeof(lo), .stats = &st };
	struct {
		struct vfiomig_save_opts o;
		uint64_t future;
	} newer = { .o = { .sz = sizeof(newer), .stats = &st }, .future = 1 };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	int fd = memfd_create("io", MFD_CLOEXEC);
	char msg[1024];

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dev = open_dev(ctx, "mock:f6,size=64K");
#define EARLY(call, err)                                  \
	do {                                              \
		fill(&st, sizeof(st));                    \
		st.sz = sizeof(st);                       \
		ck_assert_int_eq((call), (err));          \
		assert_early_stats(&st);                  \
	} while (0)
	so.buffer_size = 1;
	EARLY(vfiomig_dev_save(dev, fd, &so), -EINVAL);
	ck_assert_ptr_nonnull(strstr(message(ctx, msg, sizeof(msg)), "mock:f6"));
	so.buffer_size = 0;
	EARLY(vfiomig_dev_save(dev, -1, &so), -EINVAL);
	EARLY(vfiomig_dev_save(NULL, fd, &so), -EINVAL);
	EARLY(vfiomig_dev_save(dev, fd, &newer.o), -EINVAL);	/* an unknown field set */
	lo.buffer_size = 1;
	EARLY(vfiomig_dev_load(dev, fd, &lo), -EINVAL);
	lo.buffer_size = 0;
	EARLY(vfiomig_dev_load(dev, -1, &lo), -EINVAL);
	EARLY(vfiomig_dev_load(NULL, fd, &lo), -EINVAL);
#undef EARLY
	ck_assert_int_eq(state_of(dev), S(RUNNING));
	close(fd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/*
 * F7: one growth rule for every sz-prefixed struct.  A guarded buffer:
 * the struct at its start, FILL bytes after, so that a write past what
 * the caller declared shows.
 */
#define GUARD 32
union guarded {
	max_align_t align;
	unsigned char b[1024 + GUARD];
};

/* Bytes [@from, @to) of @g are still FILL. */
static void assert_guard(const union guarded *g, size_t from, size_t to, const char *what)
{
	ck_assert_msg(all_bytes(g->b + from, to - from, FILL), "%s: bytes %zu..%zu were written",
		      what, from, to);
}

/* Bytes [@from, @to) of @g are zero. */
static void assert_zeroed(const union guarded *g, size_t from, size_t to, const char *what)
{
	ck_assert_msg(all_bytes(g->b + from, to - from, 0), "%s: bytes %zu..%zu not zeroed",
		      what, from, to);
}

/*
 * Input structs (save and load options): an older, shorter struct is
 * read only as far as its sz (a stats pointer and a raised cancel object
 * past it are not seen); a newer, longer one is taken when its unknown
 * tail is zero and refused with -EINVAL when it is not.  (The options
 * already followed this rule before; the stats they point to did not.)
 */
START_TEST(test_f7_options)
{
	union guarded g, sg;
	struct vfiomig_save_opts *so = (void *)g.b;
	struct vfiomig_load_opts *lo = (void *)g.b;
	struct vfiomig_stats *st = (void *)sg.b;
	struct vfiomig_cancel *raised;
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src, *dst;
	int fd = memfd_create("io", MFD_CLOEXEC), in;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	ck_assert_int_eq(vfiomig_cancel_new(&raised), 0);
	ck_assert_int_eq(vfiomig_cancel_raise(raised), 0);
	src = open_dev(ctx, "mock:f7,size=64K");
	dst = open_dev(ctx, "mock:f7d,size=64K");

	/* Save, shorter: no stats, no cancel. */
	memset(&g, 0, sizeof(g));
	fill(&sg, sizeof(sg));
	st->sz = sizeof(*st);
	so->sz = offsetof(struct vfiomig_save_opts, stats);
	so->stats = st;
	so->cancel = raised;
	ck_assert_int_eq(vfiomig_dev_save(src, fd, so), 0);
	assert_guard(&sg, sizeof(size_t), sizeof(sg), "stats past a short save_opts");
	/* Longer, zero tail: taken, stats filled. */
	memset(&g, 0, sizeof(g));
	so->sz = sizeof(*so) + 16;
	so->stats = st;
	so->leave = VFIOMIG_LEAVE_RUNNING;
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(vfiomig_dev_save(src, fd, so), 0);
	ck_assert_uint_gt(st->stream_bytes, 0);
	ck_assert_uint_eq(st->stream_bytes, (uint64_t)lseek(fd, 0, SEEK_CUR));
	ck_assert_int_eq(state_of(src), S(RUNNING));
	/* Longer, a byte set in the tail: refused, nothing done. */
	g.b[sizeof(*so) + 15] = 1;
	ck_assert_int_eq(vfiomig_dev_save(src, fd, so), -EINVAL);
	ck_assert_int_eq(state_of(src), S(RUNNING));

	/* Load, shorter: no stats, no cancel. */
	in = dup(fd);
	ck_assert_int_ge(in, 0);
	ck_assert_int_eq(lseek(in, 0, SEEK_SET), 0);
	memset(&g, 0, sizeof(g));
	fill(&sg, sizeof(sg));
	st->sz = sizeof(*st);
	lo->sz = offsetof(struct vfiomig_load_opts, stats);
	lo->stats = st;
	lo->cancel = raised;
	ck_assert_int_eq(vfiomig_dev_load(dst, in, lo), 0);
	assert_guard(&sg, sizeof(size_t), sizeof(sg), "stats past a short load_opts");
	/* Longer, zero tail: taken. */
	memset(&g, 0, sizeof(g));
	lo->sz = sizeof(*lo) + 16;
	lo->stats = st;
	ck_assert_int_eq(lseek(in, 0, SEEK_SET), 0);
	ck_assert_int_eq(vfiomig_dev_load(dst, in, lo), 0);
	ck_assert_uint_eq(st->stream_bytes, (uint64_t)lseek(in, 0, SEEK_END));
	/* Longer, a byte set: refused before the device is touched. */
	g.b[sizeof(*lo)] = 1;
	ck_assert_int_eq(lseek(in, 0, SEEK_SET), 0);
	ck_assert_int_eq(vfiomig_dev_load(dst, in, lo), -EINVAL);
	ck_assert_int_eq(state_of(dst), S(RUNNING));
	ck_assert_int_eq(lseek(in, 0, SEEK_CUR), 0);

	close(in);
	close(fd);
	vfiomig_cancel_unref(raised);
	vfiomig_dev_unref(src);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/*
 * Output stats: a shorter struct is filled as far as its sz and not a
 * byte further; a longer one has its unknown tail zeroed, and its sz is
 * left as the caller's.  Before, the stats were copied whole up to the
 * caller's sz, the library's own sz written over the caller's, and a
 * longer struct's tail left as it was.
 */
START_TEST(test_f7_stats)
{
	union guarded sg;
	struct vfiomig_stats *st = (void *)sg.b;
	struct vfiomig_save_opts so = { .sz = sizeof(so), .stats = st };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src;
	size_t short_sz = offsetof(struct vfiomig_stats, error_offset);
	int fd = memfd_create("io", MFD_CLOEXEC);

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	src = open_dev(ctx, "mock:f7s,size=64K");
	fill(&sg, sizeof(sg));
	st->sz = short_sz;
	so.leave = VFIOMIG_LEAVE_RUNNING;
	ck_assert_int_eq(vfiomig_dev_save(src, fd, &so), 0);
	ck_assert_uint_eq(st->sz, short_sz);
	ck_assert_uint_eq(st->stream_bytes, (uint64_t)lseek(fd, 0, SEEK_CUR));
	ck_assert_uint_gt(st->elapsed_ns, 0);
	assert_guard(&sg, short_sz, sizeof(sg), "a short stats");

	fill(&sg, sizeof(sg));
	st->sz = sizeof(*st) + 16;
	ck_assert_int_eq(vfiomig_dev_save(src, fd, &so), 0);
	ck_assert_uint_eq(st->sz, sizeof(*st) + 16);
	ck_assert_uint_eq(st->error_offset, UINT64_MAX);
	assert_zeroed(&sg, sizeof(*st), sizeof(*st) + 16, "a long stats");
	assert_guard(&sg, sizeof(*st) + 16, sizeof(sg), "past a long stats");
	close(fd);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
}
END_TEST

struct seen_calls {
	int identities, records;
};

static void on_identity(void *data, uint32_t device, const struct vfiomig_stream_identity *id)
{
	(void)device;
	(void)id;
	((struct seen_calls *)data)->identities++;
}

static void on_record(void *data, const struct vfiomig_stream_record *rec)
{
	(void)rec;
	((struct seen_calls *)data)->records++;
}

/*
 * Inspection: the callbacks (input) and the summary (output).  Before,
 * both were refused unless their sz was at least this library's sizeof,
 * and the summary's sz was overwritten.
 */
START_TEST(test_f7_inspect)
{
	union guarded og, sg;
	struct vfiomig_inspect_ops *ops = (void *)og.b;
	struct vfiomig_stream_summary *sum = (void *)sg.b;
	struct seen_calls seen;
	struct vfiomig_ctx *ctx;
	size_t short_sum = offsetof(struct vfiomig_stream_summary, records);
	int fd = saved_stream("64K");

	ck_assert_int_eq(test_ctx_new(&ctx), 0);

	/* Callbacks, shorter: the record callback past sz is not called. */
	memset(&og, 0, sizeof(og));
	ops->sz = offsetof(struct vfiomig_inspect_ops, record);
	ops->identity = on_identity;
	ops->record = on_record;
	fill(&sg, sizeof(sg));
	sum->sz = sizeof(*sum);
	seen = (struct seen_calls){ 0 };
	ck_assert_int_eq(vfiomig_stream_inspect(ctx, fd, 0, NULL, ops, &seen, sum), 0);
	ck_assert_int_eq(sum->valid, 1);
	ck_assert_int_eq(seen.identities, 1);
	ck_assert_int_eq(seen.records, 0);
	/* Longer, zero tail: both called. */
	ops->sz = sizeof(*ops) + 16;
	seen = (struct seen_calls){ 0 };
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(vfiomig_stream_inspect(ctx, fd, 0, NULL, ops, &seen, sum), 0);
	ck_assert_int_eq(sum->valid, 1);
	ck_assert_int_eq(seen.identities, 1);
	/* The container's records, and the backend's inside them. */
	ck_assert_uint_ge((uint64_t)seen.records, sum->records);
	ck_assert_uint_gt(sum->records, 2);
	/* Longer, a byte set: refused. */
	og.b[sizeof(*ops) + 8] = 1;
	seen = (struct seen_calls){ 0 };
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(vfiomig_stream_inspect(ctx, fd, 0, NULL, ops, &seen, sum), -EINVAL);
	ck_assert_int_eq(seen.identities + seen.records, 0);

	/* Summary, shorter: filled to its sz, not a byte further. */
	fill(&sg, sizeof(sg));
	sum->sz = short_sum;
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(vfiomig_stream_inspect(ctx, fd, 0, NULL, NULL, NULL, sum), 0);
	ck_assert_uint_eq(sum->sz, short_sum);
	ck_assert_int_eq(sum->valid, 1);
	ck_assert_str_eq(sum->problem, "");
	ck_assert_uint_eq(sum->bytes, (uint64_t)lseek(fd, 0, SEEK_END));
	assert_guard(&sg, short_sum, sizeof(sg), "a short summary");
	/* Longer: its unknown tail zeroed, its sz kept. */
	fill(&sg, sizeof(sg));
	sum->sz = sizeof(*sum) + 16;
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(vfiomig_stream_inspect(ctx, fd, 0, NULL, NULL, NULL, sum), 0);
	ck_assert_uint_eq(sum->sz, sizeof(*sum) + 16);
	ck_assert_int_eq(sum->valid, 1);
	ck_assert_uint_gt(sum->records, 2);
	assert_zeroed(&sg, sizeof(*sum), sizeof(*sum) + 16, "a long summary");
	assert_guard(&sg, sizeof(*sum) + 16, sizeof(sg), "past a long summary");
	close(fd);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* The error's facts (output): shorter, longer, and too short to hold sz. */
START_TEST(test_f7_error_info)
{
	union guarded eg;
	struct vfiomig_error *e = (void *)eg.b;
	size_t short_sz = offsetof(struct vfiomig_error, device);
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	char msg[1024];

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dev = open_dev(ctx, "mock:f7e");
	ck_assert_int_eq(vfiomig_dev_set_state(dev, (enum vfiomig_state)9, NULL), -EINVAL);
	message(ctx, msg, sizeof(msg));

	fill(&eg, sizeof(eg));
	e->sz = short_sz;
	ck_assert_int_eq(vfiomig_ctx_get_error_info(ctx, e), 0);
	ck_assert_uint_eq(e->sz, short_sz);
	ck_assert_int_eq(e->err, EINVAL);
	ck_assert_str_eq(e->message, msg);
	assert_guard(&eg, short_sz, sizeof(eg), "a short error");

	fill(&eg, sizeof(eg));
	e->sz = sizeof(*e) + 16;
	ck_assert_int_eq(vfiomig_ctx_get_error_info(ctx, e), 0);
	ck_assert_uint_eq(e->sz, sizeof(*e) + 16);
	ck_assert_str_eq(e->device, "mock:f7e");
	ck_assert_int_eq(e->has_state, 1);
	ck_assert_int_eq(e->state, S(RUNNING));
	ck_assert_uint_eq(e->stream_offset, UINT64_MAX);
	assert_zeroed(&eg, sizeof(*e), sizeof(*e) + 16, "a long error");
	assert_guard(&eg, sizeof(*e) + 16, sizeof(eg), "past a long error");

	fill(&eg, sizeof(eg));
	e->sz = sizeof(size_t) - 1;
	ck_assert_int_eq(vfiomig_ctx_get_error_info(ctx, e), -EINVAL);
	assert_guard(&eg, sizeof(size_t), sizeof(eg), "a refused error");
	/* Reading the facts is no call that fails or succeeds: they stay. */
	ck_assert_str_eq(vfiomig_ctx_get_error(ctx), msg);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/*
 * A call made from inside another (here a progress callback) is a call of
 * its own: the callback sees its failure, and the outer call's cause is
 * still the outer call's own.
 */
struct nested {
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *other;
	int r;
	char seen[256];
};

static void nested_progress(void *userdata, const struct vfiomig_progress *p)
{
	struct nested *n = userdata;
	const char *msg;

	(void)p;
	if (n->r)
		return;
	n->r = vfiomig_dev_get_state(n->other, NULL);
	msg = vfiomig_ctx_get_error(n->ctx);
	snprintf(n->seen, sizeof(n->seen), "%s", msg ? msg : "(none)");
}

START_TEST(test_nested_call_keeps_the_cause)
{
	struct nested n = { 0 };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	struct vfiomig_error info = { .sz = sizeof(info) };
	int out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	struct vfiomig_save_opts so = { .sz = sizeof(so), .progress = nested_progress,
					.userdata = &n };

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	n.ctx = ctx;
	dev = open_dev(ctx, "mock:a,fail=read:1:EIO");
	n.other = open_dev(ctx, "mock:b");
	ck_assert_int_eq(vfiomig_dev_save(dev, out, &so), -EIO);
	ck_assert_int_eq(n.r, -EINVAL);
	ck_assert_msg(strstr(n.seen, "mock:b: no place to return the state"), "%s", n.seen);
	ck_assert_int_eq(vfiomig_ctx_get_error_info(ctx, &info), 0);
	ck_assert_int_eq(info.err, EIO);
	ck_assert_str_eq(info.device, "mock:a");
	ck_assert_msg(strstr(info.message, "mock:a: reading device data failed"), "%s",
		      info.message);
	close(out);
	vfiomig_dev_unref(n.other);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* A NULL device is an argument error, not a crash. */
START_TEST(test_null_device)
{
	char buf[8];

	ck_assert_int_eq(vfiomig_data_read(NULL, 3, buf, sizeof(buf), 0), -EINVAL);
	ck_assert_int_eq(vfiomig_data_write(NULL, 3, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(vfiomig_dev_enable_precopy_reinit(NULL), -EINVAL);
	ck_assert_int_eq(vfiomig_dev_get_precopy_info(NULL, 3, NULL, NULL), -EINVAL);
	ck_assert_int_eq(vfiomig_dev_set_state(NULL, VFIOMIG_STATE_STOP, NULL), -EINVAL);
	ck_assert_int_eq(vfiomig_dev_save(NULL, 1, NULL), -EINVAL);
	ck_assert_int_eq(vfiomig_dev_load(NULL, 0, NULL), -EINVAL);
	ck_assert_int_eq(vfiomig_group_set_state(NULL, VFIOMIG_STATE_STOP, NULL), -EINVAL);
}
END_TEST

/* The library's own threads take their errors with them: a later thread,
 * which may get the same thread id, finds nothing. */
static void *look(void *ctx)
{
	return (void *)vfiomig_ctx_get_error(ctx);
}

START_TEST(test_no_inherited_error)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_group *g;
	struct vfiomig_dev *d[3];

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	ck_assert_int_eq(vfiomig_group_new(ctx, 0, &g), 0);
	for (int i = 0; i < 3; i++) {
		d[i] = open_dev(ctx, "mock:g%d%s", i, i == 2 ? ",fail=set:1:EIO" : "");
		ck_assert_int_eq(vfiomig_group_add(g, d[i]), 0);
	}
	ck_assert_int_eq(vfiomig_group_set_state(g, VFIOMIG_STATE_STOP, NULL), -EIO);
	for (int i = 0; i < 8; i++) {
		pthread_t t;
		void *seen;

		ck_assert_int_eq(pthread_create(&t, NULL, look, ctx), 0);
		pthread_join(t, &seen);
		ck_assert_ptr_null(seen);
	}
	vfiomig_group_unref(g);
	for (int i = 0; i < 3; i++)
		vfiomig_dev_unref(d[i]);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* The facts of the calling thread's last failure on @ctx. */
static struct vfiomig_error facts(struct vfiomig_ctx *ctx)
{
	struct vfiomig_error e = { .sz = sizeof(e) };

	ck_assert_int_eq(vfiomig_ctx_get_error_info(ctx, &e), 0);
	return e;
}

/*
 * What the sentence itself says, as facts, so that a program that adds to
 * it (vfiomig-ctl names a subject, and where each device is) never reads
 * it: whether it leads with the device's name, and whether it lists every
 * member of a group with its state, as vfiomig_group_get_result() has them;
 * a list cut at the sentence's length is no such list.
 */
START_TEST(test_sentence_facts)
{
	static const struct vfiomig_iova_range misaligned = { .iova = 0x800, .length = 4096 },
						aligned = { .iova = 0, .length = 4096 };
	struct vfiomig_group_result res = { .sz = sizeof(res) };
	struct vfiomig_dirty *d = NULL;
	struct vfiomig_group *g;
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	struct vfiomig_error e;
	char msg[1024];

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dev = open_dev(ctx, "mock:a,dirtylog=1");
	ck_assert_int_eq(vfiomig_dev_set_state(dev, (enum vfiomig_state)9, NULL), -EINVAL);
	e = facts(ctx);
	ck_assert_int_eq(e.device_first, 1);	/* "mock:a: 9 is not ..." */
	ck_assert_int_eq(e.member_states, 0);
	/* About the range it was given: the device is in the facts, not first. */
	ck_assert_int_eq(vfiomig_dirty_start(dev, &misaligned, 1, NULL, &d), -EINVAL);
	e = facts(ctx);
	ck_assert_str_eq(e.device, "mock:a");
	ck_assert_msg(strncmp(e.message, "range 0 ", 8) == 0, "%s", e.message);
	ck_assert_int_eq(e.device_first, 0);
	vfiomig_dev_unref(dev);
	dev = open_dev(ctx, "mock:a");	/* no DMA logging: "mock:a has no ..." */
	ck_assert_int_eq(vfiomig_dirty_start(dev, &aligned, 1, NULL, &d), -ENOTTY);
	e = facts(ctx);
	ck_assert_msg(strncmp(e.message, "mock:a has ", 11) == 0, "%s", e.message);
	ck_assert_int_eq(e.device_first, 1);
	vfiomig_dev_unref(dev);
	ck_assert_int_lt(vfiomig_dev_open(ctx, "mock:a,nosuchkey=1", &dev), 0);
	e = facts(ctx);
	ck_assert_ptr_null(e.device);
	ck_assert_int_eq(e.device_first, 0);

	/* A member fails: the sentence lists every member where it is now. */
	ck_assert_int_eq(vfiomig_group_new(ctx, 0, &g), 0);
	for (int i = 0; i < 3; i++) {
		dev = open_dev(ctx, "mock:m%d%s", i, i == 1 ? ",fail=set:1:EIO" : "");
		ck_assert_int_eq(vfiomig_group_add(g, dev), 0);
		vfiomig_dev_unref(dev);
	}
	ck_assert_int_eq(vfiomig_group_set_state(g, S(STOP), NULL), -EIO);
	message(ctx, msg, sizeof(msg));
	e = facts(ctx);
	ck_assert_str_eq(e.device, "mock:m1");
	ck_assert_int_eq(e.device_first, 1);
	ck_assert_int_eq(e.member_states, 1);
	for (unsigned int i = 0; i < 3; i++) {
		char said[64];

		ck_assert_int_eq(vfiomig_group_get_result(g, i, &res), 0);
		snprintf(said, sizeof(said), "%s mock:m%u %s", i ? "," : "members now:", i,
			 vfiomig_state_name(res.state));
		ck_assert_msg(strstr(msg, said), "'%s' is not in: %s", said, msg);
	}
	/* Refused before any member was asked: the sentence lists none. */
	ck_assert_int_eq(vfiomig_group_set_state(g, (enum vfiomig_state)9, NULL), -EINVAL);
	e = facts(ctx);
	ck_assert_msg(!strstr(e.message, "members now"), "%s", e.message);
	ck_assert_int_eq(e.member_states, 0);
	vfiomig_group_unref(g);

	/* 64 members of 58-character names: the list cannot fit, so no fact. */
	ck_assert_int_eq(vfiomig_group_new(ctx, 0, &g), 0);
	for (int i = 0; i < VFIOMIG_GROUP_MAX; i++) {
		dev = open_dev(ctx, "mock:%02d%056d%s", i, 0, i == 0 ? ",fail=set:1:EIO" : "");
		ck_assert_int_eq(vfiomig_group_add(g, dev), 0);
		vfiomig_dev_unref(dev);
	}
	ck_assert_int_eq(vfiomig_group_set_state(g, S(STOP), NULL), -EIO);
	e = facts(ctx);
	ck_assert_msg(strstr(e.message, "members now: mock:00"), "%s", e.message);
	ck_assert_int_eq(e.device_first, 1);
	ck_assert_int_eq(e.member_states, 0);
	vfiomig_group_unref(g);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/*
 * Opens that fail say which device they tried, so that the sentence that
 * leads with its name is known to (vfiomig-ctl printed it twice: "info
 * 0000:ff:1f.7: 0000:ff:1f.7: no such device"); and a spec of no known
 * form is a malformed spec, as a mock spec that cannot be parsed is.
 */
START_TEST(test_open_facts)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev = NULL;
	struct vfiomig_error e;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	ck_assert_int_eq(vfiomig_dev_open(ctx, "0000:ff:1f.7", &dev), -ENODEV);
	e = facts(ctx);
	ck_assert_str_eq(e.device, "0000:ff:1f.7");
	ck_assert_int_eq(e.device_first, 1);
	ck_assert_int_eq(e.bad_spec, 0);
	ck_assert_int_eq(vfiomig_dev_open(ctx, "/sys/bus/pci/devices/0000:ff:1f.6", &dev), -ENODEV);
	e = facts(ctx);
	ck_assert_str_eq(e.device, "0000:ff:1f.6");	/* the name, not the path typed */
	ck_assert_int_eq(e.device_first, 1);
	ck_assert_int_eq(vfiomig_dev_open(ctx, "mock:a,fail=feature:1:EINVAL", &dev), -EINVAL);
	e = facts(ctx);
	ck_assert_str_eq(e.device, "mock:a");
	ck_assert_int_eq(e.device_first, 1);
	ck_assert_int_eq(e.bad_spec, 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(vfiomig_dev_open(ctx, i ? "mock" : "bogus", &dev), -EINVAL);
		e = facts(ctx);
		ck_assert_int_eq(e.bad_spec, 1);
		ck_assert_ptr_null(e.device);
		ck_assert_msg(!strncmp(e.message, "not a device spec: ", 19), "%s", e.message);
	}
	ck_assert_ptr_null(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("errors");
	TCase *tc = tcase_create("errors");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_f1_every_failure_its_own_message);
	tcase_add_test(tc, test_f2_success_leaves_nothing);
	tcase_add_test(tc, test_f3_message_ends_with_the_real_state);
	tcase_add_test(tc, test_f4_failure_facts);
	tcase_add_test(tc, test_f6_stats_on_early_failures);
	tcase_add_test(tc, test_f7_options);
	tcase_add_test(tc, test_f7_stats);
	tcase_add_test(tc, test_f7_inspect);
	tcase_add_test(tc, test_f7_error_info);
	tcase_add_test(tc, test_nested_call_keeps_the_cause);
	tcase_add_test(tc, test_null_device);
	tcase_add_test(tc, test_no_inherited_error);
	tcase_add_test(tc, test_sentence_facts);
	tcase_add_test(tc, test_open_facts);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
