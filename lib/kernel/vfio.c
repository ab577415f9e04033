/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel transport: opening devices through the legacy group and
 * container path or a cdev bound to iommufd, adopting a caller's fd, and
 * passing requests to the kernel.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirty-iommu.h"
#include "context.h"
#include "dev.h"
#include "identity.h"
#include "log.h"
#include "transport.h"
#include "util.h"
#include "spec.h"
#include "sysfs.h"
#include "vfio-compat.h"

struct iommu_group_ref {
	int id;
	int fd;
	int users;
	struct iommu_group_ref *next;
};

/* What a ctx's kernel devices share, as a VMM shares it; @lock guards all. */
struct kernel_ctx {
	pthread_mutex_t lock;
	/* Legacy path: one container for every group this ctx opened. */
	int container_fd;
	struct iommu_group_ref *groups;
	/* cdev path: one iommufd and IOAS for every cdev this ctx opened. */
	int iommufd;
	uint32_t ioas_id;
};

static struct kernel_ctx *kctx(struct vfiomig_ctx *ctx)
{
	return vfiomig_ctx_transport_state(ctx, &vfiomig_kernel_transport);
}

static int kernel_device_ioctl(struct vfiomig_dev *dev, unsigned long request, void *arg)
{
	return sys_ret(ioctl(dev->fd, request, arg));
}

static int kernel_data_ioctl(struct vfiomig_dev *dev, int data_fd,
			     unsigned long request, void *arg)
{
	(void)dev;
	return sys_ret(ioctl(data_fd, request, arg));
}

static ssize_t kernel_data_read(struct vfiomig_dev *dev, int data_fd, void *buf, size_t len)
{
	(void)dev;
	ssize_t n = read(data_fd, buf, len);

	return n < 0 ? -errno : n;
}

static ssize_t kernel_data_write(struct vfiomig_dev *dev, int data_fd,
				 const void *buf, size_t len)
{
	(void)dev;
	ssize_t n = write(data_fd, buf, len);

	return n < 0 ? -errno : n;
}

/* dev->priv for a device the transport opened; NULL for an adopted fd. */
struct kernel_dev {
	struct iommu_group_ref *group;	/* the legacy path's */
	/* The cdev path's: bound to the ctx's iommufd as @dev_id.  The HWPT
	 * is kernel_dirty_hwpt()'s, 0 until asked for; the thread driving
	 * the device owns both. */
	bool bound;
	uint32_t dev_id;
	uint32_t dirty_hwpt;
};

static void group_put(struct vfiomig_ctx *ctx, struct kernel_ctx *k,
		      struct iommu_group_ref *group, const char *name);

/*
 * A HWPT goes once no device is attached to it (iommufd answers EBUSY
 * before).  Nothing can return a failure here: it is logged.
 */
static void dirty_hwpt_destroy(struct vfiomig_ctx *ctx, const char *name, int iommufd,
			       uint32_t hwpt)
{
	struct iommu_destroy destroy = { .size = sizeof(destroy), .id = hwpt };
	int e = ioctl(iommufd, IOMMU_DESTROY, &destroy) < 0 ? errno : 0;

	if (e)
		warn(ctx, "%s: IOMMU_DESTROY of its dirty-tracking HWPT %" PRIu32 " failed: %s%s",
		     name, hwpt, strerror(e), e == EBUSY ? " (a copy of the device fd is "
		     "still open, and the device still attached to it)" : "");
}

/*
 * dev.c closed the device fd first.  That close unbound a cdev and
 * detached it from its HWPT (vfio_iommufd_physical_unbind()), so the HWPT
 * can go; it gave a group's container back its one user, so the container
 * can be unset (vfio_group_ioctl_unset_container()).
 */
static void kernel_release(struct vfiomig_dev *dev)
{
	struct kernel_ctx *k = kctx(dev->ctx);
	struct kernel_dev *kd = dev->priv;

	if (!kd)
		return;
	if (kd->dirty_hwpt)
		dirty_hwpt_destroy(dev->ctx, dev->name, k->iommufd, kd->dirty_hwpt);
	if (kd->group) {
		pthread_mutex_lock(&k->lock);
		group_put(dev->ctx, k, kd->group, dev->name);
		pthread_mutex_unlock(&k->lock);
	}
	free(kd);
}

/*
 * IOMMU dirty tracking for a cdev this transport bound: a HWPT with
 * dirty tracking on the ctx's IOAS, and the device moved onto it (iommufd
 * replaces the domain; the mappings stay).  It stays until the device is
 * closed, so that a second session reuses it.
 */
static int kernel_dirty_hwpt(struct vfiomig_dev *dev, int *ret_iommufd, uint32_t *ret_hwpt)
{
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	struct kernel_ctx *k = kctx(dev->ctx);
	struct kernel_dev *kd = dev->priv;
	int r;

	if (!kd || !kd->bound)
		return -ENOTTY;
	if (!ret_iommufd)
		return 0;
	/* k->iommufd and k->ioas_id were set before the bind and stay */
	if (!kd->dirty_hwpt) {
		r = iommu_dirty_hwpt_alloc(dev->ctx, dev->name, k->iommufd, kd->dev_id,
					   k->ioas_id, &attach.pt_id);
		if (r < 0)
			return r;
		if (ioctl(dev->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach) < 0) {
			r = -errno;
			dirty_hwpt_destroy(dev->ctx, dev->name, k->iommufd, attach.pt_id);
			return vfiomig_fail(dev->ctx, r, "%s: moving the device onto its dirty-"
					    "tracking HWPT (VFIO_DEVICE_ATTACH_IOMMUFD_PT): %s",
					    dev->name, strerror(-r));
		}
		kd->dirty_hwpt = attach.pt_id;
	}
	*ret_iommufd = k->iommufd;
	*ret_hwpt = kd->dirty_hwpt;
	return 0;
}

static void *kernel_ctx_new(void)
{
	struct kernel_ctx *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	pthread_mutex_init(&k->lock, NULL);
	k->container_fd = -1;
	k->iommufd = -1;
	return k;
}

/* Devices hold the ctx, so no group is left when this runs. */
static void kernel_ctx_free(void *state)
{
	struct kernel_ctx *k = state;

	if (k->container_fd >= 0)
		close(k->container_fd);
	if (k->iommufd >= 0)
		close(k->iommufd);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

/* A device with a copy of @kd as its priv; the caller closes @fd on failure. */
static int kernel_dev_new(struct vfiomig_ctx *ctx, const char *how, int fd, const char *name,
			  const struct kernel_dev *kd, struct vfiomig_dev **ret)
{
	struct kernel_dev *priv = malloc(sizeof(*priv));
	int r;

	if (!priv)
		return vfiomig_fail(ctx, -ENOMEM, "%s: out of memory", name);
	*priv = *kd;
	r = vfiomig_dev_new(ctx, &vfiomig_kernel_transport, how, fd, true, name, ret);
	if (r < 0) {
		free(priv);
		return r;
	}
	(*ret)->priv = priv;
	return 0;
}

static int open_node(struct vfiomig_ctx *ctx, const char *node, const char *what)
{
	int fd = open(node, O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	switch (errno) {
	case EACCES:
	case EPERM:
		return vfiomig_fail(ctx, -errno, "%s: permission denied on %s; run as root or give the user access to it",
				    what, node);
	case EBUSY:
		return vfiomig_fail(ctx, -EBUSY, "%s: %s is busy, already opened elsewhere (a VMM?); "
				    "adopt the device fd that process holds instead of opening the device", what, node);
	case ENOENT:
		return vfiomig_fail(ctx, -ENODEV, "%s: %s does not exist; is the vfio module loaded?",
				    what, node);
	default:
		return vfiomig_fail(ctx, -errno, "%s: cannot open %s: %s", what, node, strerror(errno));
	}
}

/* The ctx's container, opened and checked on first use.  k->lock held. */
static int ctx_container(struct vfiomig_ctx *ctx, struct kernel_ctx *k, const char *what)
{
	int fd, r;

	if (k->container_fd >= 0)
		return k->container_fd;
	fd = open_node(ctx, "/dev/vfio/vfio", what);
	if (fd < 0)
		return fd;
	r = ioctl(fd, VFIO_GET_API_VERSION);
	if (r != VFIO_API_VERSION) {
		close(fd);
		return vfiomig_fail(ctx, -EPROTO, "%s: VFIO API version %d, expected %d",
				    what, r, VFIO_API_VERSION);
	}
	if (ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1) {
		close(fd);
		return vfiomig_fail(ctx, -EOPNOTSUPP, "%s: the VFIO container lacks the TYPE1v2 IOMMU; "
				    "load vfio_iommu_type1 (modprobe vfio_iommu_type1)", what);
	}
	k->container_fd = fd;
	return fd;
}

static int group_check_viable(struct vfiomig_ctx *ctx, int gfd, int id, const char *what)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char blockers[512];

	if (ioctl(gfd, VFIO_GROUP_GET_STATUS, &status) < 0)
		return vfiomig_fail(ctx, -errno, "%s: VFIO_GROUP_GET_STATUS on group %d: %s",
				    what, id, strerror(errno));
	if (status.flags & VFIO_GROUP_FLAGS_VIABLE)
		return 0;
	vfiomig_sysfs_group_blockers(id, blockers, sizeof(blockers));
	return vfiomig_fail(ctx, -EPERM, "%s: IOMMU group %d is not viable: bind every device in it "
			    "to vfio-pci or unbind it (%s)", what, id,
			    blockers[0] ? blockers : "see /sys/kernel/iommu_groups");
}

/*
 * As QEMU's vfio_disconnect_container(): an explicit unset, so that a
 * refusal shows.  Closing the group would detach it anyway, but only once
 * its last device fd is closed too.  Nothing can return a failure here.
 */
static void group_unset(struct vfiomig_ctx *ctx, int gfd, const char *name)
{
	int e = ioctl(gfd, VFIO_GROUP_UNSET_CONTAINER) < 0 ? errno : 0;

	if (e)
		warn(ctx, "%s: VFIO_GROUP_UNSET_CONTAINER failed: %s%s", name, strerror(e),
		     e == EBUSY ? " (a device of its group is still open: a copy of the "
		     "device fd?)" : "");
}

/* Attaches @gfd to the ctx's container; the first group also sets the IOMMU. */
static int group_attach(struct vfiomig_ctx *ctx, struct kernel_ctx *k, int gfd,
			const char *what)
{
	int cfd = ctx_container(ctx, k, what);

	if (cfd < 0)
		return cfd;
	if (ioctl(gfd, VFIO_GROUP_SET_CONTAINER, &cfd) < 0)
		return vfiomig_fail(ctx, -errno, "%s: VFIO_GROUP_SET_CONTAINER: %s", what, strerror(errno));
	if (!k->groups && ioctl(cfd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0) {
		int r = -errno;

		group_unset(ctx, gfd, what);
		return vfiomig_fail(ctx, r, "%s: VFIO_SET_IOMMU(TYPE1v2): %s", what, strerror(-r));
	}
	return 0;
}

/* k->lock held. */
static int group_get(struct vfiomig_ctx *ctx, struct kernel_ctx *k, int id, const char *what,
		     struct iommu_group_ref **ret)
{
	struct iommu_group_ref *g;
	char node[64];
	int gfd, r;

	for (g = k->groups; g; g = g->next) {
		if (g->id == id) {
			g->users++;
			*ret = g;
			return 0;
		}
	}
	snprintf(node, sizeof(node), "/dev/vfio/%d", id);
	gfd = open_node(ctx, node, what);
	if (gfd < 0)
		return gfd;
	r = group_check_viable(ctx, gfd, id, what);
	if (r == 0)
		r = group_attach(ctx, k, gfd, what);
	g = r == 0 ? calloc(1, sizeof(*g)) : NULL;
	if (!g) {
		close(gfd);
		return r < 0 ? r : -ENOMEM;
	}
	*g = (struct iommu_group_ref){ .id = id, .fd = gfd, .users = 1, .next = k->groups };
	k->groups = g;
	*ret = g;
	return 0;
}

/* k->lock held; the caller closed every device fd of @group it had. */
static void group_put(struct vfiomig_ctx *ctx, struct kernel_ctx *k,
		      struct iommu_group_ref *group, const char *name)
{
	struct iommu_group_ref **p;

	if (--group->users > 0)
		return;
	for (p = &k->groups; *p != group; p = &(*p)->next)
		;
	*p = group->next;
	group_unset(ctx, group->fd, name);
	close(group->fd);
	free(group);
	/* The container holds no IOMMU without groups; start afresh next time. */
	if (!k->groups && k->container_fd >= 0) {
		close(k->container_fd);
		k->container_fd = -1;
	}
}

/* k->lock held. */
static int open_in_group(struct vfiomig_ctx *ctx, struct kernel_ctx *k, int id,
			 const struct vfiomig_spec *spec, struct vfiomig_dev **ret)
{
	struct iommu_group_ref *group;
	int fd, r;

	r = group_get(ctx, k, id, spec->name, &group);
	if (r < 0)
		return r;
	fd = ioctl(group->fd, VFIO_GROUP_GET_DEVICE_FD, spec->name);
	if (fd < 0) {
		r = -errno;
		group_put(ctx, k, group, spec->name);
		if (r == -EBUSY)
			return vfiomig_fail(ctx, r, "%s: the device is busy, already opened elsewhere (a VMM?); "
					    "adopt the device fd that process holds instead of opening the device", spec->name);
		return vfiomig_fail(ctx, r, "%s: VFIO_GROUP_GET_DEVICE_FD: %s", spec->name, strerror(-r));
	}
	r = kernel_dev_new(ctx, "vfio-group", fd, spec->name, &(struct kernel_dev){ .group = group },
			   ret);
	if (r < 0) {
		close(fd);
		group_put(ctx, k, group, spec->name);
	}
	return r;
}

static int open_legacy(struct vfiomig_ctx *ctx, const struct vfiomig_spec *spec,
		       struct vfiomig_dev **ret)
{
	struct kernel_ctx *k = kctx(ctx);
	int id, r;

	id = vfiomig_sysfs_group(spec->path);
	if (id < 0)
		return vfiomig_fail(ctx, -ENODEV, "%s: the device has no IOMMU group; enable the IOMMU "
				    "(intel_iommu=on or amd_iommu=on) and bind it to vfio-pci", spec->name);
	pthread_mutex_lock(&k->lock);
	r = open_in_group(ctx, k, id, spec, ret);
	pthread_mutex_unlock(&k->lock);
	return r;
}

/* The ctx's iommufd and IOAS, made on first use.  k->lock held. */
static int ctx_iommufd(struct vfiomig_ctx *ctx, struct kernel_ctx *k, const char *what)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	int fd;

	if (k->iommufd >= 0)
		return k->iommufd;
	if (access("/dev/iommu", F_OK) < 0 && errno == ENOENT)
		return vfiomig_fail(ctx, -ENODEV, "%s: /dev/iommu does not exist: this kernel "
				    "has no iommufd (CONFIG_IOMMUFD), which a VFIO cdev needs", what);
	fd = open_node(ctx, "/dev/iommu", what);
	if (fd < 0)
		return fd;
	if (ioctl(fd, IOMMU_IOAS_ALLOC, &alloc) < 0) {
		int r = -errno;

		close(fd);
		return vfiomig_fail(ctx, r, "%s: IOMMU_IOAS_ALLOC: %s", what, strerror(-r));
	}
	k->iommufd = fd;
	k->ioas_id = alloc.out_ioas_id;
	return fd;
}

/* k->lock held. */
static int cdev_bind(struct vfiomig_ctx *ctx, struct kernel_ctx *k, int fd, const char *what,
		     uint32_t *ret_dev_id)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	int ifd = ctx_iommufd(ctx, k, what);

	if (ifd < 0)
		return ifd;
	bind.iommufd = ifd;
	if (ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind) < 0) {
		/* vfio_df_open(): a cdev opens only while nobody has the device */
		if (errno == EINVAL || errno == EBUSY)
			return vfiomig_fail(ctx, -EBUSY, "%s: the kernel refused to bind the cdev "
					    "(%s): the device is most likely open elsewhere already "
					    "(through its cdev or its group: a VMM?); adopt the fd that "
					    "process holds (vfiomig_dev_adopt()) instead of opening the "
					    "device", what, strerror(errno));
		return vfiomig_fail(ctx, -errno, "%s: VFIO_DEVICE_BIND_IOMMUFD: %s", what,
				    strerror(errno));
	}
	*ret_dev_id = bind.out_devid;
	/* Migration works once bound; attaching makes the device usable for DMA too. */
	attach.pt_id = k->ioas_id;
	if (ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach) < 0)
		return vfiomig_fail(ctx, -errno, "%s: VFIO_DEVICE_ATTACH_IOMMUFD_PT: %s", what, strerror(errno));
	return 0;
}

/*
 * Why a cdev node is missing.  /sys/class/vfio-dev lists every VFIO device
 * since 6.1, but only a kernel with CONFIG_VFIO_DEVICE_CDEV gives each a
 * character device (its "dev" file).
 */
static int cdev_missing(struct vfiomig_ctx *ctx, const char *node, const char *name)
{
	const char *base = strrchr(node, '/') ? strrchr(node, '/') + 1 : node;
	char sys[PATH_MAX];

	snprintf(sys, sizeof(sys), "/sys/class/vfio-dev/%s", base);
	if (access(sys, F_OK) < 0)
		return vfiomig_fail(ctx, -ENODEV, "%s: no VFIO device %s; /sys/class/vfio-dev "
				    "lists the ones there are", name, base);
	snprintf(sys, sizeof(sys), "/sys/class/vfio-dev/%s/dev", base);
	if (access(sys, F_OK) < 0)
		return vfiomig_fail(ctx, -ENODEV, "%s: this kernel has no VFIO cdevs (it needs "
				    "CONFIG_VFIO_DEVICE_CDEV and CONFIG_IOMMUFD, Linux 6.6 or later); "
				    "name the device by its PCI address or mdev UUID to go through "
				    "its group", name);
	return vfiomig_fail(ctx, -ENODEV, "%s: the kernel has the cdev %s but %s does not "
			    "exist (no devtmpfs or udev made it): create it with mknod %s c "
			    "MAJOR MINOR, the numbers in %s", name, base, node, node, sys);
}

static int open_cdev(struct vfiomig_ctx *ctx, const char *node, const char *name,
		     struct vfiomig_dev **ret)
{
	struct kernel_ctx *k = kctx(ctx);
	struct kernel_dev kd = { .bound = true };
	int fd, r;

	if (access(node, F_OK) < 0 && errno == ENOENT)
		return cdev_missing(ctx, node, name);
	fd = open_node(ctx, node, name);
	if (fd < 0)
		return fd;
	pthread_mutex_lock(&k->lock);
	r = cdev_bind(ctx, k, fd, name, &kd.dev_id);
	pthread_mutex_unlock(&k->lock);
	if (r == 0)
		r = kernel_dev_new(ctx, "vfio-cdev", fd, name, &kd, ret);
	if (r < 0)
		close(fd);
	return r;
}

static int check_vfio_driver(struct vfiomig_ctx *ctx, const struct vfiomig_spec *spec,
			     const struct vfiomig_identity *id)
{
	struct stat st;

	if (stat(spec->path, &st) < 0)
		return vfiomig_fail(ctx, -ENODEV, "%s: no such device (%s does not exist)",
				    spec->name, spec->path);
	if (!id->driver[0])
		return vfiomig_fail(ctx, -ENODEV, "%s: not bound to any driver; bind it to a VFIO driver "
				    "(echo vfio-pci > %s/driver_override; echo %s > /sys/bus/pci/drivers_probe)",
				    spec->name, spec->path, spec->name);
	if (!vfiomig_driver_is_vfio(id->driver))
		return vfiomig_fail(ctx, -ENODEV, "%s: bound to driver %s instead of a VFIO driver; "
				    "unbind it and bind vfio-pci or the vendor's variant driver",
				    spec->name, id->driver);
	return 0;
}

static int open_by_sysfs(struct vfiomig_ctx *ctx, const struct vfiomig_spec *spec,
			 struct vfiomig_dev **ret)
{
	struct vfiomig_identity id = { 0 };
	char cdev[32], node[64];
	int r;

	vfiomig_sysfs_identity(spec->path, &id);
	r = check_vfio_driver(ctx, spec, &id);
	if (r < 0)
		return r;
	if (access("/dev/vfio/vfio", F_OK) == 0)
		r = open_legacy(ctx, spec, ret);
	else if (vfiomig_sysfs_cdev_name(spec->path, cdev, sizeof(cdev)) == 0) {
		snprintf(node, sizeof(node), "/dev/vfio/devices/%s", cdev);
		r = open_cdev(ctx, node, spec->name, ret);
	} else
		r = vfiomig_fail(ctx, -ENODEV, "%s: neither /dev/vfio/vfio nor a vfio cdev exists; "
				 "load the vfio modules", spec->name);
	if (r == 0)
		(*ret)->id = id;
	return r;
}

static int kernel_open(struct vfiomig_ctx *ctx, const char *text, struct vfiomig_dev **ret)
{
	struct vfiomig_spec spec;
	char sys[PATH_MAX];
	int r;

	if (vfiomig_spec_parse(text, &spec) < 0)
		return TRANSPORT_PASS;
	if (spec.kind != VFIOMIG_SPEC_CDEV) {
		r = open_by_sysfs(ctx, &spec, ret);
	} else {
		r = open_cdev(ctx, spec.path, spec.name, ret);
		if (r == 0 && vfiomig_sysfs_from_cdev(spec.name, sys, sizeof(sys)) == 0) {
			vfiomig_sysfs_identity(sys, &(*ret)->id);
			snprintf((*ret)->key, sizeof((*ret)->key), "%s", strrchr(sys, '/') + 1);
		}
	}
	if (r < 0)
		call_note_device(ctx, spec.name);
	return r;
}

/* The last transport asked: an fd that is not a VFIO device is refused here. */
static int kernel_adopt(struct vfiomig_ctx *ctx, int fd, struct vfiomig_dev **ret)
{
	/* 16 bytes is the kernel's minimum, and all that mtty copies back. */
	struct vfio_device_info info = { .argsz = sizeof(info) };
	char sys[PATH_MAX], name[64];
	const char *base;
	int r;

	if (ioctl(fd, VFIO_DEVICE_GET_INFO, &info) < 0)
		return vfiomig_fail(ctx, errno == ENOTTY || errno == EINVAL ? -ENOTTY : -errno,
				    "fd %d is not a VFIO device fd (VFIO_DEVICE_GET_INFO: %s)",
				    fd, strerror(errno));
	/* A group's device fd, where the fdinfo names no sysfs path (6.12): sys stays "". */
	vfiomig_sysfs_from_fd(fd, sys, sizeof(sys));
	base = strrchr(sys, '/');
	if (base)
		snprintf(name, sizeof(name), "%s", base + 1);
	else
		snprintf(name, sizeof(name), "fd:%d", fd);
	r = vfiomig_dev_new(ctx, &vfiomig_kernel_transport, "adopted", fd, false, name, ret);
	if (r == 0 && base)
		vfiomig_sysfs_identity(sys, &(*ret)->id);
	return r;
}

const struct vfiomig_transport vfiomig_kernel_transport = {
	.open = kernel_open,
	.adopt = kernel_adopt,
	.release = kernel_release,
	.ctx_new = kernel_ctx_new,
	.ctx_free = kernel_ctx_free,
	.device_ioctl = kernel_device_ioctl,
	.data_ioctl = kernel_data_ioctl,
	.data_read = kernel_data_read,
	.data_write = kernel_data_write,
	.dirty_hwpt = kernel_dirty_hwpt,
};
