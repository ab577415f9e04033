/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Numbers for people: sizes, rates and durations. */
#ifndef CTL_UNITS_H
#define CTL_UNITS_H

#include <stddef.h>
#include <stdint.h>

#define UNITS_BUF 32

/* "512 B", "4.0 KiB", "1.5 GiB" */
const char *format_bytes(char buf[UNITS_BUF], uint64_t bytes);
/* "12.3 MiB/s" */
const char *format_rate(char buf[UNITS_BUF], uint64_t bytes_per_second);
/* "850 us", "2.104 ms", "1.25 s", "3:05" (minutes), "1:02:03" (hours) */
const char *format_duration(char buf[UNITS_BUF], uint64_t ns);
/* "0:07", "12:30", "1:02:03": for an ETA */
const char *format_clock(char buf[UNITS_BUF], uint64_t seconds);
/* Bytes per second over @ns, 0 when @ns is 0. */
uint64_t rate_of(uint64_t bytes, uint64_t ns);

#endif
