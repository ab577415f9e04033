/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Running one job per member at once.  A firmware arc (mlx5's SUSPEND)
 * takes milliseconds, and a device's data moves at the device's speed, so
 * four members should take one member's time, not four: each member's job
 * runs on its worker of the call's crew (group-crew.c).  The job is a call
 * of its own, so its error lands in its own thread's slot, whence it is
 * copied before the job ends.
 */
#include <stdio.h>
#include <string.h>

#include "call.h"
#include "group-internal.h"
#include "dev.h"
#include "util.h"

struct job {
	struct vfiomig_group *g;
	unsigned int index;
	int (*fn)(struct vfiomig_group *g, unsigned int index, void *arg);
	void *arg;
	int r;
	bool record;			/* keep the failure's sentence in m[].msg */
};

static void job_run(void *arg)
{
	struct job *j = arg;
	struct group_member *m = &j->g->m[j->index];
	struct call c;

	call_begin_ctx(&c, j->g->ctx);
	j->r = j->fn(j->g, j->index, j->arg);
	if (j->r < 0 && j->record && c.slot)
		snprintf(m->msg, sizeof(m->msg), "%s", c.slot->rec.msg);
	call_end(&c, j->r);
}

unsigned int group_run_each(struct vfiomig_group *g, const bool *which,
			    int (*fn)(struct vfiomig_group *g, unsigned int index, void *arg),
			    void *arg, int *errs, bool record, const struct group_lead *lead)
{
	struct crew_task tasks[VFIOMIG_GROUP_MAX] = { { NULL, NULL } };
	struct job jobs[VFIOMIG_GROUP_MAX];
	unsigned int failed = 0;

	for (unsigned int i = 0; i < g->n; i++) {
		errs[i] = 0;
		if (which && !which[i])
			continue;
		jobs[i] = (struct job){ .g = g, .index = i, .fn = fn, .arg = arg, .record = record };
		tasks[i] = (struct crew_task){ job_run, &jobs[i] };
	}
	crew_run(g->crew, tasks, lead);
	for (unsigned int i = 0; i < g->n; i++) {
		if (!tasks[i].run || jobs[i].r >= 0)
			continue;
		errs[i] = -jobs[i].r;
		failed++;
	}
	return failed;
}

struct phase {
	const enum vfiomig_state *targets;
	int *fds;
	const struct group_then *then;
};

static int move_member(struct vfiomig_group *g, unsigned int i, void *arg)
{
	const struct phase *p = arg;
	uint64_t begin = now_ns();
	int fd = -1, r = dev_set_state(g->m[i].dev, p->targets[i], p->fds ? &fd : NULL);

	if (r == 0 && p->then)
		r = p->then->fn(g, i, p->then->arg, &fd, begin);
	if (p->fds)
		p->fds[i] = fd;
	return r;
}

unsigned int group_run_phase(struct vfiomig_group *g, const enum vfiomig_state *targets,
			     int *fds, int *errs, bool record, const struct group_then *then)
{
	struct phase p = { targets, fds, then };
	bool which[VFIOMIG_GROUP_MAX];

	for (unsigned int i = 0; i < g->n; i++) {
		enum vfiomig_state now;

		which[i] = !(dev_read_state(g->m[i].dev, &now) == 0 && now == targets[i]);
	}
	return group_run_each(g, which, move_member, &p, errs, record, then ? then->lead : NULL);
}
