/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Waiting for an fd, woken at once by a cancel object. */
#ifndef VFIOMIG_WAIT_H
#define VFIOMIG_WAIT_H

#include "private.h"

/*
 * Waits in poll(2) until @fd is ready for @events: 0, -ECANCELED once
 * @cancel (may be NULL) is raised, or -errno.  Hang-ups and errors count
 * as ready: the read or write that follows reports them.
 */
int wait_fd(int fd, short events, const struct vfiomig_cancel *cancel);

#endif
