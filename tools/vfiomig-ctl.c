/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig-ctl: drive VFIO devices through migration from the shell.
 *
 *   vfiomig-ctl [--json] [-v|--verbose] [-q|--quiet] COMMAND [ARGS]
 *
 * main() parses the global options (up to the command: "+"), picks the
 * command from the table and lets it parse its own; output.c prints what
 * the command gathered, or its one-line error.  Exit status: 0 success,
 * 1 failure, 2 usage error, 128 + N when signal N interrupted it.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "json-writer.h"
#include "progress.h"

#ifndef CTL_VERSION
#define CTL_VERSION "unknown"
#endif

static int cmd_help(struct ctl *ctl, int argc, char **argv);

static const struct ctl_cmd commands[] = {
	{
		.name = "list", .fn = cmd_list, .args = "",
		.brief = "VFIO devices on this host, their driver and migration flags",
		.summary = "List the VFIO devices on this host, their driver, state and\n"
			   "migration flags.  Each device is opened to read its flags.",
	}, {
		.name = "info", .fn = cmd_info, .args = "DEVICE",
		.brief = "identity, driver, backend, migration flags, state, sizes",
		.summary = "Show the device's identity, driver, backend, migration flags, state,\n"
			   "stop-copy size and dirty tracking.",
	}, {
		.name = "state", .fn = cmd_state, .args = "DEVICE [DEVICE...] [TARGET]",
		.brief = "print the state, or move to TARGET and print the path",
		.summary = "Print the device's state, or move it to TARGET and print the path\n"
			   "taken.  Several devices move to TARGET as one group, in two phases:\n"
			   "every device reaches a P2P state before any stops or runs.",
		.options = "      --allow-no-p2p     let a device without P2P states join a group\n"
			   "                         (it may stop while a peer can still write to it)\n",
	}, {
		.name = "reset", .fn = cmd_reset, .args = "DEVICE",
		.brief = "VFIO_DEVICE_RESET, then print the state",
		.summary = "Reset the device (VFIO_DEVICE_RESET), then print its state.",
	}, {
		.name = "save", .fn = cmd_save,
		.args = "DEVICE [DEVICE...] [-o FILE|-] [--precopy[=auto|never|N]] [--downtime-limit T] "
			"[--precopy-timeout T [--on-timeout switch|abort]] [--leave stop|running] [--raw]",
		.brief = "save the device state (or a group's) into a stream",
		.summary = "Save the device's migration state into FILE, or stdout.  The device is\n"
			   "left in STOP once the stream is complete, and back in the state it\n"
			   "started in if anything fails.  Several devices are saved as one group\n"
			   "into one stream: they stop together, and if any fails, every one goes\n"
			   "back to where it started.",
		.options = "  -o, --output FILE      write the stream to FILE (mode 0600); '-' or none: stdout\n"
			   "      --precopy[=MODE]   pre-copy while the device runs: auto (the default\n"
			   "                         for a bare --precopy), never, or N rounds\n"
			   "      --downtime-limit T switch over once the estimated downtime is at\n"
			   "                         most T (300ms, 1s); implies --precopy=auto\n"
			   "      --precopy-timeout T  end pre-copy T after it began, as --on-timeout says\n"
			   "      --on-timeout WHAT  at the deadline: switch (default) over anyway, or\n"
			   "                         abort the save, the device running on\n"
			   "      --leave STATE      stop (default) or running, once saved\n"
			   "      --raw              the device's bare bytes, without the vfiomig container\n"
			   "                         (one device only)\n"
			   "      --allow-no-p2p     let a device without P2P states join a group\n"
			   "      --progress WHEN    the progress line: auto (default: on a terminal\n"
			   "                         no other vfiomig-ctl draws on), always or never\n",
	}, {
		.name = "load", .fn = cmd_load,
		.args = "DEVICE [DEVICE...] [-i FILE|-] [--leave running|stop] [--force] [--raw]",
		.brief = "load a saved stream into the device (or a group)",
		.summary = "Load a saved state from FILE, or stdin, into the device and start it.\n"
			   "Several devices load one stream of a group: each takes the stream's\n"
			   "device of its kind, in order, and none runs before every one is loaded.",
		.options = "  -i, --input FILE       read the stream from FILE; '-' or none: stdin\n"
			   "      --leave STATE      running (default) or stop, once loaded\n"
			   "      --force            load a stream saved from another kind of device\n"
			   "                         (a group: match the stream's devices by position)\n"
			   "      --raw              the device's bare bytes, without the vfiomig container\n"
			   "                         (one device only)\n"
			   "      --allow-no-p2p     let a device without P2P states join a group\n"
			   "      --progress WHEN    as for save\n",
	}, {
		.name = "migrate", .fn = cmd_migrate,
		.args = "SRC DST | SRC... --to DST... [--precopy[=auto|never|N]] [--downtime-limit T] "
			"[--precopy-timeout T [--on-timeout switch|abort]] [--force]",
		.brief = "save SRC straight into DST (devices or groups on this host)",
		.summary = "Save SRC straight into DST (two devices on this host).  SRC is left in\n"
			   "STOP and DST RUNNING; if DST fails, SRC goes back to where it started.\n"
			   "With --to, the devices before it are saved as one group into the group\n"
			   "of those after it, one destination for each source.",
		.options = "      --to DST...        the destinations of a group follow (one per SRC)\n"
			   "      --precopy[=MODE]   as for save\n"
			   "      --downtime-limit T as for save\n"
			   "      --precopy-timeout T  as for save\n"
			   "      --on-timeout WHAT  as for save\n"
			   "      --force            load into DST even if its identity differs\n"
			   "      --allow-no-p2p     let a device without P2P states join a group\n"
			   "      --progress WHEN    as for save\n",
	}, {
		.name = "profile", .fn = cmd_profile, .args = "DEVICE [DEVICE...]",
		.brief = "what decides whether the device's state loads elsewhere (JSON)",
		.summary = "Print the device's profile: identity, driver and its version, mdev type,\n"
			   "backend, migration flags, DMA logging, state size and, for mlx5, the\n"
			   "firmware's migration capabilities.  It is JSON with or without --json,\n"
			   "for 'check --against' on the source host.  Several devices (a group)\n"
			   "give an array, in the order given.  See docs/compatibility.md.",
	}, {
		.name = "check", .fn = cmd_check, .args = "SRC [SRC...] --against FILE|-",
		.brief = "whether SRC's state loads into the device a profile describes",
		.summary = "Compare SRC's profile with the destination's (the output of 'profile'\n"
			   "there) field by field: same, compatible (differs, the state still loads)\n"
			   "or incompatible, each with its reason and the rule's source.  Several\n"
			   "SRCs (a group) are matched with the profiles of a JSON array as a group\n"
			   "load matches them.  Exit status 0 if the state would load, 1 if not\n"
			   "(the reasons on stderr), 2 for a usage error.",
		.options = "      --against FILE     the destination's profile; '-': standard input\n",
	}, {
		.name = "inspect", .fn = cmd_inspect,
		.args = "[--raw [--backend generic|mlx5|xe|mock]] [FILE|-]",
		.brief = "verify a saved stream and describe it",
		.summary = "Verify a saved stream and describe it: identity, records, phases and\n"
			   "checks.  Exit status 1 if the stream is not valid.",
		.options = "      --raw              FILE is a bare device stream (save --raw)\n"
			   "      --backend NAME     the vendor format of a raw stream: generic (default),\n"
			   "                         mlx5, xe or mock\n",
	}, {
		.name = "dirty", .fn = cmd_dirty,
		.args = "DEVICE start RANGES [--page-size N] [--report IOVA:LEN]... [--interval S] "
			"[--count N] [--pages]",
		.brief = "track the pages a device writes by DMA, and report them in rounds",
		.summary = "Start dirty-page tracking on the device (its DMA logging) over RANGES,\n"
			   "IOVA:LEN[,IOVA:LEN...] (decimal or 0x-hex, with an optional K, M, G or T\n"
			   "suffix), print what is tracked, then every S seconds the dirty pages of\n"
			   "each range, for N rounds or until Ctrl-C, and stop.  The session ends\n"
			   "with this process (closing the device ends it): this is for diagnosis\n"
			   "and demonstration; a VMM tracks through the library (vfiomig/dirty.h).",
		.options = "      --page-size N      the page size to ask for (default: the host's);\n"
			   "                         the driver may choose another, which is shown\n"
			   "      --report IOVA:LEN  report this range (repeatable, or a comma list);\n"
			   "                         default: every tracked range\n"
			   "      --interval S       seconds between rounds (default 1; 0.2 is fine)\n"
			   "      --count N          stop after N rounds (default: at Ctrl-C or SIGTERM)\n"
			   "      --pages            list the dirty pages' addresses too\n",
	}, {
		.name = "conformance", .fn = cmd_conformance,
		.args = "DEVICE [--twin DEVICE2] [--only AREA]... | --list",
		.brief = "check that a device's driver follows the migration protocol",
		.summary = "Run the protocol conformance checks on DEVICE and report each one: pass,\n"
			   "fail (the documentation says otherwise), deviation (allowed, but not what\n"
			   "user space expects) or skipped, with the rule and its source.  DESTRUCTIVE:\n"
			   "it resets DEVICE (and the twin), moves it through every state and reopens\n"
			   "it; it refuses a device another process holds.  Exit status 1 if a check\n"
			   "failed.  For driver authors and QE: see docs/conformance.md.",
		.options = "      --twin DEVICE2     a second device of the same kind: load what DEVICE\n"
			   "                         saved, truncated and corrupt streams, P2P arcs\n"
			   "      --only AREA        run only this area (repeatable, or a comma list):\n"
			   "                         features, arcs, data, reset, twin, robustness\n"
			   "      --list             print the checks, their rules and sources, and exit\n",
	}, {
		.name = "help", .fn = cmd_help, .args = "[COMMAND]",
		.brief = "this help, or a command's (as COMMAND --help)",
		.summary = "Print this program's help, or with COMMAND, that command's: the same\n"
			   "text as '" PROGRAM " --help' and '" PROGRAM " COMMAND --help'.",
	},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

#define USAGE PROGRAM " [--json] [-v|--verbose] [-q|--quiet] COMMAND [ARGS]"

static void help_text(FILE *f, const void *unused)
{
	(void)unused;
	fprintf(f, "Usage: " USAGE "\n\n"
		"Drive VFIO devices through the kernel's migration protocol v2.\n\n"
		"Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].brief);
	fprintf(f, "\nDEVICE: a PCI address (0000:3b:00.1), an mdev UUID, a VFIO cdev\n"
		"(/dev/vfio/devices/vfio3), a sysfs path, or mock:NAME[,key=value...].\n"
		"State names: RUNNING, STOP, RUNNING_P2P, STOP_COPY, RESUMING, PRE_COPY,\n"
		"PRE_COPY_P2P, ERROR (any case, '-' for '_').\n\n"
		"Options:\n"
		"      --json       print one JSON document: on stdout; on stderr for a\n"
		"                   usage error, and when stdout is the stream (save -o -)\n"
		"  -v, --verbose    more messages on stderr (-vv: debugging)\n"
		"  -q, --quiet      no progress line, no warnings\n"
		"  -h, --help       this help\n"
		"      --version    the version\n\n"
		"Exit status: 0 success, 1 failure, 2 usage error, 128 + N interrupted by\n"
		"signal N (130 SIGINT, 143 SIGTERM).\n"
		"'%s help COMMAND' shows a command's arguments; see %s(1).\n",
		PROGRAM, PROGRAM);
}

/* The help: its text, or with --json, the commands and the same text. */
static void help(struct ctl *ctl)
{
	struct json_writer *w = ctl->jw;

	if (!ctl->json) {
		help_text(ctl->out, NULL);
		return;
	}
	json_object_begin(w);
	json_member_string(w, "program", PROGRAM);
	json_member_string(w, "version", CTL_VERSION);
	json_member_string(w, "usage", USAGE);
	json_name(w, "commands");
	json_array_begin(w);
	for (size_t i = 0; i < N_COMMANDS; i++) {
		json_object_begin(w);
		json_member_string(w, "name", commands[i].name);
		json_member_string(w, "arguments", commands[i].args);
		json_member_string(w, "brief", commands[i].brief);
		json_object_end(w);
	}
	json_array_end(w);
	ctl_json_text(ctl, help_text, NULL);
	json_object_end(w);
}

static void version(struct ctl *ctl)
{
	if (!ctl->json) {
		ctl_printf(ctl, "%s %s\n", PROGRAM, CTL_VERSION);
		return;
	}
	json_object_begin(ctl->jw);
	json_member_string(ctl->jw, "program", PROGRAM);
	json_member_string(ctl->jw, "version", CTL_VERSION);
	json_object_end(ctl->jw);
}

static const struct ctl_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* vfiomig-ctl help [COMMAND]: the text of --help, or of COMMAND --help. */
static int cmd_help(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		ARGS_COMMON_LONG,
		{ 0 }
	};
	static const char *const names[] = { "COMMAND" };
	const struct ctl_cmd *cmd;
	int c, r = ARGS_CONTINUE;

	args_begin();
	while (r == ARGS_CONTINUE &&
	       (c = getopt_long(argc, argv, ARGS_COMMON_SHORT, opts, NULL)) >= 0)
		r = args_common(ctl, c, argv);
	if (r == ARGS_CONTINUE)
		r = args_positional(ctl, argc, argv, 0, 1, names);
	if (r != ARGS_CONTINUE)
		return r;
	if (optind == argc) {
		help(ctl);
		return EXIT_OK;
	}
	cmd = find_command(argv[optind]);
	if (!cmd)
		return ctl_usage(ctl, "unknown command '%s'", argv[optind]);
	ctl->cmd = cmd;
	args_help_command(ctl);
	return EXIT_OK;
}

/* Errors in JSON from the first word, if --json is anywhere before "--". */
static bool wants_json(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			return true;
	return false;
}

/* Returns ARGS_CONTINUE with optind at the command, or an exit status. */
static int parse_global(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		ARGS_COMMON_LONG,
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 }
	};
	int c, r;

	args_begin();
	while ((c = getopt_long(argc, argv, "+" ARGS_COMMON_SHORT, opts, NULL)) >= 0) {
		if (c == 'h') {
			help(ctl);
			return EXIT_OK;
		}
		if (c == OPT_VERSION) {
			version(ctl);
			return EXIT_OK;
		}
		if ((r = args_common(ctl, c, argv)) != ARGS_CONTINUE)
			return r;
	}
	if (optind >= argc)
		return ctl_usage(ctl, "no command given");
	return ARGS_CONTINUE;
}

static int run(struct ctl *ctl, int argc, char **argv)
{
	int r = parse_global(ctl, argc, argv);

	if (r != ARGS_CONTINUE)
		return r;
	ctl->cmd = find_command(argv[optind]);
	if (!ctl->cmd)
		return ctl_usage(ctl, "unknown command '%s'", argv[optind]);
	/* Every command prints: with nowhere to, it would move a device and
	 * then have only an error to show for it. */
	if (ctl->stdout_closed)
		return ctl_fail(ctl, EBADF, "stdout is closed, so what the command prints would be "
				"lost; nothing was done: run it with stdout open (>/dev/null to "
				"discard what it prints)");
	return ctl->cmd->fn(ctl, argc - optind, argv + optind);
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Raised by the first SIGINT, SIGTERM or SIGHUP; signal handlers need a global. */
static struct vfiomig_cancel *interrupted;
/* That first signal: the exit status is 128 + it (interrupted_status()). */
static volatile sig_atomic_t interrupt_signal;

/* A save's temporary file, for the handler to remove (ctl_set_temporary()). */
static char temporary[PATH_MAX];
static volatile sig_atomic_t have_temporary;

/* What the devices would be left in (ctl_set_at_stake()): the line the
 * killing signal prints, around the signal's name. */
static char stake_head[128], stake_tail[1024];
static volatile sig_atomic_t have_stake;

const char *ctl_signal_name(int sig)
{
	switch (sig) {
	case SIGINT:
		return "SIGINT";
	case SIGTERM:
		return "SIGTERM";
	case SIGHUP:
		return "SIGHUP";
	default:
		return "a signal";
	}
}

/* Appends @s at @n of @buf (async-signal-safe, unlike the str*() family). */
static size_t put(char *buf, size_t size, size_t n, const char *s)
{
	while (*s && n < size)
		buf[n++] = *s++;
	return n;
}

/* "vfiomig-ctl: save: killed by a second SIGINT: mock:a may be ...", in one write. */
static void say_stake(int sig)
{
	char line[sizeof(stake_head) + 16 + sizeof(stake_tail)];
	size_t n = put(line, sizeof(line), 0, stake_head);

	n = put(line, sizeof(line), n, ctl_signal_name(sig));
	n = put(line, sizeof(line), n, stake_tail);
	while (write(STDERR_FILENO, line, n) < 0 && errno == EINTR)
		;
}

/*
 * The first interrupt asks the library to stop and put the devices back
 * (a source keeps running); a second one, of any of these signals, kills
 * by that signal, as usual, once it has removed a save's temporary file
 * and said what the devices may be left in.
 */
static void on_interrupt(int sig)
{
	int saved = errno;

	if (vfiomig_cancel_is_raised(interrupted) != 1) {
		interrupt_signal = sig;
		vfiomig_cancel_raise(interrupted);	/* async-signal-safe */
		errno = saved;
		return;
	}
	if (have_temporary)
		unlink(temporary);
	if (have_stake)
		say_stake(sig);
	signal(sig, SIG_DFL);
	raise(sig);	/* delivered when this handler returns */
	errno = saved;
}

struct vfiomig_cancel *ctl_cancel(void)
{
	return interrupted;
}

int ctl_interrupt_signal(void)
{
	return interrupt_signal;
}

void ctl_set_temporary(const char *path)
{
	have_temporary = 0;
	if (path && strlen(path) < sizeof(temporary)) {
		memcpy(temporary, path, strlen(path) + 1);
		have_temporary = 1;
	}
}

void ctl_set_at_stake(const struct ctl *ctl, const char *fmt, ...)
{
	bool drawn;
	size_t n;
	va_list ap;

	have_stake = 0;
	atomic_signal_fence(memory_order_seq_cst);	/* no handler reads it half written */
	if (!fmt)
		return;
	/* a progress line may be on the row: start below it */
	drawn = ctl->progress && progress_enabled(ctl->progress) && isatty(STDERR_FILENO);
	snprintf(stake_head, sizeof(stake_head), "%s%s: %s: killed by a second ",
		 drawn ? "\n" : "", PROGRAM, ctl->cmd->name);
	n = (size_t)snprintf(stake_tail, sizeof(stake_tail) - 1, ": ");
	va_start(ap, fmt);
	vsnprintf(stake_tail + n, sizeof(stake_tail) - 1 - n, fmt, ap);
	va_end(ap);
	strcat(stake_tail, "\n");	/* the room was kept */
	atomic_signal_fence(memory_order_seq_cst);
	have_stake = 1;
}

static const int interrupt_signals[] = { SIGINT, SIGTERM, SIGHUP };

static void catch_interrupts(void)
{
	struct sigaction sa = { .sa_handler = on_interrupt };

	sigemptyset(&sa.sa_mask);	/* one handler at a time */
	for (size_t i = 0; i < ARRAY_SIZE(interrupt_signals); i++)
		sigaddset(&sa.sa_mask, interrupt_signals[i]);
	for (size_t i = 0; i < ARRAY_SIZE(interrupt_signals); i++)
		sigaction(interrupt_signals[i], &sa, NULL);
}

/*
 * An interrupted command exits 128 + the signal (130 for SIGINT, 143 for
 * SIGTERM), as a shell reports a command that the signal killed, so that
 * a script stops, whatever the command still managed.  A command that
 * failed (a save, load, migrate or inspect that the interrupt cancelled)
 * has said why and where the devices are now.  One that completed anyway
 * (the move of a state, which is not cancelled halfway) has printed its
 * output, which says where they are, and is told apart here.  One whose
 * normal end is an interrupt (dirty, without --count) says so itself.
 */
static int interrupted_status(const struct ctl *ctl, int status)
{
	int sig = interrupt_signal;

	if (!sig)
		return status;
	if (status == EXIT_OK && !ctl->interrupt_said)
		fprintf(stderr, "%s: %s%sinterrupted by %s once it had completed\n", PROGRAM,
			ctl->cmd ? ctl->cmd->name : "", ctl->cmd ? ": " : "", ctl_signal_name(sig));
	return 128 + sig;
}

int main(int argc, char **argv)
{
	struct ctl ctl = { .json = wants_json(argc, argv) };
	int r;

	/* A reader that goes away is an error to report (EPIPE), not a death. */
	signal(SIGPIPE, SIG_IGN);
	/* First: the eventfd below must not become fd 0, 1 or 2. */
	ctl_guard_std_fds(&ctl);
	/* Without it (no fds left) an interrupt kills at once, as by default. */
	if (vfiomig_cancel_new(&interrupted) == 0)
		catch_interrupts();
	if (ctl_output_begin(&ctl) < 0) {
		fprintf(stderr, "%s: out of memory\n", PROGRAM);
		return EXIT_FAIL;
	}
	r = run(&ctl, argc, argv);
	ctl_forget_devices(&ctl);
	r = ctl_output_end(&ctl, r);
	progress_free(ctl.progress);
	/* No handler may raise it once it is gone. */
	for (size_t i = 0; i < ARRAY_SIZE(interrupt_signals); i++)
		signal(interrupt_signals[i], SIG_DFL);
	interrupted = vfiomig_cancel_unref(interrupted);
	return interrupted_status(&ctl, r);
}
