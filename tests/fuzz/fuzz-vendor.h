/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared by the vendor backends' harnesses: feeding one input through a
 * backend's parser in the pieces a split mode gives, with the invariants
 * every backend keeps whatever its format.
 */
#ifndef VFIOMIG_FUZZ_VENDOR_H
#define VFIOMIG_FUZZ_VENDOR_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fuzz-common.h"
#include "vendor.h"

/* Feeds @s into @v (initialised for @ops) and finishes it; 0 or -errno. */
static inline int fuzz_vendor_feed(struct vendor_parser *v, const struct vfiomig_vendor_ops *ops,
				   const uint8_t *s, size_t size, unsigned int split)
{
	struct splitter sp;
	size_t fed = 0;
	int r = 0;

	splitter_init(&sp, split);
	while (fed < size && r == 0) {
		size_t n = splitter_next(&sp, size - fed);
		uint64_t before = v->offset;

		r = ops->feed(v, s + fed, n);
		FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -EPROTO);
		/* A failure always says what and where. */
		FUZZ_CHECK((r < 0) == (v->problem[0] != '\0'));
		FUZZ_CHECK(r < 0 ? v->offset <= before + n : v->offset == before + n);
		fed += n;
	}
	if (r == 0) {
		r = ops->finish(v);
		FUZZ_CHECK(r == 0 || r == -EBADMSG);
		FUZZ_CHECK((r < 0) == (v->problem[0] != '\0'));
	}
	return r;
}

/* What every backend's harness keeps of one parse, beside its summary. */
struct fuzz_vendor_outcome {
	size_t size;		/* of the stream */
	int rc;
	uint64_t offset, records, problem_offset;
	uint64_t digest;	/* of the records reported, in order */
	uint64_t next;		/* where the next record must start */
	char problem[sizeof(((struct vendor_parser *)0)->problem)];
};

static inline uint64_t fuzz_mix(uint64_t h, uint64_t v)
{
	return h ^ (v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2));
}

/*
 * A record reported with its @header bytes: whole-headed, in order, each
 * where the one before it ended; into the digest a split must not change.
 */
static inline void fuzz_vendor_record(struct fuzz_vendor_outcome *o,
				      const struct vfiomig_stream_record *rec, uint64_t header)
{
	FUZZ_CHECK(rec->offset == o->next && rec->offset + header <= o->size);
	o->next = rec->offset + header + rec->length;
	o->digest = fuzz_mix(fuzz_mix(fuzz_mix(o->digest, rec->type), rec->offset), rec->length);
}

/*
 * The end of a parse that fuzz_vendor_feed() returned @r for: a refusal
 * names itself with @prefix and a place it reached, a success took every
 * byte.  Keeps the outcome in @o and frees @v.
 */
static inline void fuzz_vendor_done(struct vendor_parser *v, int r, const char *prefix,
				    struct fuzz_vendor_outcome *o)
{
	if (r < 0) {
		FUZZ_CHECK(v->problem_offset <= v->offset);
		FUZZ_CHECK(memchr(v->problem, '\0', sizeof(v->problem)));
		FUZZ_CHECK(!strncmp(v->problem, prefix, strlen(prefix)));
	} else {
		FUZZ_CHECK(v->offset == o->size && v->problem_offset == UINT64_MAX);
	}
	o->rc = r;
	o->offset = v->offset;
	o->records = v->records;
	o->problem_offset = v->problem_offset;
	memcpy(o->problem, v->problem, sizeof(o->problem));
	vendor_parser_fini(v);
}

/* With FUZZ_VERBOSE: how the parse of a config byte ended. */
static inline void fuzz_vendor_say(unsigned int cfg, const struct fuzz_vendor_outcome *o)
{
	if (fuzz_verbose())
		fprintf(stderr, "config 0x%02x: %d after %llu bytes, %llu records: %s\n", cfg,
			o->rc, (unsigned long long)o->offset, (unsigned long long)o->records,
			o->rc < 0 ? o->problem : "valid");
}

/* A split parse and the whole one ended the same (@sums: their summaries did). */
static inline void fuzz_vendor_same(const struct fuzz_vendor_outcome *split,
				    const struct fuzz_vendor_outcome *whole, bool sums,
				    unsigned int how, const char *backend)
{
	if (split->rc == whole->rc && split->offset == whole->offset &&
	    split->records == whole->records && split->digest == whole->digest &&
	    split->problem_offset == whole->problem_offset && sums &&
	    !strcmp(split->problem, whole->problem))
		return;
	fprintf(stderr, "split %u: %d, %llu records, \"%s\" at %llu\n"
		"whole:   %d, %llu records, \"%s\" at %llu\n", how, split->rc,
		(unsigned long long)split->records, split->problem,
		(unsigned long long)split->problem_offset, whole->rc,
		(unsigned long long)whole->records, whole->problem,
		(unsigned long long)whole->problem_offset);
	fprintf(stderr, "the %s backend depends on how its input is split\n", backend);
	FUZZ_CHECK(!"a vendor backend depends on how its input is split");
}

#endif
