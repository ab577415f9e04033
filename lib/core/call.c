/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bookkeeping of public calls: each thread's error on a ctx, and which
 * thread is driving a device.
 *
 * Errors are kept per (ctx, thread) in a slot that only its thread writes
 * or reads, and that ends with its thread (below).  A call's first failure is
 * its cause and later ones (met while rolling back) do not overwrite it.
 * The state the device ends up in is read once, at the end of the call,
 * after any rollback, so the sentence never names a state that is no
 * longer true.
 *
 * A call made from inside another (a progress callback, a group's member
 * moved on the caller's thread) is a call of its own: it starts clean, its
 * failure or success is what the thread sees next, and the outer call's
 * own record, if it had one, comes back when it ends.  A callback's call
 * that would take a device or group its outer call holds is refused
 * (-EDEADLK, owner_take()), unless it only reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "context.h"
#include "log.h"
#include "call.h"

/*
 * Each thread's slots, one per ctx it called, hang off one process-wide
 * thread-local key: the only object the library keeps outside a ctx.  It
 * is made once and never changes; what it holds is each thread's own.
 * Looking a slot up touches only the calling thread's slots, the one it
 * used last first, and a thread's slots are freed when it ends.
 *
 * A slot names its ctx by the ctx's anchor, which the ctx and each of its
 * slots hold a reference on, so that either may go first: a freed ctx
 * marks its anchor dead, and its slots go at their thread's end, or when
 * that thread next misses a slot.
 */
struct slot_anchor {
	atomic_int refs;	/* the ctx's, and each slot's */
	atomic_bool dead;	/* the ctx is freed */
};

/* The process-wide object (tests/check-globals.sh allows it alone). */
static struct {
	pthread_once_t once;
	bool made;		/* written once, under @once */
	pthread_key_t key;
} thread_slots = { .once = PTHREAD_ONCE_INIT };

static void anchor_unref(struct slot_anchor *a)
{
	if (atomic_fetch_sub(&a->refs, 1) == 1)
		free(a);
}

static void slot_free(struct err_slot *s)
{
	anchor_unref(s->anchor);
	free(s);
}

/* The key's destructor: a thread's slots end with it. */
static void thread_end(void *head)
{
	struct err_slot *s = head, *next;

	for (; s; s = next) {
		next = s->next;
		slot_free(s);
	}
}

static void make_key(void)
{
	thread_slots.made = pthread_key_create(&thread_slots.key, thread_end) == 0;
}

int call_slots_init(struct vfiomig_ctx *ctx)
{
	struct slot_anchor *a = malloc(sizeof(*a));

	if (!a)
		return -ENOMEM;
	atomic_init(&a->refs, 1);
	atomic_init(&a->dead, false);
	ctx->anchor = a;
	return 0;
}

void call_slots_fini(struct vfiomig_ctx *ctx)
{
	if (!ctx->anchor)
		return;
	atomic_store(&ctx->anchor->dead, true);
	anchor_unref(ctx->anchor);
}

/*
 * The calling thread's slot for @a, moved to the front of its list; or
 * NULL.  Slots of freed contexts met on the way are dropped.
 */
static struct err_slot *slot_find(struct slot_anchor *a)
{
	struct err_slot *first, *head, **p, *s;

	if (pthread_once(&thread_slots.once, make_key) != 0 || !thread_slots.made)
		return NULL;
	first = head = pthread_getspecific(thread_slots.key);
	if (head && head->anchor == a)
		return head;	/* the common case: the ctx of its last call */
	for (p = &head; (s = *p) && s->anchor != a; ) {
		if (atomic_load(&s->anchor->dead)) {
			*p = s->next;
			slot_free(s);
		} else {
			p = &s->next;
		}
	}
	if (s) {
		*p = s->next;
		s->next = head;
		head = s;
	}
	if (head != first)	/* cannot fail: the thread has set the key before */
		pthread_setspecific(thread_slots.key, head);
	return s;
}

static struct err_slot *slot_new(struct slot_anchor *a)
{
	struct err_slot *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->next = pthread_getspecific(thread_slots.key);
	if (pthread_setspecific(thread_slots.key, s) != 0) {
		free(s);
		return NULL;
	}
	s->anchor = a;
	atomic_fetch_add(&a->refs, 1);
	return s;
}

struct err_slot *call_slot(struct vfiomig_ctx *ctx)
{
	struct err_slot *s = slot_find(ctx->anchor);

	return s || !thread_slots.made ? s : slot_new(ctx->anchor);
}

const struct err_slot *call_last_failure(struct vfiomig_ctx *ctx)
{
	const struct err_slot *s = slot_find(ctx->anchor);

	return s && s->rec.failed ? s : NULL;
}

void call_slot_release(struct vfiomig_ctx *ctx)
{
	struct err_slot *s = slot_find(ctx->anchor);

	if (s) {	/* now the head of the list */
		pthread_setspecific(thread_slots.key, s->next);
		slot_free(s);
	}
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
	/* An outer call's own failure is kept (without memory for it, it is
	 * lost); an ended inner call's, at this call's depth, is not its. */
	if (c->slot->depth++ && c->slot->rec.failed && c->slot->rec.depth < c->slot->depth)
		c->stash = malloc(sizeof(*c->stash));
	if (c->stash)
		*c->stash = c->slot->rec;
	c->slot->rec = (struct err_record){ .offset = UINT64_MAX };
	return 0;
}

void owner_init(struct owner *o)
{
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->idle, NULL);
	o->depth = 0;
}

void owner_fini(struct owner *o)
{
	pthread_cond_destroy(&o->idle);
	pthread_mutex_destroy(&o->lock);
}

int owner_take(struct owner *o, bool nest)
{
	pthread_t self = pthread_self();
	int r = 0;

	pthread_mutex_lock(&o->lock);
	if (o->depth && !pthread_equal(o->thread, self))
		r = -EBUSY;
	else if (o->depth && !nest)
		r = -EDEADLK;
	if (r == 0) {
		o->thread = self;
		o->depth++;
	}
	pthread_mutex_unlock(&o->lock);
	return r;
}

void owner_give_back(struct owner *o)
{
	pthread_mutex_lock(&o->lock);
	if (--o->depth == 0)
		pthread_cond_broadcast(&o->idle);
	pthread_mutex_unlock(&o->lock);
}

/* Until no other thread is inside a call on @o. */
static void owner_wait_idle(struct owner *o)
{
	pthread_t self = pthread_self();

	pthread_mutex_lock(&o->lock);
	while (o->depth && !pthread_equal(o->thread, self))
		pthread_cond_wait(&o->idle, &o->lock);
	pthread_mutex_unlock(&o->lock);
}

/*
 * Takes all or none and waits holding none, so that two threads each
 * waiting for what the other holds cannot happen.
 */
void owners_take_waiting(struct owner *const *o, unsigned int n)
{
	for (;;) {
		unsigned int i = 0;

		while (i < n && owner_take(o[i], true) == 0)
			i++;
		if (i == n)
			return;
		for (unsigned int k = 0; k < i; k++)
			owner_give_back(o[k]);
		owner_wait_idle(o[i]);
	}
}

int call_fail_reentry(struct vfiomig_ctx *ctx, const char *name)
{
	return vfiomig_fail(ctx, -EDEADLK, "%s: this thread is inside a call on it already, "
			    "and this call came from a callback of that call (a progress "
			    "function or a group's hook); a callback must not drive what its "
			    "call is moving: return from the callback, and make this call "
			    "after that call has returned", name);
}

bool vfiomig_call_note(struct vfiomig_ctx *ctx, const char *note)
{
	struct err_slot *s = call_slot(ctx);
	size_t len;

	if (!s || !s->rec.failed)
		return false;
	len = strlen(s->rec.msg);
	return (size_t)snprintf(s->rec.msg + len, sizeof(s->rec.msg) - len, "; %s", note) <
	       sizeof(s->rec.msg) - len;
}

void vfiomig_note_fact(struct vfiomig_ctx *ctx, unsigned int fact)
{
	struct err_slot *s = call_slot(ctx);

	if (s && s->rec.failed && s->rec.depth == s->depth)
		s->rec.facts |= fact;
}

void call_note_device(struct vfiomig_ctx *ctx, const char *name)
{
	struct err_slot *s = call_slot(ctx);

	if (s && s->rec.failed && s->rec.depth == s->depth && !s->rec.device[0])
		snprintf(s->rec.device, sizeof(s->rec.device), "%s", name);
}

static void complete_failure(struct call *c, struct err_slot *s, int r)
{
	struct err_record *e = &s->rec;
	const char *name = c->report ? c->reporter->name(c->report) : NULL;

	if (!e->failed || e->depth != s->depth) {
		/* A failure that said nothing itself: say at least what and where. */
		*e = (struct err_record){ .failed = true, .depth = s->depth, .offset = UINT64_MAX };
		snprintf(e->msg, sizeof(e->msg), "%s%s%s", name ? name : "", name ? ": " : "",
			 strerror(-r));
	}
	e->err = -r;
	if (name)
		snprintf(e->device, sizeof(e->device), "%s", name);
	/* Another thread's device is not ours to read (an -EBUSY), nor is one
	 * an outer call of this thread is moving (an -EDEADLK). */
	if (c->report && (c->owned || c->report != c->dev) && (c->flags & CALL_REPORT_STATE))
		c->reporter->last_words(c->report, e->msg, sizeof(e->msg), &e->has_state,
					&e->state);
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

int vfiomig_call_ctx(struct vfiomig_ctx *ctx, int (*fn)(void *arg), void *arg)
{
	struct call c;
	int r = call_begin_ctx(&c, ctx);

	if (r == 0)
		r = fn(arg);
	return call_end(&c, r);
}
