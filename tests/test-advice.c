/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a failed call tells the caller to do about the device (issue #23,
 * item 2): each row of docs/states.md's table "What to do", from where
 * the call found the device, where it left it, and what happened.  The
 * sentence's end is checked whole.  Before: every failed arc ended with
 * ": reset the device", even on a device that never moved and runs a
 * guest.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <string.h>

#include "test-xfer.h"

#define S(x) VFIOMIG_STATE_##x
#define NOW "; the device is now in "
#define PF_EBUSY "its reset was refused (EBUSY: a PF with VFs enabled refuses it): " \
		 "disable the PF's VFs and reset it again"

static struct vfiomig_ctx *ctx;

static void setup(void)
{
	ck_assert_int_eq(test_ctx_new(&ctx), 0);
}

static void teardown(void)
{
	vfiomig_ctx_unref(ctx);
}

/* The sentence ends with @tail. */
static void assert_ends(const char *tail)
{
	const char *msg = vfiomig_ctx_get_error(ctx);
	size_t n = msg ? strlen(msg) : 0, k = strlen(tail);

	ck_assert_msg(n >= k && strcmp(msg + n - k, tail) == 0, "the sentence\n  %s\ndoes not "
		      "end with\n  %s", msg, tail);
}

static int save_of(struct vfiomig_dev *dev)
{
	int fd = memfd_create("out", MFD_CLOEXEC);
	int r = vfiomig_dev_save(dev, fd, NULL);

	close(fd);
	return r;
}

/* A stream of mock:d's kind, for the loads. */
static int stream(void)
{
	struct vfiomig_dev *src = open_dev(ctx, "mock:d,size=512K");
	int fd = save_to_memfd(src, NULL);

	vfiomig_dev_unref(src);
	return fd;
}

/* Row 1: an arc that fails before it starts leaves the device where the
 * call found it, which needs nothing: every call that moves a device. */
START_TEST(test_never_moved)
{
	struct vfiomig_dev *dev = open_dev(ctx, "mock:d,size=512K,fail=set:1:EIO");
	struct vfiomig_group *g;
	int in = stream();

	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(STOP), NULL), -EIO);
	assert_ends("RUNNING -> STOP failed: Input/output error" NOW "RUNNING");
	vfiomig_dev_unref(dev);

	dev = open_dev(ctx, "mock:d,size=512K,fail=set:1:EIO");
	ck_assert_int_eq(save_of(dev), -EIO);
	assert_ends("RUNNING -> STOP_COPY failed: Input/output error" NOW "RUNNING");
	vfiomig_dev_unref(dev);

	dev = open_dev(ctx, "mock:d,size=512K,fail=set:1:EIO");
	ck_assert_int_eq(vfiomig_dev_load(dev, in, NULL), -EIO);
	assert_ends("RUNNING -> RESUMING failed: Input/output error" NOW "RUNNING");
	vfiomig_dev_unref(dev);

	/* A group's member: the list of members names no advice. */
	dev = open_dev(ctx, "mock:d,size=512K,fail=set:1:EIO");
	ck_assert_int_eq(vfiomig_group_new(ctx, 0, &g), 0);
	ck_assert_int_eq(vfiomig_group_add(g, dev), 0);
	ck_assert_int_eq(vfiomig_group_set_state(g, S(STOP), NULL), -EIO);
	assert_ends("members now: mock:d RUNNING" NOW "RUNNING");
	vfiomig_group_unref(g);
	vfiomig_dev_unref(dev);
	close(in);
}
END_TEST

/* Row 2: a failed arc the call's own rollback made good needs nothing. */
START_TEST(test_put_back)
{
	struct vfiomig_dev *dev = open_dev(ctx, "mock:d,size=512K,fail=set:1:EIO:mid");
	int in = stream();
	enum vfiomig_state st;

	ck_assert_int_eq(save_of(dev), -EIO);
	assert_ends("RUNNING -> STOP_COPY failed: Input/output error" NOW "RUNNING");
	ck_assert_int_eq(vfiomig_dev_recover(dev, &st), 0);	/* nothing to recover */
	vfiomig_dev_unref(dev);

	/* A load that failed before any data went in puts the device back too. */
	dev = open_dev(ctx, "mock:d,size=512K,fail=set:1:EIO:mid");
	ck_assert_int_eq(vfiomig_dev_load(dev, in, NULL), -EIO);
	assert_ends("RUNNING -> RESUMING failed: Input/output error" NOW "RUNNING");
	ck_assert_int_eq(state_of(dev), S(RUNNING));
	vfiomig_dev_unref(dev);
	close(in);
}
END_TEST

/* Row 3: a device moved on purpose (a load's partial state discarded) needs nothing. */
START_TEST(test_moved_on_purpose)
{
	struct vfiomig_dev *dev = open_dev(ctx, "mock:d,size=512K,fail=write:2:EIO");
	int in = stream();

	ck_assert_int_eq(vfiomig_dev_load(dev, in, NULL), -EIO);
	assert_ends("the partial state was discarded" NOW "STOP");
	vfiomig_dev_unref(dev);
	close(in);
}
END_TEST

/* Rows 4 and 5: ERROR and a newer kernel's state, which only a reset leaves. */
START_TEST(test_reset_only)
{
	struct vfiomig_dev *dev = open_dev(ctx, "mock:d,fail=set:1:EIO:error");

	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(STOP), NULL), -EIO);
	assert_ends(NOW "ERROR: reset the device");
	vfiomig_dev_unref(dev);

	dev = open_dev(ctx, "mock:d,fail=set:1:EIO:9");
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(STOP), NULL), -EIO);
	assert_ends(NOW "state 9 (unknown to this library: a newer kernel's?): reset the device");
	vfiomig_dev_unref(dev);

	/* Found there and refused: the refusal says it, once. */
	dev = open_dev(ctx, "mock:d,state=error");
	ck_assert_int_eq(save_of(dev), -EINVAL);
	assert_ends("which only a reset leaves: reset the device" NOW "ERROR");
	vfiomig_dev_unref(dev);
}
END_TEST

/* Row 6: ERROR whose reset the kernel refused. */
START_TEST(test_reset_only_refused)
{
	struct vfiomig_dev *dev = open_dev(ctx, "mock:d,fail=set:1:EIO:error,"
					   "fail=reset:1+:EBUSY");

	ck_assert_int_eq(save_of(dev), -EIO);
	assert_ends(NOW "ERROR: only a reset leaves that state, and " PF_EBUSY);
	vfiomig_dev_unref(dev);
}
END_TEST

/*
 * Row 7: left on the way by a failed arc and not put back: it can go
 * back, or on; a reset is the last resort, and recovery still makes it.
 */
START_TEST(test_stranded)
{
	struct vfiomig_dev *dev = open_dev(ctx, "mock:d,fail=set:1:EIO:mid");
	enum vfiomig_state st;

	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(STOP), NULL), -EIO);
	assert_ends(NOW "RUNNING_P2P: a failed arc left it on the way from RUNNING: move it "
		    "back there, or on, or reset the device");
	ck_assert_int_eq(vfiomig_dev_recover(dev, &st), 1);
	ck_assert_int_eq(st, S(RUNNING));
	vfiomig_dev_unref(dev);
}
END_TEST

/*
 * Row 8: the same, when the rollback's reset was refused too: a save whose
 * arc stops at STOP, whose way back fails, and whose reset is refused.
 */
START_TEST(test_stranded_refused)
{
	struct vfiomig_dev *dev = open_dev(ctx, "mock:d,fail=set:1:EIO:mid,fail=set:2:EIO,"
					   "fail=reset:1+:EBUSY");

	ck_assert_int_eq(save_of(dev), -EIO);
	assert_ends(NOW "STOP: a failed arc left it on the way from RUNNING: move it back "
		    "there, or on; " PF_EBUSY);
	ck_assert_int_eq(state_of(dev), S(STOP));
	vfiomig_dev_unref(dev);
}
END_TEST

/* Row 9: a partial state in RESUMING whose discarding reset was refused. */
START_TEST(test_partial_refused)
{
	struct vfiomig_dev *dev = open_dev(ctx, "mock:d,size=512K,fail=write:2:EIO,"
					   "fail=reset:1+:EBUSY");
	int in = stream();

	ck_assert_int_eq(vfiomig_dev_load(dev, in, NULL), -EIO);
	assert_ends(NOW "RESUMING: do not run it, it holds part of a state; " PF_EBUSY);
	vfiomig_dev_unref(dev);
	close(in);
}
END_TEST

/*
 * Row 10: a device a failed arc had left on the way before this call is
 * nowhere to go back to: the call's refused reset says what to do about
 * it, though the call itself moved nothing.
 */
START_TEST(test_stranded_before)
{
	struct vfiomig_dev *dev = open_dev(ctx, "mock:d,fail=set:1:EIO:mid,fail=reset:1:EBUSY");

	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(STOP), NULL), -EIO);
	ck_assert_int_eq(vfiomig_dev_reset(dev), -EBUSY);
	assert_ends(NOW "RUNNING_P2P: " PF_EBUSY);
	vfiomig_dev_unref(dev);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("advice");
	TCase *tc = tcase_create("advice");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_never_moved);
	tcase_add_test(tc, test_put_back);
	tcase_add_test(tc, test_moved_on_purpose);
	tcase_add_test(tc, test_reset_only);
	tcase_add_test(tc, test_reset_only_refused);
	tcase_add_test(tc, test_stranded);
	tcase_add_test(tc, test_stranded_refused);
	tcase_add_test(tc, test_partial_refused);
	tcase_add_test(tc, test_stranded_before);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
