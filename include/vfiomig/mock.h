/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiomig-mock: the mock device, a library of its own beside
 * libvfiomig (pkg-config: vfiomig-mock).  An in-process double of a kernel
 * VFIO migration driver that behaves as the kernel does, for the tests of
 * a program that links libvfiomig: attach it to a context, and
 * vfiomig_dev_open() opens "mock:NAME[,key=value...]" there
 * (docs/mock.md lists the keys).  libvfiomig itself opens no mock.
 */
#ifndef VFIOMIG_MOCK_H
#define VFIOMIG_MOCK_H

#include <stddef.h>
#include <stdint.h>

#include <vfiomig/ctx.h>
#include <vfiomig/dev.h>
#include <vfiomig/state.h>

#if defined(__GNUC__) && defined(VFIOMIG_BUILDING_MOCK)
#define VFIOMIG_MOCK_API __attribute__((visibility("default")))
#else
#define VFIOMIG_MOCK_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/**
 * vfiomig_mock_attach() - Open mock devices on @ctx from now on
 *
 * Attaches the mock transport and its stream backend to @ctx: "mock:"
 * specs open mock devices there, a mock's fd can be adopted, and
 * vfiomig_stream_inspect() knows the backend "mock".  Call it right after
 * vfiomig_ctx_new(), before the context is used (or shared with other
 * threads).  The mock's state lives and dies with the context; each
 * context has mocks of its own.
 *
 * Return: 0; -EINVAL for a NULL @ctx; -EEXIST if attached already;
 *         -ENOMEM.  Since: 0.4
 */
VFIOMIG_MOCK_API int vfiomig_mock_attach(struct vfiomig_ctx *ctx);

/** vfiomig_mock_count() - Mock devices alive in @ctx (0 if none or NULL).  Since: 0.4 */
VFIOMIG_MOCK_API unsigned int vfiomig_mock_count(struct vfiomig_ctx *ctx);

/* The longest NAME of "mock:NAME" (which fits a device's 64-byte name). */
#define VFIOMIG_MOCK_NAME_MAX 58

/* One arc a mock of the context completed: the journal's entry. */
struct vfiomig_mock_arc {
	char device[VFIOMIG_MOCK_NAME_MAX + 6];	/* "mock:NAME" */
	enum vfiomig_state from, to;
	uint64_t begin_ns, end_ns;	/* CLOCK_MONOTONIC: the arc's command began, ended */
};

/* How many arcs the journal keeps: the newest. */
#define VFIOMIG_MOCK_JOURNAL_MAX 4096

/**
 * vfiomig_mock_journal() - The arcs every mock of @ctx completed, oldest first
 * @out: NULL, or room for @max entries
 *
 * For tests of the order of arcs across devices (a group's phases): every
 * arc, when its command began and ended.
 *
 * Return: how many entries the journal holds (at most
 *         VFIOMIG_MOCK_JOURNAL_MAX), of which min(that, @max) were copied;
 *         0 for a NULL @ctx or one without the mock.  Since: 0.4
 */
VFIOMIG_MOCK_API size_t vfiomig_mock_journal(struct vfiomig_ctx *ctx, struct vfiomig_mock_arc *out,
					     size_t max);

/** vfiomig_mock_journal_clear() - Forget the arcs so far.  Since: 0.4 */
VFIOMIG_MOCK_API void vfiomig_mock_journal_clear(struct vfiomig_ctx *ctx);

/**
 * vfiomig_mock_dma() - The mock device writes [@iova, @iova + @len) now
 *
 * What a device's own DMA does to guest memory, for tests of dirty
 * tracking (docs/mock.md, "DMA logging").
 *
 * Return: 0; -EPERM if the device is not running; -EINVAL if @dev is no
 *         mock, @len is 0, the range wraps, or a tracking session is
 *         active and the range is outside the ranges it asked for.
 *         Since: 0.4
 */
VFIOMIG_MOCK_API int vfiomig_mock_dma(struct vfiomig_dev *dev, uint64_t iova, uint64_t len);

#ifdef __cplusplus
}
#endif

#endif
