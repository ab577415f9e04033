/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The mock transport: an in-process double of a kernel VFIO migration
 * device (docs/mock.md).  Its parts, one job each:
 *
 *   mock.c          open and adopt, the transport, the ctx's registry
 *   mock-spec.c     the "mock:NAME,key=value" parser
 *   mock-ioctl.c    the transport ops: ioctl decoding, data-fd I/O, faults
 *   mock-fsm.c      the state machine: the kernel's table, arcs, reset
 *   mock-session.c  data fds: sessions and their pump threads
 *   mock-content.c  the stream: format, generator, records and emitter
 *   mock-parser.c   the stream read back by a resuming device
 *   mock-mlx5.c     personality=mlx5: the records a resuming device reads
 *   mock-xe.c       personality=xe: the packets a resuming device reads
 *   mock-dirty.c    DMA logging (dirtylog=1) and the device's own DMA
 *
 * Locking.  op_lock serialises device operations (the ops on the device
 * fd and PRECOPY_INFO), as a driver's state mutex does; only its holder
 * changes the device's state or starts and stops sessions.  lock guards
 * what the pumps and the data-fd reads and writes share with it, and is
 * never held across a sleep or a blocking call.
 */
#ifndef VFIOMIG_MOCK_INTERNAL_H
#define VFIOMIG_MOCK_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <vfiomig/mock.h>

#include "identity.h"
#include "transport.h"
#include "mock-content.h"

#define MOCK_NAME_MAX VFIOMIG_MOCK_NAME_MAX
#define MOCK_DRIVER_MAX 63	/* driver=, as documented */
#define MOCK_FAIL_MAX 8
#define MOCK_BUG_MAX 8		/* bug= keys in one spec */
#define MOCK_RATE_MAX (64ull << 30)	/* rate=, bytes a second */
#define MOCK_REINIT_MAX 1000000u	/* reinit=, a round number */
#define MOCK_PLAN_MAX 8			/* dirtyplan=: its steps */
#define MOCK_ARC_MAX_NS (60ull * 1000000000u)	/* arc= */
#define MOCK_LOG_MAX_RANGES 256u	/* the core's LOG_MAX_RANGES on 4 KiB pages */
#define MOCK_DIRTYRATE_MAX 10000000u	/* dirtyrate=, writes a second */
#define MOCK_DIRTY_MAX_PAGES (1u << 20)	/* logged pages before the tracker fails */

/* Kinds of call that fail= can target. */
enum mock_kind {
	MOCK_K_SET,
	MOCK_K_GET,
	MOCK_K_RESET,
	MOCK_K_PRECOPY,
	MOCK_K_READ,
	MOCK_K_WRITE,
	MOCK_K_DATASIZE,
	MOCK_K_FEATURE,
	MOCK_K_LOGSTART,
	MOCK_K_LOGREPORT,
	MOCK_K_LOGSTOP,
	MOCK_K_ANY,
	MOCK_K_COUNT
};

/*
 * bug=: one protocol rule the device breaks on purpose, so that a
 * conformance check can be shown to fail (docs/mock.md, *Deliberately
 * broken rules*).  Bits of mock_spec.bugs.
 */
enum mock_bug {
	MOCK_BUG_FLAGS,
	MOCK_BUG_SIZE_LIES,
	MOCK_BUG_PROBE_LIES,
	MOCK_BUG_INFOV2_EINVAL,
	MOCK_BUG_WRONG_ARC,
	MOCK_BUG_ACCEPTS_ERROR,
	MOCK_BUG_FAILED_SET_WRONG,
	MOCK_BUG_NO_EOF,
	MOCK_BUG_PRECOPY_INFO_ANYWHERE,
	MOCK_BUG_INITIAL_GROWS,
	MOCK_BUG_ENDED_FD_ALIVE,
	MOCK_BUG_WRITE_SPLIT,
	MOCK_BUG_RESET_STICKS,
	MOCK_BUG_RESET_KEEPS_FDS,
	MOCK_BUG_NO_RUN_AFTER_LOAD,
	MOCK_BUG_LOAD_ONCE,
	MOCK_BUG_ACCEPTS_TRUNCATED,
	MOCK_BUG_ACCEPTS_GARBAGE,
	MOCK_BUG_KEEPS_STATE,
	MOCK_BUG_KEEPS_SESSIONS,
	/* requests that crash some kernels: the mock aborts the process */
	MOCK_BUG_HANG_ARC,
	MOCK_BUG_STALE_OOPS,
	MOCK_BUG_COUNT
};

/* Where a failed SET leaves the device: MOCK_LEAVE_STATE is a number of
 * mock_fail.leave_state, a state of a newer kernel (8 or more). */
enum mock_leave { MOCK_LEAVE_UNCHANGED, MOCK_LEAVE_MID, MOCK_LEAVE_ERROR, MOCK_LEAVE_STATE };

/* garbage=: the driver answers a size that means nothing. */
enum mock_garbage { MOCK_G_DATASIZE, MOCK_G_INITIAL, MOCK_G_DIRTY, MOCK_G_COUNT };

/* dirtylog=: no log_ops, mlx5's tracker, or mtty's stubs. */
enum mock_log { MOCK_LOG_NONE, MOCK_LOG_TRACKER, MOCK_LOG_DUMMY };

/* personality=: whose driver the device plays, stream and all. */
enum mock_personality { MOCK_PERSONA_MOCK, MOCK_PERSONA_MLX5, MOCK_PERSONA_XE, MOCK_PERSONA_COUNT };

/* A DMA range, [iova, iova + length). */
struct mock_range {
	uint64_t iova, length;
};

struct mock_fail {
	enum mock_kind kind;
	uint64_t nth;			/* 1-based */
	bool every;			/* N+: call @nth and every one after it */
	int err;			/* positive errno */
	enum mock_leave leave;
	uint32_t leave_state;		/* MOCK_LEAVE_STATE's number */
};

/* What the spec asks for; never changes once the mock is open. */
struct mock_spec {
	char name[MOCK_NAME_MAX + 1];
	uint64_t mig_flags;		/* as VFIO_DEVICE_FEATURE_MIGRATION reports them */
	uint32_t state;			/* the initial one; 8 or more is a newer kernel's */
	uint64_t size;
	uint64_t dirty;
	/* dirtyplan=: bytes a second the running device dirties, step by
	 * step; each step lasts until_ns into the session (the last: on) */
	struct mock_plan_step {
		uint64_t rate, until_ns;
	} plan[MOCK_PLAN_MAX];
	unsigned int nplan;
	bool eom_zero;
	bool datasize, resetflag, infov2;
	enum mock_log dirtylog;
	bool iovabitmap;		/* iovabitmap=0: a kernel without CONFIG_IOMMUFD_DRIVER */
	uint64_t dirtyrate;		/* DMA writes a second while running */
	int dmafd;			/* dmafd=: the caller's fd number, or -1 */
	uint32_t logranges;		/* most ranges tracked; 0: the core's 256 */
	unsigned int logspan_min, logspan_max;	/* log2 of the tracked span */
	unsigned int logpage_min, logpage_max;	/* log2 of the tracker page */
	uint64_t reinit_round;		/* reinit=: 0 never */
	struct vfiomig_identity id;	/* what the device pretends to be */
	struct mock_fail fails[MOCK_FAIL_MAX];
	unsigned int nfails;
	bool short_read, short_write;
	uint64_t rate;			/* bytes a second through the pumps; 0: unlimited */
	uint64_t arc_ns;		/* how long each arc of a SET takes; 0: no time */
	enum mock_personality personality;
	uint32_t bugs;			/* bug=: 1 << enum mock_bug */
	unsigned int nbugs;		/* bug= keys given */
	/* garbage=: what MIG_DATA_SIZE and PRECOPY_INFO answer instead */
	bool garbage_on[MOCK_G_COUNT];
	uint64_t garbage[MOCK_G_COUNT];
};

/*
 * One data fd's session: a pipe whose other end the caller holds.  Fields
 * marked "lock" are under the mock's lock; "pump" ones belong to the pump
 * thread while it runs and to the op_lock holder otherwise; the rest are
 * set before the session is published and never change.
 */
struct mock_session {
	struct mock_session *next;
	struct vfiomig_mock *mock;
	bool save;
	dev_t pipe_dev;		/* identity of the pipe, to recognise the fd */
	ino_t pipe_ino;
	bool dead;		/* lock: ended, library I/O gets ENODEV */
	bool ended_by_arc;	/* lock: a terminating arc ended it (bug=ended-fd-alive) */
	int fd;			/* lock: the mock's end (non-blocking), or -1 */
	int kill_fd;		/* pump: eventfd that wakes the pump to stop */
	pthread_t thread;	/* op_lock */
	bool running;		/* op_lock: pump thread started and not joined */
	bool stop;		/* lock: the pump must exit */
	pthread_cond_t cond;	/* wakes the save pump when data is queued */
	uint8_t *buf;		/* pump */
	uint64_t pace_ns;	/* pump: rate=, when the device is done with what it moved */

	/* save; all lock */
	struct mock_emitter em;
	bool precopy;		/* device is in PRE_COPY or PRE_COPY_P2P */
	bool complete;		/* end segment queued */
	uint64_t written;	/* stream bytes written into the pipe */
	uint64_t initial_end;	/* stream offset where the initial image ends */
	uint64_t rounds;	/* dirty rounds made so far */
	uint64_t infos;		/* PRECOPY_INFO answers in pre-copy (bug=initial-grows) */
	uint64_t plan_begin_ns;	/* dirtyplan=: when the session opened */
	uint64_t plan_done_ns;	/* ...until when its dirtying was queued */
	uint64_t plan_carry;	/* ...bytes dirtied but short of a whole page */

	/* resume */
	struct mock_parser parser;	/* pump */
	struct mock_parser framing;	/* lock: what the writer wrote, for write()'s errors */
	struct mock_mlx5_rx rx;		/* pump: personality=mlx5's records */
	struct mock_mlx5_rx rx_write;	/* lock: the same, as write() saw them */
	struct mock_xe_rx xe;		/* pump: personality=xe's packets */
	struct mock_xe_rx xe_write;	/* lock: the same, as write() saw them */
	bool writer_gone;	/* pump: EOF, every write end closed */
	uint64_t consumed;	/* pump */
};

/*
 * DMA logging (mock-dirty.c).  All op_lock: only device ops and the test
 * commands touch it, and they hold that lock.
 */
struct mock_dirty {
	bool active;			/* a START is in force */
	bool err;			/* sticky tracker error: REPORT gives EIO */
	unsigned int shift;		/* log2 of the tracker page size */
	struct mock_range req[MOCK_LOG_MAX_RANGES];	/* as asked, sorted */
	uint64_t req_words[MOCK_LOG_MAX_RANGES];	/* 8-byte words up to req[i]'s end */
	uint32_t nreq;
	struct mock_range merged[MOCK_LOG_MAX_RANGES];	/* what is tracked */
	uint32_t nmerged;
	uint64_t *set;			/* logged tracker pages, open addressing */
	size_t cap, used, tombs;
	uint64_t prng;			/* dirtyrate='s addresses */
	uint64_t last_ns;		/* dirtyrate= accrued up to here */
	uint64_t carry;			/* dirtyrate= remainder, in writes x 1e9 */
	uint64_t seq;			/* the last DMA write's sequence number */
	int dmafd;			/* our dup of dmafd=, or -1 */
};

/* The device.  Shared by every dev handle that opened or adopted it. */
struct vfiomig_mock {
	struct vfiomig_mock *next;	/* the ctx's list of mocks */
	struct vfiomig_ctx *ctx;	/* borrowed: every handle holds a ref */
	int refcount;			/* dev handles, under the list's lock */
	bool kept;			/* list's lock: closed, kept for a reopen (bug=keeps-state) */
	pthread_mutex_t op_lock;
	pthread_mutex_t lock;
	struct mock_spec spec;
	char devname[64];
	dev_t st_dev;			/* identity of the placeholder fd */
	ino_t st_ino;
	uint64_t npages;

	/* Changed with both locks held, so either one is enough to read them. */
	uint32_t state;			/* the kernel's u32: 8 or more is a newer kernel's */
	struct mock_session *active;	/* the live session, if any */
	/* lock */
	uint64_t seed;
	uint32_t *gen;			/* per 64 KiB page */
	uint64_t dirty_cursor;
	uint64_t calls[MOCK_K_COUNT];
	uint64_t short_count;
	struct mock_session *sessions;	/* live and ended, newest first */
	bool infov2_on;			/* op_lock */
	bool loaded_stop;		/* op_lock: in STOP after a load (bug=no-run-after-load) */
	uint64_t loads;			/* op_lock: successful RESUMING -> STOP (bug=load-once) */
	struct mock_dirty dirty;	/* op_lock */
};

static inline bool mock_bug(const struct vfiomig_mock *m, enum mock_bug b)
{
	return m->spec.bugs & (1u << b);
}

/* The length of a complete STOP -> STOP_COPY stream: what MIG_DATA_SIZE says. */
static inline uint64_t mock_full_stream_size(const struct vfiomig_mock *m)
{
	switch (m->spec.personality) {
	case MOCK_PERSONA_MLX5:
		return mock_mlx5_stream_size(m->spec.size);
	case MOCK_PERSONA_XE:
		return mock_xe_stream_size(m->spec.size);
	default:
		return mock_stream_size(m->spec.size);
	}
}

/*
 * personality=xe: xe-vfio-pci reuses STOP for RUNNING_P2P, as the VF
 * cannot block only its outgoing peer-to-peer DMA, and its data fds'
 * read() and write() wait whatever O_NONBLOCK says.
 */
static inline bool mock_p2p_suspends(const struct vfiomig_mock *m)
{
	return m->spec.personality == MOCK_PERSONA_XE;
}

static inline bool mock_io_waits(const struct vfiomig_mock *m)
{
	return m->spec.personality == MOCK_PERSONA_XE;
}

static inline void mock_lock(struct vfiomig_mock *m)
{
	pthread_mutex_lock(&m->lock);
}

static inline void mock_unlock(struct vfiomig_mock *m)
{
	pthread_mutex_unlock(&m->lock);
}

extern const struct vfiomig_transport vfiomig_mock_transport;
/* vendor-mock.c: the parser of the mock's stream, attached with the transport. */
extern const struct vfiomig_vendor_ops vfiomig_vendor_mock;

/* mock.c: the transport's open (@params after "mock:") and adopt (-ENOENT
 * for an fd that is no mock of @ctx). */
int vfiomig_mock_open(struct vfiomig_ctx *ctx, const char *params, struct vfiomig_dev **ret);
int vfiomig_mock_adopt(struct vfiomig_ctx *ctx, int fd, struct vfiomig_dev **ret);

/*
 * The journal (vfiomig_mock_journal()): every arc any mock of a ctx
 * completed, and when, the newest VFIOMIG_MOCK_JOURNAL_MAX.
 */
void mock_journal_add(struct vfiomig_mock *m, enum vfiomig_state from, enum vfiomig_state to,
		      uint64_t begin_ns);
/* Whether the pipe is a session's of a mock of @ctx that was freed since. */
bool mock_pipe_buried(struct vfiomig_ctx *ctx, dev_t dev, ino_t ino);

/* mock-spec.c: parses "NAME[,key=value...]"; -EINVAL via vfiomig_fail(). */
int mock_spec_parse(struct vfiomig_ctx *ctx, const char *params,
		    struct mock_spec *spec);
const char *mock_kind_name(enum mock_kind k);
const char *mock_bug_name(enum mock_bug b);
/* "mock", "mlx5", "xe": also the name of the vendor backend of its stream. */
const char *mock_personality_name(enum mock_personality p);

/* mock-ioctl.c: the transport ops on @dev's mock. */
int mock_device_ioctl(struct vfiomig_dev *dev, unsigned long request, void *arg);
int mock_precopy_info(struct vfiomig_dev *dev, int data_fd, unsigned long request,
		      void *arg);
ssize_t mock_data_read(struct vfiomig_dev *dev, int data_fd, void *buf, size_t len);
ssize_t mock_data_write(struct vfiomig_dev *dev, int data_fd, const void *buf, size_t len);
/* Counts a call of @kind; -errno if fail= picks it, and the rule in
 * *@ret_rule (where a SET leaves the device). */
int mock_inject(struct vfiomig_mock *m, enum mock_kind kind, const struct mock_fail **ret_rule);

/* mock-fsm.c, with op_lock held: SET MIG_DEVICE_STATE and VFIO_DEVICE_RESET. */
int mock_set_state(struct vfiomig_mock *m, uint32_t target, int *ret_fd);
int mock_reset(struct vfiomig_mock *m);

/* mock-session.c.  New, end, stop-copy and finish-resume: op_lock held. */
int mock_session_new(struct vfiomig_mock *m, bool save, bool precopy, int *ret_fd);
void mock_session_end(struct vfiomig_mock *m, struct mock_session *s);
/* PRE_COPY* -> STOP_COPY: the final round and the end go on the same fd. */
void mock_session_stop_copy(struct vfiomig_mock *m, struct mock_session *s);
/* RESUMING -> STOP: 0, or -EINVAL with the session still open. */
int mock_session_finish_resume(struct vfiomig_mock *m, struct mock_session *s);
/* Ends every session, the active one and any a reset forgot. */
void mock_sessions_end(struct vfiomig_mock *m);
/* When the mock is freed: every session, live or ended. */
void mock_sessions_free(struct vfiomig_mock *m);
/* The session whose pipe @fd is (NULL: none of this mock's); -errno if @fd is bad. */
int mock_session_lookup(struct vfiomig_mock *m, int fd, struct mock_session **ret);
/* Dirties the next spec.dirty bytes, or what dirtyplan= dirtied in @s
 * since its last round (whole pages, cyclic); lock held.
 * Returns the page count, and the first page in @ret_first. */
uint64_t mock_dirty_round(struct vfiomig_mock *m, struct mock_session *s, uint64_t *ret_first);
/* Dirties every page, for a new initial image (reinit=); lock held. */
void mock_dirty_all(struct vfiomig_mock *m);

/*
 * mock-dirty.c: DMA logging as mlx5's tracker does it, and the device's
 * DMA.  Init and free when the mock is made and freed; the rest with
 * op_lock held.  Start and report come after the core's checks.
 */
int mock_dirty_init(struct vfiomig_mock *m);
void mock_dirty_free(struct vfiomig_mock *m);
/* dirtyrate='s writes due since the last accrual, if the device ran. */
void mock_dirty_accrue(struct vfiomig_mock *m);
int mock_log_start(struct vfiomig_mock *m, const struct mock_range *r, uint32_t n,
		   uint64_t *page_size);
int mock_log_stop(struct vfiomig_mock *m);
int mock_log_report(struct vfiomig_mock *m, uint64_t iova, uint64_t length,
		    uint64_t page_size, uint64_t *bitmap);

/* What the tracker holds, for tests; a look only, nothing is accrued. */
struct mock_dirty_view {
	bool active;
	bool err;			/* the sticky tracker error */
	uint64_t page_size;		/* the tracker's, after the clamp */
	uint32_t nranges;		/* merged: what the device tracks */
	struct mock_range ranges[MOCK_LOG_MAX_RANGES];
	uint32_t nrequested;		/* what START asked for */
	uint64_t logged;		/* tracker pages logged and not yet reported */
	uint64_t writes;		/* DMA writes so far: the last sequence number */
};
int vfiomig_mock_dirty_state(struct vfiomig_dev *dev, struct mock_dirty_view *out);

#endif
