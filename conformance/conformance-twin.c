// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The conformance checks that load what the device saved into its twin
 * (area "twin"; twin.p2p-arcs is with the arcs, in conformance-arcs.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "util.h"

#define S(x) VFIOMIG_STATE_##x

static const struct conf_image *need_image(struct conf_run *run, char *d, size_t n)
{
	const struct conf_image *im = conf_image(run);
	char e[32];

	if (im->err) {
		conf_say(d, n, "no image of the device to load: %s (see data.stop-copy-end)",
			 conf_errname(im->err, e, sizeof(e)));
		return NULL;
	}
	return im;
}

/* Loads @len bytes of @buf into the twin; says how it went. */
static int load(struct conf_run *run, const char *buf, size_t len, const char *what,
		char *d, size_t n)
{
	const char *stage;
	char e[32];
	int r = conf_load(run, run->twin, buf, len, &stage);

	conf_say(d, n, "%s%s: ", d[0] ? "; " : "", what);
	if (r < 0)
		conf_say(d, n, "refused at %s (%s)", stage, conf_errname(r, e, sizeof(e)));
	else
		conf_say(d, n, "loaded");
	return r;
}

enum vfiomig_verdict conf_twin_load(struct conf_run *run, char *d, size_t n)
{
	const struct conf_image *im = need_image(run, d, n);
	enum vfiomig_state now = S(ERROR);
	char e[32];
	int r;

	if (!im)
		return VFIOMIG_VERDICT_SKIP;
	if (load(run, im->buf, im->len, "the device's image", d, n) < 0)
		return VFIOMIG_VERDICT_FAIL;
	run->twin_loaded = true;
	r = conf_set(run->twin, S(RUNNING), NULL);
	if (r == 0)
		r = conf_get(run->twin, &now);
	if (r < 0 || now != S(RUNNING)) {
		conf_say(d, n, ", but STOP -> RUNNING then %s", r < 0 ?
			 conf_errname(r, e, sizeof(e)) : conf_state_name(now));
		return VFIOMIG_VERDICT_FAIL;
	}
	conf_say(d, n, " (%zu %s) and RUNNING", im->len, plural(im->len, "byte", "bytes"));
	return VFIOMIG_VERDICT_PASS;
}

/* After twin.load-and-run's load: two more of the same stream. */
enum vfiomig_verdict conf_twin_twice(struct conf_run *run, char *d, size_t n)
{
	const struct conf_image *im = need_image(run, d, n);

	if (!im)
		return VFIOMIG_VERDICT_SKIP;
	if (!run->twin_loaded) {
		conf_say(d, n, "the twin loaded nothing yet (see twin.load-and-run)");
		return VFIOMIG_VERDICT_SKIP;
	}
	if (load(run, im->buf, im->len, "second load", d, n) < 0 ||
	    load(run, im->buf, im->len, "third load", d, n) < 0)
		return VFIOMIG_VERDICT_FAIL;
	return VFIOMIG_VERDICT_PASS;
}

enum vfiomig_verdict conf_twin_truncated(struct conf_run *run, char *d, size_t n)
{
	const struct conf_image *im = need_image(run, d, n);
	char what[64];

	if (!im)
		return VFIOMIG_VERDICT_SKIP;
	snprintf(what, sizeof(what), "%zu of %zu %s", im->len / 2, im->len,
		 plural(im->len, "byte", "bytes"));
	if (load(run, im->buf, im->len / 2, what, d, n) == 0)
		return VFIOMIG_VERDICT_FAIL;
	return VFIOMIG_VERDICT_PASS;
}

/* Garbage must be refused; a flipped byte is refused by a driver that checks its payload. */
enum vfiomig_verdict conf_twin_corrupt(struct conf_run *run, char *d, size_t n)
{
	const struct conf_image *im = need_image(run, d, n);
	char *bad;
	int garbage, flipped;

	if (!im)
		return VFIOMIG_VERDICT_SKIP;
	bad = malloc(im->len);
	if (!bad) {
		conf_say(d, n, "out of memory");
		return VFIOMIG_VERDICT_SKIP;
	}
	memset(bad, 0x33, im->len);
	garbage = load(run, bad, im->len, "garbage of the image's length", d, n);
	memcpy(bad, im->buf, im->len);
	bad[im->len / 2] ^= 0x01;
	flipped = load(run, bad, im->len, "one bit flipped at half way", d, n);
	free(bad);
	if (garbage == 0)
		return VFIOMIG_VERDICT_FAIL;
	if (flipped == 0) {
		conf_say(d, n, ": the driver does not check its payload; a VMM must");
		return VFIOMIG_VERDICT_DEVIATION;
	}
	return VFIOMIG_VERDICT_PASS;
}
