/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig-ctl inspect [--raw [--backend generic|mlx5|xe|mock]] [FILE|-]: verify a
 * saved stream without a device (vfiomig_stream_inspect()) and describe
 * it.  An invalid stream is still described, with the first problem and
 * its offset, and the exit status is 1.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "args.h"
#include "describe.h"
#include "json-writer.h"
#include "stream-file.h"
#include "units.h"
#include "util.h"

#define MAX_KINDS 64
#define MAX_DEVICES VFIOMIG_GROUP_MAX	/* the most a group's stream carries */
#define STR 256

struct kind {
	char name[48];
	uint32_t type;
	uint64_t count, bytes;
};

struct device {
	uint32_t index;
	struct pci_ids pci;
	uint64_t flags, stop_copy_size;
	char name[STR], driver[STR], backend[STR], kernel[STR], library[STR], mdev_type[STR];
};

struct result {
	const char *file;
	bool raw;
	struct kind kinds[MAX_KINDS];
	size_t nkinds;
	struct device devices[MAX_DEVICES];
	size_t ndevices;
	struct vfiomig_stream_summary sum;
};

static void on_identity(void *userdata, uint32_t index, const struct vfiomig_stream_identity *id)
{
	struct result *res = userdata;
	struct device *d;

	if (res->ndevices == MAX_DEVICES)
		return;	/* the summary still counts them */
	d = &res->devices[res->ndevices++];
	*d = (struct device){ .index = index, .flags = id->mig_flags,
			      .stop_copy_size = id->stop_copy_size };
	d->pci = (struct pci_ids){ .known = id->has_pci_ids, .vendor = id->vendor,
				   .device = id->device, .subsystem_vendor = id->subsystem_vendor,
				   .subsystem_device = id->subsystem_device, .revision = id->revision };
	snprintf(d->name, STR, "%s", id->name ? id->name : "");
	snprintf(d->driver, STR, "%s", id->driver ? id->driver : "");
	snprintf(d->backend, STR, "%s", id->backend ? id->backend : "");
	snprintf(d->kernel, STR, "%s", id->kernel ? id->kernel : "");
	snprintf(d->library, STR, "%s", id->library ? id->library : "");
	snprintf(d->mdev_type, STR, "%s", id->mdev_type ? id->mdev_type : "");
}

static struct kind *find_kind(struct result *res, const char *name, uint32_t type)
{
	char key[sizeof(res->kinds[0].name)];

	/* Unknown types are told apart by number. */
	if (strstr(name, "unknown"))
		snprintf(key, sizeof(key), "%.30s 0x%x", name, type);
	else
		snprintf(key, sizeof(key), "%s", name);
	for (size_t i = 0; i < res->nkinds; i++)
		if (strcmp(res->kinds[i].name, key) == 0)
			return &res->kinds[i];
	if (res->nkinds == MAX_KINDS)
		return &res->kinds[MAX_KINDS - 1];	/* "other" */
	if (res->nkinds == MAX_KINDS - 1)
		snprintf(key, sizeof(key), "other");
	res->kinds[res->nkinds] = (struct kind){ .type = type };
	snprintf(res->kinds[res->nkinds].name, sizeof(key), "%s", key);
	return &res->kinds[res->nkinds++];
}

static void on_record(void *userdata, const struct vfiomig_stream_record *rec)
{
	struct kind *k = find_kind(userdata, rec->kind ? rec->kind : "unknown", rec->type);

	k->count++;
	k->bytes += rec->length;
}

static const struct kind *kind_named(const struct result *res, const char *name)
{
	for (size_t i = 0; i < res->nkinds; i++)
		if (strcmp(res->kinds[i].name, name) == 0)
			return &res->kinds[i];
	return NULL;
}

static uint64_t kind_bytes(const struct result *res, const char *name)
{
	const struct kind *k = kind_named(res, name);

	return k ? k->bytes : 0;
}

static uint64_t kind_count(const struct result *res, const char *name)
{
	const struct kind *k = kind_named(res, name);

	return k ? k->count : 0;
}

static void text_device(struct ctl *ctl, const struct device *d)
{
	char a[STR], b[STR], size[UNITS_BUF];

	snprintf(b, sizeof(b), "device %u:", d->index);
	ctl_printf(ctl, "%-14s %s\n", b, describe_printable(a, sizeof(a), d->name));
	ctl_printf(ctl, "  driver:      %s\n", describe_printable(a, sizeof(a), d->driver));
	ctl_printf(ctl, "  backend:     %s\n", describe_printable(a, sizeof(a), d->backend));
	ctl_printf(ctl, "  pci:         %s\n", describe_pci(a, sizeof(a), &d->pci));
	if (d->mdev_type[0])
		ctl_printf(ctl, "  mdev type:   %s\n", describe_printable(a, sizeof(a), d->mdev_type));
	ctl_printf(ctl, "  flags:       %s\n", describe_flags(a, sizeof(a), d->flags));
	if (d->stop_copy_size)
		ctl_printf(ctl, "  stop-copy:   %s estimated\n", format_bytes(size, d->stop_copy_size));
	ctl_printf(ctl, "  saved by:    %s on Linux %s\n", describe_printable(a, sizeof(a), d->library),
		   describe_printable(b, sizeof(b), d->kernel));
}

/* Input whose first bytes are no stream's (or none at all): no version
 * is claimed for it (a stream cut inside its preamble has a problem
 * further on). */
static bool not_a_stream(const struct result *res)
{
	return !res->raw && !res->sum.version_major && res->sum.problem_offset == 0;
}

/*
 * The input's size (a regular file's whole, or what was read of another
 * up to the problem), what was read of it, and for a damaged stream how
 * far it is valid.  A raw stream has no identity, so no device is
 * counted (as in JSON, "devices": []).
 */
static void text_size(struct ctl *ctl, const struct result *res)
{
	const struct vfiomig_stream_summary *s = &res->sum;
	char a[UNITS_BUF];

	ctl_printf(ctl, "size:          %s%s (%" PRIu64 " %s%s)", s->bytes_whole ? "" : "at least ",
		   format_bytes(a, s->bytes), s->bytes, plural(s->bytes, "byte", "bytes"),
		   s->bytes_whole ? "" : " read: it was not read past the problem");
	if (!res->raw && !s->version_major) {	/* no record could be read */
		ctl_printf(ctl, "\n");
		if (not_a_stream(res))
			return;
	} else {
		ctl_printf(ctl, ", %" PRIu64 " %s", s->records,
			   plural(s->records, "record", "records"));
		if (!res->raw)
			ctl_printf(ctl, ", %u %s", s->devices,
				   plural(s->devices, "device", "devices"));
		ctl_printf(ctl, "%s\n", s->valid ? "" : " read");
	}
	if (s->valid)
		return;
	if (s->problem_offset >= s->bytes)
		ctl_printf(ctl, "valid part:    all of it, but incomplete\n");
	else if (s->problem_offset)
		ctl_printf(ctl, "valid part:    the first %s (%" PRIu64 " %s)\n",
			   format_bytes(a, s->problem_offset), s->problem_offset,
			   plural(s->problem_offset, "byte", "bytes"));
	else
		ctl_printf(ctl, "valid part:    none\n");
}

/*
 * An xe VF's state: its VRAM against the rest (GGTT, MMIO, GuC), which is
 * what its stop-copy, and so the guest's downtime, consists of.
 */
static void text_xe_vram(struct ctl *ctl, const struct result *res)
{
	uint64_t all = 0, vram = kind_bytes(res, "xe VRAM");
	char a[UNITS_BUF], b[UNITS_BUF], c[UNITS_BUF];

	for (size_t i = 0; i < res->nkinds; i++)
		if (strncmp(res->kinds[i].name, "xe ", 3) == 0)
			all += res->kinds[i].bytes;
	if (!kind_count(res, "xe DESCRIPTOR"))
		return;
	ctl_printf(ctl, "vram:          %s of the xe state's %s (%" PRIu64 "%%), the rest %s\n",
		   format_bytes(a, vram), format_bytes(b, all), all ? vram * 100 / all : 0,
		   format_bytes(c, all - vram));
}

static void print_text(struct ctl *ctl, const struct result *res)
{
	const struct vfiomig_stream_summary *s = &res->sum;
	char a[UNITS_BUF], b[UNITS_BUF];

	if (res->raw)
		ctl_printf(ctl, "stream:        raw, backend %s: read as a device's bare bytes\n",
			   s->backend);
	else if (not_a_stream(res))
		ctl_printf(ctl, "stream:        not a vfiomig stream\n");
	else if (!s->version_major)
		ctl_printf(ctl, "stream:        vfiomig, cut before its version\n");
	else
		ctl_printf(ctl, "stream:        vfiomig %u.%u\n", s->version_major, s->version_minor);
	text_size(ctl, res);
	for (size_t i = 0; i < res->ndevices; i++)
		text_device(ctl, &res->devices[i]);
	if (res->nkinds)
		ctl_printf(ctl, "records:\n");
	for (size_t i = 0; i < res->nkinds; i++)
		ctl_printf(ctl, "  %-22s %8" PRIu64 "  %s\n", res->kinds[i].name, res->kinds[i].count,
			   format_bytes(a, res->kinds[i].bytes));
	text_xe_vram(ctl, res);
	if (!res->raw && s->version_major) {
		uint64_t rounds = kind_count(res, "PRECOPY_ROUND");

		ctl_printf(ctl, "phases:        pre-copy %s in %" PRIu64 " %s, stop-copy %s\n",
			   format_bytes(a, kind_bytes(res, "DATA_PRECOPY")), rounds,
			   plural(rounds, "round", "rounds"),
			   format_bytes(b, kind_bytes(res, "DATA_STOP_COPY")));
	}
	if (res->raw && s->begins_as_stream)
		ctl_printf(ctl, "note:          it begins as a vfiomig stream: inspect it without "
			   "--raw to verify it as one\n");
	if (s->valid)
		ctl_printf(ctl, "valid:         yes%s\n", res->raw ? ", as raw device data" : "");
	else
		ctl_printf(ctl, "valid:         no, at offset %" PRIu64 ": %s\n", s->problem_offset,
			   s->problem);
}

static void json_device(struct json_writer *w, const struct device *d)
{
	json_object_begin(w);
	json_member_uint(w, "index", d->index);
	json_member_string(w, "name", d->name);
	json_member_string(w, "driver", d->driver);
	json_member_string(w, "backend", d->backend);
	json_name(w, "pci");
	json_pci(w, &d->pci);
	if (d->mdev_type[0])
		json_member_string(w, "mdev_type", d->mdev_type);
	else
		json_member_null(w, "mdev_type");
	json_name(w, "migration_flags");
	json_flags(w, d->flags);
	if (d->stop_copy_size)
		json_member_uint(w, "stop_copy_size", d->stop_copy_size);
	else
		json_member_null(w, "stop_copy_size");
	json_member_string(w, "kernel", d->kernel);
	json_member_string(w, "library", d->library);
	json_object_end(w);
}

static void json_format(struct json_writer *w, const struct result *res)
{
	char version[32];

	json_name(w, "format");
	if (res->raw || !res->sum.version_major) {	/* raw, or no stream's version */
		json_null(w);
		return;
	}
	snprintf(version, sizeof(version), "%u.%u", res->sum.version_major, res->sum.version_minor);
	json_object_begin(w);
	json_member_string(w, "version", version);
	json_member_uint(w, "major", res->sum.version_major);
	json_member_uint(w, "minor", res->sum.version_minor);
	json_object_end(w);
}

static void json_records(struct json_writer *w, const struct result *res)
{
	json_name(w, "record_types");
	json_object_begin(w);
	for (size_t i = 0; i < res->nkinds; i++) {
		json_name(w, res->kinds[i].name);
		json_object_begin(w);
		json_member_uint(w, "type", res->kinds[i].type);
		json_member_uint(w, "count", res->kinds[i].count);
		json_member_uint(w, "bytes", res->kinds[i].bytes);
		json_object_end(w);
	}
	json_object_end(w);
	json_name(w, "phases");
	json_object_begin(w);
	json_member_uint(w, "precopy_bytes", kind_bytes(res, "DATA_PRECOPY"));
	json_member_uint(w, "precopy_rounds", kind_count(res, "PRECOPY_ROUND"));
	json_member_uint(w, "stop_copy_bytes", kind_bytes(res, "DATA_STOP_COPY"));
	json_object_end(w);
}

static void print_json(struct ctl *ctl, const struct result *res)
{
	const struct vfiomig_stream_summary *s = &res->sum;
	struct json_writer *w = ctl->jw;

	json_object_begin(w);
	json_member_string(w, "file", res->file);
	json_member_bool(w, "raw", res->raw);
	json_format(w, res);
	json_member_string(w, "backend", res->raw ? s->backend : NULL);
	json_member_uint(w, "bytes", s->bytes);
	json_member_bool(w, "bytes_whole", s->bytes_whole);
	json_member_uint(w, "records", s->records);
	json_name(w, "devices");
	json_array_begin(w);
	for (size_t i = 0; i < res->ndevices; i++)
		json_device(w, &res->devices[i]);
	json_array_end(w);
	json_records(w, res);
	if (res->raw)
		json_member_bool(w, "begins_as_stream", s->begins_as_stream);
	else
		json_member_null(w, "begins_as_stream");
	json_member_bool(w, "valid", s->valid);
	json_member_string(w, "problem", s->valid ? NULL : s->problem);
	if (s->valid)
		json_member_null(w, "offset");
	else
		json_member_uint(w, "offset", s->problem_offset);
	json_object_end(w);
}

static int parse(struct ctl *ctl, int argc, char **argv, struct result *res,
		 const char **backend)
{
	static const struct option opts[] = {
		ARGS_COMMON_LONG,
		{ "raw", no_argument, NULL, OPT_RAW },
		{ "backend", required_argument, NULL, OPT_BACKEND },
		{ 0 }
	};
	static const char *const names[] = { "FILE" };
	int c, r = ARGS_CONTINUE;

	args_begin();
	while (r == ARGS_CONTINUE &&
	       (c = getopt_long(argc, argv, ARGS_COMMON_SHORT, opts, NULL)) >= 0) {
		if (c == OPT_RAW)
			res->raw = true;
		else if (c == OPT_BACKEND)
			*backend = optarg;
		else
			r = args_common(ctl, c, argv);
	}
	if (r == ARGS_CONTINUE)
		r = args_positional(ctl, argc, argv, 0, 1, names);
	if (r != ARGS_CONTINUE)
		return r;
	if (*backend && !res->raw)
		return ctl_usage(ctl, "--backend describes a raw stream; add --raw");
	if (*backend && strcasecmp(*backend, "generic") == 0)
		*backend = "generic";
	else if (*backend && strcasecmp(*backend, "mlx5") == 0)
		*backend = "mlx5";
	else if (*backend && strcasecmp(*backend, "xe") == 0)
		*backend = "xe";
	else if (*backend && strcasecmp(*backend, "mock") == 0)
		*backend = "mock";
	else if (*backend)
		return ctl_usage(ctl, "--backend %s: expected generic, mlx5, xe or mock", *backend);
	res->file = optind < argc ? argv[optind] : "-";
	return ARGS_CONTINUE;
}

static int inspect(struct ctl *ctl, struct vfiomig_ctx *vctx, struct result *res,
		   const char *backend)
{
	const struct vfiomig_inspect_ops ops = {
		.sz = sizeof(ops), .identity = on_identity, .record = on_record,
		.cancel = ctl_cancel(),		/* an interrupt stops the reading */
	};
	const char *subject = strcmp(res->file, "-") == 0 ? "stdin" : res->file;
	struct stream_file in;
	int r, e;

	r = stream_open_input(ctl, res->file, &in);
	if (r != EXIT_OK)
		return r;
	res->sum.sz = sizeof(res->sum);
	e = vfiomig_stream_inspect(vctx, in.fd, res->raw ? VFIOMIG_INSPECT_RAW : 0,
				   backend, &ops, res, &res->sum);
	stream_close(ctl, &in, true);
	if (e < 0)
		return ctl_fail_lib(ctl, vctx, subject, e);
	(ctl->json ? print_json : print_text)(ctl, res);
	if (res->sum.valid)
		return EXIT_OK;
	ctl->print_on_failure = true;
	return ctl_fail_on(ctl, EBADMSG, subject, "invalid stream at offset %" PRIu64 ": %s",
			   res->sum.problem_offset, res->sum.problem);
}

static int run(struct ctl *ctl, struct result *res, const char *backend)
{
	struct vfiomig_ctx *vctx = NULL;
	int r = stream_check_input(ctl, res->file);

	if (r == EXIT_OK)
		r = ctl_context_new(ctl, &vctx);
	if (r == EXIT_OK)
		r = inspect(ctl, vctx, res, backend);
	vfiomig_ctx_unref(vctx);
	return r;
}

int cmd_inspect(struct ctl *ctl, int argc, char **argv)
{
	struct result *res = calloc(1, sizeof(*res));
	const char *backend = NULL;
	int r;

	if (!res)
		return ctl_fail(ctl, ENOMEM, "out of memory");
	r = parse(ctl, argc, argv, res, &backend);
	if (r == ARGS_CONTINUE)
		r = run(ctl, res, backend);
	free(res);
	return r;
}
