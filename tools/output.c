/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What vfiomig-ctl prints: the command's output, gathered in memory and
 * written at the end with every write checked, and the one-line error of a
 * failure (on stderr, or as {"error": ...} with --json).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "describe.h"
#include "json-writer.h"
#include "progress.h"
#include "xfer-report.h"

#define USAGE_HINT "see " PROGRAM " --help"

/*
 * A closed fd 0, 1 or 2 would be reused by the next open(): a stream file
 * could become "stdout".  Park /dev/null there, and remember that stdout
 * was closed, so that output to it fails as it should.
 */
void ctl_guard_std_fds(struct ctl *ctl)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
			continue;
		if (fd == STDOUT_FILENO)
			ctl->stdout_closed = true;
	}
}

int ctl_output_begin(struct ctl *ctl)
{
	ctl->out_fd = STDOUT_FILENO;
	ctl->out = open_memstream(&ctl->out_buf, &ctl->out_len);
	if (!ctl->out)
		return -ENOMEM;
	if (ctl->json) {
		ctl->jw = json_new(ctl->out);
		if (!ctl->jw)
			return -ENOMEM;
	}
	return 0;
}

void ctl_printf(struct ctl *ctl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(ctl->out, fmt, ap);
	va_end(ap);
}

void ctl_json_text(struct ctl *ctl, void (*write_text)(FILE *f, const void *arg), const void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f) {
		write_text(f, arg);
		if (fclose(f) != 0) {
			free(buf);
			buf = NULL;
		}
	}
	json_member_string(ctl->jw, "text", buf);	/* null without memory */
	free(buf);
}

static int fail_text(struct ctl *ctl, int err, const char *sep, const char *text)
{
	ctl->err = err < 0 ? -err : err;
	if (ctl->cmd)
		snprintf(ctl->err_msg, sizeof(ctl->err_msg), "%.16s%.2s%.1500s", ctl->cmd->name, sep, text);
	else
		snprintf(ctl->err_msg, sizeof(ctl->err_msg), "%s", text);
	return EXIT_FAIL;
}

int ctl_fail(struct ctl *ctl, int err, const char *fmt, ...)
{
	char msg[sizeof(ctl->err_msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return fail_text(ctl, err, ": ", msg);
}

int ctl_fail_on(struct ctl *ctl, int err, const char *subject, const char *fmt, ...)
{
	char msg[sizeof(ctl->err_msg) - 256];
	char text[sizeof(ctl->err_msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(text, sizeof(text), "%.200s: %s", subject, msg);
	return fail_text(ctl, err, " ", text);
}

int ctl_usage(struct ctl *ctl, const char *fmt, ...)
{
	char msg[sizeof(ctl->err_msg) - 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctl->err = EINVAL;
	if (ctl->cmd)
		snprintf(ctl->err_msg, sizeof(ctl->err_msg), "%s: %s; %s", ctl->cmd->name, msg,
			 USAGE_HINT);
	else
		snprintf(ctl->err_msg, sizeof(ctl->err_msg), "%s; %s", msg, USAGE_HINT);
	return EXIT_USAGE;
}

void ctl_lib_error_take(struct vfiomig_ctx *vctx, int r, struct ctl_lib_error *e)
{
	struct vfiomig_error info = { .sz = sizeof(info) };

	*e = (struct ctl_lib_error){ .err = r < 0 ? -r : r };
	if (!vctx || vfiomig_ctx_get_error_info(vctx, &info) < 0)
		return;
	snprintf(e->message, sizeof(e->message), "%s", info.message);
	if (info.device)
		snprintf(e->device, sizeof(e->device), "%s", info.device);
	e->has_state = info.has_state;
	e->state = info.state;
	e->has_offset = info.stream_offset != UINT64_MAX;
	e->offset = info.stream_offset;
	e->first_data_rejected = info.first_data_rejected;
	e->bad_spec = info.bad_spec;
	e->device_first = info.device_first;
	e->member_states = info.member_states;
}

void ctl_note_state(struct ctl *ctl, const char *device, enum vfiomig_state state)
{
	for (int i = 0; i < ctl->nstates; i++) {
		if (strcmp(ctl->states[i].device, device) == 0) {
			ctl->states[i].state = state;
			return;
		}
	}
	if (ctl->nstates == CTL_MAX_STATES)
		return;
	snprintf(ctl->states[ctl->nstates].device, sizeof(ctl->states[0].device), "%s", device);
	ctl->states[ctl->nstates].role = NULL;
	ctl->states[ctl->nstates].again = false;
	ctl->states[ctl->nstates++].state = state;
}

/* The entry moves to the end: devices are named in the order of these calls. */
void ctl_note_role(struct ctl *ctl, const char *device, const char *role, bool again)
{
	for (int i = 0; i < ctl->nstates; i++) {
		struct ctl_state s = ctl->states[i];

		if (strcmp(s.device, device) != 0)
			continue;
		memmove(&ctl->states[i], &ctl->states[i + 1],
			(size_t)(ctl->nstates - i - 1) * sizeof(s));
		s.role = role;
		s.again = again;
		ctl->states[ctl->nstates - 1] = s;
		return;
	}
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* $'a\nb': bash's quoting with C's escapes, for a word with control characters. */
static const char *shell_escaped(char *buf, size_t size, const char *s)
{
	size_t n = 2;

	memcpy(buf, "$'", 2);
	for (const char *p = s; *p; p++) {
		char one[2] = { *p, '\0' }, e[8];
		const char *out = *p == '\'' ? "\\'" : *p == '\\' ? "\\\\" :
				  describe_printable(e, sizeof(e), one);

		if (n + strlen(out) + 2 > size)
			break;
		memcpy(buf + n, out, strlen(out));
		n += strlen(out);
	}
	memcpy(buf + n, "'", 2);
	return buf;
}

const char *ctl_shell_word(char *buf, size_t size, const char *s)
{
	size_t n = 0;

	if (s[0] && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			   "0123456789%+,-./:=@_") == strlen(s)) {
		snprintf(buf, size, "%s", s);
		return buf;
	}
	if (has_control(s))
		return shell_escaped(buf, size, s);
	/* 'it'\''s': a quote ends, an escaped quote, a quote begins again */
	buf[n++] = '\'';
	for (const char *p = s; *p && n + 6 < size; p++) {
		if (*p == '\'') {
			memcpy(buf + n, "'\\''", 4);
			n += 4;
		} else {
			buf[n++] = *p;
		}
	}
	buf[n++] = '\'';
	buf[n] = '\0';
	return buf;
}

const char *ctl_join_names(char *buf, size_t size, char *const *names, int n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && used < size; i++) {
		char name[256];

		used += (size_t)snprintf(buf + used, size - used, "%s%s",
					 i == 0 ? "" : i == n - 1 ? " and " : ", ",
					 describe_printable(name, sizeof(name), names[i]));
	}
	return buf;
}

void ctl_fail_append(struct ctl *ctl, const char *fmt, ...)
{
	size_t len = strlen(ctl->err_msg);
	va_list ap;

	if (len + 2 >= sizeof(ctl->err_msg))
		return;
	memcpy(ctl->err_msg + len, "; ", 3);
	va_start(ap, fmt);
	vsnprintf(ctl->err_msg + len + 2, sizeof(ctl->err_msg) - len - 2, fmt, ap);
	va_end(ap);
}

void ctl_fail_hint(struct ctl *ctl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctl->err_hint, sizeof(ctl->err_hint), fmt, ap);
	va_end(ap);
}

/*
 * A sentence that leads with the device's name follows the command's name
 * directly: "save mock:a: ...".  Others get the subject the user typed,
 * such as the library's range and page-size errors, which name the device
 * in the facts only.
 */
int ctl_fail_lib_error(struct ctl *ctl, const char *subject, const struct ctl_lib_error *e)
{
	int r;

	if (!e->message[0])
		r = ctl_fail_on(ctl, e->err, subject, "%s", strerror(e->err));
	else if (e->device[0] && e->device_first)
		r = fail_text(ctl, e->err, " ", e->message);
	else
		r = ctl_fail_on(ctl, e->err, subject, "%s", e->message);
	snprintf(ctl->err_device, sizeof(ctl->err_device), "%s", e->device);
	ctl->err_member_states = e->member_states;
	if (e->has_offset) {
		ctl->have_error_offset = true;
		ctl->error_offset = e->offset;
	}
	if (e->device[0] && e->has_state)
		ctl_note_state(ctl, e->device, e->state);
	return r;
}

int ctl_fail_lib(struct ctl *ctl, struct vfiomig_ctx *vctx, const char *subject, int r)
{
	struct ctl_lib_error e;

	ctl_lib_error_take(vctx, r, &e);
	return ctl_fail_lib_error(ctl, subject, &e);
}

void ctl_message(struct ctl *ctl, const char *fmt, ...)
{
	char line[2048], shown[4 * sizeof(line)];
	int n = snprintf(line, sizeof(line), "%s: ", PROGRAM);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* one line, whatever the names in it hold */
	progress_print(ctl->progress, describe_printable(shown, sizeof(shown), line));
}

/*
 * progress_write_all(), but on a terminal that a progress line may be on
 * (ours, or the other side's of "save -o - | load -i -"), the row is
 * cleared first, in the same write: the output never lands on a line.
 */
static int write_out(struct ctl *ctl, int fd, const char *buf, size_t len)
{
	char clear[PROGRESS_CLEAR_MAX];
	size_t n = progress_clear_seq(ctl->progress, fd, clear);
	char *all = n ? malloc(n + len) : NULL;
	int r;

	if (!all)
		return progress_write_all(fd, buf, len);
	memcpy(all, clear, n);
	memcpy(all + n, buf, len);
	r = progress_write_all(fd, all, n + len);
	free(all);
	return r;
}

/* Writes the gathered output; a failure becomes the command's error. */
static int flush_output(struct ctl *ctl, int status)
{
	int r = 0;

	if (ctl->out_len == 0)
		return status;
	if (ctl->out_fd == STDOUT_FILENO && ctl->stdout_closed)
		r = -EBADF;
	else
		r = write_out(ctl, ctl->out_fd, ctl->out_buf, ctl->out_len);
	if (r == 0)
		return status;
	/* stdout is gone: say so on stderr, even with --json, and that what
	 * the command did, it did. */
	fprintf(stderr, "%s: writing to %s failed: %s%s\n", PROGRAM,
		ctl->out_fd == STDOUT_FILENO ? "stdout" : "stderr", strerror(-r),
		status == EXIT_OK ? "; the command itself succeeded" : "");
	return status == EXIT_OK ? EXIT_FAIL : status;
}

/*
 * Where a JSON error goes: stdout, unless that carries a save's stream
 * (its report goes to stderr then, and so does its error), or it is a
 * usage error, which the next command of a pipeline must never read as
 * its input (the stream may be what stdout was meant to carry).
 */
static int json_error_fd(const struct ctl *ctl, int status)
{
	return status == EXIT_USAGE || ctl->out_fd == STDERR_FILENO ? STDERR_FILENO :
								       STDOUT_FILENO;
}

/* @s with its control characters escaped (describe_printable()), or NULL. */
static char *printable_dup(const char *s)
{
	size_t size = 4 * strlen(s) + 1;	/* "\x1b" for each byte, at most */
	char *p = malloc(size);

	return p ? (char *)describe_printable(p, size, s) : NULL;
}

/* The message, and what to run to look closer: the text's line, escaped the same way. */
static void json_message(struct json_writer *w, const struct ctl *ctl)
{
	char msg[sizeof(ctl->err_msg) + sizeof(ctl->err_hint) + 2];
	char *shown;

	snprintf(msg, sizeof(msg), "%s%s%s", ctl->err_msg, ctl->err_hint[0] ? "; " : "",
		 ctl->err_hint);
	shown = printable_dup(msg);
	json_member_string(w, "message", shown ? shown : msg);
	free(shown);
}

static void print_json_error(struct ctl *ctl, int fd)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json_writer *w = f ? json_new(f) : NULL;
	int r = -ENOMEM;

	if (w) {
		json_object_begin(w);
		json_name(w, "error");
		json_object_begin(w);
		json_member_int(w, "errno", ctl->err);
		json_message(w, ctl);
		if (ctl->have_error_offset)
			json_member_uint(w, "offset", ctl->error_offset);
		if (ctl->nstates) {
			json_name(w, "states");
			json_object_begin(w);
			for (int i = 0; i < ctl->nstates; i++)
				json_member_string(w, ctl->states[i].device,
						   vfiomig_state_name(ctl->states[i].state));
			json_object_end(w);
		}
		if (ctl->nmembers)	/* a group's: each member's figures and own error */
			xfer_members_json(ctl, w);
		json_object_end(w);
		json_object_end(w);
		json_end(w);
		json_free(w);
	}
	if (f && fclose(f) == 0)
		r = fd == STDOUT_FILENO && ctl->stdout_closed ? -EBADF :
		    write_out(ctl, fd, buf, len);
	free(buf);
	if (r < 0)	/* nowhere to put the document: at least tell a person */
		fprintf(stderr, "%s: %s\n", PROGRAM, ctl->err_msg);
}

/* "; mock:b is in STOP", and for migrate "; source mock:a is RUNNING again". */
static void print_state(FILE *f, const struct ctl_state *s)
{
	const char *name = vfiomig_state_name(s->state);

	fprintf(f, "; %s%s%s ", s->role ? s->role : "", s->role ? " " : "", s->device);
	if (s->again)
		fprintf(f, "is %s again", name);
	else
		fprintf(f, "is in %s", name);
}

static const char *const roles[] = { "source", "destination", NULL };

static bool has_role(const struct ctl_state *s, const char *role)
{
	return role && s->role ? strcmp(s->role, role) == 0 : role == s->role;
}

/* The library's message says where the failing device is, and where a
 * group's members are when its facts say so (the devices without a role are
 * the group's), though not which are migrate's sources and destinations:
 * those are all named, by role. */
static bool already_said(const struct ctl *ctl, const struct ctl_state *s)
{
	return !s->role && (ctl->err_member_states || strcmp(s->device, ctl->err_device) == 0);
}

/* One line: the message, then where the other devices of the command are
 * (the library's message already says where the failing one is), then
 * what to run to look closer. */
static void print_text_error(struct ctl *ctl)
{
	char *buf = NULL, *line = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		f = stderr;	/* out of memory: piece by piece */
	fprintf(f, "%s: %s", PROGRAM, ctl->err_msg);
	/* migrate: the sources' fate, then the destinations', each by its role */
	for (size_t k = 0; k < sizeof(roles) / sizeof(roles[0]); k++)
		for (int i = 0; i < ctl->nstates; i++)
			if (has_role(&ctl->states[i], roles[k]) && !already_said(ctl, &ctl->states[i]))
				print_state(f, &ctl->states[i]);
	if (ctl->err_hint[0])
		fprintf(f, "; %s", ctl->err_hint);
	if (f == stderr) {
		fputc('\n', f);
		return;
	}
	/* one line: a newline in a name is shown "\n", as everywhere */
	if (fclose(f) == 0 && (line = printable_dup(buf)) != NULL) {
		len = strlen(line);
		line[len++] = '\n';	/* over its NUL: the room is there */
		/* one write, so that it never mixes with another process's line */
		write_out(ctl, STDERR_FILENO, line, len);
	}
	free(line);
	free(buf);
}

int ctl_output_end(struct ctl *ctl, int status)
{
	bool print = status == EXIT_OK || ctl->print_on_failure;

	progress_clear(ctl->progress);
	if (ctl->jw && print && json_complete(ctl->jw))
		json_end(ctl->jw);
	json_free(ctl->jw);
	ctl->jw = NULL;
	if (ctl->out && fclose(ctl->out) != 0 && status == EXIT_OK)
		status = ctl_fail(ctl, ENOMEM, "gathering the output failed: out of memory");
	ctl->out = NULL;
	if (print)
		status = flush_output(ctl, status);
	free(ctl->out_buf);
	ctl->out_buf = NULL;
	if (status != EXIT_OK && ctl->err_msg[0]) {
		if (ctl->json && !ctl->print_on_failure)
			print_json_error(ctl, json_error_fd(ctl, status));
		else if (!ctl->json)
			print_text_error(ctl);
	}
	free(ctl->members);
	ctl->members = NULL;
	ctl->nmembers = 0;
	return status;
}
