// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The range list of a dirty-tracking session (lib/dirty/dirty-ranges.c): its
 * checks, and collapsing as QEMU does, against layouts worked out by hand.
 */
#include <errno.h>
#include <string.h>

#include "test-util.h"
#include "dirty-ranges.h"
#include "util.h"

#define K4 0x1000ull
#define G1 (1ull << 30)
#define G4 (1ull << 32)
#define T1 (1ull << 40)

typedef struct vfiomig_iova_range range;

static int sort_check(range *r, size_t n, char *why)
{
	return dirty_ranges_sort_check(r, n, K4, why, 256);
}

START_TEST(test_sorts)
{
	range r[] = { { 3 * K4, K4 }, { 0, K4 }, { 5 * K4, 2 * K4 }, { K4, 2 * K4 } };
	char why[256] = "";

	ck_assert_int_eq(sort_check(r, 4, why), 0);
	ck_assert_uint_eq(r[0].iova, 0);
	ck_assert_uint_eq(r[1].iova, K4);	/* touching its neighbours: fine */
	ck_assert_uint_eq(r[2].iova, 3 * K4);
	ck_assert_uint_eq(r[3].iova, 5 * K4);
	ck_assert_uint_eq(dirty_ranges_bytes(r, 4), 6 * K4);
}
END_TEST

/* Each bad list, and the words its error must contain. */
static const struct {
	range r[3];
	size_t n;
	const char *says;
} bad[] = {
	{ { { 0, 0 } }, 1, "range 0 (iova 0x0, length 0x0) is empty" },
	{ { { 0, K4 }, { 0x1800, K4 } }, 2, "range 1 (iova 0x1800, length 0x1000) is not aligned" },
	{ { { 0, 0x1800 } }, 1, "range 0 (iova 0x0, length 0x1800) is not aligned" },
	{ { { 0, K4 }, { 0xfffffffffffff000ull, K4 } }, 2, "range 1 (iova 0xfffffffffffff000, "
	  "length 0x1000) runs past the end" },
	{ { { 4 * K4, 2 * K4 }, { 0, K4 }, { 5 * K4, K4 } }, 3,
	  "ranges [0x4000, +0x2000) and [0x5000, +0x1000) overlap" },
	{ { { 0, 2 * K4 }, { 0, 2 * K4 } }, 2, "overlap" },
};

START_TEST(test_refuses)
{
	range r[3];
	char why[256] = "";

	memcpy(r, bad[_i].r, sizeof(r));
	ck_assert_int_eq(sort_check(r, bad[_i].n, why), -EINVAL);
	ck_assert_msg(strstr(why, bad[_i].says), "case %d: \"%s\" lacks \"%s\"", _i, why,
		      bad[_i].says);
}
END_TEST

/* The usual VM: RAM below 4 GiB in pieces, RAM above, the 64-bit PCI hole far up. */
static const range vm[] = {
	{ 0, 0xa0000 },			/* 640 KiB */
	{ 0x100000, 0x7ff00000 },	/* to 2 GiB */
	{ 0xc0000000, 0x10000000 },	/* a 32-bit BAR window */
	{ G4, 6 * G1 },			/* RAM above 4 GiB */
	{ 12 * G1, 2 * G1 },
	{ 0x380000000000ull, 16 * G1 },	/* OVMF's 64-bit PCI hole */
};

START_TEST(test_collapse_three)
{
	range r[6];
	size_t n;

	memcpy(r, vm, sizeof(r));
	n = dirty_ranges_collapse(r, 6, 3);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(r[0].iova, 0);
	ck_assert_uint_eq(r[0].length, 0xd0000000ull);	/* to the end of the BAR window */
	ck_assert_uint_eq(r[1].iova, G4);
	ck_assert_uint_eq(r[1].length, 10 * G1);		/* 4 GiB .. 14 GiB */
	ck_assert_uint_eq(r[2].iova, 0x380000000000ull);
	ck_assert_uint_eq(r[2].length, 16 * G1);
}
END_TEST

START_TEST(test_collapse_two_and_one)
{
	range r[6];
	size_t n;

	memcpy(r, vm, sizeof(r));
	n = dirty_ranges_collapse(r, 6, 2);	/* cut at the widest gap: below the hole */
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(r[0].iova, 0);
	ck_assert_uint_eq(r[0].length, 14 * G1);
	ck_assert_uint_eq(r[1].iova, 0x380000000000ull);
	memcpy(r, vm, sizeof(r));
	n = dirty_ranges_collapse(r, 6, 1);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(r[0].iova, 0);
	ck_assert_uint_eq(r[0].length, 0x380000000000ull + 16 * G1);
}
END_TEST

START_TEST(test_collapse_only_when_needed)
{
	range r[6];

	memcpy(r, vm, sizeof(r));
	ck_assert_uint_eq(dirty_ranges_collapse(r, 6, 6), 6);
	ck_assert_mem_eq(r, vm, sizeof(vm));
}
END_TEST

/* All below 4 GiB, or all above: the missing side adds no range. */
START_TEST(test_collapse_one_side)
{
	range low[] = { { 0, K4 }, { 4 * K4, K4 }, { 100 * K4, K4 }, { 200 * K4, K4 } };
	range high[] = { { T1, K4 }, { T1 + 4 * K4, K4 }, { 2 * T1, K4 }, { 2 * T1 + 8 * K4, K4 } };

	ck_assert_uint_eq(dirty_ranges_collapse(low, 4, 3), 1);
	ck_assert_uint_eq(low[0].length, 201 * K4);
	ck_assert_uint_eq(dirty_ranges_collapse(high, 4, 3), 2);
	ck_assert_uint_eq(high[0].iova, T1);
	ck_assert_uint_eq(high[0].length, 5 * K4);
	ck_assert_uint_eq(high[1].iova, 2 * T1);
	ck_assert_uint_eq(high[1].length, 9 * K4);
}
END_TEST

/* A range that crosses 4 GiB counts as 64-bit, as QEMU files it by its end. */
START_TEST(test_collapse_straddling)
{
	range r[] = { { 0, K4 }, { G4 - K4, 2 * K4 }, { 8 * G4, K4 }, { 9 * G4, K4 } };

	ck_assert_uint_eq(dirty_ranges_collapse(r, 4, 3), 3);
	ck_assert_uint_eq(r[0].iova, 0);
	ck_assert_uint_eq(r[0].length, K4);
	ck_assert_uint_eq(r[1].iova, G4 - K4);		/* the widest gap follows it */
	ck_assert_uint_eq(r[1].length, 2 * K4);
	ck_assert_uint_eq(r[2].iova, 8 * G4);
	ck_assert_uint_eq(r[2].length, G4 + K4);
}
END_TEST

/* xorshift64*: the same lists on every run */
static uint64_t next(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dull;
}

/* Random lists: whatever the cut, every listed page stays tracked, in order. */
START_TEST(test_collapse_keeps_every_page)
{
	range in[64], out[64];
	uint64_t x = 0x9e3779b97f4a7c15ull + (uint64_t)_i;
	char why[256];

	for (int round = 0; round < 200; round++) {
		size_t n = 1 + next(&x) % 64, max = 1 + next(&x) % 8, m;
		uint64_t at = (next(&x) % 4) << 30;	/* below or across 4 GiB */

		for (size_t i = 0; i < n; i++) {
			at += (next(&x) % 3 ? next(&x) % 64 : next(&x) % (1u << 28)) * K4;
			in[i] = (range){ at, (1 + next(&x) % 16) * K4 };
			at += in[i].length;
		}
		memcpy(out, in, sizeof(in));
		ck_assert_int_eq(sort_check(out, n, why), 0);
		m = dirty_ranges_collapse(out, n, max);
		ck_assert_uint_le(m, max < n ? max : n);
		ck_assert_uint_ge(dirty_ranges_bytes(out, m), dirty_ranges_bytes(in, n));
		for (size_t k = 1; k < m; k++)
			ck_assert_uint_gt(out[k].iova, out[k - 1].iova + out[k - 1].length - 1);
		for (size_t i = 0, k = 0; i < n; i++) {
			while (k < m && out[k].iova + out[k].length <= in[i].iova)
				k++;
			ck_assert_msg(k < m && out[k].iova <= in[i].iova &&
				      in[i].iova + in[i].length <= out[k].iova + out[k].length,
				      "round %d: range %zu of %zu lost (max %zu)", round, i, n, max);
		}
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dirty-ranges");
	TCase *tc = tcase_create("check");

	tcase_add_test(tc, test_sorts);
	tcase_add_loop_test(tc, test_refuses, 0, (int)ARRAY_SIZE(bad));
	suite_add_tcase(s, tc);
	tc = tcase_create("collapse");
	tcase_add_test(tc, test_collapse_three);
	tcase_add_test(tc, test_collapse_two_and_one);
	tcase_add_test(tc, test_collapse_only_when_needed);
	tcase_add_test(tc, test_collapse_one_side);
	tcase_add_test(tc, test_collapse_straddling);
	tcase_add_loop_test(tc, test_collapse_keeps_every_page, 0, 10);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
