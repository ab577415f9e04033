/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The device object: opening and adopting through the transport table,
 * what was learnt at open, and the queries that change nothing.
 */
#include <assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "call.h"
#include "context.h"
#include "dev.h"
#include "export.h"
#include "log.h"
#include "states.h"
#include "transport.h"
#include "vendor.h"
#include "vfio-compat.h"

int vfiomig_dev_new(struct vfiomig_ctx *ctx, const struct vfiomig_transport *t,
		    const char *transport_name, int fd, bool owns_fd,
		    const char *name, struct vfiomig_dev **ret)
{
	struct vfiomig_dev *dev = calloc(1, sizeof(*dev));

	if (!dev)
		return vfiomig_fail(ctx, -ENOMEM, "%s: out of memory", name);
	atomic_init(&dev->refcount, 1);
	owner_init(&dev->owner);
	dev->ctx = vfiomig_ctx_ref(ctx);
	dev->transport = t;
	dev->transport_name = transport_name;
	dev->fd = fd;
	dev->owns_fd = owns_fd;
	snprintf(dev->name, sizeof(dev->name), "%s", name);
	snprintf(dev->key, sizeof(dev->key), "%s", name);
	*ret = dev;
	return 0;
}

int vfiomig_dev_feature(struct vfiomig_dev *dev, uint32_t flags, void *payload,
			size_t len)
{
	/* struct vfio_device_feature followed by its payload, aligned for u64s. */
	uint64_t buf[(sizeof(struct vfio_device_feature) + 32) / sizeof(uint64_t)];
	struct vfio_device_feature *f = (struct vfio_device_feature *)buf;
	int r;

	assert(len <= sizeof(buf) - sizeof(*f));
	f->argsz = (uint32_t)(sizeof(*f) + len);
	f->flags = flags;
	if (len)
		memcpy(f->data, payload, len);
	r = dev->transport->device_ioctl(dev, VFIO_DEVICE_FEATURE, f);
	if (r >= 0 && len)
		memcpy(payload, f->data, len);
	return r;
}

const struct vfiomig_transport *vfiomig_dev_transport_ops(const struct vfiomig_dev *dev)
{
	return dev->transport;
}

static bool dev_probe_feature(struct vfiomig_dev *dev, uint32_t feature,
			      uint32_t op)
{
	return vfiomig_dev_feature(dev, VFIO_DEVICE_FEATURE_PROBE | op | feature, NULL, 0) == 0;
}

static unsigned int dev_probe_caps(struct vfiomig_dev *dev)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	unsigned int caps = 0;

	if (dev_probe_feature(dev, VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, VFIO_DEVICE_FEATURE_GET))
		caps |= VFIOMIG_CAP_MIG_DATA_SIZE;
	if (dev_probe_feature(dev, VFIO_DEVICE_FEATURE_DMA_LOGGING_START, VFIO_DEVICE_FEATURE_SET))
		caps |= VFIOMIG_CAP_DMA_LOGGING;
	if ((dev->mig_flags & VFIOMIG_MIG_PRE_COPY) &&
	    dev_probe_feature(dev, VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2, VFIO_DEVICE_FEATURE_SET))
		caps |= VFIOMIG_CAP_PRECOPY_INFO_V2;
	if (dev->transport->device_ioctl(dev, VFIO_DEVICE_GET_INFO, &info) >= 0 &&
	    (info.flags & VFIO_DEVICE_FLAGS_RESET))
		caps |= VFIOMIG_CAP_RESET_ADVERTISED;
	return caps;
}

/*
 * Bits a newer kernel defines mean something we cannot honour, but nothing
 * we must refuse: paths are planned without them (state.c), and the
 * device reports them as they are (docs/states.md).
 */
static void note_unknown_flags(struct vfiomig_dev *dev)
{
	uint64_t unknown = vfiomig_mig_flags_unknown(dev->mig_flags);

	if (unknown)
		info(dev->ctx, "%s: migration flags 0x%llx include 0x%llx, which this library "
		     "does not know (a newer kernel's?); they are ignored", dev->name,
		     (unsigned long long)dev->mig_flags, (unsigned long long)unknown);
}

/* Reads the flags and capabilities once a transport has attached the device. */
static int dev_probe(struct vfiomig_dev *dev)
{
	struct vfio_device_feature_migration mig = { 0 };
	int r;

	r = vfiomig_dev_feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION,
			&mig, sizeof(mig));
	if (r == -ENOTTY)
		return vfiomig_fail(dev->ctx, r,
				    "%s: driver %s offers no migration (VFIO_DEVICE_FEATURE_MIGRATION unsupported); "
				    "bind a migration-capable variant driver",
				    dev->name, dev->id.driver[0] ? dev->id.driver : "(unknown)");
	if (r < 0)
		return vfiomig_fail(dev->ctx, r, "%s: reading migration flags failed: %s",
				    dev->name, strerror(-r));
	if (!vfiomig_mig_flags_defined(mig.flags))
		return vfiomig_fail(dev->ctx, -EOPNOTSUPP,
				    "%s: migration flags 0x%llx lack STOP_COPY; the device cannot migrate",
				    dev->name, (unsigned long long)mig.flags);
	dev->mig_flags = mig.flags;
	note_unknown_flags(dev);
	dev->caps = dev_probe_caps(dev);
	if (!dev->backend)
		dev->backend = vfiomig_vendor_for(&dev->id);
	dbg(dev->ctx, "%s: migration flags 0x%llx, caps 0x%x, via %s, backend %s", dev->name,
	    (unsigned long long)dev->mig_flags, dev->caps, dev->transport_name,
	    dev->backend->name);
	return 0;
}

/*
 * A device we just opened cannot have a live session: its group admits one
 * opener, and closing the device ended the last one's.  mtty keeps the
 * state across the reopen but drops the files, so a session found now is
 * stale (see continues_session() in dev-state.c).
 */
static void note_stale_session(struct vfiomig_dev *dev)
{
	enum vfiomig_state s;

	if (dev_read_state(dev, &s) == 0 && vfiomig_state_in_session(s)) {
		dev->stale_session = true;
		info(dev->ctx, "%s: opened in %s, a session of an earlier opener", dev->name,
		     vfiomig_state_str(s));
	}
}

static int dev_finish_open(struct vfiomig_dev *dev, bool opened, struct vfiomig_dev **ret)
{
	int r = dev_probe(dev);

	if (r < 0) {
		call_note_device(dev->ctx, dev->name);
		vfiomig_dev_unref(dev);
		return r;
	}
	if (opened)
		note_stale_session(dev);
	*ret = dev;
	return 0;
}

int dev_open_spec(struct vfiomig_ctx *ctx, const char *spec, struct vfiomig_dev **ret)
{
	struct vfiomig_dev *dev = NULL;
	int r = TRANSPORT_PASS;

	if (!spec || !ret)
		return vfiomig_fail(ctx, -EINVAL, "opening a device needs a spec and somewhere "
				    "to return the device");
	for (unsigned int i = 0; i < ctx->n_transports && r == TRANSPORT_PASS; i++)
		r = ctx->transports[i].t->open(ctx, spec, &dev);
	if (r == TRANSPORT_PASS && strncmp(spec, "mock:", 5) == 0) {
		r = vfiomig_fail(ctx, -EINVAL, "a mock device, which this context does not open: "
				 "the mock is a library of its own for tests; link libvfiomig-mock "
				 "(pkg-config vfiomig-mock) and call vfiomig_mock_attach() on the "
				 "context first");
	} else if (r == TRANSPORT_PASS) {
		r = vfiomig_fail(ctx, -EINVAL, "not a device spec: expected a PCI address "
				 "(0000:3b:00.1), an mdev UUID, /dev/vfio/devices/vfioN or a /sys "
				 "device path");
		vfiomig_note_fact(ctx, CALL_FACT_BAD_SPEC);	/* what was typed, as mock: specs */
	}
	return r < 0 ? r : dev_finish_open(dev, true, ret);
}

VFIOMIG_EXPORT int vfiomig_dev_open(struct vfiomig_ctx *ctx, const char *spec,
				    struct vfiomig_dev **ret)
{
	struct call c;
	int r = call_begin_ctx(&c, ctx);

	if (r == 0)
		r = dev_open_spec(ctx, spec, ret);
	return call_end(&c, r);
}

static int dev_adopt(struct vfiomig_ctx *ctx, int fd, struct vfiomig_dev **ret)
{
	struct vfiomig_dev *dev = NULL;
	int r = TRANSPORT_PASS;

	if (!ret)
		return vfiomig_fail(ctx, -EINVAL, "adopting a device needs somewhere to return it");
	if (fd < 0 || fcntl(fd, F_GETFD) < 0)
		return vfiomig_fail(ctx, -EBADF, "fd %d is not open", fd);
	for (unsigned int i = 0; i < ctx->n_transports && r == TRANSPORT_PASS; i++)
		r = ctx->transports[i].t->adopt(ctx, fd, &dev);
	if (r == TRANSPORT_PASS)
		r = vfiomig_fail(ctx, -ENOTTY, "fd %d is not a VFIO device fd", fd);
	return r < 0 ? r : dev_finish_open(dev, false, ret);
}

VFIOMIG_EXPORT int vfiomig_dev_adopt(struct vfiomig_ctx *ctx, int device_fd,
				     struct vfiomig_dev **ret)
{
	struct call c;
	int r = call_begin_ctx(&c, ctx);

	if (r == 0)
		r = dev_adopt(ctx, device_fd, ret);
	return call_end(&c, r);
}

VFIOMIG_EXPORT struct vfiomig_dev *vfiomig_dev_ref(struct vfiomig_dev *dev)
{
	if (dev)
		atomic_fetch_add(&dev->refcount, 1);
	return dev;
}

VFIOMIG_EXPORT struct vfiomig_dev *vfiomig_dev_unref(struct vfiomig_dev *dev)
{
	if (!dev || atomic_fetch_sub(&dev->refcount, 1) != 1)
		return NULL;
	/* The device first, then what holds it (QEMU's vfio_detach_device()):
	 * the kernel refuses to unset a group's container while a device of
	 * the group is open. */
	if (dev->owns_fd && dev->fd >= 0)
		close(dev->fd);
	if (dev->transport->release)
		dev->transport->release(dev);
	owner_fini(&dev->owner);
	vfiomig_ctx_unref(dev->ctx);
	free(dev);
	return NULL;
}

VFIOMIG_EXPORT int vfiomig_dev_is_same(struct vfiomig_dev *a, struct vfiomig_dev *b)
{
	if (!a || !b)
		return -EINVAL;
	return a == b || strcmp(a->key, b->key) == 0;
}

VFIOMIG_EXPORT int vfiomig_dev_get_fd(struct vfiomig_dev *dev)
{
	return dev ? dev->fd : -EINVAL;
}

VFIOMIG_EXPORT const char *vfiomig_dev_get_name(struct vfiomig_dev *dev)
{
	return dev ? dev->name : NULL;
}

VFIOMIG_EXPORT const char *vfiomig_dev_get_transport(struct vfiomig_dev *dev)
{
	return dev ? dev->transport_name : NULL;
}

VFIOMIG_EXPORT const char *vfiomig_dev_get_driver(struct vfiomig_dev *dev)
{
	return dev && dev->id.driver[0] ? dev->id.driver : NULL;
}

VFIOMIG_EXPORT const char *vfiomig_dev_get_backend(struct vfiomig_dev *dev)
{
	return dev ? dev->backend->name : NULL;
}

/*
 * The accessors below touch only what was learnt at open, so they take no
 * ownership of the device (any thread may call them); they still leave a
 * failure's sentence, or clear the last one, as every status call does.
 */
static int accessor_begin(struct call *c, struct vfiomig_dev *dev, const void *ret)
{
	int r = call_begin_ctx(c, dev ? dev->ctx : NULL);

	if (r == 0 && !ret)
		r = vfiomig_fail(dev->ctx, -EINVAL, "%s: no place to return the value", dev->name);
	return r;
}

VFIOMIG_EXPORT int vfiomig_dev_get_pci_ids(struct vfiomig_dev *dev,
					   uint16_t *ret_vendor,
					   uint16_t *ret_device,
					   uint16_t *ret_subsystem_vendor,
					   uint16_t *ret_subsystem_device,
					   uint8_t *ret_revision)
{
	struct call c;
	int r = call_begin_ctx(&c, dev ? dev->ctx : NULL);	/* every out-pointer may be NULL */

	if (r == 0 && !dev->id.has_pci_ids)
		r = vfiomig_fail(dev->ctx, -ENODATA, "%s: not a PCI device, or its IDs are unknown",
				 dev->name);
	if (r < 0)
		return call_end(&c, r);
	if (ret_vendor)
		*ret_vendor = dev->id.vendor;
	if (ret_device)
		*ret_device = dev->id.device;
	if (ret_subsystem_vendor)
		*ret_subsystem_vendor = dev->id.subsystem_vendor;
	if (ret_subsystem_device)
		*ret_subsystem_device = dev->id.subsystem_device;
	if (ret_revision)
		*ret_revision = dev->id.revision;
	return call_end(&c, 0);
}

VFIOMIG_EXPORT int vfiomig_dev_get_mig_flags(struct vfiomig_dev *dev, uint64_t *ret)
{
	struct call c;
	int r = accessor_begin(&c, dev, ret);

	if (r == 0)
		*ret = dev->mig_flags;
	return call_end(&c, r);
}

VFIOMIG_EXPORT int vfiomig_dev_get_caps(struct vfiomig_dev *dev, unsigned int *ret)
{
	struct call c;
	int r = accessor_begin(&c, dev, ret);

	if (r == 0)
		*ret = dev->caps;
	return call_end(&c, r);
}

void dev_drive_begin(struct vfiomig_dev *dev)
{
	dev->call_start_known = false;
	dev->call_start_pending = !dev->needs_recovery;
}

int dev_read_raw_state(struct vfiomig_dev *dev, uint32_t *ret)
{
	struct vfio_device_feature_mig_state st = { .data_fd = -1 };
	int r;

	r = vfiomig_dev_feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			&st, sizeof(st));
	if (r < 0)
		return r;
	*ret = st.device_state;
	if (dev->call_start_pending) {
		dev->call_start = st.device_state;
		dev->call_start_known = true;
		dev->call_start_pending = false;
	}
	return 0;
}

int dev_read_state(struct vfiomig_dev *dev, enum vfiomig_state *ret)
{
	uint32_t raw;
	int r = dev_read_raw_state(dev, &raw);

	if (r < 0)
		return r;
	if (raw >= VFIOMIG_STATE_COUNT)
		return -EPROTO;
	*ret = (enum vfiomig_state)raw;
	return 0;
}

/*
 * A state a newer kernel defines is one no path of ours leaves but a
 * reset, as ERROR: the caller is told so, and dev_recover() resets it.
 */
int dev_get_state(struct vfiomig_dev *dev, enum vfiomig_state *ret)
{
	char words[STATE_PHRASE_MAX];
	uint32_t raw;
	int r = dev_read_raw_state(dev, &raw);

	if (r < 0)
		return vfiomig_fail(dev->ctx, r, "%s: reading the migration state failed: %s",
				    dev->name, strerror(-r));
	if (raw >= VFIOMIG_STATE_COUNT)
		return vfiomig_fail(dev->ctx, -EPROTO, "%s: the device is in %s, which only a "
				    "reset leaves: reset the device", dev->name,
				    vfiomig_state_phrase(raw, words, sizeof(words)));
	*ret = (enum vfiomig_state)raw;
	return 0;
}

VFIOMIG_EXPORT int vfiomig_dev_get_state(struct vfiomig_dev *dev,
					 enum vfiomig_state *ret)
{
	struct call c;
	int r = call_begin_dev(&c, dev, CALL_QUERY);

	if (r == 0 && !ret)
		r = vfiomig_fail(dev->ctx, -EINVAL, "%s: no place to return the state", dev->name);
	if (r == 0)
		r = dev_get_state(dev, ret);
	return call_end(&c, r);
}

/*
 * A save or a load starts only where the library can put the device back:
 * RUNNING, RUNNING_P2P or STOP.  A session is its opener's to finish, and
 * ERROR or a newer kernel's state is left only by a reset, which is the
 * user's to decide: each is refused before anything is sent.
 */
int dev_check_ready(struct vfiomig_dev *dev, enum vfiomig_state *ret)
{
	int r = dev_get_state(dev, ret);

	if (r < 0)
		return r;
	if (*ret == VFIOMIG_STATE_ERROR)
		return vfiomig_fail(dev->ctx, -EINVAL, "%s: the device is in ERROR, which only a "
				    "reset leaves: reset the device", dev->name);
	if (vfiomig_state_in_session(*ret))
		return vfiomig_fail(dev->ctx, -EBUSY, "%s: the device is in %s: a migration is "
				    "already in progress; finish it or reset the device",
				    dev->name, vfiomig_state_str(*ret));
	return 0;
}

VFIOMIG_EXPORT int vfiomig_dev_check_ready(struct vfiomig_dev *dev)
{
	enum vfiomig_state st;
	struct call c;
	int r = call_begin_dev(&c, dev, CALL_REPORT_STATE);

	if (r == 0)
		r = dev_check_ready(dev, &st);
	return call_end(&c, r);
}

/*
 * QEMU takes MIG_DATA_SIZE and PRECOPY_INFO to "report anything".  4 PiB
 * is more than a 400 Gb/s link moves in a day, so no device state of that
 * size could ever be migrated: an answer that large is no size.  And 64 members'
 * worth of it, plus any byte count, still fits in 64 bits.
 */
uint64_t dev_size_clamp(struct vfiomig_dev *dev, enum dev_size kind, uint64_t v)
{
	static const char *const what[] = {
		[DEV_SIZE_DATA] = "MIG_DATA_SIZE's stop-copy length",
		[DEV_SIZE_INITIAL] = "PRECOPY_INFO's initial_bytes",
		[DEV_SIZE_DIRTY] = "PRECOPY_INFO's dirty_bytes",
	};

	if (v < VFIOMIG_SIZE_LIMIT)
		return v;
	if (!(dev->sizes_warned & (1u << kind)))
		warn(dev->ctx, "%s: %s is %llu bytes, at or above the %llu no device's state "
		     "reaches: the driver's answer means nothing and counts as an unknown amount "
		     "(said once for this device)", dev->name, what[kind], (unsigned long long)v,
		     (unsigned long long)VFIOMIG_SIZE_LIMIT);
	dev->sizes_warned |= 1u << kind;
	return VFIOMIG_SIZE_LIMIT;
}

int dev_stop_copy_size(struct vfiomig_dev *dev, uint64_t *ret)
{
	struct vfio_device_feature_mig_data_size sz = { 0 };
	int r;

	if (!(dev->caps & VFIOMIG_CAP_MIG_DATA_SIZE))
		return -EOPNOTSUPP;
	r = vfiomig_dev_feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE,
			&sz, sizeof(sz));
	if (r < 0)
		return r;
	/* an estimate that means nothing is none: callers fall back as without one */
	if (dev_size_clamp(dev, DEV_SIZE_DATA, sz.stop_copy_length) >= VFIOMIG_SIZE_LIMIT)
		return -ERANGE;
	*ret = sz.stop_copy_length;
	return 0;
}

static int get_stop_copy_size(struct vfiomig_dev *dev, uint64_t *ret)
{
	int r;

	if (!ret)
		return vfiomig_fail(dev->ctx, -EINVAL, "%s: no place to return the size", dev->name);
	r = dev_stop_copy_size(dev, ret);
	if (r == -EOPNOTSUPP)
		return vfiomig_fail(dev->ctx, r, "%s: the device cannot estimate its state's size "
				    "(no VFIO_DEVICE_FEATURE_MIG_DATA_SIZE; Linux 6.2+ has it)",
				    dev->name);
	if (r == -ERANGE)
		return vfiomig_fail(dev->ctx, r, "%s: the driver's estimate of its state's size "
				    "(MIG_DATA_SIZE) is %llu bytes or more, which no device state "
				    "can be: take the size as unknown", dev->name,
				    (unsigned long long)VFIOMIG_SIZE_LIMIT);
	if (r < 0)
		return vfiomig_fail(dev->ctx, r, "%s: MIG_DATA_SIZE failed: %s", dev->name,
				    strerror(-r));
	return 0;
}

VFIOMIG_EXPORT int vfiomig_dev_get_stop_copy_size(struct vfiomig_dev *dev,
						  uint64_t *ret)
{
	struct call c;
	int r = call_begin_dev(&c, dev, CALL_QUERY);

	if (r == 0)
		r = get_stop_copy_size(dev, ret);
	return call_end(&c, r);
}
