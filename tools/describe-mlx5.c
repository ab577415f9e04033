/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An mlx5 VF's firmware capability diagnostics, as text and as JSON. */
#include <stdio.h>
#include <string.h>

#include <vfiomig/mlx5.h>

#include "describe.h"
#include "json-writer.h"

#define INDENT "                  "

static const char *tristate(int v)
{
	return v < 0 ? "unknown" : v ? "1" : "0";
}

static const char *yes_no(int v)
{
	return v < 0 ? "unknown" : v ? "yes" : "no";
}

/* A page-tracker limit: its value, or "unknown" (-1, not read). */
static const char *limit(char *buf, size_t size, int v)
{
	if (v < 0)
		return "unknown";
	snprintf(buf, size, "%d", v);
	return buf;
}

/* The page tracker's limits, "name=value" pairs, two per line. */
static void describe_limits(FILE *out, const struct vfiomig_mlx5_caps *c)
{
	const struct {
		const char *name;
		int v;
	} l[] = {
		{ "pg_track_log_min_page_size", c->pg_track_log_min_page_size },
		{ "pg_track_log_max_page_size", c->pg_track_log_max_page_size },
		{ "pg_track_log_min_addr_space", c->pg_track_log_min_addr_space },
		{ "pg_track_log_max_addr_space", c->pg_track_log_max_addr_space },
		{ "pg_track_max_num_range", c->pg_track_max_num_range },
		{ "pg_track_log_max_num", c->pg_track_log_max_num },
		{ "pg_track_log_min_msg_size", c->pg_track_log_min_msg_size },
		{ "pg_track_log_max_msg_size", c->pg_track_log_max_msg_size },
	};
	char a[16], b[16];

	for (size_t i = 0; i + 1 < sizeof(l) / sizeof(l[0]); i += 2)
		fprintf(out, INDENT "%s=%s %s=%s\n", l[i].name, limit(a, sizeof(a), l[i].v),
			l[i + 1].name, limit(b, sizeof(b), l[i + 1].v));
}

/* The next line of @s into @buf (printable); the rest after it. */
static const char *next_line(const char *s, char *buf, size_t size)
{
	const char *end = strchr(s, '\n');
	char line[1024];

	if (!end)
		end = s + strlen(s);
	snprintf(line, sizeof(line), "%.*s", (int)(end - s), s);
	describe_printable(buf, size, line);
	return *end ? end + 1 : end;
}

void describe_mlx5(FILE *out, const struct vfiomig_mlx5_caps *c, int err, const char *why)
{
	char buf[1024];
	const char *p;

	if (err < 0) {
		fprintf(out, "mlx5 firmware:    not available: %s\n",
			describe_printable(buf, sizeof(buf), why));
		return;
	}
	fprintf(out, "mlx5 firmware:    Linux %u.%u's mlx5_vfio_pci %s\n", c->kernel_major,
		c->kernel_minor, c->offered > 0 ? "offers migration" :
		c->offered == 0 ? "offers no migration" : "may offer migration");
	if (c->offered)
		fprintf(out, INDENT "flags %s; chunk mode %s; REINIT %s\n",
			describe_flags(buf, sizeof(buf), c->mig_flags),
			c->chunk_mode ? "yes" : "no", c->reinit ? "yes" : "no");
	if (c->offered)
		fprintf(out, INDENT "dirty tracking %s\n", yes_no(c->dirty_tracking));
	fprintf(out, INDENT "migration=%s migratable=%s migration_multi_load=%s\n",
		tristate(c->migration), tristate(c->migratable), tristate(c->migration_multi_load));
	fprintf(out, INDENT "migration_tracking_state=%s migration_in_chunks=%s "
		"migration_state=%s\n", tristate(c->migration_tracking_state),
		tristate(c->migration_in_chunks), tristate(c->migration_state));
	fprintf(out, INDENT "adv_virtualization=%s\n", tristate(c->adv_virtualization));
	if (c->adv_virtualization > 0)
		describe_limits(out, c);
	for (p = c->missing; *p;) {
		p = next_line(p, buf, sizeof(buf));
		fprintf(out, INDENT "missing: %s\n", buf);
	}
}

static void json_tristate(struct json_writer *w, const char *name, int v)
{
	if (v < 0)
		json_member_null(w, name);
	else
		json_member_bool(w, name, v);
}

static void json_limit(struct json_writer *w, const char *name, int v)
{
	if (v < 0)
		json_member_null(w, name);
	else
		json_member_int(w, name, v);
}

/* The page tracker's limits; null unless they were read. */
static void json_limits(struct json_writer *w, const struct vfiomig_mlx5_caps *c)
{
	if (c->adv_virtualization <= 0 || c->pg_track_max_num_range < 0) {
		json_member_null(w, "page_tracker");
		return;
	}
	json_name(w, "page_tracker");
	json_object_begin(w);
	json_limit(w, "pg_track_log_max_num", c->pg_track_log_max_num);
	json_limit(w, "pg_track_max_num_range", c->pg_track_max_num_range);
	json_limit(w, "pg_track_log_min_addr_space", c->pg_track_log_min_addr_space);
	json_limit(w, "pg_track_log_max_addr_space", c->pg_track_log_max_addr_space);
	json_limit(w, "pg_track_log_min_msg_size", c->pg_track_log_min_msg_size);
	json_limit(w, "pg_track_log_max_msg_size", c->pg_track_log_max_msg_size);
	json_limit(w, "pg_track_log_min_page_size", c->pg_track_log_min_page_size);
	json_limit(w, "pg_track_log_max_page_size", c->pg_track_log_max_page_size);
	json_object_end(w);
}

void json_mlx5(struct json_writer *w, const struct vfiomig_mlx5_caps *c, int err,
	       const char *why)
{
	const char *p, *end;
	char buf[1024];

	json_object_begin(w);
	json_member_string(w, "name", "mlx5");
	if (err < 0) {
		json_member_null(w, "firmware");
		json_name(w, "firmware_error");
		json_object_begin(w);
		json_member_int(w, "errno", -err);
		json_member_string(w, "message", why);
		json_object_end(w);
		json_object_end(w);
		return;
	}
	json_name(w, "firmware");
	json_object_begin(w);
	snprintf(buf, sizeof(buf), "%u.%u", c->kernel_major, c->kernel_minor);
	json_member_string(w, "kernel", buf);
	json_tristate(w, "offered", c->offered);
	json_name(w, "migration_flags");
	json_flags(w, c->mig_flags);
	json_member_bool(w, "chunk_mode", c->chunk_mode);
	json_member_bool(w, "reinit", c->reinit);
	json_tristate(w, "dirty_tracking", c->dirty_tracking);
	json_name(w, "caps");
	json_object_begin(w);
	json_tristate(w, "migration", c->migration);
	json_tristate(w, "migratable", c->migratable);
	json_tristate(w, "migration_multi_load", c->migration_multi_load);
	json_tristate(w, "migration_tracking_state", c->migration_tracking_state);
	json_tristate(w, "migration_in_chunks", c->migration_in_chunks);
	json_tristate(w, "migration_state", c->migration_state);
	json_tristate(w, "adv_virtualization", c->adv_virtualization);
	json_object_end(w);
	json_limits(w, c);
	json_name(w, "missing");
	json_array_begin(w);
	for (p = c->missing; *p; p = *end ? end + 1 : end) {
		end = strchr(p, '\n');
		if (!end)
			end = p + strlen(p);
		snprintf(buf, sizeof(buf), "%.*s", (int)(end - p), p);
		json_string(w, buf);
	}
	json_array_end(w);
	json_object_end(w);
	json_member_null(w, "firmware_error");
	json_object_end(w);
}
