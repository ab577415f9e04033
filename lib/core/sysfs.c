/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading device identity and VFIO topology from sysfs and procfs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sysfs.h"
#include "identity.h"

int vfiomig_sysfs_link_base(const char *dir, const char *link, char *buf, size_t size)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;
	const char *base;

	snprintf(path, sizeof(path), "%s/%s", dir, link);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strlen(base) >= size)
		return -ENAMETOOLONG;
	memcpy(buf, base, strlen(base) + 1);
	return 0;
}

static int read_hex(const char *dir, const char *file, unsigned long *ret)
{
	char path[PATH_MAX], buf[32], *end;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*ret = strtoul(buf, &end, 16);
	return end == buf ? -EINVAL : 0;
}

void vfiomig_sysfs_identity(const char *devdir, struct vfiomig_identity *id)
{
	unsigned long v[5], class_code;
	static const char *const files[5] = {
		"vendor", "device", "subsystem_vendor", "subsystem_device", "revision",
	};

	if (vfiomig_sysfs_link_base(devdir, "driver", id->driver, sizeof(id->driver)) < 0)
		id->driver[0] = '\0';
	if (vfiomig_sysfs_link_base(devdir, "mdev_type", id->mdev_type, sizeof(id->mdev_type)) < 0)
		id->mdev_type[0] = '\0';
	if (read_hex(devdir, "class", &class_code) == 0) {
		id->has_class = true;
		id->class_code = (uint32_t)class_code & 0xffffff;
	}
	for (size_t i = 0; i < 5; i++)
		if (read_hex(devdir, files[i], &v[i]) < 0)
			return;
	id->has_pci_ids = true;
	id->vendor = (uint16_t)v[0];
	id->device = (uint16_t)v[1];
	id->subsystem_vendor = (uint16_t)v[2];
	id->subsystem_device = (uint16_t)v[3];
	id->revision = (uint8_t)v[4];
}

int vfiomig_sysfs_group(const char *devdir)
{
	char name[64], *end;
	long n;
	int r = vfiomig_sysfs_link_base(devdir, "iommu_group", name, sizeof(name));

	if (r < 0)
		return -ENOENT;
	n = strtol(name, &end, 10);
	return *end || n < 0 || n > INT_MAX ? -ENOENT : (int)n;
}

int vfiomig_sysfs_cdev_name(const char *devdir, char *name, size_t size)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r = -ENOENT;

	snprintf(path, sizeof(path), "%s/vfio-dev", devdir);
	d = opendir(path);
	if (!d)
		return -ENOENT;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "vfio", 4) == 0) {
			snprintf(name, size, "%s", de->d_name);
			r = 0;
			break;
		}
	}
	closedir(d);
	return r;
}

bool vfiomig_driver_is_vfio(const char *driver)
{
	/* vfio-pci and its variants (mlx5_vfio_pci, ...), and mdev parents. */
	return strstr(driver, "vfio") != NULL || strcmp(driver, "mtty") == 0 ||
	       strcmp(driver, "vfio_mdev") == 0;
}

void vfiomig_sysfs_group_blockers(int group, char *buf, size_t size)
{
	char dir[PATH_MAX], devdir[PATH_MAX + 256], drv[64];
	struct dirent *de;
	size_t used = 0;
	DIR *d;

	buf[0] = '\0';
	snprintf(dir, sizeof(dir), "/sys/kernel/iommu_groups/%d/devices", group);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d)) && used + 1 < size) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(devdir, sizeof(devdir), "%s/%s", dir, de->d_name);
		if (vfiomig_sysfs_link_base(devdir, "driver", drv, sizeof(drv)) < 0)
			continue;	/* unbound devices do not block viability */
		if (vfiomig_driver_is_vfio(drv) || strcmp(drv, "pcieport") == 0)
			continue;
		used += (size_t)snprintf(buf + used, size - used, "%s%s (%s)",
					 used ? ", " : "", de->d_name, drv);
	}
	closedir(d);
}

/* The fdinfo's "vfio-device-syspath:" line, which later kernels than 6.12 print. */
static int sysfs_from_fdinfo(int fd, char *path, size_t size)
{
	static const char key[] = "vfio-device-syspath:";
	char fdinfo[64], line[PATH_MAX + 64];
	int r = -ENOENT;
	FILE *f;

	snprintf(fdinfo, sizeof(fdinfo), "/proc/self/fdinfo/%d", fd);
	f = fopen(fdinfo, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, sizeof(key) - 1) == 0) {
			const char *v = line + sizeof(key) - 1;

			v += strspn(v, " \t");
			snprintf(path, size, "%.*s", (int)strcspn(v, "\n"), v);
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

/* An fd of /dev/vfio/devices/vfioN: its char device's class device is a vfio-dev. */
static int sysfs_from_chardev(int fd, char *path, size_t size)
{
	char dir[64], link[PATH_MAX], subsystem[32], real[PATH_MAX];
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISCHR(st.st_mode))
		return -ENOENT;
	snprintf(dir, sizeof(dir), "/sys/dev/char/%u:%u", major(st.st_rdev), minor(st.st_rdev));
	if (vfiomig_sysfs_link_base(dir, "subsystem", subsystem, sizeof(subsystem)) < 0 ||
	    strcmp(subsystem, "vfio-dev") != 0)
		return -ENOENT;
	snprintf(link, sizeof(link), "%s/device", dir);
	if (!realpath(link, real))
		return -errno;
	snprintf(path, size, "%s", real);
	return 0;
}

int vfiomig_sysfs_from_fd(int fd, char *path, size_t size)
{
	if (size)
		path[0] = '\0';
	if (sysfs_from_fdinfo(fd, path, size) == 0)
		return 0;
	return sysfs_from_chardev(fd, path, size);
}

int vfiomig_sysfs_from_cdev(const char *cdev_name, char *path, size_t size)
{
	char link[PATH_MAX], real[PATH_MAX];

	snprintf(link, sizeof(link), "/sys/class/vfio-dev/%s/device", cdev_name);
	if (!realpath(link, real))
		return -errno;
	snprintf(path, size, "%s", real);
	return 0;
}

/* The first line of @path, without its newline. */
static int read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)size, f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	n = strcspn(buf, "\n");
	buf[n] = '\0';
	return n ? 0 : -ENODATA;
}

int vfiomig_sysfs_module_version(const char *driver, char *buf, size_t size)
{
	char path[PATH_MAX], module[256];

	/* The module of "vfio-pci" is vfio_pci: the kernel names files so. */
	snprintf(module, sizeof(module), "%s", driver);
	for (char *p = module; *p; p++)
		if (*p == '-')
			*p = '_';
	snprintf(path, sizeof(path), "/sys/module/%s/version", module);
	return read_line(path, buf, size);
}

int vfiomig_sysfs_pf_fw_version(const char *pci_address, char *buf, size_t size)
{
	char path[PATH_MAX], file[PATH_MAX + 300];
	struct dirent *de;
	DIR *d;
	int r = -ENOENT;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/physfn/infiniband", pci_address);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)) && r < 0) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s/fw_ver", path, de->d_name);
		r = read_line(file, buf, size);
	}
	closedir(d);
	return r;
}
