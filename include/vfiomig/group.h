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
#include <vfiomig/migrate.h>
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
 * calls from another thread meanwhile get -EBUSY, and from the call's own
 * callbacks -EDEADLK.  A call that drives the
 * members (set_state, save, load) starts one worker thread per member, all
 * or none, before it sends anything, runs every phase, round and transfer
 * of the call on them, and joins them before it returns.  If a thread
 * cannot be started (a thread limit: RLIMIT_NPROC, pids.max, TasksMax=),
 * the call fails with -EAGAIN and nothing was sent.
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
 * group, is refused, also through another handle of it (since 0.4; see
 * vfiomig_dev_is_same()): a group would drive it twice.
 *
 * Return: 0; -EINVAL; -EEXIST if @dev's device is already a member; -E2BIG past
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
 *      progress, in every transition that crosses a running boundary,
 *      whichever call makes it: vfiomig_group_set_state();
 *      vfiomig_group_save() at its switchover (and at READY to leave the
 *      members running); vfiomig_group_load() at QUIESCED if members are
 *      running when it begins, and at READY before it runs them.  A
 *      rollback does not call it.  It must not drive the group or its
 *      members: such a call from it fails with -EDEADLK and changes
 *      nothing, while queries (vfiomig_dev_get_state(),
 *      vfiomig_group_get_result()) work.  A negative return aborts the
 *      transition: the group rolls back and the call fails with that
 *      value.  NULL removes the hook.
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
 *         was sent); -EBUSY if another thread drives a member; -EDEADLK
 *         from a callback of a call on the group or a member; -EAGAIN if
 *         the call's worker threads cannot be started (nothing was sent);
 *         the first failure's -errno otherwise.
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
	/* After a group save or load (0 after a transition): */
	uint64_t precopy_bytes;		/* device bytes moved while it ran */
	uint64_t stop_copy_bytes;	/* device bytes moved while it was stopped */
	unsigned int precopy_rounds;
	/* save: its STOP_COPY -> its last byte written; load: RESUMING ->
	 * its last byte written */
	uint64_t downtime_ns;
	/* load: the stream device this member took (the position in the
	 * stream's list, or the fd's index); save: its own index */
	int stream_device;
	/* Since 0.4, a save whose pre-copy ran rounds: this member's own
	 * estimated downtime at the group's switchover (UINT64_MAX: none
	 * possible; as vfiomig_stats.downtime_estimate_ns) and
	 * the bandwidth of its pre-copy, bytes a second (0: none) */
	uint64_t downtime_estimate_ns;
	uint64_t precopy_bandwidth;
};

/**
 * vfiomig_group_save() - Save every member's state, concurrently
 * @out_fds: one fd, which gets one stream of the whole group (@n_fds 1);
 *           or one per member, in the group's order (@n_fds the group's
 *           size), each of which gets that member's own single-device
 *           stream, which vfiomig_dev_load() reads too
 * @opts: as for vfiomig_dev_save(); VFIOMIG_XFER_RAW needs one fd per
 *        member.  The options apply to every member; the dirty threshold
 *        of pre-copy is the group's: the sum of the members' dirty bytes.
 *        @opts->stats receives the group's totals; its downtime is the
 *        group's, from the first member's stop to the complete stream.
 *        The progress callback is called on the calling thread with the
 *        group's totals.
 *
 * Every member must be RUNNING, RUNNING_P2P or STOP.  One worker thread per
 * member moves its data; writes to a shared fd are whole records, one at a
 * time.  With pre-copy, every member runs PRE_COPY at once, and the group
 * switches over only when every member has sent its initial bytes (also
 * after a REINIT) and the group's dirty bytes are under the threshold (or a
 * limit is reached and every member's initial bytes are sent).  Then every
 * member goes to its P2P state, the hook is called at
 * VFIOMIG_GROUP_QUIESCED, and every member stops at once (STOP_COPY), so
 * the stopped phases overlap.  If anything fails, every member goes back to
 * the state it started in, through the two phases, and no trailer is
 * written; except when, with one fd per member, a trailer fails after
 * others were written: those streams are complete, so no member is moved
 * back, and the error says so.  vfiomig_group_get_result() gives each member's figures.
 *
 * Return: 0; -EINVAL for bad options, a count of fds that is neither 1 nor
 *         the group's size, or RAW with one fd; -EOPNOTSUPP and -EAGAIN as
 *         for vfiomig_group_set_state(); -EBUSY; -ECANCELED; the first
 *         failure's -errno.  Since: 0.3
 */
VFIOMIG_API int vfiomig_group_save(struct vfiomig_group *g, const int *out_fds,
				   unsigned int n_fds, const struct vfiomig_save_opts *opts);

/**
 * vfiomig_group_load() - Load a group's saved state into every member
 * @in_fds: one fd with a stream of a group (@n_fds 1), or one
 *          single-device stream per member (@n_fds the group's size)
 * @opts: as for vfiomig_dev_load(); stats and progress are the group's
 *
 * Every device of a stream is matched to a member before anything is
 * written to any member: by position, except that among devices of
 * different kinds the identity decides (the k-th stream device of a kind
 * goes to the k-th member of that kind), so "load B A" of a stream of A
 * and B still gives each its own state.  A stream with another number of
 * devices than the group has members, or a device that no member fits, is
 * refused, and so is a stream with more devices of a kind than the group
 * has (VFIOMIG_XFER_FORCE: by position only, whatever the identities).
 * The error of a stream device that fits no member is about the member
 * that no stream device took, and names both.
 * One fd per member: stream i goes to member i.
 *
 * Every member then enters RESUMING, as vfiomig_group_set_state() takes
 * it there.  If any member runs, that is two phases, and the hook is
 * called at VFIOMIG_GROUP_QUIESCED too: every running member in its P2P
 * state (RUNNING_P2P), nothing written yet; a hook that refuses there
 * fails the load with its value, every member back where it was.  Stopped
 * members (a destination's usual state) enter RESUMING in one phase,
 * without the hook.  Each member's records are then written to it by a
 * worker of its own, as the verified records arrive.  After the trailer
 * and every member's totals are verified, the group resumes in two
 * phases: every member to RUNNING_P2P, the hook at VFIOMIG_GROUP_READY,
 * then every member to RUNNING; or, with VFIOMIG_LEAVE_STOP, every member
 * to STOP in one phase, without the hook.  If anything fails after the first
 * write, every member's partial state is discarded (reset) and every
 * member is left in STOP: no member runs with partial state, even when a
 * second fault hits the discarding (a reset that fails leaves the member
 * where it was, RESUMING or STOP).
 *
 * Return: as vfiomig_dev_load(); -EINVAL and -EAGAIN as for
 * vfiomig_group_save().
 * Since: 0.3
 */
VFIOMIG_API int vfiomig_group_load(struct vfiomig_group *g, const int *in_fds,
				   unsigned int n_fds, const struct vfiomig_load_opts *opts);

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
