/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiomig: cancelling a long call (a save, a load, an inspection) from
 * another thread or from a signal handler.  A cancel object is an eventfd:
 * raising it wakes every wait of the calls that watch it at once, whether
 * they wait for a stream fd, a data fd or a slow device.
 */
#ifndef VFIOMIG_CANCEL_H
#define VFIOMIG_CANCEL_H

#include <vfiomig/common.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vfiomig_cancel;

/**
 * vfiomig_cancel_new() - Create a cancel object, not raised
 * @ret: where it is stored; release it with vfiomig_cancel_unref()
 *
 * One object may be watched by any number of calls in any number of
 * threads (VFIOMIG's save and load options take it, and so do the
 * callbacks of vfiomig_stream_inspect()); raising it cancels them all.
 *
 * Return: 0; -EINVAL if @ret is NULL; -ENOMEM; -EMFILE and other -errno
 *         from eventfd(2).
 * Since: 0.3
 */
VFIOMIG_API int vfiomig_cancel_new(struct vfiomig_cancel **ret);

/** vfiomig_cancel_ref() - Take a reference.  Return: @c (NULL-safe).  Since: 0.3 */
VFIOMIG_API struct vfiomig_cancel *vfiomig_cancel_ref(struct vfiomig_cancel *c);

/**
 * vfiomig_cancel_unref() - Drop a reference; the last one closes the eventfd.
 * No call may be watching the object then.
 * Return: NULL (NULL-safe).  Since: 0.3
 */
VFIOMIG_API struct vfiomig_cancel *vfiomig_cancel_unref(struct vfiomig_cancel *c);

/**
 * vfiomig_cancel_raise() - Cancel every call watching @c
 *
 * Async-signal-safe: it is one write(2) to the eventfd, so a SIGINT handler
 * may call it.  A watching call notices at once, even in the middle of a
 * wait, rolls back as it does on any failure, and fails with -ECANCELED.
 * The object stays raised until vfiomig_cancel_clear().
 *
 * Return: 0; -EINVAL if @c is NULL.  Since: 0.3
 */
VFIOMIG_API int vfiomig_cancel_raise(struct vfiomig_cancel *c);

/**
 * vfiomig_cancel_clear() - Lower @c again, for the next call
 * Return: 0; -EINVAL if @c is NULL.  Since: 0.3
 */
VFIOMIG_API int vfiomig_cancel_clear(struct vfiomig_cancel *c);

/**
 * vfiomig_cancel_is_raised() - Whether @c is raised (async-signal-safe)
 * Return: 1 or 0; -EINVAL if @c is NULL.  Since: 0.3
 */
VFIOMIG_API int vfiomig_cancel_is_raised(struct vfiomig_cancel *c);

/**
 * vfiomig_cancel_get_fd() - The eventfd, readable while @c is raised, for a
 * caller's own poll loop.  Borrowed: do not read or close it.
 * Return: the fd; -EINVAL if @c is NULL.  Since: 0.3
 */
VFIOMIG_API int vfiomig_cancel_get_fd(struct vfiomig_cancel *c);

#ifdef __cplusplus
}
#endif

#endif
