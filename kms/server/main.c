/* SPDX-License-Identifier: MIT */
/* main.c - envcryptfs-kmsd: a small Vault-Transit-compatible KMS; dispatches subcommands. */
#include "kmsd.h"
#include "tool.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void kmsd_log(const char *fmt, ...)
{
	char stamp[32], line[1024];
	time_t now = time(NULL);
	struct tm tm;
	va_list ap;

	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per line, so lines from several threads do not interleave. */
	fprintf(stderr, "%s %s: %s\n", stamp, KMSD_PROG, line);
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: %s init --store DIR [--shares N] [--threshold T] [--share-prefix PATH]\n"
	    "                       [--token-file FILE]\n"
	    "       %s serve --store DIR [--listen ADDR:PORT] [--tls-cert FILE --tls-key FILE]\n"
	    "                       [--tls-client-ca FILE] [--insecure-http] [--token-file FILE]\n"
	    "                       [--mount NAME] [--namespace NAME]\n"
	    "                       [--k8s-role NAME --k8s-jwt-file FILE]\n"
	    "                       [--request-timeout SECS] [--max-connections N]\n"
	    "                       [--max-per-client N] [--threads N]\n"
	    "                       [--unseal-share FILE ...] [-v]\n"
	    "       %s --version | --help\n"
	    "A small KMS speaking Vault's Transit API; see envcryptfs-kmsd(8).\n"
	    "Run '%s init --help' or '%s serve --help' for the options.\n",
	    KMSD_PROG, KMSD_PROG, KMSD_PROG, KMSD_PROG, KMSD_PROG);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return ECFS_EXIT_USAGE;
	}
	if (strcmp(argv[1], "init") == 0)
		return kmsd_init_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "serve") == 0)
		return kmsd_serve_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return ECFS_EXIT_OK;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("%s %s\n", KMSD_PROG, ECFS_VERSION_STRING);
		return ECFS_EXIT_OK;
	}
	ecfs_tool_error(KMSD_PROG, "unknown command '%s'; see --help", argv[1]);
	return ECFS_EXIT_USAGE;
}
