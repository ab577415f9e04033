/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiomig: the VFIO migration v2 device states and the kernel's
 * transition rules.  Pure functions: no context, no I/O, thread-safe.
 */
#ifndef VFIOMIG_STATE_H
#define VFIOMIG_STATE_H

#include <stddef.h>
#include <stdint.h>

#include <vfiomig/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The numbers are the kernel's enum vfio_device_mig_state, so a value read
 * from VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE converts by a plain cast.
 */
enum vfiomig_state {
	VFIOMIG_STATE_ERROR = 0,
	VFIOMIG_STATE_STOP = 1,
	VFIOMIG_STATE_RUNNING = 2,
	VFIOMIG_STATE_STOP_COPY = 3,
	VFIOMIG_STATE_RESUMING = 4,
	VFIOMIG_STATE_RUNNING_P2P = 5,
	VFIOMIG_STATE_PRE_COPY = 6,
	VFIOMIG_STATE_PRE_COPY_P2P = 7
};

/* Number of defined states; valid values are 0 .. VFIOMIG_STATE_COUNT - 1. */
#define VFIOMIG_STATE_COUNT 8

/* Migration capability flags (VFIO_DEVICE_FEATURE_MIGRATION). */
#define VFIOMIG_MIG_STOP_COPY (1u << 0)
#define VFIOMIG_MIG_P2P       (1u << 1)
#define VFIOMIG_MIG_PRE_COPY  (1u << 2)

/**
 * vfiomig_state_name() - Canonical name of a state
 * @s: the state
 *
 * Return: "ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P",
 *         "PRE_COPY" or "PRE_COPY_P2P"; NULL if @s is not a defined state.
 * Since: 0.1
 */
VFIOMIG_API const char *vfiomig_state_name(enum vfiomig_state s);

/**
 * vfiomig_state_parse() - Parse a state name
 * @name: a name as printed by vfiomig_state_name(); case-insensitive, and
 *        '-' is accepted for '_' ("pre-copy-p2p")
 * @ret: where the state is stored on success
 *
 * Return: 0; -EINVAL if @name is NULL or names no state.
 * Since: 0.1
 */
VFIOMIG_API int vfiomig_state_parse(const char *name, enum vfiomig_state *ret);

/**
 * vfiomig_fsm_next() - Next arc the kernel takes from @cur towards @target
 * @mig_flags: the device's VFIOMIG_MIG_* flags; must include STOP_COPY,
 *             and bits the library does not know (a newer kernel's) are
 *             ignored (since 0.4)
 * @cur: the current state
 * @target: the requested state
 * @ret_next: where the next state is stored on success (@cur if equal)
 *
 * Same semantics as the kernel's vfio_mig_get_next_state(): states the
 * device lacks are skipped on the way and refused as @cur or @target, and
 * ERROR is never a target.  On top of the kernel it refuses STOP_COPY ->
 * PRE_COPY and STOP_COPY -> PRE_COPY_P2P, which make kernels without the
 * mid-2026 fix spin forever.
 *
 * Return: 0; -EINVAL if the arc is not allowed; -EOPNOTSUPP if @mig_flags
 *         lacks STOP_COPY.
 * Since: 0.1
 */
VFIOMIG_API int vfiomig_fsm_next(uint64_t mig_flags, enum vfiomig_state cur,
				 enum vfiomig_state target,
				 enum vfiomig_state *ret_next);

/**
 * vfiomig_fsm_path() - Every state the kernel passes through from @cur to @target
 * @mig_flags: as for vfiomig_fsm_next()
 * @cur: the current state (not written to @path)
 * @target: the requested state (the last element written)
 * @path: array that receives the hops in order
 * @path_max: number of elements @path can hold
 *
 * Return: the number of hops written (0 when @cur == @target); -ENOSPC if
 *         @path_max is too small; otherwise as vfiomig_fsm_next().
 * Since: 0.1
 */
VFIOMIG_API int vfiomig_fsm_path(uint64_t mig_flags, enum vfiomig_state cur,
				 enum vfiomig_state target,
				 enum vfiomig_state *path, size_t path_max);

/**
 * vfiomig_fsm_arc_opens_fd() - Whether the kernel returns a new data fd on an arc
 * @from: the state before a single arc
 * @to: the state after it
 *
 * Return: 1 for STOP -> STOP_COPY, RUNNING -> PRE_COPY,
 *         RUNNING_P2P -> PRE_COPY_P2P and STOP -> RESUMING; 0 otherwise.
 * Since: 0.1
 */
VFIOMIG_API int vfiomig_fsm_arc_opens_fd(enum vfiomig_state from,
					 enum vfiomig_state to);

#ifdef __cplusplus
}
#endif

#endif
