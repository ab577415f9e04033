/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A group's transition in two phases (uAPI: every device reaches a P2P
 * state before any stops, and again before any runs), with the caller's
 * hook between them, and the rollback of every member when anything fails.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "group-internal.h"
#include "export.h"
#include "call.h"
#include "log.h"
#include "states.h"
#include "dev.h"
#include "util.h"

enum direction { DIR_NONE, DIR_DOWN, DIR_UP };

static bool is_running(enum vfiomig_state s)
{
	return s == VFIOMIG_STATE_RUNNING || s == VFIOMIG_STATE_PRE_COPY;
}

static bool is_p2p(enum vfiomig_state s)
{
	return s == VFIOMIG_STATE_RUNNING_P2P || s == VFIOMIG_STATE_PRE_COPY_P2P;
}

/*
 * Where a rollback takes a member: where it started, unless that is inside
 * a migration session, which no request can enter again without a new data
 * fd.  Then the nearest state outside it: STOP from RESUMING (the data the
 * member was given stays loaded, and it does not run) or STOP_COPY, and
 * the running state from pre-copy.
 */
static enum vfiomig_state back_state(enum vfiomig_state start)
{
	switch (start) {
	case VFIOMIG_STATE_RESUMING:
	case VFIOMIG_STATE_STOP_COPY:
		return VFIOMIG_STATE_STOP;
	case VFIOMIG_STATE_PRE_COPY:
		return VFIOMIG_STATE_RUNNING;
	case VFIOMIG_STATE_PRE_COPY_P2P:
		return VFIOMIG_STATE_RUNNING_P2P;
	default:
		return start;
	}
}

/*
 * Where a member waits between the phases: leaving a running state, the
 * first P2P state of its path; entering one, the last P2P state before it.
 * A member without P2P states waits where it is, as the kernel's paths
 * skip those states for it.  *ret_opens_fd: the final arc opens a data fd.
 */
static int plan_member(struct group_member *m, enum vfiomig_state target,
		       enum direction *ret_dir, bool *ret_opens_fd)
{
	enum vfiomig_state path[VFIOMIG_STATE_COUNT];
	int r = dev_get_state(m->dev, &m->start), n;

	if (r < 0)
		return r;
	n = dev_plan(m->dev, m->start, target, path, ARRAY_SIZE(path));
	if (n < 0)
		return n;
	m->p2p = m->start;
	m->back = back_state(m->start);
	*ret_dir = DIR_NONE;
	*ret_opens_fd = n > 0 && vfiomig_fsm_arc_opens_fd(n > 1 ? path[n - 2] : m->start, target);
	if (is_running(m->start) && !is_running(target)) {
		*ret_dir = DIR_DOWN;
		for (int i = 0; i < n && m->p2p == m->start; i++)
			if (is_p2p(path[i]))
				m->p2p = path[i];
	} else if (!is_running(m->start) && is_running(target)) {
		*ret_dir = DIR_UP;
		for (int i = n - 2; i >= 0 && m->p2p == m->start; i--)
			if (is_p2p(path[i]))
				m->p2p = path[i];
	}
	return 0;
}

/* One member's plan, checked against the group's rules. */
static int plan_check(struct vfiomig_group *g, struct group_member *m,
		      enum vfiomig_state target, bool have_fds, enum direction *dir)
{
	enum direction d;
	bool opens_fd;
	int r = plan_member(m, target, &d, &opens_fd);

	if (r < 0)
		return r;
	if (opens_fd && !have_fds)
		return vfiomig_fail(g->ctx, -EINVAL, "%s: entering %s opens a data fd; pass "
				    "somewhere to return the members' fds", m->dev->name,
				    vfiomig_state_str(target));
	if (d != DIR_NONE && *dir != DIR_NONE && d != *dir)
		return vfiomig_fail(g->ctx, -EINVAL, "%s would start running while other "
				    "members stop: bring the members to one side first",
				    m->dev->name);
	if (d != DIR_NONE)
		*dir = d;
	if (g->n > 1 && !(m->dev->mig_flags & VFIOMIG_MIG_P2P) &&
	    !(g->flags & VFIOMIG_GROUP_ALLOW_NO_P2P))
		return vfiomig_fail(g->ctx, -EOPNOTSUPP, "%s: the device has no P2P states, so it "
				    "would stop while its peers can still write to it; allow "
				    "members without P2P only if no peer ever DMAs into them",
				    m->dev->name);
	return 0;
}

/*
 * Checks every member before anything is sent; the direction of the group.
 * On a refusal, @errs says which member it was about.
 */
static int plan(struct vfiomig_group *g, const enum vfiomig_state *targets, bool have_fds,
		enum direction *ret_dir, int *errs)
{
	int r = 0;

	*ret_dir = DIR_NONE;
	for (unsigned int i = 0; i < g->n && r == 0; i++) {
		r = plan_check(g, &g->m[i], targets[i], have_fds, ret_dir);
		errs[i] = -r;
	}
	return r;
}

/* Members that could not make a step of the rollback: reset, then walked
 * to where the others went, before the others move on. */
static void bring_back(struct vfiomig_group *g, const enum vfiomig_state *to, const int *errs)
{
	for (unsigned int i = 0; i < g->n; i++) {
		enum vfiomig_state now;

		if (errs[i] && dev_recover(g->m[i].dev, &now) >= 0 && now != to[i])
			dev_set_state(g->m[i].dev, to[i], NULL);
	}
}

/* Each member back where the call found it (back_state()): the second
 * phase undone, then the first, so that going back keeps the two phases. */
void group_rollback(struct vfiomig_group *g, bool second_phase)
{
	enum vfiomig_state back[VFIOMIG_GROUP_MAX];
	int errs[VFIOMIG_GROUP_MAX];

	if (second_phase) {
		for (unsigned int i = 0; i < g->n; i++)
			back[i] = g->m[i].p2p;
		group_run_phase(g, back, NULL, errs, false, NULL);
		bring_back(g, back, errs);
	}
	for (unsigned int i = 0; i < g->n; i++)
		back[i] = g->m[i].back;
	group_run_phase(g, back, NULL, errs, false, NULL);
	bring_back(g, back, errs);
	if (!g->said_rollback)
		info(g->ctx, "group of %u: rolled back", g->n);
	g->said_rollback = true;
}

/*
 * The call's cause is the first failing member's own failure, in the
 * group's order; recorded before the rollback, which then cannot replace
 * it.  A cancelled member is nobody's failure: if cancelling is all that
 * happened, -ECANCELED comes back unrecorded, for the caller to say so.
 */
int group_record_cause(struct call *c, struct vfiomig_group *g, const int *errs)
{
	unsigned int first = 0;

	while (first < g->n && (!errs[first] || errs[first] == ECANCELED))
		first++;
	if (first == g->n)
		return -ECANCELED;
	call_report(c, g->m[first].dev);
	return vfiomig_fail(g->ctx, -errs[first], "%s", g->m[first].msg);
}

/*
 * Where every member is after the rollback, after the cause, then what to
 * do about each member that cannot stay where it is; and the fact that the
 * sentence lists every member's state, where the list fit whole, for
 * programs that would otherwise repeat it.
 */
void group_note_states(struct vfiomig_group *g)
{
	char states[768] = "members now:", todos[768] = "", where[STATE_PHRASE_MAX], todo[256];
	bool whole = true;

	for (unsigned int i = 0; i < g->n; i++) {
		const struct group_member *m = &g->m[i];
		enum vfiomig_state st;
		size_t len = strlen(states), room = sizeof(states) - len;
		int r = dev_report_state(m->dev, &st, where, sizeof(where), todo, sizeof(todo));

		if ((size_t)snprintf(states + len, room, "%s %s %s", i ? "," : "", m->dev->name,
				     r == 0 || r == -EPROTO ? where : "unknown") >= room)
			whole = false;
		len = strlen(todos);
		if ((r == 0 || r == -EPROTO) && todo[0])
			snprintf(todos + len, sizeof(todos) - len, "; %s: %s", m->dev->name, todo);
	}
	if (vfiomig_call_note(g->ctx, states) && whole)
		vfiomig_note_fact(g->ctx, CALL_FACT_MEMBER_STATES);
	if (todos[0])
		vfiomig_call_note(g->ctx, todos + 2);
}

bool group_members_failed(struct vfiomig_group *g, const int *errs)
{
	for (unsigned int i = 0; i < g->n; i++)
		if (errs[i] && errs[i] != ECANCELED)
			return true;
	return false;
}

void group_fill_results(struct vfiomig_group *g, const int *errs)
{
	for (unsigned int i = 0; i < g->n; i++) {
		struct group_member *m = &g->m[i];

		m->result = (struct vfiomig_group_result){ .sz = sizeof(m->result), .err = errs[i] };
		m->result.has_state = dev_read_state(m->dev, &m->result.state) == 0;
	}
	g->have_results = true;
}

static int call_hook(struct vfiomig_group *g, enum direction dir, int *errs)
{
	enum vfiomig_group_point point = dir == DIR_DOWN ? VFIOMIG_GROUP_QUIESCED :
				     VFIOMIG_GROUP_READY;
	int r = g->hook && dir != DIR_NONE ? g->hook(g->hook_data, g, point) : 0;

	if (r >= 0)
		return 0;
	/* Nobody's own failure: the call's error says the hook refused. */
	vfiomig_fail(g->ctx, r, "the caller refused the group at %s: %s",
		     point == VFIOMIG_GROUP_QUIESCED ? "QUIESCED" : "READY", strerror(-r));
	for (unsigned int i = 0; i < g->n; i++)
		errs[i] = 0;
	return r;
}

int group_transition(struct call *c, struct vfiomig_group *g,
		     const enum vfiomig_state *targets, int *ret_fds, bool hook, int *errs)
{
	return group_transition_then(c, g, targets, ret_fds, hook, errs, NULL);
}

int group_transition_then(struct call *c, struct vfiomig_group *g,
			  const enum vfiomig_state *targets, int *ret_fds, bool hook, int *errs,
			  const struct group_then *then)
{
	enum vfiomig_state want[VFIOMIG_GROUP_MAX] = { 0 };
	int fds[VFIOMIG_GROUP_MAX];
	enum direction dir;
	unsigned int failed;
	bool second = false;
	int r;

	memset(errs, 0, g->n * sizeof(*errs));
	r = plan(g, targets, ret_fds != NULL, &dir, errs);

	if (r < 0) {
		/* The refusal is about the member that was being planned. */
		for (unsigned int i = 0; i < g->n; i++)
			if (errs[i])
				call_report(c, g->m[i].dev);
		group_fill_results(g, errs);
		return r;
	}
	for (unsigned int i = 0; i < g->n; i++) {
		want[i] = g->m[i].p2p;
		fds[i] = -1;
	}
	failed = group_run_phase(g, want, NULL, errs, true, NULL);
	r = failed || !hook ? 0 : call_hook(g, dir, errs);
	if (!failed && r == 0) {
		second = true;
		failed = group_run_phase(g, targets, fds, errs, true, then);
	}
	if (failed)
		r = group_record_cause(c, g, errs);
	if (r < 0) {
		for (unsigned int i = 0; i < g->n; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		group_rollback(g, second);
	}
	group_fill_results(g, errs);
	if (r == 0 && ret_fds)
		memcpy(ret_fds, fds, g->n * sizeof(*fds));
	return r;
}

/* Every member for this call's thread, or none. */
int group_take_members(struct vfiomig_group *g)
{
	for (unsigned int i = 0; i < g->n; i++) {
		int r = owner_take(&g->m[i].dev->owner, false);

		if (r == 0) {
			dev_drive_begin(g->m[i].dev);
			continue;
		}
		for (unsigned int k = 0; k < i; k++)
			owner_give_back(&g->m[k].dev->owner);
		if (r == -EDEADLK)
			return call_fail_reentry(g->ctx, g->m[i].dev->name);
		return vfiomig_fail(g->ctx, r, "another thread is driving %s, a member of the "
				    "group", g->m[i].dev->name);
	}
	return 0;
}

void group_give_back_members(struct vfiomig_group *g)
{
	for (unsigned int i = 0; i < g->n; i++)
		owner_give_back(&g->m[i].dev->owner);
}

int group_drive_begin(struct vfiomig_group *g)
{
	int r = group_take_members(g);

	if (r < 0)
		return r;
	r = crew_start(g);
	if (r < 0)
		group_give_back_members(g);
	g->said_rollback = false;
	return r;
}

void group_drive_end(struct vfiomig_group *g)
{
	crew_stop(g);
}

VFIOMIG_EXPORT int vfiomig_group_set_state(struct vfiomig_group *g, enum vfiomig_state target,
					   int *ret_data_fds)
{
	enum vfiomig_state targets[VFIOMIG_GROUP_MAX];
	int errs[VFIOMIG_GROUP_MAX];
	struct call c;
	int r = group_call_begin(&c, g);

	if (r == 0 && !vfiomig_state_valid(target))
		r = vfiomig_fail(g->ctx, -EINVAL, "%d is not a migration state (0 to %d)",
				 (int)target, VFIOMIG_STATE_COUNT - 1);
	if (r == 0)
		r = group_drive_begin(g);
	if (r < 0)
		return call_end(&c, r);
	for (unsigned int i = 0; i < g->n; i++)
		targets[i] = target;
	/* The members stay this thread's until the call's end has read the
	 * failing one's state. */
	r = group_transition(&c, g, targets, ret_data_fds, true, errs);
	group_drive_end(g);
	/* A refusal before anything moved, or the caller's hook: no news. */
	if (r < 0 && group_members_failed(g, errs))
		group_note_states(g);
	r = call_end(&c, r);
	group_give_back_members(g);
	return r;
}
