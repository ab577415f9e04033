/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every Check suite of ours needs: running it, counting fds, opening
 * devices and reading their state. */
#ifndef VFIOMIG_TEST_UTIL_H
#define VFIOMIG_TEST_UTIL_H

#include <check.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <vfiomig/mock.h>
#include <vfiomig/vfiomig.h>

/* Open fds of this process, for leak checks. */
static inline int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* A context that opens mock devices: vfiomig_ctx_new(), vfiomig_mock_attach(). */
static inline int test_ctx_new(struct vfiomig_ctx **ret)
{
	int r = vfiomig_ctx_new(ret);

	if (r == 0 && (r = vfiomig_mock_attach(*ret)) < 0)
		*ret = vfiomig_ctx_unref(*ret);
	return r;
}

/* Opens the device printf(@fmt, ...) names, or fails the test saying why. */
static inline struct vfiomig_dev *open_dev(struct vfiomig_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline struct vfiomig_dev *open_dev(struct vfiomig_ctx *ctx, const char *fmt, ...)
{
	struct vfiomig_dev *dev = NULL;
	char spec[256];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(spec, sizeof(spec), fmt, ap);
	va_end(ap);
	r = vfiomig_dev_open(ctx, spec, &dev);
	ck_assert_msg(r == 0, "open %s: %d (%s)", spec, r, vfiomig_ctx_get_error(ctx));
	return dev;
}

/* The device's state, which must be readable. */
static inline enum vfiomig_state state_of(struct vfiomig_dev *dev)
{
	enum vfiomig_state s = VFIOMIG_STATE_ERROR;

	ck_assert_int_eq(vfiomig_dev_get_state(dev, &s), 0);
	return s;
}

/* Runs @s (CK_ENV: CK_FORK, CK_RUN_CASE, ... apply); an exit status for main(). */
static inline int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
