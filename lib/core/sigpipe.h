/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A write to a pipe whose reader is gone raises SIGPIPE, which kills a
 * process that did not ask for it.  Save and load (and the conformance
 * checker, whose writes reach a mock's pipes) block it on the calling
 * thread for the call, and take back a SIGPIPE their own writes raised, so
 * that they fail with EPIPE instead.  A SIGPIPE that was pending before is
 * left pending.  Pure POSIX: libvfiomig-conformance builds this file in too.
 */
#ifndef VFIOMIG_SIGPIPE_H
#define VFIOMIG_SIGPIPE_H

#include <signal.h>
#include <stdbool.h>

struct sigpipe_guard {
	sigset_t old;
	bool was_pending;
};

void sigpipe_block(struct sigpipe_guard *g);
void sigpipe_restore(const struct sigpipe_guard *g);

#endif
