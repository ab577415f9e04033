// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Dirty-page tracking (vfiomig/dirty.h) on mock devices that track as mlx5
 * does (dirtylog=1).  The mock writes where a test tells it to
 * (vfiomig_mock_dma), and the bitmaps are compared with words worked out by
 * hand from the kernel's bit order (docs/dirty-tracking.md).  Whether a
 * device is tracking is asked as the kernel would answer it: a START from
 * a second handle of the same fd fails with EINVAL while it is.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "test-util.h"
#include "mock.h"

#define S(x) VFIOMIG_STATE_##x
#define K4 0x1000ull
#define M1 (1ull << 20)
#define M2 (2ull << 20)
#define G1 (1ull << 30)

typedef struct vfiomig_iova_range range;

static struct vfiomig_ctx *ctx;

static void setup(void)
{
	ck_assert_int_eq(test_ctx_new(&ctx), 0);
}

static void teardown(void)
{
	vfiomig_ctx_unref(ctx);
}

static struct vfiomig_dirty_opts page_opts(uint64_t page_size)
{
	return (struct vfiomig_dirty_opts){ .sz = sizeof(struct vfiomig_dirty_opts),
					    .page_size = page_size };
}

static struct vfiomig_dirty *start(struct vfiomig_dev *dev, const range *r, size_t n,
				   uint64_t page_size)
{
	struct vfiomig_dirty_opts o = page_opts(page_size);
	struct vfiomig_dirty *d = NULL;
	int e = vfiomig_dirty_start(dev, r, n, &o, &d);

	ck_assert_msg(e == 0, "start: %d (%s)", e, vfiomig_ctx_get_error(ctx));
	return d;
}

static struct vfiomig_dirty_info info_of(const struct vfiomig_dirty *d)
{
	struct vfiomig_dirty_info in = { .sz = sizeof(in) };

	ck_assert_int_eq(vfiomig_dirty_get_info(d, &in), 0);
	return in;
}

static void dma(struct vfiomig_dev *dev, uint64_t iova, uint64_t len)
{
	int e = vfiomig_mock_dma(dev, iova, len);

	ck_assert_msg(e == 0, "dma at 0x%llx: %d", (unsigned long long)iova, e);
}

/* Whether the device tracks: a START from another handle of its fd says (EINVAL). */
static bool tracking(struct vfiomig_dev *dev)
{
	range r = { 0, K4 };
	struct vfiomig_dirty_opts o = page_opts(K4);
	struct vfiomig_dev *other;
	struct vfiomig_dirty *d = NULL;
	int e;

	ck_assert_int_eq(vfiomig_dev_adopt(ctx, vfiomig_dev_get_fd(dev), &other), 0);
	e = vfiomig_dirty_start(other, &r, 1, &o, &d);
	ck_assert_msg(e == 0 || e == -EINVAL, "probe START: %d", e);
	vfiomig_dirty_free(d);
	vfiomig_dev_unref(other);
	return e == -EINVAL;
}

/* ---- the bit order ---- */

/* docs/dirty-tracking.md's table: bit n of word n / 64 is iova + n * page. */
START_TEST(test_bit_order)
{
	struct vfiomig_dev *dev = open_dev(ctx, "mock:b,dirtylog=1");
	range r = { 0x100000, 0x80000 };
	struct vfiomig_dirty *d = start(dev, &r, 1, K4);
	uint64_t bm[2], dirty = 0;

	dma(dev, 0x100000, 8);
	dma(dev, 0x101ff8, 8);		/* the last word of page 1 */
	dma(dev, 0x13f000, 16);
	dma(dev, 0x140000, 1);
	memset(bm, 0xff, sizeof(bm));	/* the library zeroes it first */
	ck_assert_int_eq(vfiomig_dirty_report(d, 0x100000, 0x80000, bm, sizeof(bm), &dirty), 0);
	ck_assert_uint_eq(bm[0], 0x8000000000000003ull);
	ck_assert_uint_eq(bm[1], 0x1ull);
	ck_assert_uint_eq(dirty, 4);
	/* a report reads and clears */
	ck_assert_int_eq(vfiomig_dirty_report(d, 0x100000, 0x80000, bm, sizeof(bm), &dirty), 0);
	ck_assert_uint_eq(bm[0] | bm[1], 0);
	ck_assert_uint_eq(dirty, 0);
	vfiomig_dirty_free(d);
	vfiomig_dev_unref(dev);
}
END_TEST

/* A report of part of a range: bit 0 is the part's first page; the rest stays logged. */
START_TEST(test_partial_report)
{
	struct vfiomig_dev *dev = open_dev(ctx, "mock:p,dirtylog=1");
	range r = { 0, M1 };
	struct vfiomig_dirty *d = start(dev, &r, 1, K4);
	uint64_t bm[4], dirty = 0;

	dma(dev, 0x41000, 8);	/* page 65 of the range */
	dma(dev, 0x80000, 8);	/* page 128 */
	dma(dev, 0xff000, 8);	/* page 255, the last */
	ck_assert_int_eq(vfiomig_dirty_report(d, 0x40000, 0x40000, bm, 8, &dirty), 0);
	ck_assert_uint_eq(bm[0], 1ull << 1);	/* 0x41000 is page 1 of this report */
	ck_assert_uint_eq(dirty, 1);
	ck_assert_int_eq(vfiomig_dirty_report(d, 0, M1, bm, sizeof(bm), &dirty), 0);
	ck_assert_uint_eq(bm[0] | bm[1] | (bm[2] & ~1ull), 0);
	ck_assert_uint_eq(bm[2], 1);		/* page 128 */
	ck_assert_uint_eq(bm[3], 1ull << 63);	/* page 255 */
	ck_assert_uint_eq(dirty, 2);
	vfiomig_dirty_free(d);
	vfiomig_dev_unref(dev);
}
END_TEST

/* mlx5 clamps the page size; the session reports in the driver's pages. */
START_TEST(test_driver_page_size)
{
	struct vfiomig_dev *dev = open_dev(ctx, "mock:c,dirtylog=1,logpage=2M:1G");
	range r = { 0, 8 * M2 };
	struct vfiomig_dirty *d = start(dev, &r, 1, K4);
	uint64_t bm[1], dirty = 0;

	ck_assert_uint_eq(info_of(d).page_size, M2);
	dma(dev, M2 + 8, 8);
	dma(dev, 7 * M2 + M1, 8);
	ck_assert_int_eq(vfiomig_dirty_report(d, 0, 8 * M2, bm, sizeof(bm), &dirty), 0);
	ck_assert_uint_eq(bm[0], (1ull << 1) | (1ull << 7));
	ck_assert_uint_eq(dirty, 2);
	/* 4 KiB-aligned is not enough now */
	ck_assert_int_eq(vfiomig_dirty_report(d, K4, M2, bm, sizeof(bm), &dirty), -EINVAL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "not aligned"));
	vfiomig_dirty_free(d);
	vfiomig_dev_unref(dev);
}
END_TEST

/* ---- the range list ---- */

START_TEST(test_bad_list_untouched)
{
	struct vfiomig_dev *dev = open_dev(ctx, "mock:l,dirtylog=1");
	range twice[] = { { 0, 2 * K4 }, { K4, K4 } };
	range odd = { 0x800, K4 };
	struct vfiomig_dirty_opts o = page_opts(K4);
	struct vfiomig_dirty *d = NULL;

	ck_assert_int_eq(vfiomig_dirty_start(dev, twice, 2, &o, &d), -EINVAL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "overlap"));
	ck_assert_int_eq(vfiomig_dirty_start(dev, &odd, 1, &o, &d), -EINVAL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "range 0 (iova 0x800"));
	ck_assert_int_eq(vfiomig_dirty_start(dev, &odd, 0, &o, &d), -EINVAL);
	o.page_size = 3 * K4;
	ck_assert_int_eq(vfiomig_dirty_start(dev, &odd, 1, &o, &d), -EINVAL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "power of two"));
	ck_assert_ptr_null(d);
	ck_assert(!tracking(dev));
	vfiomig_dev_unref(dev);
}
END_TEST

/* More ranges than asked for: collapsed, tracked as such, and said to over-report. */
START_TEST(test_collapse)
{
	struct vfiomig_dev *dev = open_dev(ctx, "mock:m,dirtylog=1");
	range many[300];
	struct vfiomig_dirty_opts o = page_opts(K4);
	struct vfiomig_dirty_info in;
	struct vfiomig_dirty *d = NULL;
	uint64_t bm[16], dirty = 0;

	for (unsigned int i = 0; i < 300; i++)
		many[299 - i] = (range){ (uint64_t)i << 24, M1 };	/* given in reverse */
	many[0].iova = 1ull << 40;
	ck_assert_int_eq(vfiomig_dirty_start(dev, many, 300, &o, &d), 0);
	in = info_of(d);
	ck_assert_uint_eq(in.n_ranges, 3);
	ck_assert(in.over_reports);
	ck_assert_uint_eq(in.ranges[0].iova, 0);
	ck_assert_uint_eq(in.ranges[0].length, (255ull << 24) + M1);
	ck_assert_uint_eq(in.ranges[1].iova, 256ull << 24);
	ck_assert_uint_eq(in.ranges[1].length, (42ull << 24) + M1);
	ck_assert_uint_eq(in.ranges[2].iova, 1ull << 40);
	/* a report may span the gaps of a collapsed range */
	dma(dev, (1ull << 24) + 8, 8);
	ck_assert_int_eq(vfiomig_dirty_report(d, 0, 2ull << 24, bm, sizeof(bm), &dirty),
			 -EINVAL);	/* 8192 pages: the bitmap is too short */
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "8192 pages need 1024"));
	ck_assert_int_eq(vfiomig_dirty_report(d, 0, 4 * M1, bm, sizeof(bm), &dirty), 0);
	ck_assert_uint_eq(dirty, 0);	/* 1 MiB listed, 3 of the gap: nothing */
	ck_assert_int_eq(vfiomig_dirty_report(d, 1ull << 24, 4 * M1, bm, sizeof(bm), &dirty), 0);
	ck_assert_uint_eq(bm[0], 1);
	vfiomig_dirty_free(d);

	o.max_ranges = 5;
	for (unsigned int i = 0; i < 5; i++)
		many[i] = (range){ (uint64_t)i << 24, M1 };
	ck_assert_int_eq(vfiomig_dirty_start(dev, many, 5, &o, &d), 0);
	in = info_of(d);
	ck_assert_uint_eq(in.n_ranges, 5);
	ck_assert(!in.over_reports);
	vfiomig_dirty_free(d);
	o.max_ranges = 1;
	ck_assert_int_eq(vfiomig_dirty_start(dev, many, 5, &o, &d), 0);
	in = info_of(d);
	ck_assert_uint_eq(in.n_ranges, 1);
	ck_assert_uint_eq(in.ranges[0].length, (4ull << 24) + M1);
	ck_assert(in.over_reports);
	vfiomig_dirty_free(d);
	vfiomig_dev_unref(dev);
}
END_TEST

/* ---- the device's refusals ---- */

START_TEST(test_span_refused)
{
	struct vfiomig_dev *dev = open_dev(ctx, "mock:s,dirtylog=1,logspan=1G");
	range r = { 0, 2 * G1 }, ok = { 0, G1 };
	struct vfiomig_dirty_opts o = page_opts(K4);
	struct vfiomig_dirty *d = NULL;

	ck_assert_int_eq(vfiomig_dirty_start(dev, &r, 1, &o, &d), -EOPNOTSUPP);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "cannot track this address span"));
	ck_assert(!tracking(dev));
	d = start(dev, &ok, 1, K4);
	vfiomig_dirty_free(d);
	vfiomig_dev_unref(dev);
}
END_TEST

/*
 * A device without DMA logging (xe-vfio-pci has no log_ops) is tracked by
 * the IOMMU: AUTO without a HWPT to use says what it needs, naming the
 * driver; asking for the device's logging gets the device's answer.
 */
START_TEST(test_no_logging)
{
	struct vfiomig_dev *dev = open_dev(ctx, "mock:n,dirtylog=0,driver=xe-vfio-pci,"
					   "pci=8086:e20b");
	struct vfiomig_dirty_opts o = page_opts(K4);
	range r = { 0, M1 };
	struct vfiomig_dirty *d = NULL;

	ck_assert_int_eq(vfiomig_dirty_start(dev, &r, 1, NULL, &d), -ENOTTY);
	ck_assert_str_eq(vfiomig_ctx_get_error(ctx), "mock:n has no DMA logging (xe-vfio-pci "
			 "registers no log_ops), so its DMA can be tracked only by the IOMMU, which "
			 "needs a HWPT with dirty tracking: pass opts.iommufd and opts.hwpt_id (a "
			 "HWPT allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING, the device attached "
			 "to it), or open the device through its cdev (/dev/vfio/devices/vfioN) "
			 "with this library, which then allocates its own");
	o.mechanism = VFIOMIG_DIRTY_DEVICE;
	ck_assert_int_eq(vfiomig_dirty_start(dev, &r, 1, &o, &d), -ENOTTY);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "mock:n has no DMA logging (its "
				     "driver registers no log_ops"));
	ck_assert_ptr_null(d);
	vfiomig_dev_unref(dev);
}
END_TEST

/* IOMMU tracking needs the caller's iommufd and HWPT, and says what is wrong with them. */
START_TEST(test_iommu_refusals)
{
	struct vfiomig_dev *dev = open_dev(ctx, "mock:i");
	struct vfiomig_dirty_opts o = page_opts(K4);
	range r = { 0, M1 };
	struct vfiomig_dirty *d = NULL;
	int notiommu = memfd_create("not-an-iommufd", MFD_CLOEXEC);

	o.mechanism = VFIOMIG_DIRTY_IOMMU;
	/* a mock is bound to no iommufd of the library's: the caller must name one */
	ck_assert_int_eq(vfiomig_dirty_start(dev, &r, 1, &o, &d), -EINVAL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "needs opts.iommufd and opts.hwpt_id"));
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "no iommufd of its own"));
	o.iommufd = notiommu;
	ck_assert_int_eq(vfiomig_dirty_start(dev, &r, 1, &o, &d), -EINVAL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "go together"));
	o.hwpt_id = 7;
	ck_assert_int_eq(vfiomig_dirty_start(dev, &r, 1, &o, &d), -ENOTTY);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "is no iommufd"));
	/* AUTO picks the HWPT for a device without DMA logging */
	o.mechanism = VFIOMIG_DIRTY_AUTO;
	ck_assert_int_eq(vfiomig_dirty_start(dev, &r, 1, &o, &d), -ENOTTY);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "is no iommufd"));
	ck_assert_ptr_null(d);
	close(notiommu);
	vfiomig_dev_unref(dev);
}
END_TEST


/* One session per device: the library refuses its own handle, the device another's. */
START_TEST(test_one_session)
{
	struct vfiomig_dev *dev = open_dev(ctx, "mock:o,dirtylog=1"), *other;
	range r = { 0, M1 };
	struct vfiomig_dirty_opts o = page_opts(K4);
	struct vfiomig_dirty *d = start(dev, &r, 1, K4), *d2 = NULL;

	ck_assert_int_eq(vfiomig_dirty_start(dev, &r, 1, &o, &d2), -EBUSY);
	ck_assert_int_eq(vfiomig_dev_adopt(ctx, vfiomig_dev_get_fd(dev), &other), 0);
	ck_assert_int_eq(vfiomig_dirty_start(other, &r, 1, &o, &d2), -EINVAL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "may be tracking already"));
	ck_assert_int_eq(vfiomig_dirty_stop(d), 0);
	ck_assert(!tracking(dev));
	/* stopped: a new session on the same handle is fine */
	vfiomig_dirty_free(d);
	d = start(dev, &r, 1, K4);
	vfiomig_dirty_free(d);
	vfiomig_dev_unref(other);
	vfiomig_dev_unref(dev);
}
END_TEST

/* ---- failures report everything dirty ---- */

/*
 * The first @size bytes of @bm say pages 0 .. @pages - 1 dirty, and no page
 * past them: compared as memory, so that a word @size ends inside is judged
 * by the bytes the caller gave, in the host's byte order.
 */
static void check_all_dirty(const uint64_t *bm, size_t size, uint64_t pages)
{
	for (size_t w = 0; w * 8 < size; w++) {
		uint64_t want = pages >= (w + 1) * 64 ? UINT64_MAX :
				pages > w * 64 ? (1ull << (pages - w * 64)) - 1 : 0;
		size_t n = size - w * 8 < 8 ? size - w * 8 : 8;

		ck_assert_msg(!memcmp(&bm[w], &want, n), "word %zu: %#llx, want %#llx in its "
			      "first %zu bytes", w, (unsigned long long)bm[w],
			      (unsigned long long)want, n);
	}
}

START_TEST(test_error_all_dirty)
{
	struct vfiomig_dev *dev = open_dev(ctx, "mock:e,dirtylog=1,fail=logreport:1:EIO");
	range r = { 0, M1 };
	struct vfiomig_dirty *d = start(dev, &r, 1, K4);
	uint64_t bm[4], dirty = 0;

	dma(dev, 0, 8);
	memset(bm, 0, sizeof(bm));
	ck_assert_int_eq(vfiomig_dirty_report(d, 0, 100 * K4, bm, sizeof(bm), &dirty), -EIO);
	ck_assert_uint_eq(dirty, 100);
	check_all_dirty(bm, sizeof(bm), 100);
	/* the next one works, and the write is still there: an EIO cleared nothing */
	ck_assert_int_eq(vfiomig_dirty_report(d, 0, 100 * K4, bm, sizeof(bm), &dirty), 0);
	ck_assert_uint_eq(dirty, 1);
	ck_assert_uint_eq(bm[0], 1);
	/* outside the session, misaligned, a short bitmap: all dirty, as far as it goes */
	ck_assert_int_eq(vfiomig_dirty_report(d, M1, K4, bm, sizeof(bm), &dirty), -EINVAL);
	ck_assert_uint_eq(dirty, 1);
	check_all_dirty(bm, sizeof(bm), 1);
	ck_assert_int_eq(vfiomig_dirty_report(d, 0x800, 2 * K4, bm, sizeof(bm), &dirty), -EINVAL);
	ck_assert_uint_eq(dirty, 2);
	bm[2] = 0x5a;
	ck_assert_int_eq(vfiomig_dirty_report(d, 0, M1, bm, 16, &dirty), -EINVAL);
	ck_assert_uint_eq(dirty, 256);
	check_all_dirty(bm, 16, 128);
	ck_assert_uint_eq(bm[2], 0x5a);	/* past the caller's 16 bytes: untouched */
	ck_assert_int_eq(vfiomig_dirty_stop(d), 0);
	ck_assert_int_eq(vfiomig_dirty_report(d, 0, 64 * K4, bm, sizeof(bm), &dirty), -ESRCH);
	ck_assert_uint_eq(dirty, 64);
	check_all_dirty(bm, 8, 64);
	vfiomig_dirty_free(d);
	vfiomig_dev_unref(dev);
}
END_TEST

/* A bitmap whose bytes end inside a word: every page those bytes hold, and not a byte more. */
START_TEST(test_error_all_dirty_partial_word)
{
	struct vfiomig_dev *dev = open_dev(ctx, "mock:p,dirtylog=1");
	range r = { 0, M1 };
	struct vfiomig_dirty *d = start(dev, &r, 1, K4);
	const struct {
		uint64_t iova, pages;
		size_t written;	/* bytes of the caller's 12 that the range reaches */
	} c[] = {
		{ 0, 256, 12 },		/* too short: the 12 bytes are all dirty */
		{ 0, 70, 12 },		/* too short: pages 64..69 in the word's first bytes */
		{ 0x800, 64, 8 },	/* misaligned: the range ends with the first word */
	};
	uint8_t bm[32] __attribute__((aligned(8)));

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		uint64_t dirty = 0;

		memset(bm, 0x5a, sizeof(bm));
		ck_assert_int_eq(vfiomig_dirty_report(d, c[i].iova, c[i].pages * K4,
						      (uint64_t *)bm, 12, &dirty), -EINVAL);
		ck_assert_uint_eq(dirty, c[i].pages);
		check_all_dirty((uint64_t *)bm, c[i].written, c[i].pages);
		for (size_t b = c[i].written; b < sizeof(bm); b++)
			ck_assert_msg(bm[b] == 0x5a, "%llu pages: byte %zu written",
				      (unsigned long long)c[i].pages, b);
	}
	vfiomig_dirty_free(d);
	vfiomig_dev_unref(dev);
}
END_TEST

/* ---- what does not end a session ---- */

START_TEST(test_survives_reset_and_failed_save)
{
	struct vfiomig_dev *dev = open_dev(ctx, "mock:r,dirtylog=1,fail=read:1:EIO");
	struct vfiomig_save_opts so = { .sz = sizeof(so) };
	range r = { 0, M1 };
	struct vfiomig_dirty *d = start(dev, &r, 1, K4);
	uint64_t bm[4], dirty = 0;
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	ck_assert_int_eq(vfiomig_dev_reset(dev), 0);
	ck_assert(tracking(dev));
	ck_assert_int_ne(vfiomig_dev_save(dev, null, &so), 0);
	ck_assert_int_eq(state_of(dev), S(RUNNING));
	ck_assert(tracking(dev));
	dma(dev, 3 * K4, 8);
	ck_assert_int_eq(vfiomig_dirty_report(d, 0, M1, bm, sizeof(bm), &dirty), 0);
	ck_assert_uint_eq(bm[0], 1ull << 3);
	vfiomig_dirty_free(d);
	close(null);
	vfiomig_dev_unref(dev);
}
END_TEST

/* A stopped device writes nothing; the last report after the stop has what came before. */
START_TEST(test_last_report_after_stop)
{
	struct vfiomig_dev *dev = open_dev(ctx, "mock:t,dirtylog=1");
	range r = { 0, M1 };
	struct vfiomig_dirty *d = start(dev, &r, 1, K4);
	uint64_t bm[4], dirty = 0;

	dma(dev, 5 * K4, 8);
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(STOP), NULL), 0);
	ck_assert_int_eq(vfiomig_mock_dma(dev, 6 * K4, 8), -EPERM);
	ck_assert_int_eq(vfiomig_dirty_report(d, 0, M1, bm, sizeof(bm), &dirty), 0);
	ck_assert_uint_eq(bm[0], 1ull << 5);
	ck_assert_uint_eq(dirty, 1);
	vfiomig_dirty_free(d);
	vfiomig_dev_unref(dev);
}
END_TEST

/* ---- groups ---- */

struct trio {
	struct vfiomig_group *g;
	struct vfiomig_dev *dev[3];
};

/* Members "mock:gI,dirtylog=1" + @keys[i]. */
static void trio_open(struct trio *t, const char *const keys[3])
{
	ck_assert_int_eq(vfiomig_group_new(ctx, 0, &t->g), 0);
	for (unsigned int i = 0; i < 3; i++) {
		t->dev[i] = open_dev(ctx, "mock:g%u,dirtylog=1%s", i, keys ? keys[i] : "");
		ck_assert_int_eq(vfiomig_group_add(t->g, t->dev[i]), 0);
	}
}

static void trio_free(struct trio *t)
{
	vfiomig_group_unref(t->g);
	for (unsigned int i = 0; i < 3; i++)
		vfiomig_dev_unref(t->dev[i]);
}

START_TEST(test_group_union)
{
	static const char *const keys[3] = { "", ",logpage=8K:8K", "" };
	struct vfiomig_dirty_opts o = page_opts(K4);
	range r = { 0, M1 };
	struct vfiomig_dirty *d = NULL;
	uint64_t bm[2], dirty = 0;
	struct trio t;

	trio_open(&t, keys);
	ck_assert_int_eq(vfiomig_group_dirty_start(t.g, &r, 1, &o, &d), 0);
	ck_assert_uint_eq(info_of(d).page_size, 2 * K4);	/* the coarsest member's */
	ck_assert_uint_eq(info_of(d).n_devices, 3);
	dma(t.dev[0], 0, 8);		/* 8 KiB page 0 */
	dma(t.dev[1], 5 * K4, 8);	/* 8 KiB page 2 */
	dma(t.dev[2], 127 * 2 * K4, 8);	/* the last, 127 */
	ck_assert_int_eq(vfiomig_dirty_report(d, 0, M1, bm, sizeof(bm), &dirty), 0);
	ck_assert_uint_eq(bm[0], 1ull | (1ull << 2));
	ck_assert_uint_eq(bm[1], 1ull << 63);
	ck_assert_uint_eq(dirty, 3);
	vfiomig_dirty_free(d);
	for (unsigned int i = 0; i < 3; i++)
		ck_assert(!tracking(t.dev[i]));
	trio_free(&t);
}
END_TEST

/* Every member in turn fails to start: none is left tracking, the error names it. */
START_TEST(test_group_start_sweep)
{
	const char *keys[3] = { "", "", "" };
	struct vfiomig_dirty_opts o = page_opts(K4);
	range r = { 0, M1 };
	struct vfiomig_dirty *d = NULL;
	char want[16];
	struct trio t;

	keys[_i] = ",fail=logstart:1:EIO";
	trio_open(&t, keys);
	ck_assert_int_eq(vfiomig_group_dirty_start(t.g, &r, 1, &o, &d), -EIO);
	ck_assert_ptr_null(d);
	snprintf(want, sizeof(want), "mock:g%d", _i);
	ck_assert_msg(strstr(vfiomig_ctx_get_error(ctx), want), "%s", vfiomig_ctx_get_error(ctx));
	for (unsigned int i = 0; i < 3; i++)
		ck_assert_msg(!tracking(t.dev[i]), "member %u still tracks", i);
	/* and the group can start once the fault is spent */
	ck_assert_int_eq(vfiomig_group_dirty_start(t.g, &r, 1, &o, &d), 0);
	vfiomig_dirty_free(d);
	trio_free(&t);
}
END_TEST

/* A member that fails to report or to stop: all dirty; every other member still stops. */
START_TEST(test_group_member_failures)
{
	static const char *const keys[3] = { "", ",fail=logreport:1:EIO,fail=logstop:1:EIO", "" };
	struct vfiomig_dirty_opts o = page_opts(K4);
	range r = { 0, 64 * K4 };
	struct vfiomig_dirty *d = NULL;
	uint64_t bm[1], dirty = 0;
	struct trio t;

	trio_open(&t, keys);
	ck_assert_int_eq(vfiomig_group_dirty_start(t.g, &r, 1, &o, &d), 0);
	ck_assert_int_eq(vfiomig_dirty_report(d, 0, 64 * K4, bm, sizeof(bm), &dirty), -EIO);
	ck_assert_uint_eq(bm[0], UINT64_MAX);
	ck_assert_uint_eq(dirty, 64);
	ck_assert_int_eq(vfiomig_dirty_stop(d), -EIO);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "mock:g1"));
	ck_assert(!tracking(t.dev[0]));
	ck_assert(!tracking(t.dev[2]));
	vfiomig_dirty_free(d);
	trio_free(&t);
}
END_TEST

/* One HWPT serves every device attached to it: a group does not take it. */
START_TEST(test_iommu_group_refused)
{
	struct vfiomig_dirty_opts o = page_opts(K4);
	range r = { 0, M1 };
	struct vfiomig_dirty *d = NULL;
	struct trio t;

	trio_open(&t, NULL);
	o.mechanism = VFIOMIG_DIRTY_IOMMU;
	o.iommufd = 1;
	o.hwpt_id = 7;
	ck_assert_int_eq(vfiomig_group_dirty_start(t.g, &r, 1, &o, &d), -EOPNOTSUPP);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "serves one device"));
	for (unsigned int i = 0; i < 3; i++)
		ck_assert(!tracking(t.dev[i]));
	trio_free(&t);
}
END_TEST

/* ---- threads ---- */

struct slow {
	struct vfiomig_dev *dev;
	int r;
};

static void *slow_stop(void *arg)
{
	struct slow *s = arg;

	s->r = vfiomig_dev_set_state(s->dev, S(STOP), NULL);
	return NULL;
}

/* A session call while another thread drives the device: -EBUSY, and all dirty. */
START_TEST(test_busy_device)
{
	struct vfiomig_dev *dev = open_dev(ctx, "mock:y,dirtylog=1,arc=300ms");
	range r = { 0, 64 * K4 };
	struct vfiomig_dirty *d = start(dev, &r, 1, K4);
	struct slow s = { .dev = dev };
	uint64_t bm[1] = { 0 }, dirty = 0;
	pthread_t th;

	ck_assert_int_eq(pthread_create(&th, NULL, slow_stop, &s), 0);
	usleep(100000);
	ck_assert_int_eq(vfiomig_dirty_report(d, 0, 64 * K4, bm, sizeof(bm), &dirty), -EBUSY);
	ck_assert_uint_eq(bm[0], UINT64_MAX);
	pthread_join(th, NULL);
	ck_assert_int_eq(s.r, 0);
	vfiomig_dirty_free(d);
	vfiomig_dev_unref(dev);
}
END_TEST

/* ---- freeing a session while its devices are busy ---- */

/* A save held inside its first progress report until released. */
struct holder {
	struct vfiomig_dev *dev;
	sem_t inside, release;
	int reports, r;
};

static void hold_progress(void *data, const struct vfiomig_progress *p)
{
	struct holder *h = data;

	(void)p;
	if (h->reports++ == 0) {
		sem_post(&h->inside);
		sem_wait(&h->release);
	}
}

static void *hold_save(void *arg)
{
	struct holder *h = arg;
	struct vfiomig_save_opts so = { .sz = sizeof(so), .progress = hold_progress,
					.userdata = h };
	int fd = memfd_create("save", MFD_CLOEXEC);

	h->r = vfiomig_dev_save(h->dev, fd, &so);
	close(fd);
	return NULL;
}

struct freer {
	struct vfiomig_dirty *d;
	atomic_int tid;
	atomic_bool done;
};

static void *free_session(void *arg)
{
	struct freer *f = arg;

	atomic_store(&f->tid, gettid());
	vfiomig_dirty_free(f->d);
	atomic_store(&f->done, true);
	return NULL;
}

/* Whether thread @tid sleeps in futex(2) (a condition wait): false once
 * @done, or after 10 s without either. */
static bool sleeps_in_futex(const atomic_int *tid, const atomic_bool *done)
{
	static const struct timespec ms = { .tv_nsec = 1000000 };
	char path[64], buf[64];

	for (int i = 0; i < 10000 && !atomic_load(done); i++) {
		int fd;
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", atomic_load(tid));
		fd = atomic_load(tid) ? open(path, O_RDONLY | O_CLOEXEC) : -1;
		n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (n > 0 && buf[0] >= '0' && buf[0] <= '9' && strtol(buf, NULL, 10) == SYS_futex)
			return true;
		nanosleep(&ms, NULL);
	}
	return false;
}

/*
 * vfiomig_dirty_free() while another thread is inside a save of the
 * device (_i 0: a device's session) or of a member (_i 1: a group's): it
 * waits for the save to end, then stops tracking on every device, and a
 * new session starts.
 */
START_TEST(test_free_waits_for_busy_device)
{
	struct holder h = { 0 };
	struct freer f = { 0 };
	struct vfiomig_dirty_opts o = page_opts(K4);
	range r = { 0, 64 * K4 };
	struct vfiomig_dev *dev[3] = { NULL };
	unsigned int n = _i ? 3 : 1;
	struct trio t = { 0 };
	pthread_t saver, freer;
	bool waited;

	if (_i) {
		trio_open(&t, NULL);
		memcpy(dev, t.dev, sizeof(dev));
		ck_assert_int_eq(vfiomig_group_dirty_start(t.g, &r, 1, &o, &f.d), 0);
	} else {
		dev[0] = open_dev(ctx, "mock:fz,dirtylog=1");
		f.d = start(dev[0], &r, 1, K4);
	}
	h.dev = dev[n - 1];
	sem_init(&h.inside, 0, 0);
	sem_init(&h.release, 0, 0);
	ck_assert_int_eq(pthread_create(&saver, NULL, hold_save, &h), 0);
	sem_wait(&h.inside);
	ck_assert_int_eq(pthread_create(&freer, NULL, free_session, &f), 0);
	waited = sleeps_in_futex(&f.tid, &f.done);
	ck_assert_msg(!atomic_load(&f.done), "the session was freed while another thread "
		      "was inside a save of its device");
	ck_assert_msg(waited, "the free neither waited nor returned");
	sem_post(&h.release);
	pthread_join(saver, NULL);
	pthread_join(freer, NULL);
	ck_assert_int_eq(h.r, 0);
	for (unsigned int i = 0; i < n; i++)
		ck_assert_msg(!tracking(dev[i]), "device %u still tracks", i);
	if (_i) {
		ck_assert_int_eq(vfiomig_group_dirty_start(t.g, &r, 1, &o, &f.d), 0);
	} else {
		ck_assert_int_eq(vfiomig_dirty_start(dev[0], &r, 1, &o, &f.d), 0);
	}
	vfiomig_dirty_free(f.d);
	sem_destroy(&h.inside);
	sem_destroy(&h.release);
	if (_i)
		trio_free(&t);
	else
		vfiomig_dev_unref(dev[0]);
}
END_TEST

/* Freed from a progress report of a save of its own device, on that
 * thread: no wait for itself; tracking stops there and then. */
struct free_inside {
	struct vfiomig_dev *dev;
	struct vfiomig_dirty *d;
	bool tracked;
};

static void free_progress(void *data, const struct vfiomig_progress *p)
{
	struct free_inside *fi = data;

	(void)p;
	fi->d = vfiomig_dirty_free(fi->d);
	fi->tracked = fi->d || tracking(fi->dev);
}

START_TEST(test_free_from_callback)
{
	struct free_inside fi = { .dev = open_dev(ctx, "mock:fc,dirtylog=1") };
	struct vfiomig_save_opts so = { .sz = sizeof(so), .progress = free_progress,
					.userdata = &fi };
	range r = { 0, 64 * K4 };
	int fd = memfd_create("save", MFD_CLOEXEC);

	fi.d = start(fi.dev, &r, 1, K4);
	ck_assert_int_eq(vfiomig_dev_save(fi.dev, fd, &so), 0);
	ck_assert(!fi.tracked);
	vfiomig_dirty_free(start(fi.dev, &r, 1, K4));
	close(fd);
	vfiomig_dev_unref(fi.dev);
}
END_TEST

/* A destructor neither sets nor clears the thread's error, whether its
 * STOP fails (a) or not (b). */
START_TEST(test_free_keeps_error)
{
	struct vfiomig_dev *a = open_dev(ctx, "mock:fa,dirtylog=1,fail=logstop:1:EIO");
	struct vfiomig_dev *b = open_dev(ctx, "mock:fb,dirtylog=1");
	range r = { 0, 64 * K4 };
	struct vfiomig_dirty *da = start(a, &r, 1, K4), *db = start(b, &r, 1, K4);
	char before[1024];

	ck_assert_int_eq(vfiomig_dev_set_state(b, (enum vfiomig_state)99, NULL), -EINVAL);
	snprintf(before, sizeof(before), "%s", vfiomig_ctx_get_error(ctx));
	vfiomig_dirty_free(da);
	ck_assert_ptr_nonnull(vfiomig_ctx_get_error(ctx));
	ck_assert_str_eq(vfiomig_ctx_get_error(ctx), before);
	vfiomig_dirty_free(db);
	ck_assert_ptr_nonnull(vfiomig_ctx_get_error(ctx));
	ck_assert_str_eq(vfiomig_ctx_get_error(ctx), before);
	ck_assert(!tracking(b));
	vfiomig_dev_unref(a);
	vfiomig_dev_unref(b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dirty");
	TCase *tc = tcase_create("bits");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_bit_order);
	tcase_add_test(tc, test_partial_report);
	tcase_add_test(tc, test_driver_page_size);
	suite_add_tcase(s, tc);

	tc = tcase_create("ranges");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_bad_list_untouched);
	tcase_add_test(tc, test_collapse);
	suite_add_tcase(s, tc);

	tc = tcase_create("refusals");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_span_refused);
	tcase_add_test(tc, test_no_logging);
	tcase_add_test(tc, test_iommu_refusals);
	tcase_add_test(tc, test_one_session);
	tcase_add_test(tc, test_error_all_dirty);
	tcase_add_test(tc, test_error_all_dirty_partial_word);
	tcase_add_test(tc, test_survives_reset_and_failed_save);
	tcase_add_test(tc, test_last_report_after_stop);
	suite_add_tcase(s, tc);

	tc = tcase_create("groups");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_group_union);
	tcase_add_loop_test(tc, test_group_start_sweep, 0, 3);
	tcase_add_test(tc, test_group_member_failures);
	tcase_add_test(tc, test_iommu_group_refused);
	tcase_add_test(tc, test_busy_device);
	tcase_add_loop_test(tc, test_free_waits_for_busy_device, 0, 2);
	tcase_add_test(tc, test_free_from_callback);
	tcase_add_test(tc, test_free_keeps_error);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
