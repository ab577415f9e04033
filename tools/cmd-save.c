/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig-ctl save DEVICE [-o FILE|-] [--precopy[=auto|never|N]]
 *                         [--leave stop|running] [--raw]
 */
#include "args.h"
#include "progress.h"
#include "stream-file.h"
#include "xfer-report.h"

struct save_args {
	const char *device;
	const char *output;
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
		{ 0 }
	};
	static const char *const names[] = { "DEVICE" };
	int c, r = ARGS_CONTINUE;

	args_begin();
	while (r == ARGS_CONTINUE &&
	       (c = getopt_long(argc, argv, ARGS_COMMON_SHORT "o:", opts, NULL)) >= 0) {
		switch (c) {
		case 'o':
			a->output = optarg;
			break;
		case OPT_PRECOPY:
			r = args_precopy(ctl, optarg, &a->opts.precopy, &a->opts.precopy_rounds);
			break;
		case OPT_LEAVE:
			r = args_leave(ctl, optarg, &a->opts.leave);
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

static int save(struct ctl *ctl, struct vfiomig_ctx *vctx, struct vfiomig_dev *dev,
		struct save_args *a)
{
	struct vfiomig_stats stats = { .sz = sizeof(stats) };
	struct stream_file out;
	struct xfer_report x = { 0 };
	int r, e;

	r = stream_open_output(ctl, a->output, &out);
	if (r != EXIT_OK)
		return r;
	a->opts.sz = sizeof(a->opts);
	a->opts.cancel = ctl_cancel();
	a->opts.stats = &stats;
	a->opts.progress = xfer_progress;
	a->opts.userdata = ctl;
	e = vfiomig_dev_save(dev, out.fd, &a->opts);
	progress_clear(ctl->progress);
	r = stream_close(ctl, &out, e < 0);
	if (e < 0)
		return ctl_fail_lib(ctl, vctx, vfiomig_dev_get_name(dev), e);
	if (r != EXIT_OK)
		return r;
	x = (struct xfer_report){ .device = vfiomig_dev_get_name(dev), .file = a->output,
				  .raw = a->opts.flags & VFIOMIG_XFER_RAW, .stats = &stats,
				  .downtime_ns = stats.downtime_ns };
	e = vfiomig_dev_get_state(dev, &x.state);
	if (e < 0)
		return ctl_fail_lib(ctl, vctx, x.device, e);
	xfer_report_print(ctl, &x);
	return EXIT_OK;
}

int cmd_save(struct ctl *ctl, int argc, char **argv)
{
	struct save_args a = { .output = "-" };
	struct vfiomig_ctx *vctx = NULL;
	struct vfiomig_dev *dev = NULL;
	int r = parse(ctl, argc, argv, &a);

	if (r != ARGS_CONTINUE)
		return r;
	r = stream_check_output(ctl, a.output);
	if (r == EXIT_OK)
		r = ctl_context_new(ctl, &vctx);
	if (r == EXIT_OK)
		r = ctl_open(ctl, vctx, a.device, &dev);
	if (r == EXIT_OK) {
		ctl->progress = progress_new(!ctl->quiet, "save");
		r = save(ctl, vctx, dev, &a);
	}
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(vctx);
	return r;
}
