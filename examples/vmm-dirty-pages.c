/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a VMM does around a passthrough device during live migration:
 *
 *   1. start DMA logging over the guest's memory, and copy all of it once;
 *   2. while the device runs, copy the pages it dirtied, in rounds,
 *      alongside the device's own pre-copy data;
 *   3. switch over: the device stops, the rest of its state follows;
 *   4. take the last report, now that the device cannot write any more;
 *   5. stop logging.
 *
 * The guest's memory is a memfd at IOVA 0 that the mock device writes into
 * by "DMA" (dmafd=), each write a new number.  The destination's memory is
 * a plain buffer, and the device's state goes into a twin.  At the end the
 * two memories must be equal: every page the device dirtied was copied
 * after its last write.  The test suite runs this program; exit 0 means
 * they were equal.
 *
 * Usage: vmm-dirty-pages [--skip-last-report] [ROUNDS]   (default 4 rounds)
 * --skip-last-report leaves out step 4, to show what it costs: the pages
 * written between the last round and the stop never reach the destination.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <vfiomig/mock.h>
#include <vfiomig/vfiomig.h>

#define MEM_SIZE (16u << 20)	/* the guest's memory */
#define PAGE 4096u

static struct vfiomig_ctx *ctx;
static bool skip_last_report;

static int fail(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, vfiomig_ctx_get_error(ctx));
	return -1;
}

/* Copies the pages the device dirtied since the last report. */
static void copy_dirty(struct vfiomig_dirty *d, const uint8_t *src, uint8_t *dst,
		       uint64_t *bitmap, uint64_t *ret_pages)
{
	uint64_t dirty, pages = MEM_SIZE / PAGE;
	int r = vfiomig_dirty_report(d, 0, MEM_SIZE, bitmap, pages / 8, &dirty);

	if (r < 0)	/* the bitmap then says "all dirty": copying it is safe */
		fprintf(stderr, "report: %s; copying everything\n", vfiomig_ctx_get_error(ctx));
	for (uint64_t n = 0; n < pages; n++)
		if (bitmap[n / 64] & (1ull << (n % 64)))	/* the kernel's bit order */
			memcpy(dst + n * PAGE, src + n * PAGE, PAGE);
	*ret_pages = dirty;
}

/* Moves what the device has for now (pre-copy) or all the rest (stop-copy). */
static int move_state(struct vfiomig_dev *dev, int fd, struct vfiomig_dev *twin, int twin_fd,
		      unsigned int flags, uint64_t *moved)
{
	static char buf[65536];
	ssize_t n;

	while ((n = vfiomig_data_read(dev, fd, buf, sizeof(buf), flags)) > 0) {
		if (vfiomig_data_write(twin, twin_fd, buf, (size_t)n) < 0)
			return fail("write to the twin");
		*moved += (uint64_t)n;
	}
	return n == 0 || n == -EAGAIN ? 0 : fail("read the device's state");
}

static int migrate(struct vfiomig_dev *dev, struct vfiomig_dev *twin, const uint8_t *src,
		   uint8_t *dst, unsigned int rounds, uint64_t *total)
{
	struct vfiomig_iova_range ram = { .iova = 0, .length = MEM_SIZE };
	struct vfiomig_dirty_opts opts = { .sz = sizeof(opts), .page_size = PAGE };
	static uint64_t bitmap[MEM_SIZE / PAGE / 64];
	struct vfiomig_dirty_info info = { .sz = sizeof(info) };
	struct vfiomig_dirty *d;
	uint64_t pages, state_bytes = 0;
	int fd = -1, twin_fd = -1, r = -1;

	if (vfiomig_dirty_start(dev, &ram, 1, &opts, &d) < 0)	/* 1 */
		return fail("start DMA logging");
	vfiomig_dirty_get_info(d, &info);
	if (info.page_size != PAGE) {	/* the driver may choose a coarser one */
		fprintf(stderr, "this example copies %u-byte pages; the device tracks %" PRIu64 "\n",
			PAGE, info.page_size);
		goto out;
	}
	memcpy(dst, src, MEM_SIZE);
	if (vfiomig_data_begin_save(dev, VFIOMIG_SAVE_PRECOPY, &fd, NULL) < 0 ||
	    vfiomig_data_begin_load(twin, &twin_fd) < 0) {
		fail("begin");
		goto out;
	}
	for (unsigned int i = 1; i <= rounds; i++) {	/* 2 */
		usleep(20000);	/* the guest runs; the device writes */
		copy_dirty(d, src, dst, bitmap, &pages);
		if (move_state(dev, fd, twin, twin_fd, VFIOMIG_READ_PRECOPY, &state_bytes) < 0)
			goto out;
		printf("round %u: %" PRIu64 " dirty pages copied\n", i, pages);
		*total += pages;
	}
	usleep(20000);	/* the device writes while the last round is copied */
	if (vfiomig_dev_set_state(dev, VFIOMIG_STATE_STOP_COPY, NULL) < 0) {	/* 3 */
		fail("switch over");
		goto out;
	}
	if (move_state(dev, fd, twin, twin_fd, 0, &state_bytes) < 0)
		goto out;
	if (!skip_last_report) {	/* 4 */
		copy_dirty(d, src, dst, bitmap, &pages);
		printf("after the device stopped: %" PRIu64 " dirty pages copied\n", pages);
		*total += pages;
	}
	printf("%" PRIu64 " bytes of device state moved\n", state_bytes);
	if (vfiomig_data_finish_load(twin, VFIOMIG_STATE_RUNNING) < 0) {
		fail("load the twin");
		goto out;
	}
	r = 0;
out:
	if (r < 0 && fd >= 0)	/* the migration failed: the guest runs on here */
		vfiomig_dev_set_state(dev, VFIOMIG_STATE_RUNNING, NULL);
	if (fd >= 0)
		close(fd);
	if (twin_fd >= 0)
		close(twin_fd);
	if (vfiomig_dirty_stop(d) < 0)	/* 5 */
		fail("stop DMA logging");
	vfiomig_dirty_free(d);
	return r;
}

int main(int argc, char **argv)
{
	unsigned int rounds;
	uint64_t total = 0;
	int mem = memfd_create("guest-memory", MFD_CLOEXEC);
	struct vfiomig_dev *dev = NULL, *twin = NULL;
	uint8_t *src, *dst = malloc(MEM_SIZE);
	char spec[160];
	int r = 1;

	skip_last_report = argc > 1 && !strcmp(argv[1], "--skip-last-report");
	rounds = argc > 1 + skip_last_report ? (unsigned int)atoi(argv[1 + skip_last_report]) : 4;
	/* the mock NIC is libvfiomig-mock's; a VMM opens real devices */
	if (mem < 0 || ftruncate(mem, MEM_SIZE) < 0 || !dst || vfiomig_ctx_new(&ctx) < 0 ||
	    vfiomig_mock_attach(ctx) < 0)
		return 1;
	src = mmap(NULL, MEM_SIZE, PROT_READ, MAP_SHARED, mem, 0);
	if (src == MAP_FAILED)
		return 1;
	/* a NIC that writes 20000 times a second into the guest's memory */
	snprintf(spec, sizeof(spec), "mock:nic,dirtylog=1,dirtyrate=20000,dmafd=%d,size=1M,dirty=64K",
		 mem);
	if (vfiomig_dev_open(ctx, spec, &dev) < 0 ||
	    vfiomig_dev_open(ctx, "mock:nic-twin,size=1M,state=stop", &twin) < 0) {
		fail("open");
		return 1;
	}
	if (migrate(dev, twin, src, dst, rounds, &total) == 0) {
		r = memcmp(src, dst, MEM_SIZE) != 0;
		printf(r ? "the destination's memory differs: a dirty page was lost\n" :
			   "the destination's memory equals the source's\n");
		if (!total) {	/* then nothing was checked */
			printf("but the device dirtied no page\n");
			r = 1;
		}
	}
	vfiomig_dev_unref(twin);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
	munmap(src, MEM_SIZE);
	free(dst);
	close(mem);
	return r;
}
