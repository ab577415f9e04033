/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The progress line.  Terminal capabilities come from terminfo (ncurses'
 * libtinfo): setupterm() for the terminal named by $TERM, tigetstr("el")
 * for clear-to-end-of-line, written with tputs() so any padding the entry
 * asks for is honoured.  Without terminfo (no $TERM, an unknown terminal,
 * or a build without libtinfo) the line is overwritten with spaces instead.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#ifdef HAVE_TERMINFO
#include <term.h>
#endif

#include "progress.h"
#include "units.h"

struct progress {
	pthread_mutex_t lock;
	bool enabled;
	bool drawn;		/* a line is on the screen */
	size_t drawn_len;	/* its length, for the fallback */
	const char *el;		/* terminfo clear-to-eol, or NULL */
	bool have_term;		/* setupterm() succeeded: del_curterm() at the end */
	char label[32];
};

#ifdef HAVE_TERMINFO
static int put_stderr(int c)
{
	return putc(c, stderr);
}

static void terminfo_setup(struct progress *p)
{
	int err = 0;
	char *el;

	if (setupterm(NULL, STDERR_FILENO, &err) != 0)
		return;
	p->have_term = true;
	el = tigetstr("el");
	if (el && el != (char *)-1)
		p->el = el;
}

static void terminfo_release(struct progress *p)
{
	if (p->have_term)
		del_curterm(cur_term);
}

static void clear_to_eol(struct progress *p)
{
	tputs(p->el, 1, put_stderr);
}
#else
static void terminfo_setup(struct progress *p) { (void)p; }
static void terminfo_release(struct progress *p) { (void)p; }
static void clear_to_eol(struct progress *p) { (void)p; }
#endif

struct progress *progress_new(bool enable, const char *label)
{
	struct progress *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	p->enabled = enable && isatty(STDERR_FILENO);
	snprintf(p->label, sizeof(p->label), "%s", label);
	if (p->enabled)
		terminfo_setup(p);
	return p;
}

bool progress_enabled(const struct progress *p)
{
	return p && p->enabled;
}

static size_t terminal_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
		return ws.ws_col;
	return 80;
}

/* Caller holds the lock. */
static void erase_line(struct progress *p)
{
	if (!p->drawn)
		return;
	fputc('\r', stderr);
	if (p->el)
		clear_to_eol(p);
	else
		fprintf(stderr, "%*s\r", (int)p->drawn_len, "");
	fflush(stderr);
	p->drawn = false;
	p->drawn_len = 0;
}

/* Caller holds the lock. */
static void draw_line(struct progress *p, const char *line)
{
	/* One column short of the width: a line that wraps cannot be redrawn. */
	size_t len = strlen(line), width = terminal_width() - 1;

	if (len > width)
		len = width;
	fputc('\r', stderr);
	if (p->el)
		clear_to_eol(p);
	fwrite(line, 1, len, stderr);
	if (!p->el && p->drawn_len > len)
		fprintf(stderr, "%*s", (int)(p->drawn_len - len), "");
	fflush(stderr);
	p->drawn = true;
	p->drawn_len = len > p->drawn_len || p->el ? len : p->drawn_len;
}

void progress_format(char *buf, size_t size, const char *label,
		     const struct vfiomig_progress *vp)
{
	char bytes[UNITS_BUF], total[UNITS_BUF], rate[UNITS_BUF], eta[UNITS_BUF];
	char phase[32];
	size_t n;

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
	n = (size_t)snprintf(buf, size, "%s: %s  %s", label, phase, format_bytes(bytes, vp->bytes));
	if (n < size && vp->total_estimate > 0)
		n += (size_t)snprintf(buf + n, size - n, " of %s (%u%%)",
				      format_bytes(total, vp->total_estimate),
				      (unsigned int)(vp->bytes >= vp->total_estimate ? 100 :
						     vp->bytes * 100 / vp->total_estimate));
	if (n < size && vp->rate > 0)
		n += (size_t)snprintf(buf + n, size - n, "  %s", format_rate(rate, vp->rate));
	if (n < size && vp->rate > 0 && vp->total_estimate > vp->bytes)
		snprintf(buf + n, size - n, "  ETA %s",
			 format_clock(eta, (vp->total_estimate - vp->bytes + vp->rate - 1) / vp->rate));
}

void progress_update(struct progress *p, const struct vfiomig_progress *vp)
{
	char line[256];

	if (!progress_enabled(p))
		return;
	pthread_mutex_lock(&p->lock);
	if (vp->phase == VFIOMIG_PHASE_DONE) {
		erase_line(p);
	} else {
		progress_format(line, sizeof(line), p->label, vp);
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

void progress_print(struct progress *p, const char *line)
{
	if (!p) {
		fprintf(stderr, "%s\n", line);
		return;
	}
	pthread_mutex_lock(&p->lock);
	erase_line(p);
	fprintf(stderr, "%s\n", line);
	pthread_mutex_unlock(&p->lock);
}

void progress_free(struct progress *p)
{
	if (!p)
		return;
	progress_clear(p);
	terminfo_release(p);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
