// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench-migrate: what vfiomig_dev_save() piped into vfiomig_dev_load() costs.
 *
 * A mock device's state goes through vfiomig_dev_save() into a pipe on one
 * thread and out of it through vfiomig_dev_load() into a second mock on another.
 * In the same run, interleaved with it, a plain read()/write() loop moves
 * the same device bytes over the same kind of fds with the same buffering.
 * Every run is a fork()ed child, so its peak RSS (ru_maxrss) is its own.
 * A third part loads a saved stream with a slow source, a slow device, and
 * both, to show whether reading the stream and writing the device overlap.
 *
 * It is a benchmark, not a test: it exits 1 only when a run fails or the
 * two sides move different bytes (--strict: 2 when a target is missed too).
 * docs/performance.md has the results and how to reproduce them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vfiomig/mock.h>
#include <vfiomig/vfiomig.h>

#include "util.h"	/* now_ns(), parse_size(): the library's own copies */

#define MIB (1024.0 * 1024.0)
#define PIPE_SIZE (1 << 20)
#define MAX_SIZES 8
#define MAX_REPS 64
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Targets from the issue. */
#define TARGET_THROUGHPUT 0.95		/* vfiomig / plain, checksums on */
#define TARGET_RSS_EXTRA (16u << 20)	/* peak RSS <= buffer + this */
#define TARGET_RSS_FLAT (1u << 20)	/* largest - smallest size, at most */
#define TARGET_OVERLAP 1.10		/* T_both / max(T_src, T_dev), at most */

enum kind {
	K_IDLE,		/* devices opened, nothing moved: the process floor */
	K_PLAIN,	/* copy loop: device through vfiomig_data_read/write() */
	K_BARE,		/* copy loop: read()/write() straight on the mock's fds */
	K_LIB,		/* vfiomig_save | vfiomig_load, checksummed stream */
	K_RAW,		/* the same with VFIOMIG_XFER_RAW */
	K_AUTO,		/* checksummed, source RUNNING, VFIOMIG_PRECOPY_MODE_AUTO */
	K_OVL_FREE,	/* load a saved stream: nothing throttled */
	K_OVL_SRC,	/* the stream arrives at --rate */
	K_OVL_DEV,	/* the device takes it at --rate */
	K_OVL_BOTH,	/* both */
	K_COUNT
};

static const char *const kind_names[K_COUNT] = {
	[K_IDLE] = "idle",		[K_PLAIN] = "plain",
	[K_BARE] = "plain-bare",
	[K_LIB] = "vfiomig",		[K_RAW] = "vfiomig-raw",
	[K_AUTO] = "vfiomig-auto",	[K_OVL_FREE] = "unthrottled",
	[K_OVL_SRC] = "slow-source",	[K_OVL_DEV] = "slow-device",
	[K_OVL_BOTH] = "slow-both",
};

static const enum kind tp_kinds[] = { K_PLAIN, K_BARE, K_LIB, K_RAW, K_AUTO };
static const enum kind ovl_kinds[] = { K_OVL_FREE, K_OVL_SRC, K_OVL_DEV, K_OVL_BOTH };

/* What a child reports; the parent adds what wait4() says. */
struct result {
	bool ok;
	char err[256];
	uint64_t ns;		/* wall time of the transfer */
	uint64_t expect;	/* the mock's STOP_COPY stream length */
	uint64_t src_bytes;	/* device bytes read from the source */
	uint64_t dst_bytes;	/* device bytes written to the destination */
	uint64_t stream_bytes;	/* bytes through the pipe */
	uint64_t maxrss_kb;
	uint64_t cpu_ns;	/* user + system, all threads */
};

struct run {
	enum kind kind;
	uint64_t size;
	size_t buffer;
	uint64_t rate;
	int stream_fd;		/* overlap runs: the saved stream */
	uint64_t stream_len;
};

struct opts {
	uint64_t sizes[MAX_SIZES];
	unsigned int nsizes;
	unsigned int reps;
	size_t buffer;
	uint64_t rate;
	uint64_t ovl_size;
	bool throughput, overlap, json, strict, verbose;
	const char *json_out;
	bool want[K_COUNT];	/* throughput configurations to run */
};

__attribute__((format(printf, 2, 3)))
static int fail(struct result *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->ok)
		return -1;	/* keep the first failure */
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	r->ok = false;
	return -1;
}

/* "64M" rather than 67108864 in names and tables. */
static const char *size_str(uint64_t v, char *buf, size_t len)
{
	if (v && v % (1u << 30) == 0)
		snprintf(buf, len, "%" PRIu64 "G", v >> 30);
	else if (v && v % (1u << 20) == 0)
		snprintf(buf, len, "%" PRIu64 "M", v >> 20);
	else if (v && v % (1u << 10) == 0)
		snprintf(buf, len, "%" PRIu64 "K", v >> 10);
	else
		snprintf(buf, len, "%" PRIu64, v);
	return buf;
}

/* ---- the child's side ---- */

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int make_pipe(int p[2], struct result *r)
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return fail(r, "pipe2: %s", strerror(errno));
	/* Both variants get the same 1 MiB pipe (the mock's data fds have it too). */
	if (fcntl(p[1], F_SETPIPE_SZ, PIPE_SIZE) < 0)
		return fail(r, "F_SETPIPE_SZ 1 MiB: %s (see /proc/sys/fs/pipe-max-size)",
			    strerror(errno));
	return 0;
}

static int open_mock(const char *spec, struct vfiomig_ctx **ctx, struct vfiomig_dev **dev,
		     struct result *r)
{
	int e = vfiomig_ctx_new(ctx);

	if (e == 0 && (e = vfiomig_mock_attach(*ctx)) < 0)
		*ctx = vfiomig_ctx_unref(*ctx);
	if (e < 0)
		return fail(r, "vfiomig_ctx_new: %s", strerror(-e));
	e = vfiomig_dev_open(*ctx, spec, dev);
	if (e < 0)
		return fail(r, "open %s: %s", spec, vfiomig_ctx_get_error(*ctx));
	return 0;
}

struct save_job {
	struct vfiomig_dev *dev;
	struct vfiomig_ctx *ctx;
	int fd;
	struct vfiomig_save_opts o;
	struct vfiomig_stats st;
	int ret;
	char err[512];
};

static void *save_main(void *arg)
{
	struct save_job *j = arg;

	j->ret = vfiomig_dev_save(j->dev, j->fd, &j->o);
	if (j->ret < 0)
		snprintf(j->err, sizeof(j->err), "%s", vfiomig_ctx_get_error(j->ctx));
	close(j->fd);	/* the reader sees EOF after the trailer */
	return NULL;
}

/*
 * One side of the plain loop, one buffer of --buffer bytes: device -> pipe
 * (thread A) or pipe -> device.  The device end goes through
 * vfiomig_data_read() or vfiomig_data_write(), the calls vfiomig_dev_save() and
 * vfiomig_dev_load() make: for a kernel device a bare read() or write(), for the
 * mock also its driver's checks.  plain-bare leaves @in_dev and @out_dev
 * NULL and reads and writes the mock's pipes directly (docs/performance.md).
 */
struct copy_job {
	int in, out;
	struct vfiomig_dev *in_dev, *out_dev;
	size_t buffer;
	uint64_t bytes;
	int ret;
};

static ssize_t copy_read(struct copy_job *j, void *buf)
{
	ssize_t n;

	if (j->in_dev)
		return vfiomig_data_read(j->in_dev, j->in, buf, j->buffer, 0);
	do
		n = read(j->in, buf, j->buffer);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static int copy_loop(struct copy_job *j)
{
	void *buf;
	ssize_t n;
	int ret = 0;

	/* Page-aligned, as the library's buffer is (docs/performance.md). */
	if (posix_memalign(&buf, 4096, j->buffer) != 0)
		return -ENOMEM;
	while (ret == 0 && (n = copy_read(j, buf)) > 0) {
		ret = j->out_dev ? vfiomig_data_write(j->out_dev, j->out, buf, (size_t)n) :
				   write_all(j->out, buf, (size_t)n);
		j->bytes += (uint64_t)n;
	}
	free(buf);
	return ret < 0 ? ret : (int)n;
}

static void *copy_main(void *arg)
{
	struct copy_job *j = arg;

	j->ret = copy_loop(j);
	close(j->out);
	return NULL;
}

/*
 * The overlap source: writes a saved stream into the pipe at @rate bytes a
 * second (0: as fast as it can), pacing like the mock's rate= (a virtual
 * clock, no credit for idle time).
 */
struct feed_job {
	int stream_fd, out;
	uint64_t len, rate;
	int ret;
};

static int feed_loop(struct feed_job *j)
{
	size_t chunk = 1u << 20;
	uint64_t pace = now_ns(), off = 0;
	uint8_t *buf;
	int ret = 0;

	if (j->rate) {
		chunk = (size_t)(j->rate / 256);	/* about 4 ms' worth */
		chunk = chunk < 4096 ? 4096 : chunk > (256u << 10) ? 256u << 10 : chunk;
	}
	buf = malloc(chunk);
	if (!buf)
		return -ENOMEM;
	while (off < j->len && ret == 0) {
		size_t n = j->len - off < chunk ? (size_t)(j->len - off) : chunk;
		ssize_t got = pread(j->stream_fd, buf, n, (off_t)off);

		if (got <= 0) {
			ret = got < 0 ? -errno : -EIO;
			break;
		}
		if (j->rate) {
			uint64_t t = now_ns();
			struct timespec ts;

			if (pace < t)
				pace = t;
			pace += (uint64_t)got * 1000000000u / j->rate;
			ts.tv_sec = (time_t)(pace / 1000000000u);
			ts.tv_nsec = (long)(pace % 1000000000u);
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
				;
		}
		ret = write_all(j->out, buf, (size_t)got);
		off += (uint64_t)got;
	}
	free(buf);
	return ret;
}

static void *feed_main(void *arg)
{
	struct feed_job *j = arg;

	j->ret = feed_loop(j);
	close(j->out);
	return NULL;
}

static void child_plain(const struct run *c, struct vfiomig_dev *src, struct vfiomig_dev *dst,
			int p[2], struct result *r)
{
	bool bare = c->kind == K_BARE;
	struct copy_job a = { .out = p[1], .in_dev = bare ? NULL : src, .buffer = c->buffer };
	struct copy_job b = { .in = p[0], .out_dev = bare ? NULL : dst, .buffer = c->buffer };
	pthread_t t;
	int e, rfd = -1, wfd = -1;
	uint64_t t0 = now_ns();

	e = vfiomig_dev_set_state(src, VFIOMIG_STATE_STOP_COPY, &rfd);
	if (e == 0)
		e = vfiomig_dev_set_state(dst, VFIOMIG_STATE_RESUMING, &wfd);
	if (e < 0) {
		fail(r, "plain: entering STOP_COPY/RESUMING: %s", strerror(-e));
		return;
	}
	a.in = rfd;
	b.out = wfd;
	e = pthread_create(&t, NULL, copy_main, &a);
	if (e) {
		fail(r, "pthread_create: %s", strerror(e));
		return;
	}
	b.ret = copy_loop(&b);
	close(p[0]);	/* a failed reader must not leave the writer blocked */
	pthread_join(t, NULL);
	if (a.ret < 0 || b.ret < 0)
		fail(r, "plain: copy failed: %s", strerror(-(a.ret < 0 ? a.ret : b.ret)));
	/* The mock checks every byte here (RESUMING -> STOP). */
	e = vfiomig_data_finish_load(dst, VFIOMIG_STATE_RUNNING);
	if (e < 0)
		fail(r, "plain: the destination refused the bytes: %s", strerror(-e));
	e = vfiomig_dev_set_state(src, VFIOMIG_STATE_STOP, NULL);
	if (e < 0)
		fail(r, "plain: STOP_COPY -> STOP: %s", strerror(-e));
	r->ns = now_ns() - t0;
	close(rfd);
	close(wfd);
	r->src_bytes = a.bytes;
	r->dst_bytes = b.bytes;
	r->stream_bytes = a.bytes;
}

/*
 * Runs @fn on a thread, feeding the pipe, while vfiomig_dev_load() reads it on
 * this one; r->ns is the time of both.  -1 if the thread did not start.
 */
static int load_alongside(void *(*fn)(void *), void *arg, struct vfiomig_ctx *dctx,
			  struct vfiomig_dev *dst, int rfd, struct vfiomig_load_opts *lo,
			  struct result *r)
{
	uint64_t t0 = now_ns();
	pthread_t t;
	int e = pthread_create(&t, NULL, fn, arg);

	if (e)
		return fail(r, "pthread_create: %s", strerror(e));
	e = vfiomig_dev_load(dst, rfd, lo);
	if (e < 0)
		fail(r, "vfiomig_load: %s", vfiomig_ctx_get_error(dctx));
	close(rfd);	/* a failed load must not leave the feeder blocked */
	pthread_join(t, NULL);
	r->ns = now_ns() - t0;
	return 0;
}

static void child_lib(const struct run *c, struct vfiomig_ctx *sctx, struct vfiomig_dev *src,
		      struct vfiomig_ctx *dctx, struct vfiomig_dev *dst, int p[2],
		      struct result *r)
{
	unsigned int flags = c->kind == K_RAW ? VFIOMIG_XFER_RAW : 0;
	struct save_job j = {
		.dev = src, .ctx = sctx, .fd = p[1],
		.o = { .sz = sizeof(j.o), .flags = flags, .buffer_size = c->buffer,
		       .precopy = c->kind == K_AUTO ? VFIOMIG_PRECOPY_MODE_AUTO : VFIOMIG_PRECOPY_MODE_NEVER },
	};
	struct vfiomig_stats ls = { .sz = sizeof(ls) };
	struct vfiomig_load_opts lo = {
		.sz = sizeof(lo), .flags = flags, .buffer_size = c->buffer, .stats = &ls,
	};

	j.st.sz = sizeof(j.st);
	j.o.stats = &j.st;
	if (load_alongside(save_main, &j, dctx, dst, p[0], &lo, r) < 0)
		return;
	if (j.ret < 0)
		fail(r, "vfiomig_save: %s", j.err);
	r->src_bytes = j.st.precopy_bytes + j.st.stop_copy_bytes;
	r->dst_bytes = ls.precopy_bytes + ls.stop_copy_bytes;
	r->stream_bytes = ls.stream_bytes;
	if (j.st.stream_bytes != ls.stream_bytes)
		fail(r, "save wrote %" PRIu64 " stream bytes, load read %" PRIu64,
		     j.st.stream_bytes, ls.stream_bytes);
}

static void child_overlap(const struct run *c, struct vfiomig_ctx *dctx, struct vfiomig_dev *dst,
			  int p[2], struct result *r)
{
	struct feed_job f = {
		.stream_fd = c->stream_fd, .out = p[1], .len = c->stream_len,
		.rate = c->kind == K_OVL_SRC || c->kind == K_OVL_BOTH ? c->rate : 0,
	};
	struct vfiomig_stats ls = { .sz = sizeof(ls) };
	struct vfiomig_load_opts lo = {
		.sz = sizeof(lo), .buffer_size = c->buffer, .stats = &ls,
	};

	if (load_alongside(feed_main, &f, dctx, dst, p[0], &lo, r) < 0)
		return;
	if (f.ret < 0)
		fail(r, "feeding the stream: %s", strerror(-f.ret));
	r->src_bytes = r->expect;	/* saved beforehand */
	r->dst_bytes = ls.precopy_bytes + ls.stop_copy_bytes;
	r->stream_bytes = ls.stream_bytes;
}

static void child(const struct run *c, struct result *r)
{
	bool ovl = c->kind >= K_OVL_FREE;
	bool dev_slow = c->kind == K_OVL_DEV || c->kind == K_OVL_BOTH;
	struct vfiomig_ctx *sctx = NULL, *dctx = NULL;
	struct vfiomig_dev *src = NULL, *dst = NULL;
	char spec[128], sz[32];
	int p[2] = { -1, -1 };

	r->ok = true;
	size_str(c->size, sz, sizeof(sz));
	/* Different names: the content is seeded by the name, and a load
	 * takes the stream's seed, so this proves the bytes moved. */
	snprintf(spec, sizeof(spec), "mock:bench-src,size=%s,state=%s", sz,
		 c->kind == K_AUTO ? "running" : "stop");
	if (!ovl && open_mock(spec, &sctx, &src, r) < 0)
		goto out;
	snprintf(spec, sizeof(spec), "mock:bench-dst,size=%s,state=stop,rate=%" PRIu64, sz,
		 dev_slow ? c->rate : 0);
	if (open_mock(spec, &dctx, &dst, r) < 0)
		goto out;
	if (vfiomig_dev_get_stop_copy_size(dst, &r->expect) < 0) {
		fail(r, "the mock did not give its stop-copy size");
		goto out;
	}
	if (c->kind == K_IDLE || make_pipe(p, r) < 0)
		goto out;
	if (c->kind == K_PLAIN || c->kind == K_BARE)
		child_plain(c, src, dst, p, r);
	else if (ovl)
		child_overlap(c, dctx, dst, p, r);
	else
		child_lib(c, sctx, src, dctx, dst, p, r);
	if (r->ok && (r->src_bytes != r->expect || r->dst_bytes != r->expect))
		fail(r, "moved %" PRIu64 " device bytes out and %" PRIu64 " in; the device "
		     "has %" PRIu64, r->src_bytes, r->dst_bytes, r->expect);
	if (r->ok && c->kind == K_RAW && r->stream_bytes != r->expect)
		fail(r, "raw stream of %" PRIu64 " bytes for %" PRIu64 " device bytes",
		     r->stream_bytes, r->expect);
out:
	vfiomig_dev_unref(src);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(sctx);
	vfiomig_ctx_unref(dctx);
}

/* ---- the parent's side ---- */

static void run_one(const struct run *c, struct result *res)
{
	struct rusage ru;
	int p[2], status = 0;
	size_t got = 0;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(res->err, sizeof(res->err), "pipe2: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		snprintf(res->err, sizeof(res->err), "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pid == 0) {
		struct result r;

		close(p[0]);
		signal(SIGPIPE, SIG_IGN);
		memset(&r, 0, sizeof(r));
		child(c, &r);
		_exit(write_all(p[1], (const uint8_t *)&r, sizeof(r)) < 0 ? 3 : 0);
	}
	close(p[1]);
	while (got < sizeof(*res)) {
		ssize_t n = read(p[0], (uint8_t *)res + got, sizeof(*res) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(p[0]);
	while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
		;
	if (got != sizeof(*res) || !WIFEXITED(status) || WEXITSTATUS(status)) {
		memset(res, 0, sizeof(*res));
		if (WIFSIGNALED(status))
			snprintf(res->err, sizeof(res->err), "the run died of signal %d",
				 WTERMSIG(status));
		else
			snprintf(res->err, sizeof(res->err), "the run exited with status %d",
				 WEXITSTATUS(status));
		return;
	}
	res->maxrss_kb = (uint64_t)ru.ru_maxrss;
	res->cpu_ns = ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
		      ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

/* A saved stream for the overlap runs, in a memfd the children inherit. */
static int save_stream(uint64_t size, size_t buffer, uint64_t *ret_len, char *err, size_t errlen)
{
	struct vfiomig_save_opts o = { .sz = sizeof(o), .buffer_size = buffer };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	char spec[128], sz[32];
	int fd = memfd_create("bench-migrate-stream", MFD_CLOEXEC), r;
	off_t end;

	if (fd < 0) {
		snprintf(err, errlen, "memfd_create: %s", strerror(errno));
		return -1;
	}
	snprintf(spec, sizeof(spec), "mock:bench-src,size=%s,state=stop",
		 size_str(size, sz, sizeof(sz)));
	if (vfiomig_ctx_new(&ctx) < 0 || vfiomig_mock_attach(ctx) < 0) {
		snprintf(err, errlen, "vfiomig_ctx_new failed");
		close(fd);
		return -1;
	}
	r = vfiomig_dev_open(ctx, spec, &dev);
	if (r == 0) {
		r = vfiomig_dev_save(dev, fd, &o);
		vfiomig_dev_unref(dev);
	}
	if (r < 0)
		snprintf(err, errlen, "saving the overlap stream: %s", vfiomig_ctx_get_error(ctx));
	vfiomig_ctx_unref(ctx);
	end = lseek(fd, 0, SEEK_END);
	if (r < 0 || end <= 0) {
		close(fd);
		return -1;
	}
	*ret_len = (uint64_t)end;
	return fd;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct stat3 {
	double med, min, max;
};

static struct stat3 stat_dbl(const double *v, unsigned int n)
{
	double s[MAX_REPS];
	struct stat3 r = { 0, 0, 0 };

	if (!n)
		return r;
	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_dbl);
	r.min = s[0];
	r.max = s[n - 1];
	r.med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	return r;
}

static struct stat3 stat_u64(const uint64_t *v, unsigned int n, double scale)
{
	double d[MAX_REPS];

	for (unsigned int i = 0; i < n; i++)
		d[i] = (double)v[i] * scale;
	return stat_dbl(d, n);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench-migrate [options]\n"
		"  --sizes LIST       state sizes for throughput and RSS (default 64M,1G)\n"
		"  --reps N           runs of each configuration, interleaved (default 5)\n"
		"  --buffer SIZE      buffer_size for save and load, and the plain loop's\n"
		"                     buffer per thread (default 256K, the library's)\n"
		"  --rate RATE        bytes/s of the slow source and slow device (default 64M)\n"
		"  --overlap-size SIZE  state size for the overlap runs (default 64M)\n"
		"  --only PART        throughput (includes RSS) or overlap\n"
		"  --configs LIST     throughput configurations to run (default all:\n"
		"                     plain,plain-bare,vfiomig,vfiomig-raw,vfiomig-auto;\n"
		"                     e.g. one alone under perf)\n"
		"  --no-auto          skip the pre-copy AUTO runs\n"
		"  --quick            one small run of everything (the smoke test)\n"
		"  --json             machine-readable output instead of the table\n"
		"  --json-out FILE    the table, and the same results as JSON in FILE\n"
		"  --strict           exit 2 if a target is missed\n"
		"  -v, --verbose      print every run to stderr\n"
		"Sizes and rates take K, M, G suffixes (powers of 1024).\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "sizes", required_argument, NULL, 's' },
		{ "reps", required_argument, NULL, 'r' },
		{ "buffer", required_argument, NULL, 'b' },
		{ "rate", required_argument, NULL, 'R' },
		{ "overlap-size", required_argument, NULL, 'O' },
		{ "only", required_argument, NULL, 'o' },
		{ "configs", required_argument, NULL, 'c' },
		{ "no-auto", no_argument, NULL, 'A' },
		{ "quick", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "json-out", required_argument, NULL, 'J' },
		{ "strict", no_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){
		.sizes = { 64u << 20, 1u << 30 }, .nsizes = 2, .reps = 5, .buffer = 256u << 10,
		.rate = 64u << 20, .ovl_size = 64u << 20,
		.throughput = true, .overlap = true,
		.want = { [K_IDLE] = true, [K_PLAIN] = true, [K_BARE] = true, [K_LIB] = true, [K_RAW] = true,
			  [K_AUTO] = true },
	};
	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		uint64_t v;

		switch (c) {
		case 's': {
			char *copy = strdup(optarg), *save = NULL;

			o->nsizes = 0;
			for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				if (o->nsizes == MAX_SIZES || !parse_size(t, &v) || !v || v > (64ull << 30)) {
					fprintf(stderr, "bench-migrate: bad size '%s' (1 to 64G, at most %d)\n",
						t, MAX_SIZES);
					free(copy);
					return -1;
				}
				o->sizes[o->nsizes++] = v;
			}
			free(copy);
			if (!o->nsizes)
				return -1;
			break;
		}
		case 'r':
			if (!parse_size(optarg, &v) || v < 1 || v > MAX_REPS) {
				fprintf(stderr, "bench-migrate: --reps takes 1 to %d\n", MAX_REPS);
				return -1;
			}
			o->reps = (unsigned int)v;
			break;
		case 'b':
			if (!parse_size(optarg, &v) || v < 4096 || v > (1u << 30)) {
				fprintf(stderr, "bench-migrate: --buffer takes 4K to 1G\n");
				return -1;
			}
			o->buffer = (size_t)v;
			break;
		case 'R':
			if (!parse_size(optarg, &v) || v < 4096 || v > (64ull << 30)) {
				fprintf(stderr, "bench-migrate: --rate takes 4K to 64G (bytes/s)\n");
				return -1;
			}
			o->rate = v;
			break;
		case 'O':
			if (!parse_size(optarg, &v) || !v || v > (64ull << 30)) {
				fprintf(stderr, "bench-migrate: --overlap-size takes 1 to 64G\n");
				return -1;
			}
			o->ovl_size = v;
			break;
		case 'o':
			o->throughput = !strcmp(optarg, "throughput");
			o->overlap = !strcmp(optarg, "overlap");
			if (!o->throughput && !o->overlap) {
				fprintf(stderr, "bench-migrate: --only takes throughput or overlap\n");
				return -1;
			}
			break;
		case 'c': {
			char *copy = strdup(optarg), *save = NULL;

			memset(o->want, 0, sizeof(o->want));
			for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				unsigned int k;

				for (k = K_IDLE; k <= K_AUTO; k++)
					if (!strcmp(t, kind_names[k]))
						break;
				if (k > K_AUTO) {
					fprintf(stderr, "bench-migrate: unknown configuration '%s' (idle, "
						"plain, plain-bare, vfiomig, vfiomig-raw, vfiomig-auto)\n", t);
					free(copy);
					return -1;
				}
				o->want[k] = true;
			}
			free(copy);
			break;
		}
		case 'A':
			o->want[K_AUTO] = false;
			break;
		case 'q':
			o->sizes[0] = 16u << 20;
			o->nsizes = 1;
			o->reps = 1;
			o->ovl_size = 4u << 20;
			o->rate = 16u << 20;
			break;
		case 'j':
			o->json = true;
			break;
		case 'J':
			o->json_out = optarg;
			break;
		case 'S':
			o->strict = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return -1;
	}
	return 0;
}

/* Every sample of one configuration. */
struct series {
	enum kind kind;
	uint64_t size;
	unsigned int n;
	struct result r[MAX_REPS];
	uint64_t ns[MAX_REPS], rss[MAX_REPS], cpu[MAX_REPS];
};

struct report {
	struct opts o;
	struct series tp[MAX_SIZES][K_COUNT];
	struct series ovl[K_COUNT];
	uint64_t ovl_stream_len;
	unsigned int failures;
	unsigned int misses;
};

static void record(struct report *rep, struct series *s, enum kind k, uint64_t size,
		   const struct result *r)
{
	char sz[32];

	s->kind = k;
	s->size = size;
	if (!r->ok) {
		rep->failures++;
		fprintf(stderr, "bench-migrate: %s at %s failed: %s\n", kind_names[k],
			size_str(size, sz, sizeof(sz)), r->err[0] ? r->err : "no result");
		return;
	}
	s->r[s->n] = *r;
	s->ns[s->n] = r->ns;
	s->rss[s->n] = r->maxrss_kb * 1024;
	s->cpu[s->n] = r->cpu_ns;
	s->n++;
	if (rep->o.verbose)
		fprintf(stderr, "  %-13s %6s  %8.3f s  %8.1f MiB/s  rss %6.1f MiB  cpu %6.3f s\n",
			kind_names[k], size_str(size, sz, sizeof(sz)), (double)r->ns / 1e9,
			r->ns ? (double)r->expect / MIB / ((double)r->ns / 1e9) : 0.0,
			(double)r->maxrss_kb / 1024, (double)r->cpu_ns / 1e9);
}

static void run_throughput(struct report *rep)
{
	const struct opts *o = &rep->o;
	enum kind kinds[ARRAY_LEN(tp_kinds)];
	unsigned int nk = 0;

	for (unsigned int j = 0; j < ARRAY_LEN(tp_kinds); j++)
		if (o->want[tp_kinds[j]])
			kinds[nk++] = tp_kinds[j];
	for (unsigned int si = 0; si < o->nsizes; si++) {
		for (unsigned int i = 0; i < o->reps; i++) {
			struct run c = { .size = o->sizes[si], .buffer = o->buffer, .stream_fd = -1 };
			struct result r;

			if (o->want[K_IDLE]) {
				c.kind = K_IDLE;
				run_one(&c, &r);
				record(rep, &rep->tp[si][K_IDLE], K_IDLE, c.size, &r);
			}
			/* Interleaved, and the order turns from one rep to the next. */
			for (unsigned int j = 0; j < nk; j++) {
				c.kind = kinds[(i + j) % nk];
				run_one(&c, &r);
				record(rep, &rep->tp[si][c.kind], c.kind, c.size, &r);
			}
		}
	}
}

static void run_overlap(struct report *rep)
{
	const struct opts *o = &rep->o;
	char err[512];
	int fd = save_stream(o->ovl_size, o->buffer, &rep->ovl_stream_len, err, sizeof(err));

	if (fd < 0) {
		fprintf(stderr, "bench-migrate: %s\n", err);
		rep->failures++;
		return;
	}
	for (unsigned int i = 0; i < o->reps; i++) {
		for (unsigned int j = 0; j < 4; j++) {
			struct run c = {
				.kind = ovl_kinds[(i + j) % 4], .size = o->ovl_size,
				.buffer = o->buffer, .rate = o->rate, .stream_fd = fd,
				.stream_len = rep->ovl_stream_len,
			};
			struct result r;

			run_one(&c, &r);
			record(rep, &rep->ovl[c.kind], c.kind, c.size, &r);
		}
	}
	close(fd);
}

/* Per-rep ratios of plain time to @k's time (same rep: the runs were adjacent). */
static struct stat3 paired_ratio(const struct series *plain, const struct series *s)
{
	double v[MAX_REPS];
	unsigned int n = plain->n < s->n ? plain->n : s->n;

	for (unsigned int i = 0; i < n; i++)
		v[i] = (double)plain->ns[i] / (double)s->ns[i];
	return stat_dbl(v, n);
}

static double mibps(uint64_t bytes, double ns)
{
	return ns > 0 ? (double)bytes / MIB / (ns / 1e9) : 0;
}

static bool met(struct report *rep, bool ok)
{
	if (!ok)
		rep->misses++;
	return ok;
}

struct summary {
	/* throughput */
	struct stat3 t[MAX_SIZES][K_COUNT], rss[MAX_SIZES][K_COUNT], cpu[MAX_SIZES][K_COUNT];
	struct stat3 ratio[MAX_SIZES][K_COUNT], ratio_of_medians[MAX_SIZES][K_COUNT];
	bool tp_ok[MAX_SIZES];
	double rss_limit, rss_flat, rss_big;
	bool rss_ok, flat_ok;
	/* overlap */
	struct stat3 ot[K_COUNT];
	struct stat3 o_max, o_sum;	/* per-rep T_both / max, T_both / sum */
	double o_max_med, o_sum_med;	/* from the medians */
	bool ovl_ok;
};

static void summarize(struct report *rep, struct summary *S)
{
	const struct opts *o = &rep->o;

	memset(S, 0, sizeof(*S));
	if (o->throughput) {
		for (unsigned int si = 0; si < o->nsizes; si++) {
			const struct series *plain = &rep->tp[si][K_PLAIN];

			for (unsigned int k = K_IDLE; k <= K_AUTO; k++) {
				const struct series *s = &rep->tp[si][k];

				S->t[si][k] = stat_u64(s->ns, s->n, 1e-9);
				S->rss[si][k] = stat_u64(s->rss, s->n, 1.0 / MIB);
				S->cpu[si][k] = stat_u64(s->cpu, s->n, 1e-9);
				if (k != K_IDLE && s->n && plain->n) {
					S->ratio[si][k] = paired_ratio(plain, s);
					S->ratio_of_medians[si][k].med = S->t[si][K_PLAIN].med /
									 S->t[si][k].med;
				}
			}
			S->tp_ok[si] = met(rep, rep->tp[si][K_LIB].n &&
					   S->ratio[si][K_LIB].med >= TARGET_THROUGHPUT);
		}
		/* RSS: the checksummed run's peak at the largest size, and its growth. */
		{
			unsigned int big = 0, small = 0;

			for (unsigned int si = 1; si < o->nsizes; si++) {
				if (o->sizes[si] > o->sizes[big])
					big = si;
				if (o->sizes[si] < o->sizes[small])
					small = si;
			}
			S->rss_limit = (double)(o->buffer + TARGET_RSS_EXTRA) / MIB;
			S->rss_big = S->rss[big][K_LIB].max;
			S->rss_flat = S->rss_big - S->rss[small][K_LIB].max;
			S->rss_ok = met(rep, rep->tp[big][K_LIB].n && S->rss_big <= S->rss_limit);
			S->flat_ok = met(rep, S->rss_flat <= TARGET_RSS_FLAT / MIB);
		}
	}
	if (o->overlap) {
		const struct series *a = &rep->ovl[K_OVL_SRC], *b = &rep->ovl[K_OVL_DEV],
				    *c = &rep->ovl[K_OVL_BOTH];
		double vmax[MAX_REPS], vsum[MAX_REPS];
		unsigned int n = a->n < b->n ? a->n : b->n;

		n = n < c->n ? n : c->n;
		for (unsigned int k = K_OVL_FREE; k <= K_OVL_BOTH; k++)
			S->ot[k] = stat_u64(rep->ovl[k].ns, rep->ovl[k].n, 1e-9);
		for (unsigned int i = 0; i < n; i++) {
			double x = (double)a->ns[i], y = (double)b->ns[i], z = (double)c->ns[i];

			vmax[i] = z / (x > y ? x : y);
			vsum[i] = z / (x + y);
		}
		S->o_max = stat_dbl(vmax, n);
		S->o_sum = stat_dbl(vsum, n);
		if (n) {
			double x = S->ot[K_OVL_SRC].med, y = S->ot[K_OVL_DEV].med;

			S->o_max_med = S->ot[K_OVL_BOTH].med / (x > y ? x : y);
			S->o_sum_med = S->ot[K_OVL_BOTH].med / (x + y);
		}
		S->ovl_ok = met(rep, n && S->o_max.med <= TARGET_OVERLAP);
	}
}

static uint64_t first_u64(const struct series *s, int what)
{
	if (!s->n)
		return 0;
	return what == 0 ? s->r[0].expect : s->r[0].stream_bytes;
}

static void print_machine(FILE *f)
{
	struct utsname u;
	char model[128] = "?", line[256];
	FILE *c = fopen("/proc/cpuinfo", "r");

	if (c) {
		while (fgets(line, sizeof(line), c))
			if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
				snprintf(model, sizeof(model), "%s", strchr(line, ':') + 2);
				model[strcspn(model, "\n")] = '\0';
				break;
			}
		fclose(c);
	}
	uname(&u);
	fprintf(f, "machine: %s, %ld CPUs online, Linux %s; compiler %s%s\n", model,
		sysconf(_SC_NPROCESSORS_ONLN), u.release, __VERSION__,
#ifdef __OPTIMIZE__
		", optimized"
#else
		", NOT optimized (the numbers mean little)"
#endif
		);
}

static void print_human(struct report *rep, const struct summary *S)
{
	const struct opts *o = &rep->o;
	char sz[32], b[32], rt[32];

	printf("bench-migrate: %u reps per configuration, interleaved; buffer_size %s "
	       "(plain loop: one %s buffer per thread); pipes 1 MiB\n",
	       o->reps, size_str(o->buffer, b, sizeof(b)), b);
	print_machine(stdout);
	if (o->throughput) {
		printf("\nThroughput: save | pipe | load, device bytes / wall time "
		       "(median [min .. max] of %u)\n", o->reps);
		printf("%-6s %-13s %12s %12s %22s %10s %8s %24s\n", "size", "config", "device B",
		       "stream B", "time s", "MiB/s", "CPU s", "vs plain (paired)");
		for (unsigned int si = 0; si < o->nsizes; si++) {
			for (unsigned int k = K_PLAIN; k <= K_AUTO; k++) {
				const struct series *s = &rep->tp[si][k];
				const struct stat3 *t = &S->t[si][k], *q = &S->ratio[si][k];
				char range[32], ratio[32] = "";

				if (!s->n)
					continue;
				snprintf(range, sizeof(range), "%.3f [%.3f .. %.3f]", t->med, t->min, t->max);
				if (k != K_PLAIN)
					snprintf(ratio, sizeof(ratio), "%.3f [%.3f .. %.3f]",
						 q->med, q->min, q->max);
				printf("%-6s %-13s %12" PRIu64 " %12" PRIu64 " %22s %10.0f %8.3f %24s\n",
				       size_str(o->sizes[si], sz, sizeof(sz)), kind_names[k],
				       first_u64(s, 0), first_u64(s, 1), range,
				       mibps(first_u64(s, 0), t->med * 1e9), S->cpu[si][k].med, ratio);
			}
		}
		printf("\nPeak RSS (ru_maxrss of the whole run: both ends, both mocks, "
		       "median [min .. max], MiB)\n");
		printf("%-6s", "size");
		for (unsigned int k = K_IDLE; k <= K_AUTO; k++)
			if (rep->tp[0][k].n)
				printf(" %22s", kind_names[k]);
		printf("\n");
		for (unsigned int si = 0; si < o->nsizes; si++) {
			printf("%-6s", size_str(o->sizes[si], sz, sizeof(sz)));
			for (unsigned int k = K_IDLE; k <= K_AUTO; k++) {
				char cell[40];

				if (!rep->tp[0][k].n)
					continue;
				snprintf(cell, sizeof(cell), "%.1f [%.1f .. %.1f]", S->rss[si][k].med,
					 S->rss[si][k].min, S->rss[si][k].max);
				printf(" %22s", cell);
			}
			printf("\n");
		}
	}
	if (o->overlap) {
		printf("\nOverlap: vfiomig_load of a %s state (%" PRIu64 " stream bytes), source "
		       "and/or device at %s/s\n", size_str(o->ovl_size, sz, sizeof(sz)),
		       rep->ovl_stream_len, size_str(o->rate, rt, sizeof(rt)));
		for (unsigned int k = K_OVL_FREE; k <= K_OVL_BOTH; k++)
			if (rep->ovl[k].n)
				printf("  %-12s %.3f s [%.3f .. %.3f]\n", kind_names[k], S->ot[k].med,
				       S->ot[k].min, S->ot[k].max);
		printf("  T_both / max(T_src, T_dev) = %.3f [%.3f .. %.3f] per rep; %.3f from "
		       "medians (1.0 = full overlap)\n", S->o_max.med, S->o_max.min, S->o_max.max,
		       S->o_max_med);
		printf("  T_both / (T_src + T_dev)   = %.3f [%.3f .. %.3f] per rep; %.3f from "
		       "medians (0.5 = full overlap, 1.0 = none)\n", S->o_sum.med, S->o_sum.min,
		       S->o_sum.max, S->o_sum_med);
	}
	printf("\nTargets:\n");
	if (o->throughput) {
		for (unsigned int si = 0; si < o->nsizes; si++)
			printf("  throughput at %-4s vfiomig/plain %.3f (>= %.2f): %s\n",
			       size_str(o->sizes[si], sz, sizeof(sz)), S->ratio[si][K_LIB].med,
			       TARGET_THROUGHPUT, S->tp_ok[si] ? "met" : "MISSED");
		printf("  peak RSS of vfiomig at the largest size %.1f MiB (<= buffer + 16 MiB = "
		       "%.1f): %s\n", S->rss_big, S->rss_limit, S->rss_ok ? "met" : "MISSED");
		printf("  RSS growth smallest -> largest size %+.2f MiB (flat: <= %.0f MiB): %s\n",
		       S->rss_flat, TARGET_RSS_FLAT / MIB, S->flat_ok ? "met" : "MISSED");
	}
	if (o->overlap)
		printf("  overlap T_both/max %.3f (<= %.2f): %s\n", S->o_max.med, TARGET_OVERLAP,
		       S->ovl_ok ? "met" : "MISSED");
	if (rep->failures)
		printf("\n%u runs FAILED (see stderr)\n", rep->failures);
}

static void json_stat(FILE *f, const char *name, const struct stat3 *s, const char *sep)
{
	fprintf(f, "\"%s\": {\"median\": %.6g, \"min\": %.6g, \"max\": %.6g}%s", name, s->med,
	       s->min, s->max, sep);
}

static void json_series(FILE *f, const struct series *s)
{
	fprintf(f, "\"runs\": [");
	for (unsigned int i = 0; i < s->n; i++)
		fprintf(f, "%s{\"ns\": %" PRIu64 ", \"maxrss_bytes\": %" PRIu64 ", \"cpu_ns\": %" PRIu64 "}",
		       i ? ", " : "", s->ns[i], s->rss[i], s->cpu[i]);
	fprintf(f, "]");
}

static void print_json(FILE *f, struct report *rep, const struct summary *S)
{
	const struct opts *o = &rep->o;
	struct utsname u;
	bool first = true;

	uname(&u);
	fprintf(f, "{\n  \"reps\": %u, \"buffer_size\": %zu, \"pipe_size\": %d, \"cpus\": %ld, "
	       "\"kernel\": \"%s\",\n", o->reps, o->buffer, PIPE_SIZE,
	       sysconf(_SC_NPROCESSORS_ONLN), u.release);
	fprintf(f, "  \"failures\": %u, \"targets_missed\": %u,\n", rep->failures, rep->misses);
	fprintf(f, "  \"throughput\": [");
	for (unsigned int si = 0; o->throughput && si < o->nsizes; si++) {
		for (unsigned int k = K_IDLE; k <= K_AUTO; k++) {
			const struct series *s = &rep->tp[si][k];

			if (!s->n)
				continue;
			fprintf(f, "%s\n    {\"size\": %" PRIu64 ", \"config\": \"%s\", \"device_bytes\": %"
			       PRIu64 ", \"stream_bytes\": %" PRIu64 ", ", first ? "" : ",",
			       o->sizes[si], kind_names[k], first_u64(s, 0),
			       k == K_IDLE ? 0 : first_u64(s, 1));
			first = false;
			json_stat(f, "seconds", &S->t[si][k], ", ");
			json_stat(f, "maxrss_mib", &S->rss[si][k], ", ");
			json_stat(f, "cpu_seconds", &S->cpu[si][k], ", ");
			if (k != K_IDLE && k != K_PLAIN) {
				json_stat(f, "ratio_vs_plain", &S->ratio[si][k], ", ");
				fprintf(f, "\"ratio_of_medians\": %.6g, ", S->ratio_of_medians[si][k].med);
			}
			json_series(f, s);
			fprintf(f, "}");
		}
	}
	fprintf(f, "\n  ],\n");
	if (o->throughput) {
		fprintf(f, "  \"throughput_target\": {\"min_ratio\": %.2f, \"met\": [", TARGET_THROUGHPUT);
		for (unsigned int si = 0; si < o->nsizes; si++)
			fprintf(f, "%s%s", si ? ", " : "", S->tp_ok[si] ? "true" : "false");
		fprintf(f, "]},\n");
		fprintf(f, "  \"rss_target\": {\"limit_mib\": %.6g, \"largest_mib\": %.6g, "
		       "\"growth_mib\": %.6g, \"within_limit\": %s, \"flat\": %s},\n",
		       S->rss_limit, S->rss_big, S->rss_flat,
		       S->rss_ok ? "true" : "false", S->flat_ok ? "true" : "false");
	}
	fprintf(f, "  \"overlap\": ");
	if (o->overlap) {
		fprintf(f, "{\"size\": %" PRIu64 ", \"stream_bytes\": %" PRIu64 ", \"rate\": %" PRIu64 ",\n",
		       o->ovl_size, rep->ovl_stream_len, o->rate);
		for (unsigned int k = K_OVL_FREE; k <= K_OVL_BOTH; k++) {
			fprintf(f, "    \"%s\": {", kind_names[k]);
			json_stat(f, "seconds", &S->ot[k], ", ");
			json_series(f, &rep->ovl[k]);
			fprintf(f, "},\n");
		}
		fprintf(f, "    ");
		json_stat(f, "both_over_max", &S->o_max, ", ");
		json_stat(f, "both_over_sum", &S->o_sum, ",\n");
		fprintf(f, "    \"both_over_max_of_medians\": %.6g, \"both_over_sum_of_medians\": %.6g, "
		       "\"target_max\": %.2f, \"met\": %s}\n", S->o_max_med, S->o_sum_med,
		       TARGET_OVERLAP, S->ovl_ok ? "true" : "false");
	} else {
		fprintf(f, "null\n");
	}
	fprintf(f, "}\n");
}

int main(int argc, char **argv)
{
	static struct report rep;
	struct summary *S;

	if (parse_args(argc, argv, &rep.o) < 0)
		return 64;
	if (rep.o.throughput)
		run_throughput(&rep);
	if (rep.o.overlap)
		run_overlap(&rep);
	S = calloc(1, sizeof(*S));
	if (!S)
		return 1;
	summarize(&rep, S);
	if (rep.o.json)
		print_json(stdout, &rep, S);
	else
		print_human(&rep, S);
	if (rep.o.json_out) {
		FILE *f = fopen(rep.o.json_out, "w");

		if (!f || (print_json(f, &rep, S), fclose(f)) != 0) {
			fprintf(stderr, "bench-migrate: writing %s: %s\n", rep.o.json_out,
				strerror(errno));
			rep.failures++;
		}
	}
	free(S);
	if (rep.failures)
		return 1;
	return rep.o.strict && rep.misses ? 2 : 0;
}
