/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig_dev_save(): each device read becomes one record, checksummed and
 * written out at once from the one buffer, while the bytes are in cache.
 */
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "save.h"
#include "sigpipe.h"
#include "wait.h"
#include "export.h"
#include "call.h"
#include "log.h"
#include "states.h"
#include "cancel.h"
#include "sized.h"
#include "dev.h"
#include "util.h"

static int out_write(void *ctx, const void *a, size_t alen, const void *b, size_t blen)
{
	struct save_out *out = ctx;
	int r = xfer_write_fd(out->fd, a, alen, b, blen, out->cancel);

	if (r == 0)
		out->bytes += alen + blen;
	else if (r != -ECANCELED && out->error_offset == UINT64_MAX)
		out->error_offset = out->bytes;
	return r;
}

void save_out_init(struct save_out *out, int fd, bool raw,
		   const struct vfiomig_cancel *cancel)
{
	*out = (struct save_out){ .fd = fd, .raw = raw, .cancel = cancel,
				  .error_offset = UINT64_MAX };
	out->writer = (struct stream_writer){ .write = out_write, .ctx = out };
	pthread_mutex_init(&out->lock, NULL);
}

int save_out_begin(struct save_out *out)
{
	return out->raw ? 0 : stream_writer_begin(&out->writer);
}

int save_out_finish(struct save_out *out)
{
	return out->raw ? 0 : stream_writer_finish(&out->writer);
}

void save_out_free(struct save_out *out)
{
	stream_writer_free(&out->writer);
	pthread_mutex_destroy(&out->lock);
}

static int out_failed(struct save *s, int r, uint64_t at)
{
	if (r < 0 && r != -ECANCELED)
		vfiomig_fail_at(s->dev->ctx, r, at, "%s: writing the stream failed: %s%s",
				s->dev->name, strerror(-r),
				r == -EPIPE ? " (the reader went away)" : "");
	return r;
}

int save_out_failed(struct save *s, int r)
{
	return out_failed(s, r, s->out->error_offset);
}

/*
 * Writes one record (raw: the bare payload), a whole record at a time
 * when several members share the stream.  The payload is hashed before
 * the lock is taken, so members hash in parallel.
 */
static int emit(struct save *s, uint16_t type, const void *payload, size_t len)
{
	struct save_out *out = s->out;
	uint64_t hash = out->raw ? 0 : XXH3_64bits(payload, len), at;
	int r;

	pthread_mutex_lock(&out->lock);
	if (out->raw)
		r = out_write(out, payload, len, NULL, 0);
	else
		r = stream_write_record_hashed(&out->writer, type,
					       type == STREAM_PRECOPY_ROUND ||
					       type == STREAM_VENDOR_SUMMARY ? STREAM_FLAG_OPTIONAL : 0,
					       s->index, payload, (uint32_t)len, hash);
	at = out->error_offset;
	pthread_mutex_unlock(&out->lock);
	return out_failed(s, r, at);
}

/* Writes a control record (framed streams only). */
static int control_record(struct save *s, uint16_t type, const void *payload, size_t len)
{
	return s->out->raw ? 0 : emit(s, type, payload, len);
}

int save_write_identity(struct save *s)
{
	struct stream_identity id;
	uint8_t buf[STREAM_IDENTITY_MAX];
	size_t n;

	xfer_identity(s->dev, &id);
	s->progress.p.total_estimate = id.stop_copy_size;
	n = stream_identity_encode(&id, buf, sizeof(buf));
	return control_record(s, STREAM_IDENTITY, buf, n);
}

/*
 * One read of the device into the buffer: bytes, -EAGAIN at the temporary
 * end of pre-copy data (ENOMSG, or mtty's 0), 0 at the end of the
 * stop-copy data, or -errno.  With a cancel object the data fd is
 * non-blocking (save_stream()): a read that would block waits in poll(2)
 * beside the cancel object instead, so neither a slow device in pre-copy
 * nor one in stop-copy can hold a cancelled save.  At the temporary end a
 * driver answers at once, so no poll ever waits for data that would come
 * only after the next PRECOPY_INFO.  Only EAGAIN leads to poll(2): a
 * driver that ignores the flag and has no poll (xe-vfio-pci: poll says
 * always ready) blocks in read() instead, and is never polled, so never
 * spun on; a cancel then waits for that read to return.
 */
static ssize_t read_device(struct save *s, bool precopy)
{
	for (;;) {
		ssize_t n = data_read_once(s->dev, s->data_fd, s->buf, s->buf_size, s->o.cancel);
		int r;

		if (precopy && (n == -ENOMSG || n == 0))
			return -EAGAIN;
		if (n != -EAGAIN)
			return n;
		r = vfiomig_wait_fd(s->data_fd, POLLIN, s->o.cancel);
		if (r < 0)
			return r;
	}
}


/*
 * The bytes just read, through the backend's parser.  The save does not
 * fail on what it finds: the bytes are the device's own, and the target
 * decides; the summary says the stream did not parse, and a warning why.
 */
static void vendor_feed(struct save *s, const uint8_t *buf, size_t len)
{
	struct vendor_parser *v = &s->vendor;

	if (!s->vendor_on || s->vendor_failed || v->ops->feed(v, buf, len) == 0)
		return;
	s->vendor_failed = true;
	warn(s->dev->ctx, "%s: the device's bytes do not parse as an %s stream: %s "
	     "(device byte %llu)", s->dev->name, v->ops->name, v->problem,
	     (unsigned long long)v->problem_offset);
}

/*
 * VENDOR_SUMMARY (docs/stream-format.md): what the parser saw of the
 * device's bytes, per phase, written just before DEVICE_END.
 */
static int vendor_summary(struct save *s)
{
	struct vendor_parser *v = &s->vendor;
	uint8_t p[STREAM_VENDOR_SUMMARY_SIZE];

	if (!s->vendor_on)
		return 0;
	if (!s->vendor_failed && v->ops->finish(v) < 0) {
		s->vendor_failed = true;
		warn(s->dev->ctx, "%s: the device's bytes end inside an %s record: %s",
		     s->dev->name, v->ops->name, v->problem);
	}
	v->ops->summary(v, s->vendor_failed, p);
	return control_record(s, STREAM_VENDOR_SUMMARY, p, sizeof(p));
}

/* Where pre-copy's data ends and stop-copy's begins, for a backend that
 * counts them apart (xe has no pre-copy, and no mark). */
static void vendor_phase_mark(struct save *s)
{
	if (s->vendor_on && s->vendor.ops->mark_stop_copy)
		s->vendor.ops->mark_stop_copy(&s->vendor);
}

/*
 * Moves device data out until the device has no more for now (pre-copy)
 * or for good (stop-copy): 0 or -errno.  The phase's stats count each
 * read as it goes out, so that a save that fails halfway says what had
 * left the device.
 */
static int drain(struct save *s, bool precopy)
{
	uint64_t *phase_bytes = precopy ? &s->stats.precopy_bytes : &s->stats.stop_copy_bytes;

	for (;;) {
		ssize_t n = cancel_raised(s->o.cancel) ? -ECANCELED : read_device(s, precopy);
		int r;

		if (n == 0 || (n == -EAGAIN && precopy))
			return 0;
		if (n == -ECANCELED)
			return (int)n;
		if (n < 0)
			return vfiomig_fail(s->dev->ctx, (int)n, "%s: reading device data failed: %s",
					    s->dev->name, strerror((int)-n));
		r = emit(s, precopy ? STREAM_DATA_PRECOPY : STREAM_DATA_STOP_COPY, s->buf, (size_t)n);
		if (r < 0)
			return r;
		vendor_feed(s, s->buf, (size_t)n);
		*phase_bytes += (uint64_t)n;
		atomic_fetch_add_explicit(&s->moved, (uint64_t)n, memory_order_relaxed);
		s->progress.p.bytes += (uint64_t)n;
		if (s->progress.p.bytes > s->progress.p.total_estimate)
			s->progress.p.total_estimate = s->progress.p.bytes;
		xfer_report(&s->progress, false);
	}
}

bool save_round_pays(unsigned int rounds, uint64_t prev_dirty, uint64_t dirty)
{
	return rounds < 2 || dirty < prev_dirty;
}

/*
 * A count at the limit is no count (dev_size_clamp()): waiting for it to
 * reach 0 could last forever, so the initial-bytes rule cannot hold for it.
 */
bool save_initial_pending(uint64_t initial)
{
	return initial != 0 && initial < VFIOMIG_SIZE_LIMIT;
}

int save_deadline(struct vfiomig_ctx *ctx, const struct vfiomig_save_opts *o, uint64_t begin_ns,
		  bool initial_pending, const char *who, uint64_t estimate_ns, uint64_t remaining,
		  uint64_t bandwidth)
{
	char took[32], est[32], target[32];

	if (!o->precopy_timeout_ns || now_ns() - begin_ns < o->precopy_timeout_ns)
		return 0;
	if (o->on_timeout == VFIOMIG_ON_TIMEOUT_SWITCH && !initial_pending)
		return 1;
	downtime_str(o->precopy_timeout_ns, took, sizeof(took));
	downtime_str(estimate_ns, est, sizeof(est));
	if (o->downtime_limit_ns)
		downtime_str(o->downtime_limit_ns, target, sizeof(target));
	return vfiomig_fail(ctx, -ETIMEDOUT, "%s: pre-copy passed its %s deadline%s: the last "
			    "estimated downtime was %s against %s%s (%llu bytes left at %llu bytes/s); "
			    "the save gave up and the source runs on: raise the target or the "
			    "deadline, or slow the guest down", who, took,
			    initial_pending ? " with initial bytes still to send, before which no "
			    "switchover may happen" : "", est,
			    o->downtime_limit_ns ? "a target of " : "no target",
			    o->downtime_limit_ns ? target : "",
			    (unsigned long long)remaining, (unsigned long long)bandwidth);
}

/*
 * Whether pre-copy is done: 1 switch over, 0 another round, -errno.  AUTO
 * honours the uAPI's initial-bytes rule, as a group does: no switchover
 * while the device has initial bytes to send (after a REINIT too),
 * whatever the limits say; a device that never sends them all is stopped
 * by the deadline or by cancelling.  With a downtime target, the estimate
 * decides instead of the dirty threshold and the rounds that pay.
 */
static int precopy_decide(struct save *s, unsigned int rounds, uint64_t initial, uint64_t dirty)
{
	const struct vfiomig_save_opts *o = &s->o;
	uint64_t estimate = s->progress.p.downtime_estimate_ns;
	bool pending = rounds == 0 || save_initial_pending(initial);
	int r = save_deadline(s->dev->ctx, o, s->precopy_begin_ns, pending, s->dev->name,
			      estimate, s->dt.remaining, downtime_bandwidth(&s->dt));

	if (r) {
		s->stats.precopy_timed_out = r > 0;
		return r;
	}
	if (o->precopy == VFIOMIG_PRECOPY_MODE_ROUNDS)
		return rounds >= o->precopy_rounds;
	if (pending)
		return 0;
	if (o->downtime_limit_ns && estimate <= o->downtime_limit_ns)
		return 1;
	if (!o->downtime_limit_ns && (dirty <= o->precopy_dirty_threshold ||
				      !save_round_pays(rounds, s->prev_dirty, dirty)))
		return 1;
	return rounds >= o->precopy_rounds || s->stats.precopy_bytes >= o->precopy_max_bytes;
}

int save_precopy_info(struct save *s, uint64_t *initial, uint64_t *dirty, uint32_t *flags)
{
	struct xfer_progress *p = &s->progress;
	int r = dev_get_precopy_info(s->dev, s->data_fd, initial, dirty, flags);

	if (r < 0)
		return r;
	if (*flags & VFIOMIG_PRECOPY_INFO_REINIT)
		info(s->dev->ctx, "%s: the device restarted its initial pre-copy data",
		     s->dev->name);
	downtime_remaining(&s->dt, s->dev, *initial, *dirty);
	p->p.downtime_estimate_ns = downtime_of(&s->dt);
	p->p.downtime_limit_ns = s->o.downtime_limit_ns;
	/* Counts below the limit cannot wrap the sum; one at it says nothing. */
	if (*initial < VFIOMIG_SIZE_LIMIT && *dirty < VFIOMIG_SIZE_LIMIT &&
	    *initial + *dirty + p->p.bytes > p->p.total_estimate)
		p->p.total_estimate = *initial + *dirty + p->p.bytes;
	return 0;
}

int save_precopy_round(struct save *s, uint64_t initial, uint64_t dirty)
{
	uint8_t rec[STREAM_PRECOPY_ROUND_SIZE];
	uint64_t begin = now_ns(), before = s->stats.precopy_bytes;
	int r = drain(s, true);

	if (r < 0)
		return r;
	downtime_round(&s->dt, s->stats.precopy_bytes - before, now_ns() - begin);
	s->progress.p.precopy_round = ++s->stats.precopy_rounds;
	put_le32(rec, s->stats.precopy_rounds);
	put_le32(rec + 4, 0);
	put_le64(rec + 8, initial);
	put_le64(rec + 16, dirty);
	return control_record(s, STREAM_PRECOPY_ROUND, rec, sizeof(rec));
}

/* Iterates pre-copy: ask the device (mlx5 makes data only then), then drain. */
static int precopy(struct save *s)
{
	s->progress.p.phase = VFIOMIG_PHASE_PRECOPY;
	s->progress.p.downtime_estimate_ns = DOWNTIME_UNKNOWN;
	s->progress.p.downtime_limit_ns = s->o.downtime_limit_ns;
	s->precopy_begin_ns = now_ns();
	xfer_report(&s->progress, true);
	for (;;) {
		uint64_t initial, dirty, before;
		uint32_t flags;
		int r = save_precopy_info(s, &initial, &dirty, &flags);

		if (r == 0)
			r = precopy_decide(s, s->stats.precopy_rounds, initial, dirty);
		if (r < 0)
			return r;
		if (r > 0) {
			s->stats.downtime_estimate_ns = s->progress.p.downtime_estimate_ns;
			s->stats.precopy_bandwidth = downtime_bandwidth(&s->dt);
			return 0;
		}
		s->prev_dirty = dirty;
		before = s->stats.precopy_bytes;
		r = save_precopy_round(s, initial, dirty);
		if (r == 0 && s->stats.precopy_bytes == before)
			r = wait_ms(s->o.cancel, DOWNTIME_IDLE_MS);
		if (r < 0)
			return r;
	}
}

int save_stop_copy(struct save *s)
{
	uint8_t p[STREAM_DEVICE_END_SIZE];
	int r;

	s->progress.p.phase = VFIOMIG_PHASE_STOP_COPY;
	xfer_report(&s->progress, true);
	vendor_phase_mark(s);
	r = drain(s, false);
	if (r == 0)
		r = vendor_summary(s);
	if (r < 0)
		return r;
	put_le64(p, s->stats.precopy_bytes + s->stats.stop_copy_bytes);
	put_le64(p + 8, s->stats.precopy_bytes);
	put_le32(p + 16, s->stats.precopy_rounds);
	put_le32(p + 20, 0);
	s->end_ns = now_ns();
	return control_record(s, STREAM_DEVICE_END, p, sizeof(p));
}

int save_take_data_fd(struct save *s, int fd)
{
	int r;

	s->data_fd = fd;
	if (s->o.cancel && (r = fd_set_nonblock(fd)) < 0)
		return vfiomig_fail(s->dev->ctx, r, "%s: the data fd cannot be made non-blocking: %s",
				    s->dev->name, strerror(-r));
	/* Best effort: without it REINIT goes unreported, as before 7.1. */
	if (s->o.precopy != VFIOMIG_PRECOPY_MODE_NEVER && dev_enable_precopy_reinit(s->dev) < 0)
		dbg(s->dev->ctx, "%s: pre-copy without REINIT reports", s->dev->name);
	return 0;
}

/*
 * Everything from the first data fd to a complete stream.  The source
 * reaches its final state before the trailer goes out: a destination never
 * gets a complete stream from a source that might still be rolled back.
 */
static int save_stream(struct save *s)
{
	unsigned int flags = s->o.precopy != VFIOMIG_PRECOPY_MODE_NEVER ? VFIOMIG_SAVE_PRECOPY : 0;
	uint64_t arc_ns;	/* the device stops when its arc into STOP_COPY begins */
	int fd = -1;
	int r = save_out_failed(s, save_out_begin(s->out));

	if (r == 0)
		r = save_write_identity(s);
	arc_ns = now_ns();
	if (r == 0)
		r = data_begin_save(s->dev, flags, &fd, &s->phase_state);
	if (r == 0)
		r = save_take_data_fd(s, fd);
	if (r == 0 && s->phase_state != VFIOMIG_STATE_STOP_COPY)
		downtime_arcs(&s->dt, s->dev, s->phase_state, s->o.leave == VFIOMIG_LEAVE_RUNNING,
			      now_ns() - arc_ns);
	if (r == 0 && s->phase_state != VFIOMIG_STATE_STOP_COPY) {
		r = precopy(s);
		arc_ns = now_ns();
		if (r == 0)
			r = dev_set_state(s->dev, VFIOMIG_STATE_STOP_COPY, NULL);
	}
	if (r < 0)
		return r;
	s->stopped_ns = arc_ns;
	r = save_stop_copy(s);
	if (r == 0)
		r = dev_set_state(s->dev, s->o.leave == VFIOMIG_LEAVE_RUNNING ?
					  VFIOMIG_STATE_RUNNING : VFIOMIG_STATE_STOP, NULL);
	if (r == 0)
		r = save_out_failed(s, save_out_finish(s->out));
	return r;
}

/*
 * Puts a source back where it started.  What fails here is not the cause:
 * the call's first failure stays its message (vfiomig_fail()).
 */
static void rollback(struct save *s)
{
	enum vfiomig_state now;

	if (dev_set_state(s->dev, s->start, NULL) < 0 &&
	    dev_recover(s->dev, &now) >= 0 && now != s->start)
		dev_set_state(s->dev, s->start, NULL);
	if (dev_read_state(s->dev, &now) == 0)
		info(s->dev->ctx, "%s: save failed; the device is back in %s", s->dev->name,
		     vfiomig_state_str(now));
}

int save_opts_check(struct vfiomig_dev *dev, int r, bool have_fd, struct vfiomig_save_opts *o)
{
	if (r < 0 || !have_fd || o->flags & ~VFIOMIG_XFER_RAW ||
	    o->precopy > VFIOMIG_PRECOPY_MODE_ROUNDS || o->leave > VFIOMIG_LEAVE_RUNNING ||
	    o->on_timeout > VFIOMIG_ON_TIMEOUT_ABORT ||
	    (o->buffer_size && o->buffer_size < XFER_MIN_BUFFER) ||
	    (o->stats && sized_check_out(o->stats) < 0))
		return vfiomig_fail(dev->ctx, -EINVAL, "%s: invalid save options: %s", dev->name,
				    r < 0 ? "unknown fields are set, or sz is too small" :
				    !have_fd ? "no output fd" : "a flag, mode or size is out of range");
	if (o->precopy == VFIOMIG_PRECOPY_MODE_AUTO) {
		/* a target with a deadline: the deadline is the limit */
		bool timed = o->downtime_limit_ns && o->precopy_timeout_ns;

		if (!o->precopy_rounds)
			o->precopy_rounds = timed ? UINT_MAX : 32;
		if (!o->precopy_max_bytes && timed)
			o->precopy_max_bytes = UINT64_MAX;
		if (!o->precopy_dirty_threshold)
			o->precopy_dirty_threshold = 1u << 20;
		if (!o->precopy_max_bytes && dev_stop_copy_size(dev, &o->precopy_max_bytes) == 0)
			o->precopy_max_bytes *= 2;
		if (!o->precopy_max_bytes)
			o->precopy_max_bytes = UINT64_MAX;
	}
	return 0;
}

int save_init(struct save *s, struct vfiomig_dev *dev, const struct vfiomig_save_opts *o,
	      struct save_out *out, uint32_t index)
{
	uint64_t datasize;
	int r;

	s->dev = dev;
	s->o = *o;
	s->out = out;
	s->index = index;
	s->data_fd = -1;
	s->stats.sz = sizeof(s->stats);
	s->stats.error_offset = UINT64_MAX;
	atomic_init(&s->moved, 0);
	s->buf_size = xfer_buffer_size(o->buffer_size, !out->raw);
	downtime_init(&s->dt, o->precopy != VFIOMIG_PRECOPY_MODE_NEVER &&
			      dev_stop_copy_size(dev, &datasize) == 0 ? datasize : 0);
	r = xfer_alloc_buffer(dev, s->buf_size, &s->buf);
	/* Only framed streams have a place for the summary. */
	if (r == 0 && !out->raw && dev->backend->summary) {
		s->vendor_on = true;
		r = vendor_parser_init(&s->vendor, dev->backend, index, NULL, NULL);
		if (r < 0)
			vfiomig_fail(dev->ctx, r, "%s: out of memory for the %s parser", dev->name,
				     dev->backend->name);
	}
	if (r < 0)
		save_free(s);
	return r;
}

void save_free(struct save *s)
{
	if (s->data_fd >= 0)
		close(s->data_fd);
	s->data_fd = -1;
	free(s->buf);
	s->buf = NULL;
	if (s->vendor_on)
		vendor_parser_fini(&s->vendor);
	s->vendor_on = false;
}

/* The caller's stats, on every return: what moved, however it ended. */
static void save_finish_stats(struct save *s, uint64_t begin_ns)
{
	uint64_t now = now_ns();

	s->stats.elapsed_ns = now - begin_ns;
	s->stats.downtime_ns = s->stopped_ns ? now - s->stopped_ns : 0;
	if (s->out) {
		s->stats.stream_bytes = s->out->bytes;
		s->stats.error_offset = s->out->error_offset;
	}
	if (s->o.stats && sized_check_out(s->o.stats) == 0)
		sized_copy_out(s->o.stats, &s->stats, sizeof(s->stats));
}

static int save(struct save *s, struct save_out *out, struct vfiomig_dev *dev, int out_fd,
		int opts_r)
{
	struct sigpipe_guard sigpipe;
	int r = save_opts_check(dev, opts_r, out_fd >= 0, &s->o);

	if (r == 0)
		r = dev_check_ready(dev, &s->start);
	if (r < 0)
		return r;
	save_out_init(out, out_fd, s->o.flags & VFIOMIG_XFER_RAW, s->o.cancel);
	r = save_init(s, dev, &s->o, out, 0);
	if (r < 0)
		return r;
	s->progress = (struct xfer_progress){ .fn = s->o.progress, .userdata = s->o.userdata };
	sigpipe_block(&sigpipe);
	r = save_stream(s);
	if (r == -ECANCELED)
		vfiomig_fail(dev->ctx, r, "%s: save cancelled", dev->name);
	if (s->data_fd >= 0)
		close(s->data_fd);
	s->data_fd = -1;
	if (r == 0) {
		s->progress.p.phase = VFIOMIG_PHASE_DONE;
		xfer_report(&s->progress, true);
	} else {
		rollback(s);
	}
	sigpipe_restore(&sigpipe);
	save_free(s);
	return r;
}

VFIOMIG_EXPORT int vfiomig_dev_save(struct vfiomig_dev *dev, int out_fd,
				    const struct vfiomig_save_opts *opts)
{
	uint64_t begin = now_ns();
	struct save s = { .stats.error_offset = UINT64_MAX };
	struct save_out out;
	int opts_r = sized_copy_in(&s.o, sizeof(s.o), opts);
	struct call c;
	int r = call_begin_dev(&c, dev, CALL_REPORT_STATE);

	if (r == 0)
		r = save(&s, &out, dev, out_fd, opts_r);
	save_finish_stats(&s, begin);
	if (s.out)
		save_out_free(&out);
	return call_end(&c, r);
}
