/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sources a complete save stopped, back where each started. */
#include <unistd.h>

#include "put-back.h"

/*
 * Moves to @target, as a group of their own, the members of @g that are
 * not where they started and for which @pick says so; nothing if none.
 */
static int move_members(struct vfiomig_ctx *vctx, struct vfiomig_group *g, unsigned int flags,
			const enum vfiomig_state *starts,
			bool (*pick)(struct vfiomig_dev *, enum vfiomig_state),
			enum vfiomig_state target)
{
	struct vfiomig_group *some;
	int e = vfiomig_group_new(vctx, flags, &some);

	for (int i = 0; e == 0 && i < vfiomig_group_get_size(g); i++) {
		struct vfiomig_dev *dev = vfiomig_group_get_member(g, (unsigned int)i);
		enum vfiomig_state now;

		if (vfiomig_dev_get_state(dev, &now) == 0 && now == starts[i])
			continue;
		if (pick(dev, starts[i]))
			e = vfiomig_group_add(some, dev);
	}
	if (e == 0 && vfiomig_group_get_size(some) > 0)
		e = vfiomig_group_set_state(some, target, NULL);
	vfiomig_group_unref(some);
	return e;
}

static bool has_p2p(struct vfiomig_dev *dev)
{
	uint64_t flags = 0;

	vfiomig_dev_get_mig_flags(dev, &flags);
	return flags & VFIOMIG_MIG_P2P;
}

/* First, each member that started stopped (a save may leave it running). */
static bool goes_stop(struct vfiomig_dev *dev, enum vfiomig_state start)
{
	(void)dev;
	return start == VFIOMIG_STATE_STOP;
}

/* Then each member that ran (or was in RUNNING_P2P) to RUNNING_P2P. */
static bool goes_p2p(struct vfiomig_dev *dev, enum vfiomig_state start)
{
	return start == VFIOMIG_STATE_RUNNING_P2P ||
	       (start == VFIOMIG_STATE_RUNNING && has_p2p(dev));
}

/* Last, each member that ran, once no peer stops any more. */
static bool goes_running(struct vfiomig_dev *dev, enum vfiomig_state start)
{
	(void)dev;
	return start == VFIOMIG_STATE_RUNNING;
}

int ctl_put_back(const struct ctl_devices *d, unsigned int group_flags,
		 const enum vfiomig_state *starts)
{
	struct vfiomig_group *g = d->group;
	int fd = -1, e;

	if (g) {
		e = move_members(d->vctx, g, group_flags, starts, goes_stop, VFIOMIG_STATE_STOP);
		if (e == 0)
			e = move_members(d->vctx, g, group_flags, starts, goes_p2p,
					 VFIOMIG_STATE_RUNNING_P2P);
		return e < 0 ? e : move_members(d->vctx, g, group_flags, starts, goes_running,
						 VFIOMIG_STATE_RUNNING);
	}
	e = vfiomig_dev_set_state(d->dev, starts[0], &fd);
	if (fd >= 0)
		close(fd);
	return e;
}
