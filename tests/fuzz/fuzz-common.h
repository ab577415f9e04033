/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared by the libFuzzer harnesses: the check macro and the splitter that
 * cuts an input into the pieces a read callback returns or a writer writes.
 */
#ifndef VFIOMIG_FUZZ_COMMON_H
#define VFIOMIG_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Not assert(): a harness must check in NDEBUG builds too. */
#define FUZZ_CHECK(cond)							\
	do {									\
		if (!(cond)) {							\
			fprintf(stderr, "%s:%d: invariant violated: %s\n",	\
				__FILE__, __LINE__, #cond);			\
			abort();						\
		}								\
	} while (0)

/* VFIOMIG_FUZZ_VERBOSE=1: say what each input did (for replaying seeds). */
static inline int fuzz_verbose(void)
{
	static int verbose = -1;

	if (verbose < 0) {
		const char *v = getenv("VFIOMIG_FUZZ_VERBOSE");

		verbose = v && *v && *v != '0';
	}
	return verbose;
}

/*
 * Piece sizes for a split mode (0..7):
 *   0: everything asked for at once;  1: one byte at a time;
 *   2..7: pseudo-random sizes of 1 .. 2^k bytes, k = 2, 4, 7, 10, 13, 16.
 * Deterministic for a given mode, so a reproducer replays exactly.
 */
struct splitter {
	unsigned int mode;
	uint64_t state;
};

static inline void splitter_init(struct splitter *s, unsigned int mode)
{
	s->mode = mode & 7;
	s->state = 0x9e3779b97f4a7c15ull * (s->mode + 1);
}

static inline size_t splitter_next(struct splitter *s, size_t want)
{
	static const unsigned int bits[8] = { 0, 0, 2, 4, 7, 10, 13, 16 };
	size_t n;

	if (s->mode == 0 || want == 0)
		return want;
	if (s->mode == 1)
		return 1;
	/* xorshift64 */
	s->state ^= s->state << 13;
	s->state ^= s->state >> 7;
	s->state ^= s->state << 17;
	n = 1 + (size_t)(s->state & ((1ull << bits[s->mode]) - 1));
	return n < want ? n : want;
}

#endif
