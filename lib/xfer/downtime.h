/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The downtime estimate of a save (docs/migration.md): the bandwidth
 * pre-copy measured, what the device says is left, made credible, and the
 * stop-copy time the one would take at the other.
 */
#ifndef VFIOMIG_DOWNTIME_H
#define VFIOMIG_DOWNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include <vfiomig/state.h>

struct vfiomig_dev;

/* No estimate: no bandwidth measured yet, or no credible size. */
#define DOWNTIME_UNKNOWN UINT64_MAX
/*
 * A pre-copy round that moved nothing: the estimate is as low as rounds
 * can make it (its arcs, what the device dirties meanwhile), so pre-copy
 * waits this long before asking again, rather than spin until its
 * deadline or round limit.
 */
#define DOWNTIME_IDLE_MS 10u

struct downtime {
	/* The rounds' bytes and times, each halved at every new round: a
	 * moving figure that weighs a round by its bytes, so that a tiny
	 * round's latency does not pass for the bandwidth. */
	uint64_t bytes, ns;
	uint64_t biggest;	/* the most bytes one round moved */
	uint64_t datasize;	/* MIG_DATA_SIZE at the start; 0: none */
	uint64_t remaining;	/* the last credible count; DOWNTIME_UNKNOWN */
	uint64_t arcs_ns;	/* what the arcs of the stop will take */
	bool warned;		/* a capped count was logged */
};

void downtime_init(struct downtime *d, uint64_t datasize);
/* A pre-copy round moved @bytes in @ns. */
void downtime_round(struct downtime *d, uint64_t bytes, uint64_t ns);
/* Bytes a second; 0 before any round with bytes. */
uint64_t downtime_bandwidth(const struct downtime *d);
/*
 * PRECOPY_INFO's counts (dev_size_clamp()ed) as what is left, capped to
 * what the device can hold, the cap logged once; kept in @d->remaining.
 */
uint64_t downtime_remaining(struct downtime *d, struct vfiomig_dev *dev, uint64_t initial,
			    uint64_t dirty);
/*
 * The arcs inside the downtime (from pre-copy to STOP_COPY, then to where
 * the save leaves @dev, @leave_running or STOP), each taking @arc_ns, the
 * time the arc into pre-copy took: a driver's command each (mlx5's
 * firmware), which no byte count shows.
 */
void downtime_arcs(struct downtime *d, const struct vfiomig_dev *dev, enum vfiomig_state from,
		   bool leave_running, uint64_t arc_ns);
/* @remaining bytes at @bandwidth, plus @arcs_ns, in ns; DOWNTIME_UNKNOWN
 * if the bytes or the bandwidth are. */
uint64_t downtime_estimate(uint64_t remaining, uint64_t bandwidth, uint64_t arcs_ns);
/* @d's estimate: its remaining bytes at its bandwidth, plus its arcs. */
uint64_t downtime_of(const struct downtime *d);
/*
 * A group's estimate over its @n members' @m.  One stream (@stream, its
 * meter) carries every member's rest, so the sum goes at the stream's
 * bandwidth, plus the slowest member's arcs (the members' arcs run at once,
 * phase by phase); with a stream per member (@stream NULL) they drain at
 * once, and the slowest member's estimate decides.
 */
uint64_t downtime_group(const struct downtime *const *m, unsigned int n,
			const struct downtime *stream);
/* "850.0 ms", "12.3 s", "unknown" into @buf. */
const char *downtime_str(uint64_t ns, char *buf, size_t size);

#endif
