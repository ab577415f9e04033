/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Every pair of faults.  The swept mock's requests (ioctls, data reads and
 * writes) are its steps; "fail=any:A:EIO,fail=any:B:EIO" fails steps A and
 * B.  A takes every step of a save or load in turn, and B every step after
 * A of the run that A's failure leads to (a rollback has steps of its
 * own), until B is past that run's end.  After each run:
 *   - a source whose save failed is back in the state it started in;
 *   - a destination whose load failed is untouched if nothing reached it,
 *     and otherwise not RUNNING: it never runs with part of a state;
 *   - a failure that leaves every device where it started advises nothing
 *     (no reset of a device that may run a guest);
 *   - no fd leaks.
 * The same for one device, and for each member of a group of three.  The
 * states are read from the mock itself, so reading them takes no step.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test-xfer.h"
#include "dev.h"
#include "util.h"
#include "mock.h"

#define S(x) VFIOMIG_STATE_##x
#define MEMBERS 3
#define MAX_STEPS 400

struct run {
	struct vfiomig_ctx *ctx;
	struct vfiomig_group *g;	/* a group's run: NULL for one device */
	struct vfiomig_dev *dev[MEMBERS];
	unsigned int n;
	enum vfiomig_state start[MEMBERS];
};

/* A scenario: who saves or loads what, and which device is swept. */
struct scenario {
	const char *name;
	bool group, load;
	const char *keys;		/* every device's */
	enum vfiomig_precopy_mode precopy;
	unsigned int victim;		/* which member is swept */
	const char *dst_keys;		/* a destination's besides; NULL: ",state=stop" */
};

static const struct scenario scenarios[] = {
	{ "save, pre-copy auto", false, false, ",size=64K,dirty=16K", VFIOMIG_PRECOPY_MODE_AUTO, 0 },
	{ "save from STOP", false, false, ",size=64K,state=stop", VFIOMIG_PRECOPY_MODE_NEVER, 0 },
	{ "save, stop-copy only", false, false, ",size=64K,flags=stop_copy",
	  VFIOMIG_PRECOPY_MODE_NEVER, 0 },
	{ "load into STOP", false, true, ",size=64K,dirty=16K", VFIOMIG_PRECOPY_MODE_ROUNDS, 0 },
	{ "load into RUNNING", false, true, ",size=64K", VFIOMIG_PRECOPY_MODE_NEVER, 0, "" },
	{ "load, mlx5 records", false, true, ",size=64K,dirty=16K,personality=mlx5",
	  VFIOMIG_PRECOPY_MODE_ROUNDS, 0 },
	{ "group save, member 0", true, false, ",size=32K,dirty=8K", VFIOMIG_PRECOPY_MODE_ROUNDS, 0 },
	{ "group save, member 1", true, false, ",size=32K,dirty=8K", VFIOMIG_PRECOPY_MODE_ROUNDS, 1 },
	{ "group save, member 2", true, false, ",size=32K,dirty=8K", VFIOMIG_PRECOPY_MODE_ROUNDS, 2 },
	{ "group load, member 0", true, true, ",size=32K,dirty=8K", VFIOMIG_PRECOPY_MODE_ROUNDS, 0 },
	{ "group load, member 1", true, true, ",size=32K,dirty=8K", VFIOMIG_PRECOPY_MODE_ROUNDS, 1 },
	{ "group load, member 2", true, true, ",size=32K,dirty=8K", VFIOMIG_PRECOPY_MODE_ROUNDS, 2 },
};

static struct vfiomig_mock *mock_of(struct vfiomig_dev *dev)
{
	return dev->priv;
}

/* What the mock is in, and how many requests it took, without a request. */
static enum vfiomig_state mock_state(struct vfiomig_dev *dev)
{
	struct vfiomig_mock *m = mock_of(dev);
	enum vfiomig_state s;

	mock_lock(m);
	s = m->state;
	mock_unlock(m);
	return s;
}

static uint64_t mock_steps(struct vfiomig_dev *dev)
{
	struct vfiomig_mock *m = mock_of(dev);
	uint64_t n;

	mock_lock(m);
	n = m->calls[MOCK_K_ANY];
	mock_unlock(m);
	return n;
}

static void run_open(struct run *u, const struct scenario *w, const char *faults)
{
	unsigned int n = w->group ? MEMBERS : 1;
	const char *state = !w->load ? "" : w->dst_keys ? w->dst_keys : ",state=stop";

	memset(u, 0, sizeof(*u));
	ck_assert_int_eq(test_ctx_new(&u->ctx), 0);
	if (w->group)
		ck_assert_int_eq(vfiomig_group_new(u->ctx, 0, &u->g), 0);
	for (unsigned int i = 0; i < n; i++) {
		u->dev[i] = open_dev(u->ctx, "mock:%c%u%s%s%s", w->load ? 'd' : 's', i, w->keys,
				     state, i == w->victim ? faults : "");
		u->start[i] = mock_state(u->dev[i]);
		if (u->g)
			ck_assert_int_eq(vfiomig_group_add(u->g, u->dev[i]), 0);
		u->n++;
	}
	vfiomig_mock_journal_clear(u->ctx);
}

static void run_free(struct run *u)
{
	vfiomig_group_unref(u->g);
	for (unsigned int i = 0; i < u->n; i++)
		vfiomig_dev_unref(u->dev[i]);
	vfiomig_ctx_unref(u->ctx);
}

/* The stream a load scenario loads, made once by a source without faults. */
static int make_stream(const struct scenario *w)
{
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = w->precopy,
					.precopy_rounds = 2, .buffer_size = 16384 };
	struct scenario src = *w;
	struct run u;
	int fd = memfd_create("stream", MFD_CLOEXEC), r;

	ck_assert_int_ge(fd, 0);
	src.load = false;
	run_open(&u, &src, "");
	r = u.g ? vfiomig_group_save(u.g, &fd, 1, &so) : vfiomig_dev_save(u.dev[0], fd, &so);
	ck_assert_msg(r == 0, "%s", vfiomig_ctx_get_error(u.ctx));
	run_free(&u);
	return fd;
}

/* Whether any member was sent towards RESUMING: it may then hold data. */
static bool resumed(struct run *u)
{
	struct vfiomig_mock_arc j[VFIOMIG_MOCK_JOURNAL_MAX];
	size_t n = vfiomig_mock_journal(u->ctx, j, VFIOMIG_MOCK_JOURNAL_MAX);

	for (size_t i = 0; i < n && i < VFIOMIG_MOCK_JOURNAL_MAX; i++)
		if (j[i].to == S(RESUMING))
			return true;
	return false;
}

/*
 * Every device is where it started: the sentence tells no one to reset or
 * move one (docs/states.md, "What to do"), unless a state could not be
 * read back, which says so.
 */
static void check_advice(struct run *u, const struct scenario *w, const char *faults)
{
	const char *msg = vfiomig_ctx_get_error(u->ctx);

	for (unsigned int i = 0; i < u->n; i++)
		if (mock_state(u->dev[i]) != u->start[i])
			return;
	ck_assert_msg(!msg || strstr(msg, "cannot be read back") ||
		      (!strstr(msg, "reset the device") && !strstr(msg, "move it back")),
		      "%s%s: every device is where it started, yet: %s", w->name, faults, msg);
}

static void check_after(struct run *u, const struct scenario *w, int r, const char *faults)
{
	bool any_data = w->load && resumed(u);

	if (r < 0)
		check_advice(u, w, faults);
	for (unsigned int i = 0; i < u->n; i++) {
		enum vfiomig_state now = mock_state(u->dev[i]);

		if (r == 0)
			ck_assert_msg(now == (w->load ? S(RUNNING) : S(STOP)), "%s%s: succeeded, "
				      "member %u in %s", w->name, faults, i, vfiomig_state_name(now));
		else if (!w->load)
			ck_assert_msg(now == u->start[i], "%s%s: the save failed and left source %u "
				      "in %s, not %s (%s)", w->name, faults, i, vfiomig_state_name(now),
				      vfiomig_state_name(u->start[i]), vfiomig_ctx_get_error(u->ctx));
		else if (any_data)
			ck_assert_msg(now != S(RUNNING), "%s%s: the load failed and left destination "
				      "%u RUNNING (%s)", w->name, faults, i,
				      vfiomig_ctx_get_error(u->ctx));
		else
			ck_assert_msg(now == u->start[i], "%s%s: the load failed before any data and "
				      "moved destination %u to %s", w->name, faults, i,
				      vfiomig_state_name(now));
	}
}

/* One save or load with @faults on the victim; the victim's steps taken. */
static uint64_t run_once(const struct scenario *w, int stream, const char *faults, int *ret_r)
{
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = w->precopy,
					.precopy_rounds = 2, .buffer_size = 16384 };
	int out = -1, r;
	uint64_t steps;
	struct run u;

	run_open(&u, w, faults);
	if (w->load) {
		ck_assert_int_eq(lseek(stream, 0, SEEK_SET), 0);
		r = u.g ? vfiomig_group_load(u.g, &stream, 1, NULL) :
			  vfiomig_dev_load(u.dev[0], stream, NULL);
	} else {
		out = memfd_create("out", MFD_CLOEXEC);
		ck_assert_int_ge(out, 0);
		r = u.g ? vfiomig_group_save(u.g, &out, 1, &so) : vfiomig_dev_save(u.dev[0], out, &so);
		close(out);
	}
	check_after(&u, w, r, faults);
	steps = mock_steps(u.dev[w->victim]);
	run_free(&u);
	*ret_r = r;
	return steps;
}

/*
 * _i: the scenario.  For each first fault A that fires, every second
 * fault B up to the end of the run A leads to; the run with B past its
 * end (B never fires) shows where that is.
 */
START_TEST(test_fault_pairs)
{
	const struct scenario *w = &scenarios[_i];
	int stream = w->load ? make_stream(w) : -1;
	int before = count_fds(), pairs = 0, failed = 0;
	uint64_t a, opening;
	struct run u;

	/* The open's own requests (probing) are not the transfer's steps. */
	run_open(&u, w, "");
	opening = mock_steps(u.dev[w->victim]);
	run_free(&u);
	for (a = opening + 1; a < MAX_STEPS; a++) {
		char faults[64];
		uint64_t end, b;
		int r;

		snprintf(faults, sizeof(faults), ",fail=any:%llu:EIO", (unsigned long long)a);
		end = run_once(w, stream, faults, &r);
		if (end < a)
			break;	/* past the last step of a run without faults */
		for (b = a + 1; b < MAX_STEPS; b++) {
			snprintf(faults, sizeof(faults), ",fail=any:%llu:EIO,fail=any:%llu:EIO",
				 (unsigned long long)a, (unsigned long long)b);
			if (run_once(w, stream, faults, &r) < b)
				break;
			pairs++;
			failed += r < 0;
		}
		ck_assert_msg(b < MAX_STEPS, "%s: fault %llu: no end to the run", w->name,
			      (unsigned long long)a);
		ck_assert_int_eq(count_fds(), before);
	}
	ck_assert_msg(a > opening + 5 && a < MAX_STEPS, "%s: %llu steps", w->name,
		      (unsigned long long)(a - opening));
	ck_assert_int_gt(failed, 0);
	fprintf(stderr, "# %s: %llu steps, %d pairs, %d runs failed\n", w->name,
		(unsigned long long)(a - 1 - opening), pairs, failed);
	if (stream >= 0)
		close(stream);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fault-pairs");
	TCase *tc = tcase_create("fault-pairs");

	tcase_set_timeout(tc, 900);
	tcase_add_loop_test(tc, test_fault_pairs, 0, (int)ARRAY_SIZE(scenarios));
	suite_add_tcase(s, tc);
	return run_suite(s);
}
