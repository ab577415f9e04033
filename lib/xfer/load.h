/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One device's load, in steps: vfiomig_dev_load() runs them in turn, and a
 * group load (group-load.c) runs them for each member, its records handed
 * to a worker of the member's own.
 */
#ifndef VFIOMIG_LOAD_H
#define VFIOMIG_LOAD_H

#include <stdatomic.h>

#include "vendor.h"
#include "xfer.h"

/* Where records come from: one stream, read by one thread. */
struct load_in {
	int fd;
	const struct vfiomig_cancel *cancel;
	struct stream_reader reader;
	uint64_t bytes;			/* read from @fd */
};

void load_in_init(struct load_in *in, int fd, const struct vfiomig_cancel *cancel);
/* A stream_reader's read: from the load_in @ctx, counting its bytes. */
ssize_t load_in_read(void *ctx, void *buf, size_t len);
void load_in_free(struct load_in *in);

struct load {
	struct vfiomig_dev *dev;
	struct vfiomig_load_opts o;
	struct load_in *in;
	bool raw;
	uint8_t *buf;			/* NULL: the records come in buffers of a group's */
	size_t buf_size;
	struct xfer_progress progress;	/* vfiomig_dev_load()'s own */
	struct vfiomig_stats stats;
	int data_fd;
	bool resuming;			/* the device has been given data */
	uint64_t resumed_ns, end_ns;
	bool have_end;
	uint64_t end_bytes, end_precopy;
	bool first_data_rejected;	/* the device refused the stream's first data */
	struct stream_identity ours;	/* load_identity()'s */
	bool have_ours;
	/* The record after the identity (1), the trailer (0), or none (-1). */
	struct stream_record ahead;
	int ahead_r;
	/* Device bytes written; read by a group's progress from its thread. */
	atomic_uint_least64_t moved;
	/* The device's bytes through its backend's parser before each write,
	 * when the backend checks_load (docs/mlx5.md); set up at the first. */
	struct vendor_parser vendor;
	bool vendor_ready;
};

int load_opts_check(struct vfiomig_dev *dev, int r, bool have_fd, const struct vfiomig_load_opts *o);
/* Ready to load into @dev from @in (its own stream; NULL: records are
 * handed to load_take_record()); @own_buffer: read into a buffer of its own. */
void load_init(struct load *l, struct vfiomig_dev *dev, const struct vfiomig_load_opts *o,
	       struct load_in *in);
int load_alloc_buffer(struct load *l);
void load_free(struct load *l);
/* A failure found at stream offset @offset: in the stats and in the error. */
int load_fail(struct load *l, int err, uint64_t offset, const char *fmt, ...) PRINTF(4, 5);
/* A failure of the stream @in, with its reader's account of what and where. */
int load_input_failed(struct load *l, struct load_in *in, int r);
/* Reads the preamble and the first record, @l's identity, and checks it. */
int load_read_identity(struct load *l);
/* @l's device's identity, read once per load: MIG_DATA_SIZE behind it is
 * a firmware command on mlx5. */
const struct stream_identity *load_identity(struct load *l);
/* "15b3:101e (mlx5_vfio_pci)", "an mdev of type mtty-2 (mtty)", ... */
#define LOAD_DESCRIBE_MAX (2 * STREAM_STRING_MAX + 32)
void load_describe(const struct stream_identity *id, char *buf, size_t size);
/* Whether a stream of @theirs may go into @l's device; refused with the
 * reason unless forced.  @offset: the identity's record. */
int load_check_identity(struct load *l, const struct stream_identity *theirs, uint64_t offset);
/* The data fd of the session the device just entered (RESUMING). */
int load_take_data_fd(struct load *l, int fd);
/* One verified record of this device. */
int load_take_record(struct load *l, const struct stream_record *rec);
/* The rest of @l's own stream, to its verified trailer. */
int load_records(struct load *l);
/* The stream's account of the device's bytes against what was written,
 * and the backend's parser at the end of the device's bytes. */
int load_check_totals(struct load *l);
/* Resets a device given part of a state, and stops it: true.  false if
 * the kernel refused the reset: the device stays where it is (RESUMING)
 * and needs recovery. */
bool load_discard_partial(struct load *l);

#endif
