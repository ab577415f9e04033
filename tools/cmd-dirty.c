/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig-ctl dirty DEVICE start RANGES: start a dirty-page tracking
 * session (include/vfiomig/dirty.h) over RANGES, report the dirty pages of
 * each range every --interval seconds, for --count rounds or until an
 * interrupt, then stop.
 *
 * A session belongs to the device's fd, so it ends with this process: the
 * command diagnoses and demonstrates a device's DMA logging; a VMM tracks
 * through the library.
 *
 * Unlike the other commands, the text output is written as it comes (a
 * round at a time): the command may run until Ctrl-C, and its rounds are
 * what it is for.  With --json the one document is written at the end, as
 * everywhere (also after an interrupt, and after a failed round).
 */
#define _GNU_SOURCE	/* ppoll() */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "describe.h"
#include "json-writer.h"
#include "units.h"
#include "util.h"

/* The command's own options (the shared ones are in args.h). */
enum {
	OPT_PAGE_SIZE = 0x200,
	OPT_REPORT,
	OPT_INTERVAL,
	OPT_COUNT,
	OPT_PAGES,
};

#define RANGES_SYNTAX "the syntax is IOVA:LEN[,IOVA:LEN...], each number decimal or " \
	"0x-hex with an optional K, M, G or T suffix (powers of 1024), such as 0:2G,4G:2G"

#define INTERVAL_MIN_NS UINT64_C(1000000)		/* 0.001 s */
#define INTERVAL_MAX_NS (UINT64_C(86400) * 1000000000)	/* a day */

struct dirty_args {
	const char *device;
	struct vfiomig_iova_range *ranges;	/* RANGES, as given */
	size_t n_ranges;
	struct vfiomig_iova_range *reports;	/* --report; none: every tracked range */
	size_t n_reports;
	uint64_t page_size;			/* 0: the host's */
	uint64_t interval_ns;
	uint64_t count;				/* 0: until interrupted */
	bool pages;
};

/* One failed report, or the command's own failure. */
struct failure {
	int err;		/* positive errno */
	char message[1024];
};

struct run {
	struct ctl *ctl;
	struct vfiomig_ctx *vctx;
	struct vfiomig_dirty *d;
	struct vfiomig_dirty_info info;
	const struct dirty_args *a;
	const char *name;		/* the device's, as the library names it */
	const struct vfiomig_iova_range *reports;	/* a->reports, or the tracked ranges */
	size_t n_reports;
	struct vfiomig_iova_range *widened;		/* the tracked ranges, as reports */
	uint64_t *bitmap;
	size_t bitmap_size;
	uint64_t rounds;		/* completed */
	uint64_t failed_rounds;
	uint64_t first_failed_round;
	struct failure first_failure;
	FILE *text;			/* text mode: the output not written yet */
	char *text_buf;
	size_t text_len;
	int write_err;			/* text mode: stdout failed (-errno) */
};

/* ---- parsing ---- */

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * @s (@len bytes): decimal or 0x-hex, with an optional K, M, G or T
 * suffix (powers of 1024).  0; -EINVAL if it is not such a number;
 * -ERANGE if it does not fit in 64 bits.
 */
static int parse_number(const char *s, size_t len, uint64_t *ret)
{
	unsigned int base = 10, shift = 0;
	bool overflow = false;
	size_t i = 0, first;
	uint64_t v = 0;
	int d;

	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	for (first = i; i < len && (d = digit_value(s[i])) >= 0 && (unsigned int)d < base; i++) {
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			overflow = true;
		v = v * base + (uint64_t)d;
	}
	if (i == first)
		return -EINVAL;
	if (i < len) {
		switch (s[i]) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		case 't': case 'T': shift = 40; break;
		default: return -EINVAL;
		}
		if (++i != len)
			return -EINVAL;
	}
	if (overflow || (shift && v > (UINT64_MAX >> shift)))
		return -ERANGE;
	*ret = v << shift;
	return 0;
}

/* "IOVA '0xzz' is not a number" for part @what of an item. */
static int bad_part(struct ctl *ctl, const char *list_name, size_t item, const char *text,
		    size_t text_len, const char *what, const char *part, size_t part_len, int err)
{
	return ctl_usage(ctl, "%s item %zu '%.*s': %s '%.*s' %s; " RANGES_SYNTAX, list_name, item,
			 (int)(text_len > 80 ? 80 : text_len), text, what,
			 (int)(part_len > 40 ? 40 : part_len), part,
			 err == -ERANGE ? "is out of range (above 2^64 - 1)" : "is not a number");
}

/*
 * Appends the ranges of @list ("IOVA:LEN[,IOVA:LEN...]") to @ranges;
 * @list_name names it in a usage error ("RANGES", "--report").
 */
static int parse_ranges(struct ctl *ctl, const char *list_name, const char *list,
			struct vfiomig_iova_range **ranges, size_t *n)
{
	const char *p = list;
	size_t item = 1;

	for (;; item++) {
		size_t len = strcspn(p, ","), head;
		const char *colon = memchr(p, ':', len);
		struct vfiomig_iova_range r, *grown;
		int e;

		if (len == 0)
			return ctl_usage(ctl, "%s item %zu is empty; " RANGES_SYNTAX, list_name, item);
		if (!colon)
			return ctl_usage(ctl, "%s item %zu '%.*s' is not IOVA:LEN; " RANGES_SYNTAX,
					 list_name, item, (int)(len > 80 ? 80 : len), p);
		head = (size_t)(colon - p);
		if ((e = parse_number(p, head, &r.iova)) < 0)
			return bad_part(ctl, list_name, item, p, len, "IOVA", p, head, e);
		if ((e = parse_number(colon + 1, len - head - 1, &r.length)) < 0)
			return bad_part(ctl, list_name, item, p, len, "LEN", colon + 1,
					len - head - 1, e);
		grown = realloc(*ranges, (*n + 1) * sizeof(**ranges));
		if (!grown)
			return ctl_fail(ctl, ENOMEM, "out of memory for %zu %s", *n + 1,
					plural(*n + 1, "range", "ranges"));
		*ranges = grown;
		(*ranges)[(*n)++] = r;
		if (!p[len])
			return ARGS_CONTINUE;
		p += len + 1;
	}
}

/* Seconds, with up to 9 decimals: "1", "0.2", "2.5". */
static int parse_interval(struct ctl *ctl, const char *s, uint64_t *ret_ns)
{
	size_t whole = strspn(s, "0123456789"), frac = 0;
	uint64_t ns = 0, scale = 1000000000;

	if (s[whole] == '.')
		frac = strspn(s + whole + 1, "0123456789");
	if ((whole == 0 && frac == 0) || frac > 9 || whole > 5 ||
	    s[whole + (s[whole] == '.' ? 1 + frac : 0)] != '\0')
		goto bad;
	for (size_t i = 0; i < whole; i++)
		ns = ns * 10 + (uint64_t)(s[i] - '0');
	ns *= scale;
	for (size_t i = 0; i < frac; i++) {
		scale /= 10;
		ns += (uint64_t)(s[whole + 1 + i] - '0') * scale;
	}
	if (ns < INTERVAL_MIN_NS || ns > INTERVAL_MAX_NS)
		goto bad;
	*ret_ns = ns;
	return ARGS_CONTINUE;
bad:
	return ctl_usage(ctl, "--interval %s: expected a number of seconds from 0.001 to 86400, "
			 "such as 1 or 0.2", s);
}

static int parse_count(struct ctl *ctl, const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (s[0] < '1' || s[0] > '9' || *end || errno || v > UINT32_MAX)
		return ctl_usage(ctl, "--count %s: expected a number of rounds from 1 to %u", s,
				 UINT32_MAX);
	*ret = v;
	return ARGS_CONTINUE;
}

static int parse_page_size(struct ctl *ctl, const char *s, uint64_t *ret)
{
	if (parse_number(s, strlen(s), ret) < 0)
		return ctl_usage(ctl, "--page-size %s: expected a number of bytes, decimal or "
				 "0x-hex with an optional K, M, G or T suffix, such as 4K or 2M", s);
	return ARGS_CONTINUE;
}

/* DEVICE start RANGES, with options anywhere. */
static int parse(struct ctl *ctl, int argc, char **argv, struct dirty_args *a)
{
	static const struct option opts[] = {
		ARGS_COMMON_LONG,
		{ "page-size", required_argument, NULL, OPT_PAGE_SIZE },
		{ "report", required_argument, NULL, OPT_REPORT },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "pages", no_argument, NULL, OPT_PAGES },
		{ 0 }
	};
	int c, r = ARGS_CONTINUE, n;

	args_begin();
	while (r == ARGS_CONTINUE &&
	       (c = getopt_long(argc, argv, ARGS_COMMON_SHORT, opts, NULL)) >= 0) {
		switch (c) {
		case OPT_PAGE_SIZE:
			r = parse_page_size(ctl, optarg, &a->page_size);
			break;
		case OPT_REPORT:
			r = parse_ranges(ctl, "--report", optarg, &a->reports, &a->n_reports);
			break;
		case OPT_INTERVAL:
			r = parse_interval(ctl, optarg, &a->interval_ns);
			break;
		case OPT_COUNT:
			r = parse_count(ctl, optarg, &a->count);
			break;
		case OPT_PAGES:
			a->pages = true;
			break;
		default:
			r = args_common(ctl, c, argv);
		}
	}
	if (r != ARGS_CONTINUE)
		return r;
	n = argc - optind;
	if (n == 0)
		return ctl_usage(ctl, "missing DEVICE");
	if (n == 1)
		return ctl_usage(ctl, "missing the verb: write '%s dirty %s start RANGES'", PROGRAM,
				 argv[optind]);
	/* "start" is the only verb so far; others (a report of a running
	 * session, say) may come, so the word is required. */
	if (strcmp(argv[optind + 1], "start") != 0)
		return ctl_usage(ctl, "unknown verb '%s': expected start (DEVICE start RANGES)",
				 argv[optind + 1]);
	if (n == 2)
		return ctl_usage(ctl, "missing RANGES (IOVA:LEN[,IOVA:LEN...])");
	if (n > 3)
		return ctl_usage(ctl, "unexpected argument '%s'", argv[optind + 3]);
	a->device = argv[optind];
	return parse_ranges(ctl, "RANGES", argv[optind + 2], &a->ranges, &a->n_ranges);
}

/* ---- output ---- */

/*
 * Text mode: writes what was printed since the last call, and starts a new
 * buffer.  A failure (stdout closed, its reader gone) is kept, and ends
 * the rounds.
 */
static void text_flush(struct run *u)
{
	int r = 0;

	if (!u->text || u->write_err)
		return;
	if (fclose(u->text) != 0)
		r = -ENOMEM;
	else if (u->text_len)
		r = u->ctl->stdout_closed ? -EBADF :
		    progress_write_all(STDOUT_FILENO, u->text_buf, u->text_len);
	free(u->text_buf);
	u->text_buf = NULL;
	u->text_len = 0;
	u->text = open_memstream(&u->text_buf, &u->text_len);
	if (!u->text && !r)
		r = -ENOMEM;
	u->write_err = r;
}

__attribute__((format(printf, 2, 3)))
static void text(struct run *u, const char *fmt, ...)
{
	va_list ap;

	if (!u->text)
		return;
	va_start(ap, fmt);
	vfprintf(u->text, fmt, ap);
	va_end(ap);
}

static void print_tracked(struct run *u)
{
	const struct vfiomig_dirty_info *in = &u->info;
	char size[UNITS_BUF], name[256];
	uint64_t total = 0, asked;

	if (u->ctl->json) {
		struct json_writer *w = u->ctl->jw;

		json_member_string(w, "device", u->name);
		json_member_uint(w, "page_size", in->page_size);
		json_member_bool(w, "over_reports", in->over_reports);
		json_name(w, "ranges");
		json_array_begin(w);
		for (size_t i = 0; i < in->n_ranges; i++) {
			json_object_begin(w);
			json_member_uint(w, "iova", in->ranges[i].iova);
			json_member_uint(w, "length", in->ranges[i].length);
			json_object_end(w);
		}
		json_array_end(w);
		return;
	}
	for (size_t i = 0; i < in->n_ranges; i++)
		total += in->ranges[i].length;
	text(u, "device:        %s\n", describe_printable(name, sizeof(name), u->name));
	asked = u->a->page_size ? u->a->page_size : (uint64_t)sysconf(_SC_PAGESIZE);
	text(u, "page size:     %" PRIu64 " bytes (%s)", in->page_size,
	     format_bytes(size, in->page_size));
	if (asked != in->page_size)
		text(u, ", the driver's choice (asked for %" PRIu64 ")", asked);
	text(u, "\n");
	text(u, "tracking:      %zu %s, %s\n", in->n_ranges, plural(in->n_ranges, "range", "ranges"),
	     format_bytes(size, total));
	for (size_t i = 0; i < in->n_ranges; i++)
		text(u, "  [0x%" PRIx64 ", +0x%" PRIx64 ")  %s\n", in->ranges[i].iova,
		     in->ranges[i].length, format_bytes(size, in->ranges[i].length));
	if (in->over_reports)
		text(u, "over-reports:  yes: the %zu %s given were collapsed into %zu, which "
		     "also span the gaps between them; a report may set bits there, which a VMM "
		     "skips\n", u->a->n_ranges, plural(u->a->n_ranges, "range", "ranges"),
		     in->n_ranges);
	else if (in->n_ranges < u->a->n_ranges)
		text(u, "over-reports:  no: the %zu %s given were merged into %zu without "
		     "gaps\n", u->a->n_ranges, plural(u->a->n_ranges, "range", "ranges"),
		     in->n_ranges);
	else
		text(u, "over-reports:  no\n");
	text_flush(u);
}

static void json_error(struct json_writer *w, int err, const char *message)
{
	json_object_begin(w);
	json_member_int(w, "errno", err);
	json_member_string(w, "message", message);
	json_object_end(w);
}

/* The dirty pages of one report: bit n is the page at iova + n * page_size. */
static void print_pages(struct run *u, uint64_t iova, uint64_t pages)
{
	size_t words = (size_t)((pages + 63) / 64);

	for (size_t w = 0; w < words; w++) {
		uint64_t bits = u->bitmap[w];

		while (bits) {
			uint64_t n = (uint64_t)w * 64 + (uint64_t)__builtin_ctzll(bits);
			uint64_t addr = iova + n * u->info.page_size;

			bits &= bits - 1;
			if (n >= pages)
				break;
			if (u->ctl->json)
				json_uint(u->ctl->jw, addr);
			else
				text(u, "  0x%" PRIx64 "\n", addr);
		}
	}
}

static void print_report(struct run *u, const struct vfiomig_iova_range *rg, uint64_t dirty,
			 uint64_t pages, const struct failure *f)
{
	struct json_writer *w = u->ctl->jw;

	if (!u->ctl->json) {
		text(u, "round %" PRIu64 ": [0x%" PRIx64 ", +0x%" PRIx64 ")  ", u->rounds + 1,
		     rg->iova, rg->length);
		if (f)
			text(u, "FAILED: all %" PRIu64 " %s counted dirty\n", dirty,
			     plural(dirty, "page", "pages"));
		else
			text(u, "%" PRIu64 " of %" PRIu64 " %s dirty\n", dirty, pages,
			     plural(pages, "page", "pages"));
		if (u->a->pages && u->bitmap)
			print_pages(u, rg->iova, pages);
		return;
	}
	json_object_begin(w);
	json_member_uint(w, "round", u->rounds + 1);
	json_member_uint(w, "iova", rg->iova);
	json_member_uint(w, "length", rg->length);
	json_member_uint(w, "dirty_pages", dirty);
	if (u->a->pages) {
		json_name(w, "pages");
		json_array_begin(w);
		if (u->bitmap)
			print_pages(u, rg->iova, pages);
		json_array_end(w);
	}
	if (f) {
		json_name(w, "error");
		json_error(w, f->err, f->message);
	}
	json_object_end(w);
}

/* ---- the rounds ---- */

static void take_failure(struct vfiomig_ctx *vctx, int r, struct failure *f)
{
	struct ctl_lib_error e;

	ctl_lib_error_take(vctx, r, &e);
	f->err = e.err;
	snprintf(f->message, sizeof(f->message), "%s", e.message[0] ? e.message : strerror(e.err));
}

/* The pages of a report of @length (whole pages, rounded up). */
static uint64_t pages_of(const struct run *u, uint64_t length)
{
	uint64_t ps = u->info.page_size;

	return length / ps + (length % ps != 0);
}

/* One report of @rg: bitmap, count, output.  Returns whether it failed. */
static bool report_one(struct run *u, const struct vfiomig_iova_range *rg)
{
	uint64_t pages = pages_of(u, rg->length), dirty = 0;
	size_t need = (size_t)((pages + 63) / 64 * 8);
	struct failure f;
	int r;

	if (need > u->bitmap_size) {
		/* sized up front for every report; only a huge one lands here */
		free(u->bitmap);
		u->bitmap_size = 0;
		u->bitmap = calloc(1, need ? need : 8);
		if (u->bitmap)
			u->bitmap_size = need;
	}
	r = vfiomig_dirty_report(u->d, rg->iova, rg->length, u->bitmap, u->bitmap_size, &dirty);
	if (r == 0) {
		print_report(u, rg, dirty, pages, NULL);
		return false;
	}
	take_failure(u->vctx, r, &f);
	if (!u->first_failed_round) {
		u->first_failed_round = u->rounds + 1;
		u->first_failure = f;
	}
	if (!u->ctl->json)	/* now, not only in the end's summary */
		ctl_message(u->ctl, "dirty: round %" PRIu64 ": %s", u->rounds + 1, f.message);
	print_report(u, rg, dirty, pages, &f);
	return true;
}

/*
 * Waits until CLOCK_MONOTONIC reaches @deadline_ns, or an interrupt (the
 * cancel object that the signal handlers raise).  Returns whether it was
 * interrupted.
 */
static bool wait_until(uint64_t deadline_ns)
{
	struct vfiomig_cancel *c = ctl_cancel();
	struct pollfd pfd = { .fd = c ? vfiomig_cancel_get_fd(c) : -1, .events = POLLIN };

	for (;;) {
		uint64_t now = now_ns();
		struct timespec ts;

		if (c && vfiomig_cancel_is_raised(c) == 1)
			return true;
		if (now >= deadline_ns)
			return false;
		ts.tv_sec = (time_t)((deadline_ns - now) / 1000000000);
		ts.tv_nsec = (long)((deadline_ns - now) % 1000000000);
		(void)ppoll(&pfd, pfd.fd >= 0 ? 1 : 0, &ts, NULL);
	}
}

/* Every tracked range, widened to whole pages of the session's size. */
static int default_reports(struct run *u)
{
	uint64_t mask = u->info.page_size - 1;

	u->widened = calloc(u->info.n_ranges, sizeof(*u->widened));
	if (!u->widened)
		return -ENOMEM;
	for (size_t i = 0; i < u->info.n_ranges; i++) {
		uint64_t begin = u->info.ranges[i].iova & ~mask;
		uint64_t end = u->info.ranges[i].iova + u->info.ranges[i].length;

		end = end + mask < end ? (UINT64_MAX & ~mask) : (end + mask) & ~mask;
		u->widened[i] = (struct vfiomig_iova_range){ begin, end - begin };
	}
	u->reports = u->widened;
	u->n_reports = u->info.n_ranges;
	return 0;
}

/* A bitmap for the largest report, so that the rounds allocate nothing. */
static int alloc_bitmap(struct run *u)
{
	uint64_t most = 1;

	for (size_t i = 0; i < u->n_reports; i++) {
		uint64_t p = pages_of(u, u->reports[i].length);

		most = p > most ? p : most;
	}
	if (most > (uint64_t)SIZE_MAX / 2)
		return -ENOMEM;
	u->bitmap_size = (size_t)((most + 63) / 64 * 8);
	u->bitmap = calloc(1, u->bitmap_size);
	return u->bitmap ? 0 : -ENOMEM;
}

static void rounds(struct run *u)
{
	uint64_t begin = now_ns();

	for (uint64_t k = 1; !u->a->count || k <= u->a->count; k++) {
		bool failed = false;

		if (wait_until(begin + k * u->a->interval_ns))
			return;
		for (size_t i = 0; i < u->n_reports; i++)
			failed |= report_one(u, &u->reports[i]);
		u->failed_rounds += failed;
		u->rounds++;
		text_flush(u);
		if (u->write_err)
			return;
	}
}

static const char *signal_word(int sig)
{
	return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" :
	       sig == SIGHUP ? "SIGHUP" : "a signal";
}

/*
 * After the rounds: stop, say so, and set the command's failure, if any.
 * The status: EXIT_OK, or EXIT_FAIL with ctl's error set.
 */
static int finish(struct run *u, int stop_r, const struct failure *stop_f)
{
	struct ctl *ctl = u->ctl;
	int sig = ctl_interrupt_signal(), status = EXIT_OK;

	ctl->interrupt_said = sig != 0;	/* the output says it */

	if (stop_r < 0)
		status = ctl_fail(ctl, stop_f->err, "stopping the tracking failed: %s",
				  stop_f->message);
	else if (u->failed_rounds)
		status = ctl_fail(ctl, u->first_failure.err, "%" PRIu64 " of %" PRIu64 " %s failed, "
				  "and counted every page of the range dirty (round %" PRIu64 ": %s)",
				  u->failed_rounds, u->rounds, plural(u->rounds, "round", "rounds"),
				  u->first_failed_round, u->first_failure.message);
	if (ctl->json) {
		json_member_bool(ctl->jw, "stopped", stop_r == 0);
		json_member_uint(ctl->jw, "rounds", u->rounds);
		if (sig)
			json_member_string(ctl->jw, "interrupted", signal_word(sig));
		else
			json_member_null(ctl->jw, "interrupted");
		if (status != EXIT_OK) {	/* as in a report: only when it failed */
			json_name(ctl->jw, "error");
			json_error(ctl->jw, ctl->err, ctl->err_msg);
		}
		json_object_end(ctl->jw);
		return status;
	}
	text(u, "%s after %" PRIu64 " %s", stop_r == 0 ? "stopped tracking" :
	     "STOP failed (closing the device ends the tracking)", u->rounds,
	     plural(u->rounds, "round", "rounds"));
	if (sig)
		text(u, ": interrupted by %s", signal_word(sig));
	text(u, "\n");
	text_flush(u);
	if (u->write_err && status == EXIT_OK)
		status = ctl_fail(ctl, -u->write_err, "writing to stdout failed: %s",
				  strerror(-u->write_err));
	return status;
}

static int track(struct ctl *ctl, struct vfiomig_ctx *vctx, struct vfiomig_dev *dev,
		 const struct dirty_args *a)
{
	struct vfiomig_dirty_opts opts = { .sz = sizeof(opts), .page_size = a->page_size };
	struct run u = { .ctl = ctl, .vctx = vctx, .a = a, .name = vfiomig_dev_get_name(dev),
			 .info = { .sz = sizeof(u.info) } };
	struct failure stop_f = { 0 };
	int r, status, stop_r;

	r = vfiomig_dirty_start(dev, a->ranges, a->n_ranges, &opts, &u.d);
	if (r < 0)
		return ctl_fail_lib(ctl, vctx, a->device, r);
	r = vfiomig_dirty_get_info(u.d, &u.info);
	if (r < 0) {
		vfiomig_dirty_free(u.d);
		return ctl_fail_on(ctl, -r, u.name, "reading the tracking session failed: %s",
				   strerror(-r));
	}
	if (!a->n_reports) {
		r = default_reports(&u);
	} else {
		u.reports = a->reports;
		u.n_reports = a->n_reports;
	}
	if (r == 0)
		r = alloc_bitmap(&u);
	if (r == 0 && !ctl->json) {
		u.text = open_memstream(&u.text_buf, &u.text_len);
		if (!u.text)
			r = -ENOMEM;
	}
	if (r < 0) {
		vfiomig_dirty_free(u.d);
		free(u.widened);
		free(u.bitmap);
		return ctl_fail(ctl, -r, "out of memory for the reports; tracking stopped");
	}

	/* From here the output is shown whatever happens: it says what was tracked. */
	ctl->print_on_failure = true;
	if (ctl->json)
		json_object_begin(ctl->jw);
	print_tracked(&u);
	if (ctl->json) {
		json_name(ctl->jw, "reports");
		json_array_begin(ctl->jw);
	}
	if (!u.write_err)
		rounds(&u);
	if (ctl->json)
		json_array_end(ctl->jw);

	stop_r = vfiomig_dirty_stop(u.d);
	if (stop_r < 0)
		take_failure(vctx, stop_r, &stop_f);
	if (!u.write_err)
		status = finish(&u, stop_r, &stop_f);
	else
		status = ctl_fail(ctl, -u.write_err, "writing to stdout failed: %s; tracking "
				  "stopped after %" PRIu64 " %s", strerror(-u.write_err), u.rounds,
				  plural(u.rounds, "round", "rounds"));
	vfiomig_dirty_free(u.d);
	if (u.text)
		fclose(u.text);	/* empty: flushed after each round and at the end */
	free(u.text_buf);
	free(u.widened);
	free(u.bitmap);
	return status;
}

int cmd_dirty(struct ctl *ctl, int argc, char **argv)
{
	struct dirty_args a = { .interval_ns = 1000000000 };
	struct vfiomig_ctx *vctx = NULL;
	struct vfiomig_dev *dev = NULL;
	int r = parse(ctl, argc, argv, &a);

	if (r == ARGS_CONTINUE) {
		r = ctl_context_new(ctl, &vctx);
		if (r == EXIT_OK)
			r = ctl_open(ctl, vctx, a.device, &dev);
		if (r == EXIT_OK)
			r = track(ctl, vctx, dev, &a);
	}
	/* closing the device's fd would end a session too */
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(vctx);
	free(a.ranges);
	free(a.reports);
	return r;
}
