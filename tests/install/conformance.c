/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A driver's CI: pkg-config vfiomig-conformance (and vfiomig-mock, for a
 * device to run it on here).  The checker is its own library: it runs and
 * tells its failures through the context as libvfiomig's calls do, and
 * libvfiomig alone no longer has it.  TAP on stdout.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <vfiomig/conformance.h>
#include <vfiomig/mock.h>
#include <vfiomig/vfiomig.h>

static int n;

static int ok(int cond, const char *what, const char *detail)
{
	printf("%sok %d - %s%s%s\n", cond ? "" : "not ", ++n, what, detail ? ": " : "",
	       detail ? detail : "");
	return !cond;
}

/* Whether libvfiomig itself (not the process) defines @name. */
static int libvfiomig_has(const char *name)
{
	Dl_info where;
	void *lib = dladdr((void *)vfiomig_ctx_new, &where) ?
		    dlopen(where.dli_fname, RTLD_NOW | RTLD_NOLOAD) : NULL;
	int has = lib && dlsym(lib, name);

	if (lib)
		dlclose(lib);
	return has;
}

int main(void)
{
	struct vfiomig_conformance_opts o = { .sz = sizeof(o), .twin = "mock:b" };
	struct vfiomig_conformance_info info = { .sz = sizeof(info) };
	struct vfiomig_conformance *rep = NULL;
	struct vfiomig_ctx *ctx;
	size_t checks;
	int bad = 0, r;

	printf("1..4\n");
	if (vfiomig_ctx_new(&ctx) < 0 || vfiomig_mock_attach(ctx) < 0)
		return 1;
	vfiomig_conformance_catalogue(&checks);
	r = vfiomig_conformance_run(ctx, "mock:a", &o, &rep);
	bad |= ok(r == 0 && vfiomig_conformance_get_info(rep, &info) == 0 &&
		  info.count[VFIOMIG_VERDICT_PASS] == checks, "a run on a mock passes every check",
		  r < 0 ? vfiomig_ctx_get_error(ctx) : NULL);
	bad |= ok(!vfiomig_ctx_get_error(ctx), "a run that finished leaves no error", NULL);
	vfiomig_conformance_free(rep);
	rep = NULL;
	o.twin = "mock:a";
	r = vfiomig_conformance_run(ctx, "mock:a", &o, &rep);
	bad |= ok(r == -EINVAL && !rep && vfiomig_ctx_get_error(ctx) &&
		  strstr(vfiomig_ctx_get_error(ctx), "itself"),
		  "a refused run says why through the context", vfiomig_ctx_get_error(ctx));
	bad |= ok(!libvfiomig_has("vfiomig_conformance_run") && libvfiomig_has("vfiomig_dev_open"),
		  "libvfiomig itself has no checker", NULL);
	vfiomig_ctx_unref(ctx);
	return bad;
}
