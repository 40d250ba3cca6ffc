/* times.c - what the daemon writes into a backing object on its own account (a blob's header
 * or holes map at close, fsync, rename and link; a directory's ID file at rename) is a record
 * of the object, not a change to it. The object's access and modification times are noted
 * before such a write and put back after it, so that times a program set stay: tar sets them
 * after close(2), and the RELEASE that records the size comes later; rsync renames a file
 * after setting them; cp -a links a file after setting them. */
#include "daemon.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

void times_keep(const struct stat *st, struct kept_times *k)
{
	k->ts[0] = st->st_atim;
	k->ts[1] = st->st_mtim;
	k->kept = true;
}

int times_note(int fd, struct kept_times *k)
{
	struct stat st;

	k->kept = false;
	if (fstat(fd, &st) < 0)
		return -errno;
	times_keep(&st, k);
	return 0;
}

void times_put_back(int fd, const struct kept_times *k)
{
	static bool warned;
	char proc[32], path[PATH_MAX];
	ssize_t n;
	int err;

	if (!k->kept || futimens(fd, k->ts) == 0)
		return;
	err = errno;
	/* Only an owner (or CAP_FOWNER) may set times: a daemon serving someone else's backing
	 * files fails alike for every file, so this is said once. */
	if (__atomic_exchange_n(&warned, true, __ATOMIC_RELAXED))
		return;
	fs_proc_path(fd, proc);
	n = readlink(proc, path, sizeof(path) - 1);
	path[n > 0 ? n : 0] = '\0';
	fs_log(LOG_WARNING,
	       "cannot keep the times of backing file '%s' (and maybe others): %s; times set on "
	       "files change when the daemon records their size or place",
	       path, strerror(err));
}
