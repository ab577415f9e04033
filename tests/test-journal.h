/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading the mock's journal of arcs: the barrier between a group's phases. */
#ifndef VFIOMIG_TEST_JOURNAL_H
#define VFIOMIG_TEST_JOURNAL_H

#include "test-util.h"
#include "mock.h"

/*
 * The journal's barrier between the phases: every arc INTO @p2p ended
 * before any arc OUT of @p2p (towards @away) began, across all devices.
 */
static inline void check_barrier(struct vfiomig_ctx *ctx, enum vfiomig_state p2p,
				 enum vfiomig_state away, unsigned int members)
{
	static struct vfiomig_mock_arc j[VFIOMIG_MOCK_JOURNAL_MAX];
	size_t n = vfiomig_mock_journal(ctx, j, VFIOMIG_MOCK_JOURNAL_MAX);
	uint64_t last_in = 0, first_out = UINT64_MAX;
	unsigned int in = 0, out = 0;

	for (size_t i = 0; i < n; i++) {
		if (j[i].to == p2p) {
			in++;
			last_in = j[i].end_ns > last_in ? j[i].end_ns : last_in;
		} else if (j[i].from == p2p && j[i].to == away) {
			out++;
			first_out = j[i].begin_ns < first_out ? j[i].begin_ns : first_out;
		}
	}
	ck_assert_uint_eq(in, members);
	ck_assert_uint_eq(out, members);
	ck_assert_msg(last_in <= first_out, "a member left %s %llu ns before the last reached it",
		      vfiomig_state_name(p2p), (unsigned long long)(last_in - first_out));
}

#endif
