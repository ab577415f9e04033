/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig_stream_inspect(): verify a saved stream without a device, and
 * describe it record by record.  Where a device's backend is known, its
 * DATA payloads also go through the vendor parser, so an mlx5 stream shows
 * its own records inside the container.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stream.h"
#include "vendor.h"
#include "xfer.h"
#include "export.h"
#include "call.h"
#include "log.h"
#include "sized.h"
#include "dev.h"
#include "util.h"

#define INSPECT_MAX_DEVICES 64

struct inspect {
	struct vfiomig_ctx *ctx;	/* whose backends the stream may name */
	const struct vfiomig_inspect_ops *ops;
	void *userdata;
	int fd;
	struct vfiomig_stream_summary *sum;
	struct vendor_parser vendor[INSPECT_MAX_DEVICES];
	bool seen[INSPECT_MAX_DEVICES], ended[INSPECT_MAX_DEVICES];
	uint64_t data[INSPECT_MAX_DEVICES], precopy[INSPECT_MAX_DEVICES];
	uint8_t head[sizeof(STREAM_MAGIC) - 1];	/* raw mode: the input's first bytes */
	size_t head_len;
};

static ssize_t fd_read(void *ctx, void *buf, size_t len)
{
	struct inspect *in = ctx;
	ssize_t n = xfer_read_fd(in->fd, buf, len, in->ops ? in->ops->cancel : NULL);

	if (n > 0)
		in->sum->bytes += (uint64_t)n;
	return n;
}

static void problem(struct inspect *in, uint64_t offset, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void problem(struct inspect *in, uint64_t offset, const char *fmt, ...)
{
	va_list ap;

	if (in->sum->problem[0])
		return;	/* the first problem is the one that counts */
	va_start(ap, fmt);
	vsnprintf(in->sum->problem, sizeof(in->sum->problem), fmt, ap);
	va_end(ap);
	in->sum->problem_offset = offset;
}

static const char *record_kind(uint16_t type)
{
	static const char *const names[] = {
		[STREAM_IDENTITY] = "IDENTITY", [STREAM_DATA_PRECOPY] = "DATA_PRECOPY",
		[STREAM_DATA_STOP_COPY] = "DATA_STOP_COPY", [STREAM_DEVICE_END] = "DEVICE_END",
		[STREAM_TRAILER] = "TRAILER",
	};

	if (type < ARRAY_SIZE(names) && names[type])
		return names[type];
	if (type == STREAM_VENDOR_SUMMARY)
		return "VENDOR_SUMMARY";
	return type == STREAM_PRECOPY_ROUND ? "PRECOPY_ROUND" : "unknown";
}

static void report_record(struct inspect *in, const struct stream_record *rec)
{
	struct vfiomig_stream_record r = {
		.kind = record_kind(rec->type), .type = rec->type,
		.optional = (rec->flags & STREAM_FLAG_OPTIONAL) != 0,
		.device = rec->device, .offset = rec->offset, .length = rec->length,
	};

	if (in->ops && in->ops->record)
		in->ops->record(in->userdata, &r);
}

static void take_identity(struct inspect *in, const struct stream_record *rec)
{
	const struct vfiomig_vendor_ops *vendor;
	struct stream_identity id;
	struct vfiomig_stream_identity pub;

	if (stream_identity_decode(rec->payload, rec->length, &id) < 0) {
		problem(in, rec->offset, "device %u: malformed IDENTITY record", rec->device);
		return;
	}
	/* The writer named the backend; one this library lacks means opaque bytes. */
	vendor = vfiomig_vendor_find(in->ctx, id.backend);
	if (vendor_parser_init(&in->vendor[rec->device],
			       vendor ? vendor : vfiomig_vendor_find(NULL, "generic"),
			       rec->device, in->ops ? in->ops->record : NULL, in->userdata) < 0) {
		in->vendor[rec->device].ops = NULL;	/* its records go unparsed */
		problem(in, rec->offset, "device %u: out of memory for its backend's parser",
			rec->device);
	}
	/* The bytes must be those of the device the record names (xe's
	 * descriptor carries its IDs): what a load into such a device checks. */
	in->vendor[rec->device].target_has_ids = id.dev.has_pci_ids;
	in->vendor[rec->device].target_is_identity = true;
	in->vendor[rec->device].target_device = id.dev.device;
	in->vendor[rec->device].target_revision = id.dev.revision;
	in->seen[rec->device] = true;
	in->sum->devices++;
	/* The public struct is the API's; the one internal identity fills it. */
	pub = (struct vfiomig_stream_identity){
		.has_pci_ids = id.dev.has_pci_ids, .vendor = id.dev.vendor, .device = id.dev.device,
		.subsystem_vendor = id.dev.subsystem_vendor,
		.subsystem_device = id.dev.subsystem_device,
		.revision = id.dev.revision, .mig_flags = id.mig_flags,
		.stop_copy_size = id.stop_copy_size, .name = id.name, .driver = id.dev.driver,
		.backend = id.backend, .kernel = id.kernel, .library = id.library,
		.mdev_type = id.dev.mdev_type,
	};
	if (in->ops && in->ops->identity)
		in->ops->identity(in->userdata, rec->device, &pub);
}

static void take_data(struct inspect *in, const struct stream_record *rec)
{
	struct vendor_parser *v = &in->vendor[rec->device];

	in->data[rec->device] += rec->length;
	if (rec->type == STREAM_DATA_PRECOPY)
		in->precopy[rec->device] += rec->length;
	if (v->ops && !v->problem[0] && v->ops->feed(v, rec->payload, rec->length) < 0)
		problem(in, rec->offset, "device %u: %s (device stream offset %llu)", rec->device,
			v->problem, (unsigned long long)v->problem_offset);
}

static void take_end(struct inspect *in, const struct stream_record *rec)
{
	uint32_t d = rec->device;
	struct vendor_parser *v = &in->vendor[d];

	if (rec->length < STREAM_DEVICE_END_SIZE || in->ended[d]) {
		problem(in, rec->offset, "device %u: malformed or repeated DEVICE_END", d);
		return;
	}
	in->ended[d] = true;
	if (get_le64(rec->payload) != in->data[d] || get_le64(rec->payload + 8) != in->precopy[d])
		problem(in, rec->offset, "device %u: DEVICE_END counts %llu %s, the records "
			"carried %llu", d, (unsigned long long)get_le64(rec->payload),
			plural(get_le64(rec->payload), "byte", "bytes"),
			(unsigned long long)in->data[d]);
	if (v->ops && !v->problem[0] && v->ops->finish(v) < 0)
		problem(in, rec->offset, "device %u: %s", d, v->problem);
}

/* Checks what the reader cannot: the order and totals of each device's records. */
static void take_record(struct inspect *in, const struct stream_record *rec)
{
	uint32_t d = rec->device;

	report_record(in, rec);
	if (d >= INSPECT_MAX_DEVICES) {
		problem(in, rec->offset, "device index %u is over the %d this inspector follows",
			d, INSPECT_MAX_DEVICES);
		return;
	}
	if (rec->type == STREAM_IDENTITY) {
		if (in->seen[d])
			problem(in, rec->offset, "device %u: a second IDENTITY record", d);
		else
			take_identity(in, rec);
		return;
	}
	/* What a load refuses, inspection calls a problem too. */
	if (!in->seen[d]) {
		problem(in, rec->offset, "device %u: a %s record before its IDENTITY", d,
			record_kind(rec->type));
		return;
	}
	if (in->ended[d]) {
		problem(in, rec->offset, "device %u: a %s record after its DEVICE_END", d,
			record_kind(rec->type));
		return;
	}
	if (rec->type == STREAM_DATA_PRECOPY || rec->type == STREAM_DATA_STOP_COPY)
		take_data(in, rec);
	else if (rec->type == STREAM_DEVICE_END)
		take_end(in, rec);
}

/*
 * Past a problem nothing more is read: a pipe or a device may never end.
 * A regular file's size is known without reading it (a huge sparse one's
 * too), so the summary still has it whole.
 */
static void size_rest(struct inspect *in)
{
	off_t at = lseek(in->fd, 0, SEEK_CUR);
	struct stat st;

	if (at >= 0 && fstat(in->fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= at) {
		in->sum->bytes += (uint64_t)(st.st_size - at);
		in->sum->bytes_whole = 1;
	}
}

static int inspect_framed(struct inspect *in)
{
	struct stream_reader reader = { .read = fd_read, .ctx = in };
	struct stream_record rec;
	void *buf;
	int r;

	/* Aligned as save's and load's are (xfer_alloc_buffer()). */
	if (posix_memalign(&buf, XFER_BUFFER_ALIGN, STREAM_READ_BUFFER) != 0)
		return -ENOMEM;
	r = stream_reader_begin(&reader);
	/* 0.0 for input that is not a stream: no version is claimed for it */
	in->sum->version_major = reader.major;
	in->sum->version_minor = reader.minor;
	while (r == 0 && (r = stream_read_record(&reader, &rec, buf)) > 0) {
		in->sum->records++;
		take_record(in, &rec);
		r = 0;
	}
	if (r == 0 && reader.done) {
		/* The reader verified the trailer; it is a record like the others. */
		in->sum->records++;
		report_record(in, &rec);
	}
	for (uint32_t d = 0; r == 0 && d < INSPECT_MAX_DEVICES; d++)
		if (in->seen[d] && !in->ended[d])
			problem(in, in->sum->bytes, "device %u has no DEVICE_END record", d);
	if (r == 0 && reader.done && !in->sum->devices)
		problem(in, in->sum->bytes, "the stream holds no device");
	if (r < 0 && reader.error[0])
		problem(in, reader.error_offset, "%s", reader.error);
	if (r == 0)
		in->sum->bytes_whole = 1;	/* read to the trailer, and the end after it */
	else if (r == -EBADMSG || r == -EPROTO || r == -E2BIG)
		size_rest(in);
	stream_reader_free(&reader);
	for (uint32_t d = 0; d < INSPECT_MAX_DEVICES; d++)
		vendor_parser_fini(&in->vendor[d]);
	free(buf);
	/* A damaged stream is a verdict, not a failure; unreadable input is. */
	return r == -EBADMSG || r == -EPROTO || r == -E2BIG ? 0 : r;
}

/* Raw mode: whether the input's first bytes, however the reads split them,
 * are a vfiomig stream's magic, which only a raw reader takes for data. */
static void note_head(struct inspect *in, const uint8_t *buf, size_t n)
{
	size_t want = sizeof(in->head) - in->head_len;

	if (!want)
		return;
	memcpy(in->head + in->head_len, buf, n < want ? n : want);
	in->head_len += n < want ? n : want;
	in->sum->begins_as_stream = in->head_len == sizeof(in->head) &&
				    !memcmp(in->head, STREAM_MAGIC, sizeof(in->head));
}

static int inspect_raw(struct inspect *in, const struct vfiomig_vendor_ops *vendor)
{
	struct vendor_parser *v = &in->vendor[0];
	uint8_t *buf = malloc(STREAM_MAX_PAYLOAD);
	int r = 0;

	if (!buf || vendor_parser_init(v, vendor, 0, in->ops ? in->ops->record : NULL,
				       in->userdata) < 0) {
		vendor_parser_fini(v);
		free(buf);
		return -ENOMEM;
	}
	snprintf(in->sum->backend, sizeof(in->sum->backend), "%s", vendor->name);
	in->sum->devices = 1;
	for (;;) {
		ssize_t n = fd_read(in, buf, STREAM_MAX_PAYLOAD);

		if (n <= 0) {
			r = (int)n;
			in->sum->bytes_whole = n == 0;
			break;
		}
		note_head(in, buf, (size_t)n);
		if (vendor->feed(v, buf, (size_t)n) < 0) {
			size_rest(in);
			break;
		}
	}
	if (r == 0 && !v->problem[0])
		vendor->finish(v);
	if (v->problem[0])
		problem(in, v->problem_offset, "%s", v->problem);
	in->sum->records = v->records;
	vendor_parser_fini(v);
	free(buf);
	return r;
}

static int stream_inspect(struct vfiomig_ctx *ctx, int fd, unsigned int flags,
			  const char *backend, const struct vfiomig_inspect_ops *ops,
			  void *userdata, struct vfiomig_stream_summary *ret)
{
	const struct vfiomig_vendor_ops *vendor = vfiomig_vendor_find(ctx, backend ? backend : "generic");
	struct vfiomig_inspect_ops o;
	struct vfiomig_stream_summary sum = { .sz = sizeof(sum), .problem_offset = UINT64_MAX };
	struct inspect *in;
	int r;

	if (fd < 0 || !ret || sized_check_out(ret) < 0 || (flags & ~VFIOMIG_INSPECT_RAW) ||
	    sized_copy_in(&o, sizeof(o), ops) < 0)
		return vfiomig_fail(ctx, -EINVAL, "inspecting a stream needs an fd, a summary "
				    "whose sz is set, known flags and callbacks whose sz is set");
	if (!vendor)
		return vfiomig_fail(ctx, -EINVAL, "unknown backend '%s'; use generic, mlx5 or xe (or "
				    "mock, on a context the mock is attached to)", backend);
	in = calloc(1, sizeof(*in));
	if (!in)
		return vfiomig_fail(ctx, -ENOMEM, "out of memory for the inspector");
	*in = (struct inspect){ .ctx = ctx, .ops = ops ? &o : NULL, .userdata = userdata, .fd = fd, .sum = &sum };
	r = flags & VFIOMIG_INSPECT_RAW ? inspect_raw(in, vendor) : inspect_framed(in);
	free(in);
	sum.valid = !sum.problem[0];
	sized_copy_out(ret, &sum, sizeof(sum));
	if (r == -ECANCELED)
		return vfiomig_fail(ctx, r, "inspection cancelled");
	if (r < 0)
		return vfiomig_fail(ctx, r, "reading the stream failed: %s", strerror(-r));
	return 0;
}

VFIOMIG_EXPORT int vfiomig_stream_inspect(struct vfiomig_ctx *ctx, int fd, unsigned int flags,
					  const char *backend,
					  const struct vfiomig_inspect_ops *ops, void *userdata,
					  struct vfiomig_stream_summary *ret)
{
	struct call c;
	int r = call_begin_ctx(&c, ctx);

	if (r == 0)
		r = stream_inspect(ctx, fd, flags, backend, ops, userdata, ret);
	return call_end(&c, r);
}
