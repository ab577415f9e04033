/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The public calls on profiles: free, JSON both ways, the checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "export.h"
#include "log.h"
#include "profile.h"

VFIOMIG_EXPORT void vfiomig_profile_free(struct vfiomig_profile *profile)
{
	free(profile);
}

VFIOMIG_EXPORT const char *vfiomig_profile_get_name(const struct vfiomig_profile *profile)
{
	return profile ? profile->name : NULL;
}

VFIOMIG_EXPORT int vfiomig_profile_to_json(const struct vfiomig_profile *profile, char **ret)
{
	if (!profile || !ret)
		return -EINVAL;
	return profile_to_json(profile, ret);
}

static int from_json(struct vfiomig_ctx *ctx, const char *json, size_t len,
		     struct vfiomig_profile **ret, size_t max, size_t *ret_n)
{
	char why[512];
	int r;

	if (!json || !ret || !ret_n || !max)
		return vfiomig_fail(ctx, -EINVAL, "no text, no place for the profiles, or room "
				    "for none");
	r = profile_parse(json, len, ret, max, ret_n, why, sizeof(why));
	if (r == -ENOMEM)
		return vfiomig_fail(ctx, r, "out of memory reading a profile");
	if (r < 0)
		return vfiomig_fail(ctx, r, "not a device profile: %s; give the output of "
				    "vfiomig-ctl profile DEVICE --json", why);
	return 0;
}

VFIOMIG_EXPORT int vfiomig_profile_from_json(struct vfiomig_ctx *ctx, const char *json, size_t len,
					     struct vfiomig_profile **ret, size_t max,
					     size_t *ret_n)
{
	struct call c;
	int r = call_begin_ctx(&c, ctx);

	if (r == 0)
		r = from_json(ctx, json, len, ret, max, ret_n);
	return call_end(&c, r);
}

/* The caller's function, given each verdict of the pair @member, @peer. */
struct relay {
	vfiomig_profile_verdict_fn *fn;
	void *userdata;
	int member, peer;
};

static void relay(void *userdata, const struct profile_verdict *v)
{
	struct relay *rl = userdata;
	struct vfiomig_profile_verdict pub = {
		.sz = sizeof(pub), .field = v->field, .verdict = v->verdict,
		.reason = v->reason, .source = v->source, .member = rl->member, .peer = rl->peer,
	};

	if (rl->fn)
		rl->fn(rl->userdata, &pub);
}

VFIOMIG_EXPORT int vfiomig_profile_check(struct vfiomig_ctx *ctx, const struct vfiomig_profile *src,
					 const struct vfiomig_profile *dst,
					 vfiomig_profile_verdict_fn *fn, void *userdata)
{
	struct relay rl = { .fn = fn, .userdata = userdata };
	struct call c;
	int r = call_begin_ctx(&c, ctx);

	if (r == 0 && (!src || !dst))
		r = vfiomig_fail(ctx, -EINVAL, "no source or no destination profile");
	if (r == 0)
		r = (int)profile_compare(src, dst, relay, &rl);
	return call_end(&c, r);
}

struct group_pairs {
	struct vfiomig_profile *const *src, *const *dst;
};

static bool fits(void *userdata, unsigned int k, unsigned int j)
{
	const struct group_pairs *g = userdata;

	return profile_compare(g->src[k], g->dst[j], NULL, NULL) != VFIOMIG_COMPAT_INCOMPATIBLE;
}

/* A verdict of the group's own, on no one field of a pair. */
static void group_verdict(struct relay *rl, const char *field, const char *reason)
{
	struct profile_verdict v = { .field = field, .source = "libvfiomig",
				     .verdict = VFIOMIG_COMPAT_INCOMPATIBLE };

	snprintf(v.reason, sizeof(v.reason), "%s", reason);
	relay(rl, &v);
}

/* The first destination no source member took; -1 if none is left. */
static int leftover(const int *dst_of, size_t n_src, size_t n_dst)
{
	for (size_t j = 0; j < n_dst; j++) {
		size_t k;

		for (k = 0; k < n_src && dst_of[k] != (int)j; k++)
			;
		if (k == n_src)
			return (int)j;
	}
	return -1;
}

static int check_group(struct vfiomig_profile *const *src, size_t n_src,
		       struct vfiomig_profile *const *dst, size_t n_dst,
		       vfiomig_profile_verdict_fn *fn, void *userdata)
{
	struct group_pairs g = { .src = src, .dst = dst };
	struct relay rl = { .fn = fn, .userdata = userdata, .peer = -1 };
	int dst_of[VFIOMIG_GROUP_MAX], worst = VFIOMIG_COMPAT_SAME;
	char why[640];

	if (n_src != n_dst) {
		snprintf(why, sizeof(why), "the source group has %zu member%s, the destination "
			 "%zu: a group's stream loads into as many devices", n_src,
			 n_src == 1 ? "" : "s", n_dst);
		group_verdict(&rl, "members", why);
		worst = VFIOMIG_COMPAT_INCOMPATIBLE;
	}
	profile_match((unsigned int)n_src, (unsigned int)n_dst, fits, &g, dst_of);
	for (size_t k = 0; k < n_src; k++) {
		int v;

		rl.member = (int)k;
		rl.peer = dst_of[k] >= 0 ? dst_of[k] : leftover(dst_of, n_src, n_dst);
		if (dst_of[k] < 0) {
			snprintf(why, sizeof(why), "source member %zu (%s) fits no destination "
				 "device left: each is incompatible with it or taken by an "
				 "earlier member", k, src[k]->name);
			group_verdict(&rl, "member", why);
			worst = VFIOMIG_COMPAT_INCOMPATIBLE;
		}
		if (rl.peer < 0)
			continue;
		/* a misfit's fields against the destination left over, as the
		 * group load's refusal names them */
		v = (int)profile_compare(src[k], dst[rl.peer], relay, &rl);
		if (v > worst)
			worst = v;
	}
	return worst;
}

VFIOMIG_EXPORT int vfiomig_profile_check_group(struct vfiomig_ctx *ctx,
					       struct vfiomig_profile *const *src, size_t n_src,
					       struct vfiomig_profile *const *dst, size_t n_dst,
					       vfiomig_profile_verdict_fn *fn, void *userdata)
{
	struct call c;
	int r = call_begin_ctx(&c, ctx);

	if (r == 0 && (!src || !dst || !n_src || !n_dst || n_src > VFIOMIG_GROUP_MAX ||
		       n_dst > VFIOMIG_GROUP_MAX))
		r = vfiomig_fail(ctx, -EINVAL, "a group check needs 1 to %d profiles on each side",
				 VFIOMIG_GROUP_MAX);
	for (size_t i = 0; r == 0 && i < n_src + n_dst; i++)
		if (!(i < n_src ? src[i] : dst[i - n_src]))
			r = vfiomig_fail(ctx, -EINVAL, "profile %zu of the %s is NULL",
					 i < n_src ? i : i - n_src,
					 i < n_src ? "source" : "destination");
	if (r == 0)
		r = check_group(src, n_src, dst, n_dst, fn, userdata);
	return call_end(&c, r);
}
