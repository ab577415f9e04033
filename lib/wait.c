/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Waiting for an fd, woken at once by a cancel object. */
#include <poll.h>

#include "wait.h"

int wait_fd(int fd, short events, const struct vfiomig_cancel *cancel)
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
