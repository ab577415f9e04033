/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig-ctl list: the VFIO devices of this host (from sysfs, through
 * vfiomig_ctx_list_devices()), each opened in turn for its migration flags and
 * state.  A device that cannot be opened (busy in a VMM, no permission) is
 * listed with the reason.  No devices: no output ("[]" with --json).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "describe.h"
#include "json-writer.h"

struct entry {
	char *spec, *driver;
	bool opened, migratable;
	uint64_t flags;
	enum vfiomig_state state;
	char *error;
};

struct listing {
	struct entry *e;
	size_t n, cap;
};

static int add(void *userdata, const char *spec, const char *driver)
{
	struct listing *l = userdata;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct entry *e = realloc(l->e, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		l->e = e;
		l->cap = cap;
	}
	l->e[l->n] = (struct entry){ .spec = strdup(spec), .driver = strdup(driver ? driver : "") };
	if (!l->e[l->n].spec || !l->e[l->n].driver) {
		free(l->e[l->n].spec);
		free(l->e[l->n].driver);
		return -ENOMEM;
	}
	l->n++;
	return 0;
}

static void free_listing(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->e[i].spec);
		free(l->e[i].driver);
		free(l->e[i].error);
	}
	free(l->e);
}

/* Opens one device for its flags and state; a failure is part of the answer. */
static void probe(struct vfiomig_ctx *vctx, struct entry *e)
{
	struct vfiomig_dev *dev;
	int r = vfiomig_dev_open(vctx, e->spec, &dev);

	if (r == -ENOTTY) {	/* bound to VFIO, but its driver offers no migration */
		e->opened = true;
		return;
	}
	if (r < 0) {
		const char *msg = vfiomig_ctx_get_error(vctx);

		e->error = strdup(msg && *msg ? msg : strerror(-r));
		return;
	}
	e->opened = e->migratable = true;
	vfiomig_dev_get_mig_flags(dev, &e->flags);
	if (vfiomig_dev_get_state(dev, &e->state) < 0)
		e->state = VFIOMIG_STATE_ERROR;
	vfiomig_dev_unref(dev);
}

static void print_text(struct ctl *ctl, const struct listing *l)
{
	char flags[96];

	if (l->n)
		ctl_printf(ctl, "%-36s %-16s %-12s %s\n", "DEVICE", "DRIVER", "STATE", "MIGRATION");
	for (size_t i = 0; i < l->n; i++) {
		const struct entry *e = &l->e[i];

		ctl_printf(ctl, "%-36s %-16s %-12s %s\n", e->spec, e->driver,
			   e->migratable ? vfiomig_state_name(e->state) : "-",
			   e->migratable ? describe_flags(flags, sizeof(flags), e->flags) :
			   e->opened ? "none" : e->error ? e->error : "unknown");
	}
}

static void print_json(struct ctl *ctl, const struct listing *l)
{
	struct json_writer *w = ctl->jw;

	json_array_begin(w);
	for (size_t i = 0; i < l->n; i++) {
		const struct entry *e = &l->e[i];

		json_object_begin(w);
		json_member_string(w, "device", e->spec);
		json_member_string(w, "driver", e->driver);
		json_name(w, "migration_flags");
		if (e->opened)
			json_flags(w, e->migratable ? e->flags : 0);
		else
			json_null(w);
		json_member_string(w, "state", e->migratable ? vfiomig_state_name(e->state) : NULL);
		json_member_string(w, "error", e->error);
		json_object_end(w);
	}
	json_array_end(w);
}

int cmd_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = { ARGS_COMMON_LONG, { 0 } };
	struct vfiomig_ctx *vctx = NULL;
	struct listing l = { 0 };
	int c, r;

	args_begin();
	while ((c = getopt_long(argc, argv, ARGS_COMMON_SHORT, opts, NULL)) >= 0)
		if ((r = args_common(ctl, c, argv)) != ARGS_CONTINUE)
			return r;
	if ((r = args_positional(ctl, argc, argv, 0, 0, NULL)) != ARGS_CONTINUE)
		return r;
	r = ctl_context_new(ctl, &vctx);
	if (r == EXIT_OK) {
		int n = vfiomig_ctx_list_devices(vctx, add, &l);

		if (n < 0)
			r = ctl_fail(ctl, n, "listing devices failed: %s", strerror(-n));
	}
	/* Opened only after the walk: the callback must not re-enter the library. */
	for (size_t i = 0; r == EXIT_OK && i < l.n; i++)
		probe(vctx, &l.e[i]);
	if (r == EXIT_OK)
		(ctl->json ? print_json : print_text)(ctl, &l);
	free_listing(&l);
	vfiomig_ctx_unref(vctx);
	return r;
}
