/* SPDX-License-Identifier: MIT */
/* status_prometheus.c - `status --prometheus`: a daemon's status in the Prometheus text
 * exposition format (version 0.0.4), for node_exporter's textfile collector or a script
 * behind an HTTP endpoint. Every sample carries the mount point and the volume's UUID. */
#include "ctl.h"
#include "status.h"

#include <stdio.h>

struct metric {
	const char *name;
	const char *type; /* counter or gauge */
	const char *help;
	double (*value)(const struct ecfs_status *st);
	bool kms_only; /* only for a daemon unlocked by a KMS slot */
};

static double bytes_read(const struct ecfs_status *st)
{
	return (double)st->bytes_read;
}
static double bytes_written(const struct ecfs_status *st)
{
	return (double)st->bytes_written;
}
static double read_ops(const struct ecfs_status *st)
{
	return (double)st->read_ops;
}
static double write_ops(const struct ecfs_status *st)
{
	return (double)st->write_ops;
}
static double auth_failures(const struct ecfs_status *st)
{
	return (double)st->auth_failures;
}
static double kek_generation(const struct ecfs_status *st)
{
	return (double)st->kek_generation;
}
static double started(const struct ecfs_status *st)
{
	return (double)st->started;
}
static double up(const struct ecfs_status *st)
{
	(void)st;
	return 1; /* printed only for a mount that answered */
}
static double kms_reachable(const struct ecfs_status *st)
{
	return st->kms_last_error[0] ? 0 : 1;
}
static double kms_key_version(const struct ecfs_status *st)
{
	return (double)st->kms_key_version;
}
static double kms_last_rewrap(const struct ecfs_status *st)
{
	return (double)st->kms_last_rewrap;
}
static double kms_last_check(const struct ecfs_status *st)
{
	return (double)st->kms_last_check;
}
static double kms_rewrap_failing(const struct ecfs_status *st)
{
	return st->kms_rewrap_error[0] ? 1 : 0;
}

static const struct metric metrics[] = {
    {"envcryptfs_up", "gauge", "1: the mount answers through the kernel and its daemon answers", up,
     false},
    {"envcryptfs_read_bytes_total", "counter", "Plaintext bytes returned by read requests.",
     bytes_read, false},
    {"envcryptfs_written_bytes_total", "counter", "Plaintext bytes accepted by write requests.",
     bytes_written, false},
    {"envcryptfs_read_operations_total", "counter", "Read requests answered.", read_ops, false},
    {"envcryptfs_write_operations_total", "counter", "Write requests answered.", write_ops, false},
    {"envcryptfs_authentication_failures_total", "counter",
     "Chunks, names and values that failed authentication.", auth_failures, false},
    {"envcryptfs_kek_generation", "gauge",
     "KEK generation of the key slot that unlocked the volume (0: an export).", kek_generation,
     false},
    {"envcryptfs_start_time_seconds", "gauge", "When the mount went live (Unix time).", started,
     false},
    {"envcryptfs_kms_reachable", "gauge",
     "1: the KMS answered when the daemon last asked it (at the mount, or the last rewrap).",
     kms_reachable, true},
    {"envcryptfs_kms_key_version", "gauge", "The KMS key version the slot is wrapped with.",
     kms_key_version, true},
    {"envcryptfs_kms_last_rewrap_timestamp_seconds", "gauge",
     "When the KMS slot was last wrapped (Unix time; 0: never).", kms_last_rewrap, true},
    {"envcryptfs_kms_last_check_timestamp_seconds", "gauge",
     "When the daemon last asked the KMS (Unix time; 0: only to unlock).", kms_last_check, true},
    {"envcryptfs_kms_rewrap_failing", "gauge",
     "1: the last KMS rewrap could not be recorded in the header.", kms_rewrap_failing, true},
};

/* A label value: backslash, double quote and newline escaped, as the format requires. */
static void print_label_value(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			printf("\\%c", *s);
		else if (*s == '\n')
			printf("\\n");
		else
			putchar(*s);
	}
}

void ctl_print_prometheus(const char *mnt, const struct ecfs_status *st)
{
	for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++) {
		const struct metric *m = &metrics[i];

		if (m->kms_only && !st->kms_url[0])
			continue;
		printf("# HELP %s %s\n# TYPE %s %s\n%s{mountpoint=\"", m->name, m->help, m->name,
		       m->type, m->name);
		print_label_value(mnt);
		printf("\",uuid=\"");
		print_label_value(st->uuid);
		printf("\"} %.17g\n", m->value(st));
	}
}
