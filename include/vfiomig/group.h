/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiomig: device groups.  A VM with several passthrough devices that
 * may DMA into each other's BARs must quiesce them all (a P2P state)
 * before any stops, and load them all into a P2P state before any runs
 * (the uAPI's two phases).  A group runs those phases, moving its members
 * concurrently within each phase, and rolls every member back if any step
 * of any member fails.
 */
#ifndef VFIOMIG_GROUP_H
#define VFIOMIG_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include <vfiomig/common.h>
#include <vfiomig/ctx.h>
#include <vfiomig/dev.h>
#include <vfiomig/state.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vfiomig_group;

/* The most members a group takes. */
#define VFIOMIG_GROUP_MAX 64

/* vfiomig_group_new() flags */
/*
 * Accept members without P2P states in a group of several.  Such a member
 * skips the P2P phase (as the kernel's paths do for it), so it may stop
 * while a peer can still DMA into it; QEMU refuses that unless asked too.
 */
#define VFIOMIG_GROUP_ALLOW_NO_P2P (1u << 0)

/**
 * vfiomig_group_new() - Create an empty group
 * @flags: VFIOMIG_GROUP_ALLOW_NO_P2P or 0
 * @ret: the group; release it with vfiomig_group_unref()
 *
 * Threads: a group is driven by one thread at a time, like a device; a
 * group call takes each member as a device call would, so a member's own
 * calls from another thread meanwhile get -EBUSY.  Inside a call the
 * library runs one thread per member and phase, and joins them all before
 * the call returns.
 *
 * Return: 0; -EINVAL for a NULL argument or an unknown flag; -ENOMEM.
 * Since: 0.3
 */
VFIOMIG_API int vfiomig_group_new(struct vfiomig_ctx *ctx, unsigned int flags,
				  struct vfiomig_group **ret);

/** vfiomig_group_ref() - Take a reference.  Return: @g (NULL-safe).  Since: 0.3 */
VFIOMIG_API struct vfiomig_group *vfiomig_group_ref(struct vfiomig_group *g);

/**
 * vfiomig_group_unref() - Drop a reference; the last one drops the group's
 * references on its members.
 * Return: NULL (NULL-safe).  Since: 0.3
 */
VFIOMIG_API struct vfiomig_group *vfiomig_group_unref(struct vfiomig_group *g);

/**
 * vfiomig_group_add() - Append an opened or adopted device
 *
 * The order of adding is the group's order: results are reported in it,
 * and a group's stream lists its devices in it.  The group takes a
 * reference on @dev.  A device of another context, or one already in the
 * group, is refused.
 *
 * Return: 0; -EINVAL; -EEXIST if @dev is already a member; -E2BIG past
 *         VFIOMIG_GROUP_MAX.  Since: 0.3
 */
VFIOMIG_API int vfiomig_group_add(struct vfiomig_group *g, struct vfiomig_dev *dev);

/** vfiomig_group_get_size() - The number of members.  Return: >= 0; -EINVAL.  Since: 0.3 */
VFIOMIG_API int vfiomig_group_get_size(struct vfiomig_group *g);

/**
 * vfiomig_group_get_member() - Member @index (borrowed; the group holds it)
 * Return: the device; NULL if @g is NULL or @index is out of range.  Since: 0.3
 */
VFIOMIG_API struct vfiomig_dev *vfiomig_group_get_member(struct vfiomig_group *g,
							 unsigned int index);

/* Where a group transition calls its hook. */
enum vfiomig_group_point {
	/* Every member is in a P2P state and none has stopped yet: no member
	 * can be written to by a peer any more.  A VMM stops its vCPUs here. */
	VFIOMIG_GROUP_QUIESCED = 1,
	/* Every member is in a P2P state (loaded, on a destination) and none
	 * runs yet.  A VMM starts its vCPUs after the call returns. */
	VFIOMIG_GROUP_READY = 2,
};

/**
 * vfiomig_group_set_hook() - Be called between the two phases
 * @fn: called on the calling thread at @point, with no member call in
 *      progress; it must not drive the group's members.  A negative return
 *      aborts the transition: the group rolls back and the call fails with
 *      that value.  NULL removes the hook.
 * Since: 0.3
 */
VFIOMIG_API void vfiomig_group_set_hook(struct vfiomig_group *g,
					int (*fn)(void *userdata, struct vfiomig_group *g,
						  enum vfiomig_group_point point),
					void *userdata);

/**
 * vfiomig_group_set_state() - Move every member to @target, in two phases
 * @ret_data_fds: NULL, or an array of vfiomig_group_get_size() ints that
 *                receives each member's new data fd (or -1), in the
 *                group's order, where the final arc opens one; it may be
 *                NULL only when none does
 *
 * The phases: moving down from a running state (RUNNING, PRE_COPY), every
 * member first reaches the P2P state on its path (RUNNING_P2P or
 * PRE_COPY_P2P), then the hook is called at VFIOMIG_GROUP_QUIESCED, then
 * every member goes on to @target.  Moving up to a running state, every
 * member first reaches RUNNING_P2P (or PRE_COPY_P2P), then the hook is
 * called at VFIOMIG_GROUP_READY, then every member runs.  A transition that
 * crosses no running boundary is one phase.  Within a phase the members
 * move concurrently, so a phase takes about as long as its slowest member.
 *
 * If any step of any member fails, or the hook refuses, every member goes
 * back to the state it started in, phase by phase in reverse order; a
 * member that cannot get back is reset, and then walked to its start.
 * vfiomig_group_get_result() says how each member fared.
 *
 * Return: 0; -EINVAL if @target is not reachable on some member (nothing
 *         was sent); -EOPNOTSUPP for a group of several with a member
 *         without P2P states and no VFIOMIG_GROUP_ALLOW_NO_P2P (nothing
 *         was sent); -EBUSY if another thread drives a member; the first
 *         failure's -errno otherwise.
 * Since: 0.3
 */
VFIOMIG_API int vfiomig_group_set_state(struct vfiomig_group *g, enum vfiomig_state target,
					int *ret_data_fds);

/* How one member fared in the group's last call. */
struct vfiomig_group_result {
	size_t sz;			/* set to sizeof(struct vfiomig_group_result) */
	int err;			/* 0, or the errno of this member's own failure */
	int has_state;			/* 1 if @state could be read */
	enum vfiomig_state state;	/* where it is after the call */
};

/**
 * vfiomig_group_get_result() - How member @index fared in the last group call
 * @ret: filled as far as @ret->sz reaches
 *
 * Return: 0; -EINVAL for a NULL argument or an index out of range;
 *         -ENODATA before the first group call.  Since: 0.3
 */
VFIOMIG_API int vfiomig_group_get_result(struct vfiomig_group *g, unsigned int index,
					 struct vfiomig_group_result *ret);

#ifdef __cplusplus
}
#endif

#endif
