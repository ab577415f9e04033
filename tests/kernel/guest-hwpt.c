/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * IOMMU dirty tracking through the library, against iommufd's selftest
 * domain (CONFIG_IOMMUFD_TEST), whose page tables take dirty bits on
 * command (IOMMU_TEST_OP_DIRTY), as tools/testing/selftests/iommu does:
 *
 *   a mock device and domain in an IOAS; a HWPT with dirty tracking,
 *   allocated by the library's own function (the one it uses for a cdev
 *   it bound), and the mock device moved onto it; 1 MiB of memory mapped;
 *   the library's session on an mtty handle with mechanism IOMMU, the
 *   iommufd and that HWPT; chosen 2 KiB IO pages made dirty; the library's
 *   4 KiB report compared with them bit for bit.
 *
 * Then the library's own iommufd: mtty opened through its cdev by the
 * library, where IOMMU tracking must be refused as emulated (an mdev has no
 * IOMMU page table) and leave the device working, and AUTO picks mtty's
 * DMA logging; and an adopted cdev, where the caller must name the HWPT.
 *
 *   guest-hwpt UUID     (any mtty instance, closed elsewhere)
 *
 * Prints TAP lines; tests/kernel/run.sh numbers them.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/mman.h>

#include <vfiomig/vfiomig.h>

#include "dirty-iommu.h"
#include "guest-vfio.h"

#define PLAN 9
#define MAPPED (1u << 20)
#define IOVA (1ull << 24)	/* MOCK_APERTURE_START */
#define IO_PAGE 2048u		/* the mock domain's: PAGE_SIZE / 2 */

/* drivers/iommu/iommufd/iommufd_test.h (not uAPI): the parts used here. */
enum { TEST_OP_MOCK_DOMAIN = 2, TEST_OP_MOCK_DOMAIN_REPLACE = 10, TEST_OP_DIRTY = 13 };
struct test_cmd {
	__u32 size;
	__u32 op;
	__u32 id;
	__u32 __reserved;
	union {
		struct {
			__u32 out_stdev_id, out_hwpt_id, out_idev_id;
		} mock_domain;
		struct {
			__u32 pt_id;
		} mock_domain_replace;
		struct {
			__u32 flags;
			__aligned_u64 iova, length, page_size, uptr, out_nr_dirty;
		} dirty;
		__u8 pad[48];	/* the kernel's union: its largest member, dirty */
	};
	__u32 last;
};
#define TEST_CMD _IO(IOMMUFD_TYPE, 0x80 + 32)

/* The selftest's setup; returns the dirty-tracking HWPT. */
static uint32_t mock_dirty_hwpt(struct vfiomig_ctx *ctx, int iommufd)
{
	uint32_t ioas = ioas_alloc(iommufd), hwpt;
	struct test_cmd md = { .size = sizeof(md), .op = TEST_OP_MOCK_DOMAIN, .id = ioas };
	struct test_cmd rep = { .size = sizeof(rep), .op = TEST_OP_MOCK_DOMAIN_REPLACE };
	void *mem = mmap(NULL, MAPPED, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas, .user_va = (uintptr_t)mem, .length = MAPPED, .iova = IOVA,
	};

	if (ioctl(iommufd, TEST_CMD, &md) < 0)
		die("IOMMU_TEST_OP_MOCK_DOMAIN (CONFIG_IOMMUFD_TEST?)");
	if (iommu_dirty_hwpt_alloc(ctx, "the mock device", iommufd, md.mock_domain.out_idev_id,
				   ioas, &hwpt) < 0) {
		printf("# %s\n", vfiomig_ctx_get_error(ctx));
		die("the library's IOMMU_HWPT_ALLOC with DIRTY_TRACKING");
	}
	rep.id = md.mock_domain.out_stdev_id;
	rep.mock_domain_replace.pt_id = hwpt;
	if (ioctl(iommufd, TEST_CMD, &rep) < 0)
		die("IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE");
	if (mem == MAP_FAILED || ioctl(iommufd, IOMMU_IOAS_MAP, &map) < 0)
		die("IOMMU_IOAS_MAP");
	return hwpt;
}

/* Dirty the 2 KiB IO pages @pages (indexes from IOVA) in the mock domain. */
static uint64_t make_dirty(int iommufd, uint32_t hwpt, const unsigned int *pages, size_t n)
{
	static uint64_t want[MAPPED / IO_PAGE / 64];
	struct test_cmd cmd = { .size = sizeof(cmd), .op = TEST_OP_DIRTY, .id = hwpt };

	memset(want, 0, sizeof(want));
	for (size_t i = 0; i < n; i++)
		want[pages[i] / 64] |= 1ull << (pages[i] % 64);
	cmd.dirty.iova = IOVA;
	cmd.dirty.length = MAPPED;
	cmd.dirty.page_size = IO_PAGE;
	cmd.dirty.uptr = (uintptr_t)want;
	if (ioctl(iommufd, TEST_CMD, &cmd) < 0)
		die("IOMMU_TEST_OP_DIRTY");
	return cmd.dirty.out_nr_dirty;
}

/* A cdev the library opened and bound itself: it allocates the HWPT. */
static void own_iommufd(struct vfiomig_ctx *ctx, const char *uuid)
{
	struct vfiomig_iova_range ram = { IOVA, MAPPED };
	struct vfiomig_dirty_opts o = { .sz = sizeof(o), .mechanism = VFIOMIG_DIRTY_IOMMU };
	struct vfiomig_dirty_info info = { .sz = sizeof(info) };
	struct vfiomig_dirty *d = NULL;
	struct vfiomig_dev *dev;
	char node[PATH_MAX];
	int r;

	cdev_node(uuid, node, sizeof(node));
	if (vfiomig_dev_open(ctx, node, &dev) < 0) {
		printf("# %s\n", vfiomig_ctx_get_error(ctx));
		die("the library opens the cdev");
	}
	r = vfiomig_dirty_start(dev, &ram, 1, &o, &d);
	tap(r == -EOPNOTSUPP && strstr(vfiomig_ctx_get_error(ctx), "is an emulated device"),
	    "IOMMU tracking on the library's iommufd: mtty is refused as emulated",
	    vfiomig_ctx_get_error(ctx));
	r = vfiomig_dev_set_state(dev, VFIOMIG_STATE_STOP, NULL);
	if (r == 0)
		r = vfiomig_dev_set_state(dev, VFIOMIG_STATE_RUNNING, NULL);
	tap(r == 0, "the refused device still moves STOP and back to RUNNING",
	    r ? vfiomig_ctx_get_error(ctx) : NULL);
	o.mechanism = VFIOMIG_DIRTY_AUTO;
	r = vfiomig_dirty_start(dev, &ram, 1, &o, &d);
	vfiomig_dirty_get_info(d, &info);
	tap(r == 0 && info.mechanism == VFIOMIG_DIRTY_DEVICE,
	    "AUTO picks mtty's DMA logging over the library's iommufd",
	    r ? vfiomig_ctx_get_error(ctx) : NULL);
	vfiomig_dirty_free(d);
	vfiomig_dev_unref(dev);
}

/* A cdev the caller bound: the library has no HWPT of its own to offer. */
static void adopted_needs_hwpt(struct vfiomig_ctx *ctx, const char *uuid)
{
	struct vfiomig_iova_range ram = { IOVA, MAPPED };
	struct vfiomig_dirty_opts o = { .sz = sizeof(o), .mechanism = VFIOMIG_DIRTY_IOMMU };
	struct vfiomig_dirty *d = NULL;
	struct vfiomig_dev *dev;
	int iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	int fd;

	if (iommufd < 0)
		die("/dev/iommu");
	fd = open_device_cdev(iommufd, ioas_alloc(iommufd), uuid);
	if (vfiomig_dev_adopt(ctx, fd, &dev) < 0)
		die("vfiomig_dev_adopt");
	tap(vfiomig_dirty_start(dev, &ram, 1, &o, &d) == -EINVAL &&
	    strstr(vfiomig_ctx_get_error(ctx), "needs opts.iommufd and opts.hwpt_id"),
	    "IOMMU tracking of an adopted cdev asks for the caller's HWPT",
	    vfiomig_ctx_get_error(ctx));
	vfiomig_dev_unref(dev);
	close(fd);
	close(iommufd);
}

int main(int argc, char **argv)
{
	/* IO pages 0 and 3, 127, 128 and 511: 4 KiB pages 0, 1, 63, 64 and 255 */
	static const unsigned int pages[] = { 0, 3, 127, 128, 511 };
	struct vfiomig_iova_range ram = { IOVA, MAPPED };
	struct vfiomig_dirty_opts o = { .sz = sizeof(o), .page_size = 4096,
					.mechanism = VFIOMIG_DIRTY_IOMMU };
	struct vfiomig_dirty_info info = { .sz = sizeof(info) };
	uint64_t bm[MAPPED / 4096 / 64], dirty = 0;
	struct vfiomig_dirty *d = NULL;
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	char why[160];
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: %s UUID\n", argv[0]);
		return 2;
	}
	printf("1..%d\n", PLAN);
	o.iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (o.iommufd < 0)
		die("/dev/iommu");
	if (vfiomig_ctx_new(&ctx) < 0)
		die("vfiomig_ctx_new");
	o.hwpt_id = mock_dirty_hwpt(ctx, o.iommufd);
	if (vfiomig_dev_open(ctx, argv[1], &dev) < 0)
		die("open the device");
	r = vfiomig_dirty_start(dev, &ram, 1, &o, &d);
	vfiomig_dirty_get_info(d, &info);
	tap(r == 0 && info.mechanism == VFIOMIG_DIRTY_IOMMU && info.page_size == 4096,
	   "IOMMU dirty tracking starts on the selftest's HWPT", r ? vfiomig_ctx_get_error(ctx) : NULL);
	if (r)
		return 1;
	if (make_dirty(o.iommufd, o.hwpt_id, pages, 5) != 5) {
		errno = EPROTO;
		die("IOMMU_TEST_OP_DIRTY marked other than 5 IO pages");
	}
	memset(bm, 0xa5, sizeof(bm));
	r = vfiomig_dirty_report(d, IOVA, MAPPED, bm, sizeof(bm), &dirty);
	snprintf(why, sizeof(why), "%d, %llu dirty, words 0x%llx 0x%llx 0x%llx 0x%llx", r,
		 (unsigned long long)dirty, (unsigned long long)bm[0], (unsigned long long)bm[1],
		 (unsigned long long)bm[2], (unsigned long long)bm[3]);
	tap(r == 0 && dirty == 5 && bm[0] == 0x8000000000000003ull && bm[1] == 1 && bm[2] == 0 &&
	   bm[3] == 1ull << 63, "the report matches the pages made dirty, bit for bit", why);
	r = vfiomig_dirty_report(d, IOVA, MAPPED, bm, sizeof(bm), &dirty);
	tap(r == 0 && dirty == 0 && !(bm[0] | bm[1] | bm[2] | bm[3]), "a report clears them", NULL);
	tap(vfiomig_dirty_stop(d) == 0, "stop turns the HWPT's tracking off",
	   vfiomig_ctx_get_error(ctx));
	r = vfiomig_dirty_report(d, IOVA, MAPPED, bm, sizeof(bm), &dirty);
	tap(r == -ESRCH && dirty == 256, "after stop: -ESRCH, everything dirty", NULL);
	vfiomig_dirty_free(d);
	vfiomig_dev_unref(dev);
	own_iommufd(ctx, argv[1]);
	adopted_needs_hwpt(ctx, argv[1]);
	vfiomig_ctx_unref(ctx);
	return 0;
}
