/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Migrates one mock device into another with nothing but the state API and
 * plain read()/write() on the data fds, as a VMM would: pre-copy while the
 * source runs, stop-copy, load, and the destination verifies what it got.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vfiomig/vfiomig.h>

#define CHUNK (256 * 1024)

static int fail(struct vfiomig_ctx *ctx, const char *what)
{
	fprintf(stderr, "vfiomig-demo: %s: %s\n", what, vfiomig_ctx_get_error(ctx));
	return 1;
}

static void show_path(struct vfiomig_dev *dev, enum vfiomig_state to)
{
	enum vfiomig_state from, path[8];
	uint64_t flags;
	int n;

	vfiomig_dev_get_state(dev, &from);
	vfiomig_dev_get_mig_flags(dev, &flags);
	n = vfiomig_fsm_path(flags, from, to, path, 8);
	printf("%-10s %s", vfiomig_dev_get_name(dev), vfiomig_state_name(from));
	for (int i = 0; i < n; i++)
		printf(" -> %s", vfiomig_state_name(path[i]));
	printf("\n");
}

/* Copies up to @limit bytes (or to EOF when @limit is 0) from @in to @out. */
static long long copy(int in, int out, long long limit, char *buf)
{
	long long total = 0;

	while (!limit || total < limit) {
		size_t want = limit && limit - total < CHUNK ? (size_t)(limit - total) : CHUNK;
		ssize_t n = read(in, buf, want);

		if (n <= 0)
			return n < 0 ? -1 : total;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));

			if (w < 0)
				return -1;
			off += w;
		}
		total += n;
	}
	return total;
}

int main(void)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src, *dst;
	uint64_t initial = 0, dirty = 0, size = 0;
	int save_fd, load_fd;
	long long pre, rest;
	char *buf = malloc(CHUNK);

	if (!buf || vfiomig_ctx_new(&ctx) < 0)
		return 1;
	if (vfiomig_dev_open(ctx, "mock:demo-src,size=16M", &src) < 0)
		return fail(ctx, "open source");
	if (vfiomig_dev_open(ctx, "mock:demo-dst,size=16M,state=stop", &dst) < 0)
		return fail(ctx, "open destination");
	vfiomig_dev_get_stop_copy_size(src, &size);
	printf("source %s: %llu bytes of device state\n", vfiomig_dev_get_name(src),
	       (unsigned long long)size);

	show_path(src, VFIOMIG_STATE_PRE_COPY);
	if (vfiomig_dev_set_state(src, VFIOMIG_STATE_PRE_COPY, &save_fd) < 0)
		return fail(ctx, "start pre-copy");
	show_path(dst, VFIOMIG_STATE_RESUMING);
	if (vfiomig_dev_set_state(dst, VFIOMIG_STATE_RESUMING, &load_fd) < 0)
		return fail(ctx, "start resuming");

	/* Pre-copy: read what the device says is ready while it keeps running. */
	if (vfiomig_dev_get_precopy_info(src, save_fd, &initial, &dirty) < 0)
		return fail(ctx, "precopy info");
	pre = copy(save_fd, load_fd, (long long)(initial + dirty), buf);

	/* Stop-copy: the same fd carries the rest, up to EOF. */
	show_path(src, VFIOMIG_STATE_STOP_COPY);
	if (vfiomig_dev_set_state(src, VFIOMIG_STATE_STOP_COPY, NULL) < 0)
		return fail(ctx, "stop-copy");
	rest = copy(save_fd, load_fd, 0, buf);
	if (pre < 0 || rest < 0) {
		perror("vfiomig-demo: copy");
		return 1;
	}
	close(save_fd);
	close(load_fd);
	printf("moved %lld bytes in pre-copy and %lld in stop-copy\n", pre, rest);

	/* RESUMING -> STOP is where the destination validates what it loaded. */
	show_path(dst, VFIOMIG_STATE_RUNNING);
	if (vfiomig_dev_set_state(dst, VFIOMIG_STATE_RUNNING, NULL) < 0)
		return fail(ctx, "load");
	if (vfiomig_dev_set_state(src, VFIOMIG_STATE_STOP, NULL) < 0)
		return fail(ctx, "end the save");
	printf("destination verified the state and runs; source stopped\n");

	vfiomig_dev_unref(src);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
	free(buf);
	return 0;
}
