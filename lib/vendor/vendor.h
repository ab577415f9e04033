/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The vendor seam: what the library knows about one vendor's device
 * stream.  A backend parses the stream incrementally (any split of the
 * bytes), so it works on data as it passes, with bounded memory.  The
 * streams are untrusted input.
 */
#ifndef VFIOMIG_VENDOR_H
#define VFIOMIG_VENDOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vfiomig/inspect.h>

#include "export.h"
#include "identity.h"

struct vendor_parser {
	const struct vfiomig_vendor_ops *ops;
	void (*record)(void *userdata, const struct vfiomig_stream_record *rec);
	void *userdata;
	uint32_t device;
	uint64_t offset;	/* bytes of the vendor stream consumed */
	uint64_t records;
	char problem[256];	/* set with the failing return */
	uint64_t problem_offset;
	/* Set before the first feed when the bytes are being loaded: the
	 * target's kernel (vendor_kernel_version()), for streams only some
	 * kernels load.  0: not loading (inspect, save). */
	uint32_t target_kernel;
	/* Set with it when the target's PCI IDs are known, for streams that
	 * name the device they came from (xe's descriptor); or, by inspect,
	 * the IDs of the stream's own IDENTITY record (target_is_identity),
	 * which the device's bytes must agree with. */
	bool target_has_ids, target_is_identity;
	uint16_t target_device;
	uint8_t target_revision;
	void *state;		/* the backend's own, ops->state_size bytes */
};

struct vfiomig_vendor_ops {
	const char *name;
	/* Whether a device of @id speaks this stream; NULL: only by name. */
	bool (*match)(const struct vfiomig_identity *id);
	size_t state_size;	/* zeroed before the first feed */
	/* Frees what the state holds, if anything (may be NULL). */
	void (*state_fini)(void *state);
	/* 0, or -EBADMSG / -EPROTO with p->problem set. */
	int (*feed)(struct vendor_parser *p, const uint8_t *buf, size_t len);
	/* At the end of the stream: -EBADMSG if it stopped inside a record. */
	int (*finish)(struct vendor_parser *p);
	/*
	 * A save's VENDOR_SUMMARY record (docs/stream-format.md), for a
	 * backend that has one (NULL: none): mark_stop_copy() where the
	 * device stopped, summary() its payload of STREAM_VENDOR_SUMMARY_SIZE bytes
	 * at the end, @failed if the bytes did not parse.
	 */
	void (*mark_stop_copy)(struct vendor_parser *p);
	void (*summary)(const struct vendor_parser *p, bool failed, uint8_t *payload);
	/* The backend's checks are the target driver's own: a load refuses
	 * what they refuse before the device sees it.  (The mock checks its
	 * stream itself, and its tests expect its own errors.) */
	bool checks_load;
};

/* By name ("generic", "mlx5", or one attached to @ctx); NULL if unknown. */
VFIOMIG_PRIVATE const struct vfiomig_vendor_ops *vfiomig_vendor_find(struct vfiomig_ctx *ctx,
								     const char *name);
/* The backend for a device: the first whose match() accepts it, else generic. */
const struct vfiomig_vendor_ops *vfiomig_vendor_for(const struct vfiomig_identity *id);

/* 0 or -ENOMEM; vendor_parser_fini() afterwards, whatever this returned. */
int vendor_parser_init(struct vendor_parser *p, const struct vfiomig_vendor_ops *ops,
		       uint32_t device,
		       void (*record)(void *, const struct vfiomig_stream_record *),
		       void *userdata);
void vendor_parser_fini(struct vendor_parser *p);

/* "6.9.0-13-amd64" as major << 16 | minor; 0 if it does not parse. */
uint32_t vendor_kernel_version(const char *release);
/* This host's kernel, as vendor_kernel_version() gives it. */
uint32_t vendor_host_kernel(void);
#define VENDOR_KERNEL(major, minor) ((uint32_t)(major) << 16 | (uint32_t)(minor))

#endif
