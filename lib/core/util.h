/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small helpers shared by every part of the library, the mock and the
 * tools that link it: one copy of each.
 */
#ifndef VFIOMIG_UTIL_H
#define VFIOMIG_UTIL_H

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The one place a libc or ioctl failure becomes an error code. */
static inline int sys_ret(int r)
{
	return r < 0 ? -errno : r;
}

/*
 * Little-endian fields of the stream format and the mock's stream.  A
 * memcpy() of the whole word compiles to one load or store: the mock's
 * content generator runs these in its hot loop.
 */
static inline void put_le16(uint8_t *p, uint16_t v) { v = htole16(v); memcpy(p, &v, sizeof(v)); }
static inline void put_le32(uint8_t *p, uint32_t v) { v = htole32(v); memcpy(p, &v, sizeof(v)); }
static inline void put_le64(uint8_t *p, uint64_t v) { v = htole64(v); memcpy(p, &v, sizeof(v)); }
static inline uint16_t get_le16(const uint8_t *p) { uint16_t v; memcpy(&v, p, sizeof(v)); return le16toh(v); }
static inline uint32_t get_le32(const uint8_t *p) { uint32_t v; memcpy(&v, p, sizeof(v)); return le32toh(v); }
static inline uint64_t get_le64(const uint8_t *p) { uint64_t v; memcpy(&v, p, sizeof(v)); return le64toh(v); }

/* The noun that goes with @n: "1 record", "0 records", "2 entries". */
static inline const char *plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* Sets O_NONBLOCK on @fd: 0 or -errno. */
int fd_set_nonblock(int fd);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);

/* A decimal size with an optional K, M or G suffix (powers of 1024). */
bool parse_size(const char *s, uint64_t *ret);

#endif
