/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What save.c and load.c share: options, progress, stream fds, identity. */
#ifndef VFIOMIG_XFER_H
#define VFIOMIG_XFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/types.h>

#include "private.h"
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

/*
 * Copies the caller's options (libbpf's opts.sz convention): a shorter
 * struct from an older caller reads as zeros past its end, a longer one
 * from a newer caller must have only zeros past ours.  -EINVAL otherwise.
 */
int xfer_copy_opts(void *dst, size_t dst_size, const void *src);

/* The I/O size for @buffer_size (0: the default); a record's at most. */
size_t xfer_buffer_size(size_t buffer_size, bool framed);

/* The call's one buffer; -ENOMEM with the device's error message set. */
int xfer_alloc_buffer(struct vfiomig_dev *dev, size_t size, uint8_t **ret);

uint64_t xfer_now_ns(void);

struct xfer_progress {
	void (*fn)(void *userdata, const struct vfiomig_progress *p);
	void *userdata;
	struct vfiomig_progress p;
	uint64_t last_ns, last_bytes;
};

/* Reports at most every 100 ms, and always when @force (phase changes). */
void xfer_report(struct xfer_progress *x, bool force);

/* The caller's cancel flag (may be NULL) is up. */
bool xfer_cancelled(const volatile sig_atomic_t *cancel);

/*
 * Waits in poll(2) until @fd is ready for @events; 0 or -errno.  With
 * @cancel, the wait looks at it every 100 ms and fails with -ECANCELED once
 * it reads non-zero.  A read after POLLIN never blocks, so a stalled input
 * never holds a thread; a large write can still block on a stalled output
 * until its reader reads or goes away (EPIPE).
 */
int xfer_wait_fd(int fd, short events, const volatile sig_atomic_t *cancel);
/*
 * write(2)s all of a and b to @fd, retrying short writes and EINTR.  With
 * @cancel, each write is tried with RWF_NOWAIT first; only if it would
 * block (or the fd does not take the flag) does xfer_wait_fd() come in.
 * Without, the writes may block; on a non-blocking fd, poll(2) waits.
 */
int xfer_write_fd(int fd, const void *a, size_t alen, const void *b, size_t blen,
		  const volatile sig_atomic_t *cancel);
/* One read(2), the same way: bytes, 0 at EOF, -errno. */
ssize_t xfer_read_fd(int fd, void *buf, size_t len, const volatile sig_atomic_t *cancel);

/*
 * A write to a pipe whose reader is gone raises SIGPIPE, which kills a
 * process that did not ask for it.  Save and load block it on the calling
 * thread for the call, and take back a SIGPIPE their own writes raised, so
 * they fail with EPIPE instead.  A SIGPIPE that was pending before is left
 * pending.
 */
struct xfer_sigpipe {
	sigset_t old;
	bool was_pending;
};
void xfer_sigpipe_block(struct xfer_sigpipe *g);
void xfer_sigpipe_restore(const struct xfer_sigpipe *g);

/* The identity a stream records for @dev. */
void xfer_identity(struct vfiomig_dev *dev, struct stream_identity *id);

#endif
