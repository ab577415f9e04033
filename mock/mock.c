// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The mock transport: an in-process double of a kernel VFIO migration
 * device (docs/mock.md; mock.h lists its parts).  This file opens and
 * adopts mocks and keeps each ctx's registry of them, so that adopt can
 * recognise their placeholder fds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mock.h"
#include "vendor.h"
#include "context.h"
#include "call.h"
#include "log.h"
#include "states.h"
#include "dev.h"
#include "util.h"
#include "transport.h"

/* The pipes of the newest sessions of freed mocks (mock_pipe_buried()). */
#define MOCK_BURIED_MAX 64

/* The mock devices alive in a ctx. */
struct mock_ctx {
	pthread_mutex_t lock;		/* all of it, and every mock's refcount */
	struct vfiomig_mock *mocks;
	struct vfiomig_mock_arc journal[VFIOMIG_MOCK_JOURNAL_MAX];	/* a ring */
	size_t journal_next, journal_count;
	struct { dev_t dev; ino_t ino; } buried[MOCK_BURIED_MAX];	/* a ring */
	size_t buried_next;
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

static void mock_free(struct vfiomig_mock *m)
{
	mock_sessions_free(m);
	mock_dirty_free(m);	/* the last handle's close ends DMA logging */
	pthread_mutex_destroy(&m->lock);
	pthread_mutex_destroy(&m->op_lock);
	free(m->gen);
	free(m);
}

/*
 * Devices hold the ctx, so the only mocks left when this runs are the
 * closed ones bug=keeps-state keeps for a reopen.  Freeing them logs
 * nothing, so the ctx going away around them does not matter.
 */
static void mock_ctx_free(void *state)
{
	struct mock_ctx *mc = state;
	struct vfiomig_mock *m, *next;

	for (m = mc->mocks; m; m = next) {
		next = m->next;
		mock_free(m);
	}
	pthread_mutex_destroy(&mc->lock);
	free(mc);
}

/*
 * bug=keeps-state: the last close, like mtty's, leaves the migration
 * state alone, but still ends every session (unless keeps-sessions) and,
 * as mlx5's close does, DMA logging.  The mock stays listed, closed, for
 * a reopen of its NAME; op_lock before the list's lock, as elsewhere.
 */
static void mock_keep(struct mock_ctx *mc, struct vfiomig_mock *m)
{
	pthread_mutex_lock(&m->op_lock);
	if (!mock_bug(m, MOCK_BUG_KEEPS_SESSIONS))
		mock_sessions_end(m);
	if (m->spec.dirtylog == MOCK_LOG_TRACKER)
		mock_log_stop(m);
	pthread_mutex_unlock(&m->op_lock);
	pthread_mutex_lock(&mc->lock);
	m->kept = true;
	pthread_mutex_unlock(&mc->lock);
}

/*
 * A closed device's files are disabled (mtty_disable_files(),
 * mlx5vf_disable_fds()): their fds give ENODEV, whichever handle asks.
 * The mock's sessions go with it, so their pipes are remembered here.
 * mc->lock held; m->sessions is read without m's lock because the last
 * handle is gone: no call can add a session any more.
 */
static void bury_sessions(struct mock_ctx *mc, struct vfiomig_mock *m)
{
	for (struct mock_session *s = m->sessions; s; s = s->next) {
		mc->buried[mc->buried_next].dev = s->pipe_dev;
		mc->buried[mc->buried_next].ino = s->pipe_ino;
		mc->buried_next = (mc->buried_next + 1) % MOCK_BURIED_MAX;
	}
}

bool mock_pipe_buried(struct vfiomig_ctx *ctx, dev_t dev, ino_t ino)
{
	struct mock_ctx *mc = mctx(ctx);
	bool found = false;

	pthread_mutex_lock(&mc->lock);
	for (size_t i = 0; i < MOCK_BURIED_MAX && !found; i++)
		found = mc->buried[i].ino == ino && mc->buried[i].dev == dev && ino;
	pthread_mutex_unlock(&mc->lock);
	return found;
}

/* The last handle unlinks the mock under the list's lock, so that an adopt
 * racing with it either finds it with a reference or not at all. */
static void mock_release(struct vfiomig_dev *dev)
{
	struct vfiomig_mock *m = dev->priv, **pp;
	struct mock_ctx *mc = mctx(dev->ctx);
	bool last, keep;

	dev->priv = NULL;
	if (!m)
		return;
	pthread_mutex_lock(&mc->lock);
	last = --m->refcount == 0;
	keep = last && mock_bug(m, MOCK_BUG_KEEPS_STATE);
	for (pp = &mc->mocks; last && !keep && *pp; pp = &(*pp)->next) {
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	}
	if (last && !keep)
		bury_sessions(mc, m);
	pthread_mutex_unlock(&mc->lock);
	if (keep)
		mock_keep(mc, m);
	else if (last)
		mock_free(m);
}

/* A closed mock of @name that bug=keeps-state kept, now with a handle. */
static struct vfiomig_mock *claim_kept(struct mock_ctx *mc, const char *name)
{
	struct vfiomig_mock *m;

	pthread_mutex_lock(&mc->lock);
	for (m = mc->mocks; m; m = m->next)
		if (m->kept && !strcmp(m->spec.name, name))
			break;
	if (m) {
		m->kept = false;
		m->refcount = 1;
	}
	pthread_mutex_unlock(&mc->lock);
	return m;
}

/* A reopen that failed puts the device back as it was: closed, kept. */
static void unclaim(struct mock_ctx *mc, struct vfiomig_mock *m)
{
	pthread_mutex_lock(&mc->lock);
	m->refcount = 0;
	m->kept = true;
	pthread_mutex_unlock(&mc->lock);
}

static void attach(struct vfiomig_dev *dev, struct vfiomig_mock *m)
{
	dev->priv = m;
	/*
	 * The mock's bytes are its own, whatever identity it pretends, except
	 * with another personality: its stream is then that driver's (mlx5,
	 * xe), whose backend bears the personality's name.
	 */
	dev->backend = m->spec.personality == MOCK_PERSONA_MOCK ? &vfiomig_vendor_mock :
		       vfiomig_vendor_find(NULL, mock_personality_name(m->spec.personality));
	dev->id = m->spec.id;
}

/* The device from its spec, in the state the spec gives, not yet listed. */
static int mock_new(struct vfiomig_ctx *ctx, const char *params,
		    struct vfiomig_mock **ret)
{
	struct vfiomig_mock *m = calloc(1, sizeof(*m));
	int r;

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
	m->ctx = ctx;
	r = mock_dirty_init(m);
	if (r) {
		if (r == -EINVAL)
			vfiomig_note_fact(ctx, CALL_FACT_BAD_SPEC);
		free(m->gen);
		free(m);
		return r;
	}
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->op_lock, NULL);
	m->state = m->spec.state;
	m->seed = mock_seed_from_name(m->spec.name);
	snprintf(m->devname, sizeof(m->devname), "mock:%s", m->spec.name);
	*ret = m;
	return 0;
}

/* A memfd stands for the device fd: no ioctl reaches it, but its identity
 * lets adopt recognise it. */
static int placeholder_fd(struct vfiomig_mock *m, struct stat *st)
{
	char name[96];
	int fd, r;

	snprintf(name, sizeof(name), "vfiomig-mock:%s", m->spec.name);
	fd = memfd_create(name, MFD_CLOEXEC);
	if (fd >= 0 && fstat(fd, st) == 0)
		return fd;
	r = -errno;
	if (fd >= 0)
		close(fd);
	return vfiomig_fail(m->ctx, r, "mock %s: cannot create the placeholder "
			    "device fd: %s", m->spec.name, strerror(-r));
}

/* A handle on @m, with a new placeholder fd; 0 or -errno. */
static int open_handle(struct vfiomig_ctx *ctx, struct vfiomig_mock *m,
		       struct vfiomig_dev **ret)
{
	struct mock_ctx *mc = mctx(ctx);
	struct stat st;
	int fd, r;

	fd = r = placeholder_fd(m, &st);
	if (r >= 0)
		r = vfiomig_dev_new(ctx, &vfiomig_mock_transport, "mock", fd, true,
				    m->devname, ret);
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	/* adopt reads the identity under the list's lock */
	pthread_mutex_lock(&mc->lock);
	m->st_dev = st.st_dev;
	m->st_ino = st.st_ino;
	pthread_mutex_unlock(&mc->lock);
	attach(*ret, m);
	return 0;
}

/*
 * bug=keeps-state: a reopen of a closed device's NAME finds it as it was
 * left, with the spec it was made with (the new spec's other keys are not
 * used).  0 and *@ret, 1 if there is no such device, or -errno.
 */
static int reopen_kept(struct vfiomig_ctx *ctx, const struct mock_spec *spec,
		       struct vfiomig_dev **ret)
{
	struct mock_ctx *mc = mctx(ctx);
	struct vfiomig_mock *m;
	int r;

	if (!(spec->bugs & (1u << MOCK_BUG_KEEPS_STATE)))
		return 1;
	m = claim_kept(mc, spec->name);
	if (!m)
		return 1;
	r = open_handle(ctx, m, ret);
	if (r < 0) {
		unclaim(mc, m);
		return r;
	}
	dbg(ctx, "mock %s: reopened in %s", m->spec.name, vfiomig_state_str(m->state));
	return 0;
}

int vfiomig_mock_open(struct vfiomig_ctx *ctx, const char *params, struct vfiomig_dev **ret)
{
	struct mock_ctx *mc = mctx(ctx);
	struct vfiomig_mock *m = NULL;
	int r;

	r = mock_new(ctx, params, &m);
	if (!r)
		r = reopen_kept(ctx, &m->spec, ret);
	if (r <= 0) {
		if (m)
			mock_free(m);
		return r;
	}
	r = open_handle(ctx, m, ret);
	if (r < 0) {
		mock_free(m);
		return r;
	}
	m->refcount = 1;
	pthread_mutex_lock(&mc->lock);
	m->next = mc->mocks;
	mc->mocks = m;
	pthread_mutex_unlock(&mc->lock);
	dbg(ctx, "mock %s: %" PRIu64 " %s, flags 0x%" PRIx64 ", state %" PRIu32 " (%s)",
	    m->spec.name, m->spec.size, plural(m->spec.size, "byte", "bytes"), m->spec.mig_flags,
	    m->state,
	    vfiomig_state_str(m->state));
	return 0;
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
	for (m = mc->mocks; m; m = m->next)	/* a closed, kept one has no fd */
		if (m->refcount && m->st_dev == st.st_dev && m->st_ino == st.st_ino)
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

void mock_journal_add(struct vfiomig_mock *m, enum vfiomig_state from, enum vfiomig_state to,
		      uint64_t begin_ns)
{
	struct mock_ctx *mc = mctx(m->ctx);
	struct vfiomig_mock_arc a = { .from = from, .to = to, .begin_ns = begin_ns, .end_ns = now_ns() };

	snprintf(a.device, sizeof(a.device), "%s", m->devname);
	pthread_mutex_lock(&mc->lock);
	mc->journal[mc->journal_next] = a;
	mc->journal_next = (mc->journal_next + 1) % VFIOMIG_MOCK_JOURNAL_MAX;
	if (mc->journal_count < VFIOMIG_MOCK_JOURNAL_MAX)
		mc->journal_count++;
	pthread_mutex_unlock(&mc->lock);
}

VFIOMIG_MOCK_API size_t vfiomig_mock_journal(struct vfiomig_ctx *ctx,
					     struct vfiomig_mock_arc *out, size_t max)
{
	struct mock_ctx *mc = ctx ? mctx(ctx) : NULL;
	size_t n, first;

	if (!mc)
		return 0;
	pthread_mutex_lock(&mc->lock);
	n = mc->journal_count;
	first = (mc->journal_next + VFIOMIG_MOCK_JOURNAL_MAX - n) % VFIOMIG_MOCK_JOURNAL_MAX;
	for (size_t i = 0; i < n && i < max; i++)
		if (out)
			out[i] = mc->journal[(first + i) % VFIOMIG_MOCK_JOURNAL_MAX];
	pthread_mutex_unlock(&mc->lock);
	return n;
}

VFIOMIG_MOCK_API void vfiomig_mock_journal_clear(struct vfiomig_ctx *ctx)
{
	struct mock_ctx *mc = ctx ? mctx(ctx) : NULL;

	if (!mc)
		return;
	pthread_mutex_lock(&mc->lock);
	mc->journal_next = mc->journal_count = 0;
	pthread_mutex_unlock(&mc->lock);
}

VFIOMIG_MOCK_API unsigned int vfiomig_mock_count(struct vfiomig_ctx *ctx)
{
	struct mock_ctx *mc = ctx ? mctx(ctx) : NULL;
	unsigned int n = 0;

	if (!mc)
		return 0;
	pthread_mutex_lock(&mc->lock);
	for (struct vfiomig_mock *m = mc->mocks; m; m = m->next)
		n += m->refcount > 0;	/* not the closed ones keeps-state keeps */
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

VFIOMIG_MOCK_API int vfiomig_mock_attach(struct vfiomig_ctx *ctx)
{
	int r;

	if (!ctx)
		return -EINVAL;
	r = vfiomig_ctx_attach_transport(ctx, &vfiomig_mock_transport);
	if (r == 0)
		r = vfiomig_ctx_attach_backend(ctx, &vfiomig_vendor_mock);
	return r;
}
