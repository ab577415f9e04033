/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A VMM's build: pkg-config vfiomig alone.  Its library opens no mock
 * device, whatever string reaches vfiomig_dev_open(), and says how a
 * test suite gets one.  TAP on stdout.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <vfiomig/vfiomig.h>

static int n;

static int ok(int cond, const char *what, const char *detail)
{
	printf("%sok %d - %s%s%s\n", cond ? "" : "not ", ++n, what, detail ? ": " : "",
	       detail ? detail : "");
	return !cond;
}

int main(void)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev = NULL;
	const char *e;
	int bad = 0, r;

	printf("1..3\n");
	if (vfiomig_ctx_new(&ctx) < 0)
		return 1;
	/* dmafd=: the mock would write into fd 2 of this process */
	r = vfiomig_dev_open(ctx, "mock:x,dirtylog=1,dirtyrate=1000,dmafd=2", &dev);
	e = vfiomig_ctx_get_error(ctx);
	bad |= ok(r == -EINVAL && !dev, "a mock: spec is refused", e);
	bad |= ok(e && strstr(e, "libvfiomig-mock") && strstr(e, "vfiomig_mock_attach()"),
		  "the sentence says how a test suite gets mock devices", NULL);
	r = vfiomig_dev_open(ctx, "not-a-device", &dev);
	e = vfiomig_ctx_get_error(ctx);
	bad |= ok(r == -EINVAL && e && !strstr(e, "mock"),
		  "another spec is not sent to the mock either", e);
	vfiomig_ctx_unref(ctx);
	return bad;
}
