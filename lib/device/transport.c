/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The table of transports: the one place that names them all. */
#include "private.h"

/* The mock claims "mock:" specs and its own placeholder fds; the kernel
 * takes everything else, so it comes last. */
const struct vfiomig_transport *const vfiomig_transports[TRANSPORT_COUNT] = {
	&vfiomig_mock_transport,
	&vfiomig_kernel_transport,
};
