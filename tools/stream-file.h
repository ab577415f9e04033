/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Where a saved stream goes or comes from: a file, or "-" for stdout or
 * stdin.  A binary stream is never written to or read from a terminal.
 */
#ifndef CTL_STREAM_FILE_H
#define CTL_STREAM_FILE_H

#include <stdbool.h>

#include "ctl.h"

struct stream_file {
	const char *path;	/* as given; "-" for stdin or stdout */
	int fd;
	bool is_std;
	bool remove_on_failure;	/* a regular file this run created or truncated */
};

/*
 * The checks that are usage errors (exit status 2), made before any device
 * is opened: "-" must not be a terminal, and --json cannot share stdout
 * with the stream.  A stream on stdout sends the text summary to stderr.
 */
int stream_check_output(struct ctl *ctl, const char *path);
int stream_check_input(struct ctl *ctl, const char *path);

/* Opens (creating with mode 0600, or truncating) or reads the file. */
int stream_open_output(struct ctl *ctl, const char *path, struct stream_file *f);
int stream_open_input(struct ctl *ctl, const char *path, struct stream_file *f);

/*
 * Closes the file (never stdin or stdout).  After a failure (@failed) an
 * output file is removed; otherwise a failing close() is reported.
 */
int stream_close(struct ctl *ctl, struct stream_file *f, bool failed);

#endif
