// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bug=NAME: each rule the mock can break on purpose, so that a
 * conformance check can be shown to fail.  Every test runs one scenario
 * twice, with the bug and without it, and checks both answers: the broken
 * one, and the kernel's (docs/mock.md, *Deliberately broken rules*).
 */
#define _GNU_SOURCE
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>

#include "test-mock.h"

#define SIZE_SPEC "size=256K"
#define SIZE (256u << 10)
#define INITIAL (40 + 4 * (24 + PAGE))	/* a 256K device's initial image */

/* "NAME,EXTRA[,bug=BUG]" into @buf. */
static const char *spec(char *buf, size_t size, const char *name, const char *extra,
			const char *bug, bool on)
{
	snprintf(buf, size, "%s,%s%s%s", name, extra, on ? ",bug=" : "", on ? bug : "");
	return buf;
}

static struct vfiomig_dev *open_bug(struct vfiomig_ctx *ctx, const char *name,
				    const char *extra, const char *bug, bool on)
{
	char buf[256];

	return mock_open(ctx, spec(buf, sizeof(buf), name, extra, bug, on));
}

/* A good stream of a device of @size bytes, from a mock of its own. */
static void stream_of(struct vfiomig_ctx *ctx, uint64_t size, struct blob *b)
{
	char buf[64];
	struct vfiomig_dev *src;

	snprintf(buf, sizeof(buf), "src,size=%" PRIu64 ",state=STOP", size);
	src = mock_open(ctx, buf);
	save_plain(src, b);
	ck_assert_uint_eq(b->len, mock_stream_size(size));
	vfiomig_dev_unref(src);
}

static void good_stream(struct vfiomig_ctx *ctx, struct blob *b)
{
	stream_of(ctx, SIZE, b);
}

static ssize_t rd(struct vfiomig_dev *dev, int fd, void *buf, size_t len)
{
	return dev->transport->data_read(dev, fd, buf, len);
}

static ssize_t wr(struct vfiomig_dev *dev, int fd, const void *buf, size_t len)
{
	return dev->transport->data_write(dev, fd, buf, len);
}

/* ---- what the device reports ---- */

static void flags_case(bool on)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = open_bug(ctx, "f", "flags=stop_copy", "flags", on);
	struct vfio_device_feature_migration mig = { 0 };

	ck_assert_int_eq(feature(dev, FGET | VFIO_DEVICE_FEATURE_MIGRATION, &mig,
				 sizeof(mig)), 0);
	ck_assert_uint_eq(mig.flags, VFIOMIG_MIG_STOP_COPY | (on ? 1u << 8 : 0));
	/* the state machine still has the real flags: no P2P */
	ck_assert_int_eq(set_nofd(dev, S(RUNNING_P2P)), -EINVAL);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	ck_assert_int_eq(get_state(dev), S(STOP));
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_bug_flags)
{
	flags_case(false);
	flags_case(true);
}
END_TEST

static void size_lies_case(bool on)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = open_bug(ctx, "sl", SIZE_SPEC ",state=STOP", "size-lies", on);
	struct vfio_device_feature_mig_data_size ds = { 0 };
	uint64_t full = mock_stream_size(SIZE);
	struct blob b = { 0 };

	ck_assert_int_eq(feature(dev, FGET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &ds,
				 sizeof(ds)), 0);
	ck_assert_uint_eq(ds.stop_copy_length, on ? full / 10 : full);
	save_plain(dev, &b);	/* the stream itself is as long as ever */
	ck_assert_uint_eq(b.len, full);
	free(b.p);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_bug_size_lies)
{
	size_lies_case(false);
	size_lies_case(true);
}
END_TEST

static void probe_lies_case(bool on)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = open_bug(ctx, "pl", "dirtylog=0", "probe-lies", on);
	struct vfio_device_feature_dma_logging_range range = { .iova = 0, .length = 4096 };
	struct vfio_device_feature_dma_logging_control ctl = {
		.page_size = 4096, .num_ranges = 1, .ranges = (uintptr_t)&range,
	};
	uint32_t start = VFIO_DEVICE_FEATURE_DMA_LOGGING_START;

	ck_assert_int_eq(feature(dev, FPROBE | FSET | start, NULL, 0), on ? 0 : -ENOTTY);
	ck_assert_int_eq(feature(dev, FSET | start, &ctl, sizeof(ctl)), -ENOTTY);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_bug_probe_lies)
{
	probe_lies_case(false);
	probe_lies_case(true);
}
END_TEST

static void infov2_case(bool on)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = open_bug(ctx, "iv", "infov2=1", "infov2-einval", on);
	struct vfiomig_dev *old = open_bug(ctx, "iv0", "infov2=0", "infov2-einval", on);
	uint32_t v2 = VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2;

	ck_assert_int_eq(feature(dev, FPROBE | FSET | v2, NULL, 0), on ? -EINVAL : 0);
	ck_assert_int_eq(feature(dev, FSET | v2, NULL, 0), on ? -EINVAL : 0);
	/* where the kernel has no such feature, ENOTTY */
	ck_assert_int_eq(feature(old, FPROBE | FSET | v2, NULL, 0), on ? -EINVAL : -ENOTTY);
	ck_assert_int_eq(feature(old, FSET | v2, NULL, 0), on ? -EINVAL : -ENOTTY);
	vfiomig_dev_unref(old);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_bug_infov2_einval)
{
	infov2_case(false);
	infov2_case(true);
}
END_TEST

/* ---- SET MIG_DEVICE_STATE ---- */

static void wrong_arc_case(bool on)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = open_bug(ctx, "wa", "state=STOP", "wrong-arc", on);

	ck_assert_int_eq(set_nofd(dev, S(RUNNING_P2P)), 0);
	ck_assert_int_eq(get_state(dev), on ? S(STOP) : S(RUNNING_P2P));
	/* a longer SET through RUNNING_P2P is unaffected */
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	ck_assert_int_eq(set_nofd(dev, S(RUNNING)), 0);
	ck_assert_int_eq(get_state(dev), S(RUNNING));
	ck_assert_int_eq(set_nofd(dev, S(RUNNING_P2P)), 0);
	ck_assert_int_eq(get_state(dev), S(RUNNING_P2P));
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_bug_wrong_arc)
{
	wrong_arc_case(false);
	wrong_arc_case(true);
}
END_TEST

static void accepts_error_case(bool on)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = open_bug(ctx, "ae", SIZE_SPEC, "accepts-error", on);
	uint8_t c;
	int fd;

	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(set_nofd(dev, S(ERROR)), on ? 0 : -EINVAL);
	ck_assert_int_eq(get_state(dev), on ? S(ERROR) : S(PRE_COPY));
	/* in ERROR no session lives */
	ck_assert_int_eq(rd(dev, fd, &c, 1), on ? -ENODEV : 1);
	close(fd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_bug_accepts_error)
{
	accepts_error_case(false);
	accepts_error_case(true);
}
END_TEST

static void failed_set_case(bool on)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = open_bug(ctx, "fs", SIZE_SPEC ",state=STOP",
					   "failed-set-wrong", on);
	struct blob b = { 0 };

	good_stream(ctx, &b);
	/* a stream that stops early is refused */
	ck_assert_int_eq(load(dev, b.p, 1000, 4096), -EINVAL);
	ck_assert_int_eq(get_state(dev), on ? S(RUNNING) : S(RESUMING));
	free(b.p);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_bug_failed_set_wrong)
{
	failed_set_case(false);
	failed_set_case(true);
}
END_TEST

/* ---- data fds ---- */

static void no_eof_case(bool on)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = open_bug(ctx, "ne", SIZE_SPEC ",state=STOP", "no-eof", on);
	struct blob b = { 0 };
	int fd;

	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), 0);
	ck_assert_int_eq(drain(dev, fd, &b, 1 << 16), on ? -ENOMSG : 0);
	ck_assert_uint_eq(b.len, mock_stream_size(SIZE));
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	close(fd);
	free(b.p);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_bug_no_eof)
{
	no_eof_case(false);
	no_eof_case(true);
}
END_TEST

static short poll_revents(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	ck_assert_int_ge(poll(&p, 1, 0), 0);
	return p.revents;
}

static void precopy_anywhere_case(bool on)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = open_bug(ctx, "pa", SIZE_SPEC ",state=STOP",
					   "precopy-info-anywhere", on);
	uint64_t ib = 99, db = 99;
	struct blob b = { 0 };
	int fd;

	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), 0);
	/* The pump writes the whole stream and closes its end of the pipe: the
	 * answer must not depend on whether it has yet (once it failed so). */
	ck_assert_int_eq(poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, 5000), 1);
	while (!(poll_revents(fd) & POLLHUP))
		usleep(1000);
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), on ? 0 : -EINVAL);
	if (on) {
		ck_assert_uint_eq(ib, 0);
		ck_assert_uint_eq(db, mock_stream_size(SIZE));
	}
	ck_assert_int_eq(drain(dev, fd, &b, 1 << 16), 0);
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), on ? 0 : -EINVAL);
	if (on) {
		ck_assert_uint_eq(ib, 0);
		ck_assert_uint_eq(db, 0);
	}
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	/* outside STOP_COPY the rule holds */
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), -EINVAL);
	close(fd);
	free(b.p);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_bug_precopy_info_anywhere)
{
	precopy_anywhere_case(false);
	precopy_anywhere_case(true);
}
END_TEST

static void initial_grows_case(bool on)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = open_bug(ctx, "ig", SIZE_SPEC, "initial-grows", on);
	uint64_t ib, db;
	uint8_t tmp[1000];
	int fd;

	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	for (uint64_t i = 0; i < 3; i++) {
		ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
		ck_assert_uint_eq(ib, INITIAL + (on ? 4096 * i : 0));
		ck_assert_uint_eq(db, 0);
	}
	ck_assert_int_eq(rd(dev, fd, tmp, sizeof(tmp)), (ssize_t)sizeof(tmp));
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
	ck_assert_uint_eq(ib, INITIAL - sizeof(tmp) + (on ? 4096 * 3 : 0));
	/* a new session counts afresh */
	ck_assert_int_eq(set_nofd(dev, S(RUNNING)), 0);
	close(fd);
	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
	ck_assert_uint_eq(ib, INITIAL);
	close(fd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_bug_initial_grows)
{
	initial_grows_case(false);
	initial_grows_case(true);
}
END_TEST

/* Ends a saving session from @start with a SET to @end; reads its fd. */
static void ended_read(struct vfiomig_dev *dev, enum vfiomig_state from,
		       enum vfiomig_state start, enum vfiomig_state end, ssize_t want)
{
	uint8_t c;
	int fd;

	ck_assert_int_eq(set_nofd(dev, from), 0);
	ck_assert_int_eq(set_state(dev, start, &fd), 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(set_nofd(dev, end), 0);
	ck_assert_int_eq(rd(dev, fd, &c, 1), want);
	close(fd);
}

static void ended_fd_case(bool on)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = open_bug(ctx, "ef", SIZE_SPEC, "ended-fd-alive", on);
	ssize_t want = on ? 0 : -ENODEV;
	uint8_t c;
	int fd;

	ended_read(dev, S(STOP), S(STOP_COPY), S(STOP), want);
	ended_read(dev, S(RUNNING), S(PRE_COPY), S(RUNNING), want);
	ended_read(dev, S(RUNNING_P2P), S(PRE_COPY_P2P), S(RUNNING_P2P), want);
	/* a session a reset ended is still ENODEV */
	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_int_eq(rd(dev, fd, &c, 1), -ENODEV);
	close(fd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_bug_ended_fd_alive)
{
	ended_fd_case(false);
	ended_fd_case(true);
}
END_TEST

static void write_split_case(bool on)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = open_bug(ctx, "ws", SIZE_SPEC ",state=STOP", "write-split", on);
	struct blob b = { 0 };
	size_t off = 0;
	int fd;

	good_stream(ctx, &b);
	ck_assert_int_eq(set_state(dev, S(RESUMING), &fd), 0);
	/* a 4-byte write: refused whole, or taken */
	ck_assert_int_eq(wr(dev, fd, b.p, 4), on ? -EINVAL : 4);
	off = on ? 0 : 4;
	/* 8 bytes and more are unaffected */
	ck_assert_int_eq(wr(dev, fd, b.p + off, 8), 8);
	off += 8;
	while (off < b.len) {
		size_t n = b.len - off < 65536 ? b.len - off : 65536;
		ssize_t w = wr(dev, fd, b.p + off, n);

		ck_assert_int_gt(w, 0);
		off += (size_t)w;
	}
	/* nothing of the refused write reached the device */
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	close(fd);
	free(b.p);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_bug_write_split)
{
	write_split_case(false);
	write_split_case(true);
}
END_TEST

/* ---- VFIO_DEVICE_RESET ---- */

static void reset_sticks_case(bool on)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = open_bug(ctx, "rs", SIZE_SPEC, "reset-sticks", on);
	uint8_t c;
	int fd;

	ck_assert_int_eq(set_state(dev, S(PRE_COPY_P2P), &fd), 0);
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_int_eq(get_state(dev), on ? S(PRE_COPY_P2P) : S(RUNNING));
	ck_assert_int_eq(rd(dev, fd, &c, 1), on ? 1 : -ENODEV);
	close(fd);
	/* from any other state the reset works */
	ck_assert_int_eq(set_nofd(dev, S(RUNNING_P2P)), 0);
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_int_eq(get_state(dev), S(RUNNING));
	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_int_eq(get_state(dev), S(RUNNING));
	ck_assert_int_eq(rd(dev, fd, &c, 1), -ENODEV);
	close(fd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_bug_reset_sticks)
{
	reset_sticks_case(false);
	reset_sticks_case(true);
}
END_TEST

static void reset_keeps_fds_case(bool on)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = open_bug(ctx, "rk", SIZE_SPEC ",state=STOP",
					   "reset-keeps-fds", on);
	struct blob b = { 0 };
	int fd;

	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), 0);
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_int_eq(get_state(dev), S(RUNNING));
	/* the stream goes on to its EOF, or the session is gone */
	ck_assert_int_eq(drain(dev, fd, &b, 1 << 16), on ? 0 : -ENODEV);
	ck_assert_uint_eq(b.len, on ? mock_stream_size(SIZE) : 0);
	close(fd);
	free(b.p);
	/* the device itself is fine: a new session works */
	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_ge(fd, 0);
	close(fd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_bug_reset_keeps_fds)
{
	reset_keeps_fds_case(false);
	reset_keeps_fds_case(true);
}
END_TEST

/* ---- RESUMING -> STOP ---- */

static void no_run_case(bool on)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = open_bug(ctx, "nr", SIZE_SPEC ",state=STOP",
					   "no-run-after-load", on);
	struct blob b = { 0 };

	good_stream(ctx, &b);
	for (int i = 0; i < 2; i++) {	/* once per load */
		ck_assert_int_eq(load(dev, b.p, b.len, 65536), 0);
		ck_assert_int_eq(set_nofd(dev, S(RUNNING)), on ? -EIO : 0);
		ck_assert_int_eq(get_state(dev), on ? S(STOP) : S(RUNNING));
		ck_assert_int_eq(set_nofd(dev, S(RUNNING)), 0);
		ck_assert_int_eq(get_state(dev), S(RUNNING));
		ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	}
	/* RUNNING_P2P is refused the same way */
	ck_assert_int_eq(load(dev, b.p, b.len, 65536), 0);
	ck_assert_int_eq(set_nofd(dev, S(RUNNING_P2P)), on ? -EIO : 0);
	ck_assert_int_eq(get_state(dev), on ? S(STOP) : S(RUNNING_P2P));
	free(b.p);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_bug_no_run_after_load)
{
	no_run_case(false);
	no_run_case(true);
}
END_TEST

static void load_once_case(bool on)
{
	struct arcs a = { 0 };
	struct vfiomig_ctx *ctx = new_ctx(&a);
	struct vfiomig_dev *dev = open_bug(ctx, "lo", SIZE_SPEC ",state=STOP", "load-once", on);
	struct blob b = { 0 };

	good_stream(ctx, &b);
	ck_assert_int_eq(load(dev, b.p, b.len, 65536), 0);
	ck_assert_int_eq(load(dev, b.p, b.len, 65536), on ? -EINVAL : 0);
	ck_assert_int_eq(get_state(dev), on ? S(RESUMING) : S(STOP));
	if (on) {
		ck_assert_ptr_nonnull(strstr(a.last, "load-once"));
		ck_assert_int_eq(reset(dev), 0);
		ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
		ck_assert_int_eq(load(dev, b.p, b.len, 65536), -EINVAL);
	}
	free(b.p);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_bug_load_once)
{
	load_once_case(false);
	load_once_case(true);
}
END_TEST

static void accepts_truncated_case(bool on)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = open_bug(ctx, "at", SIZE_SPEC ",state=STOP",
					   "accepts-truncated", on);
	struct blob b = { 0 };

	good_stream(ctx, &b);
	/* stops half-way through: the kernel refuses it */
	ck_assert_int_eq(load(dev, b.p, b.len / 2, 65536), on ? 0 : -EINVAL);
	ck_assert_int_eq(get_state(dev), on ? S(STOP) : S(RESUMING));
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	/* a wrong byte is refused either way, even in a short stream */
	b.p[MOCK_HDR_SIZE + MOCK_SEG_SIZE + 100] ^= 1;
	ck_assert_int_eq(load(dev, b.p, b.len / 2, 65536), -EINVAL);
	ck_assert_int_eq(get_state(dev), S(RESUMING));
	free(b.p);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_bug_accepts_truncated)
{
	accepts_truncated_case(false);
	accepts_truncated_case(true);
}
END_TEST

static void accepts_garbage_case(bool on)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = open_bug(ctx, "ag", SIZE_SPEC ",state=STOP",
					   "accepts-garbage", on);
	size_t full = mock_stream_size(SIZE);
	uint8_t *junk = malloc(full);

	ck_assert_ptr_nonnull(junk);
	memset(junk, 0xa5, full);
	/* the kernel's write() refuses the header (mtty's EFAULT) */
	ck_assert_int_eq(load(dev, junk, full, 65536), on ? 0 : -EFAULT);
	ck_assert_int_eq(get_state(dev), on ? S(STOP) : S(RESUMING));
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	/* one byte short is refused as truncated, with the bug too */
	ck_assert_int_eq(load(dev, junk, full - 1, 65536), on ? -EINVAL : -EFAULT);
	ck_assert_int_eq(get_state(dev), S(RESUMING));
	free(junk);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_bug_accepts_garbage)
{
	accepts_garbage_case(false);
	accepts_garbage_case(true);
}
END_TEST

/* ---- close and reopen ---- */

/*
 * Through vfiomig_dev_open(), as a program reopens a device.  4M: more
 * than a pipe holds, so an old save fd of a freed device cannot read the
 * whole stream out of its pipe.
 */
#define KSIZE (4u << 20)

static struct vfiomig_dev *open_pub(struct vfiomig_ctx *ctx, const char *bug, bool on)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "mock:ks,size=4M%s%s", on ? ",bug=" : "", on ? bug : "");
	return dev_open(ctx, buf);
}

static void keeps_state_case(bool on)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = open_pub(ctx, "keeps-state", on);
	uint8_t buf[100];
	int fd;

	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), 0);
	ck_assert_int_eq(rd(dev, fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	vfiomig_dev_unref(dev);
	ck_assert_uint_eq(vfiomig_mock_count(ctx), 0);	/* no handle is open */
	dev = open_pub(ctx, "keeps-state", on);
	ck_assert_int_eq(get_state(dev), on ? S(STOP_COPY) : S(RUNNING));
	ck_assert(dev->stale_session == on);	/* dev.c noticed */
	/* the old session is over, on the new handle too; without the bug
	 * it is a freed device's, whose file the kernel disabled */
	ck_assert_int_eq(rd(dev, fd, buf, sizeof(buf)), -ENODEV);
	close(fd);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	/* a resume session ends as well */
	ck_assert_int_eq(set_state(dev, S(RESUMING), &fd), 0);
	vfiomig_dev_unref(dev);
	dev = open_pub(ctx, "keeps-state", on);
	ck_assert_int_eq(get_state(dev), on ? S(RESUMING) : S(RUNNING));
	ck_assert_int_eq(wr(dev, fd, "VFIOMOCK", 8), -ENODEV);
	close(fd);
	vfiomig_dev_unref(dev);
	/* the same NAME without the bug is a device of its own */
	dev = open_pub(ctx, NULL, false);
	ck_assert_int_eq(get_state(dev), S(RUNNING));
	vfiomig_dev_unref(dev);
	/* a device still kept is freed with the ctx (ASan checks) */
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_bug_keeps_state)
{
	keeps_state_case(false);
	keeps_state_case(true);
}
END_TEST

static void keeps_sessions_case(bool on)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = open_pub(ctx, "keeps-sessions", on);
	struct blob b = { 0 }, s = { 0 };
	uint8_t buf[100];
	int fd;

	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), 0);
	ck_assert_int_eq(rd(dev, fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	blob_add(&b, buf, sizeof(buf));
	vfiomig_dev_unref(dev);
	dev = open_pub(ctx, "keeps-sessions", on);
	ck_assert_int_eq(get_state(dev), on ? S(STOP_COPY) : S(RUNNING));
	/* the old fd goes on through the new handle, to the whole stream;
	 * without the bug the freed device's file is disabled */
	if (on) {
		ck_assert_int_eq(drain(dev, fd, &b, 1 << 16), 0);
		ck_assert_uint_eq(b.len, mock_stream_size(KSIZE));
	} else {
		ck_assert_int_eq(rd(dev, fd, buf, sizeof(buf)), -ENODEV);
	}
	close(fd);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);

	/* a load split across the close */
	stream_of(ctx, KSIZE, &s);
	ck_assert_int_eq(set_state(dev, S(RESUMING), &fd), 0);
	ck_assert_int_eq(wr(dev, fd, s.p, 1000), 1000);
	vfiomig_dev_unref(dev);
	dev = open_pub(ctx, "keeps-sessions", on);
	ck_assert_int_eq(get_state(dev), on ? S(RESUMING) : S(RUNNING));
	if (on) {
		for (size_t off = 1000; off < s.len;) {
			size_t n = s.len - off < 65536 ? s.len - off : 65536;
			ssize_t w = wr(dev, fd, s.p + off, n);

			ck_assert_int_gt(w, 0);
			off += (size_t)w;
		}
		ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	} else {
		ck_assert_int_eq(wr(dev, fd, s.p + 1000, 64), -ENODEV);
	}
	close(fd);
	free(b.p);
	free(s.p);
	/* a session still open when the ctx goes is freed with it */
	ck_assert_int_eq(set_nofd(dev, S(RUNNING)), 0);
	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	vfiomig_dev_unref(dev);
	close(fd);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_bug_keeps_sessions)
{
	keeps_sessions_case(false);
	keeps_sessions_case(true);
}
END_TEST

/* ---- the spec ---- */

START_TEST(test_bug_spec)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev;
	const char *err;

	ck_assert_int_eq(vfiomig_dev_open(ctx, "mock:a,bug=nonsense", &dev), -EINVAL);
	err = vfiomig_ctx_get_error(ctx);
	ck_assert_msg(strstr(err, "unknown bug= name 'nonsense'"), "%s", err);
	for (unsigned int b = 0; b < MOCK_BUG_COUNT; b++)
		ck_assert_msg(strstr(err, mock_bug_name(b)), "'%s' lacks %s", err,
			      mock_bug_name(b));
	/* the same name twice is harmless; case and '_' do not matter */
	dev = mock_open(ctx, "a,bug=size-lies,bug=SIZE_LIES");
	ck_assert_uint_eq(((struct vfiomig_mock *)dev->priv)->spec.bugs,
			  1u << MOCK_BUG_SIZE_LIES);
	vfiomig_dev_unref(dev);
	/* keeps-sessions is keeps-state and more */
	dev = mock_open(ctx, "a,bug=keeps-sessions");
	ck_assert_uint_eq(((struct vfiomig_mock *)dev->priv)->spec.bugs,
			  (1u << MOCK_BUG_KEEPS_SESSIONS) | (1u << MOCK_BUG_KEEPS_STATE));
	vfiomig_dev_unref(dev);
	/* at most 8 */
	dev = mock_open(ctx, "a,bug=flags,bug=flags,bug=flags,bug=flags,bug=flags,"
			"bug=flags,bug=flags,bug=flags");
	vfiomig_dev_unref(dev);
	ck_assert_int_eq(vfiomig_mock_open(ctx, "a,bug=flags,bug=flags,bug=flags,"
					   "bug=flags,bug=flags,bug=flags,bug=flags,"
					   "bug=flags,bug=flags", &dev), -EINVAL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "at most 8"));
	ck_assert_int_eq(vfiomig_mock_open(ctx, "a,bug=", &dev), -EINVAL);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- requests that crash some kernels: the mock aborts ---- */

/* STOP_COPY -> PRE_COPY: EINVAL from a fixed kernel, a hang (abort) from an unfixed one. */
static void hang_case(bool on)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = open_bug(ctx, "h", SIZE_SPEC, "hang-arc", on);
	int fd;

	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), 0);
	ck_assert_int_eq(set_nofd(dev, S(PRE_COPY)), -EINVAL);	/* aborts with the bug */
	close(fd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_bug_hang_arc_off)
{
	hang_case(false);
}
END_TEST

START_TEST(test_bug_hang_arc)
{
	hang_case(true);
}
END_TEST

/* RESUMING -> STOP on a session a close ended: refused as bad data, or an oops (abort). */
static void stale_case(bool on)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = open_pub(ctx, on ? "keeps-state,bug=stale-oops" : "keeps-state",
					   true);
	int fd, r;

	ck_assert_int_eq(set_state(dev, S(RESUMING), &fd), 0);
	close(fd);
	vfiomig_dev_unref(dev);
	dev = open_pub(ctx, on ? "keeps-state,bug=stale-oops" : "keeps-state", true);
	ck_assert_int_eq(get_state(dev), S(RESUMING));
	/* a reset is always safe */
	ck_assert_int_eq(vfiomig_dev_reset(dev), 0);
	ck_assert_int_eq(set_state(dev, S(RESUMING), &fd), 0);
	close(fd);
	vfiomig_dev_unref(dev);
	dev = open_pub(ctx, on ? "keeps-state,bug=stale-oops" : "keeps-state", true);
	/* aborts with the bug; without it, the load of nothing is the mock's to judge */
	r = set_nofd(dev, S(STOP));
	ck_assert(r == 0 || r == -EINVAL);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_bug_stale_oops_off)
{
	stale_case(false);
}
END_TEST

START_TEST(test_bug_stale_oops)
{
	stale_case(true);
}
END_TEST

static Suite *bugs_suite(void)
{
	Suite *s = suite_create("mock-bugs");
	TCase *tc = tcase_create("bugs");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_bug_flags);
	tcase_add_test(tc, test_bug_size_lies);
	tcase_add_test(tc, test_bug_probe_lies);
	tcase_add_test(tc, test_bug_infov2_einval);
	tcase_add_test(tc, test_bug_wrong_arc);
	tcase_add_test(tc, test_bug_accepts_error);
	tcase_add_test(tc, test_bug_failed_set_wrong);
	tcase_add_test(tc, test_bug_no_eof);
	tcase_add_test(tc, test_bug_precopy_info_anywhere);
	tcase_add_test(tc, test_bug_initial_grows);
	tcase_add_test(tc, test_bug_ended_fd_alive);
	tcase_add_test(tc, test_bug_write_split);
	tcase_add_test(tc, test_bug_reset_sticks);
	tcase_add_test(tc, test_bug_reset_keeps_fds);
	tcase_add_test(tc, test_bug_no_run_after_load);
	tcase_add_test(tc, test_bug_load_once);
	tcase_add_test(tc, test_bug_accepts_truncated);
	tcase_add_test(tc, test_bug_accepts_garbage);
	tcase_add_test(tc, test_bug_keeps_state);
	tcase_add_test(tc, test_bug_keeps_sessions);
	tcase_add_test(tc, test_bug_spec);
	tcase_add_test(tc, test_bug_hang_arc_off);
	tcase_add_test_raise_signal(tc, test_bug_hang_arc, SIGABRT);
	tcase_add_test(tc, test_bug_stale_oops_off);
	tcase_add_test_raise_signal(tc, test_bug_stale_oops, SIGABRT);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(bugs_suite());
}
