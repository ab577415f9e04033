// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The mock's state machine against the reference's section 3.2 tables:
 * every path, arc by arc, and what a failed arc leaves; and arc=, the time
 * each arc takes.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "test-mock.h"

/* ---- state machine against the reference's section 3.2 tables ---- */

#define F_SC VFIOMIG_MIG_STOP_COPY
#define F_P2P (VFIOMIG_MIG_STOP_COPY | VFIOMIG_MIG_P2P)
#define F_PC (VFIOMIG_MIG_STOP_COPY | VFIOMIG_MIG_PRE_COPY)
#define F_ALL (VFIOMIG_MIG_STOP_COPY | VFIOMIG_MIG_P2P | VFIOMIG_MIG_PRE_COPY)

/* Paths as the reference writes them; "EINVAL" where refused. */
static const struct row {
	uint32_t flags;
	const char *from, *to, *path;
} rows[] = {
	/* STOP_COPY only */
	{ F_SC, "R", "S", "S" }, { F_SC, "R", "SC", "S>SC" },
	{ F_SC, "R", "RES", "S>RES" }, { F_SC, "S", "R", "R" },
	{ F_SC, "S", "SC", "SC" }, { F_SC, "S", "RES", "RES" },
	{ F_SC, "SC", "R", "S>R" }, { F_SC, "SC", "S", "S" },
	{ F_SC, "SC", "RES", "S>RES" }, { F_SC, "RES", "R", "S>R" },
	{ F_SC, "RES", "S", "S" }, { F_SC, "RES", "SC", "S>SC" },
	{ F_SC, "R", "RP", "EINVAL" }, { F_SC, "S", "PC", "EINVAL" },
	{ F_SC, "R", "PCP", "EINVAL" },
	/* STOP_COPY | P2P */
	{ F_P2P, "R", "RP", "RP" }, { F_P2P, "R", "S", "RP>S" },
	{ F_P2P, "R", "SC", "RP>S>SC" }, { F_P2P, "R", "RES", "RP>S>RES" },
	{ F_P2P, "RP", "R", "R" }, { F_P2P, "RP", "S", "S" },
	{ F_P2P, "RP", "SC", "S>SC" }, { F_P2P, "RP", "RES", "S>RES" },
	{ F_P2P, "S", "R", "RP>R" }, { F_P2P, "S", "RP", "RP" },
	{ F_P2P, "S", "SC", "SC" }, { F_P2P, "S", "RES", "RES" },
	{ F_P2P, "SC", "R", "S>RP>R" }, { F_P2P, "SC", "RP", "S>RP" },
	{ F_P2P, "SC", "S", "S" }, { F_P2P, "SC", "RES", "S>RES" },
	{ F_P2P, "RES", "R", "S>RP>R" }, { F_P2P, "RES", "RP", "S>RP" },
	{ F_P2P, "RES", "S", "S" }, { F_P2P, "RES", "SC", "S>SC" },
	{ F_P2P, "R", "PC", "EINVAL" }, { F_P2P, "RP", "PCP", "EINVAL" },
	/* STOP_COPY | PRE_COPY (hisi_acc) */
	{ F_PC, "R", "S", "S" }, { F_PC, "R", "SC", "S>SC" },
	{ F_PC, "R", "RES", "S>RES" }, { F_PC, "R", "PC", "PC" },
	{ F_PC, "S", "R", "R" }, { F_PC, "S", "SC", "SC" },
	{ F_PC, "S", "RES", "RES" }, { F_PC, "S", "PC", "R>PC" },
	{ F_PC, "SC", "R", "S>R" }, { F_PC, "SC", "S", "S" },
	{ F_PC, "SC", "RES", "S>RES" }, { F_PC, "SC", "PC", "EINVAL" },
	{ F_PC, "RES", "R", "S>R" }, { F_PC, "RES", "S", "S" },
	{ F_PC, "RES", "SC", "S>SC" }, { F_PC, "RES", "PC", "S>R>PC" },
	{ F_PC, "PC", "R", "R" }, { F_PC, "PC", "S", "R>S" },
	{ F_PC, "PC", "SC", "SC" }, { F_PC, "PC", "RES", "R>S>RES" },
	{ F_PC, "R", "RP", "EINVAL" }, { F_PC, "PC", "PCP", "EINVAL" },
	/* STOP_COPY | P2P | PRE_COPY */
	{ F_ALL, "R", "RP", "RP" }, { F_ALL, "R", "S", "RP>S" },
	{ F_ALL, "R", "SC", "RP>S>SC" }, { F_ALL, "R", "RES", "RP>S>RES" },
	{ F_ALL, "R", "PC", "PC" }, { F_ALL, "R", "PCP", "RP>PCP" },
	{ F_ALL, "RP", "R", "R" }, { F_ALL, "RP", "S", "S" },
	{ F_ALL, "RP", "SC", "S>SC" }, { F_ALL, "RP", "RES", "S>RES" },
	{ F_ALL, "RP", "PC", "R>PC" }, { F_ALL, "RP", "PCP", "PCP" },
	{ F_ALL, "S", "R", "RP>R" }, { F_ALL, "S", "RP", "RP" },
	{ F_ALL, "S", "SC", "SC" }, { F_ALL, "S", "RES", "RES" },
	{ F_ALL, "S", "PC", "RP>R>PC" }, { F_ALL, "S", "PCP", "RP>PCP" },
	{ F_ALL, "SC", "R", "S>RP>R" }, { F_ALL, "SC", "RP", "S>RP" },
	{ F_ALL, "SC", "S", "S" }, { F_ALL, "SC", "RES", "S>RES" },
	{ F_ALL, "SC", "PC", "EINVAL" }, { F_ALL, "SC", "PCP", "EINVAL" },
	{ F_ALL, "RES", "R", "S>RP>R" }, { F_ALL, "RES", "RP", "S>RP" },
	{ F_ALL, "RES", "S", "S" }, { F_ALL, "RES", "SC", "S>SC" },
	{ F_ALL, "RES", "PC", "S>RP>R>PC" }, { F_ALL, "RES", "PCP", "S>RP>PCP" },
	{ F_ALL, "PC", "R", "R" }, { F_ALL, "PC", "RP", "R>RP" },
	{ F_ALL, "PC", "S", "R>RP>S" }, { F_ALL, "PC", "SC", "PCP>SC" },
	{ F_ALL, "PC", "RES", "R>RP>S>RES" }, { F_ALL, "PC", "PCP", "PCP" },
	{ F_ALL, "PCP", "R", "RP>R" }, { F_ALL, "PCP", "RP", "RP" },
	{ F_ALL, "PCP", "S", "RP>S" }, { F_ALL, "PCP", "SC", "SC" },
	{ F_ALL, "PCP", "RES", "RP>S>RES" }, { F_ALL, "PCP", "PC", "PC" },
	/* same state: a no-op */
	{ F_ALL, "R", "R", "" }, { F_ALL, "SC", "SC", "" },
	{ F_ALL, "RES", "RES", "" }, { F_ALL, "PCP", "PCP", "" },
	{ F_SC, "S", "S", "" },
};

static enum vfiomig_state abbrev(const char *s)
{
	static const struct { const char *a; enum vfiomig_state s; } t[] = {
		{ "R", S(RUNNING) }, { "RP", S(RUNNING_P2P) }, { "S", S(STOP) },
		{ "SC", S(STOP_COPY) }, { "RES", S(RESUMING) },
		{ "PC", S(PRE_COPY) }, { "PCP", S(PRE_COPY_P2P) },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		if (!strcmp(s, t[i].a))
			return t[i].s;
	ck_abort_msg("bad abbreviation %s", s);
	return S(ERROR);
}

static int parse_path(const char *p, enum vfiomig_state *out)
{
	char buf[64], *save = NULL;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", p);
	for (char *t = strtok_r(buf, ">", &save); t; t = strtok_r(NULL, ">", &save))
		out[n++] = abbrev(t);
	return n;
}

static const char *flags_spec(uint32_t f)
{
	switch (f) {
	case F_SC: return "stop_copy";
	case F_P2P: return "stop_copy+p2p";
	case F_PC: return "stop_copy+pre_copy";
	default: return "stop_copy+p2p+pre_copy";
	}
}

static bool opens_fd(enum vfiomig_state a, enum vfiomig_state b)
{
	return (a == S(STOP) && b == S(STOP_COPY)) ||
	       (a == S(RUNNING) && b == S(PRE_COPY)) ||
	       (a == S(RUNNING_P2P) && b == S(PRE_COPY_P2P)) ||
	       (a == S(STOP) && b == S(RESUMING));
}

/* SETs reach() makes. */
static int reach_sets(enum vfiomig_state from)
{
	return from == S(RUNNING) ? 0 : from == S(RESUMING) ? 3 : 1;
}

/*
 * Put a fresh mock in @from.  RESUMING gets the device's own stream
 * written, so that RESUMING -> STOP validates (the mock checks the data
 * there, like mtty).
 */
static void reach(struct vfiomig_dev *dev, enum vfiomig_state from)
{
	struct blob b = { 0 };
	int fd;

	if (from == S(RUNNING))
		return;
	if (from == S(RESUMING)) {
		ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), 0);
		ck_assert_int_eq(drain(dev, fd, &b, 65536), 0);
		close(fd);
		ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	}
	ck_assert_int_eq(set_state(dev, from, &fd), 0);
	ck_assert_int_eq(get_state(dev), from);
	if (b.len) {
		ck_assert_int_eq(dev->transport->data_write(dev, fd, b.p, b.len), b.len);
		free(b.p);
	}
	if (fd >= 0)
		close(fd);
}

START_TEST(test_paths)
{
	const struct row *row = &rows[_i];
	enum vfiomig_state from = abbrev(row->from), to = abbrev(row->to);
	enum vfiomig_state path[8];
	bool refused = !strcmp(row->path, "EINVAL");
	int n = refused ? 0 : parse_path(row->path, path);
	struct arcs a = { .n = 0 };
	struct vfiomig_ctx *ctx = new_ctx(&a);
	struct vfiomig_dev *dev;
	char spec[160];
	int fd, r, fds = count_fds();

	/* 1. the whole request: result, arcs walked, final state, fd */
	snprintf(spec, sizeof(spec), "p,flags=%s", flags_spec(row->flags));
	dev = mock_open(ctx, spec);
	reach(dev, from);
	a.n = 0;
	r = set_state(dev, to, &fd);
	if (refused) {
		ck_assert_int_eq(r, -EINVAL);
		ck_assert_int_eq(fd, -1);
		ck_assert_int_eq(a.n, 0);
		ck_assert_int_eq(get_state(dev), from);
	} else {
		ck_assert_msg(r == 0, "%s -> %s: %d", row->from, row->to, r);
		ck_assert_int_eq(a.n, n);
		for (int i = 0; i < n; i++) {
			ck_assert_int_eq(a.from[i], i ? path[i - 1] : from);
			ck_assert_int_eq(a.to[i], path[i]);
		}
		ck_assert_int_eq(get_state(dev), to);
		if (n && opens_fd(n > 1 ? path[n - 2] : from, to)) {
			int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);

			ck_assert_int_ge(fd, 0);
			ck_assert_int_eq(fl & O_ACCMODE,
					 to == S(RESUMING) ? O_WRONLY : O_RDONLY);
			ck_assert(fdfl & FD_CLOEXEC);
			ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), -1);
			ck_assert_int_eq(errno, ESPIPE);
			close(fd);
		} else {
			ck_assert_int_eq(fd, -1);
		}
	}
	vfiomig_dev_unref(dev);

	/* 2. failing on the last arc strands the device on the path */
	snprintf(spec, sizeof(spec), "q,flags=%s,fail=set:%d:EIO:mid",
		 flags_spec(row->flags), reach_sets(from) + 1);
	dev = mock_open(ctx, spec);
	reach(dev, from);
	r = set_state(dev, to, &fd);
	ck_assert_int_eq(r, -EIO);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_eq(get_state(dev), n > 1 ? path[n - 2] : from);
	vfiomig_dev_unref(dev);

	/* 3. LEAVE=error: ERROR, and only a reset leaves it */
	snprintf(spec, sizeof(spec), "e,flags=%s,fail=set:%d:EIO:error",
		 flags_spec(row->flags), reach_sets(from) + 1);
	dev = mock_open(ctx, spec);
	reach(dev, from);
	ck_assert_int_eq(set_state(dev, to, &fd), -EIO);
	ck_assert_int_eq(get_state(dev), S(ERROR));
	ck_assert_int_eq(set_nofd(dev, from), -EINVAL);
	ck_assert_int_eq(get_state(dev), S(ERROR));
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_int_eq(get_state(dev), S(RUNNING));
	vfiomig_dev_unref(dev);

	vfiomig_ctx_unref(ctx);
	ck_assert_int_eq(count_fds(), fds);
}
END_TEST

START_TEST(test_bad_targets)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "t");
	const uint32_t bad[] = { S(ERROR), 8, 100, 0xffffffffu };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_int_eq(set_nofd(dev, bad[i]), -EINVAL);
		ck_assert_int_eq(get_state(dev), S(RUNNING));
	}
	/* From ERROR, every SET to another state is EINVAL.  Like the
	 * drivers' "while (cur != target)" loop, ERROR -> ERROR is a no-op. */
	vfiomig_dev_unref(dev);
	dev = mock_open(ctx, "t,state=ERROR");
	ck_assert_int_eq(get_state(dev), S(ERROR));
	for (uint32_t s = S(STOP); s < VFIOMIG_STATE_COUNT; s++) {
		ck_assert_int_eq(set_nofd(dev, s), -EINVAL);
		ck_assert_int_eq(get_state(dev), S(ERROR));
	}
	ck_assert_int_eq(set_nofd(dev, S(ERROR)), 0);
	ck_assert_int_eq(get_state(dev), S(ERROR));
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_initial_states)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev;

	dev = mock_open(ctx, "i,state=stop");
	ck_assert_int_eq(get_state(dev), S(STOP));
	vfiomig_dev_unref(dev);
	dev = mock_open(ctx, "i,state=running-p2p");
	ck_assert_int_eq(get_state(dev), S(RUNNING_P2P));
	vfiomig_dev_unref(dev);
	dev = mock_open(ctx, "i,state=RUNNING,flags=stop_copy");
	ck_assert_int_eq(get_state(dev), S(RUNNING));
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST
/* ---- arc=: the time each arc takes ---- */

#define MS 1000000ull
/* What a SET may take beyond its arcs: thread start-up, a loaded machine. */
#define SLACK (100 * MS)

/* A SET to @target and how long it took. */
static int timed_set(struct vfiomig_dev *dev, uint32_t target, int *fd, uint64_t *ret_ns)
{
	uint64_t t = now_ns();
	int r = set_state(dev, target, fd);

	*ret_ns = now_ns() - t;
	return r;
}

START_TEST(test_arc_latency)
{
	struct arcs a = { .n = 0 };
	struct vfiomig_ctx *ctx = new_ctx(&a);
	struct vfiomig_dev *dev = mock_open(ctx, "al,arc=20ms");
	uint64_t ns;
	int fd;

	/* RUNNING -> STOP_COPY is RUNNING_P2P, STOP, STOP_COPY: 3 arcs */
	ck_assert_int_eq(timed_set(dev, S(STOP_COPY), &fd, &ns), 0);
	ck_assert_int_eq(a.n, 3);
	ck_assert_uint_ge(ns, 60 * MS);
	ck_assert_uint_lt(ns, 60 * MS + SLACK);
	ck_assert_int_ge(fd, 0);
	close(fd);
	/* one arc */
	ck_assert_int_eq(timed_set(dev, S(STOP), &fd, &ns), 0);
	ck_assert_uint_ge(ns, 20 * MS);
	ck_assert_uint_lt(ns, 20 * MS + SLACK);
	/* no arc: SET to the current state */
	ck_assert_int_eq(timed_set(dev, S(STOP), &fd, &ns), 0);
	ck_assert_uint_lt(ns, 20 * MS);
	vfiomig_dev_unref(dev);

	dev = mock_open(ctx, "al,arc=500us");
	ck_assert_int_eq(timed_set(dev, S(STOP_COPY), &fd, &ns), 0);
	ck_assert_uint_ge(ns, 1500 * 1000);
	ck_assert_uint_lt(ns, 1500 * 1000 + SLACK);
	close(fd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* Injected failures leave the device where they did, and cost only the arcs
 * the device performed; an arc that fails by itself took its time. */
START_TEST(test_arc_latency_failed)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev;
	uint64_t ns;
	int fd;

	dev = mock_open(ctx, "af,arc=20ms,fail=set:1:EIO:mid");
	ck_assert_int_eq(timed_set(dev, S(STOP_COPY), &fd, &ns), -EIO);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_eq(get_state(dev), S(STOP));
	ck_assert_uint_ge(ns, 40 * MS);
	ck_assert_uint_lt(ns, 40 * MS + SLACK);
	vfiomig_dev_unref(dev);

	dev = mock_open(ctx, "af,arc=20ms,fail=set:1:EIO");
	ck_assert_int_eq(timed_set(dev, S(STOP_COPY), &fd, &ns), -EIO);
	ck_assert_int_eq(get_state(dev), S(RUNNING));
	ck_assert_uint_lt(ns, 20 * MS);
	vfiomig_dev_unref(dev);

	dev = mock_open(ctx, "af,arc=20ms,fail=set:1:EIO:error");
	ck_assert_int_eq(timed_set(dev, S(STOP_COPY), &fd, &ns), -EIO);
	ck_assert_int_eq(get_state(dev), S(ERROR));
	ck_assert_uint_lt(ns, 20 * MS);
	vfiomig_dev_unref(dev);

	/* RESUMING -> STOP refuses a stream of junk, after its arc's time */
	dev = mock_open(ctx, "af,arc=20ms,state=STOP");
	ck_assert_int_eq(timed_set(dev, S(RESUMING), &fd, &ns), 0);
	ck_assert_uint_ge(ns, 20 * MS);
	ck_assert_int_eq(write(fd, "junk", 4), 4);
	ck_assert_int_eq(timed_set(dev, S(STOP), &fd, &ns), -EINVAL);
	ck_assert_uint_ge(ns, 20 * MS);
	ck_assert_uint_lt(ns, 20 * MS + SLACK);
	ck_assert_int_eq(get_state(dev), S(RESUMING));
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_arc_latency_none)
{
	static const char *const specs[] = { "an", "an,arc=0", "an,arc=0ms" };
	struct vfiomig_ctx *ctx = new_ctx(NULL);

	for (size_t i = 0; i < ARRAY_SIZE(specs); i++) {
		struct vfiomig_dev *dev = mock_open(ctx, specs[i]);
		struct vfiomig_mock *m = dev->priv;
		uint64_t ns;
		int fd;

		ck_assert_uint_eq(m->spec.arc_ns, 0);
		ck_assert_int_eq(timed_set(dev, S(STOP_COPY), &fd, &ns), 0);
		ck_assert_uint_lt(ns, 20 * MS);
		close(fd);
		vfiomig_dev_unref(dev);
	}
	vfiomig_ctx_unref(ctx);
}
END_TEST

struct arc_setter {
	struct vfiomig_dev *dev;
	int result;
	atomic_uint_fast64_t end;
};

static void *arc_setter_main(void *arg)
{
	struct arc_setter *t = arg;

	t->result = set_nofd(t->dev, S(PRE_COPY_P2P));
	atomic_store(&t->end, now_ns());
	return NULL;
}

static uint64_t set_calls(struct vfiomig_mock *m)
{
	uint64_t n;

	mock_lock(m);
	n = m->calls[MOCK_K_SET];
	mock_unlock(m);
	return n;
}

/* An arc holds the state mutex only: the data fd is read meanwhile. */
START_TEST(test_arc_latency_io)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "ai,size=8M,arc=300ms");
	struct arc_setter t = { .dev = dev };
	struct blob b = { 0 };
	pthread_t thread;
	int fd;

	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(pthread_create(&thread, NULL, arc_setter_main, &t), 0);
	/* The setter's SET is counted just before its arc begins. */
	while (set_calls(dev->priv) < 2)
		usleep(100);
	ck_assert_int_eq(drain(dev, fd, &b, 1 << 16), -ENOMSG);
	ck_assert_uint_eq(b.len, MOCK_HDR_SIZE + 128 * (MOCK_SEG_SIZE + PAGE));
	ck_assert_uint_eq(atomic_load(&t.end), 0);	/* read while the arc ran */
	ck_assert_int_eq(pthread_join(thread, NULL), 0);
	ck_assert_int_eq(t.result, 0);
	ck_assert_int_eq(get_state(dev), S(PRE_COPY_P2P));
	close(fd);
	free(b.p);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_arc_spec)
{
	static const struct { const char *spec; uint64_t ns; } good[] = {
		{ "s,arc=500us", 500000 }, { "s,arc=20ms", 20 * MS },
		{ "s,arc=1s", 1000 * MS }, { "s,arc=60s", 60000 * MS },
		{ "s,arc=5MS", 5 * MS },
	};
	static const char *const bad[] = {
		"s,arc=5", "s,arc=x", "s,arc=5m", "s,arc=-1ms", "s,arc=61s",
		"s,arc=ms", "s,arc=1.5ms", "s,arc=18446744073709551615s",
		"s,arc=5ms,arc=6ms",
	};
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		dev = mock_open(ctx, good[i].spec);
		ck_assert_uint_eq(((struct vfiomig_mock *)dev->priv)->spec.arc_ns, good[i].ns);
		vfiomig_dev_unref(dev);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_msg(vfiomig_mock_open(ctx, bad[i], &dev) == -EINVAL, "%s", bad[i]);
		ck_assert_msg(strstr(vfiomig_ctx_get_error(ctx), "mock spec: ") &&
			      strstr(vfiomig_ctx_get_error(ctx), "arc"), "'%s': %s", bad[i],
			      vfiomig_ctx_get_error(ctx));
	}
	vfiomig_ctx_unref(ctx);
}
END_TEST

static Suite *fsm_suite(void)
{
	Suite *s = suite_create("mock-fsm");
	TCase *tc;

	tc = tcase_create("paths");
	tcase_add_loop_test(tc, test_paths, 0, ARRAY_SIZE(rows));
	tcase_add_test(tc, test_bad_targets);
	tcase_add_test(tc, test_initial_states);
	suite_add_tcase(s, tc);

	tc = tcase_create("latency");
	tcase_add_test(tc, test_arc_latency);
	tcase_add_test(tc, test_arc_latency_failed);
	tcase_add_test(tc, test_arc_latency_none);
	tcase_add_test(tc, test_arc_latency_io);
	tcase_add_test(tc, test_arc_spec);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(fsm_suite());
}
