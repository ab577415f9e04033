/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging through the caller's function, and recording a call's failure. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "call.h"
#include "context.h"
#include "log.h"
#include "call.h"

/* The user's function is called without the ctx's lock, though maybe
 * under a transport's (ctx.h: it must not call the library). */
__attribute__((format(printf, 3, 0)))
static void log_va(struct vfiomig_ctx *ctx, int prio, const char *fmt, va_list ap)
{
	void (*fn)(void *, int, const char *);
	void *data;
	char msg[1024];

	pthread_mutex_lock(&ctx->lock);
	fn = prio <= ctx->log_priority ? ctx->log_fn : NULL;
	data = ctx->log_data;
	pthread_mutex_unlock(&ctx->lock);
	if (!fn)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	fn(data, prio, msg);
}

void vfiomig_log(struct vfiomig_ctx *ctx, int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_va(ctx, prio, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 4, 0)))
static int fail_va(struct vfiomig_ctx *ctx, int err, uint64_t offset, const char *fmt,
		   va_list ap)
{
	struct err_slot *s = call_slot(ctx);
	struct err_record *e = s ? &s->rec : NULL;
	va_list copy;

	/* The call's first failure is its cause; an ended inner call's is not. */
	if (!e || (e->failed && e->depth == s->depth && s->depth > 0)) {
		log_va(ctx, LOG_DEBUG, fmt, ap);
		return err;
	}
	*e = (struct err_record){ .failed = true, .depth = s->depth, .err = -err,
				  .offset = offset };
	va_copy(copy, ap);
	vsnprintf(e->msg, sizeof(e->msg), fmt, copy);
	va_end(copy);
	vfiomig_log(ctx, LOG_DEBUG, "failed: %s", e->msg);
	return err;
}

int vfiomig_fail(struct vfiomig_ctx *ctx, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fail_va(ctx, err, UINT64_MAX, fmt, ap);
	va_end(ap);
	return err;
}

int vfiomig_fail_at(struct vfiomig_ctx *ctx, int err, uint64_t offset, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fail_va(ctx, err, offset, fmt, ap);
	va_end(ap);
	return err;
}
