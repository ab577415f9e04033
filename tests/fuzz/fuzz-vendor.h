/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared by the vendor backends' harnesses: feeding one input through a
 * backend's parser in the pieces a split mode gives, with the invariants
 * every backend keeps whatever its format.
 */
#ifndef VFIOMIG_FUZZ_VENDOR_H
#define VFIOMIG_FUZZ_VENDOR_H

#include <errno.h>
#include <string.h>

#include "fuzz-common.h"
#include "vendor.h"

/* Feeds @s into @v (initialised for @ops) and finishes it; 0 or -errno. */
static inline int fuzz_vendor_feed(struct vendor_parser *v, const struct vfiomig_vendor_ops *ops,
				   const uint8_t *s, size_t size, unsigned int split)
{
	struct splitter sp;
	size_t fed = 0;
	int r = 0;

	splitter_init(&sp, split);
	while (fed < size && r == 0) {
		size_t n = splitter_next(&sp, size - fed);
		uint64_t before = v->offset;

		r = ops->feed(v, s + fed, n);
		FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -EPROTO);
		/* A failure always says what and where. */
		FUZZ_CHECK((r < 0) == (v->problem[0] != '\0'));
		FUZZ_CHECK(r < 0 ? v->offset <= before + n : v->offset == before + n);
		fed += n;
	}
	if (r == 0) {
		r = ops->finish(v);
		FUZZ_CHECK(r == 0 || r == -EBADMSG);
		FUZZ_CHECK((r < 0) == (v->problem[0] != '\0'));
	}
	return r;
}

#endif
