/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The progress line.  Terminal capabilities come from terminfo (ncurses'
 * libtinfo): setupterm() for the terminal named by $TERM, tigetstr("el")
 * for clear-to-end-of-line, expanded once with tputs() so any padding the
 * entry asks for is honoured.  Without terminfo (no $TERM, an unknown
 * terminal, or a build without libtinfo) the line is overwritten with
 * spaces instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <unistd.h>

#ifdef HAVE_TERMINFO
#include <term.h>
#endif

#include "progress.h"
#include "units.h"

/* The widest line drawn, and the most spaces that blank a row. */
#define LINE_MAX_COLS 1024
/* The longest clear-to-eol taken from terminfo, padding included. */
#define EL_MAX 64

struct progress {
	pthread_mutex_t lock;
	bool enabled;		/* the mode and stderr allow a line */
	bool owner;		/* it draws: always, or auto holding the terminal */
	bool claim_on_data;	/* auto: no claim before bytes moved */
	int tty_fd;		/* stderr's terminal, opened for flock(2); -1 */
	bool drawn;		/* a line is on the screen */
	size_t drawn_len;	/* its length, for the fallback */
	char el[EL_MAX];	/* terminfo clear-to-eol as written; "" if none */
	size_t el_len;
	bool have_term;		/* setupterm() succeeded: del_curterm() at the end */
	char label[32];
	struct progress_view view;
};

/* A run of bytes for one write(2). */
struct out {
	char b[LINE_MAX_COLS + 2 * EL_MAX + 16];
	size_t n;
};

static void out_add(struct out *o, const char *s, size_t len)
{
	if (len > sizeof(o->b) - o->n)
		len = sizeof(o->b) - o->n;
	memcpy(o->b + o->n, s, len);
	o->n += len;
}

static void out_spaces(struct out *o, size_t n)
{
	if (n > sizeof(o->b) - o->n)
		n = sizeof(o->b) - o->n;
	memset(o->b + o->n, ' ', n);
	o->n += n;
}

int progress_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EAGAIN) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };

			poll(&pf, 1, -1);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A progress line that cannot be shown is not shown: nowhere to say so. */
static void write_fd(int fd, const char *buf, size_t len)
{
	(void)progress_write_all(fd, buf, len);
}

#ifdef HAVE_TERMINFO
/* tputs() has no context argument; only progress_new() uses it. */
static struct out *capture_to;

static int capture(int c)
{
	char ch = (char)c;

	out_add(capture_to, &ch, 1);
	return c;
}

static void terminfo_setup(struct progress *p)
{
	struct out o = { .n = 0 };
	int err = 0;
	char *el;

	if (setupterm(NULL, STDERR_FILENO, &err) != 0)
		return;
	p->have_term = true;
	el = tigetstr("el");
	if (!el || el == (char *)-1)
		return;
	capture_to = &o;
	tputs(el, 1, capture);
	capture_to = NULL;
	if (o.n == 0 || o.n >= sizeof(p->el))
		return;		/* too long to be clear-to-eol: use spaces */
	memcpy(p->el, o.b, o.n);
	p->el_len = o.n;
}

static void terminfo_release(struct progress *p)
{
	if (p->have_term)
		del_curterm(cur_term);
}
#else
static void terminfo_setup(struct progress *p) { (void)p; }
static void terminfo_release(struct progress *p) { (void)p; }
#endif

/*
 * stderr's terminal, opened anew: a lock belongs to an open file
 * description, and both ends of a pipeline share the one of their fd 2.
 */
static int open_terminal(void)
{
	char path[PATH_MAX];

	if (ttyname_r(STDERR_FILENO, path, sizeof(path)) != 0)
		return -1;
	return open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
}

/* Caller holds the lock (or has the only reference). */
static void claim(struct progress *p)
{
	if (p->owner || p->tty_fd < 0)
		return;
	/* another holds it: wait; no locks here: draw, as without the claim */
	if (flock(p->tty_fd, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK)
		p->owner = true;
}

struct progress *progress_new(enum progress_mode mode, const char *label,
			      enum progress_claim when)
{
	struct progress *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	p->tty_fd = -1;
	p->view.percent = -1;
	snprintf(p->label, sizeof(p->label), "%s", label);
	p->enabled = mode == PROGRESS_ALWAYS || (mode == PROGRESS_AUTO && isatty(STDERR_FILENO));
	/* without a line of its own, output still clears another's row */
	if (p->enabled || isatty(STDERR_FILENO) || isatty(STDOUT_FILENO))
		terminfo_setup(p);
	if (!p->enabled)
		return p;
	if (isatty(STDERR_FILENO))
		p->tty_fd = open_terminal();
	p->claim_on_data = when == PROGRESS_CLAIM_ON_DATA;
	if (p->tty_fd < 0)
		p->owner = true;	/* no terminal to claim: draw */
	else if (!p->claim_on_data)
		claim(p);
	/* always draws whatever the claim found; a save claims all the same,
	 * so that an auto line on the same terminal stays out of its way */
	if (mode == PROGRESS_ALWAYS)
		p->owner = true;
	return p;
}

bool progress_enabled(const struct progress *p)
{
	return p && p->enabled;
}

void progress_set_total(struct progress *p, uint64_t stream_bytes)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->view.load_total = stream_bytes;
	pthread_mutex_unlock(&p->lock);
}

static size_t terminal_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
		return ws.ws_col < LINE_MAX_COLS ? ws.ws_col : LINE_MAX_COLS;
	return 80;
}

/* Blanks the row the cursor is on: "\r" and clear-to-eol, or spaces. */
static void add_clear_row(const struct progress *p, struct out *o, size_t spaces)
{
	out_add(o, "\r", 1);
	if (p->el_len) {
		out_add(o, p->el, p->el_len);
	} else if (spaces) {
		out_spaces(o, spaces);
		out_add(o, "\r", 1);
	}
}

/* Caller holds the lock.  Adds the erase of our own line, if drawn. */
static void add_erase(struct progress *p, struct out *o)
{
	if (!p->drawn)
		return;
	add_clear_row(p, o, p->drawn_len);
	p->drawn = false;
	p->drawn_len = 0;
}

/* Caller holds the lock. */
static void erase_line(struct progress *p)
{
	struct out o = { .n = 0 };

	add_erase(p, &o);
	write_fd(STDERR_FILENO, o.b, o.n);
}

/* Caller holds the lock. */
static void draw_line(struct progress *p, const char *line)
{
	/* One column short of the width: a line that wraps cannot be redrawn. */
	size_t len = strlen(line), width = terminal_width() - 1;
	struct out o = { .n = 0 };

	if (len > width)
		len = width;
	out_add(&o, "\r", 1);
	if (p->el_len)
		out_add(&o, p->el, p->el_len);
	out_add(&o, line, len);
	if (!p->el_len && p->drawn_len > len)
		out_spaces(&o, p->drawn_len - len);
	write_fd(STDERR_FILENO, o.b, o.n);
	p->drawn = true;
	p->drawn_len = len > p->drawn_len || p->el_len ? len : p->drawn_len;
}

/* A new phase: its own figures, and no percentage yet. */
static void view_phase(struct progress_view *v, const struct vfiomig_progress *vp)
{
	if (v->phase == vp->phase)
		return;
	v->phase = vp->phase;
	v->start = vp->bytes;
	v->expected = 0;
	v->percent = -1;
}

/*
 * @done of @total expected (0: unknown): "X of Y (P%)  RATE  ETA T" while
 * the estimate is ahead, "X of Y (100%)" exactly at it, "X, over the Y
 * expected  RATE" past it, "X so far  RATE" without one.
 */
static void format_amount(char *buf, size_t size, struct progress_view *v, uint64_t done,
			  uint64_t total, uint64_t rate)
{
	char a[UNITS_BUF], b[UNITS_BUF], r[UNITS_BUF], eta[UNITS_BUF];
	size_t n;

	if (total > done) {
		int pct = (int)(done * 100 / total);

		if (pct < v->percent)
			pct = v->percent;	/* never back */
		v->percent = pct;
		v->expected = total;
		n = (size_t)snprintf(buf, size, "%s of %s (%d%%)", format_bytes(a, done),
				     format_bytes(b, total), pct);
	} else if (total && total == done && (v->expected == total || !v->expected)) {
		v->percent = 100;
		n = (size_t)snprintf(buf, size, "%s of %s (100%%)", format_bytes(a, done),
				     format_bytes(b, total));
	} else if (total && v->expected) {
		n = (size_t)snprintf(buf, size, "%s, over the %s expected", format_bytes(a, done),
				     format_bytes(b, v->expected));
	} else {
		n = (size_t)snprintf(buf, size, "%s so far", format_bytes(a, done));
	}
	if (n < size && rate > 0)
		n += (size_t)snprintf(buf + n, size - n, "  %s", format_rate(r, rate));
	if (n < size && rate > 0 && total > done)
		snprintf(buf + n, size - n, "  ETA %s",
			 format_clock(eta, (total - done + rate - 1) / rate));
}

/* With a downtime target: the estimate against it, once one is known. */
static void format_downtime(char *buf, size_t size, const struct vfiomig_progress *vp)
{
	char est[UNITS_BUF], target[UNITS_BUF];
	size_t n = strlen(buf);

	if (!vp->downtime_limit_ns || vp->downtime_estimate_ns == UINT64_MAX || n >= size)
		return;
	snprintf(buf + n, size - n, "  downtime ~%s of %s", format_duration(est, vp->downtime_estimate_ns),
		 format_duration(target, vp->downtime_limit_ns));
}

void progress_format(char *buf, size_t size, const char *label, struct progress_view *v,
		     const struct vfiomig_progress *vp)
{
	char phase[32];
	size_t n;

	view_phase(v, vp);
	switch (vp->phase) {
	case VFIOMIG_PHASE_PRECOPY:
		snprintf(phase, sizeof(phase), "pre-copy round %u", vp->precopy_round + 1);
		break;
	case VFIOMIG_PHASE_STOP_COPY:
		snprintf(phase, sizeof(phase), "stop-copy");
		break;
	case VFIOMIG_PHASE_LOAD:
		snprintf(phase, sizeof(phase), "resuming");
		break;
	default:
		snprintf(phase, sizeof(phase), "done");
		break;
	}
	n = (size_t)snprintf(buf, size, "%s: %s  ", label, phase);
	if (n >= size)
		return;
	switch (vp->phase) {
	case VFIOMIG_PHASE_PRECOPY:
		/* open-ended: what the device dirties meanwhile is still to come */
		format_amount(buf + n, size - n, v, vp->bytes, 0, vp->rate);
		format_downtime(buf, size, vp);
		break;
	case VFIOMIG_PHASE_STOP_COPY:
		/* this phase's bytes, of what the device's estimate leaves for it */
		format_amount(buf + n, size - n, v, vp->bytes - v->start,
			      vp->total_estimate > v->start ? vp->total_estimate - v->start : 0,
			      vp->rate);
		break;
	case VFIOMIG_PHASE_LOAD:
		/* of the stream, when its length is known; the device's state
		 * size says nothing of the pre-copy rounds a stream carries */
		format_amount(buf + n, size - n, v, vp->bytes, v->load_total, vp->rate);
		break;
	default:
		format_amount(buf + n, size - n, v, vp->bytes, 0, 0);
		break;
	}
}

void progress_update(struct progress *p, const struct vfiomig_progress *vp)
{
	char line[256];

	if (!progress_enabled(p))
		return;
	pthread_mutex_lock(&p->lock);
	if (!p->owner && (!p->claim_on_data || vp->bytes > 0))
		claim(p);
	if (vp->phase == VFIOMIG_PHASE_DONE) {
		erase_line(p);
		p->view.phase = 0;
	} else {
		/* formatted even when another draws: the view stays current */
		progress_format(line, sizeof(line), p->label, &p->view, vp);
		if (p->owner)
			draw_line(p, line);
	}
	pthread_mutex_unlock(&p->lock);
}

void progress_clear(struct progress *p)
{
	if (!progress_enabled(p))
		return;
	pthread_mutex_lock(&p->lock);
	erase_line(p);
	pthread_mutex_unlock(&p->lock);
}

/*
 * Caller holds the lock.  The row's clear before output on @fd: a
 * terminal that a line may be on, ours (not drawn now) or another's
 * (even with --progress=never, we may share the terminal with a line).
 */
static size_t clear_seq(struct progress *p, int fd, char *buf, size_t size)
{
	struct out o = { .n = 0 };

	if (p->drawn || !isatty(fd))
		return 0;
	add_clear_row(p, &o, terminal_width() - 1);
	if (o.n >= size)
		return 0;
	memcpy(buf, o.b, o.n);
	buf[o.n] = '\0';
	return o.n;
}

size_t progress_clear_seq(struct progress *p, int fd, char buf[PROGRESS_CLEAR_MAX])
{
	size_t n;

	buf[0] = '\0';
	if (!p)
		return 0;
	pthread_mutex_lock(&p->lock);
	n = clear_seq(p, fd, buf, PROGRESS_CLEAR_MAX);
	pthread_mutex_unlock(&p->lock);
	return n;
}

void progress_print(struct progress *p, const char *line)
{
	struct out o = { .n = 0 };
	size_t len = strlen(line);
	char *buf;

	if (!p) {
		fprintf(stderr, "%s\n", line);
		return;
	}
	pthread_mutex_lock(&p->lock);
	if (p->drawn)
		add_erase(p, &o);
	else
		o.n = clear_seq(p, STDERR_FILENO, o.b, sizeof(o.b));
	/* one write: the message starts on the row it cleared */
	buf = malloc(o.n + len + 1);
	if (buf) {
		memcpy(buf, o.b, o.n);
		memcpy(buf + o.n, line, len);
		buf[o.n + len] = '\n';
		write_fd(STDERR_FILENO, buf, o.n + len + 1);
		free(buf);
	} else {
		write_fd(STDERR_FILENO, o.b, o.n);
		write_fd(STDERR_FILENO, line, len);
		write_fd(STDERR_FILENO, "\n", 1);
	}
	pthread_mutex_unlock(&p->lock);
}

void progress_free(struct progress *p)
{
	if (!p)
		return;
	progress_clear(p);
	terminfo_release(p);
	if (p->tty_fd >= 0)
		close(p->tty_fd);	/* gives up the claim */
	pthread_mutex_destroy(&p->lock);
	free(p);
}
