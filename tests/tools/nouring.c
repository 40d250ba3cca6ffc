/* SPDX-License-Identifier: MIT */
/*
 * nouring.c - runs a command where io_uring_setup(2) fails, as under container runtimes
 * whose seccomp profile refuses io_uring, or with the kernel.io_uring_disabled sysctl.
 *
 *   nouring COMMAND [ARG...]
 *
 * A seccomp filter makes io_uring_setup fail with EPERM in COMMAND and everything it starts;
 * every other call runs as usual. Exit 2 when the filter cannot be installed, 127 when
 * COMMAND cannot be run.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "nouring: add this architecture's AUDIT_ARCH value"
#endif

static int refuse_io_uring(void)
{
	struct sock_filter code[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return -errno;
	return 0;
}

int main(int argc, char *argv[])
{
	int r;

	if (argc < 2) {
		fprintf(stderr, "usage: nouring COMMAND [ARG...]\n");
		return 2;
	}
	r = refuse_io_uring();
	if (r < 0) {
		fprintf(stderr, "nouring: cannot install the seccomp filter: %s\n", strerror(-r));
		return 2;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "nouring: cannot run %s: %s\n", argv[1], strerror(errno));
	return 127;
}
