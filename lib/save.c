/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig_save(): this thread reads the device into a ring of buffers while
 * a second thread frames and checksums them and writes them out, so device
 * reads and output writes overlap.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pipeline.h"
#include "xfer.h"

struct save {
	struct vfiomig_dev *dev;
	struct vfiomig_save_opts o;
	int out_fd;
	bool raw;
	struct pipeline pipe;
	struct stream_writer writer;
	XXH3_state_t *hash;	/* of the slot being filled */
	struct xfer_progress progress;
	struct vfiomig_stats stats;
	int data_fd;
	enum vfiomig_state start, phase_state;
	uint64_t stopped_ns;
	char worker_error[256];
};

static int out_write(void *ctx, const void *a, size_t alen, const void *b, size_t blen)
{
	struct save *s = ctx;
	int r = xfer_write_fd(s->out_fd, a, alen, b, blen, &s->pipe);

	if (r == 0)
		s->stats.stream_bytes += alen + blen;
	return r;
}

/* The output thread: frames each slot as a record, or writes it bare. */
static void *output_thread(void *data)
{
	struct save *s = data;
	struct pipeline_slot *slot;
	int r = s->raw ? 0 : stream_writer_begin(&s->writer);

	while (r == 0 && (slot = pipeline_pop(&s->pipe))) {
		if (s->raw)
			r = out_write(s, slot->data, slot->len, NULL, 0);
		else if (slot->hashed)
			r = stream_write_record_hashed(&s->writer, slot->type, 0, 0, slot->data,
						       (uint32_t)slot->len, slot->hash);
		else
			r = stream_write_record(&s->writer, slot->type,
						slot->type == STREAM_PRECOPY_ROUND ? STREAM_FLAG_OPTIONAL : 0,
						0, slot->data, (uint32_t)slot->len);
		pipeline_release(&s->pipe);
	}
	if (r == 0 && !s->raw && !pipeline_error(&s->pipe))
		r = stream_writer_finish(&s->writer);
	/* Only a failure of its own is reported: the other side explains its. */
	if (r < 0 && !pipeline_error(&s->pipe)) {
		snprintf(s->worker_error, sizeof(s->worker_error), "writing the stream failed: %s%s",
			 strerror(-r), r == -EPIPE ? " (the reader went away)" : "");
		pipeline_fail(&s->pipe, r);
	}
	return NULL;
}

/* Queues a control record (framed streams only). */
static int queue_record(struct save *s, uint16_t type, const void *payload, size_t len)
{
	struct pipeline_slot *slot;

	if (s->raw)
		return 0;
	slot = pipeline_get_free(&s->pipe);
	if (!slot)
		return pipeline_error(&s->pipe);
	memcpy(slot->data, payload, len);
	slot->hashed = false;
	slot->len = len;
	slot->type = type;
	pipeline_push(&s->pipe);
	return 0;
}

static int queue_identity(struct save *s)
{
	struct stream_identity id;
	uint8_t buf[STREAM_IDENTITY_FIXED + 5 * (2 + STREAM_STRING_MAX)];
	size_t n;

	xfer_identity(s->dev, &id);
	s->progress.p.total_estimate = id.stop_copy_size;
	n = stream_identity_encode(&id, buf, sizeof(buf));
	return queue_record(s, STREAM_IDENTITY, buf, n);
}

/*
 * Reads device data into the ring until the device has no more for now
 * (pre-copy) or for good (stop-copy).  A slot is filled by reads of at most
 * STREAM_HASH_WINDOW, each hashed at once, while the bytes the kernel just
 * copied are still in this CPU's cache; the output thread only frames and
 * writes.  Returns bytes moved or -errno.
 */
static int64_t drain(struct save *s, bool precopy)
{
	int64_t moved = 0;

	for (;;) {
		struct pipeline_slot *slot = pipeline_get_free(&s->pipe);
		size_t len = 0;
		ssize_t n = 0;

		if (!slot)
			return pipeline_error(&s->pipe);
		if (!s->raw)
			XXH3_64bits_reset(s->hash);
		while (len < s->pipe.slot_size) {
			size_t want = s->pipe.slot_size - len;

			if (want > STREAM_HASH_WINDOW)
				want = STREAM_HASH_WINDOW;
			n = vfiomig_data_read(s->dev, s->data_fd, slot->data + len, want,
					      precopy ? VFIOMIG_READ_PRECOPY : 0);
			if (n == -EAGAIN && !precopy) {
				/* A non-blocking fd in STOP_COPY: more will come. */
				n = xfer_wait_fd(s->data_fd, POLLIN, &s->pipe);
				if (n == 0)
					continue;
			}
			if (n <= 0)
				break;	/* the end for now (-EAGAIN), for good (0), or a failure */
			if (!s->raw)
				XXH3_64bits_update(s->hash, slot->data + len, (size_t)n);
			len += (size_t)n;
		}
		if (n < 0 && !(n == -EAGAIN && precopy)) {
			vfiomig_fail(s->dev->ctx, (int)n, "%s: reading device data failed: %s",
				     s->dev->name, strerror((int)-n));
			return n;
		}
		if (len) {
			slot->len = len;
			slot->type = precopy ? STREAM_DATA_PRECOPY : STREAM_DATA_STOP_COPY;
			slot->hashed = !s->raw;
			if (slot->hashed)
				slot->hash = XXH3_64bits_digest(s->hash);
			pipeline_push(&s->pipe);
			moved += (int64_t)len;
			s->progress.p.bytes += len;
			if (s->progress.p.bytes > s->progress.p.total_estimate)
				s->progress.p.total_estimate = s->progress.p.bytes;
			xfer_report(&s->progress, false);
		}
		if (n <= 0)
			return moved;
	}
}

static bool precopy_converged(const struct save *s, unsigned int rounds,
			      uint64_t initial, uint64_t dirty)
{
	const struct vfiomig_save_opts *o = &s->o;

	if (o->precopy == VFIOMIG_PRECOPY_ROUNDS)
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
	return queue_record(s, STREAM_PRECOPY_ROUND, p, sizeof(p));
}

/* Iterates pre-copy: ask the device (mlx5 makes data only then), then drain. */
static int precopy(struct save *s)
{
	unsigned int rounds = 0;

	if (s->dev->caps & VFIOMIG_CAP_PRECOPY_INFO_V2)
		vfiomig_dev_enable_precopy_v2(s->dev);
	s->progress.p.phase = VFIOMIG_PHASE_PRECOPY;
	xfer_report(&s->progress, true);
	for (;;) {
		uint64_t initial, dirty;
		uint32_t flags;
		int64_t moved;
		int r = vfiomig_dev_get_precopy_info2(s->dev, s->data_fd, &initial, &dirty, &flags);

		if (r < 0)
			return r;
		if (flags & VFIOMIG_PRECOPY_REINIT)
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
	return queue_record(s, STREAM_DEVICE_END, p, sizeof(p));
}

/*
 * Everything from the first data fd to a complete stream.  The source
 * reaches its final state before the trailer goes out: a destination never
 * gets a complete stream from a source that might still be rolled back.
 */
static int save_stream(struct save *s)
{
	unsigned int flags = s->o.precopy != VFIOMIG_PRECOPY_NEVER ? VFIOMIG_SAVE_PRECOPY : 0;
	int64_t moved;
	int r;

	r = queue_identity(s);
	if (r == 0)
		r = vfiomig_save_begin(s->dev, flags, &s->data_fd, &s->phase_state);
	if (r == 0 && s->phase_state != VFIOMIG_STATE_STOP_COPY) {
		r = precopy(s);
		if (r == 0)
			r = vfiomig_dev_set_state(s->dev, VFIOMIG_STATE_STOP_COPY, NULL);
	}
	if (r < 0)
		return r;
	s->stopped_ns = xfer_now_ns();
	s->progress.p.phase = VFIOMIG_PHASE_STOP_COPY;
	xfer_report(&s->progress, true);
	moved = drain(s, false);
	if (moved < 0)
		return (int)moved;
	s->stats.stop_copy_bytes = (uint64_t)moved;
	r = device_end_record(s);
	if (r == 0)
		r = vfiomig_dev_set_state(s->dev, s->o.leave == VFIOMIG_LEAVE_RUNNING ?
					  VFIOMIG_STATE_RUNNING : VFIOMIG_STATE_STOP, NULL);
	if (r < 0)
		return r;
	pipeline_close(&s->pipe);
	return pipeline_join(&s->pipe);
}

/* Puts a source back where it started; keeps the first failure's message. */
static void rollback(struct save *s)
{
	struct vfiomig_ctx *ctx = s->dev->ctx;
	enum vfiomig_state now;
	char why[sizeof(ctx->error)];

	memcpy(why, ctx->error, sizeof(why));
	if (vfiomig_dev_set_state(s->dev, s->start, NULL) < 0 &&
	    vfiomig_dev_recover(s->dev, &now) >= 0 && now != s->start)
		vfiomig_dev_set_state(s->dev, s->start, NULL);
	if (vfiomig_dev_get_state(s->dev, &now) == 0)
		info(ctx, "%s: save failed; the device is back in %s", s->dev->name,
		     vfiomig_state_str(now));
	memcpy(ctx->error, why, sizeof(why));
}

static int save_setup(struct save *s, struct vfiomig_dev *dev, int out_fd,
		      const struct vfiomig_save_opts *opts)
{
	int r = xfer_copy_opts(&s->o, sizeof(s->o), opts);

	if (r < 0 || out_fd < 0 || s->o.flags & ~VFIOMIG_XFER_RAW ||
	    s->o.precopy > VFIOMIG_PRECOPY_ROUNDS || s->o.leave > VFIOMIG_LEAVE_RUNNING ||
	    (s->o.buffer_size && s->o.buffer_size < XFER_MIN_BUFFER))
		return vfiomig_fail(dev->ctx, -EINVAL, "%s: invalid save options", dev->name);
	if (s->o.precopy == VFIOMIG_PRECOPY_AUTO) {
		if (!s->o.precopy_rounds)
			s->o.precopy_rounds = 32;
		if (!s->o.precopy_dirty_threshold)
			s->o.precopy_dirty_threshold = 1u << 20;
		if (!s->o.precopy_max_bytes && vfiomig_dev_get_stop_copy_size(dev, &s->o.precopy_max_bytes) == 0)
			s->o.precopy_max_bytes *= 2;
		if (!s->o.precopy_max_bytes)
			s->o.precopy_max_bytes = UINT64_MAX;
	}
	s->dev = dev;
	s->out_fd = out_fd;
	s->raw = s->o.flags & VFIOMIG_XFER_RAW;
	s->data_fd = -1;
	s->stats.sz = sizeof(s->stats);
	s->writer = (struct stream_writer){ .write = out_write, .ctx = s };
	s->progress = (struct xfer_progress){ .fn = s->o.progress, .userdata = s->o.userdata };
	return vfiomig_dev_get_state(dev, &s->start);
}

static void save_finish_stats(struct save *s, uint64_t begin_ns)
{
	uint64_t now = xfer_now_ns();

	s->stats.elapsed_ns = now - begin_ns;
	s->stats.downtime_ns = s->stopped_ns ? now - s->stopped_ns : 0;
	s->stats.error_offset = UINT64_MAX;
	if (s->o.stats)
		memcpy(s->o.stats, &s->stats, s->o.stats->sz < sizeof(s->stats) ?
		       s->o.stats->sz : sizeof(s->stats));
}

VFIOMIG_EXPORT int vfiomig_save(struct vfiomig_dev *dev, int out_fd,
				const struct vfiomig_save_opts *opts)
{
	uint64_t begin = xfer_now_ns();
	struct save s = { 0 };
	int r;

	if (!dev)
		return -EINVAL;
	r = save_setup(&s, dev, out_fd, opts);
	if (r < 0)
		return r;
	s.hash = XXH3_createState();
	r = s.hash ? pipeline_init(&s.pipe, XFER_NSLOTS, xfer_slot_size(s.o.buffer_size, !s.raw),
				   s.o.cancel) : -ENOMEM;
	if (r == 0)
		r = pipeline_start(&s.pipe, output_thread, &s);
	if (r == 0) {
		r = save_stream(&s);
		if (r < 0) {
			pipeline_fail(&s.pipe, r);
			pipeline_join(&s.pipe);
			if (r == -ECANCELED)
				vfiomig_fail(dev->ctx, r, "%s: save cancelled; the device goes back to %s",
					     dev->name, vfiomig_state_str(s.start));
			else if (s.worker_error[0] && r == pipeline_error(&s.pipe))
				vfiomig_fail(dev->ctx, r, "%s: %s", dev->name, s.worker_error);
		}
	}
	if (s.data_fd >= 0)
		close(s.data_fd);
	if (r == 0) {
		s.progress.p.phase = VFIOMIG_PHASE_DONE;
		xfer_report(&s.progress, true);
	} else {
		rollback(&s);
	}
	pipeline_destroy(&s.pipe);
	XXH3_freeState(s.hash);
	stream_writer_free(&s.writer);
	save_finish_stats(&s, begin);
	return r;
}
