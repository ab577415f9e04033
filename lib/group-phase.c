/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One phase of a group transition: every member's arcs at once.  A
 * firmware arc (mlx5's SUSPEND) takes milliseconds, so a phase of four
 * devices should take one device's time, not four: each member moves on a
 * thread of its own.  The worker makes the member's transition as a call
 * of its own, so its error lands in its own thread's slot, whence it is
 * copied before the thread ends.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "call.h"
#include "group.h"

struct job {
	struct vfiomig_dev *dev;
	enum vfiomig_state target;
	int *fd;			/* NULL: no data fd may open */
	int r;
	char *msg;			/* NULL: do not keep the sentence */
	size_t msg_size;
	pthread_t thread;
	bool threaded;
};

static void *job_run(void *arg)
{
	struct job *j = arg;
	struct call c;
	int fd = -1;

	call_begin_ctx(&c, j->dev->ctx);
	j->r = dev_set_state(j->dev, j->target, j->fd ? &fd : NULL);
	if (j->r < 0 && j->msg && c.slot)
		snprintf(j->msg, j->msg_size, "%s", c.slot->rec.msg);
	if (j->fd)
		*j->fd = fd;
	call_end(&c, j->r);
	return NULL;
}

/* A worker thread's slot ends with it: a later thread may get its id. */
static void *job_thread(void *arg)
{
	struct job *j = arg;

	job_run(j);
	call_slot_release(j->dev->ctx);
	return NULL;
}

/*
 * The workers run with every signal blocked: the caller's thread keeps
 * its signals (a SIGINT handler that raises a cancel object, say).
 */
static void jobs_start(struct job *jobs, unsigned int n)
{
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* The first job runs on the calling thread; one fewer thread to make. */
	for (unsigned int i = 1; i < n; i++)
		jobs[i].threaded = pthread_create(&jobs[i].thread, NULL, job_thread, &jobs[i]) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void jobs_finish(struct job *jobs, unsigned int n)
{
	if (n)
		job_run(&jobs[0]);
	for (unsigned int i = 1; i < n; i++) {
		if (jobs[i].threaded)
			pthread_join(jobs[i].thread, NULL);
		else
			job_run(&jobs[i]);	/* no thread to be had: in turn, then */
	}
}

unsigned int group_run_phase(struct vfiomig_group *g, const enum vfiomig_state *targets,
			     int *fds, int *errs, bool record)
{
	struct job jobs[VFIOMIG_GROUP_MAX];
	unsigned int idx[VFIOMIG_GROUP_MAX], n = 0, failed = 0;

	for (unsigned int i = 0; i < g->n; i++) {
		enum vfiomig_state now;

		errs[i] = 0;
		if (dev_read_state(g->m[i].dev, &now) == 0 && now == targets[i])
			continue;
		jobs[n] = (struct job){
			.dev = g->m[i].dev, .target = targets[i], .fd = fds ? &fds[i] : NULL,
			.msg = record ? g->m[i].msg : NULL, .msg_size = sizeof(g->m[i].msg),
		};
		idx[n++] = i;
	}
	jobs_start(jobs, n);
	jobs_finish(jobs, n);
	for (unsigned int k = 0; k < n; k++) {
		errs[idx[k]] = jobs[k].r < 0 ? -jobs[k].r : 0;
		failed += jobs[k].r < 0;
	}
	return failed;
}
