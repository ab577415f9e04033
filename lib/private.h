/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal structures and helpers shared by the library's sources. */
#ifndef VFIOMIG_PRIVATE_H
#define VFIOMIG_PRIVATE_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

#include <vfiomig/vfiomig.h>

#include "transport.h"
#include "util.h"

#define VFIOMIG_EXPORT __attribute__((visibility("default")))
#define PRINTF(f, a) __attribute__((format(printf, f, a)))

struct err_record;
struct err_slot;
struct slot_anchor;
struct vfiomig_vendor_ops;

struct vfiomig_ctx {
	atomic_int refcount;
	/* The log settings. */
	pthread_mutex_t lock;
	void (*log_fn)(void *userdata, int priority, const char *msg);
	void *log_data;
	int log_priority;
	/* What its threads' error slots hold on to (call.c). */
	struct slot_anchor *anchor;
	/* Each transport's shared state (its own lock inside), in the order of
	 * vfiomig_transports[]. */
	void *transport_state[TRANSPORT_COUNT];
};

/*
 * Who a device is; empty fields are unknown.  The one copy: a device holds
 * it, a stream's IDENTITY record carries it, a mock spec pretends it.
 */
#define IDENTITY_STRING_MAX 255
struct vfiomig_identity {
	bool has_pci_ids;
	uint16_t vendor, device, subsystem_vendor, subsystem_device;
	uint8_t revision;
	char driver[IDENTITY_STRING_MAX + 1];
	/* An mdev's type ("mtty-2"): two mdevs of one driver may differ in it. */
	char mdev_type[IDENTITY_STRING_MAX + 1];
};

/* Which thread is inside a call on a device or group (call.c). */
struct owner {
	pthread_mutex_t lock;
	pthread_cond_t idle;	/* depth fell to 0: a destructor waits for it */
	pthread_t thread;
	/* That thread's calls in progress: one, and the queries (CALL_QUERY)
	 * and destructors its callbacks make. */
	unsigned int depth;
};

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

/*
 * call.c: the bookkeeping of one public call.  Every exported function
 * that returns a status brackets its work with call_begin_*() and
 * call_end(), and never calls another exported function: internal code
 * calls the internal functions, so a best-effort step inside a call leaves
 * no trace.
 */
struct call {
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;	/* the device the call is on */
	struct vfiomig_dev *report;	/* whose state a failure reports */
	struct err_slot *slot;
	unsigned int flags;
	struct owner *owned;		/* the device or group it took, given back at the end */
	struct err_record *stash;	/* a nested call: the outer call's failure */
};

/* call_begin_dev() flags */
#define CALL_REPORT_STATE (1u << 0)	/* a failure says where the device ends up */
/* It only reads the device, so a callback of a call on it may make it. */
#define CALL_QUERY (1u << 1)

/* -EINVAL for a NULL @ctx (nothing recorded: there is nowhere to). */
int call_begin_ctx(struct call *c, struct vfiomig_ctx *ctx);
/* -EINVAL for a NULL @dev; -EBUSY (recorded) if another thread is inside;
 * -EDEADLK (recorded) if this thread is, unless CALL_QUERY. */
int call_begin_dev(struct call *c, struct vfiomig_dev *dev, unsigned int flags);
/* Ends the call: a success clears the thread's error, a failure completes
 * it.  Returns @r. */
int call_end(struct call *c, int r);
/* Adds "; @note" to the failure the calling thread's call has recorded;
 * false if there is none, or the note did not fit whole. */
bool call_note(struct vfiomig_ctx *ctx, const char *note);
/* What kind of failure the calling thread's call recorded (struct
 * vfiomig_error's flags), for callers that act on it. */
#define CALL_FACT_FIRST_DATA_REJECTED (1u << 0)	/* a load's device refused its first data */
#define CALL_FACT_BAD_SPEC (1u << 1)		/* the device spec was malformed */
#define CALL_FACT_MEMBER_STATES (1u << 2)	/* the sentence lists every member's state */
void call_note_fact(struct vfiomig_ctx *ctx, unsigned int fact);
/* An open that failed before there was a device to report: the name of the
 * device it tried, for the failure's facts (vfiomig_error.device). */
void call_note_device(struct vfiomig_ctx *ctx, const char *name);
/* A failure of the call is about @dev: its name and final state are the
 * facts reported (a group call names the member that failed). */
void call_report(struct call *c, struct vfiomig_dev *dev);
/*
 * Taking a device or group for the calling thread: -EBUSY if another
 * thread is inside a call on it; -EDEADLK if this thread is (the call
 * comes from a callback of that call), unless @nest (a query, or a
 * destructor).
 */
void owner_init(struct owner *o);
void owner_fini(struct owner *o);
int owner_take(struct owner *o, bool nest);
void owner_give_back(struct owner *o);
/* A destructor's take: every one of @o, waiting as long as another thread
 * is inside a call on any (nested where this thread is). */
void owners_take_waiting(struct owner *const *o, unsigned int n);
/* Records why owner_take() gave -EDEADLK for @name (a device's, or "the
 * group"), and returns -EDEADLK. */
int call_fail_reentry(struct vfiomig_ctx *ctx, const char *name);

/*
 * log.c.  vfiomig_fail() records @fmt as the calling thread's error on
 * @ctx, unless this call already failed (the first failure is the cause;
 * what a rollback meets afterwards is not), and returns @err.  It also
 * logs the sentence at LOG_DEBUG, never at LOG_ERR.
 */
void vfiomig_log(struct vfiomig_ctx *ctx, int prio, const char *fmt, ...) PRINTF(3, 4);
int vfiomig_fail(struct vfiomig_ctx *ctx, int err, const char *fmt, ...) PRINTF(3, 4);
/* The same, with the stream offset at which the failure was found. */
int vfiomig_fail_at(struct vfiomig_ctx *ctx, int err, uint64_t offset,
		    const char *fmt, ...) PRINTF(4, 5);
#define dbg(ctx, ...) vfiomig_log(ctx, LOG_DEBUG, __VA_ARGS__)
#define info(ctx, ...) vfiomig_log(ctx, LOG_INFO, __VA_ARGS__)
#define warn(ctx, ...) vfiomig_log(ctx, LOG_WARNING, __VA_ARGS__)

/* state.c */
bool vfiomig_state_valid(enum vfiomig_state s);
bool vfiomig_mig_flags_defined(uint64_t mig_flags);
/* The bits of @mig_flags no kernel this library knows defines. */
uint64_t vfiomig_mig_flags_unknown(uint64_t mig_flags);
const char *vfiomig_state_str(enum vfiomig_state s);	/* never NULL */
/* The kernel's state number in words: "STOP", or for a number a newer
 * kernel may define "state 9 (unknown to this library: ...)". */
#define STATE_PHRASE_MAX 80
const char *vfiomig_state_phrase(uint32_t s, char *buf, size_t size);
/* A state with a data transfer session: the saving group and RESUMING. */
bool vfiomig_state_in_session(enum vfiomig_state s);

/* ctx.c: @t's shared state in @ctx. */
void *vfiomig_ctx_transport_state(struct vfiomig_ctx *ctx,
				  const struct vfiomig_transport *t);

/* dev.c */
int vfiomig_dev_new(struct vfiomig_ctx *ctx, const struct vfiomig_transport *t,
		    const char *transport_name, int fd, bool owns_fd,
		    const char *name, struct vfiomig_dev **ret);
/* One VFIO_DEVICE_FEATURE call with @len bytes of payload, copied back. */
int vfiomig_dev_feature(struct vfiomig_dev *dev, uint32_t flags, void *payload,
			size_t len);
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

/* cancel.c */
bool cancel_raised(const struct vfiomig_cancel *c);
int cancel_fd(const struct vfiomig_cancel *c);		/* -1 for NULL */

/*
 * sized.c: the one growth rule of sz-prefixed structs (libbpf's).  In: a
 * shorter struct reads as zeros past its end; a longer one must be zero
 * past ours; -EINVAL otherwise.  Out: filled as far as the caller's sz.
 */
int sized_copy_in(void *dst, size_t dst_size, const void *src);
/* -EINVAL if @dst cannot hold even its sz. */
int sized_check_out(const void *dst);
void sized_copy_out(void *dst, const void *src, size_t src_size);

#endif
