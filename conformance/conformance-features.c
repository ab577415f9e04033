// SPDX-License-Identifier: LGPL-2.1-or-later
/* The conformance checks of what a device says it has (area "features"). */
#include <errno.h>
#include <stdio.h>

#include "conformance.h"
#include "dev.h"
#include "util.h"
#include "vfio-compat.h"

#define DEFINED_FLAGS (VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P | VFIO_MIGRATION_PRE_COPY)

enum vfiomig_verdict conf_migration_flags(struct conf_run *run, char *d, size_t n)
{
	struct vfio_device_feature_migration mig = { 0 };
	int r = vfiomig_dev_feature(run->dev, VFIO_DEVICE_FEATURE_GET |
				    VFIO_DEVICE_FEATURE_MIGRATION, &mig, sizeof(mig));
	char e[32];

	if (r < 0) {
		conf_say(d, n, "GET MIGRATION failed: %s", conf_errname(r, e, sizeof(e)));
		return VFIOMIG_VERDICT_FAIL;
	}
	conf_say(d, n, "flags 0x%llx:%s%s%s", (unsigned long long)mig.flags,
		 mig.flags & VFIO_MIGRATION_STOP_COPY ? " STOP_COPY" : "",
		 mig.flags & VFIO_MIGRATION_P2P ? " P2P" : "",
		 mig.flags & VFIO_MIGRATION_PRE_COPY ? " PRE_COPY" : "");
	/* "to be defined in the future": not wrong, but nothing a VMM can honour today */
	if (mig.flags & ~(uint64_t)DEFINED_FLAGS) {
		conf_say(d, n, ", and the undefined bits 0x%llx",
			 (unsigned long long)(mig.flags & ~(uint64_t)DEFINED_FLAGS));
		return VFIOMIG_VERDICT_DEVIATION;
	}
	return VFIOMIG_VERDICT_PASS;
}

/* An estimate may be generous (mlx5 adds room); four times over is no estimate. */
enum vfiomig_verdict conf_data_size(struct conf_run *run, char *d, size_t n)
{
	struct vfio_device_feature_mig_data_size ds = { 0 };
	const struct conf_image *im;
	char e[32];
	int r = vfiomig_dev_feature(run->dev, VFIO_DEVICE_FEATURE_GET |
				    VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &ds, sizeof(ds));

	if (r == -ENOTTY) {
		conf_say(d, n, "no MIG_DATA_SIZE (ENOTTY): a kernel before 6.2, or a driver "
			 "without get_data_size");
		return VFIOMIG_VERDICT_DEVIATION;
	}
	if (r < 0) {
		conf_say(d, n, "GET MIG_DATA_SIZE failed: %s", conf_errname(r, e, sizeof(e)));
		return VFIOMIG_VERDICT_FAIL;
	}
	im = conf_image(run);
	if (im->err) {
		conf_say(d, n, "estimate %llu %s, but no stream to compare: saving failed "
			 "(%s)", (unsigned long long)ds.stop_copy_length,
			 plural(ds.stop_copy_length, "byte", "bytes"),
			 conf_errname(im->err, e, sizeof(e)));
		return VFIOMIG_VERDICT_SKIP;
	}
	conf_say(d, n, "estimate %llu %s, stream %zu %s: ratio %.2f",
		 (unsigned long long)ds.stop_copy_length,
		 plural(ds.stop_copy_length, "byte", "bytes"),
		 im->len, plural(im->len, "byte", "bytes"),
		 (double)ds.stop_copy_length / (double)im->len);
	if (ds.stop_copy_length < im->len) {
		conf_say(d, n, "; the estimate is below the stream");
		return VFIOMIG_VERDICT_DEVIATION;
	}
	if (ds.stop_copy_length > 4 * (uint64_t)im->len + 65536) {
		conf_say(d, n, "; more than four times the stream");
		return VFIOMIG_VERDICT_DEVIATION;
	}
	return VFIOMIG_VERDICT_PASS;
}

/* One small range at IOVA 0: what a START needs to be answered at all. */
static int logging_start(struct vfiomig_dev *dev)
{
	struct vfio_device_feature_dma_logging_range range = { .iova = 0, .length = 1 << 20 };
	struct vfio_device_feature_dma_logging_control ctl = {
		.page_size = 4096,
		.num_ranges = 1,
		.ranges = (uint64_t)(uintptr_t)&range,
	};

	return vfiomig_dev_feature(dev, VFIO_DEVICE_FEATURE_SET |
				   VFIO_DEVICE_FEATURE_DMA_LOGGING_START, &ctl, sizeof(ctl));
}

enum vfiomig_verdict conf_logging_probe(struct conf_run *run, char *d, size_t n)
{
	int probe = vfiomig_dev_feature(run->dev, VFIO_DEVICE_FEATURE_PROBE |
					VFIO_DEVICE_FEATURE_SET |
					VFIO_DEVICE_FEATURE_DMA_LOGGING_START, NULL, 0);
	int start = logging_start(run->dev);
	char e1[32], e2[32];

	if (start == 0)
		vfiomig_dev_feature(run->dev, VFIO_DEVICE_FEATURE_SET |
				    VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, NULL, 0);
	conf_say(d, n, "PROBE %s, START %s", conf_errname(probe, e1, sizeof(e1)),
		 conf_errname(start, e2, sizeof(e2)));
	if (probe != 0 && probe != -ENOTTY)
		return VFIOMIG_VERDICT_FAIL;
	if ((probe == -ENOTTY) != (start == -ENOTTY)) {
		conf_say(d, n, ": %s", probe ? "START works where PROBE says it does not"
			 : "PROBE says supported, START says there is no such feature");
		return VFIOMIG_VERDICT_FAIL;
	}
	return VFIOMIG_VERDICT_PASS;
}

enum vfiomig_verdict conf_infov2(struct conf_run *run, char *d, size_t n)
{
	int r = vfiomig_dev_feature(run->dev, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
				    VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2, NULL, 0);
	char e[32];

	conf_say(d, n, "PROBE %s", conf_errname(r, e, sizeof(e)));
	if (r == 0 || r == -ENOTTY) {
		conf_say(d, n, r ? ": not offered" : ": offered");
		return VFIOMIG_VERDICT_PASS;
	}
	return VFIOMIG_VERDICT_FAIL;
}
