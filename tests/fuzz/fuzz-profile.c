// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer harness: the device profile's JSON parser (lib/core/profile-json.c)
 * and the comparison behind `check` (lib/core/profile-check.c).  The text is
 * another host's answer (`ssh dst vfiomig-ctl profile DEV --json`), so it
 * is untrusted.
 *
 * Input: the text, whole.  Invariants:
 *   - a refusal says why, and leaves no profile behind;
 *   - what is read writes back as JSON that reads again into the same
 *     JSON (the writer and the parser are each other's inverse);
 *   - a profile checked against itself finds no difference: each field is
 *     SAME, but for a destination that cannot resume at all (firmware
 *     without migration, flags without STOP_COPY), which is incompatible
 *     even with itself; against each other profile of the array, each
 *     verdict is in range.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "profile.h"

#define MAX_PROFILES 4

static void verdict_in_range(void *userdata, const struct profile_verdict *v)
{
	const bool *same = userdata;

	FUZZ_CHECK(v->field && v->source && v->reason[0]);
	FUZZ_CHECK(v->verdict <= VFIOMIG_COMPAT_INCOMPATIBLE);
	FUZZ_CHECK(!*same || v->verdict == VFIOMIG_COMPAT_SAME ||
		   (v->verdict == VFIOMIG_COMPAT_INCOMPATIBLE &&
		    (!strcmp(v->field, "mlx5") || !strcmp(v->field, "migration_flags"))));
	FUZZ_CHECK(v->verdict != VFIOMIG_COMPAT_INCOMPATIBLE || v->label);
}

static void round_trip(const struct vfiomig_profile *p)
{
	struct vfiomig_profile *back[MAX_PROFILES] = { NULL };
	char *json = NULL, *again = NULL, why[512] = "";
	size_t n = 0;

	FUZZ_CHECK(profile_to_json(p, &json) == 0);
	FUZZ_CHECK(profile_parse(json, strlen(json), back, MAX_PROFILES, &n, why,
				 sizeof(why)) == 0);
	FUZZ_CHECK(n == 1);
	FUZZ_CHECK(profile_to_json(back[0], &again) == 0);
	FUZZ_CHECK(strcmp(json, again) == 0);
	free(json);
	free(again);
	free(back[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vfiomig_profile *p[MAX_PROFILES] = { NULL };
	char why[512] = "";
	size_t n = 0;
	int r = profile_parse((const char *)data, size, p, MAX_PROFILES, &n, why, sizeof(why));

	if (r < 0) {
		FUZZ_CHECK(why[0] && memchr(why, '\0', sizeof(why)));
		for (size_t i = 0; i < MAX_PROFILES; i++)
			FUZZ_CHECK(!p[i]);
		return 0;
	}
	FUZZ_CHECK(n >= 1 && n <= MAX_PROFILES);
	for (size_t i = 0; i < n; i++) {
		bool same = true, any = false;

		round_trip(p[i]);
		FUZZ_CHECK(profile_compare(p[i], p[i], verdict_in_range, &same) !=
			   VFIOMIG_COMPAT_COMPATIBLE);
		profile_compare(p[i], p[(i + 1) % n], verdict_in_range, &any);
	}
	for (size_t i = 0; i < n; i++)
		free(p[i]);
	return 0;
}
