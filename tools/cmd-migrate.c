/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig-ctl migrate SRC DST [--precopy[=auto|never|N]] [--force]: save
 * SRC straight into DST through a pipe, the save on a second thread.  Each
 * device has a context of its own, since a context and its devices are used
 * from one thread at a time.  If the destination fails after the source
 * has stopped, the source is moved back to the state it started in.
 */
#define _GNU_SOURCE	/* pipe2(), F_SETPIPE_SZ */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "progress.h"
#include "util.h"
#include "xfer-report.h"

struct side {
	const char *spec;
	struct vfiomig_ctx *vctx;
	struct vfiomig_dev *dev;
	struct vfiomig_stats stats;
	enum vfiomig_state start;
	int fd;		/* the pipe end this side uses */
	int r;		/* the library's result */
	struct ctl_lib_error error;	/* taken on the side's own thread */
};

struct migrate {
	struct ctl *ctl;
	struct side src, dst;
	struct vfiomig_save_opts save;
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

static int parse(struct ctl *ctl, int argc, char **argv, struct migrate *m)
{
	static const struct option opts[] = {
		ARGS_COMMON_LONG,
		{ "precopy", optional_argument, NULL, OPT_PRECOPY },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ 0 }
	};
	static const char *const names[] = { "SRC", "DST" };
	int c, r = ARGS_CONTINUE;

	args_begin();
	while (r == ARGS_CONTINUE &&
	       (c = getopt_long(argc, argv, ARGS_COMMON_SHORT, opts, NULL)) >= 0) {
		if (c == OPT_PRECOPY)
			r = args_precopy(ctl, optarg, &m->save.precopy, &m->save.precopy_rounds);
		else if (c == OPT_FORCE)
			m->load.flags |= VFIOMIG_XFER_FORCE;
		else
			r = args_common(ctl, c, argv);
	}
	if (r == ARGS_CONTINUE)
		r = args_positional(ctl, argc, argv, 2, 2, names);
	if (r == ARGS_CONTINUE) {
		m->src.spec = argv[optind];
		m->dst.spec = argv[optind + 1];
	}
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

	m->src.r = vfiomig_dev_save(m->src.dev, m->src.fd, &m->save);
	/* Errors are per thread: this thread's is taken here, or never. */
	if (m->src.r < 0)
		ctl_lib_error_take(m->src.vctx, m->src.r, &m->src.error);
	close(m->src.fd);	/* the destination sees the end of the stream */
	return NULL;
}

static int open_side(struct ctl *ctl, struct side *s)
{
	int r = ctl_context_new(ctl, &s->vctx), e;

	if (r == EXIT_OK)
		r = ctl_open(ctl, s->vctx, s->spec, &s->dev);
	if (r == EXIT_OK && (e = vfiomig_dev_get_state(s->dev, &s->start)) < 0)
		r = ctl_fail_lib(ctl, s->vctx, vfiomig_dev_get_name(s->dev), e);
	return r;
}

static void close_side(struct side *s)
{
	vfiomig_dev_unref(s->dev);
	vfiomig_ctx_unref(s->vctx);
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
	m->dst.r = vfiomig_dev_load(m->dst.dev, m->dst.fd, &m->load);
	m->done_ns = now_ns();
	if (m->dst.r < 0)
		ctl_lib_error_take(m->dst.vctx, m->dst.r, &m->dst.error);
	close(m->dst.fd);	/* a save still writing gets EPIPE and rolls back */
	pthread_join(thread, NULL);
	m->end_ns = now_ns();
	progress_clear(m->ctl->progress);
	return EXIT_OK;
}

/* The source completed but the destination did not: the source runs on. */
static void restore_source(struct migrate *m)
{
	const char *name = vfiomig_dev_get_name(m->src.dev);
	int fd = -1;

	if (m->src.r < 0 || m->dst.r == 0)
		return;	/* a failed save has put the source back itself */
	if (vfiomig_dev_set_state(m->src.dev, m->src.start, &fd) < 0)
		ctl_message(m->ctl, "warning: %s: the destination failed and the source could not "
			    "go back to %s: %s", name, vfiomig_state_name(m->src.start),
			    vfiomig_ctx_get_error(m->src.vctx));
	else if (m->ctl->verbose)
		ctl_message(m->ctl, "%s: the destination failed; the source is back in %s", name,
			    vfiomig_state_name(m->src.start));
	if (fd >= 0)
		close(fd);
}

/*
 * The first failure is the one to report: a save that failed on its own
 * (not on EPIPE, which is the destination giving up) caused the load's
 * failure, not the other way round.
 */
static int report_failure(struct migrate *m)
{
	struct side *s = m->src.r < 0 && (m->src.r != -EPIPE || m->dst.r == 0) ? &m->src : &m->dst;
	struct side *both[] = { &m->src, &m->dst };
	int r = ctl_fail_lib_error(m->ctl, vfiomig_dev_get_name(s->dev), &s->error);

	/* Where both devices really are now, after every rollback. */
	for (size_t i = 0; i < 2; i++) {
		enum vfiomig_state st;

		if (vfiomig_dev_get_state(both[i]->dev, &st) == 0)
			ctl_note_state(m->ctl, vfiomig_dev_get_name(both[i]->dev), st);
	}
	return r;
}

static int report(struct migrate *m)
{
	struct vfiomig_stats *s = &m->src.stats;
	struct xfer_report x = {
		.device = vfiomig_dev_get_name(m->src.dev),
		.destination = vfiomig_dev_get_name(m->dst.dev),
		.stats = s,
		.downtime_ns = m->stopped_ns ? m->done_ns - m->stopped_ns : 0,
	};
	int e = vfiomig_dev_get_state(m->src.dev, &x.state);

	if (e < 0)
		return ctl_fail_lib(m->ctl, m->src.vctx, x.device, e);
	e = vfiomig_dev_get_state(m->dst.dev, &x.destination_state);
	if (e < 0)
		return ctl_fail_lib(m->ctl, m->dst.vctx, x.destination, e);
	/* the whole run, not only the save: the sides' own clocks start and
	 * stop inside it, and the downtime's end comes after the load's own */
	s->elapsed_ns = m->end_ns - m->begin_ns;
	xfer_report_print(m->ctl, &x);
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

int cmd_migrate(struct ctl *ctl, int argc, char **argv)
{
	struct migrate m = { .ctl = ctl };
	int r = parse(ctl, argc, argv, &m);

	if (r != ARGS_CONTINUE)
		return r;
	setup_opts(&m);
	r = open_side(ctl, &m.src);
	if (r == EXIT_OK)
		r = open_side(ctl, &m.dst);
	if (r == EXIT_OK) {
		ctl->progress = progress_new(!ctl->quiet, "migrate");
		r = run(&m);
	}
	if (r == EXIT_OK && (m.src.r < 0 || m.dst.r < 0)) {
		restore_source(&m);
		r = report_failure(&m);
	} else if (r == EXIT_OK) {
		r = report(&m);
	}
	close_side(&m.dst);
	close_side(&m.src);
	return r;
}
