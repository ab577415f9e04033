/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The group object: members, the hook, the results of the last call. */
#include <stdlib.h>

#include "group-internal.h"
#include "export.h"
#include "call.h"
#include "log.h"
#include "sized.h"
#include "dev.h"

VFIOMIG_EXPORT int vfiomig_group_new(struct vfiomig_ctx *ctx, unsigned int flags,
				     struct vfiomig_group **ret)
{
	struct vfiomig_group *g;
	struct call c;
	int r = call_begin_ctx(&c, ctx);

	if (r == 0 && (!ret || (flags & ~VFIOMIG_GROUP_ALLOW_NO_P2P)))
		r = vfiomig_fail(ctx, -EINVAL, "a group needs somewhere to be returned, and takes "
				 "no flag but VFIOMIG_GROUP_ALLOW_NO_P2P");
	if (r == 0 && !(g = calloc(1, sizeof(*g))))
		r = vfiomig_fail(ctx, -ENOMEM, "out of memory for a group");
	if (r == 0) {
		atomic_init(&g->refcount, 1);
		owner_init(&g->owner);
		g->ctx = vfiomig_ctx_ref(ctx);
		g->flags = flags;
		*ret = g;
	}
	return call_end(&c, r);
}

VFIOMIG_EXPORT struct vfiomig_group *vfiomig_group_ref(struct vfiomig_group *g)
{
	if (g)
		atomic_fetch_add(&g->refcount, 1);
	return g;
}

VFIOMIG_EXPORT struct vfiomig_group *vfiomig_group_unref(struct vfiomig_group *g)
{
	if (!g || atomic_fetch_sub(&g->refcount, 1) != 1)
		return NULL;
	for (unsigned int i = 0; i < g->n; i++)
		vfiomig_dev_unref(g->m[i].dev);
	owner_fini(&g->owner);
	vfiomig_ctx_unref(g->ctx);
	free(g);
	return NULL;
}

static int group_add(struct vfiomig_group *g, struct vfiomig_dev *dev)
{
	if (!dev || dev->ctx != g->ctx)
		return vfiomig_fail(g->ctx, -EINVAL, "a group member must be a device of the "
				    "group's own context");
	for (unsigned int i = 0; i < g->n; i++)
		if (vfiomig_dev_is_same(g->m[i].dev, dev) == 1)
			return vfiomig_fail(g->ctx, -EEXIST, "%s is already a member of the group%s%s",
					    dev->name, g->m[i].dev == dev ? "" : " as ",
					    g->m[i].dev == dev ? "" : g->m[i].dev->name);
	if (g->n == VFIOMIG_GROUP_MAX)
		return vfiomig_fail(g->ctx, -E2BIG, "a group takes at most %d devices",
				    VFIOMIG_GROUP_MAX);
	g->m[g->n++] = (struct group_member){ .dev = vfiomig_dev_ref(dev), .fd = -1 };
	g->have_results = false;
	return 0;
}

/* Group calls take the group for the calling thread, as device calls do;
 * a @query only reads it, so a callback of a call on it may make it. */
static int group_begin(struct call *c, struct vfiomig_group *g, bool query)
{
	int r = call_begin_ctx(c, g ? g->ctx : NULL);

	if (r < 0)
		return r;
	r = owner_take(&g->owner, query);
	c->owned = r == 0 ? &g->owner : NULL;
	if (r == -EBUSY)
		return vfiomig_fail(g->ctx, r, "another thread is driving the group; "
				    "one group takes one call at a time");
	return r == -EDEADLK ? call_fail_reentry(g->ctx, "the group") : 0;
}

int group_call_begin(struct call *c, struct vfiomig_group *g)
{
	return group_begin(c, g, false);
}

VFIOMIG_EXPORT int vfiomig_group_add(struct vfiomig_group *g, struct vfiomig_dev *dev)
{
	struct call c;
	int r = group_call_begin(&c, g);

	if (r == 0)
		r = group_add(g, dev);
	return call_end(&c, r);
}

struct vfiomig_ctx *group_ctx(const struct vfiomig_group *g)
{
	return g->ctx;
}

unsigned int group_size(const struct vfiomig_group *g)
{
	return g->n;
}

struct vfiomig_dev *group_dev(const struct vfiomig_group *g, unsigned int i)
{
	return g->m[i].dev;
}

struct owner *group_owner(struct vfiomig_group *g)
{
	return &g->owner;
}

VFIOMIG_EXPORT int vfiomig_group_get_size(struct vfiomig_group *g)
{
	return g ? (int)g->n : -EINVAL;
}

VFIOMIG_EXPORT struct vfiomig_dev *vfiomig_group_get_member(struct vfiomig_group *g,
							    unsigned int index)
{
	return g && index < g->n ? g->m[index].dev : NULL;
}

VFIOMIG_EXPORT void vfiomig_group_set_hook(struct vfiomig_group *g,
					   int (*fn)(void *, struct vfiomig_group *,
						     enum vfiomig_group_point),
					   void *userdata)
{
	if (!g)
		return;
	g->hook = fn;
	g->hook_data = userdata;
}

static int get_result(struct vfiomig_group *g, unsigned int index,
		      struct vfiomig_group_result *ret)
{
	if (!ret || sized_check_out(ret) < 0 || index >= g->n)
		return vfiomig_fail(g->ctx, -EINVAL, "member %u: no such member, or no result "
				    "struct with its sz set", index);
	if (!g->have_results)
		return vfiomig_fail(g->ctx, -ENODATA, "the group has made no call since its last "
				    "member joined");
	sized_copy_out(ret, &g->m[index].result, sizeof(g->m[index].result));
	return 0;
}

VFIOMIG_EXPORT int vfiomig_group_get_result(struct vfiomig_group *g, unsigned int index,
					    struct vfiomig_group_result *ret)
{
	struct call c;
	int r = group_begin(&c, g, true);

	if (r == 0)
		r = get_result(g, index, ret);
	return call_end(&c, r);
}
