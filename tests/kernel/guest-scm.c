/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Adopted iommufd-bound fds handed to another process, the way
 * cloud-hypervisor's destination gets them (vfio_fds= and iommufd_fd= over
 * SCM_RIGHTS).  This program stands in for both VMM processes:
 *
 *   guest-scm SRC DST   opens both mtty instances through their cdevs, bound
 *                       to its own iommufd and attached to its IOAS, saves
 *                       SRC through vfiomig_dev_adopt(), then runs
 *                       "guest-scm receive" with nothing but a socket, and
 *                       sends it DST's device fd, the iommufd and the stream
 *                       over SCM_RIGHTS, keeping no copy of DST
 *   guest-scm receive   (fd 3: the socket) adopts what it received and loads
 *
 * The scratch register set on SRC must arrive on DST.  Prints TAP lines
 * (tests/kernel/run.sh numbers them); the plan covers both processes.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <vfiomig/vfiomig.h>

#include "guest-vfio.h"

#define PLAN 6
#define SCRATCH 7
#define MARK 0xc5

static void send_fds(int sock, const int *fds, unsigned int n)
{
	char cbuf[CMSG_SPACE(4 * sizeof(int))] = { 0 }, byte = 'v';
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = CMSG_SPACE(n * sizeof(int)) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	if (sendmsg(sock, &msg, 0) != 1)
		die("sendmsg");
}

static void recv_fds(int sock, int *fds, unsigned int n)
{
	char cbuf[CMSG_SPACE(4 * sizeof(int))], byte;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = CMSG_SPACE(n * sizeof(int)) };
	struct cmsghdr *c;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		die("recvmsg");
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(n * sizeof(int))) {
		errno = EPROTO;
		die("no SCM_RIGHTS message");
	}
	memcpy(fds, CMSG_DATA(c), n * sizeof(int));
}

/* The destination VMM: what it knows of the device is the fds it was given. */
static int receive(void)
{
	struct vfiomig_load_opts lo = { .sz = sizeof(lo) };
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *dev;
	enum vfiomig_state s = VFIOMIG_STATE_ERROR;
	int fds[3], r;	/* device, iommufd, stream */
	char got[16];

	recv_fds(3, fds, 3);
	if (vfiomig_ctx_new(&ctx) < 0)
		die("vfiomig_ctx_new");
	r = vfiomig_dev_adopt(ctx, fds[0], &dev);
	tap(r == 0, "the receiving process adopts the cdev fd it got over SCM_RIGHTS",
	   r ? vfiomig_ctx_get_error(ctx) : NULL);
	if (r)
		return 1;
	lseek(fds[2], 0, SEEK_SET);
	r = vfiomig_dev_load(dev, fds[2], &lo);
	vfiomig_dev_get_state(dev, &s);
	snprintf(got, sizeof(got), "0x%02x", uart_read(fds[0], SCRATCH));
	tap(r == 0 && s == VFIOMIG_STATE_RUNNING && uart_read(fds[0], SCRATCH) == MARK,
	   "it loads the stream: RUNNING, with the source's scratch register",
	   r ? vfiomig_ctx_get_error(ctx) : got);
	vfiomig_dev_unref(dev);
	vfiomig_ctx_unref(ctx);
	return r ? 1 : 0;
}

/* While this process holds @fd bound, another one cannot open the device. */
static void check_busy(int fd)
{
	char link[64], node[PATH_MAX], cmd[PATH_MAX + 64], err[512] = "";
	ssize_t n;
	FILE *f;
	int st;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, node, sizeof(node) - 1);
	if (n < 0)
		die(link);
	node[n] = '\0';
	snprintf(cmd, sizeof(cmd), "vfiomig-ctl -q info %s 2>/tmp/busy >/dev/null", node);
	st = system(cmd);
	f = fopen("/tmp/busy", "r");
	if (f) {
		n = (ssize_t)fread(err, 1, sizeof(err) - 1, f);
		err[n > 0 ? n : 0] = '\0';
		err[strcspn(err, "\n")] = '\0';
		fclose(f);
	}
	tap(WIFEXITED(st) && WEXITSTATUS(st) == 1 && strstr(err, "elsewhere"),
	   "vfiomig-ctl on a cdev another process holds bound: refused", err);
}

/* The source VMM: save SRC, then hand DST to the receiving process. */
static int handover(const char *src_uuid, const char *dst_uuid)
{
	struct vfiomig_save_opts so = { .sz = sizeof(so), .precopy = VFIOMIG_PRECOPY_MODE_AUTO };
	int iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC), stream, sv[2], st = -1, r;
	struct vfiomig_ctx *ctx;
	struct vfiomig_dev *src;
	uint32_t ioas;
	int sfd, dfd;
	pid_t pid;

	if (iommufd < 0)
		die("/dev/iommu");
	ioas = ioas_alloc(iommufd);
	sfd = open_device_cdev(iommufd, ioas, src_uuid);
	dfd = open_device_cdev(iommufd, ioas, dst_uuid);
	if (uart_write(sfd, SCRATCH, MARK) < 0 || uart_write(dfd, SCRATCH, 0) < 0)
		die("scratch register");
	stream = memfd_create("stream", MFD_CLOEXEC);
	if (stream < 0 || vfiomig_ctx_new(&ctx) < 0 || vfiomig_dev_adopt(ctx, sfd, &src) < 0)
		die("adopt the source");
	r = vfiomig_dev_save(src, stream, &so);
	tap(r == 0, "the sending process saves its own iommufd-bound cdev fd, with pre-copy",
	   r ? vfiomig_ctx_get_error(ctx) : NULL);
	check_busy(sfd);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		/* exec drops every O_CLOEXEC fd: the child has only the socket */
		if (dup2(sv[1], 3) < 0)
			_exit(126);
		execl("/proc/self/exe", "guest-scm", "receive", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	send_fds(sv[0], (int[]){ dfd, iommufd, stream }, 3);
	close(dfd);	/* the destination device is the receiver's alone now */
	waitpid(pid, &st, 0);
	tap(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the receiving process succeeded", NULL);
	tap(fcntl(dfd, F_GETFD) < 0, "the sending process kept no copy of the destination's fd",
	   NULL);
	vfiomig_dev_set_state(src, VFIOMIG_STATE_RUNNING, NULL);	/* as the next checks expect */
	vfiomig_dev_unref(src);
	vfiomig_ctx_unref(ctx);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "receive"))
		return receive();
	if (argc != 3) {
		fprintf(stderr, "usage: %s SRC_UUID DST_UUID | receive\n", argv[0]);
		return 2;
	}
	printf("1..%d\n", PLAN);
	return handover(argv[1], argv[2]);
}
