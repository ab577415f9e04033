/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Opening devices, and groups of them, with the CLI's error reporting. */
#include <errno.h>
#include <string.h>

#include "ctl.h"

int ctl_fail_open(struct ctl *ctl, struct vfiomig_ctx *vctx, const char *spec, int r)
{
	struct ctl_lib_error e;

	ctl_lib_error_take(vctx, r, &e);
	/* A mistake in what was typed, not a device's failure. */
	if (e.bad_spec)
		return ctl_usage(ctl, "'%s': %s", spec, e.message);
	return ctl_fail_lib_error(ctl, spec, &e);
}

int ctl_open(struct ctl *ctl, struct vfiomig_ctx *vctx, const char *spec,
	     struct vfiomig_dev **ret)
{
	int r = vfiomig_dev_open(vctx, spec, ret);

	return r >= 0 ? EXIT_OK : ctl_fail_open(ctl, vctx, spec, r);
}

/*
 * Member @i of @specs, checked against the members before it by the name
 * the library gives it, since specs that differ can name one device
 * ("3b:00.1" and "0000:3b:00.1"; "mock:a" and "mock:a,size=1M").  A group
 * would drive such a device twice; two mocks of one name would give a
 * stream whose devices no reader could tell apart.
 */
static int add_member(struct ctl *ctl, struct vfiomig_ctx *vctx, struct vfiomig_group *g,
		      char *const *specs, int i)
{
	struct vfiomig_dev *dev;
	const char *name;
	int r = ctl_open(ctl, vctx, specs[i], &dev), e;

	if (r != EXIT_OK)
		return r;
	name = vfiomig_dev_get_name(dev);
	for (int j = 0; j < i && r == EXIT_OK; j++)
		if (strcmp(vfiomig_dev_get_name(vfiomig_group_get_member(g, (unsigned int)j)),
			   name) == 0)
			r = ctl_usage(ctl, "'%s' and '%s' both name %s; name each device of the "
				      "group once", specs[j], specs[i], name);
	if (r == EXIT_OK && (e = vfiomig_group_add(g, dev)) < 0)
		r = ctl_fail_lib(ctl, vctx, specs[i], e);
	vfiomig_dev_unref(dev);	/* the group holds its own reference */
	return r;
}

int ctl_open_group(struct ctl *ctl, struct vfiomig_ctx *vctx, char *const *specs, int n,
		   unsigned int flags, struct vfiomig_group **ret)
{
	struct vfiomig_group *g;
	int r = EXIT_OK, e = vfiomig_group_new(vctx, flags, &g);

	*ret = NULL;
	if (e < 0)
		return ctl_fail_lib(ctl, vctx, specs[0], e);
	for (int i = 0; r == EXIT_OK && i < n; i++)
		r = add_member(ctl, vctx, g, specs, i);
	if (r != EXIT_OK)
		g = vfiomig_group_unref(g);
	*ret = g;
	return r;
}
