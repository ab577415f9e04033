/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What save.c and load.c share: options, progress, stream fds, identity. */
#ifndef VFIOMIG_XFER_H
#define VFIOMIG_XFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "stream.h"

/*
 * Save and load each move the data on the calling thread through one
 * buffer: a save makes one record of each device read, a load verifies a
 * record and writes it to the device while it is still in this CPU's cache.
 * The overlap of the two fds comes from the kernel's buffering on both sides
 * (docs/migration.md, docs/performance.md).
 */
#define XFER_DEFAULT_BUFFER (256u << 10)
#define XFER_MIN_BUFFER 4096u
#define XFER_BUFFER_ALIGN 4096u

/* The I/O size for @buffer_size (0: the default); a record's at most. */
size_t xfer_buffer_size(size_t buffer_size, bool framed);

/* The call's one buffer; -ENOMEM with the device's error message set. */
int xfer_alloc_buffer(struct vfiomig_dev *dev, size_t size, uint8_t **ret);

struct xfer_progress {
	void (*fn)(void *userdata, const struct vfiomig_progress *p);
	void *userdata;
	struct vfiomig_progress p;
	uint64_t last_ns, last_bytes;
};

/* Reports at most every 100 ms, and always when @force (phase changes). */
void xfer_report(struct xfer_progress *x, bool force);

/*
 * write(2)s all of a and b to @fd, retrying short writes and EINTR.  With
 * @cancel, each write is tried with RWF_NOWAIT first, and only if it would
 * block (or the fd does not take the flag) does it wait in poll(2) for the
 * fd or the cancel object: a poll per write would cost a system call per
 * record.  Without, the writes may block; on a non-blocking fd, poll(2)
 * waits.
 */
int xfer_write_fd(int fd, const void *a, size_t alen, const void *b, size_t blen,
		  const struct vfiomig_cancel *cancel);
/* One read(2), the same way: bytes, 0 at EOF, -errno. */
ssize_t xfer_read_fd(int fd, void *buf, size_t len, const struct vfiomig_cancel *cancel);

/* The identity a stream records for @dev. */
void xfer_identity(struct vfiomig_dev *dev, struct stream_identity *id);

#endif
