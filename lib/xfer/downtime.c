/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The downtime estimate: QEMU's rule (remaining bytes over the measured
 * bandwidth within downtime-limit), with sizes that "may report anything"
 * capped to what the device was seen to hold.
 */
#include <stdio.h>

#include "downtime.h"
#include "dev.h"
#include "log.h"

/* A MIG_DATA_SIZE this many times above the biggest round is no bound. */
#define DATASIZE_SLACK 1024u

void downtime_init(struct downtime *d, uint64_t datasize)
{
	*d = (struct downtime){ .datasize = datasize, .remaining = DOWNTIME_UNKNOWN };
}

void downtime_round(struct downtime *d, uint64_t bytes, uint64_t ns)
{
	if (!bytes)	/* says nothing of the bandwidth: keep what the others said */
		return;
	d->bytes = d->bytes / 2 + bytes;
	d->ns = d->ns / 2 + ns;
	if (bytes > d->biggest)
		d->biggest = bytes;
}

uint64_t downtime_bandwidth(const struct downtime *d)
{
	if (!d->bytes || !d->ns)
		return 0;
	return (uint64_t)((unsigned __int128)d->bytes * 1000000000u / d->ns);
}

/*
 * The most the device can have left: its state's size.  The first round
 * moves the whole initial image, so the biggest round is a size the device
 * has shown; MIG_DATA_SIZE (a whole state's size on mlx5 and the mock, not
 * what is left) counts when it is not orders of magnitude above that.
 * Before any round nothing is known (no estimate is made then either: no
 * bandwidth was measured).
 */
static uint64_t bound(const struct downtime *d)
{
	if (!d->biggest)
		return DOWNTIME_UNKNOWN;
	if (d->datasize > d->biggest && d->datasize / DATASIZE_SLACK <= d->biggest)
		return d->datasize;
	return d->biggest;
}

uint64_t downtime_remaining(struct downtime *d, struct vfiomig_dev *dev, uint64_t initial,
			    uint64_t dirty)
{
	uint64_t cap = bound(d);
	/* dev_size_clamp() made the limit "unknown"; below it no sum wraps */
	uint64_t v = initial >= VFIOMIG_SIZE_LIMIT || dirty >= VFIOMIG_SIZE_LIMIT ?
		     DOWNTIME_UNKNOWN : initial + dirty;

	if (v > cap && !d->warned) {
		d->warned = true;
		warn(dev->ctx, "%s: PRECOPY_INFO says %s%llu bytes are left, more than the %llu "
		     "the device's state can hold: the downtime estimate takes %llu (said once "
		     "for this save)", dev->name, v == DOWNTIME_UNKNOWN ? "an unknown amount, not " : "",
		     (unsigned long long)(v == DOWNTIME_UNKNOWN ? VFIOMIG_SIZE_LIMIT : v),
		     (unsigned long long)cap, (unsigned long long)cap);
	}
	d->remaining = v > cap ? cap : v;
	return d->remaining;
}

/* The arcs from @from to @to on @dev; 0 if the kernel's table has no path. */
static unsigned int arcs(const struct vfiomig_dev *dev, enum vfiomig_state from,
			 enum vfiomig_state to)
{
	enum vfiomig_state path[8];
	int n = vfiomig_fsm_path(dev->mig_flags, from, to, path, 8);

	return n > 0 ? (unsigned int)n : 0;
}

void downtime_arcs(struct downtime *d, const struct vfiomig_dev *dev, enum vfiomig_state from,
		   bool leave_running, uint64_t arc_ns)
{
	d->arcs_ns = arc_ns * (arcs(dev, from, VFIOMIG_STATE_STOP_COPY) +
			       arcs(dev, VFIOMIG_STATE_STOP_COPY, leave_running ?
				    VFIOMIG_STATE_RUNNING : VFIOMIG_STATE_STOP));
}

uint64_t downtime_estimate(uint64_t remaining, uint64_t bandwidth, uint64_t arcs_ns)
{
	unsigned __int128 ns;

	if (remaining == DOWNTIME_UNKNOWN || !bandwidth)
		return DOWNTIME_UNKNOWN;
	ns = (unsigned __int128)remaining * 1000000000u / bandwidth + arcs_ns;
	return ns >= DOWNTIME_UNKNOWN ? DOWNTIME_UNKNOWN - 1 : (uint64_t)ns;
}

uint64_t downtime_of(const struct downtime *d)
{
	return downtime_estimate(d->remaining, downtime_bandwidth(d), d->arcs_ns);
}

uint64_t downtime_group(const struct downtime *const *m, unsigned int n,
			const struct downtime *stream)
{
	uint64_t sum = 0, arcs = 0, slowest = 0;

	for (unsigned int i = 0; i < n; i++) {
		uint64_t e = downtime_of(m[i]);

		if (m[i]->remaining == DOWNTIME_UNKNOWN || e == DOWNTIME_UNKNOWN)
			return DOWNTIME_UNKNOWN;
		sum += m[i]->remaining;
		arcs = m[i]->arcs_ns > arcs ? m[i]->arcs_ns : arcs;
		slowest = e > slowest ? e : slowest;
	}
	return stream ? downtime_estimate(sum, downtime_bandwidth(stream), arcs) : slowest;
}

const char *downtime_str(uint64_t ns, char *buf, size_t size)
{
	if (ns == DOWNTIME_UNKNOWN)
		snprintf(buf, size, "unknown");
	else if (ns < 10000000000u)
		snprintf(buf, size, "%.1f ms", (double)ns / 1e6);
	else
		snprintf(buf, size, "%.1f s", (double)ns / 1e9);
	return buf;
}
