/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig-ctl: what every command shares.  There are no globals: the parsed
 * global options, the output being gathered and the failure being reported
 * live in one struct ctl that main() passes to the command.
 */
#ifndef CTL_CTL_H
#define CTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <vfiomig/vfiomig.h>

#include "progress.h"

#define PROGRAM "vfiomig-ctl"

/* Exit statuses */
#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2
/* and 128 + N when signal N interrupted the command (vfiomig-ctl.c) */

/* Every device of a command: both groups of a migrate. */
#define CTL_MAX_STATES (2 * VFIOMIG_GROUP_MAX)

struct ctl;
struct json_writer;
struct progress;
struct xfer_member;

struct ctl_cmd {
	const char *name;
	int (*fn)(struct ctl *ctl, int argc, char **argv);
	const char *args;	/* "DEVICE [TARGET]" */
	const char *brief;	/* for the command list of --help */
	const char *summary;	/* for COMMAND --help */
	const char *options;	/* the command's own options, one per line, or NULL */
};

struct ctl {
	/* global options */
	bool json;
	bool quiet;
	int verbose;
	enum progress_mode progress_mode;	/* save, load, migrate: --progress */

	const struct ctl_cmd *cmd;	/* NULL before the command is known */

	/*
	 * Everything meant for stdout is gathered here and written only when
	 * the command has finished, so a failure prints nothing there but its
	 * error (systemd's rule), and --json prints exactly one document.
	 */
	FILE *out;
	char *out_buf;
	size_t out_len;
	struct json_writer *jw;		/* --json: writes into out */
	int out_fd;			/* 1, or 2 when stdout carries a stream */
	bool stdout_closed;		/* fd 1 was not open at start */
	bool print_on_failure;		/* inspect: the output describes the failure */

	/* the failure being reported */
	int err;			/* positive errno */
	char err_msg[1536];
	char err_device[64];		/* the device that failed, "" if none */
	bool err_member_states;		/* err_msg says where every member is */
	bool have_error_offset;
	uint64_t error_offset;
	/* where each device of the command ended up (ctl_note_state()) */
	struct ctl_state {
		char device[64];
		enum vfiomig_state state;
		const char *role;	/* migrate: "source" or "destination" */
		bool again;		/* back where it started, after it had stopped */
	} states[CTL_MAX_STATES];
	int nstates;
	char err_hint[512];		/* what to run to look closer, "" if nothing */
	/*
	 * A group's save, load or migrate: each member's figures, state and
	 * own error, for the summary and for the error's "devices"
	 * (xfer-report.c).  Freed by ctl_output_end().
	 */
	struct xfer_member *members;
	int nmembers;

	/*
	 * Every device the command opened, with a reference, and the spec
	 * that named it (device.c): a second spec of one of them is refused.
	 */
	struct ctl_opened {
		struct vfiomig_dev *dev;
		const char *spec;
	} opened[CTL_MAX_STATES];
	int nopened;

	struct progress *progress;
	/* dirty: its output already says that an interrupt ended it, so no
	 * "interrupted once it had completed" note (vfiomig-ctl.c) */
	bool interrupt_said;
};

/* What an interrupt raises, for the library's cancel option (vfiomig-ctl.c). */
struct vfiomig_cancel *ctl_cancel(void);
/* The signal that interrupted the command (SIGINT, SIGTERM, SIGHUP), or 0. */
int ctl_interrupt_signal(void);
/* "SIGINT", "SIGTERM", "SIGHUP" (async-signal-safe). */
const char *ctl_signal_name(int sig);
/*
 * The temporary file of a save under way, which a second interrupt, the
 * one that kills, removes first (vfiomig-ctl.c); NULL: none any more.
 */
void ctl_set_temporary(const char *path);
/*
 * What a second interrupt, the one that kills, would leave where: while a
 * command moves devices, the line it prints as it kills, "vfiomig-ctl:
 * CMD: killed by a second SIGINT: " and @fmt ("mock:a may be left ...").
 * Device and file names in it go through describe_printable().  NULL: nothing
 * is at stake any more.
 */
__attribute__((format(printf, 2, 3)))
void ctl_set_at_stake(const struct ctl *ctl, const char *fmt, ...);

/* The commands (cmd-*.c). */
int cmd_list(struct ctl *ctl, int argc, char **argv);
int cmd_info(struct ctl *ctl, int argc, char **argv);
int cmd_state(struct ctl *ctl, int argc, char **argv);
int cmd_reset(struct ctl *ctl, int argc, char **argv);
int cmd_save(struct ctl *ctl, int argc, char **argv);
int cmd_load(struct ctl *ctl, int argc, char **argv);
int cmd_migrate(struct ctl *ctl, int argc, char **argv);
int cmd_inspect(struct ctl *ctl, int argc, char **argv);
int cmd_dirty(struct ctl *ctl, int argc, char **argv);
int cmd_conformance(struct ctl *ctl, int argc, char **argv);
int cmd_profile(struct ctl *ctl, int argc, char **argv);
int cmd_check(struct ctl *ctl, int argc, char **argv);

/*
 * output.c: failures and the final output.  Each returns the exit status to
 * return from the command; the message is printed once, at the end:
 *   ctl_fail()     "CMD: MESSAGE"
 *   ctl_fail_on()  "CMD SUBJECT: MESSAGE" (SUBJECT a device or file)
 *   ctl_usage()    "CMD: MESSAGE; see vfiomig-ctl --help", exit status 2
 */
__attribute__((format(printf, 3, 4)))
int ctl_fail(struct ctl *ctl, int err, const char *fmt, ...);
__attribute__((format(printf, 4, 5)))
int ctl_fail_on(struct ctl *ctl, int err, const char *subject, const char *fmt, ...);
__attribute__((format(printf, 2, 3)))
int ctl_usage(struct ctl *ctl, const char *fmt, ...);
/*
 * A library call's failure, taken on the thread that made the call (errors
 * are per thread), to be reported later, maybe from another thread.
 */
struct ctl_lib_error {
	int err;			/* positive errno */
	char message[1024];		/* "" if the library said nothing */
	char device[64];		/* the device that failed, "" if none */
	bool has_state;
	enum vfiomig_state state;	/* where that device ended up */
	bool has_offset;
	uint64_t offset;		/* where in the stream */
	bool first_data_rejected;	/* a load's device refused the stream's first data */
	bool bad_spec;			/* the device spec was malformed: a usage error */
	bool device_first;		/* the message begins with @device's name */
	bool member_states;		/* the message lists every group member's state */
};
void ctl_lib_error_take(struct vfiomig_ctx *vctx, int r, struct ctl_lib_error *e);
/* Reports @e about @subject (the spec the user typed); keeps its facts for
 * --json (error.offset, error.states). */
int ctl_fail_lib_error(struct ctl *ctl, const char *subject, const struct ctl_lib_error *e);
/* Both, for a call made on this thread. */
int ctl_fail_lib(struct ctl *ctl, struct vfiomig_ctx *vctx, const char *subject, int r);
/* Records where @device ended up, for the error's "states". */
void ctl_note_state(struct ctl *ctl, const char *device, enum vfiomig_state state);
/* migrate: @device (noted already) is the @role ("source", "destination"),
 * @again: back in the state it started in, after it had stopped.  The
 * error line names the sources, then the destinations, in this call's
 * order. */
void ctl_note_role(struct ctl *ctl, const char *device, const char *role, bool again);
/* "mock:a", "mock:a and mock:b", "mock:a, mock:b and mock:c", each printable. */
const char *ctl_join_names(char *buf, size_t size, char *const *names, int n);
/* @s as one word for a shell: as it is, in single quotes, or with control
 * characters as $'a\nb'. */
const char *ctl_shell_word(char *buf, size_t size, const char *s);
/* Adds "; MESSAGE" to the failure being reported. */
__attribute__((format(printf, 2, 3)))
void ctl_fail_append(struct ctl *ctl, const char *fmt, ...);
/* Ends the error with what to run to look closer ("to compare them, run ..."). */
__attribute__((format(printf, 2, 3)))
void ctl_fail_hint(struct ctl *ctl, const char *fmt, ...);
__attribute__((format(printf, 2, 3)))
void ctl_printf(struct ctl *ctl, const char *fmt, ...);
/* --json: the member "text", what @write_text prints (a help's text). */
void ctl_json_text(struct ctl *ctl, void (*write_text)(FILE *f, const void *arg), const void *arg);
void ctl_guard_std_fds(struct ctl *ctl);
int ctl_output_begin(struct ctl *ctl);
/* Writes the output or the error; returns the process exit status. */
int ctl_output_end(struct ctl *ctl, int status);
/* Prints a message on stderr, clearing the progress line first. */
__attribute__((format(printf, 2, 3)))
void ctl_message(struct ctl *ctl, const char *fmt, ...);

/* log.c: the library's log messages, on stderr */
int ctl_context_new(struct ctl *ctl, struct vfiomig_ctx **ret);

/* device.c */
/* Reports a failed open of @spec: a spec that cannot be parsed is a usage error. */
int ctl_fail_open(struct ctl *ctl, struct vfiomig_ctx *vctx, const char *spec, int r);
/*
 * Opens @spec.  A device the command already opened, under whatever spec
 * (vfiomig_dev_is_same()), is a usage error: one command moves a device
 * once.  The command's devices stay open until ctl_forget_devices().
 */
int ctl_open(struct ctl *ctl, struct vfiomig_ctx *vctx, const char *spec,
	     struct vfiomig_dev **ret);
/* Drops the references ctl_open() keeps: the devices close with their last. */
void ctl_forget_devices(struct ctl *ctl);
/* Opens @specs[0..n) as a new group, in that order (@flags as for vfiomig_group_new()). */
int ctl_open_group(struct ctl *ctl, struct vfiomig_ctx *vctx, char *const *specs, int n,
		   unsigned int flags, struct vfiomig_group **ret);
/*
 * The devices of a command (each side of a migrate): one device, or a
 * group of several, in a context of their own.
 */
struct ctl_devices {
	struct vfiomig_ctx *vctx;
	struct vfiomig_dev *dev;	/* one device */
	struct vfiomig_group *group;	/* several */
};
/*
 * Opens a context and in it @specs[0], or, when @n > 1, the group of
 * @specs[0..n) (@group_flags as for vfiomig_group_new()).  What it opened
 * is the caller's to close, whatever it returns.
 */
int ctl_open_devices(struct ctl *ctl, char *const *specs, int n, unsigned int group_flags,
		     struct ctl_devices *d);
void ctl_close_devices(struct ctl_devices *d);
/* Device @i of @d: its one device, or its group's member @i. */
struct vfiomig_dev *ctl_member(const struct ctl_devices *d, int i);
/* The spec in @specs[0..n) that named @d's device called @name, or NULL. */
const char *ctl_spec_of(const struct ctl_devices *d, char *const *specs, int n,
			const char *name);

#endif
