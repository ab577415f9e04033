// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The mock device's spec: "mock:NAME[,key=value...]" (after the "mock:").
 * docs/mock.md documents every key.
 */
#include <ctype.h>
#include <stdio.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mock.h"

#define KEYS "flags, state, size, eom, dirty, datasize, dirtylog, resetflag, " \
	     "infov2, pci, driver, fail, short, rate"

static const char *const kind_names[MOCK_K_COUNT] = {
	[MOCK_K_SET] = "set",		[MOCK_K_GET] = "get",
	[MOCK_K_RESET] = "reset",	[MOCK_K_PRECOPY] = "precopy",
	[MOCK_K_READ] = "read",		[MOCK_K_WRITE] = "write",
	[MOCK_K_DATASIZE] = "datasize",	[MOCK_K_FEATURE] = "feature",
	[MOCK_K_ANY] = "any",
};

static const char *const state_names[VFIOMIG_STATE_COUNT] = {
	[VFIOMIG_STATE_ERROR] = "ERROR",
	[VFIOMIG_STATE_STOP] = "STOP",
	[VFIOMIG_STATE_RUNNING] = "RUNNING",
	[VFIOMIG_STATE_STOP_COPY] = "STOP_COPY",
	[VFIOMIG_STATE_RESUMING] = "RESUMING",
	[VFIOMIG_STATE_RUNNING_P2P] = "RUNNING_P2P",
	[VFIOMIG_STATE_PRE_COPY] = "PRE_COPY",
	[VFIOMIG_STATE_PRE_COPY_P2P] = "PRE_COPY_P2P",
};

static const struct {
	const char *name;
	int err;
} errno_names[] = {
	{ "EPERM", EPERM },	{ "ENOENT", ENOENT },	{ "EINTR", EINTR },
	{ "EIO", EIO },		{ "ENXIO", ENXIO },	{ "E2BIG", E2BIG },
	{ "EBADF", EBADF },	{ "EAGAIN", EAGAIN },	{ "ENOMEM", ENOMEM },
	{ "EACCES", EACCES },	{ "EFAULT", EFAULT },	{ "EBUSY", EBUSY },
	{ "EEXIST", EEXIST },	{ "ENODEV", ENODEV },	{ "EINVAL", EINVAL },
	{ "ENOSPC", ENOSPC },	{ "EPIPE", EPIPE },	{ "ENOTTY", ENOTTY },
	{ "ERANGE", ERANGE },	{ "ENOMSG", ENOMSG },	{ "EOVERFLOW", EOVERFLOW },
	{ "EOPNOTSUPP", EOPNOTSUPP }, { "ENOTCONN", ENOTCONN },
	{ "ETIMEDOUT", ETIMEDOUT }, { "ECANCELED", ECANCELED },
	{ "ESHUTDOWN", ESHUTDOWN },
};

const char *mock_kind_name(enum mock_kind k)
{
	return (unsigned int)k < MOCK_K_COUNT ? kind_names[k] : "?";
}

const char *mock_state_name(enum vfiomig_state s)
{
	return (unsigned int)s < VFIOMIG_STATE_COUNT ? state_names[s] : "INVALID";
}

/* Case-insensitive, '-' and '_' equal. */
static bool name_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a == '-' ? '_' : (char)tolower((unsigned char)*a);
		char y = *b == '-' ? '_' : (char)tolower((unsigned char)*b);

		if (x != y)
			return false;
	}
	return !*a && !*b;
}

static bool valid_word(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			return false;
	return true;
}

static bool parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*ret = v;
	return true;
}

static bool parse_bool(const char *s, bool *ret)
{
	if (!strcmp(s, "0") || !strcmp(s, "1")) {
		*ret = s[0] == '1';
		return true;
	}
	return false;
}

static bool parse_hex(const char *s, size_t maxdigits, unsigned long *ret)
{
	char *end;
	size_t n = strlen(s);

	if (n == 0 || n > maxdigits || !isxdigit((unsigned char)*s))
		return false;
	*ret = strtoul(s, &end, 16);
	return !*end;
}

static int parse_flags(struct vfiomig_ctx *ctx, char *v, uint32_t *ret)
{
	uint32_t flags = 0;
	char *save = NULL;

	for (char *t = strtok_r(v, "+", &save); t; t = strtok_r(NULL, "+", &save)) {
		uint32_t bit;

		if (name_eq(t, "stop_copy"))
			bit = VFIOMIG_MIG_STOP_COPY;
		else if (name_eq(t, "p2p"))
			bit = VFIOMIG_MIG_P2P;
		else if (name_eq(t, "pre_copy"))
			bit = VFIOMIG_MIG_PRE_COPY;
		else
			return vfiomig_fail(ctx, -EINVAL, "mock spec: unknown "
					    "migration flag '%s' in flags= (use "
					    "stop_copy, p2p and pre_copy joined "
					    "with '+')", t);
		if (flags & bit)
			return vfiomig_fail(ctx, -EINVAL, "mock spec: flag "
					    "'%s' given twice in flags=", t);
		flags |= bit;
	}
	if (!(flags & VFIOMIG_MIG_STOP_COPY))
		return vfiomig_fail(ctx, -EINVAL, "mock spec: flags= must "
				    "include stop_copy (the defined sets are "
				    "stop_copy, stop_copy+p2p, stop_copy+pre_copy "
				    "and stop_copy+p2p+pre_copy)");
	*ret = flags;
	return 0;
}

static int parse_errno(const char *s, int *ret)
{
	uint64_t v;

	for (size_t i = 0; i < ARRAY_SIZE(errno_names); i++) {
		if (!strcasecmp(s, errno_names[i].name)) {
			*ret = errno_names[i].err;
			return 0;
		}
	}
	if (parse_u64(s, &v) && v >= 1 && v <= 4095) {
		*ret = (int)v;
		return 0;
	}
	return -EINVAL;
}

static int parse_fail_rule(struct vfiomig_ctx *ctx, char *v,
			   struct mock_spec *spec)
{
	char *save = NULL;
	char *kind = strtok_r(v, ":", &save);
	char *nth = strtok_r(NULL, ":", &save);
	char *err = strtok_r(NULL, ":", &save);
	char *leave = strtok_r(NULL, ":", &save);
	struct mock_fail *f;
	unsigned int k;

	if (spec->nfails == MOCK_FAIL_MAX)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: at most %d fail= "
				    "rules", MOCK_FAIL_MAX);
	if (!kind || !nth || !err || strtok_r(NULL, ":", &save))
		return vfiomig_fail(ctx, -EINVAL, "mock spec: fail= takes "
				    "KIND:N:ERRNO[:LEAVE], e.g. fail=set:1:EIO "
				    "or fail=set:2:EIO:mid");
	f = &spec->fails[spec->nfails];
	for (k = 0; k < MOCK_K_COUNT; k++)
		if (!strcasecmp(kind, kind_names[k]))
			break;
	if (k == MOCK_K_COUNT)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: unknown fail= kind "
				    "'%s' (kinds: set, get, reset, precopy, read, "
				    "write, datasize, feature, any)", kind);
	f->kind = k;
	if (!parse_u64(nth, &f->nth) || f->nth == 0)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: fail=%s:%s: the "
				    "call number must be 1 or more (1 = the first "
				    "call)", kind, nth);
	if (parse_errno(err, &f->err))
		return vfiomig_fail(ctx, -EINVAL, "mock spec: fail= errno '%s' "
				    "unknown: give a name such as EIO, EINTR, "
				    "EAGAIN, ENODEV, ENOMEM, or a number 1..4095",
				    err);
	f->leave = MOCK_LEAVE_UNCHANGED;
	if (leave) {
		if (k != MOCK_K_SET)
			return vfiomig_fail(ctx, -EINVAL, "mock spec: fail=%s "
					    "takes no LEAVE part; LEAVE "
					    "(unchanged, mid, error) applies to "
					    "fail=set only", kind);
		if (name_eq(leave, "unchanged"))
			f->leave = MOCK_LEAVE_UNCHANGED;
		else if (name_eq(leave, "mid"))
			f->leave = MOCK_LEAVE_MID;
		else if (name_eq(leave, "error"))
			f->leave = MOCK_LEAVE_ERROR;
		else
			return vfiomig_fail(ctx, -EINVAL, "mock spec: fail= "
					    "LEAVE '%s' unknown (use unchanged, "
					    "mid or error)", leave);
	}
	spec->nfails++;
	return 0;
}

static int parse_pci(struct vfiomig_ctx *ctx, char *v, struct mock_spec *spec)
{
	char *f[6], *save = NULL;
	unsigned long x[5] = { 0 };
	unsigned int n = 0;
	static const size_t digits[5] = { 4, 4, 4, 4, 2 };
	char copy[64];

	snprintf(copy, sizeof(copy), "%s", v);
	for (char *t = strtok_r(v, ":", &save); t && n < 6; t = strtok_r(NULL, ":", &save))
		f[n++] = t;
	if (n != 2 && n != 4 && n != 5)
		goto bad;
	for (unsigned int i = 0; i < n; i++)
		if (!parse_hex(f[i], digits[i], &x[i]))
			goto bad;
	spec->has_pci = true;
	spec->vendor = (uint16_t)x[0];
	spec->device = (uint16_t)x[1];
	spec->subvendor = (uint16_t)x[2];
	spec->subdevice = (uint16_t)x[3];
	spec->revision = (uint8_t)x[4];
	return 0;
bad:
	return vfiomig_fail(ctx, -EINVAL, "mock spec: pci='%s' is not "
			    "VVVV:DDDD[:SVVV:SDDD[:RR]] in hex, e.g. "
			    "pci=15b3:101e", copy);
}

static int parse_state(struct vfiomig_ctx *ctx, const char *v,
		       enum vfiomig_state *ret)
{
	for (unsigned int s = 0; s < VFIOMIG_STATE_COUNT; s++) {
		if (!name_eq(v, state_names[s]))
			continue;
		if (s != VFIOMIG_STATE_RUNNING && s != VFIOMIG_STATE_STOP &&
		    s != VFIOMIG_STATE_RUNNING_P2P && s != VFIOMIG_STATE_ERROR)
			break;
		*ret = (enum vfiomig_state)s;
		return 0;
	}
	return vfiomig_fail(ctx, -EINVAL, "mock spec: state=%s cannot be the "
			    "initial state: use RUNNING, STOP, RUNNING_P2P or "
			    "ERROR, then move the device with a SET", v);
}

static int parse_kv(struct vfiomig_ctx *ctx, char *key, char *v,
		    struct mock_spec *spec, unsigned int *seen)
{
	static const char *const once[] = {
		"flags", "state", "size", "eom", "dirty", "datasize",
		"dirtylog", "resetflag", "infov2", "pci", "driver", "short",
		"rate",
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(once); i++)
		if (!strcmp(key, once[i]))
			break;
	if (i < ARRAY_SIZE(once)) {
		if (*seen & (1u << i))
			return vfiomig_fail(ctx, -EINVAL, "mock spec: key '%s' "
					    "given twice", key);
		*seen |= 1u << i;
	}

	if (!strcmp(key, "flags"))
		return parse_flags(ctx, v, &spec->mig_flags);
	if (!strcmp(key, "state"))
		return parse_state(ctx, v, &spec->state);
	if (!strcmp(key, "size")) {
		if (!parse_size(v, &spec->size) || spec->size == 0 ||
		    spec->size > MOCK_SIZE_MAX)
			return vfiomig_fail(ctx, -EINVAL, "mock spec: size=%s out "
					    "of range: give 1 to 64G bytes, with "
					    "an optional K, M or G suffix "
					    "(e.g. size=16M)", v);
		return 0;
	}
	if (!strcmp(key, "dirty")) {
		if (!parse_size(v, &spec->dirty) || spec->dirty > MOCK_SIZE_MAX)
			return vfiomig_fail(ctx, -EINVAL, "mock spec: dirty=%s out "
					    "of range: give 0 to 64G bytes per "
					    "pre-copy round, with an optional K, "
					    "M or G suffix (e.g. dirty=256K)", v);
		return 0;
	}
	if (!strcmp(key, "rate")) {
		if (!parse_size(v, &spec->rate) || spec->rate > MOCK_RATE_MAX)
			return vfiomig_fail(ctx, -EINVAL, "mock spec: rate=%s out "
					    "of range: give 0 (unlimited) to 64G "
					    "bytes a second, with an optional K, M "
					    "or G suffix (e.g. rate=64M)", v);
		return 0;
	}
	if (!strcmp(key, "eom")) {
		if (name_eq(v, "enomsg"))
			spec->eom_zero = false;
		else if (name_eq(v, "zero"))
			spec->eom_zero = true;
		else
			return vfiomig_fail(ctx, -EINVAL, "mock spec: eom=%s: use "
					    "eom=enomsg (mlx5) or eom=zero (mtty)",
					    v);
		return 0;
	}
	if (!strcmp(key, "datasize") || !strcmp(key, "dirtylog") ||
	    !strcmp(key, "resetflag") || !strcmp(key, "infov2")) {
		bool *b = !strcmp(key, "datasize") ? &spec->datasize :
			  !strcmp(key, "dirtylog") ? &spec->dirtylog :
			  !strcmp(key, "resetflag") ? &spec->resetflag :
			  &spec->infov2;

		if (!parse_bool(v, b))
			return vfiomig_fail(ctx, -EINVAL, "mock spec: %s=%s: "
					    "use 0 or 1", key, v);
		return 0;
	}
	if (!strcmp(key, "pci"))
		return parse_pci(ctx, v, spec);
	if (!strcmp(key, "driver")) {
		if (!valid_word(v, sizeof(spec->driver) - 1))
			return vfiomig_fail(ctx, -EINVAL, "mock spec: driver=%s: "
					    "use 1 to 63 letters, digits, '.', "
					    "'_' or '-'", v);
		snprintf(spec->driver, sizeof(spec->driver), "%s", v);
		return 0;
	}
	if (!strcmp(key, "fail"))
		return parse_fail_rule(ctx, v, spec);
	if (!strcmp(key, "short")) {
		if (name_eq(v, "read") || name_eq(v, "both"))
			spec->short_read = true;
		if (name_eq(v, "write") || name_eq(v, "both"))
			spec->short_write = true;
		if (!spec->short_read && !spec->short_write)
			return vfiomig_fail(ctx, -EINVAL, "mock spec: short=%s: "
					    "use short=read, short=write or "
					    "short=both", v);
		return 0;
	}
	return vfiomig_fail(ctx, -EINVAL, "mock spec: unknown key '%s' (keys: "
			    KEYS ")", key);
}

int mock_spec_parse(struct vfiomig_ctx *ctx, const char *params,
		    struct mock_spec *spec)
{
	char *copy, *save = NULL, *tok;
	unsigned int seen = 0;
	int r = 0;

	memset(spec, 0, sizeof(*spec));
	spec->mig_flags = VFIOMIG_MIG_STOP_COPY | VFIOMIG_MIG_P2P |
			  VFIOMIG_MIG_PRE_COPY;
	spec->state = VFIOMIG_STATE_RUNNING;
	spec->size = 64 << 10;
	spec->datasize = true;
	spec->resetflag = true;
	snprintf(spec->driver, sizeof(spec->driver), "mock");

	if (!params)
		params = "";
	copy = strdup(params);
	if (!copy)
		return -ENOMEM;

	/* strtok_r would skip an empty NAME: look at it first. */
	tok = copy;
	save = strchr(copy, ',');
	if (save)
		*save++ = '\0';
	if (!valid_word(tok, MOCK_NAME_MAX)) {
		r = vfiomig_fail(ctx, -EINVAL, "mock spec: name '%s' is not 1 to "
				 "%d letters, digits, '.', '_' or '-'; write "
				 "mock:NAME[,key=value...], e.g. mock:a,size=1M",
				 tok, MOCK_NAME_MAX);
		goto out;
	}
	snprintf(spec->name, sizeof(spec->name), "%s", tok);

	while (save && !r) {
		char *kv = save, *eq;

		save = strchr(kv, ',');
		if (save)
			*save++ = '\0';
		eq = strchr(kv, '=');
		if (!eq || eq == kv || !eq[1]) {
			r = vfiomig_fail(ctx, -EINVAL, "mock spec: '%s' is not "
					 "key=value (keys: " KEYS ")", kv);
			break;
		}
		*eq = '\0';
		r = parse_kv(ctx, kv, eq + 1, spec, &seen);
	}
	if (r)
		goto out;

	if (spec->state == VFIOMIG_STATE_RUNNING_P2P &&
	    !(spec->mig_flags & VFIOMIG_MIG_P2P))
		r = vfiomig_fail(ctx, -EINVAL, "mock spec: state=RUNNING_P2P "
				 "needs a device with P2P: add p2p to flags= or "
				 "pick another state");
out:
	free(copy);
	return r;
}
