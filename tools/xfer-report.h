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
	const struct vfiomig_stats *stats;
	uint64_t downtime_ns;		/* migrate: source stopped -> destination running */
	enum vfiomig_state state;	/* the device's (migrate: the source's) final state */
	enum vfiomig_state destination_state;
};

void xfer_report_print(struct ctl *ctl, const struct xfer_report *x);

/* The library's progress callback: redraws ctl->progress. */
void xfer_progress(void *userdata, const struct vfiomig_progress *p);

#endif
