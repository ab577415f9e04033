/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The vendor backends, and the generic one for devices nobody knows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "vendor.h"
#include "identity.h"
#include "context.h"
#include "util.h"

extern const struct vfiomig_vendor_ops vfiomig_vendor_mlx5;
extern const struct vfiomig_vendor_ops vfiomig_vendor_xe;

static int generic_feed(struct vendor_parser *p, const uint8_t *buf, size_t len)
{
	(void)buf;
	p->offset += len;
	return 0;
}

static int generic_finish(struct vendor_parser *p)
{
	(void)p;
	return 0;
}

/* Opaque bytes: only their number is known. */
static const struct vfiomig_vendor_ops vendor_generic = {
	.name = "generic",
	.feed = generic_feed,
	.finish = generic_finish,
};

static const struct vfiomig_vendor_ops *const backends[] = {
	&vfiomig_vendor_mlx5,
	&vfiomig_vendor_xe,
	&vendor_generic,
};

const struct vfiomig_vendor_ops *vfiomig_vendor_find(struct vfiomig_ctx *ctx, const char *name)
{
	for (unsigned int i = 0; ctx && i < ctx->n_backends; i++)
		if (strcmp(ctx->backends[i]->name, name) == 0)
			return ctx->backends[i];
	for (size_t i = 0; i < ARRAY_SIZE(backends); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

const struct vfiomig_vendor_ops *vfiomig_vendor_for(const struct vfiomig_identity *id)
{
	for (size_t i = 0; i < ARRAY_SIZE(backends); i++)
		if (backends[i]->match && backends[i]->match(id))
			return backends[i];
	return &vendor_generic;
}

int vendor_parser_init(struct vendor_parser *p, const struct vfiomig_vendor_ops *ops,
		       uint32_t device,
		       void (*record)(void *, const struct vfiomig_stream_record *),
		       void *userdata)
{
	memset(p, 0, sizeof(*p));
	p->ops = ops;
	p->device = device;
	p->record = record;
	p->userdata = userdata;
	p->problem_offset = UINT64_MAX;
	if (ops->state_size && !(p->state = calloc(1, ops->state_size)))
		return -ENOMEM;
	return 0;
}

void vendor_parser_fini(struct vendor_parser *p)
{
	if (p->state && p->ops->state_fini)
		p->ops->state_fini(p->state);
	free(p->state);
	p->state = NULL;
}

uint32_t vendor_kernel_version(const char *release)
{
	unsigned int major, minor;

	if (!release || sscanf(release, "%u.%u", &major, &minor) != 2 ||
	    major > 0xffff || minor > 0xffff)
		return 0;
	return VENDOR_KERNEL(major, minor);
}

uint32_t vendor_host_kernel(void)
{
	struct utsname u;

	return uname(&u) == 0 ? vendor_kernel_version(u.release) : 0;
}
