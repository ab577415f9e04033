/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What an outside VMM author would try, built only with pkg-config against
 * an installed copy: hostile streams, a thread limit, two faults at once,
 * thousands of short-lived threads, calls from callbacks, a cancelled group
 * load, a destructor under contention.  Each case runs in a child of its
 * own under an alarm, so a crash or a hang is a failure of that case, not
 * of the run; each checks the device states the library promises (a source
 * back where it was, no destination RUNNING with part of a state) and that
 * no fd leaks.  TAP on stdout.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vfiomig/mock.h>
#include <vfiomig/vfiomig.h>

#define SKIP 77

static int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("# ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	return 1;
}

/* A context that opens mock devices. */
static int ctx_new(struct vfiomig_ctx **ret)
{
	int r = vfiomig_ctx_new(ret);

	if (r == 0 && (r = vfiomig_mock_attach(*ret)) < 0)
		*ret = vfiomig_ctx_unref(*ret);
	return r;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A group of one ctx's mock devices, from specs. */
static struct vfiomig_group *group_of(struct vfiomig_ctx *ctx, const char *const *specs, int n)
{
	struct vfiomig_group *g;

	if (vfiomig_group_new(ctx, 0, &g) < 0)
		return NULL;
	for (int i = 0; i < n; i++) {
		struct vfiomig_dev *dev;

		if (vfiomig_dev_open(ctx, specs[i], &dev) < 0 || vfiomig_group_add(g, dev) < 0) {
			fail("%s: %s", specs[i], vfiomig_ctx_get_error(ctx));
			return vfiomig_group_unref(g);
		}
		vfiomig_dev_unref(dev);
	}
	return g;
}

/* Every member in @want; else say which is where. */
static int members_in(struct vfiomig_group *g, enum vfiomig_state want, const char *when)
{
	for (int i = 0; i < vfiomig_group_get_size(g); i++) {
		struct vfiomig_dev *dev = vfiomig_group_get_member(g, (unsigned int)i);
		enum vfiomig_state st;

		if (vfiomig_dev_get_state(dev, &st) < 0 || st != want)
			return fail("%s: member %s is in %s, not %s", when, vfiomig_dev_get_name(dev),
				    vfiomig_state_name(st), vfiomig_state_name(want));
	}
	return 0;
}

/* A memfd holding a group save of @specs. */
static int saved_group(const char *const *specs, int n)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_group *g;
	int fd = memfd_create("stream", MFD_CLOEXEC), r = -1;

	if (fd < 0 || ctx_new(&ctx) < 0)
		return -1;
	g = group_of(ctx, specs, n);
	if (g)
		r = vfiomig_group_save(g, &fd, 1, NULL);
	if (r < 0)
		fail("group save: %s", vfiomig_ctx_get_error(ctx));
	vfiomig_group_unref(g);
	vfiomig_ctx_unref(ctx);
	if (r < 0) {
		close(fd);
		return -1;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* A copy of @fd's bytes, [0, @len), with the byte at @flip (if any) inverted. */
static int copy_stream(int fd, off_t len, off_t flip)
{
	int out = memfd_create("copy", MFD_CLOEXEC);
	char buf[65536];
	off_t at = 0;

	lseek(fd, 0, SEEK_SET);
	while (out >= 0 && at < len) {
		ssize_t n = read(fd, buf, (size_t)(len - at < (off_t)sizeof(buf) ? len - at : (off_t)sizeof(buf)));

		if (n <= 0)
			break;
		if (flip >= at && flip < at + n)
			buf[flip - at] ^= 0xff;
		if (write(out, buf, (size_t)n) != n)
			break;
		at += n;
	}
	lseek(out, 0, SEEK_SET);
	return out;
}

/*
 * A group load of @in into fresh destinations (all in STOP) must succeed or
 * leave every member in STOP; @expect_ok says which.
 */
static int load_into(int in, const char *const *specs, int n, int expect_ok, const char *what)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_group *g;
	int r, bad = 0;

	if (ctx_new(&ctx) < 0)
		return 1;
	g = group_of(ctx, specs, n);
	if (!g)
		return 1;
	r = vfiomig_group_load(g, &in, 1, NULL);
	if ((r == 0) != expect_ok)
		bad = fail("%s: load returned %d (%s)", what, r, r ? vfiomig_ctx_get_error(ctx) : "");
	else if (r < 0 && !vfiomig_ctx_get_error(ctx))
		bad = fail("%s: load returned %d and no sentence", what, r);
	else if (r < 0)
		bad = members_in(g, VFIOMIG_STATE_STOP, what);
	vfiomig_group_unref(g);
	vfiomig_ctx_unref(ctx);
	return bad;
}

/*
 * A stream whose checksums are all right but whose devices the group cannot
 * take ([P, P] into [Q, P]), then every truncation and a sweep of flipped
 * bytes of a good stream.
 */
static int hostile_streams(void)
{
	const char *src[] = { "mock:a,driver=p,size=64K", "mock:b,driver=p,size=64K" };
	const char *qp[] = { "mock:c,driver=q,size=64K,state=stop", "mock:d,driver=p,size=64K,state=stop" };
	const char *pp[] = { "mock:c,driver=p,size=64K,state=stop", "mock:d,driver=p,size=64K,state=stop" };
	int fd = saved_group(src, 2), bad = 0;
	off_t len;

	if (fd < 0)
		return 1;
	len = lseek(fd, 0, SEEK_END);
	lseek(fd, 0, SEEK_SET);
	bad |= load_into(fd, qp, 2, 0, "[P,P] into [Q,P]");
	lseek(fd, 0, SEEK_SET);
	bad |= load_into(fd, pp, 2, 1, "[P,P] into [P,P]");
	for (off_t cut = 0; cut < len && !bad; cut += len / 37 + 1) {
		int in = copy_stream(fd, cut, -1);

		bad |= load_into(in, pp, 2, 0, "a truncated stream");
		close(in);
	}
	for (off_t at = 0; at < len && !bad; at += len / 101 + 1) {
		int in = copy_stream(fd, len, at);

		bad |= load_into(in, pp, 2, 0, "a flipped byte");
		close(in);
	}
	close(fd);
	return bad;
}

/*
 * Under RLIMIT_NPROC (as uid nobody, for root is exempt), limits from 1 up
 * until a save succeeds: every group save and load returns within a second,
 * a failed save leaves every source RUNNING, a failed load every
 * destination in STOP, and at least one limit gives -EAGAIN.
 */
static int thread_limit(void)
{
	const char *src[] = { "mock:a,size=256K", "mock:b,size=256K", "mock:c,size=256K" };
	const char *dst[] = { "mock:x,size=256K,state=stop", "mock:y,size=256K,state=stop",
			      "mock:z,size=256K,state=stop" };
	struct vfiomig_ctx *ctx;
	struct vfiomig_group *gs, *gd;
	int stream = saved_group(src, 3), eagain = 0, bad = 0;

	if (getuid() != 0)
		return SKIP;
	if (stream < 0 || ctx_new(&ctx) < 0)
		return 1;
	gs = group_of(ctx, src, 3);
	gd = group_of(ctx, dst, 3);
	if (!gs || !gd)
		return 1;
	if (setgid(65534) < 0 || setuid(65534) < 0)
		return SKIP;
	for (rlim_t lim = 1; lim <= 256 && !bad; lim++) {
		struct rlimit rl = { lim, 256 };
		int out = memfd_create("out", MFD_CLOEXEC), rs, rl_;
		double t0;

		if (setrlimit(RLIMIT_NPROC, &rl) < 0)
			return fail("setrlimit: %s", strerror(errno));
		t0 = now_s();
		rs = vfiomig_group_save(gs, &out, 1, NULL);
		if (now_s() - t0 > 1.0)
			bad = fail("limit %lu: the save took %.2f s", (unsigned long)lim, now_s() - t0);
		if (rs < 0)
			bad |= members_in(gs, VFIOMIG_STATE_RUNNING, "after a failed save");
		eagain |= rs == -EAGAIN;
		lseek(stream, 0, SEEK_SET);
		t0 = now_s();
		rl_ = vfiomig_group_load(gd, &stream, 1, &(struct vfiomig_load_opts){
			.sz = sizeof(struct vfiomig_load_opts), .leave = VFIOMIG_LEAVE_STOP });
		if (now_s() - t0 > 1.0)
			bad = fail("limit %lu: the load took %.2f s", (unsigned long)lim, now_s() - t0);
		bad |= members_in(gd, VFIOMIG_STATE_STOP, "after a load");
		eagain |= rl_ == -EAGAIN;
		close(out);
		if (rs == 0 && rl_ == 0) {
			printf("# the first limit that both calls passed: %lu\n", (unsigned long)lim);
			break;
		}
		if (rs == 0) {
			bad |= members_in(gs, VFIOMIG_STATE_STOP, "after a save");
			bad |= vfiomig_group_set_state(gs, VFIOMIG_STATE_RUNNING, NULL) < 0;
		}
	}
	if (!eagain)
		bad = fail("no limit gave -EAGAIN");
	vfiomig_group_unref(gs);
	vfiomig_group_unref(gd);
	vfiomig_ctx_unref(ctx);
	close(stream);
	return bad;
}

/* A write refused, then the stop after the discarding reset refused too. */
static int two_faults(void)
{
	const char *src[] = { "mock:a,size=1M", "mock:b,size=1M" };
	const char *dst[] = { "mock:c,size=1M,state=stop,fail=write:2:EIO,fail=set:2:EIO",
			      "mock:d,size=1M,state=stop,fail=write:2:EIO,fail=get:8:EIO" };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	enum vfiomig_state st;
	int fd = saved_group(src, 2), bad = 0, single = memfd_create("one", MFD_CLOEXEC);

	if (fd < 0 || single < 0 || ctx_new(&ctx) < 0)
		return 1;
	bad |= load_into(fd, dst, 2, 0, "a group with two faults per member");
	if (vfiomig_dev_open(ctx, "mock:a,size=1M", &dev) < 0 ||
	    vfiomig_dev_save(dev, single, NULL) < 0)
		return fail("save: %s", vfiomig_ctx_get_error(ctx));
	vfiomig_dev_unref(dev);
	lseek(single, 0, SEEK_SET);
	if (vfiomig_dev_open(ctx, dst[0], &dev) < 0)
		return 1;
	if (vfiomig_dev_load(dev, single, NULL) == 0)
		bad = fail("a load with two faults succeeded");
	if (vfiomig_dev_get_state(dev, &st) < 0 || st == VFIOMIG_STATE_RUNNING)
		bad = fail("after two faults the destination is in %s", vfiomig_state_name(st));
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
	close(single);
	close(fd);
	return bad;
}

struct caller {
	struct vfiomig_dev *dev;
	int failed;
};

static void *call_twice(void *arg)
{
	struct caller *c = arg;
	enum vfiomig_state st;

	/* one call that fails (an error to keep), one that succeeds */
	if (vfiomig_dev_set_state(c->dev, VFIOMIG_STATE_ERROR, NULL) != -EINVAL ||
	    vfiomig_dev_get_state(c->dev, &st) < 0)
		c->failed = 1;
	return NULL;
}

/* 20,000 short-lived threads, 50 at a time, call into one ctx: the heap stays flat. */
static int many_threads(void)
{
	struct vfiomig_ctx *ctx;
	struct caller c[50];
	pthread_t t[50];
	size_t before = 0, after;
	int bad = 0;

	if (ctx_new(&ctx) < 0)
		return 1;
	for (int i = 0; i < 50; i++) {
		c[i].failed = 0;
		if (vfiomig_dev_open(ctx, "mock:t,size=4K", &c[i].dev) < 0)
			return 1;
	}
	for (int round = 0; round < 400; round++) {
		if (round == 2)
			before = mallinfo2().uordblks;
		for (int i = 0; i < 50; i++)
			if (pthread_create(&t[i], NULL, call_twice, &c[i]))
				return fail("pthread_create");
		for (int i = 0; i < 50; i++) {
			pthread_join(t[i], NULL);
			bad |= c[i].failed;
		}
	}
	after = mallinfo2().uordblks;
	printf("# heap in use: %zu bytes before, %zu after 20,000 threads\n", before, after);
	if (after > before + (1 << 20))
		bad = fail("the heap grew by %zu bytes", after - before);
	for (int i = 0; i < 50; i++)
		vfiomig_dev_unref(c[i].dev);
	vfiomig_ctx_unref(ctx);
	return bad;
}

struct nest {
	struct vfiomig_dev *dev;
	struct vfiomig_ctx *ctx;
	int calls, refused, other;
};

static void drive_from_callback(void *data, const struct vfiomig_progress *p)
{
	struct nest *n = data;
	int r = vfiomig_dev_set_state(n->dev, VFIOMIG_STATE_RUNNING, NULL);

	(void)p;
	n->calls++;
	if (r == -EDEADLK)
		n->refused++;
	else
		n->other = r;
}

/* A progress callback that moves its own device is refused; the save goes on. */
static int reentry(void)
{
	struct nest n = { 0 };
	struct vfiomig_save_opts so = { .sz = sizeof(so), .progress = drive_from_callback,
					.userdata = &n, .leave = VFIOMIG_LEAVE_RUNNING };
	int out = memfd_create("out", MFD_CLOEXEC), bad = 0;

	if (out < 0 || ctx_new(&n.ctx) < 0 ||
	    vfiomig_dev_open(n.ctx, "mock:r,size=1M,rate=16M", &n.dev) < 0)
		return 1;
	if (vfiomig_dev_save(n.dev, out, &so) < 0)
		bad = fail("the save failed: %s", vfiomig_ctx_get_error(n.ctx));
	if (!n.calls || n.refused != n.calls)
		bad = fail("%d callbacks, %d refused with -EDEADLK, another answer %d",
			   n.calls, n.refused, n.other);
	if (vfiomig_ctx_get_error(n.ctx))
		bad = fail("the save succeeded, yet the thread's error is \"%s\"",
			   vfiomig_ctx_get_error(n.ctx));
	bad |= vfiomig_dev_get_state(n.dev, &(enum vfiomig_state){ 0 }) < 0;
	vfiomig_dev_unref(n.dev);
	vfiomig_ctx_unref(n.ctx);
	close(out);
	return bad;
}

struct feeder {
	int fd, stream;
	off_t bytes;
};

/* Writes the first @bytes of the stream into a pipe, then holds it open. */
static void *feed(void *arg)
{
	struct feeder *f = arg;
	char buf[65536];
	off_t done = 0;

	lseek(f->stream, 0, SEEK_SET);
	while (done < f->bytes) {
		ssize_t n = read(f->stream, buf, sizeof(buf) < (size_t)(f->bytes - done) ?
				 sizeof(buf) : (size_t)(f->bytes - done));

		if (n <= 0 || write(f->fd, buf, (size_t)n) != n)
			break;
		done += n;
	}
	return NULL;
}

struct raiser {
	struct vfiomig_cancel *c;
	double at;
};

static void *raise_later(void *arg)
{
	struct raiser *r = arg;

	usleep(200000);
	r->at = now_s();
	vfiomig_cancel_raise(r->c);
	return NULL;
}

/* A group load that waits for a stream that stops coming, cancelled. */
static int cancelled_load(void)
{
	const char *src[] = { "mock:a,size=1M", "mock:b,size=1M" };
	const char *dst[] = { "mock:c,size=1M,state=stop", "mock:d,size=1M,state=stop" };
	struct vfiomig_ctx *ctx;
	struct vfiomig_group *g;
	struct vfiomig_load_opts lo = { .sz = sizeof(lo) };
	struct raiser rs = { 0 };
	struct feeder f;
	pthread_t tf, tr;
	int p[2], bad = 0, r;
	double end;

	f.stream = saved_group(src, 2);
	if (f.stream < 0 || pipe(p) < 0 || ctx_new(&ctx) < 0 ||
	    vfiomig_cancel_new(&rs.c) < 0 || !(g = group_of(ctx, dst, 2)))
		return 1;
	f.fd = p[1];
	f.bytes = lseek(f.stream, 0, SEEK_END) / 2;
	lo.cancel = rs.c;
	pthread_create(&tf, NULL, feed, &f);
	pthread_create(&tr, NULL, raise_later, &rs);
	r = vfiomig_group_load(g, &p[0], 1, &lo);
	end = now_s();
	pthread_join(tr, NULL);
	if (r != -ECANCELED)
		bad = fail("the load returned %d, not -ECANCELED: %s", r, vfiomig_ctx_get_error(ctx));
	if (end - rs.at > 1.0)
		bad = fail("the load ended %.2f s after the cancel", end - rs.at);
	bad |= members_in(g, VFIOMIG_STATE_STOP, "after a cancelled load");
	close(p[0]);
	pthread_join(tf, NULL);
	close(p[1]);
	close(f.stream);
	vfiomig_cancel_unref(rs.c);
	vfiomig_group_unref(g);
	vfiomig_ctx_unref(ctx);
	return bad;
}

struct saver {
	struct vfiomig_dev *dev;
	int out, r;
};

static void *slow_save(void *arg)
{
	struct saver *s = arg;
	struct vfiomig_save_opts so = { .sz = sizeof(so), .leave = VFIOMIG_LEAVE_RUNNING };

	s->r = vfiomig_dev_save(s->dev, s->out, &so);
	return NULL;
}

/* vfiomig_dirty_free() while another thread saves the device: it waits, and tracking can start again. */
static int dirty_free_busy(void)
{
	struct vfiomig_iova_range range = { 0, 1 << 20 };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dirty *d;
	struct saver s;
	pthread_t t;
	int bad = 0;

	s.out = memfd_create("out", MFD_CLOEXEC);
	if (s.out < 0 || ctx_new(&ctx) < 0 ||
	    vfiomig_dev_open(ctx, "mock:m,size=1M,rate=4M,dirtylog=1", &s.dev) < 0 ||
	    vfiomig_dirty_start(s.dev, &range, 1, NULL, &d) < 0)
		return fail("setup: %s", vfiomig_ctx_get_error(ctx));
	pthread_create(&t, NULL, slow_save, &s);
	usleep(50000);
	vfiomig_dirty_free(d);
	pthread_join(t, NULL);
	if (s.r < 0)
		bad = fail("the save failed: %s", vfiomig_ctx_get_error(ctx));
	if (vfiomig_dirty_start(s.dev, &range, 1, NULL, &d) < 0)
		bad = fail("tracking cannot start again: %s", vfiomig_ctx_get_error(ctx));
	else
		vfiomig_dirty_free(d);
	vfiomig_dev_unref(s.dev);
	vfiomig_ctx_unref(ctx);
	close(s.out);
	return bad;
}

static const struct {
	const char *name;
	int (*fn)(void);
	unsigned int seconds;
} cases[] = {
	{ "a stream of [P,P] into [Q,P], truncated and flipped streams", hostile_streams, 60 },
	{ "group save and load under RLIMIT_NPROC", thread_limit, 60 },
	{ "two faults on every destination", two_faults, 20 },
	{ "20,000 short-lived threads", many_threads, 60 },
	{ "a progress callback that moves its device", reentry, 20 },
	{ "a group load cancelled while it waits", cancelled_load, 20 },
	{ "vfiomig_dirty_free() while a save runs", dirty_free_busy, 20 },
};

int main(void)
{
	int n = (int)(sizeof(cases) / sizeof(cases[0])), failed = 0;

	printf("1..%d\n", n);
	fflush(stdout);
	for (int i = 0; i < n; i++) {
		int status;
		pid_t pid = fork();

		if (pid == 0) {
			int fds = count_fds(), r;

			alarm(cases[i].seconds);
			r = cases[i].fn();
			if (r == 0 && count_fds() != fds)
				r = fail("%d fds open before, %d after", fds, count_fds());
			fflush(stdout);
			_exit(r);
		}
		if (pid < 0 || waitpid(pid, &status, 0) < 0)
			return 1;
		if (WIFEXITED(status) && WEXITSTATUS(status) == SKIP)
			printf("ok %d - %s # SKIP not root\n", i + 1, cases[i].name);
		else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			printf("ok %d - %s\n", i + 1, cases[i].name);
		else {
			failed = 1;
			printf("not ok %d - %s (%s %d)\n", i + 1, cases[i].name,
			       WIFSIGNALED(status) ? "signal" : "exit status",
			       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		}
		fflush(stdout);
	}
	return failed;
}
