/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Opening devices with the CLI's error reporting. */
#include "ctl.h"

int ctl_open(struct ctl *ctl, struct vfiomig_ctx *vctx, const char *spec,
	     struct vfiomig_dev **ret)
{
	int r = vfiomig_dev_open(vctx, spec, ret);

	if (r < 0)
		return ctl_fail_lib(ctl, vctx, spec, r);
	return EXIT_OK;
}

