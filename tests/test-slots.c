/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Each thread's error slots (lib/core/call.c): they live and die with their
 * thread, and finding one costs the same however many threads have made
 * calls before.
 * - 20,000 short-lived threads, each making a failing and a succeeding
 *   call on one context, leave the heap where it was (within 1 MB), and
 *   neither a new thread's calls nor an old thread's get slower as they
 *   come;
 * - a thread that ends while another frees the context, and a context
 *   freed under threads that live on and call other contexts, again and
 *   again: nothing leaks (LeakSanitizer, in the ASan build) and nothing
 *   freed is touched (ASan, TSan).
 *
 * The time checks compare medians of many samples taken the same way at
 * the start and at the end, each measured inside one thread around two
 * calls only (no thread creation in it), against a bound that the old
 * list (a scan of every thread's slot) missed a hundredfold: a loaded
 * machine cannot flip them.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test-util.h"
#include <vfiomig/vfiomig.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifdef SANITIZED
#include <sanitizer/allocator_interface.h>
#endif

#define THREADS 20000
#define BATCH 50		/* threads alive at once */
#define SAMPLES 1000		/* threads whose calls are compared, at each end */
#define MB (1024 * 1024)

/* Bytes the program has allocated and not freed. */
static size_t heap_in_use(void)
{
#ifdef SANITIZED
	return __sanitizer_get_current_allocated_bytes();
#else
	return mallinfo2().uordblks;
#endif
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static uint64_t median(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

/* ---- one failing and one succeeding call, timed ---- */

struct caller {
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	uint64_t ns;			/* how long the two calls took */
	char wrong[256];		/* what was not as it should be */
};

static void two_calls(struct caller *c)
{
	unsigned int caps;
	uint64_t t0 = now_ns();
	int failed = vfiomig_dev_get_caps(c->dev, NULL);
	bool said = strstr(vfiomig_ctx_get_error(c->ctx) ?: "", "no place to return");
	int ok = vfiomig_dev_get_caps(c->dev, &caps);
	const char *after = vfiomig_ctx_get_error(c->ctx);

	c->ns = now_ns() - t0;
	if (failed != -EINVAL || !said)
		snprintf(c->wrong, sizeof(c->wrong), "the failing call gave %d and %s", failed,
			 said ? "its sentence" : "no sentence of its own");
	else if (ok != 0 || after)
		snprintf(c->wrong, sizeof(c->wrong), "the succeeding call gave %d, \"%s\"", ok,
			 after ? after : "(none)");
}

static void *caller_thread(void *arg)
{
	two_calls(arg);
	return NULL;
}

/* Threads [first, first + n) of @callers, started together and joined. */
static void run_batch(struct caller *callers, size_t first, size_t n)
{
	pthread_t t[BATCH];

	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, caller_thread, &callers[first + i]), 0);
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_msg(!callers[first + i].wrong[0], "thread %zu: %s", first + i,
			      callers[first + i].wrong);
	}
}

static void run_threads(struct caller *callers, size_t n)
{
	for (size_t i = 0; i < n; i += BATCH)
		run_batch(callers, i, n - i < BATCH ? n - i : BATCH);
}

/* The median time of the two calls made by @n of @callers. */
static uint64_t median_of(const struct caller *callers, size_t n)
{
	uint64_t *ns = calloc(n, sizeof(*ns));
	uint64_t m;

	ck_assert_ptr_nonnull(ns);
	for (size_t i = 0; i < n; i++)
		ns[i] = callers[i].ns;
	m = median(ns, n);
	free(ns);
	return m;
}

/* The median time of the two calls on this thread, over @n rounds. */
static uint64_t median_here(struct vfiomig_ctx *ctx, struct vfiomig_dev *dev, size_t n)
{
	struct caller *c = calloc(n, sizeof(*c));
	uint64_t m;

	ck_assert_ptr_nonnull(c);
	for (size_t i = 0; i < n; i++) {
		c[i] = (struct caller){ .ctx = ctx, .dev = dev };
		two_calls(&c[i]);
		ck_assert_msg(!c[i].wrong[0], "%s", c[i].wrong);
	}
	m = median_of(c, n);
	free(c);
	return m;
}

/*
 * A bound on "did not grow": four times the first median, plus 2 us for
 * the granularity of a sub-microsecond call.  A scan of 20,000 slots
 * takes tens of microseconds.
 */
static void assert_flat(const char *what, uint64_t first, uint64_t last)
{
	ck_assert_msg(last <= 4 * first + 2000, "%s: %llu ns per two calls at first, %llu ns "
		      "after %d threads called", what, (unsigned long long)first,
		      (unsigned long long)last, THREADS);
}

START_TEST(test_short_lived_threads)
{
	struct caller *callers = calloc(THREADS, sizeof(*callers));
	uint64_t here_first, here_last;
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	size_t heap_before, heap_after;

	ck_assert_ptr_nonnull(callers);
	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dev = open_dev(ctx, "mock:slots");
	for (size_t i = 0; i < THREADS; i++)
		callers[i] = (struct caller){ .ctx = ctx, .dev = dev };
	/* glibc's thread caches and arenas come with the first threads. */
	run_threads(callers, 2 * BATCH);
	here_first = median_here(ctx, dev, SAMPLES);
	heap_before = heap_in_use();

	run_threads(callers, THREADS);

	heap_after = heap_in_use();
	here_last = median_here(ctx, dev, SAMPLES);
	ck_assert_msg(heap_after < heap_before + MB, "%d threads grew the heap by %zu KiB "
		      "(from %zu KiB)", THREADS, (heap_after - heap_before) / 1024,
		      heap_before / 1024);
	assert_flat("a new thread's calls", median_of(callers, SAMPLES),
		    median_of(callers + THREADS - SAMPLES, SAMPLES));
	assert_flat("the calls of a thread that called first", here_first, here_last);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
	free(callers);
}
END_TEST

/* ---- lifetimes: a thread and its context, ending in either order ---- */

#define ROUNDS 2000

struct ender {
	struct vfiomig_ctx *ctx;	/* a reference of the thread's own */
	pthread_barrier_t *both;
	int r;
};

/* A failing call leaves a slot; then this thread and the test's drop
 * their references together, and this thread ends. */
static void *end_with_ctx(void *arg)
{
	struct ender *e = arg;
	struct vfiomig_dev *dev;

	e->r = vfiomig_dev_open(e->ctx, NULL, &dev);
	pthread_barrier_wait(e->both);
	vfiomig_ctx_unref(e->ctx);
	return NULL;
}

START_TEST(test_thread_ends_while_ctx_is_freed)
{
	size_t heap_before = 0;
	pthread_barrier_t both;

	pthread_barrier_init(&both, NULL, 2);
	for (int i = 0; i < ROUNDS; i++) {
		struct ender e = { .both = &both };
		pthread_t t;

		if (i == ROUNDS / 10)
			heap_before = heap_in_use();
		ck_assert_int_eq(test_ctx_new(&e.ctx), 0);
		ck_assert_int_eq(vfiomig_dev_open(e.ctx, NULL, NULL), -EINVAL);
		vfiomig_ctx_ref(e.ctx);
		ck_assert_int_eq(pthread_create(&t, NULL, end_with_ctx, &e), 0);
		pthread_barrier_wait(&both);
		vfiomig_ctx_unref(e.ctx);
		ck_assert_int_eq(pthread_join(t, NULL), 0);
		ck_assert_int_eq(e.r, -EINVAL);
	}
	pthread_barrier_destroy(&both);
	ck_assert_msg(heap_in_use() < heap_before + MB, "the heap grew by %zu KiB",
		      (heap_in_use() - heap_before) / 1024);
}
END_TEST

/* Threads that outlive contexts they called: each round a new context,
 * called by every thread, then freed while they wait for the next. */
#define LIVERS 4

struct liver {
	struct vfiomig_ctx *const *ctx;	/* this round's */
	pthread_barrier_t *start, *done;
	char wrong[128];
};

static void *live_on(void *arg)
{
	struct liver *l = arg;
	struct vfiomig_dev *dev;

	for (int i = 0; i < ROUNDS / 4; i++) {
		pthread_barrier_wait(l->start);
		if (vfiomig_dev_open(*l->ctx, NULL, &dev) != -EINVAL ||
		    !vfiomig_ctx_get_error(*l->ctx))
			snprintf(l->wrong, sizeof(l->wrong), "round %d: no failure recorded", i);
		pthread_barrier_wait(l->done);
	}
	return NULL;
}

START_TEST(test_ctx_freed_under_living_threads)
{
	struct liver l[LIVERS];
	pthread_t t[LIVERS];
	pthread_barrier_t start, done;
	struct vfiomig_ctx *ctx = NULL;
	size_t heap_before = 0;

	pthread_barrier_init(&start, NULL, LIVERS + 1);
	pthread_barrier_init(&done, NULL, LIVERS + 1);
	for (int k = 0; k < LIVERS; k++) {
		l[k] = (struct liver){ .ctx = &ctx, .start = &start, .done = &done };
		ck_assert_int_eq(pthread_create(&t[k], NULL, live_on, &l[k]), 0);
	}
	for (int i = 0; i < ROUNDS / 4; i++) {
		if (i == ROUNDS / 40)
			heap_before = heap_in_use();
		ck_assert_int_eq(test_ctx_new(&ctx), 0);
		pthread_barrier_wait(&start);
		pthread_barrier_wait(&done);
		ctx = vfiomig_ctx_unref(ctx);
	}
	for (int k = 0; k < LIVERS; k++) {
		ck_assert_int_eq(pthread_join(t[k], NULL), 0);
		ck_assert_msg(!l[k].wrong[0], "thread %d: %s", k, l[k].wrong);
	}
	pthread_barrier_destroy(&start);
	pthread_barrier_destroy(&done);
	ck_assert_msg(heap_in_use() < heap_before + MB, "the heap grew by %zu KiB",
		      (heap_in_use() - heap_before) / 1024);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("slots");
	TCase *tc = tcase_create("slots");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_short_lived_threads);
	tcase_add_test(tc, test_thread_ends_while_ctx_is_freed);
	tcase_add_test(tc, test_ctx_freed_under_living_threads);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
