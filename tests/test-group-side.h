/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One side of a group test: a context and a group of mock devices. */
#ifndef VFIOMIG_TEST_GROUP_SIDE_H
#define VFIOMIG_TEST_GROUP_SIDE_H

#include <string.h>
#include <sys/mman.h>

#include "mock.h"
#include "test-util.h"

#define SIDE_MAX 16

struct side {
	struct vfiomig_ctx *ctx;
	struct vfiomig_group *g;
	struct vfiomig_dev *dev[SIDE_MAX];
	unsigned int n;
};

/*
 * A group of @n devices "mock:PREFIXi" + @keys[i] (or @keys[0] past @nkeys),
 * with the mock's journal emptied of their opening.
 */
static inline void side_open(struct side *s, unsigned int n, const char *prefix,
			     const char *const *keys, unsigned int nkeys)
{
	ck_assert_uint_le(n, SIDE_MAX);
	memset(s, 0, sizeof(*s));
	ck_assert_int_eq(test_ctx_new(&s->ctx), 0);
	ck_assert_int_eq(vfiomig_group_new(s->ctx, 0, &s->g), 0);
	for (unsigned int i = 0; i < n; i++) {
		s->dev[i] = open_dev(s->ctx, "mock:%s%u%s", prefix, i, keys[i < nkeys ? i : 0]);
		ck_assert_int_eq(vfiomig_group_add(s->g, s->dev[i]), 0);
	}
	s->n = n;
	vfiomig_mock_journal_clear(s->ctx);
}

static inline void side_free(struct side *s)
{
	vfiomig_group_unref(s->g);
	for (unsigned int i = 0; i < s->n; i++)
		vfiomig_dev_unref(s->dev[i]);
	vfiomig_ctx_unref(s->ctx);
}

static inline int memfd(void)
{
	int fd = memfd_create("group", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	return fd;
}

#endif
