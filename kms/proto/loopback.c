/* SPDX-License-Identifier: MIT */
/* loopback.c - the rule the KMS client and kmsd share: plain HTTP only to a loopback host, so
 * that tokens and plaintexts never cross a network in clear. */
#include "loopback.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

bool kms_host_is_loopback(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;
	char buf[64];
	size_t n = strlen(host);

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n < 3 || n - 2 >= sizeof(buf) || host[0] != '[' || host[n - 1] != ']')
		return false;
	memcpy(buf, host + 1, n - 2);
	buf[n - 2] = '\0';
	if (inet_pton(AF_INET6, buf, &a6) != 1)
		return false;
	/* ::1, or an IPv4-mapped 127.x.y.z */
	return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
}
