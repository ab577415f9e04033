/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiomig: dirty-page tracking.  A VMM that migrates guest memory must
 * know which pages a passthrough device wrote by DMA.  A device whose
 * driver has DMA logging (mlx5, pds) tracks that itself: the VMM starts a
 * session over the guest's IOVA ranges, takes reports while it copies
 * memory in rounds, takes a last one after the device stopped, and stops.
 * docs/dirty-tracking.md explains the calls, the bit order, collapsing and
 * why a failed report says "everything dirty".
 */
#ifndef VFIOMIG_DIRTY_H
#define VFIOMIG_DIRTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vfiomig/common.h>
#include <vfiomig/dev.h>
#include <vfiomig/group.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A tracking session over one device or every member of a group.
 * Threads: a session is driven by one thread at a time.  Its calls take
 * its device (or its group and every member) as a device call would, so
 * they get -EBUSY while another thread is inside a call on one of them
 * (-EDEADLK from a callback of this thread's own), and a save or load of
 * a member meanwhile gets -EBUSY from a session call of another thread.
 * vfiomig_dirty_free() is no such call: it waits.
 */
struct vfiomig_dirty;

/* [iova, iova + length) in the device's IOVA space. */
struct vfiomig_iova_range {
	uint64_t iova;
	uint64_t length;
};

enum vfiomig_dirty_mechanism {
	/* the device's DMA logging where it has it, else the IOMMU's where
	 * opts name a HWPT or the library opened the device's cdev, else
	 * -ENOTTY, with what the IOMMU's tracking needs */
	VFIOMIG_DIRTY_AUTO = 0,
	/* VFIO_DEVICE_FEATURE_DMA_LOGGING_START, _REPORT, _STOP */
	VFIOMIG_DIRTY_DEVICE = 1,
	/* iommufd: IOMMU_HWPT_SET_DIRTY_TRACKING, IOMMU_HWPT_GET_DIRTY_BITMAP
	 * on the HWPT the device is attached to (Linux 6.7; one device) */
	VFIOMIG_DIRTY_IOMMU = 2,
};

struct vfiomig_dirty_opts {
	size_t sz;		/* set to sizeof(struct vfiomig_dirty_opts) */
	/* The page size to ask for: a power of two, at least 4 KiB.  0: the
	 * host's page size.  The driver may change it (mlx5 clamps it to
	 * what its firmware tracks); the session uses the driver's. */
	uint64_t page_size;
	/* Collapse the ranges to at most this many (at least 1).  0: as many
	 * as the kernel takes in one START (a page's worth, 256 on 4 KiB
	 * pages); above that the library collapses by itself. */
	unsigned int max_ranges;
	enum vfiomig_dirty_mechanism mechanism;
	/* IOMMU tracking of an adopted device: the caller's iommufd and the
	 * HWPT it attached the device to, allocated with
	 * IOMMU_HWPT_ALLOC_DIRTY_TRACKING.  0 and 0: for a cdev the library
	 * opened, a HWPT of its own (made at the first start, the device
	 * moved onto it until closed); for other devices, none. */
	int iommufd;
	uint32_t hwpt_id;
};

/**
 * vfiomig_dirty_start() - Start tracking the pages @dev writes by DMA
 * @ranges: the guest's memory in IOVA space, in any order; each range
 *          aligned to the page size, none empty, none overlapping another
 *          (touching is fine)
 * @n: the number of ranges, at least 1
 * @opts: may be NULL for the defaults
 * @ret: the session; end it with vfiomig_dirty_free()
 *
 * The library sorts and checks the ranges before the device sees them.
 * When there are more than the kernel or @opts take, it collapses them as
 * QEMU does: one range over everything below 4 GiB, one over what lies
 * above, and a separate one above the widest gap up there (where a VM's
 * 64-bit PCI hole sits), and the session over-reports the gaps it spans
 * (vfiomig_dirty_get_info()).
 *
 * A session belongs to the device's fd, and one device tracks one session
 * at a time: the session holds a reference on @dev, closing the fd ends
 * it, a reset does not (mlx5's tracker survives VFIO_DEVICE_RESET), and
 * neither does a failed save or load.
 *
 * With the IOMMU mechanism (the HWPT @opts names, or the library's own
 * for a cdev it opened), the ranges only bound the reports: the IOMMU
 * tracks whatever is mapped, at the page size asked for.
 *
 * Return: 0; -EINVAL for a bad range list (the error says which range and
 *         why) or bad @opts (for the IOMMU: no HWPT named for a device the
 *         library did not bind itself); -EBUSY if this handle of @dev already has a
 *         session; -ENOTTY if the device has no DMA logging (AUTO: and
 *         there is no HWPT to track by; or, for the IOMMU, @opts.iommufd
 *         is no iommufd); -EOPNOTSUPP if the device
 *         cannot track the span (mlx5's pg_track_log_{min,max}_addr_space),
 *         the HWPT cannot track, the library's own HWPT cannot be made
 *         (an emulated device, an IOMMU without dirty bits), or a group
 *         was asked for the IOMMU;
 *         -ENOENT for an unknown HWPT; other -errno from the device or the
 *         iommufd.  Since: 0.3
 */
VFIOMIG_API int vfiomig_dirty_start(struct vfiomig_dev *dev,
				    const struct vfiomig_iova_range *ranges, size_t n,
				    const struct vfiomig_dirty_opts *opts,
				    struct vfiomig_dirty **ret);

/**
 * vfiomig_group_dirty_start() - Start tracking on every member of @g
 *
 * As vfiomig_dirty_start(), with the same ranges for every member.  If a
 * member fails to start, the members started before it are stopped again,
 * so that none is left tracking.  A report of the session is the union of
 * the members' reports; its page size is the coarsest any member uses.
 *
 * Return: as vfiomig_dirty_start(); the error names the member.  Since: 0.3
 */
VFIOMIG_API int vfiomig_group_dirty_start(struct vfiomig_group *g,
					  const struct vfiomig_iova_range *ranges, size_t n,
					  const struct vfiomig_dirty_opts *opts,
					  struct vfiomig_dirty **ret);

struct vfiomig_dirty_info {
	size_t sz;		/* set to sizeof(struct vfiomig_dirty_info) */
	enum vfiomig_dirty_mechanism mechanism;	/* the one in use */
	uint64_t page_size;	/* of every report's bitmap: the driver's */
	/* What the devices were asked to track (sorted), valid as long as
	 * the session: the caller's ranges, or fewer, collapsed ones. */
	const struct vfiomig_iova_range *ranges;
	size_t n_ranges;
	/* The tracked ranges span memory the caller did not list: a report
	 * may set bits there, which a VMM skips. */
	bool over_reports;
	unsigned int n_devices;
	bool stopped;		/* vfiomig_dirty_stop() was called */
};

/** vfiomig_dirty_get_info() - What the session tracks.  Return: 0; -EINVAL.  Since: 0.3 */
VFIOMIG_API int vfiomig_dirty_get_info(const struct vfiomig_dirty *d,
				       struct vfiomig_dirty_info *info);

/**
 * vfiomig_dirty_report() - Read and clear the dirty pages of one range
 * @iova: the start of the range, aligned to the session's page size
 * @length: its length, a multiple of the page size, inside one of the
 *          session's ranges (each widened to whole pages)
 * @bitmap: bit n of word n / 64 (bit n % 64) is the page at
 *          @iova + n * page_size, as the kernel writes it
 * @bitmap_size: bytes at @bitmap: at least 8 * ceil(pages / 64)
 * @ret_dirty: may be NULL; the number of dirty pages
 *
 * The library zeroes the bitmap first (the kernel only sets bits).  After
 * any failure, every page of the range is reported dirty: *@ret_dirty is
 * the range's page count, and every bit of the range that @bitmap's
 * @bitmap_size bytes hold is set, a last word's bytes included even when
 * @bitmap_size is not a multiple of 8; no byte past @bitmap_size is
 * written.  A lost dirty bit corrupts the guest, an extra one only costs
 * a copy.
 *
 * Return: 0; -EINVAL for a range outside the session or a short bitmap;
 *         -ESRCH after vfiomig_dirty_stop(); other -errno from the
 *         device (mlx5: EIO after a tracker error).  On every failure
 *         the bitmap says "all dirty".  Since: 0.3
 */
VFIOMIG_API int vfiomig_dirty_report(struct vfiomig_dirty *d, uint64_t iova, uint64_t length,
				     uint64_t *bitmap, size_t bitmap_size,
				     uint64_t *ret_dirty);

/**
 * vfiomig_dirty_stop() - Stop tracking on every device of the session
 *
 * The session stays, to be read with vfiomig_dirty_get_info(); reports
 * fail with -ESRCH from now on.  Stopping twice is harmless.
 *
 * Return: 0; the first member's -errno if a device refused to stop (every
 *         member is still asked).  Since: 0.3
 */
VFIOMIG_API int vfiomig_dirty_stop(struct vfiomig_dirty *d);

/**
 * vfiomig_dirty_free() - Stop tracking if still on, and free the session
 *
 * While another thread is inside a call on one of the session's devices
 * (or its group), it waits for that call to end, however long it takes,
 * then stops tracking; from a callback of this thread's own call on them
 * it stops tracking there and then.  A device that refuses to stop is
 * logged at LOG_WARNING.  Like reference counting, it neither sets nor
 * clears the thread's error.  Do not free a session while another thread
 * makes a call on the session itself.
 *
 * Return: NULL (NULL-safe).  Since: 0.3
 */
VFIOMIG_API struct vfiomig_dirty *vfiomig_dirty_free(struct vfiomig_dirty *d);

#ifdef __cplusplus
}
#endif

#endif
