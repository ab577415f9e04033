// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Opening a mock: its spec and the errors that explain one, the identity
 * it pretends, adopt, that the last handle frees everything, and mocks of
 * one ctx driven from several threads.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>

#include "test-mock.h"

/* ---- spec, identity, adopt, leaks ---- */

START_TEST(test_spec_errors)
{
	static const struct { const char *spec, *says; } bad[] = {
		{ "", "name" }, { ",size=1M", "name" }, { "a b", "name" },
		{ "a,x=1", "unknown key 'x'" }, { "a,size", "key=value" },
		{ "a,size=", "key=value" }, { "a,size=0", "size" },
		{ "a,size=65G", "size" }, { "a,size=1T", "size" },
		{ "a,size=-1", "size" }, { "a,flags=p2p", "stop_copy" },
		{ "a,flags=stop_copy+foo", "foo" },
		{ "a,flags=stop_copy+stop_copy", "twice" },
		{ "a,state=STOP_COPY", "initial" }, { "a,state=PRE_COPY", "initial" },
		{ "a,state=nonsense", "initial" },
		{ "a,flags=stop_copy,state=RUNNING_P2P", "P2P" },
		{ "a,eom=maybe", "eom" }, { "a,dirty=1X", "dirty" },
		{ "a,datasize=2", "0 or 1" }, { "a,pci=15b3", "pci" },
		{ "a,pci=15b3:101e:1", "pci" }, { "a,pci=xyz:101e", "pci" },
		{ "a,pci=15b33:101e", "pci" }, { "a,driver=a/b", "driver" },
		{ "a,short=sideways", "short" }, { "a,size=1M,size=2M", "twice" },
		{ "a,personality=mlx4", "personality=mlx5" },
		{ "a,personality=mlx5,personality=mock", "twice" },
	};
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev;

	struct vfiomig_error info = { .sz = sizeof(info) };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char spec[128];
		int r;

		snprintf(spec, sizeof(spec), "mock:%s", bad[i].spec);
		r = vfiomig_dev_open(ctx, spec, &dev);
		ck_assert_msg(r == -EINVAL, "'%s' gave %d", bad[i].spec, r);
		ck_assert_msg(strstr(vfiomig_ctx_get_error(ctx), bad[i].says),
			      "'%s': error '%s' lacks '%s'", bad[i].spec,
			      vfiomig_ctx_get_error(ctx), bad[i].says);
		/* vfiomig-ctl makes it a usage error by this fact (tools/device.c) */
		ck_assert_int_eq(vfiomig_ctx_get_error_info(ctx, &info), 0);
		ck_assert_msg(info.bad_spec == 1, "'%s': not a bad spec", bad[i].spec);
	}
	ck_assert_uint_eq(vfiomig_mock_count(ctx), 0);
	/* An injected fault fails an open with EINVAL too, but the spec was fine. */
	ck_assert_int_eq(vfiomig_dev_open(ctx, "mock:a,fail=feature:1:EINVAL", &dev), -EINVAL);
	ck_assert_int_eq(vfiomig_ctx_get_error_info(ctx, &info), 0);
	ck_assert_int_eq(info.bad_spec, 0);
	vfiomig_ctx_unref(ctx);
}
END_TEST

/*
 * Every numeric key tells a value that is not a number ("abc", "1X") from
 * a number outside its range ("0", "65G"), and says which.
 */
START_TEST(test_spec_numbers)
{
	static const char nan[] = "is not a number", range[] = "out of range";
	static const struct { const char *spec, *says; } bad[] = {
		{ "a,size=abc", nan }, { "a,size=1T", nan }, { "a,size=-1", nan },
		{ "a,size=1MM", nan }, { "a,size=0", range }, { "a,size=65G", range },
		{ "a,size=99999999999999999999", range }, { "a,size=99999999999G", range },
		{ "a,dirty=1X", nan }, { "a,dirty=65G", range },
		{ "a,rate=fast", nan }, { "a,rate=65G", range },
		{ "a,reinit=soon", nan }, { "a,reinit=1000001", range },
		{ "a,arc=abc", nan }, { "a,arc=5", nan }, { "a,arc=5h", nan },
		{ "a,arc=61s", range }, { "a,arc=99999999999999999999999999ms", range },
		{ "a,datasize=yes", nan }, { "a,datasize=2", range },
		{ "a,infov2=on", nan }, { "a,resetflag=10", range },
		{ "a,fail=set:x:EIO", nan }, { "a,fail=set:0:EIO", range },
		{ "a,fail=set:99999999999999999999:EIO", range },
		{ "a,fail=read:1:5x", nan }, { "a,fail=read:1:0", range },
		{ "a,fail=read:1:4096", range },
		{ "a,pci=15b33:101e", range }, { "a,pci=15b3:101e:0:0:100", range },
	};
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *other = bad[i].says == nan ? range : nan;
		const char *why;

		ck_assert_int_eq(vfiomig_mock_open(ctx, bad[i].spec, &dev), -EINVAL);
		why = vfiomig_ctx_get_error(ctx);
		ck_assert_msg(strstr(why, bad[i].says) && !strstr(why, other),
			      "'%s': error '%s' should say '%s'", bad[i].spec, why, bad[i].says);
	}
	/* what is not numeric keeps its own words */
	ck_assert_int_eq(vfiomig_mock_open(ctx, "a,fail=read:1:EFOO", &dev), -EINVAL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "errno 'EFOO' unknown"));
	ck_assert_int_eq(vfiomig_mock_open(ctx, "a,pci=xyz:101e", &dev), -EINVAL);
	ck_assert_ptr_nonnull(strstr(vfiomig_ctx_get_error(ctx), "is not VVVV:DDDD"));
	/* and the edges of each range are taken */
	dev = dev_open(ctx, "mock:e,size=64G,dirty=0,rate=0,reinit=1000000,arc=60s,datasize=0,"
			    "fail=read:18446744073709551615:4095,pci=ffff:0:ffff:ffff:ff");
	vfiomig_dev_unref(dev);
	dev = dev_open(ctx, "mock:f,size=1,arc=0");
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_spec_good)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev;
	struct vfio_device_feature_migration mig = { 0 };
	uint16_t v, d, sv, sd;
	uint8_t rev;

	dev = dev_open(ctx, "mock:x.y-z_1,flags=P2P+Stop_Copy,size=1,state=stop,"
			    "eom=ZERO,dirty=0,datasize=0,dirtylog=1,resetflag=0,"
			    "pci=15b3:101e:15B3:0001:a0,driver=mlx5_vfio_pci,"
			    "short=write,infov2=0");
	ck_assert_str_eq(vfiomig_dev_get_name(dev), "mock:x.y-z_1");
	ck_assert_str_eq(vfiomig_dev_get_transport(dev), "mock");
	ck_assert_str_eq(vfiomig_dev_get_driver(dev), "mlx5_vfio_pci");
	ck_assert_int_eq(vfiomig_dev_get_pci_ids(dev, &v, &d, &sv, &sd, &rev), 0);
	ck_assert_uint_eq(v, 0x15b3);
	ck_assert_uint_eq(d, 0x101e);
	ck_assert_uint_eq(sv, 0x15b3);
	ck_assert_uint_eq(sd, 1);
	ck_assert_uint_eq(rev, 0xa0);
	ck_assert_int_eq(feature(dev, FGET | VFIO_DEVICE_FEATURE_MIGRATION, &mig, 8), 0);
	ck_assert_uint_eq(mig.flags, VFIOMIG_MIG_STOP_COPY | VFIOMIG_MIG_P2P);
	ck_assert_int_eq(get_state(dev), S(STOP));
	vfiomig_dev_unref(dev);

	dev = dev_open(ctx, "mock:plain");
	ck_assert_str_eq(vfiomig_dev_get_driver(dev), "mock");
	ck_assert_int_eq(vfiomig_dev_get_pci_ids(dev, &v, NULL, NULL, NULL, NULL), -ENODATA);
	ck_assert_int_eq(feature(dev, FGET | VFIO_DEVICE_FEATURE_MIGRATION, &mig, 8), 0);
	ck_assert_uint_eq(mig.flags, 7);
	vfiomig_dev_unref(dev);

	dev = dev_open(ctx, "mock:huge,size=64G,flags=pre_copy+stop_copy,pci=8086:1234");
	ck_assert_int_eq(vfiomig_dev_get_pci_ids(dev, &v, &d, &sv, &sd, &rev), 0);
	ck_assert_uint_eq(sv, 0);
	ck_assert_str_eq(vfiomig_dev_get_backend(dev), "mock");
	vfiomig_dev_unref(dev);

	/* personality=mlx5: mlx5_vfio_pci's VF and backend, unless told */
	dev = dev_open(ctx, "mock:m,personality=MLX5");
	ck_assert_str_eq(vfiomig_dev_get_driver(dev), "mlx5_vfio_pci");
	ck_assert_int_eq(vfiomig_dev_get_pci_ids(dev, &v, &d, &sv, &sd, &rev), 0);
	ck_assert_uint_eq(v, 0x15b3);
	ck_assert_uint_eq(d, 0x101e);
	ck_assert_str_eq(vfiomig_dev_get_backend(dev), "mlx5");
	vfiomig_dev_unref(dev);
	dev = dev_open(ctx, "mock:n,pci=8086:1234,driver=mock,personality=mlx5");
	ck_assert_str_eq(vfiomig_dev_get_driver(dev), "mock");
	ck_assert_int_eq(vfiomig_dev_get_pci_ids(dev, &v, &d, &sv, &sd, &rev), 0);
	ck_assert_uint_eq(v, 0x8086);
	ck_assert_str_eq(vfiomig_dev_get_backend(dev), "mlx5");
	vfiomig_dev_unref(dev);
	dev = dev_open(ctx, "mock:o,personality=mock");
	ck_assert_str_eq(vfiomig_dev_get_backend(dev), "mock");
	ck_assert_str_eq(vfiomig_dev_get_driver(dev), "mock");
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_adopt)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_ctx *other = new_ctx(NULL);
	struct vfiomig_dev *a = dev_open(ctx, "mock:shared,size=128K");
	struct vfiomig_dev *b = NULL, *c = NULL;
	int fds, p[2], fd;
	struct blob blob = { 0 };

	ck_assert_int_eq(vfiomig_dev_adopt(ctx, vfiomig_dev_get_fd(a), &b), 0);
	ck_assert_ptr_eq(a->priv, b->priv);
	ck_assert(!b->owns_fd);
	ck_assert_str_eq(vfiomig_dev_get_transport(b), "mock");
	ck_assert_str_eq(vfiomig_dev_get_name(b), "mock:shared");
	ck_assert_int_eq(set_nofd(b, S(STOP)), 0);
	ck_assert_int_eq(get_state(a), S(STOP));
	/* a data fd from one handle works through the other */
	ck_assert_int_eq(set_state(a, S(STOP_COPY), &fd), 0);
	ck_assert_int_eq(drain(b, fd, &blob, 4096), 0);
	ck_assert_uint_eq(blob.len, mock_stream_size(128 << 10));
	ck_assert_int_eq(set_nofd(b, S(STOP)), 0);
	close(fd);
	free(blob.p);

	/* not a mock of this ctx */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(vfiomig_mock_adopt(ctx, p[0], &c), -ENOENT);
	ck_assert_int_eq(vfiomig_mock_adopt(other, vfiomig_dev_get_fd(a), &c), -ENOENT);
	close(p[0]);
	close(p[1]);

	/* the state lives while any handle does */
	fds = count_fds();
	ck_assert_int_eq(vfiomig_mock_adopt(ctx, vfiomig_dev_get_fd(a), &c), 0);
	ck_assert_int_eq(count_fds(), fds);	/* adopting opens nothing */
	vfiomig_dev_unref(a);			/* closes the placeholder */
	ck_assert_int_eq(get_state(b), S(STOP));
	vfiomig_dev_unref(b);
	ck_assert_uint_eq(vfiomig_mock_count(ctx), 1);
	ck_assert_int_eq(get_state(c), S(STOP));
	vfiomig_dev_unref(c);
	ck_assert_uint_eq(vfiomig_mock_count(ctx), 0);
	vfiomig_ctx_unref(other);
	vfiomig_ctx_unref(ctx);
}
END_TEST

START_TEST(test_no_leaks)
{
	int fds = count_fds();
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct vfiomig_dev *dev = dev_open(ctx, "mock:leak,size=8M");
	int fd1, fd2;
	uint8_t tmp[100];

	/* open sessions at unref: pumps are joined, the mock's ends closed */
	ck_assert_int_eq(set_state(dev, S(PRE_COPY), &fd1), 0);
	ck_assert_int_eq(dev->transport->data_read(dev, fd1, tmp, sizeof(tmp)), sizeof(tmp));
	ck_assert_int_eq(set_nofd(dev, S(RUNNING)), 0);
	ck_assert_int_eq(set_nofd(dev, S(STOP)), 0);
	ck_assert_int_eq(set_state(dev, S(STOP_COPY), &fd2), 0);
	/* placeholder, the caller's 2 data fds, the live session's pipe end
	 * and its eventfd */
	ck_assert_int_eq(count_fds(), fds + 5);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
	ck_assert_int_eq(count_fds(), fds + 2);	/* the caller's data fds */
	/* the save pipe ends in EOF without the mock */
	while (read(fd2, tmp, sizeof(tmp)) > 0)
		;
	close(fd1);
	close(fd2);
	ck_assert_int_eq(count_fds(), fds);
}
END_TEST

/* ---- devices of one ctx in several threads ---- */

#define WORKERS 4
#define ROUNDS 5

struct worker {
	struct vfiomig_ctx *ctx;
	int index;
	const char *failed;	/* what went wrong, NULL if nothing */
};

/* A SET that reports rather than asserts: Check's asserts are the test
 * thread's. */
static int worker_set(struct vfiomig_dev *dev, uint32_t target, int *fd)
{
	uint32_t argsz = 16, flags = FSET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;
	struct vfio_device_feature_mig_state mig = { .device_state = target };
	uint8_t b[16];
	int r;

	memcpy(b, &argsz, 4);
	memcpy(b + 4, &flags, 4);
	memcpy(b + 8, &mig, sizeof(mig));
	r = dev->transport->device_ioctl(dev, VFIO_DEVICE_FEATURE, b);
	memcpy(&mig, b + 8, sizeof(mig));
	*fd = r ? -1 : mig.data_fd;
	return r;
}

/* One migration, from a handle adopted in this thread to a second mock. */
static const char *worker_round(struct worker *w)
{
	struct vfiomig_dev *src, *adopted, *dst;
	static __thread uint8_t buf[100000];
	const char *failed = NULL;
	char spec[64];
	int rfd, wfd, fd;
	ssize_t n;

	snprintf(spec, sizeof(spec), "w%d,size=700K,state=STOP", w->index);
	if (vfiomig_mock_open(w->ctx, spec, &src))
		return "open";
	snprintf(spec, sizeof(spec), "w%d-dst,size=700K,state=STOP", w->index);
	if (vfiomig_mock_open(w->ctx, spec, &dst)) {
		vfiomig_dev_unref(src);
		return "open dst";
	}
	if (vfiomig_mock_adopt(w->ctx, vfiomig_dev_get_fd(src), &adopted)) {
		failed = "adopt";
		goto out;
	}
	rfd = wfd = -1;
	if (worker_set(adopted, S(STOP_COPY), &rfd) || worker_set(dst, S(RESUMING), &wfd))
		failed = "set";
	while (!failed && (n = adopted->transport->data_read(adopted, rfd, buf, sizeof(buf))) > 0)
		if (dst->transport->data_write(dst, wfd, buf, (size_t)n) != n)
			failed = "write";
	if (!failed && n < 0)
		failed = "read";
	if (!failed && worker_set(dst, S(STOP), &fd))
		failed = "load";
	if (!failed && worker_set(src, S(STOP), &fd))
		failed = "set src";
	if (rfd >= 0)
		close(rfd);
	if (wfd >= 0)
		close(wfd);
	vfiomig_dev_unref(adopted);
out:
	vfiomig_dev_unref(dst);
	vfiomig_dev_unref(src);
	return failed;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < ROUNDS && !w->failed; i++)
		w->failed = worker_round(w);
	return NULL;
}

/* Mocks of one ctx, each driven by its own thread, while the test thread
 * opens and counts others: the ctx's registry and each mock's locks. */
START_TEST(test_threads)
{
	struct vfiomig_ctx *ctx = new_ctx(NULL);
	struct worker w[WORKERS];
	pthread_t t[WORKERS];

	for (int i = 0; i < WORKERS; i++) {
		w[i] = (struct worker){ .ctx = ctx, .index = i };
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 200; i++) {
		struct vfiomig_dev *dev = mock_open(ctx, "main");

		ck_assert_uint_ge(vfiomig_mock_count(ctx), 1);
		ck_assert_uint_le(vfiomig_mock_count(ctx), 1 + 2 * WORKERS);
		vfiomig_dev_unref(dev);
	}
	for (int i = 0; i < WORKERS; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_msg(!w[i].failed, "worker %d: %s", i, w[i].failed);
	}
	ck_assert_uint_eq(vfiomig_mock_count(ctx), 0);
	vfiomig_ctx_unref(ctx);
}
END_TEST

static Suite *open_suite(void)
{
	Suite *s = suite_create("mock-open");
	TCase *tc;

	tc = tcase_create("handles");
	tcase_add_test(tc, test_spec_errors);
	tcase_add_test(tc, test_spec_numbers);
	tcase_add_test(tc, test_spec_good);
	tcase_add_test(tc, test_adopt);
	tcase_add_test(tc, test_no_leaks);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(open_suite());
}
