/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiomig: the library context.  A context holds the log function and
 * the kernel objects that devices opened through it share (one VFIO
 * container, one iommufd), as a VMM shares them.  Each thread's account of
 * its last failure on it is that thread's own: the library keeps it under
 * its one process-wide object, a thread-local key made once (no shared
 * mutable data), and frees it when the thread ends, or after the context
 * is freed.  Nothing else outlives a context.
 */
#ifndef VFIOMIG_CTX_H
#define VFIOMIG_CTX_H

#include <stddef.h>
#include <stdint.h>

#include <vfiomig/common.h>
#include <vfiomig/state.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vfiomig_ctx;

/**
 * vfiomig_ctx_new() - Create a library context
 * @ret: where the new context is stored; caller owns it and releases it
 *       with vfiomig_ctx_unref()
 *
 * The context starts silent: nothing is logged until a log function is
 * installed.  The log priority starts at LOG_ERR.
 *
 * Return: 0; -EINVAL if @ret is NULL; -ENOMEM.
 * Since: 0.1
 */
VFIOMIG_API int vfiomig_ctx_new(struct vfiomig_ctx **ret);

/**
 * vfiomig_ctx_ref() - Take a reference (any thread)
 * Return: @ctx (NULL-safe).  Since: 0.1
 */
VFIOMIG_API struct vfiomig_ctx *vfiomig_ctx_ref(struct vfiomig_ctx *ctx);

/**
 * vfiomig_ctx_unref() - Drop a reference; frees the context with the last one
 *
 * Devices hold a reference of their own, so a context outlives its devices.
 *
 * Return: NULL, so that "ctx = vfiomig_ctx_unref(ctx);" is safe (NULL-safe).
 * Since: 0.1
 */
VFIOMIG_API struct vfiomig_ctx *vfiomig_ctx_unref(struct vfiomig_ctx *ctx);

/**
 * vfiomig_ctx_set_log_fn() - Install a log function
 * @fn: called with @userdata, a syslog priority (LOG_ERR ... LOG_DEBUG) and a
 *      message without trailing newline; NULL restores silence.  It is
 *      called from whichever thread is in the library, so several threads
 *      may call it at once, and it may be called while the library holds
 *      a lock: it must not call libvfiomig itself.
 *
 * Failures are returned (vfiomig_ctx_get_error()), not logged at LOG_ERR:
 * the log carries what the library did (LOG_INFO) and how (LOG_DEBUG),
 * and warnings about what it did anyway (LOG_WARNING).
 * Since: 0.1
 */
VFIOMIG_API void vfiomig_ctx_set_log_fn(struct vfiomig_ctx *ctx,
					void (*fn)(void *userdata, int priority,
						   const char *msg),
					void *userdata);

/**
 * vfiomig_ctx_set_log_priority() - Log messages up to @priority (syslog levels)
 * Since: 0.1
 */
VFIOMIG_API void vfiomig_ctx_set_log_priority(struct vfiomig_ctx *ctx,
					      int priority);

/**
 * vfiomig_ctx_get_log_priority() - The current log priority
 * Return: a syslog priority; -EINVAL if @ctx is NULL.  Since: 0.1
 */
VFIOMIG_API int vfiomig_ctx_get_log_priority(struct vfiomig_ctx *ctx);

/**
 * vfiomig_ctx_get_error() - What the calling thread's last failed call said
 *
 * Every call on @ctx or on one of its devices that returns a status (an
 * int or ssize_t) and fails stores a sentence that says what went wrong
 * and what to do ("bound to driver ixgbe instead of a VFIO driver: ...");
 * when such a call succeeds, it clears it.  Calls that change a device's
 * state end the sentence with the state the device is in after the call,
 * after any rollback or reset the call made.  Each thread has its own: a
 * thread sees only its own calls' failures.  Accessors that return a name,
 * an fd or a handle (vfiomig_dev_get_name(), vfiomig_dev_get_fd(), ...),
 * reference counting, destructors (vfiomig_dirty_free(), ...) and the log
 * settings neither set nor clear it.
 *
 * Return: a borrowed string, valid until this thread's next call on @ctx
 *         or one of its devices; NULL if this thread's last call succeeded
 *         or it made none.  Since: 0.1
 */
VFIOMIG_API const char *vfiomig_ctx_get_error(struct vfiomig_ctx *ctx);

/* The facts of a failure, for callers that act on them (see below). */
struct vfiomig_error {
	size_t sz;			/* set to sizeof(struct vfiomig_error) */
	int err;			/* the errno of the failure (positive) */
	const char *message;		/* as vfiomig_ctx_get_error() */
	/* the name of the device that failed, or NULL; for an open, the
	 * device it tried, once the spec named one (since 0.4) */
	const char *device;
	int has_state;			/* 1 if @state is known (0 for -EBUSY and
					   -EDEADLK: the device was another call's
					   to read) */
	enum vfiomig_state state;	/* where that device is after the call */
	uint64_t stream_offset;		/* where in the stream (as stats.error_offset),
					   or UINT64_MAX */
	/* 1 if a load failed because the device rejected the very first data
	 * of the stream: a stream that is intact but most likely from an
	 * incompatible device (another model, firmware or configuration) */
	int first_data_rejected;
	/* 1 if an open failed because the device spec itself is malformed (a
	 * mock spec's unknown key or bad value; since 0.4 also a spec of no
	 * known form, "not a device spec"): a mistake in what was typed,
	 * refused before anything was opened */
	int bad_spec;
	/* 1 if @message begins with @device's name ("mock:a: ...", "mock:a has
	 * ..."), as a sentence about that device does; 0 if it begins with
	 * something else (a range or a page size the call was given), or
	 * @device is NULL.  A caller that leads its own line with a subject
	 * adds one only where this is 0.  Since: 0.4 */
	int device_first;
	/* 1 if @message lists every member of the group with the state it is
	 * in after the call ("members now: mock:a RUNNING, mock:b STOP"), the
	 * states vfiomig_group_get_result() gives; 0 if it lists none, or not
	 * all of them (a sentence cut at its length).  Since: 0.4 */
	int member_states;
};

/**
 * vfiomig_ctx_get_error_info() - The facts of the calling thread's last failure
 * @ret: filled on success; strings are borrowed as vfiomig_ctx_get_error()'s.
 *       Set @ret->sz first; an older, shorter struct is filled as far as it
 *       goes.
 *
 * The same failure vfiomig_ctx_get_error() describes, as data: which device
 * failed, the state it is in after the call (read from the device after any
 * rollback, never parsed from a sentence), for a load, the stream offset
 * where the failure was found, and what the sentence itself says (whether
 * it leads with the device, whether it lists a group's states), so that a
 * program that adds to it never has to read it.
 *
 * Return: 0; -ENOENT if this thread's last call succeeded or it made none;
 *         -EINVAL for a NULL argument or a @ret->sz too small to hold @sz.
 * Since: 0.3
 */
VFIOMIG_API int vfiomig_ctx_get_error_info(struct vfiomig_ctx *ctx,
					   struct vfiomig_error *ret);

/**
 * vfiomig_ctx_list_devices() - The VFIO devices on this host
 * @fn: called for each PCI device bound to a VFIO driver and each mdev, with
 *      its spec (for vfiomig_dev_open()) and driver name; a negative return
 *      stops the walk and is returned
 *
 * Devices are listed from sysfs without being opened, so migration support
 * is not known until vfiomig_dev_open().  Mock devices are not listed.
 *
 * Return: the number of devices listed; -errno from @fn.  Since: 0.3
 */
VFIOMIG_API int vfiomig_ctx_list_devices(struct vfiomig_ctx *ctx,
					 int (*fn)(void *userdata, const char *spec,
						   const char *driver),
					 void *userdata);

#ifdef __cplusplus
}
#endif

#endif
