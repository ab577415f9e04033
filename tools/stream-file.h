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
	bool remove_on_failure;	/* a regular file written in place: @final */
	/* An output written beside its file and renamed over it once complete
	 * (@final: the file, a symlink resolved); both NULL for an input or
	 * stdout, and @tmp NULL for an output written in place. */
	char *tmp, *final;
};

/*
 * The checks that are usage errors (exit status 2), made before any device
 * is opened: "-" must not be a terminal, and a FILE must be one that can
 * be written: a name that is not empty, not a directory, in a directory
 * that exists and can be written.  A stream on stdout sends the summary
 * to stderr, text or --json, and any error with it.
 */
int stream_check_output(struct ctl *ctl, const char *path);
int stream_check_input(struct ctl *ctl, const char *path);

/*
 * Opens the output, or the input.  A regular output file, new or not, is
 * written under a temporary name beside it (mode 0600) and takes its
 * name only when stream_close() finds the save complete and synced, so a
 * failed or interrupted save leaves an existing file as it was.  Other
 * outputs (a FIFO, /dev/null, a file in a directory this user cannot
 * write, a new file behind a symlink) are written in place, created with
 * mode 0600 or truncated (and a regular file set to 0600).
 */
int stream_open_output(struct ctl *ctl, const char *path, struct stream_file *f);
int stream_open_input(struct ctl *ctl, const char *path, struct stream_file *f);

/*
 * A regular input file (a FILE, or stdin redirected from one) is read to
 * its end and verified as by vfiomig_stream_inspect(), then rewound to
 * where it started, so a damaged stream is refused before anything
 * reaches a device.  Returns 0 if it is valid or not a regular file (a
 * pipe is checked record by record as it loads), 1 if it is not valid
 * (@sum says why and where), or -errno with the failure reported.
 */
int stream_verify_input(struct ctl *ctl, struct vfiomig_ctx *vctx, struct stream_file *f,
			struct vfiomig_stream_summary *sum);

/*
 * Closes the file (never stdin or stdout).  After a failure (@failed) the
 * temporary file, or a regular file written in place, is removed.
 * Otherwise a complete stream that cannot be kept (fsync(), close(), the
 * rename or the directory's sync fails) is reported and removed as well:
 * the caller then puts the devices back, as after a failed save.
 */
int stream_close(struct ctl *ctl, struct stream_file *f, bool failed);

#endif
