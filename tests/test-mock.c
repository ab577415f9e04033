// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The mock device's own tests.  They drive it through the transport ops with
 * ioctl structs built by hand, as the kernel would receive them, and compare
 * it with the uAPI reference (../shared/reference/vfio-migration-uapi.md
 * sections 1.2, 2 and 3), never with the library's own state machine.
 */
#define _GNU_SOURCE
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "private.h"
#include "vfio-compat.h"
#include "mock.h"
#include "mock-content.h"

#define S(x) VFIOMIG_STATE_##x
#define FGET VFIO_DEVICE_FEATURE_GET
#define FSET VFIO_DEVICE_FEATURE_SET
#define FPROBE VFIO_DEVICE_FEATURE_PROBE
#define PAGE MOCK_PAGE_SIZE

/* ---- helpers ---- */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the DIR's own fd */
}

struct arcs {
	char last[1024];	/* the last "... refused ..." message */
	int n;
	enum vfiomig_state from[16], to[16];
};

static int parse_state(const char *s)
{
	for (int i = 0; i < VFIOMIG_STATE_COUNT; i++)
		if (!strcmp(s, mock_state_name(i)))
			return i;
	return -1;
}

/* Collects the "mock NAME: A -> B" debug lines mock.c logs for each arc. */
static void log_fn(void *userdata, int prio, const char *msg)
{
	struct arcs *a = userdata;
	char name[64], x[32], y[32];
	int n = 0;

	(void)prio;
	if (a && strstr(msg, "refused"))
		snprintf(a->last, sizeof(a->last), "%s", msg);
	if (!a || sscanf(msg, "mock %63[^:]: %31[A-Z_2] -> %31[A-Z_2]%n",
			 name, x, y, &n) != 3)
		return;
	if (msg[n] && strcmp(msg + n, " (new data fd)"))
		return;		/* "... refused", "... failed" */
	if (a->n < 16) {
		a->from[a->n] = parse_state(x);
		a->to[a->n] = parse_state(y);
		a->n++;
	}
}

static struct vfiomig_ctx *new_ctx(struct arcs *a)
{
	struct vfiomig_ctx *ctx;

	ck_assert_int_eq(vfiomig_ctx_new(&ctx), 0);
	vfiomig_ctx_set_log_fn(ctx, log_fn, a);
	vfiomig_ctx_set_log_priority(ctx, LOG_DEBUG);
	return ctx;
}

/* Through the public entry point (which also probes the device). */
static struct vfiomig_dev *dev_open(struct vfiomig_ctx *ctx, const char *spec)
{
	struct vfiomig_dev *dev = NULL;
	int r = vfiomig_dev_open(ctx, spec, &dev);

	ck_assert_msg(r == 0, "open %s: %d %s", spec, r, vfiomig_ctx_get_error(ctx));
	return dev;
}

/* The mock's constructor alone: no probe, so fail= counts start at 0. */
static struct vfiomig_dev *mock_open(struct vfiomig_ctx *ctx, const char *params)
{
	struct vfiomig_dev *dev = NULL;
	int r = vfiomig_mock_open(ctx, params, &dev);

	ck_assert_msg(r == 0, "mock_open %s: %d %s", params, r,
		      vfiomig_ctx_get_error(ctx));
	return dev;
}

/*
 * VFIO_DEVICE_FEATURE with an explicit argsz; payload copied both ways.
 * The buffer is struct vfio_device_feature (argsz, flags) + data[].
 */
static int feature_raw(struct vfiomig_dev *dev, uint32_t argsz, uint32_t flags,
		       void *payload, size_t len)
{
	uint64_t b[1 + 4];
	int r;

	ck_assert_uint_le(len, sizeof(b) - 8);
	memset(b, 0, sizeof(b));
	memcpy((uint8_t *)b, &argsz, 4);
	memcpy((uint8_t *)b + 4, &flags, 4);
	if (len)
		memcpy(b + 1, payload, len);
	r = dev->transport->device_ioctl(dev, VFIO_DEVICE_FEATURE, b);
	if (len)
		memcpy(payload, b + 1, len);
	return r;
}

static int feature(struct vfiomig_dev *dev, uint32_t flags, void *payload,
		   size_t len)
{
	return feature_raw(dev, 8 + len, flags, payload, len);
}

static int set_state(struct vfiomig_dev *dev, uint32_t target, int *fd)
{
	struct vfio_device_feature_mig_state mig = {
		.device_state = target, .data_fd = 12345,
	};
	int r = feature(dev, FSET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &mig,
			sizeof(mig));

	ck_assert_uint_eq(mig.device_state, target);	/* echoed, even on error */
	*fd = r ? -1 : mig.data_fd;
	return r;
}

/* SET that must not return a data fd. */
static int set_nofd(struct vfiomig_dev *dev, uint32_t target)
{
	int fd, r = set_state(dev, target, &fd);

	ck_assert_int_eq(fd, -1);
	return r;
}

static enum vfiomig_state get_state(struct vfiomig_dev *dev)
{
	struct vfio_device_feature_mig_state mig = { .device_state = 99, .data_fd = 7 };

	ck_assert_int_eq(feature(dev, FGET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
				 &mig, sizeof(mig)), 0);
	ck_assert_int_eq(mig.data_fd, -1);
	return mig.device_state;
}

static int reset(struct vfiomig_dev *dev)
{
	return dev->transport->device_ioctl(dev, VFIO_DEVICE_RESET, NULL);
}

static int precopy_info(struct vfiomig_dev *dev, int fd, uint64_t *initial,
			uint64_t *dirty)
{
	struct vfio_precopy_info info = { .argsz = sizeof(info) };
	int r = dev->transport->data_ioctl(dev, fd, VFIO_MIG_GET_PRECOPY_INFO, &info);

	if (!r) {
		*initial = info.initial_bytes;
		*dirty = info.dirty_bytes;
	}
	return r;
}

struct blob {
	uint8_t *p;
	size_t len, cap;
};

static void blob_add(struct blob *b, const void *data, size_t len)
{
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2 + 4096;
		b->p = realloc(b->p, b->cap);
		ck_assert_ptr_nonnull(b->p);
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

/* Library reads until EOF (0) or an error such as -ENOMSG. */
static int drain(struct vfiomig_dev *dev, int fd, struct blob *b, size_t chunk)
{
	static uint8_t tmp[1 << 16];

	if (chunk > sizeof(tmp))
		chunk = sizeof(tmp);
	for (;;) {
		ssize_t r = dev->transport->data_read(dev, fd, tmp, chunk);

		if (r <= 0)
			return (int)r;
		blob_add(b, tmp, (size_t)r);
	}
}

/* STOP -> STOP_COPY, read it all, STOP_COPY -> STOP. */
static void save_plain(struct vfiomig_dev *dev, struct blob *b)
{
	int fd;

	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(drain(dev, fd, b, 1 << 16), 0);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	close(fd);
}

/*
 * -> RESUMING, library writes of at most @chunk bytes, RESUMING -> STOP.
 * Returns the first write error, else the result of RESUMING -> STOP.  Like
 * mtty (found by tests/kernel's comparison), a bad header fails its write
 * with EFAULT though the bytes are taken, and a write past the end fails
 * with ENOMEM and takes nothing.
 */
static int load(struct vfiomig_dev *dev, const uint8_t *p, size_t len,
		size_t chunk)
{
	size_t off = 0;
	int fd, r, werr = 0;

	ck_assert_int_eq(set_state(dev, S(RESUMING), &fd), 0);
	ck_assert_int_ge(fd, 0);
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;
		ssize_t w = dev->transport->data_write(dev, fd, p + off, n);

		if (w == -ENOMEM) {
			werr = werr ? werr : -ENOMEM;
			break;
		}
		if (w == -EFAULT) {
			werr = werr ? werr : -EFAULT;
			w = (ssize_t)n;
		}
		ck_assert_int_gt(w, 0);
		off += (size_t)w;
	}
	r = set_nofd(dev, S(STOP));
	close(fd);
	return werr ? werr : r;
}

/* ---- state machine against the reference's section 3.2 tables ---- */

#define F_SC VFIOMIG_MIG_STOP_COPY
#define F_P2P (VFIOMIG_MIG_STOP_COPY | VFIOMIG_MIG_P2P)
#define F_PC (VFIOMIG_MIG_STOP_COPY | VFIOMIG_MIG_PRE_COPY)
#define F_ALL (VFIOMIG_MIG_STOP_COPY | VFIOMIG_MIG_P2P | VFIOMIG_MIG_PRE_COPY)

/* Paths as the reference writes them; "EINVAL" where refused. */
static const struct row {
	uint32_t flags;
	const char *from, *to, *path;
} rows[] = {
	/* STOP_COPY only */
	{ F_SC, "R", "S", "S" }, { F_SC, "R", "SC", "S>SC" },
	{ F_SC, "R", "RES", "S>RES" }, { F_SC, "S", "R", "R" },
	{ F_SC, "S", "SC", "SC" }, { F_SC, "S", "RES", "RES" },
	{ F_SC, "SC", "R", "S>R" }, { F_SC, "SC", "S", "S" },
	{ F_SC, "SC", "RES", "S>RES" }, { F_SC, "RES", "R", "S>R" },
	{ F_SC, "RES", "S", "S" }, { F_SC, "RES", "SC", "S>SC" },
	{ F_SC, "R", "RP", "EINVAL" }, { F_SC, "S", "PC", "EINVAL" },
	{ F_SC, "R", "PCP", "EINVAL" },
	/* STOP_COPY | P2P */
	{ F_P2P, "R", "RP", "RP" }, { F_P2P, "R", "S", "RP>S" },
	{ F_P2P, "R", "SC", "RP>S>SC" }, { F_P2P, "R", "RES", "RP>S>RES" },
	{ F_P2P, "RP", "R", "R" }, { F_P2P, "RP", "S", "S" },
	{ F_P2P, "RP", "SC", "S>SC" }, { F_P2P, "RP", "RES", "S>RES" },
	{ F_P2P, "S", "R", "RP>R" }, { F_P2P, "S", "RP", "RP" },
	{ F_P2P, "S", "SC", "SC" }, { F_P2P, "S", "RES", "RES" },
	{ F_P2P, "SC", "R", "S>RP>R" }, { F_P2P, "SC", "RP", "S>RP" },
	{ F_P2P, "SC", "S", "S" }, { F_P2P, "SC", "RES", "S>RES" },
	{ F_P2P, "RES", "R", "S>RP>R" }, { F_P2P, "RES", "RP", "S>RP" },
	{ F_P2P, "RES", "S", "S" }, { F_P2P, "RES", "SC", "S>SC" },
	{ F_P2P, "R", "PC", "EINVAL" }, { F_P2P, "RP", "PCP", "EINVAL" },
	/* STOP_COPY | PRE_COPY (hisi_acc) */
	{ F_PC, "R", "S", "S" }, { F_PC, "R", "SC", "S>SC" },
	{ F_PC, "R", "RES", "S>RES" }, { F_PC, "R", "PC", "PC" },
	{ F_PC, "S", "R", "R" }, { F_PC, "S", "SC", "SC" },
	{ F_PC, "S", "RES", "RES" }, { F_PC, "S", "PC", "R>PC" },
	{ F_PC, "SC", "R", "S>R" }, { F_PC, "SC", "S", "S" },
	{ F_PC, "SC", "RES", "S>RES" }, { F_PC, "SC", "PC", "EINVAL" },
	{ F_PC, "RES", "R", "S>R" }, { F_PC, "RES", "S", "S" },
	{ F_PC, "RES", "SC", "S>SC" }, { F_PC, "RES", "PC", "S>R>PC" },
	{ F_PC, "PC", "R", "R" }, { F_PC, "PC", "S", "R>S" },
	{ F_PC, "PC", "SC", "SC" }, { F_PC, "PC", "RES", "R>S>RES" },
	{ F_PC, "R", "RP", "EINVAL" }, { F_PC, "PC", "PCP", "EINVAL" },
	/* STOP_COPY | P2P | PRE_COPY */
	{ F_ALL, "R", "RP", "RP" }, { F_ALL, "R", "S", "RP>S" },
	{ F_ALL, "R", "SC", "RP>S>SC" }, { F_ALL, "R", "RES", "RP>S>RES" },
	{ F_ALL, "R", "PC", "PC" }, { F_ALL, "R", "PCP", "RP>PCP" },
	{ F_ALL, "RP", "R", "R" }, { F_ALL, "RP", "S", "S" },
	{ F_ALL, "RP", "SC", "S>SC" }, { F_ALL, "RP", "RES", "S>RES" },
	{ F_ALL, "RP", "PC", "R>PC" }, { F_ALL, "RP", "PCP", "PCP" },
	{ F_ALL, "S", "R", "RP>R" }, { F_ALL, "S", "RP", "RP" },
	{ F_ALL, "S", "SC", "SC" }, { F_ALL, "S", "RES", "RES" },
	{ F_ALL, "S", "PC", "RP>R>PC" }, { F_ALL, "S", "PCP", "RP>PCP" },
	{ F_ALL, "SC", "R", "S>RP>R" }, { F_ALL, "SC", "RP", "S>RP" },
	{ F_ALL, "SC", "S", "S" }, { F_ALL, "SC", "RES", "S>RES" },
	{ F_ALL, "SC", "PC", "EINVAL" }, { F_ALL, "SC", "PCP", "EINVAL" },
	{ F_ALL, "RES", "R", "S>RP>R" }, { F_ALL, "RES", "RP", "S>RP" },
	{ F_ALL, "RES", "S", "S" }, { F_ALL, "RES", "SC", "S>SC" },
	{ F_ALL, "RES", "PC", "S>RP>R>PC" }, { F_ALL, "RES", "PCP", "S>RP>PCP" },
	{ F_ALL, "PC", "R", "R" }, { F_ALL, "PC", "RP", "R>RP" },
	{ F_ALL, "PC", "S", "R>RP>S" }, { F_ALL, "PC", "SC", "PCP>SC" },
	{ F_ALL, "PC", "RES", "R>RP>S>RES" }, { F_ALL, "PC", "PCP", "PCP" },
	{ F_ALL, "PCP", "R", "RP>R" }, { F_ALL, "PCP", "RP", "RP" },
	{ F_ALL, "PCP", "S", "RP>S" }, { F_ALL, "PCP", "SC", "SC" },
	{ F_ALL, "PCP", "RES", "RP>S>RES" }, { F_ALL, "PCP", "PC", "PC" },
	/* same state: a no-op */
	{ F_ALL, "R", "R", "" }, { F_ALL, "SC", "SC", "" },
	{ F_ALL, "RES", "RES", "" }, { F_ALL, "PCP", "PCP", "" },
	{ F_SC, "S", "S", "" },
};

static enum vfiomig_state abbrev(const char *s)
{
	static const struct { const char *a; enum vfiomig_state s; } t[] = {
		{ "R", S(RUNNING) }, { "RP", S(RUNNING_P2P) }, { "S", S(STOP) },
		{ "SC", S(STOP_COPY) }, { "RES", S(RESUMING) },
		{ "PC", S(PRE_COPY) }, { "PCP", S(PRE_COPY_P2P) },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		if (!strcmp(s, t[i].a))
			return t[i].s;
	ck_abort_msg("bad abbreviation %s", s);
	return S(ERROR);
}

static int parse_path(const char *p, enum vfiomig_state *out)
{
	char buf[64], *save = NULL;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", p);
	for (char *t = strtok_r(buf, ">", &save); t; t = strtok_r(NULL, ">", &save))
		out[n++] = abbrev(t);
	return n;
}

static const char *flags_spec(uint32_t f)
{
	switch (f) {
	case F_SC: return "stop_copy";
	case F_P2P: return "stop_copy+p2p";
	case F_PC: return "stop_copy+pre_copy";
	default: return "stop_copy+p2p+pre_copy";
	}
}

static bool opens_fd(enum vfiomig_state a, enum vfiomig_state b)
{
	return (a == S(STOP) && b == S(STOP_COPY)) ||
	       (a == S(RUNNING) && b == S(PRE_COPY)) ||
	       (a == S(RUNNING_P2P) && b == S(PRE_COPY_P2P)) ||
	       (a == S(STOP) && b == S(RESUMING));
}

/* SETs reach() makes. */
static int reach_sets(enum vfiomig_state from)
{
	return from == S(RUNNING) ? 0 : from == S(RESUMING) ? 3 : 1;
}

/*
 * Put a fresh mock in @from.  RESUMING gets the device's own stream
 * written, so that RESUMING -> STOP validates (the mock checks the data
 * there, like mtty).
 */
static void reach(struct vfiomig_dev *dev, enum vfiomig_state from)
{
	struct blob b = { 0 };
	int fd;

	if (from == S(RUNNING))
		return;
	if (from == S(RESUMING)) {
		ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), 0);
		ck_assert_int_eq(drain(dev, fd, &b, 65536), 0);
		close(fd);
		ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	}
	ck_assert_int_eq(set_state(dev, from, &fd), 0);
	ck_assert_int_eq(get_state(dev), from);
	if (b.len) {
		ck_assert_int_eq(dev->transport->data_write(dev, fd, b.p, b.len), b.len);
		free(b.p);
	}
	if (fd >= 0)
		close(fd);
}

START_TEST(test_paths)
{
	const struct row *row = &rows[_i];
	enum vfiomig_state from = abbrev(row->from), to = abbrev(row->to);
	enum vfiomig_state path[8];
	bool refused = !strcmp(row->path, "EINVAL");
	int n = refused ? 0 : parse_path(row->path, path);
	struct arcs a = { .n = 0 };
	struct vfiomig_ctx *ctx = new_ctx(&a);
	struct vfiomig_dev *dev;
	char spec[160];
	int fd, r, fds = count_fds();

	/* 1. the whole request: result, arcs walked, final state, fd */
	snprintf(spec, sizeof(spec), "p,flags=%s", flags_spec(row->flags));
	dev = mock_open(ctx, spec);
	reach(dev, from);
	a.n = 0;
	r = set_state(dev, to, &fd);
	if (refused) {
		ck_assert_int_eq(r, -EINVAL);
		ck_assert_int_eq(fd, -1);
		ck_assert_int_eq(a.n, 0);
		ck_assert_int_eq(get_state(dev), from);
	} else {
		ck_assert_msg(r == 0, "%s -> %s: %d", row->from, row->to, r);
		ck_assert_int_eq(a.n, n);
		for (int i = 0; i < n; i++) {
			ck_assert_int_eq(a.from[i], i ? path[i - 1] : from);
			ck_assert_int_eq(a.to[i], path[i]);
		}
		ck_assert_int_eq(get_state(dev), to);
		if (n && opens_fd(n > 1 ? path[n - 2] : from, to)) {
			int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);

			ck_assert_int_ge(fd, 0);
			ck_assert_int_eq(fl & O_ACCMODE,
					 to == S(RESUMING) ? O_WRONLY : O_RDONLY);
			ck_assert(fdfl & FD_CLOEXEC);
			ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), -1);
			ck_assert_int_eq(errno, ESPIPE);
			close(fd);
		} else {
			ck_assert_int_eq(fd, -1);
		}
	}
	vfiomig_dev_unref(dev);

	/* 2. failing on the last arc strands the device on the path */
	snprintf(spec, sizeof(spec), "q,flags=%s,fail=set:%d:EIO:mid",
		 flags_spec(row->flags), reach_sets(from) + 1);
	dev = mock_open(ctx, spec);
	reach(dev, from);
	r = set_state(dev, to, &fd);
	ck_assert_int_eq(r, -EIO);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_eq(get_state(dev), n > 1 ? path[n - 2] : from);
	vfiomig_dev_unref(dev);

	/* 3. LEAVE=error: ERROR, and only a reset leaves it */
	snprintf(spec, sizeof(spec), "e,flags=%s,fail=set:%d:EIO:error",
		 flags_spec(row->flags), reach_sets(from) + 1);
	dev = mock_open(ctx, spec);
	reach(dev, from);
	ck_assert_int_eq(set_state(dev, to, &fd), -EIO);
	ck_assert_int_eq(get_state(dev), S(ERROR));
	ck_assert_int_eq(set_nofd(dev, from), -EINVAL);
	ck_assert_int_eq(get_state(dev), S(ERROR));
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_int_eq(get_state(dev), S(RUNNING));
	vfiomig_dev_unref(dev);

	vfiomig_ctx_unref(ctx);
	ck_assert_int_eq(count_fds(), fds);
}
END_TEST

START_TEST(test_bad_targets)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "t");
	const uint32_t bad[] = { S(ERROR), 8, 100, 0xffffffffu };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_int_eq(set_nofd(dev, bad[i]), -EINVAL);
		ck_assert_int_eq(get_state(dev), S(RUNNING));
	}
	/* From ERROR, every SET to another state is EINVAL.  Like the
	 * drivers' "while (cur != target)" loop, ERROR -> ERROR is a no-op. */
	vfiomig_dev_unref(dev);
	dev = mock_open(ctx, "t,state=ERROR");
	ck_assert_int_eq(get_state(dev), S(ERROR));
	for (uint32_t s = S(STOP); s < VFIOMIG_STATE_COUNT; s++) {
		ck_assert_int_eq(set_nofd(dev, s), -EINVAL);
		ck_assert_int_eq(get_state(dev), S(ERROR));
	}
	ck_assert_int_eq(set_nofd(dev, S(ERROR)), 0);
	ck_assert_int_eq(get_state(dev), S(ERROR));
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_initial_states)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev;

	dev = mock_open(ctx, "i,state=stop");
	ck_assert_int_eq(get_state(dev), S(STOP));
	vfiomig_dev_unref(dev);
	dev = mock_open(ctx, "i,state=running-p2p");
	ck_assert_int_eq(get_state(dev), S(RUNNING_P2P));
	vfiomig_dev_unref(dev);
	dev = mock_open(ctx, "i,state=RUNNING,flags=stop_copy");
	ck_assert_int_eq(get_state(dev), S(RUNNING));
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- VFIO_DEVICE_FEATURE decoding (reference 1.2) ---- */

START_TEST(test_feature_core)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "f,flags=stop_copy+p2p");
	struct vfio_device_feature_migration mig = { 0 };
	struct vfio_device_feature_mig_state st = { 0 };
	uint32_t M = VFIO_DEVICE_FEATURE_MIGRATION;
	uint32_t D = VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;

	/* argsz smaller than the header */
	ck_assert_int_eq(feature_raw(dev, 0, FGET | M, &mig, 8), -EINVAL);
	ck_assert_int_eq(feature_raw(dev, 7, FGET | M, &mig, 8), -EINVAL);
	/* unknown flag bits */
	ck_assert_int_eq(feature(dev, FGET | M | (1u << 19), &mig, 8), -EINVAL);
	ck_assert_int_eq(feature(dev, FGET | M | (1u << 31), &mig, 8), -EINVAL);
	/* GET and SET together without PROBE */
	ck_assert_int_eq(feature(dev, FGET | FSET | D, &st, 8), -EINVAL);
	/* neither GET nor SET without PROBE */
	ck_assert_int_eq(feature(dev, M, &mig, 8), -EINVAL);
	/* payload below minsz */
	ck_assert_int_eq(feature_raw(dev, 8, FGET | M, &mig, 8), -EINVAL);
	ck_assert_int_eq(feature_raw(dev, 15, FGET | D, &st, 8), -EINVAL);
	ck_assert_int_eq(feature_raw(dev, 15, FSET | D, &st, 8), -EINVAL);
	/* MIGRATION is GET only */
	ck_assert_int_eq(feature(dev, FSET | M, &mig, 8), -EINVAL);
	ck_assert_int_eq(feature(dev, FGET | M, &mig, 8), 0);
	ck_assert_uint_eq(mig.flags, VFIOMIG_MIG_STOP_COPY | VFIOMIG_MIG_P2P);
	/* a larger argsz is fine */
	ck_assert_int_eq(feature_raw(dev, 8 + 32, FGET | M, &mig, 8), 0);

	/* PROBE: no payload needed; GET/SET bits must be supported */
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | M, NULL, 0), 0);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FGET | M, NULL, 0), 0);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FSET | M, NULL, 0), -EINVAL);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FGET | FSET | D, NULL, 0), 0);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FSET | D, NULL, 0), 0);
	ck_assert_int_eq(feature_raw(dev, 7, FPROBE | M, NULL, 0), -EINVAL);

	/* features the device lacks, or indexes nobody knows */
	{
		const uint32_t absent[] = { 0, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 0xffff };

		for (size_t i = 0; i < ARRAY_SIZE(absent); i++) {
			uint64_t buf[4] = { 0 };

			ck_assert_int_eq(feature(dev, FGET | absent[i], buf, 32), -ENOTTY);
			ck_assert_int_eq(feature(dev, FSET | absent[i], buf, 32), -ENOTTY);
			ck_assert_int_eq(feature_raw(dev, 8, FPROBE | absent[i], NULL, 0),
					 -ENOTTY);
		}
	}

	/* GET of the state always gives data_fd -1 */
	st.device_state = 77;
	st.data_fd = 5;
	ck_assert_int_eq(feature(dev, FGET | D, &st, 8), 0);
	ck_assert_uint_eq(st.device_state, S(RUNNING));
	ck_assert_int_eq(st.data_fd, -1);

	/* other device ioctls */
	ck_assert_int_eq(dev->transport->device_ioctl(dev, VFIO_DEVICE_GET_REGION_INFO,
						&st), -ENOTTY);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_get_info)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "g");
	struct {
		struct vfio_device_info info;
		uint32_t extra[2];
	} b;

	memset(&b, 0xa5, sizeof(b));
	b.info.argsz = 15;
	ck_assert_int_eq(dev->transport->device_ioctl(dev, VFIO_DEVICE_GET_INFO, &b), -EINVAL);
	b.info.argsz = 16;
	ck_assert_int_eq(dev->transport->device_ioctl(dev, VFIO_DEVICE_GET_INFO, &b), 0);
	ck_assert_uint_eq(b.info.argsz, 16);
	ck_assert_uint_eq(b.info.flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
	ck_assert_uint_eq(b.info.num_regions, 9);
	ck_assert_uint_eq(b.info.num_irqs, 5);
	ck_assert_uint_eq(b.info.cap_offset, 0xa5a5a5a5u);	/* 16 bytes only */
	vfiomig_dev_unref(dev);

	dev = mock_open(ctx, "g,resetflag=0");
	b.info.argsz = sizeof(b.info);
	ck_assert_int_eq(dev->transport->device_ioctl(dev, VFIO_DEVICE_GET_INFO, &b), 0);
	ck_assert_uint_eq(b.info.flags, VFIO_DEVICE_FLAGS_PCI);
	/* mtty: no FLAGS_RESET, but reset works */
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_int_eq(get_state(dev), S(RUNNING));
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_data_size)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "d,size=200K,state=STOP");
	struct vfio_device_feature_mig_data_size ds = { 0 };
	uint32_t F = VFIO_DEVICE_FEATURE_MIG_DATA_SIZE;
	struct blob b = { 0 };
	uint64_t npages = 4, size = 200 << 10;

	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FGET | F, NULL, 0), 0);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FSET | F, NULL, 0), -EINVAL);
	ck_assert_int_eq(feature_raw(dev, 15, FGET | F, &ds, 8), -EINVAL);
	ck_assert_int_eq(feature(dev, FGET | F, &ds, 8), 0);
	ck_assert_uint_eq(ds.stop_copy_length, 40 + npages * 24 + size + 24);
	/* exact: the plain save has that length */
	save_plain(dev, &b);
	ck_assert_uint_eq(b.len, ds.stop_copy_length);
	/* valid in any state */
	ck_assert_int_eq(set_nofd(dev, S(RUNNING)), 0);
	ck_assert_int_eq(feature(dev, FGET | F, &ds, 8), 0);
	free(b.p);
	vfiomig_dev_unref(dev);

	dev = mock_open(ctx, "d,datasize=0");
	ck_assert_int_eq(feature(dev, FGET | F, &ds, 8), -ENOTTY);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | F, NULL, 0), -ENOTTY);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_dirty_logging)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "l,dirtylog=1");
	struct vfio_device_feature_dma_logging_range r[300];
	struct vfio_device_feature_dma_logging_control c = {
		.page_size = 4096, .num_ranges = 2, .ranges = (uintptr_t)r,
	};
	uint64_t bitmap[4] = { 0 };
	struct vfio_device_feature_dma_logging_report rep = {
		.iova = 0, .length = 1 << 20, .page_size = 4096,
		.bitmap = (uintptr_t)bitmap,
	};
	uint32_t START = VFIO_DEVICE_FEATURE_DMA_LOGGING_START;
	uint32_t STOP = VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP;
	uint32_t REPORT = VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT;

	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FSET | START, NULL, 0), 0);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FGET | START, NULL, 0), -EINVAL);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FSET | STOP, NULL, 0), 0);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FGET | REPORT, NULL, 0), 0);

	r[0].iova = 0;
	r[0].length = 1 << 20;
	r[1].iova = 1ull << 32;
	r[1].length = 1 << 20;
	ck_assert_int_eq(feature(dev, FSET | START, &c, sizeof(c)), 0);
	ck_assert_uint_eq(c.page_size, 4096);
	ck_assert_int_eq(feature(dev, FGET | REPORT, &rep, sizeof(rep)), 0);
	ck_assert_uint_eq(bitmap[0] | bitmap[1] | bitmap[2] | bitmap[3], 0);
	rep.page_size = 1000;
	ck_assert_int_eq(feature(dev, FGET | REPORT, &rep, sizeof(rep)), -EINVAL);
	rep.page_size = 2048;
	ck_assert_int_eq(feature(dev, FGET | REPORT, &rep, sizeof(rep)), -EINVAL);
	rep.page_size = 4096;
	rep.iova = UINT64_MAX - 4095;
	ck_assert_int_eq(feature(dev, FGET | REPORT, &rep, sizeof(rep)), -EOVERFLOW);
	ck_assert_int_eq(feature_raw(dev, 8, FSET | STOP, NULL, 0), 0);

	c.num_ranges = 0;
	ck_assert_int_eq(feature(dev, FSET | START, &c, sizeof(c)), -EINVAL);
	c.num_ranges = 257;
	ck_assert_int_eq(feature(dev, FSET | START, &c, sizeof(c)), -E2BIG);
	c.num_ranges = 2;
	r[1].iova = 4095;	/* misaligned */
	ck_assert_int_eq(feature(dev, FSET | START, &c, sizeof(c)), -EINVAL);
	r[1].iova = 1 << 19;	/* overlaps r[0] */
	ck_assert_int_eq(feature(dev, FSET | START, &c, sizeof(c)), -EINVAL);
	r[1].iova = UINT64_MAX - 4095;	/* wraps */
	r[1].length = 8192;
	ck_assert_int_eq(feature(dev, FSET | START, &c, sizeof(c)), -EOVERFLOW);
	ck_assert_int_eq(feature_raw(dev, 8 + 23, FSET | START, &c, sizeof(c)), -EINVAL);
	vfiomig_dev_unref(dev);

	dev = mock_open(ctx, "l");	/* default: no log_ops */
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FSET | START, NULL, 0), -ENOTTY);
	ck_assert_int_eq(feature(dev, FSET | START, &c, sizeof(c)), -ENOTTY);
	ck_assert_int_eq(feature(dev, FGET | REPORT, &rep, sizeof(rep)), -ENOTTY);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_infov2)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "v,infov2=1");
	uint32_t V2 = VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2;
	struct vfio_precopy_info info = { .argsz = sizeof(info), .flags = 0x55 };
	int fd;

	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	/* before the opt-in: flags echo what came in */
	ck_assert_int_eq(dev->transport->data_ioctl(dev, fd, VFIO_MIG_GET_PRECOPY_INFO, &info), 0);
	ck_assert_uint_eq(info.flags, 0x55);
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | FSET | V2, NULL, 0), 0);
	ck_assert_int_eq(feature_raw(dev, 8, FGET | V2, NULL, 0), -EINVAL);
	ck_assert_int_eq(feature_raw(dev, 8, FSET | V2, NULL, 0), 0);
	info.flags = 0x55;
	ck_assert_int_eq(dev->transport->data_ioctl(dev, fd, VFIO_MIG_GET_PRECOPY_INFO, &info), 0);
	ck_assert_uint_eq(info.flags, 0);
	close(fd);
	vfiomig_dev_unref(dev);

	dev = mock_open(ctx, "v,infov2=1,flags=stop_copy+p2p");
	ck_assert_int_eq(feature_raw(dev, 8, FSET | V2, NULL, 0), -EINVAL);
	vfiomig_dev_unref(dev);
	dev = mock_open(ctx, "v");
	ck_assert_int_eq(feature_raw(dev, 8, FSET | V2, NULL, 0), -ENOTTY);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- reset and ended sessions ---- */

START_TEST(test_reset)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "r,size=4M");
	int fds = count_fds(), fd, fd2, wfd;
	uint64_t ib, db;
	uint8_t buf[64];

	/* a pre-copy session dies with the reset */
	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(dev->transport->data_read(dev, fd, buf, sizeof(buf)), sizeof(buf));
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_int_eq(get_state(dev), S(RUNNING));
	ck_assert_int_eq(dev->transport->data_read(dev, fd, buf, sizeof(buf)), -ENODEV);
	/* the kernel checks the device state before the file */
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), -EINVAL);
	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd2), 0);
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), -ENODEV);
	ck_assert_int_eq(precopy_info(dev, fd2, &ib, &db), 0);
	close(fd2);
	/* a direct read sees a plain pipe: whatever was queued, then EOF */
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 0);
	close(fd);

	/* from STOP_COPY and RESUMING */
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), 0);
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_int_eq(get_state(dev), S(RUNNING));
	ck_assert_int_eq(dev->transport->data_read(dev, fd, buf, sizeof(buf)), -ENODEV);
	close(fd);
	ck_assert_int_eq(set_state(dev, S(RESUMING), &wfd), 0);
	ck_assert_int_eq(dev->transport->data_write(dev, wfd, "VFIOMOCK", 8), 8);
	ck_assert_int_eq(reset(dev), 0);
	ck_assert_int_eq(get_state(dev), S(RUNNING));
	ck_assert_int_eq(dev->transport->data_write(dev, wfd, "x", 1), -ENODEV);
	close(wfd);
	/* the device content survives a reset: a save still loads */
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
	ck_assert_int_eq(count_fds(), fds - 1);	/* the placeholder */
}
END_TEST

START_TEST(test_terminating_arcs)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "t,size=1M");
	uint8_t buf[16];
	uint64_t ib, db;
	int fd;

	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), 0);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	ck_assert_int_eq(dev->transport->data_read(dev, fd, buf, sizeof(buf)), -ENODEV);
	close(fd);

	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(set_nofd(dev, S(RUNNING)), 0);
	ck_assert_int_eq(dev->transport->data_read(dev, fd, buf, sizeof(buf)), -ENODEV);
	close(fd);

	ck_assert_int_eq(set_state(dev, S(PRE_COPY_P2P), &fd), 0);
	ck_assert_int_eq(set_nofd(dev, S(PRE_COPY)), 0);	/* same fd */
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
	ck_assert_int_eq(set_nofd(dev, S(PRE_COPY_P2P)), 0);
	ck_assert_int_eq(set_nofd(dev, S(RUNNING_P2P)), 0);
	ck_assert_int_eq(dev->transport->data_read(dev, fd, buf, sizeof(buf)), -ENODEV);
	close(fd);

	/* a reader that closes early must not hurt (SIGPIPE stays default) */
	ck_assert_ptr_eq(signal(SIGPIPE, SIG_DFL), SIG_DFL);
	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), 0);
	ck_assert_int_eq(dev->transport->data_read(dev, fd, buf, sizeof(buf)), sizeof(buf));
	close(fd);
	usleep(20000);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- pre-copy ---- */

static void precopy_session(const char *spec, bool eom_zero)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, spec);
	struct vfiomig_dev *dst = mock_open(ctx, "dst,size=256K");
	uint64_t initial = 40 + 4 * (24 + PAGE), ib, db;
	struct blob b = { 0 };
	int fd, fl;
	uint8_t c;

	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
	ck_assert_uint_eq(ib, initial);
	ck_assert_uint_eq(db, 0);
	ck_assert_int_eq(drain(dev, fd, &b, 1000), eom_zero ? 0 : -ENOMSG);
	ck_assert_uint_eq(b.len, initial);
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
	ck_assert_uint_eq(ib, 0);
	ck_assert_uint_eq(db, 0);
	/* the temporary end persists */
	ck_assert_int_eq(dev->transport->data_read(dev, fd, &c, 1), eom_zero ? 0 : -ENOMSG);
	/* a non-blocking direct reader gets EAGAIN, like mlx5 */
	fl = fcntl(fd, F_GETFL);
	ck_assert_int_eq(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
	ck_assert_int_eq(read(fd, &c, 1), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(fcntl(fd, F_SETFL, fl), 0);

	/* the same fd carries the rest; its EOF is real */
	ck_assert_int_eq(set_nofd(dev, S(STOP_COPY)), 0);
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), -EINVAL);
	ck_assert_int_eq(drain(dev, fd, &b, 1000), 0);
	ck_assert_uint_eq(b.len, initial + 24);	/* dirty=0: just the end */
	ck_assert_int_eq(dev->transport->data_read(dev, fd, &c, 1), 0);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	close(fd);

	ck_assert_int_eq(load(dst, b.p, b.len, 4096), 0);
	ck_assert_int_eq(get_state(dst), S(STOP));
	free(b.p);
	vfiomig_dev_unref(dst);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}

START_TEST(test_precopy_enomsg)
{
	precopy_session("pc,size=256K", false);
}
END_TEST

START_TEST(test_precopy_zero)
{
	precopy_session("pc,size=256K,eom=zero", true);
}
END_TEST

START_TEST(test_dirty_rounds)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "dr,size=1M,dirty=100K");
	struct vfiomig_dev *dst = mock_open(ctx, "other,size=1M");
	uint64_t initial = 40 + 16 * (24 + PAGE), round = 2 * (24 + PAGE), ib, db;
	struct blob b = { 0 }, s1 = { 0 }, s2 = { 0 };
	uint8_t tmp[1000];
	int fd;

	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	/* not drained: no new round, however often it is asked */
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
	ck_assert_uint_eq(ib, initial);
	ck_assert_uint_eq(db, 0);
	ck_assert_int_eq(dev->transport->data_read(dev, fd, tmp, 1000), 1000);
	blob_add(&b, tmp, 1000);
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
	ck_assert_uint_eq(ib, initial - 1000);
	ck_assert_uint_eq(db, 0);
	ck_assert_int_eq(drain(dev, fd, &b, 65536), -ENOMSG);
	ck_assert_uint_eq(b.len, initial);

	for (int i = 0; i < 3; i++) {
		size_t before = b.len;

		/* drained: this call dirties 2 pages (100K rounds up) */
		ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
		ck_assert_uint_eq(ib, 0);
		ck_assert_uint_eq(db, round);
		ck_assert_int_eq(dev->transport->data_read(dev, fd, tmp, 100), 100);
		blob_add(&b, tmp, 100);
		ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
		ck_assert_uint_eq(db, round - 100);
		ck_assert_int_eq(drain(dev, fd, &b, 65536), -ENOMSG);
		ck_assert_uint_eq(b.len - before, round);
	}
	/* PRE_COPY_P2P: no query, no new data */
	ck_assert_int_eq(set_nofd(dev, S(PRE_COPY_P2P)), 0);
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
	ck_assert_uint_eq(db, 0);
	ck_assert_int_eq(drain(dev, fd, &b, 65536), -ENOMSG);
	/* STOP_COPY: the final round and the end segment */
	ck_assert_int_eq(set_nofd(dev, S(STOP_COPY)), 0);
	{
		size_t before = b.len;

		ck_assert_int_eq(drain(dev, fd, &b, 65536), 0);
		ck_assert_uint_eq(b.len - before, round + 24);
	}
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	close(fd);
	ck_assert_uint_eq(b.len, initial + 4 * round + 24);

	/* the loaded device is the saved one, byte for byte */
	ck_assert_int_eq(load(dst, b.p, b.len, 65536), 0);
	save_plain(dev, &s1);
	save_plain(dst, &s2);
	ck_assert_uint_eq(s1.len, s2.len);
	ck_assert_int_eq(memcmp(s1.p, s2.p, s1.len), 0);
	/* and differs from the device's initial image */
	{
		struct vfiomig_dev *fresh = mock_open(ctx, "dr,size=1M");
		struct blob s3 = { 0 };

		ck_assert_int_eq(set_nofd(fresh, S(STOP)), 0);
		save_plain(fresh, &s3);
		ck_assert_uint_eq(s3.len, s1.len);
		ck_assert_int_ne(memcmp(s1.p, s3.p, s1.len), 0);
		free(s3.p);
		vfiomig_dev_unref(fresh);
	}
	free(b.p);
	free(s1.p);
	free(s2.p);
	vfiomig_dev_unref(dst);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_precopy_info_rules)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "pi");
	struct vfio_precopy_info info = { .argsz = 23 };
	int fd, wfd, p[2];

	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(dev->transport->data_ioctl(dev, fd, VFIO_MIG_GET_PRECOPY_INFO, &info), -EINVAL);
	info.argsz = 24;
	ck_assert_int_eq(dev->transport->data_ioctl(dev, fd, VFIO_DEVICE_GET_INFO, &info), -ENOTTY);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(dev->transport->data_ioctl(dev, p[0], VFIO_MIG_GET_PRECOPY_INFO, &info), -ENOTTY);
	close(p[0]);
	close(p[1]);
	ck_assert_int_eq(dev->transport->data_ioctl(dev, -1, VFIO_MIG_GET_PRECOPY_INFO, &info), -EBADF);
	ck_assert_int_eq(set_nofd(dev, S(RUNNING)), 0);
	close(fd);
	ck_assert_int_eq(set_state(dev, S(RESUMING), &wfd), 0);
	ck_assert_int_eq(dev->transport->data_ioctl(dev, wfd, VFIO_MIG_GET_PRECOPY_INFO, &info), -ENOTTY);
	close(wfd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_precopy_no_p2p)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "hisi,flags=stop_copy+pre_copy,size=100K,dirty=1");
	struct blob b = { 0 };
	uint64_t ib, db;
	int fd;

	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(drain(dev, fd, &b, 4096), -ENOMSG);
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
	ck_assert_uint_eq(db, 24 + PAGE);	/* 1 byte dirties a whole page */
	ck_assert_int_eq(set_nofd(dev, S(STOP_COPY)), 0);	/* direct arc */
	ck_assert_int_eq(drain(dev, fd, &b, 4096), 0);
	/* initial + round (page 0) + final round (page 1, the short one) + end */
	ck_assert_uint_eq(b.len, mock_stream_size(100 << 10) + (24 + PAGE) +
				 (24 + (100 << 10) - PAGE));
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	close(fd);
	free(b.p);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* A reader thread, as a VMM's migration thread may be, while the main thread
 * asks PRECOPY_INFO and moves the device on. */
struct reader {
	struct vfiomig_dev *dev;
	int fd;
	struct blob b;
	int result;
	int enomsg;
};

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	static uint8_t tmp[100000];

	for (;;) {
		ssize_t r = rd->dev->transport->data_read(rd->dev, rd->fd, tmp, sizeof(tmp));

		if (r == -ENOMSG) {
			rd->enomsg++;
			sched_yield();
			continue;
		}
		if (r <= 0) {
			rd->result = (int)r;
			return NULL;
		}
		blob_add(&rd->b, tmp, (size_t)r);
	}
}

START_TEST(test_threaded_reader)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "th,size=8M,dirty=1M");
	struct vfiomig_dev *dst = mock_open(ctx, "th2,size=8M");
	struct reader rd = { .dev = dev };
	uint64_t ib, db;
	pthread_t t;
	int rounds = 0;

	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &rd.fd), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, reader_main, &rd), 0);
	while (rounds < 20) {
		ck_assert_int_eq(precopy_info(dev, rd.fd, &ib, &db), 0);
		if (!ib && db)
			rounds++;
		sched_yield();
	}
	ck_assert_int_eq(set_nofd(dev, S(PRE_COPY_P2P)), 0);
	ck_assert_int_eq(precopy_info(dev, rd.fd, &ib, &db), 0);
	ck_assert_int_eq(set_nofd(dev, S(STOP_COPY)), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(rd.result, 0);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	close(rd.fd);
	ck_assert_int_eq(load(dst, rd.b.p, rd.b.len, 1 << 20), 0);
	free(rd.b.p);
	vfiomig_dev_unref(dst);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- save and load ---- */

START_TEST(test_save_load)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *src = mock_open(ctx, "a,size=1M,state=STOP");
	struct vfiomig_dev *dst = mock_open(ctx, "b,size=1M,state=STOP");
	struct vfiomig_dev *big = mock_open(ctx, "c,size=2M,state=STOP");
	struct blob b = { 0 }, again = { 0 };
	int fds = count_fds(), wfd;

	save_plain(src, &b);
	ck_assert_uint_eq(b.len, mock_stream_size(1 << 20));

	/* the same size loads; saving it again yields exactly those bytes */
	ck_assert_int_eq(load(dst, b.p, b.len, 65536), 0);
	ck_assert_int_eq(get_state(dst), S(STOP));
	save_plain(dst, &again);
	ck_assert_uint_eq(again.len, b.len);
	ck_assert_int_eq(memcmp(again.p, b.p, b.len), 0);

	/* a different size: the header's write fails (EFAULT), and
	 * RESUMING -> STOP refuses it (EINVAL), staying RESUMING */
	ck_assert_int_eq(load(big, b.p, b.len, 65536), -EFAULT);
	ck_assert_int_eq(get_state(big), S(RESUMING));
	ck_assert_int_eq(reset(big), 0);

	/* a flipped byte anywhere: header, segment header, content, end */
	{
		const size_t at[] = { 3, 20, 37, 40, 45, 52, 60, 70, 40 + 24 + 999,
				      b.len - 30, b.len - 20, b.len - 10, b.len - 1 };

		for (size_t i = 0; i < ARRAY_SIZE(at); i++) {
			ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
			b.p[at[i]] ^= 0x10;
			ck_assert_msg(load(dst, b.p, b.len, 65536) ==
				      (at[i] < 40 ? -EFAULT : -EINVAL),
				      "flip at %zu accepted", at[i]);
			ck_assert_int_eq(get_state(dst), S(RESUMING));
			b.p[at[i]] ^= 0x10;
			ck_assert_int_eq(reset(dst), 0);
		}
	}

	/* truncated: EINVAL and the fd stays usable; the rest completes it */
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	ck_assert_int_eq(set_state(dst, S(RESUMING), &wfd), 0);
	ck_assert_int_eq(dst->transport->data_write(dst, wfd, b.p, b.len - 10), b.len - 10);
	ck_assert_int_eq(set_nofd(dst, S(STOP)), -EINVAL);
	ck_assert_int_eq(get_state(dst), S(RESUMING));
	ck_assert_int_eq(dst->transport->data_write(dst, wfd, b.p + b.len - 10, 10), 10);
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	ck_assert_int_eq(dst->transport->data_write(dst, wfd, "x", 1), -ENODEV);
	close(wfd);

	/* nothing written; garbage; trailing bytes */
	ck_assert_int_eq(load(dst, b.p, 0, 1), -EINVAL);
	ck_assert_int_eq(reset(dst), 0);
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	ck_assert_int_eq(load(dst, (const uint8_t *)"not a stream at all, sorry........"
			      "..........", 44, 7), -EFAULT);
	ck_assert_int_eq(reset(dst), 0);
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	blob_add(&b, "!", 1);
	ck_assert_int_eq(load(dst, b.p, b.len, 65536), -ENOMEM);
	ck_assert_int_eq(reset(dst), 0);
	b.len--;

	free(b.p);
	free(again.p);
	vfiomig_dev_unref(big);
	vfiomig_dev_unref(dst);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
	ck_assert_int_eq(count_fds(), fds - 3);	/* the three placeholders */
}
END_TEST

START_TEST(test_missing_page)
{
	struct arcs a = { .n = 0 };
	struct vfiomig_ctx *ctx = new_ctx(&a);
	struct vfiomig_dev *dst = mock_open(ctx, "m,size=128K,state=STOP");
	struct mock_emitter e;
	struct mock_piece pcs[16];
	uint32_t gen[2] = { 0 };
	uint8_t buf[4096];
	size_t bytes = 0, n;

	/* a well-formed stream that sends page 0 only */
	mock_emit_init(&e, 42, 128 << 10, 7);
	mock_emit_header(&e);
	mock_emit_pages(&e, 0, 1);
	mock_emit_end(&e);
	{
		static uint8_t out[200000];
		size_t len = 0;

		while ((n = mock_emit_plan(&e, gen, pcs, 16, sizeof(buf), &bytes)))
			len += mock_emit_render(&e, pcs, n, out + len);
		ck_assert_uint_eq(len, 40 + 24 + PAGE + 24);
		ck_assert_int_eq(load(dst, out, len, 65536), -EINVAL);
		ck_assert_msg(strstr(a.last, "page 1 (offset 0x10000) was never sent"),
			      "%s", a.last);
	}
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_one_byte_writes)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *src = mock_open(ctx, "one,size=5000,state=STOP");
	struct vfiomig_dev *dst = mock_open(ctx, "two,size=5000,state=STOP");
	struct blob b = { 0 }, again = { 0 };

	save_plain(src, &b);
	ck_assert_uint_eq(b.len, 40 + 24 + 5000 + 24);
	ck_assert_int_eq(load(dst, b.p, b.len, 1), 0);
	save_plain(dst, &again);
	ck_assert_int_eq(memcmp(again.p, b.p, b.len), 0);
	free(b.p);
	free(again.p);
	vfiomig_dev_unref(dst);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* Direct read() and write() on the fds, as a program that bypasses the
 * library would do them: plain blocking pipes. */
START_TEST(test_direct_io_large)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *src = mock_open(ctx, "big,size=64M,state=STOP");
	struct vfiomig_dev *dst = mock_open(ctx, "big2,size=64M,state=STOP");
	static uint8_t buf[1 << 20];
	uint64_t total = 0;
	int rfd, wfd;
	ssize_t n;

	ck_assert_int_eq(set_state(src, S(STOP_COPY), &rfd), 0);
	ck_assert_int_eq(set_state(dst, S(RESUMING), &wfd), 0);
	while ((n = read(rfd, buf, sizeof(buf))) > 0) {
		ck_assert_int_eq(write(wfd, buf, (size_t)n), n);
		total += (uint64_t)n;
	}
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(total, mock_stream_size(64 << 20));
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	ck_assert_int_eq(set_nofd(src, S(STOP)), 0);
	close(rfd);
	close(wfd);
	vfiomig_dev_unref(dst);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* rate=: the pumps move at most rate bytes a second, both ways. */
static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Threads of this process, other than the caller, that run in @policy. */
static int threads_in_policy(int policy)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		pid_t tid = (pid_t)atoi(e->d_name);

		if (tid > 0 && tid != gettid() && sched_getscheduler(tid) == policy)
			n++;
	}
	closedir(d);
	return n;
}

/* A pump stands for a device's own work: as SCHED_BATCH it never preempts
 * the caller on waking, and the caller's own policy is left alone. */
START_TEST(test_pump_policy)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *src = mock_open(ctx, "pp,size=16M,state=STOP,rate=1M");
	int fd, i;

	ck_assert_int_eq(threads_in_policy(SCHED_BATCH), 0);
	ck_assert_int_eq(set_state(src, S(STOP_COPY), &fd), 0);
	/* The pump takes the policy as it starts; rate= keeps it alive. */
	for (i = 0; i < 200 && threads_in_policy(SCHED_BATCH) == 0; i++)
		usleep(5000);
	ck_assert_int_eq(threads_in_policy(SCHED_BATCH), 1);
	ck_assert_int_eq(sched_getscheduler(0), SCHED_OTHER);
	ck_assert_int_eq(set_nofd(src, S(STOP)), 0);
	ck_assert_int_eq(threads_in_policy(SCHED_BATCH), 0);
	close(fd);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_rate)
{
	static const char *const bad[] = {
		"r,rate=x", "r,rate=65G", "r,rate=-1", "r,rate=4Q", "r,rate=1M,rate=2M",
	};
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *src = mock_open(ctx, "rs,size=1M,state=STOP,rate=4M");
	struct vfiomig_dev *dst = mock_open(ctx, "rd,size=1M,state=STOP,rate=4M");
	struct vfiomig_dev *dev;
	struct blob b = { 0 };
	uint8_t tmp[4096] = { 0 };
	uint64_t t;
	int fd;

	/* 1 MiB at 4 MiB/s takes 0.25 s to save, and 0.25 s to load. */
	t = mono_ns();
	save_plain(src, &b);
	ck_assert_uint_ge(mono_ns() - t, 200000000u);
	ck_assert_uint_eq(b.len, mock_stream_size(1 << 20));
	t = mono_ns();
	ck_assert_int_eq(load(dst, b.p, b.len, 1 << 20), 0);
	ck_assert_uint_ge(mono_ns() - t, 200000000u);
	b.len = 0;
	vfiomig_dev_unref(dst);
	vfiomig_dev_unref(src);

	/* rate=0 is unlimited, and the content is the same as without rate= */
	src = mock_open(ctx, "rs,size=1M,state=STOP,rate=0");
	save_plain(src, &b);
	ck_assert_uint_eq(b.len, mock_stream_size(1 << 20));
	dst = mock_open(ctx, "rd,size=1M,state=STOP");
	ck_assert_int_eq(load(dst, b.p, b.len, 1 << 20), 0);
	vfiomig_dev_unref(dst);
	vfiomig_dev_unref(src);
	free(b.p);

	/* A pump sleeping for its rate stops at once when the session ends:
	 * at 1 KiB/s each 4 KiB chunk takes 4 s. */
	src = mock_open(ctx, "rs,size=1M,state=STOP,rate=1K");
	ck_assert_int_eq(set_state(src, S(STOP_COPY), &fd), 0);
	t = mono_ns();
	ck_assert_int_eq(set_nofd(src, S(STOP)), 0);
	ck_assert_uint_lt(mono_ns() - t, 2000000000u);
	close(fd);
	vfiomig_dev_unref(src);
	dst = mock_open(ctx, "rd,size=1M,state=STOP,rate=1K");
	ck_assert_int_eq(set_state(dst, S(RESUMING), &fd), 0);
	ck_assert_int_eq(write(fd, tmp, sizeof(tmp)), (ssize_t)sizeof(tmp));
	t = mono_ns();
	ck_assert_int_eq(reset(dst), 0);
	ck_assert_uint_lt(mono_ns() - t, 2000000000u);
	close(fd);
	vfiomig_dev_unref(dst);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_msg(vfiomig_mock_open(ctx, bad[i], &dev) == -EINVAL, "%s", bad[i]);
		ck_assert_msg(strstr(vfiomig_ctx_get_error(ctx), "rate"), "'%s': %s", bad[i],
			      vfiomig_ctx_get_error(ctx));
	}
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- fault injection ---- */

START_TEST(test_fail_set)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev;
	int fd;

	dev = mock_open(ctx, "fs,fail=set:2:EIO");
	ck_assert_int_eq(set_nofd(dev, S(RUNNING_P2P)), 0);
	{
		/* the core copies back data_fd = -1 and the requested state */
		struct vfio_device_feature_mig_state mig = {
			.device_state = S(STOP_COPY), .data_fd = 12345,
		};

		ck_assert_int_eq(feature(dev, FSET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
					 &mig, sizeof(mig)), -EIO);
		ck_assert_int_eq(mig.data_fd, -1);
		ck_assert_uint_eq(mig.device_state, S(STOP_COPY));
	}
	ck_assert_int_eq(get_state(dev), S(RUNNING_P2P));
	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), 0);
	ck_assert_int_ge(fd, 0);
	close(fd);
	vfiomig_dev_unref(dev);

	/* the brief's example: RUNNING -> STOP_COPY fails at STOP */
	dev = mock_open(ctx, "fs,fail=set:1:EIO:mid");
	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), -EIO);
	ck_assert_int_eq(get_state(dev), S(STOP));
	vfiomig_dev_unref(dev);

	/* mid on a pre-copy session: interior arcs end it */
	dev = mock_open(ctx, "fs,fail=set:2:ENOMEM:mid");
	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), -ENOMEM);
	ck_assert_int_eq(get_state(dev), S(RUNNING_P2P));
	ck_assert_int_eq(dev->transport->data_read(dev, fd, &fd, 1), -ENODEV);
	close(fd);
	vfiomig_dev_unref(dev);

	/* errno by number */
	dev = mock_open(ctx, "fs,fail=set:1:5");
	ck_assert_int_eq(set_nofd(dev, S(STOP)), -EIO);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_fail_other_kinds)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev;
	struct vfio_device_feature_mig_state st = { 0 };
	struct vfio_device_feature_mig_data_size ds;
	struct vfio_device_feature_migration mig;
	uint32_t D = VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;
	uint64_t ib, db;
	int fd;

	dev = mock_open(ctx, "k,fail=get:2:EAGAIN");
	ck_assert_int_eq(feature(dev, FGET | D, &st, 8), 0);
	ck_assert_int_eq(feature(dev, FGET | D, &st, 8), -EAGAIN);
	ck_assert_int_eq(feature(dev, FGET | D, &st, 8), 0);
	vfiomig_dev_unref(dev);

	dev = mock_open(ctx, "k,fail=reset:1:EIO");
	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), 0);
	ck_assert_int_eq(reset(dev), -EIO);
	ck_assert_int_eq(get_state(dev), S(STOP_COPY));	/* nothing changed */
	ck_assert_int_gt(dev->transport->data_read(dev, fd, &st, 8), 0);
	ck_assert_int_eq(reset(dev), 0);
	close(fd);
	vfiomig_dev_unref(dev);

	dev = mock_open(ctx, "k,fail=precopy:1:EINTR");
	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd), 0);
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), -EINTR);
	ck_assert_int_eq(precopy_info(dev, fd, &ib, &db), 0);
	close(fd);
	vfiomig_dev_unref(dev);

	dev = mock_open(ctx, "k,fail=datasize:1:ENODEV");
	ck_assert_int_eq(feature(dev, FGET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &ds, 8), -ENODEV);
	ck_assert_int_eq(feature(dev, FGET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &ds, 8), 0);
	vfiomig_dev_unref(dev);

	/* feature counts every VFIO_DEVICE_FEATURE, PROBE included */
	dev = mock_open(ctx, "k,fail=feature:2:EIO");
	ck_assert_int_eq(feature_raw(dev, 8, FPROBE | VFIO_DEVICE_FEATURE_MIGRATION, NULL, 0), 0);
	ck_assert_int_eq(feature(dev, FGET | VFIO_DEVICE_FEATURE_MIGRATION, &mig, 8), -EIO);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	ck_assert_int_eq(reset(dev), 0);	/* not a feature */
	vfiomig_dev_unref(dev);

	/* unknown names, LEAVE on a non-set kind, too many rules */
	ck_assert_int_eq(vfiomig_mock_open(ctx, "k,fail=bogus:1:EIO", &dev), -EINVAL);
	ck_assert_int_eq(vfiomig_mock_open(ctx, "k,fail=get:1:EIO:mid", &dev), -EINVAL);
	ck_assert_int_eq(vfiomig_mock_open(ctx, "k,fail=get:0:EIO", &dev), -EINVAL);
	ck_assert_int_eq(vfiomig_mock_open(ctx, "k,fail=get:1:EWHAT", &dev), -EINVAL);
	ck_assert_int_eq(vfiomig_mock_open(ctx, "k,fail=set:1:EIO:sideways", &dev), -EINVAL);
	ck_assert_int_eq(vfiomig_mock_open(ctx, "k,fail=get:1:EIO,fail=get:2:EIO,"
					   "fail=get:3:EIO,fail=get:4:EIO,fail=get:5:EIO,"
					   "fail=get:6:EIO,fail=get:7:EIO,fail=get:8:EIO,"
					   "fail=get:9:EIO", &dev), -EINVAL);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_fail_read_write)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *src = mock_open(ctx, "rw,size=300K,state=STOP,fail=read:3:EIO");
	struct vfiomig_dev *dst = mock_open(ctx, "rw2,size=300K,state=STOP,fail=write:2:ENOSPC");
	struct blob b = { 0 };
	uint8_t tmp[5000];
	size_t off = 0;
	int fd, k = 0;

	ck_assert_int_eq(set_state(src, S(STOP_COPY), &fd), 0);
	for (;;) {
		ssize_t r = src->transport->data_read(src, fd, tmp, sizeof(tmp));

		k++;
		if (k == 3) {
			ck_assert_int_eq(r, -EIO);	/* moved nothing */
			continue;
		}
		ck_assert_int_ge(r, 0);
		if (!r)
			break;
		blob_add(&b, tmp, (size_t)r);
	}
	ck_assert_int_eq(set_nofd(src, S(STOP)), 0);
	close(fd);
	ck_assert_uint_eq(b.len, mock_stream_size(300 << 10));

	ck_assert_int_eq(set_state(dst, S(RESUMING), &fd), 0);
	k = 0;
	while (off < b.len) {
		size_t n = b.len - off < 7000 ? b.len - off : 7000;
		ssize_t w = dst->transport->data_write(dst, fd, b.p + off, n);

		if (++k == 2) {
			ck_assert_int_eq(w, -ENOSPC);
			continue;
		}
		ck_assert_int_gt(w, 0);
		off += (size_t)w;
	}
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	close(fd);
	free(b.p);
	vfiomig_dev_unref(dst);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_short_io)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *src = mock_open(ctx, "sh,size=3000,state=STOP,short=read");
	struct vfiomig_dev *dst = mock_open(ctx, "sh2,size=3000,state=STOP,short=both");
	struct blob b = { 0 };
	uint8_t tmp[4096];
	size_t off = 0;
	int fd;

	ck_assert_int_eq(set_state(src, S(STOP_COPY), &fd), 0);
	for (;;) {
		ssize_t r = src->transport->data_read(src, fd, tmp, sizeof(tmp));

		ck_assert_int_ge(r, 0);
		ck_assert_int_le(r, 7);
		if (!r)
			break;
		blob_add(&b, tmp, (size_t)r);
	}
	ck_assert_int_eq(set_nofd(src, S(STOP)), 0);
	close(fd);
	ck_assert_uint_eq(b.len, mock_stream_size(3000));

	ck_assert_int_eq(set_state(dst, S(RESUMING), &fd), 0);
	while (off < b.len) {
		ssize_t w = dst->transport->data_write(dst, fd, b.p + off, b.len - off);

		ck_assert_int_gt(w, 0);
		ck_assert_int_le(w, 7);
		off += (size_t)w;
	}
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	close(fd);
	free(b.p);
	vfiomig_dev_unref(dst);
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/*
 * fail=any:N for every N: a save and load either fail cleanly at the Nth op
 * or succeed once N is past the last op.  Nothing leaks, nothing crashes.
 */
START_TEST(test_fail_any_sweep)
{
	int fds = count_fds(), successes = 0;

	for (int n = 1; n < 200 && successes < 3; n++) {
		struct vfiomig_ctx *ctx = new_ctx(NULL);
		struct vfiomig_dev *dev;
		char spec[96];
		uint8_t tmp[65536];
		int fd = -1, wfd = -1, r;
		ssize_t got;
		bool ok = false;

		snprintf(spec, sizeof(spec), "sw,size=200K,dirty=64K,fail=any:%d:EIO", n);
		dev = mock_open(ctx, spec);
		if (set_state(dev, S(PRE_COPY), &fd))
			goto out;
		for (int i = 0; i < 3; i++) {
			uint64_t ib, db;

			if (precopy_info(dev, fd, &ib, &db))
				goto out;
			while ((got = dev->transport->data_read(dev, fd, tmp, sizeof(tmp))) > 0)
				;
			if (got != -ENOMSG)
				goto out;
		}
		if (set_nofd(dev, S(STOP_COPY)))
			goto out;
		while ((got = dev->transport->data_read(dev, fd, tmp, sizeof(tmp))) > 0)
			;
		if (got || set_nofd(dev, S(STOP)))
			goto out;
		if (set_state(dev, S(RESUMING), &wfd))
			goto out;
		r = dev->transport->data_write(dev, wfd, "VFIOMOCK", 8) == 8 ? 0 : -1;
		if (r || set_nofd(dev, S(STOP)) != -EINVAL)
			goto out;
		ok = true;
out:
		if (!ok) {
			/* recovery always works once the injected op is past */
			ck_assert_int_eq(reset(dev), 0);
			ck_assert_int_eq(get_state(dev), S(RUNNING));
		} else {
			successes++;
		}
		if (fd >= 0)
			close(fd);
		if (wfd >= 0)
			close(wfd);
		vfiomig_dev_unref(dev);
		vfiomig_ctx_unref(ctx);
	}
	ck_assert_int_eq(successes, 3);
	ck_assert_int_eq(count_fds(), fds);
}
END_TEST

/* ---- spec, identity, adopt, leaks ---- */

START_TEST(test_spec_errors)
{
	static const struct { const char *spec, *says; } bad[] = {
		{ "", "name" }, { ",size=1M", "name" }, { "a b", "name" },
		{ "a,x=1", "unknown key 'x'" }, { "a,size", "key=value" },
		{ "a,size=", "key=value" }, { "a,size=0", "size" },
		{ "a,size=65G", "size" }, { "a,size=1T", "size" },
		{ "a,size=-1", "size" }, { "a,flags=p2p", "stop_copy" },
		{ "a,flags=stop_copy+foo", "foo" },
		{ "a,flags=stop_copy+stop_copy", "twice" },
		{ "a,state=STOP_COPY", "initial" }, { "a,state=PRE_COPY", "initial" },
		{ "a,state=nonsense", "initial" },
		{ "a,flags=stop_copy,state=RUNNING_P2P", "P2P" },
		{ "a,eom=maybe", "eom" }, { "a,dirty=1X", "dirty" },
		{ "a,datasize=2", "0 or 1" }, { "a,pci=15b3", "pci" },
		{ "a,pci=15b3:101e:1", "pci" }, { "a,pci=xyz:101e", "pci" },
		{ "a,pci=15b33:101e", "pci" }, { "a,driver=a/b", "driver" },
		{ "a,short=sideways", "short" }, { "a,size=1M,size=2M", "twice" },
	};
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int r = vfiomig_mock_open(ctx, bad[i].spec, &dev);

		ck_assert_msg(r == -EINVAL, "'%s' gave %d", bad[i].spec, r);
		ck_assert_msg(strstr(vfiomig_ctx_get_error(ctx), bad[i].says),
			      "'%s': error '%s' lacks '%s'", bad[i].spec,
			      vfiomig_ctx_get_error(ctx), bad[i].says);
		ck_assert_msg(strstr(vfiomig_ctx_get_error(ctx), "mock spec"),
			      "'%s': %s", bad[i].spec, vfiomig_ctx_get_error(ctx));
	}
	/* through the public entry point too */
	ck_assert_int_eq(vfiomig_dev_open(ctx, "mock:a,nope=1", &dev), -EINVAL);
	ck_assert_uint_eq(vfiomig_mock_count(ctx), 0);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_spec_good)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev;
	struct vfio_device_feature_migration mig;
	uint16_t v, d, sv, sd;
	uint8_t rev;

	dev = dev_open(ctx, "mock:x.y-z_1,flags=P2P+Stop_Copy,size=1,state=stop,"
			    "eom=ZERO,dirty=0,datasize=0,dirtylog=1,resetflag=0,"
			    "pci=15b3:101e:15B3:0001:a0,driver=mlx5_vfio_pci,"
			    "short=write,infov2=0");
	ck_assert_str_eq(vfiomig_dev_get_name(dev), "mock:x.y-z_1");
	ck_assert_str_eq(vfiomig_dev_get_transport(dev), "mock");
	ck_assert_str_eq(vfiomig_dev_get_driver(dev), "mlx5_vfio_pci");
	ck_assert_int_eq(vfiomig_dev_get_pci_ids(dev, &v, &d, &sv, &sd, &rev), 0);
	ck_assert_uint_eq(v, 0x15b3);
	ck_assert_uint_eq(d, 0x101e);
	ck_assert_uint_eq(sv, 0x15b3);
	ck_assert_uint_eq(sd, 1);
	ck_assert_uint_eq(rev, 0xa0);
	ck_assert_int_eq(feature(dev, FGET | VFIO_DEVICE_FEATURE_MIGRATION, &mig, 8), 0);
	ck_assert_uint_eq(mig.flags, VFIOMIG_MIG_STOP_COPY | VFIOMIG_MIG_P2P);
	ck_assert_int_eq(get_state(dev), S(STOP));
	vfiomig_dev_unref(dev);

	dev = dev_open(ctx, "mock:plain");
	ck_assert_str_eq(vfiomig_dev_get_driver(dev), "mock");
	ck_assert_int_eq(vfiomig_dev_get_pci_ids(dev, &v, NULL, NULL, NULL, NULL), -ENODATA);
	ck_assert_int_eq(feature(dev, FGET | VFIO_DEVICE_FEATURE_MIGRATION, &mig, 8), 0);
	ck_assert_uint_eq(mig.flags, 7);
	vfiomig_dev_unref(dev);

	dev = dev_open(ctx, "mock:huge,size=64G,flags=pre_copy+stop_copy,pci=8086:1234");
	ck_assert_int_eq(vfiomig_dev_get_pci_ids(dev, &v, &d, &sv, &sd, &rev), 0);
	ck_assert_uint_eq(sv, 0);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_adopt)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_ctx *other = new_ctx(NULL);
	struct vfiomig_dev *a = dev_open(ctx, "mock:shared,size=128K");
	struct vfiomig_dev *b = NULL, *c = NULL;
	int fds, p[2], fd;
	struct blob blob = { 0 };

	ck_assert_int_eq(vfiomig_dev_adopt(ctx, vfiomig_dev_get_fd(a), &b), 0);
	ck_assert_ptr_eq(a->priv, b->priv);
	ck_assert(!b->owns_fd);
	ck_assert_str_eq(vfiomig_dev_get_transport(b), "mock");
	ck_assert_str_eq(vfiomig_dev_get_name(b), "mock:shared");
	ck_assert_int_eq(set_nofd(b, S(STOP)), 0);
	ck_assert_int_eq(get_state(a), S(STOP));
	/* a data fd from one handle works through the other */
	ck_assert_int_eq(set_state(a, S(STOP_COPY), &fd), 0);
	ck_assert_int_eq(drain(b, fd, &blob, 4096), 0);
	ck_assert_uint_eq(blob.len, mock_stream_size(128 << 10));
	ck_assert_int_eq(set_nofd(b, S(STOP)), 0);
	close(fd);
	free(blob.p);

	/* not a mock of this ctx */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(vfiomig_mock_adopt(ctx, p[0], &c), -ENOENT);
	ck_assert_int_eq(vfiomig_mock_adopt(other, vfiomig_dev_get_fd(a), &c), -ENOENT);
	close(p[0]);
	close(p[1]);

	/* the state lives while any handle does */
	fds = count_fds();
	ck_assert_int_eq(vfiomig_mock_adopt(ctx, vfiomig_dev_get_fd(a), &c), 0);
	ck_assert_int_eq(count_fds(), fds);	/* adopting opens nothing */
	vfiomig_dev_unref(a);			/* closes the placeholder */
	ck_assert_int_eq(get_state(b), S(STOP));
	vfiomig_dev_unref(b);
	ck_assert_uint_eq(vfiomig_mock_count(ctx), 1);
	ck_assert_int_eq(get_state(c), S(STOP));
	vfiomig_dev_unref(c);
	ck_assert_uint_eq(vfiomig_mock_count(ctx), 0);
	vfiomig_ctx_unref(other);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_no_leaks)
{
	int fds = count_fds();
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = dev_open(ctx, "mock:leak,size=8M");
	int fd1, fd2;
	uint8_t tmp[100];

	/* open sessions at unref: pumps are joined, the mock's ends closed */
	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd1), 0);
	ck_assert_int_eq(dev->transport->data_read(dev, fd1, tmp, sizeof(tmp)), sizeof(tmp));
	ck_assert_int_eq(set_nofd(dev, S(RUNNING)), 0);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd2), 0);
	/* placeholder, the caller's 2 data fds, the live session's pipe end
	 * and its eventfd */
	ck_assert_int_eq(count_fds(), fds + 5);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
	ck_assert_int_eq(count_fds(), fds + 2);	/* the caller's data fds */
	/* the save pipe ends in EOF without the mock */
	while (read(fd2, tmp, sizeof(tmp)) > 0)
		;
	close(fd1);
	close(fd2);
	ck_assert_int_eq(count_fds(), fds);
}
END_TEST

static Suite *mock_suite(void)
{
	Suite *s = suite_create("mock");
	TCase *tc;

	tc = tcase_create("fsm");
	tcase_add_loop_test(tc, test_paths, 0, ARRAY_SIZE(rows));
	tcase_add_test(tc, test_bad_targets);
	tcase_add_test(tc, test_initial_states);
	suite_add_tcase(s, tc);

	tc = tcase_create("ioctl");
	tcase_add_test(tc, test_feature_core);
	tcase_add_test(tc, test_get_info);
	tcase_add_test(tc, test_data_size);
	tcase_add_test(tc, test_dirty_logging);
	tcase_add_test(tc, test_infov2);
	suite_add_tcase(s, tc);

	tc = tcase_create("sessions");
	tcase_add_test(tc, test_reset);
	tcase_add_test(tc, test_terminating_arcs);
	tcase_add_test(tc, test_precopy_enomsg);
	tcase_add_test(tc, test_precopy_zero);
	tcase_add_test(tc, test_dirty_rounds);
	tcase_add_test(tc, test_precopy_info_rules);
	tcase_add_test(tc, test_precopy_no_p2p);
	tcase_add_test(tc, test_threaded_reader);
	suite_add_tcase(s, tc);

	tc = tcase_create("stream");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_save_load);
	tcase_add_test(tc, test_missing_page);
	tcase_add_test(tc, test_one_byte_writes);
	tcase_add_test(tc, test_direct_io_large);
	tcase_add_test(tc, test_rate);
	tcase_add_test(tc, test_pump_policy);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_fail_set);
	tcase_add_test(tc, test_fail_other_kinds);
	tcase_add_test(tc, test_fail_read_write);
	tcase_add_test(tc, test_short_io);
	tcase_add_test(tc, test_fail_any_sweep);
	suite_add_tcase(s, tc);

	tc = tcase_create("handles");
	tcase_add_test(tc, test_spec_errors);
	tcase_add_test(tc, test_spec_good);
	tcase_add_test(tc, test_adopt);
	tcase_add_test(tc, test_no_leaks);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mock_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
