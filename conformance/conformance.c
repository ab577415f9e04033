// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The conformance checker: the catalogue, the run, and the report.  The
 * checks themselves are in conformance-<area>.c; docs/conformance.md is
 * the catalogue for people, and tests/cli/test-docs.py keeps it complete.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "call.h"
#include "log.h"
#include "sigpipe.h"
#include "sized.h"
#include "util.h"

#define VFIO_H "include/uapi/linux/vfio.h: "

#define CHECK(a, i, r, s, m) \
	{ .id = i, .area = VFIOMIG_CONF_##a, .rule = r, .source = s, .impact = m }

static const struct vfiomig_conformance_check catalogue[] = {
	CHECK(FEATURES, "features.migration-flags",
	      "VFIO_DEVICE_FEATURE_MIGRATION reports STOP_COPY, alone or with P2P and/or "
	      "PRE_COPY, and no undefined bit",
	      VFIO_H "VFIO_DEVICE_FEATURE_MIGRATION (\"at least VFIO_MIGRATION_STOP_COPY "
	      "must be set\"; \"Other combinations of flags have behavior to be defined in "
	      "the future\")",
	      "a VMM decides which states exist from these bits; an unknown bit is one it "
	      "cannot honour"),
	CHECK(FEATURES, "features.data-size",
	      "VFIO_DEVICE_FEATURE_MIG_DATA_SIZE exists and estimates, not below, the "
	      "length a STOP_COPY stream then has",
	      VFIO_H "VFIO_DEVICE_FEATURE_MIG_DATA_SIZE (\"the estimated data length that "
	      "will be required to complete stop copy\")",
	      "QEMU plans the downtime with this estimate: too low and the switchover "
	      "overruns the downtime limit, missing and QEMU cannot plan at all"),
	CHECK(FEATURES, "features.dma-logging-probe",
	      "a PROBE of DMA_LOGGING_START answers as DMA_LOGGING_START itself does",
	      VFIO_H "VFIO_DEVICE_FEATURE (a feature \"can be probed by setting both the "
	      "FEATURE_MASK and PROBE bits\"), VFIO_DEVICE_FEATURE_DMA_LOGGING_START",
	      "a VMM picks device or IOMMU dirty tracking by the PROBE; a wrong answer "
	      "fails the migration at its start, or tracks nothing"),
	CHECK(FEATURES, "features.precopy-infov2",
	      "VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 is either supported or answers ENOTTY",
	      VFIO_H "VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 (Linux 7.1); a feature a driver "
	      "lacks answers ENOTTY (vfio_pci_core_ioctl_feature())",
	      "user space probes it to know whether PRECOPY_INFO's flags mean anything"),
	CHECK(ARCS, "arcs.accepted",
	      "every state the flags allow is reached from every other by one SET; "
	      "afterwards GET reports it, and a data fd comes back exactly when the last "
	      "arc opens one",
	      VFIO_H "enum vfio_device_mig_state (its arcs; \"The remaining possible "
	      "transitions are interpreted as combinations of the above FSM arcs\"; the "
	      "saving and resuming arcs \"will return a new data_fd\")",
	      "a VMM's migration stops at the first arc the driver refuses or lands wrong"),
	CHECK(ARCS, "arcs.unreachable-refused",
	      "a target without a path (ERROR, a state outside the flags, an unknown "
	      "number) is refused with EINVAL and the state does not change",
	      VFIO_H "enum vfio_device_mig_state (\"ERROR cannot be specified as a device "
	      "state\"; \"The optional states cannot be used with SET_STATE if the device "
	      "does not support them\"); drivers/vfio/vfio_main.c: vfio_mig_get_next_state()",
	      "a driver that takes an impossible target leaves the VMM with a state it "
	      "never asked for"),
	CHECK(ARCS, "arcs.failed-set-state",
	      "after a SET fails, GET reports a state on the way from the old state to the "
	      "target, or ERROR",
	      VFIO_H "VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE (\"may be the original operating "
	      "state or some other state along the combination transition path\"), and "
	      "\"any -> ERROR\"",
	      "a VMM recovers from the state GET reports; a state off the path makes it "
	      "undo the wrong thing"),
	CHECK(DATA, "data.stop-copy-end",
	      "reads of a STOP_COPY data fd end with 0 (end of stream)",
	      VFIO_H "VFIO_MIG_GET_PRECOPY_INFO (\"Once in STOP_COPY the migration data FD "
	      "has a permanent end of stream signaled in the usual way by read() always "
	      "returning 0\"; \"ENOMSG may not be returned in STOP_COPY\")",
	      "a VMM sends the stream until read() gives 0; anything else fails the "
	      "migration at its last step"),
	CHECK(DATA, "data.precopy-temporary-end",
	      "a read of a PRE_COPY data fd with nothing available now gives ENOMSG",
	      VFIO_H "VFIO_MIG_GET_PRECOPY_INFO (\"When read() is done on this temporary end "
	      "of stream the kernel driver should return ENOMSG from read()\")",
	      "with 0 instead, user space cannot tell the temporary end from the end of "
	      "the stream, and must ask PRECOPY_INFO after every 0"),
	CHECK(DATA, "data.precopy-info-outside",
	      "VFIO_MIG_GET_PRECOPY_INFO fails with EINVAL outside PRE_COPY and "
	      "PRE_COPY_P2P",
	      VFIO_H "VFIO_MIG_GET_PRECOPY_INFO (\"valid only in PRE_COPY states and kernel "
	      "driver should return -EINVAL from any other migration state\")",
	      "a VMM that polls PRECOPY_INFO to decide when to switch over reads numbers "
	      "that mean nothing"),
	CHECK(DATA, "data.initial-bytes",
	      "initial_bytes never grows while the pre-copy stream is read, unless the "
	      "driver says VFIO_PRECOPY_INFO_REINIT",
	      VFIO_H "VFIO_MIG_GET_PRECOPY_INFO (initial_bytes \"should have a non-zero "
	      "initial value and decrease as migration data is read\"); "
	      "VFIO_PRECOPY_INFO_REINIT (Linux 7.1)",
	      "QEMU waits for initial_bytes to reach 0 before it switches over; a growing "
	      "count stalls the migration"),
	CHECK(DATA, "data.ended-session-fd",
	      "once its session has ended, a data fd fails reads with ENODEV or EINVAL",
	      VFIO_H "enum vfio_device_mig_state (\"The STOP_COPY arc will terminate a "
	      "data transfer session\", and PRE_COPY -> RUNNING); mlx5, mtty and hisi_acc "
	      "answer ENODEV on a file they disabled",
	      "a VMM that keeps reading an ended session sends stale or no data without "
	      "an error"),
	CHECK(DATA, "data.resume-any-split",
	      "RESUMING takes the stream in writes of any size, 1 byte included",
	      VFIO_H "VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE (\"The user is not required to "
	      "preserve buffer segmentation when writing the data stream during the "
	      "RESUMING operation\")",
	      "a VMM writes what the network gave it; a driver that needs whole records "
	      "per write fails on a short packet"),
	CHECK(RESET, "reset.from-every-state",
	      "VFIO_DEVICE_RESET returns the device to RUNNING from every state",
	      VFIO_H "enum vfio_device_mig_state (\"To recover from ERROR VFIO_DEVICE_RESET "
	      "must be used to return the device_state back to RUNNING\"); every driver's "
	      "reset sets RUNNING",
	      "reset is how a VMM recovers a failed migration: a state it does not leave "
	      "loses the guest's device"),
	CHECK(RESET, "reset.ends-sessions",
	      "VFIO_DEVICE_RESET ends open sessions: their data fds fail afterwards",
	      "the drivers' reset paths disable their migration files (mlx5, mtty, "
	      "hisi_acc), as leaving a session by an arc does",
	      "a VMM that reset a device must not receive data from before the reset"),
	CHECK(RESET, "reset.flag-advertised",
	      "VFIO_DEVICE_GET_INFO advertises VFIO_DEVICE_FLAGS_RESET when reset works",
	      VFIO_H "VFIO_DEVICE_FLAGS_RESET (\"Device supports reset\")",
	      "a VMM that trusts the flag will not reset to recover, and tears the "
	      "device down instead"),
	CHECK(TWIN, "twin.load-and-run",
	      "a state saved from the device loads into its twin, which then runs",
	      VFIO_H "enum vfio_device_mig_state, STOP -> RESUMING (the stream \"should be "
	      "taken from the data transfer output of a single FD during saving from a "
	      "compatible device\")",
	      "this is the migration itself"),
	CHECK(TWIN, "twin.load-twice",
	      "the same stream loads into the twin a second time",
	      VFIO_H "enum vfio_device_mig_state, STOP -> RESUMING (\"The migration driver "
	      "may alter/reset the internal device state for this arc\")",
	      "a VMM retries a failed migration with the same saved state"),
	CHECK(TWIN, "twin.truncated-refused",
	      "a stream cut in half is refused, at a write or at RESUMING -> STOP",
	      VFIO_H "enum vfio_device_mig_state, RESUMING -> STOP (\"If the user provided "
	      "data is found to be incomplete, inconsistent, or otherwise invalid, the "
	      "migration driver must fail the SET_STATE ioctl\")",
	      "a destination that accepts a cut stream runs the guest on half a device"),
	CHECK(TWIN, "twin.corrupt-refused",
	      "a stream of garbage, and a stream with one byte flipped, are refused at a "
	      "write or at RESUMING -> STOP",
	      VFIO_H "enum vfio_device_mig_state, RESUMING -> STOP (\"If the user provided "
	      "data is found to be incomplete, inconsistent, or otherwise invalid, the "
	      "migration driver must fail the SET_STATE ioctl\")",
	      "a destination that accepts a corrupt stream runs the guest on a wrong "
	      "device state"),
	CHECK(TWIN, "twin.p2p-arcs",
	      "the twin also takes the P2P arcs (RUNNING <-> RUNNING_P2P <-> STOP, "
	      "PRE_COPY <-> PRE_COPY_P2P)",
	      VFIO_H "VFIO_DEVICE_FEATURE_MIGRATION (VFIO_MIGRATION_P2P) and the P2P "
	      "quiescent state of enum vfio_device_mig_state",
	      "with several devices a VMM moves each to a P2P state before any stops; a "
	      "destination that refuses one cannot run"),
	CHECK(ROBUSTNESS, "robustness.reopen-state",
	      "closing the device and opening it again finds it RUNNING",
	      "the close_device() of mlx5, pds and hisi_acc resets the migration state; "
	      "the protocol does not say (mtty keeps it)",
	      "a VMM opening a device left mid-migration by a crashed one inherits a "
	      "state whose data fd is gone (mtty 6.12 oopses on RESUMING -> STOP then); "
	      "it must reset first"),
	CHECK(ROBUSTNESS, "robustness.reopen-session",
	      "a saving or resuming session ends when the device is closed: its data fd "
	      "fails after the reopen",
	      "every driver's close_device() disables its migration files",
	      "a session that outlives its opener lets a second process read the first "
	      "one's device state"),
};

static const char *const area_names[] = {
	"features", "arcs", "data", "reset", "twin", "robustness",
};

static const conf_check_fn check_fns[] = {
	conf_migration_flags, conf_data_size, conf_logging_probe, conf_infov2,
	conf_arcs_accepted, conf_unreachable, conf_failed_set,
	conf_stop_copy_end, conf_precopy_end, conf_precopy_info_outside, conf_initial_bytes,
	conf_ended_fd, conf_resume_split,
	conf_reset_states, conf_reset_sessions, conf_reset_flag,
	conf_twin_load, conf_twin_twice, conf_twin_truncated, conf_twin_corrupt, conf_twin_p2p,
	conf_reopen_state, conf_reopen_session,
};

#define N_CHECKS ARRAY_SIZE(catalogue)
_Static_assert(ARRAY_SIZE(check_fns) == ARRAY_SIZE(catalogue), "a function for every check");

#define DETAIL_MAX 512

struct vfiomig_conformance {
	struct vfiomig_conformance_result results[N_CHECKS];
	char details[N_CHECKS][DETAIL_MAX];
	size_t n;
	/* copies, since the report outlives the devices: the library's names
	 * of a device are at most 63 bytes, of a driver 255 */
	char device[64], driver[256], twin[64];
	bool have_twin;
	uint64_t flags;
};

VFIOMIG_CONFORMANCE_API const struct vfiomig_conformance_check *
vfiomig_conformance_catalogue(size_t *ret_count)
{
	if (ret_count)
		*ret_count = N_CHECKS;
	return catalogue;
}

static int area_index(enum vfiomig_conformance_area area)
{
	for (size_t i = 0; i < ARRAY_SIZE(area_names); i++)
		if (area == 1u << i)
			return (int)i;
	return -1;
}

VFIOMIG_CONFORMANCE_API const char *
vfiomig_conformance_area_name(enum vfiomig_conformance_area area)
{
	int i = area_index(area);

	return i < 0 ? NULL : area_names[i];
}

VFIOMIG_CONFORMANCE_API int vfiomig_conformance_area_parse(const char *name,
							   enum vfiomig_conformance_area *ret)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(area_names); i++)
		if (!strcmp(name, area_names[i])) {
			*ret = (enum vfiomig_conformance_area)(1u << i);
			return 0;
		}
	return -EINVAL;
}

VFIOMIG_CONFORMANCE_API const char *vfiomig_verdict_name(enum vfiomig_verdict v)
{
	static const char *const names[] = { "pass", "fail", "deviation", "skip" };

	return (unsigned int)v < ARRAY_SIZE(names) ? names[v] : NULL;
}

/* The open's own sentence, and why the checker needs the device free. */
static int open_free_device(struct vfiomig_ctx *ctx, const char *spec, const char *role,
			    struct vfiomig_dev **ret)
{
	char note[160];
	int r = vfiomig_dev_open(ctx, spec, ret);

	if (r == -EBUSY) {
		snprintf(note, sizeof(note), "the conformance checker resets the %s and moves "
			 "it through every state, so it runs only on a device nothing else holds",
			 role);
		vfiomig_call_note(ctx, note);
	}
	return r;
}

static int open_devices(struct conf_run *run)
{
	uint64_t twin_flags = 0;
	int r = open_free_device(run->ctx, run->spec, "device", &run->dev);

	if (r < 0)
		return r;
	vfiomig_dev_get_mig_flags(run->dev, &run->flags);
	if (!run->twin_spec)
		return 0;
	r = open_free_device(run->ctx, run->twin_spec, "twin", &run->twin);
	if (r < 0)
		return r;
	if (vfiomig_dev_is_same(run->dev, run->twin) == 1)
		return vfiomig_fail(run->ctx, -EINVAL, "the twin %s is the device %s itself; give "
				    "a second device of the same model and driver",
				    vfiomig_dev_get_name(run->twin), vfiomig_dev_get_name(run->dev));
	vfiomig_dev_get_mig_flags(run->twin, &twin_flags);
	if (twin_flags != run->flags)
		return vfiomig_fail(run->ctx, -EINVAL, "the twin %s is not of the same kind as "
				    "%s: migration flags 0x%llx against 0x%llx; give a twin of "
				    "the same device model and driver", vfiomig_dev_get_name(run->twin),
				    vfiomig_dev_get_name(run->dev), (unsigned long long)twin_flags,
				    (unsigned long long)run->flags);
	return 0;
}

/* A check the cancel cut short is left out: its verdict would judge the cancel. */
static void run_check(struct conf_run *run, size_t i)
{
	struct vfiomig_conformance *c = run->report;
	struct vfiomig_conformance_result *res = &c->results[c->n];
	char *detail = c->details[c->n];

	res->check = &catalogue[i];
	res->detail = detail;
	detail[0] = 0;
	if (catalogue[i].area == VFIOMIG_CONF_TWIN && !run->twin) {
		res->verdict = VFIOMIG_VERDICT_SKIP;
		snprintf(detail, DETAIL_MAX, "no twin: give one (--twin) to load what the "
			 "device saved");
	} else if (!run->dev) {
		res->verdict = VFIOMIG_VERDICT_SKIP;
		snprintf(detail, DETAIL_MAX, "the device could not be opened again");
	} else {
		res->verdict = check_fns[i](run, detail, DETAIL_MAX);
	}
	if (conf_cancelled(run))
		return;
	c->n++;
	if (run->opts->on_result)
		run->opts->on_result(res, run->opts->userdata);
}

static void note_devices(struct conf_run *run)
{
	struct vfiomig_conformance *c = run->report;
	const char *driver = vfiomig_dev_get_driver(run->dev);

	snprintf(c->device, sizeof(c->device), "%s", vfiomig_dev_get_name(run->dev));
	snprintf(c->driver, sizeof(c->driver), "%s", driver ? driver : "");
	c->flags = run->flags;
	c->have_twin = run->twin != NULL;
	if (run->twin)
		snprintf(c->twin, sizeof(c->twin), "%s", vfiomig_dev_get_name(run->twin));
}

/* "; the device is back in RUNNING (reset)", or why it is not. */
static void say_put_back(char *buf, size_t size, const char *who, const struct vfiomig_dev *dev,
			 int r)
{
	size_t used = strlen(buf);
	char e[32];

	if (!dev)
		snprintf(buf + used, size - used, "; %s could not be opened again to put it back: "
			 "reset it before use", who);
	else if (r < 0)
		snprintf(buf + used, size - used, "; %s could not be put back in RUNNING (%s): "
			 "reset it before use", who, conf_errname(r, e, sizeof(e)));
	else
		snprintf(buf + used, size - used, "; %s is back in RUNNING (reset)", who);
}

/* A cancelled run's error: the checks it ran, and where each device was put back. */
static int say_cancelled(struct conf_run *run, size_t chosen, int dev_r, int twin_r)
{
	char fate[512] = "", twin[96];

	say_put_back(fate, sizeof(fate), "the device", run->dev, dev_r);
	snprintf(twin, sizeof(twin), "its twin %s", run->report->twin);
	if (run->twin)
		say_put_back(fate, sizeof(fate), twin, run->twin, twin_r);
	return vfiomig_fail(run->ctx, -ECANCELED, "cancelled after %zu of %zu %s%s",
			    run->report->n, chosen, plural(chosen, "check", "checks"), fate);
}

/*
 * The checks, as one call (vfiomig_call_ctx()): a run that ends leaves no
 * error behind, whatever the library's calls inside it met.  Mock data fds
 * are pipes: a write after their reader went must not kill the caller.
 * Returns 0; -ENOMEM; or -ECANCELED when the cancel left checks out (one
 * after the last check left none).
 */
static int run_all(void *arg)
{
	struct conf_run *run = arg;
	unsigned int areas = run->opts->areas ? run->opts->areas : VFIOMIG_CONF_ALL;
	struct sigpipe_guard sigpipe;
	size_t chosen = 0;
	int dev_r = 0, twin_r = 0;

	run->report = calloc(1, sizeof(*run->report));
	run->scratch = malloc(CONF_SCRATCH);
	if (!run->report || !run->scratch)
		return vfiomig_fail(run->ctx, -ENOMEM, "conformance: out of memory for the report "
				    "and a %u KiB buffer", CONF_SCRATCH >> 10);
	sigpipe_block(&sigpipe);
	note_devices(run);
	for (size_t i = 0; i < N_CHECKS; i++) {
		if (!(areas & catalogue[i].area))
			continue;
		chosen++;
		if (!conf_cancelled(run))
			run_check(run, i);
	}
	if (run->dev)
		dev_r = conf_fresh(run->dev);
	if (run->twin)
		twin_r = conf_fresh(run->twin);
	sigpipe_restore(&sigpipe);
	if (run->report->n == chosen)
		return 0;
	return say_cancelled(run, chosen, dev_r, twin_r);
}

/* The caller's @opts into @o, which grows by the sz rule. */
static int check_args(struct vfiomig_ctx *ctx, const char *spec,
		      const struct vfiomig_conformance_opts *opts,
		      struct vfiomig_conformance **ret, struct vfiomig_conformance_opts *o)
{
	if (!spec || !ret)
		return vfiomig_fail(ctx, -EINVAL, "conformance: no device spec or no place for "
				    "the report");
	if (sized_copy_in(o, sizeof(*o), opts) < 0)
		return vfiomig_fail(ctx, -EINVAL, "struct vfiomig_conformance_opts: sz is wrong "
				    "or unknown fields are set");
	if (o->areas & ~(unsigned int)VFIOMIG_CONF_ALL)
		return vfiomig_fail(ctx, -EINVAL, "conformance: unknown area bits 0x%x",
				    o->areas & ~(unsigned int)VFIOMIG_CONF_ALL);
	return 0;
}

/*
 * The argument checks and the opens come before the checks' call: each
 * open is a public call of its own (vfiomig_dev_open()), and its sentence
 * is the run's when it fails.  A failure here is recorded as a call's is.
 */
VFIOMIG_CONFORMANCE_API int vfiomig_conformance_run(struct vfiomig_ctx *ctx, const char *spec,
						    const struct vfiomig_conformance_opts *opts,
						    struct vfiomig_conformance **ret)
{
	struct vfiomig_conformance_opts o = { .sz = sizeof(o) };
	struct conf_run run = { .ctx = ctx, .spec = spec, .opts = &o };
	int r;

	if (!ctx)
		return -EINVAL;
	r = check_args(ctx, spec, opts, ret, &o);
	run.twin_spec = o.twin;
	run.cancel = o.cancel;
	if (r == 0)
		r = open_devices(&run);
	if (r == 0)
		r = vfiomig_call_ctx(ctx, run_all, &run);
	vfiomig_dev_unref(run.dev);
	vfiomig_dev_unref(run.twin);
	free(run.image.buf);
	free(run.scratch);
	if (r < 0 && r != -ECANCELED) {
		free(run.report);
		return r;
	}
	*ret = run.report;	/* cancelled: the checks that ended before */
	return r;
}

VFIOMIG_CONFORMANCE_API size_t vfiomig_conformance_get_count(const struct vfiomig_conformance *c)
{
	return c ? c->n : 0;
}

VFIOMIG_CONFORMANCE_API const struct vfiomig_conformance_result *
vfiomig_conformance_get_result(const struct vfiomig_conformance *c, size_t i)
{
	return c && i < c->n ? &c->results[i] : NULL;
}

VFIOMIG_CONFORMANCE_API int vfiomig_conformance_get_info(const struct vfiomig_conformance *c,
							 struct vfiomig_conformance_info *info)
{
	struct vfiomig_conformance_info out = { .sz = sizeof(out) };

	if (!c || sized_check_out(info) < 0)
		return -EINVAL;
	out.device = c->device;
	out.driver = c->driver;
	out.twin = c->have_twin ? c->twin : NULL;
	out.mig_flags = c->flags;
	for (size_t i = 0; i < c->n; i++)
		out.count[c->results[i].verdict]++;
	sized_copy_out(info, &out, sizeof(out));
	return 0;
}

VFIOMIG_CONFORMANCE_API struct vfiomig_conformance *
vfiomig_conformance_free(struct vfiomig_conformance *c)
{
	free(c);
	return NULL;
}
