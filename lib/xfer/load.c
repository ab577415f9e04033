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

#include "load.h"
#include "export.h"
#include "call.h"
#include "log.h"
#include "states.h"
#include "cancel.h"
#include "sized.h"
#include "sigpipe.h"
#include "dev.h"
#include "util.h"

void load_in_init(struct load_in *in, int fd, const struct vfiomig_cancel *cancel)
{
	*in = (struct load_in){ .fd = fd, .cancel = cancel };
}

void load_in_free(struct load_in *in)
{
	stream_reader_free(&in->reader);
}

int load_fail(struct load *l, int err, uint64_t offset, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	l->stats.error_offset = offset;
	return vfiomig_fail_at(l->dev->ctx, err, offset, "%s: %s", l->dev->name, msg);
}

ssize_t load_in_read(void *ctx, void *buf, size_t len)
{
	struct load_in *in = ctx;
	ssize_t n = xfer_read_fd(in->fd, buf, len, in->cancel);

	if (n > 0)
		in->bytes += (uint64_t)n;
	return n;
}

void load_describe(const struct stream_identity *id, char *buf, size_t size)
{
	const char *driver = id->dev.driver[0] ? id->dev.driver : "no driver";

	if (id->dev.has_pci_ids)
		snprintf(buf, size, "%04x:%04x (%s)", id->dev.vendor, id->dev.device, driver);
	else if (id->dev.mdev_type[0])
		snprintf(buf, size, "an mdev of type %s (%s)", id->dev.mdev_type, driver);
	else
		snprintf(buf, size, "%s (%s)", id->name, driver);
}

/*
 * Two identities may describe alike ("15b3:101e (mlx5_vfio_pci)" twice)
 * and still differ: the sentence names the fields that do.
 */
const struct stream_identity *load_identity(struct load *l)
{
	if (!l->have_ours)
		xfer_identity(l->dev, &l->ours);
	l->have_ours = true;
	return &l->ours;
}

int load_check_identity(struct load *l, const struct stream_identity *theirs, uint64_t offset)
{
	const struct stream_identity *ours = load_identity(l);
	char t[LOAD_DESCRIBE_MAX], o[LOAD_DESCRIBE_MAX], d[512];

	if (stream_identity_differences(theirs, ours, d, sizeof(d)) == 0)
		return 0;
	load_describe(theirs, t, sizeof(t));
	load_describe(ours, o, sizeof(o));
	if (l->o.flags & VFIOMIG_XFER_FORCE) {
		warn(l->dev->ctx, "%s: loading a stream for %s into %s (forced); %s differ",
		     l->dev->name, t, o, d);
		return 0;
	}
	return load_fail(l, -ENODEV, offset, "stream is for %s, device is %s; %s differ; "
			 "use --force to load anyway", t, o, d);
}

int load_take_data_fd(struct load *l, int fd)
{
	int r;

	l->data_fd = fd;
	l->resuming = true;
	l->resumed_ns = now_ns();
	r = l->o.cancel ? fd_set_nonblock(fd) : 0;
	if (r < 0)
		return vfiomig_fail(l->dev->ctx, r, "%s: the data fd cannot be made non-blocking: %s",
				    l->dev->name, strerror(-r));
	l->progress.p.phase = VFIOMIG_PHASE_LOAD;
	xfer_report(&l->progress, true);
	return 0;
}

/*
 * The device refused data of @rec.  A driver that refuses the very first
 * data of an intact stream (mtty and the mock check a header that names
 * the device's configuration) was most likely given the state of another
 * model, firmware or configuration; the caller is told how to look.  A raw
 * stream has no records, and may be a whole vfiomig stream by mistake.
 */
static int data_rejected(struct load *l, const struct stream_record *rec, int r)
{
	unsigned long long at = rec->offset;

	if (l->stats.precopy_bytes + l->stats.stop_copy_bytes > 0) {
		if (l->raw)
			return load_fail(l, r, rec->offset, "the device rejected the data at stream "
					 "offset %llu: %s", at, strerror(-r));
		return load_fail(l, r, rec->offset, "the device rejected the data of the record "
				 "at stream offset %llu: %s", at, strerror(-r));
	}
	if (l->raw && rec->length >= 8 && memcmp(rec->payload, STREAM_MAGIC, 8) == 0)
		return load_fail(l, r, rec->offset, "the device rejected the stream's first data: "
				 "%s; these bytes are a vfiomig stream, not a device's bare bytes: "
				 "load it without raw mode", strerror(-r));
	if (l->raw)
		r = load_fail(l, r, rec->offset, "the device rejected the stream's first data: %s; "
			      "the stream is probably from an incompatible device (another model, "
			      "firmware or configuration)", strerror(-r));
	else
		r = load_fail(l, r, rec->offset, "the device rejected the stream's first data (the "
			      "record at stream offset %llu): %s; the stream is probably from an "
			      "incompatible device (another model, firmware or configuration): "
			      "compare the device with the stream's identity", at, strerror(-r));
	l->first_data_rejected = true;
	vfiomig_note_fact(l->dev->ctx, CALL_FACT_FIRST_DATA_REJECTED);
	return r;
}

/*
 * A backend whose checks are the target driver's own sees the bytes first:
 * what the driver would refuse is refused before the device is given it,
 * with the reason in the vendor's terms rather than a bare errno.  The
 * parser reads headers and skips payloads by count: its cost is per record.
 */
static int vendor_check(struct load *l, const struct stream_record *rec)
{
	struct vendor_parser *v = &l->vendor;
	int r;

	if (!l->dev->backend->checks_load)
		return 0;
	if (!l->vendor_ready) {
		r = vendor_parser_init(v, l->dev->backend, 0, NULL, NULL);
		l->vendor_ready = true;
		if (r < 0)
			return load_fail(l, r, rec->offset, "out of memory for the %s parser",
					 v->ops->name);
		v->target_kernel = vendor_host_kernel();
		v->target_has_ids = l->dev->id.has_pci_ids;
		v->target_device = l->dev->id.device;
		v->target_revision = l->dev->id.revision;
	}
	r = v->ops->feed(v, rec->payload, rec->length);
	if (r < 0)
		return load_fail(l, r, rec->offset, "the %s at stream offset %llu was refused "
				 "before the device saw it: %s (device byte %llu)",
				 l->raw ? "data" : "record", (unsigned long long)rec->offset,
				 v->problem, (unsigned long long)v->problem_offset);
	return 0;
}

/* The device's bytes ended: a backend refuses a cut inside its record. */
static int vendor_finish(struct load *l)
{
	struct vendor_parser *v = &l->vendor;
	uint64_t at = l->in ? l->in->bytes : UINT64_MAX;
	int r;

	if (!l->vendor_ready || !v->state)
		return 0;
	r = v->ops->finish(v);
	if (r < 0)
		return load_fail(l, r, at, "the device's bytes end inside a %s record: %s "
				 "(device byte %llu)", v->ops->name, v->problem,
				 (unsigned long long)v->problem_offset);
	return 0;
}

/*
 * With a cancel object the data fd is non-blocking (start_resuming()): a
 * device slow to take its data makes data_write() wait in poll(2) beside
 * the cancel object, so it cannot hold a cancelled load.  A driver that
 * ignores the flag (xe-vfio-pci) blocks in write() until it takes the
 * bytes, and a cancel waits for that write.
 */
static int write_data(struct load *l, const struct stream_record *rec)
{
	int r = vendor_check(l, rec);

	if (r < 0)
		return r;
	r = data_write(l->dev, l->data_fd, rec->payload, rec->length, l->o.cancel);
	if (r == -ECANCELED)
		return r;
	if (r < 0)
		return data_rejected(l, rec, r);
	if (rec->type == STREAM_DATA_PRECOPY)
		l->stats.precopy_bytes += rec->length;
	else
		l->stats.stop_copy_bytes += rec->length;
	l->end_ns = now_ns();
	atomic_fetch_add_explicit(&l->moved, rec->length, memory_order_relaxed);
	l->progress.p.bytes += rec->length;
	xfer_report(&l->progress, false);
	return 0;
}

int load_take_record(struct load *l, const struct stream_record *rec)
{
	switch (rec->type) {
	case STREAM_DATA_PRECOPY:
	case STREAM_DATA_STOP_COPY:
		if (l->have_end)
			break;	/* data after the device's end */
		return write_data(l, rec);
	case STREAM_PRECOPY_ROUND:
		l->stats.precopy_rounds++;
		return 0;
	case STREAM_VENDOR_SUMMARY:
		return 0;	/* for people: the load's own parser checks the bytes */
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
int load_check_totals(struct load *l)
{
	uint64_t written = l->stats.precopy_bytes + l->stats.stop_copy_bytes;
	int r = vendor_finish(l);

	if (r < 0)
		return r;
	if (l->raw || (l->have_end && l->end_bytes == written && l->end_precopy == l->stats.precopy_bytes))
		return 0;
	if (!l->have_end)
		return load_fail(l, -EBADMSG, l->in ? l->in->bytes : UINT64_MAX,
				 "the stream has no end-of-device record");
	return load_fail(l, -EBADMSG, l->in ? l->in->bytes : UINT64_MAX, "the stream announced %llu device "
			 "bytes but carried %llu", (unsigned long long)l->end_bytes,
			 (unsigned long long)written);
}

int load_input_failed(struct load *l, struct load_in *in, int r)
{
	if (r == -ECANCELED)
		return r;
	if (in->reader.error[0])
		return load_fail(l, r, in->reader.error_offset, "at stream offset %llu: %s",
				 (unsigned long long)in->reader.error_offset, in->reader.error);
	return load_fail(l, r, in->bytes, "reading the stream failed: %s", strerror(-r));
}

/*
 * The next record of this one-device stream: 1, 0 after a verified
 * trailer, or -errno.  A group's stream is refused here, before the first
 * write: a device would take one member's state and drop the others'.
 */
static int read_record(struct load *l, struct stream_record *rec)
{
	int r;

	if (cancel_raised(l->o.cancel))
		return -ECANCELED;
	r = stream_read_record(&l->in->reader, rec, l->buf);
	if (r < 0)
		return load_input_failed(l, l->in, r);
	if (r > 0 && rec->device != 0 && rec->type == STREAM_IDENTITY)
		return load_fail(l, -ENODEV, rec->offset, "the stream holds the state of several "
				 "devices (a group's); load it into as many devices at once");
	if (r > 0 && rec->device != 0)
		return load_fail(l, -EBADMSG, rec->offset, "record %u at stream offset %llu "
				 "belongs to device %u, but the stream has one", rec->seq,
				 (unsigned long long)rec->offset, rec->device);
	return r;
}

/* The record read ahead by load_read_identity(), then the stream's. */
static int next_record(struct load *l, struct stream_record *rec)
{
	int r = l->ahead_r;

	if (r < 0)
		return read_record(l, rec);
	l->ahead_r = -1;
	*rec = l->ahead;
	return r;
}

/* The identity, checked, and the record after it, read ahead: a stream
 * of several devices shows there, and is refused before the first write. */
int load_read_identity(struct load *l)
{
	struct stream_identity theirs;
	struct stream_record rec;
	int r;

	l->in->reader = (struct stream_reader){ .read = load_in_read, .ctx = l->in };
	r = stream_reader_begin(&l->in->reader);
	if (r < 0)
		return load_input_failed(l, l->in, r);
	r = read_record(l, &rec);
	if (r == 0)
		return load_fail(l, -EBADMSG, l->in->bytes,
				 "the stream holds no state for a device");
	if (r < 0)
		return r;
	if (rec.type != STREAM_IDENTITY ||
	    stream_identity_decode(rec.payload, rec.length, &theirs) < 0)
		return load_fail(l, -EBADMSG, rec.offset, "the stream does not start with a "
				 "valid device identity (offset %llu)",
				 (unsigned long long)rec.offset);
	r = load_check_identity(l, &theirs, rec.offset);
	if (r == 0)
		r = l->ahead_r = read_record(l, &l->ahead);
	return r < 0 ? r : 0;
}

static int load_raw(struct load *l)
{
	struct stream_record rec = { .type = STREAM_DATA_STOP_COPY, .payload = l->buf };

	for (;;) {
		ssize_t n = load_in_read(l->in, l->buf, l->buf_size);
		int r;

		if (n <= 0)
			return n == 0 ? vendor_finish(l) : load_input_failed(l, l->in, (int)n);
		rec.length = (uint32_t)n;
		rec.offset = l->in->bytes - (uint64_t)n;
		r = write_data(l, &rec);
		if (r < 0)
			return r;
	}
}

int load_records(struct load *l)
{
	struct stream_record rec;
	int r;

	if (l->raw)
		return load_raw(l);
	while ((r = next_record(l, &rec)) > 0) {
		r = load_take_record(l, &rec);
		if (r < 0)
			return r;
	}
	return r < 0 ? r : load_check_totals(l);
}

/*
 * A device that was given part of a state is reset, which discards it, and
 * stopped: a reset leaves it RUNNING, and a destination must not run until
 * a whole state is loaded.  A failure of the stop is another fault on top
 * of the load's: the device is reset and stopped once more.  The call's
 * first failure stays its message; the end of the call adds where the
 * device is.  If the kernel refuses the reset (a PF with VFs enabled may),
 * nothing else is tried: RESUMING -> STOP would load the part, and a
 * driver that validates nothing there would then be one SET from running
 * with it.  RESUMING runs nothing; the end of the call says what to do.
 */
bool load_discard_partial(struct load *l)
{
	for (int tries = 0; tries < 2; tries++) {
		/* A second reset that fails finds the state discarded by the first. */
		if (dev_reset(l->dev) < 0 && tries == 0) {
			l->dev->needs_recovery = true;
			info(l->dev->ctx, "%s: load failed; the reset that would discard the "
			     "partial state was refused", l->dev->name);
			return false;
		}
		if (dev_set_state(l->dev, VFIOMIG_STATE_STOP, NULL) == 0)
			break;
	}
	info(l->dev->ctx, "%s: load failed; the partial state was discarded", l->dev->name);
	return true;
}

/*
 * A load that failed before any data went in leaves the device where it
 * found it: a failed arc towards RESUMING may have left it on the way.
 */
static void put_back(struct load *l)
{
	struct vfiomig_dev *dev = l->dev;

	if (dev->needs_recovery && dev->call_start_known &&
	    dev_set_state(dev, (enum vfiomig_state)dev->call_start, NULL) == 0)
		info(dev->ctx, "%s: load failed before any data; the device is in %s, where "
		     "the load found it", dev->name,
		     vfiomig_state_str((enum vfiomig_state)dev->call_start));
}

int load_opts_check(struct vfiomig_dev *dev, int r, bool have_fd, const struct vfiomig_load_opts *o)
{
	if (r < 0 || !have_fd || o->flags & ~(VFIOMIG_XFER_RAW | VFIOMIG_XFER_FORCE) ||
	    o->leave > VFIOMIG_LEAVE_RUNNING ||
	    (o->buffer_size && o->buffer_size < XFER_MIN_BUFFER) ||
	    (o->stats && sized_check_out(o->stats) < 0))
		return vfiomig_fail(dev->ctx, -EINVAL, "%s: invalid load options: %s", dev->name,
				    r < 0 ? "unknown fields are set, or sz is too small" :
				    !have_fd ? "no input fd" : "a flag, mode or size is out of range");
	return 0;
}

void load_init(struct load *l, struct vfiomig_dev *dev, const struct vfiomig_load_opts *o,
	       struct load_in *in)
{
	l->dev = dev;
	l->o = *o;
	l->in = in;
	l->data_fd = -1;
	l->ahead_r = -1;
	l->raw = o->flags & VFIOMIG_XFER_RAW;
	l->stats.sz = sizeof(l->stats);
	l->stats.error_offset = UINT64_MAX;
	atomic_init(&l->moved, 0);
}

/* Any record must fit, whatever buffering was asked for. */
int load_alloc_buffer(struct load *l)
{
	l->buf_size = l->raw ? xfer_buffer_size(l->o.buffer_size, false) : STREAM_READ_BUFFER;
	return xfer_alloc_buffer(l->dev, l->buf_size, &l->buf);
}

void load_free(struct load *l)
{
	if (l->data_fd >= 0)
		close(l->data_fd);
	l->data_fd = -1;
	free(l->buf);
	l->buf = NULL;
	if (l->vendor_ready)
		vendor_parser_fini(&l->vendor);
	l->vendor_ready = false;
}

/* The caller's stats, on every return: what moved, however it ended. */
static void load_finish_stats(struct load *l, uint64_t begin_ns)
{
	uint64_t now = now_ns();

	l->stats.elapsed_ns = now - begin_ns;
	l->stats.downtime_ns = l->resuming ? now - l->resumed_ns : 0;
	if (l->in)
		l->stats.stream_bytes = l->in->bytes;
	if (l->o.stats && sized_check_out(l->o.stats) == 0)
		sized_copy_out(l->o.stats, &l->stats, sizeof(l->stats));
}

static int load_stream(struct load *l)
{
	int fd = -1;
	int r = l->raw ? 0 : load_read_identity(l);

	if (r == 0)
		r = data_begin_load(l->dev, &fd);
	if (r == 0)
		r = load_take_data_fd(l, fd);
	if (r == 0)
		r = load_records(l);
	if (r == 0)
		r = data_finish_load(l->dev, l->o.leave == VFIOMIG_LEAVE_STOP ?
				     VFIOMIG_STATE_STOP : VFIOMIG_STATE_RUNNING);
	return r;
}

static int load(struct load *l, struct load_in *in, struct vfiomig_dev *dev, int in_fd,
		int opts_r)
{
	struct sigpipe_guard sigpipe;
	int r = load_opts_check(dev, opts_r, in_fd >= 0, &l->o);

	if (r < 0)
		return r;
	load_in_init(in, in_fd, l->o.cancel);
	load_init(l, dev, &l->o, in);
	l->progress = (struct xfer_progress){ .fn = l->o.progress, .userdata = l->o.userdata };
	if (dev_stop_copy_size(dev, &l->progress.p.total_estimate) < 0)
		l->progress.p.total_estimate = 0;	/* best effort: "unknown" */
	r = load_alloc_buffer(l);
	if (r < 0)
		return r;
	sigpipe_block(&sigpipe);
	r = load_stream(l);
	if (r == -ECANCELED)
		vfiomig_fail(dev->ctx, r, "%s: load cancelled", dev->name);
	if (l->data_fd >= 0)
		close(l->data_fd);
	l->data_fd = -1;
	if (r < 0 && l->resuming)
		vfiomig_call_note(dev->ctx, load_discard_partial(l) ?
				  "the partial state was discarded" :
				  "the partial state could not be discarded");
	else if (r < 0)
		put_back(l);
	if (r == 0) {
		l->progress.p.phase = VFIOMIG_PHASE_DONE;
		xfer_report(&l->progress, true);
	}
	sigpipe_restore(&sigpipe);
	load_free(l);
	return r;
}

VFIOMIG_EXPORT int vfiomig_dev_load(struct vfiomig_dev *dev, int in_fd,
				    const struct vfiomig_load_opts *opts)
{
	uint64_t begin = now_ns();
	struct load l = { .stats.sz = sizeof(l.stats), .stats.error_offset = UINT64_MAX };
	struct load_in in;
	int opts_r = sized_copy_in(&l.o, sizeof(l.o), opts);
	struct call c;
	int r = call_begin_dev(&c, dev, CALL_REPORT_STATE);

	if (r == 0)
		r = load(&l, &in, dev, in_fd, opts_r);
	load_finish_stats(&l, begin);
	if (l.in)
		load_in_free(&in);
	return call_end(&c, r);
}
