/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The library's log messages on stderr.  Warnings show by default, -v adds
 * informational messages, -vv debugging; -q keeps only the final error.
 * Messages at LOG_ERR are the same sentence the final error line prints
 * (vfiomig_ctx_get_error()), so they show only with -vv.
 */
#include <string.h>
#include <syslog.h>

#include <vfiomig/mock.h>

#include "ctl.h"

static void log_to_stderr(void *userdata, int priority, const char *msg)
{
	struct ctl *ctl = userdata;
	const char *kind = priority <= LOG_ERR ? "error: " :
			   priority == LOG_WARNING ? "warning: " :
			   priority == LOG_DEBUG ? "debug: " : "";

	if (priority <= LOG_ERR && ctl->verbose < 2)
		return;
	ctl_message(ctl, "%s%s", kind, msg);
}

static int log_priority(const struct ctl *ctl)
{
	if (ctl->verbose >= 2)
		return LOG_DEBUG;
	if (ctl->verbose == 1)
		return LOG_INFO;
	return ctl->quiet ? LOG_ERR : LOG_WARNING;
}

int ctl_context_new(struct ctl *ctl, struct vfiomig_ctx **ret)
{
	struct vfiomig_ctx *vctx;
	int r = vfiomig_ctx_new(&vctx);

	/* Every documented mock: example works: the tool links the mock. */
	if (r == 0 && (r = vfiomig_mock_attach(vctx)) < 0)
		vfiomig_ctx_unref(vctx);
	if (r < 0)
		return ctl_fail(ctl, r, "cannot create a library context: %s", strerror(-r));
	vfiomig_ctx_set_log_fn(vctx, log_to_stderr, ctl);
	vfiomig_ctx_set_log_priority(vctx, log_priority(ctl));
	*ret = vctx;
	return EXIT_OK;
}
