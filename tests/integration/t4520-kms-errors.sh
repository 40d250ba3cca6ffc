#!/bin/bash
# KMS failures, each one clear line and exit 1: a wrong token (permission denied), a CA that
# did not sign the KMS's certificate (TLS), no token at all (nothing is prompted); a key
# deleted in the KMS: the mounted volume goes on, the next mount fails and points to the
# export file, and the export (made earlier through the KMS slot) recovers the volume.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t4500-kms.inc"

kms_setup
vol=$T/vol mnt=$T/mnt
kms_vol "$vol" vol1
printf 'export password' >"$T/pw"
chmod 600 "$T/pw"
note "export through the KMS slot (no --unlock-* option)"
expect_exit 0 "$CTL" export "$vol" "${KMS_ARGS[@]}" --out "$T/vol.export" \
  --passphrase-file "$T/pw" "${FAST_ARGON[@]}"
[ -s "$T/vol.export" ] || fail "no export written"

note "a wrong token: exit 1, permission denied"
printf 'wrong-token-0123456789\n' >"$T/badtoken"
chmod 600 "$T/badtoken"
register_mount "$mnt"
expect_exit 1 "$ECFS" "$vol" "$mnt" -o "kms_url=$KMS_URL,kms_cacert=$T/ca.pem,kms_token_file=$T/badtoken" </dev/null
stderr_has "$KMS_URL"
stderr_has "permission denied"
expect_exit 1 "$CTL" check-key "$vol" --kms-url "$KMS_URL" --kms-cacert "$T/ca.pem" \
  --kms-token-file "$T/badtoken"
stderr_has "permission denied"

note "a CA that did not sign the KMS's certificate: exit 1, a TLS message"
expect_exit 1 "$ECFS" "$vol" "$mnt" -o "kms_url=$KMS_URL,kms_cacert=$T/other-ca.pem,kms_token_file=$TOKEN_FILE" </dev/null
stderr_has "$KMS_URL"
grep -qi "certificate" "$T/stderr" || { cat "$T/stderr" >&2; fail "no TLS certificate message"; }
expect_exit 1 "$MKFS" --kms-url "$KMS_URL" --kms-key vol9 --kms-cacert "$T/other-ca.pem" \
  --kms-token-file "$TOKEN_FILE" "$T/vol9"
grep -qi "TLS" "$T/stderr" || { cat "$T/stderr" >&2; fail "mkfs: no TLS message"; }

note "no token: a clear error, no passphrase prompt"
expect_exit 2 env -u VAULT_TOKEN "$ECFS" "$vol" "$mnt" -o "kms_url=$KMS_URL,kms_cacert=$T/ca.pem" </dev/null
stderr_has "no KMS token"
! mountpoint -q "$mnt" || fail "mounted without a token"

note "options given twice or empty are usage errors"
expect_exit 2 "$ECFS" "$vol" "$mnt" -o "$KMS_O,kms_cacert=$T/ca.pem"
stderr_has "given twice"
expect_exit 2 "$ECFS" "$vol" "$mnt" -o "$KMS_O,kms_rewrap_interval=soon"
stderr_has "kms_rewrap_interval"

note "the key is deleted: the mounted volume goes on"
mount_vol "$vol" "$mnt" "$KMS_O"
head -c 200000 /dev/urandom >"$T/data"
cp "$T/data" "$mnt/data"
kms_api POST transit/keys/vol1/config '{"deletion_allowed":true}'
[ "$STATUS" = 200 ] || fail "kmsd config: HTTP $STATUS"
kms_api DELETE transit/keys/vol1
[ "$STATUS" = 204 ] || fail "kmsd delete: HTTP $STATUS"
cmp "$T/data" "$mnt/data" || fail "reading after the key was deleted"
echo after >"$mnt/after"
umount_wait "$mnt"

note "the next mount fails, says why, and points to the export file"
expect_exit 1 "$ECFS" "$vol" "$mnt" -o "$KMS_O" </dev/null
stderr_has "$KMS_URL"
stderr_has "key 'vol1'"
grep -qi "deleted" "$T/stderr" || { cat "$T/stderr" >&2; fail "the message does not say deleted"; }
stderr_has "export"
stderr_has "key_export="

note "the export recovers the volume"
mount_vol "$vol" "$mnt" "key_export=$T/vol.export,passphrase_file=$T/pw"
cmp "$T/data" "$mnt/data" || fail "content through the export"
[ "$(cat "$mnt/after")" = after ] || fail "a file written after the deletion"
expect_exit 0 "$CTL" status "$mnt"
stdout_has "unlocked by: export file"
umount_wait "$mnt"
note "all KMS error checks passed"
