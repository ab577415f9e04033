/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Calls from callbacks (vfiomig/vfiomig.h's thread rules): a progress
 * function or a group's hook that drives a device or group its own call
 * is moving gets -EDEADLK with a sentence that says so, and changes
 * nothing; a query (the state, the stop-copy size, a group's results)
 * still works there.  The outer call completes as if nothing had been
 * tried, and its own outcome is the thread's error afterwards:
 * - a save's progress function moving the device being saved;
 * - a group's hook moving a member, or the group;
 * - a group save's progress function moving a member, or saving it;
 * - a save's progress function moving a group its device is a member of.
 * And two calls from one callback: the second's outcome is its own, not
 * the first's failure again.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test-util.h"
#include <vfiomig/vfiomig.h>

#define S(x) VFIOMIG_STATE_##x

/* What a callback's refused call returned, and the thread's account of it. */
struct refusal {
	int r;
	char msg[1024];
	struct vfiomig_error info;
};

static void refused(struct refusal *f, struct vfiomig_ctx *ctx, int r)
{
	const char *msg = vfiomig_ctx_get_error(ctx);

	f->r = r;
	snprintf(f->msg, sizeof(f->msg), "%s", msg ? msg : "(none)");
	f->info = (struct vfiomig_error){ .sz = sizeof(f->info) };
	vfiomig_ctx_get_error_info(ctx, &f->info);
	f->info.message = f->info.device = NULL;	/* borrowed: gone by the next call */
}

/* @f was an -EDEADLK about @name that says it came from a callback. */
static void assert_refused(const struct refusal *f, const char *name)
{
	ck_assert_msg(f->r == -EDEADLK, "a call from a callback gave %d: %s", f->r, f->msg);
	ck_assert_msg(strstr(f->msg, name) && strstr(f->msg, "callback") &&
		      strstr(f->msg, "after that call has returned"), "%s", f->msg);
	ck_assert_int_eq(f->info.err, EDEADLK);
	ck_assert_int_eq(f->info.has_state, 0);	/* the outer call's to report */
}

static int memfd(void)
{
	int fd = memfd_create("reentry", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	return fd;
}

/* ---- a save's progress function and its own device ---- */

struct inside_save {
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	int spare;			/* where a nested save would write */
	int calls;
	struct refusal move, save;
	int query;
	enum vfiomig_state seen;
};

static void save_progress(void *userdata, const struct vfiomig_progress *p)
{
	struct inside_save *in = userdata;

	(void)p;
	if (in->calls++)
		return;
	refused(&in->move, in->ctx, vfiomig_dev_set_state(in->dev, S(RUNNING), NULL));
	refused(&in->save, in->ctx, vfiomig_dev_save(in->dev, in->spare, NULL));
	in->query = vfiomig_dev_get_state(in->dev, &in->seen);
}

/* _i 0: the save succeeds; 1: it fails on its own, and keeps its cause. */
START_TEST(test_save_progress)
{
	struct inside_save in = { .spare = memfd() };
	struct vfiomig_save_opts so = { .sz = sizeof(so), .progress = save_progress,
					.userdata = &in };
	struct vfiomig_error info = { .sz = sizeof(info) };
	int out = memfd();

	ck_assert_int_eq(test_ctx_new(&in.ctx), 0);
	in.dev = open_dev(in.ctx, "mock:rs%s", _i ? ",fail=read:1:EIO" : "");
	ck_assert_int_eq(vfiomig_dev_save(in.dev, out, &so), _i ? -EIO : 0);
	ck_assert_int_ge(in.calls, 1);
	assert_refused(&in.move, "mock:rs");
	assert_refused(&in.save, "mock:rs");
	ck_assert_msg(in.query == 0, "a query from the callback gave %d", in.query);
	ck_assert_msg(in.seen == S(PRE_COPY) || in.seen == S(STOP_COPY), "%s",
		      vfiomig_state_name(in.seen));
	if (_i) {
		ck_assert_int_eq(vfiomig_ctx_get_error_info(in.ctx, &info), 0);
		ck_assert_int_eq(info.err, EIO);
		ck_assert_str_eq(info.device, "mock:rs");
		ck_assert_msg(strstr(info.message, "reading device data failed") &&
			      !strstr(info.message, "callback"), "%s", info.message);
		ck_assert_int_eq(state_of(in.dev), S(RUNNING));	/* rolled back */
	} else {
		ck_assert_ptr_null(vfiomig_ctx_get_error(in.ctx));
		ck_assert_int_eq(state_of(in.dev), S(STOP));
		ck_assert_int_gt(lseek(out, 0, SEEK_END), 0);
	}
	close(out);
	close(in.spare);
	vfiomig_dev_unref(in.dev);
	vfiomig_ctx_unref(in.ctx);
}
END_TEST

/* ---- a group's hook ---- */

struct pair {
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev[2];
	struct vfiomig_group *g;
};

static void pair_open(struct pair *p, const char *prefix)
{
	ck_assert_int_eq(test_ctx_new(&p->ctx), 0);
	ck_assert_int_eq(vfiomig_group_new(p->ctx, 0, &p->g), 0);
	for (int i = 0; i < 2; i++) {
		p->dev[i] = open_dev(p->ctx, "mock:%s%d", prefix, i);
		ck_assert_int_eq(vfiomig_group_add(p->g, p->dev[i]), 0);
	}
}

static void pair_free(struct pair *p)
{
	vfiomig_group_unref(p->g);
	for (int i = 0; i < 2; i++)
		vfiomig_dev_unref(p->dev[i]);
	vfiomig_ctx_unref(p->ctx);
}

struct inside_hook {
	struct pair *p;
	int calls;
	struct refusal member, group;
	int query, results;
	enum vfiomig_state seen;
};

static int hook(void *userdata, struct vfiomig_group *g, enum vfiomig_group_point point)
{
	struct inside_hook *in = userdata;
	struct vfiomig_group_result res = { .sz = sizeof(res) };

	(void)point;
	in->calls++;
	refused(&in->member, in->p->ctx, vfiomig_dev_set_state(in->p->dev[1], S(STOP), NULL));
	refused(&in->group, in->p->ctx, vfiomig_group_set_state(g, S(STOP), NULL));
	in->query = vfiomig_dev_get_state(in->p->dev[1], &in->seen);
	in->results = vfiomig_group_get_result(g, 1, &res);
	return 0;
}

START_TEST(test_group_hook)
{
	struct inside_hook in = { 0 };
	struct pair p;

	pair_open(&p, "rh");
	in.p = &p;
	vfiomig_group_set_hook(p.g, hook, &in);
	ck_assert_int_eq(vfiomig_group_set_state(p.g, S(STOP), NULL), 0);
	ck_assert_int_eq(in.calls, 1);
	assert_refused(&in.member, "mock:rh1");
	assert_refused(&in.group, "the group");
	ck_assert_int_eq(in.query, 0);
	ck_assert_int_eq(in.seen, S(RUNNING_P2P));
	ck_assert_ptr_null(vfiomig_ctx_get_error(p.ctx));
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(state_of(p.dev[i]), S(STOP));

	/* back up, past the hook at READY, where the group has results to read */
	ck_assert_int_eq(vfiomig_group_set_state(p.g, S(RUNNING), NULL), 0);
	ck_assert_int_eq(in.calls, 2);
	assert_refused(&in.member, "mock:rh1");
	assert_refused(&in.group, "the group");
	ck_assert_int_eq(in.results, 0);
	ck_assert_ptr_null(vfiomig_ctx_get_error(p.ctx));
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(state_of(p.dev[i]), S(RUNNING));
	pair_free(&p);
}
END_TEST

/* ---- a group save's progress function ---- */

struct inside_group_save {
	struct pair *p;
	int spare;			/* where a nested save would write */
	int calls;
	struct refusal move, save;
};

static void group_save_progress(void *userdata, const struct vfiomig_progress *pr)
{
	struct inside_group_save *in = userdata;

	(void)pr;
	if (in->calls++)
		return;
	refused(&in->move, in->p->ctx, vfiomig_dev_set_state(in->p->dev[0], S(RUNNING), NULL));
	refused(&in->save, in->p->ctx, vfiomig_dev_save(in->p->dev[1], in->spare, NULL));
}

START_TEST(test_group_save_progress)
{
	struct inside_group_save in = { .spare = memfd() };
	struct vfiomig_save_opts so = { .sz = sizeof(so), .progress = group_save_progress,
					.userdata = &in };
	struct pair p;
	int out = memfd();

	pair_open(&p, "rg");
	in.p = &p;
	ck_assert_int_eq(vfiomig_group_save(p.g, &out, 1, &so), 0);
	ck_assert_int_ge(in.calls, 1);
	assert_refused(&in.move, "mock:rg0");
	assert_refused(&in.save, "mock:rg1");
	ck_assert_ptr_null(vfiomig_ctx_get_error(p.ctx));
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(state_of(p.dev[i]), S(STOP));
	close(out);
	close(in.spare);
	pair_free(&p);
}
END_TEST

/* ---- a save's progress function and a group of its device ---- */

struct inside_member_save {
	struct pair *p;
	int calls;
	struct refusal group;
};

static void member_save_progress(void *userdata, const struct vfiomig_progress *pr)
{
	struct inside_member_save *in = userdata;

	(void)pr;
	if (in->calls++)
		return;
	refused(&in->group, in->p->ctx, vfiomig_group_set_state(in->p->g, S(STOP), NULL));
}

/* The group is free, its second member is not: the first is given back untouched. */
START_TEST(test_save_progress_moves_its_group)
{
	struct inside_member_save in = { 0 };
	struct vfiomig_save_opts so = { .sz = sizeof(so), .progress = member_save_progress,
					.userdata = &in };
	struct pair p;
	int out = memfd();

	pair_open(&p, "rm");
	in.p = &p;
	ck_assert_int_eq(vfiomig_dev_save(p.dev[1], out, &so), 0);
	assert_refused(&in.group, "mock:rm1");
	ck_assert_ptr_null(vfiomig_ctx_get_error(p.ctx));
	ck_assert_int_eq(state_of(p.dev[0]), S(RUNNING));
	ck_assert_int_eq(state_of(p.dev[1]), S(STOP));
	/* and the first member was given back: the group is whole again */
	ck_assert_int_eq(vfiomig_group_set_state(p.g, S(STOP), NULL), 0);
	close(out);
	pair_free(&p);
}
END_TEST

/* ---- two calls from one callback: each one's own outcome ---- */

struct two_in_callback {
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *other;
	int calls;
	char after_failure[256], after_success[256];
};

static void two_progress(void *userdata, const struct vfiomig_progress *p)
{
	struct two_in_callback *in = userdata;
	const char *msg;
	unsigned int caps;

	(void)p;
	if (in->calls++)
		return;
	vfiomig_dev_get_caps(in->other, NULL);
	msg = vfiomig_ctx_get_error(in->ctx);
	snprintf(in->after_failure, sizeof(in->after_failure), "%s", msg ? msg : "(none)");
	vfiomig_dev_get_caps(in->other, &caps);
	msg = vfiomig_ctx_get_error(in->ctx);
	snprintf(in->after_success, sizeof(in->after_success), "%s", msg ? msg : "(none)");
}

START_TEST(test_two_calls_from_a_callback)
{
	struct two_in_callback in = { 0 };
	struct vfiomig_save_opts so = { .sz = sizeof(so), .progress = two_progress,
					.userdata = &in };
	struct vfiomig_dev *dev;
	int out = memfd();

	ck_assert_int_eq(test_ctx_new(&in.ctx), 0);
	dev = open_dev(in.ctx, "mock:rt");
	in.other = open_dev(in.ctx, "mock:ro");
	ck_assert_int_eq(vfiomig_dev_save(dev, out, &so), 0);
	ck_assert_msg(strstr(in.after_failure, "mock:ro: no place to return"), "%s",
		      in.after_failure);
	ck_assert_str_eq(in.after_success, "(none)");
	ck_assert_ptr_null(vfiomig_ctx_get_error(in.ctx));
	close(out);
	vfiomig_dev_unref(in.other);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(in.ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("reentry");
	TCase *tc = tcase_create("reentry");

	tcase_add_loop_test(tc, test_save_progress, 0, 2);
	tcase_add_test(tc, test_group_hook);
	tcase_add_test(tc, test_group_save_progress);
	tcase_add_test(tc, test_save_progress_moves_its_group);
	tcase_add_test(tc, test_two_calls_from_a_callback);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
