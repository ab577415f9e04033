/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The device's side of a call's bookkeeping (core/call.c): taking the
 * device for the calling thread, and what a failure says of the device it
 * is about: its name, and where it ends up, read at the end of the call,
 * after any rollback.
 */
#include <stdio.h>
#include <string.h>

#include "call.h"
#include "dev.h"
#include "log.h"
#include "states.h"

static const char *dev_name(const struct vfiomig_dev *dev)
{
	return dev->name;
}

/* Appends where the device is now; read here, after everything the call did. */
static void final_state(struct vfiomig_dev *dev, char *msg, size_t size, bool *has_state,
			enum vfiomig_state *state)
{
	size_t len = strlen(msg);
	char where[STATE_PHRASE_MAX], todo[256];
	int r = dev_report_state(dev, state, where, sizeof(where), todo, sizeof(todo));

	if (r < 0 && r != -EPROTO) {
		snprintf(msg + len, size - len, "; its state cannot be read back: reset the device");
		return;
	}
	*has_state = r == 0;
	if (strstr(msg, todo))
		todo[0] = '\0';	/* a group's note of its members said it */
	snprintf(msg + len, size - len, "; the device is now in %s%s%s", where,
		 todo[0] ? ": " : "", todo);
}

static const struct call_reporter dev_reporter = {
	.name = dev_name,
	.last_words = final_state,
};

int call_begin_dev(struct call *c, struct vfiomig_dev *dev, unsigned int flags)
{
	int r;

	if (!dev) {
		*c = (struct call){ 0 };
		return -EINVAL;
	}
	call_begin_ctx(c, dev->ctx);
	c->dev = c->report = dev;
	c->reporter = &dev_reporter;
	c->flags = flags;
	r = owner_take(&dev->owner, flags & CALL_QUERY);
	c->owned = r == 0 ? &dev->owner : NULL;
	if (r == 0 && !(flags & CALL_QUERY))
		dev_drive_begin(dev);
	if (r == -EBUSY)
		return vfiomig_fail(dev->ctx, r, "%s: another thread is driving the device; "
				    "one device takes one call at a time", dev->name);
	return r == -EDEADLK ? call_fail_reentry(dev->ctx, dev->name) : 0;
}

void call_report(struct call *c, struct vfiomig_dev *dev)
{
	c->report = dev;
	c->reporter = &dev_reporter;
	c->flags |= CALL_REPORT_STATE;
}
