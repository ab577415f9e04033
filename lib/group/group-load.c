/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig_group_load(): every stream device matched to a member before
 * any member is touched, every member RESUMING at once, each member's
 * records written by a worker of its own as they arrive, and the two
 * phases of resuming only once every member's state is complete.
 *
 * A stream of the whole group is read by the calling thread, which
 * verifies each record into a free buffer of a small pool and queues it
 * for its member's worker; the worker writes it to the device and gives
 * the buffer back.  One lock guards the pool and the queues.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "group-xfer.h"
#include "load.h"
#include "sigpipe.h"
#include "wait.h"
#include "export.h"
#include "call.h"
#include "log.h"
#include "cancel.h"
#include "sized.h"
#include "dev.h"
#include "util.h"
#include "profile.h"

struct slot {
	struct slot *next;
	struct stream_record rec;
	uint8_t *buf;
};

struct queue {
	struct slot *head, *tail;
	pthread_cond_t cond;
};

struct gload {
	struct vfiomig_group *g;
	struct call *c;
	struct vfiomig_load_opts o;
	unsigned int n_ins;
	struct load_in ins[VFIOMIG_GROUP_MAX];
	struct load l[VFIOMIG_GROUP_MAX];
	struct stream_identity ids[VFIOMIG_GROUP_MAX];
	uint64_t id_offsets[VFIOMIG_GROUP_MAX];
	unsigned int n_ids;
	int member_of[VFIOMIG_GROUP_MAX];	/* stream device -> member */
	int device_of[VFIOMIG_GROUP_MAX];	/* member -> stream device, or -1 */
	int errs[VFIOMIG_GROUP_MAX];
	struct group_progress progress;
	uint64_t resumed_ns;
	uint64_t error_offset;
	bool sent;			/* the members entered RESUMING */

	/* A stream of the whole group: the pool and the queues, under @lock. */
	pthread_mutex_t lock;
	pthread_cond_t freed;
	struct slot *slots, *free;
	unsigned int n_slots;
	struct queue q[VFIOMIG_GROUP_MAX];
	bool done, abort;
	bool cancelled;			/* a wait saw the cancel object raised */
	struct slot *pending;		/* the first record after the identities */
	int read_r;
};

static uint64_t moved(const struct gload *gl)
{
	uint64_t sum = 0;

	for (unsigned int i = 0; i < gl->g->n; i++)
		sum += atomic_load_explicit(&gl->l[i].moved, memory_order_relaxed);
	return sum;
}

static void tick(void *arg)
{
	struct gload *gl = arg;

	group_progress_report(&gl->progress, moved(gl), false);
}

/* A failure of the group's stream itself: it is no member's. */
static int stream_failed(struct gload *gl, int r)
{
	const struct stream_reader *rd = &gl->ins[0].reader;

	if (r == -ECANCELED)
		return r;
	gl->error_offset = rd->error[0] ? rd->error_offset : gl->ins[0].bytes;
	if (rd->error[0])
		return vfiomig_fail_at(gl->g->ctx, r, gl->error_offset, "the group's stream: %s at "
				       "stream offset %llu", rd->error,
				       (unsigned long long)gl->error_offset);
	return vfiomig_fail_at(gl->g->ctx, r, gl->error_offset, "reading the group's stream "
			       "failed: %s", strerror(-r));
}

PRINTF(4, 5)
static int bad_stream(struct gload *gl, int err, uint64_t offset, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gl->error_offset = offset;
	return vfiomig_fail_at(gl->g->ctx, err, offset, "the group's stream: %s", msg);
}

/* The next verified record of the group's stream into @sl. */
static int read_record(struct gload *gl, struct slot *sl)
{
	int r;

	if (cancel_raised(gl->o.cancel))
		return -ECANCELED;
	r = stream_read_record(&gl->ins[0].reader, &sl->rec, sl->buf);
	return r < 0 ? stream_failed(gl, r) : r;
}

/* The identities the stream begins with, one per device, in order. */
static int read_identities(struct gload *gl)
{
	struct slot *sl = gl->free;
	int r = stream_reader_begin(&gl->ins[0].reader);

	gl->free = sl->next;
	gl->pending = sl;
	if (r < 0)
		return stream_failed(gl, r);
	while ((r = read_record(gl, sl)) > 0 && sl->rec.type == STREAM_IDENTITY) {
		if (sl->rec.device != gl->n_ids || gl->n_ids == VFIOMIG_GROUP_MAX ||
		    stream_identity_decode(sl->buf, sl->rec.length, &gl->ids[gl->n_ids]) < 0)
			return bad_stream(gl, -EBADMSG, sl->rec.offset, "identity record %u at "
					  "offset %llu is malformed or out of order", gl->n_ids,
					  (unsigned long long)sl->rec.offset);
		gl->id_offsets[gl->n_ids++] = sl->rec.offset;
	}
	if (r < 0)
		return r;
	if (r == 0) {
		gl->pending = NULL;	/* the trailer came: no device data at all */
		gl->free = sl;
	}
	if (gl->n_ids != gl->g->n)
		return bad_stream(gl, gl->n_ids ? -ENODEV : -EBADMSG, 0, "it holds %u device%s, "
				  "the group has %u member%s; load it into as many devices",
				  gl->n_ids, gl->n_ids == 1 ? "" : "s", gl->g->n,
				  gl->g->n == 1 ? "" : "s");
	return 0;
}

/*
 * Stream device @k fits no member at all, and the member @j was left
 * without a stream device: the two are the misfits (each other device
 * found its own), so the sentence names both and how they differ.
 */
static int misfit(struct gload *gl, unsigned int k, unsigned int j)
{
	char theirs[LOAD_DESCRIBE_MAX], ours[LOAD_DESCRIBE_MAX], d[512];

	load_describe(&gl->ids[k], theirs, sizeof(theirs));
	load_describe(load_identity(&gl->l[j]), ours, sizeof(ours));
	stream_identity_differences(&gl->ids[k], load_identity(&gl->l[j]), d, sizeof(d));
	call_report(gl->c, gl->g->m[j].dev);
	gl->error_offset = gl->id_offsets[k];
	return vfiomig_fail_at(gl->g->ctx, -ENODEV, gl->error_offset, "%s (member %u, %s) fits "
			       "no device of the group's stream, and the stream's device %u (%s) "
			       "fits no member; %s differ; load the stream into the devices it "
			       "was saved from, or use --force", gl->g->m[j].dev->name, j, ours, k,
			       theirs, d);
}

/*
 * Stream device @k fits no free member.  Fitting is equality of identity,
 * so either every member like it is taken (the stream holds more such
 * devices than the group), or the group has none like it: then the first
 * member that no stream device took is its misfit.
 */
static int unmatched(struct gload *gl, unsigned int k, const bool *taken)
{
	const struct stream_identity *theirs = &gl->ids[k];
	unsigned int in_group = 0, in_stream = 0, j = 0;
	char what[LOAD_DESCRIBE_MAX];

	for (unsigned int i = 0; i < gl->g->n; i++)
		in_group += stream_identity_matches(theirs, load_identity(&gl->l[i]));
	if (!in_group) {
		while (taken[j])	/* as many members as stream devices: one is free */
			j++;
		return misfit(gl, k, j);
	}
	for (unsigned int i = 0; i < gl->n_ids; i++)
		in_stream += stream_identity_matches(theirs, &gl->ids[i]);
	load_describe(theirs, what, sizeof(what));
	return bad_stream(gl, -ENODEV, gl->id_offsets[k], "it holds %u %s like %s, the "
			  "group %u; load it into a group of the devices it was saved from",
			  in_stream, plural(in_stream, "device", "devices"), what, in_group);
}

static bool member_fits(void *userdata, unsigned int k, unsigned int j)
{
	struct gload *gl = userdata;

	return stream_identity_matches(&gl->ids[k], load_identity(&gl->l[j]));
}

/*
 * Stream device k goes to the first member not yet taken whose identity
 * fits it: by position among devices of one kind, by identity across
 * kinds (profile_match(), which vfiomig_profile_check_group() runs too).
 * Forced, by position alone.  Every stream device gets a member, or the
 * load is refused here, before anything is sent; the refusal waits until
 * every device that fits has its member, so that the members left over
 * are the misfits.
 */
static int match(struct gload *gl)
{
	bool taken[VFIOMIG_GROUP_MAX] = { false };

	if (gl->o.flags & VFIOMIG_XFER_FORCE) {
		for (unsigned int k = 0; k < gl->n_ids; k++) {
			load_check_identity(&gl->l[k], &gl->ids[k], gl->id_offsets[k]);
			gl->member_of[k] = gl->device_of[k] = (int)k;
		}
		return 0;
	}
	profile_match(gl->n_ids, gl->g->n, member_fits, gl, gl->member_of);
	for (unsigned int k = 0; k < gl->n_ids; k++) {
		if (gl->member_of[k] >= 0) {
			taken[gl->member_of[k]] = true;
			gl->device_of[gl->member_of[k]] = (int)k;
		}
	}
	for (unsigned int k = 0; k < gl->n_ids; k++)
		if (gl->member_of[k] < 0)
			return unmatched(gl, k, taken);
	return 0;
}

/* One stream per member: each begins with its member's identity. */
static int read_own_identities(struct gload *gl)
{
	int r = 0;

	for (unsigned int i = 0; i < gl->g->n && r == 0; i++) {
		if (!gl->l[i].raw)
			r = load_read_identity(&gl->l[i]);
		if (r < 0)
			call_report(gl->c, gl->g->m[i].dev);
	}
	return r;
}

/*
 * Waits on @cond, @gl->lock held, until woken or 100 ms pass; a raised
 * cancel object aborts the load, so that no wait outlives it whatever the
 * other side of the wait is doing.
 */
static void wait_locked(struct gload *gl, pthread_cond_t *cond)
{
	if (cancel_raised(gl->o.cancel) && !gl->abort) {
		gl->abort = gl->cancelled = true;
		for (unsigned int i = 0; i < gl->g->n; i++)
			pthread_cond_broadcast(&gl->q[i].cond);
		pthread_cond_broadcast(&gl->freed);
		return;
	}
	cond_wait_ms(cond, &gl->lock, 100);
}

/* A free buffer for the reader; NULL once the load is aborted. */
static struct slot *take_free(struct gload *gl)
{
	struct slot *sl;

	pthread_mutex_lock(&gl->lock);
	while (!gl->free && !gl->abort)
		wait_locked(gl, &gl->freed);
	sl = gl->abort ? NULL : gl->free;
	if (sl)
		gl->free = sl->next;
	pthread_mutex_unlock(&gl->lock);
	return sl;
}

static void give_back(struct gload *gl, struct slot *sl)
{
	sl->next = gl->free;
	gl->free = sl;
	pthread_cond_signal(&gl->freed);
}

static void dispatch(struct gload *gl, struct slot *sl, unsigned int member)
{
	struct queue *q = &gl->q[member];

	sl->next = NULL;
	pthread_mutex_lock(&gl->lock);
	if (q->tail)
		q->tail->next = sl;
	else
		q->head = sl;
	q->tail = sl;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&gl->lock);
}

/* Ends the workers' waiting: the stream is done, or the load failed. */
static void stop_workers(struct gload *gl, bool abort)
{
	pthread_mutex_lock(&gl->lock);
	if (abort)
		gl->abort = true;
	else
		gl->done = true;
	for (unsigned int i = 0; i < gl->g->n; i++)
		pthread_cond_broadcast(&gl->q[i].cond);
	pthread_cond_broadcast(&gl->freed);
	pthread_mutex_unlock(&gl->lock);
}

/* The records after the identities, each to its member's queue. */
static int read_loop(struct gload *gl)
{
	struct slot *sl = gl->pending;
	int r = sl ? 1 : 0;

	gl->pending = NULL;
	while (r > 0) {
		/* Checked before it indexes anything: the stream is untrusted. */
		if (sl->rec.type == STREAM_IDENTITY || sl->rec.device >= gl->n_ids ||
		    gl->member_of[sl->rec.device] < 0) {
			r = bad_stream(gl, -EBADMSG, sl->rec.offset, "record %u at offset %llu "
				       "belongs to no device of the stream", sl->rec.seq,
				       (unsigned long long)sl->rec.offset);
			break;
		}
		dispatch(gl, sl, (unsigned int)gl->member_of[sl->rec.device]);
		group_progress_report(&gl->progress, moved(gl), false);
		sl = take_free(gl);
		if (!sl)	/* a worker failed, whose failure is the cause; or cancelled */
			return gl->cancelled ? -ECANCELED : 0;
		r = read_record(gl, sl);
	}
	if (sl) {
		pthread_mutex_lock(&gl->lock);
		give_back(gl, sl);
		pthread_mutex_unlock(&gl->lock);
	}
	return r;
}

static void reader(void *arg)
{
	struct gload *gl = arg;

	gl->read_r = read_loop(gl);
	stop_workers(gl, gl->read_r < 0);
}

/* A member's worker: its records, in order, until the stream's end. */
static int worker(struct vfiomig_group *g, unsigned int i, void *arg)
{
	struct gload *gl = arg;
	struct queue *q = &gl->q[i];
	bool aborted;
	int r = 0;

	(void)g;
	pthread_mutex_lock(&gl->lock);
	for (;;) {
		struct slot *sl;

		while (!q->head && !gl->done && !gl->abort)
			wait_locked(gl, &q->cond);
		if (gl->abort || !q->head)
			break;
		sl = q->head;
		q->head = sl->next;
		if (!q->head)
			q->tail = NULL;
		pthread_mutex_unlock(&gl->lock);
		r = load_take_record(&gl->l[i], &sl->rec);
		pthread_mutex_lock(&gl->lock);
		give_back(gl, sl);
		if (r < 0)
			break;
	}
	aborted = gl->abort;
	pthread_mutex_unlock(&gl->lock);
	if (r < 0)
		stop_workers(gl, true);
	else if (!aborted)
		r = load_check_totals(&gl->l[i]);
	return r;
}

static int own_stream(struct vfiomig_group *g, unsigned int i, void *arg)
{
	struct gload *gl = arg;

	(void)g;
	return load_records(&gl->l[i]);
}

/* The first member's failure is the call's, with its facts. */
static int record_cause(struct gload *gl)
{
	int r = group_record_cause(gl->c, gl->g, gl->errs);

	for (unsigned int i = 0; i < gl->g->n; i++) {
		if (!gl->errs[i] || gl->errs[i] == ECANCELED)
			continue;
		if (gl->l[i].first_data_rejected)
			vfiomig_note_fact(gl->g->ctx, CALL_FACT_FIRST_DATA_REJECTED);
		break;
	}
	return r;
}

static int run(struct gload *gl)
{
	struct group_lead lead = { .tick = tick, .arg = gl };
	unsigned int failed;

	if (gl->n_ins == 1) {
		lead = (struct group_lead){ .run = reader, .arg = gl };
		failed = group_run_each(gl->g, NULL, worker, gl, gl->errs, true, &lead);
		if (gl->read_r < 0)
			return gl->read_r;
	} else {
		failed = group_run_each(gl->g, NULL, own_stream, gl, gl->errs, true, &lead);
	}
	return failed ? record_cause(gl) : 0;
}

static int all_to(struct gload *gl, enum vfiomig_state target, int *fds)
{
	enum vfiomig_state targets[VFIOMIG_GROUP_MAX];

	for (unsigned int i = 0; i < gl->g->n; i++)
		targets[i] = target;
	return group_transition(gl->c, gl->g, targets, fds, true, gl->errs);
}

static int enter_resuming(struct gload *gl)
{
	int fds[VFIOMIG_GROUP_MAX];
	int r = all_to(gl, VFIOMIG_STATE_RESUMING, fds);

	if (r < 0)
		return r;
	gl->sent = true;
	gl->resumed_ns = now_ns();
	for (unsigned int i = 0; i < gl->g->n; i++)
		gl->l[i].data_fd = fds[i];
	for (unsigned int i = 0; i < gl->g->n && r == 0; i++)
		r = load_take_data_fd(&gl->l[i], fds[i]);
	group_progress_phase(&gl->progress, VFIOMIG_PHASE_LOAD, 0);
	return r;
}

static int load_group(struct gload *gl)
{
	int r = gl->n_ins == 1 ? read_identities(gl) : read_own_identities(gl);

	if (r == 0 && gl->n_ins == 1)
		r = match(gl);
	if (r == 0)
		r = enter_resuming(gl);
	if (r == 0)
		r = run(gl);
	if (r == 0)
		r = all_to(gl, gl->o.leave == VFIOMIG_LEAVE_STOP ? VFIOMIG_STATE_STOP :
							       VFIOMIG_STATE_RUNNING, NULL);
	return r;
}

/* No member keeps part of a state: each is reset and stopped, or stays
 * RESUMING where the kernel refused the reset (the states note says so). */
static void discard_all(struct gload *gl)
{
	bool all = true;

	for (unsigned int i = 0; i < gl->g->n; i++) {
		if (gl->l[i].data_fd >= 0)
			close(gl->l[i].data_fd);
		gl->l[i].data_fd = -1;
		all &= load_discard_partial(&gl->l[i]);
	}
	vfiomig_call_note(gl->g->ctx, all ? "every member's partial state was discarded" :
			  "not every member's partial state could be discarded");
}

static int alloc_pool(struct gload *gl)
{
	gl->n_slots = gl->g->n + 3;
	gl->slots = calloc(gl->n_slots, sizeof(*gl->slots));
	if (!gl->slots)
		return vfiomig_fail(gl->g->ctx, -ENOMEM, "out of memory for a group load");
	for (unsigned int i = 0; i < gl->n_slots; i++) {
		int r = xfer_alloc_buffer(gl->g->m[0].dev, STREAM_READ_BUFFER, &gl->slots[i].buf);

		if (r < 0)
			return r;
		give_back(gl, &gl->slots[i]);
	}
	return 0;
}

static int setup(struct gload *gl, const int *fds, unsigned int n_fds, int opts_r)
{
	struct vfiomig_group *g = gl->g;
	int r = group_xfer_check(g, fds, n_fds, gl->o.flags & VFIOMIG_XFER_RAW);

	if (r == 0)
		r = load_opts_check(g->m[0].dev, opts_r, true, &gl->o);
	if (r < 0)
		return r;
	gl->n_ins = n_fds;
	for (unsigned int i = 0; i < n_fds; i++)
		load_in_init(&gl->ins[i], fds[i], gl->o.cancel);
	for (unsigned int i = 0; i < g->n; i++)
		gl->member_of[i] = gl->device_of[i] = n_fds == 1 ? -1 : (int)i;
	for (unsigned int i = 0; i < g->n && r == 0; i++) {
		enum vfiomig_state start;

		load_init(&gl->l[i], g->m[i].dev, &gl->o, n_fds == 1 ? NULL : &gl->ins[i]);
		r = dev_check_ready(g->m[i].dev, &start);
		if (r < 0)
			call_report(gl->c, g->m[i].dev);	/* its failure, its state */
		if (r == 0 && n_fds > 1)
			r = load_alloc_buffer(&gl->l[i]);
	}
	if (r == 0 && n_fds == 1)
		r = alloc_pool(gl);
	if (r == 0 && n_fds == 1)
		gl->ins[0].reader = (struct stream_reader){ .read = load_in_read, .ctx = &gl->ins[0] };
	return r;
}

static void finish(struct gload *gl, int r, uint64_t begin_ns)
{
	struct vfiomig_stats st = { .sz = sizeof(st), .error_offset = gl->error_offset };
	uint64_t now = now_ns();

	group_fill_results(gl->g, gl->errs);
	for (unsigned int i = 0; i < gl->g->n; i++) {
		const struct load *l = &gl->l[i];

		group_xfer_result(gl->g, i, &l->stats, l->resuming && l->end_ns > l->resumed_ns ?
				  l->end_ns - l->resumed_ns : 0, gl->device_of[i]);
		st.precopy_bytes += l->stats.precopy_bytes;
		st.stop_copy_bytes += l->stats.stop_copy_bytes;
		/* Every pre-copying member records each of the group's rounds. */
		if (l->stats.precopy_rounds > st.precopy_rounds)
			st.precopy_rounds = l->stats.precopy_rounds;
		if (st.error_offset == UINT64_MAX)
			st.error_offset = l->stats.error_offset;
	}
	for (unsigned int i = 0; i < gl->n_ins; i++)
		st.stream_bytes += gl->ins[i].bytes;
	st.elapsed_ns = now - begin_ns;
	st.downtime_ns = gl->sent ? now - gl->resumed_ns : 0;
	if (gl->o.stats && sized_check_out(gl->o.stats) == 0)
		sized_copy_out(gl->o.stats, &st, sizeof(st));
	if (r == 0)
		group_progress_phase(&gl->progress, VFIOMIG_PHASE_DONE, moved(gl));
	else if (gl->sent)
		group_note_states(gl->g);
}

static int group_load(struct gload *gl, const int *fds, unsigned int n_fds, int opts_r)
{
	struct sigpipe_guard sigpipe;
	int r = setup(gl, fds, n_fds, opts_r);

	if (r < 0)
		return r;
	group_progress_init(&gl->progress, gl->o.progress, gl->o.userdata);
	sigpipe_block(&sigpipe);
	r = load_group(gl);
	if (r == -ECANCELED)
		vfiomig_fail(gl->g->ctx, r, "group load cancelled");
	if (r < 0 && gl->sent)
		discard_all(gl);
	sigpipe_restore(&sigpipe);
	return r;
}

static void gload_free(struct gload *gl)
{
	for (unsigned int i = 0; i < gl->g->n; i++)
		load_free(&gl->l[i]);
	for (unsigned int i = 0; i < gl->n_ins; i++)
		load_in_free(&gl->ins[i]);
	for (unsigned int i = 0; gl->slots && i < gl->n_slots; i++)
		free(gl->slots[i].buf);
	free(gl->slots);
	for (unsigned int i = 0; i < VFIOMIG_GROUP_MAX; i++)
		pthread_cond_destroy(&gl->q[i].cond);
	pthread_cond_destroy(&gl->freed);
	pthread_mutex_destroy(&gl->lock);
	free(gl);
}

static struct gload *gload_new(struct vfiomig_group *g, struct call *c)
{
	struct gload *gl = calloc(1, sizeof(*gl));

	if (!gl)
		return NULL;
	gl->g = g;
	gl->c = c;
	gl->error_offset = UINT64_MAX;
	pthread_mutex_init(&gl->lock, NULL);
	cond_init_monotonic(&gl->freed);
	for (unsigned int i = 0; i < VFIOMIG_GROUP_MAX; i++) {
		cond_init_monotonic(&gl->q[i].cond);
		gl->l[i].data_fd = -1;
	}
	return gl;
}

VFIOMIG_EXPORT int vfiomig_group_load(struct vfiomig_group *g, const int *in_fds,
				      unsigned int n_fds, const struct vfiomig_load_opts *opts)
{
	uint64_t begin = now_ns();
	struct call c;
	int r = group_call_begin(&c, g);
	struct gload *gl = r == 0 ? gload_new(g, &c) : NULL;
	int opts_r = gl ? sized_copy_in(&gl->o, sizeof(gl->o), opts) : 0;

	if (r == 0 && !gl)
		r = vfiomig_fail(g->ctx, -ENOMEM, "out of memory for a group load");
	if (r == 0)
		r = group_drive_begin(g);
	if (r < 0) {
		if (gl)
			gload_free(gl);
		return call_end(&c, r);
	}
	r = group_load(gl, in_fds, n_fds, opts_r);
	group_drive_end(g);
	finish(gl, r, begin);
	gload_free(gl);
	r = call_end(&c, r);
	group_give_back_members(g);
	return r;
}
