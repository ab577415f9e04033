// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench-group: how long a group transition takes against one device's, and
 * against the members moved one after another (the plain baseline: what a
 * caller without groups does).
 *
 * Mock devices with an arc latency (arc=, as a firmware command takes) go
 * RUNNING -> STOP and back to RUNNING.  Each repetition times, in turn:
 *   one     a group of one device;
 *   serial  N devices moved one after another with vfiomig_dev_set_state();
 *   group   the same N devices as one group (two phases, concurrent arcs).
 * It prints the medians and the ratios group/one and serial/group.
 *
 *   bench-group [--members N] [--arc 20ms] [--reps 15]
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vfiomig/vfiomig.h>

#include "util.h"

#define MAX_MEMBERS 16

struct setup {
	unsigned int members;
	const char *arc;
	unsigned int reps;
};

static void die(const char *what, struct vfiomig_ctx *ctx)
{
	fprintf(stderr, "bench-group: %s: %s\n", what, ctx ? vfiomig_ctx_get_error(ctx) : "");
	exit(1);
}

static struct vfiomig_group *make_group(struct vfiomig_ctx *ctx, struct vfiomig_dev **devs,
					unsigned int n, const char *tag, const char *arc)
{
	struct vfiomig_group *g;
	char spec[128];

	if (vfiomig_group_new(ctx, 0, &g) < 0)
		die("group", ctx);
	for (unsigned int i = 0; i < n; i++) {
		snprintf(spec, sizeof(spec), "mock:%s%u,arc=%s", tag, i, arc);
		if (vfiomig_dev_open(ctx, spec, &devs[i]) < 0 || vfiomig_group_add(g, devs[i]) < 0)
			die(spec, ctx);
	}
	return g;
}

/* RUNNING -> STOP -> RUNNING; nanoseconds. */
static uint64_t time_group(struct vfiomig_group *g, struct vfiomig_ctx *ctx)
{
	uint64_t t = now_ns();

	if (vfiomig_group_set_state(g, VFIOMIG_STATE_STOP, NULL) < 0 ||
	    vfiomig_group_set_state(g, VFIOMIG_STATE_RUNNING, NULL) < 0)
		die("group transition", ctx);
	return now_ns() - t;
}

static uint64_t time_serial(struct vfiomig_dev **devs, unsigned int n, struct vfiomig_ctx *ctx)
{
	uint64_t t = now_ns();

	for (unsigned int i = 0; i < n; i++)
		if (vfiomig_dev_set_state(devs[i], VFIOMIG_STATE_STOP, NULL) < 0)
			die("serial transition", ctx);
	for (unsigned int i = 0; i < n; i++)
		if (vfiomig_dev_set_state(devs[i], VFIOMIG_STATE_RUNNING, NULL) < 0)
			die("serial transition", ctx);
	return now_ns() - t;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double median_ms(uint64_t *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return (n % 2 ? (double)v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0) / 1e6;
}

static int parse(int argc, char **argv, struct setup *s)
{
	static const struct option opts[] = {
		{ "members", required_argument, NULL, 'n' },
		{ "arc", required_argument, NULL, 'a' },
		{ "reps", required_argument, NULL, 'r' },
		{ 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		if (c == 'n')
			s->members = (unsigned int)atoi(optarg);
		else if (c == 'a')
			s->arc = optarg;
		else if (c == 'r')
			s->reps = (unsigned int)atoi(optarg);
		else
			return -1;
	}
	return s->members >= 1 && s->members <= MAX_MEMBERS && s->reps >= 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct setup s = { .members = 4, .arc = "20ms", .reps = 15 };
	struct vfiomig_dev *one_dev[1], *devs[MAX_MEMBERS];
	struct vfiomig_group *one, *group;
	struct vfiomig_ctx *ctx;
	uint64_t *t1, *ts, *tg;
	double m1, ms, mg;

	if (parse(argc, argv, &s) < 0) {
		fprintf(stderr, "usage: bench-group [--members 1-%d] [--arc 20ms] [--reps N]\n",
			MAX_MEMBERS);
		return 2;
	}
	if (vfiomig_ctx_new(&ctx) < 0)
		die("context", NULL);
	one = make_group(ctx, one_dev, 1, "one", s.arc);
	group = make_group(ctx, devs, s.members, "m", s.arc);
	t1 = calloc(s.reps, sizeof(*t1));
	ts = calloc(s.reps, sizeof(*ts));
	tg = calloc(s.reps, sizeof(*tg));
	if (!t1 || !ts || !tg)
		die("memory", NULL);
	for (unsigned int r = 0; r < s.reps; r++) {
		t1[r] = time_group(one, ctx);
		ts[r] = time_serial(devs, s.members, ctx);
		tg[r] = time_group(group, ctx);
	}
	m1 = median_ms(t1, s.reps);
	ms = median_ms(ts, s.reps);
	mg = median_ms(tg, s.reps);
	printf("RUNNING -> STOP -> RUNNING, arc=%s, %u members, median of %u\n", s.arc,
	       s.members, s.reps);
	printf("  one device      %8.2f ms\n", m1);
	printf("  serial          %8.2f ms\n", ms);
	printf("  group           %8.2f ms\n", mg);
	printf("  group / one     %8.3f\n", mg / m1);
	printf("  serial / group  %8.3f\n", ms / mg);
	vfiomig_group_unref(group);
	vfiomig_group_unref(one);
	for (unsigned int i = 0; i < s.members; i++)
		vfiomig_dev_unref(devs[i]);
	vfiomig_dev_unref(one_dev[0]);
	vfiomig_ctx_unref(ctx);
	free(t1);
	free(ts);
	free(tg);
	return 0;
}
