/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A bounded ring of buffers between one producer and one consumer thread,
 * so that reading one fd and writing another overlap.  Memory is fixed at
 * nslots * slot_size whatever the amount of data.
 */
#ifndef VFIOMIG_PIPELINE_H
#define VFIOMIG_PIPELINE_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pipeline_slot {
	uint8_t *data;
	size_t len;
	uint16_t type;		/* what the bytes are (a stream record type) */
	uint64_t offset;	/* where they came from, for error reports */
	bool hashed;		/* hash is XXH3_64bits(data, len), computed by the producer */
	uint64_t hash;
};

struct pipeline {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pipeline_slot *slots;
	void *mem;		/* every slot's bytes: one mapping of mem_len */
	size_t mem_len;
	unsigned int nslots;
	size_t slot_size;
	uint64_t pushed, popped, released;
	bool closed;
	int error;		/* the first failure, on either side */
	pthread_t thread;
	bool running;
	/* The caller's cancel flag: waits look at it every CANCEL_POLL_NS. */
	const volatile sig_atomic_t *cancel;
};

/* @cancel may be NULL; once it reads non-zero, both sides fail with -ECANCELED. */
int pipeline_init(struct pipeline *p, unsigned int nslots, size_t slot_size,
		  const volatile sig_atomic_t *cancel);
/* Joins the thread if still running, then frees everything. */
void pipeline_destroy(struct pipeline *p);
/* Runs @fn on a new thread (the other side of the ring); SIGPIPE is blocked there. */
int pipeline_start(struct pipeline *p, void *(*fn)(void *), void *arg);
/* The thread's side is done: returns the pipeline's error, or 0. */
int pipeline_join(struct pipeline *p);

/* Producer: a slot to fill, or NULL once the pipeline failed. */
struct pipeline_slot *pipeline_get_free(struct pipeline *p);
void pipeline_push(struct pipeline *p);
void pipeline_close(struct pipeline *p);

/* Consumer: the next filled slot, or NULL at the end or on failure. */
struct pipeline_slot *pipeline_pop(struct pipeline *p);
void pipeline_release(struct pipeline *p);

/* Stops both sides; the first error wins. */
void pipeline_fail(struct pipeline *p, int err);
/* The pipeline's error, -ECANCELED once the cancel flag is up, or 0. */
int pipeline_error(struct pipeline *p);

#endif
