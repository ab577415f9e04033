/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The library context: references, log settings, errors, its transports. */
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "context.h"
#include "export.h"
#include "sized.h"
#include "transport.h"
#include "call.h"

static void ctx_free(struct vfiomig_ctx *ctx)
{
	for (unsigned int i = 0; i < ctx->n_transports; i++)
		if (ctx->transports[i].state)
			ctx->transports[i].t->ctx_free(ctx->transports[i].state);
	call_slots_fini(ctx);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
}

int ctx_alloc(struct vfiomig_ctx **ret)
{
	struct vfiomig_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return -ENOMEM;
	atomic_init(&ctx->refcount, 1);
	pthread_mutex_init(&ctx->lock, NULL);
	ctx->log_priority = LOG_ERR;
	if (call_slots_init(ctx) < 0) {
		ctx_free(ctx);
		return -ENOMEM;
	}
	*ret = ctx;
	return 0;
}

int vfiomig_ctx_attach_transport(struct vfiomig_ctx *ctx, const struct vfiomig_transport *t)
{
	void *state = NULL;

	for (unsigned int i = 0; i < ctx->n_transports; i++)
		if (ctx->transports[i].t == t)
			return -EEXIST;
	if (ctx->n_transports == CTX_TRANSPORTS_MAX)
		return -E2BIG;
	if (t->ctx_new && !(state = t->ctx_new()))
		return -ENOMEM;
	memmove(&ctx->transports[1], &ctx->transports[0],
		ctx->n_transports * sizeof(ctx->transports[0]));
	ctx->transports[0] = (struct ctx_transport){ t, state };
	ctx->n_transports++;
	return 0;
}

int vfiomig_ctx_attach_backend(struct vfiomig_ctx *ctx, const struct vfiomig_vendor_ops *ops)
{
	if (ctx->n_backends == CTX_BACKENDS_MAX)
		return -E2BIG;
	ctx->backends[ctx->n_backends++] = ops;
	return 0;
}

void *vfiomig_ctx_transport_state(struct vfiomig_ctx *ctx, const struct vfiomig_transport *t)
{
	for (unsigned int i = 0; i < ctx->n_transports; i++)
		if (ctx->transports[i].t == t)
			return ctx->transports[i].state;
	return NULL;
}

VFIOMIG_EXPORT struct vfiomig_ctx *vfiomig_ctx_ref(struct vfiomig_ctx *ctx)
{
	if (ctx)
		atomic_fetch_add(&ctx->refcount, 1);
	return ctx;
}

VFIOMIG_EXPORT struct vfiomig_ctx *vfiomig_ctx_unref(struct vfiomig_ctx *ctx)
{
	/* Devices hold references, so no device can be left when this frees. */
	if (ctx && atomic_fetch_sub(&ctx->refcount, 1) == 1)
		ctx_free(ctx);
	return NULL;
}

VFIOMIG_EXPORT void vfiomig_ctx_set_log_fn(struct vfiomig_ctx *ctx,
					   void (*fn)(void *, int, const char *),
					   void *userdata)
{
	if (!ctx)
		return;
	pthread_mutex_lock(&ctx->lock);
	ctx->log_fn = fn;
	ctx->log_data = userdata;
	pthread_mutex_unlock(&ctx->lock);
}

VFIOMIG_EXPORT void vfiomig_ctx_set_log_priority(struct vfiomig_ctx *ctx,
						 int priority)
{
	if (!ctx)
		return;
	pthread_mutex_lock(&ctx->lock);
	ctx->log_priority = priority;
	pthread_mutex_unlock(&ctx->lock);
}

VFIOMIG_EXPORT int vfiomig_ctx_get_log_priority(struct vfiomig_ctx *ctx)
{
	int p;

	if (!ctx)
		return -EINVAL;
	pthread_mutex_lock(&ctx->lock);
	p = ctx->log_priority;
	pthread_mutex_unlock(&ctx->lock);
	return p;
}

VFIOMIG_EXPORT const char *vfiomig_ctx_get_error(struct vfiomig_ctx *ctx)
{
	const struct err_slot *s = ctx ? call_last_failure(ctx) : NULL;

	return s ? s->rec.msg : NULL;
}

/*
 * Whether the sentence leads with the device it is about.  The sentence is
 * the library's own, finished: comparing it with the name here, once,
 * spares every caller from comparing strings.
 */
static bool device_first(const struct err_record *rec)
{
	size_t n = strlen(rec->device);

	return n && strncmp(rec->msg, rec->device, n) == 0 &&
	       (rec->msg[n] == ':' || rec->msg[n] == ' ');
}

VFIOMIG_EXPORT int vfiomig_ctx_get_error_info(struct vfiomig_ctx *ctx,
					      struct vfiomig_error *ret)
{
	const struct err_slot *s;
	struct vfiomig_error e;

	if (!ctx || !ret || sized_check_out(ret) < 0)
		return -EINVAL;
	s = call_last_failure(ctx);
	if (!s)
		return -ENOENT;
	e = (struct vfiomig_error){
		.sz = sizeof(e), .err = s->rec.err, .message = s->rec.msg,
		.device = s->rec.device[0] ? s->rec.device : NULL,
		.has_state = s->rec.has_state, .state = s->rec.state,
		.stream_offset = s->rec.offset,
		.first_data_rejected = !!(s->rec.facts & CALL_FACT_FIRST_DATA_REJECTED),
		.bad_spec = !!(s->rec.facts & CALL_FACT_BAD_SPEC),
		.device_first = device_first(&s->rec),
		.member_states = !!(s->rec.facts & CALL_FACT_MEMBER_STATES),
	};
	sized_copy_out(ret, &e, sizeof(e));
	return 0;
}
