/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* state.c: the states in words, and what the kernel's table says of them. */
#ifndef VFIOMIG_STATES_H
#define VFIOMIG_STATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export.h"

/* state.c */
bool vfiomig_state_valid(enum vfiomig_state s);
bool vfiomig_mig_flags_defined(uint64_t mig_flags);
/* The bits of @mig_flags no kernel this library knows defines. */
uint64_t vfiomig_mig_flags_unknown(uint64_t mig_flags);
VFIOMIG_PRIVATE const char *vfiomig_state_str(enum vfiomig_state s);	/* never NULL */
/* The kernel's state number in words: "STOP", or for a number a newer
 * kernel may define "state 9 (unknown to this library: ...)". */
#define STATE_PHRASE_MAX 80
const char *vfiomig_state_phrase(uint32_t s, char *buf, size_t size);
/* A state with a data transfer session: the saving group and RESUMING. */
bool vfiomig_state_in_session(enum vfiomig_state s);

#endif
