// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * personality=xe on the resume side: the packets read the way
 * xe-vfio-pci's write() and the PF's restore read them (the driver's
 * xe_sriov_packet.c and xe_sriov_pf_migration.c), written from a reading
 * of those rules and sharing no code with the library's
 * lib/vendor/vendor-xe.c, so that a bug in one cannot hide in the other.
 * The VRAM payload, the mock's own stream, goes on to mock-parser.c.
 *
 * What the driver refuses, and when (docs/mock.md, *The xe personality*):
 * a header as soon as its 24 bytes are in (version, GT); the rest once
 * the payload is whole (the descriptor's tile, size, KLVs and IDs; the
 * trailer's fields; a data packet's tile and type 0).  Types 7 and up
 * are skipped.  The driver checks no order.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mock-content.h"
#include "util.h"

/* The mock's one GT, 0, is on tile 0. */
#define GT 0u
#define TILE 0u

static const char *type_name(uint32_t type)
{
	static const char *const names[MOCK_XE_TYPES] = {
		[0] = "type 0", [MOCK_XE_DESCRIPTOR] = "DESCRIPTOR",
		[MOCK_XE_TRAILER] = "TRAILER", [MOCK_XE_GGTT] = "GGTT",
		[MOCK_XE_MMIO] = "MMIO", [MOCK_XE_GUC] = "GUC", [MOCK_XE_VRAM] = "VRAM",
	};

	return type < MOCK_XE_TYPES ? names[type] : "unknown type";
}

void mock_xe_rx_init(struct mock_xe_rx *rx, uint32_t device, uint32_t revision)
{
	memset(rx, 0, sizeof(*rx));
	rx->device = device;
	rx->revision = revision;
}

/* The packet is dropped; the next byte starts a header. */
static int refuse(struct mock_xe_rx *rx, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(struct mock_xe_rx *rx, int err, const char *fmt, ...)
{
	va_list ap;
	int n;

	rx->have = 0;
	rx->in_payload = false;
	if (rx->err)
		return err;
	rx->err = err;
	n = snprintf(rx->why, sizeof(rx->why), "xe packet %" PRIu64 " at stream byte %" PRIu64
		     ": ", rx->packets - 1, rx->start);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(rx->why))
		vsnprintf(rx->why + n, sizeof(rx->why) - (size_t)n, fmt, ap);
	va_end(ap);
	return err;
}

static void content(struct mock_xe_rx *rx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void content(struct mock_xe_rx *rx, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (rx->content[0])
		return;
	n = snprintf(rx->content, sizeof(rx->content), "xe packet %" PRIu64 " (%s) at stream "
		     "byte %" PRIu64 ": ", rx->packets - 1, type_name(rx->type), rx->start);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(rx->content))
		vsnprintf(rx->content + n, sizeof(rx->content) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* A data packet's place: each state's packets follow on from offset 0. */
static void check_place(struct mock_xe_rx *rx)
{
	if (rx->trailer)
		content(rx, "a packet after the TRAILER, which ended the restore's data");
	if (rx->type < MOCK_XE_GGTT || rx->type > MOCK_XE_VRAM)
		return;
	if (rx->offset != rx->next[rx->type])
		content(rx, "offset %" PRIu64 ", the mock takes each state's packets in order: "
			"the next %s is at %" PRIu64, rx->offset, type_name(rx->type),
			rx->next[rx->type]);
	rx->next[rx->type] = rx->offset + rx->size;
}

/* The 24 header bytes are in: version and GT, as the driver checks them. */
static int take_header(struct mock_xe_rx *rx, bool check)
{
	const uint8_t *h = rx->hdr;

	rx->packets++;
	rx->type = h[1];
	rx->tile = h[2];
	rx->gt = h[3];
	rx->offset = get_le64(h + 8);
	rx->size = get_le64(h + 16);
	if (h[0] != MOCK_XE_VERSION)
		return refuse(rx, -EINVAL, "version %u, the driver takes version %u", h[0],
			      MOCK_XE_VERSION);
	if (rx->gt != GT)
		return refuse(rx, -EINVAL, "GT %u, this device has GT %u only", rx->gt, GT);
	rx->in_payload = true;
	rx->got = 0;
	rx->word_have = 0;
	rx->klv_left = 0;
	rx->id_why[0] = '\0';
	if (check)
		check_place(rx);
	return 0;
}

/* An ID KLV's value against this device's: the first that differs is kept. */
static void check_id(struct mock_xe_rx *rx, uint32_t value)
{
	bool device = rx->klv_key == MOCK_XE_KLV_DEVICE;
	uint32_t want = device ? rx->device : rx->revision;

	if (value != want && !rx->id_why[0])
		snprintf(rx->id_why, sizeof(rx->id_why), "the stream's %s is 0x%x, this "
			 "device's 0x%x", device ? "device ID" : "revision", value, want);
}

/* A dword of the descriptor: a KLV's key and length, or its value. */
static void klv_dword(struct mock_xe_rx *rx, uint32_t w)
{
	bool id;

	if (!rx->klv_left) {
		rx->klv_key = w >> 16;
		rx->klv_len = rx->klv_left = w & 0xffff;
		id = rx->klv_key == MOCK_XE_KLV_DEVICE || rx->klv_key == MOCK_XE_KLV_REVISION;
		/* an ID KLV without a value names no device: it matches none */
		if (id && !rx->klv_len && !rx->id_why[0])
			snprintf(rx->id_why, sizeof(rx->id_why), "the %s KLV has no value",
				 rx->klv_key == MOCK_XE_KLV_DEVICE ? "device ID" : "revision");
		return;
	}
	if (rx->klv_left == rx->klv_len &&
	    (rx->klv_key == MOCK_XE_KLV_DEVICE || rx->klv_key == MOCK_XE_KLV_REVISION))
		check_id(rx, w);
	rx->klv_left--;
}

static void descriptor_bytes(struct mock_xe_rx *rx, const uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		rx->word[rx->word_have++] = buf[i];
		if (rx->word_have == 4) {
			rx->word_have = 0;
			klv_dword(rx, get_le32(rx->word));
		}
	}
}

/* GUC, GGTT and MMIO payload against the generator, within the state's size. */
static void check_state(struct mock_xe_rx *rx, const uint8_t *buf, size_t n)
{
	uint64_t at = rx->offset + rx->got, size = mock_xe_state_size(rx->type);
	size_t ok;

	if (at >= size || size - at < n) {
		content(rx, "its payload runs past the %" PRIu64 "-byte %s state", size,
			type_name(rx->type));
		return;
	}
	ok = mock_verify(MOCK_XE_SEED, rx->type, at, buf, n);
	if (ok < n)
		content(rx, "byte %" PRIu64 " of the %s state is not what the device saved",
			at + ok, type_name(rx->type));
}

static void take_payload(struct mock_xe_rx *rx, const uint8_t *buf, size_t n,
			 mock_xe_sink sink, void *arg)
{
	if (rx->type == MOCK_XE_DESCRIPTOR)
		descriptor_bytes(rx, buf, n);
	else if (sink && mock_xe_state_size(rx->type))
		check_state(rx, buf, n);
	else if (sink && rx->type == MOCK_XE_VRAM)
		sink(arg, buf, n);
	rx->got += n;
}

static int descriptor_done(struct mock_xe_rx *rx)
{
	if (rx->tile != TILE || rx->gt != GT)
		return refuse(rx, -EINVAL, "a DESCRIPTOR on tile %u GT %u, not 0 and 0", rx->tile,
			      rx->gt);
	if (rx->size % 4)
		return refuse(rx, -EINVAL, "a DESCRIPTOR of %" PRIu64 " bytes is not in KLV "
			      "format (whole dwords)", rx->size);
	if (rx->klv_left)
		return refuse(rx, -ENODATA, "the DESCRIPTOR's KLV 0x%x has %u value %s, the "
			      "payload ends %u short", rx->klv_key, rx->klv_len,
			      plural(rx->klv_len, "dword", "dwords"), rx->klv_left);
	if (rx->id_why[0])
		return refuse(rx, -ENODEV, "the DESCRIPTOR is another device's: %s", rx->id_why);
	return 0;
}

/* The payload is whole: what the driver checks before it restores. */
static int take_packet(struct mock_xe_rx *rx)
{
	rx->in_payload = false;
	switch (rx->type) {
	case MOCK_XE_DESCRIPTOR:
		return descriptor_done(rx);
	case MOCK_XE_TRAILER:
		if (rx->tile || rx->gt || rx->offset || rx->size)
			return refuse(rx, -EINVAL, "a TRAILER with tile %u, GT %u, offset %" PRIu64
				      ", size %" PRIu64 ": all must be 0", rx->tile, rx->gt,
				      rx->offset, rx->size);
		rx->trailer = true;
		return 0;
	case 0:
		return refuse(rx, -EINVAL, "type 0, which the driver never writes");
	default:
		if (rx->tile != TILE)
			return refuse(rx, -EINVAL, "a %s packet on tile %u, and GT %u is on tile %u",
				      type_name(rx->type), rx->tile, GT, TILE);
		return 0;	/* types 7 and up: skipped, as the driver does */
	}
}

int mock_xe_rx_feed(struct mock_xe_rx *rx, const void *data, size_t len,
		    mock_xe_sink sink, void *arg)
{
	const uint8_t *buf = data;
	int r = 0;

	while (len && !r) {
		size_t n;

		if (rx->in_payload) {
			n = rx->size - rx->got < len ? (size_t)(rx->size - rx->got) : len;
			take_payload(rx, buf, n, sink, arg);
		} else {
			if (!rx->have)
				rx->start = rx->pos;
			n = MOCK_XE_HDR - rx->have < len ? MOCK_XE_HDR - rx->have : len;
			memcpy(rx->hdr + rx->have, buf, n);
			rx->have += n;
			if (rx->have == MOCK_XE_HDR) {
				rx->have = 0;
				r = take_header(rx, sink != NULL);
			}
		}
		rx->pos += n;
		buf += n;
		len -= n;
		if (!r && rx->in_payload && rx->got == rx->size)
			r = take_packet(rx);
	}
	return r;
}

const char *mock_xe_rx_verdict(struct mock_xe_rx *rx)
{
	static const uint32_t states[] = { MOCK_XE_GUC, MOCK_XE_GGTT, MOCK_XE_MMIO };

	if (rx->err)
		return rx->why;
	if (rx->have || rx->in_payload) {
		snprintf(rx->verdict, sizeof(rx->verdict), "the stream ends inside xe packet %"
			 PRIu64 " at stream byte %" PRIu64, rx->packets - (rx->have ? 0 : 1),
			 rx->start);
		return rx->verdict;
	}
	if (rx->content[0])
		return rx->content;
	if (!rx->trailer)
		return "the stream has no xe TRAILER: it was cut, or its save did not finish";
	for (size_t i = 0; i < ARRAY_SIZE(states); i++) {
		uint64_t size = mock_xe_state_size(states[i]);

		if (rx->next[states[i]] == size)
			continue;
		snprintf(rx->verdict, sizeof(rx->verdict), "the %s state came short: %" PRIu64
			 " of %" PRIu64 " bytes", type_name(states[i]), rx->next[states[i]], size);
		return rx->verdict;
	}
	return NULL;
}
