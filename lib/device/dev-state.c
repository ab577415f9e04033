/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Moving a device between states: transitions, reset and recovery. */
#define _GNU_SOURCE	/* strerrorname_np() */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "call.h"
#include "dev.h"
#include "export.h"
#include "log.h"
#include "states.h"
#include "util.h"
#include "vfio-compat.h"

/* One SET request; *ret_fd gets the data fd the kernel returned, or -1. */
static int dev_send_set(struct vfiomig_dev *dev, enum vfiomig_state target, int *ret_fd)
{
	struct vfio_device_feature_mig_state st = {
		.device_state = (uint32_t)target,
		.data_fd = -1,
	};
	int r;

	r = vfiomig_dev_feature(dev, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			&st, sizeof(st));
	*ret_fd = r < 0 ? -1 : st.data_fd;
	return r;
}

static int refuse_target(struct vfiomig_dev *dev, enum vfiomig_state cur,
			 enum vfiomig_state target)
{
	enum vfiomig_state probe;
	const char *why;

	if (cur == VFIOMIG_STATE_ERROR)
		why = "the device is in ERROR, which only a reset leaves: reset the device";
	else if (target == VFIOMIG_STATE_ERROR)
		why = "ERROR cannot be requested";
	else if (vfiomig_fsm_next(dev->mig_flags, target, target, &probe) < 0)
		why = "the device does not offer that state (see its migration flags)";
	else if (cur == VFIOMIG_STATE_STOP_COPY)
		why = "STOP_COPY cannot go back to pre-copy; kernels without the 2026 fix hang on this request";
	else
		why = "the device's current state is not one its flags allow";
	return vfiomig_fail(dev->ctx, -EINVAL, "%s: cannot go from %s to %s: %s",
			    dev->name, vfiomig_state_str(cur),
			    vfiomig_state_str(target), why);
}

/*
 * Arcs that go on with a session rather than end it: RESUMING -> STOP loads
 * what was written, and moves within the saving group go on with its fd.
 * On a stale session they would need a file the driver no longer has (mtty
 * 6.12 dereferences NULL: a kernel oops), so only the arcs that end a
 * saving session (to STOP, RUNNING or RUNNING_P2P) and a reset remain.
 */
static bool continues_session(const struct vfiomig_dev *dev, enum vfiomig_state cur,
			      enum vfiomig_state next)
{
	return dev->stale_session &&
	       (cur == VFIOMIG_STATE_RESUMING || vfiomig_state_in_session(next));
}

/* The kernel echoes the requested state on failure: the call's end reads
 * the real one. */
static int transition_failed(struct vfiomig_dev *dev, int err,
			     enum vfiomig_state from, enum vfiomig_state arc_to,
			     enum vfiomig_state target)
{
	dev->needs_recovery = true;
	if (arc_to == target)
		return vfiomig_fail(dev->ctx, err, "%s: %s -> %s failed: %s", dev->name,
				    vfiomig_state_str(from), vfiomig_state_str(target),
				    strerror(-err));
	return vfiomig_fail(dev->ctx, err, "%s: %s -> %s failed at %s: %s", dev->name,
			    vfiomig_state_str(from), vfiomig_state_str(target),
			    vfiomig_state_str(arc_to), strerror(-err));
}

/* Sends the path one arc at a time, or all at once; returns the final data fd. */
static int dev_walk(struct vfiomig_dev *dev, enum vfiomig_state cur,
		    const enum vfiomig_state *path, int n, int *ret_fd)
{
	int first = atomic_load(&dev->stepwise) ? 0 : n - 1;
	int fd = -1;

	for (int i = first; i < n; i++) {
		int r = dev_send_set(dev, path[i], &fd);

		if (r < 0)
			return transition_failed(dev, r, cur, path[i], path[n - 1]);
		if (fd >= 0 && i != n - 1) {
			/* The protocol never opens an fd on an interior arc. */
			close(fd);
			dev->needs_recovery = true;
			return vfiomig_fail(dev->ctx, -EPROTO,
					    "%s: the kernel opened a data fd on the interior arc to %s",
					    dev->name, vfiomig_state_str(path[i]));
		}
	}
	*ret_fd = fd;
	return 0;
}

/* The path from @cur to @target, refused with a reason if there is none. */
int dev_plan(struct vfiomig_dev *dev, enum vfiomig_state cur, enum vfiomig_state target,
		    enum vfiomig_state *path, size_t path_max)
{
	int n = vfiomig_fsm_path(dev->mig_flags, cur, target, path, path_max);

	if (n < 0)
		return refuse_target(dev, cur, target);
	if (n > 0 && continues_session(dev, cur, path[0]))
		return vfiomig_fail(dev->ctx, -EBUSY,
				    "%s: the device is in %s from an earlier session whose data fd "
				    "is gone; %s -> %s would need that fd, so only a reset ends it",
				    dev->name, vfiomig_state_str(cur), vfiomig_state_str(cur),
				    vfiomig_state_str(path[0]));
	return n;
}

int dev_set_state(struct vfiomig_dev *dev, enum vfiomig_state target, int *ret_data_fd)
{
	enum vfiomig_state cur, path[VFIOMIG_STATE_COUNT];
	int n, r, fd = -1;
	bool opens_fd;

	if (!vfiomig_state_valid(target))
		return vfiomig_fail(dev->ctx, -EINVAL, "%s: %d is not a migration state (0 to %d)",
				    dev->name, (int)target, VFIOMIG_STATE_COUNT - 1);
	r = dev_get_state(dev, &cur);
	if (r < 0)
		return r;
	n = dev_plan(dev, cur, target, path, ARRAY_SIZE(path));
	if (n < 0)
		return n;
	if (n == 0) {
		/* Where it was asked to be: a failed arc before left it no worse. */
		dev->needs_recovery = false;
		dev->reset_refused = 0;
		if (ret_data_fd)
			*ret_data_fd = -1;
		return 0;
	}
	opens_fd = vfiomig_fsm_arc_opens_fd(n > 1 ? path[n - 2] : cur, target);
	if (opens_fd && !ret_data_fd)
		return vfiomig_fail(dev->ctx, -EINVAL,
				    "%s: entering %s opens a data fd; pass somewhere to return it",
				    dev->name, vfiomig_state_str(target));

	r = dev_walk(dev, cur, path, n, &fd);
	if (r < 0)
		return r;
	if (opens_fd != (fd >= 0)) {
		if (fd >= 0)
			close(fd);
		dev->needs_recovery = true;
		return vfiomig_fail(dev->ctx, -EPROTO, "%s: the kernel %s a data fd entering %s",
				    dev->name, opens_fd ? "did not return" : "unexpectedly returned",
				    vfiomig_state_str(target));
	}
	dev->needs_recovery = false;
	dev->reset_refused = 0;	/* where it is now, it needs none */
	dev->stale_session = dev->stale_session && vfiomig_state_in_session(target) && fd < 0;
	dbg(dev->ctx, "%s: %s -> %s in %d %s%s", dev->name, vfiomig_state_str(cur),
	    vfiomig_state_str(target), n, plural((uint64_t)n, "arc", "arcs"),
	    fd >= 0 ? ", new data fd" : "");
	if (ret_data_fd)
		*ret_data_fd = fd;
	return 0;
}

VFIOMIG_EXPORT int vfiomig_dev_set_state(struct vfiomig_dev *dev,
					 enum vfiomig_state target,
					 int *ret_data_fd)
{
	struct call c;
	int r = call_begin_dev(&c, dev, CALL_REPORT_STATE);

	if (r == 0)
		r = dev_set_state(dev, target, ret_data_fd);
	return call_end(&c, r);
}

VFIOMIG_EXPORT void vfiomig_dev_set_stepwise(struct vfiomig_dev *dev, int enable)
{
	if (dev)
		atomic_store(&dev->stepwise, enable != 0);
}

/*
 * Why the kernel refused a reset, for the sentence.  A proposed vfio-pci
 * change refuses VFIO_DEVICE_RESET on a PF whose VFs are enabled, since it
 * would reset them too.
 */
static const char *reset_refusal(int err)
{
	switch (err) {
	case EINVAL:
		return "EINVAL: it has no working reset";
	case EBUSY:
		return "EBUSY: a PF with VFs enabled refuses it";
	case EPERM:
		return "EPERM: a PF with VFs enabled refuses it";
	default:
		return strerrorname_np(err) ? strerrorname_np(err) : strerror(err);
	}
}

/* What gets the device reset despite the refusal. */
static const char *reset_remedy(int err)
{
	switch (err) {
	case EINVAL:
		return "unbind its driver and bind it again";
	case EBUSY:
	case EPERM:
		return "disable the PF's VFs and reset it again";
	default:
		return "reset it again";
	}
}

int dev_reset(struct vfiomig_dev *dev)
{
	/* pci_try_reset_function() gives EAGAIN on lock contention. */
	static const struct timespec backoff = { .tv_nsec = 20 * 1000 * 1000 };
	int r = -EAGAIN;

	for (int tries = 0; tries < 5 && r == -EAGAIN; tries++) {
		if (tries)
			nanosleep(&backoff, NULL);
		r = dev->transport->device_ioctl(dev, VFIO_DEVICE_RESET, NULL);
	}
	dev->reset_refused = r < 0 ? -r : 0;
	if (r < 0)
		return vfiomig_fail(dev->ctx, r, "%s: VFIO_DEVICE_RESET failed (%s)",
				    dev->name, reset_refusal(-r));
	dev->needs_recovery = false;
	dev->stale_session = false;
	info(dev->ctx, "%s: reset", dev->name);
	return 0;
}

VFIOMIG_EXPORT int vfiomig_dev_reset(struct vfiomig_dev *dev)
{
	struct call c;
	int r = call_begin_dev(&c, dev, CALL_REPORT_STATE);

	if (r == 0)
		r = dev_reset(dev);
	return call_end(&c, r);
}

/* A state only a reset leaves: ERROR, and any a newer kernel defines. */
static bool reset_only(uint32_t raw)
{
	return raw == VFIOMIG_STATE_ERROR || raw >= VFIOMIG_STATE_COUNT;
}

int dev_recover(struct vfiomig_dev *dev, enum vfiomig_state *ret_state)
{
	char words[STATE_PHRASE_MAX];
	enum vfiomig_state st;
	uint32_t raw;
	int r;

	r = dev_read_raw_state(dev, &raw);
	if (r == 0 && !reset_only(raw) && !dev->needs_recovery) {
		if (ret_state)
			*ret_state = (enum vfiomig_state)raw;
		return 0;
	}
	info(dev->ctx, "%s: recovering from %s", dev->name,
	     r < 0 ? "an unreadable state" : vfiomig_state_phrase(raw, words, sizeof(words)));
	r = dev_reset(dev);
	if (r == 0)
		r = dev_get_state(dev, &st);
	if (r < 0)
		return r;
	if (st != VFIOMIG_STATE_RUNNING)
		return vfiomig_fail(dev->ctx, -EIO, "%s: the reset left the device in %s, not RUNNING",
				    dev->name, vfiomig_state_str(st));
	if (ret_state)
		*ret_state = st;
	return 1;
}

/* What gets the device out of @raw when the kernel refused its reset. */
static void refused_reset(const struct vfiomig_dev *dev, uint32_t raw, const char *before,
			  char *buf, size_t size)
{
	int err = dev->reset_refused;

	snprintf(buf, size, "%s%sits reset was refused (%s): %s", before,
		 reset_only(raw) ? "only a reset leaves that state, and " : "",
		 reset_refusal(err), reset_remedy(err));
}

/*
 * What to do about the device a failed call leaves in @raw, from the
 * facts: where the call found it, whether a failed arc left it elsewhere
 * with nothing since making that good (needs_recovery), and whether the
 * kernel refused its last reset.  A device where the call found it needs
 * nothing, whatever failed on the way: a reset would only stop what it
 * runs.  One left on a path can go back, except from RESUMING, where
 * only a reset drops what was written.  The table is docs/states.md's
 * ("What to do").
 */
static void what_to_do(const struct vfiomig_dev *dev, uint32_t raw, char *buf, size_t size)
{
	uint32_t start = dev->call_start;
	bool stranded = dev->needs_recovery && !(dev->call_start_known && start == raw);
	bool way_back = stranded && dev->call_start_known && !reset_only(start) &&
			!reset_only(raw) && raw != VFIOMIG_STATE_RESUMING;
	char back[96] = "";

	buf[0] = '\0';
	if (!reset_only(raw) && !stranded)
		return;
	if (way_back)
		snprintf(back, sizeof(back), "a failed arc left it on the way from %s: move it "
			 "back there, or on%s", vfiomig_state_str((enum vfiomig_state)start),
			 dev->reset_refused ? "; " : ", or reset the device");
	if (!dev->reset_refused)
		snprintf(buf, size, "%s", way_back ? back : "reset the device");
	else if (raw == VFIOMIG_STATE_RESUMING)
		refused_reset(dev, raw, "do not run it, it holds part of a state; ", buf, size);
	else
		refused_reset(dev, raw, back, buf, size);
}

int dev_report_state(struct vfiomig_dev *dev, enum vfiomig_state *ret_state,
		     char *where, size_t where_size, char *todo, size_t todo_size)
{
	uint32_t raw;
	int r = dev_read_raw_state(dev, &raw);

	if (r < 0)
		return r;
	vfiomig_state_phrase(raw, where, where_size);
	what_to_do(dev, raw, todo, todo_size);
	if (raw >= VFIOMIG_STATE_COUNT)
		return -EPROTO;
	*ret_state = (enum vfiomig_state)raw;
	return 0;
}

VFIOMIG_EXPORT int vfiomig_dev_recover(struct vfiomig_dev *dev,
				       enum vfiomig_state *ret_state)
{
	struct call c;
	int r = call_begin_dev(&c, dev, CALL_REPORT_STATE);

	if (r == 0)
		r = dev_recover(dev, ret_state);
	return call_end(&c, r);
}
