/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig-ctl profile DEVICE...: what decides whether a device's state loads
 * elsewhere, as JSON; vfiomig-ctl check SRC... --against FILE|-: whether
 * SRC's state loads into the devices such a profile describes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "describe.h"
#include "json-writer.h"

/* More than the library reads (1 MiB), so that it says what is wrong. */
#define AGAINST_MAX ((2u << 20) + 1)

struct profiles {
	struct vfiomig_profile *p[VFIOMIG_GROUP_MAX];
	size_t n;
};

static void profiles_free(struct profiles *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		vfiomig_profile_free(ps->p[i]);
	ps->n = 0;
}

/* @specs' profiles, each device opened in @vctx (and closed by
 * ctl_forget_devices()). */
static int gather(struct ctl *ctl, struct vfiomig_ctx *vctx, char *const *specs, int n,
		  struct profiles *ps)
{
	for (int i = 0; i < n; i++) {
		struct vfiomig_dev *dev;
		int r = ctl_open(ctl, vctx, specs[i], &dev);

		if (r != EXIT_OK)
			return r;
		r = vfiomig_dev_get_profile(dev, &ps->p[ps->n]);
		r = r < 0 ? ctl_fail_lib(ctl, vctx, specs[i], r) : EXIT_OK;
		vfiomig_dev_unref(dev);	/* ctl_open() keeps its own reference */
		if (r != EXIT_OK)
			return r;
		ps->n++;
	}
	return EXIT_OK;
}

static int parse_devices(struct ctl *ctl, int argc, char **argv, const struct option *opts,
			 const char **against)
{
	static const char *const names[] = { "DEVICE" };
	int c, r;

	args_begin();
	while ((c = getopt_long(argc, argv, ARGS_COMMON_SHORT, opts, NULL)) >= 0) {
		if (c == 'a') {
			*against = optarg;
			continue;
		}
		if ((r = args_common(ctl, c, argv)) != ARGS_CONTINUE)
			return r;
	}
	r = args_positional(ctl, argc, argv, 1, VFIOMIG_GROUP_MAX, names);
	return r == ARGS_CONTINUE ? args_group(ctl, argc - optind) : r;
}

/* One object for one device, an array for a group, in the order given:
 * what check --against reads.  JSON with or without --json. */
static int print_profiles(struct ctl *ctl, const struct profiles *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		char *json = NULL;
		int r = vfiomig_profile_to_json(ps->p[i], &json);

		if (r < 0)
			return ctl_fail(ctl, -r, "writing the profile failed: %s", strerror(-r));
		ctl_printf(ctl, "%s%s", ps->n == 1 ? "" : i == 0 ? "[\n" : ",\n", json);
		free(json);
	}
	ctl_printf(ctl, "%s\n", ps->n == 1 ? "" : "\n]");
	return EXIT_OK;
}

int cmd_profile(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = { ARGS_COMMON_LONG, { 0 } };
	struct profiles ps = { .n = 0 };
	struct vfiomig_ctx *vctx = NULL;
	const char *unused = NULL;
	int r = parse_devices(ctl, argc, argv, opts, &unused);

	if (r != ARGS_CONTINUE)
		return r;
	r = ctl_context_new(ctl, &vctx);
	if (r == EXIT_OK)
		r = gather(ctl, vctx, argv + optind, argc - optind, &ps);
	if (r == EXIT_OK)
		r = print_profiles(ctl, &ps);
	profiles_free(&ps);
	ctl_forget_devices(ctl);
	vfiomig_ctx_unref(vctx);
	return r;
}

/* The whole of @path ("-": stdin) into @buf, NUL-terminated. */
static int read_against(struct ctl *ctl, const char *path, char **buf, size_t *len)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	const char *what = strcmp(path, "-") == 0 ? "standard input" : path;
	ssize_t n;

	if (fd < 0)
		return ctl_fail_on(ctl, errno, what, "cannot open the destination's profile: %s",
				   strerror(errno));
	*buf = malloc(AGAINST_MAX + 1);
	*len = 0;
	if (!*buf) {
		if (fd != STDIN_FILENO)
			close(fd);
		return ctl_fail(ctl, ENOMEM, "out of memory");
	}
	while ((n = read(fd, *buf + *len, AGAINST_MAX - *len)) != 0) {
		if (n < 0 && errno != EINTR)
			break;
		*len += n > 0 ? (size_t)n : 0;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	if (n < 0)
		return ctl_fail_on(ctl, errno, what, "reading the destination's profile failed: %s",
				   strerror(errno));
	(*buf)[*len] = '\0';
	if (*len == 0)
		return ctl_fail_on(ctl, ENODATA, what, "no profile: it is empty; give the output "
				   "of vfiomig-ctl profile DEVICE --json on the destination");
	return EXIT_OK;
}

struct verdicts {
	struct ctl *ctl;
	bool group;
	char why[1024];		/* the incompatible fields' reasons */
};

static const char *verdict_name(enum vfiomig_compat v)
{
	return v == VFIOMIG_COMPAT_SAME ? "same" :
	       v == VFIOMIG_COMPAT_COMPATIBLE ? "compatible" : "incompatible";
}

static void take_verdict(void *userdata, const struct vfiomig_profile_verdict *v)
{
	struct verdicts *vs = userdata;
	struct ctl *ctl = vs->ctl;
	size_t len = strlen(vs->why);

	if (v->verdict == VFIOMIG_COMPAT_INCOMPATIBLE)
		snprintf(vs->why + len, sizeof(vs->why) - len, "%s%s", len ? "; " : "", v->reason);
	if (ctl->json) {
		json_object_begin(ctl->jw);
		if (vs->group) {
			json_member_int(ctl->jw, "member", v->member);
			json_member_int(ctl->jw, "peer", v->peer);
		}
		json_member_string(ctl->jw, "field", v->field);
		json_member_string(ctl->jw, "verdict", verdict_name(v->verdict));
		json_member_string(ctl->jw, "reason", v->reason);
		json_member_string(ctl->jw, "rule", v->source);
		json_object_end(ctl->jw);
	} else if (vs->group) {
		ctl_printf(ctl, "%d:%-16s %-13s %s [%s]\n", v->member, v->field,
			   verdict_name(v->verdict), v->reason, v->source);
	} else {
		ctl_printf(ctl, "%-18s %-13s %s [%s]\n", v->field, verdict_name(v->verdict),
			   v->reason, v->source);
	}
}

/* The verdicts printed; the worst in @ret. */
static int judge(struct ctl *ctl, struct vfiomig_ctx *vctx, const struct profiles *src,
		 const struct profiles *dst, bool group, struct verdicts *vs, int *ret)
{
	int r;

	vs->group = group;
	if (ctl->json) {
		json_object_begin(ctl->jw);
		json_name(ctl->jw, "fields");
		json_array_begin(ctl->jw);
	}
	if (group)
		r = vfiomig_profile_check_group(vctx, src->p, src->n, dst->p, dst->n,
						take_verdict, vs);
	else
		r = vfiomig_profile_check(vctx, src->p[0], dst->p[0], take_verdict, vs);
	if (ctl->json) {
		json_array_end(ctl->jw);
		if (r >= 0) {
			json_member_bool(ctl->jw, "compatible", r != VFIOMIG_COMPAT_INCOMPATIBLE);
			json_member_string(ctl->jw, "verdict", verdict_name(r));
		}
		json_object_end(ctl->jw);
	} else if (r >= 0) {
		ctl_printf(ctl, "verdict: %s\n", verdict_name(r));
	}
	*ret = r;
	return r < 0 ? ctl_fail_lib(ctl, vctx, "check", r) : EXIT_OK;
}

static const char *dst_name(const struct profiles *dst)
{
	const char *name = vfiomig_profile_get_name(dst->p[0]);

	return dst->n > 1 ? "the destination group" : name[0] ? name : "the destination";
}

int cmd_check(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		ARGS_COMMON_LONG, { "against", required_argument, NULL, 'a' }, { 0 },
	};
	struct profiles src = { .n = 0 }, dst = { .n = 0 };
	struct verdicts vs = { .ctl = ctl };
	struct vfiomig_ctx *vctx = NULL;
	const char *against = NULL;
	char *text = NULL, names[512];
	size_t len = 0;
	int verdict = VFIOMIG_COMPAT_SAME, r = parse_devices(ctl, argc, argv, opts, &against);

	if (r != ARGS_CONTINUE)
		return r;
	if (!against)
		return ctl_usage(ctl, "which destination? --against FILE, or - for standard input");
	r = ctl_context_new(ctl, &vctx);
	if (r == EXIT_OK)
		r = read_against(ctl, against, &text, &len);
	if (r == EXIT_OK) {
		r = vfiomig_profile_from_json(vctx, text, len, dst.p, VFIOMIG_GROUP_MAX, &dst.n);
		r = r < 0 ? ctl_fail_lib(ctl, vctx, strcmp(against, "-") ? against :
					 "standard input", r) : EXIT_OK;
	}
	if (r == EXIT_OK)
		r = gather(ctl, vctx, argv + optind, argc - optind, &src);
	if (r == EXIT_OK)
		r = judge(ctl, vctx, &src, &dst, src.n > 1 || text[strspn(text, " \t\r\n")] == '[',
			  &vs, &verdict);
	if (r == EXIT_OK && verdict == VFIOMIG_COMPAT_INCOMPATIBLE) {
		ctl->print_on_failure = true;
		r = ctl_fail(ctl, ENODEV, "%s cannot load into %s: %s",
			     ctl_join_names(names, sizeof(names), argv + optind, argc - optind),
			     dst_name(&dst), vs.why);
	}
	free(text);
	profiles_free(&src);
	profiles_free(&dst);
	ctl_forget_devices(ctl);
	vfiomig_ctx_unref(vctx);
	return r;
}
