/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log.c: logging through the caller's function, and recording a failure. */
#ifndef VFIOMIG_LOG_H
#define VFIOMIG_LOG_H

#include <stdint.h>
#include <syslog.h>

#include "export.h"

/*
 * log.c.  vfiomig_fail() records @fmt as the calling thread's error on
 * @ctx, unless this call already failed (the first failure is the cause;
 * what a rollback meets afterwards is not), and returns @err.  It also
 * logs the sentence at LOG_DEBUG, never at LOG_ERR.
 */
VFIOMIG_PRIVATE void vfiomig_log(struct vfiomig_ctx *ctx, int prio, const char *fmt, ...)
	PRINTF(3, 4);
VFIOMIG_PRIVATE int vfiomig_fail(struct vfiomig_ctx *ctx, int err, const char *fmt, ...) PRINTF(3, 4);
/* The same, with the stream offset at which the failure was found. */
int vfiomig_fail_at(struct vfiomig_ctx *ctx, int err, uint64_t offset,
		    const char *fmt, ...) PRINTF(4, 5);
#define dbg(ctx, ...) vfiomig_log(ctx, LOG_DEBUG, __VA_ARGS__)
#define info(ctx, ...) vfiomig_log(ctx, LOG_INFO, __VA_ARGS__)
#define warn(ctx, ...) vfiomig_log(ctx, LOG_WARNING, __VA_ARGS__)

#endif
