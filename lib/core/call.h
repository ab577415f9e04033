/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What call.c keeps for each thread of a ctx, for log.c and ctx.c. */
#ifndef VFIOMIG_CALL_H
#define VFIOMIG_CALL_H

#include "private.h"

/* A failure: what vfiomig_ctx_get_error() and _get_error_info() say. */
struct err_record {
	bool failed;		/* the last call failed, or the current one has */
	unsigned int depth;	/* the nesting level of the call that recorded it */
	int err;
	char msg[1024];
	char device[64];
	bool has_state;
	enum vfiomig_state state;
	uint64_t offset;
	unsigned int facts;		/* CALL_FACT_*: what the failure was */
};

/* A thread's account on one ctx, on that thread's list (call.c). */
struct err_slot {
	struct err_slot *next;		/* the thread's slot on another ctx */
	struct slot_anchor *anchor;	/* which ctx: a reference */
	unsigned int depth;	/* calls of this thread in progress (callbacks nest) */
	struct err_record rec;
};

/* The calling thread's slot on @ctx, made on first use; NULL without memory. */
struct err_slot *call_slot(struct vfiomig_ctx *ctx);
/* The calling thread's slot if its last call failed, else NULL. */
const struct err_slot *call_last_failure(struct vfiomig_ctx *ctx);
/* A ctx's side of its slots: made with the ctx (-ENOMEM), let go when it
 * is freed; the slots of threads still alive go later, with their thread. */
int call_slots_init(struct vfiomig_ctx *ctx);
void call_slots_fini(struct vfiomig_ctx *ctx);
/* Frees the calling thread's slot on @ctx now rather than at its end. */
void call_slot_release(struct vfiomig_ctx *ctx);

#endif
