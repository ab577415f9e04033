/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The mock transport: an in-process double of a kernel VFIO migration
 * device.  Shared between mock.c (the device: ioctl decoding, state
 * machine, data fds and their pump threads), mock-spec.c (the
 * "mock:NAME,key=value" parser) and mock-content.c (the stream).
 */
#ifndef VFIOMIG_MOCK_H
#define VFIOMIG_MOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "private.h"
#include "mock-content.h"

#define MOCK_NAME_MAX 58	/* "mock:" + NAME must fit dev->name[64] */
#define MOCK_FAIL_MAX 8
#define MOCK_RATE_MAX (64ull << 30)	/* rate=, bytes a second */

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
	MOCK_K_ANY,
	MOCK_K_COUNT
};

/* Where a failed SET leaves the device. */
enum mock_leave { MOCK_LEAVE_UNCHANGED, MOCK_LEAVE_MID, MOCK_LEAVE_ERROR };

struct mock_fail {
	enum mock_kind kind;
	uint64_t nth;			/* 1-based */
	int err;			/* positive errno */
	enum mock_leave leave;
};

struct mock_spec {
	char name[MOCK_NAME_MAX + 1];
	uint32_t mig_flags;
	enum vfiomig_state state;
	uint64_t size;
	uint64_t dirty;
	bool eom_zero;
	bool datasize, dirtylog, resetflag, infov2;
	bool has_pci;
	uint16_t vendor, device, subvendor, subdevice;
	uint8_t revision;
	char driver[64];
	struct mock_fail fails[MOCK_FAIL_MAX];
	unsigned int nfails;
	bool short_read, short_write;
	uint64_t rate;			/* bytes a second through the pumps; 0: unlimited */
};

/* mock.c: the transport's open (@params after "mock:") and adopt (-ENOENT
 * for an fd that is no mock of @ctx); the number of mocks alive in @ctx. */
int vfiomig_mock_open(struct vfiomig_ctx *ctx, const char *params, struct vfiomig_dev **ret);
int vfiomig_mock_adopt(struct vfiomig_ctx *ctx, int fd, struct vfiomig_dev **ret);
unsigned int vfiomig_mock_count(struct vfiomig_ctx *ctx);

/* mock-spec.c: parses "NAME[,key=value...]"; -EINVAL via vfiomig_fail(). */
int mock_spec_parse(struct vfiomig_ctx *ctx, const char *params,
		    struct mock_spec *spec);
const char *mock_kind_name(enum mock_kind k);
const char *mock_state_name(enum vfiomig_state s);	/* never NULL */

/* One data fd's session: a pipe whose other end the caller holds. */
struct mock_session {
	struct mock_session *next;
	struct vfiomig_mock *mock;
	bool save;
	bool dead;		/* ended: library I/O gets ENODEV */
	dev_t pipe_dev;		/* identity of the pipe, to recognise the fd */
	ino_t pipe_ino;
	int fd;			/* the mock's end (non-blocking), or -1 */
	int kill_fd;		/* eventfd that wakes the pump to stop */
	pthread_t thread;
	bool running;		/* pump thread started and not joined */
	bool stop;		/* the pump must exit */
	pthread_cond_t cond;	/* wakes the save pump when data is queued */
	uint8_t *buf;
	uint64_t pace_ns;	/* rate=: when the device is done with what it moved */

	/* save */
	struct mock_emitter em;
	bool precopy;		/* device is in PRE_COPY or PRE_COPY_P2P */
	bool complete;		/* end segment queued */
	bool eof_sent;		/* pump wrote it all and closed its end */
	bool reader_gone;	/* EPIPE: the reader closed the fd */
	uint64_t written;	/* stream bytes written into the pipe */
	uint64_t initial_end;	/* stream offset where the initial image ends */

	/* resume */
	struct mock_parser parser;
	struct mock_parser framing;	/* what the writer wrote, for write()'s errors */
	bool writer_gone;	/* EOF: every write end closed */
	uint64_t consumed;
};

/* The device.  Shared by every dev handle that opened or adopted it. */
struct vfiomig_mock {
	struct vfiomig_mock *next;	/* the ctx's list of mocks */
	struct vfiomig_ctx *ctx;	/* borrowed: every handle holds a ref */
	int refcount;			/* dev handles, under the list's lock */
	pthread_mutex_t op_lock;	/* serialises device operations */
	pthread_mutex_t lock;		/* the fields below; pumps take it */
	struct mock_spec spec;
	char devname[64];
	dev_t st_dev;			/* identity of the placeholder fd */
	ino_t st_ino;
	uint64_t npages;

	enum vfiomig_state state;
	uint64_t seed;
	uint32_t *gen;			/* per 64 KiB page */
	uint64_t dirty_cursor;
	bool logging;
	bool infov2_on;
	uint64_t calls[MOCK_K_COUNT];
	uint64_t short_count;
	struct mock_session *sessions;	/* live and ended, newest first */
	struct mock_session *active;	/* the live session, if any */
};

#endif
