// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench-vmsplice: could a save hand its record buffer to the stream pipe
 * with vmsplice() instead of copying it with write()?
 *
 * A pipe's reader may splice the pages on and hold them long after, so a
 * buffer handed over can never be written again.  The only safe form gives
 * the pages away: vmsplice(), then MADV_DONTNEED, so that the next record
 * lands in fresh pages.  This program moves the same bytes through a 1 MiB
 * pipe both ways, in alternating runs, with a reader thread that read()s
 * them out, and reports the median time of each and their ratio.
 * docs/performance.md quotes it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define RECORD (256u << 10)	/* the library's default buffer */
#define TOTAL (256u << 20)
#define REPS 5

static void *drain(void *arg)
{
	int fd = *(int *)arg;
	char *buf = malloc(RECORD);

	while (buf && read(fd, buf, RECORD) > 0)
		;
	free(buf);
	return NULL;
}

/* Hands @len bytes of @p to the pipe, then drops them from the process. */
static int give_away(int fd, char *p, size_t len)
{
	struct iovec v = { p, len };

	while (v.iov_len) {
		ssize_t n = vmsplice(fd, &v, 1, SPLICE_F_GIFT);

		if (n < 0)
			return -errno;
		v.iov_base = (char *)v.iov_base + n;
		v.iov_len -= (size_t)n;
	}
	return madvise(p, len, MADV_DONTNEED) < 0 ? -errno : 0;
}

static int copy_in(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One run: TOTAL bytes in RECORD pieces, each first "read from the device". */
static int run(bool gift, uint64_t *ret_ns)
{
	char *buf = mmap(NULL, RECORD, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int p[2], r = 0;
	pthread_t t;
	uint64_t t0;

	if (buf == MAP_FAILED || pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	if (pthread_create(&t, NULL, drain, &p[0]) != 0)
		return -EAGAIN;
	t0 = now_ns();
	for (size_t off = 0; off < TOTAL && r == 0; off += RECORD) {
		memset(buf, (int)(off / RECORD), RECORD);	/* the device read's copy */
		r = gift ? give_away(p[1], buf, RECORD) : copy_in(p[1], buf, RECORD);
	}
	close(p[1]);
	pthread_join(t, NULL);
	*ret_ns = now_ns() - t0;
	close(p[0]);
	munmap(buf, RECORD);
	return r;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	uint64_t ns[2][REPS];

	for (int i = 0; i < REPS; i++)
		for (int k = 0; k < 2; k++) {
			int gift = (i + k) % 2, r = run(gift, &ns[gift][i]);

			if (r < 0) {
				fprintf(stderr, "bench-vmsplice: %s\n", strerror(-r));
				return 1;
			}
		}
	for (int k = 0; k < 2; k++)
		qsort(ns[k], REPS, sizeof(ns[k][0]), cmp);
	printf("%u MiB in %u KiB records through a 1 MiB pipe, median of %d:\n",
	       TOTAL >> 20, RECORD >> 10, REPS);
	printf("  write()                        %6.2f GB/s\n", TOTAL / (double)ns[0][REPS / 2]);
	printf("  vmsplice() + MADV_DONTNEED     %6.2f GB/s\n", TOTAL / (double)ns[1][REPS / 2]);
	printf("  vmsplice / write               %6.3f\n", (double)ns[0][REPS / 2] / ns[1][REPS / 2]);
	return 0;
}
