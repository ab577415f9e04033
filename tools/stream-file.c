/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where a saved stream goes or comes from. */
#include <errno.h>
#include <fcntl.h>
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

int stream_open_output(struct ctl *ctl, const char *path, struct stream_file *f)
{
	struct stat st;

	*f = (struct stream_file){ .path = path, .fd = STDOUT_FILENO, .is_std = is_std(path) };
	if (f->is_std)
		return ctl->stdout_closed ? ctl_fail(ctl, EBADF, "stdout is closed") : EXIT_OK;
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

int stream_close(struct ctl *ctl, struct stream_file *f, bool failed)
{
	int r = EXIT_OK;

	if (f->is_std || f->fd < 0)
		return EXIT_OK;
	if (close(f->fd) < 0 && !failed)
		r = ctl_fail_on(ctl, errno, f->path, "writing failed: %s", strerror(errno));
	f->fd = -1;
	if ((failed || r != EXIT_OK) && f->remove_on_failure)
		unlink(f->path);
	return r;
}
