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

/*
 * Specs that differ can name one device ("3b:00.1", "0000:3b:00.1",
 * "vfio3"; "mock:a" and "mock:a,size=1M"), so the devices are compared,
 * not the specs: a command would drive such a device twice, or save it
 * into itself.
 */
static int remember(struct ctl *ctl, struct vfiomig_dev *dev, const char *spec)
{
	for (int i = 0; i < ctl->nopened; i++) {
		const char *other = ctl->opened[i].spec;

		if (vfiomig_dev_is_same(ctl->opened[i].dev, dev) != 1)
			continue;
		if (strcmp(other, spec) == 0)
			return ctl_usage(ctl, "'%s' is named twice; name each device once", spec);
		return ctl_usage(ctl, "'%s' and '%s' both name %s; name each device once", other,
				 spec, vfiomig_dev_get_name(dev));
	}
	if (ctl->nopened == CTL_MAX_STATES)
		return ctl_usage(ctl, "more than %d devices given", CTL_MAX_STATES);
	ctl->opened[ctl->nopened++] = (struct ctl_opened){ vfiomig_dev_ref(dev), spec };
	return EXIT_OK;
}

int ctl_open(struct ctl *ctl, struct vfiomig_ctx *vctx, const char *spec,
	     struct vfiomig_dev **ret)
{
	int r = vfiomig_dev_open(vctx, spec, ret);

	if (r < 0)
		return ctl_fail_open(ctl, vctx, spec, r);
	r = remember(ctl, *ret, spec);
	if (r != EXIT_OK)
		*ret = vfiomig_dev_unref(*ret);
	return r;
}

void ctl_forget_devices(struct ctl *ctl)
{
	while (ctl->nopened > 0)
		vfiomig_dev_unref(ctl->opened[--ctl->nopened].dev);
}

static int add_member(struct ctl *ctl, struct vfiomig_ctx *vctx, struct vfiomig_group *g,
		      const char *spec)
{
	struct vfiomig_dev *dev;
	int r = ctl_open(ctl, vctx, spec, &dev), e;

	if (r != EXIT_OK)
		return r;
	if ((e = vfiomig_group_add(g, dev)) < 0)
		r = ctl_fail_lib(ctl, vctx, spec, e);
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
		r = add_member(ctl, vctx, g, specs[i]);
	if (r != EXIT_OK)
		g = vfiomig_group_unref(g);
	*ret = g;
	return r;
}

int ctl_open_devices(struct ctl *ctl, char *const *specs, int n, unsigned int group_flags,
		     struct ctl_devices *d)
{
	int r = ctl_context_new(ctl, &d->vctx);

	if (r == EXIT_OK && n > 1)
		r = ctl_open_group(ctl, d->vctx, specs, n, group_flags, &d->group);
	else if (r == EXIT_OK)
		r = ctl_open(ctl, d->vctx, specs[0], &d->dev);
	return r;
}

void ctl_close_devices(struct ctl_devices *d)
{
	vfiomig_group_unref(d->group);
	vfiomig_dev_unref(d->dev);
	vfiomig_ctx_unref(d->vctx);
}

struct vfiomig_dev *ctl_member(const struct ctl_devices *d, int i)
{
	return d->group ? vfiomig_group_get_member(d->group, (unsigned int)i) : d->dev;
}

const char *ctl_spec_of(const struct ctl_devices *d, char *const *specs, int n,
			const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(vfiomig_dev_get_name(ctl_member(d, i)), name) == 0)
			return specs[i];
	return NULL;
}
