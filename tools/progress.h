/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The progress line on stderr, redrawn in place ("\r" + the terminal's
 * clear-to-end-of-line, terminfo "el").  Every redraw, and every message
 * printed through here, is one write(2), so it never mixes byte by byte
 * with what another process writes to the same terminal.
 *
 * What the line shows (vfiomig-ctl(1), "Progress"): pre-copy is
 * open-ended (the running device keeps dirtying memory), so it shows the
 * round, the bytes moved so far and the rate, and no percentage or ETA.
 * Stop-copy shows the bytes of that phase against what the device said is
 * left, and a load against the stream's length when it is a regular file:
 * a percentage that never goes back within the phase, and an ETA.  Once
 * the bytes outrun the estimate, both go.
 *
 * Who draws (--progress): never; always (on stderr, whatever it is); auto,
 * the default: only when stderr is a terminal that no other vfiomig-ctl
 * draws on.  Drawing needs a claim on the terminal, a flock(2) on its
 * device node, held until exit; one that finds the terminal claimed stays
 * silent and tries again at each update.  A save claims the terminal
 * before it writes a byte of its stream, a load only once stream data
 * arrived: in "save -o - | load -i -" on one terminal the save draws.
 * Whatever either prints on the terminal starts by clearing the row
 * (progress_clear_seq()), so it never lands on a line drawn there.
 *
 * Thread-safe: migrate reports from two threads, and the library's log
 * messages come through progress_print() so they never mix with the line.
 */
#ifndef CTL_PROGRESS_H
#define CTL_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vfiomig/migrate.h>

enum progress_mode {
	PROGRESS_AUTO = 0,
	PROGRESS_ALWAYS,
	PROGRESS_NEVER,
};

/* When an auto line claims the terminal. */
enum progress_claim {
	PROGRESS_CLAIM_NOW,	/* save, migrate: before the stream's first byte */
	PROGRESS_CLAIM_ON_DATA,	/* load: once an update reports bytes moved */
};

struct progress;

/* @label starts the line ("save").  Returns NULL when out of memory. */
struct progress *progress_new(enum progress_mode mode, const char *label,
			      enum progress_claim claim);
/* Clears the line, gives up the terminal and frees (NULL-safe). */
void progress_free(struct progress *p);
/* Whether the line may be drawn at all (it may still wait for the terminal). */
bool progress_enabled(const struct progress *p);
/* A load's stream length, when known (a regular file): its percentage is of it. */
void progress_set_total(struct progress *p, uint64_t stream_bytes);

/* Redraws the line from a library report; VFIOMIG_PHASE_DONE clears it. */
void progress_update(struct progress *p, const struct vfiomig_progress *vp);
/* Clears the line, if drawn. */
void progress_clear(struct progress *p);
/* Clears the line and prints @line and a newline on stderr (NULL-safe). */
void progress_print(struct progress *p, const char *line);

/*
 * What to write in front of output on @fd, in the same write, so that it
 * starts on a clean row: the row's clear when @fd is a terminal that a
 * line may be on (another vfiomig-ctl's too); nothing otherwise.  Returns
 * its length (less than PROGRESS_CLEAR_MAX; @buf is NUL-terminated).
 */
#define PROGRESS_CLEAR_MAX 1100
size_t progress_clear_seq(struct progress *p, int fd, char buf[PROGRESS_CLEAR_MAX]);

/* What the line last showed: its percentage never goes back within a phase. */
struct progress_view {
	uint64_t load_total;		/* progress_set_total(); 0 if unknown */
	enum vfiomig_phase phase;	/* the phase shown; 0 before the first */
	uint64_t start;			/* the bytes when it began */
	uint64_t expected;		/* its bytes last expected; 0 if none */
	int percent;			/* last shown; -1 if none */
};

/* The text of the line, without terminal control; exposed for tests. */
void progress_format(char *buf, size_t size, const char *label, struct progress_view *v,
		     const struct vfiomig_progress *vp);

/* Writes all of @buf to @fd, waiting out EAGAIN (a terminal left
 * non-blocking by another program) and EINTR: 0, or -errno. */
int progress_write_all(int fd, const char *buf, size_t len);

#endif
