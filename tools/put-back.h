/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Sources that a complete save stopped, back where each started, when the
 * command cannot keep what the save made: a stream file that cannot take
 * its name (save), a destination that failed (migrate).
 */
#ifndef CTL_PUT_BACK_H
#define CTL_PUT_BACK_H

#include "ctl.h"

/*
 * Moves @d's device, or each of its group's members, back to @starts[i].
 * A group's members go as groups of their own made with @group_flags, in
 * the group's phases (docs/groups.md): those that started in STOP first,
 * then every one that ran reaches RUNNING_P2P before any runs.  A member
 * where it started is left alone.  Returns 0, or the library's -errno
 * with its sentence in @d's context.
 */
int ctl_put_back(const struct ctl_devices *d, unsigned int group_flags,
		 const enum vfiomig_state *starts);

#endif
