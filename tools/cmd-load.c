/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig-ctl load DEVICE [DEVICE...] [-i FILE|-] [--leave running|stop]
 *                         [--force] [--raw] [--allow-no-p2p]
 *
 * Several devices load one stream of a group (vfiomig_group_load()): the
 * library matches the stream's devices to them, by position and identity,
 * before it writes anything, and no member runs before every one is loaded.
 * A regular FILE is verified whole before any device is touched.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "progress.h"
#include "stream-file.h"
#include "util.h"
#include "xfer-args.h"

/* The stream's fixed start (docs/stream-format.md). */
#define PREAMBLE_SIZE 16

struct load_args {
	struct xfer_args x;
	struct vfiomig_load_opts opts;
};

static const struct xfer_syntax syntax = {
	.file_option = 'i',
	.file_twice = "-i/--input given twice; a load reads one stream: give one -i FILE "
		      "(or -i - for stdin)",
	.raw_group = "--raw reads bare device bytes, in which one stream cannot carry the "
		     "devices of a group; load each device's raw stream on its own",
};

static int parse(struct ctl *ctl, int argc, char **argv, struct load_args *a)
{
	static const struct option opts[] = {
		ARGS_COMMON_LONG,
		XFER_ARGS_LONG,
		{ "input", required_argument, NULL, 'i' },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ 0 }
	};
	int c, r = ARGS_CONTINUE;

	args_begin();
	while (r == ARGS_CONTINUE &&
	       (c = getopt_long(argc, argv, ARGS_COMMON_SHORT "i:", opts, NULL)) >= 0) {
		if (c == OPT_FORCE)
			a->x.flags |= VFIOMIG_XFER_FORCE;
		else
			r = xfer_args_option(ctl, &a->x, c, argv);
	}
	return r == ARGS_CONTINUE ? xfer_args_devices(ctl, &a->x, argc, argv) : r;
}

/*
 * A regular file is verified whole before anything reaches a device
 * (stream_verify_input()); a pipe is checked record by record as it
 * loads, and a --raw stream has no container to check.  Returns 0 to
 * load, 1 for a stream to refuse (@sum says why), or -errno (reported).
 * A problem in the preamble is left to the load, which finds it before
 * it writes anything and reports it with its own errno.
 */
static int verify(struct ctl *ctl, struct vfiomig_ctx *vctx, struct stream_file *in,
		  const struct load_args *a, struct vfiomig_stream_summary *sum)
{
	uint64_t begin = now_ns();
	int r;

	if (a->x.flags & VFIOMIG_XFER_RAW)
		return 0;
	r = stream_verify_input(ctl, vctx, in, sum);
	if (r == 0 && sum->bytes && ctl->verbose)
		ctl_message(ctl, "%s: the whole stream (%" PRIu64 " %s) verified in %.3f s, "
			    "before loading", in->is_std ? "stdin" : in->path, sum->bytes,
			    plural(sum->bytes, "byte", "bytes"),
			    (double)(now_ns() - begin) / 1e9);
	return r == 1 && sum->problem_offset < PREAMBLE_SIZE ? 0 : r;
}

/* What the check found, and where (the caller adds where the devices are);
 * whether the sentence holds all of @now. */
static bool refusal(struct ctl_lib_error *e, const struct stream_file *in,
		    const struct vfiomig_stream_summary *sum, const char *prefix, const char *now)
{
	e->err = EBADMSG;
	e->has_offset = true;
	e->offset = sum->problem_offset;
	return (size_t)snprintf(e->message, sizeof(e->message), "%s%.200s: at stream offset %"
				PRIu64 ": %s; found before loading, so nothing was written; %s",
				prefix, in->is_std ? "stdin" : in->path, sum->problem_offset,
				sum->problem, now) < sizeof(e->message);
}

/* As refuse(), for a group: every member's state, and its "devices". */
static int refuse_group(struct ctl *ctl, struct vfiomig_group *g, int n,
			const struct stream_file *in, const struct vfiomig_stream_summary *sum)
{
	struct ctl_lib_error e = { 0 };
	char subject[32], now[768] = "members now:";
	int r = xfer_take_group(ctl, g, true);
	bool whole = true;

	if (r != EXIT_OK)
		return r;
	for (int i = 0; i < ctl->nmembers; i++) {
		const struct xfer_member *m = &ctl->members[i];
		size_t len = strlen(now), room = sizeof(now) - len;

		if ((size_t)snprintf(now + len, room, "%s %s %s", i ? "," : "", m->device,
				     m->has_state ? vfiomig_state_name(m->state) : "unknown") >= room)
			whole = false;
	}
	snprintf(subject, sizeof(subject), "%d devices", n);
	/* as the library's group sentence: the states it lists are its facts */
	e.member_states = refusal(&e, in, sum, "", now) && whole;
	r = ctl_fail_lib_error(ctl, subject, &e);
	xfer_members_message(ctl);
	return r;
}

/* A stream that verify() found wrong (@sum says how), before any device was touched. */
static int refuse(struct ctl *ctl, const struct ctl_devices *d, int n,
		  const struct stream_file *in, const struct vfiomig_stream_summary *sum)
{
	struct ctl_lib_error e = { 0 };
	const char *name;
	char prefix[80], now[96];

	if (d->group)
		return refuse_group(ctl, d->group, n, in, sum);
	name = vfiomig_dev_get_name(d->dev);
	e.has_state = vfiomig_dev_get_state(d->dev, &e.state) == 0;
	e.device_first = true;
	snprintf(e.device, sizeof(e.device), "%s", name);
	snprintf(prefix, sizeof(prefix), "%.64s: ", name);
	snprintf(now, sizeof(now), "the device is now in %s",
		 e.has_state ? vfiomig_state_name(e.state) : "an unknown state");
	refusal(&e, in, sum, prefix, now);
	return ctl_fail_lib_error(ctl, name, &e);
}

/* A stream that could not be verified (reported): the devices are untouched; say where. */
static int untouched(struct ctl *ctl, const struct ctl_devices *d)
{
	enum vfiomig_state now;

	if (d->group)
		xfer_take_group(ctl, d->group, true);
	else if (vfiomig_dev_get_state(d->dev, &now) == 0)
		ctl_note_state(ctl, vfiomig_dev_get_name(d->dev), now);
	return EXIT_FAIL;
}

/*
 * A device that rejected the stream's very first data was most likely
 * given the state of another model, firmware or configuration: the
 * commands that show both sides (the library cannot name them).
 */
static void hint_compare(struct ctl *ctl, const struct ctl_lib_error *e, const char *spec,
			 const struct load_args *a)
{
	const char *raw = a->x.flags & VFIOMIG_XFER_RAW ? " --raw" : "";
	char d[300], f[300];

	if (!e->first_data_rejected || !spec)
		return;
	if (strcmp(a->x.file, "-") == 0)
		ctl_fail_hint(ctl, "to compare them, run %s info %s, and %s inspect%s with the "
			      "stream on its standard input", PROGRAM,
			      ctl_shell_word(d, sizeof(d), spec), PROGRAM, raw);
	else
		ctl_fail_hint(ctl, "to compare them, run %s info %s and %s inspect%s %s", PROGRAM,
			      ctl_shell_word(d, sizeof(d), spec), PROGRAM, raw,
			      ctl_shell_word(f, sizeof(f), a->x.file));
}

/*
 * The failure of the load itself, with what to run to look closer: about
 * the member the error names, or the one device, whatever it names.
 */
static int load_failed(struct ctl *ctl, const struct ctl_devices *d, const struct load_args *a,
		       int e)
{
	const struct xfer_args *x = &a->x;
	struct ctl_lib_error le;
	int r;

	/* taken first: xfer_fail()'s own library calls clear it */
	ctl_lib_error_take(d->vctx, e, &le);
	r = xfer_fail(ctl, d, x->ndevices, e);
	hint_compare(ctl, &le, d->group ? ctl_spec_of(d, x->devices, x->ndevices, le.device)
					: x->devices[0], a);
	return r;
}

/* One device, or a group: the library matches the stream's devices to the members. */
static int load(struct ctl *ctl, const struct ctl_devices *d, struct load_args *a)
{
	struct vfiomig_stream_summary sum;
	struct vfiomig_stats stats = { .sz = sizeof(stats) };
	struct stream_file in;
	int r, e;

	r = stream_open_input(ctl, a->x.file, &in);
	if (r != EXIT_OK)
		return r;
	e = verify(ctl, d->vctx, &in, a, &sum);
	if (e != 0) {
		stream_close(ctl, &in, true);
		return e > 0 ? refuse(ctl, d, a->x.ndevices, &in, &sum) : untouched(ctl, d);
	}
	XFER_ARGS_OPTS(&a->opts, ctl, &a->x, &stats);
	e = d->group ? vfiomig_group_load(d->group, &in.fd, 1, &a->opts)
		     : vfiomig_dev_load(d->dev, in.fd, &a->opts);
	progress_clear(ctl->progress);
	stream_close(ctl, &in, true);
	if (e < 0)
		return load_failed(ctl, d, a, e);
	return xfer_report_done(ctl, d, a->x.file, a->x.flags & VFIOMIG_XFER_RAW, false, 0,
				&stats);
}

int cmd_load(struct ctl *ctl, int argc, char **argv)
{
	char names[1024];
	struct load_args a = { .x.syntax = &syntax };
	struct ctl_devices d = { 0 };
	int r = parse(ctl, argc, argv, &a);

	if (r != ARGS_CONTINUE)
		return r;
	/* Before any device opens: a failure's message starts a clean row. */
	ctl->progress = xfer_progress_new(ctl, "load", a.x.ndevices, a.x.file);
	ctl_set_at_stake(ctl, "%s may be left holding part of the stream: reset before running",
			 ctl_join_names(names, sizeof(names), a.x.devices, a.x.ndevices));
	r = stream_check_input(ctl, a.x.file);
	if (r == EXIT_OK)
		r = ctl_open_devices(ctl, a.x.devices, a.x.ndevices, a.x.group_flags, &d);
	if (r == EXIT_OK)
		r = load(ctl, &d, &a);
	ctl_close_devices(&d);
	return r;
}
