/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ctx.c: the context's fields and its transports and backends. */
#ifndef VFIOMIG_CONTEXT_H
#define VFIOMIG_CONTEXT_H

#include <pthread.h>
#include <stdatomic.h>

#include "export.h"
#include "transport.h"

struct slot_anchor;
struct vfiomig_vendor_ops;

#define CTX_TRANSPORTS_MAX 4
#define CTX_BACKENDS_MAX 4

struct vfiomig_ctx {
	atomic_int refcount;
	/* The log settings. */
	pthread_mutex_t lock;
	void (*log_fn)(void *userdata, int priority, const char *msg);
	void *log_data;
	int log_priority;
	/* What its threads' error slots hold on to (call.c). */
	struct slot_anchor *anchor;
	/* The transports attached (vfiomig_ctx_attach_transport()), in the order they
	 * are asked to open a spec, each with its shared state (its own lock
	 * inside).  Written before the ctx is handed out, read-only after. */
	struct ctx_transport {
		const struct vfiomig_transport *t;
		void *state;
	} transports[CTX_TRANSPORTS_MAX];
	unsigned int n_transports;
	const struct vfiomig_vendor_ops *backends[CTX_BACKENDS_MAX];
	unsigned int n_backends;
};

/*
 * ctx.c.  A context with no transport yet (-ENOMEM), to which the
 * constructor attaches them (kernel/context.c), and the mock its own
 * (vfiomig_mock_attach()).  A transport attached later is asked first (the
 * kernel's takes every spec and fd it is given, so it is attached first);
 * @t's shared state is made then (-ENOMEM); -E2BIG past CTX_TRANSPORTS_MAX,
 * -EEXIST if @t is attached already.  Before the ctx is used: the list is
 * read without a lock.
 */
int ctx_alloc(struct vfiomig_ctx **ret);
VFIOMIG_PRIVATE int vfiomig_ctx_attach_transport(struct vfiomig_ctx *ctx,
						 const struct vfiomig_transport *t);
/* @t's shared state in @ctx; NULL if not attached or it has none. */
VFIOMIG_PRIVATE void *vfiomig_ctx_transport_state(struct vfiomig_ctx *ctx,
						  const struct vfiomig_transport *t);
/* A vendor backend beyond the library's own (the mock's), found by name in
 * @ctx; -E2BIG past CTX_BACKENDS_MAX.  Before the ctx is used, likewise. */
VFIOMIG_PRIVATE int vfiomig_ctx_attach_backend(struct vfiomig_ctx *ctx,
					       const struct vfiomig_vendor_ops *ops);

#endif
