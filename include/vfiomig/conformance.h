/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiomig-conformance: a conformance checker for VFIO migration
 * drivers, a library of its own beside libvfiomig (pkg-config:
 * vfiomig-conformance; until 0.3 these calls were libvfiomig's).  It runs
 * a catalogue of checks against a device, each stating the rule it checks
 * and where the rule comes from (the uAPI comment in <linux/vfio.h>, or
 * the kernel's code), and gives each a verdict.  It is for the authors of
 * variant drivers and their QE teams: run it on every firmware and kernel
 * drop.  docs/conformance.md lists every check, and what its failure
 * means for a VMM.
 *
 * The checker is destructive: it resets the device and moves it through
 * every state, and it reopens it.  It refuses a device that something
 * else holds.  Its failures are told as libvfiomig's are:
 * vfiomig_ctx_get_error() on the context it was given.
 */
#ifndef VFIOMIG_CONFORMANCE_H
#define VFIOMIG_CONFORMANCE_H

#include <stddef.h>
#include <stdint.h>

#include <vfiomig/cancel.h>
#include <vfiomig/ctx.h>

#if defined(__GNUC__) && defined(VFIOMIG_BUILDING_CONFORMANCE)
#define VFIOMIG_CONFORMANCE_API __attribute__((visibility("default")))
#else
#define VFIOMIG_CONFORMANCE_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

enum vfiomig_verdict {
	VFIOMIG_VERDICT_PASS = 0,
	/* the documentation says otherwise */
	VFIOMIG_VERDICT_FAIL = 1,
	/* allowed, but not what user space expects (mtty's 0 at the
	 * temporary end of pre-copy) */
	VFIOMIG_VERDICT_DEVIATION = 2,
	/* not run: the detail says why (no twin, no PRE_COPY, ...) */
	VFIOMIG_VERDICT_SKIP = 3,
};

/* The areas of the catalogue, as bits for vfiomig_conformance_opts.areas. */
enum vfiomig_conformance_area {
	VFIOMIG_CONF_FEATURES = 1 << 0,
	VFIOMIG_CONF_ARCS = 1 << 1,
	VFIOMIG_CONF_DATA = 1 << 2,
	VFIOMIG_CONF_RESET = 1 << 3,
	VFIOMIG_CONF_TWIN = 1 << 4,		/* needs opts.twin */
	VFIOMIG_CONF_ROBUSTNESS = 1 << 5,
	VFIOMIG_CONF_ALL = (1 << 6) - 1,
};

/* One check of the catalogue; static data, valid for the library's life. */
struct vfiomig_conformance_check {
	const char *id;		/* "area.name", e.g. "data.precopy-temporary-end" */
	enum vfiomig_conformance_area area;
	const char *rule;	/* what a conforming driver does, one sentence */
	const char *source;	/* where the rule is written down */
	const char *impact;	/* what a failure means for a VMM */
};

/**
 * vfiomig_conformance_catalogue() - Every check, in the order they run
 * @ret_count: the number of checks
 * Return: the array (static).  Since: 0.3
 */
VFIOMIG_CONFORMANCE_API const struct vfiomig_conformance_check *
vfiomig_conformance_catalogue(size_t *ret_count);

/** vfiomig_conformance_area_name() - "features", "arcs", ...; NULL if unknown.  Since: 0.3 */
VFIOMIG_CONFORMANCE_API const char *
vfiomig_conformance_area_name(enum vfiomig_conformance_area area);

/** vfiomig_conformance_area_parse() - The area named @name.  Return: 0; -EINVAL.  Since: 0.3 */
VFIOMIG_CONFORMANCE_API int vfiomig_conformance_area_parse(const char *name,
							   enum vfiomig_conformance_area *ret);

/** vfiomig_verdict_name() - "pass", "fail", "deviation", "skip"; NULL if unknown.  Since: 0.3 */
VFIOMIG_CONFORMANCE_API const char *vfiomig_verdict_name(enum vfiomig_verdict v);

struct vfiomig_conformance_result {
	const struct vfiomig_conformance_check *check;
	enum vfiomig_verdict verdict;
	const char *detail;	/* what was seen; valid as long as the report */
};

struct vfiomig_conformance_opts {
	size_t sz;		/* set to sizeof(struct vfiomig_conformance_opts) */
	/* A second device of the same kind, to load what the first saved;
	 * NULL: the twin area is skipped. */
	const char *twin;
	unsigned int areas;	/* VFIOMIG_CONF_* bits; 0: all */
	/* Called after each check, from the calling thread (may be NULL). */
	void (*on_result)(const struct vfiomig_conformance_result *r, void *userdata);
	void *userdata;
	/*
	 * Optional: raising it (from a signal handler, another thread, or
	 * on_result) stops the run at the next step of the check under way,
	 * or before the next check; every wait for a data fd watches it.
	 * The devices are put back as at the end of a run.  Since: 0.4
	 */
	struct vfiomig_cancel *cancel;
};

/* A finished run: its results, in catalogue order. */
struct vfiomig_conformance;

/**
 * vfiomig_conformance_run() - Run the checks on the device @spec names
 * @spec: as for vfiomig_dev_open(); opened, closed and reopened by the run
 * @opts: may be NULL for every area without a twin
 * @ret: the report; free it with vfiomig_conformance_free()
 *
 * The device (and the twin) must be free: the run opens them itself, and
 * a device another process holds gives -EBUSY.  Each device is reset at
 * the start and at the end.  The run never sends an arc the library
 * refuses (STOP_COPY to pre-copy, which hangs kernels without the 2026
 * fix) and goes through the library's guard after a reopen (RESUMING ->
 * STOP on a stale session oopses mtty 6.12).
 *
 * Threads: the run takes no lock of its own; its devices are its own.
 * Return: 0 when the run finished, whatever the verdicts; -ECANCELED when
 *         @opts->cancel was raised before the last check ended (since
 *         0.4): *@ret is set all the
 *         same, to a report of the checks that ended before (the one the
 *         cancel cut short is left out), which the caller frees, and the
 *         error (vfiomig_ctx_get_error()) says how many checks ran and
 *         whether each device is back in RUNNING; -EBUSY, -ENODEV and
 *         other -errno when a device could not be opened or the twin is
 *         not of the same kind (flags), *@ret untouched; -EINVAL for bad
 *         @opts.  Since: 0.3
 */
VFIOMIG_CONFORMANCE_API int vfiomig_conformance_run(struct vfiomig_ctx *ctx, const char *spec,
						    const struct vfiomig_conformance_opts *opts,
						    struct vfiomig_conformance **ret);

/** vfiomig_conformance_get_count() - How many results (0 for NULL).  Since: 0.3 */
VFIOMIG_CONFORMANCE_API size_t vfiomig_conformance_get_count(const struct vfiomig_conformance *c);

/** vfiomig_conformance_get_result() - Result @i, NULL past the end.  Since: 0.3 */
VFIOMIG_CONFORMANCE_API const struct vfiomig_conformance_result *
vfiomig_conformance_get_result(const struct vfiomig_conformance *c, size_t i);

struct vfiomig_conformance_info {
	size_t sz;		/* set to sizeof(struct vfiomig_conformance_info) */
	const char *device;	/* its name, as vfiomig_dev_get_name() gave it */
	const char *driver;	/* "" when unknown */
	const char *twin;	/* NULL without one */
	uint64_t mig_flags;
	unsigned int count[4];	/* results per enum vfiomig_verdict */
};

/** vfiomig_conformance_get_info() - The device and the tally.  Return: 0; -EINVAL.  Since: 0.3 */
VFIOMIG_CONFORMANCE_API int vfiomig_conformance_get_info(const struct vfiomig_conformance *c,
							 struct vfiomig_conformance_info *info);

/** vfiomig_conformance_free() - Free a report.  Return: NULL (NULL-safe).  Since: 0.3 */
VFIOMIG_CONFORMANCE_API struct vfiomig_conformance *
vfiomig_conformance_free(struct vfiomig_conformance *c);

#ifdef __cplusplus
}
#endif

#endif
