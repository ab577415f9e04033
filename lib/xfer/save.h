/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One device's save, in steps: vfiomig_dev_save() runs them in turn, and a
 * group save (group-save.c) runs each member's on a worker of its own,
 * deciding between the steps for the whole group.
 */
#ifndef VFIOMIG_SAVE_H
#define VFIOMIG_SAVE_H

#include <pthread.h>
#include <stdatomic.h>

#include "downtime.h"
#include "vendor.h"
#include "xfer.h"

/*
 * Where records go: a stream of one device, or one of a whole group, which
 * several members' saves write to, a whole record at a time under @lock.
 */
struct save_out {
	int fd;
	bool raw;
	const struct vfiomig_cancel *cancel;
	struct stream_writer writer;
	pthread_mutex_t lock;
	uint64_t bytes;			/* written to @fd (under @lock) */
	uint64_t error_offset;		/* where writing failed, or UINT64_MAX */
};

void save_out_init(struct save_out *out, int fd, bool raw,
		   const struct vfiomig_cancel *cancel);
/* The preamble (framed streams). */
int save_out_begin(struct save_out *out);
/* The trailer (framed streams): the stream is complete. */
int save_out_finish(struct save_out *out);
void save_out_free(struct save_out *out);

struct save {
	struct vfiomig_dev *dev;
	struct vfiomig_save_opts o;
	struct save_out *out;
	uint32_t index;			/* the device number in its records */
	uint8_t *buf;
	size_t buf_size;
	struct xfer_progress progress;	/* vfiomig_dev_save()'s own */
	struct vfiomig_stats stats;
	int data_fd;
	enum vfiomig_state start, phase_state;
	uint64_t stopped_ns, end_ns;
	uint64_t prev_dirty;		/* dirty bytes at the last round's start */
	uint64_t precopy_begin_ns;	/* when pre-copy began: the deadline's start */
	struct downtime dt;		/* its bandwidth and what is left */
	/* Device bytes moved; read by a group's progress from its thread. */
	atomic_uint_least64_t moved;
	/* mlx5 devices: their bytes through the parser as they are read, for
	 * the VENDOR_SUMMARY record (docs/mlx5.md). */
	struct vendor_parser vendor;
	bool vendor_on, vendor_failed;
};

/* Checks the caller's options (@r: how copying them went) into @o with
 * the defaults filled in for @dev. */
int save_opts_check(struct vfiomig_dev *dev, int r, bool have_fd, struct vfiomig_save_opts *o);
/* Ready to save @dev into @out as device @index with options @o. */
int save_init(struct save *s, struct vfiomig_dev *dev, const struct vfiomig_save_opts *o,
	      struct save_out *out, uint32_t index);
void save_free(struct save *s);
int save_write_identity(struct save *s);
/* Records a failure @r to write @s's stream as the error; returns @r. */
int save_out_failed(struct save *s, int r);
/* The data fd of the session the device just entered. */
int save_take_data_fd(struct save *s, int fd);
/* PRECOPY_INFO, noted in the progress estimate. */
int save_precopy_info(struct save *s, uint64_t *initial, uint64_t *dirty, uint32_t *flags);
/*
 * AUTO pre-copy iterates while it pays: once the initial bytes are sent, a
 * round that did not shrink the dirty bytes shows the device dirties as
 * fast as it is copied, and more rounds would only send the same again.
 */
bool save_round_pays(unsigned int rounds, uint64_t prev_dirty, uint64_t dirty);
/* Whether PRECOPY_INFO's @initial holds a switchover back (the uAPI's
 * initial-bytes rule): a count, not 0, and not the unknown amount. */
bool save_initial_pending(uint64_t initial);
/*
 * Whether pre-copy's deadline has passed for a save begun at @begin_ns:
 * 0 no; 1 switch over; -ETIMEDOUT, the error set by @fail_why (the last
 * estimate against the target), when it must give up: ABORT, or initial
 * bytes still pending (@initial_pending).
 */
int save_deadline(struct vfiomig_ctx *ctx, const struct vfiomig_save_opts *o, uint64_t begin_ns,
		  bool initial_pending, const char *who, uint64_t estimate_ns, uint64_t remaining,
		  uint64_t bandwidth);
/* One pre-copy round: what the device has for now, and the round's record. */
int save_precopy_round(struct save *s, uint64_t initial, uint64_t dirty);
/* The stopped device's data and the device's end record. */
int save_stop_copy(struct save *s);

#endif
