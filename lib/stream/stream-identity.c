/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The IDENTITY record: which device a stream came from. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "stream.h"
#include "identity.h"
#include "profile.h"
#include "util.h"

static const size_t string_offsets[] = {
	offsetof(struct stream_identity, name),
	offsetof(struct stream_identity, dev.driver),
	offsetof(struct stream_identity, backend),
	offsetof(struct stream_identity, kernel),
	offsetof(struct stream_identity, library),
	/* 1.1: a 1.0 stream ends before it, and reads as "" */
	offsetof(struct stream_identity, dev.mdev_type),
};
#define NSTRINGS (sizeof(string_offsets) / sizeof(string_offsets[0]))
#define NSTRINGS_1_0 5
_Static_assert(NSTRINGS == STREAM_IDENTITY_STRINGS, "IDENTITY strings");

size_t stream_identity_encode(const struct stream_identity *id, uint8_t *buf, size_t size)
{
	size_t n = STREAM_IDENTITY_FIXED;

	if (size < STREAM_IDENTITY_FIXED + NSTRINGS * (2 + STREAM_STRING_MAX))
		return 0;
	memset(buf, 0, STREAM_IDENTITY_FIXED);
	put_le16(buf, id->dev.vendor);
	put_le16(buf + 2, id->dev.device);
	put_le16(buf + 4, id->dev.subsystem_vendor);
	put_le16(buf + 6, id->dev.subsystem_device);
	buf[8] = id->dev.revision;
	buf[9] = id->dev.has_pci_ids;
	put_le64(buf + 16, id->mig_flags);
	put_le64(buf + 24, id->stop_copy_size);
	for (size_t i = 0; i < NSTRINGS; i++) {
		const char *s = (const char *)id + string_offsets[i];
		size_t len = strnlen(s, STREAM_STRING_MAX);

		put_le16(buf + n, (uint16_t)len);
		memcpy(buf + n + 2, s, len);
		n += 2 + len;
	}
	return n;
}

int stream_identity_decode(const uint8_t *buf, size_t len, struct stream_identity *id)
{
	size_t n = STREAM_IDENTITY_FIXED;

	memset(id, 0, sizeof(*id));
	if (len < STREAM_IDENTITY_FIXED || buf[9] > 1)
		return -EBADMSG;
	id->dev.vendor = get_le16(buf);
	id->dev.device = get_le16(buf + 2);
	id->dev.subsystem_vendor = get_le16(buf + 4);
	id->dev.subsystem_device = get_le16(buf + 6);
	id->dev.revision = buf[8];
	id->dev.has_pci_ids = buf[9];
	id->mig_flags = get_le64(buf + 16);
	id->stop_copy_size = get_le64(buf + 24);
	for (size_t i = 0; i < NSTRINGS; i++) {
		char *s = (char *)id + string_offsets[i];
		size_t slen;

		if (i >= NSTRINGS_1_0 && len == n)
			break;
		if (len - n < 2)
			return -EBADMSG;
		slen = get_le16(buf + n);
		if (slen > STREAM_STRING_MAX || len - n - 2 < slen ||
		    memchr(buf + n + 2, '\0', slen))
			return -EBADMSG;
		memcpy(s, buf + n + 2, slen);
		s[slen] = '\0';
		n += 2 + slen;
	}
	/* Later minor versions may append fields; this one reads what it knows. */
	return 0;
}

void stream_identity_profile(const struct stream_identity *id, struct vfiomig_profile *p)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", id->name);
	p->id = id->dev;
	snprintf(p->backend, sizeof(p->backend), "%s", id->backend);
	p->mig_flags = id->mig_flags;
	p->has = PROFILE_HAS_MIG_FLAGS;
	p->state_size = id->stop_copy_size;
	if (id->stop_copy_size)		/* 0: the record's "unknown" */
		p->has |= PROFILE_HAS_STATE_SIZE;
}

#define MAX_DIFFERENCES 13	/* profile_compare()'s fields */

struct differences {
	unsigned int n;
	char item[MAX_DIFFERENCES][2 * STREAM_STRING_MAX + 48];
};

/* One field that differs, named as the load's sentence names it, with both
 * values where the rule gives them. */
static void add_difference(void *userdata, const struct profile_verdict *v)
{
	struct differences *d = userdata;
	char *item;

	if (v->verdict != VFIOMIG_COMPAT_INCOMPATIBLE || d->n == MAX_DIFFERENCES)
		return;
	item = d->item[d->n++];
	if (v->a[0])
		snprintf(item, sizeof(d->item[0]), "%s (stream %s, device %s)", v->label, v->a, v->b);
	else
		snprintf(item, sizeof(d->item[0]), "%s", v->label);
}

unsigned int stream_identity_differences(const struct stream_identity *stream,
					 const struct stream_identity *dev, char *buf, size_t size)
{
	struct vfiomig_profile a, b;
	struct differences d = { .n = 0 };

	stream_identity_profile(stream, &a);
	stream_identity_profile(dev, &b);
	profile_compare(&a, &b, add_difference, &d);
	if (!buf || !size)
		return d.n;
	buf[0] = '\0';
	/* "a", "a and b", "a, b and c" */
	for (unsigned int i = 0; i < d.n; i++) {
		size_t len = strlen(buf);

		snprintf(buf + len, size - len, "%s%s", i == 0 ? "" : i + 1 == d.n ? " and " : ", ",
			 d.item[i]);
	}
	return d.n;
}

bool stream_identity_matches(const struct stream_identity *a, const struct stream_identity *b)
{
	return stream_identity_differences(a, b, NULL, 0) == 0;
}
