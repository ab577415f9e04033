/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The raw data path: starting sessions and moving bytes through data fds. */
#include <poll.h>
#include <string.h>

#include "call.h"
#include "cancel.h"
#include "dev.h"
#include "export.h"
#include "log.h"
#include "wait.h"

int data_begin_save(struct vfiomig_dev *dev, unsigned int flags, int *ret_data_fd,
		    enum vfiomig_state *ret_state)
{
	enum vfiomig_state cur, target = VFIOMIG_STATE_STOP_COPY;
	int r;

	if (!ret_data_fd || (flags & ~VFIOMIG_SAVE_PRECOPY))
		return vfiomig_fail(dev->ctx, -EINVAL, "%s: saving needs somewhere to return the "
				    "data fd, and takes no flag but VFIOMIG_SAVE_PRECOPY", dev->name);
	r = dev_check_ready(dev, &cur);
	if (r < 0)
		return r;
	if ((flags & VFIOMIG_SAVE_PRECOPY) && (dev->mig_flags & VFIOMIG_MIG_PRE_COPY)) {
		if (cur == VFIOMIG_STATE_RUNNING)
			target = VFIOMIG_STATE_PRE_COPY;
		else if (cur == VFIOMIG_STATE_RUNNING_P2P)
			target = VFIOMIG_STATE_PRE_COPY_P2P;
	}
	r = dev_set_state(dev, target, ret_data_fd);
	if (r == 0 && ret_state)
		*ret_state = target;
	return r;
}

VFIOMIG_EXPORT int vfiomig_data_begin_save(struct vfiomig_dev *dev, unsigned int flags,
					   int *ret_data_fd, enum vfiomig_state *ret_state)
{
	struct call c;
	int r = call_begin_dev(&c, dev, CALL_REPORT_STATE);

	if (r == 0)
		r = data_begin_save(dev, flags, ret_data_fd, ret_state);
	return call_end(&c, r);
}

ssize_t data_read_once(struct vfiomig_dev *dev, int data_fd, void *buf, size_t len,
		       const struct vfiomig_cancel *cancel)
{
	ssize_t n;

	do
		n = dev->transport->data_read(dev, data_fd, buf, len);
	while (n == -EINTR && !cancel_raised(cancel));
	/* A signal handler that raised the cancel interrupted the read. */
	return n == -EINTR ? -ECANCELED : n;
}

ssize_t data_read(struct vfiomig_dev *dev, int data_fd, void *buf, size_t len,
		  unsigned int flags)
{
	ssize_t n = data_read_once(dev, data_fd, buf, len, NULL);

	/* The protocol's temporary end is ENOMSG; mtty says 0 instead. */
	if (n == -ENOMSG || (n == 0 && len && (flags & VFIOMIG_READ_PRECOPY)))
		return (flags & VFIOMIG_READ_DRAINED) ? -ENOMSG : -EAGAIN;
	return n;
}

VFIOMIG_EXPORT ssize_t vfiomig_data_read(struct vfiomig_dev *dev, int data_fd,
					 void *buf, size_t len, unsigned int flags)
{
	struct call c;
	ssize_t n = call_begin_dev(&c, dev, 0);

	if (n == 0 && (data_fd < 0 || (!buf && len) ||
		       (flags & ~(VFIOMIG_READ_PRECOPY | VFIOMIG_READ_DRAINED))))
		n = vfiomig_fail(dev->ctx, -EINVAL, "%s: a read needs a data fd and a buffer, "
				 "and takes no flag but VFIOMIG_READ_PRECOPY and "
				 "VFIOMIG_READ_DRAINED", dev->name);
	if (n == 0)
		n = data_read(dev, data_fd, buf, len, flags);
	if (n == -EAGAIN || (n == -ENOMSG && (flags & VFIOMIG_READ_DRAINED))) {
		/* Nothing for now is no failure: it leaves no sentence. */
		call_end(&c, 0);
		return n;
	}
	if (n < 0 && dev)
		vfiomig_fail(dev->ctx, (int)n, "%s: reading the data fd failed: %s", dev->name,
			     strerror((int)-n));
	call_end(&c, n < 0 ? (int)n : 0);
	return n;
}

int data_begin_load(struct vfiomig_dev *dev, int *ret_data_fd)
{
	enum vfiomig_state cur;
	int r;

	if (!ret_data_fd)
		return vfiomig_fail(dev->ctx, -EINVAL, "%s: loading needs somewhere to return "
				    "the data fd", dev->name);
	r = dev_check_ready(dev, &cur);
	if (r < 0)
		return r;
	return dev_set_state(dev, VFIOMIG_STATE_RESUMING, ret_data_fd);
}

VFIOMIG_EXPORT int vfiomig_data_begin_load(struct vfiomig_dev *dev, int *ret_data_fd)
{
	struct call c;
	int r = call_begin_dev(&c, dev, CALL_REPORT_STATE);

	if (r == 0)
		r = data_begin_load(dev, ret_data_fd);
	return call_end(&c, r);
}

/*
 * One write(2) as the driver answers it: the bytes it took, -EAGAIN when a
 * non-blocking fd takes nothing now, or its refusal; EINTR is retried.
 */
static ssize_t write_once(struct vfiomig_dev *dev, int data_fd, const void *buf, size_t len)
{
	ssize_t n;

	if (!len)
		return 0;
	do
		n = dev->transport->data_write(dev, data_fd, buf, len);
	while (n == -EINTR);
	return n == 0 ? -EIO : n;	/* write(2) of a non-zero length never returns 0 */
}

/* All of @buf, or -errno; nothing recorded (the caller knows the context). */
int data_write(struct vfiomig_dev *dev, int data_fd, const void *buf, size_t len,
	       struct vfiomig_cancel *cancel)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write_once(dev, data_fd, p, len);

		if (n == -EAGAIN) {
			int r = vfiomig_wait_fd(data_fd, POLLOUT, cancel);

			if (r < 0)
				return r;
			continue;
		}
		if (n < 0)
			return (int)n;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The checks vfiomig_data_write() and vfiomig_data_write_some() share. */
static int check_write(struct vfiomig_dev *dev, int data_fd, const void *buf, size_t len)
{
	if (data_fd < 0 || (!buf && len))
		return vfiomig_fail(dev->ctx, -EINVAL, "%s: a write needs a data fd and a buffer",
				    dev->name);
	return 0;
}

/* Their sentence for a write the device refused. */
static void rejected(struct vfiomig_dev *dev, int r)
{
	vfiomig_fail(dev->ctx, r, "%s: the device rejected the data: %s", dev->name, strerror(-r));
}

VFIOMIG_EXPORT int vfiomig_data_write(struct vfiomig_dev *dev, int data_fd,
				      const void *buf, size_t len)
{
	struct call c;
	int r = call_begin_dev(&c, dev, 0);

	if (r == 0)
		r = check_write(dev, data_fd, buf, len);
	if (r == 0 && (r = data_write(dev, data_fd, buf, len, NULL)) < 0)
		rejected(dev, r);
	return call_end(&c, r);
}

VFIOMIG_EXPORT ssize_t vfiomig_data_write_some(struct vfiomig_dev *dev, int data_fd,
					       const void *buf, size_t len)
{
	struct call c;
	ssize_t n = call_begin_dev(&c, dev, 0);

	if (n == 0)
		n = check_write(dev, data_fd, buf, len);
	if (n == 0) {
		n = write_once(dev, data_fd, buf, len);
		if (n == -EAGAIN) {
			/* The fd takes nothing for now: no failure, so no sentence. */
			call_end(&c, 0);
			return n;
		}
		if (n < 0)
			rejected(dev, (int)n);
	}
	call_end(&c, n < 0 ? (int)n : 0);
	return n;
}

int data_finish_load(struct vfiomig_dev *dev, enum vfiomig_state target)
{
	int r;

	if (target == VFIOMIG_STATE_RESUMING)
		return vfiomig_fail(dev->ctx, -EINVAL, "%s: a load cannot finish in RESUMING",
				    dev->name);
	r = dev_set_state(dev, VFIOMIG_STATE_STOP, NULL);
	if (r < 0)
		return r;
	return dev_set_state(dev, target, NULL);
}

VFIOMIG_EXPORT int vfiomig_data_finish_load(struct vfiomig_dev *dev, enum vfiomig_state target)
{
	struct call c;
	int r = call_begin_dev(&c, dev, CALL_REPORT_STATE);

	if (r == 0)
		r = data_finish_load(dev, target);
	return call_end(&c, r);
}
