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

/*
 * A file name that cannot be written is a mistake in what was typed,
 * refused before any device is opened.  The kernel still has the last
 * word when the file is opened, which is before the device is touched
 * too.  A dangling symlink is left to open(), which creates its target.
 */
static int check_output_file(struct ctl *ctl, const char *path)
{
	struct stat st;
	char *copy, *dir;
	int e = 0;

	if (!path[0])
		return ctl_usage(ctl, "the output file name is empty (an unset variable in "
				 "-o \"$VAR\"?); give -o FILE, or -o - for standard output");
	if (path[strlen(path) - 1] == '/' || (stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
		return ctl_usage(ctl, "'%s' is a directory; give -o the name of a file to write",
				 path);
	if (lstat(path, &st) == 0)
		return access(path, W_OK) == 0 || errno == ENOENT ? EXIT_OK :
		       ctl_usage(ctl, "'%s' cannot be written: %s", path, strerror(errno));
	if (errno != ENOENT)
		return ctl_usage(ctl, "'%s' cannot be written: %s", path, strerror(errno));
	copy = strdup(path);
	dir = copy ? dirname(copy) : NULL;
	if (dir && (stat(dir, &st) < 0 || access(dir, W_OK | X_OK) < 0))
		e = errno;
	if (e == ENOENT)
		ctl_usage(ctl, "'%s' cannot be created: its directory '%s' does not exist", path,
			  dir);
	else if (e)
		ctl_usage(ctl, "'%s' cannot be created in '%s': %s", path, dir, strerror(e));
	free(copy);
	return e ? EXIT_USAGE : EXIT_OK;
}

int stream_check_output(struct ctl *ctl, const char *path)
{
	if (!is_std(path))
		return check_output_file(ctl, path);
	if (isatty(STDOUT_FILENO))
		return ctl_usage(ctl, "refusing to write a binary stream to a terminal; "
				 "give -o FILE or redirect stdout");
	ctl->out_fd = STDERR_FILENO;	/* the summary, --json's too, and any error */
	return EXIT_OK;
}

int stream_check_input(struct ctl *ctl, const char *path)
{
	/* load names its input with -i; inspect's FILE is an argument */
	bool by_option = ctl->cmd && strcmp(ctl->cmd->name, "load") == 0;

	if (is_std(path) && isatty(STDIN_FILENO))
		return ctl_usage(ctl, "refusing to read a binary stream from a terminal; "
				 "give %s or redirect stdin", by_option ? "-i FILE" : "a FILE");
	return EXIT_OK;
}

/*
 * The path, without symlinks, of the file @st that @path led to; NULL if
 * it names another file by now.
 */
static char *same_file(const char *path, const struct stat *st)
{
	char *real = realpath(path, NULL);
	struct stat now;

	if (real && (stat(real, &now) < 0 || now.st_dev != st->st_dev ||
		     now.st_ino != st->st_ino)) {
		free(real);
		real = NULL;
	}
	return real;
}

/*
 * Where a regular output file really is: a symlink is followed, so that
 * the rename replaces the file it points to, not the link.  The kernel
 * follows it (O_PATH), under its own rules (fs.protected_symlinks), and
 * the path taken is the one that names the file it reached.  NULL for an
 * output that is written in place: not a regular file, a link to a file
 * that does not exist yet, or a file this user may not write (open() then
 * says why, as it always did).
 */
static char *final_path(const char *path)
{
	struct stat st;
	char *final = NULL;
	int fd;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? strdup(path) : NULL;
	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return NULL;	/* a dangling link: open() creates its target */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && access(path, W_OK) == 0)
		final = same_file(path, &st);
	close(fd);
	return final;
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
	ctl_set_temporary(tmp);	/* a second interrupt, which kills, removes it */
	return 0;
}

int stream_open_output(struct ctl *ctl, const char *path, struct stream_file *f)
{
	struct stat st;
	char *final;

	*f = (struct stream_file){ .path = path, .fd = STDOUT_FILENO, .is_std = is_std(path) };
	if (f->is_std)
		return EXIT_OK;	/* a closed stdout was refused before any command ran */
	final = final_path(path);
	if (final && open_temporary(f, final) == 0)
		return EXIT_OK;
	f->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);
	if (f->fd < 0)
		return ctl_fail_on(ctl, errno, path, "cannot create: %s", strerror(errno));
	if (fstat(f->fd, &st) == 0 && S_ISREG(st.st_mode)) {
		fchmod(f->fd, 0600);	/* an older file's mode goes, as it would by rename */
		/* a failure removes the file, not a link to it */
		f->final = same_file(path, &st);
		f->remove_on_failure = f->final != NULL;
	}
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

/*
 * The rename itself reaches the disk: without this, a crash soon after a
 * save could bring back the old file, or no file, in its place.
 */
static int sync_directory(struct ctl *ctl, struct stream_file *f)
{
	char *d = strdup(f->final);
	int fd = d ? open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	int e = fd < 0 || fsync(fd) < 0 ? errno : 0;

	if (fd >= 0)
		close(fd);
	free(d);
	if (e == 0 || e == EINVAL)	/* EINVAL: a file system that cannot sync one */
		return EXIT_OK;
	unlink(f->final);
	return ctl_fail_on(ctl, e, f->path, "the stream was complete, but syncing its "
			   "directory failed, so it might not survive a crash: %s; it was "
			   "removed", strerror(e));
}

/*
 * The complete stream takes the file's name; an incomplete one goes, and
 * so does one that cannot take the name: no state is left in a file the
 * user did not name.
 */
static int finish_temporary(struct ctl *ctl, struct stream_file *f, bool failed)
{
	int r = EXIT_OK;

	if (!failed && rename(f->tmp, f->final) < 0) {
		r = ctl_fail_on(ctl, errno, f->path, "the stream was complete, but it cannot "
				"take this name: %s; it was removed", strerror(errno));
		failed = true;
	}
	if (failed)
		unlink(f->tmp);
	else
		r = sync_directory(ctl, f);
	ctl_set_temporary(NULL);
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
	/* A complete stream is on the disk before it takes the file's name. */
	if (!failed && (f->tmp || f->remove_on_failure) && fsync(f->fd) < 0)
		r = ctl_fail_on(ctl, errno, f->path, "writing failed: %s", strerror(errno));
	if (close(f->fd) < 0 && !failed && r == EXIT_OK)
		r = ctl_fail_on(ctl, errno, f->path, "writing failed: %s", strerror(errno));
	f->fd = -1;
	if (f->tmp)
		return finish_temporary(ctl, f, failed || r != EXIT_OK) == EXIT_OK ? r : EXIT_FAIL;
	if ((failed || r != EXIT_OK) && f->remove_on_failure)
		unlink(f->final);
	free(f->final);
	f->final = NULL;
	return r;
}

int stream_verify_input(struct ctl *ctl, struct vfiomig_ctx *vctx, struct stream_file *f,
			struct vfiomig_stream_summary *sum)
{
	struct vfiomig_inspect_ops ops = { .sz = sizeof(ops), .cancel = ctl_cancel() };
	const char *name = f->is_std ? "stdin" : f->path;
	struct stat st;
	off_t start;
	int e;

	*sum = (struct vfiomig_stream_summary){ .sz = sizeof(*sum), .valid = 1 };
	if (fstat(f->fd, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;	/* a pipe, a socket, a device: checked record by record */
	start = lseek(f->fd, 0, SEEK_CUR);
	if (start < 0)
		return 0;
	e = vfiomig_stream_inspect(vctx, f->fd, 0, NULL, &ops, NULL, sum);
	if (e == -ECANCELED) {
		ctl_fail_on(ctl, ECANCELED, name, "cancelled while verifying it, before "
			    "loading: nothing was written");
		return e;
	}
	if (e < 0) {
		ctl_fail_lib(ctl, vctx, name, e);
		return e;
	}
	if (lseek(f->fd, start, SEEK_SET) < 0) {
		e = errno;
		ctl_fail_on(ctl, e, name, "cannot read it again after checking it: %s",
			    strerror(e));
		return -e;
	}
	return sum->valid ? 0 : 1;
}
