/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiomig: drive a Linux VFIO device through the kernel's device
 * migration protocol v2.  This umbrella header includes every public one.
 *
 * Conventions:
 * - Calls returning int return >= 0 on success and -errno on failure; errno
 *   is not part of the contract.  ret_* out-parameters are written only on
 *   success.  A failure leaves a sentence for the calling thread in
 *   vfiomig_ctx_get_error(), and its facts in vfiomig_ctx_get_error_info().
 * - Handles are opaque and reference-counted; *_unref() accepts NULL and
 *   returns NULL.
 * - Structs that start with a size_t sz grow by one rule (libbpf's): the
 *   caller sets sz to the sizeof() it was built with; an older, shorter
 *   struct is accepted, and so is a newer, longer one whose bytes past this
 *   library's end are zero.  Output structs are filled as far as sz goes.
 * - The library prints nothing; it logs through the function installed with
 *   vfiomig_ctx_set_log_fn().  Every fd it opens is O_CLOEXEC.
 *
 * Threads:
 * - Separate contexts are independent.  The one process-wide object is a
 *   thread-local key, made once, under which each thread keeps its own
 *   error slots (one per context it called); no thread reads another's,
 *   and a thread's slots are freed when it ends (so the library, once
 *   loaded, stays: dlclose() does not unload it).  A context and the
 *   slots of threads that called it may end in either order.
 * - Any number of threads may drive different devices of one context at
 *   once.  What the devices share (the context's container, iommufd and
 *   groups, its log settings, its list of mock devices) is behind the
 *   context's locks.
 * - One device is driven by one thread at a time: a call on a device that
 *   another thread is inside a call on fails with -EBUSY and changes
 *   nothing.  The accessors of what was learnt at open, and reference
 *   counting, are safe from any thread.  vfiomig_dirty_free() waits for
 *   such a call to end instead.
 * - A callback (a progress function, a group's hook) must not drive what
 *   its own call is moving.  A call made from it on that device, that
 *   group or one of its members fails with -EDEADLK and a sentence that
 *   says so, and changes nothing; the outer call goes on, and its own
 *   outcome is what the thread sees after it returns.  Queries stay
 *   allowed there: vfiomig_dev_get_state(), vfiomig_dev_get_stop_copy_size(),
 *   vfiomig_group_get_result() and the accessors; so do calls on other
 *   devices, and vfiomig_dirty_free(), which stops tracking there and then.
 * - Errors are per thread: vfiomig_ctx_get_error() shows the calling
 *   thread's own last failure on that context.
 * - The log function may be called from several threads at once.
 * - Data fds handed to the caller are plain file descriptors and may be
 *   read or written from any thread.
 * - A call can be cancelled from another thread or a signal handler
 *   (vfiomig/cancel.h).
 * - vfiomig_dev_save() and vfiomig_dev_load() move the data on the
 *   calling thread.  The library starts threads only inside a group call
 *   (vfiomig/group.h): one per member for the whole call, all or none
 *   before anything is sent (-EAGAIN at a thread limit), with every signal
 *   blocked, all joined before the call returns.  Callbacks (hook,
 *   progress, log) of a group call come on the calling thread, except the
 *   log function, which workers may call too.  A mock device runs a
 *   pump thread per data session, as a kernel driver would do its work in
 *   the kernel.
 */
#ifndef VFIOMIG_VFIOMIG_H
#define VFIOMIG_VFIOMIG_H

#include <vfiomig/common.h>
#include <vfiomig/ctx.h>
#include <vfiomig/cancel.h>
#include <vfiomig/state.h>
#include <vfiomig/dev.h>
#include <vfiomig/group.h>
#include <vfiomig/dirty.h>
#include <vfiomig/data.h>
#include <vfiomig/migrate.h>
#include <vfiomig/inspect.h>
#include <vfiomig/mlx5.h>
#include <vfiomig/profile.h>

#endif
