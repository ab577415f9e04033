/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The IDENTITY record: which device a stream came from. */
#include <errno.h>
#include <string.h>

#include "stream.h"

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

bool stream_identity_matches(const struct stream_identity *a, const struct stream_identity *b)
{
	const struct vfiomig_identity *x = &a->dev, *y = &b->dev;

	return x->has_pci_ids == y->has_pci_ids && x->vendor == y->vendor &&
	       x->device == y->device && x->subsystem_vendor == y->subsystem_vendor &&
	       x->subsystem_device == y->subsystem_device &&
	       strcmp(x->driver, y->driver) == 0 && strcmp(x->mdev_type, y->mdev_type) == 0 &&
	       strcmp(a->backend, b->backend) == 0;
}
