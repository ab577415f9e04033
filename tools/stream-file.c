/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where a saved stream goes or comes from. */
#define _GNU_SOURCE	/* mkostemp() */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stream-file.h"

static bool is_std(const char *path)
{
	return strcmp(path, "-") == 0;
}

int stream_check_output(struct ctl *ctl, const char *path)
{
	if (!is_std(path))
		return EXIT_OK;
	if (ctl->json)
		return ctl_usage(ctl, "--json prints its document on stdout, which would carry "
				 "the stream; give -o FILE");
	if (!ctl->stdout_closed && isatty(STDOUT_FILENO))
		return ctl_usage(ctl, "refusing to write a binary stream to a terminal; "
				 "give -o FILE or redirect stdout");
	ctl->out_fd = STDERR_FILENO;
	return EXIT_OK;
}

int stream_check_input(struct ctl *ctl, const char *path)
{
	if (is_std(path) && isatty(STDIN_FILENO))
		return ctl_usage(ctl, "refusing to read a binary stream from a terminal; "
				 "give a FILE or redirect stdin");
	return EXIT_OK;
}

/*
 * Where a regular output file really is: a symlink is followed, so that
 * the rename replaces the file it points to, not the link.  NULL for an
 * output that is written in place: not a regular file, or a file this user
 * may not write (open() then says why, as it always did).
 */
static char *final_path(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? strdup(path) : NULL;
	if (S_ISLNK(st.st_mode) && stat(path, &st) < 0)
		return NULL;	/* a dangling link: open() creates its target */
	if (!S_ISREG(st.st_mode) || access(path, W_OK) < 0)
		return NULL;
	return realpath(path, NULL);
}

/* "DIR/.NAME.XXXXXX" beside @final, created 0600 (mkostemp()). */
static int open_temporary(struct stream_file *f, char *final)
{
	char *d = strdup(final), *b = strdup(final), *tmp = NULL;
	int fd = -1;

	if (d && b && asprintf(&tmp, "%s/.%s.XXXXXX", dirname(d), basename(b)) < 0)
		tmp = NULL;	/* undefined after a failure */
	if (tmp)
		fd = mkostemp(tmp, O_CLOEXEC);
	free(d);
	free(b);
	if (fd < 0) {
		free(tmp);
		free(final);
		return -1;	/* a directory we may not write in: write in place */
	}
	f->fd = fd;
	f->tmp = tmp;
	f->final = final;
	return 0;
}

int stream_open_output(struct ctl *ctl, const char *path, struct stream_file *f)
{
	struct stat st;
	char *final;

	*f = (struct stream_file){ .path = path, .fd = STDOUT_FILENO, .is_std = is_std(path) };
	if (f->is_std)
		return ctl->stdout_closed ? ctl_fail(ctl, EBADF, "stdout is closed") : EXIT_OK;
	final = final_path(path);
	if (final && open_temporary(f, final) == 0)
		return EXIT_OK;
	f->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);
	if (f->fd < 0)
		return ctl_fail_on(ctl, errno, path, "cannot create: %s", strerror(errno));
	f->remove_on_failure = fstat(f->fd, &st) == 0 && S_ISREG(st.st_mode);
	return EXIT_OK;
}

int stream_open_input(struct ctl *ctl, const char *path, struct stream_file *f)
{
	*f = (struct stream_file){ .path = path, .fd = STDIN_FILENO, .is_std = is_std(path) };
	if (f->is_std)
		return EXIT_OK;
	f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (f->fd < 0)
		return ctl_fail_on(ctl, errno, path, "cannot open: %s", strerror(errno));
	return EXIT_OK;
}

/* The complete stream takes the file's name; an incomplete one goes. */
static int finish_temporary(struct ctl *ctl, struct stream_file *f, bool failed)
{
	int r = EXIT_OK;

	if (!failed && rename(f->tmp, f->final) < 0)
		r = ctl_fail_on(ctl, errno, f->path, "cannot replace it with the saved stream "
				"(left in %s): %s", f->tmp, strerror(errno));
	else if (failed)
		unlink(f->tmp);
	free(f->tmp);
	free(f->final);
	f->tmp = f->final = NULL;
	return r;
}

int stream_close(struct ctl *ctl, struct stream_file *f, bool failed)
{
	int r = EXIT_OK;

	if (f->is_std || f->fd < 0)
		return EXIT_OK;
	if (close(f->fd) < 0 && !failed)
		r = ctl_fail_on(ctl, errno, f->path, "writing failed: %s", strerror(errno));
	f->fd = -1;
	if (f->tmp)
		return finish_temporary(ctl, f, failed || r != EXIT_OK) == EXIT_OK ? r : EXIT_FAIL;
	if ((failed || r != EXIT_OK) && f->remove_on_failure)
		unlink(f->path);
	return r;
}
