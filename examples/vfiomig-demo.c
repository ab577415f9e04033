/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Migrates one mock device into another with the state API and a VMM's
 * event loop: both data fds non-blocking, one poll() for both, and
 * vfiomig_data_read() and vfiomig_data_write_some(), which never wait.
 * Pre-copy while the source runs, stop-copy, load, and the destination
 * verifies what it got.  The destination is slow (rate=), so the loop
 * really waits for it, in poll() and nowhere else.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vfiomig/mock.h>
#include <vfiomig/vfiomig.h>

#define CHUNK (256 * 1024)

static int fail(struct vfiomig_ctx *ctx, const char *what)
{
	const char *why = vfiomig_ctx_get_error(ctx);

	fprintf(stderr, "vfiomig-demo: %s: %s\n", what, why ? why : strerror(errno));
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

/* The two ends of the copy, and how often the destination said "not now". */
struct link {
	struct vfiomig_dev *src, *dst;
	int in, out;
	char *buf;
	long long full;
};

static int nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* What a VMM's loop does when a call says -EAGAIN: poll() for the fd, among its others. */
static int wait_for(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, -1) < 0 ? -1 : 0;
}

/*
 * Copies up to @limit bytes of pre-copy, or to the end of the stream when
 * @limit is 0, a chunk at a time: each call takes what its fd has now and
 * returns, and only poll() waits.
 */
static long long copy(struct link *l, long long limit)
{
	long long total = 0;
	size_t have = 0, off = 0;
	int end = 0;

	while (!end || have) {
		size_t want = limit && limit - total < CHUNK ? (size_t)(limit - total) : CHUNK;
		ssize_t n;

		if (!have) {
			n = vfiomig_data_read(l->src, l->in, l->buf, want,
					      limit ? VFIOMIG_READ_PRECOPY : 0);
			if (n == -EAGAIN) {
				if (wait_for(l->in, POLLIN) < 0)
					return -1;
				continue;
			}
			if (n < 0)
				return -1;
			have = (size_t)n;
			off = 0;
			total += n;
			end = n == 0 || (limit && total == limit);
			continue;
		}
		n = vfiomig_data_write_some(l->dst, l->out, l->buf + off, have);
		if (n == -EAGAIN) {
			l->full++;
			if (wait_for(l->out, POLLOUT) < 0)
				return -1;
			continue;
		}
		if (n < 0)
			return -1;
		off += (size_t)n;
		have -= (size_t)n;
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
	struct link l;

	/* the mock devices are libvfiomig-mock's; a VMM opens real ones */
	if (!buf || vfiomig_ctx_new(&ctx) < 0 || vfiomig_mock_attach(ctx) < 0)
		return 1;
	if (vfiomig_dev_open(ctx, "mock:demo-src,size=16M", &src) < 0)
		return fail(ctx, "open source");
	if (vfiomig_dev_open(ctx, "mock:demo-dst,size=16M,state=stop,rate=64M", &dst) < 0)
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
	if (nonblocking(save_fd) < 0 || nonblocking(load_fd) < 0) {
		perror("vfiomig-demo: O_NONBLOCK");
		return 1;
	}
	l = (struct link){ .src = src, .dst = dst, .in = save_fd, .out = load_fd, .buf = buf };

	/* Pre-copy: read what the device says is ready while it keeps running. */
	if (vfiomig_dev_get_precopy_info(src, save_fd, &initial, &dirty) < 0)
		return fail(ctx, "precopy info");
	pre = copy(&l, (long long)(initial + dirty));

	/* Stop-copy: the same fd carries the rest, up to EOF. */
	show_path(src, VFIOMIG_STATE_STOP_COPY);
	if (vfiomig_dev_set_state(src, VFIOMIG_STATE_STOP_COPY, NULL) < 0)
		return fail(ctx, "stop-copy");
	rest = copy(&l, 0);
	if (pre < 0 || rest < 0)
		return fail(ctx, "copy");
	close(save_fd);
	close(load_fd);
	printf("moved %lld bytes in pre-copy and %lld in stop-copy; the destination was "
	       "full %lld times, and the loop waited for it in poll()\n", pre, rest, l.full);

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
