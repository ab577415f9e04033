// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The mock's transport ops: VFIO_DEVICE_FEATURE and the other device
 * ioctls decoded as the kernel does (reference 1.2), and the faults fail=
 * and short= inject into every op.
 */
#define _GNU_SOURCE
#include <stdbool.h>

#include "test-mock.h"

/* ---- VFIO_DEVICE_FEATURE decoding (reference 1.2) ---- */

START_TEST(test_feature_core)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "f,flags=stop_copy+p2p");
	struct vfio_device_feature_migration mig = { 0 };
	struct vfio_device_feature_mig_state st = { 0 };
	uint32_t M = VFIO_DEVICE_FEATURE_MIGRATION;
	uint32_t D = VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;

	/* argsz smaller than the header */
	ck_assert_int_eq(feature_raw(dev, 0, FGET | M, &mig, 8), -EINVAL);
	ck_assert_int_eq(feature_raw(dev, 7, FGET | M, &mig, 8), -EINVAL);
	/* unknown flag bits */
	ck_assert_int_eq(feature(dev, FGET | M | (1u << 19), &mig, 8), -EINVAL);
	ck_assert_int_eq(feature(dev, FGET | M | (1u << 31), &mig, 8), -EINVAL);
	/* GET and SET together without PROBE */
	ck_assert_int_eq(feature(dev, FGET | FSET | D, &st, 8), -EINVAL);
	/* neither GET nor SET without PROBE */
	ck_assert_int_eq(feature(dev, M, &mig, 8), -EINVAL);
	/* payload below minsz */
	ck_assert_int_eq(feature_raw(dev, 8, FGET | M, &mig, 8), -EINVAL);
	ck_assert_int_eq(feature_raw(dev, 15, FGET | D, &st, 8), -EINVAL);
	ck_assert_int_eq(feature_raw(dev, 15, FSET | D, &st, 8), -EINVAL);
	/* MIGRATION is GET only */
	ck_assert_int_eq(feature(dev, FSET | M, &mig, 8), -EINVAL);
	ck_assert_int_eq(feature(dev, FGET | M, &mig, 8), 0);
	ck_assert_uint_eq(mig.flags, VFIOMIG_MIG_STOP_COPY | VFIOMIG_MIG_P2P);
	/* a larger argsz is fine */
	ck_assert_int_eq(feature_raw(dev, 8 + 32, FGET | M, &mig, 8), 0);

	/* PROBE: no payload needed; GET/SET bits must be supported */
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | M, NULL, 0), 0);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FGET | M, NULL, 0), 0);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FSET | M, NULL, 0), -EINVAL);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FGET | FSET | D, NULL, 0), 0);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FSET | D, NULL, 0), 0);
	ck_assert_int_eq(feature_raw(dev, 7, FPROBE | M, NULL, 0), -EINVAL);

	/* features the device lacks, or indexes nobody knows */
	{
		const uint32_t absent[] = { 0, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 0xffff };

		for (size_t i = 0; i < ARRAY_SIZE(absent); i++) {
			uint64_t buf[4] = { 0 };

			ck_assert_int_eq(feature(dev, FGET | absent[i], buf, 32), -ENOTTY);
			ck_assert_int_eq(feature(dev, FSET | absent[i], buf, 32), -ENOTTY);
			ck_assert_int_eq(feature_raw(dev, 8, FPROBE | absent[i], NULL, 0),
					 -ENOTTY);
		}
	}

	/* GET of the state always gives data_fd -1 */
	st.device_state = 77;
	st.data_fd = 5;
	ck_assert_int_eq(feature(dev, FGET | D, &st, 8), 0);
	ck_assert_uint_eq(st.device_state, S(RUNNING));
	ck_assert_int_eq(st.data_fd, -1);

	/* other device ioctls */
	ck_assert_int_eq(dev->transport->device_ioctl(dev, VFIO_DEVICE_GET_REGION_INFO,
						&st), -ENOTTY);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_get_info)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "g");
	struct {
		struct vfio_device_info info;
		uint32_t extra[2];
	} b;

	memset(&b, 0xa5, sizeof(b));
	b.info.argsz = 15;
	ck_assert_int_eq(dev->transport->device_ioctl(dev, VFIO_DEVICE_GET_INFO, &b), -EINVAL);
	b.info.argsz = 16;
	ck_assert_int_eq(dev->transport->device_ioctl(dev, VFIO_DEVICE_GET_INFO, &b), 0);
	ck_assert_uint_eq(b.info.argsz, 16);
	ck_assert_uint_eq(b.info.flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
	ck_assert_uint_eq(b.info.num_regions, 9);
	ck_assert_uint_eq(b.info.num_irqs, 5);
	ck_assert_uint_eq(b.info.cap_offset, 0xa5a5a5a5u);	/* 16 bytes only */
	vfiomig_dev_unref(dev);

	dev = mock_open(ctx, "g,resetflag=0");
	b.info.argsz = sizeof(b.info);
	ck_assert_int_eq(dev->transport->device_ioctl(dev, VFIO_DEVICE_GET_INFO, &b), 0);
	ck_assert_uint_eq(b.info.flags, VFIO_DEVICE_FLAGS_PCI);
	/* mtty: no FLAGS_RESET, but reset works */
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_int_eq(get_state(dev), S(RUNNING));
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_data_size)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "d,size=200K,state=STOP");
	struct vfio_device_feature_mig_data_size ds = { 0 };
	uint32_t F = VFIO_DEVICE_FEATURE_MIG_DATA_SIZE;
	struct blob b = { 0 };
	uint64_t npages = 4, size = 200 << 10;

	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FGET | F, NULL, 0), 0);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FSET | F, NULL, 0), -EINVAL);
	ck_assert_int_eq(feature_raw(dev, 15, FGET | F, &ds, 8), -EINVAL);
	ck_assert_int_eq(feature(dev, FGET | F, &ds, 8), 0);
	ck_assert_uint_eq(ds.stop_copy_length, 40 + npages * 24 + size + 24);
	/* exact: the plain save has that length */
	save_plain(dev, &b);
	ck_assert_uint_eq(b.len, ds.stop_copy_length);
	/* valid in any state */
	ck_assert_int_eq(set_nofd(dev, S(RUNNING)), 0);
	ck_assert_int_eq(feature(dev, FGET | F, &ds, 8), 0);
	free(b.p);
	vfiomig_dev_unref(dev);

	dev = mock_open(ctx, "d,datasize=0");
	ck_assert_int_eq(feature(dev, FGET | F, &ds, 8), -ENOTTY);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | F, NULL, 0), -ENOTTY);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_dirty_logging)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "l,dirtylog=1");
	struct vfio_device_feature_dma_logging_range r[300];
	struct vfio_device_feature_dma_logging_control c = {
		.page_size = 4096, .num_ranges = 2, .ranges = (uintptr_t)r,
	};
	uint64_t bitmap[4] = { 0 };
	struct vfio_device_feature_dma_logging_report rep = {
		.iova = 0, .length = 1 << 20, .page_size = 4096,
		.bitmap = (uintptr_t)bitmap,
	};
	uint32_t START = VFIO_DEVICE_FEATURE_DMA_LOGGING_START;
	uint32_t STOP = VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP;
	uint32_t REPORT = VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT;

	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FSET | START, NULL, 0), 0);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FGET | START, NULL, 0), -EINVAL);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FSET | STOP, NULL, 0), 0);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FGET | REPORT, NULL, 0), 0);

	r[0].iova = 0;
	r[0].length = 1 << 20;
	r[1].iova = 1ull << 32;
	r[1].length = 1 << 20;
	ck_assert_int_eq(feature(dev, FSET | START, &c, sizeof(c)), 0);
	ck_assert_uint_eq(c.page_size, 4096);
	ck_assert_int_eq(feature(dev, FGET | REPORT, &rep, sizeof(rep)), 0);
	ck_assert_uint_eq(bitmap[0] | bitmap[1] | bitmap[2] | bitmap[3], 0);
	rep.page_size = 1000;
	ck_assert_int_eq(feature(dev, FGET | REPORT, &rep, sizeof(rep)), -EINVAL);
	rep.page_size = 2048;
	ck_assert_int_eq(feature(dev, FGET | REPORT, &rep, sizeof(rep)), -EINVAL);
	rep.page_size = 4096;
	rep.iova = UINT64_MAX - 4095;
	ck_assert_int_eq(feature(dev, FGET | REPORT, &rep, sizeof(rep)), -EOVERFLOW);
	ck_assert_int_eq(feature_raw(dev, 8, FSET | STOP, NULL, 0), 0);

	c.num_ranges = 0;
	ck_assert_int_eq(feature(dev, FSET | START, &c, sizeof(c)), -EINVAL);
	c.num_ranges = 257;
	ck_assert_int_eq(feature(dev, FSET | START, &c, sizeof(c)), -E2BIG);
	c.num_ranges = 2;
	r[1].iova = 4095;	/* misaligned */
	ck_assert_int_eq(feature(dev, FSET | START, &c, sizeof(c)), -EINVAL);
	r[1].iova = 1 << 19;	/* overlaps r[0] */
	ck_assert_int_eq(feature(dev, FSET | START, &c, sizeof(c)), -EINVAL);
	r[1].iova = UINT64_MAX - 4095;	/* wraps */
	r[1].length = 8192;
	ck_assert_int_eq(feature(dev, FSET | START, &c, sizeof(c)), -EOVERFLOW);
	ck_assert_int_eq(feature_raw(dev, 8 + 23, FSET | START, &c, sizeof(c)), -EINVAL);
	vfiomig_dev_unref(dev);

	dev = mock_open(ctx, "l");	/* default: no log_ops */
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FSET | START, NULL, 0), -ENOTTY);
	ck_assert_int_eq(feature(dev, FSET | START, &c, sizeof(c)), -ENOTTY);
	ck_assert_int_eq(feature(dev, FGET | REPORT, &rep, sizeof(rep)), -ENOTTY);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_infov2)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "v,infov2=1");
	uint32_t V2 = VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2;
	struct vfio_precopy_info info = { .argsz = sizeof(info), .flags = 0x55 };
	int fd;

	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	/* before the opt-in: flags echo what came in */
	ck_assert_int_eq(dev->transport->data_ioctl(dev, fd, VFIO_MIG_GET_PRECOPY_INFO, &info), 0);
	ck_assert_uint_eq(info.flags, 0x55);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FSET | V2, NULL, 0), 0);
	ck_assert_int_eq(feature_raw(dev, 8, FGET | V2, NULL, 0), -EINVAL);
	ck_assert_int_eq(feature_raw(dev, 8, FSET | V2, NULL, 0), 0);
	info.flags = 0x55;
	ck_assert_int_eq(dev->transport->data_ioctl(dev, fd, VFIO_MIG_GET_PRECOPY_INFO, &info), 0);
	ck_assert_uint_eq(info.flags, 0);
	close(fd);
	vfiomig_dev_unref(dev);

	dev = mock_open(ctx, "v,infov2=1,flags=stop_copy+p2p");
	ck_assert_int_eq(feature_raw(dev, 8, FSET | V2, NULL, 0), -EINVAL);
	vfiomig_dev_unref(dev);
	dev = mock_open(ctx, "v");
	ck_assert_int_eq(feature_raw(dev, 8, FSET | V2, NULL, 0), -ENOTTY);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/*
 * reinit=2: the second dirty round starts the initial image again: after
 * the opt-in, PRECOPY_INFO says REINIT once, initial_bytes jumps back to a
 * whole image and dirty_bytes to 0; the stream still loads.
 */
START_TEST(test_reinit)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *src = mock_open(ctx, "r,infov2=1,reinit=2,size=256K,dirty=64K");
	struct vfiomig_dev *dst = mock_open(ctx, "r2,size=256K,state=stop");
	struct vfio_precopy_info info = { .argsz = sizeof(info) };
	uint32_t flags_seen[4];
	uint64_t initial[4];
	struct blob b = { 0 };
	int fd;

	ck_assert_int_eq(set_state(src, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(feature_raw(src, 8, FSET | VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2, NULL, 0), 0);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(drain(src, fd, &b, 1 << 16), -ENOMSG);
		ck_assert_int_eq(src->transport->data_ioctl(src, fd, VFIO_MIG_GET_PRECOPY_INFO,
							    &info), 0);
		flags_seen[i] = info.flags;
		initial[i] = info.initial_bytes;
		if (info.flags & VFIO_PRECOPY_INFO_REINIT)
			ck_assert_uint_eq(info.dirty_bytes, 0);
	}
	/* Round 1 is a dirty round, round 2 the new image, then dirty again. */
	ck_assert_uint_eq(flags_seen[0], 0);
	ck_assert_uint_eq(initial[0], 0);
	ck_assert_uint_eq(flags_seen[1], VFIO_PRECOPY_INFO_REINIT);
	ck_assert_uint_ge(initial[1], 256 << 10);
	ck_assert_uint_eq(flags_seen[2], 0);
	ck_assert_uint_eq(initial[2], 0);
	ck_assert_int_eq(set_nofd(src, S(STOP_COPY)), 0);
	ck_assert_int_eq(drain(src, fd, &b, 1 << 16), 0);
	close(fd);
	ck_assert_int_eq(load(dst, b.p, b.len, 1 << 16), 0);
	free(b.p);
	vfiomig_dev_unref(src);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- fault injection ---- */

START_TEST(test_fail_set)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev;
	int fd;

	dev = mock_open(ctx, "fs,fail=set:2:EIO");
	ck_assert_int_eq(set_nofd(dev, S(RUNNING_P2P)), 0);
	{
		/* the core copies back data_fd = -1 and the requested state */
		struct vfio_device_feature_mig_state mig = {
			.device_state = S(STOP_COPY), .data_fd = 12345,
		};

		ck_assert_int_eq(feature(dev, FSET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
					 &mig, sizeof(mig)), -EIO);
		ck_assert_int_eq(mig.data_fd, -1);
		ck_assert_uint_eq(mig.device_state, S(STOP_COPY));
	}
	ck_assert_int_eq(get_state(dev), S(RUNNING_P2P));
	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), 0);
	ck_assert_int_ge(fd, 0);
	close(fd);
	vfiomig_dev_unref(dev);

	/* the brief's example: RUNNING -> STOP_COPY fails at STOP */
	dev = mock_open(ctx, "fs,fail=set:1:EIO:mid");
	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), -EIO);
	ck_assert_int_eq(get_state(dev), S(STOP));
	vfiomig_dev_unref(dev);

	/* mid on a pre-copy session: interior arcs end it */
	dev = mock_open(ctx, "fs,fail=set:2:ENOMEM:mid");
	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), -ENOMEM);
	ck_assert_int_eq(get_state(dev), S(RUNNING_P2P));
	ck_assert_int_eq(dev->transport->data_read(dev, fd, &fd, 1), -ENODEV);
	close(fd);
	vfiomig_dev_unref(dev);

	/* errno by number */
	dev = mock_open(ctx, "fs,fail=set:1:5");
	ck_assert_int_eq(set_nofd(dev, S(STOP)), -EIO);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_fail_other_kinds)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev;
	struct vfio_device_feature_mig_state st = { 0 };
	struct vfio_device_feature_mig_data_size ds = { 0 };
	struct vfio_device_feature_migration mig = { 0 };
	uint32_t D = VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;
	uint64_t ib, db;
	int fd;

	dev = mock_open(ctx, "k,fail=get:2:EAGAIN");
	ck_assert_int_eq(feature(dev, FGET | D, &st, 8), 0);
	ck_assert_int_eq(feature(dev, FGET | D, &st, 8), -EAGAIN);
	ck_assert_int_eq(feature(dev, FGET | D, &st, 8), 0);
	vfiomig_dev_unref(dev);

	dev = mock_open(ctx, "k,fail=reset:1:EIO");
	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), 0);
	ck_assert_int_eq(reset(dev), -EIO);
	ck_assert_int_eq(get_state(dev), S(STOP_COPY));	/* nothing changed */
	ck_assert_int_gt(dev->transport->data_read(dev, fd, &st, 8), 0);
	ck_assert_int_eq(reset(dev), 0);
	close(fd);
	vfiomig_dev_unref(dev);

	dev = mock_open(ctx, "k,fail=precopy:1:EINTR");
	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), -EINTR);
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
	close(fd);
	vfiomig_dev_unref(dev);

	dev = mock_open(ctx, "k,fail=datasize:1:ENODEV");
	ck_assert_int_eq(feature(dev, FGET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &ds, 8), -ENODEV);
	ck_assert_int_eq(feature(dev, FGET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &ds, 8), 0);
	vfiomig_dev_unref(dev);

	/* feature counts every VFIO_DEVICE_FEATURE, PROBE included */
	dev = mock_open(ctx, "k,fail=feature:2:EIO");
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | VFIO_DEVICE_FEATURE_MIGRATION, NULL, 0), 0);
	ck_assert_int_eq(feature(dev, FGET | VFIO_DEVICE_FEATURE_MIGRATION, &mig, 8), -EIO);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	ck_assert_int_eq(reset(dev), 0);	/* not a feature */
	vfiomig_dev_unref(dev);

	/* unknown names, LEAVE on a non-set kind, too many rules */
	ck_assert_int_eq(vfiomig_mock_open(ctx, "k,fail=bogus:1:EIO", &dev), -EINVAL);
	ck_assert_int_eq(vfiomig_mock_open(ctx, "k,fail=get:1:EIO:mid", &dev), -EINVAL);
	ck_assert_int_eq(vfiomig_mock_open(ctx, "k,fail=get:0:EIO", &dev), -EINVAL);
	ck_assert_int_eq(vfiomig_mock_open(ctx, "k,fail=get:1:EWHAT", &dev), -EINVAL);
	ck_assert_int_eq(vfiomig_mock_open(ctx, "k,fail=set:1:EIO:sideways", &dev), -EINVAL);
	ck_assert_int_eq(vfiomig_mock_open(ctx, "k,fail=get:1:EIO,fail=get:2:EIO,"
					   "fail=get:3:EIO,fail=get:4:EIO,fail=get:5:EIO,"
					   "fail=get:6:EIO,fail=get:7:EIO,fail=get:8:EIO,"
					   "fail=get:9:EIO", &dev), -EINVAL);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_fail_read_write)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *src = mock_open(ctx, "rw,size=300K,state=STOP,fail=read:3:EIO");
	struct vfiomig_dev *dst = mock_open(ctx, "rw2,size=300K,state=STOP,fail=write:2:ENOSPC");
	struct blob b = { 0 };
	uint8_t tmp[5000];
	size_t off = 0;
	int fd, k = 0;

	ck_assert_int_eq(set_state(src, S(STOP_COPY), &fd), 0);
	for (;;) {
		ssize_t r = src->transport->data_read(src, fd, tmp, sizeof(tmp));

		k++;
		if (k == 3) {
			ck_assert_int_eq(r, -EIO);	/* moved nothing */
			continue;
		}
		ck_assert_int_ge(r, 0);
		if (!r)
			break;
		blob_add(&b, tmp, (size_t)r);
	}
	ck_assert_int_eq(set_nofd(src, S(STOP)), 0);
	close(fd);
	ck_assert_uint_eq(b.len, mock_stream_size(300 << 10));

	ck_assert_int_eq(set_state(dst, S(RESUMING), &fd), 0);
	k = 0;
	while (off < b.len) {
		size_t n = b.len - off < 7000 ? b.len - off : 7000;
		ssize_t w = dst->transport->data_write(dst, fd, b.p + off, n);

		if (++k == 2) {
			ck_assert_int_eq(w, -ENOSPC);
			continue;
		}
		ck_assert_int_gt(w, 0);
		off += (size_t)w;
	}
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	close(fd);
	free(b.p);
	vfiomig_dev_unref(dst);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_short_io)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *src = mock_open(ctx, "sh,size=3000,state=STOP,short=read");
	struct vfiomig_dev *dst = mock_open(ctx, "sh2,size=3000,state=STOP,short=both");
	struct blob b = { 0 };
	uint8_t tmp[4096];
	size_t off = 0;
	int fd;

	ck_assert_int_eq(set_state(src, S(STOP_COPY), &fd), 0);
	for (;;) {
		ssize_t r = src->transport->data_read(src, fd, tmp, sizeof(tmp));

		ck_assert_int_ge(r, 0);
		ck_assert_int_le(r, 7);
		if (!r)
			break;
		blob_add(&b, tmp, (size_t)r);
	}
	ck_assert_int_eq(set_nofd(src, S(STOP)), 0);
	close(fd);
	ck_assert_uint_eq(b.len, mock_stream_size(3000));

	ck_assert_int_eq(set_state(dst, S(RESUMING), &fd), 0);
	while (off < b.len) {
		ssize_t w = dst->transport->data_write(dst, fd, b.p + off, b.len - off);

		ck_assert_int_gt(w, 0);
		ck_assert_int_le(w, 7);
		off += (size_t)w;
	}
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	close(fd);
	free(b.p);
	vfiomig_dev_unref(dst);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/*
 * fail=any:N for every N: a save and load either fail cleanly at the Nth op
 * or succeed once N is past the last op.  Nothing leaks, nothing crashes.
 */
START_TEST(test_fail_any_sweep)
{
	int fds = count_fds(), successes = 0;

	for (int n = 1; n < 200 && successes < 3; n++) {
		struct vfiomig_ctx *ctx = new_ctx(NULL);
		struct vfiomig_dev *dev;
		char spec[96];
		uint8_t tmp[65536];
		int fd = -1, wfd = -1, r;
		ssize_t got;
		bool ok = false;

		snprintf(spec, sizeof(spec), "sw,size=200K,dirty=64K,fail=any:%d:EIO", n);
		dev = mock_open(ctx, spec);
		if (set_state(dev, S(PRE_COPY), &fd))
			goto out;
		for (int i = 0; i < 3; i++) {
			uint64_t ib, db;

			if (precopy_info(dev, fd, &ib, &db))
				goto out;
			while ((got = dev->transport->data_read(dev, fd, tmp, sizeof(tmp))) > 0)
				;
			if (got != -ENOMSG)
				goto out;
		}
		if (set_nofd(dev, S(STOP_COPY)))
			goto out;
		while ((got = dev->transport->data_read(dev, fd, tmp, sizeof(tmp))) > 0)
			;
		if (got || set_nofd(dev, S(STOP)))
			goto out;
		if (set_state(dev, S(RESUMING), &wfd))
			goto out;
		r = dev->transport->data_write(dev, wfd, "VFIOMOCK", 8) == 8 ? 0 : -1;
		if (r || set_nofd(dev, S(STOP)) != -EINVAL)
			goto out;
		ok = true;
out:
		if (!ok) {
			/* recovery always works once the injected op is past */
			ck_assert_int_eq(reset(dev), 0);
			ck_assert_int_eq(get_state(dev), S(RUNNING));
		} else {
			successes++;
		}
		if (fd >= 0)
			close(fd);
		if (wfd >= 0)
			close(wfd);
		vfiomig_dev_unref(dev);
		vfiomig_ctx_unref(ctx);
	}
	ck_assert_int_eq(successes, 3);
	ck_assert_int_eq(count_fds(), fds);
}
END_TEST

/* ---- what a newer kernel, or a driver's garbage, answers (issue #22) ---- */

static uint32_t raw_state(struct vfiomig_dev *dev)
{
	struct vfio_device_feature_mig_state mig = { .device_state = 99, .data_fd = 7 };

	ck_assert_int_eq(feature(dev, FGET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &mig,
				 sizeof(mig)), 0);
	ck_assert_int_eq(mig.data_fd, -1);
	return mig.device_state;
}

/*
 * state=N and fail=set:...:N: GET reports N; no arc leaves it (the
 * kernel's next-state finds no row for it), a reset does; the session a
 * failed SET left it from is dead and PRECOPY_INFO refuses.
 */
START_TEST(test_newer_state)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "nk,state=9");
	uint64_t initial, dirty;
	uint8_t byte;
	int fd;

	ck_assert_uint_eq(raw_state(dev), 9);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), -EINVAL);
	ck_assert_int_eq(set_nofd(dev, S(ERROR)), -EINVAL);
	ck_assert_int_eq(set_nofd(dev, 9), 0);	/* to where it is: nothing to do */
	ck_assert_uint_eq(raw_state(dev), 9);
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_uint_eq(raw_state(dev), S(RUNNING));
	vfiomig_dev_unref(dev);

	dev = mock_open(ctx, "nk,fail=set:2:EIO:4294967295");
	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(set_nofd(dev, S(STOP_COPY)), -EIO);
	ck_assert_uint_eq(raw_state(dev), 4294967295u);
	ck_assert_int_eq(dev->transport->data_read(dev, fd, &byte, 1), -ENODEV);
	ck_assert_int_eq(precopy_info(dev, fd, &initial, &dirty), -EINVAL);
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_uint_eq(raw_state(dev), S(RUNNING));
	close(fd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* flags=...+bitN: reported as given; the paths are the kernel's without it. */
START_TEST(test_newer_flags)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "nf,flags=stop_copy+p2p+bit9+bit63");
	struct vfio_device_feature_migration mig = { 0 };
	int fd;

	ck_assert_int_eq(feature(dev, FGET | VFIO_DEVICE_FEATURE_MIGRATION, &mig, 8), 0);
	ck_assert_uint_eq(mig.flags, VFIOMIG_MIG_STOP_COPY | VFIOMIG_MIG_P2P | (1ull << 9) |
			  (1ull << 63));
	ck_assert_int_eq(set_nofd(dev, S(PRE_COPY)), -EINVAL);	/* no PRE_COPY */
	ck_assert_int_eq(set_nofd(dev, S(ERROR)), -EINVAL);
	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), 0);
	ck_assert_int_ge(fd, 0);
	close(fd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* fail=KIND:N+: call N and every later one fail; those before do not. */
START_TEST(test_fail_from_on)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "nr,fail=reset:2+:EBUSY");

	ck_assert_int_eq(reset(dev), 0);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(reset(dev), -EBUSY);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* garbage=: the answers are the knob's, the data what it always is. */
START_TEST(test_garbage_answers)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "ng,size=128K,garbage=datasize:max,"
					    "garbage=initial:7,garbage=dirty:max-1");
	struct vfio_device_feature_mig_data_size ds = { 0 };
	struct blob b = { 0 };
	uint64_t initial, dirty;
	int fd;

	ck_assert_int_eq(feature(dev, FGET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &ds, 8), 0);
	ck_assert_uint_eq(ds.stop_copy_length, UINT64_MAX);
	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	for (int round = 0; round < 3; round++) {
		ck_assert_int_eq(precopy_info(dev, fd, &initial, &dirty), 0);
		ck_assert_uint_eq(initial, 7);
		ck_assert_uint_eq(dirty, UINT64_MAX - 1);
		ck_assert_int_eq(drain(dev, fd, &b, 1 << 16), -ENOMSG);
	}
	ck_assert_uint_eq(b.len, mock_stream_size(128 << 10) - 24);	/* the initial image */
	free(b.p);
	close(fd);
	vfiomig_dev_unref(dev);

	static const char *const bad[] = {
		"ng,garbage=size:1", "ng,garbage=dirty", "ng,garbage=dirty:max-x",
		"ng,garbage=dirty:18446744073709551616", "ng,garbage=dirty:1,garbage=dirty:2",
		"ng,fail=set:1:EIO:7", "ng,fail=reset:0+:EIO", "ng,fail=reset:1:EIO:9",
		"ng,flags=stop_copy+bit2", "ng,flags=stop_copy+bit64", "ng,state=7",
		"ng,state=4294967296",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_msg(vfiomig_mock_open(ctx, bad[i], &dev) == -EINVAL, "%s", bad[i]);
	vfiomig_ctx_unref(ctx);
}
END_TEST

static Suite *ioctl_suite(void)
{
	Suite *s = suite_create("mock-ioctl");
	TCase *tc;

	tc = tcase_create("ioctl");
	tcase_add_test(tc, test_feature_core);
	tcase_add_test(tc, test_get_info);
	tcase_add_test(tc, test_data_size);
	tcase_add_test(tc, test_dirty_logging);
	tcase_add_test(tc, test_infov2);
	tcase_add_test(tc, test_reinit);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_fail_set);
	tcase_add_test(tc, test_fail_other_kinds);
	tcase_add_test(tc, test_fail_read_write);
	tcase_add_test(tc, test_short_io);
	tcase_add_test(tc, test_fail_any_sweep);
	suite_add_tcase(s, tc);

	tc = tcase_create("newer-kernel");
	tcase_add_test(tc, test_newer_state);
	tcase_add_test(tc, test_newer_flags);
	tcase_add_test(tc, test_fail_from_on);
	tcase_add_test(tc, test_garbage_answers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(ioctl_suite());
}
