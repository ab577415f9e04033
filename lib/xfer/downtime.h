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

struct vfiomig_dev;

/* No estimate: no bandwidth measured yet, or no credible size. */
#define DOWNTIME_UNKNOWN UINT64_MAX

struct downtime {
	/* The rounds' bytes and times, each halved at every new round: a
	 * moving figure that weighs a round by its bytes, so that a tiny
	 * round's latency does not pass for the bandwidth. */
	uint64_t bytes, ns;
	uint64_t biggest;	/* the most bytes one round moved */
	uint64_t datasize;	/* MIG_DATA_SIZE at the start; 0: none */
	uint64_t remaining;	/* the last credible count; DOWNTIME_UNKNOWN */
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
/* @remaining bytes at @bandwidth, in ns; DOWNTIME_UNKNOWN if either is. */
uint64_t downtime_estimate(uint64_t remaining, uint64_t bandwidth);
/* "850.0 ms", "12.3 s", "unknown" into @buf. */
const char *downtime_str(uint64_t ns, char *buf, size_t size);

#endif
