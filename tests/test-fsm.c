/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for the migration state machine (vfiomig/state.h).
 *
 * The expectations are a table copied BY HAND from the reference
 * (docs: vfio-migration-uapi.md, section 3.2 "Effective paths per flag set",
 * with the refusals of 3.1 step 1 and 3.3).  They are deliberately not
 * computed from the kernel's vfio_from_fsm_table[] algorithm, so that the
 * table is an independent oracle for lib/core/state.c.
 *
 * Cell syntax:
 *   "-"             refused: vfiomig_fsm_next()/vfiomig_fsm_path() give -EINVAL
 *   ""              cur == target: 0 hops, vfiomig_fsm_next() returns cur
 *   "A>B>C"         the hops after cur, in order; the last one is the target
 * Hops use the canonical state names or the reference's abbreviations
 * RP2P = RUNNING_P2P, PCP2P = PRE_COPY_P2P, SC = STOP_COPY, RES = RESUMING.
 * The names are resolved by a local map, not by vfiomig_state_parse().
 *
 * Each block lists its columns and rows in the same order as the matching
 * table of section 3.2, followed by the states that table omits (the
 * device lacks them, or ERROR), whose cells are all refused.
 */
#include <vfiomig/vfiomig.h>

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSTATES 8
#define NSETS 4
#define NCOMBOS (NSETS * NSTATES * NSTATES) /* 256 */
#define MAXHOPS 8
#define PATHBUF 16

#define F_SC   VFIOMIG_MIG_STOP_COPY
#define F_P2P  VFIOMIG_MIG_P2P
#define F_PC   VFIOMIG_MIG_PRE_COPY

/* A value no function may write: checks "not written on failure". */
#define SENTINEL ((enum vfiomig_state)0x5a)

/* -------------------------------------------------------------------------
 * The hand-written table (reference section 3.2)
 * ---------------------------------------------------------------------- */

#define R "-" /* refused (-EINVAL) */

struct fsm_block {
	uint64_t flags;
	const char *cols[NSTATES];
	struct {
		const char *cur;
		const char *cell[NSTATES];
	} rows[NSTATES];
};

static const struct fsm_block fsm_blocks[NSETS] = {
	/* ---- STOP_COPY only ------------------------------------------ */
	{
		.flags = F_SC,
		.cols = { "RUNNING", "STOP", "STOP_COPY", "RESUMING",
			  /* not in the reference table: */
			  "RUNNING_P2P", "PRE_COPY", "PRE_COPY_P2P", "ERROR" },
		.rows = {
			{ "RUNNING",   { "",             "STOP", "STOP>STOP_COPY", "STOP>RESUMING", R, R, R, R } },
			{ "STOP",      { "RUNNING",      "",     "STOP_COPY",      "RESUMING",      R, R, R, R } },
			{ "STOP_COPY", { "STOP>RUNNING", "STOP", "",               "STOP>RESUMING", R, R, R, R } },
			{ "RESUMING",  { "STOP>RUNNING", "STOP", "STOP>STOP_COPY", "",              R, R, R, R } },
			/* not in the reference table: */
			{ "RUNNING_P2P",  { R, R, R, R, R, R, R, R } },
			{ "PRE_COPY",     { R, R, R, R, R, R, R, R } },
			{ "PRE_COPY_P2P", { R, R, R, R, R, R, R, R } },
			{ "ERROR",        { R, R, R, R, R, R, R, R } },
		},
	},
	/* ---- STOP_COPY|P2P ------------------------------------------- */
	{
		.flags = F_SC | F_P2P,
		.cols = { "RUNNING", "RUNNING_P2P", "STOP", "STOP_COPY", "RESUMING",
			  /* not in the reference table: */
			  "PRE_COPY", "PRE_COPY_P2P", "ERROR" },
		.rows = {
			{ "RUNNING",     { "",                  "RUNNING_P2P", "RP2P>STOP", "RP2P>STOP>STOP_COPY", "RP2P>STOP>RESUMING", R, R, R } },
			{ "RUNNING_P2P", { "RUNNING",           "",            "STOP",      "STOP>STOP_COPY",      "STOP>RESUMING",      R, R, R } },
			{ "STOP",        { "RP2P>RUNNING",      "RUNNING_P2P", "",          "STOP_COPY",           "RESUMING",           R, R, R } },
			{ "STOP_COPY",   { "STOP>RP2P>RUNNING", "STOP>RP2P",   "STOP",      "",                    "STOP>RESUMING",      R, R, R } },
			{ "RESUMING",    { "STOP>RP2P>RUNNING", "STOP>RP2P",   "STOP",      "STOP>STOP_COPY",      "",                   R, R, R } },
			/* not in the reference table: */
			{ "PRE_COPY",     { R, R, R, R, R, R, R, R } },
			{ "PRE_COPY_P2P", { R, R, R, R, R, R, R, R } },
			{ "ERROR",        { R, R, R, R, R, R, R, R } },
		},
	},
	/* ---- STOP_COPY|PRE_COPY -------------------------------------- */
	{
		.flags = F_SC | F_PC,
		.cols = { "RUNNING", "STOP", "STOP_COPY", "RESUMING", "PRE_COPY",
			  /* not in the reference table: */
			  "RUNNING_P2P", "PRE_COPY_P2P", "ERROR" },
		.rows = {
			{ "RUNNING",   { "",             "STOP",         "STOP>STOP_COPY", "STOP>RESUMING",         "PRE_COPY",              R, R, R } },
			{ "STOP",      { "RUNNING",      "",             "STOP_COPY",      "RESUMING",              "RUNNING>PRE_COPY",      R, R, R } },
			{ "STOP_COPY", { "STOP>RUNNING", "STOP",         "",               "STOP>RESUMING",         R /* 3.3 */,             R, R, R } },
			{ "RESUMING",  { "STOP>RUNNING", "STOP",         "STOP>STOP_COPY", "",                      "STOP>RUNNING>PRE_COPY", R, R, R } },
			{ "PRE_COPY",  { "RUNNING",      "RUNNING>STOP", "STOP_COPY",      "RUNNING>STOP>RESUMING", "",                      R, R, R } },
			/* not in the reference table: */
			{ "RUNNING_P2P",  { R, R, R, R, R, R, R, R } },
			{ "PRE_COPY_P2P", { R, R, R, R, R, R, R, R } },
			{ "ERROR",        { R, R, R, R, R, R, R, R } },
		},
	},
	/* ---- STOP_COPY|P2P|PRE_COPY ---------------------------------- */
	{
		.flags = F_SC | F_P2P | F_PC,
		.cols = { "RUNNING", "RUNNING_P2P", "STOP", "STOP_COPY", "RESUMING", "PRE_COPY", "PRE_COPY_P2P",
			  /* not in the reference table: */
			  "ERROR" },
		.rows = {
			{ "RUNNING",      { "",                  "RP2P",         "RP2P>STOP",         "RP2P>STOP>SC", "RP2P>STOP>RES",         "PRE_COPY",                   "RP2P>PCP2P",       R } },
			{ "RUNNING_P2P",  { "RUNNING",           "",             "STOP",              "STOP>SC",      "STOP>RES",              "RUNNING>PRE_COPY",           "PCP2P",            R } },
			{ "STOP",         { "RP2P>RUNNING",      "RP2P",         "",                  "SC",           "RES",                   "RP2P>RUNNING>PRE_COPY",      "RP2P>PCP2P",       R } },
			{ "STOP_COPY",    { "STOP>RP2P>RUNNING", "STOP>RP2P",    "STOP",              "",             "STOP>RES",              R /* 3.3 */,                  R /* 3.3 */,        R } },
			{ "RESUMING",     { "STOP>RP2P>RUNNING", "STOP>RP2P",    "STOP",              "STOP>SC",      "",                      "STOP>RP2P>RUNNING>PRE_COPY", "STOP>RP2P>PCP2P",  R } },
			{ "PRE_COPY",     { "RUNNING",           "RUNNING>RP2P", "RUNNING>RP2P>STOP", "PCP2P>SC",     "RUNNING>RP2P>STOP>RES", "",                           "PCP2P",            R } },
			{ "PRE_COPY_P2P", { "RP2P>RUNNING",      "RP2P",         "RP2P>STOP",         "SC",           "RP2P>STOP>RES",         "PRE_COPY",                   "",                 R } },
			/* not in the reference table: */
			{ "ERROR",        { R, R, R, R, R, R, R, R } },
		},
	},
};

#undef R

/* Refused cells per flag set, counted by hand:
 *   STOP_COPY:            4 usable states -> 16 usable pairs, 0 refused
 *                         among them -> 64 - 16 = 48 refused
 *   STOP_COPY|P2P:        5 usable -> 25 pairs, 0 refused -> 64 - 25 = 39
 *   STOP_COPY|PRE_COPY:   5 usable -> 25 pairs, 1 refused (SC->PRE_COPY)
 *                         -> 64 - 24 = 40
 *   STOP_COPY|P2P|PRE_COPY: 7 usable -> 49 pairs, 2 refused (SC->PRE_COPY,
 *                         SC->PRE_COPY_P2P) -> 64 - 47 = 17
 * Total: 48+39+40+17 = 144 refused, 112 allowed; of the allowed cells
 * 4+5+5+7 = 21 are cur == target (0 hops; ERROR->ERROR is refused). */
static const int expected_refused[NSETS] = { 48, 39, 40, 17 };
#define EXPECTED_REFUSED_TOTAL 144
#define EXPECTED_NOHOP_TOTAL 21 /* usable states summed over the sets */

/* Arcs the driver must implement, per flag set, from reference section 2.5.
 * Every hop of every path in the table must be one of these. */
static const char *const required_arcs[NSETS] = {
	/* STOP_COPY */
	"RUNNING>STOP STOP>RUNNING STOP>STOP_COPY STOP_COPY>STOP STOP>RESUMING RESUMING>STOP",
	/* +P2P: RUNNING<->STOP replaced by the P2P arcs */
	"RUNNING>RP2P RP2P>RUNNING RP2P>STOP STOP>RP2P "
	"STOP>STOP_COPY STOP_COPY>STOP STOP>RESUMING RESUMING>STOP",
	/* +PRE_COPY, no P2P */
	"RUNNING>STOP STOP>RUNNING STOP>STOP_COPY STOP_COPY>STOP STOP>RESUMING RESUMING>STOP "
	"RUNNING>PRE_COPY PRE_COPY>RUNNING PRE_COPY>STOP_COPY",
	/* +P2P+PRE_COPY: no direct PRE_COPY->STOP_COPY */
	"RUNNING>RP2P RP2P>RUNNING RP2P>STOP STOP>RP2P "
	"STOP>STOP_COPY STOP_COPY>STOP STOP>RESUMING RESUMING>STOP "
	"RUNNING>PRE_COPY PRE_COPY>RUNNING PRE_COPY>PCP2P PCP2P>PRE_COPY "
	"PCP2P>RP2P RP2P>PCP2P PCP2P>STOP_COPY",
};

/* Arcs on which the kernel returns a new data_fd (reference section 2.2). */
static const char *const fd_arcs =
	"STOP>STOP_COPY RUNNING>PRE_COPY RUNNING_P2P>PRE_COPY_P2P STOP>RESUMING";

static const char *const flag_set_names[NSETS] = {
	"STOP_COPY", "STOP_COPY|P2P", "STOP_COPY|PRE_COPY", "STOP_COPY|P2P|PRE_COPY",
};

/* -------------------------------------------------------------------------
 * Local names (independent of vfiomig_state_name/parse)
 * ---------------------------------------------------------------------- */

static const char *const canon[NSTATES] = {
	"ERROR", "STOP", "RUNNING", "STOP_COPY",
	"RESUMING", "RUNNING_P2P", "PRE_COPY", "PRE_COPY_P2P",
};

static const struct {
	const char *tok;
	enum vfiomig_state s;
} abbrevs[] = {
	{ "RP2P", VFIOMIG_STATE_RUNNING_P2P },
	{ "PCP2P", VFIOMIG_STATE_PRE_COPY_P2P },
	{ "SC", VFIOMIG_STATE_STOP_COPY },
	{ "RES", VFIOMIG_STATE_RESUMING },
};

static bool lookup(const char *tok, size_t len, bool allow_abbrev,
		   enum vfiomig_state *out)
{
	for (unsigned i = 0; i < NSTATES; i++) {
		if (strlen(canon[i]) == len && memcmp(canon[i], tok, len) == 0) {
			*out = (enum vfiomig_state)i;
			return true;
		}
	}
	if (allow_abbrev) {
		for (size_t i = 0; i < sizeof(abbrevs) / sizeof(abbrevs[0]); i++) {
			if (strlen(abbrevs[i].tok) == len &&
			    memcmp(abbrevs[i].tok, tok, len) == 0) {
				*out = abbrevs[i].s;
				return true;
			}
		}
	}
	return false;
}

static const char *sname(enum vfiomig_state s, char buf[16])
{
	if ((unsigned)s < NSTATES)
		return canon[s];
	snprintf(buf, 16, "?(%u)", (unsigned)s);
	return buf;
}

static const char *fmt_path(const enum vfiomig_state *p, int n, char *buf,
			    size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	if (n <= 0) {
		snprintf(buf, len, "(no hop)");
		return buf;
	}
	for (int i = 0; i < n && off < len; i++) {
		char tmp[16];
		int w = snprintf(buf + off, len - off, "%s%s", i ? ">" : "",
				 sname(p[i], tmp));
		if (w < 0)
			break;
		off += (size_t)w;
	}
	return buf;
}

static const char *fmt_flags(uint64_t f, char *buf, size_t len)
{
	snprintf(buf, len, "0x%llx%s%s%s%s", (unsigned long long)f,
		 f & F_SC ? " STOP_COPY" : "", f & F_P2P ? " P2P" : "",
		 f & F_PC ? " PRE_COPY" : "",
		 f & ~(uint64_t)7 ? " +unknown bits" : "");
	return buf;
}

/* -------------------------------------------------------------------------
 * Expansion of the table into 256 combinations
 * ---------------------------------------------------------------------- */

struct expected {
	bool filled;
	bool refused;
	int nhops;
	enum vfiomig_state hop[MAXHOPS];
	const char *cell; /* the table text, for messages */
};

/* Combination index: set * 64 + cur * 8 + target, states in enum order. */
struct combo {
	int set;
	uint64_t flags;
	enum vfiomig_state cur, target;
};

static struct expected exp_table[NCOMBOS];
static bool table_built;
static char table_err[512];

static int combo_index(int set, enum vfiomig_state cur, enum vfiomig_state target)
{
	return set * NSTATES * NSTATES + (int)cur * NSTATES + (int)target;
}

static struct combo decode(int i)
{
	struct combo c;

	c.set = i / (NSTATES * NSTATES);
	c.flags = fsm_blocks[c.set].flags;
	c.cur = (enum vfiomig_state)((i / NSTATES) % NSTATES);
	c.target = (enum vfiomig_state)(i % NSTATES);
	return c;
}

static bool parse_cell(const char *cell, struct expected *e)
{
	e->cell = cell;
	e->nhops = 0;
	if (strcmp(cell, "-") == 0) {
		e->refused = true;
		return true;
	}
	e->refused = false;
	if (cell[0] == '\0')
		return true;
	const char *p = cell;
	for (;;) {
		const char *end = strchr(p, '>');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (e->nhops >= MAXHOPS ||
		    !lookup(p, len, true, &e->hop[e->nhops]))
			return false;
		e->nhops++;
		if (!end)
			return true;
		p = end + 1;
	}
}

static bool build_table(void)
{
	if (table_built)
		return table_err[0] == '\0';
	table_built = true;
	memset(exp_table, 0, sizeof(exp_table));

	for (int set = 0; set < NSETS; set++) {
		const struct fsm_block *b = &fsm_blocks[set];
		enum vfiomig_state col[NSTATES];
		bool seen[NSTATES] = { false };

		for (int c = 0; c < NSTATES; c++) {
			const char *n = b->cols[c];
			if (!n || !lookup(n, strlen(n), false, &col[c]) || seen[col[c]]) {
				snprintf(table_err, sizeof(table_err),
					 "block %s: bad or duplicate column %d '%s'",
					 flag_set_names[set], c, n ? n : "(null)");
				return false;
			}
			seen[col[c]] = true;
		}
		memset(seen, 0, sizeof(seen));
		for (int r = 0; r < NSTATES; r++) {
			const char *n = b->rows[r].cur;
			enum vfiomig_state cur;
			if (!n || !lookup(n, strlen(n), false, &cur) || seen[cur]) {
				snprintf(table_err, sizeof(table_err),
					 "block %s: bad or duplicate row %d '%s'",
					 flag_set_names[set], r, n ? n : "(null)");
				return false;
			}
			seen[cur] = true;
			for (int c = 0; c < NSTATES; c++) {
				struct expected *e =
					&exp_table[combo_index(set, cur, col[c])];
				const char *cell = b->rows[r].cell[c];
				if (!cell || e->filled || !parse_cell(cell, e)) {
					snprintf(table_err, sizeof(table_err),
						 "block %s: row %s column %s: bad cell '%s'",
						 flag_set_names[set], n, canon[col[c]],
						 cell ? cell : "(null)");
					return false;
				}
				e->filled = true;
			}
		}
	}
	for (int i = 0; i < NCOMBOS; i++) {
		if (!exp_table[i].filled) {
			snprintf(table_err, sizeof(table_err), "combination %d not filled", i);
			return false;
		}
	}
	return true;
}

static const struct expected *expect_at(int i)
{
	ck_assert_msg(build_table(), "malformed hand table: %s", table_err);
	ck_assert_int_ge(i, 0);
	ck_assert_int_lt(i, NCOMBOS);
	return &exp_table[i];
}

static const char *describe(const struct combo *c, char *buf, size_t len)
{
	char fb[64];

	snprintf(buf, len, "flags=%s (%s) cur=%s target=%s",
		 flag_set_names[c->set], fmt_flags(c->flags, fb, sizeof(fb)),
		 canon[c->cur], canon[c->target]);
	return buf;
}

static const char *fmt_expected(const struct expected *e, char *buf, size_t len)
{
	char pb[128];

	if (e->refused)
		snprintf(buf, len, "-EINVAL (cell \"-\")");
	else
		snprintf(buf, len, "%d hop(s) %s (cell \"%s\")", e->nhops,
			 fmt_path(e->hop, e->nhops, pb, sizeof(pb)), e->cell);
	return buf;
}

/* Does a space-separated "A>B C>D" list contain the arc from -> to? */
static bool arc_listed(const char *list, enum vfiomig_state from,
		       enum vfiomig_state to)
{
	const char *p = list;

	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		const char *gt = strchr(p, '>');
		const char *sp = strchr(p, ' ');
		if (!sp)
			sp = p + strlen(p);
		enum vfiomig_state a, b;
		ck_assert_msg(gt && gt < sp && lookup(p, (size_t)(gt - p), true, &a) &&
			      lookup(gt + 1, (size_t)(sp - gt - 1), true, &b),
			      "malformed arc list near '%s'", p);
		if (a == from && b == to)
			return true;
		p = sp;
	}
	return false;
}

static bool set_has(int set, enum vfiomig_state s)
{
	uint64_t f = fsm_blocks[set].flags;

	switch (s) {
	case VFIOMIG_STATE_STOP:
	case VFIOMIG_STATE_RUNNING:
	case VFIOMIG_STATE_STOP_COPY:
	case VFIOMIG_STATE_RESUMING:
		return true;
	case VFIOMIG_STATE_RUNNING_P2P:
		return f & F_P2P;
	case VFIOMIG_STATE_PRE_COPY:
		return f & F_PC;
	case VFIOMIG_STATE_PRE_COPY_P2P:
		return (f & F_P2P) && (f & F_PC);
	default:
		return false; /* ERROR */
	}
}

static bool saving(enum vfiomig_state s)
{
	return s == VFIOMIG_STATE_PRE_COPY || s == VFIOMIG_STATE_PRE_COPY_P2P ||
	       s == VFIOMIG_STATE_STOP_COPY;
}

/* -------------------------------------------------------------------------
 * Sanity of the hand table itself
 * ---------------------------------------------------------------------- */

START_TEST(test_table_shape)
{
	int cells = 0, refused[NSETS] = { 0 }, total_refused = 0, nohop = 0;

	ck_assert_msg(build_table(), "malformed hand table: %s", table_err);

	for (int set = 0; set < NSETS; set++)
		for (int r = 0; r < NSTATES; r++)
			for (int c = 0; c < NSTATES; c++)
				cells += fsm_blocks[set].rows[r].cell[c] != NULL;
	ck_assert_int_eq(cells, NCOMBOS);

	for (int i = 0; i < NCOMBOS; i++) {
		const struct expected *e = expect_at(i);
		struct combo c = decode(i);
		if (e->refused) {
			refused[c.set]++;
			total_refused++;
		} else if (e->nhops == 0) {
			nohop++;
		}
	}
	for (int set = 0; set < NSETS; set++)
		ck_assert_msg(refused[set] == expected_refused[set],
			      "%s: %d refused cells in the table, expected %d",
			      flag_set_names[set], refused[set], expected_refused[set]);
	ck_assert_int_eq(total_refused, EXPECTED_REFUSED_TOTAL);
	ck_assert_int_eq(nohop, EXPECTED_NOHOP_TOTAL);
}
END_TEST

/* The refused cells are exactly those of the rules in 3.1 step 1 and 3.3,
 * and every path is built from legal single arcs (2.5), ends at the target,
 * keeps the saving group at its ends, opens an fd only on its last arc, and
 * agrees with the table's own row for each intermediate state. */
START_TEST(test_table_consistent)
{
	struct combo c = decode(_i);
	const struct expected *e = expect_at(_i);
	char d[160], xb[200];

	describe(&c, d, sizeof(d));
	fmt_expected(e, xb, sizeof(xb));

	bool rule_refused = !set_has(c.set, c.cur) || !set_has(c.set, c.target) ||
		(c.cur == VFIOMIG_STATE_STOP_COPY &&
		 (c.target == VFIOMIG_STATE_PRE_COPY ||
		  c.target == VFIOMIG_STATE_PRE_COPY_P2P));
	ck_assert_msg(e->refused == rule_refused,
		      "%s: table says %s but the refusal rules say %s", d, xb,
		      rule_refused ? "refused" : "allowed");
	if (e->refused)
		return;

	if (c.cur == c.target) {
		ck_assert_msg(e->nhops == 0, "%s: diagonal cell is %s", d, xb);
		return;
	}
	ck_assert_msg(e->nhops > 0 && e->hop[e->nhops - 1] == c.target,
		      "%s: path %s does not end at the target", d, xb);

	enum vfiomig_state prev = c.cur;
	int phase = 0; /* 0: leading saving states, 1: middle, 2: trailing saving */
	if (!saving(prev))
		phase = 1;
	for (int k = 0; k < e->nhops; k++) {
		enum vfiomig_state h = e->hop[k];
		ck_assert_msg(set_has(c.set, h), "%s: path %s visits a state the set lacks", d, xb);
		ck_assert_msg(arc_listed(required_arcs[c.set], prev, h),
			      "%s: path %s uses arc %s->%s not in section 2.5", d, xb,
			      canon[prev], canon[h]);
		ck_assert_msg(k == e->nhops - 1 || !arc_listed(fd_arcs, prev, h),
			      "%s: path %s opens an fd on interior arc %s->%s", d, xb,
			      canon[prev], canon[h]);
		if (saving(h)) {
			if (phase == 1)
				phase = 2;
		} else {
			ck_assert_msg(phase != 2,
				      "%s: path %s leaves the saving group again", d, xb);
			phase = 1;
		}
		/* The rest of the path must be the table's path from h. */
		const struct expected *sub = expect_at(combo_index(c.set, h, c.target));
		ck_assert_msg(!sub->refused && sub->nhops == e->nhops - k - 1 &&
			      memcmp(sub->hop, &e->hop[k + 1],
				     sizeof(sub->hop[0]) * (size_t)sub->nhops) == 0,
			      "%s: path %s, but the table's path from %s is \"%s\"",
			      d, xb, canon[h], sub->cell);
		prev = h;
	}
}
END_TEST

/* -------------------------------------------------------------------------
 * The library against the table
 * ---------------------------------------------------------------------- */

static void check_next(uint64_t flags, const struct combo *c,
		       const struct expected *e)
{
	enum vfiomig_state next = SENTINEL;
	char d[160], xb[200], tb[16], fb[64];
	int r = vfiomig_fsm_next(flags, c->cur, c->target, &next);

	describe(c, d, sizeof(d));
	fmt_expected(e, xb, sizeof(xb));
	if (e->refused) {
		ck_assert_msg(r == -EINVAL,
			      "%s [flags passed %s]: vfiomig_fsm_next: expected %s, got rc=%d next=%s",
			      d, fmt_flags(flags, fb, sizeof(fb)), xb, r, sname(next, tb));
		ck_assert_msg(next == SENTINEL,
			      "%s: vfiomig_fsm_next wrote ret_next=%s on failure", d,
			      sname(next, tb));
	} else {
		enum vfiomig_state want = e->nhops ? e->hop[0] : c->cur;
		ck_assert_msg(r == 0 && next == want,
			      "%s [flags passed %s]: vfiomig_fsm_next: expected rc=0 next=%s "
			      "(path %s), got rc=%d next=%s",
			      d, fmt_flags(flags, fb, sizeof(fb)), canon[want], xb, r,
			      sname(next, tb));
	}
}

static void check_path(uint64_t flags, const struct combo *c,
		       const struct expected *e)
{
	enum vfiomig_state path[PATHBUF];
	char d[160], xb[200], pb[200], fb[64];
	int r;

	for (int k = 0; k < PATHBUF; k++)
		path[k] = SENTINEL;
	r = vfiomig_fsm_path(flags, c->cur, c->target, path, PATHBUF);
	describe(c, d, sizeof(d));
	fmt_expected(e, xb, sizeof(xb));
	fmt_path(path, r > 0 ? (r > PATHBUF ? PATHBUF : r) : 0, pb, sizeof(pb));

	if (e->refused) {
		ck_assert_msg(r == -EINVAL,
			      "%s [flags passed %s]: vfiomig_fsm_path: expected %s, got rc=%d path=%s",
			      d, fmt_flags(flags, fb, sizeof(fb)), xb, r, pb);
		for (int k = 0; k < PATHBUF; k++)
			ck_assert_msg(path[k] == SENTINEL,
				      "%s: vfiomig_fsm_path wrote path[%d] on failure", d, k);
		return;
	}
	ck_assert_msg(r == e->nhops,
		      "%s [flags passed %s]: vfiomig_fsm_path: expected %s, got rc=%d path=%s",
		      d, fmt_flags(flags, fb, sizeof(fb)), xb, r, pb);
	for (int k = 0; k < e->nhops; k++)
		ck_assert_msg(path[k] == e->hop[k],
			      "%s: vfiomig_fsm_path: expected %s, got path=%s (differs at hop %d)",
			      d, xb, pb, k);
	for (int k = e->nhops; k < PATHBUF; k++)
		ck_assert_msg(path[k] == SENTINEL,
			      "%s: vfiomig_fsm_path wrote path[%d] beyond the %d hops",
			      d, k, e->nhops);
}

START_TEST(test_fsm_next)
{
	struct combo c = decode(_i);

	check_next(c.flags, &c, expect_at(_i));
}
END_TEST

START_TEST(test_fsm_path)
{
	struct combo c = decode(_i);

	check_path(c.flags, &c, expect_at(_i));
}
END_TEST

/* path_max exactly the hop count works; one less gives -ENOSPC and writes
 * nothing. */
START_TEST(test_fsm_path_small)
{
	struct combo c = decode(_i);
	const struct expected *e = expect_at(_i);
	enum vfiomig_state path[PATHBUF];
	char d[160], xb[200], pb[200];
	int r;

	if (e->refused)
		return; /* covered by test_fsm_path */
	describe(&c, d, sizeof(d));
	fmt_expected(e, xb, sizeof(xb));

	/* Exact size. */
	for (int k = 0; k < PATHBUF; k++)
		path[k] = SENTINEL;
	r = vfiomig_fsm_path(c.flags, c.cur, c.target, path, (size_t)e->nhops);
	fmt_path(path, r > 0 ? (r > PATHBUF ? PATHBUF : r) : 0, pb, sizeof(pb));
	ck_assert_msg(r == e->nhops,
		      "%s: vfiomig_fsm_path with path_max=%d: expected %s, got rc=%d path=%s",
		      d, e->nhops, xb, r, pb);
	for (int k = 0; k < e->nhops; k++)
		ck_assert_msg(path[k] == e->hop[k],
			      "%s: vfiomig_fsm_path with path_max=%d: expected %s, got %s",
			      d, e->nhops, xb, pb);
	for (int k = e->nhops; k < PATHBUF; k++)
		ck_assert_msg(path[k] == SENTINEL,
			      "%s: vfiomig_fsm_path with path_max=%d wrote path[%d]",
			      d, e->nhops, k);

	if (e->nhops == 0)
		return;

	/* One too small. */
	for (int k = 0; k < PATHBUF; k++)
		path[k] = SENTINEL;
	r = vfiomig_fsm_path(c.flags, c.cur, c.target, path, (size_t)e->nhops - 1);
	ck_assert_msg(r == -ENOSPC,
		      "%s: vfiomig_fsm_path with path_max=%d for %s: expected -ENOSPC, got rc=%d",
		      d, e->nhops - 1, xb, r);
	for (int k = 0; k < PATHBUF; k++)
		ck_assert_msg(path[k] == SENTINEL,
			      "%s: vfiomig_fsm_path with path_max=%d (-ENOSPC) wrote path[%d]",
			      d, e->nhops - 1, k);
}
END_TEST

/* -------------------------------------------------------------------------
 * Flags
 * ---------------------------------------------------------------------- */

/* States every defined set has, so that only the flags can be wrong. */
static const enum vfiomig_state base_states[] = {
	VFIOMIG_STATE_STOP, VFIOMIG_STATE_RUNNING,
	VFIOMIG_STATE_STOP_COPY, VFIOMIG_STATE_RESUMING,
};
#define NBASE (sizeof(base_states) / sizeof(base_states[0]))

START_TEST(test_undefined_flag_sets)
{
	static const uint64_t bad[] = {
		0, F_P2P, F_PC, F_P2P | F_PC,
		(uint64_t)1 << 10, F_P2P | ((uint64_t)1 << 10),
		F_PC | ((uint64_t)1 << 63), F_P2P | F_PC | ((uint64_t)1 << 3),
	};

	for (size_t f = 0; f < sizeof(bad) / sizeof(bad[0]); f++) {
		for (size_t a = 0; a < NBASE; a++) {
			for (size_t b = 0; b < NBASE; b++) {
				enum vfiomig_state cur = base_states[a];
				enum vfiomig_state tgt = base_states[b];
				enum vfiomig_state next = SENTINEL, path[PATHBUF];
				char fb[64];
				int r;

				r = vfiomig_fsm_next(bad[f], cur, tgt, &next);
				ck_assert_msg(r == -EOPNOTSUPP && next == SENTINEL,
					      "flags=%s cur=%s target=%s: vfiomig_fsm_next: expected "
					      "-EOPNOTSUPP (undefined flag set), got rc=%d%s",
					      fmt_flags(bad[f], fb, sizeof(fb)), canon[cur],
					      canon[tgt], r,
					      next == SENTINEL ? "" : " and ret_next written");

				for (int k = 0; k < PATHBUF; k++)
					path[k] = SENTINEL;
				r = vfiomig_fsm_path(bad[f], cur, tgt, path, PATHBUF);
				ck_assert_msg(r == -EOPNOTSUPP,
					      "flags=%s cur=%s target=%s: vfiomig_fsm_path: expected "
					      "-EOPNOTSUPP (undefined flag set), got rc=%d",
					      fmt_flags(bad[f], fb, sizeof(fb)), canon[cur],
					      canon[tgt], r);
				for (int k = 0; k < PATHBUF; k++)
					ck_assert_msg(path[k] == SENTINEL,
						      "flags=%s: vfiomig_fsm_path wrote path[%d] on failure",
						      fmt_flags(bad[f], fb, sizeof(fb)), k);
			}
		}
	}
}
END_TEST

/* Unknown bits above bit 2 are ignored: each defined set with extra bits
 * behaves exactly as the table for that set.  Loop index: extra-bit value. */
static const uint64_t extra_bits[] = {
	(uint64_t)1 << 10, /* the case named in the brief: STOP_COPY|1<<10 */
	(uint64_t)1 << 3,
	(uint64_t)1 << 31,
	(uint64_t)1 << 32,
	(uint64_t)1 << 63,
	~(uint64_t)7,
};
#define NEXTRA ((int)(sizeof(extra_bits) / sizeof(extra_bits[0])))

START_TEST(test_unknown_high_bits)
{
	for (int i = 0; i < NCOMBOS; i++) {
		struct combo c = decode(i);
		uint64_t flags = c.flags | extra_bits[_i];
		const struct expected *e = expect_at(i);

		check_next(flags, &c, e);
		check_path(flags, &c, e);
	}
}
END_TEST

/* -------------------------------------------------------------------------
 * States out of range
 * ---------------------------------------------------------------------- */

START_TEST(test_state_out_of_range)
{
	static const enum vfiomig_state bad[] = {
		(enum vfiomig_state)8, (enum vfiomig_state)9,
		(enum vfiomig_state)100, (enum vfiomig_state)255,
		(enum vfiomig_state)0x7fffffff, (enum vfiomig_state)-1,
	};

	for (int set = 0; set < NSETS; set++) {
		uint64_t flags = fsm_blocks[set].flags;
		for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
			for (int v = 0; v <= NSTATES; v++) {
				/* v == NSTATES: both sides out of range */
				enum vfiomig_state good = v < NSTATES ? (enum vfiomig_state)v : bad[b];
				const enum vfiomig_state pairs[2][2] = {
					{ bad[b], good }, { good, bad[b] },
				};
				for (int p = 0; p < 2; p++) {
					enum vfiomig_state cur = pairs[p][0], tgt = pairs[p][1];
					enum vfiomig_state next = SENTINEL, path[PATHBUF];
					char cb[16], tb[16];
					int r;

					r = vfiomig_fsm_next(flags, cur, tgt, &next);
					ck_assert_msg(r == -EINVAL && next == SENTINEL,
						      "flags=%s cur=%s target=%s: vfiomig_fsm_next: "
						      "expected -EINVAL, got rc=%d%s",
						      flag_set_names[set], sname(cur, cb),
						      sname(tgt, tb), r,
						      next == SENTINEL ? "" : " and ret_next written");

					for (int k = 0; k < PATHBUF; k++)
						path[k] = SENTINEL;
					r = vfiomig_fsm_path(flags, cur, tgt, path, PATHBUF);
					ck_assert_msg(r == -EINVAL,
						      "flags=%s cur=%s target=%s: vfiomig_fsm_path: "
						      "expected -EINVAL, got rc=%d",
						      flag_set_names[set], sname(cur, cb),
						      sname(tgt, tb), r);
					for (int k = 0; k < PATHBUF; k++)
						ck_assert_msg(path[k] == SENTINEL,
							      "flags=%s cur=%s target=%s: "
							      "vfiomig_fsm_path wrote path[%d] on failure",
							      flag_set_names[set], sname(cur, cb),
							      sname(tgt, tb), k);
				}
			}
		}
	}
}
END_TEST

/* -------------------------------------------------------------------------
 * Names
 * ---------------------------------------------------------------------- */

START_TEST(test_state_name)
{
	static const struct {
		enum vfiomig_state s;
		const char *name;
	} names[] = {
		{ VFIOMIG_STATE_ERROR, "ERROR" },
		{ VFIOMIG_STATE_STOP, "STOP" },
		{ VFIOMIG_STATE_RUNNING, "RUNNING" },
		{ VFIOMIG_STATE_STOP_COPY, "STOP_COPY" },
		{ VFIOMIG_STATE_RESUMING, "RESUMING" },
		{ VFIOMIG_STATE_RUNNING_P2P, "RUNNING_P2P" },
		{ VFIOMIG_STATE_PRE_COPY, "PRE_COPY" },
		{ VFIOMIG_STATE_PRE_COPY_P2P, "PRE_COPY_P2P" },
	};

	ck_assert_int_eq((int)(sizeof(names) / sizeof(names[0])), VFIOMIG_STATE_COUNT);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *n = vfiomig_state_name(names[i].s);
		ck_assert_msg(n != NULL, "vfiomig_state_name(%u) returned NULL, expected \"%s\"",
			      (unsigned)names[i].s, names[i].name);
		ck_assert_msg(strcmp(n, names[i].name) == 0,
			      "vfiomig_state_name(%u) = \"%s\", expected \"%s\"",
			      (unsigned)names[i].s, n, names[i].name);
	}
	ck_assert_ptr_null(vfiomig_state_name((enum vfiomig_state)8));
	ck_assert_ptr_null(vfiomig_state_name((enum vfiomig_state)100));
	ck_assert_ptr_null(vfiomig_state_name((enum vfiomig_state)-1));
}
END_TEST

START_TEST(test_state_parse)
{
	static const struct {
		const char *in;
		enum vfiomig_state s;
	} ok[] = {
		{ "running", VFIOMIG_STATE_RUNNING },
		{ "Pre-Copy-P2P", VFIOMIG_STATE_PRE_COPY_P2P },
		{ "stop_copy", VFIOMIG_STATE_STOP_COPY },
		{ "RUNNING_P2P", VFIOMIG_STATE_RUNNING_P2P },
		{ "ERROR", VFIOMIG_STATE_ERROR },
		{ "STOP", VFIOMIG_STATE_STOP },
		{ "RUNNING", VFIOMIG_STATE_RUNNING },
		{ "STOP_COPY", VFIOMIG_STATE_STOP_COPY },
		{ "RESUMING", VFIOMIG_STATE_RESUMING },
		{ "PRE_COPY", VFIOMIG_STATE_PRE_COPY },
		{ "PRE_COPY_P2P", VFIOMIG_STATE_PRE_COPY_P2P },
		{ "stop", VFIOMIG_STATE_STOP },
		{ "resuming", VFIOMIG_STATE_RESUMING },
		{ "pre-copy", VFIOMIG_STATE_PRE_COPY },
		{ "running-p2p", VFIOMIG_STATE_RUNNING_P2P },
		{ "Stop-Copy", VFIOMIG_STATE_STOP_COPY },
		{ "error", VFIOMIG_STATE_ERROR },
	};
	static const char *const bad[] = {
		"", "runing", "STOP COPY", "RUNNING ", " RUNNING", "RUN",
		"RUNNING_P2", "STOP_COPYX", "ERRORS",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		enum vfiomig_state s = SENTINEL;
		char tb[16];
		int r = vfiomig_state_parse(ok[i].in, &s);
		ck_assert_msg(r == 0 && s == ok[i].s,
			      "vfiomig_state_parse(\"%s\"): expected 0 and %s, got rc=%d state=%s",
			      ok[i].in, canon[ok[i].s], r, sname(s, tb));
	}
	/* Every name vfiomig_state_name() prints parses back. */
	for (unsigned i = 0; i < NSTATES; i++) {
		enum vfiomig_state s = SENTINEL;
		const char *n = vfiomig_state_name((enum vfiomig_state)i);
		char tb[16];
		ck_assert_ptr_nonnull(n);
		int r = vfiomig_state_parse(n, &s);
		ck_assert_msg(r == 0 && s == (enum vfiomig_state)i,
			      "round trip of \"%s\": got rc=%d state=%s", n, r, sname(s, tb));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum vfiomig_state s = SENTINEL;
		char tb[16];
		int r = vfiomig_state_parse(bad[i], &s);
		ck_assert_msg(r == -EINVAL && s == SENTINEL,
			      "vfiomig_state_parse(\"%s\"): expected -EINVAL and no write, "
			      "got rc=%d state=%s",
			      bad[i], r, sname(s, tb));
	}
	{
		enum vfiomig_state s = SENTINEL;
		int r = vfiomig_state_parse(NULL, &s);
		ck_assert_msg(r == -EINVAL && s == SENTINEL,
			      "vfiomig_state_parse(NULL): expected -EINVAL and no write, got rc=%d", r);
	}
}
END_TEST

/* -------------------------------------------------------------------------
 * Arcs opening a data fd
 * ---------------------------------------------------------------------- */

START_TEST(test_arc_opens_fd)
{
	int n_true = 0;

	for (unsigned a = 0; a < NSTATES; a++) {
		for (unsigned b = 0; b < NSTATES; b++) {
			enum vfiomig_state from = (enum vfiomig_state)a;
			enum vfiomig_state to = (enum vfiomig_state)b;
			bool want =
				(from == VFIOMIG_STATE_STOP && to == VFIOMIG_STATE_STOP_COPY) ||
				(from == VFIOMIG_STATE_RUNNING && to == VFIOMIG_STATE_PRE_COPY) ||
				(from == VFIOMIG_STATE_RUNNING_P2P &&
				 to == VFIOMIG_STATE_PRE_COPY_P2P) ||
				(from == VFIOMIG_STATE_STOP && to == VFIOMIG_STATE_RESUMING);
			int r = vfiomig_fsm_arc_opens_fd(from, to);
			ck_assert_msg(r == (want ? 1 : 0),
				      "vfiomig_fsm_arc_opens_fd(%s, %s) = %d, expected %d",
				      canon[a], canon[b], r, want ? 1 : 0);
			/* The hand list used by test_table_consistent agrees. */
			ck_assert(arc_listed(fd_arcs, from, to) == want);
			n_true += want;
		}
	}
	ck_assert_int_eq(n_true, 4);

	/* Out of range: "0 otherwise". */
	ck_assert_int_eq(vfiomig_fsm_arc_opens_fd((enum vfiomig_state)8,
						  VFIOMIG_STATE_STOP_COPY), 0);
	ck_assert_int_eq(vfiomig_fsm_arc_opens_fd(VFIOMIG_STATE_STOP,
						  (enum vfiomig_state)8), 0);
	ck_assert_int_eq(vfiomig_fsm_arc_opens_fd((enum vfiomig_state)-1,
						  (enum vfiomig_state)-1), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */

static Suite *fsm_suite(void)
{
	Suite *s = suite_create("fsm");
	TCase *tc;

	tc = tcase_create("table");
	tcase_add_test(tc, test_table_shape);
	tcase_add_loop_test(tc, test_table_consistent, 0, NCOMBOS);
	suite_add_tcase(s, tc);

	tc = tcase_create("next");
	tcase_add_loop_test(tc, test_fsm_next, 0, NCOMBOS);
	suite_add_tcase(s, tc);

	tc = tcase_create("path");
	tcase_add_loop_test(tc, test_fsm_path, 0, NCOMBOS);
	tcase_add_loop_test(tc, test_fsm_path_small, 0, NCOMBOS);
	suite_add_tcase(s, tc);

	tc = tcase_create("flags");
	tcase_add_test(tc, test_undefined_flag_sets);
	tcase_add_loop_test(tc, test_unknown_high_bits, 0, NEXTRA);
	suite_add_tcase(s, tc);

	tc = tcase_create("range");
	tcase_add_test(tc, test_state_out_of_range);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_test(tc, test_state_name);
	tcase_add_test(tc, test_state_parse);
	suite_add_tcase(s, tc);

	tc = tcase_create("fd");
	tcase_add_test(tc, test_arc_opens_fd);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	Suite *s = fsm_suite();
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
