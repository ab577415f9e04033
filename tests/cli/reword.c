/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An LD_PRELOAD shim for the CLI's tests: libvfiomig's failures with the
 * same facts, in other words.  vfiomig_ctx_get_error() and
 * vfiomig_ctx_get_error_info() answer as the library does, except that the
 * sentence writes each state in lower case ("members now: mock:a running,
 * mock:b stop"), as a reworded or translated library might.  vfiomig-ctl
 * decides from the facts, so the words must not change what it adds.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

#include <vfiomig/vfiomig.h>

/* The state named at @p, as a whole word, or NULL. */
static const char *state_at(const char *msg, const char *p)
{
	const char *best = NULL;

	if (p > msg && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
		return NULL;
	for (int s = 0; s < VFIOMIG_STATE_COUNT; s++) {
		const char *name = vfiomig_state_name((enum vfiomig_state)s);
		size_t n = strlen(name);

		if (strncmp(p, name, n) == 0 && !isalnum((unsigned char)p[n]) && p[n] != '_' &&
		    (!best || n > strlen(best)))
			best = name;
	}
	return best;
}

static const char *reword(const char *msg)
{
	static __thread char buf[2048];
	size_t o = 0;

	if (!msg)
		return NULL;
	for (const char *p = msg; *p && o + 1 < sizeof(buf);) {
		const char *state = state_at(msg, p);
		size_t n = state ? strlen(state) : 1;

		for (size_t i = 0; i < n && o + 1 < sizeof(buf); i++)
			buf[o++] = state ? (char)tolower((unsigned char)p[i]) : p[i];
		p += n;
	}
	buf[o] = '\0';
	return buf;
}

const char *vfiomig_ctx_get_error(struct vfiomig_ctx *ctx)
{
	const char *(*real)(struct vfiomig_ctx *);

	*(void **)&real = dlsym(RTLD_NEXT, "vfiomig_ctx_get_error");
	return reword(real(ctx));
}

int vfiomig_ctx_get_error_info(struct vfiomig_ctx *ctx, struct vfiomig_error *ret)
{
	int (*real)(struct vfiomig_ctx *, struct vfiomig_error *);
	int r;

	*(void **)&real = dlsym(RTLD_NEXT, "vfiomig_ctx_get_error_info");
	r = real(ctx, ret);

	if (r == 0 && ret->sz >= offsetof(struct vfiomig_error, device))
		ret->message = reword(ret->message);
	return r;
}
