/* SPDX-License-Identifier: MIT */
#ifndef KMS_LOOPBACK_H
#define KMS_LOOPBACK_H

#include <stdbool.h>

/* Whether host (as in a URL, IPv6 in brackets) is a loopback address or "localhost". */
bool kms_host_is_loopback(const char *host);

#endif /* KMS_LOOPBACK_H */
