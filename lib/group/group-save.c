/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig_group_save(): every member's save (save.h) on a worker of its
 * own, the group deciding between the steps: every member's pre-copy at
 * once, one switchover for all when every member has sent its initial
 * bytes and the group's dirty bytes are low, every member's stop-copy at
 * once (the downtimes overlap), then the trailer.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "group-xfer.h"
#include "save.h"
#include "export.h"
#include "call.h"
#include "log.h"
#include "sized.h"
#include "sigpipe.h"
#include "dev.h"
#include "util.h"
#include "wait.h"

struct gsave {
	struct vfiomig_group *g;
	struct call *c;
	struct vfiomig_save_opts o;	/* the group's, with its defaults */
	uint64_t max_bytes;		/* the members' pre-copy limits, summed */
	struct save_out outs[VFIOMIG_GROUP_MAX];
	unsigned int n_outs;
	struct save s[VFIOMIG_GROUP_MAX];
	bool precopying[VFIOMIG_GROUP_MAX];
	bool ready[VFIOMIG_GROUP_MAX];	/* its initial bytes were sent */
	uint64_t initial[VFIOMIG_GROUP_MAX], dirty[VFIOMIG_GROUP_MAX];
	uint32_t flags[VFIOMIG_GROUP_MAX];
	unsigned int rounds;
	uint64_t prev_dirty;		/* the group's, at the last round's start */
	uint64_t precopy_begin_ns;	/* the deadline's start */
	struct downtime stream_dt;	/* one stream: its bandwidth */
	uint64_t estimate_ns;		/* the group's last downtime estimate */
	bool switched;			/* pre-copy ended in a switchover */
	bool timed_out;			/* ...because its deadline passed */
	bool any_precopy;
	struct group_progress progress;
	uint64_t stopped_ns, end_ns;
	int errs[VFIOMIG_GROUP_MAX];
	bool sent;			/* a request reached a member */
	unsigned int complete;		/* streams whose trailer was written */
};

/* The workers' bytes so far; they count them in atomics for this. */
static uint64_t moved(const struct gsave *gs)
{
	uint64_t sum = 0;

	for (unsigned int i = 0; i < gs->g->n; i++)
		sum += atomic_load_explicit(&gs->s[i].moved, memory_order_relaxed);
	return sum;
}

static void tick(void *arg)
{
	struct gsave *gs = arg;

	group_progress_report(&gs->progress, moved(gs), false);
}

/* Runs @fn on every member marked in @which (NULL: all), the calling
 * thread reporting progress meanwhile; the cause is recorded on failure. */
static int run(struct gsave *gs, const bool *which,
	       int (*fn)(struct vfiomig_group *g, unsigned int index, void *arg))
{
	struct group_lead lead = { .tick = tick, .arg = gs };

	if (group_run_each(gs->g, which, fn, gs, gs->errs, true, &lead) == 0)
		return 0;
	return group_record_cause(gs->c, gs->g, gs->errs);
}

static int job_info(struct vfiomig_group *g, unsigned int i, void *arg)
{
	struct gsave *gs = arg;

	(void)g;
	return save_precopy_info(&gs->s[i], &gs->initial[i], &gs->dirty[i], &gs->flags[i]);
}

static int job_round(struct vfiomig_group *g, unsigned int i, void *arg)
{
	struct gsave *gs = arg;

	(void)g;
	return save_precopy_round(&gs->s[i], gs->initial[i], gs->dirty[i]);
}

/*
 * A member drains as soon as its own arc into STOP_COPY is done, on the
 * thread that made it: a member slower to stop holds up no other.  Its
 * stopped time starts with its arc.
 */
static int then_stop_copy(struct vfiomig_group *g, unsigned int i, void *arg, int *fd,
			  uint64_t begin_ns)
{
	struct gsave *gs = arg;
	struct save *s = &gs->s[i];
	int r = 0;

	(void)g;
	s->stopped_ns = begin_ns;
	if (*fd >= 0) {
		r = save_take_data_fd(s, *fd);
		*fd = -1;	/* s holds it now */
	}
	return r < 0 ? r : save_stop_copy(s);
}

/* The group's downtime estimate over its pre-copying members (downtime_group()). */
static uint64_t group_estimate(const struct gsave *gs)
{
	const struct downtime *m[VFIOMIG_GROUP_MAX];
	unsigned int n = 0;

	for (unsigned int i = 0; i < gs->g->n; i++)
		if (gs->precopying[i])
			m[n++] = &gs->s[i].dt;
	return downtime_group(m, n, gs->n_outs == 1 ? &gs->stream_dt : NULL);
}

/* The group's remaining bytes and bandwidth, for the deadline's error. */
static void group_figures(const struct gsave *gs, uint64_t *remaining, uint64_t *bandwidth)
{
	*remaining = 0;
	*bandwidth = gs->n_outs == 1 ? downtime_bandwidth(&gs->stream_dt) : UINT64_MAX;
	for (unsigned int i = 0; i < gs->g->n; i++) {
		uint64_t bw = downtime_bandwidth(&gs->s[i].dt);

		if (!gs->precopying[i])
			continue;
		if (gs->s[i].dt.remaining != DOWNTIME_UNKNOWN)
			*remaining += gs->s[i].dt.remaining;
		if (gs->n_outs != 1 && bw < *bandwidth)
			*bandwidth = bw;
	}
	if (*bandwidth == UINT64_MAX)
		*bandwidth = 0;
}

/*
 * The uAPI's initial-bytes rule for the group (QEMU's switchover-ack): no
 * switchover while any member has initial bytes to send, including a
 * member whose REINIT took back its readiness.  Then the group's estimate
 * against the target decides, or without one its dirty bytes, or a
 * limit; the deadline before all.  1 switch over, 0 go on, -errno.
 */
static int converged(struct gsave *gs)
{
	uint64_t dirty = 0, moved = 0, remaining, bandwidth;
	bool initial_sent = true;
	int r;

	for (unsigned int i = 0; i < gs->g->n; i++) {
		if (!gs->precopying[i])
			continue;
		if (gs->ready[i] && save_initial_pending(gs->initial[i]))
			info(gs->g->ctx, "%s: new initial pre-copy data (REINIT): the group's "
			     "switchover waits for it", gs->s[i].dev->name);
		gs->ready[i] = !save_initial_pending(gs->initial[i]) && gs->rounds > 0;
		initial_sent &= gs->ready[i];
		dirty += gs->dirty[i];
		moved += gs->s[i].stats.precopy_bytes;
	}
	group_figures(gs, &remaining, &bandwidth);
	r = save_deadline(gs->g->ctx, &gs->o, gs->precopy_begin_ns, !initial_sent, "group save",
			  gs->estimate_ns, remaining, bandwidth);
	if (r) {
		gs->timed_out = r > 0;
		return r;
	}
	if (gs->o.precopy == VFIOMIG_PRECOPY_MODE_ROUNDS)
		return gs->rounds >= gs->o.precopy_rounds;
	if (!initial_sent) {
		gs->prev_dirty = dirty;
		return 0;
	}
	if (gs->o.downtime_limit_ns ? gs->estimate_ns <= gs->o.downtime_limit_ns :
	    dirty <= gs->o.precopy_dirty_threshold ||
	    !save_round_pays(gs->rounds, gs->prev_dirty, dirty))
		return 1;
	if (gs->rounds >= gs->o.precopy_rounds || moved >= gs->max_bytes)
		return 1;
	gs->prev_dirty = dirty;
	return 0;
}

/* The progress's estimates: the group's bytes, and its downtime. */
static void note_estimate(struct gsave *gs)
{
	uint64_t total = 0;

	for (unsigned int i = 0; i < gs->g->n; i++)
		total += gs->s[i].progress.p.total_estimate;
	gs->progress.estimate = total;
	gs->estimate_ns = gs->any_precopy ? group_estimate(gs) : 0;
	gs->progress.x.p.downtime_estimate_ns = gs->estimate_ns;
	gs->progress.x.p.downtime_limit_ns = gs->o.downtime_limit_ns;
}

/* Each member's estimate and bandwidth as the group switched over. */
static void note_switchover(struct gsave *gs)
{
	gs->switched = true;
	for (unsigned int i = 0; i < gs->g->n; i++) {
		struct save *s = &gs->s[i];

		if (!gs->precopying[i])
			continue;
		s->stats.downtime_estimate_ns = s->progress.p.downtime_estimate_ns;
		s->stats.precopy_bandwidth = downtime_bandwidth(&s->dt);
		s->stats.precopy_timed_out = gs->timed_out;
	}
}

static int precopy(struct gsave *gs)
{
	if (!gs->any_precopy)
		return 0;
	gs->progress.x.p.downtime_estimate_ns = DOWNTIME_UNKNOWN;
	gs->progress.x.p.downtime_limit_ns = gs->o.downtime_limit_ns;
	group_progress_phase(&gs->progress, VFIOMIG_PHASE_PRECOPY, moved(gs));
	gs->precopy_begin_ns = now_ns();
	for (;;) {
		int r = run(gs, gs->precopying, job_info);
		uint64_t begin, before;

		if (r < 0)
			return r;
		note_estimate(gs);
		r = converged(gs);
		if (r < 0)
			return r;
		if (r > 0) {
			note_switchover(gs);
			return 0;
		}
		begin = now_ns();
		before = moved(gs);	/* pre-copy's bytes, here */
		r = run(gs, gs->precopying, job_round);
		if (r == 0 && moved(gs) == before)	/* as for one device */
			r = wait_ms(gs->o.cancel, DOWNTIME_IDLE_MS);
		if (r < 0)
			return r;
		downtime_round(&gs->stream_dt, moved(gs) - before, now_ns() - begin);
		gs->progress.x.p.precopy_round = ++gs->rounds;
	}
}

/* A group transition to @targets; new data fds go to their members. */
static int move(struct gsave *gs, const enum vfiomig_state *targets,
		const struct group_then *then)
{
	int fds[VFIOMIG_GROUP_MAX], r;

	gs->sent = true;
	r = group_transition_then(gs->c, gs->g, targets, fds, true, gs->errs, then);
	/* Every new fd has its owner before any can fail to be set up. */
	for (unsigned int i = 0; i < gs->g->n && r == 0; i++)
		if (fds[i] >= 0)
			gs->s[i].data_fd = fds[i];
	for (unsigned int i = 0; i < gs->g->n && r == 0; i++)
		if (fds[i] >= 0)
			r = save_take_data_fd(&gs->s[i], fds[i]);
	return r;
}

/*
 * The move into pre-copy, one arc phase: what each arc of the stop will
 * take too (downtime_arcs()), the members' phases being concurrent.
 */
static int move_timed(struct gsave *gs, const enum vfiomig_state *targets)
{
	uint64_t begin = now_ns();
	int r = move(gs, targets, NULL);
	uint64_t took = now_ns() - begin;
	bool running = gs->o.leave == VFIOMIG_LEAVE_RUNNING;

	for (unsigned int i = 0; i < gs->g->n && r == 0; i++)
		if (gs->precopying[i])
			downtime_arcs(&gs->s[i].dt, gs->s[i].dev, targets[i], running, took);
	return r;
}

/* Members that can pre-copy start it; the others wait in their state. */
static int start_precopy(struct gsave *gs)
{
	enum vfiomig_state targets[VFIOMIG_GROUP_MAX];

	for (unsigned int i = 0; i < gs->g->n; i++) {
		const struct save *s = &gs->s[i];

		targets[i] = s->start;
		if (gs->o.precopy != VFIOMIG_PRECOPY_MODE_NEVER &&
		    (s->dev->mig_flags & VFIOMIG_MIG_PRE_COPY) && s->start != VFIOMIG_STATE_STOP)
			targets[i] = s->start == VFIOMIG_STATE_RUNNING ? VFIOMIG_STATE_PRE_COPY :
				     VFIOMIG_STATE_PRE_COPY_P2P;
		gs->precopying[i] = targets[i] != s->start;
		gs->any_precopy |= gs->precopying[i];
	}
	return gs->any_precopy ? move_timed(gs, targets) : 0;
}

static int all_to(struct gsave *gs, enum vfiomig_state target, const struct group_then *then)
{
	enum vfiomig_state targets[VFIOMIG_GROUP_MAX];

	for (unsigned int i = 0; i < gs->g->n; i++)
		targets[i] = target;
	return move(gs, targets, then);
}

/*
 * The switchover: every member quiesced (P2P), the hook, then every
 * member into STOP_COPY and drained at once.  The group's downtime starts
 * with the first member's arc.
 */
static int switchover(struct gsave *gs)
{
	struct group_lead lead = { .tick = tick, .arg = gs };
	struct group_then then = { then_stop_copy, gs, &lead };
	int r;

	group_progress_phase(&gs->progress, VFIOMIG_PHASE_STOP_COPY, moved(gs));
	r = all_to(gs, VFIOMIG_STATE_STOP_COPY, &then);
	for (unsigned int i = 0; i < gs->g->n; i++)
		if (gs->s[i].stopped_ns && (!gs->stopped_ns || gs->s[i].stopped_ns < gs->stopped_ns))
			gs->stopped_ns = gs->s[i].stopped_ns;
	return r;
}

static int write_identities(struct gsave *gs)
{
	int r = 0;

	for (unsigned int i = 0; i < gs->n_outs && r == 0; i++)
		r = save_out_failed(&gs->s[i], save_out_begin(&gs->outs[i]));
	for (unsigned int i = 0; i < gs->g->n && r == 0; i++)
		r = save_write_identity(&gs->s[i]);
	note_estimate(gs);
	return r;
}

/*
 * The trailers, one per stream.  With one stream per member, a trailer
 * that fails after others were written leaves complete streams behind: a
 * destination may load them, so their sources must not run again.  The
 * members stay in their final state, and the error says so.
 */
static int finish_outs(struct gsave *gs)
{
	int r = 0;

	for (unsigned int i = 0; i < gs->n_outs && r == 0; i++) {
		r = save_out_failed(&gs->s[i], save_out_finish(&gs->outs[i]));
		gs->complete += r == 0;
	}
	if (r < 0 && gs->complete)
		vfiomig_call_note(gs->g->ctx, "the streams of the members before it are "
				  "complete, so no member was moved back");
	return r;
}

/* Everything from the identities to the trailers. */
static int save_group(struct gsave *gs)
{
	int r = write_identities(gs);

	if (r == 0)
		r = start_precopy(gs);
	if (r == 0)
		r = precopy(gs);
	if (r == 0)
		r = switchover(gs);
	if (r == 0)
		r = all_to(gs, gs->o.leave == VFIOMIG_LEAVE_RUNNING ? VFIOMIG_STATE_RUNNING :
			   VFIOMIG_STATE_STOP, NULL);
	if (r == 0)
		r = finish_outs(gs);
	gs->end_ns = now_ns();
	return r;
}

/* Where the call found each member, through the two phases; a member
 * still where it started is left alone. */
static void roll_back(struct gsave *gs)
{
	for (unsigned int i = 0; i < gs->g->n; i++) {
		struct save *s = &gs->s[i];
		enum vfiomig_state now;
		bool away = dev_read_state(s->dev, &now) < 0 || now != s->start;

		if (s->data_fd >= 0)
			close(s->data_fd);
		s->data_fd = -1;
		gs->g->m[i].back = s->start;
		gs->g->m[i].p2p = away && s->start == VFIOMIG_STATE_RUNNING &&
				  (s->dev->mig_flags & VFIOMIG_MIG_P2P) ?
				  VFIOMIG_STATE_RUNNING_P2P : s->start;
	}
	group_rollback(gs->g, true);
}

static int setup(struct gsave *gs, unsigned int n_fds, int opts_r)
{
	struct vfiomig_group *g = gs->g;
	const struct vfiomig_save_opts asked = gs->o;
	int r = 0;

	for (unsigned int i = 0; i < g->n && r == 0; i++) {
		struct vfiomig_save_opts o = asked;

		r = save_opts_check(g->m[i].dev, opts_r, true, &o);
		if (r == 0) {
			r = dev_check_ready(g->m[i].dev, &gs->s[i].start);
			if (r < 0)
				call_report(gs->c, g->m[i].dev);	/* its failure, its state */
		}
		if (r == 0)
			r = save_init(&gs->s[i], g->m[i].dev, &o, &gs->outs[n_fds == 1 ? 0 : i],
				      n_fds == 1 ? i : 0);
		gs->max_bytes = o.precopy_max_bytes > UINT64_MAX - gs->max_bytes ? UINT64_MAX :
				gs->max_bytes + o.precopy_max_bytes;
		if (i == 0)
			gs->o = o;
	}
	return r;
}

static void finish(struct gsave *gs, int r, uint64_t begin_ns)
{
	struct vfiomig_stats st = { .sz = sizeof(st), .error_offset = UINT64_MAX };

	group_fill_results(gs->g, gs->errs);
	for (unsigned int i = 0; i < gs->g->n; i++) {
		const struct save *s = &gs->s[i];

		group_xfer_result(gs->g, i, &s->stats, s->stopped_ns && s->end_ns ?
				  s->end_ns - s->stopped_ns : 0, (int)i);
		st.precopy_bytes += s->stats.precopy_bytes;
		st.stop_copy_bytes += s->stats.stop_copy_bytes;
	}
	for (unsigned int i = 0; i < gs->n_outs; i++) {
		st.stream_bytes += gs->outs[i].bytes;
		if (st.error_offset == UINT64_MAX)
			st.error_offset = gs->outs[i].error_offset;
	}
	st.precopy_rounds = gs->rounds;
	if (gs->switched) {
		uint64_t remaining;

		st.downtime_estimate_ns = gs->estimate_ns;
		group_figures(gs, &remaining, &st.precopy_bandwidth);
		st.precopy_timed_out = gs->timed_out;
	}
	st.elapsed_ns = now_ns() - begin_ns;
	st.downtime_ns = gs->stopped_ns ? (gs->end_ns ? gs->end_ns : now_ns()) - gs->stopped_ns : 0;
	if (gs->o.stats && sized_check_out(gs->o.stats) == 0)
		sized_copy_out(gs->o.stats, &st, sizeof(st));
	if (r == 0)
		group_progress_phase(&gs->progress, VFIOMIG_PHASE_DONE, moved(gs));
	else if (gs->sent)
		group_note_states(gs->g);
}

static int group_save(struct gsave *gs, const int *fds, unsigned int n_fds, int opts_r)
{
	struct sigpipe_guard sigpipe;
	int r;

	r = group_xfer_check(gs->g, fds, n_fds, gs->o.flags & VFIOMIG_XFER_RAW);
	if (r < 0)
		return r;
	gs->n_outs = n_fds;
	for (unsigned int i = 0; i < n_fds; i++)
		save_out_init(&gs->outs[i], fds[i], gs->o.flags & VFIOMIG_XFER_RAW, gs->o.cancel);
	r = setup(gs, n_fds, opts_r);
	if (r < 0)
		return r;
	group_progress_init(&gs->progress, gs->o.progress, gs->o.userdata);
	sigpipe_block(&sigpipe);
	r = save_group(gs);
	if (r == -ECANCELED)
		vfiomig_fail(gs->g->ctx, r, "group save cancelled");
	if (r < 0 && gs->sent && !gs->complete)
		roll_back(gs);
	sigpipe_restore(&sigpipe);
	return r;
}

VFIOMIG_EXPORT int vfiomig_group_save(struct vfiomig_group *g, const int *out_fds,
				      unsigned int n_fds, const struct vfiomig_save_opts *opts)
{
	uint64_t begin = now_ns();
	struct gsave *gs = calloc(1, sizeof(*gs));
	struct call c;
	int r = group_call_begin(&c, g);
	int opts_r = gs ? sized_copy_in(&gs->o, sizeof(gs->o), opts) : 0;

	if (r == 0 && !gs)
		r = vfiomig_fail(g->ctx, -ENOMEM, "out of memory for a group save");
	if (r == 0)
		r = group_drive_begin(g);
	if (r < 0) {
		free(gs);
		return call_end(&c, r);
	}
	gs->g = g;
	gs->c = &c;
	for (unsigned int i = 0; i < g->n; i++)
		gs->s[i].data_fd = -1;
	r = group_save(gs, out_fds, n_fds, opts_r);
	group_drive_end(g);
	finish(gs, r, begin);
	for (unsigned int i = 0; i < g->n; i++)
		save_free(&gs->s[i]);
	for (unsigned int i = 0; i < gs->n_outs; i++)
		save_out_free(&gs->outs[i]);
	free(gs);
	r = call_end(&c, r);
	group_give_back_members(g);
	return r;
}
