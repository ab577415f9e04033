/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Waiting: for an fd, woken at once by a cancel object; and on a condition
 * variable, by the monotonic clock, so that a step of the wall clock
 * neither stops a periodic wake-up nor makes it spin.
 */
#ifndef VFIOMIG_WAIT_H
#define VFIOMIG_WAIT_H

#include "export.h"

#include <pthread.h>


/*
 * Waits in poll(2) until @fd is ready for @events: 0, -ECANCELED once
 * @cancel (may be NULL) is raised, or -errno.  Hang-ups and errors count
 * as ready: the read or write that follows reports them.  The conformance
 * checker's waits for its non-blocking data fds too.
 */
VFIOMIG_PRIVATE int vfiomig_wait_fd(int fd, short events, const struct vfiomig_cancel *cancel);

/* Waits @ms milliseconds: 0, or -ECANCELED once @cancel (may be NULL) is raised. */
int wait_ms(const struct vfiomig_cancel *cancel, unsigned int ms);

/* A condition variable whose timed waits count CLOCK_MONOTONIC. */
void cond_init_monotonic(pthread_cond_t *cond);
/* Waits on @cond (with @lock held) for at most @ms milliseconds: false
 * when the time ran out.  Callers re-check their predicate either way. */
bool cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *lock, unsigned int ms);

#endif
