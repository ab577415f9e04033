/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Waiting for an fd or on a condition variable (wait.h). */
#include <poll.h>
#include <time.h>

#include "wait.h"
#include "cancel.h"
#include "util.h"

int vfiomig_wait_fd(int fd, short events, const struct vfiomig_cancel *cancel)
{
	struct pollfd p[2] = {
		{ .fd = fd, .events = events },
		{ .fd = cancel_fd(cancel), .events = POLLIN },
	};

	for (;;) {
		int n;

		if (cancel_raised(cancel))
			return -ECANCELED;
		n = poll(p, cancel ? 2 : 1, -1);
		/* The eventfd is the cancel, even where a clear racing a raise
		 * left the flag down: waiting on would spin. */
		if (n > 0 && (p[1].revents & POLLIN))
			return -ECANCELED;
		if (n > 0 && p[0].revents)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int wait_ms(const struct vfiomig_cancel *cancel, unsigned int ms)
{
	struct pollfd p = { .fd = cancel_fd(cancel), .events = POLLIN };

	/* an EINTR cuts the wait short, which only means one more round */
	if (cancel_raised(cancel) || poll(&p, cancel ? 1 : 0, (int)ms) > 0)
		return -ECANCELED;
	return 0;
}

void cond_init_monotonic(pthread_cond_t *cond)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &a);
	pthread_condattr_destroy(&a);
}

bool cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *lock, unsigned int ms)
{
	uint64_t at = now_ns() + (uint64_t)ms * 1000000u;
	struct timespec t = { .tv_sec = (time_t)(at / 1000000000u),
			      .tv_nsec = (long)(at % 1000000000u) };

	return pthread_cond_timedwait(cond, lock, &t) != ETIMEDOUT;
}
