/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An outside program built only with `pkg-config --cflags --libs vfiomig`
 * against an installed copy.  It calls every public function once.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <syslog.h>
#include <unistd.h>

#include <vfiomig/mock.h>
#include <vfiomig/vfiomig.h>

#define CHECK(expr) do { int r_ = (expr); if (r_ < 0) { \
	fprintf(stderr, "%s: %d\n", #expr, r_); return 1; } } while (0)

static void log_stderr(void *data, int prio, const char *msg)
{
	(void)data;
	if (prio <= LOG_ERR)
		fprintf(stderr, "log: %s\n", msg);
}

static int list_one(void *data, const char *spec, const char *driver)
{
	(void)data;
	printf("host device %s (%s)\n", spec, driver);
	return 0;
}

int main(void)
{
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev, *twin;
	enum vfiomig_state st, path[8];
	uint64_t flags, size, initial, dirty;
	unsigned int caps;
	uint16_t vendor;
	int n, fd;

	CHECK(vfiomig_ctx_new(&ctx));
	CHECK(vfiomig_mock_attach(ctx));
	vfiomig_ctx_ref(ctx);
	vfiomig_ctx_unref(ctx);
	vfiomig_ctx_set_log_fn(ctx, log_stderr, NULL);
	vfiomig_ctx_set_log_priority(ctx, LOG_ERR);
	CHECK(vfiomig_ctx_get_log_priority(ctx));

	CHECK(vfiomig_state_parse("pre-copy", &st));
	CHECK(vfiomig_fsm_next(VFIOMIG_MIG_STOP_COPY | VFIOMIG_MIG_P2P, VFIOMIG_STATE_RUNNING,
			       VFIOMIG_STATE_STOP, &st));
	n = vfiomig_fsm_path(7, VFIOMIG_STATE_RUNNING, VFIOMIG_STATE_STOP_COPY, path, 8);
	CHECK(n);
	printf("RUNNING");
	for (int i = 0; i < n; i++)
		printf(" > %s", vfiomig_state_name(path[i]));
	printf("\n");
	if (!vfiomig_fsm_arc_opens_fd(VFIOMIG_STATE_STOP, VFIOMIG_STATE_STOP_COPY))
		return 1;

	CHECK(vfiomig_dev_open(ctx, "mock:consumer,size=256K,pci=1af4:1041", &dev));
	vfiomig_dev_ref(dev);
	vfiomig_dev_unref(dev);
	CHECK(vfiomig_dev_adopt(ctx, vfiomig_dev_get_fd(dev), &twin));
	vfiomig_dev_unref(twin);
	CHECK(vfiomig_dev_get_mig_flags(dev, &flags));
	CHECK(vfiomig_dev_get_caps(dev, &caps));
	CHECK(vfiomig_dev_get_pci_ids(dev, &vendor, NULL, NULL, NULL, NULL));
	CHECK(vfiomig_dev_get_stop_copy_size(dev, &size));
	printf("%s via %s, driver %s, vendor %04x, flags 0x%llx, caps 0x%x, %llu bytes\n",
	       vfiomig_dev_get_name(dev), vfiomig_dev_get_transport(dev),
	       vfiomig_dev_get_driver(dev), vendor, (unsigned long long)flags, caps,
	       (unsigned long long)size);

	{
		/* 0.2: whole save and load, inspection, the raw data path */
		struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = VFIOMIG_PRECOPY_MODE_AUTO,
						.leave = VFIOMIG_LEAVE_RUNNING };
		struct vfiomig_load_opts lo = { .sz = sizeof(lo) };
		struct vfiomig_stream_summary sum = { .sz = sizeof(sum) };
		FILE *f = tmpfile();
		char buf[4096];
		uint32_t pflags;
		ssize_t got, took;

		if (!f)
			return 1;
		CHECK(vfiomig_dev_save(dev, fileno(f), &so));
		rewind(f);
		CHECK(vfiomig_stream_inspect(ctx, fileno(f), 0, NULL, NULL, NULL, &sum));
		printf("saved %llu bytes in %llu records, valid %d\n",
		       (unsigned long long)sum.bytes, (unsigned long long)sum.records, sum.valid);
		rewind(f);
		CHECK(vfiomig_dev_open(ctx, "mock:twin,size=256K,pci=1af4:1041,state=stop", &twin));
		CHECK(vfiomig_dev_load(twin, fileno(f), &lo));
		fclose(f);
		CHECK(vfiomig_dev_enable_precopy_reinit(twin) == -EOPNOTSUPP ? 0 : -1);
		CHECK(vfiomig_data_begin_save(twin, VFIOMIG_SAVE_PRECOPY, &fd, &st));
		CHECK(vfiomig_dev_get_precopy_info_flags(twin, fd, &initial, &dirty, &pflags));
		got = vfiomig_data_read(twin, fd, buf, sizeof(buf), VFIOMIG_READ_PRECOPY);
		CHECK((int)got);
		close(fd);
		CHECK(vfiomig_dev_reset(twin));
		CHECK(vfiomig_data_begin_load(twin, &fd));
		/* 0.4: a write that takes what the fd takes now */
		took = vfiomig_data_write_some(twin, fd, buf, (size_t)got / 2);
		CHECK((int)took);
		CHECK(vfiomig_data_write(twin, fd, buf + took, (size_t)(got - took)));
		close(fd);
		if (vfiomig_data_finish_load(twin, VFIOMIG_STATE_RUNNING) >= 0)
			return 1;	/* a partial state must be refused */
		vfiomig_dev_unref(twin);
		CHECK(vfiomig_ctx_list_devices(ctx, list_one, NULL));
	}

	vfiomig_dev_set_stepwise(dev, 1);
	CHECK(vfiomig_dev_set_state(dev, VFIOMIG_STATE_PRE_COPY, &fd));
	CHECK(vfiomig_dev_get_precopy_info(dev, fd, &initial, &dirty));
	printf("PRE_COPY: initial %llu, dirty %llu\n", (unsigned long long)initial,
	       (unsigned long long)dirty);
	close(fd);
	CHECK(vfiomig_dev_reset(dev));
	CHECK(vfiomig_dev_recover(dev, &st));
	CHECK(vfiomig_dev_get_state(dev, &st));
	printf("after reset: %s\n", vfiomig_state_name(st));
	if (vfiomig_dev_set_state(dev, VFIOMIG_STATE_ERROR, NULL) != -EINVAL)
		return 1;
	printf("refused: %s\n", vfiomig_ctx_get_error(ctx));
	{
		/* 0.4: the mock's own calls (libvfiomig-mock) */
		struct vfiomig_mock_arc arcs[4];
		size_t arcs_n = vfiomig_mock_journal(ctx, arcs, 4);

		if (arcs_n == 0 || vfiomig_mock_count(ctx) != 1)
			return 1;
		printf("mock: %u device, %zu arcs, the first %s -> %s\n", vfiomig_mock_count(ctx),
		       arcs_n, vfiomig_state_name(arcs[0].from), vfiomig_state_name(arcs[0].to));
		vfiomig_mock_journal_clear(ctx);
		/* the device writes 4 KiB of guest memory; nothing tracks it */
		if (vfiomig_mock_journal(ctx, NULL, 0) != 0 || vfiomig_mock_dma(dev, 0, 4096) != 0)
			return 1;
	}
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
	return 0;
}
