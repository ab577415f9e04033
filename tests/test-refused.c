/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A call refused up front changes nothing (issue #23, item 3).  Every call
 * that starts a transfer, on one device or a group, is made on a device
 * in each state no transfer may start in: ERROR, a newer kernel's state
 * 9, and the saving and resuming states of another opener, live or gone.
 * Each is refused with the errno of that state and the same sentence from
 * every call, and the mock's journal shows that no device made an arc or
 * was reset.  Before: a save or a migrate's source in ERROR was reset by
 * the save's rollback ("back in RUNNING"), while load and the state
 * command left it in ERROR.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <string.h>

#include "dev.h"
#include "test-xfer.h"
#include "mock.h"

#define S(x) VFIOMIG_STATE_##x

/* A starting state, and how a device comes to be in it. */
struct start {
	const char *name;
	const char *keys;		/* a spec's, for ERROR and state 9 */
	enum vfiomig_state session;	/* else: a session another handle opened */
	bool gone;			/* that handle closed (bug=keeps-state) */
	int err;			/* what every call answers */
	const char *says;		/* in every call's sentence */
};

static const struct start starts[] = {
	{ "ERROR", ",state=error", 0, false, EINVAL,
	  "mock:v: the device is in ERROR, which only a reset leaves: reset the device" },
	{ "state 9", ",state=9", 0, false, EPROTO,
	  "mock:v: the device is in state 9 (unknown to this library: a newer kernel's?), "
	  "which only a reset leaves: reset the device" },
	{ "STOP_COPY of another handle", NULL, S(STOP_COPY), false, EBUSY,
	  "mock:v: the device is in STOP_COPY: a migration is already in progress" },
	{ "PRE_COPY of another handle", NULL, S(PRE_COPY), false, EBUSY,
	  "mock:v: the device is in PRE_COPY: a migration is already in progress" },
	{ "RESUMING of another handle", NULL, S(RESUMING), false, EBUSY,
	  "mock:v: the device is in RESUMING: a migration is already in progress" },
	{ "PRE_COPY of a closed handle", NULL, S(PRE_COPY), true, EBUSY,
	  "mock:v: the device is in PRE_COPY: a migration is already in progress" },
};

/* The calls that start a transfer. */
enum entry { SAVE, LOAD, BEGIN_SAVE, BEGIN_LOAD, GROUP_SAVE, GROUP_LOAD, CHECK, N_CALLS };

static const char *const call_names[] = {
	"vfiomig_dev_save", "vfiomig_dev_load", "vfiomig_data_begin_save",
	"vfiomig_data_begin_load", "vfiomig_group_save", "vfiomig_group_load",
	"vfiomig_dev_check_ready",
};

struct fixture {
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev, *other, *peer;	/* @other: the session's opener */
	int other_fd;
	uint32_t raw;				/* where the device is */
};

static uint32_t mock_raw_state(struct vfiomig_dev *dev)
{
	struct vfiomig_mock *m = dev->priv;
	uint32_t s;

	mock_lock(m);
	s = m->state;
	mock_unlock(m);
	return s;
}

/* Another opener's session: @other moves the device there and keeps the fd. */
static void open_session(struct fixture *f, const struct start *st)
{
	const char *spec = st->gone ? "mock:v,size=64K,bug=keeps-state" : "mock:v,size=64K";

	f->other = open_dev(f->ctx, "%s", spec);
	if (st->session == S(RESUMING))
		ck_assert_int_eq(vfiomig_dev_set_state(f->other, S(STOP), NULL), 0);
	ck_assert_int_eq(vfiomig_dev_set_state(f->other, st->session, &f->other_fd), 0);
	if (st->gone) {
		close(f->other_fd);
		f->other_fd = -1;
		vfiomig_dev_unref(f->other);
		f->other = NULL;
		f->dev = open_dev(f->ctx, "%s", spec);	/* the same device, as it was left */
	} else {
		ck_assert_int_eq(vfiomig_dev_adopt(f->ctx, vfiomig_dev_get_fd(f->other), &f->dev), 0);
	}
}

static void setup(struct fixture *f, const struct start *st)
{
	*f = (struct fixture){ .other_fd = -1 };
	ck_assert_int_eq(test_ctx_new(&f->ctx), 0);
	if (st->keys)
		f->dev = open_dev(f->ctx, "mock:v,size=64K%s", st->keys);
	else
		open_session(f, st);
	f->peer = open_dev(f->ctx, "mock:w,size=64K");
	f->raw = mock_raw_state(f->dev);
	vfiomig_mock_journal_clear(f->ctx);
}

static void teardown(struct fixture *f)
{
	if (f->other_fd >= 0)
		close(f->other_fd);
	vfiomig_dev_unref(f->dev);
	vfiomig_dev_unref(f->other);
	vfiomig_dev_unref(f->peer);
	vfiomig_ctx_unref(f->ctx);
}

static struct vfiomig_group *pair(struct fixture *f)
{
	struct vfiomig_group *g;

	ck_assert_int_eq(vfiomig_group_new(f->ctx, 0, &g), 0);
	ck_assert_int_eq(vfiomig_group_add(g, f->peer), 0);
	ck_assert_int_eq(vfiomig_group_add(g, f->dev), 0);
	return g;
}

/* A stream of a device like mock:v (and of the group's pair). */
static int stream_of(enum entry c)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *a, *b;
	struct vfiomig_group *g;
	int fd = memfd_create("stream", MFD_CLOEXEC);

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	a = open_dev(ctx, "mock:w,size=64K");
	b = open_dev(ctx, "mock:v,size=64K");
	ck_assert_int_ge(fd, 0);
	if (c == GROUP_LOAD) {
		ck_assert_int_eq(vfiomig_group_new(ctx, 0, &g), 0);
		ck_assert_int_eq(vfiomig_group_add(g, a), 0);
		ck_assert_int_eq(vfiomig_group_add(g, b), 0);
		ck_assert_int_eq(vfiomig_group_save(g, &fd, 1, NULL), 0);
		vfiomig_group_unref(g);
	} else {
		ck_assert_int_eq(vfiomig_dev_save(b, fd, NULL), 0);
	}
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	vfiomig_dev_unref(a);
	vfiomig_dev_unref(b);
	vfiomig_ctx_unref(ctx);
	return fd;
}

static int make_call(struct fixture *f, enum entry c, int *ret_fd)
{
	struct vfiomig_group *g = c == GROUP_SAVE || c == GROUP_LOAD ? pair(f) : NULL;
	int io = c == LOAD || c == GROUP_LOAD ? stream_of(c) : memfd_create("out", MFD_CLOEXEC);
	int r = -1;

	switch (c) {
	case SAVE:
		r = vfiomig_dev_save(f->dev, io, NULL);
		break;
	case LOAD:
		r = vfiomig_dev_load(f->dev, io, NULL);
		break;
	case BEGIN_SAVE:
		r = vfiomig_data_begin_save(f->dev, VFIOMIG_SAVE_PRECOPY, ret_fd, NULL);
		break;
	case BEGIN_LOAD:
		r = vfiomig_data_begin_load(f->dev, ret_fd);
		break;
	case GROUP_SAVE:
		r = vfiomig_group_save(g, &io, 1, NULL);
		break;
	case GROUP_LOAD:
		r = vfiomig_group_load(g, &io, 1, NULL);
		break;
	case CHECK:
		r = vfiomig_dev_check_ready(f->dev);
		break;
	case N_CALLS:
		break;
	}
	close(io);
	vfiomig_group_unref(g);
	return r;
}

/* No device of the ctx made an arc or was reset. */
static void assert_nothing_moved(struct fixture *f, const char *what)
{
	struct vfiomig_mock_arc j[8];
	size_t n = vfiomig_mock_journal(f->ctx, j, 8);

	ck_assert_msg(n == 0, "%s: %zu arcs or resets, the first %s %s -> %s", what, n,
		      n ? j[0].device : "", n ? vfiomig_state_name(j[0].from) : "",
		      n ? vfiomig_state_name(j[0].to) : "");
}

/* _i: a starting state; every call that starts a transfer, on it. */
START_TEST(test_refused_changes_nothing)
{
	const struct start *st = &starts[_i];

	for (enum entry c = 0; c < N_CALLS; c++) {
		struct vfiomig_error info = { .sz = sizeof(info) };
		struct fixture f;
		char what[128];
		int fd = -1, r;

		snprintf(what, sizeof(what), "%s in %s", call_names[c], st->name);
		setup(&f, st);
		r = make_call(&f, c, &fd);
		ck_assert_msg(r == -st->err, "%s: %d (%s)", what, r, vfiomig_ctx_get_error(f.ctx));
		ck_assert_int_eq(fd, -1);
		ck_assert_msg(strstr(vfiomig_ctx_get_error(f.ctx), st->says), "%s: %s", what,
			      vfiomig_ctx_get_error(f.ctx));
		ck_assert_int_eq(vfiomig_ctx_get_error_info(f.ctx, &info), 0);
		ck_assert_msg(info.device && strcmp(info.device, "mock:v") == 0, "%s: the failure is "
			      "not mock:v's: %s", what, info.device);
		assert_nothing_moved(&f, what);
		ck_assert_msg(mock_raw_state(f.dev) == f.raw, "%s: the device moved", what);
		ck_assert_int_eq(state_of(f.peer), S(RUNNING));
		teardown(&f);
	}
}
END_TEST

/*
 * The state command's calls on ERROR and state 9: refused, and nothing
 * moves, a group's healthy member neither.
 */
START_TEST(test_refused_transition)
{
	for (int i = 0; i < 2; i++) {
		struct vfiomig_group *g;
		struct fixture f;

		setup(&f, &starts[i]);
		ck_assert_int_eq(vfiomig_dev_set_state(f.dev, S(STOP), NULL), -starts[i].err);
		g = pair(&f);
		ck_assert_int_eq(vfiomig_group_set_state(g, S(STOP), NULL), -starts[i].err);
		vfiomig_group_unref(g);
		assert_nothing_moved(&f, starts[i].name);
		ck_assert_uint_eq(mock_raw_state(f.dev), f.raw);
		teardown(&f);
	}
}
END_TEST

/* The check answers 0 where a transfer may start, and sends nothing but a GET. */
START_TEST(test_check_ready)
{
	static const char *const ready[] = { "", ",state=stop", ",state=running_p2p" };
	struct vfiomig_ctx *ctx;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	for (size_t i = 0; i < sizeof(ready) / sizeof(ready[0]); i++) {
		struct vfiomig_dev *dev = open_dev(ctx, "mock:r%s", ready[i]);
		struct vfiomig_mock *m = dev->priv;
		uint64_t sets = m->calls[MOCK_K_SET], gets = m->calls[MOCK_K_GET];

		ck_assert_int_eq(vfiomig_dev_check_ready(dev), 0);
		ck_assert_ptr_null(vfiomig_ctx_get_error(ctx));
		ck_assert_uint_eq(m->calls[MOCK_K_SET], sets);
		ck_assert_uint_eq(m->calls[MOCK_K_GET], gets + 1);
		vfiomig_dev_unref(dev);
	}
	ck_assert_int_eq(vfiomig_dev_check_ready(NULL), -EINVAL);
	vfiomig_ctx_unref(ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("refused");
	TCase *tc = tcase_create("refused");

	tcase_add_loop_test(tc, test_refused_changes_nothing, 0,
			    (int)(sizeof(starts) / sizeof(starts[0])));
	tcase_add_test(tc, test_refused_transition);
	tcase_add_test(tc, test_check_ready);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
