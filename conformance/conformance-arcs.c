// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The conformance checks of the state machine (area "arcs", and
 * twin.p2p-arcs, which sends the P2P arcs to the twin).  Every SET is
 * one request; the kernel walks the path.  STOP_COPY -> PRE_COPY and
 * -> PRE_COPY_P2P are never sent: kernels without the 2026 fix spin
 * forever on them (vfiomig_fsm_path() has no path for them either).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "conformance.h"
#include "util.h"

#define S(x) VFIOMIG_STATE_##x
#define NAME(s) conf_state_name(s)
#define SHOWN 3		/* failures a detail names; the rest are counted */

struct tally {
	unsigned int tried, bad;
};

/* Names the first SHOWN failures in @d; counts them all. */
static void bad(struct tally *t, char *d, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void bad(struct tally *t, char *d, size_t n, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	if (t->bad++ >= SHOWN)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	conf_say(d, n, "%s%s", t->bad > 1 ? "; " : "", what);
}

/* Whether the last arc of @from -> @to opens a data fd. */
static bool opens_fd(uint64_t flags, enum vfiomig_state from, enum vfiomig_state to)
{
	enum vfiomig_state path[VFIOMIG_STATE_COUNT];
	int n = vfiomig_fsm_path(flags, from, to, path, VFIOMIG_STATE_COUNT);

	return n > 0 && vfiomig_fsm_arc_opens_fd(n > 1 ? path[n - 2] : from, to);
}

/* @from, with the device's own image written when it is RESUMING (its way out checks it). */
static int reach_with_data(struct conf_run *run, struct vfiomig_dev *dev,
			   enum vfiomig_state from, int *fd)
{
	const struct conf_image *im = from == S(RESUMING) ? conf_image(run) : NULL;
	int r = conf_reach(run, dev, from, fd);

	if (r == 0 && im && !im->err)
		r = conf_write_all(run, dev, *fd, im->buf, im->len);
	return r;
}

static void try_pair(struct conf_run *run, struct vfiomig_dev *dev, enum vfiomig_state from,
		     enum vfiomig_state to, struct tally *t, char *d, size_t n)
{
	char e[32];
	enum vfiomig_state now = S(ERROR);
	int fd = -1, fd2 = -1, r;

	t->tried++;
	r = reach_with_data(run, dev, from, &fd);
	if (r < 0) {
		bad(t, d, n, "%s not reached from a reset (%s)", NAME(from),
		    conf_errname(r, e, sizeof(e)));
		conf_close(&fd);
		return;
	}
	r = conf_set(dev, to, &fd2);
	if (r == 0)
		r = conf_get(dev, &now);
	if (r < 0)
		bad(t, d, n, "%s -> %s: %s", NAME(from), NAME(to), conf_errname(r, e, sizeof(e)));
	else if (now != to)
		bad(t, d, n, "%s -> %s: GET then says %s", NAME(from), NAME(to), NAME(now));
	else if ((fd2 >= 0) != opens_fd(run->flags, from, to))
		bad(t, d, n, "%s -> %s: %s", NAME(from), NAME(to),
		    fd2 >= 0 ? "a data fd where none is due" : "no data fd where one is due");
	conf_close(&fd);
	conf_close(&fd2);
}

enum vfiomig_verdict conf_arcs_accepted(struct conf_run *run, char *d, size_t n)
{
	enum vfiomig_state path[VFIOMIG_STATE_COUNT];
	struct tally t = { 0 };
	char head[DETAIL_HEAD];

	for (int from = 1; from < VFIOMIG_STATE_COUNT; from++)
		for (int to = 1; to < VFIOMIG_STATE_COUNT; to++)
			if (from != to && conf_has(run, from) && conf_has(run, to) &&
			    vfiomig_fsm_path(run->flags, from, to, path, VFIOMIG_STATE_COUNT) > 0)
				try_pair(run, run->dev, from, to, &t, d, n);
	snprintf(head, sizeof(head), "%u of %u state pairs right", t.tried - t.bad, t.tried);
	conf_lead(d, n, head, t.bad > SHOWN ? t.bad - SHOWN : 0);
	return t.bad ? VFIOMIG_VERDICT_FAIL : VFIOMIG_VERDICT_PASS;
}

/* A target with no path from @from: the driver must say EINVAL and stay. */
static void try_refusal(struct conf_run *run, enum vfiomig_state from, enum vfiomig_state to,
			struct tally *t, char *d, size_t n)
{
	enum vfiomig_state now = S(ERROR);
	char e[32];
	int fd = -1, r;

	t->tried++;
	r = conf_reach(run, run->dev, from, &fd);
	conf_close(&fd);
	if (r < 0) {
		bad(t, d, n, "%s not reached from a reset (%s)", NAME(from),
		    conf_errname(r, e, sizeof(e)));
		return;
	}
	r = conf_set(run->dev, to, &fd);
	conf_close(&fd);
	if (r != -EINVAL) {
		bad(t, d, n, "%s -> %s: %s instead of EINVAL", NAME(from), NAME(to),
		    conf_errname(r, e, sizeof(e)));
	} else if (conf_get(run->dev, &now) < 0 || now != from) {
		bad(t, d, n, "%s -> %s: refused, but the state is now %s", NAME(from), NAME(to),
		    NAME(now));
	}
}

static bool never_sent(enum vfiomig_state from, enum vfiomig_state to)
{
	return from == S(STOP_COPY) && (to == S(PRE_COPY) || to == S(PRE_COPY_P2P));
}

enum vfiomig_verdict conf_unreachable(struct conf_run *run, char *d, size_t n)
{
	enum vfiomig_state path[VFIOMIG_STATE_COUNT];
	struct tally t = { 0 };
	char head[DETAIL_HEAD];

	for (int from = 1; from < VFIOMIG_STATE_COUNT; from++) {
		if (!conf_has(run, from))
			continue;
		/* VFIOMIG_STATE_COUNT: a number the uAPI does not define */
		for (int to = 0; to <= VFIOMIG_STATE_COUNT; to++)
			if (to != from && !never_sent(from, to) &&
			    vfiomig_fsm_path(run->flags, from, to, path, VFIOMIG_STATE_COUNT) < 0)
				try_refusal(run, from, to, &t, d, n);
	}
	snprintf(head, sizeof(head), "%u of %u impossible targets refused with EINVAL and "
		 "no change", t.tried - t.bad, t.tried);
	conf_lead(d, n, head, t.bad > SHOWN ? t.bad - SHOWN : 0);
	return t.bad ? VFIOMIG_VERDICT_FAIL : VFIOMIG_VERDICT_PASS;
}

/* RESUMING -> STOP with @len bytes of @buf: the SET's answer, the state in *now. */
static int failing_load(struct conf_run *run, const char *buf, size_t len,
			enum vfiomig_state *now)
{
	int fd = -1, r = conf_reach(run, run->dev, S(RESUMING), &fd);

	if (r < 0)
		return 0;	/* not the SET under test */
	conf_write_all(run, run->dev, fd, buf, len);	/* a refusal here is allowed too */
	r = conf_set(run->dev, S(STOP), NULL);
	conf_close(&fd);
	if (conf_get(run->dev, now) < 0)
		*now = VFIOMIG_STATE_COUNT;
	return r;
}

/* A page of bytes no driver's stream starts with. */
#define GARBAGE 4096u

enum vfiomig_verdict conf_failed_set(struct conf_run *run, char *d, size_t n)
{
	const struct conf_image *im = conf_image(run);
	enum vfiomig_state now;
	const char *what = "garbage";
	char e[32];
	int r;

	memset(run->scratch, 0x33, GARBAGE);
	r = failing_load(run, run->scratch, GARBAGE, &now);
	if (r == 0 && !im->err) {
		what = "half a stream";
		r = failing_load(run, im->buf, im->len / 2, &now);
	}
	if (r == 0) {
		conf_say(d, n, "no SET failed to watch: RESUMING -> STOP took garbage and half "
			 "a stream (see twin.truncated-refused)");
		return VFIOMIG_VERDICT_SKIP;
	}
	conf_say(d, n, "RESUMING -> STOP after %s: %s, then GET says %s", what,
		 conf_errname(r, e, sizeof(e)),
		 now == VFIOMIG_STATE_COUNT ? "nothing (GET failed)" : NAME(now));
	if (now == S(RESUMING) || now == S(STOP) || now == S(ERROR))
		return VFIOMIG_VERDICT_PASS;
	return VFIOMIG_VERDICT_FAIL;
}

/* The kernel table's arcs into, out of and between the P2P states. */
static const enum vfiomig_state p2p_arcs[][2] = {
	{ S(RUNNING), S(RUNNING_P2P) }, { S(RUNNING_P2P), S(RUNNING) },
	{ S(RUNNING_P2P), S(STOP) }, { S(STOP), S(RUNNING_P2P) },
	{ S(PRE_COPY), S(PRE_COPY_P2P) }, { S(PRE_COPY_P2P), S(PRE_COPY) },
	{ S(RUNNING_P2P), S(PRE_COPY_P2P) }, { S(PRE_COPY_P2P), S(RUNNING_P2P) },
	{ S(PRE_COPY_P2P), S(STOP_COPY) },
};

enum vfiomig_verdict conf_twin_p2p(struct conf_run *run, char *d, size_t n)
{
	struct tally t = { 0 };
	char head[DETAIL_HEAD];

	if (!conf_has(run, S(RUNNING_P2P))) {
		conf_say(d, n, "the devices have no P2P states");
		return VFIOMIG_VERDICT_SKIP;
	}
	for (size_t i = 0; i < ARRAY_SIZE(p2p_arcs); i++)
		if (conf_has(run, p2p_arcs[i][0]) && conf_has(run, p2p_arcs[i][1]))
			try_pair(run, run->twin, p2p_arcs[i][0], p2p_arcs[i][1], &t, d, n);
	snprintf(head, sizeof(head), "%u of %u P2P arcs right on the twin", t.tried - t.bad,
		 t.tried);
	conf_lead(d, n, head, t.bad > SHOWN ? t.bad - SHOWN : 0);
	return t.bad ? VFIOMIG_VERDICT_FAIL : VFIOMIG_VERDICT_PASS;
}
