/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared by the harnesses that read the stream format: configuration bits
 * 4-6 repair an input's checksums, numbering and trailer before it is read,
 * so that mutations get past the XXH3 checks, which a fuzzer cannot forge.
 */
#ifndef VFIOMIG_FUZZ_FIXUP_H
#define VFIOMIG_FUZZ_FIXUP_H

#include <stdbool.h>

#include "fuzz-common.h"
#include "stream.h"
#include "util.h"

#define CFG_FIX_SUMS 0x10u	/* every record's header and payload checksums */
#define CFG_FIX_SEQ 0x20u	/* the records' sequence numbers */
#define CFG_FIX_TRAILER 0x40u	/* the trailer's totals and whole-stream check */

/* Makes the checks that bits 4-6 ask for pass (or fail only by mutation). */
static inline void stream_fix_up(uint8_t *s, size_t size, unsigned int cfg)
{
	XXH3_state_t *chain;
	uint32_t seq = 0;
	size_t pos = STREAM_PREAMBLE_SIZE;

	if (size < STREAM_PREAMBLE_SIZE || !(cfg & (CFG_FIX_SUMS | CFG_FIX_SEQ | CFG_FIX_TRAILER)))
		return;
	chain = XXH3_createState();
	FUZZ_CHECK(chain);
	XXH3_64bits_reset(chain);
	XXH3_64bits_update(chain, s, STREAM_PREAMBLE_SIZE);
	while (size - pos >= STREAM_HEADER_SIZE) {
		uint8_t *h = s + pos, *p = h + STREAM_HEADER_SIZE;
		uint32_t len = get_le32(h + 8);
		bool whole = len <= size - pos - STREAM_HEADER_SIZE;

		if (cfg & CFG_FIX_SEQ)
			put_le32(h + 12, seq);
		if (whole && cfg & CFG_FIX_TRAILER && get_le16(h) == STREAM_TRAILER &&
		    len == STREAM_TRAILER_SIZE) {
			put_le64(p, pos);
			put_le64(p + 8, get_le32(h + 12));
			put_le64(p + 16, XXH3_64bits_digest(chain));
		}
		if (whole && cfg & CFG_FIX_SUMS)
			put_le64(h + 16, XXH3_64bits(p, len));
		if (cfg & CFG_FIX_SUMS)
			put_le64(h + 24, XXH3_64bits(h, 24));
		XXH3_64bits_update(chain, h, STREAM_HEADER_SIZE);
		seq++;
		if (!whole)
			break;
		pos += STREAM_HEADER_SIZE + len;
	}
	XXH3_freeState(chain);
}

#endif
