/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parsing of device specs; no I/O. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "spec.h"

/* Matches @s against @pattern, where 'x' is a hex digit and 'o' an octal one. */
static bool match_shape(const char *s, const char *pattern)
{
	for (; *pattern; s++, pattern++) {
		if (*pattern == 'x' ? !isxdigit((unsigned char)*s) :
		    *pattern == 'o' ? !(*s >= '0' && *s <= '7') : *s != *pattern)
			return false;
	}
	return *s == '\0';
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static int parse_bus_name(const char *s, struct vfiomig_spec *out)
{
	if (match_shape(s, "xxxx:xx:xx.o") || match_shape(s, "xx:xx.o")) {
		out->kind = VFIOMIG_SPEC_PCI;
		snprintf(out->name, sizeof(out->name), "%s%.12s",
			 strlen(s) == 7 ? "0000:" : "", s);
		lower(out->name);
		snprintf(out->path, sizeof(out->path), "/sys/bus/pci/devices/%.12s", out->name);
		return 0;
	}
	if (match_shape(s, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")) {
		out->kind = VFIOMIG_SPEC_MDEV;
		snprintf(out->name, sizeof(out->name), "%.36s", s);
		lower(out->name);
		snprintf(out->path, sizeof(out->path), "/sys/bus/mdev/devices/%.36s", out->name);
		return 0;
	}
	return -EINVAL;
}

int vfiomig_spec_parse(const char *spec, struct vfiomig_spec *out)
{
	static const char cdev_dir[] = "/dev/vfio/devices/";
	const char *base;

	if (!spec || !*spec || strlen(spec) >= sizeof(out->path))
		return -EINVAL;
	memset(out, 0, sizeof(*out));

	if (strncmp(spec, cdev_dir, sizeof(cdev_dir) - 1) == 0) {
		base = spec + sizeof(cdev_dir) - 1;
		if (strncmp(base, "vfio", 4) != 0 || !base[4] ||
		    strspn(base + 4, "0123456789") != strlen(base + 4))
			return -EINVAL;
		out->kind = VFIOMIG_SPEC_CDEV;
		snprintf(out->name, sizeof(out->name), "%s", base);
		snprintf(out->path, sizeof(out->path), "%s", spec);
		return 0;
	}
	if (strncmp(spec, "/sys/", 5) == 0) {
		size_t len = strlen(spec);
		char trimmed[PATH_MAX];

		snprintf(trimmed, sizeof(trimmed), "%s", spec);
		while (len > 5 && trimmed[len - 1] == '/')
			trimmed[--len] = '\0';
		base = strrchr(trimmed, '/') + 1;
		if (parse_bus_name(base, out) < 0)
			return -EINVAL;
		out->kind = VFIOMIG_SPEC_SYSFS;
		snprintf(out->path, sizeof(out->path), "%s", trimmed);
		return 0;
	}
	return parse_bus_name(spec, out);
}
