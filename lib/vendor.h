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

#include "private.h"

struct vendor_parser {
	const struct vfiomig_vendor_ops *ops;
	void (*record)(void *userdata, const struct vfiomig_stream_record *rec);
	void *userdata;
	uint32_t device;
	uint64_t offset;	/* bytes of the vendor stream consumed */
	uint64_t records;
	char problem[256];	/* set with the failing return */
	uint64_t problem_offset;
	/* backend state */
	uint8_t header[16];
	size_t have;		/* header bytes gathered */
	uint64_t remaining;	/* payload bytes still to pass */
	uint64_t record_start;
	uint32_t tag, flags;
};

struct vfiomig_vendor_ops {
	const char *name;
	bool (*match)(const struct vfiomig_identity *id);
	/* 0, or -EBADMSG / -EPROTO with p->problem set. */
	int (*feed)(struct vendor_parser *p, const uint8_t *buf, size_t len);
	/* At the end of the stream: -EBADMSG if it stopped inside a record. */
	int (*finish)(struct vendor_parser *p);
};

/* By name ("generic", "mlx5"); NULL if unknown. */
const struct vfiomig_vendor_ops *vfiomig_vendor_find(const char *name);
/* The backend for a device: the first whose match() accepts it, else generic. */
const struct vfiomig_vendor_ops *vfiomig_vendor_for(const struct vfiomig_identity *id);

void vendor_parser_init(struct vendor_parser *p, const struct vfiomig_vendor_ops *ops,
			uint32_t device,
			void (*record)(void *, const struct vfiomig_stream_record *),
			void *userdata);

#endif
