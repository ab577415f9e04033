/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How a definition of the library's interface is marked. */
#ifndef VFIOMIG_EXPORT_H
#define VFIOMIG_EXPORT_H

/* What nearly every source of the library uses, once. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

#include <vfiomig/vfiomig.h>

#define VFIOMIG_EXPORT __attribute__((visibility("default")))
/*
 * The library's internal interface for the libraries beside it: the mock
 * (libvfiomig-mock, which plugs into the transport and vendor seams) and
 * the conformance checker (libvfiomig-conformance, which makes calls of
 * its own and sends single requests through a device's transport).
 * Exported in the symbol map's LIBVFIOMIG_PRIVATE node, for those
 * libraries of this same build alone, as systemd exports its internal
 * symbols to its own tools.  No header of include/ declares them, and
 * their signatures change when they must.
 */
#define VFIOMIG_PRIVATE __attribute__((visibility("default")))
#define PRINTF(f, a) __attribute__((format(printf, f, a)))

#endif
