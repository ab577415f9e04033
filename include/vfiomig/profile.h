/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiomig: a device's profile (what decides whether its state loads
 * into another device) and the comparison of two profiles
 * (docs/compatibility.md lists every rule and its source).
 */
#ifndef VFIOMIG_PROFILE_H
#define VFIOMIG_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include <vfiomig/common.h>
#include <vfiomig/ctx.h>
#include <vfiomig/dev.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A profile is opaque: it grows with every rule the library learns, and
 * its one outside form is its JSON (vfiomig_profile_to_json()), which is
 * what crosses between hosts.  Profiles are plain values: no device or
 * context is referenced, any thread may use one it holds.
 */
struct vfiomig_profile;

/* The verdict on one field, from the best to the worst. */
enum vfiomig_compat {
	VFIOMIG_COMPAT_SAME = 0,	  /* the two profiles agree */
	VFIOMIG_COMPAT_COMPATIBLE = 1,	  /* they differ, and the state still loads */
	VFIOMIG_COMPAT_INCOMPATIBLE = 2,  /* the state would be refused, or worse */
};

/*
 * One field's verdict, handed to the caller's function during
 * vfiomig_profile_check(); its strings are valid during that call only.
 */
struct vfiomig_profile_verdict {
	size_t sz;			/* sizeof(struct vfiomig_profile_verdict) */
	const char *field;		/* "pci_ids", "mdev_type", ... */
	enum vfiomig_compat verdict;
	/* Why, with both values: "the mdev types differ (source mtty-1,
	 * destination mtty-2); mtty refuses a state of another type". */
	const char *reason;
	/* Where the rule comes from: "kernel uAPI", "mtty", "mlx5_vfio_pci",
	 * "libvfiomig" (docs/compatibility.md). */
	const char *source;
	/* A group check's source member and the destination profile it was
	 * matched with (vfiomig_profile_check_group()); 0 and 0 otherwise.
	 * A source member that fits no destination has @peer -1. */
	int member, peer;
};

typedef void vfiomig_profile_verdict_fn(void *userdata, const struct vfiomig_profile_verdict *v);

/**
 * vfiomig_dev_get_profile() - What decides whether @dev's state loads elsewhere
 * @ret: the profile; caller owns it, release with vfiomig_profile_free()
 *
 * Gathered now: the identity learnt at open (PCI IDs, revision, class,
 * driver, an mdev's type), the driver's version (its module's version where
 * /sys/module/NAME/version exists, else the kernel release), the migration
 * flags, DMA logging, the state size (MIG_DATA_SIZE, read now; unknown
 * where the driver does not report it), the library's stream backend, and
 * for an mlx5 VF in a build with libmlx5 its firmware version and
 * migration capabilities (left unknown where they cannot be read; the
 * profile says why).  Nothing is sent that changes the device.
 *
 * Return: 0; -EINVAL if @dev or @ret is NULL; -ENOMEM.  Since: 0.4
 */
VFIOMIG_API int vfiomig_dev_get_profile(struct vfiomig_dev *dev, struct vfiomig_profile **ret);

/** vfiomig_profile_free() - Free a profile.  NULL-safe.  Since: 0.4 */
VFIOMIG_API void vfiomig_profile_free(struct vfiomig_profile *profile);

/**
 * vfiomig_profile_to_json() - The profile as one JSON object
 * @ret: a NUL-terminated string; caller owns it, release with free()
 *
 * The object's members are listed in docs/compatibility.md; unknown values
 * are null.  vfiomig_profile_from_json() reads it back into an equal
 * profile.
 *
 * Return: 0; -EINVAL if an argument is NULL; -ENOMEM.  Since: 0.4
 */
VFIOMIG_API int vfiomig_profile_to_json(const struct vfiomig_profile *profile, char **ret);

/**
 * vfiomig_profile_from_json() - Read profiles written by vfiomig_profile_to_json()
 * @json: the text, @len bytes (need not be NUL-terminated); another host's
 *        answer, so untrusted: anything but a well-formed profile, or an
 *        array of them, is refused
 * @ret: where up to @max profiles are stored; the caller owns each, release
 *       with vfiomig_profile_free()
 * @ret_n: how many were stored: 1 for an object, the array's length for an
 *         array (a group's profiles, in member order)
 *
 * Strict: a member this version does not know, one that is missing, a
 * duplicate, a value of the wrong type or out of range, or anything after
 * the value is refused, with a sentence that names it and its offset.
 *
 * Return: 0; -EINVAL if an argument is NULL or @max is 0; -EBADMSG if
 *         @json is not a profile or an array of profiles; -E2BIG if the
 *         array holds more than @max; -ENOMEM.  Since: 0.4
 */
VFIOMIG_API int vfiomig_profile_from_json(struct vfiomig_ctx *ctx, const char *json, size_t len,
					  struct vfiomig_profile **ret, size_t max, size_t *ret_n);

/**
 * vfiomig_profile_check() - Whether a state saved from @src loads into @dst
 * @fn: called once per field, in a fixed order, with its verdict (may be NULL)
 *
 * A field that either profile leaves unknown is judged SAME, with a reason
 * that says it was not compared.  vfiomig_dev_load() refuses a stream by
 * this very comparison, over the fields a stream records: the two cannot
 * disagree.
 *
 * Return: the worst verdict, VFIOMIG_COMPAT_SAME, _COMPATIBLE or
 *         _INCOMPATIBLE; -EINVAL if @ctx, @src or @dst is NULL.  Since: 0.4
 */
VFIOMIG_API int vfiomig_profile_check(struct vfiomig_ctx *ctx, const struct vfiomig_profile *src,
				      const struct vfiomig_profile *dst,
				      vfiomig_profile_verdict_fn *fn, void *userdata);

/**
 * vfiomig_profile_check_group() - Whether a group's state loads into another group
 * @src: the source group's members' profiles, in member order (@n_src)
 * @dst: the destination group's (@n_dst)
 * @fn: called for each field of each matched pair, and once for each
 *      source member that fits no destination (field "member") and for a
 *      difference in the number of members (field "members")
 *
 * Members are matched as vfiomig_group_load() matches a stream's devices
 * to its members: each source member, in order, takes the first
 * destination not yet taken that it is not incompatible with.
 *
 * Return: the worst verdict; -EINVAL if an argument is NULL, @n_src or
 *         @n_dst is 0 or above VFIOMIG_GROUP_MAX.  Since: 0.4
 */
VFIOMIG_API int vfiomig_profile_check_group(struct vfiomig_ctx *ctx,
					    struct vfiomig_profile *const *src, size_t n_src,
					    struct vfiomig_profile *const *dst, size_t n_dst,
					    vfiomig_profile_verdict_fn *fn, void *userdata);

/**
 * vfiomig_profile_get_name() - The name of the device the profile was taken from
 * ("0000:3b:00.1", "mock:a").  Return: borrowed string valid while
 * @profile lives; NULL if @profile is NULL.  Since: 0.4
 */
VFIOMIG_API const char *vfiomig_profile_get_name(const struct vfiomig_profile *profile);

#ifdef __cplusplus
}
#endif

#endif
