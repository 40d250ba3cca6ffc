/* SPDX-License-Identifier: MIT */
/*
 * smallfiles.c - the small-file workload of `make bench`: N files of SIZE bytes spread over D
 * directories; create, stat all, read all, delete (unless the fifth argument is "keep", which
 * leaves the tree for a lookup workload); prints seconds per phase.
 * usage: smallfiles DIR [FILES [DIRS [SIZE [keep]]]]
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "smallfiles: %s '%s': %s\n", what, path, strerror(errno));
	exit(1);
}

static void path_of(char *out, size_t n, const char *dir, int i, int dirs)
{
	snprintf(out, n, "%s/d%03d/file%06d", dir, i % dirs, i);
}

/* The delete phase: every file, then every directory. */
static void remove_tree(const char *dir, int files, int dirs)
{
	char path[4096];

	for (int i = 0; i < files; i++) {
		path_of(path, sizeof(path), dir, i, dirs);
		if (unlink(path) < 0)
			die("unlink", path);
	}
	for (int d = 0; d < dirs; d++) {
		snprintf(path, sizeof(path), "%s/d%03d", dir, d);
		if (rmdir(path) < 0)
			die("rmdir", path);
	}
}

int main(int argc, char **argv)
{
	const char *dir;
	int files = 10000, dirs = 100, size = 4096;
	bool keep;
	char path[4096], *buf;
	struct stat st;
	double t0, t1, t2, t3, t4;

	if (argc < 2) {
		fprintf(stderr, "usage: smallfiles DIR [FILES [DIRS [SIZE [keep]]]]\n");
		return 2;
	}
	dir = argv[1];
	if (argc > 2)
		files = atoi(argv[2]);
	if (argc > 3)
		dirs = atoi(argv[3]);
	if (argc > 4)
		size = atoi(argv[4]);
	keep = argc > 5 && strcmp(argv[5], "keep") == 0;
	buf = malloc((size_t)size);
	memset(buf, 'x', (size_t)size);
	t0 = now();
	for (int d = 0; d < dirs; d++) {
		snprintf(path, sizeof(path), "%s/d%03d", dir, d);
		if (mkdir(path, 0755) < 0)
			die("mkdir", path);
	}
	for (int i = 0; i < files; i++) {
		int fd;

		path_of(path, sizeof(path), dir, i, dirs);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0 || write(fd, buf, (size_t)size) != size || close(fd) < 0)
			die("create", path);
	}
	t1 = now();
	for (int i = 0; i < files; i++) {
		path_of(path, sizeof(path), dir, i, dirs);
		if (stat(path, &st) < 0 || st.st_size != size)
			die("stat", path);
	}
	t2 = now();
	for (int i = 0; i < files; i++) {
		int fd;

		path_of(path, sizeof(path), dir, i, dirs);
		fd = open(path, O_RDONLY);
		if (fd < 0 || read(fd, buf, (size_t)size) != size || close(fd) < 0)
			die("read", path);
	}
	t3 = now();
	if (!keep)
		remove_tree(dir, files, dirs);
	t4 = now();
	printf("create %.3f stat %.3f read %.3f delete %.3f\n", t1 - t0, t2 - t1, t3 - t2, t4 - t3);
	free(buf);
	return 0;
}
