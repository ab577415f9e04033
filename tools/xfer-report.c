/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What save, load and migrate print when they are done. */
#include <inttypes.h>

#include "json-writer.h"
#include "progress.h"
#include "units.h"
#include "xfer-report.h"

void xfer_progress(void *userdata, const struct vfiomig_progress *p)
{
	struct ctl *ctl = userdata;

	progress_update(ctl->progress, p);
}

static uint64_t device_bytes(const struct vfiomig_stats *s)
{
	return s->precopy_bytes + s->stop_copy_bytes;
}

static void print_text(struct ctl *ctl, const struct xfer_report *x)
{
	const struct vfiomig_stats *s = x->stats;
	char a[UNITS_BUF], b[UNITS_BUF];

	ctl_printf(ctl, "%-13s %s\n", x->destination ? "source:" : "device:", x->device);
	if (x->destination)
		ctl_printf(ctl, "%-13s %s\n", "destination:", x->destination);
	if (x->file)
		ctl_printf(ctl, "%-13s %s%s\n", "file:", x->file, x->raw ? " (raw)" : "");
	if (s->precopy_rounds || s->precopy_bytes)
		ctl_printf(ctl, "%-13s %s in %u round%s\n", "pre-copy:", format_bytes(a, s->precopy_bytes),
			   s->precopy_rounds, s->precopy_rounds == 1 ? "" : "s");
	else
		ctl_printf(ctl, "%-13s none\n", "pre-copy:");
	ctl_printf(ctl, "%-13s %s\n", "stop-copy:", format_bytes(a, s->stop_copy_bytes));
	ctl_printf(ctl, "%-13s %s (%" PRIu64 " bytes)\n", "stream:",
		   format_bytes(a, s->stream_bytes), s->stream_bytes);
	ctl_printf(ctl, "%-13s %s\n", "downtime:", format_duration(a, x->downtime_ns));
	ctl_printf(ctl, "%-13s %s, %s\n", "elapsed:", format_duration(a, s->elapsed_ns),
		   format_rate(b, rate_of(device_bytes(s), s->elapsed_ns)));
	if (x->destination)
		ctl_printf(ctl, "%-13s source %s, destination %s\n", "state:",
			   vfiomig_state_name(x->state), vfiomig_state_name(x->destination_state));
	else
		ctl_printf(ctl, "%-13s %s\n", "state:", vfiomig_state_name(x->state));
}

static void print_json(struct ctl *ctl, const struct xfer_report *x)
{
	const struct vfiomig_stats *s = x->stats;
	struct json_writer *w = ctl->jw;

	json_object_begin(w);
	if (x->destination) {
		json_member_string(w, "source", x->device);
		json_member_string(w, "destination", x->destination);
	} else {
		json_member_string(w, "device", x->device);
		json_member_string(w, "file", x->file);
		json_member_bool(w, "raw", x->raw);
	}
	json_member_uint(w, "precopy_bytes", s->precopy_bytes);
	json_member_uint(w, "precopy_rounds", s->precopy_rounds);
	json_member_uint(w, "stop_copy_bytes", s->stop_copy_bytes);
	json_member_uint(w, "device_bytes", device_bytes(s));
	json_member_uint(w, "stream_bytes", s->stream_bytes);
	json_member_uint(w, "downtime_ns", x->downtime_ns);
	json_member_uint(w, "elapsed_ns", s->elapsed_ns);
	json_member_uint(w, "bytes_per_second", rate_of(device_bytes(s), s->elapsed_ns));
	if (x->destination) {
		json_member_string(w, "source_state", vfiomig_state_name(x->state));
		json_member_string(w, "destination_state", vfiomig_state_name(x->destination_state));
	} else {
		json_member_string(w, "state", vfiomig_state_name(x->state));
	}
	json_object_end(w);
}

void xfer_report_print(struct ctl *ctl, const struct xfer_report *x)
{
	if (ctl->json)
		print_json(ctl, x);
	else if (!(ctl->quiet && ctl->out_fd == 2))	/* -q silences a summary on stderr */
		print_text(ctl, x);
}
