/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig-ctl save DEVICE [DEVICE...] [-o FILE|-] [--precopy[=auto|never|N]]
 *                         [--downtime-limit T] [--precopy-timeout T]
 *                         [--on-timeout switch|abort]
 *                         [--leave stop|running] [--raw] [--allow-no-p2p]
 *
 * Several devices are saved as one group (vfiomig_group_save()) into one
 * stream that carries them all: they stop together, and if any fails,
 * every one goes back to where it started.
 */
#include "progress.h"
#include "put-back.h"
#include "stream-file.h"
#include "xfer-args.h"

struct save_args {
	struct xfer_args x;
	struct save_policy policy;
	struct vfiomig_save_opts opts;
};

static const struct xfer_syntax syntax = {
	.file_option = 'o',
	.file_twice = "-o/--output given twice; a save writes one stream: give one -o FILE "
		      "(or -o - for stdout)",
	.raw_group = "--raw writes bare device bytes, which cannot tell the devices of a "
		     "group apart in one stream; save each device on its own to use --raw",
};

static int parse(struct ctl *ctl, int argc, char **argv, struct save_args *a)
{
	static const struct option opts[] = {
		ARGS_COMMON_LONG,
		XFER_ARGS_LONG,
		{ "output", required_argument, NULL, 'o' },
		ARGS_SAVE_POLICY_LONG,
		{ 0 }
	};
	int c, r = ARGS_CONTINUE;

	args_begin();
	while (r == ARGS_CONTINUE &&
	       (c = getopt_long(argc, argv, ARGS_COMMON_SHORT "o:", opts, NULL)) >= 0)
		r = args_is_save_policy(c) ? args_save_policy(ctl, c, optarg, argv, &a->policy,
							      &a->opts)
					   : xfer_args_option(ctl, &a->x, c, argv);
	if (r == ARGS_CONTINUE)
		r = args_save_policy_check(ctl, &a->policy, &a->opts);
	return r == ARGS_CONTINUE ? xfer_args_devices(ctl, &a->x, argc, argv) : r;
}

/*
 * Where each device starts, for undo().  A state that cannot be read is
 * the save's to refuse, in its own words, before it moves anything.
 */
static void read_starts(const struct ctl_devices *d, int n, enum vfiomig_state *starts)
{
	for (int i = 0; i < n; i++)
		if (vfiomig_dev_get_state(ctl_member(d, i), &starts[i]) < 0)
			starts[i] = VFIOMIG_STATE_ERROR;
}

/*
 * The stream was complete, but it cannot be kept (stream_close() said why
 * and removed it): the devices go back to where they started, as after
 * any failed save, and the error says where each one is.
 */
static int undo(struct ctl *ctl, const struct ctl_devices *d, const struct save_args *a,
		const enum vfiomig_state *starts)
{
	if (ctl_put_back(d, a->x.group_flags, starts) < 0)
		ctl_message(ctl, "warning: the save is undone, but not every device could go "
			    "back to where it started: %s", vfiomig_ctx_get_error(d->vctx));
	for (int i = 0; i < a->x.ndevices; i++) {
		struct vfiomig_dev *m = ctl_member(d, i);
		enum vfiomig_state now;

		if (vfiomig_dev_get_state(m, &now) < 0)
			continue;
		ctl_note_state(ctl, vfiomig_dev_get_name(m), now);
		ctl_note_role(ctl, vfiomig_dev_get_name(m), NULL,
			      now == starts[i] && now != VFIOMIG_STATE_STOP);
	}
	return EXIT_FAIL;
}

/*
 * One device, or a group into one stream of every member.  The output is
 * opened only once every device is, so a bad device list leaves an
 * existing file alone.
 */
static int save(struct ctl *ctl, const struct ctl_devices *d, struct save_args *a)
{
	struct vfiomig_stats stats = { .sz = sizeof(stats) };
	enum vfiomig_state starts[VFIOMIG_GROUP_MAX];
	struct stream_file out;
	int r, e;

	read_starts(d, a->x.ndevices, starts);
	r = stream_open_output(ctl, a->x.file, &out);
	if (r != EXIT_OK)
		return r;
	XFER_ARGS_OPTS(&a->opts, ctl, &a->x, &stats);
	e = d->group ? vfiomig_group_save(d->group, &out.fd, 1, &a->opts)
		     : vfiomig_dev_save(d->dev, out.fd, &a->opts);
	progress_clear(ctl->progress);
	r = stream_close(ctl, &out, e < 0);
	if (e < 0)
		return xfer_fail(ctl, d, a->x.ndevices, e);
	if (r != EXIT_OK)
		return undo(ctl, d, a, starts);
	return xfer_report_done(ctl, d, a->x.file, a->x.flags & VFIOMIG_XFER_RAW, true,
				a->opts.downtime_limit_ns, &stats);
}

int cmd_save(struct ctl *ctl, int argc, char **argv)
{
	char names[1024];
	struct save_args a = { .x.syntax = &syntax };
	struct ctl_devices d = { 0 };
	int r = parse(ctl, argc, argv, &a);

	if (r != ARGS_CONTINUE)
		return r;
	/* Before any device opens: a failure's message starts a clean row. */
	ctl->progress = xfer_progress_new(ctl, "save", a.x.ndevices, NULL);
	ctl_set_at_stake(ctl, "%s may be left stopped, or on the way back to where it started; "
			 "see where with " PROGRAM " state",
			 ctl_join_names(names, sizeof(names), a.x.devices, a.x.ndevices));
	r = stream_check_output(ctl, a.x.file);
	if (r == EXIT_OK)
		r = ctl_open_devices(ctl, a.x.devices, a.x.ndevices, a.x.group_flags, &d);
	if (r == EXIT_OK)
		r = save(ctl, &d, &a);
	ctl_close_devices(&d);
	return r;
}
