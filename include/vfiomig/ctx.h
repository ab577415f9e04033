/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiomig: the library context.  A context holds the log function and the
 * kernel objects that devices opened through it share (one VFIO container,
 * one iommufd), as a VMM shares them.  There is no process-global state.
 */
#ifndef VFIOMIG_CTX_H
#define VFIOMIG_CTX_H

#include <vfiomig/common.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vfiomig_ctx;

/**
 * vfiomig_ctx_new() - Create a library context
 * @ret: where the new context is stored; caller owns it and releases it
 *       with vfiomig_ctx_unref()
 *
 * The context starts silent: nothing is logged until a log function is
 * installed.  The log priority starts at LOG_ERR.
 *
 * Return: 0; -EINVAL if @ret is NULL; -ENOMEM.
 * Since: 0.1
 */
VFIOMIG_API int vfiomig_ctx_new(struct vfiomig_ctx **ret);

/**
 * vfiomig_ctx_ref() - Take a reference
 * Return: @ctx (NULL-safe).  Since: 0.1
 */
VFIOMIG_API struct vfiomig_ctx *vfiomig_ctx_ref(struct vfiomig_ctx *ctx);

/**
 * vfiomig_ctx_unref() - Drop a reference; frees the context with the last one
 *
 * Devices hold a reference of their own, so a context outlives its devices.
 *
 * Return: NULL, so that "ctx = vfiomig_ctx_unref(ctx);" is safe (NULL-safe).
 * Since: 0.1
 */
VFIOMIG_API struct vfiomig_ctx *vfiomig_ctx_unref(struct vfiomig_ctx *ctx);

/**
 * vfiomig_ctx_set_log_fn() - Install a log function
 * @fn: called with @userdata, a syslog priority (LOG_ERR ... LOG_DEBUG) and a
 *      message without trailing newline; NULL restores silence
 * Since: 0.1
 */
VFIOMIG_API void vfiomig_ctx_set_log_fn(struct vfiomig_ctx *ctx,
					void (*fn)(void *userdata, int priority,
						   const char *msg),
					void *userdata);

/**
 * vfiomig_ctx_set_log_priority() - Log messages up to @priority (syslog levels)
 * Since: 0.1
 */
VFIOMIG_API void vfiomig_ctx_set_log_priority(struct vfiomig_ctx *ctx,
					      int priority);

/**
 * vfiomig_ctx_get_log_priority() - The current log priority
 * Return: a syslog priority; -EINVAL if @ctx is NULL.  Since: 0.1
 */
VFIOMIG_API int vfiomig_ctx_get_log_priority(struct vfiomig_ctx *ctx);

/**
 * vfiomig_ctx_get_error() - Explanation of the last failure in this context
 *
 * Every call that fails with a reason a person can act on ("bound to driver
 * ixgbe instead of a VFIO driver: ...") stores that sentence here as well as
 * logging it at LOG_ERR, so that callers without a log function can show it.
 *
 * Return: a borrowed string, valid until the next call on @ctx or one of its
 *         devices; "" if nothing has failed yet.  Since: 0.1
 */
VFIOMIG_API const char *vfiomig_ctx_get_error(struct vfiomig_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif
