/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiomig: looking inside saved device state without a device.  A saved
 * stream (docs/stream-format.md) is verified and described record by
 * record; a bare vendor stream (raw mode) is described by the vendor
 * backend that understands it.
 */
#ifndef VFIOMIG_INSPECT_H
#define VFIOMIG_INSPECT_H

#include <stddef.h>
#include <stdint.h>

#include <vfiomig/cancel.h>
#include <vfiomig/common.h>
#include <vfiomig/ctx.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The source device a stream names; strings valid during the callback. */
struct vfiomig_stream_identity {
	int has_pci_ids;
	uint16_t vendor, device, subsystem_vendor, subsystem_device;
	uint8_t revision;
	uint64_t mig_flags;
	uint64_t stop_copy_size;	/* 0 if unknown */
	const char *name, *driver, *backend, *kernel, *library;
	const char *mdev_type;		/* "" if none (a PCI device, an older stream) */
};

/*
 * One record: of the vfiomig container, or of a vendor's own stream (for
 * mlx5: its 16-byte header's tag, flags and size), in raw mode or inside a
 * container's DATA records.  A vendor record's offset counts in the
 * device's own stream, not in the container.
 */
struct vfiomig_stream_record {
	const char *kind;	/* "DATA_PRECOPY", "IDENTITY", "mlx5 FW_DATA", ... */
	uint32_t type;		/* the numeric type or tag */
	int optional;
	uint32_t device;	/* device index (0 in raw mode) */
	uint64_t offset;	/* of the record in the stream */
	uint64_t length;	/* of its payload */
};

struct vfiomig_inspect_ops {
	size_t sz;		/* sizeof(struct vfiomig_inspect_ops) */
	/* Either may be NULL.  Called in stream order. */
	void (*identity)(void *userdata, uint32_t device,
			 const struct vfiomig_stream_identity *id);
	void (*record)(void *userdata, const struct vfiomig_stream_record *rec);
	/*
	 * Optional: raising it (from a signal handler, another thread) makes
	 * the call stop reading and fail with -ECANCELED.  Since: 0.3
	 */
	struct vfiomig_cancel *cancel;
};

/* What inspection concluded. */
struct vfiomig_stream_summary {
	size_t sz;		/* sizeof(struct vfiomig_stream_summary) */
	int valid;		/* 1: complete and every check passed */
	char problem[512];	/* the first problem found, "" if valid */
	uint64_t problem_offset;	/* where it was found, UINT64_MAX if valid */
	/* 0 in raw mode, and for input that is not a vfiomig stream (or is
	 * cut before its version) */
	unsigned int version_major, version_minor;
	/*
	 * The input's bytes.  Reading stops at the first problem (an input
	 * that is no stream may never end: /dev/zero, a FIFO); a regular
	 * file's size is known all the same, past the problem too.
	 */
	uint64_t bytes;
	uint64_t records;
	uint32_t devices;
	char backend[32];	/* the backend that described a raw stream */
	/* 1: @bytes is the whole input (a regular file, or input read to
	 * its end); 0: the bytes read up to the problem.  Since: 0.4 */
	int bytes_whole;
	/* Raw mode: 1 if the input begins as a vfiomig stream, which
	 * inspecting without VFIOMIG_INSPECT_RAW verifies.  Since: 0.4 */
	int begins_as_stream;
};

#define VFIOMIG_INSPECT_RAW (1u << 0) /* a bare device stream, no container */

/**
 * vfiomig_stream_inspect() - Verify and describe a saved stream read from @fd
 * @flags: VFIOMIG_INSPECT_RAW for a bare device stream
 * @backend: raw mode only: "generic" (byte counts), "mlx5" (the
 *           mlx5_vfio_pci record stream) or "xe" (the xe-vfio-pci packet
 *           stream, since 0.4); NULL means "generic"
 * @ops: callbacks, may be NULL
 * @ret: filled with the verdict; on a damaged stream it says what and where
 *
 * Reads @fd to its end (a pipe is fine) with bounded memory, or to its
 * first problem: bytes that are no stream's are refused at the first read
 * that brings one, so an endless input (/dev/zero, a FIFO whose writer
 * stays) ends the call too.  A stream that fails a check is not an error
 * of this call: @ret->valid says so.
 *
 * Return: 0 (see @ret->valid); -EINVAL for bad arguments or an unknown
 *         backend; -ECANCELED if @ops->cancel was raised; -errno if @fd
 *         cannot be read.  Since: 0.2
 */
VFIOMIG_API int vfiomig_stream_inspect(struct vfiomig_ctx *ctx, int fd, unsigned int flags,
				       const char *backend,
				       const struct vfiomig_inspect_ops *ops, void *userdata,
				       struct vfiomig_stream_summary *ret);

#ifdef __cplusplus
}
#endif

#endif
