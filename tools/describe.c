/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Migration flags and PCI identities, as text and as JSON. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <vfiomig/state.h>

#include "describe.h"
#include "json-writer.h"

static const struct {
	uint64_t bit;
	const char *name;
} flag_names[] = {
	{ VFIOMIG_MIG_STOP_COPY, "STOP_COPY" },
	{ VFIOMIG_MIG_P2P, "P2P" },
	{ VFIOMIG_MIG_PRE_COPY, "PRE_COPY" },
};

#define N_FLAGS (sizeof(flag_names) / sizeof(flag_names[0]))

static uint64_t unknown_flags(uint64_t flags)
{
	for (size_t i = 0; i < N_FLAGS; i++)
		flags &= ~flag_names[i].bit;
	return flags;
}

const char *describe_flags(char *buf, size_t size, uint64_t flags)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < N_FLAGS && n < size; i++)
		if (flags & flag_names[i].bit)
			n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? " " : "",
					      flag_names[i].name);
	if (unknown_flags(flags) && n < size)
		snprintf(buf + n, size - n, "%s0x%" PRIx64, n ? " " : "", unknown_flags(flags));
	else if (!flags)
		snprintf(buf, size, "none");
	return buf;
}

const char *describe_pci(char *buf, size_t size, const struct pci_ids *ids)
{
	if (!ids->known)
		snprintf(buf, size, "none");
	else
		snprintf(buf, size, "%04x:%04x (subsystem %04x:%04x, revision 0x%02x)",
			 ids->vendor, ids->device, ids->subsystem_vendor, ids->subsystem_device,
			 ids->revision);
	return buf;
}

/* C's escape of a control character: "\n", or "\x1b" where C has no letter. */
static int escape(char *out, size_t size, unsigned char c)
{
	static const char letters[] = { ['\a'] = 'a', ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n',
					 ['\v'] = 'v', ['\f'] = 'f', ['\r'] = 'r' };

	if (c < sizeof(letters) && letters[c])
		return snprintf(out, size, "\\%c", letters[c]);
	return snprintf(out, size, "\\x%02x", c);
}

const char *describe_printable(char *buf, size_t size, const char *s)
{
	size_t n = 0;

	for (; *s && n + 1 < size; s++) {
		unsigned char c = (unsigned char)*s;
		char e[8];
		int len;

		if (c >= 0x20 && c != 0x7f) {
			buf[n++] = *s;
			continue;
		}
		len = escape(e, sizeof(e), c);
		if (n + (size_t)len + 1 > size)
			break;
		memcpy(buf + n, e, (size_t)len);
		n += (size_t)len;
	}
	buf[n] = '\0';
	return buf;
}

void json_flags(struct json_writer *w, uint64_t flags)
{
	char hex[24];

	json_array_begin(w);
	for (size_t i = 0; i < N_FLAGS; i++)
		if (flags & flag_names[i].bit)
			json_string(w, flag_names[i].name);
	if (unknown_flags(flags)) {
		snprintf(hex, sizeof(hex), "0x%" PRIx64, unknown_flags(flags));
		json_string(w, hex);
	}
	json_array_end(w);
}

static void member_hex(struct json_writer *w, const char *name, unsigned int v, int digits)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "0x%0*x", digits, v);
	json_member_string(w, name, buf);
}

void json_pci(struct json_writer *w, const struct pci_ids *ids)
{
	if (!ids->known) {
		json_null(w);
		return;
	}
	json_object_begin(w);
	member_hex(w, "vendor", ids->vendor, 4);
	member_hex(w, "device", ids->device, 4);
	member_hex(w, "subsystem_vendor", ids->subsystem_vendor, 4);
	member_hex(w, "subsystem_device", ids->subsystem_device, 4);
	member_hex(w, "revision", ids->revision, 2);
	json_object_end(w);
}
