/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a group's save (group-save.c) and load (group-load.c) share. */
#ifndef VFIOMIG_GROUP_XFER_H
#define VFIOMIG_GROUP_XFER_H

#include "group-internal.h"
#include "xfer.h"

/*
 * The group's progress, reported on the calling thread only: the workers
 * count their bytes in atomics, which the caller sums into @bytes.
 */
struct group_progress {
	struct xfer_progress x;
	uint64_t estimate;		/* the members' estimates, summed */
};

void group_progress_init(struct group_progress *gp,
			 void (*fn)(void *userdata, const struct vfiomig_progress *p),
			 void *userdata);
void group_progress_report(struct group_progress *gp, uint64_t bytes, bool force);
void group_progress_phase(struct group_progress *gp, enum vfiomig_phase phase, uint64_t bytes);

/* The fds of a group save or load: one, or one per member; -EINVAL
 * (recorded) otherwise, or for raw with one fd for several members. */
int group_xfer_check(struct vfiomig_group *g, const int *fds, unsigned int n_fds, bool raw);
/* Member @i's figures into its result. */
void group_xfer_result(struct vfiomig_group *g, unsigned int i, const struct vfiomig_stats *st,
		       uint64_t downtime_ns, int stream_device);

#endif
