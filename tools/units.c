/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Numbers for people: sizes, rates and durations. */
#include <inttypes.h>
#include <stdio.h>

#include "units.h"

const char *format_bytes(char buf[UNITS_BUF], uint64_t bytes)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	int i = -1;

	if (bytes < 1024) {
		snprintf(buf, UNITS_BUF, "%" PRIu64 " B", bytes);
		return buf;
	}
	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	snprintf(buf, UNITS_BUF, "%.1f %s", v, unit[i]);
	return buf;
}

const char *format_rate(char buf[UNITS_BUF], uint64_t bytes_per_second)
{
	char b[UNITS_BUF];

	snprintf(buf, UNITS_BUF, "%s/s", format_bytes(b, bytes_per_second));
	return buf;
}

const char *format_clock(char buf[UNITS_BUF], uint64_t s)
{
	if (s >= 3600)
		snprintf(buf, UNITS_BUF, "%" PRIu64 ":%02u:%02u", s / 3600,
			 (unsigned int)(s / 60 % 60), (unsigned int)(s % 60));
	else
		snprintf(buf, UNITS_BUF, "%u:%02u", (unsigned int)(s / 60), (unsigned int)(s % 60));
	return buf;
}

const char *format_duration(char buf[UNITS_BUF], uint64_t ns)
{
	if (ns < 1000000)
		snprintf(buf, UNITS_BUF, "%" PRIu64 " us", ns / 1000);
	else if (ns < 1000000000)
		snprintf(buf, UNITS_BUF, "%.3f ms", (double)ns / 1e6);
	else if (ns < 60 * UINT64_C(1000000000))
		snprintf(buf, UNITS_BUF, "%.2f s", (double)ns / 1e9);
	else
		format_clock(buf, ns / 1000000000);
	return buf;
}

uint64_t rate_of(uint64_t bytes, uint64_t ns)
{
	if (ns == 0)
		return 0;
	return (uint64_t)((double)bytes * 1e9 / (double)ns);
}
