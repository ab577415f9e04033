/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the kernel may answer that the library did not expect (issue #22):
 * a state a newer kernel defines (a GET of 8 or more), migration flag bits
 * no kernel defined yet, a VFIO_DEVICE_RESET the kernel refuses (a PF with
 * VFs enabled), and sizes that mean nothing.  Each case is made by a mock
 * knob (docs/mock.md): state=N and fail=set:N:ERRNO:STATE, flags=...+bitN,
 * fail=reset:N+:ERRNO, garbage=KIND:VALUE.  Against e7d8a00 every test
 * fails: the knobs did not exist, and each test also checks the behaviour
 * that changed (its comment says which).
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "test-xfer.h"
#include <vfiomig/conformance.h>
#include <vfiomig/vfiomig.h>

#define S(x) VFIOMIG_STATE_##x
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SANE (1ull << 40)		/* more than any test device's bytes */

/* ---- what the library logs ---- */

struct logbook {
	pthread_mutex_t lock;	/* group workers log from their threads */
	char lines[64][512];
	int prio[64];
	unsigned int n;
};

static void take_log(void *data, int priority, const char *msg)
{
	struct logbook *b = data;

	pthread_mutex_lock(&b->lock);
	if (b->n < 64) {
		snprintf(b->lines[b->n], sizeof(b->lines[0]), "%s", msg);
		b->prio[b->n++] = priority;
	}
	pthread_mutex_unlock(&b->lock);
}

static struct vfiomig_ctx *ctx_logging(struct logbook *b, int priority)
{
	struct vfiomig_ctx *ctx;

	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->lock, NULL);
	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	vfiomig_ctx_set_log_priority(ctx, priority);
	vfiomig_ctx_set_log_fn(ctx, take_log, b);
	return ctx;
}

/* Lines at @prio that hold every one of the NULL-ended words. */
static unsigned int logged(struct logbook *b, int prio, ...)
{
	unsigned int count = 0;

	pthread_mutex_lock(&b->lock);
	for (unsigned int i = 0; i < b->n; i++) {
		const char *w;
		bool all = b->prio[i] == prio;
		va_list ap;

		va_start(ap, prio);
		while (all && (w = va_arg(ap, const char *)))
			all = strstr(b->lines[i], w) != NULL;
		va_end(ap);
		count += all;
	}
	pthread_mutex_unlock(&b->lock);
	return count;
}

static const char *error_of(struct vfiomig_ctx *ctx)
{
	const char *m = vfiomig_ctx_get_error(ctx);

	ck_assert_ptr_nonnull(m);
	return m;
}

static unsigned int occurrences(const char *hay, const char *needle)
{
	unsigned int n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* ---- 1. states a newer kernel defines ---- */

#define UNKNOWN_9 "state 9 (unknown to this library: a newer kernel's?)"

/*
 * A device found in state 9: no call makes up an enum value for it, each
 * names the number, and recovery resets it as from ERROR.  Before: the
 * sentence said only "an unknown migration state".
 */
START_TEST(test_future_state_found)
{
	struct vfiomig_error info = { .sz = sizeof(info) };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	enum vfiomig_state st = S(STOP);
	int fd = -1;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dev = open_dev(ctx, "mock:f,state=9");
	ck_assert_int_eq(vfiomig_dev_get_state(dev, &st), -EPROTO);
	ck_assert_int_eq(st, S(STOP));
	ck_assert_msg(strstr(error_of(ctx), "mock:f: the device is in " UNKNOWN_9 ", which only "
			     "a reset leaves: reset the device"), "%s", error_of(ctx));
	ck_assert_int_eq(vfiomig_ctx_get_error_info(ctx, &info), 0);
	ck_assert_int_eq(info.has_state, 0);

	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(STOP_COPY), &fd), -EPROTO);
	ck_assert_int_eq(fd, -1);
	/* the cause says what to do; the end says where the device is, once */
	ck_assert_msg(strstr(error_of(ctx), UNKNOWN_9 ", which only a reset leaves: reset the "
			     "device; the device is now in " UNKNOWN_9) &&
		      occurrences(error_of(ctx), "reset the device") == 1, "%s", error_of(ctx));
	ck_assert_int_eq(vfiomig_ctx_get_error_info(ctx, &info), 0);
	ck_assert_int_eq(info.has_state, 0);
	ck_assert_str_eq(info.device, "mock:f");

	ck_assert_int_eq(vfiomig_dev_recover(dev, &st), 1);
	ck_assert_int_eq(st, S(RUNNING));
	ck_assert_int_eq(state_of(dev), S(RUNNING));
	vfiomig_dev_unref(dev);

	/* The whole u32: no sign, no truncation. */
	dev = open_dev(ctx, "mock:g,state=4294967295");
	ck_assert_int_eq(vfiomig_dev_get_state(dev, &st), -EPROTO);
	ck_assert_msg(strstr(error_of(ctx), "state 4294967295 (unknown"), "%s", error_of(ctx));
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/*
 * A failed SET that leaves the device in state 9.  Before: "its state
 * cannot be read back", and the recovery log said "an unreadable state".
 */
START_TEST(test_future_state_after_failed_set)
{
	struct logbook book;
	struct vfiomig_ctx *ctx = ctx_logging(&book, LOG_INFO);
	struct vfiomig_dev *dev = open_dev(ctx, "mock:f,fail=set:1:EIO:9");
	enum vfiomig_state st;
	int fd = -1;

	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(STOP_COPY), &fd), -EIO);
	ck_assert_int_eq(fd, -1);
	ck_assert_msg(strstr(error_of(ctx), "RUNNING -> STOP_COPY failed") &&
		      strstr(error_of(ctx), "; the device is now in " UNKNOWN_9 ": reset the device"),
		      "%s", error_of(ctx));
	ck_assert_int_eq(vfiomig_dev_recover(dev, &st), 1);
	ck_assert_int_eq(st, S(RUNNING));
	ck_assert_uint_eq(logged(&book, LOG_INFO, "recovering from " UNKNOWN_9, NULL), 1);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* A save whose arc into STOP_COPY leaves state 9 rolls back by a reset. */
START_TEST(test_future_state_save_rolls_back)
{
	struct logbook book;
	struct vfiomig_ctx *ctx = ctx_logging(&book, LOG_INFO);
	struct vfiomig_dev *src = open_dev(ctx, "mock:src,fail=set:1:EIO:9");
	int fd = memfd_create("out", MFD_CLOEXEC);

	ck_assert_int_eq(vfiomig_dev_save(src, fd, NULL), -EIO);
	ck_assert_msg(strstr(error_of(ctx), "; the device is now in RUNNING"), "%s", error_of(ctx));
	ck_assert_int_eq(state_of(src), S(RUNNING));
	ck_assert_uint_eq(logged(&book, LOG_INFO, "mock:src: recovering from " UNKNOWN_9, NULL), 1);
	close(fd);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* A load whose RESUMING -> STOP leaves state 9: reset and stopped. */
START_TEST(test_future_state_load_discards)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src, *dst;
	int fd;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	src = open_dev(ctx, "mock:src,size=128K");
	dst = open_dev(ctx, "mock:dst,size=128K,fail=set:2:EIO:9");
	fd = save_to_memfd(src, NULL);
	ck_assert_int_eq(vfiomig_dev_load(dst, fd, NULL), -EIO);
	ck_assert_msg(strstr(error_of(ctx), "the partial state was discarded; "
			     "the device is now in STOP"), "%s", error_of(ctx));
	ck_assert_int_eq(state_of(dst), S(STOP));
	close(fd);
	vfiomig_dev_unref(src);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
}
END_TEST

static struct vfiomig_group *group_of(struct vfiomig_ctx *ctx, struct vfiomig_dev *a,
				      struct vfiomig_dev *b)
{
	struct vfiomig_group *g;

	ck_assert_int_eq(vfiomig_group_new(ctx, 0, &g), 0);
	ck_assert_int_eq(vfiomig_group_add(g, a), 0);
	ck_assert_int_eq(vfiomig_group_add(g, b), 0);
	return g;
}

/*
 * A group: a member a failed SET leaves in state 9 is reset in the
 * rollback; a member found in one refuses the call before anything moves.
 */
START_TEST(test_future_state_group)
{
	struct vfiomig_error info = { .sz = sizeof(info) };
	struct logbook book;
	struct vfiomig_ctx *ctx = ctx_logging(&book, LOG_INFO);
	struct vfiomig_dev *a = open_dev(ctx, "mock:a");
	struct vfiomig_dev *b = open_dev(ctx, "mock:b,fail=set:1:EIO:9");
	struct vfiomig_dev *c = open_dev(ctx, "mock:c,state=9");
	struct vfiomig_group *g = group_of(ctx, a, b), *h = group_of(ctx, a, c);

	ck_assert_int_eq(vfiomig_group_set_state(g, S(STOP), NULL), -EIO);
	ck_assert_msg(strstr(error_of(ctx), "members now: mock:a RUNNING, mock:b RUNNING"), "%s",
		      error_of(ctx));
	ck_assert_uint_eq(logged(&book, LOG_INFO, "mock:b: recovering from " UNKNOWN_9, NULL), 1);
	ck_assert_int_eq(state_of(a), S(RUNNING));
	ck_assert_int_eq(state_of(b), S(RUNNING));

	ck_assert_int_eq(vfiomig_group_set_state(h, S(STOP), NULL), -EPROTO);
	ck_assert_msg(strstr(error_of(ctx), "mock:c: the device is in " UNKNOWN_9), "%s",
		      error_of(ctx));
	ck_assert_int_eq(vfiomig_ctx_get_error_info(ctx, &info), 0);
	ck_assert_str_eq(info.device, "mock:c");
	ck_assert_int_eq(info.has_state, 0);
	ck_assert_int_eq(state_of(a), S(RUNNING));
	vfiomig_group_unref(g);
	vfiomig_group_unref(h);
	vfiomig_dev_unref(a);
	vfiomig_dev_unref(b);
	vfiomig_dev_unref(c);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- 2. migration flag bits no kernel defined yet ---- */

/*
 * Bits 9 and 40 beside the three known ones: the device opens, the bits
 * are logged once at LOG_INFO and reported as they are, and paths are
 * planned without them (a save and a load work).
 */
START_TEST(test_unknown_flag_bits)
{
	const uint64_t extra = (1ull << 9) | (1ull << 40);
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = VFIOMIG_PRECOPY_MODE_AUTO };
	enum vfiomig_state path[VFIOMIG_STATE_COUNT];
	struct logbook book;
	struct vfiomig_ctx *ctx = ctx_logging(&book, LOG_INFO);
	struct vfiomig_dev *src, *dst;
	uint64_t flags = 0;
	int fd;

	src = open_dev(ctx, "mock:src,flags=stop_copy+p2p+pre_copy+bit9+bit40,dirty=64K");
	ck_assert_uint_eq(logged(&book, LOG_INFO, "mock:src", "0x10000000200",
				 "does not know", NULL), 1);
	ck_assert_int_eq(vfiomig_dev_get_mig_flags(src, &flags), 0);
	ck_assert_uint_eq(flags, VFIOMIG_MIG_STOP_COPY | VFIOMIG_MIG_P2P | VFIOMIG_MIG_PRE_COPY |
			  extra);
	ck_assert_int_eq(vfiomig_fsm_path(flags, S(RUNNING), S(STOP_COPY), path, 8), 3);
	ck_assert_int_eq(path[0], S(RUNNING_P2P));
	/* a device without P2P or PRE_COPY but an unknown bit is no P2P device */
	dst = open_dev(ctx, "mock:dst,flags=stop_copy+bit3");
	ck_assert_int_eq(vfiomig_dev_get_mig_flags(dst, &flags), 0);
	ck_assert_int_eq(vfiomig_fsm_path(flags, S(RUNNING), S(STOP_COPY), path, 8), 2);
	ck_assert_int_eq(path[0], S(STOP));

	fd = save_to_memfd(src, &so);
	ck_assert_int_eq(vfiomig_dev_load(dst, fd, NULL), 0);
	ck_assert_int_eq(state_of(dst), S(RUNNING));
	ck_assert_uint_eq(logged(&book, LOG_INFO, "does not know", NULL), 2);	/* once each */
	close(fd);
	vfiomig_dev_unref(src);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* The checker still calls an undefined bit a deviation, and nothing else. */
START_TEST(test_unknown_flag_bits_checker)
{
	const char *knobs = "flags=stop_copy+p2p+pre_copy+bit9";
	char dev[96], twin[96];
	struct vfiomig_conformance_opts o = { .sz = sizeof(o), .twin = twin };
	struct vfiomig_conformance *rep = NULL;
	struct vfiomig_ctx *ctx;
	bool seen = false;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	snprintf(dev, sizeof(dev), "mock:dev,%s", knobs);
	snprintf(twin, sizeof(twin), "mock:twin,%s", knobs);
	ck_assert_msg(vfiomig_conformance_run(ctx, dev, &o, &rep) == 0, "%s",
		      vfiomig_ctx_get_error(ctx));
	for (size_t i = 0; i < vfiomig_conformance_get_count(rep); i++) {
		const struct vfiomig_conformance_result *r = vfiomig_conformance_get_result(rep, i);
		bool flags = !strcmp(r->check->id, "features.migration-flags");

		seen |= flags;
		ck_assert_msg(r->verdict == (flags ? VFIOMIG_VERDICT_DEVIATION : VFIOMIG_VERDICT_PASS),
			      "%s: %s: %s", r->check->id, vfiomig_verdict_name(r->verdict), r->detail);
		ck_assert(!flags || strstr(r->detail, "0x200"));
	}
	ck_assert(seen);
	vfiomig_conformance_free(rep);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- 3. a reset the kernel refuses ---- */

#define PF_EBUSY "its reset was refused (EBUSY: a PF with VFs enabled refuses it): " \
		 "disable the PF's VFs and reset it again"

/*
 * Recovery from ERROR when every reset is refused: the sentence says where
 * the device is and what to do, every time.  Before: "...: reset the
 * device", the one thing that does not work.
 */
START_TEST(test_reset_refused_recover)
{
	struct vfiomig_error info = { .sz = sizeof(info) };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	enum vfiomig_state st = S(STOP);

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dev = open_dev(ctx, "mock:pf,fail=set:1:EIO:error,fail=reset:1+:EBUSY");
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(STOP), NULL), -EIO);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(vfiomig_dev_recover(dev, &st), -EBUSY);
		ck_assert_int_eq(st, S(STOP));
		ck_assert_msg(strstr(error_of(ctx), "the device is now in ERROR: only a reset leaves "
				     "that state, and " PF_EBUSY), "%s", error_of(ctx));
		ck_assert_int_eq(occurrences(error_of(ctx), "refused"), 1);
		ck_assert_int_eq(vfiomig_ctx_get_error_info(ctx, &info), 0);
		ck_assert_int_eq(info.has_state, 1);
		ck_assert_int_eq(info.state, S(ERROR));
	}
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/*
 * A source whose save fails into ERROR and whose reset is refused.
 * Before: "the device is now in ERROR: reset the device".
 */
START_TEST(test_reset_refused_save)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src;
	int fd = memfd_create("out", MFD_CLOEXEC);

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	src = open_dev(ctx, "mock:src,fail=set:1:EIO:error,fail=reset:1+:EPERM");
	ck_assert_int_eq(vfiomig_dev_save(src, fd, NULL), -EIO);
	ck_assert_msg(strstr(error_of(ctx), "; the device is now in ERROR: only a reset leaves "
			     "that state, and its reset was refused (EPERM: a PF with VFs enabled "
			     "refuses it): disable the PF's VFs and reset it again"), "%s",
		      error_of(ctx));
	ck_assert_int_eq(state_of(src), S(ERROR));
	close(fd);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/*
 * A load that fails after its first write, on a device whose reset is
 * refused: it stays RESUMING (never runs, never takes RESUMING -> STOP),
 * the sentence does not claim the part was discarded, and a later
 * recovery tries the reset again.  Before: "the partial state was
 * discarded", and vfiomig_dev_recover() found nothing to do.
 */
START_TEST(test_reset_refused_load)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src, *dst;
	enum vfiomig_state st;
	int fd;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	src = open_dev(ctx, "mock:src,size=512K");
	fd = save_to_memfd(src, NULL);

	dst = open_dev(ctx, "mock:dst,size=512K,fail=write:2:EIO,fail=reset:1+:EBUSY");
	ck_assert_int_eq(vfiomig_dev_load(dst, fd, NULL), -EIO);
	ck_assert_msg(strstr(error_of(ctx), "the partial state could not be discarded; the device "
			     "is now in RESUMING: do not run it, it holds part of a state; "
			     PF_EBUSY), "%s", error_of(ctx));
	ck_assert_ptr_null(strstr(error_of(ctx), "was discarded"));
	ck_assert_int_eq(state_of(dst), S(RESUMING));
	ck_assert_int_eq(vfiomig_dev_recover(dst, &st), -EBUSY);
	ck_assert_int_eq(state_of(dst), S(RESUMING));
	vfiomig_dev_unref(dst);

	/* Refused once: the next recovery resets it. */
	dst = open_dev(ctx, "mock:dst,size=512K,fail=write:2:EIO,fail=reset:1:EBUSY");
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(vfiomig_dev_load(dst, fd, NULL), -EIO);
	ck_assert_int_eq(state_of(dst), S(RESUMING));
	ck_assert_int_eq(vfiomig_dev_recover(dst, &st), 1);
	ck_assert_int_eq(st, S(RUNNING));
	close(fd);
	vfiomig_dev_unref(src);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/*
 * A group whose member fails into ERROR and cannot be reset: the others go
 * back, the sentence lists every member and says what to do about that
 * one, once.  Before: "...: reset the device".
 */
START_TEST(test_reset_refused_group_rollback)
{
	struct vfiomig_group_result res = { .sz = sizeof(res) };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *a, *b;
	struct vfiomig_group *g;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	a = open_dev(ctx, "mock:a");
	b = open_dev(ctx, "mock:b,fail=set:1:EIO:error,fail=reset:1+:EBUSY");
	g = group_of(ctx, a, b);
	ck_assert_int_eq(vfiomig_group_set_state(g, S(STOP), NULL), -EIO);
	ck_assert_msg(strstr(error_of(ctx), "members now: mock:a RUNNING, mock:b ERROR; mock:b: "
			     "only a reset leaves that state, and " PF_EBUSY), "%s", error_of(ctx));
	ck_assert_int_eq(occurrences(error_of(ctx), PF_EBUSY), 1);
	ck_assert_int_eq(state_of(a), S(RUNNING));
	ck_assert_int_eq(vfiomig_group_get_result(g, 1, &res), 0);
	ck_assert_int_eq(res.has_state, 1);
	ck_assert_int_eq(res.state, S(ERROR));
	vfiomig_group_unref(g);
	vfiomig_dev_unref(a);
	vfiomig_dev_unref(b);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/*
 * A group load that fails with members whose resets are refused: no
 * member runs, every one that holds part of a state says so.  Before:
 * "every member's partial state was discarded".
 */
START_TEST(test_reset_refused_group_load)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *a, *b, *x, *y;
	struct vfiomig_group *src, *dst;
	int fd = memfd_create("group", MFD_CLOEXEC);

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	a = open_dev(ctx, "mock:a,size=256K");
	b = open_dev(ctx, "mock:b,size=256K");
	src = group_of(ctx, a, b);
	ck_assert_int_eq(vfiomig_group_save(src, &fd, 1, NULL), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);

	x = open_dev(ctx, "mock:x,size=256K,fail=reset:1+:EBUSY");
	y = open_dev(ctx, "mock:y,size=256K,fail=write:2:EIO,fail=reset:1+:EBUSY");
	dst = group_of(ctx, x, y);
	ck_assert_int_eq(vfiomig_group_load(dst, &fd, 1, NULL), -EIO);
	ck_assert_msg(strstr(error_of(ctx), "not every member's partial state could be "
			     "discarded; members now: mock:x RESUMING, mock:y RESUMING; mock:x: "
			     "do not run it, it holds part of a state; " PF_EBUSY "; mock:y: do "
			     "not run it"), "%s", error_of(ctx));
	ck_assert_int_eq(state_of(x), S(RESUMING));
	ck_assert_int_eq(state_of(y), S(RESUMING));
	close(fd);
	vfiomig_group_unref(src);
	vfiomig_group_unref(dst);
	vfiomig_dev_unref(a);
	vfiomig_dev_unref(b);
	vfiomig_dev_unref(x);
	vfiomig_dev_unref(y);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- 4. sizes that mean nothing ---- */

/*
 * MIG_DATA_SIZE of 2^64 - 1 is no estimate: the call says so, once in the
 * log.  Before: 18446744073709551615 came back as the size.
 */
START_TEST(test_garbage_data_size)
{
	struct logbook book;
	struct vfiomig_ctx *ctx = ctx_logging(&book, LOG_WARNING);
	struct vfiomig_dev *dev = open_dev(ctx, "mock:g,garbage=datasize:max");
	uint64_t size = 7;

	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(vfiomig_dev_get_stop_copy_size(dev, &size), -ERANGE);
		ck_assert_uint_eq(size, 7);
		ck_assert_msg(strstr(error_of(ctx), "mock:g: the driver's estimate of its state's size "
				     "(MIG_DATA_SIZE) is 4503599627370496 bytes or more"), "%s",
			      error_of(ctx));
	}
	ck_assert_uint_eq(logged(&book, LOG_WARNING, "mock:g", "18446744073709551615", NULL), 1);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* Raises a save's cancel if it has not ended within @seconds: a save that
 * never converges fails instead of hanging the suite. */
struct deadline {
	struct vfiomig_cancel *cancel;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int seconds;
};

static void *deadline_run(void *arg)
{
	struct deadline *d = arg;
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += d->seconds;
	pthread_mutex_lock(&d->lock);
	while (!d->done && pthread_cond_timedwait(&d->cond, &d->lock, &t) == 0)
		;
	if (!d->done)
		vfiomig_cancel_raise(d->cancel);
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

static void deadline_start(struct deadline *d, int seconds)
{
	memset(d, 0, sizeof(*d));
	d->seconds = seconds;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	ck_assert_int_eq(vfiomig_cancel_new(&d->cancel), 0);
	ck_assert_int_eq(pthread_create(&d->thread, NULL, deadline_run, d), 0);
}

static void deadline_stop(struct deadline *d)
{
	pthread_mutex_lock(&d->lock);
	d->done = true;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	vfiomig_cancel_unref(d->cancel);
}

/* What the progress callback was told. */
struct seen_progress {
	unsigned int calls, absurd, over;
	uint64_t last_bytes, last_estimate;
	enum vfiomig_phase last_phase;
};

static void watch(void *userdata, const struct vfiomig_progress *p)
{
	struct seen_progress *s = userdata;

	s->calls++;
	s->absurd += p->total_estimate >= SANE;
	s->over += p->total_estimate && p->bytes > p->total_estimate;	/* past 100% */
	s->last_bytes = p->bytes;
	s->last_estimate = p->total_estimate;
	s->last_phase = p->phase;
}

/*
 * An AUTO save of a device whose MIG_DATA_SIZE and dirty_bytes mean nothing
 * (2^64 - 1, 2^63), and one whose initial_bytes never reaches 0: both end,
 * the progress stays within what moved, the stats are the bytes that
 * moved, the stream loads, and each absurd size is logged once.  Before:
 * the estimate was 2^64 - 1 and 2^63 + bytes, and the second save never
 * switched over (cancelled at its deadline).
 */
START_TEST(test_garbage_save)
{
	static const char *const knobs[] = {
		"garbage=datasize:max,garbage=dirty:9223372036854775808",
		"garbage=initial:max,garbage=dirty:max-1",
	};
	struct logbook book;
	struct vfiomig_ctx *ctx = ctx_logging(&book, LOG_WARNING);

	for (size_t k = 0; k < ARRAY_SIZE(knobs); k++) {
		struct vfiomig_stats st = { .sz = sizeof(st) };
		struct seen_progress seen = { 0 };
		struct vfiomig_save_opts so = {
			.sz = sizeof(so), .precopy = VFIOMIG_PRECOPY_MODE_AUTO,
			.progress = watch, .userdata = &seen, .stats = &st,
		};
		struct vfiomig_dev *src = open_dev(ctx, "mock:s%zu,size=1M,dirty=128K,%s", k, knobs[k]);
		struct vfiomig_dev *dst = open_dev(ctx, "mock:d%zu,size=1M", k);
		struct deadline d;
		int fd = memfd_create("out", MFD_CLOEXEC), r;

		deadline_start(&d, 10);
		so.cancel = d.cancel;
		r = vfiomig_dev_save(src, fd, &so);
		deadline_stop(&d);
		ck_assert_msg(r == 0, "%s: %d: %s", knobs[k], r, vfiomig_ctx_get_error(ctx));
		ck_assert_uint_ge(st.precopy_rounds, 1);
		ck_assert_uint_gt(st.precopy_bytes, 1u << 20);	/* the initial image and more */
		ck_assert_uint_eq(seen.last_phase, VFIOMIG_PHASE_DONE);
		ck_assert_uint_eq(seen.last_bytes, st.precopy_bytes + st.stop_copy_bytes);
		ck_assert_msg(seen.absurd == 0 && seen.over == 0, "%s: %u absurd, %u past 100%%",
			      knobs[k], seen.absurd, seen.over);
		ck_assert_uint_eq(st.stream_bytes, lseek(fd, 0, SEEK_END));
		ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
		ck_assert_int_eq(vfiomig_dev_load(dst, fd, NULL), 0);
		assert_same_state(ctx, src, dst);
		close(fd);
		vfiomig_dev_unref(src);
		vfiomig_dev_unref(dst);
	}
	ck_assert_uint_eq(logged(&book, LOG_WARNING, "mock:s0", "MIG_DATA_SIZE",
				 "18446744073709551615", NULL), 1);
	ck_assert_uint_eq(logged(&book, LOG_WARNING, "mock:s0", "dirty_bytes",
				 "9223372036854775808", NULL), 1);
	ck_assert_uint_eq(logged(&book, LOG_WARNING, "mock:s1", "initial_bytes", NULL), 1);
	ck_assert_uint_eq(logged(&book, LOG_WARNING, "mock:s1", "dirty_bytes",
				 "18446744073709551614", NULL), 1);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* PRECOPY_INFO's counts come back clamped.  Before: 2^64 - 1 and 2^64 - 2. */
START_TEST(test_garbage_precopy_info)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	uint64_t initial = 0, dirty = 0;
	int fd = -1;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dev = open_dev(ctx, "mock:p,garbage=initial:max,garbage=dirty:max-1");
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(vfiomig_dev_get_precopy_info(dev, fd, &initial, &dirty), 0);
	ck_assert_uint_eq(initial, VFIOMIG_SIZE_LIMIT);
	ck_assert_uint_eq(dirty, VFIOMIG_SIZE_LIMIT);
	close(fd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/*
 * A group save of three members with absurd sizes whose sums wrap (2^63
 * each), one whose initial bytes never reach 0: the save ends, the
 * group's estimate does not wrap, its stats are its members', and every
 * member loads.  Before: the switchover waited forever (cancelled).
 */
START_TEST(test_garbage_group_save)
{
	struct vfiomig_stats st = { .sz = sizeof(st) };
	struct seen_progress seen = { 0 };
	struct vfiomig_save_opts so = {
		.sz = sizeof(so), .precopy = VFIOMIG_PRECOPY_MODE_AUTO,
		.progress = watch, .userdata = &seen, .stats = &st,
	};
	static const char *const knobs[3] = {
		"garbage=datasize:9223372036854775808,garbage=dirty:9223372036854775808",
		"garbage=datasize:9223372036854775808,garbage=dirty:9223372036854775808",
		"garbage=initial:max,garbage=dirty:9223372036854775808",
	};
	struct vfiomig_dev *src[3], *dst[3];
	struct vfiomig_group *gs, *gd;
	struct vfiomig_ctx *ctx;
	uint64_t precopy = 0, stop_copy = 0;
	struct deadline d;
	int fd = memfd_create("group", MFD_CLOEXEC), r;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	ck_assert_int_eq(vfiomig_group_new(ctx, 0, &gs), 0);
	ck_assert_int_eq(vfiomig_group_new(ctx, 0, &gd), 0);
	for (int i = 0; i < 3; i++) {
		src[i] = open_dev(ctx, "mock:s%d,size=512K,dirty=64K,%s", i, knobs[i]);
		dst[i] = open_dev(ctx, "mock:d%d,size=512K", i);
		ck_assert_int_eq(vfiomig_group_add(gs, src[i]), 0);
		ck_assert_int_eq(vfiomig_group_add(gd, dst[i]), 0);
	}
	deadline_start(&d, 10);
	so.cancel = d.cancel;
	r = vfiomig_group_save(gs, &fd, 1, &so);
	deadline_stop(&d);
	ck_assert_msg(r == 0, "%d: %s", r, vfiomig_ctx_get_error(ctx));
	ck_assert_msg(seen.absurd == 0 && seen.over == 0, "%u absurd, %u past 100%%", seen.absurd,
		      seen.over);
	ck_assert_uint_eq(seen.last_phase, VFIOMIG_PHASE_DONE);
	for (unsigned int i = 0; i < 3; i++) {
		struct vfiomig_group_result res = { .sz = sizeof(res) };

		ck_assert_int_eq(vfiomig_group_get_result(gs, i, &res), 0);
		ck_assert_uint_gt(res.precopy_bytes, 512u << 10);
		precopy += res.precopy_bytes;
		stop_copy += res.stop_copy_bytes;
	}
	ck_assert_uint_eq(st.precopy_bytes, precopy);
	ck_assert_uint_eq(st.stop_copy_bytes, stop_copy);
	ck_assert_uint_eq(seen.last_bytes, precopy + stop_copy);
	ck_assert_uint_ge(st.precopy_rounds, 1);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_msg(vfiomig_group_load(gd, &fd, 1, NULL) == 0, "%s", vfiomig_ctx_get_error(ctx));
	for (int i = 0; i < 3; i++) {
		assert_same_state(ctx, src[i], dst[i]);
		vfiomig_dev_unref(src[i]);
		vfiomig_dev_unref(dst[i]);
	}
	close(fd);
	vfiomig_group_unref(gs);
	vfiomig_group_unref(gd);
	vfiomig_ctx_unref(ctx);
}
END_TEST

static Suite *unexpected_suite(void)
{
	Suite *s = suite_create("unexpected");
	TCase *states = tcase_create("future-states");
	TCase *flags = tcase_create("unknown-flags");
	TCase *reset = tcase_create("reset-refused");
	TCase *sizes = tcase_create("garbage-sizes");

	tcase_add_test(states, test_future_state_found);
	tcase_add_test(states, test_future_state_after_failed_set);
	tcase_add_test(states, test_future_state_save_rolls_back);
	tcase_add_test(states, test_future_state_load_discards);
	tcase_add_test(states, test_future_state_group);
	tcase_add_test(flags, test_unknown_flag_bits);
	tcase_add_test(flags, test_unknown_flag_bits_checker);
	tcase_add_test(reset, test_reset_refused_recover);
	tcase_add_test(reset, test_reset_refused_save);
	tcase_add_test(reset, test_reset_refused_load);
	tcase_add_test(reset, test_reset_refused_group_rollback);
	tcase_add_test(reset, test_reset_refused_group_load);
	tcase_add_test(sizes, test_garbage_data_size);
	tcase_add_test(sizes, test_garbage_save);
	tcase_add_test(sizes, test_garbage_precopy_info);
	tcase_add_test(sizes, test_garbage_group_save);
	suite_add_tcase(s, states);
	suite_add_tcase(s, flags);
	suite_add_tcase(s, reset);
	suite_add_tcase(s, sizes);
	return s;
}

int main(void)
{
	return run_suite(unexpected_suite());
}
