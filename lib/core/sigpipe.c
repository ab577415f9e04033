/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Blocking SIGPIPE for a call, and taking back the one it raised (sigpipe.h). */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "sigpipe.h"

void sigpipe_block(struct sigpipe_guard *g)
{
	sigset_t pipe_set, pending;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	g->was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &g->old);
}

void sigpipe_restore(const struct sigpipe_guard *g)
{
	static const struct timespec now;
	sigset_t pipe_set, pending;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	if (!g->was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
		while (sigtimedwait(&pipe_set, NULL, &now) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}
