/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Migration flags and PCI identities, as text and as JSON. */
#include <inttypes.h>
#include <stdio.h>

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

const char *describe_printable(char *buf, size_t size, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < size; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[i] = '\0';
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
