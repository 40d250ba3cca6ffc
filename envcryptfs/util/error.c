/* SPDX-License-Identifier: MIT */
/* error.c - the per-thread "last error" text behind ecfs_last_error(), and errno phrases. */
#include "ecfs_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static __thread char last_error[512];

int ecfs_fail(int err, const char *fmt, ...)
{
	char buf[sizeof(last_error)];
	va_list ap;

	/* Format aside first: an argument may be ecfs_last_error() itself. */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	memcpy(last_error, buf, sizeof(buf));
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

const char *ecfs_error_text(int err)
{
	return last_error[0] ? last_error : ecfs_strerror(err);
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
