// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The mock's transport ops.  They receive exactly the ioctl requests and
 * argument structs the kernel would, and decode them the way vfio_main.c,
 * vfio-pci and the variant drivers do (docs/mock.md and the uAPI
 * reference); fail= faults are injected at the points docs/mock.md names.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "mock.h"
#include "vfio-compat.h"
#include "log.h"
#include "dev.h"
#include "sigpipe.h"

#define FEAT_HDR 8u	/* struct vfio_device_feature without data[] */
#define INFO_MINSZ 16u	/* offsetofend(struct vfio_device_info, num_irqs) */
#define LOG_MAX_RANGES 256u	/* PAGE_SIZE / sizeof(range) on 4 KiB pages */
#define BUG_FLAG (1u << 8)	/* bug=flags: a bit the uAPI does not define */
#define BUG_GROWTH 4096u	/* bug=initial-grows: bytes added per earlier answer */

int mock_inject(struct vfiomig_mock *m, enum mock_kind kind, const struct mock_fail **ret_rule)
{
	const struct mock_fail *hit = NULL;
	uint64_t n;

	mock_lock(m);
	n = ++m->calls[kind];
	for (unsigned int i = 0; i < m->spec.nfails && !hit; i++) {
		const struct mock_fail *f = &m->spec.fails[i];

		if (f->kind == kind && (f->nth == n || (f->every && n > f->nth)))
			hit = f;
	}
	mock_unlock(m);
	if (!hit)
		return 0;
	dbg(m->ctx, "mock %s: injecting errno %d into %s call %" PRIu64,
	    m->spec.name, hit->err, mock_kind_name(kind), n);
	if (ret_rule)
		*ret_rule = hit;
	return -hit->err;
}

/* ---- device ioctls ---- */

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

static int feature_migration(struct vfiomig_mock *m, uint32_t flags,
			     void *data, size_t argsz)
{
	/* bug=flags reports an undefined bit; the state machine never sees it. */
	struct vfio_device_feature_migration mig = {
		.flags = m->spec.mig_flags | (mock_bug(m, MOCK_BUG_FLAGS) ? BUG_FLAG : 0),
	};
	int r = check_feature(flags, argsz, VFIO_DEVICE_FEATURE_GET, sizeof(mig));

	if (r != 1)
		return r;
	memcpy(data, &mig, sizeof(mig));
	return 0;
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
		mig.device_state = m->state;	/* op_lock held */
		mig.data_fd = -1;
	} else {
		int fd;

		r = mock_set_state(m, mig.device_state, &fd);
		/* device_state keeps the requested value, even on failure */
		mig.data_fd = r ? -1 : fd;
	}
	memcpy(data, &mig, sizeof(mig));
	return r;
}

/*
 * vfio_ioctl_device_feature_logging_start(): the core's checks of the
 * ranges, then the driver's log_start: mlx5's tracker (dirtylog=1), or
 * mtty's dummy that accepts anything (dirtylog=dummy).
 */
static int feature_log_start(struct vfiomig_mock *m, uint32_t flags, void *data,
			     size_t argsz)
{
	struct vfio_device_feature_dma_logging_control ctl;
	const struct vfio_device_feature_dma_logging_range *ranges;
	struct mock_range got[LOG_MAX_RANGES];
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
	if (!ranges)
		return -EFAULT;	/* copy_from_user() of page 0; other bad pointers crash */
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
			const struct mock_range *b = &got[j];

			/* interval tree over [iova, iova + length - 1] */
			if (a.iova <= b->iova + b->length - 1 &&
			    b->iova <= a.iova + a.length - 1)
				return -EINVAL;
		}
		got[i] = (struct mock_range){ a.iova, a.length };
	}
	r = mock_inject(m, MOCK_K_LOGSTART, NULL);
	if (!r && m->spec.dirtylog == MOCK_LOG_TRACKER) {
		uint64_t page_size = ctl.page_size;

		r = mock_log_start(m, got, ctl.num_ranges, &page_size);
		ctl.page_size = page_size;
	}
	if (r)
		return r;
	memcpy(data, &ctl, sizeof(ctl));	/* page_size as the driver set it */
	return 0;
}

static int feature_log_report(struct vfiomig_mock *m, uint32_t flags, void *data,
			      size_t argsz)
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
	if (!m->spec.iovabitmap)	/* iova_bitmap.h's stubs: the driver is never asked */
		return -EOPNOTSUPP;
	if (!rep.bitmap)
		return -EFAULT;	/* iova_bitmap_alloc() pins the user's pages first */
	r = mock_inject(m, MOCK_K_LOGREPORT, NULL);
	if (r || m->spec.dirtylog != MOCK_LOG_TRACKER)
		return r;	/* mtty's dummy sets no bits */
	return mock_log_report(m, rep.iova, rep.length, rep.page_size,
			       (uint64_t *)(uintptr_t)rep.bitmap);
}

static int feature_log_stop(struct vfiomig_mock *m, uint32_t flags, size_t argsz)
{
	int r = check_feature(flags, argsz, VFIO_DEVICE_FEATURE_SET, 0);

	if (r != 1)
		return r;
	r = mock_inject(m, MOCK_K_LOGSTOP, NULL);
	if (r || m->spec.dirtylog != MOCK_LOG_TRACKER)
		return r;
	return mock_log_stop(m);
}

/* DMA logging, present with dirtylog=1 or dummy only (the kernel's log_ops). */
static int feature_log(struct vfiomig_mock *m, uint32_t index, uint32_t flags,
		       void *data, size_t argsz)
{
	/* bug=probe-lies: PROBE answers as if START existed; START does not. */
	if (m->spec.dirtylog == MOCK_LOG_NONE && mock_bug(m, MOCK_BUG_PROBE_LIES) &&
	    index == VFIO_DEVICE_FEATURE_DMA_LOGGING_START &&
	    (flags & VFIO_DEVICE_FEATURE_PROBE))
		return check_feature(flags, argsz, VFIO_DEVICE_FEATURE_SET,
				     sizeof(struct vfio_device_feature_dma_logging_control));
	if (m->spec.dirtylog == MOCK_LOG_NONE)
		return -ENOTTY;
	if (index == VFIO_DEVICE_FEATURE_DMA_LOGGING_START)
		return feature_log_start(m, flags, data, argsz);
	if (index == VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT)
		return feature_log_report(m, flags, data, argsz);
	return feature_log_stop(m, flags, argsz);
}

static int feature_data_size(struct vfiomig_mock *m, uint32_t flags,
			     void *data, size_t argsz)
{
	struct vfio_device_feature_mig_data_size ds;
	int r;

	if (!m->spec.datasize)	/* a 6.1 kernel: unknown index */
		return -ENOTTY;
	r = check_feature(flags, argsz, VFIO_DEVICE_FEATURE_GET, sizeof(ds));
	if (r != 1)
		return r;
	r = mock_inject(m, MOCK_K_DATASIZE, NULL);
	if (r)
		return r;
	ds.stop_copy_length = mock_full_stream_size(m);
	if (mock_bug(m, MOCK_BUG_SIZE_LIES))
		ds.stop_copy_length /= 10;
	if (m->spec.garbage_on[MOCK_G_DATASIZE])
		ds.stop_copy_length = m->spec.garbage[MOCK_G_DATASIZE];
	memcpy(data, &ds, sizeof(ds));
	return 0;
}

static int feature_infov2(struct vfiomig_mock *m, uint32_t flags, size_t argsz)
{
	int r;

	if (mock_bug(m, MOCK_BUG_INFOV2_EINVAL))	/* a refusal no kernel gives */
		return -EINVAL;
	if (!m->spec.infov2)	/* kernels before 7.1 */
		return -ENOTTY;
	r = check_feature(flags, argsz, VFIO_DEVICE_FEATURE_SET, 0);
	if (r != 1)
		return r;
	if (!(m->spec.mig_flags & VFIOMIG_MIG_PRE_COPY))
		return -EINVAL;
	m->infov2_on = true;
	return 0;
}

static int device_feature(struct vfiomig_mock *m, void *arg)
{
	struct vfio_device_feature hdr;
	uint8_t *data = (uint8_t *)arg + FEAT_HDR;
	uint32_t known = VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_GET |
			 VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PROBE;
	uint32_t flags, index;
	size_t argsz;

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
	index = flags & VFIO_DEVICE_FEATURE_MASK;

	switch (index) {
	case VFIO_DEVICE_FEATURE_MIGRATION:
		return feature_migration(m, flags, data, argsz);
	case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
		return feature_mig_state(m, flags, data, argsz);
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
		return feature_log(m, index, flags, data, argsz);
	case VFIO_DEVICE_FEATURE_MIG_DATA_SIZE:
		return feature_data_size(m, flags, data, argsz);
	case VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2:
		return feature_infov2(m, flags, argsz);
	default:
		/* vfio-pci's device_feature op; PCI_VF_TOKEN and LOW_POWER_*
		 * need a PF / PM support the mock does not pretend to have. */
		return -ENOTTY;
	}
}

int mock_device_ioctl(struct vfiomig_dev *dev, unsigned long request, void *arg)
{
	struct vfiomig_mock *m = dev->priv;
	int r;

	pthread_mutex_lock(&m->op_lock);
	/* dirtyrate='s writes land when a device op runs, never between. */
	mock_dirty_accrue(m);
	r = mock_inject(m, MOCK_K_ANY, NULL);
	if (r)
		goto out;
	switch (request) {
	case VFIO_DEVICE_GET_INFO:
		r = get_info(m, arg);
		break;
	case VFIO_DEVICE_RESET:
		r = mock_reset(m);
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

/* ---- data fds ---- */

/* Bytes sitting in the pipe; 0 if unknown. */
static uint64_t pipe_bytes(int fd)
{
	int n = 0;

	if (fd < 0 || ioctl(fd, FIONREAD, &n) < 0 || n < 0)
		return 0;
	return (uint64_t)n;
}

/*
 * The counters of a live pre-copy session, m->lock held.  Like mlx5, new
 * pre-copy data is produced only here, only in PRE_COPY (no FW query in
 * PRE_COPY_P2P), and only once the reader has drained everything queued.
 */
/*
 * A round of dirty pages, as mlx5 makes one inside PRECOPY_INFO; round
 * reinit= instead starts the initial image again (every page, counted as
 * initial bytes), as a 7.1 driver reports with REINIT.  true for that one.
 */
static bool dirty_round(struct vfiomig_mock *m, struct mock_session *s)
{
	bool reinit = ++s->rounds == m->spec.reinit_round;
	uint64_t first = 0, k = m->npages;
	int frame;

	if (reinit)
		mock_dirty_all(m);
	else
		k = mock_dirty_round(m, s, &first);
	if (k) {
		/* mlx5: each incremental SAVE is one more FW_DATA image. */
		frame = mock_emit_frame_begin(&s->em, MOCK_MLX5_SAVE_MAX);
		mock_emit_pages(&s->em, first, k);
		mock_emit_frame_end(&s->em, frame);
		pthread_cond_broadcast(&s->cond);
	}
	if (reinit)
		s->initial_end = s->em.queued;
	return reinit;
}

static void precopy_counters(struct vfiomig_mock *m, struct mock_session *s,
			     struct vfio_precopy_info *info)
{
	uint64_t in_pipe = pipe_bytes(s->fd), from, consumed;
	bool reinit = false;

	consumed = s->written > in_pipe ? s->written - in_pipe : 0;
	if (m->state == VFIOMIG_STATE_PRE_COPY &&
	    s->written == s->em.queued && consumed == s->em.queued)
		reinit = dirty_round(m, s);
	info->initial_bytes = s->initial_end > consumed ?
			      s->initial_end - consumed : 0;
	/* bug=initial-grows: initial data that grows without a REINIT. */
	if (mock_bug(m, MOCK_BUG_INITIAL_GROWS))
		info->initial_bytes += BUG_GROWTH * s->infos;
	s->infos++;
	from = consumed > s->initial_end ? consumed : s->initial_end;
	info->dirty_bytes = s->em.queued > from ? s->em.queued - from : 0;
	if (m->infov2_on)
		info->flags = reinit ? VFIO_PRECOPY_INFO_REINIT : 0;	/* else echoed */
	/* garbage=: the counts say nothing, the data flows as before */
	if (m->spec.garbage_on[MOCK_G_INITIAL])
		info->initial_bytes = m->spec.garbage[MOCK_G_INITIAL];
	if (m->spec.garbage_on[MOCK_G_DIRTY])
		info->dirty_bytes = m->spec.garbage[MOCK_G_DIRTY];
}

/* bug=precopy-info-anywhere: the ioctl answers in STOP_COPY too. */
static bool stop_copy_info(const struct vfiomig_mock *m)
{
	return mock_bug(m, MOCK_BUG_PRECOPY_INFO_ANYWHERE) &&
	       m->state == VFIOMIG_STATE_STOP_COPY;
}

/*
 * ...with no initial data and what the reader has not consumed as dirty.
 * The pipe is measured from the reader's end, @data_fd: the pump closes its
 * own end once it has written the whole stream, which may be before this.
 */
static int stop_copy_counters(struct vfiomig_mock *m, struct mock_session *s, int data_fd,
			      struct vfio_precopy_info *info)
{
	uint64_t in_pipe = pipe_bytes(data_fd);
	uint64_t consumed = s->written > in_pipe ? s->written - in_pipe : 0;

	info->initial_bytes = 0;
	info->dirty_bytes = s->em.queued > consumed ? s->em.queued - consumed : 0;
	if (m->infov2_on)
		info->flags = 0;
	return 0;
}

int mock_precopy_info(struct vfiomig_dev *dev, int data_fd, unsigned long request,
		      void *arg)
{
	struct vfiomig_mock *m = dev->priv;
	struct vfio_precopy_info info;
	struct mock_session *s;
	int r;

	pthread_mutex_lock(&m->op_lock);
	r = mock_inject(m, MOCK_K_ANY, NULL);
	if (!r)
		r = mock_session_lookup(m, data_fd, &s);
	if (r)
		goto out;
	/* Resume fds, foreign fds and xe's files (no ioctl op) have no such ioctl. */
	if (!s || !s->save || request != VFIO_MIG_GET_PRECOPY_INFO ||
	    m->spec.personality == MOCK_PERSONA_XE) {
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
	mock_lock(m);
	if (stop_copy_info(m))
		r = s->dead ? -ENODEV : stop_copy_counters(m, s, data_fd, &info);
	else if (m->state != VFIOMIG_STATE_PRE_COPY &&
		 m->state != VFIOMIG_STATE_PRE_COPY_P2P)
		r = -EINVAL;
	else if (s->dead)
		r = -ENODEV;
	else
		precopy_counters(m, s, &info);
	mock_unlock(m);
	if (!r)
		memcpy(arg, &info, sizeof(info));
out:
	pthread_mutex_unlock(&m->op_lock);
	return r;
}

static size_t short_len(struct vfiomig_mock *m, size_t len)
{
	size_t n;

	mock_lock(m);
	n = 1 + m->short_count++ % 7;
	mock_unlock(m);
	return n < len ? n : len;
}

/* The faults and the lookup every library read and write begins with. */
static int data_op_begin(struct vfiomig_mock *m, enum mock_kind kind, int data_fd,
			 struct mock_session **ret)
{
	int r = mock_inject(m, MOCK_K_ANY, NULL);

	if (!r)
		r = mock_inject(m, kind, NULL);
	if (!r)
		r = mock_session_lookup(m, data_fd, ret);
	return r;
}

/*
 * Library reads of an ended session: ENODEV, but bug=ended-fd-alive gives
 * EOF (0) once a terminating arc, not a reset or ERROR, ended it.  m->lock.
 */
static int dead_read(const struct vfiomig_mock *m, const struct mock_session *s)
{
	return mock_bug(m, MOCK_BUG_ENDED_FD_ALIVE) && s->ended_by_arc ? 0 : -ENODEV;
}

/* Whether @s has ended, and then what a library read of it gets (*@ret). */
static bool session_over(struct vfiomig_mock *m, const struct mock_session *s, int *ret)
{
	bool dead;

	mock_lock(m);
	dead = s->dead;
	*ret = dead ? dead_read(m, s) : 0;
	mock_unlock(m);
	return dead;
}

/* Until @fd is ready for @events, hangs up or errs: 0, or -EINTR for a signal. */
static int wait_io(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, -1) < 0 ? -errno : 0;
}

/*
 * personality=xe: the driver's read() ignores O_NONBLOCK and waits, as
 * wait_event_interruptible() does, for the next packet or the end of the
 * stream (EOF after the TRAILER); a signal interrupts it with EINTR.  The
 * session's end closes the mock's end of the pipe, which wakes the wait:
 * ENODEV, never a hang.
 */
static ssize_t read_waiting(struct vfiomig_mock *m, struct mock_session *s, int fd,
			    void *buf, size_t len)
{
	for (;;) {
		ssize_t r = read(fd, buf, len);
		int e;

		if (r > 0)
			return r;
		if (r < 0 && errno != EAGAIN)
			return -errno;
		if (session_over(m, s, &e))
			return e;
		if (r == 0)
			return 0;
		e = wait_io(fd, POLLIN);
		if (e)
			return e;
	}
}

ssize_t mock_data_read(struct vfiomig_dev *dev, int data_fd, void *buf, size_t len)
{
	struct vfiomig_mock *m = dev->priv;
	struct mock_session *s;
	bool eom = false, dead;
	ssize_t r;
	int e;

	e = data_op_begin(m, MOCK_K_READ, data_fd, &s);
	if (e)
		return e;
	if (s) {
		mock_lock(m);
		dead = s->dead;
		if (dead)
			e = dead_read(m, s);
		else if (s->save && s->precopy && s->written == s->em.queued &&
			 pipe_bytes(s->fd) == 0)
			eom = true;	/* the temporary end of a PRE_COPY stream */
		mock_unlock(m);
		if (dead)
			return e;
		if (eom)
			return m->spec.eom_zero ? 0 : -ENOMSG;
	}
	if (m->spec.short_read)
		len = short_len(m, len);
	if (s && s->save && mock_io_waits(m))
		r = read_waiting(m, s, data_fd, buf, len);
	else if ((r = read(data_fd, buf, len)) < 0)
		r = -errno;
	if (r == 0 && s && s->save && mock_bug(m, MOCK_BUG_NO_EOF))
		return -ENOMSG;	/* bug=no-eof: the final end looks temporary */
	return r;
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

	mock_lock(m);
	trial = s->framing;
	in_header = trial.phase == MOCK_PARSE_HEADER;
	mock_unlock(m);
	mock_parser_feed(&trial, buf, len);
	if (trial.past_end)
		return -ENOMEM;
	r = write(data_fd, buf, len);
	if (r <= 0)
		return r < 0 ? -errno : r;
	mock_lock(m);
	mock_parser_feed(&s->framing, buf, (size_t)r);
	/* A failed parse stops where it failed: within the header, or later. */
	header_failed = s->framing.phase == MOCK_PARSE_FAILED && s->framing.pos <= MOCK_HDR_SIZE;
	mock_unlock(m);
	return in_header && header_failed ? -EFAULT : r;
}

/*
 * personality=mlx5: mlx5vf_resume_write() parses the records as they come
 * and loads each as it completes, so a bad one fails that write() (ENOMEM
 * oversize, EOPNOTSUPP unknown mandatory tag), and the file stays in error:
 * ENODEV for every write after.  A trial parse decides before any byte
 * reaches the device, so a failing write takes nothing.
 */
static ssize_t resume_write_mlx5(struct vfiomig_mock *m, struct mock_session *s,
				 int data_fd, const void *buf, size_t len)
{
	struct mock_mlx5_rx trial;
	ssize_t r;
	int e;

	mock_lock(m);
	trial = s->rx_write;
	mock_unlock(m);
	if (trial.err)
		return -ENODEV;
	e = mock_mlx5_rx_feed(&trial, buf, len, NULL, NULL);
	if (e) {
		mock_lock(m);
		s->rx_write = trial;
		mock_unlock(m);
		dbg(m->ctx, "mock %s: write refused: %s", m->spec.name, trial.why);
		return e;
	}
	r = write(data_fd, buf, len);
	if (r <= 0)
		return r < 0 ? -errno : r;
	mock_lock(m);
	mock_mlx5_rx_feed(&s->rx_write, buf, (size_t)r, NULL, NULL);
	mock_unlock(m);
	return r;
}

/*
 * personality=xe: the driver's write() takes every byte or fails,
 * whatever O_NONBLOCK says: it waits for room (restore_produce() waits for
 * the ring).  The session's end closes the mock's end of the pipe, which
 * wakes the wait: ENODEV.  A SIGPIPE that closing raced with is taken
 * back.  A signal interrupts the wait only before the first byte.
 */
static int write_whole(struct vfiomig_mock *m, struct mock_session *s, int fd,
		       const uint8_t *p, size_t len)
{
	struct sigpipe_guard guard;
	size_t done = 0;
	int e = 0;

	sigpipe_block(&guard);
	while (done < len && !e) {
		ssize_t w;

		if (session_over(m, s, &e)) {
			e = -ENODEV;
			break;
		}
		w = write(fd, p + done, len - done);
		if (w > 0)
			done += (size_t)w;
		else if (w < 0 && errno == EAGAIN)
			e = wait_io(fd, POLLOUT);
		else if (w < 0 && errno == EPIPE)
			e = -ENODEV;	/* the session ended as we wrote */
		else if (w < 0)
			e = -errno;
		if (e == -EINTR && done)
			e = 0;
	}
	sigpipe_restore(&guard);
	return e;
}

/*
 * personality=xe: xe-vfio-pci reads the packets as they come and checks
 * each header when whole and each packet when its payload is (mock-xe.c),
 * so a bad one fails that write() with the driver's errno; the next write
 * starts a new packet.  A trial parse decides before any byte reaches the
 * device, so a failing write takes nothing (the driver keeps the packets
 * of that write before the bad one).
 */
static ssize_t resume_write_xe(struct vfiomig_mock *m, struct mock_session *s, int data_fd,
			       const void *buf, size_t len)
{
	struct mock_xe_rx trial;
	int e;

	mock_lock(m);
	trial = s->xe_write;
	mock_unlock(m);
	e = mock_xe_rx_feed(&trial, buf, len, NULL, NULL);
	if (e)
		dbg(m->ctx, "mock %s: write refused: %s", m->spec.name, trial.why);
	/* Not all taken (a signal, the session's end): a retry parses them again. */
	else if ((e = write_whole(m, s, data_fd, buf, len)) < 0)
		return e;
	mock_lock(m);
	s->xe_write = trial;
	mock_unlock(m);
	return e ? e : (ssize_t)len;
}

ssize_t mock_data_write(struct vfiomig_dev *dev, int data_fd, const void *buf, size_t len)
{
	struct vfiomig_mock *m = dev->priv;
	struct mock_session *s;
	ssize_t r;
	int e;

	e = data_op_begin(m, MOCK_K_WRITE, data_fd, &s);
	if (e)
		return e;
	if (s) {
		mock_lock(m);
		e = s->dead ? -ENODEV : 0;
		mock_unlock(m);
		if (e)
			return e;
	}
	/* bug=write-split: a driver that wants a whole 8-byte word per write. */
	if (s && !s->save && len < 8 && mock_bug(m, MOCK_BUG_WRITE_SPLIT))
		return -EINVAL;
	if (m->spec.short_write)
		len = short_len(m, len);
	/* bug=accepts-garbage: write() checks nothing. */
	if (s && !s->save && mock_bug(m, MOCK_BUG_ACCEPTS_GARBAGE))
		s = NULL;
	if (s && !s->save && m->spec.personality == MOCK_PERSONA_MLX5)
		return resume_write_mlx5(m, s, data_fd, buf, len);
	if (s && !s->save && m->spec.personality == MOCK_PERSONA_XE)
		return resume_write_xe(m, s, data_fd, buf, len);
	if (s && !s->save)
		return resume_write(m, s, data_fd, buf, len);
	r = write(data_fd, buf, len);
	return r < 0 ? -errno : r;
}
