/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiomig-ctl info's mlx5 firmware section, text and JSON, for verdicts
 * that no test can get from hardware here: the capabilities are decoded
 * from hand-built layouts (vfiomig_mlx5_caps_decode()) and rendered by
 * tools/describe-mlx5.c.  TAP output.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vfiomig/vfiomig.h>

#include "describe.h"
#include "json-writer.h"

static int n, failed;

static void has(const char *out, const char *want, const char *name)
{
	int cond = strstr(out, want) != NULL;

	n++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", n, name);
	if (!cond) {
		failed++;
		printf("# want: %s\n# in:\n%s\n", want, out);
	}
}

static void lacks(const char *out, const char *unwanted, const char *name)
{
	int cond = strstr(out, unwanted) == NULL;

	n++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", n, name);
	if (!cond) {
		failed++;
		printf("# unwanted: %s\n# in:\n%s\n", unwanted, out);
	}
}

static void set_bit(uint8_t *layout, unsigned int off)
{
	layout[off / 8] |= 0x80 >> (off % 8);
}

static struct vfiomig_mlx5_caps decode(int all, const char *kernel)
{
	static uint8_t cap[4096], cap2[4096], adv[4096];
	struct vfiomig_mlx5_caps c = { .sz = sizeof(c) };

	memset(cap, 0, sizeof(cap));
	memset(cap2, 0, sizeof(cap2));
	memset(adv, 0, sizeof(adv));
	set_bit(cap, 0x68d);
	set_bit(cap2, 0x80);
	if (all) {
		set_bit(cap, 0x579);	/* adv_virtualization */
		set_bit(cap2, 0xc8);
		set_bit(cap2, 0xc9);
		set_bit(cap2, 0xd0);
		set_bit(cap2, 0xd9);
		/* adv_virtualization_cap, one byte per 8-bit field or 3+5 bits */
		adv[0] = 3;	/* pg_track_log_max_num [0x03,5] */
		adv[1] = 16;	/* pg_track_max_num_range [0x08,8] */
		adv[2] = 12;	/* pg_track_log_min_addr_space [0x10,8] */
		adv[3] = 48;	/* pg_track_log_max_addr_space [0x18,8] */
		adv[4] = 6;	/* pg_track_log_min_msg_size [0x23,5] */
		adv[5] = 21;	/* pg_track_log_max_msg_size [0x2b,5] */
		adv[6] = 12;	/* pg_track_log_min_page_size [0x33,5] */
		adv[7] = 30;	/* pg_track_log_max_page_size [0x3b,5] */
	}
	if (vfiomig_mlx5_caps_decode(cap, sizeof(cap), cap2, sizeof(cap2), kernel, &c) < 0 ||
	    (all && vfiomig_mlx5_caps_decode_adv_virtualization(adv, sizeof(adv), &c) < 0)) {
		printf("Bail out! decode failed\n");
		exit(1);
	}
	return c;
}

static char *text(const struct vfiomig_mlx5_caps *c, int err, const char *why)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	describe_mlx5(f, c, err, why);
	fclose(f);
	return buf;
}

static char *json(const struct vfiomig_mlx5_caps *c, int err, const char *why)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	struct json_writer *w = json_new(f);

	json_mlx5(w, c, err, why);
	json_end(w);
	json_free(w);
	fclose(f);
	return buf;
}

int main(void)
{
	struct vfiomig_mlx5_caps c = decode(1, "7.1.0");
	char *s;

	s = text(&c, 0, NULL);
	has(s, "mlx5 firmware:    Linux 7.1's mlx5_vfio_pci offers migration\n", "text: verdict");
	has(s, "flags STOP_COPY P2P PRE_COPY; chunk mode yes; REINIT yes\n", "text: flags");
	has(s, "migration=1 migratable=1 migration_multi_load=1\n", "text: bits");
	has(s, "REINIT yes\n                  dirty tracking yes\n", "text: dirty tracking");
	has(s, "                  adv_virtualization=1\n", "text: adv_virtualization");
	has(s, "pg_track_log_min_page_size=12 pg_track_log_max_page_size=30\n",
	    "text: page sizes");
	has(s, "pg_track_log_min_addr_space=12 pg_track_log_max_addr_space=48\n",
	    "text: address space");
	has(s, "pg_track_max_num_range=16 pg_track_log_max_num=3\n", "text: ranges");
	has(s, "pg_track_log_min_msg_size=6 pg_track_log_max_msg_size=21\n",
	    "text: message sizes");
	lacks(s, "missing:", "text: nothing missing");
	free(s);
	s = json(&c, 0, NULL);
	has(s, "\"kernel\": \"7.1\"", "json: kernel");
	has(s, "\"offered\": true", "json: offered");
	has(s, "\"chunk_mode\": true", "json: chunk mode");
	has(s, "\"reinit\": true", "json: reinit");
	has(s, "\"missing\": []", "json: nothing missing");
	has(s, "\"firmware_error\": null", "json: no error");
	has(s, "\"dirty_tracking\": true", "json: dirty tracking");
	has(s, "\"adv_virtualization\": true", "json: adv_virtualization");
	has(s, "\"pg_track_max_num_range\": 16", "json: max_num_range");
	has(s, "\"pg_track_log_max_addr_space\": 48", "json: max_addr_space");
	has(s, "\"pg_track_log_min_page_size\": 12", "json: min_page_size");
	has(s, "\"pg_track_log_max_msg_size\": 21", "json: max_msg_size");
	free(s);

	c = decode(0, "7.1.0");
	c.migration_multi_load = c.migration_tracking_state = 1;
	c.offered = 1;
	c.dirty_tracking = 0;
	s = text(&c, 0, NULL);
	has(s, "dirty tracking no\n", "text: no dirty tracking");
	has(s, "adv_virtualization=0\n", "text: adv_virtualization clear");
	lacks(s, "pg_track_", "text: no limits without adv_virtualization");
	free(s);
	s = json(&c, 0, NULL);
	has(s, "\"dirty_tracking\": false", "json: no dirty tracking");
	has(s, "\"page_tracker\": null", "json: no page tracker");
	free(s);

	c = decode(0, "6.12.0");
	s = text(&c, 0, NULL);
	has(s, "mlx5_vfio_pci offers no migration\n", "text: not offered on 6.9+");
	lacks(s, "dirty tracking", "text: no dirty tracking line when not offered");
	has(s, "                  missing: cmd_hca_cap_2.migration_multi_load", "text: missing line");
	has(s, "migration_in_chunks=0 migration_state=0\n", "text: clear bits");
	free(s);
	s = json(&c, 0, NULL);
	has(s, "\"offered\": false", "json: not offered");
	has(s, "\"migration_flags\": []", "json: no flags");
	has(s, "\"missing\": [\n", "json: missing array");
	has(s, "Linux 6.9+ offers no migration", "json: the 6.9 rule");
	free(s);

	c.migratable = -1;
	c.offered = -1;
	c.adv_virtualization = 1;	/* set, but its limits not read */
	c.dirty_tracking = -1;
	s = text(&c, 0, NULL);
	has(s, "may offer migration", "text: unknown verdict");
	has(s, "migratable=unknown", "text: unknown bit");
	has(s, "dirty tracking unknown\n", "text: unknown dirty tracking");
	has(s, "pg_track_max_num_range=unknown pg_track_log_max_num=unknown\n",
	    "text: limits not read");
	free(s);
	s = json(&c, 0, NULL);
	has(s, "\"offered\": null", "json: unknown verdict");
	has(s, "\"migratable\": null", "json: unknown bit");
	has(s, "\"dirty_tracking\": null", "json: unknown dirty tracking");
	has(s, "\"page_tracker\": null", "json: limits not read");
	free(s);

	s = text(NULL, -EOPNOTSUPP, "built without libmlx5\x1b");
	has(s, "mlx5 firmware:    not available: built without libmlx5\\x1b\n",
	    "text: error, printable");
	free(s);
	s = json(NULL, -EOPNOTSUPP, "built without libmlx5");
	has(s, "\"firmware\": null", "json: error: no firmware");
	has(s, "\"errno\": 95", "json: error: errno");
	has(s, "\"message\": \"built without libmlx5\"", "json: error: message");
	free(s);

	printf("1..%d\n", n);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
