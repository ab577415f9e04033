// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer harness: vfiomig_group_load() (lib/group/group-load.c, lib/xfer/load.c)
 * of an untrusted stream into a group of two or three mock devices: the
 * identity prefix, the matching of stream devices to members, the dispatch
 * of each record to its member's worker, the per-member totals, and the
 * discarding of every member's state on failure.
 *
 * Input: one configuration byte, then the stream.
 *   bit 0     VFIOMIG_XFER_FORCE
 *   bits 1,3  the group, of kinds P (PCI 15b3:101e) and Q (8086:1234):
 *             00 [P, P] (one kind), 01 [P, Q], 10 [Q, P], 11 [Q, P, P]
 *             (a kind repeated beside another: a stream with more of one
 *             kind than the group has must be refused before any write)
 *   bit 2     VFIOMIG_LEAVE_STOP
 *   bits 4-6  the stream repairs of fuzz-fixup.h
 *   bit 7     unused
 *
 * The invariant is the library's promise: a failed load leaves no member
 * running (each is STOP, as it was opened, or reset and stopped), and a
 * load that succeeds leaves every member where it was asked to.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vfiomig/mock.h>
#include <vfiomig/vfiomig.h>

#include "fuzz-common.h"
#include "fuzz-fixup.h"

#define CFG_FORCE 0x01u
#define CFG_LEAVE_STOP 0x04u
#define MAX_MEMBERS 3

/* Bits 1 and 3: which group. */
static unsigned int group_of(unsigned int cfg)
{
	return (cfg >> 1 & 1u) | (cfg >> 2 & 2u);
}

static int stream_fd(const uint8_t *s, size_t size)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(size == 0 || write(fd, s, size) == (ssize_t)size);
	FUZZ_CHECK(lseek(fd, 0, SEEK_SET) == 0);
	return fd;
}

static void load(const uint8_t *s, size_t size, unsigned int cfg)
{
	static const char *const p = "size=4K,state=stop,pci=15b3:101e";
	static const char *const q = "size=4K,state=stop,pci=8086:1234";
	const char *const groups[4][MAX_MEMBERS] = {
		{ p, p }, { p, q }, { q, p }, { q, p, p },
	};
	const char *const *kinds = groups[group_of(cfg)];
	struct vfiomig_load_opts o = {
		.sz = sizeof(o), .flags = cfg & CFG_FORCE ? VFIOMIG_XFER_FORCE : 0,
		.leave = cfg & CFG_LEAVE_STOP ? VFIOMIG_LEAVE_STOP : VFIOMIG_LEAVE_RUNNING,
	};
	enum vfiomig_state want = cfg & CFG_LEAVE_STOP ? VFIOMIG_STATE_STOP : VFIOMIG_STATE_RUNNING;
	unsigned int n = kinds[2] ? 3 : 2;
	struct vfiomig_ctx *ctx;
	struct vfiomig_group *g;
	struct vfiomig_dev *dev[MAX_MEMBERS];
	int fd = stream_fd(s, size), r;

	FUZZ_CHECK(vfiomig_ctx_new(&ctx) == 0 && vfiomig_mock_attach(ctx) == 0);
	FUZZ_CHECK(vfiomig_group_new(ctx, 0, &g) == 0);
	for (unsigned int i = 0; i < n; i++) {
		char spec[64];

		snprintf(spec, sizeof(spec), "mock:f%u,%s", i, kinds[i]);
		FUZZ_CHECK(vfiomig_dev_open(ctx, spec, &dev[i]) == 0);
		FUZZ_CHECK(vfiomig_group_add(g, dev[i]) == 0);
	}
	r = vfiomig_group_load(g, &fd, 1, &o);
	if (fuzz_verbose())
		fprintf(stderr, "config 0x%02x: %d %s\n", cfg, r,
			r < 0 ? vfiomig_ctx_get_error(ctx) : "loaded");
	/* Every failure says why. */
	FUZZ_CHECK(r == 0 || (vfiomig_ctx_get_error(ctx) && *vfiomig_ctx_get_error(ctx)));
	for (unsigned int i = 0; i < n; i++) {
		enum vfiomig_state st;

		FUZZ_CHECK(vfiomig_dev_get_state(dev[i], &st) == 0);
		FUZZ_CHECK(r == 0 ? st == want : st == VFIOMIG_STATE_STOP);
		vfiomig_dev_unref(dev[i]);
	}
	vfiomig_group_unref(g);
	vfiomig_ctx_unref(ctx);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int cfg;
	uint8_t *s;

	if (size < 1)
		return 0;
	cfg = data[0];
	data++;
	size--;
	s = malloc(size ? size : 1);
	FUZZ_CHECK(s);
	if (size)
		memcpy(s, data, size);
	stream_fix_up(s, size, cfg);
	load(s, size, cfg);
	free(s);
	return 0;
}
