/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Cancel objects: an eventfd that waits can poll, and an atomic flag that
 * loops can test without a system call.  Raising touches only those two,
 * so a signal handler may do it.
 */
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cancel.h"
#include "export.h"

struct vfiomig_cancel {
	atomic_int refcount;
	atomic_bool raised;
	int fd;
};

VFIOMIG_EXPORT int vfiomig_cancel_new(struct vfiomig_cancel **ret)
{
	struct vfiomig_cancel *c;

	if (!ret)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->fd < 0) {
		int r = -errno;

		free(c);
		return r;
	}
	atomic_init(&c->refcount, 1);
	atomic_init(&c->raised, false);
	*ret = c;
	return 0;
}

VFIOMIG_EXPORT struct vfiomig_cancel *vfiomig_cancel_ref(struct vfiomig_cancel *c)
{
	if (c)
		atomic_fetch_add(&c->refcount, 1);
	return c;
}

VFIOMIG_EXPORT struct vfiomig_cancel *vfiomig_cancel_unref(struct vfiomig_cancel *c)
{
	if (c && atomic_fetch_sub(&c->refcount, 1) == 1) {
		close(c->fd);
		free(c);
	}
	return NULL;
}

VFIOMIG_EXPORT int vfiomig_cancel_raise(struct vfiomig_cancel *c)
{
	uint64_t one = 1;
	int saved = errno;	/* a signal handler must leave errno as it was */

	if (!c)
		return -EINVAL;
	atomic_store(&c->raised, true);
	/* A full counter (EAGAIN) is raised all the same. */
	while (write(c->fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	errno = saved;
	return 0;
}

VFIOMIG_EXPORT int vfiomig_cancel_clear(struct vfiomig_cancel *c)
{
	uint64_t n;

	if (!c)
		return -EINVAL;
	atomic_store(&c->raised, false);
	while (read(c->fd, &n, sizeof(n)) > 0 || errno == EINTR)
		;
	return 0;
}

VFIOMIG_EXPORT int vfiomig_cancel_is_raised(struct vfiomig_cancel *c)
{
	return c ? atomic_load(&c->raised) : -EINVAL;
}

VFIOMIG_EXPORT int vfiomig_cancel_get_fd(struct vfiomig_cancel *c)
{
	return c ? c->fd : -EINVAL;
}

bool cancel_raised(const struct vfiomig_cancel *c)
{
	return c && atomic_load(&c->raised);
}

int cancel_fd(const struct vfiomig_cancel *c)
{
	return c ? c->fd : -1;
}
