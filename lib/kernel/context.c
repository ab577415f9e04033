/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A new context and the transports it starts with: the one place that
 * names them.  The mock claims "mock:" specs and its own placeholder fds;
 * the kernel takes everything else, so it comes last.  (The mock is
 * attached here until it is a library of its own, issue #24.)
 */
#include "private.h"

VFIOMIG_EXPORT int vfiomig_ctx_new(struct vfiomig_ctx **ret)
{
	struct vfiomig_ctx *ctx = NULL;
	int r;

	if (!ret)
		return -EINVAL;
	r = ctx_alloc(&ctx);
	if (r == 0)
		r = ctx_attach_transport(ctx, &vfiomig_mock_transport);
	if (r == 0)
		r = ctx_attach_transport(ctx, &vfiomig_kernel_transport);
	if (r < 0) {
		vfiomig_ctx_unref(ctx);
		return r;
	}
	*ret = ctx;
	return 0;
}
