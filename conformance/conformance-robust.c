// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The conformance checks of closing and reopening the device (area
 * "robustness").  After a reopen the checker goes through the library's
 * guarded transitions (vfiomig_dev_set_state(), vfiomig_dev_reset()),
 * never raw requests:
 * a driver that keeps a session state across the close without its file
 * (mtty 6.12) oopses on RESUMING -> STOP then, and the library's guard
 * (dev-state.c, continues_session()) refuses that arc before the kernel
 * sees it.
 */
#include <errno.h>
#include <stdio.h>

#include "conformance.h"

#define S(x) VFIOMIG_STATE_##x

static int reopen(struct conf_run *run)
{
	run->dev = vfiomig_dev_unref(run->dev);
	return vfiomig_dev_open(run->ctx, run->spec, &run->dev);
}

/* A state with a data session: one that an arc opening a data fd leads to. */
static bool in_session(enum vfiomig_state s)
{
	for (int from = 1; from < VFIOMIG_STATE_COUNT; from++)
		if (vfiomig_fsm_arc_opens_fd(from, s))
			return true;
	return false;
}

/* Only a reset leaves a stale session; the guard must refuse what would continue it. */
static bool guard_holds(struct conf_run *run, enum vfiomig_state s)
{
	int r = vfiomig_dev_set_state(run->dev, s == S(RESUMING) ? S(STOP) : S(STOP_COPY), NULL);

	return r == -EBUSY || (s == S(STOP_COPY) && r == 0);
}

struct reopen_seen {
	unsigned int tried, kept;
	bool guard_failed;
};

/* Leaves @s by closing the device; what the reopened device says. */
static int close_in(struct conf_run *run, enum vfiomig_state s, struct reopen_seen *seen,
		    char *d, size_t n)
{
	enum vfiomig_state now = S(ERROR);
	char e[32];
	int fd, r = conf_reach(run, run->dev, s, &fd);

	conf_close(&fd);
	if (r < 0)
		return 0;	/* arcs.accepted says why */
	seen->tried++;
	r = reopen(run);
	if (r < 0)
		return r;
	r = conf_get(run->dev, &now);
	if (r == 0 && now == S(RUNNING))
		return 0;
	seen->kept++;
	conf_say(d, n, "%s%s", seen->kept > 1 ? ", " : "", conf_state_name(s));
	if (r < 0 || now != s)
		conf_say(d, n, " (then %s)", r < 0 ? conf_errname(r, e, sizeof(e)) :
			 conf_state_name(now));
	if (r == 0 && in_session(now) && !guard_holds(run, now)) {
		seen->guard_failed = true;
		conf_say(d, n, " (the library's guard did not hold)");
	}
	conf_reset(run->dev);
	return 0;
}

enum vfiomig_verdict conf_reopen_state(struct conf_run *run, char *d, size_t n)
{
	struct reopen_seen seen = { 0 };
	char head[DETAIL_HEAD], e[32];

	for (int s = 1; s < VFIOMIG_STATE_COUNT; s++) {
		int r = conf_has(run, s) ? close_in(run, s, &seen, d, n) : 0;

		if (r < 0) {
			conf_say(d, n, "%scould not reopen after %s: %s", d[0] ? "; " : "",
				 conf_state_name(s), conf_errname(r, e, sizeof(e)));
			return VFIOMIG_VERDICT_FAIL;
		}
	}
	snprintf(head, sizeof(head), "RUNNING after closing in %u of %u states%s",
		 seen.tried - seen.kept, seen.tried, seen.kept ? "; these stay across the close" :
		 "");
	conf_lead(d, n, head, 0);
	if (seen.guard_failed)
		return VFIOMIG_VERDICT_FAIL;
	if (seen.kept) {
		conf_say(d, n, "; a VMM must reset a device it opens");
		return VFIOMIG_VERDICT_DEVIATION;
	}
	return VFIOMIG_VERDICT_PASS;
}

/* Data moving through an fd whose opener closed the device is a deviation. */
static enum vfiomig_verdict moved_after_reopen(ssize_t moved)
{
	return moved > 0 ? VFIOMIG_VERDICT_DEVIATION : VFIOMIG_VERDICT_PASS;
}

enum vfiomig_verdict conf_reopen_session(struct conf_run *run, char *d, size_t n)
{
	return conf_sessions_after(run, reopen, "a reopen", moved_after_reopen, d, n);
}
