/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig_dev_load(): reads and verifies each record into the one buffer, then
 * writes it to the device while the bytes are in cache.
 */
#include <stdarg.h>
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

/* A failure found at stream offset @offset: in the stats and in the error. */
PRINTF(4, 5)
static int load_fail(struct load *l, int err, uint64_t offset, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	l->stats.error_offset = offset;
	return vfiomig_fail_at(l->dev->ctx, err, offset, "%s: %s", l->dev->name, msg);
}

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
	const char *driver = id->dev.driver[0] ? id->dev.driver : "no driver";

	if (id->dev.has_pci_ids)
		snprintf(buf, size, "%04x:%04x (%s)", id->dev.vendor, id->dev.device, driver);
	else if (id->dev.mdev_type[0])
		snprintf(buf, size, "an mdev of type %s (%s)", id->dev.mdev_type, driver);
	else
		snprintf(buf, size, "%s (%s)", id->name, driver);
}

/* Refuses another device's state before a byte reaches this one. */
static int check_identity(struct load *l, const struct stream_record *rec)
{
	struct stream_identity theirs, ours;
	char t[2 * STREAM_STRING_MAX + 32], o[2 * STREAM_STRING_MAX + 32];

	if (rec->type != STREAM_IDENTITY ||
	    stream_identity_decode(rec->payload, rec->length, &theirs) < 0)
		return load_fail(l, -EBADMSG, rec->offset, "the stream does not start with a "
				 "valid device identity (offset %llu)",
				 (unsigned long long)rec->offset);
	xfer_identity(l->dev, &ours);
	if (stream_identity_matches(&theirs, &ours))
		return 0;
	describe(&theirs, t, sizeof(t));
	describe(&ours, o, sizeof(o));
	if (l->o.flags & VFIOMIG_XFER_FORCE) {
		warn(l->dev->ctx, "%s: loading a stream for %s into %s (forced)", l->dev->name, t, o);
		return 0;
	}
	return load_fail(l, -ENODEV, rec->offset, "stream is for %s, device is %s; "
			 "use --force to load anyway", t, o);
}

static int start_resuming(struct load *l)
{
	int r = data_begin_load(l->dev, &l->data_fd);

	if (r < 0)
		return r;
	l->resuming = true;
	l->resumed_ns = now_ns();
	r = l->o.cancel ? fd_set_nonblock(l->data_fd) : 0;
	if (r < 0)
		return vfiomig_fail(l->dev->ctx, r, "%s: the data fd cannot be made non-blocking: %s",
				    l->dev->name, strerror(-r));
	l->progress.p.phase = VFIOMIG_PHASE_LOAD;
	xfer_report(&l->progress, true);
	return 0;
}

/*
 * With a cancel object the data fd is non-blocking (start_resuming()): a
 * device slow to take its data makes data_write() wait in poll(2) beside
 * the cancel object, so it cannot hold a cancelled load.
 */
static int write_data(struct load *l, const struct stream_record *rec)
{
	int r = data_write(l->dev, l->data_fd, rec->payload, rec->length, l->o.cancel);

	if (r == -ECANCELED)
		return r;
	if (r < 0)
		return load_fail(l, r, rec->offset, "the device rejected the data of the record "
				 "at stream offset %llu: %s", (unsigned long long)rec->offset,
				 strerror(-r));
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
	return load_fail(l, -EBADMSG, rec->offset, "unexpected record 0x%04x at stream offset %llu",
			 rec->type, (unsigned long long)rec->offset);
}

/* The stream's own account of the device bytes must match what was written. */
static int check_totals(struct load *l)
{
	uint64_t written = l->stats.precopy_bytes + l->stats.stop_copy_bytes;

	if (l->raw || (l->have_end && l->end_bytes == written && l->end_precopy == l->stats.precopy_bytes))
		return 0;
	if (!l->have_end)
		return load_fail(l, -EBADMSG, l->stats.stream_bytes,
				 "the stream has no end-of-device record");
	return load_fail(l, -EBADMSG, l->stats.stream_bytes, "the stream announced %llu device "
			 "bytes but carried %llu", (unsigned long long)l->end_bytes,
			 (unsigned long long)written);
}

/* A stream failure, with the reader's account of what and where. */
static int input_failed(struct load *l, int r)
{
	if (r == -ECANCELED)
		return r;
	if (l->reader.error[0])
		return load_fail(l, r, l->reader.error_offset, "%s at stream offset %llu",
				 l->reader.error, (unsigned long long)l->reader.error_offset);
	return load_fail(l, r, l->stats.stream_bytes, "reading the stream failed: %s",
			 strerror(-r));
}

/* The next record for this load, 0 after a verified trailer, or -errno. */
static int next_record(struct load *l, struct stream_record *rec)
{
	int r;

	do {
		if (cancel_raised(l->o.cancel))
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
	if (r == 0)
		return load_fail(l, -EBADMSG, l->stats.stream_bytes,
				 "the stream holds no state for a device");
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
		ssize_t n = in_read(l, l->buf, l->buf_size);

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
		r = data_finish_load(l->dev, l->o.leave == VFIOMIG_LEAVE_STOP ?
				     VFIOMIG_STATE_STOP : VFIOMIG_STATE_RUNNING);
	return r;
}

/*
 * A device that was given part of a state is reset, which discards it, and
 * stopped: it must not run with partial state.  The call's first failure
 * stays its message; the end of the call adds where the device is.
 */
static void discard_partial(struct load *l)
{
	if (dev_reset(l->dev) == 0)
		dev_set_state(l->dev, VFIOMIG_STATE_STOP, NULL);
	call_note(l->dev->ctx, "the partial state was discarded");
	info(l->dev->ctx, "%s: load failed; the partial state was discarded", l->dev->name);
}

/* @r: how copying the caller's options went (l->o holds them). */
static int load_setup(struct load *l, struct vfiomig_dev *dev, int in_fd, int r)
{
	l->dev = dev;
	l->in_fd = in_fd;
	l->data_fd = -1;
	if (r < 0 || in_fd < 0 || l->o.flags & ~(VFIOMIG_XFER_RAW | VFIOMIG_XFER_FORCE) ||
	    l->o.leave > VFIOMIG_LEAVE_RUNNING ||
	    (l->o.buffer_size && l->o.buffer_size < XFER_MIN_BUFFER) ||
	    (l->o.stats && sized_check_out(l->o.stats) < 0))
		return vfiomig_fail(dev->ctx, -EINVAL, "%s: invalid load options: %s", dev->name,
				    r < 0 ? "unknown fields are set, or sz is too small" :
				    in_fd < 0 ? "no input fd" : "a flag, mode or size is out of range");
	l->raw = l->o.flags & VFIOMIG_XFER_RAW;
	l->reader = (struct stream_reader){ .read = in_read, .ctx = l };
	l->progress = (struct xfer_progress){ .fn = l->o.progress, .userdata = l->o.userdata };
	if (dev_stop_copy_size(dev, &l->progress.p.total_estimate) < 0)
		l->progress.p.total_estimate = 0;	/* best effort: "unknown" */
	return 0;
}

/* The caller's stats, on every return: what moved, however it ended. */
static void load_finish_stats(struct load *l, uint64_t begin_ns)
{
	uint64_t now = now_ns();

	l->stats.elapsed_ns = now - begin_ns;
	l->stats.downtime_ns = l->resuming ? now - l->resumed_ns : 0;
	if (l->o.stats && sized_check_out(l->o.stats) == 0)
		sized_copy_out(l->o.stats, &l->stats, sizeof(l->stats));
}

static int load(struct load *l, struct vfiomig_dev *dev, int in_fd, int opts_r)
{
	struct xfer_sigpipe sigpipe;
	int r = load_setup(l, dev, in_fd, opts_r);

	if (r < 0)
		return r;
	/* Any record must fit, whatever buffering was asked for. */
	l->buf_size = l->raw ? xfer_buffer_size(l->o.buffer_size, false) : STREAM_READ_BUFFER;
	r = xfer_alloc_buffer(dev, l->buf_size, &l->buf);
	if (r < 0)
		return r;
	xfer_sigpipe_block(&sigpipe);
	r = load_stream(l);
	if (r == -ECANCELED)
		vfiomig_fail(dev->ctx, r, "%s: load cancelled", dev->name);
	if (l->data_fd >= 0)
		close(l->data_fd);
	if (r < 0 && l->resuming)
		discard_partial(l);
	if (r == 0) {
		l->progress.p.phase = VFIOMIG_PHASE_DONE;
		xfer_report(&l->progress, true);
	}
	xfer_sigpipe_restore(&sigpipe);
	free(l->buf);
	stream_reader_free(&l->reader);
	return r;
}

VFIOMIG_EXPORT int vfiomig_dev_load(struct vfiomig_dev *dev, int in_fd,
				    const struct vfiomig_load_opts *opts)
{
	uint64_t begin = now_ns();
	struct load l = { .stats.sz = sizeof(l.stats), .stats.error_offset = UINT64_MAX };
	int opts_r = sized_copy_in(&l.o, sizeof(l.o), opts);
	struct call c;
	int r = call_begin_dev(&c, dev, CALL_REPORT_STATE);

	if (r == 0)
		r = load(&l, dev, in_fd, opts_r);
	load_finish_stats(&l, begin);
	return call_end(&c, r);
}
