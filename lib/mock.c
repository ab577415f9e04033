// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The mock transport: an in-process double of a kernel VFIO migration
 * device.  Its ops receive exactly the ioctl requests and argument structs
 * the kernel would, and decode them the way vfio_main.c, vfio-pci and the
 * variant drivers do (see docs/mock.md and the uAPI reference).
 *
 * The state machine here is the mock's own, written from the kernel's
 * vfio_from_fsm_table and vfio_mig_get_next_state(), and never shares code
 * with the library's (state.c): a bug in one must not hide in the other.
 * Like a driver it walks one arc at a time and records each arc as it
 * completes, so a failure leaves the device on the last completed arc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mock.h"
#include "vfio-compat.h"

#define S(x) VFIOMIG_STATE_##x
#define F_STOP_COPY VFIOMIG_MIG_STOP_COPY
#define F_P2P VFIOMIG_MIG_P2P
#define F_PRE_COPY VFIOMIG_MIG_PRE_COPY

#define FEAT_HDR 8u	/* struct vfio_device_feature without data[] */
#define INFO_MINSZ 16u	/* offsetofend(struct vfio_device_info, num_irqs) */
#define LOG_MAX_RANGES 256u	/* PAGE_SIZE / sizeof(range) on 4 KiB pages */

/* vfio_from_fsm_table: next hop from [cur] towards [target]. */
static const uint8_t fsm_table[VFIOMIG_STATE_COUNT][VFIOMIG_STATE_COUNT] = {
	[S(STOP)] = {
		[S(STOP)] = S(STOP), [S(RUNNING)] = S(RUNNING_P2P),
		[S(PRE_COPY)] = S(RUNNING_P2P),
		[S(PRE_COPY_P2P)] = S(RUNNING_P2P),
		[S(STOP_COPY)] = S(STOP_COPY), [S(RESUMING)] = S(RESUMING),
		[S(RUNNING_P2P)] = S(RUNNING_P2P), [S(ERROR)] = S(ERROR),
	},
	[S(RUNNING)] = {
		[S(STOP)] = S(RUNNING_P2P), [S(RUNNING)] = S(RUNNING),
		[S(PRE_COPY)] = S(PRE_COPY),
		[S(PRE_COPY_P2P)] = S(RUNNING_P2P),
		[S(STOP_COPY)] = S(RUNNING_P2P),
		[S(RESUMING)] = S(RUNNING_P2P),
		[S(RUNNING_P2P)] = S(RUNNING_P2P), [S(ERROR)] = S(ERROR),
	},
	[S(PRE_COPY)] = {
		[S(STOP)] = S(RUNNING), [S(RUNNING)] = S(RUNNING),
		[S(PRE_COPY)] = S(PRE_COPY),
		[S(PRE_COPY_P2P)] = S(PRE_COPY_P2P),
		[S(STOP_COPY)] = S(PRE_COPY_P2P), [S(RESUMING)] = S(RUNNING),
		[S(RUNNING_P2P)] = S(RUNNING), [S(ERROR)] = S(ERROR),
	},
	[S(PRE_COPY_P2P)] = {
		[S(STOP)] = S(RUNNING_P2P), [S(RUNNING)] = S(RUNNING_P2P),
		[S(PRE_COPY)] = S(PRE_COPY),
		[S(PRE_COPY_P2P)] = S(PRE_COPY_P2P),
		[S(STOP_COPY)] = S(STOP_COPY), [S(RESUMING)] = S(RUNNING_P2P),
		[S(RUNNING_P2P)] = S(RUNNING_P2P), [S(ERROR)] = S(ERROR),
	},
	[S(STOP_COPY)] = {
		[S(STOP)] = S(STOP), [S(RUNNING)] = S(STOP),
		[S(PRE_COPY)] = S(ERROR), [S(PRE_COPY_P2P)] = S(ERROR),
		[S(STOP_COPY)] = S(STOP_COPY), [S(RESUMING)] = S(STOP),
		[S(RUNNING_P2P)] = S(STOP), [S(ERROR)] = S(ERROR),
	},
	[S(RESUMING)] = {
		[S(STOP)] = S(STOP), [S(RUNNING)] = S(STOP),
		[S(PRE_COPY)] = S(STOP), [S(PRE_COPY_P2P)] = S(STOP),
		[S(STOP_COPY)] = S(STOP), [S(RESUMING)] = S(RESUMING),
		[S(RUNNING_P2P)] = S(STOP), [S(ERROR)] = S(ERROR),
	},
	[S(RUNNING_P2P)] = {
		[S(STOP)] = S(STOP), [S(RUNNING)] = S(RUNNING),
		[S(PRE_COPY)] = S(RUNNING),
		[S(PRE_COPY_P2P)] = S(PRE_COPY_P2P),
		[S(STOP_COPY)] = S(STOP), [S(RESUMING)] = S(STOP),
		[S(RUNNING_P2P)] = S(RUNNING_P2P), [S(ERROR)] = S(ERROR),
	},
	[S(ERROR)] = {
		[S(STOP)] = S(ERROR), [S(RUNNING)] = S(ERROR),
		[S(PRE_COPY)] = S(ERROR), [S(PRE_COPY_P2P)] = S(ERROR),
		[S(STOP_COPY)] = S(ERROR), [S(RESUMING)] = S(ERROR),
		[S(RUNNING_P2P)] = S(ERROR), [S(ERROR)] = S(ERROR),
	},
};

/* state_flags_table: the migration flags each state needs. */
static const uint32_t state_flags[VFIOMIG_STATE_COUNT] = {
	[S(STOP)] = F_STOP_COPY,
	[S(RUNNING)] = F_STOP_COPY,
	[S(STOP_COPY)] = F_STOP_COPY,
	[S(RESUMING)] = F_STOP_COPY,
	[S(RUNNING_P2P)] = F_STOP_COPY | F_P2P,
	[S(PRE_COPY)] = F_STOP_COPY | F_PRE_COPY,
	[S(PRE_COPY_P2P)] = F_STOP_COPY | F_P2P | F_PRE_COPY,
	[S(ERROR)] = ~0u,
};

static bool state_ok(uint32_t flags, uint32_t s)
{
	return s < VFIOMIG_STATE_COUNT &&
	       (state_flags[s] & flags) == state_flags[s];
}

/*
 * vfio_mig_get_next_state() of a kernel with the mid-2026 fix: a blocked
 * arc (STOP_COPY -> PRE_COPY*) is EINVAL instead of an endless loop.
 */
static int next_hop(uint32_t flags, uint32_t cur, uint32_t target,
		    uint32_t *ret)
{
	uint32_t next;

	if (!state_ok(flags, cur))	/* the kernel WARNs here */
		return -EINVAL;
	if (!state_ok(flags, target))
		return -EINVAL;
	next = fsm_table[cur][target];
	while (!state_ok(flags, next)) {
		if (next == S(ERROR))
			return -EINVAL;
		next = fsm_table[next][target];
	}
	*ret = next;
	return 0;
}

static void lock(struct vfiomig_mock *m)
{
	pthread_mutex_lock(&m->lock);
}

static void unlock(struct vfiomig_mock *m)
{
	pthread_mutex_unlock(&m->lock);
}

static int mock_inject(struct vfiomig_mock *m, enum mock_kind kind,
		       enum mock_leave *ret_leave)
{
	enum mock_leave leave = MOCK_LEAVE_UNCHANGED;
	uint64_t n;
	int err = 0;

	lock(m);
	n = ++m->calls[kind];
	for (unsigned int i = 0; i < m->spec.nfails; i++) {
		const struct mock_fail *f = &m->spec.fails[i];

		if (f->kind == kind && f->nth == n) {
			err = f->err;
			leave = f->leave;
			break;
		}
	}
	unlock(m);
	if (!err)
		return 0;
	dbg(m->ctx, "mock %s: injecting errno %d into %s call %" PRIu64,
	    m->spec.name, err, mock_kind_name(kind), n);
	if (ret_leave)
		*ret_leave = leave;
	return -err;
}

/* ---- data fds ----
 *
 * Each session is a pipe: the caller holds one end (O_RDONLY for saving,
 * O_WRONLY for resuming, like the kernel's data_fd), the mock the other, and
 * a pump thread generates the save stream as the reader consumes it, or
 * verifies the resume stream as the writer writes it.  Memory stays
 * O(size / 64 KiB) whatever the device size.
 *
 * SIGPIPE: a pipe write to a closed reader raises SIGPIPE in the writing
 * thread.  Only the pump threads write into save pipes, and they run with
 * every signal blocked (the pending SIGPIPE dies with the thread), so a
 * reader that closes its fd early stops the pump quietly through EPIPE and
 * the process-wide disposition is left alone.  Pipes rather than a
 * socketpair because a pipe has the data_fd's one-directional access mode,
 * ESPIPE on lseek, F_SETPIPE_SZ and FIONREAD.
 */

#define PUMP_BUF (1u << 20)
#define PIPE_SIZE (1 << 20)
#define PLAN_PIECES 64

/* Bytes sitting in the pipe; 0 if unknown. */
static uint64_t pipe_bytes(int fd)
{
	int n = 0;

	if (fd < 0 || ioctl(fd, FIONREAD, &n) < 0 || n < 0)
		return 0;
	return (uint64_t)n;
}

/* How much a pump moves at once: about 16 ms' worth when rate= is set. */
static size_t pump_chunk(const struct vfiomig_mock *m)
{
	uint64_t c = m->spec.rate / 64;

	if (!m->spec.rate || c >= PUMP_BUF)
		return PUMP_BUF;
	return c < 4096 ? 4096 : (size_t)c;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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
	uint64_t now = mono_ns();

	if (s->pace_ns < now)
		s->pace_ns = now;
	s->pace_ns += (uint64_t)n * 1000000000u / s->mock->spec.rate;
	while ((now = mono_ns()) < s->pace_ns) {
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
 * session stops or the reader went away.  In pre-copy the write is made
 * under the lock, so that "written" and the pipe's FIONREAD always agree
 * for the temporary-end check and the pre-copy counters.  Stop-copy has
 * neither, and there a lock held across a pipe copy of up to 1 MiB would
 * make every read of the data fd wait for it, which no driver's read does.
 */
static bool pump_write(struct mock_session *s, size_t bytes)
{
	struct vfiomig_mock *m = s->mock;
	size_t off = 0;

	while (off < bytes) {
		bool held = s->precopy;
		ssize_t w;

		if (!held)
			unlock(m);
		w = write(s->fd, s->buf + off, bytes - off);
		if (!held)
			lock(m);
		if (w > 0) {
			off += (size_t)w;
			s->written += (uint64_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			bool go_on;

			unlock(m);
			go_on = wait_fd(s, s->fd, POLLOUT);
			lock(m);
			if (go_on && !s->stop)
				continue;
		} else {
			/* EPIPE: the reader closed its fd.  Stop quietly. */
			s->reader_gone = true;
		}
		unlock(m);
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
	lock(m);
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
			s->eof_sent = true;
			break;
		}
		n = mock_emit_plan(&s->em, m->gen, pieces, PLAN_PIECES, chunk,
				   &bytes);
		unlock(m);

		mock_emit_render(&s->em, pieces, n, s->buf);
		/* A slow device: the bytes are ready only after bytes / rate. */
		if (m->spec.rate && !pace(s, bytes, s->kill_fd))
			return NULL;

		lock(m);
		if (!pump_write(s, bytes))
			return NULL;
	}
	unlock(m);
	return NULL;
}

static void *resume_pump(void *arg)
{
	struct mock_session *s = arg;
	struct vfiomig_mock *m = s->mock;
	size_t chunk = pump_chunk(m);

	pump_as_batch();
	for (;;) {
		ssize_t r;
		bool stop;

		lock(m);
		stop = s->stop;
		unlock(m);
		if (stop)
			break;
		r = read(s->fd, s->buf, chunk);
		if (r > 0) {
			/* The parser is the pump's while it runs. */
			mock_parser_feed(&s->parser, s->buf, (size_t)r);
			lock(m);
			s->consumed += (uint64_t)r;
			unlock(m);
			/* A slow device takes r / rate to absorb them. */
			if (m->spec.rate && !pace(s, (size_t)r, s->kill_fd))
				break;
		} else if (r == 0) {
			lock(m);
			s->writer_gone = true;
			unlock(m);
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
	lock(m);
	s->stop = true;
	pthread_cond_broadcast(&s->cond);
	unlock(m);
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

/* Dirty the next spec.dirty bytes (whole pages, cyclic).  m->lock held. */
static uint64_t dirty_round(struct vfiomig_mock *m, uint64_t *ret_first)
{
	uint64_t k = (m->spec.dirty + MOCK_PAGE_SIZE - 1) / MOCK_PAGE_SIZE;

	if (k > m->npages)
		k = m->npages;
	*ret_first = m->dirty_cursor;
	for (uint64_t i = 0; i < k; i++)
		m->gen[(m->dirty_cursor + i) % m->npages]++;
	m->dirty_cursor = (m->dirty_cursor + k) % m->npages;
	return k;
}

static int mock_session_new(struct vfiomig_mock *m, bool save, bool precopy,
			    int *ret_fd)
{
	struct mock_session *s;
	struct stat st;
	void *buf;
	int p[2], user, r, fl;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->mock = m;
	s->save = save;
	s->fd = -1;
	s->kill_fd = -1;
	pthread_cond_init(&s->cond, NULL);

	if (pipe2(p, O_CLOEXEC) < 0) {
		r = -errno;
		goto fail;
	}
	user = save ? p[0] : p[1];
	s->fd = save ? p[1] : p[0];
	/* The mock's end is non-blocking; the caller's end is left as is. */
	fl = fcntl(s->fd, F_GETFL);
	if (fl < 0 || fcntl(s->fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fstat(user, &st) < 0) {
		r = -errno;
		close(user);
		goto fail;
	}
	(void)fcntl(s->fd, F_SETPIPE_SZ, PIPE_SIZE);	/* best effort */
	s->pipe_dev = st.st_dev;
	s->pipe_ino = st.st_ino;

	s->kill_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	/* Page-aligned, as a driver's buffers are (see xfer_alloc_buffer()). */
	if (posix_memalign(&buf, 4096, PUMP_BUF) == 0)
		s->buf = buf;
	if (s->kill_fd < 0 || !s->buf) {
		r = s->kill_fd < 0 ? -errno : -ENOMEM;
		close(user);
		goto fail;
	}
	if (save) {
		lock(m);
		mock_emit_init(&s->em, m->seed, m->spec.size, m->spec.mig_flags);
		mock_emit_header(&s->em);
		mock_emit_pages(&s->em, 0, m->npages);
		s->initial_end = s->em.queued;
		if (precopy) {
			s->precopy = true;
		} else {
			mock_emit_end(&s->em);
			s->complete = true;
		}
		unlock(m);
	} else {
		mock_parser_init_framing(&s->framing, m->spec.size);
		r = mock_parser_init(&s->parser, m->spec.size);
		if (r) {
			close(user);
			goto fail;
		}
	}
	r = start_pump(s);
	if (r) {
		close(user);
		goto fail;
	}
	lock(m);
	s->next = m->sessions;
	m->sessions = s;
	m->active = s;
	unlock(m);
	*ret_fd = user;
	return 0;

fail:
	session_free(s);
	return r;
}

static void mock_session_end(struct vfiomig_mock *m, struct mock_session *s)
{
	int fd;

	if (!s || s->dead)
		return;
	stop_pump(m, s);
	lock(m);
	s->dead = true;
	s->precopy = false;
	if (m->active == s)
		m->active = NULL;
	fd = s->fd;
	s->fd = -1;
	unlock(m);
	if (fd >= 0)
		close(fd);
	/* Keep only the identity: later library I/O on the fd gets ENODEV. */
	close(s->kill_fd);
	s->kill_fd = -1;
	free(s->buf);
	s->buf = NULL;
	mock_parser_fini(&s->parser);
}

static void mock_session_stop_copy(struct vfiomig_mock *m,
				   struct mock_session *s)
{
	uint64_t first, k;

	if (!s || s->dead || !s->save)
		return;
	lock(m);
	/* The final save also carries what the device dirtied last. */
	k = dirty_round(m, &first);
	if (k)
		mock_emit_pages(&s->em, first, k);
	mock_emit_end(&s->em);
	s->complete = true;
	s->precopy = false;
	pthread_cond_broadcast(&s->cond);
	unlock(m);
}

static int mock_session_finish_resume(struct vfiomig_mock *m,
				      struct mock_session *s)
{
	uint64_t junk;
	size_t chunk = pump_chunk(m);
	int r;

	if (!s || s->dead || s->save)
		return 0;
	stop_pump(m, s);
	/*
	 * write() into a pipe is complete when it returns: drain what is left,
	 * at the device's rate= too (it has not absorbed those bytes yet).
	 */
	for (;;) {
		ssize_t n = read(s->fd, s->buf, chunk);

		if (n > 0) {
			mock_parser_feed(&s->parser, s->buf, (size_t)n);
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
	r = mock_parser_finish(&s->parser);
	if (r) {
		info(m->ctx, "mock %s: RESUMING -> STOP refused, the device stays "
		     "RESUMING: %s", m->spec.name, s->parser.err);
		/* Like mtty the fd stays usable: more data may complete it. */
		lock(m);
		s->stop = false;
		unlock(m);
		while (read(s->kill_fd, &junk, sizeof(junk)) > 0)
			;
		if (!s->writer_gone && start_pump(s) < 0)
			warn(m->ctx, "mock %s: cannot restart the resume pump",
			     m->spec.name);
		return -EINVAL;
	}
	lock(m);
	m->seed = s->parser.seed;
	memcpy(m->gen, s->parser.gen, m->npages * sizeof(*m->gen));
	unlock(m);
	dbg(m->ctx, "mock %s: loaded %" PRIu64 " stream bytes", m->spec.name,
	    s->consumed);
	mock_session_end(m, s);
	return 0;
}

static void mock_sessions_free(struct vfiomig_mock *m)
{
	struct mock_session *s, *next;

	for (s = m->sessions; s; s = s->next)
		mock_session_end(m, s);
	for (s = m->sessions; s; s = next) {
		next = s->next;
		session_free(s);
	}
	m->sessions = NULL;
	m->active = NULL;
}

/* The session whose pipe @fd is, or NULL.  m->lock held. */
static struct mock_session *find_session(struct vfiomig_mock *m,
					 const struct stat *st)
{
	if (!S_ISFIFO(st->st_mode))
		return NULL;
	for (struct mock_session *s = m->sessions; s; s = s->next)
		if (s->pipe_dev == st->st_dev && s->pipe_ino == st->st_ino)
			return s;
	return NULL;
}

static int lookup(struct vfiomig_mock *m, int fd, struct mock_session **ret)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	lock(m);
	*ret = find_session(m, &st);
	unlock(m);
	return 0;
}

static int mock_precopy_info(struct vfiomig_dev *dev, int data_fd,
			     unsigned long request, void *arg)
{
	struct vfiomig_mock *m = dev->priv;
	struct vfio_precopy_info info;
	struct mock_session *s;
	int r;

	pthread_mutex_lock(&m->op_lock);
	r = mock_inject(m, MOCK_K_ANY, NULL);
	if (!r)
		r = lookup(m, data_fd, &s);
	if (r)
		goto out;
	/* Resume fds and foreign fds have no such ioctl. */
	if (!s || !s->save || request != VFIO_MIG_GET_PRECOPY_INFO) {
		r = -ENOTTY;
		goto out;
	}
	r = mock_inject(m, MOCK_K_PRECOPY, NULL);
	if (r)
		goto out;
	memcpy(&info, arg, sizeof(info));
	if (info.argsz < sizeof(info)) {
		r = -EINVAL;
		goto out;
	}
	lock(m);
	if (m->state != VFIOMIG_STATE_PRE_COPY &&
	    m->state != VFIOMIG_STATE_PRE_COPY_P2P) {
		r = -EINVAL;
	} else if (s->dead) {
		r = -ENODEV;
	} else {
		uint64_t in_pipe = pipe_bytes(s->fd), from, consumed;

		consumed = s->written > in_pipe ? s->written - in_pipe : 0;

		/*
		 * Like mlx5: new pre-copy data is produced only here, only
		 * in PRE_COPY (no FW query in PRE_COPY_P2P), and only once
		 * the reader has drained everything queued.
		 */
		if (m->state == VFIOMIG_STATE_PRE_COPY &&
		    s->written == s->em.queued && consumed == s->em.queued) {
			uint64_t first, k = dirty_round(m, &first);

			if (k) {
				mock_emit_pages(&s->em, first, k);
				pthread_cond_broadcast(&s->cond);
			}
		}
		info.initial_bytes = s->initial_end > consumed ?
				     s->initial_end - consumed : 0;
		from = consumed > s->initial_end ? consumed : s->initial_end;
		info.dirty_bytes = s->em.queued > from ? s->em.queued - from : 0;
		if (m->infov2_on)
			info.flags = 0;	/* never REINIT; else echoed */
	}
	unlock(m);
	if (!r)
		memcpy(arg, &info, sizeof(info));
out:
	pthread_mutex_unlock(&m->op_lock);
	return r;
}

static size_t short_len(struct vfiomig_mock *m, size_t len)
{
	size_t n;

	lock(m);
	n = 1 + m->short_count++ % 7;
	unlock(m);
	return n < len ? n : len;
}

static ssize_t mock_data_read(struct vfiomig_dev *dev, int data_fd,
			      void *buf, size_t len)
{
	struct vfiomig_mock *m = dev->priv;
	struct mock_session *s;
	bool eom = false;
	ssize_t r;
	int e;

	e = mock_inject(m, MOCK_K_ANY, NULL);
	if (!e)
		e = mock_inject(m, MOCK_K_READ, NULL);
	if (!e)
		e = lookup(m, data_fd, &s);
	if (e)
		return e;
	if (s) {
		lock(m);
		if (s->dead)
			e = -ENODEV;
		else if (s->save && s->precopy && s->written == s->em.queued &&
			 pipe_bytes(s->fd) == 0)
			eom = true;	/* the temporary end of a PRE_COPY stream */
		unlock(m);
		if (e)
			return e;
		if (eom)
			return m->spec.eom_zero ? 0 : -ENOMSG;
	}
	if (m->spec.short_read)
		len = short_len(m, len);
	r = read(data_fd, buf, len);
	return r < 0 ? -errno : r;
}

/*
 * A driver's write() checks what it can at once.  mtty refuses a write past
 * the end of the state with ENOMEM, taking nothing, and a bad header with
 * EFAULT, though it keeps the bytes.  The framing parser tells both without
 * waiting for the pump.
 */
static ssize_t resume_write(struct vfiomig_mock *m, struct mock_session *s, int data_fd,
			    const void *buf, size_t len)
{
	struct mock_parser trial;
	bool in_header, header_failed;
	ssize_t r;

	lock(m);
	trial = s->framing;
	in_header = trial.phase == MOCK_PARSE_HEADER;
	unlock(m);
	mock_parser_feed(&trial, buf, len);
	if (trial.past_end)
		return -ENOMEM;
	r = write(data_fd, buf, len);
	if (r <= 0)
		return r < 0 ? -errno : r;
	lock(m);
	mock_parser_feed(&s->framing, buf, (size_t)r);
	/* A failed parse stops where it failed: within the header, or later. */
	header_failed = s->framing.phase == MOCK_PARSE_FAILED && s->framing.pos <= MOCK_HDR_SIZE;
	unlock(m);
	return in_header && header_failed ? -EFAULT : r;
}

static ssize_t mock_data_write(struct vfiomig_dev *dev, int data_fd,
			       const void *buf, size_t len)
{
	struct vfiomig_mock *m = dev->priv;
	struct mock_session *s;
	ssize_t r;
	int e;

	e = mock_inject(m, MOCK_K_ANY, NULL);
	if (!e)
		e = mock_inject(m, MOCK_K_WRITE, NULL);
	if (!e)
		e = lookup(m, data_fd, &s);
	if (e)
		return e;
	if (s) {
		lock(m);
		e = s->dead ? -ENODEV : 0;
		unlock(m);
		if (e)
			return e;
	}
	if (m->spec.short_write)
		len = short_len(m, len);
	if (s && !s->save)
		return resume_write(m, s, data_fd, buf, len);
	r = write(data_fd, buf, len);
	return r < 0 ? -errno : r;
}

static void set_recorded_state(struct vfiomig_mock *m, enum vfiomig_state s)
{
	lock(m);
	m->state = s;
	unlock(m);
}

/* Every data session dies and the device records ERROR. */
static void go_error(struct vfiomig_mock *m)
{
	mock_session_end(m, m->active);
	set_recorded_state(m, S(ERROR));
}

/* One arc, as a driver's step function performs it. */
static int step(struct vfiomig_mock *m, uint32_t from, uint32_t to, int *ret_fd)
{
	bool saving_from = from == S(PRE_COPY) || from == S(PRE_COPY_P2P);

	if (from == S(STOP) && to == S(STOP_COPY))
		return mock_session_new(m, true, false, ret_fd);
	if ((from == S(RUNNING) && to == S(PRE_COPY)) ||
	    (from == S(RUNNING_P2P) && to == S(PRE_COPY_P2P)))
		return mock_session_new(m, true, true, ret_fd);
	if (from == S(STOP) && to == S(RESUMING))
		return mock_session_new(m, false, false, ret_fd);
	if (saving_from && to == S(STOP_COPY)) {
		mock_session_stop_copy(m, m->active);	/* same fd goes on */
		return 0;
	}
	if ((from == S(STOP_COPY) && to == S(STOP)) ||
	    (from == S(PRE_COPY) && to == S(RUNNING)) ||
	    (from == S(PRE_COPY_P2P) && to == S(RUNNING_P2P))) {
		mock_session_end(m, m->active);
		return 0;
	}
	if (from == S(RESUMING) && to == S(STOP))
		return mock_session_finish_resume(m, m->active);
	return 0;	/* run-state arcs: nothing to do */
}

/* The driver's loop, stopping after @max_arcs arcs. */
static int walk(struct vfiomig_mock *m, uint32_t target, unsigned int max_arcs,
		int *ret_fd)
{
	uint32_t cur = m->state, next;
	unsigned int arcs = 0;

	while (cur != target && arcs < max_arcs) {
		int fd = -1, r;

		r = next_hop(m->spec.mig_flags, cur, target, &next);
		if (r)
			return r;
		r = step(m, cur, next, &fd);
		if (r) {
			dbg(m->ctx, "mock %s: arc %s -> %s failed (%d); device "
			    "stays %s", m->spec.name, mock_state_name(cur),
			    mock_state_name(next), r, mock_state_name(cur));
			return r;
		}
		set_recorded_state(m, next);
		dbg(m->ctx, "mock %s: %s -> %s%s", m->spec.name,
		    mock_state_name(cur), mock_state_name(next),
		    fd >= 0 ? " (new data fd)" : "");
		if (fd >= 0 && next != target) {
			/* The kernel WARNs: an interior arc made a file. */
			close(fd);
			mock_session_end(m, m->active);
			return -EINVAL;
		}
		if (fd >= 0)
			*ret_fd = fd;
		cur = next;
		arcs++;
	}
	return 0;
}

static int set_state(struct vfiomig_mock *m, uint32_t target, int *ret_fd)
{
	enum mock_leave leave = MOCK_LEAVE_UNCHANGED;
	uint32_t cur, next;
	unsigned int n = 0;
	int inj, r;

	*ret_fd = -1;
	inj = mock_inject(m, MOCK_K_SET, &leave);
	if (!inj)
		return walk(m, target, UINT32_MAX, ret_fd);
	if (leave == MOCK_LEAVE_UNCHANGED)
		return inj;
	if (leave == MOCK_LEAVE_ERROR) {
		go_error(m);
		return inj;
	}
	/* mid: every arc of the path but the last, then fail on the last. */
	for (cur = m->state; cur != target; cur = next, n++)
		if (next_hop(m->spec.mig_flags, cur, target, &next))
			break;
	r = n > 1 ? walk(m, target, n - 1, ret_fd) : 0;
	if (*ret_fd >= 0) {	/* cannot happen: interior arcs make no fd */
		close(*ret_fd);
		*ret_fd = -1;
	}
	return r ? r : inj;
}

static int do_reset(struct vfiomig_mock *m)
{
	int r = mock_inject(m, MOCK_K_RESET, NULL);

	if (r)
		return r;
	/* reset_done: back to RUNNING, every migration fd disabled. */
	mock_session_end(m, m->active);
	set_recorded_state(m, S(RUNNING));
	dbg(m->ctx, "mock %s: reset, now RUNNING", m->spec.name);
	return 0;
}

static int get_info(struct vfiomig_mock *m, void *arg)
{
	struct vfio_device_info info;

	memcpy(&info, arg, INFO_MINSZ);
	if (info.argsz < INFO_MINSZ)
		return -EINVAL;
	info.flags = VFIO_DEVICE_FLAGS_PCI |
		     (m->spec.resetflag ? VFIO_DEVICE_FLAGS_RESET : 0);
	info.num_regions = 9;	/* VFIO_PCI_NUM_REGIONS */
	info.num_irqs = 5;	/* VFIO_PCI_NUM_IRQS */
	memcpy(arg, &info, INFO_MINSZ);	/* only up to num_irqs, like mtty */
	return 0;
}

/* vfio_check_feature(): 1 = go on, 0 = PROBE answered, <0 = error. */
static int check_feature(uint32_t flags, size_t argsz, uint32_t ops,
			 size_t minsz)
{
	uint32_t rw = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET;

	if (flags & rw & ~ops)
		return -EINVAL;
	if (flags & VFIO_DEVICE_FEATURE_PROBE)
		return 0;
	if (!(flags & rw))
		return -EINVAL;
	if (argsz < minsz)
		return -EINVAL;
	return 1;
}

static int feature_mig_state(struct vfiomig_mock *m, uint32_t flags,
			     void *data, size_t argsz)
{
	struct vfio_device_feature_mig_state mig;
	int r;

	r = check_feature(flags, argsz,
			  VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET,
			  sizeof(mig));
	if (r != 1)
		return r;
	memcpy(&mig, data, sizeof(mig));
	if (flags & VFIO_DEVICE_FEATURE_GET) {
		r = mock_inject(m, MOCK_K_GET, NULL);
		if (r)
			return r;
		lock(m);
		mig.device_state = m->state;
		unlock(m);
		mig.data_fd = -1;
	} else {
		int fd;

		r = set_state(m, mig.device_state, &fd);
		/* device_state keeps the requested value, even on failure */
		mig.data_fd = r ? -1 : fd;
	}
	memcpy(data, &mig, sizeof(mig));
	return r;
}

static int feature_log_start(uint32_t flags, void *data, size_t argsz,
			     struct vfiomig_mock *m)
{
	struct vfio_device_feature_dma_logging_control ctl;
	const struct vfio_device_feature_dma_logging_range *ranges;
	int r;

	r = check_feature(flags, argsz, VFIO_DEVICE_FEATURE_SET, sizeof(ctl));
	if (r != 1)
		return r;
	memcpy(&ctl, data, sizeof(ctl));
	if (!ctl.num_ranges)
		return -EINVAL;
	if (ctl.num_ranges > LOG_MAX_RANGES)
		return -E2BIG;
	ranges = (const void *)(uintptr_t)ctl.ranges;
	for (uint32_t i = 0; i < ctl.num_ranges; i++) {
		struct vfio_device_feature_dma_logging_range a;
		uint64_t end;

		memcpy(&a, &ranges[i], sizeof(a));
		if ((a.iova & (ctl.page_size - 1)) ||
		    (a.length & (ctl.page_size - 1)))
			return -EINVAL;
		if (__builtin_add_overflow(a.iova, a.length, &end))
			return -EOVERFLOW;
		for (uint32_t j = 0; j < i; j++) {
			struct vfio_device_feature_dma_logging_range b;

			memcpy(&b, &ranges[j], sizeof(b));
			/* interval tree over [iova, iova + length - 1] */
			if (a.iova <= b.iova + b.length - 1 &&
			    b.iova <= a.iova + a.length - 1)
				return -EINVAL;
		}
	}
	/* mtty's dummy log_start: accepts anything, keeps page_size. */
	m->logging = true;
	memcpy(data, &ctl, sizeof(ctl));
	return 0;
}

static int feature_log_report(uint32_t flags, void *data, size_t argsz)
{
	struct vfio_device_feature_dma_logging_report rep;
	uint64_t end;
	int r;

	r = check_feature(flags, argsz, VFIO_DEVICE_FEATURE_GET, sizeof(rep));
	if (r != 1)
		return r;
	memcpy(&rep, data, sizeof(rep));
	if (rep.page_size < 4096 || (rep.page_size & (rep.page_size - 1)))
		return -EINVAL;
	if (__builtin_add_overflow(rep.iova, rep.length, &end))
		return -EOVERFLOW;
	return 0;	/* mtty's dummy sets no bits */
}

static int device_feature(struct vfiomig_mock *m, void *arg)
{
	struct vfio_device_feature hdr;
	uint8_t *data = (uint8_t *)arg + FEAT_HDR;
	uint32_t known = VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_GET |
			 VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PROBE;
	uint32_t flags;
	size_t argsz;
	int r;

	memcpy(&hdr, arg, FEAT_HDR);
	if (hdr.argsz < FEAT_HDR)
		return -EINVAL;
	flags = hdr.flags;
	if (flags & ~known)
		return -EINVAL;
	if (!(flags & VFIO_DEVICE_FEATURE_PROBE) &&
	    (flags & VFIO_DEVICE_FEATURE_GET) && (flags & VFIO_DEVICE_FEATURE_SET))
		return -EINVAL;
	argsz = hdr.argsz - FEAT_HDR;

	switch (flags & VFIO_DEVICE_FEATURE_MASK) {
	case VFIO_DEVICE_FEATURE_MIGRATION: {
		struct vfio_device_feature_migration mig = {
			.flags = m->spec.mig_flags,
		};

		r = check_feature(flags, argsz, VFIO_DEVICE_FEATURE_GET,
				  sizeof(mig));
		if (r == 1) {
			memcpy(data, &mig, sizeof(mig));
			r = 0;
		}
		return r;
	}
	case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
		return feature_mig_state(m, flags, data, argsz);
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
		if (!m->spec.dirtylog)
			return -ENOTTY;
		return feature_log_start(flags, data, argsz, m);
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
		if (!m->spec.dirtylog)
			return -ENOTTY;
		r = check_feature(flags, argsz, VFIO_DEVICE_FEATURE_SET, 0);
		if (r == 1) {
			m->logging = false;
			r = 0;
		}
		return r;
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
		if (!m->spec.dirtylog)
			return -ENOTTY;
		return feature_log_report(flags, data, argsz);
	case VFIO_DEVICE_FEATURE_MIG_DATA_SIZE: {
		struct vfio_device_feature_mig_data_size ds;

		if (!m->spec.datasize)	/* a 6.1 kernel: unknown index */
			return -ENOTTY;
		r = check_feature(flags, argsz, VFIO_DEVICE_FEATURE_GET,
				  sizeof(ds));
		if (r != 1)
			return r;
		r = mock_inject(m, MOCK_K_DATASIZE, NULL);
		if (r)
			return r;
		ds.stop_copy_length = mock_stream_size(m->spec.size);
		memcpy(data, &ds, sizeof(ds));
		return 0;
	}
	case VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2:
		if (!m->spec.infov2)	/* kernels before 7.1 */
			return -ENOTTY;
		r = check_feature(flags, argsz, VFIO_DEVICE_FEATURE_SET, 0);
		if (r != 1)
			return r;
		if (!(m->spec.mig_flags & F_PRE_COPY))
			return -EINVAL;
		m->infov2_on = true;
		return 0;
	default:
		/* vfio-pci's device_feature op; PCI_VF_TOKEN and LOW_POWER_*
		 * need a PF / PM support the mock does not pretend to have. */
		return -ENOTTY;
	}
}

static int mock_device_ioctl(struct vfiomig_dev *dev, unsigned long request,
			     void *arg)
{
	struct vfiomig_mock *m = dev->priv;
	int r;

	pthread_mutex_lock(&m->op_lock);
	r = mock_inject(m, MOCK_K_ANY, NULL);
	if (r)
		goto out;
	switch (request) {
	case VFIO_DEVICE_GET_INFO:
		r = get_info(m, arg);
		break;
	case VFIO_DEVICE_RESET:
		r = do_reset(m);
		break;
	case VFIO_DEVICE_FEATURE:
		r = mock_inject(m, MOCK_K_FEATURE, NULL);
		if (!r)
			r = device_feature(m, arg);
		break;
	default:
		r = -ENOTTY;
		break;
	}
out:
	pthread_mutex_unlock(&m->op_lock);
	return r;
}

/* The mock devices alive in a ctx, so adopt can recognise their fds. */
struct mock_ctx {
	pthread_mutex_t lock;		/* the list and every mock's refcount */
	struct vfiomig_mock *mocks;
};

static struct mock_ctx *mctx(struct vfiomig_ctx *ctx)
{
	return vfiomig_ctx_transport_state(ctx, &vfiomig_mock_transport);
}

static void *mock_ctx_new(void)
{
	struct mock_ctx *mc = calloc(1, sizeof(*mc));

	if (mc)
		pthread_mutex_init(&mc->lock, NULL);
	return mc;
}

/* Devices hold the ctx, so no mock is left when this runs. */
static void mock_ctx_free(void *state)
{
	struct mock_ctx *mc = state;

	pthread_mutex_destroy(&mc->lock);
	free(mc);
}

static void mock_free(struct vfiomig_mock *m)
{
	mock_sessions_free(m);
	pthread_mutex_destroy(&m->lock);
	pthread_mutex_destroy(&m->op_lock);
	free(m->gen);
	free(m);
}

/* The last handle unlinks the mock under the list's lock, so that an adopt
 * racing with it either finds it with a reference or not at all. */
static void mock_release(struct vfiomig_dev *dev)
{
	struct vfiomig_mock *m = dev->priv, **pp;
	struct mock_ctx *mc = mctx(dev->ctx);
	bool last;

	dev->priv = NULL;
	if (!m)
		return;
	pthread_mutex_lock(&mc->lock);
	last = --m->refcount == 0;
	for (pp = &mc->mocks; last && *pp; pp = &(*pp)->next) {
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	}
	pthread_mutex_unlock(&mc->lock);
	if (last)
		mock_free(m);
}

extern const struct vfiomig_vendor_ops vfiomig_vendor_mock;

static void attach(struct vfiomig_dev *dev, struct vfiomig_mock *m)
{
	struct vfiomig_identity *id = &dev->id;

	dev->priv = m;
	/* The mock's bytes are its own, whatever identity it pretends. */
	dev->backend = &vfiomig_vendor_mock;
	memset(id, 0, sizeof(*id));
	id->has_pci_ids = m->spec.has_pci;
	id->vendor = m->spec.vendor;
	id->device = m->spec.device;
	id->subsystem_vendor = m->spec.subvendor;
	id->subsystem_device = m->spec.subdevice;
	id->revision = m->spec.revision;
	snprintf(id->driver, sizeof(id->driver), "%s", m->spec.driver);
}

int vfiomig_mock_open(struct vfiomig_ctx *ctx, const char *params, struct vfiomig_dev **ret)
{
	struct mock_ctx *mc = mctx(ctx);
	struct vfiomig_mock *m;
	struct vfiomig_dev *dev;
	char memfd_name[96];
	struct stat st;
	int fd, r;

	m = calloc(1, sizeof(*m));
	if (!m)
		return vfiomig_fail(ctx, -ENOMEM, "mock:%s: out of memory", params);
	r = mock_spec_parse(ctx, params, &m->spec);
	if (r) {
		free(m);
		return r;
	}
	m->npages = mock_npages(m->spec.size);
	m->gen = calloc(m->npages, sizeof(*m->gen));
	if (!m->gen) {
		free(m);
		return vfiomig_fail(ctx, -ENOMEM, "mock:%s: out of memory", params);
	}
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->op_lock, NULL);
	m->ctx = ctx;
	m->state = m->spec.state;
	m->seed = mock_seed_from_name(m->spec.name);
	snprintf(m->devname, sizeof(m->devname), "mock:%s", m->spec.name);

	snprintf(memfd_name, sizeof(memfd_name), "vfiomig-mock:%s", m->spec.name);
	fd = memfd_create(memfd_name, MFD_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		r = vfiomig_fail(ctx, r, "mock %s: cannot create the placeholder "
				 "device fd: %s", m->spec.name, strerror(-r));
		goto fail;
	}
	m->st_dev = st.st_dev;
	m->st_ino = st.st_ino;

	r = vfiomig_dev_new(ctx, &vfiomig_mock_transport, "mock", fd, true, m->devname, &dev);
	if (r < 0) {
		close(fd);
		goto fail;
	}
	attach(dev, m);
	m->refcount = 1;
	pthread_mutex_lock(&mc->lock);
	m->next = mc->mocks;
	mc->mocks = m;
	pthread_mutex_unlock(&mc->lock);
	dbg(ctx, "mock %s: %" PRIu64 " bytes, flags 0x%x, state %s",
	    m->spec.name, m->spec.size, m->spec.mig_flags,
	    mock_state_name(m->state));
	*ret = dev;
	return 0;

fail:
	pthread_mutex_destroy(&m->lock);
	pthread_mutex_destroy(&m->op_lock);
	free(m->gen);
	free(m);
	return r;
}

int vfiomig_mock_adopt(struct vfiomig_ctx *ctx, int fd, struct vfiomig_dev **ret)
{
	struct mock_ctx *mc = mctx(ctx);
	struct vfiomig_mock *m;
	struct vfiomig_dev *dev;
	struct stat st;
	int r;

	if (fstat(fd, &st) < 0)
		return -ENOENT;
	pthread_mutex_lock(&mc->lock);
	for (m = mc->mocks; m; m = m->next)
		if (m->st_dev == st.st_dev && m->st_ino == st.st_ino)
			break;
	if (m)
		m->refcount++;
	pthread_mutex_unlock(&mc->lock);
	if (!m)
		return -ENOENT;
	r = vfiomig_dev_new(ctx, &vfiomig_mock_transport, "mock", fd, false, m->devname, &dev);
	if (r < 0) {
		struct vfiomig_dev tmp = { .ctx = ctx, .priv = m };

		mock_release(&tmp);
		return r;
	}
	attach(dev, m);
	*ret = dev;
	return 0;
}

unsigned int vfiomig_mock_count(struct vfiomig_ctx *ctx)
{
	struct mock_ctx *mc = mctx(ctx);
	unsigned int n = 0;

	pthread_mutex_lock(&mc->lock);
	for (struct vfiomig_mock *m = mc->mocks; m; m = m->next)
		n++;
	pthread_mutex_unlock(&mc->lock);
	return n;
}

static int mock_open(struct vfiomig_ctx *ctx, const char *spec, struct vfiomig_dev **ret)
{
	if (strncmp(spec, "mock:", 5) != 0)
		return TRANSPORT_PASS;
	return vfiomig_mock_open(ctx, spec + 5, ret);
}

static int mock_adopt(struct vfiomig_ctx *ctx, int fd, struct vfiomig_dev **ret)
{
	int r = vfiomig_mock_adopt(ctx, fd, ret);

	return r == -ENOENT ? TRANSPORT_PASS : r;
}

const struct vfiomig_transport vfiomig_mock_transport = {
	.open = mock_open,
	.adopt = mock_adopt,
	.release = mock_release,
	.ctx_new = mock_ctx_new,
	.ctx_free = mock_ctx_free,
	.device_ioctl = mock_device_ioctl,
	.data_ioctl = mock_precopy_info,
	.data_read = mock_data_read,
	.data_write = mock_data_write,
};
