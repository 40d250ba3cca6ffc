/* SPDX-License-Identifier: MIT */
/* fuzz_kmsconf.c - libFuzzer target for the KMS configuration file's parser: any text gives
 * settings or a refusal naming a line, never a crash or a leak, and what it accepts is sane. */
#include "tool.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Settings that name a file must be absolute paths; none may be empty. */
static void check(char *const conf[ECFS_KMS_NOPTS])
{
	for (int i = 0; i < ECFS_KMS_NOPTS; i++) {
		bool names_file = i == ECFS_KMS_TOKEN_FILE || i == ECFS_KMS_CACERT ||
				  i == ECFS_KMS_CERT || i == ECFS_KMS_CLIENT_KEY ||
				  i == ECFS_KMS_JWT_FILE;

		if (!conf[i])
			continue;
		if (!conf[i][0] || (names_file && conf[i][0] != '/') || i == ECFS_KMS_CONFIG)
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *conf[ECFS_KMS_NOPTS] = {0};
	char err[160];

	if (ecfs_kms_conf_parse((const char *)data, size, conf, err, sizeof(err)) == 0)
		check(conf);
	else if (memchr(err, 0, sizeof(err)) == NULL)
		__builtin_trap();
	for (int i = 0; i < ECFS_KMS_NOPTS; i++)
		free(conf[i]);
	return 0;
}
