/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for the mlx5 firmware capability diagnostics (vfiomig/mlx5.h).
 *
 * The inputs are QUERY_HCA_CAP capability layouts built by hand, with the
 * bit offsets of ../shared/reference/vfio-migration-uapi.md section 5.1
 * (cmd_hca_cap.migration 0x68d; cmd_hca_cap_2 migratable 0x80,
 * migration_multi_load 0xc8, migration_tracking_state 0xc9,
 * migration_in_chunks 0xd0, migration_state 0xd9).  Bits are set the way
 * the kernel's MLX5_SET does it (a big-endian 32-bit word, counted from its
 * most significant bit), not the way the library reads them (bytes).  The
 * expected verdicts are the reference's table of kernel versions.
 *
 * No test reaches mlx5 hardware: vfiomig_mlx5_caps_query() is tested only
 * for its refusals (no libmlx5, no such device).
 */
#include <vfiomig/vfiomig.h>

#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test-util.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define CAP_LEN  4096
#define MIGRATION	0x68d
#define MIGRATABLE	0x80
#define MULTI_LOAD	0xc8
#define TRACKING_STATE	0xc9
#define IN_CHUNKS	0xd0
#define MIG_STATE	0xd9

/* Which bits a case sets. */
#define B_MIG		(1u << 0)
#define B_MIGRATABLE	(1u << 1)
#define B_MULTI		(1u << 2)
#define B_TRACK		(1u << 3)
#define B_CHUNKS	(1u << 4)
#define B_STATE		(1u << 5)
#define B_NO_CAP2	(1u << 6)	/* the firmware has no cap_2 */
#define B_ALL		(B_MIG | B_MIGRATABLE | B_MULTI | B_TRACK | B_CHUNKS | B_STATE)

#define SC  VFIOMIG_MIG_STOP_COPY
#define P2P VFIOMIG_MIG_P2P
#define PRE VFIOMIG_MIG_PRE_COPY

static void set_bit(uint8_t *layout, unsigned int off)
{
	uint8_t *w = layout + off / 32 * 4;
	uint32_t v = (uint32_t)w[0] << 24 | (uint32_t)w[1] << 16 | (uint32_t)w[2] << 8 | w[3];

	v |= 1u << (31 - off % 32);
	w[0] = v >> 24;
	w[1] = v >> 16;
	w[2] = v >> 8;
	w[3] = v;
}

struct layouts {
	uint8_t cap[CAP_LEN], cap2[CAP_LEN];
};

static void build(struct layouts *l, unsigned int bits)
{
	memset(l, 0, sizeof(*l));
	if (bits & B_MIG)
		set_bit(l->cap, MIGRATION);
	if (bits & B_MIGRATABLE)
		set_bit(l->cap2, MIGRATABLE);
	if (bits & B_MULTI)
		set_bit(l->cap2, MULTI_LOAD);
	if (bits & B_TRACK)
		set_bit(l->cap2, TRACKING_STATE);
	if (bits & B_CHUNKS)
		set_bit(l->cap2, IN_CHUNKS);
	if (bits & B_STATE)
		set_bit(l->cap2, MIG_STATE);
}

static int decode(unsigned int bits, const char *kernel, struct vfiomig_mlx5_caps *c)
{
	static struct layouts l;

	build(&l, bits);
	memset(c, 0xa5, sizeof(*c));
	c->sz = sizeof(*c);
	if (bits & B_NO_CAP2)
		return vfiomig_mlx5_caps_decode(l.cap, CAP_LEN, NULL, 0, kernel, c);
	return vfiomig_mlx5_caps_decode(l.cap, CAP_LEN, l.cap2, CAP_LEN, kernel, c);
}

/* The reference's section 5.1, one row per rule. */
static const struct verdict {
	const char *kernel;
	unsigned int bits;
	int offered;
	uint64_t flags;
	int chunk_mode, reinit;
	const char *missing[3];	/* substrings @missing must have; "" alone: empty */
} verdicts[] = {
	/* no mlx5_vfio_pci before 5.18 */
	{ "5.17.0", B_ALL, 0, 0, 0, 0, { "Linux 5.18" } },
	/* 5.18-6.1: STOP_COPY|P2P, cap_2 not read */
	{ "5.18.0", B_MIG | B_NO_CAP2, 1, SC | P2P, 0, 0, { "PRE_COPY needs Linux 6.2" } },
	{ "6.1.0-13-amd64", B_ALL, 1, SC | P2P, 0, 0, { "Linux 6.2", "Linux 6.7" } },
	{ "6.1.0", B_MIG, 1, SC | P2P, 0, 0, { "Linux 6.2" } },
	/* the migration bit, every version */
	{ "6.1.0", B_ALL & ~B_MIG, 0, 0, 0, 0, { "cmd_hca_cap.migration", "VF_MIGRATION_MODE" } },
	{ "6.12.0", B_ALL & ~B_MIG, 0, 0, 0, 0, { "VF_MIGRATION_MODE=2" } },
	/* 6.2-6.8: PRE_COPY only with multi_load and tracking_state */
	{ "6.2.0", B_MIG, 1, SC | P2P, 0, 0, { "migration_multi_load", "no PRE_COPY" } },
	{ "6.2.0", B_MIG | B_MULTI | B_TRACK, 1, SC | P2P | PRE, 0, 0, { "Linux 6.7" } },
	{ "6.2.0", B_MIG | B_MULTI, 1, SC | P2P, 0, 0, { "no PRE_COPY" } },
	{ "6.2.0", B_MIG | B_TRACK, 1, SC | P2P, 0, 0, { "no PRE_COPY" } },
	/* 6.2 does not read migratable; 6.3+ does */
	{ "6.2.16", B_ALL & ~B_MIGRATABLE, 1, SC | P2P | PRE, 0, 0, { "Linux 6.7" } },
	{ "6.3.0", B_ALL & ~B_MIGRATABLE, 0, 0, 0, 0, { "migratable", "devlink port function" } },
	{ "6.12.0", B_ALL & ~B_MIGRATABLE, 0, 0, 0, 0, { "migratable", "Linux 6.3" } },
	{ "6.3.0", B_MIG | B_MIGRATABLE | B_MULTI | B_TRACK, 1, SC | P2P | PRE, 0, 0, { "Linux 6.7" } },
	{ "6.8.12", B_MIG | B_MIGRATABLE, 1, SC | P2P, 0, 0, { "no PRE_COPY" } },
	/* 6.9+: no migration at all without multi_load and tracking_state */
	{ "6.9.0", B_MIG | B_MIGRATABLE, 0, 0, 0, 0, { "Linux 6.9+ offers no migration" } },
	{ "6.9.0", B_MIG | B_MIGRATABLE | B_MULTI, 0, 0, 0, 0, { "migration_tracking_state" } },
	{ "6.12.0", B_MIG | B_NO_CAP2, 0, 0, 0, 0, { "migratable", "migration_multi_load" } },
	{ "6.9.0", B_MIG | B_MIGRATABLE | B_MULTI | B_TRACK, 1, SC | P2P | PRE, 0, 0,
	  { "migration_in_chunks" } },
	/* chunk mode: 6.7+ with migration_in_chunks */
	{ "6.6.0", B_ALL, 1, SC | P2P | PRE, 0, 0, { "Linux 6.7" } },
	{ "6.7.0", B_ALL, 1, SC | P2P | PRE, 1, 0, { "REINIT needs Linux 7.1" } },
	{ "6.12.0", B_ALL & ~B_CHUNKS, 1, SC | P2P | PRE, 0, 0, { "migration_in_chunks", "4 GiB" } },
	/* REINIT: 7.1 with migration_state */
	{ "7.0.0", B_ALL, 1, SC | P2P | PRE, 1, 0, { "Linux 7.1" } },
	{ "7.1.0", B_ALL, 1, SC | P2P | PRE, 1, 1, { "" } },
	{ "7.1.0", B_ALL & ~B_STATE, 1, SC | P2P | PRE, 1, 0, { "migration_state", "no REINIT" } },
	{ "10.0", B_ALL, 1, SC | P2P | PRE, 1, 1, { "" } },
};

START_TEST(test_verdict)
{
	const struct verdict *v = &verdicts[_i];
	struct vfiomig_mlx5_caps c;

	ck_assert_int_eq(decode(v->bits, v->kernel, &c), 0);
	ck_assert_msg(c.offered == v->offered, "%s bits %#x: offered %d, expected %d (%s)",
		      v->kernel, v->bits, c.offered, v->offered, c.missing);
	ck_assert_msg(c.mig_flags == v->flags, "%s bits %#x: flags %#llx, expected %#llx",
		      v->kernel, v->bits, (unsigned long long)c.mig_flags,
		      (unsigned long long)v->flags);
	ck_assert_int_eq(c.chunk_mode, v->chunk_mode);
	ck_assert_int_eq(c.reinit, v->reinit);
	if (v->missing[0][0] == '\0')
		ck_assert_msg(c.missing[0] == '\0', "%s: unexpected \"%s\"", v->kernel, c.missing);
	for (size_t i = 0; i < ARRAY_SIZE(v->missing) && v->missing[i]; i++)
		ck_assert_msg(strstr(c.missing, v->missing[i]), "%s bits %#x: \"%s\" lacks \"%s\"",
			      v->kernel, v->bits, c.missing, v->missing[i]);
}
END_TEST

/* Each bit is read at its own offset, and only there. */
static const struct one_bit {
	unsigned int bits;
	size_t field;
} one_bits[] = {
	{ B_MIG, offsetof(struct vfiomig_mlx5_caps, migration) },
	{ B_MIGRATABLE, offsetof(struct vfiomig_mlx5_caps, migratable) },
	{ B_MULTI, offsetof(struct vfiomig_mlx5_caps, migration_multi_load) },
	{ B_TRACK, offsetof(struct vfiomig_mlx5_caps, migration_tracking_state) },
	{ B_CHUNKS, offsetof(struct vfiomig_mlx5_caps, migration_in_chunks) },
	{ B_STATE, offsetof(struct vfiomig_mlx5_caps, migration_state) },
};

START_TEST(test_one_bit)
{
	static const size_t fields[] = {
		offsetof(struct vfiomig_mlx5_caps, migration),
		offsetof(struct vfiomig_mlx5_caps, migratable),
		offsetof(struct vfiomig_mlx5_caps, migration_multi_load),
		offsetof(struct vfiomig_mlx5_caps, migration_tracking_state),
		offsetof(struct vfiomig_mlx5_caps, migration_in_chunks),
		offsetof(struct vfiomig_mlx5_caps, migration_state),
	};
	struct vfiomig_mlx5_caps c;

	ck_assert_int_eq(decode(one_bits[_i].bits, "6.12.0", &c), 0);
	for (size_t f = 0; f < ARRAY_SIZE(fields); f++) {
		int v = *(const int *)((const char *)&c + fields[f]);

		ck_assert_int_eq(v, fields[f] == one_bits[_i].field);
	}
}
END_TEST

/* The neighbours of every bit set, the bits themselves clear: all read 0. */
START_TEST(test_neighbours)
{
	static const unsigned int cap2_bits[] = {
		MIGRATABLE, MULTI_LOAD, TRACKING_STATE, IN_CHUNKS, MIG_STATE,
	};
	static struct layouts l;
	struct vfiomig_mlx5_caps c = { .sz = sizeof(c) };

	memset(&l, 0, sizeof(l));
	set_bit(l.cap, MIGRATION - 1);
	set_bit(l.cap, MIGRATION + 1);
	for (size_t i = 0; i < ARRAY_SIZE(cap2_bits); i++) {
		set_bit(l.cap2, cap2_bits[i] - 1);
		set_bit(l.cap2, cap2_bits[i] + 1);
	}
	/* 0xc8 and 0xc9 are neighbours of each other: leave those two out. */
	l.cap2[MULTI_LOAD / 8] &= (uint8_t)~(0x80 >> (MULTI_LOAD % 8));
	l.cap2[TRACKING_STATE / 8] &= (uint8_t)~(0x80 >> (TRACKING_STATE % 8));
	ck_assert_int_eq(vfiomig_mlx5_caps_decode(l.cap, CAP_LEN, l.cap2, CAP_LEN, "6.12", &c), 0);
	ck_assert_int_eq(c.migration, 0);
	ck_assert_int_eq(c.migratable, 0);
	ck_assert_int_eq(c.migration_multi_load, 0);
	ck_assert_int_eq(c.migration_tracking_state, 0);
	ck_assert_int_eq(c.migration_in_chunks, 0);
	ck_assert_int_eq(c.migration_state, 0);
	ck_assert_int_eq(c.offered, 0);
}
END_TEST

START_TEST(test_kernel_release)
{
	struct vfiomig_mlx5_caps c;

	ck_assert_int_eq(decode(B_ALL, "6.12.48+deb13-amd64", &c), 0);
	ck_assert_uint_eq(c.kernel_major, 6);
	ck_assert_uint_eq(c.kernel_minor, 12);
	ck_assert_int_eq(decode(B_ALL, "7.1", &c), 0);
	ck_assert_uint_eq(c.kernel_major, 7);
	ck_assert_uint_eq(c.kernel_minor, 1);
}
END_TEST

/* Too short, missing or malformed input: -EINVAL, and @ret untouched. */
START_TEST(test_bad_input)
{
	static struct layouts l;
	struct vfiomig_mlx5_caps c;

	build(&l, B_ALL);
	memset(&c, 0x5a, sizeof(c));
	c.sz = sizeof(c);
	/* the shortest that hold every bit: 0x68d / 8 + 1 and 0xd9 / 8 + 1 */
	ck_assert_int_eq(vfiomig_mlx5_caps_decode(l.cap, 210, l.cap2, 28, "6.12", &c), 0);
	ck_assert_int_eq(c.reinit, 0);
	ck_assert_int_eq(c.offered, 1);
	memset(&c, 0x5a, sizeof(c));
	c.sz = sizeof(c);
	ck_assert_int_eq(vfiomig_mlx5_caps_decode(l.cap, 209, l.cap2, 28, "6.12", &c), -EINVAL);
	ck_assert_int_eq(vfiomig_mlx5_caps_decode(l.cap, 210, l.cap2, 27, "6.12", &c), -EINVAL);
	ck_assert_int_eq(vfiomig_mlx5_caps_decode(l.cap, 0, l.cap2, 28, "6.12", &c), -EINVAL);
	ck_assert_int_eq(vfiomig_mlx5_caps_decode(NULL, 210, l.cap2, 28, "6.12", &c), -EINVAL);
	ck_assert_int_eq(vfiomig_mlx5_caps_decode(l.cap, 210, NULL, 28, "6.12", &c), -EINVAL);
	ck_assert_int_eq(vfiomig_mlx5_caps_decode(l.cap, 210, l.cap2, 28, NULL, &c), -EINVAL);
	ck_assert_int_eq(vfiomig_mlx5_caps_decode(l.cap, 210, l.cap2, 28, "", &c), -EINVAL);
	ck_assert_int_eq(vfiomig_mlx5_caps_decode(l.cap, 210, l.cap2, 28, "linux", &c), -EINVAL);
	ck_assert_int_eq(vfiomig_mlx5_caps_decode(l.cap, 210, l.cap2, 28, "6", &c), -EINVAL);
	ck_assert_int_eq(vfiomig_mlx5_caps_decode(l.cap, 210, l.cap2, 28, "6.12", NULL), -EINVAL);
	ck_assert_int_eq(c.offered, 0x5a5a5a5a);
	c.sz = 0;
	ck_assert_int_eq(vfiomig_mlx5_caps_decode(l.cap, 210, l.cap2, 28, "6.12", &c), -EINVAL);
	ck_assert_int_eq(c.offered, 0x5a5a5a5a);
}
END_TEST

/* An older caller's shorter struct is filled up to its sz, no further. */
START_TEST(test_sized)
{
	static struct layouts l;
	struct vfiomig_mlx5_caps c;
	size_t old = offsetof(struct vfiomig_mlx5_caps, kernel_major);

	build(&l, B_ALL);
	memset(&c, 0x5a, sizeof(c));
	c.sz = old;
	ck_assert_int_eq(vfiomig_mlx5_caps_decode(l.cap, CAP_LEN, l.cap2, CAP_LEN, "7.1", &c), 0);
	ck_assert_uint_eq(c.sz, old);
	ck_assert_int_eq(c.migration_state, 1);
	ck_assert_int_eq(c.offered, 0x5a5a5a5a);
}
END_TEST

START_TEST(test_query_refused)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_mlx5_caps c = { .sz = sizeof(c) };
	int r;

	ck_assert_int_eq(vfiomig_ctx_new(&ctx), 0);
	ck_assert_int_eq(vfiomig_mlx5_caps_query(ctx, NULL, &c), -EINVAL);
	r = vfiomig_mlx5_caps_query(ctx, "0000:ff:1f.7", &c);
#ifdef HAVE_MLX5
	ck_assert_int_eq(r, -ENODEV);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "no such PCI device"));
#else
	ck_assert_int_eq(r, -EOPNOTSUPP);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "-Dmlx5=enabled"));
#endif
	ck_assert_int_eq(vfiomig_mlx5_caps_query(NULL, "0000:ff:1f.7", &c), -EINVAL);
	vfiomig_ctx_unref(ctx);
}
END_TEST

static Suite *mlx5_caps_suite(void)
{
	Suite *s = suite_create("mlx5-caps");
	TCase *tc = tcase_create("verdict");

	tcase_add_loop_test(tc, test_verdict, 0, ARRAY_SIZE(verdicts));
	suite_add_tcase(s, tc);
	tc = tcase_create("bits");
	tcase_add_loop_test(tc, test_one_bit, 0, ARRAY_SIZE(one_bits));
	tcase_add_test(tc, test_neighbours);
	tcase_add_test(tc, test_kernel_release);
	suite_add_tcase(s, tc);
	tc = tcase_create("input");
	tcase_add_test(tc, test_bad_input);
	tcase_add_test(tc, test_sized);
	tcase_add_test(tc, test_query_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(mlx5_caps_suite());
}
