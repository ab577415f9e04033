/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The conformance checker's insides (libvfiomig-conformance).  conformance.c
 * runs the catalogue and keeps the report; conformance-raw.c talks to the
 * device the way a driver author's own test would, through the transport,
 * below the library's path planning, so that the driver (not the library)
 * answers; conformance-<area>.c hold the checks.
 *
 * The checker is a client of libvfiomig's public API.  Of the library's
 * insides it uses only six seams of its LIBVFIOMIG_PRIVATE node, and no
 * field of its structures (docs/architecture.md, "Why the checker is a
 * library of its own"): vfiomig_call_ctx() makes the checks a call,
 * vfiomig_fail() and vfiomig_call_note() say why a run failed,
 * vfiomig_dev_feature() and vfiomig_dev_transport_ops() send single
 * requests, and vfiomig_wait_fd() waits for a data fd beside the cancel.
 */
#ifndef VFIOMIG_CONFORMANCE_INT_H
#define VFIOMIG_CONFORMANCE_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>

#include <vfiomig/conformance.h>
#include <vfiomig/vfiomig.h>

/* A device state image saved from the device under test, raw. */
struct conf_image {
	char *buf;
	size_t len;
	int err;		/* why there is none: -errno, 0 when there is */
};

/* The bytes of conf_run.scratch. */
#define CONF_SCRATCH (64u << 10)

struct conf_run {
	struct vfiomig_ctx *ctx;
	const char *spec, *twin_spec;
	struct vfiomig_dev *dev, *twin;	/* twin: NULL without one */
	uint64_t flags;			/* the device's migration flags */
	struct conf_image image;	/* a STOP_COPY image of dev, made on first use */
	struct vfiomig_conformance *report;
	const struct vfiomig_conformance_opts *opts;
	struct vfiomig_cancel *cancel;	/* opts->cancel: each step and wait watch it */
	bool twin_loaded;		/* twin.load-and-run loaded the image */
	/* What a check reads and throws away, or writes as garbage: the
	 * run's own, since runs on other contexts may go on at once. */
	char *scratch;
};

/* A check: fills @verdict and @detail (a sentence, no final period). */
typedef enum vfiomig_verdict (*conf_check_fn)(struct conf_run *run, char *detail, size_t size);

/* The checks, by area (their ids and rules are in conformance.c's catalogue). */
enum vfiomig_verdict conf_migration_flags(struct conf_run *run, char *d, size_t n);
enum vfiomig_verdict conf_data_size(struct conf_run *run, char *d, size_t n);
enum vfiomig_verdict conf_logging_probe(struct conf_run *run, char *d, size_t n);
enum vfiomig_verdict conf_infov2(struct conf_run *run, char *d, size_t n);
enum vfiomig_verdict conf_arcs_accepted(struct conf_run *run, char *d, size_t n);
enum vfiomig_verdict conf_unreachable(struct conf_run *run, char *d, size_t n);
enum vfiomig_verdict conf_failed_set(struct conf_run *run, char *d, size_t n);
enum vfiomig_verdict conf_stop_copy_end(struct conf_run *run, char *d, size_t n);
enum vfiomig_verdict conf_precopy_end(struct conf_run *run, char *d, size_t n);
enum vfiomig_verdict conf_precopy_info_outside(struct conf_run *run, char *d, size_t n);
enum vfiomig_verdict conf_initial_bytes(struct conf_run *run, char *d, size_t n);
enum vfiomig_verdict conf_ended_fd(struct conf_run *run, char *d, size_t n);
enum vfiomig_verdict conf_resume_split(struct conf_run *run, char *d, size_t n);
enum vfiomig_verdict conf_reset_states(struct conf_run *run, char *d, size_t n);
enum vfiomig_verdict conf_reset_sessions(struct conf_run *run, char *d, size_t n);
enum vfiomig_verdict conf_reset_flag(struct conf_run *run, char *d, size_t n);
enum vfiomig_verdict conf_twin_load(struct conf_run *run, char *d, size_t n);
enum vfiomig_verdict conf_twin_twice(struct conf_run *run, char *d, size_t n);
enum vfiomig_verdict conf_twin_truncated(struct conf_run *run, char *d, size_t n);
enum vfiomig_verdict conf_twin_corrupt(struct conf_run *run, char *d, size_t n);
enum vfiomig_verdict conf_twin_p2p(struct conf_run *run, char *d, size_t n);
enum vfiomig_verdict conf_reopen_state(struct conf_run *run, char *d, size_t n);
enum vfiomig_verdict conf_reopen_session(struct conf_run *run, char *d, size_t n);

/*
 * conformance-raw.c: one request each, answered by the driver.  A data fd
 * conf_set() returns is non-blocking: a read or write that would block
 * waits in poll(2) beside the run's cancel object instead (-ECANCELED).
 */
/* "RUNNING", or "(invalid state)" for a number the uAPI does not define. */
const char *conf_state_name(enum vfiomig_state s);
int conf_set(struct vfiomig_dev *dev, enum vfiomig_state target, int *ret_fd);
int conf_get(struct vfiomig_dev *dev, enum vfiomig_state *ret);
int conf_reset(struct vfiomig_dev *dev);
ssize_t conf_read(struct conf_run *run, struct vfiomig_dev *dev, int fd, void *buf, size_t len);
ssize_t conf_write(struct conf_run *run, struct vfiomig_dev *dev, int fd, const void *buf,
		   size_t len);
int conf_precopy_info(struct vfiomig_dev *dev, int fd, uint64_t *initial, uint64_t *dirty,
		      uint32_t *flags);
bool conf_has(const struct conf_run *run, enum vfiomig_state s);
/* Reset, and make sure it is RUNNING (a SET if the reset did not); never
 * cancelled: it is also how a run puts its devices back. */
int conf_fresh(struct vfiomig_dev *dev);
/* Whether the run was cancelled: the check under way stops at its next step. */
bool conf_cancelled(const struct conf_run *run);
/* From a fresh RUNNING to @s, with its data fd if the way opens one;
 * -ECANCELED, the device untouched, once the run is cancelled. */
int conf_reach(struct conf_run *run, struct vfiomig_dev *dev, enum vfiomig_state s, int *ret_fd);
/* Read a save fd until it gives <= 0; the bytes in *ret_len, the last answer returned. */
ssize_t conf_drain(struct conf_run *run, int fd, size_t *ret_len, uint64_t limit);
/* All of @buf into a RESUMING fd, however much each write takes. */
int conf_write_all(struct conf_run *run, struct vfiomig_dev *dev, int fd, const char *buf,
		   size_t len);
/* A raw image of run->dev (made once). */
const struct conf_image *conf_image(struct conf_run *run);
/* Load @len bytes of @buf into @dev through RESUMING; *ret_stage says
 * where it was refused. */
int conf_load(struct conf_run *run, struct vfiomig_dev *dev, const char *buf, size_t len,
	      const char **ret_stage);
/* "EINVAL", "0", "errno 123": a driver's answer for a detail. */
const char *conf_errname(long r, char *buf, size_t size);
/*
 * What an ended session's fd gave: ENODEV or EINVAL pass; 0 is a
 * deviation (it reads as a stream that ended well); data or another error
 * fail.
 */
enum vfiomig_verdict conf_ended_verdict(ssize_t r);
/* The worse of two verdicts: FAIL, then DEVIATION, then PASS (SKIP least). */
enum vfiomig_verdict conf_worse(enum vfiomig_verdict a, enum vfiomig_verdict b);
/* Ends a session some way other than by an arc (a reset, a reopen). */
typedef int (*conf_end_fn)(struct conf_run *run);
/*
 * For each session state the device has (STOP_COPY, RESUMING, PRE_COPY):
 * a session, ended by @end, then one read or write of its fd, judged by
 * @judge; says in @d what each gave ("STOP_COPY fd after @what: ENODEV").
 * Returns the worst verdict.
 */
enum vfiomig_verdict conf_sessions_after(struct conf_run *run, conf_end_fn end, const char *what,
					 enum vfiomig_verdict (*judge)(ssize_t), char *d, size_t n);
/* Close @fd if open. */
void conf_close(int *fd);

/* Room for a detail's lead (conf_lead()). */
#define DETAIL_HEAD 128
/* Puts @head before what @d says so far (joined by ": "), and "; and N more" after. */
void conf_lead(char *d, size_t n, const char *head, unsigned int more);
/* Appends to a detail. */
void conf_say(char *d, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
