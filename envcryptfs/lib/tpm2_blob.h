/* SPDX-License-Identifier: MIT */
/*
 * tpm2_blob.h - a TPM2 slot's sealed-key blobs as the TPM's own structures (tpm2_blob.c):
 * marshalled into the slot, and unmarshalled, checked, before they go to a TPM.
 */
#ifndef ECFS_TPM2_BLOB_H
#define ECFS_TPM2_BLOB_H

#include "envcryptfs.h"

#include <tss2/tss2_tpm2_types.h>

/* Stores pub and priv in s (their marshalled forms); -ENOBUFS when they do not fit. */
int ecfs_tpm2_blobs_marshal(const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv,
			    struct ecfs_tpm2_slot *s);
/* Reads the blobs of s back: -EUCLEAN with a message unless each is one whole structure
 * and the public part is a sealed SHA-256 keyedhash object whose authorization matches
 * s->pcrs (a policy when bound to PCRs, its empty auth value when not). pub or priv may be
 * NULL when only the check is wanted. */
int ecfs_tpm2_blobs_unmarshal(const struct ecfs_tpm2_slot *s, TPM2B_PUBLIC *pub,
			      TPM2B_PRIVATE *priv);

#endif /* ECFS_TPM2_BLOB_H */
