/* SPDX-License-Identifier: MIT */
/* error.c - the per-thread "last error" text behind ecfs_last_error(), and errno phrases. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static __thread char last_error[512];

int ecfs_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return err;
}

void ecfs_clear_error(void)
{
	last_error[0] = '\0';
}

const char *ecfs_last_error(void)
{
	return last_error;
}

const char *ecfs_strerror(int err)
{
	switch (err) {
	case -EKEYREJECTED:
		return "wrong key: no key slot opens with it";
	case -EUCLEAN:
		return "corrupt structure";
	case -EBADMSG:
		return "authentication failed";
	case -EPROTONOSUPPORT:
		return "unsupported format version, feature or type";
	default:
		return strerror(err < 0 ? -err : err);
	}
}
