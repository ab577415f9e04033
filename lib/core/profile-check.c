/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The rules that say whether a state saved from one device loads into
 * another, one function per field; docs/compatibility.md gives each rule's
 * source.  vfiomig_profile_check() and the load's identity check both run
 * profile_compare(), so that they cannot disagree.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "profile.h"

struct judge {
	profile_verdict_fn *fn;
	void *userdata;
	enum vfiomig_compat worst;
	/* The next verdict's values, for the load's sentence (both_values()). */
	char va[PROFILE_STRING_MAX + 1], vb[PROFILE_STRING_MAX + 1];
};

/* How the load's sentence names an incompatible field. */
static const struct {
	const char *field, *label;
} labels[] = {
	{ "pci_ids", "the PCI IDs" }, { "subsystem_ids", "the subsystem IDs" },
	{ "revision", "the revisions" }, { "class", "the PCI classes" },
	{ "driver", "the drivers" }, { "driver_version", "the driver versions" },
	{ "mdev_type", "the mdev types" },
	{ "backend", "the backends" }, { "migration_flags", "the migration flags" },
	{ "mlx5", "the mlx5 firmware capabilities" },
};

static const char *label_of(const char *field)
{
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		if (strcmp(labels[i].field, field) == 0)
			return labels[i].label;
	return field;
}

/* The next verdict's values, where a device's short description
 * ("15b3:101e (mlx5_vfio_pci)") does not show them. */
static void both_values(struct judge *j, const char *va, const char *vb)
{
	snprintf(j->va, sizeof(j->va), "%s", va);
	snprintf(j->vb, sizeof(j->vb), "%s", vb);
}

static void PRINTF(5, 6) verdict(struct judge *j, const char *field, const char *source,
				 enum vfiomig_compat v, const char *fmt, ...)
{
	struct profile_verdict pv = { .field = field, .source = source, .verdict = v,
				      .a = j->va, .b = j->vb };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pv.reason, sizeof(pv.reason), fmt, ap);
	va_end(ap);
	if (v == VFIOMIG_COMPAT_INCOMPATIBLE)
		pv.label = label_of(field);
	if (v > j->worst)
		j->worst = v;
	if (j->fn)
		j->fn(j->userdata, &pv);
	j->va[0] = j->vb[0] = '\0';
}

static const char *or_none(const char *s)
{
	return s[0] ? s : "none";
}

static void pci_ids(struct judge *j, const struct vfiomig_identity *a,
		    const struct vfiomig_identity *b)
{
	if (!a->has_pci_ids && !b->has_pci_ids) {
		verdict(j, "pci_ids", "kernel uAPI", VFIOMIG_COMPAT_SAME,
			"neither device is a PCI device with known IDs");
	} else if (a->has_pci_ids != b->has_pci_ids) {
		verdict(j, "pci_ids", "kernel uAPI", VFIOMIG_COMPAT_INCOMPATIBLE,
			"the PCI IDs differ: only the %s is a PCI device with known IDs; the "
			"state is the driver's own format, for its own device",
			a->has_pci_ids ? "source" : "destination");
	} else if (a->vendor != b->vendor || a->device != b->device) {
		verdict(j, "pci_ids", "kernel uAPI", VFIOMIG_COMPAT_INCOMPATIBLE,
			"the PCI IDs differ (source %04x:%04x, destination %04x:%04x); the state "
			"is the driver's own format, for its own device", a->vendor, a->device,
			b->vendor, b->device);
	} else {
		verdict(j, "pci_ids", "kernel uAPI", VFIOMIG_COMPAT_SAME, "both are %04x:%04x",
			a->vendor, a->device);
	}
}

static void subsystem_ids(struct judge *j, const struct vfiomig_identity *a,
			  const struct vfiomig_identity *b)
{
	char va[16], vb[16];

	if (!a->has_pci_ids || !b->has_pci_ids) {
		verdict(j, "subsystem_ids", "libvfiomig", VFIOMIG_COMPAT_SAME,
			"not compared: not known on both sides");
		return;
	}
	snprintf(va, sizeof(va), "%04x:%04x", a->subsystem_vendor, a->subsystem_device);
	snprintf(vb, sizeof(vb), "%04x:%04x", b->subsystem_vendor, b->subsystem_device);
	if (strcmp(va, vb) != 0) {
		both_values(j, va, vb);
		verdict(j, "subsystem_ids", "libvfiomig", VFIOMIG_COMPAT_INCOMPATIBLE,
			"the subsystem IDs differ (source %s, destination %s): another board of "
			"the chip, whose firmware and configuration may differ", va, vb);
	} else {
		verdict(j, "subsystem_ids", "libvfiomig", VFIOMIG_COMPAT_SAME, "both are %s", va);
	}
}

static bool xe_vfio(const struct vfiomig_identity *id)
{
	return strcmp(id->driver, "xe-vfio-pci") == 0;
}

static void revision(struct judge *j, const struct vfiomig_identity *a,
		     const struct vfiomig_identity *b)
{
	char va[4], vb[4];

	if (!a->has_pci_ids || !b->has_pci_ids) {
		verdict(j, "revision", "Intel xe", VFIOMIG_COMPAT_SAME,
			"not compared: not known on both sides");
		return;
	}
	snprintf(va, sizeof(va), "%02x", a->revision);
	snprintf(vb, sizeof(vb), "%02x", b->revision);
	if (a->revision == b->revision) {
		verdict(j, "revision", "Intel xe", VFIOMIG_COMPAT_SAME, "both are %s", va);
	} else if (xe_vfio(a) || xe_vfio(b)) {
		/* The device's short description does not show the revision. */
		both_values(j, va, vb);
		verdict(j, "revision", "Intel xe", VFIOMIG_COMPAT_INCOMPATIBLE,
			"the revisions differ (source %s, destination %s): xe-vfio-pci's restore "
			"refuses a descriptor whose revision is not the device's (ENODEV); load "
			"into a VF of the same revision", va, vb);
	} else {
		verdict(j, "revision", "Intel xe", VFIOMIG_COMPAT_COMPATIBLE,
			"the revisions differ (source %s, destination %s): of the drivers "
			"known here only xe-vfio-pci checks it; this driver is the judge, at "
			"load", va, vb);
	}
}

static void class_code(struct judge *j, const struct vfiomig_identity *a,
		       const struct vfiomig_identity *b)
{
	if (!a->has_class || !b->has_class)
		verdict(j, "class", "kernel uAPI", VFIOMIG_COMPAT_SAME,
			"not compared: not known on both sides");
	else if (a->class_code != b->class_code)
		verdict(j, "class", "kernel uAPI", VFIOMIG_COMPAT_INCOMPATIBLE,
			"the PCI classes differ (source %06x, destination %06x): the device "
			"presents another function", a->class_code, b->class_code);
	else
		verdict(j, "class", "kernel uAPI", VFIOMIG_COMPAT_SAME, "both are %06x",
			a->class_code);
}

static void driver(struct judge *j, const struct vfiomig_identity *a,
		   const struct vfiomig_identity *b)
{
	if (strcmp(a->driver, b->driver) != 0) {
		verdict(j, "driver", "kernel uAPI", VFIOMIG_COMPAT_INCOMPATIBLE,
			"the drivers differ (source %s, destination %s): the state is the "
			"format of the driver that wrote it", or_none(a->driver), or_none(b->driver));
	} else {
		verdict(j, "driver", "kernel uAPI", VFIOMIG_COMPAT_SAME, "both are %s",
			or_none(a->driver));
	}
}

static void driver_version(struct judge *j, const struct vfiomig_profile *a,
			   const struct vfiomig_profile *b)
{
	bool module = a->version_source == PROFILE_VERSION_MODULE ||
		      b->version_source == PROFILE_VERSION_MODULE;

	if (a->version_source == PROFILE_VERSION_UNKNOWN ||
	    b->version_source == PROFILE_VERSION_UNKNOWN)
		verdict(j, "driver_version", "KubeVirt", VFIOMIG_COMPAT_SAME,
			"not compared: not known on both sides");
	else if (a->version_source == b->version_source &&
		 strcmp(a->driver_version, b->driver_version) == 0)
		verdict(j, "driver_version", "KubeVirt", VFIOMIG_COMPAT_SAME, "both are %s",
			a->driver_version);
	else if (module)
		verdict(j, "driver_version", "KubeVirt", VFIOMIG_COMPAT_INCOMPATIBLE,
			"the driver versions differ (source %s %s, destination %s %s): a driver "
			"built apart from the kernel promises nothing across its versions "
			"(KubeVirt migrates a vGPU only to the same module version)",
			a->version_source == PROFILE_VERSION_MODULE ? "module" : "kernel",
			a->driver_version,
			b->version_source == PROFILE_VERSION_MODULE ? "module" : "kernel",
			b->driver_version);
	else
		verdict(j, "driver_version", "kernel uAPI", VFIOMIG_COMPAT_COMPATIBLE,
			"the kernel releases differ (source %s, destination %s): an in-tree "
			"driver keeps reading the states its earlier releases wrote",
			a->driver_version, b->driver_version);
}

static void mdev_type(struct judge *j, const struct vfiomig_identity *a,
		      const struct vfiomig_identity *b)
{
	if (strcmp(a->mdev_type, b->mdev_type) != 0) {
		both_values(j, or_none(a->mdev_type), or_none(b->mdev_type));
		verdict(j, "mdev_type", "mtty", VFIOMIG_COMPAT_INCOMPATIBLE,
			"the mdev types differ (source %s, destination %s): a type is a "
			"configuration, and mtty refuses a state of another type (its port count)",
			or_none(a->mdev_type), or_none(b->mdev_type));
	} else {
		verdict(j, "mdev_type", "mtty", VFIOMIG_COMPAT_SAME, "%s",
			a->mdev_type[0] ? a->mdev_type : "neither is an mdev");
	}
}

static void backend(struct judge *j, const struct vfiomig_profile *a,
		    const struct vfiomig_profile *b)
{
	if (strcmp(a->backend, b->backend) != 0) {
		both_values(j, or_none(a->backend), or_none(b->backend));
		verdict(j, "backend", "libvfiomig", VFIOMIG_COMPAT_INCOMPATIBLE,
			"the backends differ (source %s, destination %s): the stream's vendor "
			"records are read by the backend that wrote them",
			or_none(a->backend), or_none(b->backend));
	} else {
		verdict(j, "backend", "libvfiomig", VFIOMIG_COMPAT_SAME, "both are %s",
			or_none(a->backend));
	}
}

static void flag_names(char *buf, size_t size, uint64_t flags)
{
	static const char *const names[] = { "STOP_COPY", "P2P", "PRE_COPY" };
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < 64; i++) {
		if (!(flags & (1ull << i)))
			continue;
		if (i < 3)
			n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%s%s",
					      n ? "|" : "", names[i]);
		else
			n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%sbit %u",
					      n ? "|" : "", i);
	}
	if (!n)
		snprintf(buf, size, "none");
}

static void mig_flags(struct judge *j, const struct vfiomig_profile *a,
		      const struct vfiomig_profile *b)
{
	char fa[96], fb[96];

	if (!(a->has & b->has & PROFILE_HAS_MIG_FLAGS)) {
		verdict(j, "migration_flags", "kernel uAPI", VFIOMIG_COMPAT_SAME,
			"not compared: not known on both sides");
		return;
	}
	flag_names(fa, sizeof(fa), a->mig_flags);
	flag_names(fb, sizeof(fb), b->mig_flags);
	if (a->mig_flags == b->mig_flags)
		verdict(j, "migration_flags", "kernel uAPI", VFIOMIG_COMPAT_SAME, "both are %s", fa);
	else if (!(b->mig_flags & VFIOMIG_MIG_STOP_COPY))
		verdict(j, "migration_flags", "kernel uAPI", VFIOMIG_COMPAT_INCOMPATIBLE,
			"the destination's flags (%s) lack STOP_COPY, which RESUMING needs", fb);
	else
		verdict(j, "migration_flags", "kernel uAPI", VFIOMIG_COMPAT_COMPATIBLE,
			"the flags differ (source %s, destination %s): a load needs only "
			"STOP_COPY's RESUMING; the others shape how the destination migrates on",
			fa, fb);
}

static void dma_logging(struct judge *j, const struct vfiomig_profile *a,
			const struct vfiomig_profile *b)
{
	if (!(a->has & b->has & PROFILE_HAS_DMA_LOGGING))
		verdict(j, "dma_logging", "kernel uAPI", VFIOMIG_COMPAT_SAME,
			"not compared: not known on both sides");
	else if (a->dma_logging != b->dma_logging)
		verdict(j, "dma_logging", "kernel uAPI", VFIOMIG_COMPAT_COMPATIBLE,
			"only the %s has DMA logging: the state loads either way; the "
			"destination's next migration tracks dirty pages %s",
			a->dma_logging ? "source" : "destination",
			b->dma_logging ? "on the device" : "by other means (the IOMMU)");
	else
		verdict(j, "dma_logging", "kernel uAPI", VFIOMIG_COMPAT_SAME, "%s",
			a->dma_logging ? "both have it" : "neither has it");
}

static void dma_pages(struct judge *j, const struct vfiomig_profile *a,
		      const struct vfiomig_profile *b)
{
	if (!(a->has & b->has & PROFILE_HAS_DMA_PAGES))
		verdict(j, "dma_logging_page_sizes", "kernel uAPI", VFIOMIG_COMPAT_SAME,
			"not compared: not known on both sides");
	else if (a->dma_page_min != b->dma_page_min || a->dma_page_max != b->dma_page_max)
		verdict(j, "dma_logging_page_sizes", "kernel uAPI", VFIOMIG_COMPAT_COMPATIBLE,
			"the DMA logging page sizes differ (source %llu to %llu, destination %llu "
			"to %llu bytes): the state loads either way; DMA_LOGGING_START clamps the "
			"page size it is given", (unsigned long long)a->dma_page_min,
			(unsigned long long)a->dma_page_max, (unsigned long long)b->dma_page_min,
			(unsigned long long)b->dma_page_max);
	else
		verdict(j, "dma_logging_page_sizes", "kernel uAPI", VFIOMIG_COMPAT_SAME,
			"both are %llu to %llu bytes", (unsigned long long)a->dma_page_min,
			(unsigned long long)a->dma_page_max);
}

static void state_size(struct judge *j, const struct vfiomig_profile *a,
		       const struct vfiomig_profile *b)
{
	if (!(a->has & b->has & PROFILE_HAS_STATE_SIZE))
		verdict(j, "state_size", "QEMU", VFIOMIG_COMPAT_SAME,
			"not compared: not known on both sides");
	else if (a->state_size != b->state_size)
		verdict(j, "state_size", "QEMU", VFIOMIG_COMPAT_COMPATIBLE,
			"the state sizes differ (source %llu, destination %llu bytes): "
			"MIG_DATA_SIZE is an estimate that may report anything, and no driver "
			"bounds a load by it", (unsigned long long)a->state_size,
			(unsigned long long)b->state_size);
	else
		verdict(j, "state_size", "QEMU", VFIOMIG_COMPAT_SAME, "both are %llu bytes",
			(unsigned long long)a->state_size);
}

static bool mlx5_vf(const struct vfiomig_identity *id)
{
	return id->has_pci_ids && id->vendor == 0x15b3 && id->device == 0x101e;
}

static void mlx5(struct judge *j, const struct vfiomig_profile *a,
		 const struct vfiomig_profile *b)
{
	if (!mlx5_vf(&a->id) && !mlx5_vf(&b->id) && !(a->has & b->has & PROFILE_HAS_MLX5)) {
		verdict(j, "mlx5", "mlx5_vfio_pci", VFIOMIG_COMPAT_SAME, "neither is an mlx5 VF");
	} else if (!(a->has & b->has & PROFILE_HAS_MLX5)) {
		const char *why = a->mlx5_why[0] ? a->mlx5_why : b->mlx5_why;

		verdict(j, "mlx5", "mlx5_vfio_pci", VFIOMIG_COMPAT_SAME,
			"not compared: the firmware's capabilities are not known on both sides%s%s",
			why[0] ? ": " : "", why);
	} else if (!b->mlx5_migration || !b->mlx5_migratable) {
		verdict(j, "mlx5", "mlx5_vfio_pci", VFIOMIG_COMPAT_INCOMPATIBLE,
			"the destination's firmware does not offer migration (%s is off): "
			"mlx5_vfio_pci cannot resume it", !b->mlx5_migration ? "migration" :
			"migratable");
	} else if (strcmp(a->mlx5_firmware, b->mlx5_firmware) != 0 ||
		   a->mlx5_chunks != b->mlx5_chunks) {
		verdict(j, "mlx5", "mlx5_vfio_pci", VFIOMIG_COMPAT_COMPATIBLE,
			"the firmware differs (source %s%s, destination %s%s): mlx5_vfio_pci "
			"needs the capabilities, not one version, and reads either framing",
			or_none(a->mlx5_firmware), a->mlx5_chunks ? " in chunks" : "",
			or_none(b->mlx5_firmware), b->mlx5_chunks ? " in chunks" : "");
	} else {
		verdict(j, "mlx5", "mlx5_vfio_pci", VFIOMIG_COMPAT_SAME,
			"the same firmware capabilities (%s)", or_none(a->mlx5_firmware));
	}
}

enum vfiomig_compat profile_compare(const struct vfiomig_profile *src,
				    const struct vfiomig_profile *dst,
				    profile_verdict_fn *fn, void *userdata)
{
	struct judge j = { .fn = fn, .userdata = userdata, .worst = VFIOMIG_COMPAT_SAME };

	pci_ids(&j, &src->id, &dst->id);
	subsystem_ids(&j, &src->id, &dst->id);
	revision(&j, &src->id, &dst->id);
	class_code(&j, &src->id, &dst->id);
	driver(&j, &src->id, &dst->id);
	driver_version(&j, src, dst);
	mdev_type(&j, &src->id, &dst->id);
	backend(&j, src, dst);
	mig_flags(&j, src, dst);
	dma_logging(&j, src, dst);
	dma_pages(&j, src, dst);
	state_size(&j, src, dst);
	mlx5(&j, src, dst);
	return j.worst;
}

unsigned int profile_match(unsigned int n, unsigned int n_dst,
			   bool (*fits)(void *userdata, unsigned int src, unsigned int dst),
			   void *userdata, int *dst_of)
{
	bool taken[VFIOMIG_GROUP_MAX] = { false };
	unsigned int unmatched = 0;

	for (unsigned int k = 0; k < n; k++) {
		unsigned int j;

		for (j = 0; j < n_dst; j++)
			if (!taken[j] && fits(userdata, k, j))
				break;
		dst_of[k] = j < n_dst ? (int)j : -1;
		if (j < n_dst)
			taken[j] = true;
		else
			unmatched++;
	}
	return unmatched;
}
