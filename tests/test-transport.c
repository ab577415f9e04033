// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * dev.c's side of the transport seam (lib/core/transport.h): the order in which
 * the last unref lets go of a device.  A transport of this test's own
 * records what its release() finds.  The kernel needs the device fd closed
 * before the transport lets go of what holds the device: it refuses
 * VFIO_GROUP_UNSET_CONTAINER while a device of the group is open
 * (vfio_group_ioctl_unset_container(), EBUSY), as QEMU's
 * vfio_detach_device() knows.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test-util.h"
#include "dev.h"
#include "transport.h"

/* What release() found; setup() clears it. */
static struct {
	int calls;
	bool fd_open;
	void *priv;
} seen;

static void recording_release(struct vfiomig_dev *dev)
{
	seen.calls++;
	seen.fd_open = fcntl(dev->fd, F_GETFD) >= 0;
	seen.priv = dev->priv;
}

static const struct vfiomig_transport recording = { .release = recording_release };

static struct vfiomig_ctx *ctx;

static void setup(void)
{
	memset(&seen, 0, sizeof(seen));
	ck_assert_int_eq(test_ctx_new(&ctx), 0);
}

static void teardown(void)
{
	vfiomig_ctx_unref(ctx);
}

static struct vfiomig_dev *new_dev(int fd, bool owns_fd)
{
	struct vfiomig_dev *dev = NULL;

	ck_assert_int_eq(vfiomig_dev_new(ctx, &recording, "recording", fd, owns_fd, "rec",
					 &dev), 0);
	dev->priv = &seen;
	return dev;
}

/* A device fd the library owns is closed before the transport's release. */
START_TEST(test_owned_fd_closed_before_release)
{
	int fd = memfd_create("device", MFD_CLOEXEC);
	struct vfiomig_dev *dev;

	ck_assert_int_ge(fd, 0);
	dev = new_dev(fd, true);
	vfiomig_dev_ref(dev);
	vfiomig_dev_unref(dev);
	ck_assert_int_eq(seen.calls, 0);	/* not the last reference */
	ck_assert_int_ge(fcntl(fd, F_GETFD), 0);
	vfiomig_dev_unref(dev);
	ck_assert_int_eq(seen.calls, 1);
	ck_assert_ptr_eq(seen.priv, &seen);
	ck_assert_msg(!seen.fd_open, "release() ran while the device fd was still open");
	ck_assert_int_lt(fcntl(fd, F_GETFD), 0);
}
END_TEST

/* An adopted fd is the caller's: open at release, and open after. */
START_TEST(test_adopted_fd_left_open)
{
	int fd = memfd_create("device", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	vfiomig_dev_unref(new_dev(fd, false));
	ck_assert_int_eq(seen.calls, 1);
	ck_assert(seen.fd_open);
	ck_assert_int_ge(fcntl(fd, F_GETFD), 0);
	close(fd);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("transport");
	TCase *tc = tcase_create("release");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_owned_fd_closed_before_release);
	tcase_add_test(tc, test_adopted_fd_left_open);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
