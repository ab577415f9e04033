/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the mock's own tests share.  They drive the mock through the
 * transport ops with ioctl structs built by hand, as the kernel would
 * receive them, and compare it with the uAPI reference
 * (../shared/reference/vfio-migration-uapi.md sections 1.2, 2 and 3),
 * never with the library's own state machine.
 */
#ifndef VFIOMIG_TEST_MOCK_H
#define VFIOMIG_TEST_MOCK_H

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev.h"
#include "states.h"
#include "util.h"
#include "vfio-compat.h"
#include "mock.h"
#include "mock-content.h"
#include "test-util.h"

#define S(x) VFIOMIG_STATE_##x
#define FGET VFIO_DEVICE_FEATURE_GET
#define FSET VFIO_DEVICE_FEATURE_SET
#define FPROBE VFIO_DEVICE_FEATURE_PROBE
#define PAGE MOCK_PAGE_SIZE

struct arcs {
	char last[1024];	/* the last "... refused ..." message */
	int n;
	enum vfiomig_state from[16], to[16];
};

static inline int parse_state(const char *s)
{
	for (int i = 0; i < VFIOMIG_STATE_COUNT; i++)
		if (!strcmp(s, vfiomig_state_str(i)))
			return i;
	return -1;
}

/* Collects the "mock NAME: A -> B" debug lines mock-fsm.c logs for each arc. */
static inline void log_fn(void *userdata, int prio, const char *msg)
{
	struct arcs *a = userdata;
	char name[64], x[32], y[32];
	int n = 0;

	(void)prio;
	if (a && strstr(msg, "refused"))
		snprintf(a->last, sizeof(a->last), "%s", msg);
	if (!a || sscanf(msg, "mock %63[^:]: %31[A-Z_2] -> %31[A-Z_2]%n",
			 name, x, y, &n) != 3)
		return;
	if (msg[n] && strcmp(msg + n, " (new data fd)"))
		return;		/* "... refused", "... failed" */
	if (a->n < 16) {
		a->from[a->n] = parse_state(x);
		a->to[a->n] = parse_state(y);
		a->n++;
	}
}

static inline struct vfiomig_ctx *new_ctx(struct arcs *a)
{
	struct vfiomig_ctx *ctx;

	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	vfiomig_ctx_set_log_fn(ctx, log_fn, a);
	vfiomig_ctx_set_log_priority(ctx, LOG_DEBUG);
	return ctx;
}

/* Through the public entry point (which also probes the device). */
static inline struct vfiomig_dev *dev_open(struct vfiomig_ctx *ctx, const char *spec)
{
	struct vfiomig_dev *dev = NULL;
	int r = vfiomig_dev_open(ctx, spec, &dev);

	ck_assert_msg(r == 0, "open %s: %d %s", spec, r, vfiomig_ctx_get_error(ctx));
	return dev;
}

/* The mock's constructor alone: no probe, so fail= counts start at 0. */
static inline struct vfiomig_dev *mock_open(struct vfiomig_ctx *ctx, const char *params)
{
	struct vfiomig_dev *dev = NULL;
	int r = vfiomig_mock_open(ctx, params, &dev);

	ck_assert_msg(r == 0, "mock_open %s: %d %s", params, r,
		      vfiomig_ctx_get_error(ctx));
	return dev;
}

/*
 * VFIO_DEVICE_FEATURE with an explicit argsz; payload copied both ways.
 * The buffer is struct vfio_device_feature (argsz, flags) + data[].
 */
static inline int feature_raw(struct vfiomig_dev *dev, uint32_t argsz, uint32_t flags,
			      void *payload, size_t len)
{
	uint64_t b[1 + 4];
	int r;

	ck_assert_uint_le(len, sizeof(b) - 8);
	memset(b, 0, sizeof(b));
	memcpy((uint8_t *)b, &argsz, 4);
	memcpy((uint8_t *)b + 4, &flags, 4);
	if (len)
		memcpy(b + 1, payload, len);
	r = dev->transport->device_ioctl(dev, VFIO_DEVICE_FEATURE, b);
	if (len)
		memcpy(payload, b + 1, len);
	return r;
}

static inline int feature(struct vfiomig_dev *dev, uint32_t flags, void *payload,
			  size_t len)
{
	return feature_raw(dev, 8 + len, flags, payload, len);
}

static inline int set_state(struct vfiomig_dev *dev, uint32_t target, int *fd)
{
	struct vfio_device_feature_mig_state mig = {
		.device_state = target, .data_fd = 12345,
	};
	int r = feature(dev, FSET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &mig,
			sizeof(mig));

	ck_assert_uint_eq(mig.device_state, target);	/* echoed, even on error */
	*fd = r ? -1 : mig.data_fd;
	return r;
}

/* SET that must not return a data fd. */
static inline int set_nofd(struct vfiomig_dev *dev, uint32_t target)
{
	int fd, r = set_state(dev, target, &fd);

	ck_assert_int_eq(fd, -1);
	return r;
}

static inline enum vfiomig_state get_state(struct vfiomig_dev *dev)
{
	struct vfio_device_feature_mig_state mig = { .device_state = 99, .data_fd = 7 };

	ck_assert_int_eq(feature(dev, FGET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
				 &mig, sizeof(mig)), 0);
	ck_assert_int_eq(mig.data_fd, -1);
	return mig.device_state;
}

static inline int reset(struct vfiomig_dev *dev)
{
	return dev->transport->device_ioctl(dev, VFIO_DEVICE_RESET, NULL);
}

static inline int precopy_info(struct vfiomig_dev *dev, int fd, uint64_t *initial,
			       uint64_t *dirty)
{
	struct vfio_precopy_info info = { .argsz = sizeof(info) };
	int r = dev->transport->data_ioctl(dev, fd, VFIO_MIG_GET_PRECOPY_INFO, &info);

	if (!r) {
		*initial = info.initial_bytes;
		*dirty = info.dirty_bytes;
	}
	return r;
}

struct blob {
	uint8_t *p;
	size_t len, cap;
};

static inline void blob_add(struct blob *b, const void *data, size_t len)
{
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2 + 4096;
		b->p = realloc(b->p, b->cap);
		ck_assert_ptr_nonnull(b->p);
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

/* Library reads until EOF (0) or an error such as -ENOMSG. */
static inline int drain(struct vfiomig_dev *dev, int fd, struct blob *b, size_t chunk)
{
	static uint8_t tmp[1 << 16];

	if (chunk > sizeof(tmp))
		chunk = sizeof(tmp);
	for (;;) {
		ssize_t r = dev->transport->data_read(dev, fd, tmp, chunk);

		if (r <= 0)
			return (int)r;
		blob_add(b, tmp, (size_t)r);
	}
}

/* STOP -> STOP_COPY, read it all, STOP_COPY -> STOP. */
static inline void save_plain(struct vfiomig_dev *dev, struct blob *b)
{
	int fd;

	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(drain(dev, fd, b, 1 << 16), 0);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	close(fd);
}

/*
 * -> RESUMING, library writes of at most @chunk bytes, RESUMING -> STOP.
 * Returns the first write error, else the result of RESUMING -> STOP.  Like
 * mtty (found by tests/kernel's comparison), a bad header fails its write
 * with EFAULT though the bytes are taken, and a write past the end fails
 * with ENOMEM and takes nothing.
 */
static inline int load(struct vfiomig_dev *dev, const uint8_t *p, size_t len,
		       size_t chunk)
{
	size_t off = 0;
	int fd, r, werr = 0;

	ck_assert_int_eq(set_state(dev, S(RESUMING), &fd), 0);
	ck_assert_int_ge(fd, 0);
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;
		ssize_t w = dev->transport->data_write(dev, fd, p + off, n);

		if (w == -ENOMEM) {
			werr = werr ? werr : -ENOMEM;
			break;
		}
		if (w == -EFAULT) {
			werr = werr ? werr : -EFAULT;
			w = (ssize_t)n;
		}
		ck_assert_int_gt(w, 0);
		off += (size_t)w;
	}
	r = set_nofd(dev, S(STOP));
	close(fd);
	return werr ? werr : r;
}

/* ---- state machine against the reference's section 3.2 tables ---- */

#endif
