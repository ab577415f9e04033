/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig-ctl migrate SRC DST [--precopy[=auto|never|N]] [--downtime-limit T]
 * [--precopy-timeout T] [--on-timeout switch|abort] [--force]: save
 * SRC straight into DST through a pipe, the save on a second thread.
 * vfiomig-ctl migrate SRC... --to DST... does the same for a group: one
 * stream of the sources' group (vfiomig_group_save()) into the
 * destinations' group (vfiomig_group_load()).  Each side has a context of
 * its own, since a context and its devices are used from one thread at a
 * time.  If the destination fails after the source has stopped, the
 * source is moved back to the state it started in.
 */
#define _GNU_SOURCE	/* pipe2(), F_SETPIPE_SZ */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "progress.h"
#include "put-back.h"
#include "util.h"
#include "xfer-report.h"

struct side {
	char *specs[VFIOMIG_GROUP_MAX];
	int n;			/* how many were given; more than fit are counted */
	struct ctl_devices d;
	struct vfiomig_stats stats;
	enum vfiomig_state start[VFIOMIG_GROUP_MAX];
	int fd;		/* the pipe end this side uses */
	int r;		/* the library's result */
	struct ctl_lib_error error;	/* taken on the side's own thread */
};

struct migrate {
	struct ctl *ctl;
	struct side src, dst;
	bool to;	/* --to was given: the destinations follow it */
	unsigned int group_flags;
	struct vfiomig_save_opts save;
	struct save_policy policy;
	struct vfiomig_load_opts load;
	/*
	 * The run's own clock: it starts before either side and ends after
	 * both, so the downtime (source stopped -> destination running) lies
	 * inside the elapsed time by construction.
	 */
	uint64_t begin_ns;
	uint64_t stopped_ns;	/* written by the save thread only */
	uint64_t done_ns;	/* the destination's load returned */
	uint64_t end_ns;	/* both sides returned */
};

static bool is_group(const struct migrate *m)
{
	return m->src.n > 1;
}

static const char *side_name(const struct side *s)
{
	return s->d.dev ? vfiomig_dev_get_name(s->d.dev) : s->specs[0];
}

static void add_spec(struct migrate *m, char *spec)
{
	struct side *s = m->to ? &m->dst : &m->src;

	if (s->n < VFIOMIG_GROUP_MAX)
		s->specs[s->n] = spec;
	s->n++;
}

/* SRC DST, or SRC... --to DST...: counts that fit. */
static int check_counts(struct ctl *ctl, struct migrate *m)
{
	if (!m->to && m->src.n > 2)
		return ctl_usage(ctl, "unexpected argument '%s'; to migrate several devices, put "
				 "the destinations after --to: migrate SRC... --to DST...",
				 m->src.specs[2]);
	if (!m->to && m->src.n == 2) {
		m->dst.specs[0] = m->src.specs[1];
		m->src.n = m->dst.n = 1;
	}
	if (m->src.n == 0)
		return ctl_usage(ctl, m->to ? "missing SRC before --to" : "missing SRC");
	if (m->dst.n == 0)
		return ctl_usage(ctl, m->to ? "missing DST after --to" : "missing DST");
	if (m->src.n != m->dst.n)
		return ctl_usage(ctl, "%d source%s but %d destination%s; give one destination "
				 "after --to for each source", m->src.n, m->src.n == 1 ? "" : "s",
				 m->dst.n, m->dst.n == 1 ? "" : "s");
	return ARGS_CONTINUE;
}

static int check_group_specs(struct ctl *ctl, struct migrate *m)
{
	int r = args_group(ctl, m->src.n);

	return r == ARGS_CONTINUE ? args_group(ctl, m->dst.n) : r;
}

static int parse_option(struct ctl *ctl, struct migrate *m, int c, char **argv)
{
	switch (c) {
	case 1:	/* a device, in order ("-" in the optstring) */
		add_spec(m, optarg);
		return ARGS_CONTINUE;
	case OPT_TO:
		if (m->to)
			return ctl_usage(ctl, "--to given twice; name every destination after "
					 "one --to");
		m->to = true;
		if (optarg)	/* --to=DST */
			add_spec(m, optarg);
		return ARGS_CONTINUE;
	case OPT_PRECOPY:
	case OPT_DOWNTIME_LIMIT:
	case OPT_PRECOPY_TIMEOUT:
	case OPT_ON_TIMEOUT:
		return args_save_policy(ctl, c, optarg, argv, &m->policy, &m->save);
	case OPT_FORCE:
		m->load.flags |= VFIOMIG_XFER_FORCE;
		return ARGS_CONTINUE;
	case OPT_ALLOW_NO_P2P:
		m->group_flags |= VFIOMIG_GROUP_ALLOW_NO_P2P;
		return ARGS_CONTINUE;
	case OPT_PROGRESS:
		return args_progress(ctl, optarg);
	default:
		return args_common(ctl, c, argv);
	}
}

/*
 * Devices are taken in order ("-": each comes back as option 1), so that
 * those after --to are the destinations, whatever options come between.
 */
static int parse(struct ctl *ctl, int argc, char **argv, struct migrate *m)
{
	static const struct option opts[] = {
		ARGS_COMMON_LONG,
		ARGS_SAVE_POLICY_LONG,
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "to", optional_argument, NULL, OPT_TO },
		{ "allow-no-p2p", no_argument, NULL, OPT_ALLOW_NO_P2P },
		{ "progress", required_argument, NULL, OPT_PROGRESS },
		{ 0 }
	};
	int c, r = ARGS_CONTINUE;

	args_begin();
	while (r == ARGS_CONTINUE &&
	       (c = getopt_long(argc, argv, "-" ARGS_COMMON_SHORT, opts, NULL)) >= 0)
		r = parse_option(ctl, m, c, argv);
	for (; r == ARGS_CONTINUE && optind < argc; optind++)	/* after "--" */
		add_spec(m, argv[optind]);
	if (r == ARGS_CONTINUE)
		r = args_save_policy_check(ctl, &m->policy, &m->save);
	if (r == ARGS_CONTINUE)
		r = check_counts(ctl, m);
	if (r == ARGS_CONTINUE && m->src.n > 1)
		r = check_group_specs(ctl, m);
	return r;
}

/* The save side's progress drives the line, and marks when the source stopped. */
static void save_progress(void *userdata, const struct vfiomig_progress *p)
{
	struct migrate *m = userdata;

	if (p->phase == VFIOMIG_PHASE_STOP_COPY && !m->stopped_ns)
		m->stopped_ns = now_ns();
	if (p->phase != VFIOMIG_PHASE_DONE)
		progress_update(m->ctl->progress, p);
}

static void *save_thread(void *arg)
{
	struct migrate *m = arg;

	if (m->src.d.group)
		m->src.r = vfiomig_group_save(m->src.d.group, &m->src.fd, 1, &m->save);
	else
		m->src.r = vfiomig_dev_save(m->src.d.dev, m->src.fd, &m->save);
	/* Errors are per thread: this thread's is taken here, or never. */
	if (m->src.r < 0)
		ctl_lib_error_take(m->src.d.vctx, m->src.r, &m->src.error);
	close(m->src.fd);	/* the destination sees the end of the stream */
	return NULL;
}

/*
 * Where each device starts: a source that completed goes back there.  A
 * device no save or load may start on is refused here, on either side,
 * with the library's words: once the source has stopped, a destination
 * that refuses would have cost it a stop for nothing.
 */
static int read_starts(struct ctl *ctl, struct side *s)
{
	for (int i = 0; i < s->n; i++) {
		struct vfiomig_dev *dev = ctl_member(&s->d, i);
		int e = vfiomig_dev_check_ready(dev);

		if (e == 0)
			e = vfiomig_dev_get_state(dev, &s->start[i]);
		if (e < 0)
			return ctl_fail_lib(ctl, s->d.vctx, vfiomig_dev_get_name(dev), e);
	}
	return EXIT_OK;
}

static int open_side(struct ctl *ctl, struct side *s, unsigned int flags)
{
	int r = ctl_open_devices(ctl, s->specs, s->n, flags, &s->d);

	return r == EXIT_OK ? read_starts(ctl, s) : r;
}

static int run(struct migrate *m)
{
	pthread_t thread;
	int p[2], e;

	if (pipe2(p, O_CLOEXEC) < 0)
		return ctl_fail(m->ctl, errno, "cannot create a pipe: %s", strerror(errno));
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);	/* fewer wake-ups; the default works too */
	m->dst.fd = p[0];
	m->src.fd = p[1];
	m->begin_ns = now_ns();
	e = pthread_create(&thread, NULL, save_thread, m);
	if (e != 0) {
		close(p[0]);
		close(p[1]);
		return ctl_fail(m->ctl, e, "cannot start a thread: %s", strerror(e));
	}
	if (m->dst.d.group)
		m->dst.r = vfiomig_group_load(m->dst.d.group, &m->dst.fd, 1, &m->load);
	else
		m->dst.r = vfiomig_dev_load(m->dst.d.dev, m->dst.fd, &m->load);
	m->done_ns = now_ns();
	if (m->dst.r < 0)
		ctl_lib_error_take(m->dst.d.vctx, m->dst.r, &m->dst.error);
	close(m->dst.fd);	/* a save still writing gets EPIPE and rolls back */
	pthread_join(thread, NULL);
	m->end_ns = now_ns();
	progress_clear(m->ctl->progress);
	return EXIT_OK;
}

/*
 * The source completed but the destination did not: the source, or each
 * of a group's, goes back to where it started (a running one runs on).
 */
static void restore_sources(struct migrate *m)
{
	const char *name = side_name(&m->src), *start = vfiomig_state_name(m->src.start[0]);
	int e = ctl_put_back(&m->src.d, m->group_flags, m->src.start);

	if (e < 0 && is_group(m))
		ctl_message(m->ctl, "warning: the destinations failed and the sources could not "
			    "go back to where they started: %s",
			    vfiomig_ctx_get_error(m->src.d.vctx));
	else if (e < 0)
		ctl_message(m->ctl, "warning: %s: the destination failed and the source could not "
			    "go back to %s: %s", name, start, vfiomig_ctx_get_error(m->src.d.vctx));
	else if (m->ctl->verbose && is_group(m))
		ctl_message(m->ctl, "the destinations failed; the sources are back where they "
			    "started");
	else if (m->ctl->verbose)
		ctl_message(m->ctl, "%s: the destination failed; the source is back in %s", name,
			    start);
}

/*
 * The first failure is the one to report: a save that failed on its own
 * (not on EPIPE, which is the destination giving up) caused the load's
 * failure, not the other way round.
 */
static struct side *first_failure(struct migrate *m)
{
	return m->src.r < 0 && (m->src.r != -EPIPE || m->dst.r == 0) ? &m->src : &m->dst;
}

/* Source @i is back where it started (and runs, if it ran), after it had stopped. */
static bool source_again(const struct migrate *m, int i, enum vfiomig_state now)
{
	return m->stopped_ns && now == m->src.start[i] && now != VFIOMIG_STATE_STOP;
}

/*
 * A destination that rejected the stream's very first data was most
 * likely given the state of another model, firmware or configuration: the
 * commands that show both devices (the library cannot name them).
 */
static void hint_compare(struct migrate *m, const struct ctl_lib_error *e)
{
	const char *dst = e->first_data_rejected ?
		ctl_spec_of(&m->dst.d, m->dst.specs, m->dst.n, e->device) : NULL;
	const char *src = NULL;
	char a[300], b[300];

	for (int i = 0; dst && i < m->ctl->nmembers; i++)
		if (strcmp(m->ctl->members[i].destination, e->device) == 0)
			src = m->src.specs[i];
	if (src && dst)
		ctl_fail_hint(m->ctl, "to compare them, run %s info %s and %s info %s", PROGRAM,
			      ctl_shell_word(a, sizeof(a), src), PROGRAM,
			      ctl_shell_word(b, sizeof(b), dst));
}

/*
 * The pair as a group's member, for --json's "devices": its roles, real
 * states and own errors (xfer-report.c); each state is also noted, with
 * its role, for the error line.
 */
static void take_pair(struct migrate *m)
{
	struct ctl *ctl = m->ctl;
	struct xfer_member *p;

	free(ctl->members);
	ctl->nmembers = 0;
	ctl->members = p = calloc(1, sizeof(*p));
	if (!p)
		return;	/* the states are noted still: the caller's loop */
	snprintf(p->device, sizeof(p->device), "%s", vfiomig_dev_get_name(m->src.d.dev));
	snprintf(p->destination, sizeof(p->destination), "%s", vfiomig_dev_get_name(m->dst.d.dev));
	p->err = m->src.r < 0 ? -m->src.r : 0;
	p->destination_err = m->dst.r < 0 ? -m->dst.r : 0;
	p->precopy_bytes = m->src.stats.precopy_bytes;
	p->stop_copy_bytes = m->src.stats.stop_copy_bytes;
	p->precopy_rounds = m->src.stats.precopy_rounds;
	p->downtime_ns = m->src.stats.downtime_ns;
	p->downtime_estimate_ns = m->src.stats.downtime_estimate_ns;
	p->precopy_bandwidth = m->src.stats.precopy_bandwidth;
	p->destination_bytes = m->dst.stats.precopy_bytes + m->dst.stats.stop_copy_bytes;
	p->has_state = vfiomig_dev_get_state(m->src.d.dev, &p->state) == 0;
	p->has_destination_state = vfiomig_dev_get_state(m->dst.d.dev, &p->destination_state) == 0;
	ctl->nmembers = 1;
}

static int report_failure(struct migrate *m)
{
	struct side *s = first_failure(m);
	struct side *both[] = { &m->src, &m->dst };
	int r = ctl_fail_lib_error(m->ctl, side_name(s), &s->error);

	/* Where both devices really are now, after every rollback. */
	for (size_t i = 0; i < 2; i++) {
		const char *name = vfiomig_dev_get_name(both[i]->d.dev);
		enum vfiomig_state st;

		if (vfiomig_dev_get_state(both[i]->d.dev, &st) < 0)
			continue;
		ctl_note_state(m->ctl, name, st);
		ctl_note_role(m->ctl, name, i == 0 ? "source" : "destination",
			      i == 0 && source_again(m, 0, st));
	}
	take_pair(m);
	xfer_fail_crossed(m->ctl);
	hint_compare(m, &s->error);
	return r;
}

/* Every member's own error, and where each really is now, after every rollback. */
static int report_group_failure(struct migrate *m)
{
	struct side *s = first_failure(m);
	char subject[32];
	int r;

	/* A failure of no one member (the stream's, a cancel) is the side's. */
	snprintf(subject, sizeof(subject), "%d %s", s->n, s == &m->src ? "sources" : "destinations");
	r = ctl_fail_lib_error(m->ctl, subject, &s->error);

	if (xfer_take_group(m->ctl, m->src.d.group, true) == EXIT_OK) {
		xfer_take_destinations(m->ctl, m->dst.d.group, true);
		xfer_members_message(m->ctl);
		xfer_fail_crossed(m->ctl);
	}
	for (int i = 0; i < m->ctl->nmembers; i++) {
		const struct xfer_member *p = &m->ctl->members[i];

		ctl_note_role(m->ctl, p->device, "source",
			      p->has_state && source_again(m, i, p->state));
		if (p->destination[0])
			ctl_note_role(m->ctl, p->destination, "destination", false);
	}
	hint_compare(m, &s->error);
	return r;
}

static int report(struct migrate *m)
{
	struct vfiomig_stats *s = &m->src.stats;
	struct xfer_report x = {
		.device = vfiomig_dev_get_name(m->src.d.dev),
		.destination = vfiomig_dev_get_name(m->dst.d.dev),
		.stats = s,
		.downtime_ns = m->stopped_ns ? m->done_ns - m->stopped_ns : 0,
		.saved = true, .downtime_limit_ns = m->save.downtime_limit_ns,
	};
	int e = vfiomig_dev_get_state(m->src.d.dev, &x.state);

	if (e < 0)
		return ctl_fail_lib(m->ctl, m->src.d.vctx, x.device, e);
	e = vfiomig_dev_get_state(m->dst.d.dev, &x.destination_state);
	if (e < 0)
		return ctl_fail_lib(m->ctl, m->dst.d.vctx, x.destination, e);
	/* the whole run, not only the save: the sides' own clocks start and
	 * stop inside it, and the downtime's end comes after the load's own */
	s->elapsed_ns = m->end_ns - m->begin_ns;
	xfer_report_print(m->ctl, &x);
	return EXIT_OK;
}

/* The sources' figures with their states now, each paired with its destination. */
static int report_group(struct migrate *m)
{
	struct vfiomig_stats *s = &m->src.stats;
	int r = xfer_take_group(m->ctl, m->src.d.group, true);

	if (r != EXIT_OK)
		return r;
	xfer_take_destinations(m->ctl, m->dst.d.group, true);
	s->elapsed_ns = m->end_ns - m->begin_ns;	/* as for one device */
	xfer_report_print(m->ctl, &(struct xfer_report){
		.stats = s, .downtime_ns = m->stopped_ns ? m->done_ns - m->stopped_ns : 0,
		.saved = true, .downtime_limit_ns = m->save.downtime_limit_ns, .group = true });
	return EXIT_OK;
}

static void setup_opts(struct migrate *m)
{
	m->src.stats.sz = sizeof(m->src.stats);
	m->dst.stats.sz = sizeof(m->dst.stats);
	m->save.sz = sizeof(m->save);
	m->save.stats = &m->src.stats;
	m->save.progress = save_progress;
	m->save.userdata = m;
	m->save.cancel = ctl_cancel();
	m->load.sz = sizeof(m->load);
	m->load.stats = &m->dst.stats;
	m->load.cancel = ctl_cancel();
}

static int prepare(struct ctl *ctl, struct migrate *m)
{
	int r = open_side(ctl, &m->src, m->group_flags);

	if (r == EXIT_OK)
		r = open_side(ctl, &m->dst, m->group_flags);
	if (r != EXIT_OK)
		return r;
	ctl->progress = xfer_progress_new(ctl, "migrate", m->src.n, NULL);
	return EXIT_OK;
}

static int finish(struct migrate *m)
{
	bool group = is_group(m);

	if (m->src.r == 0 && m->dst.r == 0)
		return group ? report_group(m) : report(m);
	/* a failed save has put the source back itself */
	if (m->src.r == 0)
		restore_sources(m);
	return group ? report_group_failure(m) : report_failure(m);
}

/* Said as a second interrupt kills. */
static void set_at_stake(struct migrate *m)
{
	char src[1024], dst[1024];

	ctl_set_at_stake(m->ctl, "%s may be left stopped, or on the way back to where it "
			 "started; %s may be left holding part of the stream: reset before running",
			 ctl_join_names(src, sizeof(src), m->src.specs, m->src.n),
			 ctl_join_names(dst, sizeof(dst), m->dst.specs, m->dst.n));
}

int cmd_migrate(struct ctl *ctl, int argc, char **argv)
{
	struct migrate m = { .ctl = ctl };
	int r = parse(ctl, argc, argv, &m);

	if (r != ARGS_CONTINUE)
		return r;
	set_at_stake(&m);
	setup_opts(&m);
	r = prepare(ctl, &m);
	if (r == EXIT_OK)
		r = run(&m);
	if (r == EXIT_OK)
		r = finish(&m);
	ctl_close_devices(&m.dst.d);
	ctl_close_devices(&m.src.d);
	return r;
}
