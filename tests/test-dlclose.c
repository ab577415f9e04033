/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A thread that called libvfiomig may outlive a dlclose() of it (a plugin
 * unloaded while a thread pool lives on).  When that thread ends, glibc
 * runs the destructor of the library's thread-local key (lib/core/call.c), so
 * the library must still be mapped: it is linked with -z nodelete.
 *
 *   test-dlclose PATH-TO-libvfiomig.so
 */
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>

struct vfiomig_ctx;
struct vfiomig_dev;

struct api {
	int (*ctx_new)(struct vfiomig_ctx **ret);
	struct vfiomig_ctx *(*ctx_unref)(struct vfiomig_ctx *ctx);
	int (*dev_open)(struct vfiomig_ctx *ctx, const char *spec, struct vfiomig_dev **ret);
	sem_t called, unloaded;
	int r;
};

/* Leaves an error slot behind, then outlives the library's unloading. */
static void *caller(void *arg)
{
	struct api *a = arg;
	struct vfiomig_ctx *ctx;

	a->r = a->ctx_new(&ctx);
	if (a->r == 0)
		a->r = a->dev_open(ctx, NULL, NULL);	/* -EINVAL, recorded */
	a->ctx_unref(ctx);
	sem_post(&a->called);
	sem_wait(&a->unloaded);
	return NULL;
}

int main(int argc, char **argv)
{
	struct api a;
	pthread_t t;
	void *lib;

	if (argc != 2 || !(lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL))) {
		fprintf(stderr, "test-dlclose: %s\n", argc == 2 ? dlerror() : "usage: test-dlclose LIB");
		return 1;
	}
	*(void **)&a.ctx_new = dlsym(lib, "vfiomig_ctx_new");
	*(void **)&a.ctx_unref = dlsym(lib, "vfiomig_ctx_unref");
	*(void **)&a.dev_open = dlsym(lib, "vfiomig_dev_open");
	if (!a.ctx_new || !a.ctx_unref || !a.dev_open) {
		fprintf(stderr, "test-dlclose: %s\n", dlerror());
		return 1;
	}
	sem_init(&a.called, 0, 0);
	sem_init(&a.unloaded, 0, 0);
	if (pthread_create(&t, NULL, caller, &a) != 0)
		return 1;
	sem_wait(&a.called);
	dlclose(lib);
	sem_post(&a.unloaded);
	pthread_join(t, NULL);	/* the thread's end runs the key's destructor */
	if (a.r != -22) {
		fprintf(stderr, "test-dlclose: the failing call gave %d\n", a.r);
		return 1;
	}
	return 0;
}
