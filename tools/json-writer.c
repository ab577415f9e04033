/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A small streaming JSON writer; see json-writer.h. */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "json-writer.h"

struct json_writer {
	FILE *out;
	unsigned int depth;
	/* per level: 'o' object, 'a' array; whether it has members yet */
	char kind[JSON_MAX_DEPTH];
	bool nonempty[JSON_MAX_DEPTH];
	bool name_pending;	/* json_name() was called, the value is due */
	bool started;		/* a top-level value has begun */
};

struct json_writer *json_new(FILE *out)
{
	struct json_writer *w = calloc(1, sizeof(*w));

	if (w)
		w->out = out;
	return w;
}

void json_free(struct json_writer *w)
{
	free(w);
}

bool json_complete(const struct json_writer *w)
{
	return w->started && w->depth == 0 && !w->name_pending;
}

void json_end(struct json_writer *w)
{
	assert(json_complete(w));
	fputc('\n', w->out);
}

static void indent(struct json_writer *w)
{
	fputc('\n', w->out);
	for (unsigned int i = 0; i < w->depth; i++)
		fputs("  ", w->out);
}

/* Separator and indentation before a value (or before a member's name). */
static void before_value(struct json_writer *w)
{
	if (w->name_pending) {
		w->name_pending = false;
		return;
	}
	assert(w->depth == 0 || w->kind[w->depth - 1] == 'a');
	if (w->depth == 0) {
		assert(!w->started);
		w->started = true;
		return;
	}
	if (w->nonempty[w->depth - 1])
		fputc(',', w->out);
	w->nonempty[w->depth - 1] = true;
	indent(w);
}

static void open_container(struct json_writer *w, char kind)
{
	before_value(w);
	assert(w->depth < JSON_MAX_DEPTH);
	fputc(kind == 'o' ? '{' : '[', w->out);
	w->kind[w->depth] = kind;
	w->nonempty[w->depth] = false;
	w->depth++;
}

static void close_container(struct json_writer *w, char kind)
{
	assert(w->depth > 0 && w->kind[w->depth - 1] == kind && !w->name_pending);
	w->depth--;
	if (w->nonempty[w->depth])
		indent(w);
	fputc(kind == 'o' ? '}' : ']', w->out);
}

void json_object_begin(struct json_writer *w) { open_container(w, 'o'); }
void json_object_end(struct json_writer *w) { close_container(w, 'o'); }
void json_array_begin(struct json_writer *w) { open_container(w, 'a'); }
void json_array_end(struct json_writer *w) { close_container(w, 'a'); }

void json_name(struct json_writer *w, const char *name)
{
	assert(w->depth > 0 && w->kind[w->depth - 1] == 'o' && !w->name_pending);
	if (w->nonempty[w->depth - 1])
		fputc(',', w->out);
	w->nonempty[w->depth - 1] = true;
	indent(w);
	json_write_escaped(w->out, name, strlen(name));
	fputs(": ", w->out);
	w->name_pending = true;
}

/* Length of the valid UTF-8 sequence at @s (at most @len bytes), or 0. */
static size_t utf8_valid(const unsigned char *s, size_t len)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	/* overlong forms, surrogates and code points past U+10FFFF */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n > len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

static void write_escape(FILE *out, unsigned char c)
{
	switch (c) {
	case '"': fputs("\\\"", out); break;
	case '\\': fputs("\\\\", out); break;
	case '\b': fputs("\\b", out); break;
	case '\f': fputs("\\f", out); break;
	case '\n': fputs("\\n", out); break;
	case '\r': fputs("\\r", out); break;
	case '\t': fputs("\\t", out); break;
	default: fprintf(out, "\\u%04x", c); break;
	}
}

void json_write_escaped(FILE *out, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;

	fputc('"', out);
	for (size_t i = 0; i < len;) {
		size_t n = utf8_valid(s + i, len - i);

		if (n == 0) {
			fputs("\xef\xbf\xbd", out);	/* U+FFFD */
			i++;
		} else if (n == 1 && (s[i] < 0x20 || s[i] == '"' || s[i] == '\\')) {
			write_escape(out, s[i++]);
		} else {
			fwrite(s + i, 1, n, out);
			i += n;
		}
	}
	fputc('"', out);
}

void json_string(struct json_writer *w, const char *s)
{
	if (!s) {
		json_null(w);
		return;
	}
	before_value(w);
	json_write_escaped(w->out, s, strlen(s));
}

void json_uint(struct json_writer *w, uint64_t v)
{
	before_value(w);
	fprintf(w->out, "%" PRIu64, v);
}

void json_int(struct json_writer *w, int64_t v)
{
	before_value(w);
	fprintf(w->out, "%" PRId64, v);
}

void json_bool(struct json_writer *w, bool v)
{
	before_value(w);
	fputs(v ? "true" : "false", w->out);
}

void json_null(struct json_writer *w)
{
	before_value(w);
	fputs("null", w->out);
}

void json_member_string(struct json_writer *w, const char *name, const char *s)
{
	json_name(w, name);
	json_string(w, s);
}

void json_member_uint(struct json_writer *w, const char *name, uint64_t v)
{
	json_name(w, name);
	json_uint(w, v);
}

void json_member_int(struct json_writer *w, const char *name, int64_t v)
{
	json_name(w, name);
	json_int(w, v);
}

void json_member_bool(struct json_writer *w, const char *name, bool v)
{
	json_name(w, name);
	json_bool(w, v);
}

void json_member_null(struct json_writer *w, const char *name)
{
	json_name(w, name);
	json_null(w);
}
