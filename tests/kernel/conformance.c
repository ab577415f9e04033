/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A transcript of how a device behaves under the migration protocol: the
 * result of every state pair, the temporary end of pre-copy, reads after a
 * session ends, PRECOPY_INFO outside pre-copy, loads of short and bad data,
 * DMA logging.
 * Run against mtty in the VM and against the mock configured like mtty on
 * the host; tests/kernel/run.sh compares the two, so the kernel judges the
 * mock.  Only behaviour is printed, never sizes, which differ by design.
 *
 *   conformance DEVICE TWIN     (specs for vfiomig_dev_open; TWIN: same kind)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <vfiomig/mock.h>
#include <vfiomig/vfiomig.h>

#define S(x) VFIOMIG_STATE_##x

static const char *err_name(int r)
{
	static char buf[24];

	switch (-r) {
	case 0: return "0";
	case EINVAL: return "EINVAL";
	case ENODEV: return "ENODEV";
	case EFAULT: return "EFAULT";
	case ENOMEM: return "ENOMEM";
	case EAGAIN: return "EAGAIN";
	case ENOMSG: return "ENOMSG";
	case EBUSY: return "EBUSY";
	case ENOTTY: return "ENOTTY";
	case EIO: return "EIO";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	default:
		snprintf(buf, sizeof(buf), "errno%d", -r);
		return buf;
	}
}

static const char *now(struct vfiomig_dev *dev)
{
	enum vfiomig_state s;

	return vfiomig_dev_get_state(dev, &s) < 0 ? "?" : vfiomig_state_name(s);
}

/* A complete raw STOP_COPY image of @twin, for entering RESUMING with data. */
static ssize_t image_of(struct vfiomig_dev *twin, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	int fd;

	vfiomig_dev_reset(twin);
	if (vfiomig_dev_set_state(twin, S(STOP), NULL) < 0 ||
	    vfiomig_dev_set_state(twin, S(STOP_COPY), &fd) < 0)
		return -1;
	while ((n = vfiomig_data_read(twin, fd, buf + len, size - len, 0)) > 0)
		len += (size_t)n;
	close(fd);
	vfiomig_dev_reset(twin);
	return n < 0 ? n : (ssize_t)len;
}

static void pairs(struct vfiomig_dev *dev, const char *image, size_t len)
{
	for (int from = 1; from < VFIOMIG_STATE_COUNT; from++) {
		for (int to = 1; to < VFIOMIG_STATE_COUNT; to++) {
			int fd = -1, r;

			vfiomig_dev_reset(dev);
			if (vfiomig_dev_set_state(dev, from, &fd) < 0) {
				printf("C %s->%s: cannot reach %s\n", vfiomig_state_name(from),
				       vfiomig_state_name(to), vfiomig_state_name(from));
				continue;
			}
			if (from == S(RESUMING))
				vfiomig_data_write(dev, fd, image, len);
			if (fd >= 0)
				close(fd);
			fd = -1;
			r = vfiomig_dev_set_state(dev, to, &fd);
			printf("C %s->%s: %s, now %s, %s\n", vfiomig_state_name(from),
			       vfiomig_state_name(to), err_name(r), now(dev),
			       fd >= 0 ? "new fd" : "no fd");
			if (fd >= 0)
				close(fd);
		}
	}
}

static void precopy(struct vfiomig_dev *dev)
{
	char buf[65536];
	uint64_t initial = 0, dirty = 0;
	ssize_t n;
	int fd, r;

	vfiomig_dev_reset(dev);
	vfiomig_dev_set_state(dev, S(PRE_COPY), &fd);
	r = vfiomig_dev_get_precopy_info(dev, fd, &initial, &dirty);
	printf("C precopy info at start: %s, initial %s, dirty %s\n", err_name(r),
	       initial ? "> 0" : "0", dirty ? "> 0" : "0");
	while ((n = vfiomig_data_read(dev, fd, buf, sizeof(buf), VFIOMIG_READ_PRECOPY)) > 0)
		;
	printf("C precopy drained: %s\n", err_name((int)n));
	/* Without the pre-copy flag the driver's own word shows: 0 or ENOMSG. */
	printf("C temporary end, plain read: %s\n",
	       err_name((int)vfiomig_data_read(dev, fd, buf, sizeof(buf), 0)));
	r = vfiomig_dev_get_precopy_info(dev, fd, &initial, &dirty);
	printf("C precopy info when drained: %s, initial %s\n", err_name(r), initial ? "> 0" : "0");
	r = vfiomig_dev_set_state(dev, S(STOP_COPY), NULL);
	printf("C PRE_COPY->STOP_COPY on the same fd: %s\n", err_name(r));
	r = vfiomig_dev_get_precopy_info(dev, fd, &initial, &dirty);
	printf("C precopy info in STOP_COPY: %s\n", err_name(r));
	while ((n = vfiomig_data_read(dev, fd, buf, sizeof(buf), 0)) > 0)
		;
	printf("C stop-copy end: %s\n", err_name((int)n));
	vfiomig_dev_set_state(dev, S(STOP), NULL);
	printf("C read after STOP_COPY->STOP: %s\n",
	       err_name((int)vfiomig_data_read(dev, fd, buf, sizeof(buf), 0)));
	close(fd);

	vfiomig_dev_reset(dev);
	vfiomig_dev_set_state(dev, S(PRE_COPY), &fd);
	vfiomig_dev_reset(dev);
	printf("C after reset: %s; read %s; precopy info %s\n", now(dev),
	       err_name((int)vfiomig_data_read(dev, fd, buf, sizeof(buf), 0)),
	       err_name(vfiomig_dev_get_precopy_info(dev, fd, NULL, NULL)));
	close(fd);
}

static void resume(struct vfiomig_dev *dev, const char *image, size_t len)
{
	char junk[4096];
	int fd, r;

	memset(junk, 0x33, sizeof(junk));
	vfiomig_dev_reset(dev);
	vfiomig_dev_set_state(dev, S(RESUMING), &fd);
	close(fd);
	r = vfiomig_dev_set_state(dev, S(STOP), NULL);
	printf("C RESUMING->STOP without data: %s, now %s\n", err_name(r), now(dev));

	vfiomig_dev_reset(dev);
	vfiomig_dev_set_state(dev, S(RESUMING), &fd);
	r = vfiomig_data_write(dev, fd, junk, len);
	printf("C write of a bad image: %s\n", err_name(r));
	close(fd);
	/* Not compared: mtty then loads whatever followed the header if its
	 * length is right, while the mock verifies content (docs/mock.md). */

	vfiomig_dev_reset(dev);
	vfiomig_dev_set_state(dev, S(RESUMING), &fd);
	r = vfiomig_data_write(dev, fd, image, len);
	printf("C write of a good image: %s\n", err_name(r));
	r = vfiomig_data_write(dev, fd, junk, sizeof(junk));
	printf("C write past the end: %s\n", err_name(r));
	close(fd);
	vfiomig_dev_reset(dev);
}

/*
 * DMA logging through the library: a session, and a second one from
 * another handle of the same fd, which the kernel (not the library) answers.  Its STOP
 * ends the device's only tracker, so the first session's next REPORT is
 * one without START.  mtty's stubs accept all of it; mlx5 refuses both.
 */
static void dma_logging(struct vfiomig_ctx *ctx, struct vfiomig_dev *dev)
{
	struct vfiomig_iova_range ram = { 0, 1 << 20 };
	struct vfiomig_dirty_opts opts = { .sz = sizeof(opts), .page_size = 4096 };
	struct vfiomig_dirty_info info = { .sz = sizeof(info) };
	struct vfiomig_dirty *d = NULL, *d2 = NULL;
	struct vfiomig_dev *again = NULL;
	uint64_t bitmap[4], dirty = 0;
	int r;

	r = vfiomig_dirty_start(dev, &ram, 1, &opts, &d);
	vfiomig_dirty_get_info(d, &info);
	printf("C DMA logging START: %s, page size %llu\n", err_name(r),
	       (unsigned long long)info.page_size);
	if (r < 0)
		return;
	memset(bitmap, 0xa5, sizeof(bitmap));
	r = vfiomig_dirty_report(d, 0, 1 << 20, bitmap, sizeof(bitmap), &dirty);
	printf("C REPORT: %s, %llu dirty, bitmap %s\n", err_name(r), (unsigned long long)dirty,
	       bitmap[0] | bitmap[1] | bitmap[2] | bitmap[3] ? "not clear" : "clear");
	if (vfiomig_dev_adopt(ctx, vfiomig_dev_get_fd(dev), &again) == 0) {
		r = vfiomig_dirty_start(again, &ram, 1, &opts, &d2);
		printf("C START from a second handle: %s\n", err_name(r));
		vfiomig_dirty_free(d2);	/* STOP: the device's one tracker ends */
		r = vfiomig_dirty_report(d, 0, 1 << 20, bitmap, sizeof(bitmap), &dirty);
		printf("C REPORT after that handle's STOP: %s\n", err_name(r));
		vfiomig_dev_unref(again);
	}
	printf("C STOP: %s\n", err_name(vfiomig_dirty_stop(d)));
	vfiomig_dirty_free(d);
}

static void basics(struct vfiomig_dev *dev)
{
	unsigned int caps = 0;
	uint64_t flags = 0, size = 0;

	/* mtty keeps its migration state across opens: start from a reset. */
	vfiomig_dev_reset(dev);
	vfiomig_dev_get_mig_flags(dev, &flags);
	vfiomig_dev_get_caps(dev, &caps);
	printf("C flags 0x%llx, reset advertised %s, dma logging %s, data size %s\n",
	       (unsigned long long)flags, caps & VFIOMIG_CAP_RESET_ADVERTISED ? "yes" : "no",
	       caps & VFIOMIG_CAP_DMA_LOGGING ? "yes" : "no",
	       vfiomig_dev_get_stop_copy_size(dev, &size) == 0 ? "yes" : "no");
	printf("C state after reset: %s\n", now(dev));
	printf("C SET ERROR: %s, now %s\n", err_name(vfiomig_dev_set_state(dev, S(ERROR), NULL)),
	       now(dev));
}

int main(int argc, char **argv)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev, *twin;
	static char image[1 << 20];
	ssize_t len;

	if (argc != 3) {
		fprintf(stderr, "usage: %s DEVICE TWIN\n", argv[0]);
		return 2;
	}
	/* the mock, on the host, stands where mtty stands in the guest */
	if (vfiomig_ctx_new(&ctx) < 0 || vfiomig_mock_attach(ctx) < 0 ||
	    vfiomig_dev_open(ctx, argv[1], &dev) < 0 ||
	    vfiomig_dev_open(ctx, argv[2], &twin) < 0) {
		fprintf(stderr, "conformance: %s\n", vfiomig_ctx_get_error(ctx));
		return 1;
	}
	len = image_of(twin, image, sizeof(image));
	if (len < 0) {
		fprintf(stderr, "conformance: no image from the twin: %s\n", vfiomig_ctx_get_error(ctx));
		return 1;
	}
	basics(dev);
	pairs(dev, image, (size_t)len);
	precopy(dev);
	resume(dev, image, (size_t)len);
	dma_logging(ctx, dev);
	vfiomig_dev_unref(dev);
	vfiomig_dev_unref(twin);
	vfiomig_ctx_unref(ctx);
	return 0;
}
