/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The range list of a dirty-tracking session (dirty-ranges.c): sorted,
 * checked, and collapsed when there are more ranges than fit.  Pure code,
 * so that the unit tests and the fuzzer reach it without a device.
 */
#ifndef VFIOMIG_DIRTY_RANGES_H
#define VFIOMIG_DIRTY_RANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vfiomig/dirty.h>

/*
 * Checks @r (@n entries, in the caller's order) against @page_size, no
 * range empty, unaligned or wrapping, then sorts it by address and checks
 * that no two overlap.  0, or -EINVAL with the sentence in @why, which
 * names the range by its place in the caller's list or by its bounds.
 */
int dirty_ranges_sort_check(struct vfiomig_iova_range *r, size_t n, uint64_t page_size,
			    char *why, size_t why_len);

/*
 * Collapses sorted, checked @r in place to at most @max (>= 1) ranges, as
 * QEMU does: with 3 or more, one over what ends at or below 4 GiB, one over
 * what lies above, and one above the widest gap up there; with 2, one on
 * each side of the widest gap; with 1, the hull.  Returns the new count.
 */
size_t dirty_ranges_collapse(struct vfiomig_iova_range *r, size_t n, size_t max);

/* The sum of the lengths: what a device is asked to track. */
uint64_t dirty_ranges_bytes(const struct vfiomig_iova_range *r, size_t n);

#endif
