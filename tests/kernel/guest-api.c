/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Runs inside the test VM against the real kernel and mtty: the C API on
 * device fds this program opened itself (legacy group and container) and
 * handed to the library with vfiomig_dev_adopt(), as a VMM would.
 *
 *   guest-api UUID_A UUID_B UUID_C   (A, B: mtty-2; C: mtty-1)
 *   guest-api poke UUID REG VALUE     write a UART register of port 0 (BAR0)
 *   guest-api peek UUID REG           print it
 *
 * Prints TAP.  poke and peek let the CLI tests set and check device state:
 * mtty keeps its registers across opens.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/vfio.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vfiomig/vfiomig.h>

#define S(x) VFIOMIG_STATE_##x

/* The plan, printed first: run.sh fails the suite when fewer checks report. */
#define PLAN 14

static int tests, failures;

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		failures++;
}

static void die(const char *what) __attribute__((noreturn));
static void die(const char *what)
{
	printf("Bail out! %s: %s\n", what, strerror(errno));
	exit(1);
}

/* The legacy path by hand: container, group, device fd. */
static int open_device(int container, const char *uuid, int first)
{
	char link[PATH_MAX], target[PATH_MAX], node[64];
	struct vfio_group_status status = { .argsz = sizeof(status) };
	ssize_t n;
	int group, fd;

	snprintf(link, sizeof(link), "/sys/bus/mdev/devices/%s/iommu_group", uuid);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		die(link);
	target[n] = '\0';
	snprintf(node, sizeof(node), "/dev/vfio/%s", strrchr(target, '/') + 1);
	group = open(node, O_RDWR | O_CLOEXEC);
	if (group < 0 || ioctl(group, VFIO_GROUP_GET_STATUS, &status) < 0)
		die(node);
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0)
		die("VFIO_GROUP_SET_CONTAINER");
	/* The first group of a container sets its IOMMU; again is EINVAL. */
	if (first && ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0)
		die("VFIO_SET_IOMMU");
	fd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	if (fd < 0)
		die("VFIO_GROUP_GET_DEVICE_FD");
	return fd;
}

static uint64_t bar0_offset(int fd)
{
	struct vfio_region_info info = { .argsz = sizeof(info), .index = 0 };

	if (ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &info) < 0)
		die("VFIO_DEVICE_GET_REGION_INFO");
	return info.offset;
}

/* UART register @reg of port 0, through BAR0 (region 0). */
static int uart_write(int fd, int reg, uint8_t v)
{
	return pwrite(fd, &v, 1, (off_t)(bar0_offset(fd) + (uint64_t)reg)) == 1 ? 0 : -errno;
}

static int uart_read(int fd, int reg)
{
	uint8_t v;

	return pread(fd, &v, 1, (off_t)(bar0_offset(fd) + (uint64_t)reg)) == 1 ? v : -errno;
}

static enum vfiomig_state state(struct vfiomig_dev *dev)
{
	enum vfiomig_state s = S(ERROR);

	vfiomig_dev_get_state(dev, &s);
	return s;
}

static int save_to(struct vfiomig_dev *dev, int fd, enum vfiomig_precopy_mode mode)
{
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = mode };

	return vfiomig_dev_save(dev, fd, &so);
}

static void check_identity(struct vfiomig_dev *a)
{
	uint64_t flags = 0, size = 0;
	int r;

	vfiomig_dev_get_mig_flags(a, &flags);
	ok(flags == 7, "adopted mtty-2 offers STOP_COPY|P2P|PRE_COPY (0x%llx)",
	   (unsigned long long)flags);
	r = vfiomig_dev_get_stop_copy_size(a, &size);
	ok(r == 0 && size == 96, "stop-copy size is 96 (%d, %llu)", r, (unsigned long long)size);
	ok(state(a) == S(RUNNING), "state RUNNING");
	ok(strcmp(vfiomig_dev_get_transport(a), "adopted") == 0, "transport is 'adopted'");
}

/* Every pair of requestable states; RESUMING is given a valid state first. */
static void check_pairs(struct vfiomig_dev *a, const char *state_buf, size_t len)
{
	int agree = 0, pairs = 0;

	for (int from = 1; from < VFIOMIG_STATE_COUNT; from++) {
		for (int to = 1; to < VFIOMIG_STATE_COUNT; to++) {
			enum vfiomig_state path[8];
			int fd = -1, r, n, want;

			vfiomig_dev_reset(a);
			if (vfiomig_dev_set_state(a, from, &fd) < 0)
				continue;
			if (from == S(RESUMING) && write(fd, state_buf, len) != (ssize_t)len)
				continue;
			if (fd >= 0)
				close(fd);
			n = vfiomig_fsm_path(7, from, to, path, 8);
			want = n < 0 ? -EINVAL : 0;
			fd = -1;
			r = vfiomig_dev_set_state(a, to, &fd);
			if (fd >= 0)
				close(fd);
			pairs++;
			if (r == want && state(a) == (r == 0 ? (enum vfiomig_state)to : (enum vfiomig_state)from))
				agree++;
			else
				printf("# %s -> %s: library %d, kernel state %s\n", vfiomig_state_name(from),
				       vfiomig_state_name(to), r, vfiomig_state_name(state(a)));
		}
	}
	ok(pairs == 49 && agree == pairs, "library and kernel agree on %d of %d state pairs",
	   agree, pairs);
	vfiomig_dev_reset(a);
}

static void check_moves_state(struct vfiomig_dev *a, int afd, struct vfiomig_dev *b, int bfd)
{
	int mem = memfd_create("state", MFD_CLOEXEC), r;
	struct vfiomig_load_opts lo = { .sz = sizeof(lo) };

	/* The scratch register and the line control register of port 0. */
	uart_write(afd, 7, 0x5a);
	uart_write(afd, 3, 0x1b);
	uart_write(bfd, 7, 0x00);
	r = save_to(a, mem, VFIOMIG_PRECOPY_MODE_AUTO);
	ok(r == 0, "save with pre-copy (%d)", r);
	lseek(mem, 0, SEEK_SET);
	r = vfiomig_dev_load(b, mem, &lo);
	ok(r == 0, "load into the twin (%d)", r);
	ok(uart_read(bfd, 7) == 0x5a && uart_read(bfd, 3) == 0x1b,
	   "UART registers moved: scratch 0x%x, LCR 0x%x", uart_read(bfd, 7), uart_read(bfd, 3));
	ok(state(a) == S(STOP) && state(b) == S(RUNNING), "source STOP, destination RUNNING");
	close(mem);
}

static void check_refusals(struct vfiomig_ctx *ctx, struct vfiomig_dev *b, struct vfiomig_dev *c)
{
	struct vfiomig_load_opts lo = { .sz = sizeof(lo) };
	int mem = memfd_create("c", MFD_CLOEXEC), r;
	enum vfiomig_state before = state(b);
	char why[512] = "";

	vfiomig_dev_set_state(c, S(RUNNING), NULL);
	r = save_to(c, mem, VFIOMIG_PRECOPY_MODE_NEVER);
	lseek(mem, 0, SEEK_SET);
	r = r ? r : vfiomig_dev_load(b, mem, &lo);
	if (r < 0)
		snprintf(why, sizeof(why), "%s", vfiomig_ctx_get_error(ctx));
	/*
	 * The mdev type is part of the identity: refused before the first
	 * write, so mtty never sees the foreign state.  An adopted fd names
	 * its sysfs device only where the kernel's fdinfo does (not this
	 * 6.12): without an identity, mtty itself refuses the data, half-way,
	 * and the partial state is discarded.
	 */
	if (vfiomig_dev_get_driver(b))
		ok(r == -ENODEV && state(b) == before && strstr(why, "of type mtty-1"),
		   "an mtty-1 stream is refused by an mtty-2 before anything is written (%d: %s)",
		   r, why);
	else
		ok(r < 0 && state(b) == S(STOP) && strstr(why, "partial state was discarded"),
		   "an mtty-1 stream is refused by an mtty-2 (adopted, no identity: %d: %s)",
		   r, why);
	close(mem);
}

/* The two mtty-2 instances, adopted, as one group: down and up again. */
static void check_group(struct vfiomig_ctx *ctx, struct vfiomig_dev *a, struct vfiomig_dev *b)
{
	struct vfiomig_group *g;
	int r = vfiomig_group_new(ctx, 0, &g), down = -1, up = -1;

	vfiomig_dev_set_state(a, S(RUNNING), NULL);
	vfiomig_dev_set_state(b, S(RUNNING), NULL);
	if (r == 0 && vfiomig_group_add(g, a) == 0 && vfiomig_group_add(g, b) == 0) {
		down = vfiomig_group_set_state(g, S(STOP), NULL);
		down = down ? down : (state(a) == S(STOP) && state(b) == S(STOP) ? 0 : -EIO);
		up = vfiomig_group_set_state(g, S(RUNNING), NULL);
		up = up ? up : (state(a) == S(RUNNING) && state(b) == S(RUNNING) ? 0 : -EIO);
	}
	ok(r == 0 && down == 0 && up == 0, "a group of the two mtty-2 goes to STOP and back to "
	   "RUNNING (%d, %d, %d)", r, down, up);
	vfiomig_group_unref(g);
}

static int poke_or_peek(int container, int argc, char **argv)
{
	int fd = open_device(container, argv[2], 1);
	int reg = atoi(argv[3]);

	if (strcmp(argv[1], "poke") == 0 && argc == 5)
		return uart_write(fd, reg, (uint8_t)strtoul(argv[4], NULL, 0)) < 0;
	printf("0x%02x\n", uart_read(fd, reg));
	return 0;
}

int main(int argc, char **argv)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *a, *b, *c;
	int container, afd, bfd, cfd, mem;
	char buf[4096];
	ssize_t len;

	if (argc < 4 && !(argc == 4 && strcmp(argv[1], "peek") == 0)) {
		fprintf(stderr, "usage: %s UUID_A UUID_B UUID_C | poke UUID REG VALUE | peek UUID REG\n",
			argv[0]);
		return 2;
	}
	container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (container < 0)
		die("/dev/vfio/vfio");
	if (strcmp(argv[1], "poke") == 0 || strcmp(argv[1], "peek") == 0)
		return poke_or_peek(container, argc, argv);
	afd = open_device(container, argv[1], 1);
	bfd = open_device(container, argv[2], 0);
	cfd = open_device(container, argv[3], 0);
	printf("1..%d\n", PLAN);
	if (vfiomig_ctx_new(&ctx) < 0 || vfiomig_dev_adopt(ctx, afd, &a) < 0 ||
	    vfiomig_dev_adopt(ctx, bfd, &b) < 0 || vfiomig_dev_adopt(ctx, cfd, &c) < 0)
		die("adopt");

	check_identity(a);
	/* A raw STOP_COPY image of B, for pairs that start in RESUMING. */
	mem = memfd_create("raw", MFD_CLOEXEC);
	{
		struct vfiomig_save_opts so = { .sz = sizeof(so), .flags = VFIOMIG_XFER_RAW,
						.leave = VFIOMIG_LEAVE_RUNNING };

		ok(vfiomig_dev_save(b, mem, &so) == 0, "raw save of the twin");
	}
	len = pread(mem, buf, sizeof(buf), 0);
	ok(len == 96, "raw mtty-2 image is 96 bytes (%zd)", len);
	close(mem);
	check_pairs(a, buf, (size_t)len);
	check_moves_state(a, afd, b, bfd);
	check_refusals(ctx, b, c);
	check_group(ctx, a, b);

	vfiomig_dev_unref(a);
	vfiomig_dev_unref(b);
	vfiomig_dev_unref(c);
	vfiomig_ctx_unref(ctx);
	ok(fcntl(afd, F_GETFD) >= 0 && fcntl(bfd, F_GETFD) >= 0, "adopted fds still open after unref");
	return failures || tests != PLAN ? 1 : 0;
}
