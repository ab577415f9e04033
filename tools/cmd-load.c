/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig-ctl load DEVICE [DEVICE...] [-i FILE|-] [--leave running|stop]
 *                         [--force] [--raw] [--allow-no-p2p]
 *
 * Several devices load one stream of a group (vfiomig_group_load()): the
 * library matches the stream's devices to them, by position and identity,
 * before it writes anything, and no member runs before every one is loaded.
 */
#include "args.h"
#include "progress.h"
#include "stream-file.h"
#include "xfer-report.h"

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
		{ 0 }
	};
	static const char *const names[] = { "DEVICE" };
	int c, r = ARGS_CONTINUE;

	args_begin();
	while (r == ARGS_CONTINUE &&
	       (c = getopt_long(argc, argv, ARGS_COMMON_SHORT "i:", opts, NULL)) >= 0) {
		switch (c) {
		case 'i':
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
	return a->ndevices > 1 ? args_group(ctl, a->devices, a->ndevices) : ARGS_CONTINUE;
}

static void setup_opts(struct ctl *ctl, struct load_args *a, struct vfiomig_stats *stats)
{
	a->opts.sz = sizeof(a->opts);
	a->opts.cancel = ctl_cancel();
	a->opts.stats = stats;
	a->opts.progress = xfer_progress;
	a->opts.userdata = ctl;
}

static int load(struct ctl *ctl, struct vfiomig_ctx *vctx, struct vfiomig_dev *dev,
		struct load_args *a)
{
	struct vfiomig_stats stats = { .sz = sizeof(stats) };
	struct stream_file in;
	struct xfer_report x = { 0 };
	int r, e;

	r = stream_open_input(ctl, a->input, &in);
	if (r != EXIT_OK)
		return r;
	setup_opts(ctl, a, &stats);
	e = vfiomig_dev_load(dev, in.fd, &a->opts);
	progress_clear(ctl->progress);
	stream_close(ctl, &in, true);
	if (e < 0)
		return ctl_fail_lib(ctl, vctx, vfiomig_dev_get_name(dev), e);
	x = (struct xfer_report){ .device = vfiomig_dev_get_name(dev), .file = a->input,
				  .raw = a->opts.flags & VFIOMIG_XFER_RAW, .stats = &stats,
				  .downtime_ns = stats.downtime_ns };
	e = vfiomig_dev_get_state(dev, &x.state);
	if (e < 0)
		return ctl_fail_lib(ctl, vctx, x.device, e);
	xfer_report_print(ctl, &x);
	return EXIT_OK;
}

/* A group: the library matches the stream's devices to the members. */
static int load_group(struct ctl *ctl, struct vfiomig_ctx *vctx, struct vfiomig_group *g,
		      struct load_args *a)
{
	struct vfiomig_stats stats = { .sz = sizeof(stats) };
	struct stream_file in;
	int r, e;

	r = stream_open_input(ctl, a->input, &in);
	if (r != EXIT_OK)
		return r;
	setup_opts(ctl, a, &stats);
	e = vfiomig_group_load(g, &in.fd, 1, &a->opts);
	progress_clear(ctl->progress);
	stream_close(ctl, &in, true);
	if (e < 0)
		return xfer_fail_group(ctl, vctx, g, a->ndevices, e);
	return xfer_report_group(ctl, g, a->input, &stats);
}

static int run_group(struct ctl *ctl, struct vfiomig_ctx *vctx, struct load_args *a)
{
	struct vfiomig_group *g;
	char label[32];
	int r = ctl_open_group(ctl, vctx, a->devices, a->ndevices, a->group_flags, &g);

	if (r != EXIT_OK)
		return r;
	snprintf(label, sizeof(label), "load %d devices", a->ndevices);
	ctl->progress = progress_new(!ctl->quiet, label);
	r = load_group(ctl, vctx, g, a);
	vfiomig_group_unref(g);
	return r;
}

int cmd_load(struct ctl *ctl, int argc, char **argv)
{
	struct load_args a = { .input = "-" };
	struct vfiomig_ctx *vctx = NULL;
	struct vfiomig_dev *dev = NULL;
	int r = parse(ctl, argc, argv, &a);

	if (r != ARGS_CONTINUE)
		return r;
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
	if (r == EXIT_OK) {
		ctl->progress = progress_new(!ctl->quiet, "load");
		r = load(ctl, vctx, dev, &a);
	}
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(vctx);
	return r;
}
