/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Device spec parsing: every accepted form and the near misses. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test-util.h"
#include "spec.h"
#include "sysfs.h"

struct good {
	const char *in;
	enum vfiomig_spec_kind kind;
	const char *name;
	const char *path;
};

static const struct good goods[] = {
	{ "0000:3b:00.1", VFIOMIG_SPEC_PCI, "0000:3b:00.1", "/sys/bus/pci/devices/0000:3b:00.1" },
	{ "3b:00.1", VFIOMIG_SPEC_PCI, "0000:3b:00.1", "/sys/bus/pci/devices/0000:3b:00.1" },
	{ "0000:3B:1F.7", VFIOMIG_SPEC_PCI, "0000:3b:1f.7", "/sys/bus/pci/devices/0000:3b:1f.7" },
	{ "10de:af:00.0", VFIOMIG_SPEC_PCI, "10de:af:00.0", "/sys/bus/pci/devices/10de:af:00.0" },
	{ "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001", VFIOMIG_SPEC_MDEV,
	  "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001", "/sys/bus/mdev/devices/83b8f4f2-509f-382f-3c1e-e6bfe0fa1001" },
	{ "83B8F4F2-509F-382F-3C1E-E6BFE0FA1001", VFIOMIG_SPEC_MDEV,
	  "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001", "/sys/bus/mdev/devices/83b8f4f2-509f-382f-3c1e-e6bfe0fa1001" },
	{ "/dev/vfio/devices/vfio0", VFIOMIG_SPEC_CDEV, "vfio0", "/dev/vfio/devices/vfio0" },
	{ "/dev/vfio/devices/vfio12", VFIOMIG_SPEC_CDEV, "vfio12", "/dev/vfio/devices/vfio12" },
	{ "/sys/bus/pci/devices/0000:3b:00.1", VFIOMIG_SPEC_SYSFS, "0000:3b:00.1",
	  "/sys/bus/pci/devices/0000:3b:00.1" },
	{ "/sys/devices/pci0000:00/0000:00:02.0/0000:3b:00.1/", VFIOMIG_SPEC_SYSFS, "0000:3b:00.1",
	  "/sys/devices/pci0000:00/0000:00:02.0/0000:3b:00.1" },
	{ "/sys/bus/mdev/devices/83b8f4f2-509f-382f-3c1e-e6bfe0fa1001", VFIOMIG_SPEC_SYSFS,
	  "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001", "/sys/bus/mdev/devices/83b8f4f2-509f-382f-3c1e-e6bfe0fa1001" },
};

static const char *const bads[] = {
	/* The mock transport claims "mock:" before kernel specs are parsed. */
	"", "mock:", "mock:a", "0000:3b:00.8", "3b:00", "3b:0.1", "0000:3b:00.1x", "000:3b:00.1",
	"g000:3b:00.1", "83b8f4f2-509f-382f-3c1e-e6bfe0fa100", "83b8f4f2509f382f3c1ee6bfe0fa1001",
	"/dev/vfio/devices/", "/dev/vfio/devices/vfio", "/dev/vfio/devices/vfio1a",
	"/dev/vfio/devices/iommu", "/dev/vfio/3", "/sys/bus/pci/devices/", "/sys/class/net/eth0",
	"eth0", "vfio3", " 0000:3b:00.1",
};

START_TEST(test_good)
{
	const struct good *g = &goods[_i];
	struct vfiomig_spec spec;

	ck_assert_msg(vfiomig_spec_parse(g->in, &spec) == 0, "'%s' refused", g->in);
	ck_assert_int_eq(spec.kind, g->kind);
	ck_assert_str_eq(spec.name, g->name);
	ck_assert_str_eq(spec.path, g->path);
}
END_TEST

START_TEST(test_bad)
{
	struct vfiomig_spec spec;

	ck_assert_msg(vfiomig_spec_parse(bads[_i], &spec) == -EINVAL, "'%s' accepted", bads[_i]);
}
END_TEST

START_TEST(test_null_and_long)
{
	struct vfiomig_spec spec;
	char *longspec = malloc(PATH_MAX + 16);

	ck_assert_int_eq(vfiomig_spec_parse(NULL, &spec), -EINVAL);
	memset(longspec, 'a', PATH_MAX + 15);
	memcpy(longspec, "mock:", 5);
	longspec[PATH_MAX + 15] = '\0';
	ck_assert_int_eq(vfiomig_spec_parse(longspec, &spec), -EINVAL);
	free(longspec);
}
END_TEST

/*
 * Finding 9: a kernel before 6.9 names no vfio-device-syspath in a device
 * fd's fdinfo, and adopt used the path buffer as if it had been written.
 * Any fd that is not a VFIO device has such an fdinfo.
 */
START_TEST(test_fdinfo_without_syspath)
{
	char path[PATH_MAX];
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	memset(path, 'x', sizeof(path));	/* what the stack held before */
	ck_assert_int_eq(vfiomig_sysfs_from_fd(fd, path, sizeof(path)), -ENOENT);
	ck_assert_str_eq(path, "");
	close(fd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("spec");
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_good, 0, sizeof(goods) / sizeof(goods[0]));
	tcase_add_loop_test(tc, test_bad, 0, sizeof(bads) / sizeof(bads[0]));
	tcase_add_test(tc, test_null_and_long);
	tcase_add_test(tc, test_fdinfo_without_syspath);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
