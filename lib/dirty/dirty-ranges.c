// SPDX-License-Identifier: LGPL-2.1-or-later
/* The range list of a dirty-tracking session: checks and collapsing. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "dirty-ranges.h"
#include "util.h"

#define FOUR_GIB (1ull << 32)

static int by_iova(const void *a, const void *b)
{
	const struct vfiomig_iova_range *x = a, *y = b;

	return x->iova < y->iova ? -1 : x->iova > y->iova;
}

static int check_one(const struct vfiomig_iova_range *r, size_t i, uint64_t page_size,
		     char *why, size_t why_len)
{
	uint64_t end;
	const char *what = NULL;

	if (!r->length)
		what = "is empty";
	else if ((r->iova | r->length) & (page_size - 1))
		what = "is not aligned to the page size";
	else if (__builtin_add_overflow(r->iova, r->length, &end))
		what = "runs past the end of the 64-bit address space";	/* EOVERFLOW */
	if (!what)
		return 0;
	snprintf(why, why_len, "range %zu (iova 0x%" PRIx64 ", length 0x%" PRIx64 ") %s "
		 "(%" PRIu64 " %s): give page-aligned, non-empty ranges", i, r->iova,
		 r->length, what, page_size, plural(page_size, "byte", "bytes"));
	return -EINVAL;
}

int dirty_ranges_sort_check(struct vfiomig_iova_range *r, size_t n, uint64_t page_size,
			    char *why, size_t why_len)
{
	for (size_t i = 0; i < n; i++)
		if (check_one(&r[i], i, page_size, why, why_len))
			return -EINVAL;
	qsort(r, n, sizeof(*r), by_iova);
	for (size_t i = 1; i < n; i++) {
		if (r[i].iova >= r[i - 1].iova + r[i - 1].length)
			continue;
		snprintf(why, why_len, "ranges [0x%" PRIx64 ", +0x%" PRIx64 ") and [0x%" PRIx64
			 ", +0x%" PRIx64 ") overlap: list each page of guest memory once",
			 r[i - 1].iova, r[i - 1].length, r[i].iova, r[i].length);
		return -EINVAL;
	}
	return 0;
}

uint64_t dirty_ranges_bytes(const struct vfiomig_iova_range *r, size_t n)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += r[i].length;	/* below 2^64: they neither overlap nor wrap */
	return sum;
}

/* Merges sorted r[first..last] into r[out]: their hull. */
static void hull(struct vfiomig_iova_range *r, size_t first, size_t last, size_t out)
{
	uint64_t begin = r[first].iova;

	r[out].length = r[last].iova + r[last].length - begin;
	r[out].iova = begin;
}

/* The index after the widest gap in r[first..last] (first + 1 .. last). */
static size_t widest_gap(const struct vfiomig_iova_range *r, size_t first, size_t last)
{
	uint64_t best = 0;
	size_t at = first + 1;

	for (size_t i = first + 1; i <= last; i++) {
		uint64_t gap = r[i].iova - (r[i - 1].iova + r[i - 1].length);

		if (gap >= best) {
			best = gap;
			at = i;
		}
	}
	return at;
}

/* Cuts sorted r[0..n-1] into consecutive runs at @cuts and writes their hulls. */
static size_t hull_runs(struct vfiomig_iova_range *r, size_t n, const size_t *cuts, size_t ncuts)
{
	size_t out = 0, first = 0;

	for (size_t k = 0; k <= ncuts; k++) {
		size_t end = k < ncuts ? cuts[k] : n;

		if (end <= first)
			continue;
		hull(r, first, end - 1, out++);
		first = end;
	}
	return out;
}

size_t dirty_ranges_collapse(struct vfiomig_iova_range *r, size_t n, size_t max)
{
	size_t cuts[2], ncuts = 0, low = 0;

	if (n <= max)
		return n;
	if (max >= 3) {
		/* QEMU: the 32-bit ranges, the 64-bit ones, and the 64-bit PCI
		 * hole that OVMF puts far above them (mlx5 tracks 2^42 at most). */
		while (low < n && r[low].iova + r[low].length <= FOUR_GIB)
			low++;
		if (low > 0 && low < n)
			cuts[ncuts++] = low;
		if (n - low >= 2)
			cuts[ncuts++] = widest_gap(r, low, n - 1);
	} else if (max == 2) {
		cuts[ncuts++] = widest_gap(r, 0, n - 1);
	}
	return hull_runs(r, n, cuts, ncuts);
}
