// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench-downtime: how close a save to a downtime target comes to it.  It
 * sweeps mock devices' dirty rate (dirtyplan=, bytes a second while they
 * run) x stream bandwidth (rate=, the device's pace, which the stream
 * cannot beat) x target, and saves each case, into /dev/null:
 *   target  AUTO with downtime_limit_ns, a precopy_timeout_ns deadline
 *           (--deadline, default 2s) and on_timeout SWITCH;
 *   bytes   AUTO with the byte-threshold policy of before (1 MiB dirty,
 *           the rounds that pay, 32 rounds), on the same device.
 * Each case runs --reps times (default 3), the two policies in turn; the
 * table has each case's medians: the downtime measured (the arc into
 * STOP_COPY to the complete stream, vfiomig_stats.downtime_ns) over the
 * target, for both policies, and the target policy's estimate.
 *
 * A case can converge when the device dirties slower than the stream
 * moves, and the target is above what the stop's arcs alone take (5 of
 * them here: PRE_COPY_P2P, STOP_COPY, then STOP, RUNNING_P2P, RUNNING).  The summary gives, over those cases, the median and the worst
 * ratio and how often the target was missed, and how often the measured
 * downtime was within 1.25x the target (the aim: 95%); over the others,
 * whether every save ended by the deadline (plus the round under way).
 * It exits 1 only if a save fails, which is what the smoke test
 * (--quick) checks.
 *
 * --arc gives every state change the mock's arc= time, as a firmware
 * command takes: the estimate counts bytes only (docs/migration.md).
 *
 *   bench-downtime [--size 4M] [--arc 0] [--reps 3] [--deadline 2000] [--quick]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vfiomig/mock.h>
#include <vfiomig/vfiomig.h>

#define MS 1000000ull
#define MAX_REPS 15
#define AIM_RATIO 1.25
#define AIM_SHARE 0.95
#define STOP_ARCS 5	/* a save that leaves a P2P device running */

static const char *const dirty_rates[] = { "2M", "8M", "24M", "48M" };
static const char *const bandwidths[] = { "32M", "96M" };
static const unsigned int targets_ms[] = { 10, 30, 100, 300 };

struct setup {
	const char *size, *arc;
	uint64_t arc_ns;
	unsigned int reps;
	uint64_t deadline_ns;
	bool quick;
};

/* One save's figures. */
struct run {
	uint64_t downtime_ns, estimate_ns, elapsed_ns;
	bool timed_out;
};

static void usage(void);

static uint64_t parse_rate(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 10);

	return v << (*end == 'M' ? 20 : *end == 'K' ? 10 : 0);
}

/* --arc: "0", or a number with us, ms or s, as the mock's arc= */
static uint64_t parse_arc(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 10);

	if (!strcmp(end, "us"))
		return v * 1000;
	if (!strcmp(end, "ms"))
		return v * MS;
	if (!strcmp(end, "s"))
		return v * 1000 * MS;
	if (*end)
		usage();
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One save of a fresh device; @target_ns 0: the byte-threshold policy. */
static struct run save_once(struct vfiomig_ctx *ctx, const struct setup *s, const char *dirty,
			    const char *bw, uint64_t target_ns, int null_fd)
{
	struct vfiomig_stats st = { .sz = sizeof(st) };
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = VFIOMIG_PRECOPY_MODE_AUTO,
					.leave = VFIOMIG_LEAVE_RUNNING, .stats = &st,
					.downtime_limit_ns = target_ns,
					.precopy_timeout_ns = target_ns ? s->deadline_ns : 0 };
	struct vfiomig_dev *dev;
	char spec[128];
	int r;

	snprintf(spec, sizeof(spec), "mock:bd,size=%s,rate=%s,dirtyplan=%s,arc=%s", s->size, bw,
		 dirty, s->arc);
	r = vfiomig_dev_open(ctx, spec, &dev);
	if (r == 0)
		r = vfiomig_dev_save(dev, null_fd, &so);
	if (r < 0) {
		fprintf(stderr, "bench-downtime: %s: %s\n", spec, vfiomig_ctx_get_error(ctx));
		exit(1);
	}
	vfiomig_dev_unref(dev);
	return (struct run){ st.downtime_ns, st.downtime_estimate_ns, st.elapsed_ns,
			     st.precopy_timed_out };
}

struct summary {
	unsigned int cases, missed, within_aim, bytes_missed, bytes_within_aim;
	unsigned int stuck, stuck_in_time;
	double ratios[64], bytes_ratios[64];
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void print_summary(struct summary *m, const struct setup *s)
{
	unsigned int n = m->cases;

	if (!n)
		return;
	qsort(m->ratios, n, sizeof(double), cmp_double);
	qsort(m->bytes_ratios, n, sizeof(double), cmp_double);
	printf("\ncases that can converge: %u\n", n);
	printf("  %-8s median ratio %.2f, worst %.2f, target missed in %u (%.0f%%), "
	       "within %.2fx in %u (%.0f%%; aim %.0f%%)\n", "target", m->ratios[n / 2],
	       m->ratios[n - 1], m->missed, 100.0 * m->missed / n, AIM_RATIO, m->within_aim,
	       100.0 * m->within_aim / n, 100 * AIM_SHARE);
	printf("  %-8s median ratio %.2f, worst %.2f, target missed in %u (%.0f%%), "
	       "within %.2fx in %u (%.0f%%)\n", "bytes", m->bytes_ratios[n / 2],
	       m->bytes_ratios[n - 1], m->bytes_missed, 100.0 * m->bytes_missed / n, AIM_RATIO,
	       m->bytes_within_aim, 100.0 * m->bytes_within_aim / n);
	printf("cases that cannot converge: %u, ended by the %llu ms deadline (plus a round) or the target: %u\n",
	       m->stuck, (unsigned long long)(s->deadline_ns / MS), m->stuck_in_time);
}

/* One case: @reps saves under each policy, their medians in a table row. */
static void run_case(struct vfiomig_ctx *ctx, const struct setup *s, const char *dirty,
		     const char *bw, unsigned int target_ms, int null_fd, struct summary *m)
{
	uint64_t d[MAX_REPS], e[MAX_REPS], b[MAX_REPS], el[MAX_REPS], target = target_ms * MS;
	bool converges = parse_rate(dirty) < parse_rate(bw) && target > STOP_ARCS * s->arc_ns,
	     timed_out = false;
	double ratio, bytes_ratio;

	for (unsigned int i = 0; i < s->reps; i++) {
		struct run t = save_once(ctx, s, dirty, bw, target, null_fd);
		struct run y = save_once(ctx, s, dirty, bw, 0, null_fd);

		d[i] = t.downtime_ns;
		e[i] = t.estimate_ns;
		el[i] = t.elapsed_ns;
		b[i] = y.downtime_ns;
		timed_out |= t.timed_out;
	}
	ratio = (double)median(d, s->reps) / (double)target;
	bytes_ratio = (double)median(b, s->reps) / (double)target;
	printf("%6s %6s %6u | %8.1f %6.2f %9.1f %s | %8.1f %6.2f\n", dirty, bw, target_ms,
	       (double)median(d, s->reps) / 1e6, ratio, (double)median(e, s->reps) / 1e6,
	       timed_out ? "deadline" : "        ", (double)median(b, s->reps) / 1e6, bytes_ratio);
	if (!converges) {
		m->stuck++;
		/* the worst repetition: a round under way finishes first */
		m->stuck_in_time += el[s->reps - 1] < s->deadline_ns + 500 * MS ||
				    median(el, s->reps) < s->deadline_ns + 500 * MS;
		return;
	}
	m->ratios[m->cases] = ratio;
	m->bytes_ratios[m->cases] = bytes_ratio;
	m->missed += ratio > 1.0;
	m->within_aim += ratio <= AIM_RATIO;
	m->bytes_missed += bytes_ratio > 1.0;
	m->bytes_within_aim += bytes_ratio <= AIM_RATIO;
	m->cases++;
}

static void usage(void)
	__attribute__((noreturn));
static void usage(void)
{
	fprintf(stderr, "usage: bench-downtime [--size 4M] [--arc 0] [--reps 3] [--deadline MS] "
		"[--quick]\n");
	exit(2);
}

static void parse(int argc, char **argv, struct setup *s)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' }, { "reps", required_argument, NULL, 'r' },
		{ "deadline", required_argument, NULL, 'd' }, { "quick", no_argument, NULL, 'q' },
		{ "arc", required_argument, NULL, 'a' },
		{ 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		if (c == 's')
			s->size = optarg;
		else if (c == 'r')
			s->reps = (unsigned int)atoi(optarg);
		else if (c == 'd')
			s->deadline_ns = strtoull(optarg, NULL, 10) * MS;
		else if (c == 'q')
			s->quick = true;
		else if (c == 'a')
			s->arc_ns = parse_arc(s->arc = optarg);
		else
			usage();
	}
	if (optind != argc || !s->reps || s->reps > MAX_REPS || !s->deadline_ns)
		usage();
}

int main(int argc, char **argv)
{
	struct setup s = { .size = "4M", .arc = "0", .reps = 3, .deadline_ns = 2000 * MS };
	struct summary m = { 0 };
	struct vfiomig_ctx *ctx;
	int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	parse(argc, argv, &s);
	if (s.quick)
		s.reps = 1;
	if (null_fd < 0 || vfiomig_ctx_new(&ctx) < 0 || vfiomig_mock_attach(ctx) < 0) {
		fprintf(stderr, "bench-downtime: no context or /dev/null\n");
		return 1;
	}
	printf("size=%s, arc=%s, median of %u, deadline %llu ms; times in ms, ratio = downtime / "
	       "target\n", s.size, s.arc, s.reps, (unsigned long long)(s.deadline_ns / MS));
	printf("%6s %6s %6s | %8s %6s %9s %8s | %8s %6s\n", "dirty", "bw", "target",
	       "downtime", "ratio", "estimate", "", "bytes", "ratio");
	for (size_t i = 0; i < sizeof(dirty_rates) / sizeof(*dirty_rates); i++)
		for (size_t j = 0; j < sizeof(bandwidths) / sizeof(*bandwidths); j++)
			for (size_t k = 0; k < sizeof(targets_ms) / sizeof(*targets_ms); k++) {
				if (s.quick && (i != 1 || k != 1))
					continue;
				run_case(ctx, &s, dirty_rates[i], bandwidths[j], targets_ms[k],
					 null_fd, &m);
			}
	print_summary(&m, &s);
	vfiomig_ctx_unref(ctx);
	close(null_fd);
	return 0;
}
