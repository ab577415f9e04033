/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Group calls under a thread limit.  Linked with -Wl,--wrap=pthread_create
 * (tests/meson.build), so that every pthread_create() of the library, the
 * mock and this test goes through __wrap_pthread_create(), which fails the
 * Nth one with EAGAIN when armed, as a pids limit (systemd's TasksMax=, a
 * container's pids.max, RLIMIT_NPROC) does.  The sweep arms every N in
 * turn, for group saves, loads and transitions: each call returns within a
 * second, with a clear error, and its members where the call promises.
 * Also: a group call starts at most one thread per member, whatever the
 * number of pre-copy rounds.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test-group-side.h"
#include "util.h"
#include "test-xfer.h"
#include "group-internal.h"

#define S(x) VFIOMIG_STATE_##x
#define N 3
#define SECOND 1000000000ull

int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);

static atomic_int fail_at;		/* 0: never; else the Nth call from now fails */
static atomic_int calls, fired, crew_threads;

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
	int n = atomic_fetch_add(&calls, 1) + 1;

	if (n == atomic_load(&fail_at)) {
		atomic_store(&fired, 1);
		return EAGAIN;
	}
	if (fn == crew_worker_main)
		atomic_fetch_add(&crew_threads, 1);
	return __real_pthread_create(t, a, fn, arg);
}

static void arm(int nth)
{
	atomic_store(&calls, 0);
	atomic_store(&fired, 0);
	atomic_store(&crew_threads, 0);
	atomic_store(&fail_at, nth);
}

/* The failure, when the armed call failed, says what it was. */
static void check_failure(struct side *s, int r, const char *what, int nth)
{
	const char *msg = vfiomig_ctx_get_error(s->ctx);

	ck_assert_msg(r < 0, "%s: pthread_create %d failed and the call succeeded", what, nth);
	ck_assert_msg(msg && (strstr(msg, "thread limit") || strstr(msg, "Resource temporarily")),
		      "%s: pthread_create %d: the error does not say why: %s", what, nth,
		      msg ? msg : "(none)");
}

enum op { SAVE_ONE, SAVE_EACH, LOAD_ONE, LOAD_EACH, TRANSITION, N_OPS };

static const char *const op_names[] = { "save into one stream", "save into a stream each",
					"load of one stream", "load of a stream each",
					"transition" };

/* The source's streams, made once with nothing armed. */
static void make_streams(int *fds, unsigned int n_fds)
{
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy_rounds = 2,
					.precopy = VFIOMIG_PRECOPY_MODE_ROUNDS };
	struct side src;

	side_open(&src, N, "s", (const char *const[]){ ",size=64K,dirty=16K" }, 1);
	ck_assert_int_eq(vfiomig_group_save(src.g, fds, n_fds, &so), 0);
	for (unsigned int i = 0; i < n_fds; i++)
		ck_assert_int_eq(lseek(fds[i], 0, SEEK_SET), 0);
	side_free(&src);
}

/* One call of @op with pthread_create number @nth failing; whether it fired. */
static bool try_once(enum op op, int nth)
{
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy_rounds = 2,
					.precopy = VFIOMIG_PRECOPY_MODE_ROUNDS };
	bool load = op == LOAD_ONE || op == LOAD_EACH;
	unsigned int n_fds = op == SAVE_EACH || op == LOAD_EACH ? N : 1;
	int fds[N] = { memfd(), memfd(), memfd() };
	struct side s;
	uint64_t t0;
	int r;

	if (load)
		make_streams(fds, n_fds);
	side_open(&s, N, "m", (const char *const[]){ load ? ",size=64K,state=stop" : ",size=64K,dirty=16K" }, 1);
	arm(nth);
	t0 = now_ns();
	if (op == TRANSITION)
		r = vfiomig_group_set_state(s.g, S(STOP), NULL);
	else if (load)
		r = vfiomig_group_load(s.g, fds, n_fds, NULL);
	else
		r = vfiomig_group_save(s.g, fds, n_fds, &so);
	atomic_store(&fail_at, 0);
	ck_assert_msg(now_ns() - t0 < SECOND, "%s: pthread_create %d failing: the call took "
		      "%llu ms", op_names[op], nth, (unsigned long long)((now_ns() - t0) / 1000000));
	if (atomic_load(&fired))
		check_failure(&s, r, op_names[op], nth);
	else
		ck_assert_msg(r == 0, "%s: %s", op_names[op], vfiomig_ctx_get_error(s.ctx));
	for (unsigned int i = 0; i < N; i++) {
		enum vfiomig_state now = state_of(s.dev[i]);

		if (r == 0)
			ck_assert_int_eq(now, load ? S(RUNNING) : S(STOP));
		else if (load)	/* never RUNNING with part of a state */
			ck_assert_msg(now == S(STOP), "%s, pthread_create %d: member %u in %s",
				      op_names[op], nth, i, vfiomig_state_name(now));
		else		/* a source back where it started */
			ck_assert_msg(now == S(RUNNING), "%s, pthread_create %d: member %u in %s",
				      op_names[op], nth, i, vfiomig_state_name(now));
	}
	side_free(&s);
	for (unsigned int i = 0; i < N; i++)
		close(fds[i]);
	return atomic_load(&fired);
}

/* _i: the operation; every pthread_create() of the call fails in turn. */
START_TEST(test_thread_limit_sweep)
{
	int before = count_fds(), nth, failed = 0;

	for (nth = 1; nth < 200 && try_once((enum op)_i, nth); nth++)
		failed++;
	ck_assert_msg(nth < 200, "the sweep did not reach the call's end");
	/* a crew of N workers at least; the mock's pumps besides */
	ck_assert_int_ge(failed, N);
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

/*
 * The hang of old: one member whose worker did not start, and a stream of
 * many records.  The reader queued records for the missing worker until
 * the pool was empty, then waited for a buffer nobody would give back.
 * Every pthread_create() of the load fails in turn (the mock's pump for
 * RESUMING is one of them).
 */
START_TEST(test_reader_never_waits_for_a_missing_worker)
{
	struct vfiomig_save_opts so = { .sz = sizeof(so), .buffer_size = 16384 };
	struct side src;
	int fd = memfd(), nth;

	side_open(&src, 1, "s", (const char *const[]){ ",size=1M" }, 1);
	arm(0);
	ck_assert_int_eq(vfiomig_group_save(src.g, &fd, 1, &so), 0);
	side_free(&src);
	for (nth = 1; nth < 10; nth++) {
		struct side dst;
		uint64_t t0;
		int r;

		side_open(&dst, 1, "d", (const char *const[]){ ",size=1M,state=stop" }, 1);
		ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
		arm(nth);
		t0 = now_ns();
		r = vfiomig_group_load(dst.g, &fd, 1, NULL);
		atomic_store(&fail_at, 0);
		ck_assert_msg(now_ns() - t0 < SECOND, "pthread_create %d failing: the load took "
			      "%llu ms", nth, (unsigned long long)((now_ns() - t0) / 1000000));
		if (!atomic_load(&fired)) {
			ck_assert_int_eq(r, 0);
			side_free(&dst);
			break;
		}
		check_failure(&dst, r, "a load of one member", nth);
		ck_assert_int_eq(state_of(dst.dev[0]), S(STOP));
		side_free(&dst);
	}
	ck_assert_int_gt(nth, 2);	/* the worker's, and the pump's */
	close(fd);
}
END_TEST

/* 8 members, 16 pre-copy rounds: 8 workers, not a thread per round. */
START_TEST(test_one_thread_per_member)
{
	struct vfiomig_stats st = { .sz = sizeof(st) };
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy_rounds = 16,
					.precopy = VFIOMIG_PRECOPY_MODE_ROUNDS, .stats = &st };
	struct side src, dst;
	int fd = memfd();

	side_open(&src, 8, "s", (const char *const[]){ ",size=64K,dirty=16K" }, 1);
	side_open(&dst, 8, "d", (const char *const[]){ ",size=64K,state=stop" }, 1);
	arm(0);
	ck_assert_int_eq(vfiomig_group_save(src.g, &fd, 1, &so), 0);
	ck_assert_uint_eq(st.precopy_rounds, 16);
	ck_assert_int_eq(atomic_load(&crew_threads), 8);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	arm(0);
	ck_assert_int_eq(vfiomig_group_load(dst.g, &fd, 1, NULL), 0);
	ck_assert_int_eq(atomic_load(&crew_threads), 8);
	arm(0);
	ck_assert_int_eq(vfiomig_group_set_state(dst.g, S(STOP), NULL), 0);
	ck_assert_int_eq(atomic_load(&crew_threads), 8);
	close(fd);
	side_free(&src);
	side_free(&dst);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("group-threads");
	TCase *tc = tcase_create("group-threads");

	tcase_set_timeout(tc, 240);
	tcase_add_loop_test(tc, test_thread_limit_sweep, 0, N_OPS);
	tcase_add_test(tc, test_reader_never_waits_for_a_missing_worker);
	tcase_add_test(tc, test_one_thread_per_member);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
