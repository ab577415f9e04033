/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A group as the layers above lib/group/ use it (dirty tracking): a call
 * on it, its members taken for the calling thread, and the members
 * themselves.  Its fields are lib/group/'s (group-internal.h).
 */
#ifndef VFIOMIG_GROUP_H_INTERNAL_API
#define VFIOMIG_GROUP_H_INTERNAL_API

#include <vfiomig/group.h>

#include "call.h"

/* group.c: a group call's start (-EBUSY, -EDEADLK as call_begin_dev());
 * call_end() ends it. */
int group_call_begin(struct call *c, struct vfiomig_group *g);
/* Every member for this call's thread, or none (-EBUSY or -EDEADLK, recorded). */
int group_take_members(struct vfiomig_group *g);
void group_give_back_members(struct vfiomig_group *g);
/* The context, the number of members, member @i (i < group_size()). */
struct vfiomig_ctx *group_ctx(const struct vfiomig_group *g);
unsigned int group_size(const struct vfiomig_group *g);
struct vfiomig_dev *group_dev(const struct vfiomig_group *g, unsigned int i);
/* Who is inside a call on the group, for a destructor's wait (owners_take_waiting()). */
struct owner *group_owner(struct vfiomig_group *g);

#endif
