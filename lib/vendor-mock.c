/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The mock device's own stream (docs/mock.md), as a vendor backend. */
#include "vendor.h"

/* TEMPORARY: replaced by the real record parser before this lands. */
static int mock_feed(struct vendor_parser *p, const uint8_t *buf, size_t len)
{
	(void)buf;
	p->offset += len;
	return 0;
}

static int mock_finish(struct vendor_parser *p)
{
	(void)p;
	return 0;
}

/* Never chosen by identity: a mock pretends any identity it is given. */
const struct vfiomig_vendor_ops vfiomig_vendor_mock = {
	.name = "mock",
	.feed = mock_feed,
	.finish = mock_finish,
};
