/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig-ctl conformance DEVICE [--twin DEVICE2] [--only AREA]...: the
 * protocol checker (libvfiomig-conformance, vfiomig/conformance.h) with a
 * report for people or, with --json, one document for a CI system to keep.
 */
#include <errno.h>
#include <string.h>

#include <vfiomig/conformance.h>

#include "args.h"
#include "describe.h"
#include "json-writer.h"
#include "util.h"

enum { OPT_TWIN = 0x200, OPT_ONLY, OPT_LIST };

struct conf_args {
	const char *device, *twin;
	unsigned int areas;
	bool list;
};

/* --only AREA[,AREA...], repeatable. */
static int add_areas(struct ctl *ctl, char *list, unsigned int *areas)
{
	char *save = NULL;

	for (char *a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
		enum vfiomig_conformance_area area;

		if (vfiomig_conformance_area_parse(a, &area) < 0)
			return ctl_usage(ctl, "unknown area '%s' for --only (use features, arcs, "
					 "data, reset, twin or robustness)", a);
		*areas |= area;
	}
	return ARGS_CONTINUE;
}

static int parse(struct ctl *ctl, int argc, char **argv, struct conf_args *a)
{
	static const struct option opts[] = {
		ARGS_COMMON_LONG,
		{ "twin", required_argument, NULL, OPT_TWIN },
		{ "only", required_argument, NULL, OPT_ONLY },
		{ "list", no_argument, NULL, OPT_LIST },
		{ 0 },
	};
	static const char *const names[] = { "DEVICE" };
	int c, r;

	args_begin();
	while ((c = getopt_long(argc, argv, ARGS_COMMON_SHORT, opts, NULL)) >= 0) {
		r = ARGS_CONTINUE;
		if (c == OPT_TWIN)
			a->twin = optarg;
		else if (c == OPT_ONLY)
			r = add_areas(ctl, optarg, &a->areas);
		else if (c == OPT_LIST)
			a->list = true;
		else
			r = args_common(ctl, c, argv);
		if (r != ARGS_CONTINUE)
			return r;
	}
	r = args_positional(ctl, argc, argv, a->list ? 0 : 1, a->list ? 0 : 1, names);
	if (r == ARGS_CONTINUE && !a->list)
		a->device = argv[optind];
	return r;
}

static void json_check(struct json_writer *w, const struct vfiomig_conformance_check *c)
{
	json_member_string(w, "id", c->id);
	json_member_string(w, "area", vfiomig_conformance_area_name(c->area));
	json_member_string(w, "rule", c->rule);
	json_member_string(w, "source", c->source);
	json_member_string(w, "impact", c->impact);
}

static void print_list(struct ctl *ctl)
{
	size_t n;
	const struct vfiomig_conformance_check *c = vfiomig_conformance_catalogue(&n);

	if (ctl->json)
		json_array_begin(ctl->jw);
	for (size_t i = 0; i < n; i++) {
		if (ctl->json) {
			json_object_begin(ctl->jw);
			json_check(ctl->jw, &c[i]);
			json_object_end(ctl->jw);
			continue;
		}
		ctl_printf(ctl, "%s\n    rule:   %s\n    source: %s\n    impact: %s\n", c[i].id,
			   c[i].rule, c[i].source, c[i].impact);
	}
	if (ctl->json)
		json_array_end(ctl->jw);
}

static const char *const verdict_words[] = { "PASS", "FAIL", "DEVIATION", "SKIP" };

/* What an interrupt cut short: the checks not run, and the library's word
 * on where the devices are. */
struct cut {
	const char *signal;	/* NULL: the run finished */
	size_t not_run;
	const char *message;
};

static void print_text(struct ctl *ctl, const struct vfiomig_conformance *rep,
		       const struct vfiomig_conformance_info *in, const struct cut *cut)
{
	unsigned int total = in->count[0] + in->count[1] + in->count[2] + in->count[3];
	char flags[96], a[256], b[256];

	ctl_printf(ctl, "device:  %s (driver %s, %s)\n",
		   describe_printable(a, sizeof(a), in->device),
		   in->driver[0] ? describe_printable(b, sizeof(b), in->driver) : "unknown",
		   describe_flags(flags, sizeof(flags), in->mig_flags));
	ctl_printf(ctl, "twin:    %s\n\n", in->twin ? describe_printable(a, sizeof(a), in->twin) :
		   "none");
	for (size_t i = 0; i < vfiomig_conformance_get_count(rep); i++) {
		const struct vfiomig_conformance_result *r = vfiomig_conformance_get_result(rep, i);

		ctl_printf(ctl, "%-9s  %s: %s\n", verdict_words[r->verdict], r->check->id, r->detail);
		if (r->verdict == VFIOMIG_VERDICT_FAIL || r->verdict == VFIOMIG_VERDICT_DEVIATION)
			ctl_printf(ctl, "           rule: %s (%s)\n           for a VMM: %s\n",
				   r->check->rule, r->check->source, r->check->impact);
	}
	ctl_printf(ctl, "\n%u %s: %u pass, %u fail, %u deviation, %u skipped", total,
		   plural(total, "check", "checks"), in->count[0], in->count[1], in->count[2],
		   in->count[3]);
	if (cut->signal)
		ctl_printf(ctl, "; %zu not run: interrupted by %s", cut->not_run, cut->signal);
	ctl_printf(ctl, "\n");
}

static void json_cut(struct json_writer *w, const struct cut *cut)
{
	json_name(w, "interrupted");
	if (!cut->signal) {
		json_null(w);
		return;
	}
	json_object_begin(w);
	json_member_string(w, "signal", cut->signal);
	json_member_uint(w, "not_run", cut->not_run);
	json_member_string(w, "message", cut->message);
	json_object_end(w);
}

static void print_json(struct ctl *ctl, const struct vfiomig_conformance *rep,
		       const struct vfiomig_conformance_info *in, const struct cut *cut)
{
	struct json_writer *w = ctl->jw;

	json_object_begin(w);
	json_member_string(w, "device", in->device);
	json_member_string(w, "driver", in->driver);
	json_member_string(w, "twin", in->twin);
	json_name(w, "migration_flags");
	json_flags(w, in->mig_flags);
	json_name(w, "checks");
	json_array_begin(w);
	for (size_t i = 0; i < vfiomig_conformance_get_count(rep); i++) {
		const struct vfiomig_conformance_result *r = vfiomig_conformance_get_result(rep, i);

		json_object_begin(w);
		json_check(w, r->check);
		json_member_string(w, "verdict", vfiomig_verdict_name(r->verdict));
		json_member_string(w, "detail", r->detail);
		json_object_end(w);
	}
	json_array_end(w);
	json_name(w, "summary");
	json_object_begin(w);
	for (int v = 0; v < 4; v++)
		json_member_uint(w, vfiomig_verdict_name(v), in->count[v]);
	json_object_end(w);
	json_cut(w, cut);
	json_object_end(w);
}

/* The checks of @areas (0: all). */
static size_t chosen(unsigned int areas)
{
	size_t n, k = 0;
	const struct vfiomig_conformance_check *c = vfiomig_conformance_catalogue(&n);

	for (size_t i = 0; i < n; i++)
		k += !areas || (areas & c[i].area);
	return k;
}

/*
 * The report; @r: the run's return, -ECANCELED when an interrupt cut it
 * short: the checks that ended are printed, and the error says where the
 * devices were put back.
 */
static int report(struct ctl *ctl, const struct conf_args *a, const struct vfiomig_conformance *rep,
		  struct vfiomig_ctx *vctx, int r)
{
	struct vfiomig_conformance_info in = { .sz = sizeof(in) };
	struct cut cut = { NULL, 0, NULL };
	size_t count = vfiomig_conformance_get_count(rep);
	unsigned int failed;
	struct ctl_lib_error e;

	vfiomig_conformance_get_info(rep, &in);
	failed = in.count[VFIOMIG_VERDICT_FAIL];
	if (r == -ECANCELED) {
		ctl_lib_error_take(vctx, r, &e);
		cut = (struct cut){ ctl_signal_name(ctl_interrupt_signal()),
				    chosen(a->areas) - count, e.message };
	}
	(ctl->json ? print_json : print_text)(ctl, rep, &in, &cut);
	if (!failed && !cut.signal)
		return EXIT_OK;
	ctl->print_on_failure = true;
	if (cut.signal)
		return ctl_fail_lib_error(ctl, a->device, &e);
	return ctl_fail_on(ctl, EPROTO, a->device, "%u of %zu %s failed: the driver does "
			   "not do what the protocol's documentation says", failed, count,
			   plural(count, "check", "checks"));
}

/* Said as a second interrupt kills: the run was putting them back. */
static void set_at_stake(struct ctl *ctl, const struct conf_args *a)
{
	char dev[256], twin[256];

	if (a->twin)
		ctl_set_at_stake(ctl, "%s and its twin %s may be left in any state: reset both "
				 "before use", describe_printable(dev, sizeof(dev), a->device),
				 describe_printable(twin, sizeof(twin), a->twin));
	else
		ctl_set_at_stake(ctl, "%s may be left in any state: reset it before use",
				 describe_printable(dev, sizeof(dev), a->device));
}

/*
 * A twin that is the device itself (under another spec) is the usage
 * error every command gives a device named twice (ctl_open()).  The
 * checker opens both itself, and runs only on devices nothing else holds:
 * they are closed again here.
 */
static int check_twin(struct ctl *ctl, struct vfiomig_ctx *vctx, const struct conf_args *a)
{
	struct vfiomig_dev *dev, *twin = NULL;
	int r = ctl_open(ctl, vctx, a->device, &dev);

	if (r == EXIT_OK)
		r = ctl_open(ctl, vctx, a->twin, &twin);
	vfiomig_dev_unref(twin);
	vfiomig_dev_unref(dev);
	ctl_forget_devices(ctl);
	return r;
}

int cmd_conformance(struct ctl *ctl, int argc, char **argv)
{
	struct conf_args a = { 0 };
	struct vfiomig_conformance_opts o = { .sz = sizeof(o) };
	struct vfiomig_conformance *rep = NULL;
	struct vfiomig_ctx *vctx = NULL;
	int r = parse(ctl, argc, argv, &a);

	if (r != ARGS_CONTINUE)
		return r;
	if (a.list) {
		print_list(ctl);
		return EXIT_OK;
	}
	r = ctl_context_new(ctl, &vctx);
	if (r == EXIT_OK && a.twin)
		r = check_twin(ctl, vctx, &a);
	if (r != EXIT_OK) {
		vfiomig_ctx_unref(vctx);
		return r;
	}
	o.twin = a.twin;
	o.areas = a.areas;
	o.cancel = ctl_cancel();	/* an interrupt stops it at the next step */
	set_at_stake(ctl, &a);
	r = vfiomig_conformance_run(vctx, a.device, &o, &rep);
	ctl_set_at_stake(ctl, NULL);
	if (r < 0 && r != -ECANCELED)
		r = ctl_fail_open(ctl, vctx, a.device, r);
	else
		r = report(ctl, &a, rep, vctx, r);
	vfiomig_conformance_free(rep);
	vfiomig_ctx_unref(vctx);
	return r;
}
