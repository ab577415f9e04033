/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A save to a downtime target on the mock: the estimate decides the
 * switchover, the deadline ends pre-copy either way, the initial-bytes rule
 * still holds, sizes that cannot be true are capped once, and a group's
 * estimate is the sum over one stream or the slowest member over several
 * (the formula through lib/xfer/downtime.h, its use through a group save).
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <syslog.h>
#include <unistd.h>

#include "test-util.h"
#include "downtime.h"
#include <vfiomig/vfiomig.h>

#define MS 1000000ull

struct warnings {
	unsigned int capped;	/* the estimate's cap, logged */
};

static void on_log(void *userdata, int priority, const char *msg)
{
	struct warnings *w = userdata;

	if (priority == LOG_WARNING && strstr(msg, "the downtime estimate takes"))
		__atomic_add_fetch(&w->capped, 1, __ATOMIC_RELAXED);
}

/* A save of @spec into a memfd with @so; its return, the device's state after. */
static int save_one(const char *spec, struct vfiomig_save_opts *so, struct vfiomig_stats *st,
		    struct warnings *w, enum vfiomig_state *after, char *err, size_t err_size)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	int fd = memfd_create("stream", MFD_CLOEXEC), r;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	if (w) {
		vfiomig_ctx_set_log_fn(ctx, on_log, w);
		vfiomig_ctx_set_log_priority(ctx, LOG_WARNING);
	}
	dev = open_dev(ctx, "%s", spec);
	so->sz = sizeof(*so);
	so->precopy = VFIOMIG_PRECOPY_MODE_AUTO;
	so->leave = VFIOMIG_LEAVE_RUNNING;
	*st = (struct vfiomig_stats){ .sz = sizeof(*st) };
	so->stats = st;
	r = vfiomig_dev_save(dev, fd, so);
	snprintf(err, err_size, "%s", r < 0 ? vfiomig_ctx_get_error(ctx) : "");
	*after = state_of(dev);
	close(fd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
	return r;
}

/*
 * The target met: 2M at 16M/s, dirtying 1M/s, reaches a 200 ms estimate
 * after the initial image (what is left then takes about 10 ms), and the
 * measured downtime is near it.  The margins are wide on purpose: the
 * suite runs on a shared 2-core machine, under TSan too, and the aim of
 * 1.25x the target is the benchmark's to show (docs/performance.md).
 */
START_TEST(test_target_met)
{
	struct vfiomig_save_opts so = { .downtime_limit_ns = 200 * MS };
	struct vfiomig_stats st;
	enum vfiomig_state after;
	char err[512];

	ck_assert_int_eq(save_one("mock:t,size=2M,rate=16M,dirtyplan=1M", &so, &st, NULL, &after,
				  err, sizeof(err)), 0);
	ck_assert_uint_gt(st.downtime_estimate_ns, 0);
	ck_assert_uint_le(st.downtime_estimate_ns, 200 * MS);
	/* measured, not made up: no faster than the device, not stalled */
	ck_assert_uint_ge(st.precopy_bandwidth, 2ull << 20);
	ck_assert_uint_le(st.precopy_bandwidth, 20ull << 20);
	ck_assert_uint_eq(st.precopy_timed_out, 0);
	/* the target ended pre-copy, not the 32 rounds or twice the size */
	ck_assert_uint_ge(st.precopy_rounds, 1);
	ck_assert_uint_le(st.precopy_rounds, 3);
	/* a loose bound: the machine is shared, the aim is the benchmark's */
	ck_assert_uint_le(st.downtime_ns, 2000 * MS);
	ck_assert_int_eq(after, VFIOMIG_STATE_RUNNING);
}
END_TEST

/*
 * With a target the dirty threshold no longer decides: 512K a round is
 * under the default 1 MiB threshold, but at 4M/s it is 125 ms, over a
 * 20 ms target, so pre-copy goes on until the deadline, then switches over.
 */
START_TEST(test_deadline_switch)
{
	struct vfiomig_save_opts so = { .downtime_limit_ns = 20 * MS,
					.precopy_timeout_ns = 400 * MS,
					.on_timeout = VFIOMIG_ON_TIMEOUT_SWITCH };
	struct vfiomig_stats st;
	enum vfiomig_state after;
	char err[512];

	ck_assert_int_eq(save_one("mock:s,size=1M,rate=4M,dirty=512K", &so, &st, NULL, &after,
				  err, sizeof(err)), 0);
	ck_assert_uint_eq(st.precopy_timed_out, 1);
	ck_assert_uint_gt(st.downtime_estimate_ns, 20 * MS);
	ck_assert_uint_ne(st.downtime_estimate_ns, UINT64_MAX);
	ck_assert_uint_ge(st.elapsed_ns, 400 * MS);
	ck_assert_int_eq(after, VFIOMIG_STATE_RUNNING);
}
END_TEST

/* A device that dirties faster than the stream moves cannot converge:
 * ABORT gives up by the deadline (plus a round), the source running. */
START_TEST(test_deadline_abort)
{
	struct vfiomig_save_opts so = { .downtime_limit_ns = 10 * MS,
					.precopy_timeout_ns = 300 * MS,
					.on_timeout = VFIOMIG_ON_TIMEOUT_ABORT };
	struct vfiomig_stats st;
	enum vfiomig_state after;
	char err[512];

	ck_assert_int_eq(save_one("mock:a,size=1M,rate=8M,dirtyplan=16M", &so, &st, NULL, &after,
				  err, sizeof(err)), -ETIMEDOUT);
	ck_assert_msg(strstr(err, "estimated downtime was") && strstr(err, "a target of 10.0 ms") &&
		      strstr(err, "300.0 ms deadline"), "%s", err);
	ck_assert_int_eq(after, VFIOMIG_STATE_RUNNING);
	ck_assert_uint_ge(st.elapsed_ns, 300 * MS);
	ck_assert_uint_lt(st.elapsed_ns, 3000 * MS);	/* a round past it, on a busy machine */
	ck_assert_uint_eq(st.stop_copy_bytes, 0);
}
END_TEST

/* SWITCH never breaks the initial-bytes rule: initial bytes that never
 * reach 0 make the deadline fail the save, with the reason. */
START_TEST(test_deadline_initial_pending)
{
	struct vfiomig_save_opts so = { .downtime_limit_ns = 10000 * MS,
					.precopy_timeout_ns = 200 * MS,
					.on_timeout = VFIOMIG_ON_TIMEOUT_SWITCH };
	struct vfiomig_stats st;
	enum vfiomig_state after;
	char err[512];

	ck_assert_int_eq(save_one("mock:i,size=256K,garbage=initial:4096", &so, &st, NULL, &after,
				  err, sizeof(err)), -ETIMEDOUT);
	ck_assert_msg(strstr(err, "initial bytes still to send"), "%s", err);
	ck_assert_int_eq(after, VFIOMIG_STATE_RUNNING);
}
END_TEST

/* A target met at once still waits for REINIT's initial bytes (round 2). */
START_TEST(test_target_waits_for_initial)
{
	struct vfiomig_save_opts so = { .downtime_limit_ns = 10000 * MS, .precopy_rounds = 1 };
	struct vfiomig_stats st;
	enum vfiomig_state after;
	char err[512];

	ck_assert_int_eq(save_one("mock:p,size=256K,dirty=64K,infov2=1,reinit=1", &so, &st, NULL,
				  &after, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.precopy_rounds, 2);
	ck_assert_uint_ge(st.precopy_bytes, 2 * (256u << 10));
}
END_TEST

/*
 * Sizes that cannot be true: an unknown or impossible dirty count is
 * capped to what the device holds (its initial image, about 1M: about
 * 31 ms at 32M/s), said once however many rounds see it; lying MIG_DATA_SIZEs
 * change nothing.  A 1 ms target is then never met, and the deadline ends it.
 */
static const struct {
	const char *keys;
	bool capped;
} garbage[] = {
	{ "garbage=dirty:max", true },
	{ "garbage=dirty:1099511627776", true },
	{ "garbage=dirty:9223372036854775808,garbage=datasize:max", true },
	{ "garbage=datasize:1", false },
	{ "garbage=datasize:1099511627776", false },
};

START_TEST(test_garbage_sizes)
{
	struct vfiomig_save_opts so = { .downtime_limit_ns = 1 * MS,
					.precopy_timeout_ns = 300 * MS };
	struct warnings w = { 0 };
	struct vfiomig_stats st;
	enum vfiomig_state after;
	char spec[160], err[512];

	snprintf(spec, sizeof(spec), "mock:g,size=1M,rate=32M,dirty=64K,%s", garbage[_i].keys);
	ck_assert_int_eq(save_one(spec, &so, &st, &w, &after, err, sizeof(err)), 0);
	ck_assert_uint_ge(st.precopy_rounds, 3);
	/* a lying MIG_DATA_SIZE, high or low, caps nothing */
	ck_assert_uint_eq(w.capped, garbage[_i].capped);
	ck_assert_uint_ne(st.downtime_estimate_ns, UINT64_MAX);
	if (garbage[_i].capped) {
		/* the initial image, 1M and its framing, at the bandwidth
		 * measured, plus the arcs of the stop */
		double image = 1e9 * (1 << 20) / (double)st.precopy_bandwidth;

		ck_assert_msg(st.downtime_estimate_ns >= image &&
			      st.downtime_estimate_ns <= image * 1.1 + 500 * MS,
			      "estimate %llu ns, the image's time %.0f ns",
			      (unsigned long long)st.downtime_estimate_ns, image);
	}
}
END_TEST

/*
 * A group's estimate, the formula: with one stream, the members' remaining
 * bytes summed over the stream's bandwidth, plus the slowest arcs; with a
 * stream per member, the slowest member's own estimate.  Member a: 8 MB
 * left at 100 MB/s and 1 ms of arcs (81 ms); b: 1 MB at 10 MB/s and 3 ms
 * (103 ms); the stream: 50 MB/s (9 MB: 180 ms, + 3 ms).
 */
START_TEST(test_group_formula)
{
	struct downtime a, b, stream;
	const struct downtime *m[] = { &a, &b };

	downtime_init(&a, 0);
	downtime_init(&b, 0);
	downtime_init(&stream, 0);
	downtime_round(&a, 100000000, 1000000000);
	downtime_round(&b, 10000000, 1000000000);
	downtime_round(&stream, 50000000, 1000000000);
	a.remaining = 8000000;
	a.arcs_ns = 1 * MS;
	b.remaining = 1000000;
	b.arcs_ns = 3 * MS;
	ck_assert_uint_eq(downtime_of(&a), 81 * MS);
	ck_assert_uint_eq(downtime_of(&b), 103 * MS);
	ck_assert_uint_eq(downtime_group(m, 2, NULL), 103 * MS);
	ck_assert_uint_eq(downtime_group(m, 2, &stream), 183 * MS);
	/* a member without an estimate leaves the group without one */
	b.remaining = DOWNTIME_UNKNOWN;
	ck_assert_uint_eq(downtime_group(m, 2, &stream), DOWNTIME_UNKNOWN);
	ck_assert_uint_eq(downtime_group(m, 2, NULL), DOWNTIME_UNKNOWN);
}
END_TEST

/*
 * The bandwidth is a moving figure that weighs rounds by their bytes: a
 * round with no bytes changes nothing, a tiny fast one barely moves it,
 * and older rounds fade.
 */
START_TEST(test_bandwidth_meter)
{
	struct downtime d;

	downtime_init(&d, 0);
	ck_assert_uint_eq(downtime_bandwidth(&d), 0);
	downtime_round(&d, 64000000, 1000000000);	/* 64 MB/s */
	ck_assert_uint_eq(downtime_bandwidth(&d), 64000000);
	downtime_round(&d, 0, 5000000);
	ck_assert_uint_eq(downtime_bandwidth(&d), 64000000);
	downtime_round(&d, 4096, 1000);			/* 4 GB/s, but 4 KiB */
	ck_assert_uint_le(downtime_bandwidth(&d), 65000000);
	for (int i = 0; i < 40; i++)
		downtime_round(&d, 16000000, 1000000000);	/* 16 MB/s from then on */
	ck_assert_uint_le(downtime_bandwidth(&d), 16100000);
	ck_assert_uint_ge(downtime_bandwidth(&d), 15900000);
}
END_TEST

/* Adds @dev to @g, which holds it from then on. */
static void add(struct vfiomig_group *g, struct vfiomig_dev *dev)
{
	ck_assert_int_eq(vfiomig_group_add(g, dev), 0);
	vfiomig_dev_unref(dev);
}

/*
 * A group's save uses it: with a stream per member, the group's estimate
 * is its slowest member's; with one stream, each member's figures and the
 * group's are reported, and the target is met.
 */
START_TEST(test_group_estimate)
{
	bool one_stream = _i == 0;
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = VFIOMIG_PRECOPY_MODE_AUTO,
					.leave = VFIOMIG_LEAVE_RUNNING,
					.downtime_limit_ns = 200 * MS, .precopy_timeout_ns = 5000 * MS };
	struct vfiomig_stats st = { .sz = sizeof(st) };
	struct vfiomig_group_result res[2];
	struct vfiomig_group *g;
	struct vfiomig_ctx *ctx;
	uint64_t slowest = 0;
	int fds[2];

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	ck_assert_int_eq(vfiomig_group_new(ctx, 0, &g), 0);
	add(g, open_dev(ctx, "mock:ga,size=2M,rate=32M,dirtyplan=8M"));
	add(g, open_dev(ctx, "mock:gb,size=512K,rate=8M,dirtyplan=3M"));
	for (int i = 0; i < 2; i++) {
		fds[i] = memfd_create("stream", MFD_CLOEXEC);
		ck_assert_int_ge(fds[i], 0);
	}
	so.stats = &st;
	ck_assert_msg(vfiomig_group_save(g, fds, one_stream ? 1 : 2, &so) == 0, "%s",
		      vfiomig_ctx_get_error(ctx));
	for (unsigned int i = 0; i < 2; i++) {
		res[i].sz = sizeof(res[i]);
		ck_assert_int_eq(vfiomig_group_get_result(g, i, &res[i]), 0);
		ck_assert_uint_ne(res[i].downtime_estimate_ns, UINT64_MAX);
		ck_assert_uint_gt(res[i].precopy_bandwidth, 0);
		if (res[i].downtime_estimate_ns > slowest)
			slowest = res[i].downtime_estimate_ns;
	}
	ck_assert_uint_gt(st.precopy_bandwidth, 0);
	ck_assert_msg(!st.precopy_timed_out && st.downtime_estimate_ns <= 200 * MS,
		      "%s: estimate %llu ns after %u rounds, members %llu and %llu",
		      one_stream ? "one stream" : "a stream each",
		      (unsigned long long)st.downtime_estimate_ns, st.precopy_rounds,
		      (unsigned long long)res[0].downtime_estimate_ns,
		      (unsigned long long)res[1].downtime_estimate_ns);
	ck_assert_uint_le(st.precopy_rounds, 3);	/* the target ended it */
	if (!one_stream)
		ck_assert_uint_eq(st.downtime_estimate_ns, slowest);
	close(fds[0]);
	close(fds[1]);
	vfiomig_group_unref(g);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* An on_timeout out of range is refused before anything moves. */
START_TEST(test_bad_on_timeout)
{
	struct vfiomig_save_opts so = { .on_timeout = 2 };
	struct vfiomig_stats st;
	enum vfiomig_state after;
	char err[512];

	ck_assert_int_eq(save_one("mock:b", &so, &st, NULL, &after, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "out of range"), "%s", err);
	ck_assert_int_eq(after, VFIOMIG_STATE_RUNNING);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("downtime");
	TCase *tc = tcase_create("downtime");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_target_met);
	tcase_add_test(tc, test_deadline_switch);
	tcase_add_test(tc, test_deadline_abort);
	tcase_add_test(tc, test_deadline_initial_pending);
	tcase_add_test(tc, test_target_waits_for_initial);
	tcase_add_loop_test(tc, test_garbage_sizes, 0, sizeof(garbage) / sizeof(garbage[0]));
	tcase_add_test(tc, test_group_formula);
	tcase_add_test(tc, test_bandwidth_meter);
	tcase_add_loop_test(tc, test_group_estimate, 0, 2);
	tcase_add_test(tc, test_bad_on_timeout);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
