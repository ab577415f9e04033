// SPDX-License-Identifier: LGPL-2.1-or-later
/* The mock device's own tests (being written). */
#include <check.h>
#include <stdlib.h>

START_TEST(test_placeholder)
{
	ck_assert_int_eq(1, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mock");
	TCase *tc = tcase_create("placeholder");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_placeholder);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
