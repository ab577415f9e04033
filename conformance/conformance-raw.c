// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The checker's hands: single requests through the transport, so that the
 * driver answers each one.  Only getting back to a clean start, and GET,
 * go through the library's public calls: its reset (retried, as PCI resets
 * need), its guarded path to RUNNING, and its GET, which is one request.
 * A SET here is one ioctl whatever its target: the kernel walks multi-arc
 * requests itself (every driver loops over vfio_mig_get_next_state()), and
 * refuses what has no path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conformance.h"
#include "dev.h"
#include "transport.h"
#include "util.h"
#include "vfio-compat.h"
#include "wait.h"

int conf_set(struct vfiomig_dev *dev, enum vfiomig_state target, int *ret_fd)
{
	struct vfio_device_feature_mig_state st = { .device_state = (uint32_t)target, .data_fd = -1 };
	int r = vfiomig_dev_feature(dev, VFIO_DEVICE_FEATURE_SET |
				    VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &st, sizeof(st));

	if (ret_fd)
		*ret_fd = r < 0 ? -1 : st.data_fd;
	else if (r == 0 && st.data_fd >= 0)
		close(st.data_fd);
	/* Best effort: a driver that ignores O_NONBLOCK blocks as before. */
	if (ret_fd && *ret_fd >= 0)
		fd_set_nonblock(*ret_fd);
	return r;
}

/* -EPROTO for a state number the uAPI does not define. */
int conf_get(struct vfiomig_dev *dev, enum vfiomig_state *ret)
{
	return vfiomig_dev_get_state(dev, ret);
}

/* The library's reset: it retries a contended PCI reset (EAGAIN), and a
 * reset ends the library's note of a stale session too. */
int conf_reset(struct vfiomig_dev *dev)
{
	return vfiomig_dev_reset(dev);
}

bool conf_cancelled(const struct conf_run *run)
{
	return run->cancel && vfiomig_cancel_is_raised(run->cancel) == 1;
}

/*
 * What the driver answers, as a blocking fd would have: EAGAIN waits for
 * the fd, and EINTR is asked again, both beside the cancel object.  At the
 * temporary end of pre-copy a driver answers ENOMSG at once (mlx5 before
 * it looks at O_NONBLOCK), so no poll waits for data that comes only later.
 */
static ssize_t answer(struct conf_run *run, int fd, short events, ssize_t n)
{
	int r;

	if (n != -EAGAIN && n != -EINTR)
		return n;
	if (conf_cancelled(run))
		return -ECANCELED;
	r = n == -EAGAIN ? vfiomig_wait_fd(fd, events, run->cancel) : 0;
	return r < 0 ? r : -EAGAIN;	/* -EAGAIN: ask again */
}

ssize_t conf_read(struct conf_run *run, struct vfiomig_dev *dev, int fd, void *buf, size_t len)
{
	ssize_t n;

	do
		n = answer(run, fd, POLLIN,
			   vfiomig_dev_transport_ops(dev)->data_read(dev, fd, buf, len));
	while (n == -EAGAIN);
	return n;
}

ssize_t conf_write(struct conf_run *run, struct vfiomig_dev *dev, int fd, const void *buf,
		   size_t len)
{
	ssize_t n;

	do
		n = answer(run, fd, POLLOUT,
			   vfiomig_dev_transport_ops(dev)->data_write(dev, fd, buf, len));
	while (n == -EAGAIN);
	return n;
}

int conf_precopy_info(struct vfiomig_dev *dev, int fd, uint64_t *initial, uint64_t *dirty,
		      uint32_t *flags)
{
	struct vfio_precopy_info info = { .argsz = sizeof(info) };
	int r = vfiomig_dev_transport_ops(dev)->data_ioctl(dev, fd, VFIO_MIG_GET_PRECOPY_INFO,
							   &info);

	if (r < 0)
		return r;
	*initial = info.initial_bytes;
	*dirty = info.dirty_bytes;
	if (flags)
		*flags = info.flags;
	return 0;
}

const char *conf_state_name(enum vfiomig_state s)
{
	const char *name = vfiomig_state_name(s);

	return name ? name : "(invalid state)";
}

bool conf_has(const struct conf_run *run, enum vfiomig_state s)
{
	enum vfiomig_state next;

	return s != VFIOMIG_STATE_ERROR && vfiomig_fsm_next(run->flags, s, s, &next) == 0;
}

int conf_fresh(struct vfiomig_dev *dev)
{
	enum vfiomig_state s;
	int r = conf_reset(dev);

	if (r == 0)
		r = conf_get(dev, &s);
	/* the library's guarded path: never on with a session a close left stale */
	if (r == 0 && s != VFIOMIG_STATE_RUNNING) {
		r = vfiomig_dev_set_state(dev, VFIOMIG_STATE_RUNNING, NULL);
		if (r == 0)
			r = conf_get(dev, &s);
	}
	if (r == 0 && s != VFIOMIG_STATE_RUNNING)
		r = -EPROTO;
	return r;
}

int conf_reach(struct conf_run *run, struct vfiomig_dev *dev, enum vfiomig_state s, int *ret_fd)
{
	int r = conf_cancelled(run) ? -ECANCELED : conf_fresh(dev);

	*ret_fd = -1;
	if (r == 0 && s != VFIOMIG_STATE_RUNNING)
		r = conf_set(dev, s, ret_fd);
	return r;
}

ssize_t conf_drain(struct conf_run *run, int fd, size_t *ret_len, uint64_t limit)
{
	ssize_t n;

	*ret_len = 0;
	while ((n = conf_read(run, run->dev, fd, run->scratch, CONF_SCRATCH)) > 0 &&
	       *ret_len < limit)
		*ret_len += (size_t)n;
	return n;
}

/* Whole images are kept below this: a larger device's arcs are still checked. */
#define IMAGE_MAX (256u << 20)

static int image_read(struct conf_run *run, int fd, struct conf_image *im)
{
	size_t cap = 1 << 20;
	ssize_t n;

	im->buf = malloc(cap);
	while (im->buf) {
		if (im->len == cap) {
			char *more = cap < IMAGE_MAX ? realloc(im->buf, cap * 2) : NULL;

			if (!more)
				return -EFBIG;
			im->buf = more;
			cap *= 2;
		}
		n = conf_read(run, run->dev, fd, im->buf + im->len, cap - im->len);
		/* ENOMSG at the end is data.stop-copy-end's to report; the image is whole */
		if (n <= 0)
			return n == -ENOMSG && im->len ? 0 : (int)n;
		im->len += (size_t)n;
	}
	return -ENOMEM;
}

const struct conf_image *conf_image(struct conf_run *run)
{
	struct conf_image *im = &run->image;
	int fd, r;

	if (im->buf || im->err)
		return im;
	r = conf_reach(run, run->dev, VFIOMIG_STATE_STOP_COPY, &fd);
	if (r == 0)
		r = image_read(run, fd, im);
	conf_close(&fd);
	conf_fresh(run->dev);
	if (r < 0 || !im->len) {
		free(im->buf);
		*im = (struct conf_image){ .err = r < 0 ? r : -ENODATA };
	}
	return im;
}

/* Writes until done; a driver may take less than offered, as write(2) may. */
int conf_write_all(struct conf_run *run, struct vfiomig_dev *dev, int fd, const char *buf,
		   size_t len)
{
	while (len) {
		ssize_t n = conf_write(run, dev, fd, buf, len);

		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int conf_load(struct conf_run *run, struct vfiomig_dev *dev, const char *buf, size_t len,
	      const char **ret_stage)
{
	int fd, r;

	*ret_stage = "entering RESUMING";
	r = conf_reach(run, dev, VFIOMIG_STATE_RESUMING, &fd);
	if (r == 0) {
		*ret_stage = "write";
		r = conf_write_all(run, dev, fd, buf, len);
	}
	if (r == 0) {
		*ret_stage = "RESUMING -> STOP";
		r = conf_set(dev, VFIOMIG_STATE_STOP, NULL);
	}
	conf_close(&fd);
	return r;
}

const char *conf_errname(long r, char *buf, size_t size)
{
	const char *name = r >= 0 ? NULL : strerrorname_np((int)-r);

	if (r >= 0)
		snprintf(buf, size, "%ld", r);
	else if (name)
		snprintf(buf, size, "%s", name);
	else
		snprintf(buf, size, "errno %ld", -r);
	return buf;
}

void conf_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void conf_say(char *d, size_t n, const char *fmt, ...)
{
	size_t used = strnlen(d, n);
	va_list ap;

	if (used + 1 >= n)
		return;
	va_start(ap, fmt);
	vsnprintf(d + used, n - used, fmt, ap);
	va_end(ap);
}

void conf_lead(char *d, size_t n, const char *head, unsigned int more)
{
	char *said = strndup(d, n);

	if (!said)
		return;
	snprintf(d, n, "%s%s%s", head, said[0] ? ": " : "", said);
	if (more)
		conf_say(d, n, "; and %u more", more);
	free(said);
}

enum vfiomig_verdict conf_ended_verdict(ssize_t r)
{
	if (r == -ENODEV || r == -EINVAL)
		return VFIOMIG_VERDICT_PASS;
	return r == 0 ? VFIOMIG_VERDICT_DEVIATION : VFIOMIG_VERDICT_FAIL;
}

enum vfiomig_verdict conf_worse(enum vfiomig_verdict a, enum vfiomig_verdict b)
{
	static const int rank[] = {
		[VFIOMIG_VERDICT_SKIP] = 0, [VFIOMIG_VERDICT_PASS] = 1,
		[VFIOMIG_VERDICT_DEVIATION] = 2, [VFIOMIG_VERDICT_FAIL] = 3,
	};

	return rank[a] >= rank[b] ? a : b;
}

/* One session of @s, ended by @end, then one read (save) or write (resume) of its fd. */
static int session_then(struct conf_run *run, enum vfiomig_state s, conf_end_fn end,
			ssize_t *ret)
{
	char buf[64] = { 0 };
	int fd, r = conf_reach(run, run->dev, s, &fd);

	if (r == 0)
		r = end(run);
	if (r == 0)
		*ret = s == VFIOMIG_STATE_RESUMING ?
		       conf_write(run, run->dev, fd, buf, sizeof(buf)) :
		       conf_read(run, run->dev, fd, buf, sizeof(buf));
	conf_close(&fd);
	if (run->dev)
		conf_reset(run->dev);
	return r;
}

enum vfiomig_verdict conf_sessions_after(struct conf_run *run, conf_end_fn end, const char *what,
					 enum vfiomig_verdict (*judge)(ssize_t), char *d, size_t n)
{
	static const enum vfiomig_state sessions[] = {
		VFIOMIG_STATE_STOP_COPY, VFIOMIG_STATE_RESUMING, VFIOMIG_STATE_PRE_COPY,
	};
	enum vfiomig_verdict v = VFIOMIG_VERDICT_PASS;
	char e[32];

	for (size_t i = 0; i < ARRAY_SIZE(sessions) && run->dev; i++) {
		ssize_t got = 0;
		int r;

		if (!conf_has(run, sessions[i]))
			continue;
		r = session_then(run, sessions[i], end, &got);
		conf_say(d, n, "%s%s fd after %s: ", d[0] ? "; " : "",
			 conf_state_name(sessions[i]), what);
		if (r < 0)
			conf_say(d, n, "not tested (%s)", conf_errname(r, e, sizeof(e)));
		else
			conf_say(d, n, "%s", got > 0 ? "data moved" : conf_errname(got, e, sizeof(e)));
		if (r == 0)
			v = conf_worse(v, judge(got));
	}
	return v;
}
