// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench-slots: what a call's error slot costs, and whether that grows with
 * the number of threads that have made calls on the context (issue #22:
 * thread pools, a migration thread per migration).  Each repetition, on a
 * fresh context and mock device:
 *
 *   none    an accessor that takes no slot (vfiomig_dev_get_fd());
 *   old     a call on a thread that has called before (the program's own),
 *           half failing (vfiomig_dev_get_caps(dev, NULL)), half
 *           succeeding, timed in runs of 100;
 *   new     the two calls of a new thread (its first calls: its slot is
 *           made), timed inside the thread, over 1,000 threads;
 *
 * each measured with 1 thread having called, then again after --threads
 * (20,000) short-lived threads made their two calls, 50 alive at a time.
 * The heap in use is read before and after those threads (mallinfo2()).
 *
 * It prints each figure's median over the repetitions, and each ratio
 * (after / before) as the median of the repetitions' own ratios, with
 * their range.  It exits 1 only if a call does not answer as it must,
 * which is what the smoke test (--quick) checks.
 *
 *   bench-slots [--threads 20000] [--reps 7] [--quick]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vfiomig/mock.h>
#include <vfiomig/vfiomig.h>

#include "util.h"

#define BATCH 50		/* threads alive at once */
#define NEW_SAMPLES 1000	/* new threads timed, at each end */
#define RUN 100			/* calls of a timed run on the old thread */
#define RUNS 200

struct caller {
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	uint64_t ns;		/* the two calls */
	bool wrong;
};

static void die(const char *what)
{
	fprintf(stderr, "bench-slots: %s\n", what);
	exit(1);
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

static double median_d(double *v, size_t n)
{
	for (size_t i = 1; i < n; i++)	/* a handful: insertion sort */
		for (size_t k = i; k && v[k - 1] > v[k]; k--) {
			double t = v[k];

			v[k] = v[k - 1];
			v[k - 1] = t;
		}
	return v[n / 2];
}

/* A failing call and a succeeding one, as they must answer. */
static bool two_calls(struct caller *c)
{
	unsigned int caps;
	bool ok = vfiomig_dev_get_caps(c->dev, NULL) == -EINVAL &&
		  vfiomig_ctx_get_error(c->ctx) != NULL;

	return vfiomig_dev_get_caps(c->dev, &caps) == 0 && !vfiomig_ctx_get_error(c->ctx) && ok;
}

static void *caller_thread(void *arg)
{
	struct caller *c = arg;
	uint64_t t0 = now_ns();

	c->wrong = !two_calls(c);
	c->ns = now_ns() - t0;
	return NULL;
}

static void run_threads(struct caller *c, size_t n)
{
	pthread_t t[BATCH];

	for (size_t i = 0; i < n; i += BATCH) {
		size_t k = n - i < BATCH ? n - i : BATCH;

		for (size_t j = 0; j < k; j++)
			if (pthread_create(&t[j], NULL, caller_thread, &c[i + j]) != 0)
				die("pthread_create failed");
		for (size_t j = 0; j < k; j++) {
			pthread_join(t[j], NULL);
			if (c[i + j].wrong)
				die("a thread's calls did not answer as they must");
		}
	}
}

/* The median of @n threads' two calls, per call. */
static uint64_t per_call_new(const struct caller *c, size_t n)
{
	uint64_t *v = calloc(n, sizeof(*v)), m;

	if (!v)
		die("out of memory");
	for (size_t i = 0; i < n; i++)
		v[i] = c[i].ns;
	m = median(v, n) / 2;
	free(v);
	return m;
}

/* The median per call on this thread: slot calls, or the slot-less accessor. */
static double per_call_here(struct caller *c, bool slot)
{
	uint64_t v[RUNS];

	for (size_t r = 0; r < RUNS; r++) {
		uint64_t t0 = now_ns();

		for (size_t i = 0; i < RUN; i++) {
			if (slot && !two_calls(c))
				die("a call did not answer as it must");
			if (!slot && vfiomig_dev_get_fd(c->dev) < 0)
				die("vfiomig_dev_get_fd failed");
		}
		v[r] = now_ns() - t0;
	}
	return (double)median(v, RUNS) / (slot ? 2 * RUN : RUN);
}

enum fig { NONE, OLD_BEFORE, OLD_AFTER, NEW_BEFORE, NEW_AFTER, HEAP_KIB, N_FIGS };

static void one_rep(size_t threads, double *fig)
{
	struct caller here = { 0 }, *c = calloc(threads, sizeof(*c));
	size_t heap;

	if (!c || vfiomig_ctx_new(&here.ctx) < 0 || vfiomig_mock_attach(here.ctx) < 0 ||
	    vfiomig_dev_open(here.ctx, "mock:bench-slots", &here.dev) < 0)
		die("setting up failed");
	for (size_t i = 0; i < threads; i++)
		c[i] = (struct caller){ .ctx = here.ctx, .dev = here.dev };
	run_threads(c, 2 * BATCH);	/* glibc's arenas and thread caches */
	fig[NONE] = per_call_here(&here, false);
	fig[OLD_BEFORE] = per_call_here(&here, true);
	heap = mallinfo2().uordblks;
	run_threads(c, threads);
	fig[HEAP_KIB] = ((double)mallinfo2().uordblks - (double)heap) / 1024;
	fig[OLD_AFTER] = per_call_here(&here, true);
	fig[NEW_BEFORE] = (double)per_call_new(c, NEW_SAMPLES);
	fig[NEW_AFTER] = (double)per_call_new(c + threads - NEW_SAMPLES, NEW_SAMPLES);
	vfiomig_dev_unref(here.dev);
	vfiomig_ctx_unref(here.ctx);
	free(c);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench-slots [--threads N] [--reps N] [--quick]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "threads", required_argument, NULL, 't' },
		{ "reps", required_argument, NULL, 'r' },
		{ "quick", no_argument, NULL, 'q' },
		{ 0 }
	};
	static const char *const names[N_FIGS] = {
		"accessor, no slot", "old thread, before", "old thread, after",
		"new thread, before", "new thread, after", "heap growth (KiB)",
	};
	size_t threads = 20000, reps = 7;
	double (*fig)[N_FIGS], col[64], old[64], new[64], m;
	int o;

	while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (o == 't')
			threads = strtoul(optarg, NULL, 10);
		else if (o == 'r')
			reps = strtoul(optarg, NULL, 10);
		else if (o == 'q')
			threads = 2000, reps = 1;
		else
			usage();
	}
	if (threads < NEW_SAMPLES * 2 || !reps || reps > 64)
		usage();
	fig = calloc(reps, sizeof(*fig));
	if (!fig)
		die("out of memory");
	for (size_t r = 0; r < reps; r++) {
		one_rep(threads, fig[r]);
		old[r] = fig[r][OLD_AFTER] / fig[r][OLD_BEFORE];
		new[r] = fig[r][NEW_AFTER] / fig[r][NEW_BEFORE];
	}
	printf("bench-slots: %zu threads, medians of %zu repetitions (ns per call)\n", threads, reps);
	for (int f = 0; f < N_FIGS; f++) {
		for (size_t r = 0; r < reps; r++)
			col[r] = fig[r][f];
		printf("  %-20s %10.1f\n", names[f], median_d(col, reps));
	}
	/* median_d() sorts: then [0] and [reps - 1] are the range */
	m = median_d(old, reps);
	printf("  ratio old thread     %10.2f  (%.2f .. %.2f)\n", m, old[0], old[reps - 1]);
	m = median_d(new, reps);
	printf("  ratio new thread     %10.2f  (%.2f .. %.2f)\n", m, new[0], new[reps - 1]);
	free(fig);
	return 0;
}
