/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Command-line parsing shared by the commands. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "args.h"
#include "json-writer.h"

void args_begin(void)
{
	optind = 0;	/* GNU: start over, re-reading the optstring */
	opterr = 0;	/* errors come back as '?' and ':' and are reported here */
}

/* "--name=value" -> "--name" */
static const char *option_text(char *buf, size_t size, const char *arg)
{
	size_t n = strcspn(arg, "=");

	snprintf(buf, size, "%.*s", (int)(n < size ? n : size - 1), arg);
	return buf;
}

static int getopt_error(struct ctl *ctl, int c, char **argv)
{
	const char *last = optind > 0 ? argv[optind - 1] : "";
	char opt[64];

	if (c == ':') {
		if (strncmp(last, "--", 2) == 0)
			return ctl_usage(ctl, "option '%s' needs a value",
					 option_text(opt, sizeof(opt), last));
		return ctl_usage(ctl, "option '-%c' needs a value", optopt);
	}
	if (strncmp(last, "--", 2) == 0 && optopt != 0)
		return ctl_usage(ctl, "option '%s' takes no value",
				 option_text(opt, sizeof(opt), last));
	if (strncmp(last, "--", 2) == 0 || optopt == 0)
		return ctl_usage(ctl, "unknown option '%s'", option_text(opt, sizeof(opt), last));
	return ctl_usage(ctl, "unknown option '-%c'", optopt);
}

int args_common(struct ctl *ctl, int c, char **argv)
{
	switch (c) {
	case 'h':
		args_help_command(ctl);
		return EXIT_OK;
	case OPT_JSON:
		ctl->json = true;
		return ARGS_CONTINUE;
	case 'v':
		ctl->verbose++;
		return ARGS_CONTINUE;
	case 'q':
		ctl->quiet = true;
		return ARGS_CONTINUE;
	default:
		return getopt_error(ctl, c, argv);
	}
}

int args_positional(struct ctl *ctl, int argc, char **argv, int min, int max,
		    const char *const *names)
{
	int n = argc - optind;

	if (n < min)
		return ctl_usage(ctl, "missing %s", names[n]);
	if (n > max)
		return ctl_usage(ctl, "unexpected argument '%s'", argv[optind + max]);
	return ARGS_CONTINUE;
}

int args_group(struct ctl *ctl, int n)
{
	if (n > VFIOMIG_GROUP_MAX)
		return ctl_usage(ctl, "%d devices given, but a group takes at most %d", n,
				 VFIOMIG_GROUP_MAX);
	return ARGS_CONTINUE;
}

/* A word that can only be a value of --precopy: no device is named so. */
static bool is_precopy_value(const char *w)
{
	return w && (strcasecmp(w, "auto") == 0 || strcasecmp(w, "never") == 0 ||
		     (*w && strspn(w, "0123456789") == strlen(w)));
}

int args_precopy(struct ctl *ctl, const char *s, char **argv,
		 enum vfiomig_precopy_mode *ret_mode, unsigned int *ret_rounds)
{
	unsigned long n;
	char *end;

	*ret_rounds = 0;
	/* getopt takes an optional value only after '=': "--precopy 4" would
	 * make "4" a device */
	if (!s && is_precopy_value(argv[optind]))
		return ctl_usage(ctl, "--precopy takes its value after '=': write --precopy=%s",
				 argv[optind]);
	if (!s || strcasecmp(s, "auto") == 0) {
		*ret_mode = VFIOMIG_PRECOPY_MODE_AUTO;
		return ARGS_CONTINUE;
	}
	if (strcasecmp(s, "never") == 0) {
		*ret_mode = VFIOMIG_PRECOPY_MODE_NEVER;
		return ARGS_CONTINUE;
	}
	errno = 0;
	n = strtoul(s, &end, 10);
	if (s[0] < '1' || s[0] > '9' || *end || errno || n > 1000000)
		return ctl_usage(ctl, "--precopy=%s: expected auto, never or a number of rounds "
				 "from 1 to 1000000", s);
	*ret_mode = VFIOMIG_PRECOPY_MODE_ROUNDS;
	*ret_rounds = (unsigned int)n;
	return ARGS_CONTINUE;
}

/*
 * A duration with its unit (300ms, 30s, 1.5s, 500us, 2m), more than 0 and
 * at most a day: 0 for one that is none.
 */
static uint64_t parse_duration(const char *s)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = { { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 }, { "m", 60e9 } };
	char *end;
	double v;

	if (!s || !((*s >= '0' && *s <= '9') || *s == '.'))
		return 0;
	errno = 0;
	v = strtod(s, &end);
	for (size_t i = 0; !errno && i < sizeof(units) / sizeof(units[0]); i++) {
		double ns = v * units[i].ns;

		if (strcmp(end, units[i].unit) == 0)
			return ns >= 1 && ns <= 86400e9 ? (uint64_t)ns : 0;
	}
	return 0;
}

static int duration_option(struct ctl *ctl, const char *option, const char *s, uint64_t *ret)
{
	*ret = parse_duration(s);
	if (!*ret)
		return ctl_usage(ctl, "%s %s: expected a duration with its unit, us, ms, s or m, "
				 "more than 0 and at most a day (e.g. 300ms, 30s)", option, s);
	return ARGS_CONTINUE;
}

int args_save_policy(struct ctl *ctl, int c, const char *s, char **argv, struct save_policy *p,
		     struct vfiomig_save_opts *o)
{
	switch (c) {
	case OPT_PRECOPY:
		p->precopy_given = true;
		return args_precopy(ctl, s, argv, &o->precopy, &o->precopy_rounds);
	case OPT_DOWNTIME_LIMIT:
		return duration_option(ctl, "--downtime-limit", s, &o->downtime_limit_ns);
	case OPT_PRECOPY_TIMEOUT:
		return duration_option(ctl, "--precopy-timeout", s, &o->precopy_timeout_ns);
	default:
		p->on_timeout_given = true;
		if (strcasecmp(s, "switch") == 0)
			o->on_timeout = VFIOMIG_ON_TIMEOUT_SWITCH;
		else if (strcasecmp(s, "abort") == 0)
			o->on_timeout = VFIOMIG_ON_TIMEOUT_ABORT;
		else
			return ctl_usage(ctl, "--on-timeout %s: expected switch (switch over when "
					 "the deadline passes) or abort (give up, the source "
					 "running)", s);
		return ARGS_CONTINUE;
	}
}

int args_save_policy_check(struct ctl *ctl, const struct save_policy *p,
			   struct vfiomig_save_opts *o)
{
	bool timed = o->downtime_limit_ns || o->precopy_timeout_ns;

	if (p->on_timeout_given && !o->precopy_timeout_ns)
		return ctl_usage(ctl, "--on-timeout says what happens at the pre-copy deadline: "
				 "give the deadline too, with --precopy-timeout");
	if (timed && p->precopy_given && o->precopy == VFIOMIG_PRECOPY_MODE_NEVER)
		return ctl_usage(ctl, "--%s needs pre-copy, which --precopy=never turns off: "
				 "drop one of them", o->downtime_limit_ns ? "downtime-limit" :
				 "precopy-timeout");
	if (o->downtime_limit_ns && o->precopy == VFIOMIG_PRECOPY_MODE_ROUNDS)
		return ctl_usage(ctl, "--downtime-limit decides when pre-copy ends, and so does "
				 "--precopy=%u: give one of them", o->precopy_rounds);
	if (timed && !p->precopy_given)
		o->precopy = VFIOMIG_PRECOPY_MODE_AUTO;
	return ARGS_CONTINUE;
}

int args_leave(struct ctl *ctl, const char *s, enum vfiomig_leave *ret)
{
	if (strcasecmp(s, "stop") == 0)
		*ret = VFIOMIG_LEAVE_STOP;
	else if (strcasecmp(s, "running") == 0)
		*ret = VFIOMIG_LEAVE_RUNNING;
	else
		return ctl_usage(ctl, "--leave %s: expected stop or running", s);
	return ARGS_CONTINUE;
}

int args_progress(struct ctl *ctl, const char *s)
{
	if (strcasecmp(s, "auto") == 0)
		ctl->progress_mode = PROGRESS_AUTO;
	else if (strcasecmp(s, "always") == 0)
		ctl->progress_mode = PROGRESS_ALWAYS;
	else if (strcasecmp(s, "never") == 0)
		ctl->progress_mode = PROGRESS_NEVER;
	else
		return ctl_usage(ctl, "--progress %s: expected auto, always or never", s);
	return ARGS_CONTINUE;
}

int args_state(struct ctl *ctl, const char *s, enum vfiomig_state *ret)
{
	if (vfiomig_state_parse(s, ret) < 0)
		return ctl_usage(ctl, "'%s' is not a state: expected RUNNING, STOP, RUNNING_P2P, "
				 "STOP_COPY, RESUMING, PRE_COPY or PRE_COPY_P2P", s);
	return ARGS_CONTINUE;
}

static void usage_line(char *buf, size_t size, const struct ctl_cmd *c)
{
	snprintf(buf, size, "%s [OPTIONS] %s%s%s", PROGRAM, c->name, *c->args ? " " : "", c->args);
}

static void help_text(FILE *f, const void *arg)
{
	const struct ctl_cmd *c = arg;
	char usage[512];

	usage_line(usage, sizeof(usage), c);
	fprintf(f, "Usage: %s\n\n%s\n", usage, c->summary);
	if (c->options)
		fprintf(f, "\nOptions:\n%s", c->options);
	fprintf(f, "\nCommon options (before or after the command):\n"
		"      --json       print one JSON document on stdout\n"
		"  -v, --verbose    more messages on stderr (-vv: debugging)\n"
		"  -q, --quiet      no progress line, no warnings\n"
		"  -h, --help       this help\n"
		"\nSee " PROGRAM "(1) for more.\n");
}

void args_help_command(struct ctl *ctl)
{
	const struct ctl_cmd *c = ctl->cmd;
	struct json_writer *w = ctl->jw;
	char usage[512];

	if (!ctl->json) {
		help_text(ctl->out, c);
		return;
	}
	usage_line(usage, sizeof(usage), c);
	json_object_begin(w);
	json_member_string(w, "command", c->name);
	json_member_string(w, "usage", usage);
	json_member_string(w, "summary", c->summary);
	json_member_string(w, "options", c->options);
	ctl_json_text(ctl, help_text, c);
	json_object_end(w);
}
