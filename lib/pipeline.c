/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The producer/consumer ring behind save and load. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "pipeline.h"

int pipeline_init(struct pipeline *p, unsigned int nslots, size_t slot_size,
		  const volatile sig_atomic_t *cancel)
{
	pthread_condattr_t attr;
	size_t len = (size_t)nslots * slot_size;
	uint8_t *mem;

	*p = (struct pipeline){ .nslots = nslots, .slot_size = slot_size, .cancel = cancel };
	p->slots = calloc(nslots, sizeof(*p->slots));
	if (!p->slots)
		return -ENOMEM;
	/*
	 * One mapping for every slot, faulted in at once, on huge pages where
	 * the kernel gives them (THP "madvise" mode): 4 KiB page faults, one
	 * per 4 KiB of a ring that is filled anyway, cost more than the copies
	 * of a short save or load, most of all in a VM.  Both calls are best
	 * effort (before Linux 5.14 the second one fails and the pages fault in
	 * as they are used).
	 */
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		free(p->slots);
		p->slots = NULL;
		return -ENOMEM;
	}
	(void)madvise(mem, len, MADV_HUGEPAGE);
	(void)madvise(mem, len, MADV_POPULATE_WRITE);
	p->mem = mem;
	p->mem_len = len;
	for (unsigned int i = 0; i < nslots; i++)
		p->slots[i].data = mem + (size_t)i * slot_size;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &attr);
	pthread_condattr_destroy(&attr);
	return 0;
}

#define CANCEL_POLL_NS 100000000L

/* Waits for a change, or for the cancel flag; call with the lock held. */
static void wait_locked(struct pipeline *p)
{
	struct timespec until;

	if (!p->cancel) {
		pthread_cond_wait(&p->cond, &p->lock);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += CANCEL_POLL_NS;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&p->cond, &p->lock, &until);
	if (*p->cancel && !p->error) {
		p->error = -ECANCELED;
		pthread_cond_broadcast(&p->cond);
	}
}

void pipeline_destroy(struct pipeline *p)
{
	if (!p->slots)
		return;
	if (p->running)
		pipeline_join(p);
	munmap(p->mem, p->mem_len);
	free(p->slots);
	p->slots = NULL;
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
}

struct start {
	void *(*fn)(void *);
	void *arg;
};

static void *thread_main(void *data)
{
	struct start s = *(struct start *)data;
	sigset_t pipe_set;

	free(data);
	/* A reader that goes away must give EPIPE, not kill the process.  A
	 * SIGPIPE left pending on this thread dies with it. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
	return s.fn(s.arg);
}

int pipeline_start(struct pipeline *p, void *(*fn)(void *), void *arg)
{
	struct start *s = malloc(sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	*s = (struct start){ fn, arg };
	r = pthread_create(&p->thread, NULL, thread_main, s);
	if (r) {
		free(s);
		return -r;
	}
	p->running = true;
	return 0;
}

int pipeline_join(struct pipeline *p)
{
	if (p->running) {
		pthread_join(p->thread, NULL);
		p->running = false;
	}
	return pipeline_error(p);
}

struct pipeline_slot *pipeline_get_free(struct pipeline *p)
{
	struct pipeline_slot *slot = NULL;

	pthread_mutex_lock(&p->lock);
	if (p->cancel && *p->cancel && !p->error)
		p->error = -ECANCELED;
	while (!p->error && p->pushed - p->released == p->nslots)
		wait_locked(p);
	if (!p->error)
		slot = &p->slots[p->pushed % p->nslots];
	pthread_mutex_unlock(&p->lock);
	return slot;
}

void pipeline_push(struct pipeline *p)
{
	pthread_mutex_lock(&p->lock);
	p->pushed++;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void pipeline_close(struct pipeline *p)
{
	pthread_mutex_lock(&p->lock);
	p->closed = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

struct pipeline_slot *pipeline_pop(struct pipeline *p)
{
	struct pipeline_slot *slot = NULL;

	pthread_mutex_lock(&p->lock);
	while (!p->error && !p->closed && p->popped == p->pushed)
		wait_locked(p);
	if (!p->error && p->popped < p->pushed)
		slot = &p->slots[p->popped++ % p->nslots];
	pthread_mutex_unlock(&p->lock);
	return slot;
}

void pipeline_release(struct pipeline *p)
{
	pthread_mutex_lock(&p->lock);
	p->released++;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void pipeline_fail(struct pipeline *p, int err)
{
	pthread_mutex_lock(&p->lock);
	if (!p->error)
		p->error = err;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

int pipeline_error(struct pipeline *p)
{
	int err;

	pthread_mutex_lock(&p->lock);
	if (p->cancel && *p->cancel && !p->error) {
		p->error = -ECANCELED;
		pthread_cond_broadcast(&p->cond);
	}
	err = p->error;
	pthread_mutex_unlock(&p->lock);
	return err;
}
