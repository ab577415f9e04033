// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Dirty-page tracking sessions over one device or a group's members,
 * through the devices' DMA logging (VFIO_DEVICE_FEATURE_DMA_LOGGING_*).
 * docs/dirty-tracking.md explains the choices made here.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "call.h"
#include "dev.h"
#include "export.h"
#include "log.h"
#include "sized.h"
#include "group.h"
#include "dirty-ranges.h"
#include "dirty-iommu.h"
#include "vfio-compat.h"
#include "util.h"

struct vfiomig_dirty {
	struct vfiomig_ctx *ctx;
	enum vfiomig_dirty_mechanism mechanism;	/* DEVICE or IOMMU */
	int iommufd;			/* IOMMU: the caller's or the ctx's, borrowed */
	uint32_t hwpt_id;
	struct vfiomig_group *group;	/* a group's session: its reference */
	struct vfiomig_dev **devs;	/* a reference on each */
	unsigned int n_devs;
	struct vfiomig_iova_range *ranges;
	size_t n_ranges;
	uint64_t page_size;
	bool over_reports, stopped;
	uint64_t *scratch;		/* a group's: one member's report */
	size_t scratch_size;
};

static uint64_t host_page_size(void)
{
	long page = sysconf(_SC_PAGESIZE);

	return page > 0 ? (uint64_t)page : 4096;
}

/* START takes one kernel page of ranges (vfio_main.c's LOG_MAX_RANGES). */
static unsigned int kernel_max_ranges(void)
{
	return (unsigned int)(host_page_size() /
			      sizeof(struct vfio_device_feature_dma_logging_range));
}

static bool power_of_two(uint64_t v)
{
	return v && !(v & (v - 1));
}

struct plan {
	struct vfiomig_dirty_opts opts;
	struct vfiomig_iova_range *ranges;	/* sorted, maybe collapsed */
	size_t n;
	bool over_reports;
};

static int plan_opts(struct vfiomig_ctx *ctx, const struct vfiomig_dirty_opts *in,
		     struct vfiomig_dirty_opts *o)
{
	if (sized_copy_in(o, sizeof(*o), in) < 0)
		return vfiomig_fail(ctx, -EINVAL, "struct vfiomig_dirty_opts: sz is wrong or "
				    "unknown fields are set");
	if (!o->page_size)
		o->page_size = host_page_size();
	if (o->page_size < 4096 || !power_of_two(o->page_size))
		return vfiomig_fail(ctx, -EINVAL, "page size %" PRIu64 " is not a power of two "
				    "of at least 4096", o->page_size);
	if (!o->max_ranges || o->max_ranges > kernel_max_ranges())
		o->max_ranges = kernel_max_ranges();
	if (o->mechanism > VFIOMIG_DIRTY_IOMMU)
		return vfiomig_fail(ctx, -EINVAL, "unknown dirty-tracking mechanism %d",
				    (int)o->mechanism);
	if ((o->iommufd > 0) != (o->hwpt_id != 0))
		return vfiomig_fail(ctx, -EINVAL, "opts.iommufd and opts.hwpt_id go together: "
				    "the iommufd, and the HWPT (allocated with IOMMU_HWPT_ALLOC_"
				    "DIRTY_TRACKING) the device is attached to");
	return 0;
}

static void plan_collapse(struct plan *p, size_t max)
{
	uint64_t asked = dirty_ranges_bytes(p->ranges, p->n);

	p->n = dirty_ranges_collapse(p->ranges, p->n, max);
	p->over_reports = dirty_ranges_bytes(p->ranges, p->n) > asked;
}

static int plan_make(struct vfiomig_ctx *ctx, const struct vfiomig_iova_range *ranges, size_t n,
		     const struct vfiomig_dirty_opts *opts, struct plan *p)
{
	char why[256];
	int r;

	*p = (struct plan){ 0 };
	r = plan_opts(ctx, opts, &p->opts);
	if (r < 0)
		return r;
	if (!ranges || !n)
		return vfiomig_fail(ctx, -EINVAL, "no ranges to track: give the guest memory's "
				    "IOVA ranges");
	p->ranges = calloc(n, sizeof(*p->ranges));
	if (!p->ranges)
		return vfiomig_fail(ctx, -ENOMEM, "out of memory for %zu %s", n,
				    plural(n, "range", "ranges"));
	memcpy(p->ranges, ranges, n * sizeof(*p->ranges));
	p->n = n;
	if (dirty_ranges_sort_check(p->ranges, n, p->opts.page_size, why, sizeof(why)) < 0)
		return vfiomig_fail(ctx, -EINVAL, "%s", why);
	plan_collapse(p, p->opts.max_ranges);
	return 0;
}

/* ---- one device ---- */

static int log_start(struct vfiomig_dev *dev, const struct plan *p, uint64_t *ret_page_size)
{
	struct vfio_device_feature_dma_logging_control ctl = {
		.page_size = p->opts.page_size,
		.num_ranges = (uint32_t)p->n,
		.ranges = (uint64_t)(uintptr_t)p->ranges,
	};
	int r;

	/* struct vfiomig_iova_range is the kernel's range struct, field by field */
	_Static_assert(sizeof(struct vfiomig_iova_range) ==
		       sizeof(struct vfio_device_feature_dma_logging_range), "range layout");
	r = vfiomig_dev_feature(dev, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
				&ctl, sizeof(ctl));
	if (r == 0)
		*ret_page_size = ctl.page_size;
	return r;
}

static int start_failed(struct vfiomig_dev *dev, const struct plan *p, int r)
{
	uint64_t bytes = dirty_ranges_bytes(p->ranges, p->n);

	switch (r) {
	case -ENOTTY:
		return vfiomig_fail(dev->ctx, r, "%s has no DMA logging (its driver registers no "
				    "log_ops; mlx5 needs adv_virtualization): track its DMA through "
				    "the IOMMU instead", dev->name);
	case -EINVAL:
		return vfiomig_fail(dev->ctx, r, "%s refused to start DMA logging (EINVAL): it "
				    "may be tracking already, for another handle or process (one "
				    "session per device, ended by STOP or by closing its fd)",
				    dev->name);
	case -EOPNOTSUPP:
		return vfiomig_fail(dev->ctx, r, "%s cannot track this address span: %zu %s "
				    "of %" PRIu64 " %s in all (mlx5: the sum, rounded up to a "
				    "power of two, must lie within its pg_track_log_{min,max}_"
				    "addr_space): track less memory, or fewer, tighter ranges",
				    dev->name, p->n, plural(p->n, "range", "ranges"), bytes,
				    plural(bytes, "byte", "bytes"));
	default:
		return vfiomig_fail(dev->ctx, r, "%s: DMA logging START failed: %s", dev->name,
				    strerror(-r));
	}
}

/* Records nothing: a rollback must not hide the failure it undoes. */
static int log_stop(struct vfiomig_dev *dev)
{
	dev->dirty_active = false;	/* whatever it says: the fd's close ends it too */
	return vfiomig_dev_feature(dev, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
				   NULL, 0);
}

/* One session per handle, whatever the mechanism. */
static int check_not_tracking(struct vfiomig_dev *dev)
{
	if (!dev->dirty_active)
		return 0;
	return vfiomig_fail(dev->ctx, -EBUSY, "%s already has a dirty-tracking session "
			    "through this handle: free that one first", dev->name);
}

static int dev_log_start(struct vfiomig_dev *dev, const struct plan *p, uint64_t *ret_page_size)
{
	int r = check_not_tracking(dev);

	if (r < 0)
		return r;
	r = log_start(dev, p, ret_page_size);
	if (r < 0)
		return start_failed(dev, p, r);
	dev->dirty_active = true;
	if (*ret_page_size < 4096 || !power_of_two(*ret_page_size)) {
		/* every report would divide by it */
		log_stop(dev);
		return vfiomig_fail(dev->ctx, -EPROTO, "%s: the driver chose page size %" PRIu64
				    " for DMA logging, not a power of two of at least 4096: "
				    "tracking stopped", dev->name, *ret_page_size);
	}
	return 0;
}

/* ---- the session ---- */

static struct vfiomig_dirty *session_new(struct vfiomig_ctx *ctx, unsigned int n_devs)
{
	struct vfiomig_dirty *d = calloc(1, sizeof(*d));

	if (d)
		d->devs = calloc(n_devs, sizeof(*d->devs));
	if (!d || !d->devs) {
		free(d);
		return NULL;
	}
	d->ctx = ctx;
	return d;
}

static void session_free(struct vfiomig_dirty *d)
{
	for (unsigned int i = 0; i < d->n_devs; i++)
		vfiomig_dev_unref(d->devs[i]);
	vfiomig_group_unref(d->group);
	free(d->devs);
	free(d->ranges);
	free(d->scratch);
	free(d);
}

/* Did the library bind @dev to an iommufd of its own (a cdev it opened)? */
static bool own_iommufd(struct vfiomig_dev *dev)
{
	return dev->transport->dirty_hwpt && dev->transport->dirty_hwpt(dev, NULL, NULL) == 0;
}

/*
 * AUTO: the device's own logging where it has it, else the IOMMU's, on
 * the caller's HWPT or the library's own.  A device without DMA logging
 * (xe-vfio-pci, hisi_acc: no log_ops) has no other way, so AUTO without a
 * HWPT says what it needs rather than what the device lacks.
 */
static int choose(const struct vfiomig_dirty_opts *o, struct vfiomig_dev *dev,
		  enum vfiomig_dirty_mechanism *ret)
{
	if (o->mechanism != VFIOMIG_DIRTY_AUTO)
		*ret = o->mechanism;
	else if (dev->caps & VFIOMIG_CAP_DMA_LOGGING)
		*ret = VFIOMIG_DIRTY_DEVICE;
	else if (o->hwpt_id || own_iommufd(dev))
		*ret = VFIOMIG_DIRTY_IOMMU;
	else
		return vfiomig_fail(dev->ctx, -ENOTTY, "%s has no DMA logging (%s%s "
				    "registers no log_ops), so its DMA can be tracked only by the "
				    "IOMMU, which needs a HWPT with dirty tracking: pass "
				    "opts.iommufd and opts.hwpt_id (a HWPT allocated with "
				    "IOMMU_HWPT_ALLOC_DIRTY_TRACKING, the device attached to it), "
				    "or open the device through its cdev (/dev/vfio/devices/vfioN) "
				    "with this library, which then allocates its own", dev->name,
				    dev->id.driver[0] ? "" : "its driver", dev->id.driver);
	return 0;
}

/* The caller's HWPT, or one the library makes on its own iommufd. */
static int pick_hwpt(struct vfiomig_dev *dev, const struct vfiomig_dirty_opts *o,
		     int *ret_iommufd, uint32_t *ret_hwpt)
{
	*ret_iommufd = o->iommufd;
	*ret_hwpt = o->hwpt_id;
	if (o->hwpt_id)
		return 0;
	if (!own_iommufd(dev))
		return vfiomig_fail(dev->ctx, -EINVAL, "IOMMU dirty tracking of %s needs "
				    "opts.iommufd and opts.hwpt_id: the library bound it to no "
				    "iommufd of its own (it was adopted, or opened through its "
				    "group), so pass the iommufd, and the HWPT (allocated with "
				    "IOMMU_HWPT_ALLOC_DIRTY_TRACKING) the device is attached to",
				    dev->name);
	return dev->transport->dirty_hwpt(dev, ret_iommufd, ret_hwpt);
}

/* One HWPT, at the page size asked for: the IOMMU's bits are per IO page. */
static int start_iommu(struct vfiomig_dirty *d, struct vfiomig_dev *const *devs, unsigned int n,
		       const struct plan *p)
{
	struct vfiomig_dev *dev = devs[0];
	int r;

	if (n != 1)
		return vfiomig_fail(d->ctx, -EOPNOTSUPP, "IOMMU dirty tracking serves one device "
				    "here: start it on the member attached to the HWPT (it covers "
				    "every device attached there)");
	r = check_not_tracking(dev);
	if (r == 0)
		r = pick_hwpt(dev, &p->opts, &d->iommufd, &d->hwpt_id);
	if (r == 0)
		r = iommu_track_start(dev, d->iommufd, d->hwpt_id);
	if (r < 0)
		return r;
	dev->dirty_active = true;
	d->devs[d->n_devs++] = vfiomig_dev_ref(dev);
	d->page_size = p->opts.page_size;
	return 0;
}

/* Starts @devs in order; on a failure stops those started.  The caller owns them. */
static int start_all(struct vfiomig_dirty *d, struct vfiomig_dev *const *devs, unsigned int n,
		     const struct plan *p)
{
	int r = choose(&p->opts, devs[0], &d->mechanism);

	if (r < 0)
		return r;
	if (d->mechanism == VFIOMIG_DIRTY_IOMMU)
		return start_iommu(d, devs, n, p);
	for (unsigned int i = 0; i < n; i++) {
		uint64_t page_size = 0;

		r = dev_log_start(devs[i], p, &page_size);
		if (r < 0) {
			for (unsigned int k = 0; k < i; k++)
				log_stop(devs[k]);
			return r;
		}
		d->devs[d->n_devs++] = vfiomig_dev_ref(devs[i]);
		d->page_size = page_size > d->page_size ? page_size : d->page_size;
	}
	return 0;
}

static int start(struct vfiomig_ctx *ctx, struct vfiomig_dev *const *devs, unsigned int n,
		 const struct vfiomig_iova_range *ranges, size_t n_ranges,
		 const struct vfiomig_dirty_opts *opts, struct vfiomig_dirty **ret)
{
	struct vfiomig_dirty *d;
	struct plan p;
	int r = plan_make(ctx, ranges, n_ranges, opts, &p);

	if (r < 0)
		goto out;
	d = session_new(ctx, n);
	if (!d) {
		r = vfiomig_fail(ctx, -ENOMEM, "out of memory for a dirty-tracking session");
		goto out;
	}
	r = start_all(d, devs, n, &p);
	if (r < 0) {
		session_free(d);
		goto out;
	}
	d->ranges = p.ranges;	/* the session's now */
	d->n_ranges = p.n;
	d->over_reports = p.over_reports;
	p.ranges = NULL;
	*ret = d;
out:
	free(p.ranges);
	return r;
}

VFIOMIG_EXPORT int vfiomig_dirty_start(struct vfiomig_dev *dev,
				       const struct vfiomig_iova_range *ranges, size_t n,
				       const struct vfiomig_dirty_opts *opts,
				       struct vfiomig_dirty **ret)
{
	struct call c;
	int r = call_begin_dev(&c, dev, 0);

	if (r == 0 && !ret)
		r = vfiomig_fail(dev->ctx, -EINVAL, "ret is NULL");
	if (r == 0)
		r = start(dev->ctx, &dev, 1, ranges, n, opts, ret);
	return call_end(&c, r);
}

VFIOMIG_EXPORT int vfiomig_group_dirty_start(struct vfiomig_group *g,
					     const struct vfiomig_iova_range *ranges, size_t n,
					     const struct vfiomig_dirty_opts *opts,
					     struct vfiomig_dirty **ret)
{
	struct vfiomig_dev *devs[VFIOMIG_GROUP_MAX];
	struct call c;
	int r = group_call_begin(&c, g);

	if (r == 0 && (!ret || !group_size(g)))
		r = vfiomig_fail(group_ctx(g), -EINVAL, !ret ? "ret is NULL" : "the group is empty");
	if (r == 0)
		r = group_take_members(g);
	if (r < 0)
		return call_end(&c, r);
	for (unsigned int i = 0; i < group_size(g); i++)
		devs[i] = group_dev(g, i);
	r = start(group_ctx(g), devs, group_size(g), ranges, n, opts, ret);
	if (r == 0)
		(*ret)->group = vfiomig_group_ref(g);
	group_give_back_members(g);
	return call_end(&c, r);
}

/* ---- calls on a session ---- */

/* A session's call takes its device, or its group and every member. */
struct session_call {
	struct call c;
	struct vfiomig_group *members;	/* whose members it took */
};

static int session_call_begin(struct session_call *sc, struct vfiomig_dirty *d)
{
	int r;

	sc->members = NULL;
	if (!d) {
		sc->c = (struct call){ 0 };
		return -EINVAL;
	}
	if (!d->group)
		return call_begin_dev(&sc->c, d->devs[0], 0);
	r = group_call_begin(&sc->c, d->group);
	if (r == 0)
		r = group_take_members(d->group);
	if (r == 0)
		sc->members = d->group;
	return r;
}

static int session_call_end(struct session_call *sc, int r)
{
	if (sc->members)
		group_give_back_members(sc->members);
	return call_end(&sc->c, r);
}

VFIOMIG_EXPORT int vfiomig_dirty_get_info(const struct vfiomig_dirty *d,
					  struct vfiomig_dirty_info *info)
{
	struct vfiomig_dirty_info in = { .sz = sizeof(in) };

	if (!d || sized_check_out(info) < 0)
		return -EINVAL;
	in.mechanism = d->mechanism;
	in.page_size = d->page_size;
	in.ranges = d->ranges;
	in.n_ranges = d->n_ranges;
	in.over_reports = d->over_reports;
	in.n_devices = d->n_devs;
	in.stopped = d->stopped;
	sized_copy_out(info, &in, sizeof(in));
	return 0;
}

/* Whether [iova, iova + length) lies in one tracked range, widened to whole pages. */
static bool inside_session(const struct vfiomig_dirty *d, uint64_t iova, uint64_t length)
{
	uint64_t mask = d->page_size - 1;

	for (size_t i = 0; i < d->n_ranges; i++) {
		uint64_t begin = d->ranges[i].iova & ~mask;
		uint64_t end = d->ranges[i].iova + d->ranges[i].length;

		end = end + mask < end ? UINT64_MAX : (end + mask) & ~mask;
		if (iova >= begin && length <= end - begin && iova - begin <= end - begin - length)
			return true;
	}
	return false;
}

static size_t bitmap_bytes(uint64_t pages)
{
	return (size_t)((pages + 63) / 64 * 8);
}

static int report_check(struct vfiomig_dirty *d, uint64_t iova, uint64_t length,
			const uint64_t *bitmap, size_t bitmap_size)
{
	uint64_t pages = length / d->page_size;

	if (d->stopped)
		return vfiomig_fail(d->ctx, -ESRCH, "the dirty-tracking session was stopped: "
				    "start a new one");
	if (!length || ((iova | length) & (d->page_size - 1)))
		return vfiomig_fail(d->ctx, -EINVAL, "report range [0x%" PRIx64 ", +0x%" PRIx64
				    ") is empty or not aligned to the session's page size (%" PRIu64
				    " bytes, the driver's)", iova, length, d->page_size);
	if (!inside_session(d, iova, length))
		return vfiomig_fail(d->ctx, -EINVAL, "report range [0x%" PRIx64 ", +0x%" PRIx64
				    ") is not inside the session's %zu %s "
				    "(vfiomig_dirty_get_info() lists them)", iova, length,
				    d->n_ranges, plural(d->n_ranges, "range", "ranges"));
	if (!bitmap || bitmap_size < bitmap_bytes(pages))
		return vfiomig_fail(d->ctx, -EINVAL, "the bitmap has %zu %s; %" PRIu64
				    " %s %s %zu", bitmap ? bitmap_size : 0,
				    plural(bitmap ? bitmap_size : 0, "byte", "bytes"), pages,
				    plural(pages, "page", "pages"), plural(pages, "needs", "need"),
				    bitmap_bytes(pages));
	return 0;
}

static int log_report(struct vfiomig_dev *dev, uint64_t iova, uint64_t length,
		      uint64_t page_size, uint64_t *bitmap)
{
	struct vfio_device_feature_dma_logging_report rep = {
		.iova = iova,
		.length = length,
		.page_size = page_size,
		.bitmap = (uint64_t)(uintptr_t)bitmap,
	};
	int r = vfiomig_dev_feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
				    &rep, sizeof(rep));

	if (r == -EOPNOTSUPP)	/* include/linux/iova_bitmap.h's stub */
		return vfiomig_fail(dev->ctx, r, "%s: the kernel cannot report dirty pages "
				    "(EOPNOTSUPP): it was built without CONFIG_IOMMUFD_DRIVER, which "
				    "only mlx5_vfio_pci, pds_vfio_pci or iommufd select (Debian 12's "
				    "6.12 has none of them)", dev->name);
	if (r < 0)
		return vfiomig_fail(dev->ctx, r, "%s: DMA logging REPORT of [0x%" PRIx64 ", +0x%"
				    PRIx64 ") failed: %s", dev->name, iova, length, strerror(-r));
	return 0;
}

/* Every member's report OR-ed into @bitmap (@words long, zeroed). */
static int report_all(struct vfiomig_dirty *d, uint64_t iova, uint64_t length,
		      uint64_t *bitmap, size_t words)
{
	int r;

	if (d->mechanism == VFIOMIG_DIRTY_IOMMU)
		return iommu_track_report(d->devs[0], d->iommufd, d->hwpt_id, iova, length,
					  d->page_size, bitmap);
	if (d->n_devs == 1)
		return log_report(d->devs[0], iova, length, d->page_size, bitmap);
	if (d->scratch_size < words) {
		free(d->scratch);
		d->scratch_size = 0;
		d->scratch = malloc(words * sizeof(*d->scratch));
		if (!d->scratch)
			return vfiomig_fail(d->ctx, -ENOMEM, "out of memory for a %zu-byte bitmap",
					    words * sizeof(*d->scratch));
		d->scratch_size = words;
	}
	for (unsigned int i = 0; i < d->n_devs; i++) {
		memset(d->scratch, 0, words * sizeof(*d->scratch));
		r = log_report(d->devs[i], iova, length, d->page_size, d->scratch);
		if (r < 0)
			return r;
		for (size_t w = 0; w < words; w++)
			bitmap[w] |= d->scratch[w];
	}
	return 0;
}

/*
 * Bits 0 .. @pages - 1 set and the rest of their last word clear, in the
 * first @size bytes of @bitmap and not one byte more.  A word that @size
 * ends inside is written through its bytes, so that the host's byte order
 * decides which of its bits the caller's bytes hold.
 */
static void fill_dirty(uint64_t *bitmap, size_t size, uint64_t pages)
{
	size_t full = size / sizeof(*bitmap);
	size_t tail = size % sizeof(*bitmap);
	uint64_t last;

	/* the range ends first (once pages / 64 >= full, full * 64 cannot wrap) */
	if (pages / 64 < full || pages == (uint64_t)full * 64) {
		full = (size_t)(pages / 64);
		tail = pages % 64 ? sizeof(*bitmap) : 0;
	}
	memset(bitmap, 0xff, full * sizeof(*bitmap));
	pages -= (uint64_t)full * 64;
	last = pages >= 64 ? UINT64_MAX : (1ull << pages) - 1;
	memcpy(&bitmap[full], &last, tail);
}

static uint64_t count_dirty(uint64_t *bitmap, uint64_t pages)
{
	size_t words = (size_t)((pages + 63) / 64);
	uint64_t n = 0;

	if (pages % 64)	/* a driver has no business past the range */
		bitmap[words - 1] &= (1ull << (pages % 64)) - 1;
	for (size_t w = 0; w < words; w++)
		n += (uint64_t)__builtin_popcountll(bitmap[w]);
	return n;
}

/* After a failure: every page of the range that @bitmap's bytes hold is dirty. */
static uint64_t report_all_dirty(const struct vfiomig_dirty *d, uint64_t length,
				 uint64_t *bitmap, size_t bitmap_size)
{
	uint64_t pages = length / d->page_size + (length % d->page_size != 0);

	if (bitmap)
		fill_dirty(bitmap, bitmap_size, pages);
	return pages;
}

VFIOMIG_EXPORT int vfiomig_dirty_report(struct vfiomig_dirty *d, uint64_t iova, uint64_t length,
					uint64_t *bitmap, size_t bitmap_size,
					uint64_t *ret_dirty)
{
	uint64_t pages = 0, dirty = 0;
	struct session_call sc;
	int r = session_call_begin(&sc, d);

	if (r == 0)
		r = report_check(d, iova, length, bitmap, bitmap_size);
	if (r == 0) {
		pages = length / d->page_size;
		memset(bitmap, 0, bitmap_bytes(pages));
		r = report_all(d, iova, length, bitmap, bitmap_bytes(pages) / sizeof(*bitmap));
	}
	if (r == 0)
		dirty = count_dirty(bitmap, pages);
	else if (d)
		dirty = report_all_dirty(d, length, bitmap, bitmap_size);
	/* the one out-parameter written on failure too: the safe answer */
	if (ret_dirty && d)
		*ret_dirty = dirty;
	return session_call_end(&sc, r);
}

/*
 * Every device is asked, whatever the others answer; the first failure is
 * kept, and recorded when @record, else logged (a destructor's: it leaves
 * the thread's error as it found it).
 */
static int stop_all(struct vfiomig_dirty *d, bool record)
{
	bool iommu = d->mechanism == VFIOMIG_DIRTY_IOMMU;
	int first = 0;

	for (unsigned int i = 0; i < d->n_devs; i++) {
		int r = iommu ? iommu_track_stop(d->iommufd, d->hwpt_id) : log_stop(d->devs[i]);
		char why[256];

		d->devs[i]->dirty_active = false;
		if (r == 0)
			continue;
		snprintf(why, sizeof(why), "%s: %s failed: %s", d->devs[i]->name,
			 iommu ? "IOMMU_HWPT_SET_DIRTY_TRACKING (off)" : "DMA logging STOP",
			 strerror(-r));
		if (!record)
			warn(d->ctx, "%s", why);
		else if (!first)
			first = vfiomig_fail(d->ctx, r, "%s", why);
	}
	d->stopped = true;
	return first;
}

VFIOMIG_EXPORT int vfiomig_dirty_stop(struct vfiomig_dirty *d)
{
	struct session_call sc;
	int r = session_call_begin(&sc, d);

	if (r == 0 && !d->stopped)
		r = stop_all(d, true);
	return session_call_end(&sc, r);
}

/* What a session's calls take: its device, or its group and its devices. */
static unsigned int session_owners(struct vfiomig_dirty *d, struct owner **o)
{
	unsigned int n = 0;

	if (d->group)
		o[n++] = group_owner(d->group);
	for (unsigned int i = 0; i < d->n_devs; i++)
		o[n++] = &d->devs[i]->owner;
	return n;
}

/*
 * A destructor cannot be refused: it waits for another thread's call on
 * the devices to end, and from a callback of this thread's own call on
 * them (which is paused in the callback) it stops them there and then.
 */
VFIOMIG_EXPORT struct vfiomig_dirty *vfiomig_dirty_free(struct vfiomig_dirty *d)
{
	struct owner *o[VFIOMIG_GROUP_MAX + 1];
	unsigned int n;

	if (!d)
		return NULL;
	if (!d->stopped) {
		n = session_owners(d, o);
		owners_take_waiting(o, n);
		stop_all(d, false);
		while (n--)
			owner_give_back(o[n]);
	}
	session_free(d);
	return NULL;
}
