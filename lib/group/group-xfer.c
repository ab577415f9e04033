/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The parts of a group's save and load that are the same both ways. */
#include <string.h>

#include "group-xfer.h"
#include "log.h"

void group_progress_init(struct group_progress *gp,
			 void (*fn)(void *userdata, const struct vfiomig_progress *p),
			 void *userdata)
{
	*gp = (struct group_progress){ .x = { .fn = fn, .userdata = userdata } };
}

void group_progress_report(struct group_progress *gp, uint64_t bytes, bool force)
{
	gp->x.p.bytes = bytes;
	gp->x.p.total_estimate = gp->estimate > bytes ? gp->estimate : bytes;
	xfer_report(&gp->x, force);
}

void group_progress_phase(struct group_progress *gp, enum vfiomig_phase phase, uint64_t bytes)
{
	gp->x.p.phase = phase;
	group_progress_report(gp, bytes, true);
}

int group_xfer_check(struct vfiomig_group *g, const int *fds, unsigned int n_fds, bool raw)
{
	if (!g->n)
		return vfiomig_fail(g->ctx, -EINVAL, "the group has no members; add them first");
	if (!fds || (n_fds != 1 && n_fds != g->n))
		return vfiomig_fail(g->ctx, -EINVAL, "give one fd for a stream of the whole group, "
				    "or one per member (%u), not %u", g->n, fds ? n_fds : 0);
	if (raw && n_fds == 1 && g->n > 1)
		return vfiomig_fail(g->ctx, -EINVAL, "a raw stream carries one device's bytes: "
				    "give one fd per member");
	for (unsigned int i = 0; i < n_fds; i++)
		if (fds[i] < 0)
			return vfiomig_fail(g->ctx, -EINVAL, "fd %u of the group's streams is %d",
					    i, fds[i]);
	return 0;
}

void group_xfer_result(struct vfiomig_group *g, unsigned int i, const struct vfiomig_stats *st,
		       uint64_t downtime_ns, int stream_device)
{
	struct vfiomig_group_result *res = &g->m[i].result;

	res->precopy_bytes = st->precopy_bytes;
	res->stop_copy_bytes = st->stop_copy_bytes;
	res->precopy_rounds = st->precopy_rounds;
	res->downtime_ns = downtime_ns;
	res->stream_device = stream_device;
	res->downtime_estimate_ns = st->downtime_estimate_ns;
	res->precopy_bandwidth = st->precopy_bandwidth;
}
