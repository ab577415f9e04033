/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one growth rule of the public structs that start with a size_t sz. */
#include <string.h>

#include "sized.h"

int sized_copy_in(void *dst, size_t dst_size, const void *src)
{
	size_t src_size;

	memset(dst, 0, dst_size);
	if (!src)
		return 0;
	src_size = *(const size_t *)src;
	if (src_size < sizeof(size_t))
		return -EINVAL;
	/* What we know is copied even when the rest is refused, so that a
	 * refused call can still fill the caller's output structs. */
	memcpy(dst, src, src_size < dst_size ? src_size : dst_size);
	*(size_t *)dst = dst_size;
	/* A newer caller's fields we do not know must be unused. */
	for (size_t i = dst_size; i < src_size; i++)
		if (((const uint8_t *)src)[i])
			return -EINVAL;
	return 0;
}

int sized_check_out(const void *dst)
{
	return *(const size_t *)dst < sizeof(size_t) ? -EINVAL : 0;
}

void sized_copy_out(void *dst, const void *src, size_t src_size)
{
	size_t dst_size = *(const size_t *)dst;

	/* The caller's sz stays: it says what the caller can read.  Fields of
	 * a newer caller that this library does not know read as zero. */
	if (dst_size > src_size)
		memset((uint8_t *)dst + src_size, 0, dst_size - src_size);
	memcpy((uint8_t *)dst + sizeof(size_t), (const uint8_t *)src + sizeof(size_t),
	       (dst_size < src_size ? dst_size : src_size) - sizeof(size_t));
}
