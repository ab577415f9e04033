/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Device groups on mock devices: the order of the two phases, read from
 * the mock's own journal of arcs (which device took which arc, and when);
 * the hook between the phases; members without P2P; concurrency; and a
 * fault sweep in which every step of every member fails in turn.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test-journal.h"

#define S(x) VFIOMIG_STATE_##x
#define MS 1000000ull

static uint64_t now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct fixture {
	struct vfiomig_ctx *ctx;
	struct vfiomig_group *g;
	struct vfiomig_dev *dev[8];
	unsigned int n;
};

/* A group of @n mocks "mock:gI" + @keys; member @odd gets @odd_keys instead. */
static void group_of(struct fixture *f, unsigned int n, const char *keys, int odd,
		     const char *odd_keys, unsigned int flags)
{
	char spec[256];

	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(test_ctx_new(&f->ctx), 0);
	ck_assert_int_eq(vfiomig_group_new(f->ctx, flags, &f->g), 0);
	for (unsigned int i = 0; i < n; i++) {
		snprintf(spec, sizeof(spec), "mock:g%u%s", i, (int)i == odd ? odd_keys : keys);
		ck_assert_msg(vfiomig_dev_open(f->ctx, spec, &f->dev[i]) == 0, "%s: %s", spec,
			      vfiomig_ctx_get_error(f->ctx));
		ck_assert_int_eq(vfiomig_group_add(f->g, f->dev[i]), 0);
	}
	f->n = n;
	vfiomig_mock_journal_clear(f->ctx);
}

static void fixture_free(struct fixture *f)
{
	vfiomig_group_unref(f->g);
	for (unsigned int i = 0; i < f->n; i++)
		vfiomig_dev_unref(f->dev[i]);
	vfiomig_ctx_unref(f->ctx);
}

/* No member leaves RUNNING_P2P towards STOP before all have reached it, and
 * on resume none runs before all are in RUNNING_P2P. */
START_TEST(test_phase_order)
{
	struct fixture f;
	int fds[4];

	/* A slow member would be overtaken if the phases were not kept. */
	group_of(&f, 4, ",arc=2ms", 2, ",arc=15ms", 0);
	ck_assert_int_eq(vfiomig_group_set_state(f.g, S(STOP_COPY), fds), 0);
	for (unsigned int i = 0; i < 4; i++) {
		ck_assert_int_ge(fds[i], 0);
		close(fds[i]);
		ck_assert_int_eq(state_of(f.dev[i]), S(STOP_COPY));
	}
	check_barrier(f.ctx, S(RUNNING_P2P), S(STOP), 4);
	vfiomig_mock_journal_clear(f.ctx);
	ck_assert_int_eq(vfiomig_group_set_state(f.g, S(RUNNING), NULL), 0);
	check_barrier(f.ctx, S(RUNNING_P2P), S(RUNNING), 4);
	/* pre-copy on the way down: PRE_COPY_P2P is the barrier */
	ck_assert_int_eq(vfiomig_group_set_state(f.g, S(PRE_COPY), fds), 0);
	for (unsigned int i = 0; i < 4; i++)
		close(fds[i]);
	vfiomig_mock_journal_clear(f.ctx);
	ck_assert_int_eq(vfiomig_group_set_state(f.g, S(STOP_COPY), NULL), 0);
	check_barrier(f.ctx, S(PRE_COPY_P2P), S(STOP_COPY), 4);
	fixture_free(&f);
}
END_TEST

struct hook_seen {
	struct fixture *f;
	int calls;
	enum vfiomig_group_point point;
	enum vfiomig_state states[8];
	int refuse;
	int busy;	/* what another thread got from a member meanwhile */
};

static void *poke_member(void *arg)
{
	struct hook_seen *h = arg;
	enum vfiomig_state s;

	h->busy = vfiomig_dev_get_state(h->f->dev[0], &s);
	return NULL;
}

static int hook(void *userdata, struct vfiomig_group *g, enum vfiomig_group_point point)
{
	struct hook_seen *h = userdata;
	pthread_t t;

	ck_assert_ptr_eq(g, h->f->g);
	h->calls++;
	h->point = point;
	for (unsigned int i = 0; i < h->f->n; i++)
		ck_assert_int_eq(vfiomig_dev_get_state(h->f->dev[i], &h->states[i]), 0);
	/* The members are the group call's: another thread gets -EBUSY. */
	pthread_create(&t, NULL, poke_member, h);
	pthread_join(t, NULL);
	return h->refuse;
}

START_TEST(test_hook)
{
	struct hook_seen h = { 0 };
	struct vfiomig_group_result res = { .sz = sizeof(res) };
	struct fixture f;

	group_of(&f, 3, "", -1, "", 0);
	h.f = &f;
	vfiomig_group_set_hook(f.g, hook, &h);
	ck_assert_int_eq(vfiomig_group_set_state(f.g, S(STOP), NULL), 0);
	ck_assert_int_eq(h.calls, 1);
	ck_assert_int_eq(h.point, VFIOMIG_GROUP_QUIESCED);
	ck_assert_int_eq(h.busy, -EBUSY);
	for (unsigned int i = 0; i < 3; i++)
		ck_assert_int_eq(h.states[i], S(RUNNING_P2P));
	ck_assert_int_eq(vfiomig_group_set_state(f.g, S(RUNNING), NULL), 0);
	ck_assert_int_eq(h.calls, 2);
	ck_assert_int_eq(h.point, VFIOMIG_GROUP_READY);
	for (unsigned int i = 0; i < 3; i++)
		ck_assert_int_eq(h.states[i], S(RUNNING_P2P));
	/* STOP -> RESUMING crosses no running boundary: no hook. */
	ck_assert_int_eq(vfiomig_group_set_state(f.g, S(STOP), NULL), 0);
	h.calls = 0;
	ck_assert_int_eq(vfiomig_group_set_state(f.g, S(STOP), NULL), 0);
	ck_assert_int_eq(h.calls, 0);
	ck_assert_int_eq(vfiomig_group_set_state(f.g, S(RUNNING), NULL), 0);

	/* A refusal rolls every member back, and the call fails with it. */
	h.refuse = -ECANCELED;
	h.calls = 0;
	ck_assert_int_eq(vfiomig_group_set_state(f.g, S(STOP), NULL), -ECANCELED);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(f.ctx), "refused the group at QUIESCED"));
	for (unsigned int i = 0; i < 3; i++) {
		ck_assert_int_eq(vfiomig_group_get_result(f.g, i, &res), 0);
		ck_assert_int_eq(res.err, 0);
		ck_assert_int_eq(res.state, S(RUNNING));
		ck_assert_int_eq(state_of(f.dev[i]), S(RUNNING));
	}
	fixture_free(&f);
}
END_TEST

START_TEST(test_no_p2p_member)
{
	struct fixture f;

	group_of(&f, 3, "", 1, ",flags=stop_copy", 0);
	ck_assert_int_eq(vfiomig_group_set_state(f.g, S(STOP), NULL), -EOPNOTSUPP);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(f.ctx), "mock:g1: the device has no P2P states"));
	ck_assert_uint_eq(vfiomig_mock_journal(f.ctx, NULL, 0), 0);	/* nothing was sent */
	fixture_free(&f);

	/* Allowed: the member skips the P2P phase, the others keep it. */
	group_of(&f, 3, "", 1, ",flags=stop_copy", VFIOMIG_GROUP_ALLOW_NO_P2P);
	ck_assert_int_eq(vfiomig_group_set_state(f.g, S(STOP), NULL), 0);
	for (unsigned int i = 0; i < 3; i++)
		ck_assert_int_eq(state_of(f.dev[i]), S(STOP));
	check_barrier(f.ctx, S(RUNNING_P2P), S(STOP), 2);
	fixture_free(&f);

	/* A group of one needs no P2P. */
	group_of(&f, 1, ",flags=stop_copy", -1, "", 0);
	ck_assert_int_eq(vfiomig_group_set_state(f.g, S(STOP), NULL), 0);
	fixture_free(&f);
}
END_TEST

/*
 * Arcs within a phase run at once: four members take about one's time,
 * not the four that the same devices take one after another.  Compared in
 * the same run, so that a loaded machine (CI, ThreadSanitizer) stretches
 * both sides alike.
 */
START_TEST(test_concurrent_arcs)
{
	struct fixture four;
	uint64_t t0, t1, t2;

	group_of(&four, 4, ",arc=20ms", -1, "", 0);
	t0 = now();
	for (unsigned int i = 0; i < 4; i++)
		ck_assert_int_eq(vfiomig_dev_set_state(four.dev[i], S(STOP), NULL), 0);
	t1 = now();
	ck_assert_int_eq(vfiomig_group_set_state(four.g, S(RUNNING), NULL), 0);
	t2 = now();
	/* Two arcs of 20 ms each way: in turn 160 ms, at once 40 ms. */
	ck_assert_uint_ge(t1 - t0, 160 * MS);
	ck_assert_uint_ge(t2 - t1, 40 * MS);
	ck_assert_msg(t2 - t1 < (t1 - t0) / 2, "the group took %llu ms, the members in turn %llu ms",
		      (unsigned long long)((t2 - t1) / MS), (unsigned long long)((t1 - t0) / MS));
	fixture_free(&four);
}
END_TEST

START_TEST(test_arguments)
{
	struct vfiomig_group_result res = { .sz = sizeof(res) };
	struct vfiomig_ctx *other;
	struct vfiomig_dev *stranger;
	struct fixture f;
	int fds[2];

	group_of(&f, 2, "", -1, "", 0);
	ck_assert_int_eq(vfiomig_group_get_result(f.g, 0, &res), -ENODATA);
	ck_assert_int_eq(vfiomig_group_add(f.g, f.dev[0]), -EEXIST);
	/* another handle of a member's device: another open, an adopted fd */
	stranger = open_dev(f.ctx, "mock:g1,size=1M");
	ck_assert_int_eq(vfiomig_group_add(f.g, stranger), -EEXIST);
	ck_assert_str_eq(vfiomig_ctx_get_error(f.ctx),
			 "mock:g1 is already a member of the group as mock:g1");
	vfiomig_dev_unref(stranger);
	ck_assert_int_eq(vfiomig_dev_adopt(f.ctx, vfiomig_dev_get_fd(f.dev[0]), &stranger), 0);
	ck_assert_int_eq(vfiomig_group_add(f.g, stranger), -EEXIST);
	vfiomig_dev_unref(stranger);
	ck_assert_int_eq(vfiomig_group_get_size(f.g), 2);
	ck_assert_int_eq(test_ctx_new(&other), 0);
	ck_assert_int_eq(vfiomig_dev_open(other, "mock:x", &stranger), 0);
	ck_assert_int_eq(vfiomig_group_add(f.g, stranger), -EINVAL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(f.ctx), "own context"));
	ck_assert_int_eq(vfiomig_group_set_state(f.g, 42, NULL), -EINVAL);
	/* Entering STOP_COPY opens fds: refused before anything is sent. */
	ck_assert_int_eq(vfiomig_group_set_state(f.g, S(STOP_COPY), NULL), -EINVAL);
	ck_assert_uint_eq(vfiomig_mock_journal(f.ctx, NULL, 0), 0);
	ck_assert_int_eq(vfiomig_group_set_state(f.g, S(STOP_COPY), fds), 0);
	close(fds[0]);
	close(fds[1]);
	ck_assert_int_eq(vfiomig_group_set_state(f.g, S(PRE_COPY), fds), -EINVAL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(f.ctx), "cannot go from STOP_COPY"));
	ck_assert_int_eq(vfiomig_group_get_size(f.g), 2);
	ck_assert_ptr_eq(vfiomig_group_get_member(f.g, 1), f.dev[1]);
	ck_assert_ptr_null(vfiomig_group_get_member(f.g, 2));
	vfiomig_dev_unref(stranger);
	vfiomig_ctx_unref(other);
	fixture_free(&f);
}
END_TEST

/*
 * Every step of every member fails in turn: its first or second state
 * request (phase 1, phase 2) or the state read that plans it, leaving the
 * device where it was, half-way, or in ERROR.  The group must end where it
 * started, every member RUNNING, with no fd left open.
 */
static const char *const sweep_faults[] = {
	"set:1:EIO", "set:1:EIO:mid", "set:1:EIO:error",
	"set:2:EIO", "set:2:EIO:mid", "set:2:EIO:error",
	"get:2:EIO",
};
#define NFAULTS (sizeof(sweep_faults) / sizeof(sweep_faults[0]))
#define SWEEP_MEMBERS 3

START_TEST(test_fault_sweep)
{
	unsigned int member = (unsigned int)_i / NFAULTS;
	const char *fault = sweep_faults[_i % NFAULTS];
	struct vfiomig_group_result res = { .sz = sizeof(res) };
	char keys[64];
	struct fixture f;
	int fds[SWEEP_MEMBERS], before = count_fds(), r;

	snprintf(keys, sizeof(keys), ",arc=1ms,fail=%s", fault);
	group_of(&f, SWEEP_MEMBERS, ",arc=1ms", (int)member, keys, 0);
	r = vfiomig_group_set_state(f.g, S(STOP_COPY), fds);
	ck_assert_msg(r < 0, "member %u, fail=%s: the group did not fail", member, fault);
	/* A state request that fails names every member's state; a read that
	 * fails while planning fails the call before anything is sent. */
	if (strncmp(fault, "set", 3) == 0)
		ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(f.ctx), "members now:"));
	else
		ck_assert_uint_eq(vfiomig_mock_journal(f.ctx, NULL, 0), 0);
	for (unsigned int i = 0; i < SWEEP_MEMBERS; i++) {
		ck_assert_int_eq(vfiomig_group_get_result(f.g, i, &res), 0);
		ck_assert_msg(res.has_state && res.state == S(RUNNING),
			      "member %u, fail=%s on %u: member %u ended in %s", member, fault,
			      member, i, vfiomig_state_name(res.state));
		ck_assert_msg((res.err != 0) == (i == member), "member %u: err %d", i, res.err);
		ck_assert_int_eq(state_of(f.dev[i]), S(RUNNING));
	}
	fixture_free(&f);
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

/* A failure of the rollback itself does not replace the call's cause. */
START_TEST(test_rollback_failure_keeps_the_cause)
{
	struct vfiomig_error info = { .sz = sizeof(info) };
	struct fixture f;

	/* g1 fails its STOP; g0 then fails its way back (its 3rd request). */
	group_of(&f, 2, "", 0, ",fail=set:3:EIO", 0);
	vfiomig_dev_unref(f.dev[1]);
	vfiomig_group_unref(f.g);
	ck_assert_int_eq(vfiomig_group_new(f.ctx, 0, &f.g), 0);
	ck_assert_int_eq(vfiomig_group_add(f.g, f.dev[0]), 0);
	ck_assert_int_eq(vfiomig_dev_open(f.ctx, "mock:h1,fail=set:2:ENOSPC", &f.dev[1]), 0);
	ck_assert_int_eq(vfiomig_group_add(f.g, f.dev[1]), 0);
	ck_assert_int_eq(vfiomig_group_set_state(f.g, S(STOP), NULL), -ENOSPC);
	ck_assert_int_eq(vfiomig_ctx_get_error_info(f.ctx, &info), 0);
	ck_assert_str_eq(info.device, "mock:h1");
	ck_assert_msg(strstr(info.message, "mock:h1: RUNNING_P2P -> STOP failed: No space left"),
		      "%s", info.message);
	for (unsigned int i = 0; i < 2; i++)
		ck_assert_int_eq(state_of(f.dev[i]), S(RUNNING));
	fixture_free(&f);
}
END_TEST

/*
 * Loaded members (RESUMING) that fail to start: none runs, and none is
 * reset, which would drop what it was given: they end in STOP.
 */
/* Writes a whole saved state of a fresh mock into @dst's resuming data fd. */
static void load_into(struct vfiomig_dev *dst, int fd, const char *src_spec)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src;
	char buf[65536];
	ssize_t n;
	int sfd;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	ck_assert_int_eq(vfiomig_dev_open(ctx, src_spec, &src), 0);
	ck_assert_int_eq(vfiomig_data_begin_save(src, 0, &sfd, NULL), 0);
	while ((n = read(sfd, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(vfiomig_data_write(dst, fd, buf, (size_t)n), 0);
	ck_assert_int_eq(n, 0);
	close(sfd);
	close(fd);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_destination_rollback)
{
	struct fixture f;
	int fds[2];

	group_of(&f, 2, ",size=64K,state=stop", 1, ",size=64K,state=stop,fail=set:3:ENOSPC", 0);
	ck_assert_int_eq(vfiomig_group_set_state(f.g, S(RESUMING), fds), 0);
	load_into(f.dev[0], fds[0], "mock:s0,size=64K");
	load_into(f.dev[1], fds[1], "mock:s1,size=64K");
	/* phase 1 loads (RESUMING -> STOP -> RUNNING_P2P); g1 fails to run */
	ck_assert_int_eq(vfiomig_group_set_state(f.g, S(RUNNING), NULL), -ENOSPC);
	for (unsigned int i = 0; i < 2; i++)
		ck_assert_int_eq(state_of(f.dev[i]), S(STOP));
	fixture_free(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("group");
	TCase *tc = tcase_create("group");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_phase_order);
	tcase_add_test(tc, test_hook);
	tcase_add_test(tc, test_no_p2p_member);
	tcase_add_test(tc, test_concurrent_arcs);
	tcase_add_test(tc, test_arguments);
	tcase_add_loop_test(tc, test_fault_sweep, 0, NFAULTS * SWEEP_MEMBERS);
	tcase_add_test(tc, test_rollback_failure_keeps_the_cause);
	tcase_add_test(tc, test_destination_rollback);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
