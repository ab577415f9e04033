/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Command-line parsing shared by the commands: the options every command
 * accepts, getopt's complaints turned into one-line usage errors, and the
 * values of --precopy, --leave and state names.
 */
#ifndef CTL_ARGS_H
#define CTL_ARGS_H

#include <getopt.h>

#include "ctl.h"

enum {
	OPT_JSON = 0x100,
	OPT_VERSION,
	OPT_PRECOPY,
	OPT_LEAVE,
	OPT_RAW,
	OPT_FORCE,
	OPT_BACKEND,
	OPT_ALLOW_NO_P2P,
	OPT_TO,
	OPT_PROGRESS,
	OPT_DOWNTIME_LIMIT,
	OPT_PRECOPY_TIMEOUT,
	OPT_ON_TIMEOUT,
};

/* Every getopt_long() optstring starts with this: ':' reports a missing argument. */
#define ARGS_COMMON_SHORT ":hvq"
#define ARGS_COMMON_LONG                                          \
	{ "help", no_argument, NULL, 'h' },                       \
	{ "json", no_argument, NULL, OPT_JSON },                  \
	{ "verbose", no_argument, NULL, 'v' },                    \
	{ "quiet", no_argument, NULL, 'q' }

#define ARGS_CONTINUE (-1)

/*
 * Starts option parsing of a command: argv[0] is the command name.  GNU
 * getopt permutes, so options may follow DEVICE ("save A -o f"); "--"
 * ends them.
 */
void args_begin(void);

/* Handles the common options and getopt's errors: ARGS_CONTINUE or an exit status. */
int args_common(struct ctl *ctl, int c, char **argv);

/*
 * Checks the positional arguments left after options: at least @min, at
 * most @max; @names[i] names argument i in "missing DEVICE".  Returns
 * ARGS_CONTINUE or EXIT_USAGE.
 */
int args_positional(struct ctl *ctl, int argc, char **argv, int min, int max,
		    const char *const *names);

/*
 * The @n devices of one group (save, load, each side of migrate): at most
 * VFIOMIG_GROUP_MAX (a device named twice is ctl_open()'s to refuse).
 * Returns ARGS_CONTINUE or EXIT_USAGE.
 */
int args_group(struct ctl *ctl, int n);

/*
 * --precopy[=auto|never|N]: @s NULL means auto, unless the next word of
 * @argv (at optind) is such a value, given without the '='.
 */
int args_precopy(struct ctl *ctl, const char *s, char **argv,
		 enum vfiomig_precopy_mode *ret_mode, unsigned int *ret_rounds);
/* A save's pre-copy policy (save, migrate): --precopy and the downtime target. */
#define ARGS_SAVE_POLICY_LONG                                                   \
	{ "precopy", optional_argument, NULL, OPT_PRECOPY },                    \
	{ "downtime-limit", required_argument, NULL, OPT_DOWNTIME_LIMIT },      \
	{ "precopy-timeout", required_argument, NULL, OPT_PRECOPY_TIMEOUT },    \
	{ "on-timeout", required_argument, NULL, OPT_ON_TIMEOUT }

struct save_policy {
	bool precopy_given, on_timeout_given;
};

static inline bool args_is_save_policy(int c)
{
	return c == OPT_PRECOPY || c == OPT_DOWNTIME_LIMIT || c == OPT_PRECOPY_TIMEOUT ||
	       c == OPT_ON_TIMEOUT;
}

/* One of ARGS_SAVE_POLICY_LONG's options into @o. */
int args_save_policy(struct ctl *ctl, int c, const char *s, char **argv, struct save_policy *p,
		     struct vfiomig_save_opts *o);
/*
 * After parsing: a target or a deadline without --precopy means
 * --precopy=auto; with --precopy=never they are refused, and so is a
 * target with a number of rounds, or --on-timeout without a deadline.
 */
int args_save_policy_check(struct ctl *ctl, const struct save_policy *p,
			   struct vfiomig_save_opts *o);
/* --leave stop|running */
int args_leave(struct ctl *ctl, const char *s, enum vfiomig_leave *ret);
/* --progress auto|always|never (save, load, migrate) */
int args_progress(struct ctl *ctl, const char *s);
/* A state name (vfiomig_state_parse()). */
int args_state(struct ctl *ctl, const char *s, enum vfiomig_state *ret);

/* Prints the help of ctl->cmd (on stdout, through the gathered output). */
void args_help_command(struct ctl *ctl);

#endif
