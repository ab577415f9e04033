/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The group object and its call's machinery, for lib/group/ alone
 * (tests/check-layers.py refuses an include of it from another folder):
 * the other layers use a group through group.h.
 */
#ifndef VFIOMIG_GROUP_INTERNAL_H
#define VFIOMIG_GROUP_INTERNAL_H

#include "group.h"

/* One member and what the current call knows of it. */
struct group_member {
	struct vfiomig_dev *dev;
	enum vfiomig_state start;	/* where the call found it */
	enum vfiomig_state p2p;		/* where it waits between the phases */
	enum vfiomig_state back;	/* where a rollback takes it */
	int fd;				/* the data fd its final arc opened */
	struct vfiomig_group_result result;
	char msg[1024];			/* its own failure, for the call's error */
};

struct vfiomig_group {
	atomic_int refcount;
	struct vfiomig_ctx *ctx;
	unsigned int flags;
	struct owner owner;
	/* The rest is the owning thread's. */
	struct group_member m[VFIOMIG_GROUP_MAX];
	unsigned int n;
	int (*hook)(void *userdata, struct vfiomig_group *g, enum vfiomig_group_point point);
	void *hook_data;
	bool have_results;
	struct crew *crew;		/* the workers of the call in progress */
	/* The call in progress said it rolled back: a save's own rollback
	 * after its transition's is not news (group_rollback()). */
	bool said_rollback;
};

/* What the calling thread does while the members' jobs run. */
struct group_lead {
	void (*run)(void *arg);		/* once, after the workers started */
	void (*tick)(void *arg);	/* then every 100 ms until they finish */
	void *arg;
};

/*
 * group-crew.c: the call's workers, one thread per member, in g->crew.  A
 * call that runs jobs starts them before it sends anything, all or none
 * (-errno, recorded: the thread limit), and stops them before it ends.
 */
struct crew;
struct crew_task {
	void (*run)(void *arg);		/* NULL: this worker has nothing to do */
	void *arg;
};
int crew_start(struct vfiomig_group *g);
void crew_stop(struct vfiomig_group *g);
/* Hands @tasks[i] to member i's worker, runs @lead (may be NULL) on the
 * calling thread, and returns when every task has ended. */
void crew_run(struct crew *cw, const struct crew_task *tasks, const struct group_lead *lead);
/* A worker's thread function: its address tells the crew's threads apart
 * from others (the tests count them). */
void *crew_worker_main(void *arg);

/*
 * group-phase.c: runs @fn for every member (where @which is NULL or true)
 * concurrently on the call's crew, all ended before this returns; a job
 * is a call of its own.  Each failing member gets its errno in @errs and,
 * when @record, its sentence in m[i].msg; returns the number of members
 * that failed.
 */
unsigned int group_run_each(struct vfiomig_group *g, const bool *which,
			    int (*fn)(struct vfiomig_group *g, unsigned int index, void *arg),
			    void *arg, int *errs, bool record, const struct group_lead *lead);
/*
 * What a member's job does next, on its thread, once its arc of a phase
 * succeeded: a group save drains a member as soon as it is in STOP_COPY.
 * @fd: the data fd the arc opened (or -1); take it by setting it to -1.
 * @begin_ns: when the member's arc began.
 */
struct group_then {
	int (*fn)(struct vfiomig_group *g, unsigned int index, void *arg, int *fd,
		  uint64_t begin_ns);
	void *arg;
	const struct group_lead *lead;	/* the calling thread's meanwhile */
};

/*
 * Moves every member whose @targets[i] differs from where it is to that
 * state, concurrently, then runs @then (may be NULL) for it.  @fds: NULL,
 * or where each member's new data fd (or -1) goes.
 */
unsigned int group_run_phase(struct vfiomig_group *g, const enum vfiomig_state *targets,
			     int *fds, int *errs, bool record, const struct group_then *then);

/*
 * group-state.c.  group_transition() moves member i to @targets[i] in the
 * two phases, calling the hook between them (when @hook), and rolls every
 * member back if anything fails; @fds receives the new data fds (needed
 * where a final arc opens one).  The results are filled in, and @errs
 * says which members failed.
 */
int group_transition(struct call *c, struct vfiomig_group *g,
		     const enum vfiomig_state *targets, int *fds, bool hook, int *errs);
/* The same, with @then run for each member as it completes phase 2. */
int group_transition_then(struct call *c, struct vfiomig_group *g,
			  const enum vfiomig_state *targets, int *fds, bool hook, int *errs,
			  const struct group_then *then);
/* A call that drives the members: takes them, then starts its crew; -errno
 * (recorded) with nothing taken.  group_drive_end() stops the crew; the
 * members are given back by group_give_back_members() after call_end(). */
int group_drive_begin(struct vfiomig_group *g);
void group_drive_end(struct vfiomig_group *g);
/* Back to m[].back, by way of m[].p2p when @second_phase; a member that
 * cannot make a step is reset and walked there.  Said once a call. */
void group_rollback(struct vfiomig_group *g, bool second_phase);
/* The call's cause: the first failing member's sentence (@errs); or
 * -ECANCELED, unrecorded, if cancelling is all that happened. */
int group_record_cause(struct call *c, struct vfiomig_group *g, const int *errs);
/* m[].result from @errs and each member's state now. */
void group_fill_results(struct vfiomig_group *g, const int *errs);
/* Adds every member's state (m[].result) to the call's error. */
void group_note_states(struct vfiomig_group *g);
/* Whether @errs holds a member's own failure (not a cancellation). */
bool group_members_failed(struct vfiomig_group *g, const int *errs);

#endif
