/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Running one job per member at once.  A firmware arc (mlx5's SUSPEND)
 * takes milliseconds, and a device's data moves at the device's speed, so
 * four members should take one member's time, not four: each member's job
 * runs on a thread of its own.  The job is a call of its own, so its
 * error lands in its own thread's slot, whence it is copied before the
 * thread ends.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "call.h"
#include "group.h"

struct job {
	struct vfiomig_group *g;
	unsigned int index;
	int (*fn)(struct vfiomig_group *g, unsigned int index, void *arg);
	void *arg;
	struct runner *runner;
	int r;
	bool record;			/* keep the failure's sentence in m[].msg */
	pthread_t thread;
	bool threaded;
};

/* How many threaded jobs have finished: the caller's ticks wait on it. */
struct runner {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int finished;
};

static void job_run(struct job *j)
{
	struct group_member *m = &j->g->m[j->index];
	struct call c;

	call_begin_ctx(&c, j->g->ctx);
	j->r = j->fn(j->g, j->index, j->arg);
	if (j->r < 0 && j->record && c.slot)
		snprintf(m->msg, sizeof(m->msg), "%s", c.slot->rec.msg);
	call_end(&c, j->r);
}

/* A worker thread's slot ends with it: a later thread may get its id. */
static void *job_thread(void *arg)
{
	struct job *j = arg;

	job_run(j);
	call_slot_release(j->g->ctx);
	pthread_mutex_lock(&j->runner->lock);
	j->runner->finished++;
	pthread_cond_signal(&j->runner->cond);
	pthread_mutex_unlock(&j->runner->lock);
	return NULL;
}

/*
 * The workers run with every signal blocked: the caller's thread keeps
 * its signals (a SIGINT handler that raises a cancel object, say).
 * @first: the index of the first job to get a thread.
 */
static unsigned int jobs_start(struct job *jobs, unsigned int n, unsigned int first)
{
	unsigned int threaded = 0;
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned int i = first; i < n; i++) {
		jobs[i].threaded = pthread_create(&jobs[i].thread, NULL, job_thread, &jobs[i]) == 0;
		threaded += jobs[i].threaded;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return threaded;
}

/* Calls @lead every 100 ms until @threaded workers have finished. */
static void tick_until_done(struct runner *run, unsigned int threaded,
			    const struct group_lead *lead)
{
	pthread_mutex_lock(&run->lock);
	while (run->finished < threaded) {
		struct timespec t;

		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += 100000000;
		if (t.tv_nsec >= 1000000000) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000;
		}
		if (pthread_cond_timedwait(&run->cond, &run->lock, &t) == 0)
			continue;
		pthread_mutex_unlock(&run->lock);
		lead->tick(lead->arg);
		pthread_mutex_lock(&run->lock);
	}
	pthread_mutex_unlock(&run->lock);
}

static void jobs_finish(struct job *jobs, unsigned int n, unsigned int first)
{
	for (unsigned int i = 0; i < first; i++)
		job_run(&jobs[i]);
	for (unsigned int i = first; i < n; i++) {
		if (jobs[i].threaded)
			pthread_join(jobs[i].thread, NULL);
		else
			job_run(&jobs[i]);	/* no thread to be had: in turn, then */
	}
}

unsigned int group_run_each(struct vfiomig_group *g, const bool *which,
			    int (*fn)(struct vfiomig_group *g, unsigned int index, void *arg),
			    void *arg, int *errs, bool record, const struct group_lead *lead)
{
	struct runner run = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
	struct job jobs[VFIOMIG_GROUP_MAX];
	unsigned int n = 0, failed = 0, threaded, first;

	for (unsigned int i = 0; i < g->n; i++) {
		errs[i] = 0;
		if (!which || which[i])
			jobs[n++] = (struct job){ .g = g, .index = i, .fn = fn, .arg = arg,
						  .runner = &run, .record = record };
	}
	/* Without a lead, the first job runs on the calling thread: one
	 * fewer thread to make. */
	first = lead || !n ? 0 : 1;
	threaded = jobs_start(jobs, n, first);
	if (lead && lead->run)
		lead->run(lead->arg);
	if (lead && lead->tick)
		tick_until_done(&run, threaded, lead);
	jobs_finish(jobs, n, first);
	for (unsigned int k = 0; k < n; k++) {
		errs[jobs[k].index] = jobs[k].r < 0 ? -jobs[k].r : 0;
		failed += jobs[k].r < 0;
	}
	pthread_cond_destroy(&run.cond);
	pthread_mutex_destroy(&run.lock);
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
