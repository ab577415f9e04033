/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The device object and the internal side of its calls (lib/device/). */
#ifndef VFIOMIG_DEV_INTERNAL_H
#define VFIOMIG_DEV_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "call.h"
#include "context.h"
#include "identity.h"
#include "log.h"
#include "states.h"

struct vfiomig_dev {
	atomic_int refcount;
	struct vfiomig_ctx *ctx;
	const struct vfiomig_transport *transport;
	const char *transport_name;	/* how it was reached: "vfio-group", ... */
	void *priv;			/* the transport's */
	int fd;
	bool owns_fd;
	char name[64];
	/* The device itself, whatever spec reached it: its sysfs name where the
	 * transport knows it ("vfio3" and "3b:00.1" may be one device), else
	 * the name.  vfiomig_dev_is_same() compares it. */
	char key[64];
	struct vfiomig_identity id;
	/* What understands its data stream; chosen at open. */
	const struct vfiomig_vendor_ops *backend;
	uint64_t mig_flags;
	unsigned int caps;

	struct owner owner;

	/* The rest is the owning thread's. */
	atomic_bool stepwise;	/* set from any thread */
	bool precopy_reinit;	/* opted in to MIG_PRECOPY_INFOv2 */
	/* Set when a transition or transfer failed and a reset may be needed. */
	bool needs_recovery;
	/* Opened in the middle of an earlier opener's session, whose data fd
	 * went with it: arcs that need that fd must not be sent. */
	bool stale_session;
	/* The errno of the last VFIO_DEVICE_RESET if the kernel refused it (a
	 * PF with VFs enabled may), 0 after one that worked. */
	int reset_refused;
	/* Where the call driving the device found it, for the advice at its
	 * end: the first state read since the call took it (dev_drive_begin()),
	 * unless a failed arc had left the device on a path by then, which is
	 * no place to go back to (@call_start_pending false from the start). */
	uint32_t call_start;
	bool call_start_pending, call_start_known;
	/* DEV_SIZE_*: which absurd sizes of the driver were logged. */
	unsigned int sizes_warned;
	/* A dirty-tracking session of this handle is on (dirty.c). */
	bool dirty_active;
};

/* dev-call.c: a call on a device (core/call.c has the rest). */
/* -EINVAL for a NULL @dev; -EBUSY (recorded) if another thread is inside;
 * -EDEADLK (recorded) if this thread is, unless CALL_QUERY. */
int call_begin_dev(struct call *c, struct vfiomig_dev *dev, unsigned int flags);
/* A failure of the call is about @dev: its name and final state are the
 * facts reported (a group call names the member that failed). */
void call_report(struct call *c, struct vfiomig_dev *dev);

/* dev.c */
VFIOMIG_PRIVATE int vfiomig_dev_new(struct vfiomig_ctx *ctx, const struct vfiomig_transport *t,
		    const char *transport_name, int fd, bool owns_fd,
		    const char *name, struct vfiomig_dev **ret);
/* One VFIO_DEVICE_FEATURE call with @len bytes of payload, copied back;
 * the driver's answer, nothing recorded. */
VFIOMIG_PRIVATE int vfiomig_dev_feature(struct vfiomig_dev *dev, uint32_t flags, void *payload,
					size_t len);
/* The transport @dev was opened through: its ops send one request each, as
 * the kernel would receive it (the conformance checker's data-fd requests). */
VFIOMIG_PRIVATE const struct vfiomig_transport *
vfiomig_dev_transport_ops(const struct vfiomig_dev *dev);
/* vfiomig_dev_open() within another call, whose failure it then records. */
int dev_open_spec(struct vfiomig_ctx *ctx, const char *spec, struct vfiomig_dev **ret);
/* A call that may move @dev takes it: where it finds the device is read anew. */
void dev_drive_begin(struct vfiomig_dev *dev);
/* The state number the kernel reports, whatever it is; -errno, nothing
 * recorded.  The first one a call reads is where it found the device. */
int dev_read_raw_state(struct vfiomig_dev *dev, uint32_t *ret);
/* One the library knows; -EPROTO for a newer kernel's, nothing recorded. */
int dev_read_state(struct vfiomig_dev *dev, enum vfiomig_state *ret);
/* The same, recording a failure. */
int dev_get_state(struct vfiomig_dev *dev, enum vfiomig_state *ret);
/* The state, if a save or a load may start in it (vfiomig_dev_check_ready()). */
int dev_check_ready(struct vfiomig_dev *dev, enum vfiomig_state *ret);
/*
 * MIG_DATA_SIZE; -EOPNOTSUPP or -errno, nothing recorded.  -ERANGE for an
 * answer at or above VFIOMIG_SIZE_LIMIT: an estimate that means nothing,
 * which every caller takes as none (logged once).
 */
int dev_stop_copy_size(struct vfiomig_dev *dev, uint64_t *ret);
/* Sizes a driver reports, for dev_size_clamp(). */
enum dev_size { DEV_SIZE_DATA, DEV_SIZE_INITIAL, DEV_SIZE_DIRTY };
/* @v, or VFIOMIG_SIZE_LIMIT (logged once per device and kind) if at or above it. */
uint64_t dev_size_clamp(struct vfiomig_dev *dev, enum dev_size kind, uint64_t v);

/* dev-state.c: the internal side of the exported calls of the same names,
 * and the path a transition would take (refused with the error recorded). */
int dev_plan(struct vfiomig_dev *dev, enum vfiomig_state cur, enum vfiomig_state target,
	     enum vfiomig_state *path, size_t path_max);
int dev_set_state(struct vfiomig_dev *dev, enum vfiomig_state target, int *ret_data_fd);
int dev_reset(struct vfiomig_dev *dev);
int dev_recover(struct vfiomig_dev *dev, enum vfiomig_state *ret_state);
/*
 * What the end of a failed call says of @dev: @where gets its state
 * ("STOP", "state 9 (unknown ...)"), @todo what to do if it cannot stay
 * there, or "".  0 and *@ret_state for a state the library knows;
 * -errno if it cannot be read (nothing written) or -EPROTO.
 */
int dev_report_state(struct vfiomig_dev *dev, enum vfiomig_state *ret_state,
		     char *where, size_t where_size, char *todo, size_t todo_size);

/* data.c: the internal side of the exported calls of the same names. */
int data_begin_save(struct vfiomig_dev *dev, unsigned int flags, int *ret_data_fd,
		    enum vfiomig_state *ret_state);
ssize_t data_read(struct vfiomig_dev *dev, int data_fd, void *buf, size_t len,
		  unsigned int flags);
/* One read as the driver answers it (-ENOMSG, mtty's 0, -EAGAIN untouched);
 * EINTR is retried unless @cancel is raised, then -ECANCELED. */
ssize_t data_read_once(struct vfiomig_dev *dev, int data_fd, void *buf, size_t len,
		       const struct vfiomig_cancel *cancel);
int data_begin_load(struct vfiomig_dev *dev, int *ret_data_fd);
int data_write(struct vfiomig_dev *dev, int data_fd, const void *buf, size_t len,
	       struct vfiomig_cancel *cancel);
int data_finish_load(struct vfiomig_dev *dev, enum vfiomig_state target);
int dev_enable_precopy_reinit(struct vfiomig_dev *dev);
int dev_get_precopy_info(struct vfiomig_dev *dev, int data_fd, uint64_t *ret_initial,
			 uint64_t *ret_dirty, uint32_t *ret_flags);

#endif
