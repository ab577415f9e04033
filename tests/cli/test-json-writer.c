/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The CLI's JSON writer on its own: string escaping (quotes, backslashes,
 * every control character), UTF-8 passed through, invalid UTF-8 replaced
 * by U+FFFD, 64-bit integers, null, booleans and nesting.  TAP output.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-writer.h"

static int n, failed;

static void ok(int cond, const char *name, const char *got, const char *want)
{
	n++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", n, name);
	if (!cond) {
		failed++;
		printf("# got:  %s\n# want: %s\n", got, want);
	}
}

/* Escapes @len bytes of @in and compares with @want. */
static void check_string(const char *name, const char *in, size_t len, const char *want)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	json_write_escaped(f, in, len);
	fclose(f);
	ok(strcmp(buf, want) == 0, name, buf, want);
	free(buf);
}

static void test_strings(void)
{
	char all_controls[32], want[32 * 6 + 3], *p = want;

	check_string("plain ASCII", "hello", 5, "\"hello\"");
	check_string("empty", "", 0, "\"\"");
	check_string("quote and backslash", "a\"b\\c", 5, "\"a\\\"b\\\\c\"");
	check_string("short escapes", "\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\"");
	check_string("slash and DEL pass", "/\x7f", 2, "\"/\x7f\"");
	check_string("embedded NUL", "a\0b", 3, "\"a\\u0000b\"");
	for (int i = 0; i < 32; i++)
		all_controls[i] = (char)i;
	*p++ = '"';
	for (int i = 0; i < 32; i++) {
		const char *s = i == '\b' ? "\\b" : i == '\f' ? "\\f" : i == '\n' ? "\\n" :
				i == '\r' ? "\\r" : i == '\t' ? "\\t" : NULL;

		p += s ? sprintf(p, "%s", s) : sprintf(p, "\\u%04x", i);
	}
	strcpy(p, "\"");
	check_string("every control character", all_controls, 32, want);
	check_string("2-byte UTF-8 passes", "\xc3\xa9", 2, "\"\xc3\xa9\"");
	check_string("3-byte UTF-8 passes", "\xe6\x97\xa5\xe6\x9c\xac", 6, "\"\xe6\x97\xa5\xe6\x9c\xac\"");
	check_string("4-byte UTF-8 passes", "\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"");
	check_string("U+10FFFF passes", "\xf4\x8f\xbf\xbf", 4, "\"\xf4\x8f\xbf\xbf\"");
	check_string("lone continuation byte", "a\x80z", 3, "\"a\xef\xbf\xbdz\"");
	check_string("0xff", "\xff", 1, "\"\xef\xbf\xbd\"");
	check_string("overlong '/'", "\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"");
	check_string("overlong 3-byte", "\xe0\x80\xaf", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	check_string("surrogate", "\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	check_string("past U+10FFFF", "\xf4\x90\x80\x80", 4,
		     "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	check_string("truncated sequence at the end", "x\xe6\x97", 3, "\"x\xef\xbf\xbd\xef\xbf\xbd\"");
	check_string("truncated sequence before ASCII", "\xe6\x97z", 3,
		     "\"\xef\xbf\xbd\xef\xbf\xbdz\"");
}

static char *document(void (*build)(struct json_writer *w))
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	struct json_writer *w = json_new(f);

	build(w);
	if (json_complete(w))
		json_end(w);
	json_free(w);
	fclose(f);
	return buf;
}

static void build_scalars(struct json_writer *w)
{
	json_object_begin(w);
	json_member_uint(w, "max", UINT64_MAX);
	json_member_int(w, "min", INT64_MIN);
	json_member_uint(w, "zero", 0);
	json_member_bool(w, "t", true);
	json_member_bool(w, "f", false);
	json_member_null(w, "n");
	json_member_string(w, "s", NULL);
	json_member_string(w, "k\"ey", "v");
	json_object_end(w);
}

static void build_nested(struct json_writer *w)
{
	json_array_begin(w);
	json_object_begin(w);
	json_object_end(w);
	json_array_begin(w);
	json_array_end(w);
	json_object_begin(w);
	json_name(w, "a");
	json_array_begin(w);
	json_uint(w, 1);
	json_string(w, "two");
	json_null(w);
	json_array_end(w);
	json_object_end(w);
	json_array_end(w);
}

static void build_empty_array(struct json_writer *w)
{
	json_array_begin(w);
	json_array_end(w);
}

static void build_nothing(struct json_writer *w)
{
	(void)w;
}

static void test_documents(void)
{
	static const char scalars[] =
		"{\n  \"max\": 18446744073709551615,\n  \"min\": -9223372036854775808,\n"
		"  \"zero\": 0,\n  \"t\": true,\n  \"f\": false,\n  \"n\": null,\n  \"s\": null,\n"
		"  \"k\\\"ey\": \"v\"\n}\n";
	static const char nested[] =
		"[\n  {},\n  [],\n  {\n    \"a\": [\n      1,\n      \"two\",\n      null\n    ]\n  }\n]\n";
	char *got;

	got = document(build_scalars);
	ok(strcmp(got, scalars) == 0, "scalars: uint64 max, int64 min, bools, null", got, scalars);
	free(got);
	got = document(build_nested);
	ok(strcmp(got, nested) == 0, "nesting, empty containers", got, nested);
	free(got);
	got = document(build_empty_array);
	ok(strcmp(got, "[]\n") == 0, "an empty array document", got, "[]\n");
	free(got);
	got = document(build_nothing);
	ok(strcmp(got, "") == 0, "no value: no document", got, "");
	free(got);
}

int main(void)
{
	test_strings();
	test_documents();
	printf("1..%d\n", n);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
