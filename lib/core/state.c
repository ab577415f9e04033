/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* State names and the kernel's migration state machine. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <ctype.h>
#include <assert.h>

#include "export.h"
#include "states.h"

#define S(x) VFIOMIG_STATE_##x

static const char *const state_names[VFIOMIG_STATE_COUNT] = {
	[S(ERROR)] = "ERROR",
	[S(STOP)] = "STOP",
	[S(RUNNING)] = "RUNNING",
	[S(STOP_COPY)] = "STOP_COPY",
	[S(RESUMING)] = "RESUMING",
	[S(RUNNING_P2P)] = "RUNNING_P2P",
	[S(PRE_COPY)] = "PRE_COPY",
	[S(PRE_COPY_P2P)] = "PRE_COPY_P2P",
};

/*
 * The kernel's vfio_from_fsm_table (drivers/vfio/vfio_main.c): the next hop
 * from [cur] towards [target] on a device that has every state.  Saving
 * states never appear inside a path.
 */
static const enum vfiomig_state next_hop[VFIOMIG_STATE_COUNT][VFIOMIG_STATE_COUNT] = {
	[S(STOP)] = {
		[S(STOP)] = S(STOP), [S(RUNNING)] = S(RUNNING_P2P),
		[S(PRE_COPY)] = S(RUNNING_P2P), [S(PRE_COPY_P2P)] = S(RUNNING_P2P),
		[S(STOP_COPY)] = S(STOP_COPY), [S(RESUMING)] = S(RESUMING),
		[S(RUNNING_P2P)] = S(RUNNING_P2P), [S(ERROR)] = S(ERROR),
	},
	[S(RUNNING)] = {
		[S(STOP)] = S(RUNNING_P2P), [S(RUNNING)] = S(RUNNING),
		[S(PRE_COPY)] = S(PRE_COPY), [S(PRE_COPY_P2P)] = S(RUNNING_P2P),
		[S(STOP_COPY)] = S(RUNNING_P2P), [S(RESUMING)] = S(RUNNING_P2P),
		[S(RUNNING_P2P)] = S(RUNNING_P2P), [S(ERROR)] = S(ERROR),
	},
	[S(PRE_COPY)] = {
		[S(STOP)] = S(RUNNING), [S(RUNNING)] = S(RUNNING),
		[S(PRE_COPY)] = S(PRE_COPY), [S(PRE_COPY_P2P)] = S(PRE_COPY_P2P),
		[S(STOP_COPY)] = S(PRE_COPY_P2P), [S(RESUMING)] = S(RUNNING),
		[S(RUNNING_P2P)] = S(RUNNING), [S(ERROR)] = S(ERROR),
	},
	[S(PRE_COPY_P2P)] = {
		[S(STOP)] = S(RUNNING_P2P), [S(RUNNING)] = S(RUNNING_P2P),
		[S(PRE_COPY)] = S(PRE_COPY), [S(PRE_COPY_P2P)] = S(PRE_COPY_P2P),
		[S(STOP_COPY)] = S(STOP_COPY), [S(RESUMING)] = S(RUNNING_P2P),
		[S(RUNNING_P2P)] = S(RUNNING_P2P), [S(ERROR)] = S(ERROR),
	},
	[S(STOP_COPY)] = {
		[S(STOP)] = S(STOP), [S(RUNNING)] = S(STOP),
		[S(PRE_COPY)] = S(ERROR), [S(PRE_COPY_P2P)] = S(ERROR),
		[S(STOP_COPY)] = S(STOP_COPY), [S(RESUMING)] = S(STOP),
		[S(RUNNING_P2P)] = S(STOP), [S(ERROR)] = S(ERROR),
	},
	[S(RESUMING)] = {
		[S(STOP)] = S(STOP), [S(RUNNING)] = S(STOP),
		[S(PRE_COPY)] = S(STOP), [S(PRE_COPY_P2P)] = S(STOP),
		[S(STOP_COPY)] = S(STOP), [S(RESUMING)] = S(RESUMING),
		[S(RUNNING_P2P)] = S(STOP), [S(ERROR)] = S(ERROR),
	},
	[S(RUNNING_P2P)] = {
		[S(STOP)] = S(STOP), [S(RUNNING)] = S(RUNNING),
		[S(PRE_COPY)] = S(RUNNING), [S(PRE_COPY_P2P)] = S(PRE_COPY_P2P),
		[S(STOP_COPY)] = S(STOP), [S(RESUMING)] = S(STOP),
		[S(RUNNING_P2P)] = S(RUNNING_P2P), [S(ERROR)] = S(ERROR),
	},
	[S(ERROR)] = {
		[S(STOP)] = S(ERROR), [S(RUNNING)] = S(ERROR),
		[S(PRE_COPY)] = S(ERROR), [S(PRE_COPY_P2P)] = S(ERROR),
		[S(STOP_COPY)] = S(ERROR), [S(RESUMING)] = S(ERROR),
		[S(RUNNING_P2P)] = S(ERROR), [S(ERROR)] = S(ERROR),
	},
};

#define MIG_KNOWN (VFIOMIG_MIG_STOP_COPY | VFIOMIG_MIG_P2P | VFIOMIG_MIG_PRE_COPY)

/* The flags a device needs to have a state (the kernel's state_flags_table). */
static bool state_supported(uint64_t flags, enum vfiomig_state s)
{
	static const uint64_t need[VFIOMIG_STATE_COUNT] = {
		[S(ERROR)] = ~(uint64_t)0,
		[S(STOP)] = VFIOMIG_MIG_STOP_COPY,
		[S(RUNNING)] = VFIOMIG_MIG_STOP_COPY,
		[S(STOP_COPY)] = VFIOMIG_MIG_STOP_COPY,
		[S(RESUMING)] = VFIOMIG_MIG_STOP_COPY,
		[S(RUNNING_P2P)] = VFIOMIG_MIG_STOP_COPY | VFIOMIG_MIG_P2P,
		[S(PRE_COPY)] = VFIOMIG_MIG_STOP_COPY | VFIOMIG_MIG_PRE_COPY,
		[S(PRE_COPY_P2P)] = MIG_KNOWN,
	};

	return (flags & need[s]) == need[s];
}

bool vfiomig_state_valid(enum vfiomig_state s)
{
	return (unsigned int)s < VFIOMIG_STATE_COUNT;
}

bool vfiomig_mig_flags_defined(uint64_t mig_flags)
{
	return (mig_flags & VFIOMIG_MIG_STOP_COPY) != 0;
}

uint64_t vfiomig_mig_flags_unknown(uint64_t mig_flags)
{
	return mig_flags & ~(uint64_t)MIG_KNOWN;
}

VFIOMIG_EXPORT const char *vfiomig_state_name(enum vfiomig_state s)
{
	return vfiomig_state_valid(s) ? state_names[s] : NULL;
}

VFIOMIG_EXPORT int vfiomig_state_parse(const char *name, enum vfiomig_state *ret)
{
	if (!name || !ret)
		return -EINVAL;

	for (unsigned int s = 0; s < VFIOMIG_STATE_COUNT; s++) {
		const char *want = state_names[s];
		size_t i = 0;

		for (; want[i] && name[i]; i++) {
			int c = name[i] == '-' ? '_' : toupper((unsigned char)name[i]);

			if (c != want[i])
				break;
		}
		if (!want[i] && !name[i]) {
			*ret = (enum vfiomig_state)s;
			return 0;
		}
	}
	return -EINVAL;
}

static bool arc_blocked(enum vfiomig_state cur, enum vfiomig_state target)
{
	/* Kernels before the mid-2026 fix loop forever on these (uapi §3.3). */
	return cur == S(STOP_COPY) &&
	       (target == S(PRE_COPY) || target == S(PRE_COPY_P2P));
}

VFIOMIG_EXPORT int vfiomig_fsm_next(uint64_t mig_flags, enum vfiomig_state cur,
				    enum vfiomig_state target,
				    enum vfiomig_state *ret_next)
{
	enum vfiomig_state next;

	if (!ret_next || !vfiomig_state_valid(cur) || !vfiomig_state_valid(target))
		return -EINVAL;
	if (!vfiomig_mig_flags_defined(mig_flags))
		return -EOPNOTSUPP;
	/* Bits a newer kernel may define say nothing about these states. */
	mig_flags &= MIG_KNOWN;
	if (!state_supported(mig_flags, cur) || !state_supported(mig_flags, target))
		return -EINVAL;
	if (arc_blocked(cur, target))
		return -EINVAL;

	next = next_hop[cur][target];
	/* ERROR is never supported, so this ends at the latest on ERROR. */
	while (next != S(ERROR) && !state_supported(mig_flags, next))
		next = next_hop[next][target];
	if (next == S(ERROR))
		return -EINVAL;

	*ret_next = next;
	return 0;
}

VFIOMIG_EXPORT int vfiomig_fsm_path(uint64_t mig_flags, enum vfiomig_state cur,
				    enum vfiomig_state target,
				    enum vfiomig_state *path, size_t path_max)
{
	enum vfiomig_state hops[VFIOMIG_STATE_COUNT];
	size_t n = 0;

	if (!path && path_max)
		return -EINVAL;

	while (cur != target) {
		int r = vfiomig_fsm_next(mig_flags, cur, target, &cur);

		if (r < 0)
			return r;
		/* A shortest path visits each state at most once. */
		assert(n < VFIOMIG_STATE_COUNT);
		hops[n++] = cur;
	}
	if (n == 0) {
		enum vfiomig_state same;
		int r = vfiomig_fsm_next(mig_flags, cur, target, &same);

		if (r < 0)
			return r;
	}
	if (n > path_max)
		return -ENOSPC;
	for (size_t i = 0; i < n; i++)
		path[i] = hops[i];
	return (int)n;
}

VFIOMIG_EXPORT int vfiomig_fsm_arc_opens_fd(enum vfiomig_state from,
					    enum vfiomig_state to)
{
	return (from == S(STOP) && to == S(STOP_COPY)) ||
	       (from == S(RUNNING) && to == S(PRE_COPY)) ||
	       (from == S(RUNNING_P2P) && to == S(PRE_COPY_P2P)) ||
	       (from == S(STOP) && to == S(RESUMING));
}

bool vfiomig_state_in_session(enum vfiomig_state s)
{
	return s == VFIOMIG_STATE_STOP_COPY || s == VFIOMIG_STATE_RESUMING ||
	       s == VFIOMIG_STATE_PRE_COPY || s == VFIOMIG_STATE_PRE_COPY_P2P;
}

const char *vfiomig_state_str(enum vfiomig_state s)
{
	return vfiomig_state_valid(s) ? state_names[s] : "(invalid state)";
}

const char *vfiomig_state_phrase(uint32_t s, char *buf, size_t size)
{
	if (s < VFIOMIG_STATE_COUNT)
		snprintf(buf, size, "%s", state_names[s]);
	else
		snprintf(buf, size, "state %u (unknown to this library: a newer kernel's?)", s);
	return buf;
}
