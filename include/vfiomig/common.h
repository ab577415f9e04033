/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvfiomig: definitions shared by every public header. */
#ifndef VFIOMIG_COMMON_H
#define VFIOMIG_COMMON_H

#if defined(__GNUC__) && defined(VFIOMIG_BUILDING_LIBRARY)
#define VFIOMIG_API __attribute__((visibility("default")))
#else
#define VFIOMIG_API
#endif

#endif
