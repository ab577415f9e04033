// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The mock's data fds.  Each session is a pipe: the caller holds one end
 * (O_RDONLY for saving, O_WRONLY for resuming, like the kernel's data_fd),
 * the mock the other, and a pump thread generates the save stream as the
 * reader consumes it, or verifies the resume stream as the writer writes
 * it.  Memory stays O(size / 64 KiB) whatever the device size.
 *
 * SIGPIPE: a pipe write to a closed reader raises SIGPIPE in the writing
 * thread.  Only the pump threads write into save pipes, and they run with
 * every signal blocked (the pending SIGPIPE dies with the thread), so a
 * reader that closes its fd early stops the pump quietly through EPIPE and
 * the process-wide disposition is left alone.  Pipes rather than a
 * socketpair because a pipe has the data_fd's one-directional access mode,
 * ESPIPE on lseek, F_SETPIPE_SZ and FIONREAD.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mock.h"
#include "log.h"
#include "util.h"

#define PUMP_BUF (1u << 20)
#define PIPE_SIZE (1 << 20)
#define PLAN_PIECES 64

/* How much a pump moves at once: about 16 ms' worth when rate= is set. */
static size_t pump_chunk(const struct vfiomig_mock *m)
{
	uint64_t c = m->spec.rate / 64;

	if (!m->spec.rate || c >= PUMP_BUF)
		return PUMP_BUF;
	return c < 4096 ? 4096 : (size_t)c;
}

/*
 * rate=: the device moves at most spec.rate bytes a second.  The session
 * keeps a virtual clock of when the device is done with what it has moved
 * so far, and the pump sleeps until then.  Time spent idle earns no credit,
 * so the rate is a ceiling without bursts.  Returns false if the session is
 * told to stop meanwhile (@kill_fd readable; -1 for a wait that cannot be
 * cut short).  Called only with rate= set, and never with m->lock held.
 */
static bool pace(struct mock_session *s, size_t n, int kill_fd)
{
	uint64_t now = now_ns();

	if (s->pace_ns < now)
		s->pace_ns = now;
	s->pace_ns += (uint64_t)n * 1000000000u / s->mock->spec.rate;
	while ((now = now_ns()) < s->pace_ns) {
		uint64_t d = s->pace_ns - now;
		struct timespec ts = {
			.tv_sec = (time_t)(d / 1000000000u),
			.tv_nsec = (long)(d % 1000000000u),
		};
		struct pollfd p = { .fd = kill_fd, .events = POLLIN };
		int r = ppoll(&p, 1, &ts, NULL);

		if (r > 0)
			return false;
		if (r < 0 && errno != EINTR)
			nanosleep(&ts, NULL);
	}
	return true;
}

/* Waits until @fd is ready for @events or the session is told to stop. */
static bool wait_fd(struct mock_session *s, int fd, short events)
{
	struct pollfd p[2] = {
		{ .fd = fd, .events = events },
		{ .fd = s->kill_fd, .events = POLLIN },
	};

	for (;;) {
		int r = poll(p, 2, -1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (p[1].revents & POLLIN))
			return false;
		return true;
	}
}

/*
 * Writes a rendered chunk into the save pipe, non-blocking.  Called with
 * m->lock held; returns true with it held, or false, released, once the
 * session stops or the reader went away (EPIPE: stop quietly).  In
 * pre-copy the write is made under the lock, so that "written" and the
 * pipe's FIONREAD always agree for the temporary-end check and the
 * pre-copy counters.  Stop-copy has neither, and there a lock held across
 * a pipe copy of up to 1 MiB would make every read of the data fd wait for
 * it, which no driver's read does.
 */
static bool pump_write(struct mock_session *s, size_t bytes)
{
	struct vfiomig_mock *m = s->mock;
	size_t off = 0;

	while (off < bytes) {
		bool held = s->precopy;
		ssize_t w;

		if (!held)
			mock_unlock(m);
		w = write(s->fd, s->buf + off, bytes - off);
		if (!held)
			mock_lock(m);
		if (w > 0) {
			off += (size_t)w;
			s->written += (uint64_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			bool go_on;

			mock_unlock(m);
			go_on = wait_fd(s, s->fd, POLLOUT);
			mock_lock(m);
			if (go_on && !s->stop)
				continue;
		}
		mock_unlock(m);
		return false;
	}
	return true;
}

/*
 * The pumps stand for work that a device does by itself, so they run as
 * SCHED_BATCH, which never preempts a thread on waking.  Otherwise each read
 * or write of a data fd wakes the pump, which then preempts the caller on
 * its CPU; a driver's own work never does that to the thread in read() or
 * write().  Best effort: where the policy is refused, the default serves.
 */
static void pump_as_batch(void)
{
	struct sched_param none = { 0 };

	(void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &none);
}

static void *save_pump(void *arg)
{
	struct mock_session *s = arg;
	struct vfiomig_mock *m = s->mock;
	struct mock_piece pieces[PLAN_PIECES];
	size_t chunk = pump_chunk(m);

	pump_as_batch();
	mock_lock(m);
	for (;;) {
		size_t n, bytes = 0;

		while (!s->stop && !s->em.count && !s->complete)
			pthread_cond_wait(&s->cond, &m->lock);
		if (s->stop)
			break;
		if (!s->em.count) {
			/* Everything is in the pipe: the reader sees EOF next. */
			close(s->fd);
			s->fd = -1;
			break;
		}
		n = mock_emit_plan(&s->em, m->gen, pieces, PLAN_PIECES, chunk,
				   &bytes);
		mock_unlock(m);

		/* Reads only what the emitter was initialised with. */
		mock_emit_render(&s->em, pieces, n, s->buf);
		/* A slow device: the bytes are ready only after bytes / rate. */
		if (m->spec.rate && !pace(s, bytes, s->kill_fd))
			return NULL;

		mock_lock(m);
		if (!pump_write(s, bytes))
			return NULL;
	}
	mock_unlock(m);
	return NULL;
}

static bool told_to_stop(struct mock_session *s)
{
	bool stop;

	mock_lock(s->mock);
	stop = s->stop;
	mock_unlock(s->mock);
	return stop;
}

static void feed_image(void *arg, const void *buf, size_t len)
{
	mock_parser_feed(arg, buf, len);
}

/* Resume bytes to the verifier; with personality=mlx5 or xe, through the
 * driver's records to the payload that carries the image. */
static void resume_feed(struct mock_session *s, const void *buf, size_t len)
{
	switch (s->mock->spec.personality) {
	case MOCK_PERSONA_MLX5:
		mock_mlx5_rx_feed(&s->rx, buf, len, feed_image, &s->parser);
		break;
	case MOCK_PERSONA_XE:
		mock_xe_rx_feed(&s->xe, buf, len, feed_image, &s->parser);
		break;
	default:
		mock_parser_feed(&s->parser, buf, len);
		break;
	}
}

static void *resume_pump(void *arg)
{
	struct mock_session *s = arg;
	struct vfiomig_mock *m = s->mock;
	size_t chunk = pump_chunk(m);

	pump_as_batch();
	while (!told_to_stop(s)) {
		ssize_t r = read(s->fd, s->buf, chunk);

		if (r > 0) {
			resume_feed(s, s->buf, (size_t)r);
			s->consumed += (uint64_t)r;
			/* A slow device takes r / rate to absorb them. */
			if (m->spec.rate && !pace(s, (size_t)r, s->kill_fd))
				break;
		} else if (r == 0) {
			s->writer_gone = true;
			break;
		} else if (errno == EAGAIN) {
			if (!wait_fd(s, s->fd, POLLIN))
				break;
		} else if (errno != EINTR) {
			break;
		}
	}
	return NULL;
}

/* Starts the pump with every signal blocked (see the top of the file). */
static int start_pump(struct mock_session *s)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&s->thread, NULL, s->save ? save_pump : resume_pump, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return -r;
	s->running = true;
	return 0;
}

static void stop_pump(struct vfiomig_mock *m, struct mock_session *s)
{
	uint64_t one = 1;

	if (!s->running)
		return;
	mock_lock(m);
	s->stop = true;
	pthread_cond_broadcast(&s->cond);
	mock_unlock(m);
	while (write(s->kill_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	pthread_join(s->thread, NULL);
	s->running = false;
}

static void session_free(struct mock_session *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->kill_fd >= 0)
		close(s->kill_fd);
	free(s->buf);
	mock_parser_fini(&s->parser);
	pthread_cond_destroy(&s->cond);
	free(s);
}

/*
 * dirtyplan=: the bytes the running device dirtied from @from to @to
 * (session time), each step at its rate.  128-bit products: 64G/s over a
 * minute does not fit 64 bits of byte-nanoseconds.
 */
static uint64_t plan_bytes(const struct mock_spec *spec, uint64_t from, uint64_t to)
{
	unsigned __int128 sum = 0;
	uint64_t begin = 0;

	for (unsigned int i = 0; i < spec->nplan && from < to; i++) {
		bool last = i + 1 == spec->nplan;
		uint64_t end = last || spec->plan[i].until_ns > to ? to : spec->plan[i].until_ns;

		if (end > from && end > begin)
			sum += (unsigned __int128)spec->plan[i].rate * (end - (from > begin ? from : begin));
		begin = spec->plan[i].until_ns;
	}
	sum /= 1000000000u;
	return sum > MOCK_SIZE_MAX ? MOCK_SIZE_MAX : (uint64_t)sum;
}

/* Whole pages of what the plan dirtied since the last round; the rest is
 * carried over, so a slow rate still dirties a page now and then. */
static uint64_t plan_due(struct vfiomig_mock *m, struct mock_session *s)
{
	uint64_t now = now_ns() - s->plan_begin_ns, bytes;

	bytes = s->plan_carry + plan_bytes(&m->spec, s->plan_done_ns, now);
	s->plan_done_ns = now;
	s->plan_carry = bytes % MOCK_PAGE_SIZE;
	return bytes - s->plan_carry;
}

uint64_t mock_dirty_round(struct vfiomig_mock *m, struct mock_session *s, uint64_t *ret_first)
{
	uint64_t bytes = m->spec.nplan ? plan_due(m, s) : m->spec.dirty;
	uint64_t k = (bytes + MOCK_PAGE_SIZE - 1) / MOCK_PAGE_SIZE;

	if (k > m->npages)
		k = m->npages;
	*ret_first = m->dirty_cursor;
	for (uint64_t i = 0; i < k; i++)
		m->gen[(m->dirty_cursor + i) % m->npages]++;
	m->dirty_cursor = (m->dirty_cursor + k) % m->npages;
	return k;
}

void mock_dirty_all(struct vfiomig_mock *m)
{
	for (uint64_t i = 0; i < m->npages; i++)
		m->gen[i]++;
}

/* The session's pipe; the caller's end in *@ret_user, left as it is. */
static int session_pipe(struct mock_session *s, int *ret_user)
{
	struct stat st;
	int p[2], fl;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	*ret_user = s->save ? p[0] : p[1];
	s->fd = s->save ? p[1] : p[0];
	fl = fcntl(s->fd, F_GETFL);
	if (fl < 0 || fcntl(s->fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fstat(*ret_user, &st) < 0)
		return -errno;
	(void)fcntl(s->fd, F_SETPIPE_SZ, PIPE_SIZE);	/* best effort */
	s->pipe_dev = st.st_dev;
	s->pipe_ino = st.st_ino;
	return 0;
}

/* What a session starts with: the image queued, or the parsers ready. */
static int session_stream(struct vfiomig_mock *m, struct mock_session *s,
			  bool precopy)
{
	int frame;

	if (!s->save) {
		mock_parser_init_framing(&s->framing, m->spec.size);
		mock_mlx5_rx_init(&s->rx);
		mock_mlx5_rx_init(&s->rx_write);
		mock_xe_rx_init(&s->xe, m->spec.id.device, m->spec.id.revision);
		mock_xe_rx_init(&s->xe_write, m->spec.id.device, m->spec.id.revision);
		return mock_parser_init(&s->parser, m->spec.size);
	}
	mock_lock(m);
	/* the header's field is u32 and informational: bits above 31 drop */
	mock_emit_init(&s->em, m->seed, m->spec.size, (uint32_t)m->spec.mig_flags);
	/* mlx5 starts every saving session with its stop-copy buffer's size,
	 * xe with its descriptor and the GuC, GGTT and MMIO states. */
	if (m->spec.personality == MOCK_PERSONA_MLX5)
		mock_emit_mlx5(&s->em, mock_stream_size(m->spec.size));
	if (m->spec.personality == MOCK_PERSONA_XE)
		mock_emit_xe(&s->em, m->spec.id.device, m->spec.id.revision);
	/* A pre-copy image is one SAVE; a stop-copy one goes in chunks. */
	frame = mock_emit_frame_begin(&s->em, precopy);
	mock_emit_header(&s->em);
	mock_emit_pages(&s->em, 0, m->npages);
	if (!precopy)
		mock_emit_end(&s->em);
	mock_emit_frame_end(&s->em, frame);
	if (!precopy)
		mock_emit_close(&s->em);
	/* Only pre-copy reads it, and there the image has no end segment. */
	s->initial_end = s->em.queued;
	s->plan_begin_ns = now_ns();
	if (precopy)
		s->precopy = true;
	else
		s->complete = true;
	mock_unlock(m);
	return 0;
}

int mock_session_new(struct vfiomig_mock *m, bool save, bool precopy,
		     int *ret_fd)
{
	struct mock_session *s;
	int user = -1, r;
	void *buf;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->mock = m;
	s->save = save;
	s->fd = -1;
	s->kill_fd = -1;
	pthread_cond_init(&s->cond, NULL);

	r = session_pipe(s, &user);
	if (r)
		goto fail;
	s->kill_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->kill_fd < 0) {
		r = -errno;
		goto fail;
	}
	/* Page-aligned, as a driver's buffers are (see xfer_alloc_buffer()). */
	if (posix_memalign(&buf, 4096, PUMP_BUF) != 0) {
		r = -ENOMEM;
		goto fail;
	}
	s->buf = buf;
	r = session_stream(m, s, precopy);
	if (!r)
		r = start_pump(s);
	if (r)
		goto fail;
	mock_lock(m);
	s->next = m->sessions;
	m->sessions = s;
	m->active = s;
	mock_unlock(m);
	*ret_fd = user;
	return 0;

fail:
	if (user >= 0)
		close(user);
	session_free(s);
	return r;
}

void mock_session_end(struct vfiomig_mock *m, struct mock_session *s)
{
	int fd;

	if (!s || s->dead)
		return;
	stop_pump(m, s);
	mock_lock(m);
	s->dead = true;
	s->precopy = false;
	if (m->active == s)
		m->active = NULL;
	fd = s->fd;
	s->fd = -1;
	mock_unlock(m);
	if (fd >= 0)
		close(fd);
	/* Keep only the identity: later library I/O on the fd gets ENODEV. */
	close(s->kill_fd);
	s->kill_fd = -1;
	free(s->buf);
	s->buf = NULL;
	mock_parser_fini(&s->parser);
}

void mock_session_stop_copy(struct vfiomig_mock *m, struct mock_session *s)
{
	uint64_t first, k;
	int frame;

	if (!s || s->dead || !s->save)
		return;
	mock_lock(m);
	/* The final save also carries what the device dirtied last. */
	frame = mock_emit_frame_begin(&s->em, false);
	k = mock_dirty_round(m, s, &first);
	if (k)
		mock_emit_pages(&s->em, first, k);
	mock_emit_end(&s->em);
	mock_emit_frame_end(&s->em, frame);
	mock_emit_close(&s->em);
	s->complete = true;
	s->precopy = false;
	pthread_cond_broadcast(&s->cond);
	mock_unlock(m);
}

/*
 * A write() into a pipe is complete when it returns, so with the pump
 * stopped nothing is in flight: parse what is left, at the device's rate=
 * too (it has not absorbed those bytes yet).
 */
static void drain_resume(struct vfiomig_mock *m, struct mock_session *s)
{
	size_t chunk = pump_chunk(m);

	for (;;) {
		ssize_t n = read(s->fd, s->buf, chunk);

		if (n > 0) {
			resume_feed(s, s->buf, (size_t)n);
			s->consumed += (uint64_t)n;
			if (m->spec.rate)
				pace(s, (size_t)n, -1);
		} else if (n == 0) {
			s->writer_gone = true;
			break;
		} else if (errno != EINTR) {
			break;
		}
	}
}

/* A write() the driver's records failed: it took nothing, so the device
 * lacks what it refused.  NULL if none did. */
static const char *failed_write(struct vfiomig_mock *m, struct mock_session *s)
{
	const char *why = NULL;

	mock_lock(m);
	if (m->spec.personality == MOCK_PERSONA_MLX5 && s->rx_write.err)
		why = s->rx_write.why;
	else if (m->spec.personality == MOCK_PERSONA_XE && s->xe_write.err)
		why = s->xe_write.why;
	mock_unlock(m);
	return why;
}

/* What the driver's records, as the pump read them, say against the stream. */
static const char *framing_refusal(struct vfiomig_mock *m, struct mock_session *s)
{
	switch (m->spec.personality) {
	case MOCK_PERSONA_MLX5:
		if (s->rx.err)
			return s->rx.why;
		return mock_mlx5_rx_whole(&s->rx) ? NULL : "the stream ends inside an mlx5 record";
	case MOCK_PERSONA_XE:
		return mock_xe_rx_verdict(&s->xe);
	default:
		return NULL;
	}
}

/* Why the stream loaded cannot stand, or NULL. */
static const char *resume_refusal(struct vfiomig_mock *m, struct mock_session *s)
{
	const char *why = failed_write(m, s);

	if (!why)
		why = framing_refusal(m, s);
	if (!why && mock_parser_finish(&s->parser))
		why = s->parser.err;
	return why;
}

/* Whether a byte received so far was wrong, not merely missing. */
static bool stream_wrong(struct vfiomig_mock *m, struct mock_session *s)
{
	bool wrong;

	mock_lock(m);
	wrong = s->rx_write.err || s->xe_write.err;
	mock_unlock(m);
	return wrong || s->rx.err || s->xe.err || s->xe.content[0] ||
	       s->parser.phase == MOCK_PARSE_FAILED;
}

/*
 * What bug= makes of the verdict @why (NULL: a good stream).  *@load says
 * whether the device takes the content received: a good stream's, or a
 * truncated one's whose header came (pages never sent load generation 0).
 */
static const char *broken_verdict(struct vfiomig_mock *m, struct mock_session *s,
				  const char *why, bool *load)
{
	*load = !why;
	if (mock_bug(m, MOCK_BUG_ACCEPTS_GARBAGE)) {
		if (s->consumed < mock_full_stream_size(m))
			return "bug=accepts-garbage: the stream is shorter than a "
			       "complete one (truncated)";
		why = NULL;
	}
	if (why && mock_bug(m, MOCK_BUG_ACCEPTS_TRUNCATED) && !stream_wrong(m, s)) {
		*load = s->parser.phase != MOCK_PARSE_HEADER;
		why = NULL;
	}
	if (!why && m->loads && mock_bug(m, MOCK_BUG_LOAD_ONCE))
		return "bug=load-once: this device has loaded a stream already";
	return why;
}

int mock_session_finish_resume(struct vfiomig_mock *m, struct mock_session *s)
{
	const char *why;
	uint64_t junk;
	bool load;

	if (!s || s->dead || s->save)
		return 0;
	stop_pump(m, s);
	drain_resume(m, s);
	why = broken_verdict(m, s, resume_refusal(m, s), &load);
	if (why) {
		info(m->ctx, "mock %s: RESUMING -> STOP refused, the device stays "
		     "RESUMING: %s", m->spec.name, why);
		/* Like mtty the fd stays usable: more data may complete it. */
		mock_lock(m);
		s->stop = false;
		mock_unlock(m);
		while (read(s->kill_fd, &junk, sizeof(junk)) > 0)
			;
		if (!s->writer_gone && start_pump(s) < 0)
			warn(m->ctx, "mock %s: cannot restart the resume pump",
			     m->spec.name);
		return -EINVAL;
	}
	if (load) {
		mock_lock(m);
		m->seed = s->parser.seed;
		memcpy(m->gen, s->parser.gen, m->npages * sizeof(*m->gen));
		mock_unlock(m);
	}
	m->loads++;
	m->loaded_stop = true;	/* bug=no-run-after-load */
	dbg(m->ctx, "mock %s: loaded %" PRIu64 " stream %s", m->spec.name,
	    s->consumed, plural(s->consumed, "byte", "bytes"));
	mock_session_end(m, s);
	return 0;
}

/* Only the op_lock holder adds sessions, so the walk needs no lock. */
void mock_sessions_end(struct vfiomig_mock *m)
{
	for (struct mock_session *s = m->sessions; s; s = s->next)
		mock_session_end(m, s);
}

void mock_sessions_free(struct vfiomig_mock *m)
{
	struct mock_session *s, *next;

	mock_sessions_end(m);
	for (s = m->sessions; s; s = next) {
		next = s->next;
		session_free(s);
	}
	m->sessions = NULL;
	m->active = NULL;
}

int mock_session_lookup(struct vfiomig_mock *m, int fd, struct mock_session **ret)
{
	struct mock_session *s = NULL;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	mock_lock(m);
	if (S_ISFIFO(st.st_mode))
		for (s = m->sessions; s; s = s->next)
			if (s->pipe_dev == st.st_dev && s->pipe_ino == st.st_ino)
				break;
	mock_unlock(m);
	*ret = s;
	/* the fd of a device closed since: the kernel disabled its file */
	if (!s && S_ISFIFO(st.st_mode) && mock_pipe_buried(m->ctx, st.st_dev, st.st_ino))
		return -ENODEV;
	return 0;
}
