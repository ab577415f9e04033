// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench-group: what a group of N devices costs against one device, and
 * against its members handled one after another (the plain baseline: what
 * a caller without groups does).  Each repetition measures, in turn:
 *
 * Transitions.  Mocks with an arc latency (arc=, as a firmware command
 * takes) go RUNNING -> STOP and back to RUNNING:
 *   one     a group of one device;
 *   serial  N devices moved one after another with vfiomig_dev_set_state();
 *   group   the same N devices as one group (two phases, concurrent arcs).
 *
 * Saves and loads.  Mocks with a speed (rate=, as a device whose transfer
 * is bound by its firmware) save their state and load it into twins:
 *   serial  N vfiomig_dev_save() calls one after another, a stream each,
 *           then N vfiomig_dev_load() calls of those streams;
 *   group   vfiomig_group_save() of the N into one stream, then
 *           vfiomig_group_load() of it.
 * Every stream goes through a pipe to a thread of ours, which drains it
 * into a memfd (or feeds it from there), as a socket's peer would; the
 * memfd keeps the stream for the loads.  The saves' downtimes are
 * compared too: the group's own, its members' summed, the serial saves'.
 *
 * It prints medians, and each ratio of medians with the range of the
 * repetitions' own ratios.  It exits 1 only if a call fails or the bytes
 * do not add up, which is what the smoke test (--quick) checks.
 *
 *   bench-group [--members N] [--arc 20ms] [--size 8M] [--rate 64M]
 *               [--dirty 0] [--reps 15] [--quick]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <vfiomig/mock.h>
#include <vfiomig/vfiomig.h>

#include "util.h"

#define MAX_MEMBERS 16
#define PIPE_SIZE (1 << 20)
#define PEER_BUF (1 << 20)

/* Targets from issue #11. */
#define TARGET_GROUP_ONE 1.3	/* group transition / one device's, at most */
#define TARGET_SPEEDUP 3.5	/* serial / group save and load, at least */

struct setup {
	unsigned int members;
	const char *arc;
	unsigned int reps;
	const char *size, *rate, *dirty;
	bool precopy;			/* dirty= is set: pre-copy AUTO */
	bool quick;
};

/* What each repetition measures, in ns unless said: one value each (the
 * *_ONE and R_ONE: one per member, each call of the serial run). */
enum sample {
	T_ONE, T_SERIAL, T_GROUP,	/* RUNNING -> STOP -> RUNNING */
	S_ONE, S_SERIAL, S_GROUP,	/* saves */
	L_ONE, L_SERIAL, L_GROUP,	/* loads */
	D_GROUP, D_MEMBERS, D_SINGLES,	/* the saves' downtimes */
	/* CPU time of the whole process (mocks, library, our peer) */
	C_S_SERIAL, C_S_GROUP, C_L_SERIAL, C_L_GROUP,
	/* what the saves moved: pre-copy rounds, device bytes (counts) */
	R_ONE, R_GROUP, B_SERIAL, B_GROUP,
	N_SAMPLES
};

struct series {
	uint64_t *v;
	unsigned int n;
};

struct bench {
	struct setup s;
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *one_dev[1], *devs[MAX_MEMBERS];
	struct vfiomig_group *one, *group;
	struct vfiomig_dev *src[MAX_MEMBERS], *dst[MAX_MEMBERS];
	struct vfiomig_group *gsrc, *gdst;
	/* The saved streams: the group's, and one per member (serial). */
	int gfile, files[MAX_MEMBERS];
	uint64_t glen, lens[MAX_MEMBERS];
	/* The device bytes the saves moved, for the loads to match. */
	uint64_t gbytes, bytes[MAX_MEMBERS];
	struct series t[N_SAMPLES];
};

static void die(const char *what, struct vfiomig_ctx *ctx)
{
	fprintf(stderr, "bench-group: %s: %s\n", what, ctx ? vfiomig_ctx_get_error(ctx) : "");
	exit(1);
}

static void die_errno(const char *what, int err)
{
	fprintf(stderr, "bench-group: %s: %s\n", what, strerror(err));
	exit(1);
}

static void add(struct series *s, uint64_t v)
{
	s->v[s->n++] = v;
}

/* User and system time of every thread: the mocks' pumps are ours too. */
static uint64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

/*
 * The machine's busy and total time so far, all CPUs (/proc/stat), to say
 * how much of it other processes took during the run: this benchmark
 * waits on its devices, so another process's work shows up in its times.
 */
static void machine_ns(uint64_t *busy, uint64_t *total)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	long hz = sysconf(_SC_CLK_TCK);

	*busy = *total = 0;
	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
		   &v[3], &v[4], &v[5], &v[6], &v[7]) == 8 && hz > 0) {
		/* user nice system idle iowait irq softirq steal */
		*busy = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * (1000000000ull / (uint64_t)hz);
		*total = *busy + (v[3] + v[4]) * (1000000000ull / (uint64_t)hz);
	}
	fclose(f);
}

/* ---- the far end of a stream ---- */

/*
 * A thread that drains a pipe into a memfd (behind a save) or feeds a
 * memfd into a pipe (ahead of a load).  A pipe rather than the memfd
 * itself: a migration stream is a socket or a pipe, whose reader wakes
 * and copies, and whose writer blocks when the reader lags.
 */
struct peer {
	int file;
	int fd;			/* the pipe's end the thread holds */
	bool feed;
	uint64_t bytes;		/* drained, or to feed */
	int err;
	pthread_t thread;
};

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? errno : EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int drain(struct peer *p, uint8_t *buf)
{
	ssize_t n;

	while ((n = read(p->fd, buf, PEER_BUF)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		errno = 0;
		if (pwrite(p->file, buf, (size_t)n, (off_t)p->bytes) != n)
			return errno ? errno : EIO;	/* a memfd takes it all */
		p->bytes += (uint64_t)n;
	}
	/* Rewritten in place each repetition: its pages stay allocated. */
	return ftruncate(p->file, (off_t)p->bytes) < 0 ? errno : 0;
}

static int feed(struct peer *p, uint8_t *buf)
{
	for (uint64_t off = 0; off < p->bytes;) {
		size_t want = p->bytes - off < PEER_BUF ? (size_t)(p->bytes - off) : PEER_BUF;
		ssize_t n = pread(p->file, buf, want, (off_t)off);
		int e;

		if (n <= 0)
			return n < 0 ? errno : EIO;
		e = write_all(p->fd, buf, (size_t)n);
		if (e)
			return e;
		off += (uint64_t)n;
	}
	return 0;
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	uint8_t *buf = malloc(PEER_BUF);

	p->err = !buf ? ENOMEM : p->feed ? feed(p, buf) : drain(p, buf);
	free(buf);
	close(p->fd);	/* a feed's end: the load sees EOF */
	return NULL;
}

/* Starts @p on @file; returns the pipe's other end, for the library. */
static int peer_start(struct peer *p, int file, bool feed_it, uint64_t len)
{
	int fds[2], e;

	*p = (struct peer){ .file = file, .feed = feed_it, .bytes = feed_it ? len : 0 };
	if (pipe2(fds, O_CLOEXEC) < 0)
		die_errno("pipe2", errno);
	/* The mock's data fds have 1 MiB pipes too, as bench-migrate's stream. */
	if (fcntl(fds[1], F_SETPIPE_SZ, PIPE_SIZE) < 0)
		die_errno("F_SETPIPE_SZ 1 MiB (see /proc/sys/fs/pipe-max-size)", errno);
	p->fd = fds[feed_it ? 1 : 0];
	e = pthread_create(&p->thread, NULL, peer_main, p);
	if (e)
		die_errno("pthread_create", e);
	return fds[feed_it ? 0 : 1];
}

/* Closes the library's end (a failed load must not leave the feeder
 * blocked) and waits for the thread. */
static void peer_end(struct peer *p, int lib_fd)
{
	close(lib_fd);
	pthread_join(p->thread, NULL);
	if (p->err && !(p->feed && p->err == EPIPE))
		die_errno(p->feed ? "feeding a stream" : "draining a stream", p->err);
}

/* ---- devices ---- */

static struct vfiomig_group *make_group(struct vfiomig_ctx *ctx, struct vfiomig_dev **devs,
					unsigned int n, const char *tag, const char *keys)
{
	struct vfiomig_group *g;
	char spec[160];

	if (vfiomig_group_new(ctx, 0, &g) < 0)
		die("group", ctx);
	for (unsigned int i = 0; i < n; i++) {
		snprintf(spec, sizeof(spec), "mock:%s%u,%s", tag, i, keys);
		if (vfiomig_dev_open(ctx, spec, &devs[i]) < 0 || vfiomig_group_add(g, devs[i]) < 0)
			die(spec, ctx);
	}
	return g;
}

static void open_all(struct bench *b)
{
	const struct setup *s = &b->s;
	char keys[128];

	snprintf(keys, sizeof(keys), "arc=%s", s->arc);
	b->one = make_group(b->ctx, b->one_dev, 1, "one", keys);
	b->group = make_group(b->ctx, b->devs, s->members, "m", keys);
	/* Different names for the destinations: a mock's content is seeded by
	 * its name and a load takes the stream's, so the bytes did move. */
	snprintf(keys, sizeof(keys), "size=%s,rate=%s,dirty=%s", s->size, s->rate, s->dirty);
	b->gsrc = make_group(b->ctx, b->src, s->members, "s", keys);
	snprintf(keys, sizeof(keys), "size=%s,rate=%s,state=stop", s->size, s->rate);
	b->gdst = make_group(b->ctx, b->dst, s->members, "d", keys);
	b->gfile = memfd_create("bench-group", MFD_CLOEXEC);
	for (unsigned int i = 0; i < s->members; i++)
		b->files[i] = memfd_create("bench-group-member", MFD_CLOEXEC);
	for (unsigned int i = 0; i < s->members; i++)
		if (b->gfile < 0 || b->files[i] < 0)
			die_errno("memfd_create", errno);
}

static void close_all(struct bench *b)
{
	vfiomig_group_unref(b->group);
	vfiomig_group_unref(b->one);
	vfiomig_group_unref(b->gsrc);
	vfiomig_group_unref(b->gdst);
	vfiomig_dev_unref(b->one_dev[0]);
	for (unsigned int i = 0; i < b->s.members; i++) {
		vfiomig_dev_unref(b->devs[i]);
		vfiomig_dev_unref(b->src[i]);
		vfiomig_dev_unref(b->dst[i]);
		close(b->files[i]);
	}
	close(b->gfile);
}

/* ---- transitions ---- */

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

static void run_transitions(struct bench *b)
{
	add(&b->t[T_ONE], time_group(b->one, b->ctx));
	add(&b->t[T_SERIAL], time_serial(b->devs, b->s.members, b->ctx));
	add(&b->t[T_GROUP], time_group(b->group, b->ctx));
}

/* ---- saves and loads ---- */

/*
 * The sources start RUNNING and are left RUNNING, as a running VM's
 * devices would be around a snapshot, so every repetition starts alike.
 */
static struct vfiomig_save_opts save_opts(const struct bench *b, struct vfiomig_stats *st)
{
	return (struct vfiomig_save_opts){
		.sz = sizeof(struct vfiomig_save_opts), .stats = st,
		.precopy = b->s.precopy ? VFIOMIG_PRECOPY_MODE_AUTO : VFIOMIG_PRECOPY_MODE_NEVER,
		.leave = VFIOMIG_LEAVE_RUNNING,
	};
}

static void check_stream(const struct vfiomig_stats *st, const struct peer *p)
{
	if (st->stream_bytes != p->bytes) {
		fprintf(stderr, "bench-group: the save wrote %" PRIu64 " stream bytes, the "
			"pipe's reader got %" PRIu64 "\n", st->stream_bytes, p->bytes);
		exit(1);
	}
}

static void check_load(const struct vfiomig_stats *st, uint64_t len, uint64_t bytes)
{
	if (st->stream_bytes != len || st->precopy_bytes + st->stop_copy_bytes != bytes) {
		fprintf(stderr, "bench-group: a load read %" PRIu64 " of %" PRIu64 " stream "
			"bytes and wrote %" PRIu64 " of %" PRIu64 " device bytes\n",
			st->stream_bytes, len, st->precopy_bytes + st->stop_copy_bytes, bytes);
		exit(1);
	}
}

/* Member @i alone, into its own stream. */
static void save_single(struct bench *b, unsigned int i, uint64_t *downtime)
{
	struct vfiomig_stats st = { .sz = sizeof(st) };
	struct vfiomig_save_opts o = save_opts(b, &st);
	uint64_t t = now_ns();
	struct peer p;
	int fd = peer_start(&p, b->files[i], false, 0);

	if (vfiomig_dev_save(b->src[i], fd, &o) < 0)
		die("vfiomig_dev_save", b->ctx);
	peer_end(&p, fd);
	add(&b->t[S_ONE], now_ns() - t);
	check_stream(&st, &p);
	b->lens[i] = p.bytes;
	b->bytes[i] = st.precopy_bytes + st.stop_copy_bytes;
	add(&b->t[R_ONE], st.precopy_rounds);
	*downtime += st.downtime_ns;
}

static void save_serial(struct bench *b)
{
	uint64_t cpu = cpu_ns(), t = now_ns(), downtime = 0, bytes = 0;

	for (unsigned int i = 0; i < b->s.members; i++)
		save_single(b, i, &downtime);
	add(&b->t[S_SERIAL], now_ns() - t);
	add(&b->t[C_S_SERIAL], cpu_ns() - cpu);
	for (unsigned int i = 0; i < b->s.members; i++)
		bytes += b->bytes[i];
	add(&b->t[B_SERIAL], bytes);
	add(&b->t[D_SINGLES], downtime);
}

/* The group's stopped time, and its members' own, summed. */
static void note_downtimes(struct bench *b, const struct vfiomig_stats *st)
{
	uint64_t sum = 0;

	for (unsigned int i = 0; i < b->s.members; i++) {
		struct vfiomig_group_result res = { .sz = sizeof(res) };

		if (vfiomig_group_get_result(b->gsrc, i, &res) < 0)
			die("vfiomig_group_get_result", b->ctx);
		sum += res.downtime_ns;
	}
	add(&b->t[D_GROUP], st->downtime_ns);
	add(&b->t[D_MEMBERS], sum);
}

static void save_group(struct bench *b)
{
	struct vfiomig_stats st = { .sz = sizeof(st) };
	struct vfiomig_save_opts o = save_opts(b, &st);
	uint64_t cpu = cpu_ns(), t = now_ns();
	struct peer p;
	int fd = peer_start(&p, b->gfile, false, 0);

	if (vfiomig_group_save(b->gsrc, &fd, 1, &o) < 0)
		die("vfiomig_group_save", b->ctx);
	peer_end(&p, fd);
	add(&b->t[S_GROUP], now_ns() - t);
	add(&b->t[C_S_GROUP], cpu_ns() - cpu);
	check_stream(&st, &p);
	b->glen = p.bytes;
	b->gbytes = st.precopy_bytes + st.stop_copy_bytes;
	add(&b->t[R_GROUP], st.precopy_rounds);
	add(&b->t[B_GROUP], b->gbytes);
	note_downtimes(b, &st);
}

static void load_single(struct bench *b, unsigned int i)
{
	struct vfiomig_stats st = { .sz = sizeof(st) };
	struct vfiomig_load_opts o = { .sz = sizeof(o), .stats = &st };
	uint64_t t = now_ns();
	struct peer p;
	int fd = peer_start(&p, b->files[i], true, b->lens[i]);

	if (vfiomig_dev_load(b->dst[i], fd, &o) < 0)
		die("vfiomig_dev_load", b->ctx);
	peer_end(&p, fd);
	add(&b->t[L_ONE], now_ns() - t);
	check_load(&st, b->lens[i], b->bytes[i]);
}

static void load_serial(struct bench *b)
{
	uint64_t cpu = cpu_ns(), t = now_ns();

	for (unsigned int i = 0; i < b->s.members; i++)
		load_single(b, i);
	add(&b->t[L_SERIAL], now_ns() - t);
	add(&b->t[C_L_SERIAL], cpu_ns() - cpu);
}

static void load_group(struct bench *b)
{
	struct vfiomig_stats st = { .sz = sizeof(st) };
	struct vfiomig_load_opts o = { .sz = sizeof(o), .stats = &st };
	uint64_t cpu = cpu_ns(), t = now_ns();
	struct peer p;
	int fd = peer_start(&p, b->gfile, true, b->glen);

	if (vfiomig_group_load(b->gdst, &fd, 1, &o) < 0)
		die("vfiomig_group_load", b->ctx);
	peer_end(&p, fd);
	add(&b->t[L_GROUP], now_ns() - t);
	add(&b->t[C_L_GROUP], cpu_ns() - cpu);
	check_load(&st, b->glen, b->gbytes);
}

/* Which of the two goes first turns from one repetition to the next, so
 * that neither always follows the other. */
static void run_transfers(struct bench *b, unsigned int rep)
{
	if (rep % 2) {
		save_group(b);
		save_serial(b);
		load_group(b);
		load_serial(b);
	} else {
		save_serial(b);
		save_group(b);
		load_serial(b);
		load_group(b);
	}
}

/* ---- the report ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double median(const struct series *s)
{
	uint64_t *v = malloc(s->n * sizeof(*v));
	unsigned int n = s->n;
	double m;

	if (!v)
		die("memory", NULL);
	memcpy(v, s->v, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_u64);
	m = n % 2 ? (double)v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
	free(v);
	return m;
}

static double median_ms(const struct series *s)
{
	return median(s) / 1e6;
}

static void print_ms(const char *what, const struct series *s)
{
	printf("  %-16s%8.2f ms\n", what, median_ms(s));
}

/* With the CPU time the process used meanwhile, all threads. */
static void print_ms_cpu(const char *what, const struct series *s, const struct series *cpu)
{
	printf("  %-16s%8.2f ms   CPU %.2f ms\n", what, median_ms(s), median_ms(cpu));
}

/*
 * The ratio of the medians of @a and @b, and the range of the
 * repetitions' own ratios; @target > 0: at least that, < 0: at most.
 */
static void print_ratio(const char *what, const struct series *a, const struct series *b,
			double target)
{
	double r = median_ms(a) / median_ms(b), lo = 0, hi = 0;

	for (unsigned int i = 0; i < a->n; i++) {
		double x = (double)a->v[i] / (double)b->v[i];

		lo = i == 0 || x < lo ? x : lo;
		hi = i == 0 || x > hi ? x : hi;
	}
	printf("  %-16s%8.3f   [%.3f .. %.3f]", what, r, lo, hi);
	if (target > 0)
		printf("   target >= %.1f: %s", target, r >= target ? "met" : "MISSED");
	else if (target < 0)
		printf("   target <= %.1f: %s", -target, r <= -target ? "met" : "MISSED");
	printf("\n");
}

static void report_machine(uint64_t busy, uint64_t total, uint64_t ours)
{
	if (!total)
		return;
	printf("machine: %ld CPUs, %.1f%% busy during the run: this process %.1f%%, "
	       "others %.1f%%\n", sysconf(_SC_NPROCESSORS_ONLN), 100.0 * busy / total,
	       100.0 * ours / total, busy > ours ? 100.0 * (busy - ours) / total : 0.0);
}

static void report(const struct bench *b)
{
	const struct setup *s = &b->s;
	const struct series *t = b->t;

	printf("RUNNING -> STOP -> RUNNING, arc=%s, %u members, median of %u\n", s->arc,
	       s->members, s->reps);
	print_ms("one device", &t[T_ONE]);
	print_ms("serial", &t[T_SERIAL]);
	print_ms("group", &t[T_GROUP]);
	print_ratio("group / one", &t[T_GROUP], &t[T_ONE], s->quick ? 0 : -TARGET_GROUP_ONE);
	print_ratio("serial / group", &t[T_SERIAL], &t[T_GROUP], 0);
	printf("save, size=%s rate=%s dirty=%s (pre-copy %s), %u members, %s, median of %u\n",
	       s->size, s->rate, s->dirty, s->precopy ? "auto" : "never", s->members,
	       "one stream into a pipe", s->reps);
	print_ms("one device", &t[S_ONE]);
	print_ms_cpu("serial", &t[S_SERIAL], &t[C_S_SERIAL]);
	print_ms_cpu("group", &t[S_GROUP], &t[C_S_GROUP]);
	print_ratio("serial / group", &t[S_SERIAL], &t[S_GROUP], s->quick ? 0 : TARGET_SPEEDUP);
	/* With pre-copy the two need not move the same bytes: the group's
	 * dirty threshold bounds the sum of its members' dirty bytes. */
	if (s->precopy)
		printf("  pre-copy rounds %6.1f one device, %.1f group; device bytes %.2f MiB "
		       "serial, %.2f MiB group\n", median(&t[R_ONE]), median(&t[R_GROUP]),
		       median(&t[B_SERIAL]) / 1048576, median(&t[B_GROUP]) / 1048576);
	printf("load of those streams from a pipe, median of %u\n", s->reps);
	print_ms("one device", &t[L_ONE]);
	print_ms_cpu("serial", &t[L_SERIAL], &t[C_L_SERIAL]);
	print_ms_cpu("group", &t[L_GROUP], &t[C_L_GROUP]);
	print_ratio("serial / group", &t[L_SERIAL], &t[L_GROUP], s->quick ? 0 : TARGET_SPEEDUP);
	printf("save downtime (stopped -> stream complete), median of %u\n", s->reps);
	print_ms("group", &t[D_GROUP]);
	print_ms("members, summed", &t[D_MEMBERS]);
	print_ms("serial, summed", &t[D_SINGLES]);
	print_ratio("members / group", &t[D_MEMBERS], &t[D_GROUP], 0);
	print_ratio("serial / group", &t[D_SINGLES], &t[D_GROUP], 0);
	if (s->quick)
		printf("(--quick: a smoke run; these figures mean nothing)\n");
}

/* ---- main ---- */

static int parse(int argc, char **argv, struct setup *s)
{
	static const struct option opts[] = {
		{ "members", required_argument, NULL, 'n' },
		{ "arc", required_argument, NULL, 'a' },
		{ "reps", required_argument, NULL, 'r' },
		{ "size", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'R' },
		{ "dirty", required_argument, NULL, 'd' },
		{ "quick", no_argument, NULL, 'q' },
		{ 0 }
	};
	uint64_t dirty;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		if (c == 'n')
			s->members = (unsigned int)atoi(optarg);
		else if (c == 'a')
			s->arc = optarg;
		else if (c == 'r')
			s->reps = (unsigned int)atoi(optarg);
		else if (c == 's')
			s->size = optarg;
		else if (c == 'R')
			s->rate = optarg;
		else if (c == 'd')
			s->dirty = optarg;
		else if (c == 'q')
			*s = (struct setup){ .members = s->members, .arc = "1ms", .reps = 1,
					     .size = "1M", .rate = s->rate, .dirty = s->dirty,
					     .quick = true };
		else
			return -1;
	}
	if (!parse_size(s->dirty, &dirty))
		return -1;
	s->precopy = dirty > 0;
	return s->members >= 1 && s->members <= MAX_MEMBERS && s->reps >= 1 ? 0 : -1;
}

static void alloc_series(struct bench *b)
{
	for (unsigned int k = 0; k < N_SAMPLES; k++) {
		b->t[k].v = calloc((size_t)b->s.reps * b->s.members, sizeof(uint64_t));
		if (!b->t[k].v)
			die("memory", NULL);
	}
}

int main(int argc, char **argv)
{
	struct bench b = {
		.s = { .members = 4, .arc = "20ms", .reps = 15, .size = "8M", .rate = "64M",
		       .dirty = "0" },
	};
	uint64_t busy0, total0, busy1, total1, cpu0;

	if (parse(argc, argv, &b.s) < 0) {
		fprintf(stderr, "usage: bench-group [--members 1-%d] [--arc 20ms] [--size 8M] "
			"[--rate 64M] [--dirty 0] [--reps N] [--quick]\n", MAX_MEMBERS);
		return 2;
	}
	/* A load that fails closes the pipe under its feeder: no SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if (vfiomig_ctx_new(&b.ctx) < 0 || vfiomig_mock_attach(b.ctx) < 0)
		die("context", NULL);
	alloc_series(&b);
	open_all(&b);
	machine_ns(&busy0, &total0);
	cpu0 = cpu_ns();
	for (unsigned int r = 0; r < b.s.reps; r++) {
		run_transitions(&b);
		run_transfers(&b, r);
	}
	machine_ns(&busy1, &total1);
	report(&b);
	report_machine(busy1 - busy0, total1 - total0, cpu_ns() - cpu0);
	close_all(&b);
	vfiomig_ctx_unref(b.ctx);
	for (unsigned int k = 0; k < N_SAMPLES; k++)
		free(b.t[k].v);
	return 0;
}
