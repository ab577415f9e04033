/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A group call's crew: one worker thread per member, started all or none
 * before the call sends anything to a device, handed one task per member
 * at a time, and joined when the call ends.  A save with many pre-copy
 * rounds runs many tasks on each worker; it never starts a thread per
 * round.
 *
 * All or none, because a task may wait for another: a group load's reader
 * waits for the members' workers to give its buffers back, so a call that
 * ran a missing worker's task after the others would hang.  QEMU's multifd
 * refuses to run with a channel thread missing for the same reason.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "group-internal.h"
#include "wait.h"
#include "log.h"
#include "util.h"

struct crew_worker {
	struct crew *crew;
	pthread_t thread;
	pthread_cond_t wake;		/* a task came, or the crew stops */
	struct crew_task task;		/* run == NULL: idle */
};

struct crew {
	struct vfiomig_ctx *ctx;
	pthread_mutex_t lock;		/* the tasks, @pending and @stopping */
	pthread_cond_t done;		/* @pending reached 0 */
	unsigned int pending;		/* tasks handed out and not ended */
	bool stopping;
	unsigned int n;			/* workers started */
	struct crew_worker w[VFIOMIG_GROUP_MAX];
};

void *crew_worker_main(void *arg)
{
	struct crew_worker *w = arg;
	struct crew *cw = w->crew;

	pthread_mutex_lock(&cw->lock);
	for (;;) {
		struct crew_task t;

		while (!w->task.run && !cw->stopping)
			pthread_cond_wait(&w->wake, &cw->lock);
		if (!w->task.run)
			break;
		t = w->task;
		pthread_mutex_unlock(&cw->lock);
		t.run(t.arg);
		pthread_mutex_lock(&cw->lock);
		w->task.run = NULL;
		if (--cw->pending == 0)
			pthread_cond_signal(&cw->done);
	}
	pthread_mutex_unlock(&cw->lock);
	/* A worker's error slot ends with it: a later thread may get its id. */
	call_slot_release(cw->ctx);
	return NULL;
}

static void crew_free(struct crew *cw)
{
	pthread_mutex_lock(&cw->lock);
	cw->stopping = true;
	for (unsigned int i = 0; i < cw->n; i++)
		pthread_cond_signal(&cw->w[i].wake);
	pthread_mutex_unlock(&cw->lock);
	for (unsigned int i = 0; i < cw->n; i++) {
		pthread_join(cw->w[i].thread, NULL);
		pthread_cond_destroy(&cw->w[i].wake);
	}
	pthread_cond_destroy(&cw->done);
	pthread_mutex_destroy(&cw->lock);
	free(cw);
}

/* The workers run with every signal blocked: the caller's thread keeps its
 * signals (a SIGINT handler that raises a cancel object, say). */
static int start_workers(struct crew *cw, unsigned int n)
{
	sigset_t all, old;
	int err = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (cw->n < n && !err) {
		struct crew_worker *w = &cw->w[cw->n];

		w->crew = cw;
		pthread_cond_init(&w->wake, NULL);
		err = pthread_create(&w->thread, NULL, crew_worker_main, w);
		if (err)
			pthread_cond_destroy(&w->wake);
		else
			cw->n++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -err;
}

int crew_start(struct vfiomig_group *g)
{
	struct crew *cw = calloc(1, sizeof(*cw));
	int r;

	if (!cw)
		return vfiomig_fail(g->ctx, -ENOMEM, "out of memory for the group's workers; "
				    "nothing was sent to any member");
	cw->ctx = g->ctx;
	pthread_mutex_init(&cw->lock, NULL);
	cond_init_monotonic(&cw->done);
	r = start_workers(cw, g->n);
	if (r < 0) {
		unsigned int started = cw->n;

		crew_free(cw);
		return vfiomig_fail(g->ctx, r, "cannot start a worker thread for each of the "
				    "group's %u %s (%u started, then pthread_create: %s): the "
				    "process is at its thread limit (RLIMIT_NPROC, a cgroup's "
				    "pids.max, systemd's TasksMax=); nothing was sent to any member",
				    g->n, plural(g->n, "member", "members"), started, strerror(-r));
	}
	g->crew = cw;
	return 0;
}

void crew_stop(struct vfiomig_group *g)
{
	if (g->crew)
		crew_free(g->crew);
	g->crew = NULL;
}

/* Calls @lead's tick every 100 ms until every task has ended. */
static void wait_tasks(struct crew *cw, const struct group_lead *lead)
{
	pthread_mutex_lock(&cw->lock);
	while (cw->pending) {
		if (!lead || !lead->tick) {
			pthread_cond_wait(&cw->done, &cw->lock);
			continue;
		}
		if (cond_wait_ms(&cw->done, &cw->lock, 100))
			continue;
		pthread_mutex_unlock(&cw->lock);
		lead->tick(lead->arg);
		pthread_mutex_lock(&cw->lock);
	}
	pthread_mutex_unlock(&cw->lock);
}

void crew_run(struct crew *cw, const struct crew_task *tasks, const struct group_lead *lead)
{
	pthread_mutex_lock(&cw->lock);
	for (unsigned int i = 0; i < cw->n; i++) {
		if (!tasks[i].run)
			continue;
		cw->w[i].task = tasks[i];
		cw->pending++;
		pthread_cond_signal(&cw->w[i].wake);
	}
	pthread_mutex_unlock(&cw->lock);
	if (lead && lead->run)
		lead->run(lead->arg);
	wait_tasks(cw, lead);
}
