/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Migration flags and PCI identities, as text and as JSON. */
#ifndef CTL_DESCRIBE_H
#define CTL_DESCRIBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct json_writer;
struct vfiomig_mlx5_caps;

struct pci_ids {
	bool known;
	uint16_t vendor, device, subsystem_vendor, subsystem_device;
	uint8_t revision;
};

/* "STOP_COPY P2P PRE_COPY", with any unknown bits as "0x..." */
const char *describe_flags(char *buf, size_t size, uint64_t flags);
/* "15b3:101e (subsystem 15b3:0047, revision 0x00)", or "none" */
const char *describe_pci(char *buf, size_t size, const struct pci_ids *ids);
/*
 * Copies @s for a line of text: control characters become C's escapes
 * ("\n", "\t", "\x1b"), so that a newline in a file name cannot
 * break a line and an escape sequence cannot reach the terminal.  Every
 * name and every error line is shown this way, in text and in JSON's
 * messages.
 */
const char *describe_printable(char *buf, size_t size, const char *s);

/* ["STOP_COPY", "P2P", "PRE_COPY"]; unknown bits as "0x..." strings */
void json_flags(struct json_writer *w, uint64_t flags);
/* {"vendor": "0x15b3", ...} or null */
void json_pci(struct json_writer *w, const struct pci_ids *ids);

/*
 * describe-mlx5.c: an mlx5 VF's firmware diagnostics (info's "mlx5
 * firmware:" lines, and its JSON "vendor" object).  @err < 0: they could
 * not be read, and @why says why; otherwise @caps holds them.
 */
void describe_mlx5(FILE *out, const struct vfiomig_mlx5_caps *caps, int err, const char *why);
void json_mlx5(struct json_writer *w, const struct vfiomig_mlx5_caps *caps, int err,
	       const char *why);

#endif
