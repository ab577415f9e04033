/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Loading rdma-core for the mlx5 capability query.  Linked, it made every
 * process that uses libvfiomig map libmlx5, libibverbs and libnl at start
 * (and made every package depend on them) for one diagnostic call; opened
 * here, it is loaded only when that call runs, and a system without it
 * loses that call only (docs/dependencies.md).
 *
 * Each symbol is looked up at the version a link against rdma-core 44
 * records (IBVERBS_1.1, MLX5_1.7, MLX5_1.8): libibverbs keeps older
 * IBVERBS_1.0 entry points of other layouts beside them.
 */
#define _GNU_SOURCE	/* dlvsym() */
#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

#include "dlopen-note.h"
#include "log.h"
#include "rdma-core.h"
#include "util.h"

#define VERBS_SONAME "libibverbs.so.1"
#define MLX5_SONAME "libmlx5.so.1"

#define NOTE_ENTRY(soname) DLOPEN_ENTRY("mlx5-caps", "Reading mlx5 firmware capabilities " \
					   "(vfiomig_mlx5_caps_query)", DLOPEN_SUGGESTED, soname)
DLOPEN_NOTE(rdma_core_note, "[" NOTE_ENTRY(VERBS_SONAME) "," NOTE_ENTRY(MLX5_SONAME) "]");

static const struct {
	const char *soname;
	const char *package;	/* Debian's */
} libs[RDMA_LIBS] = {
	[RDMA_VERBS] = { VERBS_SONAME, "libibverbs1" },
	[RDMA_MLX5] = { MLX5_SONAME, "ibverbs-providers" },
};

static const struct {
	unsigned int lib;
	const char *name, *version;
	size_t offset;		/* of its pointer in struct rdma_core */
} syms[] = {
#define SYM(lib, name, version, field) { lib, name, version, offsetof(struct rdma_core, field) }
	SYM(RDMA_VERBS, "ibv_get_device_list", "IBVERBS_1.1", get_device_list),
	SYM(RDMA_VERBS, "ibv_free_device_list", "IBVERBS_1.1", free_device_list),
	SYM(RDMA_VERBS, "ibv_get_device_name", "IBVERBS_1.1", get_device_name),
	SYM(RDMA_VERBS, "ibv_close_device", "IBVERBS_1.1", close_device),
	SYM(RDMA_MLX5, "mlx5dv_is_supported", "MLX5_1.8", is_supported),
	SYM(RDMA_MLX5, "mlx5dv_open_device", "MLX5_1.7", open_device),
	SYM(RDMA_MLX5, "mlx5dv_devx_general_cmd", "MLX5_1.7", devx_general_cmd),
#undef SYM
};

_Static_assert(sizeof(void *) == sizeof(void (*)(void)),
	       "dlvsym()'s answer is stored as a function pointer");

static int load_lib(struct vfiomig_ctx *ctx, struct rdma_core *rc, unsigned int i)
{
	const char *why;

	dlerror();
	/* Loaded once, kept: libibverbs drops what its start allocated when
	 * unloaded (LeakSanitizer sees it), and it never closes the providers
	 * it opens itself, which hold it anyway once a device was listed. */
	rc->lib[i] = dlopen(libs[i].soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (rc->lib[i])
		return 0;
	why = dlerror();
	return vfiomig_fail(ctx, -EOPNOTSUPP, "reading mlx5 firmware capabilities needs rdma-core's "
			    "%s, which cannot be loaded (%s): install it (Debian: package %s)",
			    libs[i].soname, why ? why : "not found", libs[i].package);
}

static int load_sym(struct vfiomig_ctx *ctx, struct rdma_core *rc, unsigned int i)
{
	void *sym = dlvsym(rc->lib[syms[i].lib], syms[i].name, syms[i].version);

	if (!sym)
		return vfiomig_fail(ctx, -EOPNOTSUPP, "%s has no %s@%s, which reading mlx5 firmware "
				    "capabilities needs: this rdma-core is too old; upgrade it "
				    "(Debian: package %s)", libs[syms[i].lib].soname, syms[i].name,
				    syms[i].version, libs[syms[i].lib].package);
	memcpy((char *)rc + syms[i].offset, &sym, sizeof(sym));
	return 0;
}

int rdma_core_open(struct vfiomig_ctx *ctx, struct rdma_core *rc)
{
	int r = 0;

	memset(rc, 0, sizeof(*rc));
	for (unsigned int i = 0; r == 0 && i < RDMA_LIBS; i++)
		r = load_lib(ctx, rc, i);
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(syms); i++)
		r = load_sym(ctx, rc, i);
	if (r < 0)
		rdma_core_close(rc);
	return r;
}

void rdma_core_close(struct rdma_core *rc)
{
	/* libmlx5 first: it needs libibverbs. */
	for (unsigned int i = RDMA_LIBS; i-- > 0;) {
		if (rc->lib[i])
			dlclose(rc->lib[i]);
		rc->lib[i] = NULL;
	}
}
