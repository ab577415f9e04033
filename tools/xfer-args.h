/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The command line that save and load share: -o or -i, --leave, --raw,
 * --allow-no-p2p, --progress and the devices.  Each command keeps its own
 * options (save's --precopy, load's --force) and hands every other one to
 * xfer_args_option().
 */
#ifndef CTL_XFER_ARGS_H
#define CTL_XFER_ARGS_H

#include "args.h"
#include "xfer-report.h"

/* The long options both take, after ARGS_COMMON_LONG. */
#define XFER_ARGS_LONG                                                    \
	{ "leave", required_argument, NULL, OPT_LEAVE },                  \
	{ "raw", no_argument, NULL, OPT_RAW },                            \
	{ "allow-no-p2p", no_argument, NULL, OPT_ALLOW_NO_P2P },          \
	{ "progress", required_argument, NULL, OPT_PROGRESS }

/* How a command says what both check. */
struct xfer_syntax {
	int file_option;		/* 'o' or 'i', the option of the stream's FILE */
	const char *file_twice;		/* the usage error of a second one */
	const char *raw_group;		/* the usage error of --raw with several devices */
};

struct xfer_args {
	const struct xfer_syntax *syntax;	/* set before parsing */
	char **devices;
	int ndevices;
	const char *file;		/* the stream: a path, or "-" (the default) */
	unsigned int flags;		/* VFIOMIG_XFER_RAW, and the command's own */
	enum vfiomig_leave leave;
	unsigned int group_flags;	/* VFIOMIG_GROUP_ALLOW_NO_P2P */
};

/* Option @c of getopt_long(), or its error: ARGS_CONTINUE or an exit status. */
int xfer_args_option(struct ctl *ctl, struct xfer_args *a, int c, char **argv);

/*
 * Once the options are read: the devices left (at least one, at most a
 * group's), none of them with --raw if several.  Returns ARGS_CONTINUE or
 * EXIT_USAGE.
 */
int xfer_args_devices(struct ctl *ctl, struct xfer_args *a, int argc, char **argv);

/*
 * Fills the options of a save's or a load's call from @a, for a run that
 * counts into @st, draws ctl->progress and stops at an interrupt.  @o is
 * a struct vfiomig_save_opts or a struct vfiomig_load_opts: two types that
 * name these fields alike, so one macro fills both.
 */
#define XFER_ARGS_OPTS(o, ctl, a, st)                                     \
	do {                                                              \
		(o)->sz = sizeof(*(o));                                   \
		(o)->flags = (a)->flags;                                  \
		(o)->leave = (a)->leave;                                  \
		(o)->cancel = ctl_cancel();                               \
		(o)->stats = (st);                                        \
		(o)->progress = xfer_progress;                            \
		(o)->userdata = (ctl);                                    \
	} while (0)

#endif
