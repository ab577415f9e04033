/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The command line that save and load share. */
#include "xfer-args.h"

int xfer_args_option(struct ctl *ctl, struct xfer_args *a, int c, char **argv)
{
	if (c == a->syntax->file_option) {
		/* one stream, so one place for it: a second -o or -i is a mistake */
		if (a->file)
			return ctl_usage(ctl, "%s", a->syntax->file_twice);
		a->file = optarg;
		return ARGS_CONTINUE;
	}
	switch (c) {
	case OPT_LEAVE:
		return args_leave(ctl, optarg, &a->leave);
	case OPT_RAW:
		a->flags |= VFIOMIG_XFER_RAW;
		return ARGS_CONTINUE;
	case OPT_ALLOW_NO_P2P:
		a->group_flags |= VFIOMIG_GROUP_ALLOW_NO_P2P;
		return ARGS_CONTINUE;
	case OPT_PROGRESS:
		return args_progress(ctl, optarg);
	default:
		return args_common(ctl, c, argv);
	}
}

int xfer_args_devices(struct ctl *ctl, struct xfer_args *a, int argc, char **argv)
{
	static const char *const names[] = { "DEVICE" };
	int r = args_positional(ctl, argc, argv, 1, argc, names);

	if (r != ARGS_CONTINUE)
		return r;
	a->devices = argv + optind;
	a->ndevices = argc - optind;
	if (!a->file)
		a->file = "-";
	if (a->ndevices > 1 && (a->flags & VFIOMIG_XFER_RAW))
		return ctl_usage(ctl, "%s", a->syntax->raw_group);
	return a->ndevices > 1 ? args_group(ctl, a->ndevices) : ARGS_CONTINUE;
}
