/* kms_rewrap.h - the daemon's KMS duties (kms_rewrap.c): the lock around the volume header,
 * the KMS fields of its status, and the thread that rewraps its KMS slot. */
#ifndef ECFS_KMS_REWRAP_H
#define ECFS_KMS_REWRAP_H

#include "ecfs_kms.h"
#include "envcryptfs.h"
#include "status.h"

#include <stdint.h>

/* ecfs_volume_get_info of fs.vol under the header lock: the rewrap thread rewrites the header
 * while the status thread reads it. */
void kms_header_info(struct ecfs_volume_info *info);
/* For a daemon unlocked by KMS slot slot: takes k (freed by kms_rewrap_stop), reports the KMS
 * in status, and with interval_s > 0 starts the thread that rewraps the slot to the key's
 * latest version every interval_s seconds. Returns 0 or a negative errno (no thread). */
int kms_rewrap_start(struct ecfs_kms *k, int slot, uint64_t interval_s);
/* Stops the thread (a request under way finishes first) and frees the client; safe when
 * nothing was started. */
void kms_rewrap_stop(void);
/* Adds the KMS fields to a status answer, from info (read with kms_header_info). */
void kms_rewrap_fill(const struct ecfs_volume_info *info, struct ecfs_status *st);

#endif /* ECFS_KMS_REWRAP_H */
