/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every Check suite of ours needs: running it, and counting fds. */
#ifndef VFIOMIG_TEST_UTIL_H
#define VFIOMIG_TEST_UTIL_H

#include <check.h>
#include <dirent.h>
#include <stdlib.h>

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
