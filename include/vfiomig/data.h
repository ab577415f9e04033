/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiomig: the raw migration data path, for VMMs that frame device data
 * in their own migration stream and drive it from their own event loop.
 * vfiomig/migrate.h builds whole saves and loads on top of these calls.
 *
 * Which calls may block, and on what:
 * - vfiomig_data_begin_save(), vfiomig_data_begin_load() and
 *   vfiomig_data_finish_load() change the device's state, and each arc is
 *   the driver's command (a firmware command for mlx5): the call waits for
 *   it whatever the fd's flags.  RESUMING -> STOP is where a driver takes in
 *   what it was given, so it may take long.
 * - vfiomig_data_read() and vfiomig_data_write_some() make one read(2) or
 *   write(2) of the data fd.  On a blocking fd that waits for the driver;
 *   on a non-blocking one (O_NONBLOCK) they never wait and say -EAGAIN.
 *   Some time is the driver's own all the same: mlx5 hands each complete
 *   record to its firmware inside write(), whatever the fd's flags.
 * - vfiomig_data_write() writes the whole buffer: on a non-blocking fd it
 *   waits in poll(2) until the driver has taken all of it.
 * None waits for another thread: a device that another thread's call is
 * driving gives -EBUSY at once.
 *
 * An event-loop VMM sets O_NONBLOCK on the data fd, and when poll(2) says
 * POLLIN calls vfiomig_data_read(), when it says POLLOUT calls
 * vfiomig_data_write_some() with what is still to go; a data fd without a
 * poll op (mtty's) is always ready.  It changes states outside the loop's
 * hot path, or from a thread of its own.
 */
#ifndef VFIOMIG_DATA_H
#define VFIOMIG_DATA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <vfiomig/common.h>
#include <vfiomig/dev.h>

#ifdef __cplusplus
extern "C" {
#endif

/* vfiomig_data_begin_save() flags */
#define VFIOMIG_SAVE_PRECOPY (1u << 0) /* start in PRE_COPY when the device can */

/**
 * vfiomig_data_begin_save() - Start saving: open the device's saving data fd
 * @flags: VFIOMIG_SAVE_PRECOPY to start pre-copy where the device offers it
 *         and is running (RUNNING -> PRE_COPY, RUNNING_P2P -> PRE_COPY_P2P);
 *         otherwise, or without the flag, the device stops and goes to
 *         STOP_COPY
 * @ret_data_fd: the fd to read with vfiomig_data_read(); caller closes it
 * @ret_state: may be NULL; PRE_COPY, PRE_COPY_P2P or STOP_COPY
 *
 * From pre-copy, vfiomig_dev_set_state(dev, VFIOMIG_STATE_STOP_COPY, NULL)
 * switches over; the same fd then carries the rest of the state.  The fd
 * is blocking, as the kernel makes it; set O_NONBLOCK for an event loop.
 * Blocks for the driver's arcs to that state.
 *
 * Return: 0; -EBUSY if the device is already saving or resuming; otherwise
 *         as vfiomig_dev_set_state().  Since: 0.3
 */
VFIOMIG_API int vfiomig_data_begin_save(struct vfiomig_dev *dev, unsigned int flags,
				   int *ret_data_fd, enum vfiomig_state *ret_state);

/* vfiomig_data_read() flags */
#define VFIOMIG_READ_PRECOPY (1u << 0) /* the device is in a PRE_COPY state */
/*
 * Report the temporary end of pre-copy as -ENOMSG rather than -EAGAIN, so
 * that an event loop on a non-blocking fd tells "the device has nothing
 * more for now: ask PRECOPY_INFO, maybe switch over" from "nothing is
 * ready yet: poll again" (since 0.4).
 */
#define VFIOMIG_READ_DRAINED (1u << 1)

/**
 * vfiomig_data_read() - Read the next chunk of device state from a saving fd
 * @flags: VFIOMIG_READ_PRECOPY while the device is in PRE_COPY or
 *         PRE_COPY_P2P, where a read of 0 is a temporary end (mtty), not EOF;
 *         VFIOMIG_READ_DRAINED to have that temporary end said apart
 *
 * One read(2): EINTR is retried.  On a blocking fd it waits until the
 * driver has data (mlx5: or the end of pre-copy's data for now); on a
 * non-blocking fd it never waits.
 *
 * Return: bytes read (> 0); 0 at the end of the stream (STOP_COPY only);
 *         -EAGAIN when there is no data for now: the temporary end of
 *         pre-copy (ENOMSG, or mtty's 0) or EAGAIN from a non-blocking fd;
 *         with VFIOMIG_READ_DRAINED, -ENOMSG for the temporary end and
 *         -EAGAIN only for a non-blocking fd with nothing yet (neither is a
 *         failure: neither leaves a sentence);
 *         -ENODEV if the session ended (a reset); other -errno.
 * Since: 0.2
 */
VFIOMIG_API ssize_t vfiomig_data_read(struct vfiomig_dev *dev, int data_fd,
				      void *buf, size_t len, unsigned int flags);

/**
 * vfiomig_data_begin_load() - Start loading: move the device to RESUMING
 * @ret_data_fd: the fd to write with vfiomig_data_write() or
 *               vfiomig_data_write_some(); caller closes it
 *
 * A running device is stopped on the way (RUNNING -> ... -> STOP ->
 * RESUMING).  Blocks for the driver's arcs.  The fd is blocking, as the
 * kernel makes it; set O_NONBLOCK for an event loop and write it with
 * vfiomig_data_write_some().
 *
 * Return: 0; -EBUSY if the device is saving or already resuming; otherwise
 *         as vfiomig_dev_set_state().  Since: 0.3
 */
VFIOMIG_API int vfiomig_data_begin_load(struct vfiomig_dev *dev, int *ret_data_fd);

/**
 * vfiomig_data_write() - Write all of @buf to a resuming data fd
 *
 * Short writes and EINTR are retried, and EAGAIN on a non-blocking fd waits
 * in poll() until the driver takes the rest: this call may block on any fd.
 * An event loop writes with vfiomig_data_write_some() instead.  A driver
 * may reject data here (mlx5: EOPNOTSUPP, ENOMEM; mtty: EFAULT for a bad
 * header, ENOMEM past the end).
 *
 * Return: 0; -ENODEV if the session ended (a reset, or an earlier rejected
 *         write); other -errno.  Since: 0.2
 */
VFIOMIG_API int vfiomig_data_write(struct vfiomig_dev *dev, int data_fd,
				   const void *buf, size_t len);

/**
 * vfiomig_data_write_some() - Write what a resuming data fd takes now
 *
 * One write(2) of @buf, EINTR retried, for a VMM's event loop: on a
 * non-blocking fd it never waits, and the caller writes the rest when
 * poll() says POLLOUT.  On a blocking fd, write(2) itself waits for room.
 * A rejection is reported as vfiomig_data_write() reports it, with the same
 * sentence; -EAGAIN is no failure and leaves none.
 *
 * Return: the bytes the driver took (> 0; 0 only for an empty @len);
 *         -EAGAIN if a non-blocking fd takes nothing now; otherwise as
 *         vfiomig_data_write().  Since: 0.4
 */
VFIOMIG_API ssize_t vfiomig_data_write_some(struct vfiomig_dev *dev, int data_fd,
					    const void *buf, size_t len);

/**
 * vfiomig_data_finish_load() - End loading: RESUMING -> STOP, then @target
 * @target: the state to leave the device in: usually RUNNING, or STOP
 *
 * RESUMING -> STOP is where a driver validates what it was given (mtty fails
 * it with EINVAL on short data), so it blocks until the driver has taken in
 * all it was written, then for the arcs to @target.  On failure the device
 * stays where the driver left it (RESUMING or ERROR) and
 * vfiomig_dev_recover() resets it.
 *
 * Return: 0; -errno as vfiomig_dev_set_state().  Since: 0.3
 */
VFIOMIG_API int vfiomig_data_finish_load(struct vfiomig_dev *dev,
				    enum vfiomig_state target);

#ifdef __cplusplus
}
#endif

#endif
