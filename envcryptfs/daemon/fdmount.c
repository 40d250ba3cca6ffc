/*
 * fdmount.c - serving on /dev/fd/N: a privileged parent (a CSI driver, mount.fuse3 -o
 * drop_privileges) opened /dev/fuse, mounted it and passed the descriptor. The daemon then
 * never stats, creates or unmounts the mount point (it may not even see it) and serves with
 * no capabilities and no_new_privs, so that a flaw in it cannot become a privilege.
 */
#include "daemon.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int fdmount_parse(const char *mountpoint)
{
	const char *digits;
	char *end;
	long fd;

	if (!mountpoint || strncmp(mountpoint, "/dev/fd/", 8) != 0)
		return -1;
	digits = mountpoint + 8;
	if (*digits < '0' || *digits > '9')
		return -1;
	errno = 0;
	fd = strtol(digits, &end, 10);
	if (errno || *end || fd < 0 || fd > INT32_MAX)
		return -1;
	return (int)fd;
}

static int capset_none(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {{0}};

	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

static bool has_capabilities(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {{0}};

	if (syscall(SYS_capget, &h, d) < 0)
		return true; /* cannot tell: assume the worst */
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (d[i].effective || d[i].permitted || d[i].inheritable)
			return true;
	return false;
}

int fdmount_drop_privileges(void)
{
	/* The bounding set first: dropping from it needs CAP_SETPCAP, which goes below. A
	 * process without it (already unprivileged) cannot and need not. */
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1 &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EPERM)
			return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (capset_none() < 0 || has_capabilities())
		return -EPERM;
	return 0;
}
