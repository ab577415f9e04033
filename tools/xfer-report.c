/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What save, load and migrate print when they are done. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "describe.h"
#include "json-writer.h"
#include "progress.h"
#include "units.h"
#include "util.h"
#include "xfer-report.h"

void xfer_progress(void *userdata, const struct vfiomig_progress *p)
{
	struct ctl *ctl = userdata;

	progress_update(ctl->progress, p);
}

struct progress *xfer_progress_new(struct ctl *ctl, const char *command, int n,
				   const char *input)
{
	enum progress_mode mode = ctl->progress_mode;
	struct progress *p;
	char label[32];
	struct stat st;
	int r;

	if (ctl->quiet && mode != PROGRESS_ALWAYS)
		mode = PROGRESS_NEVER;
	if (n > 1)
		snprintf(label, sizeof(label), "%s %d devices", command, n);
	else
		snprintf(label, sizeof(label), "%s", command);
	p = progress_new(mode, label, input ? PROGRESS_CLAIM_ON_DATA : PROGRESS_CLAIM_NOW);
	if (!input || !progress_enabled(p))
		return p;
	r = strcmp(input, "-") == 0 ? fstat(STDIN_FILENO, &st) : stat(input, &st);
	if (r == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		progress_set_total(p, (uint64_t)st.st_size);
	return p;
}

static uint64_t device_bytes(const struct vfiomig_stats *s)
{
	return s->precopy_bytes + s->stop_copy_bytes;
}

/* The members of a migrate have a destination each. */
static bool is_migrate(const struct ctl *ctl)
{
	return ctl->nmembers > 0 && ctl->members[0].destination[0];
}

/* "1.0 MiB in 2 rounds", or "none" */
static const char *format_precopy(char *buf, size_t size, uint64_t bytes, unsigned int rounds)
{
	char a[UNITS_BUF];

	if (!rounds && !bytes)
		snprintf(buf, size, "none");
	else
		snprintf(buf, size, "%s in %u round%s", format_bytes(a, bytes), rounds,
			 rounds == 1 ? "" : "s");
	return buf;
}

/* ", estimated 80.1 ms" (at the switchover), or "" without pre-copy */
static const char *format_estimate(char *buf, size_t size, unsigned int rounds,
				   uint64_t estimate_ns)
{
	char a[UNITS_BUF];

	if (!rounds)
		buf[0] = '\0';
	else
		snprintf(buf, size, ", estimated %s", estimate_ns == UINT64_MAX ? "unknown" :
			 format_duration(a, estimate_ns));
	return buf;
}

/* "null" for no estimate (no pre-copy, or none possible), else the ns */
static void json_estimate(struct json_writer *w, const char *name, unsigned int rounds,
			  uint64_t estimate_ns)
{
	if (!rounds || estimate_ns == UINT64_MAX)
		json_member_null(w, name);
	else
		json_member_uint(w, name, estimate_ns);
}

/*
 * The state every member (@destination: every destination) is in, for
 * the group's "state"; false if they differ or one is unknown.
 */
static bool common_state(const struct ctl *ctl, bool destination, enum vfiomig_state *ret)
{
	for (int i = 0; i < ctl->nmembers; i++) {
		const struct xfer_member *m = &ctl->members[i];
		bool has = destination ? m->has_destination_state : m->has_state;
		enum vfiomig_state s = destination ? m->destination_state : m->state;

		if (!has || (i > 0 && s != *ret))
			return false;
		*ret = s;
	}
	return ctl->nmembers > 0;
}

static const char *state_text(const struct ctl *ctl, bool destination)
{
	enum vfiomig_state s = VFIOMIG_STATE_ERROR;

	return common_state(ctl, destination, &s) ? vfiomig_state_name(s) : "mixed";
}

static void text_member(struct ctl *ctl, int i, const struct xfer_member *m)
{
	char label[32], pre[64], a[UNITS_BUF], b[UNITS_BUF], name[256], est[64];

	snprintf(label, sizeof(label), "device %d:", i);
	ctl_printf(ctl, "%-13s %s", label, describe_printable(name, sizeof(name), m->device));
	if (m->destination[0])
		ctl_printf(ctl, " -> %s", describe_printable(name, sizeof(name), m->destination));
	else if (m->stream_device != i)	/* a load that matched by identity */
		ctl_printf(ctl, " (stream device %d)", m->stream_device);
	ctl_printf(ctl, ": pre-copy %s, stop-copy %s, downtime %s%s, ",
		   format_precopy(pre, sizeof(pre), m->precopy_bytes, m->precopy_rounds),
		   format_bytes(a, m->stop_copy_bytes), format_duration(b, m->downtime_ns),
		   format_estimate(est, sizeof(est), m->precopy_rounds, m->downtime_estimate_ns));
	if (m->destination[0])
		ctl_printf(ctl, "source %s, destination %s\n",
			   m->has_state ? vfiomig_state_name(m->state) : "unknown",
			   m->has_destination_state ? vfiomig_state_name(m->destination_state) :
			   "unknown");
	else
		ctl_printf(ctl, "%s\n", m->has_state ? vfiomig_state_name(m->state) : "unknown");
}

static void text_head(struct ctl *ctl, const struct xfer_report *x)
{
	char name[256];

	if (x->group) {
		ctl_printf(ctl, "%-13s %d devices\n", "group:", ctl->nmembers);
		return;
	}
	ctl_printf(ctl, "%-13s %s\n", x->destination ? "source:" : "device:",
		   describe_printable(name, sizeof(name), x->device));
	if (x->destination)
		ctl_printf(ctl, "%-13s %s\n", "destination:",
			   describe_printable(name, sizeof(name), x->destination));
}

static void text_state(struct ctl *ctl, const struct xfer_report *x)
{
	bool migrate = x->group ? is_migrate(ctl) : x->destination != NULL;

	if (x->group && migrate)
		ctl_printf(ctl, "%-13s sources %s, destinations %s\n", "state:",
			   state_text(ctl, false), state_text(ctl, true));
	else if (x->group)
		ctl_printf(ctl, "%-13s %s\n", "state:", state_text(ctl, false));
	else if (migrate)
		ctl_printf(ctl, "%-13s source %s, destination %s\n", "state:",
			   vfiomig_state_name(x->state), vfiomig_state_name(x->destination_state));
	else
		ctl_printf(ctl, "%-13s %s\n", "state:", vfiomig_state_name(x->state));
}

/* "85.2 ms, estimated 80.1 ms against a 300.0 ms target; the pre-copy deadline passed" */
static void text_downtime(struct ctl *ctl, const struct xfer_report *x)
{
	const struct vfiomig_stats *s = x->stats;
	char a[UNITS_BUF], b[UNITS_BUF], est[64];

	ctl_printf(ctl, "%-13s %s%s", "downtime:", format_duration(a, x->downtime_ns),
		   format_estimate(est, sizeof(est), s->precopy_rounds, s->downtime_estimate_ns));
	if (x->downtime_limit_ns)
		ctl_printf(ctl, " against a %s target", format_duration(b, x->downtime_limit_ns));
	ctl_printf(ctl, "%s\n", s->precopy_timed_out ? "; the pre-copy deadline passed" : "");
}

static void print_text(struct ctl *ctl, const struct xfer_report *x)
{
	const struct vfiomig_stats *s = x->stats;
	char a[UNITS_BUF], b[UNITS_BUF], pre[64], file[4 * PATH_MAX];

	text_head(ctl, x);
	if (x->file)
		ctl_printf(ctl, "%-13s %s%s\n", "file:",
			   describe_printable(file, sizeof(file), x->file), x->raw ? " (raw)" : "");
	ctl_printf(ctl, "%-13s %s\n", "pre-copy:",
		   format_precopy(pre, sizeof(pre), s->precopy_bytes, s->precopy_rounds));
	ctl_printf(ctl, "%-13s %s\n", "stop-copy:", format_bytes(a, s->stop_copy_bytes));
	ctl_printf(ctl, "%-13s %s (%" PRIu64 " %s)\n", "stream:",
		   format_bytes(a, s->stream_bytes), s->stream_bytes,
		   plural(s->stream_bytes, "byte", "bytes"));
	text_downtime(ctl, x);
	ctl_printf(ctl, "%-13s %s, %s\n", "elapsed:", format_duration(a, s->elapsed_ns),
		   format_rate(b, rate_of(device_bytes(s), s->elapsed_ns)));
	text_state(ctl, x);
	for (int i = 0; x->group && i < ctl->nmembers; i++)
		text_member(ctl, i, &ctl->members[i]);
}

static void json_state(struct json_writer *w, const char *name, bool has, enum vfiomig_state s)
{
	json_member_string(w, name, has ? vfiomig_state_name(s) : NULL);
}

static void json_error(struct json_writer *w, const char *name, int err)
{
	json_name(w, name);
	if (!err) {
		json_null(w);
		return;
	}
	json_object_begin(w);
	json_member_int(w, "errno", err);
	json_member_string(w, "message", strerror(err));
	json_object_end(w);
}

static void json_member(struct json_writer *w, const struct xfer_member *m)
{
	bool migrate = m->destination[0];

	json_object_begin(w);
	if (migrate) {
		json_member_string(w, "source", m->device);
		json_member_string(w, "destination", m->destination);
	} else {
		json_member_string(w, "device", m->device);
	}
	json_member_int(w, "stream_device", m->stream_device);
	json_member_uint(w, "precopy_bytes", m->precopy_bytes);
	json_member_uint(w, "precopy_rounds", m->precopy_rounds);
	json_member_uint(w, "stop_copy_bytes", m->stop_copy_bytes);
	json_member_uint(w, "device_bytes", m->precopy_bytes + m->stop_copy_bytes);
	json_member_uint(w, "downtime_ns", m->downtime_ns);
	json_estimate(w, "downtime_estimate_ns", m->precopy_rounds, m->downtime_estimate_ns);
	json_member_uint(w, "precopy_bandwidth", m->precopy_bandwidth);
	if (migrate) {
		json_member_uint(w, "destination_bytes", m->destination_bytes);
		json_state(w, "source_state", m->has_state, m->state);
		json_state(w, "destination_state", m->has_destination_state, m->destination_state);
		json_error(w, "source_error", m->err);
		json_error(w, "destination_error", m->destination_err);
	} else {
		json_state(w, "state", m->has_state, m->state);
		json_error(w, "error", m->err);
	}
	json_object_end(w);
}

void xfer_members_json(struct ctl *ctl, struct json_writer *w)
{
	json_name(w, "devices");
	json_array_begin(w);
	for (int i = 0; i < ctl->nmembers; i++)
		json_member(w, &ctl->members[i]);
	json_array_end(w);
}

/* A group's names and states: null for "not one device", and the state
 * every member shares. */
static void json_group_states(struct ctl *ctl, bool migrate)
{
	struct json_writer *w = ctl->jw;
	enum vfiomig_state s = VFIOMIG_STATE_ERROR;
	bool has;

	if (migrate) {
		has = common_state(ctl, false, &s);
		json_state(w, "source_state", has, s);
		has = common_state(ctl, true, &s);
		json_state(w, "destination_state", has, s);
	} else {
		has = common_state(ctl, false, &s);
		json_state(w, "state", has, s);
	}
	xfer_members_json(ctl, w);
}

/* A save's downtime figures: the estimate at the switchover, the target,
 * the bandwidth pre-copy measured, whether the deadline ended it. */
static void json_save_figures(struct json_writer *w, const struct xfer_report *x)
{
	const struct vfiomig_stats *s = x->stats;

	json_estimate(w, "downtime_estimate_ns", s->precopy_rounds, s->downtime_estimate_ns);
	if (x->downtime_limit_ns)
		json_member_uint(w, "downtime_limit_ns", x->downtime_limit_ns);
	else
		json_member_null(w, "downtime_limit_ns");
	json_member_uint(w, "precopy_bandwidth", s->precopy_bandwidth);
	json_member_bool(w, "precopy_timed_out", s->precopy_timed_out);
}

static void print_json(struct ctl *ctl, const struct xfer_report *x)
{
	const struct vfiomig_stats *s = x->stats;
	struct json_writer *w = ctl->jw;
	bool migrate = x->group ? is_migrate(ctl) : x->destination != NULL;

	json_object_begin(w);
	if (migrate) {
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
	if (x->saved)
		json_save_figures(w, x);
	json_member_uint(w, "elapsed_ns", s->elapsed_ns);
	json_member_uint(w, "bytes_per_second", rate_of(device_bytes(s), s->elapsed_ns));
	if (x->group) {
		json_group_states(ctl, migrate);
	} else if (migrate) {
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

/* Where member @dev is: after the call (@res), or now. */
static void take_state(struct vfiomig_dev *dev, const struct vfiomig_group_result *res,
		       bool have_res, bool now, bool *has, enum vfiomig_state *state)
{
	if (have_res && !now) {
		*has = res->has_state;
		*state = res->state;
	} else {
		*has = vfiomig_dev_get_state(dev, state) == 0;
	}
}

int xfer_take_group(struct ctl *ctl, struct vfiomig_group *g, bool now)
{
	int n = vfiomig_group_get_size(g);

	free(ctl->members);
	ctl->nmembers = 0;
	ctl->members = calloc(n > 0 ? (size_t)n : 1, sizeof(*ctl->members));
	if (!ctl->members)
		return ctl_fail(ctl, ENOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		struct vfiomig_dev *dev = vfiomig_group_get_member(g, (unsigned int)i);
		struct vfiomig_group_result res = { .sz = sizeof(res) };
		struct xfer_member *m = &ctl->members[i];
		bool have = vfiomig_group_get_result(g, (unsigned int)i, &res) == 0;

		snprintf(m->device, sizeof(m->device), "%s", vfiomig_dev_get_name(dev));
		m->stream_device = have ? res.stream_device : i;
		m->err = have ? res.err : 0;
		m->precopy_bytes = res.precopy_bytes;
		m->stop_copy_bytes = res.stop_copy_bytes;
		m->precopy_rounds = res.precopy_rounds;
		m->downtime_ns = res.downtime_ns;
		m->downtime_estimate_ns = res.downtime_estimate_ns;
		m->precopy_bandwidth = res.precopy_bandwidth;
		take_state(dev, &res, have, now, &m->has_state, &m->state);
		if (m->has_state)
			ctl_note_state(ctl, m->device, m->state);
	}
	ctl->nmembers = n > 0 ? n : 0;
	return EXIT_OK;
}

/* The source that @stream_device names, or else the first still unpaired. */
static struct xfer_member *pair_of(struct ctl *ctl, int stream_device)
{
	if (stream_device >= 0 && stream_device < ctl->nmembers &&
	    !ctl->members[stream_device].destination[0])
		return &ctl->members[stream_device];
	for (int i = 0; i < ctl->nmembers; i++)
		if (!ctl->members[i].destination[0])
			return &ctl->members[i];
	return NULL;
}

void xfer_take_destinations(struct ctl *ctl, struct vfiomig_group *dst, bool now)
{
	int n = vfiomig_group_get_size(dst);

	for (int i = 0; i < n; i++) {
		struct vfiomig_dev *dev = vfiomig_group_get_member(dst, (unsigned int)i);
		struct vfiomig_group_result res = { .sz = sizeof(res) };
		bool have = vfiomig_group_get_result(dst, (unsigned int)i, &res) == 0;
		struct xfer_member *m = pair_of(ctl, have ? res.stream_device : i);

		if (!m)
			return;	/* more destinations than sources: refused before */
		snprintf(m->destination, sizeof(m->destination), "%s", vfiomig_dev_get_name(dev));
		m->destination_err = have ? res.err : 0;
		m->destination_bytes = res.precopy_bytes + res.stop_copy_bytes;
		take_state(dev, &res, have, now, &m->has_destination_state, &m->destination_state);
		if (m->has_destination_state)
			ctl_note_state(ctl, m->destination, m->destination_state);
	}
}

int xfer_fail(struct ctl *ctl, const struct ctl_devices *d, int n, int e)
{
	char subject[32];
	int r;

	if (!d->group)
		return ctl_fail_lib(ctl, d->vctx, vfiomig_dev_get_name(d->dev), e);
	/* A failure of no one member (the stream's, say) is the group's. */
	snprintf(subject, sizeof(subject), "%d devices", n);
	r = ctl_fail_lib(ctl, d->vctx, subject, e);

	if (xfer_take_group(ctl, d->group, false) == EXIT_OK)
		xfer_members_message(ctl);
	return r;
}

int xfer_report_done(struct ctl *ctl, const struct ctl_devices *d, const char *file, bool raw,
		     bool saved, uint64_t limit_ns, const struct vfiomig_stats *stats)
{
	struct xfer_report x = { .file = file, .raw = raw, .stats = stats,
				 .downtime_ns = stats->downtime_ns, .group = d->group != NULL,
				 .saved = saved, .downtime_limit_ns = limit_ns };
	int r, e;

	if (d->group) {
		r = xfer_take_group(ctl, d->group, false);
	} else {
		x.device = vfiomig_dev_get_name(d->dev);
		e = vfiomig_dev_get_state(d->dev, &x.state);
		r = e < 0 ? ctl_fail_lib(ctl, d->vctx, x.device, e) : EXIT_OK;
	}
	if (r == EXIT_OK)
		xfer_report_print(ctl, &x);
	return r;
}

void xfer_fail_crossed(struct ctl *ctl)
{
	uint64_t sent = 0, taken = 0;
	const char *s = ctl->nmembers > 1 ? "s" : "";
	char a[UNITS_BUF], b[UNITS_BUF];

	for (int i = 0; i < ctl->nmembers; i++) {
		sent += ctl->members[i].precopy_bytes + ctl->members[i].stop_copy_bytes;
		taken += ctl->members[i].destination_bytes;
	}
	if (sent || taken)
		ctl_fail_append(ctl, "%s of device state had left the source%s, and the "
				"destination%s had taken %s", format_bytes(a, sent), s, s,
				format_bytes(b, taken));
}

static void message_member(struct ctl *ctl, const char *name, int err, bool has,
			   enum vfiomig_state s)
{
	ctl_message(ctl, "%s: %s; now in %s", name, err ? strerror(err) : "no failure of its own",
		    has ? vfiomig_state_name(s) : "an unknown state");
}

void xfer_members_message(struct ctl *ctl)
{
	for (int i = 0; ctl->verbose && i < ctl->nmembers; i++) {
		const struct xfer_member *m = &ctl->members[i];

		message_member(ctl, m->device, m->err, m->has_state, m->state);
		if (m->destination[0])
			message_member(ctl, m->destination, m->destination_err,
				       m->has_destination_state, m->destination_state);
	}
}
