/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What save.c and load.c share: options, progress, stream fds, identity. */
#ifndef VFIOMIG_XFER_H
#define VFIOMIG_XFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "private.h"
#include "stream.h"

#define XFER_NSLOTS 4
#define XFER_DEFAULT_BUFFER (4u << 20)
#define XFER_MIN_BUFFER (XFER_NSLOTS * 4096u)

/*
 * Copies the caller's options (libbpf's opts.sz convention): a shorter
 * struct from an older caller reads as zeros past its end, a longer one
 * from a newer caller must have only zeros past ours.  -EINVAL otherwise.
 */
int xfer_copy_opts(void *dst, size_t dst_size, const void *src);

/* The slot size for a total buffering of @buffer_size (0: the default). */
size_t xfer_slot_size(size_t buffer_size, bool framed);

uint64_t xfer_now_ns(void);

struct xfer_progress {
	void (*fn)(void *userdata, const struct vfiomig_progress *p);
	void *userdata;
	struct vfiomig_progress p;
	uint64_t last_ns, last_bytes;
};

/* Reports at most every 100 ms, and always when @force (phase changes). */
void xfer_report(struct xfer_progress *x, bool force);

struct pipeline;

/*
 * Waits in poll(2) until @fd is ready for @events; 0 or -errno.  With a
 * pipeline, the wait also ends when the pipeline fails or is cancelled:
 * that error is returned.  A read after POLLIN never blocks, so a stalled
 * input never holds a thread; a large write can still block on a stalled
 * output until its reader reads or goes away (EPIPE).
 */
int xfer_wait_fd(int fd, short events, struct pipeline *p);
/*
 * write(2)s all of a and b to @fd, retrying short writes and EINTR.  Each
 * write is tried with RWF_NOWAIT first; only if it would block (or the fd
 * does not take the flag) does xfer_wait_fd() come in.
 */
int xfer_write_fd(int fd, const void *a, size_t alen, const void *b, size_t blen,
		  struct pipeline *p);
/* One read(2), tried with RWF_NOWAIT first, then once xfer_wait_fd() says
 * @fd is readable; bytes, 0 at EOF, -errno. */
ssize_t xfer_read_fd(int fd, void *buf, size_t len, struct pipeline *p);

/* The identity a stream records for @dev. */
void xfer_identity(struct vfiomig_dev *dev, struct stream_identity *id);

#endif
