/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The group object, shared by group.c, group-state.c and group-phase.c. */
#ifndef VFIOMIG_GROUP_INTERNAL_H
#define VFIOMIG_GROUP_INTERNAL_H

#include <vfiomig/group.h>

#include "private.h"

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
};

/* group.c: a group call's start; call_end() ends it. */
int group_call_begin(struct call *c, struct vfiomig_group *g);

/*
 * group-phase.c: moves every member whose @targets[i] differs from where
 * it is to that state, concurrently (a thread per member, joined before
 * this returns).  @fds: NULL, or where each member's new data fd goes.
 * Each failing member gets its errno and sentence in @errs and m[i].msg
 * (when @record); returns the number of members that failed.
 */
unsigned int group_run_phase(struct vfiomig_group *g, const enum vfiomig_state *targets,
			     int *fds, int *errs, bool record);

#endif
