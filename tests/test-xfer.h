/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Saves into memory, and comparing two devices' states by their raw saves.
 * Define _GNU_SOURCE before any include (memfd_create()).
 */
#ifndef VFIOMIG_TEST_XFER_H
#define VFIOMIG_TEST_XFER_H

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test-util.h"

/*
 * A memfd holding a save of @src.  A fault armed for a sweep may fire here
 * once, after the transfer under test; the save then starts again.
 */
static inline int save_to_memfd(struct vfiomig_dev *src, const struct vfiomig_save_opts *so)
{
	int fd = memfd_create("stream", MFD_CLOEXEC);
	int r;

	ck_assert_int_ge(fd, 0);
	r = vfiomig_dev_save(src, fd, so);
	if (r < 0) {
		ck_assert_int_eq(ftruncate(fd, 0), 0);
		ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
		r = vfiomig_dev_save(src, fd, so);
	}
	ck_assert_msg(r == 0, "save: %d (%s)", r, vfiomig_ctx_get_error(NULL));
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static inline size_t read_all(int fd, char **ret)
{
	off_t len = lseek(fd, 0, SEEK_END);
	char *buf = malloc((size_t)len);

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(pread(fd, buf, (size_t)len, 0), len);
	*ret = buf;
	return (size_t)len;
}

static inline int memfd_of(const char *buf, size_t len)
{
	int fd = memfd_create("bytes", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* Raw saves of two devices are equal exactly when their states are. */
static inline void assert_same_state(struct vfiomig_ctx *ctx, struct vfiomig_dev *a, struct vfiomig_dev *b)
{
	struct vfiomig_save_opts raw = { .sz = sizeof(raw), .flags = VFIOMIG_XFER_RAW,
					 .leave = VFIOMIG_LEAVE_RUNNING };
	char *ba, *bb;
	size_t la, lb;
	int fa, fb;

	(void)ctx;
	fa = save_to_memfd(a, &raw);
	fb = save_to_memfd(b, &raw);
	la = read_all(fa, &ba);
	lb = read_all(fb, &bb);
	ck_assert_uint_eq(la, lb);
	ck_assert_msg(memcmp(ba, bb, la) == 0, "device states differ");
	free(ba);
	free(bb);
	close(fa);
	close(fb);
}

#endif
