/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiomig: drive a Linux VFIO device through the kernel's device
 * migration protocol v2.  This umbrella header includes every public one.
 *
 * Conventions:
 * - Calls returning int return >= 0 on success and -errno on failure; errno
 *   is not part of the contract.  ret_* out-parameters are written only on
 *   success.
 * - Handles are opaque and reference-counted; *_unref() accepts NULL and
 *   returns NULL.
 * - The library prints nothing; it logs through the function installed with
 *   vfiomig_ctx_set_log_fn().  Every fd it opens is O_CLOEXEC.
 *
 * Threads: there is no global state, so separate contexts may be used from
 * separate threads freely.  A context and the devices opened through it form
 * one unit that must be used from one thread at a time (the devices share
 * the context's container, its log state and its error buffer); callers that
 * want more must lock around it.  Data fds handed to the caller are plain
 * file descriptors and may be read or written from any thread.  The library
 * starts no thread of its own: vfiomig_save() and vfiomig_load() move the
 * data on the calling thread.  Only a mock device runs a pump thread per
 * data session, as a kernel driver would do its work in the kernel.
 */
#ifndef VFIOMIG_VFIOMIG_H
#define VFIOMIG_VFIOMIG_H

#include <vfiomig/common.h>
#include <vfiomig/ctx.h>
#include <vfiomig/state.h>
#include <vfiomig/dev.h>
#include <vfiomig/data.h>
#include <vfiomig/migrate.h>
#include <vfiomig/inspect.h>

#endif
