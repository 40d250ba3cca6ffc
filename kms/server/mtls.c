/* SPDX-License-Identifier: MIT */
/*
 * mtls.c - client certificates. libmicrohttpd 0.9.75 given MHD_OPTION_HTTPS_MEM_TRUST only
 * asks for a client certificate (GNUTLS_CERT_REQUEST) and never verifies one: a client without
 * a certificate, or with one from any other authority, completes the handshake. So every
 * request is checked here, against that trust list, before anything else.
 */
#include "kmsd.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

const char *kmsd_client_cert_problem(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	/* Only a certificate made for TLS clients counts (extendedKeyUsage clientAuth). */
	gnutls_typed_vdata_st purpose = {.type = GNUTLS_DT_KEY_PURPOSE_OID,
					 .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT};
	gnutls_session_t s;
	unsigned n = 0, status = 0;

	if (!ci || !ci->tls_session)
		return "client certificate required (no TLS session)";
	s = (gnutls_session_t)ci->tls_session;
	if (!gnutls_certificate_get_peers(s, &n) || n == 0)
		return "client certificate required";
	if (gnutls_certificate_verify_peers(s, &purpose, 1, &status) < 0 || status != 0)
		return "client certificate not trusted";
	return NULL;
}
