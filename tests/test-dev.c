/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The device API against the mock: transitions on every flag set, every
 * kind of injected fault, reset, recovery, adoption, errors and fd hygiene.
 */
#include <check.h>
#include <stdbool.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "test-util.h"
#include <vfiomig/vfiomig.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define S(x) VFIOMIG_STATE_##x

static const char *const flag_sets[] = {
	"stop_copy", "stop_copy+p2p", "stop_copy+pre_copy", "stop_copy+p2p+pre_copy",
};
static const uint64_t flag_values[] = { 1, 3, 5, 7 };

/* Moves @dev to @s, closing any data fd; fails the test if it cannot. */
static void go(struct vfiomig_dev *dev, enum vfiomig_state s)
{
	int fd = -1;

	ck_assert_msg(vfiomig_dev_set_state(dev, s, &fd) == 0, "-> %s failed",
		      vfiomig_state_name(s));
	if (fd >= 0)
		close(fd);
	ck_assert_int_eq(state_of(dev), s);
}

static bool has_state(uint64_t flags, enum vfiomig_state s)
{
	enum vfiomig_state next;

	return vfiomig_fsm_next(flags, s, s, &next) == 0;
}

/* A complete STOP_COPY stream of a 4 KiB mock, read with plain read(2). */
static size_t saved_state(uint64_t flags, char *buf, size_t size)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	char spec[96];
	size_t len = 0;
	ssize_t n;
	int fd;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	snprintf(spec, sizeof(spec), "mock:twin,size=4K,state=stop,flags=%s",
		 flag_sets[flags == 1 ? 0 : flags == 3 ? 1 : flags == 5 ? 2 : 3]);
	dev = open_dev(ctx, "%s", spec);
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(STOP_COPY), &fd), 0);
	while ((n = read(fd, buf + len, size - len)) > 0)
		len += (size_t)n;
	ck_assert_int_eq(n, 0);
	close(fd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
	return len;
}

/* Reaches @s from RUNNING; RESUMING is given a complete state, as the driver
 * validates it on the way out (mtty refuses RESUMING -> STOP otherwise). */
static void reach(struct vfiomig_dev *dev, enum vfiomig_state s, const char *state, size_t len)
{
	int fd = -1;

	ck_assert_int_eq(vfiomig_dev_set_state(dev, s, &fd), 0);
	if (s == S(RESUMING))
		ck_assert_int_eq(write(fd, state, len), (ssize_t)len);
	if (fd >= 0)
		close(fd);
	ck_assert_int_eq(state_of(dev), s);
}

/* Every pair (from, to) of requestable states, in both transition modes. */
static void check_pairs(int set, bool stepwise)
{
	uint64_t flags = flag_values[set];
	char spec[128], state[16384];
	size_t state_len = saved_state(flags, state, sizeof(state));
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	snprintf(spec, sizeof(spec), "mock:pairs,size=4K,flags=%s", flag_sets[set]);
	dev = open_dev(ctx, "%s", spec);
	vfiomig_dev_set_stepwise(dev, stepwise);

	for (int from = 1; from < VFIOMIG_STATE_COUNT; from++) {
		if (!has_state(flags, from))
			continue;
		for (int to = 1; to < VFIOMIG_STATE_COUNT; to++) {
			enum vfiomig_state path[8];
			int n, fd = -2, r;

			/* Reach @from from RUNNING; RESUMING and saving states need fresh sessions. */
			ck_assert_int_eq(vfiomig_dev_reset(dev), 0);
			reach(dev, from, state, state_len);
			n = vfiomig_fsm_path(flags, from, to, path, 8);
			r = vfiomig_dev_set_state(dev, to, &fd);
			if (n < 0 || !has_state(flags, to)) {
				ck_assert_msg(r == -EINVAL, "%s: %s -> %s gave %d, want -EINVAL",
					      flag_sets[set], vfiomig_state_name(from),
					      vfiomig_state_name(to), r);
				ck_assert_int_eq(state_of(dev), from);
				continue;
			}
			ck_assert_msg(r == 0, "%s: %s -> %s gave %d (%s)", flag_sets[set],
				      vfiomig_state_name(from), vfiomig_state_name(to), r,
				      vfiomig_ctx_get_error(ctx));
			ck_assert_int_eq(state_of(dev), to);
			ck_assert_msg((fd >= 0) == (n > 0 && vfiomig_fsm_arc_opens_fd(
						n > 1 ? path[n - 2] : (enum vfiomig_state)from, to)),
				      "%s: %s -> %s: data fd %d", flag_sets[set],
				      vfiomig_state_name(from), vfiomig_state_name(to), fd);
			if (fd >= 0)
				close(fd);
		}
	}
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_pairs)
{
	check_pairs(_i, false);
}
END_TEST

START_TEST(test_pairs_stepwise)
{
	check_pairs(_i, true);
}
END_TEST

START_TEST(test_probe)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	uint64_t flags, size;
	unsigned int caps;
	uint16_t vendor, device;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dev = open_dev(ctx, "mock:p");
	ck_assert_int_eq(vfiomig_dev_get_mig_flags(dev, &flags), 0);
	ck_assert_uint_eq(flags, 7);
	ck_assert_int_eq(vfiomig_dev_get_caps(dev, &caps), 0);
	ck_assert_uint_eq(caps & (VFIOMIG_CAP_MIG_DATA_SIZE | VFIOMIG_CAP_RESET_ADVERTISED |
				  VFIOMIG_CAP_DMA_LOGGING),
			  VFIOMIG_CAP_MIG_DATA_SIZE | VFIOMIG_CAP_RESET_ADVERTISED);
	ck_assert_int_eq(state_of(dev), S(RUNNING));
	ck_assert_int_eq(vfiomig_dev_get_stop_copy_size(dev, &size), 0);
	ck_assert_uint_gt(size, 64 * 1024);
	ck_assert_str_eq(vfiomig_dev_get_name(dev), "mock:p");
	ck_assert_str_eq(vfiomig_dev_get_transport(dev), "mock");
	ck_assert_str_eq(vfiomig_dev_get_driver(dev), "mock");
	ck_assert_int_eq(vfiomig_dev_get_pci_ids(dev, &vendor, NULL, NULL, NULL, NULL), -ENODATA);
	vfiomig_dev_unref(dev);

	dev = open_dev(ctx, "mock:q,flags=stop_copy,datasize=0,dirtylog=1,resetflag=0,state=stop,"
			    "pci=15b3:101e,driver=mlx5_vfio_pci");
	ck_assert_int_eq(vfiomig_dev_get_mig_flags(dev, &flags), 0);
	ck_assert_uint_eq(flags, 1);
	ck_assert_int_eq(vfiomig_dev_get_caps(dev, &caps), 0);
	ck_assert_uint_eq(caps & (VFIOMIG_CAP_MIG_DATA_SIZE | VFIOMIG_CAP_RESET_ADVERTISED |
				  VFIOMIG_CAP_DMA_LOGGING), VFIOMIG_CAP_DMA_LOGGING);
	ck_assert_int_eq(state_of(dev), S(STOP));
	ck_assert_int_eq(vfiomig_dev_get_stop_copy_size(dev, &size), -EOPNOTSUPP);
	ck_assert_int_eq(vfiomig_dev_get_pci_ids(dev, &vendor, &device, NULL, NULL, NULL), 0);
	ck_assert_uint_eq(vendor, 0x15b3);
	ck_assert_uint_eq(device, 0x101e);
	ck_assert_str_eq(vfiomig_dev_get_driver(dev), "mlx5_vfio_pci");
	/* Reset works although it is not advertised (mtty). */
	ck_assert_int_eq(vfiomig_dev_reset(dev), 0);
	ck_assert_int_eq(state_of(dev), S(RUNNING));
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* Arcs the library refuses never reach the device: an injected SET failure would show. */
START_TEST(test_refused_never_sent)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	int fd = -1;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dev = open_dev(ctx, "mock:r,state=stop");
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(STOP_COPY), &fd), 0);
	ck_assert_int_ge(fd, 0);
	vfiomig_dev_unref(dev);
	close(fd);

	dev = open_dev(ctx, "mock:r,state=stop,fail=set:2:EIO");
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(STOP_COPY), &fd), 0);
	close(fd);
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(PRE_COPY), &fd), -EINVAL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "STOP_COPY cannot go back"));
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(PRE_COPY_P2P), &fd), -EINVAL);
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(ERROR), &fd), -EINVAL);
	ck_assert_int_eq(vfiomig_dev_set_state(dev, (enum vfiomig_state)8, &fd), -EINVAL);
	ck_assert_int_eq(state_of(dev), S(STOP_COPY));
	/* The injected failure is still armed: this one reaches the device. */
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(STOP), &fd), -EIO);
	vfiomig_dev_unref(dev);

	dev = open_dev(ctx, "mock:r,flags=stop_copy,fail=set:1:EIO");
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(RUNNING_P2P), &fd), -EINVAL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "does not offer"));
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(PRE_COPY), &fd), -EINVAL);
	/* A data fd with nowhere to go is refused before anything is sent. */
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(STOP_COPY), NULL), -EINVAL);
	ck_assert_int_eq(state_of(dev), S(RUNNING));
	/* Same state: nothing to send, success. */
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(RUNNING), NULL), 0);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

struct set_fault {
	const char *leave;
	enum vfiomig_state start, target, after;
};

/* RUNNING -> STOP_COPY walks RUNNING_P2P > STOP > STOP_COPY on the full set. */
static const struct set_fault set_faults[] = {
	{ "unchanged", S(RUNNING), S(STOP_COPY), S(RUNNING) },
	{ "mid", S(RUNNING), S(STOP_COPY), S(STOP) },
	{ "error", S(RUNNING), S(STOP_COPY), S(ERROR) },
	{ "mid", S(STOP), S(RUNNING), S(RUNNING_P2P) },
	{ "error", S(STOP), S(RESUMING), S(ERROR) },
	{ "unchanged", S(RUNNING), S(PRE_COPY), S(RUNNING) },
};

#define ARRAY_LEN ((int)(sizeof(set_faults) / sizeof(set_faults[0])))

START_TEST(test_set_fault_and_recover)
{
	const struct set_fault *f = &set_faults[_i % ARRAY_LEN];
	bool stepwise = _i >= ARRAY_LEN;
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	enum vfiomig_state st = S(STOP_COPY);
	/* Stepwise, the failing request is the first arc alone: "mid" strands nothing. */
	enum vfiomig_state after = stepwise && !strcmp(f->leave, "mid") ? f->start : f->after;
	char spec[128];
	int fd = -1, before = count_fds();

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	snprintf(spec, sizeof(spec), "mock:f,state=%s,fail=set:1:EIO:%s",
		 vfiomig_state_name(f->start), f->leave);
	dev = open_dev(ctx, "%s", spec);
	vfiomig_dev_set_stepwise(dev, stepwise);
	ck_assert_int_eq(vfiomig_dev_set_state(dev, f->target, &fd), -EIO);
	ck_assert_int_eq(fd, -1);
	/* The message ends with the real state; a successful call then clears it. */
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), vfiomig_state_name(after)));
	ck_assert_int_eq(state_of(dev), after);
	ck_assert_ptr_null(vfiomig_ctx_get_error(ctx));

	/* Recovery resets whatever the failure left, and only then. */
	ck_assert_int_eq(vfiomig_dev_recover(dev, &st), 1);
	ck_assert_int_eq(st, S(RUNNING));
	ck_assert_int_eq(vfiomig_dev_recover(dev, &st), 0);
	ck_assert_int_eq(st, S(RUNNING));
	/* The device works afterwards. */
	go(dev, f->target);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

START_TEST(test_get_fault)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	enum vfiomig_state st;
	int fd = -1;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	/* GET 1 is the open's look for a stale session.  The first GET of
	 * set_state fails: nothing is sent. */
	dev = open_dev(ctx, "mock:g,fail=get:2:EIO,fail=set:1:ENOMEM");
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(STOP), &fd), -EIO);
	/* The SET fails, and so does the GET after it: the message says so. */
	vfiomig_dev_unref(dev);
	dev = open_dev(ctx, "mock:g,fail=set:1:ENOMEM,fail=get:3:EIO");
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(STOP), &fd), -ENOMEM);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "cannot be read back"));
	ck_assert_int_eq(vfiomig_dev_recover(dev, &st), 1);
	ck_assert_int_eq(st, S(RUNNING));
	vfiomig_dev_unref(dev);
	/* A failing GET during recovery still leads to a reset. */
	dev = open_dev(ctx, "mock:g,fail=get:2:EIO");
	ck_assert_int_eq(vfiomig_dev_recover(dev, &st), 1);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_reset_faults)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	enum vfiomig_state st;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dev = open_dev(ctx, "mock:x,fail=reset:1:EIO");
	ck_assert_int_eq(vfiomig_dev_reset(dev), -EIO);
	ck_assert_int_eq(vfiomig_dev_reset(dev), 0);
	vfiomig_dev_unref(dev);

	/* Contention is retried. */
	dev = open_dev(ctx, "mock:x,state=stop,fail=reset:1:EAGAIN,fail=reset:2:EAGAIN");
	ck_assert_int_eq(vfiomig_dev_reset(dev), 0);
	ck_assert_int_eq(state_of(dev), S(RUNNING));
	vfiomig_dev_unref(dev);

	/* No working reset: the message says so. */
	dev = open_dev(ctx, "mock:x,fail=reset:1:EINVAL");
	ck_assert_int_eq(vfiomig_dev_reset(dev), -EINVAL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "no working reset"));
	vfiomig_dev_unref(dev);

	/* A device in ERROR whose reset fails is left as it is. */
	dev = open_dev(ctx, "mock:x,state=error,fail=reset:1:EIO");
	st = S(STOP);
	ck_assert_int_eq(vfiomig_dev_recover(dev, &st), -EIO);
	ck_assert_int_eq(st, S(STOP));
	ck_assert_int_eq(state_of(dev), S(ERROR));
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(RUNNING), NULL), -EINVAL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "in ERROR"));
	ck_assert_int_eq(vfiomig_dev_recover(dev, &st), 1);
	ck_assert_int_eq(st, S(RUNNING));
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_reset_kills_data_fd)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	uint64_t initial = 0, dirty = 1;
	char buf[64];
	int fd = -1;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dev = open_dev(ctx, "mock:k,size=128K");
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vfiomig_dev_get_precopy_info(dev, fd, &initial, &dirty), 0);
	ck_assert_uint_gt(initial, 128 * 1024);
	ck_assert_uint_eq(dirty, 0);
	ck_assert_int_eq(vfiomig_dev_reset(dev), 0);
	ck_assert_int_eq(state_of(dev), S(RUNNING));
	/* mtty checks the state before the file: EINVAL, then reads give ENODEV. */
	ck_assert_int_eq(vfiomig_dev_get_precopy_info(dev, fd, &initial, &dirty), -EINVAL);
	ck_assert_int_eq(vfiomig_data_read(dev, fd, buf, sizeof(buf), VFIOMIG_READ_PRECOPY), -ENODEV);
	close(fd);
	/* PRECOPY_INFO is valid only in the PRE_COPY states. */
	go(dev, S(STOP));
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(STOP_COPY), &fd), 0);
	ck_assert_int_eq(vfiomig_dev_get_precopy_info(dev, fd, &initial, &dirty), -EINVAL);
	close(fd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* mtty refuses RESUMING -> STOP on short data and stays RESUMING; recovery resets. */
START_TEST(test_resuming_without_data)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	enum vfiomig_state st;
	int fd = -1;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dev = open_dev(ctx, "mock:empty,state=stop");
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(RESUMING), &fd), 0);
	close(fd);
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(RUNNING), NULL), -EINVAL);
	ck_assert_int_eq(state_of(dev), S(RESUMING));
	ck_assert_int_eq(vfiomig_dev_recover(dev, &st), 1);
	ck_assert_int_eq(st, S(RUNNING));
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_feature_faults)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	uint64_t v;
	int fd = -1;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dev = open_dev(ctx, "mock:d,fail=datasize:1:EIO,fail=precopy:1:EIO");
	ck_assert_int_eq(vfiomig_dev_get_stop_copy_size(dev, &v), -EIO);
	ck_assert_int_eq(vfiomig_dev_get_stop_copy_size(dev, &v), 0);
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(vfiomig_dev_get_precopy_info(dev, fd, &v, NULL), -EIO);
	ck_assert_int_eq(vfiomig_dev_get_precopy_info(dev, fd, &v, NULL), 0);
	close(fd);
	vfiomig_dev_unref(dev);

	/* Opening fails cleanly when the very first feature call fails. */
	ck_assert_int_eq(vfiomig_dev_open(ctx, "mock:d,fail=feature:1:EIO", &dev), -EIO);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "migration flags"));
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* One device under several handles, specs and contexts; another is not it. */
START_TEST(test_is_same)
{
	struct vfiomig_ctx *ctx, *other;
	struct vfiomig_dev *a, *a2, *adopted, *elsewhere, *b;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	ck_assert_int_eq(test_ctx_new(&other), 0);
	a = open_dev(ctx, "mock:a");
	a2 = open_dev(ctx, "mock:a,size=1M");
	elsewhere = open_dev(other, "mock:a");
	b = open_dev(ctx, "mock:b");
	ck_assert_int_eq(vfiomig_dev_adopt(ctx, vfiomig_dev_get_fd(a), &adopted), 0);
	ck_assert_int_eq(vfiomig_dev_is_same(a, a), 1);
	ck_assert_int_eq(vfiomig_dev_is_same(a, a2), 1);
	ck_assert_int_eq(vfiomig_dev_is_same(a2, adopted), 1);
	ck_assert_int_eq(vfiomig_dev_is_same(a, elsewhere), 1);
	ck_assert_int_eq(vfiomig_dev_is_same(a, b), 0);
	ck_assert_int_eq(vfiomig_dev_is_same(b, adopted), 0);
	ck_assert_int_eq(vfiomig_dev_is_same(a, NULL), -EINVAL);
	ck_assert_int_eq(vfiomig_dev_is_same(NULL, a), -EINVAL);
	vfiomig_dev_unref(adopted);
	vfiomig_dev_unref(a);
	vfiomig_dev_unref(a2);
	vfiomig_dev_unref(b);
	vfiomig_dev_unref(elsewhere);
	vfiomig_ctx_unref(other);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_adopt)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev, *adopted = NULL;
	int fd, pipefd[2], before = count_fds();

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	dev = open_dev(ctx, "mock:owner");
	fd = vfiomig_dev_get_fd(dev);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vfiomig_dev_adopt(ctx, fd, &adopted), 0);
	/* Both handles drive the same device. */
	go(adopted, S(STOP));
	ck_assert_int_eq(state_of(dev), S(STOP));
	vfiomig_dev_unref(adopted);
	ck_assert_int_ge(fcntl(fd, F_GETFD), 0);
	ck_assert_int_eq(state_of(dev), S(STOP));
	vfiomig_dev_unref(dev);
	ck_assert_int_eq(count_fds(), before);

	/* Not a VFIO device. */
	ck_assert_int_eq(pipe(pipefd), 0);
	ck_assert_int_eq(vfiomig_dev_adopt(ctx, pipefd[0], &adopted), -ENOTTY);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "not a VFIO device"));
	ck_assert_int_ge(fcntl(pipefd[0], F_GETFD), 0);
	close(pipefd[0]);
	close(pipefd[1]);
	ck_assert_int_eq(vfiomig_dev_adopt(ctx, pipefd[0], &adopted), -EBADF);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_open_errors)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev = NULL;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	ck_assert_int_eq(vfiomig_dev_open(ctx, "eth0", &dev), -EINVAL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "not a device"));
	ck_assert_int_eq(vfiomig_dev_open(ctx, "0000:ff:1f.7", &dev), -ENODEV);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "no such device"));
	ck_assert_int_eq(vfiomig_dev_open(ctx, "mock:a,bogus=1", &dev), -EINVAL);
	ck_assert_int_eq(vfiomig_dev_open(ctx, "mock:a,flags=p2p", &dev), -EINVAL);
	ck_assert_int_eq(vfiomig_dev_open(ctx, "mock:a,state=stop_copy", &dev), -EINVAL);
	ck_assert_int_eq(vfiomig_dev_open(ctx, "mock:a,size=0", &dev), -EINVAL);
	ck_assert_int_eq(vfiomig_dev_open(NULL, "mock:a", &dev), -EINVAL);
	ck_assert_int_eq(vfiomig_dev_open(ctx, NULL, &dev), -EINVAL);
	ck_assert_ptr_null(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

struct log_seen {
	int count, last_prio;
};

static void log_fn(void *data, int prio, const char *msg)
{
	struct log_seen *seen = data;

	ck_assert_ptr_nonnull(msg);
	seen->count++;
	seen->last_prio = prio;
}

START_TEST(test_log_and_lifetime)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	struct log_seen seen = { 0 };

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	ck_assert_ptr_null(vfiomig_ctx_get_error(ctx));
	ck_assert_int_eq(vfiomig_ctx_get_log_priority(ctx), LOG_ERR);
	vfiomig_ctx_set_log_fn(ctx, log_fn, &seen);
	dev = open_dev(ctx, "mock:l");
	ck_assert_int_eq(seen.count, 0);	/* debug messages are filtered */
	vfiomig_ctx_set_log_priority(ctx, LOG_DEBUG);
	go(dev, S(STOP));
	ck_assert_int_gt(seen.count, 0);
	ck_assert_int_eq(seen.last_prio, LOG_DEBUG);
	/* A failure is returned, not logged at LOG_ERR: nothing passes the filter. */
	vfiomig_ctx_set_log_priority(ctx, LOG_ERR);
	seen.count = 0;
	ck_assert_int_eq(vfiomig_dev_set_state(dev, S(ERROR), NULL), -EINVAL);
	ck_assert_int_eq(seen.count, 0);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "ERROR cannot be requested"));
	/* The device keeps its context alive. */
	vfiomig_ctx_set_log_fn(ctx, NULL, NULL);
	ck_assert_ptr_null(vfiomig_ctx_unref(ctx));
	go(dev, S(RUNNING));
	ck_assert_ptr_null(vfiomig_dev_unref(dev));
	ck_assert_ptr_null(vfiomig_dev_unref(NULL));
	ck_assert_ptr_null(vfiomig_ctx_unref(NULL));
}
END_TEST

START_TEST(test_no_fd_leak)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	int before = count_fds(), fd;

	for (int round = 0; round < 3; round++) {
		ck_assert_int_eq(test_ctx_new(&ctx), 0);
		dev = open_dev(ctx, "mock:leak,size=1M");
		ck_assert_int_eq(vfiomig_dev_set_state(dev, S(PRE_COPY), &fd), 0);
		close(fd);
		ck_assert_int_eq(vfiomig_dev_set_state(dev, S(RUNNING), NULL), 0);
		go(dev, S(STOP));
		ck_assert_int_eq(vfiomig_dev_set_state(dev, S(RESUMING), &fd), 0);
		/* A session left open at reset and at unref. */
		ck_assert_int_eq(vfiomig_dev_reset(dev), 0);
		close(fd);
		ck_assert_int_eq(vfiomig_dev_set_state(dev, S(PRE_COPY), &fd), 0);
		vfiomig_dev_unref(dev);
		close(fd);
		vfiomig_ctx_unref(ctx);
	}
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dev");
	TCase *tc = tcase_create("dev");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_pairs, 0, 4);
	tcase_add_loop_test(tc, test_pairs_stepwise, 0, 4);
	tcase_add_test(tc, test_probe);
	tcase_add_test(tc, test_refused_never_sent);
	tcase_add_loop_test(tc, test_set_fault_and_recover, 0, 2 * ARRAY_LEN);
	tcase_add_test(tc, test_get_fault);
	tcase_add_test(tc, test_reset_faults);
	tcase_add_test(tc, test_reset_kills_data_fd);
	tcase_add_test(tc, test_resuming_without_data);
	tcase_add_test(tc, test_feature_faults);
	tcase_add_test(tc, test_adopt);
	tcase_add_test(tc, test_is_same);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_log_and_lifetime);
	tcase_add_test(tc, test_no_fd_leak);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
