/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A new context and the transport it starts with, the kernel's: what a
 * VMM needs, and all it pays for.  Others attach themselves later
 * (libvfiomig-mock's vfiomig_mock_attach()), and are asked first.
 */
#include "context.h"
#include "export.h"
#include "transport.h"

VFIOMIG_EXPORT int vfiomig_ctx_new(struct vfiomig_ctx **ret)
{
	struct vfiomig_ctx *ctx = NULL;
	int r;

	if (!ret)
		return -EINVAL;
	r = ctx_alloc(&ctx);
	if (r == 0)
		r = vfiomig_ctx_attach_transport(ctx, &vfiomig_kernel_transport);
	if (r < 0) {
		vfiomig_ctx_unref(ctx);
		return r;
	}
	*ret = ctx;
	return 0;
}
