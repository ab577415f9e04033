// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The mock's DMA logging (mock/mock-dirty.c), driven through the raw
 * VFIO_DEVICE_FEATURE ioctls as the kernel receives them, never through
 * lib/dirty/dirty.c: the core's checks, mlx5's tracker (one session, the page
 * size clamp, merging, the span rule, read-and-clear), mtty's dummy, and
 * the device's own DMA (vfiomig_mock_dma(), dirtyrate=, dmafd=).  Bitmaps
 * are compared with words worked out by hand from iova_bitmap's order:
 * bit n is iova + n * page_size, in u64 word n / 64, bit n % 64.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <endian.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "test-mock.h"
#include "test-guest.h"

#define LSTART VFIO_DEVICE_FEATURE_DMA_LOGGING_START
#define LSTOP VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP
#define LREPORT VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT
#define K4 0x1000ull
#define M1 (1ull << 20)
#define M2 (2ull << 20)
#define G1 (1ull << 30)

typedef struct vfio_device_feature_dma_logging_range lrange;

/* START with @n ranges; @page_size in, and as the device copied it back, out. */
static int log_start(struct vfiomig_dev *dev, const lrange *r, uint32_t n,
		     uint64_t *page_size)
{
	struct vfio_device_feature_dma_logging_control c = {
		.page_size = *page_size, .num_ranges = n, .ranges = (uintptr_t)r,
	};
	int e = feature(dev, FSET | LSTART, &c, sizeof(c));

	*page_size = c.page_size;
	return e;
}

/* START of one range at 4 KiB pages. */
static int start1(struct vfiomig_dev *dev, uint64_t iova, uint64_t len)
{
	lrange r = { iova, len };
	uint64_t ps = K4;

	return log_start(dev, &r, 1, &ps);
}

static int log_stop(struct vfiomig_dev *dev)
{
	return feature_raw(dev, 8, FSET | LSTOP, NULL, 0);
}

static int log_report(struct vfiomig_dev *dev, uint64_t iova, uint64_t len,
		      uint64_t page_size, uint64_t *bitmap)
{
	struct vfio_device_feature_dma_logging_report rep = {
		.iova = iova, .length = len, .page_size = page_size,
		.bitmap = (uintptr_t)bitmap,
	};

	return feature(dev, FGET | LREPORT, &rep, sizeof(rep));
}

static struct mock_dirty_view view(struct vfiomig_dev *dev)
{
	struct mock_dirty_view v;

	ck_assert_int_eq(vfiomig_mock_dirty_state(dev, &v), 0);
	return v;
}

static void dma(struct vfiomig_dev *dev, uint64_t iova, uint64_t len)
{
	int e = vfiomig_mock_dma(dev, iova, len);

	ck_assert_msg(e == 0, "dma at 0x%llx: %d", (unsigned long long)iova, e);
}

static uint64_t popcount(const uint64_t *bm, size_t words)
{
	uint64_t n = 0;

	for (size_t i = 0; i < words; i++)
		n += (uint64_t)__builtin_popcountll(bm[i]);
	return n;
}

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* ---- which log_ops the device has ---- */

START_TEST(test_no_log_ops)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "n,dirtylog=0");
	uint64_t bm[1] = { 0 }, ps = K4;
	lrange r = { 0, M1 };

	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FSET | LSTART, NULL, 0), -ENOTTY);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FGET | LREPORT, NULL, 0), -ENOTTY);
	ck_assert_int_eq(log_start(dev, &r, 1, &ps), -ENOTTY);
	ck_assert_int_eq(log_report(dev, 0, M1, K4, bm), -ENOTTY);
	ck_assert_int_eq(log_stop(dev), -ENOTTY);
	/* the device still DMAs; nothing tracks it */
	dma(dev, 0, 8);
	ck_assert(!view(dev).active);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* mtty's stubs: the core's checks, then anything goes and nothing is reported. */
START_TEST(test_dummy)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "d,dirtylog=dummy");
	uint64_t bm[4], ps = 8192;
	lrange r = { 0, M1 };

	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FSET | LSTART, NULL, 0), 0);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FGET | LREPORT, NULL, 0), 0);
	ck_assert_int_eq(log_report(dev, 0, M1, K4, bm), 0);	/* no START needed */
	ck_assert_int_eq(log_start(dev, &r, 1, &ps), 0);
	ck_assert_uint_eq(ps, 8192);		/* copied back unchanged */
	ck_assert_int_eq(log_start(dev, &r, 1, &ps), 0);	/* a second one too */
	dma(dev, 0, 4 * K4);
	memset(bm, 0, sizeof(bm));
	ck_assert_int_eq(log_report(dev, 0, M1, K4, bm), 0);
	ck_assert_uint_eq(popcount(bm, 4), 0);
	ck_assert_int_eq(log_report(dev, 0, M1, 2048, bm), -EINVAL);	/* the core's */
	ck_assert_int_eq(log_stop(dev), 0);
	ck_assert_int_eq(log_stop(dev), 0);
	r.iova = 1;
	ck_assert_int_eq(log_start(dev, &r, 1, &ps), -EINVAL);	/* the core's */
	ck_assert(!view(dev).active);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- START ---- */

START_TEST(test_core_checks)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "c,dirtylog=1");
	static lrange r[300];
	uint64_t bm[1], ps = K4;

	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FSET | LSTART, NULL, 0), 0);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FGET | LSTART, NULL, 0), -EINVAL);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FSET | LSTOP, NULL, 0), 0);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FGET | LREPORT, NULL, 0), 0);
	for (unsigned int i = 0; i < 300; i++)
		r[i] = (lrange){ (uint64_t)i * M2, M1 };
	ck_assert_int_eq(log_start(dev, r, 0, &ps), -EINVAL);
	ck_assert_int_eq(log_start(dev, r, 257, &ps), -E2BIG);
	r[1].iova += 2048;		/* misaligned iova */
	ck_assert_int_eq(log_start(dev, r, 2, &ps), -EINVAL);
	r[1].iova -= 2048;
	r[1].length += 2048;		/* misaligned length */
	ck_assert_int_eq(log_start(dev, r, 2, &ps), -EINVAL);
	r[1].length = M2 + K4;		/* overlaps r[2] */
	ck_assert_int_eq(log_start(dev, r, 3, &ps), -EINVAL);
	r[1].length = M1;
	r[2] = (lrange){ UINT64_MAX - K4 + 1, 2 * K4 };	/* wraps */
	ck_assert_int_eq(log_start(dev, r, 3, &ps), -EOVERFLOW);
	r[2] = (lrange){ 2 * M2, M1 };
	ck_assert_int_eq(log_start(dev, NULL, 0, &ps), -EINVAL);
	{
		struct vfio_device_feature_dma_logging_control c = {
			.page_size = K4, .num_ranges = 1, .ranges = 0,
		};

		ck_assert_int_eq(feature(dev, FSET | LSTART, &c, sizeof(c)), -EFAULT);
	}
	ck_assert(!view(dev).active);
	ck_assert_uint_eq(ps, K4);
	/* 256 is the most, and without logranges= nothing is merged */
	ck_assert_int_eq(log_start(dev, r, 256, &ps), 0);
	ck_assert_uint_eq(view(dev).nranges, 256);
	ck_assert_uint_eq(view(dev).nrequested, 256);
	/* REPORT's own core checks come before the driver's */
	ck_assert_int_eq(log_report(dev, 0, M1, 2048, bm), -EINVAL);
	ck_assert_int_eq(log_report(dev, 0, M1, 3 * K4, bm), -EINVAL);
	ck_assert_int_eq(log_report(dev, UINT64_MAX - K4 + 1, 2 * K4, K4, bm), -EOVERFLOW);
	ck_assert_int_eq(log_report(dev, 0, M1, K4, NULL), -EFAULT);
	ck_assert_int_eq(feature_raw(dev, 8 + 31, FGET | LREPORT, bm, 8), -EINVAL);
	ck_assert_int_eq(log_stop(dev), 0);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* mlx5: one tracker a device; REPORT needs one; STOP never fails. */
START_TEST(test_one_session)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "o,dirtylog=1"), *other;
	uint64_t bm[4];

	ck_assert_int_eq(log_stop(dev), 0);		/* none active: 0 */
	ck_assert_int_eq(log_report(dev, 0, M1, K4, bm), -EINVAL);
	ck_assert_int_eq(start1(dev, 0, M1), 0);
	ck_assert(view(dev).active);
	ck_assert_int_eq(start1(dev, 0, M1), -EINVAL);
	ck_assert_int_eq(start1(dev, 4 * M1, M1), -EINVAL);
	/* the device's, not the handle's */
	ck_assert_int_eq(vfiomig_mock_adopt(ctx, vfiomig_dev_get_fd(dev), &other), 0);
	ck_assert_int_eq(start1(other, 0, M1), -EINVAL);
	ck_assert_int_eq(log_report(other, 0, M1, K4, bm), 0);
	ck_assert_int_eq(log_stop(other), 0);
	ck_assert(!view(dev).active);
	ck_assert_int_eq(log_stop(dev), 0);
	ck_assert_int_eq(log_report(dev, 0, M1, K4, bm), -EINVAL);
	ck_assert_int_eq(start1(dev, 0, M1), 0);
	/* the last handle's close ends it; one handle is not the last */
	vfiomig_dev_unref(dev);
	ck_assert(view(other).active);
	vfiomig_dev_unref(other);
	ck_assert_uint_eq(vfiomig_mock_count(ctx), 0);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* mlx5vf_start_page_tracker(): ilog2 of the size, clamped, copied back. */
START_TEST(test_page_clamp)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "p,dirtylog=1");
	lrange r = { 0, 4 * G1 };
	static const struct {
		uint64_t ask, want;
	} cases[] = {
		{ K4, K4 }, { 2048, K4 }, { 512, K4 }, { 16 * K4, 16 * K4 },
		{ 3 * K4, 2 * K4 },	/* not a power of two: ilog2 rounds down */
		{ M2, M2 }, { G1, G1 }, { 2 * G1, G1 }, { 4 * G1, G1 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t ps = cases[i].ask;

		r.length = cases[i].ask == 3 * K4 ? 3 * M1 : 4 * G1;
		ck_assert_int_eq(log_start(dev, &r, 1, &ps), 0);
		ck_assert_msg(ps == cases[i].want, "asked %llu: got %llu",
			      (unsigned long long)cases[i].ask, (unsigned long long)ps);
		ck_assert_uint_eq(view(dev).page_size, cases[i].want);
		ck_assert_int_eq(log_stop(dev), 0);
	}
	vfiomig_dev_unref(dev);

	dev = mock_open(ctx, "p,dirtylog=1,logpage=2M:2M");
	{
		uint64_t ps = K4;

		r.length = 4 * G1;
		ck_assert_int_eq(log_start(dev, &r, 1, &ps), 0);
		ck_assert_uint_eq(ps, M2);
		ck_assert_int_eq(log_stop(dev), 0);
	}
	vfiomig_dev_unref(dev);

	dev = mock_open(ctx, "p,dirtylog=1,logpage=8k:64K");
	{
		uint64_t ps = M1;

		ck_assert_int_eq(log_start(dev, &r, 1, &ps), 0);
		ck_assert_uint_eq(ps, 64 * 1024);
	}
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* vfio_combine_iova_ranges() beyond logranges=: smallest gap first, leftmost on a tie. */
START_TEST(test_merge)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "m,dirtylog=1,logranges=3");
	/* gaps: 1M, 7M, 1M, 87M; given out of order */
	lrange r[5] = {
		{ 12 * M1, M1 }, { 0, M1 }, { 100 * M1, M1 }, { 2 * M1, M1 }, { 10 * M1, M1 },
	};
	uint64_t ps = K4, bm[16];
	struct mock_dirty_view v;

	ck_assert_int_eq(log_start(dev, r, 5, &ps), 0);
	v = view(dev);
	ck_assert_uint_eq(v.nrequested, 5);
	ck_assert_uint_eq(v.nranges, 3);
	ck_assert_uint_eq(v.ranges[0].iova, 0);
	ck_assert_uint_eq(v.ranges[0].length, 3 * M1);
	ck_assert_uint_eq(v.ranges[1].iova, 10 * M1);
	ck_assert_uint_eq(v.ranges[1].length, 3 * M1);
	ck_assert_uint_eq(v.ranges[2].iova, 100 * M1);
	ck_assert_uint_eq(v.ranges[2].length, M1);
	/* the device writes only guest memory, the ranges asked for */
	ck_assert_int_eq(vfiomig_mock_dma(dev, M1, 8), -EINVAL);
	ck_assert_int_eq(vfiomig_mock_dma(dev, M1 - 8, 16), -EINVAL);
	dma(dev, 2 * M1, 8);
	memset(bm, 0, sizeof(bm));
	ck_assert_int_eq(log_report(dev, M1, 4 * M1, K4, bm), 0);
	ck_assert_uint_eq(bm[4], 1);	/* 2M is page 256 of a report from 1M */
	ck_assert_uint_eq(popcount(bm, 16), 1);
	ck_assert_int_eq(log_stop(dev), 0);
	vfiomig_dev_unref(dev);

	/* 1: the hull */
	dev = mock_open(ctx, "m,dirtylog=1,logranges=1");
	ck_assert_int_eq(log_start(dev, r, 5, &ps), 0);
	v = view(dev);
	ck_assert_uint_eq(v.nranges, 1);
	ck_assert_uint_eq(v.ranges[0].iova, 0);
	ck_assert_uint_eq(v.ranges[0].length, 101 * M1);
	ck_assert_int_eq(log_stop(dev), 0);
	/* as many as allowed: untouched */
	ck_assert_int_eq(log_start(dev, r + 2, 1, &ps), 0);
	ck_assert_uint_eq(view(dev).nranges, 1);
	ck_assert_uint_eq(view(dev).ranges[0].iova, 100 * M1);
	vfiomig_dev_unref(dev);

	/* adjacent ranges (gap 1 in the kernel's inclusive terms) go first */
	dev = mock_open(ctx, "m,dirtylog=1,logranges=2");
	{
		lrange a[3] = { { 0, M1 }, { 5 * M1, M1 }, { M1, M1 } };

		ck_assert_int_eq(log_start(dev, a, 3, &ps), 0);
		v = view(dev);
		ck_assert_uint_eq(v.nranges, 2);
		ck_assert_uint_eq(v.ranges[0].length, 2 * M1);
		ck_assert_uint_eq(v.ranges[1].iova, 5 * M1);
		/* a write across two adjacent requested ranges is inside guest memory */
		dma(dev, M1 - 8, 16);
	}
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* mlx5vf_create_tracker(): ilog2(roundup_pow_of_two(merged total)) within the caps. */
START_TEST(test_span)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "s,dirtylog=1,logspan=4M");
	lrange r[2] = { { 0, 2 * M1 }, { 8 * M1, 2 * M1 } };
	uint64_t ps = K4;

	ck_assert_int_eq(log_start(dev, r, 2, &ps), 0);	/* 4M exactly */
	ck_assert_int_eq(log_stop(dev), 0);
	r[1].length += K4;				/* rounds up to 8M */
	ck_assert_int_eq(log_start(dev, r, 2, &ps), -EOPNOTSUPP);
	ck_assert(!view(dev).active);
	vfiomig_dev_unref(dev);

	/* the rule is over the merged ranges: a hull is bigger than its parts */
	dev = mock_open(ctx, "s,dirtylog=1,logspan=4M,logranges=1");
	r[1].length = M1;
	ck_assert_int_eq(log_start(dev, r, 2, &ps), -EOPNOTSUPP);
	ck_assert_int_eq(log_start(dev, r, 1, &ps), 0);
	vfiomig_dev_unref(dev);

	/* and a minimum, as mlx5's log_min_addr_space */
	dev = mock_open(ctx, "s,dirtylog=1,logspan=1M:4T");
	ck_assert_int_eq(start1(dev, 0, 512 * 1024), -EOPNOTSUPP);
	ck_assert_int_eq(start1(dev, 0, 512 * 1024 + K4), 0);	/* rounds up to 1M */
	ck_assert_int_eq(log_stop(dev), 0);
	ck_assert_int_eq(start1(dev, 0, 4ull << 40), 0);
	ck_assert_int_eq(log_stop(dev), 0);
	ck_assert_int_eq(start1(dev, 0, (4ull << 40) + K4), -EOPNOTSUPP);
	vfiomig_dev_unref(dev);

	/* by default only the address space limits it */
	dev = mock_open(ctx, "s,dirtylog=1");
	ck_assert_int_eq(start1(dev, 0, UINT64_MAX - K4 + 1), 0);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- REPORT ---- */

START_TEST(test_bit_order)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "b,dirtylog=1");
	const uint64_t base = 0x40000000;
	uint64_t bm[4];

	ck_assert_int_eq(start1(dev, base, M1), 0);
	dma(dev, base, 8);
	dma(dev, base + K4 + 0xff8, 8);	/* the last word of page 1 */
	dma(dev, base + 63 * K4 + 100, 1);
	dma(dev, base + 64 * K4, 2 * K4);	/* pages 64 and 65 */
	ck_assert_uint_eq(view(dev).logged, 5);
	memset(bm, 0, sizeof(bm));
	ck_assert_int_eq(log_report(dev, base, M1, K4, bm), 0);
	ck_assert_uint_eq(bm[0], 0x8000000000000003ull);
	ck_assert_uint_eq(bm[1], 0x3ull);
	ck_assert_uint_eq(bm[2] | bm[3], 0);
	ck_assert_uint_eq(view(dev).logged, 0);
	/* read and clear: the second report is empty */
	memset(bm, 0, sizeof(bm));
	ck_assert_int_eq(log_report(dev, base, M1, K4, bm), 0);
	ck_assert_uint_eq(popcount(bm, 4), 0);

	/* only OR-ed in: the kernel never clears the user's bits */
	dma(dev, base + 4 * K4, 8);
	for (int i = 0; i < 4; i++)
		bm[i] = 0xf0f0f0f0f0f0f0f0ull;
	ck_assert_int_eq(log_report(dev, base, M1, K4, bm), 0);
	ck_assert_uint_eq(bm[0], 0xf0f0f0f0f0f0f0f0ull);	/* bit 4 was set already */
	dma(dev, base + 3 * K4, 8);
	ck_assert_int_eq(log_report(dev, base, M1, K4, bm), 0);
	ck_assert_uint_eq(bm[0], 0xf0f0f0f0f0f0f0f8ull);
	ck_assert_uint_eq(bm[1] & bm[2] & bm[3], 0xf0f0f0f0f0f0f0f0ull);

	/* a coarser report page: tracker pages 0, 1 make bit 0; 3 makes bit 1 */
	dma(dev, base, 8);
	dma(dev, base + K4, 8);
	dma(dev, base + 3 * K4, 8);
	memset(bm, 0, sizeof(bm));
	ck_assert_int_eq(log_report(dev, base, M1, 2 * K4, bm), 0);
	ck_assert_uint_eq(bm[0], 0x3);

	/* bit 0 is the report's iova, wherever it starts */
	dma(dev, base + 0x41000, 8);
	memset(bm, 0, sizeof(bm));
	ck_assert_int_eq(log_report(dev, base + 0x40000, 0x40000, K4, bm), 0);
	ck_assert_uint_eq(bm[0], 0x2);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* A 2 MiB tracker page reported in 4 KiB pages sets all 512 bits. */
START_TEST(test_coarse_tracker)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "t,dirtylog=1,logpage=2M:2M");
	static uint64_t bm[64];

	ck_assert_int_eq(start1(dev, 0, 8 * M2), 0);
	dma(dev, M2 + 8, 8);
	memset(bm, 0, sizeof(bm));
	ck_assert_int_eq(log_report(dev, 0, 8 * M2, K4, bm), 0);	/* 4096 bits */
	for (int w = 0; w < 64; w++)
		ck_assert_uint_eq(bm[w], w >= 8 && w < 16 ? UINT64_MAX : 0);
	ck_assert_uint_eq(view(dev).logged, 0);

	/* in the tracker's own pages: one bit */
	dma(dev, 7 * M2 + M1, 8);
	memset(bm, 0, sizeof(bm));
	ck_assert_int_eq(log_report(dev, 0, 8 * M2, M2, bm), 0);
	ck_assert_uint_eq(bm[0], 1ull << 7);

	/* a report over part of a tracker page: its bits, and it stays logged */
	dma(dev, 0, 8);
	memset(bm, 0, sizeof(bm));
	ck_assert_int_eq(log_report(dev, 0, M1, K4, bm), 0);
	ck_assert_uint_eq(popcount(bm, 64), 256);
	ck_assert_uint_eq(view(dev).logged, 1);
	memset(bm, 0, sizeof(bm));
	ck_assert_int_eq(log_report(dev, M1, M1, K4, bm), 0);
	ck_assert_uint_eq(popcount(bm, 64), 256);
	ck_assert_uint_eq(view(dev).logged, 1);
	memset(bm, 0, sizeof(bm));
	ck_assert_int_eq(log_report(dev, 0, M2, K4, bm), 0);
	ck_assert_uint_eq(popcount(bm, 64), 512);
	ck_assert_uint_eq(view(dev).logged, 0);

	/* a report elsewhere takes nothing */
	dma(dev, 3 * M2, 8);
	memset(bm, 0, sizeof(bm));
	ck_assert_int_eq(log_report(dev, 4 * M2, M2, K4, bm), 0);
	ck_assert_int_eq(log_report(dev, 1ull << 40, M2, K4, bm), 0);
	ck_assert_uint_eq(popcount(bm, 64), 0);
	ck_assert_uint_eq(view(dev).logged, 1);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* The top tracker page ends at 2^64: its bits still come. */
START_TEST(test_top_of_space)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "top,dirtylog=1,logpage=1G:1G");
	const uint64_t base = 0ull - G1, len = G1 - K4;
	static uint64_t bm[4096];

	ck_assert_int_eq(start1(dev, base, len), 0);
	dma(dev, base + len - 8, 8);
	ck_assert_int_eq(log_report(dev, base, len, K4, bm), 0);
	ck_assert_uint_eq(popcount(bm, 4096), len / K4);
	ck_assert_uint_eq(view(dev).logged, 1);	/* only partly reported */
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* More pages than the tracker holds: a sticky error, EIO until STOP. */
START_TEST(test_tracker_error)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "e,dirtylog=1");
	uint64_t bm[1] = { 0 };

	ck_assert_int_eq(start1(dev, 0, 8 * G1), 0);
	dma(dev, 0, (uint64_t)MOCK_DIRTY_MAX_PAGES * K4);	/* just fits */
	ck_assert(!view(dev).err);
	ck_assert_uint_eq(view(dev).logged, MOCK_DIRTY_MAX_PAGES);
	dma(dev, 4 * G1 + 8 * K4, 8);			/* one more */
	ck_assert(view(dev).err);
	ck_assert_int_eq(log_report(dev, 0, 64 * K4, K4, bm), -EIO);
	ck_assert_int_eq(log_report(dev, 0, 64 * K4, K4, bm), -EIO);
	ck_assert_uint_eq(bm[0], 0);
	ck_assert_int_eq(start1(dev, 0, M1), -EINVAL);	/* still active */
	ck_assert_int_eq(log_stop(dev), 0);
	ck_assert_int_eq(start1(dev, 0, M1), 0);
	ck_assert(!view(dev).err);
	ck_assert_int_eq(log_report(dev, 0, 64 * K4, K4, bm), 0);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- faults, reset ---- */

START_TEST(test_faults)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev;
	uint64_t bm[1] = { 0 };

	/* counted where the driver's op runs: after the core's checks */
	dev = mock_open(ctx, "f,dirtylog=1,fail=logstart:1:EIO");
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FSET | LSTART, NULL, 0), 0);
	ck_assert_int_eq(start1(dev, 0, 100), -EINVAL);
	ck_assert_int_eq(start1(dev, 0, M1), -EIO);
	ck_assert(!view(dev).active);
	ck_assert_int_eq(start1(dev, 0, M1), 0);
	vfiomig_dev_unref(dev);

	/* an EIO report clears nothing */
	dev = mock_open(ctx, "f,dirtylog=1,fail=logreport:2:ENOMEM");
	ck_assert_int_eq(log_report(dev, 0, M1, K4, bm), -EINVAL);	/* call 1 */
	ck_assert_int_eq(start1(dev, 0, M1), 0);
	dma(dev, 0, 8);
	ck_assert_int_eq(log_report(dev, 0, M1, K4, bm), -ENOMEM);
	ck_assert_uint_eq(bm[0], 0);
	ck_assert_int_eq(log_report(dev, 0, 64 * K4, K4, bm), 0);
	ck_assert_uint_eq(bm[0], 1);
	vfiomig_dev_unref(dev);

	/* a failed STOP leaves the tracker running */
	dev = mock_open(ctx, "f,dirtylog=1,fail=logstop:1:EIO");
	ck_assert_int_eq(start1(dev, 0, M1), 0);
	ck_assert_int_eq(log_stop(dev), -EIO);
	ck_assert(view(dev).active);
	ck_assert_int_eq(log_stop(dev), 0);
	ck_assert(!view(dev).active);
	vfiomig_dev_unref(dev);

	/* and in dummy mode too */
	dev = mock_open(ctx, "f,dirtylog=dummy,fail=logstop:1:EIO,fail=logstart:2:EBUSY");
	ck_assert_int_eq(start1(dev, 0, M1), 0);
	ck_assert_int_eq(start1(dev, 0, M1), -EBUSY);
	ck_assert_int_eq(log_stop(dev), -EIO);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* mlx5's tracker survives VFIO_DEVICE_RESET; the device keeps writing. */
START_TEST(test_reset_keeps_tracking)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "r,dirtylog=1");
	uint64_t bm[1] = { 0 };

	ck_assert_int_eq(start1(dev, 0, 64 * K4), 0);
	dma(dev, 2 * K4, 8);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_int_eq(get_state(dev), S(RUNNING));
	ck_assert(view(dev).active);
	dma(dev, 5 * K4, 8);
	ck_assert_int_eq(log_report(dev, 0, 64 * K4, K4, bm), 0);
	ck_assert_uint_eq(bm[0], (1ull << 2) | (1ull << 5));
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- the device's DMA ---- */

/* Only a running device writes: RUNNING, RUNNING_P2P, PRE_COPY, PRE_COPY_P2P. */
START_TEST(test_dma_states)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "s,dirtylog=1");
	static const struct {
		enum vfiomig_state s;
		int want;
	} cases[] = {
		{ S(RUNNING), 0 }, { S(RUNNING_P2P), 0 }, { S(PRE_COPY_P2P), 0 },
		{ S(PRE_COPY), 0 }, { S(RUNNING), 0 }, { S(STOP), -EPERM },
		{ S(STOP_COPY), -EPERM }, { S(STOP), -EPERM }, { S(RESUMING), -EPERM },
	};
	uint64_t bm[1] = { 0 }, want = 0;

	/* no session: the write happens, nothing logs it */
	dma(dev, 0, 8);
	ck_assert_uint_eq(view(dev).writes, 1);
	ck_assert_int_eq(start1(dev, 0, 64 * K4), 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int fd, e;

		ck_assert_int_eq(set_state(dev, cases[i].s, &fd), 0);
		if (fd >= 0)
			close(fd);
		e = vfiomig_mock_dma(dev, i * K4, 8);
		ck_assert_msg(e == cases[i].want, "%s: %d", vfiomig_state_str(cases[i].s), e);
		if (!e)
			want |= 1ull << i;
	}
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_int_eq(set_nofd(dev, S(ERROR)), -EINVAL);
	ck_assert_int_eq(log_report(dev, 0, 64 * K4, K4, bm), 0);
	ck_assert_uint_eq(bm[0], want);
	ck_assert_uint_eq(want, 0x1f);

	/* arguments */
	ck_assert_int_eq(vfiomig_mock_dma(dev, 0, 0), -EINVAL);
	ck_assert_int_eq(vfiomig_mock_dma(dev, UINT64_MAX - 7, 16), -EINVAL);
	ck_assert_int_eq(vfiomig_mock_dma(dev, 64 * K4, 8), -EINVAL);
	ck_assert_int_eq(vfiomig_mock_dma(dev, 64 * K4 - 8, 9), -EINVAL);
	ck_assert_int_eq(vfiomig_mock_dma(NULL, 0, 8), -EINVAL);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

static uint64_t word_at(int fd, uint64_t off)
{
	uint8_t b[8];
	uint64_t v = 0;

	ck_assert_int_eq(pread(fd, b, 8, (off_t)off), 8);
	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/* dmafd=: each word written carries a new sequence number, little-endian. */
START_TEST(test_dmafd)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	int fd = guest_memfd(64 * 1024);
	char spec[64];
	struct vfiomig_dev *dev;
	struct stat st;

	snprintf(spec, sizeof(spec), "g,dirtylog=1,dmafd=%d", fd);
	dev = mock_open(ctx, spec);
	ck_assert_int_eq(start1(dev, 0, M1), 0);
	dma(dev, 0x100, 16);			/* words 0x100, 0x108: 1, 2 */
	dma(dev, 0x2004, 1);			/* word 0x2000: 3 */
	dma(dev, 64 * 1024 - 8, 16);		/* 4 fits, 5 is past the end */
	dma(dev, 0x3000, 8);			/* 6 */
	ck_assert_uint_eq(word_at(fd, 0x100), 1);
	ck_assert_uint_eq(word_at(fd, 0x108), 2);
	ck_assert_uint_eq(word_at(fd, 0x110), 0);
	ck_assert_uint_eq(word_at(fd, 0x2000), 3);
	ck_assert_uint_eq(word_at(fd, 64 * 1024 - 8), 4);
	ck_assert_uint_eq(word_at(fd, 0x3000), 6);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, 64 * 1024);	/* never grown */
	ck_assert_uint_eq(view(dev).writes, 6);
	/* a bigger file takes the next writes past the old end */
	ck_assert_int_eq(ftruncate(fd, 128 * 1024), 0);
	dma(dev, 64 * 1024, 8);
	ck_assert_uint_eq(word_at(fd, 64 * 1024), 7);
	/* the mock has its own fd */
	vfiomig_dev_unref(dev);
	ck_assert_int_eq(fcntl(fd, F_GETFD), FD_CLOEXEC);
	close(fd);

	/* no such fd: a bad spec */
	{
		struct vfiomig_dev *d = NULL;
		int bad = guest_memfd(8);

		close(bad);
		snprintf(spec, sizeof(spec), "g,dirtylog=1,dmafd=%d", bad);
		ck_assert_int_eq(vfiomig_mock_open(ctx, spec, &d), -EINVAL);
		ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "dmafd="));
	}
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* dirtyrate=: about rate x time writes in the requested ranges, none while stopped. */
START_TEST(test_dirtyrate)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	const uint64_t size = 12 * M1;
	int fd = guest_memfd(size);
	char spec[80];
	struct vfiomig_dev *dev;
	lrange r[2] = { { 0, 4 * M1 }, { 8 * M1, 4 * M1 } };
	static uint64_t bm[48];
	uint64_t ps = K4, t0, t1, w, pages, *mem = malloc(size);

	ck_assert_ptr_nonnull(mem);
	snprintf(spec, sizeof(spec), "rate,dirtylog=1,dirtyrate=1000,dmafd=%d", fd);
	dev = mock_open(ctx, spec);
	usleep(50000);		/* no session: nothing to write */
	ck_assert_int_eq(get_state(dev), S(RUNNING));
	ck_assert_uint_eq(view(dev).writes, 0);
	t0 = mono_ns();
	ck_assert_int_eq(log_start(dev, r, 2, &ps), 0);
	usleep(200000);
	memset(bm, 0, sizeof(bm));
	ck_assert_int_eq(log_report(dev, 0, size, K4, bm), 0);
	t1 = mono_ns();
	w = view(dev).writes;
	ck_assert_msg(w >= 199 && w <= (t1 - t0) / 1000000 + 1, "%llu writes in %llu ms",
		      (unsigned long long)w, (unsigned long long)((t1 - t0) / 1000000));
	/* 2048 pages: about w^2 / 4096 writes share a page; allow thrice that */
	pages = popcount(bm, 48);
	ck_assert_msg(pages <= w && pages + 3 * w * w / 4096 >= w, "%llu pages of %llu writes",
		      (unsigned long long)pages, (unsigned long long)w);
	for (int i = 16; i < 32; i++)
		ck_assert_uint_eq(bm[i], 0);	/* the gap [4M, 8M) */
	/* every word in memory is one of the writes, on a page reported dirty */
	ck_assert_int_eq(pread(fd, mem, size, 0), (ssize_t)size);
	for (uint64_t i = 0; i < size / 8; i++) {
		uint64_t x = le64toh(mem[i]), n = i * 8 / K4;

		if (!x)
			continue;
		ck_assert_uint_le(x, w);
		ck_assert_msg(bm[n / 64] & (1ull << (n % 64)), "word at 0x%llx not reported",
			      (unsigned long long)(i * 8));
	}

	/* stopped: time passes, nothing is written */
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	ck_assert_int_eq(log_report(dev, 0, size, K4, bm), 0);
	w = view(dev).writes;
	usleep(200000);
	memset(bm, 0, sizeof(bm));
	ck_assert_int_eq(log_report(dev, 0, size, K4, bm), 0);
	ck_assert_uint_eq(popcount(bm, 48), 0);
	ck_assert_uint_eq(view(dev).writes, w);

	/* running again: writes again */
	ck_assert_int_eq(set_nofd(dev, S(RUNNING)), 0);
	usleep(100000);
	ck_assert_int_eq(log_report(dev, 0, size, K4, bm), 0);
	ck_assert_uint_ge(view(dev).writes - w, 99);
	ck_assert_uint_gt(popcount(bm, 48), 0);
	/* after STOP nothing is tracked, and nothing written */
	ck_assert_int_eq(log_stop(dev), 0);
	w = view(dev).writes;
	usleep(50000);
	ck_assert_int_eq(get_state(dev), S(RUNNING));
	ck_assert_uint_eq(view(dev).writes, w);
	vfiomig_dev_unref(dev);
	close(fd);
	free(mem);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* Where dirtyrate='s first write lands, for a mock named @name. */
static uint64_t first_write(struct vfiomig_ctx *ctx, const char *name)
{
	int fd = guest_memfd(M1);
	char spec[96];
	struct vfiomig_dev *dev;
	uint64_t *mem = malloc(M1), at = UINT64_MAX;

	ck_assert_ptr_nonnull(mem);
	snprintf(spec, sizeof(spec), "%s,dirtylog=1,dirtyrate=1000,dmafd=%d", name, fd);
	dev = mock_open(ctx, spec);
	ck_assert_int_eq(start1(dev, 0, M1), 0);
	while (view(dev).writes < 1)
		get_state(dev);	/* an op: the writes due land */
	ck_assert_int_eq(pread(fd, mem, M1, 0), (ssize_t)M1);
	for (uint64_t i = 0; i < M1 / 8; i++)
		if (le64toh(mem[i]) == 1)
			at = i * 8;
	vfiomig_dev_unref(dev);
	close(fd);
	free(mem);
	ck_assert_uint_ne(at, UINT64_MAX);
	return at;
}

/* The PRNG is seeded by the name: the same name writes the same addresses. */
START_TEST(test_dirtyrate_seeded)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	uint64_t a = first_write(ctx, "same");

	ck_assert_uint_eq(first_write(ctx, "same"), a);
	ck_assert_uint_ne(first_write(ctx, "other"), a);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- the spec ---- */

START_TEST(test_spec)
{
	static const char *const bad[] = {
		"dirtylog=2", "dirtylog=yes", "dirtyrate=10000001", "dirtyrate=1k",
		"dirtyrate=-1", "dmafd=-1", "dmafd=x", "dmafd=2147483648",
		"logranges=0", "logranges=257", "logranges=a",
		"logspan=2K", "logspan=5M", "logspan=1G:1M", "logspan=4X", "logspan=:4T",
		"logspan=1M:", "logpage=4K", "logpage=2K:1G", "logpage=4K:3M",
		"logpage=4K:1G:2G", "logspan=99999999999999999999", "logspan=16777216T",
		"fail=logfoo:1:EIO", "dirtylog=1,dirtylog=1", "logpage=4K:1G,logpage=4K:1G",
	};
	static const char *const good[] = {
		"dirtylog=DUMMY", "dirtylog=0", "dirtylog=1,dirtyrate=10000000",
		"logspan=4T", "logspan=1M:4T", "logspan=8388608T", "logpage=4k:2m",
		"logpage=4096:1073741824", "logranges=256", "logranges=1",
		"fail=logstart:1:EIO,fail=logreport:3:EIO,fail=logstop:1:ENODEV",
	};
	struct vfiomig_ctx *ctx = new_ctx(NULL);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct vfiomig_dev *dev = NULL;
		char spec[96];

		snprintf(spec, sizeof(spec), "x,%s", bad[i]);
		ck_assert_msg(vfiomig_mock_open(ctx, spec, &dev) == -EINVAL, "%s", spec);
		ck_assert_msg(strstr(vfiomig_ctx_get_error(ctx), "mock spec"), "%s: %s",
			      spec, vfiomig_ctx_get_error(ctx));
	}
	ck_assert_int_eq(vfiomig_mock_open(ctx, "x,fail=logfoo:1:EIO", &(struct vfiomig_dev *){ NULL }),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "logstart, logreport, logstop"));
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		char spec[96];

		snprintf(spec, sizeof(spec), "x,%s", good[i]);
		vfiomig_dev_unref(mock_open(ctx, spec));
	}
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- threads: DMA and reports from two threads (ThreadSanitizer) ---- */

struct writer {
	struct vfiomig_dev *dev;
	int errors;
};

static void *write_loop(void *arg)
{
	struct writer *w = arg;

	for (int i = 0; i < 2000; i++)
		if (vfiomig_mock_dma(w->dev, (uint64_t)(i % 256) * K4, 8))
			w->errors++;
	return NULL;
}

START_TEST(test_threads)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "th,dirtylog=1,dirtyrate=100000");
	struct writer w = { .dev = dev };
	uint64_t bm[4], seen[4] = { 0 };
	pthread_t th;

	ck_assert_int_eq(start1(dev, 0, M1), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, write_loop, &w), 0);
	for (int i = 0; i < 200; i++) {
		memset(bm, 0, sizeof(bm));
		ck_assert_int_eq(log_report(dev, 0, M1, K4, bm), 0);
		for (int k = 0; k < 4; k++)
			seen[k] |= bm[k];
	}
	pthread_join(th, NULL);
	ck_assert_int_eq(w.errors, 0);
	memset(bm, 0, sizeof(bm));
	ck_assert_int_eq(log_report(dev, 0, M1, K4, bm), 0);
	for (int k = 0; k < 4; k++)
		ck_assert_uint_eq(seen[k] | bm[k], UINT64_MAX);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mock-dirty");
	TCase *tc = tcase_create("modes");

	tcase_add_test(tc, test_no_log_ops);
	tcase_add_test(tc, test_dummy);
	tcase_add_test(tc, test_spec);
	suite_add_tcase(s, tc);

	tc = tcase_create("start");
	tcase_add_test(tc, test_core_checks);
	tcase_add_test(tc, test_one_session);
	tcase_add_test(tc, test_page_clamp);
	tcase_add_test(tc, test_merge);
	tcase_add_test(tc, test_span);
	suite_add_tcase(s, tc);

	tc = tcase_create("report");
	tcase_add_test(tc, test_bit_order);
	tcase_add_test(tc, test_coarse_tracker);
	tcase_add_test(tc, test_top_of_space);
	tcase_add_test(tc, test_tracker_error);
	tcase_add_test(tc, test_faults);
	tcase_add_test(tc, test_reset_keeps_tracking);
	suite_add_tcase(s, tc);

	tc = tcase_create("dma");
	tcase_add_test(tc, test_dma_states);
	tcase_add_test(tc, test_dmafd);
	tcase_add_test(tc, test_dirtyrate);
	tcase_add_test(tc, test_dirtyrate_seeded);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
