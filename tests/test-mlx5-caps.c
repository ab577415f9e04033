/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for the mlx5 firmware capability diagnostics (vfiomig/mlx5.h).
 *
 * The inputs are QUERY_HCA_CAP capability layouts built by hand, with the
 * bit offsets of ../shared/reference/vfio-migration-uapi.md section 5.1
 * (cmd_hca_cap.migration 0x68d; cmd_hca_cap_2 migratable 0x80,
 * migration_multi_load 0xc8, migration_tracking_state 0xc9,
 * migration_in_chunks 0xd0, migration_state 0xd9), and for the dirty
 * tracking, which the reference gives no offsets for, those of the kernel's
 * include/linux/mlx5/mlx5_ifc.h (Linux 6.12): cmd_hca_cap.adv_virtualization
 * 0x579, and the adv_virtualization_cap fields (pg_track_log_max_num
 * [0x03,5], pg_track_max_num_range [0x08,8], pg_track_log_min_addr_space
 * [0x10,8], pg_track_log_max_addr_space [0x18,8], pg_track_log_min_msg_size
 * [0x23,5], pg_track_log_max_msg_size [0x2b,5], pg_track_log_min_page_size
 * [0x33,5], pg_track_log_max_page_size [0x3b,5]).  Bits are set the way
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
#define ADV_VIRT	0x579

/* Which bits a case sets. */
#define B_MIG		(1u << 0)
#define B_MIGRATABLE	(1u << 1)
#define B_MULTI		(1u << 2)
#define B_TRACK		(1u << 3)
#define B_CHUNKS	(1u << 4)
#define B_STATE		(1u << 5)
#define B_NO_CAP2	(1u << 6)	/* the firmware has no cap_2 */
#define B_ADV		(1u << 7)
#define B_ALL		(B_MIG | B_MIGRATABLE | B_MULTI | B_TRACK | B_CHUNKS | B_STATE | B_ADV)

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

/* A @width-bit field at bit @off, the way MLX5_SET does it (within one
 * big-endian 32-bit word). */
static void set_field(uint8_t *layout, unsigned int off, unsigned int width, uint32_t val)
{
	uint8_t *w = layout + off / 32 * 4;
	uint32_t v = (uint32_t)w[0] << 24 | (uint32_t)w[1] << 16 | (uint32_t)w[2] << 8 | w[3];
	unsigned int shift = 32 - off % 32 - width;
	uint32_t mask = (width == 32 ? ~0u : (1u << width) - 1) << shift;

	v = (v & ~mask) | (val << shift & mask);
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
	if (bits & B_ADV)
		set_bit(l->cap, ADV_VIRT);
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

/* Dirty tracking: mlx5_vfio_pci's log_ops, with migration, 6.1+, adv_virtualization. */
static const struct dirty {
	const char *kernel;
	unsigned int bits;
	int dirty_tracking;
	const char *has;	/* a substring @missing must have; "" for an empty @missing */
	const char *lacks;	/* one it must not have, or NULL */
} dirties[] = {
	{ "7.1.0", B_ALL, 1, "", NULL },
	{ "6.12.0", B_ALL, 1, "REINIT needs Linux 7.1", "adv_virtualization" },
	{ "6.12.0", B_ALL & ~B_ADV, 0, "cmd_hca_cap.adv_virtualization is clear: no dirty tracking",
	  NULL },
	{ "7.1.0", B_ALL & ~B_ADV, 0, "adv_virtualization is clear", NULL },
	{ "6.1.0", B_MIG | B_ADV | B_NO_CAP2, 1, "PRE_COPY needs Linux 6.2", "DMA_LOGGING" },
	{ "6.1.0", B_MIG | B_NO_CAP2, 0, "adv_virtualization is clear", NULL },
	{ "6.0.0", B_MIG | B_ADV | B_NO_CAP2, 0, "dirty tracking (DMA_LOGGING) needs Linux 6.1",
	  "adv_virtualization" },
	{ "5.18.0", B_ALL, 0, "needs Linux 6.1", NULL },
	/* no migration, no log_ops: adv_virtualization is not what is missing */
	{ "6.12.0", B_ALL & ~B_MIGRATABLE, 0, "migratable", "adv_virtualization" },
	{ "6.12.0", B_ALL & ~B_MIG & ~B_ADV, 0, "VF_MIGRATION_MODE", "adv_virtualization" },
	{ "6.9.0", B_MIG | B_MIGRATABLE | B_ADV, 0, "Linux 6.9+ offers no migration", "DMA_LOGGING" },
	{ "5.17.0", B_ALL, 0, "Linux 5.18", "DMA_LOGGING" },
};

START_TEST(test_dirty_tracking)
{
	const struct dirty *d = &dirties[_i];
	struct vfiomig_mlx5_caps c;

	ck_assert_int_eq(decode(d->bits, d->kernel, &c), 0);
	ck_assert_int_eq(c.adv_virtualization, !!(d->bits & B_ADV));
	ck_assert_msg(c.dirty_tracking == d->dirty_tracking, "%s bits %#x: dirty_tracking %d (%s)",
		      d->kernel, d->bits, c.dirty_tracking, c.missing);
	if (d->has[0] == '\0')
		ck_assert_msg(c.missing[0] == '\0', "%s: unexpected \"%s\"", d->kernel, c.missing);
	ck_assert_msg(strstr(c.missing, d->has), "%s bits %#x: \"%s\" lacks \"%s\"",
		      d->kernel, d->bits, c.missing, d->has);
	if (d->lacks)
		ck_assert_msg(!strstr(c.missing, d->lacks), "%s bits %#x: \"%s\" has \"%s\"",
			      d->kernel, d->bits, c.missing, d->lacks);
	/* vfiomig_mlx5_caps_decode() alone reads no limits */
	ck_assert_int_eq(c.pg_track_max_num_range, -1);
	ck_assert_int_eq(c.pg_track_log_max_page_size, -1);
}
END_TEST

/* The adv_virtualization_cap fields, as mlx5_ifc.h lays them out. */
static const struct adv_field {
	unsigned int off, width;
	size_t field;
} adv_fields[] = {
	{ 0x03, 5, offsetof(struct vfiomig_mlx5_caps, pg_track_log_max_num) },
	{ 0x08, 8, offsetof(struct vfiomig_mlx5_caps, pg_track_max_num_range) },
	{ 0x10, 8, offsetof(struct vfiomig_mlx5_caps, pg_track_log_min_addr_space) },
	{ 0x18, 8, offsetof(struct vfiomig_mlx5_caps, pg_track_log_max_addr_space) },
	{ 0x23, 5, offsetof(struct vfiomig_mlx5_caps, pg_track_log_min_msg_size) },
	{ 0x2b, 5, offsetof(struct vfiomig_mlx5_caps, pg_track_log_max_msg_size) },
	{ 0x33, 5, offsetof(struct vfiomig_mlx5_caps, pg_track_log_min_page_size) },
	{ 0x3b, 5, offsetof(struct vfiomig_mlx5_caps, pg_track_log_max_page_size) },
};

static int caps_int(const struct vfiomig_mlx5_caps *c, size_t field)
{
	return *(const int *)((const char *)c + field);
}

/* Realistic limits, each field its own value. */
START_TEST(test_adv_limits)
{
	static uint8_t adv[CAP_LEN];
	struct vfiomig_mlx5_caps c, before;

	memset(adv, 0, sizeof(adv));
	set_field(adv, 0x03, 5, 3);	/* pg_track_log_max_num */
	set_field(adv, 0x08, 8, 16);	/* pg_track_max_num_range */
	set_field(adv, 0x10, 8, 12);	/* pg_track_log_min_addr_space */
	set_field(adv, 0x18, 8, 48);	/* pg_track_log_max_addr_space */
	set_field(adv, 0x23, 5, 6);	/* pg_track_log_min_msg_size */
	set_field(adv, 0x2b, 5, 21);	/* pg_track_log_max_msg_size */
	set_field(adv, 0x33, 5, 12);	/* pg_track_log_min_page_size */
	set_field(adv, 0x3b, 5, 30);	/* pg_track_log_max_page_size */
	ck_assert_int_eq(decode(B_ALL, "7.1.0", &c), 0);
	memcpy(&before, &c, sizeof(c));
	ck_assert_int_eq(vfiomig_mlx5_caps_decode_adv_virtualization(adv, CAP_LEN, &c), 0);
	ck_assert_int_eq(c.pg_track_log_max_num, 3);
	ck_assert_int_eq(c.pg_track_max_num_range, 16);
	ck_assert_int_eq(c.pg_track_log_min_addr_space, 12);
	ck_assert_int_eq(c.pg_track_log_max_addr_space, 48);
	ck_assert_int_eq(c.pg_track_log_min_msg_size, 6);
	ck_assert_int_eq(c.pg_track_log_max_msg_size, 21);
	ck_assert_int_eq(c.pg_track_log_min_page_size, 12);
	ck_assert_int_eq(c.pg_track_log_max_page_size, 30);
	/* nothing but the limits changes */
	ck_assert_int_eq(memcmp(&c, &before, offsetof(struct vfiomig_mlx5_caps,
						      pg_track_log_max_num)), 0);
	/* the shortest layout that holds them */
	ck_assert_int_eq(vfiomig_mlx5_caps_decode_adv_virtualization(adv, 8, &c), 0);
	ck_assert_int_eq(c.pg_track_log_max_page_size, 30);
}
END_TEST

/* Each field all ones, the rest clear: read at its offset, in its width only. */
START_TEST(test_adv_one_field)
{
	static uint8_t adv[CAP_LEN];
	const struct adv_field *f = &adv_fields[_i];
	struct vfiomig_mlx5_caps c;

	memset(adv, 0, sizeof(adv));
	set_field(adv, f->off, f->width, (1u << f->width) - 1);
	ck_assert_int_eq(decode(B_ALL, "6.12.0", &c), 0);
	ck_assert_int_eq(vfiomig_mlx5_caps_decode_adv_virtualization(adv, CAP_LEN, &c), 0);
	for (size_t i = 0; i < ARRAY_SIZE(adv_fields); i++)
		ck_assert_int_eq(caps_int(&c, adv_fields[i].field),
				 i == (size_t)_i ? (int)(1u << f->width) - 1 : 0);
}
END_TEST

/* The reserved bits between the fields, and all after bit 0x3f, set: all read 0. */
START_TEST(test_adv_reserved)
{
	static uint8_t adv[CAP_LEN];
	static const unsigned int reserved[] = { 0x00, 0x20, 0x28, 0x30, 0x38 };
	struct vfiomig_mlx5_caps c;

	memset(adv, 0xff, sizeof(adv));
	memset(adv, 0, 8);
	for (size_t i = 0; i < ARRAY_SIZE(reserved); i++)
		set_field(adv, reserved[i], 3, 7);
	ck_assert_int_eq(decode(B_ALL, "6.12.0", &c), 0);
	ck_assert_int_eq(vfiomig_mlx5_caps_decode_adv_virtualization(adv, CAP_LEN, &c), 0);
	for (size_t i = 0; i < ARRAY_SIZE(adv_fields); i++)
		ck_assert_int_eq(caps_int(&c, adv_fields[i].field), 0);
}
END_TEST

/* Refused: -EINVAL, @caps untouched. */
START_TEST(test_adv_bad_input)
{
	static uint8_t adv[CAP_LEN];
	struct vfiomig_mlx5_caps c;

	memset(adv, 0xff, sizeof(adv));
	ck_assert_int_eq(decode(B_ALL, "6.12.0", &c), 0);
	ck_assert_int_eq(vfiomig_mlx5_caps_decode_adv_virtualization(NULL, 8, &c), -EINVAL);
	ck_assert_int_eq(vfiomig_mlx5_caps_decode_adv_virtualization(adv, 7, &c), -EINVAL);
	ck_assert_int_eq(vfiomig_mlx5_caps_decode_adv_virtualization(adv, 8, NULL), -EINVAL);
	c.sz = offsetof(struct vfiomig_mlx5_caps, pg_track_log_max_page_size);
	ck_assert_int_eq(vfiomig_mlx5_caps_decode_adv_virtualization(adv, 8, &c), -EINVAL);
	c.sz = sizeof(c);
	ck_assert_int_eq(c.pg_track_max_num_range, -1);
	/* without adv_virtualization the firmware has no such capability */
	ck_assert_int_eq(decode(B_ALL & ~B_ADV, "6.12.0", &c), 0);
	ck_assert_int_eq(vfiomig_mlx5_caps_decode_adv_virtualization(adv, 8, &c), -EINVAL);
	ck_assert_int_eq(c.pg_track_max_num_range, -1);
	c.adv_virtualization = -1;
	ck_assert_int_eq(vfiomig_mlx5_caps_decode_adv_virtualization(adv, 8, &c), -EINVAL);
	ck_assert_int_eq(c.pg_track_log_max_page_size, -1);
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
	{ B_ADV, offsetof(struct vfiomig_mlx5_caps, adv_virtualization) },
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
		offsetof(struct vfiomig_mlx5_caps, adv_virtualization),
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
	set_bit(l.cap, ADV_VIRT - 1);
	set_bit(l.cap, ADV_VIRT + 1);
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
	ck_assert_int_eq(c.adv_virtualization, 0);
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

	/* A caller from before the dirty-tracking fields: up to @missing. */
	old = offsetof(struct vfiomig_mlx5_caps, adv_virtualization);
	memset(&c, 0x5a, sizeof(c));
	c.sz = old;
	ck_assert_int_eq(vfiomig_mlx5_caps_decode(l.cap, CAP_LEN, l.cap2, CAP_LEN, "7.1", &c), 0);
	ck_assert_uint_eq(c.sz, old);
	ck_assert_int_eq(c.offered, 1);
	ck_assert_int_eq(c.missing[0], '\0');
	ck_assert_int_eq(c.adv_virtualization, 0x5a5a5a5a);
	ck_assert_int_eq(c.dirty_tracking, 0x5a5a5a5a);
}
END_TEST

START_TEST(test_query_refused)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_mlx5_caps c = { .sz = sizeof(c) };
	int r;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
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
	tcase_add_loop_test(tc, test_dirty_tracking, 0, ARRAY_SIZE(dirties));
	suite_add_tcase(s, tc);
	tc = tcase_create("adv_virtualization");
	tcase_add_test(tc, test_adv_limits);
	tcase_add_loop_test(tc, test_adv_one_field, 0, ARRAY_SIZE(adv_fields));
	tcase_add_test(tc, test_adv_reserved);
	tcase_add_test(tc, test_adv_bad_input);
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
