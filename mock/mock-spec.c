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
#include "call.h"
#include "log.h"
#include "states.h"
#include "dev.h"
#include "util.h"

#define KEYS "flags, state, size, eom, dirty, datasize, dirtylog, resetflag, " \
	     "infov2, reinit, pci, driver, mdev_type, fail, short, rate, arc, " \
	     "personality, dirtyrate, dmafd, logranges, logspan, logpage, iovabitmap, " \
	     "garbage, dirtyplan"
#define FAIL_KINDS "set, get, reset, precopy, read, write, datasize, feature, " \
		   "logstart, logreport, logstop, any"

static const char *const kind_names[MOCK_K_COUNT] = {
	[MOCK_K_SET] = "set",		[MOCK_K_GET] = "get",
	[MOCK_K_RESET] = "reset",	[MOCK_K_PRECOPY] = "precopy",
	[MOCK_K_READ] = "read",		[MOCK_K_WRITE] = "write",
	[MOCK_K_DATASIZE] = "datasize",	[MOCK_K_FEATURE] = "feature",
	[MOCK_K_LOGSTART] = "logstart",	[MOCK_K_LOGREPORT] = "logreport",
	[MOCK_K_LOGSTOP] = "logstop",	[MOCK_K_ANY] = "any",
};

static const char *const bug_names[MOCK_BUG_COUNT] = {
	[MOCK_BUG_FLAGS] = "flags",
	[MOCK_BUG_SIZE_LIES] = "size-lies",
	[MOCK_BUG_PROBE_LIES] = "probe-lies",
	[MOCK_BUG_INFOV2_EINVAL] = "infov2-einval",
	[MOCK_BUG_WRONG_ARC] = "wrong-arc",
	[MOCK_BUG_ACCEPTS_ERROR] = "accepts-error",
	[MOCK_BUG_FAILED_SET_WRONG] = "failed-set-wrong",
	[MOCK_BUG_NO_EOF] = "no-eof",
	[MOCK_BUG_PRECOPY_INFO_ANYWHERE] = "precopy-info-anywhere",
	[MOCK_BUG_INITIAL_GROWS] = "initial-grows",
	[MOCK_BUG_ENDED_FD_ALIVE] = "ended-fd-alive",
	[MOCK_BUG_WRITE_SPLIT] = "write-split",
	[MOCK_BUG_RESET_STICKS] = "reset-sticks",
	[MOCK_BUG_RESET_KEEPS_FDS] = "reset-keeps-fds",
	[MOCK_BUG_NO_RUN_AFTER_LOAD] = "no-run-after-load",
	[MOCK_BUG_LOAD_ONCE] = "load-once",
	[MOCK_BUG_ACCEPTS_TRUNCATED] = "accepts-truncated",
	[MOCK_BUG_ACCEPTS_GARBAGE] = "accepts-garbage",
	[MOCK_BUG_KEEPS_STATE] = "keeps-state",
	[MOCK_BUG_KEEPS_SESSIONS] = "keeps-sessions",
	[MOCK_BUG_HANG_ARC] = "hang-arc",
	[MOCK_BUG_STALE_OOPS] = "stale-oops",
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

const char *mock_bug_name(enum mock_bug b)
{
	return (unsigned int)b < MOCK_BUG_COUNT ? bug_names[b] : "?";
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

/*
 * What a numeric value turned out to be: a number in range, not a number
 * at all ("abc", "1X"), or a number outside what its key takes ("0",
 * "65G"), so that the error says which.
 */
enum num {
	NUM_OK,
	NUM_BAD,
	NUM_RANGE,
};

/* Decimal digits only; NUM_RANGE beyond 64 bits. */
static enum num parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)*s))
		return NUM_BAD;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return NUM_BAD;
	if (errno)
		return NUM_RANGE;
	*ret = v;
	return NUM_OK;
}

/* Digits with at most one K, M or G after them, as parse_size() takes. */
static enum num parse_bytes(const char *s, uint64_t *ret)
{
	size_t digits = strspn(s, "0123456789");

	if (digits == 0 || (s[digits] && (s[digits + 1] || !strchr("kKmMgG", s[digits]))))
		return NUM_BAD;
	/* Well formed: parse_size() fails only beyond 64 bits. */
	return parse_size(s, ret) ? NUM_OK : NUM_RANGE;
}

/*
 * A latency with its unit (us, ms, s) in nanoseconds, at most
 * MOCK_ARC_MAX_NS; a bare 0 is none.  A number without its unit is not a
 * latency (NUM_BAD).
 */
static enum num parse_latency(const char *s, uint64_t *ret_ns)
{
	static const struct {
		const char *unit;
		uint64_t ns;
	} units[] = { { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000 } };
	size_t digits = strspn(s, "0123456789");
	const char *unit = s + digits;
	size_t i = 0;
	char number[24];
	uint64_t v;

	if (digits == 0)
		return NUM_BAD;
	if (!*unit) {	/* only 0 goes without a unit */
		*ret_ns = 0;
		return strspn(s, "0") == digits ? NUM_OK : NUM_BAD;
	}
	while (i < ARRAY_SIZE(units) && strcasecmp(unit, units[i].unit))
		i++;
	if (i == ARRAY_SIZE(units))
		return NUM_BAD;
	if (digits >= sizeof(number))
		return NUM_RANGE;
	memcpy(number, s, digits);
	number[digits] = '\0';
	if (parse_u64(number, &v) != NUM_OK)
		return NUM_RANGE;
	if (v > MOCK_ARC_MAX_NS / units[i].ns)
		return NUM_RANGE;
	*ret_ns = v * units[i].ns;
	return NUM_OK;
}

/* 0 or 1; any other number is out of range. */
static enum num parse_bool(const char *s, bool *ret)
{
	uint64_t v;
	enum num r = parse_u64(s, &v);

	if (r == NUM_OK && v > 1)
		r = NUM_RANGE;
	if (r == NUM_OK)
		*ret = v == 1;
	return r;
}

/* Hex digits, at most @max. */
static enum num parse_hex(const char *s, unsigned long max, unsigned long *ret)
{
	size_t n = strlen(s);
	unsigned long long v;

	if (n == 0 || strspn(s, "0123456789abcdefABCDEF") != n)
		return NUM_BAD;
	errno = 0;
	v = strtoull(s, NULL, 16);
	if (errno || v > max)
		return NUM_RANGE;
	*ret = (unsigned long)v;
	return NUM_OK;
}

/*
 * bitN (3 to 63): a flag no kernel defines yet, as a newer one may; the
 * state machine sees it as the kernel's does (it changes nothing there).
 */
static bool parse_flag_bit(const char *t, uint64_t *ret)
{
	uint64_t n;

	if (strncasecmp(t, "bit", 3) || parse_u64(t + 3, &n) != NUM_OK || n < 3 || n > 63)
		return false;
	*ret = (uint64_t)1 << n;
	return true;
}

static int parse_flags(struct vfiomig_ctx *ctx, char *v, uint64_t *ret)
{
	uint64_t flags = 0;
	char *save = NULL;

	for (char *t = strtok_r(v, "+", &save); t; t = strtok_r(NULL, "+", &save)) {
		uint64_t bit;

		if (name_eq(t, "stop_copy"))
			bit = VFIOMIG_MIG_STOP_COPY;
		else if (name_eq(t, "p2p"))
			bit = VFIOMIG_MIG_P2P;
		else if (name_eq(t, "pre_copy"))
			bit = VFIOMIG_MIG_PRE_COPY;
		else if (!parse_flag_bit(t, &bit))
			return vfiomig_fail(ctx, -EINVAL, "mock spec: unknown "
					    "migration flag '%s' in flags= (use "
					    "stop_copy, p2p and pre_copy joined "
					    "with '+', and bit3 to bit63 for flags "
					    "no kernel defines yet)", t);
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

/* A name of errno_names, or a number from 1 to 4095. */
static enum num parse_errno(const char *s, int *ret)
{
	uint64_t v;
	enum num r;

	for (size_t i = 0; i < ARRAY_SIZE(errno_names); i++) {
		if (!strcasecmp(s, errno_names[i].name)) {
			*ret = errno_names[i].err;
			return NUM_OK;
		}
	}
	r = parse_u64(s, &v);
	if (r == NUM_OK && (v < 1 || v > 4095))
		r = NUM_RANGE;
	if (r == NUM_OK)
		*ret = (int)v;
	return r;
}

/* fail='s N: 1 or more, and N+ for call N and every one after it. */
static enum num parse_nth(const char *s, uint64_t *ret, bool *ret_every)
{
	size_t len = strlen(s);
	char digits[24];
	enum num r;

	*ret_every = len > 1 && s[len - 1] == '+';
	if (*ret_every)
		len--;
	if (len >= sizeof(digits))
		return strspn(s, "0123456789") == len ? NUM_RANGE : NUM_BAD;
	memcpy(digits, s, len);
	digits[len] = '\0';
	r = parse_u64(digits, ret);
	return r == NUM_OK && *ret == 0 ? NUM_RANGE : r;
}

/*
 * A state number no kernel defines yet (8 to 2^32 - 1), as a newer
 * kernel's driver may report one: for state= and fail=set's LEAVE.
 */
static enum num parse_future_state(const char *s, uint32_t *ret)
{
	uint64_t v;
	enum num r = parse_u64(s, &v);

	if (r == NUM_OK && (v < VFIOMIG_STATE_COUNT || v > UINT32_MAX))
		r = NUM_RANGE;
	if (r == NUM_OK)
		*ret = (uint32_t)v;
	return r;
}

/* fail=set's LEAVE: unchanged, mid, error, or a newer kernel's state. */
static enum num parse_leave(const char *s, struct mock_fail *f)
{
	if (name_eq(s, "unchanged"))
		f->leave = MOCK_LEAVE_UNCHANGED;
	else if (name_eq(s, "mid"))
		f->leave = MOCK_LEAVE_MID;
	else if (name_eq(s, "error"))
		f->leave = MOCK_LEAVE_ERROR;
	else if (parse_future_state(s, &f->leave_state) == NUM_OK)
		f->leave = MOCK_LEAVE_STATE;
	else
		return NUM_BAD;
	return NUM_OK;
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
	enum num n;

	if (spec->nfails == MOCK_FAIL_MAX)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: at most %d fail= "
				    "rules", MOCK_FAIL_MAX);
	if (!kind || !nth || !err || strtok_r(NULL, ":", &save))
		return vfiomig_fail(ctx, -EINVAL, "mock spec: fail= takes "
				    "KIND:N[+]:ERRNO[:LEAVE], e.g. fail=set:1:EIO, "
				    "fail=set:2:EIO:mid or fail=reset:1+:EBUSY");
	f = &spec->fails[spec->nfails];
	for (k = 0; k < MOCK_K_COUNT; k++)
		if (!strcasecmp(kind, kind_names[k]))
			break;
	if (k == MOCK_K_COUNT)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: unknown fail= kind "
				    "'%s' (kinds: " FAIL_KINDS ")", kind);
	f->kind = k;
	n = parse_nth(nth, &f->nth, &f->every);
	if (n == NUM_BAD)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: fail=%s:%s: the "
				    "call number '%s' is not a number: give 1 or "
				    "more (1 = the first call; N+ = call N and every "
				    "one after it)", kind, nth, nth);
	if (n == NUM_RANGE || f->nth == 0)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: fail=%s:%s: the "
				    "call number %s is out of range: give 1 or more "
				    "(1 = the first call)", kind, nth, nth);
	n = parse_errno(err, &f->err);
	if (n == NUM_BAD && isdigit((unsigned char)*err))
		return vfiomig_fail(ctx, -EINVAL, "mock spec: fail= errno '%s' "
				    "is not a number: give a number 1..4095 or a "
				    "name such as EIO, EINTR, EAGAIN, ENODEV, ENOMEM",
				    err);
	if (n == NUM_BAD)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: fail= errno '%s' "
				    "unknown: give a name such as EIO, EINTR, "
				    "EAGAIN, ENODEV, ENOMEM, or a number 1..4095",
				    err);
	if (n == NUM_RANGE)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: fail= errno %s "
				    "out of range: give a number 1..4095 or a name "
				    "such as EIO, EINTR, EAGAIN, ENODEV, ENOMEM", err);
	f->leave = MOCK_LEAVE_UNCHANGED;
	if (leave && k != MOCK_K_SET)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: fail=%s "
				    "takes no LEAVE part; LEAVE "
				    "(unchanged, mid, error, or a state number "
				    "of 8 or more) applies to fail=set only", kind);
	if (leave && parse_leave(leave, f) != NUM_OK)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: fail= "
				    "LEAVE '%s' unknown: use unchanged, mid, error, "
				    "or a state no kernel defines yet, 8 to "
				    "4294967295 (e.g. fail=set:1:EIO:9)", leave);
	spec->nfails++;
	return 0;
}

static int parse_pci(struct vfiomig_ctx *ctx, char *v, struct mock_spec *spec)
{
	char *f[6], *save = NULL;
	unsigned long x[5] = { 0 };
	unsigned int n = 0;
	static const unsigned long max[5] = { 0xffff, 0xffff, 0xffff, 0xffff, 0xff };
	enum num r = NUM_OK;
	char copy[64];

	snprintf(copy, sizeof(copy), "%s", v);
	for (char *t = strtok_r(v, ":", &save); t && n < 6; t = strtok_r(NULL, ":", &save))
		f[n++] = t;
	if (n != 2 && n != 4 && n != 5)
		goto bad;
	/* Any field that is not hex makes the whole malformed. */
	for (unsigned int i = 0; i < n; i++) {
		enum num e = parse_hex(f[i], max[i], &x[i]);

		if (e == NUM_BAD)
			goto bad;
		if (e == NUM_RANGE)
			r = NUM_RANGE;
	}
	if (r == NUM_RANGE)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: pci='%s' out of "
				    "range: each ID is 0 to ffff and the revision "
				    "0 to ff, in hex, e.g. pci=15b3:101e", copy);
	spec->id.has_pci_ids = true;
	spec->id.vendor = (uint16_t)x[0];
	spec->id.device = (uint16_t)x[1];
	spec->id.subsystem_vendor = (uint16_t)x[2];
	spec->id.subsystem_device = (uint16_t)x[3];
	spec->id.revision = (uint8_t)x[4];
	return 0;
bad:
	return vfiomig_fail(ctx, -EINVAL, "mock spec: pci='%s' is not "
			    "VVVV:DDDD[:SVVV:SDDD[:RR]] in hex, e.g. "
			    "pci=15b3:101e", copy);
}

static int parse_state(struct vfiomig_ctx *ctx, const char *v, uint32_t *ret)
{
	for (unsigned int s = 0; s < VFIOMIG_STATE_COUNT; s++) {
		if (!name_eq(v, vfiomig_state_str(s)))
			continue;
		if (s != VFIOMIG_STATE_RUNNING && s != VFIOMIG_STATE_STOP &&
		    s != VFIOMIG_STATE_RUNNING_P2P && s != VFIOMIG_STATE_ERROR)
			break;
		*ret = s;
		return 0;
	}
	if (parse_future_state(v, ret) == NUM_OK)
		return 0;
	return vfiomig_fail(ctx, -EINVAL, "mock spec: state=%s cannot be the "
			    "initial state: use RUNNING, STOP, RUNNING_P2P, "
			    "ERROR, or a state no kernel defines yet (8 to "
			    "4294967295), then move the device with a SET", v);
}

/* size=, dirty=, rate=, reinit=: bytes with the suffixes of parse_size(). */
static int parse_amount(struct vfiomig_ctx *ctx, const char *key, const char *v,
			uint64_t min, uint64_t max, uint64_t *ret, const char *hint)
{
	enum num r = parse_bytes(v, ret);

	if (r == NUM_BAD)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: %s=%s is not a "
				    "number: give %s", key, v, hint);
	if (r == NUM_RANGE || *ret < min || *ret > max)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: %s=%s out of range: "
				    "give %s", key, v, hint);
	return 0;
}

static int parse_switch(struct vfiomig_ctx *ctx, const char *key, const char *v,
			bool *ret)
{
	enum num r = parse_bool(v, ret);

	if (r != NUM_OK)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: %s=%s %s: use 0 or 1",
				    key, v, r == NUM_BAD ? "is not a number" : "out of range");
	return 0;
}

static int parse_eom(struct vfiomig_ctx *ctx, const char *v, bool *ret_zero)
{
	if (name_eq(v, "enomsg") || name_eq(v, "zero")) {
		*ret_zero = name_eq(v, "zero");
		return 0;
	}
	return vfiomig_fail(ctx, -EINVAL, "mock spec: eom=%s: use eom=enomsg "
			    "(mlx5) or eom=zero (mtty)", v);
}

/* driver= and mdev_type=: a name into @dst. */
static int parse_name(struct vfiomig_ctx *ctx, const char *key, const char *v, char *dst,
		      size_t size)
{
	if (!valid_word(v, MOCK_DRIVER_MAX))
		return vfiomig_fail(ctx, -EINVAL, "mock spec: %s=%s: use 1 "
				    "to %d letters, digits, '.', '_' or '-'", key, v,
				    MOCK_DRIVER_MAX);
	snprintf(dst, size, "%s", v);
	return 0;
}

static int parse_short(struct vfiomig_ctx *ctx, const char *v,
		       struct mock_spec *spec)
{
	if (name_eq(v, "read") || name_eq(v, "both"))
		spec->short_read = true;
	if (name_eq(v, "write") || name_eq(v, "both"))
		spec->short_write = true;
	if (!spec->short_read && !spec->short_write)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: short=%s: use "
				    "short=read, short=write or short=both", v);
	return 0;
}

static int parse_arc(struct vfiomig_ctx *ctx, const char *v, uint64_t *ret_ns)
{
	enum num r = parse_latency(v, ret_ns);

	if (r != NUM_OK)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: arc=%s %s: give how "
				    "long each arc of a state change takes, with "
				    "a unit, us, ms or s, up to 60s (e.g. "
				    "arc=5ms), or 0 for no time", v,
				    r == NUM_BAD ? "is not a number with a unit" : "out of range");
	return 0;
}

/*
 * dirtyplan=RATE/TIME:...:RATE: what the running device dirties a second,
 * step by step, each step but the last for TIME (a latency, as arc=
 * takes), the last one on.  A plan takes the place of dirty=.
 */
static int parse_dirtyplan(struct vfiomig_ctx *ctx, char *v, struct mock_spec *spec)
{
	static const char hint[] = "give RATE/TIME steps and a last RATE, separated by ':', "
				   "RATE bytes a second up to 64G, TIME up to 60s with a unit, "
				   "at most 8 steps (e.g. dirtyplan=64M/500ms:8M)";
	char *save = NULL;
	uint64_t until = 0;

	for (char *t = strtok_r(v, ":", &save); t; t = strtok_r(NULL, ":", &save)) {
		char *slash = strchr(t, '/');
		struct mock_plan_step *st = &spec->plan[spec->nplan];
		uint64_t ns = 0;
		bool last = !save || !*save;

		if (slash)
			*slash = '\0';
		if (spec->nplan == MOCK_PLAN_MAX || parse_bytes(t, &st->rate) != NUM_OK ||
		    st->rate > MOCK_RATE_MAX || last == !!slash ||
		    (slash && (parse_latency(slash + 1, &ns) != NUM_OK || ns == 0)))
			return vfiomig_fail(ctx, -EINVAL, "mock spec: dirtyplan= step %u "
					    "('%s%s%s') is wrong: %s", spec->nplan + 1, t,
					    slash ? "/" : "", slash ? slash + 1 : "", hint);
		until += ns;
		st->until_ns = until;
		spec->nplan++;
	}
	if (!spec->nplan)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: dirtyplan= is empty: %s", hint);
	return 0;
}

/*
 * What each personality pretends to be unless pci= or driver= say
 * otherwise, and the migration flags its driver offers unless flags= says
 * (0: the mock's default).
 */
static const struct persona {
	const char *name;
	uint16_t vendor, device;
	const char *driver;
	uint64_t mig_flags;
} personas[MOCK_PERSONA_COUNT] = {
	[MOCK_PERSONA_MOCK] = { "mock", 0, 0, NULL, 0 },
	[MOCK_PERSONA_MLX5] = { "mlx5", 0x15b3, 0x101e, "mlx5_vfio_pci", 0 },
	/* a Battlemage VF; xe-vfio-pci has no pre-copy */
	[MOCK_PERSONA_XE] = { "xe", 0x8086, 0xe20b, "xe-vfio-pci",
			      VFIOMIG_MIG_STOP_COPY | VFIOMIG_MIG_P2P },
};

const char *mock_personality_name(enum mock_personality p)
{
	return (unsigned int)p < MOCK_PERSONA_COUNT ? personas[p].name : "?";
}

/* personality=: whose driver the device plays, its stream framing and all. */
static int parse_personality(struct vfiomig_ctx *ctx, const char *v,
			     enum mock_personality *ret)
{
	for (unsigned int p = 0; p < MOCK_PERSONA_COUNT; p++) {
		if (name_eq(v, personas[p].name)) {
			*ret = p;
			return 0;
		}
	}
	return vfiomig_fail(ctx, -EINVAL, "mock spec: personality=%s: use "
			    "personality=mock (the mock's own stream), "
			    "personality=mlx5 (mlx5_vfio_pci records) or "
			    "personality=xe (xe-vfio-pci packets)", v);
}

/* dirtylog=: 0, 1 (mlx5's tracker) or dummy (mtty's stubs). */
static int parse_dirtylog(struct vfiomig_ctx *ctx, const char *v, enum mock_log *ret)
{
	if (!strcmp(v, "0"))
		*ret = MOCK_LOG_NONE;
	else if (!strcmp(v, "1"))
		*ret = MOCK_LOG_TRACKER;
	else if (name_eq(v, "dummy"))
		*ret = MOCK_LOG_DUMMY;
	else
		return vfiomig_fail(ctx, -EINVAL, "mock spec: dirtylog=%s: use 0 (no "
				    "DMA logging), 1 (a tracker, as mlx5's) or dummy "
				    "(mtty's stubs, which report nothing)", v);
	return 0;
}

/* dirtyrate=, dmafd=, logranges=: a plain number from @min to @max. */
static int parse_count(struct vfiomig_ctx *ctx, const char *key, const char *v,
		       uint64_t min, uint64_t max, uint64_t *ret, const char *hint)
{
	enum num r = parse_u64(v, ret);

	if (r == NUM_OK && (*ret < min || *ret > max))
		r = NUM_RANGE;
	if (r != NUM_OK)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: %s=%s %s: give %s", key, v,
				    r == NUM_BAD ? "is not a number" : "out of range", hint);
	return 0;
}

/*
 * A power of two from 4K to 2^63 bytes, with an optional K, M, G or T
 * suffix (powers of 1024), as log2 in @ret; NUM_RANGE if it is no power
 * of two or out of bounds.
 */
static enum num parse_pow2(const char *s, unsigned int *ret)
{
	size_t digits = strspn(s, "0123456789");
	const char *suffixes = "KMGT", *at;
	unsigned int shift = 0;
	char number[24];
	uint64_t v;

	if (digits == 0 || digits >= sizeof(number))
		return digits ? NUM_RANGE : NUM_BAD;
	if (s[digits]) {
		at = strchr(suffixes, toupper((unsigned char)s[digits]));
		if (!at || s[digits + 1])
			return NUM_BAD;
		shift = 10 * (unsigned int)(at - suffixes + 1);
	}
	memcpy(number, s, digits);
	number[digits] = '\0';
	if (parse_u64(number, &v) != NUM_OK || v > (UINT64_MAX >> shift))
		return NUM_RANGE;
	v <<= shift;
	if (v < 4096 || (v & (v - 1)))
		return NUM_RANGE;
	*ret = (unsigned int)__builtin_ctzll(v);
	return NUM_OK;
}

/* logspan=SIZE or MIN:MAX, logpage=MIN:MAX: log2 bounds into @min, @max. */
static int parse_bounds(struct vfiomig_ctx *ctx, const char *key, char *v, bool single,
			unsigned int *min, unsigned int *max)
{
	char *colon = strchr(v, ':');
	enum num a = NUM_OK, b;
	unsigned int lo = *min, hi;

	if (colon) {
		*colon = '\0';
		a = parse_pow2(v, &lo);
	}
	b = parse_pow2(colon ? colon + 1 : v, &hi);
	if (colon)
		*colon = ':';
	if ((!colon && !single) || a == NUM_BAD || b == NUM_BAD)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: %s=%s is not %s: give "
				    "powers of two with an optional K, M, G or T suffix, "
				    "e.g. %s", key, v, single ? "SIZE or MIN:MAX" : "MIN:MAX",
				    single ? "logspan=4T or logspan=1M:4T" : "logpage=4K:1G");
	if (a == NUM_RANGE || b == NUM_RANGE || lo > hi)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: %s=%s out of range: each "
				    "bound is a power of two from 4K to 2^63 bytes, and "
				    "MIN is at most MAX", key, v);
	*min = lo;
	*max = hi;
	return 0;
}

/* The keys of DMA logging; 1 if @key is none of them. */
static int parse_log_kv(struct vfiomig_ctx *ctx, const char *key, char *v,
			struct mock_spec *spec)
{
	uint64_t n;
	int r;

	if (!strcmp(key, "dirtylog"))
		return parse_dirtylog(ctx, v, &spec->dirtylog);
	if (!strcmp(key, "dirtyrate"))
		return parse_count(ctx, key, v, 0, MOCK_DIRTYRATE_MAX, &spec->dirtyrate,
				   "0 to 10000000 DMA writes a second (e.g. dirtyrate=5000)");
	if (!strcmp(key, "dmafd")) {
		r = parse_count(ctx, key, v, 0, INT32_MAX, &n, "an open file "
				"descriptor's number, e.g. a memfd's (dmafd=5)");
		spec->dmafd = (int)n;
		return r;
	}
	if (!strcmp(key, "logranges")) {
		r = parse_count(ctx, key, v, 1, MOCK_LOG_MAX_RANGES, &n, "the most "
				"ranges the device tracks, 1 to 256 (e.g. logranges=4)");
		spec->logranges = (uint32_t)n;
		return r;
	}
	if (!strcmp(key, "logspan"))
		return parse_bounds(ctx, key, v, true, &spec->logspan_min, &spec->logspan_max);
	if (!strcmp(key, "logpage"))
		return parse_bounds(ctx, key, v, false, &spec->logpage_min, &spec->logpage_max);
	return 1;
}

/* garbage='s VALUE: a number up to 2^64 - 1, max, or max-N. */
static enum num parse_garbage_value(const char *s, uint64_t *ret)
{
	uint64_t below = 0;
	enum num r = NUM_OK;

	if (strncasecmp(s, "max", 3))
		return parse_u64(s, ret);
	if (s[3])
		r = s[3] == '-' ? parse_u64(s + 4, &below) : NUM_BAD;
	if (r == NUM_OK)
		*ret = UINT64_MAX - below;
	return r;
}

/*
 * garbage=KIND:VALUE: what MIG_DATA_SIZE (datasize) or PRECOPY_INFO
 * (initial, dirty) answers instead of the truth, every time: a driver's
 * sizes "may report anything".  Repeatable, once per KIND.
 */
static int parse_garbage(struct vfiomig_ctx *ctx, char *v, struct mock_spec *spec)
{
	static const char *const kinds[MOCK_G_COUNT] = {
		[MOCK_G_DATASIZE] = "datasize", [MOCK_G_INITIAL] = "initial",
		[MOCK_G_DIRTY] = "dirty",
	};
	char *colon = strchr(v, ':');
	unsigned int k = 0;
	uint64_t value;
	enum num r;

	if (colon)
		*colon = '\0';
	while (k < MOCK_G_COUNT && !name_eq(v, kinds[k]))
		k++;
	if (!colon || k == MOCK_G_COUNT)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: garbage=%s%s: give "
				    "KIND:VALUE, KIND datasize, initial or dirty, e.g. "
				    "garbage=datasize:max or garbage=dirty:9223372036854775808",
				    v, colon ? ":..." : "");
	r = parse_garbage_value(colon + 1, &value);
	if (r != NUM_OK)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: garbage=%s:%s %s: give a "
				    "number up to 18446744073709551615, max, or max-N",
				    v, colon + 1, r == NUM_BAD ? "is not a number" : "out of range");
	if (spec->garbage_on[k])
		return vfiomig_fail(ctx, -EINVAL, "mock spec: garbage=%s: given twice",
				    kinds[k]);
	spec->garbage_on[k] = true;
	spec->garbage[k] = value;
	return 0;
}

/* The valid bug= names, for the error that lists them. */
static void bug_list(char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned int b = 0; b < MOCK_BUG_COUNT && n < size; b++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s", b ? ", " : "", bug_names[b]);
}

/*
 * bug=NAME: repeatable, at most MOCK_BUG_MAX keys; the same NAME twice is
 * harmless, since a rule broken once is broken.  keeps-sessions is
 * keeps-state and more, so it sets both.
 */
static int parse_bug(struct vfiomig_ctx *ctx, const char *v, struct mock_spec *spec)
{
	char names[512];
	unsigned int b;

	if (spec->nbugs == MOCK_BUG_MAX)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: at most %d bug= keys",
				    MOCK_BUG_MAX);
	for (b = 0; b < MOCK_BUG_COUNT; b++)
		if (name_eq(v, bug_names[b]))
			break;
	if (b == MOCK_BUG_COUNT) {
		bug_list(names, sizeof(names));
		return vfiomig_fail(ctx, -EINVAL, "mock spec: unknown bug= name '%s' "
				    "(names: %s)", v, names);
	}
	spec->nbugs++;
	spec->bugs |= 1u << b;
	if (b == MOCK_BUG_KEEPS_SESSIONS)
		spec->bugs |= 1u << MOCK_BUG_KEEPS_STATE;
	return 0;
}

/* Every key but fail=, bug= and garbage= may come once; bit i of a seen
 * mask stands for once_keys[i]. */
static const char *const once_keys[] = {
	"flags", "state", "size", "eom", "dirty", "datasize",
	"dirtylog", "resetflag", "infov2", "reinit", "pci", "driver", "mdev_type",
	"short", "rate", "arc", "personality", "dirtyrate", "dmafd",
	"logranges", "logspan", "logpage", "iovabitmap", "dirtyplan",
};

static unsigned int once_bit(const char *key)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(once_keys); i++)
		if (!strcmp(key, once_keys[i]))
			return 1u << i;
	return 0;
}

/* -EINVAL for the second of a key that may come once. */
static int check_once(struct vfiomig_ctx *ctx, const char *key, unsigned int *seen)
{
	unsigned int bit = once_bit(key);

	if (*seen & bit)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: key '%s' given twice", key);
	*seen |= bit;
	return 0;
}

static int parse_kv(struct vfiomig_ctx *ctx, char *key, char *v,
		    struct mock_spec *spec)
{
	int r = parse_log_kv(ctx, key, v, spec);

	if (r <= 0)
		return r;
	if (!strcmp(key, "flags"))
		return parse_flags(ctx, v, &spec->mig_flags);
	if (!strcmp(key, "state"))
		return parse_state(ctx, v, &spec->state);
	if (!strcmp(key, "size"))
		return parse_amount(ctx, key, v, 1, MOCK_SIZE_MAX, &spec->size,
				    "1 to 64G bytes, with an optional K, M or G "
				    "suffix (e.g. size=16M)");
	if (!strcmp(key, "dirty"))
		return parse_amount(ctx, key, v, 0, MOCK_SIZE_MAX, &spec->dirty,
				    "0 to 64G bytes per pre-copy round, with an "
				    "optional K, M or G suffix (e.g. dirty=256K)");
	if (!strcmp(key, "rate"))
		return parse_amount(ctx, key, v, 0, MOCK_RATE_MAX, &spec->rate,
				    "0 (unlimited) to 64G bytes a second, with an "
				    "optional K, M or G suffix (e.g. rate=64M)");
	if (!strcmp(key, "arc"))
		return parse_arc(ctx, v, &spec->arc_ns);
	if (!strcmp(key, "eom"))
		return parse_eom(ctx, v, &spec->eom_zero);
	if (!strcmp(key, "datasize"))
		return parse_switch(ctx, key, v, &spec->datasize);
	if (!strcmp(key, "iovabitmap"))
		return parse_switch(ctx, key, v, &spec->iovabitmap);
	if (!strcmp(key, "resetflag"))
		return parse_switch(ctx, key, v, &spec->resetflag);
	if (!strcmp(key, "infov2"))
		return parse_switch(ctx, key, v, &spec->infov2);
	if (!strcmp(key, "reinit"))
		return parse_amount(ctx, key, v, 0, MOCK_REINIT_MAX, &spec->reinit_round,
				    "the pre-copy round (1 to 1000000) that starts the initial "
				    "data again, or 0 for never");
	if (!strcmp(key, "pci"))
		return parse_pci(ctx, v, spec);
	if (!strcmp(key, "driver"))
		return parse_name(ctx, key, v, spec->id.driver, sizeof(spec->id.driver));
	if (!strcmp(key, "mdev_type"))
		return parse_name(ctx, key, v, spec->id.mdev_type, sizeof(spec->id.mdev_type));
	if (!strcmp(key, "fail"))
		return parse_fail_rule(ctx, v, spec);
	if (!strcmp(key, "bug"))
		return parse_bug(ctx, v, spec);
	if (!strcmp(key, "garbage"))
		return parse_garbage(ctx, v, spec);
	if (!strcmp(key, "dirtyplan"))
		return parse_dirtyplan(ctx, v, spec);
	if (!strcmp(key, "short"))
		return parse_short(ctx, v, spec);
	if (!strcmp(key, "personality"))
		return parse_personality(ctx, v, &spec->personality);
	return vfiomig_fail(ctx, -EINVAL, "mock spec: unknown key '%s' (keys: "
			    KEYS ")", key);
}

/* What a spec that names only its device gets. */
static void spec_defaults(struct mock_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->mig_flags = VFIOMIG_MIG_STOP_COPY | VFIOMIG_MIG_P2P |
			  VFIOMIG_MIG_PRE_COPY;
	spec->state = VFIOMIG_STATE_RUNNING;
	spec->size = 64 << 10;
	spec->datasize = true;
	spec->iovabitmap = true;
	spec->resetflag = true;
	spec->dmafd = -1;
	spec->logspan_max = 64;		/* no limit but the address space */
	spec->logpage_min = 12;		/* 4K:1G */
	spec->logpage_max = 30;
	snprintf(spec->id.driver, sizeof(spec->id.driver), "mock");
}

/*
 * A personality pretends to be what speaks its stream, and offers what
 * its driver offers, unless the keys in @seen say otherwise.
 */
static void personality_defaults(struct mock_spec *spec, unsigned int seen)
{
	const struct persona *p = &personas[spec->personality];

	if (p->driver && !(seen & once_bit("pci"))) {
		spec->id.has_pci_ids = true;
		spec->id.vendor = p->vendor;
		spec->id.device = p->device;
	}
	if (p->driver && !(seen & once_bit("driver")))
		snprintf(spec->id.driver, sizeof(spec->id.driver), "%s", p->driver);
	if (p->mig_flags && !(seen & once_bit("flags")))
		spec->mig_flags = p->mig_flags;
}

/* What xe-vfio-pci cannot do is refused, rather than played wrong. */
static int check_xe(struct vfiomig_ctx *ctx, const struct mock_spec *spec)
{
	if (spec->mig_flags & VFIOMIG_MIG_PRE_COPY)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: personality=xe has no pre_copy "
				    "(xe-vfio-pci offers stop_copy and p2p only): drop "
				    "pre_copy from flags=");
	if (spec->dirtylog != MOCK_LOG_NONE)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: personality=xe has no DMA "
				    "logging (xe-vfio-pci has no log_ops; its dirty pages come "
				    "from IOMMU tracking): drop dirtylog= or give dirtylog=0");
	if (spec->short_write)
		return vfiomig_fail(ctx, -EINVAL, "mock spec: personality=xe writes no "
				    "short count (xe-vfio-pci's write() takes all its bytes or "
				    "fails): use short=read, or another personality");
	return 0;
}

/* The "key=value,..." after the name; @pairs is cut up in place. */
static int parse_pairs(struct vfiomig_ctx *ctx, char *pairs, struct mock_spec *spec)
{
	unsigned int seen = 0;
	int r = 0;

	while (pairs && !r) {
		char *kv = pairs, *eq;

		pairs = strchr(kv, ',');
		if (pairs)
			*pairs++ = '\0';
		eq = strchr(kv, '=');
		if (!eq || eq == kv || !eq[1])
			return vfiomig_fail(ctx, -EINVAL, "mock spec: '%s' is not "
					    "key=value (keys: " KEYS ")", kv);
		*eq = '\0';
		r = check_once(ctx, kv, &seen);
		if (!r)
			r = parse_kv(ctx, kv, eq + 1, spec);
	}
	if (!r && spec->nplan && spec->dirty)
		r = vfiomig_fail(ctx, -EINVAL, "mock spec: dirty= and dirtyplan= both say what "
				 "the device dirties: give one of them");
	if (!r)
		personality_defaults(spec, seen);
	if (!r && spec->personality == MOCK_PERSONA_XE)
		r = check_xe(ctx, spec);
	return r;
}

int mock_spec_parse(struct vfiomig_ctx *ctx, const char *params,
		    struct mock_spec *spec)
{
	char *copy, *pairs;
	int r;

	spec_defaults(spec);
	copy = strdup(params ? params : "");
	if (!copy)
		return -ENOMEM;
	/* strtok_r would skip an empty NAME: look at it first. */
	pairs = strchr(copy, ',');
	if (pairs)
		*pairs++ = '\0';
	if (!valid_word(copy, MOCK_NAME_MAX)) {
		r = vfiomig_fail(ctx, -EINVAL, "mock spec: name '%s' is not 1 to "
				 "%d letters, digits, '.', '_' or '-'; write "
				 "mock:NAME[,key=value...], e.g. mock:a,size=1M",
				 copy, MOCK_NAME_MAX);
		goto out;
	}
	snprintf(spec->name, sizeof(spec->name), "%s", copy);
	r = parse_pairs(ctx, pairs, spec);
	if (!r && spec->state == VFIOMIG_STATE_RUNNING_P2P &&
	    !(spec->mig_flags & VFIOMIG_MIG_P2P))
		r = vfiomig_fail(ctx, -EINVAL, "mock spec: state=RUNNING_P2P "
				 "needs a device with P2P: add p2p to flags= or "
				 "pick another state");
out:
	if (r == -EINVAL)
		vfiomig_note_fact(ctx, CALL_FACT_BAD_SPEC);
	free(copy);
	return r;
}
