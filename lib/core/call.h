/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * call.c: the bookkeeping of one public call (its error, the owners of
 * devices and groups), and what it keeps for each thread of a ctx, for
 * log.c and ctx.c.
 */
#ifndef VFIOMIG_CALL_H
#define VFIOMIG_CALL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export.h"

struct err_record;
struct err_slot;
struct vfiomig_ctx;
struct vfiomig_dev;

/* Which thread is inside a call on a device or group (call.c). */
struct owner {
	pthread_mutex_t lock;
	pthread_cond_t idle;	/* depth fell to 0: a destructor waits for it */
	pthread_t thread;
	/* That thread's calls in progress: one, and the queries (CALL_QUERY)
	 * and destructors its callbacks make. */
	unsigned int depth;
};

/*
 * call.c: the bookkeeping of one public call.  Every exported function
 * that returns a status brackets its work with call_begin_*() and
 * call_end(), and never calls another exported function: internal code
 * calls the internal functions, so a best-effort step inside a call leaves
 * no trace.
 */
/*
 * What a failure is about, as the device layer knows it (device/dev-call.c):
 * its name, and the last words of the sentence, where it ends up, read at
 * the end of the call.
 */
struct call_reporter {
	const char *(*name)(const struct vfiomig_dev *dev);
	void (*last_words)(struct vfiomig_dev *dev, char *msg, size_t size, bool *has_state,
			   enum vfiomig_state *state);
};

struct call {
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;	/* the device the call is on */
	struct vfiomig_dev *report;	/* whose state a failure reports */
	const struct call_reporter *reporter;	/* set with @report */
	struct err_slot *slot;
	unsigned int flags;
	struct owner *owned;		/* the device or group it took, given back at the end */
	struct err_record *stash;	/* a nested call: the outer call's failure */
};

/* call_begin_dev() flags */
#define CALL_REPORT_STATE (1u << 0)	/* a failure says where the device ends up */
/* It only reads the device, so a callback of a call on it may make it. */
#define CALL_QUERY (1u << 1)

/* -EINVAL for a NULL @ctx (nothing recorded: there is nowhere to). */
int call_begin_ctx(struct call *c, struct vfiomig_ctx *ctx);
/* Ends the call: a success clears the thread's error, a failure completes
 * it.  Returns @r. */
int call_end(struct call *c, int r);
/* @fn(@arg) as one call on @ctx, for a library beside this one whose
 * public functions are calls too: it starts clean, its first vfiomig_fail()
 * is its cause, a success clears the thread's error.  -EINVAL for a NULL
 * @ctx (nothing recorded); else what @fn returns. */
VFIOMIG_PRIVATE int vfiomig_call_ctx(struct vfiomig_ctx *ctx, int (*fn)(void *arg), void *arg);
/* Adds "; @note" to the failure the calling thread's call has recorded;
 * false if there is none, or the note did not fit whole. */
VFIOMIG_PRIVATE bool vfiomig_call_note(struct vfiomig_ctx *ctx, const char *note);
/* What kind of failure the calling thread's call recorded (struct
 * vfiomig_error's flags), for callers that act on it. */
#define CALL_FACT_FIRST_DATA_REJECTED (1u << 0)	/* a load's device refused its first data */
#define CALL_FACT_BAD_SPEC (1u << 1)		/* the device spec was malformed */
#define CALL_FACT_MEMBER_STATES (1u << 2)	/* the sentence lists every member's state */
VFIOMIG_PRIVATE void vfiomig_note_fact(struct vfiomig_ctx *ctx, unsigned int fact);
/* An open that failed before there was a device to report: the name of the
 * device it tried, for the failure's facts (vfiomig_error.device). */
void call_note_device(struct vfiomig_ctx *ctx, const char *name);
/*
 * Taking a device or group for the calling thread: -EBUSY if another
 * thread is inside a call on it; -EDEADLK if this thread is (the call
 * comes from a callback of that call), unless @nest (a query, or a
 * destructor).
 */
void owner_init(struct owner *o);
void owner_fini(struct owner *o);
int owner_take(struct owner *o, bool nest);
void owner_give_back(struct owner *o);
/* A destructor's take: every one of @o, waiting as long as another thread
 * is inside a call on any (nested where this thread is). */
void owners_take_waiting(struct owner *const *o, unsigned int n);
/* Records why owner_take() gave -EDEADLK for @name (a device's, or "the
 * group"), and returns -EDEADLK. */
int call_fail_reentry(struct vfiomig_ctx *ctx, const char *name);


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
