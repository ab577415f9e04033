/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who a device is (device, stream, vendor, sysfs share it). */
#ifndef VFIOMIG_IDENTITY_H
#define VFIOMIG_IDENTITY_H

#include "export.h"
#include <stdbool.h>
#include <stdint.h>

/*
 * Who a device is; empty fields are unknown.  The one copy: a device holds
 * it, a stream's IDENTITY record carries it, a mock spec pretends it.
 */
#define IDENTITY_STRING_MAX 255
struct vfiomig_identity {
	bool has_pci_ids;
	uint16_t vendor, device, subsystem_vendor, subsystem_device;
	uint8_t revision;
	/* The PCI class code (0x020000), which a stream does not record. */
	bool has_class;
	uint32_t class_code;
	char driver[IDENTITY_STRING_MAX + 1];
	/* An mdev's type ("mtty-2"): two mdevs of one driver may differ in it. */
	char mdev_type[IDENTITY_STRING_MAX + 1];
};

#endif
