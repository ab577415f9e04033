/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The progress line on stderr: phase, bytes, rate and ETA, redrawn in
 * place ("\r" + the terminal's clear-to-end-of-line, terminfo "el").  It is
 * drawn only when stderr is a terminal and the user did not ask for quiet;
 * otherwise every call but progress_print() does nothing.
 *
 * Thread-safe: migrate reports from two threads, and the library's log
 * messages come through progress_print() so they never mix with the line.
 */
#ifndef CTL_PROGRESS_H
#define CTL_PROGRESS_H

#include <stdbool.h>

#include <vfiomig/migrate.h>

struct progress;

/*
 * @enable: false for --quiet; the line is also off when stderr is not a
 * terminal.  @label starts the line ("save").  Returns NULL when out of
 * memory.
 */
struct progress *progress_new(bool enable, const char *label);
/* Clears the line and frees (NULL-safe). */
void progress_free(struct progress *p);
/* Whether the line is drawn at all. */
bool progress_enabled(const struct progress *p);

/* Redraws the line from a library report; VFIOMIG_PHASE_DONE clears it. */
void progress_update(struct progress *p, const struct vfiomig_progress *vp);
/* Clears the line, if drawn. */
void progress_clear(struct progress *p);
/* Clears the line and prints @line and a newline on stderr (NULL-safe). */
void progress_print(struct progress *p, const char *line);

/* The text of the line, without terminal control; exposed for tests. */
void progress_format(char *buf, size_t size, const char *label,
		     const struct vfiomig_progress *vp);

#endif
