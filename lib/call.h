/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What call.c keeps for each thread of a ctx, for log.c and ctx.c. */
#ifndef VFIOMIG_CALL_H
#define VFIOMIG_CALL_H

#include "private.h"

struct err_slot {
	struct err_slot *next;
	pthread_t thread;
	unsigned int depth;	/* calls of this thread in progress (callbacks nest) */
	bool failed;		/* the last outermost call failed, or this one has */
	int err;
	char msg[1024];
	char device[64];
	bool has_state;
	enum vfiomig_state state;
	uint64_t offset;
};

/* The calling thread's slot on @ctx, made on first use; NULL without memory. */
struct err_slot *call_slot(struct vfiomig_ctx *ctx);
/* The calling thread's slot if its last call failed, else NULL. */
const struct err_slot *call_last_failure(struct vfiomig_ctx *ctx);
void call_free_slots(struct vfiomig_ctx *ctx);

#endif
