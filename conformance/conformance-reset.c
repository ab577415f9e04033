// SPDX-License-Identifier: LGPL-2.1-or-later
/* The conformance checks of VFIO_DEVICE_RESET (area "reset"). */
#include <errno.h>
#include <stdio.h>

#include "conformance.h"

#define S(x) VFIOMIG_STATE_##x

/* Reset in @s; 0 when GET then says RUNNING. */
static int reset_in(struct conf_run *run, enum vfiomig_state s, char *d, size_t n)
{
	enum vfiomig_state now = S(ERROR);
	char e[32];
	int fd, r = conf_reach(run, run->dev, s, &fd);

	if (r < 0) {
		conf_say(d, n, "%s%s not reached (%s)", d[0] ? "; " : "", conf_state_name(s),
			 conf_errname(r, e, sizeof(e)));
		conf_close(&fd);
		return 0;	/* not the reset's fault: arcs.accepted says it */
	}
	r = conf_reset(run->dev);
	if (r == 0)
		r = conf_get(run->dev, &now);
	conf_close(&fd);
	if (r == 0 && now == S(RUNNING))
		return 0;
	if (r < 0)
		conf_say(d, n, "%sreset in %s: %s", d[0] ? "; " : "", conf_state_name(s),
			 conf_errname(r, e, sizeof(e)));
	else
		conf_say(d, n, "%sreset in %s left %s", d[0] ? "; " : "", conf_state_name(s),
			 conf_state_name(now));
	return -1;
}

enum vfiomig_verdict conf_reset_states(struct conf_run *run, char *d, size_t n)
{
	unsigned int tried = 0, bad = 0;
	char head[DETAIL_HEAD];

	for (int s = 1; s < VFIOMIG_STATE_COUNT; s++)
		if (conf_has(run, s)) {
			tried++;
			bad += reset_in(run, s, d, n) < 0;
		}
	snprintf(head, sizeof(head), "RUNNING after a reset in %u of %u states (ERROR: no "
		 "request reaches it)", tried - bad, tried);
	conf_lead(d, n, head, 0);
	return bad ? VFIOMIG_VERDICT_FAIL : VFIOMIG_VERDICT_PASS;
}

static int reset_dev(struct conf_run *run)
{
	return conf_reset(run->dev);
}

enum vfiomig_verdict conf_reset_sessions(struct conf_run *run, char *d, size_t n)
{
	return conf_sessions_after(run, reset_dev, "a reset", conf_ended_verdict, d, n);
}

/* Whether reset works is asked on its own, from STOP: reset.from-every-state judges the rest. */
enum vfiomig_verdict conf_reset_flag(struct conf_run *run, char *d, size_t n)
{
	enum vfiomig_state now = S(ERROR);
	unsigned int caps = 0;
	int fd, r = conf_reach(run, run->dev, S(STOP), &fd);
	bool advertised, works;

	conf_close(&fd);
	vfiomig_dev_get_caps(run->dev, &caps);
	advertised = caps & VFIOMIG_CAP_RESET_ADVERTISED;
	if (r == 0)
		r = conf_reset(run->dev);
	works = r == 0 && conf_get(run->dev, &now) == 0 && now == S(RUNNING);
	conf_say(d, n, "VFIO_DEVICE_FLAGS_RESET %s; a reset in STOP %s", advertised ? "set" :
		 "not set", works ? "works" : "does not work");
	if (advertised == works)
		return VFIOMIG_VERDICT_PASS;
	return advertised ? VFIOMIG_VERDICT_FAIL : VFIOMIG_VERDICT_DEVIATION;
}
