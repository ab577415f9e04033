/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A small streaming JSON writer (in the spirit of bpftool's json_writer):
 * objects, arrays, strings, unsigned and signed 64-bit integers, booleans
 * and null, pretty-printed with two-space indentation.  Strings are escaped
 * as RFC 8259 requires; valid UTF-8 passes through, and each byte of an
 * invalid sequence becomes U+FFFD, so the output is always valid JSON.
 *
 * Mistakes in nesting (a value where a name is due, closing the wrong
 * container, more than JSON_MAX_DEPTH levels) are programming errors: they
 * are caught by assert() in debug builds.  Write errors are left to the
 * FILE (check ferror() once at the end).
 */
#ifndef CTL_JSON_WRITER_H
#define CTL_JSON_WRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

struct json_writer;

/* Returns NULL when out of memory.  The writer does not own @out. */
struct json_writer *json_new(FILE *out);
/* Frees the writer, whatever was written (NULL-safe). */
void json_free(struct json_writer *w);
/* Whether one complete value has been written at the top level. */
bool json_complete(const struct json_writer *w);
/* Ends a complete document with a newline. */
void json_end(struct json_writer *w);

void json_object_begin(struct json_writer *w);
void json_object_end(struct json_writer *w);
void json_array_begin(struct json_writer *w);
void json_array_end(struct json_writer *w);

/* Inside an object: the name of the next member. */
void json_name(struct json_writer *w, const char *name);

void json_string(struct json_writer *w, const char *s);	/* NULL writes null */
void json_uint(struct json_writer *w, uint64_t v);
void json_int(struct json_writer *w, int64_t v);
void json_bool(struct json_writer *w, bool v);
void json_null(struct json_writer *w);

/* name + value in one call */
void json_member_string(struct json_writer *w, const char *name, const char *s);
void json_member_uint(struct json_writer *w, const char *name, uint64_t v);
void json_member_int(struct json_writer *w, const char *name, int64_t v);
void json_member_bool(struct json_writer *w, const char *name, bool v);
void json_member_null(struct json_writer *w, const char *name);

/* Writes @s (len bytes) as a quoted JSON string; exposed for tests. */
void json_write_escaped(FILE *out, const char *s, size_t len);

#endif
