/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig-ctl save DEVICE [DEVICE...] [-o FILE|-] [--precopy[=auto|never|N]]
 *                         [--leave stop|running] [--raw] [--allow-no-p2p]
 *
 * Several devices are saved as one group (vfiomig_group_save()) into one
 * stream that carries them all: they stop together, and if any fails,
 * every one goes back to where it started.
 */
#include "args.h"
#include "progress.h"
#include "put-back.h"
#include "stream-file.h"
#include "xfer-report.h"

struct save_args {
	char **devices;
	int ndevices;
	const char *output;
	unsigned int group_flags;
	struct vfiomig_save_opts opts;
};

static int parse(struct ctl *ctl, int argc, char **argv, struct save_args *a)
{
	static const struct option opts[] = {
		ARGS_COMMON_LONG,
		{ "output", required_argument, NULL, 'o' },
		{ "precopy", optional_argument, NULL, OPT_PRECOPY },
		{ "leave", required_argument, NULL, OPT_LEAVE },
		{ "raw", no_argument, NULL, OPT_RAW },
		{ "allow-no-p2p", no_argument, NULL, OPT_ALLOW_NO_P2P },
		{ "progress", required_argument, NULL, OPT_PROGRESS },
		{ 0 }
	};
	static const char *const names[] = { "DEVICE" };
	bool have_output = false;
	int c, r = ARGS_CONTINUE;

	args_begin();
	while (r == ARGS_CONTINUE &&
	       (c = getopt_long(argc, argv, ARGS_COMMON_SHORT "o:", opts, NULL)) >= 0) {
		switch (c) {
		case 'o':
			/* one stream, so one place for it: a second -o is a mistake */
			if (have_output)
				r = ctl_usage(ctl, "-o/--output given twice; a save writes one stream: give "
					      "one -o FILE (or -o - for stdout)");
			have_output = true;
			a->output = optarg;
			break;
		case OPT_PRECOPY:
			r = args_precopy(ctl, optarg, argv, &a->opts.precopy,
					 &a->opts.precopy_rounds);
			break;
		case OPT_LEAVE:
			r = args_leave(ctl, optarg, &a->opts.leave);
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
		return ctl_usage(ctl, "--raw writes bare device bytes, which cannot tell the devices "
				 "of a group apart in one stream; save each device on its own to "
				 "use --raw");
	return a->ndevices > 1 ? args_group(ctl, a->ndevices) : ARGS_CONTINUE;
}

static void setup_opts(struct ctl *ctl, struct save_args *a, struct vfiomig_stats *stats)
{
	a->opts.sz = sizeof(a->opts);
	a->opts.cancel = ctl_cancel();
	a->opts.stats = stats;
	a->opts.progress = xfer_progress;
	a->opts.userdata = ctl;
}

/*
 * Where each device starts, for undo().  A state that cannot be read is
 * the save's to refuse, in its own words, before it moves anything.
 */
static void read_starts(struct vfiomig_dev *dev, struct vfiomig_group *g, int n,
			enum vfiomig_state *starts)
{
	for (int i = 0; i < n; i++)
		if (vfiomig_dev_get_state(ctl_member(dev, g, i), &starts[i]) < 0)
			starts[i] = VFIOMIG_STATE_ERROR;
}

/*
 * The stream was complete, but it cannot be kept (stream_close() said why
 * and removed it): the devices go back to where they started, as after
 * any failed save, and the error says where each one is.
 */
static int undo(struct ctl *ctl, struct vfiomig_ctx *vctx, struct vfiomig_dev *dev,
		struct vfiomig_group *g, const struct save_args *a,
		const enum vfiomig_state *starts)
{
	if (ctl_put_back(vctx, dev, g, a->group_flags, starts) < 0)
		ctl_message(ctl, "warning: the save is undone, but not every device could go "
			    "back to where it started: %s", vfiomig_ctx_get_error(vctx));
	for (int i = 0; i < a->ndevices; i++) {
		struct vfiomig_dev *m = ctl_member(dev, g, i);
		enum vfiomig_state now;

		if (vfiomig_dev_get_state(m, &now) < 0)
			continue;
		ctl_note_state(ctl, vfiomig_dev_get_name(m), now);
		ctl_note_role(ctl, vfiomig_dev_get_name(m), NULL,
			      now == starts[i] && now != VFIOMIG_STATE_STOP);
	}
	return EXIT_FAIL;
}

static int save(struct ctl *ctl, struct vfiomig_ctx *vctx, struct vfiomig_dev *dev,
		struct save_args *a)
{
	struct vfiomig_stats stats = { .sz = sizeof(stats) };
	enum vfiomig_state start;
	struct stream_file out;
	struct xfer_report x = { 0 };
	int r, e;

	read_starts(dev, NULL, 1, &start);
	r = stream_open_output(ctl, a->output, &out);
	if (r != EXIT_OK)
		return r;
	setup_opts(ctl, a, &stats);
	e = vfiomig_dev_save(dev, out.fd, &a->opts);
	progress_clear(ctl->progress);
	r = stream_close(ctl, &out, e < 0);
	if (e < 0)
		return ctl_fail_lib(ctl, vctx, vfiomig_dev_get_name(dev), e);
	if (r != EXIT_OK)
		return undo(ctl, vctx, dev, NULL, a, &start);
	x = (struct xfer_report){ .device = vfiomig_dev_get_name(dev), .file = a->output,
				  .raw = a->opts.flags & VFIOMIG_XFER_RAW, .stats = &stats,
				  .downtime_ns = stats.downtime_ns };
	e = vfiomig_dev_get_state(dev, &x.state);
	if (e < 0)
		return ctl_fail_lib(ctl, vctx, x.device, e);
	xfer_report_print(ctl, &x);
	return EXIT_OK;
}

/*
 * A group: one stream of every member.  The output is opened only once
 * every device is, so a bad device list leaves an existing file alone.
 */
static int save_group(struct ctl *ctl, struct vfiomig_ctx *vctx, struct vfiomig_group *g,
		      struct save_args *a)
{
	struct vfiomig_stats stats = { .sz = sizeof(stats) };
	enum vfiomig_state starts[VFIOMIG_GROUP_MAX];
	struct stream_file out;
	int r, e;

	read_starts(NULL, g, a->ndevices, starts);
	r = stream_open_output(ctl, a->output, &out);
	if (r != EXIT_OK)
		return r;
	setup_opts(ctl, a, &stats);
	e = vfiomig_group_save(g, &out.fd, 1, &a->opts);
	progress_clear(ctl->progress);
	r = stream_close(ctl, &out, e < 0);
	if (e < 0)
		return xfer_fail_group(ctl, vctx, g, a->ndevices, e);
	if (r != EXIT_OK)
		return undo(ctl, vctx, NULL, g, a, starts);
	return xfer_report_group(ctl, g, a->output, &stats);
}

static int run_group(struct ctl *ctl, struct vfiomig_ctx *vctx, struct save_args *a)
{
	struct vfiomig_group *g;
	int r = ctl_open_group(ctl, vctx, a->devices, a->ndevices, a->group_flags, &g);

	if (r != EXIT_OK)
		return r;
	r = save_group(ctl, vctx, g, a);
	vfiomig_group_unref(g);
	return r;
}

int cmd_save(struct ctl *ctl, int argc, char **argv)
{
	char names[1024];
	struct save_args a = { .output = "-" };
	struct vfiomig_ctx *vctx = NULL;
	struct vfiomig_dev *dev = NULL;
	int r = parse(ctl, argc, argv, &a);

	if (r != ARGS_CONTINUE)
		return r;
	/* Before any device opens: a failure's message starts a clean row. */
	ctl->progress = xfer_progress_new(ctl, "save", a.ndevices, NULL);
	ctl_set_at_stake(ctl, "%s may be left stopped, or on the way back to where it started; "
			 "see where with " PROGRAM " state",
			 ctl_join_names(names, sizeof(names), a.devices, a.ndevices));
	r = stream_check_output(ctl, a.output);
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
		r = save(ctl, vctx, dev, &a);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(vctx);
	return r;
}
