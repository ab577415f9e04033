/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest memory for the mock's DMA (dmafd=): needs _GNU_SOURCE before it. */
#ifndef VFIOMIG_TEST_GUEST_H
#define VFIOMIG_TEST_GUEST_H

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include <check.h>

/* A memfd of @size bytes standing for guest memory at IOVA 0. */
static inline int guest_memfd(uint64_t size)
{
	int fd = memfd_create("guest", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	return fd;
}

#endif
