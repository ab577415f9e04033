/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal structures and helpers shared by the library's sources. */
#ifndef VFIOMIG_PRIVATE_H
#define VFIOMIG_PRIVATE_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

#include <vfiomig/vfiomig.h>
#include <vfiomig/data.h>
#include <vfiomig/migrate.h>

#include "transport.h"

#define VFIOMIG_EXPORT __attribute__((visibility("default")))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PRINTF(f, a) __attribute__((format(printf, f, a)))

/* The one place a libc or ioctl failure becomes an error code. */
static inline int sys_ret(int r)
{
	return r < 0 ? -errno : r;
}

struct vfiomig_group;
struct vfiomig_mock;

struct vfiomig_ctx {
	int refcount;
	void (*log_fn)(void *userdata, int priority, const char *msg);
	void *log_data;
	int log_priority;
	char error[512];

	/* Legacy path: one container for every group this ctx opened. */
	int container_fd;
	struct vfiomig_group *groups;
	/* cdev path: one iommufd and IOAS for every cdev this ctx opened. */
	int iommufd;
	uint32_t ioas_id;
	/* Mock devices alive in this ctx, so adopt can recognise their fds. */
	struct vfiomig_mock *mocks;
};

/* What sysfs says about a device; empty fields are unknown. */
struct vfiomig_identity {
	bool has_pci_ids;
	uint16_t vendor, device, subsystem_vendor, subsystem_device;
	uint8_t revision;
	char driver[64];
};

struct vfiomig_dev {
	int refcount;
	struct vfiomig_ctx *ctx;
	const struct vfiomig_transport_ops *ops;
	const char *transport_name;
	void *priv;		/* the transport's */
	int fd;
	bool owns_fd;
	struct vfiomig_group *group;	/* legacy path only */
	char name[64];
	struct vfiomig_identity id;
	uint64_t mig_flags;
	unsigned int caps;
	bool stepwise;
	bool precopy_v2;	/* opted in to MIG_PRECOPY_INFOv2 */
	/* Set when a transition or transfer failed and a reset may be needed. */
	bool needs_recovery;
	/* Opened in the middle of an earlier opener's session, whose data fd
	 * went with it: arcs that need that fd must not be sent. */
	bool stale_session;
};

/* log.c */
void vfiomig_log(struct vfiomig_ctx *ctx, int prio, const char *fmt, ...) PRINTF(3, 4);
/* Records @fmt as the ctx's error sentence, logs it at LOG_ERR, returns @err. */
int vfiomig_fail(struct vfiomig_ctx *ctx, int err, const char *fmt, ...) PRINTF(3, 4);
#define dbg(ctx, ...) vfiomig_log(ctx, LOG_DEBUG, __VA_ARGS__)
#define info(ctx, ...) vfiomig_log(ctx, LOG_INFO, __VA_ARGS__)
#define warn(ctx, ...) vfiomig_log(ctx, LOG_WARNING, __VA_ARGS__)

/* state.c */
bool vfiomig_state_valid(enum vfiomig_state s);
bool vfiomig_mig_flags_defined(uint64_t mig_flags);
const char *vfiomig_state_str(enum vfiomig_state s);	/* never NULL */

/* dev.c */
int vfiomig_dev_new(struct vfiomig_ctx *ctx,
		    const struct vfiomig_transport_ops *ops,
		    const char *transport_name, int fd, bool owns_fd,
		    const char *name, struct vfiomig_dev **ret);
/* One VFIO_DEVICE_FEATURE call with @len bytes of payload, copied back. */
int vfiomig_dev_feature(struct vfiomig_dev *dev, uint32_t flags, void *payload,
			size_t len);
/* Reads flags and capabilities; called once a transport is attached. */
int vfiomig_dev_probe(struct vfiomig_dev *dev);

/* vfio.c: the kernel transport */
int vfiomig_kernel_open(struct vfiomig_ctx *ctx, const char *spec,
			struct vfiomig_dev **ret);
int vfiomig_kernel_adopt(struct vfiomig_ctx *ctx, int fd,
			 struct vfiomig_dev **ret);
void vfiomig_ctx_release_kernel(struct vfiomig_ctx *ctx);

/* mock.c: the mock transport */
int vfiomig_mock_open(struct vfiomig_ctx *ctx, const char *params,
		      struct vfiomig_dev **ret);
/* -ENOENT if @fd is not a mock device of @ctx. */
int vfiomig_mock_adopt(struct vfiomig_ctx *ctx, int fd,
		       struct vfiomig_dev **ret);

#endif
