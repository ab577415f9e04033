// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * personality=xe: the mock as xe-vfio-pci (docs/mock.md, *The xe
 * personality*).  The saved packets are read here by hand, not with the
 * library's parser; the resume side's refusals come from a table of
 * packets built by hand from the driver's rules (its xe_sriov_packet.c
 * and xe_sriov_pf_migration.c), each with the errno the driver gives and
 * the byte whose write gets it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <time.h>

#include "test-mock.h"
#include "test-guest.h"
#include <vfiomig/data.h>
#include <vfiomig/migrate.h>

#define DEV_ID 0xe20bu		/* the personality's Battlemage VF */
#define HDR 24u

static uint64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* A packet header as the driver lays it out: packed, little-endian. */
static size_t put_hdr(uint8_t *p, uint8_t version, uint8_t type, uint8_t tile, uint8_t gt,
		      uint64_t offset, uint64_t size)
{
	p[0] = version;
	p[1] = type;
	p[2] = tile;
	p[3] = gt;
	put_le32(p + 4, 0);
	put_le64(p + 8, offset);
	put_le64(p + 16, size);
	return HDR;
}

/* A DESCRIPTOR of the KLVs { 0xf001, 1, @dev } { 0xf002, 1, @rev }. */
static size_t put_desc(uint8_t *p, uint32_t dev, uint32_t rev)
{
	put_hdr(p, 1, 1, 0, 0, 0, 16);
	put_le32(p + 24, 0xf001u << 16 | 1);
	put_le32(p + 28, dev);
	put_le32(p + 32, 0xf002u << 16 | 1);
	put_le32(p + 36, rev);
	return 40;
}

/* ---- the save, read by hand ---- */

struct pkt {
	uint8_t version, type, tile, gt;
	uint32_t flags;
	uint64_t offset, size, at;	/* at: where its header starts */
};

/* Walks @b packet by packet; every packet must end inside @b. */
static int packets(const struct blob *b, struct pkt *out, int max)
{
	size_t at = 0;
	int n = 0;

	while (at < b->len) {
		const uint8_t *h = b->p + at;

		ck_assert_int_lt(n, max);
		ck_assert_uint_le(at + HDR, b->len);
		out[n] = (struct pkt){ h[0], h[1], h[2], h[3], get_le32(h + 4), get_le64(h + 8),
				       get_le64(h + 16), at };
		ck_assert_uint_le(out[n].size, b->len - at - HDR);
		at += HDR + out[n].size;
		n++;
	}
	return n;
}

static void check_hdr(const struct pkt *p, uint8_t type, uint64_t offset, uint64_t size)
{
	ck_assert_uint_eq(p->version, 1);
	ck_assert_uint_eq(p->type, type);
	ck_assert_uint_eq(p->tile, 0);
	ck_assert_uint_eq(p->gt, 0);
	ck_assert_uint_eq(p->flags, 0);
	ck_assert_uint_eq(p->offset, offset);
	ck_assert_uint_eq(p->size, size);
}

/*
 * DESCRIPTOR, GUC 8 KiB, GGTT 4 KiB, MMIO 1 KiB, VRAM in 256 KiB packets
 * whose offsets follow on and whose payloads are the plain mock's stream,
 * TRAILER, EOF; MIG_DATA_SIZE is its length.
 */
START_TEST(test_save_shape)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *xe = mock_open(ctx, "a,size=600K,state=STOP,personality=xe");
	struct vfiomig_dev *plain = mock_open(ctx, "a,size=600K,state=STOP,flags=stop_copy+p2p");
	struct vfio_device_feature_mig_data_size ds = { 0 };
	struct blob b = { 0 }, own = { 0 }, vram = { 0 };
	/* the plain stream: header, 10 pages (the last 24 KiB), end */
	const uint64_t stream = 40 + 10 * 24 + 600 * 1024 + 24;
	const uint64_t tail = stream - 2 * 262144;
	static const struct { uint8_t type; uint64_t size; } state[] = {
		{ 5, 8192 }, { 3, 4096 }, { 4, 1024 },	/* GUC, GGTT, MMIO */
	};
	struct pkt p[16];
	uint8_t want[8192];
	int n, fd;

	ck_assert_int_eq(set_state(xe, S(STOP_COPY), &fd), 0);
	ck_assert_int_eq(drain(xe, fd, &b, 5000), 0);
	ck_assert_int_eq(drain(xe, fd, &b, 5000), 0);	/* EOF stays EOF */
	ck_assert_int_eq(set_nofd(xe, S(STOP)), 0);
	ck_assert_int_eq(xe->transport->data_read(xe, fd, want, 1), -ENODEV);
	close(fd);
	save_plain(plain, &own);
	ck_assert_uint_eq(own.len, stream);

	ck_assert_uint_eq(b.len, 40 + (24 + 8192) + (24 + 4096) + (24 + 1024) +
				  stream + 3 * 24 + 24);
	ck_assert_int_eq(feature(xe, FGET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &ds,
				 sizeof(ds)), 0);
	ck_assert_uint_eq(ds.stop_copy_length, b.len);

	n = packets(&b, p, 16);
	ck_assert_int_eq(n, 1 + 3 + 3 + 1);
	check_hdr(&p[0], 1, 0, 16);
	ck_assert_uint_eq(get_le32(b.p + 24), 0xf001u << 16 | 1);
	ck_assert_uint_eq(get_le32(b.p + 28), DEV_ID);
	ck_assert_uint_eq(get_le32(b.p + 32), 0xf002u << 16 | 1);
	ck_assert_uint_eq(get_le32(b.p + 36), 0);	/* pci= gave no revision */
	for (int i = 0; i < 3; i++) {
		check_hdr(&p[1 + i], state[i].type, 0, state[i].size);
		mock_xe_fill(state[i].type, 0, want, state[i].size);
		ck_assert_int_eq(memcmp(b.p + p[1 + i].at + HDR, want, state[i].size), 0);
	}
	check_hdr(&p[4], 6, 0, 262144);
	check_hdr(&p[5], 6, 262144, 262144);
	check_hdr(&p[6], 6, 524288, tail);
	for (int i = 4; i < 7; i++)
		blob_add(&vram, b.p + p[i].at + HDR, p[i].size);
	ck_assert_uint_eq(vram.len, own.len);
	ck_assert_int_eq(memcmp(vram.p, own.p, own.len), 0);
	check_hdr(&p[7], 2, 0, 0);
	ck_assert_uint_eq(p[7].at + HDR, b.len);

	free(b.p);
	free(own.p);
	free(vram.p);
	vfiomig_dev_unref(xe);
	vfiomig_dev_unref(plain);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* The descriptor carries the identity the device pretends. */
START_TEST(test_descriptor_ids)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "d,size=4K,state=STOP,personality=xe,"
					    "pci=8086:e211:8086:1234:2a");
	struct blob b = { 0 };

	save_plain(dev, &b);
	ck_assert_uint_eq(get_le32(b.p + 28), 0xe211);
	ck_assert_uint_eq(get_le32(b.p + 36), 0x2a);
	free(b.p);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- the device ---- */

START_TEST(test_identity_and_flags)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = dev_open(ctx, "mock:x,personality=xe");
	struct vfiomig_dev *other = dev_open(ctx, "mock:y,personality=XE,pci=8086:b080");
	struct vfio_device_feature_migration mig = { 0 };
	struct vfio_device_feature_mig_data_size ds = { 0 };
	uint8_t ctl[24] = { 0 }, rep[32] = { 0 };
	uint16_t vendor, device;
	uint64_t flags, a, b;
	unsigned int caps;
	int fd;

	ck_assert_int_eq(vfiomig_dev_get_pci_ids(dev, &vendor, &device, NULL, NULL, NULL), 0);
	ck_assert_uint_eq(vendor, 0x8086);
	ck_assert_uint_eq(device, DEV_ID);
	ck_assert_str_eq(vfiomig_dev_get_driver(dev), "xe-vfio-pci");
	ck_assert_str_eq(vfiomig_dev_get_backend(dev), "xe");
	/* pci= decides the IDs; the bytes are still xe packets */
	ck_assert_int_eq(vfiomig_dev_get_pci_ids(other, NULL, &device, NULL, NULL, NULL), 0);
	ck_assert_uint_eq(device, 0xb080);
	ck_assert_str_eq(vfiomig_dev_get_driver(other), "xe-vfio-pci");
	ck_assert_str_eq(vfiomig_dev_get_backend(other), "xe");

	/* STOP_COPY | P2P, and no DMA logging */
	ck_assert_int_eq(feature(dev, FGET | VFIO_DEVICE_FEATURE_MIGRATION, &mig, sizeof(mig)), 0);
	ck_assert_uint_eq(mig.flags, VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P);
	ck_assert_int_eq(vfiomig_dev_get_mig_flags(dev, &flags), 0);
	ck_assert_uint_eq(flags, VFIOMIG_MIG_STOP_COPY | VFIOMIG_MIG_P2P);
	ck_assert_int_eq(vfiomig_dev_get_caps(dev, &caps), 0);
	ck_assert_uint_eq(caps & VFIOMIG_CAP_DMA_LOGGING, 0);
	ck_assert_int_eq(feature(dev, FSET | FPROBE | VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
				 NULL, 0), -ENOTTY);
	ck_assert_int_eq(feature(dev, FSET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START, ctl,
				 sizeof(ctl)), -ENOTTY);
	ck_assert_int_eq(feature(dev, FGET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, rep,
				 sizeof(rep)), -ENOTTY);
	/* no PRE_COPY state, and the save file has no ioctl at all */
	ck_assert_int_eq(set_nofd(dev, S(PRE_COPY)), -EINVAL);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd), 0);
	ck_assert_int_eq(precopy_info(dev, fd, &a, &b), -ENOTTY);
	/* docs/mock.md's figure for size=64K, the default */
	ck_assert_int_eq(feature(dev, FGET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &ds,
				 sizeof(ds)), 0);
	ck_assert_uint_eq(ds.stop_copy_length, 79096);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	close(fd);
	vfiomig_dev_unref(dev);
	vfiomig_dev_unref(other);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* What xe-vfio-pci cannot do is refused with a sentence that says so. */
START_TEST(test_refused_keys)
{
	static const struct {
		const char *spec, *words;
	} bad[] = {
		{ "mock:r,personality=xe,flags=stop_copy+pre_copy", "no pre_copy" },
		{ "mock:r,personality=xe,flags=stop_copy+p2p+pre_copy", "drop pre_copy" },
		{ "mock:r,flags=pre_copy+stop_copy,personality=xe", "xe-vfio-pci offers" },
		{ "mock:r,personality=xe,dirtylog=1", "IOMMU tracking" },
		{ "mock:r,dirtylog=dummy,personality=xe", "no DMA logging" },
		{ "mock:r,personality=xe,short=write", "takes all its bytes" },
		{ "mock:r,personality=xe,short=both", "use short=read" },
		{ "mock:r,personality=xe2", "personality=xe (xe-vfio-pci packets)" },
	};
	static const char *const good[] = {
		"mock:r,personality=xe,flags=stop_copy", "mock:r,personality=xe,dirtylog=0",
		"mock:r,personality=xe,short=read", "mock:r,personality=xe,state=RUNNING_P2P",
		"mock:r,personality=xe,flags=stop_copy+p2p,driver=vfio-pci",
	};
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		dev = NULL;
		ck_assert_int_eq(vfiomig_dev_open(ctx, bad[i].spec, &dev), -EINVAL);
		ck_assert_msg(strstr(vfiomig_ctx_get_error(ctx), bad[i].words), "%s: %s",
			      bad[i].spec, vfiomig_ctx_get_error(ctx));
	}
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		vfiomig_dev_unref(dev_open(ctx, good[i]));
	vfiomig_ctx_unref(ctx);
}
END_TEST

static uint64_t dma_writes(struct vfiomig_dev *dev)
{
	struct mock_dirty_view v;

	ck_assert_int_eq(vfiomig_mock_dirty_state(dev, &v), 0);
	return v.writes;
}

/* DMA writes the device made in RUNNING_P2P over @ms milliseconds. */
static uint64_t p2p_writes(struct vfiomig_dev *dev, unsigned int ms)
{
	uint64_t w;

	ck_assert_int_eq(set_nofd(dev, S(RUNNING_P2P)), 0);
	w = dma_writes(dev);
	usleep(ms * 1000);
	ck_assert_int_eq(get_state(dev), S(RUNNING_P2P));	/* accrues */
	return dma_writes(dev) - w;
}

/*
 * RUNNING_P2P is a full suspend: dirtyrate='s DMA stops there, and the
 * device's own DMA is refused, while a plain mock goes on writing system
 * memory in RUNNING_P2P.
 */
START_TEST(test_p2p_suspends)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	int fd = guest_memfd(1 << 20);
	struct vfiomig_dev *xe, *plain;
	uint64_t w, *mem = malloc(1 << 20);
	bool written = false;
	char spec[128];

	snprintf(spec, sizeof(spec), "x,personality=xe,dirtyrate=20000,dmafd=%d", fd);
	xe = mock_open(ctx, spec);
	snprintf(spec, sizeof(spec), "p,dirtyrate=20000,dmafd=%d", fd);
	plain = mock_open(ctx, spec);

	/* running: the device writes guest memory by itself */
	w = dma_writes(xe);
	usleep(50000);
	ck_assert_int_eq(get_state(xe), S(RUNNING));
	ck_assert_uint_ge(dma_writes(xe) - w, 500);
	ck_assert_ptr_nonnull(mem);
	ck_assert_int_eq(pread(fd, mem, 1 << 20, 0), 1 << 20);
	for (size_t i = 0; i < (1 << 17) && !written; i++)
		written = mem[i] != 0;
	ck_assert(written);	/* into dmafd=, with no START to say where */
	free(mem);
	ck_assert_int_eq(vfiomig_mock_dma(xe, 0, 8), 0);

	/* suspended: nothing, and no DMA of its own either */
	ck_assert_uint_eq(p2p_writes(xe, 100), 0);
	ck_assert_int_eq(vfiomig_mock_dma(xe, 0, 8), -EPERM);
	ck_assert_int_eq(set_nofd(xe, S(RUNNING)), 0);
	w = dma_writes(xe);
	usleep(50000);
	ck_assert_int_eq(get_state(xe), S(RUNNING));
	ck_assert_uint_ge(dma_writes(xe) - w, 500);

	/* the plain mock only stops peer-to-peer DMA there */
	ck_assert_uint_ge(p2p_writes(plain, 100), 1000);
	ck_assert_int_eq(vfiomig_mock_dma(plain, 0, 8), 0);

	vfiomig_dev_unref(xe);
	vfiomig_dev_unref(plain);
	close(fd);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- data fds without readiness ---- */

static void nonblock(int fd)
{
	ck_assert_int_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

/* A read of a non-blocking save fd waits for the bytes: never EAGAIN. */
START_TEST(test_read_waits)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *xe = mock_open(ctx, "w,size=4K,state=STOP,personality=xe,rate=64K");
	struct vfiomig_dev *plain = mock_open(ctx, "w,size=4K,state=STOP,rate=64K");
	uint8_t buf[65536];
	uint64_t total = 0, t0;
	ssize_t r;
	int fd;

	/* the plain mock answers as a pipe does */
	ck_assert_int_eq(set_state(plain, S(STOP_COPY), &fd), 0);
	nonblock(fd);
	ck_assert_int_eq(plain->transport->data_read(plain, fd, buf, sizeof(buf)), -EAGAIN);
	ck_assert_int_eq(set_nofd(plain, S(STOP)), 0);
	close(fd);

	/* 4 KiB at 64 KiB/s: each of the pump's 4 KiB comes 62.5 ms apart */
	ck_assert_int_eq(set_state(xe, S(STOP_COPY), &fd), 0);
	nonblock(fd);
	t0 = mono_ms();
	r = xe->transport->data_read(xe, fd, buf, sizeof(buf));
	ck_assert_int_gt(r, 0);
	ck_assert_uint_ge(mono_ms() - t0, 20);	/* it waited for the pump */
	for (total = (uint64_t)r; (r = xe->transport->data_read(xe, fd, buf, sizeof(buf))) > 0;)
		total += (uint64_t)r;
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(total, mock_xe_stream_size(4096));
	ck_assert_int_eq(set_nofd(xe, S(STOP)), 0);
	close(fd);
	vfiomig_dev_unref(xe);
	vfiomig_dev_unref(plain);
	vfiomig_ctx_unref(ctx);
}
END_TEST

struct blocked {
	struct vfiomig_dev *dev;
	int fd;
	const uint8_t *p;	/* NULL: a read */
	size_t len;
	ssize_t r;
	uint64_t ms;		/* how long the call took */
};

static void *blocked_io(void *arg)
{
	struct blocked *b = arg;
	uint8_t buf[4096];
	uint64_t t0 = mono_ms();

	b->r = b->p ? b->dev->transport->data_write(b->dev, b->fd, b->p, b->len) :
		      b->dev->transport->data_read(b->dev, b->fd, buf, sizeof(buf));
	b->ms = mono_ms() - t0;
	return NULL;
}

/* @b's call, blocked, gets ENODEV when this thread ends the session: a
 * reset (@by_reset), else the arc to STOP. */
static void ended_while_blocked(struct blocked *b, struct vfiomig_dev *dev, bool by_reset)
{
	pthread_t t;
	uint64_t t0 = mono_ms();

	ck_assert_int_eq(pthread_create(&t, NULL, blocked_io, b), 0);
	usleep(150000);
	if (by_reset)
		ck_assert_int_eq(reset(dev), 0);
	else
		ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	pthread_join(t, NULL);
	/* the end, not the device's first bytes 4 s on, ended the wait */
	ck_assert_int_eq(b->r, -ENODEV);
	ck_assert_uint_lt(mono_ms() - t0, 2000);
}

/* A read blocked on a slow device ends with ENODEV at a reset or an arc. */
START_TEST(test_blocked_read_ends)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	/* 1 KiB/s: the first 4 KiB are ready after 4 s */
	struct vfiomig_dev *dev = mock_open(ctx, "s,size=4K,state=STOP,personality=xe,rate=1K");
	struct blocked b = { .dev = dev };

	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &b.fd), 0);
	nonblock(b.fd);
	ended_while_blocked(&b, dev, true);
	ck_assert_int_eq(get_state(dev), S(RUNNING));
	close(b.fd);

	/* the same, blocking fd, ended by STOP_COPY -> STOP */
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &b.fd), 0);
	ended_while_blocked(&b, dev, false);
	close(b.fd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

static void on_signal(int sig)
{
	(void)sig;
}

/* A signal interrupts a waiting read, as wait_event_interruptible() is. */
START_TEST(test_read_interrupted)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "i,size=4K,state=STOP,personality=xe,rate=1K");
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */
	struct blocked b = { .dev = dev };
	pthread_t t;

	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &b.fd), 0);
	nonblock(b.fd);
	ck_assert_int_eq(pthread_create(&t, NULL, blocked_io, &b), 0);
	usleep(150000);
	ck_assert_int_eq(pthread_kill(t, SIGUSR1), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(b.r, -EINTR);
	ck_assert_uint_lt(b.ms, 2000);
	ck_assert_int_eq(get_state(dev), S(STOP_COPY));	/* the session goes on */
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	close(b.fd);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* A write takes all its bytes whatever O_NONBLOCK says, or ends with ENODEV. */
START_TEST(test_write_whole)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *src = mock_open(ctx, "v,size=4M,state=STOP,personality=xe");
	struct vfiomig_dev *dst = mock_open(ctx, "v,size=4M,state=STOP,personality=xe,rate=64M");
	struct vfiomig_dev *slow = mock_open(ctx, "v,size=4M,state=STOP,personality=xe,rate=1K");
	struct blob b = { 0 };
	struct blocked w = { .dev = slow };
	size_t half;
	int fd;

	save_plain(src, &b);
	half = b.len / 2;
	/* more than the pipe holds, in two writes: each takes all */
	ck_assert_int_eq(set_state(dst, S(RESUMING), &fd), 0);
	nonblock(fd);
	ck_assert_int_eq(dst->transport->data_write(dst, fd, b.p, half), (ssize_t)half);
	ck_assert_int_eq(dst->transport->data_write(dst, fd, b.p + half, b.len - half),
			 (ssize_t)(b.len - half));
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	close(fd);

	/* a device that takes 1 KiB a second: the write waits until a reset */
	ck_assert_int_eq(set_state(slow, S(RESUMING), &w.fd), 0);
	nonblock(w.fd);
	w.p = b.p;
	w.len = half;
	ended_while_blocked(&w, slow, true);
	close(w.fd);
	free(b.p);
	vfiomig_dev_unref(src);
	vfiomig_dev_unref(dst);
	vfiomig_dev_unref(slow);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- resume: what the driver's write() refuses ---- */

/*
 * Each case is packets built by hand and the errno the driver's write
 * gives, at @fail_at: the stream byte whose arrival decides (the last of
 * the header, or of the payload), 0 for none.
 */
struct case_ {
	const char *what;
	uint8_t bytes[128];
	size_t len;
	int err;
	size_t fail_at;
};

static void table(struct case_ *c, size_t *n)
{
	uint8_t *p;
	size_t k = 0;

#define CASE(w, e) (c[k] = (struct case_){ .what = (w), .err = (e) }, p = c[k].bytes)
#define END(at) (c[k].len = (size_t)(p - c[k].bytes), c[k++].fail_at = (at))
	/* when the header is whole: version, GT */
	CASE("version 2", -EINVAL);
	p += put_hdr(p, 2, 3, 0, 0, 0, 8);
	p += 8;
	END(24);
	CASE("version 0", -EINVAL);
	p += put_hdr(p, 0, 1, 0, 0, 0, 16);
	END(24);
	CASE("GT 1, no GT of the device", -EINVAL);
	p += put_hdr(p, 1, 4, 0, 1, 0, 8);
	END(24);
	CASE("a DESCRIPTOR on GT 1", -EINVAL);
	p += put_hdr(p, 1, 1, 0, 1, 0, 16);
	END(24);
	/* the DESCRIPTOR, when its payload is whole */
	CASE("a good DESCRIPTOR", 0);
	p += put_desc(p, DEV_ID, 0);
	END(0);
	CASE("a DESCRIPTOR on tile 1", -EINVAL);
	p += put_desc(p, DEV_ID, 0);
	c[k].bytes[2] = 1;
	END(40);
	CASE("a DESCRIPTOR of 15 bytes", -EINVAL);
	p += put_hdr(p, 1, 1, 0, 0, 0, 15);
	put_le32(p, 0xf001u << 16 | 1);
	put_le32(p + 4, DEV_ID);
	p += 15;
	END(39);
	CASE("a KLV cut: two value dwords, one there", -ENODATA);
	p += put_hdr(p, 1, 1, 0, 0, 0, 8);
	put_le32(p, 0xf001u << 16 | 2);
	put_le32(p + 4, DEV_ID);
	p += 8;
	END(32);
	CASE("a KLV header with no value after it", -ENODATA);
	p += put_desc(p, DEV_ID, 0);
	put_le64(c[k].bytes + 16, 12);
	p -= 4;
	END(36);
	CASE("a cut KLV before a wrong device ID", -ENODATA);
	p += put_desc(p, 0xb080, 0);
	put_le32(c[k].bytes + 32, 0xf002u << 16 | 2);
	END(40);
	CASE("another device ID", -ENODEV);
	p += put_desc(p, 0xb080, 0);
	END(40);
	CASE("another revision", -ENODEV);
	p += put_desc(p, DEV_ID, 7);
	END(40);
	CASE("a device ID KLV without a value", -ENODEV);
	p += put_hdr(p, 1, 1, 0, 0, 0, 12);
	put_le32(p, 0xf001u << 16 | 0);
	put_le32(p + 4, 0xf002u << 16 | 1);
	put_le32(p + 8, 0);
	p += 12;
	END(36);
	CASE("a DESCRIPTOR with every flag set", 0);
	p += put_desc(p, DEV_ID, 0);
	put_le32(c[k].bytes + 4, 0xffffffffu);
	END(0);
	CASE("an unknown KLV, then the IDs", 0);
	p += put_hdr(p, 1, 1, 0, 0, 0, 28);
	put_le32(p, 0x1234u << 16 | 2);
	put_le32(p + 4, 0xb080);
	put_le32(p + 8, 7);
	put_le32(p + 12, 0xf001u << 16 | 1);
	put_le32(p + 16, DEV_ID);
	put_le32(p + 20, 0xf002u << 16 | 1);
	put_le32(p + 24, 0);
	p += 28;
	END(0);
	/* the TRAILER */
	CASE("a good TRAILER", 0);
	p += put_hdr(p, 1, 2, 0, 0, 0, 0);
	END(0);
	CASE("a TRAILER on tile 1", -EINVAL);
	p += put_hdr(p, 1, 2, 1, 0, 0, 0);
	END(24);
	CASE("a TRAILER with offset 8", -EINVAL);
	p += put_hdr(p, 1, 2, 0, 0, 8, 0);
	END(24);
	CASE("a TRAILER of 4 bytes", -EINVAL);
	p += put_hdr(p, 1, 2, 0, 0, 0, 4);
	p += 4;
	END(28);
	CASE("a TRAILER on GT 1", -EINVAL);
	p += put_hdr(p, 1, 2, 0, 1, 0, 0);
	END(24);
	/* the other packets, when their payload is whole */
	CASE("GGTT on tile 1", -EINVAL);
	p += put_hdr(p, 1, 3, 1, 0, 0, 16);
	p += 16;
	END(40);
	CASE("VRAM on tile 2", -EINVAL);
	p += put_hdr(p, 1, 6, 2, 0, 0, 0);
	END(24);
	CASE("type 0", -EINVAL);
	p += put_hdr(p, 1, 0, 0, 0, 0, 32);
	p += 32;
	END(56);
	CASE("type 7, skipped", 0);
	p += put_hdr(p, 1, 7, 0, 0, 5, 40);
	p += 40;
	END(0);
	CASE("type 255, skipped", 0);
	p += put_hdr(p, 1, 255, 0, 0, 0, 3);
	p += 3;
	END(0);
	CASE("type 7 on tile 1", -EINVAL);
	p += put_hdr(p, 1, 7, 1, 0, 0, 4);
	p += 4;
	END(28);
	CASE("a good packet, then type 0, in one write", -EINVAL);
	p += put_desc(p, DEV_ID, 0);
	p += put_hdr(p, 1, 0, 0, 0, 0, 0);
	END(64);
#undef CASE
#undef END
	*n = k;
}

/* RESUMING, then @c written in pieces of @step: the results the table says. */
static void write_case(struct vfiomig_dev *dev, const struct case_ *c, size_t step)
{
	struct vfiomig_mock *m = dev->priv;
	int fd;

	ck_assert_int_eq(set_state(dev, S(RESUMING), &fd), 0);
	for (size_t off = 0; off < c->len; off += step) {
		size_t n = c->len - off < step ? c->len - off : step;
		bool fails = c->err && off < c->fail_at && c->fail_at <= off + n;
		ssize_t w = dev->transport->data_write(dev, fd, c->bytes + off, n);

		ck_assert_msg(w == (fails ? c->err : (ssize_t)n), "%s, %zu-byte writes: "
			      "the one at %zu gave %zd", c->what, step, off, w);
		if (fails)
			break;
	}
	if (c->err) {
		/* nothing of the failing write reached the device */
		ck_assert_int_eq(set_nofd(dev, S(STOP)), -EINVAL);
		ck_assert_uint_eq(m->active->consumed, (c->fail_at - 1) / step * step);
		ck_assert_int_eq(get_state(dev), S(RESUMING));
		ck_assert_int_eq(reset(dev), 0);
		ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	} else {
		ck_assert_int_eq(reset(dev), 0);	/* the stream is no whole one */
		ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	}
	close(fd);
}

START_TEST(test_write_refusals)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = mock_open(ctx, "t,size=4K,state=STOP,personality=xe");
	struct case_ c[40];
	size_t n;

	table(c, &n);
	for (size_t i = 0; i < n; i++) {
		write_case(dev, &c[i], c[i].len);	/* whole */
		write_case(dev, &c[i], 1);		/* a byte at a time */
		write_case(dev, &c[i], 7);
	}
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/*
 * After a refused write the next one starts a new packet, as the driver
 * keeps no error; RESUMING -> STOP still refuses the stream, since the
 * device never took the write that failed.
 */
START_TEST(test_after_refusal)
{
	struct arcs a = { 0 };
	struct vfiomig_ctx *ctx = new_ctx(&a);
	struct vfiomig_dev *src = mock_open(ctx, "u,size=64K,state=STOP,personality=xe");
	struct vfiomig_dev *dev = mock_open(ctx, "u,size=64K,state=STOP,personality=xe");
	struct blob b = { 0 };
	uint8_t bad[HDR];
	int fd;

	save_plain(src, &b);
	ck_assert_int_eq(set_state(dev, S(RESUMING), &fd), 0);
	ck_assert_int_eq(dev->transport->data_write(dev, fd, b.p, 20), 20);
	ck_assert_int_eq(dev->transport->data_write(dev, fd, b.p + 20, 20), 20);
	put_hdr(bad, 3, 5, 0, 0, 0, 8192);
	ck_assert_int_eq(dev->transport->data_write(dev, fd, bad, HDR), -EINVAL);
	ck_assert_int_eq(dev->transport->data_write(dev, fd, bad, HDR), -EINVAL);
	ck_assert_int_eq(dev->transport->data_write(dev, fd, b.p + 40, b.len - 40),
			 (ssize_t)(b.len - 40));
	ck_assert_int_eq(set_nofd(dev, S(STOP)), -EINVAL);
	ck_assert_msg(strstr(a.last, "xe packet 1 at stream byte 40: version 3"), "%s", a.last);
	ck_assert_int_eq(get_state(dev), S(RESUMING));
	ck_assert_int_eq(reset(dev), 0);
	close(fd);
	free(b.p);
	vfiomig_dev_unref(src);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- resume: what RESUMING -> STOP refuses ---- */

/* The packet of @type (the first one) in @b: its header's offset. */
static size_t find(const struct blob *b, uint8_t type)
{
	struct pkt p[64];
	int n = packets(b, p, 64);

	for (int i = 0; i < n; i++)
		if (p[i].type == type)
			return p[i].at;
	ck_abort_msg("no packet of type %u", type);
	return 0;
}

/* @b with [@at, @at + @len) cut out and @ins put there. */
static void edit(const struct blob *b, size_t at, size_t len, const void *ins, size_t n,
		 struct blob *out)
{
	out->len = 0;
	blob_add(out, b->p, at);
	blob_add(out, ins, n);
	blob_add(out, b->p + at + len, b->len - at - len);
}

/* A stream every write of which is taken, and RESUMING -> STOP's verdict. */
static int loads(struct vfiomig_dev *dev, const struct blob *b)
{
	return load(dev, b->p, b->len, 5000);
}

START_TEST(test_verdicts)
{
	struct arcs a = { 0 };
	struct vfiomig_ctx *ctx = new_ctx(&a);
	struct vfiomig_dev *src = mock_open(ctx, "v,size=300K,state=STOP,personality=xe");
	struct vfiomig_dev *dst = mock_open(ctx, "w,size=300K,state=STOP,personality=xe");
	struct blob b = { 0 }, e = { 0 }, f = { 0 };
	uint8_t extra[64];
	size_t guc, vram;
	static const struct {
		size_t cut;
		const char *words;
	} cuts[] = {
		{ 24, "no xe TRAILER" },		/* the TRAILER */
		{ 10, "ends inside xe packet 6" },	/* inside its header */
		{ 24 + 100, "ends inside xe packet 5" },	/* inside the last VRAM */
	};

	save_plain(src, &b);
	ck_assert_int_eq(loads(dst, &b), 0);
	ck_assert_int_eq(get_state(dst), S(STOP));

	/* cut: at the TRAILER, inside a header, inside a payload */
	for (size_t i = 0; i < ARRAY_SIZE(cuts); i++) {
		ck_assert_int_eq(load(dst, b.p, b.len - cuts[i].cut, 5000), -EINVAL);
		ck_assert_msg(strstr(a.last, cuts[i].words), "%s", a.last);
		ck_assert_int_eq(get_state(dst), S(RESUMING));
		ck_assert_int_eq(reset(dst), 0);
		ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	}
	/* content: a byte of the GUC state, of the VRAM */
	guc = find(&b, 5);
	vram = find(&b, 6);
	b.p[guc + HDR + 4000] ^= 1;
	ck_assert_int_eq(loads(dst, &b), -EINVAL);
	ck_assert_msg(strstr(a.last, "byte 4000 of the GUC state"), "%s", a.last);
	b.p[guc + HDR + 4000] ^= 1;
	ck_assert_int_eq(reset(dst), 0);
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	b.p[vram + HDR + 200000] ^= 1;
	ck_assert_int_eq(loads(dst, &b), -EINVAL);
	b.p[vram + HDR + 200000] ^= 1;
	ck_assert_int_eq(reset(dst), 0);
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	/* the second VRAM packet's offset does not follow on */
	put_le64(b.p + vram + HDR + 262144 + 8, 262152);
	ck_assert_int_eq(loads(dst, &b), -EINVAL);
	ck_assert_msg(strstr(a.last, "offset 262152"), "%s", a.last);
	put_le64(b.p + vram + HDR + 262144 + 8, 262144);
	ck_assert_int_eq(reset(dst), 0);
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	/* no GUC state at all */
	edit(&b, guc, HDR + 8192, NULL, 0, &e);
	ck_assert_int_eq(loads(dst, &e), -EINVAL);
	ck_assert_msg(strstr(a.last, "GUC state came short: 0 of 8192"), "%s", a.last);
	ck_assert_int_eq(reset(dst), 0);
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	/* a packet after the TRAILER */
	put_hdr(extra, 1, 7, 0, 0, 0, 0);
	edit(&b, b.len, 0, extra, HDR, &e);
	ck_assert_int_eq(loads(dst, &e), -EINVAL);
	ck_assert_msg(strstr(a.last, "after the TRAILER"), "%s", a.last);
	ck_assert_int_eq(reset(dst), 0);
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);

	/* what the driver takes: unknown types anywhere, the descriptor anywhere */
	put_hdr(extra, 1, 7, 0, 0, 0, 8);
	edit(&b, guc, 0, extra, HDR + 8, &e);
	ck_assert_int_eq(loads(dst, &e), 0);
	edit(&b, 0, 40, NULL, 0, &e);
	edit(&e, e.len - HDR, 0, b.p, 40, &f);	/* just before the TRAILER */
	ck_assert_int_eq(loads(dst, &f), 0);
	ck_assert_int_eq(get_state(dst), S(STOP));
	free(b.p);
	free(e.p);
	free(f.p);
	vfiomig_dev_unref(src);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* A plain mock's stream is no xe one, and an xe stream no plain mock's. */
START_TEST(test_foreign_streams)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *xe = mock_open(ctx, "f,size=64K,state=STOP,personality=xe");
	struct vfiomig_dev *plain = mock_open(ctx, "f,size=64K,state=STOP");
	struct blob x = { 0 }, p = { 0 };
	int fd;

	save_plain(xe, &x);
	save_plain(plain, &p);
	/* "VFIOMOCK": version 'V' */
	ck_assert_int_eq(set_state(xe, S(RESUMING), &fd), 0);
	ck_assert_int_eq(xe->transport->data_write(xe, fd, p.p, p.len), -EINVAL);
	ck_assert_int_eq(set_nofd(xe, S(STOP)), -EINVAL);
	ck_assert_int_eq(reset(xe), 0);
	close(fd);
	ck_assert_int_eq(load(plain, x.p, x.len, 65536), -EFAULT);
	ck_assert_int_eq(reset(plain), 0);
	free(x.p);
	free(p.p);
	vfiomig_dev_unref(xe);
	vfiomig_dev_unref(plain);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* ---- the library's save and load between xe mocks ---- */

static int save_to_memfd(struct vfiomig_ctx *ctx, struct vfiomig_dev *dev)
{
	int fd = memfd_create("xe-stream", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_msg(vfiomig_dev_save(dev, fd, NULL) == 0, "%s", vfiomig_ctx_get_error(ctx));
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* The device's bytes of @src, written through the library's data calls into
 * a device of @spec: the write's answer; the device is left where it is. */
static int data_load(struct vfiomig_ctx *ctx, const struct blob *b, const char *spec,
		     enum vfiomig_state *ret_state)
{
	struct vfiomig_dev *dst = dev_open(ctx, spec);
	int fd, r;

	ck_assert_int_eq(vfiomig_data_begin_load(dst, &fd), 0);
	r = vfiomig_data_write(dst, fd, b->p, b->len);
	if (!r)
		r = vfiomig_data_finish_load(dst, VFIOMIG_STATE_RUNNING);
	ck_assert_int_eq(vfiomig_dev_get_state(dst, ret_state), 0);
	close(fd);
	vfiomig_dev_unref(dst);
	return r;
}

START_TEST(test_dev_save_load)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *src = dev_open(ctx, "mock:s,size=3M,personality=xe");
	struct vfiomig_dev *dst = dev_open(ctx, "mock:t,size=3M,state=stop,personality=xe");
	struct vfiomig_dev *other = dev_open(ctx, "mock:o,size=3M,state=stop,personality=xe,"
					     "pci=8086:b080");
	struct blob a = { 0 }, c = { 0 }, raw = { 0 };
	enum vfiomig_state st;
	int fd = save_to_memfd(ctx, src);

	ck_assert_msg(vfiomig_dev_load(dst, fd, NULL) == 0, "%s", vfiomig_ctx_get_error(ctx));
	ck_assert_int_eq(vfiomig_dev_get_state(dst, &st), 0);
	ck_assert_int_eq(st, VFIOMIG_STATE_RUNNING);
	/* the same device state: a plain save of each gives the same bytes */
	ck_assert_int_eq(set_nofd(src, S(STOP)), 0);
	ck_assert_int_eq(set_nofd(dst, S(STOP)), 0);
	save_plain(src, &a);
	save_plain(dst, &c);
	ck_assert_uint_eq(a.len, c.len);
	ck_assert_int_eq(memcmp(a.p, c.p, a.len), 0);

	/* another device ID: the library refuses before any write */
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(vfiomig_dev_load(other, fd, NULL), -ENODEV);
	ck_assert_int_eq(vfiomig_dev_get_state(other, &st), 0);
	ck_assert_int_ne(st, VFIOMIG_STATE_RUNNING);
	close(fd);

	/* the driver's own answer, through the data calls: ENODEV at the write */
	save_plain(src, &raw);
	ck_assert_int_eq(data_load(ctx, &raw, "mock:i,size=3M,state=stop,personality=xe,"
				   "pci=8086:b080", &st), -ENODEV);
	ck_assert_int_eq(st, VFIOMIG_STATE_RESUMING);
	ck_assert_int_eq(data_load(ctx, &raw, "mock:r,size=3M,state=stop,personality=xe,"
				   "pci=8086:e20b:0:0:1", &st), -ENODEV);
	ck_assert_int_eq(st, VFIOMIG_STATE_RESUMING);
	ck_assert_int_eq(data_load(ctx, &raw, "mock:k,size=3M,state=stop,personality=xe", &st), 0);
	ck_assert_int_eq(st, VFIOMIG_STATE_RUNNING);
	free(a.p);
	free(c.p);
	free(raw.p);
	vfiomig_dev_unref(src);
	vfiomig_dev_unref(dst);
	vfiomig_dev_unref(other);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/*
 * A Battlemage VF's state offered to a Panther Lake VF is refused before
 * the first byte reaches it: framed, by the identity record, before any
 * arc (the journal stays empty); raw, with no identity to go by, by the
 * library's xe parser at the DESCRIPTOR's ID, before the write that would
 * carry it (the sentence is the parser's, not the device's ENODEV).
 */
START_TEST(test_refused_before_first_write)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *src = dev_open(ctx, "mock:s,size=1M,personality=xe");
	struct vfiomig_dev *ptl = dev_open(ctx, "mock:p,size=1M,state=stop,personality=xe,"
					   "pci=8086:b080");
	struct vfiomig_save_opts rs = { .sz = sizeof(rs), .flags = VFIOMIG_XFER_RAW };
	struct vfiomig_load_opts rl = { .sz = sizeof(rl), .flags = VFIOMIG_XFER_RAW };
	struct vfiomig_mock_arc j[8];
	enum vfiomig_state st;
	int fd = save_to_memfd(ctx, src), raw = memfd_create("raw", MFD_CLOEXEC);
	size_t n;

	vfiomig_mock_journal_clear(ctx);
	ck_assert_int_eq(vfiomig_dev_load(ptl, fd, NULL), -ENODEV);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "b080"));
	ck_assert_uint_eq(vfiomig_mock_journal(ctx, j, 8), 0);

	ck_assert_int_eq(set_nofd(src, S(RUNNING)), 0);
	ck_assert_int_ge(raw, 0);
	ck_assert_int_eq(vfiomig_dev_save(src, raw, &rs), 0);
	ck_assert_int_eq(lseek(raw, 0, SEEK_SET), 0);
	vfiomig_mock_journal_clear(ctx);
	ck_assert_int_lt(vfiomig_dev_load(ptl, raw, &rl), 0);
	ck_assert_msg(strstr(vfiomig_ctx_get_error(ctx), "xe packet 0 (DESCRIPTOR) at stream "
			     "offset 0: it was saved from a VF with PCI device ID 0xe20b, and "
			     "this one's is 0xb080"), "%s", vfiomig_ctx_get_error(ctx));
	ck_assert_ptr_null(strstr(vfiomig_ctx_get_error(ctx), "rejected"));
	/*
	 * Into RESUMING, never on to STOP (which would close the load), then
	 * the recovery: a reset (the journal's one-step RESUMING -> RUNNING:
	 * no SET takes that arc) wipes whatever the device held, and it ends
	 * in STOP, where it began.
	 */
	n = vfiomig_mock_journal(ctx, j, 8);
	ck_assert_uint_ge(n, 2);
	ck_assert_int_eq(j[0].from, S(STOP));
	ck_assert_int_eq(j[0].to, S(RESUMING));
	ck_assert_int_eq(j[1].from, S(RESUMING));
	ck_assert_int_eq(j[1].to, S(RUNNING));
	for (size_t i = 0; i < n; i++)
		ck_assert(!(j[i].from == S(RESUMING) && j[i].to == S(STOP)));
	ck_assert_int_eq(vfiomig_dev_get_state(ptl, &st), 0);
	ck_assert_int_eq(st, S(STOP));
	close(fd);
	close(raw);
	vfiomig_dev_unref(src);
	vfiomig_dev_unref(ptl);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/* A revision of the VF's own, carried and matched. */
START_TEST(test_revision_round_trip)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *src = dev_open(ctx, "mock:s,size=64K,personality=xe,"
					   "pci=8086:e20b:8086:1000:5");
	struct vfiomig_dev *dst = dev_open(ctx, "mock:t,size=64K,state=stop,personality=xe,"
					   "pci=8086:e20b:8086:1000:5");
	int fd = save_to_memfd(ctx, src);

	ck_assert_int_eq(vfiomig_dev_load(dst, fd, NULL), 0);
	close(fd);
	vfiomig_dev_unref(src);
	vfiomig_dev_unref(dst);
	vfiomig_ctx_unref(ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mock-xe");
	TCase *tc = tcase_create("xe");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_save_shape);
	tcase_add_test(tc, test_descriptor_ids);
	tcase_add_test(tc, test_identity_and_flags);
	tcase_add_test(tc, test_refused_keys);
	tcase_add_test(tc, test_p2p_suspends);
	tcase_add_test(tc, test_read_waits);
	tcase_add_test(tc, test_blocked_read_ends);
	tcase_add_test(tc, test_read_interrupted);
	tcase_add_test(tc, test_write_whole);
	tcase_add_test(tc, test_write_refusals);
	tcase_add_test(tc, test_after_refusal);
	tcase_add_test(tc, test_verdicts);
	tcase_add_test(tc, test_foreign_streams);
	tcase_add_test(tc, test_dev_save_load);
	tcase_add_test(tc, test_revision_round_trip);
	tcase_add_test(tc, test_refused_before_first_write);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
