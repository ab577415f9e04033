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

#include "args.h"
#include "progress.h"
#include "stream-file.h"
#include "util.h"
#include "xfer-report.h"

/* The stream's fixed start (docs/stream-format.md). */
#define PREAMBLE_SIZE 16

struct load_args {
	char **devices;
	int ndevices;
	const char *input;
	unsigned int group_flags;
	struct vfiomig_load_opts opts;
};

static int parse(struct ctl *ctl, int argc, char **argv, struct load_args *a)
{
	static const struct option opts[] = {
		ARGS_COMMON_LONG,
		{ "input", required_argument, NULL, 'i' },
		{ "leave", required_argument, NULL, OPT_LEAVE },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "raw", no_argument, NULL, OPT_RAW },
		{ "allow-no-p2p", no_argument, NULL, OPT_ALLOW_NO_P2P },
		{ "progress", required_argument, NULL, OPT_PROGRESS },
		{ 0 }
	};
	static const char *const names[] = { "DEVICE" };
	bool have_input = false;
	int c, r = ARGS_CONTINUE;

	args_begin();
	while (r == ARGS_CONTINUE &&
	       (c = getopt_long(argc, argv, ARGS_COMMON_SHORT "i:", opts, NULL)) >= 0) {
		switch (c) {
		case 'i':
			/* one stream, so one place for it: a second -i is a mistake */
			if (have_input)
				r = ctl_usage(ctl, "-i/--input given twice; a load reads one stream: give "
					      "one -i FILE (or -i - for stdin)");
			have_input = true;
			a->input = optarg;
			break;
		case OPT_LEAVE:
			r = args_leave(ctl, optarg, &a->opts.leave);
			break;
		case OPT_FORCE:
			a->opts.flags |= VFIOMIG_XFER_FORCE;
			break;
		case OPT_RAW:
			a->opts.flags |= VFIOMIG_XFER_RAW;
			break;
		case OPT_ALLOW_NO_P2P:
			a->group_flags |= VFIOMIG_GROUP_ALLOW_NO_P2P;
			break;
		case OPT_PROGRESS:
			r = args_progress(ctl, optarg);
			break;
		default:
			r = args_common(ctl, c, argv);
			break;
		}
	}
	if (r == ARGS_CONTINUE)
		r = args_positional(ctl, argc, argv, 1, argc, names);
	if (r != ARGS_CONTINUE)
		return r;
	a->devices = argv + optind;
	a->ndevices = argc - optind;
	if (a->ndevices > 1 && (a->opts.flags & VFIOMIG_XFER_RAW))
		return ctl_usage(ctl, "--raw reads bare device bytes, in which one stream cannot "
				 "carry the devices of a group; load each device's raw stream on "
				 "its own");
	return a->ndevices > 1 ? args_group(ctl, a->ndevices) : ARGS_CONTINUE;
}

static void setup_opts(struct ctl *ctl, struct load_args *a, struct vfiomig_stats *stats)
{
	a->opts.sz = sizeof(a->opts);
	a->opts.cancel = ctl_cancel();
	a->opts.stats = stats;
	a->opts.progress = xfer_progress;
	a->opts.userdata = ctl;
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

	if (a->opts.flags & VFIOMIG_XFER_RAW)
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

static int refuse(struct ctl *ctl, struct vfiomig_dev *dev, const struct stream_file *in,
		  const struct vfiomig_stream_summary *sum)
{
	struct ctl_lib_error e = { 0 };
	const char *name = vfiomig_dev_get_name(dev);
	char prefix[80], now[96];

	e.has_state = vfiomig_dev_get_state(dev, &e.state) == 0;
	e.device_first = true;
	snprintf(e.device, sizeof(e.device), "%s", name);
	snprintf(prefix, sizeof(prefix), "%.64s: ", name);
	snprintf(now, sizeof(now), "the device is now in %s",
		 e.has_state ? vfiomig_state_name(e.state) : "an unknown state");
	refusal(&e, in, sum, prefix, now);
	return ctl_fail_lib_error(ctl, name, &e);
}

/*
 * A device that rejected the stream's very first data was most likely
 * given the state of another model, firmware or configuration: the
 * commands that show both sides (the library cannot name them).
 */
static void hint_compare(struct ctl *ctl, const struct ctl_lib_error *e, const char *spec,
			 const struct load_args *a)
{
	const char *raw = a->opts.flags & VFIOMIG_XFER_RAW ? " --raw" : "";
	char d[300], f[300];

	if (!e->first_data_rejected || !spec)
		return;
	if (strcmp(a->input, "-") == 0)
		ctl_fail_hint(ctl, "to compare them, run %s info %s, and %s inspect%s with the "
			      "stream on its standard input", PROGRAM,
			      ctl_shell_word(d, sizeof(d), spec), PROGRAM, raw);
	else
		ctl_fail_hint(ctl, "to compare them, run %s info %s and %s inspect%s %s", PROGRAM,
			      ctl_shell_word(d, sizeof(d), spec), PROGRAM, raw,
			      ctl_shell_word(f, sizeof(f), a->input));
}

/* The failure of the load itself, with what to run to look closer. */
static int load_failed(struct ctl *ctl, struct vfiomig_ctx *vctx, struct vfiomig_dev *dev,
		       const struct load_args *a, int e)
{
	struct ctl_lib_error le;
	int r;

	ctl_lib_error_take(vctx, e, &le);
	r = ctl_fail_lib_error(ctl, vfiomig_dev_get_name(dev), &le);
	hint_compare(ctl, &le, a->devices[0], a);
	return r;
}

static int load(struct ctl *ctl, struct vfiomig_ctx *vctx, struct vfiomig_dev *dev,
		struct load_args *a)
{
	struct vfiomig_stream_summary sum;
	struct vfiomig_stats stats = { .sz = sizeof(stats) };
	struct stream_file in;
	struct xfer_report x = { 0 };
	int r, e;

	r = stream_open_input(ctl, a->input, &in);
	if (r != EXIT_OK)
		return r;
	e = verify(ctl, vctx, &in, a, &sum);
	if (e != 0) {
		stream_close(ctl, &in, true);
		if (e > 0)
			return refuse(ctl, dev, &in, &sum);
		if (vfiomig_dev_get_state(dev, &x.state) == 0)	/* untouched: say where */
			ctl_note_state(ctl, vfiomig_dev_get_name(dev), x.state);
		return EXIT_FAIL;
	}
	setup_opts(ctl, a, &stats);
	e = vfiomig_dev_load(dev, in.fd, &a->opts);
	progress_clear(ctl->progress);
	stream_close(ctl, &in, true);
	if (e < 0)
		return load_failed(ctl, vctx, dev, a, e);
	x = (struct xfer_report){ .device = vfiomig_dev_get_name(dev), .file = a->input,
				  .raw = a->opts.flags & VFIOMIG_XFER_RAW, .stats = &stats,
				  .downtime_ns = stats.downtime_ns };
	e = vfiomig_dev_get_state(dev, &x.state);
	if (e < 0)
		return ctl_fail_lib(ctl, vctx, x.device, e);
	xfer_report_print(ctl, &x);
	return EXIT_OK;
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

/* As load_failed(), for a group: every member's error and state too. */
static int load_group_failed(struct ctl *ctl, struct vfiomig_ctx *vctx, struct vfiomig_group *g,
			     const struct load_args *a, int e)
{
	const char *spec = NULL;
	struct ctl_lib_error le;
	int r;

	/* taken first: xfer_fail_group()'s own library calls clear it */
	ctl_lib_error_take(vctx, e, &le);
	r = xfer_fail_group(ctl, vctx, g, a->ndevices, e);
	for (int i = 0; i < a->ndevices && !spec; i++)
		if (strcmp(vfiomig_dev_get_name(vfiomig_group_get_member(g, (unsigned int)i)),
			   le.device) == 0)
			spec = a->devices[i];
	hint_compare(ctl, &le, spec, a);
	return r;
}

/* A group: the library matches the stream's devices to the members. */
static int load_group(struct ctl *ctl, struct vfiomig_ctx *vctx, struct vfiomig_group *g,
		      struct load_args *a)
{
	struct vfiomig_stream_summary sum;
	struct vfiomig_stats stats = { .sz = sizeof(stats) };
	struct stream_file in;
	int r, e;

	r = stream_open_input(ctl, a->input, &in);
	if (r != EXIT_OK)
		return r;
	e = verify(ctl, vctx, &in, a, &sum);
	if (e != 0) {
		stream_close(ctl, &in, true);
		if (e > 0)
			return refuse_group(ctl, g, a->ndevices, &in, &sum);
		xfer_take_group(ctl, g, true);	/* untouched: say where each is */
		return EXIT_FAIL;
	}
	setup_opts(ctl, a, &stats);
	e = vfiomig_group_load(g, &in.fd, 1, &a->opts);
	progress_clear(ctl->progress);
	stream_close(ctl, &in, true);
	if (e < 0)
		return load_group_failed(ctl, vctx, g, a, e);
	return xfer_report_group(ctl, g, a->input, &stats);
}

static int run_group(struct ctl *ctl, struct vfiomig_ctx *vctx, struct load_args *a)
{
	struct vfiomig_group *g;
	int r = ctl_open_group(ctl, vctx, a->devices, a->ndevices, a->group_flags, &g);

	if (r != EXIT_OK)
		return r;
	r = load_group(ctl, vctx, g, a);
	vfiomig_group_unref(g);
	return r;
}

int cmd_load(struct ctl *ctl, int argc, char **argv)
{
	char names[1024];
	struct load_args a = { .input = "-" };
	struct vfiomig_ctx *vctx = NULL;
	struct vfiomig_dev *dev = NULL;
	int r = parse(ctl, argc, argv, &a);

	if (r != ARGS_CONTINUE)
		return r;
	/* Before any device opens: a failure's message starts a clean row. */
	ctl->progress = xfer_progress_new(ctl, "load", a.ndevices, a.input);
	ctl_set_at_stake(ctl, "%s may be left holding part of the stream: reset before running",
			 ctl_join_names(names, sizeof(names), a.devices, a.ndevices));
	r = stream_check_input(ctl, a.input);
	if (r == EXIT_OK)
		r = ctl_context_new(ctl, &vctx);
	if (r == EXIT_OK && a.ndevices > 1) {
		r = run_group(ctl, vctx, &a);
		vfiomig_ctx_unref(vctx);
		return r;
	}
	if (r == EXIT_OK)
		r = ctl_open(ctl, vctx, a.devices[0], &dev);
	if (r == EXIT_OK)
		r = load(ctl, vctx, dev, &a);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(vctx);
	return r;
}
