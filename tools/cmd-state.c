/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig-ctl state DEVICE [TARGET]: print the state, or move the device
 * and print the path it took; vfiomig-ctl state DEVICE DEVICE... TARGET:
 * move several devices as a group, in two phases (docs/groups.md);
 * vfiomig-ctl reset DEVICE.
 */
#include <unistd.h>

#include "args.h"
#include "json-writer.h"

/* "-> STOP_COPY" for the path from @from through the @n states of @path. */
static void print_move(struct ctl *ctl, const char *name, enum vfiomig_state from,
		       enum vfiomig_state to, const enum vfiomig_state *path, int n)
{
	struct json_writer *w = ctl->jw;

	if (!ctl->json) {
		ctl_printf(ctl, "%s", vfiomig_state_name(from));
		for (int i = 0; i < n; i++)
			ctl_printf(ctl, " -> %s", vfiomig_state_name(path[i]));
		ctl_printf(ctl, "\n");
		return;
	}
	json_object_begin(w);
	json_member_string(w, "device", name);
	json_member_string(w, "from", vfiomig_state_name(from));
	json_member_string(w, "to", vfiomig_state_name(to));
	json_name(w, "path");
	json_array_begin(w);
	for (int i = 0; i < n; i++)
		json_string(w, vfiomig_state_name(path[i]));
	json_array_end(w);
	json_object_end(w);
}

static void print_state(struct ctl *ctl, const char *name, enum vfiomig_state s)
{
	if (!ctl->json) {
		ctl_printf(ctl, "%s\n", vfiomig_state_name(s));
		return;
	}
	json_object_begin(ctl->jw);
	json_member_string(ctl->jw, "device", name);
	json_member_string(ctl->jw, "state", vfiomig_state_name(s));
	json_object_end(ctl->jw);
}

/* Where @dev is now, after @e: 0, or the failure to report instead. */
static int print_now(struct ctl *ctl, struct vfiomig_ctx *vctx, struct vfiomig_dev *dev, int e)
{
	enum vfiomig_state now = VFIOMIG_STATE_ERROR;

	if (e == 0)
		e = vfiomig_dev_get_state(dev, &now);
	if (e < 0)
		return ctl_fail_lib(ctl, vctx, vfiomig_dev_get_name(dev), e);
	print_state(ctl, vfiomig_dev_get_name(dev), now);
	return EXIT_OK;
}

/*
 * The path is planned before the move, by the same rules the kernel walks
 * (vfiomig_fsm_path()).  A refused target is still sent to the library,
 * which refuses it before anything reaches the device and says why.
 */
static int move(struct ctl *ctl, struct vfiomig_ctx *vctx, struct vfiomig_dev *dev,
		enum vfiomig_state target)
{
	const char *name = vfiomig_dev_get_name(dev);
	enum vfiomig_state from, path[VFIOMIG_STATE_COUNT * 2];
	uint64_t flags;
	int n, fd = -1, r;

	r = vfiomig_dev_get_state(dev, &from);
	if (r < 0)
		return ctl_fail_lib(ctl, vctx, name, r);
	vfiomig_dev_get_mig_flags(dev, &flags);
	n = vfiomig_fsm_path(flags, from, target, path, VFIOMIG_STATE_COUNT * 2);
	r = vfiomig_dev_set_state(dev, target, &fd);
	if (fd >= 0)
		close(fd);	/* nobody reads or writes the data from here */
	if (r < 0)
		return ctl_fail_lib(ctl, vctx, name, r);
	print_move(ctl, name, from, target, path, n < 0 ? 0 : n);
	return EXIT_OK;
}

/* @group_flags: where --allow-no-p2p goes; NULL for a command without it. */
static int parse(struct ctl *ctl, int argc, char **argv, int max, unsigned int *group_flags)
{
	static const struct option opts[] = {
		ARGS_COMMON_LONG,
		{ "allow-no-p2p", no_argument, NULL, OPT_ALLOW_NO_P2P },
		{ 0 }
	};
	static const struct option common[] = { ARGS_COMMON_LONG, { 0 } };
	static const char *const names[] = { "DEVICE", "TARGET", "TARGET" };
	int c, r;

	args_begin();
	while ((c = getopt_long(argc, argv, ARGS_COMMON_SHORT, group_flags ? opts : common,
				NULL)) >= 0) {
		if (c == OPT_ALLOW_NO_P2P)
			*group_flags |= VFIOMIG_GROUP_ALLOW_NO_P2P;
		else if ((r = args_common(ctl, c, argv)) != ARGS_CONTINUE)
			return r;
	}
	return args_positional(ctl, argc, argv, 1, max, names);
}

/* Where each member went, or where each is after a failure (error.states). */
static void group_report(struct ctl *ctl, struct vfiomig_group *g, const enum vfiomig_state *from,
			 enum vfiomig_state target, bool failed)
{
	int n = vfiomig_group_get_size(g);

	if (!failed && ctl->json) {
		json_object_begin(ctl->jw);
		json_name(ctl->jw, "devices");
		json_array_begin(ctl->jw);
	}
	for (int i = 0; i < n; i++) {
		struct vfiomig_dev *dev = vfiomig_group_get_member(g, (unsigned int)i);
		struct vfiomig_group_result res = { .sz = sizeof(res) };
		enum vfiomig_state path[VFIOMIG_STATE_COUNT * 2];
		uint64_t flags = 0;
		int len;

		if (failed) {
			if (vfiomig_group_get_result(g, (unsigned int)i, &res) == 0 && res.has_state)
				ctl_note_state(ctl, vfiomig_dev_get_name(dev), res.state);
			continue;
		}
		vfiomig_dev_get_mig_flags(dev, &flags);
		len = vfiomig_fsm_path(flags, from[i], target, path, VFIOMIG_STATE_COUNT * 2);
		if (!ctl->json)
			ctl_printf(ctl, "%s: ", vfiomig_dev_get_name(dev));
		print_move(ctl, vfiomig_dev_get_name(dev), from[i], target, path, len < 0 ? 0 : len);
	}
	if (!failed && ctl->json) {
		json_array_end(ctl->jw);
		json_object_end(ctl->jw);
	}
}

/* Several devices: one group, opened in the order given. */
static int move_group(struct ctl *ctl, struct vfiomig_ctx *vctx, char **specs, int n,
		      enum vfiomig_state target, unsigned int flags)
{
	struct vfiomig_dev *devs[VFIOMIG_GROUP_MAX] = { 0 };
	enum vfiomig_state from[VFIOMIG_GROUP_MAX];
	int fds[VFIOMIG_GROUP_MAX], r, e, opened = 0;
	struct vfiomig_group *g = NULL;

	r = (e = vfiomig_group_new(vctx, flags, &g)) < 0 ? ctl_fail_lib(ctl, vctx, specs[0], e) : EXIT_OK;
	for (; r == EXIT_OK && opened < n; opened++) {
		r = ctl_open(ctl, vctx, specs[opened], &devs[opened]);
		if (r == EXIT_OK && (e = vfiomig_group_add(g, devs[opened])) == 0)
			e = vfiomig_dev_get_state(devs[opened], &from[opened]);
		if (r == EXIT_OK && e < 0)
			r = ctl_fail_lib(ctl, vctx, specs[opened], e);
	}
	if (r == EXIT_OK && (e = vfiomig_group_set_state(g, target, fds)) < 0)
		r = ctl_fail_lib(ctl, vctx, specs[0], e);
	/* The fds exist only after a move that succeeded. */
	for (int i = 0; r == EXIT_OK && i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);	/* nobody reads or writes the data from here */
	if (g && opened == n)
		group_report(ctl, g, from, target, r != EXIT_OK);
	vfiomig_group_unref(g);
	for (int i = 0; i < opened; i++)
		vfiomig_dev_unref(devs[i]);
	return r;
}

int cmd_state(struct ctl *ctl, int argc, char **argv)
{
	char names[1024];
	struct vfiomig_ctx *vctx = NULL;
	struct ctl_devices d = { 0 };
	enum vfiomig_state target = VFIOMIG_STATE_ERROR;
	unsigned int group_flags = 0;
	bool set;
	int r = parse(ctl, argc, argv, VFIOMIG_GROUP_MAX + 1, &group_flags);

	if (r != ARGS_CONTINUE)
		return r;
	/* The last of several arguments is the target; the others are devices. */
	set = optind + 1 < argc;
	if (set && (r = args_state(ctl, argv[argc - 1], &target)) != ARGS_CONTINUE)
		return r;
	if (set)
		ctl_set_at_stake(ctl, "%s may be left anywhere on the way to %s; see where with "
				 PROGRAM " state",
				 ctl_join_names(names, sizeof(names), argv + optind,
						argc - optind - 1), vfiomig_state_name(target));
	if (argc - optind > 2) {
		r = ctl_context_new(ctl, &vctx);
		if (r == EXIT_OK)
			r = move_group(ctl, vctx, argv + optind, argc - optind - 1, target,
				       group_flags);
		vfiomig_ctx_unref(vctx);
		return r;
	}
	r = ctl_open_devices(ctl, argv + optind, 1, 0, &d);
	if (r == EXIT_OK && set)
		r = move(ctl, d.vctx, d.dev, target);
	else if (r == EXIT_OK)
		r = print_now(ctl, d.vctx, d.dev, 0);
	ctl_close_devices(&d);
	return r;
}

int cmd_reset(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_devices d = { 0 };
	int r = parse(ctl, argc, argv, 1, NULL);

	if (r != ARGS_CONTINUE)
		return r;
	r = ctl_open_devices(ctl, argv + optind, 1, 0, &d);
	if (r == EXIT_OK)
		r = print_now(ctl, d.vctx, d.dev, vfiomig_dev_reset(d.dev));
	ctl_close_devices(&d);
	return r;
}
