/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Group save and load on mock devices: byte-exact round trips (one stream
 * and one per member, every pre-copy mode), members matched by identity,
 * refusals before any member is touched, a corrupted record leaving no
 * member running, the phase order from the mock's journal, the switchover
 * rule, cancellation, and a fault sweep over every step of every member.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "test-group-side.h"
#include "util.h"
#include "test-journal.h"
#include "test-xfer.h"

#define S(x) VFIOMIG_STATE_##x
#define MS 1000000ull
#define MAXM 4		/* the most members of a composition */

static void rewind_fds(const int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		ck_assert_int_eq(lseek(fds[i], 0, SEEK_SET), 0);
}

static void close_fds(const int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		close(fds[i]);
}

static void states_are(const struct side *s, enum vfiomig_state want)
{
	for (unsigned int i = 0; i < s->n; i++)
		ck_assert_msg(state_of(s->dev[i]) == want, "member %u is %s, not %s", i,
			      vfiomig_state_name(state_of(s->dev[i])), vfiomig_state_name(want));
}

static const char *const src_keys[] = { ",size=300K,dirty=64K" };
static const char *const dst_keys[] = { ",size=300K,state=stop" };

/* _i: pre-copy mode (3) x one stream or one per member (2) */
START_TEST(test_roundtrip)
{
	enum vfiomig_precopy_mode mode = (enum vfiomig_precopy_mode)(_i % 3);
	unsigned int n_fds = _i / 3 ? 3 : 1;
	struct vfiomig_stats st = { .sz = sizeof(st) };
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = mode, .precopy_rounds = 3,
					.stats = &st };
	struct vfiomig_load_opts lo = { .sz = sizeof(lo) };
	struct vfiomig_group_result res = { .sz = sizeof(res) };
	struct side src, dst;
	int fds[3] = { memfd(), memfd(), memfd() };
	uint64_t bytes = 0;

	side_open(&src, 3, "s", src_keys, 1);
	side_open(&dst, 3, "d", dst_keys, 1);
	ck_assert_msg(vfiomig_group_save(src.g, fds, n_fds, &so) == 0, "%s",
		      vfiomig_ctx_get_error(src.ctx));
	states_are(&src, S(STOP));
	for (unsigned int i = 0; i < 3; i++) {
		ck_assert_int_eq(vfiomig_group_get_result(src.g, i, &res), 0);
		ck_assert_int_eq(res.err, 0);
		ck_assert_int_eq(res.state, S(STOP));
		ck_assert_uint_gt(res.stop_copy_bytes, 0);
		ck_assert_uint_eq(res.precopy_rounds, mode == VFIOMIG_PRECOPY_MODE_NEVER ? 0 :
				  mode == VFIOMIG_PRECOPY_MODE_ROUNDS ? 3 : res.precopy_rounds);
		ck_assert(mode == VFIOMIG_PRECOPY_MODE_NEVER || res.precopy_bytes > 0);
		bytes += res.precopy_bytes + res.stop_copy_bytes;
	}
	ck_assert_uint_eq(st.precopy_bytes + st.stop_copy_bytes, bytes);
	ck_assert_uint_gt(st.stream_bytes, bytes);
	ck_assert_uint_le(st.downtime_ns, st.elapsed_ns);
	rewind_fds(fds, n_fds);
	ck_assert_msg(vfiomig_group_load(dst.g, fds, n_fds, &lo) == 0, "%s",
		      vfiomig_ctx_get_error(dst.ctx));
	states_are(&dst, S(RUNNING));
	vfiomig_group_set_state(src.g, S(RUNNING), NULL);
	for (unsigned int i = 0; i < 3; i++) {
		ck_assert_int_eq(vfiomig_group_get_result(dst.g, i, &res), 0);
		ck_assert_int_eq(res.stream_device, (int)i);
		assert_same_state(NULL, src.dev[i], dst.dev[i]);
	}
	close_fds(fds, 3);
	side_free(&src);
	side_free(&dst);
}
END_TEST

/* A saving group and a loading group joined by one pipe, on two threads. */
struct loader {
	struct vfiomig_group *g;
	int fd;
	struct vfiomig_load_opts o;
	int r;
	pthread_t thread;
};

static void *load_thread(void *arg)
{
	struct loader *l = arg;

	l->r = vfiomig_group_load(l->g, &l->fd, 1, &l->o);
	close(l->fd);
	return NULL;
}

static int save_into_load(struct side *src, struct side *dst, const struct vfiomig_save_opts *so,
			  struct loader *l)
{
	int p[2], r;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	l->g = dst->g;
	l->fd = p[0];
	l->o.sz = sizeof(l->o);
	ck_assert_int_eq(pthread_create(&l->thread, NULL, load_thread, l), 0);
	r = vfiomig_group_save(src->g, &p[1], 1, so);
	close(p[1]);
	pthread_join(l->thread, NULL);
	return r;
}

/* Through a pipe with pre-copy; the phases kept on both sides. */
START_TEST(test_pipe_and_phases)
{
	static const char *const slow[] = { ",size=1M,dirty=64K,arc=2ms", ",size=1M,arc=2ms",
					    ",size=1M,dirty=128K,arc=10ms" };
	static const char *const dkeys[] = { ",size=1M,state=stop,arc=2ms", ",size=1M,state=stop",
					     ",size=1M,state=stop,arc=10ms" };
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = VFIOMIG_PRECOPY_MODE_AUTO,
					.leave = VFIOMIG_LEAVE_RUNNING };
	struct side src, dst;
	struct loader l = { 0 };
	int r;

	side_open(&src, 3, "s", slow, 3);
	side_open(&dst, 3, "d", dkeys, 3);
	r = save_into_load(&src, &dst, &so, &l);
	ck_assert_msg(r == 0, "save: %s", vfiomig_ctx_get_error(src.ctx));
	ck_assert_msg(l.r == 0, "load: %s", vfiomig_ctx_get_error(dst.ctx));
	states_are(&src, S(RUNNING));
	states_are(&dst, S(RUNNING));
	/* Source: nobody stops before all are quiesced in PRE_COPY_P2P, and
	 * nobody runs again before all are back in RUNNING_P2P. */
	check_barrier(src.ctx, S(PRE_COPY_P2P), S(STOP_COPY), 3);
	/* Destination: nobody runs before all are loaded in RUNNING_P2P. */
	check_barrier(dst.ctx, S(RUNNING_P2P), S(RUNNING), 3);
	side_free(&src);
	side_free(&dst);
}
END_TEST

/*
 * A group save of two devices (@sk, as side_open() takes keys) into one
 * stream, loaded into a group of two (@dk): the load's return.  The sides stay open for the checks.
 */
static int save_then_load(struct side *src, const char *const *sk, unsigned int nsk,
			  struct side *dst, const char *const *dk, unsigned int ndk, int fd)
{
	side_open(src, 2, "s", sk, nsk);
	side_open(dst, 2, "d", dk, ndk);
	ck_assert_int_eq(vfiomig_group_save(src->g, &fd, 1, NULL), 0);
	rewind_fds(&fd, 1);
	return vfiomig_group_load(dst->g, &fd, 1, NULL);
}

/* A stream of A and B loads into "B A": the identity decides across kinds. */
START_TEST(test_matched_by_identity)
{
	static const char *const ab[] = { ",pci=15b3:101e,size=200K", ",pci=8086:1234,size=100K" };
	static const char *const ba[] = { ",pci=8086:1234,size=100K,state=stop",
					   ",pci=15b3:101e,size=200K,state=stop" };
	struct vfiomig_group_result res = { .sz = sizeof(res) };
	struct side src, dst;
	int fd = memfd();

	ck_assert_msg(save_then_load(&src, ab, 2, &dst, ba, 2, fd) == 0, "%s",
		      vfiomig_ctx_get_error(dst.ctx));
	ck_assert_int_eq(vfiomig_group_get_result(dst.g, 0, &res), 0);
	ck_assert_int_eq(res.stream_device, 1);
	ck_assert_int_eq(vfiomig_group_get_result(dst.g, 1, &res), 0);
	ck_assert_int_eq(res.stream_device, 0);
	vfiomig_group_set_state(src.g, S(RUNNING), NULL);
	assert_same_state(NULL, src.dev[0], dst.dev[1]);
	assert_same_state(NULL, src.dev[1], dst.dev[0]);
	close(fd);
	side_free(&src);
	side_free(&dst);
}
END_TEST

/*
 * vfiomig_dev_load() refuses a group's stream before touching the device
 * (it would drop the other members' state), and reads a member's own
 * stream of a per-member save.
 */
START_TEST(test_read_by_one_device)
{
	static const char *const keys[] = { ",size=128K" };
	static const char *const dkeys[] = { ",size=128K,state=stop" };
	struct vfiomig_mock_arc j[4];
	struct side src, dst;
	int one = memfd(), each[2] = { memfd(), memfd() };

	side_open(&src, 2, "s", keys, 1);
	side_open(&dst, 2, "d", dkeys, 1);
	ck_assert_int_eq(vfiomig_group_save(src.g, &one, 1, NULL), 0);
	ck_assert_int_eq(vfiomig_group_save(src.g, each, 2, NULL), 0);
	rewind_fds(&one, 1);
	rewind_fds(each, 2);
	ck_assert_int_eq(vfiomig_dev_load(dst.dev[0], one, NULL), -ENODEV);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(dst.ctx), "several devices"));
	ck_assert_uint_eq(vfiomig_mock_journal(dst.ctx, j, 4), 0);
	ck_assert_msg(vfiomig_dev_load(dst.dev[1], each[1], NULL) == 0, "%s",
		      vfiomig_ctx_get_error(dst.ctx));
	vfiomig_group_set_state(src.g, S(RUNNING), NULL);
	assert_same_state(NULL, src.dev[1], dst.dev[1]);
	close(one);
	close_fds(each, 2);
	side_free(&src);
	side_free(&dst);
}
END_TEST

/* Nothing may reach any member: the journal stays empty. */
static void assert_untouched(struct side *s, enum vfiomig_state was)
{
	struct vfiomig_mock_arc j[4];

	ck_assert_uint_eq(vfiomig_mock_journal(s->ctx, j, 4), 0);
	states_are(s, was);
}

/* _i: 0 another kind of device; 1 more devices than members; 2 fewer */
START_TEST(test_refused_before_any_write)
{
	static const char *const ab[] = { ",pci=15b3:101e", ",pci=8086:1234" };
	static const char *const other[] = { ",pci=15b3:101e,state=stop", ",pci=1af4:1041,state=stop",
					     ",pci=8086:1234,state=stop" };
	unsigned int n_dst = _i == 1 ? 1 : 3 - (_i == 0);
	struct side src, dst;
	int fd = memfd(), r;

	side_open(&src, 2, "s", ab, 2);
	side_open(&dst, n_dst, "d", other, 3);
	ck_assert_int_eq(vfiomig_group_save(src.g, &fd, 1, NULL), 0);
	rewind_fds(&fd, 1);
	r = vfiomig_group_load(dst.g, &fd, 1, NULL);
	ck_assert_int_eq(r, -ENODEV);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(dst.ctx), _i == 0 ? "1af4" : "member"));
	assert_untouched(&dst, S(STOP));
	close(fd);
	side_free(&src);
	side_free(&dst);
}
END_TEST

/*
 * Every group of up to 4 devices of up to 3 kinds (driver=p, q, r), loading
 * the stream of every such group: the load matches every stream device to
 * a member of its kind, or refuses before anything reaches any member.
 * A composition is a number: its length and its kinds in base 3.
 */
#define KINDS 3
#define COMPOSITIONS (3 + 9 + 27 + 81)

struct composition {
	unsigned int n;
	unsigned int kind[MAXM];
};

static struct composition composition(unsigned int c)
{
	struct composition k = { .n = 1 };

	for (unsigned int span = KINDS; c >= span; span *= KINDS) {
		c -= span;
		k.n++;
	}
	for (unsigned int i = 0; i < k.n; i++, c /= KINDS)
		k.kind[i] = c % KINDS;
	return k;
}

static void open_composition(struct side *s, const struct composition *k, const char *prefix,
			     const char *more)
{
	char keys[MAXM][64];
	const char *kp[MAXM];

	for (unsigned int i = 0; i < k->n; i++) {
		snprintf(keys[i], sizeof(keys[i]), ",size=4K,driver=%c%s", "pqr"[k->kind[i]], more);
		kp[i] = keys[i];
	}
	side_open(s, k->n, prefix, kp, k->n);
}

static bool same_kinds(const struct composition *a, const struct composition *b)
{
	unsigned int count[KINDS] = { 0 };

	for (unsigned int i = 0; i < a->n; i++)
		count[a->kind[i]]++;
	for (unsigned int i = 0; i < b->n; i++)
		count[b->kind[i]]--;
	for (unsigned int i = 0; i < KINDS; i++)
		if (count[i])
			return false;
	return a->n == b->n;
}

static void load_composition(struct side *dst, const struct composition *d,
			     const struct composition *s, const char *stream, size_t len)
{
	struct vfiomig_group_result res = { .sz = sizeof(res) };
	enum vfiomig_state before[MAXM];
	int fd = memfd_of(stream, len), r;

	for (unsigned int i = 0; i < d->n; i++)
		before[i] = state_of(dst->dev[i]);
	vfiomig_mock_journal_clear(dst->ctx);
	r = vfiomig_group_load(dst->g, &fd, 1, NULL);
	close(fd);
	if (!same_kinds(d, s)) {
		ck_assert_msg(r == -ENODEV || r == -EBADMSG, "a stream of other devices: %d", r);
		ck_assert_uint_eq(vfiomig_mock_journal(dst->ctx, NULL, 0), 0);
		for (unsigned int i = 0; i < d->n; i++)
			ck_assert_int_eq(state_of(dst->dev[i]), before[i]);
		return;
	}
	ck_assert_msg(r == 0, "%s", vfiomig_ctx_get_error(dst->ctx));
	for (unsigned int i = 0; i < d->n; i++) {
		ck_assert_int_eq(vfiomig_group_get_result(dst->g, i, &res), 0);
		ck_assert_int_ge(res.stream_device, 0);
		ck_assert_int_lt(res.stream_device, (int)s->n);
		ck_assert_uint_eq(s->kind[res.stream_device], d->kind[i]);
		ck_assert_int_eq(state_of(dst->dev[i]), S(RUNNING));
	}
}

START_TEST(test_every_composition)
{
	char *streams[COMPOSITIONS];
	size_t lens[COMPOSITIONS];

	for (unsigned int c = 0; c < COMPOSITIONS; c++) {
		struct composition k = composition(c);
		struct side src;
		int fd = memfd();

		open_composition(&src, &k, "s", "");
		ck_assert_int_eq(vfiomig_group_save(src.g, &fd, 1, NULL), 0);
		lens[c] = read_all(fd, &streams[c]);
		close(fd);
		side_free(&src);
	}
	for (unsigned int dc = 0; dc < COMPOSITIONS; dc++) {
		struct composition d = composition(dc);
		struct side dst;

		open_composition(&dst, &d, "d", ",state=stop");
		for (unsigned int sc = 0; sc < COMPOSITIONS; sc++) {
			struct composition k = composition(sc);

			load_composition(&dst, &d, &k, streams[sc], lens[sc]);
		}
		side_free(&dst);
	}
	for (unsigned int c = 0; c < COMPOSITIONS; c++)
		free(streams[c]);
}
END_TEST

/* The case that wrote through member_of[-1]: group [q, p], stream [p, p]. */
START_TEST(test_second_of_a_kind_refused)
{
	static const char *const pp[] = { ",driver=p" };
	static const char *const qp[] = { ",driver=q,state=stop", ",driver=p,state=stop" };
	struct side src, dst;
	int fd = memfd();

	ck_assert_int_eq(save_then_load(&src, pp, 1, &dst, qp, 2, fd), -ENODEV);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(dst.ctx), "it holds 2 devices like"));
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(dst.ctx), "the group 1"));
	assert_untouched(&dst, S(STOP));
	close(fd);
	side_free(&src);
	side_free(&dst);
}
END_TEST

/*
 * A stream of [A, B] into [B', A''], where A'' is another model than A:
 * the sentence is about A'' (member 1), which fits no stream device, and
 * names stream device 0, which fits no member; B' found its own.
 */
START_TEST(test_misfit_named)
{
	static const char *const ab[] = { ",size=128K,pci=8086:1889", ",size=64K,pci=15b3:101e" };
	static const char *const ba[] = { ",size=64K,pci=15b3:101e,state=stop",
					  ",size=128K,pci=8086:1890,state=stop" };
	struct vfiomig_error e = { .sz = sizeof(e) };
	struct side src, dst;
	int fd = memfd();

	ck_assert_int_eq(save_then_load(&src, ab, 2, &dst, ba, 2, fd), -ENODEV);
	ck_assert_int_eq(vfiomig_ctx_get_error_info(dst.ctx, &e), 0);
	ck_assert_str_eq(e.device, "mock:d1");
	ck_assert_int_eq(e.device_first, 1);
	ck_assert_msg(strstr(e.message, "member 1") && strstr(e.message, "8086:1890") &&
		      strstr(e.message, "stream's device 0 (8086:1889") &&
		      strstr(e.message, "PCI IDs differ") && !strstr(e.message, "mock:d0"),
		      "%s", e.message);
	assert_untouched(&dst, S(STOP));
	close(fd);
	side_free(&src);
	side_free(&dst);
}
END_TEST

static size_t stream_of_two(char **ret)
{
	static const char *const keys[] = { ",size=200K" };
	struct vfiomig_save_opts so = { .sz = sizeof(so), .buffer_size = 16384 };
	struct side src;
	int fd = memfd();
	size_t len;

	side_open(&src, 2, "s", keys, 1);
	ck_assert_int_eq(vfiomig_group_save(src.g, &fd, 1, &so), 0);
	len = read_all(fd, ret);
	close(fd);
	side_free(&src);
	return len;
}

/* Any byte flipped anywhere: the load fails and no member runs. */
START_TEST(test_corrupt_member_record)
{
	static const char *const keys[] = { ",size=200K,state=stop" };
	char *buf;
	size_t len = stream_of_two(&buf);
	int before = count_fds();

	for (size_t at = 7; at < len; at += 4093) {
		struct side dst;
		int fd, r;

		buf[at] ^= 0x20;
		fd = memfd_of(buf, len);
		side_open(&dst, 2, "d", keys, 1);
		r = vfiomig_group_load(dst.g, &fd, 1, NULL);
		ck_assert_msg(r < 0, "a flip at %zu went unnoticed", at);
		for (unsigned int i = 0; i < 2; i++)
			ck_assert_msg(state_of(dst.dev[i]) != S(RUNNING), "flip at %zu: member %u "
				      "runs (%s)", at, i, vfiomig_ctx_get_error(dst.ctx));
		close(fd);
		side_free(&dst);
		buf[at] ^= 0x20;
		ck_assert_int_eq(count_fds(), before);
	}
	free(buf);
}
END_TEST

/* A member whose records are cut short: the others' loads are discarded too. */
START_TEST(test_truncated)
{
	static const char *const keys[] = { ",size=200K,state=stop" };
	char *buf;
	size_t len = stream_of_two(&buf);

	for (size_t cut = 0; cut < len; cut += 5003) {
		struct side dst;
		int fd = memfd_of(buf, cut), r;

		side_open(&dst, 2, "d", keys, 1);
		r = vfiomig_group_load(dst.g, &fd, 1, NULL);
		ck_assert_int_eq(r, -EBADMSG);
		states_are(&dst, S(STOP));
		close(fd);
		side_free(&dst);
	}
	free(buf);
}
END_TEST

static const char *const nop2p_keys[] = { ",flags=stop_copy", ",flags=stop_copy+p2p" };

/* A member without P2P: refused before anything is sent; allowed, saved. */
START_TEST(test_no_p2p_member)
{
	struct vfiomig_group *allowed;
	struct side src;
	int fd = memfd();

	side_open(&src, 2, "s", nop2p_keys, 2);
	ck_assert_int_eq(vfiomig_group_save(src.g, &fd, 1, NULL), -EOPNOTSUPP);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(src.ctx), "no P2P"));
	assert_untouched(&src, S(RUNNING));
	ck_assert_int_eq(vfiomig_group_new(src.ctx, VFIOMIG_GROUP_ALLOW_NO_P2P, &allowed), 0);
	for (unsigned int i = 0; i < 2; i++)
		ck_assert_int_eq(vfiomig_group_add(allowed, src.dev[i]), 0);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	ck_assert_msg(vfiomig_group_save(allowed, &fd, 1, NULL) == 0, "%s",
		      vfiomig_ctx_get_error(src.ctx));
	states_are(&src, S(STOP));
	vfiomig_group_unref(allowed);
	close(fd);
	side_free(&src);
}
END_TEST

struct points {
	int quiesced, ready;
	enum vfiomig_state seen[2];		/* at the last call */
	enum vfiomig_state seen_quiesced[2];
	enum vfiomig_group_point refuse;	/* -EPERM there; 0: never */
};

static int on_point(void *userdata, struct vfiomig_group *g, enum vfiomig_group_point point)
{
	struct points *p = userdata;

	if (point == VFIOMIG_GROUP_QUIESCED)
		p->quiesced++;
	else
		p->ready++;
	for (unsigned int i = 0; i < 2; i++)
		p->seen[i] = vfiomig_dev_get_state(vfiomig_group_get_member(g, i), &p->seen[i]) ?
			     S(ERROR) : p->seen[i];
	if (point == VFIOMIG_GROUP_QUIESCED)
		memcpy(p->seen_quiesced, p->seen, sizeof(p->seen));
	return point == p->refuse ? -EPERM : 0;
}

/*
 * The hook between the phases: a save calls it once at QUIESCED, every
 * member in PRE_COPY_P2P (the switchover); a load once at READY, every
 * member loaded in RUNNING_P2P.  Inside the hook the members are the
 * calling thread's, so reading their state works.
 */
START_TEST(test_hook_points)
{
	static const char *const keys[] = { ",size=64K,dirty=64K" };
	static const char *const dkeys[] = { ",size=64K,state=stop" };
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = VFIOMIG_PRECOPY_MODE_ROUNDS,
					.precopy_rounds = 1 };
	struct points ps = { 0 }, pl = { 0 };
	struct side src, dst;
	int fd = memfd();

	side_open(&src, 2, "s", keys, 1);
	side_open(&dst, 2, "d", dkeys, 1);
	vfiomig_group_set_hook(src.g, on_point, &ps);
	vfiomig_group_set_hook(dst.g, on_point, &pl);
	ck_assert_int_eq(vfiomig_group_save(src.g, &fd, 1, &so), 0);
	ck_assert_int_eq(ps.quiesced, 1);
	ck_assert_int_eq(ps.ready, 0);
	ck_assert_int_eq(ps.seen[0], S(PRE_COPY_P2P));
	ck_assert_int_eq(ps.seen[1], S(PRE_COPY_P2P));
	rewind_fds(&fd, 1);
	ck_assert_int_eq(vfiomig_group_load(dst.g, &fd, 1, NULL), 0);
	ck_assert_int_eq(pl.quiesced, 0);
	ck_assert_int_eq(pl.ready, 1);
	ck_assert_int_eq(pl.seen[0], S(RUNNING_P2P));
	ck_assert_int_eq(pl.seen[1], S(RUNNING_P2P));
	close(fd);
	side_free(&src);
	side_free(&dst);
}
END_TEST

/*
 * A load into members that run (group.h): they go down to RESUMING through
 * the two phases, so the hook is called at QUIESCED, every member in
 * RUNNING_P2P and nothing written yet, and then at READY on the way up.
 * _i: 0 the default, RUNNING at the end; 1 VFIOMIG_LEAVE_STOP, which ends
 * crossing no running boundary, so no READY; 2 the hook refuses at
 * QUIESCED: the load fails with its value, every member runs again, and
 * none ever entered RESUMING.
 */
START_TEST(test_hook_load_into_running)
{
	static const char *const keys[] = { ",size=64K" };
	struct vfiomig_load_opts lo = { .sz = sizeof(lo),
					 .leave = _i == 1 ? VFIOMIG_LEAVE_STOP : VFIOMIG_LEAVE_DEFAULT };
	struct points pl = { .refuse = _i == 2 ? VFIOMIG_GROUP_QUIESCED : 0 };
	struct vfiomig_mock_arc j[64];
	struct side src, dst;
	int fd = memfd(), r;
	size_t n;

	side_open(&src, 2, "s", keys, 1);
	side_open(&dst, 2, "d", keys, 1);
	vfiomig_group_set_hook(dst.g, on_point, &pl);
	ck_assert_int_eq(vfiomig_group_save(src.g, &fd, 1, NULL), 0);
	rewind_fds(&fd, 1);
	r = vfiomig_group_load(dst.g, &fd, 1, &lo);
	ck_assert_int_eq(pl.quiesced, 1);
	ck_assert_int_eq(pl.seen_quiesced[0], S(RUNNING_P2P));
	ck_assert_int_eq(pl.seen_quiesced[1], S(RUNNING_P2P));
	ck_assert_int_eq(pl.ready, _i == 0);
	ck_assert_int_eq(r, _i == 2 ? -EPERM : 0);
	states_are(&dst, _i == 1 ? S(STOP) : S(RUNNING));
	if (_i == 2) {
		n = vfiomig_mock_journal(dst.ctx, j, ARRAY_SIZE(j));
		ck_assert_uint_lt(n, ARRAY_SIZE(j));
		for (size_t k = 0; k < n; k++)
			ck_assert_int_ne(j[k].to, S(RESUMING));
	}
	close(fd);
	side_free(&src);
	side_free(&dst);
}
END_TEST

/* Bad arguments: refused with the reason, nothing touched. */
START_TEST(test_arguments)
{
	static const char *const keys[] = { "" };
	struct vfiomig_save_opts raw = { .sz = sizeof(raw), .flags = VFIOMIG_XFER_RAW };
	struct side s;
	int fds[3] = { memfd(), memfd(), -1 };

	side_open(&s, 2, "s", keys, 1);
	ck_assert_int_eq(vfiomig_group_save(s.g, fds, 3, NULL), -EINVAL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(s.ctx), "one per member"));
	ck_assert_int_eq(vfiomig_group_save(s.g, NULL, 1, NULL), -EINVAL);
	ck_assert_int_eq(vfiomig_group_save(s.g, &fds[2], 1, NULL), -EINVAL);
	ck_assert_int_eq(vfiomig_group_save(s.g, fds, 1, &raw), -EINVAL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(s.ctx), "raw"));
	ck_assert_int_eq(vfiomig_group_load(s.g, fds, 3, NULL), -EINVAL);
	assert_untouched(&s, S(RUNNING));
	/* Raw with one fd per member is fine. */
	ck_assert_int_eq(vfiomig_group_save(s.g, fds, 2, &raw), 0);
	close_fds(fds, 2);
	side_free(&s);
}
END_TEST

struct canceller {
	struct vfiomig_cancel *cancel;
	unsigned int after_ms;
	pthread_t thread;
};

static void *cancel_later(void *arg)
{
	struct canceller *c = arg;

	usleep(c->after_ms * 1000);
	vfiomig_cancel_raise(c->cancel);
	return NULL;
}

/*
 * Slow members, cancelled from another thread: back at once, and where
 * they were, with the cancellation as the error.  _i: 0 in pre-copy, 1 in
 * stop-copy (no pre-copy).
 */
START_TEST(test_cancel)
{
	static const char *const slow[] = { ",size=8M,rate=16M" };
	static const char *const dslow[] = { ",size=8M,rate=16M,state=stop" };
	struct canceller c = { .after_ms = 100 };
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = _i ? VFIOMIG_PRECOPY_MODE_NEVER :
					VFIOMIG_PRECOPY_MODE_AUTO };
	int before = count_fds(), fd = memfd(), r;
	struct side src, dst;
	struct timespec t0, t1;

	ck_assert_int_eq(vfiomig_cancel_new(&c.cancel), 0);
	so.cancel = c.cancel;
	side_open(&src, 3, "s", slow, 1);
	ck_assert_int_eq(pthread_create(&c.thread, NULL, cancel_later, &c), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = vfiomig_group_save(src.g, &fd, 1, &so);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_join(c.thread, NULL);
	ck_assert_int_eq(r, -ECANCELED);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(src.ctx), "cancelled"));
	ck_assert_int_lt((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000, 400);
	states_are(&src, S(RUNNING));

	/* A whole stream, loaded slowly, cancelled half-way: nobody runs. */
	vfiomig_cancel_clear(c.cancel);
	so.cancel = NULL;
	so.precopy = VFIOMIG_PRECOPY_MODE_NEVER;
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	rewind_fds(&fd, 1);
	ck_assert_int_eq(vfiomig_group_save(src.g, &fd, 1, &so), 0);
	rewind_fds(&fd, 1);
	side_open(&dst, 3, "d", dslow, 1);
	struct vfiomig_load_opts lo = { .sz = sizeof(lo), .cancel = c.cancel };
	ck_assert_int_eq(pthread_create(&c.thread, NULL, cancel_later, &c), 0);
	r = vfiomig_group_load(dst.g, &fd, 1, &lo);
	pthread_join(c.thread, NULL);
	ck_assert_int_eq(r, -ECANCELED);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(dst.ctx), "cancelled"));
	states_are(&dst, S(STOP));
	vfiomig_cancel_unref(c.cancel);
	close(fd);
	side_free(&src);
	side_free(&dst);
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

/*
 * The switchover waits for the group: a member with a lot of dirty data
 * keeps every member in pre-copy, so every member sees the same rounds;
 * and a round that does not shrink the group's dirty bytes ends pre-copy
 * (AUTO iterates while it pays), long before the 5-round limit.
 */
START_TEST(test_switchover_is_the_groups)
{
	static const char *const keys[] = { ",size=1M", ",size=1M,dirty=512K" };
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = VFIOMIG_PRECOPY_MODE_AUTO,
					.precopy_rounds = 5, .precopy_dirty_threshold = 256 << 10 };
	struct vfiomig_group_result a = { .sz = sizeof(a) }, b = { .sz = sizeof(b) };
	struct side src;
	int fd = memfd();

	side_open(&src, 2, "s", keys, 2);
	ck_assert_int_eq(vfiomig_group_save(src.g, &fd, 1, &so), 0);
	ck_assert_int_eq(vfiomig_group_get_result(src.g, 0, &a), 0);
	ck_assert_int_eq(vfiomig_group_get_result(src.g, 1, &b), 0);
	/* The quiet member alone would switch over after one round; the
	 * second round's 512K dirty did not shrink from the first's. */
	ck_assert_uint_eq(a.precopy_rounds, 2);
	ck_assert_uint_eq(b.precopy_rounds, 2);
	close(fd);
	side_free(&src);
}
END_TEST

/*
 * A member that reports REINIT (its initial data starts again) after it
 * was ready holds the switchover back until its new initial bytes are
 * sent; the stream still loads.  _i: 0 without REINIT (the control), 1 with.
 */
START_TEST(test_reinit_holds_switchover)
{
	static const char *const keys[2][2] = {
		{ ",size=256K,dirty=64K,infov2=1", ",size=256K" },
		{ ",size=256K,dirty=64K,infov2=1,reinit=1", ",size=256K" },
	};
	static const char *const dkeys[] = { ",size=256K,state=stop" };
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = VFIOMIG_PRECOPY_MODE_AUTO };
	struct vfiomig_group_result a = { .sz = sizeof(a) }, b = { .sz = sizeof(b) };
	struct side src, dst;
	int fd = memfd();

	side_open(&src, 2, "s", keys[_i], 2);
	side_open(&dst, 2, "d", dkeys, 1);
	ck_assert_int_eq(vfiomig_group_save(src.g, &fd, 1, &so), 0);
	ck_assert_int_eq(vfiomig_group_get_result(src.g, 0, &a), 0);
	ck_assert_int_eq(vfiomig_group_get_result(src.g, 1, &b), 0);
	ck_assert_uint_eq(a.precopy_rounds, 1 + (unsigned int)_i);
	ck_assert_uint_eq(b.precopy_rounds, 1 + (unsigned int)_i);
	if (_i)
		ck_assert_uint_ge(a.precopy_bytes, 2 * (256 << 10));
	rewind_fds(&fd, 1);
	ck_assert_int_eq(vfiomig_group_load(dst.g, &fd, 1, NULL), 0);
	vfiomig_group_set_state(src.g, S(RUNNING), NULL);
	assert_same_state(NULL, src.dev[0], dst.dev[0]);
	close(fd);
	side_free(&src);
	side_free(&dst);
}
END_TEST

/*
 * A member drains as soon as it is in STOP_COPY, not once the slowest
 * member is: a's data (about 60 ms at rate=32M) moves while b's two slow
 * arcs (RUNNING_P2P -> STOP -> STOP_COPY, 60 ms each) are made, and each
 * member's stopped time starts with its own arc.
 */
START_TEST(test_stop_copy_overlaps_slow_arcs)
{
	static const char *const keys[] = { ",size=2M,rate=32M", ",size=64K,arc=60ms" };
	struct vfiomig_stats st = { .sz = sizeof(st) };
	struct vfiomig_save_opts so = { .sz = sizeof(so), .stats = &st };
	struct vfiomig_group_result a = { .sz = sizeof(a) }, b = { .sz = sizeof(b) };
	struct side src;
	int fd = memfd();

	side_open(&src, 2, "s", keys, 2);
	ck_assert_int_eq(vfiomig_group_save(src.g, &fd, 1, &so), 0);
	ck_assert_int_eq(vfiomig_group_get_result(src.g, 0, &a), 0);
	ck_assert_int_eq(vfiomig_group_get_result(src.g, 1, &b), 0);
	/* b is stopped for its arcs, 120 ms; a for its drain, 60 ms. */
	ck_assert_uint_ge(b.downtime_ns, 115 * MS);
	ck_assert_uint_ge(a.downtime_ns, 55 * MS);
	ck_assert_msg(a.downtime_ns < b.downtime_ns, "a drained only after b stopped: "
		      "a %llu ns, b %llu ns", (unsigned long long)a.downtime_ns,
		      (unsigned long long)b.downtime_ns);
	ck_assert_uint_ge(st.downtime_ns, b.downtime_ns);
	close(fd);
	side_free(&src);
}
END_TEST

/* The newest arc of @dev from @from to @to in @j (it must be there). */
static const struct vfiomig_mock_arc *arc_of(const struct vfiomig_mock_arc *j, size_t n,
					     const char *dev, enum vfiomig_state from,
					     enum vfiomig_state to)
{
	for (size_t i = n; i-- > 0;)
		if (!strcmp(j[i].device, dev) && j[i].from == from && j[i].to == to)
			return &j[i];
	ck_abort_msg("%s: no arc %s -> %s in the journal", dev, vfiomig_state_name(from),
		     vfiomig_state_name(to));
	return NULL;
}

/*
 * Issue #27: an xe VF (no pre-copy; RUNNING_P2P a full suspend; all its
 * VRAM in the stop-copy) beside an mlx5 VF that pre-copies, through one
 * pipe into a loading group, both byte-exact on the far side.  The phases
 * from the source's journal: xe suspends after mlx5 began its pre-copy
 * and before anyone stops, mlx5 is in PRE_COPY_P2P by then too, and the
 * two stop-copies overlap.  On the destination nobody runs before both are
 * loaded in RUNNING_P2P.
 */
START_TEST(test_xe_beside_mlx5)
{
	static const char *const sk[] = { ",size=2M,rate=16M,arc=2ms,personality=xe",
					  ",size=1M,dirty=512K,rate=16M,arc=2ms,personality=mlx5" };
	static const char *const dk[] = { ",size=2M,state=stop,personality=xe",
					  ",size=1M,state=stop,personality=mlx5" };
	static struct vfiomig_mock_arc j[VFIOMIG_MOCK_JOURNAL_MAX];
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = VFIOMIG_PRECOPY_MODE_AUTO };
	const struct vfiomig_mock_arc *suspend, *p2p, *pre, *xe_in, *xe_out, *ml_in, *ml_out,
				      *xe_stop;
	struct side src, dst;
	struct loader l = { 0 };
	size_t n;
	int r;

	side_open(&src, 2, "s", sk, 2);
	side_open(&dst, 2, "d", dk, 2);
	r = save_into_load(&src, &dst, &so, &l);
	ck_assert_msg(r == 0, "save: %s", vfiomig_ctx_get_error(src.ctx));
	ck_assert_msg(l.r == 0, "load: %s", vfiomig_ctx_get_error(dst.ctx));
	states_are(&dst, S(RUNNING));

	n = vfiomig_mock_journal(src.ctx, j, VFIOMIG_MOCK_JOURNAL_MAX);
	pre = arc_of(j, n, "mock:s1", S(RUNNING), S(PRE_COPY));
	suspend = arc_of(j, n, "mock:s0", S(RUNNING), S(RUNNING_P2P));
	p2p = arc_of(j, n, "mock:s1", S(PRE_COPY), S(PRE_COPY_P2P));
	xe_stop = arc_of(j, n, "mock:s0", S(RUNNING_P2P), S(STOP));
	xe_in = arc_of(j, n, "mock:s0", S(STOP), S(STOP_COPY));
	xe_out = arc_of(j, n, "mock:s0", S(STOP_COPY), S(STOP));
	ml_in = arc_of(j, n, "mock:s1", S(PRE_COPY_P2P), S(STOP_COPY));
	ml_out = arc_of(j, n, "mock:s1", S(STOP_COPY), S(STOP));
	ck_assert_msg(suspend->begin_ns >= pre->end_ns, "xe suspended before the pre-copy began");
	ck_assert_uint_le(suspend->end_ns, ml_in->begin_ns);
	ck_assert_uint_le(p2p->end_ns, xe_stop->begin_ns);
	ck_assert_msg(xe_in->begin_ns < ml_out->begin_ns && ml_in->begin_ns < xe_out->begin_ns,
		      "the stop-copies did not overlap");
	check_barrier(dst.ctx, S(RUNNING_P2P), S(RUNNING), 2);

	ck_assert_int_eq(vfiomig_group_set_state(src.g, S(RUNNING), NULL), 0);
	for (unsigned int i = 0; i < 2; i++)
		assert_same_state(NULL, src.dev[i], dst.dev[i]);
	side_free(&src);
	side_free(&dst);
}
END_TEST

static void *drain_pipe(void *arg)
{
	char buf[65536];
	int fd = *(int *)arg;

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	return NULL;
}

/*
 * One stream per member, and member 1's trailer cannot be written (the
 * file size limit stops it one byte short) after member 0's was: stream 0
 * is complete and may be loaded, so no source may run again.
 */
START_TEST(test_trailer_fails_after_another)
{
	static const char *const keys[] = { ",size=64K" };
	struct rlimit lim;
	struct side src;
	int probe = memfd(), fds[2], p[2], r;
	off_t len;
	pthread_t t;

	side_open(&src, 2, "s", keys, 1);
	/* The same save's length, so the limit can fall in the trailer. */
	ck_assert_int_eq(vfiomig_group_save(src.g, (int[]){ probe, memfd() }, 2, NULL), 0);
	len = lseek(probe, 0, SEEK_END);
	vfiomig_group_set_state(src.g, S(RUNNING), NULL);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, drain_pipe, &p[0]), 0);
	fds[0] = p[1];
	fds[1] = memfd();
	signal(SIGXFSZ, SIG_IGN);
	lim = (struct rlimit){ (rlim_t)len - 1, (rlim_t)len - 1 };
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	r = vfiomig_group_save(src.g, fds, 2, NULL);
	close(p[1]);
	pthread_join(t, NULL);
	ck_assert_int_eq(r, -EFBIG);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(src.ctx), "no member was moved back"));
	states_are(&src, S(STOP));
	side_free(&src);
}
END_TEST

/* The fault armed for a sweep fires once: a second GET gets through. */
static enum vfiomig_state state_twice(struct vfiomig_dev *dev)
{
	enum vfiomig_state st;

	if (vfiomig_dev_get_state(dev, &st) < 0)
		ck_assert_int_eq(vfiomig_dev_get_state(dev, &st), 0);
	return st;
}

/* side_open(), except that an open may fail (a fault hit it): false then. */
static bool side_try_open(struct side *s, const char *prefix, const char *const *keys)
{
	memset(s, 0, sizeof(*s));
	ck_assert_int_eq(test_ctx_new(&s->ctx), 0);
	ck_assert_int_eq(vfiomig_group_new(s->ctx, 0, &s->g), 0);
	for (unsigned int i = 0; i < 3; i++) {
		char spec[128];

		snprintf(spec, sizeof(spec), "mock:%s%u%s", prefix, i, keys[i]);
		if (vfiomig_dev_open(s->ctx, spec, &s->dev[i]) < 0)
			return false;
		s->n++;
		ck_assert_int_eq(vfiomig_group_add(s->g, s->dev[i]), 0);
	}
	return true;
}

/*
 * The sweep: member @victim's request number @step fails (fail=any:N).
 * A failed save leaves every source running, as it started; a failed load
 * leaves no member running; no fd leaks.  1 if anything failed.
 */
static int sweep_once(unsigned int victim, bool on_src, int step, unsigned int n_fds,
		      bool mlx5)
{
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = VFIOMIG_PRECOPY_MODE_ROUNDS,
					.precopy_rounds = 2, .buffer_size = 16384 };
	const char *s_keys = mlx5 ? ",size=100K,dirty=64K,personality=mlx5" : ",size=100K,dirty=64K";
	const char *d_keys = mlx5 ? ",size=100K,state=stop,personality=mlx5" :
			     ",size=100K,state=stop";
	const char *sk[3] = { s_keys, s_keys, s_keys }, *dk[3] = { d_keys, d_keys, d_keys };
	char armed[128];
	struct side src = { 0 }, dst = { 0 };
	int fds[3] = { memfd(), memfd(), memfd() }, r = -1, lr = 0;
	bool opened;

	snprintf(armed, sizeof(armed), "%s,fail=any:%d:EIO", on_src ? sk[victim] : dk[victim], step);
	(on_src ? sk : dk)[victim] = armed;
	opened = side_try_open(&src, "s", sk) && side_try_open(&dst, "d", dk);
	if (opened)
		r = vfiomig_group_save(src.g, fds, n_fds, &so);
	for (unsigned int i = 0; opened && r < 0 && i < 3; i++)
		ck_assert_msg(state_twice(src.dev[i]) == S(RUNNING), "step %d: failed save left "
			      "source %u in %s", step, i, vfiomig_state_name(state_twice(src.dev[i])));
	if (r == 0) {
		rewind_fds(fds, n_fds);
		lr = vfiomig_group_load(dst.g, fds, n_fds, NULL);
		for (unsigned int i = 0; i < 3; i++)
			ck_assert_msg(lr == 0 || state_twice(dst.dev[i]) != S(RUNNING),
				      "step %d: failed load left member %u running", step, i);
		for (unsigned int i = 0; lr == 0 && i < 3; i++)
			ck_assert_int_eq(state_twice(dst.dev[i]), S(RUNNING));
	}
	close_fds(fds, 3);
	side_free(&src);
	if (opened || dst.ctx)
		side_free(&dst);
	return r < 0 || lr < 0;
}

/*
 * _i: victim (3) x source or destination (2) x one stream or one per
 * member (2), then the same with one stream on the mock's mlx5 personality
 * (its records checked by the mlx5 backend on load).
 */
START_TEST(test_fault_sweep)
{
	unsigned int victim = _i % 3, n_fds = (_i / 6) % 2 ? 3 : 1;
	bool on_src = (_i / 3) % 2 == 0, mlx5 = _i >= 12;
	int before = count_fds(), failures = 0, clean = 0;

	for (int step = 1; step < 2000 && clean < 25; step++) {
		if (sweep_once(victim, on_src, step, mlx5 ? 1 : n_fds, mlx5)) {
			failures++;
			clean = 0;
		} else {
			clean++;
		}
		ck_assert_int_eq(count_fds(), before);
	}
	ck_assert_msg(clean == 25, "the sweep did not reach the end");
	ck_assert_int_gt(failures, 5);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("group-xfer");
	TCase *tc = tcase_create("group-xfer");

	tcase_set_timeout(tc, 240);
	tcase_add_loop_test(tc, test_roundtrip, 0, 6);
	tcase_add_test(tc, test_pipe_and_phases);
	tcase_add_test(tc, test_matched_by_identity);
	tcase_add_test(tc, test_read_by_one_device);
	tcase_add_loop_test(tc, test_refused_before_any_write, 0, 3);
	tcase_add_test(tc, test_second_of_a_kind_refused);
	tcase_add_test(tc, test_misfit_named);
	tcase_add_test(tc, test_every_composition);
	tcase_add_test(tc, test_corrupt_member_record);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_no_p2p_member);
	tcase_add_test(tc, test_hook_points);
	tcase_add_loop_test(tc, test_hook_load_into_running, 0, 3);
	tcase_add_test(tc, test_arguments);
	tcase_add_loop_test(tc, test_cancel, 0, 2);
	tcase_add_test(tc, test_switchover_is_the_groups);
	tcase_add_test(tc, test_stop_copy_overlaps_slow_arcs);
	tcase_add_test(tc, test_xe_beside_mlx5);
	tcase_add_test(tc, test_trailer_fails_after_another);
	tcase_add_loop_test(tc, test_reinit_holds_switchover, 0, 2);
	tcase_add_loop_test(tc, test_fault_sweep, 0, 18);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
