/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The library context. */
#include <stdlib.h>

#include "private.h"

VFIOMIG_EXPORT int vfiomig_ctx_new(struct vfiomig_ctx **ret)
{
	struct vfiomig_ctx *ctx;

	if (!ret)
		return -EINVAL;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->refcount = 1;
	ctx->log_priority = LOG_ERR;
	ctx->container_fd = -1;
	ctx->iommufd = -1;
	*ret = ctx;
	return 0;
}

VFIOMIG_EXPORT struct vfiomig_ctx *vfiomig_ctx_ref(struct vfiomig_ctx *ctx)
{
	if (ctx)
		ctx->refcount++;
	return ctx;
}

VFIOMIG_EXPORT struct vfiomig_ctx *vfiomig_ctx_unref(struct vfiomig_ctx *ctx)
{
	if (!ctx || --ctx->refcount > 0)
		return NULL;
	/* Devices hold references, so no group or mock can be left here. */
	vfiomig_ctx_release_kernel(ctx);
	free(ctx);
	return NULL;
}

VFIOMIG_EXPORT void vfiomig_ctx_set_log_fn(struct vfiomig_ctx *ctx,
					   void (*fn)(void *, int, const char *),
					   void *userdata)
{
	if (!ctx)
		return;
	ctx->log_fn = fn;
	ctx->log_data = userdata;
}

VFIOMIG_EXPORT void vfiomig_ctx_set_log_priority(struct vfiomig_ctx *ctx,
						 int priority)
{
	if (ctx)
		ctx->log_priority = priority;
}

VFIOMIG_EXPORT int vfiomig_ctx_get_log_priority(struct vfiomig_ctx *ctx)
{
	return ctx ? ctx->log_priority : -EINVAL;
}

VFIOMIG_EXPORT const char *vfiomig_ctx_get_error(struct vfiomig_ctx *ctx)
{
	return ctx ? ctx->error : "";
}
