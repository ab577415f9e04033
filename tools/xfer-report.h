/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What save, load and migrate print when they are done. */
#ifndef CTL_XFER_REPORT_H
#define CTL_XFER_REPORT_H

#include "ctl.h"

struct xfer_report {
	const char *device;		/* save, load: the device; migrate: the source */
	const char *destination;	/* migrate only */
	const char *file;		/* save, load: the path or "-" */
	bool raw;
	const struct vfiomig_stats *stats;	/* a group's: its totals */
	uint64_t downtime_ns;		/* migrate: source stopped -> destination running */
	bool saved;			/* save, migrate: the save's downtime figures */
	uint64_t downtime_limit_ns;	/* the save's target; 0: none */
	enum vfiomig_state state;	/* the device's (migrate: the source's) final state */
	enum vfiomig_state destination_state;
	/* Of a group (device and destination NULL): each member's figures
	 * follow, from ctl->members, and the states are the members'. */
	bool group;
};

/* One member of a group's save, load or migrate (ctl->members). */
struct xfer_member {
	char device[64];		/* migrate: the source */
	char destination[64];		/* migrate: where its state went; "" otherwise */
	int stream_device;		/* load, migrate: the stream's device it took */
	int err, destination_err;	/* the positive errno of its own failure, or 0 */
	bool has_state, has_destination_state;
	enum vfiomig_state state, destination_state;
	uint64_t precopy_bytes, stop_copy_bytes, downtime_ns;	/* migrate: the source's */
	unsigned int precopy_rounds;
	uint64_t downtime_estimate_ns;	/* at the switchover; 0 none, UINT64_MAX unknown */
	uint64_t precopy_bandwidth;	/* bytes a second; 0 none */
	uint64_t destination_bytes;	/* migrate: what its destination took */
};

void xfer_report_print(struct ctl *ctl, const struct xfer_report *x);

/*
 * Takes each member's figures and own error from @g's last call
 * (vfiomig_group_get_result()) into ctl->members, and notes where each is
 * for the error's "states".  @now: read each state now, not the call's
 * (migrate, which may have moved the sources since).  It makes library
 * calls, so take the call's error first.  Returns EXIT_OK or, out of
 * memory, EXIT_FAIL.
 */
int xfer_take_group(struct ctl *ctl, struct vfiomig_group *g, bool now);
/* migrate: the destinations, each paired with the source whose stream
 * device it took (after xfer_take_group() of the sources). */
void xfer_take_destinations(struct ctl *ctl, struct vfiomig_group *dst, bool now);

/*
 * save, load: the failure @e of the call on @d's @n devices (taken first:
 * reading a group's results is a library call too); a group's, with every
 * member's own error and state.
 */
int xfer_fail(struct ctl *ctl, const struct ctl_devices *d, int n, int e);
/* save, load: the summary of a call on @d that succeeded (@raw: --raw;
 * @limit_ns: a save's downtime target, or 0; @saved: a save). */
int xfer_report_done(struct ctl *ctl, const struct ctl_devices *d, const char *file, bool raw,
		     bool saved, uint64_t limit_ns, const struct vfiomig_stats *stats);

/* A failed migrate: how much device state its members had sent and their
 * destinations had taken, at the end of the error, once any had. */
void xfer_fail_crossed(struct ctl *ctl);

/* A failed group's members: "devices" of the JSON error (output.c), and
 * with -v a line each on stderr. */
void xfer_members_json(struct ctl *ctl, struct json_writer *w);
void xfer_members_message(struct ctl *ctl);

/* The library's progress callback: redraws ctl->progress. */
void xfer_progress(void *userdata, const struct vfiomig_progress *p);

/*
 * The progress line of a save, load or migrate (@command) of @n devices,
 * as --progress says (and -q: no line unless --progress=always).  @input:
 * a load's stream ("-" for stdin), which claims the terminal only once
 * data came and whose length, if it is a regular file, the line counts
 * against; NULL for a save or migrate.
 */
struct progress *xfer_progress_new(struct ctl *ctl, const char *command, int n,
				   const char *input);

#endif
