/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cancel.c: a cancel object as the library's waits see it. */
#ifndef VFIOMIG_CANCEL_INTERNAL_H
#define VFIOMIG_CANCEL_INTERNAL_H

#include "export.h"
#include <stdbool.h>

#include <vfiomig/cancel.h>

/* cancel.c */
bool cancel_raised(const struct vfiomig_cancel *c);
int cancel_fd(const struct vfiomig_cancel *c);		/* -1 for NULL */

#endif
