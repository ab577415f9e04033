/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bookkeeping of public calls: each thread's error on a ctx, and which
 * thread is driving a device.
 *
 * Errors are kept per (ctx, thread) in a slot that only its thread writes
 * or reads; the ctx's lock guards only the list.  A call's first failure is
 * its cause and later ones (met while rolling back) do not overwrite it.
 * The state the device ends up in is read once, at the end of the call,
 * after any rollback, so the sentence never names a state that is no
 * longer true.
 *
 * A call made from inside another (a progress callback, a group's member
 * moved on the caller's thread) is a call of its own: it starts clean, its
 * failure or success is what the thread sees next, and the outer call's
 * own record, if it had one, comes back when it ends.
 */
#define _GNU_SOURCE	/* gettid() */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "private.h"
#include "call.h"

/* The calling thread's slot, its link in the list if @ret_link; ctx->lock held. */
static struct err_slot *slot_locked(struct vfiomig_ctx *ctx, struct err_slot ***ret_link)
{
	pthread_t self = pthread_self();
	pid_t tid = gettid();
	struct err_slot **p;

	for (p = &ctx->slots; *p; p = &(*p)->next)
		if (pthread_equal((*p)->thread, self) && (*p)->tid == tid)
			break;
	if (ret_link)
		*ret_link = p;
	return *p;
}

static struct err_slot *slot_find(struct vfiomig_ctx *ctx, bool create)
{
	struct err_slot *s;

	pthread_mutex_lock(&ctx->lock);
	s = slot_locked(ctx, NULL);
	if (!s && create && (s = calloc(1, sizeof(*s)))) {
		s->thread = pthread_self();
		s->tid = gettid();
		s->next = ctx->slots;
		ctx->slots = s;
	}
	pthread_mutex_unlock(&ctx->lock);
	return s;
}

void call_slot_release(struct vfiomig_ctx *ctx)
{
	struct err_slot **link, *s;

	pthread_mutex_lock(&ctx->lock);
	s = slot_locked(ctx, &link);
	if (s)
		*link = s->next;
	pthread_mutex_unlock(&ctx->lock);
	free(s);
}

struct err_slot *call_slot(struct vfiomig_ctx *ctx)
{
	return slot_find(ctx, true);
}

const struct err_slot *call_last_failure(struct vfiomig_ctx *ctx)
{
	const struct err_slot *s = slot_find(ctx, false);

	return s && s->rec.failed ? s : NULL;
}

void call_free_slots(struct vfiomig_ctx *ctx)
{
	struct err_slot *s, *next;

	for (s = ctx->slots; s; s = next) {
		next = s->next;
		free(s);
	}
	ctx->slots = NULL;
}

int call_begin_ctx(struct call *c, struct vfiomig_ctx *ctx)
{
	*c = (struct call){ .ctx = ctx };
	if (!ctx)
		return -EINVAL;
	/* Without memory for a slot the call goes on; its error is lost. */
	c->slot = call_slot(ctx);
	if (!c->slot)
		return 0;
	if (c->slot->depth++ && c->slot->rec.failed)
		c->stash = malloc(sizeof(*c->stash));	/* without it, the outer's is lost */
	if (c->stash)
		*c->stash = c->slot->rec;
	c->slot->rec = (struct err_record){ .offset = UINT64_MAX };
	return 0;
}

void owner_init(struct owner *o)
{
	pthread_mutex_init(&o->lock, NULL);
	o->depth = 0;
}

bool owner_take(struct owner *o)
{
	pthread_t self = pthread_self();
	bool ok;

	pthread_mutex_lock(&o->lock);
	ok = o->depth == 0 || pthread_equal(o->thread, self);
	if (ok) {
		o->thread = self;
		o->depth++;
	}
	pthread_mutex_unlock(&o->lock);
	return ok;
}

void owner_give_back(struct owner *o)
{
	pthread_mutex_lock(&o->lock);
	o->depth--;
	pthread_mutex_unlock(&o->lock);
}

int call_begin_dev(struct call *c, struct vfiomig_dev *dev, unsigned int flags)
{
	if (!dev) {
		*c = (struct call){ 0 };
		return -EINVAL;
	}
	call_begin_ctx(c, dev->ctx);
	c->dev = c->report = dev;
	c->flags = flags;
	c->owned = owner_take(&dev->owner) ? &dev->owner : NULL;
	if (!c->owned)
		return vfiomig_fail(dev->ctx, -EBUSY, "%s: another thread is driving the device; "
				    "one device takes one call at a time", dev->name);
	return 0;
}

void call_report(struct call *c, struct vfiomig_dev *dev)
{
	c->report = dev;
	c->flags |= CALL_REPORT_STATE;
}

bool call_note(struct vfiomig_ctx *ctx, const char *note)
{
	struct err_slot *s = call_slot(ctx);
	size_t len;

	if (!s || !s->rec.failed)
		return false;
	len = strlen(s->rec.msg);
	return (size_t)snprintf(s->rec.msg + len, sizeof(s->rec.msg) - len, "; %s", note) <
	       sizeof(s->rec.msg) - len;
}

void call_note_fact(struct vfiomig_ctx *ctx, unsigned int fact)
{
	struct err_slot *s = call_slot(ctx);

	if (s && s->rec.failed && s->rec.depth == s->depth)
		s->rec.facts |= fact;
}

/* Appends where the device is now; read here, after everything the call did. */
static void add_final_state(struct err_record *e, struct vfiomig_dev *dev)
{
	size_t len = strlen(e->msg);
	char where[STATE_PHRASE_MAX], todo[256];
	int r = dev_report_state(dev, &e->state, where, sizeof(where), todo, sizeof(todo));

	if (r < 0 && r != -EPROTO) {
		snprintf(e->msg + len, sizeof(e->msg) - len,
			 "; its state cannot be read back: reset the device");
		return;
	}
	e->has_state = r == 0;
	if (strstr(e->msg, todo))
		todo[0] = '\0';	/* a group's note of its members said it */
	snprintf(e->msg + len, sizeof(e->msg) - len, "; the device is now in %s%s%s", where,
		 todo[0] ? ": " : "", todo);
}

static void complete_failure(struct call *c, struct err_slot *s, int r)
{
	struct err_record *e = &s->rec;

	if (!e->failed || e->depth != s->depth) {
		/* A failure that said nothing itself: say at least what and where. */
		*e = (struct err_record){ .failed = true, .depth = s->depth, .offset = UINT64_MAX };
		snprintf(e->msg, sizeof(e->msg), "%s%s%s", c->report ? c->report->name : "",
			 c->report ? ": " : "", strerror(-r));
	}
	e->err = -r;
	if (c->report)
		snprintf(e->device, sizeof(e->device), "%s", c->report->name);
	/* Another thread's device is not ours to read (an -EBUSY). */
	if (c->report && (c->owned || c->report != c->dev) && (c->flags & CALL_REPORT_STATE))
		add_final_state(e, c->report);
}

int call_end(struct call *c, int r)
{
	struct err_slot *s = c->slot;

	if (s) {
		if (r < 0)
			complete_failure(c, s, r);
		else
			s->rec.failed = false;
		if (c->stash) {
			s->rec = *c->stash;	/* the outer call's cause stays its cause */
			free(c->stash);
		}
		s->depth--;
	}
	if (c->owned)
		owner_give_back(c->owned);
	return r;
}
