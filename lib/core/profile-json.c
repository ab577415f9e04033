/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A profile as JSON, and back.  The text read back is another host's
 * answer: the parser takes exactly what the writer writes (one flat object
 * of known members, or an array of them) and refuses anything else with a
 * sentence that names what and where (docs/compatibility.md).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

/* ---- writing ---- */

static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* One member; @s NULL or "" writes null. */
static void member_string(FILE *f, bool *first, const char *name, const char *s)
{
	fprintf(f, "%s\n  \"%s\": ", *first ? "" : ",", name);
	*first = false;
	if (s && s[0])
		put_string(f, s);
	else
		fputs("null", f);
}

static void member_uint(FILE *f, bool *first, const char *name, bool known, uint64_t v)
{
	fprintf(f, "%s\n  \"%s\": ", *first ? "" : ",", name);
	*first = false;
	if (known)
		fprintf(f, "%llu", (unsigned long long)v);
	else
		fputs("null", f);
}

static void member_bool(FILE *f, bool *first, const char *name, bool known, bool b)
{
	fprintf(f, "%s\n  \"%s\": %s", *first ? "" : ",", name,
		!known ? "null" : b ? "true" : "false");
	*first = false;
}

static void write_profile(FILE *f, const struct vfiomig_profile *p)
{
	static const char *const sources[] = { NULL, "module", "kernel" };
	const struct vfiomig_identity *id = &p->id;
	char pci[16] = "", sub[16] = "", rev[8] = "", cls[8] = "";
	bool first = true, mlx5 = p->has & PROFILE_HAS_MLX5;

	if (id->has_pci_ids) {
		snprintf(pci, sizeof(pci), "%04x:%04x", id->vendor, id->device);
		snprintf(sub, sizeof(sub), "%04x:%04x", id->subsystem_vendor, id->subsystem_device);
		snprintf(rev, sizeof(rev), "%02x", id->revision);
	}
	if (id->has_class)
		snprintf(cls, sizeof(cls), "%06x", id->class_code);
	fputc('{', f);
	member_string(f, &first, "format", PROFILE_FORMAT);
	member_string(f, &first, "device", p->name);
	member_string(f, &first, "pci_ids", pci);
	member_string(f, &first, "subsystem_ids", sub);
	member_string(f, &first, "revision", rev);
	member_string(f, &first, "class", cls);
	member_string(f, &first, "driver", id->driver);
	member_string(f, &first, "driver_version", p->driver_version);
	member_string(f, &first, "driver_version_source", sources[p->version_source]);
	member_string(f, &first, "mdev_type", id->mdev_type);
	member_string(f, &first, "backend", p->backend);
	member_uint(f, &first, "migration_flags", p->has & PROFILE_HAS_MIG_FLAGS, p->mig_flags);
	member_bool(f, &first, "dma_logging", p->has & PROFILE_HAS_DMA_LOGGING, p->dma_logging);
	member_uint(f, &first, "dma_logging_page_min", p->has & PROFILE_HAS_DMA_PAGES,
		    p->dma_page_min);
	member_uint(f, &first, "dma_logging_page_max", p->has & PROFILE_HAS_DMA_PAGES,
		    p->dma_page_max);
	member_uint(f, &first, "state_size", p->has & PROFILE_HAS_STATE_SIZE, p->state_size);
	member_string(f, &first, "mlx5_firmware", p->mlx5_firmware);
	member_bool(f, &first, "mlx5_migration", mlx5, p->mlx5_migration);
	member_bool(f, &first, "mlx5_migratable", mlx5, p->mlx5_migratable);
	member_bool(f, &first, "mlx5_chunks", mlx5, p->mlx5_chunks);
	member_string(f, &first, "mlx5_why", p->mlx5_why);
	fputs("\n}", f);
}

int profile_to_json(const struct vfiomig_profile *p, char **ret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return -ENOMEM;
	write_profile(f, p);
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	return 0;
}

/* ---- reading ---- */

#define PROFILE_JSON_MAX (1u << 20)	/* a group's profiles take a few KiB */

struct cursor {
	const char *s;
	size_t len, pos;
	char *why;
	size_t why_size;
};

enum jtype { J_NULL, J_STRING, J_UINT, J_BOOL };

struct jvalue {
	enum jtype type;
	char str[PROFILE_STRING_MAX + 1];
	uint64_t u;
	bool b;
};

static int PRINTF(2, 3) bad(struct cursor *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->why, c->why_size, "%s at offset %zu", msg, c->pos);
	return -EBADMSG;
}

static void skip_space(struct cursor *c)
{
	while (c->pos < c->len && strchr(" \t\r\n", c->s[c->pos]) && c->s[c->pos])
		c->pos++;
}

static bool at(struct cursor *c, char ch)
{
	skip_space(c);
	return c->pos < c->len && c->s[c->pos] == ch;
}

static int expect(struct cursor *c, char ch)
{
	if (!at(c, ch))
		return c->pos < c->len ? bad(c, "'%c' expected", ch) :
					 bad(c, "the text ends where '%c' is expected", ch);
	c->pos++;
	return 0;
}

static int hex4(struct cursor *c, unsigned int *ret)
{
	unsigned int v = 0;

	for (int i = 0; i < 4; i++, c->pos++) {
		char ch = c->pos < c->len ? c->s[c->pos] : '\0';

		if (ch >= '0' && ch <= '9')
			v = v * 16 + (unsigned int)(ch - '0');
		else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
			v = v * 16 + (unsigned int)((ch | 0x20) - 'a' + 10);
		else
			return bad(c, "a \\u escape needs four hex digits");
	}
	*ret = v;
	return 0;
}

/* An escape after its backslash; only ASCII: the writer writes no other. */
static int escape(struct cursor *c, char *out)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;
	unsigned int u = 0;

	if (c->pos >= c->len)
		return bad(c, "the text ends inside a string");
	e = strchr(from, c->s[c->pos]);
	if (c->s[c->pos] && e) {
		*out = to[e - from];
		c->pos++;
		return 0;
	}
	if (c->s[c->pos] != 'u')
		return bad(c, "unknown escape \\%c", c->s[c->pos]);
	c->pos++;
	if (hex4(c, &u) < 0)
		return -EBADMSG;
	if (u == 0 || u > 0x7f)
		return bad(c, "\\u%04x is not a character a profile holds (ASCII, not NUL)", u);
	*out = (char)u;
	return 0;
}

static int string(struct cursor *c, char *out, size_t size)
{
	size_t n = 0;

	if (expect(c, '"') < 0)
		return -EBADMSG;
	for (;;) {
		char ch;

		if (c->pos >= c->len)
			return bad(c, "the text ends inside a string");
		ch = c->s[c->pos++];
		if (ch == '"')
			break;
		if ((unsigned char)ch < 0x20)
			return bad(c, "a control character (0x%02x) inside a string",
				   (unsigned char)ch);
		if (ch == '\\' && escape(c, &ch) < 0)
			return -EBADMSG;
		if (n + 1 >= size)
			return bad(c, "a string longer than %zu bytes", size - 1);
		out[n++] = ch;
	}
	out[n] = '\0';
	return 0;
}

static int number(struct cursor *c, uint64_t *ret)
{
	uint64_t v = 0;
	size_t start = c->pos;

	while (c->pos < c->len && c->s[c->pos] >= '0' && c->s[c->pos] <= '9') {
		unsigned int d = (unsigned int)(c->s[c->pos] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return bad(c, "a number above 2^64 - 1");
		v = v * 10 + d;
		c->pos++;
	}
	if (c->pos - start > 1 && c->s[start] == '0')
		return bad(c, "a number with a leading zero");
	if (c->pos < c->len && strchr(".eE", c->s[c->pos]) && c->s[c->pos])
		return bad(c, "a number that is not a whole one");
	*ret = v;
	return 0;
}

static bool word(struct cursor *c, const char *w)
{
	size_t n = strlen(w);

	if (c->len - c->pos < n || memcmp(c->s + c->pos, w, n) != 0)
		return false;
	c->pos += n;
	return true;
}

static int value(struct cursor *c, struct jvalue *v)
{
	memset(v, 0, sizeof(*v));
	skip_space(c);
	if (c->pos >= c->len)
		return bad(c, "the text ends where a value is expected");
	if (c->s[c->pos] == '"') {
		v->type = J_STRING;
		return string(c, v->str, sizeof(v->str));
	}
	if (c->s[c->pos] >= '0' && c->s[c->pos] <= '9') {
		v->type = J_UINT;
		return number(c, &v->u);
	}
	if (word(c, "null"))
		return 0;
	v->type = J_BOOL;
	if (word(c, "true") || word(c, "false")) {
		v->b = c->s[c->pos - 1] == 'e' && c->s[c->pos - 2] == 'u';
		return 0;
	}
	return bad(c, "a value of a kind no profile member has (a string, a whole number, "
		   "true, false or null)");
}

/* Exactly @n hex digits into @ret. */
static bool hex_digits(const char *s, size_t n, unsigned long *ret)
{
	char *end;

	if (strlen(s) < n || strspn(s, "0123456789abcdefABCDEF") < n)
		return false;
	*ret = strtoul(s, &end, 16);
	return end == s + n;
}

/* "15b3:101e" */
static bool id_pair(const char *s, uint16_t *a, uint16_t *b)
{
	unsigned long x, y;

	if (strlen(s) != 9 || s[4] != ':')
		return false;
	if (!hex_digits(s, 4, &x) || !hex_digits(s + 5, 4, &y))
		return false;
	*a = (uint16_t)x;
	*b = (uint16_t)y;
	return true;
}

/* A member's setter: false if the value is not one it takes (a string or
 * a number of the wrong form); null never reaches it. */
typedef bool member_set(struct vfiomig_profile *p, const struct jvalue *v);

static bool set_format(struct vfiomig_profile *p, const struct jvalue *v)
{
	(void)p;
	return strcmp(v->str, PROFILE_FORMAT) == 0;
}

static bool set_device(struct vfiomig_profile *p, const struct jvalue *v)
{
	snprintf(p->name, sizeof(p->name), "%s", v->str);
	return v->str[0] != '\0';
}

static bool set_pci_ids(struct vfiomig_profile *p, const struct jvalue *v)
{
	p->id.has_pci_ids = true;
	return id_pair(v->str, &p->id.vendor, &p->id.device);
}

static bool set_subsystem_ids(struct vfiomig_profile *p, const struct jvalue *v)
{
	return id_pair(v->str, &p->id.subsystem_vendor, &p->id.subsystem_device);
}

static bool set_revision(struct vfiomig_profile *p, const struct jvalue *v)
{
	unsigned long x;

	if (strlen(v->str) != 2 || !hex_digits(v->str, 2, &x))
		return false;
	p->id.revision = (uint8_t)x;
	return true;
}

static bool set_class(struct vfiomig_profile *p, const struct jvalue *v)
{
	unsigned long x;

	if (strlen(v->str) != 6 || !hex_digits(v->str, 6, &x))
		return false;
	p->id.has_class = true;
	p->id.class_code = (uint32_t)x;
	return true;
}

/* An empty string is refused: the writer says null for what is not
 * known, and "" read as known would not survive a round trip. */
#define SET_STRING(fn, field)                                                   \
	static bool fn(struct vfiomig_profile *p, const struct jvalue *v)       \
	{                                                                       \
		snprintf(p->field, sizeof(p->field), "%s", v->str);             \
		return v->str[0] && sizeof(p->field) > strlen(v->str);          \
	}
SET_STRING(set_driver, id.driver)
SET_STRING(set_driver_version, driver_version)
SET_STRING(set_mdev_type, id.mdev_type)
SET_STRING(set_backend, backend)
SET_STRING(set_mlx5_firmware, mlx5_firmware)
SET_STRING(set_mlx5_why, mlx5_why)

static bool set_version_source(struct vfiomig_profile *p, const struct jvalue *v)
{
	if (strcmp(v->str, "module") == 0)
		p->version_source = PROFILE_VERSION_MODULE;
	else if (strcmp(v->str, "kernel") == 0)
		p->version_source = PROFILE_VERSION_KERNEL;
	return p->version_source != PROFILE_VERSION_UNKNOWN;
}

static bool set_mig_flags(struct vfiomig_profile *p, const struct jvalue *v)
{
	p->has |= PROFILE_HAS_MIG_FLAGS;
	p->mig_flags = v->u;
	return true;
}

static bool set_dma_logging(struct vfiomig_profile *p, const struct jvalue *v)
{
	p->has |= PROFILE_HAS_DMA_LOGGING;
	p->dma_logging = v->b;
	return true;
}

static bool set_dma_page_min(struct vfiomig_profile *p, const struct jvalue *v)
{
	p->has |= PROFILE_HAS_DMA_PAGES;
	p->dma_page_min = v->u;
	return v->u >= 4096 && !(v->u & (v->u - 1));
}

static bool set_dma_page_max(struct vfiomig_profile *p, const struct jvalue *v)
{
	p->has |= PROFILE_HAS_DMA_PAGES;
	p->dma_page_max = v->u;
	return v->u >= 4096 && !(v->u & (v->u - 1));
}

static bool set_state_size(struct vfiomig_profile *p, const struct jvalue *v)
{
	p->has |= PROFILE_HAS_STATE_SIZE;
	p->state_size = v->u;
	return true;
}

#define SET_MLX5(fn, field)                                               \
	static bool fn(struct vfiomig_profile *p, const struct jvalue *v) \
	{                                                                 \
		p->has |= PROFILE_HAS_MLX5;                               \
		p->field = v->b;                                          \
		return true;                                              \
	}
SET_MLX5(set_mlx5_migration, mlx5_migration)
SET_MLX5(set_mlx5_migratable, mlx5_migratable)
SET_MLX5(set_mlx5_chunks, mlx5_chunks)

/* The members, in the writer's order; each must appear once. */
enum member_index {
	M_FORMAT, M_DEVICE, M_PCI_IDS, M_SUBSYSTEM_IDS, M_REVISION, M_CLASS, M_DRIVER,
	M_DRIVER_VERSION, M_VERSION_SOURCE, M_MDEV_TYPE, M_BACKEND, M_MIG_FLAGS, M_DMA_LOGGING,
	M_DMA_PAGE_MIN, M_DMA_PAGE_MAX, M_STATE_SIZE, M_MLX5_FIRMWARE, M_MLX5_MIGRATION,
	M_MLX5_MIGRATABLE, M_MLX5_CHUNKS, M_MLX5_WHY, NMEMBERS
};
#define BIT(m) (1u << (m))

static const struct member {
	const char *name;
	enum jtype type;
	member_set *set;
	const char *form;	/* what a value must be, for the sentence */
} members[] = {
	[M_FORMAT] = { "format", J_STRING, set_format, "\"" PROFILE_FORMAT "\"" },
	[M_DEVICE] = { "device", J_STRING, set_device, "a non-empty string" },
	[M_PCI_IDS] = { "pci_ids", J_STRING, set_pci_ids, "\"vvvv:dddd\" in hex" },
	[M_SUBSYSTEM_IDS] = { "subsystem_ids", J_STRING, set_subsystem_ids, "\"vvvv:dddd\" in hex" },
	[M_REVISION] = { "revision", J_STRING, set_revision, "two hex digits" },
	[M_CLASS] = { "class", J_STRING, set_class, "six hex digits" },
	[M_DRIVER] = { "driver", J_STRING, set_driver, "a non-empty string" },
	[M_DRIVER_VERSION] = { "driver_version", J_STRING, set_driver_version, "a non-empty string" },
	[M_VERSION_SOURCE] = { "driver_version_source", J_STRING, set_version_source, "\"module\" or \"kernel\"" },
	[M_MDEV_TYPE] = { "mdev_type", J_STRING, set_mdev_type, "a non-empty string" },
	[M_BACKEND] = { "backend", J_STRING, set_backend, "a non-empty string" },
	[M_MIG_FLAGS] = { "migration_flags", J_UINT, set_mig_flags, "a whole number" },
	[M_DMA_LOGGING] = { "dma_logging", J_BOOL, set_dma_logging, "true or false" },
	[M_DMA_PAGE_MIN] = { "dma_logging_page_min", J_UINT, set_dma_page_min, "a power of two from 4096" },
	[M_DMA_PAGE_MAX] = { "dma_logging_page_max", J_UINT, set_dma_page_max, "a power of two from 4096" },
	[M_STATE_SIZE] = { "state_size", J_UINT, set_state_size, "a whole number" },
	[M_MLX5_FIRMWARE] = { "mlx5_firmware", J_STRING, set_mlx5_firmware, "a non-empty string" },
	[M_MLX5_MIGRATION] = { "mlx5_migration", J_BOOL, set_mlx5_migration, "true or false" },
	[M_MLX5_MIGRATABLE] = { "mlx5_migratable", J_BOOL, set_mlx5_migratable, "true or false" },
	[M_MLX5_CHUNKS] = { "mlx5_chunks", J_BOOL, set_mlx5_chunks, "true or false" },
	[M_MLX5_WHY] = { "mlx5_why", J_STRING, set_mlx5_why, "a non-empty string" },
};
_Static_assert(sizeof(members) / sizeof(members[0]) == NMEMBERS, "a member per index");
_Static_assert(NMEMBERS < 32, "the seen mask");

/* One member into @p: marked in @seen, and in @given unless null. */
static int member(struct cursor *c, struct vfiomig_profile *p, uint32_t *seen, uint32_t *given)
{
	char name[64];
	struct jvalue v;
	size_t i, where;

	if (string(c, name, sizeof(name)) < 0 || expect(c, ':') < 0)
		return -EBADMSG;
	for (i = 0; i < NMEMBERS && strcmp(members[i].name, name) != 0; i++)
		;
	if (i == NMEMBERS)
		return bad(c, "a member \"%s\", which a profile of %s does not have", name,
			   PROFILE_FORMAT);
	if (*seen & (1u << i))
		return bad(c, "the member \"%s\" a second time", name);
	*seen |= 1u << i;
	skip_space(c);
	where = c->pos;
	if (value(c, &v) < 0)
		return -EBADMSG;
	if (v.type == J_NULL && i != M_FORMAT)	/* the format must be there */
		return 0;
	if (v.type != members[i].type || !members[i].set(p, &v)) {
		c->pos = where;
		return bad(c, "\"%s\" must be %s%s", name, members[i].form,
			   i != M_FORMAT ? " or null" : "");
	}
	*given |= 1u << i;
	return 0;
}

/* Members that are known together, or not at all (@given: BIT() of each
 * member given, not null). */
static const char *inconsistent(uint32_t given)
{
	static const struct {
		uint32_t mask;
		const char *what;
	} sets[] = {
		{ BIT(M_PCI_IDS) | BIT(M_SUBSYSTEM_IDS) | BIT(M_REVISION),
		  "\"pci_ids\", \"subsystem_ids\" and \"revision\" must all be given or all null" },
		{ BIT(M_DRIVER_VERSION) | BIT(M_VERSION_SOURCE),
		  "\"driver_version\" and \"driver_version_source\" must both be given or both null" },
		{ BIT(M_DMA_PAGE_MIN) | BIT(M_DMA_PAGE_MAX),
		  "\"dma_logging_page_min\" and \"dma_logging_page_max\" must both be given or "
		  "both null" },
		{ BIT(M_MLX5_MIGRATION) | BIT(M_MLX5_MIGRATABLE) | BIT(M_MLX5_CHUNKS),
		  "\"mlx5_migration\", \"mlx5_migratable\" and \"mlx5_chunks\" must all be given "
		  "or all null" },
	};

	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		uint32_t g = given & sets[i].mask;

		if (g && g != sets[i].mask)
			return sets[i].what;
	}
	if ((given & BIT(M_MLX5_FIRMWARE)) && !(given & BIT(M_MLX5_MIGRATION)))
		return "\"mlx5_firmware\" is given without the mlx5 capabilities";
	return NULL;
}

static int object(struct cursor *c, struct vfiomig_profile *p)
{
	uint32_t seen = 0, given = 0;
	size_t start;
	const char *why;

	memset(p, 0, sizeof(*p));
	skip_space(c);
	start = c->pos;
	if (expect(c, '{') < 0)
		return -EBADMSG;
	if (!at(c, '}')) {
		do {
			if (member(c, p, &seen, &given) < 0)
				return -EBADMSG;
		} while (at(c, ',') && ++c->pos);
	}
	if (expect(c, '}') < 0)
		return -EBADMSG;
	for (size_t i = 0; i < NMEMBERS; i++)
		if (!(seen & (1u << i))) {
			c->pos = start;
			return bad(c, "the profile has no member \"%s\"", members[i].name);
		}
	why = inconsistent(given);
	if (why) {
		c->pos = start;
		return bad(c, "%s", why);
	}
	return 0;
}

static int objects(struct cursor *c, struct vfiomig_profile **ret, size_t max, size_t *ret_n)
{
	size_t n = 0;
	int r;

	if (!at(c, '[')) {
		ret[0] = calloc(1, sizeof(*ret[0]));
		if (!ret[0])
			return -ENOMEM;
		*ret_n = 1;
		return object(c, ret[0]);
	}
	c->pos++;
	if (at(c, ']'))
		return bad(c, "an empty array: a group's profiles are one or more");
	do {
		if (n == max) {
			snprintf(c->why, c->why_size, "the array holds more than %zu profiles", max);
			return -E2BIG;
		}
		ret[n] = calloc(1, sizeof(*ret[n]));
		if (!ret[n])
			return -ENOMEM;
		*ret_n = ++n;
		r = object(c, ret[n - 1]);
		if (r < 0)
			return r;
	} while (at(c, ',') && ++c->pos);
	return expect(c, ']');
}

int profile_parse(const char *json, size_t len, struct vfiomig_profile **ret, size_t max,
		  size_t *ret_n, char *why, size_t why_size)
{
	struct cursor c = { .s = json, .len = len, .why = why, .why_size = why_size };
	size_t n = 0;
	int r;

	if (len > PROFILE_JSON_MAX) {
		snprintf(why, why_size, "%zu bytes, more than the %u a profile list may take", len,
			 PROFILE_JSON_MAX);
		return -EBADMSG;
	}
	if (memchr(json, '\0', len)) {
		c.pos = (size_t)((const char *)memchr(json, '\0', len) - json);
		return bad(&c, "a NUL byte in the text");
	}
	r = objects(&c, ret, max, &n);
	if (r == 0) {
		skip_space(&c);
		if (c.pos < c.len)
			r = bad(&c, "text after the profile");
	}
	if (r < 0) {
		for (size_t i = 0; i < n; i++) {
			free(ret[i]);
			ret[i] = NULL;
		}
		return r;
	}
	*ret_n = n;
	return 0;
}
