// SPDX-License-Identifier: LGPL-2.1-or-later
/* The conformance checks of the data fd (area "data"). */
#include <errno.h>
#include <stdio.h>

#include "conformance.h"
#include "dev.h"
#include "util.h"
#include "vfio-compat.h"

#define S(x) VFIOMIG_STATE_##x
#define STREAM_LIMIT (4ull << 30)	/* a stream longer than this has no end */

static void no_precopy(char *d, size_t n)
{
	conf_say(d, n, "the device has no PRE_COPY");
}

static enum vfiomig_verdict not_reached(enum vfiomig_state s, int r, char *d, size_t n)
{
	char e[32];

	conf_say(d, n, "%s not reached from a reset (%s; see arcs.accepted)",
		 conf_state_name(s), conf_errname(r, e, sizeof(e)));
	return VFIOMIG_VERDICT_SKIP;
}

/* A pre-copy session's fd, or false with the skip's reason said. */
static bool precopy_session(struct conf_run *run, int *fd, char *d, size_t n)
{
	int r;

	if (!conf_has(run, S(PRE_COPY))) {
		no_precopy(d, n);
		return false;
	}
	r = conf_reach(run, run->dev, S(PRE_COPY), fd);
	if (r < 0)
		not_reached(S(PRE_COPY), r, d, n);
	return r == 0;
}

enum vfiomig_verdict conf_stop_copy_end(struct conf_run *run, char *d, size_t n)
{
	int fd, r = conf_reach(run, run->dev, S(STOP_COPY), &fd);
	size_t len;
	ssize_t last;
	char e[32];

	if (r < 0)
		return not_reached(S(STOP_COPY), r, d, n);
	last = conf_drain(run, fd, &len, STREAM_LIMIT);
	conf_close(&fd);
	conf_say(d, n, "%zu %s, then %s", len, plural(len, "byte", "bytes"),
		 conf_errname(last, e, sizeof(e)));
	return last == 0 ? VFIOMIG_VERDICT_PASS : VFIOMIG_VERDICT_FAIL;
}

enum vfiomig_verdict conf_precopy_end(struct conf_run *run, char *d, size_t n)
{
	size_t len;
	ssize_t last;
	char e[32];
	int fd;

	if (!precopy_session(run, &fd, d, n))
		return VFIOMIG_VERDICT_SKIP;
	last = conf_drain(run, fd, &len, STREAM_LIMIT);
	conf_close(&fd);
	conf_say(d, n, "%zu %s, then %s", len, plural(len, "byte", "bytes"),
		 conf_errname(last, e, sizeof(e)));
	if (last == -ENOMSG)
		return VFIOMIG_VERDICT_PASS;
	if (last == 0) {
		conf_say(d, n, ": the temporary end looks like the end of the stream");
		return VFIOMIG_VERDICT_DEVIATION;
	}
	return VFIOMIG_VERDICT_FAIL;
}

/* PRECOPY_INFO on a saving fd in STOP_COPY: reached from PRE_COPY, and from STOP. */
enum vfiomig_verdict conf_precopy_info_outside(struct conf_run *run, char *d, size_t n)
{
	uint64_t initial, dirty;
	char e1[32], e2[32], e3[32];
	int fd, in, after, fresh;

	if (!precopy_session(run, &fd, d, n))
		return VFIOMIG_VERDICT_SKIP;
	in = conf_precopy_info(run->dev, fd, &initial, &dirty, NULL);
	after = conf_set(run->dev, S(STOP_COPY), NULL);
	if (after == 0)
		after = conf_precopy_info(run->dev, fd, &initial, &dirty, NULL);
	conf_close(&fd);
	fresh = conf_reach(run, run->dev, S(STOP_COPY), &fd);
	if (fresh == 0)
		fresh = conf_precopy_info(run->dev, fd, &initial, &dirty, NULL);
	conf_close(&fd);
	conf_say(d, n, "in PRE_COPY %s; in STOP_COPY after PRE_COPY %s, after STOP %s",
		 conf_errname(in, e1, sizeof(e1)), conf_errname(after, e2, sizeof(e2)),
		 conf_errname(fresh, e3, sizeof(e3)));
	if (in != 0 || after != -EINVAL || fresh != -EINVAL)
		return VFIOMIG_VERDICT_FAIL;
	return VFIOMIG_VERDICT_PASS;
}

/* Reads the pre-copy stream, asking PRECOPY_INFO before each read. */
static enum vfiomig_verdict watch_initial(struct conf_run *run, int fd, char *d, size_t n)
{
	uint64_t initial, dirty, first = 0, prev = UINT64_MAX;
	unsigned int reads = 0, reinits = 0;
	uint32_t flags = 0;
	ssize_t got;

	for (;;) {
		if (conf_precopy_info(run->dev, fd, &initial, &dirty, &flags) < 0)
			break;
		if (prev == UINT64_MAX)
			first = initial;
		else if (initial > prev && !(flags & VFIO_PRECOPY_INFO_REINIT)) {
			conf_say(d, n, "initial_bytes grew from %llu to %llu after %u %s, "
				 "without REINIT", (unsigned long long)prev,
				 (unsigned long long)initial, reads,
				 plural(reads, "read", "reads"));
			return VFIOMIG_VERDICT_FAIL;
		}
		reinits += initial > prev;
		prev = initial;
		got = conf_read(run, run->dev, fd, run->scratch, CONF_SCRATCH);
		if (got <= 0 || ++reads > 1000000)
			break;
	}
	conf_say(d, n, "initial_bytes from %llu to %llu over %u read%s", (unsigned long long)first,
		 (unsigned long long)(prev == UINT64_MAX ? 0 : prev), reads, reads == 1 ? "" : "s");
	if (reinits)
		conf_say(d, n, ", %u REINIT", reinits);
	return VFIOMIG_VERDICT_PASS;
}

enum vfiomig_verdict conf_initial_bytes(struct conf_run *run, char *d, size_t n)
{
	enum vfiomig_verdict v;
	int fd;

	if (!precopy_session(run, &fd, d, n))
		return VFIOMIG_VERDICT_SKIP;
	/* With the 7.1 opt-in the flags say REINIT; without it they echo 0. */
	vfiomig_dev_feature(run->dev, VFIO_DEVICE_FEATURE_SET |
			    VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2, NULL, 0);
	v = watch_initial(run, fd, d, n);
	conf_close(&fd);
	return v;
}

/* A session of @from's arc, ended by the arc to @to; what a read then gives. */
static int read_ended(struct conf_run *run, enum vfiomig_state from, enum vfiomig_state to,
		      ssize_t *ret)
{
	char buf[64];
	size_t len;
	int fd, r = conf_reach(run, run->dev, from, &fd);

	if (r == 0) {
		conf_drain(run, fd, &len, STREAM_LIMIT);
		r = conf_set(run->dev, to, NULL);
	}
	if (r == 0)
		*ret = conf_read(run, run->dev, fd, buf, sizeof(buf));
	conf_close(&fd);
	return r;
}


enum vfiomig_verdict conf_ended_fd(struct conf_run *run, char *d, size_t n)
{
	ssize_t sc = 0, pc = -ENODEV;
	char e[32];
	int r = read_ended(run, S(STOP_COPY), S(STOP), &sc);

	if (r < 0)
		return not_reached(S(STOP_COPY), r, d, n);
	conf_say(d, n, "after STOP_COPY -> STOP: %s", conf_errname(sc, e, sizeof(e)));
	if (conf_has(run, S(PRE_COPY)) && read_ended(run, S(PRE_COPY), S(RUNNING), &pc) == 0)
		conf_say(d, n, "; after PRE_COPY -> RUNNING: %s", conf_errname(pc, e, sizeof(e)));
	return conf_worse(conf_ended_verdict(sc), conf_ended_verdict(pc));
}

/* Write sizes, in turn: a byte, odd ones, a page and a bit. */
static const size_t splits[] = { 1, 7, 2, 4093, 1, 65536 + 5 };

static int write_split(struct conf_run *run, int fd, const char *buf, size_t len,
		       char *d, size_t n)
{
	char e[32];

	for (size_t off = 0, i = 0; off < len; i++) {
		size_t want = splits[i % (sizeof(splits) / sizeof(splits[0]))];
		ssize_t got = conf_write(run, run->dev, fd, buf + off,
					 want < len - off ? want : len - off);

		if (got <= 0) {
			conf_say(d, n, "a write of %zu %s at offset %zu: %s", want,
				 plural(want, "byte", "bytes"), off,
				 conf_errname(got ? got : -EIO, e, sizeof(e)));
			return -1;
		}
		off += (size_t)got;
	}
	return 0;
}

enum vfiomig_verdict conf_resume_split(struct conf_run *run, char *d, size_t n)
{
	const struct conf_image *im = conf_image(run);
	const char *stage;
	char e[32];
	int fd, r;

	if (im->err) {
		conf_say(d, n, "no image of the device: %s", conf_errname(im->err, e, sizeof(e)));
		return VFIOMIG_VERDICT_SKIP;
	}
	r = conf_load(run, run->dev, im->buf, im->len, &stage);
	if (r < 0) {
		conf_say(d, n, "the device does not load its own %zu-byte image even in one "
			 "write (%s at %s)", im->len, conf_errname(r, e, sizeof(e)), stage);
		return VFIOMIG_VERDICT_SKIP;
	}
	r = conf_reach(run, run->dev, S(RESUMING), &fd);
	if (r < 0)
		return not_reached(S(RESUMING), r, d, n);
	if (write_split(run, fd, im->buf, im->len, d, n) < 0)
		r = -EIO;
	else if ((r = conf_set(run->dev, S(STOP), NULL)) < 0)
		conf_say(d, n, "RESUMING -> STOP refused the split stream: %s",
			 conf_errname(r, e, sizeof(e)));
	conf_close(&fd);
	if (r < 0)
		return VFIOMIG_VERDICT_FAIL;
	conf_say(d, n, "%zu %s in writes of 1, 7, 2, 4093, 1 and 65541 bytes", im->len,
		 plural(im->len, "byte", "bytes"));
	return VFIOMIG_VERDICT_PASS;
}
