/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig-ctl state DEVICE [TARGET]: print the state, or move the device
 * and print the path it took; vfiomig-ctl reset DEVICE.
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

static int parse(struct ctl *ctl, int argc, char **argv, int max)
{
	static const struct option opts[] = { ARGS_COMMON_LONG, { 0 } };
	static const char *const names[] = { "DEVICE", "TARGET" };
	int c, r;

	args_begin();
	while ((c = getopt_long(argc, argv, ARGS_COMMON_SHORT, opts, NULL)) >= 0)
		if ((r = args_common(ctl, c, argv)) != ARGS_CONTINUE)
			return r;
	return args_positional(ctl, argc, argv, 1, max, names);
}

int cmd_state(struct ctl *ctl, int argc, char **argv)
{
	struct vfiomig_ctx *vctx = NULL;
	struct vfiomig_dev *dev = NULL;
	enum vfiomig_state target = VFIOMIG_STATE_ERROR, now;
	bool set;
	int r = parse(ctl, argc, argv, 2);

	if (r != ARGS_CONTINUE)
		return r;
	set = optind + 1 < argc;
	if (set && (r = args_state(ctl, argv[optind + 1], &target)) != ARGS_CONTINUE)
		return r;
	r = ctl_context_new(ctl, &vctx);
	if (r == EXIT_OK)
		r = ctl_open(ctl, vctx, argv[optind], &dev);
	if (r == EXIT_OK && set) {
		r = move(ctl, vctx, dev, target);
	} else if (r == EXIT_OK) {
		int e = vfiomig_dev_get_state(dev, &now);

		if (e < 0)
			r = ctl_fail_lib(ctl, vctx, vfiomig_dev_get_name(dev), e);
		else
			print_state(ctl, vfiomig_dev_get_name(dev), now);
	}
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(vctx);
	return r;
}

int cmd_reset(struct ctl *ctl, int argc, char **argv)
{
	struct vfiomig_ctx *vctx = NULL;
	struct vfiomig_dev *dev = NULL;
	enum vfiomig_state now = VFIOMIG_STATE_ERROR;
	int r = parse(ctl, argc, argv, 1), e = 0;

	if (r != ARGS_CONTINUE)
		return r;
	r = ctl_context_new(ctl, &vctx);
	if (r == EXIT_OK)
		r = ctl_open(ctl, vctx, argv[optind], &dev);
	if (r == EXIT_OK) {
		e = vfiomig_dev_reset(dev);
		if (e == 0)
			e = vfiomig_dev_get_state(dev, &now);
		if (e < 0)
			r = ctl_fail_lib(ctl, vctx, vfiomig_dev_get_name(dev), e);
		else
			print_state(ctl, vfiomig_dev_get_name(dev), now);
	}
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(vctx);
	return r;
}
