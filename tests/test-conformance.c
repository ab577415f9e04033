// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The conformance checker against itself: a mock that keeps every rule
 * passes every check; each mock knob that breaks one rule (bug=, and the
 * older eom=zero, resetflag=0, datasize=0) makes exactly its check fail or
 * deviate, while every other check passes.  And the requests the checker
 * must never send (STOP_COPY -> PRE_COPY*) are looked for in the mock's
 * arc journal.  Two runs on two contexts at once share nothing: under
 * ThreadSanitizer (suite threads) any memory they shared would show.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <vfiomig/conformance.h>

#include "test-util.h"
#include "util.h"
#include "mock.h"

#define PASS VFIOMIG_VERDICT_PASS
#define FAIL VFIOMIG_VERDICT_FAIL
#define DEV VFIOMIG_VERDICT_DEVIATION

static struct vfiomig_ctx *ctx;

static void setup(void)
{
	ck_assert_int_eq(test_ctx_new(&ctx), 0);
}

static void teardown(void)
{
	vfiomig_ctx_unref(ctx);
}

/* One broken rule: the knobs of the device and of the twin, and what must show. */
struct broken {
	const char *device, *twin;
	const char *id;
	enum vfiomig_verdict verdict;
	const char *also;	/* a second check the same knob must break, or NULL */
};

static const struct broken broken[] = {
	{ "bug=flags", "bug=flags", "features.migration-flags", DEV, NULL },
	{ "bug=size-lies", "", "features.data-size", DEV, NULL },
	{ "datasize=0", "datasize=0", "features.data-size", DEV, NULL },
	{ "bug=probe-lies", "", "features.dma-logging-probe", FAIL, NULL },
	{ "bug=infov2-einval", "", "features.precopy-infov2", FAIL, NULL },
	{ "bug=wrong-arc", "", "arcs.accepted", FAIL, NULL },
	{ "bug=accepts-error", "", "arcs.unreachable-refused", FAIL, NULL },
	{ "bug=failed-set-wrong", "", "arcs.failed-set-state", FAIL, NULL },
	{ "bug=no-eof", "", "data.stop-copy-end", FAIL, NULL },
	{ "eom=zero", "", "data.precopy-temporary-end", DEV, NULL },
	{ "bug=precopy-info-anywhere", "", "data.precopy-info-outside", FAIL, NULL },
	{ "bug=initial-grows", "", "data.initial-bytes", FAIL, NULL },
	{ "bug=ended-fd-alive", "", "data.ended-session-fd", DEV, NULL },
	{ "bug=write-split", "", "data.resume-any-split", FAIL, NULL },
	{ "bug=reset-sticks", "", "reset.from-every-state", FAIL, NULL },
	{ "bug=reset-keeps-fds", "", "reset.ends-sessions", FAIL, NULL },
	{ "resetflag=0", "", "reset.flag-advertised", DEV, NULL },
	{ "", "bug=no-run-after-load", "twin.load-and-run", FAIL, NULL },
	{ "", "bug=load-once", "twin.load-twice", FAIL, NULL },
	{ "", "bug=accepts-truncated", "twin.truncated-refused", FAIL, NULL },
	{ "", "bug=accepts-garbage", "twin.corrupt-refused", FAIL, NULL },
	{ "", "bug=wrong-arc", "twin.p2p-arcs", FAIL, NULL },
	{ "bug=keeps-state", "", "robustness.reopen-state", DEV, NULL },
	/* a session can outlive a close only if the state does */
	{ "bug=keeps-sessions", "", "robustness.reopen-session", DEV, "robustness.reopen-state" },
};

static struct vfiomig_conformance *run_pair(const char *dev_knobs, const char *twin_knobs)
{
	char dev[128], twin[128];
	struct vfiomig_conformance_opts o = { .sz = sizeof(o), .twin = twin };
	struct vfiomig_conformance *rep = NULL;

	snprintf(dev, sizeof(dev), "mock:dev%s%s", *dev_knobs ? "," : "", dev_knobs);
	snprintf(twin, sizeof(twin), "mock:twin%s%s", *twin_knobs ? "," : "", twin_knobs);
	ck_assert_msg(vfiomig_conformance_run(ctx, dev, &o, &rep) == 0, "%s / %s: %s", dev, twin,
		      vfiomig_ctx_get_error(ctx));
	return rep;
}

START_TEST(test_all_pass)
{
	struct vfiomig_conformance *rep = run_pair("", "");
	struct vfiomig_conformance_info info = { .sz = sizeof(info) };
	size_t n;

	vfiomig_conformance_catalogue(&n);
	ck_assert_uint_eq(vfiomig_conformance_get_count(rep), n);
	for (size_t i = 0; i < n; i++) {
		const struct vfiomig_conformance_result *r = vfiomig_conformance_get_result(rep, i);

		ck_assert_msg(r->verdict == PASS, "%s: %s: %s", r->check->id,
			      vfiomig_verdict_name(r->verdict), r->detail);
	}
	ck_assert_int_eq(vfiomig_conformance_get_info(rep, &info), 0);
	ck_assert_uint_eq(info.count[PASS], n);
	ck_assert_str_eq(info.device, "mock:dev");
	ck_assert_str_eq(info.twin, "mock:twin");
	vfiomig_conformance_free(rep);
}
END_TEST

static bool expected_broken(const struct broken *b, const char *id)
{
	return !strcmp(id, b->id) || (b->also && !strcmp(id, b->also));
}

START_TEST(test_each_rule_can_break)
{
	const struct broken *b = &broken[_i];
	struct vfiomig_conformance *rep = run_pair(b->device, b->twin);
	bool seen = false;

	for (size_t i = 0; i < vfiomig_conformance_get_count(rep); i++) {
		const struct vfiomig_conformance_result *r = vfiomig_conformance_get_result(rep, i);

		if (!strcmp(r->check->id, b->id)) {
			seen = true;
			ck_assert_msg(r->verdict == b->verdict, "%s/%s: %s is %s, not %s: %s",
				      b->device, b->twin, b->id, vfiomig_verdict_name(r->verdict),
				      vfiomig_verdict_name(b->verdict), r->detail);
		} else if (expected_broken(b, r->check->id)) {
			ck_assert_msg(r->verdict != PASS, "%s/%s: %s passes", b->device, b->twin,
				      r->check->id);
		} else {
			ck_assert_msg(r->verdict == PASS, "%s/%s breaks %s too: %s: %s", b->device,
				      b->twin, r->check->id, vfiomig_verdict_name(r->verdict),
				      r->detail);
		}
	}
	ck_assert_msg(seen, "%s not run", b->id);
	vfiomig_conformance_free(rep);
}
END_TEST

/* Every check of the catalogue is shown to break by some knob. */
START_TEST(test_every_check_has_a_knob)
{
	size_t n;
	const struct vfiomig_conformance_check *c = vfiomig_conformance_catalogue(&n);

	for (size_t i = 0; i < n; i++) {
		bool found = false;

		for (size_t k = 0; k < ARRAY_SIZE(broken); k++)
			found |= !strcmp(broken[k].id, c[i].id);
		ck_assert_msg(found, "no knob breaks %s", c[i].id);
	}
}
END_TEST

/*
 * The two requests that crash some kernels are never sent: the mock models
 * them (bug=hang-arc, bug=stale-oops) by aborting the process, which fails
 * the test case.
 */
START_TEST(test_never_sends_the_hang)
{
	vfiomig_conformance_free(run_pair("bug=hang-arc", "bug=hang-arc"));
}
END_TEST

/* Like mtty 6.12: its state stays across a close, and RESUMING -> STOP then oopses. */
START_TEST(test_stale_session_only_reset)
{
	struct vfiomig_conformance_opts o = { .sz = sizeof(o), .areas = VFIOMIG_CONF_ROBUSTNESS };
	struct vfiomig_conformance *rep = NULL;
	const struct vfiomig_conformance_result *r;

	ck_assert_int_eq(vfiomig_conformance_run(ctx, "mock:m,bug=keeps-state,bug=stale-oops", &o,
						 &rep), 0);
	r = vfiomig_conformance_get_result(rep, 0);
	ck_assert_int_eq(r->verdict, DEV);
	ck_assert_ptr_nonnull(strstr(r->detail, "RESUMING"));
	ck_assert_int_eq(vfiomig_conformance_get_result(rep, 1)->verdict, PASS);
	vfiomig_conformance_free(rep);
}
END_TEST

/* One whole run on a context of its own; NULL, or why it did not pass. */
static void *run_alone(void *name)
{
	struct vfiomig_conformance_opts o = { .sz = sizeof(o) };
	struct vfiomig_conformance_info info = { .sz = sizeof(info) };
	struct vfiomig_conformance *rep = NULL;
	struct vfiomig_ctx *own;
	char spec[64], twin[64];
	const char *why = NULL;
	size_t n;

	snprintf(spec, sizeof(spec), "mock:%s", (const char *)name);
	snprintf(twin, sizeof(twin), "mock:%s-twin", (const char *)name);
	o.twin = twin;
	vfiomig_conformance_catalogue(&n);
	if (test_ctx_new(&own) < 0)
		return "no context";
	if (vfiomig_conformance_run(own, spec, &o, &rep) < 0)
		why = "the run failed";
	else if (vfiomig_conformance_get_info(rep, &info) < 0 || info.count[PASS] != n)
		why = "not every check passed";
	vfiomig_conformance_free(rep);
	vfiomig_ctx_unref(own);
	return (void *)why;
}

/* Two runs on two contexts in two threads at once, each passing every check. */
START_TEST(test_two_runs_at_once)
{
	static const char *const names[2] = { "one", "two" };
	pthread_t t[2];
	void *why;

	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, run_alone, (void *)names[i]), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(pthread_join(t[i], &why), 0);
		ck_assert_msg(!why, "mock:%s: %s", names[i], (const char *)why);
	}
}
END_TEST

/* The last arc the journal has for @device ends in RUNNING: the run put it back. */
static void check_put_back(const char *device)
{
	static struct vfiomig_mock_arc j[VFIOMIG_MOCK_JOURNAL_MAX];
	size_t n = vfiomig_mock_journal(ctx, j, VFIOMIG_MOCK_JOURNAL_MAX);
	const struct vfiomig_mock_arc *last = NULL;

	for (size_t i = 0; i < n && i < VFIOMIG_MOCK_JOURNAL_MAX; i++)
		if (!strcmp(j[i].device, device))
			last = &j[i];
	ck_assert_msg(last, "%s: nothing journaled", device);
	ck_assert_msg(last->to == VFIOMIG_STATE_RUNNING, "%s: left in %s", device,
		      vfiomig_state_name(last->to));
}

struct raise_after {
	struct vfiomig_cancel *cancel;
	unsigned int results, after;	/* on_result: raise after this many */
	unsigned int ms;		/* raiser(): raise after this long */
};

static void raise_on_result(const struct vfiomig_conformance_result *r, void *userdata)
{
	struct raise_after *ra = userdata;

	(void)r;
	if (++ra->results == ra->after)
		vfiomig_cancel_raise(ra->cancel);
}

static void *raiser(void *arg)
{
	struct raise_after *ra = arg;
	struct timespec ts = { .tv_sec = ra->ms / 1000, .tv_nsec = (ra->ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
	vfiomig_cancel_raise(ra->cancel);
	return NULL;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Raised from on_result after the third check: no fourth runs, both devices go back. */
START_TEST(test_cancel_between_checks)
{
	struct raise_after ra = { .after = 3 };
	struct vfiomig_conformance_opts o = {
		.sz = sizeof(o), .twin = "mock:twin", .on_result = raise_on_result, .userdata = &ra,
	};
	struct vfiomig_conformance *rep = NULL;
	struct vfiomig_conformance_info info = { .sz = sizeof(info) };

	ck_assert_int_eq(vfiomig_cancel_new(&ra.cancel), 0);
	o.cancel = ra.cancel;
	ck_assert_int_eq(vfiomig_conformance_run(ctx, "mock:dev", &o, &rep), -ECANCELED);
	ck_assert_ptr_nonnull(rep);
	ck_assert_uint_eq(vfiomig_conformance_get_count(rep), 3);
	ck_assert_int_eq(vfiomig_conformance_get_info(rep, &info), 0);
	ck_assert_uint_eq(info.count[PASS], 3);
	ck_assert_str_eq(vfiomig_ctx_get_error(ctx), "cancelled after 3 of 23 checks; the "
			 "device is back in RUNNING (reset); its twin mock:twin is back in "
			 "RUNNING (reset)");
	check_put_back("mock:dev");
	check_put_back("mock:twin");
	vfiomig_conformance_free(rep);

	/* Raised after the last check: nothing was left out, so the run finished. */
	ck_assert_int_eq(vfiomig_cancel_clear(ra.cancel), 0);
	ra = (struct raise_after){ .cancel = ra.cancel, .after = 4 };
	o.areas = VFIOMIG_CONF_FEATURES;
	rep = NULL;
	ck_assert_int_eq(vfiomig_conformance_run(ctx, "mock:dev", &o, &rep), 0);
	ck_assert_uint_eq(vfiomig_conformance_get_count(rep), 4);
	vfiomig_conformance_free(rep);
	vfiomig_cancel_unref(ra.cancel);
}
END_TEST

/*
 * Raised from another thread while a check waits: for a slow device's data
 * (its image takes 64 s at rate=16K), or for slow arcs (arcs.accepted
 * takes some 25 s at arc=200ms).  The run ends within a step; the check
 * under way is left out.
 */
START_TEST(test_cancel_in_a_wait)
{
	static const struct {
		const char *spec;
		unsigned int areas;
		size_t done;	/* checks that end before the raise */
	} slow[] = {
		{ "mock:dev,size=1M,rate=16K", VFIOMIG_CONF_FEATURES, 1 },
		{ "mock:dev,arc=200ms", VFIOMIG_CONF_ARCS, 0 },
	};
	struct raise_after ra = { .ms = 300 };
	struct vfiomig_conformance_opts o = { .sz = sizeof(o), .areas = slow[_i].areas };
	struct vfiomig_conformance *rep = NULL;
	struct timespec t0;
	pthread_t t;
	double took;

	ck_assert_int_eq(vfiomig_cancel_new(&ra.cancel), 0);
	o.cancel = ra.cancel;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(pthread_create(&t, NULL, raiser, &ra), 0);
	ck_assert_int_eq(vfiomig_conformance_run(ctx, slow[_i].spec, &o, &rep), -ECANCELED);
	took = seconds_since(&t0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	/* a step: a reset and a SET of up to 4 arcs of 200 ms, on a loaded machine */
	ck_assert_msg(took < 3.0, "%s: the run took %.1f s", slow[_i].spec, took);
	ck_assert_uint_eq(vfiomig_conformance_get_count(rep), slow[_i].done);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "the device is back in RUNNING"));
	check_put_back("mock:dev");
	vfiomig_conformance_free(rep);
	vfiomig_cancel_unref(ra.cancel);
}
END_TEST

START_TEST(test_refusals)
{
	struct vfiomig_conformance_opts o = { .sz = sizeof(o), .twin = "mock:t,flags=stop_copy" };
	struct vfiomig_conformance *rep = NULL;
	struct vfiomig_error e = { .sz = sizeof(e) };

	ck_assert_int_eq(vfiomig_conformance_run(ctx, "mock:a", &o, &rep), -EINVAL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "not of the same kind"));
	ck_assert_ptr_null(rep);
	o.twin = NULL;
	o.areas = 1u << 9;
	ck_assert_int_eq(vfiomig_conformance_run(ctx, "mock:a", &o, &rep), -EINVAL);
	/* the open's failure is the run's, with its facts */
	ck_assert_int_eq(vfiomig_conformance_run(ctx, "mock:a,size=x", NULL, &rep), -EINVAL);
	ck_assert_int_eq(vfiomig_ctx_get_error_info(ctx, &e), 0);
	ck_assert_int_eq(e.bad_spec, 1);
	ck_assert_ptr_nonnull(strstr(e.message, "size"));
	ck_assert_int_eq(vfiomig_conformance_run(NULL, "mock:a", NULL, &rep), -EINVAL);
	ck_assert_ptr_null(rep);
}
END_TEST

/*
 * A run is one call: the library's calls inside it may fail (here every
 * reset, the last of them at the run's end), and a run that finished still
 * leaves no error for the thread.
 */
START_TEST(test_finished_run_leaves_no_error)
{
	struct vfiomig_conformance_opts o = { .sz = sizeof(o), .areas = VFIOMIG_CONF_RESET };
	struct vfiomig_conformance *rep = NULL;

	ck_assert_int_eq(vfiomig_conformance_run(ctx, "mock:r,fail=reset:1+:EBUSY", &o, &rep), 0);
	ck_assert_ptr_nonnull(strstr(vfiomig_conformance_get_result(rep, 0)->detail, "EBUSY"));
	ck_assert_ptr_null(vfiomig_ctx_get_error(ctx));
	vfiomig_conformance_free(rep);
}
END_TEST

START_TEST(test_names)
{
	enum vfiomig_conformance_area a;

	ck_assert_int_eq(vfiomig_conformance_area_parse("robustness", &a), 0);
	ck_assert_int_eq(a, VFIOMIG_CONF_ROBUSTNESS);
	ck_assert_str_eq(vfiomig_conformance_area_name(a), "robustness");
	ck_assert_int_eq(vfiomig_conformance_area_parse("bogus", &a), -EINVAL);
	ck_assert_ptr_null(vfiomig_conformance_area_name(VFIOMIG_CONF_ALL));
	ck_assert_str_eq(vfiomig_verdict_name(DEV), "deviation");
	ck_assert_ptr_null(vfiomig_verdict_name(7));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("conformance");
	TCase *tc = tcase_create("checks");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_all_pass);
	tcase_add_loop_test(tc, test_each_rule_can_break, 0, ARRAY_SIZE(broken));
	tcase_add_test(tc, test_every_check_has_a_knob);
	tcase_add_test(tc, test_never_sends_the_hang);
	tcase_add_test(tc, test_stale_session_only_reset);
	tcase_add_test(tc, test_two_runs_at_once);
	tcase_add_test(tc, test_cancel_between_checks);
	tcase_add_loop_test(tc, test_cancel_in_a_wait, 0, 2);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_finished_run_leaves_no_error);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
