/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The ELF note that names a library the code dlopen()s, so that packagers
 * see a dependency that DT_NEEDED no longer shows (freedesktop.org's
 * "dlopen() metadata for ELF files"): a note of owner "FDO" and type
 * 0x407c0c0a in section .note.dlopen, whose payload is a NUL-terminated
 * JSON array of objects {"feature", "description", "priority", "soname":
 * [...]}.  Entries of one feature are all needed for it; the sonames of
 * one entry are alternatives, the preferred first.  `readelf -n` shows
 * the note.
 */
#ifndef VFIOMIG_DLOPEN_NOTE_H
#define VFIOMIG_DLOPEN_NOTE_H

#include <stdint.h>

#define DLOPEN_NOTE_OWNER "FDO"
#define DLOPEN_NOTE_TYPE 0x407c0c0aU

/* A feature works without it, and a full installation has it. */
#define DLOPEN_SUGGESTED "suggested"
#define DLOPEN_RECOMMENDED "recommended"
#define DLOPEN_REQUIRED "required"

/* One object of the array, for a library of one soname.  The strings are
 * literals: they must hold no '"', '\\' nor control character. */
#define DLOPEN_ENTRY(feature, description, priority, soname)			\
	"{\"feature\":\"" feature "\",\"description\":\"" description		\
	"\",\"priority\":\"" priority "\",\"soname\":[\"" soname "\"]}"

/*
 * The note, as the static object @name (kept by "used", though nothing
 * reads it).  An ELF note is its header, the owner and the payload, the
 * last two each padded with zeros to 4 bytes; "FDO" with its NUL is 4.
 * Clang's AddressSanitizer would align it to 32 and pad it with a redzone,
 * which breaks the note (GCC's leaves objects of a named section alone,
 * and takes no such attribute on a variable).
 */
#ifdef __clang__
#define DLOPEN_NOTE_NO_ASAN __attribute__((no_sanitize("address")))
#else
#define DLOPEN_NOTE_NO_ASAN
#endif

#define DLOPEN_NOTE(name, json)							\
	static const struct {							\
		uint32_t namesz, descsz, type;					\
		char owner[sizeof(DLOPEN_NOTE_OWNER)];				\
		char desc[(sizeof(json) + 3) & ~(sizeof(uint32_t) - 1)];	\
	} name DLOPEN_NOTE_NO_ASAN						\
		__attribute__((used, section(".note.dlopen"), aligned(4))) = {	\
		.namesz = sizeof(DLOPEN_NOTE_OWNER),				\
		.descsz = sizeof(json),						\
		.type = DLOPEN_NOTE_TYPE,					\
		.owner = DLOPEN_NOTE_OWNER,					\
		.desc = json,							\
	}

#endif
