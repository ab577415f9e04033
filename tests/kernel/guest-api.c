/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Runs inside the test VM against the real kernel and mtty: the C API on
 * device fds this program opened itself (legacy group and container) and
 * handed to the library with vfiomig_dev_adopt(), as a VMM would.
 *
 *   guest-api UUID_A UUID_B UUID_C UUID_D UUID_E UUID_F
 *                                     (A, B, D, E: mtty-2; C, F: mtty-1; D
 *                                     and E are the group tests'
 *                                     destinations; F the library opens
 *                                     and closes itself)
 *   guest-api poke UUID REG VALUE     write a UART register of port 0 (BAR0)
 *   guest-api peek UUID REG           print it
 *   guest-api flip FILE DEVICE        flip a byte of the device's end record
 *                                     of stream device DEVICE in FILE
 *
 * Prints TAP.  poke, peek and flip let the CLI tests set and check device
 * state and spoil streams: mtty keeps its registers across opens.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/vfio.h>
#include "guest-vfio.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <syslog.h>
#include <unistd.h>

#include <vfiomig/mock.h>
#include <vfiomig/vfiomig.h>

#define S(x) VFIOMIG_STATE_##x

/* The plan, printed first: run.sh fails the suite when fewer checks report. */
#define PLAN 34
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

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

/* The device's group, /dev/vfio/N. */
static void group_node(const char *uuid, char *node, size_t size)
{
	char link[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/sys/bus/mdev/devices/%s/iommu_group", uuid);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		die(link);
	target[n] = '\0';
	snprintf(node, size, "/dev/vfio/%s", strrchr(target, '/') + 1);
}

/* The legacy path by hand: container, group, device fd. */
static int open_device(int container, const char *uuid, int first)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char node[64];
	int group, fd;

	group_node(uuid, node, sizeof(node));
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

/*
 * Whether this kernel's core can REPORT at all: Debian's 6.12 is built
 * without CONFIG_IOMMUFD_DRIVER, so include/linux/iova_bitmap.h's stub
 * fails every REPORT with EOPNOTSUPP before the driver is asked.
 */
static int report_answer(void)
{
	struct utsname u;

	return uname(&u) == 0 && strstr(u.release, "+deb12") ? -EOPNOTSUPP : 0;
}

/*
 * DMA logging on mtty: its log_ops are stubs that accept everything and set
 * no bit, so this checks the plumbing through the kernel's core and the
 * library's own refusals, not the bits (the mock's tests check those).
 * Where REPORT fails, the library must say "all dirty".
 */
static void check_dirty(struct vfiomig_ctx *ctx, struct vfiomig_dev *a, struct vfiomig_dev *b)
{
	struct vfiomig_iova_range ram = { 0, 1ull << 30 }, bad = { 0x800, 0x1000 }, many[300];
	struct vfiomig_dirty_opts opts = { .sz = sizeof(opts), .page_size = 4096 };
	struct vfiomig_dirty_info info = { .sz = sizeof(info) };
	static uint64_t bitmap[(1 << 18) / 64];	/* 1 GiB of 4 KiB pages */
	struct vfiomig_dirty *d = NULL, *d2 = NULL;
	struct vfiomig_group *g = NULL;
	uint64_t dirty = 1, clear = report_answer() ? UINT64_MAX : 0;
	int r, r2, want = report_answer();

	r = vfiomig_dirty_start(a, &ram, 1, &opts, &d);
	vfiomig_dirty_get_info(d, &info);
	ok(r == 0 && info.page_size == 4096 && info.n_ranges == 1 && !info.over_reports,
	   "DMA logging START through the kernel: %d, page size %llu", r,
	   (unsigned long long)info.page_size);
	memset(bitmap, 0x5a, sizeof(bitmap));
	r = vfiomig_dirty_report(d, 0, 1ull << 30, bitmap, sizeof(bitmap), &dirty);
	ok(r == want && dirty == (want ? 1u << 18 : 0) && bitmap[0] == clear &&
	   bitmap[ARRAY_SIZE(bitmap) - 1] == clear &&
	   (!want || strstr(vfiomig_ctx_get_error(ctx), "CONFIG_IOMMUFD_DRIVER")),
	   "REPORT of 1 GiB: %d (want %d), %llu dirty, the bitmap %s", r, want,
	   (unsigned long long)dirty, want ? "all dirty" : "zeroed by the library");
	r = vfiomig_dirty_start(a, &ram, 1, &opts, &d2);
	r2 = vfiomig_dirty_start(b, &bad, 1, &opts, &d2);
	ok(r == -EBUSY && r2 == -EINVAL && strstr(vfiomig_ctx_get_error(ctx), "not aligned"),
	   "a second START on the handle: %d; a misaligned range: %d (%s)", r, r2,
	   vfiomig_ctx_get_error(ctx));
	vfiomig_dev_reset(a);
	r = vfiomig_dirty_report(d, 0, 1ull << 20, bitmap, sizeof(bitmap), &dirty);
	r2 = vfiomig_dirty_stop(d);
	ok(r == want && r2 == 0, "REPORT after a reset: %d (the session survives it); STOP: %d",
	   r, r2);
	memset(bitmap, 0, sizeof(bitmap));
	r = vfiomig_dirty_report(d, 0, 1ull << 20, bitmap, sizeof(bitmap), &dirty);
	ok(r == -ESRCH && dirty == 256 && bitmap[0] == UINT64_MAX && bitmap[3] == UINT64_MAX &&
	   bitmap[4] == 0, "REPORT after STOP: %d, all 256 pages reported dirty", r);
	vfiomig_dirty_free(d);
	for (unsigned int i = 0; i < ARRAY_SIZE(many); i++)
		many[i] = (struct vfiomig_iova_range){ (uint64_t)i << 24, 1 << 20 };
	many[299].iova = 1ull << 40;	/* far up, like a 64-bit PCI hole */
	d = NULL;
	r = vfiomig_group_new(ctx, 0, &g);
	if (r == 0 && vfiomig_group_add(g, a) == 0 && vfiomig_group_add(g, b) == 0)
		r = vfiomig_group_dirty_start(g, many, ARRAY_SIZE(many), &opts, &d);
	vfiomig_dirty_get_info(d, &info);
	r2 = d ? vfiomig_dirty_report(d, 1ull << 40, 1 << 20, bitmap, sizeof(bitmap), &dirty) : -1;
	ok(r == 0 && r2 == want && info.n_devices == 2 && info.n_ranges == 3 && info.over_reports &&
	   vfiomig_dirty_stop(d) == 0, "a group of two tracks 300 ranges collapsed into %zu: %d, "
	   "REPORT %d", info.n_ranges, r, r2);
	vfiomig_dirty_free(d);
	vfiomig_group_unref(g);
}

/* An adopted device and the fd it came from, which reaches its registers. */
struct member {
	struct vfiomig_dev *dev;
	int fd;
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * Flips the middle byte of the payload of the DEVICE_END record (type 4) of
 * stream device @device in the stream @fd: docs/stream-format.md, a
 * 16-byte preamble, then records of a 32-byte header (type at 0, device at
 * 4, payload length at 8) and the payload.  A device's DEVICE_END follows
 * its data, so it is never the first record after the identities, which
 * a loader reads before it touches any member: the failure comes after
 * every member entered RESUMING, whatever order the workers wrote in.
 * Return: the offset of the flipped byte, or -1 if there is no such record.
 */
static off_t flip_in_record(int fd, uint32_t device)
{
	uint8_t h[32], c;
	off_t off = 16;

	while (pread(fd, h, sizeof(h), off) == (ssize_t)sizeof(h)) {
		uint32_t type = h[0] | h[1] << 8, len = le32(h + 8);

		if (type == 4 && le32(h + 4) == device && len > 0) {
			off += (off_t)(sizeof(h) + len / 2);
			if (pread(fd, &c, 1, off) != 1)
				return -1;
			c = (uint8_t)~c;
			return pwrite(fd, &c, 1, off) == 1 ? off : -1;
		}
		off += (off_t)(sizeof(h) + len);
	}
	return -1;
}

static struct vfiomig_group *group_of(struct vfiomig_ctx *ctx, struct vfiomig_dev *first,
				      struct vfiomig_dev *second)
{
	struct vfiomig_group *g = NULL;
	int r = vfiomig_group_new(ctx, 0, &g);

	r = r ? r : vfiomig_group_add(g, first);
	r = r ? r : vfiomig_group_add(g, second);
	if (r < 0) {
		errno = -r;
		die("a group of two");
	}
	return g;
}

/* Distinct scratch registers on the sources (0xaN, 0xbN), 0 on their twins. */
static void mark(const struct member *src, const struct member *dst, int round)
{
	uart_write(src[0].fd, 7, (uint8_t)(0xa0 | round));
	uart_write(src[1].fd, 7, (uint8_t)(0xb0 | round));
	uart_write(dst[0].fd, 7, 0);
	uart_write(dst[1].fd, 7, 0);
}

/* Each twin holds its own source's scratch register of @round. */
static int twins_marked(const struct member *dst, int round)
{
	return uart_read(dst[0].fd, 7) == (0xa0 | round) &&
	       uart_read(dst[1].fd, 7) == (0xb0 | round);
}

static int group_in(struct vfiomig_group *g, enum vfiomig_state s)
{
	for (unsigned int i = 0; i < (unsigned int)vfiomig_group_get_size(g); i++)
		if (state(vfiomig_group_get_member(g, i)) != s)
			return 0;
	return 1;
}

static const char *group_states(struct vfiomig_group *g, char *buf, size_t len)
{
	buf[0] = '\0';
	for (unsigned int i = 0; i < (unsigned int)vfiomig_group_get_size(g); i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? " " : "",
			 vfiomig_state_name(state(vfiomig_group_get_member(g, i))));
	return buf;
}

/*
 * A and B saved as one group into one stream, loaded into D and E as one
 * group: each destination gets its own source's registers (by position,
 * all four being adopted mtty-2), and the destinations run only after
 * both are loaded.
 */
static void check_group_moves(struct vfiomig_group *from, const struct member *src,
			      struct vfiomig_group *to, const struct member *dst,
			      enum vfiomig_precopy_mode mode, int round)
{
	struct vfiomig_stats st = { .sz = sizeof(st) };
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = mode, .stats = &st };
	struct vfiomig_load_opts lo = { .sz = sizeof(lo) };
	struct vfiomig_group_result rd = { .sz = sizeof(rd) }, re = { .sz = sizeof(re) };
	const char *how = mode == VFIOMIG_PRECOPY_MODE_AUTO ? "with pre-copy" : "without pre-copy";
	int mem = memfd_create("group", MFD_CLOEXEC), r;
	char s1[64], s2[64];

	vfiomig_group_set_state(from, S(RUNNING), NULL);
	mark(src, dst, round);
	r = vfiomig_group_save(from, &mem, 1, &so);
	/* mtty: 96 bytes each; in pre-copy its 24-byte header, before the switchover. */
	ok(r == 0 && st.precopy_bytes + st.stop_copy_bytes == 192 &&
	   (mode == VFIOMIG_PRECOPY_MODE_AUTO ? st.precopy_bytes == 48 && st.precopy_rounds > 0 :
						st.precopy_bytes == 0),
	   "group save of A and B %s into one memfd (%d: %llu bytes pre-copy in %u rounds, "
	   "%llu stop-copy)", how, r, (unsigned long long)st.precopy_bytes, st.precopy_rounds,
	   (unsigned long long)st.stop_copy_bytes);
	lseek(mem, 0, SEEK_SET);
	r = vfiomig_group_load(to, &mem, 1, &lo);
	ok(r == 0 && twins_marked(dst, round), "group load into D and E (%s): each has its own "
	   "twin's scratch register (%d: D 0x%x of A's 0x%x, E 0x%x of B's 0x%x)", how, r,
	   uart_read(dst[0].fd, 7), 0xa0 | round, uart_read(dst[1].fd, 7), 0xb0 | round);
	vfiomig_group_get_result(to, 0, &rd);
	vfiomig_group_get_result(to, 1, &re);
	ok(group_in(from, S(STOP)) && group_in(to, S(RUNNING)) && rd.stream_device == 0 &&
	   re.stream_device == 1, "sources %s, destinations %s; D took stream device %d, E %d",
	   group_states(from, s1, sizeof(s1)), group_states(to, s2, sizeof(s2)),
	   rd.stream_device, re.stream_device);
	close(mem);
}

/* The other form: one single-device stream per member. */
static void check_group_streams(struct vfiomig_group *from, const struct member *src,
				struct vfiomig_group *to, const struct member *dst)
{
	int mems[2] = { memfd_create("a", MFD_CLOEXEC), memfd_create("b", MFD_CLOEXEC) };
	int saved, loaded;

	vfiomig_group_set_state(from, S(RUNNING), NULL);
	mark(src, dst, 3);
	saved = vfiomig_group_save(from, mems, 2, NULL);
	lseek(mems[0], 0, SEEK_SET);
	lseek(mems[1], 0, SEEK_SET);
	loaded = vfiomig_group_load(to, mems, 2, NULL);
	ok(saved == 0 && loaded == 0 && twins_marked(dst, 3) && group_in(to, S(RUNNING)),
	   "group save and load with one stream per member (%d, %d): D 0x%x, E 0x%x", saved,
	   loaded, uart_read(dst[0].fd, 7), uart_read(dst[1].fd, 7));
	close(mems[0]);
	close(mems[1]);
}

/*
 * A group load that fails half-way: the stream's device 1 has a byte of
 * its end record flipped, so that record fails its checksum.  By then both
 * members are RESUMING and have had all or part of their data.  Every member is
 * reset and stopped by the library within this process, which holds the
 * device fds open all along: so this never meets the mtty 6.12 oops on a
 * session that an earlier process left (guest-cli.sh), and no RESUMING ->
 * STOP is asked of a member with partial data.  mtty applies a state only
 * at RESUMING -> STOP, so scratch registers still 0 show that no member
 * took its part of the refused stream.
 */
static void check_group_corrupt(struct vfiomig_ctx *ctx, struct vfiomig_group *from,
				const struct member *src, struct vfiomig_group *to,
				const struct member *dst)
{
	struct vfiomig_load_opts lo = { .sz = sizeof(lo) };
	int mem = memfd_create("bad", MFD_CLOEXEC), saved, r;
	char why[512] = "", s[64];
	off_t at;

	vfiomig_group_set_state(from, S(RUNNING), NULL);
	mark(src, dst, 4);
	saved = vfiomig_group_save(from, &mem, 1, NULL);
	at = flip_in_record(mem, 1);
	lseek(mem, 0, SEEK_SET);
	r = vfiomig_group_load(to, &mem, 1, &lo);
	snprintf(why, sizeof(why), "%s", r < 0 ? vfiomig_ctx_get_error(ctx) : "loaded");
	ok(saved == 0 && at > 0 && r == -EBADMSG && strstr(why, "checksum") &&
	   group_in(to, S(STOP)), "a group stream with a byte of device 1's record flipped (at "
	   "%lld) is refused, and every member is left in STOP: %s (%d: %s)", (long long)at,
	   group_states(to, s, sizeof(s)), r, why);
	ok(uart_read(dst[0].fd, 7) == 0 && uart_read(dst[1].fd, 7) == 0,
	   "no member took its part of the refused stream: scratch D 0x%x, E 0x%x",
	   uart_read(dst[0].fd, 7), uart_read(dst[1].fd, 7));
	close(mem);
}

/*
 * A group load that mtty itself refuses half-way: a stream of A (mtty-2)
 * and C (mtty-1) into D and E.  Adopted fds carry no identity on 6.12
 * (check_refusals), so the library matches by position and E's driver
 * refuses C's data at its first write; D's load is abandoned with it.
 */
static void check_group_refused(struct vfiomig_ctx *ctx, struct vfiomig_dev *a,
				struct vfiomig_dev *c, struct vfiomig_group *to)
{
	struct vfiomig_group *from = group_of(ctx, a, c);
	int mem = memfd_create("ac", MFD_CLOEXEC), saved, r;
	char why[512] = "", s[64];

	vfiomig_group_set_state(from, S(RUNNING), NULL);
	vfiomig_group_set_state(to, S(RUNNING), NULL);
	saved = vfiomig_group_save(from, &mem, 1, NULL);
	lseek(mem, 0, SEEK_SET);
	r = vfiomig_group_load(to, &mem, 1, NULL);
	snprintf(why, sizeof(why), "%s", r < 0 ? vfiomig_ctx_get_error(ctx) : "loaded");
	if (vfiomig_dev_get_driver(vfiomig_group_get_member(to, 1)))
		ok(saved == 0 && r == -ENODEV && group_in(to, S(RUNNING)),
		   "a group stream of an mtty-2 and an mtty-1 is refused before any write: %s "
		   "(%d: %s)", group_states(to, s, sizeof(s)), r, why);
	else
		ok(saved == 0 && r == -EFAULT && group_in(to, S(STOP)), "a group stream of an "
		   "mtty-2 and an mtty-1 is refused by mtty half-way, and every member is left "
		   "in STOP: %s (%d: %s)", group_states(to, s, sizeof(s)), r, why);
	vfiomig_group_unref(from);
	close(mem);
}

/* The library's last warning: where it says which teardown step the kernel refused. */
#define WARNING_MAX 256

static void keep_warning(void *userdata, int priority, const char *msg)
{
	if (priority <= LOG_WARNING)
		snprintf(userdata, WARNING_MAX, "%s", msg);
}

/* Whether a new owner can take the device's group (a new container) or cdev (an iommufd). */
static int takes_new_owner(const char *uuid, int via_cdev)
{
	char node[PATH_MAX];
	int fd, owner, r;

	if (via_cdev)
		cdev_node(uuid, node, sizeof(node));
	else
		group_node(uuid, node, sizeof(node));
	fd = open(node, O_RDWR | O_CLOEXEC);
	owner = open(via_cdev ? "/dev/iommu" : "/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (fd < 0 || owner < 0)
		r = -1;
	else if (via_cdev)
		r = ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &(struct vfio_device_bind_iommufd){
			.argsz = sizeof(struct vfio_device_bind_iommufd), .iommufd = owner });
	else
		r = ioctl(fd, VFIO_GROUP_SET_CONTAINER, &owner);
	if (r < 0)
		printf("# %s: %s\n", node, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (owner >= 0)
		close(owner);
	return r == 0;
}

/*
 * A device the library opened itself, let go of in the kernel's order:
 * the device fd first, then its group's container (VFIO_GROUP_UNSET_CONTAINER
 * is EBUSY while a device of the group is open) or, for a cdev, its HWPT.
 * The library logs a refused step as a warning.
 */
static void check_teardown(const char *uuid, int via_cdev)
{
	char spec[PATH_MAX], warning[WARNING_MAX] = "";
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;

	if (via_cdev)
		cdev_node(uuid, spec, sizeof(spec));
	else
		snprintf(spec, sizeof(spec), "%s", uuid);
	if (vfiomig_ctx_new(&ctx) < 0)
		die("vfiomig_ctx_new");
	vfiomig_ctx_set_log_fn(ctx, keep_warning, warning);
	vfiomig_ctx_set_log_priority(ctx, LOG_WARNING);
	if (vfiomig_dev_open(ctx, spec, &dev) < 0) {
		printf("# %s\n", vfiomig_ctx_get_error(ctx));
		die("the library opens F");
	}
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
	ok(!warning[0], "the library lets go of a device it opened (%s) with no step "
	   "refused%s%s", spec, warning[0] ? ": " : "", warning);
	ok(takes_new_owner(uuid, via_cdev), "then its %s takes a new owner",
	   via_cdev ? "cdev" : "group");
}

/*
 * The device F opened by the spec a user would type (its UUID, or its cdev
 * node), and adopted through that fd: one device to vfiomig_dev_is_same()
 * by the sysfs name the kernel gives both (the cdev's links), though the
 * names differ for a cdev.  A group's device fd names no device on 6.12
 * (no "vfio-device-syspath" in its fdinfo): adopted, it is "fd:N", a
 * device of its own.
 */
static void check_same(const char *uuid, int via_cdev)
{
	char spec[PATH_MAX];
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev, *adopted, *mock;
	int known;

	if (via_cdev)
		cdev_node(uuid, spec, sizeof(spec));
	else
		snprintf(spec, sizeof(spec), "%s", uuid);
	if (vfiomig_ctx_new(&ctx) < 0 || vfiomig_mock_attach(ctx) < 0 ||
	    vfiomig_dev_open(ctx, spec, &dev) < 0 ||
	    vfiomig_dev_adopt(ctx, vfiomig_dev_get_fd(dev), &adopted) < 0 ||
	    vfiomig_dev_open(ctx, "mock:other", &mock) < 0)
		die("open, adopt");
	known = strncmp(vfiomig_dev_get_name(adopted), "fd:", 3) != 0;
	ok(vfiomig_dev_is_same(dev, adopted) == known && known == via_cdev,
	   "%s (%s) and its adopted fd (%s) are %s", spec, vfiomig_dev_get_name(dev),
	   vfiomig_dev_get_name(adopted), known ? "one device" : "not known to be one device");
	ok(vfiomig_dev_is_same(dev, mock) == 0, "and another device is not");
	vfiomig_dev_unref(mock);
	vfiomig_dev_unref(adopted);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
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

static int flip(const char *file, const char *device)
{
	int fd = open(file, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die(file);
	return flip_in_record(fd, (uint32_t)atoi(device)) < 0;
}

int main(int argc, char **argv)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *a, *b, *c, *d, *e;
	struct vfiomig_group *from, *to;
	int container, afd, bfd, cfd, dfd, efd, mem;
	int tool = argc >= 4 && (strcmp(argv[1], "poke") == 0 || strcmp(argv[1], "peek") == 0);
	char buf[4096];
	ssize_t len;

	if (argc == 4 && strcmp(argv[1], "flip") == 0)
		return flip(argv[2], argv[3]);
	if (argc != 7 && !tool) {
		fprintf(stderr, "usage: %s UUID_A UUID_B UUID_C UUID_D UUID_E UUID_F | "
			"poke UUID REG VALUE | peek UUID REG | flip FILE DEVICE\n", argv[0]);
		return 2;
	}
	container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (container < 0)
		die("/dev/vfio/vfio");
	if (tool)
		return poke_or_peek(container, argc, argv);
	if (getenv("VFIOMIG_VIA_CDEV")) {
		int iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
		uint32_t ioas;

		if (iommufd < 0)
			die("/dev/iommu");
		close(container);	/* every device goes through the cdev */
		ioas = ioas_alloc(iommufd);
		afd = open_device_cdev(iommufd, ioas, argv[1]);
		bfd = open_device_cdev(iommufd, ioas, argv[2]);
		cfd = open_device_cdev(iommufd, ioas, argv[3]);
		dfd = open_device_cdev(iommufd, ioas, argv[4]);
		efd = open_device_cdev(iommufd, ioas, argv[5]);
	} else {
		afd = open_device(container, argv[1], 1);
		bfd = open_device(container, argv[2], 0);
		cfd = open_device(container, argv[3], 0);
		dfd = open_device(container, argv[4], 0);
		efd = open_device(container, argv[5], 0);
	}
	printf("1..%d\n", PLAN);
	printf("# guest-api: devices %s\n", getenv("VFIOMIG_VIA_CDEV") ?
	       "opened through their cdevs, bound to one iommufd and attached to its IOAS" :
	       "opened through their groups in one legacy container");
	if (vfiomig_ctx_new(&ctx) < 0 || vfiomig_dev_adopt(ctx, afd, &a) < 0 ||
	    vfiomig_dev_adopt(ctx, bfd, &b) < 0 || vfiomig_dev_adopt(ctx, cfd, &c) < 0 ||
	    vfiomig_dev_adopt(ctx, dfd, &d) < 0 || vfiomig_dev_adopt(ctx, efd, &e) < 0)
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
	check_dirty(ctx, a, b);
	{
		const struct member src[2] = { { a, afd }, { b, bfd } };
		const struct member dst[2] = { { d, dfd }, { e, efd } };

		from = group_of(ctx, a, b);
		to = group_of(ctx, d, e);
		check_group_moves(from, src, to, dst, VFIOMIG_PRECOPY_MODE_NEVER, 1);
		check_group_moves(from, src, to, dst, VFIOMIG_PRECOPY_MODE_AUTO, 2);
		check_group_streams(from, src, to, dst);
		check_group_corrupt(ctx, from, src, to, dst);
		check_group_refused(ctx, a, c, to);
		/* Leave them as the next programs expect: running. */
		vfiomig_group_set_state(from, S(RUNNING), NULL);
		vfiomig_group_set_state(to, S(RUNNING), NULL);
		vfiomig_group_unref(from);
		vfiomig_group_unref(to);
	}

	vfiomig_dev_unref(a);
	vfiomig_dev_unref(b);
	vfiomig_dev_unref(c);
	vfiomig_dev_unref(d);
	vfiomig_dev_unref(e);
	vfiomig_ctx_unref(ctx);
	ok(fcntl(afd, F_GETFD) >= 0 && fcntl(bfd, F_GETFD) >= 0 && fcntl(dfd, F_GETFD) >= 0 &&
	   fcntl(efd, F_GETFD) >= 0, "adopted fds still open after unref");
	check_teardown(argv[6], getenv("VFIOMIG_VIA_CDEV") != NULL);
	check_same(argv[6], getenv("VFIOMIG_VIA_CDEV") != NULL);
	return failures || tests != PLAN ? 1 : 0;
}
