/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A device's profile and the rules that compare two (docs/compatibility.md). */
#ifndef VFIOMIG_PROFILE_INTERNAL_H
#define VFIOMIG_PROFILE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "export.h"
#include "identity.h"

#define PROFILE_STRING_MAX IDENTITY_STRING_MAX
#define PROFILE_FORMAT "vfiomig-profile 1"

/* Where a driver's version was read. */
enum profile_version_source {
	PROFILE_VERSION_UNKNOWN,
	PROFILE_VERSION_MODULE,		/* /sys/module/NAME/version */
	PROFILE_VERSION_KERNEL,		/* an in-tree driver: the kernel release */
};

/* PROFILE_HAS_*: which of the fields below that may be unknown are known. */
#define PROFILE_HAS_MIG_FLAGS (1u << 0)
#define PROFILE_HAS_DMA_LOGGING (1u << 1)
#define PROFILE_HAS_STATE_SIZE (1u << 2)
#define PROFILE_HAS_MLX5 (1u << 3)	/* the mlx5 firmware's caps were read */
#define PROFILE_HAS_DMA_PAGES (1u << 4)	/* the DMA logging page sizes */

/*
 * Empty strings are unknown, as in struct vfiomig_identity.  A stream's
 * IDENTITY record fills some of it (profile_from_stream()), a device all.
 */
struct vfiomig_profile {
	char name[PROFILE_STRING_MAX + 1];
	struct vfiomig_identity id;
	char backend[PROFILE_STRING_MAX + 1];
	enum profile_version_source version_source;
	char driver_version[PROFILE_STRING_MAX + 1];
	unsigned int has;
	uint64_t mig_flags;
	bool dma_logging;
	/* The page sizes DMA logging tracks at, in bytes: the kernel has no
	 * query for them (START clamps what it is given), so only mlx5's
	 * firmware tells them (pg_track_log_{min,max}_page_size). */
	uint64_t dma_page_min, dma_page_max;
	uint64_t state_size;
	/* mlx5 (PROFILE_HAS_MLX5) */
	char mlx5_firmware[PROFILE_STRING_MAX + 1];	/* "" if unknown, even with the caps */
	bool mlx5_migration, mlx5_migratable, mlx5_chunks;
	/* Why the mlx5 fields are unknown on an mlx5 VF ("" if known or not one). */
	char mlx5_why[PROFILE_STRING_MAX + 1];
};

/* profile-check.c: the one comparison (the load's too). */
struct profile_verdict {
	const char *field, *source;
	enum vfiomig_compat verdict;
	char reason[640];
	/* A difference as the load's sentence names it: "the subsystem IDs",
	 * with both values ("" where a description shows them); NULL label
	 * for a verdict that is no difference. */
	const char *label, *a, *b;
};
typedef void profile_verdict_fn(void *userdata, const struct profile_verdict *v);
/* Every field of @src against @dst, in order; the worst verdict. */
enum vfiomig_compat profile_compare(const struct vfiomig_profile *src,
				    const struct vfiomig_profile *dst,
				    profile_verdict_fn *fn, void *userdata);
/*
 * The group load's matching, over @n source profiles and @n_dst
 * destinations through @fits (index of source, index of destination):
 * each source in order takes the first free destination it fits.
 * @dst_of[k] gets the destination of source k, or -1.  Returns how many
 * sources found none.
 */
unsigned int profile_match(unsigned int n, unsigned int n_dst,
			   bool (*fits)(void *userdata, unsigned int src, unsigned int dst),
			   void *userdata, int *dst_of);

/* profile-json.c */
int profile_to_json(const struct vfiomig_profile *p, char **ret);
/* One object or an array; a failure's sentence in @why. */
int profile_parse(const char *json, size_t len, struct vfiomig_profile **ret, size_t max,
		  size_t *ret_n, char *why, size_t why_size);

#endif
