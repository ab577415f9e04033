/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sized.c: the one growth rule of sz-prefixed structs. */
#ifndef VFIOMIG_SIZED_H
#define VFIOMIG_SIZED_H

#include "export.h"
#include <stddef.h>

/*
 * sized.c: the one growth rule of sz-prefixed structs (libbpf's).  In: a
 * shorter struct reads as zeros past its end; a longer one must be zero
 * past ours; -EINVAL otherwise.  Out: filled as far as the caller's sz.
 */
int sized_copy_in(void *dst, size_t dst_size, const void *src);
/* -EINVAL if @dst cannot hold even its sz. */
int sized_check_out(const void *dst);
void sized_copy_out(void *dst, const void *src, size_t src_size);

#endif
