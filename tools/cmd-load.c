/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig-ctl load DEVICE [-i FILE|-] [--leave running|stop] [--force] [--raw]
 */
#include "args.h"
#include "progress.h"
#include "stream-file.h"
#include "xfer-report.h"

struct load_args {
	const char *device;
	const char *input;
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
		default:
			r = args_common(ctl, c, argv);
			break;
		}
	}
	if (r == ARGS_CONTINUE)
		r = args_positional(ctl, argc, argv, 1, 1, names);
	a->device = argv[optind < argc ? optind : 0];
	return r;
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
	a->opts.sz = sizeof(a->opts);
	a->opts.cancel = ctl_cancel();
	a->opts.stats = &stats;
	a->opts.progress = xfer_progress;
	a->opts.userdata = ctl;
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
	if (r == EXIT_OK)
		r = ctl_open(ctl, vctx, a.device, &dev);
	if (r == EXIT_OK) {
		ctl->progress = progress_new(!ctl->quiet, "load");
		r = load(ctl, vctx, dev, &a);
	}
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(vctx);
	return r;
}
