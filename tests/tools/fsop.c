/* fsop.c - issues one file system operation with exact system calls and prints how it ended:
 * "ok", or the step that failed and its errno name ("write ENOSPC", "close EIO"). Writes
 * copy their bytes from a source file, so that the test knows what they were. Exits 0 when
 * the operation ran (whatever its result), 2 on a usage error.
 *
 *   fsop write FILE OFF SRC     pwrite SRC's bytes at OFF (1 MiB at a time), fsync, close
 *   fsop append FILE SRC        the same with O_APPEND
 *   fsop truncate FILE SIZE     ftruncate
 *   fsop fallocate FILE OFF LEN fallocate (mode 0)
 *   fsop create FILE | mkdir DIR | rename OLD NEW | symlink TARGET LINK
 *   fsop setxattr FILE NAME SRC setxattr with SRC's bytes as the value
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static int report(const char *step, int err)
{
	if (err)
		printf("%s %s\n", step, strerrorname_np(err) ? strerrorname_np(err) : "?");
	else
		printf("ok\n");
	return 0;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

/* Writes all of src at off (or at the end with O_APPEND), then fsync and close; reports the
 * first step that failed. */
static int do_write(const char *file, int flags, off_t off, const char *src)
{
	size_t len = 0, done = 0;
	char *buf = slurp(src, &len);
	int fd, err = 0;
	const char *step = "write";

	if (!buf)
		return fprintf(stderr, "fsop: cannot read %s\n", src), 2;
	fd = open(file, O_WRONLY | O_CREAT | flags, 0644);
	if (fd < 0)
		return free(buf), report("open", errno);
	while (done < len) {
		size_t part = len - done < (1u << 20) ? len - done : (1u << 20);
		ssize_t n = flags & O_APPEND ? write(fd, buf + done, part)
					     : pwrite(fd, buf + done, part, off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : EIO;
			break;
		}
		done += (size_t)n;
	}
	if (!err && fsync(fd) < 0) {
		step = "fsync";
		err = errno;
	}
	if (close(fd) < 0 && !err) {
		step = "close";
		err = errno;
	}
	free(buf);
	return report(step, err);
}

static int do_truncate(const char *file, off_t size)
{
	int fd = open(file, O_WRONLY), err = 0;

	if (fd < 0)
		return report("open", errno);
	if (ftruncate(fd, size) < 0)
		err = errno;
	close(fd);
	return report("truncate", err);
}

static int do_fallocate(const char *file, off_t off, off_t len)
{
	int fd = open(file, O_WRONLY), err = 0;

	if (fd < 0)
		return report("open", errno);
	if (fallocate(fd, 0, off, len) < 0)
		err = errno;
	close(fd);
	return report("fallocate", err);
}

static int do_setxattr(const char *file, const char *name, const char *src)
{
	size_t len = 0;
	char *buf = slurp(src, &len);
	int err;

	if (!buf)
		return fprintf(stderr, "fsop: cannot read %s\n", src), 2;
	err = setxattr(file, name, buf, len, 0) < 0 ? errno : 0;
	free(buf);
	return report("setxattr", err);
}

int main(int argc, char **argv)
{
	const char *op = argc > 1 ? argv[1] : "";

	if (!strcmp(op, "write") && argc == 5)
		return do_write(argv[2], 0, (off_t)strtoll(argv[3], NULL, 0), argv[4]);
	if (!strcmp(op, "append") && argc == 4)
		return do_write(argv[2], O_APPEND, 0, argv[3]);
	if (!strcmp(op, "truncate") && argc == 4)
		return do_truncate(argv[2], (off_t)strtoll(argv[3], NULL, 0));
	if (!strcmp(op, "fallocate") && argc == 5)
		return do_fallocate(argv[2], (off_t)strtoll(argv[3], NULL, 0),
				    (off_t)strtoll(argv[4], NULL, 0));
	if (!strcmp(op, "create") && argc == 3) {
		int fd = open(argv[2], O_WRONLY | O_CREAT | O_EXCL, 0644);

		if (fd >= 0)
			close(fd);
		return report("create", fd < 0 ? errno : 0);
	}
	if (!strcmp(op, "mkdir") && argc == 3)
		return report("mkdir", mkdir(argv[2], 0755) < 0 ? errno : 0);
	if (!strcmp(op, "rename") && argc == 4)
		return report("rename", rename(argv[2], argv[3]) < 0 ? errno : 0);
	if (!strcmp(op, "symlink") && argc == 4)
		return report("symlink", symlink(argv[2], argv[3]) < 0 ? errno : 0);
	if (!strcmp(op, "setxattr") && argc == 5)
		return do_setxattr(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: fsop write|append|truncate|fallocate|create|mkdir|rename|symlink|"
			"setxattr ARGS...\n");
	return 2;
}
