// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench-align: does the alignment of the buffer that read() fills matter to
 * the checksum that follows?
 *
 * A save or load reads 256 KiB from a pipe into its buffer and hashes it
 * with XXH3 at once, as the library does.  This program does that into a
 * buffer that starts at several offsets into a page: 0 (what
 * xfer_alloc_buffer() gives), 16 (what malloc() gives for a buffer this
 * large), 32 and 64.  It times the read() and the hash apart, alternating
 * the offsets, and reports the medians of each.  docs/performance.md
 * quotes it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#ifdef HAVE_XXH_X86DISPATCH
#include <xxh_x86dispatch.h>
#endif

#include "util.h"

#define RECORD (256u << 10)	/* the library's default buffer */
#define TOTAL (256u << 20)
#define REPS 5

static const unsigned int offsets[] = { 0, 16, 32, 64 };
#define NOFF (sizeof(offsets) / sizeof(offsets[0]))

static int read_all(int fd, uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = read(fd, p, len);

		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One run: TOTAL bytes through the pipe in RECORD pieces, each hashed. */
static int run(int p[2], const uint8_t *src, uint8_t *buf, uint64_t *read_ns,
	       uint64_t *hash_ns, volatile uint64_t *sink)
{
	*read_ns = *hash_ns = 0;
	for (size_t off = 0; off < TOTAL; off += RECORD) {
		uint64_t t0, t1;
		int r;

		/* Whole records fit the 1 MiB pipe, so the write never blocks. */
		if (write(p[1], src + off % (16u * RECORD), RECORD) != RECORD)
			return -EIO;
		t0 = now_ns();
		r = read_all(p[0], buf, RECORD);
		if (r < 0)
			return r;
		t1 = now_ns();
		*sink = XXH3_64bits(buf, RECORD);
		*read_ns += t1 - t0;
		*hash_ns += now_ns() - t1;
	}
	return 0;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	uint64_t rd[NOFF][REPS], hs[NOFF][REPS];
	volatile uint64_t sink;	/* keeps the hashes from being optimized away */
	void *src, *page;
	int p[2];

	if (posix_memalign(&src, 4096, 16u * RECORD) || posix_memalign(&page, 4096, RECORD + 4096) ||
	    pipe2(p, O_CLOEXEC) < 0 || fcntl(p[1], F_SETPIPE_SZ, 1 << 20) < 0) {
		fprintf(stderr, "bench-align: setting up: %s\n", strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < 16u * RECORD; i++)
		((uint8_t *)src)[i] = (uint8_t)(i * 2654435761u >> 13);
	memset(page, 0, RECORD + 4096);
	for (unsigned int i = 0; i < REPS; i++)
		for (unsigned int k = 0; k < NOFF; k++) {
			unsigned int o = (i + k) % NOFF;
			int r = run(p, src, (uint8_t *)page + offsets[o], &rd[o][i], &hs[o][i], &sink);

			if (r < 0) {
				fprintf(stderr, "bench-align: %s\n", strerror(-r));
				return 1;
			}
		}
	printf("%u MiB in %u KiB records: read() from a pipe, then XXH3, median of %d\n",
	       TOTAL >> 20, RECORD >> 10, REPS);
	printf("  offset in page   read() GB/s   XXH3 GB/s   XXH3 vs offset 0\n");
	for (unsigned int k = 0; k < NOFF; k++) {
		qsort(rd[k], REPS, sizeof(rd[k][0]), cmp);
		qsort(hs[k], REPS, sizeof(hs[k][0]), cmp);
		printf("  %14u %13.1f %11.1f %18.3f\n", offsets[k],
		       TOTAL / (double)rd[k][REPS / 2], TOTAL / (double)hs[k][REPS / 2],
		       (double)hs[0][REPS / 2] / (double)hs[k][REPS / 2]);
	}
	return 0;
}
