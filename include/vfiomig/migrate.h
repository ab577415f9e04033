/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiomig: whole saves and loads.  vfiomig_dev_save() streams a device's
 * state into any fd (file, pipe, socket) and vfiomig_dev_load() streams it into
 * a twin device, in the self-describing, checksummed format of
 * docs/stream-format.md, or raw.  Memory stays bounded whatever the state
 * size, and nothing is lost on failure: a source returns to the state it
 * started in, and a destination is never left RUNNING with partial state.
 */
#ifndef VFIOMIG_MIGRATE_H
#define VFIOMIG_MIGRATE_H

#include <stddef.h>
#include <stdint.h>

#include <vfiomig/cancel.h>
#include <vfiomig/common.h>
#include <vfiomig/dev.h>

#ifdef __cplusplus
extern "C" {
#endif

enum vfiomig_precopy_mode {
	VFIOMIG_PRECOPY_MODE_NEVER = 0,	/* stop the device, then copy */
	/* iterate while it pays (the dirty bytes shrink), then switch over */
	VFIOMIG_PRECOPY_MODE_AUTO = 1,
	VFIOMIG_PRECOPY_MODE_ROUNDS = 2,	/* exactly precopy_rounds rounds */
};

enum vfiomig_leave {
	VFIOMIG_LEAVE_DEFAULT = 0,	/* save: STOP; load: RUNNING */
	VFIOMIG_LEAVE_STOP = 1,
	VFIOMIG_LEAVE_RUNNING = 2,
};

/* What a save does when its pre-copy deadline passes (since 0.4). */
enum vfiomig_on_timeout {
	/* switch over anyway, once the initial bytes are sent (KubeVirt's
	 * choice); a device whose initial bytes are still pending fails as
	 * with ABORT, since the uAPI holds the switchover back for them */
	VFIOMIG_ON_TIMEOUT_SWITCH = 0,
	/* give up: the save fails with -ETIMEDOUT, every source back where it
	 * started (running), and the error gives the last estimate */
	VFIOMIG_ON_TIMEOUT_ABORT = 1,
};

enum vfiomig_phase {
	VFIOMIG_PHASE_PRECOPY = 1,	/* source runs, pre-copy data flows */
	VFIOMIG_PHASE_STOP_COPY = 2,	/* source stopped, the rest flows */
	VFIOMIG_PHASE_LOAD = 3,		/* destination RESUMING */
	VFIOMIG_PHASE_DONE = 4,
};

/*
 * Reported to a progress callback; valid only during the call.  The
 * callback runs on the calling thread, inside the call: a call from it on
 * the device being moved (a group's call: the group or a member) fails
 * with -EDEADLK and changes nothing; queries such as
 * vfiomig_dev_get_state() work there (vfiomig/vfiomig.h, Threads).
 */
struct vfiomig_progress {
	enum vfiomig_phase phase;
	uint64_t bytes;			/* device bytes moved so far, all phases */
	uint64_t total_estimate;	/* device bytes expected in all; 0 if unknown */
	uint64_t rate;			/* bytes per second, recent */
	unsigned int precopy_round;
	/* Since 0.4, a save in pre-copy: the stop-copy time the remaining
	 * bytes would take at the measured bandwidth (UINT64_MAX: not known
	 * yet), and the caller's downtime_limit_ns (0: none). */
	uint64_t downtime_estimate_ns;
	uint64_t downtime_limit_ns;
};

/*
 * What a save or load did; filled in on every return, success or failure,
 * as far as the caller's sz reaches.  The bytes of a phase are counted as
 * they move: a transfer that failed halfway reports what had moved.
 */
struct vfiomig_stats {
	size_t sz;			/* set to sizeof(struct vfiomig_stats) */
	uint64_t precopy_bytes;		/* device bytes moved while the source ran */
	uint64_t stop_copy_bytes;	/* device bytes moved while it was stopped */
	uint64_t stream_bytes;		/* bytes written to or read from the fd */
	unsigned int precopy_rounds;
	/* save: the arc into STOP_COPY began -> stream complete (a group's:
	 * its first member's arc); load: RESUMING -> running (or stopped) */
	uint64_t downtime_ns;
	uint64_t elapsed_ns;
	/* load: where a failure was found in the stream; save: where writing
	 * the stream failed; UINT64_MAX otherwise */
	uint64_t error_offset;
	/* Since 0.4, a save whose pre-copy ran rounds (@precopy_rounds > 0):
	 * the estimated downtime when it switched over (remaining bytes over
	 * the measured bandwidth; a group's: as its switchover decided it),
	 * UINT64_MAX if no estimate was possible; 0 otherwise.  Compare it
	 * with @downtime_ns. */
	uint64_t downtime_estimate_ns;
	/* the bandwidth pre-copy measured, bytes a second; 0 if none */
	uint64_t precopy_bandwidth;
	/* 1 if the pre-copy deadline ended pre-copy */
	unsigned int precopy_timed_out;
};

/* Flags for both directions. */
#define VFIOMIG_XFER_RAW   (1u << 0) /* bare device bytes, no container */
#define VFIOMIG_XFER_FORCE (1u << 1) /* load: accept another device's identity */

struct vfiomig_save_opts {
	size_t sz;			/* set to sizeof(struct vfiomig_save_opts) */
	unsigned int flags;		/* VFIOMIG_XFER_RAW */
	enum vfiomig_precopy_mode precopy;
	/* ROUNDS: the number of rounds; AUTO: the most rounds (default 32).
	 * AUTO's limits apply only once the device's initial bytes are sent
	 * (the uAPI's initial-bytes rule). */
	unsigned int precopy_rounds;
	/* AUTO: switch over once the initial bytes are sent and the dirty
	 * bytes are at most this (default 1 MiB)... */
	uint64_t precopy_dirty_threshold;
	/* ...or once this many pre-copy bytes moved (default: twice the
	 * stop-copy size, or unlimited where the device cannot say). */
	uint64_t precopy_max_bytes;
	enum vfiomig_leave leave;	/* STOP (default) or RUNNING */
	/* The one I/O buffer: at least 4 KiB (default 256 KiB).  A framed
	 * save writes records of at most this and 1 MiB. */
	size_t buffer_size;
	void (*progress)(void *userdata, const struct vfiomig_progress *p);
	void *userdata;
	struct vfiomig_stats *stats;	/* optional */
	/* Optional: raising it (from another thread or a signal handler) makes
	 * the save stop at once, roll back, and fail with -ECANCELED. */
	struct vfiomig_cancel *cancel;
	/* Since 0.4.  AUTO: switch over once the estimated downtime (what
	 * PRECOPY_INFO says is left, over the bandwidth measured during
	 * pre-copy) is at most this, and the initial bytes are sent; it
	 * replaces the dirty threshold (docs/migration.md).  0: none. */
	uint64_t downtime_limit_ns;
	/* Since 0.4.  Pre-copy ends this long after it began (checked
	 * between rounds), as @on_timeout says; 0: no deadline.  With a
	 * target and a deadline, precopy_rounds and precopy_max_bytes
	 * default to unlimited. */
	uint64_t precopy_timeout_ns;
	enum vfiomig_on_timeout on_timeout;
};

struct vfiomig_load_opts {
	size_t sz;			/* set to sizeof(struct vfiomig_load_opts) */
	unsigned int flags;		/* VFIOMIG_XFER_RAW, VFIOMIG_XFER_FORCE */
	enum vfiomig_leave leave;	/* RUNNING (default) or STOP */
	/* The raw mode's I/O buffer, as for saving; a framed load always
	 * reads into 1 MiB + 32 bytes, which any legal record fits. */
	size_t buffer_size;
	void (*progress)(void *userdata, const struct vfiomig_progress *p);
	void *userdata;
	struct vfiomig_stats *stats;	/* optional */
	struct vfiomig_cancel *cancel;	/* optional, as for saving */
};

/**
 * vfiomig_dev_save() - Save @dev's state into @out_fd
 * @opts: may be NULL for the defaults.  Every sz-prefixed struct grows
 *        by one rule: fields past an older caller's @sz read as zero, and
 *        a newer caller's longer struct is accepted when the bytes past
 *        this library's end are zero (-EINVAL otherwise).
 *
 * The device must be RUNNING, RUNNING_P2P or STOP; in any other state the
 * save is refused before anything is sent, and the device is left as it
 * was (vfiomig_dev_check_ready()).  With pre-copy it runs
 * on while the bulk of its state moves, and stops only for the rest.  The
 * stream ends with a trailer; a reader treats a stream without one as
 * truncated.  If anything fails before the stream is complete (the device,
 * a write to @out_fd, a peer that hangs up), the device is returned to the
 * state it started in: a running VM keeps running.  SIGPIPE is not raised.
 *
 * Return: 0; -EINVAL for bad options or a device in ERROR; -EBUSY if the
 *         device is already saving or resuming; -EPROTO in a state the
 *         library does not know; -EPIPE if the reader went away;
 *         -ECANCELED if @opts->cancel was raised; -errno.
 * Since: 0.3
 */
VFIOMIG_API int vfiomig_dev_save(struct vfiomig_dev *dev, int out_fd,
				 const struct vfiomig_save_opts *opts);

/**
 * vfiomig_dev_load() - Load a saved state from @in_fd into @dev
 * @opts: may be NULL for the defaults
 *
 * The stream's identity is checked against @dev before anything is written
 * to the device (VFIOMIG_XFER_FORCE overrides it); a stream of several
 * devices (a group's, vfiomig_group_load()) is refused then too.  Each record's checksum
 * is verified before its bytes go to the device, and the trailer's totals
 * and whole-stream check before the device is started.  If the stream is
 * corrupt, truncated or for another device, or the device rejects it, the
 * error names the reason and the stream offset (stats->error_offset), and
 * the device is reset (discarding the partial state) and left in STOP; if
 * nothing had been written yet, it is put back where it was.  A device
 * that is not RUNNING, RUNNING_P2P or STOP is refused before anything is
 * sent, as for a save.  A stop that fails
 * after the reset (a second fault) is tried once more after another reset;
 * a reset that fails leaves the device where it was (RESUMING or STOP),
 * never running, and the error says where.
 *
 * Return: 0; -EBADMSG for a corrupt or truncated stream; -EPROTO for a
 *         stream that is not one or is of a newer format; -ENODEV for a
 *         stream of another device or of several; -E2BIG for a record over the limits;
 *         -ECANCELED if @opts->cancel was raised; -errno from the device.
 *         Since: 0.3
 */
VFIOMIG_API int vfiomig_dev_load(struct vfiomig_dev *dev, int in_fd,
				 const struct vfiomig_load_opts *opts);

#ifdef __cplusplus
}
#endif

#endif
