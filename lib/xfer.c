/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by whole saves and loads. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "vendor.h"
#include "xfer.h"

int xfer_copy_opts(void *dst, size_t dst_size, const void *src)
{
	size_t src_size;

	memset(dst, 0, dst_size);
	if (!src)
		return 0;
	src_size = *(const size_t *)src;
	if (src_size < sizeof(size_t))
		return -EINVAL;
	for (size_t i = dst_size; i < src_size; i++)
		if (((const uint8_t *)src)[i])
			return -EINVAL;
	memcpy(dst, src, src_size < dst_size ? src_size : dst_size);
	return 0;
}

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

uint64_t xfer_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void xfer_report(struct xfer_progress *x, bool force)
{
	uint64_t now = xfer_now_ns();

	if (!x->fn || (!force && now - x->last_ns < 100000000u))
		return;
	if (now > x->last_ns && x->last_ns)
		x->p.rate = (x->p.bytes - x->last_bytes) * 1000000000u / (now - x->last_ns);
	x->last_ns = now;
	x->last_bytes = x->p.bytes;
	x->fn(x->userdata, &x->p);
}

bool xfer_cancelled(const volatile sig_atomic_t *cancel)
{
	return cancel && *cancel;
}

int xfer_wait_fd(int fd, short events, const volatile sig_atomic_t *cancel)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		int n;

		if (xfer_cancelled(cancel))
			return -ECANCELED;
		n = poll(&pfd, 1, cancel ? 100 : -1);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/*
 * One writev(2).  Without a cancel flag to watch it may block.  With one it
 * is tried with RWF_NOWAIT first, and only if it would block (or the fd
 * does not take the flag) does poll(2) come in: a poll per write would be
 * one more syscall for every record.
 */
static ssize_t write_once(int fd, struct iovec *v, int n, const volatile sig_atomic_t *cancel)
{
	ssize_t w = cancel ? pwritev2(fd, v, n, -1, RWF_NOWAIT) : writev(fd, v, n);
	int r;

	if (w >= 0 || (errno != EAGAIN && errno != EOPNOTSUPP))
		return w < 0 ? -errno : w;
	r = xfer_wait_fd(fd, POLLOUT, cancel);
	if (r < 0)
		return r;
	w = writev(fd, v, n);
	return w < 0 ? -errno : w;
}

int xfer_write_fd(int fd, const void *a, size_t alen, const void *b, size_t blen,
		  const volatile sig_atomic_t *cancel)
{
	struct iovec iov[2] = { { (void *)a, alen }, { (void *)b, blen } };
	struct iovec *v = iov;
	int n = 2;

	while (n > 0) {
		ssize_t w = write_once(fd, v, n, cancel);

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

/* One read(2), the same way as write_once(). */
ssize_t xfer_read_fd(int fd, void *buf, size_t len, const volatile sig_atomic_t *cancel)
{
	struct iovec iov = { buf, len };

	for (;;) {
		ssize_t n = cancel ? preadv2(fd, &iov, 1, -1, RWF_NOWAIT) : read(fd, buf, len);
		int r;

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EOPNOTSUPP)
			return -errno;
		r = xfer_wait_fd(fd, POLLIN, cancel);
		if (r < 0)
			return r;
		n = read(fd, buf, len);
		if (n >= 0)
			return n;
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
}

void xfer_sigpipe_block(struct xfer_sigpipe *g)
{
	sigset_t pipe_set, pending;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	g->was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &g->old);
}

void xfer_sigpipe_restore(const struct xfer_sigpipe *g)
{
	static const struct timespec now;
	sigset_t pipe_set, pending;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	if (!g->was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
		while (sigtimedwait(&pipe_set, NULL, &now) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

VFIOMIG_EXPORT const char *vfiomig_dev_get_backend(struct vfiomig_dev *dev)
{
	if (!dev)
		return NULL;
	/* The mock's bytes are its own, whatever identity it pretends to. */
	if (strcmp(dev->transport_name, "mock") == 0)
		return "mock";
	return vfiomig_vendor_for(&dev->id)->name;
}

void xfer_identity(struct vfiomig_dev *dev, struct stream_identity *id)
{
	struct utsname u;

	memset(id, 0, sizeof(*id));
	id->has_pci_ids = dev->id.has_pci_ids;
	id->vendor = dev->id.vendor;
	id->device = dev->id.device;
	id->subsystem_vendor = dev->id.subsystem_vendor;
	id->subsystem_device = dev->id.subsystem_device;
	id->revision = dev->id.revision;
	id->mig_flags = dev->mig_flags;
	if (vfiomig_dev_get_stop_copy_size(dev, &id->stop_copy_size) < 0)
		id->stop_copy_size = 0;
	snprintf(id->name, sizeof(id->name), "%s", dev->name);
	snprintf(id->driver, sizeof(id->driver), "%s", dev->id.driver);
	snprintf(id->backend, sizeof(id->backend), "%s", vfiomig_dev_get_backend(dev));
	snprintf(id->kernel, sizeof(id->kernel), "%s", uname(&u) == 0 ? u.release : "");
	snprintf(id->library, sizeof(id->library), "libvfiomig %s", VFIOMIG_VERSION);
}
