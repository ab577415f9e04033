/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfiomig-ctl info DEVICE: what the device is and what it can do. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "args.h"
#include "describe.h"
#include "json-writer.h"
#include "units.h"
#include "util.h"

struct info {
	const char *name, *transport, *driver, *backend;
	struct pci_ids pci;
	uint64_t flags;
	unsigned int caps;
	enum vfiomig_state state;
	bool have_size;
	uint64_t stop_copy_size;
	/* An mlx5 VF (15b3:101e): its firmware capability diagnostics. */
	bool mlx5;
	int mlx5_err;			/* 0: mlx5_caps holds them */
	char mlx5_why[512];		/* why not, if mlx5_err */
	struct vfiomig_mlx5_caps mlx5_caps;
};

#define MLX5_MOCK_WHY "a mock device has no firmware: the diagnostics read a real mlx5 " \
	"PF's capabilities (QUERY_HCA_CAP through libmlx5); run info on the VF's PCI address"

/* What mlx5_vfio_pci makes of the firmware: advice, so a failure here is
 * reported with the rest and is not the command's failure. */
static void gather_mlx5(struct vfiomig_ctx *vctx, struct info *in)
{
	const char *msg;

	in->mlx5 = in->pci.known && in->pci.vendor == 0x15b3 && in->pci.device == 0x101e;
	if (!in->mlx5)
		return;
	if (strcmp(in->transport, "mock") == 0) {
		in->mlx5_err = -EOPNOTSUPP;
		snprintf(in->mlx5_why, sizeof(in->mlx5_why), "%s", MLX5_MOCK_WHY);
		return;
	}
	in->mlx5_caps.sz = sizeof(in->mlx5_caps);
	in->mlx5_err = vfiomig_mlx5_caps_query(vctx, in->name, &in->mlx5_caps);
	if (in->mlx5_err < 0) {
		msg = vfiomig_ctx_get_error(vctx);
		snprintf(in->mlx5_why, sizeof(in->mlx5_why), "%s",
			 msg ? msg : strerror(-in->mlx5_err));
	}
}

static int gather(struct ctl *ctl, struct vfiomig_ctx *vctx, struct vfiomig_dev *dev,
		  struct info *in)
{
	struct pci_ids *p = &in->pci;
	int r;

	in->name = vfiomig_dev_get_name(dev);
	in->transport = vfiomig_dev_get_transport(dev);
	in->driver = vfiomig_dev_get_driver(dev);
	in->backend = vfiomig_dev_get_backend(dev);
	p->known = vfiomig_dev_get_pci_ids(dev, &p->vendor, &p->device, &p->subsystem_vendor,
					   &p->subsystem_device, &p->revision) == 0;
	vfiomig_dev_get_mig_flags(dev, &in->flags);
	vfiomig_dev_get_caps(dev, &in->caps);
	in->have_size = vfiomig_dev_get_stop_copy_size(dev, &in->stop_copy_size) == 0;
	r = vfiomig_dev_get_state(dev, &in->state);
	if (r < 0)
		return ctl_fail_lib(ctl, vctx, in->name, r);
	gather_mlx5(vctx, in);
	return EXIT_OK;
}

static void print_text(struct ctl *ctl, const struct info *in)
{
	char flags[96], pci[96], size[UNITS_BUF], name[256];

	ctl_printf(ctl, "device:           %s\n", describe_printable(name, sizeof(name), in->name));
	ctl_printf(ctl, "transport:        %s\n", in->transport);
	ctl_printf(ctl, "driver:           %s\n", in->driver ? in->driver : "unknown");
	ctl_printf(ctl, "backend:          %s\n", in->backend);
	ctl_printf(ctl, "pci:              %s\n", describe_pci(pci, sizeof(pci), &in->pci));
	ctl_printf(ctl, "migration flags:  %s\n", describe_flags(flags, sizeof(flags), in->flags));
	ctl_printf(ctl, "state:            %s\n", vfiomig_state_name(in->state));
	if (in->have_size)
		ctl_printf(ctl, "stop-copy size:   %s (%" PRIu64 " %s)\n",
			   format_bytes(size, in->stop_copy_size), in->stop_copy_size,
			   plural(in->stop_copy_size, "byte", "bytes"));
	else
		ctl_printf(ctl, "stop-copy size:   unknown\n");
	ctl_printf(ctl, "dirty tracking:   %s\n", in->caps & VFIOMIG_CAP_DMA_LOGGING ? "yes" : "no");
	ctl_printf(ctl, "reset:            %s\n",
		   in->caps & VFIOMIG_CAP_RESET_ADVERTISED ? "advertised" : "not advertised");
	if (in->mlx5)
		describe_mlx5(ctl->out, &in->mlx5_caps, in->mlx5_err, in->mlx5_why);
}

static void print_json(struct ctl *ctl, const struct info *in)
{
	struct json_writer *w = ctl->jw;

	json_object_begin(w);
	json_member_string(w, "device", in->name);
	json_member_string(w, "transport", in->transport);
	json_member_string(w, "driver", in->driver);
	json_member_string(w, "backend", in->backend);
	json_name(w, "pci");
	json_pci(w, &in->pci);
	json_name(w, "migration_flags");
	json_flags(w, in->flags);
	json_member_string(w, "state", vfiomig_state_name(in->state));
	if (in->have_size)
		json_member_uint(w, "stop_copy_size", in->stop_copy_size);
	else
		json_member_null(w, "stop_copy_size");
	json_member_bool(w, "dirty_tracking", in->caps & VFIOMIG_CAP_DMA_LOGGING);
	json_member_bool(w, "reset_advertised", in->caps & VFIOMIG_CAP_RESET_ADVERTISED);
	json_member_bool(w, "precopy_info_v2", in->caps & VFIOMIG_CAP_PRECOPY_INFO_V2);
	json_name(w, "vendor");
	if (in->mlx5)
		json_mlx5(w, &in->mlx5_caps, in->mlx5_err, in->mlx5_why);
	else
		json_null(w);
	json_object_end(w);
}

static int parse(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = { ARGS_COMMON_LONG, { 0 } };
	static const char *const names[] = { "DEVICE" };
	int c, r;

	args_begin();
	while ((c = getopt_long(argc, argv, ARGS_COMMON_SHORT, opts, NULL)) >= 0)
		if ((r = args_common(ctl, c, argv)) != ARGS_CONTINUE)
			return r;
	return args_positional(ctl, argc, argv, 1, 1, names);
}

int cmd_info(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_devices d = { 0 };
	struct info in = { 0 };
	int r = parse(ctl, argc, argv);

	if (r != ARGS_CONTINUE)
		return r;
	r = ctl_open_devices(ctl, argv + optind, 1, 0, &d);
	if (r == EXIT_OK)
		r = gather(ctl, d.vctx, d.dev, &in);
	if (r == EXIT_OK)
		(ctl->json ? print_json : print_text)(ctl, &in);
	ctl_close_devices(&d);
	return r;
}
