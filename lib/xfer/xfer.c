/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by whole saves and loads. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "vendor.h"
#include "wait.h"
#include "xfer.h"
#include "log.h"
#include "cancel.h"
#include "dev.h"
#include "util.h"

size_t xfer_buffer_size(size_t buffer_size, bool framed)
{
	size_t size = buffer_size ? buffer_size : XFER_DEFAULT_BUFFER;

	/* A record never carries more than the format allows. */
	if (framed && size > STREAM_MAX_PAYLOAD)
		size = STREAM_MAX_PAYLOAD;
	return size & ~(size_t)4095;
}

/*
 * Page-aligned, not malloc()'s 16 bytes into a page: on AMD Zen 5 the bytes
 * the kernel copies into a buffer that is not cache-line-aligned hash at
 * less than half the speed (XXH3 32 against 72 GB/s just after a pipe read:
 * bench/bench-align), and the copy itself is a little slower.
 */
int xfer_alloc_buffer(struct vfiomig_dev *dev, size_t size, uint8_t **ret)
{
	void *p = NULL;

	*ret = posix_memalign(&p, XFER_BUFFER_ALIGN, size) == 0 ? p : NULL;
	if (!*ret)
		return vfiomig_fail(dev->ctx, -ENOMEM, "%s: no memory for a %zu-byte buffer",
				    dev->name, size);
	return 0;
}

void xfer_report(struct xfer_progress *x, bool force)
{
	uint64_t now = now_ns();

	if (!x->fn || (!force && now - x->last_ns < 100000000u))
		return;
	if (now > x->last_ns && x->last_ns)
		x->p.rate = (x->p.bytes - x->last_bytes) * 1000000000u / (now - x->last_ns);
	x->last_ns = now;
	x->last_bytes = x->p.bytes;
	x->fn(x->userdata, &x->p);
}

/*
 * One writev(2); see xfer_write_fd().  With a cancel object a write that
 * would block waits in poll(2) and is tried again without blocking: a
 * blocking write after POLLOUT could still wait for a reader that frees a
 * page and stops.  An fd that does not take RWF_NOWAIT gets one blocking
 * write after the poll.
 */
static ssize_t write_once(int fd, struct iovec *v, int n, const struct vfiomig_cancel *cancel)
{
	for (;;) {
		ssize_t w = cancel ? pwritev2(fd, v, n, -1, RWF_NOWAIT) : writev(fd, v, n);
		int e = w < 0 ? errno : 0, r;

		if (w >= 0 || (e != EAGAIN && e != EOPNOTSUPP))
			return w < 0 ? -e : w;
		r = vfiomig_wait_fd(fd, POLLOUT, cancel);
		if (r < 0)
			return r;
		if (e == EAGAIN)
			continue;
		w = writev(fd, v, n);	/* the fd takes no RWF_NOWAIT */
		return w < 0 ? -errno : w;
	}
}

int xfer_write_fd(int fd, const void *a, size_t alen, const void *b, size_t blen,
		  const struct vfiomig_cancel *cancel)
{
	struct iovec iov[2] = { { (void *)a, alen }, { (void *)b, blen } };
	struct iovec *v = iov;
	int n = 2;

	while (n > 0) {
		ssize_t w = cancel_raised(cancel) ? -ECANCELED : write_once(fd, v, n, cancel);

		if (w == -EINTR || w == -EAGAIN)
			continue;
		if (w < 0)
			return (int)w;
		while (n > 0 && (size_t)w >= v->iov_len) {
			w -= (ssize_t)v->iov_len;
			v++;
			n--;
		}
		if (n > 0) {
			v->iov_base = (char *)v->iov_base + w;
			v->iov_len -= (size_t)w;
		}
	}
	return 0;
}

ssize_t xfer_read_fd(int fd, void *buf, size_t len, const struct vfiomig_cancel *cancel)
{
	struct iovec iov = { buf, len };

	for (;;) {
		ssize_t n;
		int r;

		if (cancel_raised(cancel))
			return -ECANCELED;
		n = cancel ? preadv2(fd, &iov, 1, -1, RWF_NOWAIT) : read(fd, buf, len);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EOPNOTSUPP)
			return -errno;
		r = vfiomig_wait_fd(fd, POLLIN, cancel);
		if (r < 0)
			return r;
		n = read(fd, buf, len);
		if (n >= 0)
			return n;
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
}

void xfer_identity(struct vfiomig_dev *dev, struct stream_identity *id)
{
	struct utsname u;

	memset(id, 0, sizeof(*id));
	id->dev = dev->id;
	id->mig_flags = dev->mig_flags;
	if (dev_stop_copy_size(dev, &id->stop_copy_size) < 0)
		id->stop_copy_size = 0;	/* best effort: the record says "unknown" */
	snprintf(id->name, sizeof(id->name), "%s", dev->name);
	snprintf(id->backend, sizeof(id->backend), "%s", dev->backend->name);
	snprintf(id->kernel, sizeof(id->kernel), "%s", uname(&u) == 0 ? u.release : "");
	snprintf(id->library, sizeof(id->library), "libvfiomig %s", VFIOMIG_VERSION);
}
