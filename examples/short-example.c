/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The README's "A short example", kept here word for word below this
 * comment (tests/cli/test-readme.py compares the two, builds this file with
 * the README's commands and checks that it prints what the README says).
 */
#include <stdio.h>
#include <unistd.h>
#include <vfiomig/mock.h>
#include <vfiomig/vfiomig.h>

int main(void)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	char buf[65536];
	long long total = 0;
	ssize_t n = 0;
	int fd, r;

	/* the mock device is libvfiomig-mock's, for tests and demos */
	if (vfiomig_ctx_new(&ctx) < 0 || vfiomig_mock_attach(ctx) < 0)
		return 1;
	/* "0000:3b:00.1", an mdev UUID, /dev/vfio/devices/vfio3, or a mock */
	r = vfiomig_dev_open(ctx, "mock:demo,size=1M", &dev);
	if (r < 0) {
		fprintf(stderr, "open: %s\n", vfiomig_ctx_get_error(ctx));
		return 1;
	}
	/* RUNNING -> RUNNING_P2P -> STOP -> STOP_COPY, done by the kernel */
	r = vfiomig_dev_set_state(dev, VFIOMIG_STATE_STOP_COPY, &fd);
	if (r >= 0) {
		printf("%s: RUNNING -> STOP_COPY\n", vfiomig_dev_get_name(dev));
		/* the device's state, which a VMM sends to the destination */
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			total += n;
		if (n < 0)
			perror("read");
		close(fd);
		printf("%s: read %lld bytes of device state\n", vfiomig_dev_get_name(dev), total);
		/* STOP_COPY -> STOP -> RUNNING_P2P -> RUNNING: it runs on */
		r = vfiomig_dev_set_state(dev, VFIOMIG_STATE_RUNNING, NULL);
	}
	if (r < 0) {
		fprintf(stderr, "%s\n", vfiomig_ctx_get_error(ctx));
		vfiomig_dev_recover(dev, NULL);   /* reset: back to RUNNING */
	} else {
		printf("%s: STOP_COPY -> RUNNING\n", vfiomig_dev_get_name(dev));
	}
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
	return r < 0 || n < 0;
}
