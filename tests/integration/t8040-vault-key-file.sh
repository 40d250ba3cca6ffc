#!/bin/bash
# Key files kept as Vault KV version 2 secrets, against envcryptfs-kmsd's KV engine over TLS:
# a secret written with curl is the key of mkfs, the mount (key_file= and old_key_file=),
# envcryptfsctl and fsck; #FIELD names another field; a new version of the secret is read
# at the next mount while ?version=1 still answers the old one; a missing secret, a wrong
# token, a missing field, bad base64, a wrong length, no KMS configured and a stopped KMS each
# fail with one line naming the secret and the cause, and kms_wait waits for a stopped KMS;
# the store keeps secrets sealed.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t4500-kms.inc"

kms_setup
vol=$T/vol mnt=$T/mnt
register_mount "$mnt"

# put_key PATH FIELD FILE: writes FILE's bytes, base64, as field FIELD of secret PATH.
put_key() {
  kms_api POST "secret/data/$1" "{\"data\": {\"$2\": \"$(base64 -w0 <"$3")\", \"note\": \"x\"}}"
  [ "$STATUS" = 200 ] || { cat "$T/body" >&2; fail "writing secret $1: HTTP $STATUS"; }
}

note "a secret written with curl; its answer is KV version 2's"
newkey "$T/k1"
put_key volumes/db1 key "$T/k1"
grep -q '"version":1' "$T/body" || { cat "$T/body" >&2; fail "the write did not answer version 1"; }
kms_api GET secret/data/volumes/db1
[ "$STATUS" = 200 ] || fail "reading the secret: HTTP $STATUS"
grep -q '"data":{"data":{"key":' "$T/body" || { cat "$T/body" >&2; fail "no data.data.key"; }
grep -q '"metadata":{"created_time":' "$T/body" || fail "no data.metadata"

note "mkfs, mount, ctl and fsck read the key file from the secret"
expect_exit 0 "$MKFS" -q --key-file vault:secret/volumes/db1 "${KMS_ARGS[@]}" "$vol"
expect_exit 0 "$CTL" check-key "$vol" --unlock-key-file "$T/k1"
expect_exit 0 "$ECFS" "$vol" "$mnt" -o "key_file=vault:secret/volumes/db1,$KMS_O"
head -c 200000 /dev/urandom >"$T/data"
cp "$T/data" "$mnt/data"
umount_wait "$mnt"
expect_exit 0 "$ECFS" "$vol" "$mnt" -o "key_file=vault:secret/volumes/db1,$KMS_O"
cmp "$T/data" "$mnt/data" || fail "content after a remount"
umount_wait "$mnt"
expect_exit 0 "$CTL" check-key "$vol" --unlock-key-file vault:secret/volumes/db1 "${KMS_ARGS[@]}"
expect_exit 0 "$FSCK" -n --key-file vault:secret/volumes/db1 "${KMS_ARGS[@]}" "$vol"

note "#FIELD names another field"
newkey "$T/k2"
put_key volumes/db2 k2 "$T/k2"
expect_exit 0 "$CTL" slot add "$vol" --unlock-key-file "$T/k1" \
  --key-file "vault:secret/volumes/db2#k2" "${KMS_ARGS[@]}"
expect_exit 0 "$CTL" check-key "$vol" --unlock-key-file "$T/k2"
expect_exit 0 "$ECFS" "$vol" "$mnt" -o "key_file=vault:secret/volumes/db2#k2,$KMS_O"
cmp "$T/data" "$mnt/data" || fail "content through the #field key"
umount_wait "$mnt"

note "errors: one line naming the secret and the cause"
expect_exit 1 "$ECFS" "$vol" "$mnt" -o "key_file=vault:secret/volumes/none,$KMS_O"
stderr_has "vault:secret/volumes/none"
stderr_has "no such secret"
expect_exit 1 "$ECFS" "$vol" "$mnt" -o "key_file=vault:secret/volumes/db1#nope,$KMS_O"
stderr_has "vault:secret/volumes/db1#nope"
stderr_has "no field 'nope'"
expect_exit 1 "$ECFS" "$vol" "$mnt" -o "key_file=vault:secret/volumes/db2,$KMS_O"
stderr_has "no field 'key'"
kms_api POST secret/data/volumes/bad '{"data": {"key": "not base64!"}}'
expect_exit 1 "$ECFS" "$vol" "$mnt" -o "key_file=vault:secret/volumes/bad,$KMS_O"
stderr_has "not standard base64"
head -c 8 /dev/urandom >"$T/short"
put_key volumes/short key "$T/short"
expect_exit 1 "$ECFS" "$vol" "$mnt" -o "key_file=vault:secret/volumes/short,$KMS_O"
stderr_has "holds 8 bytes"
printf 'hvs.not-the-token' >"$T/badtoken"
chmod 600 "$T/badtoken"
expect_exit 1 "$ECFS" "$vol" "$mnt" \
  -o "key_file=vault:secret/volumes/db1,kms_url=$KMS_URL,kms_cacert=$T/ca.pem,kms_token_file=$T/badtoken"
stderr_has "vault:secret/volumes/db1"
stderr_has "permission denied"
if [ ! -e /etc/envcryptfs/kms.conf ]; then
  expect_exit 2 "$ECFS" "$vol" "$mnt" -o "key_file=vault:secret/volumes/db1"
  stderr_has "no KMS is configured"
fi
expect_exit 2 "$ECFS" "$vol" "$mnt" -o "key_file=vault:nopath,$KMS_O"
stderr_has "vault:MOUNT/PATH"
! mountpoint -q "$mnt" || fail "mounted after an error"

note "a new version: the next mount reads it, ?version=1 still answers the old one"
newkey "$T/k3"
put_key volumes/db1 key "$T/k3"
grep -q '"version":2' "$T/body" || { cat "$T/body" >&2; fail "the update did not answer version 2"; }
expect_exit 3 "$CTL" check-key "$vol" --unlock-key-file vault:secret/volumes/db1 "${KMS_ARGS[@]}"
kms_api GET 'secret/data/volumes/db1?version=1'
[ "$STATUS" = 200 ] || fail "reading version 1: HTTP $STATUS"
grep -qF "$(base64 -w0 <"$T/k1")" "$T/body" || fail "version 1 does not hold the first key"
grep -q '"version":1' "$T/body" || fail "version 1 not named in its metadata"
kms_api GET 'secret/data/volumes/db1?version=7'
[ "$STATUS" = 404 ] || fail "a version never written: HTTP $STATUS, expected 404"
expect_exit 0 "$CTL" slot add "$vol" --unlock-key-file "$T/k1" \
  --key-file vault:secret/volumes/db1 "${KMS_ARGS[@]}"
expect_exit 0 "$ECFS" "$vol" "$mnt" -o "key_file=vault:secret/volumes/db1,$KMS_O"
cmp "$T/data" "$mnt/data" || fail "content through the new version"
umount_wait "$mnt"

note "old_key_file=vault: opens when key_file does not"
newkey "$T/stranger"
expect_exit 0 "$ECFS" "$vol" "$mnt" -o "key_file=$T/stranger,old_key_file=vault:secret/volumes/db1,$KMS_O"
cmp "$T/data" "$mnt/data" || fail "content through old_key_file"
umount_wait "$mnt"

note "the store keeps secrets sealed, and across a restart"
! grep -qF "$(base64 -w0 <"$T/k3")" "$T/kms/kmsd.store" || fail "a secret in the clear in the store"
kms_stop
kms_start "$KMS_PORT"
expect_exit 0 "$CTL" check-key "$vol" --unlock-key-file vault:secret/volumes/db1 "${KMS_ARGS[@]}"

note "a stopped KMS: the mount fails within 30 s naming the secret and the cause"
kms_stop
expect_exit 1 timeout 30 "$ECFS" "$vol" "$mnt" -o "key_file=vault:secret/volumes/db1,$KMS_O"
stderr_has "vault:secret/volumes/db1"
stderr_has "connection refused"
! mountpoint -q "$mnt" || fail "mounted without the KMS"

note "kms_wait=30: the mount waits for the KMS to come back, then reads the secret"
"$ECFS" "$vol" "$mnt" -o "key_file=vault:secret/volumes/db1,$KMS_O,kms_wait=30" </dev/null \
  2>"$T/wait.log" &
waiter=$!
for ((i = 0; i < HANG_SECS * 10; i++)); do
  grep -q "asking again" "$T/wait.log" && break
  proc_alive "$waiter" || { cat "$T/wait.log" >&2; fail "the kms_wait mount gave up at once"; }
  sleep 0.1
done
grep -q "vault:secret/volumes/db1.*asking again" "$T/wait.log" ||
  { cat "$T/wait.log" >&2; fail "the kms_wait mount did not say it waits for the secret"; }
kms_start "$KMS_PORT"
wait_exit "$waiter" 40
[ "$WAIT_RC" -eq 0 ] || { cat "$T/wait.log" >&2; fail "the kms_wait mount exited $WAIT_RC"; }
cmp "$T/data" "$mnt/data" || fail "content after kms_wait"
umount_wait "$mnt"
