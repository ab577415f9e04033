/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the xe backend learned of a stream it parsed (docs/xe.md). */
#ifndef VFIOMIG_VENDOR_XE_H
#define VFIOMIG_VENDOR_XE_H

#include "vendor.h"

/* Packet types (Linux's drivers/gpu/drm/xe/xe_sriov_packet_types.h). */
enum xe_packet_type {
	XE_PKT_DESCRIPTOR = 1,
	XE_PKT_TRAILER = 2,
	XE_PKT_GGTT = 3,
	XE_PKT_MMIO = 4,
	XE_PKT_GUC = 5,
	XE_PKT_VRAM = 6,
	XE_PKT_TYPES = 7,	/* one past the last */
};

#define XE_SUMMARY_TILES 2	/* VRAM per tile: tile 0, and all the others */

struct xe_summary {
	bool has_device, has_revision;	/* the descriptor's KLVs 0xf001, 0xf002 */
	uint32_t device, revision;	/* the KLVs' dwords, as the stream has them */
	bool trailer;
	uint64_t packets[XE_PKT_TYPES], bytes[XE_PKT_TYPES];	/* by type */
	uint64_t vram_tile[XE_SUMMARY_TILES];
};

/* Of a parser of the xe backend. */
void xe_parser_summary(const struct vendor_parser *p, struct xe_summary *sum);
const char *xe_packet_name(uint32_t type);

#endif
