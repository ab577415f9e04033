// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The mock's state machine, written from the kernel's vfio_from_fsm_table
 * and vfio_mig_get_next_state().  It never shares code with the library's
 * (state.c): a bug in one must not hide in the other.  Like a driver it
 * walks one arc at a time under its state mutex (op_lock) and records each
 * arc as it completes, so a failure leaves the device on the last
 * completed arc.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "mock.h"
#include "log.h"
#include "states.h"
#include "util.h"

#define S(x) VFIOMIG_STATE_##x
#define F_STOP_COPY VFIOMIG_MIG_STOP_COPY
#define F_P2P VFIOMIG_MIG_P2P
#define F_PRE_COPY VFIOMIG_MIG_PRE_COPY

/* vfio_from_fsm_table: next hop from [cur] towards [target]. */
static const uint8_t fsm_table[VFIOMIG_STATE_COUNT][VFIOMIG_STATE_COUNT] = {
	[S(STOP)] = {
		[S(STOP)] = S(STOP), [S(RUNNING)] = S(RUNNING_P2P),
		[S(PRE_COPY)] = S(RUNNING_P2P),
		[S(PRE_COPY_P2P)] = S(RUNNING_P2P),
		[S(STOP_COPY)] = S(STOP_COPY), [S(RESUMING)] = S(RESUMING),
		[S(RUNNING_P2P)] = S(RUNNING_P2P), [S(ERROR)] = S(ERROR),
	},
	[S(RUNNING)] = {
		[S(STOP)] = S(RUNNING_P2P), [S(RUNNING)] = S(RUNNING),
		[S(PRE_COPY)] = S(PRE_COPY),
		[S(PRE_COPY_P2P)] = S(RUNNING_P2P),
		[S(STOP_COPY)] = S(RUNNING_P2P),
		[S(RESUMING)] = S(RUNNING_P2P),
		[S(RUNNING_P2P)] = S(RUNNING_P2P), [S(ERROR)] = S(ERROR),
	},
	[S(PRE_COPY)] = {
		[S(STOP)] = S(RUNNING), [S(RUNNING)] = S(RUNNING),
		[S(PRE_COPY)] = S(PRE_COPY),
		[S(PRE_COPY_P2P)] = S(PRE_COPY_P2P),
		[S(STOP_COPY)] = S(PRE_COPY_P2P), [S(RESUMING)] = S(RUNNING),
		[S(RUNNING_P2P)] = S(RUNNING), [S(ERROR)] = S(ERROR),
	},
	[S(PRE_COPY_P2P)] = {
		[S(STOP)] = S(RUNNING_P2P), [S(RUNNING)] = S(RUNNING_P2P),
		[S(PRE_COPY)] = S(PRE_COPY),
		[S(PRE_COPY_P2P)] = S(PRE_COPY_P2P),
		[S(STOP_COPY)] = S(STOP_COPY), [S(RESUMING)] = S(RUNNING_P2P),
		[S(RUNNING_P2P)] = S(RUNNING_P2P), [S(ERROR)] = S(ERROR),
	},
	[S(STOP_COPY)] = {
		[S(STOP)] = S(STOP), [S(RUNNING)] = S(STOP),
		[S(PRE_COPY)] = S(ERROR), [S(PRE_COPY_P2P)] = S(ERROR),
		[S(STOP_COPY)] = S(STOP_COPY), [S(RESUMING)] = S(STOP),
		[S(RUNNING_P2P)] = S(STOP), [S(ERROR)] = S(ERROR),
	},
	[S(RESUMING)] = {
		[S(STOP)] = S(STOP), [S(RUNNING)] = S(STOP),
		[S(PRE_COPY)] = S(STOP), [S(PRE_COPY_P2P)] = S(STOP),
		[S(STOP_COPY)] = S(STOP), [S(RESUMING)] = S(RESUMING),
		[S(RUNNING_P2P)] = S(STOP), [S(ERROR)] = S(ERROR),
	},
	[S(RUNNING_P2P)] = {
		[S(STOP)] = S(STOP), [S(RUNNING)] = S(RUNNING),
		[S(PRE_COPY)] = S(RUNNING),
		[S(PRE_COPY_P2P)] = S(PRE_COPY_P2P),
		[S(STOP_COPY)] = S(STOP), [S(RESUMING)] = S(STOP),
		[S(RUNNING_P2P)] = S(RUNNING_P2P), [S(ERROR)] = S(ERROR),
	},
	[S(ERROR)] = {
		[S(STOP)] = S(ERROR), [S(RUNNING)] = S(ERROR),
		[S(PRE_COPY)] = S(ERROR), [S(PRE_COPY_P2P)] = S(ERROR),
		[S(STOP_COPY)] = S(ERROR), [S(RESUMING)] = S(ERROR),
		[S(RUNNING_P2P)] = S(ERROR), [S(ERROR)] = S(ERROR),
	},
};

/* state_flags_table: the migration flags each state needs. */
static const uint32_t state_flags[VFIOMIG_STATE_COUNT] = {
	[S(STOP)] = F_STOP_COPY,
	[S(RUNNING)] = F_STOP_COPY,
	[S(STOP_COPY)] = F_STOP_COPY,
	[S(RESUMING)] = F_STOP_COPY,
	[S(RUNNING_P2P)] = F_STOP_COPY | F_P2P,
	[S(PRE_COPY)] = F_STOP_COPY | F_PRE_COPY,
	[S(PRE_COPY_P2P)] = F_STOP_COPY | F_P2P | F_PRE_COPY,
	[S(ERROR)] = ~0u,
};

/* As the kernel's: the u32 table against the driver's u64 flags, so
 * that a bit it does not define changes nothing (flags=...+bitN). */
static bool state_ok(uint64_t flags, uint32_t s)
{
	return s < VFIOMIG_STATE_COUNT &&
	       (state_flags[s] & flags) == state_flags[s];
}

/*
 * vfio_mig_get_next_state() of a kernel with the mid-2026 fix: a blocked
 * arc (STOP_COPY -> PRE_COPY*) is EINVAL instead of an endless loop.
 */
static int next_hop(uint64_t flags, uint32_t cur, uint32_t target,
		    uint32_t *ret)
{
	uint32_t next;

	/* the kernel WARNs here; and it is how a state of a newer kernel
	 * (fail=set:...:N, state=N) is left: only by a reset */
	if (!state_ok(flags, cur))
		return -EINVAL;
	if (!state_ok(flags, target))
		return -EINVAL;
	next = fsm_table[cur][target];
	while (!state_ok(flags, next)) {
		if (next == S(ERROR))
			return -EINVAL;
		next = fsm_table[next][target];
	}
	*ret = next;
	return 0;
}

/*
 * arc=: the firmware command behind an arc takes that long.  An absolute
 * deadline, so that a signal's EINTR costs no accuracy: group transitions
 * are measured against it.  Only op_lock is held, as a driver holds its
 * state mutex, so data-fd I/O and the pumps go on meanwhile.
 */
static void arc_delay(const struct vfiomig_mock *m)
{
	struct timespec t;
	uint64_t ns;

	if (!m->spec.arc_ns)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t);
	ns = (uint64_t)t.tv_nsec + m->spec.arc_ns;
	t.tv_sec += (time_t)(ns / 1000000000u);
	t.tv_nsec = (long)(ns % 1000000000u);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
		;
}

/* dirtyrate='s writes up to now happen in the state the device leaves. */
static void set_recorded_state(struct vfiomig_mock *m, uint32_t s)
{
	mock_dirty_accrue(m);
	mock_lock(m);
	m->state = s;
	mock_unlock(m);
}

/* A terminating arc ends the session; bug=ended-fd-alive remembers how. */
static void end_by_arc(struct vfiomig_mock *m)
{
	mock_lock(m);
	if (m->active)
		m->active->ended_by_arc = true;
	mock_unlock(m);
	mock_session_end(m, m->active);
}

/*
 * bug=no-run-after-load: the first arc out of STOP after a load may not
 * go towards running; the one after it may.  Any arc out of STOP uses
 * up the load.
 */
static int run_after_load(struct vfiomig_mock *m, uint32_t from, uint32_t to)
{
	bool armed = m->loaded_stop;

	if (from != S(STOP))
		return 0;
	m->loaded_stop = false;
	if (!armed || !mock_bug(m, MOCK_BUG_NO_RUN_AFTER_LOAD))
		return 0;
	return to == S(RUNNING) || to == S(RUNNING_P2P) ? -EIO : 0;
}

/* One arc, as a driver's step function performs it. */
static int step(struct vfiomig_mock *m, uint32_t from, uint32_t to, int *ret_fd)
{
	bool saving_from = from == S(PRE_COPY) || from == S(PRE_COPY_P2P);
	int r;

	arc_delay(m);
	r = run_after_load(m, from, to);
	if (r)
		return r;
	if (from == S(STOP) && to == S(STOP_COPY))
		return mock_session_new(m, true, false, ret_fd);
	if ((from == S(RUNNING) && to == S(PRE_COPY)) ||
	    (from == S(RUNNING_P2P) && to == S(PRE_COPY_P2P)))
		return mock_session_new(m, true, true, ret_fd);
	if (from == S(STOP) && to == S(RESUMING))
		return mock_session_new(m, false, false, ret_fd);
	if (saving_from && to == S(STOP_COPY)) {
		mock_session_stop_copy(m, m->active);	/* same fd goes on */
		return 0;
	}
	if ((from == S(STOP_COPY) && to == S(STOP)) ||
	    (from == S(PRE_COPY) && to == S(RUNNING)) ||
	    (from == S(PRE_COPY_P2P) && to == S(RUNNING_P2P))) {
		end_by_arc(m);
		return 0;
	}
	if (from == S(RESUMING) && to == S(STOP))
		return mock_session_finish_resume(m, m->active);
	return 0;	/* run-state arcs: nothing to do */
}

/*
 * An arc failed: the device stays where it was, except that with
 * bug=failed-set-wrong a refused load drops it into RUNNING, and ends
 * the resume session, as it left RESUMING.
 */
static void failed_arc(struct vfiomig_mock *m, uint32_t cur, uint32_t next, int r,
		       uint64_t begin)
{
	bool wrong = cur == S(RESUMING) && next == S(STOP) &&
		     mock_bug(m, MOCK_BUG_FAILED_SET_WRONG);

	dbg(m->ctx, "mock %s: arc %s -> %s failed (%d); device %s %s", m->spec.name,
	    vfiomig_state_str(cur), vfiomig_state_str(next), r,
	    wrong ? "goes to" : "stays",
	    vfiomig_state_str(wrong ? S(RUNNING) : cur));
	if (!wrong)
		return;
	mock_session_end(m, m->active);
	set_recorded_state(m, S(RUNNING));
	mock_journal_add(m, cur, S(RUNNING), begin);
}

/* The driver's loop, stopping after @max_arcs arcs. */
static int walk(struct vfiomig_mock *m, uint32_t target, unsigned int max_arcs,
		int *ret_fd)
{
	uint32_t cur = m->state, next;
	unsigned int arcs = 0;

	while (cur != target && arcs < max_arcs) {
		uint64_t begin = now_ns();
		int fd = -1, r;

		r = next_hop(m->spec.mig_flags, cur, target, &next);
		if (r)
			return r;
		r = step(m, cur, next, &fd);
		if (r) {
			failed_arc(m, cur, next, r, begin);
			return r;
		}
		set_recorded_state(m, next);
		mock_journal_add(m, cur, next, begin);
		dbg(m->ctx, "mock %s: %s -> %s%s", m->spec.name,
		    vfiomig_state_str(cur), vfiomig_state_str(next),
		    fd >= 0 ? " (new data fd)" : "");
		if (fd >= 0 && next != target) {
			/* The kernel WARNs: an interior arc made a file. */
			close(fd);
			mock_session_end(m, m->active);
			return -EINVAL;
		}
		if (fd >= 0)
			*ret_fd = fd;
		cur = next;
		arcs++;
	}
	return 0;
}

/* Arcs on the kernel's path from the current state to @target. */
static unsigned int path_length(const struct vfiomig_mock *m, uint32_t target)
{
	uint32_t cur, next;
	unsigned int n = 0;

	for (cur = m->state; cur != target; cur = next, n++)
		if (next_hop(m->spec.mig_flags, cur, target, &next))
			break;
	return n;
}

/*
 * The SETs bug= gets wrong before any arc: wrong-arc does not perform
 * STOP -> RUNNING_P2P yet says it did, accepts-error takes ERROR as a
 * target (and, like a device in ERROR, ends the session).  true if one
 * of them decided the SET, with its result in *@ret.
 */
static bool broken_set(struct vfiomig_mock *m, uint32_t target, int *ret)
{
	enum vfiomig_state from = m->state;

	*ret = 0;
	if (mock_bug(m, MOCK_BUG_WRONG_ARC) && from == S(STOP) &&
	    target == S(RUNNING_P2P) && state_ok(m->spec.mig_flags, target)) {
		dbg(m->ctx, "mock %s: bug=wrong-arc: STOP -> RUNNING_P2P not made",
		    m->spec.name);
		return true;
	}
	if (mock_bug(m, MOCK_BUG_ACCEPTS_ERROR) && target == S(ERROR) &&
	    from != S(ERROR)) {
		uint64_t begin = now_ns();

		mock_session_end(m, m->active);
		set_recorded_state(m, S(ERROR));
		mock_journal_add(m, from, S(ERROR), begin);
		dbg(m->ctx, "mock %s: bug=accepts-error: now ERROR", m->spec.name);
		return true;
	}
	return false;
}

static bool saving(uint32_t s)
{
	return s == S(PRE_COPY) || s == S(PRE_COPY_P2P) || s == S(STOP_COPY);
}

/* A session state whose file is gone: a close ended it (bug=keeps-state). */
static bool stale_session(struct vfiomig_mock *m)
{
	bool stale;

	mock_lock(m);
	stale = (saving(m->state) || m->state == S(RESUMING)) &&
		(!m->active || m->active->dead);
	mock_unlock(m);
	return stale;
}

/*
 * Requests that crash some kernels, modelled by aborting the process so
 * that a test which sends one dies: bug=hang-arc, STOP_COPY -> PRE_COPY*
 * (kernels without the 2026 fix spin in vfio_mig_get_next_state());
 * bug=stale-oops, an arc that goes on with a session a close ended
 * (mtty 6.12 dereferences its NULL file: RESUMING -> STOP, or a move
 * within the saving group).
 */
static void crash_if_fatal(struct vfiomig_mock *m, uint32_t target)
{
	uint32_t from = m->state, next;

	if (mock_bug(m, MOCK_BUG_HANG_ARC) && from == S(STOP_COPY) &&
	    (target == S(PRE_COPY) || target == S(PRE_COPY_P2P))) {
		dbg(m->ctx, "mock %s: bug=hang-arc: STOP_COPY -> %s would hang the kernel",
		    m->spec.name, vfiomig_state_str(target));
		abort();
	}
	if (mock_bug(m, MOCK_BUG_STALE_OOPS) && target != from && stale_session(m) &&
	    next_hop(m->spec.mig_flags, from, target, &next) == 0 &&
	    (from == S(RESUMING) || saving(next))) {
		dbg(m->ctx, "mock %s: bug=stale-oops: %s -> %s on a closed session would "
		    "oops the kernel", m->spec.name, vfiomig_state_str(from),
		    vfiomig_state_str(next));
		abort();
	}
}

/*
 * Where fail=set leaves the device: ERROR, or a state of a newer kernel;
 * either way every data session dies, as in ERROR.
 */
static void leave_failed(struct vfiomig_mock *m, uint32_t state)
{
	mock_session_end(m, m->active);
	set_recorded_state(m, state);
}

int mock_set_state(struct vfiomig_mock *m, uint32_t target, int *ret_fd)
{
	const struct mock_fail *rule = NULL;
	unsigned int n;
	int inj, r;

	*ret_fd = -1;
	crash_if_fatal(m, target);
	inj = mock_inject(m, MOCK_K_SET, &rule);
	if (!inj && broken_set(m, target, &r))
		return r;
	if (!inj)
		return walk(m, target, UINT32_MAX, ret_fd);
	if (rule->leave == MOCK_LEAVE_UNCHANGED)
		return inj;
	if (rule->leave == MOCK_LEAVE_ERROR || rule->leave == MOCK_LEAVE_STATE) {
		leave_failed(m, rule->leave == MOCK_LEAVE_ERROR ? S(ERROR) : rule->leave_state);
		return inj;
	}
	/* mid: every arc of the path but the last, then fail on the last. */
	n = path_length(m, target);
	r = n > 1 ? walk(m, target, n - 1, ret_fd) : 0;
	if (*ret_fd >= 0) {	/* cannot happen: interior arcs make no fd */
		close(*ret_fd);
		*ret_fd = -1;
	}
	return r ? r : inj;
}

/*
 * bug=reset-keeps-fds: the device forgets its session without disabling
 * it, so its fd goes on as if nothing had happened; the mock still frees
 * it with the others.
 */
static void forget_session(struct vfiomig_mock *m)
{
	mock_lock(m);
	m->active = NULL;
	mock_unlock(m);
}

/* A reset is in the journal as an arc from wherever the device was. */
int mock_reset(struct vfiomig_mock *m)
{
	uint64_t begin = now_ns();
	uint32_t from;
	int r = mock_inject(m, MOCK_K_RESET, NULL);

	if (r)
		return r;
	mock_lock(m);
	from = m->state;
	mock_unlock(m);
	/* bug=reset-sticks: the reset is answered, not done, in PRE_COPY_P2P. */
	if (from == S(PRE_COPY_P2P) && mock_bug(m, MOCK_BUG_RESET_STICKS)) {
		dbg(m->ctx, "mock %s: bug=reset-sticks: reset ignored", m->spec.name);
		return 0;
	}
	m->loaded_stop = false;
	/* reset_done: back to RUNNING, every migration fd disabled. */
	if (mock_bug(m, MOCK_BUG_RESET_KEEPS_FDS))
		forget_session(m);
	else
		mock_session_end(m, m->active);
	set_recorded_state(m, S(RUNNING));
	mock_journal_add(m, from, S(RUNNING), begin);
	dbg(m->ctx, "mock %s: reset, now RUNNING", m->spec.name);
	return 0;
}
