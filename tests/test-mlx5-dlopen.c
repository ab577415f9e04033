/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig_mlx5_caps_query() on a system without rdma-core, or with one too
 * old.  Linked with -Wl,--wrap=dlopen,--wrap=dlvsym,--wrap=dlclose
 * (tests/meson.build), so that the library's objects reach the loader
 * through this file: __wrap_dlopen() sends the soname it is told to refuse
 * to a path that does not exist, so that the real loader fails with its
 * own words, and __wrap_dlvsym() hides the symbol it is told to, as an
 * older rdma-core lacks it.  Each query must say what is missing and which
 * package has it, leave no library open, and the decoding must not care.
 * Built with -Dmlx5 only: without it nothing is dlopen()ed.
 */
#define _GNU_SOURCE
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "test-util.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void *__real_dlopen(const char *file, int flags);
void *__wrap_dlopen(const char *file, int flags);
void *__real_dlvsym(void *handle, const char *name, const char *version);
void *__wrap_dlvsym(void *handle, const char *name, const char *version);
int __real_dlclose(void *handle);
int __wrap_dlclose(void *handle);

static const char *refused_lib, *refused_sym;
static int opened, closed;

static void refuse(const char *lib, const char *sym)
{
	refused_lib = lib;
	refused_sym = sym;
	opened = closed = 0;
}

void *__wrap_dlopen(const char *file, int flags)
{
	char missing[256];
	void *h;

	if (refused_lib && file && strcmp(file, refused_lib) == 0) {
		snprintf(missing, sizeof(missing), "/nonexistent/%s", file);
		file = missing;
	}
	h = __real_dlopen(file, flags);
	if (h)
		opened++;
	return h;
}

void *__wrap_dlvsym(void *handle, const char *name, const char *version)
{
	if (refused_sym && strcmp(name, refused_sym) == 0)
		return NULL;
	return __real_dlvsym(handle, name, version);
}

int __wrap_dlclose(void *handle)
{
	closed++;
	return __real_dlclose(handle);
}

static const struct {
	const char *lib, *sym;		/* what this system lacks */
	const char *says[3];		/* what the error must name */
} missing[] = {
	{ "libibverbs.so.1", NULL, { "libibverbs.so.1", "cannot be loaded", "package libibverbs1" } },
	{ "libmlx5.so.1", NULL, { "libmlx5.so.1", "cannot be loaded", "package ibverbs-providers" } },
	{ NULL, "ibv_close_device", { "libibverbs.so.1 has no ibv_close_device@IBVERBS_1.1",
				      "too old", "package libibverbs1" } },
	{ NULL, "mlx5dv_devx_general_cmd", { "libmlx5.so.1 has no mlx5dv_devx_general_cmd@MLX5_1.7",
					     "too old", "package ibverbs-providers" } },
};

START_TEST(test_missing)
{
	struct vfiomig_mlx5_caps c = { .sz = sizeof(c) };
	uint8_t cap[4096] = { 0 };
	struct vfiomig_ctx *ctx;
	const char *err;

	refuse(missing[_i].lib, missing[_i].sym);
	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	/* An address that does not exist: the libraries come first. */
	ck_assert_int_eq(vfiomig_mlx5_caps_query(ctx, "0000:ff:1f.7", &c), -EOPNOTSUPP);
	err = vfiomig_ctx_get_error(ctx);
	for (size_t i = 0; i < ARRAY_SIZE(missing[_i].says); i++)
		ck_assert_msg(strstr(err, missing[_i].says[i]), "\"%s\" does not say \"%s\"",
			      err, missing[_i].says[i]);
	ck_assert_int_eq(closed, opened);
	ck_assert_int_eq(vfiomig_mlx5_caps_decode(cap, sizeof(cap), cap, sizeof(cap), "6.8", &c), 0);
	ck_assert_int_eq(c.offered, 0);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* With rdma-core there, each query opens both libraries and closes them. */
START_TEST(test_opened_per_query)
{
	struct vfiomig_mlx5_caps c = { .sz = sizeof(c) };
	struct vfiomig_ctx *ctx;

	refuse(NULL, NULL);
	ck_assert_int_eq(test_ctx_new(&ctx), 0);
	for (int n = 1; n <= 2; n++) {
		ck_assert_int_eq(vfiomig_mlx5_caps_query(ctx, "0000:ff:1f.7", &c), -ENODEV);
		ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "no such PCI device"));
		ck_assert_int_eq(opened, 2 * n);
		ck_assert_int_eq(closed, opened);
	}
	vfiomig_ctx_unref(ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mlx5-dlopen");
	TCase *tc = tcase_create("mlx5-dlopen");

	tcase_add_loop_test(tc, test_missing, 0, ARRAY_SIZE(missing));
	tcase_add_test(tc, test_opened_per_query);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
