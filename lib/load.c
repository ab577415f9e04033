/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig_load(): reads and verifies each record into the one buffer, then
 * writes it to the device while the bytes are in cache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xfer.h"

struct load {
	struct vfiomig_dev *dev;
	struct vfiomig_load_opts o;
	int in_fd;
	bool raw;
	uint8_t *buf;
	size_t buf_size;
	struct stream_reader reader;
	struct xfer_progress progress;
	struct vfiomig_stats stats;
	int data_fd;
	bool resuming;		/* the device has been given data */
	uint64_t resumed_ns;
	bool have_end;
	uint64_t end_bytes, end_precopy;
};

static ssize_t in_read(void *ctx, void *buf, size_t len)
{
	struct load *l = ctx;
	ssize_t n = xfer_read_fd(l->in_fd, buf, len, l->o.cancel);

	if (n > 0)
		l->stats.stream_bytes += (uint64_t)n;
	return n;
}

static void describe(const struct stream_identity *id, char *buf, size_t size)
{
	if (id->has_pci_ids)
		snprintf(buf, size, "%04x:%04x (%s)", id->vendor, id->device,
			 id->driver[0] ? id->driver : "no driver");
	else
		snprintf(buf, size, "%s (%s)", id->name, id->driver[0] ? id->driver : "no driver");
}

static bool identity_matches(const struct stream_identity *a, const struct stream_identity *b)
{
	return a->has_pci_ids == b->has_pci_ids && a->vendor == b->vendor &&
	       a->device == b->device && a->subsystem_vendor == b->subsystem_vendor &&
	       a->subsystem_device == b->subsystem_device &&
	       strcmp(a->driver, b->driver) == 0 && strcmp(a->backend, b->backend) == 0;
}

/* Refuses another device's state before a byte reaches this one. */
static int check_identity(struct load *l, const struct stream_record *rec)
{
	struct stream_identity theirs, ours;
	char t[2 * STREAM_STRING_MAX + 16], o[2 * STREAM_STRING_MAX + 16];

	if (rec->type != STREAM_IDENTITY ||
	    stream_identity_decode(rec->payload, rec->length, &theirs) < 0) {
		l->stats.error_offset = rec->offset;
		return vfiomig_fail(l->dev->ctx, -EBADMSG, "%s: the stream does not start with a "
				    "valid device identity (offset %llu)", l->dev->name,
				    (unsigned long long)rec->offset);
	}
	xfer_identity(l->dev, &ours);
	if (identity_matches(&theirs, &ours))
		return 0;
	describe(&theirs, t, sizeof(t));
	describe(&ours, o, sizeof(o));
	if (l->o.flags & VFIOMIG_XFER_FORCE) {
		warn(l->dev->ctx, "%s: loading a stream for %s into %s (forced)", l->dev->name, t, o);
		return 0;
	}
	l->stats.error_offset = rec->offset;
	return vfiomig_fail(l->dev->ctx, -ENODEV, "%s: stream is for %s, device is %s; "
			    "use --force to load anyway", l->dev->name, t, o);
}

static int start_resuming(struct load *l)
{
	int r = vfiomig_load_begin(l->dev, &l->data_fd);

	if (r < 0)
		return r;
	l->resuming = true;
	l->resumed_ns = xfer_now_ns();
	l->progress.p.phase = VFIOMIG_PHASE_LOAD;
	xfer_report(&l->progress, true);
	return 0;
}

static int write_data(struct load *l, const struct stream_record *rec)
{
	int r = vfiomig_data_write(l->dev, l->data_fd, rec->payload, rec->length);

	if (r < 0) {
		l->stats.error_offset = rec->offset;
		return vfiomig_fail(l->dev->ctx, r, "%s: the device rejected the data of the record "
				    "at stream offset %llu: %s", l->dev->name,
				    (unsigned long long)rec->offset, strerror(-r));
	}
	if (rec->type == STREAM_DATA_PRECOPY)
		l->stats.precopy_bytes += rec->length;
	else
		l->stats.stop_copy_bytes += rec->length;
	l->progress.p.bytes += rec->length;
	xfer_report(&l->progress, false);
	return 0;
}

static int take_record(struct load *l, const struct stream_record *rec)
{
	switch (rec->type) {
	case STREAM_DATA_PRECOPY:
	case STREAM_DATA_STOP_COPY:
		return write_data(l, rec);
	case STREAM_PRECOPY_ROUND:
		l->stats.precopy_rounds++;
		return 0;
	case STREAM_DEVICE_END:
		if (rec->length >= STREAM_DEVICE_END_SIZE && !l->have_end) {
			l->have_end = true;
			l->end_bytes = get_le64(rec->payload);
			l->end_precopy = get_le64(rec->payload + 8);
			return 0;
		}
		break;
	default:
		break;
	}
	l->stats.error_offset = rec->offset;
	return vfiomig_fail(l->dev->ctx, -EBADMSG, "%s: unexpected record 0x%04x at stream offset %llu",
			    l->dev->name, rec->type, (unsigned long long)rec->offset);
}

/* The stream's own account of the device bytes must match what was written. */
static int check_totals(struct load *l)
{
	uint64_t written = l->stats.precopy_bytes + l->stats.stop_copy_bytes;

	if (l->raw || (l->have_end && l->end_bytes == written && l->end_precopy == l->stats.precopy_bytes))
		return 0;
	l->stats.error_offset = l->stats.stream_bytes;
	if (!l->have_end)
		return vfiomig_fail(l->dev->ctx, -EBADMSG, "%s: the stream has no end-of-device record",
				    l->dev->name);
	return vfiomig_fail(l->dev->ctx, -EBADMSG, "%s: the stream announced %llu device bytes "
			    "but carried %llu", l->dev->name, (unsigned long long)l->end_bytes,
			    (unsigned long long)written);
}

/* A stream failure, with the reader's account of what and where. */
static int input_failed(struct load *l, int r)
{
	if (r == -ECANCELED)
		return r;
	l->stats.error_offset = l->reader.error[0] ? l->reader.error_offset : l->stats.stream_bytes;
	if (l->reader.error[0])
		return vfiomig_fail(l->dev->ctx, r, "%s: %s at stream offset %llu", l->dev->name,
				    l->reader.error, (unsigned long long)l->reader.error_offset);
	return vfiomig_fail(l->dev->ctx, r, "%s: reading the stream failed: %s", l->dev->name,
			    strerror(-r));
}

/* The next record for this load, 0 after a verified trailer, or -errno. */
static int next_record(struct load *l, struct stream_record *rec)
{
	int r;

	do {
		if (xfer_cancelled(l->o.cancel))
			return -ECANCELED;
		r = stream_read_record(&l->reader, rec, l->buf);
		if (r < 0)
			return input_failed(l, r);
		/* This load takes the first device of a stream; others pass by. */
	} while (r > 0 && rec->device != 0);
	return r;
}

static int load_framed(struct load *l)
{
	struct stream_record rec;
	int r = stream_reader_begin(&l->reader);

	if (r < 0)
		return input_failed(l, r);
	r = next_record(l, &rec);
	if (r == 0) {
		l->stats.error_offset = l->stats.stream_bytes;
		return vfiomig_fail(l->dev->ctx, -EBADMSG, "%s: the stream holds no state for a device",
				    l->dev->name);
	}
	if (r > 0)
		r = check_identity(l, &rec);
	if (r == 0)
		r = start_resuming(l);
	while (r == 0 && (r = next_record(l, &rec)) > 0)
		r = take_record(l, &rec);
	return r;
}

static int load_raw(struct load *l)
{
	struct stream_record rec = { .type = STREAM_DATA_STOP_COPY, .payload = l->buf };
	int r = start_resuming(l);

	while (r == 0) {
		ssize_t n = xfer_cancelled(l->o.cancel) ? -ECANCELED :
			    in_read(l, l->buf, l->buf_size);

		if (n <= 0)
			return n == 0 ? 0 : input_failed(l, (int)n);
		rec.length = (uint32_t)n;
		rec.offset = l->stats.stream_bytes - (uint64_t)n;
		r = write_data(l, &rec);
	}
	return r;
}

static int load_stream(struct load *l)
{
	int r = l->raw ? load_raw(l) : load_framed(l);

	if (r == 0)
		r = check_totals(l);
	if (r == 0)
		r = vfiomig_load_finish(l->dev, l->o.leave == VFIOMIG_LEAVE_STOP ?
					VFIOMIG_STATE_STOP : VFIOMIG_STATE_RUNNING);
	return r;
}

/*
 * A device that was given part of a state is reset, which discards it, and
 * stopped: it must not run with partial state.  The first failure's message
 * is kept, with where the device ended up in place of where it was then.
 */
static void discard_partial(struct load *l)
{
	struct vfiomig_ctx *ctx = l->dev->ctx;
	char why[sizeof(ctx->error)], *stale;
	enum vfiomig_state now = VFIOMIG_STATE_ERROR;

	memcpy(why, ctx->error, sizeof(why));
	if (vfiomig_dev_reset(l->dev) == 0)
		vfiomig_dev_set_state(l->dev, VFIOMIG_STATE_STOP, NULL);
	vfiomig_dev_get_state(l->dev, &now);
	stale = strstr(why, "; the device is now in");
	if (stale)
		*stale = '\0';
	snprintf(ctx->error, sizeof(ctx->error), "%.400s; the partial state was discarded "
		 "and the device is in %s", why, vfiomig_state_str(now));
	info(ctx, "%s", ctx->error);
}

static int load_setup(struct load *l, struct vfiomig_dev *dev, int in_fd,
		      const struct vfiomig_load_opts *opts)
{
	int r = xfer_copy_opts(&l->o, sizeof(l->o), opts);

	if (r < 0 || in_fd < 0 || l->o.flags & ~(VFIOMIG_XFER_RAW | VFIOMIG_XFER_FORCE) ||
	    l->o.leave > VFIOMIG_LEAVE_RUNNING ||
	    (l->o.buffer_size && l->o.buffer_size < XFER_MIN_BUFFER))
		return vfiomig_fail(dev->ctx, -EINVAL, "%s: invalid load options", dev->name);
	l->dev = dev;
	l->in_fd = in_fd;
	l->raw = l->o.flags & VFIOMIG_XFER_RAW;
	l->data_fd = -1;
	l->stats.sz = sizeof(l->stats);
	l->stats.error_offset = UINT64_MAX;
	l->reader = (struct stream_reader){ .read = in_read, .ctx = l };
	l->progress = (struct xfer_progress){ .fn = l->o.progress, .userdata = l->o.userdata };
	vfiomig_dev_get_stop_copy_size(dev, &l->progress.p.total_estimate);
	return 0;
}

static void load_finish_stats(struct load *l, uint64_t begin_ns)
{
	uint64_t now = xfer_now_ns();

	l->stats.elapsed_ns = now - begin_ns;
	l->stats.downtime_ns = l->resuming ? now - l->resumed_ns : 0;
	if (l->o.stats)
		memcpy(l->o.stats, &l->stats, l->o.stats->sz < sizeof(l->stats) ?
		       l->o.stats->sz : sizeof(l->stats));
}

VFIOMIG_EXPORT int vfiomig_load(struct vfiomig_dev *dev, int in_fd,
				const struct vfiomig_load_opts *opts)
{
	uint64_t begin = xfer_now_ns();
	struct xfer_sigpipe sigpipe;
	struct load l = { 0 };
	int r;

	if (!dev)
		return -EINVAL;
	r = load_setup(&l, dev, in_fd, opts);
	if (r < 0)
		return r;
	/* Any record must fit, whatever buffering was asked for. */
	l.buf_size = l.raw ? xfer_buffer_size(l.o.buffer_size, false) : STREAM_READ_BUFFER;
	r = xfer_alloc_buffer(dev, l.buf_size, &l.buf);
	if (r < 0)
		return r;
	xfer_sigpipe_block(&sigpipe);
	r = load_stream(&l);
	if (r == -ECANCELED)
		vfiomig_fail(dev->ctx, r, "%s: load cancelled", dev->name);
	if (l.data_fd >= 0)
		close(l.data_fd);
	if (r < 0 && l.resuming)
		discard_partial(&l);
	if (r == 0) {
		l.progress.p.phase = VFIOMIG_PHASE_DONE;
		xfer_report(&l.progress, true);
	}
	xfer_sigpipe_restore(&sigpipe);
	free(l.buf);
	stream_reader_free(&l.reader);
	load_finish_stats(&l, begin);
	return r;
}
