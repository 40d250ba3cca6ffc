/* mountpoint.c - checks of the mount point before anything is unlocked: it must be a directory,
 * empty unless -o nonempty, and not a dead mount (a dead mount of this volume is detached). */
#include "daemon.h"
#include "tool.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#define PROG "envcryptfs"

bool mountinfo_field_is(const char *f, size_t len, const char *s)
{
	for (size_t i = 0; i < len; i++, s++) {
		char c = f[i];

		if (c == '\\' && i + 3 < len && f[i + 1] >= '0' && f[i + 1] <= '3') {
			c = (char)((f[i + 1] - '0') << 6 | (f[i + 2] - '0') << 3 |
				   (f[i + 3] - '0'));
			i += 3;
		}
		if (*s != c)
			return false;
	}
	return *s == '\0';
}

/* The absolute path of mnt without resolving its last component, which may be a dead mount
 * that no stat gets through. */
static char *absolute_mountpoint(const char *mnt)
{
	char *copy1 = strdup(mnt), *copy2 = strdup(mnt), *dir = NULL, *out = NULL;
	const char *base;

	if (copy1 && copy2)
		dir = realpath(dirname(copy1), NULL);
	if (dir) {
		base = basename(copy2);
		if (asprintf(&out, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", base) < 0)
			out = NULL;
	}
	free(dir);
	free(copy1);
	free(copy2);
	return out;
}

/* What mountinfo says of the topmost mount at path: whether it is this volume's (type
 * fuse.envcryptfs, source DIR, or envcryptfs-DIR as older daemons named it) and its source,
 * for the message. */
struct mount_found {
	bool found, ours;
	char source[PATH_MAX];
};

static void mountinfo_find(const char *path, const char *own_source, struct mount_found *m)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;

	memset(m, 0, sizeof(*m));
	if (!f)
		return;
	while (getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE ... */
		char *mp, *sep = strstr(line, " - "), *type, *source, *save = NULL;

		if (!sep)
			continue;
		*sep = '\0';
		type = strtok_r(sep + 3, " \n", &save);
		source = strtok_r(NULL, " \n", &save);
		save = NULL;
		mp = strtok_r(line, " ", &save);
		for (int i = 0; mp && i < 4; i++)
			mp = strtok_r(NULL, " ", &save);
		if (!mp || !type || !source || !mountinfo_field_is(mp, strlen(mp), path))
			continue;
		/* Later lines are mounts stacked on earlier ones: the last one is what we see. */
		m->found = true;
		m->ours =
		    !strcmp(type, "fuse." PROG) &&
		    (mountinfo_field_is(source, strlen(source), own_source) ||
		     mountinfo_field_is(source, strlen(source), own_source + strlen(PROG "-")));
		snprintf(m->source, sizeof(m->source), "%s (%s)", source, type);
	}
	free(line);
	fclose(f);
}

/* mnt answers ENOTCONN: its daemon is gone. Detaches it when it was dir's. */
static int detach_dead_mount(const char *mnt, const char *dir)
{
	char *path = absolute_mountpoint(mnt), *real = realpath(dir, NULL), *own = NULL;
	struct mount_found m = {0};
	int code = ECFS_EXIT_MOUNT;

	if (path && real && asprintf(&own, PROG "-%s", real) >= 0)
		mountinfo_find(path, own, &m);
	if (m.ours && umount2(path, MNT_DETACH) == 0) {
		ecfs_tool_warn(PROG,
			       "'%s' was a dead mount of '%s' (its daemon is gone); detached it",
			       mnt, real);
		code = -1;
	} else if (m.ours) {
		ecfs_tool_error(PROG,
				"'%s' is a dead mount of '%s' and cannot be detached (%s); run "
				"'fusermount3 -u -z %s' and mount again",
				mnt, real, strerror(errno), mnt);
	} else {
		ecfs_tool_error(PROG,
				"'%s' is a dead mount%s%s (its file system no longer answers); run "
				"'fusermount3 -u -z %s' and mount again",
				mnt, m.found ? " of " : "", m.found ? m.source : "", mnt);
	}
	free(own);
	free(real);
	free(path);
	return code;
}

/* 1 when directory mnt holds any entry, 0 when empty, -errno when it cannot be read. */
static int dir_has_entries(const char *mnt)
{
	DIR *d = opendir(mnt);
	struct dirent *e;
	int r = 0;

	if (!d)
		return -errno;
	while (r == 0 && (e = readdir(d)))
		r = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return r;
}

int mountpoint_clear_dead(const char *mnt, const char *dir)
{
	struct statfs st;

	/* statfs always asks the file system; a stat may be answered from cached attributes
	 * even after the daemon died. */
	if (statfs(mnt, &st) < 0 && errno == ENOTCONN)
		return detach_dead_mount(mnt, dir);
	return -1;
}

int mountpoint_check(const char *mnt, bool nonempty)
{
	struct stat st;

	if (stat(mnt, &st) < 0) {
		ecfs_tool_error(PROG, "mount point '%s': %s", mnt, strerror(errno));
		return ECFS_EXIT_MOUNT;
	}
	if (!S_ISDIR(st.st_mode)) {
		ecfs_tool_error(PROG, "mount point '%s' is not a directory", mnt);
		return ECFS_EXIT_MOUNT;
	}
	/* A directory we may not read is left to the mount itself to accept or refuse. */
	if (!nonempty && dir_has_entries(mnt) > 0) {
		ecfs_tool_error(PROG,
				"mount point '%s' is not empty (the mount would hide what it "
				"holds); use an empty directory, or -o nonempty",
				mnt);
		return ECFS_EXIT_MOUNT;
	}
	return -1;
}
