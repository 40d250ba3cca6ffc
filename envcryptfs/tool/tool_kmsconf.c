/* SPDX-License-Identifier: MIT */
/*
 * tool_kmsconf.c - the KMS configuration file: where credentials may go when no option says.
 * It is trusted like the command line, so only a file that root owns and no one else may
 * write is read; an address found in a volume header never takes its place.
 */
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONF_MAX (64 * 1024)

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* One "kms_NAME=VALUE" line, without its newline; comments and blank lines are skipped. */
static int parse_line(char *line, int no, char *conf[ECFS_KMS_NOPTS], char *err, size_t errlen)
{
	const char *value;
	char *end = line + strlen(line);
	int i;

	while (blank(*line))
		line++;
	while (end > line && blank(end[-1]))
		*--end = '\0';
	if (!*line || *line == '#')
		return 0;
	i = ecfs_kms_opt_lookup(line, &value);
	if (i < 0 || i == ECFS_KMS_CONFIG || !*value) {
		snprintf(err, errlen, "line %d: %s", no,
			 i < 0 || i == ECFS_KMS_CONFIG ? "not a KMS setting (kms_url=URL, ...)"
						       : "no value");
		return -EINVAL;
	}
	if (conf[i]) {
		snprintf(err, errlen, "line %d: set twice", no);
		return -EINVAL;
	}
	if (i == ECFS_KMS_TIMEOUT && !ecfs_kms_timeout_s(value)) {
		snprintf(err, errlen,
			 "line %d: kms_timeout is not a number of seconds from 1 to 600", no);
		return -EINVAL;
	}
	if (i != ECFS_KMS_URL && i != ECFS_KMS_MOUNT && i != ECFS_KMS_KEY &&
	    i != ECFS_KMS_NAMESPACE && i != ECFS_KMS_ROLE && i != ECFS_KMS_TIMEOUT &&
	    value[0] != '/') {
		snprintf(err, errlen, "line %d: a file must be an absolute path", no);
		return -EINVAL;
	}
	conf[i] = strdup(value);
	return conf[i] ? 0 : -ENOMEM;
}

int ecfs_kms_conf_parse(const char *text, size_t len, char *conf[ECFS_KMS_NOPTS], char *err,
			size_t errlen)
{
	char *copy = len < CONF_MAX ? strndup(text, len) : NULL, *line, *next;
	int no = 0, r = 0;

	if (!copy) {
		snprintf(err, errlen, "%s", len < CONF_MAX ? strerror(ENOMEM) : "too large");
		return len < CONF_MAX ? -ENOMEM : -EINVAL;
	}
	if (strlen(copy) != len) {
		snprintf(err, errlen, "it holds a NUL byte");
		r = -EINVAL;
	}
	for (line = copy; r == 0 && line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		r = parse_line(line, ++no, conf, err, errlen);
	}
	free(copy);
	if (r < 0)
		for (int i = 0; i < ECFS_KMS_NOPTS; i++) {
			free(conf[i]);
			conf[i] = NULL;
		}
	return r;
}

/* Why the open file at fd may not decide where credentials go, or NULL when it may. */
static const char *untrusted(int fd, struct stat *st)
{
	if (fstat(fd, st) < 0)
		return strerror(errno);
	if (!S_ISREG(st->st_mode))
		return "not a regular file";
	if (st->st_uid != 0)
		return "not owned by root";
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return "writable by group or others";
	if (st->st_size >= CONF_MAX)
		return "too large";
	return NULL;
}

static int read_conf(const char *prog, const char *path, int fd, struct ecfs_kms_opts *k)
{
	struct stat st;
	const char *why = untrusted(fd, &st);
	char *buf = why ? NULL : malloc((size_t)st.st_size + 1), err[160] = "";
	ssize_t n = buf ? ecfs_pread_full(fd, buf, (size_t)st.st_size, 0) : -1;

	if (!why && n != st.st_size)
		why = n < 0 ? strerror(buf ? errno : ENOMEM) : "it changed while being read";
	if (!why && ecfs_kms_conf_parse(buf, (size_t)n, k->conf, err, sizeof(err)) < 0)
		why = err;
	if (why)
		ecfs_tool_error(prog, "KMS configuration '%s': %s", path, why);
	free(buf);
	return why ? -1 : 0;
}

int ecfs_kms_opts_load_config(const char *prog, struct ecfs_kms_opts *k)
{
	const char *path = k->v[ECFS_KMS_CONFIG] ? k->v[ECFS_KMS_CONFIG] : ECFS_KMS_CONFIG_FILE;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), r;

	if (fd < 0 && errno == ENOENT && !k->v[ECFS_KMS_CONFIG])
		return 0; /* the file is optional */
	if (fd < 0) {
		ecfs_tool_error(prog, "KMS configuration '%s': %s", path,
				errno == ELOOP ? "a symbolic link" : strerror(errno));
		return -1;
	}
	r = read_conf(prog, path, fd, k);
	close(fd);
	if (r == 0 && !(k->conf_path = strdup(path))) {
		ecfs_tool_error(prog, "out of memory");
		r = -1;
	}
	return r;
}
