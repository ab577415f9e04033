/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig_dev_save(): each device read becomes one record, checksummed and
 * written out at once from the one buffer, while the bytes are in cache.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wait.h"
#include "xfer.h"

struct save {
	struct vfiomig_dev *dev;
	struct vfiomig_save_opts o;
	int out_fd;
	bool raw;
	uint8_t *buf;
	size_t buf_size;
	struct stream_writer writer;
	struct xfer_progress progress;
	struct vfiomig_stats stats;
	int data_fd;
	enum vfiomig_state start, phase_state;
	uint64_t stopped_ns;
};

static int out_write(void *ctx, const void *a, size_t alen, const void *b, size_t blen)
{
	struct save *s = ctx;
	int r = xfer_write_fd(s->out_fd, a, alen, b, blen, s->o.cancel);

	if (r == 0)
		s->stats.stream_bytes += alen + blen;
	else if (r != -ECANCELED) {
		s->stats.error_offset = s->stats.stream_bytes;
		vfiomig_fail_at(s->dev->ctx, r, s->stats.stream_bytes,
				"%s: writing the stream failed: %s%s", s->dev->name,
				strerror(-r), r == -EPIPE ? " (the reader went away)" : "");
	}
	return r;
}

/* Writes a control record (framed streams only). */
static int control_record(struct save *s, uint16_t type, const void *payload, size_t len)
{
	if (s->raw)
		return 0;
	return stream_write_record(&s->writer, type,
				   type == STREAM_PRECOPY_ROUND ? STREAM_FLAG_OPTIONAL : 0,
				   0, payload, (uint32_t)len);
}

static int write_identity(struct save *s)
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
 * only after the next PRECOPY_INFO.
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
		r = wait_fd(s->data_fd, POLLIN, s->o.cancel);
		if (r < 0)
			return r;
	}
}

static int write_data(struct save *s, bool precopy, size_t len)
{
	if (s->raw)
		return out_write(s, s->buf, len, NULL, 0);
	return stream_write_record(&s->writer, precopy ? STREAM_DATA_PRECOPY : STREAM_DATA_STOP_COPY,
				   0, 0, s->buf, (uint32_t)len);
}

/*
 * Moves device data out until the device has no more for now (pre-copy)
 * or for good (stop-copy).  Returns bytes moved or -errno.
 */
static int64_t drain(struct save *s, bool precopy)
{
	int64_t moved = 0;

	for (;;) {
		ssize_t n = cancel_raised(s->o.cancel) ? -ECANCELED : read_device(s, precopy);
		int r;

		if (n == 0 || (n == -EAGAIN && precopy))
			return moved;
		if (n == -ECANCELED)
			return n;
		if (n < 0)
			return vfiomig_fail(s->dev->ctx, (int)n, "%s: reading device data failed: %s",
					    s->dev->name, strerror((int)-n));
		r = write_data(s, precopy, (size_t)n);
		if (r < 0)
			return r;
		moved += n;
		s->progress.p.bytes += (uint64_t)n;
		if (s->progress.p.bytes > s->progress.p.total_estimate)
			s->progress.p.total_estimate = s->progress.p.bytes;
		xfer_report(&s->progress, false);
	}
}

static bool precopy_converged(const struct save *s, unsigned int rounds,
			      uint64_t initial, uint64_t dirty)
{
	const struct vfiomig_save_opts *o = &s->o;

	if (o->precopy == VFIOMIG_PRECOPY_MODE_ROUNDS)
		return rounds >= o->precopy_rounds;
	if (rounds > 0 && initial == 0 && dirty <= o->precopy_dirty_threshold)
		return true;
	return rounds >= o->precopy_rounds || s->stats.precopy_bytes >= o->precopy_max_bytes;
}

static int precopy_round_record(struct save *s, unsigned int round, uint64_t initial,
				uint64_t dirty)
{
	uint8_t p[STREAM_PRECOPY_ROUND_SIZE];

	put_le32(p, round);
	put_le32(p + 4, 0);
	put_le64(p + 8, initial);
	put_le64(p + 16, dirty);
	return control_record(s, STREAM_PRECOPY_ROUND, p, sizeof(p));
}

/* Iterates pre-copy: ask the device (mlx5 makes data only then), then drain. */
static int precopy(struct save *s)
{
	unsigned int rounds = 0;

	/* Best effort: without it REINIT goes unreported, as before 7.1. */
	if (dev_enable_precopy_reinit(s->dev) < 0)
		dbg(s->dev->ctx, "%s: pre-copy without REINIT reports", s->dev->name);
	s->progress.p.phase = VFIOMIG_PHASE_PRECOPY;
	xfer_report(&s->progress, true);
	for (;;) {
		uint64_t initial, dirty;
		uint32_t flags;
		int64_t moved;
		int r = dev_get_precopy_info(s->dev, s->data_fd, &initial, &dirty, &flags);

		if (r < 0)
			return r;
		if (flags & VFIOMIG_PRECOPY_INFO_REINIT)
			info(s->dev->ctx, "%s: the device restarted its initial pre-copy data",
			     s->dev->name);
		if (initial + dirty + s->progress.p.bytes > s->progress.p.total_estimate)
			s->progress.p.total_estimate = initial + dirty + s->progress.p.bytes;
		if (precopy_converged(s, rounds, initial, dirty))
			break;
		moved = drain(s, true);
		if (moved < 0)
			return (int)moved;
		s->stats.precopy_bytes += (uint64_t)moved;
		s->progress.p.precopy_round = ++rounds;
		r = precopy_round_record(s, rounds, initial, dirty);
		if (r < 0)
			return r;
	}
	s->stats.precopy_rounds = rounds;
	return 0;
}

static int device_end_record(struct save *s)
{
	uint8_t p[STREAM_DEVICE_END_SIZE];

	put_le64(p, s->stats.precopy_bytes + s->stats.stop_copy_bytes);
	put_le64(p + 8, s->stats.precopy_bytes);
	put_le32(p + 16, s->stats.precopy_rounds);
	put_le32(p + 20, 0);
	return control_record(s, STREAM_DEVICE_END, p, sizeof(p));
}

/*
 * Everything from the first data fd to a complete stream.  The source
 * reaches its final state before the trailer goes out: a destination never
 * gets a complete stream from a source that might still be rolled back.
 */
static int save_stream(struct save *s)
{
	unsigned int flags = s->o.precopy != VFIOMIG_PRECOPY_MODE_NEVER ? VFIOMIG_SAVE_PRECOPY : 0;
	int64_t moved;
	int r;

	r = s->raw ? 0 : stream_writer_begin(&s->writer);
	if (r == 0)
		r = write_identity(s);
	if (r == 0)
		r = data_begin_save(s->dev, flags, &s->data_fd, &s->phase_state);
	if (r == 0 && s->o.cancel && (r = fd_set_nonblock(s->data_fd)) < 0)
		vfiomig_fail(s->dev->ctx, r, "%s: the data fd cannot be made non-blocking: %s",
			     s->dev->name, strerror(-r));
	if (r == 0 && s->phase_state != VFIOMIG_STATE_STOP_COPY) {
		r = precopy(s);
		if (r == 0)
			r = dev_set_state(s->dev, VFIOMIG_STATE_STOP_COPY, NULL);
	}
	if (r < 0)
		return r;
	s->stopped_ns = now_ns();
	s->progress.p.phase = VFIOMIG_PHASE_STOP_COPY;
	xfer_report(&s->progress, true);
	moved = drain(s, false);
	if (moved < 0)
		return (int)moved;
	s->stats.stop_copy_bytes = (uint64_t)moved;
	r = device_end_record(s);
	if (r == 0)
		r = dev_set_state(s->dev, s->o.leave == VFIOMIG_LEAVE_RUNNING ?
					  VFIOMIG_STATE_RUNNING : VFIOMIG_STATE_STOP, NULL);
	if (r == 0 && !s->raw)
		r = stream_writer_finish(&s->writer);
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

/* @r: how copying the caller's options went (s->o holds them). */
static int save_setup(struct save *s, struct vfiomig_dev *dev, int out_fd, int r)
{
	s->dev = dev;
	s->data_fd = -1;
	s->stats.sz = sizeof(s->stats);
	s->stats.error_offset = UINT64_MAX;
	if (r < 0 || out_fd < 0 || s->o.flags & ~VFIOMIG_XFER_RAW ||
	    s->o.precopy > VFIOMIG_PRECOPY_MODE_ROUNDS || s->o.leave > VFIOMIG_LEAVE_RUNNING ||
	    (s->o.buffer_size && s->o.buffer_size < XFER_MIN_BUFFER) ||
	    (s->o.stats && sized_check_out(s->o.stats) < 0))
		return vfiomig_fail(dev->ctx, -EINVAL, "%s: invalid save options: %s", dev->name,
				    r < 0 ? "unknown fields are set, or sz is too small" :
				    out_fd < 0 ? "no output fd" : "a flag, mode or size is out of range");
	if (s->o.precopy == VFIOMIG_PRECOPY_MODE_AUTO) {
		if (!s->o.precopy_rounds)
			s->o.precopy_rounds = 32;
		if (!s->o.precopy_dirty_threshold)
			s->o.precopy_dirty_threshold = 1u << 20;
		if (!s->o.precopy_max_bytes && dev_stop_copy_size(dev, &s->o.precopy_max_bytes) == 0)
			s->o.precopy_max_bytes *= 2;
		if (!s->o.precopy_max_bytes)
			s->o.precopy_max_bytes = UINT64_MAX;
	}
	s->out_fd = out_fd;
	s->raw = s->o.flags & VFIOMIG_XFER_RAW;
	s->writer = (struct stream_writer){ .write = out_write, .ctx = s };
	s->progress = (struct xfer_progress){ .fn = s->o.progress, .userdata = s->o.userdata };
	return dev_get_state(dev, &s->start);
}

/* The caller's stats, on every return: what moved, however it ended. */
static void save_finish_stats(struct save *s, uint64_t begin_ns)
{
	uint64_t now = now_ns();

	s->stats.elapsed_ns = now - begin_ns;
	s->stats.downtime_ns = s->stopped_ns ? now - s->stopped_ns : 0;
	if (s->o.stats && sized_check_out(s->o.stats) == 0)
		sized_copy_out(s->o.stats, &s->stats, sizeof(s->stats));
}

static int save(struct save *s, struct vfiomig_dev *dev, int out_fd, int opts_r)
{
	struct xfer_sigpipe sigpipe;
	int r = save_setup(s, dev, out_fd, opts_r);

	if (r < 0)
		return r;
	s->buf_size = xfer_buffer_size(s->o.buffer_size, !s->raw);
	r = xfer_alloc_buffer(dev, s->buf_size, &s->buf);
	if (r < 0)
		return r;
	xfer_sigpipe_block(&sigpipe);
	r = save_stream(s);
	if (r == -ECANCELED)
		vfiomig_fail(dev->ctx, r, "%s: save cancelled", dev->name);
	if (s->data_fd >= 0)
		close(s->data_fd);
	if (r == 0) {
		s->progress.p.phase = VFIOMIG_PHASE_DONE;
		xfer_report(&s->progress, true);
	} else {
		rollback(s);
	}
	xfer_sigpipe_restore(&sigpipe);
	free(s->buf);
	stream_writer_free(&s->writer);
	return r;
}

VFIOMIG_EXPORT int vfiomig_dev_save(struct vfiomig_dev *dev, int out_fd,
				    const struct vfiomig_save_opts *opts)
{
	uint64_t begin = now_ns();
	struct save s = { .stats.error_offset = UINT64_MAX };
	int opts_r = sized_copy_in(&s.o, sizeof(s.o), opts);
	struct call c;
	int r = call_begin_dev(&c, dev, CALL_REPORT_STATE);

	if (r == 0)
		r = save(&s, dev, out_fd, opts_r);
	save_finish_stats(&s, begin);
	return call_end(&c, r);
}
