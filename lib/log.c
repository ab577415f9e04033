/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging through the caller's function, and the ctx's error sentence. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "private.h"

__attribute__((format(printf, 3, 0)))
static void log_va(struct vfiomig_ctx *ctx, int prio, const char *fmt, va_list ap)
{
	char msg[1024];

	if (!ctx->log_fn || prio > ctx->log_priority)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	ctx->log_fn(ctx->log_data, prio, msg);
}

void vfiomig_log(struct vfiomig_ctx *ctx, int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_va(ctx, prio, fmt, ap);
	va_end(ap);
}

int vfiomig_fail(struct vfiomig_ctx *ctx, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->error, sizeof(ctx->error), fmt, ap);
	va_end(ap);
	if (ctx->log_fn && LOG_ERR <= ctx->log_priority)
		ctx->log_fn(ctx->log_data, LOG_ERR, ctx->error);
	return err;
}
